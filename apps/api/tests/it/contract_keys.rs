//! The contract of API keys, billing, admin and health as api.md words it: required key fields,
//! UTC times, paging, UUIDv7 usage counters, and the OpenAPI document of these routes.

use crate::helpers::*;
use serde_json::{Value, json};

async fn key_count(app: &TestApp, account: &Account) -> i64 {
    app.sql_i64(&format!("SELECT count(*) FROM api_keys WHERE tenant_id = '{}'", account.tenant_id)).await
}

/// `mode` and `scopes` are required: a body without them (or with `null`) mints nothing.
#[tokio::test]
async fn an_api_key_needs_its_mode_and_scopes() {
    let app = spawn_app().await;
    let owner = app.register().await;

    let body = problem(
        app.post("/api/v1/api-keys", Some(&owner.token), &json!({"label": "k"})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, vec!["mode", "scopes"], "{body}");

    let body = problem(
        app.post(
            "/api/v1/api-keys",
            Some(&owner.token),
            &json!({"label": "k", "scopes": ["leads:read"], "mode": null}),
        )
        .await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["mode"], "{body}");

    let body = problem(
        app.post("/api/v1/api-keys", Some(&owner.token), &json!({"label": "k", "mode": "live", "scopes": null})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["scopes"], "{body}");
    assert_eq!(key_count(&app, &owner).await, 0, "nothing was minted");

    // With both, a key of that mode.
    let res = app
        .post("/api/v1/api-keys", Some(&owner.token), &json!({"label": "k", "scopes": ["leads:read"], "mode": "test"}))
        .await;
    let created = expect_json(res, 201).await;
    assert!(created["secret"].as_str().unwrap().starts_with("lz_test_"), "{created}");
    assert_eq!(created["apiKey"]["scopes"], json!(["leads:read"]));
    assert_eq!(key_count(&app, &owner).await, 1);
}

/// A client's offset is never echoed: every time in a response is UTC (`Z`).
#[tokio::test]
async fn times_a_client_sends_come_back_in_utc() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let res = app
        .post(
            "/api/v1/api-keys",
            Some(&owner.token),
            &json!({"label": "k", "scopes": ["leads:read"], "mode": "live", "expiresAt": "2031-01-01T12:00:00+03:00"}),
        )
        .await;
    let created = expect_json(res, 201).await;
    assert_eq!(created["apiKey"]["expiresAt"], "2031-01-01T09:00:00Z", "{created}");
    let list: Value = app.get_json("/api/v1/api-keys", Some(&owner.token)).await;
    assert_eq!(list["data"][0]["expiresAt"], "2031-01-01T09:00:00Z", "{list}");
    assert!(list["data"][0]["createdAt"].as_str().unwrap().ends_with('Z'), "{list}");

    // An operator's override too.
    let path = format!("/admin/v1/tenants/{}/features/export", owner.tenant_id);
    let res =
        app.put_json(&path, ADMIN_TOKEN, &json!({"enabled": false, "expiresAt": "2031-06-30T23:30:00-04:00"})).await;
    let o = expect_json(res, 200).await;
    assert_eq!(o["expiresAt"], "2031-07-01T03:30:00Z", "{o}");
    assert!(o["createdAt"].as_str().unwrap().ends_with('Z'), "{o}");
}

/// Usage counters get time-ordered ids like every other row.
#[tokio::test]
async fn usage_counter_ids_are_uuid_v7() {
    let app = spawn_app().await;
    let owner = app.register().await;
    assert_eq!(app.create_lead(&owner, json!({"companyName": "Metered Co"})).await.status(), 201);
    let tenant = &owner.tenant_id;
    let total = app.sql_i64(&format!("SELECT count(*) FROM usage_counters WHERE tenant_id = '{tenant}'")).await;
    let v7 = app
        .sql_i64(&format!(
            "SELECT count(*) FROM usage_counters WHERE tenant_id = '{tenant}' AND substr(id::text, 15, 1) = '7'"
        ))
        .await;
    assert!(total >= 1, "the lead was counted");
    assert_eq!(v7, total, "every usage counter id is a UUIDv7");

    // The API shows the same ids, and a second lead keeps the counter (and its id).
    let usage: Value = app.get_json("/api/v1/usage", Some(&owner.token)).await;
    let leads = usage["data"].as_array().unwrap().iter().find(|c| c["metric"] == "leads").unwrap().clone();
    let id: uuid::Uuid = leads["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.get_version_num(), 7, "{usage}");
    assert_eq!(app.create_lead(&owner, json!({"companyName": "Second Co"})).await.status(), 201);
    let usage: Value = app.get_json("/api/v1/usage", Some(&owner.token)).await;
    let again = usage["data"].as_array().unwrap().iter().find(|c| c["metric"] == "leads").unwrap();
    assert_eq!((again["id"].clone(), again["value"].clone()), (leads["id"].clone(), json!(2)));
}

/// `GET /api-keys` pages like every list: `limit` 1–200, an opaque cursor, 422 when either is bad.
#[tokio::test]
async fn api_keys_page_by_cursor() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let mut made = Vec::new();
    for i in 0..3 {
        let res = app
            .post(
                "/api/v1/api-keys",
                Some(&owner.token),
                &json!({"label": format!("k{i}"), "scopes": ["leads:read"], "mode": "live"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        made.push(res.json::<Value>().await.unwrap()["apiKey"]["id"].as_str().unwrap().to_owned());
    }

    let first: Value = app.get_json("/api/v1/api-keys?limit=2", Some(&owner.token)).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2, "{first}");
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
    let second: Value = app.get_json(&format!("/api/v1/api-keys?limit=2&cursor={cursor}"), Some(&owner.token)).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["nextCursor"], Value::Null);
    let seen: Vec<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, made, "each key once, oldest first");
    let all: Value = app.get_json("/api/v1/api-keys", Some(&owner.token)).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "default page holds them all");

    for (query, field) in
        [("limit=0", "limit"), ("limit=201", "limit"), ("limit=abc", "limit"), ("cursor=forged-cursor", "cursor")]
    {
        let body =
            problem(app.get(&format!("/api/v1/api-keys?{query}"), Some(&owner.token)).await, 422, "VALIDATION_FAILED")
                .await;
        assert_eq!(error_fields(&body), vec![field], "{query}: {body}");
    }
}

