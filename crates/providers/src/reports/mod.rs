//! The two report writers a REPORT job can use: [`ChatCompletionsWriter`], an OpenAI-compatible
//! chat-completions client asking for a structured (JSON-schema) answer, and
//! [`BuiltinReportWriter`], a deterministic writer for when no language model is configured.
//!
//! Both write in the tenant's language (`ar` → Arabic, anything else → English) and cite the
//! request's evidence ids; the app checks every citation again before storing the report.

pub mod builtin;
pub mod llm;

pub use builtin::{BUILTIN_MODEL_VERSION, BuiltinReportWriter};
pub use llm::{CHAT_COMPLETIONS_PATH, ChatCompletionsWriter};

/// The longest `model_version` the store keeps (`reports.model_version` is `VARCHAR(50)`).
pub const MAX_MODEL_VERSION_CHARS: usize = 50;

/// Whether a report in `language` is written in Arabic (`ar`, `ar-SA`…).
pub(crate) fn is_arabic(language: &str) -> bool {
    let language = language.trim();
    language.eq_ignore_ascii_case("ar")
        || language
            .get(..3)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("ar-") || prefix.eq_ignore_ascii_case("ar_"))
}

/// `text` cut to at most `max` characters (not bytes: the column counts characters).
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A confidence as one of `HIGH`, `MEDIUM`, `LOW` (case-insensitive), else `None`.
pub(crate) fn normalise_confidence(value: &str) -> Option<&'static str> {
    match value.trim().to_ascii_uppercase().as_str() {
        "HIGH" => Some("HIGH"),
        "MEDIUM" => Some("MEDIUM"),
        "LOW" => Some("LOW"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_is_recognised_with_or_without_a_region() {
        assert!(is_arabic("ar"));
        assert!(is_arabic(" AR "));
        assert!(is_arabic("ar-SA"));
        assert!(!is_arabic("en"));
        assert!(!is_arabic("arn"));
        assert!(!is_arabic(""));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("نموذج-عربي", 5), "نموذج");
        assert_eq!(truncate_chars("gpt-4o", 50), "gpt-4o");
    }

    #[test]
    fn confidence_is_normalised() {
        assert_eq!(normalise_confidence("high"), Some("HIGH"));
        assert_eq!(normalise_confidence(" Medium "), Some("MEDIUM"));
        assert_eq!(normalise_confidence("LOW"), Some("LOW"));
        assert_eq!(normalise_confidence("certain"), None);
    }
}
