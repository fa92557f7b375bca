//! The Hunter adapter against a local fake speaking the documented wire format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::{ApiKey, Contact, ContactsProvider, ProviderError};
use leadzone_providers::{Hunter, OutboundConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{answering, capture_logs, quick_config, requests};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "hunter-TESTKEY-very-secret";

fn key() -> ApiKey {
    ApiKey::new(KEY)
}

fn adapter(server: &MockServer) -> Hunter {
    Hunter::new(&server.uri(), quick_config()).unwrap()
}

/// Hunter's error answer: HTTP `code` with one error of that code in the body.
fn hunter_errors(id: &str, code: u16, details: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({ "errors": [{ "id": id, "code": code, "details": details }] }))
}

fn realistic_answer() -> Value {
    json!({
        "data": {
            "domain": "albaitalshami.com.sa",
            "disposable": false,
            "webmail": false,
            "accept_all": false,
            "pattern": "{first}.{last}",
            "organization": "Al Bait Al Shami",
            "country": "SA",
            "emails": [
                {
                    "value": "ahmed.alqahtani@albaitalshami.com.sa",
                    "type": "personal",
                    "confidence": 94,
                    "first_name": "Ahmed",
                    "last_name": "Al-Qahtani",
                    "position": "General Manager",
                    "seniority": "executive",
                    "department": "management",
                    "linkedin": null,
                    "twitter": null,
                    "phone_number": "+966501234567",
                    "verification": { "date": "2026-09-14", "status": "valid" },
                    "sources": [
                        {
                            "domain": "albaitalshami.com.sa",
                            "uri": "http://albaitalshami.com.sa/about",
                            "extracted_on": "2025-03-02",
                            "last_seen_on": "2026-10-01",
                            "still_on_page": true
                        },
                        {
                            "domain": "riyadh-chamber.sa",
                            "uri": "http://riyadh-chamber.sa/members/albait",
                            "extracted_on": "2024-11-20",
                            "last_seen_on": "2026-08-12",
                            "still_on_page": true
                        }
                    ]
                },
                {
                    "value": "info@albaitalshami.com.sa",
                    "type": "generic",
                    "confidence": 88,
                    "first_name": null,
                    "last_name": null,
                    "position": null,
                    "seniority": null,
                    "department": null,
                    "linkedin": null,
                    "twitter": null,
                    "phone_number": null,
                    "verification": { "date": null, "status": null },
                    "sources": [
                        {
                            "domain": "albaitalshami.com.sa",
                            "uri": "http://albaitalshami.com.sa/contact",
                            "extracted_on": "2025-03-02",
                            "last_seen_on": "2026-10-01",
                            "still_on_page": true
                        }
                    ]
                }
            ],
            "linked_domains": []
        },
        "meta": { "results": 2, "limit": 10, "offset": 0, "params": { "domain": "albaitalshami.com.sa" } }
    })
}

#[tokio::test]
async fn sends_domain_and_key_and_maps_the_emails_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/domain-search"))
        .and(query_param("domain", "albaitalshami.com.sa"))
        .and(query_param("api_key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(realistic_answer()))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server).domain_search(&key(), "albaitalshami.com.sa").await.unwrap();
    assert_eq!(
        contacts,
        vec![
            Contact {
                email: "ahmed.alqahtani@albaitalshami.com.sa".into(),
                first_name: Some("Ahmed".into()),
                last_name: Some("Al-Qahtani".into()),
                position: Some("General Manager".into()),
                phone: Some("+966501234567".into()),
                confidence: 94,
                sources: vec![
                    "http://albaitalshami.com.sa/about".into(),
                    "http://riyadh-chamber.sa/members/albait".into(),
                ],
            },
            Contact {
                email: "info@albaitalshami.com.sa".into(),
                first_name: None,
                last_name: None,
                position: None,
                phone: None,
                confidence: 88,
                sources: vec!["http://albaitalshami.com.sa/contact".into()],
            },
        ]
    );
    let request = &server.received_requests().await.unwrap()[0];
    let pairs: Vec<(String, String)> =
        request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(pairs, vec![("domain".into(), "albaitalshami.com.sa".into()), ("api_key".into(), KEY.into())]);
}

#[tokio::test]
async fn values_are_query_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("domain", "a.sa"))
        .and(query_param("api_key", "k&domain=evil.sa #x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": { "emails": [] }, "meta": {} })))
        .expect(1)
        .mount(&server)
        .await;

    let contacts = adapter(&server).domain_search(&ApiKey::new("k&domain=evil.sa #x"), "a.sa").await.unwrap();
    assert!(contacts.is_empty());
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.url.query_pairs().filter(|(k, _)| k == "domain").count(), 1);
}

