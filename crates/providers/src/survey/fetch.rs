//! Fetching within a survey's limits: every URL and redirect hop through the SSRF guard, robots.txt
//! per origin, a few requests at a time, a time limit per request, and byte caps per page and per
//! survey (a page over its cap is cut, not failed).

use super::robots::{MAX_ROBOTS_BYTES, RobotsRules};
use crate::ssrf::{self, FetchPolicy, MAX_REDIRECT_HOPS, Refusal};
use leadzone_ports::intelligence::SurveyLimits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use url::Url;

/// A page as read: its final URL (after redirects), the bytes read and whether they were cut.
#[derive(Debug)]
pub(crate) struct Page {
    pub url: Url,
    pub body: Vec<u8>,
    /// The `charset` of the `Content-Type` header, if any.
    pub charset: Option<String>,
    pub truncated: bool,
}

/// Why a page was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Skip {
    /// robots.txt disallows it (or one of its redirect hops).
    Robots,
    /// The answer's status was not a success.
    Status(u16),
    /// The answer was not HTML.
    NotHtml(String),
    /// A redirect left the site.
    OffSite,
    /// The survey's byte budget is spent.
    Budget,
    /// No answer within the time limit.
    Timeout,
    /// The connection failed.
    Unreachable(String),
}

/// What fetching a page came to.
#[derive(Debug)]
pub(crate) enum Fetched {
    Page(Page),
    Skipped(Skip),
    /// The guard refused the URL or one of its hops: the refused host got no request.
    Refused(Refusal),
}

/// How a transport failure reads for the tenant, and whether the guard was behind it.
enum Transport {
    Refused(Refusal),
    Timeout,
    Unreachable(String),
}

/// The fetching side of one survey.
pub(crate) struct Fetcher<'a> {
    client: &'a reqwest::Client,
    policy: FetchPolicy,
    timeout: Duration,
    max_page_bytes: usize,
    permits: Semaphore,
    budget: Mutex<usize>,
    robots: tokio::sync::Mutex<HashMap<String, Arc<RobotsRules>>>,
}

/// Opening a site failed: the reason for `SurveyOutcome::blocked`.
pub(crate) type Blocked = String;

