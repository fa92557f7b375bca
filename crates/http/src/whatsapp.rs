//! `/api/v1/whatsapp`: templates, sends and the message list; `/webhooks/whatsapp`: Meta's
//! handshake and signed callbacks.

use crate::auth::Authed;
use crate::dto::PageDto;
use crate::jobs::{JobDto, idempotency_key};
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::Json;
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::whatsapp::{MessageListParams, SendRequest, TemplateInput};
use leadzone_app::whatsapp_bulk::{BulkRecipients, BulkSendRequest};
use leadzone_domain::entities::{WhatsAppMessage, WhatsAppTemplate};
use leadzone_domain::ids::WhatsAppTemplateId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A template, with its review status at Meta.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateDto {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    /// The body, with `{{name}}` placeholders.
    content: String,
    /// The placeholders of `content`, in order.
    variables: Vec<String>,
    /// True exactly when `status` is APPROVED: only then may it be sent.
    is_approved: bool,
    /// Meta's id of the template.
    external_id: Option<String>,
    #[schema(value_type = enums::Language)]
    language: String,
    #[schema(value_type = enums::TemplateCategory)]
    category: String,
    #[schema(value_type = enums::TemplateStatus)]
    status: String,
    /// Why Meta rejected, paused or disabled it, when it said.
    status_reason: Option<String>,
    created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&WhatsAppTemplate> for TemplateDto {
    fn from(t: &WhatsAppTemplate) -> Self {
        Self {
            id: t.id.as_uuid(),
            tenant_id: t.tenant_id.as_uuid(),
            name: t.name.clone(),
            content: t.content.clone(),
            variables: t.variables.clone(),
            is_approved: t.is_approved,
            external_id: t.external_id.clone(),
            language: t.language.as_str().to_owned(),
            category: t.category.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            status_reason: t.status_reason.clone(),
            created_by: t.created_by.as_uuid(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// One message.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageDto {
    id: Uuid,
    tenant_id: Uuid,
    lead_id: Option<Uuid>,
    /// E.164.
    phone: String,
    /// The text as the recipient reads it (a template filled in).
    message: String,
    template_id: Option<Uuid>,
    #[schema(value_type = enums::WhatsAppStatus)]
    status: String,
    /// Meta's message id (`wamid…`).
    external_id: Option<String>,
    error_message: Option<String>,
    /// Meta's error code when FAILED.
    error_code: Option<i64>,
    sent_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    read_at: Option<OffsetDateTime>,
    idempotency_key: Option<String>,
    /// The WHATSAPP or WHATSAPP_BULK job that sends it.
    job_id: Option<Uuid>,
}

impl From<&WhatsAppMessage> for MessageDto {
    fn from(m: &WhatsAppMessage) -> Self {
        Self {
            id: m.id.as_uuid(),
            tenant_id: m.tenant_id.as_uuid(),
            lead_id: m.lead_id.map(|l| l.as_uuid()),
            phone: m.phone.clone(),
            message: m.message.clone(),
            template_id: m.template_id.map(|t| t.as_uuid()),
            status: m.status.as_str().to_owned(),
            external_id: m.external_id.clone(),
            error_message: m.error_message.clone(),
            error_code: m.error_code,
            sent_by: m.sent_by.as_uuid(),
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            idempotency_key: m.idempotency_key.clone(),
            job_id: m.job_id.map(|j| j.as_uuid()),
        }
    }
}

/// `POST /whatsapp/templates`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateBody {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// The body: `{{name}}` placeholders become the template's variables (letters, digits, `_`).
    #[schema(min_length = 1, max_length = 1024)]
    content: String,
    /// `ar` (default) or `en`.
    #[schema(value_type = Option<enums::Language>)]
    language: Option<String>,
    /// `MARKETING` (default) or `UTILITY`.
    #[schema(value_type = Option<enums::TemplateCategory>)]
    category: Option<String>,
}

/// `PATCH /whatsapp/templates/{id}`: a new `content`, `language` or `category` is submitted to
/// Meta again (PENDING until approved).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePatchBody {
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(min_length = 1, max_length = 1024)]
    content: Option<String>,
    #[schema(value_type = Option<enums::Language>)]
    language: Option<String>,
    #[schema(value_type = Option<enums::TemplateCategory>)]
    category: Option<String>,
}

/// `POST /whatsapp/messages`: to a lead or a phone, with an approved template or (inside the
/// recipient's 24-hour window) free text.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendBody {
    /// The lead whose phone receives it.
    lead_id: Option<Uuid>,
    /// A phone instead of a lead: E.164, or a Saudi local form (`05…`).
    #[schema(max_length = 50)]
    phone: Option<String>,
    /// An approved template.
    template_id: Option<Uuid>,
    /// Free text (only within 24 hours of the recipient's last message).
    #[schema(max_length = 4096)]
    message: Option<String>,
    /// Values of the template's variables; the lead's `companyName` (`name`), `city`,
    /// `industry` and the sender's name (`senderName`) fill what is not given.
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// `POST /whatsapp/bulk`: one of `leadIds`, `listId` (a smart list is evaluated now) or
/// `filter` (the lead list's filters), and an approved template.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    #[schema(max_items = 10000)]
    lead_ids: Option<Vec<Uuid>>,
    list_id: Option<Uuid>,
    filter: Option<crate::leads::LeadFilterBody>,
    template_id: Uuid,
    /// Values for every recipient; each lead's own fields fill what is not given.
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// `202` of `POST /whatsapp/messages`.
#[derive(Serialize, ToSchema)]
pub struct SendAcceptedDto {
    message: MessageDto,
    job: JobDto,
}

/// `GET /whatsapp/messages` filters.
#[derive(Deserialize, IntoParams, ToSchema)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MessageListQuery {
    /// Only this lead's messages.
    lead_id: Option<Uuid>,
    #[param(value_type = Option<enums::WhatsAppStatus>)]
    status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TemplateListDto {
    data: Vec<TemplateDto>,
}

#[utoipa::path(tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, description = "The tenant's templates, newest first", body = TemplateListDto)))]
#[get("/whatsapp/templates")]
async fn list_templates(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let templates = state.app.whatsapp.list_templates(&ctx).await?;
    Ok(HttpResponse::Ok().json(TemplateListDto { data: templates.iter().map(TemplateDto::from).collect() }))
}

#[utoipa::path(tag = "whatsapp", request_body = TemplateBody, security(("bearer" = [])),
    responses((status = 201, description = "Submitted to Meta for review: PENDING until a sync reads APPROVED", body = TemplateDto)))]
