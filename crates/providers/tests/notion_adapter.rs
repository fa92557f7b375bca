//! The Notion adapter against a local fake speaking Notion's API (version 2025-09-03): a data
//! source's writable properties, the page bodies with typed property values, the error objects
//! (a gone page, rate limits, a refused token), and the token kept out of logs and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmError, CrmRecord, NotionApi, NotionKind, NotionSchema};
use leadzone_providers::Notion;
use serde_json::{Value, json};
use std::time::Duration;
use support::{ExactHeader, bearer, capture_logs, lead, quick_config, requests};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ntn_4242very-secret-notion-integration-token";
const DATA_SOURCE: &str = "248104cd-477e-80af-bc30-000bd28de8f9";
const PAGE: &str = "59833787-2cf9-4fdf-8782-e53db20768a5";

fn token() -> ApiKey {
    ApiKey::new(TOKEN)
}

fn schema() -> NotionSchema {
    [
        ("Name".to_owned(), NotionKind::Title),
        ("City".to_owned(), NotionKind::RichText),
        ("Phone".to_owned(), NotionKind::PhoneNumber),
        ("Email".to_owned(), NotionKind::Email),
        ("Website".to_owned(), NotionKind::Url),
        ("Industry".to_owned(), NotionKind::Select),
        ("Status".to_owned(), NotionKind::Status),
    ]
    .into()
}

fn record() -> CrmRecord {
    CrmRecord {
        lead_id: lead(1),
        properties: [
            ("Name", "مؤسسة النور"),
            ("City", "الرياض"),
            ("Phone", "+966501234567"),
            ("Email", "info@alnoor.sa"),
            ("Website", "https://alnoor.sa"),
            ("Industry", "Restaurants, Cafes"),
            ("Status", "New"),
            ("Leadzone ID", "not in the data source"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    }
}

fn notion(server: &MockServer) -> Notion {
    Notion::new(&server.uri(), quick_config()).unwrap()
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"object": "error", "status": status, "code": code, "message": message}))
}

/// The properties every test expects for `record()` under `schema()`, in Notion's shapes.
const PROPERTIES: &str = concat!(
    r#""properties":{"City":{"rich_text":[{"type":"text","text":{"content":"الرياض"}}]},"#,
    r#""Email":{"email":"info@alnoor.sa"},"Industry":{"select":{"name":"Restaurants Cafes"}},"#,
    r#""Name":{"title":[{"type":"text","text":{"content":"مؤسسة النور"}}]},"Phone":{"phone_number":"+966501234567"},"#,
    r#""Status":{"status":{"name":"New"}},"Website":{"url":"https://alnoor.sa"}}"#
);

