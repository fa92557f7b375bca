//! Audit rows: appended in the action's transaction, listed newest first. Never updated or deleted
//! (the database refuses both).

use crate::error::db_err;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::{AuditDetails, AuditLog};
use leadzone_ports::RepoError;
use leadzone_ports::{audit::AuditQuery, audit::AuditRepo, audit::NewAuditLog};
use sea_orm::{ConnectionTrait, Value};
use std::str::FromStr;

#[async_trait::async_trait]
impl AuditRepo for PgTenantTx {
    async fn append(&self, e: &NewAuditLog) -> Result<(), RepoError> {
        // Raw SQL for the INET cast; SeaORM has no INET type without the ipnetwork feature.
        let details = serde_json::to_value(&e.details).map_err(|err| RepoError::Other(err.to_string()))?;
        self.txn
            .execute_raw(crate::stmt(
                "INSERT INTO audit_logs (id, tenant_id, event_type, entity_type, entity_id, action, details,
                                         user_id, ip_address, user_agent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::inet, $10)",
                vec![
                    e.id.as_uuid().into(),
                    self.tid().into(),
                    e.event_type.as_str().into(),
                    e.entity_type.map(|t| t.as_str().to_owned()).into(),
                    e.entity_id.into(),
                    e.action.clone().into(),
                    details.into(),
                    e.user_id.map(|u| u.as_uuid()).into(),
                    e.ip_address.map(|ip| ip.to_string()).into(),
                    e.user_agent.clone().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list(&self, q: &AuditQuery) -> Result<Vec<AuditLog>, RepoError> {
        let mut sql = String::from(
            "SELECT id, tenant_id, event_type, entity_type, entity_id, action, details, user_id,
                    host(ip_address) AS ip, user_agent, created_at
               FROM audit_logs WHERE tenant_id = $1",
        );
        let mut values: Vec<Value> = vec![self.tid().into()];
        let mut push = |cond: &str, v: Value, sql: &mut String| {
            values.push(v);
            sql.push_str(&format!(" AND {}", cond.replace('?', &format!("${}", values.len()))));
        };
        if let Some(v) = q.event_type {
            push("event_type = ?", v.as_str().into(), &mut sql);
        }
        if let Some(v) = &q.entity_type {
            push("entity_type = ?", v.clone().into(), &mut sql);
        }
        if let Some(v) = q.entity_id {
            push("entity_id = ?", v.into(), &mut sql);
        }
        if let Some(v) = q.user_id {
            push("user_id = ?", v.as_uuid().into(), &mut sql);
        }
        if let Some(v) = q.from {
            push("created_at >= ?", v.into(), &mut sql);
        }
        if let Some(v) = q.to {
            push("created_at < ?", v.into(), &mut sql);
        }
        if let Some((at, id)) = q.after {
            values.push(at.into());
            values.push(id.as_uuid().into());
            let n = values.len();
            sql.push_str(&format!(" AND (created_at, id) < (${}, ${n})", n - 1));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {}", q.limit));
        let rows = self.txn.query_all_raw(crate::stmt(&sql, values)).await.map_err(db_err)?;
        rows.into_iter()
            .map(|r| {
                let event: String = r.try_get("", "event_type").map_err(db_err)?;
                let details: serde_json::Value = r.try_get("", "details").map_err(db_err)?;
                let ip: Option<String> = r.try_get("", "ip").map_err(db_err)?;
                Ok(AuditLog {
                    id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
                    tenant_id: r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
                    event_type: leadzone_domain::enums::AuditEventType::from_str(&event)
                        .map_err(|e| RepoError::Other(e.to_string()))?,
                    entity_type: r.try_get("", "entity_type").map_err(db_err)?,
                    entity_id: r.try_get("", "entity_id").map_err(db_err)?,
                    action: r.try_get("", "action").map_err(db_err)?,
                    details: serde_json::from_value::<AuditDetails>(details).unwrap_or_default(),
                    user_id: r.try_get::<Option<uuid::Uuid>>("", "user_id").map_err(db_err)?.map(Into::into),
                    ip_address: ip.and_then(|s| s.parse().ok()),
                    user_agent: r.try_get("", "user_agent").map_err(db_err)?,
                    created_at: r.try_get("", "created_at").map_err(db_err)?,
                })
            })
            .collect()
    }
}
