//! Lead discovery end to end: SEARCH against a local fake of Google Places API (New) and REVEAL
//! against a local fake of Hunter, both speaking the providers' wire formats, with the server
//! pointed at them through `GOOGLE_PLACES_BASE_URL` and `HUNTER_BASE_URL`.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PLATFORM_KEY: &str = "platform-places-key";
const TENANT_KEY: &str = "tenant-own-places-key";
const HUNTER_KEY: &str = "hunter-platform-key";

/// Place `i` of the Riyadh restaurants the fake knows.
fn place(i: usize) -> Value {
    json!({
        "id": format!("ChIJ-riyadh-{i}"),
        "displayName": {"text": format!("مطعم الذواقة {i}"), "languageCode": "ar"},
        "internationalPhoneNumber": format!("+966 50 {i:03} {:04}", 1000 + i),
        "websiteUri": format!("https://www.restaurant{i}.sa/"),
        "primaryTypeDisplayName": {"text": "مطعم", "languageCode": "ar"},
        "types": ["restaurant", "food"],
        "addressComponents": [
            {"longText": "الرياض", "shortText": "الرياض", "types": ["locality", "political"]},
            {"longText": "السعودية", "shortText": "SA", "types": ["country", "political"]}
        ],
        "googleMapsUri": format!("https://maps.google.com/?cid={i}"),
        "rating": 4.2,
        "userRatingCount": 10 * i
    })
}

/// A fake of `places:searchText`: 45 restaurants for a query about restaurants in Riyadh, one for
/// "seed" (place 3 under another name), 20 per page with `nextPageToken`, and Google's 403 for an
/// unknown key. It records the key and body of every request.
#[derive(Clone, Default)]
struct FakePlaces {
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    /// How long each answer takes.
    delay: std::time::Duration,
}

impl FakePlaces {
    fn keys(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|(k, _)| k.clone()).collect()
    }
    fn bodies(&self) -> Vec<Value> {
        self.seen.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
    }
}

impl Respond for FakePlaces {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let key = req.headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let mask = req.headers.get("x-goog-fieldmask").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.seen.lock().unwrap().push((key.clone(), body.clone()));
        if key != PLATFORM_KEY && key != TENANT_KEY {
            return ResponseTemplate::new(403).set_body_json(json!({"error": {
                "code": 403, "message": "API key not valid. Please pass a valid API key.", "status": "PERMISSION_DENIED"}}));
        }
        if mask.is_empty() {
            return ResponseTemplate::new(400).set_body_json(json!({"error": {
                "code": 400, "message": "FieldMask is a required parameter.", "status": "INVALID_ARGUMENT"}}));
        }
        let text = body["textQuery"].as_str().unwrap_or("");
        let all: Vec<Value> = if text.contains("seed") {
            let mut p = place(3);
            p["displayName"] = json!({"text": "Seed Kitchen"});
            p.as_object_mut().unwrap().remove("internationalPhoneNumber");
            p.as_object_mut().unwrap().remove("websiteUri");
            vec![p]
        } else if text.contains("مطاعم") {
            (0..45).map(place).collect()
        } else {
            Vec::new()
        };
        let size = body["pageSize"].as_u64().unwrap_or(20) as usize;
        let start = match body["pageToken"].as_str() {
            None => 0,
            Some(t) => t.strip_prefix("page-").and_then(|n| n.parse::<usize>().ok()).unwrap_or(usize::MAX),
        };
        if start == usize::MAX {
            return ResponseTemplate::new(400).set_body_json(json!({"error": {
                "code": 400, "message": "Invalid page token.", "status": "INVALID_ARGUMENT"}}));
        }
        let page: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
        let mut answer = json!({"places": page});
        if start + size < all.len() {
            answer["nextPageToken"] = json!(format!("page-{}", start + size));
        }
        ResponseTemplate::new(200).set_body_json(answer).set_delay(self.delay)
    }
}

/// A fake of Hunter's domain search: two people at `restaurant7.sa`, nobody elsewhere.
struct FakeHunter;

