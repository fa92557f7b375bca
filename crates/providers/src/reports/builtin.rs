//! The built-in report writer, for when no language model is configured: it composes the report
//! from the evidence alone, deterministically, in the tenant's language.
//!
//! Every evidence item is read for the facts it states (e-mail addresses, phone numbers, social
//! profiles, registration numbers, a rating, the people it names…) and goes to exactly one
//! section; a section's sentences state only those facts, and it cites exactly the items they
//! came from. An item whose facts cannot be read is quoted (its title), so nothing the evidence
//! holds is lost and nothing is invented. Sections without evidence are left out.

use super::{is_arabic, normalise_confidence};
use leadzone_domain::values::{Email, PhoneE164};
use leadzone_ports::discovery::ProviderError;
use leadzone_ports::intelligence::{DraftReport, DraftSection, EvidenceItem, ReportRequest, ReportWriter};
use serde_json::Value;

/// The `model_version` of every report this writer writes.
pub const BUILTIN_MODEL_VERSION: &str = "builtin-1";

/// The longest quoted title, in characters.
const MAX_QUOTE_CHARS: usize = 200;

/// The deterministic report writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinReportWriter;

impl BuiltinReportWriter {
    pub fn new() -> Self {
        Self
    }

    /// The report for `request` (what [`ReportWriter::write`] returns): the same request always
    /// gives the same report.
    pub fn compose(&self, request: &ReportRequest) -> DraftReport {
        compose(request)
    }
}

#[async_trait::async_trait]
impl ReportWriter for BuiltinReportWriter {
    async fn write(&self, request: &ReportRequest) -> Result<DraftReport, ProviderError> {
        Ok(compose(request))
    }
}

/// A report's sections, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topic {
    Contact,
    Presence,
    Registration,
    Reputation,
    DecisionMakers,
    About,
    Other,
}

const TOPICS: [Topic; 7] = [
    Topic::Contact,
    Topic::Presence,
    Topic::Registration,
    Topic::Reputation,
    Topic::DecisionMakers,
    Topic::About,
    Topic::Other,
];

impl Topic {
    fn title(self, ar: bool) -> &'static str {
        match (self, ar) {
            (Self::Contact, false) => "Contact",
            (Self::Contact, true) => "التواصل",
            (Self::Presence, false) => "Online presence",
            (Self::Presence, true) => "الحضور الرقمي",
            (Self::Registration, false) => "Registration",
            (Self::Registration, true) => "السجل والتسجيل",
            (Self::Reputation, false) => "Reputation",
            (Self::Reputation, true) => "السمعة",
            (Self::DecisionMakers, false) => "Decision makers",
            (Self::DecisionMakers, true) => "صنّاع القرار",
            (Self::About, false) => "About the company",
            (Self::About, true) => "نبذة عن الشركة",
            (Self::Other, false) => "Other findings",
            (Self::Other, true) => "معلومات أخرى",
        }
    }
}

/// A social network, recognised by its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    en: &'static str,
    ar: &'static str,
    hosts: &'static [&'static str],
    /// How the network is spelled in a title (lowercase).
    words: &'static [&'static str],
}

const NETWORKS: &[Network] = &[
    Network {
        en: "LinkedIn", ar: "لينكدإن", hosts: &["linkedin.com"], words: &["linkedin", "لينكدإن", "لينكد إن"]
    },
    Network {
        en: "X (Twitter)",
        ar: "إكس (تويتر)",
        hosts: &["twitter.com", "x.com"],
        words: &["twitter", "تويتر", "منصة إكس"],
    },
    Network {
        en: "Instagram",
        ar: "إنستغرام",
        hosts: &["instagram.com"],
        words: &["instagram", "إنستغرام", "انستقرام"],
    },
    Network {
        en: "Snapchat", ar: "سناب شات", hosts: &["snapchat.com"], words: &["snapchat", "سناب شات", "سناب"]
    },
    Network { en: "TikTok", ar: "تيك توك", hosts: &["tiktok.com"], words: &["tiktok", "تيك توك"] },
    Network {
        en: "YouTube", ar: "يوتيوب", hosts: &["youtube.com", "youtu.be"], words: &["youtube", "يوتيوب"]
    },
    Network {
        en: "Facebook", ar: "فيسبوك", hosts: &["facebook.com", "fb.com"], words: &["facebook", "فيسبوك"]
    },
];

