//! Jobs: enqueueing (with Idempotency-Key), reading, cancelling — and running them. Each job
//! type has one handler, run inside the job's tenant (row-level security applies). Handlers are
//! idempotent: work and checkpoint commit together, so a job resumed after a crash continues
//! where its last checkpoint left it.

use crate::error::ProblemCode;
use crate::leads::Page;
use crate::{AppError, Ctx, policy};
use leadzone_domain::access::LeadScope;
use leadzone_domain::entities::{Job, JobError, JobLog};
use leadzone_domain::enums::{JobStatus, JobType, LogLevel};
use leadzone_domain::ids::JobId;
use leadzone_domain::jobs::{CancelEffect, cancel_effect};
use leadzone_ports::RepoError;
use leadzone_ports::jobs::{JobListQuery, NewJob};
use std::str::FromStr;

/// What a handler may ask of the worker running it.
#[async_trait::async_trait]
pub trait JobControl: Send + Sync {
    /// Reports progress (0–100) and a message; the worker throttles writes.
    async fn progress(&self, progress: i32, message: &str);
    async fn log(&self, level: LogLevel, message: &str, data: Option<serde_json::Value>);
    /// True once cancellation was requested, the lease was lost, or the worker is shutting down:
    /// the handler stops at its next checkpoint.
    fn should_stop(&self) -> bool;
}

/// How a handler run ended, other than with a result.
#[derive(Debug, Clone, PartialEq)]
pub enum JobFailure {
    /// Worth retrying (a database or network hiccup).
    Retryable(JobError),
    /// Retrying cannot help (bad input, missing feature).
    Permanent(JobError),
    /// Stopped at a checkpoint because `should_stop` said so; its work so far is committed.
    Stopped,
}

/// A failed job's public error: one of the API's codes and a message for the tenant.
pub fn job_error(code: ProblemCode, message: impl Into<String>) -> JobError {
    JobError { code: code.as_str().to_owned(), message: message.into(), stack: None }
}

impl From<AppError> for JobFailure {
    /// A failed job speaks the contract: the error's public code and a message written for the
    /// tenant. The text of an internal error (SQL, a driver's message) goes to the log — inside the
    /// worker's span, which names the job — and never into the job that `GET /jobs/{id}` shows.
    fn from(e: AppError) -> Self {
        let code = e.code();
        match e {
            AppError::Unavailable(why) | AppError::Internal(why) => {
                tracing::error!(error = %why, code = code.as_str(), "job step failed");
                JobFailure::Retryable(job_error(code, "Something went wrong on our side; it has been logged."))
            }
            AppError::Validation(errors) => JobFailure::Permanent(job_error(
                code,
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            )),
            AppError::QuotaExceeded { metric, limit, used } => JobFailure::Permanent(job_error(
                code,
                format!("The plan's monthly {} limit is reached ({used} of {limit}).", metric.as_str()),
            )),
            AppError::FeatureDisabled(feature) => JobFailure::Permanent(job_error(
                code,
                format!("The feature {feature} is not enabled for this organization."),
            )),
            AppError::TenantSuspended => JobFailure::Permanent(job_error(code, "The organization is suspended.")),
            AppError::SubscriptionUnpaid => JobFailure::Permanent(job_error(
                code,
                "The subscription is unpaid: the organization can only read until it is paid.",
            )),
            AppError::NotFound => JobFailure::Permanent(job_error(code, "What this job works on no longer exists.")),
            AppError::Forbidden => {
                JobFailure::Permanent(job_error(code, "The member who started this job may no longer do it."))
            }
            other => JobFailure::Permanent(job_error(code, other.to_string())),
        }
    }
}

impl From<RepoError> for JobFailure {
    fn from(e: RepoError) -> Self {
        AppError::from(e).into()
    }
}

/// What `enqueue_with` adds to a plain enqueue.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Enqueue {
    /// The entity the job is about; the tenant when `None`.
    pub entity: Option<(leadzone_domain::enums::JobEntityType, uuid::Uuid)>,
    /// One unit of this metric, counted with the job's insert.
    pub charge: Option<leadzone_domain::enums::UsageMetric>,
}

/// `GET /jobs` parameters, as sent.
#[derive(Debug, Clone, Default)]
pub struct JobListParams {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

crate::service! {
    /// The job queue as tenants see it: enqueue, read, cancel.
    Jobs { ports: [uow, tokens, clock, ids] }
}

impl Jobs {
    /// Enqueues a job, or — with an Idempotency-Key used before in this tenant — returns that first
    /// job. The same key with a different request is 422.
    pub(crate) async fn enqueue(
        &self,
        ctx: &Ctx,
        kind: JobType,
        input: serde_json::Value,
        idempotency: Option<(String, String)>,
    ) -> Result<(Job, bool), AppError> {
        self.enqueue_with(ctx, kind, input, idempotency, Enqueue::default()).await
    }

