//! Login throttling that cannot be turned against users (api.md, Auth: login): 5 failures for one
//! email from one client IP in 15 minutes → 429 there; 50 from all clients → 429 everywhere;
//! correct logins never count, however many run at once.

use crate::helpers::{Account, TestApp, problem, spawn_app, spawn_app_with};
use futures::future::join_all;
use serde_json::json;

const WRONG: &str = "wrong horse 1";

/// A server that believes `X-Forwarded-For` from the test client (127.0.0.1), so that a test can
/// speak from many client IPs.
async fn spawn_app_behind_trusted_proxy() -> TestApp {
    spawn_app_with(&[("LEADZONE_TRUSTED_PROXIES", "127.0.0.1")]).await
}

impl TestApp {
    /// A login as sent by the client `ip` (through the trusted proxy), or by the peer itself.
    async fn login_from(&self, ip: Option<&str>, email: &str, password: &str) -> reqwest::Response {
        let mut req =
            self.client.post(self.url("/api/v1/auth/login")).json(&json!({"email": email, "password": password}));
        if let Some(ip) = ip {
            req = req.header("x-forwarded-for", ip);
        }
        req.send().await.expect("request")
    }

    async fn failed_login_audits(&self, account: &Account) -> i64 {
        self.sql_i64(&format!(
            "SELECT count(*) FROM audit_logs WHERE event_type = 'AUTH_FAILED_LOGIN' AND user_id = '{}'",
            account.user_id
        ))
        .await
    }
}

fn statuses(responses: &[reqwest::Response]) -> (usize, usize, usize) {
    let count = |s: u16| responses.iter().filter(|r| r.status().as_u16() == s).count();
    (count(200), count(401), count(429))
}

/// A 429 `RATE_LIMITED` whose `Retry-After` and `retryAfter` say when the window passes.
async fn rate_limited(res: reqwest::Response) {
    let header: u64 = res.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&header), "{header}");
    let body = problem(res, 429, "RATE_LIMITED").await;
    assert_eq!(body["retryAfter"], json!(header), "{body}");
}

#[tokio::test]
async fn sixteen_concurrent_logins_with_the_right_password_all_succeed() {
    let app = spawn_app().await;
    let a = app.register().await;
    // Twice over: a second burst finds nothing left behind by the first.
    for _ in 0..2 {
        let responses = join_all((0..16).map(|_| app.login(&a.email, &a.password))).await;
        assert_eq!(statuses(&responses), (16, 0, 0));
    }
    assert_eq!(app.sql_i64("SELECT count(*) FROM login_failures").await, 0);
    assert_eq!(app.failed_login_audits(&a).await, 0);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'AUTH_LOGIN'").await, 32);

    // Four failures (one short of the limit) and then a burst of correct logins: all succeed, and
    // the success forgives the failures.
    for _ in 0..4 {
        problem(app.login(&a.email, WRONG).await, 401, "INVALID_CREDENTIALS").await;
    }
    let responses = join_all((0..16).map(|_| app.login(&a.email, &a.password))).await;
    assert_eq!(statuses(&responses), (16, 0, 0));
    assert_eq!(app.sql_i64("SELECT count(*) FROM login_failures").await, 0);
}

#[tokio::test]
async fn sixteen_parallel_wrong_guesses_from_one_ip_check_five_passwords_then_429() {
    let app = spawn_app().await;
    let a = app.register().await;
    let responses = join_all((0..16).map(|_| app.login(&a.email, WRONG))).await;
    assert_eq!(statuses(&responses), (0, 5, 11));
    // Five passwords were checked: one AUTH_FAILED_LOGIN and one recorded failure each.
    assert_eq!(app.failed_login_audits(&a).await, 5);
    assert_eq!(app.sql_i64("SELECT count(*) FROM login_failures WHERE ip = '127.0.0.1'").await, 5);
    for res in responses.into_iter().filter(|r| r.status() == 429) {
        rate_limited(res).await;
    }
    // From this client even the right password waits for the window.
    rate_limited(app.login(&a.email, &a.password).await).await;
    assert_eq!(app.failed_login_audits(&a).await, 5);

    // When the window has passed (moved back in the table), the right password works again.
    app.sql("UPDATE login_failures SET failed_at = failed_at - interval '15 minutes'").await;
    assert_eq!(app.login(&a.email, &a.password).await.status(), 200);
}

