//! `/api/v1/api-keys`.

use crate::auth::Authed;
use crate::dto::{ApiKeyDto, PageDto};
use crate::leads::PageQuery;
use crate::problem::ApiError;
use crate::typed::Json;
use crate::{HttpState, path_id};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use leadzone_app::AppError;
use leadzone_app::api_keys::NewApiKeyInput;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /api-keys`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApiKeyBody {
    /// A name people recognise the key by (1–255 characters).
    label: String,
    /// Permission names (`leads:read`, `leads:write`…). A key never holds `billing:manage` or
    /// `tenant:delete`, nor anything its creator lacks.
    scopes: Vec<String>,
    /// `live` (secret `lz_live_…`) or `test` (`lz_test_…`); checked with the key's other rules, so
    /// every bad field is reported at once.
    mode: String,
    /// When the key stops working (RFC 3339, in the future); never when absent.
    #[schema(value_type = Option<OffsetDateTime>)]
    expires_at: Option<String>,
}

/// `201` of `POST /api-keys`: the key and its secret, shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApiKeyDto {
    api_key: ApiKeyDto,
    /// `lz_live_…` or `lz_test_…`; only its SHA-256 is stored.
    secret: String,
}

/// An RFC 3339 time the body check has already accepted.
pub(crate) fn rfc3339(field: &str, raw: Option<String>) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|s| {
        OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| AppError::field(field, "must be an RFC 3339 time").into())
    })
    .transpose()
}

#[utoipa::path(
    tag = "api-keys",
    request_body = NewApiKeyBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new key and its secret (shown once)", body = NewApiKeyDto))
)]
#[post("/api-keys")]
async fn create(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<NewApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let expires_at = rfc3339("expiresAt", body.expires_at)?;
    let input = NewApiKeyInput { label: body.label, scopes: body.scopes, mode: body.mode, expires_at };
    let (key, secret) = state.app.api_keys.create_api_key(&ctx, input).await?;
    Ok(HttpResponse::Created().json(NewApiKeyDto { api_key: ApiKeyDto::from(&key), secret }))
}

#[utoipa::path(
    tag = "api-keys",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of the tenant's keys, oldest first (no secrets)", body = PageDto<ApiKeyDto>))
)]
#[get("/api-keys")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.api_keys.list_api_keys(&ctx, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<ApiKeyDto>::of(&page)))
}

#[utoipa::path(
    tag = "api-keys",
    params(("id" = Uuid, Path, description = "The key's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked: the key stops working at once"))
)]
#[delete("/api-keys/{id}")]
async fn revoke(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.api_keys.revoke_api_key(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create).service(list).service(revoke);
}
