//! Shared by the benchmarks: a fresh database and a running server.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use leadzone_api::config::Settings;
use leadzone_api::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use std::collections::HashMap;

pub struct Bench {
    pub url: String,
    pub base: String,
    pub settings: Settings,
}

/// Drops and recreates `BENCH_DATABASE_URL`'s database (default `name`) and starts the server
/// with `workers` job workers and `pool` app-role connections (`LEADZONE_DB_POOL_SIZE` overrides).
pub async fn start(name: &str, workers: &str, pool: &str) -> Bench {
    start_with(name, workers, pool, &[]).await
}

/// `start`, with more settings (an outside service's base URL and key, say).
pub async fn start_with(name: &str, workers: &str, pool: &str, extra: &[(&str, &str)]) -> Bench {
    let url =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| format!("postgres://postgres@127.0.0.1:5432/{name}"));
    // The name as the driver reads the URL (percent-decoded), on the same server's `postgres`.
    let db = leadzone_migrations::database_name(&url).unwrap();
    let admin = Database::connect(leadzone_migrations::admin_url(&url).unwrap()).await.unwrap();
    let quoted = db.replace('"', "\"\"");
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)")).await.unwrap();
    admin.close().await.unwrap();
    let data_dir = std::env::temp_dir().join(format!("leadzone-bench-{db}"));
    let env: HashMap<String, String> = [
        ("DATABASE_URL", url.clone()),
        ("LEADZONE_BIND", "127.0.0.1:0".into()),
        ("LEADZONE_HTTP_WORKERS", "2".into()),
        ("LEADZONE_DB_POOL_SIZE", std::env::var("LEADZONE_DB_POOL_SIZE").unwrap_or_else(|_| pool.into())),
        ("LEADZONE_WORKERS", workers.into()),
        ("LEADZONE_DATA_DIR", data_dir.display().to_string()),
        ("LEADZONE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    .collect();
    let settings = Settings::from_map(&env).unwrap();
    let app = Application::build(&settings, true).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Bench { url, base, settings }
}

/// Registers an owner on the enterprise plan; returns (token, tenant id, user id).
pub async fn owner(b: &Bench) -> (String, String, String) {
    let client = reqwest::Client::new();
    let reg = json(
        client
            .post(format!("{}/api/v1/auth/register", b.base))
            .json(&serde_json::json!({"email": "bench@example.sa", "password": "bench password 1", "name": "Bench", "organizationName": "Bench"})),
    )
    .await;
    let tenant = reg["tenant"]["id"].as_str().unwrap().to_owned();
    let db = Database::connect(b.url.as_str()).await.unwrap();
    db.execute_unprepared(&format!("UPDATE subscriptions SET plan_id = 'enterprise' WHERE tenant_id = '{tenant}'"))
        .await
        .unwrap();
    (reg["accessToken"].as_str().unwrap().to_owned(), tenant, reg["user"]["id"].as_str().unwrap().to_owned())
}

/// Sends a request and reads its JSON body.
pub async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// This process's CPU time so far (user + system), from /proc.
pub fn cpu() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = 100; // USER_HZ on Linux
    std::time::Duration::from_millis(ticks * 1000 / hz)
}

/// Polls a job until it is finished.
pub async fn wait_job(client: &reqwest::Client, base: &str, token: &str, id: &str) -> serde_json::Value {
    loop {
        let job = json(client.get(format!("{base}/api/v1/jobs/{id}")).bearer_auth(token)).await;
        if matches!(job["status"].as_str(), Some("SUCCESS" | "FAILED" | "CANCELLED")) {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A job's RFC 3339 time `field` in seconds since the epoch.
pub fn seconds(job: &serde_json::Value, field: &str) -> f64 {
    let at = time::OffsetDateTime::parse(job[field].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
        .unwrap();
    at.unix_timestamp_nanos() as f64 / 1e9
}
