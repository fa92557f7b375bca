//! WhatsApp end to end, the server pointed at a local fake of the Graph API (`WHATSAPP_BASE_URL`)
//! that speaks Meta's wire format: connecting a number, templates and their review, single sends
//! (variables, idempotency, opt-outs), signed status webhooks and tenant isolation.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const GOOD_TOKEN: &str = "EAAG-good-token-for-tests";
pub const PHONE_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";
pub const APP_SECRET: &str = "whatsapp-app-secret-for-tests";
pub const VERIFY_TOKEN: &str = "verify-me-please";

/// What the fake received and how it answers.
#[derive(Default)]
pub struct GraphState {
    /// Every accepted send: when it arrived and its body.
    pub sends: Vec<(Instant, Value)>,
    /// Submitted templates: (Meta id, name).
    pub templates: Vec<(String, String)>,
    /// Answer the next sends with this Graph error code (status 400), this many times.
    pub fail_sends: Vec<i64>,
    /// Hold every send this long before answering (a worker can be killed meanwhile).
    pub send_delay: Duration,
    /// Once this many sends were accepted, refuse every later one with this Graph error code.
    pub fail_after: Option<(usize, i64)>,
}

/// A fake Graph API: the one good token, one number, templates approved once listed, sends
/// accepted with `wamid.N`.
#[derive(Clone, Default)]
pub struct FakeGraph(pub Arc<Mutex<GraphState>>);

impl FakeGraph {
    pub fn sends(&self) -> Vec<Value> {
        self.0.lock().unwrap().sends.iter().map(|(_, b)| b.clone()).collect()
    }
}

fn graph_error(status: u16, code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}}))
}

impl Respond for FakeGraph {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if auth != format!("Bearer {GOOD_TOKEN}") {
            return graph_error(401, 190, "Error validating access token: The session has been invalidated.");
        }
        let path = req.url.path().trim_start_matches("/v21.0");
        let mut state = self.0.lock().unwrap();
        match (req.method.as_str(), path) {
            ("GET", p) if p == format!("/{PHONE_ID}") => ResponseTemplate::new(200).set_body_json(json!({
                "display_phone_number": "+966 11 234 5678", "verified_name": "Al Noor Trading",
                "quality_rating": "GREEN", "messaging_limit_tier": "TIER_2K", "id": PHONE_ID
            })),
            ("GET", _) if path.starts_with('/') && path.len() > 1 && !path.contains("message_templates") => {
                graph_error(400, 100, "Unsupported get request. Object with ID does not exist")
            }
            ("POST", p) if p == format!("/{WABA_ID}/message_templates") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let id = format!("5944254792{:05}", state.templates.len());
                state.templates.push((id.clone(), body["name"].as_str().unwrap_or_default().to_owned()));
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": id, "status": "PENDING", "category": body["category"]}))
            }
            ("GET", p) if p == format!("/{WABA_ID}/message_templates") => {
                let data: Vec<Value> = state
                    .templates
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name, "language": "ar", "status": "APPROVED"}))
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": data, "paging": {"cursors": {"before": "a", "after": "b"}}}))
            }
            ("POST", p) if p == format!("/{PHONE_ID}/messages") => {
                if !state.fail_sends.is_empty() {
                    let code = state.fail_sends.remove(0);
                    return graph_error(400, code, "(#x) refused by the fake");
                }
                if let Some((after, code)) = state.fail_after
                    && state.sends.len() >= after
                {
                    return graph_error(400, code, "(#132015) Template is paused");
                }
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                state.sends.push((Instant::now(), body));
                let n = state.sends.len();
                ResponseTemplate::new(200)
                    .set_body_json(json!({
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": "x", "wa_id": "x"}],
                        "messages": [{"id": format!("wamid.FAKE{n:06}")}]
                    }))
                    .set_delay(state.send_delay)
            }
            _ => graph_error(400, 100, "Unknown path"),
        }
    }
}

pub async fn fake_graph() -> (MockServer, FakeGraph) {
    let server = MockServer::start().await;
    let fake = FakeGraph::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    (server, fake)
}

pub fn whatsapp_env(graph: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("WHATSAPP_BASE_URL", format!("{}/v21.0", graph.uri())),
        ("WHATSAPP_APP_SECRET", APP_SECRET.to_owned()),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN.to_owned()),
    ]
}

async fn app_with_graph(extra: &[(&str, &str)]) -> (TestApp, MockServer, FakeGraph) {
    let (server, fake) = fake_graph().await;
    let env = whatsapp_env(&server);
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.extend_from_slice(extra);
    let app = spawn_app_with(&overrides).await;
    (app, server, fake)
}

pub async fn connect(app: &TestApp, token: &str, access_token: &str, phone_id: &str) -> reqwest::Response {
    app.put_json(
        "/api/v1/integrations/WHATSAPP",
        token,
        &json!({"credentials": {"accessToken": access_token}, "config": {"phoneNumberId": phone_id, "wabaId": WABA_ID}}),
    )
    .await
}

/// An approved template with `content`.
pub async fn approved_template(app: &TestApp, token: &str, content: &str) -> Value {
    let res = app
        .post("/api/v1/whatsapp/templates", Some(token), &json!({"name": "Welcome offer", "content": content}))
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    let res = app.post("/api/v1/whatsapp/templates/sync", Some(token), &json!({})).await;
    let synced = expect_json(res, 200).await;
    synced["data"].as_array().unwrap().iter().find(|t| t["id"] == created["id"]).unwrap().clone()
}

