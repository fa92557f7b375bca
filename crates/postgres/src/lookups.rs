//! Cross-tenant look-ups (a credential or an outside id to its owner) on a `leadzone_system`
//! connection. Kept narrow on purpose: each method is one question a flow cannot ask inside a tenant.

use crate::entities::{api_keys, invites, memberships, tenants, users};
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::mapping::stored as parse;
use leadzone_domain::entities::{ApiKey, Invite, Membership, Tenant, User};
use leadzone_domain::ids::{ApiKeyId, TenantId, UserId};
use leadzone_ports::RepoError;
use leadzone_ports::lookups::{ApiKeyPrincipal, Lookups};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use std::collections::HashMap;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgLookups {
    db: DatabaseConnection,
}

impl PgLookups {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl Lookups for PgLookups {
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, RepoError> {
        users::Entity::find().filter(users::Column::Email.eq(email)).maybe(&self.db).await
    }

    async fn slug_taken(&self, slug: &str) -> Result<bool, RepoError> {
        let n = tenants::Entity::find().filter(tenants::Column::Slug.eq(slug)).count(&self.db).await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<(Membership, Tenant)>, RepoError> {
        let rows = memberships::Entity::find()
            .filter(memberships::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(memberships::Column::CreatedAt)
            .order_by_asc(memberships::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let tenant_ids: Vec<uuid::Uuid> = rows.iter().map(|m| m.tenant_id).collect();
        let mut tenants: HashMap<uuid::Uuid, tenants::Model> = tenants::Entity::find()
            .filter(tenants::Column::Id.is_in(tenant_ids))
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        rows.into_iter()
            .filter_map(|m| tenants.remove(&m.tenant_id).map(|t| (m, t)))
            .map(|(m, t)| Ok((Membership::try_from(m)?, Tenant::try_from(t)?)))
            .collect()
    }

    async fn invite_by_token_hash(&self, token_hash: &str) -> Result<Option<Invite>, RepoError> {
        invites::Entity::find().filter(invites::Column::Token.eq(token_hash)).maybe(&self.db).await
    }

    async fn api_key_by_hash(&self, key_hash: &str, now: OffsetDateTime) -> Result<Option<ApiKeyPrincipal>, RepoError> {
        // One round trip on every API-key request: the key, its tenant's state, its creator's
        // active role and the subscription status.
        let row = self
            .db
            .query_one_raw(crate::stmt(
                "SELECT k.*, t.status AS tenant_status,
                        (SELECT m.role FROM memberships m
                          WHERE m.tenant_id = k.tenant_id AND m.user_id = k.created_by AND m.status = 'ACTIVE')
                          AS creator_role,
                        (SELECT b.status FROM subscriptions b WHERE b.tenant_id = k.tenant_id) AS subscription_status
                   FROM api_keys k
                   JOIN tenants t ON t.id = k.tenant_id
                  WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)",
                vec![key_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let key = api_keys::Model::from_query_result(&row, "").map_err(db_err)?;
        let text = |col: &str| row.try_get::<Option<String>>("", col).map_err(db_err);
        Ok(Some(ApiKeyPrincipal {
            subscription_status: text("subscription_status")?.as_deref().map(parse).transpose()?,
            key: ApiKey::from(key),
            tenant_status: parse(&row.try_get::<String>("", "tenant_status").map_err(db_err)?)?,
            creator_role: text("creator_role")?.as_deref().map(parse).transpose()?,
        }))
    }

    async fn touch_api_key(&self, key: ApiKeyId, now: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "UPDATE api_keys SET last_used_at = $2
                  WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - interval '1 minute')",
                vec![key.as_uuid().into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn tenant_by_stripe_subscription(&self, stripe_id: &str) -> Result<Option<TenantId>, RepoError> {
        let row = self
            .db
            .query_one_raw(crate::stmt(
                "SELECT tenant_id FROM subscriptions WHERE stripe_subscription_id = $1",
                vec![stripe_id.into()],
            ))
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<uuid::Uuid>("", "tenant_id").map(Into::into).map_err(db_err)).transpose()
    }

    async fn tenant_by_whatsapp_number(&self, phone_number_id: &str) -> Result<Option<TenantId>, RepoError> {
        let row = self
            .db
            .query_one_raw(crate::stmt(
                "SELECT tenant_id FROM integration_connections
                 WHERE type = 'WHATSAPP' AND config->>'phoneNumberId' = $1",
                vec![phone_number_id.into()],
            ))
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get::<uuid::Uuid>("", "tenant_id").map(Into::into).map_err(db_err)).transpose()
    }
}
