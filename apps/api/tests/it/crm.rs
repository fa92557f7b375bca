//! Salesforce and Notion end to end over HTTP against local fakes speaking their wire formats:
//! Salesforce Leads upserted 200 at a time by `Leadzone_Id__c` with `Company` and `LastName`
//! always filled and per-record errors kept per lead, its daily limit stopping the job with a
//! clear message, a revoked token seen by `POST …/test`; Notion pages created once and updated on
//! later syncs at three requests a second, its 429 `Retry-After` respected; and a sync limited by
//! smart-list filters.

use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SF_TOKEN: &str = "00D5g000004XYZ!AQ0AQsalesforce-session-token";
const NOTION_TOKEN: &str = "ntn_notion_integration_secret_for_tests";
const DATA_SOURCE: &str = "248104cd-477e-80af-bc30-000bd28de8f9";

#[derive(Default)]
struct SalesforceState {
    /// Leadzone_Id__c → (Salesforce id, the record as sent).
    leads: HashMap<String, (String, Value)>,
    /// Records per upsert call.
    calls: Vec<usize>,
    revoked: bool,
    limit_spent: bool,
}

#[derive(Clone, Default)]
struct FakeSalesforce(Arc<Mutex<SalesforceState>>);

impl Respond for FakeSalesforce {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if s.revoked || auth != format!("Bearer {SF_TOKEN}") {
            return ResponseTemplate::new(401)
                .set_body_json(json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]));
        }
        if s.limit_spent {
            return ResponseTemplate::new(403).set_body_json(
                json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            );
        }
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/services/data/v60.0/sobjects/Lead/describe") => ResponseTemplate::new(200).set_body_json(json!({
                "name": "Lead",
                "fields": [{"name": "Id", "externalId": false}, {"name": "Leadzone_Id__c", "externalId": true, "unique": true}]
            })),
            ("PATCH", "/services/data/v60.0/composite/sobjects/Lead/Leadzone_Id__c") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                assert_eq!(body["allOrNone"], false);
                let records = body["records"].as_array().unwrap();
                s.calls.push(records.len());
                let mut results = Vec::new();
                for r in records {
                    assert_eq!(r["attributes"]["type"], "Lead");
                    if r["Company"].as_str().is_none_or(|c| c.contains("FAIL")) {
                        results.push(json!({"success": false, "created": false, "errors": [{
                            "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                            "message": "Company may not say FAIL", "fields": ["Company"]}]}));
                        continue;
                    }
                    let key = r["Leadzone_Id__c"].as_str().unwrap().to_owned();
                    let next = format!("00Q5g00000{:06}", s.leads.len());
                    let created = !s.leads.contains_key(&key);
                    let entry = s.leads.entry(key).or_insert((next, Value::Null));
                    entry.1 = r.clone();
                    results.push(json!({"id": entry.0, "success": true, "created": created, "errors": []}));
                }
                ResponseTemplate::new(200).set_body_json(Value::Array(results))
            }
            _ => ResponseTemplate::new(404)
                .set_body_json(json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])),
        }
    }
}

async fn wait_done(app: &TestApp, token: &str, res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    app.wait_job(token, &id, 90).await
}

async fn import(app: &TestApp, owner: &Account, csv: String) {
    let import: Value = app.import_csv(&owner.token, csv.into_bytes(), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, import["job"]["id"].as_str().unwrap(), 60).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
}

/// No stored or shown trace of a token: not in a job's input, result, error or logs, nor in the
/// audit log, nor in the connection as listed.
async fn assert_no_trace(app: &TestApp, owner: &Account, token: &str) {
    for table in ["jobs", "job_logs", "audit_logs"] {
        let found = app.sql_i64(&format!("SELECT count(*) FROM {table} t WHERE t::text LIKE '%{token}%'")).await;
        assert_eq!(found, 0, "the token is in {table}");
    }
    let listed = app.get("/api/v1/integrations", Some(&owner.token)).await.text().await.unwrap();
    assert!(!listed.contains(token), "{listed}");
}

