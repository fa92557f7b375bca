//! Lead discovery: the SEARCH job that finds new companies on the places provider, and the REVEAL
//! job that asks the contacts provider for a lead's decision makers.
//!
//! Which provider answers: the tenant's own key (its `GOOGLE_MAPS` connection) first, then the
//! platform's key, then — in development only — the double; production without a key refuses the
//! work with 503 naming the setting, and never fakes data.
//!
//! A SEARCH stores page by page: each page's new leads, their quota charge, their evidence and the
//! job's checkpoint commit together, under the tenant's discovery lock, so two searches at once
//! never create the same company twice. Every created lead's id derives from the job and the
//! result's position, so a retried search recognises what it stored.

use crate::error::ProblemCode;
use crate::jobs::{Enqueue, JobControl, JobFailure, job_error};
use crate::{AppError, Ctx, policy};
use leadzone_domain::access::{LeadVisibility, Permission};
use leadzone_domain::entities::{Evidence, Job, Lead};
use leadzone_domain::enums::{
    ActivityType, AuditEventType, Confidence, EvidenceType, IntegrationType, JobType, Language, LogLevel, UsageMetric,
};
use leadzone_domain::ids::LeadId;
use leadzone_domain::leads::{DecisionMaker, DedupKeys, LeadInput, NewLead};
use leadzone_ports::discovery::{ApiKey, Contact, Place, PlaceQuery, ProviderError};
use leadzone_ports::{leads::BulkChange, leads::ExistingKeys, tx::TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// Google returns at most 60 results over all pages of one search.
pub const MAX_SEARCH_RESULTS: u32 = 60;
pub const DEFAULT_SEARCH_RESULTS: u32 = 20;
/// Google's largest page.
const PAGE_SIZE: u32 = 20;
const MAX_QUERY_CHARS: usize = 200;
const MAX_CITY_CHARS: usize = 100;
/// Evidence sources, as the user reads them.
const GOOGLE_MAPS: &str = "Google Maps";
const DEV_DOUBLE: &str = "Development double (not real data)";

/// `POST /searches`, as sent.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub city: Option<String>,
    pub max_results: Option<i64>,
}

/// What the SEARCH job stores as its input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchInput {
    query: String,
    #[serde(default)]
    city: Option<String>,
    max_results: u32,
}

/// The SEARCH job's checkpoint and, at the end, its result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// Places the provider returned (up to `maxResults`).
    pub found: usize,
    pub created: usize,
    /// Places the tenant already had (same place id, phone, website host, or name in the city).
    pub duplicates: usize,
    /// Places not stored: no usable name, or the plan's `leads` limit was reached.
    pub skipped: usize,
    pub lead_ids: Vec<LeadId>,
    /// The plan's monthly `leads` limit stopped the search from creating more.
    #[serde(default)]
    pub quota_reached: bool,
    /// Results handled so far (the resume point of a retried search).
    #[serde(default)]
    pub processed: usize,
}

/// The REVEAL job's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RevealResult {
    /// Contacts the provider knows at the lead's domain.
    pub found: usize,
    /// Decision makers new to the lead.
    pub revealed: usize,
    /// Decision makers the lead has now.
    pub decision_makers: usize,
    /// Whether a `searches` unit was counted (only when something new was revealed).
    pub charged: bool,
}

/// Where a provider key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySource {
    Tenant,
    Platform,
    Double,
}

impl KeySource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "the organization's own key",
            Self::Platform => "the platform key",
            Self::Double => "the development double",
        }
    }
}

crate::service! {
    /// Finding companies (Places search) and revealing decision makers.
    Discovery {
        ports: [uow, tokens, clock, ids, providers],
        uses: [
            integrations: crate::integrations::Integrations,
            jobs: crate::jobs::Jobs,
            leads: crate::leads::Leads,
            usage: crate::usage::Usage,
        ],
    }
}

