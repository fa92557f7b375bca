//! `just bench-logins`: 1,000 correct logins at concurrency 16 (16 accounts, one per client, so
//! the per-account turn-taking does not serialise them) against a `leadzone serve` process of its
//! own (release build, default settings, rate limiting off). Prints the server's RSS before, its
//! peak during (`VmHWM`), and its RSS after, and the logins per second. Argon2id at OWASP's
//! parameters costs 19 MiB and tens of milliseconds of one core per password check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use sea_orm::{ConnectionTrait, Database};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() {
    let logins: usize = std::env::var("LEADZONE_BENCH_LOGINS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let concurrency = 16;
    let server = std::env::var("BENCH_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = Database::connect(format!("{server}/postgres")).await.unwrap();
    admin.execute_unprepared("DROP DATABASE IF EXISTS leadzone_bench_logins WITH (FORCE)").await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data_dir = std::env::temp_dir().join("leadzone-bench-logins");
    let child = Command::new(env!("CARGO_BIN_EXE_leadzone"))
        .arg("serve")
        .env("DATABASE_URL", format!("{server}/leadzone_bench_logins"))
        .env_remove("DATABASE_APP_URL")
        .env_remove("DATABASE_SYSTEM_URL")
        .env("LEADZONE_BIND", format!("127.0.0.1:{port}"))
        .env("LEADZONE_DATA_DIR", &data_dir)
        .env("LEADZONE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .env("LEADZONE_RATE_LIMIT_PER_MIN", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server_process = Server(child);
    let pid = server_process.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 0..concurrency {
        let res = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&serde_json::json!({"email": format!("user{i}@example.sa"), "password": "bench password 1", "name": "Bench", "organizationName": format!("Bench {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let before = status_mb(pid, "VmRSS:");
    let peak_before = status_mb(pid, "VmHWM:");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let (client, base) = (client.clone(), base.clone());
        let mine = logins / concurrency + usize::from(i < logins % concurrency);
        tasks.push(tokio::spawn(async move {
            for _ in 0..mine {
                let res = client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&serde_json::json!({"email": format!("user{i}@example.sa"), "password": "bench password 1"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = status_mb(pid, "VmHWM:");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = status_mb(pid, "VmRSS:");
    drop(server_process);
    admin.execute_unprepared("DROP DATABASE IF EXISTS leadzone_bench_logins WITH (FORCE)").await.unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
    println!(
        "\n{logins} logins at concurrency {concurrency}, this machine ({} cores)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("| logins/s | RSS before | peak before | peak during | RSS 2 s after |");
    println!("| --- | --- | --- | --- | --- |");
    println!("| {:.0} | {before:.0} MB | {peak_before:.0} MB | {peak:.0} MB | {after:.0} MB |", logins as f64 / secs);
}
