//! Whole-file checks between a registry file and the stored households, in one place
//! for the server's command line, the device's import and the app's preview.
//!
//! Before anything is built: a file that reads no data row or rejects every row stops,
//! as does one where a column the office needs (NIK, sex, relation, birth date) is
//! missing while some column went unrecognised,
//! and so does a whole-registry file that lists fewer than half of the registry
//! households stored for the kelurahan (another kelurahan's file, a file grouped by
//! another key). After the import is built, inside its still uncommitted transaction:
//! marking more than 5 % of the stored households (or more than 20) missing needs that
//! exact number confirmed. A stop changes nothing: the caller rolls back.

use std::collections::HashSet;

use serde::Serialize;

use super::apply::{household_id, Counts};
use super::Parsed;
use crate::rules::PROPOSAL_ID_PREFIX;

/// Below this share of the stored registry households, a whole file is the wrong file.
pub const MIN_HELD_PERCENT: u32 = 50;
/// Marking missing up to this share of the stored households (and at most
/// [`MAX_MISSING_UNASKED`]) needs no confirmation.
pub const MAX_MISSING_PERCENT: u32 = 5;
pub const MAX_MISSING_UNASKED: u32 = 20;

/// How much of the stored registry a file holds, from household ids alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Coverage {
    /// Registry households stored for the kelurahan (households proposed in the field
    /// are not the registry's).
    pub stored: u32,
    /// Of those, how many the file lists (rejected rows' households included).
    pub held: u32,
}

impl Coverage {
    pub fn of(parsed: &Parsed, kelurahan: &str, existing: &HashSet<String>) -> Coverage {
        let Some(key_field) = parsed.key_field else {
            return Coverage {
                stored: registry_households(existing),
                held: 0,
            };
        };
        let listed: HashSet<String> = parsed
            .households
            .iter()
            .map(|h| h.id(kelurahan))
            .chain(
                parsed
                    .uncertain
                    .iter()
                    .map(|k| household_id(kelurahan, key_field, k)),
            )
            .collect();
        Coverage {
            stored: registry_households(existing),
            held: listed.iter().filter(|id| existing.contains(*id)).count() as u32,
        }
    }

    /// The share held, in whole percent (100 when nothing is stored yet).
    pub fn percent(&self) -> u32 {
        if self.stored == 0 {
            100
        } else {
            (u64::from(self.held) * 100 / u64::from(self.stored)) as u32
        }
    }

    /// `holds 298 of the 298 registry households stored (100 %)`, for summary lines.
    pub fn describe(&self) -> String {
        format!(
            "the file holds {} of the {} registry households stored ({} %)",
            self.held,
            self.stored,
            self.percent()
        )
    }
}

fn registry_households(existing: &HashSet<String>) -> u32 {
    existing
        .iter()
        .filter(|id| !id.starts_with(PROPOSAL_ID_PREFIX))
        .count() as u32
}

/// Why an import stopped with nothing changed. Each has its own exit code in the
/// command-line tools (`exit_code`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, ts_rs::TS)]
#[serde(tag = "stop", rename_all = "snake_case")]
#[ts(export)]
pub enum Stop {
    #[error("the file has no data rows under its header: nothing was changed")]
    NoRows,
    #[error("no column gives {}, and columns {} were not recognised: name them with --map 'HEADER=FIELD' (fields: {}) or in the app's preview; nothing was changed", field_list(.fields), .columns.join(", "), super::columns::Field::ALL.map(|f| f.code()).join(", "))]
    UnreadColumns {
        fields: Vec<super::columns::Field>,
        columns: Vec<String>,
    },
    #[error("all {rows} data rows of the file were rejected (see the rejected rows): nothing was changed")]
    AllRejected { rows: u32 },
    #[error("the file lists {held} of the {stored} registry households stored for this kelurahan, fewer than {MIN_HELD_PERCENT} %: it is another kelurahan's file or groups rows by another key; nothing was changed")]
    WrongFile { held: u32, stored: u32 },
    #[error("this import would mark {missing} of the {stored} stored households missing from the registry; if that is right, run it again with --confirm-missing {missing}: nothing was changed")]
    ConfirmMissing { missing: u32, stored: u32 },
    #[error("--confirm-missing {confirmed} was given, but this import would mark {missing} households missing: nothing was changed")]
    WrongConfirmation { confirmed: u32, missing: u32 },
}

