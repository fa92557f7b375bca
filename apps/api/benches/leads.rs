//! `just bench-leads`: latency of `GET /api/v1/leads` at scale. Not a test: it prints numbers.
//!
//! Seeds 1,000,000 leads across 1,000 tenants plus one tenant with 200,000, starts the real
//! server (2 HTTP workers) and measures p50/p99 at concurrency 16 for: the first page, page 100
//! (by cursor), a filter, and `q` searches (a selective word; a word in one of eight names, newest
//! first; a word in every name — `Main` — in the default relevance order, alone and with a rare word). Uses `BENCH_DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/leadzone_bench), which it drops and recreates.
//!
//! Then the rate limiter's cost: the first page on two servers over the same database, one with
//! `LEADZONE_RATE_LIMIT_PER_MIN=0` (off) and one with a limit no client reaches (every request
//! still charged to its bucket), in alternating rounds; and the limiter's own check, alone.
//! Then the first page against its own SQL through pgbench (when installed): the bare statement and
//! the request's five round trips; and the floor under any handler of this stack — the bare
//! statement served by actix-web and the same sqlx pool with nothing else (its rows as JSON;
//! decoded, only their count written; not decoded).
//! `BENCH_LEADS_SMALL=1` seeds a tenth (20,000 + 100,000 leads) for a quick run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

/// The server in this process allocates as `leadzone serve` does (apps/api/src/main.rs).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use leadzone_api::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;
const REQUESTS: usize = 2_000;
/// Alternating off/on rounds of the limiter comparison.
const LIMITER_ROUNDS: usize = 4;
/// A limit no client of the bench reaches: the limiter runs, nothing is refused.
const UNREACHED_LIMIT: u32 = 1_000_000_000;

