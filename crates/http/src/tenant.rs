//! `/api/v1/tenant` and `/api/v1/audit-logs`.

use crate::auth::Authed;
use crate::dto::{AuditLogDto, PageDto, TenantDto};
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::check_query;
use crate::typed::{Json, Patch};
use crate::{HttpState, query_pairs, query_param};
use actix_web::{HttpRequest, HttpResponse, get, patch, web};
use leadzone_app::audit::AuditParams;
use leadzone_app::tenant::TenantPatch;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The organization of the caller's session or API key.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    responses((status = 200, description = "The organization", body = TenantDto))
)]
#[get("/tenant")]
async fn get_tenant(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(TenantDto::from(&state.app.tenant.get_tenant(&ctx).await?)))
}

/// `settings` of `PATCH /tenant`: absent fields stay, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSettingsBody {
    /// One of the supported IANA time zones (`Asia/Riyadh`, `Asia/Dubai`…).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    timezone: Patch<String>,
    /// `ar` or `en` (checked with the other settings, so every bad one is reported at once).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    language: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    whatsapp_phone_id: Patch<String>,
}

/// `PATCH /tenant`: absent fields stay, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantPatchBody {
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    logo_url: Patch<String>,
    settings: Option<TenantSettingsBody>,
}

/// Changes the organization's name, logo and settings (`tenant:manage`).
#[utoipa::path(
    tag = "tenant",
    request_body = TenantPatchBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The updated organization", body = TenantDto))
)]
#[patch("/tenant")]
async fn update_tenant(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<TenantPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let mut patch = TenantPatch { name: body.name, logo_url: body.logo_url.into_option(), ..Default::default() };
    if let Some(s) = body.settings {
        patch.timezone = s.timezone.into_option();
        patch.whatsapp_phone_id = s.whatsapp_phone_id.into_option();
        patch.language = s.language.into_option();
    }
    Ok(HttpResponse::Ok().json(TenantDto::from(&state.app.tenant.update_tenant(&ctx, patch).await?)))
}

/// The filters and page of `GET /audit-logs`; leave a filter out to not filter (a blank value is 422).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AuditLogQuery {
    #[param(value_type = Option<enums::AuditEventType>)]
    event_type: Option<String>,
    /// `lead`, `membership`, `invite`, `tenant`…
    entity_type: Option<String>,
    entity_id: Option<Uuid>,
    /// The acting user.
    user_id: Option<Uuid>,
    /// Entries at or after this time.
    from: Option<time::OffsetDateTime>,
    /// Entries at or before this time.
    to: Option<time::OffsetDateTime>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// The organization's audit trail, newest first (`audit:read`).
#[utoipa::path(
    tag = "tenant",
    params(AuditLogQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of audit entries", body = PageDto<AuditLogDto>))
)]
#[get("/audit-logs")]
async fn audit_logs(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
    check_query::<AuditLogQuery>(&q)?;
    let params = AuditParams {
        event_type: query_param(&q, "eventType"),
        entity_type: query_param(&q, "entityType"),
        entity_id: query_param(&q, "entityId"),
        user_id: query_param(&q, "userId"),
        from: query_param(&q, "from"),
        to: query_param(&q, "to"),
        limit: query_param(&q, "limit"),
        cursor: query_param(&q, "cursor"),
    };
    let page = state.app.audit.list_audit_logs(&ctx, params).await?;
    Ok(HttpResponse::Ok().json(PageDto::<AuditLogDto>::of(&page)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_tenant).service(update_tenant).service(audit_logs);
}
