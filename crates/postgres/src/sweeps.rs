//! The worker's sweeps (what is due, across tenants) on a `leadzone_system` connection.

use crate::error::db_err;
use leadzone_domain::ids::TenantId;
use leadzone_ports::RepoError;
use leadzone_ports::sweeps::Sweeps;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgSweeps {
    db: DatabaseConnection,
}

impl PgSweeps {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl Sweeps for PgSweeps {
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
}
