//! The job queue against real Postgres: contention, leases, rescue, cancellation, the scheduler.

use crate::*;
use leadzone_domain::enums::{JobStatus, JobType};
use leadzone_domain::ids::{JobId, TenantId};
use leadzone_ports::jobs::{Finish, JobQueue, JobRepo, Lease, NewJob};
use leadzone_ports::{tx::TenantTx, tx::UnitOfWork};
use leadzone_postgres::{PgJobQueue, PgTenantTx, PgUnitOfWork, PoolConfig, connect};
use std::collections::HashSet;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

async fn queue(db: &TestDb) -> Arc<PgJobQueue> {
    let pool = connect(&db.system_url(), &PoolConfig { max_connections: 12, ..Default::default() }).await.unwrap();
    Arc::new(PgJobQueue::new(pool, &db.system_url()))
}

async fn uow(db: &TestDb) -> PgUnitOfWork {
    PgUnitOfWork::new(connect(&db.app_url(), &PoolConfig::default()).await.unwrap())
}

fn new_job(max_attempts: i32) -> NewJob {
    NewJob {
        id: JobId::from_uuid(uuid::Uuid::now_v7()),
        kind: JobType::Export,
        entity_type: None,
        entity_id: None,
        input: serde_json::json!({}),
        created_by: USER.parse().unwrap(),
        max_attempts,
        priority: 100,
        idempotency_key: None,
    }
}

async fn enqueue(uow: &PgUnitOfWork, n: usize, max_attempts: i32) -> Vec<JobId> {
    let tenant: TenantId = TENANT_A.parse().unwrap();
    let tx: PgTenantTx = uow.begin_tenant(tenant).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let job = JobRepo::insert(&tx, &new_job(max_attempts), OffsetDateTime::now_utc()).await.unwrap();
        ids.push(job.id);
    }
    Box::new(tx).commit().await.unwrap();
    ids
}

async fn status_of(uow: &PgUnitOfWork, id: JobId) -> leadzone_domain::entities::Job {
    let tx = uow.begin(TENANT_A.parse().unwrap()).await.unwrap();
    tx.jobs().get(id).await.unwrap()
}

/// The job succeeded, with the result the run `by` gave it.
async fn assert_succeeded_by(uow: &PgUnitOfWork, id: JobId, by: &str) {
    let job = status_of(uow, id).await;
    assert_eq!((job.status, job.result.unwrap()["by"].clone()), (JobStatus::Success, serde_json::json!(by)));
}