#[tokio::test(flavor = "current_thread")]
async fn a_data_sources_writable_properties_are_its_schema() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/data_sources/{DATA_SOURCE}")))
        .and(bearer(TOKEN))
        .and(ExactHeader("notion-version", "2025-09-03".to_owned()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "data_source",
            "id": DATA_SOURCE,
            "title": [{"type": "text", "text": {"content": "Leads"}, "plain_text": "Leads"}],
            "properties": {
                "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
                "Phone": {"id": "a%3Ab", "name": "Phone", "type": "phone_number", "phone_number": {}},
                "Industry": {"id": "c%3Ad", "name": "Industry", "type": "select", "select": {"options": []}},
                "Score": {"id": "e%3Af", "name": "Score", "type": "formula", "formula": {"expression": "1"}},
                "Owner": {"id": "g%3Ah", "name": "Owner", "type": "people", "people": {}}
            }
        })))
        .mount(&server)
        .await;
    // The id may come without its dashes, as Notion's share links write it.
    let schema = notion(&server).data_source(&token(), &DATA_SOURCE.replace('-', "")).await.unwrap();
    assert_eq!(
        schema,
        [
            ("Industry".to_owned(), NotionKind::Select),
            ("Name".to_owned(), NotionKind::Title),
            ("Phone".to_owned(), NotionKind::PhoneNumber)
        ]
        .into()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_id_that_is_not_a_uuid_is_refused_without_a_call() {
    let server = MockServer::start().await;
    let notion = notion(&server);
    let err = notion.data_source(&token(), "../users/me").await.unwrap_err();
    assert!(matches!(err, CrmError::Rejected(_)), "{err:?}");
    let err = notion.update_page(&token(), "x?archived=true", &schema(), &record()).await.unwrap_err();
    assert!(matches!(err, CrmError::Rejected(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_page_is_created_in_the_data_source_with_typed_properties_only_the_schema_has() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/pages"))
        .and(bearer(TOKEN))
        .and(ExactHeader("notion-version", "2025-09-03".to_owned()))
        .and(ExactHeader("content-type", "application/json".to_owned()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "page", "id": PAGE, "parent": {"type": "data_source_id", "data_source_id": DATA_SOURCE},
            "archived": false, "in_trash": false, "properties": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let id = notion(&server).create_page(&token(), DATA_SOURCE, &schema(), &record()).await.unwrap();
    assert_eq!(id, PAGE);
    let body = String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert_eq!(
        body,
        format!(r#"{{"parent":{{"type":"data_source_id","data_source_id":"{DATA_SOURCE}"}},{PROPERTIES}}}"#)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_page_is_updated_with_patch_and_long_text_is_cut_to_notions_limit() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .and(ExactHeader("notion-version", "2025-09-03".to_owned()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "page", "id": PAGE})))
        .mount(&server)
        .await;
    notion(&server).update_page(&token(), PAGE, &schema(), &record()).await.unwrap();
    let mut long = record();
    long.properties = [("City".to_owned(), "ن".repeat(2500))].into();
    notion(&server).update_page(&token(), PAGE, &schema(), &long).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(String::from_utf8(requests[0].body.clone()).unwrap(), format!("{{{PROPERTIES}}}"));
    let cut: Value = serde_json::from_slice(&requests[1].body).unwrap();
    let content = cut["properties"]["City"]["rich_text"][0]["text"]["content"].as_str().unwrap();
    assert_eq!(content.chars().count(), 2000);
}

#[tokio::test(flavor = "current_thread")]
async fn a_gone_page_is_not_found_and_other_errors_keep_their_kind() {
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .respond_with(error(
            404,
            "object_not_found",
            &format!("Could not find page with ID: {PAGE}. Make sure the relevant pages and databases are shared with your integration."),
        ))
        .mount(&server)
        .await;
    let err = notion(&server).update_page(&token(), PAGE, &schema(), &record()).await.unwrap_err();
    assert!(matches!(&err, CrmError::NotFound(m) if m.contains("(object_not_found)")), "{err:?}");

    // An archived page refuses edits with a validation error: gone as well.
    let archived = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(error(
            400,
            "validation_error",
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ))
        .mount(&archived)
        .await;
    let err = notion(&archived).update_page(&token(), PAGE, &schema(), &record()).await.unwrap_err();
    assert!(matches!(err, CrmError::NotFound(_)), "{err:?}");

    let cases = [
        (
            error(429, "rate_limited", "You have been rated limited. Please try again in a few minutes.")
                .insert_header("Retry-After", "2"),
            "rate_limited",
        ),
        (error(401, "unauthorized", &format!("API token is invalid: {TOKEN}")), "unauthorized"),
        (error(403, "restricted_resource", "Insufficient permissions for this endpoint."), "restricted_resource"),
        (error(404, "object_not_found", "Could not find data_source with ID: x."), "object_not_found"),
        (error(409, "conflict_error", "Conflict occurred while saving. Please try again."), "conflict_error"),
        (
            error(400, "validation_error", "body failed validation: body.properties.Email.email should be a string."),
            "validation_error",
        ),
        (error(503, "service_unavailable", "Notion is unavailable."), "service_unavailable"),
    ];
    for (answer, code) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(answer).mount(&server).await;
        let err = notion(&server).create_page(&token(), DATA_SOURCE, &schema(), &record()).await.unwrap_err();
        match (code, &err) {
            ("rate_limited", CrmError::RateLimited { daily: false, retry_after, .. }) => {
                assert_eq!(*retry_after, Some(Duration::from_secs(2)));
            }
            ("unauthorized" | "restricted_resource", CrmError::Unauthorized(_))
            | ("conflict_error", CrmError::Locked(_))
            | ("validation_error", CrmError::Rejected(_))
            | ("service_unavailable", CrmError::Unavailable(_)) => {}
            ("object_not_found", CrmError::Rejected(m)) => assert!(m.contains("share the data source"), "{m}"),
            _ => panic!("{code}: {err:?}"),
        }
        assert!(err.to_string().contains(&format!("({code})")), "{err}");
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert_eq!(requests(&server).await, 1, "the job decides about retries");
    }
    assert!(logs.contents().contains("Notion"), "the calls are logged");
    assert!(!logs.contents().contains(TOKEN));
}
