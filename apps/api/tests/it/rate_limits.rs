//! Rate limits (api.md, "Conventions: rate limits"): per API key, per session and per client IP,
//! `LEADZONE_RATE_LIMIT_PER_MIN` a minute, 429 `RATE_LIMITED` with `Retry-After` past it, the
//! `RateLimit-*` headers on every answer, probes and webhooks never limited, `0` = off.

use crate::helpers::{TestApp, problem, spawn_app_with};
use reqwest::header::HeaderMap;
use std::time::{Duration, Instant};

const LIMIT: u32 = 60;

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Sends `GET path` with `token` (or `X-Forwarded-For: xff`) until one is refused; returns how many
/// passed, the refused response, and how long it took. The first `LIMIT` go out at once so that
/// the bucket (one request back per second at 60/min) hardly refills meanwhile.
async fn exhaust(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    xff: Option<&str>,
) -> (u32, reqwest::Response, Duration) {
    let request = || {
        let mut req = app.client.get(app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ip) = xff {
            req = req.header("x-forwarded-for", ip);
        }
        req
    };
    let started = Instant::now();
    let first = futures::future::join_all((0..LIMIT).map(|_| request().send())).await;
    let mut remaining: Vec<u64> = Vec::new();
    for res in first {
        let res = res.unwrap();
        assert_ne!(res.status(), 429, "refused within the limit");
        assert_eq!(header_u64(res.headers(), "ratelimit-limit"), Some(u64::from(LIMIT)));
        remaining.push(header_u64(res.headers(), "ratelimit-remaining").unwrap());
        assert!(header_u64(res.headers(), "ratelimit-reset").unwrap() >= 1);
    }
    remaining.sort_unstable();
    assert_eq!(remaining.last(), Some(&u64::from(LIMIT - 1)), "the first one leaves limit - 1");
    let mut passed = LIMIT;
    loop {
        let res = request().send().await.unwrap();
        if res.status() == 429 {
            return (passed, res, started.elapsed());
        }
        passed += 1;
        assert!(passed < LIMIT + 30, "never refused");
    }
}

/// The 61st request with one API key is refused (give or take the requests that came back while
/// the test ran: one a second at 60/min), as the contract's problem with `Retry-After`.
async fn assert_refused(passed: u32, res: reqwest::Response, took: Duration) {
    let refills = u32::try_from(took.as_secs()).unwrap() + 1;
    assert!((LIMIT..=LIMIT + refills).contains(&passed), "{passed} passed in {took:?}");
    let headers = res.headers().clone();
    let retry_after = header_u64(&headers, "retry-after").expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(header_u64(&headers, "ratelimit-limit"), Some(u64::from(LIMIT)));
    assert_eq!(header_u64(&headers, "ratelimit-remaining"), Some(0));
    assert_eq!(header_u64(&headers, "ratelimit-reset"), Some(retry_after));
    assert!(headers.get("x-request-id").is_some());
    let body = problem(res, 429, "RATE_LIMITED").await;
    assert_eq!(body["retryAfter"], retry_after);
}

