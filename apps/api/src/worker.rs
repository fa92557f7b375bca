//! The job runner: claims jobs from the queue, runs each through its handler with a lease kept
//! alive by heartbeats, and records how it ended. `leadzone serve` runs it beside HTTP
//! (`LEADZONE_WORKERS`), `leadzone worker` runs it alone, so API and workers scale separately.
//!
//! Shutdown: stop claiming, ask running handlers to stop at their next checkpoint, wait up to the
//! grace period, then release what is left back to PENDING (without spending an attempt).

use futures::FutureExt;
use leadzone_app::App;
use leadzone_app::jobs::{JobControl, JobFailure};
use leadzone_app::mail::MailDelivery;
use leadzone_domain::entities::Job;
use leadzone_domain::enums::LogLevel;
use leadzone_ports::jobs::{Finish, JobQueue, Lease, RetentionStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub id: String,
    pub concurrency: usize,
    pub lease: Duration,
    pub poll: Duration,
    pub grace: Duration,
}

impl WorkerConfig {
    pub fn new(concurrency: usize, lease_secs: u64) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        Self {
            id: format!("{host}-{}-{}", std::process::id(), &uuid::Uuid::now_v7().simple().to_string()[24..]),
            concurrency,
            lease: Duration::from_secs(lease_secs.max(2)),
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(10),
        }
    }
}

/// What a running handler sees of its worker.
struct Control {
    queue: Arc<dyn JobQueue>,
    job: Job,
    worker: String,
    stop: Arc<AtomicBool>,
    last_progress: std::sync::Mutex<Option<Instant>>,
}

#[async_trait::async_trait]
impl JobControl for Control {
    async fn progress(&self, progress: i32, message: &str) {
        // At most a few writes a second, however often a handler reports.
        let due = match self.last_progress.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) || progress >= 100;
                if due {
                    *last = Some(Instant::now());
                }
                due
            }
            Err(_) => true,
        };
        if due
            && let Err(e) = self.queue.progress(self.job.id, &self.worker, self.job.attempts, progress, message).await
        {
            tracing::warn!(job = %self.job.id, error = %e, "progress not saved");
        }
    }

    async fn log(&self, level: LogLevel, message: &str, data: Option<serde_json::Value>) {
        if let Err(e) = self.queue.log(&self.job, level, message, data).await {
            tracing::warn!(job = %self.job.id, error = %e, "job log not saved");
        }
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_runs_after_riyadh_midnight() {
        let now = time::macros::datetime!(2026-11-26 22:30 UTC); // 01:30 on the 27th in Riyadh
        assert_eq!(next_riyadh_midnight(now), time::macros::datetime!(2026-11-27 21:00 UTC));
        let now = time::macros::datetime!(2026-11-26 08:00 UTC);
        assert_eq!(next_riyadh_midnight(now), time::macros::datetime!(2026-11-26 21:00 UTC));
    }
}

fn jitter() -> f64 {
    let bits = (uuid::Uuid::now_v7().as_u128() & 0xffff) as f64;
    bits / 65535.0 * 2.0 - 1.0
}

