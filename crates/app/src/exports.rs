//! The EXPORT job: the visible leads matching a filter, as UTF-8 CSV with a BOM (opens in Excel
//! with Arabic intact), every cell safe from formula injection; downloaded in chunks.

use crate::jobs::{JobControl, JobFailure};
use crate::leads::ListParams;
use crate::{AppError, Ctx, policy};
use futures::SinkExt;
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{Job, Lead};
use leadzone_domain::enums::{AuditEventType, JobType};
use leadzone_domain::ids::JobId;
use leadzone_domain::imports::neutralise_formula;
use leadzone_domain::leads::LeadSort;
use leadzone_ports::RepoError;
use leadzone_ports::leads::{LeadPosition, LeadQuery};
use serde_json::json;

crate::service! {
    /// CSV export.
    Exports {
        ports: [uow, tokens, blobs],
        uses: [
            flags: crate::flags::Flags,
            jobs: crate::jobs::Jobs,
        ],
    }
}

impl Exports {
    /// `POST /exports`: enqueues an EXPORT job for the leads matching `filter`.
    pub async fn start_export(
        &self,
        ctx: &Ctx,
        filter: ListParams,
        raw_filter: serde_json::Value,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        policy::require(ctx, Permission::LeadsExport)?;
        self.flags.require_feature(ctx, "export").await?;
        // Validate now, so a bad filter is a 422 rather than a failed job.
        crate::leads::parse_list_params(ctx, filter.clone())?;
        let hash = self.tokens.hash(&raw_filter.to_string());
        let input = json!({"filter": raw_filter, "format": "csv"});
        self.jobs.enqueue(ctx, JobType::Export, input, idempotency_key.map(|k| (k, hash))).await
    }

    pub(crate) async fn run_export(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.jobs.creator_ctx(job).await?;
        policy::require(&ctx, Permission::LeadsExport).map_err(JobFailure::from)?;
        let params = filter_params(job.input.as_ref().and_then(|i| i.get("filter")));
        let (filter, ..) = crate::leads::parse_list_params(&ctx, params).map_err(JobFailure::from)?;
        let key = crate::files::export_key(job.tenant_id, job.id);
        // The file is written as a stream while the leads are read, a page at a time: a restarted
        // export writes it again from the start, and the store shows the whole file or none.
        let (sink, body) = futures::channel::mpsc::channel::<Result<Vec<u8>, RepoError>>(2);
        let (ctx_ref, filter_ref) = (&ctx, &filter);
        let produce = async move {
            let mut sink = sink;
            let produced = self.write_export(ctx_ref, filter_ref, control, &mut sink).await;
            if let Err(Some(_)) = &produced {
                let _ = sink.send(Err(RepoError::Other("the export stopped".into()))).await;
            }
            produced
        };
        let (produced, stored) = futures::join!(produce, self.blobs.put_stream(&key, Box::pin(body)));
        let rows = match (produced, stored) {
            (Ok(rows), Ok(_)) => rows,
            (Err(Some(failure)), _) => return Err(failure),
            (_, Err(e)) => return Err(e.into()),
            (Err(None), Ok(_)) => {
                return Err(JobFailure::from(AppError::Internal("the export file closed early".into())));
            }
        };
        let filter = job.input.as_ref().and_then(|i| i.get("filter"));
        self.jobs
            .audit_job(
                &ctx,
                job,
                AuditEventType::LeadExported,
                "leads exported",
                json!({"rows": rows, "filter": filter}),
            )
            .await?;
        Ok(json!({"rows": rows, "format": "csv", "download": format!("/api/v1/exports/{}/download", job.id)}))
    }

    /// The CSV of a finished export, to read in chunks.
    pub async fn export_file(&self, ctx: &Ctx, id: JobId) -> Result<crate::files::BlobRef, AppError> {
        self.jobs.finished_job_file(ctx, id, JobType::Export, crate::files::export_key).await
    }

    /// The export's rows, as CSV pieces into `sink`: the BOM and header, then a piece per page of
    /// 1,000 leads. `Err(None)`: the store stopped taking pieces (its own error says why).
    async fn write_export(
        &self,
        ctx: &Ctx,
        filter: &leadzone_domain::leads::LeadFilter,
        control: &dyn JobControl,
        sink: &mut futures::channel::mpsc::Sender<Result<Vec<u8>, RepoError>>,
    ) -> Result<usize, Option<JobFailure>> {
        let mut header = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let _ = header.write_record(EXPORT_COLUMNS);
        sink.send(Ok(header.into_inner().unwrap_or_default())).await.map_err(|_| None)?;
        let mut after: Option<LeadPosition> = None;
        let mut rows = 0usize;
        // The listing's order for a search (relevance), so a file lists what the screen did;
        // without one, oldest first (a file reads top-down).
        let sort = if filter.q.is_some() { LeadSort::Relevance } else { LeadSort::CreatedAtAsc };
        loop {
            if control.should_stop() {
                return Err(Some(JobFailure::Stopped));
            }
            let tx = self.uow.begin(ctx.tenant_id).await.map_err(|e| Some(e.into()))?;
            let visibility = policy::lead_visibility(ctx, &*tx).await.map_err(|e| Some(JobFailure::from(e)))?;
            let page = tx
                .leads()
                .list(&LeadQuery { visibility, filter: filter.clone(), sort, after: after.clone(), limit: 1000 })
                .await
                .map_err(|e| Some(e.into()))?;
            drop(tx);
            if page.is_empty() {
                return Ok(rows);
            }
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &page {
                let _ = w.write_record(export_row(&r.lead));
            }
            sink.send(Ok(w.into_inner().unwrap_or_default())).await.map_err(|_| None)?;
            rows += page.len();
            after = page.last().map(|r| crate::leads::position_of(sort, r));
            control.progress(50, &format!("{rows} leads written")).await;
        }
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
