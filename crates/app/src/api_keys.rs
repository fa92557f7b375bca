//! API keys: `lz_live_…`/`lz_test_…` secrets shown once, stored as SHA-256, restricted by scopes.

use crate::identity::{API_KEY_LIVE_PREFIX, API_KEY_TEST_PREFIX};
use crate::leads::Page;
use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::access::{Permission, api_key_permissions};
use leadzone_domain::entities::{ApiKey, AuditDetails};
use leadzone_domain::enums::{AuditEventType, Role};
use leadzone_domain::error::Validator;
use leadzone_domain::ids::ApiKeyId;
use leadzone_domain::values::required_text;
use serde_json::json;
use time::{OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, Default)]
pub struct NewApiKeyInput {
    pub label: String,
    pub scopes: Vec<String>,
    /// `live` or `test` (required).
    pub mode: String,
    /// Any offset; stored and answered in UTC.
    pub expires_at: Option<OffsetDateTime>,
}

crate::service! {
    /// API keys for scripts.
    ApiKeys { ports: [uow, tokens, clock, ids] }
}

impl ApiKeys {
    /// Creates a key; the secret is in the result only, never stored.
    pub async fn create_api_key(&self, ctx: &Ctx, input: NewApiKeyInput) -> Result<(ApiKey, String), AppError> {
        policy::require(ctx, Permission::ApiKeysManage)?;
        let now = self.clock.now();
        let mut v = Validator::new();
        let label = v.check_field("label", required_text(&input.label, 255));
        let mut scopes: Vec<Permission> = Vec::new();
        for s in &input.scopes {
            match Permission::parse(s.trim()) {
                Some(p) => scopes.push(p),
                None => v.push("scopes", format!("{s:?} is not a permission")),
            }
        }
        if scopes.iter().any(|p| !Role::Admin.has(*p)) {
            v.push("scopes", "an API key cannot hold billing:manage or tenant:delete");
        }
        let beyond_caller = scopes.iter().any(|p| Role::Admin.has(*p) && !ctx.has(*p));
        let granted = api_key_permissions(&scopes);
        let prefix = match input.mode.trim() {
            "live" => API_KEY_LIVE_PREFIX,
            "test" => API_KEY_TEST_PREFIX,
            _ => {
                v.push("mode", "must be live or test");
                API_KEY_LIVE_PREFIX
            }
        };
        // Every time the API answers is UTC, whatever offset the client wrote.
        let expires_at = input.expires_at.map(|e| e.to_offset(UtcOffset::UTC));
        if expires_at.is_some_and(|e| e <= now) {
            v.push("expiresAt", "must be in the future");
        }
        v.finish()?;
        // Nobody hands out more than they hold (an API key with api_keys:manage included).
        if beyond_caller {
            return Err(AppError::Forbidden);
        }
        let secret = self.tokens.generate_with_checksum(prefix);
        let key = ApiKey {
            id: self.ids.new_id().into(),
            tenant_id: ctx.tenant_id,
            label: label.unwrap_or_default(),
            key_prefix: prefix.to_owned(),
            key_hash: self.tokens.hash(&secret),
            scopes: granted.iter().map(|p| p.as_str().to_owned()).collect(),
            last_used_at: None,
            expires_at,
            revoked_at: None,
            created_by: ctx.user_id,
            created_at: now,
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.api_keys().insert(&key).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::ApiKeyCreated,
                Some((leadzone_domain::enums::AuditEntityType::ApiKey, key.id.as_uuid())),
                "API key created",
                AuditDetails {
                    after: Some(json!({"label": key.label, "scopes": key.scopes, "mode": prefix})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await?;
        Ok((key, secret))
    }

    /// A page of the tenant's keys, oldest first: `limit` 1–200 (default 50), `cursor` the previous
    /// page's `nextCursor` (422 when either is bad).
    pub async fn list_api_keys(
        &self,
        ctx: &Ctx,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page<ApiKey>, AppError> {
        policy::require(ctx, Permission::ApiKeysManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let keys = tx.api_keys().list().await?;
        crate::cursor::page_by_id(keys, |k| k.id.as_uuid(), limit, cursor)
    }

    /// Revokes at once: the next request with the key is 401.
    pub async fn revoke_api_key(&self, ctx: &Ctx, id: ApiKeyId) -> Result<(), AppError> {
        policy::require(ctx, Permission::ApiKeysManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let key = tx.api_keys().get(id).await?;
        if key.revoked_at.is_none() {
            tx.api_keys().revoke(id, self.clock.now()).await?;
            tx.audit()
                .append(&audit::entry(
                    &*self.ids,
                    ctx,
                    AuditEventType::ApiKeyRevoked,
                    Some((leadzone_domain::enums::AuditEntityType::ApiKey, id.as_uuid())),
                    "API key revoked",
                    AuditDetails { before: Some(json!({"label": key.label})), ..Default::default() },
                ))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
