//! Plans, feature flags with rollout and overrides, and the export feature guard.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn plans_are_public_in_order_with_arabic_names() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/plans", None).await;
    assert_eq!(res.status(), 200);
    let plans: Value = res.json().await.unwrap();
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
    let features: Value = app.get("/api/v1/features", Some(&owner.token)).await.json().await.unwrap();
    assert_eq!(
        (features["export"].clone(), features["whatsapp_bulk"].clone(), features["ai_reports"].clone()),
        (json!(true), json!(false), json!(false))
    );

    // An override turns the plan's export off: the export guard answers 403 FEATURE_DISABLED.
    let path = format!("/admin/v1/tenants/{}/features/export", owner.tenant_id);
    let res =
        app.client.put(app.url(&path)).bearer_auth(ADMIN_TOKEN).json(&json!({"enabled": false})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body =
        problem(app.post("/api/v1/exports", Some(&owner.token), &json!({})).await, 403, "FEATURE_DISABLED").await;
    assert_eq!(body["feature"], "export");
    // An expired override is ignored.
    let res = app
        .client
        .put(app.url(&path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"enabled": false, "expiresAt": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.post("/api/v1/exports", Some(&owner.token), &json!({})).await.status(), 202);
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
        let f: Value = app.get("/api/v1/features", Some(&owner.token)).await.json().await.unwrap();
        assert_eq!(f["new_search"], expected, "stable across calls");
    }
    let res =
        app.patch("/admin/v1/feature-flags/new_search", Some(ADMIN_TOKEN), &json!({"rolloutPercentage": 100})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["rolloutPercentage"], 100);
    let f: Value = app.get("/api/v1/features", Some(&owner.token)).await.json().await.unwrap();
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
    let res =
        app.client.put(app.url(&ghost)).bearer_auth(ADMIN_TOKEN).json(&json!({"enabled": true})).send().await.unwrap();
    problem(res, 404, "NOT_FOUND").await;
    let flags: Value = app.get("/admin/v1/feature-flags", Some(ADMIN_TOKEN)).await.json().await.unwrap();
    assert_eq!(flags["data"].as_array().unwrap().len(), 1);
}