impl Discovery {
    /// The places provider and key for this tenant.
    async fn places_for(
        &self,
        tx: &dyn TenantTx,
    ) -> Result<(Arc<dyn leadzone_ports::discovery::PlacesProvider>, ApiKey, KeySource), AppError> {
        if let Some(key) = self.integrations.tenant_api_key(tx, IntegrationType::GoogleMaps).await? {
            return Ok((self.providers.places.clone(), key, KeySource::Tenant));
        }
        if let Some(key) = &self.providers.places_key {
            return Ok((self.providers.places.clone(), key.clone(), KeySource::Platform));
        }
        match &self.providers.doubles {
            Some(d) => Ok((d.places.clone(), ApiKey::new("development"), KeySource::Double)),
            None => Err(AppError::NotConfigured { service: "Google Places", setting: "GOOGLE_PLACES_API_KEY" }),
        }
    }

    /// The contacts provider and key (the platform's; tenants do not connect their own yet).
    fn contacts_for(
        &self,
    ) -> Result<(Arc<dyn leadzone_ports::discovery::ContactsProvider>, ApiKey, KeySource), AppError> {
        if let Some(key) = &self.providers.contacts_key {
            return Ok((self.providers.contacts.clone(), key.clone(), KeySource::Platform));
        }
        match &self.providers.doubles {
            Some(d) => Ok((d.contacts.clone(), ApiKey::new("development"), KeySource::Double)),
            None => Err(AppError::NotConfigured { service: "Hunter", setting: "HUNTER_API_KEY" }),
        }
    }

    /// `POST /searches`: validates, counts one `searches` unit with the job's insert (402 and
    /// nothing queued at the limit) and enqueues the SEARCH job.
    pub async fn start_search(
        &self,
        ctx: &Ctx,
        req: SearchRequest,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        policy::require(ctx, Permission::SearchesRun)?;
        let mut v = leadzone_domain::error::Validator::new();
        let query = req.query.trim().to_owned();
        if query.is_empty() {
            v.push("query", "is required");
        } else if query.chars().count() > MAX_QUERY_CHARS {
            v.push("query", "must be at most 200 characters");
        } else if leadzone_domain::values::has_forbidden_control(&query) {
            v.push("query", "must not contain control characters");
        }
        let city = req.city.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        if let Some(c) = &city {
            if c.chars().count() > MAX_CITY_CHARS {
                v.push("city", "must be at most 100 characters");
            } else if leadzone_domain::values::has_forbidden_control(c) {
                v.push("city", "must not contain control characters");
            }
        }
        let max_results = req.max_results.unwrap_or(i64::from(DEFAULT_SEARCH_RESULTS));
        if !(1..=i64::from(MAX_SEARCH_RESULTS)).contains(&max_results) {
            v.push("maxResults", "must be between 1 and 60");
        }
        v.finish()?;
        // Refused now (503 naming the setting) rather than as a failed job.
        {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            self.places_for(&*tx).await?;
        }
        let input =
            SearchInput { query, city, max_results: u32::try_from(max_results).unwrap_or(DEFAULT_SEARCH_RESULTS) };
        let input = serde_json::to_value(&input).map_err(|e| AppError::Internal(e.to_string()))?;
        let hash = self.tokens.hash(&input.to_string());
        let options = Enqueue { entity: None, charge: Some(UsageMetric::Searches) };
        self.jobs.enqueue_with(ctx, JobType::Search, input, idempotency_key.map(|k| (k, hash)), options).await
    }