/// The operator token is checked before the body: a stranger gets 401, not a validation error.
#[tokio::test]
async fn admin_bodies_are_typed_behind_the_operator_token() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let path = format!("/admin/v1/tenants/{}/status", owner.tenant_id);
    problem(app.post(&path, None, &json!({"status": 7})).await, 401, "UNAUTHENTICATED").await;
    let body = problem(app.post(&path, Some(ADMIN_TOKEN), &json!({})).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["status"]);
    let body = problem(
        app.post("/admin/v1/feature-flags", Some(ADMIN_TOKEN), &json!({"name": "No key"})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["key"]);
    let flag_path = format!("/admin/v1/tenants/{}/features/export", owner.tenant_id);
    let res = app.put_json(&flag_path, ADMIN_TOKEN, &json!({})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["enabled"]);
}

/// The document describes these routes: typed bodies, who needs a token, the content types.
#[tokio::test]
async fn the_document_describes_keys_billing_admin_and_health() {
    let app = spawn_app().await;
    let doc: Value = app.get_json("/api/v1/openapi.json", None).await;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let schema_of = |op: &Value| -> Value {
        let s = &op["requestBody"]["content"]["application/json"]["schema"];
        match s["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
            None => s.clone(),
        }
    };

    let create = op("/api/v1/api-keys", "post");
    let mut required: Vec<String> =
        schema_of(&create)["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    required.sort();
    assert_eq!(required, vec!["label", "mode", "scopes"]);
    assert!(create["responses"]["201"].is_object(), "{create}");
    let list = op("/api/v1/api-keys", "get");
    let params: Vec<&str> =
        list["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, vec!["limit", "cursor"]);

    for (path, method) in [
        ("/api/v1/api-keys/{id}", "delete"),
        ("/api/v1/billing/subscription", "get"),
        ("/api/v1/billing/subscription/change", "post"),
        ("/api/v1/billing/subscription/cancel", "post"),
        ("/api/v1/usage", "get"),
        ("/api/v1/features", "get"),
        ("/admin/v1/tenants", "get"),
        ("/admin/v1/tenants/{id}/status", "post"),
        ("/admin/v1/feature-flags", "get"),
        ("/admin/v1/feature-flags", "post"),
        ("/admin/v1/feature-flags/{key}", "patch"),
        ("/admin/v1/tenants/{id}/features/{key}", "put"),
        ("/admin/v1/tenants/{id}/features/{key}", "delete"),
    ] {
        assert_eq!(op(path, method)["security"], json!([{"bearer": []}]), "{method} {path}");
    }
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/plans", "get"),
        ("/webhooks/stripe", "post"),
    ] {
        let o = op(path, method);
        assert!(o.is_object(), "{method} {path} is documented");
        assert!(o["security"].is_null(), "{method} {path} is public");
    }
    assert!(op("/metrics", "get")["responses"]["200"]["content"]["text/plain"].is_object());
    assert!(op("/webhooks/stripe", "post")["requestBody"]["content"]["application/json"].is_object());
    assert_eq!(
        schema_of(&op("/admin/v1/tenants/{id}/status", "post"))["properties"]["status"]["$ref"],
        "#/components/schemas/TenantStatus"
    );
}
