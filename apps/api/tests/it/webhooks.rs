//! Outbound webhooks end to end: a receiver on 127.0.0.1 (private fetches allowed by the test
//! switch) gets the tenant's events signed per Standard Webhooks — checked by the reference
//! verifier (PyPI `standardwebhooks`) — retried with growing gaps while it fails, and never
//! another tenant's.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the receiver got: when, the three Standard Webhooks headers, the body.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

/// A receiver answering each request with the next status of `plan` (then 204).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<Vec<u16>>>,
}

impl Respond for Receiver {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let header = |k: &str| req.headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        self.got.lock().unwrap().push(Received {
            at: Instant::now(),
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: req.body.clone(),
        });
        let mut plan = self.plan.lock().unwrap();
        let status = if plan.is_empty() { 204 } else { plan.remove(0) };
        ResponseTemplate::new(status)
    }
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        for _ in 0..secs * 20 {
            if self.got().len() >= n {
                return self.got();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} of {n} deliveries", self.got().len());
    }
}

async fn receiver() -> (MockServer, Receiver) {
    let server = MockServer::start().await;
    let r = Receiver::default();
    Mock::given(wiremock::matchers::method("POST")).respond_with(r.clone()).mount(&server).await;
    (server, r)
}

async fn subscribe(app: &TestApp, account: &Account, url: &str, events: &[&str]) -> Value {
    let res = app
        .post("/api/v1/webhooks", Some(&account.token), &json!({"url": url, "events": events, "description": "CRM"}))
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.unwrap()
}

fn verified(secret: &str, r: &Received) -> Result<(), String> {
    leadzone_testkit::pytools::verify_standard_webhook(secret, &r.id, &r.timestamp, &r.signature, &r.body)
}

