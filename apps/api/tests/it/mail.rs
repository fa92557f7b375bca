//! Real mail: an invitation goes out over SMTP (a local server the test runs) in the tenant's
//! language with a working accept link; it waits while the server is down; and the database never
//! holds the invitation token readable — before delivery only sealed, after delivery not at all.

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One mail as the SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps what it receives.
struct SmtpServer {
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("the SMTP port is free again");
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, store.clone()));
            }
        });
        Self { received, task }
    }

    fn mails(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(socket: tokio::net::TcpStream, store: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 localhost ESMTP test server\r\n").await.is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer: &str = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-localhost\r\n250 8BITMIME\r\n"
        } else if let Some(rest) = upper.starts_with("MAIL FROM:").then(|| &command["MAIL FROM:".len()..]) {
            from = rest.trim().to_owned();
            "250 OK\r\n"
        } else if let Some(rest) = upper.starts_with("RCPT TO:").then(|| &command["RCPT TO:".len()..]) {
            to.push(rest.trim().trim_matches(['<', '>']).to_owned());
            "250 OK\r\n"
        } else if upper == "DATA" {
            if write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.is_err() {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                // Dot-stuffing (RFC 5321 §4.5.2).
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            store.lock().unwrap().push(Received { from: from.clone(), to: std::mem::take(&mut to), data });
            "250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK\r\n"
        } else {
            "502 command not implemented\r\n"
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The header's value, unfolded.
fn header(data: &str, name: &str) -> Option<String> {
    let head = data.split("\r\n\r\n").next()?;
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = &mut value {
            if line.starts_with([' ', '\t']) {
                v.push_str(line.trim_start());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

/// Decodes RFC 2047 `=?utf-8?b?…?=` words (what lettre writes for non-ASCII subjects); the
/// whitespace between two encoded words is not part of the text.
fn decode_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut previous_encoded = false;
    for word in value.split_whitespace() {
        let encoded = word.len() > 12 && word[..10].eq_ignore_ascii_case("=?utf-8?b?") && word.ends_with("?=");
        let joined_to_previous = encoded && previous_encoded;
        if !out.is_empty() && !joined_to_previous {
            out.push(b' ');
        }
        if encoded {
            out.extend(STANDARD.decode(&word[10..word.len() - 2]).unwrap());
        } else {
            out.extend(word.as_bytes());
        }
        previous_encoded = encoded;
    }
    String::from_utf8(out).unwrap()
}

/// The text body (the adapter writes it as base64).
fn body(data: &str) -> String {
    assert_eq!(header(data, "Content-Transfer-Encoding").as_deref(), Some("base64"), "{data}");
    let (_, encoded) = data.split_once("\r\n\r\n").unwrap();
    let joined: String = encoded.split_whitespace().collect();
    String::from_utf8(STANDARD.decode(joined).unwrap()).unwrap()
}

/// Everything the database holds: `pg_dump` when this machine has it, otherwise every text, bytea
/// and jsonb column of every table read back as text.
async fn dump(app: &TestApp) -> String {
    match tokio::process::Command::new("pg_dump").arg("--no-owner").arg("-d").arg(app.db.owner_url()).output().await {
        Ok(out) if out.status.success() => return String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => panic!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) => {}
    }
    use sea_orm::ConnectionTrait;
    let owner = app.db.owner().await;
    let columns = owner
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT c.table_name::text AS t, c.column_name::text AS c FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
              WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                AND c.data_type IN ('text', 'character varying', 'bytea', 'jsonb', 'json', 'ARRAY')"
                .to_owned(),
        ))
        .await
        .unwrap();
    let mut out = String::new();
    for col in columns {
        let (t, c): (String, String) = (col.try_get("", "t").unwrap(), col.try_get("", "c").unwrap());
        for value in app.sql_strings(&format!("SELECT \"{c}\"::text AS v FROM \"{t}\" WHERE \"{c}\" IS NOT NULL")).await
        {
            out.push_str(&value);
            out.push('\n');
        }
    }
    out
}

/// Neither the token nor its bytes as Postgres prints a bytea (`\x` hex).
fn assert_no_token(dump: &str, token: &str, when: &str) {
    assert!(dump.len() > 1000, "the dump has content ({} bytes)", dump.len());
    assert!(!dump.contains(token), "{when}: the dump holds the invitation token");
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!dump.contains(&hex), "{when}: the dump holds the invitation token as bytes");
}

async fn wait_for<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_arabic_invitation_waits_for_the_mail_server_and_arrives_with_a_working_link() {
    // Setup: a port where no SMTP server listens yet, and an Arabic tenant.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("LEADZONE_SMTP_URL", smtp_url.as_str()),
        ("LEADZONE_MAIL_FROM", "Leadzone <no-reply@leadzone.test>"),
        ("LEADZONE_PUBLIC_URL", "https://app.leadzone.test"),
    ])
    .await;
    let owner = app.register().await;
    let res = app.patch("/api/v1/tenant", Some(&owner.token), &json!({"settings": {"language": "ar"}})).await;
    assert_eq!(res.status(), 200);

    // Exec: invite while the mail server is down.
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "amal@example.sa", "role": "SALES"})).await;
    let created = expect_json(res, 201).await;
    let token = created["token"].as_str().unwrap().to_owned();

    // Check: the worker tried, failed, and keeps the mail for a later attempt.
    wait_for("a failed delivery attempt", 20, || async {
        app.sql_i64("SELECT count(*) FROM mail_outbox WHERE attempts >= 1 AND last_error IS NOT NULL").await == 1
    })
    .await;
    assert_eq!(
        app.sql_i64(
            "SELECT count(*) FROM mail_outbox WHERE to_email = 'amal@example.sa' AND delivered_at IS NULL
                AND failed_at IS NULL AND body_sealed IS NOT NULL AND next_attempt_at > now()"
        )
        .await,
        1,
        "the mail waits"
    );
    // Before delivery the database holds the invitation only sealed: not the token, but a body
    // that the master key opens to the mail with the token.
    assert_no_token(&dump(&app).await, &token, "before delivery");
    let sealed = app.sql_bytes("SELECT body_sealed FROM mail_outbox WHERE to_email = 'amal@example.sa'").await;
    let key = STANDARD.decode(TEST_MASTER_KEY).unwrap();
    let opened = leadzone_ports::security::SecretBox::open(&leadzone_crypto::AesGcmBox::new(&[key]).unwrap(), &sealed)
        .expect("the master key opens the sealed body");
    assert!(String::from_utf8(opened).unwrap().contains(&token), "the sealed form is the mail itself");

    // Exec: the mail server comes back.
    let server = SmtpServer::start_on(port).await;
    wait_for("the invitation at the SMTP server", 30, || async { !server.mails().is_empty() }).await;

    // Check: one mail, in Arabic, with a link whose token accepts the invitation.
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.to, ["amal@example.sa"]);
    assert!(mail.from.contains("no-reply@leadzone.test"), "{}", mail.from);
    let subject = decode_words(&header(&mail.data, "Subject").unwrap());
    assert!(subject.starts_with("دعوة للانضمام إلى"), "{subject}");
    let text = body(&mail.data);
    assert!(text.contains("تمت دعوتك للانضمام إلى") && text.contains("مندوب مبيعات"), "{text}");
    let prefix = "https://app.leadzone.test/invites/accept?token=";
    let link = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no accept link in {text}"));
    let mailed_token = &link[prefix.len()..];
    assert_eq!(mailed_token, token);
    let res = app
        .post(
            "/api/v1/invites/accept",
            None,
            &json!({"token": mailed_token, "name": "أمل", "password": "new member 123"}),
        )
        .await;
    assert_eq!(res.status(), 200, "the mailed link accepts the invitation");

    // Check: delivered, the body erased, and no token anywhere in the database.
    wait_for("the mail marked delivered", 10, || async {
        app.sql_i64("SELECT count(*) FROM mail_outbox WHERE delivered_at IS NOT NULL AND body_sealed IS NULL").await
            == 1
    })
    .await;
    assert_no_token(&dump(&app).await, &token, "after delivery");
}

