//! `/admin/v1`: platform operators, behind `LEADZONE_ADMIN_TOKEN` (checked by the app).

use crate::HttpState;
use crate::auth::bearer;
use crate::dto::{PageDto, TenantDto};
use crate::leads::PageQuery;
use crate::openapi::enums;
use crate::path_id;
use crate::problem::ApiError;
use crate::typed::Json;
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, get, post, web};
use leadzone_app::AppError;
use leadzone_domain::enums::TenantStatus;
use leadzone_domain::ids::TenantId;
use serde::Deserialize;
use utoipa::ToSchema;

/// A request carrying the operator token (`Authorization: Bearer $LEADZONE_ADMIN_TOKEN`).
/// Checked before the body is read, so a stranger learns nothing from validation errors; without
/// a configured token the admin API does not exist (404).
pub(crate) struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let checked = match req.app_data::<web::Data<HttpState>>() {
            Some(state) => {
                state.app.admin.authenticate_admin(bearer(req).as_deref()).map(|()| Admin).map_err(ApiError::from)
            }
            None => Err(ApiError::App(AppError::NotFound)),
        };
        std::future::ready(checked)
    }
}

#[utoipa::path(
    tag = "admin",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Every tenant, oldest first, a page at a time", body = PageDto<TenantDto>))
)]
#[get("/tenants")]
async fn list_tenants(state: web::Data<HttpState>, _admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.admin.admin_list_tenants(limit.as_deref(), cursor.as_deref()).await?;
    Ok(HttpResponse::Ok().json(PageDto::<TenantDto>::of(&page)))
}

/// `POST /admin/v1/tenants/{id}/status`.
#[derive(Deserialize, ToSchema)]
pub struct TenantStatusBody {
    /// `SUSPENDED` tenants get 403 `TENANT_SUSPENDED` on every `/api/v1` call except `GET /me`
    /// and billing.
    #[schema(value_type = enums::TenantStatus)]
    status: TenantStatus,
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path, description = "The tenant's id")),
    request_body = TenantStatusBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The tenant in its new status", body = TenantDto))
)]
#[post("/tenants/{id}/status")]
async fn set_status(
    state: web::Data<HttpState>,
    _admin: Admin,
    id: web::Path<String>,
    Json(body): Json<TenantStatusBody>,
) -> Result<HttpResponse, ApiError> {
    let id: TenantId = path_id(&id)?;
    Ok(HttpResponse::Ok().json(TenantDto::from(&state.app.admin.admin_set_tenant_status(id, body.status).await?)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tenants).service(set_status);
}
