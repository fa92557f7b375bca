//! Facts found in a page's visible TEXT (never in its markup): e-mail addresses, phone numbers,
//! Commercial Registration and VAT numbers near their keywords, and the year a company was
//! founded. Digits may be Western (0-9), Arabic-Indic (٠-٩) or Persian (۰-۹).

use leadzone_domain::values::{Email, PhoneE164};
use leadzone_ports::intelligence::FactKind;
use regex::Regex;
use serde_json::{Value, json};
use std::sync::LazyLock;

/// A snippet is at most this many characters.
pub(crate) const MAX_SNIPPET_CHARS: usize = 200;

/// One fact as a finder sees it (the page URL is added by the caller).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub kind: FactKind,
    pub value: String,
    pub snippet: String,
    pub raw: Value,
}

const DIGIT: &str = r"0-9\x{0660}-\x{0669}\x{06F0}-\x{06F9}";

static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+").ok());

static PHONE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"\+?\(?[{DIGIT}][{DIGIT} \-.()\x{{00A0}}/]{{5,40}}[{DIGIT}]")).ok());

static CR_KEYWORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i:السجل التجاري|سجل تجاري|رقم السجل|commercial registration|commercial register|الرقم الموحد)|\bC\.\s?R\b\.?|\bCR\b",
    )
    .ok()
});

static VAT_KEYWORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i:الرقم الضريبي|الرقم الضريبى|رقم ضريبي|\bVAT\b|tax registration number|tax number|\bTRN\b)").ok()
});

static FOUNDED_KEYWORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i:تأسست|تأسس|تاسست|تاسس|التأسيس|تأسيس|منذ|\bsince\b|\bestablished\b|\bfounded\b|\best\.)").ok()
});

/// The ASCII digit of a Western, Arabic-Indic or Persian digit.
pub(crate) fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{0660}'..='\u{0669}' => char::from_u32(u32::from('0') + (u32::from(c) - 0x0660)),
        '\u{06F0}'..='\u{06F9}' => char::from_u32(u32::from('0') + (u32::from(c) - 0x06F0)),
        _ => None,
    }
}

/// `text[start..end]` with up to ~90 characters either side, whitespace collapsed, at most
/// [`MAX_SNIPPET_CHARS`] characters.
pub(crate) fn snippet(text: &str, start: usize, end: usize) -> String {
    let before = text.get(..start).unwrap_or_default();
    let middle = text.get(start..end).unwrap_or_default();
    let after = text.get(end..).unwrap_or_default();
    let before: String = {
        let mut chars: Vec<char> = before.chars().rev().take(90).collect();
        chars.reverse();
        chars.into_iter().collect()
    };
    let after: String = after.chars().take(90).collect();
    cut(&collapse(&format!("{before}{middle}{after}")), MAX_SNIPPET_CHARS)
}

/// Whitespace runs as one space, trimmed.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `text`.
pub(crate) fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// File names that look like addresses (`logo@2x.png`).
const NOT_A_TLD: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "svg", "css", "js", "ico", "avif", "bmp"];

/// The e-mail address `raw` stands for, lowercased, if it is one.
pub(crate) fn email(raw: &str) -> Option<String> {
    let email = Email::parse(raw.trim().trim_end_matches('.')).ok()?;
    let value = email.as_str().to_owned();
    let tld = value.rsplit('.').next().unwrap_or_default();
    (!NOT_A_TLD.contains(&tld) && tld.chars().all(|c| c.is_ascii_alphabetic())).then_some(value)
}

/// E-mail addresses written in the text.
pub(crate) fn emails(text: &str) -> Vec<Found> {
    let Some(re) = EMAIL.as_ref() else { return Vec::new() };
    re.find_iter(text)
        .filter_map(|m| {
            let value = email(m.as_str())?;
            Some(Found {
                kind: FactKind::Email,
                value,
                snippet: snippet(text, m.start(), m.end()),
                raw: json!({ "source": "text" }),
            })
        })
        .collect()
}

/// Whether a run of digits (ASCII, `plus` when written with `+`) may be a phone number written
/// in text: international (`+…`, `00…`, `966…`) or a Saudi national form (`0…`, unified
/// `9200…`, toll-free `800…`). Anything else is more likely a price, a year or a reference.
fn phone_like(digits: &str, plus: bool) -> bool {
    plus || ["00", "966", "0", "9200", "800"].iter().any(|p| digits.starts_with(p))
}

/// The phone number `raw` stands for, in E.164, by the domain's rules.
pub(crate) fn phone(raw: &str) -> Option<String> {
    PhoneE164::parse(raw).ok().map(|p| p.as_str().to_owned())
}

