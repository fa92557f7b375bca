//! Plans and feature flags: what a tenant may use. The evaluation itself is the domain's
//! (`leadzone_domain::flags`); this module gathers its inputs and guards gated use cases.

use crate::{AppError, Ctx, policy};
use leadzone_domain::entities::{FeatureFlag, Plan, TenantFeature};
use leadzone_domain::error::Validator;
use leadzone_domain::flags::is_enabled;
use leadzone_domain::ids::TenantId;
use leadzone_ports::tx::TenantTx;
use std::collections::BTreeMap;
use time::{OffsetDateTime, UtcOffset};

/// `POST /admin/v1/feature-flags` and `PATCH …/{key}`; `None` leaves a field.
#[derive(Debug, Clone, Default)]
pub struct FlagInput {
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub rollout_percentage: Option<i32>,
}

fn valid_key(key: &str) -> bool {
    (1..=100).contains(&key.len()) && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

crate::service! {
    /// Feature flags, plans and per-tenant overrides.
    Flags { ports: [uow, platform, clock, ids] }
}

impl Flags {
    /// Every feature the tenant could have, with whether it has it now.
    async fn evaluate(
        &self,
        tx: &dyn TenantTx,
        tenant: TenantId,
        only: Option<&str>,
    ) -> Result<BTreeMap<String, bool>, AppError> {
        let (_, plan) = tx.subscriptions().current_with_plan().await?;
        let flags = tx.features().flags().await?;
        let overrides = tx.features().overrides().await?;
        let mut keys: Vec<String> = tx.features().plans().await?.into_iter().flat_map(|p| p.features).collect();
        keys.extend(flags.iter().map(|f| f.key.clone()));
        keys.extend(overrides.iter().map(|o| o.feature_key.clone()));
        if let Some(k) = only {
            keys = vec![k.to_owned()];
        }
        let now = self.clock.now();
        Ok(keys
            .into_iter()
            .map(|k| {
                let o = overrides.iter().find(|o| o.feature_key == k);
                let f = flags.iter().find(|f| f.key == k);
                let on = is_enabled(&k, tenant, now, o, &plan.features, f);
                (k, on)
            })
            .collect())
    }

    /// `GET /features`.
    pub async fn features(&self, ctx: &Ctx) -> Result<BTreeMap<String, bool>, AppError> {
        policy::require_active_tenant(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        self.evaluate(&*tx, ctx.tenant_id, None).await
    }

    /// The guard gated use cases call: 403 `FEATURE_DISABLED` unless the tenant has `key`.
    pub async fn require_feature(&self, ctx: &Ctx, key: &str) -> Result<(), AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let on = self.evaluate(&*tx, ctx.tenant_id, Some(key)).await?.get(key).copied().unwrap_or(false);
        if on { Ok(()) } else { Err(AppError::FeatureDisabled(key.to_owned())) }
    }

    /// `GET /plans` (public).
    pub async fn plans(&self) -> Result<Vec<Plan>, AppError> {
        Ok(self.platform.active_plans().await?)
    }

    pub async fn admin_flags(&self) -> Result<Vec<FeatureFlag>, AppError> {
        Ok(self.platform.list_flags().await?)
    }

    pub async fn admin_create_flag(&self, input: FlagInput) -> Result<FeatureFlag, AppError> {
        let mut v = Validator::new();
        let key = input.key.clone().unwrap_or_default();
        if !valid_key(&key) {
            v.push("key", "must be 1–100 lowercase letters, digits or underscores");
        }
        let name = input.name.clone().unwrap_or_else(|| key.clone());
        let pct = input.rollout_percentage.unwrap_or(0);
        if !(0..=100).contains(&pct) {
            v.push("rolloutPercentage", "must be 0–100");
        }
        v.finish()?;
        let now = self.clock.now();
        let flag = FeatureFlag {
            id: self.ids.new_id().into(),
            key,
            name,
            description: input.description.flatten(),
            enabled: input.enabled.unwrap_or(false),
            rollout_percentage: pct,
            created_at: now,
            updated_at: now,
        };
        self.platform.insert_flag(&flag).await.map_err(|e| match e {
            leadzone_ports::RepoError::Conflict(_) => AppError::Conflict(crate::error::ConflictKind::FlagExists),
            other => other.into(),
        })?;
        Ok(flag)
    }

    pub async fn admin_update_flag(&self, key: &str, input: FlagInput) -> Result<FeatureFlag, AppError> {
        let mut flag = self.platform.flag(key).await?.ok_or(AppError::NotFound)?;
        if let Some(p) = input.rollout_percentage {
            if !(0..=100).contains(&p) {
                return Err(AppError::field("rolloutPercentage", "must be 0–100"));
            }
            flag.rollout_percentage = p;
        }
        if let Some(n) = input.name {
            flag.name = n;
        }
        if let Some(d) = input.description {
            flag.description = d;
        }
        if let Some(e) = input.enabled {
            flag.enabled = e;
        }
        flag.updated_at = self.clock.now();
        self.platform.update_flag(&flag).await?;
        Ok(flag)
    }

    pub async fn admin_set_override(
        &self,
        tenant: TenantId,
        key: &str,
        enabled: bool,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<TenantFeature, AppError> {
        if !valid_key(key) {
            return Err(AppError::NotFound);
        }
        let now = self.clock.now();
        let o = TenantFeature {
            id: self.ids.new_id().into(),
            tenant_id: tenant,
            feature_key: key.to_owned(),
            enabled,
            // Answered as given: UTC, whatever offset the operator wrote.
            expires_at: expires_at.map(|e| e.to_offset(UtcOffset::UTC)),
            created_at: now,
        };
        self.platform.set_override(&o).await?;
        Ok(o)
    }

    pub async fn admin_delete_override(&self, tenant: TenantId, key: &str) -> Result<(), AppError> {
        if self.platform.delete_override(tenant, key).await? { Ok(()) } else { Err(AppError::NotFound) }
    }
}
