//! `leadzone reseal`: every sealed value opened with whichever master key sealed it and sealed
//! again with the first one, so that an old key can then be dropped from `LEADZONE_MASTER_KEY`.
//! Tenant tables are walked one tenant at a time under that tenant's row-level security (the
//! owner role is subject to it: `FORCE ROW LEVEL SECURITY`), each tenant in one transaction.

use crate::error::db_err;
use crate::stmt;
use leadzone_ports::RepoError;
use leadzone_ports::security::SecretBox;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use uuid::Uuid;

/// Values sealed again, by table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub users: u64,
    pub integration_connections: u64,
    pub webhook_endpoints: u64,
    pub mail_outbox: u64,
}

impl ResealReport {
    pub fn total(&self) -> u64 {
        self.users + self.integration_connections + self.webhook_endpoints + self.mail_outbox
    }
}

/// The sealed columns of tenant tables: (table, column).
const TENANT_SEALED: [(&str, &str); 3] =
    [("integration_connections", "credentials"), ("webhook_endpoints", "secret"), ("mail_outbox", "body_sealed")];

async fn reseal_column(
    conn: &impl ConnectionTrait,
    secrets: &dyn SecretBox,
    table: &str,
    column: &str,
) -> Result<u64, RepoError> {
    let rows = conn
        .query_all_raw(stmt(&format!("SELECT id, {column} AS sealed FROM {table} WHERE {column} IS NOT NULL"), vec![]))
        .await
        .map_err(db_err)?;
    let mut n = 0;
    for row in rows {
        let id: Uuid = row.try_get("", "id").map_err(db_err)?;
        let sealed: Vec<u8> = row.try_get("", "sealed").map_err(db_err)?;
        let plain = secrets.open(&sealed).map_err(|e| {
            RepoError::Other(format!("{table}.{column} of {id} does not open with any master key: {e}"))
        })?;
        let again = secrets.seal(&plain).map_err(|e| RepoError::Other(e.to_string()))?;
        conn.execute_raw(stmt(
            &format!("UPDATE {table} SET {column} = $2 WHERE id = $1"),
            vec![id.into(), again.into()],
        ))
        .await
        .map_err(db_err)?;
        n += 1;
    }
    Ok(n)
}

/// Re-seals every sealed value with the first master key of `secrets`.
///
/// # Errors
/// A value no loaded key opens (nothing of that tenant is changed), or a storage error.
pub async fn reseal_all(owner: &DatabaseConnection, secrets: &dyn SecretBox) -> Result<ResealReport, RepoError> {
    let mut report = ResealReport::default();
    let txn = owner.begin().await.map_err(db_err)?;
    report.users = reseal_column(&txn, secrets, "users", "totp_secret").await?;
    txn.commit().await.map_err(db_err)?;
    let tenants = owner.query_all_raw(stmt("SELECT id FROM tenants ORDER BY id", vec![])).await.map_err(db_err)?;
    for tenant in tenants {
        let id: Uuid = tenant.try_get("", "id").map_err(db_err)?;
        let txn = owner.begin().await.map_err(db_err)?;
        txn.execute_raw(stmt("SELECT set_config('app.current_tenant_id', $1, true)", vec![id.to_string().into()]))
            .await
            .map_err(db_err)?;
        for (table, column) in TENANT_SEALED {
            let n = reseal_column(&txn, secrets, table, column).await?;
            match table {
                "integration_connections" => report.integration_connections += n,
                "webhook_endpoints" => report.webhook_endpoints += n,
                _ => report.mail_outbox += n,
            }
        }
        txn.commit().await.map_err(db_err)?;
    }
    Ok(report)
}
