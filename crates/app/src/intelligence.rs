//! Lead intelligence: the SURVEY job (the lead's website → evidence, merged enrichment, empty
//! contact fields filled, score) and the REPORT job (a written report whose every section cites
//! this lead's evidence), and the score that both — and a reveal — recompute.

use crate::error::ProblemCode;
use crate::jobs::{JobControl, JobFailure, job_error};
use crate::{AppError, Ctx, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{Evidence, Job, Lead, Report, ReportSection};
use leadzone_domain::enums::{ActivityType, Confidence, EvidenceType, JobType, Language, LogLevel, ReportGeneratedBy};
use leadzone_domain::ids::{EvidenceId, LeadId};
use leadzone_domain::scoring::{ScoreFacts, lead_score};
use leadzone_ports::intelligence::{
    DraftReport, EvidenceItem, FactKind, ReportRequest, SiteFact, SurveyLimits, SurveyObserver, SurveyOutcome,
};
use leadzone_ports::tx::TenantTx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The SURVEY job's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SurveyResult {
    pub pages_fetched: usize,
    /// Pages not fetched: disallowed by robots.txt, over a limit, or failed.
    pub pages_skipped: usize,
    pub evidence_created: usize,
    /// Lead fields that were empty and are now filled (`phone`, `email`).
    pub fields_filled: Vec<String>,
    /// Why the site could not be surveyed (a refused address, no answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// `https` or `http`: which scheme answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    pub score: Option<i32>,
}

/// Passes the surveyor's page counts to the job's progress and its stop request back.
struct Observer<'a> {
    control: &'a dyn JobControl,
    done: AtomicUsize,
    planned: AtomicUsize,
}

impl SurveyObserver for Observer<'_> {
    fn page_done(&self, done: usize, planned: usize) {
        self.done.store(done, Ordering::Relaxed);
        self.planned.store(planned.max(1), Ordering::Relaxed);
    }
    fn should_stop(&self) -> bool {
        self.control.should_stop()
    }
}

crate::service! {
    /// Website survey, evidence, reports and scores.
    Intelligence {
        ports: [uow, clock, ids, providers],
        uses: [
            flags: crate::flags::Flags,
            jobs: crate::jobs::Jobs,
            leads: crate::leads::Leads,
        ],
    }
}