    pub(crate) async fn run_search(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.jobs.creator_ctx(job).await?;
        policy::require(&ctx, Permission::SearchesRun).map_err(JobFailure::from)?;
        let input: SearchInput = serde_json::from_value(job.input.clone().unwrap_or_default())
            .map_err(|e| JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, e.to_string())))?;
        let (provider, key, source, language) = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let (provider, key, source) = self.places_for(&*tx).await?;
            let tenant = tx.tenants().current().await?;
            (provider, key, source, tenant.settings.language.unwrap_or(Language::En))
        };
        let mut result: SearchResult =
            job.result.clone().and_then(|r| serde_json::from_value(r).ok()).unwrap_or_default();
        let resumed_at = result.processed;
        let text = match &input.city {
            Some(city) => format!("{} {city}", input.query),
            None => input.query.clone(),
        };
        let query =
            PlaceQuery { text, language: language.as_str().to_owned(), page_size: PAGE_SIZE.min(input.max_results) };
        let max = input.max_results as usize;
        control
            .log(
                LogLevel::Info,
                if resumed_at == 0 { "search started" } else { "search resumed" },
                Some(json!({"query": query.text, "language": query.language, "maxResults": max, "key": source.as_str(), "from": resumed_at})),
            )
            .await;
        if source == KeySource::Double {
            control
                .log(
                    LogLevel::Warn,
                    "no Google Places key is configured: the development double answered (not real data)",
                    None,
                )
                .await;
        }

        let now = self.clock.now();
        let mut seen = ExistingKeys::default();
        let mut index = 0usize;
        let mut token: Option<String> = None;
        let mut page_number = 0u32;
        loop {
            if control.should_stop() {
                self.save_search(job, &result).await;
                return Err(JobFailure::Stopped);
            }
            page_number += 1;
            let page = provider
                .search_page(&key, &query, token.take())
                .await
                .map_err(|e| provider_failure("Google Places", e))?;
            let mut candidates: Vec<(Lead, DedupKeys, Place)> = Vec::new();
            let mut page_skipped = 0usize;
            let mut page_duplicates = 0usize;
            // An empty page that still names a next one would page for ever: it ends the search.
            let got = page.places.len();
            for place in page.places {
                if index >= max {
                    break;
                }
                let i = index;
                index += 1;
                if i < resumed_at {
                    continue; // handled before the retry
                }
                result.found += 1;
                let Some(lead) = place_lead(&place, input.city.as_deref()) else {
                    page_skipped += 1;
                    continue;
                };
                let mut keys = lead.dedup_keys();
                keys.place_id = Some(place.place_id.clone());
                if seen.matches(&keys) {
                    page_duplicates += 1;
                    continue;
                }
                seen.add(&keys);
                let row = self.leads.lead_row(crate::imports::row_lead_id(job.id, i), &ctx, lead, now);
                candidates.push((row, keys, place));
            }
            result.processed = index.max(result.processed);
            result.skipped += page_skipped;
            result.duplicates += page_duplicates;
            let cancel = self.store_search_page(job, &ctx, source, candidates, &mut result, max).await?;
            control
                .log(
                    LogLevel::Info,
                    &format!("page {page_number} stored"),
                    Some(json!({"found": result.found, "created": result.created, "duplicates": result.duplicates, "skipped": result.skipped})),
                )
                .await;
            if cancel {
                return Err(JobFailure::Stopped);
            }
            if result.quota_reached {
                control
                    .log(
                        LogLevel::Warn,
                        "the plan's monthly lead limit is reached: the search stopped creating leads",
                        None,
                    )
                    .await;
                break;
            }
            match page.next_page_token {
                Some(next) if index < max && got > 0 => token = Some(next),
                _ => break,
            }
        }

        let summary = json!({
            "query": input.query, "city": input.city, "found": result.found, "created": result.created,
            "duplicates": result.duplicates, "skipped": result.skipped, "key": source.as_str(),
        });
        self.jobs.audit_job(&ctx, job, AuditEventType::LeadSearched, "leads searched", summary).await?;
        control
            .log(
                LogLevel::Info,
                "search finished",
                Some(json!({"found": result.found, "created": result.created, "duplicates": result.duplicates, "skipped": result.skipped, "quotaReached": result.quota_reached})),
            )
            .await;
        Ok(serde_json::to_value(&result).unwrap_or_default())
    }

    /// Stores one page's candidates in one transaction under the tenant's discovery lock: the ones
    /// the tenant does not have, their `leads` charge (as many as the plan allows), a CREATED
    /// activity and a provenance evidence row each, and the job's checkpoint. True when
    /// cancellation was requested.
    async fn store_search_page(
        &self,
        job: &Job,
        ctx: &Ctx,
        source: KeySource,
        candidates: Vec<(Lead, DedupKeys, Place)>,
        result: &mut SearchResult,
        max: usize,
    ) -> Result<bool, JobFailure> {
        let tx = self.uow.begin(job.tenant_id).await?;
        tx.leads().lock_discovery().await?;
        let ids: Vec<LeadId> = candidates.iter().map(|(l, _, _)| l.id).collect();
        let keys: Vec<DedupKeys> = candidates.iter().map(|(_, k, _)| k.clone()).collect();
        let existing =
            if keys.is_empty() { ExistingKeys::default() } else { tx.leads().existing_keys(&keys, &ids).await? };
        let (fresh, known): (Vec<_>, Vec<_>) = candidates.into_iter().partition(|(_, k, _)| !existing.matches(k));
        result.duplicates += known.len();
        let places: Vec<(LeadId, Place)> = fresh.iter().map(|(l, _, p)| (l.id, p.clone())).collect();
        let rows: Vec<(Lead, DedupKeys)> = fresh.into_iter().map(|(l, k, _)| (l, k)).collect();
        let written: std::collections::HashSet<LeadId> = if rows.is_empty() {
            Default::default()
        } else {
            tx.leads().insert_many(rows, true).await?.into_iter().collect()
        };
        let allowed = if written.is_empty() {
            0
        } else {
            self.usage.charge_up_to(&*tx, UsageMetric::Leads, written.len() as i64).await? as usize
        };
        let (kept, refused): (Vec<_>, Vec<_>) =
            places.into_iter().filter(|(id, _)| written.contains(id)).enumerate().partition(|(n, _)| *n < allowed);
        if !refused.is_empty() {
            let ids: Vec<LeadId> = refused.iter().map(|(_, (id, _))| *id).collect();
            tx.leads().bulk(&BulkChange::Delete, &ids, &LeadVisibility::All, self.clock.now()).await?;
            result.skipped += refused.len();
            result.quota_reached = true;
        }
        let now = self.clock.now();
        let mut activities = Vec::with_capacity(kept.len());
        let mut provenance = Vec::with_capacity(kept.len());
        for (_, (id, place)) in &kept {
            provenance.push(self.place_evidence(ctx, *id, place, source, now));
            activities.push(self.leads.activity(
                ctx,
                *id,
                ActivityType::Created,
                format!("Found by a search ({})", source_name(source)),
                Some(json!({"job": job.id, "placeId": place.place_id})),
                now,
            ));
        }
        if !activities.is_empty() {
            tx.evidence().insert_many(&provenance).await?;
            tx.activities().insert_many(&activities).await?;
        }
        result.created += kept.len();
        result.lead_ids.extend(kept.iter().map(|(_, (id, _))| *id));
        let progress = ((result.processed * 100) / max.max(1)).min(99) as i32;
        let message = format!("{} found, {} created, {} duplicates", result.found, result.created, result.duplicates);
        let cancel = crate::jobs::checkpoint_in(&*tx, job, progress, &message, &*result).await?;
        tx.commit().await?;
        Ok(cancel)
    }

    /// Writes a stopped search's checkpoint (best effort: the last page's is already stored).
    async fn save_search(&self, job: &Job, result: &SearchResult) {
        let saved = async {
            let tx = self.uow.begin(job.tenant_id).await?;
            let message = format!("{} found, {} created", result.found, result.created);
            tx.jobs().checkpoint(job, 99, &message, &serde_json::to_value(result).unwrap_or_default()).await?;
            tx.commit().await
        };
        if let Err(e) = saved.await {
            tracing::warn!(job = %job.id, error = %e, "could not save the stopped search's checkpoint");
        }
    }

    /// The provenance of a created lead: what came from Google, marked as such (its terms let
    /// only the place id be kept as the durable key; `docs/providers/google-places.md`).
    fn place_evidence(
        &self,
        ctx: &Ctx,
        lead: LeadId,
        place: &Place,
        source: KeySource,
        now: time::OffsetDateTime,
    ) -> Evidence {
        let count = place.rating_count.unwrap_or(0);
        let confidence = match count {
            100.. => Confidence::High,
            10..=99 => Confidence::Medium,
            _ => Confidence::Low,
        };
        let title = match (place.rating, place.rating_count) {
            (Some(r), Some(n)) => format!("Google Maps listing: rated {r:.1} by {n} reviewers"),
            _ => "Google Maps listing".to_owned(),
        };
        Evidence {
            id: self.ids.new_id().into(),
            tenant_id: ctx.tenant_id,
            lead_id: lead,
            kind: EvidenceType::Reviews,
            title,
            source: Some(source_name(source).to_owned()),
            url: place.maps_url.clone(),
            snippet: place.category.clone(),
            raw_data: Some(json!({
                "placeId": place.place_id,
                "rating": place.rating,
                "userRatingCount": place.rating_count,
                "types": place.types,
            })),
            confidence,
            created_at: now,
        }
    }

    /// `POST /leads/{id}/reveal`: a visible lead with a website, and a `searches` unit left (it
    /// is counted only if the reveal finds someone new).
    pub async fn start_reveal(
        &self,
        ctx: &Ctx,
        id: LeadId,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        policy::require(ctx, Permission::SearchesRun)?;
        {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            let lead = self.leads.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
            if lead.website.is_none() {
                return Err(AppError::field("website", "the lead has no website to look up decision makers at"));
            }
            // Is a unit left? Counted in this transaction and given back with it: the job counts
            // its unit only when it reveals someone new.
            crate::usage::charge(&*tx, self.clock.now(), UsageMetric::Searches, 1).await?;
        }
        self.contacts_for()?;
        self.jobs.enqueue_for_lead(ctx, JobType::Reveal, id, idempotency_key).await
    }

    pub(crate) async fn run_reveal(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.jobs.creator_ctx(job).await?;
        let id = crate::jobs::job_lead(job)?;
        let (provider, key, source) = self.contacts_for().map_err(JobFailure::from)?;
        let domain = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let lead =
                self.leads.visible_lead(&ctx, &*tx, id, Permission::LeadsWrite).await.map_err(JobFailure::from)?;
            website_domain(&lead).ok_or_else(|| {
                JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "The lead has no website any more."))
            })?
        };
        control
            .log(LogLevel::Info, "looking up decision makers", Some(json!({"domain": domain, "key": source.as_str()})))
            .await;
        // A provider failure leaves the lead as it was: nothing is written before the answer.
        let contacts = provider.domain_search(&key, &domain).await.map_err(|e| provider_failure("Hunter", e))?;

        let tx = self.uow.begin(job.tenant_id).await?;
        let lead = self.leads.visible_lead(&ctx, &*tx, id, Permission::LeadsWrite).await.map_err(JobFailure::from)?;
        let mut enrichment = lead.enrichment_data.clone();
        let mut makers = enrichment.decision_makers.take().unwrap_or_default();
        let fresh = new_decision_makers(&makers, &contacts);
        let mut result = RevealResult { found: contacts.len(), revealed: fresh.len(), ..Default::default() };
        let now = self.clock.now();
        let description = if fresh.is_empty() {
            result.decision_makers = makers.len();
            "Decision makers looked up: nothing new (not charged)".to_owned()
        } else {
            // Pay on success: the unit is counted with the change, and a plan at its limit leaves
            // the lead as it was.
            crate::usage::charge(&*tx, now, UsageMetric::Searches, 1).await.map_err(JobFailure::from)?;
            result.charged = true;
            let mut evidence = tx.evidence().list(id).await?;
            let known_urls: std::collections::HashSet<String> = evidence.iter().filter_map(|e| e.url.clone()).collect();
            let mut added_urls = std::collections::HashSet::new();
            let mut rows = Vec::new();
            for (maker, contact) in &fresh {
                for uri in &contact.sources {
                    if known_urls.contains(uri) || !added_urls.insert(uri.clone()) {
                        continue;
                    }
                    rows.push(Evidence {
                        id: self.ids.new_id().into(),
                        tenant_id: job.tenant_id,
                        lead_id: id,
                        kind: EvidenceType::Website,
                        title: format!("{} ({}) named on the company's website", maker.name, maker.title),
                        source: Some(if source == KeySource::Double { DEV_DOUBLE } else { "Hunter" }.to_owned()),
                        url: Some(uri.clone()),
                        snippet: Some(contact.email.clone()),
                        raw_data: Some(
                            json!({"email": contact.email, "confidence": contact.confidence, "position": contact.position}),
                        ),
                        confidence: contact_confidence(contact.confidence),
                        created_at: now,
                    });
                }
            }
            tx.evidence().insert_many(&rows).await?;
            evidence.extend(rows);
            makers.extend(fresh.iter().map(|(m, _)| m.clone()));
            result.decision_makers = makers.len();
            enrichment.decision_makers = Some(makers);
            // One update: the new decision makers and the score they and the new evidence give.
            let mut after = Lead { enrichment_data: enrichment, updated_at: now, ..lead.clone() };
            after.score = crate::intelligence::score_of(&after, &evidence);
            tx.leads().update(&after, &crate::lead_actions::keys_of(&after)?).await?;
            format!("Decision makers revealed: {} new", fresh.len())
        };
        tx.activities()
            .insert(&self.leads.activity(
                &ctx,
                id,
                ActivityType::Survey,
                description,
                Some(json!({"job": job.id, "kind": "REVEAL", "found": contacts.len(), "revealed": fresh.len()})),
                now,
            ))
            .await?;
        tx.commit().await?;
        let said =
            if fresh.is_empty() { "nothing new was found; the reveal is free" } else { "decision makers revealed" };
        control.log(LogLevel::Info, said, Some(json!({"found": contacts.len(), "revealed": fresh.len()}))).await;
        Ok(serde_json::to_value(&result).unwrap_or_default())
    }
}

