//! Sessions: refresh rotation and reuse, logout, password change, switch-tenant, 2FA,
//! throttling, profile, suspension.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn refresh_rotates_and_reusing_a_rotated_token_kills_the_session() {
    let app = spawn_app().await;
    let a = app.register().await;
    let login: Value = app.login(&a.email, &a.password).await.json().await.unwrap();
    let first_refresh = login["refreshToken"].as_str().unwrap().to_owned();

    let res = app.post("/api/v1/auth/refresh", None, &json!({"refreshToken": first_refresh})).await;
    let pair = expect_json(res, 200).await;
    let access = pair["accessToken"].as_str().unwrap().to_owned();
    let second_refresh = pair["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(app.get("/api/v1/me", Some(&access)).await.status(), 200);
    // The access token of before the rotation is gone too.
    problem(app.get("/api/v1/me", Some(login["accessToken"].as_str().unwrap())).await, 401, "UNAUTHENTICATED").await;

    // Replaying the first refresh token: 401, and the whole session (its newest pair) is dead.
    let res = app.post("/api/v1/auth/refresh", None, &json!({"refreshToken": first_refresh})).await;
    problem(res, 401, "UNAUTHENTICATED").await;
    problem(app.get("/api/v1/me", Some(&access)).await, 401, "UNAUTHENTICATED").await;
    let res = app.post("/api/v1/auth/refresh", None, &json!({"refreshToken": second_refresh})).await;
    problem(res, 401, "UNAUTHENTICATED").await;
    // The registration's own session is untouched.
    assert_eq!(app.get("/api/v1/me", Some(&a.token)).await.status(), 200);
    problem(
        app.post("/api/v1/auth/refresh", None, &json!({"refreshToken": "lzr_forged"})).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    problem(app.post("/api/v1/auth/refresh", None, &json!({})).await, 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn a_login_the_audit_log_cannot_record_opens_no_session() {
    let app = spawn_app().await;
    let a = app.register().await;
    let sessions = format!("SELECT count(*) FROM sessions WHERE user_id = '{}'", a.user_id);
    let logins =
        format!("SELECT count(*) FROM audit_logs WHERE user_id = '{}' AND event_type = 'AUTH_LOGIN'", a.user_id);
    let (before, logins_before) = (app.sql_i64(&sessions).await, app.sql_i64(&logins).await);
    // The audit store refuses the login's row (as a full disk or a lost connection would).
    app.sql(
        "CREATE FUNCTION refuse_login_audit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'the audit log is unavailable'; END $$;
         CREATE TRIGGER refuse_login_audit BEFORE INSERT ON audit_logs FOR EACH ROW
           WHEN (NEW.event_type = 'AUTH_LOGIN') EXECUTE FUNCTION refuse_login_audit();",
    )
    .await;
    let res = app.login(&a.email, &a.password).await;
    let body = problem(res, 500, "INTERNAL").await;
    assert!(body.get("accessToken").is_none(), "{body}");
    assert_eq!(app.sql_i64(&sessions).await, before, "no session without its audit row");

    app.sql("DROP TRIGGER refuse_login_audit ON audit_logs").await;
    let res = app.login(&a.email, &a.password).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.sql_i64(&sessions).await, before + 1);
    assert_eq!(app.sql_i64(&logins).await, logins_before + 1, "the login that opened a session is audited");
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_at_once() {
    let app = spawn_app().await;
    let a = app.register().await;
    let login: Value = app.login(&a.email, &a.password).await.json().await.unwrap();
    let token = login["accessToken"].as_str().unwrap();
    assert_eq!(app.post("/api/v1/auth/logout", Some(token), &json!({})).await.status(), 204);
    problem(app.get("/api/v1/me", Some(token)).await, 401, "UNAUTHENTICATED").await;
    let res = app.post("/api/v1/auth/refresh", None, &json!({"refreshToken": login["refreshToken"]})).await;
    problem(res, 401, "UNAUTHENTICATED").await;
    assert_eq!(app.get("/api/v1/me", Some(&a.token)).await.status(), 200, "other sessions live on");
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'AUTH_LOGOUT'").await, 1);
}

#[tokio::test]
async fn password_change_revokes_the_other_sessions() {
    let app = spawn_app().await;
    let a = app.register().await;
    let other: Value = app.login(&a.email, &a.password).await.json().await.unwrap();
    let other_token = other["accessToken"].as_str().unwrap();

    let res = app
        .post(
            "/api/v1/me/password",
            Some(&a.token),
            &json!({"currentPassword": "wrong one 123", "newPassword": "new horse 2"}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["currentPassword"]);
    let res = app
        .post("/api/v1/me/password", Some(&a.token), &json!({"currentPassword": a.password, "newPassword": "short"}))
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["newPassword"]);

    let res = app
        .post(
            "/api/v1/me/password",
            Some(&a.token),
            &json!({"currentPassword": a.password, "newPassword": "new horse 2"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(app.get("/api/v1/me", Some(other_token)).await, 401, "UNAUTHENTICATED").await;
    assert_eq!(app.get("/api/v1/me", Some(&a.token)).await.status(), 200, "the session that changed it stays");
    problem(app.login(&a.email, &a.password).await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(app.login(&a.email, "new horse 2").await.status(), 200);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'AUTH_PASSWORD_CHANGE'").await, 1);
}

#[tokio::test]
async fn two_factor_login_needs_a_valid_code() {
    let app = spawn_app().await;
    let a = app.register().await;
    let setup: Value = app.post_json("/api/v1/me/2fa/setup", Some(&a.token), &json!({})).await;
    let secret = leadzone_crypto::base32_decode(setup["secret"].as_str().unwrap()).unwrap();
    assert!(setup["otpauthUrl"].as_str().unwrap().starts_with("otpauth://totp/Leadzone"));
    let code = |t: i64| leadzone_crypto::totp_code(&secret, t);
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();

    // Setup alone does not enforce anything; a wrong code cannot enable.
    assert_eq!(app.login(&a.email, &a.password).await.status(), 200);
    let res = app.post("/api/v1/me/2fa/enable", Some(&a.token), &json!({"code": "000000"})).await;
    problem(res, 422, "VALIDATION_FAILED").await;
    // Each code below belongs to a later time step than the one before (one step of drift is
    // accepted either side), because a spent step cannot be used again.
    assert_eq!(
        app.post("/api/v1/me/2fa/enable", Some(&a.token), &json!({"code": code(now() - 30)})).await.status(),
        204
    );

    problem(app.login(&a.email, &a.password).await, 401, "OTP_REQUIRED").await;
    let res =
        app.post("/api/v1/auth/login", None, &json!({"email": a.email, "password": a.password, "otp": "123456"})).await;
    problem(res, 401, "INVALID_CREDENTIALS").await;
    let otp = code(now());
    let res =
        app.post("/api/v1/auth/login", None, &json!({"email": a.email, "password": a.password, "otp": otp})).await;
    assert_eq!(res.status(), 200);
    // The same code again (a replay, e.g. shoulder-surfed or phished) is refused.
    let res =
        app.post("/api/v1/auth/login", None, &json!({"email": a.email, "password": a.password, "otp": otp})).await;
    problem(res, 401, "INVALID_CREDENTIALS").await;
    // A wrong password never reveals whether 2FA is on.
    let res = app.post("/api/v1/auth/login", None, &json!({"email": a.email, "password": "wrong horse 1"})).await;
    problem(res, 401, "INVALID_CREDENTIALS").await;

    let res = app.post("/api/v1/me/2fa/disable", Some(&a.token), &json!({"code": otp})).await;
    problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(
        app.post("/api/v1/me/2fa/disable", Some(&a.token), &json!({"code": code(now() + 30)})).await.status(),
        204
    );
    assert_eq!(app.login(&a.email, &a.password).await.status(), 200);
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type IN ('AUTH_2FA_ENABLE', 'AUTH_2FA_DISABLE')")
            .await,
        2
    );
}

#[tokio::test]
async fn the_sixth_failed_login_is_429_with_retry_after() {
    let app = spawn_app().await;
    let a = app.register().await;
    for _ in 0..5 {
        problem(app.login(&a.email, "wrong horse 1").await, 401, "INVALID_CREDENTIALS").await;
    }
    let res = app.login(&a.email, &a.password).await;
    let retry: u64 = res.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    problem(res, 429, "RATE_LIMITED").await;
    // Unknown emails are throttled the same way.
    for _ in 0..5 {
        app.login("ghost@example.sa", "x").await;
    }
    problem(app.login("ghost@example.sa", "x").await, 429, "RATE_LIMITED").await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'AUTH_FAILED_LOGIN'").await, 5);
}

#[tokio::test]
async fn switch_tenant_gives_a_pair_for_another_membership_only() {
    let app = spawn_app().await;
    let a = app.register().await;
    let b = app.register().await;
    // b invites a's email; a accepts while signed in.
    let res = app.post("/api/v1/invites", Some(&b.token), &json!({"email": a.email, "role": "MANAGER"})).await;
    let token = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    problem(app.post("/api/v1/invites/accept", None, &json!({"token": token})).await, 401, "UNAUTHENTICATED").await;
    let stranger = app.register().await;
    problem(
        app.post("/api/v1/invites/accept", Some(&stranger.token), &json!({"token": token})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.post("/api/v1/invites/accept", Some(&a.token), &json!({"token": token})).await.status(), 200);

    let res = app.post("/api/v1/auth/switch-tenant", Some(&a.token), &json!({"tenantId": b.tenant_id})).await;
    let switched = expect_json(res, 200).await;
    assert_eq!(switched["tenant"]["id"], b.tenant_id.as_str());
    assert_eq!(switched["role"], "MANAGER");
    let me: Value = app.get_json("/api/v1/me", Some(switched["accessToken"].as_str().unwrap())).await;
    assert_eq!(me["tenant"]["id"], b.tenant_id.as_str());
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    let res = app.post("/api/v1/auth/switch-tenant", Some(&a.token), &json!({"tenantId": stranger.tenant_id})).await;
    problem(res, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn profile_updates_and_validation() {
    let app = spawn_app().await;
    let a = app.register().await;
    let res = app
        .patch(
            "/api/v1/me",
            Some(&a.token),
            &json!({"name": " Sara A. ", "phone": "0501234567", "avatarUrl": "https://x.sa/a.png"}),
        )
        .await;
    let user = expect_json(res, 200).await;
    assert_eq!((user["name"].clone(), user["phone"].clone()), (json!("Sara A."), json!("+966501234567")));
    let user: Value = app.patch("/api/v1/me", Some(&a.token), &json!({"phone": null})).await.json().await.unwrap();
    assert_eq!(user["phone"], Value::Null);
    assert_eq!(user["name"], "Sara A.");
    let res = app.patch("/api/v1/me", Some(&a.token), &json!({"name": "", "phone": "12", "avatarUrl": 5})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["avatarUrl"]);
    let res = app.patch("/api/v1/me", Some(&a.token), &json!({"name": "", "phone": "12"})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["name", "phone"]);
}

#[tokio::test]
async fn a_suspended_member_is_locked_out_at_once() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let sales = app.add_member(&owner, "SALES").await;
    assert_eq!(app.get("/api/v1/me", Some(&sales.token)).await.status(), 200);
    let id = app.membership_id(&owner, &sales.user_id).await;
    let res = app.patch(&format!("/api/v1/members/{id}"), Some(&owner.token), &json!({"status": "SUSPENDED"})).await;
    assert_eq!(res.status(), 200);
    problem(app.get("/api/v1/me", Some(&sales.token)).await, 401, "UNAUTHENTICATED").await;
    problem(app.login(&sales.email, &sales.password).await, 401, "INVALID_CREDENTIALS").await;
    app.patch(&format!("/api/v1/members/{id}"), Some(&owner.token), &json!({"status": "ACTIVE"})).await;
    assert_eq!(app.get("/api/v1/me", Some(&sales.token)).await.status(), 200);
}

#[tokio::test]
async fn a_suspended_tenant_gets_403_except_me_and_the_admin_api_is_guarded() {
    let app = spawn_app().await;
    let a = app.register().await;
    let path = format!("/admin/v1/tenants/{}/status", a.tenant_id);
    problem(app.post(&path, None, &json!({"status": "SUSPENDED"})).await, 401, "UNAUTHENTICATED").await;
    problem(
        app.post(&path, Some("operator-token-for-tests-012345678X"), &json!({"status": "SUSPENDED"})).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    problem(app.post(&path, Some(ADMIN_TOKEN), &json!({"status": "ASLEEP"})).await, 422, "VALIDATION_FAILED").await;
    let res = app.post(&path, Some(ADMIN_TOKEN), &json!({"status": "SUSPENDED"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "SUSPENDED");

    problem(app.get("/api/v1/leads", Some(&a.token)).await, 403, "TENANT_SUSPENDED").await;
    problem(app.get("/api/v1/tenant", Some(&a.token)).await, 403, "TENANT_SUSPENDED").await;
    problem(app.post("/api/v1/leads", Some(&a.token), &json!({"companyName": "x"})).await, 403, "TENANT_SUSPENDED")
        .await;
    assert_eq!(app.get("/api/v1/me", Some(&a.token)).await.status(), 200);

    let list: Value = app.get_json("/admin/v1/tenants", Some(ADMIN_TOKEN)).await;
    assert!(
        list["data"].as_array().unwrap().iter().any(|t| t["id"] == a.tenant_id.as_str() && t["status"] == "SUSPENDED")
    );
    // A page at a time, each tenant once; bad paging parameters are 422.
    let b = app.register().await;
    let mut seen: Vec<String> = Vec::new();
    let mut page_path = "/admin/v1/tenants?limit=1".to_owned();
    loop {
        let page: Value = app.get_json(&page_path, Some(ADMIN_TOKEN)).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 1, "{page}");
        seen.extend(data.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(c) => page_path = format!("/admin/v1/tenants?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), seen.iter().collect::<std::collections::HashSet<_>>().len(), "no tenant twice");
    assert!(seen.contains(&a.tenant_id) && seen.contains(&b.tenant_id), "{seen:?}");
    for bad in ["limit=0", "limit=201", "limit=ten", "cursor=not-a-tenant"] {
        problem(app.get(&format!("/admin/v1/tenants?{bad}"), Some(ADMIN_TOKEN)).await, 422, "VALIDATION_FAILED").await;
    }
    problem(
        app.post(
            &format!("/admin/v1/tenants/{}/status", uuid::Uuid::now_v7()),
            Some(ADMIN_TOKEN),
            &json!({"status": "ACTIVE"}),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    app.post(&path, Some(ADMIN_TOKEN), &json!({"status": "ACTIVE"})).await;
    assert_eq!(app.get("/api/v1/leads", Some(&a.token)).await.status(), 200);
}

#[tokio::test]
async fn without_an_admin_token_the_admin_api_does_not_exist() {
    let app = spawn_app_without_admin().await;
    problem(app.get("/admin/v1/tenants", Some("anything-at-all-0123456789")).await, 404, "NOT_FOUND").await;
}
