//! CRM sync (plan feature `integrations`): `POST /integrations/{type}/sync` and the SYNC job that
//! pushes leads to the tenant's CRM — HubSpot companies (100 per call, by `leadzone_id`),
//! Salesforce Leads (200 per call, by `Leadzone_Id__c`) or Notion pages (one per lead, three
//! calls a second); what differs between the three is in `crm.rs`.
//!
//! Incremental by default: the leads changed since the connection's `lastSyncAt` (less five
//! minutes, so a change committed while the last sync ran is never missed), walked by
//! `(updatedAt, id)`; each lead's service id and the version sent are stored per service, so a
//! lead that has not changed since is not sent again and a retried batch finds what it stored. A
//! full sync walks every lead. Progress and cancellation per batch; the ten-second limit waits, the
//! daily limit stops the job (the next sync resumes where it stopped), a refused token turns the
//! connection to ERROR. A full sync walks and sends every lead again (upserts: nothing is created
//! twice).

use crate::crm::{Crm, Target};
use crate::error::{ConflictKind, ProblemCode};
use crate::jobs::{JobControl, JobFailure, checkpoint_in, job_error};
use crate::{AppError, Ctx, policy};
use leadzone_domain::access::{LeadVisibility, Permission};
use leadzone_domain::entities::{IntegrationConnection, Job, SmartFilters};
use leadzone_domain::enums::{AuditEventType, IntegrationStatus, IntegrationType, JobType};
use leadzone_domain::ids::{LeadId, ListId};
use leadzone_domain::leads::LeadFilter;
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmError, SyncLead, SyncRef};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A change committed while the previous sync ran is still seen.
const OVERLAP: time::Duration = time::Duration::minutes(5);
/// Errors kept in the result.
const MAX_ERRORS: usize = 100;
/// Leads a list- or filter-limited sync may cover.
const MAX_LIST: u64 = 1_000_000;

/// `config.syncEveryMinutes`: absent, or whole minutes from 15 to a week.
///
/// # Errors
/// 422 on `config.syncEveryMinutes`.
pub fn check_schedule(config: &Value) -> Result<(), AppError> {
    match config.get("syncEveryMinutes") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|m| (15..=10_080).contains(&m)) => Ok(()),
        Some(_) => {
            Err(AppError::field("config.syncEveryMinutes", "must be a whole number of minutes from 15 to 10080"))
        }
    }
}

/// `POST /integrations/{type}/sync`, as sent.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub list_id: Option<ListId>,
    /// Smart-list filters (`{status?, industry?, city?, hasPhone?, hasWebsite?}`).
    pub filter: Option<Value>,
    pub full: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncInput {
    #[serde(rename = "type")]
    kind: IntegrationType,
    full: bool,
    list_id: Option<ListId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<SmartFilters>,
}

/// An error of one lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncError {
    pub lead_id: Option<LeadId>,
    pub message: String,
}

/// The SYNC job's checkpoint and result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    /// Leads sent (created + updated + failed).
    pub pushed: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    /// Leads unchanged since their last sync, not sent again.
    pub unchanged: u64,
    pub errors: Vec<SyncError>,
    /// Where the walk stands: the last `(updatedAt, id)` handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<(time::OffsetDateTime, LeadId)>,
    /// When this sync started (the next one's cursor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<time::OffsetDateTime>,
}

