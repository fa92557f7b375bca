//! CRM sync (plan feature `integrations`): `POST /integrations/{type}/sync` and the SYNC job that
//! pushes leads to the tenant's CRM — HubSpot companies today, upserted 100 at a time by their
//! `leadzone_id`.
//!
//! Incremental by default: the leads changed since the connection's `lastSyncAt` (less five
//! minutes, so a change committed while the last sync ran is never missed), walked by
//! `(updatedAt, id)`; each lead's service id and the version sent are stored per service, so a
//! lead that has not changed since is not sent again and a retried batch finds what it stored. A
//! full sync walks every lead. Progress and cancellation per batch; the ten-second limit waits, the
//! daily limit stops the job (the next sync resumes where it stopped), a refused token turns the
//! connection to ERROR. A full sync walks and sends every lead again (upserts: nothing is created
//! twice).

use crate::error::{ConflictKind, ProblemCode};
use crate::jobs::{JobControl, JobFailure, checkpoint_in, job_error};
use crate::{App, AppError, Ctx, policy};
use leadzone_domain::access::{LeadVisibility, Permission};
use leadzone_domain::entities::{IntegrationConnection, Job};
use leadzone_domain::enums::{AuditEventType, IntegrationStatus, IntegrationType, JobType, LeadStatus};
use leadzone_domain::ids::{LeadId, ListId};
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmError, CrmRecord, SyncLead, SyncRef};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The service name refs are kept under.
const HUBSPOT: &str = "HUBSPOT";
/// Leads per batch (HubSpot's largest).
const BATCH: u64 = 100;
/// A change committed while the previous sync ran is still seen.
const OVERLAP: time::Duration = time::Duration::minutes(5);
/// HubSpot's ten-second window: wait at least this after its 429.
const TEN_SECONDLY: Duration = Duration::from_secs(10);
/// Errors kept in the result.
const MAX_ERRORS: usize = 100;
/// Leads a list-limited sync may cover.
const MAX_LIST: u64 = 1_000_000;

/// The lead fields a field map may name.
pub const LEAD_FIELDS: [&str; 8] = ["companyName", "phone", "email", "website", "domain", "city", "industry", "status"];

/// HubSpot property → lead field, as connecting shows it (adjustable in `config.fieldMap`).
pub fn default_field_map() -> BTreeMap<String, String> {
    [
        ("name", "companyName"),
        ("phone", "phone"),
        ("domain", "domain"),
        ("city", "city"),
        ("industry", "industry"),
        ("lifecyclestage", "status"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A `config.fieldMap` as given: HubSpot property names (lowercase, digits, `_`) to lead fields.
///
/// # Errors
/// 422 on `config.fieldMap.<property>` for an unknown lead field or a bad property name.
pub fn field_map(config: &Value) -> Result<BTreeMap<String, String>, AppError> {
    let Some(given) = config.get("fieldMap") else { return Ok(default_field_map()) };
    let Some(given) = given.as_object() else { return Err(AppError::field("config.fieldMap", "must be an object")) };
    let mut v = leadzone_domain::error::Validator::new();
    let mut map = BTreeMap::new();
    for (property, field) in given {
        let name_ok = !property.is_empty()
            && property.len() <= 100
            && property.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let field = field.as_str().unwrap_or_default();
        if !name_ok {
            v.push(format!("config.fieldMap.{property}"), "must be a HubSpot property name (lowercase, digits, _)");
        } else if !LEAD_FIELDS.contains(&field) {
            v.push(format!("config.fieldMap.{property}"), format!("must be one of {}", LEAD_FIELDS.join(", ")));
        } else {
            map.insert(property.clone(), field.to_owned());
        }
    }
    v.finish()?;
    if map.is_empty() {
        return Err(AppError::field("config.fieldMap", "must map at least one property"));
    }
    Ok(map)
}

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

/// HubSpot's lifecycle stage of a lead status.
fn lifecycle(status: LeadStatus) -> &'static str {
    match status {
        LeadStatus::New => "lead",
        LeadStatus::Prospected => "marketingqualifiedlead",
        LeadStatus::Contacted => "salesqualifiedlead",
        LeadStatus::Qualified => "opportunity",
        LeadStatus::Lost => "other",
    }
}

/// A lead's properties under `map` (fields it has no value for are left out).
pub fn properties(lead: &SyncLead, map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    // Websites are stored normalised (`https://host/…`): the host, without `www.`.
    let domain = lead.website.as_deref().and_then(|w| w.split("://").nth(1)).and_then(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        (!host.is_empty()).then(|| host.trim_start_matches("www.").to_owned())
    });
    let mut out = BTreeMap::new();
    for (property, field) in map {
        let value = match field.as_str() {
            "companyName" => Some(lead.company_name.clone()),
            "phone" => lead.phone.clone(),
            "email" => lead.email.clone(),
            "website" => lead.website.clone(),
            "domain" => domain.clone(),
            "city" => lead.city.clone(),
            "industry" => lead.industry.clone(),
            "status" => Some(lifecycle(lead.status).to_owned()),
            _ => None,
        };
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.insert(property.clone(), value);
        }
    }
    out
}

