//! CRM sync end to end against a local fake of HubSpot (`HUBSPOT_BASE_URL`): connecting checks the
//! token and creates the `leadzone_id` property, a first sync upserts every lead in batches of
//! 100, a second one only what changed, a revoked token turns the connection to ERROR, and
//! disconnecting leaves no trace of the token in the database.

use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "pat-na1-hubspot-token-for-tests";

#[derive(Default)]
struct HubSpotState {
    /// leadzone_id → (HubSpot id, properties).
    companies: HashMap<String, (String, Value)>,
    batches: Vec<usize>,
    property: bool,
    revoked: bool,
}

#[derive(Clone, Default)]
struct FakeHubSpot(Arc<Mutex<HubSpotState>>);

impl Respond for FakeHubSpot {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if s.revoked || auth != format!("Bearer {TOKEN}") {
            return ResponseTemplate::new(401).set_body_json(json!({"status": "error",
                "message": "The OAuth token used to make this call expired 1 day(s) ago.", "category": "EXPIRED_AUTHENTICATION"}));
        }
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/crm/v3/properties/companies/leadzone_id") if s.property => {
                ResponseTemplate::new(200).set_body_json(json!({"name": "leadzone_id"}))
            }
            ("GET", "/crm/v3/properties/companies/leadzone_id") => ResponseTemplate::new(404)
                .set_body_json(json!({"status": "error", "message": "Unable to find property"})),
            ("POST", "/crm/v3/properties/companies") => {
                s.property = true;
                ResponseTemplate::new(201).set_body_json(json!({"name": "leadzone_id"}))
            }
            ("POST", "/crm/v3/objects/companies/batch/upsert") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let inputs = body["inputs"].as_array().unwrap();
                s.batches.push(inputs.len());
                let mut results = Vec::new();
                for input in inputs {
                    assert_eq!(input["idProperty"], "leadzone_id");
                    let key = input["id"].as_str().unwrap().to_owned();
                    let next = format!("{}", 5000 + s.companies.len());
                    let new = !s.companies.contains_key(&key);
                    let entry = s.companies.entry(key.clone()).or_insert((next, Value::Null));
                    entry.1 = input["properties"].clone();
                    results.push(json!({"id": entry.0, "new": new, "properties": {"leadzone_id": key}}));
                }
                ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE", "results": results}))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"status": "error", "message": "Not found"})),
        }
    }
}

async fn wait_done(app: &TestApp, token: &str, res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    app.wait_job(token, &id, 60).await
}

/// A new owner on Pro whose HubSpot is connected with [`TOKEN`].
async fn hubspot_connected_owner(app: &TestApp) -> Account {
    let owner = app.owner_on("pro").await;
    let res = app
        .put_json("/api/v1/integrations/HUBSPOT", &owner.token, &json!({"credentials": {"accessToken": TOKEN}}))
        .await;
    assert_eq!(res.status(), 200);
    owner
}

