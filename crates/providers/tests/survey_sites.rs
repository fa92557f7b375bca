//! The website surveyor against local test sites (wiremock on 127.0.0.1, which records every
//! request it receives), with private fetches allowed as in development.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use leadzone_ports::intelligence::{FactKind, SiteFact, SurveyLimits, SurveyObserver, SurveyOutcome, WebsiteSurveyor};
use leadzone_providers::{FetchPolicy, HttpSurveyor};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AR_HOME: &str = include_str!("fixtures/ar_home.html");
const AR_CONTACT: &str = include_str!("fixtures/ar_contact.html");
const AR_ABOUT: &str = include_str!("fixtures/ar_about.html");
const AR_CAREERS: &str = include_str!("fixtures/ar_careers.html");
const EN_HOME: &str = include_str!("fixtures/en_home.html");
const EN_CONTACT: &str = include_str!("fixtures/en_contact.html");
const EN_ABOUT: &str = include_str!("fixtures/en_about.html");
const EN_AR_CONTACT: &str = include_str!("fixtures/en_ar_contact.html");

/// Records what the surveyor reports and stops it once `stop_after` pages are done.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(usize, usize)>>,
    stop_after: Option<usize>,
}

impl SurveyObserver for Recorder {
    fn page_done(&self, done: usize, planned: usize) {
        self.calls.lock().unwrap().push((done, planned));
    }

    fn should_stop(&self) -> bool {
        self.stop_after.is_some_and(|n| self.calls.lock().unwrap().len() >= n)
    }
}

fn surveyor() -> HttpSurveyor {
    HttpSurveyor::new(FetchPolicy::new(true), None).unwrap()
}

fn limits() -> SurveyLimits {
    SurveyLimits { request_timeout: Duration::from_secs(5), ..SurveyLimits::default() }
}

fn html(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "text/html; charset=utf-8")
}

fn redirect(status: u16, to: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("Location", to)
}

async fn serve(server: &MockServer, at: &str, answer: ResponseTemplate) {
    Mock::given(method("GET")).and(path(at)).respond_with(answer).mount(server).await;
}

/// Every path the server received, in order (percent-decoded).
async fn requested(server: &MockServer) -> Vec<String> {
    server.received_requests().await.unwrap().iter().map(|r| percent_decode(r.url.path())).collect()
}

fn percent_decode(p: &str) -> String {
    let bytes = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// (kind, value, path of the page) of every fact, in order.
fn facts(outcome: &SurveyOutcome, base: &str) -> Vec<(FactKind, String, String)> {
    outcome
        .facts
        .iter()
        .map(|f| (f.kind, f.value.clone(), percent_decode(f.url.strip_prefix(base).unwrap_or(&f.url))))
        .collect()
}

fn fact<'a>(outcome: &'a SurveyOutcome, kind: FactKind, value: &str) -> &'a SiteFact {
    outcome.facts.iter().find(|f| f.kind == kind && f.value == value).unwrap_or_else(|| panic!("no {kind:?} {value}"))
}

fn f(kind: FactKind, value: &str, page: &str) -> (FactKind, String, String) {
    (kind, value.to_owned(), page.to_owned())
}

