//! The website surveyor: reads a lead's site — robots.txt, the home page and up to ten pages that
//! matter (contact, about, team, careers, and their Arabic versions) — and lists the facts it
//! found, each with the page it came from and a snippet of the text around it.
//!
//! Every request goes through the [`ssrf`](crate::ssrf) guard: the URL and each redirect hop are
//! checked, and the client resolves names through [`GuardedResolver`](crate::ssrf::GuardedResolver),
//! so the refused host never receives a request. Redirects are followed here (at most
//! [`MAX_REDIRECT_HOPS`](crate::ssrf::MAX_REDIRECT_HOPS)), never by the client.
//!
//! Limits ([`SurveyLimits`]): at most `max_pages` pages, `per_host_concurrency` requests at a
//! time, `request_timeout` per request, `max_page_bytes` per page (a longer page is cut and the
//! part read is still used) and `max_total_bytes` per survey (robots.txt included).

mod extract;
mod fetch;
mod links;
mod robots;
mod tech;
mod text;

pub use robots::robots_agent;

use crate::outbound::{OutboundSetupError, USER_AGENT};
use crate::ssrf::{self, FetchPolicy, HostResolver};
use fetch::{Fetched, Fetcher, Skip};
use futures::StreamExt;
use leadzone_ports::discovery::ProviderError;
use leadzone_ports::intelligence::{FactKind, SiteFact, SurveyLimits, SurveyObserver, SurveyOutcome, WebsiteSurveyor};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use text::Found;
use url::Url;

/// Time allowed to open a connection, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The [`WebsiteSurveyor`] over HTTP, behind the SSRF guard.
#[derive(Debug, Clone)]
pub struct HttpSurveyor {
    client: reqwest::Client,
    policy: FetchPolicy,
}

impl HttpSurveyor {
    /// A surveyor fetching under `policy` (strict unless the server's settings say
    /// `LEADZONE_ALLOW_PRIVATE_FETCH=true`, which production refuses), resolving names with `resolver` (the
    /// system's when `None`; tests inject a fixed table). Every resolved address still goes
    /// through the guard.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(policy: FetchPolicy, resolver: Option<Arc<dyn HostResolver>>) -> Result<Self, OutboundSetupError> {
        let client = ssrf::guarded_client_builder(policy, resolver)
            .user_agent(USER_AGENT)
            .default_headers(default_headers())
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| OutboundSetupError::Client(e.without_url().to_string()))?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> FetchPolicy {
        self.policy
    }

    async fn run(&self, website: &str, limits: &SurveyLimits, observer: &dyn SurveyObserver) -> SurveyOutcome {
        let blocked = |reason: String| SurveyOutcome { blocked: Some(reason), ..SurveyOutcome::default() };
        let start = match start_url(website) {
            Ok(url) => url,
            Err(reason) => return blocked(reason),
        };
        if let Err(refusal) = ssrf::check_url(&start, &self.policy) {
            return blocked(refusal.to_string());
        }
        if observer.should_stop() || limits.max_pages == 0 {
            return SurveyOutcome::default();
        }
        let fetcher = Fetcher::new(&self.client, self.policy, limits);
        let start = match fetcher.open(start).await {
            Ok(url) => url,
            Err(reason) => return blocked(reason),
        };
        let mut outcome = SurveyOutcome { scheme: Some(start.scheme().to_owned()), ..SurveyOutcome::default() };
        let year = current_year();

        // The home page: redirects may take it anywhere the guard allows (`acme.sa` → `www.acme.sa`);
        // where it lands is the site.
        let home = match fetcher.fetch_page(start, |_| true).await {
            Fetched::Page(page) => page,
            Fetched::Refused(refusal) => return blocked(refusal.to_string()),
            Fetched::Skipped(skip @ (Skip::Timeout | Skip::Unreachable(_) | Skip::Robots)) => {
                return blocked(fetcher.skip_reason(&skip));
            }
            Fetched::Skipped(skip) => {
                tracing::info!(reason = fetcher.skip_reason(&skip), "survey: home page skipped");
                outcome.pages_skipped = 1;
                observer.page_done(1, 1);
                return outcome;
            }
        };
        log_cut(&home);
        outcome.scheme = Some(home.url.scheme().to_owned());
        outcome.pages_fetched = 1;
        let home_url = home.url.clone();
        let scan = scan_page(home, true, year).await;
        let home = home_url;
        let arabic = links::has_arabic_section(&home, &scan.links);
        let plan = links::plan_pages(&home, &scan.links, arabic, limits.max_pages.saturating_sub(1));
        let planned = 1 + plan.len();
        observer.page_done(1, planned);
        let mut facts = Facts::default();
        facts.add(&home, scan.facts);

        let done = AtomicUsize::new(1);
        let site = home;
        let pages: Vec<Option<(Url, Vec<Found>)>> = futures::stream::iter(plan)
            .map(|url| {
                let (fetcher, site, done) = (&fetcher, &site, &done);
                async move {
                    if observer.should_stop() {
                        return None;
                    }
                    let fetched = fetcher.fetch_page(url, |hop| links::same_site(site, hop)).await;
                    let result = match fetched {
                        Fetched::Page(page) => {
                            log_cut(&page);
                            let url = page.url.clone();
                            let scan = scan_page(page, false, year).await;
                            Some(Some((url, scan.facts)))
                        }
                        Fetched::Skipped(skip) => {
                            tracing::debug!(reason = fetcher.skip_reason(&skip), "survey: page skipped");
                            Some(None)
                        }
                        Fetched::Refused(refusal) => {
                            tracing::info!(reason = %refusal, "survey: page refused");
                            Some(None)
                        }
                    };
                    observer.page_done(done.fetch_add(1, Ordering::SeqCst) + 1, planned);
                    result
                }
            })
            .buffered(limits.per_host_concurrency.max(1))
            .filter_map(|page| async move { page })
            .collect()
            .await;
        for page in pages {
            match page {
                Some((url, found)) => {
                    outcome.pages_fetched += 1;
                    facts.add(&url, found);
                }
                None => outcome.pages_skipped += 1,
            }
        }
        outcome.facts = facts.into_vec();
        outcome
    }
}