#[tokio::test]
async fn hubspot_gets_every_lead_once_then_only_what_changed() {
    let server = MockServer::start().await;
    let fake = FakeHubSpot::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[("HUBSPOT_BASE_URL", &server.uri())]).await;
    let owner = app.register().await;

    let connect = |token: &'static str| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.put_json("/api/v1/integrations/HUBSPOT", &owner.token, &json!({"credentials": {"accessToken": token}}))
                .await
        }
    };
    // The free plan has no CRM sync.
    assert_eq!(problem(connect(TOKEN).await, 403, "FEATURE_DISABLED").await["feature"], "integrations");
    app.set_plan(&owner, "pro").await;
    let body = problem(connect("pat-revoked").await, 422, "VALIDATION_FAILED").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("expired"), "{body}");
    let res = connect(TOKEN).await;
    let connection = expect_json(res, 200).await;
    assert_eq!(connection["config"]["fieldMap"]["lifecyclestage"], "status");
    assert!(fake.0.lock().unwrap().property, "connecting created the leadzone_id property");

    let mut csv = String::from("Company,Phone,City,Website\n");
    for i in 0..250 {
        csv.push_str(&format!("شركة المزامنة {i},05{i:08},الرياض,https://sync{i}.sa\n"));
    }
    let import: Value = app.import_csv(&owner.token, csv.into_bytes(), "").await.json().await.unwrap();
    let import = app.wait_job(&owner.token, import["job"]["id"].as_str().unwrap(), 60).await;
    assert_eq!(import["result"]["created"], 250);

    let sync = |body: Value| {
        let app = &app;
        let owner = owner.clone();
        async move { app.post("/api/v1/integrations/HUBSPOT/sync", Some(&owner.token), &body).await }
    };
    let job = wait_done(&app, &owner.token, sync(json!({})).await).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!((job["result"]["pushed"].as_u64(), job["result"]["created"].as_u64()), (Some(250), Some(250)), "{job}");
    {
        let s = fake.0.lock().unwrap();
        assert_eq!(s.batches, vec![100, 100, 50], "three batch calls");
        assert_eq!(s.companies.len(), 250);
        let (_, props) = s.companies.values().find(|(_, p)| p["name"] == "شركة المزامنة 7").unwrap();
        assert_eq!((props["domain"].as_str(), props["lifecyclestage"].as_str()), (Some("sync7.sa"), Some("lead")));
    }
    assert_eq!(app.audit_count(&owner, "INTEGRATION_SYNCED").await, 1);
    let listed: Value = app.get_json("/api/v1/integrations", Some(&owner.token)).await;
    let first_sync =
        listed["data"].as_array().unwrap().iter().find(|c| c["type"] == "HUBSPOT").unwrap()["lastSyncAt"].clone();
    assert!(first_sync.is_string(), "the sync moved the connection's cursor: {listed}");

    // Five leads change: the next sync sends those five, and creates nothing.
    let page: Value = app.get_json("/api/v1/leads?limit=5", Some(&owner.token)).await;
    for lead in page["data"].as_array().unwrap() {
        let res = app
            .patch(
                &format!("/api/v1/leads/{}", lead["id"].as_str().unwrap()),
                Some(&owner.token),
                &json!({"city": "جدة"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let job = wait_done(&app, &owner.token, sync(json!({})).await).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(
        (job["result"]["pushed"].as_u64(), job["result"]["updated"].as_u64(), job["result"]["created"].as_u64()),
        (Some(5), Some(5), Some(0)),
        "{job}"
    );
    {
        let s = fake.0.lock().unwrap();
        assert_eq!(s.batches, vec![100, 100, 50, 5]);
        assert_eq!(s.companies.len(), 250, "no company twice");
        assert_eq!(s.companies.values().filter(|(_, p)| p["city"] == "جدة").count(), 5);
    }
    // A full sync sends everything again (upserts: still 250 companies).
    let job = wait_done(&app, &owner.token, sync(json!({"full": true})).await).await;
    assert_eq!((job["result"]["pushed"].as_u64(), job["result"]["created"].as_u64()), (Some(250), Some(0)), "{job}");
    assert_eq!(fake.0.lock().unwrap().companies.len(), 250, "upserts: nothing twice");

    // A revoked token: the sync fails and the connection says why.
    let lead = page["data"][0]["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/leads/{lead}"), Some(&owner.token), &json!({"city": "الدمام"})).await;
    fake.0.lock().unwrap().revoked = true;
    let job = wait_done(&app, &owner.token, sync(json!({})).await).await;
    assert_eq!(
        (job["status"].as_str(), job["error"]["code"].as_str()),
        (Some("FAILED"), Some("PROVIDER_UNAUTHORIZED")),
        "{job}"
    );
    let listed: Value = app.get_json("/api/v1/integrations", Some(&owner.token)).await;
    let hubspot = listed["data"].as_array().unwrap().iter().find(|c| c["type"] == "HUBSPOT").unwrap();
    assert_eq!(hubspot["status"], "ERROR");
    assert!(hubspot["lastError"].as_str().unwrap().contains("expired"), "{hubspot}");
    problem(sync(json!({})).await, 409, "CONFLICT").await;

    // Another tenant cannot sync this one's connection; disconnecting leaves no token anywhere.
    let other = app.owner_on("pro").await;
    problem(app.post("/api/v1/integrations/HUBSPOT/sync", Some(&other.token), &json!({})).await, 409, "CONFLICT").await;
    assert_eq!(app.delete("/api/v1/integrations/HUBSPOT", Some(&owner.token)).await.status(), 204);
    let dump = std::process::Command::new("pg_dump").arg("--data-only").arg(app.db.owner_url()).output().unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("شركة المزامنة 7"), "the dump has the data");
    assert!(!dump.contains(TOKEN), "the dump holds the token");
}

/// Key rotation: with `LEADZONE_MASTER_KEY=new,old`, `leadzone reseal` seals every stored secret
/// again with the new key, after which the old one opens none of them.
#[tokio::test]
async fn reseal_moves_every_secret_to_the_first_master_key() {
    use leadzone_ports::security::SecretBox;
    const NEW_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    let server = MockServer::start().await;
    let fake = FakeHubSpot::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[("HUBSPOT_BASE_URL", &server.uri()), ("LEADZONE_ALLOW_PRIVATE_FETCH", "true")]).await;
    let owner = hubspot_connected_owner(&app).await;
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&owner.token),
            &json!({"url": format!("{}/in", server.uri()), "events": ["lead.created"]}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadzone"))
        .arg("reseal")
        .env("DATABASE_URL", app.db.owner_url())
        .env("LEADZONE_MASTER_KEY", format!("{NEW_KEY},{TEST_MASTER_KEY}"))
        .env("LEADZONE_DATA_DIR", std::env::temp_dir().join(unique("leadzone-reseal-")))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("integration connections 1") && said.contains("webhook endpoints 1"), "{said}");

    use base64::Engine;
    let key = |k: &str| base64::engine::general_purpose::STANDARD.decode(k).unwrap();
    let new_only = leadzone_crypto::AesGcmBox::new(&[key(NEW_KEY)]).unwrap();
    let old_only = leadzone_crypto::AesGcmBox::new(&[key(TEST_MASTER_KEY)]).unwrap();
    for sql in
        ["SELECT credentials AS sealed FROM integration_connections", "SELECT secret AS sealed FROM webhook_endpoints"]
    {
        let sealed = app.sql_bytes(sql).await;
        let plain = new_only.open(&sealed).unwrap();
        assert!(!plain.is_empty());
        assert!(old_only.open(&sealed).is_err(), "{sql}: the old key still opens it");
    }
    let credentials = new_only.open(&app.sql_bytes("SELECT credentials FROM integration_connections").await).unwrap();
    assert!(String::from_utf8(credentials).unwrap().contains(TOKEN));
}

