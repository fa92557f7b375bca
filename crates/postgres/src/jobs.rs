//! The job queue on Postgres: `jobs` is the queue. Tenant side (enqueue, read, cancel, checkpoint)
//! runs in a tenant transaction; the worker side (claim with `FOR UPDATE SKIP LOCKED`, leases,
//! finish, rescue, `LISTEN`, the scheduler) runs as `leadzone_system`.

use crate::entities::{job_logs, jobs};
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::stmt;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::{Job, JobLog};
use leadzone_domain::enums::{JobStatus, LogLevel};
use leadzone_domain::ids::JobId;
use leadzone_ports::RepoError;
use leadzone_ports::jobs::{Finish, JobListQuery, JobQueue, JobRepo, Lease, NewJob, Rescued};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Value,
};
use time::{Duration, OffsetDateTime};

/// The channel workers LISTEN on; a trigger NOTIFYs it when a job is enqueued.
pub const JOBS_CHANNEL: &str = "leadzone_jobs";

#[async_trait::async_trait]
impl JobRepo for PgTenantTx {
    async fn insert(&self, job: &NewJob, now: OffsetDateTime) -> Result<Job, RepoError> {
        let model = jobs::ActiveModel {
            id: sea_orm::Set(job.id.as_uuid()),
            tenant_id: sea_orm::Set(self.tid()),
            kind: sea_orm::Set(job.kind.as_str().to_owned()),
            status: sea_orm::Set(JobStatus::Pending.as_str().to_owned()),
            progress: sea_orm::Set(0),
            message: sea_orm::Set(None),
            entity_type: sea_orm::Set(job.entity_type.map(|e| e.as_str().to_owned())),
            entity_id: sea_orm::Set(job.entity_id),
            input: sea_orm::Set(Some(job.input.clone())),
            result: sea_orm::Set(None),
            error: sea_orm::Set(None),
            created_by: sea_orm::Set(job.created_by.as_uuid()),
            created_at: sea_orm::Set(now),
            started_at: sea_orm::Set(None),
            completed_at: sea_orm::Set(None),
            attempts: sea_orm::Set(0),
            max_attempts: sea_orm::Set(job.max_attempts),
            run_at: sea_orm::Set(now),
            locked_by: sea_orm::Set(None),
            locked_until: sea_orm::Set(None),
            priority: sea_orm::Set(job.priority),
            idempotency_key: sea_orm::Set(job.idempotency_key.clone()),
            cancel_requested: sea_orm::Set(false),
        };
        model.insert(&self.txn).await.map_err(db_err)?.try_into()
    }

    async fn get(&self, id: JobId) -> Result<Job, RepoError> {
        jobs::Entity::find_by_id(id.as_uuid()).filter(jobs::Column::TenantId.eq(self.tid())).found(&self.txn).await
    }

    async fn by_idempotency_key(&self, key: &str) -> Result<Option<Job>, RepoError> {
        jobs::Entity::find()
            .filter(jobs::Column::TenantId.eq(self.tid()))
            .filter(jobs::Column::IdempotencyKey.eq(key))
            .maybe(&self.txn)
            .await
    }

    async fn list(&self, q: &JobListQuery) -> Result<Vec<Job>, RepoError> {
        let mut select = jobs::Entity::find().filter(jobs::Column::TenantId.eq(self.tid()));
        if let Some(k) = q.kind {
            select = select.filter(jobs::Column::Kind.eq(k.as_str()));
        }
        if let Some(s) = q.status {
            select = select.filter(jobs::Column::Status.eq(s.as_str()));
        }
        if let Some(user) = q.created_by {
            select = select.filter(jobs::Column::CreatedBy.eq(user.as_uuid()));
        }
        if let Some((at, id)) = q.after {
            select = select.filter(
                Expr::tuple([Expr::col(jobs::Column::CreatedAt), Expr::col(jobs::Column::Id)])
                    .lt(Expr::tuple([Expr::val(at), Expr::val(id.as_uuid())])),
            );
        }
        select
            .order_by_desc(jobs::Column::CreatedAt)
            .order_by_desc(jobs::Column::Id)
            .limit(q.limit)
            .rows(&self.txn)
            .await
    }