/// Technologies a survey reports, as they are spelled.
const TECHNOLOGIES: &[&str] = &[
    "Shopify",
    "Salla",
    "Zid",
    "WordPress",
    "WooCommerce",
    "Magento",
    "Wix",
    "Squarespace",
    "Webflow",
    "Drupal",
    "Joomla",
    "Odoo",
    "Zoho",
    "HubSpot",
    "Zendesk",
    "Intercom",
    "Google Tag Manager",
    "Google Analytics",
    "Meta Pixel",
    "Facebook Pixel",
    "Snap Pixel",
    "TikTok Pixel",
    "Cloudflare",
    "Next.js",
    "React",
    "Vue.js",
    "Angular",
    "Laravel",
    "Tabby",
    "Tamara",
    "Moyasar",
    "HyperPay",
    "PayTabs",
];

const REGISTRATION_WORDS: &[&str] = &[
    "commercial registration",
    "commercial register",
    "cr no",
    "cr number",
    "cr:",
    "c.r",
    "unified number",
    "vat",
    "tax number",
    "tax registration",
    "السجل التجاري",
    "سجل تجاري",
    "الرقم الموحد",
    "الرقم الضريبي",
    "ضريبة القيمة المضافة",
    "الضريبي",
];

const FOUNDED_WORDS: &[&str] = &["founded", "established", "since", "est.", "تأسست", "تأسس", "منذ"];

const WHATSAPP_WORDS: &[&str] = &["whatsapp", "واتساب", "واتس اب"];

/// Where a quoted title comes from, by the evidence's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Website,
    Social,
    Government,
    Reviews,
    News,
    Financial,
    Custom,
    Other,
}

impl Source {
    fn of(kind: &str) -> Self {
        match kind.trim().to_ascii_uppercase().as_str() {
            "WEBSITE" => Self::Website,
            "SOCIAL" => Self::Social,
            "GOVERNMENT" => Self::Government,
            "REVIEWS" => Self::Reviews,
            "NEWS" => Self::News,
            "FINANCIAL" => Self::Financial,
            "CUSTOM" => Self::Custom,
            _ => Self::Other,
        }
    }

    fn says(self, ar: bool) -> &'static str {
        match (self, ar) {
            (Self::Website, false) => "The website says",
            (Self::Website, true) => "ورد في الموقع",
            (Self::Social, false) => "A social profile says",
            (Self::Social, true) => "ورد في حساب اجتماعي",
            (Self::Government, false) => "A government record says",
            (Self::Government, true) => "ورد في سجل حكومي",
            (Self::Reviews, false) => "A reviews listing says",
            (Self::Reviews, true) => "ورد في صفحة التقييمات",
            (Self::News, false) => "A news item says",
            (Self::News, true) => "ورد في خبر",
            (Self::Financial, false) => "A financial record says",
            (Self::Financial, true) => "ورد في بيان مالي",
            (Self::Custom, false) => "A team note says",
            (Self::Custom, true) => "ورد في ملاحظة للفريق",
            (Self::Other, false) => "The evidence says",
            (Self::Other, true) => "ورد في الأدلة",
        }
    }
}

/// One fact an evidence item states.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fact {
    Person { name: String, role: Option<String>, email: Option<String> },
    Email(String),
    Phone(String),
    WhatsApp(String),
    CommercialRegistration(String),
    Vat(String),
    Rating { rating: String, count: Option<u64> },
    Social { network: Option<Network>, url: Option<String> },
    Technology(String),
    Founded(u16),
    Quote { source: Source, text: String },
}

impl Fact {
    /// What two items must share to agree on this fact.
    fn key(&self) -> String {
        match self {
            Self::Person { name, .. } => format!("person:{}", name.to_lowercase()),
            Self::Email(v) => format!("email:{v}"),
            Self::Phone(v) => format!("phone:{v}"),
            Self::WhatsApp(v) => format!("whatsapp:{v}"),
            Self::CommercialRegistration(v) => format!("cr:{v}"),
            Self::Vat(v) => format!("vat:{v}"),
            Self::Rating { rating, count } => format!("rating:{rating}/{count:?}"),
            Self::Social { network, url } => match (url, network) {
                (Some(url), _) => format!("social:{}", url.trim_end_matches('/').to_lowercase()),
                (None, Some(network)) => format!("social:{}", network.en),
                (None, None) => "social:?".to_owned(),
            },
            Self::Technology(v) => format!("tech:{}", v.to_lowercase()),
            Self::Founded(y) => format!("founded:{y}"),
            Self::Quote { text, .. } => format!("quote:{}", text.to_lowercase()),
        }
    }

    /// The order facts are written in within a section.
    fn rank(&self) -> u8 {
        match self {
            Self::Person { .. } => 0,
            Self::Email(_) => 1,
            Self::Phone(_) => 2,
            Self::WhatsApp(_) => 3,
            Self::CommercialRegistration(_) => 4,
            Self::Vat(_) => 5,
            Self::Rating { .. } => 6,
            Self::Social { .. } => 7,
            Self::Technology(_) => 8,
            Self::Founded(_) => 9,
            Self::Quote { .. } => 10,
        }
    }
}

