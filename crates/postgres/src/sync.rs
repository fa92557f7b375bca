//! `lead_sync_refs` and the leads a SYNC job walks.

use crate::error::db_err;
use crate::stmt;
use crate::tx::PgTenantTx;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::LeadId;
use leadzone_ports::RepoError;
use leadzone_ports::sync::{SyncLead, SyncRef, SyncRepo};
use sea_orm::ConnectionTrait;
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait::async_trait]
impl SyncRepo for PgTenantTx {
    async fn changed_leads(
        &self,
        since: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, LeadId)>,
        only: Option<Vec<LeadId>>,
        limit: u64,
    ) -> Result<Vec<SyncLead>, RepoError> {
        let mut values: Vec<sea_orm::Value> = vec![self.tid().into()];
        let mut conditions = vec!["tenant_id = $1".to_owned()];
        if let Some(since) = since {
            values.push(since.into());
            conditions.push(format!("updated_at >= ${}", values.len()));
        }
        if let Some((at, id)) = after {
            values.push(at.into());
            values.push(id.as_uuid().into());
            conditions.push(format!("(updated_at, id) > (${}, ${})", values.len() - 1, values.len()));
        }
        if let Some(only) = only {
            let ids: Vec<Uuid> = only.iter().map(|l| l.as_uuid()).collect();
            values.push(ids.into());
            conditions.push(format!("id = ANY(${})", values.len()));
        }
        let rows = self
            .txn
            .query_all_raw(stmt(
                &format!(
                    "SELECT id, company_name, industry, city, phone, email, website, status, updated_at,
                            enrichment_data->'decisionMakers'->0->>'name' AS contact_name FROM leads
                     WHERE {} ORDER BY updated_at, id LIMIT {limit}",
                    conditions.join(" AND ")
                ),
                values,
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("", "status").map_err(db_err)?;
                Ok(SyncLead {
                    id: r.try_get::<Uuid>("", "id").map_err(db_err)?.into(),
                    company_name: r.try_get("", "company_name").map_err(db_err)?,
                    industry: r.try_get("", "industry").map_err(db_err)?,
                    city: r.try_get("", "city").map_err(db_err)?,
                    phone: r.try_get("", "phone").map_err(db_err)?,
                    email: r.try_get("", "email").map_err(db_err)?,
                    website: r.try_get("", "website").map_err(db_err)?,
                    status: LeadStatus::from_str(&status).map_err(|_| RepoError::Other(format!("status {status}")))?,
                    contact_name: r.try_get("", "contact_name").map_err(db_err)?,
                    updated_at: r.try_get("", "updated_at").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn refs(&self, service: &str, leads: Vec<LeadId>) -> Result<Vec<SyncRef>, RepoError> {
        let ids: Vec<Uuid> = leads.iter().map(|l| l.as_uuid()).collect();
        let rows = self
            .txn
            .query_all_raw(stmt(
                "SELECT lead_id, external_id, synced_version FROM lead_sync_refs
                 WHERE tenant_id = $1 AND service = $2 AND lead_id = ANY($3)",
                vec![self.tid().into(), service.into(), ids.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(SyncRef {
                    lead_id: r.try_get::<Uuid>("", "lead_id").map_err(db_err)?.into(),
                    external_id: r.try_get("", "external_id").map_err(db_err)?,
                    synced_version: r.try_get("", "synced_version").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn save_refs(&self, service: &str, refs: Vec<SyncRef>, at: OffsetDateTime) -> Result<(), RepoError> {
        if refs.is_empty() {
            return Ok(());
        }
        let leads: Vec<Uuid> = refs.iter().map(|r| r.lead_id.as_uuid()).collect();
        let external: Vec<String> = refs.iter().map(|r| r.external_id.clone()).collect();
        let versions: Vec<OffsetDateTime> = refs.iter().map(|r| r.synced_version).collect();
        self.txn
            .execute_raw(stmt(
                "INSERT INTO lead_sync_refs (tenant_id, service, lead_id, external_id, synced_version, synced_at)
                 SELECT $1, $2, u.lead, u.ext, u.version, $6
                 FROM UNNEST($3::uuid[], $4::text[], $5::timestamptz[]) AS u(lead, ext, version)
                 ON CONFLICT (tenant_id, service, lead_id) DO UPDATE SET
                   external_id = EXCLUDED.external_id, synced_version = EXCLUDED.synced_version,
                   synced_at = EXCLUDED.synced_at",
                vec![self.tid().into(), service.into(), leads.into(), external.into(), versions.into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