#[post("/whatsapp/templates")]
async fn create_template(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    let input = TemplateInput {
        name: Some(body.name),
        content: Some(body.content),
        language: body.language,
        category: body.category,
    };
    let template = state.app.whatsapp.create_template(&ctx, input).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/whatsapp/templates/{}", template.id)))
        .json(TemplateDto::from(&template)))
}

#[utoipa::path(tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, description = "The templates after reading their review status from Meta", body = TemplateListDto)))]
#[post("/whatsapp/templates/sync")]
async fn sync_templates(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let templates = state.app.whatsapp.sync_templates(&ctx).await?;
    Ok(HttpResponse::Ok().json(TemplateListDto { data: templates.iter().map(TemplateDto::from).collect() }))
}

#[utoipa::path(tag = "whatsapp", params(("id" = Uuid, Path, description = "The template's id")), security(("bearer" = [])),
    responses((status = 200, description = "The template", body = TemplateDto)))]
#[get("/whatsapp/templates/{id}")]
async fn get_template(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: WhatsAppTemplateId = path_id::<Uuid>(&id)?.into();
    Ok(HttpResponse::Ok().json(TemplateDto::from(&state.app.whatsapp.get_template(&ctx, id).await?)))
}

#[utoipa::path(tag = "whatsapp", params(("id" = Uuid, Path, description = "The template's id")), request_body = TemplatePatchBody,
    security(("bearer" = [])), responses((status = 200, description = "The template as changed", body = TemplateDto)))]
#[patch("/whatsapp/templates/{id}")]
async fn update_template(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<TemplatePatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id: WhatsAppTemplateId = path_id::<Uuid>(&id)?.into();
    let input =
        TemplateInput { name: body.name, content: body.content, language: body.language, category: body.category };
    Ok(HttpResponse::Ok().json(TemplateDto::from(&state.app.whatsapp.update_template(&ctx, id, input).await?)))
}

#[utoipa::path(tag = "whatsapp", params(("id" = Uuid, Path, description = "The template's id")), security(("bearer" = [])),
    responses((status = 204, description = "Deleted (messages sent with it keep their text)")))]