/// An evidence item, read: the section it goes to and the facts it states there.
#[derive(Debug)]
struct Reading<'a> {
    item: &'a EvidenceItem,
    topic: Topic,
    facts: Vec<Fact>,
}

/// A decision maker from the lead's enrichment data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KnownPerson {
    name: String,
    role: Option<String>,
    email: Option<String>,
}

/// What the lead's enrichment data tells the reader to look for in the evidence.
#[derive(Debug, Default)]
struct Hints {
    people: Vec<KnownPerson>,
    technologies: Vec<String>,
}

fn text_field(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(collapse).filter(|s| !s.is_empty())
}

impl Hints {
    fn from_enrichment(enrichment: &Value) -> Self {
        let people = enrichment
            .get("decisionMakers")
            .and_then(Value::as_array)
            .map(|makers| {
                makers
                    .iter()
                    .filter_map(|m| {
                        let name = text_field(m, "name").filter(|n| n.chars().count() >= 3)?;
                        Some(KnownPerson { name, role: text_field(m, "title"), email: text_field(m, "email") })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let technologies = enrichment
            .get("technologies")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).map(collapse).filter(|t| t.chars().count() >= 2).collect())
            .unwrap_or_default();
        Self { people, technologies }
    }
}

/// The report for `request`.
fn compose(request: &ReportRequest) -> DraftReport {
    let ar = is_arabic(&request.language);
    let hints = Hints::from_enrichment(&request.enrichment);
    let readings: Vec<Reading<'_>> = request.evidence.iter().filter_map(|item| read(item, &hints)).collect();

    let mut sections = Vec::new();
    for topic in TOPICS {
        let in_topic: Vec<&Reading<'_>> = readings.iter().filter(|r| r.topic == topic).collect();
        let content = write_section(&in_topic, ar);
        if content.is_empty() {
            continue;
        }
        let mut evidence_ids = Vec::with_capacity(in_topic.len());
        for reading in &in_topic {
            if !evidence_ids.contains(&reading.item.id) {
                evidence_ids.push(reading.item.id);
            }
        }
        sections.push(DraftSection {
            title: topic.title(ar).to_owned(),
            content,
            confidence: section_confidence(&in_topic).to_owned(),
            evidence_ids,
        });
    }

    let mut facts: Vec<String> = Vec::new();
    for key in readings.iter().flat_map(|r| r.facts.iter().map(Fact::key)) {
        if !facts.contains(&key) {
            facts.push(key);
        }
    }
    let cited = sections.iter().flat_map(|s| s.evidence_ids.iter()).collect::<std::collections::BTreeSet<_>>().len();
    DraftReport {
        summary: summary(request, ar, facts.len(), cited),
        sections,
        score: None,
        model_version: BUILTIN_MODEL_VERSION.to_owned(),
    }
}

/// The opening sentences: the company, what it is and where, and how much is known.
fn summary(request: &ReportRequest, ar: bool, facts: usize, cited: usize) -> String {
    let name = collapse(&request.company_name);
    let name =
        if name.is_empty() { (if ar { "هذه الشركة" } else { "This company" }).to_owned() } else { name };
    let descriptor: Vec<String> = [&request.industry, &request.city]
        .into_iter()
        .flatten()
        .map(|s| collapse(s))
        .filter(|s| !s.is_empty())
        .collect();
    let head = if descriptor.is_empty() {
        name
    } else {
        format!("{name} ({})", descriptor.join(if ar { "، " } else { ", " }))
    };
    match (ar, facts) {
        (false, 0) => format!("{head}: nothing is known about it yet — no evidence has been collected."),
        (true, 0) => format!("{head}: لا تتوفر عنه أي معلومات موثقة بعد، إذ لم تُجمع أي أدلة حتى الآن."),
        (false, _) => format!(
            "{head}. {facts} {} found in {cited} evidence {}; each section below cites its sources.",
            if facts == 1 { "fact was" } else { "facts were" },
            if cited == 1 { "item" } else { "items" },
        ),
        (true, _) => {
            format!("{head}. عدد المعلومات التي عُثر عليها: {facts} (عدد الأدلة: {cited})، وكل قسم أدناه يذكر مصادره.")
        }
    }
}

/// HIGH, MEDIUM or LOW as a rank (an unknown confidence counts as LOW).
fn confidence_rank(confidence: &str) -> u8 {
    match normalise_confidence(confidence) {
        Some("HIGH") => 3,
        Some("MEDIUM") => 2,
        _ => 1,
    }
}

fn confidence_name(rank: u8) -> &'static str {
    match rank {
        3 => "HIGH",
        2 => "MEDIUM",
        _ => "LOW",
    }
}

/// The highest confidence of the section's items when two of them agree on a fact; otherwise
/// the section is only as sure as its least sure item (the only item's, when it rests on one).
fn section_confidence(readings: &[&Reading<'_>]) -> &'static str {
    let ranks = readings.iter().map(|r| confidence_rank(&r.item.confidence));
    let corroborated = readings.iter().enumerate().any(|(i, reading)| {
        reading.facts.iter().map(Fact::key).any(|key| {
            readings.iter().enumerate().any(|(j, other)| j != i && other.facts.iter().any(|f| f.key() == key))
        })
    });
    let rank = if corroborated { ranks.max() } else { ranks.min() };
    confidence_name(rank.unwrap_or(1))
}

/// Reads one evidence item: the section it belongs in and the facts it states; `None` when it
/// states nothing at all (no title, snippet or URL).
fn read<'a>(item: &'a EvidenceItem, hints: &Hints) -> Option<Reading<'a>> {
    let (topic, facts) = topic_and_facts(item, hints);
    (!facts.is_empty()).then_some(Reading { item, topic, facts })
}

fn topic_and_facts(item: &EvidenceItem, hints: &Hints) -> (Topic, Vec<Fact>) {
    let source = Source::of(&item.kind);
    let title = collapse(&item.title);
    let snippet = item.snippet.as_deref().map(collapse).unwrap_or_default();
    let url = item.url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let quote = || quote(source, &title, &snippet, url).into_iter().collect::<Vec<_>>();
    let first_non_empty = |a: Vec<Fact>, b: Vec<Fact>| if a.is_empty() { b } else { a };

    if !matches!(source, Source::Reviews | Source::Government) {
        let people = people_in(&title, &snippet, hints);
        if !people.is_empty() {
            return (Topic::DecisionMakers, people);
        }
    }
    match source {
        Source::Reviews => match rating_in(&title).or_else(|| rating_in(&snippet)) {
            Some(rating) => (Topic::Reputation, vec![rating]),
            None => (Topic::Reputation, quote()),
        },
        Source::Government => {
            let facts = first_non_empty(registration_in(&title), registration_in(&snippet));
            (Topic::Registration, first_non_empty(facts, quote()))
        }
        Source::Social => {
            let network = url.and_then(network_of_url).or_else(|| network_in(&title));
            if url.is_some() || network.is_some() {
                (Topic::Presence, vec![Fact::Social { network, url: url.map(str::to_owned) }])
            } else {
                (Topic::Presence, quote())
            }
        }
        Source::Website => {
            if let Some(facts) = contact_in(&title, url).or_else(|| contact_in(&snippet, None)) {
                return (Topic::Contact, facts);
            }
            if mentions_any(&title, REGISTRATION_WORDS) || mentions_any(&snippet, REGISTRATION_WORDS) {
                let facts = first_non_empty(registration_in(&title), registration_in(&snippet));
                if !facts.is_empty() {
                    return (Topic::Registration, facts);
                }
            }
            if let Some(network) = url.and_then(network_of_url) {
                return (Topic::Presence, vec![Fact::Social { network: Some(network), url: url.map(str::to_owned) }]);
            }
            let technologies = first_non_empty(technologies_in(&title, hints), technologies_in(&snippet, hints));
            if !technologies.is_empty() {
                return (Topic::Presence, technologies);
            }
            match founded_in(&title).or_else(|| founded_in(&snippet)) {
                Some(year) => (Topic::About, vec![Fact::Founded(year)]),
                None => (Topic::About, quote()),
            }
        }
        Source::News | Source::Financial | Source::Custom | Source::Other => (Topic::Other, quote()),
    }
}

/// The item's own words: its title, else its snippet, else its URL.
fn quote(source: Source, title: &str, snippet: &str, url: Option<&str>) -> Option<Fact> {
    let text = [title, snippet, url.unwrap_or_default()].into_iter().find(|t| !t.is_empty())?;
    let text = if text.chars().count() > MAX_QUOTE_CHARS {
        format!("{}…", text.chars().take(MAX_QUOTE_CHARS).collect::<String>().trim_end())
    } else {
        text.to_owned()
    };
    Some(Fact::Quote { source, text })
}

/// Picks one kind of fact's value out of a fact.
type Pick = fn(&Fact) -> Option<&str>;

/// Writes a section's sentences from its items' facts, in a fixed order, each fact once.
fn write_section(readings: &[&Reading<'_>], ar: bool) -> String {
    let mut facts: Vec<&Fact> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for fact in readings.iter().flat_map(|r| r.facts.iter()) {
        let key = fact.key();
        if !keys.contains(&key) {
            keys.push(key);
            facts.push(fact);
        }
    }
    // A stable sort: within one kind of fact, the evidence's order.
    facts.sort_by_key(|f| f.rank());
    let sep = if ar { "، " } else { ", " };
    let mut sentences: Vec<String> = Vec::new();

    let people = merge_people(&facts);
    if !people.is_empty() {
        let listed: Vec<String> = people
            .iter()
            .map(|p| {
                let details: Vec<&str> = [p.role.as_deref(), p.email.as_deref()].into_iter().flatten().collect();
                if details.is_empty() { p.name.clone() } else { format!("{} ({})", p.name, details.join(sep)) }
            })
            .collect();
        sentences.push(if ar {
            format!("أشخاص وردت أسماؤهم في الأدلة: {}.", listed.join("؛ "))
        } else {
            format!("People named in the evidence: {}.", listed.join("; "))
        });
    }
    let list = |pick: Pick| facts.iter().filter_map(|f| pick(f)).collect::<Vec<_>>().join(sep);
    let labelled: [(&str, &str, Pick); 5] = [
        ("E-mail", "البريد الإلكتروني", |f| if let Fact::Email(v) = f { Some(v) } else { None }),
        ("Phone", "الهاتف", |f| if let Fact::Phone(v) = f { Some(v) } else { None }),
        ("WhatsApp", "واتساب", |f| if let Fact::WhatsApp(v) = f { Some(v) } else { None }),
        ("Commercial Registration number", "رقم السجل التجاري", |f| {
            if let Fact::CommercialRegistration(v) = f { Some(v) } else { None }
        }),
        ("VAT number", "الرقم الضريبي", |f| if let Fact::Vat(v) = f { Some(v) } else { None }),
    ];
    for (en, ar_label, pick) in labelled {
        let values = list(pick);
        if !values.is_empty() {
            sentences.push(format!("{}: {values}.", if ar { ar_label } else { en }));
        }
    }
    for fact in &facts {
        if let Fact::Rating { rating, count } = fact {
            sentences.push(match (ar, count) {
                (false, Some(1)) => format!("Rated {rating} out of 5 by 1 reviewer."),
                (false, Some(n)) => format!("Rated {rating} out of 5 by {n} reviewers."),
                (false, None) => format!("Rated {rating} out of 5."),
                (true, Some(n)) => format!("التقييم {rating} من 5 (عدد المراجعين: {n})."),
                (true, None) => format!("التقييم {rating} من 5."),
            });
        }
    }
    let socials: Vec<String> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Social { network, url } => match (network, url) {
                (Some(n), Some(url)) => Some(format!("{} ({url})", if ar { n.ar } else { n.en })),
                (Some(n), None) => Some((if ar { n.ar } else { n.en }).to_owned()),
                (None, Some(url)) => Some(url.clone()),
                (None, None) => None,
            },
            _ => None,
        })
        .collect();
    if !socials.is_empty() {
        let label = if ar { "حسابات التواصل الاجتماعي" } else { "Social media" };
        sentences.push(format!("{label}: {}.", socials.join(sep)));
    }
    let technologies = list(|f| if let Fact::Technology(v) = f { Some(v) } else { None });
    if !technologies.is_empty() {
        sentences.push(format!("{}: {technologies}.", if ar { "يستخدم الموقع" } else { "The website uses" }));
    }
    let years: Vec<String> =
        facts.iter().filter_map(|f| if let Fact::Founded(y) = f { Some(y.to_string()) } else { None }).collect();
    match (years.as_slice(), ar) {
        ([], _) => {}
        ([year], false) => sentences.push(format!("Founded in {year}.")),
        ([year], true) => sentences.push(format!("تأسست عام {year}.")),
        (years, false) => sentences.push(format!("Founding years given: {}.", years.join(sep))),
        (years, true) => sentences.push(format!("سنوات التأسيس المذكورة: {}.", years.join(sep))),
    }
    for fact in &facts {
        if let Fact::Quote { source, text } = fact {
            sentences.push(if ar {
                format!("{}: «{text}».", source.says(true))
            } else {
                format!("{}: \"{text}\".", source.says(false))
            });
        }
    }
    sentences.join(" ")
}

