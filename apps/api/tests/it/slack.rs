//! Slack notifications end to end against a local fake incoming webhook: connecting posts a first
//! message; the events the tenant chose arrive in its language with a link to the lead, one a
//! second at most, after a 429's `Retry-After`; what it did not choose, a rolled-back change and
//! another tenant's events never arrive; `no_service` turns the connection to ERROR; a webhook
//! URL on a private address is refused without the test switch.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const HOOK_PATH: &str = "/services/T0LEADZONE/B0SLACK/s3cr3tWebhookPathForTests";

#[derive(Default)]
struct SlackState {
    /// (when, text) of every message posted with 200.
    posted: Vec<(Instant, String)>,
    /// What the next answers are instead of `ok`: (status, body, Retry-After).
    next: Vec<(u16, &'static str, Option<&'static str>)>,
    refused_at: Option<Instant>,
}

#[derive(Clone, Default)]
struct FakeSlack(Arc<Mutex<SlackState>>);

impl Respond for FakeSlack {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        if req.url.path() != HOOK_PATH {
            return ResponseTemplate::new(404).set_body_string("no_service");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return ResponseTemplate::new(400).set_body_string("invalid_payload");
        };
        if !s.next.is_empty() {
            let (status, text, retry_after) = s.next.remove(0);
            s.refused_at = Some(Instant::now());
            let answer = ResponseTemplate::new(status).set_body_string(text);
            return match retry_after {
                Some(secs) => answer.insert_header("Retry-After", secs),
                None => answer,
            };
        }
        s.posted.push((Instant::now(), body["text"].as_str().unwrap_or_default().to_owned()));
        ResponseTemplate::new(200).set_body_string("ok")
    }
}

impl FakeSlack {
    async fn wait_for(&self, n: usize) -> Vec<(Instant, String)> {
        for _ in 0..200 {
            if self.0.lock().unwrap().posted.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let posted = self.0.lock().unwrap().posted.clone();
        assert!(posted.len() >= n, "{} of {n} messages arrived: {posted:?}", posted.len());
        posted
    }
}

async fn new_lead(app: &TestApp, owner: &Account, name: &str) -> String {
    let res = app.create_lead(owner, json!({"companyName": name, "city": "الرياض"})).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn qualify(app: &TestApp, owner: &Account, lead: &str) {
    let res =
        app.post(&format!("/api/v1/leads/{lead}/status"), Some(&owner.token), &json!({"status": "QUALIFIED"})).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn chosen_events_reach_the_channel_in_the_tenants_language_one_a_second() {
    let server = MockServer::start().await;
    let fake = FakeSlack::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[
        ("LEADZONE_ALLOW_PRIVATE_FETCH", "true"),
        ("LEADZONE_PUBLIC_URL", "https://app.leadzone.test"),
    ])
    .await;
    let owner = app.owner_on("pro").await;
    let res = app.patch("/api/v1/tenant", Some(&owner.token), &json!({"settings": {"language": "ar"}})).await;
    assert_eq!(res.status(), 200);
    let hook = format!("{}{HOOK_PATH}", server.uri());
    let connect = |url: String, events: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.put_json(
                "/api/v1/integrations/SLACK",
                &owner.token,
                &json!({"credentials": {"webhookUrl": url}, "config": {"events": events}}),
            )
            .await
        }
    };
    let body = problem(connect(hook.clone(), json!(["lead.created"])).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "config.events", "{body}");
    let body = problem(
        connect(format!("{}/services/T0/B0/gone", server.uri()), json!(["lead.qualified"])).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("no_service"), "{body}");
    let res = connect(hook.clone(), json!(["lead.qualified", "job.completed"])).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let connection = res.text().await.unwrap();
    assert!(!connection.contains("s3cr3t"), "the webhook URL never comes back: {connection}");
    let first = fake.wait_for(1).await;
    assert!(first[0].1.contains("Leadzone"), "connecting posts a first message: {first:?}");

