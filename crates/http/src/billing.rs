//! `/api/v1/plans`, `/api/v1/features`, billing and usage, the platform operators' flag endpoints
//! and the Stripe webhook.

use crate::admin::Admin;
use crate::api_keys::rfc3339;
use crate::auth::Authed;
use crate::dto::PageDto;
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::{Json, Patch, check_query};
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use leadzone_app::flags::FlagInput;
use leadzone_domain::entities::{FeatureFlag, Plan, Subscription, TenantFeature, UsageCounter};
use leadzone_domain::enums::{BillingCycle, SubscriptionStatus, UsageMetric};
use leadzone_domain::ids::TenantId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A plan (data-model.md `Plan`); limits are `-1` for unlimited, prices in halalas.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanDto {
    /// `free`, `starter`, `pro`, `enterprise`.
    id: String,
    name: String,
    name_ar: String,
    description: Option<String>,
    price_monthly: i64,
    price_yearly: i64,
    seats_limit: i64,
    leads_limit: i64,
    searches_limit: i64,
    messages_limit: i64,
    /// Feature keys the plan includes.
    features: Vec<String>,
    is_active: bool,
    sort_order: i32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Plan> for PlanDto {
    fn from(p: &Plan) -> Self {
        Self {
            id: p.id.as_str().to_owned(),
            name: p.name.clone(),
            name_ar: p.name_ar.clone(),
            description: p.description.clone(),
            price_monthly: p.price_monthly,
            price_yearly: p.price_yearly,
            seats_limit: p.seats_limit.to_stored(),
            leads_limit: p.leads_limit.to_stored(),
            searches_limit: p.searches_limit.to_stored(),
            messages_limit: p.messages_limit.to_stored(),
            features: p.features.clone(),
            is_active: p.is_active,
            sort_order: p.sort_order,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A global feature flag.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureFlagDto {
    id: Uuid,
    key: String,
    name: String,
    description: Option<String>,
    enabled: bool,
    #[schema(minimum = 0, maximum = 100)]
    rollout_percentage: i32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&FeatureFlag> for FeatureFlagDto {
    fn from(f: &FeatureFlag) -> Self {
        Self {
            id: f.id.as_uuid(),
            key: f.key.clone(),
            name: f.name.clone(),
            description: f.description.clone(),
            enabled: f.enabled,
            rollout_percentage: f.rollout_percentage,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// A tenant's override of one feature.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureOverrideDto {
    tenant_id: Uuid,
    feature_key: String,
    enabled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&TenantFeature> for FeatureOverrideDto {
    fn from(o: &TenantFeature) -> Self {
        Self {
            tenant_id: o.tenant_id.as_uuid(),
            feature_key: o.feature_key.clone(),
            enabled: o.enabled,
            expires_at: o.expires_at,
            created_at: o.created_at,
        }
    }
}

#[utoipa::path(
    tag = "billing",
    responses((status = 200, description = "The active plans by `sortOrder`", body = PageDto<PlanDto>))
)]
#[get("/plans")]
async fn plans(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let plans = state.app.flags.plans().await?;
    Ok(HttpResponse::Ok().json(PageDto::<PlanDto>::all(&plans)))
}

#[utoipa::path(
    tag = "billing",
    security(("bearer" = [])),
    responses((
        status = 200,
        description = "`{\"<key>\": true|false, …}`: every feature and whether the tenant has it now",
        body = BTreeMap<String, bool>
    ))
)]
#[get("/features")]
async fn features(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.app.flags.features(&ctx).await?))
}

#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, description = "Every global feature flag", body = PageDto<FeatureFlagDto>))
)]
#[get("/feature-flags")]
async fn list_flags(state: web::Data<HttpState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let flags = state.app.flags.admin_flags().await?;
    Ok(HttpResponse::Ok().json(PageDto::<FeatureFlagDto>::all(&flags)))
}

/// `POST /admin/v1/feature-flags`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewFlagBody {
    /// 1–100 lowercase letters, digits or underscores; unique.
    #[schema(pattern = "^[a-z0-9_]{1,100}$")]
    key: String,
    /// Defaults to the key.
    name: Option<String>,
    description: Option<String>,
    /// Defaults to `false`.
    enabled: Option<bool>,
    /// The share of tenants (by their stable bucket) that get the flag; defaults to 0.
    #[schema(minimum = 0, maximum = 100)]
    rollout_percentage: Option<i32>,
}

