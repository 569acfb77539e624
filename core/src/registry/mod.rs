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
//! - [`reason`]: why a row was rejected, in Indonesian and English
//! - [`rejects`]: the rejected rows, written beside the input for the operator to fix
//! - [`export`]: one flat row per household, and the CSV/XLSX writers

pub mod apply;
pub mod columns;
pub mod export;
pub mod guard;
pub mod parse;
pub mod read;
pub mod reason;
pub mod rejects;

use std::path::Path;

pub use apply::{household_id, plan, run, Built, Counts, ImportContext, Work};
pub use columns::{Field, Mapping};
pub use guard::{Coverage, Stop};
pub use parse::{parse_sheets, ImportOptions, Parsed, RegistryHousehold, RejectedRow};
pub use reason::Reason;
pub use rejects::{write_rejected, RejectedFiles};

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

impl RegistryError {
    /// The message in Indonesian or English (`Display` is English), for the command
    /// lines (`JEMPUT_LANG`) and the device. Details from the file reader stay English.
    pub fn text(&self, lang: crate::words::Lang) -> String {
        if lang == crate::words::Lang::En {
            return self.to_string();
        }
        match self {
            RegistryError::Io(d) => format!("berkas tidak bisa dibaca: {d}"),
            RegistryError::Unreadable(d) => format!("berkas tidak terbaca: {d}"),
            RegistryError::NoHeader(sheets) => format!(
                "tidak ada baris judul kolom di 30 baris pertama (perlu setidaknya tiga kolom yang dikenal, mis. ID DTKS, NIK, Nama, RW; docs/registry.md memuat semua nama yang dibaca Jemput); lembar yang dibaca: {sheets}"
            ),
            RegistryError::MissingColumn { column, sheet } => format!(
                "tidak ada kolom {column} di lembar `{sheet}`: petakan salah satu kolomnya ke sana"
            ),
            RegistryError::Cancelled => "impor dibatalkan: tidak ada yang diubah".into(),
            RegistryError::Failed(d) => format!("impor gagal, tidak ada yang diubah: {d}"),
        }
    }
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
