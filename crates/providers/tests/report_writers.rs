//! The two report writers: the chat-completions client against a local fake speaking OpenAI's
//! wire format, and the built-in deterministic writer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use leadzone_ports::discovery::{ApiKey, ProviderError};
use leadzone_ports::intelligence::{DraftReport, DraftSection, EvidenceItem, ReportRequest, ReportWriter};
use leadzone_providers::reports::builtin::BUILTIN_MODEL_VERSION;
use leadzone_providers::{BuiltinReportWriter, ChatCompletionsWriter, OutboundConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use support::{ExactHeader, answering, bearer, capture_logs, quick_config, requests};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-proj-TESTKEY-very-secret-0123456789";
const MODEL: &str = "gpt-4o-mini";

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_a5b2_7c3d_7e4f_8a9b_0000_0000_0000 + n)
}

fn evidence(
    n: u128,
    kind: &str,
    title: &str,
    url: Option<&str>,
    snippet: Option<&str>,
    confidence: &str,
) -> EvidenceItem {
    EvidenceItem {
        id: id(n),
        kind: kind.to_owned(),
        title: title.to_owned(),
        url: url.map(str::to_owned),
        snippet: snippet.map(str::to_owned),
        confidence: confidence.to_owned(),
    }
}

/// A lead with evidence of every kind, as the SEARCH, REVEAL and SURVEY jobs store it.
fn request(language: &str) -> ReportRequest {
    ReportRequest {
        company_name: "Al Noor Trading".to_owned(),
        industry: Some("Retail".to_owned()),
        city: Some("Riyadh".to_owned()),
        website: Some("https://alnoor.sa/".to_owned()),
        phone: Some("+966112345678".to_owned()),
        email: Some("info@alnoor.sa".to_owned()),
        enrichment: json!({
            "technologies": ["Salla"],
            "decisionMakers": [{ "name": "Ahmed Al-Qahtani", "title": "General Manager", "email": "ahmed@alnoor.sa" }]
        }),
        evidence: vec![
            evidence(
                1,
                "WEBSITE",
                "E-mail address: info@alnoor.sa",
                Some("https://alnoor.sa/contact"),
                Some("Write to us at info@alnoor.sa"),
                "HIGH",
            ),
            evidence(
                2,
                "WEBSITE",
                "Phone number: +966 11 234 5678",
                Some("https://alnoor.sa/contact"),
                Some("Call +966 11 234 5678"),
                "MEDIUM",
            ),
            evidence(3, "WEBSITE", "WhatsApp link", Some("https://wa.me/966501234567"), None, "MEDIUM"),
            evidence(4, "SOCIAL", "LinkedIn profile", Some("https://www.linkedin.com/company/alnoor"), None, "HIGH"),
            evidence(5, "SOCIAL", "Instagram profile", Some("https://instagram.com/alnoor.sa"), None, "MEDIUM"),
            evidence(
                6,
                "GOVERNMENT",
                "Commercial Registration 1010123456",
                Some("https://alnoor.sa/about"),
                Some("CR No. 1010123456"),
                "HIGH",
            ),
            evidence(7, "GOVERNMENT", "VAT number 300012345600003", Some("https://alnoor.sa/about"), None, "HIGH"),
            evidence(
                8,
                "REVIEWS",
                "Google Maps listing: rated 4.6 by 210 reviewers",
                Some("https://maps.google.com/?cid=1"),
                Some("Store"),
                "HIGH",
            ),
            evidence(
                9,
                "WEBSITE",
                "Ahmed Al-Qahtani (General Manager) named on the company's website",
                Some("https://alnoor.sa/about"),
                Some("ahmed@alnoor.sa"),
                "HIGH",
            ),
            evidence(10, "WEBSITE", "Technology: Salla", Some("https://alnoor.sa/"), Some("meta generator"), "MEDIUM"),
            evidence(11, "WEBSITE", "Founded in 2012", Some("https://alnoor.sa/about"), Some("تأسست عام 2012"), "LOW"),
            evidence(
                12,
                "NEWS",
                "Al Noor opens a third branch in Riyadh",
                Some("https://news.example.sa/alnoor"),
                None,
                "MEDIUM",
            ),
            evidence(13, "WEBSITE", "Al Noor Trading — Home", Some("https://alnoor.sa/"), None, "LOW"),
        ],
        language: language.to_owned(),
    }
}

// --- Chat completions ------------------------------------------------------------------------

fn writer(server: &MockServer) -> ChatCompletionsWriter {
    writer_with(server, quick_config())
}