#[tokio::main]
async fn main() {
    // An API-only process (job workers run in `leadzone worker` processes), its pool sized at
    // twice the cores as deploy/SCALING.md advises: more connections only queue inside Postgres.
    let b = common::start("leadzone_bench", "0", "4").await;
    let url = b.url.clone();
    let small = std::env::var_os("BENCH_LEADS_SMALL").is_some();
    let (big, batches) = if small { (20_000, 1) } else { (200_000, 10) };
    // The measured servers: the limiter on (a limit the bench never reaches, so every request is
    // charged but none refused — the default 1,200/min would refuse one token's 2,000) and off.
    let base = server(&b, UNREACHED_LIMIT).await;
    let base_off = server(&b, 0).await;
    let client = reqwest::Client::new();

    // The big tenant is a real registered account; the others are seeded directly.
    let (token, tenant, user) = common::owner(&b).await;

    let owner = Database::connect(url.as_str()).await.unwrap();
    let started = Instant::now();
    eprintln!("seeding 1,000 tenants × {} leads and one tenant × {big} …", batches * 100);
    owner
        .execute_unprepared(
            "INSERT INTO users (id, email, password_hash, name)
               SELECT gen_random_uuid(), 'seed' || i || '@example.sa', 'x', 'Seed ' || i FROM generate_series(1, 1000) i;
             INSERT INTO tenants (id, name, slug)
               SELECT gen_random_uuid(), 'Tenant ' || i, 'tenant-' || i FROM generate_series(1, 1000) i;",
        )
        .await
        .unwrap();
    let lead_sql = |tenant: &str, user: &str, from: i64, to: i64| {
        format!(
            "INSERT INTO leads (id, tenant_id, company_name, industry, city, phone, status, score, tags, created_by,
                                created_at, updated_at, name_key, search_text)
             SELECT gen_random_uuid(), {tenant}, n.name, (ARRAY['Software','Retail','Construction','Healthcare','Logistics'])[1 + i % 5],
                    (ARRAY['Riyadh','Jeddah','Dammam','Makkah','Madinah','Khobar','Abha'])[1 + i % 7],
                    CASE WHEN i % 3 = 0 THEN NULL ELSE '+9665' || lpad((i % 100000000)::text, 8, '0') END,
                    (ARRAY['NEW','PROSPECTED','CONTACTED','QUALIFIED','LOST'])[1 + i % 5], CASE WHEN i % 4 = 0 THEN NULL ELSE i % 101 END,
                    '{{}}', {user}, now() - (i % 86400) * interval '1 minute', now() - (i % 5000) * interval '1 minute',
                    lower(n.name), lower(n.name)
               FROM generate_series({from}, {to}) i,
                    LATERAL (SELECT 'Main ' || (ARRAY['شركة','مؤسسة','Al','Gulf','Saudi','Najd','Hejaz','Eastern'])[1 + i % 8] || ' ' ||
                                    (ARRAY['الرياض','النور','Techno','Future','الأمل','Vision','Delta','السلام','Orbit','Falcon'])[1 + (i / 8) % 10] || ' ' ||
                                    (ARRAY['للتقنية','Trading','Solutions','للمقاولات','Logistics','Medical','للتجارة'])[1 + (i / 80) % 7] || ' ' || i AS name) n"
        )
    };
    owner.execute_unprepared(&lead_sql(&format!("'{tenant}'"), &format!("'{user}'"), 1, big)).await.unwrap();
    // 1,000 leads for each seeded tenant, created by that tenant's seed user, in batches.
    for batch in 0..batches {
        owner
            .execute_unprepared(&format!(
                "WITH t AS (SELECT id, row_number() OVER (ORDER BY slug) AS n FROM tenants WHERE slug LIKE 'tenant-%'),
                      u AS (SELECT id, row_number() OVER (ORDER BY email) AS n FROM users WHERE email LIKE 'seed%')
                 INSERT INTO leads (id, tenant_id, company_name, city, status, created_by, name_key, search_text, created_at, updated_at)
                 SELECT gen_random_uuid(), t.id, 'Company ' || g, 'Riyadh', 'NEW', u.id, 'company ' || g, 'company ' || g,
                        now() - g * interval '1 second', now()
                   FROM t JOIN u ON u.n = t.n, generate_series({}, {}) g",
                batch * 100 + 1,
                batch * 100 + 100
            ))
            .await
            .unwrap();
    }
    // VACUUM also flushes the GIN pending list a bulk load leaves behind (searches scan it otherwise).
    owner.execute_unprepared("VACUUM ANALYZE leads").await.unwrap();
    // Flush the seed's dirty pages now: a checkpoint writing 1.2M fresh rows in the middle of a
    // case stalls it (seen: one case's p99 at 62 ms with its p50 at 4.4 ms).
    owner.execute_unprepared("CHECKPOINT").await.unwrap();
    let total: i64 = scalar(&owner, "SELECT count(*) FROM leads").await;
    eprintln!("seeded {total} leads in {:.1} s", started.elapsed().as_secs_f64());

    // The cursor of page 100 (limit 50).
    let mut cursor = String::new();
    for _ in 0..99 {
        let page = common::json(
            client
                .get(format!(
                    "{base}/api/v1/leads?limit=50{}",
                    if cursor.is_empty() { String::new() } else { format!("&cursor={cursor}") }
                ))
                .bearer_auth(&token),
        )
        .await;
        cursor = page["nextCursor"].as_str().unwrap().to_owned();
    }

    let cases = [
        ("first page", "/api/v1/leads?limit=50".to_owned()),
        ("page 100", format!("/api/v1/leads?limit=50&cursor={cursor}")),
        (
            "filter (city + status + hasPhone)",
            "/api/v1/leads?limit=50&city=Jeddah&status=CONTACTED&hasPhone=true".to_owned(),
        ),
        ("q search (a selective word)", "/api/v1/leads?limit=50&q=150072".to_owned()),
        ("q search (a word in 1 of 8 names, newest first)", "/api/v1/leads?limit=50&q=Gulf&sort=-createdAt".to_owned()),
        // What users type: a word every lead of theirs shares, in the default order (relevance),
        // and that word with a rare one.
        ("q search (a word in every name, relevance)", "/api/v1/leads?limit=50&q=Main".to_owned()),
        (
            "q search (a word in every name and a rare one, relevance)",
            "/api/v1/leads?limit=50&q=Main%20150072".to_owned(),
        ),
    ];
    // wrk (a separate, light process) when installed; otherwise an in-process client, which
    // competes with the server for the same two cores.
    let wrk = std::process::Command::new("wrk").arg("--version").output().is_ok();
    println!(
        "\nGET /api/v1/leads on a tenant with {big} leads ({total} leads in the database), concurrency {CONCURRENCY} ({})",
        if wrk { "wrk, 10 s per case".to_owned() } else { format!("in-process client, {REQUESTS} requests per case") }
    );
    println!("| case | p50 ms | p99 ms | req/s |");
    println!("| --- | --- | --- | --- |");
    for (label, path) in cases {
        if wrk {
            let (p50, p99, rps) = run_wrk(&format!("{base}{path}"), &token);
            println!("| {label} | {p50:.1} | {p99:.1} | {rps:.0} |");
            continue;
        }
        let url = Arc::new(format!("{base}{path}"));
        run(&client, &url, &token, 200).await; // warm-up
        let started = Instant::now();
        let mut lat = run(&client, &url, &token, REQUESTS).await;
        let wall = started.elapsed();
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
        println!("| {label} | {:.1} | {:.1} | {:.0} |", pct(0.50), pct(0.99), REQUESTS as f64 / wall.as_secs_f64());
    }

    // The first page against its own SQL through pgbench, right after it: the bare statement as
    // the server runs it (the application role, row-level security, the tenant set — here for
    // the whole session, through PGOPTIONS), and the five statements a request sends (credential
    // look-up; BEGIN; the tenant setting; the page; ROLLBACK) as the superuser, since one pgbench
    // connection cannot be both of the server's roles.
    if wrk && std::process::Command::new("pgbench").arg("--version").output().is_ok() {
        let api = run_wrk(&format!("{base}/api/v1/leads?limit=50"), &token).2;
        let hash: String =
            scalar(&owner, "SELECT access_token_hash FROM sessions ORDER BY created_at DESC LIMIT 1").await;
        let bare = first_page_sql(&tenant);
        let request = format!(
            "{}\nBEGIN;\nSELECT set_config('app.current_tenant_id', '{tenant}', true), \
             set_config('transaction_read_only', 'on', true);\n{bare}\nROLLBACK;\n",
            session_sql(&hash)
        );
        use secrecy::ExposeSecret;
        let tenant_option = format!("-c app.current_tenant_id={tenant}");
        let raw = run_pgbench(b.settings.database_app_url.expose_secret(), &bare, Some(&tenant_option));
        let whole = run_pgbench(&url, &request, None);
        println!("\nGET /api/v1/leads?limit=50 against its SQL (pgbench -M prepared, {CONCURRENCY} clients, 10 s)");
        println!("| what | per second | API as % of it |");
        println!("| --- | --- | --- |");
        println!("| the API (wrk) | {api:.0} | |");
        println!(
            "| the page's statement alone (application role, row-level security) | {raw:.0} | {:.0}% |",
            api / raw * 100.0
        );
        println!("| the request's five statements (superuser) | {whole:.0} | {:.0}% |", api / whole * 100.0);

        // The floor under any handler of this stack: the same statement through actix-web and
        // SeaORM's sqlx pool (4 connections, the application role, the tenant set for the session
        // like pgbench's), nothing else — no credential, no transaction, no domain types. Once
        // with the page written as JSON, once with only its row count.
        let floor = floor::start(b.settings.database_app_url.expose_secret(), &tenant, &bare).await;
        let rows = run_wrk(&format!("{floor}/page"), &token).2;
        let size = |url: String| {
            let client = client.clone();
            let token = token.clone();
            async move { client.get(url).bearer_auth(token).send().await.unwrap().bytes().await.unwrap().len() }
        };
        println!(
            "(bodies: the API's page {} bytes, the floor's {} bytes)",
            size(format!("{base}/api/v1/leads?limit=50")).await,
            size(format!("{floor}/page")).await
        );
        let decoded = run_wrk(&format!("{floor}/decoded"), &token).2;
        let count = run_wrk(&format!("{floor}/count"), &token).2;
        println!(
            "| the statement through actix-web + sqlx alone, the rows as JSON | {rows:.0} | {:.0}% |",
            api / rows * 100.0
        );
        println!("| the same, the rows decoded, only their count written | {decoded:.0} | |");
        println!("| the same, the rows not decoded, only their count written | {count:.0} | |");
        println!(
            "that floor as % of the bare statement: {:.0}% (rows as JSON), {:.0}% (decoded, count written), {:.0}% (count only)",
            rows / raw * 100.0,
            decoded / raw * 100.0,
            count / raw * 100.0
        );
    }

    // The rate limiter's cost on the first page: alternating rounds, off then on, so that drift
    // (other load, Postgres caches) falls on both alike.
    let path = "/api/v1/leads?limit=50";
    println!(
        "\nRate limiter, GET {path}: off (LEADZONE_RATE_LIMIT_PER_MIN=0) vs on ({UNREACHED_LIMIT}/min, never reached), \
         {LIMITER_ROUNDS} alternating rounds"
    );
    println!("| round | off req/s | on req/s |");
    println!("| --- | --- | --- |");
    let (mut off_total, mut on_total) = (0.0, 0.0);
    for round in 1..=LIMITER_ROUNDS {
        let mut rps = [0.0; 2];
        for (i, server) in [&base_off, &base].into_iter().enumerate() {
            rps[i] = if wrk {
                run_wrk(&format!("{server}{path}"), &token).2
            } else {
                let url = Arc::new(format!("{server}{path}"));
                run(&client, &url, &token, 200).await; // warm-up
                let started = Instant::now();
                run(&client, &url, &token, REQUESTS).await;
                REQUESTS as f64 / started.elapsed().as_secs_f64()
            };
        }
        println!("| {round} | {:.0} | {:.0} |", rps[0], rps[1]);
        off_total += rps[0];
        on_total += rps[1];
    }
    let (off, on) = (off_total / LIMITER_ROUNDS as f64, on_total / LIMITER_ROUNDS as f64);
    println!("| mean | {off:.0} | {on:.0} |");
    println!("limiter on costs {:.2}% of the throughput (negative: within noise)", (off - on) / off * 100.0);

    // The check alone: what one request pays (a keyed hash, a DashMap lookup, one GCRA step).
    let limiter = leadzone_http::ratelimit::Limiter::per_minute(std::num::NonZeroU32::new(UNREACHED_LIMIT).unwrap());
    let checks = 1_000_000u32;
    let started = Instant::now();
    for _ in 0..checks {
        std::hint::black_box(limiter.check(&limiter.token_key(std::hint::black_box(&token))));
    }
    let per_check = started.elapsed().as_secs_f64() / f64::from(checks);
    println!(
        "one limiter check: {:.0} ns, {:.3}% of a request at the limiter-off rate ({off:.0} req/s on {CONCURRENCY} connections)",
        per_check * 1e9,
        per_check * off / 2.0 * 100.0 // two server workers share the work
    );
}

