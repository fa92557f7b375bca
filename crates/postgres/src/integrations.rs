//! `integration_connections`: one row per tenant and type, the credentials only as the sealed
//! bytes the app hands over.

use crate::error::db_err;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::IntegrationConnection;
use leadzone_domain::enums::{IntegrationStatus, IntegrationType};
use leadzone_ports::RepoError;
use leadzone_ports::integrations::IntegrationRepo;
use sea_orm::{ConnectionTrait, QueryResult};
use std::str::FromStr;

const COLUMNS: &str =
    "id, tenant_id, type, status, credentials, config, last_sync_at, last_error, created_at, updated_at";

fn from_row(r: &QueryResult) -> Result<IntegrationConnection, RepoError> {
    let kind: String = r.try_get("", "type").map_err(db_err)?;
    let status: String = r.try_get("", "status").map_err(db_err)?;
    Ok(IntegrationConnection {
        id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
        tenant_id: r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
        kind: IntegrationType::from_str(&kind).map_err(|_| RepoError::Other(format!("integration type {kind}")))?,
        status: IntegrationStatus::from_str(&status)
            .map_err(|_| RepoError::Other(format!("integration status {status}")))?,
        credentials: r.try_get("", "credentials").map_err(db_err)?,
        config: r.try_get("", "config").map_err(db_err)?,
        last_sync_at: r.try_get("", "last_sync_at").map_err(db_err)?,
        last_error: r.try_get("", "last_error").map_err(db_err)?,
        created_at: r.try_get("", "created_at").map_err(db_err)?,
        updated_at: r.try_get("", "updated_at").map_err(db_err)?,
    })
}

#[async_trait::async_trait]
impl IntegrationRepo for PgTenantTx {
    async fn list(&self) -> Result<Vec<IntegrationConnection>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                &format!("SELECT {COLUMNS} FROM integration_connections WHERE tenant_id = $1 ORDER BY type"),
                vec![self.tid().into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(from_row).collect()
    }

    async fn get(&self, kind: IntegrationType) -> Result<Option<IntegrationConnection>, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                &format!("SELECT {COLUMNS} FROM integration_connections WHERE tenant_id = $1 AND type = $2"),
                vec![self.tid().into(), kind.as_str().into()],
            ))
            .await
            .map_err(db_err)?;
        row.as_ref().map(from_row).transpose()
    }

    async fn upsert(&self, c: &IntegrationConnection) -> Result<IntegrationConnection, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                &format!(
                    "INSERT INTO integration_connections
                       (id, tenant_id, type, status, credentials, config, last_sync_at, last_error, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (tenant_id, type) DO UPDATE SET
                       status = EXCLUDED.status, credentials = EXCLUDED.credentials, config = EXCLUDED.config,
                       last_sync_at = EXCLUDED.last_sync_at, last_error = EXCLUDED.last_error,
                       updated_at = EXCLUDED.updated_at
                     RETURNING {COLUMNS}"
                ),
                vec![
                    c.id.as_uuid().into(),
                    self.tid().into(),
                    c.kind.as_str().into(),
                    c.status.as_str().into(),
                    c.credentials.clone().into(),
                    c.config.clone().into(),
                    c.last_sync_at.into(),
                    c.last_error.clone().into(),
                    c.created_at.into(),
                    c.updated_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        from_row(&row)
    }

    async fn delete(&self, kind: IntegrationType) -> Result<bool, RepoError> {
        let done = self
            .txn
            .execute_raw(crate::stmt(
                "DELETE FROM integration_connections WHERE tenant_id = $1 AND type = $2",
                vec![self.tid().into(), kind.as_str().into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }
}
