//! Value objects. Each has a private field and a parsing constructor: once a value exists it is valid
//! and normalised, so two equal inputs in different spellings compare equal.

use crate::DomainError;
use std::fmt;

fn invalid(message: impl Into<String>) -> DomainError {
    // The field name is filled in by the caller (`Validator::check_field`).
    DomainError::field("", message)
}

/// An email address, trimmed and lowercased: addresses are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(invalid("is required"));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(invalid("is too long (at most 254 characters)"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(invalid("is not a valid email address"));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(invalid("is not a valid email address"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL-safe tenant handle: lowercase ASCII letters, digits and single hyphens, 2–100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let ok = (2..=Self::MAX_LEN).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid("must be 2–100 lowercase letters, digits or single hyphens"))
        }
    }

    /// Derives a slug from an organisation name; names with no Latin letters or digits (an Arabic
    /// name, say) fall back to `org`. The caller makes it unique.
    pub fn from_name(name: &str) -> Self {
        let mut out = String::new();
        for c in name.trim().chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let mut s: String = out.trim_end_matches('-').chars().take(Self::MAX_LEN - 9).collect();
        while s.ends_with('-') {
            s.pop();
        }
        if s.len() < 2 {
            s = "org".to_owned();
        }
        Self(s)
    }

    /// This slug with a suffix, for when the plain one is taken. Stays within the length limit.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        let clean: String = suffix.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit()).take(8).collect();
        Self(format!("{}-{}", self.0, clean))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+9665XXXXXXXX`). Saudi local spellings are accepted and
/// normalised; other countries must be written with `+` (or `00`) and their country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneE164(String);

impl PhoneE164 {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("is required"));
        }
        let mut digits = String::new();
        let mut plus = false;
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '+' if i == 0 => plus = true,
                '0'..='9' => digits.push(c),
                // Arabic-Indic and Persian digits, as typed on Arabic keyboards.
                '\u{0660}'..='\u{0669}' => digits.push(char::from(b'0' + (c as u32 - 0x0660) as u8)),
                '\u{06F0}'..='\u{06F9}' => digits.push(char::from(b'0' + (c as u32 - 0x06F0) as u8)),
                ' ' | '-' | '.' | '(' | ')' | '\u{00A0}' => {}
                _ => return Err(invalid("is not a valid phone number")),
            }
        }
        if !plus && let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_owned();
            plus = true;
        }
        let already_international = plus || (digits.starts_with("966") && (12..=13).contains(&digits.len()));
        let international = if already_international {
            digits
        } else if let Some(national) = digits.strip_prefix('0') {
            format!("966{national}")
        } else {
            format!("966{digits}")
        };
        Self::from_international_digits(&international)
    }

    fn from_international_digits(d: &str) -> Result<Self, DomainError> {
        let bad = || invalid("is not a valid phone number");
        if !d.chars().all(|c| c.is_ascii_digit()) || d.starts_with('0') {
            return Err(bad());
        }
        if let Some(national) = d.strip_prefix("966") {
            // "+966 05…" is a common mix of both spellings.
            let national = national.strip_prefix('0').unwrap_or(national);
            // Mobiles 5XXXXXXXX, landlines 1XXXXXXXX (area codes 11–17), unified 9200XXXXX,
            // toll-free 800XXXXXXX.
            let mobile = national.len() == 9 && national.starts_with('5');
            let landline = national.len() == 9 && national.starts_with('1');
            let unified = national.len() == 9 && national.starts_with("920");
            let toll_free = national.len() == 10 && national.starts_with("800");
            return if mobile || landline || unified || toll_free {
                Ok(Self(format!("+966{national}")))
            } else {
                Err(bad())
            };
        }
        if (8..=15).contains(&d.len()) { Ok(Self(format!("+{d}"))) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A company website: `https://` by default, lowercase host, no credentials, no fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebsiteUrl {
    url: String,
    host: String,
}