impl Respond for FakeHunter {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        if q.get("api_key").map(String::as_str) != Some(HUNTER_KEY) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"errors": [{"id": "authentication_failed", "code": 401, "details": "No user found for the API key supplied"}]}));
        }
        let domain = q.get("domain").cloned().unwrap_or_default();
        let emails = if domain == "restaurant7.sa" {
            json!([
                {"value": "faisal@restaurant7.sa", "type": "personal", "confidence": 96, "first_name": "Faisal",
                 "last_name": "Al-Harbi", "position": "General Manager", "phone_number": "+966501112233",
                 "sources": [{"domain": "restaurant7.sa", "uri": "https://restaurant7.sa/about", "extracted_on": "2026-01-02"}]},
                {"value": "noura@restaurant7.sa", "type": "personal", "confidence": 75, "first_name": "Noura",
                 "last_name": "Al-Qahtani", "position": "Marketing Director", "phone_number": null,
                 "sources": [{"domain": "restaurant7.sa", "uri": "https://restaurant7.sa/team", "extracted_on": "2026-01-02"}]}
            ])
        } else {
            json!([])
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": {"domain": domain, "emails": emails}, "meta": {"results": 2}}))
    }
}

struct Fakes {
    places: FakePlaces,
    _google: MockServer,
    _hunter: MockServer,
    app: TestApp,
}

async fn app_with_fakes() -> Fakes {
    let google = MockServer::start().await;
    let places = FakePlaces::default();
    Mock::given(method("POST")).and(path("/v1/places:searchText")).respond_with(places.clone()).mount(&google).await;
    let hunter = MockServer::start().await;
    Mock::given(method("GET")).and(path("/v2/domain-search")).respond_with(FakeHunter).mount(&hunter).await;
    let app = spawn_app_with(&[
        ("GOOGLE_PLACES_BASE_URL", &google.uri()),
        ("GOOGLE_PLACES_API_KEY", PLATFORM_KEY),
        ("HUNTER_BASE_URL", &hunter.uri()),
        ("HUNTER_API_KEY", HUNTER_KEY),
    ])
    .await;
    Fakes { places, _google: google, _hunter: hunter, app }
}

async fn search(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/api/v1/searches", Some(token), &body).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let accepted: Value = res.json().await.unwrap();
    let id = accepted["job"]["id"].as_str().unwrap().to_owned();
    let job = app.wait_job(token, &id, 30).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    job
}

async fn searches_used(app: &TestApp, account: &Account) -> i64 {
    app.sql_i64(&format!(
        "SELECT COALESCE(SUM(value), 0)::bigint FROM usage_counters WHERE tenant_id = '{}' AND metric = 'searches'",
        account.tenant_id
    ))
    .await
}

