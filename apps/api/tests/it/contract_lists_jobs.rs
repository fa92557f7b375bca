//! The contract of lists, imports, exports and jobs: where the server answered what api.md says it
//! must not (each test failed before its fix), and the documented shapes of their bodies.

use crate::helpers::*;
use serde_json::{Value, json};

async fn static_list(app: &TestApp, who: &Account, name: &str) -> Value {
    let res = app.post("/api/v1/lists", Some(&who.token), &json!({"name": name, "isSmart": false})).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Finding 1 (lists): `limit` and `cursor` were ignored; every list came back on one page.
#[tokio::test]
async fn lists_page_by_cursor_and_refuse_bad_limits_and_forged_cursors() {
    let app = spawn_app().await;
    let a = app.register().await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(static_list(&app, &a, &format!("List {i}")).await["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            None => "/api/v1/lists?limit=2".to_owned(),
            Some(c) => format!("/api/v1/lists?limit=2&cursor={c}"),
        };
        let res = app.get(&url, Some(&a.token)).await;
        let page = expect_json(res, 200).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2, "{page}");
        assert!(data.iter().all(|l| l["leadsCount"] == 0));
        seen.extend(data.iter().map(|l| l["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(page["nextCursor"].is_null());
                break;
            }
        }
    }
    assert_eq!((pages, seen), (3, made), "oldest first, each list once");
    let all: Value = app.get_json("/api/v1/lists", Some(&a.token)).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5, "the default page holds 50");
    for bad in ["limit=0", "limit=201", "limit=abc", "cursor=forged", "cursor=eyJhZnRlciI6MX0"] {
        let body =
            problem(app.get(&format!("/api/v1/lists?{bad}"), Some(&a.token)).await, 422, "VALIDATION_FAILED").await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(error_fields(&body), [field], "{bad}: {body}");
    }
}

/// Finding 4: an export without `format` (no body at all, or `{}`) started a job.
#[tokio::test]
async fn an_export_needs_its_format() {
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let a = app.register().await;
    let bare = app.client.post(app.url("/api/v1/exports")).bearer_auth(&a.token).send().await.unwrap();
    let body = problem(bare, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), ["format"], "{body}");
    for bad in
        [json!({}), json!({"filter": {}}), json!({"format": "xlsx"}), json!({"format": null}), json!({"format": 1})]
    {
        let body = problem(app.post("/api/v1/exports", Some(&a.token), &bad).await, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), ["format"], "{bad}: {body}");
    }
    let body = problem(
        app.post("/api/v1/exports", Some(&a.token), &json!({"format": "csv", "filter": {"listId": null}})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), ["filter.listId"], "a null filter key would widen the export: {body}");
    assert_eq!(app.sql_i64("SELECT count(*) FROM jobs").await, 0, "no job was started");
    let res =
        app.post("/api/v1/exports", Some(&a.token), &json!({"format": "csv", "filter": {"city": ["Riyadh"]}})).await;
    assert_eq!(res.status(), 202);
    let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/jobs/{}", body["job"]["id"].as_str().unwrap()));
    assert_eq!((body["job"]["type"].clone(), body["job"]["status"].clone()), (json!("EXPORT"), json!("PENDING")));
    assert_eq!(body["job"]["input"], json!({"filter": {"city": ["Riyadh"]}, "format": "csv"}));
    let res = app.post("/api/v1/exports", Some(&a.token), &json!({"format": "csv", "filter": null})).await;
    assert_eq!(res.status(), 202, "a null filter is no filter");
}

