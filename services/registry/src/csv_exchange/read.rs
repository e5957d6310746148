//! Reading a file: its header, which must name exactly the columns, and its rows.

use std::collections::HashMap;

use ocop_kit::{Error, Result};

use super::COLUMNS;

/// A file's rows and where each column is in them.
pub(super) struct File {
    index: HashMap<&'static str, usize>,
    /// The rows after the header.
    pub records: Vec<csv::StringRecord>,
}

impl File {
    /// The trimmed cell of `column` in `record`.
    pub(super) fn cell<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        record.get(self.index[column]).unwrap_or("").trim()
    }
}

/// Reads the header and the rows of `csv`; INVALID_ARGUMENT when the header
/// is not the format's, a row is not CSV or there is none.
pub(super) fn read(csv: &[u8]) -> Result<File> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(csv);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("csv", format!("cannot read the header line: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == c))
        .collect();
    let unknown: Vec<&String> = headers.iter().filter(|h| !COLUMNS.contains(&h.as_str())).collect();
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(Error::invalid(
            "csv",
            format!(
                "the header must name exactly these columns: {}; missing: {missing:?}; unknown: {unknown:?}",
                COLUMNS.join(",")
            ),
        ));
    }
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap_or_default();
    let index: HashMap<&'static str, usize> = COLUMNS.iter().map(|c| (*c, at(c))).collect();
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| Error::invalid(format!("rows[{}]", i + 2), format!("not readable CSV: {e}")))?;
        records.push(record);
    }
    if records.is_empty() {
        return Err(Error::invalid("csv", "the file has a header but no rows"));
    }
    Ok(File { index, records })
}