impl Intelligence {
    /// `POST /leads/{id}/survey`: a visible lead with a website.
    pub async fn start_survey(
        &self,
        ctx: &Ctx,
        id: LeadId,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            let lead = self.leads.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
            if lead.website.is_none() {
                return Err(AppError::field("website", "the lead has no website to survey"));
            }
        }
        self.jobs.enqueue_for_lead(ctx, JobType::Survey, id, idempotency_key).await
    }

    pub(crate) async fn run_survey(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.jobs.creator_ctx(job).await?;
        let id = crate::jobs::job_lead(job)?;
        let website = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let lead =
                self.leads.visible_lead(&ctx, &*tx, id, Permission::LeadsWrite).await.map_err(JobFailure::from)?;
            lead.website.ok_or_else(|| {
                JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "The lead has no website any more."))
            })?
        };
        control.log(LogLevel::Info, "survey started", Some(json!({"website": website}))).await;
        let observer = Observer { control, done: AtomicUsize::new(0), planned: AtomicUsize::new(1) };
        let limits = SurveyLimits::default();
        let survey = self.providers.surveyor.survey(&website, &limits, &observer);
        // Progress per page while the survey runs (the observer is polled, not awaited).
        let ticker = async {
            let mut last = usize::MAX;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let (done, planned) = (observer.done.load(Ordering::Relaxed), observer.planned.load(Ordering::Relaxed));
                if done != last {
                    last = done;
                    let progress = ((done * 90) / planned.max(1)).min(90) as i32;
                    control.progress(progress, &format!("{done} of {planned} pages")).await;
                }
            }
        };
        let outcome = tokio::select! {
            outcome = survey => outcome,
            () = ticker => return Err(JobFailure::Stopped),
        };
        let outcome = outcome.map_err(|e| {
            JobFailure::Retryable(job_error(
                ProblemCode::ProviderUnavailable,
                format!("The website survey could not run: {e}"),
            ))
        })?;
        if control.should_stop() {
            return Err(JobFailure::Stopped);
        }
        let result = self.store_survey(job, &ctx, id, outcome).await?;
        match &result.blocked {
            Some(why) => control.log(LogLevel::Warn, &format!("the website was not surveyed: {why}"), None).await,
            None => {
                control
                    .log(
                        LogLevel::Info,
                        "survey finished",
                        Some(json!({"pagesFetched": result.pages_fetched, "pagesSkipped": result.pages_skipped, "evidenceCreated": result.evidence_created, "fieldsFilled": result.fields_filled})),
                    )
                    .await;
            }
        }
        Ok(serde_json::to_value(&result).unwrap_or_default())
    }

    /// Stores what a survey found in one transaction: new evidence (a fact already on the lead —
    /// same type, url and value — is not stored twice), merged enrichment, empty contact fields
    /// filled, the score, a SURVEY activity.
    async fn store_survey(
        &self,
        job: &Job,
        ctx: &Ctx,
        id: LeadId,
        outcome: SurveyOutcome,
    ) -> Result<SurveyResult, JobFailure> {
        let now = self.clock.now();
        let tx = self.uow.begin(job.tenant_id).await?;
        let lead = self.leads.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await.map_err(JobFailure::from)?;
        let mut result = SurveyResult {
            pages_fetched: outcome.pages_fetched,
            pages_skipped: outcome.pages_skipped,
            blocked: outcome.blocked.clone(),
            scheme: outcome.scheme.clone(),
            ..Default::default()
        };
        let existing = tx.evidence().list(id).await?;
        let known: HashSet<(String, String, String)> = existing.iter().filter_map(evidence_key).collect();
        let host = lead
            .website
            .as_deref()
            .and_then(|w| leadzone_domain::values::WebsiteUrl::parse(w).ok())
            .map(|w| w.host().to_owned());
        let mut added = HashSet::new();
        let mut rows = Vec::new();
        for fact in &outcome.facts {
            let evidence = fact_evidence(self.ids.as_ref(), ctx, id, fact, host.as_deref(), now);
            let Some(key) = evidence_key(&evidence) else { continue };
            if known.contains(&key) || !added.insert(key) {
                continue;
            }
            rows.push(evidence);
        }
        tx.evidence().insert_many(&rows).await?;
        result.evidence_created = rows.len();
        let mut evidence = existing;
        evidence.extend(rows);
        let mut after = lead.clone();
        merge_enrichment(&mut after, &outcome.facts);
        if after.phone.is_none()
            && let Some(phone) = first(&outcome.facts, FactKind::Phone)
        {
            after.phone = Some(phone);
            result.fields_filled.push("phone".into());
        }
        if after.email.is_none()
            && let Some(email) = first(&outcome.facts, FactKind::Email)
            && leadzone_domain::values::Email::parse(&email).is_ok()
        {
            after.email = Some(email);
            result.fields_filled.push("email".into());
        }
        after.score = score_of(&after, &evidence);
        result.score = after.score;
        if after != lead {
            after.updated_at = now;
            tx.leads().update(&after, &crate::lead_actions::keys_of(&after)?).await?;
        }
        let description = match &result.blocked {
            Some(why) => format!("Website survey: not surveyed ({why})"),
            None => format!(
                "Website survey: {} pages read, {} new facts{}",
                result.pages_fetched,
                result.evidence_created,
                if result.fields_filled.is_empty() {
                    String::new()
                } else {
                    format!(", filled {}", result.fields_filled.join(", "))
                }
            ),
        };
        tx.activities()
            .insert(&self.leads.activity(
                ctx,
                id,
                ActivityType::Survey,
                description,
                Some(json!({"job": job.id, "kind": "SURVEY", "pagesFetched": result.pages_fetched, "evidenceCreated": result.evidence_created, "blocked": result.blocked})),
                now,
            ))
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    /// Recomputes a lead's score from its fields and evidence, inside `tx`; returns the lead as
    /// updated (or as it was when the score did not change).
    pub(crate) async fn rescore(&self, tx: &dyn TenantTx, lead: Lead) -> Result<Lead, AppError> {
        let evidence = tx.evidence().list(lead.id).await?;
        let score = score_of(&lead, &evidence);
        if score == lead.score {
            return Ok(lead);
        }
        let after = Lead { score, updated_at: self.clock.now(), ..lead };
        tx.leads().update(&after, &crate::lead_actions::keys_of(&after)?).await?;
        Ok(after)
    }

    /// `POST /leads/{id}/report`: needs `reports:run`, the plan feature `ai_reports`, and a
    /// visible lead.
    pub async fn start_report(
        &self,
        ctx: &Ctx,
        id: LeadId,
        idempotency_key: Option<String>,
    ) -> Result<(Job, bool), AppError> {
        policy::require(ctx, Permission::ReportsRun)?;
        {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            self.leads.visible_lead(ctx, &*tx, id, Permission::LeadsRead).await?;
        }
        self.flags.require_feature(ctx, "ai_reports").await?;
        self.jobs.enqueue_for_lead(ctx, JobType::Report, id, idempotency_key).await
    }

    /// `GET /leads/{id}/report`: 404 until one was written.
    pub async fn get_report(&self, ctx: &Ctx, id: LeadId) -> Result<Report, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        self.leads.visible_lead(ctx, &*tx, id, Permission::LeadsRead).await?;
        tx.reports().get(id).await?.ok_or(AppError::NotFound)
    }

    pub(crate) async fn run_report(
        &self,
        job: &Job,
        control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let ctx = self.jobs.creator_ctx(job).await?;
        policy::require(&ctx, Permission::ReportsRun).map_err(JobFailure::from)?;
        self.flags.require_feature(&ctx, "ai_reports").await.map_err(JobFailure::from)?;
        let id = crate::jobs::job_lead(job)?;
        let (lead, evidence, language) = {
            let tx = self.uow.begin(job.tenant_id).await?;
            let lead =
                self.leads.visible_lead(&ctx, &*tx, id, Permission::LeadsRead).await.map_err(JobFailure::from)?;
            let evidence = tx.evidence().list(id).await?;
            let tenant = tx.tenants().current().await?;
            (lead, evidence, tenant.settings.language.unwrap_or(Language::En))
        };
        let request = ReportRequest {
            company_name: lead.company_name.clone(),
            industry: lead.industry.clone(),
            city: lead.city.clone(),
            website: lead.website.clone(),
            phone: lead.phone.clone(),
            email: lead.email.clone(),
            enrichment: serde_json::to_value(&lead.enrichment_data).unwrap_or_default(),
            evidence: evidence.iter().map(evidence_item).collect(),
            language: language.as_str().to_owned(),
        };
        control
            .log(
                LogLevel::Info,
                "writing the report",
                Some(json!({"evidence": evidence.len(), "language": request.language})),
            )
            .await;
        let draft = self
            .providers
            .reports
            .write(&request)
            .await
            .map_err(|e| crate::discovery::provider_failure("the report writer", e))?;
        let own: HashSet<uuid::Uuid> = evidence.iter().map(|e| e.id.as_uuid()).collect();
        let (sections, dropped) = cited_sections(&draft, &own);
        if dropped > 0 {
            control
                .log(
                    LogLevel::Warn,
                    "citations of evidence that is not this lead's were dropped",
                    Some(json!({"dropped": dropped})),
                )
                .await;
        }
        let now = self.clock.now();
        let tx = self.uow.begin(job.tenant_id).await?;
        let lead = tx.leads().get(id).await?;
        let lead = self.rescore(&*tx, lead).await.map_err(JobFailure::from)?;
        let report = tx
            .reports()
            .upsert(&Report {
                id: self.ids.new_id().into(),
                tenant_id: job.tenant_id,
                lead_id: id,
                summary: Some(draft.summary.clone()),
                sections,
                score: lead.score,
                generated_by: ReportGeneratedBy::Ai,
                model_version: Some(draft.model_version.chars().take(50).collect()),
                created_at: now,
                updated_at: now,
            })
            .await?;
        tx.commit().await?;
        control
            .log(
                LogLevel::Info,
                "report written",
                Some(json!({"sections": report.sections.len(), "model": report.model_version})),
            )
            .await;
        Ok(
            json!({"reportId": report.id, "sections": report.sections.len(), "modelVersion": report.model_version, "score": report.score}),
        )
    }
}

