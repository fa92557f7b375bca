//! CSV files in and out of jobs: decoding an upload (UTF-8 or Windows-1256, `,` or `;`),
//! reading its header and rows, and writing an import's rejected rows as a CSV to download.

use crate::AppError;
use crate::imports::RowError;
use leadzone_domain::imports::neutralise_formula;

/// Decodes an upload: UTF-8 (BOM stripped) or, when that fails, Windows-1256 (Arabic Excel).
pub fn decode_csv(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1256.decode(bytes).0.into_owned(),
    }
}

/// `;` when the header line has more semicolons than commas (European and Arabic Excel).
pub fn detect_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    if first.matches(';').count() > first.matches(',').count() { b';' } else { b',' }
}

/// The header and the rows of a CSV text; a row keeps its fields in one buffer (a 1,000,000-row
/// file is 1,000,000 allocations to make and free, not one per field).
pub(crate) fn parse_csv(text: &str) -> Result<(Vec<String>, Vec<csv::StringRecord>), AppError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(text))
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::field("file", &format!("is not a readable CSV file: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        // A malformed line is kept as an empty row so that row numbers stay true.
        rows.push(record.unwrap_or_default());
    }
    Ok((headers, rows))
}

/// Rejected rows: the reason columns, then the row as it was.
pub(crate) fn errors_csv(headers: &[String], rows: &[csv::StringRecord], errors: &[RowError]) -> Vec<u8> {
    let mut by_row: std::collections::BTreeMap<usize, Vec<&RowError>> = std::collections::BTreeMap::new();
    for e in errors {
        by_row.entry(e.row).or_default().push(e);
    }
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header = vec!["row".to_owned(), "reason".to_owned()];
    header.extend(headers.iter().cloned());
    let _ = w.write_record(&header);
    for (row, errs) in by_row {
        let reason = errs
            .iter()
            .map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) })
            .collect::<Vec<_>>()
            .join("; ");
        let mut record = vec![row.to_string(), reason];
        // The uploaded cells as they were, but never as a formula Excel would run.
        record
            .extend(rows.get(row.saturating_sub(2)).into_iter().flatten().map(|c| neutralise_formula(c).into_owned()));
        let _ = w.write_record(&record);
    }
    w.into_inner().unwrap_or_default()
}