/// Finding 6: a missing or null `isSmart` was taken as false, `"smartFilters":[null,null]` was
/// stored as `{}` (a smart list of every lead), and wrong types slipped through.
#[tokio::test]
async fn a_list_states_its_kind_and_smart_filters_are_an_object() {
    let app = spawn_app().await;
    let a = app.register().await;
    for (bad, field) in [
        (json!({"name": "No kind"}), "isSmart"),
        (json!({"name": "Null kind", "isSmart": null}), "isSmart"),
        (json!({"name": "Text kind", "isSmart": "true"}), "isSmart"),
        (json!({"name": "Pairs", "isSmart": true, "smartFilters": [null, null]}), "smartFilters"),
        (json!({"name": "Text", "isSmart": true, "smartFilters": "city=Riyadh"}), "smartFilters"),
        (json!({"name": "Number", "isSmart": true, "smartFilters": 7}), "smartFilters"),
        (json!({"name": "Unknown", "isSmart": true, "smartFilters": {"town": ["Riyadh"]}}), "smartFilters.town"),
        (json!({"name": "Status", "isSmart": true, "smartFilters": {"status": ["WON"]}}), "smartFilters.status[0]"),
        (json!({"name": 5, "isSmart": false}), "name"),
        (json!({"isSmart": false}), "name"),
        (json!({"name": "Colour", "isSmart": false, "color": ["red"]}), "color"),
    ] {
        let body = problem(app.post("/api/v1/lists", Some(&a.token), &bad).await, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), [field], "{bad}: {body}");
    }
    assert_eq!(app.sql_i64("SELECT count(*) FROM lists").await, 0);

    // A smart list needs its filters; `{}` is a filter that matches every lead, on purpose.
    let body = problem(
        app.post("/api/v1/lists", Some(&a.token), &json!({"name": "Smart", "isSmart": true})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), ["smartFilters"]);
    let res =
        app.post("/api/v1/lists", Some(&a.token), &json!({"name": "All", "isSmart": true, "smartFilters": {}})).await;
    let smart = expect_json(res, 201).await;
    assert_eq!((smart["isSmart"].clone(), smart["smartFilters"].clone()), (json!(true), json!({})));

    // PATCH keeps its semantics: absent stays, null clears, the kind never changes.
    let list = static_list(&app, &a, "Static").await;
    let path = format!("/api/v1/lists/{}", list["id"].as_str().unwrap());
    let res = app.patch(&path, Some(&a.token), &json!({"description": "Hot leads", "color": "#ff0000"})).await;
    assert_eq!(res.status(), 200);
    let res = app.patch(&path, Some(&a.token), &json!({"color": null})).await;
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (patched["name"].clone(), patched["description"].clone(), patched["color"].clone()),
        (json!("Static"), json!("Hot leads"), Value::Null)
    );
    let body =
        problem(app.patch(&path, Some(&a.token), &json!({"isSmart": true})).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), ["isSmart"]);
    assert_eq!(app.patch(&path, Some(&a.token), &json!({"isSmart": false})).await.status(), 200);
    let body =
        problem(app.patch(&path, Some(&a.token), &json!({"isSmart": "no"})).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), ["isSmart"]);
    let smart_path = format!("/api/v1/lists/{}", smart["id"].as_str().unwrap());
    let body = problem(
        app.patch(&smart_path, Some(&a.token), &json!({"smartFilters": [null]})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), ["smartFilters"]);
    let res = app.patch(&smart_path, Some(&a.token), &json!({"smartFilters": {"city": ["Riyadh"]}})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["smartFilters"], json!({"city": ["Riyadh"]}));
}

/// Finding 9 (lists): a malformed id inside `leadIds` was silently dropped (200, affected 0).
#[tokio::test]
async fn a_malformed_lead_id_in_a_membership_change_is_named() {
    let app = spawn_app().await;
    let a = app.register().await;
    let lead: Value = app.create_lead(&a, json!({"companyName": "Member Co"})).await.json().await.unwrap();
    let lead_id = lead["id"].as_str().unwrap().to_owned();
    let list = static_list(&app, &a, "Members").await;
    let path = format!("/api/v1/lists/{}/leads", list["id"].as_str().unwrap());
    let body = json!({"leadIds": [lead_id, "not-a-uuid"]});
    let res = app.post(&path, Some(&a.token), &body).await;
    let problem_body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem_body), ["leadIds[1]"], "{problem_body}");
    let after: Value = app.get_json(&format!("/api/v1/leads/{lead_id}"), Some(&a.token)).await;
    assert!(after["listId"].is_null(), "nothing was added");
    let delete = |body: Value| {
        let (app, token, path) = (&app, a.token.clone(), path.clone());
        async move { app.client.delete(app.url(&path)).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    let problem_body = problem(delete(body.clone()).await, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem_body), ["leadIds[1]"], "{problem_body}");
    for (bad, field) in
        [(json!({}), "leadIds"), (json!({"leadIds": "x"}), "leadIds"), (json!({"leadIds": [1]}), "leadIds[0]")]
    {
        let res = app.post(&path, Some(&a.token), &bad).await;
        let problem_body = problem(res, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&problem_body), [field], "{bad}: {problem_body}");
    }
    // Well-formed ids still work both ways.
    let added: Value = app.post_json(&path, Some(&a.token), &json!({"leadIds": [lead_id]})).await;
    assert_eq!(added, json!({"affected": 1}));
    let removed: Value = delete(json!({"leadIds": [lead_id]})).await.json().await.unwrap();
    assert_eq!(removed, json!({"affected": 1}));
}

