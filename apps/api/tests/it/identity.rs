use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn register_login_and_me() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": "  Sara@Example.SA ", "password": "correct horse 1", "name": " Sara ", "organizationName": "Riyadh Tech"}),
        )
        .await;
    let body = expect_json(res, 201).await;
    assert_eq!(body["user"]["email"], "sara@example.sa");
    assert_eq!(body["user"]["name"], "Sara");
    assert_eq!(body["tenant"]["slug"], "riyadh-tech");
    assert_eq!(body["tenant"]["status"], "ACTIVE");
    assert_eq!(body["role"], "OWNER");
    assert!(body["user"].get("passwordHash").is_none());
    assert!(body["accessToken"].as_str().unwrap().starts_with("lza_"));

    // Login is case-insensitive on the email.
    let res =
        app.post("/api/v1/auth/login", None, &json!({"email": "SARA@example.sa", "password": "correct horse 1"})).await;
    let login = expect_json(res, 200).await;
    let token = login["accessToken"].as_str().unwrap();
    assert_ne!(token, body["accessToken"].as_str().unwrap());

    let me: Value = app.get_json("/api/v1/me", Some(token)).await;
    assert_eq!(me["user"]["email"], "sara@example.sa");
    assert_eq!(me["tenant"]["id"], body["tenant"]["id"]);
    assert_eq!(me["role"], "OWNER");
    let perms: Vec<&str> = me["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(perms.contains(&"billing:manage") && perms.contains(&"leads:read"));
    assert_eq!(me["memberships"].as_array().unwrap().len(), 1);

    // The registration opened an ACTIVE subscription to the free plan.
    assert_eq!(app.sql_string("SELECT plan_id || '/' || status AS s FROM subscriptions").await, "free/ACTIVE");
}

#[tokio::test]
async fn duplicate_email_is_409_and_weak_password_is_422() {
    let app = spawn_app().await;
    let account = app.register().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": account.email.to_uppercase(), "password": "correct horse 1", "name": "X", "organizationName": "Other"}),
        )
        .await;
    problem(res, 409, "CONFLICT").await;

    for weak in ["short1A", "aaaaaaaaaaaaaaa", "12345678901234"] {
        let res = app
            .post(
                "/api/v1/auth/register",
                None,
                &json!({"email": "new@example.sa", "password": weak, "name": "X", "organizationName": "O"}),
            )
            .await;
        let body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), vec!["password"], "{weak}");
    }
}

#[tokio::test]
async fn register_reports_every_bad_field() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": "nope", "password": "x", "name": "  ", "organizationName": "", "organizationSlug": "Bad Slug"}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["email", "password", "name", "organizationName", "organizationSlug"]);
    let res = app.post("/api/v1/auth/register", None, &json!({"email": 1, "password": [], "name": {}})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["email", "password", "name", "organizationName"]);
}