/// The people of a section, once each (by name), with the first role and e-mail known.
fn merge_people(facts: &[&Fact]) -> Vec<KnownPerson> {
    let mut people: Vec<KnownPerson> = Vec::new();
    for fact in facts {
        let Fact::Person { name, role, email } = fact else { continue };
        if let Some(known) = people.iter_mut().find(|p| p.name.to_lowercase() == name.to_lowercase()) {
            known.role = known.role.take().or_else(|| role.clone());
            known.email = known.email.take().or_else(|| email.clone());
        } else {
            people.push(KnownPerson { name: name.clone(), role: role.clone(), email: email.clone() });
        }
    }
    people
}

// --- Reading facts out of text --------------------------------------------------------------

/// Whitespace collapsed to single spaces, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Arabic-Indic and Persian digits as ASCII ones, and the Arabic decimal separator as `.`.
fn ascii_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from_digit(c as u32 - 0x0660, 10).unwrap_or(c),
            '\u{06F0}'..='\u{06F9}' => char::from_digit(c as u32 - 0x06F0, 10).unwrap_or(c),
            '\u{066B}' => '.',
            _ => c,
        })
        .collect()
}

/// Whether `haystack` holds `needle` as a whole word (case-insensitive).
fn contains_word(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.to_lowercase(), needle.to_lowercase());
    if needle.is_empty() {
        return false;
    }
    haystack.match_indices(&needle).any(|(at, found)| {
        let before = haystack.get(..at).and_then(|s| s.chars().next_back());
        let after = haystack.get(at + found.len()..).and_then(|s| s.chars().next());
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Whether `text` mentions one of `words`: Latin ones as whole words (`vat`, not `innovation`),
/// Arabic ones anywhere (Arabic joins prefixes to words: `وتأسست`).
fn mentions_any(text: &str, words: &[&str]) -> bool {
    let lower = text.to_lowercase();
    words.iter().any(|w| if w.is_ascii() { contains_word(&lower, w) } else { lower.contains(w) })
}

fn push_once<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// The e-mail addresses in `text` (also `mailto:` ones), lowercased.
fn emails_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || ",;:<>()[]{}\"'،|".contains(c)) {
        if !token.contains('@') {
            continue;
        }
        let token = token.split('?').next().unwrap_or_default().trim_end_matches('.');
        if let Ok(email) = Email::parse(token) {
            push_once(&mut out, email.as_str().to_owned());
        }
    }
    out
}

