//! `reports`: one per lead, replaced when it is written again.

use crate::error::db_err;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::{Report, ReportSection};
use leadzone_domain::enums::ReportGeneratedBy;
use leadzone_domain::ids::LeadId;
use leadzone_ports::RepoError;
use leadzone_ports::intelligence::ReportRepo;
use sea_orm::{ConnectionTrait, QueryResult};
use std::str::FromStr;

const COLUMNS: &str =
    "id, tenant_id, lead_id, summary, sections, score, generated_by, model_version, created_at, updated_at";

fn from_row(r: &QueryResult) -> Result<Report, RepoError> {
    let sections: serde_json::Value = r.try_get("", "sections").map_err(db_err)?;
    let generated_by: String = r.try_get("", "generated_by").map_err(db_err)?;
    Ok(Report {
        id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
        tenant_id: r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
        lead_id: r.try_get::<uuid::Uuid>("", "lead_id").map_err(db_err)?.into(),
        summary: r.try_get("", "summary").map_err(db_err)?,
        sections: serde_json::from_value::<Vec<ReportSection>>(sections)
            .map_err(|e| RepoError::Other(format!("report sections: {e}")))?,
        score: r.try_get("", "score").map_err(db_err)?,
        generated_by: ReportGeneratedBy::from_str(&generated_by)
            .map_err(|_| RepoError::Other(format!("report generated_by {generated_by}")))?,
        model_version: r.try_get("", "model_version").map_err(db_err)?,
        created_at: r.try_get("", "created_at").map_err(db_err)?,
        updated_at: r.try_get("", "updated_at").map_err(db_err)?,
    })
}

#[async_trait::async_trait]
impl ReportRepo for PgTenantTx {
    async fn get(&self, lead: LeadId) -> Result<Option<Report>, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                &format!("SELECT {COLUMNS} FROM reports WHERE tenant_id = $1 AND lead_id = $2"),
                vec![self.tid().into(), lead.as_uuid().into()],
            ))
            .await
            .map_err(db_err)?;
        row.as_ref().map(from_row).transpose()
    }

    async fn upsert(&self, r: &Report) -> Result<Report, RepoError> {
        let sections = serde_json::to_value(&r.sections).map_err(|e| RepoError::Other(e.to_string()))?;
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                &format!(
                    "INSERT INTO reports ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (lead_id) DO UPDATE SET
                       summary = EXCLUDED.summary, sections = EXCLUDED.sections, score = EXCLUDED.score,
                       generated_by = EXCLUDED.generated_by, model_version = EXCLUDED.model_version,
                       updated_at = EXCLUDED.updated_at
                     WHERE reports.tenant_id = EXCLUDED.tenant_id
                     RETURNING {COLUMNS}"
                ),
                vec![
                    r.id.as_uuid().into(),
                    self.tid().into(),
                    r.lead_id.as_uuid().into(),
                    r.summary.clone().into(),
                    sections.into(),
                    r.score.into(),
                    r.generated_by.as_str().into(),
                    r.model_version.clone().into(),
                    r.created_at.into(),
                    r.updated_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        from_row(&row)
    }
}