#[delete("/whatsapp/templates/{id}")]
async fn delete_template(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: WhatsAppTemplateId = path_id::<Uuid>(&id)?.into();
    state.app.whatsapp.delete_template(&ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "whatsapp",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key returns the first message and job and sends nothing again")),
    request_body = SendBody, security(("bearer" = [])),
    responses((status = 202, description = "The message (PENDING) and its WHATSAPP job; one `messages` unit counted. 409 `RECIPIENT_OPTED_OUT` when the recipient opted out", body = SendAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`")))))]
#[post("/whatsapp/messages")]
async fn send(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    Json(body): Json<SendBody>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let request = SendRequest {
        lead_id: body.lead_id.map(Into::into),
        phone: body.phone,
        template_id: body.template_id.map(Into::into),
        message: body.message,
        variables: body.variables,
    };
    let (message, job) = state.app.whatsapp.send_whatsapp(&ctx, request, key).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/jobs/{}", job.id)))
        .json(SendAcceptedDto { message: MessageDto::from(&message), job: JobDto::from(&job) }))
}

#[utoipa::path(tag = "whatsapp",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key returns the first job and sends nothing again")),
    request_body = BulkBody, security(("bearer" = [])),
    responses((status = 202, description = "The WHATSAPP_BULK job with its messages stored (`whatsapp:bulk`, plan feature `whatsapp_bulk`). Leads without a phone, opted out, or with a phone already in the bulk are skipped and reported. 402 when the batch exceeds the plan's messages left. Its result is `{total, sent, failed, unconfirmed, skipped:{noPhone, optedOut, duplicate, missingVariables}}`", body = crate::jobs::JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`")))))]
#[post("/whatsapp/bulk")]
async fn bulk(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    Json(body): Json<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    use leadzone_app::AppError;
    let key = idempotency_key(&req)?;
    let recipients = match (body.lead_ids, body.list_id, body.filter) {
        (Some(ids), None, None) => BulkRecipients::Leads(ids.into_iter().map(Into::into).collect()),
        (None, Some(list), None) => BulkRecipients::List(list.into()),
        (None, None, Some(filter)) => {
            let (parsed, ..) =
                state.app.leads.parse_lead_filter(&ctx, crate::leads::list_params(filter.into_pairs()))?;
            BulkRecipients::Filter(parsed)
        }
        (None, None, None) => return Err(AppError::field("leadIds", "leadIds, listId or filter is required").into()),
        _ => return Err(AppError::field("leadIds", "give one of leadIds, listId or filter").into()),
    };
    let request = BulkSendRequest { recipients, template_id: body.template_id.into(), variables: body.variables };
    let job = state.app.whatsapp.start_whatsapp_bulk(&ctx, request, key).await?;
    Ok(crate::jobs::accepted(&job))
}

#[utoipa::path(tag = "whatsapp", params(MessageListQuery), security(("bearer" = [])),
    responses((status = 200, description = "Messages, newest first: OWNER and ADMIN see all, a MANAGER their team's, SALES their own", body = PageDto<MessageDto>)))]
#[get("/whatsapp/messages")]
async fn list_messages(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
    crate::typed::check_query::<MessageListQuery>(&q)?;
    let params = MessageListParams {
        lead_id: query_param(&q, "leadId"),
        status: query_param(&q, "status"),
        limit: query_param(&q, "limit"),
        cursor: query_param(&q, "cursor"),
    };
    let page = state.app.whatsapp.list_messages(&ctx, params).await?;
    Ok(HttpResponse::Ok().json(PageDto::<MessageDto>::of(&page)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_templates)
        .service(create_template)
        .service(sync_templates)
        .service(get_template)
        .service(update_template)
        .service(delete_template)
        .service(send)
        .service(bulk)
        .service(list_messages);
}

/// `GET /webhooks/whatsapp` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HandshakeQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    challenge: Option<String>,
}

#[utoipa::path(tag = "whatsapp", params(HandshakeQuery),
    responses((status = 200, description = "`hub.challenge`, echoed as text when `hub.verify_token` is `WHATSAPP_VERIFY_TOKEN`", content_type = "text/plain", body = String)))]
#[get("/whatsapp")]
async fn handshake(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
    let challenge = state.app.whatsapp.whatsapp_webhook_handshake(
        query_param(&q, "hub.mode").as_deref(),
        query_param(&q, "hub.verify_token").as_deref(),
        query_param(&q, "hub.challenge").as_deref(),
    )?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(challenge))
}

/// `200` of `POST /webhooks/whatsapp`.
#[derive(Serialize, ToSchema)]
pub struct WhatsAppReceiptDto {
    received: bool,
    /// Status callbacks that moved a message.
    statuses: usize,
    /// Inbound messages recorded.
    messages: usize,
}

#[utoipa::path(tag = "whatsapp",
    params(("X-Hub-Signature-256" = String, Header, description = "`sha256=<hex HMAC-SHA256 of the raw body with WHATSAPP_APP_SECRET>`")),
    request_body(content = Object, content_type = "application/json", description = "Meta's callback, read as raw bytes for the signature"),
    responses((status = 200, description = "Applied (statuses never move a message backwards)", body = WhatsAppReceiptDto)))]
#[post("/whatsapp")]
async fn callback(state: web::Data<HttpState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let signature = req.headers().get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    let receipt = state.app.whatsapp.whatsapp_webhook(signature, &body).await?;
    Ok(HttpResponse::Ok().json(WhatsAppReceiptDto {
        received: true,
        statuses: receipt.statuses,
        messages: receipt.messages,
    }))
}

pub fn configure_webhooks(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handshake).service(callback);
}