#[tokio::test]
async fn a_search_creates_the_places_the_tenant_lacks_once_each_with_their_provenance() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let owner = app.register().await;
    let t = owner.token.as_str();

    // Place 3 is the tenant's already through an earlier search (by its place id only).
    let seed = search(app, t, json!({"query": "seed"})).await;
    assert_eq!(seed["result"]["created"], 1, "{seed}");
    // Places 0 and 4 by phone (local and international forms), 1 by website, 2 by Arabic name in the city.
    for body in [
        json!({"companyName": "Phone Twin", "phone": "0500001000"}),
        json!({"companyName": "Phone Twin Four", "phone": "+966500041004"}),
        json!({"companyName": "Site Twin", "website": "restaurant1.sa"}),
        json!({"companyName": "مطعم الذواقه 2", "city": "الرياض"}),
    ] {
        assert_eq!(app.create_lead(&owner, body).await.status(), 201);
    }

    let job = search(app, t, json!({"query": "مطاعم", "city": "الرياض", "maxResults": 60})).await;
    let r = &job["result"];
    assert_eq!(
        (r["found"].as_u64(), r["created"].as_u64(), r["duplicates"].as_u64()),
        (Some(45), Some(40), Some(5)),
        "{r}"
    );
    assert_eq!(r["leadIds"].as_array().unwrap().len(), 40);
    assert_eq!(job["progress"], 100);

    // Three pages, each with the same parameters, the query with the city, Saudi region, the
    // tenant's language (English by default), and the platform key.
    let bodies: Vec<Value> = f.places.bodies().into_iter().filter(|b| b["textQuery"] == "مطاعم الرياض").collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    for b in &bodies {
        assert_eq!(
            (b["regionCode"].as_str(), b["languageCode"].as_str(), b["pageSize"].as_u64()),
            (Some("sa"), Some("en"), Some(20))
        );
    }
    assert_eq!(bodies[1]["pageToken"], "page-20");
    assert_eq!(bodies[2]["pageToken"], "page-40");
    assert!(f.places.keys().iter().all(|k| k == PLATFORM_KEY));

    // Every created lead: a normalised phone, the website's host, the city, and one REVIEWS
    // evidence row from Google Maps.
    let tenant = &owner.tenant_id;
    assert_eq!(app.sql_i64(&format!("SELECT count(*) FROM leads WHERE tenant_id = '{tenant}'")).await, 45);
    let ids: Vec<String> =
        r["leadIds"].as_array().unwrap().iter().map(|v| format!("'{}'", v.as_str().unwrap())).collect();
    let in_ids = ids.join(",");
    let normalised = app
        .sql_i64(&format!(
            "SELECT count(*) FROM leads WHERE id IN ({in_ids}) AND phone ~ '^\\+9665[0-9]{{8}}$' AND city = 'الرياض'
               AND website_host LIKE 'restaurant%.sa' AND place_id LIKE 'ChIJ-riyadh-%'"
        ))
        .await;
    assert_eq!(normalised, 40);
    let evidence = app
        .sql_i64(&format!(
            "SELECT count(*) FROM evidence WHERE lead_id IN ({in_ids}) AND type = 'REVIEWS' AND source = 'Google Maps'
               AND url LIKE 'https://maps.google.com/?cid=%' AND raw_data ? 'userRatingCount'"
        ))
        .await;
    assert_eq!(evidence, 40);
    let per_lead = app
        .sql_i64(&format!(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM evidence WHERE lead_id IN ({in_ids}) GROUP BY lead_id) c"
        ))
        .await;
    assert_eq!(per_lead, 1);
    // One unit per search; the leads counted as they were created.
    assert_eq!(searches_used(app, &owner).await, 2);
    let leads_used = app
        .sql_i64(&format!("SELECT COALESCE(SUM(value), 0)::bigint FROM usage_counters WHERE tenant_id = '{tenant}' AND metric = 'leads'"))
        .await;
    assert_eq!(leads_used, 45);
    // The job's story and the audit row.
    let logs: Value = app.get_json(&format!("/api/v1/jobs/{}/logs", job["id"].as_str().unwrap()), Some(t)).await;
    let text = logs.to_string();
    assert!(text.contains("page 3 stored") && text.contains("search finished"), "{text}");
    assert!(!text.contains(PLATFORM_KEY), "a key in the job log: {text}");
    let audit = app
        .sql_i64(&format!(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = '{tenant}' AND event_type = 'LEAD_SEARCHED'"
        ))
        .await;
    assert_eq!(audit, 2);

    // The same search again finds them all and creates nothing.
    let again = search(app, t, json!({"query": "مطاعم", "city": "الرياض", "maxResults": 60})).await;
    assert_eq!((again["result"]["created"].as_u64(), again["result"]["duplicates"].as_u64()), (Some(0), Some(45)));
    assert_eq!(app.sql_i64(&format!("SELECT count(*) FROM leads WHERE tenant_id = '{tenant}'")).await, 45);
}

