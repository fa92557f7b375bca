//! The organisation's own settings.

use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::billing::SUPPORTED_TIMEZONES;
use leadzone_domain::entities::{AuditDetails, Tenant};
use leadzone_domain::enums::{AuditEventType, Language};
use leadzone_domain::error::Validator;
use leadzone_domain::values::{optional_text, required_text};
use serde_json::json;

/// `PATCH /tenant`. `Some(None)` clears an optional value.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub logo_url: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    /// `ar` or `en`, as sent.
    pub language: Option<Option<String>>,
    pub whatsapp_phone_id: Option<Option<String>>,
}

fn snapshot(t: &Tenant) -> serde_json::Value {
    json!({"name": t.name, "logoUrl": t.logo_url, "settings": t.settings})
}

crate::service! {
    /// The organisation's own settings.
    Tenants { ports: [uow, clock, ids] }
}

impl Tenants {
    pub async fn get_tenant(&self, ctx: &Ctx) -> Result<Tenant, AppError> {
        policy::require_active_tenant(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        Ok(tx.tenants().current().await?)
    }

    pub async fn update_tenant(&self, ctx: &Ctx, patch: TenantPatch) -> Result<Tenant, AppError> {
        policy::require(ctx, Permission::TenantManage)?;
        let mut v = Validator::new();
        let name = patch.name.as_deref().map(|n| v.check_field("name", required_text(n, 255)));
        let logo = patch.logo_url.as_ref().map(|l| v.check_field("logoUrl", optional_text(l.as_deref(), 2048)));
        let phone_id = patch
            .whatsapp_phone_id
            .as_ref()
            .map(|p| v.check_field("settings.whatsappPhoneId", optional_text(p.as_deref(), 64)));
        let language = match &patch.language {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => match raw.trim().parse::<Language>() {
                Ok(l) => Some(Some(l)),
                Err(_) => {
                    v.push("settings.language", "must be ar or en");
                    None
                }
            },
        };
        if let Some(Some(tz)) = &patch.timezone
            && !SUPPORTED_TIMEZONES.contains(&tz.as_str())
        {
            v.push("settings.timezone", format!("must be one of {}", SUPPORTED_TIMEZONES.join(", ")));
        }
        v.finish()?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let before = tx.tenants().lock_current().await?;
        let mut after = before.clone();
        if let Some(Some(name)) = name {
            after.name = name;
        }
        if let Some(Some(logo)) = logo {
            after.logo_url = logo;
        }
        if let Some(tz) = patch.timezone {
            after.settings.timezone = tz;
        }
        if let Some(lang) = language {
            after.settings.language = lang;
        }
        if let Some(Some(p)) = phone_id {
            after.settings.whatsapp_phone_id = p;
        }
        after.updated_at = self.clock.now();
        tx.tenants().update(&after).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::OrgSettingsUpdated,
                Some((leadzone_domain::enums::AuditEntityType::Tenant, ctx.tenant_id.as_uuid())),
                "organization settings updated",
                AuditDetails { before: Some(snapshot(&before)), after: Some(snapshot(&after)), metadata: None },
            ))
            .await?;
        tx.commit().await?;
        Ok(after)
    }
}
