//! No request body of any shape gives a 500: malformed, mistyped, huge, nested, random.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

const ENDPOINTS: &[&str] = &["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/leads"];

async fn send_raw(app: &TestApp, path: &str, token: &str, body: Vec<u8>, content_type: &str) -> u16 {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
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

#[tokio::test]
async fn random_json_bodies_are_never_5xx() {
    let app = spawn_app().await;
    let a = app.register().await;
    let mut runner = TestRunner::new(Config { cases: 60, ..Config::default() });
    let mut bodies = Vec::new();
    for _ in 0..60 {
        bodies.push(arb_json().new_tree(&mut runner).unwrap().current());
    }
    for body in bodies {
        for path in ENDPOINTS {
            let status = send_raw(&app, path, &a.token, serde_json::to_vec(&body).unwrap(), "application/json").await;
            assert!(status < 500, "{path} answered {status} to {body}");
        }
    }
}