#[tokio::test]
async fn a_taken_slug_is_409_and_a_derived_one_gets_a_suffix() {
    let app = spawn_app().await;
    let reg = |email: &str, org: &str, slug: Option<&str>| {
        let mut body = json!({"email": email, "password": "correct horse 1", "name": "A", "organizationName": org});
        if let Some(s) = slug {
            body["organizationSlug"] = json!(s);
        }
        body
    };
    let first: Value = app.post_json("/api/v1/auth/register", None, &reg("a@x.sa", "Acme", None)).await;
    assert_eq!(first["tenant"]["slug"], "acme");
    let second: Value = app.post_json("/api/v1/auth/register", None, &reg("b@x.sa", "Acme", None)).await;
    let slug = second["tenant"]["slug"].as_str().unwrap();
    assert!(slug.starts_with("acme-") && slug.len() > 5, "{slug}");
    let res = app.post("/api/v1/auth/register", None, &reg("c@x.sa", "Other", Some("acme"))).await;
    problem(res, 409, "CONFLICT").await;
    let arabic: Value = app.post_json("/api/v1/auth/register", None, &reg("d@x.sa", "شركة النور", None)).await;
    assert_eq!(arabic["tenant"]["name"], "شركة النور");
    assert_eq!(arabic["tenant"]["slug"], "org");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_the_same_401() {
    let app = spawn_app().await;
    let account = app.register().await;
    let wrong =
        app.post("/api/v1/auth/login", None, &json!({"email": account.email, "password": "wrong horse 1"})).await;
    let a = problem(wrong, 401, "INVALID_CREDENTIALS").await;
    let unknown =
        app.post("/api/v1/auth/login", None, &json!({"email": "ghost@example.sa", "password": "wrong horse 1"})).await;
    let b = problem(unknown, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(a["detail"], b["detail"]);
    let malformed = app.post("/api/v1/auth/login", None, &json!({"email": "not an email", "password": "x"})).await;
    problem(malformed, 401, "INVALID_CREDENTIALS").await;
    let missing = app.post("/api/v1/auth/login", None, &json!({"email": account.email})).await;
    let body = problem(missing, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["password"]);
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let app = spawn_app().await;
    problem(app.get("/api/v1/me", None).await, 401, "UNAUTHENTICATED").await;
    problem(app.get("/api/v1/me", Some("lza_forged")).await, 401, "UNAUTHENTICATED").await;
    problem(app.get("/api/v1/me", Some("garbage")).await, 401, "UNAUTHENTICATED").await;
    let res = app.client.get(app.url("/api/v1/me")).header("authorization", "Basic abc").send().await.unwrap();
    problem(res, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn login_picks_the_requested_tenant_or_404() {
    let app = spawn_app().await;
    let account = app.register().await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": account.email, "password": account.password, "tenantId": account.tenant_id}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let other = app.register().await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": account.email, "password": account.password, "tenantId": other.tenant_id}),
        )
        .await;
    problem(res, 404, "NOT_FOUND").await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": account.email, "password": account.password, "tenantId": "x"}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["tenantId"]);
}

#[tokio::test]
async fn no_secret_is_stored_in_plain_text() {
    let app = spawn_app().await;
    let account = app.register().await;
    let login: Value =
        app.post_json("/api/v1/auth/login", None, &json!({"email": account.email, "password": account.password})).await;
    let invite: Value = app
        .post_json("/api/v1/invites", Some(&account.token), &json!({"email": "new@example.sa", "role": "SALES"}))
        .await;
    let invite_token = invite["token"].as_str().unwrap().to_owned();
    let member_password = "member password 9".to_owned();
    app.post("/api/v1/invites/accept", None, &json!({"token": invite_token, "name": "N", "password": member_password}))
        .await;
    let (api_key, _) = app.api_key(&account, &["leads:read"]).await;
    let setup: Value = app.post_json("/api/v1/me/2fa/setup", Some(&account.token), &json!({})).await;
    let totp_base32 = setup["secret"].as_str().unwrap().to_owned();
    let totp_hex =
        leadzone_crypto::base32_decode(&totp_base32).unwrap().iter().map(|b| format!("{b:02x}")).collect::<String>();

    let secrets = [
        account.password.clone(),
        member_password,
        account.token.clone(),
        login["accessToken"].as_str().unwrap().to_owned(),
        login["refreshToken"].as_str().unwrap().to_owned(),
        invite_token,
        api_key,
        totp_base32,
        totp_hex,
    ];
    let tables = app
        .sql_strings(
            "SELECT table_name::text AS t FROM information_schema.tables
              WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .await;
    assert!(tables.len() >= 25, "{tables:?}");
    let mut scanned = 0;
    for table in tables {
        for text in app.sql_strings(&format!("SELECT t::text AS row FROM {table} t")).await {
            scanned += 1;
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "{table} stores a secret in plain text");
            }
        }
    }
    assert!(scanned > 20, "rows were scanned: {scanned}");
}

#[tokio::test]
async fn login_and_registration_are_audited() {
    let app = spawn_app().await;
    let account = app.register().await;
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", "leadzone-tests/1")
        .json(&json!({"email": account.email, "password": account.password}))
        .send()
        .await
        .unwrap();
    let events = app
        .sql_strings(
            "SELECT event_type || '|' || COALESCE(user_agent, '') || '|' || COALESCE(host(ip_address), '') AS e
               FROM audit_logs ORDER BY created_at",
        )
        .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].starts_with("SUBSCRIPTION_CREATED|"));
    assert_eq!(events[1], "AUTH_LOGIN|leadzone-tests/1|127.0.0.1");
}

#[tokio::test]
async fn absurd_login_input_is_a_clean_401() {
    let app = spawn_app().await;
    let long = format!("{}@example.sa", "x".repeat(5000));
    problem(app.login(&long, "whatever 123").await, 401, "INVALID_CREDENTIALS").await;
    problem(app.login("\u{202e}evil@example.sa", "x").await, 401, "INVALID_CREDENTIALS").await;
}
