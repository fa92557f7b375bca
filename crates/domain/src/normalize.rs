//! Arabic-aware normalisation of company names, used to detect duplicate leads (create, import,
//! search). Two spellings of one company must normalise to the same key.

/// Words that say what kind of company it is rather than which one; dropped before comparing.
const COMPANY_WORDS: &[&str] = &[
    "شركه",
    "مؤسسه",
    "co",
    "company",
    "llc",
    "est",
    "establishment",
    "ltd",
    "limited",
    "inc",
    "corp",
    "corporation",
    "wll",
    "the",
];

/// Folds one character: drops tatweel and diacritics (`None`), unifies hamza forms and letter
/// variants, and lowercases Latin.
fn fold_char(c: char) -> Option<char> {
    match c {
        '\u{0640}' => None,                                                     // tatweel
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' => None, // harakat, shadda, marks
        'أ' | 'إ' | 'آ' | 'ٱ' => Some('ا'),
        'ة' => Some('ه'),
        'ى' => Some('ي'),
        _ => Some(c),
    }
}

/// Drops a leading definite article (and its common prefixed forms) when a real word remains.
fn strip_article(word: &str) -> &str {
    for prefix in ["وال", "بال", "لل", "ال"] {
        if let Some(rest) = word.strip_prefix(prefix)
            && rest.chars().count() >= 2
        {
            return rest;
        }
    }
    word
}

/// Normalises a single word or phrase to comparable words, without dropping company words.
pub fn normalize_words(text: &str) -> Vec<String> {
    let folded: String = text.chars().filter_map(fold_char).flat_map(char::to_lowercase).collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| strip_article(w).to_owned())
        .collect()
}

/// `شركه`, `مؤسسه`, `co`, `llc`… (folded): words that say what kind of company, not which.
pub fn is_company_word(word: &str) -> bool {
    COMPANY_WORDS.contains(&word)
}

/// The duplicate-detection key of a company name: folded words without articles or company words,
/// joined by single spaces. `مؤسسة النور`, `النور` and `مؤسّسة نور` all give `نور`.
pub fn company_name_key(name: &str) -> String {
    let words: Vec<String> = normalize_words(name);
    let kept: Vec<&str> = words.iter().map(String::as_str).filter(|w| !COMPANY_WORDS.contains(w)).collect();
    // A name made only of company words ("The Company") keeps them rather than becoming empty.
    if kept.is_empty() { words.join(" ") } else { kept.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arabic_company_name_spellings_are_one_company() {
        let key = company_name_key("مؤسسة النور");
        assert_eq!(key, "نور");
        assert_eq!(company_name_key("النور"), key);
        assert_eq!(company_name_key("مؤسّسة نور"), key);
        assert_eq!(company_name_key("شركة  النـــور"), key);
    }

    #[test]
    fn hamza_ta_marbuta_and_alef_maqsura_are_unified() {
        assert_eq!(company_name_key("أحمد"), company_name_key("احمد"));
        assert_eq!(company_name_key("إعمار"), company_name_key("اعمار"));
        assert_eq!(company_name_key("مكتبة"), company_name_key("مكتبه"));
        assert_eq!(company_name_key("مستشفى"), company_name_key("مستشفي"));
    }

    #[test]
    fn latin_is_casefolded_and_company_words_dropped() {
        assert_eq!(company_name_key("Techno Solutions Co."), "techno solutions");
        assert_eq!(company_name_key("TECHNO solutions LLC"), "techno solutions");
        assert_eq!(company_name_key("Al Noor Est."), "al noor");
        assert_eq!(company_name_key("The Company"), "the company");
    }

    #[test]
    fn different_companies_stay_different() {
        assert_ne!(company_name_key("مؤسسة النور"), company_name_key("مؤسسة الأمل"));
        assert_ne!(company_name_key("Techno"), company_name_key("Techna"));
    }

    #[test]
    fn prefixed_articles() {
        assert_eq!(company_name_key("الرياض للتقنية"), "رياض تقنيه");
        assert_eq!(normalize_words("التقنية"), vec!["تقنيه"]);
    }

    proptest! {
        #[test]
        fn key_is_idempotent_on_arabic_and_latin(name in "[\\u0621-\\u064A\\u064B-\\u0652a-zA-Z ]{0,40}") {
            let once = company_name_key(&name);
            // Articles could be stripped twice ("الال…"), so idempotence is on the folded words.
            let folded: String = name.chars().filter_map(fold_char).flat_map(char::to_lowercase).collect();
            prop_assert_eq!(company_name_key(&folded), once);
        }

        #[test]
        fn diacritics_and_tatweel_never_matter(word in "[\\u0628-\\u063A]{2,8}", marks in proptest::collection::vec("[\\u064B-\\u0652\\u0640]", 0..4)) {
            let mut decorated = String::new();
            for (i, c) in word.chars().enumerate() {
                decorated.push(c);
                if let Some(m) = marks.get(i) { decorated.push_str(m); }
            }
            prop_assert_eq!(company_name_key(&decorated), company_name_key(&word));
        }
    }
}