/// The phone numbers in `text` written with `+`, `00` or a leading `0` (so registration
/// numbers and years are not taken for phones), in E.164.
fn phones_in(text: &str) -> Vec<String> {
    fn flush(candidate: &mut String, out: &mut Vec<String>) {
        let trimmed = candidate.trim_end_matches([' ', '-', '.', '(', '\u{a0}']).trim();
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        if (trimmed.starts_with('+') || trimmed.starts_with('0'))
            && (8..=15).contains(&digits)
            && let Ok(phone) = PhoneE164::parse(trimmed)
        {
            push_once(out, phone.as_str().to_owned());
        }
        candidate.clear();
    }
    let mut out = Vec::new();
    let mut candidate = String::new();
    for c in ascii_digits(text).chars() {
        match c {
            '0'..='9' => candidate.push(c),
            '+' => {
                flush(&mut candidate, &mut out);
                candidate.push(c);
            }
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' if !candidate.is_empty() => candidate.push(c),
            _ => flush(&mut candidate, &mut out),
        }
    }
    flush(&mut candidate, &mut out);
    out
}

/// The WhatsApp number of a `wa.me/…` or `api.whatsapp.com/send?phone=…` link.
fn whatsapp_of_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_start_matches("www.").to_ascii_lowercase();
    let digits: String = match host.as_str() {
        "wa.me" => parsed.path().chars().filter(char::is_ascii_digit).collect(),
        "api.whatsapp.com" | "web.whatsapp.com" => parsed
            .query_pairs()
            .find(|(k, _)| k == "phone")
            .map(|(_, v)| v.chars().filter(char::is_ascii_digit).collect())
            .unwrap_or_default(),
        _ => return None,
    };
    PhoneE164::parse(&format!("+{digits}")).ok().map(|p| p.as_str().to_owned())
}

