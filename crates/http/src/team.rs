//! `/api/v1/members` and `/api/v1/invites`.

use crate::auth::{Authed, Client, MaybeAuthed};
use crate::body::{Fields, JsonBody};
use crate::dto::{InviteDto, MemberDto, MembershipDto, PageDto};
use crate::problem::ApiError;
use crate::{HttpState, path_id};
use actix_web::{HttpResponse, delete, get, patch, post, web};
use leadzone_app::team::{AcceptInput, MemberPatch};
use leadzone_domain::enums::{MembershipStatus, Role};
use leadzone_domain::ids::{InviteId, MembershipId, UserId};
use serde_json::json;

#[get("/members")]
async fn list_members(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let members = state.app.list_members(&ctx).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: members.iter().map(MemberDto::from).collect(), next_cursor: None }))
}

#[patch("/members/{id}")]
async fn update_member(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: MembershipId = path_id(&id)?;
    let mut f = Fields::new(&body);
    let role = f.opt_parsed::<Role>("role", "one of OWNER, ADMIN, MANAGER, SALES");
    let status = f.opt_parsed::<MembershipStatus>("status", "ACTIVE or SUSPENDED");
    let manager_id = match f.patch_string("managerId") {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => match raw.parse::<UserId>() {
            Ok(u) => Some(Some(u)),
            Err(_) => {
                f.opt_parsed::<UserId>("managerId", "a user id (UUID) or null");
                None
            }
        },
    };
    f.finish()?;
    let m = state.app.update_member(&ctx, id, MemberPatch { role, manager_id, status }).await?;
    Ok(HttpResponse::Ok().json(MembershipDto::from(&m)))
}

#[delete("/members/{id}")]
async fn remove_member(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.remove_member(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/invites")]
async fn create_invite(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let email = f.string("email");
    let role = f.opt_parsed::<Role>("role", "one of ADMIN, MANAGER, SALES");
    f.finish()?;
    let (invite, token) = state.app.create_invite(&ctx, &email, role).await?;
    Ok(HttpResponse::Created().json(json!({"invite": InviteDto::from(&invite), "token": token})))
}

#[get("/invites")]
async fn list_invites(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let invites = state.app.list_invites(&ctx).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: invites.iter().map(InviteDto::from).collect(), next_cursor: None }))
}

#[delete("/invites/{id}")]
async fn revoke_invite(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: InviteId = path_id(&id)?;
    let invite = state.app.revoke_invite(&ctx, id).await?;
    Ok(HttpResponse::Ok().json(InviteDto::from(&invite)))
}

#[post("/invites/accept")]
async fn accept_invite(
    state: web::Data<HttpState>,
    MaybeAuthed(actor): MaybeAuthed,
    Client(client): Client,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let input =
        AcceptInput { token: f.string("token"), name: f.opt_string("name"), password: f.opt_string("password") };
    f.finish()?;
    let accepted = state.app.accept_invite(actor.as_ref(), input, client).await?;
    Ok(HttpResponse::Ok().json(json!({
        "membership": MembershipDto::from(&accepted.membership),
        "accessToken": accepted.tokens.access_token,
        "refreshToken": accepted.tokens.refresh_token,
        "expiresAt": accepted.tokens.expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `accept` before `{id}` routes: a literal segment must win over a pattern.
    cfg.service(accept_invite)
        .service(list_members)
        .service(update_member)
        .service(remove_member)
        .service(create_invite)
        .service(list_invites)
        .service(revoke_invite);
}
