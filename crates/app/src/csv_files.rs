//! CSV files in and out of jobs: decoding an upload (UTF-8 or Windows-1256, `,` or `;`),
//! reading its header and rows, and writing an import's rejected rows as a CSV to download.

use crate::AppError;
use crate::imports::RowError;
use futures::SinkExt;
use leadzone_domain::imports::neutralise_formula;
use leadzone_ports::RepoError;
use leadzone_ports::blobs::BlobStore;
use std::sync::Arc;

/// A header line in the encoding found for its whole file (`utf8`: the file is UTF-8; else
/// Windows-1256), BOM stripped.
pub fn decode_header(bytes: &[u8], utf8: bool) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if utf8 {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        encoding_rs::WINDOWS_1256.decode_without_bom_handling(bytes).0.into_owned()
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

/// Bytes read from the blob store per request while a stored file is parsed.
const WINDOW: usize = 1024 * 1024;
/// Rows per batch while the errors file is written.
const ERRORS_BATCH: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Windows1256,
}

/// A stored object as a `std::io::Read`, a window at a time, decoded to UTF-8 — for the csv
/// reader on a blocking thread. In `Utf8` mode it checks the bytes and fails with `InvalidData`
/// at the first sequence that is not UTF-8 (the caller then reads the file as Windows-1256).
struct BlobReader {
    blobs: Arc<dyn BlobStore>,
    key: String,
    handle: tokio::runtime::Handle,
    encoding: Encoding,
    offset: u64,
    /// Bytes of an incomplete UTF-8 sequence at the end of the last window.
    carry: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    /// The store's own error, kept for the caller (the csv error only says "I/O").
    failed: Option<RepoError>,
    not_utf8: bool,
}

impl BlobReader {
    fn new(blobs: Arc<dyn BlobStore>, key: &str, handle: tokio::runtime::Handle, encoding: Encoding) -> Self {
        Self {
            blobs,
            key: key.to_owned(),
            handle,
            encoding,
            offset: 0,
            carry: Vec::new(),
            out: Vec::new(),
            pos: 0,
            done: false,
            failed: None,
            not_utf8: false,
        }
    }

    /// Reads and decodes the next window into `out`.
    fn fill(&mut self) -> std::io::Result<()> {
        let raw = match self.handle.block_on(self.blobs.read_at(&self.key, self.offset, WINDOW)) {
            Ok(raw) => raw,
            Err(e) => {
                self.failed = Some(e);
                return Err(std::io::Error::other("the file could not be read"));
            }
        };
        let first = self.offset == 0;
        self.offset += raw.len() as u64;
        self.pos = 0;
        if raw.is_empty() {
            self.done = true;
            self.out.clear();
            if !self.carry.is_empty() {
                // The file ends inside a UTF-8 sequence.
                self.not_utf8 = true;
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"));
            }
            return Ok(());
        }
        let raw = if first { raw.strip_prefix(b"\xEF\xBB\xBF").map(<[u8]>::to_vec).unwrap_or(raw) } else { raw };
        match self.encoding {
            Encoding::Windows1256 => {
                // A single-byte encoding: every window decodes on its own.
                self.out = encoding_rs::WINDOWS_1256.decode_without_bom_handling(&raw).0.into_owned().into_bytes();
            }
            Encoding::Utf8 => {
                let mut bytes = std::mem::take(&mut self.carry);
                bytes.extend_from_slice(&raw);
                match std::str::from_utf8(&bytes) {
                    Ok(_) => self.out = bytes,
                    Err(e) if e.error_len().is_none() => {
                        // An incomplete sequence at the end: kept for the next window.
                        self.carry = bytes.split_off(e.valid_up_to());
                        self.out = bytes;
                    }
                    Err(_) => {
                        self.not_utf8 = true;
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"));
                    }
                }
            }
        }
        Ok(())
    }
}

impl std::io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let mut rest = self.out.get(self.pos..).unwrap_or_default();
        let n = std::io::Read::read(&mut rest, buf)?;
        self.pos += n;
        Ok(n)
    }
}

