//! Lead intelligence end to end: SURVEY of a local Arabic test site (`LEADZONE_ALLOW_PRIVATE_FETCH`,
//! the site at `nukhba.localhost`, which resolves to the loopback address as RFC 6761 says), and
//! REPORT with a local fake of an OpenAI-compatible chat-completions API or the built-in writer.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const HOME: &str = r#"<!doctype html><html lang="ar" dir="rtl"><head>
<meta charset="utf-8"><title>شركة النخبة للتجارة</title>
<meta name="description" content="موردون لمعدات المطاعم في الرياض منذ سنوات">
<script src="https://cdn.salla.network/js/app.js"></script>
</head><body>
<nav><a href="/ar/contact">اتصل بنا</a> <a href="/about">من نحن</a> <a href="/private/prices">الأسعار</a></nav>
<p>للطلبات: الجوال 0501234567</p>
<footer><a href="https://www.linkedin.com/company/nukhba-trading">LinkedIn</a>
<a href="https://x.com/nukhba_sa">X</a></footer>
</body></html>"#;

const CONTACT: &str = r#"<html><head><title>اتصل بنا</title></head><body>
<p>البريد: <a href="mailto:info@nukhba.sa">info@nukhba.sa</a></p>
<p>سجل تجاري: 1010123456</p>
<p>الرقم الضريبي: 300123456700003</p>
</body></html>"#;

const ABOUT: &str = r#"<html><head><title>من نحن</title></head><body>
<p>تأسست الشركة عام 2012 في الرياض.</p></body></html>"#;

/// The test site: serves the pages and records every path it is asked for.
#[derive(Clone, Default)]
struct Site {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Respond for Site {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let p = req.url.path().to_owned();
        self.seen.lock().unwrap().push(p.clone());
        let html =
            |body: &str| ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/html; charset=utf-8");
        match p.as_str() {
            "/robots.txt" => {
                ResponseTemplate::new(200).set_body_raw(b"User-agent: *\nDisallow: /private\n".to_vec(), "text/plain")
            }
            "/" => html(HOME),
            "/ar/contact" => html(CONTACT),
            "/about" => html(ABOUT),
            _ => ResponseTemplate::new(404),
        }
    }
}

async fn site() -> (MockServer, Site) {
    let server = MockServer::start().await;
    let site = Site::default();
    Mock::given(method("GET")).respond_with(site.clone()).mount(&server).await;
    (server, site)
}

fn site_url(server: &MockServer) -> String {
    format!("http://nukhba.localhost:{}/", server.address().port())
}

/// A new lead of `owner`'s named `name` whose website is the test site; returns its id.
async fn lead_with_site(app: &TestApp, owner: &Account, name: &str, server: &MockServer) -> String {
    let lead: Value =
        app.create_lead(owner, json!({"companyName": name, "website": site_url(server)})).await.json().await.unwrap();
    lead["id"].as_str().unwrap().to_owned()
}

async fn run(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.post(path, Some(token), &json!({})).await;
    assert_eq!(res.status(), 202, "{path}: {:?}", res.text().await);
    let body: Value = res.json().await.unwrap();
    app.wait_job(token, body["job"]["id"].as_str().unwrap(), 30).await
}

