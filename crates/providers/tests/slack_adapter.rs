//! The Slack incoming-webhook adapter against a local fake answering as Slack does (plain-text
//! codes): the message body, the codes saying the webhook is gone, rate limits and outages, the
//! SSRF guard, and the webhook URL — the credential — kept out of logs and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::ApiKey;
use leadzone_ports::slack::{SlackApi, SlackError};
use leadzone_providers::{FetchPolicy, SlackWebhook};
use serde_json::json;
use std::time::Duration;
use support::{ExactHeader, capture_logs, requests};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "XXXXsecretXXXX";
const HOOK_PATH: &str = "/services/T000/B000/XXXXsecretXXXX";

fn webhook(server: &MockServer) -> ApiKey {
    ApiKey::new(format!("{}{HOOK_PATH}", server.uri()))
}

/// The adapter for a local fake: private addresses and plain http allowed.
fn slack() -> SlackWebhook {
    SlackWebhook::new(FetchPolicy::new(true)).unwrap()
}

async fn fake_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(HOOK_PATH)).respond_with(answer).mount(&server).await;
    server
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET) && !text.contains("/services/T000"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_is_posted_as_json_text_and_arabic_survives() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(ExactHeader("content-type", "application/json".to_owned()))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(2)
        .mount(&server)
        .await;
    let slack = slack();
    slack.check(&webhook(&server)).await.unwrap();
    slack.post(&webhook(&server), "عميل جديد: مؤسسة النور — الرياض", None).await.unwrap();
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*New lead*"}}]);
    slack.post(&webhook(&server), "New lead", Some(blocks)).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(String::from_utf8(requests[0].body.clone()).unwrap(), r#"{"text":"عميل جديد: مؤسسة النور — الرياض"}"#);
    let with_blocks: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(with_blocks["text"], "New lead");
    assert_eq!(with_blocks["blocks"][0]["text"]["text"], "*New lead*");
}

#[tokio::test(flavor = "current_thread")]
async fn slacks_answers_map_to_gone_rejected_rate_limited_and_unavailable_without_the_url() {
    let (logs, _guard) = capture_logs();
    let cases = [
        (ResponseTemplate::new(404).set_body_string("no_service"), SlackError::Gone("Slack: no_service".into())),
        (
            ResponseTemplate::new(410).set_body_string("no_active_hooks"),
            SlackError::Gone("Slack: no_active_hooks".into()),
        ),
        (
            ResponseTemplate::new(404).set_body_string("channel_not_found"),
            SlackError::Gone("Slack: channel_not_found".into()),
        ),
        (
            ResponseTemplate::new(403).set_body_string("action_prohibited"),
            SlackError::Gone("Slack: action_prohibited".into()),
        ),
        (
            ResponseTemplate::new(400).set_body_string("invalid_payload"),
            SlackError::Rejected("Slack: invalid_payload".into()),
        ),
        (ResponseTemplate::new(400).set_body_string("no_text"), SlackError::Rejected("Slack: no_text".into())),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "3").set_body_string("rate_limited"),
            SlackError::RateLimited { retry_after: Some(Duration::from_secs(3)) },
        ),
        (
            ResponseTemplate::new(500).set_body_string(format!("<html>error at {HOOK_PATH}</html>")),
            SlackError::Unavailable("Slack answered HTTP 500".into()),
        ),
    ];
    for (answer, expected) in cases {
        let server = fake_answering(answer).await;
        let err = slack().post(&webhook(&server), "hello", None).await.unwrap_err();
        assert_eq!(err, expected);
        assert_no_secret(&err.to_string());
        assert_eq!(requests(&server).await, 1, "the caller decides about retries");
    }

    // Nobody listening: unavailable, and still no URL in the error. (A dropped wiremock server
    // goes back to its pool still listening, so a port is borrowed from the OS and given back.)
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gone = ApiKey::new(format!("http://127.0.0.1:{port}{HOOK_PATH}"));
    let err = slack().post(&gone, "hello", None).await.unwrap_err();
    assert!(matches!(err, SlackError::Unavailable(_)), "{err:?}");
    assert_no_secret(&err.to_string());

    let logs = logs.contents();
    assert!(logs.contains("slack webhook"), "the calls are logged: {logs}");
    assert_no_secret(&logs);
}

#[tokio::test(flavor = "current_thread")]
async fn the_strict_guard_refuses_internal_webhooks_before_any_request() {
    let (logs, _guard) = capture_logs();
    let server = fake_answering(ResponseTemplate::new(200).set_body_string("ok")).await;
    let strict = SlackWebhook::new(FetchPolicy::strict()).unwrap();
    let port = server.address().port();

    // Plain http is refused outright; https to the loopback address by the guard.
    for url in [format!("http://127.0.0.1:{port}{HOOK_PATH}"), format!("https://127.0.0.1:{port}{HOOK_PATH}")] {
        let url = ApiKey::new(url);
        let reason = strict.check(&url).await.unwrap_err();
        assert_no_secret(&reason);
        let err = strict.post(&url, "hello", None).await.unwrap_err();
        assert!(matches!(&err, SlackError::Rejected(_)), "{err:?}");
        assert_eq!(err.to_string(), reason);
    }
    // A name resolving to the loopback address is refused when it is resolved, in `check` and
    // by the client itself in `post`.
    let local = ApiKey::new(format!("https://localhost{HOOK_PATH}"));
    let expected = "refused: localhost resolves to 127.0.0.1, a loopback address";
    assert_eq!(strict.check(&local).await.unwrap_err(), expected);
    assert_eq!(strict.post(&local, "hello", None).await.unwrap_err(), SlackError::Rejected(expected.into()));
    // Not a URL at all: the reason does not repeat it.
    let reason = strict.check(&ApiKey::new(format!("hooks.slack.com{HOOK_PATH}"))).await.unwrap_err();
    assert_no_secret(&reason);

    assert!(server.received_requests().await.unwrap().is_empty());
    assert_no_secret(&logs.contents());
}