/// A place as a new lead, by the same rules as `POST /leads`. A field the rules refuse (a phone
/// that is not a phone) is left out rather than losing the place; a place without a usable name
/// is skipped (`None`).
fn place_lead(place: &Place, asked_city: Option<&str>) -> Option<NewLead> {
    let mut input = LeadInput {
        company_name: place.name.clone(),
        industry: place.category.clone().map(|c| c.chars().take(100).collect()),
        city: place.city.clone().or_else(|| asked_city.map(str::to_owned)).map(|c| c.chars().take(100).collect()),
        phone: place.phone.clone(),
        website: place.website.clone(),
        ..Default::default()
    };
    match NewLead::parse(input.clone()) {
        Ok(lead) => Some(lead),
        Err(e) => {
            for f in e.field_errors() {
                match f.field.as_str() {
                    "phone" => input.phone = None,
                    "website" => input.website = None,
                    "city" => input.city = None,
                    "industry" => input.industry = None,
                    _ => {}
                }
            }
            NewLead::parse(input).ok()
        }
    }
}

/// The bare domain the contacts provider is asked about (`www.` dropped).
fn website_domain(lead: &Lead) -> Option<String> {
    let website = lead.website.as_deref()?;
    let url = leadzone_domain::values::WebsiteUrl::parse(website).ok()?;
    Some(url.dedup_host().to_owned())
}

