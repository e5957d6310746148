//! The file `ocop export-province` writes and `ocop import-province` reads.
//!
//! UTF-8 text, one item per line:
//!
//! 1. `OCOP-PROVINCE/1`, the format and its version;
//! 2. the manifest (JSON): the province, when and from where, and for each
//!    section its table, row count and SHA-256;
//! 3. one line per section, in the manifest's order: the table's rows as a JSON array;
//! 4. `END <sha256>`: the SHA-256 of every byte before this line.
//!
//! The last line makes any change or truncation anywhere detectable, the
//! per-section sums say which part is damaged. Reading checks everything
//! before returning anything, so a damaged file is refused before any write.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first line.
const MAGIC: &str = "OCOP-PROVINCE/1";

/// What the file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The exported deployment's province (2025 code).
    pub province_code: String,
    /// The exported deployment's token issuer, to tell deployments apart.
    pub source: String,
    /// When, RFC 3339.
    pub exported_at: String,
    /// The sections, in file order.
    pub sections: Vec<Section>,
}

/// One section: a table's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Section {
    /// `schema.table`.
    pub table: String,
    /// Rows in the section.
    pub rows: usize,
    /// SHA-256 of the section's line (without its newline), hex.
    pub sha256: String,
}

fn hex(digest: impl AsRef<[u8]>) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds a file from `sections` (table, rows as a JSON array, row count).
pub(crate) fn write(
    province_code: &str,
    source: &str,
    exported_at: &str,
    sections: &[(String, String, usize)],
) -> Vec<u8> {
    let manifest = Manifest {
        province_code: province_code.to_owned(),
        source: source.to_owned(),
        exported_at: exported_at.to_owned(),
        sections: sections
            .iter()
            .map(|(table, json, rows)| Section {
                table: table.clone(),
                rows: *rows,
                sha256: hex(Sha256::digest(json.as_bytes())),
            })
            .collect(),
    };
    let mut out = format!("{MAGIC}\n");
    out += &serde_json::to_string(&manifest).expect("a manifest serializes");
    out.push('\n');
    for (_, json, _) in sections {
        out += json;
        out.push('\n');
    }
    let total = hex(Sha256::digest(out.as_bytes()));
    out += &format!("END {total}\n");
    out.into_bytes()
}

/// A checked file: the manifest and each section's rows.
pub(crate) struct Checked {
    /// What the file says it holds.
    pub manifest: Manifest,
    /// The SHA-256 of the whole file: identifies an import.
    pub sha256: String,
    /// Each section's rows, in manifest order.
    pub sections: Vec<Vec<serde_json::Value>>,
}

/// Checks `bytes` entirely and returns its content, or says what is wrong.
pub(crate) fn read(bytes: &[u8]) -> Result<Checked, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text at byte {}", e.valid_up_to()))?;
    let body_end = text
        .trim_end_matches('\n')
        .rfind('\n')
        .map(|i| i + 1)
        .ok_or("too short: no END line (the file is truncated)")?;
    let (body, end) = text.split_at(body_end);
    let Some(expected) = end.trim_end().strip_prefix("END ") else {
        return Err("the last line is not `END <sha256>`: the file is truncated or not an export".into());
    };
    if hex(Sha256::digest(body.as_bytes())) != expected {
        return Err("the file's checksum does not match its content: it was changed or damaged after export".into());
    }
    let mut lines = body.lines();
    if lines.next() != Some(MAGIC) {
        return Err(format!("not a province export: the first line must be `{MAGIC}`"));
    }
    let manifest: Manifest = serde_json::from_str(lines.next().ok_or("no manifest line")?)
        .map_err(|e| format!("the manifest does not parse: {e}"))?;
    let mut sections = Vec::with_capacity(manifest.sections.len());
    for (i, section) in manifest.sections.iter().enumerate() {
        let line = lines
            .next()
            .ok_or_else(|| format!("section {} ({}) is missing", i + 1, section.table))?;
        if hex(Sha256::digest(line.as_bytes())) != section.sha256 {
            return Err(format!(
                "section {} ({}) does not match its checksum",
                i + 1,
                section.table
            ));
        }
        let rows: Vec<serde_json::Value> = serde_json::from_str(line)
            .map_err(|e| format!("section {} ({}) does not parse: {e}", i + 1, section.table))?;
        if rows.len() != section.rows {
            return Err(format!(
                "section {} ({}) has {} rows; the manifest says {}",
                i + 1,
                section.table,
                rows.len(),
                section.rows
            ));
        }
        sections.push(rows);
    }
    if lines.next().is_some() {
        return Err("more sections than the manifest lists".into());
    }
    Ok(Checked {
        manifest,
        sha256: expected.to_owned(),
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        write(
            "48",
            "ocop-quang-nam",
            "2026-11-23T00:00:00Z",
            &[
                ("registry.subjects".into(), r#"[{"id":"a"},{"id":"b"}]"#.into(), 2),
                ("registry.products".into(), "[]".into(), 0),
            ],
        )
    }

    #[test]
    fn a_file_reads_back() {
        let checked = read(&sample()).expect("valid");
        assert_eq!(checked.manifest.province_code, "48");
        assert_eq!(checked.sections[0].len(), 2);
        assert!(checked.sections[1].is_empty());
    }

    #[test]
    fn any_damage_or_truncation_is_refused() {
        let file = sample();
        for cut in [10, file.len() / 2, file.len() - 3] {
            let err = read(&file[..cut]).map(|_| ()).unwrap_err();
            assert!(
                err.contains("truncated") || err.contains("checksum"),
                "cut at {cut}: {err}"
            );
        }
        let mut flipped = file.clone();
        let at = String::from_utf8(file.clone()).unwrap().find(r#""b""#).unwrap() + 1;
        flipped[at] = b'c';
        let err = read(&flipped).map(|_| ()).unwrap_err();
        assert!(err.contains("changed or damaged"), "{err}");
        let err = read(b"hello\nEND 00\n").map(|_| ()).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
    }
}