/// Phone numbers written in the text (`011 234 5678`, `+966 50 123 4567`, `0501234567`,
/// `٠٥٠١٢٣٤٥٦٧`), normalised to E.164; several numbers in a row are told apart.
pub(crate) fn phones(text: &str) -> Vec<Found> {
    let Some(re) = PHONE.as_ref() else { return Vec::new() };
    let mut found = Vec::new();
    for m in re.find_iter(text) {
        let before = text.get(..m.start()).and_then(|t| t.chars().next_back());
        let after = text.get(m.end()..).and_then(|t| t.chars().next());
        let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '@' || c == '_');
        if glued(before) || glued(after) {
            continue;
        }
        let span = m.as_str();
        let plus = span.starts_with('+');
        let groups: Vec<String> = span
            .split(|c: char| ascii_digit(c).is_none())
            .filter(|g| !g.is_empty())
            .map(|g| g.chars().filter_map(ascii_digit).collect())
            .collect();
        let mut i = 0;
        while i < groups.len() {
            let mut matched = None;
            for j in (i + 1..=groups.len()).rev() {
                let digits: String = groups.get(i..j).unwrap_or_default().concat();
                let with_plus = plus && i == 0;
                if !(7..=15).contains(&digits.len()) || !phone_like(&digits, with_plus) {
                    continue;
                }
                let candidate = if with_plus { format!("+{digits}") } else { digits };
                if let Some(value) = phone(&candidate) {
                    matched = Some((j, value));
                    break;
                }
            }
            match matched {
                Some((j, value)) => {
                    found.push(Found {
                        kind: FactKind::Phone,
                        value,
                        snippet: snippet(text, m.start(), m.end()),
                        raw: json!({ "source": "text" }),
                    });
                    i = j;
                }
                None => i += 1,
            }
        }
    }
    found
}

/// The first run of digits within `max_gap` characters after `from` (other characters in
/// between allowed), as ASCII, with its byte range; `None` when the gap is longer.
fn digits_after(text: &str, from: usize, max_gap: usize) -> Option<(String, usize, usize)> {
    let rest = text.get(from..)?;
    let mut start = None;
    let mut digits = String::new();
    let mut end = from;
    for (n, (i, c)) in rest.char_indices().enumerate() {
        match (ascii_digit(c), start) {
            (Some(d), _) => {
                start.get_or_insert(from + i);
                digits.push(d);
                end = from + i + c.len_utf8();
            }
            (None, Some(_)) => break,
            (None, None) if n >= max_gap => return None,
            (None, None) => {}
        }
    }
    start.map(|s| (digits, s, end))
}

/// Saudi Commercial Registration (10 digits, the Unified National Number starting with 7) and
/// VAT (15 digits, first and last 3) numbers, found only right after one of their keywords
/// (`السجل التجاري`, `C.R.`, `CR`, `Commercial Registration`, `الرقم الموحد`; `الرقم الضريبي`,
/// `VAT`, `Tax Number`).
pub(crate) fn registrations(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    if let Some(re) = CR_KEYWORD.as_ref() {
        for m in re.find_iter(text) {
            let Some((digits, start, end)) = digits_after(text, m.end(), 40) else { continue };
            let unified_keyword = m.as_str().contains("الموحد");
            let first = digits.chars().next().unwrap_or('0');
            let ok = digits.len() == 10 && ('1'..='7').contains(&first) && (!unified_keyword || first == '7');
            if ok {
                found.push(Found {
                    kind: FactKind::CommercialRegistration,
                    snippet: snippet(text, m.start(), end.max(start)),
                    raw: json!({ "keyword": m.as_str(), "unified": first == '7' }),
                    value: digits,
                });
            }
        }
    }
    if let Some(re) = VAT_KEYWORD.as_ref() {
        for m in re.find_iter(text) {
            let Some((digits, start, end)) = digits_after(text, m.end(), 40) else { continue };
            if digits.len() == 15 && digits.starts_with('3') && digits.ends_with('3') {
                found.push(Found {
                    kind: FactKind::VatNumber,
                    snippet: snippet(text, m.start(), end.max(start)),
                    raw: json!({ "keyword": m.as_str() }),
                    value: digits,
                });
            }
        }
    }
    found
}