async fn run_one(
    app: App,
    clock: Arc<dyn leadzone_ports::Clock>,
    queue: Arc<dyn JobQueue>,
    job: Job,
    cfg: WorkerConfig,
    shutdown: Arc<AtomicBool>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let cancel_requested = Arc::new(AtomicBool::new(job.cancel_requested));
    let lost = Arc::new(AtomicBool::new(false));
    if job.cancel_requested {
        stop.store(true, Ordering::SeqCst);
    }
    // Heartbeat: keep the lease, learn about cancellation, notice a lost lease, pass on shutdown.
    let beat = {
        let (queue, id, attempt, worker, lease) = (queue.clone(), job.id, job.attempts, cfg.id.clone(), cfg.lease);
        let (stop, cancel_requested, lost, shutdown) =
            (stop.clone(), cancel_requested.clone(), lost.clone(), shutdown.clone());
        let clock = clock.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if shutdown.load(Ordering::SeqCst) {
                    stop.store(true, Ordering::SeqCst);
                }
                let now = clock.now();
                match queue
                    .heartbeat(
                        id,
                        &worker,
                        attempt,
                        time::Duration::try_from(lease).unwrap_or(time::Duration::MINUTE),
                        now,
                    )
                    .await
                {
                    Ok(Lease::Held { cancel_requested: c }) => {
                        if c {
                            cancel_requested.store(true, Ordering::SeqCst);
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    Ok(Lease::Lost) => {
                        lost.store(true, Ordering::SeqCst);
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "heartbeat failed"),
                }
            }
        })
    };
    let control = Control {
        queue: queue.clone(),
        job: job.clone(),
        worker: cfg.id.clone(),
        stop: stop.clone(),
        last_progress: std::sync::Mutex::new(None),
    };
    // A panicking handler is a failed job, not a dead worker task with a job stuck in RUNNING.
    // Every line the handler logs names the job, so an internal error kept out of the job's public
    // `error` is found in the log by the job id.
    let span = tracing::info_span!("job", job = %job.id, kind = %job.kind);
    let outcome = match std::panic::AssertUnwindSafe(app.run_job(&job, &control).instrument(span)).catch_unwind().await
    {
        Ok(outcome) => outcome,
        Err(_) => Err(JobFailure::Permanent(leadzone_app::jobs::job_error(
            leadzone_app::error::ProblemCode::Internal,
            "the job's handler crashed",
        ))),
    };
    beat.abort();
    let now = clock.now();
    let finish = match outcome {
        Ok(result) => Finish::Success(result),
        Err(JobFailure::Stopped) if lost.load(Ordering::SeqCst) => {
            tracing::warn!(job = %job.id, "lease lost; another worker owns the job now");
            return;
        }
        Err(JobFailure::Stopped) if cancel_requested.load(Ordering::SeqCst) => Finish::Cancelled,
        Err(JobFailure::Stopped) => Finish::Released,
        Err(JobFailure::Permanent(error)) => Finish::Failed(error),
        Err(JobFailure::Retryable(error)) if job.attempts >= job.max_attempts => Finish::Failed(error),
        Err(JobFailure::Retryable(error)) => {
            Finish::Retry { at: now + leadzone_domain::jobs::retry_delay(job.attempts, jitter()), error }
        }
    };
    match queue.finish(job.id, &cfg.id, job.attempts, &finish, now).await {
        Ok(true) => {
            // Logged only by the run that still held the job: a stale one's error is not the job's.
            if let Finish::Failed(e) | Finish::Retry { error: e, .. } = &finish {
                control.log(LogLevel::Error, &format!("{}: {}", e.code, e.message), None).await;
            }
            match &finish {
                Finish::Success(result) => app.webhooks.emit_job_end(&job, Ok(result)).await,
                Finish::Failed(e) => app.webhooks.emit_job_end(&job, Err((&e.code, &e.message))).await,
                Finish::Retry { .. } | Finish::Cancelled | Finish::Released => {}
            }
            tracing::info!(job = %job.id, kind = %job.kind, outcome = finish_name(&finish), "job finished")
        }
        Ok(false) => tracing::warn!(job = %job.id, "job was taken back before it finished; result dropped"),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "could not record the job's end; the rescuer will retry it")
        }
    }
}

/// How a run ended, for the log.
fn finish_name(finish: &Finish) -> &'static str {
    match finish {
        Finish::Success(_) => "success",
        Finish::Failed(_) => "failed",
        Finish::Retry { .. } => "retry",
        Finish::Cancelled => "cancelled",
        Finish::Released => "released",
    }
}

