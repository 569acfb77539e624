//! The office's two ends of the registry: importing the file Dinas Sosial hands over
//! (CSV or workbook, messy as such files are) into household documents, and exporting
//! the periodic update as it stood at a cut-off.
//!
//! - [`read`]: files → sheets of typed cells
//! - [`columns`]: which column is which (known names plus the operator's mapping)
//! - [`parse`]: row-by-row validation and grouping into households
//! - [`apply`]: households → new documents, or changes merged on top of the previous
//!   import, built on every core
//! - [`guard`]: whole-file checks (no rows, wrong file, how many marked missing)
//! - [`export`]: one flat row per household, and the CSV/XLSX writers

pub mod apply;
pub mod columns;
pub mod export;
pub mod guard;
pub mod parse;
pub mod read;

use std::path::{Path, PathBuf};

pub use apply::{household_id, plan, run, Built, Counts, ImportContext, Work};
pub use columns::{Field, Mapping};
pub use guard::{Coverage, Stop};
pub use parse::{parse_sheets, ImportOptions, Parsed, RegistryHousehold, RejectedRow};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("{0}")]
    Unreadable(String),
    #[error("no header row found in the first 30 rows (need at least three known columns, e.g. ID DTKS, NIK, Nama, RW; docs/registry.md lists every name Jemput reads); sheets read: {0}")]
    NoHeader(String),
    #[error("no {column} column in sheet `{sheet}`: map one of its columns to it")]
    MissingColumn { column: String, sheet: String },
    #[error("import cancelled: nothing was changed")]
    Cancelled,
    #[error("import failed, nothing was changed: {0}")]
    Failed(String),
}

/// Ids of the households a store (device or server: both name the table
/// `households`) holds in a kelurahan.
pub fn stored_ids(
    conn: &rusqlite::Connection,
    kelurahan: &str,
) -> Result<std::collections::HashSet<String>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT id FROM households WHERE kelurahan = ?1")?;
    let ids = stmt.query_map([kelurahan], |r| r.get(0))?;
    ids.collect()
}

/// Matches the file's households that no stored id names to stored households by their
/// people ([`apply::match_by_people`]), reading the kelurahan's documents only when some
/// household of the file is not stored. Returns how many were matched.
pub fn match_stored(
    conn: &rusqlite::Connection,
    parsed: &mut Parsed,
    kelurahan: &str,
    existing: &std::collections::HashSet<String>,
) -> Result<usize, rusqlite::Error> {
    if existing.is_empty()
        || parsed
            .households
            .iter()
            .all(|h| existing.contains(&h.id(kelurahan)))
    {
        return Ok(0);
    }
    let mut stmt = conn.prepare("SELECT id, doc FROM households WHERE kelurahan = ?1")?;
    let docs = stmt
        .query_map([kelurahan], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(String, Vec<u8>)>, _>>()?;
    let people = apply::people_index(docs);
    Ok(apply::match_by_people(parsed, kelurahan, existing, &people))
}

/// Reads a stored household document for [`run`], if `existing` lists it.
pub fn load_stored<'a>(
    conn: &'a rusqlite::Connection,
    existing: &'a std::collections::HashSet<String>,
) -> impl FnMut(&str) -> Result<Option<Vec<u8>>, String> + 'a {
    move |id| {
        if !existing.contains(id) {
            return Ok(None);
        }
        conn.query_row("SELECT doc FROM households WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other.to_string()),
        })
    }
}

/// Reads and checks a registry file.
pub fn parse_file(path: &Path, opts: &ImportOptions) -> Result<Parsed, RegistryError> {
    let sheets = read::read_file(path)?;
    parse_sheets(&sheets, opts)
}

/// `data.xlsx` → `data.xlsx.rejected.csv`, beside the input.
pub fn rejected_path(input: &Path) -> PathBuf {
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(".rejected.csv");
    input.with_file_name(name)
}

/// Writes the rejected rows beside the input: UTF-8 with BOM (so spreadsheet programs
/// read it as UTF-8), the original cells as text and a `reason` column. One block per
/// sheet, each under its own header. Returns `None` when no row was rejected (and
/// removes a stale file from an earlier import).
pub fn write_rejected(input: &Path, parsed: &Parsed) -> Result<Option<PathBuf>, RegistryError> {
    let path = rejected_path(input);
    if parsed.rejected.is_empty() {
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| RegistryError::Io(e.to_string()))?;
        }
        return Ok(None);
    }
    let io = |e: std::io::Error| RegistryError::Io(format!("{}: {e}", path.display()));
    let mut out = Vec::from(&b"\xEF\xBB\xBF"[..]);
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        let two_sheets = parsed.headers.len() > 1;
        for (sheet, header) in &parsed.headers {
            let mut head: Vec<String> = Vec::new();
            if two_sheets {
                head.push("sheet".into());
            }
            head.push("row".into());
            head.extend(header.iter().cloned());
            head.push("reason".into());
            w.write_record(&head)
                .map_err(|e| RegistryError::Io(e.to_string()))?;
            for r in parsed.rejected.iter().filter(|r| &r.sheet == sheet) {
                let mut rec: Vec<String> = Vec::new();
                if two_sheets {
                    rec.push(r.sheet.clone());
                }
                rec.push(r.row.to_string());
                let mut cells = r.cells.clone();
                cells.resize(header.len().max(cells.len()), String::new());
                rec.extend(cells);
                rec.push(r.reason.clone());
                w.write_record(&rec)
                    .map_err(|e| RegistryError::Io(e.to_string()))?;
            }
        }
        w.flush().map_err(io)?;
    }
    // Written whole, then renamed: a crash never leaves half a file.
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, &out).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(Some(path))
}
