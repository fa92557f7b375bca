//! No request body of any shape gives a 500: malformed, mistyped, huge, nested, random.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

const ENDPOINTS: &[&str] = &["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/leads"];

async fn send_raw(app: &TestApp, path: &str, token: &str, body: Vec<u8>, content_type: &str) -> u16 {
    let len = body.len();
    match app.client.post(app.url(path)).bearer_auth(token).header("content-type", content_type).body(body).send().await
    {
        Ok(res) => res.status().as_u16(),
        // The server may answer an oversized body (413) and close before the client has written
        // all of it: ask again, reading the answer that comes before the body is complete.
        Err(e) if e.is_request() && len > 1 << 20 => early_status(app, path, token, content_type, len).await,
        Err(e) => panic!("{path}: {e}"),
    }
}

/// The status a server answers to a POST of `len` bytes: the body is written by a task of its own
/// (its errors ignored: the server may close once it has answered), the answer read as it comes.
async fn early_status(app: &TestApp, path: &str, token: &str, content_type: &str, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        if write.write_all(head.as_bytes()).await.is_ok() {
            let _ = write.write_all(&vec![b' '; len]).await;
        }
        write
    });
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), read.read(&mut answer)).await.unwrap().unwrap();
    writer.abort();
    let line = String::from_utf8_lossy(&answer[..n]).into_owned();
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{path}: no status in {line:?}"))
}

#[tokio::test]
async fn malformed_bodies_are_4xx_never_5xx() {
    let app = spawn_app().await;
    let a = app.register().await;
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "application/json"),
        (b"{".to_vec(), "application/json"),
        (b"null".to_vec(), "application/json"),
        (b"[]".to_vec(), "application/json"),
        (b"42".to_vec(), "application/json"),
        (b"\"text\"".to_vec(), "application/json"),
        (vec![0xff, 0xfe, 0x00], "application/json"),
        (b"companyName=x".to_vec(), "application/x-www-form-urlencoded"),
        (nested.into_bytes(), "application/json"),
        (format!("{{\"companyName\": \"{}\"}}", "x".repeat(2 << 20)).into_bytes(), "application/json"),
        (br#"{"companyName": 1e999}"#.to_vec(), "application/json"),
        (br#"{"companyName": "\ud800"}"#.to_vec(), "application/json"),
        (br#"{"email": {"$ne": null}, "password": {"a": [1, 2]}}"#.to_vec(), "application/json"),
        (br#"{"companyName": "x", "score": 99999999999999999999}"#.to_vec(), "application/json"),
        (br#"{"companyName": "x", "enrichmentData": "not an object"}"#.to_vec(), "application/json"),
        (br#"{"companyName": "x\u0000y"}"#.to_vec(), "application/json"),
        (br#"{"companyName": "x", "tags": [null]}"#.to_vec(), "application/json"),
    ];
    for path in ENDPOINTS {
        for (body, ct) in &bodies {
            let status = send_raw(&app, path, &a.token, body.clone(), ct).await;
            assert!(
                (400..500).contains(&status),
                "{path} answered {status} to {:?}",
                String::from_utf8_lossy(&body[..body.len().min(60)])
            );
        }
    }
    let res =
        app.client.post(app.url("/api/v1/leads")).bearer_auth(&a.token).body(vec![b' '; 2 << 20]).send().await.unwrap();
    problem(res, 413, "PAYLOAD_TOO_LARGE").await;
    // The answer to an oversized body comes before the body is complete.
    assert_eq!(early_status(&app, "/api/v1/leads", &a.token, "application/json", 4 << 20).await, 413);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
        prop::sample::select(vec!["0501234567", "a@b.sa", "NEW", "https://x.sa", "", " "]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "companyName",
                    "phone",
                    "email",
                    "website",
                    "score",
                    "tags",
                    "status",
                    "listId",
                    "assignedTo",
                    "enrichmentData",
                    "password",
                    "name",
                    "organizationName",
                    "organizationSlug",
                    "tenantId",
                    "otp",
                    "foundedYear",
                    "x"
                ])
                .prop_map(str::to_owned),
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Random JSON bodies, run by proptest's own runner (so a failure shrinks to a small body): every
/// answer is a success or a problem+json whose `code` is one of the contract's and whose `status`
/// is the answer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_json_bodies_get_contract_answers() {
    let app = spawn_app().await;
    let a = app.register().await;
    let codes: Vec<&str> = leadzone_app::error::ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config { cases: 60, failure_persistence: None, ..Config::default() });
    let cases = std::sync::atomic::AtomicUsize::new(0);
    let result = tokio::task::block_in_place(|| {
        runner.run(&arb_json(), |body| {
            cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for path in ENDPOINTS {
                let (status, content_type, answer) = handle.block_on(async {
                    let res = app
                        .client
                        .post(app.url(path))
                        .bearer_auth(&a.token)
                        .json(&body)
                        .send()
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let status = res.status().as_u16();
                    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let answer: Value = res.json().await.unwrap_or(Value::Null);
                    Ok::<_, TestCaseError>((status, ct, answer))
                })?;
                prop_assert!(status < 500, "{} answered {} to {}", path, status, body);
                if status >= 400 {
                    prop_assert_eq!(content_type.as_str(), "application/problem+json", "{} to {}", path, body);
                    let code = answer["code"].as_str().unwrap_or("");
                    prop_assert!(codes.contains(&code), "{} answered code {:?} to {}", path, code, body);
                    prop_assert_eq!(answer["status"].as_u64(), Some(u64::from(status)));
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(cases.into_inner() >= 60, "the runner ran every case");
}
