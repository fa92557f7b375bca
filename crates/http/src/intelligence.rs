//! Lead intelligence: `POST /api/v1/leads/{id}/survey` (a SURVEY job over the lead's website) and
//! `POST|GET /api/v1/leads/{id}/report` (a REPORT job; the lead's report).

use crate::auth::Authed;
use crate::jobs::{JobAcceptedDto, start_lead_job};
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::{HttpState, path_id};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use leadzone_domain::entities::{Report, ReportSection};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// One section of a report: every claim rests on the evidence it cites.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportSectionDto {
    title: String,
    content: String,
    #[schema(value_type = enums::Confidence)]
    confidence: String,
    /// Evidence rows of this lead (`GET /leads/{id}/evidence`).
    evidence_ids: Vec<Uuid>,
}

impl From<&ReportSection> for ReportSectionDto {
    fn from(s: &ReportSection) -> Self {
        Self {
            title: s.title.clone(),
            content: s.content.clone(),
            confidence: s.confidence.as_str().to_owned(),
            evidence_ids: s.evidence_ids.iter().map(|e| e.as_uuid()).collect(),
        }
    }
}

/// The lead's report.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportDto {
    id: Uuid,
    tenant_id: Uuid,
    lead_id: Uuid,
    summary: Option<String>,
    sections: Vec<ReportSectionDto>,
    /// 0–100.
    score: Option<i32>,
    /// `AI` (written by a model or by the built-in writer) or `MANUAL`.
    generated_by: String,
    /// The model's name, or `builtin-<version>` for the built-in writer.
    model_version: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Report> for ReportDto {
    fn from(r: &Report) -> Self {
        Self {
            id: r.id.as_uuid(),
            tenant_id: r.tenant_id.as_uuid(),
            lead_id: r.lead_id.as_uuid(),
            summary: r.summary.clone(),
            sections: r.sections.iter().map(ReportSectionDto::from).collect(),
            score: r.score,
            generated_by: r.generated_by.as_str().to_owned(),
            model_version: r.model_version.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key within 24 h returns the first answer (same status and body) and starts nothing")),
    security(("bearer" = [])),
    responses((status = 202, description = "The SURVEY job, enqueued; `Location` names it. Its result is `{pagesFetched, pagesSkipped, evidenceCreated, fieldsFilled, blocked?, scheme, score}`", body = JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/leads/{id}/survey")]
async fn survey(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    start_lead_job(&req, &id, |id, key| state.app.intelligence.start_survey(&ctx, id, key)).await
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key within 24 h returns the first answer (same status and body) and starts nothing")),
    security(("bearer" = [])),
    responses((status = 202, description = "The REPORT job, enqueued (plan feature `ai_reports`); `Location` names it", body = JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/leads/{id}/report")]
async fn write_report(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    start_lead_job(&req, &id, |id, key| state.app.intelligence.start_report(&ctx, id, key)).await
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The lead's report (404 until one was written)", body = ReportDto))
)]
#[get("/leads/{id}/report")]
async fn report(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id)?;
    let report = state.app.intelligence.get_report(&ctx, id).await?;
    Ok(HttpResponse::Ok().json(ReportDto::from(&report)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(survey).service(write_report).service(report);
}
