//! Operations endpoints: liveness, readiness and metrics.

use crate::HttpState;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// `{"status": …}` of a probe.
#[derive(Serialize, ToSchema)]
pub struct HealthDto {
    /// `ok` (liveness), `ready` or `unavailable` (readiness).
    #[schema(pattern = "^(ok|ready|unavailable)$")]
    status: &'static str,
}

fn status(status: &'static str) -> HealthDto {
    HealthDto { status }
}

#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process runs", body = HealthDto))
)]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(status("ok"))
}

/// 200 while the database answers; 503 otherwise (bounded: a hung database must not hang probes).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = HealthDto),
        (status = 503, description = "The database does not answer (within 3 s)", body = HealthDto)
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    let check = tokio::time::timeout(std::time::Duration::from_secs(3), state.app.health.ready()).await;
    match check {
        Ok(Ok(())) => HttpResponse::Ok().json(status("ready")),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable().json(status("unavailable"))
        }
        Err(_) => HttpResponse::ServiceUnavailable().json(status("unavailable")),
    }
}

#[utoipa::path(
    tag = "operations",
    responses((
        status = 200,
        description = "Prometheus text: requests by route and status, latency, jobs by type and status, the DB pool",
        content_type = "text/plain",
        body = String
    ))
)]
#[get("/metrics")]
async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