fn writer_with(server: &MockServer, config: OutboundConfig) -> ChatCompletionsWriter {
    ChatCompletionsWriter::new(&format!("{}/v1", server.uri()), ApiKey::new(KEY), MODEL.to_owned(), config).unwrap()
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_767_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content, "refusal": null },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 812, "completion_tokens": 164, "total_tokens": 976 }
    })
}

fn good_content() -> String {
    json!({
        "summary": "Al Noor Trading is a Riyadh retailer with a verified registration and strong reviews.",
        "sections": [
            {
                "title": "Contact",
                "content": "Reach them at info@alnoor.sa or +966112345678.",
                "confidence": "HIGH",
                "evidenceIds": [id(1).to_string(), id(2).to_string()]
            },
            {
                "title": "Reputation",
                "content": "Rated 4.6 by 210 reviewers on Google Maps.",
                "confidence": "MEDIUM",
                "evidenceIds": [id(8).to_string(), "ev-8", id(8).to_string(), id(999).to_string()]
            }
        ],
        "score": 78
    })
    .to_string()
}

fn good_report() -> DraftReport {
    DraftReport {
        summary: "Al Noor Trading is a Riyadh retailer with a verified registration and strong reviews.".to_owned(),
        sections: vec![
            DraftSection {
                title: "Contact".to_owned(),
                content: "Reach them at info@alnoor.sa or +966112345678.".to_owned(),
                confidence: "HIGH".to_owned(),
                evidence_ids: vec![id(1), id(2)],
            },
            DraftSection {
                title: "Reputation".to_owned(),
                content: "Rated 4.6 by 210 reviewers on Google Maps.".to_owned(),
                confidence: "MEDIUM".to_owned(),
                // "ev-8" is not a UUID and is dropped, the repeat is dropped; a UUID the request
                // does not hold is passed through (the app drops foreign ids).
                evidence_ids: vec![id(8), id(999)],
            },
        ],
        score: Some(78),
        model_version: "gpt-4o-mini-2024-07-18".to_owned(),
    }
}

fn openai_error(status: u16, message: &str, kind: &str, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": { "message": message, "type": kind, "param": null, "code": code }
    }))
}

/// A 200 with [`good_content`] in the completion's shape.
fn good_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(completion(&good_content()))
}

/// A fake that answers the first request with `first` and every later one with [`good_answer`].
async fn answering_once_then_well(first: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(first).up_to_n_times(1).with_priority(1).mount(&server).await;
    Mock::given(method("POST")).respond_with(good_answer()).mount(&server).await;
    server
}

async fn request_bodies(server: &MockServer) -> Vec<Value> {
    server.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

#[tokio::test]
async fn chat_request_carries_model_key_schema_and_evidence_and_a_good_answer_maps_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(bearer(KEY))
        .and(ExactHeader("content-type", "application/json".to_owned()))
        .respond_with(good_answer())
        .expect(1)
        .mount(&server)
        .await;

    let report = writer(&server).write(&request("en")).await.unwrap();
    assert_eq!(report, good_report());

    let bodies = request_bodies(&server).await;
    let body = &bodies[0];
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["temperature"], json!(0.2));
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "lead_report");
    assert_eq!(format["json_schema"]["strict"], json!(true));
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["summary", "sections", "score"]));
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(schema["properties"]["score"]["type"], "integer");
    let section = &schema["properties"]["sections"]["items"];
    assert_eq!(section["required"], json!(["title", "content", "confidence", "evidenceIds"]));
    assert_eq!(section["additionalProperties"], json!(false));
    assert_eq!(section["properties"]["confidence"]["enum"], json!(["HIGH", "MEDIUM", "LOW"]));

    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().unwrap();
    for item in &request("en").evidence {
        assert!(user.contains(&item.id.to_string()), "the user message lists evidence {}", item.id);
        assert!(user.contains(&item.title), "the user message carries the title {:?}", item.title);
    }
    assert!(user.contains("Al Noor Trading") && user.contains("Riyadh") && user.contains("decisionMakers"));
    assert!(user.contains("in English"));
    assert!(user.contains("ONLY ids from the evidence list"));
    assert!(!user.contains(KEY));
}

#[tokio::test]
async fn an_arabic_request_asks_for_arabic() {
    let server = answering("POST", good_answer()).await;

    writer(&server).write(&request("ar")).await.unwrap();
    let bodies = request_bodies(&server).await;
    let user = bodies[0]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("in Arabic"));
    assert!(!user.contains("in English"));
}