#[tokio::test]
async fn two_identical_searches_at_once_create_each_place_once() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let owner = app.register().await;
    let body = json!({"query": "مطاعم", "city": "الرياض", "maxResults": 45});
    let (a, b) = tokio::join!(search(app, &owner.token, body.clone()), search(app, &owner.token, body));
    let created = a["result"]["created"].as_u64().unwrap() + b["result"]["created"].as_u64().unwrap();
    assert_eq!(created, 45, "{a} {b}");
    let count = app
        .sql_i64(&format!(
            "SELECT count(DISTINCT place_id) * 1000 + count(*) FROM leads WHERE tenant_id = '{}'",
            owner.tenant_id
        ))
        .await;
    assert_eq!(count, 45 * 1000 + 45);
}

#[tokio::test]
async fn a_tenant_at_its_searches_limit_gets_402_and_no_job() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let owner = app.register().await;
    // The free plan allows 10 searches a month.
    app.set_usage(&owner, "searches", 10).await;
    let res = app.post("/api/v1/searches", Some(&owner.token), &json!({"query": "مطاعم"})).await;
    let body = problem(res, 402, "QUOTA_EXCEEDED").await;
    assert_eq!((body["metric"].as_str(), body["used"].as_i64()), (Some("searches"), Some(10)));
    let jobs: Value = app.get_json("/api/v1/jobs?type=SEARCH", Some(&owner.token)).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 0, "{jobs}");
    assert!(f.places.bodies().is_empty(), "nothing was asked of Google");
}

#[tokio::test]
async fn a_search_stops_creating_at_the_plans_lead_limit_and_says_so() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let owner = app.register().await;
    // The free plan allows 100 leads a month: 95 are used.
    app.set_usage(&owner, "leads", 95).await;
    let job = search(app, &owner.token, json!({"query": "مطاعم", "maxResults": 45})).await;
    let r = &job["result"];
    assert_eq!((r["created"].as_u64(), r["quotaReached"].as_bool()), (Some(5), Some(true)), "{r}");
    assert_eq!(r["skipped"].as_u64(), Some(15), "the rest of the page is skipped, and no page is asked for after it");
    assert_eq!(app.sql_i64(&format!("SELECT count(*) FROM leads WHERE tenant_id = '{}'", owner.tenant_id)).await, 5);
    assert_eq!(f.places.bodies().len(), 1);
    let logs = app.job_logs(&owner.token, job["id"].as_str().unwrap()).await;
    assert!(logs.contains("lead limit is reached"), "{logs}");
}

#[tokio::test]
async fn bad_search_bodies_are_422_and_an_idempotency_key_starts_one_job() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let owner = app.register().await;
    for (body, field) in [
        (json!({"query": ""}), "query"),
        (json!({"query": "x", "maxResults": 61}), "maxResults"),
        (json!({"query": "x", "maxResults": 0}), "maxResults"),
        (json!({"query": "x".repeat(201)}), "query"),
    ] {
        let res = app.post("/api/v1/searches", Some(&owner.token), &body).await;
        let problem = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&problem), vec![field.to_owned()], "{body}");
    }
    let send = || {
        app.client
            .post(app.url("/api/v1/searches"))
            .bearer_auth(&owner.token)
            .header("Idempotency-Key", "search-1")
            .json(&json!({"query": "مطاعم", "city": "الرياض"}))
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(first["job"]["id"], second["job"]["id"]);
    assert_eq!(searches_used(app, &owner).await, 1, "a replay is not charged again");
}

