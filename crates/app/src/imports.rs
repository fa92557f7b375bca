//! The IMPORT job (CSV decoding is `csv_files`, the EXPORT job `exports`).
//!
//! Import: UTF-8 (with or without BOM) or Windows-1256, `,` or `;`, English or Arabic headers.
//! Every row goes through the same domain validation as `POST /leads`; duplicates are found
//! within the file and against the tenant's leads with the same keys. Good rows are inserted in
//! batches, four transactions at once (`IMPORT_LANES`); each batch, its quota charge and a checkpoint commit
//! together. Every row's lead id is derived from the job and the row, so a crashed import that
//! resumes at its checkpoint recognises the rows it wrote after it and never creates a lead twice.

use crate::csv_files::{StoredCsv, StoredCsvError, decode_header, parse_csv, store_errors_csv};
use crate::jobs::{JobControl, JobFailure, job_error};
use crate::{AppError, Ctx, policy};
use futures::StreamExt;
use leadzone_domain::access::{LeadVisibility, Permission};
use leadzone_domain::entities::{Job, Lead};
use leadzone_domain::enums::{AuditEventType, JobType, LogLevel, UsageMetric};
use leadzone_domain::ids::{JobId, LeadId, ListId};
use leadzone_domain::imports::{map_headers, row_input};
use leadzone_domain::leads::{DedupKeys, NewLead};
use leadzone_ports::RepoError;
use leadzone_ports::{leads::BulkChange, leads::ExistingKeys};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows per transaction.
pub const IMPORT_BATCH: usize = 2000;
/// Rejected rows kept in the job result (the errors CSV lists them all).
const MAX_ERRORS_IN_RESULT: usize = 1000;
pub const MAX_IMPORT_BYTES: usize = 50 * 1024 * 1024;

/// How to read an uploaded file (`POST /imports`' fields besides the file).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub mapping: HashMap<String, String>,
    pub list_id: Option<ListId>,
    pub dry_run: bool,
}

/// A file streamed into the blob store for an import that has not started yet: what
/// `Imports::start_import` needs to know of it without reading it again.
///
/// Dropped without becoming an import (a request abandoned half way, say), it removes its file in
/// the background: no upload is left that no job names.
pub struct ImportUpload {
    key: String,
    digest: String,
    /// The header line (at most `MAX_HEADER_BYTES`).
    first_line: Vec<u8>,
    blank: bool,
    /// The whole file is UTF-8 (else it is read as Windows-1256).
    utf8: bool,
    blobs: Arc<dyn leadzone_ports::blobs::BlobStore>,
    /// Removed when dropped (until an import job names it).
    armed: bool,
}

impl std::fmt::Debug for ImportUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportUpload").field("key", &self.key).field("armed", &self.armed).finish_non_exhaustive()
    }
}

impl Drop for ImportUpload {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (blobs, key) = (self.blobs.clone(), std::mem::take(&mut self.key));
            runtime.spawn(async move {
                if let Err(e) = blobs.delete(&key).await {
                    tracing::warn!(error = %e, "an abandoned import upload could not be removed");
                }
            });
        }
    }
}

/// The longest header line checked before the import starts.
const MAX_HEADER_BYTES: usize = 1024 * 1024;

/// What `upload_import_file` learns of a file while it streams past.
struct Inspection {
    digest: Box<dyn leadzone_ports::security::ContentDigest>,
    size: usize,
    first_line: Vec<u8>,
    header_done: bool,
    blank: bool,
    too_large: bool,
    /// Valid UTF-8 so far, and the bytes of a sequence the last piece ended inside.
    utf8: bool,
    utf8_carry: Vec<u8>,
}

impl Inspection {
    fn see(&mut self, piece: &[u8]) -> Result<(), RepoError> {
        self.size += piece.len();
        if self.size > MAX_IMPORT_BYTES {
            self.too_large = true;
            return Err(RepoError::Other("the file is larger than the import limit".into()));
        }
        self.digest.update(piece);
        if self.utf8 {
            let joined;
            let bytes = if self.utf8_carry.is_empty() {
                piece
            } else {
                joined = [std::mem::take(&mut self.utf8_carry).as_slice(), piece].concat();
                joined.as_slice()
            };
            match std::str::from_utf8(bytes) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    self.utf8_carry = bytes.get(e.valid_up_to()..).unwrap_or_default().to_vec()
                }
                Err(_) => self.utf8 = false,
            }
        }
        self.blank = self.blank && piece.iter().all(u8::is_ascii_whitespace);
        if !self.header_done {
            let end = piece.iter().position(|b| *b == b'\n');
            let take = end.map_or(piece.len(), |e| e + 1).min(MAX_HEADER_BYTES - self.first_line.len());
            self.first_line.extend_from_slice(piece.get(..take).unwrap_or_default());
            self.header_done = end.is_some() || self.first_line.len() >= MAX_HEADER_BYTES;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
    /// The contract code of a row refused for a reason other than its own fields
    /// (`QUOTA_EXCEEDED`); absent for a field's validation error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<crate::error::ProblemCode>,
}

