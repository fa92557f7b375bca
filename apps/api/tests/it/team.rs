//! Team, invitations, API keys, audit logs, and the role matrix of api.md.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_third_invite_on_the_free_plan_is_402_and_invites_are_mailed() {
    let app = spawn_app().await;
    let owner = app.register().await;
    for i in 0..2 {
        let res = app
            .post("/api/v1/invites", Some(&owner.token), &json!({"email": format!("p{i}@example.sa"), "role": "SALES"}))
            .await;
        let body = expect_json(res, 201).await;
        assert!(body["token"].as_str().unwrap().starts_with("lzi_"));
        assert_eq!(body["invite"]["status"], "PENDING");
        assert!(body["invite"].get("token").is_none(), "the invite never shows its token again");
    }
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "p2@example.sa", "role": "SALES"})).await;
    let body = problem(res, 402, "QUOTA_EXCEEDED").await;
    assert_eq!(
        (body["metric"].clone(), body["limit"].clone(), body["used"].clone()),
        (json!("seats"), json!(3), json!(3))
    );

    // Each invitation is queued for mail with the invite itself; its body (the link) is sealed, so
    // no column of the outbox shows a token, delivered or not.
    assert_eq!(app.sql_i64("SELECT count(*) FROM mail_outbox WHERE to_email = 'p0@example.sa'").await, 1);
    assert_eq!(
        app.sql_i64(
            "SELECT count(*) FROM mail_outbox m
              WHERE m::text LIKE '%lzi_%' OR position(convert_to('lzi_', 'UTF8') IN coalesce(m.body_sealed, '')) > 0"
        )
        .await,
        0
    );
    let list: Value = app.get_json("/api/v1/invites", Some(&owner.token)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let res = app.post("/api/v1/invites", Some(&owner.token), &json!({"email": owner.email, "role": "ADMIN"})).await;
    problem(res, 409, "CONFLICT").await;
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "boss@example.sa", "role": "OWNER"})).await;
    problem(res, 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn expired_invites_are_410_and_used_or_revoked_ones_404() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for i in 0..2 {
        let body: Value = app
            .post_json(
                "/api/v1/invites",
                Some(&owner.token),
                &json!({"email": format!("x{i}@example.sa"), "role": "SALES"}),
            )
            .await;
        tokens.push(body["token"].as_str().unwrap().to_owned());
        ids.push(body["invite"]["id"].as_str().unwrap().to_owned());
    }
    app.sql(&format!("UPDATE invites SET expires_at = now() - interval '1 minute' WHERE id = '{}'", ids[0])).await;
    let accept = |token: &str| json!({"token": token, "name": "New", "password": "new member 123"});
    problem(app.post("/api/v1/invites/accept", None, &accept(&tokens[0])).await, 410, "INVITE_EXPIRED").await;
    let list: Value = app.get_json("/api/v1/invites", Some(&owner.token)).await;
    assert!(list["data"].as_array().unwrap().iter().any(|i| i["status"] == "EXPIRED"));

    let res = app.post("/api/v1/invites/accept", None, &json!({"token": tokens[1]})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["name", "password"]);
    assert_eq!(app.post("/api/v1/invites/accept", None, &accept(&tokens[1])).await.status(), 200);
    problem(app.post("/api/v1/invites/accept", None, &accept(&tokens[1])).await, 404, "NOT_FOUND").await;
    problem(app.post("/api/v1/invites/accept", None, &accept("lzi_unknown")).await, 404, "NOT_FOUND").await;

    let body: Value =
        app.post_json("/api/v1/invites", Some(&owner.token), &json!({"email": "y@example.sa", "role": "SALES"})).await;
    let (token, id) = (body["token"].as_str().unwrap().to_owned(), body["invite"]["id"].as_str().unwrap().to_owned());
    let revoked: Value = app.delete(&format!("/api/v1/invites/{id}"), Some(&owner.token)).await.json().await.unwrap();
    assert_eq!(revoked["status"], "REVOKED");
    problem(app.post("/api/v1/invites/accept", None, &accept(&token)).await, 404, "NOT_FOUND").await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'TEAM_INVITE_ACCEPTED'").await, 1);
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_suspended_or_removed() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let admin = app.add_member(&owner, "ADMIN").await;
    let owner_membership = app.membership_id(&owner, &owner.user_id).await;
    let path = format!("/api/v1/members/{owner_membership}");
    for body in [json!({"role": "ADMIN"}), json!({"status": "SUSPENDED"})] {
        problem(app.patch(&path, Some(&owner.token), &body).await, 409, "CONFLICT").await;
    }
    problem(app.delete(&path, Some(&owner.token)).await, 409, "CONFLICT").await;
    // An ADMIN may not touch an OWNER at all.
    problem(app.patch(&path, Some(&admin.token), &json!({"role": "SALES"})).await, 403, "FORBIDDEN").await;
    let admin_membership = app.membership_id(&owner, &admin.user_id).await;
    problem(
        app.patch(&format!("/api/v1/members/{admin_membership}"), Some(&admin.token), &json!({"role": "OWNER"})).await,
        403,
        "FORBIDDEN",
    )
    .await;

    // With a second owner, the first may step down.
    let res =
        app.patch(&format!("/api/v1/members/{admin_membership}"), Some(&owner.token), &json!({"role": "OWNER"})).await;
    assert_eq!(res.status(), 200);
    let res = app.patch(&path, Some(&owner.token), &json!({"role": "ADMIN"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'TEAM_ROLE_CHANGED' AND details ? 'before'")
            .await,
        2
    );
}

#[tokio::test]
async fn managers_see_their_team_and_removal_unassigns_leads() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;
    let manager = app.add_member(&owner, "MANAGER").await;
    let sales = app.add_member(&owner, "SALES").await;
    let other_sales = app.add_member(&owner, "SALES").await;
    let sales_membership = app.membership_id(&owner, &sales.user_id).await;

    let res = app
        .patch(
            &format!("/api/v1/members/{sales_membership}"),
            Some(&owner.token),
            &json!({"managerId": other_sales.user_id}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["managerId"]);
    let res = app
        .patch(
            &format!("/api/v1/members/{sales_membership}"),
            Some(&owner.token),
            &json!({"managerId": manager.user_id}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let lead: Value = app.create_lead(&sales, json!({"companyName": "Sales lead"})).await.json().await.unwrap();
    let other: Value = app.create_lead(&other_sales, json!({"companyName": "Other lead"})).await.json().await.unwrap();
    let lead_path = format!("/api/v1/leads/{}", lead["id"].as_str().unwrap());
    let other_path = format!("/api/v1/leads/{}", other["id"].as_str().unwrap());
    assert_eq!(app.get(&lead_path, Some(&manager.token)).await.status(), 200, "the manager sees the team's lead");
    problem(app.get(&other_path, Some(&manager.token)).await, 404, "NOT_FOUND").await;
    problem(app.get(&other_path, Some(&sales.token)).await, 404, "NOT_FOUND").await;
    let visible: Value = app.get_json("/api/v1/leads", Some(&manager.token)).await;
    assert_eq!(visible["data"].as_array().unwrap().len(), 1);

    // Assigned leads of a removed member become unassigned.
    let assigned: Value = app
        .create_lead(&owner, json!({"companyName": "Assigned", "assignedTo": sales.user_id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assigned["assignedTo"], sales.user_id.as_str());
    assert_eq!(app.delete(&format!("/api/v1/members/{sales_membership}"), Some(&owner.token)).await.status(), 204);
    let after: Value =
        app.get_json(&format!("/api/v1/leads/{}", assigned["id"].as_str().unwrap()), Some(&owner.token)).await;
    assert_eq!(after["assignedTo"], Value::Null);
    problem(app.get("/api/v1/me", Some(&sales.token)).await, 401, "UNAUTHENTICATED").await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'TEAM_MEMBER_REMOVED'").await, 1);
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_and_revoked_at_once() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let res = app
        .post(
            "/api/v1/api-keys",
            Some(&owner.token),
            &json!({"label": "CRM sync", "scopes": ["leads:read"], "mode": "test"}),
        )
        .await;
    let body = expect_json(res, 201).await;
    let secret = body["secret"].as_str().unwrap().to_owned();
    let id = body["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lz_test_") && secret.len() > 40);
    assert_eq!(body["apiKey"]["keyPrefix"], "lz_test_");
    assert!(body["apiKey"].get("keyHash").is_none());

    assert_eq!(app.get("/api/v1/leads", Some(&secret)).await.status(), 200);
    problem(app.post("/api/v1/leads", Some(&secret), &json!({"companyName": "x"})).await, 403, "FORBIDDEN").await;
    problem(app.get("/api/v1/api-keys", Some(&secret)).await, 403, "FORBIDDEN").await;
    problem(app.post("/api/v1/auth/logout", Some(&secret), &json!({})).await, 403, "FORBIDDEN").await;
    let mut typo = secret.clone();
    typo.pop();
    typo.push(if secret.ends_with('a') { 'b' } else { 'a' });
    problem(app.get("/api/v1/leads", Some(&typo)).await, 401, "UNAUTHENTICATED").await;

    let list: Value = app.get_json("/api/v1/api-keys", Some(&owner.token)).await;
    let listed = &list["data"][0];
    assert!(listed.get("secret").is_none() && listed["lastUsedAt"].is_string());

    let res = app
        .post(
            "/api/v1/api-keys",
            Some(&owner.token),
            &json!({"label": "", "scopes": ["leads:fly", "billing:manage"], "mode": "prod"}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["label", "scopes", "scopes", "mode"]);

    assert_eq!(app.delete(&format!("/api/v1/api-keys/{id}"), Some(&owner.token)).await.status(), 204);
    problem(app.get("/api/v1/leads", Some(&secret)).await, 401, "UNAUTHENTICATED").await;

    let (expiring, expiring_id) = app.api_key(&owner, &["leads:read"]).await;
    app.sql(&format!("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = '{expiring_id}'")).await;
    problem(app.get("/api/v1/leads", Some(&expiring)).await, 401, "UNAUTHENTICATED").await;
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type IN ('API_KEY_CREATED', 'API_KEY_REVOKED')").await,
        3
    );
}

#[tokio::test]
async fn audit_logs_filter_and_page() {
    let app = spawn_app().await;
    let owner = app.register().await;
    for i in 0..5 {
        app.create_lead(&owner, json!({"companyName": format!("L{i}")})).await;
    }
    let page: Value = app.get_json("/api/v1/audit-logs?eventType=LEAD_CREATED&limit=2", Some(&owner.token)).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let mut seen = page["data"].as_array().unwrap().len();
    let mut cursor = page["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page: Value = app
            .get_json(&format!("/api/v1/audit-logs?eventType=LEAD_CREATED&limit=2&cursor={c}"), Some(&owner.token))
            .await;
        seen += page["data"].as_array().unwrap().len();
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 5);
    let first =
        &app.get("/api/v1/audit-logs?limit=1", Some(&owner.token)).await.json::<Value>().await.unwrap()["data"][0];
    assert_eq!(first["eventType"], "LEAD_CREATED", "newest first");
    assert_eq!(first["userId"], owner.user_id.as_str());
    assert!(first["details"]["after"]["companyName"].is_string());
    for bad in ["eventType=NOPE", "from=yesterday", "cursor=forged", "entityId=x", "limit=0"] {
        problem(app.get(&format!("/api/v1/audit-logs?{bad}"), Some(&owner.token)).await, 422, "VALIDATION_FAILED")
            .await;
    }
    let sales = app.add_member(&owner, "SALES").await;
    problem(app.get("/api/v1/audit-logs", Some(&sales.token)).await, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn tenant_settings_are_validated_and_audited() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let res = app
        .patch(
            "/api/v1/tenant",
            Some(&owner.token),
            &json!({"name": "Riyadh Tech Co", "settings": {"timezone": "Asia/Dubai", "language": "ar"}}),
        )
        .await;
    let tenant = expect_json(res, 200).await;
    assert_eq!(tenant["settings"], json!({"timezone": "Asia/Dubai", "language": "ar"}));
    let res = app
        .patch("/api/v1/tenant", Some(&owner.token), &json!({"settings": {"timezone": "Mars/Base", "language": "fr"}}))
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["settings.language", "settings.timezone"]);
    let got: Value = app.get_json("/api/v1/tenant", Some(&owner.token)).await;
    assert_eq!(got["name"], "Riyadh Tech Co");
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'ORG_SETTINGS_UPDATED' AND details->'before'->>'name' <> details->'after'->>'name'").await, 1);
}

/// Every endpoint of the identity capability, by role: 2xx or 403 exactly as api.md's table says.
#[tokio::test]
async fn role_matrix() {
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    let admin = app.add_member(&owner, "ADMIN").await;
    let manager = app.add_member(&owner, "MANAGER").await;
    let sales = app.add_member(&owner, "SALES").await;
    let (scopeless_key, _) = app.api_key(&owner, &["leads:read"]).await;

    // (actor name, token, role's expected access to admin-only endpoints, is a session)
    let actors = [
        ("OWNER", owner.token.clone(), true, true),
        ("ADMIN", admin.token.clone(), true, true),
        ("MANAGER", manager.token.clone(), false, true),
        ("SALES", sales.token.clone(), false, true),
        ("API key without the scope", scopeless_key.clone(), false, false),
    ];
    for (name, token, privileged, session) in &actors {
        // Fresh targets for the mutating calls, made by the owner.
        let target = app.add_member(&owner, "SALES").await;
        let target_membership = app.membership_id(&owner, &target.user_id).await;
        let invite: Value = app
            .post_json(
                "/api/v1/invites",
                Some(&owner.token),
                &json!({"email": format!("{}@example.sa", unique("inv")), "role": "SALES"}),
            )
            .await;
        let invite_id = invite["invite"]["id"].as_str().unwrap().to_owned();
        let (_, key_id) = app.api_key(&owner, &["leads:read"]).await;

        let gated: Vec<(&str, reqwest::Response)> = vec![
            ("PATCH /tenant", app.patch("/api/v1/tenant", Some(token), &json!({"name": "Renamed"})).await),
            (
                "PATCH /members/{id}",
                app.patch(&format!("/api/v1/members/{target_membership}"), Some(token), &json!({"role": "MANAGER"}))
                    .await,
            ),
            (
                "POST /invites",
                app.post(
                    "/api/v1/invites",
                    Some(token),
                    &json!({"email": format!("{}@example.sa", unique("m")), "role": "SALES"}),
                )
                .await,
            ),
            ("GET /invites", app.get("/api/v1/invites", Some(token)).await),
            ("DELETE /invites/{id}", app.delete(&format!("/api/v1/invites/{invite_id}"), Some(token)).await),
            (
                "POST /api-keys",
                app.post(
                    "/api/v1/api-keys",
                    Some(token),
                    &json!({"label": "k", "scopes": ["leads:read"], "mode": "live"}),
                )
                .await,
            ),
            ("GET /api-keys", app.get("/api/v1/api-keys", Some(token)).await),
            ("DELETE /api-keys/{id}", app.delete(&format!("/api/v1/api-keys/{key_id}"), Some(token)).await),
            ("GET /audit-logs", app.get("/api/v1/audit-logs", Some(token)).await),
            ("DELETE /members/{id}", app.delete(&format!("/api/v1/members/{target_membership}"), Some(token)).await),
        ];
        for (endpoint, res) in gated {
            let status = res.status().as_u16();
            if *privileged {
                assert!((200..300).contains(&status), "{name} {endpoint}: {status}");
            } else {
                assert_eq!(status, 403, "{name} {endpoint}");
            }
        }
        let open: Vec<(&str, reqwest::Response)> = vec![
            ("GET /tenant", app.get("/api/v1/tenant", Some(token)).await),
            ("GET /me", app.get("/api/v1/me", Some(token)).await),
        ];
        for (endpoint, res) in open {
            assert_eq!(res.status(), 200, "{name} {endpoint}");
        }
        // Every member sees the team; a script needs the team:manage scope for people's emails.
        let members = app.get("/api/v1/members", Some(token)).await.status().as_u16();
        assert_eq!(members, if *session { 200 } else { 403 }, "{name} GET /members");
        // Account-level actions belong to people, not scripts.
        let account: Vec<(&str, reqwest::Response)> = vec![
            ("PATCH /me", app.patch("/api/v1/me", Some(token), &json!({"name": "Renamed"})).await),
            ("POST /me/2fa/setup", app.post("/api/v1/me/2fa/setup", Some(token), &json!({})).await),
        ];
        for (endpoint, res) in account {
            let status = res.status().as_u16();
            if *session {
                assert!((200..300).contains(&status), "{name} {endpoint}: {status}");
            } else {
                assert!(
                    status == 403 || (200..300).contains(&status) && endpoint == "PATCH /me",
                    "{name} {endpoint}: {status}"
                );
            }
        }
    }
}

/// Another tenant's ids are 404 on every endpoint of this capability that takes an id.
#[tokio::test]
async fn another_tenants_ids_are_404() {
    let app = spawn_app().await;
    let a = app.register().await;
    let b = app.register().await;
    let b_member = app.add_member(&b, "SALES").await;
    let b_membership = app.membership_id(&b, &b_member.user_id).await;
    let b_owner_membership = app.membership_id(&b, &b.user_id).await;
    let b_invite: Value =
        app.post_json("/api/v1/invites", Some(&b.token), &json!({"email": "z@example.sa", "role": "SALES"})).await;
    let b_invite_id = b_invite["invite"]["id"].as_str().unwrap();
    let (_, b_key) = app.api_key(&b, &["leads:read"]).await;

    for res in [
        app.patch(&format!("/api/v1/members/{b_membership}"), Some(&a.token), &json!({"role": "ADMIN"})).await,
        app.patch(&format!("/api/v1/members/{b_owner_membership}"), Some(&a.token), &json!({"status": "SUSPENDED"}))
            .await,
        app.delete(&format!("/api/v1/members/{b_membership}"), Some(&a.token)).await,
        app.delete(&format!("/api/v1/invites/{b_invite_id}"), Some(&a.token)).await,
        app.delete(&format!("/api/v1/api-keys/{b_key}"), Some(&a.token)).await,
        app.get(&format!("/api/v1/audit-logs?entityId={b_membership}"), Some(&a.token)).await,
    ] {
        let status = res.status().as_u16();
        if res.url().path().starts_with("/api/v1/audit-logs") {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["data"], json!([]), "another tenant's audit rows never show");
        } else {
            assert_eq!(status, 404, "{}", res.url());
        }
    }
    // A's member ids are not B's business either, and nothing of B changed.
    let members: Value = app.get_json("/api/v1/members", Some(&b.token)).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 2);
    assert!(members["data"].as_array().unwrap().iter().all(|m| m["status"] == "ACTIVE"));
    problem(app.patch("/api/v1/members/not-a-uuid", Some(&a.token), &json!({})).await, 404, "NOT_FOUND").await;
}

/// Regressions from review: privilege escalation through keys, stale keys, seats, suspended tenants.
#[tokio::test]
async fn keys_never_exceed_their_creator_and_seats_hold_on_reactivation() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;

    // A key that may manage keys cannot mint a stronger one.
    let (manager_key, _) = app.api_key(&owner, &["api_keys:manage", "leads:read"]).await;
    let res = app
        .post("/api/v1/api-keys", Some(&manager_key), &json!({"label": "x", "scopes": ["team:manage"], "mode": "live"}))
        .await;
    problem(res, 403, "FORBIDDEN").await;
    assert_eq!(
        app.post(
            "/api/v1/api-keys",
            Some(&manager_key),
            &json!({"label": "x", "scopes": ["leads:read"], "mode": "live"})
        )
        .await
        .status(),
        201
    );

    // An ADMIN's key shrinks when the ADMIN is demoted, and dies when they are removed.
    let admin = app.add_member(&owner, "ADMIN").await;
    let res = app
        .post(
            "/api/v1/api-keys",
            Some(&admin.token),
            &json!({"label": "a", "scopes": ["audit:read", "leads:read"], "mode": "live"}),
        )
        .await;
    let admin_key = res.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/audit-logs", Some(&admin_key)).await.status(), 200);
    let admin_membership = app.membership_id(&owner, &admin.user_id).await;
    app.patch(&format!("/api/v1/members/{admin_membership}"), Some(&owner.token), &json!({"role": "SALES"})).await;
    problem(app.get("/api/v1/audit-logs", Some(&admin_key)).await, 403, "FORBIDDEN").await;
    assert_eq!(app.get("/api/v1/leads", Some(&admin_key)).await.status(), 200);
    app.delete(&format!("/api/v1/members/{admin_membership}"), Some(&owner.token)).await;
    problem(app.get("/api/v1/leads", Some(&admin_key)).await, 401, "UNAUTHENTICATED").await;

    // Seats: the free plan has 3. Fill them, suspend one, invite, then reactivation is 402.
    app.set_plan(&owner, "free").await;
    let a = app.add_member(&owner, "SALES").await;
    let _b = app.add_member(&owner, "SALES").await;
    let a_membership = app.membership_id(&owner, &a.user_id).await;
    app.patch(&format!("/api/v1/members/{a_membership}"), Some(&owner.token), &json!({"status": "SUSPENDED"})).await;
    assert_eq!(
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "c@example.sa", "role": "SALES"}))
            .await
            .status(),
        201
    );
    let res =
        app.patch(&format!("/api/v1/members/{a_membership}"), Some(&owner.token), &json!({"status": "ACTIVE"})).await;
    let body = problem(res, 402, "QUOTA_EXCEEDED").await;
    assert_eq!(body["metric"], "seats");
}

#[tokio::test]
async fn an_invite_into_a_suspended_tenant_cannot_be_accepted() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let body: Value = app
        .post_json("/api/v1/invites", Some(&owner.token), &json!({"email": "late@example.sa", "role": "SALES"}))
        .await;
    let token = body["token"].as_str().unwrap().to_owned();
    app.post(
        &format!("/admin/v1/tenants/{}/status", owner.tenant_id),
        Some(ADMIN_TOKEN),
        &json!({"status": "SUSPENDED"}),
    )
    .await;
    let res = app
        .post("/api/v1/invites/accept", None, &json!({"token": token, "name": "L", "password": "late member 12"}))
        .await;
    problem(res, 403, "TENANT_SUSPENDED").await;
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM users WHERE email = 'late@example.sa'").await,
        0,
        "nothing half-written"
    );
}