pub fn sign(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, APP_SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub async fn post_webhook(app: &TestApp, body: &Value, signature: Option<String>) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let mut req = app.client.post(app.url("/webhooks/whatsapp")).header("content-type", "application/json");
    if let Some(sig) = signature {
        req = req.header("x-hub-signature-256", sig);
    }
    req.body(raw).send().await.unwrap()
}

/// Posts `body` signed with the app secret, as Meta does.
pub async fn post_signed(app: &TestApp, body: &Value) -> reqwest::Response {
    post_webhook(app, body, Some(sign(&serde_json::to_vec(body).unwrap()))).await
}

pub fn statuses(phone_id: &str, statuses: Vec<Value>) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "966112345678", "phone_number_id": phone_id},
        "statuses": statuses
    }}]}]})
}

fn status(wamid: &str, status: &str, ts: i64) -> Value {
    json!({"id": wamid, "status": status, "timestamp": ts.to_string(), "recipient_id": "966501234567"})
}

fn inbound(phone_id: &str, from: &str, text: &str) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "966112345678", "phone_number_id": phone_id},
        "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
        "messages": [{"from": from, "id": format!("wamid.IN{}", unique("")), "timestamp": time::OffsetDateTime::now_utc().unix_timestamp().to_string(), "type": "text", "text": {"body": text}}]
    }}]}]})
}