#[tokio::test]
async fn salesforce_gets_leads_by_leadzone_id_with_company_and_last_name_and_its_errors_per_lead() {
    let server = MockServer::start().await;
    let fake = FakeSalesforce::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[("LEADZONE_ALLOW_PRIVATE_FETCH", "true")]).await;
    let owner = app.owner_on("pro").await;
    let connect = |config: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.put_json(
                "/api/v1/integrations/SALESFORCE",
                &owner.token,
                &json!({"credentials": {"accessToken": SF_TOKEN}, "config": config}),
            )
            .await
        }
    };
    let body = problem(connect(json!({})).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "config.instanceUrl", "{body}");
    let body = problem(
        connect(json!({"instanceUrl": server.uri(), "fieldMap": {"Leadzone_Id__c": "phone"}})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "config.fieldMap.Leadzone_Id__c", "{body}");
    let res = connect(json!({"instanceUrl": format!("{}/", server.uri())})).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let connection: Value = res.json().await.unwrap();
    assert_eq!(connection["config"]["instanceUrl"], server.uri());
    assert_eq!(connection["config"]["fieldMap"]["Company"], "companyName");

    let mut csv = String::from("Company,Phone,City,Website\n");
    for i in 0..249 {
        csv.push_str(&format!("مؤسسة سيلز {i},05{i:08},الرياض,https://sales{i}.sa\n"));
    }
    csv.push_str("Shop FAIL,0599999999,جدة,\n");
    import(&app, &owner, csv).await;

    let sync = |body: Value| {
        let app = &app;
        let owner = owner.clone();
        async move { app.post("/api/v1/integrations/SALESFORCE/sync", Some(&owner.token), &body).await }
    };
    let job = wait_done(&app, &owner.token, sync(json!({})).await).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let result = &job["result"];
    assert_eq!(
        (result["pushed"].as_u64(), result["created"].as_u64(), result["failed"].as_u64()),
        (Some(250), Some(249), Some(1)),
        "{job}"
    );
    let failed_lead: String = app.sql_string("SELECT id::text FROM leads WHERE company_name = 'Shop FAIL'").await;
    assert_eq!(result["errors"][0]["leadId"], failed_lead.as_str(), "{job}");
    assert!(result["errors"][0]["message"].as_str().unwrap().contains("Company may not say FAIL"), "{job}");
    {
        let s = fake.0.lock().unwrap();
        assert_eq!(s.calls, vec![200, 50], "two collection calls of at most 200");
        let (_, record) = s.leads.values().find(|(_, r)| r["Company"] == "مؤسسة سيلز 7").unwrap();
        assert_eq!(record["LastName"], "—", "no decision maker yet");
        assert_eq!((record["Phone"].as_str(), record["City"].as_str()), (Some("+966500000007"), Some("الرياض")));
    }
    let refs = app.sql_i64("SELECT count(*) FROM lead_sync_refs WHERE service = 'SALESFORCE'").await;
    assert_eq!(refs, 249, "the refused lead has no Salesforce id");
    // A lead failed: the cursor stays, and the next incremental sync tries that lead again (and
    // only it: the others are unchanged since they were sent).
    let cursor = app
        .sql_i64("SELECT count(*) FROM integration_connections WHERE type = 'SALESFORCE' AND last_sync_at IS NULL")
        .await;
    assert_eq!(cursor, 1, "no cursor moved past a failed lead");
    let job = wait_done(&app, &owner.token, sync(json!({})).await).await;
    assert_eq!((job["result"]["pushed"].as_u64(), job["result"]["unchanged"].as_u64()), (Some(1), Some(249)), "{job}");
    assert_eq!(fake.0.lock().unwrap().calls.last(), Some(&1));

    // A sync limited by smart-list filters sends only the matching leads.
    let bad = problem(sync(json!({"filter": {"colour": ["red"]}})).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(bad["errors"][0]["field"], "filter.colour", "{bad}");
    let job = wait_done(&app, &owner.token, sync(json!({"full": true, "filter": {"city": ["جدة"]}})).await).await;
    assert_eq!((job["status"].as_str(), job["result"]["pushed"].as_u64()), (Some("SUCCESS"), Some(1)), "{job}");
    assert_eq!(fake.0.lock().unwrap().calls.last(), Some(&1));

    // The org's daily API allowance is spent: the job stops and says so.
    fake.0.lock().unwrap().limit_spent = true;
    let job = wait_done(&app, &owner.token, sync(json!({"full": true})).await).await;
    assert_eq!(
        (job["status"].as_str(), job["error"]["code"].as_str()),
        (Some("FAILED"), Some("PROVIDER_UNAVAILABLE")),
        "{job}"
    );
    let message = job["error"]["message"].as_str().unwrap();
    assert!(message.contains("REQUEST_LIMIT_EXCEEDED") && message.contains("daily API limit"), "{message}");

    // A revoked token: `POST …/test` shows ERROR with Salesforce's words; another tenant has no
    // such connection.
    {
        let mut s = fake.0.lock().unwrap();
        s.limit_spent = false;
        s.revoked = true;
    }
    let other = app.register().await;
    assert_eq!(app.post("/api/v1/integrations/SALESFORCE/test", Some(&other.token), &json!({})).await.status(), 404);
    let res = app.post("/api/v1/integrations/SALESFORCE/test", Some(&owner.token), &json!({})).await;
    let tested = expect_json(res, 200).await;
    assert_eq!(tested["status"], "ERROR", "{tested}");
    assert!(tested["lastError"].as_str().unwrap().contains("INVALID_SESSION_ID"), "{tested}");
    fake.0.lock().unwrap().revoked = false;
    let tested: Value = app.post_json("/api/v1/integrations/SALESFORCE/test", Some(&owner.token), &json!({})).await;
    assert_eq!((tested["status"].as_str(), tested["lastError"].as_str()), (Some("CONNECTED"), None), "{tested}");
    assert_no_trace(&app, &owner, SF_TOKEN).await;
}

#[tokio::test]
async fn a_salesforce_instance_on_a_private_address_is_refused_without_the_test_switch() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;
    let res = app
        .put_json(
            "/api/v1/integrations/SALESFORCE",
            &owner.token,
            &json!({"credentials": {"accessToken": SF_TOKEN}, "config": {"instanceUrl": "https://127.0.0.1:8443"}}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("refused"), "{body}");
}

#[derive(Default)]
struct NotionState {
    /// page id → (properties as last written, archived).
    pages: HashMap<String, (Value, bool)>,
    /// (when, method) of every page write.
    writes: Vec<(Instant, String)>,
    /// Answer the next page write with 429 `rate_limited`.
    throttle_next: bool,
    throttled_at: Option<Instant>,
}

#[derive(Clone, Default)]
struct FakeNotion(Arc<Mutex<NotionState>>);

impl Respond for FakeNotion {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if header("authorization") != format!("Bearer {NOTION_TOKEN}") {
            return ResponseTemplate::new(401).set_body_json(json!({"object": "error", "status": 401,
                "code": "unauthorized", "message": "API token is invalid."}));
        }
        if header("notion-version") != "2025-09-03" {
            return ResponseTemplate::new(400).set_body_json(json!({"object": "error", "status": 400,
                "code": "missing_version", "message": "Notion-Version header failed validation"}));
        }
        let path = req.url.path().to_owned();
        if req.method.as_str() != "GET" {
            s.writes.push((Instant::now(), req.method.to_string()));
            if s.throttle_next {
                s.throttle_next = false;
                s.throttled_at = Some(Instant::now());
                return ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_json(json!({
                    "object": "error", "status": 429, "code": "rate_limited",
                    "message": "You have been rate limited. Please try again in a few minutes."}));
            }
        }
        match req.method.as_str() {
            "GET" if path == format!("/v1/data_sources/{DATA_SOURCE}") => {
                ResponseTemplate::new(200).set_body_json(json!({
                    "object": "data_source", "id": DATA_SOURCE,
                    "properties": {
                        "Company": {"id": "title", "name": "Company", "type": "title", "title": {}},
                        "Phone": {"id": "a1", "name": "Phone", "type": "phone_number", "phone_number": {}},
                        "City": {"id": "a2", "name": "City", "type": "select", "select": {"options": []}},
                        "Score": {"id": "a3", "name": "Score", "type": "formula", "formula": {}}
                    }
                }))
            }
            "POST" if path == "/v1/pages" => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                assert_eq!(body["parent"]["data_source_id"], DATA_SOURCE);
                let id = format!("59833787-2cf9-4fdf-8782-e53db20768{:02}", s.pages.len());
                s.pages.insert(id.clone(), (body["properties"].clone(), false));
                ResponseTemplate::new(200).set_body_json(json!({"object": "page", "id": id}))
            }
            "PATCH" => {
                let id = path.trim_start_matches("/v1/pages/").to_owned();
                match s.pages.get_mut(&id) {
                    Some((props, false)) => {
                        let body: Value = serde_json::from_slice(&req.body).unwrap();
                        *props = body["properties"].clone();
                        ResponseTemplate::new(200).set_body_json(json!({"object": "page", "id": id}))
                    }
                    _ => ResponseTemplate::new(404).set_body_json(json!({"object": "error", "status": 404,
                        "code": "object_not_found", "message": format!("Could not find page with ID: {id}.")})),
                }
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"object": "error", "status": 404,
                "code": "object_not_found", "message": "Could not find data source."})),
        }
    }
}

