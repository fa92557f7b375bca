//! `/api/v1/leads`.

use crate::auth::Authed;
use crate::dto::{ActivityDto, EvidenceDto};
use crate::dto::{LeadDto, PageDto};
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::{Json, Patch, check_query};
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use leadzone_app::AppError;
use leadzone_app::lead_actions::{BulkInput, BulkTarget, EvidenceInput};
use leadzone_app::leads::ListParams;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::{LeadId, ListId, UserId};
use leadzone_domain::leads::LeadInput;
use leadzone_domain::leads::LeadPatchInput;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `POST /leads`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewLeadBody {
    company_name: String,
    industry: Option<String>,
    city: Option<String>,
    /// Saudi local forms (`0501234567`) are normalised to E.164.
    phone: Option<String>,
    email: Option<String>,
    /// Normalised to a lowercase `https://host/…` URL.
    website: Option<String>,
    #[schema(value_type = Option<enums::LeadStatus>)]
    status: Option<LeadStatus>,
    /// 0–100 (checked with the lead's other rules, so every bad field is reported at once).
    score: Option<i32>,
    tags: Option<Vec<String>>,
    list_id: Option<Uuid>,
    assigned_to: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    enrichment_data: Option<serde_json::Value>,
}

/// `?allowDuplicate=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateQuery {
    /// Create the lead even when its phone or website host matches another lead's.
    #[allow(dead_code)]
    allow_duplicate: Option<bool>,
}

#[utoipa::path(
    tag = "leads",
    params(DuplicateQuery),
    request_body = NewLeadBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new lead", body = LeadDto))
)]
#[post("/leads")]
async fn create(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    Json(body): Json<NewLeadBody>,
) -> Result<HttpResponse, ApiError> {
    let allow_duplicate = allow_duplicate(&req)?;
    let input = LeadInput {
        company_name: body.company_name,
        industry: body.industry,
        city: body.city,
        phone: body.phone,
        email: body.email,
        website: body.website,
        status: body.status,
        score: body.score,
        tags: body.tags.unwrap_or_default(),
        list_id: body.list_id.map(ListId::from_uuid),
        assigned_to: body.assigned_to.map(UserId::from_uuid),
        enrichment_data: body.enrichment_data,
    };
    let lead = state.app.leads.create_lead(&ctx, input, allow_duplicate).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/leads/{}", lead.id)))
        .json(LeadDto::from(&lead)))
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The lead", body = LeadDto))
)]
#[get("/leads/{id}")]
async fn get_one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let lead = state.app.leads.get_lead(&ctx, id).await?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&lead)))
}

/// The query parameters of a lead listing (also used by list pages and bulk filters).
pub(crate) fn list_params(pairs: Vec<(String, String)>) -> ListParams {
    leadzone_app::leads::list_params_from_pairs(pairs)
}

fn leads_page(page: leadzone_app::leads::Page<leadzone_domain::entities::Lead>) -> HttpResponse {
    HttpResponse::Ok().json(PageDto::<LeadDto>::of(&page))
}

/// The filters, order and page of a lead listing (`GET /leads`, list pages, exports and bulk
/// filters speak the same keys).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LeadListQuery {
    /// Repeatable: leads in any of these statuses.
    #[param(value_type = Option<Vec<enums::LeadStatus>>)]
    status: Option<Vec<String>>,
    /// Repeatable.
    industry: Option<Vec<String>>,
    /// Repeatable.
    city: Option<Vec<String>>,
    /// A member's user id, or `me`.
    assigned_to: Option<String>,
    list_id: Option<Uuid>,
    tag: Option<String>,
    has_phone: Option<bool>,
    has_website: Option<bool>,
    created_from: Option<time::OffsetDateTime>,
    created_to: Option<time::OffsetDateTime>,
    #[param(minimum = 0, maximum = 100)]
    score_min: Option<i32>,
    /// Full text over company name and industry (Arabic and English), the last word as a prefix.
    q: Option<String>,
    /// `relevance` (the default with `q`): the newest 1,000 matches, as they were when the first
    /// page was read, by how well they match (then id), and every older match after them, newest
    /// first; the cursor keeps that window, so pages stay exact while leads are added. Without
    /// `q` the default is `-createdAt`. Exports of a search use the same order.
    #[param(value_type = Option<String>, pattern = "^(-createdAt|createdAt|-score|score|companyName|-updatedAt|relevance)$")]
    sort: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    tag = "leads",
    params(LeadListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of visible leads", body = PageDto<LeadDto>))
)]
#[get("/leads")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req)?;
    check_query::<LeadListQuery>(&pairs)?;
    let page = state.app.leads.list_leads(&ctx, list_params(pairs)).await?;
    Ok(leads_page(page))
}