async fn lead_with_phone(app: &TestApp, account: &Account, phone: &str) -> String {
    let res = app
        .create_lead(
            account,
            json!({"companyName": "مؤسسة النور", "phone": phone, "city": "الرياض", "industry": "تجزئة"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/api/v1/whatsapp/messages")).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.unwrap()
}

/// Sends `template` to `lead` without an idempotency key; returns the answer's body.
async fn send_template(app: &TestApp, token: &str, lead: &str, template: &Value) -> Value {
    send(app, token, &json!({"leadId": lead, "templateId": template["id"]}), None).await.json().await.unwrap()
}

/// The job of an accepted send, once it has finished (30 s at the most).
async fn finished_job(app: &TestApp, token: &str, accepted: &Value) -> Value {
    app.wait_job(token, accepted["job"]["id"].as_str().unwrap(), 30).await
}

/// Connects the owner's number, then makes an approved template and a lead with a phone: what a
/// send needs. Returns the template and the lead's id.
async fn ready_to_send(app: &TestApp, owner: &Account) -> (Value, String) {
    assert_eq!(connect(app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);
    let template = approved_template(app, &owner.token, "مرحبا {{name}}").await;
    let lead = lead_with_phone(app, owner, "0501234567").await;
    (template, lead)
}

#[tokio::test]
async fn connect_checks_the_token_with_meta_seals_it_and_a_number_belongs_to_one_tenant() {
    let (app, _server, _fake) = app_with_graph(&[]).await;
    let owner = app.register().await;

    let res = connect(&app, &owner.token, "EAAG-revoked", PHONE_ID).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "credentials.accessToken");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("Error validating access token"), "{body}");

    let res = connect(&app, &owner.token, GOOD_TOKEN, "999").await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "config.phoneNumberId", "{body}");

    let res = app
        .put_json(
            "/api/v1/integrations/WHATSAPP",
            &owner.token,
            &json!({"credentials": {"accessToken": GOOD_TOKEN}, "config": {"phoneNumberId": "../x"}}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["config.phoneNumberId", "config.wabaId"]);

    let res = connect(&app, &owner.token, GOOD_TOKEN, PHONE_ID).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains(GOOD_TOKEN), "{text}");
    let connection: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(connection["status"], "CONNECTED");
    assert_eq!(connection["config"]["displayPhoneNumber"], "+966 11 234 5678");
    assert_eq!(connection["config"]["qualityRating"], "GREEN");
    assert_eq!(connection["config"]["messagingLimitTier"], "TIER_2K");
    // Sealed at rest: the token's bytes are nowhere in the row.
    let stored = app
        .sql_string(&format!(
            "SELECT encode(credentials, 'escape') FROM integration_connections WHERE tenant_id = '{}' AND type = 'WHATSAPP'",
            owner.tenant_id
        ))
        .await;
    assert!(!stored.contains("EAAG"), "{stored}");
    let listed: Value = app.get_json("/api/v1/integrations", Some(&owner.token)).await;
    assert!(!listed.to_string().contains(GOOD_TOKEN));
    let settings =
        app.sql_string(&format!("SELECT settings::text FROM tenants WHERE id = '{}'", owner.tenant_id)).await;
    assert!(settings.contains(PHONE_ID), "{settings}");

    let other = app.register().await;
    let res = connect(&app, &other.token, GOOD_TOKEN, PHONE_ID).await;
    let body = problem(res, 409, "CONFLICT").await;
    assert_eq!(body["reason"], "WHATSAPP_NUMBER_TAKEN");
}

#[tokio::test]
async fn a_template_is_reviewed_by_meta_and_a_send_fills_it_from_the_lead_exactly_once() {
    let (app, _server, fake) = app_with_graph(&[]).await;
    let owner = app.register().await;
    assert_eq!(connect(&app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);

    let res = app
        .post(
            "/api/v1/whatsapp/templates",
            Some(&owner.token),
            &json!({"name": "Welcome", "content": "مرحبا {{name}} في {{city}}"}),
        )
        .await;
    let template = expect_json(res, 201).await;
    assert_eq!(template["variables"], json!(["name", "city"]));
    assert_eq!((template["status"].as_str(), template["isApproved"].as_bool()), (Some("PENDING"), Some(false)));
    assert!(template["externalId"].as_str().unwrap().starts_with("5944254792"));
    let template_id = template["id"].as_str().unwrap().to_owned();
    let lead = lead_with_phone(&app, &owner, "0501234567").await;

    // Not approved yet: refused, nothing counted.
    let res = send(&app, &owner.token, &json!({"leadId": lead, "templateId": template_id}), None).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "templateId");

    let res = app.post("/api/v1/whatsapp/templates/sync", Some(&owner.token), &json!({})).await;
    let synced = expect_json(res, 200).await;
    assert_eq!(synced["data"][0]["status"], "APPROVED");
    assert_eq!(synced["data"][0]["isApproved"], true);

    let body = json!({"leadId": lead, "templateId": template_id});
    let first = send(&app, &owner.token, &body, Some("send-1")).await;
    let first = expect_json(first, 202).await;
    let again = send(&app, &owner.token, &body, Some("send-1")).await;
    let again = expect_json(again, 202).await;
    assert_eq!(first["message"]["id"], again["message"]["id"]);
    assert_eq!(first["job"]["id"], again["job"]["id"]);
    assert_eq!(first["message"]["message"], "مرحبا مؤسسة النور في الرياض");
    assert_eq!(first["message"]["phone"], "+966501234567");
    // The same key with another request is refused.
    let res = send(
        &app,
        &owner.token,
        &json!({"leadId": lead, "templateId": template_id, "variables": {"city": "جدة"}}),
        Some("send-1"),
    )
    .await;
    problem(res, 422, "VALIDATION_FAILED").await;

    let job = app.wait_job(&owner.token, first["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["type"], "WHATSAPP");
    let sends = fake.sends();
    assert_eq!(sends.len(), 1, "one message at Meta: {sends:?}");
    let sent = &sends[0];
    assert_eq!(sent["to"], "966501234567");
    assert_eq!(sent["type"], "template");
    assert_eq!(sent["template"]["language"]["code"], "ar");
    assert_eq!(
        sent["template"]["components"][0]["parameters"],
        json!([
            {"type": "text", "parameter_name": "name", "text": "مؤسسة النور"},
            {"type": "text", "parameter_name": "city", "text": "الرياض"}
        ])
    );
    assert_eq!(sent["biz_opaque_callback_data"], first["message"]["id"]);

    let listed: Value = app.get_json(&format!("/api/v1/whatsapp/messages?leadId={lead}"), Some(&owner.token)).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["status"], "SENT");
    assert_eq!(listed["data"][0]["externalId"], "wamid.FAKE000001");
    let lead_now: Value = app.get_json(&format!("/api/v1/leads/{lead}"), Some(&owner.token)).await;
    assert!(lead_now["lastContactedAt"].is_string(), "{lead_now}");
    let whatsapp_activities =
        app.sql_i64(&format!("SELECT COUNT(*) FROM activities WHERE lead_id = '{lead}' AND type = 'WHATSAPP'")).await;
    assert_eq!(whatsapp_activities, 1);
    let audited = app.audit_count(&owner, "WHATSAPP_MESSAGE_SENT").await;
    assert_eq!(audited, 1);
    let used = app.usage_of(&owner, "messages").await;
    assert_eq!(used, 1, "one unit for one message, none for the replay");

    // A variable neither the request nor the lead fills is named.
    let offer = approved_template(&app, &owner.token, "عرض {{offer}} لـ {{name}}").await;
    let res = send(&app, &owner.token, &json!({"leadId": lead, "templateId": offer["id"]}), None).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["variables.offer"]);
    let res = send(
        &app,
        &owner.token,
        &json!({"phone": "0551112222", "templateId": offer["id"], "variables": {"offer": "٢٠٪", "name": "سارة"}}),
        None,
    )
    .await;
    let accepted = expect_json(res, 202).await;
    assert_eq!(accepted["message"]["phone"], "+966551112222");
    assert_eq!(accepted["message"]["message"], "عرض ٢٠٪ لـ سارة");

    // Free text needs an open 24-hour window.
    let res = send(&app, &owner.token, &json!({"leadId": lead, "message": "hello"}), None).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "message");
}

