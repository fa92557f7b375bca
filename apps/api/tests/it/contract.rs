//! The published contract: the OpenAPI document, and the places where an independent fuzzer found
//! the server answering what api.md says it must not (each test failed before its fix).
use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_document_is_public_openapi_3_1_and_names_every_served_area() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/openapi.json", None).await;
    let doc = expect_json(res, 200).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/v1/leads", "/api/v1/leads/{id}", "/api/v1/auth/login", "/api/v1/lists", "/api/v1/jobs/{id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    let create = &doc["paths"]["/api/v1/leads"]["post"];
    assert_eq!(create["security"], json!([{"bearer": []}]));
    let problem = &create["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"];
    assert_eq!(problem, "#/components/schemas/Problem");
    let codes = &doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    assert!(codes.as_array().unwrap().contains(&json!("QUOTA_EXCEEDED")));
}

/// Finding 2: `rawData` was dropped (stored NULL) and a number or string was accepted.
#[tokio::test]
async fn custom_evidence_keeps_its_raw_data_and_refuses_non_objects() {
    let app = spawn_app().await;
    let a = app.register().await;
    let lead: Value = app.create_lead(&a, json!({"companyName": "Evidence Co"})).await.json().await.unwrap();
    let path = format!("/api/v1/leads/{}/evidence", lead["id"].as_str().unwrap());
    let res = app.post(&path, Some(&a.token), &json!({"title": "CR", "rawData": {"cr": "1010101010"}})).await;
    let created = expect_json(res, 201).await;
    assert_eq!(created["rawData"], json!({"cr": "1010101010"}));
    let listed: Value = app.get_json(&path, Some(&a.token)).await;
    assert_eq!(listed["data"][0]["rawData"], json!({"cr": "1010101010"}));
    for bad in [json!(5), json!("text"), json!([1])] {
        let res = app.post(&path, Some(&a.token), &json!({"title": "CR", "rawData": bad})).await;
        let body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), ["rawData"], "{body}");
    }
}

/// Finding 1 (evidence): `limit` and `cursor` were ignored.
#[tokio::test]
async fn evidence_pages_by_cursor_and_refuses_bad_limits_and_forged_cursors() {
    let app = spawn_app().await;
    let a = app.register().await;
    let lead: Value = app.create_lead(&a, json!({"companyName": "Paged Co"})).await.json().await.unwrap();
    let path = format!("/api/v1/leads/{}/evidence", lead["id"].as_str().unwrap());
    for i in 0..5 {
        let res = app.post(&path, Some(&a.token), &json!({"title": format!("E{i}")})).await;
        assert_eq!(res.status(), 201);
    }
    let mut titles = Vec::new();
    for page in app.pages(&format!("{path}?limit=2"), &a.token).await {
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        titles.extend(data.iter().map(|e| e["title"].as_str().unwrap().to_owned()));
    }
    assert_eq!(titles, ["E0", "E1", "E2", "E3", "E4"]);
    for query in ["limit=0", "limit=201", "limit=abc", "cursor=forged"] {
        let res = app.get(&format!("{path}?{query}"), Some(&a.token)).await;
        problem(res, 422, "VALIDATION_FAILED").await;
    }
}

/// Finding 6 (leads): `"enrichmentData": []` was stored as `{}`.
#[tokio::test]
async fn enrichment_data_must_be_an_object() {
    let app = spawn_app().await;
    let a = app.register().await;
    for bad in [json!([]), json!("x"), json!(3)] {
        let res = app.create_lead(&a, json!({"companyName": "Shape Co", "enrichmentData": bad})).await;
        let body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), ["enrichmentData"]);
    }
}