/// Why a stored CSV cannot be read.
#[derive(Debug)]
pub(crate) enum StoredCsvError {
    /// The blob store failed (or the file is gone).
    Store(RepoError),
    /// The file itself: no readable header.
    File(AppError),
}

/// A CSV file in the blob store, read back as a stream of row batches and never whole: the store
/// is read a window at a time on a blocking thread, decoded and parsed. Opening reads it once
/// (its encoding, header and number of rows); each `batches` call reads it again.
pub(crate) struct StoredCsv {
    blobs: Arc<dyn BlobStore>,
    key: String,
    encoding: Encoding,
    delimiter: u8,
    pub headers: Vec<String>,
    /// Data rows (a malformed line counts: it is kept as an empty row so row numbers stay true).
    pub rows: usize,
}

/// Data rows `start..start + rows.len()` of a stored CSV (0-based, after the header).
pub(crate) type RowBatch = (usize, Vec<csv::StringRecord>);

impl StoredCsv {
    /// Reads the file once to learn its encoding (UTF-8, else Windows-1256), delimiter, header
    /// and number of rows.
    pub async fn open(blobs: Arc<dyn BlobStore>, key: &str) -> Result<Self, StoredCsvError> {
        let head = blobs.read_at(key, 0, 64 * 1024).await.map_err(StoredCsvError::Store)?;
        // `,` and `;` are the same bytes in both encodings.
        let delimiter = detect_delimiter(&String::from_utf8_lossy(&head));
        let handle = tokio::runtime::Handle::current();
        let (store, name) = (blobs.clone(), key.to_owned());
        let counted = tokio::task::spawn_blocking(move || {
            let utf8 = count_rows(BlobReader::new(store.clone(), &name, handle.clone(), Encoding::Utf8), delimiter);
            match utf8 {
                Err(CountError::NotUtf8) => {
                    count_rows(BlobReader::new(store, &name, handle, Encoding::Windows1256), delimiter)
                        .map(|(headers, rows)| (Encoding::Windows1256, headers, rows))
                }
                other => other.map(|(headers, rows)| (Encoding::Utf8, headers, rows)),
            }
        })
        .await
        .map_err(|e| StoredCsvError::Store(RepoError::Other(e.to_string())))?;
        match counted {
            Ok((encoding, headers, rows)) => {
                Ok(Self { blobs, key: key.to_owned(), encoding, delimiter, headers, rows })
            }
            Err(CountError::Store(e)) => Err(StoredCsvError::Store(e)),
            Err(CountError::NotUtf8) => Err(StoredCsvError::Store(RepoError::Other("undecodable file".into()))),
            Err(CountError::Header(message)) => {
                Err(StoredCsvError::File(AppError::field("file", &format!("is not a readable CSV file: {message}"))))
            }
        }
    }

    /// The data rows from the first, `size` at a time, as a blocking thread parses them; at most
    /// two batches wait. Dropping the receiver stops the reading.
    pub fn batches(&self, size: usize) -> tokio::sync::mpsc::Receiver<Result<RowBatch, RepoError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let reader = BlobReader::new(self.blobs.clone(), &self.key, tokio::runtime::Handle::current(), self.encoding);
        let delimiter = self.delimiter;
        tokio::task::spawn_blocking(move || {
            let mut csv =
                csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(true).from_reader(reader);
            let _ = csv.headers();
            let (mut start, mut batch) = (0usize, Vec::with_capacity(size));
            loop {
                let mut record = csv::StringRecord::new();
                match csv.read_record(&mut record) {
                    Ok(true) => batch.push(record),
                    Ok(false) => break,
                    Err(_) => {
                        if let Some(e) = csv.get_ref().failed.clone() {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                        // A malformed line is kept as an empty row so that row numbers stay true.
                        batch.push(csv::StringRecord::new());
                    }
                }
                if batch.len() == size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                    if tx.blocking_send(Ok((start, full))).is_err() {
                        return;
                    }
                    start += size;
                }
            }
            if let Some(e) = csv.get_ref().failed.clone() {
                let _ = tx.blocking_send(Err(e));
            } else if !batch.is_empty() {
                let _ = tx.blocking_send(Ok((start, batch)));
            }
        });
        rx
    }
}

