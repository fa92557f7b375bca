//! CSV import rules that need no IO: which lead field a column header means (English or Arabic,
//! case-insensitive), how one row becomes a `LeadInput`, and how an exported cell is kept from
//! being read as a formula by a spreadsheet (and read back as it was by an import).

use crate::leads::LeadInput;

/// The lead fields a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportField {
    CompanyName,
    Industry,
    City,
    Phone,
    Email,
    Website,
    Score,
    Tags,
    Status,
}

impl ImportField {
    /// The API name of the field (for `mapping` and error reports).
    pub fn api_name(self) -> &'static str {
        match self {
            Self::CompanyName => "companyName",
            Self::Industry => "industry",
            Self::City => "city",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Website => "website",
            Self::Score => "score",
            Self::Tags => "tags",
            Self::Status => "status",
        }
    }

    pub fn from_api_name(name: &str) -> Option<Self> {
        ALL_FIELDS.iter().copied().find(|f| f.api_name() == name)
    }
}

const ALL_FIELDS: &[ImportField] = &[
    ImportField::CompanyName,
    ImportField::Industry,
    ImportField::City,
    ImportField::Phone,
    ImportField::Email,
    ImportField::Website,
    ImportField::Score,
    ImportField::Tags,
    ImportField::Status,
];

/// Header spellings, folded (lowercase, no spaces, underscores or hyphens, Arabic folded by the
/// name normaliser's letter rules).
const SYNONYMS: &[(ImportField, &[&str])] = &[
    (
        ImportField::CompanyName,
        &[
            "companyname",
            "company",
            "name",
            "businessname",
            "organization",
            "organisation",
            "اسمالشركه",
            "الشركه",
            "شركه",
            "الاسم",
            "اسم",
            "اسمالمنشاه",
            "المنشاه",
        ],
    ),
    (ImportField::Industry, &["industry", "sector", "category", "القطاع", "قطاع", "النشاط", "المجال", "الصناعه"]),
    (ImportField::City, &["city", "town", "المدينه", "مدينه"]),
    (
        ImportField::Phone,
        &[
            "phone",
            "mobile",
            "phonenumber",
            "tel",
            "telephone",
            "whatsapp",
            "الجوال",
            "جوال",
            "الهاتف",
            "هاتف",
            "رقمالجوال",
            "رقمالهاتف",
            "الموبايل",
        ],
    ),
    (ImportField::Email, &["email", "mail", "emailaddress", "البريد", "البريدالالكتروني", "الايميل", "ايميل"]),
    (ImportField::Website, &["website", "web", "url", "site", "الموقع", "الموقعالالكتروني", "موقع"]),
    (ImportField::Score, &["score", "rating", "التقييم", "الدرجه"]),
    (ImportField::Tags, &["tags", "labels", "الوسوم", "وسوم", "التصنيفات"]),
    (ImportField::Status, &["status", "stage", "الحاله", "حاله"]),
];

fn fold_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.' | ':'))
        .map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ة' => 'ه',
            'ى' => 'ي',
            c => c,
        })
        .filter(|c| !matches!(*c, '\u{064B}'..='\u{065F}' | '\u{0640}'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The field a header names, if any.
pub fn field_for_header(header: &str) -> Option<ImportField> {
    let folded = fold_header(header);
    SYNONYMS.iter().find(|(_, names)| names.contains(&folded.as_str())).map(|(f, _)| *f)
}

/// Maps the header row to fields: an explicit `mapping` (column header → API field name) wins,
/// then the header spellings. Columns that map to nothing are ignored; a field claimed twice keeps
/// its first column.
pub fn map_headers(
    headers: &[String],
    mapping: &std::collections::HashMap<String, String>,
) -> Result<Vec<Option<ImportField>>, crate::DomainError> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let explicit = mapping.get(h.trim()).or_else(|| mapping.get(h.trim().trim_start_matches('\u{feff}')));
        let field = match explicit {
            Some(name) if name.is_empty() || name == "ignore" => None,
            Some(name) => Some(
                ImportField::from_api_name(name)
                    .ok_or_else(|| crate::DomainError::field("mapping", format!("{name:?} is not a lead field")))?,
            ),
            None => field_for_header(h),
        };
        out.push(field.filter(|f| taken.insert(*f)));
    }
    if !out.contains(&Some(ImportField::CompanyName)) {
        return Err(crate::DomainError::field(
            "file",
            "no column maps to companyName (e.g. \"Company\" or \"اسم الشركة\")",
        ));
    }
    Ok(out)
}