/// The year a company was founded: a year from 1900 to `current_year` within a few words after
/// `تأسست`, `تأسس`, `التأسيس`, `منذ`, `since`, `established`, `founded` or `est.`.
pub(crate) fn founded_years(text: &str, current_year: i32) -> Vec<Found> {
    let Some(re) = FOUNDED_KEYWORD.as_ref() else { return Vec::new() };
    let mut found = Vec::new();
    for m in re.find_iter(text) {
        let Some((digits, start, end)) = digits_after(text, m.end(), 30) else { continue };
        let between = text.get(m.end()..start).unwrap_or_default();
        if between.split_whitespace().count() > 4 || digits.len() != 4 {
            continue;
        }
        let Ok(year) = digits.parse::<i32>() else { continue };
        if (1900..=current_year).contains(&year) {
            found.push(Found {
                kind: FactKind::FoundedYear,
                value: digits,
                snippet: snippet(text, m.start(), end),
                raw: json!({ "keyword": m.as_str() }),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn values(found: &[Found]) -> Vec<&str> {
        found.iter().map(|f| f.value.as_str()).collect()
    }

    #[test]
    fn the_patterns_compile() {
        assert!(EMAIL.is_some() && PHONE.is_some() && CR_KEYWORD.is_some());
        assert!(VAT_KEYWORD.is_some() && FOUNDED_KEYWORD.is_some());
    }

    #[test]
    fn saudi_phone_forms_are_normalised() {
        let text = "Call 011 234 5678 or +966 50 123 4567, mobile 0501234568, \
                    الهاتف: ٠١٢ ٦٥٤ ٣٢١٠ — unified 920012345, toll-free 800 123 4567, (013) 812-3456";
        assert_eq!(
            values(&phones(text)),
            [
                "+966112345678",
                "+966501234567",
                "+966501234568",
                "+966126543210",
                "+966920012345",
                "+9668001234567",
                "+966138123456"
            ]
        );
    }

    #[test]
    fn numbers_that_are_not_phones_are_left_alone() {
        let text = "Price 1500 SAR, since 1998, order 123456789, CR 1010123456, 2020-2024, ref 55555555";
        assert_eq!(values(&phones(text)), Vec::<&str>::new());
    }

    #[test]
    fn adjacent_phones_are_told_apart() {
        assert_eq!(values(&phones("0112345678 - 0501234567")), ["+966112345678", "+966501234567"]);
    }

    #[test]
    fn emails_are_lowercased_and_images_ignored() {
        let found = emails("Write to Info@Example.SA or sales@example.com.sa. logo@2x.png");
        assert_eq!(values(&found), ["info@example.sa", "sales@example.com.sa"]);
        assert!(found[0].snippet.contains("Write to"));
    }

    #[test]
    fn registrations_need_their_keywords() {
        let text = "السجل التجاري: ١٠١٠١٢٣٤٥٦ | الرقم الضريبي 300123456700003 | 4030123456 alone \
                    | VAT 15% | C.R. 4030111111 | الرقم الموحد 920012345 | الرقم الموحد للمنشأة 7001234567";
        let found = registrations(text);
        let cr: Vec<_> = found.iter().filter(|f| f.kind == FactKind::CommercialRegistration).collect();
        let vat: Vec<_> = found.iter().filter(|f| f.kind == FactKind::VatNumber).collect();
        assert_eq!(cr.iter().map(|f| f.value.as_str()).collect::<Vec<_>>(), ["1010123456", "4030111111", "7001234567"]);
        assert_eq!(vat.iter().map(|f| f.value.as_str()).collect::<Vec<_>>(), ["300123456700003"]);
        assert_eq!(cr[2].raw["unified"], true);
        assert!(registrations("VAT 300123456700004 and VAT 200123456700003").is_empty());
    }

    #[test]
    fn founded_years_need_a_keyword_and_a_plausible_year() {
        assert_eq!(values(&founded_years("تأسست الشركة في عام ٢٠١٢ في الرياض", 2026)), ["2012"]);
        assert_eq!(values(&founded_years("Serving Riyadh since 1998.", 2026)), ["1998"]);
        assert_eq!(values(&founded_years("Founded in 2031", 2026)), Vec::<&str>::new());
        assert_eq!(
            values(&founded_years("established by our founder and his friends in 2001", 2026)),
            Vec::<&str>::new()
        );
        assert_eq!(values(&founded_years("In 2012 we grew", 2026)), Vec::<&str>::new());
    }

    #[test]
    fn snippets_are_short_and_collapsed() {
        let text = format!("{}  phone\n\n 0501234567 {}", "x".repeat(500), "y".repeat(500));
        let found = phones(&text);
        assert_eq!(found.len(), 1);
        assert!(found[0].snippet.chars().count() <= MAX_SNIPPET_CHARS);
        assert!(found[0].snippet.contains("phone 0501234567"));
    }
}
