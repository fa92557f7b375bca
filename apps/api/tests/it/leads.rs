use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::HashSet;

#[tokio::test]
async fn create_get_and_list_a_lead() {
    let app = spawn_app().await;
    let a = app.register().await;
    let res = app
        .create_lead(
            &a,
            json!({
                "companyName": "  شركة الرياض للتقنية ", "industry": "Software", "city": "الرياض",
                "phone": "050 123 4567", "email": "Info@Riyadh-Tech.SA", "website": "Riyadh-Tech.SA/about",
                "score": 70, "tags": ["vip", " vip ", "tech"], "status": "PROSPECTED",
                "enrichmentData": {"foundedYear": 2010, "technologies": ["rust"]}
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
    let lead: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/leads/{}", lead["id"].as_str().unwrap()));
    assert_eq!(lead["companyName"], "شركة الرياض للتقنية");
    assert_eq!(lead["phone"], "+966501234567");
    assert_eq!(lead["email"], "info@riyadh-tech.sa");
    assert_eq!(lead["website"], "https://riyadh-tech.sa/about");
    assert_eq!(lead["tags"], json!(["vip", "tech"]));
    assert_eq!(lead["status"], "PROSPECTED");
    assert_eq!(lead["tenantId"], a.tenant_id.as_str());
    assert_eq!(lead["createdBy"], a.user_id.as_str());
    assert_eq!(lead["enrichmentData"]["foundedYear"], 2010);

    let got: Value = app.get_json(&location, Some(&a.token)).await;
    assert_eq!(got, lead, "GET returns exactly what POST returned");

    let page: Value = app.get_json("/api/v1/leads", Some(&a.token)).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["nextCursor"], Value::Null);

    assert_eq!(app.sql_i64("SELECT count(*) FROM activities WHERE type = 'CREATED'").await, 1);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_CREATED'").await, 1);
    assert_eq!(app.sql_i64("SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await, 1);
}

#[tokio::test]
async fn another_tenants_lead_is_404_and_never_listed() {
    let app = spawn_app().await;
    let a = app.register().await;
    let b = app.register().await;
    let lead: Value = app.create_lead(&a, json!({"companyName": "A's secret lead"})).await.json().await.unwrap();
    let path = format!("/api/v1/leads/{}", lead["id"].as_str().unwrap());
    problem(app.get(&path, Some(&b.token)).await, 404, "NOT_FOUND").await;
    let page: Value = app.get_json("/api/v1/leads", Some(&b.token)).await;
    assert_eq!(page["data"], json!([]));
    problem(app.get("/api/v1/leads/not-a-uuid", Some(&a.token)).await, 404, "NOT_FOUND").await;
    problem(app.get(&format!("/api/v1/leads/{}", uuid::Uuid::now_v7()), Some(&a.token)).await, 404, "NOT_FOUND").await;
    // B may create a lead with A's phone: duplicates are per tenant.
    app.create_lead(&a, json!({"companyName": "X", "phone": "0551112222"})).await;
    assert_eq!(app.create_lead(&b, json!({"companyName": "X", "phone": "0551112222"})).await.status(), 201);
}

#[tokio::test]
async fn bad_lead_input_is_422_with_every_field() {
    let app = spawn_app().await;
    let a = app.register().await;
    let res = app
        .create_lead(
            &a,
            json!({"companyName": "", "phone": "12", "email": "nope", "website": "ftp://x.sa", "score": 101,
                   "tags": ["x".repeat(51)], "enrichmentData": {"unknown": 1}}),
        )
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(
        error_fields(&body),
        vec!["companyName", "phone", "email", "website", "score", "tags", "enrichmentData"]
    );

    let res = app
        .create_lead(&a, json!({"companyName": "X", "status": "WON", "listId": "nope", "assignedTo": 5, "score": "high", "tags": "vip"}))
        .await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["status", "score", "tags", "listId", "assignedTo"]);

    let res = app.create_lead(&a, json!({"companyName": "X".repeat(256)})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["companyName"]);

    let res = app.create_lead(&a, json!({"companyName": "X", "listId": uuid::Uuid::now_v7().to_string()})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["listId"]);

    let other = app.register().await;
    let res = app.create_lead(&a, json!({"companyName": "X", "assignedTo": other.user_id})).await;
    let body = problem(res, 422, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&body), vec!["assignedTo"], "a member of another tenant cannot be assigned");
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 0, "nothing was written");
}

#[tokio::test]
async fn concurrent_creations_of_one_company_make_one_lead() {
    let app = spawn_app().await;
    let a = app.register().await;
    // Twelve writers at once, each a different spelling of the same company (one phone, one host,
    // or one name in one city between them): exactly one of each group gets in.
    let bodies: Vec<Value> = (0..12)
        .map(|i| match i % 3 {
            0 => json!({"companyName": format!("Phone Co {i}"), "phone": "0507654321"}),
            1 => json!({"companyName": format!("Web Co {i}"), "website": format!("https://www.race.sa/{i}")}),
            _ => json!({"companyName": if i % 2 == 0 { "شركة السباق" } else { "السباق" }, "city": "الرياض"}),
        })
        .collect();
    let statuses =
        futures::future::join_all(bodies.into_iter().map(|b| async { app.create_lead(&a, b).await.status().as_u16() }))
            .await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 9, "{statuses:?}");
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 3);
}

