//! The retention policy of data-model.md, run daily by one worker: job logs after 30 days,
//! finished jobs after 90, WhatsApp messages after a year and audit rows after two — those two
//! archived first, as gzip JSON Lines in the blob store, and only then removed. A job's files
//! (upload, errors CSV, export) go with the job, before its row: a file is never left without the
//! row that names it. Writes to the blob store that a killed process left unfinished go after a day,
//! and the files of a tenant that was deleted go on the next run.

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
    /// Files of finished jobs removed (or found already gone).
    pub job_files: u64,
    /// Finished jobs kept past their time because a file of theirs could not be removed.
    pub jobs_kept: u64,
    /// Files of tenants that no longer exist.
    pub deleted_tenants_files: u64,
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
    let mut kept = std::collections::HashSet::new();
    loop {
        let expired = store.expired_jobs(now - Duration::days(90), JOB_BATCH).await?;
        // A job whose files could not all be removed keeps its row (the files' only reference)
        // and is tried again on the next run; the others go.
        let mut removable = Vec::with_capacity(expired.len());
        for job in &expired {
            let mut all_gone = true;
            for key in crate::files::job_blob_keys(job.tenant_id, job.id, job.kind, job.input.as_ref()) {
                match blobs.delete(&key).await {
                    Ok(()) => report.job_files += 1,
                    Err(e) => {
                        tracing::warn!(job_id = %job.id, error = %e, "a finished job's file could not be removed; retried tomorrow");
                        all_gone = false;
                    }
                }
            }
            if all_gone {
                removable.push(job.id);
            }
        }
        kept.extend(expired.iter().map(|j| j.id).filter(|id| !removable.contains(id)));
        if removable.is_empty() {
            // Nothing of this batch could go: the next one would be the same.
            break;
        }
        report.jobs += store.delete_jobs(&removable).await?;
    }
    report.jobs_kept = kept.len() as u64;
    // A deleted tenant's files: its jobs went with it (ON DELETE CASCADE), so no job names them.
    for area in crate::files::TENANT_AREAS {
        let folders = blobs.folders(area).await?;
        let ids: Vec<leadzone_domain::ids::TenantId> =
            folders.iter().filter_map(|f| f.parse::<uuid::Uuid>().ok()).map(Into::into).collect();
        if ids.is_empty() {
            continue;
        }
        let existing = store.existing_tenants(&ids).await?;
        for gone in ids.iter().filter(|id| !existing.contains(id)) {
            report.deleted_tenants_files += blobs.delete_folder(&format!("{area}/{gone}")).await?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use leadzone_domain::enums::JobType;
    use leadzone_ports::blobs::MockBlobStore;
    use leadzone_ports::jobs::{ExpiredJob, MockRetentionStore};

    /// A store that cannot remove one job's file keeps that job (its row is the file's only
    /// reference) and still removes the others, and the archiving still runs.
    #[tokio::test]
    async fn a_file_that_cannot_be_removed_keeps_its_job_and_nothing_else() {
        let tenant = uuid::Uuid::from_u128(1).into();
        let (import, export) = (uuid::Uuid::from_u128(2).into(), uuid::Uuid::from_u128(3).into());
        let upload = format!("imports/{tenant}/upload.csv");
        let import_job = ExpiredJob {
            id: import,
            tenant_id: tenant,
            kind: JobType::Import,
            input: Some(serde_json::json!({"blobKey": upload})),
        };
        let export_job = ExpiredJob { id: export, tenant_id: tenant, kind: JobType::Export, input: None };
        let mut store = MockRetentionStore::new();
        store.expect_purge_job_logs().returning(|_| Ok(0));
        let mut batches = vec![vec![export_job.clone()], vec![import_job, export_job]];
        store.expect_expired_jobs().times(2).returning(move |_, _| Ok(batches.pop().unwrap_or_default()));
        store.expect_delete_jobs().times(1).withf(move |ids| ids == [import]).returning(|ids| Ok(ids.len() as u64));
        store.expect_archive_batch().times(2).returning(|_, _, _| Ok(Vec::new()));
        let mut blobs = MockBlobStore::new();
        let failing = format!("exports/{tenant}/{export}.csv");
        blobs
            .expect_delete()
            .returning(move |key| if key == failing { Err(RepoError::Other("S3 unavailable".into())) } else { Ok(()) });
        blobs.expect_purge_abandoned().times(1).returning(|_| Ok(0));
        blobs.expect_folders().times(2).returning(|_| Ok(Vec::new()));
        let report = run_retention(&store, &blobs, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!((report.jobs, report.jobs_kept, report.job_files), (1, 1, 2));
    }
}