    /// `enqueue`, for a job about one entity (a lead) or one that costs a unit of the plan when
    /// it is enqueued: the unit is counted in the transaction that inserts the job, so a refused
    /// charge (402) queues nothing, and a replayed Idempotency-Key charges nothing again.
    pub(crate) async fn enqueue_with(
        &self,
        ctx: &Ctx,
        kind: JobType,
        input: serde_json::Value,
        idempotency: Option<(String, String)>,
        options: Enqueue,
    ) -> Result<(Job, bool), AppError> {
        let now = self.clock.now();
        if let Some((key, _)) = &idempotency
            && (key.is_empty() || key.len() > 255)
        {
            return Err(AppError::field("Idempotency-Key", "must be 1–255 characters"));
        }
        let mut input = input;
        if let (Some((_, hash)), Some(obj)) = (&idempotency, input.as_object_mut()) {
            obj.insert("requestHash".into(), serde_json::json!(hash));
        }
        let new = NewJob {
            id: self.ids.new_id().into(),
            kind,
            entity_type: Some(options.entity.map_or(leadzone_domain::enums::JobEntityType::Tenant, |(t, _)| t)),
            entity_id: Some(options.entity.map_or(ctx.tenant_id.as_uuid(), |(_, id)| id)),
            input,
            created_by: ctx.user_id,
            max_attempts: 5,
            priority: 100,
            idempotency_key: idempotency.as_ref().map(|(k, _)| k.clone()),
        };
        if let Some((key, hash)) = &idempotency {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            if let Some(existing) = tx.jobs().by_idempotency_key(key).await? {
                return replay(existing, hash);
            }
        }
        let tx = self.uow.begin(ctx.tenant_id).await?;
        if let Some(metric) = options.charge {
            crate::usage::charge(&*tx, now, metric, 1).await?;
        }
        match tx.jobs().insert(&new, now).await {
            Ok(job) => {
                tx.commit().await?;
                Ok((job, false))
            }
            // Another request with the same key won the race: answer as it did.
            Err(RepoError::Conflict(_)) if idempotency.is_some() => {
                drop(tx);
                let (key, hash) = idempotency.unwrap_or_default();
                let tx = self.uow.begin(ctx.tenant_id).await?;
                let existing = tx.jobs().by_idempotency_key(&key).await?.ok_or(AppError::NotFound)?;
                replay(existing, &hash)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A job the actor may see: OWNER and ADMIN see the tenant's jobs, others their own.
    pub async fn get_job(&self, ctx: &Ctx, id: JobId) -> Result<Job, AppError> {
        policy::require_active_tenant(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        visible_job(&*tx, ctx, id).await
    }

    pub async fn list_jobs(&self, ctx: &Ctx, p: JobListParams) -> Result<Page<Job>, AppError> {
        policy::require_active_tenant(ctx)?;
        let mut v = leadzone_domain::error::Validator::new();
        let kind = p
            .kind
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|k| JobType::from_str(k).map_err(|_| v.push("type", "is not a job type")).ok());
        let status = p
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| JobStatus::from_str(s).map_err(|_| v.push("status", "is not a job status")).ok());
        v.finish()?;
        let (limit, after) = crate::lead_actions::parse_time_page(p.limit, p.cursor)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        // Filtered in the query, not after it, so a page is full and its cursor is right.
        let created_by = (ctx.role.lead_scope() != LeadScope::All).then_some(ctx.user_id);
        let rows = tx
            .jobs()
            .list(&JobListQuery {
                kind,
                status,
                created_by,
                after: after.map(|(t, i)| (t, i.into())),
                limit: limit + 1,
            })
            .await?;
        Ok(Page::of_overfetched(rows, limit, |j| crate::lead_actions::encode_time_cursor(j.created_at, j.id.as_uuid())))
    }

    /// The job's first 1,000 log lines, read in the same transaction as the visibility check.
    pub async fn job_logs(&self, ctx: &Ctx, id: JobId) -> Result<Vec<JobLog>, AppError> {
        policy::require_active_tenant(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        visible_job(&*tx, ctx, id).await?;
        Ok(tx.jobs().logs(id, 1000).await?)
    }

    /// PENDING → CANCELLED at once; RUNNING → cancellation requested; finished → 409.
    pub async fn cancel_job(&self, ctx: &Ctx, id: JobId) -> Result<Job, AppError> {
        policy::require_active_tenant(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let job = visible_job(&*tx, ctx, id).await?;
        match cancel_effect(job.status) {
            CancelEffect::Refuse => {
                Err(AppError::InvalidStateTransition { from: job.status.to_string(), to: "CANCELLED".into() })
            }
            CancelEffect::CancelNow | CancelEffect::RequestStop => {
                let after = tx.jobs().cancel(id, self.clock.now()).await?;
                tx.commit().await?;
                if after.status.is_finished() && after.status != JobStatus::Cancelled {
                    // It finished between our read and the cancel.
                    return Err(AppError::InvalidStateTransition {
                        from: after.status.to_string(),
                        to: "CANCELLED".into(),
                    });
                }
                Ok(after)
            }
        }
    }
}

/// The job runner: the one place that knows every capability's job.
impl crate::App {
    /// Runs one claimed job to its end (the worker records the outcome).
    pub async fn run_job(&self, job: &Job, control: &dyn JobControl) -> Result<serde_json::Value, JobFailure> {
        match job.kind {
            JobType::Import => self.imports.run_import(job, control).await,
            JobType::Export => self.exports.run_export(job, control).await,
            JobType::Search => self.discovery.run_search(job, control).await,
            JobType::Reveal => self.discovery.run_reveal(job, control).await,
            JobType::Survey => self.intelligence.run_survey(job, control).await,
            JobType::Report => self.intelligence.run_report(job, control).await,
            JobType::WhatsApp => self.whatsapp.run_whatsapp(job, control).await,
            JobType::WhatsAppBulk => self.whatsapp.run_whatsapp_bulk(job, control).await,
            JobType::Sync => self.integrations.run_sync(job, control).await,
        }
    }
}

/// Writes a running job's checkpoint (and progress) in `tx`, the transaction of the work it
/// covers; true when cancellation was requested. An attempt that is over (its lease expired and
/// the job was rescued) stops here: the work rolls back and whoever holds the job now redoes it.
pub(crate) async fn checkpoint_in(
    tx: &dyn leadzone_ports::tx::TenantTx,
    job: &Job,
    progress: i32,
    message: &str,
    state: &impl serde::Serialize,
) -> Result<bool, JobFailure> {
    match tx.jobs().checkpoint(job, progress, message, &serde_json::to_value(state).unwrap_or_default()).await {
        Ok(cancel) => Ok(cancel),
        Err(RepoError::NotFound) => Err(JobFailure::Stopped),
        Err(e) => Err(e.into()),
    }
}

/// The lead a job about one lead works on (its input's `leadId`).
pub(crate) fn job_lead(job: &Job) -> Result<leadzone_domain::ids::LeadId, JobFailure> {
    job.input
        .as_ref()
        .and_then(|i| i.get("leadId"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or_else(|| JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "the job names no lead")))
}

impl Jobs {
    /// The audit row of a job that did its work (`LEAD_IMPORTED`, `LEAD_EXPORTED`,
    /// `LEAD_SEARCHED`…), naming the job, in a transaction of its own.
    pub(crate) async fn audit_job(
        &self,
        ctx: &Ctx,
        job: &Job,
        event: leadzone_domain::enums::AuditEventType,
        action: &str,
        metadata: serde_json::Value,
    ) -> Result<(), RepoError> {
        let tx = self.uow.begin(job.tenant_id).await?;
        tx.audit()
            .append(&crate::audit::entry(
                &*self.ids,
                ctx,
                event,
                Some((leadzone_domain::enums::AuditEntityType::Job, job.id.as_uuid())),
                action,
                leadzone_domain::entities::AuditDetails { metadata: Some(metadata), ..Default::default() },
            ))
            .await?;
        tx.commit().await
    }

    /// A finished job's file (`key` of its tenant and id) when `job` is a successful job of
    /// `kind` the caller may see; NotFound otherwise.
    pub(crate) async fn finished_job_file(
        &self,
        ctx: &Ctx,
        id: JobId,
        kind: JobType,
        key: fn(leadzone_domain::ids::TenantId, JobId) -> String,
    ) -> Result<crate::files::BlobRef, AppError> {
        let job = self.get_job(ctx, id).await?;
        if job.kind != kind || job.status != JobStatus::Success {
            return Err(AppError::NotFound);
        }
        Ok(crate::files::BlobRef::new(key(job.tenant_id, job.id)))
    }

    /// The creator's context as of now, for a job running on their behalf: a removed or
    /// suspended member's jobs stop, a demoted one's shrink.
    pub(crate) async fn creator_ctx(&self, job: &Job) -> Result<Ctx, JobFailure> {
        let tx = self.uow.begin(job.tenant_id).await?;
        let membership = match tx.memberships().get_by_user(job.created_by).await {
            Ok(m) if m.status == leadzone_domain::enums::MembershipStatus::Active => m,
            Ok(_) | Err(leadzone_ports::RepoError::NotFound) => {
                return Err(JobFailure::Permanent(job_error(
                    crate::error::ProblemCode::Forbidden,
                    "the member who started this job can no longer act",
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let tenant = tx.tenants().current().await?;
        let (subscription, _) = tx.subscriptions().current_with_plan().await?;
        Ok(Ctx::on_behalf_of(
            job.created_by,
            job.tenant_id,
            membership.role,
            crate::ClientInfo::default(),
            tenant.status,
            Some(subscription.status),
        ))
    }

    /// Enqueues a job about one lead (SURVEY, REVEAL, REPORT): the lead is its entity and its
    /// input; an Idempotency-Key replays the first answer.
    pub(crate) async fn enqueue_for_lead(
        &self,
        ctx: &Ctx,
        kind: JobType,
        lead: leadzone_domain::ids::LeadId,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        let input = serde_json::json!({"leadId": lead});
        // Hashed only when there is a key to remember it by.
        let idempotency = idempotency_key.map(|k| (k, self.tokens.hash(&format!("{kind}:{input}"))));
        let options =
            Enqueue { entity: Some((leadzone_domain::enums::JobEntityType::Lead, lead.as_uuid())), charge: None };
        self.enqueue_with(ctx, kind, input, idempotency, options).await
    }
}

/// A job of the tenant that the actor may see: OWNER and ADMIN see all, others their own.
async fn visible_job(tx: &dyn leadzone_ports::tx::TenantTx, ctx: &Ctx, id: JobId) -> Result<Job, AppError> {
    let job = tx.jobs().get(id).await?;
    if ctx.role.lead_scope() != LeadScope::All && job.created_by != ctx.user_id {
        return Err(AppError::NotFound);
    }
    Ok(job)
}

/// The answer to a request whose Idempotency-Key was used before in this tenant: the first
/// answer again (api.md: same status and body), which is the job as it was enqueued, not as it is
/// now. The same key with a different request is 422.
pub(crate) fn replay(existing: Job, hash: &str) -> Result<(Job, bool), AppError> {
    let same = existing.input.as_ref().and_then(|i| i.get("requestHash")).and_then(|h| h.as_str()) == Some(hash);
    if same {
        Ok((as_enqueued(existing), true))
    } else {
        Err(AppError::field("Idempotency-Key", "was already used with a different request"))
    }
}

/// A job as `JobRepo::insert` returned it when it was enqueued: everything the queue changes
/// afterwards (status, progress, message, result, error, run times, attempts, cancellation, the
/// next run) back to its initial value. What the first answer showed — id, type, input, entity,
/// creator, creation time — never changes, so this is exactly the first answer's job.
pub(crate) fn as_enqueued(job: Job) -> Job {
    Job {
        status: JobStatus::Pending,
        progress: 0,
        message: None,
        result: None,
        error: None,
        started_at: None,
        completed_at: None,
        attempts: 0,
        run_at: job.created_at,
        cancel_requested: false,
        ..job
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The detail of an internal error is logged with the job id (the worker's span) and kept out
    /// of the job's public error; the tenant's errors keep their contract code.
    #[test]
    fn internal_detail_goes_to_the_log_with_the_job_id_not_to_the_job() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let failure = tracing::subscriber::with_default(subscriber, || {
            let _span = tracing::info_span!("job", job = "job-42").entered();
            JobFailure::from(AppError::Internal("duplicate key violates \"leads_pkey\": SELECT 1".into()))
        });
        let JobFailure::Retryable(error) = failure else { panic!("an internal error is retried") };
        assert_eq!(error.code, "INTERNAL");
        assert!(!error.message.contains("leads_pkey") && !error.message.contains("SELECT"), "{}", error.message);
        let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("job-42") && log.contains("leads_pkey"), "{log}");

        let quota = AppError::QuotaExceeded { metric: leadzone_domain::enums::UsageMetric::Leads, limit: 10, used: 10 };
        let JobFailure::Permanent(error) = JobFailure::from(quota) else { panic!("a quota is not retried") };
        assert_eq!(error.code, "QUOTA_EXCEEDED");
        let JobFailure::Permanent(error) = JobFailure::from(AppError::TenantSuspended) else { panic!() };
        assert_eq!(error.code, "TENANT_SUSPENDED");
    }
}