/// Finding 9 (bulk): a malformed id inside `ids` was silently dropped (200, `affected: 0`).
#[tokio::test]
async fn a_malformed_id_in_a_bulk_action_is_named() {
    let app = spawn_app().await;
    let a = app.register().await;
    let lead: Value = app.create_lead(&a, json!({"companyName": "Bulk Co"})).await.json().await.unwrap();
    let body = json!({"action": "addTags", "tags": ["x"], "ids": [lead["id"], "not-a-uuid"]});
    let res = app.post("/api/v1/leads/bulk", Some(&a.token), &body).await;
    let problem_body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem_body), ["ids[1]"]);
    let unknown = app.post("/api/v1/leads/bulk", Some(&a.token), &json!({"action": "explode", "ids": []})).await;
    let problem_body = problem(unknown, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem_body), ["action"]);
}

/// Finding 10: `?allowDuplicate=banana` was read as false.
#[tokio::test]
async fn a_bad_boolean_in_the_query_is_refused() {
    let app = spawn_app().await;
    let a = app.register().await;
    let res = app.post("/api/v1/leads?allowDuplicate=banana", Some(&a.token), &json!({"companyName": "Bool Co"})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), ["allowDuplicate"]);
    let res = app.get("/api/v1/leads?limit=abc", Some(&a.token)).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), ["limit"]);
}

/// Finding 12: an unknown method on a known path was 404; it is 405 with `Allow`.
#[tokio::test]
async fn an_unknown_method_on_a_served_path_is_405_with_allow() {
    let app = spawn_app().await;
    let res = app.client.put(app.url("/api/v1/api-keys")).send().await.unwrap();
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET, POST"));
    problem(res, 405, "METHOD_NOT_ALLOWED").await;
    let res = app.client.put(app.url("/api/v1/no-such-thing")).send().await.unwrap();
    problem(res, 404, "NOT_FOUND").await;
}

/// `errors[].message` follows `Accept-Language` like `title` and `detail`.
#[tokio::test]
async fn field_messages_are_in_the_clients_language() {
    let app = spawn_app().await;
    let a = app.register().await;
    let res = app
        .client
        .post(app.url("/api/v1/leads"))
        .bearer_auth(&a.token)
        .header("accept-language", "ar")
        .json(&json!({"score": "high"}))
        .send()
        .await
        .unwrap();
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(body["detail"], "حقل واحد أو أكثر غير صالح.");
    let messages: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(messages, [("companyName", "مطلوب"), ("score", "يجب أن يكون عددًا صحيحًا")]);
}

/// A request line with raw UTF-8 bytes (`curl 'localhost:8080/api/v1/leads?q=الرياض'`) never
/// reaches a handler: actix-http's codec answered it with an empty 400. It is the contract's
/// problem now, and so is a header the parser refuses.
#[tokio::test]
async fn requests_no_handler_can_read_get_problem_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    for raw in [
        "GET /api/v1/leads?q=الرياض HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes().to_vec(),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n".to_vec(),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(&raw).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{head}");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(400), Some("BAD_REQUEST")));
    }
    // The same search, percent-encoded as a client should send it, is an ordinary request.
    let a = app.register().await;
    let res = app.get("/api/v1/leads?q=%D8%A7%D9%84%D8%B1%D9%8A%D8%A7%D8%B6", Some(&a.token)).await;
    assert_eq!(res.status(), 200);
}

/// A literal path answers 405 for a method it does not serve, even where a template beside it
/// would take the request (`PATCH /leads/bulk` is not `PATCH /leads/{id}`).
#[tokio::test]
async fn literal_paths_are_not_taken_by_the_template_beside_them() {
    let app = spawn_app().await;
    let a = app.register().await;
    let res = app
        .client
        .patch(app.url("/api/v1/leads/bulk"))
        .bearer_auth(&a.token)
        .json(&json!({"listId": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    problem(res, 405, "METHOD_NOT_ALLOWED").await;
    let res = app.client.delete(app.url("/api/v1/invites/accept")).bearer_auth(&a.token).send().await.unwrap();
    problem(res, 405, "METHOD_NOT_ALLOWED").await;
}