async fn post_export(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/exports"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_import(app: &TestApp, token: &str, key: &str, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

/// Finding 11: replaying an Idempotency-Key returned the job as it was now (RUNNING, SUCCESS…),
/// not the first answer.
#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_exactly() {
    let app = spawn_app().await;
    let a = app.register().await;
    app.create_lead(&a, json!({"companyName": "Exported Co", "city": "Riyadh"})).await;
    let body = json!({"format": "csv", "filter": {"city": ["Riyadh"]}});
    let first = post_export(&app, &a.token, "export-1", &body).await;
    assert_eq!(first.status(), 202);
    let first_location = first.headers().get("location").cloned();
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["job"]["status"], "PENDING");
    let id = first["job"]["id"].as_str().unwrap().to_owned();
    let done = app.wait_job(&a.token, &id, 30).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let replay = post_export(&app, &a.token, "export-1", &body).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.headers().get("location").cloned(), first_location);
    assert_eq!(replay.json::<Value>().await.unwrap(), first, "the first answer, byte for byte");
    assert_eq!(app.sql_i64("SELECT count(*) FROM jobs").await, 1, "nothing was started twice");
    problem(
        post_export(&app, &a.token, "export-1", &json!({"format": "csv", "filter": {"city": ["Jeddah"]}})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;

    // Imports share the rule.
    let csv = "Company,City\nImported Co,Jeddah\n";
    let first = post_import(&app, &a.token, "import-1", csv).await;
    let first = expect_json(first, 202).await;
    let id = first["job"]["id"].as_str().unwrap().to_owned();
    let done = app.wait_job(&a.token, &id, 30).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let replay = post_import(&app, &a.token, "import-1", csv).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads WHERE company_name = 'Imported Co'").await, 1);

    // A cancelled job replays as first answered too.
    let quiet = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let b = quiet.register().await;
    let first: Value = post_export(&quiet, &b.token, "k", &json!({"format": "csv"})).await.json().await.unwrap();
    let id = first["job"]["id"].as_str().unwrap();
    let cancelled = quiet.post(&format!("/api/v1/jobs/{id}/cancel"), Some(&b.token), &json!({})).await;
    assert_eq!(cancelled.json::<Value>().await.unwrap()["status"], "CANCELLED");
    let replay: Value = post_export(&quiet, &b.token, "k", &json!({"format": "csv"})).await.json().await.unwrap();
    assert_eq!(replay, first);
}

/// The value at a JSON pointer of the document, following `$ref`s.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => resolve(doc, doc.pointer(r.trim_start_matches('#')).unwrap()),
        None => schema,
    }
}