enum CountError {
    Store(RepoError),
    NotUtf8,
    Header(String),
}

/// The header and the number of data rows, reading through `reader`.
fn count_rows(reader: BlobReader, delimiter: u8) -> Result<(Vec<String>, usize), CountError> {
    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(true).from_reader(reader);
    let check = |csv: &csv::Reader<BlobReader>| {
        let r = csv.get_ref();
        if let Some(e) = &r.failed {
            return Err(CountError::Store(e.clone()));
        }
        if r.not_utf8 {
            return Err(CountError::NotUtf8);
        }
        Ok(())
    };
    let headers = match csv.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => {
            check(&csv)?;
            return Err(CountError::Header(e.to_string()));
        }
    };
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => rows += 1,
            Ok(false) => break,
            Err(_) => {
                check(&csv)?;
                rows += 1;
            }
        }
    }
    check(&csv)?;
    Ok((headers, rows))
}

/// Writes the rejected rows' CSV (see `errors_csv`) to `key`, reading the stored file again for
/// the rows' cells: only the errors are held in memory.
pub(crate) async fn store_errors_csv(
    blobs: &Arc<dyn BlobStore>,
    file: &StoredCsv,
    key: &str,
    errors: &[RowError],
) -> Result<(), RepoError> {
    let mut by_row: std::collections::BTreeMap<usize, Vec<&RowError>> = std::collections::BTreeMap::new();
    for e in errors {
        by_row.entry(e.row).or_default().push(e);
    }
    let (sink, body) = futures::channel::mpsc::channel::<Result<Vec<u8>, RepoError>>(2);
    let produce = async move {
        let mut sink = sink;
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let mut header = vec!["row".to_owned(), "reason".to_owned()];
        header.extend(file.headers.iter().cloned());
        let _ = w.write_record(&header);
        if sink.send(Ok(w.into_inner().unwrap_or_default())).await.is_err() {
            return;
        }
        if by_row.is_empty() {
            return;
        }
        let mut batches = file.batches(ERRORS_BATCH);
        while let Some(batch) = batches.recv().await {
            let (start, rows) = match batch {
                Ok(b) => b,
                Err(e) => {
                    let _ = sink.send(Err(e)).await;
                    return;
                }
            };
            let mut w = csv::Writer::from_writer(Vec::new());
            for (i, row) in rows.iter().enumerate() {
                // Line numbers are 1-based and count the header.
                if let Some(errs) = by_row.get(&(start + i + 2)) {
                    let _ = w.write_record(error_record(start + i + 2, errs, Some(row)));
                }
            }
            let piece = w.into_inner().unwrap_or_default();
            if !piece.is_empty() && sink.send(Ok(piece)).await.is_err() {
                return;
            }
        }
    };
    let ((), stored) = futures::join!(produce, blobs.put_stream(key, Box::pin(body)));
    stored.map(|_| ())
}