impl<'a> Fetcher<'a> {
    pub(crate) fn new(client: &'a reqwest::Client, policy: FetchPolicy, limits: &SurveyLimits) -> Self {
        Self {
            client,
            policy,
            timeout: limits.request_timeout,
            max_page_bytes: limits.max_page_bytes,
            permits: Semaphore::new(limits.per_host_concurrency.max(1)),
            budget: Mutex::new(limits.max_total_bytes),
            robots: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Reads the robots.txt of `start`'s origin, the first request of a survey; when an `https`
    /// site cannot be reached, tries its plain `http` twin once. Returns the URL to start from
    /// (its scheme is the one that answered).
    ///
    /// # Errors
    /// The reason the site cannot be surveyed: a refusal, or no answer at all.
    pub(crate) async fn open(&self, start: Url) -> Result<Url, Blocked> {
        let first_failure = match self.load_robots(&start).await {
            Ok(_) => return Ok(start),
            Err(Transport::Refused(refusal)) => return Err(refusal.to_string()),
            Err(failure) => failure,
        };
        if start.scheme() == "https" {
            let mut plain = start.clone();
            if plain.set_scheme("http").is_ok() && (start.port().is_none() || plain.set_port(start.port()).is_ok()) {
                ssrf::check_url(&plain, &self.policy).map_err(|r| r.to_string())?;
                match self.load_robots(&plain).await {
                    Ok(_) => return Ok(plain),
                    Err(Transport::Refused(refusal)) => return Err(refusal.to_string()),
                    Err(_) => {}
                }
            }
        }
        Err(self.describe(&first_failure))
    }

    fn describe(&self, failure: &Transport) -> String {
        match failure {
            Transport::Refused(refusal) => refusal.to_string(),
            Transport::Timeout => format!("the site did not answer within {}", human(self.timeout)),
            Transport::Unreachable(why) => format!("the site could not be reached ({why})"),
        }
    }

    /// Why a page that did not answer was skipped, in the words of `SurveyOutcome::blocked`.
    pub(crate) fn skip_reason(&self, skip: &Skip) -> String {
        match skip {
            Skip::Timeout => self.describe(&Transport::Timeout),
            Skip::Unreachable(why) => self.describe(&Transport::Unreachable(why.clone())),
            Skip::Robots => "robots.txt does not allow Leadzone to read the home page".to_owned(),
            Skip::Status(status) => format!("the home page answered HTTP {status}"),
            Skip::NotHtml(kind) => format!("the home page is not HTML ({kind})"),
            Skip::OffSite => "the home page redirects off the site".to_owned(),
            Skip::Budget => "the survey's byte budget is spent".to_owned(),
        }
    }

    /// Fetches a page: robots.txt consulted for it and every redirect hop, at most
    /// [`MAX_REDIRECT_HOPS`] hops, each checked by the guard; `same_site` decides whether a hop
    /// may go to another host. Only `text/html` (and XHTML) is read.
    pub(crate) async fn fetch_page(&self, url: Url, same_site: impl Fn(&Url) -> bool) -> Fetched {
        let mut url = url;
        let mut hops = 0_usize;
        loop {
            if !self.robots_allow(&url).await {
                return Fetched::Skipped(Skip::Robots);
            }
            if self.budget_left() == 0 {
                return Fetched::Skipped(Skip::Budget);
            }
            let permit = self.permits.acquire().await;
            let response = match self.send(&url).await {
                Ok(response) => response,
                Err(Transport::Refused(refusal)) => return Fetched::Refused(refusal),
                Err(Transport::Timeout) => return Fetched::Skipped(Skip::Timeout),
                Err(Transport::Unreachable(why)) => return Fetched::Skipped(Skip::Unreachable(why)),
            };
            let status = response.status();
            if status.is_redirection() {
                let Some(location) = location(&response) else {
                    return Fetched::Skipped(Skip::Status(status.as_u16()));
                };
                drop(response);
                drop(permit);
                if hops >= MAX_REDIRECT_HOPS {
                    return Fetched::Refused(Refusal::TooManyRedirects(MAX_REDIRECT_HOPS));
                }
                hops += 1;
                url = match ssrf::next_hop(&url, &location, &self.policy) {
                    Ok(next) => next,
                    Err(refusal) => return Fetched::Refused(refusal),
                };
                if !same_site(&url) {
                    return Fetched::Skipped(Skip::OffSite);
                }
                continue;
            }
            if !status.is_success() {
                return Fetched::Skipped(Skip::Status(status.as_u16()));
            }
            let (is_html, charset, kind) = content_type(&response);
            if !is_html {
                return Fetched::Skipped(Skip::NotHtml(kind));
            }
            let Some(reserved) = self.reserve(self.max_page_bytes) else {
                return Fetched::Skipped(Skip::Budget);
            };
            let read = read_capped(response, reserved).await;
            drop(permit);
            return match read {
                Ok((body, truncated)) => {
                    self.give_back(reserved.saturating_sub(body.len()));
                    Fetched::Page(Page { url, body, charset, truncated })
                }
                Err(err) => {
                    self.give_back(reserved);
                    match classify(&err) {
                        Transport::Refused(refusal) => Fetched::Refused(refusal),
                        Transport::Timeout => Fetched::Skipped(Skip::Timeout),
                        Transport::Unreachable(why) => Fetched::Skipped(Skip::Unreachable(why)),
                    }
                }
            };
        }
    }

    /// One GET, no redirects followed, within the time limit.
    async fn send(&self, url: &Url) -> Result<reqwest::Response, Transport> {
        let request = self.client.get(url.clone()).timeout(self.timeout).send();
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(classify(&err)),
            Err(_) => Err(Transport::Timeout),
        }
    }

    /// Whether robots.txt of `url`'s origin allows it (read once per origin; an origin whose
    /// robots.txt cannot be reached allows nothing).
    async fn robots_allow(&self, url: &Url) -> bool {
        match self.load_robots(url).await {
            Ok(rules) => rules.allows(url),
            Err(_) => false,
        }
    }

    async fn load_robots(&self, url: &Url) -> Result<Arc<RobotsRules>, Transport> {
        let origin = url.origin().ascii_serialization();
        let mut cache = self.robots.lock().await;
        if let Some(rules) = cache.get(&origin) {
            return Ok(Arc::clone(rules));
        }
        let (rules, failure) = match self.read_robots(url).await {
            Ok(rules) => (rules, None),
            Err(failure) => (RobotsRules::DisallowAll, Some(failure)),
        };
        let rules = Arc::new(rules);
        cache.insert(origin, Arc::clone(&rules));
        match failure {
            Some(failure) => Err(failure),
            None => Ok(rules),
        }
    }

    /// GET /robots.txt, following up to five redirects (a refused hop or one more: no rules).
    async fn read_robots(&self, site: &Url) -> Result<RobotsRules, Transport> {
        let mut url = site.join("/robots.txt").map_err(|e| Transport::Unreachable(e.to_string()))?;
        let mut hops = 0_usize;
        loop {
            let permit = self.permits.acquire().await;
            let response = self.send(&url).await?;
            let status = response.status();
            if status.is_redirection() {
                let Some(location) = location(&response) else {
                    return Ok(RobotsRules::AllowAll);
                };
                drop(response);
                drop(permit);
                hops += 1;
                match ssrf::next_hop(&url, &location, &self.policy) {
                    Ok(next) if hops <= MAX_REDIRECT_HOPS => url = next,
                    _ => return Ok(RobotsRules::AllowAll),
                }
                continue;
            }
            if !status.is_success() {
                return Ok(RobotsRules::from_answer(status.as_u16(), b""));
            }
            let Some(reserved) = self.reserve(MAX_ROBOTS_BYTES) else {
                return Ok(RobotsRules::AllowAll);
            };
            let read = read_capped(response, reserved).await;
            drop(permit);
            let body = match read {
                Ok((body, _)) => body,
                Err(err) => {
                    self.give_back(reserved);
                    return Err(classify(&err));
                }
            };
            self.give_back(reserved.saturating_sub(body.len()));
            return Ok(RobotsRules::from_answer(status.as_u16(), &body));
        }
    }

    /// Takes up to `wanted` bytes of the survey's budget; `None` once it is spent.
    fn reserve(&self, wanted: usize) -> Option<usize> {
        let mut left = self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let take = wanted.min(*left);
        *left -= take;
        (take > 0).then_some(take)
    }

    fn budget_left(&self) -> usize {
        *self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn give_back(&self, bytes: usize) {
        let mut left = self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *left = left.saturating_add(bytes);
    }
}

fn location(response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get(reqwest::header::LOCATION)?;
    let text = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Whether the answer is HTML (a missing `Content-Type` is taken as HTML), its charset, and the
/// media type as sent.
fn content_type(response: &reqwest::Response) -> (bool, Option<String>, String) {
    let Some(value) = response.headers().get(reqwest::header::CONTENT_TYPE) else {
        return (true, None, String::new());
    };
    let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_owned();
    let charset = parts.find_map(|p| {
        let (name, val) = p.split_once('=')?;
        (name.trim() == "charset").then(|| val.trim().trim_matches(['"', '\'']).to_owned())
    });
    let html = matches!(essence.as_str(), "text/html" | "application/xhtml+xml" | "");
    (html, charset, essence)
}

/// Reads at most `cap` bytes of the body: over the cap, what was read is kept and the rest is
/// left unread (`true`: cut).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
        if body.len() >= cap {
            return Ok((body, response.content_length().is_none_or(|len| len > cap as u64)));
        }
    }
    Ok((body, false))
}

fn classify(err: &reqwest::Error) -> Transport {
    if let Some(refusal) = ssrf::refusal_in(err) {
        return Transport::Refused(refusal);
    }
    if err.is_timeout() {
        return Transport::Timeout;
    }
    let mut why = if err.is_connect() { "connection failed".to_owned() } else { "request failed".to_owned() };
    // The innermost cause is the informative one ("Connection refused", "invalid peer certificate").
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        why = e.to_string();
        source = e.source();
    }
    Transport::Unreachable(why)
}

fn human(d: Duration) -> String {
    if d.as_millis() < 1000 || d.subsec_millis() != 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}