#[async_trait::async_trait]
impl WebsiteSurveyor for HttpSurveyor {
    /// Never fails: a refused or unreachable site is an outcome with `blocked`, a page that
    /// fails is skipped.
    async fn survey(
        &self,
        website: &str,
        limits: &SurveyLimits,
        observer: &dyn SurveyObserver,
    ) -> Result<SurveyOutcome, ProviderError> {
        let outcome = self.run(website, limits, observer).await;
        tracing::info!(
            pages_fetched = outcome.pages_fetched,
            pages_skipped = outcome.pages_skipped,
            facts = outcome.facts.len(),
            blocked = outcome.blocked.as_deref().unwrap_or(""),
            "survey done"
        );
        Ok(outcome)
    }
}

/// HTML first, Arabic first (the leads are Saudi companies).
fn default_headers() -> reqwest::header::HeaderMap {
    use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, HeaderValue};
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"));
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("ar,en;q=0.8"));
    headers
}

/// The lead's website as a URL: `https://` when no scheme is given, no fragment, no credentials.
fn start_url(website: &str) -> Result<Url, String> {
    let website = website.trim();
    let with_scheme = if website.contains("://") { website.to_owned() } else { format!("https://{website}") };
    let mut url = Url::parse(&with_scheme).map_err(|_| ssrf::Refusal::Invalid(website.to_owned()).to_string())?;
    url.set_fragment(None);
    // Credentials in a lead's website are a typo or a trick; never send them.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(url)
}

/// Scans a page off the async threads (a big page takes a moment); a parser panic costs the
/// page's facts, not the survey.
async fn scan_page(page: fetch::Page, home: bool, year: i32) -> extract::PageScan {
    let path = page.url.path().to_owned();
    let scanned =
        tokio::task::spawn_blocking(move || extract::scan(&page.url, &page.body, page.charset.as_deref(), home, year))
            .await;
    scanned.unwrap_or_else(|err| {
        tracing::warn!(path, error = %err, "survey: page could not be scanned");
        extract::PageScan::default()
    })
}

fn log_cut(page: &fetch::Page) {
    if page.truncated {
        tracing::info!(path = page.url.path(), bytes = page.body.len(), "survey: page cut at the byte cap");
    }
}

fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

/// The facts of a survey, deduplicated by (kind, value): the first page keeps it.
#[derive(Default)]
struct Facts {
    seen: HashSet<(FactKind, String)>,
    facts: Vec<SiteFact>,
}

impl Facts {
    fn add(&mut self, url: &Url, found: Vec<Found>) {
        for f in found {
            if self.seen.insert((f.kind, f.value.clone())) {
                self.facts.push(SiteFact {
                    kind: f.kind,
                    value: f.value,
                    url: url.to_string(),
                    snippet: f.snippet,
                    raw: f.raw,
                });
            }
        }
    }

    fn into_vec(self) -> Vec<SiteFact> {
        self.facts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn websites_default_to_https_and_lose_credentials() {
        assert_eq!(start_url("acme.sa").unwrap().as_str(), "https://acme.sa/");
        assert_eq!(start_url(" http://u:p@acme.sa/ar#x ").unwrap().as_str(), "http://acme.sa/ar");
        assert!(start_url("http://").is_err());
    }

    #[test]
    fn facts_keep_the_first_page() {
        let mut facts = Facts::default();
        let found = |v: &str| Found {
            kind: FactKind::Email,
            value: v.into(),
            snippet: String::new(),
            raw: serde_json::json!({}),
        };
        facts.add(&Url::parse("https://a.sa/").unwrap(), vec![found("x@a.sa")]);
        facts.add(&Url::parse("https://a.sa/contact").unwrap(), vec![found("x@a.sa"), found("y@a.sa")]);
        let urls: Vec<_> = facts.into_vec().into_iter().map(|f| (f.value, f.url)).collect();
        assert_eq!(urls, [("x@a.sa".into(), "https://a.sa/".into()), ("y@a.sa".into(), "https://a.sa/contact".into())]);
    }
}
