//! Response headers: everything that may carry a token or a secret is `Cache-Control: no-store`,
//! and every response (a 404 and a problem body included) is `X-Content-Type-Options: nosniff`.

use crate::helpers::*;
use serde_json::{Value, json};

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

fn assert_no_store(res: &reqwest::Response, what: &str) {
    assert_eq!(header(res, "cache-control"), Some("no-store"), "{what}: {:?}", res.headers());
    assert_eq!(header(res, "x-content-type-options"), Some("nosniff"), "{what}");
}

#[tokio::test]
async fn token_responses_are_not_stored_and_nothing_is_sniffed() {
    let app = spawn_app().await;
    let email = format!("{}@example.sa", unique("headers"));
    let register = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": email, "password": "correct horse 1", "name": "Sara", "organizationName": unique("Org ")}),
        )
        .await;
    assert_eq!(register.status(), 201);
    assert_no_store(&register, "register");
    let registered: Value = register.json().await.unwrap();
    let token = registered["accessToken"].as_str().unwrap().to_owned();

    let login = app.login(&email, "correct horse 1").await;
    assert_eq!(login.status(), 200);
    assert_no_store(&login, "login");
    let session: Value = login.json().await.unwrap();

    let refresh = app.post("/api/v1/auth/refresh", None, &json!({"refreshToken": session["refreshToken"]})).await;
    assert_eq!(refresh.status(), 200);
    assert_no_store(&refresh, "refresh");

    // A refused login is no-store as well (the header does not depend on the outcome).
    let refused = app.login(&email, "wrong horse 1").await;
    assert_eq!(refused.status(), 401);
    assert_no_store(&refused, "refused login");

    let key = app
        .post("/api/v1/api-keys", Some(&token), &json!({"label": "script", "scopes": ["leads:read"], "mode": "live"}))
        .await;
    assert_eq!(key.status(), 201);
    assert_no_store(&key, "api key creation");

    let setup = app.post("/api/v1/me/2fa/setup", Some(&token), &json!({})).await;
    assert!(setup.status().is_success(), "{}", setup.status());
    assert_no_store(&setup, "2fa setup");

    // Ordinary responses may be cached by the client's rules, but are never sniffed.
    let leads = app.get("/api/v1/leads", Some(&token)).await;
    assert_eq!(leads.status(), 200);
    assert_eq!(header(&leads, "x-content-type-options"), Some("nosniff"));
    assert_ne!(header(&leads, "cache-control"), Some("no-store"));

    let missing = app.get("/api/v1/no-such-thing", Some(&token)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "x-content-type-options"), Some("nosniff"));
    let unauthenticated = app.get("/api/v1/leads", None).await;
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(header(&unauthenticated, "x-content-type-options"), Some("nosniff"));
    let health = app.get("/healthz", None).await;
    assert_eq!(header(&health, "x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn invite_creation_and_acceptance_are_not_stored() {
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    let invite_email = format!("{}@example.sa", unique("invitee"));
    let created =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": invite_email, "role": "SALES"})).await;
    assert_eq!(created.status(), 201);
    assert_no_store(&created, "invite creation");
    let body: Value = created.json().await.unwrap();
    let accepted = app
        .post(
            "/api/v1/invites/accept",
            None,
            &json!({"token": body["token"], "name": "Noura", "password": "correct horse 2"}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    assert_no_store(&accepted, "invite acceptance");
}