impl WebsiteUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(invalid("is required"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(invalid("is too long"));
        }
        let bad = || invalid("is not a valid website URL");
        let with_scheme = if s.contains("://") { s.to_owned() } else { format!("https://{s}") };
        let mut url = url::Url::parse(&with_scheme).map_err(|_| bad())?;
        match url.scheme() {
            "https" => {}
            "http" => url.set_scheme("https").map_err(|()| bad())?,
            _ => return Err(bad()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not contain credentials"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if d.contains('.') && !d.starts_with('.') && !d.ends_with('.') => d.to_owned(),
            _ => return Err(bad()),
        };
        url.set_fragment(None);
        if url.port().is_some() && url.port_or_known_default() == Some(443) {
            url.set_port(None).map_err(|()| bad())?;
        }
        Ok(Self { url: url.to_string(), host })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The lowercase host, as written (`www.example.sa`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host used to detect duplicates: `www.` is dropped, so `www.x.sa` and `x.sa` are one site.
    pub fn dedup_host(&self) -> &str {
        self.host.strip_prefix("www.").unwrap_or(&self.host)
    }
}

impl fmt::Display for WebsiteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// The password rule: at least 10 characters, at most 256, and not all of one character class
/// (lowercase, uppercase, digits, other). Only checked on new passwords; never stored.
pub fn check_password_strength(password: &str) -> Result<(), DomainError> {
    let len = password.chars().count();
    if len < 10 {
        return Err(invalid("must be at least 10 characters"));
    }
    if len > 256 {
        return Err(invalid("must be at most 256 characters"));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_numeric()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|&&b| b).count() < 2 {
        return Err(invalid("must mix at least two kinds of characters (letters, digits, symbols)"));
    }
    Ok(())
}

/// A trimmed, non-empty text of at most `max` characters (the column size).
pub fn required_text(raw: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("is required"));
    }
    if has_forbidden_control(s) {
        return Err(invalid("must not contain control characters"));
    }
    if s.chars().count() > max {
        return Err(invalid(format!("is too long (at most {max} characters)")));
    }
    Ok(s.to_owned())
}