#[tokio::test]
async fn a_survey_turns_the_arabic_site_into_evidence_fills_empty_fields_and_scores_the_lead() {
    let (server, site) = site().await;
    let app = spawn_app_with(&[("LEADZONE_ALLOW_PRIVATE_FETCH", "true")]).await;
    let owner = app.register().await;
    let t = owner.token.as_str();
    let id = lead_with_site(&app, &owner, "شركة النخبة للتجارة", &server).await;

    let job = run(&app, t, &format!("/api/v1/leads/{id}/survey")).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let r = &job["result"];
    assert!(r["pagesFetched"].as_u64().unwrap() >= 3, "{r} {:?}", site.seen.lock().unwrap());
    assert_eq!(r["scheme"], "http", "no TLS on the test site: plain http answered");
    assert_eq!(r["fieldsFilled"], json!(["phone", "email"]), "{r}");
    assert!(!site.seen.lock().unwrap().iter().any(|p| p.starts_with("/private")), "robots.txt disallows /private");

    let lead: Value = app.get_json(&format!("/api/v1/leads/{id}"), Some(t)).await;
    assert_eq!(lead["phone"], "+966501234567");
    assert_eq!(lead["email"], "info@nukhba.sa");
    assert_eq!(lead["enrichmentData"]["foundedYear"], 2012, "{lead}");
    assert_eq!(lead["enrichmentData"]["socialProfiles"]["linkedin"], "https://www.linkedin.com/company/nukhba-trading");
    assert!(lead["enrichmentData"]["technologies"].as_array().unwrap().iter().any(|t| t == "Salla"), "{lead}");
    assert!(lead["score"].as_i64().unwrap() >= 70, "phone, e-mail, site, social, CR and VAT: {lead}");

    let evidence: Value = app.get_json(&format!("/api/v1/leads/{id}/evidence?limit=200"), Some(t)).await;
    let rows = evidence["data"].as_array().unwrap().clone();
    let find = |kind: &str, needle: &str| {
        rows.iter()
            .find(|e| e["type"] == kind && e.to_string().contains(needle))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {needle}: {rows:?}"))
    };
    let cr = find("GOVERNMENT", "1010123456");
    assert_eq!(cr["confidence"], "MEDIUM");
    assert!(cr["url"].as_str().unwrap().ends_with("/ar/contact"), "{cr}");
    assert!(cr["snippet"].as_str().unwrap().contains("سجل تجاري"), "{cr}");
    find("GOVERNMENT", "300123456700003");
    let email = find("WEBSITE", "info@nukhba.sa");
    assert!(email["url"].as_str().unwrap().ends_with("/ar/contact"));
    find("SOCIAL", "linkedin.com/company/nukhba-trading");
    assert!(
        rows.iter().all(|e| e["url"].as_str().is_some_and(|u| u.contains("nukhba.localhost"))),
        "every row names its page"
    );
    let activities: Value = app.get_json(&format!("/api/v1/leads/{id}/activities"), Some(t)).await;
    assert!(activities["data"].as_array().unwrap().iter().any(|a| a["type"] == "SURVEY"), "{activities}");

    // Surveying again adds no duplicate evidence.
    let again = run(&app, t, &format!("/api/v1/leads/{id}/survey")).await;
    assert_eq!(again["result"]["evidenceCreated"], 0, "{again}");
    let evidence: Value = app.get_json(&format!("/api/v1/leads/{id}/evidence?limit=200"), Some(t)).await;
    assert_eq!(evidence["data"].as_array().unwrap().len(), rows.len());

    // Another tenant's lead is 404; a lead without a website is 422.
    let stranger = app.register().await;
    problem(app.post(&format!("/api/v1/leads/{id}/survey"), Some(&stranger.token), &json!({})).await, 404, "NOT_FOUND")
        .await;
    let bare: Value = app.create_lead(&owner, json!({"companyName": "No Site"})).await.json().await.unwrap();
    let res = app.post(&format!("/api/v1/leads/{}/survey", bare["id"].as_str().unwrap()), Some(t), &json!({})).await;
    assert_eq!(error_fields(&problem(res, 422, "VALIDATION_FAILED").await), vec!["website".to_owned()]);
}

#[tokio::test]
async fn without_the_private_fetch_switch_a_site_on_a_private_address_is_refused_and_never_contacted() {
    let (server, site) = site().await;
    let app = spawn_app().await;
    let owner = app.register().await;
    let lead: Value = app
        .create_lead(&owner, json!({"companyName": "Loopback Co", "website": site_url(&server)}))
        .await
        .json()
        .await
        .unwrap();
    let job = run(&app, &owner.token, &format!("/api/v1/leads/{}/survey", lead["id"].as_str().unwrap())).await;
    assert_eq!(job["status"], "SUCCESS", "a refused site ends the survey, not the job: {job}");
    let blocked = job["result"]["blocked"].as_str().unwrap_or_default();
    assert!(blocked.contains("refused"), "{job}");
    assert!(site.seen.lock().unwrap().is_empty(), "the test site was contacted: {:?}", site.seen.lock().unwrap());
    let logs = app.job_logs(&owner.token, job["id"].as_str().unwrap()).await;
    assert!(logs.contains("not surveyed"), "{logs}");
}

/// A fake of `POST /chat/completions`: answers what it is given, in order, and records requests.
#[derive(Clone)]
struct FakeLlm {
    answers: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Respond for FakeLlm {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.seen.lock().unwrap().push(body);
        let content = {
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() { "{}".to_owned() } else { answers.remove(0) }
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "fake-model-1",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
        }))
    }
}