    // Three leads qualified at once: three messages, a second apart at least, in Arabic, each
    // with its lead's link. Assigning (not chosen) sends nothing.
    let mut leads = Vec::new();
    for name in ["مؤسسة الأولى", "مؤسسة الثانية", "مؤسسة الثالثة"] {
        leads.push(new_lead(&app, &owner, name).await);
    }
    let assigned = app
        .post(&format!("/api/v1/leads/{}/assign", leads[0]), Some(&owner.token), &json!({"userId": owner.user_id}))
        .await;
    assert_eq!(assigned.status(), 200);
    for lead in &leads {
        qualify(&app, &owner, lead).await;
    }
    let posted = fake.wait_for(4).await;
    let messages = &posted[1..];
    for (lead, (_, text)) in leads.iter().zip(messages) {
        assert!(text.contains(&format!("<https://app.leadzone.test/leads/{lead}|")), "{text}");
        assert!(text.contains("مؤهلاً"), "in the tenant's language: {text}");
    }
    for pair in messages.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= Duration::from_millis(950), "two messages {gap:?} apart");
    }

    // Slack says 429 with Retry-After: 2; the message comes again two seconds later at least.
    fake.0.lock().unwrap().next.push((429, "rate_limited", Some("2")));
    let fourth = new_lead(&app, &owner, "مؤسسة الرابعة").await;
    qualify(&app, &owner, &fourth).await;
    let posted = fake.wait_for(5).await;
    let refused_at = fake.0.lock().unwrap().refused_at.unwrap();
    assert!(
        posted[4].0 - refused_at >= Duration::from_millis(1950),
        "retried {:?} after the 429",
        posted[4].0 - refused_at
    );
    assert!(posted[4].1.contains(&fourth));

    // A job's end: the import finished, said in Arabic.
    let import = app.import_csv(&owner.token, b"Company\nImported Trading\n".to_vec(), "").await;
    assert_eq!(import.status(), 202);
    let posted = fake.wait_for(6).await;
    assert_eq!(posted[5].1, "اكتمل الاستيراد.", "{posted:?}");

    // Another tenant's events never reach this channel.
    let other = app.register().await;
    let theirs = new_lead(&app, &other, "مؤسسة أخرى").await;
    qualify(&app, &other, &theirs).await;

    // The webhook is gone: the connection turns ERROR with Slack's code.
    fake.0.lock().unwrap().next.push((404, "no_service", None));
    let fifth = new_lead(&app, &owner, "مؤسسة الخامسة").await;
    qualify(&app, &owner, &fifth).await;
    let mut status = Value::Null;
    for _ in 0..100 {
        let list: Value = app.get_json("/api/v1/integrations", Some(&owner.token)).await;
        status = list["data"].as_array().unwrap().iter().find(|c| c["type"] == "SLACK").cloned().unwrap();
        if status["status"] == "ERROR" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "ERROR", "{status}");
    assert!(status["lastError"].as_str().unwrap().contains("no_service"), "{status}");
    let posted = fake.0.lock().unwrap().posted.clone();
    assert_eq!(posted.len(), 6, "nothing else arrived: {posted:?}");
    assert!(!posted.iter().any(|(_, t)| t.contains(&theirs)));
    // The URL is stored sealed, never in clear.
    let clear = app.sql_i64("SELECT count(*) FROM integration_connections c WHERE c::text LIKE '%s3cr3t%'").await;
    assert_eq!(clear, 0);
}

#[tokio::test]
async fn a_rolled_back_change_sends_nothing_to_slack() {
    let server = MockServer::start().await;
    let fake = FakeSlack::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[("LEADZONE_ALLOW_PRIVATE_FETCH", "true")]).await;
    let owner = app.owner_on("pro").await;
    let res = app
        .put_json(
            "/api/v1/integrations/SLACK",
            &owner.token,
            &json!({"credentials": {"webhookUrl": format!("{}{HOOK_PATH}", server.uri())}, "config": {"events": ["lead.qualified"]}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    fake.wait_for(1).await;
    let lead = new_lead(&app, &owner, "Rolled Back Trading").await;
    // The status change fails at its commit, after its message was queued: a deferred trigger
    // on the queue refuses the commit, so the whole transaction rolls back.
    app.sql(
        "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON slack_notifications
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();",
    )
    .await;
    let res =
        app.post(&format!("/api/v1/leads/{lead}/status"), Some(&owner.token), &json!({"status": "QUALIFIED"})).await;
    assert_eq!(res.status(), 500);
    app.sql("DROP TRIGGER refuse_commit ON slack_notifications").await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM slack_notifications").await, 0);
    let status = app.sql_string(&format!("SELECT status FROM leads WHERE id = '{lead}'")).await;
    assert_eq!(status, "NEW", "the change itself rolled back too");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.0.lock().unwrap().posted.len(), 1, "only the connection's first message");
}

#[tokio::test]
async fn a_slack_webhook_on_a_private_address_is_refused_without_the_test_switch() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;
    let res = app
        .put_json(
            "/api/v1/integrations/SLACK",
            &owner.token,
            &json!({"credentials": {"webhookUrl": "https://10.0.0.7/services/T0/B0/x"}}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "credentials.webhookUrl", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("refused"), "{body}");
}