/// `POST /integrations/{type}/sync`, as sent.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub list_id: Option<ListId>,
    pub full: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncInput {
    #[serde(rename = "type")]
    kind: IntegrationType,
    full: bool,
    list_id: Option<ListId>,
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

impl App {
    /// Connecting `HUBSPOT` checks the token and makes sure the `leadzone_id` property exists;
    /// the config keeps the field map (the default one when none is given).
    pub(crate) async fn connect_hubspot(&self, ctx: &Ctx, token: &str, config: &Value) -> Result<Value, AppError> {
        self.require_feature(ctx, "integrations").await?;
        let map = field_map(config)?;
        check_schedule(config)?;
        match self.providers.hubspot.prepare(&ApiKey::new(token)).await {
            Ok(()) => {}
            Err(CrmError::Unauthorized(why) | CrmError::Rejected(why)) => {
                return Err(AppError::field("credentials.accessToken", &why));
            }
            Err(e) => return Err(AppError::Unavailable(format!("checking a HubSpot token: {e}"))),
        }
        let mut out = config.as_object().cloned().unwrap_or_default();
        out.insert("fieldMap".into(), json!(map));
        Ok(Value::Object(out))
    }

    /// `POST /integrations/{type}/sync`: the SYNC job (202).
    pub async fn start_sync(
        &self,
        ctx: &Ctx,
        kind: IntegrationType,
        request: SyncRequest,
        idempotency_key: Option<String>,
    ) -> Result<Job, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        self.require_feature(ctx, "integrations").await?;
        if kind != IntegrationType::HubSpot {
            return Err(AppError::field("type", &format!("{kind} cannot be synced on this server yet")));
        }
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
        let input = json!(SyncInput { kind, full: request.full, list_id: request.list_id });
        let idempotency = idempotency_key.map(|k| (k, self.tokens.hash(&format!("sync:{input}"))));
        let (job, _) = self.enqueue(ctx, JobType::Sync, input, idempotency).await?;
        Ok(job)
    }

    /// The worker's schedule: a SYNC job for every connection whose `config.syncEveryMinutes`
    /// has passed since its last sync, enqueued as the tenant's owner with a key of the period
    /// (two workers, or a slow round, never enqueue one period twice). Returns how many.
    pub async fn run_scheduled_syncs(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let mut started = 0;
        for (tenant, kind, owner) in self.system.due_syncs(now).await? {
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
        let ctx = self.creator_ctx(job).await?;
        self.require_feature(&ctx, "integrations").await.map_err(JobFailure::from)?;
        let mut state: SyncResult =
            job.result.as_ref().and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default();
        let started_at = *state.started_at.get_or_insert(self.clock.now());
        let (connection, token, map, only) = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let Some(connection) =
                tx.integrations().get(input.kind).await?.filter(|c| c.status == IntegrationStatus::Connected)
            else {
                return Err(AppError::Conflict(ConflictKind::IntegrationNotConnected).into());
            };
            let credentials = self.open_credentials(&connection)?;
            let token = ApiKey::new(credentials.get("accessToken").and_then(Value::as_str).unwrap_or_default());
            let map = field_map(&connection.config).map_err(JobFailure::from)?;
            let only = match input.list_id {
                Some(list) => {
                    let filter = crate::lists::filter_of(&tx.lists().get(list).await?);
                    Some(tx.leads().matching_ids(&LeadVisibility::All, &filter, MAX_LIST).await?)
                }
                None => None,
            };
            (connection, token, map, only)
        };
        let since = if input.full { None } else { connection.last_sync_at.map(|t| t - OVERLAP) };
        let mut pacer = crate::whatsapp_bulk::Pacer::new(9);
        loop {
            if control.should_stop() {
                return Err(JobFailure::Stopped);
            }
            let (leads, refs) = {
                let tx = self.uow.begin(job.tenant_id).await?;
                let leads = tx.sync().changed_leads(since, state.after, only.clone(), BATCH).await?;
                let refs = tx.sync().refs(HUBSPOT, leads.iter().map(|l| l.id).collect()).await?;
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
                let records: Vec<CrmRecord> =
                    changed.iter().map(|l| CrmRecord { lead_id: l.id, properties: properties(l, &map) }).collect();
                let batch = match self.upsert_paced(&mut pacer, &token, records).await {
                    Ok(batch) => batch,
                    Err(failure) => return Err(self.sync_stopped(job, input.kind, failure).await),
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
            tx.sync().save_refs(HUBSPOT, saved, self.clock.now()).await?;
            let note = format!("{} sent, {} unchanged", state.pushed, state.unchanged);
            let cancel = checkpoint_in(&*tx, job, 50, &note, &state).await?;
            tx.commit().await?;
            if cancel {
                return Err(JobFailure::Stopped);
            }
        }
        // Done: the next incremental sync starts from this one's start.
        let tx = self.uow.begin(job.tenant_id).await?;
        if let Some(mut c) = tx.integrations().get(input.kind).await? {
            c.last_sync_at = Some(started_at);
            c.last_error = None;
            c.updated_at = self.clock.now();
            tx.integrations().upsert(&c).await?;
        }
        tx.commit().await?;
        let result = SyncResult { after: None, started_at: None, ..state };
        self.audit_job(
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

    /// One batch, at HubSpot's pace: a 429 of the ten-second window waits (at least 10 s) and a
    /// locked record (423) 2 s, then the batch goes again (at most 6 times).
    async fn upsert_paced(
        &self,
        pacer: &mut crate::whatsapp_bulk::Pacer,
        token: &ApiKey,
        records: Vec<CrmRecord>,
    ) -> Result<leadzone_ports::sync::CrmBatch, CrmError> {
        let mut tries = 0;
        loop {
            pacer.wait().await;
            match self.providers.hubspot.upsert_companies(token, records.clone()).await {
                Err(CrmError::RateLimited { daily: false, retry_after, message }) if tries < 6 => {
                    tries += 1;
                    let wait = retry_after.unwrap_or(TEN_SECONDLY).max(TEN_SECONDLY);
                    tracing::info!(wait_s = wait.as_secs(), %message, "HubSpot's ten-second limit; waiting");
                    tokio::time::sleep(wait).await;
                }
                Err(CrmError::Locked(message)) if tries < 6 => {
                    tries += 1;
                    tracing::info!(%message, "a HubSpot record is locked; retrying in 2 s");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                other => return other,
            }
        }
    }

    /// How a sync that cannot go on ends (its progress is kept: the next sync resumes).
    async fn sync_stopped(&self, job: &Job, kind: IntegrationType, e: CrmError) -> JobFailure {
        match e {
            CrmError::Unauthorized(why) => {
                let flagged = async {
                    let tx = self.uow.begin(job.tenant_id).await?;
                    flag_error(self, &*tx, kind, &why).await?;
                    tx.commit().await.map_err(AppError::from)
                };
                if let Err(e) = flagged.await {
                    tracing::warn!(error = %e, "could not mark the connection ERROR");
                }
                JobFailure::Permanent(job_error(ProblemCode::ProviderUnauthorized, why))
            }
            CrmError::RateLimited { daily: true, message, .. } => JobFailure::Permanent(job_error(
                ProblemCode::ProviderUnavailable,
                format!("{message}. HubSpot's daily limit is spent: the next sync, tomorrow, goes on from here."),
            )),
            CrmError::RateLimited { message, .. } | CrmError::Locked(message) | CrmError::Unavailable(message) => {
                JobFailure::Retryable(job_error(ProblemCode::ProviderUnavailable, message))
            }
            CrmError::Rejected(why) => JobFailure::Permanent(job_error(ProblemCode::ProviderRejected, why)),
        }
    }
}

/// A refused token turns the connection to ERROR with the service's words.
pub(crate) async fn flag_error(
    app: &App,
    tx: &dyn leadzone_ports::store::TenantTx,
    kind: IntegrationType,
    why: &str,
) -> Result<(), AppError> {
    if let Some(c) = tx.integrations().get(kind).await? {
        let c = IntegrationConnection {
            status: IntegrationStatus::Error,
            last_error: Some(why.to_owned()),
            updated_at: app.clock.now(),
            ..c
        };
        tx.integrations().upsert(&c).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> SyncLead {
        SyncLead {
            id: uuid::Uuid::nil().into(),
            company_name: "مؤسسة النور".into(),
            industry: Some("تجزئة".into()),
            city: None,
            phone: Some("+966501234567".into()),
            email: None,
            website: Some("https://www.alnoor.sa/about".into()),
            status: LeadStatus::Qualified,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_default_map_gives_hubspots_properties_and_leaves_out_the_empty() {
        let p = properties(&lead(), &default_field_map());
        assert_eq!(p.get("name").map(String::as_str), Some("مؤسسة النور"));
        assert_eq!(p.get("domain").map(String::as_str), Some("alnoor.sa"));
        assert_eq!(p.get("lifecyclestage").map(String::as_str), Some("opportunity"));
        assert!(!p.contains_key("city"), "no value, no property");
    }

    #[test]
    fn a_field_map_names_known_fields_and_property_names() {
        assert_eq!(field_map(&json!({})).unwrap(), default_field_map());
        let custom = field_map(&json!({"fieldMap": {"name": "companyName", "riyadh_branch": "city"}})).unwrap();
        assert_eq!(custom.len(), 2);
        let err = field_map(&json!({"fieldMap": {"Name": "companyName", "x": "owner"}})).unwrap_err();
        let AppError::Validation(errors) = err else { panic!("{err:?}") };
        assert_eq!(errors.len(), 2);
    }
}
