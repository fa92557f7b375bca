//! `/api/v1/integrations`: the tenant's connections to outside services. Credentials go in once
//! and never come back out.

use crate::auth::Authed;
use crate::dto::PageDto;
use crate::leads::PageQuery;
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::Json;
use crate::{HttpState, path_id};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use leadzone_domain::entities::IntegrationConnection;
use leadzone_domain::enums::IntegrationType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A connection as clients see it: never its credentials.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationDto {
    id: Uuid,
    tenant_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = enums::IntegrationType)]
    kind: String,
    #[schema(value_type = enums::IntegrationStatus)]
    status: String,
    /// The connection's settings (never secrets).
    #[schema(value_type = Object)]
    config: Value,
    #[serde(with = "time::serde::rfc3339::option")]
    last_sync_at: Option<OffsetDateTime>,
    /// What the service last answered when it refused.
    last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&IntegrationConnection> for IntegrationDto {
    fn from(c: &IntegrationConnection) -> Self {
        Self {
            id: c.id.as_uuid(),
            tenant_id: c.tenant_id.as_uuid(),
            kind: c.kind.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            config: c.config.clone(),
            last_sync_at: c.last_sync_at,
            last_error: c.last_error.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `PUT /integrations/{type}`.
#[derive(Deserialize, ToSchema)]
pub struct ConnectBody {
    /// The service's secrets, checked with the service, then sealed (AES-256-GCM) and never
    /// returned. `GOOGLE_MAPS` `{apiKey}`; `WHATSAPP`, `HUBSPOT`, `SALESFORCE` `{accessToken}`;
    /// `NOTION` `{token}`; `SLACK` `{webhookUrl}` (an incoming-webhook URL).
    #[schema(value_type = Object)]
    credentials: serde_json::Map<String, Value>,
    /// Settings of the connection (not secret), shown back as `config`. `WHATSAPP`
    /// `{phoneNumberId, wabaId}`; `SALESFORCE` `{instanceUrl}`; `NOTION` `{dataSourceId}`;
    /// `SLACK` `{events}` (any of `lead.assigned`, `lead.qualified`, `job.completed`,
    /// `job.failed`, `whatsapp.bulk.completed`; all when absent). The CRMs take `fieldMap`
    /// (the service's property → a lead field: `companyName`, `contactName`, `phone`, `email`,
    /// `website`, `domain`, `city`, `industry`, `status`; shown back with the default filled in)
    /// and `syncEveryMinutes` (15–10080).
    #[schema(value_type = Option<Object>)]
    config: Option<serde_json::Map<String, Value>>,
}

#[utoipa::path(
    tag = "integrations",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The tenant's connections (never their credentials)", body = PageDto<IntegrationDto>))
)]
#[get("/integrations")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.integrations.list_integrations(&ctx, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<IntegrationDto>::of(&page)))
}

#[utoipa::path(
    tag = "integrations",
    params(("type" = enums::IntegrationType, Path, description = "The service")),
    request_body = ConnectBody,
    security(("bearer" = [])),
    responses((status = 200, description = "Connected: the credentials were accepted by the service and are stored sealed (a refusal is 422 with the service's words)", body = IntegrationDto))
)]
#[put("/integrations/{type}")]
async fn connect(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    kind: web::Path<String>,
    Json(body): Json<ConnectBody>,
) -> Result<HttpResponse, ApiError> {
    let kind: IntegrationType = path_id(&kind)?;
    let credentials = Value::Object(body.credentials);
    let connection =
        state.app.integrations.connect_integration(&ctx, kind, &credentials, body.config.map(Value::Object)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&connection)))
}

#[utoipa::path(
    tag = "integrations",
    params(("type" = enums::IntegrationType, Path, description = "The service")),
    security(("bearer" = [])),
    responses((status = 204, description = "Disconnected: the sealed credentials are deleted"))
)]
#[delete("/integrations/{type}")]
async fn disconnect(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    kind: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind: IntegrationType = path_id(&kind)?;
    state.app.integrations.disconnect_integration(&ctx, kind).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "integrations",
    params(("type" = enums::IntegrationType, Path, description = "The service")),
    security(("bearer" = [])),
    responses((status = 200, description = "The stored credentials were checked with the service again: `status` is CONNECTED, or ERROR with the service's words in `lastError` (a Slack connection gets a test message)", body = IntegrationDto))
)]
#[post("/integrations/{type}/test")]
async fn test(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    kind: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind: IntegrationType = path_id(&kind)?;
    let connection = state.app.integrations.test_integration(&ctx, kind).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&connection)))
}

/// `POST /integrations/{type}/sync`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncBody {
    /// Only the leads of this list (a smart list is evaluated when the job runs).
    list_id: Option<Uuid>,
    /// Every lead, not only those changed since the last sync.
    #[serde(default)]
    full: bool,
    /// Only the leads matching these smart-list filters (not with `listId`).
    #[schema(value_type = Option<crate::lists::SmartFiltersBody>)]
    filter: Option<serde_json::Map<String, Value>>,
}

#[utoipa::path(
    tag = "integrations",
    params(("type" = enums::IntegrationType, Path, description = "The service (HUBSPOT, SALESFORCE or NOTION)"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key returns the first job")),
    request_body = SyncBody,
    security(("bearer" = [])),
    responses((status = 202, description = "The SYNC job: incremental unless `full`. Its result is `{pushed, created, updated, failed, unchanged, errors:[{leadId, message}]}`", body = crate::jobs::JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/integrations/{type}/sync")]
async fn sync(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    kind: web::Path<String>,
    Json(body): Json<SyncBody>,
) -> Result<HttpResponse, ApiError> {
    let kind: IntegrationType = path_id(&kind)?;
    let key = crate::jobs::idempotency_key(&req)?;
    let request = leadzone_app::sync::SyncRequest {
        list_id: body.list_id.map(Into::into),
        filter: body.filter.map(Value::Object),
        full: body.full,
    };
    let job = state.app.integrations.start_sync(&ctx, kind, request, key).await?;
    Ok(crate::jobs::accepted(&job))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(connect).service(disconnect).service(test).service(sync);
}
