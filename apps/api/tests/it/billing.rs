//! Plans, feature flags with rollout and overrides, and the export feature guard.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn plans_are_public_in_order_with_arabic_names() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/plans", None).await;
    let plans = expect_json(res, 200).await;
    let ids: Vec<&str> = plans["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["free", "starter", "pro", "enterprise"]);
    assert_eq!(plans["data"][1]["nameAr"], "المبتدئ");
    assert_eq!(plans["data"][1]["priceMonthly"], 19900);
    assert_eq!(plans["data"][3]["seatsLimit"], -1);
}

#[tokio::test]
async fn features_follow_override_then_plan_then_rollout() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let features: Value = app.get_json("/api/v1/features", Some(&owner.token)).await;
    assert_eq!(
        (features["export"].clone(), features["whatsapp_bulk"].clone(), features["ai_reports"].clone()),
        (json!(true), json!(false), json!(false))
    );

    // An override turns the plan's export off: the export guard answers 403 FEATURE_DISABLED.
    let path = format!("/admin/v1/tenants/{}/features/export", owner.tenant_id);
    let res = app.put_json(&path, ADMIN_TOKEN, &json!({"enabled": false})).await;
    assert_eq!(res.status(), 200);
    let body = problem(
        app.post("/api/v1/exports", Some(&owner.token), &json!({"format": "csv"})).await,
        403,
        "FEATURE_DISABLED",
    )
    .await;
    assert_eq!(body["feature"], "export");
    // An expired override is ignored.
    let res = app.put_json(&path, ADMIN_TOKEN, &json!({"enabled": false, "expiresAt": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.post("/api/v1/exports", Some(&owner.token), &json!({"format": "csv"})).await.status(), 202);
    assert_eq!(app.delete(&path, Some(ADMIN_TOKEN)).await.status(), 204);
    problem(app.delete(&path, Some(ADMIN_TOKEN)).await, 404, "NOT_FOUND").await;

    // A global flag at 30%: the API agrees with the tenant's stable bucket; at 100% everyone has it.
    let res = app
        .post(
            "/admin/v1/feature-flags",
            Some(ADMIN_TOKEN),
            &json!({"key": "new_search", "name": "New search", "enabled": true, "rolloutPercentage": 30}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let tenant: leadzone_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let expected = leadzone_domain::flags::bucket("new_search", tenant) < 30;
    for _ in 0..3 {
        let f: Value = app.get_json("/api/v1/features", Some(&owner.token)).await;
        assert_eq!(f["new_search"], expected, "stable across calls");
    }
    let res =
        app.patch("/admin/v1/feature-flags/new_search", Some(ADMIN_TOKEN), &json!({"rolloutPercentage": 100})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["rolloutPercentage"], 100);
    let f: Value = app.get_json("/api/v1/features", Some(&owner.token)).await;
    assert_eq!(f["new_search"], true);

    // Operator input is validated; the flag API needs the operator token.
    problem(
        app.post("/admin/v1/feature-flags", Some(ADMIN_TOKEN), &json!({"key": "Bad Key!", "rolloutPercentage": 101}))
            .await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    problem(
        app.post("/admin/v1/feature-flags", Some(ADMIN_TOKEN), &json!({"key": "new_search"})).await,
        409,
        "CONFLICT",
    )
    .await;
    problem(
        app.patch("/admin/v1/feature-flags/nope", Some(ADMIN_TOKEN), &json!({"enabled": true})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    problem(app.get("/admin/v1/feature-flags", Some(&owner.token)).await, 401, "UNAUTHENTICATED").await;
    let ghost = format!("/admin/v1/tenants/{}/features/export", uuid::Uuid::now_v7());
    let res = app.put_json(&ghost, ADMIN_TOKEN, &json!({"enabled": true})).await;
    problem(res, 404, "NOT_FOUND").await;
    let flags: Value = app.get_json("/admin/v1/feature-flags", Some(ADMIN_TOKEN)).await;
    assert_eq!(flags["data"].as_array().unwrap().len(), 1);
}

/// With 10 units left, 50 concurrent `POST /leads` across two server processes on one database
/// give exactly 10 × 201 and 40 × 402, and the counter reads the limit.
#[tokio::test]
async fn quotas_are_exact_under_concurrency_across_two_processes() {
    use std::process::{Command, Stdio};
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let owner = app.register().await;
    // The free plan allows 100 leads a month: use 90 of them.
    let period = leadzone_domain::billing::usage_period(time::OffsetDateTime::now_utc(), "Asia/Riyadh");
    app.sql(&format!(
        "INSERT INTO usage_counters (tenant_id, metric, period, value) VALUES ('{}', 'leads', '{period}', 90)",
        owner.tenant_id
    ))
    .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut other = Command::new(env!("CARGO_BIN_EXE_leadzone"))
        .args(["serve", "--no-migrate"])
        .env("DATABASE_URL", app.db.owner_url())
        .env("DATABASE_APP_URL", app.db.app_url())
        .env("DATABASE_SYSTEM_URL", app.db.system_url())
        .env("LEADZONE_BIND", format!("127.0.0.1:{port}"))
        .env("LEADZONE_WORKERS", "0")
        .env("LEADZONE_MASTER_KEY", TEST_MASTER_KEY)
        .env("LEADZONE_DATA_DIR", &app.data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let second = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..120 {
        if client.get(format!("{second}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(up, "the second server process started");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = if i % 2 == 0 { app.base.clone() } else { second.clone() };
            let (client, token) = (client.clone(), owner.token.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/api/v1/leads"))
                    .bearer_auth(token)
                    .json(&json!({"companyName": format!("Concurrent company {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 402).count(), 40, "{statuses:?}");
    assert_eq!(
        app.sql_i64(&format!(
            "SELECT value::bigint FROM usage_counters WHERE metric = 'leads' AND period = '{period}'"
        ))
        .await,
        100
    );
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 10);
}

#[tokio::test]
async fn subscription_usage_upgrade_trial_blocked_downgrade_and_cancel() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let other = app.register().await;
    for i in 0..2 {
        app.create_lead(&owner, json!({"companyName": format!("L{i}")})).await;
    }
    let sub: Value = app.get_json("/api/v1/billing/subscription", Some(&owner.token)).await;
    assert_eq!(sub["plan"]["id"], "free");
    assert_eq!(sub["subscription"]["status"], "ACTIVE");
    assert_eq!(sub["usage"]["seats"], json!({"used": 1, "limit": 3}));
    assert_eq!(sub["usage"]["leads"], json!({"used": 2, "limit": 100}));

    // First paid plan: a 14-day trial.
    let res = app
        .post(
            "/api/v1/billing/subscription/change",
            Some(&owner.token),
            &json!({"planId": "starter", "billingCycle": "MONTHLY"}),
        )
        .await;
    let sub = expect_json(res, 200).await;
    assert_eq!(
        (sub["plan"]["id"].clone(), sub["subscription"]["status"].clone()),
        (json!("starter"), json!("TRIALING"))
    );
    let trial_end = time::OffsetDateTime::parse(
        sub["subscription"]["trialEndsAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (trial_end - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((13 * 24..=14 * 24).contains(&days), "{days} hours");
    assert_eq!(sub["usage"]["leads"]["limit"], 2000);
    // A second upgrade is not a new trial.
    let sub: Value =
        app.post_json("/api/v1/billing/subscription/change", Some(&owner.token), &json!({"planId": "pro"})).await;
    assert_eq!(sub["subscription"]["status"], "ACTIVE");
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'SUBSCRIPTION_UPGRADED'").await, 2);

    // A downgrade below this month's use is refused, naming the metric.
    let period = leadzone_domain::billing::usage_period(time::OffsetDateTime::now_utc(), "Asia/Riyadh");
    app.sql(&format!("UPDATE usage_counters SET value = 150 WHERE metric = 'leads' AND period = '{period}'")).await;
    let body = problem(
        app.post("/api/v1/billing/subscription/change", Some(&owner.token), &json!({"planId": "free"})).await,
        409,
        "PLAN_LIMIT_CONFLICT",
    )
    .await;
    assert_eq!(
        (body["metric"].clone(), body["limit"].clone(), body["used"].clone()),
        (json!("leads"), json!(100), json!(150))
    );
    assert_eq!(
        app.get("/api/v1/billing/subscription", Some(&owner.token)).await.json::<Value>().await.unwrap()["plan"]["id"],
        "pro"
    );
    problem(
        app.post("/api/v1/billing/subscription/change", Some(&owner.token), &json!({"planId": "platinum"})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    problem(
        app.post(
            "/api/v1/billing/subscription/change",
            Some(&owner.token),
            &json!({"planId": "starter", "billingCycle": "WEEKLY"}),
        )
        .await,
        422,
        "VALIDATION_FAILED",
    )
    .await;

    // Cancel at period end.
    let sub: Value = app.post_json("/api/v1/billing/subscription/cancel", Some(&owner.token), &json!({})).await;
    assert_eq!(sub["subscription"]["cancelAtPeriodEnd"], true);
    assert_eq!(sub["subscription"]["status"], "ACTIVE", "still active until the period ends");
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'SUBSCRIPTION_CANCELLED'").await, 1);

    // Usage by period.
    let usage: Value = app.get_json(&format!("/api/v1/usage?period={period}"), Some(&owner.token)).await;
    assert_eq!(usage["data"][0]["metric"], "leads");
    assert_eq!(usage["data"][0]["value"], 150);
    problem(app.get("/api/v1/usage?period=2026-13", Some(&owner.token)).await, 422, "VALIDATION_FAILED").await;

    // Roles, isolation, suspension.
    let admin = app.add_member(&owner, "ADMIN").await;
    let sales = app.add_member(&owner, "SALES").await;
    assert_eq!(app.get("/api/v1/billing/subscription", Some(&admin.token)).await.status(), 200);
    problem(
        app.post("/api/v1/billing/subscription/change", Some(&admin.token), &json!({"planId": "starter"})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    problem(app.get("/api/v1/billing/subscription", Some(&sales.token)).await, 403, "FORBIDDEN").await;
    let theirs: Value = app.get_json("/api/v1/billing/subscription", Some(&other.token)).await;
    assert_eq!(
        (theirs["plan"]["id"].clone(), theirs["usage"]["leads"]["used"].clone()),
        (json!("free"), json!(0)),
        "another tenant's billing is its own"
    );
    app.post(
        &format!("/admin/v1/tenants/{}/status", owner.tenant_id),
        Some(ADMIN_TOKEN),
        &json!({"status": "SUSPENDED"}),
    )
    .await;
    assert_eq!(
        app.get("/api/v1/billing/subscription", Some(&owner.token)).await.status(),
        200,
        "billing stays reachable when suspended"
    );
}

fn stripe_signature(body: &str, t: i64, secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = ring::hmac::sign(&key, format!("{t}.{body}").as_bytes());
    let hex: String = sig.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

async fn deliver(app: &TestApp, body: &Value, signature: Option<String>) -> reqwest::Response {
    let raw = body.to_string();
    let sig = signature
        .unwrap_or_else(|| stripe_signature(&raw, time::OffsetDateTime::now_utc().unix_timestamp(), STRIPE_SECRET));
    app.client
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", sig)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap()
}

fn event(id: &str, kind: &str, created: i64, sub: &str) -> Value {
    let object = if kind == "customer.subscription.deleted" {
        json!({"id": sub})
    } else {
        json!({"subscription": sub, "period_end": created + 30 * 86_400})
    };
    json!({"id": id, "type": kind, "created": created, "data": {"object": object}})
}

async fn status(app: &TestApp, owner: &Account) -> String {
    let sub: Value = app.get_json("/api/v1/billing/subscription", Some(&owner.token)).await;
    sub["subscription"]["status"].as_str().unwrap().to_owned()
}

/// Puts the tenant on Pro, paid through the Stripe subscription `subscription_id`.
async fn on_pro_with_stripe(app: &TestApp, owner: &Account, subscription_id: &str) {
    app.sql(&format!(
        "UPDATE subscriptions SET plan_id = 'pro', stripe_subscription_id = '{subscription_id}' WHERE tenant_id = '{}'",
        owner.tenant_id
    ))
    .await;
}

#[tokio::test]
async fn stripe_webhooks_are_verified_applied_once_and_ordered_by_created() {
    let app = spawn_app().await;
    let owner = app.register().await;
    on_pro_with_stripe(&app, &owner, "sub_123").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // A bad signature, a stale timestamp and a missing header change nothing.
    let failed = event("evt_1", "invoice.payment_failed", now - 60, "sub_123");
    let raw = failed.to_string();
    problem(deliver(&app, &failed, Some(stripe_signature(&raw, now, "whsec_wrong"))).await, 400, "BAD_REQUEST").await;
    problem(deliver(&app, &failed, Some(stripe_signature(&raw, now - 301, STRIPE_SECRET))).await, 400, "BAD_REQUEST")
        .await;
    let res = app.client.post(app.url("/webhooks/stripe")).body(raw.clone()).send().await.unwrap();
    problem(res, 400, "BAD_REQUEST").await;
    assert_eq!(status(&app, &owner).await, "ACTIVE");

    // payment_failed → PAST_DUE; its replay changes nothing; paid → ACTIVE.
    assert_eq!(deliver(&app, &failed, None).await.status(), 200);
    assert_eq!(status(&app, &owner).await, "PAST_DUE");
    let replay: Value = deliver(&app, &failed, None).await.json().await.unwrap();
    assert_eq!(replay["outcome"], "replayed");
    let paid = event("evt_2", "invoice.paid", now - 30, "sub_123");
    assert_eq!(deliver(&app, &paid, None).await.status(), 200);
    assert_eq!(status(&app, &owner).await, "ACTIVE");
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'PAYMENT_FAILED'").await, 1);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'PAYMENT_SUCCEEDED'").await, 1);
    // The provider acted, not a member: no actor, no client on those rows.
    assert_eq!(
        app.sql_i64(
            "SELECT count(*) FROM audit_logs WHERE event_type IN ('PAYMENT_FAILED', 'PAYMENT_SUCCEEDED')
               AND user_id IS NULL AND ip_address IS NULL AND user_agent IS NULL"
        )
        .await,
        2
    );

    // Unknown subscriptions and event types are acknowledged and ignored.
    let other: Value =
        deliver(&app, &event("evt_9", "invoice.paid", now, "sub_unknown"), None).await.json().await.unwrap();
    assert_eq!(other["outcome"], "ignored");
    let other: Value = deliver(
        &app,
        &json!({"id": "evt_10", "type": "charge.refunded", "created": now, "data": {"object": {}}}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(other["outcome"], "ignored");
}

#[tokio::test]
async fn stripe_events_in_reverse_order_end_in_the_right_state() {
    let app = spawn_app().await;
    let owner = app.register().await;
    on_pro_with_stripe(&app, &owner, "sub_rev").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // First the failure made it PAST_DUE…
    deliver(&app, &event("evt_a", "invoice.payment_failed", now - 120, "sub_rev"), None).await;
    assert_eq!(status(&app, &owner).await, "PAST_DUE");
    // …then the payment (created later) and a second failure created in between arrive reversed.
    deliver(&app, &event("evt_c", "invoice.paid", now - 30, "sub_rev"), None).await;
    deliver(&app, &event("evt_b", "invoice.payment_failed", now - 60, "sub_rev"), None).await;
    assert_eq!(status(&app, &owner).await, "ACTIVE", "the older failure does not undo the newer payment");
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'PAYMENT_FAILED'").await,
        2,
        "both failures are on record"
    );
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'PAYMENT_SUCCEEDED'").await, 1);
    deliver(&app, &event("evt_d", "customer.subscription.deleted", now, "sub_rev"), None).await;
    assert_eq!(status(&app, &owner).await, "CANCELLED");
}

/// The hourly billing step: past the grace period a PAST_DUE tenant becomes UNPAID and read-only;
/// a subscription cancelled at period end moves to CANCELLED on the free plan once the period ends.
#[tokio::test]
async fn grace_period_and_period_end() {
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let owner = app.register().await;
    let other = app.register().await;
    app.sql(&format!(
        "UPDATE subscriptions SET plan_id = 'pro', status = 'PAST_DUE', stripe_event_at = now() - interval '8 days' WHERE tenant_id = '{}';
         UPDATE subscriptions SET plan_id = 'pro', cancel_at_period_end = true, current_period_end = now() - interval '1 minute' WHERE tenant_id = '{}'",
        owner.tenant_id, other.tenant_id
    ))
    .await;
    let lead: Value = app.create_lead(&owner, json!({"companyName": "Before"})).await.json().await.unwrap();
    let (core, _, _) = leadzone_api::startup::build_core(&app.settings).await.unwrap();
    assert_eq!(core.billing.run_billing_periods(time::OffsetDateTime::now_utc()).await.unwrap(), 2);
    assert_eq!(core.billing.run_billing_periods(time::OffsetDateTime::now_utc()).await.unwrap(), 0, "nothing twice");

    assert_eq!(status(&app, &owner).await, "UNPAID");
    problem(app.create_lead(&owner, json!({"companyName": "After"})).await, 402, "SUBSCRIPTION_UNPAID").await;
    assert_eq!(
        app.get(&format!("/api/v1/leads/{}", lead["id"].as_str().unwrap()), Some(&owner.token)).await.status(),
        200,
        "reads still work"
    );
    assert_eq!(app.get("/api/v1/billing/subscription", Some(&owner.token)).await.status(), 200);

    let theirs: Value = app.get_json("/api/v1/billing/subscription", Some(&other.token)).await;
    assert_eq!(
        (theirs["subscription"]["status"].clone(), theirs["plan"]["id"].clone()),
        (json!("CANCELLED"), json!("free"))
    );
    assert_eq!(app.create_lead(&other, json!({"companyName": "Still free"})).await.status(), 201);
}

/// `invoice.payment_failed` then `invoice.paid`, delivered the other way round: ACTIVE at the end,
/// both audit rows written.
#[tokio::test]
async fn failed_then_paid_delivered_reversed() {
    let app = spawn_app().await;
    let owner = app.register().await;
    on_pro_with_stripe(&app, &owner, "sub_x").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(deliver(&app, &event("evt_paid", "invoice.paid", now - 10, "sub_x"), None).await.status(), 200);
    assert_eq!(
        deliver(&app, &event("evt_failed", "invoice.payment_failed", now - 20, "sub_x"), None).await.status(),
        200
    );
    assert_eq!(status(&app, &owner).await, "ACTIVE");
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type IN ('PAYMENT_FAILED', 'PAYMENT_SUCCEEDED')")
            .await,
        2
    );
}