#[tokio::test]
async fn a_401_is_unauthorized_with_hunters_details() {
    let server =
        answering("GET", hunter_errors("authentication_failed", 401, "No user found for the API key supplied")).await;

    let err = adapter(&server).domain_search(&key(), "a.sa").await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unauthorized("Hunter refused the API key: No user found for the API key supplied".into())
    );
    assert_eq!(requests(&server).await, 1, "a refused key is not retried");
}

#[tokio::test]
async fn a_400_is_rejected_with_hunters_details() {
    let server = answering("GET", hunter_errors("invalid_domain", 400, "You sent an invalid domain name")).await;

    let err = adapter(&server).domain_search(&key(), "not a domain").await.unwrap_err();
    assert_eq!(err, ProviderError::Rejected("Hunter refused the search: You sent an invalid domain name".into()));
}

#[tokio::test]
async fn a_429_then_200_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(hunter_errors("too_many_requests", 429, "You have reached your usage limit"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(realistic_answer()))
        .mount(&server)
        .await;

    let contacts = adapter(&server).domain_search(&key(), "albaitalshami.com.sa").await.unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited() {
    let server = answering(
        "GET",
        hunter_errors("too_many_requests", 429, "You have reached your usage limit").insert_header("Retry-After", "5"),
    )
    .await;

    let err = adapter(&server).domain_search(&key(), "a.sa").await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            message: "Hunter is rate limiting this key or its quota is used up: You have reached your usage limit"
                .into(),
            retry_after: Some(Duration::from_secs(5)),
        }
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn a_5xx_is_retried_then_unavailable() {
    let server = answering("GET", ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")).await;

    let err = adapter(&server).domain_search(&key(), "a.sa").await.unwrap_err();
    assert_eq!(err, ProviderError::Unavailable("Hunter is unavailable (HTTP 502)".into()));
    assert_eq!(requests(&server).await, 3, "one request and two retries");
}

#[tokio::test]
async fn a_5xx_then_200_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).up_to_n_times(2).mount(&server).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(realistic_answer()))
        .mount(&server)
        .await;

    assert_eq!(adapter(&server).domain_search(&key(), "a.sa").await.unwrap().len(), 2);
    assert_eq!(requests(&server).await, 3);
}

fn closed_port_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "current_thread")]
async fn the_key_never_appears_in_logs_or_errors() {
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("domain", "ok.sa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(realistic_answer()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("domain", "refused.sa"))
        .respond_with(hunter_errors(
            "authentication_failed",
            401,
            // Were Hunter ever to echo the key, it must not come through.
            &format!("No user found for the API key {KEY}"),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("domain", "down.sa"))
        .respond_with(hunter_errors("internal", 500, "Something went wrong"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("domain", "slow.sa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(realistic_answer()).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;

    let config = OutboundConfig { timeout: Duration::from_millis(300), ..quick_config() };
    let hunter = Hunter::new(&server.uri(), config.clone()).unwrap();
    assert_eq!(hunter.domain_search(&key(), "ok.sa").await.unwrap().len(), 2);

    let mut errors = Vec::new();
    for domain in ["refused.sa", "down.sa", "slow.sa"] {
        errors.push(hunter.domain_search(&key(), domain).await.unwrap_err());
    }
    let started = Instant::now();
    let unreachable = Hunter::new(&closed_port_base(), config).unwrap();
    errors.push(unreachable.domain_search(&key(), "ok.sa").await.unwrap_err());
    assert!(started.elapsed() < Duration::from_secs(2));

    assert!(matches!(&errors[0], ProviderError::Unauthorized(m) if m.contains("No user found")), "{:?}", errors[0]);
    assert!(
        matches!(&errors[1], ProviderError::Unavailable(m) if m.contains("Something went wrong")),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(&errors[2], ProviderError::Unavailable(m) if m.contains("did not answer within 300 ms")),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(&errors[3], ProviderError::Unavailable(m) if m.starts_with("Hunter could not be reached")),
        "{:?}",
        errors[3]
    );

    for err in &errors {
        for text in [format!("{err:?}"), err.to_string()] {
            assert!(!text.contains(KEY), "{text}");
            assert!(!text.contains("very-secret"), "{text}");
            assert!(!text.contains("api_key="), "a URL came through: {text}");
        }
    }
    assert!(!format!("{hunter:?}").contains(KEY));

    let logged = logs.contents();
    assert!(logged.contains("Hunter") && logged.contains("/v2/domain-search"), "nothing logged: {logged}");
    assert!(logged.contains("status=401") && logged.contains("could not be reached"), "{logged}");
    assert!(!logged.contains(KEY), "the key was logged:\n{logged}");
    assert!(!logged.contains("very-secret"), "part of the key was logged:\n{logged}");
}
