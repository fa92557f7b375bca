//! The retention policy of data-model.md, run daily by one worker: job logs after 30 days,
//! finished jobs after 90, WhatsApp messages after a year and audit rows after two — those two
//! archived first, as gzip JSON Lines in the blob store, and only then removed. A job's files
//! (upload, errors CSV, export) go with the job, before its row: a file is never left without the
//! row that names it. Writes to the blob store that a killed process left unfinished go after a day.

use leadzone_ports::RepoError;
use leadzone_ports::blobs::BlobStore;
use leadzone_ports::jobs::{ArchiveTable, RetentionStore};
use std::io::Write;
use time::{Duration, OffsetDateTime};

const BATCH: u64 = 5_000;
const JOB_BATCH: u64 = 500;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub job_logs: u64,
    pub jobs: u64,
    /// Files of the removed jobs (each store counts a missing file as removed).
    pub job_files: u64,
    pub abandoned_uploads: u64,
    pub whatsapp_messages: u64,
    pub audit_logs: u64,
}

pub async fn run_retention(
    store: &dyn RetentionStore,
    blobs: &dyn BlobStore,
    now: OffsetDateTime,
) -> Result<RetentionReport, RepoError> {
    let mut report =
        RetentionReport { job_logs: store.purge_job_logs(now - Duration::days(30)).await?, ..Default::default() };
    loop {
        let expired = store.expired_jobs(now - Duration::days(90), JOB_BATCH).await?;
        if expired.is_empty() {
            break;
        }
        for job in &expired {
            for key in crate::files::job_blob_keys(job.tenant_id, job.id, job.kind, job.input.as_ref()) {
                blobs.delete(&key).await?;
                report.job_files += 1;
            }
        }
        let ids: Vec<_> = expired.iter().map(|j| j.id).collect();
        report.jobs += store.delete_jobs(&ids).await?;
    }
    report.abandoned_uploads = blobs.purge_abandoned(now - Duration::days(1)).await?;
    for (table, keep) in
        [(ArchiveTable::WhatsAppMessages, Duration::days(365)), (ArchiveTable::AuditLogs, Duration::days(730))]
    {
        let mut part = 0;
        loop {
            let rows = store.archive_batch(table, now - keep, BATCH).await?;
            if rows.is_empty() {
                break;
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            for (_, row) in &rows {
                let line = serde_json::to_vec(row).map_err(|e| RepoError::Other(e.to_string()))?;
                gz.write_all(&line).and_then(|()| gz.write_all(b"\n")).map_err(|e| RepoError::Other(e.to_string()))?;
            }
            let bytes = gz.finish().map_err(|e| RepoError::Other(e.to_string()))?;
            let key = format!("archives/{}/{}-{part:04}.jsonl.gz", table.name(), now.unix_timestamp());
            // Written (and renamed into place) before a single row is deleted.
            blobs.put(&key, &bytes).await?;
            let ids: Vec<uuid::Uuid> = rows.iter().map(|(id, _)| *id).collect();
            let deleted = store.delete_archived(table, &ids).await?;
            match table {
                ArchiveTable::WhatsAppMessages => report.whatsapp_messages += deleted,
                ArchiveTable::AuditLogs => report.audit_logs += deleted,
            }
            part += 1;
        }
    }
    Ok(report)
}
