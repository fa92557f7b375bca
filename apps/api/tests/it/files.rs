//! Files shared by every process (#21): an API-only server takes an import, a separate worker
//! runs it, and a second API server on another data directory serves the errors file and the
//! export byte for byte — with files in PostgreSQL (the default) and in S3 (moto_server). Then
//! retention removes a finished job's files from each store.

use crate::helpers::*;
use crate::processes::{Process, free_port, ready, start};
use leadzone_ports::RepoError;
use leadzone_ports::blobs::BlobStore;
use leadzone_testkit::TestDb;
use leadzone_testkit::s3::{MotoServer, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

async fn wait_job(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    for _ in 0..1200 {
        let job: Value = client
            .get(format!("{base}/api/v1/jobs/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if matches!(job["status"].as_str(), Some("SUCCESS" | "FAILED" | "CANCELLED")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish in two minutes");
}

async fn download(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Vec<u8> {
    let res = client.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{base}{path}");
    res.bytes().await.unwrap().to_vec()
}

/// The scenario, on one database and one master key; `store` selects where files live.
async fn three_processes_share_files(store: &[(String, String)]) -> Vec<Process> {
    let db = TestDb::new().await;
    let (p1, p2) = (free_port(), free_port());
    let api_env = |port: u16| {
        let mut env: Vec<(String, String)> =
            vec![("LEADZONE_BIND".into(), format!("127.0.0.1:{port}")), ("LEADZONE_WORKERS".into(), "0".into())];
        env.extend_from_slice(store);
        env
    };
    let mut worker_env: Vec<(String, String)> = vec![("LEADZONE_WORKERS".into(), "1".into())];
    worker_env.extend_from_slice(store);
    let first = start(&db, &["serve"], "api1", &api_env(p1));
    let worker = start(&db, &["worker"], "worker", &worker_env);
    let second = start(&db, &["serve", "--no-migrate"], "api2", &api_env(p2));
    let client = reqwest::Client::new();
    let (a, b) = (format!("http://127.0.0.1:{p1}"), format!("http://127.0.0.1:{p2}"));
    ready(&client, &a).await;
    ready(&client, &b).await;

    let res = client
        .post(format!("{a}/api/v1/auth/register"))
        .json(&json!({"email": format!("{}@example.sa", unique("files")), "password": "correct horse 1", "name": "Sara", "organizationName": "Files"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = res.json::<Value>().await.unwrap()["accessToken"].as_str().unwrap().to_owned();
    db.owner().await.execute_unprepared("UPDATE subscriptions SET plan_id = 'enterprise'").await.unwrap();

    // The import goes to the first API server, which runs no jobs: only the worker can run it.
    let res = client
        .post(format!("{a}/api/v1/imports"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(crate::jobs::arabic_csv(2_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    let job = wait_job(&client, &b, &token, &id).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    let r = &job["result"];
    assert_eq!(
        (r["total"].clone(), r["created"].clone(), r["failed"].clone(), r["duplicates"].clone()),
        (json!(2000), json!(1970), json!(20), json!(10))
    );
    // The errors file the worker wrote, from both API servers, byte for byte.
    let errors_path = format!("/api/v1/imports/{id}/errors.csv");
    let from_second = download(&client, &b, &token, &errors_path).await;
    assert_eq!(download(&client, &a, &token, &errors_path).await, from_second);
    let text = String::from_utf8(from_second).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 21, "a header and the 20 rejected rows");
    assert!(lines[1].starts_with("9,phone:") && lines[1].contains("شركة رقم 7"), "{}", lines[1]);

    // An export asked of the second server, made by the worker, served by both.
    let res = client
        .post(format!("{b}/api/v1/exports"))
        .bearer_auth(&token)
        .json(&json!({"format": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let export = res.json::<Value>().await.unwrap()["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_job(&client, &a, &token, &export).await["status"], "SUCCESS");
    let path = format!("/api/v1/exports/{export}/download");
    let from_first = download(&client, &a, &token, &path).await;
    assert_eq!(download(&client, &b, &token, &path).await, from_first);
    let text = String::from_utf8(from_first).unwrap();
    assert!(text.starts_with("\u{feff}companyName,"), "{}", &text[..40]);
    assert_eq!(text.lines().count(), 1971, "the header and every lead created");
    assert!(text.contains("شركة رقم 1999,,الرياض"), "the last row is there");
    vec![first, worker, second]
}

/// No process kept a file on its own disk.
fn no_local_files(processes: &[Process]) {
    for p in processes {
        let data = p.log.parent().unwrap().join("data");
        assert!(!data.join("blobs").exists(), "{} wrote files to its own disk", data.display());
    }
}

#[tokio::test]
async fn three_processes_share_files_in_postgres() {
    let processes = three_processes_share_files(&[]).await;
    no_local_files(&processes);
}

#[tokio::test]
async fn three_processes_share_files_in_s3() {
    let s3 = MotoServer::start().await;
    s3.create_bucket("leadzone-e2e").await;
    let store: Vec<(String, String)> = [
        ("LEADZONE_BLOB_URL", "s3://leadzone-e2e/files".to_owned()),
        ("LEADZONE_S3_ENDPOINT", s3.endpoint.clone()),
        ("LEADZONE_S3_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY_ID.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let processes = three_processes_share_files(&store).await;
    no_local_files(&processes);
    for p in &processes {
        let log = std::fs::read_to_string(&p.log).unwrap();
        assert!(log.contains("files live in S3"), "{log}");
        assert!(!log.contains(S3_SECRET_ACCESS_KEY), "a process logged the S3 secret key");
    }
}

/// Retention removes a finished job's files (the upload, the errors file, the export) from the
/// store in use, and keeps a recent job's; `store` reads the same store the server writes to.
async fn retention_removes_a_finished_jobs_files(app: &TestApp, store: &dyn BlobStore) {
    use leadzone_app::retention::run_retention;
    let owner = app.register().await;
    let csv = "Company,Phone\nAlpha Trading,0501234567\nBeta Trading,12\n".as_bytes().to_vec();
    let body: Value = app.import_csv(&owner.token, csv, "").await.json().await.unwrap();
    let import = body["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_job(&owner.token, &import, 60).await["status"], "SUCCESS");
    let (old_export, recent_export) = (export(app, &owner.token).await, export(app, &owner.token).await);
    let t = &owner.tenant_id;
    let upload = app.sql_string(&format!("SELECT input->>'blobKey' FROM jobs WHERE id = '{import}'")).await;
    assert!(upload.starts_with(&format!("imports/{t}/")), "{upload}");
    let gone = [upload, format!("imports/{t}/{import}-errors.csv"), format!("exports/{t}/{old_export}.csv")];
    let kept = format!("exports/{t}/{recent_export}.csv");
    for key in gone.iter().chain([&kept]) {
        assert!(!store.get(key).await.unwrap().is_empty(), "{key} is there before");
    }
    app.sql(&format!(
        "UPDATE jobs SET completed_at = now() - interval '91 days' WHERE id IN ('{import}', '{old_export}')"
    ))
    .await;

    let system = leadzone_postgres::connect(&app.db.system_url(), &Default::default()).await.unwrap();
    let retention = leadzone_postgres::PgRetention::new(system);
    let report = run_retention(&retention, store, time::OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!((report.jobs, report.job_files), (2, 3));
    for key in &gone {
        assert_eq!(store.get(key).await, Err(RepoError::NotFound), "{key} is gone");
        assert_eq!(store.read_at(key, 0, 10).await, Err(RepoError::NotFound), "{key} is gone");
    }
    assert!(
        store.get(&kept).await.unwrap().starts_with("\u{feff}companyName".as_bytes()),
        "a recent job keeps its file"
    );
    let res = app.get(&format!("/api/v1/exports/{old_export}/download"), Some(&owner.token)).await;
    assert_eq!(res.status(), 404);

    // A tenant deleted outright (its jobs go with it): its files go on the next run; another
    // tenant's stay.
    let leaving = app.register().await;
    let body: Value = app.import_csv(&leaving.token, b"Company\nGamma\n".to_vec(), "").await.json().await.unwrap();
    let job = body["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_job(&leaving.token, &job, 60).await["status"], "SUCCESS");
    let export_of_leaving = export(app, &leaving.token).await;
    let (l, upload) =
        (&leaving.tenant_id, app.sql_string(&format!("SELECT input->>'blobKey' FROM jobs WHERE id = '{job}'")).await);
    let theirs = [upload, format!("imports/{l}/{job}-errors.csv"), format!("exports/{l}/{export_of_leaving}.csv")];
    for key in &theirs {
        assert!(store.get(key).await.is_ok(), "{key} is there before");
    }
    // (Audit rows are immutable even to a tenant's deletion, which the product does not offer
    // yet: an operator's deletion, by hand.)
    app.sql(&format!(
        "ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete;
         DELETE FROM tenants WHERE id = '{l}';
         ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_delete;"
    ))
    .await;
    let report = run_retention(&retention, store, time::OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(report.deleted_tenants_files, 3);
    for key in &theirs {
        assert_eq!(store.get(key).await, Err(RepoError::NotFound), "{key} went with its tenant");
    }
    assert!(store.get(&kept).await.is_ok(), "the other tenant's file stays");
}

async fn export(app: &TestApp, token: &str) -> String {
    let body: Value = app.post_json("/api/v1/exports", Some(token), &json!({"format": "csv"})).await;
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_job(token, &id, 60).await["status"], "SUCCESS");
    id
}

#[tokio::test]
async fn retention_removes_job_files_from_postgres() {
    let app = spawn_app().await;
    let system = leadzone_postgres::connect(&app.db.system_url(), &Default::default()).await.unwrap();
    let store = leadzone_postgres::PgBlobStore::new(system);
    retention_removes_a_finished_jobs_files(&app, &store).await;
    // The bytes themselves: only the recent export's chunks are left.
    // The bytes themselves: only the remaining tenant's recent export is left.
    assert_eq!(app.sql_i64("SELECT count(*) FROM blobs").await, 1);
    assert_eq!(app.sql_i64("SELECT count(*) FROM blob_chunks").await, 1);
}

#[tokio::test]
async fn retention_removes_job_files_from_s3() {
    let s3 = MotoServer::start().await;
    s3.create_bucket("leadzone-retention").await;
    let app = spawn_app_with(&[
        ("LEADZONE_BLOB_URL", "s3://leadzone-retention/r"),
        ("LEADZONE_S3_ENDPOINT", &s3.endpoint),
        ("LEADZONE_S3_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY),
    ])
    .await;
    let leadzone_api::config::BlobLocation::S3(settings) = &app.settings.blob_store else {
        panic!("the server is on S3")
    };
    let store = leadzone_providers::S3BlobStore::new(settings).unwrap();
    retention_removes_a_finished_jobs_files(&app, &store).await;
}

#[tokio::test]
async fn retention_removes_job_files_from_a_local_folder() {
    let dir = std::env::temp_dir().join(unique("leadzone-files-"));
    let app = spawn_app_with(&[("LEADZONE_BLOB_URL", &format!("file://{}", dir.display()))]).await;
    let store = leadzone_providers::LocalBlobStore::new(&dir);
    retention_removes_a_finished_jobs_files(&app, &store).await;
    let left: Vec<_> = walk(&dir);
    assert_eq!(left.len(), 1, "only the recent export is on disk: {left:?}");
    let _ = std::fs::remove_dir_all(dir);
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

/// An upload is refused as soon as it passes 50 MB, and nothing of it stays in the store; a
/// refused request (no company column) removes the upload it already stored.
#[tokio::test]
async fn refused_uploads_leave_no_file_behind() {
    let app = spawn_app().await;
    let owner = app.register().await;
    let mut big = b"Company,Phone\n".to_vec();
    while big.len() <= 50 * 1024 * 1024 {
        big.extend_from_slice(b"Some Company Name That Is Long Enough,0501234567\n");
    }
    let res = app.import_csv(&owner.token, big, "").await;
    problem(res, 413, "PAYLOAD_TOO_LARGE").await;
    let res = app.import_csv(&owner.token, b"Phone,City\n0501234567,Riyadh\n".to_vec(), "").await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.sql_i64("SELECT count(*) FROM blobs").await, 0, "no upload kept");
    assert_eq!(app.sql_i64("SELECT count(*) FROM blob_chunks").await, 0);
    // The same file with its company column is stored once and imported.
    let res = app.import_csv(&owner.token, b"Company,City\nAlpha,Riyadh\n".to_vec(), "").await;
    assert_eq!(res.status(), 202);
    // (The import may already have run and written its errors file beside the upload.)
    assert_eq!(app.sql_i64("SELECT count(*) FROM blobs WHERE key NOT LIKE '%-errors.csv'").await, 1);
}

/// Upgrading from files on one machine's disk: `leadzone copy-files` puts every file of the old
/// folder into the configured store (PostgreSQL here) under the same key, where the server finds
/// it; half-written leftovers are skipped.
#[tokio::test]
async fn copy_files_moves_an_old_local_folder_into_the_store() {
    let db = TestDb::new().await;
    let old = std::env::temp_dir().join(unique("leadzone-old-blobs-"));
    let export = "exports/0190f0a8-0000-7000-8000-00000000000a/0190f0a8-0000-7000-8000-0000000000e1.csv";
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(old.join("exports/0190f0a8-0000-7000-8000-00000000000a")).unwrap();
    std::fs::create_dir_all(old.join("archives/audit_logs")).unwrap();
    std::fs::write(old.join(export), &big).unwrap();
    std::fs::write(old.join("archives/audit_logs/1700000000-0000.jsonl.gz"), b"gz").unwrap();
    std::fs::write(old.join("archives/audit_logs/x.csv~0190.partial"), b"half").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadzone"))
        .arg("copy-files")
        .arg(&old)
        .env("DATABASE_URL", db.owner_url())
        .env("DATABASE_APP_URL", db.app_url())
        .env("DATABASE_SYSTEM_URL", db.system_url())
        .env("LEADZONE_MASTER_KEY", TEST_MASTER_KEY)
        .env("LEADZONE_DATA_DIR", old.join("data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("copied 2 files"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let store = leadzone_postgres::PgBlobStore::new(
        leadzone_postgres::connect(&db.system_url(), &Default::default()).await.unwrap(),
    );
    assert_eq!(store.get(export).await.unwrap(), big);
    assert_eq!(store.get("archives/audit_logs/1700000000-0000.jsonl.gz").await.unwrap(), b"gz");
    let _ = std::fs::remove_dir_all(old);
}