#[tokio::test]
async fn an_arabic_site_gives_its_exact_facts() {
    let server = MockServer::start().await;
    serve(&server, "/", html(AR_HOME)).await;
    serve(&server, "/contact-us", html(AR_CONTACT)).await;
    serve(&server, "/about-us", html(AR_ABOUT)).await;
    serve(&server, "/%D9%88%D8%B8%D8%A7%D8%A6%D9%81", html(AR_CAREERS)).await;
    serve(&server, "/products", html("<p>0509999999</p>")).await;
    let observer = Recorder::default();

    let outcome = surveyor().survey(&server.uri(), &limits(), &observer).await.unwrap();

    assert_eq!(outcome.blocked, None);
    assert_eq!(outcome.scheme.as_deref(), Some("http"));
    assert_eq!((outcome.pages_fetched, outcome.pages_skipped), (4, 0));
    use FactKind::*;
    assert_eq!(
        facts(&outcome, &server.uri()),
        [
            f(Title, "مؤسسة النخبة للتجارة | الرياض", "/"),
            f(Description, "مؤسسة النخبة للتجارة: توريد معدات المطاعم والمقاهي في الرياض.", "/"),
            f(WhatsApp, "+966501234567", "/"),
            f(Social, "https://www.instagram.com/alnokhba.sa", "/"),
            f(Social, "https://www.snapchat.com/add/alnokhba", "/"),
            f(Social, "https://x.com/alnokhba_sa", "/"),
            f(Phone, "+966112345678", "/"),
            f(CommercialRegistration, "1010123456", "/"),
            f(Technology, "Salla", "/"),
            f(Technology, "Google Tag Manager", "/"),
            f(Email, "info@alnokhba.sa", "/contact-us"),
            f(Phone, "+966559876543", "/contact-us"),
            f(Phone, "+966920012345", "/contact-us"),
            f(VatNumber, "300123456700003", "/about-us"),
            f(FoundedYear, "2012", "/about-us"),
            f(Email, "hr@alnokhba.sa", "/وظائف"),
        ]
    );
    // Snippets are the text around the fact, Arabic digits as written, at most 200 characters.
    assert!(fact(&outcome, Phone, "+966112345678").snippet.contains("هاتف: ٠١١ ٢٣٤ ٥٦٧٨"));
    assert!(fact(&outcome, CommercialRegistration, "1010123456").snippet.contains("السجل التجاري"));
    assert!(fact(&outcome, FoundedYear, "2012").snippet.contains("تأسست مؤسسة النخبة للتجارة عام ٢٠١٢"));
    assert!(outcome.facts.iter().all(|f| f.snippet.chars().count() <= 200 && !f.snippet.is_empty()));
    assert_eq!(fact(&outcome, Social, "https://x.com/alnokhba_sa").raw["network"], "twitter");
    assert_eq!(fact(&outcome, Social, "https://www.snapchat.com/add/alnokhba").raw["network"], "snapchat");
    assert_eq!(fact(&outcome, Email, "info@alnokhba.sa").raw["source"], "mailto");
    // Irrelevant pages are not fetched; robots.txt comes first.
    let paths = requested(&server).await;
    assert_eq!(paths[..2], ["/robots.txt", "/"]);
    assert_eq!(
        sorted(paths),
        sorted(["/robots.txt", "/", "/contact-us", "/about-us", "/وظائف"].map(String::from).to_vec())
    );
    assert_eq!(*observer.calls.lock().unwrap(), [(1, 4), (2, 4), (3, 4), (4, 4)]);
}

async fn english_site() -> MockServer {
    let server = MockServer::start().await;
    let robots = "User-agent: *\nDisallow: /\n\nUser-agent: Leadzone\nDisallow: /team\n";
    serve(&server, "/robots.txt", ResponseTemplate::new(200).set_body_string(robots)).await;
    serve(&server, "/", html(EN_HOME)).await;
    serve(&server, "/contact", html(EN_CONTACT)).await;
    serve(&server, "/about/", html(EN_ABOUT)).await;
    serve(&server, "/team", html("<p>Ahmed Al-Harbi, CEO: ahmed@gulfbright.com.sa</p>")).await;
    serve(&server, "/ar/contact", html(EN_AR_CONTACT)).await;
    server
}

