//! Lead intelligence: the website surveyor a SURVEY job runs over a lead's site, and the report
//! writer a REPORT job asks for a written report that cites the lead's evidence.
//!
//! The surveyor fetches only through the SSRF guard (one guard for every URL a tenant controls);
//! its adapter lives in `leadzone-providers`. The report writer has two adapters: an
//! OpenAI-compatible chat-completions client and a built-in deterministic writer.

use crate::discovery::ProviderError;
use std::time::Duration;

/// What kind of fact a survey found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactKind {
    /// An e-mail address (also from `mailto:` links), lowercased.
    Email,
    /// A phone number, normalised to E.164 by the domain's rules (also from `tel:` links).
    Phone,
    /// A WhatsApp link (`wa.me/…`, `api.whatsapp.com/send?phone=…`): the number in E.164.
    WhatsApp,
    /// A social profile URL; `network` in the fact's `raw` (`linkedin`, `twitter`, `instagram`,
    /// `snapchat`, `tiktok`, `youtube`).
    Social,
    /// A Saudi Commercial Registration number (10 digits; the Unified National Number starts with 7).
    CommercialRegistration,
    /// A Saudi VAT number (15 digits, first and last digit 3).
    VatNumber,
    /// A technology the site uses (`Shopify`, `Salla`, `WordPress`, `Google Tag Manager`…).
    Technology,
    /// The year the company was founded (`تأسست عام 2012`, `since 1998`).
    FoundedYear,
    /// The home page's title.
    Title,
    /// The home page's meta description.
    Description,
}

/// One fact and where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteFact {
    pub kind: FactKind,
    /// The normalised value (`+966501234567`, `info@x.sa`, `Shopify`, `2012`, a profile URL).
    pub value: String,
    /// The page it was found on.
    pub url: String,
    /// The surrounding text (at most a few hundred characters), for the evidence row.
    pub snippet: String,
    /// Anything else worth keeping (`{"network":"linkedin"}`, `{"source":"meta generator"}`).
    pub raw: serde_json::Value,
}

/// The limits of one survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyLimits {
    /// Pages fetched at most, the home page included (1 + 10).
    pub max_pages: usize,
    /// Bytes read of one page at most (the rest is cut).
    pub max_page_bytes: usize,
    /// Bytes read over the whole survey at most.
    pub max_total_bytes: usize,
    /// Time allowed for one request.
    pub request_timeout: Duration,
    /// Requests in flight to one host at most.
    pub per_host_concurrency: usize,
}

impl Default for SurveyLimits {
    fn default() -> Self {
        Self {
            max_pages: 11,
            max_page_bytes: 1024 * 1024,
            max_total_bytes: 5 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            per_host_concurrency: 2,
        }
    }
}

/// What a survey did and found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SurveyOutcome {
    /// Pages fetched and read.
    pub pages_fetched: usize,
    /// Pages not fetched: disallowed by robots.txt, over a limit, or failed.
    pub pages_skipped: usize,
    pub facts: Vec<SiteFact>,
    /// `https` or `http`: which scheme answered (a site without TLS is tried once over http).
    pub scheme: Option<String>,
    /// Why the survey could not run at all (a URL the SSRF guard refused, a site that does not
    /// answer), in words for the tenant; `facts` is then empty.
    pub blocked: Option<String>,
}

/// What the surveyor tells its caller while it works.
pub trait SurveyObserver: Send + Sync {
    /// A page was fetched (or skipped); `done` of at most `planned`.
    fn page_done(&self, done: usize, planned: usize);
    /// True once the job should stop: the survey ends after the pages in flight.
    fn should_stop(&self) -> bool;
}

#[async_trait::async_trait]
pub trait WebsiteSurveyor: Send + Sync {
    /// Surveys the site at `website` (a lead's normalised `https://host/…` URL). A refused or
    /// unreachable site is an outcome with `blocked`, not an error.
    ///
    /// # Errors
    /// Only when the survey itself cannot run (`Unavailable`: the resolver is down, say).
    async fn survey(
        &self,
        website: &str,
        limits: &SurveyLimits,
        observer: &dyn SurveyObserver,
    ) -> Result<SurveyOutcome, ProviderError>;
}

/// A piece of evidence as the report writer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceItem {
    /// The evidence row's id: what a section cites.
    pub id: uuid::Uuid,
    /// `WEBSITE`, `SOCIAL`, `REVIEWS`, `GOVERNMENT`…
    pub kind: String,
    pub title: String,
    pub url: Option<String>,
    pub snippet: Option<String>,
    /// `HIGH`, `MEDIUM` or `LOW`.
    pub confidence: String,
}

/// What a report is written about.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub website: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The lead's `enrichmentData` as JSON.
    pub enrichment: serde_json::Value,
    pub evidence: Vec<EvidenceItem>,
    /// `ar` or `en`: the tenant's language; the report is written in it.
    pub language: String,
}

/// One section of a written report; `evidence_ids` cite `ReportRequest::evidence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftSection {
    pub title: String,
    pub content: String,
    /// `HIGH`, `MEDIUM` or `LOW`.
    pub confidence: String,
    pub evidence_ids: Vec<uuid::Uuid>,
}

/// A report as the writer wrote it (the app checks every citation before storing it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftReport {
    pub summary: String,
    pub sections: Vec<DraftSection>,
    /// 0–100 when the writer gives one.
    pub score: Option<i32>,
    /// The model name, or `builtin-<version>`.
    pub model_version: String,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ReportWriter: Send + Sync {
    /// # Errors
    /// `ProviderError` as documented on each variant (a malformed answer, after one retry, is
    /// `Rejected`).
    async fn write(&self, request: &ReportRequest) -> Result<DraftReport, ProviderError>;
}

/// The lead's report (`reports`: one per lead).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ReportRepo: Send + Sync {
    /// The report of `lead`, if one was written.
    ///
    /// # Errors
    /// Storage errors only.
    async fn get(
        &self,
        lead: leadzone_domain::ids::LeadId,
    ) -> Result<Option<leadzone_domain::entities::Report>, crate::RepoError>;

    /// Stores the lead's report, replacing the one there (its id and creation time kept,
    /// `updatedAt` moved); returns it as stored.
    ///
    /// # Errors
    /// Storage errors only.
    async fn upsert(
        &self,
        report: &leadzone_domain::entities::Report,
    ) -> Result<leadzone_domain::entities::Report, crate::RepoError>;
}
