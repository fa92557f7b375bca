//! A failed job speaks the contract: a stable code and a message for the tenant, never the text
//! of a database error.
use crate::helpers::*;
use serde_json::Value;
use std::time::Duration;

/// The server's log lines, as its tracing subscriber writes them.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_job_failing_on_a_database_error_shows_internal_and_no_sql() {
    // The detail kept out of the job goes to the server's log, on a line that names the job.
    let log = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .with_env_filter("info,sqlx=warn,sea_orm=warn")
        .try_init()
        .expect("this test's process has no other log subscriber (nextest runs each test alone)");
    let app = spawn_app().await;
    let a = app.register().await;
    // Every lead insert now fails inside PostgreSQL with a message that names SQL.
    app.sql(
        "CREATE FUNCTION refuse_leads() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         RAISE EXCEPTION 'SELECT password_hash FROM users -- secret detail'; END $$",
    )
    .await;
    app.sql("CREATE TRIGGER refuse_leads BEFORE INSERT ON leads FOR EACH ROW EXECUTE FUNCTION refuse_leads()").await;

    let res = app.import_csv(&a.token, b"companyName\nAlpha Co\n".to_vec(), "").await;
    let job = expect_json(res, 202).await;
    let id = job["job"]["id"].as_str().unwrap().to_owned();

    // The first attempt fails and is retried later: its error is on the job meanwhile.
    let mut seen = Value::Null;
    for _ in 0..100 {
        let job: Value = app.get_json(&format!("/api/v1/jobs/{id}"), Some(&a.token)).await;
        if !job["error"].is_null() {
            seen = job;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["error"]["code"], "INTERNAL", "{seen}");
    let text = seen.to_string();
    assert!(!text.contains("password_hash") && !text.contains("SELECT"), "{text}");
    let logs: Value = app.get_json(&format!("/api/v1/jobs/{id}/logs"), Some(&a.token)).await;
    let logs = logs.to_string();
    assert!(!logs.contains("password_hash") && !logs.contains("SELECT"), "{logs}");
    let server_log = log.text();
    assert!(
        server_log.lines().any(|l| l.contains(&id) && l.contains("password_hash")),
        "no log line names job {id} with the database's error:\n{server_log}"
    );
}

/// A subscription that becomes UNPAID while an import runs stops it at its next batch, as a
/// request would be refused: the job fails with SUBSCRIPTION_UNPAID and the leads it wrote are
/// exactly the ones it charged.
#[tokio::test]
async fn an_import_stops_when_the_subscription_becomes_unpaid() {
    let app = spawn_app().await;
    let (owner, id) = app.long_import().await;
    app.sql(&format!("UPDATE subscriptions SET status = 'UNPAID' WHERE tenant_id = '{}'", owner.tenant_id)).await;
    let job = app.wait_job(&owner.token, &id, 60).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["error"]["code"], "SUBSCRIPTION_UNPAID", "{job}");
    let leads = app.sql_i64("SELECT count(*) FROM leads").await;
    assert!(leads < 80_000, "{leads}");
    let charged =
        app.sql_i64("SELECT coalesce(sum(value), 0)::bigint FROM usage_counters WHERE metric = 'leads'").await;
    assert_eq!(charged, leads);
}
