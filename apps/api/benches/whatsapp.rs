//! `just bench-whatsapp`: a 10,000-recipient WHATSAPP_BULK against a local fake of the Graph API
//! with the pace limit off (`LEADZONE_WHATSAPP_MPS=0`), then 1,000 signed status callbacks posted
//! to `/webhooks/whatsapp` at concurrency 16. Reported: messages/s, the bulk's own overhead per
//! message (its wall time per message minus the fake's round trip, measured by calling the fake
//! directly), and statuses/s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const RECIPIENTS: usize = 10_000;
const STATUSES: usize = 1_000;
const CONCURRENCY: usize = 16;
const PHONE_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";
const APP_SECRET: &str = "bench-app-secret";

#[derive(Clone, Default)]
struct Fake {
    sends: Arc<AtomicUsize>,
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().trim_start_matches("/v21.0");
        match (req.method.as_str(), path) {
            ("GET", p) if p.ends_with("message_templates") => ResponseTemplate::new(200).set_body_json(
                json!({"data": [{"id": "1", "name": "bench", "language": "ar", "status": "APPROVED"}]}),
            ),
            ("GET", _) => ResponseTemplate::new(200).set_body_json(json!({
                "display_phone_number": "+966 11 000 0000", "quality_rating": "GREEN", "messaging_limit_tier": "TIER_UNLIMITED"
            })),
            ("POST", p) if p.ends_with("message_templates") => {
                ResponseTemplate::new(200).set_body_json(json!({"id": "1", "status": "PENDING"}))
            }
            _ => {
                let n = self.sends.fetch_add(1, Ordering::Relaxed) + 1;
                ResponseTemplate::new(200).set_body_json(json!({
                    "messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
                    "messages": [{"id": format!("wamid.BENCH{n:06}")}]
                }))
            }
        }
    }
}

fn sign(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, APP_SECRET.as_bytes());
    format!("sha256={}", ring::hmac::sign(&key, body).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[tokio::main]
async fn main() {
    let graph = MockServer::start().await;
    let fake = Fake::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&graph).await;
    let graph_url = format!("{}/v21.0", graph.uri());
    let b = common::start_with(
        "leadzone_bench_whatsapp",
        "2",
        "10",
        &[
            ("WHATSAPP_BASE_URL", &graph_url),
            ("WHATSAPP_APP_SECRET", APP_SECRET),
            ("LEADZONE_WHATSAPP_MPS", "0"),
            ("LEADZONE_RATE_LIMIT_PER_MIN", "0"),
        ],
    )
    .await;
    let (token, _, _) = common::owner(&b).await;
    let client = reqwest::Client::new();
    let base = b.base.clone();

    // The fake's own round trip, as the adapter's client sees it.
    let direct = reqwest::Client::new();
    let probe = json!({"messaging_product": "whatsapp", "to": "966500000000", "type": "text", "text": {"body": "x"}});
    let started = Instant::now();
    for _ in 0..1_000 {
        direct
            .post(format!("{graph_url}/{PHONE_ID}/messages"))
            .bearer_auth("t")
            .json(&probe)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let fake_ms = started.elapsed().as_secs_f64() * 1000.0 / 1_000.0;
    fake.sends.store(0, Ordering::Relaxed);

    let connected = client
        .put(format!("{base}/api/v1/integrations/WHATSAPP"))
        .bearer_auth(&token)
        .json(&json!({"credentials": {"accessToken": "bench-token"}, "config": {"phoneNumberId": PHONE_ID, "wabaId": WABA_ID}}))
        .send()
        .await
        .unwrap();
    assert_eq!(connected.status(), 200);
    let template = common::json(
        client
            .post(format!("{base}/api/v1/whatsapp/templates"))
            .bearer_auth(&token)
            .json(&json!({"name": "bench", "content": "مرحبا {{name}}"})),
    )
    .await;
    let template_id = template["id"].as_str().unwrap().to_owned();
    common::json(client.post(format!("{base}/api/v1/whatsapp/templates/sync")).bearer_auth(&token).json(&json!({})))
        .await;

    let mut csv = String::from("Company,Phone\n");
    for i in 0..RECIPIENTS {
        csv.push_str(&format!("شركة القياس {i},05{i:08}\n"));
    }
    let import = common::json(
        client.post(format!("{base}/api/v1/imports")).bearer_auth(&token).header("content-type", "text/csv").body(csv),
    )
    .await;
    let import = common::wait_job(&client, &base, &token, import["job"]["id"].as_str().unwrap()).await;
    assert_eq!(import["result"]["created"].as_u64(), Some(RECIPIENTS as u64), "{import}");

    let requested = Instant::now();
    let accepted = common::json(
        client
            .post(format!("{base}/api/v1/whatsapp/bulk"))
            .bearer_auth(&token)
            .json(&json!({"filter": {}, "templateId": template_id})),
    )
    .await;
    let enqueue_ms = requested.elapsed().as_secs_f64() * 1000.0;
    let job = common::wait_job(&client, &base, &token, accepted["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["result"]["sent"].as_u64(), Some(RECIPIENTS as u64), "{job}");
    assert_eq!(fake.sends.load(Ordering::Relaxed), RECIPIENTS);
    let wall = common::seconds(&job, "completedAt") - common::seconds(&job, "startedAt");
    let per_message_ms = wall * 1000.0 / RECIPIENTS as f64;
    println!(
        "WHATSAPP_BULK of {RECIPIENTS} (pace limit off): {:.0} messages/s, {per_message_ms:.2} ms per message, of which the \
         fake's round trip {fake_ms:.2} ms: the bulk's own overhead {:.2} ms per message (target < 2); enqueue (recipients \
         resolved and stored) {enqueue_ms:.0} ms",
        RECIPIENTS as f64 / wall,
        per_message_ms - fake_ms,
    );

    // 1,000 callbacks, one delivered status each, 16 at a time.
    let bodies: Vec<Vec<u8>> = (1..=STATUSES)
        .map(|n| {
            serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "966110000000", "phone_number_id": PHONE_ID},
                "statuses": [{"id": format!("wamid.BENCH{n:06}"), "status": "delivered", "timestamp": "1767200000", "recipient_id": "966500000000"}]
            }}]}]}))
            .unwrap()
        })
        .collect();
    let started = Instant::now();
    let applied: Vec<u64> = futures::stream::iter(bodies)
        .map(|body| {
            let client = client.clone();
            let url = format!("{base}/webhooks/whatsapp");
            async move {
                let res = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", sign(&body))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.json::<Value>().await.unwrap()["statuses"].as_u64().unwrap()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(applied.iter().sum::<u64>(), STATUSES as u64, "every status moved its message");
    println!(
        "{STATUSES} signed status callbacks at concurrency {CONCURRENCY}: {:.0} statuses/s ({:.1} ms each on average)",
        STATUSES as f64 / elapsed,
        elapsed * 1000.0 * CONCURRENCY as f64 / STATUSES as f64
    );
}