/// NUL and other C0/C1 control characters (tab and newlines excepted) are never valid text:
/// PostgreSQL cannot even store NUL.
pub fn has_forbidden_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Like `required_text`, but an absent or blank value is `None`.
pub fn optional_text(raw: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => required_text(s, max).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_is_case_insensitive_and_trimmed() {
        assert_eq!(Email::parse("  Sara@Example.SA ").unwrap(), Email::parse("sara@example.sa").unwrap());
        assert_eq!(Email::parse("Sara@Example.SA").unwrap().as_str(), "sara@example.sa");
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in ["", "plain", "a@b", "@x.sa", "a@.sa", "a b@x.sa", "a..b@x.sa", "a@x..sa", "a@-x.sa"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@x.sa", "a".repeat(260));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("acme-co").is_ok());
        for bad in ["A", "a", "-ab", "ab-", "a--b", "ab_c", "شركة"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Slug::from_name("  Acme Trading Co. ").as_str(), "acme-trading-co");
        assert_eq!(Slug::from_name("شركة النور").as_str(), "org");
        assert_eq!(Slug::from_name("Al Noor شركة 2").as_str(), "al-noor-2");
        assert_eq!(Slug::from_name("x").with_suffix("AB12cd!").as_str(), "org-12cd");
    }

    #[test]
    fn saudi_local_forms_normalise_to_one_e164() {
        for raw in [
            "0501234567",
            "501234567",
            "966501234567",
            "00966501234567",
            "+966501234567",
            "+966 50 123 4567",
            "+966-50-123-4567",
            "(050) 123 4567",
            "+9660501234567",
            "٠٥٠١٢٣٤٥٦٧",
        ] {
            assert_eq!(PhoneE164::parse(raw).unwrap().as_str(), "+966501234567", "{raw}");
        }
    }

    #[test]
    fn saudi_landlines_and_other_countries() {
        assert_eq!(PhoneE164::parse("0112345678").unwrap().as_str(), "+966112345678");
        assert_eq!(PhoneE164::parse("+971 50 123 4567").unwrap().as_str(), "+971501234567");
        assert_eq!(PhoneE164::parse("0097150123456").unwrap().as_str(), "+97150123456");
    }

    #[test]
    fn bad_phones_are_refused() {
        for bad in
            ["", "12", "05012345", "050123456789", "+966 40 123 4567", "phone", "+0123456789", "050-abc-4567", "+1 2"]
        {
            assert!(PhoneE164::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn websites_normalise() {
        let w = WebsiteUrl::parse("WWW.Example.SA/About#team").unwrap();
        assert_eq!(w.as_str(), "https://www.example.sa/About");
        assert_eq!(w.host(), "www.example.sa");
        assert_eq!(w.dedup_host(), "example.sa");
        assert_eq!(WebsiteUrl::parse("http://example.sa").unwrap().as_str(), "https://example.sa/");
        assert_eq!(WebsiteUrl::parse("https://example.sa:443/x").unwrap().as_str(), "https://example.sa/x");
    }

    #[test]
    fn bad_websites_are_refused() {
        for bad in [
            "",
            "ftp://x.sa",
            "https://user:pw@x.sa",
            "https://localhost",
            "https://127.0.0.1",
            "not a url",
            "javascript:alert(1)",
        ] {
            assert!(WebsiteUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn password_strength() {
        assert!(check_password_strength("short1A").is_err());
        assert!(check_password_strength("aaaaaaaaaaaa").is_err());
        assert!(check_password_strength("123456789012").is_err());
        assert!(check_password_strength("correct horse").is_ok());
        assert!(check_password_strength("Passw0rdPassw0rd").is_ok());
        assert!(check_password_strength(&"aB".repeat(200)).is_err());
    }

    #[test]
    fn texts() {
        assert_eq!(required_text("  x ", 5).unwrap(), "x");
        assert!(required_text("   ", 5).is_err());
        assert!(required_text("abcdef", 5).is_err());
        assert_eq!(optional_text(Some("  "), 5).unwrap(), None);
        assert_eq!(optional_text(None, 5).unwrap(), None);
        assert_eq!(required_text("شركة", 4).unwrap(), "شركة");
        assert!(required_text("a\u{0}b", 5).is_err());
        assert!(required_text("a\u{7}b", 5).is_err());
        assert!(required_text("a\nb", 5).is_ok());
    }

    proptest! {
        #[test]
        fn any_saudi_mobile_in_any_local_form_is_one_number(rest in "[0-9]{8}") {
            let canonical = format!("+9665{rest}");
            for raw in [format!("05{rest}"), format!("5{rest}"), format!("9665{rest}"), format!("009665{rest}"), canonical.clone()] {
                prop_assert_eq!(PhoneE164::parse(&raw).unwrap().as_str().to_owned(), canonical.clone());
            }
        }

        #[test]
        fn phone_parser_never_panics_and_output_is_e164(raw in "\\PC{0,30}") {
            if let Ok(p) = PhoneE164::parse(&raw) {
                let s = p.as_str();
                prop_assert!(s.starts_with('+'));
                prop_assert!(s[1..].chars().all(|c| c.is_ascii_digit()));
                prop_assert!((9..=16).contains(&s.len()));
                // Normalisation is idempotent.
                prop_assert_eq!(PhoneE164::parse(s).unwrap().as_str().to_owned(), s.to_owned());
            }
        }

        #[test]
        fn email_parse_is_idempotent_and_lowercase(raw in "[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,10}\\.[A-Za-z]{2,5}") {
            if let Ok(e) = Email::parse(&raw) {
                prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
                prop_assert_eq!(Email::parse(&raw.to_uppercase()).unwrap(), e);
            }
        }

        #[test]
        fn website_parse_is_idempotent(host in "[a-z0-9]{1,12}\\.(sa|com|com\\.sa)", path in "(/[a-z0-9]{0,8}){0,3}") {
            let w = WebsiteUrl::parse(&format!("{}{path}", host.to_uppercase())).unwrap();
            prop_assert_eq!(w.host(), host.as_str());
            prop_assert!(w.as_str().starts_with("https://"));
            prop_assert_eq!(WebsiteUrl::parse(w.as_str()).unwrap(), w.clone());
        }

        #[test]
        fn slug_from_any_name_is_valid(name in "\\PC{0,120}") {
            let s = Slug::from_name(&name);
            prop_assert!(Slug::parse(s.as_str()).is_ok(), "{:?}", s);
            prop_assert!(Slug::parse(s.with_suffix("ab12").as_str()).is_ok());
        }
    }
}
