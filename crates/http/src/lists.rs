//! `/api/v1/lists`.

use crate::auth::Authed;
use crate::dto::{LeadDto, ListDto, PageDto};
use crate::leads::{AffectedDto, LeadListQuery, PageQuery, list_params};

use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::{Json, Patch, check_query};
use crate::{HttpState, path_id, query_pairs};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::lists::{ListInput, ListView};
use leadzone_domain::ids::{LeadId, ListId};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

fn dto(v: &ListView) -> ListDto {
    ListDto::new(&v.list, v.leads_count)
}

/// The saved filters of a smart list: the leads matching all of them belong to it. `{}` matches
/// every visible lead.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct SmartFiltersBody {
    #[schema(value_type = Option<Vec<enums::LeadStatus>>)]
    status: Option<Vec<String>>,
    industry: Option<Vec<String>>,
    city: Option<Vec<String>>,
    has_phone: Option<bool>,
    has_website: Option<bool>,
}

/// `POST /lists`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewListBody {
    name: String,
    description: Option<String>,
    /// A colour name or `#hex`, at most 20 characters.
    color: Option<String>,
    /// Whether the list is defined by `smartFilters` (cannot change after creation).
    is_smart: bool,
    /// Required for a smart list; a static list has none.
    #[schema(value_type = Option<SmartFiltersBody>)]
    smart_filters: Option<serde_json::Value>,
}

/// `PATCH /lists/{id}`: absent fields stay, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListPatchBody {
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    color: Patch<String>,
    /// Only the list's current value is accepted: a list never changes kind.
    is_smart: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<SmartFiltersBody>)]
    smart_filters: Patch<serde_json::Value>,
}

/// `POST /lists/{id}/leads` and `DELETE /lists/{id}/leads`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadIdsBody {
    /// The leads to add or remove (at most 10 000); leads the caller cannot see are not affected.
    #[schema(max_items = 10000)]
    lead_ids: Vec<Uuid>,
}

#[utoipa::path(
    tag = "lists",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of the tenant's lists, oldest first", body = PageDto<ListDto>))
)]
#[get("/lists")]
async fn all(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.lists.list_lists(&ctx, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: page.data.iter().map(dto).collect(), next_cursor: page.next_cursor }))
}

#[utoipa::path(
    tag = "lists",
    request_body = NewListBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new list", body = ListDto))
)]
#[post("/lists")]
async fn create(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<NewListBody>,
) -> Result<HttpResponse, ApiError> {
    let input = ListInput {
        name: Some(body.name),
        description: body.description.map(Some),
        color: body.color.map(Some),
        is_smart: Some(body.is_smart),
        smart_filters: Some(body.smart_filters),
    };
    let view = state.app.lists.create_list(&ctx, input).await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/lists/{}", view.list.id))).json(dto(&view)))
}

#[utoipa::path(
    tag = "lists",
    params(("id" = Uuid, Path, description = "The list's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The list", body = ListDto))
)]
#[get("/lists/{id}")]
async fn one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(dto(&state.app.lists.get_list(&ctx, path_id(&id)?).await?)))
}

#[utoipa::path(
    tag = "lists",
    params(("id" = Uuid, Path, description = "The list's id")),
    request_body = ListPatchBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The updated list", body = ListDto))
)]
#[patch("/lists/{id}")]
async fn update(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<ListPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id: ListId = path_id(&id)?;
    let input = ListInput {
        name: body.name,
        description: body.description.into_option(),
        color: body.color.into_option(),
        is_smart: body.is_smart,
        smart_filters: body.smart_filters.into_option(),
    };
    Ok(HttpResponse::Ok().json(dto(&state.app.lists.update_list(&ctx, id, input).await?)))
}

#[utoipa::path(
    tag = "lists",
    params(("id" = Uuid, Path, description = "The list's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted; its leads stay, without a list"))
)]
#[delete("/lists/{id}")]
async fn remove(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.lists.delete_list(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "lists",
    params(("id" = Uuid, Path, description = "The list's id"), LeadListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of the list's leads (a smart list's: those matching its filters now)", body = PageDto<LeadDto>))
)]
#[get("/lists/{id}/leads")]
async fn leads(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ListId = path_id(&id)?;
    let pairs = query_pairs(&req)?;
    check_query::<LeadListQuery>(&pairs)?;
    let page = state.app.lists.list_leads_of(&ctx, id, list_params(pairs)).await?;
    Ok(HttpResponse::Ok().json(PageDto::<LeadDto>::of(&page)))
}

async fn membership(
    state: &HttpState,
    ctx: &leadzone_app::Ctx,
    id: &str,
    body: LeadIdsBody,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let id: ListId = path_id(id)?;
    let ids: Vec<LeadId> = body.lead_ids.into_iter().map(LeadId::from_uuid).collect();
    let affected = state.app.lists.change_list_membership(ctx, id, ids, add).await?;
    // The shape of `AffectedDto`.
    Ok(HttpResponse::Ok().json(serde_json::json!({ "affected": affected })))
}

#[utoipa::path(
    tag = "lists",
    params(("id" = Uuid, Path, description = "The list's id (a static list)")),
    request_body = LeadIdsBody,
    security(("bearer" = [])),
    responses((status = 200, description = "How many leads joined the list", body = AffectedDto))
)]
#[post("/lists/{id}/leads")]
async fn add_leads(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<LeadIdsBody>,
) -> Result<HttpResponse, ApiError> {
    membership(&state, &ctx, &id, body, true).await
}

#[utoipa::path(
    tag = "lists",
    params(("id" = Uuid, Path, description = "The list's id (a static list)")),
    request_body = LeadIdsBody,
    security(("bearer" = [])),
    responses((status = 200, description = "How many leads left the list", body = AffectedDto))
)]
#[delete("/lists/{id}/leads")]
async fn remove_leads(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<LeadIdsBody>,
) -> Result<HttpResponse, ApiError> {
    membership(&state, &ctx, &id, body, false).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(all)
        .service(create)
        .service(one)
        .service(update)
        .service(remove)
        .service(leads)
        .service(add_leads)
        .service(remove_leads);
}
