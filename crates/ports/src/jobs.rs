//! The job queue (architecture.md, Jobs). Two sides:
//! - `JobRepo`, inside a tenant transaction: enqueue, read, cancel, checkpoint (row-level
//!   security applies — a tenant only ever sees its own jobs);
//! - `JobQueue`, the workers' cross-tenant side: claim with `FOR UPDATE SKIP LOCKED`, heartbeat
//!   the lease, finish, rescue expired leases, wait for `NOTIFY`, and run scheduled work once.

use crate::RepoError;
use leadzone_domain::entities::{Job, JobError, JobLog};
use leadzone_domain::enums::{JobEntityType, JobStatus, JobType, LogLevel};
use leadzone_domain::ids::{JobId, TenantId, UserId};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: JobType,
    pub entity_type: Option<JobEntityType>,
    pub entity_id: Option<uuid::Uuid>,
    pub input: serde_json::Value,
    pub created_by: UserId,
    pub max_attempts: i32,
    pub priority: i32,
    pub idempotency_key: Option<String>,
}

/// Filters of `GET /jobs`, and where the previous page ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobListQuery {
    pub kind: Option<JobType>,
    pub status: Option<JobStatus>,
    /// Only jobs this user started (roles that see their own jobs only).
    pub created_by: Option<UserId>,
    pub after: Option<(OffsetDateTime, JobId)>,
    pub limit: u64,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait JobRepo: Send + Sync {
    /// Enqueues a job (PENDING, runnable now) and wakes the workers when the transaction commits.
    ///
    /// # Errors
    /// `Conflict` when the idempotency key is already used in this tenant.
    async fn insert(&self, job: &NewJob, now: OffsetDateTime) -> Result<Job, RepoError>;
    /// # Errors
    /// `NotFound` when no such job exists in this tenant.
    async fn get(&self, id: JobId) -> Result<Job, RepoError>;
    async fn by_idempotency_key(&self, key: &str) -> Result<Option<Job>, RepoError>;
    /// Newest first.
    async fn list(&self, query: &JobListQuery) -> Result<Vec<Job>, RepoError>;
    /// Oldest first, at most `limit`.
    async fn logs(&self, id: JobId, limit: u64) -> Result<Vec<JobLog>, RepoError>;
    /// PENDING → CANCELLED now; RUNNING → `cancel_requested`. Returns the job after the change.
    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<Job, RepoError>;
    /// Saves a running job's progress and partial result in the handler's own transaction, so that
    /// work and checkpoint commit together. Returns whether cancellation was requested.
    ///
    /// `job` is the run as it was claimed: the checkpoint holds only while that same attempt is
    /// running. A worker whose lease expired — the job rescued and perhaps claimed again, by
    /// another worker or by this one — gets `NotFound` and writes nothing, so its transaction
    /// rolls back instead of overwriting the new run's counts.
    async fn checkpoint(
        &self,
        job: &Job,
        progress: i32,
        message: &str,
        result: &serde_json::Value,
    ) -> Result<bool, RepoError>;
}

/// A worker's view of its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Still ours; `cancel_requested` tells the handler to stop at its next checkpoint.
    Held { cancel_requested: bool },
    /// Rescued or finished by someone else: stop without writing anything.
    Lost,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Success(serde_json::Value),
    /// Failed for good (attempts spent, or an error that retrying cannot fix).
    Failed(JobError),
    /// Back to PENDING, to run again at `at`.
    Retry {
        error: JobError,
        at: OffsetDateTime,
    },
    Cancelled,
    /// Graceful shutdown: back to PENDING without spending the attempt.
    Released,
}

/// What the rescuer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescued {
    pub requeued: u64,
    pub failed: u64,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait JobQueue: Send + Sync {
    /// Claims up to `n` runnable jobs (PENDING, `run_at` due), by priority then `run_at`, marking
    /// them RUNNING with a lease of `lease` for `worker` and counting the attempt.
    async fn claim(&self, worker: &str, n: u32, lease: Duration, now: OffsetDateTime) -> Result<Vec<Job>, RepoError>;
    /// Extends the lease while `worker` still holds the job in the claimed `attempt`. The attempt
    /// tells two runs of one worker apart: after a rescue the same worker may claim the job again.
    async fn heartbeat(
        &self,
        id: JobId,
        worker: &str,
        attempt: i32,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Lease, RepoError>;
    /// Progress 0–100 and a message, while `worker` holds the job in `attempt`.
    async fn progress(
        &self,
        id: JobId,
        worker: &str,
        attempt: i32,
        progress: i32,
        message: &str,
    ) -> Result<(), RepoError>;
    async fn log(
        &self,
        job: &Job,
        level: LogLevel,
        message: &str,
        data: Option<serde_json::Value>,
    ) -> Result<(), RepoError>;
    /// Ends the run `attempt` held by `worker`; `false` when the lease was lost meanwhile (nothing
    /// written).
    async fn finish(
        &self,
        id: JobId,
        worker: &str,
        attempt: i32,
        outcome: &Finish,
        now: OffsetDateTime,
    ) -> Result<bool, RepoError>;
    /// Returns RUNNING jobs whose lease expired to PENDING, or FAILED once their attempts are
    /// spent. Never touches a finished job.
    async fn rescue(&self, now: OffsetDateTime) -> Result<Rescued, RepoError>;
    /// Waits until a job is enqueued (`NOTIFY`) or `timeout` passes.
    async fn wait_for_work(&self, timeout: std::time::Duration);
    /// Claims the scheduled task `name` when it is due: exactly one caller across all processes
    /// wins, and the next run is set to `next`.
    async fn try_schedule(&self, name: &str, now: OffsetDateTime, next: OffsetDateTime) -> Result<bool, RepoError>;
}

/// Tables whose old rows are archived before they are removed (data-model.md, Retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveTable {
    WhatsAppMessages,
    AuditLogs,
}

impl ArchiveTable {
    pub const fn name(self) -> &'static str {
        match self {
            Self::WhatsAppMessages => "whatsapp_messages",
            Self::AuditLogs => "audit_logs",
        }
    }
}

/// A finished job past retention (see `RetentionStore::expired_jobs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredJob {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub kind: JobType,
    pub input: Option<serde_json::Value>,
}

/// The retention policy's storage side (system role: it crosses tenants).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes job logs created before `before`; returns how many.
    async fn purge_job_logs(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
    /// Up to `limit` finished jobs completed before `before`, oldest first: what retention
    /// removes, with what locates their files.
    async fn expired_jobs(&self, before: OffsetDateTime, limit: u64) -> Result<Vec<ExpiredJob>, RepoError>;
    /// Deletes these jobs (their logs go with them); returns how many.
    async fn delete_jobs(&self, ids: &[JobId]) -> Result<u64, RepoError>;
    /// Those of `ids` that are tenants (the others were deleted).
    async fn existing_tenants(&self, ids: &[TenantId]) -> Result<Vec<TenantId>, RepoError>;
    /// Up to `limit` rows older than `before`, oldest first, as (id, row as JSON).
    async fn archive_batch(
        &self,
        table: ArchiveTable,
        before: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<(uuid::Uuid, serde_json::Value)>, RepoError>;
    /// Deletes archived rows (audit rows only through this path: the trigger refuses all else).
    async fn delete_archived(&self, table: ArchiveTable, ids: &[uuid::Uuid]) -> Result<u64, RepoError>;
}
