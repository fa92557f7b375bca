//! The WhatsApp Cloud API adapter against a local fake Graph API speaking Meta's documented wire
//! format: payloads, the bearer token (sent, never logged), and every error code that decides an
//! action.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::ApiKey;
use leadzone_ports::whatsapp::{Outgoing, OutgoingMessage, TemplateSubmission, WhatsAppApi, WhatsAppError};
use leadzone_providers::GraphWhatsApp;
use serde_json::{Value, json};
use support::{answering, bearer, capture_logs, quick_config, requests};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "EAAGtest-very-secret-token";
const PHONE_ID: &str = "106540352242922";
const WABA: &str = "102290129340398";

fn token() -> ApiKey {
    ApiKey::new(TOKEN)
}

fn adapter(server: &MockServer) -> GraphWhatsApp {
    GraphWhatsApp::new(&format!("{}/v21.0", server.uri()), quick_config()).unwrap()
}

/// Meta's error body.
fn graph_error(code: i64, message: &str, details: &str) -> Value {
    json!({"error": {
        "message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AbCdEf123"
    }})
}

fn template_message() -> OutgoingMessage {
    OutgoingMessage {
        to: "966501234567".into(),
        content: Outgoing::Template {
            name: "welcome_0000abcd".into(),
            language: "ar".into(),
            parameters: vec![("name".into(), "مؤسسة النور".into()), ("city".into(), "الرياض".into())],
        },
        callback_data: "0191c3a0-0000-7000-8000-000000000001".into(),
    }
}

fn accepted(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "966501234567", "wa_id": "966501234567"}],
        "messages": [{"id": id}]
    }))
}

#[tokio::test(flavor = "current_thread")]
async fn a_template_send_is_metas_documented_payload_with_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_ID}/messages")))
        .and(bearer(TOKEN))
        .respond_with(accepted("wamid.HBgLOTY2NTAxMjM0NTY3FQIAERgSQTA"))
        .expect(1)
        .mount(&server)
        .await;
    let id = adapter(&server).send(&token(), PHONE_ID, &template_message()).await.unwrap();
    assert_eq!(id, "wamid.HBgLOTY2NTAxMjM0NTY3FQIAERgSQTA");
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.headers.get("content-type").unwrap(), "application/json");
    // Meta's documented template message with named parameters, byte for byte (plus our
    // callback data, which Meta echoes in the status webhooks).
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        concat!(
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"966501234567","type":"template","#,
            r#""template":{"name":"welcome_0000abcd","language":{"code":"ar"},"components":[{"type":"body","parameters":["#,
            r#"{"type":"text","parameter_name":"name","text":"مؤسسة النور"},"#,
            r#"{"type":"text","parameter_name":"city","text":"الرياض"}]}]},"#,
            r#""biz_opaque_callback_data":"0191c3a0-0000-7000-8000-000000000001"}"#
        )
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_text_send_is_metas_documented_payload() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_ID}/messages")))
        .respond_with(accepted("wamid.T"))
        .mount(&server)
        .await;
    let message = OutgoingMessage {
        content: Outgoing::Text { body: "أهلًا، نعم متاح".into() }, ..template_message()
    };
    assert_eq!(adapter(&server).send(&token(), PHONE_ID, &message).await.unwrap(), "wamid.T");
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        concat!(
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"966501234567","type":"text","#,
            r#""text":{"preview_url":false,"body":"أهلًا، نعم متاح"},"#,
            r#""biz_opaque_callback_data":"0191c3a0-0000-7000-8000-000000000001"}"#
        )
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_template_submission_is_named_with_examples() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{WABA}/message_templates")))
        .and(bearer(TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "594425479261596", "status": "PENDING", "category": "MARKETING"})),
        )
        .mount(&server)
        .await;
    let submission = TemplateSubmission {
        name: "welcome_0000abcd".into(),
        language: "ar".into(),
        category: "MARKETING".into(),
        body: "مرحبا {{name}} في {{city}}".into(),
        examples: vec![("name".into(), "Al Noor Trading".into()), ("city".into(), "Riyadh".into())],
    };
    let submitted = adapter(&server).submit_template(&token(), WABA, &submission).await.unwrap();
    assert_eq!((submitted.id.as_str(), submitted.status.as_deref()), ("594425479261596", Some("PENDING")));
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        concat!(
            r#"{"name":"welcome_0000abcd","language":"ar","category":"MARKETING","parameter_format":"NAMED","#,
            r#""components":[{"type":"BODY","text":"مرحبا {{name}} في {{city}}","#,
            r#""example":{"body_text_named_params":[{"param_name":"name","example":"Al Noor Trading"},"#,
            r#"{"param_name":"city","example":"Riyadh"}]}}]}"#
        )
    );
}

