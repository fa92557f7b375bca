//! `/admin/v1`: platform operators, behind `LEADZONE_ADMIN_TOKEN` (checked by the app).

use crate::auth::bearer;
use crate::body::{Fields, JsonBody};
use crate::dto::{PageDto, TenantDto};
use crate::problem::ApiError;
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use leadzone_app::AppError;
use leadzone_domain::enums::TenantStatus;
use leadzone_domain::ids::TenantId;

#[get("/tenants")]
async fn list_tenants(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let q = query_pairs(&req)?;
    let (limit, cursor) = (query_param(&q, "limit"), query_param(&q, "cursor"));
    let page = state.app.admin_list_tenants(limit.as_deref(), cursor.as_deref()).await?;
    let data: Vec<TenantDto> = page.data.iter().map(TenantDto::from).collect();
    Ok(HttpResponse::Ok().json(PageDto { data, next_cursor: page.next_cursor }))
}

#[post("/tenants/{id}/status")]
async fn set_status(
    state: web::Data<HttpState>,
    req: HttpRequest,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let id: TenantId = path_id(&id)?;
    let mut f = Fields::new(&body);
    let status = f.parsed::<TenantStatus>("status", "one of PENDING_VERIFICATION, ACTIVE, SUSPENDED, DELETED");
    f.finish()?;
    let Some(status) = status else { return Err(AppError::field("status", "is required").into()) };
    Ok(HttpResponse::Ok().json(TenantDto::from(&state.app.admin_set_tenant_status(id, status).await?)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_tenants).service(set_status);
}
