//! `/api/v1/tenant` and `/api/v1/audit-logs`.

use crate::auth::Authed;
use crate::body::{Fields, JsonBody};
use crate::dto::{AuditLogDto, PageDto, TenantDto};
use crate::problem::ApiError;
use crate::{HttpState, query_pairs, query_param};
use actix_web::{HttpRequest, HttpResponse, get, patch, web};
use leadzone_app::audit::AuditParams;
use leadzone_app::tenant::TenantPatch;

#[get("/tenant")]
async fn get_tenant(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(TenantDto::from(&state.app.get_tenant(&ctx).await?)))
}

#[patch("/tenant")]
async fn update_tenant(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let mut patch =
        TenantPatch { name: f.opt_string("name"), logo_url: f.patch_string("logoUrl"), ..Default::default() };
    if let Some(settings) = f.object("settings") {
        let mut s = Fields::new(&settings);
        patch.timezone = s.patch_string("timezone");
        patch.whatsapp_phone_id = s.patch_string("whatsappPhoneId");
        patch.language = s.patch_string("language");
        f.absorb("settings", s);
    }
    f.finish()?;
    Ok(HttpResponse::Ok().json(TenantDto::from(&state.app.update_tenant(&ctx, patch).await?)))
}

#[get("/audit-logs")]
async fn audit_logs(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
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
    let page = state.app.list_audit_logs(&ctx, params).await?;
    Ok(HttpResponse::Ok()
        .json(PageDto { data: page.data.iter().map(AuditLogDto::from).collect(), next_cursor: page.next_cursor }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_tenant).service(update_tenant).service(audit_logs);
}