/// The contact facts of `text` (and of a `mailto:`, `tel:` or WhatsApp `url`), if any.
fn contact_in(text: &str, url: Option<&str>) -> Option<Vec<Fact>> {
    let whatsapp_text = mentions_any(text, WHATSAPP_WORDS);
    let mut facts: Vec<Fact> = emails_in(text).into_iter().map(Fact::Email).collect();
    for phone in phones_in(text) {
        push_once(&mut facts, if whatsapp_text { Fact::WhatsApp(phone) } else { Fact::Phone(phone) });
    }
    if let Some(url) = url {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("mailto:") {
            for email in emails_in(url) {
                push_once(&mut facts, Fact::Email(email));
            }
        } else if lower.starts_with("tel:") {
            let number = url.get(4..).unwrap_or_default();
            if let Ok(phone) = PhoneE164::parse(&ascii_digits(number)) {
                push_once(&mut facts, Fact::Phone(phone.as_str().to_owned()));
            }
        } else if let Some(phone) = whatsapp_of_url(url) {
            // The same number named in the text is the WhatsApp number, not another phone.
            facts.retain(|f| f != &Fact::Phone(phone.clone()));
            push_once(&mut facts, Fact::WhatsApp(phone));
        }
    }
    (!facts.is_empty()).then_some(facts)
}

