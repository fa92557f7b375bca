//! `just bench-files`: a 1,000,000-row import and its export through each blob store — the local
//! folder (`file://`, today's single-process store), PostgreSQL (the default) and S3 (a local
//! `moto_server`) — each on its own `leadzone serve` process (release build, default workers) and
//! a fresh database. Prints, per store: the upload, the import job, the export job and its download
//! (time), the server's peak RSS (`VmHWM`) by the end of the import, its RSS then and 15 s later,
//! the leads benchmark's reads on the same server (16 clients, 10 s) and its RSS 15 s after them,
//! and its peak RSS at the end. `LEADZONE_BENCH_STORES=postgres` (comma-separated) runs only those stores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variables of a server.
type Env = Vec<(String, String)>;

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn wait(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    loop {
        let job = json(client.get(format!("{base}/api/v1/jobs/{id}")).bearer_auth(token)).await;
        if matches!(job["status"].as_str(), Some("SUCCESS" | "FAILED" | "CANCELLED")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Run {
    upload: f64,
    import: f64,
    export: f64,
    download: f64,
    bytes: usize,
    peak: f64,
    import_peak: f64,
    after_import: f64,
    /// 15 s after the import.
    settled: f64,
    /// Requests of the leads reads, and RSS 15 s after them.
    reads: usize,
    after_reads: f64,
}

async fn run(name: &str, csv: &[u8], rows: usize, store: &[(String, String)]) -> Run {
    let server_url =
        std::env::var("BENCH_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let db_name = format!("leadzone_bench_files_{name}");
    let admin = Database::connect(format!("{server_url}/postgres")).await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).await.unwrap();
    let url = format!("{server_url}/{db_name}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data_dir = std::env::temp_dir().join(format!("leadzone-bench-files-{name}"));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadzone"));
    cmd.arg("serve")
        .env("DATABASE_URL", &url)
        .env_remove("DATABASE_APP_URL")
        .env_remove("DATABASE_SYSTEM_URL")
        .env("LEADZONE_BIND", format!("127.0.0.1:{port}"))
        .env("LEADZONE_DATA_DIR", &data_dir)
        .env("LEADZONE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        // The reads below come from one token at hundreds a second: not what the limiter is for.
        .env("LEADZONE_RATE_LIMIT_PER_MIN", "1000000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in store {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    loop {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reg = json(client.post(format!("{base}/api/v1/auth/register")).json(&serde_json::json!({
        "email": "bench@example.sa", "password": "bench password 1", "name": "Bench", "organizationName": "Bench"
    })))
    .await;
    let token = reg["accessToken"].as_str().unwrap().to_owned();
    let db = Database::connect(url.as_str()).await.unwrap();
    db.execute_unprepared("UPDATE subscriptions SET plan_id = 'enterprise'").await.unwrap();

    let started = Instant::now();
    let res = json(
        client
            .post(format!("{base}/api/v1/imports"))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(csv.to_vec()),
    )
    .await;
    let upload = started.elapsed().as_secs_f64();
    let job = wait(&client, &base, &token, res["job"]["id"].as_str().unwrap()).await;
    let import = started.elapsed().as_secs_f64();
    assert_eq!(job["result"]["created"], rows, "{job}");
    let import_peak = peak_rss_mb(server.0.id());
    let after_import = rss_mb(server.0.id());
    // What the server keeps once the import's memory has been idle a while (the allocator gives
    // pages back over seconds, not at once).
    tokio::time::sleep(Duration::from_secs(15)).await;
    let settled = rss_mb(server.0.id());

    let started = Instant::now();
    let res = json(
        client.post(format!("{base}/api/v1/exports")).bearer_auth(&token).json(&serde_json::json!({"format": "csv"})),
    )
    .await;
    let id = res["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(wait(&client, &base, &token, &id).await["status"], "SUCCESS");
    let export = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut res = client.get(format!("{base}/api/v1/exports/{id}/download")).bearer_auth(&token).send().await.unwrap();
    let mut bytes = 0usize;
    let mut lines = 0usize;
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let download = started.elapsed().as_secs_f64();
    assert_eq!(lines, rows + 1, "every lead and the header");
    // The leads benchmark's reads on the same server (after its `VACUUM ANALYZE`), then what the
    // server keeps once they are over.
    db.execute_unprepared("VACUUM ANALYZE leads").await.unwrap();
    let reads = leads_reads(&client, &base, &token).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after_reads = rss_mb(server.0.id());
    let peak = peak_rss_mb(server.0.id());
    drop(server);
    db.close().await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).await.unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
    Run { upload, import, export, download, bytes, peak, import_peak, after_import, settled, reads, after_reads }
}

