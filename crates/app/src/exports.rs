//! The EXPORT job: the visible leads matching a filter, as UTF-8 CSV with a BOM (opens in Excel
//! with Arabic intact), every cell safe from formula injection; downloaded in chunks.

use crate::jobs::{JobControl, JobFailure};
use crate::leads::ListParams;
use crate::{App, AppError, Ctx, audit, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{AuditDetails, Job, Lead};
use leadzone_domain::enums::{AuditEventType, JobType};
use leadzone_domain::ids::JobId;
use leadzone_domain::imports::neutralise_formula;
use leadzone_domain::leads::LeadSort;
use leadzone_ports::leads::{LeadPosition, LeadQuery, SortKey};
use serde_json::json;

impl App {
    /// `POST /exports`: enqueues an EXPORT job for the leads matching `filter`.
    pub async fn start_export(
        &self,
        ctx: &Ctx,
        filter: ListParams,
        raw_filter: serde_json::Value,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        policy::require(ctx, Permission::LeadsExport)?;
        self.require_feature(ctx, "export").await?;
        // Validate now, so a bad filter is a 422 rather than a failed job.
        crate::leads::parse_list_params(ctx, filter.clone())?;
        let hash = self.tokens.hash(&raw_filter.to_string());
        let input = json!({"filter": raw_filter, "format": "csv"});
        self.enqueue(ctx, JobType::Export, input, idempotency_key.map(|k| (k, hash))).await
    }

    pub(crate) async fn run_export(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.creator_ctx(job).await?;
        policy::require(&ctx, Permission::LeadsExport).map_err(JobFailure::from)?;
        let params = filter_params(job.input.as_ref().and_then(|i| i.get("filter")));
        let (filter, ..) = crate::leads::parse_list_params(&ctx, params).map_err(JobFailure::from)?;
        let key = format!("exports/{}/{}.csv", job.tenant_id, job.id);
        // Restarting an export rewrites it from the start: the file is the checkpoint's output.
        self.blobs.put(&key, b"\xEF\xBB\xBF").await?;
        let mut header = csv::Writer::from_writer(Vec::new());
        let _ = header.write_record(EXPORT_COLUMNS);
        self.blobs.append(&key, &header.into_inner().unwrap_or_default()).await?;
        let mut after: Option<LeadPosition> = None;
        let mut rows = 0usize;
        loop {
            if control.should_stop() {
                return Err(JobFailure::Stopped);
            }
            let tx = self.uow.begin(job.tenant_id).await?;
            let visibility = policy::lead_visibility(&ctx, &*tx).await.map_err(JobFailure::from)?;
            let page = tx
                .leads()
                .list(&LeadQuery {
                    visibility,
                    filter: filter.clone(),
                    sort: LeadSort::CreatedAtAsc,
                    after: after.clone(),
                    limit: 1000,
                })
                .await?;
            drop(tx);
            if page.is_empty() {
                break;
            }
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &page {
                let _ = w.write_record(export_row(&r.lead));
            }
            self.blobs.append(&key, &w.into_inner().unwrap_or_default()).await?;
            rows += page.len();
            after = page.last().map(|r| LeadPosition { key: SortKey::Time(r.lead.created_at), id: r.lead.id });
            control.progress(50, &format!("{rows} leads written")).await;
        }
        let tx = self.uow.begin(job.tenant_id).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::LeadExported,
                Some((leadzone_domain::enums::AuditEntityType::Job, job.id.as_uuid())),
                "leads exported",
                AuditDetails {
                    metadata: Some(json!({"rows": rows, "filter": job.input.as_ref().and_then(|i| i.get("filter"))})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await?;
        Ok(json!({"rows": rows, "format": "csv", "download": format!("/api/v1/exports/{}/download", job.id)}))
    }

    /// A chunk of a finished export's file; empty at the end.
    pub async fn export_chunk(&self, ctx: &Ctx, id: JobId, offset: u64, max: usize) -> Result<Vec<u8>, AppError> {
        let job = self.get_job(ctx, id).await?;
        if job.kind != JobType::Export || job.status != leadzone_domain::enums::JobStatus::Success {
            return Err(AppError::NotFound);
        }
        Ok(self.blobs.read_at(&format!("exports/{}/{}.csv", job.tenant_id, job.id), offset, max).await?)
    }
}

/// Columns of an export, named so that re-importing the file maps every one back.
pub const EXPORT_COLUMNS: [&str; 10] =
    ["companyName", "industry", "city", "phone", "email", "website", "status", "score", "tags", "createdAt"];

/// One lead as an export row; every cell that a spreadsheet would read as a formula (`=…`, `+966…`,
/// `-…`, `@…`) carries a leading `'`, which an import of the file strips again.
fn export_row(l: &Lead) -> [String; 10] {
    [
        l.company_name.clone(),
        l.industry.clone().unwrap_or_default(),
        l.city.clone().unwrap_or_default(),
        l.phone.clone().unwrap_or_default(),
        l.email.clone().unwrap_or_default(),
        l.website.clone().unwrap_or_default(),
        l.status.as_str().to_owned(),
        l.score.map(|s| s.to_string()).unwrap_or_default(),
        l.tags.join(", "),
        l.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    ]
    .map(|cell| match neutralise_formula(&cell) {
        std::borrow::Cow::Borrowed(_) => cell,
        std::borrow::Cow::Owned(guarded) => guarded,
    })
}

/// An export's stored JSON filter as listing parameters.
fn filter_params(filter: Option<&serde_json::Value>) -> ListParams {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(serde_json::Value::Object(map)) = filter {
        for (k, v) in map {
            match v {
                serde_json::Value::Array(items) => {
                    pairs.extend(items.iter().filter_map(|i| i.as_str()).map(|s| (k.clone(), s.to_owned())))
                }
                serde_json::Value::String(s) => pairs.push((k.clone(), s.clone())),
                serde_json::Value::Number(n) => pairs.push((k.clone(), n.to_string())),
                serde_json::Value::Bool(b) => pairs.push((k.clone(), b.to_string())),
                _ => {}
            }
        }
    }
    crate::leads::list_params_from_pairs(pairs)
}
