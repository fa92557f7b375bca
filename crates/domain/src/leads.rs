//! Lead rules: the status machine, validation and normalisation of a new lead, tags, the shape of
//! `enrichmentData`, and the sort orders and filters a lead listing may ask for.

use crate::enums::LeadStatus;
use crate::error::{DomainError, Validator};
use crate::ids::{ListId, UserId};
use crate::normalize::company_name_key;
use crate::values::{Email, PhoneE164, WebsiteUrl, optional_text, required_text};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

impl LeadStatus {
    /// Position on the forward path NEW → PROSPECTED → CONTACTED → QUALIFIED; LOST is off it.
    const fn stage(self) -> Option<u8> {
        match self {
            Self::New => Some(0),
            Self::Prospected => Some(1),
            Self::Contacted => Some(2),
            Self::Qualified => Some(3),
            Self::Lost => None,
        }
    }

    /// api.md: forward along the path (skipping allowed), any → LOST, LOST → NEW. Staying put is
    /// not a transition.
    pub fn can_transition_to(self, to: LeadStatus) -> bool {
        match (self, to) {
            (Self::Lost, Self::New) => true,
            (Self::Lost, _) => false,
            (_, Self::Lost) => true,
            (from, to) => matches!((from.stage(), to.stage()), (Some(a), Some(b)) if b > a),
        }
    }

    /// Every status from which `to` may be reached (for bulk status changes in one statement).
    pub fn sources_of(to: LeadStatus) -> Vec<LeadStatus> {
        LeadStatus::ALL.iter().copied().filter(|from| from.can_transition_to(to)).collect()
    }

    pub fn transition_to(self, to: LeadStatus) -> Result<LeadStatus, DomainError> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(DomainError::InvalidStateTransition { from: self.to_string(), to: to.to_string() })
        }
    }
}

pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 50;
pub const COMPANY_NAME_MAX: usize = 255;
pub const INDUSTRY_MAX: usize = 100;
pub const CITY_MAX: usize = 100;
pub const EMAIL_MAX: usize = 255;