fn allow_duplicate(req: &HttpRequest) -> Result<bool, ApiError> {
    let pairs = query_pairs(req)?;
    check_query::<DuplicateQuery>(&pairs)?;
    Ok(query_param(&pairs, "allowDuplicate").is_some_and(|v| v == "true"))
}

/// `PATCH /leads/{id}`: absent fields stay, `null` clears. `status` has its own endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadPatchBody {
    company_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    industry: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    city: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    website: Patch<String>,
    #[serde(default)]
    /// 0–100 (checked with the lead's other rules).
    #[schema(value_type = Option<i32>)]
    score: Patch<i32>,
    tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    list_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    assigned_to: Patch<Uuid>,
    #[schema(value_type = Option<Object>)]
    enrichment_data: Option<serde_json::Value>,
    /// Not accepted here: use `POST /leads/{id}/status`.
    #[schema(value_type = Option<enums::LeadStatus>)]
    #[allow(dead_code)]
    status: Option<serde_json::Value>,
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id"), DuplicateQuery),
    request_body = LeadPatchBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The updated lead", body = LeadDto))
)]
#[patch("/leads/{id}")]
async fn update(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<LeadPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    if body.status.is_some() {
        return Err(AppError::field("status", "cannot be changed here; use POST /leads/{id}/status").into());
    }
    let patch = LeadPatchInput {
        company_name: body.company_name,
        industry: body.industry.into_option(),
        city: body.city.into_option(),
        phone: body.phone.into_option(),
        email: body.email.into_option(),
        website: body.website.into_option(),
        score: body.score.into_option(),
        tags: body.tags,
        list_id: body.list_id.map(ListId::from_uuid).into_option(),
        assigned_to: body.assigned_to.map(UserId::from_uuid).into_option(),
        enrichment_data: body.enrichment_data,
    };
    let lead = state.app.leads.update_lead(&ctx, id, patch, allow_duplicate(&req)?).await?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&lead)))
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/leads/{id}")]
async fn remove(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.app.leads.delete_lead(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /leads/{id}/status`.
#[derive(Deserialize, ToSchema)]
pub struct StatusBody {
    #[schema(value_type = enums::LeadStatus)]
    status: String,
    reason: Option<String>,
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    request_body = StatusBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The lead in its new status", body = LeadDto))
)]
#[post("/leads/{id}/status")]
async fn status(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let lead = state.app.leads.change_status(&ctx, id, &body.status, body.reason).await?;
    Ok(HttpResponse::Ok().json(LeadDto::from(&lead)))
}

/// `POST /leads/{id}/assign`: `userId` is required; `null` unassigns.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignBody {
    #[schema(required = true)]
    user_id: Option<Uuid>,
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    request_body = AssignBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The lead with its new assignee", body = LeadDto))
)]
#[post("/leads/{id}/assign")]
async fn assign(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let user = body.user_id.map(UserId::from_uuid);
    Ok(HttpResponse::Ok().json(LeadDto::from(&state.app.leads.assign_lead(&ctx, id, user).await?)))
}

/// `?limit=&cursor=` of a cursor-paged collection.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The lead's timeline, newest first", body = PageDto<ActivityDto>))
)]
#[get("/leads/{id}/activities")]
async fn activities(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.leads.list_activities(&ctx, id, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<ActivityDto>::of(&page)))
}

/// `POST /leads/{id}/activities`: what a user logs by hand.
#[derive(Deserialize, ToSchema)]
pub struct ActivityBody {
    #[serde(rename = "type")]
    /// `NOTE`, `CALL` or `MEETING` (checked with the other fields).
    #[schema(value_type = String, rename = "type")]
    kind: String,
    description: String,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    request_body = ActivityBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new activity", body = ActivityDto))
)]
#[post("/leads/{id}/activities")]
async fn add_activity(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<ActivityBody>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let a = state.app.leads.add_activity(&ctx, id, &body.kind, &body.description, body.metadata).await?;
    Ok(HttpResponse::Created().json(ActivityDto::from(&a)))
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The lead's evidence", body = PageDto<EvidenceDto>))
)]
#[get("/leads/{id}/evidence")]
async fn evidence(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let (limit, cursor) = crate::page_params(&req)?;
    let page = state.app.leads.list_evidence(&ctx, id, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(PageDto::<EvidenceDto>::of(&page)))
}

/// `POST /leads/{id}/evidence`: only `CUSTOM` evidence is added by hand.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceBody {
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, rename = "type", pattern = "^CUSTOM$")]
    #[allow(dead_code)]
    kind: Option<String>,
    title: String,
    url: Option<String>,
    snippet: Option<String>,
    source: Option<String>,
    /// `HIGH`, `MEDIUM` (the default) or `LOW`; checked with the evidence's other rules.
    confidence: Option<String>,
    /// Any JSON object kept with the evidence.
    #[schema(value_type = Option<Object>)]
    raw_data: Option<serde_json::Value>,
}

#[utoipa::path(
    tag = "leads",
    params(("id" = Uuid, Path, description = "The lead's id")),
    request_body = EvidenceBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new evidence", body = EvidenceDto))
)]
#[post("/leads/{id}/evidence")]
async fn add_evidence(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
    Json(body): Json<EvidenceBody>,
) -> Result<HttpResponse, ApiError> {
    let id: LeadId = path_id(&id)?;
    let input = EvidenceInput {
        title: body.title,
        url: body.url,
        snippet: body.snippet,
        source: body.source,
        confidence: body.confidence,
        raw_data: body.raw_data,
    };
    let e = state.app.leads.add_evidence(&ctx, id, input).await?;
    Ok(HttpResponse::Created().json(EvidenceDto::from(&e)))
}

/// A filter value given once or as a non-empty list (`"city": "Riyadh"` or `["Riyadh", "Jeddah"]`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// The schema of a `OneOrMany<T>` field: `T` or a non-empty list of `T`.
macro_rules! one_or_many_schema {
    ($name:ident, $item:ty) => {
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder};
                let item = <$item as utoipa::PartialSchema>::schema;
                OneOfBuilder::new().item(item()).item(ArrayBuilder::new().items(item()).min_items(Some(1))).into()
            }
        }

        impl ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
            fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
                <$item as ToSchema>::schemas(schemas);
            }
        }
    };
}

one_or_many_schema!(TextOrList, String);
one_or_many_schema!(StatusOrList, enums::LeadStatus);

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(v) => vec![v],
            Self::Many(v) => v,
        }
    }
}

/// The filter of a bulk action or an export: the keys of `GET /leads`' filters.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadFilterBody {
    #[schema(nullable = false, value_type = Option<StatusOrList>)]
    status: Option<OneOrMany<String>>,
    #[schema(nullable = false, value_type = Option<TextOrList>)]
    industry: Option<OneOrMany<String>>,
    #[schema(nullable = false, value_type = Option<TextOrList>)]
    city: Option<OneOrMany<String>>,
    /// A member's user id, or `me`.
    #[schema(nullable = false)]
    assigned_to: Option<String>,
    #[schema(nullable = false)]
    list_id: Option<Uuid>,
    #[schema(nullable = false)]
    tag: Option<String>,
    #[schema(nullable = false)]
    has_phone: Option<bool>,
    #[schema(nullable = false)]
    has_website: Option<bool>,
    #[schema(nullable = false)]
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_from: Option<time::OffsetDateTime>,
    #[schema(nullable = false)]
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_to: Option<time::OffsetDateTime>,
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    score_min: Option<i32>,
    #[schema(nullable = false)]
    q: Option<String>,
}

impl LeadFilterBody {
    /// The filter as the query pairs of `GET /leads`, so one parser serves all three.
    pub(crate) fn into_pairs(self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut put = |k: &str, v: String| pairs.push((k.to_owned(), v));
        let time =
            |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        for v in self.status.into_iter().flat_map(OneOrMany::into_vec) {
            put("status", v);
        }
        for v in self.industry.into_iter().flat_map(OneOrMany::into_vec) {
            put("industry", v);
        }
        for v in self.city.into_iter().flat_map(OneOrMany::into_vec) {
            put("city", v);
        }
        if let Some(v) = self.assigned_to {
            put("assignedTo", v);
        }
        if let Some(v) = self.list_id {
            put("listId", v.to_string());
        }
        if let Some(v) = self.tag {
            put("tag", v);
        }
        if let Some(v) = self.has_phone {
            put("hasPhone", v.to_string());
        }
        if let Some(v) = self.has_website {
            put("hasWebsite", v.to_string());
        }
        if let Some(v) = self.created_from {
            put("createdFrom", time(v));
        }
        if let Some(v) = self.created_to {
            put("createdTo", time(v));
        }
        if let Some(v) = self.score_min {
            put("scoreMin", v.to_string());
        }
        if let Some(v) = self.q {
            put("q", v);
        }
        pairs
    }
}

/// The bulk actions on leads.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum BulkAction {
    Delete,
    Assign,
    SetStatus,
    AddToList,
    RemoveFromList,
    AddTags,
    RemoveTags,
}

impl From<BulkAction> for leadzone_app::lead_actions::BulkAction {
    fn from(a: BulkAction) -> Self {
        match a {
            BulkAction::Delete => Self::Delete,
            BulkAction::Assign => Self::Assign,
            BulkAction::SetStatus => Self::SetStatus,
            BulkAction::AddToList => Self::AddToList,
            BulkAction::RemoveFromList => Self::RemoveFromList,
            BulkAction::AddTags => Self::AddTags,
            BulkAction::RemoveTags => Self::RemoveTags,
        }
    }
}

/// `POST /leads/bulk`: `ids` or `filter`, not both.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    action: BulkAction,
    #[schema(max_items = 10000)]
    ids: Option<Vec<Uuid>>,
    filter: Option<LeadFilterBody>,
    #[schema(value_type = Option<enums::LeadStatus>)]
    status: Option<String>,
    /// For `assign`: a member's user id, or `null` to unassign.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    user_id: Patch<Uuid>,
    list_id: Option<Uuid>,
    tags: Option<Vec<String>>,
}

/// `{"affected": n}`.
#[derive(serde::Serialize, ToSchema)]
pub struct AffectedDto {
    affected: u64,
}

#[utoipa::path(
    tag = "leads",
    request_body = BulkBody,
    security(("bearer" = [])),
    responses((status = 200, description = "How many leads the action changed", body = AffectedDto))
)]
#[post("/leads/bulk")]
async fn bulk(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    let target = match (body.ids, body.filter) {
        (Some(ids), None) => BulkTarget::Ids(ids.into_iter().map(LeadId::from_uuid).collect()),
        (None, Some(filter)) => {
            let (parsed, ..) = state.app.leads.parse_lead_filter(&ctx, list_params(filter.into_pairs()))?;
            BulkTarget::Filter(parsed)
        }
        (Some(_), Some(_)) => return Err(AppError::field("ids", "give ids or a filter, not both").into()),
        (None, None) => return Err(AppError::field("ids", "ids or a filter is required").into()),
    };
    let input = BulkInput {
        action: body.action.into(),
        target,
        status: body.status,
        user_id: body.user_id.map(UserId::from_uuid).into_option(),
        list_id: body.list_id.map(ListId::from_uuid),
        tags: body.tags,
    };
    let affected = state.app.leads.bulk_leads(&ctx, input).await?;
    Ok(HttpResponse::Ok().json(AffectedDto { affected }))
}

#[utoipa::path(
    tag = "leads",
    security(("bearer" = [])),
    responses((status = 200, description = "Counts over the visible leads", body = Object))
)]
#[get("/stats/leads")]
async fn stats(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let s = state.app.leads.lead_stats(&ctx).await?;
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

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
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

#[cfg(test)]
mod tests {
    //! The handlers of `/leads` against fakes: the whole HTTP path (routing, the bearer
    //! extractor, query checking, the use case, problem+json) with every port a mock and no
    //! database. The same routes run against PostgreSQL in `apps/api/tests/it/leads.rs`.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use crate::HttpState;
    use actix_web::http::StatusCode;
    use actix_web::{App, test, web};
    use leadzone_app::testing::{FakeTx, lead, now, ports_with_txs};
    use leadzone_domain::enums::{LeadStatus, MembershipStatus, Role, TenantStatus};
    use leadzone_domain::leads::LeadSort;
    use leadzone_ports::leads::ListedLead;
    use leadzone_ports::security::MockTokens;
    use leadzone_ports::sessions::{MockSessionStore, SessionPrincipal};
    use serde_json::Value;
    use std::sync::Arc;
    use utoipa_actix_web::AppExt;

    const TOKEN: &str = "lza_test-token";

    /// An app whose one live session is `TOKEN`'s, an OWNER's of tenant 0xA; `txs` are the
    /// tenant transactions the use case may begin, in order.
    fn app(txs: Vec<FakeTx>) -> leadzone_app::App {
        let mut ports = ports_with_txs(txs);
        let mut tokens = MockTokens::new();
        tokens.expect_hash().returning(|t| format!("h({t})"));
        ports.tokens = Arc::new(tokens);
        let mut sessions = MockSessionStore::new();
        sessions.expect_session_by_access_hash().returning(|hash, at| {
            Ok((hash == format!("h({TOKEN})") && at == now()).then(|| SessionPrincipal {
                subscription_status: None,
                session_id: uuid::Uuid::from_u128(9).into(),
                user_id: uuid::Uuid::from_u128(1).into(),
                tenant_id: uuid::Uuid::from_u128(0xA).into(),
                role: Role::Owner,
                membership_status: MembershipStatus::Active,
                tenant_status: TenantStatus::Active,
                access_expires_at: now() + time::Duration::minutes(15),
            }))
        });
        ports.sessions = Arc::new(sessions);
        leadzone_app::App::new(ports)
    }

    async fn get(app: leadzone_app::App, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        let state = web::Data::new(HttpState {
            app,
            metrics: Arc::new(crate::metrics::Metrics::new()),
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            rate_limit: crate::ratelimit::RateLimit::off(),
        });
        let service =
            test::init_service(App::new().app_data(state).into_utoipa_app().configure(crate::routes).into_app()).await;
        let mut req = test::TestRequest::get().uri(uri);
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let res = test::call_service(&service, req.to_request()).await;
        let status = res.status();
        let body = test::read_body(res).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn listed(n: u128) -> ListedLead {
        ListedLead { lead: lead(n), rank: 0.0, name_key: format!("lead {n}"), relevance: None }
    }

    #[actix_web::test]
    async fn a_page_asks_for_one_row_more_than_it_shows_and_gives_the_cursor_of_its_last() {
        let mut tx = FakeTx::default();
        tx.leads
            .expect_list()
            .withf(|q| {
                q.limit == 3
                    && q.sort == LeadSort::CreatedAtDesc
                    && q.filter.status == [LeadStatus::Contacted]
                    && q.after.is_none()
            })
            .times(1)
            .returning(|_| Ok(vec![listed(1), listed(2), listed(3)]));
        let (status, body) = get(app(vec![tx]), "/api/v1/leads?limit=2&status=CONTACTED", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let ids: Vec<&str> = body["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [lead(1).id.to_string(), lead(2).id.to_string()]);
        assert_eq!(body["data"][0]["companyName"], lead(1).company_name);
        // The cursor continues after the last row shown (lead 2), not after the extra one.
        let cursor = body["nextCursor"].as_str().unwrap().to_owned();
        let mut next = FakeTx::default();
        next.leads
            .expect_list()
            .withf(|q| q.after.as_ref().map(|p| p.id) == Some(lead(2).id))
            .times(1)
            .returning(|_| Ok(vec![listed(3)]));
        let (status, body) =
            get(app(vec![next]), &format!("/api/v1/leads?limit=2&status=CONTACTED&cursor={cursor}"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"][0]["id"], lead(3).id.to_string());
        assert!(body["nextCursor"].is_null(), "{body}");
    }

    #[actix_web::test]
    async fn a_bad_limit_is_a_validation_problem_before_any_transaction() {
        // No transaction prepared: beginning one would answer 500 instead.
        let (status, body) = get(app(vec![]), "/api/v1/leads?limit=500", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "VALIDATION_FAILED");
        assert_eq!(body["errors"][0]["field"], "limit", "{body}");
    }

    #[actix_web::test]
    async fn no_token_or_an_unknown_one_is_401_and_reads_nothing() {
        let (status, body) = get(app(vec![]), "/api/v1/leads", None).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")));
        let (status, body) = get(app(vec![]), "/api/v1/leads", Some("lza_revoked")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")));
    }

    #[actix_web::test]
    async fn a_lead_the_tenant_cannot_see_is_404() {
        let mut tx = FakeTx::default();
        tx.leads.expect_get().times(1).returning(|_| Err(leadzone_ports::RepoError::NotFound));
        let (status, body) = get(app(vec![tx]), &format!("/api/v1/leads/{}", lead(5).id), Some(TOKEN)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")), "{body}");
    }
}
