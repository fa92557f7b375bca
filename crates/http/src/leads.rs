//! `/api/v1/leads`.

use crate::auth::Authed;
use crate::body::{Fields, JsonBody};
use crate::dto::{ActivityDto, EvidenceDto};
use crate::dto::{LeadDto, PageDto};
use crate::problem::ApiError;
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::AppError;
use leadzone_app::lead_actions::{BulkInput, BulkTarget, EvidenceInput};
use leadzone_app::leads::ListParams;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::{LeadId, ListId, UserId};
use leadzone_domain::leads::LeadInput;
use leadzone_domain::leads::LeadPatchInput;

#[post("/leads")]
async fn create(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let allow_duplicate = allow_duplicate(&req)?;
    let mut f = Fields::new(&body);
    let input = LeadInput {
        company_name: f.string("companyName"),
        industry: f.opt_string("industry"),
        city: f.opt_string("city"),
        phone: f.opt_string("phone"),
        email: f.opt_string("email"),
        website: f.opt_string("website"),
        status: f.opt_parsed::<LeadStatus>("status", "one of NEW, PROSPECTED, CONTACTED, QUALIFIED, LOST"),
        score: f.opt_i32("score"),
        tags: f.string_list("tags"),
        list_id: f.opt_parsed::<ListId>("listId", "a list id (UUID)"),
        assigned_to: f.opt_parsed::<UserId>("assignedTo", "a user id (UUID)"),
        enrichment_data: f.opt_json("enrichmentData"),
    };
    f.finish()?;
    let lead = state.app.create_lead(&ctx, input, allow_duplicate).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/leads/{}", lead.id)))
        .json(LeadDto::from(&lead)))
}

#[get("/leads/{id}")]
async fn get_one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let lead = state.app.get_lead(&ctx, id).await?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&lead)))
}

/// The query parameters of a lead listing (also used by list pages and bulk filters).
pub(crate) fn list_params(pairs: Vec<(String, String)>) -> ListParams {
    leadzone_app::leads::list_params_from_pairs(pairs)
}

fn leads_page(page: leadzone_app::leads::Page<leadzone_domain::entities::Lead>) -> HttpResponse {
    HttpResponse::Ok()
        .json(PageDto { data: page.data.iter().map(LeadDto::from).collect(), next_cursor: page.next_cursor })
}

#[get("/leads")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let page = state.app.list_leads(&ctx, list_params(query_pairs(&req)?)).await?;
    Ok(leads_page(page))
}

fn allow_duplicate(req: &HttpRequest) -> Result<bool, ApiError> {
    Ok(query_pairs(req)?.iter().any(|(k, v)| k == "allowDuplicate" && (v == "true" || v == "1")))
}

#[patch("/leads/{id}")]
async fn update(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let mut f = Fields::new(&body);
    if body.contains_key("status") {
        return Err(AppError::field("status", "cannot be changed here; use POST /leads/{id}/status").into());
    }
    let patch = LeadPatchInput {
        company_name: f.opt_string("companyName"),
        industry: f.patch_string("industry"),
        city: f.patch_string("city"),
        phone: f.patch_string("phone"),
        email: f.patch_string("email"),
        website: f.patch_string("website"),
        score: f.patch_i32("score"),
        tags: body.contains_key("tags").then(|| f.string_list("tags")),
        list_id: f.patch_parsed::<ListId>("listId", "a list id (UUID) or null"),
        assigned_to: f.patch_parsed::<UserId>("assignedTo", "a user id (UUID) or null"),
        enrichment_data: f.opt_json("enrichmentData"),
    };
    f.finish()?;
    let lead = state.app.update_lead(&ctx, id, patch, allow_duplicate(&req)?).await?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&lead)))
}

#[delete("/leads/{id}")]
async fn remove(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.delete_lead(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/leads/{id}/status")]
async fn status(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let mut f = Fields::new(&body);
    let (to, reason) = (f.string("status"), f.opt_string("reason"));
    f.finish()?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&state.app.change_status(&ctx, id, &to, reason).await?)))
}

#[post("/leads/{id}/assign")]
async fn assign(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let mut f = Fields::new(&body);
    if !body.contains_key("userId") {
        f.string("userId");
    }
    let user = f.patch_parsed::<UserId>("userId", "a user id (UUID) or null").flatten();
    f.finish()?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&state.app.assign_lead(&ctx, id, user).await?)))
}