#[tokio::test]
async fn another_tenant_sees_none_of_it() {
    let (app, _server, _fake) = app_with_graph(&[]).await;
    let owner = app.register().await;
    let (template, lead) = ready_to_send(&app, &owner).await;
    let res = send(&app, &owner.token, &json!({"leadId": lead, "templateId": template["id"]}), None).await;
    assert_eq!(res.status(), 202);

    // The other tenant develops with the double (no number connected).
    let other = app.register().await;
    let id = template["id"].as_str().unwrap();
    for path in [format!("/api/v1/whatsapp/templates/{id}"), format!("/api/v1/whatsapp/messages?leadId={lead}")] {
        problem(app.get(&path, Some(&other.token)).await, 404, "NOT_FOUND").await;
    }
    problem(
        app.patch(&format!("/api/v1/whatsapp/templates/{id}"), Some(&other.token), &json!({"name": "x"})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    problem(app.delete(&format!("/api/v1/whatsapp/templates/{id}"), Some(&other.token)).await, 404, "NOT_FOUND").await;
    problem(send(&app, &other.token, &json!({"leadId": lead, "templateId": id}), None).await, 404, "NOT_FOUND").await;
    let theirs: Value = app.get_json("/api/v1/whatsapp/templates", Some(&other.token)).await;
    assert_eq!(theirs["data"], json!([]));
    let theirs: Value = app.get_json("/api/v1/whatsapp/messages", Some(&other.token)).await;
    assert_eq!(theirs["data"], json!([]));
}

#[tokio::test]
async fn webhooks_need_metas_signature_route_by_number_and_never_move_a_message_back() {
    let (app, _server, _fake) = app_with_graph(&[]).await;
    let owner = app.register().await;
    let (template, lead) = ready_to_send(&app, &owner).await;
    let accepted = send_template(&app, &owner.token, &lead, &template).await;
    let job = finished_job(&app, &owner.token, &accepted).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let message_id = accepted["message"]["id"].as_str().unwrap().to_owned();
    let status_of = || async {
        let m: Value = app.get_json(&format!("/api/v1/whatsapp/messages?leadId={lead}"), Some(&owner.token)).await;
        m["data"][0].clone()
    };

    // The handshake.
    let ok = app
        .client
        .get(app.url(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = app
        .client
        .get(app.url("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);

    // Unsigned, wrongly signed, or changed after signing: refused, nothing changes.
    let read = statuses(PHONE_ID, vec![status("wamid.FAKE000001", "read", 1_767_200_100)]);
    assert_eq!(post_webhook(&app, &read, None).await.status(), 401);
    assert_eq!(post_webhook(&app, &read, Some("sha256=".to_owned() + &"0".repeat(64))).await.status(), 401);
    assert_eq!(post_webhook(&app, &read, Some("sha256=abc".to_owned())).await.status(), 401);
    let signed_for_other =
        sign(&serde_json::to_vec(&statuses(PHONE_ID, vec![status("wamid.FAKE000001", "sent", 1)])).unwrap());
    assert_eq!(post_webhook(&app, &read, Some(signed_for_other)).await.status(), 401);
    assert_eq!(status_of().await["status"], "SENT");

    // Read without delivered sets both; a late delivered changes nothing; duplicates are harmless.
    let res = post_signed(&app, &read).await;
    assert_eq!(res.status(), 200);
    let now = status_of().await;
    assert_eq!(now["status"], "READ");
    assert_eq!(now["readAt"], now["deliveredAt"]);
    assert!(now["readAt"].as_str().unwrap().starts_with("2025-12-31T"), "{now}");
    let late = statuses(
        PHONE_ID,
        vec![status("wamid.FAKE000001", "delivered", 1_767_200_200), status("wamid.FAKE000001", "read", 1_767_200_300)],
    );
    let res = post_signed(&app, &late).await;
    assert_eq!(res.status(), 200);
    let after = status_of().await;
    assert_eq!(after["status"], "READ");
    assert_eq!(after["readAt"], now["readAt"]);
    assert_eq!(after["deliveredAt"], now["deliveredAt"]);

    // Another tenant's number: its statuses never touch this tenant's message of the same id.
    let other = app.register().await;
    assert_eq!(
        connect(&app, &other.token, GOOD_TOKEN, "106540352249999").await.status(),
        422,
        "the fake knows one number"
    );
    app.sql(&format!(
        "INSERT INTO integration_connections (tenant_id, type, status, config) VALUES ('{}', 'WHATSAPP', 'CONNECTED', '{{\"phoneNumberId\": \"777\", \"wabaId\": \"1\"}}')",
        other.tenant_id
    ))
    .await;
    let failed = statuses(
        "777",
        vec![json!({"id": "wamid.FAKE000001", "status": "failed", "timestamp": "1767200400",
        "recipient_id": "966501234567", "errors": [{"code": 131026, "title": "Message undeliverable"}]})],
    );
    let res = post_signed(&app, &failed).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["statuses"], 0);
    assert_eq!(status_of().await["status"], "READ");
    // An unknown number and an unknown message id are ignored.
    let unknown = statuses("31337", vec![status("wamid.FAKE000001", "failed", 1)]);
    assert_eq!(post_signed(&app, &unknown).await.status(), 200);
    let ghost = statuses(PHONE_ID, vec![status("wamid.NOBODY", "delivered", 1)]);
    assert_eq!(post_signed(&app, &ghost).await.status(), 200);
    assert_eq!(status_of().await["id"], message_id);
    assert_eq!(status_of().await["status"], "READ");
}

#[tokio::test]
async fn an_inbound_stop_word_opts_the_phone_out_until_it_writes_again() {
    let (app, _server, fake) = app_with_graph(&[]).await;
    let owner = app.register().await;
    let (template, lead) = ready_to_send(&app, &owner).await;

    let stop = inbound(PHONE_ID, "966501234567", "إِيقاف");
    assert_eq!(post_signed(&app, &stop).await.status(), 200);
    let res = send(&app, &owner.token, &json!({"leadId": lead, "templateId": template["id"]}), None).await;
    problem(res, 409, "RECIPIENT_OPTED_OUT").await;
    let res = send(&app, &owner.token, &json!({"phone": "+966 50 123 4567", "templateId": template["id"]}), None).await;
    problem(res, 409, "RECIPIENT_OPTED_OUT").await;
    assert_eq!(app.audit_count(&owner, "WHATSAPP_OPTED_OUT").await, 1);
    // The inbound message is on the lead's timeline.
    let inbound_rows = app
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM activities WHERE lead_id = '{lead}' AND type = 'WHATSAPP' AND metadata->>'direction' = 'inbound'"
        ))
        .await;
    assert_eq!(inbound_rows, 1);

    // Writing again opts back in, and opens the 24-hour window for free text.
    let hello = inbound(PHONE_ID, "966501234567", "مرحبا، أريد السعر");
    assert_eq!(post_signed(&app, &hello).await.status(), 200);
    assert_eq!(app.audit_count(&owner, "WHATSAPP_OPTED_IN").await, 1);
    let res =
        send(&app, &owner.token, &json!({"leadId": lead, "message": "أهلًا، السعر ١٠٠ ريال"}), Some("text-1")).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let accepted: Value = res.json().await.unwrap();
    let job = finished_job(&app, &owner.token, &accepted).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(fake.sends().last().unwrap()["text"]["body"], "أهلًا، السعر ١٠٠ ريال");

    // Meta's 131050 on a send is an opt-out too.
    fake.0.lock().unwrap().fail_sends.push(131_050);
    let accepted = send_template(&app, &owner.token, &lead, &template).await;
    let job = finished_job(&app, &owner.token, &accepted).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["error"]["code"], "RECIPIENT_OPTED_OUT");
    assert_eq!(app.audit_count(&owner, "WHATSAPP_OPTED_OUT").await, 2);
    let res = send(&app, &owner.token, &json!({"leadId": lead, "templateId": template["id"]}), None).await;
    problem(res, 409, "RECIPIENT_OPTED_OUT").await;
}

#[tokio::test]
async fn production_without_a_connected_number_refuses_and_development_uses_the_double() {
    let app = spawn_app_with(&[("LEADZONE_ENV", "production"), ("LEADZONE_SMTP_URL", "smtp://127.0.0.1:9")]).await;
    let owner = app.register().await;
    let res = app.post("/api/v1/whatsapp/templates", Some(&owner.token), &json!({"name": "t", "content": "hi"})).await;
    let body = problem(res, 409, "CONFLICT").await;
    assert_eq!(body["reason"], "WHATSAPP_NOT_CONNECTED");

    let dev = spawn_app().await;
    let owner = dev.register().await;
    let template = approved_template(&dev, &owner.token, "مرحبا {{name}}").await;
    assert_eq!(template["status"], "APPROVED", "the double approves on sync: {template}");
    let lead = lead_with_phone(&dev, &owner, "0501234567").await;
    let accepted = send_template(&dev, &owner.token, &lead, &template).await;
    let job = finished_job(&dev, &owner.token, &accepted).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    // The double's message moves on by itself: delivered, then read.
    let mut last = Value::Null;
    for _ in 0..100 {
        let m: Value = dev.get_json(&format!("/api/v1/whatsapp/messages?leadId={lead}"), Some(&owner.token)).await;
        last = m["data"][0].clone();
        if last["status"] == "READ" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "READ", "{last}");
    assert!(last["externalId"].as_str().unwrap().starts_with("wamid.DEV"));
}

/// The worker is killed (SIGKILL) right after Meta accepted a send and before it could store the
/// answer; a new worker takes the job over when its lease runs out. Meta still has exactly one
/// message, and its status webhook (which carries the message's id) fills in Meta's id.
#[tokio::test]
async fn a_worker_killed_after_meta_accepted_a_send_never_sends_it_again() {
    use crate::processes::start;
    let (graph, fake) = fake_graph().await;
    fake.0.lock().unwrap().send_delay = Duration::from_secs(4);
    let env = whatsapp_env(&graph);
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("LEADZONE_WORKERS", "0"));
    let app = spawn_app_with(&overrides).await;
    let owner = app.register().await;
    let (template, lead) = ready_to_send(&app, &owner).await;

    let worker_env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .chain([("LEADZONE_JOB_LEASE_SECS".to_owned(), "2".to_owned())])
        .collect();
    let mut first = start(&app.db, &["worker"], "wa-worker-1", &worker_env);
    let res = send(&app, &owner.token, &json!({"leadId": lead, "templateId": template["id"]}), Some("once")).await;
    let accepted = expect_json(res, 202).await;
    let message_id = accepted["message"]["id"].as_str().unwrap().to_owned();
    // Meta has the message; its answer is still on the way.
    for _ in 0..300 {
        if !fake.sends().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.sends().len(), 1, "the worker sent");
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let _second = start(&app.db, &["worker"], "wa-worker-2", &worker_env);
    let job = app.wait_job(&owner.token, accepted["job"]["id"].as_str().unwrap(), 60).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["result"]["unconfirmed"], true, "{job}");
    // Give a wrongly resending worker time to show itself.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.sends().len(), 1, "exactly one message at Meta");

    // Meta's status names the message by our id: the answer that was lost is reconciled.
    let sent = statuses(
        PHONE_ID,
        vec![json!({"id": "wamid.FAKE000001", "status": "delivered", "timestamp": "1767200100",
        "recipient_id": "966501234567", "biz_opaque_callback_data": message_id})],
    );
    assert_eq!(post_signed(&app, &sent).await.status(), 200);
    let m: Value = app.get_json(&format!("/api/v1/whatsapp/messages?leadId={lead}"), Some(&owner.token)).await;
    assert_eq!(m["data"][0]["externalId"], "wamid.FAKE000001");
    assert_eq!(m["data"][0]["status"], "DELIVERED");
}