#[tokio::test]
async fn a_tenant_searches_with_its_own_google_maps_key_and_another_with_the_platform_key() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let own = app.register().await;
    let other = app.register().await;

    // A key Google refuses is 422 with Google's words, and nothing is stored.
    let res = app
        .put_json("/api/v1/integrations/GOOGLE_MAPS", &own.token, &json!({"credentials": {"apiKey": "wrong"}}))
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["credentials.apiKey".to_owned()]);
    assert!(body.to_string().contains("API key not valid"), "{body}");

    let res = app
        .put_json("/api/v1/integrations/GOOGLE_MAPS", &own.token, &json!({"credentials": {"apiKey": TENANT_KEY}}))
        .await;
    let connection = expect_json(res, 200).await;
    assert_eq!((connection["type"].as_str(), connection["status"].as_str()), (Some("GOOGLE_MAPS"), Some("CONNECTED")));
    assert!(!connection.to_string().contains(TENANT_KEY) && connection.get("credentials").is_none());
    // Stored sealed, listed without it, audited.
    let sealed = app.sql_i64(&format!(
        "SELECT count(*) FROM integration_connections WHERE tenant_id = '{}' AND position(convert_to('{TENANT_KEY}', 'UTF8') in credentials) = 0",
        own.tenant_id
    )).await;
    assert_eq!(sealed, 1, "the key is not stored in clear");
    let list: Value = app.get_json("/api/v1/integrations", Some(&own.token)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(TENANT_KEY));
    let other_list: Value = app.get_json("/api/v1/integrations", Some(&other.token)).await;
    assert_eq!(other_list["data"].as_array().unwrap().len(), 0, "another tenant sees none");
    let audit = app.sql_i64(&format!("SELECT count(*) FROM audit_logs WHERE tenant_id = '{}' AND event_type = 'INTEGRATION_CONNECTED' AND details::text NOT LIKE '%{TENANT_KEY}%'", own.tenant_id)).await;
    assert_eq!(audit, 1);

    let before = f.places.keys().len();
    search(app, &own.token, json!({"query": "مطاعم", "maxResults": 5})).await;
    search(app, &other.token, json!({"query": "مطاعم", "maxResults": 5})).await;
    let keys: Vec<String> = f.places.keys().into_iter().skip(before).collect();
    assert!(keys.contains(&TENANT_KEY.to_owned()) && keys.contains(&PLATFORM_KEY.to_owned()), "{keys:?}");
    assert_eq!(keys.iter().filter(|k| *k == TENANT_KEY).count(), 1);

    // Another tenant cannot disconnect it; the owner can, and is back on the platform key.
    problem(app.delete("/api/v1/integrations/GOOGLE_MAPS", Some(&other.token)).await, 404, "NOT_FOUND").await;
    assert_eq!(app.delete("/api/v1/integrations/GOOGLE_MAPS", Some(&own.token)).await.status(), 204);
    problem(app.delete("/api/v1/integrations/GOOGLE_MAPS", Some(&own.token)).await, 404, "NOT_FOUND").await;
    let disconnected = app
        .sql_i64(&format!(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}' AND event_type = 'INTEGRATION_DISCONNECTED'",
            own.tenant_id
        ))
        .await;
    assert_eq!(disconnected, 1);
    let before = f.places.keys().len();
    search(app, &own.token, json!({"query": "مطاعم", "maxResults": 5})).await;
    assert_eq!(f.places.keys()[before..], [PLATFORM_KEY.to_owned()]);
    // A SALES member may not manage integrations.
    let sales = app.add_member(&own, "SALES").await;
    problem(app.get("/api/v1/integrations", Some(&sales.token)).await, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn reveal_adds_decision_makers_and_charges_only_when_it_found_someone_new() {
    let f = app_with_fakes().await;
    let app = &f.app;
    let owner = app.register().await;
    let t = owner.token.as_str();
    let typed = json!({"name": "Sara Typed", "title": "Owner", "email": "sara@restaurant7.sa"});
    let res = app
        .create_lead(
            &owner,
            json!({"companyName": "Restaurant Seven", "website": "https://www.restaurant7.sa",
                                     "enrichmentData": {"decisionMakers": [typed]}}),
        )
        .await;
    let lead: Value = res.json().await.unwrap();
    let id = lead["id"].as_str().unwrap();

    let reveal = |lead: String, token: String| async move {
        let res = app.post(&format!("/api/v1/leads/{lead}/reveal"), Some(&token), &json!({})).await;
        assert_eq!(res.status(), 202, "{:?}", res.text().await);
        let body: Value = res.json().await.unwrap();
        app.wait_job(&token, body["job"]["id"].as_str().unwrap(), 30).await
    };
    let job = reveal(id.to_owned(), t.to_owned()).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!((job["result"]["revealed"].as_u64(), job["result"]["charged"].as_bool()), (Some(2), Some(true)));
    let lead: Value = app.get_json(&format!("/api/v1/leads/{id}"), Some(t)).await;
    let makers = lead["enrichmentData"]["decisionMakers"].as_array().unwrap();
    assert_eq!(makers.len(), 3, "{makers:?}");
    assert_eq!(makers[0]["name"], "Sara Typed", "what the user typed is kept");
    assert!(
        makers.iter().any(|m| m["name"] == "Faisal Al-Harbi"
            && m["title"] == "General Manager"
            && m["phone"] == "+966501112233")
    );
    let evidence: Value = app.get_json(&format!("/api/v1/leads/{id}/evidence"), Some(t)).await;
    let rows = evidence["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let confidence =
        |url: &str| rows.iter().find(|e| e["url"] == url).map(|e| (e["type"].clone(), e["confidence"].clone()));
    assert_eq!(confidence("https://restaurant7.sa/about"), Some((json!("WEBSITE"), json!("HIGH"))));
    assert_eq!(confidence("https://restaurant7.sa/team"), Some((json!("WEBSITE"), json!("MEDIUM"))));
    assert_eq!(searches_used(app, &owner).await, 1);

    // Again: nothing new, free, and said so.
    let job = reveal(id.to_owned(), t.to_owned()).await;
    assert_eq!(
        (job["result"]["revealed"].as_u64(), job["result"]["charged"].as_bool()),
        (Some(0), Some(false)),
        "{job}"
    );
    assert_eq!(searches_used(app, &owner).await, 1);
    let lead: Value = app.get_json(&format!("/api/v1/leads/{id}"), Some(t)).await;
    assert_eq!(lead["enrichmentData"]["decisionMakers"].as_array().unwrap().len(), 3);

    // No website: 422 naming the field. Another tenant: 404. A SALES member who cannot see it: 404.
    let bare: Value = app.create_lead(&owner, json!({"companyName": "No Site"})).await.json().await.unwrap();
    let res = app.post(&format!("/api/v1/leads/{}/reveal", bare["id"].as_str().unwrap()), Some(t), &json!({})).await;
    assert_eq!(error_fields(&problem(res, 422, "VALIDATION_FAILED").await), vec!["website".to_owned()]);
    let stranger = app.register().await;
    problem(app.post(&format!("/api/v1/leads/{id}/reveal"), Some(&stranger.token), &json!({})).await, 404, "NOT_FOUND")
        .await;
    let sales = app.add_member(&owner, "SALES").await;
    problem(app.post(&format!("/api/v1/leads/{id}/reveal"), Some(&sales.token), &json!({})).await, 404, "NOT_FOUND")
        .await;
    assert_eq!(searches_used(app, &owner).await, 1);
    // Hunter's key travels in its query string: it is in no job's log.
    let logs = app
        .sql_i64(&format!(
            "SELECT count(*) FROM job_logs WHERE message || COALESCE(data::text, '') LIKE '%{HUNTER_KEY}%'"
        ))
        .await;
    assert_eq!(logs, 0);
    let logged = app.sql_i64("SELECT count(*) FROM job_logs WHERE message = 'looking up decision makers'").await;
    assert!(logged >= 2, "the reveal logs what it does");
}

#[tokio::test]
async fn a_search_cancelled_between_pages_keeps_the_pages_it_stored() {
    let google = MockServer::start().await;
    let places = FakePlaces { delay: std::time::Duration::from_millis(700), ..Default::default() };
    Mock::given(method("POST")).and(path("/v1/places:searchText")).respond_with(places.clone()).mount(&google).await;
    let app =
        spawn_app_with(&[("GOOGLE_PLACES_BASE_URL", &google.uri()), ("GOOGLE_PLACES_API_KEY", PLATFORM_KEY)]).await;
    let owner = app.register().await;
    let res = app.post("/api/v1/searches", Some(&owner.token), &json!({"query": "مطاعم", "maxResults": 60})).await;
    let id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    // Once the first page is stored (progress moves), cancel: the job stops at its next page.
    let mut stored = false;
    for _ in 0..100 {
        let job: Value = app.get_json(&format!("/api/v1/jobs/{id}"), Some(&owner.token)).await;
        if job["progress"].as_i64().unwrap_or(0) > 0 {
            stored = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(stored, "the first page was never stored");
    let res = app.post(&format!("/api/v1/jobs/{id}/cancel"), Some(&owner.token), &json!({})).await;
    assert_eq!(res.status(), 200);
    let job = app.wait_job(&owner.token, &id, 30).await;
    assert_eq!(job["status"], "CANCELLED", "{job}");
    let leads = app.sql_i64(&format!("SELECT count(*) FROM leads WHERE tenant_id = '{}'", owner.tenant_id)).await;
    assert!((20..60).contains(&leads), "{leads} leads");
    assert_eq!(job["result"]["created"].as_i64(), Some(leads), "the result counts what was stored: {job}");
    assert!(places.bodies().len() < 3, "no page is asked for after the cancel");
}

#[tokio::test]
async fn a_refused_key_fails_the_search_with_a_readable_error_and_creates_nothing() {
    let google = MockServer::start().await;
    let places = FakePlaces::default();
    Mock::given(method("POST")).and(path("/v1/places:searchText")).respond_with(places.clone()).mount(&google).await;
    let app =
        spawn_app_with(&[("GOOGLE_PLACES_BASE_URL", &google.uri()), ("GOOGLE_PLACES_API_KEY", "revoked-key")]).await;
    let owner = app.register().await;
    let res = app.post("/api/v1/searches", Some(&owner.token), &json!({"query": "مطاعم"})).await;
    let id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    let job = app.wait_job(&owner.token, &id, 30).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["error"]["code"], "PROVIDER_UNAUTHORIZED");
    assert!(job["error"]["message"].as_str().unwrap().contains("API key not valid"), "{job}");
    assert!(!job.to_string().contains("revoked-key"));
    assert_eq!(app.sql_i64(&format!("SELECT count(*) FROM leads WHERE tenant_id = '{}'", owner.tenant_id)).await, 0);
}

#[tokio::test]
async fn with_no_key_development_uses_the_double_and_production_refuses_naming_the_setting() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let job = search(&app, &owner.token, json!({"query": "مطاعم", "city": "الرياض", "maxResults": 10})).await;
    assert_eq!(job["result"]["created"], 10, "{job}");
    let leads: Value = app.get_json("/api/v1/leads?limit=50", Some(&owner.token)).await;
    let data = leads["data"].as_array().unwrap();
    assert_eq!(data.len(), 10);
    assert!(data.iter().all(|l| l["phone"].as_str().is_some_and(|p| p.starts_with("+966"))), "{data:?}");
    let logs = app.job_logs(&owner.token, job["id"].as_str().unwrap()).await;
    assert!(logs.contains("development double"), "{logs}");
    let evidence_source = app
        .sql_i64(&format!(
            "SELECT count(*) FROM evidence WHERE tenant_id = '{}' AND source LIKE 'Development double%'",
            owner.tenant_id
        ))
        .await;
    assert_eq!(evidence_source, 10, "double data is never labelled as Google's");

    let production =
        spawn_app_with(&[("LEADZONE_ENV", "production"), ("LEADZONE_SMTP_URL", "smtp://127.0.0.1:9")]).await;
    let owner = production.register().await;
    let res = production.post("/api/v1/searches", Some(&owner.token), &json!({"query": "مطاعم"})).await;
    let body = problem(res, 503, "UNAVAILABLE").await;
    assert_eq!(body["setting"], "GOOGLE_PLACES_API_KEY");
    assert!(body["detail"].as_str().unwrap().contains("GOOGLE_PLACES_API_KEY"), "{body}");
    let jobs: Value = production.get_json("/api/v1/jobs", Some(&owner.token)).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 0);
}