#[get("/leads/{id}/activities")]
async fn activities(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let q = query_pairs(&req)?;
    let page = state.app.list_activities(&ctx, id, query_param(&q, "limit"), query_param(&q, "cursor")).await?;
    Ok(HttpResponse::Ok()
        .json(PageDto { data: page.data.iter().map(ActivityDto::from).collect(), next_cursor: page.next_cursor }))
}

#[post("/leads/{id}/activities")]
async fn add_activity(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let mut f = Fields::new(&body);
    let (kind, description, metadata) = (f.string("type"), f.string("description"), f.opt_json("metadata"));
    f.finish()?;
    let a = state.app.add_activity(&ctx, id, &kind, &description, metadata).await?;
    Ok(HttpResponse::Created().json(ActivityDto::from(&a)))
}

#[get("/leads/{id}/evidence")]
async fn evidence(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.app.list_evidence(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: rows.iter().map(EvidenceDto::from).collect(), next_cursor: None }))
}

#[post("/leads/{id}/evidence")]
async fn add_evidence(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let mut f = Fields::new(&body);
    if let Some(kind) = f.opt_string("type")
        && kind != "CUSTOM"
    {
        return Err(AppError::field("type", "only CUSTOM evidence can be added by hand").into());
    }
    let input = EvidenceInput {
        title: f.string("title"),
        url: f.opt_string("url"),
        snippet: f.opt_string("snippet"),
        source: f.opt_string("source"),
        confidence: f.opt_string("confidence"),
    };
    f.finish()?;
    let e = state.app.add_evidence(&ctx, id, input).await?;
    Ok(HttpResponse::Created().json(EvidenceDto::from(&e)))
}

#[post("/leads/bulk")]
async fn bulk(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let action = f.string("action");
    let target = match (body.get("ids"), f.filter_pairs("filter", leadzone_app::leads::LEAD_FILTER_KEYS)) {
        (Some(_), None) => {
            let raw = f.string_list("ids");
            let mut ids = Vec::with_capacity(raw.len());
            for r in raw {
                match r.parse::<LeadId>() {
                    Ok(id) => ids.push(id),
                    // An id that is not a UUID names no lead: it is simply not affected.
                    Err(_) => continue,
                }
            }
            BulkTarget::Ids(ids)
        }
        (None, Some(pairs)) => {
            let (parsed, ..) = state.app.parse_lead_filter(&ctx, list_params(pairs))?;
            BulkTarget::Filter(parsed)
        }
        (Some(_), Some(_)) => return Err(AppError::field("ids", "give ids or a filter, not both").into()),
        (None, None) => return Err(AppError::field("ids", "ids or a filter is required").into()),
    };
    let input = BulkInput {
        action,
        target,
        status: f.opt_string("status"),
        user_id: f.patch_parsed::<UserId>("userId", "a user id (UUID) or null"),
        list_id: f.opt_parsed::<ListId>("listId", "a list id (UUID)"),
        tags: body.contains_key("tags").then(|| f.string_list("tags")),
    };
    f.finish()?;
    let affected = state.app.bulk_leads(&ctx, input).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"affected": affected})))
}

#[get("/stats/leads")]
async fn stats(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let s = state.app.lead_stats(&ctx).await?;
    let by_status: serde_json::Map<String, serde_json::Value> =
        s.by_status.iter().map(|(k, n)| (k.as_str().to_owned(), serde_json::json!(n))).collect();
    let pairs = |v: &[(String, i64)], key: &str| -> Vec<serde_json::Value> {
        v.iter().map(|(k, n)| serde_json::json!({ key: k, "count": n })).collect()
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "total": s.total,
        "byStatus": by_status,
        "byCity": pairs(&s.by_city, "city"),
        "byIndustry": pairs(&s.by_industry, "industry"),
        "createdPerDay": s.created_per_day.iter().map(|(d, n)| serde_json::json!({"date": d.to_string(), "count": n})).collect::<Vec<_>>(),
    })))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Literal paths (`/leads/bulk`) before `{id}` patterns.
    cfg.service(bulk)
        .service(stats)
        .service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(status)
        .service(assign)
        .service(activities)
        .service(add_activity)
        .service(evidence)
        .service(add_evidence);
}