/// Maximal runs of ASCII digits.
fn digit_runs(text: &str) -> Vec<String> {
    ascii_digits(text).split(|c: char| !c.is_ascii_digit()).filter(|run| !run.is_empty()).map(str::to_owned).collect()
}

/// Commercial Registration numbers (10 digits, not starting with 0, 8 or 9) and VAT numbers (15
/// digits, first and last 3) in `text`.
fn registration_in(text: &str) -> Vec<Fact> {
    let mut facts = Vec::new();
    for run in digit_runs(text) {
        let first = run.chars().next().unwrap_or('0');
        if run.len() == 10 && ('1'..='7').contains(&first) {
            push_once(&mut facts, Fact::CommercialRegistration(run));
        } else if run.len() == 15 && run.starts_with('3') && run.ends_with('3') {
            push_once(&mut facts, Fact::Vat(run));
        }
    }
    facts
}

/// A rating out of 5 (`4.6`, `٤٫٦`) and, when given, the number of reviews, from a title such as
/// `Google Maps listing: rated 4.6 by 210 reviewers` or `4.6/5 (210 reviews)`.
fn rating_in(text: &str) -> Option<Fact> {
    let text = ascii_digits(text);
    // Numbers with their byte spans: `4.6`, `210`.
    let mut numbers: Vec<(usize, usize, &str)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let part_of_number = c.is_ascii_digit()
            || (c == '.'
                && start.is_some()
                && text.get(i + 1..).and_then(|s| s.chars().next()).is_some_and(|n| n.is_ascii_digit()));
        match (part_of_number, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                numbers.push((s, i, text.get(s..i).unwrap_or_default()));
                start = None;
            }
            _ => {}
        }
    }
    let (index, (_, rating_end, rating)) = numbers
        .iter()
        .enumerate()
        .find(|(_, (_, _, n))| n.contains('.') && n.parse::<f64>().is_ok_and(|r| (0.0..=5.0).contains(&r)))?;
    let count = numbers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .filter(|(_, (_, _, n))| !n.contains('.'))
        .find(|(_, (s, _, n))| {
            // `out of 5`, `/5`, `من 5` right after the rating is the scale, not a count.
            let between = text.get(*rating_end..*s).unwrap_or_default().trim().to_lowercase();
            !(*n == "5" && matches!(between.as_str(), "/" | "of" | "out of" | "من"))
        })
        .and_then(|(_, (_, _, n))| n.parse::<u64>().ok());
    Some(Fact::Rating { rating: (*rating).to_owned(), count })
}

/// The network of a profile URL, by its host.
fn network_of_url(url: &str) -> Option<Network> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    NETWORKS.iter().copied().find(|n| n.hosts.iter().any(|h| host == *h || host.ends_with(&format!(".{h}"))))
}

/// A network named in a title.
fn network_in(text: &str) -> Option<Network> {
    NETWORKS.iter().copied().find(|n| n.words.iter().any(|w| contains_word(text, w)))
}

/// The technologies `text` names: the known ones and the lead's own (from its enrichment).
fn technologies_in(text: &str, hints: &Hints) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut names: Vec<&str> = TECHNOLOGIES.to_vec();
    for extra in &hints.technologies {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
            names.push(extra);
        }
    }
    for name in names {
        if contains_word(text, name) {
            push_once(&mut facts, Fact::Technology(name.to_owned()));
        }
    }
    facts
}

/// A founding year (1800–2100) next to a word that says so (`founded`, `since`, `تأسست`…).
fn founded_in(text: &str) -> Option<u16> {
    if !mentions_any(text, FOUNDED_WORDS) {
        return None;
    }
    digit_runs(text)
        .into_iter()
        .filter(|run| run.len() == 4)
        .filter_map(|run| run.parse::<u16>().ok())
        .find(|year| (1800..=2100).contains(year))
}

