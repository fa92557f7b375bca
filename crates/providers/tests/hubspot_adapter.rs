//! The HubSpot adapter against a local fake speaking HubSpot's CRM v3 wire format: the batch
//! upsert's documented body, 207 partial answers, the two 429 policies, 423, and the token kept
//! out of logs and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmError, CrmRecord, HubSpotApi};
use leadzone_providers::HubSpot;
use serde_json::{Value, json};
use support::{answering, bearer, capture_logs, lead, quick_config, requests};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pat-eu1-very-secret-hubspot-token";

fn token() -> ApiKey {
    ApiKey::new(TOKEN)
}

fn record(n: u128, name: &str) -> CrmRecord {
    CrmRecord { lead_id: lead(n), properties: [("name".to_owned(), name.to_owned())].into() }
}

fn result(n: u128, id: &str, new: bool) -> Value {
    json!({"id": id, "new": new, "properties": {"leadzone_id": lead(n).to_string(), "name": "x"},
           "createdAt": "2026-12-01T08:00:00Z", "updatedAt": "2026-12-01T08:00:00Z", "archived": false})
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_upsert_is_hubspots_documented_body_and_its_results_map_to_leads() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/batch/upsert"))
        .and(bearer(TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE", "results": [result(1, "1001", true), result(2, "1002", false)],
            "startedAt": "2026-12-01T08:00:00Z", "completedAt": "2026-12-01T08:00:01Z"
        })))
        .mount(&server)
        .await;
    let hubspot = HubSpot::new(&server.uri(), quick_config()).unwrap();
    let batch = hubspot.upsert_companies(&token(), vec![record(1, "مؤسسة النور"), record(2, "Al Bait")]).await.unwrap();
    assert_eq!(batch.results.len(), 2);
    assert_eq!(
        (batch.results[0].lead_id, batch.results[0].external_id.as_str(), batch.results[0].created),
        (lead(1), "1001", true)
    );
    assert!(!batch.results[1].created);
    let body = String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"inputs":[{{"idProperty":"leadzone_id","id":"{}","properties":{{"name":"مؤسسة النور"}}}},{{"idProperty":"leadzone_id","id":"{}","properties":{{"name":"Al Bait"}}}}]}}"#,
            lead(1),
            lead(2)
        )
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_207_marks_the_failed_leads_not_the_batch() {
    let server = answering(
        "POST",
        ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE",
            "results": [result(1, "1001", true)],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid",
                        "context": {"ids": [lead(2).to_string()]}}]
        })),
    )
    .await;
    let hubspot = HubSpot::new(&server.uri(), quick_config()).unwrap();
    let batch = hubspot.upsert_companies(&token(), vec![record(1, "a"), record(2, "b")]).await.unwrap();
    assert_eq!(batch.results.len(), 1);
    assert_eq!(batch.failures.len(), 1);
    assert_eq!(batch.failures[0].lead_id, Some(lead(2)));
    assert!(batch.failures[0].message.contains("Property values were not valid"), "{:?}", batch.failures);
}

#[tokio::test(flavor = "current_thread")]
async fn rate_limits_locks_and_refused_tokens_are_told_apart() {
    let (logs, _guard) = capture_logs();
    let cases: [(u16, Value); 4] = [
        (
            429,
            json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}),
        ),
        (
            429,
            json!({"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT", "policyName": "DAILY"}),
        ),
        (423, json!({"status": "error", "message": "Record locked", "category": "LOCKED"})),
        (
            401,
            json!({"status": "error", "message": format!("Authentication credentials not found. {TOKEN}"), "category": "INVALID_AUTHENTICATION"}),
        ),
    ];
    for (status, body) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status).insert_header("X-HubSpot-RateLimit-Max", "190").set_body_json(body),
            )
            .mount(&server)
            .await;
        let hubspot = HubSpot::new(&server.uri(), quick_config()).unwrap();
        let err = hubspot.upsert_companies(&token(), vec![record(1, "a")]).await.unwrap_err();
        match (status, &err) {
            (429, CrmError::RateLimited { daily, .. }) => {
                assert_eq!(*daily, err.to_string().contains("daily"), "{err}")
            }
            (423, CrmError::Locked(_)) | (401, CrmError::Unauthorized(_)) => {}
            _ => panic!("{status}: {err:?}"),
        }
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert_eq!(requests(&server).await, 1, "the job decides about retries");
    }
    assert!(!logs.contents().contains(TOKEN));
}

#[tokio::test(flavor = "current_thread")]
async fn preparing_creates_the_unique_leadzone_id_property_when_missing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/companies/leadzone_id"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"status": "error", "message": "Unable to find property", "category": "OBJECT_NOT_FOUND"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/properties/companies"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"name": "leadzone_id"})))
        .mount(&server)
        .await;
    HubSpot::new(&server.uri(), quick_config()).unwrap().prepare(&token()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let created: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!((created["name"].as_str(), created["hasUniqueValue"].as_bool()), (Some("leadzone_id"), Some(true)));
}