/// The sections of a draft with every citation checked: an id that is not this lead's evidence is
/// dropped, and a section left citing nothing it could rest on is dropped with it. Returns the
/// sections and how many citations were dropped.
fn cited_sections(draft: &DraftReport, own: &HashSet<uuid::Uuid>) -> (Vec<ReportSection>, usize) {
    let mut dropped = 0;
    let mut sections = Vec::new();
    for s in &draft.sections {
        let ids: Vec<EvidenceId> = s.evidence_ids.iter().filter(|id| own.contains(id)).map(|id| (*id).into()).collect();
        dropped += s.evidence_ids.len() - ids.len();
        if ids.is_empty() && !s.evidence_ids.is_empty() {
            continue;
        }
        sections.push(ReportSection {
            title: s.title.clone(),
            content: s.content.clone(),
            confidence: if ids.is_empty() {
                Confidence::Low
            } else {
                Confidence::from_str(&s.confidence).unwrap_or(Confidence::Low)
            },
            evidence_ids: ids,
        });
    }
    (sections, dropped)
}

fn evidence_item(e: &Evidence) -> EvidenceItem {
    EvidenceItem {
        id: e.id.as_uuid(),
        kind: e.kind.as_str().to_owned(),
        title: e.title.clone(),
        url: e.url.clone(),
        snippet: e.snippet.clone(),
        confidence: e.confidence.as_str().to_owned(),
    }
}

