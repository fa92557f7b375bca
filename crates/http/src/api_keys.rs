//! `/api/v1/api-keys`.

use crate::auth::Authed;
use crate::body::{Fields, JsonBody};
use crate::dto::{ApiKeyDto, PageDto};
use crate::problem::ApiError;
use crate::{HttpState, path_id};
use actix_web::{HttpResponse, delete, get, post, web};
use leadzone_app::api_keys::NewApiKeyInput;
use serde_json::json;

#[post("/api-keys")]
async fn create(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let label = f.string("label");
    let scopes = f.string_list("scopes");
    let mode = f.opt_string("mode");
    let expires_at = f.opt_time("expiresAt");
    f.finish()?;
    let (key, secret) = state.app.create_api_key(&ctx, NewApiKeyInput { label, scopes, mode, expires_at }).await?;
    Ok(HttpResponse::Created().json(json!({"apiKey": ApiKeyDto::from(&key), "secret": secret})))
}

#[get("/api-keys")]
async fn list(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let keys = state.app.list_api_keys(&ctx).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: keys.iter().map(ApiKeyDto::from).collect(), next_cursor: None }))
}

#[delete("/api-keys/{id}")]
async fn revoke(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.revoke_api_key(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(revoke);
}
