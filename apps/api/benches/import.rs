//! `just bench-import`: 1,000,000 CSV rows through the IMPORT job (validation and duplicate
//! detection on), beside (a) `psql \copy` of the same rows into a table with the seed's lead
//! columns and only the seed's lead indexes, and (b) one INSERT per row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use sea_orm::{ConnectionTrait, Database};
use std::time::Instant;

/// The rows' cities: eight, in turn (a file of one city would let the import bind it once).
fn city(i: usize) -> &'static str {
    const CITIES: [&str; 8] = ["Riyadh", "Jeddah", "Dammam", "Makkah", "Madinah", "Khobar", "Taif", "Tabuk"];
    CITIES[i % CITIES.len()]
}

#[tokio::main]
async fn main() {
    // `LEADZONE_BENCH_ROWS` shrinks the run while investigating; the recorded numbers use 1,000,000.
    let rows: usize = std::env::var("LEADZONE_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let b = common::start("leadzone_bench_import", "1", "10").await;
    let (token, tenant, user) = common::owner(&b).await;
    let mut csv = String::with_capacity(rows * 40);
    csv.push_str("Company,City,Phone\n");
    for i in 0..rows {
        csv.push_str(&format!("Company {i},{},05{i:08}\n", city(i)));
    }
    eprintln!("importing {rows} rows ({} MB) …", csv.len() / 1_000_000);
    let client = reqwest::Client::new();
    let db = Database::connect(b.url.as_str()).await.unwrap();
    // The import, like (a) below, runs three times from the same state (no leads, no usage,
    // checkpointed first, so that no checkpoint of earlier work lands in the middle of it); the
    // median is the import's rate.
    let mut import_rates = Vec::new();
    for run in 0..3 {
        db.execute_unprepared("TRUNCATE leads CASCADE; DELETE FROM usage_counters; CHECKPOINT").await.unwrap();
        let started = Instant::now();
        let res = common::json(
            client
                .post(format!("{}/api/v1/imports", b.base))
                .bearer_auth(&token)
                .header("content-type", "text/csv")
                .body(csv.clone()),
        )
        .await;
        let uploaded = started.elapsed().as_secs_f64();
        let id = res["job"]["id"].as_str().unwrap().to_owned();
        let job = loop {
            let job = common::json(client.get(format!("{}/api/v1/jobs/{id}", b.base)).bearer_auth(&token)).await;
            if matches!(job["status"].as_str(), Some("SUCCESS" | "FAILED")) {
                break job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let import_secs = started.elapsed().as_secs_f64();
        eprintln!("import {}: {import_secs:.1} s ({uploaded:.1} s to upload and enqueue)", run + 1);
        assert_eq!(job["result"]["created"], rows, "{job}");
        import_rates.push(rows as f64 / import_secs);
    }
    import_rates.sort_by(f64::total_cmp);
    let import_rate = import_rates[1];

    // (a) the floor a seed-compliant schema imposes: \copy into the seed's columns and indexes.
    // Vacuumed and checkpointed first, so that autovacuum of the freshly imported leads and the
    // import's dirty pages do not slow the baseline down (that would flatter the import).
    db.execute_unprepared("VACUUM ANALYZE leads").await.unwrap();
    db.execute_unprepared("CHECKPOINT").await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE seed_leads (
           id UUID PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id UUID NOT NULL, company_name VARCHAR(255) NOT NULL,
           industry VARCHAR(100), city VARCHAR(100), phone VARCHAR(50), email VARCHAR(255), website TEXT,
           status VARCHAR(20) DEFAULT 'NEW', score INTEGER, tags TEXT[] DEFAULT '{}', enrichment_data JSONB DEFAULT '{}',
           list_id UUID, assigned_to UUID, created_by UUID NOT NULL, created_at TIMESTAMP DEFAULT NOW(),
           updated_at TIMESTAMP DEFAULT NOW(), last_contacted_at TIMESTAMP);
         CREATE INDEX ON seed_leads(tenant_id); CREATE INDEX ON seed_leads(tenant_id, status);
         CREATE INDEX ON seed_leads(tenant_id, created_at DESC); CREATE INDEX ON seed_leads(tenant_id, assigned_to);
         CREATE INDEX ON seed_leads(list_id);
         CREATE INDEX ON seed_leads USING gin(to_tsvector('arabic', company_name || ' ' || COALESCE(industry, '')));",
    )
    .await
    .unwrap();
    let path = std::env::temp_dir().join("leadzone-bench-copy.csv");
    let mut copy = String::with_capacity(rows * 100);
    for i in 0..rows {
        copy.push_str(&format!("{tenant},Company {i},{},+9665{:08},{user}\n", city(i), i % 100_000_000));
    }
    std::fs::write(&path, copy).unwrap();
    let copy = || {
        let started = Instant::now();
        let status = std::process::Command::new("psql")
            .arg(&b.url)
            .arg("-qc")
            .arg(format!(
                "\\copy seed_leads(tenant_id, company_name, city, phone, created_by) FROM '{}' CSV",
                path.display()
            ))
            .status()
            .expect("psql is needed for the \\copy baseline");
        assert!(status.success());
        rows as f64 / started.elapsed().as_secs_f64()
    };
    // (a) moves by ±10% from run to run: three runs (emptied and checkpointed between), the median
    // is the reference.
    let mut copy_rates = Vec::new();
    for run in 0..3 {
        if run > 0 {
            db.execute_unprepared("TRUNCATE seed_leads; CHECKPOINT").await.unwrap();
        }
        copy_rates.push(copy());
    }
    eprintln!("(a) runs: {}", copy_rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "));
    copy_rates.sort_by(f64::total_cmp);
    let copy_rate = copy_rates[1];
    // (a') the same with the seed's foreign keys, which the seed's leads table also declares
    // (tenant, list, assignee, creator): Postgres checks them row by row.
    db.execute_unprepared(
        "TRUNCATE seed_leads;
         ALTER TABLE seed_leads ADD FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
           ADD FOREIGN KEY (list_id) REFERENCES lists(id) ON DELETE SET NULL,
           ADD FOREIGN KEY (assigned_to) REFERENCES users(id) ON DELETE SET NULL,
           ADD FOREIGN KEY (created_by) REFERENCES users(id);
         CHECKPOINT;",
    )
    .await
    .unwrap();
    let copy_fk_rate = copy();

    // (b) one INSERT per row, measured on 20,000 rows.
    let sample = rows.min(20_000);
    let started = Instant::now();
    for i in 0..sample {
        db.execute_unprepared(&format!(
            "INSERT INTO seed_leads (tenant_id, company_name, city, phone, created_by) VALUES ('{tenant}', 'Row {i}', 'Riyadh', '+9660{i:08}', '{user}')"
        ))
        .await
        .unwrap();
    }
    let row_rate = sample as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);

    println!("\n{rows}-row import, this machine (2 cores)");
    println!("| path | rows/s | vs \\copy |");
    println!("| --- | --- | --- |");
    println!(
        "| IMPORT job (validation + duplicates, all indexes; median of 3) | {import_rate:.0} | {:.0}% |",
        import_rate / copy_rate * 100.0
    );
    println!("| (a) psql \\copy, seed columns and seed indexes only (median of 3) | {copy_rate:.0} | 100% |");
    println!(
        "| (a') the same with the seed's foreign keys | {copy_fk_rate:.0} | {:.0}% (import: {:.0}% of this) |",
        copy_fk_rate / copy_rate * 100.0,
        import_rate / copy_fk_rate * 100.0
    );
    println!("| (b) one INSERT per row | {row_rate:.0} | {:.0}% |", row_rate / copy_rate * 100.0);
}
