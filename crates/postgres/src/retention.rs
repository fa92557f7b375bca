//! Retention on the system role: purge old job history, and hand out then delete rows that have
//! been archived. Audit rows can only be deleted here: the transaction says so with
//! `leadzone.audit_retention`, which the immutability trigger checks together with the role.

use crate::error::db_err;
use leadzone_domain::ids::{JobId, TenantId};
use leadzone_ports::RepoError;
use leadzone_ports::jobs::{ArchiveTable, ExpiredJob, RetentionStore};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use time::OffsetDateTime;

pub struct PgRetention {
    db: DatabaseConnection,
}

impl PgRetention {
    /// `db` must be a pool of `leadzone_system`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn time_column(table: ArchiveTable) -> &'static str {
    match table {
        ArchiveTable::WhatsAppMessages => "sent_at",
        ArchiveTable::AuditLogs => "created_at",
    }
}

#[async_trait::async_trait]
impl RetentionStore for PgRetention {
    async fn purge_job_logs(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM job_logs WHERE created_at < $1",
                [before.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn expired_jobs(&self, before: OffsetDateTime, limit: u64) -> Result<Vec<ExpiredJob>, RepoError> {
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id, tenant_id, type::text AS kind, input FROM jobs
                  WHERE status IN ('SUCCESS', 'FAILED', 'CANCELLED') AND completed_at < $1
                  ORDER BY completed_at, id LIMIT $2",
                [before.into(), (limit as i64).into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("", "kind").map_err(db_err)?;
                Ok(ExpiredJob {
                    id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
                    tenant_id: r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
                    kind: kind.parse().map_err(|e: leadzone_domain::DomainError| RepoError::Other(e.to_string()))?,
                    input: r.try_get("", "input").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn delete_jobs(&self, ids: &[JobId]) -> Result<u64, RepoError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        let res = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM jobs WHERE id = ANY($1)",
                [ids.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn existing_tenants(&self, ids: &[TenantId]) -> Result<Vec<TenantId>, RepoError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM tenants WHERE id = ANY($1)",
                [ids.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.try_get::<uuid::Uuid>("", "id").map(Into::into).map_err(db_err)).collect()
    }

    async fn archive_batch(
        &self,
        table: ArchiveTable,
        before: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<(uuid::Uuid, serde_json::Value)>, RepoError> {
        let (name, at) = (table.name(), time_column(table));
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("SELECT id, to_jsonb(t) AS row FROM {name} t WHERE {at} < $1 ORDER BY {at}, id LIMIT $2"),
                [before.into(), (limit as i64).into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| Ok((r.try_get("", "id").map_err(db_err)?, r.try_get("", "row").map_err(db_err)?))).collect()
    }

    async fn delete_archived(&self, table: ArchiveTable, ids: &[uuid::Uuid]) -> Result<u64, RepoError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        if table == ArchiveTable::AuditLogs {
            txn.execute_unprepared("SELECT set_config('leadzone.audit_retention', 'on', true)")
                .await
                .map_err(db_err)?;
        }
        let res = txn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("DELETE FROM {} WHERE id = ANY($1)", table.name()),
                [ids.to_vec().into()],
            ))
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(res.rows_affected())
    }
}
