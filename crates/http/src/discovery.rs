//! Lead discovery: `POST /api/v1/searches` (a SEARCH job on the places provider) and
//! `POST /api/v1/leads/{id}/reveal` (a REVEAL job on the contacts provider).

use crate::HttpState;
use crate::auth::Authed;
use crate::jobs::{JobAcceptedDto, accepted, idempotency_key, start_lead_job};
use crate::problem::ApiError;
use crate::typed::Json;
use actix_web::{HttpRequest, HttpResponse, post, web};
use leadzone_app::discovery::SearchRequest;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /searches`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchBody {
    /// What to look for, as a person would type it into Google Maps (`مطاعم`, `dental clinic`).
    #[schema(min_length = 1, max_length = 200)]
    query: String,
    /// Where: added to the query (`الرياض`), and the city of a found lead whose address names none.
    #[schema(max_length = 100)]
    city: Option<String>,
    /// How many places to look at, 1–60 (default 20): Google answers at most 60 over three pages.
    #[schema(minimum = 1, maximum = 60)]
    max_results: Option<i64>,
}

#[utoipa::path(
    tag = "jobs",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key within 24 h returns the first answer (same status and body) and starts nothing")),
    request_body = SearchBody,
    security(("bearer" = [])),
    responses((status = 202, description = "The SEARCH job, enqueued, with one `searches` unit counted; `Location` names it. Its result is `{found, created, duplicates, skipped, leadIds, quotaReached}`", body = JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/searches")]
async fn search(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    Json(body): Json<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let request = SearchRequest { query: body.query, city: body.city, max_results: body.max_results };
    let (job, _) = state.app.discovery.start_search(&ctx, request, key).await?;
    Ok(accepted(&job))
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key within 24 h returns the first answer (same status and body) and starts nothing")),
    security(("bearer" = [])),
    responses((status = 202, description = "The REVEAL job, enqueued; `Location` names it. One `searches` unit is counted only if it reveals someone new. Its result is `{found, revealed, decisionMakers, charged}`", body = JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/leads/{id}/reveal")]
async fn reveal(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    start_lead_job(&req, &id, |id, key| state.app.discovery.start_reveal(&ctx, id, key)).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(search).service(reveal);
}