/// `POST /whatsapp/bulk` to every lead, with the key `bulk-1`.
async fn bulk_once(app: &TestApp, owner: &Account, template: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/whatsapp/bulk"))
        .bearer_auth(&owner.token)
        .header("idempotency-key", "bulk-1")
        .json(&json!({"filter": {}, "templateId": template["id"]}))
        .send()
        .await
        .unwrap()
}

/// Every second-long window of the fake's arrival times holds at most `rate` sends.
fn most_in_one_second(times: &[Instant]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    (0..sorted.len())
        .map(|i| sorted[i..].iter().take_while(|t| **t < sorted[i] + Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0)
}

/// A bulk to 500 leads — 20 without a phone, 10 opted out — sends exactly 470 messages at the
/// configured pace, backs off through a burst of 130429 and resumes after its worker is
/// restarted, messaging nobody twice; `messages` usage moves by 470.
#[tokio::test]
async fn a_bulk_sends_each_reachable_lead_once_at_the_configured_pace() {
    use crate::processes::start;
    const RATE: usize = 50;
    let (graph, fake) = fake_graph().await;
    let env = whatsapp_env(&graph);
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("LEADZONE_WORKERS", "0"));
    let app = spawn_app_with(&overrides).await;
    let owner = app.owner_on("pro").await;
    assert_eq!(connect(&app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);
    let template = approved_template(&app, &owner.token, "مرحبا {{name}}، عرض خاص لكم").await;
    let worker_env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .chain([
            ("LEADZONE_WHATSAPP_MPS".to_owned(), RATE.to_string()),
            ("LEADZONE_JOB_LEASE_SECS".to_owned(), "3".to_owned()),
        ])
        .collect();
    let mut first = start(&app.db, &["worker"], "bulk-worker-1", &worker_env);

    let mut csv = String::from("Company,Phone,City\n");
    for i in 0..500 {
        let phone = if i < 20 { String::new() } else { format!("05{i:08}") };
        csv.push_str(&format!("شركة رقم {i},{phone},الرياض\n"));
    }
    let res = app.import_csv(&owner.token, csv.into_bytes(), "").await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let import: Value = res.json().await.unwrap();
    let import = app.wait_job(&owner.token, import["job"]["id"].as_str().unwrap(), 60).await;
    assert_eq!(import["result"]["created"], 500, "{import}");
    for i in 20..30 {
        let stop = inbound(PHONE_ID, &format!("9665{i:08}"), "STOP");
        assert_eq!(post_signed(&app, &stop).await.status(), 200);
    }

    let res = bulk_once(&app, &owner, &template).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let job_id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    let sends_at_least = |n: usize| {
        let fake = fake.clone();
        async move {
            for _ in 0..1200 {
                if fake.0.lock().unwrap().sends.len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("the fake never got {n} sends");
        }
    };
    sends_at_least(100).await;
    fake.0.lock().unwrap().fail_sends.extend([130_429, 130_429, 130_429]);
    sends_at_least(200).await;
    // A graceful restart: the worker stops between two messages and a new one resumes.
    let stopped = std::process::Command::new("kill").args(["-TERM", &first.child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    first.child.wait().unwrap();
    let _second = start(&app.db, &["worker"], "bulk-worker-2", &worker_env);

    let job = app.wait_job(&owner.token, &job_id, 120).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(
        job["result"],
        json!({"total": 470, "sent": 470, "failed": 0, "unconfirmed": 0,
               "skipped": {"noPhone": 20, "optedOut": 10, "duplicate": 0, "missingVariables": 0}})
    );
    let (times, bodies): (Vec<Instant>, Vec<Value>) = fake.0.lock().unwrap().sends.iter().cloned().unzip();
    assert_eq!(bodies.len(), 470, "exactly one message per reachable lead");
    let recipients: std::collections::HashSet<&str> = bodies.iter().map(|b| b["to"].as_str().unwrap()).collect();
    assert_eq!(recipients.len(), 470, "nobody twice");
    assert!(!recipients.contains("966500000020"), "an opted-out phone got a message");
    let busiest = most_in_one_second(&times);
    assert!(busiest <= RATE, "{busiest} messages reached Meta within one second (rate {RATE})");
    let used = app.usage_of(&owner, "messages").await;
    assert_eq!(used, 470);
    let audited = app.audit_count(&owner, "WHATSAPP_BULK_SENT").await;
    assert_eq!(audited, 1);
    // The same key starts nothing new.
    let res = bulk_once(&app, &owner, &template).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["job"]["id"], job_id.as_str());
}

#[tokio::test]
async fn a_bulk_needs_the_feature_the_quota_for_all_of_it_and_stops_on_a_paused_template() {
    let (app, _server, fake) = app_with_graph(&[("LEADZONE_WHATSAPP_MPS", "0")]).await;
    let owner = app.register().await;
    assert_eq!(connect(&app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);
    let template = approved_template(&app, &owner.token, "مرحبا {{name}}").await;
    let mut leads = Vec::new();
    for i in 0..60 {
        let res =
            app.create_lead(&owner, json!({"companyName": format!("شركة {i}"), "phone": format!("055{i:07}")})).await;
        leads.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let bulk = |ids: Vec<String>| {
        let app = &app;
        let token = owner.token.clone();
        let template = template["id"].clone();
        async move {
            app.post("/api/v1/whatsapp/bulk", Some(&token), &json!({"leadIds": ids, "templateId": template})).await
        }
    };
    // The free plan has no whatsapp_bulk.
    let body = problem(bulk(leads.clone()).await, 403, "FEATURE_DISABLED").await;
    assert_eq!(body["feature"], "whatsapp_bulk");
    // Starter: 1,000 messages a month; with 960 used, 60 do not fit — nothing is sent or stored.
    app.set_plan(&owner, "starter").await;
    app.sql(&format!(
        "INSERT INTO usage_counters (tenant_id, metric, period, value) VALUES ('{}', 'messages', to_char(now() AT TIME ZONE 'Asia/Riyadh', 'YYYY-MM'), 960)",
        owner.tenant_id
    ))
    .await;
    let body = problem(bulk(leads.clone()).await, 402, "QUOTA_EXCEEDED").await;
    assert_eq!((body["limit"].as_i64(), body["used"].as_i64()), (Some(1000), Some(960)));
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM whatsapp_messages").await, 0);

    // 40 fit; Meta pauses the template after 5 sends: the bulk stops and says why, the rest is
    // marked not sent, and only the 5 sent are counted.
    fake.0.lock().unwrap().fail_after = Some((5, 132_015));
    let res = bulk(leads[..40].to_vec()).await;
    assert_eq!(res.status(), 202);
    let job_id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    let job = app.wait_job(&owner.token, &job_id, 30).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["error"]["code"], "PROVIDER_REJECTED");
    assert!(job["error"]["message"].as_str().unwrap().contains("132015"), "{job}");
    assert_eq!(fake.sends().len(), 5);
    let count = |status: &str| {
        format!("SELECT COUNT(*) FROM whatsapp_messages WHERE job_id = '{job_id}' AND status = '{status}'")
    };
    assert_eq!(app.sql_i64(&count("SENT")).await, 5);
    assert_eq!(app.sql_i64(&count("FAILED")).await, 35);
    let used = app.usage_of(&owner, "messages").await;
    assert_eq!(used, 965, "only the messages Meta accepted are counted");
}

/// A pro tenant with a connected number, an approved template and `n` leads whose phones start
/// with `prefix` (then six digits).
async fn pro_tenant_with_leads(app: &TestApp, n: usize, prefix: &str) -> (Account, Value, Vec<String>) {
    let owner = app.owner_on("pro").await;
    assert_eq!(connect(app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);
    let template = approved_template(app, &owner.token, "مرحبا {{name}}").await;
    let mut leads = Vec::new();
    for i in 0..n {
        leads.push(lead_of(app, &owner, &format!("شركة {i}"), &format!("{prefix}{i:06}")).await);
    }
    (owner, template, leads)
}

async fn lead_of(app: &TestApp, account: &Account, name: &str, phone: &str) -> String {
    let res = app.create_lead(account, json!({"companyName": name, "phone": phone, "city": "جدة"})).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn sent(app: &TestApp, account: &Account, lead: &str, template: &Value) {
    let res = send(app, &account.token, &json!({"leadId": lead, "templateId": template["id"]}), None).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let job = app.wait_job(&account.token, res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
}

#[tokio::test]
async fn messages_are_paged_and_seen_by_role_and_a_bulk_reaches_only_visible_leads() {
    let (app, _server, fake) = app_with_graph(&[("LEADZONE_WHATSAPP_MPS", "0")]).await;
    let owner = app.owner_on("pro").await;
    assert_eq!(connect(&app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);
    let template = approved_template(&app, &owner.token, "مرحبا {{name}}").await;
    let sales = app.add_member(&owner, "SALES").await;
    let manager = app.add_member(&owner, "MANAGER").await;
    let mut owners_leads = Vec::new();
    for i in 1..=3 {
        owners_leads.push(lead_of(&app, &owner, &format!("شركة المالك {i}"), &format!("050100000{i}")).await);
    }
    let sales_lead = lead_of(&app, &sales, "شركة المبيعات", "0502000001").await;
    lead_of(&app, &manager, "شركة المدير 1", "0503000001").await;
    lead_of(&app, &manager, "شركة المدير 2", "0503000002").await;
    for lead in &owners_leads {
        sent(&app, &owner, lead, &template).await;
    }
    sent(&app, &sales, &sales_lead, &template).await;

    let list = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let res = app.get(&format!("/api/v1/whatsapp/messages{query}"), Some(&token)).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let theirs = list(sales.token.clone(), "").await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 1, "SALES sees its own messages");
    assert_eq!(theirs["data"][0]["leadId"], sales_lead.as_str());
    assert_eq!(list(owner.token.clone(), "?status=SENT").await["data"].as_array().unwrap().len(), 4);
    assert_eq!(list(owner.token.clone(), "?status=READ").await["data"], json!([]));
    problem(app.get("/api/v1/whatsapp/messages?status=LOST", Some(&owner.token)).await, 422, "VALIDATION_FAILED").await;
    problem(
        app.get(&format!("/api/v1/whatsapp/messages?leadId={}", owners_leads[0]), Some(&sales.token)).await,
        404,
        "NOT_FOUND",
    )
    .await;
    // Newest first, two by two, each message once.
    let first = list(owner.token.clone(), "?limit=2").await;
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let second = app.get(&format!("/api/v1/whatsapp/messages?limit=2&cursor={cursor}"), Some(&owner.token)).await;
    let second: Value = second.json().await.unwrap();
    assert!(second["nextCursor"].is_null(), "{second}");
    let ids: std::collections::HashSet<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(first["data"][0]["sentAt"].as_str() >= first["data"][1]["sentAt"].as_str());

    // SALES may not bulk; a MANAGER's bulk by filter reaches only the leads it can see.
    let body = json!({"filter": {}, "templateId": template["id"]});
    problem(app.post("/api/v1/whatsapp/bulk", Some(&sales.token), &body).await, 403, "FORBIDDEN").await;
    let before = fake.sends().len();
    let res = app.post("/api/v1/whatsapp/bulk", Some(&manager.token), &body).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let job = app.wait_job(&manager.token, res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["result"]["total"], 2, "{job}");
    let reached: Vec<String> = fake.sends()[before..].iter().map(|b| b["to"].as_str().unwrap().to_owned()).collect();
    assert_eq!(reached.len(), 2);
    assert!(reached.iter().all(|to| to.starts_with("96650300000")), "{reached:?}");
}

#[tokio::test]
async fn a_bulk_fails_an_undeliverable_message_slows_down_on_a_spam_limit_and_keeps_within_the_limits() {
    let (app, _server, fake) = app_with_graph(&[("LEADZONE_WHATSAPP_MPS", "0")]).await;
    let (owner, template, leads) = pro_tenant_with_leads(&app, 55, "0554").await;
    // 131026 for the first message (that one fails, the rest go on), 131048 for the next (it is
    // tried again, slower).
    fake.0.lock().unwrap().fail_sends.extend([131_026, 131_048]);
    let res = app
        .post(
            "/api/v1/whatsapp/bulk",
            Some(&owner.token),
            &json!({"leadIds": leads[..10], "templateId": template["id"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let job_id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    let job = app.wait_job(&owner.token, &job_id, 30).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!((job["result"]["sent"].as_i64(), job["result"]["failed"].as_i64()), (Some(9), Some(1)), "{job}");
    assert_eq!(fake.sends().len(), 9);
    let code = app
        .sql_i64(&format!(
            "SELECT error_code::bigint FROM whatsapp_messages WHERE job_id = '{job_id}' AND status = 'FAILED'"
        ))
        .await;
    assert_eq!(code, 131_026);
    assert_eq!(app.usage_of(&owner, "messages").await, 9, "the undeliverable message's unit is given back");

    // The number's tier allows 50 people a day; 10 were reached: 45 more do not fit.
    app.sql(&format!(
        "UPDATE integration_connections SET config = jsonb_set(config, '{{messagingLimitTier}}', '\"TIER_50\"') WHERE tenant_id = '{}'",
        owner.tenant_id
    ))
    .await;
    let res = app
        .post(
            "/api/v1/whatsapp/bulk",
            Some(&owner.token),
            &json!({"leadIds": leads[10..], "templateId": template["id"]}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("40 more fit"), "{body}");

    // A single send at the plan's limit is 402 and nothing is sent.
    app.sql(&format!(
        "UPDATE usage_counters SET value = 10000 WHERE tenant_id = '{}' AND metric = 'messages'",
        owner.tenant_id
    ))
    .await;
    let res = send(&app, &owner.token, &json!({"leadId": leads[20], "templateId": template["id"]}), None).await;
    problem(res, 402, "QUOTA_EXCEEDED").await;
    assert_eq!(fake.sends().len(), 9);
}

#[tokio::test]
async fn a_bulk_cancelled_between_messages_stops_and_says_what_was_not_sent() {
    let (app, _server, fake) = app_with_graph(&[("LEADZONE_WHATSAPP_MPS", "4")]).await;
    let (owner, template, leads) = pro_tenant_with_leads(&app, 20, "0556").await;
    let res = app
        .post("/api/v1/whatsapp/bulk", Some(&owner.token), &json!({"leadIds": leads, "templateId": template["id"]}))
        .await;
    let job_id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        if fake.sends().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let res = app.post(&format!("/api/v1/jobs/{job_id}/cancel"), Some(&owner.token), &json!({})).await;
    assert_eq!(res.status(), 200);
    let job = app.wait_job(&owner.token, &job_id, 30).await;
    assert_eq!(job["status"], "CANCELLED", "{job}");
    let sent = fake.sends().len();
    assert!((3..20).contains(&sent), "{sent} sent before the cancellation took hold");
    let not_sent = app
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM whatsapp_messages WHERE job_id = '{job_id}' AND status = 'FAILED' AND error_message LIKE '%cancelled%'"
        ))
        .await;
    assert_eq!(not_sent as usize, 20 - sent, "every message not sent says so");
}

/// The worker reads every connected tenant's template reviews on its schedule (at its start,
/// then every 15 minutes), without anyone asking for a sync.
#[tokio::test]
async fn the_worker_syncs_template_reviews_on_its_own() {
    use crate::processes::start;
    let (graph, _fake) = fake_graph().await;
    let env = whatsapp_env(&graph);
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("LEADZONE_WORKERS", "0"));
    let app = spawn_app_with(&overrides).await;
    let owner = app.register().await;
    assert_eq!(connect(&app, &owner.token, GOOD_TOKEN, PHONE_ID).await.status(), 200);
    let res = app
        .post("/api/v1/whatsapp/templates", Some(&owner.token), &json!({"name": "t", "content": "hi {{name}}"}))
        .await;
    let template: Value = res.json().await.unwrap();
    assert_eq!(template["status"], "PENDING");
    let worker_env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let _worker = start(&app.db, &["worker"], "wa-sync-worker", &worker_env);
    let path = format!("/api/v1/whatsapp/templates/{}", template["id"].as_str().unwrap());
    let mut now = Value::Null;
    for _ in 0..150 {
        now = app.get_json(&path, Some(&owner.token)).await;
        if now["status"] == "APPROVED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now["status"], "APPROVED", "{now}");
    assert_eq!(now["isApproved"], true);
}