#[tokio::test]
async fn a_report_cites_only_the_leads_own_evidence_and_survives_one_malformed_answer() {
    let llm = MockServer::start().await;
    let fake = FakeLlm { answers: Arc::default(), seen: Arc::default() };
    Mock::given(method("POST")).and(path("/v1/chat/completions")).respond_with(fake.clone()).mount(&llm).await;
    let app = spawn_app_with(&[
        ("LLM_BASE_URL", &format!("{}/v1", llm.uri())),
        ("LLM_API_KEY", "sk-test-llm"),
        ("LLM_MODEL", "fake-model-1"),
    ])
    .await;
    let owner = app.register().await;
    let t = owner.token.as_str();
    let lead: Value =
        app.create_lead(&owner, json!({"companyName": "Report Co", "city": "Riyadh"})).await.json().await.unwrap();
    let id = lead["id"].as_str().unwrap().to_owned();
    // The free plan has no `ai_reports`: 403, nothing queued.
    problem(app.post(&format!("/api/v1/leads/{id}/report"), Some(t), &json!({})).await, 403, "FEATURE_DISABLED").await;
    app.set_plan(&owner, "pro").await;
    problem(app.get(&format!("/api/v1/leads/{id}/report"), Some(t)).await, 404, "NOT_FOUND").await;

    let ev: Value = app
        .post_json(
            &format!("/api/v1/leads/{id}/evidence"),
            Some(t),
            &json!({"title": "Met at LEAP 2026", "confidence": "HIGH"}),
        )
        .await;
    let own = ev["id"].as_str().unwrap().to_owned();
    // Another tenant's evidence id, which the model (wrongly) cites.
    let other = app.register().await;
    let other_lead: Value = app.create_lead(&other, json!({"companyName": "Other Co"})).await.json().await.unwrap();
    let foreign: Value = app
        .post_json(
            &format!("/api/v1/leads/{}/evidence", other_lead["id"].as_str().unwrap()),
            Some(&other.token),
            &json!({"title": "Secret"}),
        )
        .await;
    let foreign = foreign["id"].as_str().unwrap().to_owned();
    let good = json!({"summary": "Report Co is a Riyadh company met at LEAP.", "score": 55, "sections": [
        {"title": "Events", "content": "Met at LEAP 2026.", "confidence": "HIGH", "evidenceIds": [own]},
        {"title": "Rumours", "content": "Something secret.", "confidence": "HIGH", "evidenceIds": [foreign]}
    ]});
    *fake.answers.lock().unwrap() = vec!["this is not json".to_owned(), good.to_string()];

    let job = run(&app, t, &format!("/api/v1/leads/{id}/report")).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one malformed answer, one retry");
    assert_eq!(seen[0]["model"], "fake-model-1");
    assert_eq!(seen[0]["response_format"]["type"], "json_schema");
    assert!(seen[0].to_string().contains(&own), "the evidence is in the prompt");

    let report: Value = app.get_json(&format!("/api/v1/leads/{id}/report"), Some(t)).await;
    assert_eq!(report["modelVersion"], "fake-model-1");
    let sections = report["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 1, "the section citing foreign evidence is dropped: {report}");
    assert_eq!(sections[0]["evidenceIds"], json!([own]));
    assert!(!report.to_string().contains(&foreign));
    let first_updated = report["updatedAt"].as_str().unwrap().to_owned();
    // Another tenant cannot read it.
    problem(app.get(&format!("/api/v1/leads/{id}/report"), Some(&other.token)).await, 404, "NOT_FOUND").await;

    // Regenerating replaces it: one report per lead, updatedAt moves.
    *fake.answers.lock().unwrap() = vec![good.to_string()];
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    run(&app, t, &format!("/api/v1/leads/{id}/report")).await;
    let again: Value = app.get_json(&format!("/api/v1/leads/{id}/report"), Some(t)).await;
    assert_eq!(again["id"], report["id"]);
    assert_ne!(again["updatedAt"].as_str().unwrap(), first_updated);
    assert_eq!(app.sql_i64(&format!("SELECT count(*) FROM reports WHERE lead_id = '{id}'")).await, 1);
}

#[tokio::test]
async fn without_a_model_the_built_in_writer_reports_in_the_tenants_arabic() {
    let (server, _site) = site().await;
    let app = spawn_app_with(&[("LEADZONE_ALLOW_PRIVATE_FETCH", "true")]).await;
    let owner = app.register().await;
    let t = owner.token.as_str();
    app.set_plan(&owner, "pro").await;
    assert_eq!(app.patch("/api/v1/tenant", Some(t), &json!({"settings": {"language": "ar"}})).await.status(), 200);
    let id = lead_with_site(&app, &owner, "شركة النخبة للتجارة", &server).await;
    run(&app, t, &format!("/api/v1/leads/{id}/survey")).await;
    let job = run(&app, t, &format!("/api/v1/leads/{id}/report")).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let report: Value = app.get_json(&format!("/api/v1/leads/{id}/report"), Some(t)).await;
    assert!(report["modelVersion"].as_str().unwrap().starts_with("builtin-"), "{report}");
    let arabic = |s: &str| s.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
    assert!(arabic(report["summary"].as_str().unwrap()), "{report}");
    let sections = report["sections"].as_array().unwrap();
    assert!(!sections.is_empty(), "{report}");
    let evidence: Value = app.get_json(&format!("/api/v1/leads/{id}/evidence?limit=200"), Some(t)).await;
    let ids: Vec<&str> = evidence["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    for s in sections {
        assert!(arabic(s["title"].as_str().unwrap()), "{s}");
        for cited in s["evidenceIds"].as_array().unwrap() {
            assert!(ids.contains(&cited.as_str().unwrap()), "{cited} is not this lead's evidence");
        }
    }
    assert!(report["score"].as_i64().unwrap() > 0);
}