#[utoipa::path(
    tag = "admin",
    request_body = NewFlagBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new flag", body = FeatureFlagDto))
)]
#[post("/feature-flags")]
async fn create_flag(
    state: web::Data<HttpState>,
    _admin: Admin,
    Json(body): Json<NewFlagBody>,
) -> Result<HttpResponse, ApiError> {
    let input = FlagInput {
        key: Some(body.key),
        name: body.name,
        description: Some(body.description),
        enabled: body.enabled,
        rollout_percentage: body.rollout_percentage,
    };
    Ok(HttpResponse::Created().json(FeatureFlagDto::from(&state.app.flags.admin_create_flag(input).await?)))
}

/// `PATCH /admin/v1/feature-flags/{key}`: absent fields stay; `description: null` clears it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagPatchBody {
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    description: Patch<String>,
    enabled: Option<bool>,
    #[schema(minimum = 0, maximum = 100)]
    rollout_percentage: Option<i32>,
}

#[utoipa::path(
    tag = "admin",
    params(("key" = String, Path, description = "The flag's key")),
    request_body = FlagPatchBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The updated flag", body = FeatureFlagDto))
)]
#[patch("/feature-flags/{key}")]
async fn update_flag(
    state: web::Data<HttpState>,
    _admin: Admin,
    key: web::Path<String>,
    Json(body): Json<FlagPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let input = FlagInput {
        key: None,
        name: body.name,
        description: body.description.into_option(),
        enabled: body.enabled,
        rollout_percentage: body.rollout_percentage,
    };
    Ok(HttpResponse::Ok().json(FeatureFlagDto::from(&state.app.flags.admin_update_flag(&key, input).await?)))
}

/// `PUT /admin/v1/tenants/{id}/features/{key}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverrideBody {
    enabled: bool,
    /// After this time the override is ignored; never when absent. Answered in UTC.
    #[schema(value_type = Option<OffsetDateTime>)]
    expires_at: Option<String>,
}

#[utoipa::path(
    tag = "admin",
    params(
        ("id" = Uuid, Path, description = "The tenant's id"),
        ("key" = String, Path, description = "The feature's key")
    ),
    request_body = OverrideBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The tenant's override", body = FeatureOverrideDto))
)]
#[put("/tenants/{id}/features/{key}")]
async fn set_override(
    state: web::Data<HttpState>,
    _admin: Admin,
    path: web::Path<(String, String)>,
    Json(body): Json<OverrideBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let tenant: TenantId = path_id(&id)?;
    let expires_at = rfc3339("expiresAt", body.expires_at)?;
    let o = state.app.flags.admin_set_override(tenant, &key, body.enabled, expires_at).await?;
    Ok(HttpResponse::Ok().json(FeatureOverrideDto::from(&o)))
}

#[utoipa::path(
    tag = "admin",
    params(
        ("id" = Uuid, Path, description = "The tenant's id"),
        ("key" = String, Path, description = "The feature's key")
    ),
    security(("bearer" = [])),
    responses((status = 204, description = "The override is gone"))
)]
#[delete("/tenants/{id}/features/{key}")]
async fn delete_override(
    state: web::Data<HttpState>,
    _admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    state.app.flags.admin_delete_override(path_id(&id)?, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A tenant's subscription (data-model.md `Subscription`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDto {
    id: Uuid,
    tenant_id: Uuid,
    plan_id: String,
    #[schema(value_type = enums::SubscriptionStatus)]
    status: SubscriptionStatus,
    #[schema(value_type = enums::BillingCycle)]
    billing_cycle: BillingCycle,
    #[serde(with = "time::serde::rfc3339")]
    current_period_start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    current_period_end: OffsetDateTime,
    cancel_at_period_end: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    trial_ends_at: Option<OffsetDateTime>,
    stripe_subscription_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Subscription> for SubscriptionDto {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id.as_uuid(),
            tenant_id: s.tenant_id.as_uuid(),
            plan_id: s.plan_id.as_str().to_owned(),
            status: s.status,
            billing_cycle: s.billing_cycle,
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            trial_ends_at: s.trial_ends_at,
            stripe_subscription_id: s.stripe_subscription_id.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// This period's use of one metric against the plan's limit (`-1` = unlimited).
#[derive(Serialize, ToSchema)]
pub struct UsedDto {
    used: i64,
    limit: i64,
}

/// Use of every metric this period.
#[derive(Serialize, ToSchema)]
pub struct UsageDto {
    /// Active members plus pending invites.
    seats: UsedDto,
    leads: UsedDto,
    searches: UsedDto,
    messages: UsedDto,
}

/// `GET /billing/subscription`.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionViewDto {
    subscription: SubscriptionDto,
    plan: PlanDto,
    usage: UsageDto,
}

impl From<&leadzone_app::billing::SubscriptionView> for SubscriptionViewDto {
    fn from(v: &leadzone_app::billing::SubscriptionView) -> Self {
        let of = |m: UsageMetric| {
            v.usage.iter().find(|(metric, ..)| *metric == m).map_or(
                UsedDto { used: 0, limit: v.plan.limit(m).to_stored() },
                |&(_, used, limit)| UsedDto { used, limit },
            )
        };
        Self {
            subscription: SubscriptionDto::from(&v.subscription),
            plan: PlanDto::from(&v.plan),
            usage: UsageDto {
                seats: of(UsageMetric::Seats),
                leads: of(UsageMetric::Leads),
                searches: of(UsageMetric::Searches),
                messages: of(UsageMetric::Messages),
            },
        }
    }
}

#[utoipa::path(
    tag = "billing",
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription, its plan and this period's use", body = SubscriptionViewDto))
)]
#[get("/billing/subscription")]
async fn subscription(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(SubscriptionViewDto::from(&state.app.billing.subscription(&ctx).await?)))
}

