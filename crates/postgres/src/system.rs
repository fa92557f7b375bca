//! The system path: cross-tenant lookups on a `leadzone_system` connection. Kept narrow on
//! purpose — each method is one question a flow cannot ask inside a tenant.

use crate::entities::{api_keys, invites, memberships, tenants, users};
use crate::error::db_err;
use leadzone_domain::entities::{ApiKey, Invite, Membership, Tenant, User};
use leadzone_domain::enums::TenantStatus;
use leadzone_domain::ids::{ApiKeyId, SessionId, TenantId, UserId};
use leadzone_ports::RepoError;
use leadzone_ports::system::{
    ApiKeyPrincipal, LoginFailures, NewSession, RefreshOutcome, RotatedTokens, SessionPrincipal, SystemStore,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, TransactionTrait,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgSystemStore {
    db: DatabaseConnection,
}

impl PgSystemStore {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn parse<T: FromStr>(value: &str) -> Result<T, RepoError> {
    T::from_str(value).map_err(|_| RepoError::Other(format!("stored value {value:?} is not valid")))
}

/// A session with its user's membership and tenant state.
const PRINCIPAL_SQL: &str = "SELECT s.id, s.user_id, s.tenant_id, s.access_expires_at,
        m.role, m.status AS membership_status, t.status AS tenant_status,
        (SELECT b.status FROM subscriptions b WHERE b.tenant_id = s.tenant_id) AS subscription_status
   FROM sessions s
   JOIN memberships m ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id
   JOIN tenants t ON t.id = s.tenant_id";

fn principal(row: &QueryResult) -> Result<SessionPrincipal, RepoError> {
    let get_uuid = |col: &str| row.try_get::<uuid::Uuid>("", col).map_err(db_err);
    let get_str = |col: &str| row.try_get::<String>("", col).map_err(db_err);
    let subscription_status: Option<String> = row.try_get("", "subscription_status").map_err(db_err)?;
    Ok(SessionPrincipal {
        subscription_status: subscription_status.as_deref().map(parse).transpose()?,
        session_id: get_uuid("id")?.into(),
        user_id: get_uuid("user_id")?.into(),
        tenant_id: get_uuid("tenant_id")?.into(),
        role: parse(&get_str("role")?)?,
        membership_status: parse(&get_str("membership_status")?)?,
        tenant_status: parse(&get_str("tenant_status")?)?,
        access_expires_at: row.try_get("", "access_expires_at").map_err(db_err)?,
    })
}

#[async_trait::async_trait]
impl SystemStore for PgSystemStore {
    async fn ping(&self) -> Result<(), RepoError> {
        match self.db.execute_unprepared("SELECT 1").await {
            Ok(_) => Ok(()),
            Err(e) => Err(RepoError::Unavailable(e.to_string())),
        }
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, RepoError> {
        Ok(users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(User::from))
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

    async fn create_session(&self, s: &NewSession) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "INSERT INTO sessions (id, user_id, tenant_id, access_token_hash, access_expires_at,
                                       refresh_token_hash, refresh_expires_at, ip_address, user_agent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::inet, $9)",
                vec![
                    s.id.as_uuid().into(),
                    s.user_id.as_uuid().into(),
                    s.tenant_id.as_uuid().into(),
                    s.access_token_hash.clone().into(),
                    s.access_expires_at.into(),
                    s.refresh_token_hash.clone().into(),
                    s.refresh_expires_at.into(),
                    s.ip_address.map(|ip| ip.to_string()).into(),
                    s.user_agent.clone().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn session_by_access_hash(
        &self,
        access_token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionPrincipal>, RepoError> {
        let row = self
            .db
            .query_one_raw(crate::stmt(
                &format!("{PRINCIPAL_SQL} WHERE s.access_token_hash = $1 AND s.revoked_at IS NULL AND s.access_expires_at > $2"),
                vec![access_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        row.map(|r| principal(&r)).transpose()
    }

    async fn claim_totp_step(&self, user: UserId, step: i64) -> Result<bool, RepoError> {
        let done = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE users SET totp_last_step = $2
                  WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
                vec![user.as_uuid().into(), step.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_login(&self, user: UserId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "UPDATE users SET last_login_at = $2 WHERE id = $1",
                vec![user.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        refresh_token_hash: &str,
        new: &RotatedTokens,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, RepoError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        let live = txn
            .query_one_raw(crate::stmt(
                "SELECT id FROM sessions
                  WHERE refresh_token_hash = $1 AND revoked_at IS NULL AND refresh_expires_at > $2
                  FOR UPDATE",
                vec![refresh_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        if let Some(row) = live {
            let id: uuid::Uuid = row.try_get("", "id").map_err(db_err)?;
            txn.execute_raw(crate::stmt(
                "INSERT INTO session_rotated_tokens (token_hash, session_id, rotated_at) VALUES ($1, $2, $3)",
                vec![refresh_token_hash.into(), id.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
            txn.execute_raw(crate::stmt(
                "UPDATE sessions SET access_token_hash = $2, access_expires_at = $3,
                                     refresh_token_hash = $4, refresh_expires_at = $5
                  WHERE id = $1",
                vec![
                    id.into(),
                    new.access_token_hash.clone().into(),
                    new.access_expires_at.into(),
                    new.refresh_token_hash.clone().into(),
                    new.refresh_expires_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
            let row = txn
                .query_one_raw(crate::stmt(&format!("{PRINCIPAL_SQL} WHERE s.id = $1"), vec![id.into()]))
                .await
                .map_err(db_err)?;
            txn.commit().await.map_err(db_err)?;
            return match row {
                Some(r) => Ok(RefreshOutcome::Rotated(principal(&r)?)),
                // The user is no longer a member of the session's tenant.
                None => Ok(RefreshOutcome::Invalid),
            };
        }
        // Not live: a rotated-away token presented again means it leaked; end the whole session.
        let reused = txn
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2)
                  WHERE id = (SELECT session_id FROM session_rotated_tokens WHERE token_hash = $1)",
                vec![refresh_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(if reused.rows_affected() > 0 { RefreshOutcome::Reused } else { RefreshOutcome::Invalid })
    }

    async fn revoke_session(&self, session: SessionId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                vec![session.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_tenant_sessions(
        &self,
        user: UserId,
        tenant: TenantId,
        at: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
                vec![user.as_uuid().into(), tenant.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = $3
                  WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)",
                vec![user.as_uuid().into(), keep.map(|k| k.as_uuid()).into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn login_failures(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        since: OffsetDateTime,
    ) -> Result<LoginFailures, RepoError> {
        // One pass over the email's rows in the window (idx_login_failures_email): the ceiling
        // across clients needs them all, and this client's are among them.
        let row = self
            .db
            .query_one_raw(crate::stmt(
                "SELECT count(*) FILTER (WHERE ip IS NOT DISTINCT FROM $2::inet) AS ip_n,
                        min(failed_at) FILTER (WHERE ip IS NOT DISTINCT FROM $2::inet) AS ip_oldest,
                        count(*) AS n, min(failed_at) AS oldest
                   FROM login_failures WHERE email = $1 AND failed_at > $3",
                vec![email.into(), ip.map(|ip| ip.to_string()).into(), since.into()],
            ))
            .await
            .map_err(db_err)?;
        let Some(r) = row else { return Ok(LoginFailures::default()) };
        Ok(LoginFailures {
            from_ip: r.try_get("", "ip_n").map_err(db_err)?,
            from_ip_oldest: r.try_get("", "ip_oldest").map_err(db_err)?,
            total: r.try_get("", "n").map_err(db_err)?,
            total_oldest: r.try_get("", "oldest").map_err(db_err)?,
        })
    }

    async fn record_login_failure(&self, email: &str, ip: Option<IpAddr>, at: OffsetDateTime) -> Result<(), RepoError> {
        // Old rows for this email are of no further use; prune them on the way.
        self.db
            .execute_raw(crate::stmt(
                "WITH pruned AS (DELETE FROM login_failures WHERE email = $1 AND failed_at < $3 - interval '1 day')
                 INSERT INTO login_failures (email, ip, failed_at) VALUES ($1, $2::inet, $3)",
                vec![email.into(), ip.map(|ip| ip.to_string()).into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn clear_login_failures(&self, email: &str, ip: Option<IpAddr>) -> Result<(), RepoError> {
        // Two spellings so that both can use idx_login_failures_email_ip (`IS NOT DISTINCT FROM`
        // cannot).
        let statement = match ip {
            Some(ip) => crate::stmt(
                "DELETE FROM login_failures WHERE email = $1 AND ip = $2::inet",
                vec![email.into(), ip.to_string().into()],
            ),
            None => crate::stmt("DELETE FROM login_failures WHERE email = $1 AND ip IS NULL", vec![email.into()]),
        };
        self.db.execute_raw(statement).await.map_err(db_err)?;
        Ok(())
    }

    async fn invite_by_token_hash(&self, token_hash: &str) -> Result<Option<Invite>, RepoError> {
        invites::Entity::find()
            .filter(invites::Column::Token.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(Invite::try_from)
            .transpose()
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

    async fn list_tenants(&self, after: Option<TenantId>, limit: u64) -> Result<Vec<Tenant>, RepoError> {
        let mut q = tenants::Entity::find().order_by_asc(tenants::Column::Id).limit(limit);
        if let Some(after) = after {
            q = q.filter(tenants::Column::Id.gt(after.as_uuid()));
        }
        q.all(&self.db).await.map_err(db_err)?.into_iter().map(Tenant::try_from).collect()
    }

    async fn due_subscriptions(
        &self,
        now: OffsetDateTime,
        past_due_before: OffsetDateTime,
    ) -> Result<Vec<TenantId>, RepoError> {
        let rows = self
            .db
            .query_all_raw(crate::stmt(
                "SELECT tenant_id FROM subscriptions
                  WHERE (cancel_at_period_end AND current_period_end <= $1 AND status <> 'CANCELLED')
                     OR (status = 'PAST_DUE' AND COALESCE(stripe_event_at, updated_at) < $2)",
                vec![now.into(), past_due_before.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.try_get::<uuid::Uuid>("", "tenant_id").map(Into::into).map_err(db_err)).collect()
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

    async fn due_syncs(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<(TenantId, leadzone_domain::enums::IntegrationType, leadzone_domain::ids::UserId)>, RepoError> {
        let rows = self
            .db
            .query_all_raw(crate::stmt(
                "SELECT c.tenant_id, c.type, o.user_id FROM integration_connections c
                 CROSS JOIN LATERAL (SELECT m.user_id FROM memberships m
                                     WHERE m.tenant_id = c.tenant_id AND m.role = 'OWNER' AND m.status = 'ACTIVE'
                                     ORDER BY m.created_at LIMIT 1) o
                 WHERE c.type IN ('HUBSPOT', 'SALESFORCE', 'NOTION') AND c.status = 'CONNECTED'
                   AND jsonb_typeof(c.config->'syncEveryMinutes') = 'number'
                   AND (c.last_sync_at IS NULL
                        OR c.last_sync_at + make_interval(mins => (c.config->>'syncEveryMinutes')::int) <= $1)
                 ORDER BY c.tenant_id",
                vec![now.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("", "type").map_err(db_err)?;
                Ok((
                    r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
                    kind.parse().map_err(|_| RepoError::Other(format!("integration type {kind}")))?,
                    r.try_get::<uuid::Uuid>("", "user_id").map_err(db_err)?.into(),
                ))
            })
            .collect()
    }

    async fn whatsapp_tenants(&self) -> Result<Vec<TenantId>, RepoError> {
        let rows = self
            .db
            .query_all_raw(crate::stmt(
                "SELECT tenant_id FROM integration_connections WHERE type = 'WHATSAPP' AND status = 'CONNECTED' ORDER BY tenant_id",
                vec![],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.try_get::<uuid::Uuid>("", "tenant_id").map(Into::into).map_err(db_err)).collect()
    }

    async fn active_plans(&self) -> Result<Vec<leadzone_domain::entities::Plan>, RepoError> {
        crate::identity::active_plans(&self.db).await
    }

    async fn list_flags(&self) -> Result<Vec<leadzone_domain::entities::FeatureFlag>, RepoError> {
        crate::identity::all_flags(&self.db).await
    }

    async fn insert_flag(&self, flag: &leadzone_domain::entities::FeatureFlag) -> Result<(), RepoError> {
        use sea_orm::ActiveModelTrait;
        crate::entities::feature_flags::ActiveModel::from(flag).insert(&self.db).await.map_err(db_err)?;
        Ok(())
    }

    async fn update_flag(&self, flag: &leadzone_domain::entities::FeatureFlag) -> Result<(), RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE feature_flags SET name = $2, description = $3, enabled = $4, rollout_percentage = $5, updated_at = $6
                  WHERE key = $1",
                vec![
                    flag.key.clone().into(),
                    flag.name.clone().into(),
                    flag.description.clone().into(),
                    flag.enabled.into(),
                    flag.rollout_percentage.into(),
                    flag.updated_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        if res.rows_affected() == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn flag(&self, key: &str) -> Result<Option<leadzone_domain::entities::FeatureFlag>, RepoError> {
        use crate::entities::feature_flags;
        Ok(feature_flags::Entity::find()
            .filter(feature_flags::Column::Key.eq(key))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(Into::into))
    }

    async fn set_override(&self, o: &leadzone_domain::entities::TenantFeature) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "INSERT INTO tenant_features (id, tenant_id, feature_key, enabled, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (tenant_id, feature_key) DO UPDATE SET enabled = EXCLUDED.enabled, expires_at = EXCLUDED.expires_at",
                vec![
                    o.id.as_uuid().into(),
                    o.tenant_id.as_uuid().into(),
                    o.feature_key.clone().into(),
                    o.enabled.into(),
                    o.expires_at.into(),
                    o.created_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_override(&self, tenant: TenantId, key: &str) -> Result<bool, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "DELETE FROM tenant_features WHERE tenant_id = $1 AND feature_key = $2",
                vec![tenant.as_uuid().into(), key.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected() > 0)
    }

    async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: TenantStatus,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1",
                vec![tenant.as_uuid().into(), status.as_str().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        if res.rows_affected() == 0 {
            return Err(RepoError::NotFound);
        }
        tenants::Entity::find_by_id(tenant.as_uuid())
            .one(&self.db)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
    }
}
