//! The Salesforce adapter against a local fake speaking Salesforce REST v60.0: the composite
//! upsert's documented body, per-record results and errors, the session and daily-limit errors,
//! the describe check of the external-id field, the SSRF guard in front of the tenant's instance
//! URL, and the token kept out of logs and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmError, CrmRecord, SalesforceApi};
use leadzone_providers::{FetchPolicy, Salesforce};
use serde_json::{Value, json};
use support::{ExactHeader, bearer, capture_logs, lead, quick_config, requests};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "00D5g000004XyZ!AQ8AQvery-secret-salesforce-session";
const UPSERT: &str = "/services/data/v60.0/composite/sobjects/Lead/Leadzone_Id__c";
const DESCRIBE: &str = "/services/data/v60.0/sobjects/Lead/describe";

fn token() -> ApiKey {
    ApiKey::new(TOKEN)
}

fn record(n: u128, company: &str) -> CrmRecord {
    CrmRecord {
        lead_id: lead(n),
        properties: [("Company".to_owned(), company.to_owned()), ("LastName".to_owned(), "Unknown".to_owned())].into(),
    }
}

/// The adapter for a local fake: private addresses and plain http allowed.
fn salesforce() -> Salesforce {
    Salesforce::new(quick_config(), FetchPolicy::new(true)).unwrap()
}

async fn fake_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(UPSERT))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "current_thread")]
async fn an_upsert_is_salesforces_documented_body_sent_with_patch_and_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(UPSERT))
        .and(bearer(TOKEN))
        .and(ExactHeader("content-type", "application/json".to_owned()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "00Q5g00000A1AAAA", "success": true, "errors": [], "created": true},
            {"id": "00Q5g00000A2AAAA", "success": true, "errors": [], "created": false}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let mut arabic = record(1, "مؤسسة النور للتجارة");
    arabic.properties.insert("City".to_owned(), "الرياض".to_owned());
    let batch = salesforce().upsert_leads(&server.uri(), &token(), vec![arabic, record(2, "Al Bait")]).await.unwrap();
    assert_eq!(batch.results.len(), 2);
    let body = String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"allOrNone":false,"records":[{{"attributes":{{"type":"Lead"}},"Leadzone_Id__c":"{}","City":"الرياض","Company":"مؤسسة النور للتجارة","LastName":"Unknown"}},{{"attributes":{{"type":"Lead"}},"Leadzone_Id__c":"{}","Company":"Al Bait","LastName":"Unknown"}}]}}"#,
            lead(1),
            lead(2)
        )
    );
}