/// The contacts that are new to the lead, as decision makers: a contact is known when one of the
/// lead's decision makers has its email (or, without an email, its name). Nobody a user typed or
/// an earlier reveal found is lost or changed.
fn new_decision_makers<'a>(known: &[DecisionMaker], contacts: &'a [Contact]) -> Vec<(DecisionMaker, &'a Contact)> {
    let mut emails: std::collections::HashSet<String> =
        known.iter().filter_map(|m| m.email.as_deref()).map(str::to_lowercase).collect();
    let names: std::collections::HashSet<String> = known.iter().map(|m| m.name.trim().to_lowercase()).collect();
    let mut fresh = Vec::new();
    for c in contacts {
        let email = c.email.trim().to_lowercase();
        if email.is_empty() || emails.contains(&email) {
            continue;
        }
        let name = match (c.first_name.as_deref(), c.last_name.as_deref()) {
            (Some(f), Some(l)) if !f.trim().is_empty() => format!("{} {}", f.trim(), l.trim()).trim().to_owned(),
            (Some(f), None) if !f.trim().is_empty() => f.trim().to_owned(),
            _ => email.split('@').next().unwrap_or_default().to_owned(),
        };
        if known.iter().all(|m| m.email.is_none()) && names.contains(&name.to_lowercase()) && !known.is_empty() {
            // The same person typed by hand without an email: keep theirs.
            continue;
        }
        emails.insert(email.clone());
        fresh.push((
            DecisionMaker {
                name,
                title: c.position.clone().unwrap_or_default(),
                email: Some(email),
                phone: c.phone.clone(),
            },
            c,
        ));
    }
    fresh
}

