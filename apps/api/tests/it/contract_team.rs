//! api.md's team contract: an invitation names its role, and members and invitations page by
//! cursor like every other list.

use crate::helpers::*;
use serde_json::{Value, json};

async fn ids_of(res: reqwest::Response) -> (Vec<String>, Value) {
    assert_eq!(res.status(), 200, "list");
    let body: Value = res.json().await.unwrap();
    let ids = body["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    (ids, body["nextCursor"].clone())
}

/// Follows `nextCursor` with `limit` until the end; returns every page's ids.
async fn walk(app: &TestApp, path: &str, token: &str, limit: u32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let (ids, next) = ids_of(app.get(&url, Some(token)).await).await;
        pages.push(ids);
        match next {
            Value::String(c) => cursor = Some(c),
            Value::Null => return pages,
            other => panic!("nextCursor must be a string or null: {other}"),
        }
        assert!(pages.len() < 10, "paging does not end");
    }
}

async fn bad_page_queries_are_422(app: &TestApp, path: &str, token: &str) {
    for (query, field) in
        [("limit=0", "limit"), ("limit=201", "limit"), ("limit=abc", "limit"), ("cursor=forged", "cursor")]
    {
        let res = app.get(&format!("{path}?{query}"), Some(token)).await;
        let body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), vec![field], "{path}?{query}");
    }
}

#[tokio::test]
async fn an_invitation_without_a_role_is_422_naming_role() {
    let app = spawn_app().await;
    let owner = app.register().await;
    for body in [
        json!({"email": "a@example.sa"}),
        json!({"email": "a@example.sa", "role": null}),
        json!({"email": "a@example.sa", "role": "OWNER"}),
        json!({"email": "a@example.sa", "role": "BOSS"}),
        json!({"email": "a@example.sa", "role": 3}),
    ] {
        let res = app.post("/api/v1/invites", Some(&owner.token), &body).await;
        let problem_body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&problem_body), vec!["role"], "{body}");
    }
    // Both fields missing: both are named.
    let res = app.post("/api/v1/invites", Some(&owner.token), &json!({})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, vec!["email", "role"]);
    assert_eq!(app.sql_i64("SELECT count(*) FROM invites").await, 0, "no refused invitation was stored");

    // With a role, the invitation is made, with that role and its one-time token.
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "a@example.sa", "role": "MANAGER"})).await;
    let body = expect_json(res, 201).await;
    assert_eq!(body["invite"]["role"], "MANAGER");
    assert!(body["token"].as_str().unwrap().starts_with("lzi_"));
    assert_eq!(body.as_object().unwrap().len(), 2, "{{invite, token}}: {body}");
}

#[tokio::test]
async fn members_page_by_cursor() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;
    for role in ["ADMIN", "MANAGER", "SALES", "SALES"] {
        app.add_member(&owner, role).await;
    }
    let (all, next) = ids_of(app.get("/api/v1/members", Some(&owner.token)).await).await;
    assert_eq!((all.len(), next), (5, Value::Null), "the default page (50) holds the whole team");

    let pages = walk(&app, "/api/v1/members", &owner.token, 2).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    let mut paged: Vec<String> = pages.concat();
    let mut expected = all.clone();
    paged.sort();
    expected.sort();
    assert_eq!(paged, expected, "every member exactly once");
    // A page that ends exactly at the last row has no next cursor.
    assert_eq!(walk(&app, "/api/v1/members", &owner.token, 5).await.len(), 1);

    bad_page_queries_are_422(&app, "/api/v1/members", &owner.token).await;
}

#[tokio::test]
async fn invites_page_by_cursor() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;
    for i in 0..3 {
        let res = app
            .post("/api/v1/invites", Some(&owner.token), &json!({"email": format!("i{i}@example.sa"), "role": "SALES"}))
            .await;
        assert_eq!(res.status(), 201);
    }
    let pages = walk(&app, "/api/v1/invites", &owner.token, 2).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 1]);
    let (all, next) = ids_of(app.get("/api/v1/invites", Some(&owner.token)).await).await;
    assert_eq!(next, Value::Null);
    assert_eq!(pages.concat(), all, "pages in the list's order, each invitation once");
    bad_page_queries_are_422(&app, "/api/v1/invites", &owner.token).await;
}

#[tokio::test]
async fn the_document_describes_the_team_endpoints() {
    let app = spawn_app().await;
    let doc: Value = app.get_json("/api/v1/openapi.json", None).await;
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    for path in ["/api/v1/members", "/api/v1/invites"] {
        let params: Vec<&str> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path} has no parameters"))
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(params, vec!["limit", "cursor"], "GET {path}");
    }
    let body_ref =
        doc["paths"]["/api/v1/invites"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .expect("POST /invites documents its body")
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
    let invite_body = schema(&body_ref);
    assert_eq!(invite_body["required"], json!(["email", "role"]), "{invite_body}");
    let accept = &doc["paths"]["/api/v1/invites/accept"]["post"];
    assert!(accept["responses"]["410"].is_object(), "accept documents INVITE_EXPIRED");
    assert!(doc["paths"]["/api/v1/auth/register"]["post"]["security"].is_null(), "register is public");
}