/// The import's checkpoint and, at the end, its result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub total: usize,
    /// Data rows handled so far (the resume point).
    pub processed: usize,
    pub created: usize,
    pub duplicates: usize,
    pub failed: usize,
    pub errors: Vec<RowError>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_csv: Option<String>,
}

/// Import batches stored at once, each in its own transaction on its own connection: one
/// Postgres backend inserting keeps one core busy (1,000,000 rows into leads: 24 s by one
/// `\copy`, 16.6 s by two at once); with the round trips between batches, three or four keep both of a
/// small machine's cores working (measured: two lanes of 1,000-row batches 31,700 rows/s, three of
/// 2,000 35,900; 5,000-row batches were no faster). A fourth lane fills the gaps while the others
/// wait for their round trips (both cores were still 5–18% idle with three).
const IMPORT_LANES: usize = 4;

/// A batch's place in file order, kept twice. Quota charges: it waits for the batch before to
/// have charged (`after`) and tells the one after when it has (`charged`). Duplicate-key fences:
/// it takes its fence (`existing_keys`) only once the batch before holds its own (`fenced_after`,
/// `fenced`) — a batch waits for an earlier one's charge while holding its fence, so an earlier
/// batch must never queue for a fence behind a single-lead write that waits for a later batch's
/// (a cycle Postgres could not see). Each sender also fires on being dropped.
struct ChargeTurn {
    after: Option<futures::channel::oneshot::Receiver<()>>,
    charged: futures::channel::oneshot::Sender<()>,
    fenced_after: Option<futures::channel::oneshot::Receiver<()>>,
    fenced: futures::channel::oneshot::Sender<()>,
}

/// How often an import writes its checkpoint (and progress) at most.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The batches finished without a gap, and when a lane last wrote them as the job's checkpoint.
struct Checkpoint {
    checkpoint: ImportResult,
    written: Option<std::time::Instant>,
}

/// One batch of rows, validated and rid of in-file duplicates.
#[derive(Default)]
struct PreparedBatch {
    start: usize,
    end: usize,
    /// The rows to store unless the tenant has them already, their keys and line numbers.
    leads: Vec<Lead>,
    keys: Vec<DedupKeys>,
    lines: Vec<usize>,
    in_file_duplicates: usize,
    /// Rows rejected by validation.
    failed: usize,
    errors: Vec<RowError>,
}

/// What storing a batch did.
struct BatchOutcome {
    start: usize,
    end: usize,
    created: usize,
    duplicates: usize,
    failed: usize,
    errors: Vec<RowError>,
    /// Cancellation was requested.
    cancel: bool,
}

/// The id of the lead made from data row `index` of import `job`: the same on every attempt, so
/// that a resumed import recognises what it wrote. A UUIDv7 with the job's time and random bits,
/// the row's index in its lowest 32 bits (a 50 MB file has far fewer rows).
pub(crate) fn row_lead_id(job: JobId, index: usize) -> LeadId {
    let id = (job.as_uuid().as_u128() & !0xFFFF_FFFF) | (index as u128 & 0xFFFF_FFFF);
    uuid::Uuid::from_u128(id).into()
}