#[tokio::test]
async fn an_english_site_gives_its_exact_facts() {
    let server = english_site().await;

    let outcome = surveyor().survey(&format!("{}/", server.uri()), &limits(), &Recorder::default()).await.unwrap();

    assert_eq!(outcome.blocked, None);
    use FactKind::*;
    assert_eq!(
        facts(&outcome, &server.uri()),
        [
            f(Title, "Gulf Bright Logistics – Freight forwarding in Jeddah", "/"),
            f(Description, "Sea, air and land freight from Jeddah to the whole Kingdom and the GCC.", "/"),
            f(Phone, "+966126543210", "/"),
            f(Social, "https://www.linkedin.com/company/gulf-bright-logistics", "/"),
            f(Social, "https://www.youtube.com/@gulfbright", "/"),
            f(Social, "https://www.tiktok.com/@gulfbright", "/"),
            f(CommercialRegistration, "4030123456", "/"),
            f(VatNumber, "310123456700003", "/"),
            f(FoundedYear, "1998", "/"),
            f(Technology, "WordPress", "/"),
            f(Technology, "Google Analytics", "/"),
            f(Technology, "HubSpot", "/"),
            f(Technology, "Meta Pixel", "/"),
            f(Email, "sales@gulfbright.com.sa", "/contact"),
            f(Phone, "+966920000123", "/contact"),
            f(Phone, "+966551234567", "/contact"),
            f(Email, "careers@gulfbright.com.sa", "/about/"),
            f(Email, "info@gulfbright.com.sa", "/ar/contact"),
        ]
    );
    assert_eq!(fact(&outcome, Technology, "WordPress").raw["source"], "meta generator");
    assert_eq!(
        fact(&outcome, Social, "https://www.linkedin.com/company/gulf-bright-logistics").raw["network"],
        "linkedin"
    );
    assert_eq!(fact(&outcome, Phone, "+966126543210").raw["source"], "tel");
    // Linked pages, then their Arabic versions (the site has /ar/); /team is robots-disallowed;
    // /ar/about/ and /ar/team do not exist (404: skipped).
    assert_eq!((outcome.pages_fetched, outcome.pages_skipped), (4, 3));
}