/// `POST /billing/subscription/change`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePlanBody {
    /// An active plan's id.
    plan_id: String,
    /// Defaults to `MONTHLY`.
    #[schema(value_type = Option<enums::BillingCycle>)]
    billing_cycle: Option<String>,
}

#[utoipa::path(
    tag = "billing",
    request_body = ChangePlanBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription on its new plan", body = SubscriptionViewDto))
)]
#[post("/billing/subscription/change")]
async fn change(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    Json(body): Json<ChangePlanBody>,
) -> Result<HttpResponse, ApiError> {
    let view = state.app.billing.change_plan(&ctx, &body.plan_id, body.billing_cycle.as_deref()).await?;
    Ok(HttpResponse::Ok().json(SubscriptionViewDto::from(&view)))
}

#[utoipa::path(
    tag = "billing",
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription, now cancelled at the period's end", body = SubscriptionViewDto))
)]
#[post("/billing/subscription/cancel")]
async fn cancel(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    state.app.billing.cancel_subscription(&ctx).await?;
    Ok(HttpResponse::Ok().json(SubscriptionViewDto::from(&state.app.billing.subscription(&ctx).await?)))
}

/// `?period=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UsageQuery {
    /// `YYYY-MM`; this month in the tenant's time zone when absent.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    period: Option<String>,
}

/// One usage counter.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageCounterDto {
    id: Uuid,
    tenant_id: Uuid,
    #[schema(value_type = enums::UsageMetric)]
    metric: UsageMetric,
    value: i64,
    /// `YYYY-MM`.
    period: String,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&UsageCounter> for UsageCounterDto {
    fn from(c: &UsageCounter) -> Self {
        Self {
            id: c.id.as_uuid(),
            tenant_id: c.tenant_id.as_uuid(),
            metric: c.metric,
            value: c.value,
            period: c.period.clone(),
            updated_at: c.updated_at,
        }
    }
}

/// `GET /usage`.
#[derive(Serialize, ToSchema)]
pub struct UsagePeriodDto {
    /// `YYYY-MM`.
    period: String,
    data: Vec<UsageCounterDto>,
}

#[utoipa::path(
    tag = "billing",
    params(UsageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The tenant's usage counters of the period", body = UsagePeriodDto))
)]
#[get("/usage")]
async fn usage_counters(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
    check_query::<UsageQuery>(&q)?;
    let (period, counters) = state.app.billing.usage(&ctx, query_param(&q, "period")).await?;
    Ok(HttpResponse::Ok().json(UsagePeriodDto { period, data: counters.iter().map(UsageCounterDto::from).collect() }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(plans).service(features).service(subscription).service(change).service(cancel).service(usage_counters);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_flags).service(create_flag).service(update_flag).service(set_override).service(delete_override);
}

/// `200` of `POST /webhooks/stripe`.
#[derive(Serialize, ToSchema)]
pub struct WebhookReceiptDto {
    received: bool,
    /// `applied`, `replayed` (the event id was seen before) or `ignored`.
    #[schema(pattern = "^(applied|replayed|ignored)$")]
    outcome: String,
}

/// `POST /webhooks/stripe`: the raw body, verified by the app against `Stripe-Signature`.
#[utoipa::path(
    tag = "billing",
    params(("Stripe-Signature" = String, Header, description = "`t=…,v1=…`: HMAC-SHA256 of `t.payload`, 5-minute tolerance")),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event, read as raw bytes for the signature"),
    responses((status = 200, description = "The event was accepted", body = WebhookReceiptDto))
)]
#[post("/stripe")]
async fn stripe(state: web::Data<HttpState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
    let outcome = state.app.billing.stripe_webhook(signature, &body).await?;
    Ok(HttpResponse::Ok().json(WebhookReceiptDto { received: true, outcome: format!("{outcome:?}").to_lowercase() }))
}

pub fn configure_webhooks(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(1 << 20)).service(stripe);
}