/// Another server on the bench's database, with `LEADZONE_RATE_LIMIT_PER_MIN=per_min`; its base URL.
async fn server(b: &common::Bench, per_min: u32) -> String {
    let mut settings = b.settings.clone();
    settings.rate_limit_per_min = per_min;
    let app = Application::build(&settings, false).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

/// The statement `GET /api/v1/leads?limit=50` runs for `tenant` (as the server's log shows it),
/// its parameters written in.
/// The one value of a one-row, one-column query.
async fn scalar<T: sea_orm::TryGetable>(db: &sea_orm::DatabaseConnection, sql: &str) -> T {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no row: {sql}"));
    row.try_get_by_index(0).unwrap()
}

fn first_page_sql(tenant: &str) -> String {
    format!(
        r#"SELECT "leads"."id", "leads"."tenant_id", "leads"."company_name", "leads"."industry", "leads"."city", "leads"."phone", "leads"."email", "leads"."website", "leads"."status", "leads"."score", "leads"."tags", "leads"."enrichment_data", "leads"."list_id", "leads"."assigned_to", "leads"."created_by", "leads"."created_at", "leads"."updated_at", "leads"."last_contacted_at", "leads"."website_host", "leads"."name_key", "leads"."city_key", "leads"."search_text", "leads"."place_id", 0::real AS "rank" FROM "leads" WHERE "leads"."tenant_id" = '{tenant}' ORDER BY created_at DESC, "leads"."id" DESC LIMIT 51;"#
    )
}

/// The credential look-up of a request with session token hash `hash`.
fn session_sql(hash: &str) -> String {
    format!(
        "SELECT s.id, s.user_id, s.tenant_id, s.access_expires_at, m.role, m.status AS membership_status, \
                t.status AS tenant_status, (SELECT b.status FROM subscriptions b WHERE b.tenant_id = s.tenant_id) AS subscription_status \
           FROM sessions s JOIN memberships m ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id \
           JOIN tenants t ON t.id = s.tenant_id \
          WHERE s.access_token_hash = '{hash}' AND s.revoked_at IS NULL AND s.access_expires_at > now();"
    )
}

/// Transactions per second of `script` through pgbench (prepared statements, `CONCURRENCY`
/// clients, 2 threads, 10 s) on the database at `url`, with `options` (PGOPTIONS) on every
/// connection.
fn run_pgbench(url: &str, script: &str, options: Option<&str>) -> f64 {
    let file = std::env::temp_dir().join(format!("leadzone-bench-{}.sql", std::process::id()));
    std::fs::write(&file, script).unwrap();
    let mut cmd = std::process::Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared", "-c", &CONCURRENCY.to_string(), "-j", "2", "-T", "10", "-f"]).arg(&file).arg(url);
    if let Some(options) = options {
        cmd.env("PGOPTIONS", options);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("pgbench: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

/// p50 ms, p99 ms and requests/s from `wrk --latency` (10 s, 16 connections, 2 threads).
fn run_wrk(url: &str, token: &str) -> (f64, f64, f64) {
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", "-d10s", "--latency", "-H", &format!("Authorization: Bearer {token}"), url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ms = |line_start: &str| -> f64 {
        let line = text.lines().find(|l| l.trim_start().starts_with(line_start)).unwrap_or("");
        let v = line.split_whitespace().nth(1).unwrap_or("0");
        if let Some(x) = v.strip_suffix("ms") {
            x.parse().unwrap_or(0.0)
        } else if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let non_2xx = text.lines().find(|l| l.contains("Non-2xx")).map(str::to_owned);
    assert!(non_2xx.is_none(), "errors under load: {non_2xx:?}");
    (ms("50%"), ms("99%"), rps)
}

async fn run(client: &reqwest::Client, url: &Arc<String>, token: &str, n: usize) -> Vec<Duration> {
    let per = n / CONCURRENCY;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.to_owned());
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    let res = client.get(url.as_str()).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(res.status(), 200);
                    let _ = res.bytes().await.unwrap();
                    out.push(t.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// A server of the same stack that runs one statement per request and nothing else (see its use).
mod floor {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement};

    /// The page's columns as the statement returns them, written as they are.
    #[derive(FromQueryResult, serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        id: uuid::Uuid,
        tenant_id: uuid::Uuid,
        company_name: String,
        industry: Option<String>,
        city: Option<String>,
        phone: Option<String>,
        email: Option<String>,
        website: Option<String>,
        status: String,
        score: Option<i32>,
        tags: Vec<String>,
        enrichment_data: serde_json::Value,
        list_id: Option<uuid::Uuid>,
        assigned_to: Option<uuid::Uuid>,
        created_by: uuid::Uuid,
        #[serde(with = "time::serde::rfc3339")]
        created_at: time::OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        updated_at: time::OffsetDateTime,
        #[serde(with = "time::serde::rfc3339::option")]
        last_contacted_at: Option<time::OffsetDateTime>,
        website_host: Option<String>,
        name_key: String,
        city_key: Option<String>,
        search_text: String,
        place_id: Option<String>,
        rank: f32,
    }

    struct State {
        db: DatabaseConnection,
        sql: String,
    }

    #[derive(serde::Serialize)]
    struct Page {
        data: Vec<Row>,
    }

    async fn page(state: web::Data<State>) -> HttpResponse {
        let stmt = Statement::from_string(DbBackend::Postgres, state.sql.clone());
        let data = Row::find_by_statement(stmt).all(&state.db).await.unwrap();
        HttpResponse::Ok().json(Page { data })
    }

    async fn decoded(state: web::Data<State>) -> HttpResponse {
        let stmt = Statement::from_string(DbBackend::Postgres, state.sql.clone());
        let rows = Row::find_by_statement(stmt).all(&state.db).await.unwrap();
        HttpResponse::Ok().json(serde_json::json!({ "rows": rows.len() }))
    }

    async fn count(state: web::Data<State>) -> HttpResponse {
        let stmt = Statement::from_string(DbBackend::Postgres, state.sql.clone());
        let rows = state.db.query_all_raw(stmt).await.unwrap();
        HttpResponse::Ok().json(serde_json::json!({ "rows": rows.len() }))
    }

    /// Starts it on the application role's `app_url` with `tenant` set for every connection;
    /// its base URL.
    pub async fn start(app_url: &str, tenant: &str, sql: &str) -> String {
        let sep = if app_url.contains('?') { '&' } else { '?' };
        let url = format!("{app_url}{sep}options=-c%20app.current_tenant_id%3D{tenant}");
        let pool = leadzone_postgres::PoolConfig { max_connections: 4, ..Default::default() };
        let db = leadzone_postgres::connect(&url, &pool).await.unwrap();
        let state = web::Data::new(State { db, sql: sql.to_owned() });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/page", web::get().to(page))
                .route("/decoded", web::get().to(decoded))
                .route("/count", web::get().to(count))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        base
    }
}