/// The first characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell
/// as a formula or a DDE command (OWASP "CSV injection"): `=`, `+`, `-`, `@`, tab and carriage
/// return.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a cell needs the `'` prefix: it starts with a formula trigger, or with `'`s followed by
/// one (so that the `'` an import strips is always one that the export added, and
/// `strip_formula_guard(neutralise_formula(s)) == s` for every `s`).
fn needs_formula_guard(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS)
}

/// A cell as an export writes it: prefixed with `'` when a spreadsheet would otherwise read it as
/// a formula (`=HYPERLINK(…)` → `'=HYPERLINK(…)`, `+966501234567` → `'+966501234567`); every
/// other cell unchanged.
pub fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_formula_guard(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A cell as an import reads it: the `'` that [`neutralise_formula`] adds is removed again (a
/// cell that starts with `'` followed by `=`, `+`, `-`, `@`, tab or carriage return — or by more
/// `'`s and then one of those — loses its first `'`); any other `'` stays (`'s Gravenhage`).
pub fn strip_formula_guard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_formula_guard(rest) => rest,
        _ => cell,
    }
}

/// One CSV row as a lead input, by the mapped columns. Score and status stay raw strings until
/// validated, so that a bad value is reported against its field.
pub fn row_input<'a>(
    fields: &[Option<ImportField>],
    row: impl IntoIterator<Item = &'a str>,
) -> (LeadInput, Vec<crate::FieldError>) {
    let mut input = LeadInput::default();
    let mut errors = Vec::new();
    for (field, value) in fields.iter().zip(row) {
        let Some(field) = field else { continue };
        // An exported cell's formula guard (`'=…`, `'+966…`) comes off before anything else.
        let v = strip_formula_guard(value).trim();
        if v.is_empty() {
            continue;
        }
        match field {
            ImportField::CompanyName => input.company_name = v.to_owned(),
            ImportField::Industry => input.industry = Some(v.to_owned()),
            ImportField::City => input.city = Some(v.to_owned()),
            ImportField::Phone => input.phone = Some(v.to_owned()),
            ImportField::Email => input.email = Some(v.to_owned()),
            ImportField::Website => input.website = Some(v.to_owned()),
            ImportField::Score => match v.parse::<i32>() {
                Ok(s) => input.score = Some(s),
                Err(_) => errors.push(crate::FieldError::new("score", "must be a whole number from 0 to 100")),
            },
            ImportField::Tags => {
                input.tags =
                    v.split([',', '،', ';', '|']).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()
            }
            ImportField::Status => match v.to_uppercase().parse::<crate::enums::LeadStatus>() {
                Ok(s) => input.status = Some(s),
                Err(_) => errors
                    .push(crate::FieldError::new("status", "must be NEW, PROSPECTED, CONTACTED, QUALIFIED or LOST")),
            },
        }
    }
    (input, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn english_and_arabic_headers_map_to_fields() {
        assert_eq!(field_for_header("Company Name"), Some(ImportField::CompanyName));
        assert_eq!(field_for_header("\u{feff}company_name"), Some(ImportField::CompanyName));
        assert_eq!(field_for_header("اسم الشركة"), Some(ImportField::CompanyName));
        assert_eq!(field_for_header("المدينة"), Some(ImportField::City));
        assert_eq!(field_for_header("الجوال"), Some(ImportField::Phone));
        assert_eq!(field_for_header("البريد الإلكتروني"), Some(ImportField::Email));
        assert_eq!(field_for_header("PHONE"), Some(ImportField::Phone));
        assert_eq!(field_for_header("notes"), None);
    }

    #[test]
    fn explicit_mapping_wins_and_a_name_column_is_required() {
        let headers: Vec<String> = ["Firma", "Ort", "Tel"].iter().map(|s| s.to_string()).collect();
        let mapping: HashMap<String, String> =
            [("Firma", "companyName"), ("Ort", "city")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(
            map_headers(&headers, &mapping).unwrap(),
            vec![Some(ImportField::CompanyName), Some(ImportField::City), Some(ImportField::Phone)]
        );
        assert!(map_headers(&headers, &HashMap::new()).is_err());
        let bad: HashMap<String, String> = [("Firma".to_string(), "nickname".to_string())].into();
        assert!(map_headers(&headers, &bad).is_err());
    }

    #[test]
    fn rows_become_inputs_and_bad_numbers_are_field_errors() {
        let fields = vec![Some(ImportField::CompanyName), Some(ImportField::Score), Some(ImportField::Tags), None];
        let row = ["  مؤسسة النور ", "high", "vip، جديد", "ignored"];
        let (input, errors) = row_input(&fields, row);
        assert_eq!(input.company_name, "مؤسسة النور");
        assert_eq!(input.tags, vec!["vip", "جديد"]);
        assert_eq!(errors[0].field, "score");
    }

    #[test]
    fn formula_cells_get_a_quote_and_others_stay() {
        for (raw, out) in [
            ("=HYPERLINK(\"http://evil.example\",\"click\")", "'=HYPERLINK(\"http://evil.example\",\"click\")"),
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+966501234567", "'+966501234567"),
            ("-2+3", "'-2+3"),
            ("@SUM(1)", "'@SUM(1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
        ] {
            assert_eq!(neutralise_formula(raw), out, "{raw:?}");
        }
        for plain in ["", "شركة الرياض", "Acme = best", "'s Gravenhage", "'", "''", "0501234567", " =x", "\nx"]
        {
            assert_eq!(neutralise_formula(plain), plain, "{plain:?}");
            assert!(matches!(neutralise_formula(plain), std::borrow::Cow::Borrowed(_)));
        }
    }

    #[test]
    fn only_the_guard_quote_is_stripped() {
        assert_eq!(strip_formula_guard("'=cmd"), "=cmd");
        assert_eq!(strip_formula_guard("'+966501234567"), "+966501234567");
        assert_eq!(strip_formula_guard("'-1"), "-1");
        assert_eq!(strip_formula_guard("'@SUM(1)"), "@SUM(1)");
        assert_eq!(strip_formula_guard("'\tx"), "\tx");
        assert_eq!(strip_formula_guard("'\rx"), "\rx");
        assert_eq!(strip_formula_guard("''=x"), "'=x");
        for kept in ["'s Gravenhage", "'quoted'", "'", "''", "it's", "=x", " '=x"] {
            assert_eq!(strip_formula_guard(kept), kept, "{kept:?}");
        }
    }

    #[test]
    fn an_imported_row_loses_the_guard() {
        let fields = vec![Some(ImportField::CompanyName), Some(ImportField::Phone), Some(ImportField::City)];
        let (input, errors) = row_input(&fields, ["'=cmd|' /C calc'!A0", "'+966501234567", "'s Hertogenbosch"]);
        assert!(errors.is_empty());
        assert_eq!(input.company_name, "=cmd|' /C calc'!A0");
        assert_eq!(input.phone.as_deref(), Some("+966501234567"));
        assert_eq!(input.city.as_deref(), Some("'s Hertogenbosch"));
    }

    proptest! {
        #[test]
        fn strip_undoes_neutralise(s in "\\PC*|['=+@\t\r -]{0,6}\\PC{0,8}") {
            let exported = neutralise_formula(&s);
            prop_assert_eq!(strip_formula_guard(&exported), s.as_str());
        }

        #[test]
        fn a_neutralised_cell_never_starts_a_formula(s in "['=+@\t\r -]{0,4}\\PC{0,8}") {
            let out = neutralise_formula(&s);
            prop_assert!(!out.starts_with(FORMULA_TRIGGERS));
            // The guard is the one quote and nothing else.
            prop_assert!(out.len() == s.len() || out.len() == s.len() + 1);
        }

        #[test]
        fn row_input_reads_back_any_neutralised_name(s in "['=+@ -]{0,3}[A-Za-z0-9 \u{0621}-\u{064A}()|!'\"]{1,20}") {
            let fields = vec![Some(ImportField::CompanyName)];
            let cell = neutralise_formula(&s).into_owned();
            let (input, _) = row_input(&fields, [cell.as_str()]);
            prop_assert_eq!(input.company_name, s.trim());
        }
    }
}