/// Hunter's confidence as evidence confidence: HIGH ≥ 90, MEDIUM ≥ 70, else LOW.
fn contact_confidence(score: u8) -> Confidence {
    match score {
        90.. => Confidence::High,
        70..=89 => Confidence::Medium,
        _ => Confidence::Low,
    }
}

fn source_name(source: KeySource) -> &'static str {
    if source == KeySource::Double { DEV_DOUBLE } else { GOOGLE_MAPS }
}

/// A provider's failure as the job's: a refused key or request is permanent, a throttled or
/// unavailable service is retried with the job system's back-off.
pub(crate) fn provider_failure(service: &str, e: ProviderError) -> JobFailure {
    tracing::warn!(service, error = %e, "provider call failed");
    match e {
        ProviderError::Unauthorized(m) => JobFailure::Permanent(job_error(ProblemCode::ProviderUnauthorized, m)),
        ProviderError::Rejected(m) => JobFailure::Permanent(job_error(ProblemCode::ProviderRejected, m)),
        ProviderError::RateLimited { message, .. } | ProviderError::Unavailable(message) => {
            JobFailure::Retryable(job_error(ProblemCode::ProviderUnavailable, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(email: &str, first: &str, last: &str) -> Contact {
        Contact {
            email: email.into(),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            position: Some("CEO".into()),
            confidence: 95,
            sources: vec!["https://x.sa/about".into()],
            ..Default::default()
        }
    }

    #[test]
    fn merging_keeps_what_users_typed_and_adds_only_new_people() {
        let typed = vec![
            DecisionMaker {
                name: "Sara Ali".into(),
                title: "Owner".into(),
                email: Some("Sara@x.sa".into()),
                phone: None,
            },
            DecisionMaker {
                name: "Omar".into(),
                title: "CFO".into(),
                email: None,
                phone: Some("+966501234567".into()),
            },
        ];
        let contacts = vec![
            contact("sara@x.sa", "Sara", "A."),
            contact("khalid@x.sa", "Khalid", "Saud"),
            contact("khalid@x.sa", "K", "S"),
        ];
        let fresh = new_decision_makers(&typed, &contacts);
        assert_eq!(fresh.len(), 1, "{fresh:?}");
        assert_eq!(fresh[0].0.name, "Khalid Saud");
        assert_eq!(fresh[0].0.email.as_deref(), Some("khalid@x.sa"));
        assert_eq!(fresh[0].0.title, "CEO");
        // Asked again with the new one merged: nothing new.
        let mut all = typed.clone();
        all.push(fresh[0].0.clone());
        assert!(new_decision_makers(&all, &contacts).is_empty());
    }

    #[test]
    fn confidence_bands() {
        assert_eq!(contact_confidence(95), Confidence::High);
        assert_eq!(contact_confidence(90), Confidence::High);
        assert_eq!(contact_confidence(89), Confidence::Medium);
        assert_eq!(contact_confidence(70), Confidence::Medium);
        assert_eq!(contact_confidence(69), Confidence::Low);
    }

    #[test]
    fn a_place_becomes_a_normalised_lead_and_a_bad_phone_does_not_lose_it() {
        let place = Place {
            place_id: "ChIJ1".into(),
            name: "مطعم الرياض".into(),
            phone: Some("+966 11 234 5678".into()),
            website: Some("https://www.Example.SA/menu".into()),
            category: Some("مطعم".into()),
            city: None,
            ..Default::default()
        };
        let lead = place_lead(&place, Some("الرياض")).unwrap();
        assert_eq!(lead.phone.as_ref().map(|p| p.as_str()), Some("+966112345678"));
        assert_eq!(lead.city.as_deref(), Some("الرياض"));
        assert_eq!(lead.dedup_keys().website_host.as_deref(), Some("example.sa"));
        let bad = Place { phone: Some("call us".into()), ..place.clone() };
        let lead = place_lead(&bad, None).unwrap();
        assert_eq!(lead.phone, None);
        assert_eq!(lead.company_name, "مطعم الرياض");
        assert!(place_lead(&Place { name: "  ".into(), ..place }, None).is_none());
    }

    /// Production without a key: the search is refused (503 naming the setting) before anything
    /// is counted or queued — the strict mocks would fail on a charge or an insert.
    #[tokio::test]
    async fn without_a_key_or_a_double_a_search_is_refused_before_it_is_charged() {
        use crate::testing::{FakeTx, app_with, ctx};
        let mut tx = FakeTx::default();
        tx.integrations.expect_get().times(1).returning(|_| Ok(None));
        let app = app_with(tx);
        let req =
            SearchRequest { query: "مطاعم".into(), city: Some("الرياض".into()), max_results: Some(20) };
        let err =
            app.discovery.start_search(&ctx(leadzone_domain::enums::Role::Sales, 1), req, None).await.unwrap_err();
        assert!(matches!(err, AppError::NotConfigured { setting: "GOOGLE_PLACES_API_KEY", .. }), "{err:?}");
    }

    /// Every bad field at once, before the provider or the database is asked anything.
    #[tokio::test]
    async fn a_bad_search_is_refused_field_by_field() {
        use crate::testing::{FakeTx, app_with, ctx};
        let app = app_with(FakeTx::default());
        let req = SearchRequest { query: " ".into(), city: Some("x".repeat(101)), max_results: Some(61) };
        let AppError::Validation(errors) =
            app.discovery.start_search(&ctx(leadzone_domain::enums::Role::Owner, 1), req, None).await.unwrap_err()
        else {
            panic!("validation")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["query", "city", "maxResults"]);
    }

    #[test]
    fn provider_errors_become_job_errors_with_contract_codes() {
        let JobFailure::Permanent(e) = provider_failure("x", ProviderError::Unauthorized("API key not valid".into()))
        else {
            panic!("a refused key is not retried")
        };
        assert_eq!((e.code.as_str(), e.message.as_str()), ("PROVIDER_UNAUTHORIZED", "API key not valid"));
        let limited = ProviderError::RateLimited { message: "slow down".into(), retry_after: None };
        assert!(matches!(provider_failure("x", limited), JobFailure::Retryable(e) if e.code == "PROVIDER_UNAVAILABLE"));
        assert!(matches!(provider_failure("x", ProviderError::Rejected("bad".into())), JobFailure::Permanent(_)));
    }
}