    async fn logs(&self, id: JobId, limit: u64) -> Result<Vec<JobLog>, RepoError> {
        job_logs::Entity::find()
            .filter(job_logs::Column::TenantId.eq(self.tid()))
            .filter(job_logs::Column::JobId.eq(id.as_uuid()))
            .order_by_asc(job_logs::Column::CreatedAt)
            .order_by_asc(job_logs::Column::Id)
            .limit(limit)
            .rows(&self.txn)
            .await
    }

    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<Job, RepoError> {
        let changed = jobs::Entity::find()
            .from_raw_sql(stmt(
                "UPDATE jobs SET status = CASE WHEN status = 'PENDING' THEN 'CANCELLED' ELSE status END,
                                 completed_at = CASE WHEN status = 'PENDING' THEN $3 ELSE completed_at END,
                                 cancel_requested = cancel_requested OR status = 'RUNNING'
                  WHERE tenant_id = $1 AND id = $2 AND status IN ('PENDING', 'RUNNING')
                  RETURNING *",
                vec![self.tid().into(), id.as_uuid().into(), now.into()],
            ))
            .one(&self.txn)
            .await
            .map_err(db_err)?;
        match changed {
            Some(row) => Job::try_from(row),
            // Already finished (returned as it is) or not this tenant's (NotFound).
            None => JobRepo::get(self, id).await,
        }
    }