#[tokio::test]
async fn a_malformed_answer_then_a_good_one_succeeds_after_exactly_two_requests() {
    let server = answering_once_then_well(
        ResponseTemplate::new(200).set_body_json(completion("Sure! Here is the report: Al Noor is great.")),
    )
    .await;

    let report = writer(&server).write(&request("en")).await.unwrap();
    assert_eq!(report, good_report());
    let bodies = request_bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the whole call is asked again, unchanged");
}

#[tokio::test]
async fn two_malformed_answers_are_rejected_with_a_readable_message() {
    let server =
        answering("POST", ResponseTemplate::new(200).set_body_json(completion("{\"summary\": \"S\", \"score\": 200}")))
            .await;

    let err = writer(&server).write(&request("en")).await.unwrap_err();
    let ProviderError::Rejected(message) = &err else { panic!("expected Rejected, got {err:?}") };
    assert!(message.starts_with("the language model's answer was not a valid report twice: "), "{message}");
    assert!(message.contains("not a report of the expected schema"), "{message}");
    assert!(!err.is_retryable());
    assert_eq!(requests(&server).await, 2, "one retry, no more");
}

#[tokio::test]
async fn a_refusal_counts_as_malformed() {
    let server = answering("POST", ResponseTemplate::new(200).set_body_json(json!({
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": null, "refusal": "I'm sorry, I can't help with that." }, "finish_reason": "stop" }]
        }))).await;

    let err = writer(&server).write(&request("en")).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected(m) if m.contains("the model refused to write it (I'm sorry, I can't help with that.)")),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_401_is_unauthorized_in_the_services_words_and_the_key_is_nowhere() {
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await;
    let masked = format!("{}****************{}", &KEY[..8], &KEY[KEY.len() - 4..]);
    Mock::given(method("POST"))
        .respond_with(openai_error(
            401,
            &format!(
                "Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys. (echo: {KEY})"
            ),
            "invalid_request_error",
            "invalid_api_key",
        ))
        .mount(&server)
        .await;

    let err = writer(&server).write(&request("en")).await.unwrap_err();
    let ProviderError::Unauthorized(message) = &err else { panic!("expected Unauthorized, got {err:?}") };
    assert!(
        message.starts_with("The language model service refused the API key: Incorrect API key provided: [REDACTED]."),
        "{message}"
    );
    for text in [message.clone(), err.to_string(), format!("{err:?}"), logs.contents()] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(!text.contains(&masked), "the masked key leaked: {text}");
        assert!(!text.contains("TESTKEY"), "part of the key leaked: {text}");
    }
    assert!(logs.contents().contains("provider call answered"), "the call was logged: {}", logs.contents());
    assert_eq!(requests(&server).await, 1, "a refused key is not retried");
}

#[tokio::test]
async fn a_429_then_200_succeeds() {
    let server = answering_once_then_well(
        openai_error(429, "Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded")
            .insert_header("retry-after", "0"),
    )
    .await;

    let report = writer(&server).write(&request("en")).await.unwrap();
    assert_eq!(report, good_report());
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_lasting_429_is_rate_limited_with_the_hint() {
    let server = answering(
        "POST",
        openai_error(429, "Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded")
            .insert_header("retry-after", "7"),
    )
    .await;

    let err = writer(&server).write(&request("en")).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            message: "The language model service is rate limiting this key: Rate limit reached for gpt-4o-mini"
                .to_owned(),
            retry_after: Some(Duration::from_secs(7)),
        }
    );
    assert_eq!(requests(&server).await, 3, "the outbound client's two retries");
}

#[tokio::test]
async fn a_400_is_rejected_with_the_services_message() {
    let server = answering(
        "POST",
        openai_error(
            400,
            "Invalid schema for response_format 'lead_report'.",
            "invalid_request_error",
            "invalid_json_schema",
        ),
    )
    .await;

    let err = writer(&server).write(&request("en")).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected(
            "The language model service refused the request: Invalid schema for response_format 'lead_report'."
                .to_owned()
        )
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn a_lasting_5xx_is_unavailable() {
    let server = answering("POST", openai_error(503, "The server is overloaded.", "server_error", "overloaded")).await;

    let err = writer(&server).write(&request("en")).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(
            "The language model service is unavailable (HTTP 503): The server is overloaded.".to_owned()
        )
    );
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn a_timeout_is_unavailable() {
    let server = answering(
        "POST",
        ResponseTemplate::new(200).set_body_json(completion(&good_content())).set_delay(Duration::from_millis(1500)),
    )
    .await;

    let config = OutboundConfig { timeout: Duration::from_millis(300), ..quick_config() };
    let err = writer_with(&server, config).write(&request("en")).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Unavailable(m) if m.contains("did not answer within 300 ms")), "{err:?}");
}

