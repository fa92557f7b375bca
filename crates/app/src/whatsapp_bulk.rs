//! `POST /whatsapp/bulk` and the WHATSAPP_BULK job: one approved template to many leads, at
//! Meta's pace, each recipient at most once.
//!
//! Enqueueing resolves the recipients now (the sender's visible leads; a smart list evaluated at
//! this moment), skips and reports those without a phone, opted out, or a phone already in this
//! bulk, checks the plan's `messages` quota and the number's daily messaging limit for the whole
//! batch, and stores every message PENDING with the job. The job sends them one by one, never
//! faster than `LEADZONE_WHATSAPP_MPS` a second: one transaction per message records the previous
//! answer, charges this message's unit and records its attempt before Meta is called, so a
//! resumed job skips everything an earlier attempt handed to Meta.

use crate::error::ProblemCode;
use crate::jobs::{JobControl, JobFailure, checkpoint_in, job_error};
use crate::whatsapp::{Channel, Content, LeadFields, failed_update, fill, lead_values};
use crate::{AppError, Ctx, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{Job, WhatsAppMessage};
use leadzone_domain::enums::{AuditEventType, JobEntityType, JobType, TemplateStatus, UsageMetric};
use leadzone_domain::ids::{LeadId, ListId, WhatsAppTemplateId};
use leadzone_domain::leads::LeadFilter;
use leadzone_domain::values::PhoneE164;
use leadzone_ports::RepoError;
use leadzone_ports::jobs::NewJob;
use leadzone_ports::tx::TenantTx;
use leadzone_ports::whatsapp::{BulkMessage, OutgoingMessage, WhatsAppError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// Recipients one bulk may have.
pub const MAX_BULK_RECIPIENTS: usize = 10_000;
/// Messages a job reads from the database at a time.
const READ_BATCH: u64 = 200;
/// A checkpoint (progress, cancellation) every this many messages, or this often when the pace
/// is slow, whichever comes first.
const CHECKPOINT_EVERY: usize = 25;
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Throttled answers in a row before the job gives up for now (and is retried later).
const MAX_THROTTLED: u32 = 12;
/// Unanswered sends in a row before the job gives up for now.
const MAX_UNAVAILABLE: u32 = 5;
/// The longest pause after a throttled answer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Who a bulk goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkRecipients {
    Leads(Vec<LeadId>),
    List(ListId),
    Filter(LeadFilter),
}

/// `POST /whatsapp/bulk`, as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkSendRequest {
    pub recipients: BulkRecipients,
    pub template_id: WhatsAppTemplateId,
    pub variables: BTreeMap<String, String>,
}

/// Leads a bulk did not message, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub no_phone: usize,
    pub opted_out: usize,
    /// A phone already in this bulk.
    pub duplicate: usize,
    /// The template needs a value the lead has none for.
    pub missing_variables: usize,
}

/// The WHATSAPP_BULK job's input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkInput {
    template_id: WhatsAppTemplateId,
    total: usize,
    skipped: Skipped,
}

/// The WHATSAPP_BULK job's checkpoint and result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    /// Messages the bulk stored (leads minus the skipped).
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    /// Handed to Meta by an attempt whose answer was lost: not sent again; its status comes by
    /// webhook.
    #[serde(default)]
    pub unconfirmed: i64,
    pub skipped: Skipped,
}

/// `TIER_250` … `TIER_UNLIMITED`: unique recipients a number may reach in 24 hours.
pub fn messaging_limit(tier: Option<&str>) -> Option<i64> {
    match tier? {
        "TIER_50" => Some(50),
        "TIER_250" => Some(250),
        "TIER_1K" => Some(1_000),
        "TIER_2K" => Some(2_000),
        "TIER_10K" => Some(10_000),
        "TIER_100K" => Some(100_000),
        _ => None,
    }
}

/// Spaces sends: at most `mps` a second (a 2 % margin absorbs timer jitter); 0 = unpaced.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Option<Duration>,
    next: Option<Instant>,
}

impl Pacer {
    pub(crate) fn new(mps: u32) -> Self {
        let interval = (mps > 0).then(|| Duration::from_secs_f64(1.02 / f64::from(mps)));
        Self { interval, next: None }
    }