#[tokio::test]
async fn robots_txt_disallowed_pages_are_never_fetched() {
    let server = english_site().await;

    let outcome = surveyor().survey(&server.uri(), &limits(), &Recorder::default()).await.unwrap();

    let paths = requested(&server).await;
    assert_eq!(paths[0], "/robots.txt");
    assert!(!paths.contains(&"/team".to_owned()), "{paths:?}");
    assert!(!outcome.facts.iter().any(|f| f.value == "ahmed@gulfbright.com.sa"));
    assert_eq!(
        sorted(paths),
        sorted(
            ["/robots.txt", "/", "/contact", "/about/", "/ar/contact", "/ar/about/", "/ar/team"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(outcome.pages_skipped, 3);
}

#[tokio::test]
async fn a_site_disallowing_everything_is_not_read() {
    let server = MockServer::start().await;
    serve(&server, "/robots.txt", ResponseTemplate::new(200).set_body_string("User-agent: *\nDisallow: /\n")).await;
    serve(&server, "/", html(EN_HOME)).await;

    let outcome = surveyor().survey(&server.uri(), &limits(), &Recorder::default()).await.unwrap();

    assert_eq!(requested(&server).await, ["/robots.txt"]);
    assert!(outcome.facts.is_empty());
    assert!(outcome.blocked.as_deref().is_some_and(|b| b.contains("robots.txt")), "{:?}", outcome.blocked);
}

#[tokio::test]
async fn a_redirect_chain_is_followed() {
    let server = MockServer::start().await;
    serve(&server, "/", redirect(301, "/old-home")).await;
    serve(&server, "/old-home", redirect(302, &format!("{}/welcome", server.uri()))).await;
    serve(&server, "/welcome", html("<title>Welcome</title><p>Call 0501234567</p>")).await;

    let outcome = surveyor().survey(&server.uri(), &limits(), &Recorder::default()).await.unwrap();

    assert_eq!(outcome.blocked, None);
    use FactKind::*;
    assert_eq!(
        facts(&outcome, &server.uri()),
        [f(Title, "Welcome", "/welcome"), f(Phone, "+966501234567", "/welcome")]
    );
    assert_eq!(requested(&server).await[..4], ["/robots.txt", "/", "/old-home", "/welcome"]);
}

#[tokio::test]
async fn five_redirects_are_followed_and_a_sixth_is_refused() {
    let five = MockServer::start().await;
    serve(&five, "/", redirect(302, "/r1")).await;
    for i in 1..5 {
        serve(&five, &format!("/r{i}"), redirect(302, &format!("/r{}", i + 1))).await;
    }
    serve(&five, "/r5", html("<p>hello@five.sa</p>")).await;
    let outcome = surveyor().survey(&five.uri(), &limits(), &Recorder::default()).await.unwrap();
    assert_eq!(outcome.blocked, None);
    assert_eq!(outcome.facts.len(), 1);
    assert_eq!(outcome.facts[0].value, "hello@five.sa");

    let six = MockServer::start().await;
    serve(&six, "/", redirect(302, "/r1")).await;
    for i in 1..6 {
        serve(&six, &format!("/r{i}"), redirect(302, &format!("/r{}", i + 1))).await;
    }
    serve(&six, "/r6", html("<p>hello@six.sa</p>")).await;
    let outcome = surveyor().survey(&six.uri(), &limits(), &Recorder::default()).await.unwrap();
    assert_eq!(outcome.blocked.as_deref(), Some("refused: more than 5 redirects"));
    assert!(outcome.facts.is_empty());
    let paths = requested(&six).await;
    assert!(!paths.contains(&"/r6".to_owned()), "{paths:?}");
    assert_eq!(paths.last().map(String::as_str), Some("/r5"));
}

#[tokio::test]
async fn an_oversized_page_is_cut_at_the_cap() {
    let server = MockServer::start().await;
    let page = format!(
        "<html><body><p>Call 0501234567</p><p>{}</p><p>late@example.sa</p></body></html>",
        "Lorem ipsum dolor sit amet. ".repeat(1000)
    );
    assert!(page.len() > 20_000);
    serve(&server, "/", html(page)).await;
    let limits = SurveyLimits { max_page_bytes: 4096, ..limits() };

    let outcome = surveyor().survey(&server.uri(), &limits, &Recorder::default()).await.unwrap();

    assert_eq!(outcome.blocked, None);
    assert_eq!(outcome.pages_fetched, 1);
    let values: Vec<_> = outcome.facts.iter().map(|f| f.value.as_str()).collect();
    assert_eq!(values, ["+966501234567"]);
}

#[tokio::test]
async fn the_survey_byte_budget_is_shared_by_all_pages() {
    let server = MockServer::start().await;
    let home = format!("<a href='/contact'>Contact</a><p>0501234567</p><p>{}</p>", "x".repeat(5000));
    serve(&server, "/", html(home)).await;
    serve(&server, "/contact", html("<p>info@budget.sa</p>")).await;
    let limits = SurveyLimits { max_page_bytes: 4096, max_total_bytes: 4096, ..limits() };

    let outcome = surveyor().survey(&server.uri(), &limits, &Recorder::default()).await.unwrap();

    assert_eq!((outcome.pages_fetched, outcome.pages_skipped), (1, 1));
    assert!(!requested(&server).await.contains(&"/contact".to_owned()));
    assert_eq!(outcome.facts.len(), 1);
}

#[tokio::test]
async fn a_slow_page_is_skipped_and_the_survey_goes_on() {
    let server = MockServer::start().await;
    serve(&server, "/", html("<a href='/contact'>Contact</a> <a href='/about'>About</a>")).await;
    serve(&server, "/contact", html("<p>slow@example.sa</p>").set_delay(Duration::from_secs(3))).await;
    serve(&server, "/about", html("<p>fast@example.sa</p>")).await;
    let limits = SurveyLimits { request_timeout: Duration::from_millis(300), ..SurveyLimits::default() };

    let started = Instant::now();
    let outcome = surveyor().survey(&server.uri(), &limits, &Recorder::default()).await.unwrap();

    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(outcome.blocked, None);
    assert_eq!((outcome.pages_fetched, outcome.pages_skipped), (2, 1));
    let values: Vec<_> = outcome.facts.iter().map(|f| f.value.as_str()).collect();
    assert_eq!(values, ["fast@example.sa"]);
}

#[tokio::test]
async fn broken_html_still_yields_facts() {
    let server = MockServer::start().await;
    let mut page: Vec<u8> = Vec::new();
    page.extend_from_slice(b"<html><head><title>Broken <b>site</title><meta name=description content=Broken>");
    page.extend_from_slice(
        "<body><div><p>هاتف 011 234 5678<p>Write: <a href=mailto:Owner@Broken.sa>us</a></span></div></div>".as_bytes(),
    );
    page.extend_from_slice(b"<table><tr><td>CR<td>1010123456<tr><td>\xff\xfe\x00 bad bytes <<<>>> </i></b>");
    page.extend_from_slice(
        b"<a href='https://www.instagram.com/broken.sa'>ig<a href=\"https://wa.me/966501234567\">wa",
    );
    page.extend_from_slice(
        b"<p>since 2003 &amp;&nbsp;&bogus; <img src=x onerror=alert(1)> <script>var x = '0509999999';",
    );

    serve(&server, "/", html(page)).await;

    let outcome = surveyor().survey(&server.uri(), &limits(), &Recorder::default()).await.unwrap();

    assert_eq!(outcome.blocked, None);
    use FactKind::*;
    let mut got = facts(&outcome, &server.uri());
    got.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        got,
        [
            f(Phone, "+966112345678", "/"),
            f(WhatsApp, "+966501234567", "/"),
            f(CommercialRegistration, "1010123456", "/"),
            f(FoundedYear, "2003", "/"),
            f(Description, "Broken", "/"),
            f(Title, "Broken <b>site", "/"),
            f(Social, "https://www.instagram.com/broken.sa", "/"),
            f(Email, "owner@broken.sa", "/"),
        ]
    );
}

#[tokio::test]
async fn https_falls_back_to_http_once() {
    let server = MockServer::start().await;
    serve(&server, "/", html("<p>info@plain.sa</p>")).await;
    let website = server.uri().replace("http://", "https://");

    let outcome = surveyor().survey(&website, &limits(), &Recorder::default()).await.unwrap();

    assert_eq!(outcome.blocked, None);
    assert_eq!(outcome.scheme.as_deref(), Some("http"));
    assert_eq!(outcome.facts.len(), 1);
    assert_eq!(outcome.facts[0].url, format!("{}/", server.uri()));
}

#[tokio::test]
async fn a_site_that_does_not_answer_is_blocked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);

    let outcome =
        surveyor().survey(&format!("https://127.0.0.1:{port}/"), &limits(), &Recorder::default()).await.unwrap();

    assert!(outcome.blocked.as_deref().is_some_and(|b| b.contains("could not be reached")), "{:?}", outcome.blocked);
    assert!(outcome.facts.is_empty());
    assert_eq!(outcome.pages_fetched, 0);
}