impl crate::integrations::Integrations {
    /// `POST /integrations/{type}/sync`: the SYNC job (202).
    pub async fn start_sync(
        &self,
        ctx: &Ctx,
        kind: IntegrationType,
        request: SyncRequest,
        idempotency_key: Option<String>,
    ) -> Result<Job, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        self.flags.require_feature(ctx, "integrations").await?;
        if Crm::of(kind).is_none() {
            return Err(AppError::field("type", &format!("{kind} has nothing to sync: HUBSPOT, SALESFORCE or NOTION")));
        }
        let filter = match request.filter {
            None => None,
            Some(_) if request.list_id.is_some() => {
                return Err(AppError::field("filter", "give either a list or a filter, not both"));
            }
            Some(f) => Some(
                serde_json::from_value::<SmartFilters>(f)
                    .map_err(|e| AppError::field("filter", &format!("does not match the smart filter shape: {e}")))?,
            ),
        };
        {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            match tx.integrations().get(kind).await? {
                Some(c) if c.status == IntegrationStatus::Connected => {}
                _ => return Err(AppError::Conflict(ConflictKind::IntegrationNotConnected)),
            }
            if let Some(list) = request.list_id {
                match tx.lists().get(list).await {
                    Ok(_) => {}
                    Err(leadzone_ports::RepoError::NotFound) => return Err(AppError::field("listId", "no such list")),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let input = json!(SyncInput { kind, full: request.full, list_id: request.list_id, filter });
        let idempotency = idempotency_key.map(|k| (k, self.tokens.hash(&format!("sync:{input}"))));
        let (job, _) = self.jobs.enqueue(ctx, JobType::Sync, input, idempotency).await?;
        Ok(job)
    }

    /// The worker's schedule: a SYNC job for every connection whose `config.syncEveryMinutes`
    /// has passed since its last sync, enqueued as the tenant's owner with a key of the period
    /// (two workers, or a slow round, never enqueue one period twice). Returns how many.
    pub async fn run_scheduled_syncs(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let mut started = 0;
        for (tenant, kind, owner) in self.sweeps.due_syncs(now).await? {
            let ctx = {
                let tx = self.uow.begin(tenant).await?;
                let status = tx.tenants().current().await?.status;
                let (subscription, _) = tx.subscriptions().current_with_plan().await?;
                Ctx::on_behalf_of(
                    owner,
                    tenant,
                    leadzone_domain::enums::Role::Owner,
                    crate::ClientInfo::default(),
                    status,
                    Some(subscription.status),
                )
            };
            let key = format!("scheduled-sync:{kind}:{}", now.unix_timestamp() / 60);
            match self.start_sync(&ctx, kind, SyncRequest::default(), Some(key)).await {
                Ok(_) => started += 1,
                Err(e) => tracing::info!(tenant = %tenant, %kind, error = %e, "scheduled sync not started"),
            }
        }
        Ok(started)
    }

    /// The SYNC job.
    pub(crate) async fn run_sync(&self, job: &Job, control: &dyn JobControl) -> Result<Value, JobFailure> {
        let input: SyncInput =
            job.input.as_ref().and_then(|i| serde_json::from_value(i.clone()).ok()).ok_or_else(|| {
                JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "the job names no service"))
            })?;
        let crm = Crm::of(input.kind)
            .ok_or_else(|| JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "the job names no CRM")))?;
        let ctx = self.jobs.creator_ctx(job).await?;
        self.flags.require_feature(&ctx, "integrations").await.map_err(JobFailure::from)?;
        let mut state: SyncResult =
            job.result.as_ref().and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default();
        let started_at = *state.started_at.get_or_insert(self.clock.now());
        let (connection, mut target, only) = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let Some(connection) =
                tx.integrations().get(input.kind).await?.filter(|c| c.status == IntegrationStatus::Connected)
            else {
                return Err(AppError::Conflict(ConflictKind::IntegrationNotConnected).into());
            };
            let credentials = self.open_credentials(&connection)?;
            let secret = |name: &str| credentials.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let config =
                |name: &str| connection.config.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let target = Target {
                crm,
                token: ApiKey::new(secret(crm.credential())),
                place: match crm {
                    Crm::HubSpot => String::new(),
                    Crm::Salesforce => config("instanceUrl"),
                    Crm::Notion => config("dataSourceId"),
                },
                map: crm.field_map(&connection.config, None).map_err(JobFailure::from)?,
                schema: leadzone_ports::sync::NotionSchema::new(),
            };
            let filter = match (input.list_id, &input.filter) {
                (Some(list), _) => Some(crate::lists::filter_of(&tx.lists().get(list).await?)),
                (None, Some(f)) => Some(LeadFilter::from_smart(f)),
                (None, None) => None,
            };
            let only = match filter {
                Some(filter) => Some(tx.leads().matching_ids(&LeadVisibility::All, &filter, MAX_LIST).await?),
                None => None,
            };
            (connection, target, only)
        };
        if crm == Crm::Notion {
            // The data source's properties now (they may have changed since connecting).
            target.schema = match self.providers.notion.data_source(&target.token, &target.place).await {
                Ok(schema) => schema,
                Err(e) => return Err(self.sync_stopped(job, crm, e).await),
            };
        }
        let since = if input.full { None } else { connection.last_sync_at.map(|t| t - OVERLAP) };
        let mut pacer = crate::whatsapp_bulk::Pacer::new(crm.per_second());
        loop {
            if control.should_stop() {
                return Err(JobFailure::Stopped);
            }
            let (leads, refs) = {
                let tx = self.uow.begin(job.tenant_id).await?;
                let leads = tx.sync().changed_leads(since, state.after, only.clone(), crm.batch()).await?;
                let refs = tx.sync().refs(crm.service(), leads.iter().map(|l| l.id).collect()).await?;
                (leads, refs)
            };
            let Some(last) = leads.last().map(|l| (l.updated_at, l.id)) else { break };
            let sent_version: HashMap<LeadId, time::OffsetDateTime> =
                refs.iter().map(|r| (r.lead_id, r.synced_version)).collect();
            let (unchanged, changed): (Vec<&SyncLead>, Vec<&SyncLead>) =
                leads.iter().partition(|l| !input.full && sent_version.get(&l.id) == Some(&l.updated_at));
            state.unchanged += unchanged.len() as u64;
            let mut saved = Vec::new();
            if !changed.is_empty() {
                let known: HashMap<LeadId, String> = refs.iter().map(|r| (r.lead_id, r.external_id.clone())).collect();
                let batch = match self.push(job.tenant_id, &target, &mut pacer, &changed, &known).await {
                    Ok(batch) => batch,
                    Err(failure) => return Err(self.sync_stopped(job, crm, failure).await),
                };
                let version: HashMap<LeadId, time::OffsetDateTime> =
                    changed.iter().map(|l| (l.id, l.updated_at)).collect();
                for r in &batch.results {
                    if r.created {
                        state.created += 1;
                    } else {
                        state.updated += 1;
                    }
                    if let Some(v) = version.get(&r.lead_id) {
                        saved.push(SyncRef {
                            lead_id: r.lead_id,
                            external_id: r.external_id.clone(),
                            synced_version: *v,
                        });
                    }
                }
                let failed = changed.len().saturating_sub(batch.results.len()) as u64;
                state.failed += failed;
                state.pushed += changed.len() as u64;
                for f in batch.failures {
                    if state.errors.len() < MAX_ERRORS {
                        state.errors.push(SyncError { lead_id: f.lead_id, message: f.message });
                    }
                }
            }
            state.after = Some(last);
            let tx = self.uow.begin(job.tenant_id).await?;
            tx.sync().save_refs(crm.service(), saved, self.clock.now()).await?;
            let note = format!("{} sent, {} unchanged", state.pushed, state.unchanged);
            let cancel = checkpoint_in(&*tx, job, 50, &note, &state).await?;
            tx.commit().await?;
            if cancel {
                return Err(JobFailure::Stopped);
            }
        }
        // Done: the next incremental sync starts from this one's start — when this one covered
        // every lead and none failed. A sync of a list or a filter leaves the cursor for the
        // leads it did not walk, and a failed lead (it has no ref) is tried again next time.
        let tx = self.uow.begin(job.tenant_id).await?;
        if let Some(mut c) = tx.integrations().get(input.kind).await? {
            if only.is_none() && state.failed == 0 {
                c.last_sync_at = Some(started_at);
            }
            c.last_error = None;
            c.updated_at = self.clock.now();
            tx.integrations().upsert(&c).await?;
        }
        tx.commit().await?;
        let result = SyncResult { after: None, started_at: None, ..state };
        self.jobs.audit_job(
            &ctx,
            job,
            AuditEventType::IntegrationSynced,
            &format!(
                "{} synced: {} created, {} updated, {} failed",
                input.kind, result.created, result.updated, result.failed
            ),
            json!({"type": input.kind.as_str(), "full": input.full, "pushed": result.pushed, "failed": result.failed}),
        )
        .await?;
        Ok(json!(result))
    }

    /// How a sync that cannot go on ends (its progress is kept: the next sync resumes).
    async fn sync_stopped(&self, job: &Job, crm: Crm, e: CrmError) -> JobFailure {
        match e {
            CrmError::Unauthorized(why) => {
                let flagged = async {
                    let tx = self.uow.begin(job.tenant_id).await?;
                    flag_error(self.clock.as_ref(), &*tx, crm.kind(), &why).await?;
                    tx.commit().await.map_err(AppError::from)
                };
                if let Err(e) = flagged.await {
                    tracing::warn!(error = %e, "could not mark the connection ERROR");
                }
                JobFailure::Permanent(job_error(ProblemCode::ProviderUnauthorized, why))
            }
            CrmError::RateLimited { daily: true, message, .. } => JobFailure::Permanent(job_error(
                ProblemCode::ProviderUnavailable,
                format!(
                    "{message}. {}'s daily API limit is spent: the next sync, tomorrow, goes on from here.",
                    crm.name()
                ),
            )),
            CrmError::RateLimited { message, .. } | CrmError::Locked(message) | CrmError::Unavailable(message) => {
                JobFailure::Retryable(job_error(ProblemCode::ProviderUnavailable, message))
            }
            CrmError::Rejected(why) | CrmError::NotFound(why) => {
                JobFailure::Permanent(job_error(ProblemCode::ProviderRejected, why))
            }
        }
    }
}

/// A refused token turns the connection to ERROR with the service's words.
pub(crate) async fn flag_error(
    clock: &dyn leadzone_ports::Clock,
    tx: &dyn leadzone_ports::tx::TenantTx,
    kind: IntegrationType,
    why: &str,
) -> Result<(), AppError> {
    if let Some(c) = tx.integrations().get(kind).await? {
        let c = IntegrationConnection {
            status: IntegrationStatus::Error,
            last_error: Some(why.to_owned()),
            updated_at: clock.now(),
            ..c
        };
        tx.integrations().upsert(&c).await?;
    }
    Ok(())
}