/// The daily tasks a worker may win (today the retention policy), and mail delivery.
#[derive(Clone)]
pub struct Scheduled {
    pub retention: Arc<dyn RetentionStore>,
    pub mail: Arc<MailDelivery>,
    pub webhooks: Arc<leadzone_app::webhooks::WebhookDeliverer>,
    pub slack: Arc<leadzone_app::slack::SlackDeliverer>,
    /// The worker's clock: leases, schedules, a job's finish.
    pub clock: Arc<dyn leadzone_ports::Clock>,
    /// The blob store (retention archives to it what it removes; `copy-files` copies into it).
    pub blobs: Arc<dyn leadzone_ports::blobs::BlobStore>,
}

/// Delivers due outbound webhooks until `shutdown`: a round every second (the next one at once
/// while rounds come back full). Each process runs one; claims are leased, so two processes never
/// send one attempt twice.
async fn deliver_webhooks(
    webhooks: Arc<leadzone_app::webhooks::WebhookDeliverer>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        let full = match webhooks.deliver_due().await {
            Ok(n) => n >= 50,
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery round failed");
                false
            }
        };
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
    }
}

/// Posts due Slack messages until `shutdown`: a round every 250 ms (a tenant's next message goes
/// a second after its last at the earliest, so this keeps the pace close to Slack's one a
/// second), and every hour the messages older than 30 days are forgotten. Claims are leased.
async fn deliver_slack(slack: Arc<leadzone_app::slack::SlackDeliverer>, mut shutdown: watch::Receiver<bool>) {
    let mut last_purge: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_purge = Some(Instant::now());
            if let Err(e) = slack.purge().await {
                tracing::warn!(error = %e, "old Slack messages could not be purged");
            }
        }
        if let Err(e) = slack.deliver_due().await {
            tracing::warn!(error = %e, "Slack delivery round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
}

/// Delivers queued mail until `shutdown`: a round every second (the next one at once while rounds
/// come back full), and every minute the erasure of bodies older than 7 days. Each process runs
/// one; the outbox's leases keep two processes from sending the same mail.
async fn deliver_mail(mail: Arc<MailDelivery>, mut shutdown: watch::Receiver<bool>) {
    let mut last_erase: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if last_erase.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            last_erase = Some(Instant::now());
            match mail.erase_expired().await {
                Ok(n) if n > 0 => tracing::info!(erased = n, "mail bodies older than 7 days erased"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "erasing old mail bodies failed; retried in a minute"),
            }
        }
        let full = match mail.deliver_due().await {
            Ok(report) => report.claimed() >= leadzone_app::mail::BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "mail delivery round failed");
                false
            }
        };
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
    }
}

/// The start of the next day in Riyadh (UTC+3), where most tenants live: quiet hours.
fn next_riyadh_midnight(now: time::OffsetDateTime) -> time::OffsetDateTime {
    let riyadh = time::UtcOffset::from_hms(3, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let local = now.to_offset(riyadh);
    (local.date() + time::Duration::days(1)).midnight().assume_offset(riyadh).to_offset(time::UtcOffset::UTC)
}

async fn maybe_run_scheduled(app: &App, queue: &Arc<dyn JobQueue>, scheduled: &Scheduled) {
    let now = scheduled.clock.now();
    match queue.try_schedule("retention", now, next_riyadh_midnight(now)).await {
        Ok(true) => {
            let (store, blobs) = (scheduled.retention.clone(), scheduled.blobs.clone());
            tokio::spawn(async move {
                match leadzone_app::retention::run_retention(&*store, &*blobs, now).await {
                    Ok(report) => tracing::info!(?report, "retention done"),
                    Err(e) => tracing::error!(error = %e, "retention failed; it runs again tomorrow"),
                }
            });
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "scheduler check failed"),
    }
    // WhatsApp templates' review status: every 15 minutes, on one worker.
    match queue.try_schedule("whatsapp_templates", now, now + time::Duration::minutes(15)).await {
        Ok(true) => match app.whatsapp.sync_all_templates().await {
            Ok(n) if n > 0 => tracing::info!(tenants = n, "WhatsApp templates synced"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WhatsApp template sync failed; retried in 15 minutes"),
        },
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "scheduler check failed"),
    }
    // Scheduled CRM syncs (`config.syncEveryMinutes`): checked every minute, on one worker.
    match queue.try_schedule("integration_syncs", now, now + time::Duration::MINUTE).await {
        Ok(true) => match app.integrations.run_scheduled_syncs().await {
            Ok(n) if n > 0 => tracing::info!(started = n, "scheduled CRM syncs started"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled CRM syncs failed; retried in a minute"),
        },
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "scheduler check failed"),
    }
    // Billing periods: hourly, on one worker.
    match queue.try_schedule("billing_periods", now, now + time::Duration::HOUR).await {
        Ok(true) => match app.billing.run_billing_periods(now).await {
            Ok(n) if n > 0 => tracing::info!(changed = n, "billing periods applied"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "billing periods failed; retried next hour"),
        },
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "scheduler check failed"),
    }
}