#[tokio::test]
async fn an_english_tenant_gets_the_english_invitation() {
    // Setup: a running SMTP server; the tenant keeps the default language.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = SmtpServer::start_on(port).await;
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(&[("LEADZONE_SMTP_URL", smtp_url.as_str())]).await;
    let owner = app.register().await;

    // Exec
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "omar@example.sa", "role": "MANAGER"})).await;
    assert_eq!(res.status(), 201);
    wait_for("the invitation at the SMTP server", 20, || async { !server.mails().is_empty() }).await;

    // Check
    let mail = server.mails().remove(0);
    let subject = decode_words(&header(&mail.data, "Subject").unwrap());
    assert!(subject.starts_with("You are invited to join"), "{subject}");
    let text = body(&mail.data);
    assert!(text.contains("as a manager") && text.contains("/invites/accept?token=lzi_"), "{text}");
    assert!(!text.contains("تمت"), "{text}");
}

#[tokio::test]
async fn a_queued_body_older_than_seven_days_is_erased_and_the_mail_given_up() {
    // Setup: no worker, so the mail stays queued; then it ages past the limit.
    let app = spawn_app_with(&[("LEADZONE_WORKERS", "0")]).await;
    let owner = app.register().await;
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "old@example.sa", "role": "SALES"})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.sql_i64("SELECT count(*) FROM mail_outbox WHERE body_sealed IS NOT NULL").await, 1);
    app.sql("UPDATE mail_outbox SET created_at = now() - interval '7 days 1 minute'").await;

    // Exec: a worker starts on the same database (its first round erases old bodies).
    let mut env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    env.insert("DATABASE_URL".into(), app.db.owner_url());
    env.insert("DATABASE_APP_URL".into(), app.db.app_url());
    env.insert("DATABASE_SYSTEM_URL".into(), app.db.system_url());
    env.insert("LEADZONE_MASTER_KEY".into(), TEST_MASTER_KEY.into());
    env.insert("LEADZONE_BIND".into(), "127.0.0.1:0".into());
    env.insert("LEADZONE_DATA_DIR".into(), app.data_dir.clone());
    let settings = leadzone_api::config::Settings::from_map(&env).unwrap();
    let worker = leadzone_api::startup::Application::build(&settings, false).await.unwrap();
    let handle = worker.handle();
    tokio::spawn(worker.run_until_stopped());

    // Check
    wait_for("the old body erased", 15, || async {
        app.sql_i64("SELECT count(*) FROM mail_outbox WHERE body_sealed IS NULL AND failed_at IS NOT NULL").await == 1
    })
    .await;
    assert_eq!(app.sql_i64("SELECT count(*) FROM mail_outbox WHERE delivered_at IS NOT NULL").await, 0);
    handle.stop(true).await;
}

#[tokio::test]
async fn without_an_smtp_server_development_logs_the_mail_and_erases_its_body() {
    // Setup: no LEADZONE_SMTP_URL (development).
    let app = spawn_app().await;
    let owner = app.register().await;

    // Exec
    let res =
        app.post("/api/v1/invites", Some(&owner.token), &json!({"email": "dev@example.sa", "role": "SALES"})).await;
    assert_eq!(res.status(), 201);

    // Check: "delivered" to the log, and nothing readable left behind.
    wait_for("the mail logged", 15, || async {
        app.sql_i64("SELECT count(*) FROM mail_outbox WHERE delivered_at IS NOT NULL AND body_sealed IS NULL").await
            == 1
    })
    .await;
}