/// A small JSON Schema check (the keywords the document uses), enough to hold a real answer
/// against its documented schema: types (with null), required, enums, bounds, formats.
fn conforms(doc: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(branches) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let ok = branches.iter().filter(|b| {
            let mut e = Vec::new();
            conforms(doc, b, value, path, &mut e);
            e.is_empty()
        });
        if ok.count() == 0 {
            errors.push(format!("{path}: {value} matches no branch"));
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let type_ok = |t: &str| match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
        errors.push(format!("{path}: {value} is not {types:?}"));
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {values:?}"));
    }
    if let Some(n) = value.as_f64()
        && (schema["minimum"].as_f64().is_some_and(|m| n < m) || schema["maximum"].as_f64().is_some_and(|m| n > m))
    {
        errors.push(format!("{path}: {n} is out of range"));
    }
    if let Some(s) = value.as_str() {
        let ok = match schema["format"].as_str() {
            Some("uuid") => uuid::Uuid::parse_str(s).is_ok(),
            Some("date-time") => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{path}: {s} is not a {}", schema["format"]));
        }
    }
    if let (Some(map), Some(props)) = (value.as_object(), schema["properties"].as_object()) {
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errors.push(format!("{path}.{name} is required"));
            }
        }
        for (k, v) in map {
            match props.get(k) {
                Some(s) => conforms(doc, s, v, &format!("{path}.{k}"), errors),
                None if schema["additionalProperties"] == json!(false) => {
                    errors.push(format!("{path}.{k} is not documented"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(doc, item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn assert_conforms(doc: &Value, path: &str, method: &str, status: &str, value: &Value) {
    let schema = &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "{method} {path} documents no {status} JSON body");
    let mut errors = Vec::new();
    conforms(doc, schema, value, "body", &mut errors);
    assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}\n{value}");
}

/// Every operation here is documented with its body, and what the server answers — jobs with
/// their nulls, finished and failed ones, logs, lists — fits the documented schema.
#[tokio::test]
async fn lists_and_jobs_answer_what_the_document_says() {
    let app = spawn_app().await;
    let a = app.register().await;
    let doc: Value = app.get_json("/api/v1/openapi.json", None).await;
    let imports = &doc["paths"]["/api/v1/imports"]["post"];
    let content = imports["requestBody"]["content"].as_object().unwrap();
    assert!(content.contains_key("text/csv") && content.contains_key("multipart/form-data"), "{imports}");
    let events = &doc["paths"]["/api/v1/jobs/{id}/events"]["get"]["responses"]["200"]["content"];
    assert!(events.get("text/event-stream").is_some(), "{events}");
    let download = &doc["paths"]["/api/v1/exports/{id}/download"]["get"]["responses"]["200"]["content"];
    assert!(download.get("text/csv").is_some(), "{download}");
    for (path, method, schema) in [
        ("/api/v1/lists", "post", "NewListBody"),
        ("/api/v1/lists/{id}", "patch", "ListPatchBody"),
        ("/api/v1/lists/{id}/leads", "post", "LeadIdsBody"),
        ("/api/v1/lists/{id}/leads", "delete", "LeadIdsBody"),
        ("/api/v1/exports", "post", "ExportBody"),
    ] {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, &json!(format!("#/components/schemas/{schema}")), "{method} {path}");
    }
    let required = &doc["components"]["schemas"]["NewListBody"]["required"];
    assert!(required.as_array().unwrap().contains(&json!("isSmart")), "{required}");
    assert_eq!(doc["components"]["schemas"]["ExportBody"]["required"], json!(["format"]));
    let params = &doc["paths"]["/api/v1/lists"]["get"]["parameters"];
    assert_eq!(params.as_array().map(|p| p.len()), Some(2), "limit and cursor: {params}");

    // A list, its leads, membership changes.
    let res = app.post("/api/v1/lists", Some(&a.token), &json!({"name": "Doc", "isSmart": false})).await;
    let list = expect_json(res, 201).await;
    assert_conforms(&doc, "/api/v1/lists", "post", "201", &list);
    let lists: Value = app.get_json("/api/v1/lists", Some(&a.token)).await;
    assert_conforms(&doc, "/api/v1/lists", "get", "200", &lists);
    let lead: Value = app.create_lead(&a, json!({"companyName": "Doc Co"})).await.json().await.unwrap();
    let path = format!("/api/v1/lists/{}/leads", list["id"].as_str().unwrap());
    let added: Value = app.post_json(&path, Some(&a.token), &json!({"leadIds": [lead["id"]]})).await;
    assert_conforms(&doc, "/api/v1/lists/{id}/leads", "post", "200", &added);
    let page: Value = app.get_json(&path, Some(&a.token)).await;
    assert_conforms(&doc, "/api/v1/lists/{id}/leads", "get", "200", &page);

    // Jobs: just enqueued (nulls everywhere), finished, failed, their logs and the list of them.
    let res = app.import_csv(&a.token, b"Company\nOne\n".to_vec(), "").await;
    let accepted: Value = res.json().await.unwrap();
    assert_conforms(&doc, "/api/v1/imports", "post", "202", &accepted);
    let id = accepted["job"]["id"].as_str().unwrap().to_owned();
    let done = app.wait_job(&a.token, &id, 30).await;
    assert_conforms(&doc, "/api/v1/jobs/{id}", "get", "200", &done);
    let logs: Value = app.get_json(&format!("/api/v1/jobs/{id}/logs"), Some(&a.token)).await;
    assert!(!logs["data"].as_array().unwrap().is_empty());
    assert_conforms(&doc, "/api/v1/jobs/{id}/logs", "get", "200", &logs);
    let res = app.post("/api/v1/exports", Some(&a.token), &json!({"format": "csv"})).await;
    let export: Value = res.json().await.unwrap();
    assert_conforms(&doc, "/api/v1/exports", "post", "202", &export);
    app.wait_job(&a.token, export["job"]["id"].as_str().unwrap(), 30).await;
    app.sql(&format!(
        "UPDATE jobs SET status = 'FAILED', error = '{{\"code\":\"FAILED\",\"message\":\"boom\"}}' WHERE id = '{id}'"
    ))
    .await;
    let failed: Value = app.get_json(&format!("/api/v1/jobs/{id}"), Some(&a.token)).await;
    assert_eq!(failed["error"], json!({"code": "FAILED", "message": "boom"}));
    assert_conforms(&doc, "/api/v1/jobs/{id}", "get", "200", &failed);
    let jobs: Value = app.get_json("/api/v1/jobs", Some(&a.token)).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 2);
    assert_conforms(&doc, "/api/v1/jobs", "get", "200", &jobs);
    for bad in ["type=NOPE", "status=DONE", "limit=0", "limit=abc", "cursor=forged"] {
        problem(app.get(&format!("/api/v1/jobs?{bad}"), Some(&a.token)).await, 422, "VALIDATION_FAILED").await;
    }
    let quiet = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let b = quiet.register().await;
    let pending: Value = quiet.post_json("/api/v1/exports", Some(&b.token), &json!({"format": "csv"})).await;
    let id = pending["job"]["id"].as_str().unwrap();
    let cancelled: Value = quiet.post_json(&format!("/api/v1/jobs/{id}/cancel"), Some(&b.token), &json!({})).await;
    assert_conforms(&doc, "/api/v1/jobs/{id}/cancel", "post", "200", &cancelled);
}