/// What makes two evidence rows the same fact: type, url and value.
fn evidence_key(e: &Evidence) -> Option<(String, String, String)> {
    let value = e.raw_data.as_ref().and_then(|r| r.get("value")).and_then(|v| v.as_str())?;
    Some((e.kind.as_str().to_owned(), e.url.clone().unwrap_or_default(), value.to_owned()))
}

fn fact_name(kind: FactKind) -> &'static str {
    match kind {
        FactKind::Email => "EMAIL",
        FactKind::Phone => "PHONE",
        FactKind::WhatsApp => "WHATSAPP",
        FactKind::Social => "SOCIAL",
        FactKind::CommercialRegistration => "COMMERCIAL_REGISTRATION",
        FactKind::VatNumber => "VAT_NUMBER",
        FactKind::Technology => "TECHNOLOGY",
        FactKind::FoundedYear => "FOUNDED_YEAR",
        FactKind::Title => "TITLE",
        FactKind::Description => "DESCRIPTION",
    }
}

/// A fact as an evidence row: what the company's own site says is first-party (HIGH); an
/// identifier found in the text is MEDIUM until a registry confirms it; a fingerprint is MEDIUM.
fn fact_evidence(
    ids: &dyn leadzone_ports::Ids,
    ctx: &Ctx,
    lead: LeadId,
    f: &SiteFact,
    host: Option<&str>,
    now: time::OffsetDateTime,
) -> Evidence {
    let (kind, confidence, title) = match f.kind {
        FactKind::Email => {
            (EvidenceType::Website, Confidence::High, format!("E-mail address on the website: {}", f.value))
        }
        FactKind::Phone => {
            (EvidenceType::Website, Confidence::High, format!("Phone number on the website: {}", f.value))
        }
        FactKind::WhatsApp => {
            (EvidenceType::Website, Confidence::High, format!("WhatsApp number on the website: {}", f.value))
        }
        FactKind::Social => {
            let network = f.raw.get("network").and_then(|n| n.as_str()).unwrap_or("social");
            (EvidenceType::Social, Confidence::High, format!("{network} profile linked from the website"))
        }
        FactKind::CommercialRegistration => {
            (EvidenceType::Government, Confidence::Medium, format!("Commercial Registration number {}", f.value))
        }
        FactKind::VatNumber => (EvidenceType::Government, Confidence::Medium, format!("VAT number {}", f.value)),
        FactKind::Technology => (EvidenceType::Website, Confidence::Medium, format!("The website uses {}", f.value)),
        FactKind::FoundedYear => (EvidenceType::Website, Confidence::Medium, format!("Founded in {}", f.value)),
        FactKind::Title => (EvidenceType::Website, Confidence::High, "Website title".to_owned()),
        FactKind::Description => (EvidenceType::Website, Confidence::High, "Website description".to_owned()),
    };
    let mut raw = json!({"fact": fact_name(f.kind), "value": f.value});
    if let (Some(obj), Some(extra)) = (raw.as_object_mut(), f.raw.as_object()) {
        for (k, v) in extra {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Evidence {
        id: ids.new_id().into(),
        tenant_id: ctx.tenant_id,
        lead_id: lead,
        kind,
        title: title.chars().take(255).collect(),
        source: host.map(|h| h.chars().take(255).collect()),
        url: Some(f.url.clone()),
        snippet: Some(if f.snippet.is_empty() { f.value.clone() } else { f.snippet.clone() }),
        raw_data: Some(raw),
        confidence,
        created_at: now,
    }
}

fn first(facts: &[SiteFact], kind: FactKind) -> Option<String> {
    facts.iter().find(|f| f.kind == kind).map(|f| f.value.clone())
}

/// Merges a survey's facts into the lead's enrichment: technologies (union), LinkedIn and X
/// profiles, the founded year — never replacing what is there.
fn merge_enrichment(lead: &mut Lead, facts: &[SiteFact]) {
    let data = &mut lead.enrichment_data;
    let mut technologies = data.technologies.clone().unwrap_or_default();
    for f in facts.iter().filter(|f| f.kind == FactKind::Technology) {
        if !technologies.iter().any(|t| t.eq_ignore_ascii_case(&f.value)) {
            technologies.push(f.value.clone());
        }
    }
    if !technologies.is_empty() {
        data.technologies = Some(technologies);
    }
    for f in facts.iter().filter(|f| f.kind == FactKind::Social) {
        let network = f.raw.get("network").and_then(|n| n.as_str()).unwrap_or("");
        let profiles = data
            .social_profiles
            .get_or_insert(leadzone_domain::leads::SocialProfiles { linkedin: None, twitter: None });
        match network {
            "linkedin" if profiles.linkedin.is_none() => profiles.linkedin = Some(f.value.clone()),
            "twitter" | "x" if profiles.twitter.is_none() => profiles.twitter = Some(f.value.clone()),
            _ => {}
        }
    }
    if data.social_profiles.as_ref().is_some_and(|p| p.linkedin.is_none() && p.twitter.is_none()) {
        data.social_profiles = None;
    }
    if data.founded_year.is_none()
        && let Some(year) = first(facts, FactKind::FoundedYear).and_then(|y| y.parse::<i32>().ok())
        && (1800..=2100).contains(&year)
    {
        data.founded_year = Some(year);
    }
}

/// The lead's score from its fields and all its evidence (`evidence` is every row of the lead).
pub(crate) fn score_of(lead: &Lead, evidence: &[Evidence]) -> Option<i32> {
    Some(lead_score(&score_facts(lead, evidence)))
}

/// The facts the score is computed from: the lead's fields and all its evidence.
fn score_facts(lead: &Lead, evidence: &[Evidence]) -> ScoreFacts {
    let fact =
        |e: &Evidence| e.raw_data.as_ref().and_then(|r| r.get("fact")).and_then(|f| f.as_str()).map(str::to_owned);
    let facts: Vec<String> = evidence.iter().filter_map(fact).collect();
    let has = |name: &str| facts.iter().any(|f| f == name);
    let networks: HashSet<String> = evidence
        .iter()
        .filter(|e| e.kind == EvidenceType::Social)
        .filter_map(|e| e.raw_data.as_ref().and_then(|r| r.get("network")).and_then(|n| n.as_str()).map(str::to_owned))
        .collect();
    let review_count = evidence
        .iter()
        .filter(|e| e.kind == EvidenceType::Reviews)
        .map(|e| {
            e.raw_data.as_ref().and_then(|r| r.get("userRatingCount")).and_then(|n| n.as_u64()).unwrap_or(0) as u32
        })
        .max();
    ScoreFacts {
        has_phone: lead.phone.is_some() || has("PHONE") || has("WHATSAPP"),
        has_email: lead.email.is_some() || has("EMAIL"),
        website_answered: !facts.is_empty(),
        social_profiles: networks.len(),
        commercial_registration: has("COMMERCIAL_REGISTRATION"),
        vat_number: has("VAT_NUMBER"),
        decision_makers: lead.enrichment_data.decision_makers.as_ref().map_or(0, Vec::len),
        review_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, app_with_txs, ctx};
    use leadzone_domain::enums::Role;
    use leadzone_ports::intelligence::DraftSection;

    fn lead(website: Option<&str>) -> Lead {
        Lead { website: website.map(str::to_owned), ..crate::testing::lead(7) }
    }

    /// Two transactions: the visibility check, then the job's insert — a SURVEY about the lead,
    /// its id as the input. A storage failure at the insert surfaces as it is.
    #[tokio::test]
    async fn a_survey_is_enqueued_about_the_lead_after_its_visibility_check() {
        let mut check = FakeTx::default();
        check.leads.expect_get().times(1).returning(|_| Ok(lead(Some("https://nukhba.sa/"))));
        let mut insert = FakeTx::default();
        insert
            .jobs
            .expect_insert()
            .withf(|job, _| {
                job.kind == JobType::Survey
                    && job.entity_type == Some(leadzone_domain::enums::JobEntityType::Lead)
                    && job.entity_id == Some(uuid::Uuid::from_u128(7))
                    && job.input.get("leadId").and_then(|v| v.as_str()) == Some(&uuid::Uuid::from_u128(7).to_string())
            })
            .times(1)
            .returning(|_, _| Err(leadzone_ports::RepoError::Unavailable("pool timeout".into())));
        let app = app_with_txs(vec![check, insert]);
        let err = app
            .intelligence
            .start_survey(&ctx(Role::Owner, 1), uuid::Uuid::from_u128(7).into(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Unavailable(_)), "{err:?}");
    }

    /// A lead without a website is 422 on `website`, and nothing is enqueued (no second
    /// transaction was prepared: beginning one would fail the test).
    #[tokio::test]
    async fn a_lead_without_a_website_is_not_surveyed() {
        let mut check = FakeTx::default();
        check.leads.expect_get().times(1).returning(|_| Ok(lead(None)));
        let app = app_with_txs(vec![check]);
        let err = app
            .intelligence
            .start_survey(&ctx(Role::Owner, 1), uuid::Uuid::from_u128(7).into(), None)
            .await
            .unwrap_err();
        let AppError::Validation(errors) = err else { panic!("{err:?}") };
        assert_eq!(errors[0].field, "website");
    }

    #[test]
    fn citations_of_foreign_evidence_are_dropped_with_sections_left_without_ground() {
        let own_id = uuid::Uuid::from_u128(1);
        let foreign = uuid::Uuid::from_u128(99);
        let draft = DraftReport {
            summary: "s".into(),
            sections: vec![
                DraftSection {
                    title: "a".into(),
                    content: "x".into(),
                    confidence: "HIGH".into(),
                    evidence_ids: vec![own_id, foreign],
                },
                DraftSection {
                    title: "b".into(),
                    content: "y".into(),
                    confidence: "HIGH".into(),
                    evidence_ids: vec![foreign],
                },
                DraftSection {
                    title: "c".into(),
                    content: "z".into(),
                    confidence: "MEDIUM".into(),
                    evidence_ids: vec![],
                },
            ],
            score: Some(50),
            model_version: "m".into(),
        };
        let (sections, dropped) = cited_sections(&draft, &HashSet::from([own_id]));
        assert_eq!(dropped, 2);
        assert_eq!(sections.iter().map(|s| s.title.as_str()).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(sections[0].evidence_ids, vec![EvidenceId::from(own_id)]);
        assert_eq!(sections[1].confidence, Confidence::Low, "an uncited section is LOW");
    }
}
