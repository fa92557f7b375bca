//! The Google Places adapter against a local fake speaking the documented wire format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::{ApiKey, Place, PlaceQuery, PlacesProvider, ProviderError};
use leadzone_providers::places::{CHECK_KEY_FIELD_MASK, SEARCH_FIELD_MASK};
use leadzone_providers::{GooglePlaces, OutboundConfig, search_all};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{ExactHeader, answering, capture_logs, quick_config, requests};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "AIzaSyTESTKEY-very-secret";
const MASK: &str = "places.id,places.displayName,places.internationalPhoneNumber,places.websiteUri,places.primaryTypeDisplayName,places.types,places.addressComponents,places.googleMapsUri,places.rating,places.userRatingCount,nextPageToken";

fn key() -> ApiKey {
    ApiKey::new(KEY)
}

fn query() -> PlaceQuery {
    PlaceQuery { text: "مطاعم في الرياض".into(), language: "ar".into(), page_size: 20 }
}

fn adapter(server: &MockServer) -> GooglePlaces {
    adapter_with(server, quick_config())
}

fn adapter_with(server: &MockServer, config: OutboundConfig) -> GooglePlaces {
    GooglePlaces::new(&server.uri(), config).unwrap()
}

/// Google's error answer: HTTP `code` with the same code, `status` and `message` in the body.
fn google_error(code: u16, status: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code)
        .set_body_json(json!({ "error": { "code": code, "message": message, "status": status } }))
}

/// A minimal place as Google sends it.
fn google_place(n: usize) -> Value {
    json!({
        "id": format!("ChIJplace{n:03}"),
        "displayName": { "text": format!("مطعم رقم {n}"), "languageCode": "ar" },
        "types": ["restaurant", "food", "point_of_interest", "establishment"]
    })
}

fn page(from: usize, count: usize, next: Option<&str>) -> Value {
    let places: Vec<Value> = (from..from + count).map(google_place).collect();
    match next {
        Some(token) => json!({ "places": places, "nextPageToken": token }),
        None => json!({ "places": places }),
    }
}

#[test]
fn the_field_mask_constant_is_exactly_the_documented_one() {
    assert_eq!(SEARCH_FIELD_MASK, MASK);
    assert!(!SEARCH_FIELD_MASK.contains(' '));
    assert_eq!(CHECK_KEY_FIELD_MASK, "places.id");
}

#[tokio::test]
async fn sends_the_key_the_field_mask_and_the_search_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .and(ExactHeader("x-goog-api-key", KEY.into()))
        .and(ExactHeader("x-goog-fieldmask", MASK.into()))
        .and(ExactHeader("content-type", "application/json".into()))
        .and(body_json(json!({
            "textQuery": "مطاعم في الرياض",
            "languageCode": "ar",
            "regionCode": "sa",
            "pageSize": 20
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;

    // A page size above Google's limit is sent as 20.
    let mut q = query();
    q.page_size = 50;
    let page = adapter(&server).search_page(&key(), &q, None).await.unwrap();
    assert!(page.places.is_empty(), "an empty {{}} answer is no places");
    assert_eq!(page.next_page_token, None);

    let request = &server.received_requests().await.unwrap()[0];
    let agent = request.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("Leadzone/") && agent.ends_with("(+https://leadzone.sa)"), "{agent}");
}

/// Answers page 1 with `p2`, page 2 with `p3`, page 3 with `p4` — but only when every other
/// parameter is the one of page 1, as Google requires; anything else is INVALID_ARGUMENT.
struct PagingFake {
    text: &'static str,
    language: &'static str,
    page_size: u64,
}

impl Respond for PagingFake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let invalid = || google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.");
        let Ok(body) = request.body_json::<Value>() else { return invalid() };
        let same = body["textQuery"] == self.text
            && body["languageCode"] == self.language
            && body["regionCode"] == "sa"
            && body["pageSize"] == self.page_size
            && body.as_object().is_some_and(|o| o.len() <= 5);
        if !same {
            return invalid();
        }
        let size = usize::try_from(self.page_size).unwrap();
        match body.get("pageToken").map(|t| t.as_str()) {
            None => ResponseTemplate::new(200).set_body_json(page(0, size, Some("p2"))),
            Some(Some("p2")) => ResponseTemplate::new(200).set_body_json(page(size, size, Some("p3"))),
            Some(Some("p3")) => ResponseTemplate::new(200).set_body_json(page(2 * size, size, Some("p4"))),
            _ => invalid(),
        }
    }
}

