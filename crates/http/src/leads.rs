//! `/api/v1/leads`.

use crate::auth::Authed;
use crate::body::{Fields, JsonBody};
use crate::dto::{LeadDto, PageDto};
use crate::problem::ApiError;
use crate::{HttpState, path_id, query_pairs};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use leadzone_app::leads::ListParams;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::{LeadId, ListId, UserId};
use leadzone_domain::leads::LeadInput;

#[post("/leads")]
async fn create(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let allow_duplicate = query_pairs(&req).iter().any(|(k, v)| k == "allowDuplicate" && (v == "true" || v == "1"));
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

#[get("/leads")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let mut p = ListParams::default();
    for (k, v) in query_pairs(&req) {
        let slot = match k.as_str() {
            "status" => {
                p.status.push(v);
                continue;
            }
            "industry" => &mut p.industry,
            "city" => &mut p.city,
            "assignedTo" => &mut p.assigned_to,
            "listId" => &mut p.list_id,
            "tag" => &mut p.tag,
            "hasPhone" => &mut p.has_phone,
            "hasWebsite" => &mut p.has_website,
            "createdFrom" => &mut p.created_from,
            "createdTo" => &mut p.created_to,
            "scoreMin" => &mut p.score_min,
            "q" => &mut p.q,
            "sort" => &mut p.sort,
            "limit" => &mut p.limit,
            "cursor" => &mut p.cursor,
            _ => continue,
        };
        *slot = Some(v);
    }
    let page = state.app.list_leads(&ctx, p).await?;
    Ok(HttpResponse::Ok()
        .json(PageDto { data: page.data.iter().map(LeadDto::from).collect(), next_cursor: page.next_cursor }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one);
}