#[tokio::test]
async fn a_missing_model_name_falls_back_to_the_configured_one() {
    let server = MockServer::start().await;
    let mut answer = completion(&good_content());
    answer.as_object_mut().unwrap().remove("model");
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(&server).await;

    let report = writer(&server).write(&request("en")).await.unwrap();
    assert_eq!(report.model_version, MODEL);
}

#[test]
fn a_bad_base_url_is_refused_at_startup() {
    assert!(ChatCompletionsWriter::new("not a url", ApiKey::new(KEY), MODEL.to_owned(), quick_config()).is_err());
    let err =
        ChatCompletionsWriter::new("https://x/?key=1", ApiKey::new(KEY), MODEL.to_owned(), quick_config()).unwrap_err();
    assert!(!err.to_string().contains(KEY));
}

// --- Built-in ---------------------------------------------------------------------------------

fn has_arabic(text: &str) -> bool {
    text.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

fn section<'a>(report: &'a DraftReport, title: &str) -> &'a DraftSection {
    report.sections.iter().find(|s| s.title == title).unwrap_or_else(|| panic!("no section {title:?}: {report:#?}"))
}

async fn builtin(request: &ReportRequest) -> DraftReport {
    BuiltinReportWriter::new().write(request).await.unwrap()
}

#[tokio::test]
async fn builtin_english_report_is_english_and_states_what_it_cites() {
    let report = builtin(&request("en")).await;
    assert_eq!(report.model_version, BUILTIN_MODEL_VERSION);
    assert_eq!(report.model_version, "builtin-1");
    assert_eq!(report.score, None);
    assert!(report.summary.starts_with("Al Noor Trading (Retail, Riyadh)."), "{}", report.summary);
    assert!(report.summary.contains("13 evidence items"), "{}", report.summary);
    let titles: Vec<&str> = report.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Contact",
            "Online presence",
            "Registration",
            "Reputation",
            "Decision makers",
            "About the company",
            "Other findings"
        ]
    );
    for s in &report.sections {
        assert!(!has_arabic(&s.title), "{s:?}");
    }

    let contact = section(&report, "Contact");
    assert_eq!(contact.evidence_ids, [id(1), id(2), id(3)]);
    assert_eq!(contact.content, "E-mail: info@alnoor.sa. Phone: +966112345678. WhatsApp: +966501234567.");
    assert_eq!(contact.confidence, "MEDIUM", "no two items agree: the least sure item's");

    let presence = section(&report, "Online presence");
    assert_eq!(presence.evidence_ids, [id(4), id(5), id(10)]);
    assert!(presence.content.contains("LinkedIn (https://www.linkedin.com/company/alnoor)"), "{}", presence.content);
    assert!(presence.content.contains("Instagram (https://instagram.com/alnoor.sa)"), "{}", presence.content);
    assert!(presence.content.contains("The website uses: Salla."), "{}", presence.content);

    let registration = section(&report, "Registration");
    assert_eq!(registration.evidence_ids, [id(6), id(7)]);
    assert_eq!(registration.content, "Commercial Registration number: 1010123456. VAT number: 300012345600003.");
    assert_eq!(registration.confidence, "HIGH");

    let reputation = section(&report, "Reputation");
    assert_eq!(reputation.evidence_ids, [id(8)]);
    assert_eq!(reputation.content, "Rated 4.6 out of 5 by 210 reviewers.");
    assert_eq!(reputation.confidence, "HIGH");

    let makers = section(&report, "Decision makers");
    assert_eq!(makers.evidence_ids, [id(9)]);
    assert_eq!(makers.content, "People named in the evidence: Ahmed Al-Qahtani (General Manager, ahmed@alnoor.sa).");

    let about = section(&report, "About the company");
    assert_eq!(about.evidence_ids, [id(11), id(13)]);
    assert_eq!(about.content, "Founded in 2012. The website says: \"Al Noor Trading — Home\".");
    assert_eq!(about.confidence, "LOW");

    let other = section(&report, "Other findings");
    assert_eq!(other.evidence_ids, [id(12)]);
    assert_eq!(other.content, "A news item says: \"Al Noor opens a third branch in Riyadh\".");
}