fn title(props: &Value) -> String {
    props["Company"]["title"][0]["text"]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn notion_gets_a_page_per_lead_then_updates_it_at_three_requests_a_second() {
    let server = MockServer::start().await;
    let fake = FakeNotion::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let app = spawn_app_with(&[("NOTION_BASE_URL", &server.uri())]).await;
    let owner = app.owner_on("pro").await;
    let connect = |token: &'static str, config: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.put_json(
                "/api/v1/integrations/NOTION",
                &owner.token,
                &json!({"credentials": {"token": token}, "config": config}),
            )
            .await
        }
    };
    let body =
        problem(connect("ntn_wrong", json!({"dataSourceId": DATA_SOURCE})).await, 422, "VALIDATION_FAILED").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("API token is invalid"), "{body}");
    let body = problem(
        connect(NOTION_TOKEN, json!({"dataSourceId": DATA_SOURCE, "fieldMap": {"Owner": "city"}})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "config.fieldMap.Owner", "{body}");
    let res = connect(NOTION_TOKEN, json!({"dataSourceId": DATA_SOURCE.replace('-', "")})).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let connection: Value = res.json().await.unwrap();
    assert_eq!(
        connection["config"]["fieldMap"],
        json!({"Company": "companyName", "Phone": "phone", "City": "city"}),
        "the default map follows the data source's properties"
    );

    let mut csv = String::from("Company,Phone,City\n");
    for i in 0..8 {
        csv.push_str(&format!("نوشن {i},05{i:08},الدمام\n"));
    }
    import(&app, &owner, csv).await;
    fake.0.lock().unwrap().throttle_next = true;
    let empty = json!({});
    let sync = || app.post("/api/v1/integrations/NOTION/sync", Some(&owner.token), &empty);
    let job = wait_done(&app, &owner.token, sync().await).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!((job["result"]["created"].as_u64(), job["result"]["failed"].as_u64()), (Some(8), Some(0)), "{job}");
    {
        let s = fake.0.lock().unwrap();
        assert_eq!(s.pages.len(), 8, "one page per lead, the throttled one not twice");
        let (props, _) = s.pages.values().find(|(p, _)| title(p) == "نوشن 3").unwrap();
        assert_eq!(props["City"], json!({"select": {"name": "الدمام"}}));
        assert_eq!(props["Phone"], json!({"phone_number": "+966500000003"}));
        // Nine writes (one answered 429): three a second on average at most, and the one after
        // the 429 a second after it at least.
        assert_eq!(s.writes.len(), 9);
        let span = s.writes.last().unwrap().0 - s.writes[0].0;
        assert!(span >= Duration::from_millis(8 * 330), "9 writes in {span:?}");
        let throttled = s.throttled_at.unwrap();
        let next = s.writes.iter().map(|(t, _)| *t).find(|t| *t > throttled).unwrap();
        assert!(next - throttled >= Duration::from_millis(990), "retried {:?} after the 429", next - throttled);
    }

    // Two leads change; one of their pages was deleted in Notion meanwhile.
    let mut ids = Vec::new();
    for name in ["نوشن 1", "نوشن 2"] {
        ids.push(app.sql_string(&format!("SELECT id::text FROM leads WHERE company_name = '{name}'")).await);
    }
    let gone_page =
        app.sql_string(&format!("SELECT external_id FROM lead_sync_refs WHERE lead_id = '{}'", ids[1])).await;
    fake.0.lock().unwrap().pages.get_mut(&gone_page).unwrap().1 = true;
    for (id, name) in ids.iter().zip(["نوشن واحد", "نوشن اثنان"]) {
        let res = app.patch(&format!("/api/v1/leads/{id}"), Some(&owner.token), &json!({"companyName": name})).await;
        assert_eq!(res.status(), 200);
    }
    let writes_before = fake.0.lock().unwrap().writes.len();
    let job = wait_done(&app, &owner.token, sync().await).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!((job["result"]["updated"].as_u64(), job["result"]["created"].as_u64()), (Some(1), Some(1)), "{job}");
    {
        let s = fake.0.lock().unwrap();
        let methods: Vec<&str> = s.writes[writes_before..].iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(methods.iter().filter(|m| **m == "PATCH").count(), 2, "{methods:?}");
        assert_eq!(
            methods.iter().filter(|m| **m == "POST").count(),
            1,
            "only the deleted page is made again: {methods:?}"
        );
        assert!(s.pages.values().any(|(p, archived)| !archived && title(p) == "نوشن واحد"));
        assert!(s.pages.values().any(|(p, archived)| !archived && title(p) == "نوشن اثنان"));
        assert_eq!(s.pages.len(), 9);
    }
    let other = app.register().await;
    assert_eq!(app.post("/api/v1/integrations/NOTION/test", Some(&other.token), &json!({})).await.status(), 404);
    assert_no_trace(&app, &owner, NOTION_TOKEN).await;
}