/// Trims tags, drops blanks and repeats (keeping first-seen order); at most 50 of at most 50 chars.
pub fn normalize_tags(raw: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim();
        if t.is_empty() || out.iter().any(|o| o == t) {
            continue;
        }
        if crate::values::has_forbidden_control(t) {
            return Err(DomainError::field("", "tags must not contain control characters"));
        }
        if t.chars().count() > MAX_TAG_LEN {
            return Err(DomainError::field("", format!("each tag must be at most {MAX_TAG_LEN} characters")));
        }
        out.push(t.to_owned());
    }
    if out.len() > MAX_TAGS {
        return Err(DomainError::field("", format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

/// A lead score, 0–100.
pub fn check_score(score: i32) -> Result<i32, DomainError> {
    if (0..=100).contains(&score) { Ok(score) } else { Err(DomainError::field("", "must be between 0 and 100")) }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SocialProfiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twitter: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionMaker {
    pub name: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `leads.enrichment_data`, exactly the seed's shape: unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrichmentData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub founded_year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_count: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technologies: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub social_profiles: Option<SocialProfiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_makers: Option<Vec<DecisionMaker>>,
}

impl EnrichmentData {
    /// Parses and checks a JSON value against the seed's shape.
    pub fn from_json(value: serde_json::Value) -> Result<Self, DomainError> {
        let data: Self = serde_json::from_value(value)
            .map_err(|e| DomainError::field("", format!("does not match the enrichment shape: {e}")))?;
        if let Some(year) = data.founded_year
            && !(1800..=2100).contains(&year)
        {
            return Err(DomainError::field("", "foundedYear must be between 1800 and 2100"));
        }
        if let Some(makers) = &data.decision_makers
            && makers.iter().any(|m| m.name.trim().is_empty())
        {
            return Err(DomainError::field("", "every decision maker needs a name"));
        }
        Ok(data)
    }
}

/// A lead as a client submits it, before validation. Every field is raw.
#[derive(Debug, Clone, Default)]
pub struct LeadInput {
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub status: Option<LeadStatus>,
    pub score: Option<i32>,
    pub tags: Vec<String>,
    pub list_id: Option<ListId>,
    pub assigned_to: Option<UserId>,
    pub enrichment_data: Option<serde_json::Value>,
}

/// A validated, normalised new lead, with the keys used to find duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLead {
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub phone: Option<PhoneE164>,
    pub email: Option<Email>,
    pub website: Option<WebsiteUrl>,
    pub status: LeadStatus,
    pub score: Option<i32>,
    pub tags: Vec<String>,
    pub list_id: Option<ListId>,
    pub assigned_to: Option<UserId>,
    pub enrichment_data: EnrichmentData,
}

impl NewLead {
    /// Validates every field and reports all bad ones at once (field names in camelCase, as sent).
    pub fn parse(input: LeadInput) -> Result<Self, DomainError> {
        let mut v = Validator::new();
        let company_name = v.check_field("companyName", required_text(&input.company_name, COMPANY_NAME_MAX));
        let industry = v.check_field("industry", optional_text(input.industry.as_deref(), INDUSTRY_MAX));
        let city = v.check_field("city", optional_text(input.city.as_deref(), CITY_MAX));
        let phone = v.check_field("phone", optional(input.phone.as_deref(), PhoneE164::parse));
        let email = v.check_field(
            "email",
            optional(input.email.as_deref(), |s| {
                if s.chars().count() > EMAIL_MAX { Err(DomainError::field("", "is too long")) } else { Email::parse(s) }
            }),
        );
        let website = v.check_field("website", optional(input.website.as_deref(), WebsiteUrl::parse));
        let score = v.check_field("score", input.score.map(check_score).transpose());
        let tags = v.check_field("tags", normalize_tags(&input.tags));
        let enrichment_data = v.check_field(
            "enrichmentData",
            input.enrichment_data.map(EnrichmentData::from_json).transpose().map(Option::unwrap_or_default),
        );
        v.finish()?;
        match (company_name, industry, city, phone, email, website, score, tags, enrichment_data) {
            (
                Some(company_name),
                Some(industry),
                Some(city),
                Some(phone),
                Some(email),
                Some(website),
                Some(score),
                Some(tags),
                Some(enrichment_data),
            ) => Ok(Self {
                company_name,
                industry,
                city,
                phone,
                email,
                website,
                status: input.status.unwrap_or(LeadStatus::New),
                score,
                tags,
                list_id: input.list_id,
                assigned_to: input.assigned_to,
                enrichment_data,
            }),
            // Unreachable: the validator returned early if any field failed.
            _ => Err(DomainError::field("", "invalid lead")),
        }
    }

    /// The keys that identify the same company twice in one tenant.
    pub fn dedup_keys(&self) -> DedupKeys {
        DedupKeys {
            phone: self.phone.as_ref().map(|p| p.as_str().to_owned()),
            website_host: self.website.as_ref().map(|w| w.dedup_host().to_owned()),
            name_key: company_name_key(&self.company_name),
            city_key: self.city.as_deref().map(company_name_key),
            place_id: None,
        }
    }
}

fn optional<T>(raw: Option<&str>, parse: impl Fn(&str) -> Result<T, DomainError>) -> Result<Option<T>, DomainError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse(s).map(Some),
    }
}

/// What makes two leads the same company: the same phone, the same website host, or the same
/// normalised name in the same city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupKeys {
    pub phone: Option<String>,
    pub website_host: Option<String>,
    pub name_key: String,
    pub city_key: Option<String>,
    /// The places provider's id of the company (a lead found by a SEARCH): the durable key of a
    /// place. Set only by discovery; `None` leaves a stored lead's place id as it is.
    pub place_id: Option<String>,
}

/// Sort orders of `GET /leads`. Each is completed by the id as a unique tiebreaker, so keyset
/// pagination is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeadSort {
    #[default]
    CreatedAtDesc,
    CreatedAtAsc,
    ScoreDesc,
    ScoreAsc,
    CompanyNameAsc,
    UpdatedAtDesc,
    /// Best search match first; the default when `q` is given without a `sort`.
    Relevance,
}