#[tokio::test]
async fn eight_workers_claim_a_thousand_jobs_each_exactly_once() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let ids: HashSet<JobId> = enqueue(&uow, 1000, 3).await.into_iter().collect();
    let q = queue(&db).await;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let jobs =
                        q.claim(&format!("w{w}"), 7, Duration::seconds(60), OffsetDateTime::now_utc()).await.unwrap();
                    if jobs.is_empty() {
                        break;
                    }
                    for j in jobs {
                        assert!(
                            q.finish(
                                j.id,
                                &format!("w{w}"),
                                j.attempts,
                                &Finish::Success(serde_json::json!({})),
                                OffsetDateTime::now_utc()
                            )
                            .await
                            .unwrap()
                        );
                        mine.push(j.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    assert_eq!(all.len(), 1000, "no job ran twice");
    assert_eq!(all.iter().copied().collect::<HashSet<_>>(), ids, "every job ran");
    let owner = db.owner().await;
    assert_eq!(scalar_i64(&owner, "SELECT count(*) FROM jobs WHERE status = 'SUCCESS' AND attempts = 1").await, 1000);
}

#[tokio::test]
async fn a_dead_workers_job_is_rescued_and_finishes_once() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let id = enqueue(&uow, 1, 3).await[0];
    let q = queue(&db).await;
    let t0 = OffsetDateTime::now_utc();
    let claimed = q.claim("doomed", 1, Duration::seconds(5), t0).await.unwrap();
    assert_eq!(claimed[0].id, id);
    // The worker dies: no heartbeat. Before the lease ends nothing happens.
    assert_eq!(q.rescue(t0 + Duration::seconds(4)).await.unwrap().requeued, 0);
    assert_eq!(q.rescue(t0 + Duration::seconds(6)).await.unwrap().requeued, 1);
    let again = q.claim("healthy", 1, Duration::seconds(60), t0 + Duration::seconds(7)).await.unwrap();
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempts, 2);
    // The dead worker cannot finish or extend what is no longer its job.
    assert_eq!(
        q.heartbeat(id, "doomed", 1, Duration::seconds(5), t0 + Duration::seconds(8)).await.unwrap(),
        Lease::Lost
    );
    // Nor checkpoint over the new run: its attempt is over (a handler's transaction then rolls back).
    let tenant: TenantId = TENANT_A.parse().unwrap();
    let tx = uow.begin(tenant).await.unwrap();
    let stale = tx.jobs().checkpoint(&claimed[0], 90, "doomed", &serde_json::json!({"by": "doomed"})).await;
    assert_eq!(stale, Err(leadzone_ports::RepoError::NotFound));
    drop(tx);
    let tx = uow.begin(tenant).await.unwrap();
    assert!(!tx.jobs().checkpoint(&again[0], 40, "healthy", &serde_json::json!({"by": "healthy"})).await.unwrap());
    tx.commit().await.unwrap();
    let job = status_of(&uow, id).await;
    assert_eq!((job.progress, job.message.as_deref()), (40, Some("healthy")));
    assert!(!q.finish(id, "doomed", 1, &Finish::Success(serde_json::json!({"by": "doomed"})), t0).await.unwrap());
    assert!(q.finish(id, "healthy", 2, &Finish::Success(serde_json::json!({"by": "healthy"})), t0).await.unwrap());
    assert_succeeded_by(&uow, id, "healthy").await;
}

/// One worker process may claim again a job that one of its own stale runs still works on (its
/// heartbeats failed for longer than the lease): the attempt tells the two runs apart.
#[tokio::test]
async fn a_stale_run_of_the_same_worker_cannot_touch_its_new_run() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let id = enqueue(&uow, 1, 3).await[0];
    let q = queue(&db).await;
    let t0 = OffsetDateTime::now_utc();
    let stale = q.claim("w", 1, Duration::seconds(5), t0).await.unwrap().remove(0);
    assert_eq!(q.rescue(t0 + Duration::seconds(6)).await.unwrap().requeued, 1);
    let live = q.claim("w", 1, Duration::seconds(60), t0 + Duration::seconds(7)).await.unwrap().remove(0);
    assert_eq!((stale.attempts, live.attempts), (1, 2));
    let later = t0 + Duration::seconds(8);
    assert_eq!(q.heartbeat(id, "w", stale.attempts, Duration::seconds(60), later).await.unwrap(), Lease::Lost);
    q.progress(id, "w", stale.attempts, 99, "stale").await.unwrap();
    for outcome in [
        Finish::Released,
        Finish::Failed(leadzone_domain::entities::JobError {
            code: "FAILED".into(),
            message: "stale".into(),
            stack: None,
        }),
    ] {
        assert!(!q.finish(id, "w", stale.attempts, &outcome, later).await.unwrap(), "{outcome:?}");
    }
    let job = status_of(&uow, id).await;
    assert_eq!((job.status, job.attempts, job.progress), (JobStatus::Running, 2, 0), "untouched by the stale run");
    assert_eq!(
        q.heartbeat(id, "w", live.attempts, Duration::seconds(60), later).await.unwrap(),
        Lease::Held { cancel_requested: false }
    );
    q.progress(id, "w", live.attempts, 40, "live").await.unwrap();
    assert!(
        q.finish(id, "w", live.attempts, &Finish::Success(serde_json::json!({"by": "live"})), later).await.unwrap()
    );
    assert_succeeded_by(&uow, id, "live").await;
}

