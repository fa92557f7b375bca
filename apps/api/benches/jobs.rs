//! `just bench-jobs`: no-op jobs claimed and completed per second with 4 workers, through the
//! real queue (FOR UPDATE SKIP LOCKED claims, lease bookkeeping, completion).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use leadzone_ports::jobs::{Finish, JobQueue};
use sea_orm::{ConnectionTrait, Database};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Instant;

const JOBS: i64 = 20_000;
const WORKERS: usize = 4;

#[tokio::main]
async fn main() {
    let b = common::start("leadzone_bench_jobs", "0", "10").await;
    let (_, tenant, user) = common::owner(&b).await;
    let db = Database::connect(b.url.as_str()).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO jobs (id, tenant_id, type, created_by, input) SELECT gen_random_uuid(), '{tenant}', 'EXPORT', '{user}', '{{}}' FROM generate_series(1, {JOBS})"
    ))
    .await
    .unwrap();
    let system = leadzone_postgres::connect(
        b.settings.database_system_url.expose_secret(),
        &leadzone_postgres::PoolConfig { max_connections: 8, ..Default::default() },
    )
    .await
    .unwrap();
    let queue: Arc<dyn JobQueue> =
        Arc::new(leadzone_postgres::PgJobQueue::new(system, b.settings.database_system_url.expose_secret()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let name = format!("bench-{w}");
                let mut done = 0u64;
                loop {
                    let jobs = queue
                        .claim(&name, 10, time::Duration::seconds(60), time::OffsetDateTime::now_utc())
                        .await
                        .unwrap();
                    if jobs.is_empty() {
                        return done;
                    }
                    for j in jobs {
                        queue
                            .finish(
                                j.id,
                                &name,
                                j.attempts,
                                &Finish::Success(serde_json::json!({})),
                                time::OffsetDateTime::now_utc(),
                            )
                            .await
                            .unwrap();
                        done += 1;
                    }
                }
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(total, JOBS as u64);
    println!(
        "\n{JOBS} no-op jobs, {WORKERS} workers claiming 10 at a time: {:.0} jobs/s claimed and completed ({secs:.1} s)",
        total as f64 / secs
    );
}