#[tokio::test(flavor = "current_thread")]
async fn templates_are_read_page_by_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{WABA}/message_templates")))
        .and(query_param("after", "CURSOR2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "3", "name": "c", "language": "en", "status": "PAUSED"}],
            "paging": {"cursors": {"before": "x", "after": "CURSOR3"}}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{WABA}/message_templates")))
        .and(bearer(TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "1", "name": "a", "language": "ar", "status": "APPROVED", "rejected_reason": "NONE"},
                {"id": "2", "name": "b", "language": "ar", "status": "REJECTED", "rejected_reason": "INVALID_FORMAT"}
            ],
            "paging": {"cursors": {"before": "x", "after": "CURSOR2"}, "next": "https://graph.facebook.com/next"}
        })))
        .mount(&server)
        .await;
    let templates = adapter(&server).templates(&token(), WABA).await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> =
        templates.iter().map(|t| (t.id.as_str(), t.status.as_str(), t.rejected_reason.as_deref())).collect();
    // The last page has no `next`: reading stops there.
    assert_eq!(seen, vec![("1", "APPROVED", None), ("2", "REJECTED", Some("INVALID_FORMAT")), ("3", "PAUSED", None)]);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_number_check_reads_display_phone_and_quality() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PHONE_ID}")))
        .and(bearer(TOKEN))
        .and(query_param("fields", "display_phone_number,verified_name,quality_rating,messaging_limit_tier"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "display_phone_number": "+966 11 234 5678", "verified_name": "Al Noor", "quality_rating": "GREEN",
            "messaging_limit_tier": "TIER_2K", "id": PHONE_ID
        })))
        .mount(&server)
        .await;
    let info = adapter(&server).check_number(&token(), PHONE_ID).await.unwrap();
    assert_eq!(info.display_phone_number, "+966 11 234 5678");
    assert_eq!(info.quality_rating.as_deref(), Some("GREEN"));
    assert_eq!(info.messaging_limit_tier.as_deref(), Some("TIER_2K"));
}

/// Each code that decides an action, as Meta sends it, becomes its kind; and a send is never
/// retried by the adapter (the caller decides what a throttled or unknown send means).
#[tokio::test(flavor = "current_thread")]
async fn each_listed_error_code_leads_to_its_action() {
    type Expect = fn(&WhatsAppError) -> bool;
    let cases: [(u16, i64, Expect); 9] = [
        (400, 130_429, |e| matches!(e, WhatsAppError::Throttled { code: Some(130_429), .. })),
        (400, 131_048, |e| matches!(e, WhatsAppError::Throttled { code: Some(131_048), .. })),
        (400, 131_056, |e| matches!(e, WhatsAppError::Throttled { code: Some(131_056), .. })),
        (400, 131_026, |e| matches!(e, WhatsAppError::Undeliverable { code: Some(131_026), .. })),
        (400, 131_047, |e| matches!(e, WhatsAppError::Undeliverable { code: Some(131_047), .. })),
        (400, 131_050, |e| matches!(e, WhatsAppError::OptedOut { .. })),
        (404, 132_001, |e| matches!(e, WhatsAppError::TemplateUnavailable { code: 132_001, .. })),
        (400, 132_015, |e| matches!(e, WhatsAppError::TemplateUnavailable { code: 132_015, .. })),
        (400, 132_016, |e| matches!(e, WhatsAppError::TemplateUnavailable { code: 132_016, .. })),
    ];
    for (status, code, is_expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(graph_error(code, "(#x) Something", "why")))
            .mount(&server)
            .await;
        let err = adapter(&server).send(&token(), PHONE_ID, &template_message()).await.unwrap_err();
        assert!(is_expected(&err), "{code}: {err:?}");
        assert!(err.to_string().contains(&format!("code {code}")), "{err}");
        assert_eq!(requests(&server).await, 1, "{code}: a send is never retried here");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_and_a_5xx_on_a_send_are_not_retried_but_a_read_is() {
    let server = answering("POST", ResponseTemplate::new(503).set_body_string("down")).await;
    let err = adapter(&server).send(&token(), PHONE_ID, &template_message()).await.unwrap_err();
    assert!(matches!(err, WhatsAppError::Unavailable(_)), "{err:?}");
    assert_eq!(requests(&server).await, 1);

    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"display_phone_number": "+966 50"})))
        .mount(&server)
        .await;
    assert_eq!(adapter(&server).check_number(&token(), PHONE_ID).await.unwrap().display_phone_number, "+966 50");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_token_is_unauthorized_and_the_token_is_never_logged_or_echoed() {
    let (logs, _guard) = capture_logs();
    let server = answering(
        "GET",
        ResponseTemplate::new(401).set_body_json(graph_error(
            190,
            &format!("Error validating access token: The session is invalid {TOKEN}"),
            "",
        )),
    )
    .await;
    let err = adapter(&server).check_number(&token(), PHONE_ID).await.unwrap_err();
    assert!(matches!(err, WhatsAppError::Unauthorized { code: Some(190), .. }), "{err:?}");
    assert!(err.to_string().contains("Error validating access token"), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    let logged = logs.contents();
    assert!(logged.contains("WhatsApp"), "the call is logged: {logged}");
    assert!(!logged.contains(TOKEN), "{logged}");
    assert!(!logged.contains("EAAGtest"), "{logged}");
}

#[tokio::test(flavor = "current_thread")]
async fn ids_from_a_tenants_config_cannot_steer_the_request() {
    let server = MockServer::start().await;
    let a = adapter(&server);
    for bad in ["../me", "123/messages?x=", "", "12 34"] {
        let err = a.check_number(&token(), bad).await.unwrap_err();
        assert!(matches!(err, WhatsAppError::Rejected { .. }), "{bad}: {err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
