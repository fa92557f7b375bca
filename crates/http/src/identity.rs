//! `/api/v1/auth/*` and `/api/v1/me`.

use crate::HttpState;
use crate::auth::{Authed, Client};
use crate::dto::{AuthResponse, MeResponse, MembershipSummary, TenantDto, TokensDto, UserDto};
use crate::problem::ApiError;
use crate::typed::{Json, Patch};
use actix_web::{HttpResponse, get, patch, post, web};
use leadzone_app::AppError;
use leadzone_app::account::ProfilePatch;
use leadzone_app::identity::{AuthResult, LoginInput, RegisterInput};
use leadzone_domain::ids::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// A tenant id the body's schema has already checked as a UUID (trimmed, like every string).
fn tenant_id(field: &str, raw: &str) -> Result<TenantId, ApiError> {
    raw.trim().parse().map_err(|_| AppError::field(field, "must be a tenant id (UUID)").into())
}

/// `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    /// Case-insensitive and unique.
    email: String,
    /// At least 10 characters, not all of one class; never trimmed.
    password: String,
    name: String,
    organization_name: String,
    /// Derived from the organization name when absent.
    organization_slug: Option<String>,
}

/// Creates a user, an organization with a free subscription, and the user's OWNER membership.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterBody,
    responses((status = 201, description = "The new user, organization and session", body = AuthResponse))
)]
#[post("/auth/register")]
async fn register(
    state: web::Data<HttpState>,
    Client(client): Client,
    Json(body): Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let input = RegisterInput {
        email: body.email,
        password: body.password,
        name: body.name,
        organization_name: body.organization_name,
        organization_slug: body.organization_slug,
    };
    let result = state.app.identity.register(input, client).await?;
    Ok(HttpResponse::Created().json(auth_response(&result)))
}

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginBody {
    email: String,
    password: String,
    /// The organization to sign in to; the oldest active membership when absent.
    #[schema(value_type = Option<Uuid>)]
    tenant_id: Option<String>,
    /// The current one-time code, once two-factor authentication is on.
    otp: Option<String>,
}

/// Signs in with email and password (and a one-time code when 2FA is on).
#[utoipa::path(
    tag = "auth",
    request_body = LoginBody,
    responses((status = 200, description = "The user, organization and a new session", body = AuthResponse))
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<HttpState>,
    Client(client): Client,
    Json(body): Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = body.tenant_id.as_deref().map(|t| tenant_id("tenantId", t)).transpose()?;
    let input = LoginInput { email: body.email, password: body.password, tenant_id, otp: body.otp };
    let result = state.app.identity.login(input, client).await?;
    Ok(HttpResponse::Ok().json(auth_response(&result)))
}

/// The signed-in user, the current organization, the role's permissions and every membership.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The current user", body = MeResponse))
)]
#[get("/me")]
async fn me(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let view = state.app.identity.me(&ctx).await?;
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

/// `POST /auth/refresh`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshBody {
    refresh_token: String,
}

/// Rotates a refresh token; presenting a rotated one again revokes its whole session (401).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshBody,
    responses((status = 200, description = "A new token pair", body = TokensDto))
)]
#[post("/auth/refresh")]
async fn refresh(state: web::Data<HttpState>, Json(body): Json<RefreshBody>) -> Result<HttpResponse, ApiError> {
    let t = state.app.identity.refresh(body.refresh_token.trim()).await?;
    Ok(HttpResponse::Ok().json(TokensDto {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        expires_at: t.expires_at,
    }))
}

/// Ends the current session: its access and refresh tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"))
)]
#[post("/auth/logout")]
async fn logout(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    state.app.identity.logout(&ctx).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /auth/switch-tenant`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchTenantBody {
    /// An organization the user is an active member of.
    #[schema(value_type = Uuid)]
    tenant_id: String,
}

/// A new session bound to another of the user's organizations.
#[utoipa::path(
    tag = "auth",
    request_body = SwitchTenantBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The user, the organization and a session bound to it", body = AuthResponse))
)]
#[post("/auth/switch-tenant")]
async fn switch_tenant(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<SwitchTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant = tenant_id("tenantId", &body.tenant_id)?;
    let result = state.app.identity.switch_tenant(&ctx, tenant).await?;
    Ok(HttpResponse::Ok().json(auth_response(&result)))
}

/// `PATCH /me`: absent fields stay, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfilePatchBody {
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    avatar_url: Patch<String>,
    /// Saudi local forms (`0501234567`) are normalised to E.164.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    phone: Patch<String>,
}

/// Changes the signed-in user's name, avatar and phone.
#[utoipa::path(
    tag = "auth",
    request_body = ProfilePatchBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The updated user", body = UserDto))
)]
#[patch("/me")]
async fn update_me(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<ProfilePatchBody>,
) -> Result<HttpResponse, ApiError> {
    let patch =
        ProfilePatch { name: body.name, avatar_url: body.avatar_url.into_option(), phone: body.phone.into_option() };
    let user = state.app.account.update_me(&ctx, patch).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

/// `POST /me/password`. Passwords are never trimmed.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordBody {
    current_password: String,
    /// At least 10 characters, not all of one class.
    new_password: String,
}

/// Changes the password; every other session of the user ends.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordBody,
    security(("bearer" = [])),
    responses((status = 204, description = "Changed"))
)]
#[post("/me/password")]
async fn change_password(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    state.app.account.change_password(&ctx, &body.current_password, &body.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new TOTP secret, shown once, for an authenticator app.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpSetupDto {
    /// Base32.
    secret: String,
    /// An `otpauth://totp/…` URL (RFC 6238, SHA-1, 6 digits, 30 s).
    otpauth_url: String,
}

/// Starts two-factor setup; it is enforced only after `POST /me/2fa/enable`.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The secret and its otpauth URL", body = TotpSetupDto))
)]
#[post("/me/2fa/setup")]
async fn setup_2fa(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let setup = state.app.account.setup_2fa(&ctx).await?;
    Ok(HttpResponse::Ok().json(TotpSetupDto { secret: setup.secret, otpauth_url: setup.otpauth_url }))
}

/// `POST /me/2fa/enable` and `/disable`: a current one-time code.
#[derive(Deserialize, ToSchema)]
pub struct OtpCodeBody {
    /// Six digits from the authenticator app.
    code: String,
}

/// Turns two-factor authentication on: login then needs a valid `otp`.
#[utoipa::path(
    tag = "auth",
    request_body = OtpCodeBody,
    security(("bearer" = [])),
    responses((status = 204, description = "Two-factor authentication is on"))
)]
#[post("/me/2fa/enable")]
async fn enable_2fa(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<OtpCodeBody>,
) -> Result<HttpResponse, ApiError> {
    state.app.account.enable_2fa(&ctx, &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Turns two-factor authentication off.
#[utoipa::path(
    tag = "auth",
    request_body = OtpCodeBody,
    security(("bearer" = [])),
    responses((status = 204, description = "Two-factor authentication is off"))
)]
#[post("/me/2fa/disable")]
async fn disable_2fa(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<OtpCodeBody>,
) -> Result<HttpResponse, ApiError> {
    state.app.account.disable_2fa(&ctx, &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
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