/// A worker killed (SIGKILL) in the middle of a sync: the next worker resumes from the last
/// stored batch, and HubSpot never gets a company twice.
#[tokio::test]
async fn a_sync_killed_mid_way_resumes_without_creating_a_company_twice() {
    use crate::processes::start;
    let server = MockServer::start().await;
    let fake = FakeHubSpot::default();
    // Every call takes 700 ms: the kill lands while batches are in flight.
    Mock::given(wiremock::matchers::any()).respond_with(Slow(fake.clone())).mount(&server).await;
    let app = spawn_app_with(&[("HUBSPOT_BASE_URL", &server.uri()), ("LEADZONE_WORKERS", "0")]).await;
    let owner = hubspot_connected_owner(&app).await;
    let env: Vec<(String, String)> =
        vec![("HUBSPOT_BASE_URL".into(), server.uri()), ("LEADZONE_JOB_LEASE_SECS".into(), "2".into())];
    let mut first = start(&app.db, &["worker"], "sync-worker-1", &env);
    let mut csv = String::from("Company,Phone\n");
    for i in 0..450 {
        csv.push_str(&format!("شركة {i},05{i:08}\n"));
    }
    let import: Value = app.import_csv(&owner.token, csv.into_bytes(), "").await.json().await.unwrap();
    app.wait_job(&owner.token, import["job"]["id"].as_str().unwrap(), 60).await;
    let res = app.post("/api/v1/integrations/HUBSPOT/sync", Some(&owner.token), &json!({})).await;
    let job_id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    for _ in 0..400 {
        if fake.0.lock().unwrap().batches.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let batches_before = fake.0.lock().unwrap().batches.len();
    assert!((2..5).contains(&batches_before), "killed mid-way: {batches_before} batches");

    let _second = start(&app.db, &["worker"], "sync-worker-2", &env);
    let job = app.wait_job(&owner.token, &job_id, 90).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let s = fake.0.lock().unwrap();
    assert_eq!(s.companies.len(), 450, "every lead once in HubSpot");
    let sent: usize = s.batches.iter().sum();
    assert!((450..=550).contains(&sent), "at most the batch in flight was sent again: {sent}");
}

/// The fake, answering after 700 ms.
struct Slow(FakeHubSpot);

impl Respond for Slow {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.respond(req).set_delay(std::time::Duration::from_millis(700))
    }
}

/// `config.syncEveryMinutes`: the worker starts the sync by itself when it is due (at its start,
/// then every minute it checks), as the tenant's owner.
#[tokio::test]
async fn a_scheduled_sync_runs_without_anyone_asking() {
    use crate::processes::start;
    let server = MockServer::start().await;
    let fake = FakeHubSpot::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[("HUBSPOT_BASE_URL", &server.uri()), ("LEADZONE_WORKERS", "0")]).await;
    let owner = app.owner_on("pro").await;
    let connect = |every: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.put_json(
                "/api/v1/integrations/HUBSPOT",
                &owner.token,
                &json!({"credentials": {"accessToken": TOKEN}, "config": {"syncEveryMinutes": every}}),
            )
            .await
        }
    };
    let body = problem(connect(json!(5)).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "config.syncEveryMinutes");
    assert_eq!(connect(json!(15)).await.status(), 200);
    for i in 0..3 {
        assert_eq!(app.create_lead(&owner, json!({"companyName": format!("شركة مجدولة {i}")})).await.status(), 201);
    }
    let env = vec![("HUBSPOT_BASE_URL".to_owned(), server.uri())];
    let _worker = start(&app.db, &["worker"], "scheduled-sync-worker", &env);
    for _ in 0..300 {
        if fake.0.lock().unwrap().companies.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(fake.0.lock().unwrap().companies.len(), 3, "the scheduled sync pushed the leads");
    let mut synced = Value::Null;
    for _ in 0..100 {
        let listed: Value = app.get_json("/api/v1/integrations", Some(&owner.token)).await;
        synced = listed["data"].as_array().unwrap().iter().find(|c| c["type"] == "HUBSPOT").unwrap().clone();
        if synced["lastSyncAt"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(synced["lastSyncAt"].is_string(), "{synced}");
    let jobs: Value = app.get_json("/api/v1/jobs?type=SYNC", Some(&owner.token)).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 1, "one job for the period");
    assert_eq!(jobs["data"][0]["createdBy"].as_str(), Some(owner.user_id.as_str()), "started as the owner");
}
