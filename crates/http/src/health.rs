//! Operations endpoints: liveness, readiness and metrics.

use crate::HttpState;
use actix_web::{HttpResponse, get, web};
use serde_json::json;

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 while the database answers; 503 otherwise (bounded: a hung database must not hang probes).
#[get("/readyz")]
async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    let check = tokio::time::timeout(std::time::Duration::from_secs(3), state.app.ready()).await;
    match check {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable"}))
        }
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable"})),
    }
}

#[get("/metrics")]
async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