fn field_list(fields: &[super::columns::Field]) -> String {
    fields
        .iter()
        .map(|f| f.code())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Stop {
    /// The message in Indonesian or English (`Display` is English), for the command
    /// lines (`JEMPUT_LANG`); the app draws its own from the same fields.
    pub fn text(&self, lang: crate::words::Lang) -> String {
        if lang == crate::words::Lang::En {
            return self.to_string();
        }
        match self {
            Stop::NoRows => "berkas tidak punya baris data di bawah judul kolomnya: tidak ada yang diubah".into(),
            Stop::UnreadColumns { fields, columns } => format!(
                "tidak ada kolom untuk {}, dan kolom {} tidak dikenali: beri nama dengan --map 'JUDUL=FIELD' (field: {}) atau di pratinjau aplikasi; tidak ada yang diubah",
                field_list(fields),
                columns.join(", "),
                super::columns::Field::ALL.map(|f| f.code()).join(", ")
            ),
            Stop::AllRejected { rows } => format!(
                "semua {rows} baris data berkas ditolak (lihat berkas baris ditolak): tidak ada yang diubah"
            ),
            Stop::WrongFile { held, stored } => format!(
                "berkas memuat {held} dari {stored} rumah tangga registri yang tersimpan untuk kelurahan ini, kurang dari {MIN_HELD_PERCENT} %: ini berkas kelurahan lain atau mengelompokkan baris dengan kunci lain; tidak ada yang diubah"
            ),
            Stop::ConfirmMissing { missing, stored } => format!(
                "impor ini akan menandai {missing} dari {stored} rumah tangga tersimpan tidak ada lagi di registri; jika benar, jalankan lagi dengan --confirm-missing {missing}: tidak ada yang diubah"
            ),
            Stop::WrongConfirmation { confirmed, missing } => format!(
                "--confirm-missing {confirmed} diberikan, tetapi impor ini akan menandai {missing} rumah tangga tidak ada lagi: tidak ada yang diubah"
            ),
        }
    }

    /// 3 when the import waits for the operator's confirmation, 2 when the file itself
    /// was refused.
    pub fn exit_code(&self) -> i32 {
        match self {
            Stop::ConfirmMissing { .. } | Stop::WrongConfirmation { .. } => 3,
            _ => 2,
        }
    }
}

/// The checks on the file before any household is built.
pub fn before_import(parsed: &Parsed, coverage: &Coverage, partial: bool) -> Result<(), Stop> {
    if !parsed.unread_needed.is_empty() {
        return Err(Stop::UnreadColumns {
            fields: parsed.unread_needed.clone(),
            columns: parsed.unrecognised.clone(),
        });
    }
    if parsed.rows == 0 {
        return Err(Stop::NoRows);
    }
    if parsed.households.is_empty() {
        return Err(Stop::AllRejected {
            rows: parsed.rows as u32,
        });
    }
    if !partial && coverage.stored > 0 && coverage.percent() < MIN_HELD_PERCENT {
        return Err(Stop::WrongFile {
            held: coverage.held,
            stored: coverage.stored,
        });
    }
    Ok(())
}

/// Whether marking `missing` of `stored` households needs the number confirmed.
pub fn needs_confirmation(missing: u32, stored: u32) -> bool {
    missing > MAX_MISSING_UNASKED
        || u64::from(missing) * 100 > u64::from(MAX_MISSING_PERCENT) * u64::from(stored)
}

/// The check on what the built import would do, before it is committed: `confirmed`
/// is the operator's `--confirm-missing N`, which must be exact when given.
pub fn before_commit(counts: &Counts, stored: u32, confirmed: Option<u32>) -> Result<(), Stop> {
    let missing = counts.missing;
    match confirmed {
        Some(n) if n != missing => Err(Stop::WrongConfirmation {
            confirmed: n,
            missing,
        }),
        None if needs_confirmation(missing, stored) => {
            Err(Stop::ConfirmMissing { missing, stored })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_above_five_percent_or_twenty() {
        assert!(!needs_confirmation(0, 0));
        assert!(!needs_confirmation(14, 298));
        assert!(needs_confirmation(15, 298));
        assert!(needs_confirmation(21, 10_000));
        assert!(!needs_confirmation(20, 10_000));
        assert!(needs_confirmation(1, 10));
    }

    #[test]
    fn an_exact_confirmation_only() {
        let c = Counts {
            missing: 30,
            ..Counts::default()
        };
        assert_eq!(
            before_commit(&c, 298, None),
            Err(Stop::ConfirmMissing {
                missing: 30,
                stored: 298
            })
        );
        assert_eq!(before_commit(&c, 298, Some(30)), Ok(()));
        assert!(matches!(
            before_commit(&c, 298, Some(29)),
            Err(Stop::WrongConfirmation { .. })
        ));
        assert_eq!(
            Stop::ConfirmMissing {
                missing: 1,
                stored: 1
            }
            .exit_code(),
            3
        );
        assert_eq!(Stop::NoRows.exit_code(), 2);
    }
}
