//! The binary itself: `leadzone serve` on a database that does not exist yet.

use crate::helpers::*;
use leadzone_testkit::TestDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn serve_creates_and_migrates_a_fresh_database_and_connects_as_the_restricted_roles() {
    // Borrow a test database only to learn the server's address; the binary gets a new name.
    let scratch = TestDb::new().await;
    let mut url = url::Url::parse(&scratch.owner_url()).unwrap();
    // A name that must be percent-encoded in the URL (a space, Arabic letters): the database is
    // created under its real name, the one the roles then connect to.
    let fresh = unique("lz fresh مؤسسة ");
    url.set_path(&format!("/{fresh}"));
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_leadzone"))
        .arg("serve")
        .env("DATABASE_URL", url.as_str())
        .env("LEADZONE_BIND", format!("127.0.0.1:{port}"))
        .env("LEADZONE_HTTP_WORKERS", "1")
        .env("LEADZONE_WORKERS", "0")
        .env("LEADZONE_DATA_DIR", std::env::temp_dir().join(format!("leadzone-startup-{fresh}")))
        .env_remove("DATABASE_APP_URL")
        .env_remove("DATABASE_SYSTEM_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Killed(child);

    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..120 {
        if let Ok(res) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && res.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "the server never became ready");
    assert_eq!(client.get(format!("http://127.0.0.1:{port}/healthz")).send().await.unwrap().status(), 200);
    let res = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "first@example.sa", "password": "correct horse 1", "name": "A", "organizationName": "First"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let owner = scratch.owner().await;
    let rows = owner
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT DISTINCT usename::text AS u FROM pg_stat_activity WHERE datname = $1 ORDER BY 1",
            [fresh.clone().into()],
        ))
        .await
        .unwrap();
    let users: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "u").unwrap()).collect();
    assert_eq!(users, vec!["leadzone_app", "leadzone_system"], "the server never holds a superuser connection");
    let plans = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT 1 FROM pg_database WHERE datname = '{fresh}'"),
        ))
        .await
        .unwrap();
    assert!(plans.is_some(), "the database was created");

    // SIGTERM stops the server cleanly: in-flight requests drain, then the process exits 0.
    let mut guard = _guard;
    let pid = guard.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut exited = None;
    for _ in 0..80 {
        if let Some(status) = guard.0.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(exited.expect("the server stopped after SIGTERM").success());
    drop(guard);
    owner.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{fresh}\" WITH (FORCE)")).await.unwrap();
}