#[tokio::test]
async fn a_created_lead_reaches_the_endpoint_signed_and_only_its_own_tenants_events_do() {
    let app = spawn_app_with(&[("LEADZONE_ALLOW_PRIVATE_FETCH", "true")]).await;
    let (server, rx) = receiver().await;
    let owner = app.owner_on("pro").await;
    let hook =
        subscribe(&app, &owner, &format!("{}/hooks/leadzone", server.uri()), &["lead.created", "lead.status_changed"])
            .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = hook["id"].as_str().unwrap().to_owned();

    // Another tenant's endpoint and lead: nothing of it reaches this receiver.
    let other = app.owner_on("pro").await;
    let (other_server, other_rx) = receiver().await;
    subscribe(&app, &other, &format!("{}/in", other_server.uri()), &["lead.created"]).await;
    assert_eq!(app.create_lead(&other, json!({"companyName": "شركة أخرى"})).await.status(), 201);
    other_rx.wait_for(1, 20).await;

    let lead: Value =
        app.create_lead(&owner, json!({"companyName": "مؤسسة النور", "city": "الرياض"})).await.json().await.unwrap();
    let got = rx.wait_for(1, 20).await;
    assert_eq!(got.len(), 1, "only this tenant's event");
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "lead.created");
    assert_eq!(event["data"]["id"], lead["id"]);
    assert_eq!(event["data"]["companyName"], "مؤسسة النور");
    verified(&secret, &got[0]).unwrap();
    // The reference verifier is not a rubber stamp: another secret or a changed body fails.
    let other_secret = format!("whsec_{}", &secret[6..].chars().rev().collect::<String>());
    assert!(verified(&other_secret, &got[0]).is_err());
    let tampered =
        Received { body: got[0].body.iter().map(|b| if *b == b'1' { b'2' } else { *b }).collect(), ..got[0].clone() };
    assert!(verified(&secret, &Received { body: [tampered.body, b" ".to_vec()].concat(), ..tampered }).is_err());

    // lead.updated is not subscribed; lead.status_changed is.
    let lead_id = lead["id"].as_str().unwrap();
    let res = app.patch(&format!("/api/v1/leads/{lead_id}"), Some(&owner.token), &json!({"city": "جدة"})).await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(&format!("/api/v1/leads/{lead_id}/status"), Some(&owner.token), &json!({"status": "PROSPECTED"}))
        .await;
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let got = rx.wait_for(2, 20).await;
    let event: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(event["type"], "lead.status_changed");
    assert_eq!(
        (event["data"]["status"].as_str(), event["data"]["previousStatus"].as_str()),
        (Some("PROSPECTED"), Some("NEW"))
    );
    verified(&secret, &got[1]).unwrap();

    // The deliveries show their attempts; a manual retry sends the same webhook-id again.
    let page: Value = app.get_json(&format!("/api/v1/webhooks/{id}/deliveries"), Some(&owner.token)).await;
    let deliveries = page["data"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[1]["status"], "DELIVERED");
    assert_eq!(deliveries[1]["history"][0]["status"], 204);
    assert!(deliveries[1]["history"][0]["latencyMs"].is_u64());
    let first = deliveries[1]["id"].as_str().unwrap();
    let res =
        app.post(&format!("/api/v1/webhooks/{id}/deliveries/{first}/retry"), Some(&owner.token), &json!({})).await;
    assert_eq!(res.status(), 200);
    let got = rx.wait_for(3, 20).await;
    assert_eq!(got[2].id, got[0].id, "the same webhook-id on every attempt of one event");
    verified(&secret, &got[2]).unwrap();

    // The secret never comes back; another tenant sees none of it.
    let listed = app.get("/api/v1/webhooks", Some(&owner.token)).await.text().await.unwrap();
    assert!(!listed.contains(&secret) && !listed.contains("secret"), "{listed}");
    for path in [format!("/api/v1/webhooks/{id}"), format!("/api/v1/webhooks/{id}/deliveries")] {
        problem(app.get(&path, Some(&other.token)).await, 404, "NOT_FOUND").await;
    }
    problem(
        app.patch(&format!("/api/v1/webhooks/{id}"), Some(&other.token), &json!({"enabled": false})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    problem(
        app.post(&format!("/api/v1/webhooks/{id}/deliveries/{first}/retry"), Some(&other.token), &json!({})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    problem(app.delete(&format!("/api/v1/webhooks/{id}"), Some(&other.token)).await, 404, "NOT_FOUND").await;
    assert_eq!(app.delete(&format!("/api/v1/webhooks/{id}"), Some(&owner.token)).await.status(), 204);
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_with_growing_gaps() {
    // The schedule (5 s, 5 min, …) shrunk 500 times: 10 ms, 600 ms, …
    let app =
        spawn_app_with(&[("LEADZONE_ALLOW_PRIVATE_FETCH", "true"), ("LEADZONE_WEBHOOK_RETRY_SCALE", "0.002")]).await;
    let (server, rx) = receiver().await;
    rx.plan.lock().unwrap().extend([500, 500]);
    let owner = app.owner_on("pro").await;
    let hook = subscribe(&app, &owner, &format!("{}/in", server.uri()), &["lead.created"]).await;
    assert_eq!(app.create_lead(&owner, json!({"companyName": "شركة"})).await.status(), 201);
    let got = rx.wait_for(3, 30).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.id == got[0].id), "one webhook-id for every attempt");
    let (gap1, gap2) = (got[1].at - got[0].at, got[2].at - got[1].at);
    assert!(gap2 > gap1, "the gaps grow: {gap1:?} then {gap2:?}");
    assert!(gap2 >= Duration::from_millis(600), "{gap2:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = hook["id"].as_str().unwrap();
    let page: Value = app.get_json(&format!("/api/v1/webhooks/{id}/deliveries"), Some(&owner.token)).await;
    let d = &page["data"][0];
    assert_eq!((d["status"].as_str(), d["attempts"].as_i64()), (Some("DELIVERED"), Some(3)), "{d}");
    let statuses: Vec<i64> = d["history"].as_array().unwrap().iter().map(|h| h["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![500, 500, 204]);
}

#[tokio::test]
async fn endpoints_need_the_feature_and_a_public_address() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let body = json!({"url": "https://hooks.example.sa/in", "events": ["lead.created"]});
    let res = app.post("/api/v1/webhooks", Some(&owner.token), &body).await;
    assert_eq!(problem(res, 403, "FEATURE_DISABLED").await["feature"], "outbound_webhooks");
    app.set_plan(&owner, "pro").await;
    for url in ["http://127.0.0.1:9/in", "http://10.0.0.7/in", "http://169.254.169.254/latest", "ftp://example.sa/x"] {
        let res =
            app.post("/api/v1/webhooks", Some(&owner.token), &json!({"url": url, "events": ["lead.created"]})).await;
        let body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().starts_with("refused"), "{url}: {body}");
    }
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&owner.token),
            &json!({"url": "https://hooks.example.sa/in", "events": ["lead.deleted"]}),
        )
        .await;
    assert_eq!(problem(res, 422, "VALIDATION_FAILED").await["errors"][0]["field"], "events[0]");
}