/// The cases of `just bench-leads` on this tenant's leads (a word in every name, relevance, among
/// them), 16 clients for 10 s. Returns how many requests were answered (all 200).
async fn leads_reads(client: &reqwest::Client, base: &str, token: &str) -> usize {
    const CASES: [&str; 5] = [
        "/api/v1/leads?limit=50",
        "/api/v1/leads?limit=50&city=Jeddah&status=NEW&hasPhone=true",
        "/api/v1/leads?limit=50&q=150072",
        "/api/v1/leads?limit=50&q=Company",
        "/api/v1/leads?limit=50&q=Company%20150072",
    ];
    for case in CASES {
        let started = Instant::now();
        let res = client.get(format!("{base}{case}")).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        eprintln!("  {case}: {:.1} ms alone", started.elapsed().as_secs_f64() * 1e3);
    }
    let until = Instant::now() + Duration::from_secs(10);
    let clients = (0..16).map(|i| {
        let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
        tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                let res =
                    client.get(format!("{base}{}", CASES[(i + n) % CASES.len()])).bearer_auth(&token).send().await;
                let res = res.unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
                n += 1;
            }
            n
        })
    });
    futures::future::join_all(clients).await.into_iter().map(Result::unwrap).sum()
}

#[tokio::main]
async fn main() {
    // `LEADZONE_BENCH_ROWS` shrinks the run while investigating; the recorded numbers use 1,000,000.
    let rows: usize = std::env::var("LEADZONE_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    const CITIES: [&str; 8] = ["Riyadh", "Jeddah", "Dammam", "Makkah", "Madinah", "Khobar", "Taif", "Tabuk"];
    let mut csv = String::with_capacity(rows * 40);
    csv.push_str("Company,City,Phone\n");
    for i in 0..rows {
        csv.push_str(&format!("Company {i},{},05{i:08}\n", CITIES[i % 8]));
    }
    eprintln!("{rows} rows, {:.1} MB", csv.len() as f64 / 1e6);
    let folder = std::env::temp_dir().join("leadzone-bench-files-blobs");
    let _ = std::fs::remove_dir_all(&folder);
    let s3 = leadzone_testkit::s3::MotoServer::start().await;
    s3.create_bucket("leadzone-bench").await;
    let stores: Vec<(&str, &str, Env)> = vec![
        (
            "file",
            "local folder (`file://`)",
            vec![("LEADZONE_BLOB_URL".into(), format!("file://{}", folder.display()))],
        ),
        ("postgres", "PostgreSQL (default)", vec![]),
        (
            "s3",
            "S3 (`moto_server` on this machine)",
            vec![
                ("LEADZONE_BLOB_URL".into(), "s3://leadzone-bench/files".into()),
                ("LEADZONE_S3_ENDPOINT".into(), s3.endpoint.clone()),
                ("LEADZONE_S3_REGION".into(), "us-east-1".into()),
                ("AWS_ACCESS_KEY_ID".into(), leadzone_testkit::s3::S3_ACCESS_KEY_ID.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), leadzone_testkit::s3::S3_SECRET_ACCESS_KEY.into()),
            ],
        ),
    ];
    // `LEADZONE_BENCH_STORES=postgres,s3` runs only those.
    let only = std::env::var("LEADZONE_BENCH_STORES").ok();
    let mut table = Vec::new();
    for (name, label, env) in &stores {
        if only.as_deref().is_some_and(|o| !o.split(',').any(|s| s == *name)) {
            continue;
        }
        eprintln!("{label} …");
        let r = run(name, csv.as_bytes(), rows, env).await;
        eprintln!(
            "  upload {:.1} s, import {:.1} s (peak RSS {:.0} MB, {:.0} MB after, {:.0} MB 15 s later), export {:.1} s, download {:.1} s, {} leads reads (RSS {:.0} MB 15 s later), peak RSS {:.0} MB",
            r.upload,
            r.import,
            r.import_peak,
            r.after_import,
            r.settled,
            r.export,
            r.download,
            r.reads,
            r.after_reads,
            r.peak
        );
        table.push((label, r));
    }
    let _ = std::fs::remove_dir_all(&folder);
    println!(
        "\n{rows}-row import ({:.0} MB) and its export, one `leadzone serve` per store (release, default workers), this machine (2 cores)",
        csv.len() as f64 / 1e6
    );
    println!(
        "| store | upload + enqueue | import job (incl. upload) | peak RSS by the import's end / RSS then / 15 s later | export job | download | export size | leads reads (16 clients, 10 s) / RSS 15 s later | server peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (label, r) in &table {
        println!(
            "| {label} | {:.1} s | {:.1} s ({:.0} rows/s) | {:.0} / {:.0} / {:.0} MB | {:.1} s | {:.2} s | {:.0} MB | {} / {:.0} MB | {:.0} MB |",
            r.upload,
            r.import,
            rows as f64 / r.import,
            r.import_peak,
            r.after_import,
            r.settled,
            r.export,
            r.download,
            r.bytes as f64 / 1e6,
            r.reads,
            r.after_reads,
            r.peak
        );
    }
}
