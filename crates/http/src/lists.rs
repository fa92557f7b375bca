//! `/api/v1/lists`.

use crate::auth::Authed;
use crate::body::{Fields, JsonBody};
use crate::dto::{LeadDto, ListDto, PageDto};
use crate::leads::list_params;
use crate::problem::ApiError;
use crate::{HttpState, path_id, query_pairs};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::lists::{ListInput, ListView};
use leadzone_domain::ids::{LeadId, ListId};

fn dto(v: &ListView) -> ListDto {
    ListDto::new(&v.list, v.leads_count)
}

fn list_input(f: &mut Fields<'_>, body: &serde_json::Map<String, serde_json::Value>) -> ListInput {
    ListInput {
        name: f.opt_string("name"),
        description: f.patch_string("description"),
        color: f.patch_string("color"),
        is_smart: f.opt_bool("isSmart"),
        smart_filters: match body.get("smartFilters") {
            None => None,
            Some(serde_json::Value::Null) => Some(None),
            Some(v) => Some(Some(v.clone())),
        },
    }
}

#[get("/lists")]
async fn all(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let lists = state.app.list_lists(&ctx).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: lists.iter().map(dto).collect(), next_cursor: None }))
}

#[post("/lists")]
async fn create(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let input = list_input(&mut f, &body);
    f.finish()?;
    let view = state.app.create_list(&ctx, input).await?;
    Ok(HttpResponse::Created().json(dto(&view)))
}

#[get("/lists/{id}")]
async fn one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(dto(&state.app.get_list(&ctx, path_id(&id)?).await?)))
}

#[patch("/lists/{id}")]
async fn update(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: ListId = path_id(&id)?;
    let mut f = Fields::new(&body);
    let input = list_input(&mut f, &body);
    f.finish()?;
    Ok(HttpResponse::Ok().json(dto(&state.app.update_list(&ctx, id, input).await?)))
}

#[delete("/lists/{id}")]
async fn remove(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.delete_list(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[get("/lists/{id}/leads")]
async fn leads(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ListId = path_id(&id)?;
    let page = state.app.list_leads_of(&ctx, id, list_params(query_pairs(&req)?)).await?;
    Ok(HttpResponse::Ok()
        .json(PageDto { data: page.data.iter().map(LeadDto::from).collect(), next_cursor: page.next_cursor }))
}

async fn membership(
    state: &HttpState,
    ctx: &leadzone_app::Ctx,
    id: &str,
    body: &serde_json::Map<String, serde_json::Value>,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let id: ListId = path_id(id)?;
    let mut f = Fields::new(body);
    if !body.contains_key("leadIds") {
        f.string("leadIds");
    }
    let raw = f.string_list("leadIds");
    f.finish()?;
    // Ids that are not UUIDs name no lead: they are simply not affected.
    let ids: Vec<LeadId> = raw.iter().filter_map(|r| r.parse().ok()).collect();
    let affected = state.app.change_list_membership(ctx, id, ids, add).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"affected": affected})))
}

#[post("/lists/{id}/leads")]
async fn add_leads(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    membership(&state, &ctx, &id, &body, true).await
}

#[delete("/lists/{id}/leads")]
async fn remove_leads(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    membership(&state, &ctx, &id, &body, false).await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(all)
        .service(create)
        .service(one)
        .service(update)
        .service(remove)
        .service(leads)
        .service(add_leads)
        .service(remove_leads);
}