#[tokio::test(flavor = "current_thread")]
async fn each_result_maps_to_its_lead_and_a_refused_record_is_a_failure_naming_it() {
    let server = fake_answering(
        200,
        json!([
            {"id": "00Q5g00000A1AAAA", "success": true, "errors": [], "created": true},
            {"id": "00Q5g00000A2AAAA", "success": true, "errors": [], "created": false},
            {"success": false, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]", "fields": ["LastName"]}]}
        ]),
    )
    .await;
    let batch = salesforce()
        .upsert_leads(&server.uri(), &token(), vec![record(1, "a"), record(2, "b"), record(3, "c")])
        .await
        .unwrap();
    let results: Vec<_> = batch.results.iter().map(|r| (r.lead_id, r.external_id.as_str(), r.created)).collect();
    assert_eq!(results, vec![(lead(1), "00Q5g00000A1AAAA", true), (lead(2), "00Q5g00000A2AAAA", false)]);
    assert_eq!(batch.failures.len(), 1);
    assert_eq!(batch.failures[0].lead_id, Some(lead(3)));
    assert_eq!(
        batch.failures[0].message,
        "Salesforce: Required fields are missing: [LastName] (REQUIRED_FIELD_MISSING)"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_session_and_a_spent_daily_limit_are_told_apart_without_the_token() {
    let (logs, _guard) = capture_logs();
    let server = fake_answering(
        401,
        json!([{"message": format!("Session expired or invalid"), "errorCode": "INVALID_SESSION_ID"}]),
    )
    .await;
    let err = salesforce().upsert_leads(&server.uri(), &token(), vec![record(1, "a")]).await.unwrap_err();
    assert_eq!(err, CrmError::Unauthorized("Salesforce: Session expired or invalid (INVALID_SESSION_ID)".into()));

    let server = fake_answering(
        403,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
    )
    .await;
    let err = salesforce().upsert_leads(&server.uri(), &token(), vec![record(1, "a")]).await.unwrap_err();
    match &err {
        CrmError::RateLimited { daily: true, retry_after: None, message } => {
            assert_eq!(message, "Salesforce: TotalRequests Limit exceeded. (REQUEST_LIMIT_EXCEEDED)");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests(&server).await, 1, "the job decides about retries");

    // Too many long-running calls at once passes in seconds: not the day's allowance.
    let server = fake_answering(
        403,
        json!([{"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
    )
    .await;
    let err = salesforce().upsert_leads(&server.uri(), &token(), vec![record(1, "a")]).await.unwrap_err();
    assert!(matches!(err, CrmError::RateLimited { daily: false, .. }), "{err:?}");

    // A token Salesforce echoes back is scrubbed; other refusals and outages keep their kind.
    let cases: [(u16, Value); 4] = [
        (401, json!([{"message": format!("Bad session {TOKEN}"), "errorCode": "INVALID_SESSION_ID"}])),
        (403, json!([{"message": "API is disabled for this User", "errorCode": "API_DISABLED_FOR_ORG"}])),
        (404, json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])),
        (503, json!([{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}])),
    ];
    for (status, body) in cases {
        let server = fake_answering(status, body).await;
        let err = salesforce().upsert_leads(&server.uri(), &token(), vec![record(1, "a")]).await.unwrap_err();
        match (status, &err) {
            (401 | 403, CrmError::Unauthorized(_)) | (404, CrmError::Rejected(_)) | (503, CrmError::Unavailable(_)) => {
            }
            _ => panic!("{status}: {err:?}"),
        }
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }
    assert!(logs.contents().contains("Salesforce"), "the calls are logged");
    assert!(!logs.contents().contains(TOKEN));
}

#[tokio::test(flavor = "current_thread")]
async fn preparing_checks_that_lead_has_the_external_id_field() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DESCRIBE))
        .and(bearer(TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "Lead",
            "fields": [
                {"name": "Id", "type": "id", "externalId": false},
                {"name": "Company", "type": "string", "externalId": false},
                {"name": "Leadzone_Id__c", "type": "string", "length": 36, "unique": true, "externalId": true}
            ]
        })))
        .mount(&server)
        .await;
    salesforce().prepare(&server.uri(), &token()).await.unwrap();

    for fields in
        [json!([{"name": "Company", "externalId": false}]), json!([{"name": "Leadzone_Id__c", "externalId": false}])]
    {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(DESCRIBE))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Lead", "fields": fields})))
            .mount(&server)
            .await;
        let err = salesforce().prepare(&server.uri(), &token()).await.unwrap_err();
        match &err {
            CrmError::Rejected(message) => {
                assert!(message.contains("Leadzone_Id__c") && message.contains("External ID"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_strict_guard_refuses_internal_instance_urls_before_any_request() {
    let server = fake_answering(200, json!([])).await;
    let strict = Salesforce::new(quick_config(), FetchPolicy::strict()).unwrap();
    let address = server.address();

    // Plain http is not an instance URL; https to a loopback address is refused by the guard.
    let err = strict.prepare(&server.uri(), &token()).await.unwrap_err();
    assert!(matches!(&err, CrmError::Rejected(m) if m.contains("instance URL")), "{err:?}");
    let err = strict.upsert_leads(&format!("https://{address}"), &token(), vec![record(1, "a")]).await.unwrap_err();
    assert!(matches!(&err, CrmError::Rejected(m) if m.starts_with("refused:")), "{err:?}");
    let err = strict.prepare(&format!("https://127.0.0.1:{}", address.port()), &token()).await.unwrap_err();
    assert!(matches!(&err, CrmError::Rejected(m) if m.starts_with("refused:")), "{err:?}");
    // A name resolving to the loopback address is refused when it is resolved.
    let err = strict.prepare("https://localhost", &token()).await.unwrap_err();
    assert_eq!(err, CrmError::Rejected("refused: localhost resolves to 127.0.0.1, a loopback address".into()));
    // Paths, queries and credentials are not part of an instance URL, whatever the policy.
    for bad in [format!("{}/services", server.uri()), format!("{}?x=1", server.uri()), "not a url".to_owned()] {
        let err = salesforce().prepare(&bad, &token()).await.unwrap_err();
        assert!(matches!(&err, CrmError::Rejected(m) if m.contains("instance URL")), "{bad}: {err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn more_than_200_records_are_refused_before_any_request() {
    let server = fake_answering(200, json!([])).await;
    let records: Vec<_> = (0..201).map(|n| record(n, "x")).collect();
    let err = salesforce().upsert_leads(&server.uri(), &token(), records).await.unwrap_err();
    assert!(matches!(err, CrmError::Rejected(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