/// The people an item names: the lead's known decision makers its title mentions, or the person
/// of a title such as `Ahmed Al-Qahtani (General Manager) named on the company's website`.
fn people_in(title: &str, snippet: &str, hints: &Hints) -> Vec<Fact> {
    let email = emails_in(title).into_iter().chain(emails_in(snippet)).next();
    let mut facts = Vec::new();
    for person in &hints.people {
        if contains_word(title, &person.name) {
            push_once(
                &mut facts,
                Fact::Person {
                    name: person.name.clone(),
                    role: person.role.clone(),
                    email: person.email.clone().or_else(|| email.clone()),
                },
            );
        }
    }
    if facts.is_empty()
        && let Some(at) = title.find(" named ")
        && let Some(head) = title.get(..at)
    {
        let (name, role) = match head.split_once(" (") {
            Some((name, rest)) => (name.trim(), rest.strip_suffix(')').map(str::trim).filter(|r| !r.is_empty())),
            None => (head.trim(), None),
        };
        if !name.is_empty() && name.chars().count() <= 80 {
            facts.push(Fact::Person { name: name.to_owned(), role: role.map(str::to_owned), email });
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn emails_and_phones_are_read_and_normalised() {
        assert_eq!(
            emails_in("Contact: INFO@AlNoor.sa, mailto:sales@alnoor.sa?subject=x."),
            ["info@alnoor.sa", "sales@alnoor.sa"]
        );
        assert_eq!(phones_in("Call +966 50 123 4567 or ٠١١٢٣٤٥٦٧٨"), ["+966501234567", "+966112345678"]);
        // Registration numbers, years and ratings are not phones.
        assert!(phones_in("CR 1010123456, since 2012, rated 4.6 by 210").is_empty());
    }

    #[test]
    fn whatsapp_links_and_words_make_whatsapp_facts() {
        assert_eq!(whatsapp_of_url("https://wa.me/966501234567"), Some("+966501234567".to_owned()));
        assert_eq!(
            whatsapp_of_url("https://api.whatsapp.com/send?phone=966501234567&text=hi"),
            Some("+966501234567".to_owned())
        );
        assert_eq!(contact_in("WhatsApp: +966501234567", None), Some(vec![Fact::WhatsApp("+966501234567".to_owned())]));
        assert_eq!(
            contact_in("Chat with us +966501234567", Some("https://wa.me/966501234567")),
            Some(vec![Fact::WhatsApp("+966501234567".to_owned())])
        );
    }

    #[test]
    fn registration_numbers_are_told_apart() {
        assert_eq!(
            registration_in("CR 1010123456 / VAT 300012345600003"),
            [Fact::CommercialRegistration("1010123456".to_owned()), Fact::Vat("300012345600003".to_owned())]
        );
        assert_eq!(
            registration_in("السجل التجاري ٤٠٣٠١٢٣٤٥٦"),
            [Fact::CommercialRegistration("4030123456".to_owned())]
        );
        assert!(registration_in("0501234567 and 123").is_empty());
    }

    #[test]
    fn ratings_and_counts_are_read() {
        assert_eq!(
            rating_in("Google Maps listing: rated 4.6 by 210 reviewers"),
            Some(Fact::Rating { rating: "4.6".to_owned(), count: Some(210) })
        );
        assert_eq!(rating_in("4.2/5 (35 reviews)"), Some(Fact::Rating { rating: "4.2".to_owned(), count: Some(35) }));
        assert_eq!(rating_in("4.2 out of 5"), Some(Fact::Rating { rating: "4.2".to_owned(), count: None }));
        assert_eq!(
            rating_in("التقييم ٤٫٨ من ٥ (١٢٠ مراجعة)"),
            Some(Fact::Rating { rating: "4.8".to_owned(), count: Some(120) })
        );
        assert_eq!(rating_in("Google Maps listing"), None);
    }

    #[test]
    fn words_match_whole() {
        assert!(contains_word("Built with Shopify.", "shopify"));
        assert!(!contains_word("Wixon Trading", "Wix"));
        assert!(contains_word("Google Tag Manager found", "google tag manager"));
    }

    #[test]
    fn founding_years_need_a_word_that_says_so() {
        assert_eq!(founded_in("تأسست عام ٢٠١٢"), Some(2012));
        assert_eq!(founded_in("Serving Riyadh since 1998"), Some(1998));
        assert_eq!(founded_in("Call 2012 now"), None);
    }

    #[test]
    fn people_are_read_from_hunter_titles_and_known_names() {
        let hints = Hints::default();
        assert_eq!(
            people_in("Ahmed Al-Qahtani (General Manager) named on the company's website", "ahmed@x.sa", &hints),
            [Fact::Person {
                name: "Ahmed Al-Qahtani".to_owned(),
                role: Some("General Manager".to_owned()),
                email: Some("ahmed@x.sa".to_owned())
            }]
        );
        let hints = Hints::from_enrichment(&serde_json::json!({
            "decisionMakers": [{ "name": "سارة العتيبي", "title": "المديرة التنفيذية" }]
        }));
        assert_eq!(
            people_in("مقابلة مع سارة العتيبي عن التوسع", "", &hints),
            [Fact::Person {
                name: "سارة العتيبي".to_owned(), role: Some("المديرة التنفيذية".to_owned()), email: None
            }]
        );
        assert!(people_in("About us", "", &hints).is_empty());
    }
}