impl LeadSort {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "-createdAt" => Self::CreatedAtDesc,
            "createdAt" => Self::CreatedAtAsc,
            "-score" => Self::ScoreDesc,
            "score" => Self::ScoreAsc,
            "companyName" => Self::CompanyNameAsc,
            "-updatedAt" => Self::UpdatedAtDesc,
            _ => {
                return Err(DomainError::field(
                    "sort",
                    "must be one of -createdAt, createdAt, -score, score, companyName, -updatedAt",
                ));
            }
        })
    }
}

/// Filters of `GET /leads` (and of smart lists, bulk actions and exports). Lists mean "any of".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFilter {
    pub status: Vec<LeadStatus>,
    pub industry: Vec<String>,
    pub city: Vec<String>,
    pub assigned_to: Option<UserId>,
    pub list_id: Option<ListId>,
    pub tag: Option<String>,
    pub has_phone: Option<bool>,
    pub has_website: Option<bool>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub score_min: Option<i32>,
    pub q: Option<String>,
}

impl LeadFilter {
    /// The filter a smart list stands for.
    pub fn from_smart(f: &crate::entities::SmartFilters) -> Self {
        LeadFilter {
            status: f.status.clone().unwrap_or_default(),
            industry: f.industry.clone().unwrap_or_default(),
            city: f.city.clone().unwrap_or_default(),
            has_phone: f.has_phone,
            has_website: f.has_website,
            ..Default::default()
        }
    }
}

/// What a search box's text asks for (see `search_terms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// Folded like stored names; each made only of letters and digits (safe inside a tsquery).
    pub words: Vec<String>,
    /// The last word is still being typed (the text does not end with a space): it matches as a
    /// prefix; every other word matches whole.
    pub last_is_prefix: bool,
}

/// Words of a search that no lead list narrows on.
const MAX_SEARCH_WORDS: usize = 8;

/// The words of a search, folded like stored names (`normalize_words`), at most 8. Company
/// words (`شركة`, `مؤسسة`, `co`, `llc`…) are dropped unless there is nothing else: nearly every
/// name has one, so they would only make the candidate set huge. Only the last word, the one
/// still being typed, is a prefix.
pub fn search_terms(q: &str) -> SearchTerms {
    let words: Vec<String> = crate::normalize::normalize_words(q).into_iter().filter(|w| !w.is_empty()).collect();
    let kept: Vec<String> = words.iter().filter(|w| !crate::normalize::is_company_word(w)).cloned().collect();
    let mut words = if kept.is_empty() { words } else { kept };
    let cut = words.len() > MAX_SEARCH_WORDS;
    words.truncate(MAX_SEARCH_WORDS);
    let typing = q.chars().last().is_some_and(|c| !c.is_whitespace() && !c.is_ascii_punctuation());
    SearchTerms { words, last_is_prefix: typing && !cut }
}

/// What the search index holds for a lead: its name and industry, folded, articles dropped.
pub fn search_text(company_name: &str, industry: Option<&str>) -> String {
    let mut words = crate::normalize::normalize_words(company_name);
    if let Some(i) = industry {
        words.extend(crate::normalize::normalize_words(i));
    }
    words.join(" ")
}

/// A partial update of a lead (`PATCH /leads/{id}`): `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct LeadPatchInput {
    pub company_name: Option<String>,
    pub industry: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub score: Option<Option<i32>>,
    pub tags: Option<Vec<String>>,
    pub list_id: Option<Option<ListId>>,
    pub assigned_to: Option<Option<UserId>>,
    pub enrichment_data: Option<serde_json::Value>,
}

