//! `/api/v1/members` and `/api/v1/invites`.

use crate::auth::{Authed, Client, MaybeAuthed};
use crate::dto::{InviteDto, MemberDto, MembershipDto, PageDto};
use crate::leads::PageQuery;
use crate::openapi::{Problem, enums};
use crate::problem::ApiError;
use crate::typed::{Json, Patch};
use crate::{HttpState, path_id};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::AppError;
use leadzone_app::team::{AcceptInput, MemberPatch};
use leadzone_domain::enums::{MembershipStatus, Role};
use leadzone_domain::ids::{InviteId, MembershipId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The members of the organization, oldest first.
#[utoipa::path(
    tag = "team",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of members, each with its user", body = PageDto<MemberDto>))
)]
#[get("/members")]
async fn list_members(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.team.list_members(&ctx, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<MemberDto>::of(&page)))
}

/// `PATCH /members/{id}`: absent fields stay; `managerId: null` removes the manager.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberPatchBody {
    /// Only an OWNER may grant or take away OWNER.
    #[schema(value_type = Option<enums::Role>)]
    role: Option<Role>,
    #[schema(value_type = Option<enums::MembershipStatus>)]
    status: Option<MembershipStatus>,
    /// The user id of an active MANAGER, ADMIN or OWNER of this organization, or `null`.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    manager_id: Patch<String>,
}

#[utoipa::path(
    tag = "team",
    params(("id" = Uuid, Path, description = "The membership's id")),
    request_body = MemberPatchBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The updated membership", body = MembershipDto))
)]
#[patch("/members/{id}")]
async fn update_member(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<MemberPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id: MembershipId = path_id(&id)?;
    // The schema checked the UUID (trimmed, as every string is); parse it the same way.
    let manager_id = match body.manager_id {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(raw) => match raw.trim().parse::<UserId>() {
            Ok(u) => Some(Some(u)),
            Err(_) => return Err(AppError::field("managerId", "must be a user id (UUID) or null").into()),
        },
    };
    let patch = MemberPatch { role: body.role, manager_id, status: body.status };
    let m = state.app.team.update_member(&ctx, id, patch).await?;
    Ok(HttpResponse::Ok().json(MembershipDto::from(&m)))
}

#[utoipa::path(
    tag = "team",
    params(("id" = Uuid, Path, description = "The membership's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Removed; the member's leads in this organization are unassigned"))
)]
#[delete("/members/{id}")]
async fn remove_member(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.team.remove_member(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The roles an invitation can give: any but OWNER.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "UPPERCASE")]
pub enum InviteRole {
    Admin,
    Manager,
    Sales,
}

impl From<InviteRole> for Role {
    fn from(r: InviteRole) -> Self {
        match r {
            InviteRole::Admin => Role::Admin,
            InviteRole::Manager => Role::Manager,
            InviteRole::Sales => Role::Sales,
        }
    }
}

/// `POST /invites`: both fields are required.
#[derive(Deserialize, ToSchema)]
pub struct InviteBody {
    email: String,
    role: InviteRole,
}

/// `{invite, token}`: the token is shown this once (and mailed); only its hash is stored.
#[derive(Serialize, ToSchema)]
pub struct InviteCreatedDto {
    invite: InviteDto,
    token: String,
}

#[utoipa::path(
    tag = "team",
    request_body = InviteBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The invitation and its one-time token", body = InviteCreatedDto))
)]
#[post("/invites")]
async fn create_invite(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    let (invite, token) = state.app.team.create_invite(&ctx, &body.email, body.role.into()).await?;
    Ok(HttpResponse::Created().json(InviteCreatedDto { invite: InviteDto::from(&invite), token }))
}

/// The organization's invitations, oldest first, each with its effective status.
#[utoipa::path(
    tag = "team",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of invitations", body = PageDto<InviteDto>))
)]
#[get("/invites")]
async fn list_invites(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.team.list_invites(&ctx, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<InviteDto>::of(&page)))
}

#[utoipa::path(
    tag = "team",
    params(("id" = Uuid, Path, description = "The invitation's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The invitation, now REVOKED", body = InviteDto))
)]
#[delete("/invites/{id}")]
async fn revoke_invite(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: InviteId = path_id(&id)?;
    let invite = state.app.team.revoke_invite(&ctx, id).await?;
    Ok(HttpResponse::Ok().json(InviteDto::from(&invite)))
}

/// `POST /invites/accept`: a person without an account gives `name` and `password`; an existing
/// user must be signed in as the invited email and gives neither.
#[derive(Deserialize, ToSchema)]
pub struct AcceptBody {
    token: String,
    name: Option<String>,
    /// At least 10 characters, not all of one class; never trimmed.
    password: Option<String>,
}

/// `{membership, accessToken, refreshToken, expiresAt}`: a session in the organization joined.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedDto {
    membership: MembershipDto,
    access_token: String,
    refresh_token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Accepts an invitation. No token is needed when the invited email has no account yet.
#[utoipa::path(
    tag = "team",
    request_body = AcceptBody,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The new membership and a session in it", body = AcceptedDto),
        (status = 410, description = "The invitation has expired (INVITE_EXPIRED).", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/invites/accept")]
async fn accept_invite(
    state: web::Data<HttpState>,
    MaybeAuthed(actor): MaybeAuthed,
    Client(client): Client,
    Json(body): Json<AcceptBody>,
) -> Result<HttpResponse, ApiError> {
    let input = AcceptInput { token: body.token, name: body.name, password: body.password };
    let accepted = state.app.team.accept_invite(actor.as_ref(), input, client).await?;
    Ok(HttpResponse::Ok().json(AcceptedDto {
        membership: MembershipDto::from(&accepted.membership),
        access_token: accepted.tokens.access_token,
        refresh_token: accepted.tokens.refresh_token,
        expires_at: accepted.tokens.expires_at,
    }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // `accept` before `{id}` routes: a literal segment must win over a pattern.
    cfg.service(accept_invite)
        .service(list_members)
        .service(update_member)
        .service(remove_member)
        .service(create_invite)
        .service(list_invites)
        .service(revoke_invite);
}
