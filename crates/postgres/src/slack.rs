//! `slack_notifications`: the tenant's side (queue a message in the transaction of its change) and
//! the workers' (claim the head of each tenant's queue, at most one a second per tenant).

use crate::error::db_err;
use crate::stmt;
use crate::tx::PgTenantTx;
use leadzone_domain::ids::TenantId;
use leadzone_ports::RepoError;
use leadzone_ports::slack::{DueSlack, SlackNotification, SlackOutbox, SlackRepo};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait::async_trait]
impl SlackRepo for PgTenantTx {
    async fn enqueue(&self, n: &SlackNotification) -> Result<(), RepoError> {
        self.txn
            .execute_raw(stmt(
                "INSERT INTO slack_notifications (id, tenant_id, event, text, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                vec![
                    n.id.into(),
                    self.tid().into(),
                    n.event.clone().into(),
                    n.text.clone().into(),
                    n.created_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// The outbox as the posting workers see it (the system role, across tenants).
#[derive(Clone)]
pub struct PgSlackOutbox {
    db: DatabaseConnection,
}

impl PgSlackOutbox {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn exec(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<u64, RepoError> {
        Ok(self.db.execute_raw(stmt(sql, values)).await.map_err(db_err)?.rows_affected())
    }
}

#[async_trait::async_trait]
impl SlackOutbox for PgSlackOutbox {
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: std::time::Duration,
        limit: u64,
    ) -> Result<Vec<DueSlack>, RepoError> {
        let until = now + time::Duration::try_from(lease).unwrap_or(time::Duration::MINUTE);
        // The head of each queue, in flight or not: a tenant's messages go one at a time, in
        // order; the oldest heads first, so no tenant waits behind others' backlogs. The
        // conditional UPDATE keeps two workers from claiming one head.
        let rows = self
            .db
            .query_all_raw(stmt(
                &format!(
                    "WITH heads AS (
                       SELECT DISTINCT ON (tenant_id) id, tenant_id, next_attempt_at, locked_until, created_at
                       FROM slack_notifications WHERE status = 'PENDING'
                       ORDER BY tenant_id, created_at, id),
                     due AS (
                       SELECT h.id FROM heads h
                       WHERE h.next_attempt_at <= $1 AND (h.locked_until IS NULL OR h.locked_until <= $1)
                         AND NOT EXISTS (SELECT 1 FROM slack_notifications s
                                         WHERE s.tenant_id = h.tenant_id AND s.sent_at > $1 - INTERVAL '1 second')
                       ORDER BY h.created_at
                       LIMIT {limit})
                     UPDATE slack_notifications n SET locked_until = $2, attempts = n.attempts + 1
                     FROM due
                     WHERE n.id = due.id AND n.status = 'PENDING' AND n.next_attempt_at <= $1
                       AND (n.locked_until IS NULL OR n.locked_until <= $1)
                     RETURNING n.id, n.tenant_id, n.text, n.attempts,
                       (SELECT c.credentials FROM integration_connections c
                        WHERE c.tenant_id = n.tenant_id AND c.type = 'SLACK' AND c.status = 'CONNECTED') AS credentials"
                ),
                vec![now.into(), until.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(DueSlack {
                    id: r.try_get("", "id").map_err(db_err)?,
                    tenant_id: r.try_get::<Uuid>("", "tenant_id").map_err(db_err)?.into(),
                    text: r.try_get("", "text").map_err(db_err)?,
                    attempts: r.try_get("", "attempts").map_err(db_err)?,
                    sealed_credentials: r.try_get("", "credentials").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn sent(&self, id: Uuid, at: OffsetDateTime) -> Result<(), RepoError> {
        self.exec(
            "UPDATE slack_notifications SET status = 'SENT', sent_at = $2, locked_until = NULL, last_error = NULL
             WHERE id = $1",
            vec![id.into(), at.into()],
        )
        .await?;
        Ok(())
    }

    async fn retry_at(&self, id: Uuid, at: OffsetDateTime, error: &str) -> Result<(), RepoError> {
        self.exec(
            "UPDATE slack_notifications SET next_attempt_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1",
            vec![id.into(), at.into(), error.into()],
        )
        .await?;
        Ok(())
    }

    async fn hold(&self, tenant: TenantId, until: OffsetDateTime) -> Result<(), RepoError> {
        self.exec(
            "UPDATE slack_notifications SET next_attempt_at = GREATEST(next_attempt_at, $2), locked_until = NULL
             WHERE tenant_id = $1 AND status = 'PENDING'",
            vec![tenant.as_uuid().into(), until.into()],
        )
        .await?;
        Ok(())
    }

    async fn failed(&self, id: Uuid, error: &str) -> Result<(), RepoError> {
        self.exec(
            "UPDATE slack_notifications SET status = 'FAILED', locked_until = NULL, last_error = $2 WHERE id = $1",
            vec![id.into(), error.into()],
        )
        .await?;
        Ok(())
    }

    async fn webhook_gone(&self, tenant: TenantId, error: &str, at: OffsetDateTime) -> Result<(), RepoError> {
        self.exec(
            "UPDATE integration_connections SET status = 'ERROR', last_error = $2, updated_at = $3
             WHERE tenant_id = $1 AND type = 'SLACK'",
            vec![tenant.as_uuid().into(), error.into(), at.into()],
        )
        .await?;
        self.exec(
            "UPDATE slack_notifications SET status = 'FAILED', locked_until = NULL, last_error = $2
             WHERE tenant_id = $1 AND status = 'PENDING'",
            vec![tenant.as_uuid().into(), error.into()],
        )
        .await?;
        Ok(())
    }

    async fn purge(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        self.exec(
            "DELETE FROM slack_notifications WHERE created_at < $1 AND status IN ('SENT', 'FAILED')",
            vec![before.into()],
        )
        .await
    }
}