#[tokio::test]
async fn duplicates_are_409_unless_allowed() {
    let app = spawn_app().await;
    let a = app.register().await;
    let first: Value =
        app.create_lead(&a, json!({"companyName": "Alpha", "phone": "0501234567"})).await.json().await.unwrap();
    let res = app.create_lead(&a, json!({"companyName": "Beta", "phone": "+966 50 123 4567"})).await;
    let body = problem(res, 409, "DUPLICATE_LEAD").await;
    assert_eq!(body["existingLeadId"], first["id"]);

    app.create_lead(&a, json!({"companyName": "Gamma", "website": "www.gamma.sa"})).await;
    let res = app.create_lead(&a, json!({"companyName": "Delta", "website": "https://gamma.sa/x"})).await;
    problem(res, 409, "DUPLICATE_LEAD").await;

    app.create_lead(&a, json!({"companyName": "مؤسسة النور", "city": "جدة"})).await;
    let res = app.create_lead(&a, json!({"companyName": "مؤسّسة نور", "city": "جدة"})).await;
    problem(res, 409, "DUPLICATE_LEAD").await;

    let res = app
        .client
        .post(app.url("/api/v1/leads?allowDuplicate=true"))
        .bearer_auth(&a.token)
        .json(&json!({"companyName": "Beta", "phone": "0501234567"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn at_the_monthly_quota_creation_is_402_and_writes_nothing() {
    let app = spawn_app().await;
    let a = app.register().await;
    assert_eq!(app.create_lead(&a, json!({"companyName": "first"})).await.status(), 201);
    // The free plan allows 100 leads a month; pretend 99 are used.
    app.sql("UPDATE usage_counters SET value = 99 WHERE metric = 'leads'").await;
    assert_eq!(app.create_lead(&a, json!({"companyName": "hundredth"})).await.status(), 201);
    let res = app.create_lead(&a, json!({"companyName": "one too many"})).await;
    let body = problem(res, 402, "QUOTA_EXCEEDED").await;
    assert_eq!(
        (body["metric"].clone(), body["limit"].clone(), body["used"].clone()),
        (json!("leads"), json!(100), json!(100))
    );
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 2);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_CREATED'").await, 2);
    assert_eq!(app.sql_i64("SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await, 100);
}

#[tokio::test]
async fn cursor_pages_return_each_lead_once_and_bad_paging_is_422() {
    let app = spawn_app().await;
    let a = app.register().await;
    for i in 0..23 {
        let res = app.create_lead(&a, json!({"companyName": format!("Company {i:02}"), "score": i % 4})).await;
        assert_eq!(res.status(), 201);
    }
    for sort in ["-createdAt", "createdAt", "-score", "companyName"] {
        let mut seen = Vec::new();
        for page in app.pages(&format!("/api/v1/leads?limit=5&sort={sort}"), &a.token).await {
            let data = page["data"].as_array().unwrap();
            assert!(data.len() <= 5);
            seen.extend(data.iter().map(|l| l["id"].as_str().unwrap().to_owned()));
        }
        assert_eq!(seen.len(), 23, "{sort}");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23, "{sort}: each lead once");
    }
    for bad in [
        "cursor=forged",
        "limit=0",
        "limit=201",
        "limit=ten",
        "sort=name",
        "status=WON",
        "createdFrom=yesterday",
        "hasPhone=maybe",
    ] {
        let res = app.get(&format!("/api/v1/leads?{bad}"), Some(&a.token)).await;
        problem(res, 422, "VALIDATION_FAILED").await;
    }
    let page: Value = app.get_json("/api/v1/leads?limit=5&sort=-score", Some(&a.token)).await;
    let other_sort_cursor = page["nextCursor"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/leads?sort=companyName&cursor={other_sort_cursor}"), Some(&a.token)).await;
    problem(res, 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn list_filters_apply() {
    let app = spawn_app().await;
    let a = app.register().await;
    app.create_lead(&a, json!({"companyName": "شركة الرياض للتقنية", "city": "Riyadh", "phone": "0501111111", "tags": ["vip"], "score": 90})).await;
    app.create_lead(&a, json!({"companyName": "Techno Solutions", "city": "Jeddah", "status": "LOST"})).await;
    let names = |v: Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|l| l["companyName"].as_str().unwrap().to_owned()).collect()
    };
    for (query, expect) in [
        ("city=Riyadh", vec!["شركة الرياض للتقنية"]),
        ("status=LOST", vec!["Techno Solutions"]),
        ("status=NEW&status=LOST", vec!["Techno Solutions", "شركة الرياض للتقنية"]),
        ("hasPhone=false", vec!["Techno Solutions"]),
        ("tag=vip", vec!["شركة الرياض للتقنية"]),
        ("scoreMin=50", vec!["شركة الرياض للتقنية"]),
        ("q=techno", vec!["Techno Solutions"]),
        ("q=التقنية", vec!["شركة الرياض للتقنية"]),
        ("assignedTo=me", vec![]),
    ] {
        let page: Value = app.get_json(&format!("/api/v1/leads?{query}"), Some(&a.token)).await;
        assert_eq!(names(page), expect, "{query}");
    }
}

/// The words of `q`: only the last one, still being typed, is a prefix; the others match whole
/// words; company words narrow nothing (#20).
#[tokio::test]
async fn only_the_word_being_typed_is_a_prefix() {
    let app = spawn_app().await;
    let a = app.register().await;
    for name in ["Main Trading 123456", "Main Trading 223456", "Maintenance Trades 123456", "مؤسسة النخيل التجارية"]
    {
        assert_eq!(app.create_lead(&a, json!({"companyName": name})).await.status(), 201);
    }
    let names = |q: &'static str| {
        let app = &app;
        let token = a.token.clone();
        async move {
            let url = format!("/api/v1/leads?q={}&sort=companyName", urlencoding(q));
            let page: Value = app.get_json(&url, Some(&token)).await;
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["companyName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("Trading 1234").await, ["Main Trading 123456"], "the last word as a prefix");
    assert!(names("Trad 123456").await.is_empty(), "an earlier word matches whole: trad is not trading");
    assert_eq!(names("main").await, ["Main Trading 123456", "Main Trading 223456", "Maintenance Trades 123456"]);
    assert_eq!(names("main ").await, ["Main Trading 123456", "Main Trading 223456"], "a finished word matches whole");
    assert_eq!(names("مؤسسة النخ").await, ["مؤسسة النخيل التجارية"], "the company word narrows nothing");
    assert_eq!(names("شركة النخيل").await, ["مؤسسة النخيل التجارية"], "another company word, the same");
}

fn urlencoding(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

#[tokio::test]
async fn forged_cursors_and_nul_in_queries_are_422() {
    use base64::Engine;
    let app = spawn_app().await;
    let a = app.register().await;
    let enc = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let id = uuid::Uuid::now_v7();
    for (sort, cursor) in [
        ("-createdAt", enc(&format!(r#"{{"s":"-createdAt","i":1,"id":"{id}"}}"#))),
        ("-createdAt", enc(&format!(r#"{{"s":"-createdAt","t":-300000000000000000000,"id":"{id}"}}"#))),
        ("companyName", enc(&format!(r#"{{"s":"companyName","x":"a\u0000b","id":"{id}"}}"#))),
        ("-score", enc(&format!(r#"{{"s":"-score","x":"text","id":"{id}"}}"#))),
    ] {
        let res = app.get(&format!("/api/v1/leads?sort={sort}&cursor={cursor}"), Some(&a.token)).await;
        problem(res, 422, "VALIDATION_FAILED").await;
    }
    for q in ["q=%00", "city=a%00b", "tag=%00", "industry=%00"] {
        problem(app.get(&format!("/api/v1/leads?{q}"), Some(&a.token)).await, 422, "VALIDATION_FAILED").await;
    }
    problem(app.get("/api/v1/audit-logs?entityType=%00", Some(&a.token)).await, 422, "VALIDATION_FAILED").await;
    problem(
        app.get(
            &format!("/api/v1/audit-logs?cursor={}", enc(&format!("[-300000000000000000000,\"{id}\"]"))),
            Some(&a.token),
        )
        .await,
        422,
        "VALIDATION_FAILED",
    )
    .await;
}

/// Lead `i`'s name for the relevance searches for "Main": the word once, twice or three times,
/// in turn.
fn ranked_name(i: usize) -> String {
    match i % 3 {
        0 => format!("Main Trading {i}"),
        1 => format!("Main Main Trading {i}"),
        _ => format!("Main Main Main Est {i}"),
    }
}

/// Paging through a common-word relevance search (`limit=37`) while leads that match are being
/// added: no lead comes twice, every lead that was there before comes, and those come in the
/// order one page of all of them shows (rank, then id, both descending: the keyset is exact).
#[tokio::test]
async fn relevance_pages_stay_exact_while_leads_are_added() {
    let app = spawn_app().await;
    let a = app.owner_on("enterprise").await;
    // Ranks differ (the word once, twice, three times) and tie (many names per rank).
    let name = ranked_name;
    for i in 0..150 {
        assert_eq!(
            app.create_lead(&a, json!({"companyName": name(i), "phone": format!("05{i:08}")})).await.status(),
            201
        );
    }
    let ids = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect()
    };
    let all: Value = app.get_json("/api/v1/leads?q=Main&limit=200", Some(&a.token)).await;
    let before = ids(&all);
    assert_eq!(before.len(), 150);

    let adding = async {
        for i in 150..210 {
            let res = app.create_lead(&a, json!({"companyName": name(i), "phone": format!("05{i:08}")})).await;
            assert_eq!(res.status(), 201);
        }
    };
    let paging = async {
        let (mut seen, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let url = match &cursor {
                Some(c) => format!("/api/v1/leads?q=Main&limit=37&cursor={c}"),
                None => "/api/v1/leads?q=Main&limit=37".to_owned(),
            };
            let page: Value = app.get_json(&url, Some(&a.token)).await;
            seen.extend(ids(&page));
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            tokio::task::yield_now().await;
        }
        seen
    };
    let ((), seen) = futures::join!(adding, paging);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no lead twice");
    let old: Vec<&String> = seen.iter().filter(|id| before.contains(id)).collect();
    assert_eq!(old, before.iter().collect::<Vec<_>>(), "every earlier lead, in the one-page order");
}

/// A search matching more leads than the ranked window (`RANKED_WINDOW`, 1,000): the newest 1,000
/// come by rank (then id), every older one after them newest first — paged at `limit=37` while
/// matching leads are added (no lead twice, every earlier one in the same order as a quiet paging),
/// and an export of the same search lists them in that order.
/// A first page looks for its window among the tenant's newest leads first and asks the search
/// index when too few match there: matches older than every lead that walk reads are still found,
/// ranked, and paged past their window newest first.
#[tokio::test]
async fn a_word_only_in_older_leads_is_found_past_the_newest_ones() {
    let app = spawn_app().await;
    let a = app.owner_on("enterprise").await;
    // Oldest first: 1,200 "Noor" (twice in every third name), 5 "Zahra", then 8,095 "Main", one in
    // four of them "Khalid" too (a word whose window lies past the first walk's rows).
    let mut csv = String::from("Company,Phone\n");
    for i in 0..9_300 {
        let name = match i {
            0..1_200 if i % 3 == 0 => format!("Noor Noor Trading {i}"),
            0..1_200 => format!("Noor Trading {i}"),
            1_200..1_205 => format!("Zahra Est {i}"),
            _ if i % 4 == 0 => format!("Main Khalid Trading {i}"),
            _ => format!("Main Trading {i}"),
        };
        csv.push_str(&format!("{name},05{i:08}\n"));
    }
    let import: Value = app.import_csv(&a.token, csv.into_bytes(), "").await.json().await.unwrap();
    let job = app.wait_job(&a.token, import["job"]["id"].as_str().unwrap(), 300).await;
    assert_eq!(job["result"]["created"], 9_300, "{job}");
    let all = |q: &str| {
        let (app, token, q) = (&app, a.token.clone(), q.to_owned());
        async move { app.all_rows(&format!("/api/v1/leads?q={q}&limit=200"), &token).await }
    };
    let name = |l: &Value| l["companyName"].as_str().unwrap().to_owned();
    let zahra = all("Zahra").await;
    assert_eq!(zahra.len(), 5, "a rare word among the oldest leads");
    assert!(zahra.iter().all(|l| name(l).starts_with("Zahra")));

    let noor = all("Noor").await;
    assert_eq!(noor.len(), 1_200, "every match, none twice");
    let mut ids: Vec<String> = noor.iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1_200);
    let time = |l: &Value| l["createdAt"].as_str().unwrap().to_owned();
    let (ranked, older) = noor.split_at(1_000);
    let twice = |l: &Value| name(l).starts_with("Noor Noor");
    assert!(ranked.windows(2).all(|w| twice(&w[0]) >= twice(&w[1])), "the window is ranked");
    let oldest_ranked = ranked.iter().map(time).min().unwrap();
    assert!(older.iter().all(|l| time(l) <= oldest_ranked), "the rest are past the window");
    assert!(older.windows(2).all(|w| time(&w[0]) >= time(&w[1])), "and come newest first");
    // The window is the newest 1,000 matches: the 200 past it are the oldest rows of the file.
    let row = |l: &Value| name(l).rsplit(' ').next().unwrap().parse::<usize>().unwrap();
    let mut past: Vec<usize> = older.iter().map(row).collect();
    past.sort_unstable();
    assert_eq!(past, (0..200).collect::<Vec<_>>());

    let main = all("Main").await;
    assert_eq!(main.len(), 8_095, "a word in the newest leads pages through all of them");

    let khalid = all("Khalid").await;
    assert_eq!(khalid.len(), (1_205..9_300).filter(|i| i % 4 == 0).count());
    let (ranked, older) = khalid.split_at(1_000);
    let oldest_ranked = ranked.iter().map(time).min().unwrap();
    assert!(older.iter().all(|l| time(l) <= oldest_ranked), "the window is the newest 1,000");
    let mut past: Vec<usize> = older.iter().map(row).collect();
    past.sort_unstable();
    let oldest: Vec<usize> = (1_205..9_300).filter(|i| i % 4 == 0).take(older.len()).collect();
    assert_eq!(past, oldest, "the ones past the window are the oldest matches");
}

#[tokio::test]
async fn a_search_past_the_ranked_window_pages_exactly_and_exports_in_the_same_order() {
    let app = spawn_app().await;
    let a = app.owner_on("enterprise").await;
    // Ranks differ (the word once, twice, three times); 1,100 leads, so 100 fall past the window.
    let name = ranked_name;
    let mut csv = String::from("Company,Phone\n");
    for i in 0..1_100 {
        csv.push_str(&format!("{},05{i:08}\n", name(i)));
    }
    let import: Value = app.import_csv(&a.token, csv.into_bytes(), "").await.json().await.unwrap();
    let job = app.wait_job(&a.token, import["job"]["id"].as_str().unwrap(), 120).await;
    assert_eq!(job["result"]["created"], 1_100, "{job}");
    let page_of = |cursor: Option<&str>, limit: u32| match cursor {
        Some(c) => format!("/api/v1/leads?q=Main&limit={limit}&cursor={c}"),
        None => format!("/api/v1/leads?q=Main&limit={limit}"),
    };
    // A quiet paging: the order.
    let quiet = app.all_rows(&page_of(None, 200), &a.token).await;
    assert_eq!(quiet.len(), 1_100);
    let time = |l: &Value| l["createdAt"].as_str().unwrap().to_owned();
    let main_count = |l: &Value| l["companyName"].as_str().unwrap().matches("Main").count();
    // The ranked part: the newest 1,000, more "Main" first.
    let (ranked, older) = quiet.split_at(1_000);
    assert!(ranked.windows(2).all(|w| main_count(&w[0]) >= main_count(&w[1])), "ranked by relevance");
    let oldest_ranked = ranked.iter().map(time).min().unwrap();
    assert!(older.iter().all(|l| time(l) <= oldest_ranked), "the older ones are past the window");
    assert!(older.windows(2).all(|w| time(&w[0]) >= time(&w[1])), "the older ones come newest first");
    assert!(
        older.windows(2).any(|w| main_count(&w[0]) < main_count(&w[1])),
        "the older ones are not ranked (ranking every match is what the window bounds)"
    );
    let quiet: Vec<String> = quiet.iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();

    // The same paging at limit=37 while matching leads are added after its first page.
    let first: Value = app.get_json(&page_of(None, 37), Some(&a.token)).await;
    let adding = async {
        for i in 1_100..1_140 {
            assert_eq!(app.create_lead(&a, json!({"companyName": name(i)})).await.status(), 201);
        }
    };
    let paging = async {
        let mut seen: Vec<String> =
            first["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
        let mut cursor = first["nextCursor"].as_str().map(str::to_owned);
        while let Some(c) = cursor {
            let page: Value = app.get_json(&page_of(Some(&c), 37), Some(&a.token)).await;
            seen.extend(page["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()));
            cursor = page["nextCursor"].as_str().map(str::to_owned);
            tokio::task::yield_now().await;
        }
        seen
    };
    let ((), seen) = futures::join!(adding, paging);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no lead twice");
    let old: Vec<&String> = seen.iter().filter(|id| quiet.contains(id)).collect();
    assert_eq!(old, quiet.iter().collect::<Vec<_>>(), "every earlier lead, in the quiet order");

    // An export of the search lists the leads in the listing's order.
    let res = app.post("/api/v1/exports", Some(&a.token), &json!({"format": "csv", "filter": {"q": "Main"}})).await;
    assert_eq!(res.status(), 202);
    let export = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_job(&a.token, &export, 120).await["status"], "SUCCESS");
    let listing: Vec<String> = app
        .all_rows(&page_of(None, 200), &a.token)
        .await
        .iter()
        .map(|l| l["companyName"].as_str().unwrap().to_owned())
        .collect();
    let csv = app.get(&format!("/api/v1/exports/{export}/download"), Some(&a.token)).await.text().await.unwrap();
    let exported: Vec<String> =
        csv.trim_start_matches('\u{feff}').lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).collect();
    assert_eq!(exported.len(), 1_140);
    assert_eq!(exported, listing, "the export's order is the listing's");
}

/// A relevance cursor kept while the search changed to one with no word left to match (or the
/// reverse) is a 422, not a database error: the two page differently.
#[tokio::test]
async fn a_relevance_cursor_of_another_kind_of_search_is_422() {
    let app = spawn_app().await;
    let a = app.register().await;
    for i in 0..3 {
        assert_eq!(app.create_lead(&a, json!({"companyName": format!("Main Trading {i}")})).await.status(), 201);
    }
    let ranked: Value = app.get_json("/api/v1/leads?q=Main&limit=1", Some(&a.token)).await;
    let ranked = ranked["nextCursor"].as_str().unwrap().to_owned();
    let wordless: Value = app.get_json("/api/v1/leads?q=!!!&sort=relevance&limit=1", Some(&a.token)).await;
    let wordless = wordless["nextCursor"].as_str().unwrap().to_owned();
    // Each cursor pages its own search.
    assert_eq!(app.get(&format!("/api/v1/leads?q=Main&limit=1&cursor={ranked}"), Some(&a.token)).await.status(), 200);
    let next = app.get(&format!("/api/v1/leads?q=!!!&sort=relevance&limit=1&cursor={wordless}"), Some(&a.token)).await;
    assert_eq!(next.status(), 200);
    // Swapped, each is refused.
    let res = app.get(&format!("/api/v1/leads?q=!!!&sort=relevance&cursor={ranked}"), Some(&a.token)).await;
    assert_eq!(problem(res, 422, "VALIDATION_FAILED").await["errors"][0]["field"], "cursor");
    let res = app.get(&format!("/api/v1/leads?q=Main&cursor={wordless}"), Some(&a.token)).await;
    assert_eq!(problem(res, 422, "VALIDATION_FAILED").await["errors"][0]["field"], "cursor");
}