#[tokio::test]
async fn the_rescuer_fails_a_job_whose_attempts_are_spent_and_never_touches_finished_ones() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let ids = enqueue(&uow, 2, 1).await;
    let q = queue(&db).await;
    let t0 = OffsetDateTime::now_utc();
    let claimed = q.claim("w", 2, Duration::seconds(1), t0).await.unwrap();
    assert_eq!(claimed.len(), 2);
    // One finishes; the other's worker dies.
    assert!(q.finish(ids[0], "w", 1, &Finish::Success(serde_json::json!({})), t0).await.unwrap());
    let r = q.rescue(t0 + Duration::seconds(5)).await.unwrap();
    assert_eq!((r.requeued, r.failed), (0, 1), "one attempt allowed: the lost job fails");
    let failed = status_of(&uow, ids[1]).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.unwrap().code, "LEASE_EXPIRED");
    assert!(failed.completed_at.is_some());
    assert_eq!(status_of(&uow, ids[0]).await.status, JobStatus::Success);
    // Running the rescuer again changes nothing.
    assert_eq!(q.rescue(t0 + Duration::seconds(3600)).await.unwrap(), Default::default());
}

#[tokio::test]
async fn retries_wait_for_their_time_and_cancellation_follows_the_rule() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let ids = enqueue(&uow, 3, 5).await;
    let q = queue(&db).await;
    let t0 = OffsetDateTime::now_utc();
    // Cancel a PENDING job: cancelled at once and never claimed.
    let tx = uow.begin(TENANT_A.parse().unwrap()).await.unwrap();
    let cancelled = tx.jobs().cancel(ids[0], t0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.completed_at.is_some());
    let claimed = q.claim("w", 5, Duration::seconds(60), t0).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<HashSet<_>>(), [ids[1], ids[2]].into_iter().collect());
    // Cancel a RUNNING job: flagged, seen by the heartbeat, cancelled by its worker.
    let tx = uow.begin(TENANT_A.parse().unwrap()).await.unwrap();
    let flagged = tx.jobs().cancel(ids[1], t0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((flagged.status, flagged.cancel_requested), (JobStatus::Running, true));
    assert_eq!(
        q.heartbeat(ids[1], "w", 1, Duration::seconds(60), t0).await.unwrap(),
        Lease::Held { cancel_requested: true }
    );
    assert!(q.finish(ids[1], "w", 1, &Finish::Cancelled, t0).await.unwrap());
    assert_eq!(status_of(&uow, ids[1]).await.status, JobStatus::Cancelled);
    // A retry is not claimable before its time.
    let err = leadzone_domain::entities::JobError { code: "X".into(), message: "flaky".into(), stack: None };
    let at = t0 + leadzone_domain::jobs::retry_delay(1, 0.0);
    assert!(q.finish(ids[2], "w", 1, &Finish::Retry { error: err, at }, t0).await.unwrap());
    assert!(q.claim("w", 5, Duration::seconds(60), t0 + Duration::seconds(15)).await.unwrap().is_empty());
    let later = q.claim("w", 5, Duration::seconds(60), t0 + Duration::seconds(17)).await.unwrap();
    assert_eq!((later[0].id, later[0].attempts), (ids[2], 2));
}

#[tokio::test]
async fn a_scheduled_task_runs_once_across_processes() {
    let db = TestDb::new().await;
    // Two queues with their own pools stand for two worker processes.
    let (a, b) = (queue(&db).await, queue(&db).await);
    let now = OffsetDateTime::now_utc();
    let next = now + Duration::days(1);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let q = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { q.try_schedule("retention", now, next).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1, "one winner per period");
    assert!(!a.try_schedule("retention", now + Duration::hours(23), next + Duration::days(1)).await.unwrap());
    assert!(b.try_schedule("retention", next, next + Duration::days(1)).await.unwrap(), "due again the next day");
}

#[tokio::test]
async fn tenants_see_only_their_own_jobs() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let id = enqueue(&uow, 1, 1).await[0];
    let tx = uow.begin(TENANT_B.parse().unwrap()).await.unwrap();
    assert_eq!(tx.jobs().get(id).await.unwrap_err(), leadzone_ports::RepoError::NotFound);
}
