//! The mail outbox: queued inside a tenant transaction (`leadzone_app`, insert only, row-level
//! security on), delivered by a worker on the system path (`leadzone_system`). Bodies are stored
//! only sealed, and set to NULL once delivered or given up.

use crate::error::db_err;
use crate::stmt;
use crate::tx::PgTenantTx;
use leadzone_ports::RepoError;
use leadzone_ports::mail::{ClaimedMail, MailOutbox, OutboxRepo, QueuedMail};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl OutboxRepo for PgTenantTx {
    async fn queue(&self, mail: &QueuedMail) -> Result<(), RepoError> {
        self.txn
            .execute_raw(stmt(
                "INSERT INTO mail_outbox (id, tenant_id, to_email, subject, body_sealed) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    mail.id.into(),
                    self.tid().into(),
                    mail.to.clone().into(),
                    mail.subject.clone().into(),
                    mail.sealed_body.clone().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// The outbox as the delivering worker sees it.
#[derive(Clone)]
pub struct PgMailOutbox {
    db: DatabaseConnection,
}

impl PgMailOutbox {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl MailOutbox for PgMailOutbox {
    async fn claim(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedMail>, RepoError> {
        let rows = self
            .db
            .query_all_raw(stmt(
                "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2
                  WHERE id IN (SELECT id FROM mail_outbox
                                WHERE body_sealed IS NOT NULL AND delivered_at IS NULL AND failed_at IS NULL
                                  AND next_attempt_at <= $1
                                ORDER BY next_attempt_at
                                LIMIT $3
                                FOR UPDATE SKIP LOCKED)
                  RETURNING id, to_email, subject, body_sealed, attempts",
                vec![now.into(), lease_until.into(), i64::from(limit).into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedMail {
                    id: row.try_get("", "id").map_err(db_err)?,
                    to: row.try_get("", "to_email").map_err(db_err)?,
                    subject: row.try_get("", "subject").map_err(db_err)?,
                    sealed_body: row.try_get("", "body_sealed").map_err(db_err)?,
                    attempts: row.try_get("", "attempts").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn delivered(&self, id: uuid::Uuid, at: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(stmt(
                "UPDATE mail_outbox SET delivered_at = $2, body_sealed = NULL, last_error = NULL WHERE id = $1",
                vec![id.into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        let error: String = error.chars().take(1000).collect();
        let statement = match retry_at {
            Some(retry_at) => stmt(
                "UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1",
                vec![id.into(), error.into(), retry_at.into()],
            ),
            None => stmt(
                "UPDATE mail_outbox SET last_error = $2, failed_at = $3, body_sealed = NULL WHERE id = $1",
                vec![id.into(), error.into(), at.into()],
            ),
        };
        self.db.execute_raw(statement).await.map_err(db_err)?;
        Ok(())
    }

    async fn erase_older_than(&self, before: OffsetDateTime, at: OffsetDateTime) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(stmt(
                // Delivered and given-up mail holds no body any more: what matches is still pending.
                "UPDATE mail_outbox
                    SET body_sealed = NULL, failed_at = $2,
                        last_error = COALESCE(last_error || '; ', '') || 'given up: not delivered within 7 days'
                  WHERE body_sealed IS NOT NULL AND created_at < $1",
                vec![before.into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }
}