/// One line of the errors CSV: the row number, the reasons, then the cells as uploaded — never as
/// a formula Excel would run.
fn error_record(row: usize, errs: &[&RowError], cells: Option<&csv::StringRecord>) -> Vec<String> {
    let reason = errs
        .iter()
        .map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) })
        .collect::<Vec<_>>()
        .join("; ");
    let mut record = vec![row.to_string(), reason];
    record.extend(cells.into_iter().flatten().map(|c| neutralise_formula(c).into_owned()));
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::MemBlobs;

    async fn all_rows(file: &StoredCsv, size: usize) -> Vec<Vec<String>> {
        let mut rx = file.batches(size);
        let mut rows = Vec::new();
        let mut expected_start = 0;
        while let Some(batch) = rx.recv().await {
            let (start, batch) = batch.unwrap();
            assert_eq!(start, expected_start, "batches follow each other");
            expected_start += batch.len();
            rows.extend(batch.iter().map(|r| r.iter().map(str::to_owned).collect::<Vec<_>>()));
        }
        rows
    }

    /// An Arabic UTF-8 file (with BOM) of more than two read windows, whose two-byte letters fall
    /// across the windows' edges, reads back row for row.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn utf8_across_window_edges_reads_back_exactly() {
        let mut text = String::from("\u{feff}اسم الشركة,المدينة\n");
        let mut expected = Vec::new();
        let mut i = 0;
        while text.len() < 2 * WINDOW + 5000 {
            let (name, city) = (format!("شركة رقم {i}"), "الرياض, \"حي\"".to_owned());
            text.push_str(&format!("{name},\"{}\"\n", city.replace('"', "\"\"")));
            expected.push(vec![name, city]);
            i += 1;
        }
        let blobs: Arc<dyn BlobStore> = Arc::new(MemBlobs::default());
        blobs.put("f.csv", text.as_bytes()).await.unwrap();
        let file = StoredCsv::open(blobs.clone(), "f.csv").await.unwrap_or_else(|_| panic!("opens"));
        assert_eq!(file.encoding, Encoding::Utf8);
        assert_eq!(file.headers, vec!["اسم الشركة", "المدينة"]);
        assert_eq!(file.rows, expected.len());
        assert_eq!(all_rows(&file, 777).await, expected);
    }

    /// A Windows-1256 file whose first byte that is not UTF-8 comes after the first window, with
    /// `;` between fields.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn windows_1256_is_found_late_in_the_file() {
        let mut text = String::from("Company;City\n");
        let mut rows = 0;
        while text.len() < WINDOW + 100 {
            text.push_str(&format!("Company {rows};Riyadh\n"));
            rows += 1;
        }
        text.push_str("مؤسسة النخيل;جدة\n");
        let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(&text);
        let blobs: Arc<dyn BlobStore> = Arc::new(MemBlobs::default());
        blobs.put("f.csv", &bytes).await.unwrap();
        let file = StoredCsv::open(blobs.clone(), "f.csv").await.unwrap_or_else(|_| panic!("opens"));
        assert_eq!(file.encoding, Encoding::Windows1256);
        assert_eq!(file.rows, rows + 1);
        let read = all_rows(&file, 2000).await;
        assert_eq!(read.len(), rows + 1);
        assert_eq!(read.last().unwrap(), &vec!["مؤسسة النخيل".to_owned(), "جدة".to_owned()]);
        assert_eq!(read[0], vec!["Company 0".to_owned(), "Riyadh".to_owned()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_errors_file_holds_only_the_rejected_rows_as_uploaded() {
        let blobs: Arc<dyn BlobStore> = Arc::new(MemBlobs::default());
        blobs.put("f.csv", "Company,Phone\nA,0501234567\n=HYPERLINK(1),12\nC,05\n".as_bytes()).await.unwrap();
        let file = StoredCsv::open(blobs.clone(), "f.csv").await.unwrap_or_else(|_| panic!("opens"));
        let err = |row, field: &str| RowError { row, field: field.into(), message: "is invalid".into(), code: None };
        store_errors_csv(&blobs, &file, "e.csv", &[err(3, "phone"), err(4, "phone"), err(3, "companyName")])
            .await
            .unwrap();
        let text = String::from_utf8(blobs.get("e.csv").await.unwrap()).unwrap();
        assert_eq!(
            text,
            "\u{feff}row,reason,Company,Phone\n\
             3,phone: is invalid; companyName: is invalid,'=HYPERLINK(1),12\n\
             4,phone: is invalid,C,05\n"
        );
        // No errors: the header alone, without reading the file again.
        store_errors_csv(&blobs, &file, "none.csv", &[]).await.unwrap();
        assert_eq!(
            String::from_utf8(blobs.get("none.csv").await.unwrap()).unwrap(),
            "\u{feff}row,reason,Company,Phone\n"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_file_is_the_stores_not_found() {
        let blobs: Arc<dyn BlobStore> = Arc::new(MemBlobs::default());
        assert!(matches!(StoredCsv::open(blobs, "none.csv").await, Err(StoredCsvError::Store(RepoError::NotFound))));
    }
}