impl LeadPatchInput {
    /// Applies the patch to a lead's fields through the same rules as a new lead; every bad field
    /// is reported at once.
    pub fn apply(self, lead: &crate::entities::Lead) -> Result<NewLead, DomainError> {
        let keep = |current: &Option<String>, patch: Option<Option<String>>| match patch {
            None => current.clone(),
            Some(v) => v,
        };
        let input = LeadInput {
            company_name: self.company_name.unwrap_or_else(|| lead.company_name.clone()),
            industry: keep(&lead.industry, self.industry),
            city: keep(&lead.city, self.city),
            phone: keep(&lead.phone, self.phone),
            email: keep(&lead.email, self.email),
            website: keep(&lead.website, self.website),
            status: Some(lead.status),
            score: match self.score {
                None => lead.score,
                Some(v) => v,
            },
            tags: self.tags.unwrap_or_else(|| lead.tags.clone()),
            list_id: match self.list_id {
                None => lead.list_id,
                Some(v) => v,
            },
            assigned_to: match self.assigned_to {
                None => lead.assigned_to,
                Some(v) => v,
            },
            enrichment_data: Some(
                self.enrichment_data.unwrap_or_else(|| serde_json::to_value(&lead.enrichment_data).unwrap_or_default()),
            ),
        };
        NewLead::parse(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LeadStatus::*;

    #[test]
    fn forward_transitions_and_skips_are_allowed() {
        assert!(New.can_transition_to(Prospected));
        assert!(New.can_transition_to(Qualified));
        assert!(Prospected.can_transition_to(Contacted));
        assert!(Contacted.can_transition_to(Qualified));
    }

    #[test]
    fn backward_and_idle_transitions_are_refused() {
        assert!(!Qualified.can_transition_to(Contacted));
        assert!(!Contacted.can_transition_to(New));
        assert!(!New.can_transition_to(New));
        assert!(!Lost.can_transition_to(Lost));
        assert!(!Lost.can_transition_to(Qualified));
        let err = Qualified.transition_to(New).unwrap_err();
        assert_eq!(err, DomainError::InvalidStateTransition { from: "QUALIFIED".into(), to: "NEW".into() });
    }

    #[test]
    fn anything_can_be_lost_and_lost_can_restart() {
        for s in [New, Prospected, Contacted, Qualified] {
            assert!(s.can_transition_to(Lost));
        }
        assert_eq!(Lost.transition_to(New).unwrap(), New);
    }

    #[test]
    fn the_full_matrix_has_exactly_the_allowed_pairs() {
        let allowed: Vec<(LeadStatus, LeadStatus)> = LeadStatus::ALL
            .iter()
            .flat_map(|a| LeadStatus::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_transition_to(*b))
            .collect();
        assert_eq!(allowed.len(), 6 + 4 + 1);
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = normalize_tags(&[" vip ".into(), "vip".into(), "".into(), "رياض".into()]).unwrap();
        assert_eq!(tags, vec!["vip", "رياض"]);
        assert!(normalize_tags(&["x".repeat(51)]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        assert_eq!(normalize_tags(&many[..50]).unwrap().len(), 50);
    }

    #[test]
    fn enrichment_data_follows_the_seed_shape() {
        let ok = EnrichmentData::from_json(serde_json::json!({
            "foundedYear": 1999, "technologies": ["rust"], "socialProfiles": {"linkedin": "x"},
            "decisionMakers": [{"name": "Sara", "title": "CEO"}]
        }))
        .unwrap();
        assert_eq!(ok.founded_year, Some(1999));
        assert!(EnrichmentData::from_json(serde_json::json!({"secret": 1})).is_err());
        assert!(EnrichmentData::from_json(serde_json::json!({"foundedYear": "1999"})).is_err());
        assert!(EnrichmentData::from_json(serde_json::json!({"foundedYear": 99})).is_err());
        assert!(EnrichmentData::from_json(serde_json::json!([1, 2])).is_err());
    }

    #[test]
    fn a_new_lead_is_normalised() {
        let lead = NewLead::parse(LeadInput {
            company_name: "  شركة الرياض للتقنية ".into(),
            phone: Some("0501234567".into()),
            website: Some("Riyadh-Tech.SA".into()),
            email: Some("Info@Riyadh-Tech.SA".into()),
            tags: vec!["a".into(), " a".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(lead.company_name, "شركة الرياض للتقنية");
        assert_eq!(lead.phone.unwrap().as_str(), "+966501234567");
        assert_eq!(lead.website.unwrap().as_str(), "https://riyadh-tech.sa/");
        assert_eq!(lead.email.unwrap().as_str(), "info@riyadh-tech.sa");
        assert_eq!(lead.tags, vec!["a"]);
        assert_eq!(lead.status, New);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let err = NewLead::parse(LeadInput {
            company_name: " ".into(),
            phone: Some("12".into()),
            email: Some("nope".into()),
            website: Some("ftp://x".into()),
            score: Some(101),
            enrichment_data: Some(serde_json::json!({"bad": true})),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = err.field_errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["companyName", "phone", "email", "website", "score", "enrichmentData"]);
    }

    #[test]
    fn dedup_keys() {
        let lead = NewLead::parse(LeadInput {
            company_name: "مؤسسة النور".into(),
            city: Some("الرياض".into()),
            phone: Some("+966 50 123 4567".into()),
            website: Some("www.alnoor.sa".into()),
            ..Default::default()
        })
        .unwrap();
        let keys = lead.dedup_keys();
        assert_eq!(keys.phone.as_deref(), Some("+966501234567"));
        assert_eq!(keys.website_host.as_deref(), Some("alnoor.sa"));
        assert_eq!(keys.name_key, "نور");
        assert_eq!(keys.city_key.as_deref(), Some("رياض"));
    }

    #[test]
    fn bulk_status_sources_follow_the_machine() {
        assert_eq!(LeadStatus::sources_of(New), vec![Lost]);
        assert_eq!(LeadStatus::sources_of(Qualified), vec![New, Prospected, Contacted]);
        assert_eq!(LeadStatus::sources_of(Lost), vec![New, Prospected, Contacted, Qualified]);
    }

    #[test]
    fn search_terms_fold_like_stored_names() {
        let words = |q: &str| search_terms(q).words;
        assert_eq!(words("التقنية"), vec!["تقنيه"]);
        assert_eq!(words("الرياض تقنية"), vec!["رياض", "تقنيه"]);
        assert_eq!(words("Tech & 'x' | !"), vec!["tech", "x"]);
        assert!(words("&|!()").is_empty());
        assert_eq!(search_text("شركة الرياض للتقنية", Some("Software")), "شركه رياض تقنيه software");
    }

    #[test]
    fn only_the_word_being_typed_is_a_prefix_and_company_words_narrow_nothing() {
        let t = search_terms("Trading 1234");
        assert_eq!((t.words, t.last_is_prefix), (vec!["trading".to_owned(), "1234".to_owned()], true));
        // A space after the last word: it is finished, so it matches whole too.
        assert!(!search_terms("Trading ").last_is_prefix);
        assert!(!search_terms("Trading,").last_is_prefix);
        // Company words go, in either language, wherever they stand…
        assert_eq!(search_terms("شركة النور").words, vec!["نور"]);
        assert_eq!(search_terms("Alpha Trading LLC").words, vec!["alpha", "trading"]);
        assert_eq!(search_terms("مؤسسة").words, vec!["مؤسسه"], "…unless they are all there is");
        // At most 8 words; when cut, the last kept word was not the one being typed.
        let long = search_terms("a b c d e f g h i j");
        assert_eq!((long.words.len(), long.last_is_prefix), (8, false));
    }

    #[test]
    fn a_patch_keeps_untouched_fields_and_validates_changed_ones() {
        let lead = crate::entities::Lead {
            id: uuid::Uuid::nil().into(),
            tenant_id: uuid::Uuid::nil().into(),
            company_name: "Alpha".into(),
            industry: Some("IT".into()),
            city: None,
            phone: Some("+966501234567".into()),
            email: None,
            website: None,
            status: Contacted,
            score: Some(5),
            tags: vec!["a".into()],
            enrichment_data: EnrichmentData::default(),
            list_id: None,
            assigned_to: None,
            created_by: uuid::Uuid::nil().into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            last_contacted_at: None,
        };
        let patched =
            LeadPatchInput { industry: Some(None), score: Some(Some(9)), ..Default::default() }.apply(&lead).unwrap();
        assert_eq!((patched.company_name.as_str(), patched.industry, patched.score), ("Alpha", None, Some(9)));
        assert_eq!(patched.phone.unwrap().as_str(), "+966501234567");
        assert_eq!(patched.status, Contacted, "a patch never changes the status");
        let err =
            LeadPatchInput { phone: Some(Some("12".into())), company_name: Some(" ".into()), ..Default::default() }
                .apply(&lead)
                .unwrap_err();
        assert_eq!(err.field_errors().len(), 2);
    }

    #[test]
    fn sorts_parse() {
        assert_eq!(LeadSort::parse("-score").unwrap(), LeadSort::ScoreDesc);
        assert!(LeadSort::parse("name").is_err());
        assert_eq!(LeadSort::default(), LeadSort::CreatedAtDesc);
    }
}
