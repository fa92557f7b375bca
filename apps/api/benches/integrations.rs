//! `just bench-integrations`: 10,000 leads synced to a local HubSpot fake that answers every call
//! in 100 ms (total time and the job's own CPU — the bench process's user + system time while it
//! ran, an upper bound: the same process serves the bench's requests and the fake), then 1,000
//! outbound webhook deliveries to a local receiver (deliveries/s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LEADS: usize = 10_000;
const DELIVERIES: usize = 1_000;
const CALL: Duration = Duration::from_millis(100);

/// HubSpot: the property exists, every upsert answers after 100 ms with new companies.
struct HubSpot {
    calls: Arc<AtomicUsize>,
}

impl Respond for HubSpot {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_json(json!({"name": "leadzone_id"}));
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let results: Vec<Value> = body["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, input)| json!({"id": format!("{}", n * 100 + i), "new": true, "properties": {"leadzone_id": input["id"]}}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE", "results": results})).set_delay(CALL)
    }
}

struct Receiver {
    got: Arc<AtomicUsize>,
}

impl Respond for Receiver {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        self.got.fetch_add(1, Ordering::Relaxed);
        ResponseTemplate::new(204)
    }
}

#[tokio::main]
async fn main() {
    let hubspot = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(wiremock::matchers::any()).respond_with(HubSpot { calls: calls.clone() }).mount(&hubspot).await;
    let receiver = MockServer::start().await;
    let got = Arc::new(AtomicUsize::new(0));
    Mock::given(wiremock::matchers::any()).respond_with(Receiver { got: got.clone() }).mount(&receiver).await;
    let hubspot_url = hubspot.uri();
    let b = common::start_with(
        "leadzone_bench_integrations",
        "2",
        "10",
        &[
            ("HUBSPOT_BASE_URL", &hubspot_url),
            ("LEADZONE_ALLOW_PRIVATE_FETCH", "true"),
            ("LEADZONE_RATE_LIMIT_PER_MIN", "0"),
        ],
    )
    .await;
    let (token, _, _) = common::owner(&b).await;
    let client = reqwest::Client::new();
    let base = b.base.clone();
    let res = client
        .put(format!("{base}/api/v1/integrations/HUBSPOT"))
        .bearer_auth(&token)
        .json(&json!({"credentials": {"accessToken": "bench"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut csv = String::from("Company,Phone,City,Website\n");
    for i in 0..LEADS {
        csv.push_str(&format!("شركة القياس {i},05{i:08},الرياض,https://bench{i}.sa\n"));
    }
    let import = common::json(
        client.post(format!("{base}/api/v1/imports")).bearer_auth(&token).header("content-type", "text/csv").body(csv),
    )
    .await;
    let import = common::wait_job(&client, &base, &token, import["job"]["id"].as_str().unwrap()).await;
    assert_eq!(import["result"]["created"].as_u64(), Some(LEADS as u64));

    let cpu_before = common::cpu();
    let accepted = common::json(
        client.post(format!("{base}/api/v1/integrations/HUBSPOT/sync")).bearer_auth(&token).json(&json!({})),
    )
    .await;
    let job = common::wait_job(&client, &base, &token, accepted["job"]["id"].as_str().unwrap()).await;
    let cpu = common::cpu() - cpu_before;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["result"]["created"].as_u64(), Some(LEADS as u64), "{job}");
    let wall = common::seconds(&job, "completedAt") - common::seconds(&job, "startedAt");
    let n_calls = calls.load(Ordering::Relaxed);
    println!(
        "SYNC of {LEADS} leads to a HubSpot fake answering in {} ms: {wall:.1} s ({n_calls} calls; {:.1} s of it the fake's), \
         CPU {:.2} s ({:.0} µs per lead, an upper bound)",
        CALL.as_millis(),
        n_calls as f64 * CALL.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / LEADS as f64
    );

    // 1,000 outbound deliveries: one endpoint on lead.updated, 1,000 lead updates.
    let hook = common::json(client.post(format!("{base}/api/v1/webhooks")).bearer_auth(&token).json(&json!({
        "url": format!("{}/in", receiver.uri()), "events": ["lead.updated"]
    })))
    .await;
    assert!(hook["secret"].is_string(), "{hook}");
    let page = common::json(client.get(format!("{base}/api/v1/leads?limit=100")).bearer_auth(&token)).await;
    let ids: Vec<String> =
        page["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
    let started = Instant::now();
    for i in 0..DELIVERIES {
        let res = client
            .patch(format!("{base}/api/v1/leads/{}", ids[i % ids.len()]))
            .bearer_auth(&token)
            .json(&json!({"industry": format!("bench {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let written = started.elapsed().as_secs_f64();
    while got.load(Ordering::Relaxed) < DELIVERIES {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = started.elapsed().as_secs_f64();
    println!(
        "{DELIVERIES} outbound webhook deliveries (each written with its lead update, signed, sent to a local receiver): \
         all delivered {delivered:.2} s after the first update ({written:.2} s to make the updates): {:.0} deliveries/s end to end",
        DELIVERIES as f64 / delivered
    );
}
