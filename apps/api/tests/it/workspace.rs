//! The leads workspace end to end: search, edits, status, assignment, timeline, evidence, bulk
//! actions, lists and smart lists, stats, deep paging under concurrent inserts, tenant isolation.

use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::HashSet;

async fn lead(app: &TestApp, who: &Account, body: Value) -> Value {
    let res = app.create_lead(who, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|l| l["companyName"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn search_finds_arabic_and_english_names_by_word_and_prefix() {
    let app = spawn_app().await;
    let a = app.register().await;
    lead(&app, &a, json!({"companyName": "شركة الرياض للتقنية", "industry": "برمجيات"})).await;
    lead(&app, &a, json!({"companyName": "Riyadh Technology Co", "industry": "Software"})).await;
    lead(&app, &a, json!({"companyName": "Techno Solutions"})).await;
    lead(&app, &a, json!({"companyName": "مطعم جدة"})).await;
    let search = |q: &str| {
        let url = format!("/api/v1/leads?q={}", url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>());
        let app = &app;
        let token = a.token.clone();
        async move { names(&app.get(&url, Some(&token)).await.json::<Value>().await.unwrap()) }
    };
    assert_eq!(search("التقنية").await, vec!["شركة الرياض للتقنية"]);
    assert_eq!(search("الرياض تقنية").await, vec!["شركة الرياض للتقنية"]);
    assert_eq!(search("Riyadh").await, vec!["Riyadh Technology Co"]);
    let tech: HashSet<String> = search("tech").await.into_iter().collect();
    assert_eq!(tech, ["Riyadh Technology Co", "Techno Solutions"].iter().map(|s| s.to_string()).collect());
    assert!(search("برمجيات").await.contains(&"شركة الرياض للتقنية".to_owned()), "industry is searched too");
    assert_eq!(
        search("Techno Solutions").await.first().map(String::as_str),
        Some("Techno Solutions"),
        "best match first"
    );
    assert!(search("nothing-like-this").await.is_empty());
    // Paging through search results works with the relevance cursor.
    let first: Value = app.get_json("/api/v1/leads?q=tech&limit=1", Some(&a.token)).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second: Value = app.get_json(&format!("/api/v1/leads?q=tech&limit=1&cursor={cursor}"), Some(&a.token)).await;
    assert_eq!(names(&second).len(), 1);
    assert_ne!(names(&first), names(&second));
}

#[tokio::test]
async fn edit_status_assign_timeline_and_evidence() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let sales = app.add_member(&owner, "SALES").await;
    let l = lead(&app, &owner, json!({"companyName": "Alpha", "phone": "0501111111"})).await;
    let other = lead(&app, &owner, json!({"companyName": "Beta", "phone": "0502222222"})).await;
    let path = format!("/api/v1/leads/{}", l["id"].as_str().unwrap());

    // PATCH
    let res = app
        .patch(
            &path,
            Some(&owner.token),
            &json!({"city": "Jeddah", "score": 40, "tags": ["a", "a", "b"], "industry": null}),
        )
        .await;
    let patched = expect_json(res, 200).await;
    assert_eq!(
        (patched["city"].clone(), patched["score"].clone(), patched["tags"].clone()),
        (json!("Jeddah"), json!(40), json!(["a", "b"]))
    );
    problem(app.patch(&path, Some(&owner.token), &json!({"status": "LOST"})).await, 422, "VALIDATION_FAILED").await;
    let body = problem(
        app.patch(&path, Some(&owner.token), &json!({"phone": "12", "score": 500, "companyName": ""})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["companyName", "phone", "score"]);
    let body = problem(
        app.patch(&path, Some(&owner.token), &json!({"phone": "+966 50 222 2222"})).await,
        409,
        "DUPLICATE_LEAD",
    )
    .await;
    assert_eq!(body["existingLeadId"], other["id"]);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_UPDATED' AND details->'before'->>'city' IS NULL AND details->'after'->>'city' = 'Jeddah'").await, 1);

    // Status machine
    let status = |s: &str| json!({"status": s, "reason": "test"});
    assert_eq!(app.post(&format!("{path}/status"), Some(&owner.token), &status("CONTACTED")).await.status(), 200);
    let body = problem(
        app.post(&format!("{path}/status"), Some(&owner.token), &status("NEW")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert_eq!((body["from"].clone(), body["to"].clone()), (json!("CONTACTED"), json!("NEW")));
    problem(app.post(&format!("{path}/status"), Some(&owner.token), &status("WON")).await, 422, "VALIDATION_FAILED")
        .await;
    assert_eq!(app.post(&format!("{path}/status"), Some(&owner.token), &status("LOST")).await.status(), 200);
    assert_eq!(app.post(&format!("{path}/status"), Some(&owner.token), &status("NEW")).await.status(), 200);

    // Assignment
    let res = app.post(&format!("{path}/assign"), Some(&owner.token), &json!({"userId": sales.user_id})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["assignedTo"], sales.user_id.as_str());
    assert_eq!(app.get(&path, Some(&sales.token)).await.status(), 200, "the assignee sees it");
    let stranger = app.register().await;
    let body = problem(
        app.post(&format!("{path}/assign"), Some(&owner.token), &json!({"userId": stranger.user_id})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["assignedTo"]);
    problem(app.post(&format!("{path}/assign"), Some(&owner.token), &json!({})).await, 422, "VALIDATION_FAILED").await;

    // Timeline
    assert_eq!(
        app.post(
            &format!("{path}/activities"),
            Some(&sales.token),
            &json!({"type": "NOTE", "description": "met at expo"})
        )
        .await
        .status(),
        201
    );
    let before: Value = app.get_json(&path, Some(&owner.token)).await;
    assert_eq!(before["lastContactedAt"], Value::Null, "a note is not contact");
    assert_eq!(
        app.post(&format!("{path}/activities"), Some(&sales.token), &json!({"type": "CALL", "description": "called"}))
            .await
            .status(),
        201
    );
    let after: Value = app.get_json(&path, Some(&owner.token)).await;
    assert!(after["lastContactedAt"].is_string());
    let body = problem(
        app.post(&format!("{path}/activities"), Some(&owner.token), &json!({"type": "CREATED", "description": ""}))
            .await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["type", "description"]);
    let timeline: Value = app.get_json(&format!("{path}/activities?limit=3"), Some(&owner.token)).await;
    let kinds: Vec<&str> = timeline["data"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["CALL", "NOTE", "ASSIGNED"], "newest first");
    let rest: Value = app
        .get_json(
            &format!("{path}/activities?limit=50&cursor={}", timeline["nextCursor"].as_str().unwrap()),
            Some(&owner.token),
        )
        .await;
    let kinds: Vec<&str> = rest["data"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["STATUS_CHANGE", "STATUS_CHANGE", "STATUS_CHANGE", "CREATED"]);

    // Evidence
    let ev: Value = app.get_json(&format!("{path}/evidence"), Some(&owner.token)).await;
    assert_eq!(ev["data"], json!([]));
    let res = app
        .post(
            &format!("{path}/evidence"),
            Some(&owner.token),
            &json!({"type": "CUSTOM", "title": "CR record", "url": "mc.gov.sa/cr/1", "snippet": "active"}),
        )
        .await;
    let added = expect_json(res, 201).await;
    assert_eq!(
        (added["type"].clone(), added["url"].clone(), added["confidence"].clone()),
        (json!("CUSTOM"), json!("https://mc.gov.sa/cr/1"), json!("MEDIUM"))
    );
    let body = problem(
        app.post(
            &format!("{path}/evidence"),
            Some(&owner.token),
            &json!({"title": "", "url": "javascript:x", "confidence": "SURE"}),
        )
        .await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["title", "url", "confidence"]);
    problem(
        app.post(&format!("{path}/evidence"), Some(&owner.token), &json!({"type": "WEBSITE", "title": "x"})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;

    // Delete: SALES may not; OWNER may; the lead is gone.
    problem(app.delete(&path, Some(&sales.token)).await, 403, "FORBIDDEN").await;
    assert_eq!(app.delete(&path, Some(&owner.token)).await.status(), 204);
    problem(app.get(&path, Some(&owner.token)).await, 404, "NOT_FOUND").await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_DELETED'").await, 1);
}

#[tokio::test]
async fn bulk_actions_respect_visibility_and_the_status_machine() {
    let app = spawn_app().await;
    let owner = app.owner_on("pro").await;
    let manager = app.add_member(&owner, "MANAGER").await;
    let sales = app.add_member(&owner, "SALES").await;
    let sales_membership = app.membership_id(&owner, &sales.user_id).await;
    app.patch(
        &format!("/api/v1/members/{sales_membership}"),
        Some(&owner.token),
        &json!({"managerId": manager.user_id}),
    )
    .await;
    let mut team_ids = Vec::new();
    for i in 0..3 {
        team_ids.push(
            lead(&app, &sales, json!({"companyName": format!("Team {i}")})).await["id"].as_str().unwrap().to_owned(),
        );
    }
    let mut owner_ids = Vec::new();
    for i in 0..3 {
        owner_ids.push(
            lead(&app, &owner, json!({"companyName": format!("Owner {i}"), "city": "Riyadh"})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let all: Vec<String> = team_ids.iter().chain(&owner_ids).cloned().collect();

    // SALES may not bulk at all; a MANAGER's bulk touches only the team's leads.
    problem(
        app.post("/api/v1/leads/bulk", Some(&sales.token), &json!({"action": "addTags", "ids": all, "tags": ["x"]}))
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    let res = app
        .post(
            "/api/v1/leads/bulk",
            Some(&manager.token),
            &json!({"action": "setStatus", "ids": all, "status": "CONTACTED"}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["affected"], 3);
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM leads WHERE status = 'CONTACTED' AND company_name LIKE 'Team%'").await,
        3
    );
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads WHERE status <> 'NEW' AND company_name LIKE 'Owner%'").await, 0);
    // Only allowed transitions happen: CONTACTED → NEW is not one.
    let res = app
        .post(
            "/api/v1/leads/bulk",
            Some(&owner.token),
            &json!({"action": "setStatus", "ids": all, "status": "PROSPECTED"}),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["affected"],
        3,
        "only the three NEW leads move forward to PROSPECTED"
    );

    let bulk = |body: Value| {
        let app = &app;
        let token = owner.token.clone();
        async move {
            app.post("/api/v1/leads/bulk", Some(&token), &body).await.json::<Value>().await.unwrap()["affected"]
                .as_u64()
                .unwrap()
        }
    };
    // A filter that would drop out and match everything is refused, and nothing is deleted.
    for filter in [json!({"listId": null}), json!({"status": []}), json!({"cityy": "Riyadh"})] {
        let res =
            app.post("/api/v1/leads/bulk", Some(&owner.token), &json!({"action": "delete", "filter": filter})).await;
        problem(res, 422, "VALIDATION_FAILED").await;
    }
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 6);
    assert_eq!(bulk(json!({"action": "addTags", "ids": all, "tags": ["vip", "q4"]})).await, 6);
    assert_eq!(bulk(json!({"action": "addTags", "ids": all, "tags": ["vip"]})).await, 0, "nothing new to add");
    assert_eq!(bulk(json!({"action": "removeTags", "filter": {"city": "Riyadh"}, "tags": ["q4"]})).await, 3);
    assert_eq!(bulk(json!({"action": "assign", "filter": {"city": ["Riyadh"]}, "userId": manager.user_id})).await, 3);
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM activities WHERE type = 'ASSIGNED' AND description LIKE '%bulk%'").await,
        3
    );
    let list: Value =
        app.post_json("/api/v1/lists", Some(&owner.token), &json!({"name": "Hot", "isSmart": false})).await;
    assert_eq!(bulk(json!({"action": "addToList", "ids": owner_ids, "listId": list["id"]})).await, 3);
    assert_eq!(bulk(json!({"action": "removeFromList", "ids": all, "listId": list["id"]})).await, 3);
    assert_eq!(bulk(json!({"action": "delete", "ids": team_ids})).await, 3);
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 3);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_BULK_DELETE'").await, 1);

    let huge: Vec<String> = (0..10_001).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let body = problem(
        app.post("/api/v1/leads/bulk", Some(&owner.token), &json!({"action": "delete", "ids": huge})).await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&body), vec!["ids"]);
    for bad in [
        json!({"action": "explode", "ids": []}),
        json!({"action": "setStatus", "ids": [], "status": "WON"}),
        json!({"action": "addTags", "ids": []}),
        json!({"action": "delete"}),
    ] {
        problem(app.post("/api/v1/leads/bulk", Some(&owner.token), &bad).await, 422, "VALIDATION_FAILED").await;
    }
}

#[tokio::test]
async fn static_and_smart_lists() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let a = lead(&app, &owner, json!({"companyName": "A", "city": "Riyadh", "phone": "0501111111"})).await;
    let b = lead(&app, &owner, json!({"companyName": "B", "city": "Jeddah"})).await;
    lead(&app, &owner, json!({"companyName": "C", "city": "Riyadh"})).await;

    let res = app
        .post("/api/v1/lists", Some(&owner.token), &json!({"name": "Follow up", "color": "#ff0000", "isSmart": false}))
        .await;
    let list = expect_json(res, 201).await;
    assert_eq!((list["leadsCount"].clone(), list["isSmart"].clone()), (json!(0), json!(false)));
    let list_path = format!("/api/v1/lists/{}", list["id"].as_str().unwrap());
    let res =
        app.post(&format!("{list_path}/leads"), Some(&owner.token), &json!({"leadIds": [a["id"], b["id"]]})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["affected"], 2);
    assert_eq!(app.sql_i64("SELECT count(*) FROM activities WHERE type = 'LIST_ADD'").await, 2);
    let members: Value = app.get_json(&format!("{list_path}/leads"), Some(&owner.token)).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 2);
    let res = app.delete(&format!("{list_path}/leads"), Some(&owner.token)).await;
    problem(res, 422, "VALIDATION_FAILED").await;
    let res = app
        .client
        .delete(app.url(&format!("{list_path}/leads")))
        .bearer_auth(&owner.token)
        .json(&json!({"leadIds": [b["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["affected"], 1);

    let smart: Value = app.post_json("/api/v1/lists", Some(&owner.token), &json!({"name": "Riyadh with phone", "isSmart": true, "smartFilters": {"city": ["Riyadh"], "hasPhone": true}})).await;
    assert_eq!(smart["leadsCount"], 1);
    let smart_path = format!("/api/v1/lists/{}", smart["id"].as_str().unwrap());
    let hits: Value = app.get_json(&format!("{smart_path}/leads"), Some(&owner.token)).await;
    assert_eq!(names(&hits), vec!["A"]);
    problem(
        app.post(&format!("{smart_path}/leads"), Some(&owner.token), &json!({"leadIds": [b["id"]]})).await,
        409,
        "CONFLICT",
    )
    .await;
    // The smart list is evaluated at read time: a new matching lead shows up.
    lead(&app, &owner, json!({"companyName": "D", "city": "Riyadh", "phone": "0503333333"})).await;
    let all: Value = app.get_json("/api/v1/lists", Some(&owner.token)).await;
    let counts: Vec<i64> = all["data"].as_array().unwrap().iter().map(|l| l["leadsCount"].as_i64().unwrap()).collect();
    assert_eq!(counts, vec![1, 2]);

    let patched: Value = app
        .patch(&smart_path, Some(&owner.token), &json!({"smartFilters": {"city": ["Jeddah"]}, "description": "moved"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["leadsCount"], 1);
    for bad in [
        json!({"name": ""}),
        json!({"isSmart": true}),
        json!({"name": "x", "smartFilters": {"colour": 1}, "isSmart": true}),
        json!({"name": "x", "smartFilters": {"city": ["a"]}}),
    ] {
        problem(app.post("/api/v1/lists", Some(&owner.token), &bad).await, 422, "VALIDATION_FAILED").await;
    }
    assert_eq!(app.delete(&list_path, Some(&owner.token)).await.status(), 204);
    problem(app.get(&list_path, Some(&owner.token)).await, 404, "NOT_FOUND").await;
    assert_eq!(
        app.get(&format!("/api/v1/leads/{}", a["id"].as_str().unwrap()), Some(&owner.token))
            .await
            .json::<Value>()
            .await
            .unwrap()["listId"],
        Value::Null
    );
}

#[tokio::test]
async fn stats_count_the_visible_leads() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let sales = app.add_member(&owner, "SALES").await;
    lead(&app, &owner, json!({"companyName": "A", "city": "Riyadh", "industry": "IT"})).await;
    lead(&app, &owner, json!({"companyName": "B", "city": "Riyadh", "status": "LOST"})).await;
    lead(&app, &sales, json!({"companyName": "C", "city": "Dammam"})).await;
    let s: Value = app.get_json("/api/v1/stats/leads", Some(&owner.token)).await;
    assert_eq!(s["total"], 3);
    assert_eq!(s["byStatus"], json!({"NEW": 2, "LOST": 1}));
    assert_eq!(s["byCity"], json!([{"city": "Riyadh", "count": 2}, {"city": "Dammam", "count": 1}]));
    assert_eq!(s["byIndustry"], json!([{"industry": "IT", "count": 1}]));
    assert_eq!(s["createdPerDay"].as_array().unwrap().iter().map(|d| d["count"].as_i64().unwrap()).sum::<i64>(), 3);
    let mine: Value = app.get_json("/api/v1/stats/leads", Some(&sales.token)).await;
    assert_eq!(mine["total"], 1, "SALES count their own leads only");
}

/// `sort=companyName` orders by the name as duplicates compare it: company words (شركة, مؤسسة,
/// LLC), the article ال and case do not count; the names come back as they were entered.
#[tokio::test]
async fn company_names_sort_without_company_words_articles_or_case() {
    let app = spawn_app().await;
    let a = app.register().await;
    for name in ["شركة الرياض للتقنية", "zeta trading", "مؤسسة بدر", "Alpha LLC", "beta"] {
        lead(&app, &a, json!({"companyName": name})).await;
    }
    let page: Value = app.get_json("/api/v1/leads?sort=companyName&limit=3", Some(&a.token)).await;
    assert_eq!(names(&page), ["Alpha LLC", "beta", "zeta trading"]);
    let next = page["nextCursor"].as_str().unwrap();
    let rest: Value =
        app.get_json(&format!("/api/v1/leads?sort=companyName&limit=3&cursor={next}"), Some(&a.token)).await;
    // بدر before رياض: "مؤسسة" and "شركة" are not part of the order.
    assert_eq!(names(&rest), ["مؤسسة بدر", "شركة الرياض للتقنية"]);
    assert!(rest["nextCursor"].is_null(), "{rest}");
}

/// Paging 1,000 leads with limit=37 returns each exactly once in order, for every sort, while
/// other leads are being inserted.
#[tokio::test]
async fn deep_paging_is_exact_under_concurrent_inserts() {
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    app.sql(&format!(
        "INSERT INTO leads (id, tenant_id, company_name, score, created_by, created_at, updated_at, name_key, search_text)
         SELECT gen_random_uuid(), '{t}', 'Company ' || (i % 97), CASE WHEN i % 5 = 0 THEN NULL ELSE i % 101 END, '{u}',
                timestamptz '2026-01-01' + (i / 10) * interval '1 second', timestamptz '2026-01-01' + (i / 7) * interval '1 second',
                'company ' || (i % 97), 'company ' || (i % 97)
           FROM generate_series(1, 1000) i",
        t = owner.tenant_id,
        u = owner.user_id
    ))
    .await;
    let originals: HashSet<String> = app.sql_strings("SELECT id::text AS id FROM leads").await.into_iter().collect();
    let writer = {
        let base = app.base.clone();
        let token = owner.token.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..60 {
                client
                    .post(format!("{base}/api/v1/leads"))
                    .bearer_auth(&token)
                    .json(&json!({"companyName": format!("Concurrent {i}"), "score": i % 100}))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    for (sort, sql_order) in [
        ("-createdAt", "created_at DESC, id DESC"),
        ("createdAt", "created_at ASC, id ASC"),
        ("-score", "COALESCE(score, -1) DESC, id DESC"),
        ("score", "COALESCE(score, -1) ASC, id ASC"),
        ("companyName", "name_key ASC, id ASC"),
        ("-updatedAt", "updated_at DESC, id DESC"),
    ] {
        let seen: Vec<String> = app
            .all_rows(&format!("/api/v1/leads?limit=37&sort={sort}"), &owner.token)
            .await
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no lead twice");
        let of_originals: Vec<String> = seen.iter().filter(|id| originals.contains(*id)).cloned().collect();
        assert_eq!(of_originals.len(), 1000, "{sort}: every original lead once");
        // The order is exactly the database's order for the same rows.
        let expected = app
            .sql_strings(&format!(
                "SELECT id::text AS id FROM leads WHERE id::text = ANY(ARRAY[{}]) ORDER BY {sql_order}",
                of_originals.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(",")
            ))
            .await;
        assert_eq!(of_originals, expected, "{sort}: in order");
    }
    writer.await.unwrap();
}

/// Another tenant's ids are 404 on every lead and list endpoint; bulk actions skip them.
#[tokio::test]
async fn another_tenants_leads_and_lists_are_404() {
    let app = spawn_app().await;
    let a = app.register().await;
    let b = app.register().await;
    let lead_b = lead(&app, &b, json!({"companyName": "B's lead"})).await;
    let list_b: Value =
        app.post_json("/api/v1/lists", Some(&b.token), &json!({"name": "B's list", "isSmart": false})).await;
    let l = format!("/api/v1/leads/{}", lead_b["id"].as_str().unwrap());
    let li = format!("/api/v1/lists/{}", list_b["id"].as_str().unwrap());
    let t = Some(a.token.as_str());
    let responses = vec![
        app.get(&l, t).await,
        app.patch(&l, t, &json!({"city": "x"})).await,
        app.delete(&l, t).await,
        app.post(&format!("{l}/status"), t, &json!({"status": "LOST"})).await,
        app.post(&format!("{l}/assign"), t, &json!({"userId": null})).await,
        app.get(&format!("{l}/activities"), t).await,
        app.post(&format!("{l}/activities"), t, &json!({"type": "NOTE", "description": "x"})).await,
        app.get(&format!("{l}/evidence"), t).await,
        app.post(&format!("{l}/evidence"), t, &json!({"title": "x"})).await,
        app.get(&li, t).await,
        app.patch(&li, t, &json!({"name": "x"})).await,
        app.delete(&li, t).await,
        app.get(&format!("{li}/leads"), t).await,
        app.post(&format!("{li}/leads"), t, &json!({"leadIds": [lead_b["id"]]})).await,
    ];
    for res in responses {
        let url = res.url().to_string();
        assert_eq!(res.status(), 404, "{url}");
    }
    let res = app.post("/api/v1/leads/bulk", t, &json!({"action": "delete", "ids": [lead_b["id"]]})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["affected"], 0);
    let res =
        app.post("/api/v1/leads/bulk", t, &json!({"action": "addToList", "ids": [], "listId": list_b["id"]})).await;
    problem(res, 422, "VALIDATION_FAILED").await;
    // B's data is untouched.
    assert_eq!(app.get(&l, Some(&b.token)).await.json::<Value>().await.unwrap()["city"], Value::Null);
    assert_eq!(app.get(&li, Some(&b.token)).await.status(), 200);
}
