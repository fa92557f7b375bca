//! `/api/v1/webhooks`: outbound webhook endpoints (plan feature `outbound_webhooks`), their
//! deliveries and manual retries. The signing secret is shown once, at creation.

use crate::auth::Authed;
use crate::dto::PageDto;
use crate::problem::ApiError;
use crate::typed::{Json, Patch};
use crate::{HttpState, path_id};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::webhooks::WebhookInput;
use leadzone_ports::webhooks::{WebhookDelivery, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The events an endpoint may subscribe to.
#[derive(ToSchema)]
#[schema(as = WebhookEventName)]
#[allow(dead_code)]
pub enum WebhookEventName {
    #[schema(rename = "lead.created")]
    LeadCreated,
    #[schema(rename = "lead.updated")]
    LeadUpdated,
    #[schema(rename = "lead.status_changed")]
    LeadStatusChanged,
    #[schema(rename = "lead.assigned")]
    LeadAssigned,
    #[schema(rename = "job.completed")]
    JobCompleted,
    #[schema(rename = "job.failed")]
    JobFailed,
    #[schema(rename = "whatsapp.message.status")]
    WhatsAppMessageStatus,
}

/// An endpoint (never its secret after creation).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDto {
    id: Uuid,
    tenant_id: Uuid,
    url: String,
    description: Option<String>,
    #[schema(value_type = Vec<WebhookEventName>)]
    events: Vec<String>,
    enabled: bool,
    /// Why it was disabled (three days of failed deliveries), when it was.
    disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&WebhookEndpoint> for WebhookDto {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            tenant_id: e.tenant_id.as_uuid(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// `201` of `POST /webhooks`: the endpoint and its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreatedDto {
    #[serde(flatten)]
    webhook: WebhookDto,
    /// `whsec_<base64>`: verify `webhook-signature` with it (Standard Webhooks). Never shown again.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookListDto {
    data: Vec<WebhookDto>,
}

/// One event for one endpoint, with its attempts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDto {
    id: Uuid,
    endpoint_id: Uuid,
    /// `webhook-id`, the same on every attempt.
    event_id: Uuid,
    #[schema(value_type = WebhookEventName)]
    event_type: String,
    #[schema(value_type = Object)]
    payload: Value,
    #[schema(pattern = "^(PENDING|DELIVERED|FAILED)$")]
    status: String,
    attempts: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
    /// Every attempt: `{at, status, latencyMs, error}`.
    #[schema(value_type = Vec<Object>)]
    history: Value,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    delivered_at: Option<OffsetDateTime>,
}

impl From<&WebhookDelivery> for DeliveryDto {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            event_type: d.event_type.clone(),
            payload: d.payload.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            history: d.history.clone(),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

/// `POST /webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    /// http(s); private and internal addresses are refused (the SSRF guard), 10-second limit, no
    /// redirects followed.
    #[schema(min_length = 1, max_length = 2048)]
    url: String,
    #[schema(min_items = 1, value_type = Vec<WebhookEventName>)]
    events: Vec<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// `PATCH /webhooks/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPatchBody {
    #[schema(min_length = 1, max_length = 2048)]
    url: Option<String>,
    #[schema(min_items = 1, value_type = Option<Vec<WebhookEventName>>)]
    events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Patch<String>,
    /// `true` enables a disabled endpoint again (its failing streak forgotten).
    enabled: Option<bool>,
}

#[utoipa::path(tag = "integrations", request_body = WebhookBody, security(("bearer" = [])),
    responses((status = 201, description = "The endpoint and its signing secret, shown this once", body = WebhookCreatedDto)))]
#[post("/webhooks")]
async fn create(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<WebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let input = WebhookInput {
        url: Some(body.url),
        events: Some(body.events),
        description: Some(body.description),
        enabled: None,
    };
    let (endpoint, secret) = state.app.webhooks.create_webhook(&ctx, input).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/webhooks/{}", endpoint.id)))
        .json(WebhookCreatedDto { webhook: WebhookDto::from(&endpoint), secret }))
}

#[utoipa::path(tag = "integrations", security(("bearer" = [])),
    responses((status = 200, description = "The tenant's endpoints (never their secrets)", body = WebhookListDto)))]
#[get("/webhooks")]
async fn list(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let all = state.app.webhooks.list_webhooks(&ctx).await?;
    Ok(HttpResponse::Ok().json(WebhookListDto { data: all.iter().map(WebhookDto::from).collect() }))
}

#[utoipa::path(tag = "integrations", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = [])),
    responses((status = 200, description = "The endpoint", body = WebhookDto)))]
#[get("/webhooks/{id}")]
async fn get_one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: Uuid = path_id(&id)?;
    Ok(HttpResponse::Ok().json(WebhookDto::from(&state.app.webhooks.get_webhook(&ctx, id).await?)))
}

#[utoipa::path(tag = "integrations", params(("id" = Uuid, Path, description = "The endpoint's id")), request_body = WebhookPatchBody,
    security(("bearer" = [])), responses((status = 200, description = "The endpoint as changed", body = WebhookDto)))]
#[patch("/webhooks/{id}")]
async fn update(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<WebhookPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id: Uuid = path_id(&id)?;
    let input = WebhookInput {
        url: body.url,
        events: body.events,
        description: body.description.into_option(),
        enabled: body.enabled,
    };
    Ok(HttpResponse::Ok().json(WebhookDto::from(&state.app.webhooks.update_webhook(&ctx, id, input).await?)))
}

#[utoipa::path(tag = "integrations", params(("id" = Uuid, Path, description = "The endpoint's id")), security(("bearer" = [])),
    responses((status = 204, description = "Deleted, with its deliveries")))]
#[delete("/webhooks/{id}")]
async fn remove(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: Uuid = path_id(&id)?;
    state.app.webhooks.delete_webhook(&ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "integrations", params(("id" = Uuid, Path, description = "The endpoint's id"), crate::leads::PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Deliveries, newest first, each with its attempts (status and latency)", body = PageDto<DeliveryDto>)))]
#[get("/webhooks/{id}/deliveries")]
async fn deliveries(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: Uuid = path_id(&id)?;
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.webhooks.webhook_deliveries(&ctx, id, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<DeliveryDto>::of(&page)))
}

#[utoipa::path(tag = "integrations",
    params(("id" = Uuid, Path, description = "The endpoint's id"), ("deliveryId" = Uuid, Path, description = "The delivery's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Queued to be sent again at once, with the same `webhook-id`", body = DeliveryDto)))]
#[post("/webhooks/{id}/deliveries/{deliveryId}/retry")]
async fn retry(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let (id, delivery): (Uuid, Uuid) = (path_id(&id)?, path_id(&delivery)?);
    Ok(HttpResponse::Ok()
        .json(DeliveryDto::from(&state.app.webhooks.retry_webhook_delivery(&ctx, id, delivery).await?)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(deliveries)
        .service(retry);
}