    /// Waits for the next send's turn.
    pub(crate) async fn wait(&mut self) {
        let Some(interval) = self.interval else { return };
        let now = Instant::now();
        if let Some(next) = self.next
            && next > now
        {
            tokio::time::sleep_until(next).await;
        }
        self.next = Some(self.next.map_or(now, |n| n.max(now)) + interval);
    }

    /// Halves the pace (Meta said the number sends too much): at least one message a second.
    pub(crate) fn slow_down(&mut self) {
        let slower = self.interval.map_or(Duration::from_millis(25), |i| i * 2);
        self.interval = Some(slower.min(Duration::from_secs(1)));
    }

    #[cfg(test)]
    fn interval(&self) -> Option<Duration> {
        self.interval
    }
}

/// How one send ended, recorded in the next message's transaction.
enum Outcome {
    Sent(WhatsAppMessage, String),
    Failed(WhatsAppMessage, Option<i64>, String),
    OptedOut(WhatsAppMessage, i64, String),
    /// Meta did not answer: the attempt stays, nothing is recorded.
    Unknown,
}

impl crate::whatsapp::WhatsApp {
    /// `POST /whatsapp/bulk`: the WHATSAPP_BULK job, enqueued with its messages.
    pub async fn start_whatsapp_bulk(
        &self,
        ctx: &Ctx,
        request: BulkSendRequest,
        idempotency_key: Option<String>,
    ) -> Result<Job, AppError> {
        policy::require(ctx, Permission::WhatsAppBulk)?;
        self.flags.require_feature(ctx, "whatsapp_bulk").await?;
        if let Some(key) = &idempotency_key
            && (key.is_empty() || key.len() > 255)
        {
            return Err(AppError::field("Idempotency-Key", "must be 1–255 characters"));
        }
        if let BulkRecipients::Leads(ids) = &request.recipients
            && ids.len() > MAX_BULK_RECIPIENTS
        {
            return Err(AppError::field("leadIds", &format!("at most {MAX_BULK_RECIPIENTS} leads")));
        }
        let hash = self.tokens.hash(&format!("bulk:{request:?}"));
        if let Some(key) = &idempotency_key {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            if let Some(existing) = tx.jobs().by_idempotency_key(key).await? {
                return crate::jobs::replay(existing, &hash).map(|(job, _)| job);
            }
        }
        let now = self.clock.now();
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let template = match tx.whatsapp().template(request.template_id).await {
            Ok(t) if t.status == TemplateStatus::Approved => t,
            Ok(t) => {
                return Err(AppError::field(
                    "templateId",
                    &format!("is not approved by WhatsApp ({}): only approved templates may be sent", t.status),
                ));
            }
            Err(RepoError::NotFound) => return Err(AppError::field("templateId", "is not a template of yours")),
            Err(e) => return Err(e.into()),
        };
        let channel = self.whatsapp_channel(&*tx).await?;
        let visibility = policy::lead_visibility(ctx, &*tx).await?;
        let cap = MAX_BULK_RECIPIENTS as u64 + 1;
        let (ids, entity) = match &request.recipients {
            BulkRecipients::Leads(ids) => {
                let mut seen = HashSet::new();
                (ids.iter().copied().filter(|i| seen.insert(*i)).collect::<Vec<_>>(), None)
            }
            BulkRecipients::List(list) => {
                let l = match tx.lists().get(*list).await {
                    Ok(l) => l,
                    Err(RepoError::NotFound) => return Err(AppError::field("listId", "no such list")),
                    Err(e) => return Err(e.into()),
                };
                let filter = crate::lists::filter_of(&l);
                (tx.leads().matching_ids(&visibility, &filter, cap).await?, Some((JobEntityType::List, list.as_uuid())))
            }
            BulkRecipients::Filter(filter) => (tx.leads().matching_ids(&visibility, filter, cap).await?, None),
        };
        if ids.len() > MAX_BULK_RECIPIENTS {
            return Err(AppError::field(
                "filter",
                &format!("matches more than {MAX_BULK_RECIPIENTS} leads: narrow it down or send in parts"),
            ));
        }
        let mut found = tx.whatsapp().recipients(&ids).await?;
        found.retain(|l| visibility.allows(l.created_by, l.assigned_to));
        let order: BTreeMap<LeadId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        found.sort_by_key(|l| order.get(&l.id).copied().unwrap_or(usize::MAX));
        if found.is_empty() {
            return Err(AppError::field("leadIds", "no lead you can see was given"));
        }

        let sender = tx.users().get(ctx.user_id).await?.name;
        let mut skipped = Skipped::default();
        let phones: Vec<Option<String>> = found
            .iter()
            .map(|l| l.phone.as_deref().and_then(|p| PhoneE164::parse(p).ok()).map(|p| p.as_str().to_owned()))
            .collect();
        let known: Vec<String> = phones.iter().flatten().cloned().collect();
        let opted_out: HashSet<String> = tx.whatsapp().opted_out_among(&known).await?.into_iter().collect();
        let mut in_bulk = HashSet::new();
        let mut messages = Vec::with_capacity(found.len());
        for (lead, phone) in found.iter().zip(phones) {
            let Some(phone) = phone else {
                skipped.no_phone += 1;
                continue;
            };
            if opted_out.contains(&phone) {
                skipped.opted_out += 1;
                continue;
            }
            if !in_bulk.insert(phone.clone()) {
                skipped.duplicate += 1;
                continue;
            }
            let defaults = lead_values(
                Some(LeadFields {
                    company_name: &lead.company_name,
                    city: lead.city.as_deref(),
                    industry: lead.industry.as_deref(),
                }),
                &sender,
            );
            let Ok((text, content)) = fill(&template, &request.variables, &defaults) else {
                skipped.missing_variables += 1;
                continue;
            };
            messages.push(BulkMessage {
                id: self.ids.new_id().into(),
                lead: lead.id,
                phone,
                message: text,
                payload: serde_json::to_value(&content).map_err(|e| AppError::Internal(e.to_string()))?,
            });
        }
        if messages.is_empty() {
            return Err(AppError::field(
                "leadIds",
                &format!(
                    "none of the {} leads can be messaged ({} without a phone, {} opted out, {} missing a template value)",
                    found.len(),
                    skipped.no_phone,
                    skipped.opted_out,
                    skipped.missing_variables
                ),
            ));
        }
        self.check_bulk_fits(ctx, &*tx, &channel, messages.len()).await?;

        let job_id = self.ids.new_id().into();
        let mut input = serde_json::to_value(BulkInput { template_id: template.id, total: messages.len(), skipped })
            .map_err(|e| AppError::Internal(e.to_string()))?;
        if let Some(obj) = input.as_object_mut() {
            obj.insert("requestHash".into(), json!(hash));
        }
        let new_job = NewJob {
            id: job_id,
            kind: JobType::WhatsAppBulk,
            entity_type: Some(entity.map_or(JobEntityType::Tenant, |(t, _)| t)),
            entity_id: Some(entity.map_or(ctx.tenant_id.as_uuid(), |(_, id)| id)),
            input,
            created_by: ctx.user_id,
            max_attempts: 5,
            priority: 100,
            idempotency_key: idempotency_key.clone(),
        };
        let job = match tx.jobs().insert(&new_job, now).await {
            Ok(job) => job,
            Err(RepoError::Conflict(_)) if idempotency_key.is_some() => {
                drop(tx);
                let tx = self.uow.begin(ctx.tenant_id).await?;
                let key = idempotency_key.unwrap_or_default();
                let existing = tx.jobs().by_idempotency_key(&key).await?.ok_or(AppError::NotFound)?;
                return crate::jobs::replay(existing, &hash).map(|(job, _)| job);
            }
            Err(e) => return Err(e.into()),
        };
        tx.whatsapp().insert_bulk(job.id, template.id, ctx.user_id, now, &messages).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The whole batch must fit the plan's `messages` left this month (402 says how many are
    /// used of how many) and the number's messaging limit over the last 24 hours.
    async fn check_bulk_fits(&self, ctx: &Ctx, tx: &dyn TenantTx, channel: &Channel, n: usize) -> Result<(), AppError> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        {
            // A charge in a transaction that is rolled back: the same rule as the real one.
            let probe = self.uow.begin(ctx.tenant_id).await?;
            crate::usage::charge(&*probe, self.clock.now(), UsageMetric::Messages, n).await?;
        }
        if let Some(limit) = channel.messaging_limit {
            let reached = tx.whatsapp().unique_recipients_since(self.clock.now() - time::Duration::hours(24)).await?;
            if reached + n > limit {
                return Err(AppError::field(
                    "leadIds",
                    &format!(
                        "the WhatsApp number may reach {limit} people in 24 hours and has reached {reached}: {} more fit now",
                        (limit - reached).max(0)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The WHATSAPP_BULK job.
    pub(crate) async fn run_whatsapp_bulk(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let input: BulkInput =
            job.input.as_ref().and_then(|i| serde_json::from_value(i.clone()).ok()).ok_or_else(|| {
                JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "the job names no template"))
            })?;
        if control.should_stop() {
            // Claimed again after a checkpoint saw the cancellation: the worker records it.
            return Err(JobFailure::Stopped);
        }
        let ctx = self.jobs.creator_ctx(job).await?;
        let (channel, mut allowance) = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let channel = self.whatsapp_channel(&*tx).await?;
            let allowance = match channel.messaging_limit {
                Some(limit) => {
                    let reached =
                        tx.whatsapp().unique_recipients_since(self.clock.now() - time::Duration::hours(24)).await?;
                    Some((limit - reached).max(0))
                }
                None => None,
            };
            (channel, allowance)
        };
        let mut pacer = Pacer::new(self.config.whatsapp_mps);
        let mut previous: Option<Outcome> = None;
        let mut done_now = 0_usize;
        let mut unavailable_in_a_row = 0_u32;
        let mut last_checkpoint = Instant::now();
        loop {
            // Per batch: the messages, which of their phones opted out, and the plan's meter (the
            // tenant's and the subscription's state checked again).
            let (batch, opted_out, meter) = {
                let tx = self.uow.begin(job.tenant_id).await?;
                let batch = tx.whatsapp().untried_job_messages(job.id, READ_BATCH).await?;
                let phones: Vec<String> = batch.iter().map(|m| m.phone.clone()).collect();
                let opted_out: HashSet<String> = tx.whatsapp().opted_out_among(&phones).await?.into_iter().collect();
                (batch, opted_out, self.usage.meter(&*tx, UsageMetric::Messages).await?)
            };
            if batch.is_empty() {
                break;
            }
            for message in batch {
                let tx = self.uow.begin(job.tenant_id).await?;
                if let Some(outcome) = previous.take() {
                    self.record_outcome(&*tx, outcome).await?;
                }
                if control.should_stop() {
                    let cancel = checkpoint_in(&*tx, job, progress(&input, done_now), "stopping", &json!({})).await?;
                    if cancel {
                        tx.whatsapp().fail_untried(job.id, "Not sent: the bulk was cancelled.").await?;
                    }
                    tx.commit().await?;
                    return Err(JobFailure::Stopped);
                }
                if opted_out.contains(&message.phone) {
                    let update = failed_update(&message, None, "The recipient opted out before the message went.");
                    tx.whatsapp().update_status(message.id, &update).await?;
                    tx.commit().await?;
                    continue;
                }
                if allowance.is_some_and(|left| left <= 0) {
                    let why = "Not sent: the WhatsApp number reached its messaging limit for 24 hours.";
                    tx.whatsapp().fail_untried(job.id, why).await?;
                    tx.commit().await?;
                    return Err(JobFailure::Permanent(job_error(ProblemCode::ProviderRejected, why)));
                }
                if !meter.charge_one(&*tx).await? {
                    let why = "Not sent: the plan's monthly messages limit is reached.";
                    tx.whatsapp().fail_untried(job.id, why).await?;
                    tx.commit().await?;
                    return Err(JobFailure::Permanent(job_error(ProblemCode::QuotaExceeded, why)));
                }
                if done_now.is_multiple_of(CHECKPOINT_EVERY) || last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
                    last_checkpoint = Instant::now();
                    let note = format!("{done_now} of {} sent in this run", input.total);
                    if checkpoint_in(&*tx, job, progress(&input, done_now), &note, &json!({})).await? {
                        tx.whatsapp().fail_untried(job.id, "Not sent: the bulk was cancelled.").await?;
                        tx.commit().await?;
                        return Err(JobFailure::Stopped);
                    }
                }
                tx.whatsapp().mark_attempted(message.id, self.clock.now()).await?;
                tx.commit().await?;
                allowance = allowance.map(|a| a - 1);
                done_now += 1;

                let (outcome, stop) = self.send_paced(&channel, &mut pacer, &message, &mut unavailable_in_a_row).await;
                previous = Some(outcome);
                if let Some(stop) = stop {
                    let tx = self.uow.begin(job.tenant_id).await?;
                    if let Some(outcome) = previous.take() {
                        self.record_outcome(&*tx, outcome).await?;
                    }
                    let failure = match stop {
                        Stop::Template(why) => {
                            tx.whatsapp().fail_untried(job.id, &format!("Not sent: {why}")).await?;
                            JobFailure::Permanent(job_error(
                                ProblemCode::ProviderRejected,
                                format!("The bulk stopped: {why}"),
                            ))
                        }
                        Stop::Unauthorized(why) => {
                            tx.whatsapp().fail_untried(job.id, &format!("Not sent: {why}")).await?;
                            crate::sync::flag_error(
                                self.clock.as_ref(),
                                &*tx,
                                leadzone_domain::enums::IntegrationType::WhatsApp,
                                &why,
                            )
                            .await?;
                            JobFailure::Permanent(job_error(
                                ProblemCode::ProviderUnauthorized,
                                format!("The bulk stopped: {why}"),
                            ))
                        }
                        Stop::Later(why) => JobFailure::Retryable(job_error(ProblemCode::ProviderUnavailable, why)),
                    };
                    tx.commit().await?;
                    return Err(failure);
                }
            }
        }
        let tx = self.uow.begin(job.tenant_id).await?;
        if let Some(outcome) = previous.take() {
            self.record_outcome(&*tx, outcome).await?;
        }
        let tally = tx.whatsapp().job_tally(job.id).await?;
        tx.commit().await?;
        let result = BulkResult {
            total: tally.sent + tally.failed + tally.unconfirmed + tally.pending,
            sent: tally.sent,
            failed: tally.failed,
            unconfirmed: tally.unconfirmed,
            skipped: input.skipped,
        };
        self.jobs
            .audit_job(
                &ctx,
                job,
                AuditEventType::WhatsAppBulkSent,
                &format!("WhatsApp bulk: {} sent, {} failed", result.sent, result.failed),
                json!({"templateId": input.template_id, "result": result}),
            )
            .await?;
        Ok(json!(result))
    }
}

/// Why a bulk stops before its end.
enum Stop {
    /// The template is missing, paused or disabled: no message with it can go.
    Template(String),
    /// The token was refused.
    Unauthorized(String),
    /// Meta keeps throttling or does not answer: the job is retried later and resumes.
    Later(String),
}

fn progress(input: &BulkInput, done_now: usize) -> i32 {
    let total = input.total.max(1);
    i32::try_from((done_now.min(total) * 100) / total).unwrap_or(100)
}

impl crate::whatsapp::WhatsApp {
    /// Sends one message at the pacer's pace: a throttled answer backs off and tries again
    /// (131048 and 131056 also halve the pace); any other answer is the message's outcome.
    async fn send_paced(
        &self,
        channel: &Channel,
        pacer: &mut Pacer,
        message: &WhatsAppMessage,
        unavailable_in_a_row: &mut u32,
    ) -> (Outcome, Option<Stop>) {
        let content: Option<Content> = message.payload.as_ref().and_then(|p| serde_json::from_value(p.clone()).ok());
        let Some(content) = content else {
            return (Outcome::Failed(message.clone(), None, "The message has no content to send.".into()), None);
        };
        let outgoing = OutgoingMessage {
            to: message.phone.trim_start_matches('+').to_owned(),
            content: content.outgoing(),
            callback_data: message.id.to_string(),
        };
        let mut throttled = 0_u32;
        loop {
            pacer.wait().await;
            match channel.api.send(&channel.token, &channel.phone_number_id, &outgoing).await {
                Ok(external_id) => {
                    *unavailable_in_a_row = 0;
                    return (Outcome::Sent(message.clone(), external_id), None);
                }
                Err(WhatsAppError::Throttled { code, message: why, retry_after }) => {
                    throttled += 1;
                    if throttled > MAX_THROTTLED {
                        return (Outcome::Unknown, Some(Stop::Later(format!("WhatsApp keeps throttling: {why}"))));
                    }
                    if matches!(code, Some(131_048 | 131_056)) {
                        pacer.slow_down();
                    }
                    let backoff = retry_after
                        .unwrap_or_else(|| {
                            Duration::from_millis(250).saturating_mul(2_u32.saturating_pow(throttled.min(10)))
                        })
                        .min(MAX_BACKOFF);
                    tracing::info!(
                        code,
                        wait_ms = backoff.as_millis() as u64,
                        "WhatsApp throttled a bulk send; backing off"
                    );
                    tokio::time::sleep(backoff).await;
                }
                Err(WhatsAppError::Unavailable(why)) => {
                    *unavailable_in_a_row += 1;
                    tracing::warn!(message = %message.id, error = %why, "WhatsApp did not answer a bulk send; not sent again");
                    let stop = (*unavailable_in_a_row >= MAX_UNAVAILABLE)
                        .then(|| Stop::Later(format!("WhatsApp does not answer: {why}")));
                    return (Outcome::Unknown, stop);
                }
                Err(WhatsAppError::OptedOut { code, message: why }) => {
                    return (Outcome::OptedOut(message.clone(), code, why), None);
                }
                Err(
                    WhatsAppError::Undeliverable { code, message: why }
                    | WhatsAppError::Rejected { code, message: why },
                ) => {
                    return (Outcome::Failed(message.clone(), code, why), None);
                }
                Err(WhatsAppError::TemplateUnavailable { code, message: why }) => {
                    let stop = Stop::Template(why.clone());
                    return (Outcome::Failed(message.clone(), Some(code), why), Some(stop));
                }
                Err(WhatsAppError::Unauthorized { code, message: why }) => {
                    let stop = Stop::Unauthorized(why.clone());
                    return (Outcome::Failed(message.clone(), code, why), Some(stop));
                }
            }
        }
    }

    /// Records a send's outcome: SENT with its timeline entry, or FAILED with its unit given back.
    async fn record_outcome(&self, tx: &dyn TenantTx, outcome: Outcome) -> Result<(), AppError> {
        let now = self.clock.now();
        match outcome {
            Outcome::Sent(message, external_id) => {
                tx.whatsapp().mark_sent(message.id, &external_id).await?;
                if let Some(lead) = message.lead_id {
                    tx.activities().insert(&crate::whatsapp::sent_activity(&*self.ids, &message, lead, now)).await?;
                    tx.leads().touch_contacted(lead, now).await?;
                }
            }
            Outcome::Failed(message, code, why) => {
                tx.whatsapp().update_status(message.id, &failed_update(&message, code, &why)).await?;
                crate::usage::refund(tx, now, UsageMetric::Messages, 1).await?;
            }
            Outcome::OptedOut(message, code, why) => {
                tx.whatsapp().update_status(message.id, &failed_update(&message, Some(code), &why)).await?;
                tx.whatsapp().set_opt_out(&message.phone, Some(now)).await?;
                self.audit_opt_change(
                    tx,
                    &message.phone,
                    true,
                    "WhatsApp reported the recipient stopped marketing messages (131050)",
                )
                .await?;
                crate::usage::refund(tx, now, UsageMetric::Messages, 1).await?;
            }
            Outcome::Unknown => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_daily_unique_recipients() {
        assert_eq!(messaging_limit(Some("TIER_250")), Some(250));
        assert_eq!(messaging_limit(Some("TIER_2K")), Some(2_000));
        assert_eq!(messaging_limit(Some("TIER_100K")), Some(100_000));
        assert_eq!(messaging_limit(Some("TIER_UNLIMITED")), None);
        assert_eq!(messaging_limit(None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_never_lets_more_than_the_rate_through_in_any_second() {
        let mut pacer = Pacer::new(20);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..100 {
            pacer.wait().await;
            times.push(Instant::now() - start);
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times.iter().skip(i).take_while(|u| **u < *t + Duration::from_secs(1)).count();
            assert!(in_window <= 20, "{in_window} sends in the second after {t:?}");
        }
        assert!(times.last().unwrap() < &Duration::from_secs(6), "{:?}", times.last());
        pacer.slow_down();
        assert_eq!(pacer.interval(), Some(Duration::from_secs_f64(2.04 / 20.0)));
        assert_eq!(Pacer::new(0).interval(), None);
    }
}
