//! `/api/v1/auth/*` and `/api/v1/me`.

use crate::HttpState;
use crate::auth::{Authed, Client};
use crate::body::{Fields, JsonBody};
use crate::dto::{AuthResponse, MeResponse, MembershipSummary, TenantDto, UserDto};
use crate::problem::ApiError;
use actix_web::{HttpResponse, get, post, web};
use leadzone_app::identity::{AuthResult, LoginInput, RegisterInput};
use leadzone_domain::ids::TenantId;

fn auth_response(r: &AuthResult) -> AuthResponse {
    AuthResponse {
        user: UserDto::from(&r.user),
        tenant: TenantDto::from(&r.tenant),
        role: r.role,
        access_token: r.tokens.access_token.clone(),
        refresh_token: r.tokens.refresh_token.clone(),
        expires_at: r.tokens.expires_at,
    }
}

#[post("/auth/register")]
async fn register(
    state: web::Data<HttpState>,
    Client(client): Client,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let input = RegisterInput {
        email: f.string("email"),
        password: f.string("password"),
        name: f.string("name"),
        organization_name: f.string("organizationName"),
        organization_slug: f.opt_string("organizationSlug"),
    };
    f.finish()?;
    let result = state.app.register(input, client).await?;
    Ok(HttpResponse::Created().json(auth_response(&result)))
}

#[post("/auth/login")]
async fn login(
    state: web::Data<HttpState>,
    Client(client): Client,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let input = LoginInput {
        email: f.string("email"),
        password: f.string("password"),
        tenant_id: f.opt_parsed::<TenantId>("tenantId", "a tenant id (UUID)"),
        otp: f.opt_string("otp"),
    };
    f.finish()?;
    let result = state.app.login(input, client).await?;
    Ok(HttpResponse::Ok().json(auth_response(&result)))
}

#[get("/me")]
async fn me(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let view = state.app.me(&ctx).await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        user: UserDto::from(&view.user),
        tenant: TenantDto::from(&view.tenant),
        role: view.role,
        permissions: view.permissions.iter().map(|p| p.as_str()).collect(),
        memberships: view
            .memberships
            .iter()
            .map(|(t, role)| MembershipSummary { tenant: TenantDto::from(t), role: *role })
            .collect(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(register).service(login).service(me);
}