#[tokio::test]
async fn a_stopped_survey_ends_after_the_pages_in_flight() {
    let server = english_site().await;
    let observer = Recorder { stop_after: Some(1), ..Recorder::default() };

    let outcome = surveyor().survey(&server.uri(), &limits(), &observer).await.unwrap();

    assert_eq!(outcome.pages_fetched, 1);
    assert_eq!(requested(&server).await, ["/robots.txt", "/"]);
    assert_eq!(*observer.calls.lock().unwrap(), [(1, 7)]);
}

#[tokio::test]
async fn non_html_pages_are_not_parsed() {
    let server = MockServer::start().await;
    serve(&server, "/", html("<a href='/contact'>Contact</a>")).await;
    serve(
        &server,
        "/contact",
        ResponseTemplate::new(200).set_body_raw(b"info@pdf.sa 0501234567".to_vec(), "application/pdf"),
    )
    .await;

    let outcome = surveyor().survey(&server.uri(), &limits(), &Recorder::default()).await.unwrap();

    assert_eq!((outcome.pages_fetched, outcome.pages_skipped), (1, 1));
    assert!(outcome.facts.is_empty());
}

#[tokio::test]
async fn at_most_two_requests_are_in_flight() {
    let server = MockServer::start().await;
    let home = "<a href='/contact'>Contact</a><a href='/about'>About</a><a href='/team'>Team</a><a href='/careers'>Careers</a>";
    serve(&server, "/", html(home)).await;
    for page in ["/contact", "/about", "/team", "/careers"] {
        serve(&server, page, html("<p>hi</p>").set_delay(Duration::from_millis(250))).await;
    }
    let limits = SurveyLimits { per_host_concurrency: 2, ..limits() };

    let started = Instant::now();
    let outcome = surveyor().survey(&server.uri(), &limits, &Recorder::default()).await.unwrap();

    // Four 250 ms pages two at a time take two rounds; all at once would take one.
    assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
    assert_eq!(outcome.pages_fetched, 5);
}