async fn paging_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .respond_with(PagingFake { text: "مطاعم في الرياض", language: "ar", page_size: 20 })
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn follows_three_pages_with_unchanged_parameters_and_stops_at_sixty() {
    let server = paging_server().await;
    let places = adapter(&server);

    // The SEARCH job's loop: follow the token until 60 results.
    let mut found: Vec<Place> = Vec::new();
    let mut token = None;
    loop {
        let page = places.search_page(&key(), &query(), token).await.unwrap();
        found.extend(page.places);
        if found.len() >= 60 {
            break;
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }

    assert_eq!(found.len(), 60);
    assert_eq!(found[0].place_id, "ChIJplace000");
    assert_eq!(found[59].place_id, "ChIJplace059");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let tokens: Vec<Value> = requests
        .iter()
        .map(|r| r.body_json::<Value>().unwrap().get("pageToken").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(tokens, vec![Value::Null, json!("p2"), json!("p3")]);
}

#[tokio::test]
async fn a_changed_parameter_with_a_page_token_is_refused_by_the_fake() {
    // Guards the fake itself: were the adapter to alter a parameter, the test above would fail.
    let server = paging_server().await;
    let mut other = query();
    other.page_size = 10;
    let err = adapter(&server).search_page(&key(), &other, Some("p2".into())).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected(m) if m.contains("invalid argument") && m.contains("INVALID_ARGUMENT")),
        "{err:?}"
    );
}

#[tokio::test]
async fn search_all_stops_at_max_results() {
    let server = paging_server().await;
    let places = search_all(&adapter(&server), &key(), &query(), 45).await.unwrap();
    assert_eq!(places.len(), 45);
    assert_eq!(places[44].place_id, "ChIJplace044");
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .respond_with(
            google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'SearchTextRequest'.")
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(0, 3, None)))
        .mount(&server)
        .await;

    let mut config = quick_config();
    config.retry.max_wait = Duration::from_secs(10);
    let started = Instant::now();
    let page = adapter_with(&server, config).search_page(&key(), &query(), None).await.unwrap();
    assert_eq!(page.places.len(), 3);
    assert_eq!(requests(&server).await, 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not honoured");
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited_with_the_hint() {
    let server = answering(
        "POST",
        google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.").insert_header("Retry-After", "30"),
    )
    .await;

    // The waits are capped at 50 ms in tests; the hint keeps Google's 30 s.
    let err = adapter(&server).search_page(&key(), &query(), None).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            message: "Google Places is rate limiting this key (RESOURCE_EXHAUSTED): Quota exceeded.".into(),
            retry_after: Some(Duration::from_secs(30)),
        }
    );
    assert_eq!(requests(&server).await, 3, "one request and two retries");
}

#[tokio::test]
async fn a_5xx_is_retried_then_unavailable() {
    let server = answering("POST", google_error(503, "UNAVAILABLE", "The service is currently unavailable.")).await;

    let err = adapter(&server).search_page(&key(), &query(), None).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable(m) if m.contains("503") && m.contains("currently unavailable")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn a_403_fails_with_googles_readable_message() {
    let server =
        answering("POST", google_error(403, "PERMISSION_DENIED", "API key not valid. Please pass a valid API key."))
            .await;

    let err = adapter(&server).search_page(&key(), &query(), None).await.unwrap_err();
    let ProviderError::Unauthorized(message) = &err else { panic!("expected Unauthorized, got {err:?}") };
    assert!(message.starts_with("Google Places refused the API key: "), "{message}");
    assert!(message.contains("API key not valid. Please pass a valid API key."), "{message}");
    assert!(message.contains("PERMISSION_DENIED"), "{message}");
    assert!(!err.is_retryable());
    assert_eq!(requests(&server).await, 1, "a refused key is not retried");
}

#[tokio::test]
async fn check_key_asks_for_ids_only_and_reports_a_refused_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .and(ExactHeader("x-goog-api-key", "good-key".into()))
        .and(ExactHeader("x-goog-fieldmask", "places.id".into()))
        .and(body_json(json!({ "textQuery": "Riyadh", "languageCode": "en", "regionCode": "sa", "pageSize": 1 })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "places": [{ "id": "ChIJx" }] })))
        .mount(&server)
        .await;
    // Google answers an unknown key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    Mock::given(method("POST"))
        .and(ExactHeader("x-goog-api-key", "unknown-key".into()))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": { "service": "places.googleapis.com" }
            }]
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(ExactHeader("x-goog-api-key", "restricted-key".into()))
        .respond_with(google_error(
            403,
            "PERMISSION_DENIED",
            "Places API (New) has not been used in project 123 before or it is disabled.",
        ))
        .mount(&server)
        .await;

    let places = adapter(&server);
    assert_eq!(places.check_key(&ApiKey::new("good-key")).await, Ok(()));
    let unknown = places.check_key(&ApiKey::new("unknown-key")).await.unwrap_err();
    assert!(
        matches!(&unknown, ProviderError::Unauthorized(m) if m.contains("API key not valid") && m.contains("INVALID_ARGUMENT")),
        "{unknown:?}"
    );
    let restricted = places.check_key(&ApiKey::new("restricted-key")).await.unwrap_err();
    assert!(
        matches!(&restricted, ProviderError::Unauthorized(m) if m.contains("has not been used in project 123")),
        "{restricted:?}"
    );
}