#[tokio::test]
async fn builtin_arabic_report_is_arabic() {
    let report = builtin(&request("ar")).await;
    assert!(has_arabic(&report.summary), "{}", report.summary);
    assert!(report.summary.contains("Al Noor Trading"));
    assert!(!report.sections.is_empty());
    for s in &report.sections {
        assert!(has_arabic(&s.title), "{s:?}");
        assert!(has_arabic(&s.content), "{s:?}");
    }
    let titles: Vec<&str> = report.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        ["التواصل", "الحضور الرقمي", "السجل والتسجيل", "السمعة", "صنّاع القرار", "نبذة عن الشركة", "معلومات أخرى"]
    );
    assert_eq!(section(&report, "السمعة").content, "التقييم 4.6 من 5 (عدد المراجعين: 210).");
    assert_eq!(
        section(&report, "السجل والتسجيل").content,
        "رقم السجل التجاري: 1010123456. الرقم الضريبي: 300012345600003."
    );
    // The same evidence is cited the same way whatever the language.
    let english = builtin(&request("en")).await;
    let ids = |r: &DraftReport| r.sections.iter().map(|s| s.evidence_ids.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&report), ids(&english));
}

#[tokio::test]
async fn builtin_cites_only_request_ids_and_every_item_of_a_covered_kind() {
    for language in ["en", "ar"] {
        let request = request(language);
        let report = builtin(&request).await;
        let known: BTreeSet<Uuid> = request.evidence.iter().map(|e| e.id).collect();
        let mut cited = BTreeSet::new();
        for s in &report.sections {
            assert!(!s.evidence_ids.is_empty(), "a section without evidence: {s:?}");
            for id in &s.evidence_ids {
                assert!(known.contains(id), "a foreign id {id} in {s:?}");
                assert!(cited.insert(*id), "{id} is cited twice");
            }
            assert!(["HIGH", "MEDIUM", "LOW"].contains(&s.confidence.as_str()));
        }
        let covered = ["WEBSITE", "SOCIAL", "GOVERNMENT", "REVIEWS", "NEWS"];
        for item in request.evidence.iter().filter(|e| covered.contains(&e.kind.as_str())) {
            assert!(cited.contains(&item.id), "{:?} is not cited ({language})", item.title);
        }
    }
}

#[tokio::test]
async fn builtin_agreeing_items_raise_the_confidence() {
    let mut request = request("en");
    request.evidence = vec![
        evidence(1, "WEBSITE", "E-mail address: info@alnoor.sa", None, None, "LOW"),
        evidence(2, "WEBSITE", "Contact us: INFO@alnoor.sa", None, None, "HIGH"),
        evidence(3, "WEBSITE", "Phone: 0112345678", None, None, "MEDIUM"),
    ];
    let report = builtin(&request).await;
    let contact = section(&report, "Contact");
    assert_eq!(contact.evidence_ids, [id(1), id(2), id(3)]);
    assert_eq!(contact.content, "E-mail: info@alnoor.sa. Phone: +966112345678.");
    assert_eq!(contact.confidence, "HIGH");

    request.evidence.truncate(1);
    let report = builtin(&request).await;
    assert_eq!(section(&report, "Contact").confidence, "LOW", "one item: its own confidence");
}

#[tokio::test]
async fn builtin_does_not_invent_decision_makers_from_enrichment_alone() {
    let mut request = request("en");
    request.evidence.retain(|e| e.id != id(9));
    let report = builtin(&request).await;
    assert!(report.sections.iter().all(|s| s.title != "Decision makers"), "{report:#?}");
    assert!(report.sections.iter().all(|s| !s.content.contains("Ahmed")));
}

#[tokio::test]
async fn builtin_with_zero_evidence_writes_no_sections() {
    let mut english = request("en");
    english.evidence.clear();
    let report = builtin(&english).await;
    assert!(report.sections.is_empty());
    assert!(
        report.summary.contains("Al Noor Trading") && report.summary.contains("nothing is known"),
        "{}",
        report.summary
    );
    assert!(!has_arabic(&report.summary));

    let mut arabic = request("ar");
    arabic.evidence.clear();
    let report = builtin(&arabic).await;
    assert!(report.sections.is_empty());
    assert!(has_arabic(&report.summary), "{}", report.summary);
    assert!(report.summary.contains("لم تُجمع أي أدلة"), "{}", report.summary);
}

#[tokio::test]
async fn builtin_is_deterministic() {
    for language in ["en", "ar"] {
        let first = builtin(&request(language)).await;
        let second = builtin(&request(language)).await;
        assert_eq!(first, second);
        assert_eq!(BuiltinReportWriter::new().compose(&request(language)), first);
    }
}
