//! Jobs end to end: CSV imports (Arabic headers, Windows-1256, duplicates, bad rows, quota,
//! dry runs), exports and the round trip, idempotency keys, SSE, cancellation, isolation, and a
//! worker killed with SIGKILL in the middle of an import.

use crate::helpers::*;
use serde_json::{Value, json};

pub(crate) fn arabic_csv(rows: usize) -> String {
    let mut csv = String::from("اسم الشركة,المدينة,الجوال,البريد الإلكتروني\n");
    for i in 0..rows {
        let phone = if i % 100 == 7 {
            "12".to_owned() // invalid
        } else if i % 200 == 13 {
            format!("05{:08}", i - 1) // the same phone as the row before: a duplicate
        } else {
            format!("05{i:08}")
        };
        csv.push_str(&format!("شركة رقم {i},الرياض,{phone},info{i}@example.sa\n"));
    }
    csv
}

#[tokio::test]
async fn a_ten_thousand_row_arabic_import_counts_exactly() {
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    let res = app.import_csv(&owner.token, arabic_csv(10_000).into_bytes(), "").await;
    assert_eq!(res.status(), 202);
    assert!(res.headers().get("location").unwrap().to_str().unwrap().starts_with("/api/v1/jobs/"));
    let body: Value = res.json().await.unwrap();
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    assert!(body["job"]["input"].get("blobKey").is_none());
    // Every run of this job must end alike: the counts, the leads stored and the quota charged.
    let app = &app;
    let ends_exactly = |job: Value| async move {
        assert_eq!(job["status"], "SUCCESS", "{job}");
        let r = &job["result"];
        assert_eq!(
            (r["total"].clone(), r["created"].clone(), r["failed"].clone(), r["duplicates"].clone()),
            (json!(10000), json!(9850), json!(100), json!(50))
        );
        assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 9850);
        assert_eq!(app.sql_i64("SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await, 9850);
    };
    let job = app.wait_job(&owner.token, &id, 120).await;
    ends_exactly(job).await;
    let errors = app.get(&format!("/api/v1/imports/{id}/errors.csv"), Some(&owner.token)).await;
    assert_eq!(errors.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
    let text = String::from_utf8(errors.bytes().await.unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 101, "a header and the 100 rejected rows");
    assert!(lines[1].starts_with("9,phone:"), "{}", lines[1]);
    assert!(lines[1].contains("شركة رقم 7"));
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_IMPORTED'").await, 1);
    let logs: Value = app.get_json(&format!("/api/v1/jobs/{id}/logs"), Some(&owner.token)).await;
    assert!(logs["data"].as_array().unwrap().iter().any(|l| l["message"] == "import finished"));

    // Run the same job again from no checkpoint at all, as after a crash right after its batches
    // committed: it recognises every lead it wrote, so nothing is added or charged twice and it
    // reports the same counts.
    app.sql(&format!(
        "UPDATE jobs SET status = 'PENDING', result = NULL, progress = 0, completed_at = NULL, run_at = now()
          WHERE id = '{id}'"
    ))
    .await;
    ends_exactly(app.wait_job(&owner.token, &id, 120).await).await;

    // And as if it were its first run (attempt and checkpoint both given back, as after a stop
    // whose last checkpoint was lost): the fast insert meets the stored rows, the attempt fails
    // retryably, and the retry skips them with the same counts.
    app.sql(&format!(
        "UPDATE jobs SET status = 'PENDING', result = NULL, progress = 0, completed_at = NULL, run_at = now(),
                attempts = 0 WHERE id = '{id}'"
    ))
    .await;
    let mut retried = false;
    for _ in 0..600 {
        let waiting = app
            .sql_i64(&format!(
                "SELECT count(*) FROM jobs WHERE id = '{id}' AND status = 'PENDING' AND attempts = 1
                   AND error->>'code' = 'INTERNAL'
                   AND error->>'message' LIKE 'rows of this import are stored already%'"
            ))
            .await;
        if waiting == 1 {
            retried = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(retried, "the first-run insert met its stored rows and was scheduled again");
    app.sql(&format!("UPDATE jobs SET run_at = now() WHERE id = '{id}'")).await; // skip the backoff
    ends_exactly(app.wait_job(&owner.token, &id, 120).await).await;
}

#[tokio::test]
async fn windows_1256_semicolons_and_dry_runs() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let text = "اسم الشركة;المدينة;الجوال\nمؤسسة النور للتجارة;جدة;0551234567\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");

    let dry: Value = app.import_csv(&owner.token, bytes.to_vec(), "?dryRun=true").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, dry["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!((job["result"]["created"].clone(), job["result"]["dryRun"].clone()), (json!(1), json!(true)));
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 0, "a dry run writes nothing");

    let real: Value = app.import_csv(&owner.token, bytes.to_vec(), "").await.json().await.unwrap();
    app.wait_job(&owner.token, real["job"]["id"].as_str().unwrap(), 30).await;
    let page: Value = app.get_json("/api/v1/leads", Some(&owner.token)).await;
    assert_eq!(page["data"][0]["companyName"], "مؤسسة النور للتجارة");
    assert_eq!(page["data"][0]["city"], "جدة");
    assert_eq!(page["data"][0]["phone"], "+966551234567");
}

#[tokio::test]
async fn a_multipart_import_with_a_mapping_lands_in_a_list_with_every_field() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let list: Value =
        app.post_json("/api/v1/lists", Some(&owner.token), &json!({"name": "Imported", "isSmart": false})).await;
    let list_id = list["id"].as_str().unwrap().to_owned();
    let csv = "Firma,Tel,Wert,Stichworte,Stand,Branche\n\
               Alpha Co,0501110001,40,vip|gulf,CONTACTED,Retail\n\
               شركة بيتا,,,,,\n";
    let boundary = "leadzone-test-boundary";
    let mut body = Vec::new();
    let mut part = |headers: &str, data: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\nContent-Type: text/csv",
        csv.as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"mapping\"",
        br#"{"Firma": "companyName", "Tel": "phone", "Wert": "score", "Stichworte": "tags", "Stand": "status", "Branche": "ignore"}"#,
    );
    part("Content-Disposition: form-data; name=\"listId\"", list_id.as_bytes());
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = app
        .client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&owner.token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let started = expect_json(res, 202).await;
    let job = app.wait_job(&owner.token, started["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!((job["status"].clone(), job["result"]["created"].clone()), (json!("SUCCESS"), json!(2)), "{job}");

    let page: Value =
        app.get_json(&format!("/api/v1/leads?listId={list_id}&sort=companyName"), Some(&owner.token)).await;
    let leads = page["data"].as_array().unwrap();
    assert_eq!(leads.len(), 2, "{page}");
    let alpha = &leads[0];
    assert_eq!(
        (&alpha["companyName"], &alpha["phone"], &alpha["score"], &alpha["tags"], &alpha["status"], &alpha["industry"]),
        (
            &json!("Alpha Co"),
            &json!("+966501110001"),
            &json!(40),
            &json!(["vip", "gulf"]),
            &json!("CONTACTED"),
            &Value::Null
        )
    );
    let beta = &leads[1];
    assert_eq!(
        (&beta["companyName"], &beta["phone"], &beta["score"], &beta["tags"], &beta["status"], &beta["listId"]),
        (&json!("شركة بيتا"), &Value::Null, &Value::Null, &json!([]), &json!("NEW"), &json!(list_id))
    );
    let lists: Value = app.get_json("/api/v1/lists", Some(&owner.token)).await;
    assert_eq!(lists["data"][0]["leadsCount"], 2, "{lists}");

    // Another tenant's list is no list at all.
    let other = app.register().await;
    let res = app.import_csv(&other.token, b"Company\nX\n".to_vec(), &format!("?listId={list_id}")).await;
    problem(res, 422, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn an_imported_lead_is_a_duplicate_of_the_same_company_created_later() {
    let app = spawn_app().await;
    let owner = app.register().await;
    // A city that folds to nothing ("-") is stored alike by the import and by POST /leads.
    let body: Value = app.import_csv(&owner.token, b"Company,City\nNour,-\n".to_vec(), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["result"]["created"], 1, "{job}");
    let res = app.create_lead(&owner, json!({"companyName": "Nour", "city": "-"})).await;
    problem(res, 409, "DUPLICATE_LEAD").await;
}

/// Leads created one by one while an import stores the same companies: each company ends up
/// once, created either by the import or by POST /leads (409 for the other).
#[tokio::test]
async fn single_leads_racing_an_import_of_the_same_companies_make_no_duplicates() {
    const ROWS: usize = 6_000;
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    let mut csv = String::from("Company,City,Phone\n");
    for i in 0..ROWS {
        csv.push_str(&format!("Racing {i},Riyadh,05{i:08}\n"));
    }
    let body: Value = app.import_csv(&owner.token, csv.into_bytes(), "").await.json().await.unwrap();
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..6u64)
        .map(|w| {
            let (base, token, done) = (app.base.clone(), owner.token.clone(), done.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut created, mut i) = (0usize, w);
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    // Spread over the file, so that every batch of the import meets some.
                    let row = (i * 977) as usize % ROWS;
                    i += 6;
                    let res = client
                        .post(format!("{base}/api/v1/leads"))
                        .bearer_auth(&token)
                        .json(&json!({"companyName": format!("Racing {row}"), "city": "Riyadh", "phone": format!("05{row:08}")}))
                        .send()
                        .await
                        .unwrap();
                    match res.status().as_u16() {
                        201 => created += 1,
                        409 => {}
                        other => panic!("POST /leads: {other}"),
                    }
                }
                created
            })
        })
        .collect();
    let job = app.wait_job(&owner.token, &id, 180).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut posted = 0;
    for w in writers {
        posted += w.await.unwrap();
    }
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert!(posted > 0, "no single lead was created during the import");
    assert_eq!(
        app.sql_i64("SELECT count(*) FROM (SELECT phone FROM leads GROUP BY phone HAVING count(*) > 1) d").await,
        0
    );
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, ROWS as i64);
    let created = job["result"]["created"].as_u64().unwrap() as usize;
    assert_eq!(created + posted, ROWS, "{job}");
    assert_eq!(job["result"]["duplicates"].as_u64().unwrap() as usize, posted, "{job}");
}