fn progress_of(result: &ImportResult) -> (i32, String) {
    (((result.processed * 100) / result.total.max(1)) as i32, format!("{} of {} rows", result.processed, result.total))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportInput {
    blob_key: String,
    #[serde(default)]
    mapping: HashMap<String, String>,
    list_id: Option<ListId>,
    #[serde(default)]
    dry_run: bool,
}

crate::service! {
    /// CSV import: upload, inspection, the import run.
    Imports {
        ports: [uow, tokens, blobs, clock, ids],
        uses: [
            jobs: crate::jobs::Jobs,
            leads: crate::leads::Leads,
            usage: crate::usage::Usage,
        ],
    }
}

impl Imports {
    /// `POST /imports`, first half: streams the file into the blob store as it arrives (never
    /// whole in memory), hashing it and keeping its header line on the way.
    pub async fn upload_import_file(
        &self,
        ctx: &Ctx,
        body: leadzone_ports::blobs::ByteStream,
    ) -> Result<ImportUpload, AppError> {
        policy::require(ctx, Permission::LeadsImport)?;
        let key = crate::files::import_upload_key(ctx.tenant_id, self.ids.new_id());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Inspection {
            digest: self.tokens.digest(),
            size: 0,
            first_line: Vec::new(),
            header_done: false,
            blank: true,
            too_large: false,
            utf8: true,
            utf8_carry: Vec::new(),
        }));
        let watcher = seen.clone();
        let body = body.map(move |piece| {
            let piece = piece?;
            watcher.lock().map_err(|_| RepoError::Other("upload state poisoned".into()))?.see(&piece)?;
            Ok(piece)
        });
        let stored = self.blobs.put_stream(&key, Box::pin(body)).await;
        let seen = std::sync::Arc::try_unwrap(seen)
            .ok()
            .and_then(|m| m.into_inner().ok())
            .ok_or_else(|| AppError::Internal("upload state still shared".into()))?;
        if seen.too_large {
            return Err(AppError::field("file", "is larger than 50 MB"));
        }
        stored?;
        Ok(ImportUpload {
            key,
            utf8: seen.utf8 && seen.utf8_carry.is_empty(),
            digest: seen.digest.finish(),
            first_line: seen.first_line,
            blank: seen.blank,
            blobs: self.blobs.clone(),
            armed: true,
        })
    }

    /// Removes an upload that will not become an import (a refused request).
    pub async fn discard_import_upload(&self, mut upload: ImportUpload) {
        match self.blobs.delete(&upload.key).await {
            Ok(()) => upload.armed = false,
            // Left armed: dropping it tries once more.
            Err(e) => tracing::warn!(error = %e, "an unused import upload could not be removed"),
        }
    }

    /// `POST /imports`, second half: checks the file's header and the options and enqueues an
    /// IMPORT job. A refused request, or a replay of an earlier one, removes the upload.
    pub async fn start_import(
        &self,
        ctx: &Ctx,
        mut upload: ImportUpload,
        options: ImportOptions,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        let started = self.start_uploaded_import(ctx, &upload, options, idempotency_key).await;
        if matches!(started, Ok((_, false))) {
            // The job names the file now; retention removes it with the job.
            upload.armed = false;
        } else {
            self.discard_import_upload(upload).await;
        }
        started
    }

    async fn start_uploaded_import(
        &self,
        ctx: &Ctx,
        upload: &ImportUpload,
        req: ImportOptions,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        policy::require(ctx, Permission::LeadsImport)?;
        if upload.blank {
            return Err(AppError::field("file", "is empty"));
        }
        // Check the header now: a file no column of which is a company name is refused at once.
        let text = decode_header(&upload.first_line, upload.utf8);
        let (headers, _) = parse_csv(text.lines().next().map(|l| format!("{l}\n")).unwrap_or_default().as_str())?;
        map_headers(&headers, &req.mapping)?;
        if let Some(list) = req.list_id {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            match tx.lists().get(list).await {
                Ok(l) if !l.is_smart => {}
                Ok(_) => return Err(AppError::field("listId", "must be a static list")),
                Err(leadzone_ports::RepoError::NotFound) => return Err(AppError::field("listId", "no such list")),
                Err(e) => return Err(e.into()),
            }
        }
        let request_hash = self.tokens.hash(&format!(
            "{}|{:?}|{:?}|{}",
            upload.digest,
            {
                let mut m: Vec<_> = req.mapping.iter().collect();
                m.sort();
                m
            },
            req.list_id,
            req.dry_run
        ));
        let idempotency = idempotency_key.map(|k| (k, request_hash));
        if let Some((key, hash)) = &idempotency {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            if let Some(existing) = tx.jobs().by_idempotency_key(key).await? {
                return crate::jobs::replay(existing, hash);
            }
        }
        let input =
            json!({"blobKey": upload.key, "mapping": req.mapping, "listId": req.list_id, "dryRun": req.dry_run});
        self.jobs.enqueue(ctx, JobType::Import, input, idempotency).await
    }

    pub(crate) async fn run_import(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.jobs.creator_ctx(job).await?;
        policy::require(&ctx, Permission::LeadsImport).map_err(JobFailure::from)?;
        let input: ImportInput = serde_json::from_value(job.input.clone().unwrap_or_default()).map_err(|e| {
            JobFailure::Permanent(job_error(crate::error::ProblemCode::ValidationFailed, e.to_string()))
        })?;
        // The file is read back from the store as it is parsed, a batch at a time, never whole.
        let file = StoredCsv::open(self.blobs.clone(), &input.blob_key).await.map_err(|e| match e {
            StoredCsvError::Store(e) => JobFailure::from(e),
            StoredCsvError::File(e) => JobFailure::from(e),
        })?;
        let headers = file.headers.clone();
        let fields = map_headers(&headers, &input.mapping).map_err(|e| JobFailure::from(AppError::from(e)))?;
        let total = file.rows;

        let mut result: ImportResult = match job.result.clone().map(serde_json::from_value) {
            Some(Ok(result)) => result,
            None => ImportResult::default(),
            Some(Err(e)) => {
                // Read as a first run: its rows' ids make what an earlier run stored harmless.
                tracing::warn!(job = %job.id, error = %e, "the import's checkpoint does not read; starting over");
                ImportResult::default()
            }
        };
        result.total = total;
        result.dry_run = input.dry_run;
        if result.processed == 0 {
            control.log(LogLevel::Info, "import started", Some(json!({"rows": total, "columns": headers}))).await;
        } else {
            control.log(LogLevel::Info, "import resumed", Some(json!({"from": result.processed}))).await;
        }

        // The rows before the checkpoint, prepared again batch by batch (and dropped): in-file
        // duplicates stay duplicates, and their validation errors go into the errors CSV again.
        // Their quota refusals are known only from the result's first MAX_ERRORS_IN_RESULT errors.
        let now = self.clock.now();
        let mut seen = ExistingKeys::expecting(total);
        let mut all_errors: Vec<RowError> = Vec::new();
        let mut batches = file.batches(IMPORT_BATCH);
        let mut replayed = 0;
        while replayed < result.processed {
            let Some(next) = batches.recv().await else {
                return Err(JobFailure::Permanent(job_error(
                    crate::error::ProblemCode::Internal,
                    "the import's file is shorter than the rows it already handled",
                )));
            };
            let (start, rows) = next?;
            // Checkpoints fall between batches (they advance over whole batches in file order).
            if start + rows.len() > result.processed {
                return Err(JobFailure::Permanent(job_error(
                    crate::error::ProblemCode::Internal,
                    "the import's checkpoint does not fall between two batches",
                )));
            }
            let batch = self.prepare_batch(job, &ctx, &fields, start, &rows, input.list_id, &mut seen, now);
            all_errors.extend(batch.errors);
            replayed = start + rows.len();
        }
        let quota = Some(crate::error::ProblemCode::QuotaExceeded);
        all_errors.extend(result.errors.iter().filter(|e| e.code == quota).cloned());
        all_errors.sort_by_key(|e| e.row);
        // Only a resumed or retried run can meet rows an earlier run stored (their ids derive from
        // the job and the row); a first run inserts without looking for them.
        let may_exist = job.attempts > 1 || result.processed > 0;
        // Batches are prepared in file order (validation and in-file duplicates are decided here,
        // so they do not depend on which lane finishes first) and stored by IMPORT_LANES
        // transactions at once; the checkpoint moves over the batches finished without a gap.
        let committed = std::sync::Mutex::new(Checkpoint { checkpoint: result.clone(), written: None });
        let cancelled = std::sync::atomic::AtomicBool::new(false);
        let rows = futures::stream::unfold(batches, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        // Each batch charges the quota after the one before it, so that at the plan's limit the
        // first rows of the file are the ones created.
        let mut turn: Option<futures::channel::oneshot::Receiver<()>> = None;
        let mut fence_turn: Option<futures::channel::oneshot::Receiver<()>> = None;
        let mut outcomes = Box::pin(rows)
            .take_while(|_| {
                std::future::ready(!control.should_stop() && !cancelled.load(std::sync::atomic::Ordering::Relaxed))
            })
            .map(|next| {
                let (start, rows) = match next {
                    Ok(batch) => batch,
                    // The store failed while the file was read: the job fails (and is retried).
                    Err(e) => return futures::future::Either::Right(std::future::ready(Err(JobFailure::from(e)))),
                };
                let batch = self.prepare_batch(job, &ctx, &fields, start, &rows, input.list_id, &mut seen, now);
                let (charged, next_turn) = futures::channel::oneshot::channel();
                let (fenced, next_fence) = futures::channel::oneshot::channel();
                let turn = ChargeTurn {
                    after: turn.replace(next_turn),
                    charged,
                    fenced_after: fence_turn.replace(next_fence),
                    fenced,
                };
                futures::future::Either::Left(self.store_batch(job, input.dry_run, may_exist, batch, &committed, turn))
            })
            .buffer_unordered(IMPORT_LANES);
        let mut finished: std::collections::BTreeMap<usize, BatchOutcome> = std::collections::BTreeMap::new();
        while let Some(outcome) = outcomes.next().await {
            let outcome = outcome?;
            if outcome.cancel {
                // No new batches; those in flight finish, so that the result counts them.
                cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            finished.insert(outcome.start, outcome);
            while let Some(done) = finished.remove(&result.processed) {
                result.processed = done.end;
                result.created += done.created;
                result.duplicates += done.duplicates;
                result.failed += done.failed;
                for e in done.errors {
                    if result.errors.len() < MAX_ERRORS_IN_RESULT {
                        result.errors.push(e.clone());
                    }
                    all_errors.push(e);
                }
            }
            if let Ok(mut c) = committed.lock() {
                c.checkpoint.clone_from(&result);
            }
            // Nothing else is awaited here: the lanes make progress only while this loop polls
            // them, and a lane may hold the job's row until its commit.
        }
        drop(outcomes);
        if result.processed < total {
            // Stopped or cancelled: every batch started has finished, so this checkpoint counts
            // every lead written (a cancelled job keeps it as its result).
            // A run whose attempt is over (NotFound: rescued, maybe claimed again) just stops.
            let saved = self.write_checkpoint(job, &result).await;
            if matches!(saved, Ok(()) | Err(RepoError::NotFound))
                || cancelled.load(std::sync::atomic::Ordering::Relaxed)
            {
                return Err(JobFailure::Stopped);
            }
            // Without that checkpoint a released job would start over as a first run (attempt and
            // progress both given back) and meet the rows stored here: keep the attempt instead.
            return Err(JobFailure::Retryable(job_error(
                crate::error::ProblemCode::Internal,
                "the import stopped and could not save where it stopped; it resumes on its next attempt",
            )));
        }

        // The rejected rows, with their reasons, as a CSV to download.
        let errors_key = crate::files::import_errors_key(job.tenant_id, job.id);
        store_errors_csv(&self.blobs, &file, &errors_key, &all_errors).await?;
        result.errors_csv = Some(format!("/api/v1/imports/{}/errors.csv", job.id));

        if !input.dry_run {
            let counts = json!({"total": result.total, "created": result.created, "duplicates": result.duplicates, "failed": result.failed});
            self.jobs.audit_job(&ctx, job, AuditEventType::LeadImported, "leads imported", counts).await?;
        }
        control
            .log(
                LogLevel::Info,
                "import finished",
                Some(json!({"created": result.created, "duplicates": result.duplicates, "failed": result.failed})),
            )
            .await;
        Ok(serde_json::to_value(&result).unwrap_or_default())
    }

    /// Validates one batch of rows and sets aside those that repeat an earlier row of the file.
    #[allow(clippy::too_many_arguments)]
    fn prepare_batch(
        &self,
        job: &Job,
        ctx: &Ctx,
        fields: &[Option<leadzone_domain::imports::ImportField>],
        start: usize,
        rows: &[csv::StringRecord],
        list_id: Option<ListId>,
        seen: &mut ExistingKeys,
        now: time::OffsetDateTime,
    ) -> PreparedBatch {
        let mut batch = PreparedBatch { start, end: start + rows.len(), ..Default::default() };
        let mut failed_rows = std::collections::HashSet::new();
        for (i, row) in rows.iter().enumerate().map(|(k, row)| (start + k, row)) {
            let line = i + 2; // 1-based, after the header
            let (mut lead_input, mut errs) = row_input(fields, row);
            if let Some(list) = list_id {
                lead_input.list_id = Some(list);
            }
            match NewLead::parse(lead_input) {
                Ok(lead) if errs.is_empty() => {
                    let keys = lead.dedup_keys();
                    if seen.matches(&keys) {
                        batch.in_file_duplicates += 1;
                    } else {
                        seen.add(&keys);
                        batch.lines.push(line);
                        batch.leads.push(self.leads.lead_row(row_lead_id(job.id, i), ctx, lead, now));
                        batch.keys.push(keys);
                    }
                }
                Ok(_) => {}
                Err(e) => errs.extend(e.field_errors().iter().cloned()),
            }
            for e in errs {
                failed_rows.insert(line);
                batch.errors.push(RowError { row: line, field: e.field, message: e.message, code: None });
            }
        }
        batch.failed = failed_rows.len();
        batch
    }

    /// Stores one prepared batch in its own transaction: the rows that duplicate no lead of the
    /// tenant, their quota charge and the job's checkpoint commit together.
    async fn store_batch(
        &self,
        job: &Job,
        dry_run: bool,
        may_exist: bool,
        batch: PreparedBatch,
        committed: &std::sync::Mutex<Checkpoint>,
        turn: ChargeTurn,
    ) -> Result<BatchOutcome, JobFailure> {
        let PreparedBatch { start, end, leads, keys, lines, in_file_duplicates, failed, mut errors } = batch;
        // Waited for before taking a connection: the wait holds nothing.
        if let Some(previous) = turn.fenced_after {
            let _ = previous.await;
        }
        let tx = self.uow.begin(job.tenant_id).await?;
        let ids: Vec<LeadId> = leads.iter().map(|l| l.id).collect();
        // The batch's own ids are excluded, even on what looks like a first run: what an earlier
        // attempt wrote is not a duplicate, and a "first" run that meets its own rows must find
        // them on insert (and retry), not count them as duplicates.
        let existing = tx.leads().existing_keys(&keys, &ids).await?;
        let _ = turn.fenced.send(());
        let candidates = keys.len();
        let mut fresh: Vec<(Lead, DedupKeys)> = Vec::with_capacity(candidates);
        let mut fresh_lines: Vec<usize> = Vec::with_capacity(candidates);
        for ((lead, lead_keys), line) in leads.into_iter().zip(keys).zip(lines) {
            if !existing.matches(&lead_keys) {
                fresh.push((lead, lead_keys));
                fresh_lines.push(line);
            }
        }
        let mut outcome = BatchOutcome {
            start,
            end,
            created: fresh.len(),
            duplicates: in_file_duplicates + candidates - fresh.len(),
            failed,
            errors: Vec::new(),
            cancel: false,
        };
        if !dry_run && !fresh.is_empty() {
            // Inserted first and charged last, in file order (after the batch before this one):
            // the counter's row is locked only from the charge to the commit.
            let fresh_ids: Vec<LeadId> = fresh.iter().map(|(l, _)| l.id).collect();
            let written: std::collections::HashSet<LeadId> = match tx.leads().insert_many(fresh, may_exist).await {
                Ok(ids) => ids.into_iter().collect(),
                // A first run found its own rows stored (it should not): the retry skips them.
                Err(RepoError::Conflict(_)) if !may_exist => {
                    return Err(JobFailure::Retryable(job_error(
                        crate::error::ProblemCode::Internal,
                        "rows of this import are stored already; the next attempt skips them",
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(previous) = turn.after {
                // Err: that batch failed and took its turn with it; this import fails too.
                let _ = previous.await;
            }
            let allowed = self.usage.charge_up_to(&*tx, UsageMetric::Leads, written.len() as i64).await? as usize;
            let _ = turn.charged.send(());
            // Past the plan's limit: the last rows written now are taken back (one statement)
            // and reported; rows an earlier attempt wrote were counted and charged then.
            let refused: Vec<(usize, LeadId)> = fresh_ids
                .iter()
                .zip(&fresh_lines)
                .filter(|(id, _)| written.contains(id))
                .skip(allowed)
                .map(|(id, line)| (*line, *id))
                .collect();
            if !refused.is_empty() {
                let ids: Vec<LeadId> = refused.iter().map(|(_, id)| *id).collect();
                tx.leads().bulk(&BulkChange::Delete, &ids, &LeadVisibility::All, self.clock.now()).await?;
            }
            for (line, _) in &refused {
                errors.push(RowError {
                    row: *line,
                    field: String::new(),
                    message: "the plan's monthly lead limit is reached".to_owned(),
                    code: Some(crate::error::ProblemCode::QuotaExceeded),
                });
            }
            outcome.created -= refused.len();
            outcome.failed += refused.len();
        } else {
            let _ = turn.charged.send(());
        }
        errors.sort_by_key(|e| e.row);
        outcome.errors = errors;
        // A checkpoint (which is also the progress report) at most every CHECKPOINT_EVERY: the
        // batches after it are stored again on a resume, which their lead ids make harmless.
        let due = committed.lock().ok().and_then(|mut c| {
            let due = c.written.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY);
            due.then(|| {
                c.written = Some(std::time::Instant::now());
                c.checkpoint.clone()
            })
        });
        if let Some(checkpoint) = due {
            let (progress, message) = progress_of(&checkpoint);
            // An attempt that is over stops here: the batch rolls back, and whoever holds the
            // job now stores these rows.
            outcome.cancel = crate::jobs::checkpoint_in(&*tx, job, progress, &message, &checkpoint).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Writes `result` as the job's checkpoint (and progress). `NotFound` when this run's attempt
    /// is over; a job that is no longer this run's, or a database that is gone, keeps the last
    /// checkpoint written, which a resumed import recounts exactly anyway.
    async fn write_checkpoint(&self, job: &Job, result: &ImportResult) -> Result<(), RepoError> {
        let (progress, message) = progress_of(result);
        let written = async {
            let tx = self.uow.begin(job.tenant_id).await?;
            tx.jobs().checkpoint(job, progress, &message, &serde_json::to_value(result).unwrap_or_default()).await?;
            tx.commit().await
        };
        let written = written.await;
        if let Err(e) = &written {
            tracing::warn!(job = %job.id, error = %e, "could not write the import's last checkpoint");
        }
        written
    }

    /// The rejected rows of a finished import, as CSV (UTF-8 with BOM), to read in chunks.
    pub async fn import_errors_file(&self, ctx: &Ctx, id: JobId) -> Result<crate::files::BlobRef, AppError> {
        self.jobs.finished_job_file(ctx, id, JobType::Import, crate::files::import_errors_key).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::error::ProblemCode;
    use crate::jobs::JobFailure;
    use crate::testing::{FakeTx, MemBlobs, ctx, member, now, plan, ports_with_txs, subscription, tenant};
    use leadzone_domain::entities::Limit;
    use leadzone_domain::enums::{AuditEventType, Role, SubscriptionStatus};
    use leadzone_ports::billing::Increment;
    use leadzone_ports::blobs::BlobStore;
    use leadzone_ports::blobs::MockBlobStore;
    use leadzone_ports::security::{ContentDigest, MockTokens};
    use std::sync::Arc;

    struct CountingDigest(usize);

    impl ContentDigest for CountingDigest {
        fn update(&mut self, data: &[u8]) {
            self.0 += data.len();
        }
        fn finish(self: Box<Self>) -> String {
            self.0.to_string()
        }
    }

    /// A worker that never asks the job to stop.
    struct Running;

    #[async_trait::async_trait]
    impl JobControl for Running {
        async fn progress(&self, _progress: i32, _message: &str) {}
        async fn log(&self, _level: LogLevel, _message: &str, _data: Option<serde_json::Value>) {}
        fn should_stop(&self) -> bool {
            false
        }
    }

    const FILE: &str = "imports/a/file.csv";

    fn import_job(result: Option<serde_json::Value>) -> Job {
        Job {
            id: uuid::Uuid::from_u128(0x10B).into(),
            tenant_id: uuid::Uuid::from_u128(0xA).into(),
            kind: leadzone_domain::enums::JobType::Import,
            status: leadzone_domain::enums::JobStatus::Running,
            progress: 0,
            message: None,
            entity_type: None,
            entity_id: None,
            input: Some(json!({"blobKey": FILE})),
            result,
            error: None,
            created_by: uuid::Uuid::from_u128(1).into(),
            created_at: now(),
            started_at: Some(now()),
            completed_at: None,
            attempts: 1,
            max_attempts: 3,
            run_at: now(),
            priority: 0,
            cancel_requested: false,
        }
    }

    /// The job creator's transaction: an active OWNER of an active tenant whose subscription is
    /// `status`.
    fn creator(status: SubscriptionStatus) -> FakeTx {
        let mut tx = FakeTx::default();
        tx.memberships.expect_get_by_user().times(1).returning(|_| Ok(member(1, Role::Owner)));
        tenant_and_plan(&mut tx, status);
        tx
    }

    fn tenant_and_plan(tx: &mut FakeTx, status: SubscriptionStatus) {
        tx.tenants.expect_current().returning(|| Ok(tenant()));
        tx.subscriptions.expect_current_with_plan().returning(move || Ok((subscription(status), plan(10))));
    }

    fn app_with_file(txs: Vec<FakeTx>, csv: &str) -> (crate::App, Arc<MemBlobs>) {
        let mut ports = ports_with_txs(txs);
        let blobs = Arc::new(MemBlobs::default());
        blobs.0.lock().unwrap().insert(FILE.to_owned(), csv.as_bytes().to_vec());
        ports.blobs = blobs.clone();
        (crate::App::new(ports), blobs)
    }

    /// Three new rows with two leads left in the plan: all three are inserted, the batch is
    /// charged for what the plan allows (a refused charge of three, then two), the row past the
    /// limit is taken back in the same transaction and reported as `QUOTA_EXCEEDED` in the result
    /// and in the errors file, the checkpoint commits with the batch, and the audit row counts it.
    #[tokio::test]
    async fn at_the_plan_s_limit_the_first_rows_are_created_and_the_rest_taken_back_and_reported() {
        let job = import_job(None);
        let third = row_lead_id(job.id, 2);
        let mut batch = FakeTx::default();
        batch.leads.expect_existing_keys().times(1).returning(|_, _| Ok(ExistingKeys::expecting(0)));
        batch
            .leads
            .expect_insert_many()
            .withf(|rows, may_exist| rows.len() == 3 && !*may_exist)
            .times(1)
            .returning(|rows, _| Ok(rows.iter().map(|(l, _)| l.id).collect()));
        tenant_and_plan(&mut batch, SubscriptionStatus::Active);
        let mut charges = mockall::Sequence::new();
        batch
            .usage
            .expect_try_increment()
            .withf(|m, _, n, limit| *m == UsageMetric::Leads && *n == 3 && *limit == Limit::AtMost(10))
            .times(1)
            .in_sequence(&mut charges)
            .returning(|_, _, _, _| Ok(Increment::Refused { used: 8, limit: 10 }));
        batch
            .usage
            .expect_try_increment()
            .withf(|_, _, n, _| *n == 2)
            .times(1)
            .in_sequence(&mut charges)
            .returning(|_, _, _, _| Ok(Increment::Counted { value: 10 }));
        batch
            .leads
            .expect_bulk()
            .withf(move |c, ids, v, _| *c == BulkChange::Delete && ids == [third] && *v == LeadVisibility::All)
            .times(1)
            .returning(|_, ids, _, _| Ok(ids.to_vec()));
        batch.jobs.expect_checkpoint().times(1).returning(|_, _, _, _| Ok(false));
        let mut audit = FakeTx::default();
        audit
            .audit
            .expect_append()
            .withf(|e| {
                e.event_type == AuditEventType::LeadImported
                    && e.details.metadata.as_ref().is_some_and(|m| m["created"] == 2 && m["failed"] == 1)
            })
            .times(1)
            .returning(|_| Ok(()));
        let csv = "Company,City\nAlpha,Riyadh\nBeta,Jeddah\nGamma,Dammam\n";
        let (batch_commits, audit_commits) = (batch.commits.clone(), audit.commits.clone());
        let (app, blobs) = app_with_file(vec![creator(SubscriptionStatus::Active), batch, audit], csv);

        let result = app.imports.run_import(&job, &Running).await.unwrap();
        let result: ImportResult = serde_json::from_value(result).unwrap();
        assert_eq!((result.total, result.processed, result.created, result.failed), (3, 3, 2, 1));
        assert_eq!(result.errors.len(), 1);
        assert_eq!((result.errors[0].row, result.errors[0].code), (4, Some(ProblemCode::QuotaExceeded)));
        let errors_file = blobs.get(&crate::files::import_errors_key(job.tenant_id, job.id)).await.unwrap();
        let errors_file = String::from_utf8(errors_file).unwrap();
        assert!(errors_file.contains("Gamma") && !errors_file.contains("Alpha"), "{errors_file}");
        // The rows, their charge, the take-back and the checkpoint commit once, together.
        use std::sync::atomic::Ordering::SeqCst;
        assert_eq!((batch_commits.load(SeqCst), audit_commits.load(SeqCst)), (1, 1));
    }

    /// A run whose tenant's subscription went UNPAID stops before it reads a row: no batch
    /// transaction is begun (none is prepared) and the job fails for good with the contract's code.
    #[tokio::test]
    async fn an_import_whose_subscription_is_unpaid_fails_before_any_row() {
        let (app, _) = app_with_file(vec![creator(SubscriptionStatus::Unpaid)], "Company\nAlpha\n");
        match app.imports.run_import(&import_job(None), &Running).await {
            Err(JobFailure::Permanent(e)) => assert_eq!(e.code, "SUBSCRIPTION_UNPAID"),
            other => panic!("{other:?}"),
        }
    }

    /// A resumed run (its checkpoint past the first batch) stores only the batches after it:
    /// the first batch is read again, not written, and the rows met again count as the checkpoint
    /// says.
    #[tokio::test]
    async fn a_resumed_import_writes_only_the_batches_after_its_checkpoint() {
        let mut csv = String::from("Company\n");
        for i in 0..IMPORT_BATCH + 2 {
            csv.push_str(&format!("Company {i}\n"));
        }
        let done = ImportResult { processed: IMPORT_BATCH, created: IMPORT_BATCH, ..Default::default() };
        let job = Job { attempts: 2, ..import_job(Some(serde_json::to_value(&done).unwrap())) };
        let resumed_from = row_lead_id(job.id, IMPORT_BATCH);
        let mut batch = FakeTx::default();
        batch.leads.expect_existing_keys().times(1).returning(|_, _| Ok(ExistingKeys::expecting(0)));
        batch
            .leads
            .expect_insert_many()
            // A resumed run may meet rows an earlier attempt stored.
            .withf(move |rows, may_exist| rows.len() == 2 && rows[0].0.id == resumed_from && *may_exist)
            .times(1)
            .returning(|rows, _| Ok(rows.iter().map(|(l, _)| l.id).collect()));
        tenant_and_plan(&mut batch, SubscriptionStatus::Active);
        batch.usage.expect_try_increment().times(1).returning(|_, _, _, _| Ok(Increment::Counted { value: 2 }));
        batch.jobs.expect_checkpoint().times(1).returning(|_, _, _, _| Ok(false));
        let mut audit = FakeTx::default();
        audit.audit.expect_append().times(1).returning(|_| Ok(()));
        let (app, _) = app_with_file(vec![creator(SubscriptionStatus::Active), batch, audit], &csv);

        let result: ImportResult =
            serde_json::from_value(app.imports.run_import(&job, &Running).await.unwrap()).unwrap();
        assert_eq!((result.processed, result.created, result.failed), (IMPORT_BATCH + 2, IMPORT_BATCH + 2, 0));
    }

    /// A request abandoned between its upload and its import (the client went away, say) leaves
    /// no file behind: the upload removes its file when dropped.
    #[tokio::test]
    async fn an_upload_dropped_before_its_import_starts_removes_its_file() {
        let mut ports = ports_with_txs(vec![]);
        let mut tokens = MockTokens::new();
        tokens.expect_digest().returning(|| Box::new(CountingDigest(0)));
        ports.tokens = Arc::new(tokens);
        let mut blobs = MockBlobStore::new();
        blobs.expect_put_stream().times(1).returning(|_, _| Ok(10));
        let (removed, seen) = std::sync::mpsc::channel::<String>();
        blobs.expect_delete().times(1).returning(move |key| {
            let _ = removed.send(key.to_owned());
            Ok(())
        });
        ports.blobs = Arc::new(blobs);
        let app = crate::App::new(ports);
        let owner = ctx(Role::Owner, 1);
        let upload = app
            .imports
            .upload_import_file(&owner, leadzone_ports::blobs::once(b"Company\nAlpha\n".to_vec()))
            .await
            .unwrap();
        drop(upload);
        let mut key = None;
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if let Ok(k) = seen.try_recv() {
                key = Some(k);
                break;
            }
        }
        let key = key.expect("the dropped upload's file was removed");
        assert!(key.starts_with(&format!("imports/{}/", owner.tenant_id)), "{key}");
    }
}