/// Runs workers until `shutdown` turns true, then drains within the grace period.
pub async fn run(
    app: App,
    queue: Arc<dyn JobQueue>,
    scheduled: Scheduled,
    cfg: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    if cfg.concurrency == 0 {
        return;
    }
    tracing::info!(worker = %cfg.id, concurrency = cfg.concurrency, "job worker started");
    let mut mail_task = tokio::spawn(deliver_mail(scheduled.mail.clone(), shutdown.clone()));
    let webhooks_task = tokio::spawn(deliver_webhooks(scheduled.webhooks.clone(), shutdown.clone()));
    let slack_task = tokio::spawn(deliver_slack(scheduled.slack.clone(), shutdown.clone()));
    let stopping = Arc::new(AtomicBool::new(false));
    let mut running: JoinSet<()> = JoinSet::new();
    let mut last_rescue = Instant::now() - cfg.lease;
    let mut last_schedule_check: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if last_schedule_check.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            last_schedule_check = Some(Instant::now());
            maybe_run_scheduled(&app, &queue, &scheduled).await;
        }
        while running.try_join_next().is_some() {}
        if last_rescue.elapsed() >= cfg.lease / 2 {
            last_rescue = Instant::now();
            match queue.rescue(scheduled.clock.now()).await {
                Ok(r) if r.requeued + r.failed > 0 => {
                    tracing::warn!(requeued = r.requeued, failed = r.failed, "rescued jobs with expired leases")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "rescue failed"),
            }
        }
        let free = cfg.concurrency.saturating_sub(running.len());
        let mut claimed = 0;
        if free > 0 {
            let lease = time::Duration::try_from(cfg.lease).unwrap_or(time::Duration::MINUTE);
            match queue.claim(&cfg.id, free as u32, lease, scheduled.clock.now()).await {
                Ok(jobs) => {
                    claimed = jobs.len();
                    for job in jobs {
                        running.spawn(run_one(
                            app.clone(),
                            scheduled.clock.clone(),
                            queue.clone(),
                            job,
                            cfg.clone(),
                            stopping.clone(),
                        ));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claim failed"),
            }
        }
        if claimed == 0 || running.len() >= cfg.concurrency {
            tokio::select! {
                _ = queue.wait_for_work(cfg.poll) => {}
                _ = shutdown.changed() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
    }
    tracing::info!(
        running = running.len(),
        "worker stopping: no new claims; running jobs stop at their next checkpoint"
    );
    stopping.store(true, Ordering::SeqCst);
    let drained =
        tokio::time::timeout(cfg.grace + cfg.lease / 3, async { while running.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        // Past the grace period: abandon what is left; its lease expires and the rescuer requeues it.
        running.abort_all();
    }
    // A mail being handed over when the grace period ends is sent again once its lease expires.
    if tokio::time::timeout(cfg.grace, &mut mail_task).await.is_err() {
        mail_task.abort();
    }
    // A webhook being sent then is claimed again once its lease expires (same `webhook-id`).
    webhooks_task.abort();
    // Likewise a Slack message (a crash right after Slack answered posts it twice: at least once).
    slack_task.abort();
    tracing::info!("job worker stopped");
}
