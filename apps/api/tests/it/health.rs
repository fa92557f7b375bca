use crate::helpers::*;
use std::time::Duration;

#[tokio::test]
async fn healthz_and_readyz_answer_and_metrics_count_requests() {
    let app = spawn_app().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    assert_eq!(app.get("/api/v1/leads/not-a-uuid", None).await.status(), 401);

    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(text.contains(r#"leadzone_http_requests_total{method="GET",route="/healthz",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"route="/api/v1/leads/{id}",status="401""#), "{text}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_problems_repeat_it() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/nowhere", None).await;
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    let body = problem(res, 404, "NOT_FOUND").await;
    assert_eq!(body["requestId"], id);
    // A sane incoming id is kept.
    let res = app.client.get(app.url("/healthz")).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "trace-123");
}

async fn wait_for_status(app: &TestApp, path: &str, want: u16) {
    for _ in 0..60 {
        if app.get(path, None).await.status().as_u16() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{path} never answered {want}");
}

#[tokio::test]
async fn readyz_is_503_while_postgres_is_down_and_recovers_after() {
    let app = spawn_app_behind_proxy().await;
    let proxy = app.proxy.as_ref().unwrap();
    assert_eq!(app.get("/readyz", None).await.status(), 200);

    proxy.down();
    wait_for_status(&app, "/readyz", 503).await;
    // The process stays up and other requests get a clean answer.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    let res = app.post("/api/v1/auth/login", None, &serde_json::json!({"email": "a@b.sa", "password": "x"})).await;
    problem(res, 503, "UNAVAILABLE").await;

    proxy.up();
    wait_for_status(&app, "/readyz", 200).await;
    let account = app.register().await;
    assert_eq!(app.get("/api/v1/me", Some(&account.token)).await.status(), 200);
}
