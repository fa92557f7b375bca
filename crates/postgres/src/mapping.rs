//! Rows ↔ domain types. Reading a row that breaks a domain rule (an unknown enum spelling, a bad
//! JSON shape) is a `RepoError::Other`: the database was written by something else.

use crate::entities::*;
use leadzone_domain::entities::*;
use leadzone_domain::ids::PlanId;
use leadzone_domain::leads::{DedupKeys, EnrichmentData};
use leadzone_ports::RepoError;
use sea_orm::ActiveValue::Set;
use std::str::FromStr;

fn parse<T: FromStr>(value: &str, what: &str) -> Result<T, RepoError> {
    T::from_str(value).map_err(|_| RepoError::Other(format!("stored {what} {value:?} is not valid")))
}

/// A stored value's text back to its type, where the column alone says what it is.
pub(crate) fn stored<T: FromStr>(value: &str) -> Result<T, RepoError> {
    T::from_str(value).map_err(|_| RepoError::Other(format!("stored value {value:?} is not valid")))
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, RepoError> {
    serde_json::from_value(value).map_err(|e| RepoError::Other(format!("stored {what} is not valid: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        User {
            id: m.id.into(),
            email: m.email,
            password_hash: m.password_hash,
            name: m.name,
            avatar_url: m.avatar_url,
            phone: m.phone,
            email_verified: m.email_verified,
            email_verified_at: m.email_verified_at,
            last_login_at: m.last_login_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            totp_secret: m.totp_secret,
            totp_enabled: m.totp_enabled,
        }
    }
}

impl From<&User> for users::ActiveModel {
    fn from(u: &User) -> Self {
        users::ActiveModel {
            id: Set(u.id.as_uuid()),
            email: Set(u.email.clone()),
            password_hash: Set(u.password_hash.clone()),
            name: Set(u.name.clone()),
            avatar_url: Set(u.avatar_url.clone()),
            phone: Set(u.phone.clone()),
            email_verified: Set(u.email_verified),
            email_verified_at: Set(u.email_verified_at),
            last_login_at: Set(u.last_login_at),
            created_at: Set(u.created_at),
            updated_at: Set(u.updated_at),
            totp_secret: Set(u.totp_secret.clone()),
            totp_enabled: Set(u.totp_enabled),
        }
    }
}

impl TryFrom<tenants::Model> for Tenant {
    type Error = RepoError;
    fn try_from(m: tenants::Model) -> Result<Self, RepoError> {
        Ok(Tenant {
            id: m.id.into(),
            name: m.name,
            slug: m.slug,
            logo_url: m.logo_url,
            status: parse(&m.status, "tenant status")?,
            settings: from_json(m.settings, "tenant settings")?,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<&Tenant> for tenants::ActiveModel {
    fn from(t: &Tenant) -> Self {
        tenants::ActiveModel {
            id: Set(t.id.as_uuid()),
            name: Set(t.name.clone()),
            slug: Set(t.slug.clone()),
            logo_url: Set(t.logo_url.clone()),
            status: Set(t.status.as_str().to_owned()),
            settings: Set(to_json(&t.settings)),
            created_at: Set(t.created_at),
            updated_at: Set(t.updated_at),
        }
    }
}

impl TryFrom<memberships::Model> for Membership {
    type Error = RepoError;
    fn try_from(m: memberships::Model) -> Result<Self, RepoError> {
        Ok(Membership {
            id: m.id.into(),
            user_id: m.user_id.into(),
            tenant_id: m.tenant_id.into(),
            role: parse(&m.role, "role")?,
            status: parse(&m.status, "membership status")?,
            manager_id: m.manager_id.map(Into::into),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<&Membership> for memberships::ActiveModel {
    fn from(m: &Membership) -> Self {
        memberships::ActiveModel {
            id: Set(m.id.as_uuid()),
            user_id: Set(m.user_id.as_uuid()),
            tenant_id: Set(m.tenant_id.as_uuid()),
            role: Set(m.role.as_str().to_owned()),
            status: Set(m.status.as_str().to_owned()),
            manager_id: Set(m.manager_id.map(|u| u.as_uuid())),
            created_at: Set(m.created_at),
            updated_at: Set(m.updated_at),
        }
    }
}

impl TryFrom<plans::Model> for Plan {
    type Error = RepoError;
    fn try_from(m: plans::Model) -> Result<Self, RepoError> {
        Ok(Plan {
            id: PlanId::new(m.id),
            name: m.name,
            name_ar: m.name_ar,
            description: m.description,
            price_monthly: i64::from(m.price_monthly),
            price_yearly: i64::from(m.price_yearly),
            seats_limit: Limit::from_stored(i64::from(m.seats_limit)),
            leads_limit: Limit::from_stored(i64::from(m.leads_limit)),
            searches_limit: Limit::from_stored(i64::from(m.searches_limit)),
            messages_limit: Limit::from_stored(i64::from(m.messages_limit)),
            features: from_json(m.features, "plan features")?,
            is_active: m.is_active,
            sort_order: m.sort_order,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl TryFrom<subscriptions::Model> for Subscription {
    type Error = RepoError;
    fn try_from(m: subscriptions::Model) -> Result<Self, RepoError> {
        Ok(Subscription {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            plan_id: PlanId::new(m.plan_id),
            status: parse(&m.status, "subscription status")?,
            billing_cycle: parse(&m.billing_cycle, "billing cycle")?,
            current_period_start: m.current_period_start,
            current_period_end: m.current_period_end,
            cancel_at_period_end: m.cancel_at_period_end,
            trial_ends_at: m.trial_ends_at,
            stripe_subscription_id: m.stripe_subscription_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            stripe_event_at: m.stripe_event_at,
        })
    }
}

impl From<&Subscription> for subscriptions::ActiveModel {
    fn from(s: &Subscription) -> Self {
        subscriptions::ActiveModel {
            id: Set(s.id.as_uuid()),
            tenant_id: Set(s.tenant_id.as_uuid()),
            plan_id: Set(s.plan_id.as_str().to_owned()),
            status: Set(s.status.as_str().to_owned()),
            billing_cycle: Set(s.billing_cycle.as_str().to_owned()),
            current_period_start: Set(s.current_period_start),
            current_period_end: Set(s.current_period_end),
            cancel_at_period_end: Set(s.cancel_at_period_end),
            trial_ends_at: Set(s.trial_ends_at),
            stripe_subscription_id: Set(s.stripe_subscription_id.clone()),
            created_at: Set(s.created_at),
            updated_at: Set(s.updated_at),
            stripe_event_at: Set(s.stripe_event_at),
        }
    }
}

impl TryFrom<leads::Model> for Lead {
    type Error = RepoError;
    fn try_from(m: leads::Model) -> Result<Self, RepoError> {
        let enrichment_data: EnrichmentData = from_json(m.enrichment_data, "enrichment data")?;
        Ok(Lead {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            company_name: m.company_name,
            industry: m.industry,
            city: m.city,
            phone: m.phone,
            email: m.email,
            website: m.website,
            status: parse(&m.status, "lead status")?,
            score: m.score,
            tags: m.tags,
            enrichment_data,
            list_id: m.list_id.map(Into::into),
            assigned_to: m.assigned_to.map(Into::into),
            created_by: m.created_by.into(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_contacted_at: m.last_contacted_at,
        })
    }
}

/// A lead row with its duplicate-detection keys.
pub(crate) fn lead_active_model(l: &Lead, keys: &DedupKeys) -> leads::ActiveModel {
    leads::ActiveModel {
        id: Set(l.id.as_uuid()),
        tenant_id: Set(l.tenant_id.as_uuid()),
        company_name: Set(l.company_name.clone()),
        industry: Set(l.industry.clone()),
        city: Set(l.city.clone()),
        phone: Set(l.phone.clone()),
        email: Set(l.email.clone()),
        website: Set(l.website.clone()),
        status: Set(l.status.as_str().to_owned()),
        score: Set(l.score),
        tags: Set(l.tags.clone()),
        enrichment_data: Set(to_json(&l.enrichment_data)),
        list_id: Set(l.list_id.map(|x| x.as_uuid())),
        assigned_to: Set(l.assigned_to.map(|x| x.as_uuid())),
        created_by: Set(l.created_by.as_uuid()),
        created_at: Set(l.created_at),
        updated_at: Set(l.updated_at),
        last_contacted_at: Set(l.last_contacted_at),
        website_host: Set(keys.website_host.clone()),
        name_key: Set(keys.name_key.clone()),
        city_key: Set(keys.city_key.clone()),
        // Written only by discovery: an update without one keeps the stored place id.
        place_id: keys.place_id.clone().map_or(sea_orm::ActiveValue::NotSet, |p| Set(Some(p))),
        search_text: Set(leadzone_domain::leads::search_text(&l.company_name, l.industry.as_deref())),
    }
}

impl From<&List> for lists::ActiveModel {
    fn from(l: &List) -> Self {
        lists::ActiveModel {
            id: Set(l.id.as_uuid()),
            tenant_id: Set(l.tenant_id.as_uuid()),
            name: Set(l.name.clone()),
            description: Set(l.description.clone()),
            color: Set(l.color.clone()),
            is_smart: Set(l.is_smart),
            smart_filters: Set(l.smart_filters.as_ref().map(to_json)),
            created_by: Set(l.created_by.as_uuid()),
            created_at: Set(l.created_at),
            updated_at: Set(l.updated_at),
        }
    }
}

impl TryFrom<activities::Model> for Activity {
    type Error = RepoError;
    fn try_from(m: activities::Model) -> Result<Self, RepoError> {
        Ok(Activity {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            lead_id: m.lead_id.into(),
            kind: parse(&m.kind, "activity type")?,
            description: m.description,
            metadata: m.metadata,
            user_id: m.user_id.into(),
            created_at: m.created_at,
        })
    }
}

impl TryFrom<evidence::Model> for Evidence {
    type Error = RepoError;
    fn try_from(m: evidence::Model) -> Result<Self, RepoError> {
        Ok(Evidence {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            lead_id: m.lead_id.into(),
            kind: parse(&m.kind, "evidence type")?,
            title: m.title,
            source: m.source,
            url: m.url,
            snippet: m.snippet,
            raw_data: m.raw_data,
            confidence: parse(&m.confidence, "confidence")?,
            created_at: m.created_at,
        })
    }
}

impl From<&Evidence> for evidence::ActiveModel {
    fn from(e: &Evidence) -> Self {
        evidence::ActiveModel {
            id: Set(e.id.as_uuid()),
            tenant_id: Set(e.tenant_id.as_uuid()),
            lead_id: Set(e.lead_id.as_uuid()),
            kind: Set(e.kind.as_str().to_owned()),
            title: Set(e.title.clone()),
            source: Set(e.source.clone()),
            url: Set(e.url.clone()),
            snippet: Set(e.snippet.clone()),
            raw_data: Set(e.raw_data.clone()),
            confidence: Set(e.confidence.as_str().to_owned()),
            created_at: Set(e.created_at),
        }
    }
}

impl TryFrom<lists::Model> for List {
    type Error = RepoError;
    fn try_from(m: lists::Model) -> Result<Self, RepoError> {
        Ok(List {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            name: m.name,
            description: m.description,
            color: m.color,
            is_smart: m.is_smart,
            smart_filters: m.smart_filters.map(|j| from_json(j, "smart filters")).transpose()?,
            created_by: m.created_by.into(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<&Activity> for activities::ActiveModel {
    fn from(a: &Activity) -> Self {
        activities::ActiveModel {
            id: Set(a.id.as_uuid()),
            tenant_id: Set(a.tenant_id.as_uuid()),
            lead_id: Set(a.lead_id.as_uuid()),
            kind: Set(a.kind.as_str().to_owned()),
            description: Set(a.description.clone()),
            metadata: Set(a.metadata.clone()),
            user_id: Set(a.user_id.as_uuid()),
            created_at: Set(a.created_at),
        }
    }
}

impl TryFrom<invites::Model> for Invite {
    type Error = RepoError;
    fn try_from(m: invites::Model) -> Result<Self, RepoError> {
        Ok(Invite {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            email: m.email,
            role: parse(&m.role, "invite role")?,
            token_hash: m.token,
            invited_by: m.invited_by.into(),
            status: parse(&m.status, "invite status")?,
            expires_at: m.expires_at,
            accepted_at: m.accepted_at,
            created_at: m.created_at,
        })
    }
}

impl From<&Invite> for invites::ActiveModel {
    fn from(i: &Invite) -> Self {
        invites::ActiveModel {
            id: Set(i.id.as_uuid()),
            tenant_id: Set(i.tenant_id.as_uuid()),
            email: Set(i.email.clone()),
            role: Set(i.role.as_str().to_owned()),
            token: Set(i.token_hash.clone()),
            invited_by: Set(i.invited_by.as_uuid()),
            status: Set(i.status.as_str().to_owned()),
            expires_at: Set(i.expires_at),
            accepted_at: Set(i.accepted_at),
            created_at: Set(i.created_at),
        }
    }
}

impl From<api_keys::Model> for ApiKey {
    fn from(m: api_keys::Model) -> Self {
        ApiKey {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            label: m.label,
            key_prefix: m.key_prefix,
            key_hash: m.key_hash,
            scopes: m.scopes,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            created_by: m.created_by.into(),
            created_at: m.created_at,
        }
    }
}

impl From<&ApiKey> for api_keys::ActiveModel {
    fn from(k: &ApiKey) -> Self {
        api_keys::ActiveModel {
            id: Set(k.id.as_uuid()),
            tenant_id: Set(k.tenant_id.as_uuid()),
            label: Set(k.label.clone()),
            key_prefix: Set(k.key_prefix.clone()),
            key_hash: Set(k.key_hash.clone()),
            scopes: Set(k.scopes.clone()),
            last_used_at: Set(k.last_used_at),
            expires_at: Set(k.expires_at),
            revoked_at: Set(k.revoked_at),
            created_by: Set(k.created_by.as_uuid()),
            created_at: Set(k.created_at),
        }
    }
}

impl TryFrom<jobs::Model> for Job {
    type Error = RepoError;
    fn try_from(m: jobs::Model) -> Result<Self, RepoError> {
        Ok(Job {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            kind: parse(&m.kind, "job type")?,
            status: parse(&m.status, "job status")?,
            progress: m.progress,
            message: m.message,
            entity_type: m.entity_type.as_deref().map(|e| parse(e, "job entity type")).transpose()?,
            entity_id: m.entity_id,
            input: m.input,
            result: m.result,
            error: m.error.map(|e| from_json(e, "job error")).transpose()?,
            created_by: m.created_by.into(),
            created_at: m.created_at,
            started_at: m.started_at,
            completed_at: m.completed_at,
            attempts: m.attempts,
            max_attempts: m.max_attempts,
            run_at: m.run_at,
            priority: m.priority,
            cancel_requested: m.cancel_requested,
        })
    }
}

impl TryFrom<job_logs::Model> for JobLog {
    type Error = RepoError;
    fn try_from(m: job_logs::Model) -> Result<Self, RepoError> {
        Ok(JobLog {
            id: m.id.into(),
            job_id: m.job_id.into(),
            level: parse(&m.level, "log level")?,
            message: m.message,
            data: m.data,
            created_at: m.created_at,
        })
    }
}

impl From<feature_flags::Model> for FeatureFlag {
    fn from(m: feature_flags::Model) -> Self {
        FeatureFlag {
            id: m.id.into(),
            key: m.key,
            name: m.name,
            description: m.description,
            enabled: m.enabled,
            rollout_percentage: m.rollout_percentage,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<&FeatureFlag> for feature_flags::ActiveModel {
    fn from(f: &FeatureFlag) -> Self {
        feature_flags::ActiveModel {
            id: Set(f.id.as_uuid()),
            key: Set(f.key.clone()),
            name: Set(f.name.clone()),
            description: Set(f.description.clone()),
            enabled: Set(f.enabled),
            rollout_percentage: Set(f.rollout_percentage),
            created_at: Set(f.created_at),
            updated_at: Set(f.updated_at),
        }
    }
}

impl From<tenant_features::Model> for TenantFeature {
    fn from(m: tenant_features::Model) -> Self {
        TenantFeature {
            id: m.id.into(),
            tenant_id: m.tenant_id.into(),
            feature_key: m.feature_key,
            enabled: m.enabled,
            expires_at: m.expires_at,
            created_at: m.created_at,
        }
    }
}