#[tokio::test]
async fn a_user_whose_email_is_guessed_from_another_ip_logs_in_normally() {
    let app = spawn_app_behind_trusted_proxy().await;
    let a = app.register().await;
    let attacker = Some("203.0.113.7");
    let responses = join_all((0..10).map(|_| app.login_from(attacker, &a.email, WRONG))).await;
    assert_eq!(statuses(&responses), (0, 5, 5));
    rate_limited(app.login_from(attacker, &a.email, &a.password).await).await;

    // The owner, elsewhere, is not affected: a mistake of their own, then the right password.
    let owner = Some("198.51.100.20");
    problem(app.login_from(owner, &a.email, WRONG).await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(app.login_from(owner, &a.email, &a.password).await.status(), 200);
    // Nor is the proxy's own address (no X-Forwarded-For), nor another address through a chain of
    // proxies (the client is the rightmost untrusted address).
    assert_eq!(app.login_from(None, &a.email, &a.password).await.status(), 200);
    assert_eq!(app.login_from(Some("203.0.113.7, 192.0.2.1"), &a.email, &a.password).await.status(), 200);

    // The owner's success forgave only the owner's failure: the attacker is still throttled.
    rate_limited(app.login_from(attacker, &a.email, &a.password).await).await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM login_failures WHERE ip = '203.0.113.7'").await, 5);
    assert_eq!(app.sql_i64("SELECT count(*) FROM login_failures WHERE ip = '198.51.100.20'").await, 0);
    assert_eq!(app.failed_login_audits(&a).await, 6);

    // Unknown emails are throttled the same way, per client.
    let ghost = "ghost@example.sa";
    for _ in 0..5 {
        problem(app.login_from(attacker, ghost, "x").await, 401, "INVALID_CREDENTIALS").await;
    }
    problem(app.login_from(attacker, ghost, "x").await, 429, "RATE_LIMITED").await;
    problem(app.login_from(owner, ghost, "x").await, 401, "INVALID_CREDENTIALS").await;
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_does_not_make_a_new_client() {
    let app = spawn_app().await;
    let a = app.register().await;
    for i in 0..5 {
        let res = app.login_from(Some(&format!("203.0.113.{i}")), &a.email, WRONG).await;
        problem(res, 401, "INVALID_CREDENTIALS").await;
    }
    // All five came from 127.0.0.1 whatever the header said.
    rate_limited(app.login_from(Some("198.51.100.99"), &a.email, &a.password).await).await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM login_failures WHERE ip = '127.0.0.1'").await, 5);
}

#[tokio::test]
async fn fifty_one_failures_from_many_ips_close_the_email_everywhere_until_the_window_passes() {
    let app = spawn_app_behind_trusted_proxy().await;
    let a = app.register().await;
    let b = app.register().await;
    let ips: Vec<String> = (0..51).map(|i| format!("198.51.100.{}", i + 1)).collect();
    // One wrong guess from each of 51 addresses, all at once: no address comes near its own limit.
    let responses = join_all(ips.iter().map(|ip| app.login_from(Some(ip), &a.email, WRONG))).await;
    let (ok, unauthorized, limited) = statuses(&responses);
    assert_eq!(ok, 0);
    assert_eq!(unauthorized + limited, 51);
    // The 50 are counted before the ceiling closes; in parallel a few more may slip in.
    assert!(unauthorized >= 50, "{unauthorized} failures");
    let recorded = app.sql_i64("SELECT count(*) FROM login_failures").await;
    assert_eq!(recorded, unauthorized as i64);
    assert_eq!(app.failed_login_audits(&a).await, recorded);

    // Now 429 for that email from everywhere, the right password included: a fresh address, one
    // of the guessers, the proxy itself.
    rate_limited(app.login_from(Some("192.0.2.200"), &a.email, &a.password).await).await;
    rate_limited(app.login_from(Some("198.51.100.1"), &a.email, &a.password).await).await;
    rate_limited(app.login_from(None, &a.email, &a.password).await).await;
    rate_limited(app.login_from(Some("192.0.2.201"), &a.email, WRONG).await).await;
    // No password was checked for those.
    assert_eq!(app.failed_login_audits(&a).await, recorded);
    // Another email is not affected, from the same addresses.
    assert_eq!(app.login_from(Some("198.51.100.1"), &b.email, &b.password).await.status(), 200);

    // Until the window passes (moved back in the table).
    app.sql("UPDATE login_failures SET failed_at = failed_at - interval '15 minutes'").await;
    assert_eq!(app.login_from(Some("192.0.2.200"), &a.email, &a.password).await.status(), 200);
}