#[tokio::test]
async fn an_answer_over_the_size_cap_fails_cleanly() {
    let server = MockServer::start().await;
    let big = page(0, 20, None);
    assert!(serde_json::to_vec(&big).unwrap().len() < 10 * 1024);
    let padded = json!({ "places": big["places"], "padding": "x".repeat(10 * 1024) });
    assert!(serde_json::to_vec(&padded).unwrap().len() >= 10 * 1024);
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(padded)).mount(&server).await;

    let config = OutboundConfig { max_body_bytes: 1024, ..quick_config() };
    let err = adapter_with(&server, config).search_page(&key(), &query(), None).await.unwrap_err();
    assert_eq!(err, ProviderError::Rejected("Google Places sent an answer larger than 1024 bytes".into()));
}

#[tokio::test]
async fn a_chunked_answer_over_the_size_cap_fails_cleanly() {
    // No Content-Length: the cap has to stop the stream itself.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0_u8; 8192];
        let _ = socket.read(&mut buf).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 512, " ".repeat(512));
        for _ in 0..20 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });

    let config = OutboundConfig { max_body_bytes: 1024, ..quick_config() };
    let err = GooglePlaces::new(&base, config).unwrap().search_page(&key(), &query(), None).await.unwrap_err();
    assert_eq!(err, ProviderError::Rejected("Google Places sent an answer larger than 1024 bytes".into()));
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_unavailable() {
    let server =
        answering("POST", ResponseTemplate::new(200).set_body_json(json!({})).set_delay(Duration::from_secs(3))).await;

    let config = OutboundConfig { timeout: Duration::from_millis(300), ..quick_config() };
    let started = Instant::now();
    let err = adapter_with(&server, config).search_page(&key(), &query(), None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(
        matches!(&err, ProviderError::Unavailable(m) if m.starts_with("Google Places did not answer within 300 ms")),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_realistic_answer_maps_to_the_place_fields_exactly() {
    let server = MockServer::start().await;
    let answer = json!({
        "places": [
            {
                "id": "ChIJ7dM3pqwDLz4RkEo8GH3yKU0",
                "types": ["restaurant", "food", "point_of_interest", "establishment"],
                "internationalPhoneNumber": "+966 11 462 1234",
                "addressComponents": [
                    { "longText": "12", "shortText": "12", "types": ["street_number"], "languageCode": "ar" },
                    { "longText": "طريق الملك فهد", "shortText": "طريق الملك فهد", "types": ["route"], "languageCode": "ar" },
                    { "longText": "العليا", "shortText": "العليا", "types": ["sublocality_level_1", "sublocality", "political"], "languageCode": "ar" },
                    { "longText": "الرياض", "shortText": "الرياض", "types": ["locality", "political"], "languageCode": "ar" },
                    { "longText": "منطقة الرياض", "shortText": "منطقة الرياض", "types": ["administrative_area_level_1", "political"], "languageCode": "ar" },
                    { "longText": "السعودية", "shortText": "SA", "types": ["country", "political"], "languageCode": "ar" }
                ],
                "rating": 4.3,
                "googleMapsUri": "https://maps.google.com/?cid=5560434372926966416",
                "websiteUri": "https://albaitalshami.com.sa/",
                "userRatingCount": 812,
                "displayName": { "text": "مطعم البيت الشامي", "languageCode": "ar" },
                "primaryTypeDisplayName": { "text": "مطعم", "languageCode": "ar" }
            },
            {
                "id": "ChIJbare",
                "displayName": { "text": "Bare Minimum", "languageCode": "en" },
                "types": ["cafe", "food"],
                "addressComponents": [
                    { "longText": "Riyadh Province", "types": ["administrative_area_level_1", "political"] }
                ]
            },
            { "displayName": { "text": "No id, skipped" } },
            { "id": "ChIJnoname" }
        ],
        "nextPageToken": "AeCrKXsNext"
    });
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(&server).await;

    let page = adapter(&server).search_page(&key(), &query(), None).await.unwrap();
    assert_eq!(page.next_page_token.as_deref(), Some("AeCrKXsNext"));
    assert_eq!(
        page.places,
        vec![
            Place {
                place_id: "ChIJ7dM3pqwDLz4RkEo8GH3yKU0".into(),
                name: "مطعم البيت الشامي".into(),
                phone: Some("+966 11 462 1234".into()),
                website: Some("https://albaitalshami.com.sa/".into()),
                category: Some("مطعم".into()),
                types: vec!["restaurant".into(), "food".into(), "point_of_interest".into(), "establishment".into()],
                city: Some("الرياض".into()),
                maps_url: Some("https://maps.google.com/?cid=5560434372926966416".into()),
                rating: Some(4.3),
                rating_count: Some(812),
            },
            Place {
                place_id: "ChIJbare".into(),
                name: "Bare Minimum".into(),
                category: Some("cafe".into()),
                types: vec!["cafe".into(), "food".into()],
                city: None,
                ..Place::default()
            },
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_key_never_appears_in_logs_or_errors() {
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_json(json!({ "textQuery": "ok", "languageCode": "en", "regionCode": "sa", "pageSize": 20 })))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(0, 2, None)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_json(json!({ "textQuery": "forbidden", "languageCode": "en", "regionCode": "sa", "pageSize": 20 })))
        .respond_with(google_error(
            403,
            "PERMISSION_DENIED",
            // Were Google ever to echo the key, it must not come through.
            &format!("API key not valid: {KEY}. Please pass a valid API key."),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_json(json!({ "textQuery": "throttled", "languageCode": "en", "regionCode": "sa", "pageSize": 20 })))
        .respond_with(google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded."))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_json(json!({ "textQuery": "slow", "languageCode": "en", "regionCode": "sa", "pageSize": 20 })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;

    let config = OutboundConfig { timeout: Duration::from_millis(300), ..quick_config() };
    let places = adapter_with(&server, config);
    let search = |text: &str| PlaceQuery { text: text.into(), language: "en".into(), page_size: 20 };

    let ok = places.search_page(&key(), &search("ok"), None).await.unwrap();
    assert_eq!(ok.places.len(), 2);
    let mut errors = Vec::new();
    for text in ["forbidden", "throttled", "slow"] {
        errors.push(places.search_page(&key(), &search(text), None).await.unwrap_err());
    }
    errors.push(places.check_key(&key()).await.unwrap_err()); // no mock matches: wiremock's 404
    assert!(matches!(errors[0], ProviderError::Unauthorized(_)), "{:?}", errors[0]);
    assert!(matches!(errors[1], ProviderError::RateLimited { .. }), "{:?}", errors[1]);
    assert!(matches!(errors[2], ProviderError::Unavailable(_)), "{:?}", errors[2]);
    assert!(matches!(errors[3], ProviderError::Rejected(_)), "{:?}", errors[3]);

    for err in &errors {
        assert!(!format!("{err:?}").contains(KEY), "{err:?}");
        assert!(!err.to_string().contains(KEY), "{err}");
        assert!(!err.to_string().contains("very-secret"), "{err}");
    }
    assert!(!format!("{places:?}").contains(KEY));

    let logged = logs.contents();
    assert!(logged.contains("Google Places") && logged.contains("/v1/places:searchText"), "nothing logged: {logged}");
    assert!(logged.contains("status=403") && logged.contains("elapsed_ms="), "{logged}");
    assert!(!logged.contains(KEY), "the key was logged:\n{logged}");
    assert!(!logged.contains("very-secret"), "part of the key was logged:\n{logged}");
}
