//! The SSRF guard, without the `LEADZONE_ALLOW_PRIVATE_FETCH` switch unless a test says so:
//! internal addresses refused with a reason, and the refused host never contacted (a local
//! wiremock server records every request; it must stay empty).
//!
//! A live redirect from an allowed host to a loopback address cannot be staged here: with the
//! guard on, no local test server is reachable at all (127.0.0.1 and every port but 80/443 are
//! refused). So the hop decision the surveyor makes for every `Location` — [`next_hop`] — is
//! tested under the strict policy, and live redirects (switch on) show that each hop goes
//! through it: a redirect to a non-http scheme is refused and its target never contacted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use leadzone_ports::intelligence::{SurveyLimits, SurveyObserver, SurveyOutcome, WebsiteSurveyor};
use leadzone_providers::HttpSurveyor;
use leadzone_providers::ssrf::{FetchPolicy, HostResolver, LookupFuture, Refusal, check_url, next_hop};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Quiet;

impl SurveyObserver for Quiet {
    fn page_done(&self, _: usize, _: usize) {}
    fn should_stop(&self) -> bool {
        false
    }
}

/// A resolver answering from a table, recording every name it was asked.
#[derive(Default)]
struct TableResolver {
    table: HashMap<String, Vec<IpAddr>>,
    lookups: Mutex<Vec<String>>,
}

impl TableResolver {
    fn with(entries: &[(&str, &str)]) -> Arc<Self> {
        let mut table: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in entries {
            table.entry((*name).to_owned()).or_default().push(ip.parse().unwrap());
        }
        Arc::new(Self { table, lookups: Mutex::default() })
    }

    fn lookups(&self) -> Vec<String> {
        self.lookups.lock().unwrap().clone()
    }
}

impl HostResolver for TableResolver {
    fn lookup(&self, host: &str) -> LookupFuture {
        self.lookups.lock().unwrap().push(host.to_owned());
        let answer = self.table.get(host).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: unknown name")))
        })
    }
}

fn strict() -> FetchPolicy {
    FetchPolicy::new(false)
}

fn limits() -> SurveyLimits {
    SurveyLimits { request_timeout: Duration::from_secs(2), ..SurveyLimits::default() }
}

async fn survey(surveyor: &HttpSurveyor, website: &str) -> SurveyOutcome {
    surveyor.survey(website, &limits(), &Quiet).await.unwrap()
}

/// A local server that answers everything with a page and records what it receives.
async fn listening_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"<p>info@internal.sa</p>".to_vec(), "text/html"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn internal_addresses_are_refused_with_a_reason() {
    let resolver = TableResolver::with(&[]);
    let surveyor = HttpSurveyor::new(strict(), Some(resolver.clone())).unwrap();
    for (website, reason) in [
        ("http://127.0.0.1/", "refused: 127.0.0.1 is a loopback address"),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is a link-local address (cloud metadata lives there)",
        ),
        ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
        ("http://0x7f000001/", "refused: 127.0.0.1 is a loopback address"),
        ("http://2130706433/", "refused: 127.0.0.1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "refused: ::ffff:127.0.0.1 is an IPv6 form of a forbidden IPv4 address"),
        ("https://100.64.1.1/", "refused: 100.64.1.1 is a shared (carrier-grade NAT) address"),
        ("http://[fd00::1]/", "refused: fd00::1 is a unique-local address"),
        ("ftp://example.sa/", "refused: only http and https URLs are fetched, not ftp:"),
        ("https://example.sa:8443/", "refused: only ports 80 and 443 are fetched, not 8443"),
    ] {
        let outcome = survey(&surveyor, website).await;
        assert_eq!(outcome.blocked.as_deref(), Some(reason), "{website}");
        assert!(outcome.facts.is_empty() && outcome.pages_fetched == 0, "{website}");
        assert_eq!(check_url(&Url::parse(website).unwrap(), &strict()).unwrap_err().to_string(), reason);
    }
    // Every refusal came from the URL itself: no name was even resolved.
    assert!(resolver.lookups().is_empty());
}

#[test]
fn the_url_crate_folds_odd_ipv4_spellings_before_the_check() {
    for odd in ["http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1/", "http://0x7f.1/"] {
        let url = Url::parse(odd).unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{odd}");
        assert!(matches!(check_url(&url, &strict()), Err(Refusal::Address { .. })), "{odd}");
    }
}