#[tokio::test]
async fn an_api_key_gets_its_limit_and_others_are_unaffected() {
    let app = spawn_app_with(&[("LEADZONE_RATE_LIMIT_PER_MIN", "60")]).await;
    let owner = app.register().await;
    let (key, _) = app.api_key(&owner, &["leads:read"]).await;
    let (other_key, _) = app.api_key(&owner, &["leads:read"]).await;

    let (passed, refused, took) = exhaust(&app, "/api/v1/leads", Some(&key), None).await;
    assert_refused(passed, refused, took).await;

    // Still refused, and in the request's language.
    let res = app.client.get(app.url("/api/v1/leads")).bearer_auth(&key).header("accept-language", "ar").send().await;
    let body = problem(res.unwrap(), 429, "RATE_LIMITED").await;
    assert_eq!(body["title"], "طلبات كثيرة جدًا");
    assert!(body["requestId"].is_string());

    // Another API key, the session that made them, and an anonymous client each have their own.
    for token in [Some(other_key.as_str()), Some(owner.token.as_str())] {
        let res = app.get("/api/v1/leads", token).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header_u64(res.headers(), "ratelimit-limit"), Some(60));
        assert!(header_u64(res.headers(), "ratelimit-remaining").unwrap() >= 55);
    }
    let res = app.get("/api/v1/leads", None).await;
    assert_eq!(res.status(), 401, "unauthenticated, not limited");
    assert!(header_u64(res.headers(), "ratelimit-remaining").unwrap() >= 55, "problems carry the headers too");

    // Probes, the metrics scrape and webhooks are never limited (and carry no bucket).
    for path in ["/healthz", "/readyz", "/metrics"] {
        for _ in 0..3 {
            let res = app.get(path, Some(&key)).await;
            assert_eq!(res.status(), 200, "{path}");
            assert!(res.headers().get("ratelimit-limit").is_none(), "{path}");
        }
    }
    let res = app.post("/webhooks/stripe", Some(&key), &serde_json::json!({})).await;
    assert_ne!(res.status(), 429);
    assert!(res.headers().get("ratelimit-limit").is_none());
}

#[tokio::test]
async fn health_is_never_limited_even_for_an_exhausted_client() {
    let app = spawn_app_with(&[("LEADZONE_RATE_LIMIT_PER_MIN", "60")]).await;
    let (passed, refused, took) = exhaust(&app, "/api/v1/no-such-route", None, None).await;
    assert_refused(passed, refused, took).await;
    for _ in 0..100 {
        let res = app.get("/healthz", None).await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(app.get("/api/v1/no-such-route", None).await.status(), 429, "the IP is still refused");
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app_with(&[("LEADZONE_RATE_LIMIT_PER_MIN", "60")]).await;
    let (passed, refused, took) = exhaust(&app, "/api/v1/no-such-route", None, Some("203.0.113.7")).await;
    assert_refused(passed, refused, took).await;
    // Claiming another address changes nothing: the peer is the client.
    let res = app.client.get(app.url("/api/v1/no-such-route")).header("x-forwarded-for", "198.51.100.9").send().await;
    assert_eq!(res.unwrap().status(), 429);
}

#[tokio::test]
async fn forwarded_for_is_honoured_from_a_trusted_proxy() {
    let app =
        spawn_app_with(&[("LEADZONE_RATE_LIMIT_PER_MIN", "60"), ("LEADZONE_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let (passed, refused, took) = exhaust(&app, "/api/v1/no-such-route", None, Some("203.0.113.7")).await;
    assert_refused(passed, refused, took).await;
    // Another client behind the same proxy, and the proxy itself, are untouched.
    let res = app.client.get(app.url("/api/v1/no-such-route")).header("x-forwarded-for", "198.51.100.9").send().await;
    let res = res.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(header_u64(res.headers(), "ratelimit-remaining"), Some(59));
    assert_eq!(app.get("/api/v1/no-such-route", None).await.status(), 404);
    // The refused client stays refused through the proxy.
    let res = app.client.get(app.url("/api/v1/no-such-route")).header("x-forwarded-for", "203.0.113.7").send().await;
    assert_eq!(res.unwrap().status(), 429);
}

#[tokio::test]
async fn zero_turns_limiting_off() {
    let app = spawn_app_with(&[("LEADZONE_RATE_LIMIT_PER_MIN", "0")]).await;
    let owner = app.register().await;
    let responses = futures::future::join_all(
        (0..150).map(|_| app.client.get(app.url("/api/v1/leads")).bearer_auth(&owner.token).send()),
    )
    .await;
    for res in responses {
        let res = res.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn the_default_limit_is_announced() {
    let app = spawn_app_with(&[]).await;
    let owner = app.register().await;
    let res = app.get("/api/v1/leads", Some(&owner.token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header_u64(res.headers(), "ratelimit-limit"), Some(1200));
    assert_eq!(header_u64(res.headers(), "ratelimit-remaining"), Some(1199));
    assert_eq!(header_u64(res.headers(), "ratelimit-reset"), Some(1));
}