    async fn checkpoint(
        &self,
        job: &Job,
        progress: i32,
        message: &str,
        result: &serde_json::Value,
    ) -> Result<bool, RepoError> {
        // Every claim counts an attempt and a release gives it back while the job is PENDING, so
        // a RUNNING job never again shows an attempt number that a rescue took from a worker.
        let row = self
            .txn
            .query_one_raw(stmt(
                "UPDATE jobs SET progress = $3, message = $4, result = $5
                  WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING' AND attempts = $6
                  RETURNING cancel_requested",
                vec![
                    self.tid().into(),
                    job.id.as_uuid().into(),
                    progress.clamp(0, 100).into(),
                    message.into(),
                    result.clone().into(),
                    job.attempts.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => r.try_get::<bool>("", "cancel_requested").map_err(db_err),
            None => Err(RepoError::NotFound),
        }
    }
}

/// The workers' side of the queue.
pub struct PgJobQueue {
    db: DatabaseConnection,
    listen_url: String,
    listener: tokio::sync::Mutex<Option<sea_orm::sqlx::postgres::PgListener>>,
}

impl PgJobQueue {
    /// `db` is a pool of `leadzone_system`; `listen_url` is its URL, for the LISTEN connection.
    pub fn new(db: DatabaseConnection, listen_url: &str) -> Self {
        Self { db, listen_url: listen_url.to_owned(), listener: tokio::sync::Mutex::new(None) }
    }
}

#[derive(FromQueryResult)]
struct StatusRow {
    status: String,
}

#[async_trait::async_trait]
impl JobQueue for PgJobQueue {
    async fn claim(&self, worker: &str, n: u32, lease: Duration, now: OffsetDateTime) -> Result<Vec<Job>, RepoError> {
        let rows = jobs::Entity::find()
            .from_raw_sql(stmt(
                "UPDATE jobs SET status = 'RUNNING', locked_by = $1, locked_until = $2, attempts = attempts + 1,
                                 started_at = COALESCE(started_at, $3)
                  WHERE id IN (SELECT id FROM jobs
                                WHERE status = 'PENDING' AND run_at <= $3
                                ORDER BY priority, run_at
                                FOR UPDATE SKIP LOCKED
                                LIMIT $4)
                  RETURNING *",
                vec![worker.into(), (now + lease).into(), now.into(), i64::from(n).into()],
            ))
            .all(&self.db)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(Job::try_from).collect()
    }

    async fn heartbeat(
        &self,
        id: JobId,
        worker: &str,
        attempt: i32,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Lease, RepoError> {
        let row = self
            .db
            .query_one_raw(stmt(
                "UPDATE jobs SET locked_until = $3
                  WHERE id = $1 AND locked_by = $2 AND attempts = $4 AND status = 'RUNNING'
                 RETURNING cancel_requested",
                vec![id.as_uuid().into(), worker.into(), (now + lease).into(), attempt.into()],
            ))
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Lease::Held { cancel_requested: r.try_get("", "cancel_requested").map_err(db_err)? }),
            None => Ok(Lease::Lost),
        }
    }

    async fn progress(
        &self,
        id: JobId,
        worker: &str,
        attempt: i32,
        progress: i32,
        message: &str,
    ) -> Result<(), RepoError> {
        self.db
            .execute_raw(stmt(
                "UPDATE jobs SET progress = $3, message = $4
                  WHERE id = $1 AND locked_by = $2 AND attempts = $5 AND status = 'RUNNING'",
                vec![id.as_uuid().into(), worker.into(), progress.clamp(0, 100).into(), message.into(), attempt.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn log(
        &self,
        job: &Job,
        level: LogLevel,
        message: &str,
        data: Option<serde_json::Value>,
    ) -> Result<(), RepoError> {
        self.db
            .execute_raw(stmt(
                "INSERT INTO job_logs (id, tenant_id, job_id, level, message, data) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    uuid::Uuid::now_v7().into(),
                    job.tenant_id.as_uuid().into(),
                    job.id.as_uuid().into(),
                    level.as_str().into(),
                    message.into(),
                    data.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn finish(
        &self,
        id: JobId,
        worker: &str,
        attempt: i32,
        outcome: &Finish,
        now: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let owned = "WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'RUNNING'";
        let (sql, extra): (String, Vec<Value>) = match outcome {
            Finish::Success(result) => (
                format!(
                    "UPDATE jobs SET status = 'SUCCESS', progress = 100, result = $4, error = NULL, completed_at = $5, locked_by = NULL, locked_until = NULL {owned}"
                ),
                vec![result.clone().into(), now.into()],
            ),
            Finish::Failed(error) => (
                format!(
                    "UPDATE jobs SET status = 'FAILED', error = $4, completed_at = $5, locked_by = NULL, locked_until = NULL {owned}"
                ),
                vec![serde_json::to_value(error).unwrap_or_default().into(), now.into()],
            ),
            Finish::Retry { error, at } => (
                format!(
                    "UPDATE jobs SET status = 'PENDING', error = $4, run_at = $5, locked_by = NULL, locked_until = NULL {owned}"
                ),
                vec![serde_json::to_value(error).unwrap_or_default().into(), (*at).into()],
            ),
            Finish::Cancelled => (
                format!(
                    "UPDATE jobs SET status = 'CANCELLED', completed_at = $4, locked_by = NULL, locked_until = NULL {owned}"
                ),
                vec![now.into()],
            ),
            Finish::Released => (
                format!(
                    "UPDATE jobs SET status = 'PENDING', attempts = GREATEST(attempts - 1, 0), locked_by = NULL, locked_until = NULL {owned}"
                ),
                vec![],
            ),
        };
        let mut values: Vec<Value> = vec![id.as_uuid().into(), worker.into(), attempt.into()];
        values.extend(extra);
        let res = self.db.execute_raw(stmt(&sql, values)).await.map_err(db_err)?;
        Ok(res.rows_affected() == 1)
    }

    async fn rescue(&self, now: OffsetDateTime) -> Result<Rescued, RepoError> {
        let rows = StatusRow::find_by_statement(stmt(
            "UPDATE jobs SET
                status = CASE WHEN attempts >= max_attempts THEN 'FAILED' ELSE 'PENDING' END,
                error = CASE WHEN attempts >= max_attempts
                             THEN jsonb_build_object('code', 'LEASE_EXPIRED',
                                  'message', 'the worker running this job stopped responding, ' || attempts || ' time(s)')
                             ELSE error END,
                completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END,
                locked_by = NULL, locked_until = NULL
              WHERE status = 'RUNNING' AND locked_until < $1
              RETURNING status",
            vec![now.into()],
        ))
        .all(&self.db)
        .await
        .map_err(db_err)?;
        let failed = rows.iter().filter(|r| r.status == "FAILED").count() as u64;
        Ok(Rescued { requeued: rows.len() as u64 - failed, failed })
    }

    async fn wait_for_work(&self, timeout: std::time::Duration) {
        let mut guard = self.listener.lock().await;
        if guard.is_none() {
            match sea_orm::sqlx::postgres::PgListener::connect(&self.listen_url).await {
                Ok(mut l) => {
                    if l.listen(JOBS_CHANNEL).await.is_ok() {
                        *guard = Some(l);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for jobs; polling"),
            }
        }
        match guard.as_mut() {
            Some(listener) => match tokio::time::timeout(timeout, listener.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "job LISTEN connection lost; reconnecting");
                    *guard = None;
                }
            },
            None => {
                drop(guard);
                tokio::time::sleep(timeout).await;
            }
        }
    }

    async fn try_schedule(&self, name: &str, now: OffsetDateTime, next: OffsetDateTime) -> Result<bool, RepoError> {
        let res = self
            .db
            .execute_raw(stmt(
                "INSERT INTO scheduler_state (name, next_run_at) VALUES ($1, $3)
                 ON CONFLICT (name) DO UPDATE SET next_run_at = EXCLUDED.next_run_at
                   WHERE scheduler_state.next_run_at <= $2",
                vec![name.into(), now.into(), next.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected() == 1)
    }
}