#[tokio::test]
async fn a_local_server_is_never_contacted_without_the_switch() {
    let server = listening_server().await;
    let surveyor = HttpSurveyor::new(strict(), None).unwrap();
    let port = server.address().port();

    for website in [server.uri(), format!("http://localhost:{port}/"), format!("http://[::ffff:127.0.0.1]:{port}/")] {
        let outcome = survey(&surveyor, &website).await;
        assert_eq!(
            outcome.blocked,
            Some(format!("refused: only ports 80 and 443 are fetched, not {port}")),
            "{website}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_public_looking_name_resolving_to_loopback_is_refused_by_the_resolver() {
    let resolver = TableResolver::with(&[("public-looking.example", "127.0.0.1")]);
    let surveyor = HttpSurveyor::new(strict(), Some(resolver.clone())).unwrap();

    let outcome = survey(&surveyor, "http://public-looking.example/").await;

    assert_eq!(
        outcome.blocked.as_deref(),
        Some("refused: public-looking.example resolves to 127.0.0.1, a loopback address")
    );
    assert!(outcome.facts.is_empty());
    // The URL passed check_url (a name on port 80); the resolver is what refused it, before any
    // connection: its answer never reached the client.
    assert!(check_url(&Url::parse("http://public-looking.example/").unwrap(), &strict()).is_ok());
    assert_eq!(resolver.lookups(), ["public-looking.example"]);
}

#[tokio::test]
async fn a_name_with_only_metadata_and_private_addresses_is_refused() {
    let resolver = TableResolver::with(&[("rebind.example", "169.254.169.254"), ("rebind.example", "10.1.2.3")]);
    let surveyor = HttpSurveyor::new(strict(), Some(resolver)).unwrap();

    let outcome = survey(&surveyor, "https://rebind.example/").await;

    let blocked = outcome.blocked.unwrap();
    assert!(blocked.starts_with("refused: rebind.example resolves to 169.254.169.254"), "{blocked}");
}

#[tokio::test]
async fn the_injected_resolver_is_the_one_the_client_connects_with() {
    // With the switch on, the same name reaches the local server: the client really resolves
    // through the injected resolver (so it connects to the addresses the guard checked).
    let server = listening_server().await;
    let resolver = TableResolver::with(&[("public-looking.example", "127.0.0.1")]);
    let surveyor = HttpSurveyor::new(FetchPolicy::new(true), Some(resolver.clone())).unwrap();
    let website = format!("http://public-looking.example:{}/", server.address().port());

    let outcome = survey(&surveyor, &website).await;

    assert_eq!(outcome.blocked, None);
    assert_eq!(outcome.facts.iter().map(|f| f.value.as_str()).collect::<Vec<_>>(), ["info@internal.sa"]);
    assert!(resolver.lookups().contains(&"public-looking.example".to_owned()));
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests.iter().all(|r| r.headers.get("host").unwrap().to_str().unwrap().starts_with("public-looking.example"))
    );
}

#[test]
fn every_redirect_hop_is_checked_under_the_strict_policy() {
    let from = Url::parse("http://allowed.example/start").unwrap();
    for (location, reason) in [
        ("http://127.0.0.1/admin", "refused: 127.0.0.1 is a loopback address"),
        ("http://localhost.:80@127.0.0.1/", "refused: 127.0.0.1 is a loopback address"),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
        (
            "//169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is a link-local address (cloud metadata lives there)",
        ),
        ("http://0x7f000001/", "refused: 127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
        ("http://[::ffff:a9fe:a9fe]/", "refused: ::ffff:169.254.169.254 is an IPv6 form of a forbidden IPv4 address"),
        ("http://allowed.example:6379/", "refused: only ports 80 and 443 are fetched, not 6379"),
        ("gopher://allowed.example/", "refused: only http and https URLs are fetched, not gopher:"),
        ("file:///etc/passwd", "refused: only http and https URLs are fetched, not file:"),
    ] {
        let refusal = next_hop(&from, location, &strict()).unwrap_err();
        assert_eq!(refusal.to_string(), reason, "{location}");
    }
    assert_eq!(next_hop(&from, "/contact#team", &strict()).unwrap().as_str(), "http://allowed.example/contact");
    assert_eq!(
        next_hop(&from, "https://www.allowed.example/", &strict()).unwrap().as_str(),
        "https://www.allowed.example/"
    );
}

#[tokio::test]
async fn a_live_redirect_to_a_refused_target_is_never_followed() {
    let target = listening_server().await;
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("ftp://127.0.0.1:{}/", target.address().port())),
        )
        .mount(&site)
        .await;
    Mock::given(method("GET"))
        .and(path("/file"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "file:///etc/passwd"))
        .mount(&site)
        .await;
    let surveyor = HttpSurveyor::new(FetchPolicy::new(true), None).unwrap();

    let outcome = survey(&surveyor, &site.uri()).await;
    assert_eq!(outcome.blocked.as_deref(), Some("refused: only http and https URLs are fetched, not ftp:"));
    let outcome = survey(&surveyor, &format!("{}/file", site.uri())).await;
    assert_eq!(outcome.blocked.as_deref(), Some("refused: only http and https URLs are fetched, not file:"));

    assert!(target.received_requests().await.unwrap().is_empty());
}

/// Under the strict policy: an allowed site (the one name the test exempts, served on the
/// loopback address) redirects to a loopback address; the redirect is refused with its reason
/// and the loopback target never receives a request.
#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_loopback_address_is_refused_live() {
    let target = listening_server().await;
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "http://127.0.0.1/"))
        .mount(&site)
        .await;
    Mock::given(method("GET"))
        .and(path("/two"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("http://127.0.0.1:{}/", target.address().port())),
        )
        .mount(&site)
        .await;
    Mock::given(method("GET")).and(path("/robots.txt")).respond_with(ResponseTemplate::new(404)).mount(&site).await;
    let resolver = TableResolver::with(&[("allowed.test", "127.0.0.1")]);
    let policy = FetchPolicy { exempt_host: Some("allowed.test"), ..strict() };
    let surveyor = HttpSurveyor::new(policy, Some(resolver.clone())).unwrap();

    let outcome = survey(&surveyor, &format!("http://allowed.test:{}/", site.address().port())).await;

    assert!(!site.received_requests().await.unwrap().is_empty(), "the allowed site was asked");
    let blocked = outcome.blocked.unwrap_or_default();
    assert_eq!(blocked, "refused: 127.0.0.1 is a loopback address");
    let outcome = survey(&surveyor, &format!("http://allowed.test:{}/two", site.address().port())).await;
    assert!(outcome.blocked.is_some_and(|b| b.starts_with("refused")));
    assert!(target.received_requests().await.unwrap().is_empty(), "the loopback target was contacted");
    // Without the exemption the allowed site itself is refused: the exemption is what let it in.
    let strict_surveyor = HttpSurveyor::new(strict(), Some(resolver)).unwrap();
    let outcome = survey(&strict_surveyor, &format!("http://allowed.test:{}/", site.address().port())).await;
    assert!(outcome.blocked.is_some_and(|b| b.contains("refused")));
}
