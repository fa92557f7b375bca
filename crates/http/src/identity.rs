//! `/api/v1/auth/*` and `/api/v1/me`.

use crate::HttpState;
use crate::auth::{Authed, Client};
use crate::body::{Fields, JsonBody};
use crate::dto::{AuthResponse, MeResponse, MembershipSummary, TenantDto, TokensDto, UserDto};
use crate::problem::ApiError;
use actix_web::{HttpResponse, get, patch, post, web};
use leadzone_app::identity::{AuthResult, LoginInput, ProfilePatch, RegisterInput};
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

#[post("/auth/refresh")]
async fn refresh(state: web::Data<HttpState>, JsonBody(body): JsonBody) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let token = f.string("refreshToken");
    f.finish()?;
    let t = state.app.refresh(token.trim()).await?;
    Ok(HttpResponse::Ok().json(TokensDto {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        expires_at: t.expires_at,
    }))
}

#[post("/auth/logout")]
async fn logout(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    state.app.logout(&ctx).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/auth/switch-tenant")]
async fn switch_tenant(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let tenant = f.parsed::<TenantId>("tenantId", "a tenant id (UUID)");
    f.finish()?;
    let Some(tenant) = tenant else { return Err(leadzone_app::AppError::field("tenantId", "is required").into()) };
    let result = state.app.switch_tenant(&ctx, tenant).await?;
    Ok(HttpResponse::Ok().json(auth_response(&result)))
}

#[patch("/me")]
async fn update_me(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let patch = ProfilePatch {
        name: f.opt_string("name"),
        avatar_url: f.patch_string("avatarUrl"),
        phone: f.patch_string("phone"),
    };
    f.finish()?;
    let user = state.app.update_me(&ctx, patch).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

#[post("/me/password")]
async fn change_password(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let (current, new) = (f.string("currentPassword"), f.string("newPassword"));
    f.finish()?;
    state.app.change_password(&ctx, &current, &new).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/me/2fa/setup")]
async fn setup_2fa(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let setup = state.app.setup_2fa(&ctx).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"secret": setup.secret, "otpauthUrl": setup.otpauth_url})))
}

#[post("/me/2fa/enable")]
async fn enable_2fa(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let code = f.string("code");
    f.finish()?;
    state.app.enable_2fa(&ctx, &code).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/me/2fa/disable")]
async fn disable_2fa(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let code = f.string("code");
    f.finish()?;
    state.app.disable_2fa(&ctx, &code).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(switch_tenant)
        .service(me)
        .service(update_me)
        .service(change_password)
        .service(setup_2fa)
        .service(enable_2fa)
        .service(disable_2fa);
}
