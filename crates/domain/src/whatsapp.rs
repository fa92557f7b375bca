//! WhatsApp's rules that need no IO: a template's `{{name}}` variables and the names Meta accepts
//! for it, filling it in, the opt-out words, and how a status callback may move a message.

use crate::enums::WhatsAppStatus;
use crate::error::DomainError;
use crate::normalize::normalize_words;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Meta's limit on a template body, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 1024;
/// Meta's limit on a free-text message body, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Variables one template may have.
pub const MAX_VARIABLES: usize = 20;
const MAX_VARIABLE_NAME: usize = 64;
/// The longest value one variable may be filled with.
pub const MAX_VARIABLE_VALUE: usize = 500;

/// The `{{name}}` placeholders of `content` in the order they first appear, each once. A name
/// starts with a letter and continues with letters, digits or `_` (ASCII): Meta's named
/// parameters are built from it.
///
/// # Errors
/// A placeholder that is not closed, empty or badly named, or more than [`MAX_VARIABLES`].
pub fn template_variables(content: &str) -> Result<Vec<String>, DomainError> {
    let bad = |message: String| DomainError::field("content", message);
    let mut names: Vec<String> = Vec::new();
    let mut rest = content;
    while let Some(open) = rest.find("{{") {
        let after = rest.get(open + 2..).unwrap_or_default();
        let Some(close) = after.find("}}") else {
            return Err(bad("has a {{ that is never closed with }}".into()));
        };
        let name = after.get(..close).unwrap_or_default().trim();
        if !is_variable_name(name) {
            return Err(bad(format!(
                "has a placeholder {{{{{name}}}}}: a variable name starts with a letter and holds only letters, digits and _"
            )));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = after.get(close + 2..).unwrap_or_default();
    }
    if names.len() > MAX_VARIABLES {
        return Err(bad(format!("has more than {MAX_VARIABLES} variables")));
    }
    Ok(names)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_VARIABLE_NAME
}

/// The parameter name Meta gets for a variable: lowercase with underscores (`companyName` →
/// `company_name`), which is what Meta's named parameters allow.
pub fn meta_parameter_name(variable: &str) -> String {
    let mut out = String::with_capacity(variable.len() + 4);
    for (i, c) in variable.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The body as Meta's template declares it: each `{{variable}}` written `{{parameter_name}}`.
pub fn meta_body(content: &str) -> String {
    replace_placeholders(content, |name| format!("{{{{{}}}}}", meta_parameter_name(name)))
}

/// The template's text with every variable filled from `values` (a variable without a value
/// stays as its placeholder: callers check [`missing_variables`] first).
pub fn render(content: &str, values: &BTreeMap<String, String>) -> String {
    replace_placeholders(content, |name| values.get(name).cloned().unwrap_or_else(|| format!("{{{{{name}}}}}")))
}

/// The variables of `variables` that `values` has no non-blank value for.
pub fn missing_variables(variables: &[String], values: &BTreeMap<String, String>) -> Vec<String> {
    variables.iter().filter(|v| values.get(*v).is_none_or(|s| s.trim().is_empty())).cloned().collect()
}

fn replace_placeholders(content: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(open) = rest.find("{{") {
        let after = rest.get(open + 2..).unwrap_or_default();
        let Some(close) = after.find("}}") else { break };
        out.push_str(rest.get(..open).unwrap_or_default());
        out.push_str(&value(after.get(..close).unwrap_or_default().trim()));
        rest = after.get(close + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The name a template is submitted to Meta under: Meta wants lowercase letters, digits and
/// underscores (at most 512). The tenant's own name (Arabic, say) keeps its own column; this one
/// is the ASCII of it plus a suffix of the template's id, so two tenants' or two languages' names
/// never collide and a name left empty by Arabic still has one.
pub fn meta_template_name(name: &str, id: uuid::Uuid) -> String {
    let mut base = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            base.push(c.to_ascii_lowercase());
        } else if !base.is_empty() && !base.ends_with('_') {
            base.push('_');
        }
        if base.len() >= 60 {
            break;
        }
    }
    let base = base.trim_matches('_');
    let simple = id.simple().to_string();
    let suffix = simple.get(simple.len().saturating_sub(12)..).unwrap_or_default();
    if base.is_empty() { format!("lz_{suffix}") } else { format!("{base}_{suffix}") }
}

/// Whether an inbound message asks to stop (PDPL opt-out): `STOP`, `UNSUBSCRIBE`, `إيقاف`,
/// `الغاء`, `إلغاء الاشتراك`, in any case, with or without diacritics, hamza forms or
/// surrounding punctuation.
pub fn is_opt_out(text: &str) -> bool {
    const WORDS: [&str; 6] = ["STOP", "UNSUBSCRIBE", "إيقاف", "الغاء", "إلغاء", "إلغاء الاشتراك"];
    let said = normalize_words(text);
    !said.is_empty() && WORDS.iter().any(|w| normalize_words(w) == said)
}

/// What a status callback changes on a message, or `None` when it changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status: WhatsAppStatus,
    pub delivered_at: Option<OffsetDateTime>,
    pub read_at: Option<OffsetDateTime>,
}

/// How a status callback moves a message: only forward along PENDING → SENT → DELIVERED →
/// READ; a `read` that arrives without a `delivered` sets both times; FAILED only before the
/// message was delivered (a late failure after a read is Meta contradicting itself, kept as the
/// read). Repeating a status changes nothing.
pub fn advance(
    current: WhatsAppStatus,
    delivered_at: Option<OffsetDateTime>,
    read_at: Option<OffsetDateTime>,
    reported: WhatsAppStatus,
    at: OffsetDateTime,
) -> Option<StatusChange> {
    use WhatsAppStatus as S;
    match (current, reported) {
        (S::Failed, _) | (_, S::Pending) => None,
        (S::Pending | S::Sent, S::Failed) => Some(StatusChange { status: S::Failed, delivered_at, read_at }),
        (_, S::Failed) => None,
        (current, reported) if reported.rank() <= current.rank() => None,
        (_, S::Sent) => Some(StatusChange { status: S::Sent, delivered_at, read_at }),
        (_, S::Delivered) => {
            Some(StatusChange { status: S::Delivered, delivered_at: delivered_at.or(Some(at)), read_at })
        }
        (_, S::Read) => Some(StatusChange {
            status: S::Read,
            delivered_at: delivered_at.or(Some(at)),
            read_at: read_at.or(Some(at)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WhatsAppStatus as S;

    #[test]
    fn variables_come_from_placeholders_in_order_and_once() {
        assert_eq!(
            template_variables("مرحبا {{name}} من {{ city }}، {{name}} {{companyName}}").unwrap(),
            vec!["name", "city", "companyName"]
        );
        assert!(template_variables("no variables").unwrap().is_empty());
        for bad in ["Hi {{name", "Hi {{}}", "Hi {{1}}", "Hi {{first name}}", "Hi {{اسم}}"] {
            let err = template_variables(bad).unwrap_err();
            assert_eq!(err.field_errors()[0].field, "content", "{bad}");
        }
        let many: String = (0..21).map(|i| format!("{{{{v{i}}}}} ")).collect();
        assert!(template_variables(&many).is_err());
    }

    #[test]
    fn meta_names_are_lowercase_with_underscores() {
        assert_eq!(meta_parameter_name("companyName"), "company_name");
        assert_eq!(meta_parameter_name("city"), "city");
        assert_eq!(meta_parameter_name("sender_Name"), "sender_name");
        assert_eq!(meta_body("Hi {{ companyName }} in {{city}}"), "Hi {{company_name}} in {{city}}");
        let id = uuid::Uuid::parse_str("0191c3a0-0000-7000-8000-00000000abcd").unwrap();
        assert_eq!(meta_template_name("Welcome Offer!", id), "welcome_offer_00000000abcd");
        assert_eq!(meta_template_name("عرض الترحيب", id), "lz_00000000abcd");
    }

    #[test]
    fn render_fills_and_missing_names_what_is_not_filled() {
        let values: BTreeMap<String, String> =
            [("name".to_owned(), "النور".to_owned()), ("city".to_owned(), " ".to_owned())].into();
        assert_eq!(render("مرحبا {{name}} في {{city}}", &values), "مرحبا النور في  ");
        assert_eq!(
            missing_variables(&["name".into(), "city".into(), "industry".into()], &values),
            vec!["city", "industry"]
        );
    }

    #[test]
    fn opt_out_words_match_whatever_the_spelling() {
        for yes in [
            "STOP",
            "stop",
            " Stop! ",
            "unsubscribe",
            "إيقاف",
            "ايقاف",
            "الغاء",
            "إلغاء",
            "إلغاء الاشتراك",
            "الغاء الاشتراك",
            "إِلْغَاء",
        ] {
            assert!(is_opt_out(yes), "{yes}");
        }
        for no in ["", "stop sending me the price list please", "مرحبا", "stopped", "أريد الاشتراك"] {
            assert!(!is_opt_out(no), "{no}");
        }
    }

    #[test]
    fn statuses_only_move_forward() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let later = t + time::Duration::seconds(5);
        // read without delivered sets both
        let read = advance(S::Sent, None, None, S::Read, t).unwrap();
        assert_eq!(read, StatusChange { status: S::Read, delivered_at: Some(t), read_at: Some(t) });
        // delivered after read changes nothing
        assert_eq!(advance(S::Read, Some(t), Some(t), S::Delivered, later), None);
        // duplicates change nothing
        assert_eq!(advance(S::Delivered, Some(t), None, S::Delivered, later), None);
        assert_eq!(advance(S::Sent, None, None, S::Sent, later), None);
        // forward moves keep earlier times
        let d = advance(S::Sent, None, None, S::Delivered, t).unwrap();
        assert_eq!(d.delivered_at, Some(t));
        let r = advance(S::Delivered, Some(t), None, S::Read, later).unwrap();
        assert_eq!((r.delivered_at, r.read_at), (Some(t), Some(later)));
        // failure only before delivery; nothing leaves FAILED
        assert_eq!(advance(S::Sent, None, None, S::Failed, t).unwrap().status, S::Failed);
        assert_eq!(advance(S::Read, Some(t), Some(t), S::Failed, t), None);
        assert_eq!(advance(S::Failed, None, None, S::Read, t), None);
        assert_eq!(advance(S::Pending, None, None, S::Sent, t).unwrap().status, S::Sent);
    }
}
