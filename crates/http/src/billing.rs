//! `/api/v1/plans`, `/api/v1/features`, and the platform operators' flag endpoints.

use crate::auth::{Authed, bearer};
use crate::body::{Fields, JsonBody};
use crate::dto::PageDto;
use crate::problem::ApiError;
use crate::{HttpState, path_id};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use leadzone_app::AppError;
use leadzone_app::flags::FlagInput;
use leadzone_domain::entities::{FeatureFlag, Plan};
use leadzone_domain::ids::TenantId;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn ts(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
}

fn plan_json(p: &Plan) -> Value {
    json!({
        "id": p.id.as_str(), "name": p.name, "nameAr": p.name_ar, "description": p.description,
        "priceMonthly": p.price_monthly, "priceYearly": p.price_yearly,
        "seatsLimit": p.seats_limit.to_stored(), "leadsLimit": p.leads_limit.to_stored(),
        "searchesLimit": p.searches_limit.to_stored(), "messagesLimit": p.messages_limit.to_stored(),
        "features": p.features, "isActive": p.is_active, "sortOrder": p.sort_order,
        "createdAt": ts(p.created_at), "updatedAt": ts(p.updated_at),
    })
}

fn flag_json(f: &FeatureFlag) -> Value {
    json!({
        "id": f.id, "key": f.key, "name": f.name, "description": f.description, "enabled": f.enabled,
        "rolloutPercentage": f.rollout_percentage, "createdAt": ts(f.created_at), "updatedAt": ts(f.updated_at),
    })
}

#[get("/plans")]
async fn plans(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let plans = state.app.plans().await?;
    Ok(HttpResponse::Ok().json(PageDto { data: plans.iter().map(plan_json).collect(), next_cursor: None }))
}

#[get("/features")]
async fn features(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.app.features(&ctx).await?))
}

fn flag_input(f: &mut Fields<'_>) -> FlagInput {
    FlagInput {
        key: f.opt_string("key"),
        name: f.opt_string("name"),
        description: f.patch_string("description"),
        enabled: f.opt_bool("enabled"),
        rollout_percentage: f.opt_i32("rolloutPercentage"),
    }
}

#[get("/feature-flags")]
async fn list_flags(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let flags = state.app.admin_flags().await?;
    Ok(HttpResponse::Ok().json(PageDto { data: flags.iter().map(flag_json).collect(), next_cursor: None }))
}

#[post("/feature-flags")]
async fn create_flag(
    state: web::Data<HttpState>,
    req: HttpRequest,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let mut f = Fields::new(&body);
    let input = flag_input(&mut f);
    f.finish()?;
    Ok(HttpResponse::Created().json(flag_json(&state.app.admin_create_flag(input).await?)))
}

#[patch("/feature-flags/{key}")]
async fn update_flag(
    state: web::Data<HttpState>,
    req: HttpRequest,
    key: web::Path<String>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let mut f = Fields::new(&body);
    let input = flag_input(&mut f);
    f.finish()?;
    Ok(HttpResponse::Ok().json(flag_json(&state.app.admin_update_flag(&key, input).await?)))
}

#[put("/tenants/{id}/features/{key}")]
async fn set_override(
    state: web::Data<HttpState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let (id, key) = path.into_inner();
    let tenant: TenantId = path_id(&id)?;
    let mut f = Fields::new(&body);
    let enabled = f.bool("enabled");
    let expires_at = f.opt_time("expiresAt");
    f.finish()?;
    let enabled = enabled.ok_or_else(|| AppError::field("enabled", "is required"))?;
    let o = state.app.admin_set_override(tenant, &key, enabled, expires_at).await?;
    Ok(HttpResponse::Ok().json(json!({
        "tenantId": o.tenant_id, "featureKey": o.feature_key, "enabled": o.enabled,
        "expiresAt": o.expires_at.map(ts), "createdAt": ts(o.created_at),
    })))
}

#[delete("/tenants/{id}/features/{key}")]
async fn delete_override(
    state: web::Data<HttpState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.app.authenticate_admin(bearer(&req).as_deref())?;
    let (id, key) = path.into_inner();
    state.app.admin_delete_override(path_id(&id)?, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn subscription_json(v: &leadzone_app::billing::SubscriptionView) -> Value {
    let s = &v.subscription;
    let usage_by_metric: serde_json::Map<String, Value> =
        v.usage.iter().map(|(m, used, limit)| (m.as_str().to_owned(), json!({"used": used, "limit": limit}))).collect();
    json!({
        "subscription": {
            "id": s.id, "tenantId": s.tenant_id, "planId": s.plan_id.as_str(), "status": s.status,
            "billingCycle": s.billing_cycle, "currentPeriodStart": ts(s.current_period_start),
            "currentPeriodEnd": ts(s.current_period_end), "cancelAtPeriodEnd": s.cancel_at_period_end,
            "trialEndsAt": s.trial_ends_at.map(ts), "stripeSubscriptionId": s.stripe_subscription_id,
            "createdAt": ts(s.created_at), "updatedAt": ts(s.updated_at),
        },
        "plan": plan_json(&v.plan),
        "usage": usage_by_metric,
    })
}

#[get("/billing/subscription")]
async fn subscription(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(subscription_json(&state.app.subscription(&ctx).await?)))
}

#[post("/billing/subscription/change")]
async fn change(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::new(&body);
    let (plan, cycle) = (f.string("planId"), f.opt_string("billingCycle"));
    f.finish()?;
    Ok(HttpResponse::Ok().json(subscription_json(&state.app.change_plan(&ctx, &plan, cycle.as_deref()).await?)))
}

#[post("/billing/subscription/cancel")]
async fn cancel(state: web::Data<HttpState>, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    state.app.cancel_subscription(&ctx).await?;
    Ok(HttpResponse::Ok().json(subscription_json(&state.app.subscription(&ctx).await?)))
}

#[get("/usage")]
async fn usage_counters(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
) -> Result<HttpResponse, ApiError> {
    let q = crate::query_pairs(&req)?;
    let (period, counters) = state.app.usage(&ctx, crate::query_param(&q, "period")).await?;
    let data: Vec<Value> = counters
        .iter()
        .map(|c| json!({"id": c.id, "tenantId": c.tenant_id, "metric": c.metric, "value": c.value, "period": c.period, "updatedAt": ts(c.updated_at)}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"period": period, "data": data})))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(plans).service(features).service(subscription).service(change).service(cancel).service(usage_counters);
}

pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.service(list_flags).service(create_flag).service(update_flag).service(set_override).service(delete_override);
}

/// `POST /webhooks/stripe`: raw body, verified by the app.
#[post("/stripe")]
async fn stripe(state: web::Data<HttpState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
    let outcome = state.app.stripe_webhook(signature, &body).await?;
    Ok(HttpResponse::Ok().json(json!({"received": true, "outcome": format!("{outcome:?}").to_lowercase()})))
}

pub fn configure_webhooks(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(1 << 20)).service(stripe);
}