#[tokio::test]
async fn an_import_past_the_quota_creates_up_to_it() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let body: Value = app.import_csv(&owner.token, companies_csv(150), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!((job["result"]["created"].clone(), job["result"]["failed"].clone()), (json!(100), json!(50)));
    assert_eq!(job["result"]["errors"][0]["code"], "QUOTA_EXCEEDED");
    assert_eq!(job["result"]["errors"][0]["message"], "the plan's monthly lead limit is reached");
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 100);
}

#[tokio::test]
async fn batches_stored_at_once_stop_exactly_at_the_quota() {
    let app = spawn_app().await;
    let owner = app.owner_on("starter").await;
    app.sql("UPDATE plans SET leads_limit = 2500 WHERE id = 'starter'").await;
    // Four batches, two stored at once: the limit falls inside the third while the fourth runs.
    let body: Value = app.import_csv(&owner.token, companies_csv(4000), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, body["job"]["id"].as_str().unwrap(), 60).await;
    assert_eq!((job["result"]["created"].clone(), job["result"]["failed"].clone()), (json!(2500), json!(1500)));
    let errors = job["result"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1000, "the result keeps the first 1,000 rejected rows");
    assert!(errors.iter().all(|e| e["code"] == "QUOTA_EXCEEDED"));
    // Charged in file order: the first 2,500 rows are the ones created (line 2 is row 0).
    assert_eq!(errors[0]["row"], 2502, "{}", errors[0]);
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads WHERE company_name IN ('Company 0', 'Company 2499')").await, 2);
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads WHERE company_name = 'Company 2500'").await, 0);
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 2500);
    assert_eq!(app.sql_i64("SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await, 2500);
}

#[tokio::test]
async fn export_then_reimport_creates_nothing_and_keeps_arabic_byte_for_byte() {
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    let original = "اسم الشركة,المدينة,الجوال,الموقع\nشركة الرياض للتقنية,الرياض,0501234567,riyadh-tech.sa\nمؤسسة النُّور,جدة,,\n\"Techno \"\"Solutions\"\", LLC\",Dammam,0509999999,\n";
    let imported: Value = app.import_csv(&owner.token, original.as_bytes().to_vec(), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, imported["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["result"]["created"], 3, "{job}");

    let res = app.post("/api/v1/exports", Some(&owner.token), &json!({"format": "csv", "filter": {}})).await;
    let export = expect_json(res, 202).await;
    let export_id = export["job"]["id"].as_str().unwrap().to_owned();
    let done = app.wait_job(&owner.token, &export_id, 30).await;
    assert_eq!(done["result"]["rows"], 3);
    let file = app.get(&format!("/api/v1/exports/{export_id}/download"), Some(&owner.token)).await;
    assert_eq!(file.status(), 200);
    let bytes = file.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM, for Excel");
    let text = String::from_utf8(bytes.clone()).unwrap();
    for name in ["شركة الرياض للتقنية", "مؤسسة النُّور", "جدة"] {
        assert!(text.contains(name), "the exported bytes hold {name} exactly");
    }
    let again: Value = app.import_csv(&owner.token, bytes, "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, again["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!((job["result"]["created"].clone(), job["result"]["duplicates"].clone()), (json!(0), json!(3)), "{job}");
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 3);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE event_type = 'LEAD_EXPORTED'").await, 1);
}

#[tokio::test]
async fn idempotency_keys_sse_cancel_and_isolation() {
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let owner = app.register().await;
    let send = |body: Value, key: &str| {
        let (app, token, key) = (&app, owner.token.clone(), key.to_owned());
        async move {
            app.client
                .post(app.url("/api/v1/exports"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let first: Value = send(json!({"format": "csv", "filter": {"city": "Riyadh"}}), "k-1").await.json().await.unwrap();
    let replay = send(json!({"format": "csv", "filter": {"city": "Riyadh"}}), "k-1").await;
    let replay = expect_json(replay, 202).await;
    assert_eq!(replay["job"]["id"], first["job"]["id"], "the same key returns the first job");
    problem(send(json!({"format": "csv", "filter": {"city": "Jeddah"}}), "k-1").await, 422, "VALIDATION_FAILED").await;
    problem(send(json!({"format": "csv", "filter": {"status": "WON"}}), "k-2").await, 422, "VALIDATION_FAILED").await;
    // The same filter rules as a bulk action: nothing that could silently widen the filter.
    for (bad, field) in [
        (json!({"city": {"eq": "Riyadh"}}), "filter.city"),
        (json!({"status": ["NEW", 1]}), "filter.status[1]"),
        (json!({"status": []}), "filter.status"),
        (json!({"listId": null}), "filter.listId"),
        (json!({"cty": "Riyadh"}), "filter.cty"),
        (json!("Riyadh"), "filter"),
    ] {
        let body = problem(send(json!({"format": "csv", "filter": bad}), "k-3").await, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&body), [field], "{body}");
    }
    let id = first["job"]["id"].as_str().unwrap().to_owned();
    let jobs: Value = app.get_json("/api/v1/jobs?type=EXPORT", Some(&owner.token)).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 1);

    // No workers here: the job stays PENDING, so cancelling it is immediate; then it is finished.
    let cancelled: Value = app.post_json(&format!("/api/v1/jobs/{id}/cancel"), Some(&owner.token), &json!({})).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    problem(
        app.post(&format!("/api/v1/jobs/{id}/cancel"), Some(&owner.token), &json!({})).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;

    // SSE: a progress event, then done.
    let sse = app.get(&format!("/api/v1/jobs/{id}/events"), Some(&owner.token)).await;
    assert_eq!(sse.headers().get("content-type").unwrap(), "text/event-stream");
    let text = sse.text().await.unwrap();
    assert!(text.contains("event: progress\n") && text.contains("event: done\n"), "{text}");
    assert!(text.contains("\"status\":\"CANCELLED\""));

    let other = app.register().await;
    for path in [
        format!("/api/v1/jobs/{id}"),
        format!("/api/v1/jobs/{id}/logs"),
        format!("/api/v1/jobs/{id}/events"),
        format!("/api/v1/exports/{id}/download"),
        format!("/api/v1/imports/{id}/errors.csv"),
    ] {
        problem(app.get(&path, Some(&other.token)).await, 404, "NOT_FOUND").await;
    }
    problem(app.post(&format!("/api/v1/jobs/{id}/cancel"), Some(&other.token), &json!({})).await, 404, "NOT_FOUND")
        .await;
    let sales = app.add_member(&owner, "SALES").await;
    problem(app.post("/api/v1/exports", Some(&sales.token), &json!({"format": "csv"})).await, 403, "FORBIDDEN").await;
    problem(app.import_csv(&sales.token, b"Company\nx\n".to_vec(), "").await, 403, "FORBIDDEN").await;
    problem(app.get(&format!("/api/v1/jobs/{id}"), Some(&sales.token)).await, 404, "NOT_FOUND").await;
    problem(app.import_csv(&owner.token, b"Colour,Size\nred,1\n".to_vec(), "").await, 422, "VALIDATION_FAILED").await;
}

/// A running import that is cancelled stops at its next checkpoint, and its result counts every
/// lead it wrote — including batches that finished after the cancellation was seen.
#[tokio::test]
async fn a_cancelled_import_reports_exactly_what_it_created() {
    let app = spawn_app().await;
    let (owner, id) = app.long_import().await;
    let mut cancelled_while_running = false;
    for _ in 0..600 {
        let job: Value = app.get_json(&format!("/api/v1/jobs/{id}"), Some(&owner.token)).await;
        if job["status"] == "RUNNING" && job["progress"].as_i64().unwrap_or(0) >= 5 {
            let res = app.post(&format!("/api/v1/jobs/{id}/cancel"), Some(&owner.token), &json!({})).await;
            cancelled_while_running = res.status().is_success();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(cancelled_while_running, "the import was cancelled while it ran");
    let job = app.wait_job(&owner.token, &id, 60).await;
    let created = job["result"]["created"].as_i64().unwrap();
    match job["status"].as_str() {
        // Seen at a checkpoint: it stopped with part of the file written.
        Some("CANCELLED") => assert!(created > 0 && created < 80_000, "{job}"),
        // The request came after the last checkpoint: the import is whole, and says it was asked.
        Some("SUCCESS") => {
            assert_eq!(created, 80_000, "{job}");
            assert_eq!(job["cancelRequested"], true, "{job}");
        }
        _ => panic!("a cancelled import ends CANCELLED or SUCCESS: {job}"),
    }
    // Either way the result counts exactly what was written and charged.
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, created, "{job}");
    assert_eq!(app.sql_i64("SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await, created);
}

/// A worker process killed with SIGKILL in the middle of a 100,000-row import, a second one
/// stopped with SIGTERM, then a third: exactly 100,000 leads, no duplicates, nothing charged twice.
#[tokio::test]
async fn an_import_survives_kill_dash_nine_of_its_worker() {
    use std::process::{Command, Stdio};
    // The API process runs no workers; workers are separate processes, as in production.
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let owner = app.owner_on("enterprise").await;
    let mut csv = String::with_capacity(4_000_000);
    csv.push_str("Company,City,Phone\n");
    for i in 0..100_000 {
        csv.push_str(&format!("Company {i},Riyadh,05{i:08}\n"));
    }
    let body: Value = app.import_csv(&owner.token, csv.into_bytes(), "").await.json().await.unwrap();
    let id = body["job"]["id"].as_str().unwrap().to_owned();

    let worker = |lease: &str| {
        Command::new(env!("CARGO_BIN_EXE_leadzone"))
            .arg("worker")
            .env("DATABASE_URL", app.db.owner_url())
            .env("DATABASE_APP_URL", app.db.app_url())
            .env("DATABASE_SYSTEM_URL", app.db.system_url())
            .env("LEADZONE_MASTER_KEY", TEST_MASTER_KEY)
            .env("LEADZONE_DATA_DIR", &app.data_dir)
            .env("LEADZONE_WORKERS", "1")
            .env("LEADZONE_JOB_LEASE_SECS", lease)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = worker("2");
    // Let it get well into the file, then kill it without any chance to clean up.
    let mut progressed = false;
    let mut last = Value::Null;
    for _ in 0..600 {
        let job: Value = app.get_json(&format!("/api/v1/jobs/{id}"), Some(&owner.token)).await;
        if job["progress"].as_i64().unwrap_or(0) >= 20 {
            progressed = job["status"] == "RUNNING";
            last = job;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(progressed, "the first worker made progress: {last}");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let mid = app.sql_i64("SELECT count(*) FROM leads").await;
    assert!(mid > 0 && mid < 100_000, "killed mid-import at {mid}");

    // A second worker resumes it; SIGTERM stops it at a checkpoint and releases the job.
    let second = worker("2");
    let mut resumed = false;
    for _ in 0..600 {
        if app.sql_i64("SELECT count(*) FROM leads").await > mid + 10_000 {
            resumed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(resumed, "the second worker resumed the import");
    assert!(Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap().success());
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success(), "SIGTERM is a clean stop");
    let released: Value = app.get_json(&format!("/api/v1/jobs/{id}"), Some(&owner.token)).await;
    if released["status"] != "SUCCESS" {
        assert_eq!(released["status"], "PENDING", "released for another worker: {released}");
    }

    let mut third = worker("2");
    let job = app.wait_job(&owner.token, &id, 300).await;
    third.kill().unwrap();
    third.wait().unwrap();
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["result"]["created"], 100_000);
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, 100_000);
    assert_eq!(app.sql_i64("SELECT count(DISTINCT phone) FROM leads").await, 100_000, "no lead twice");
    assert_eq!(
        app.sql_i64("SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await,
        100_000,
        "no unit charged twice"
    );
    assert!(job["attempts"].as_i64().unwrap() >= 2);
}

/// Retention: old job history goes; old WhatsApp messages and audit rows are archived to gzip JSON
/// Lines first, then removed; recent rows stay.
#[tokio::test]
async fn retention_archives_before_it_deletes() {
    use leadzone_app::retention::run_retention;
    use std::io::Read;
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let owner = app.register().await;
    let (t, u) = (&owner.tenant_id, &owner.user_id);
    app.sql(&format!(
        "INSERT INTO jobs (id, tenant_id, type, status, created_by, completed_at) VALUES
           (gen_random_uuid(), '{t}', 'EXPORT', 'SUCCESS', '{u}', now() - interval '100 days'),
           (gen_random_uuid(), '{t}', 'EXPORT', 'SUCCESS', '{u}', now() - interval '10 days'),
           (gen_random_uuid(), '{t}', 'EXPORT', 'PENDING', '{u}', NULL);
         UPDATE jobs SET created_at = now() - interval '200 days' WHERE status = 'PENDING';
         INSERT INTO job_logs (id, tenant_id, job_id, level, message, created_at)
           SELECT gen_random_uuid(), tenant_id, id, 'INFO', 'old', now() - interval '40 days' FROM jobs WHERE completed_at > now() - interval '20 days';
         INSERT INTO whatsapp_messages (id, tenant_id, phone, message, sent_by, sent_at) VALUES
           (gen_random_uuid(), '{t}', '+966500000001', 'مرحبا', '{u}', now() - interval '400 days'),
           (gen_random_uuid(), '{t}', '+966500000002', 'recent', '{u}', now() - interval '1 day');
         INSERT INTO audit_logs (id, tenant_id, event_type, action, created_at) VALUES
           (gen_random_uuid(), '{t}', 'AUTH_LOGIN', 'ancient', now() - interval '800 days');"
    ))
    .await;
    let system = leadzone_postgres::connect(&app.db.system_url(), &Default::default()).await.unwrap();
    let store = leadzone_postgres::PgRetention::new(system);
    let blobs = leadzone_providers::LocalBlobStore::new(std::path::Path::new(&app.data_dir).join("blobs"));
    let report = run_retention(&store, &blobs, time::OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!((report.job_logs, report.jobs, report.whatsapp_messages, report.audit_logs), (1, 1, 1, 1));
    assert_eq!(app.sql_i64("SELECT count(*) FROM jobs").await, 2, "recent and unfinished jobs stay");
    assert_eq!(app.sql_i64("SELECT count(*) FROM whatsapp_messages").await, 1);
    assert_eq!(app.sql_i64("SELECT count(*) FROM audit_logs WHERE action = 'ancient'").await, 0);
    assert!(app.sql_i64("SELECT count(*) FROM audit_logs").await >= 1, "recent audit rows stay");
    // The archives hold the removed rows.
    let dir = std::path::Path::new(&app.data_dir).join("blobs/archives/whatsapp_messages");
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap()).read_to_string(&mut text).unwrap();
    let row: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(row["message"], "مرحبا");
    assert!(std::path::Path::new(&app.data_dir).join("blobs/archives/audit_logs").exists());
    // The application role still cannot delete audit rows.
    let app_role = app.db.connect_as("leadzone_app").await;
    use sea_orm::ConnectionTrait;
    assert!(app_role.execute_unprepared("DELETE FROM audit_logs").await.is_err());
}

#[tokio::test]
async fn a_member_who_sees_only_their_jobs_gets_full_pages() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let manager = app.add_member(&owner, "MANAGER").await;
    let import = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let body: Value =
                app.import_csv(&token, format!("Company\n{name}\n").into_bytes(), "").await.json().await.unwrap();
            let id = body["job"]["id"].as_str().unwrap().to_owned();
            app.wait_job(&token, &id, 30).await;
            id
        }
    };
    // The member's job is the oldest; two newer ones belong to the owner.
    let mine = import(manager.token.clone(), "Mine").await;
    import(owner.token.clone(), "Owner One").await;
    import(owner.token.clone(), "Owner Two").await;

    let page: Value = app.get_json("/api/v1/jobs?limit=1", Some(&manager.token)).await;
    let ids: Vec<&str> = page["data"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.as_str()], "a page is filled with the member's own jobs");
    assert!(page["nextCursor"].is_null(), "nothing more is theirs");
    let all: Value = app.get_json("/api/v1/jobs", Some(&owner.token)).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "the owner sees every job");
}
