//! The registry on the server: importing a Dinas Sosial file into the households and
//! change log, and the periodic export at a cut-off of *arrival* time.
//!
//! Every time a household's document changes on the server (a sync, a bundle, a
//! move, an import) its export row is projected and stored with the time it arrived.
//! An export at a cut-off reads, per household, the last row that arrived by then: a
//! change arriving later never alters a re-export of the same cut-off, and no
//! document is loaded.

use automerge::ActorId;
use jemput_core::household::{Author, Household};
use jemput_core::registry::export::ExportRow;
use jemput_core::registry::{
    self, apply::Outcome, guard, Counts, Coverage, ImportContext, Parsed, RegistryError,
};
use jemput_core::store::encode_heads;
use rusqlite::{params, Transaction};

use crate::storage::{SqliteStorage, StorageError};

pub use crate::service::now_ms;

/// A document built by an import worker, ready to write.
struct Prepared {
    id: String,
    outcome: Outcome,
    kelurahan: String,
    rw: u16,
    rt: u16,
    doc: Vec<u8>,
    heads: Vec<u8>,
    changes: Vec<(Vec<u8>, Vec<u8>)>,
    row: ExportRow,
}

/// How an import runs: `confirm_missing` is the operator's `--confirm-missing N`;
/// `dry_run` builds everything and commits nothing (the counts of what it would do).
pub struct ImportRun<'a> {
    pub partial: bool,
    pub user: &'a str,
    pub confirm_missing: Option<u32>,
    pub dry_run: bool,
}

impl SqliteStorage {
    /// Imports a checked registry file into `kelurahan` in one transaction: all or
    /// nothing, also when `progress` cancels or a whole-file check
    /// ([`jemput_core::registry::guard`]) stops it. Households of the kelurahan that a
    /// whole-registry file no longer lists are marked missing, never deleted.
    pub fn import_registry(
        &self,
        mut parsed: Parsed,
        kelurahan: &str,
        how: &ImportRun<'_>,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<(Counts, Coverage), StorageError> {
        let (partial, user) = (how.partial, how.user);
        let author = Author {
            actor: ActorId::random(),
            user: user.to_string(),
        };
        let now = now_ms();
        let ctx = ImportContext {
            kelurahan,
            author: &author,
            now_ms: now,
        };
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing = registry::stored_ids(&tx, kelurahan)?;
        registry::match_stored(&tx, &mut parsed, kelurahan, &existing)?;
        let coverage = Coverage::of(&parsed, kelurahan, &existing);
        guard::before_import(&parsed, &coverage, partial)?;
        let work = registry::plan(parsed, kelurahan, &existing, partial);
        let set = crate::service::indicator_set();
        let finish = |b: registry::Built| -> Result<Prepared, String> {
            let row = b.export_row(set);
            let mut hh = b.household;
            let (kelurahan, rw, rt) = hh.area();
            let heads = encode_heads(&hh.heads());
            let changes = if b.before.is_empty() {
                Vec::new()
            } else {
                hh.doc_mut()
                    .get_changes(&b.before)
                    .iter()
                    .map(|c| (c.hash().0.to_vec(), c.raw_bytes().to_vec()))
                    .collect()
            };
            Ok(Prepared {
                id: b.id,
                outcome: b.outcome,
                row,
                doc: hh.save_nocompress(),
                kelurahan,
                rw,
                rt,
                heads,
                changes,
            })
        };
        let mut load = registry::load_stored(&tx, &existing);
        crate::storage::name_author(&tx, &author.actor, &author.user)?;
        let mut sink = |p: Prepared| -> Result<(), String> {
            write_prepared(&tx, p, now, &author.actor).map_err(|e| e.to_string())
        };
        let counts = registry::run(work, &ctx, &mut load, &finish, &mut sink, progress).map_err(
            |e| match e {
                RegistryError::Cancelled => StorageError::Invalid(e.to_string()),
                other => StorageError::Internal(other.to_string()),
            },
        )?;
        drop(load);
        guard::before_commit(&counts, coverage.stored, how.confirm_missing)?;
        if !how.dry_run {
            tx.commit()?;
        }
        Ok((counts, coverage))
    }

    /// The kelurahan's BPS code as an earlier import recorded it on its households (a
    /// file may carry either code in its region column), if any holds one.
    pub fn kelurahan_bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError> {
        if let Some(bps) = crate::storage::Storage::bps(self, kelurahan)? {
            return Ok(Some(bps));
        }
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT doc FROM households WHERE kelurahan = ?1 ORDER BY id LIMIT 20")?;
        let docs = stmt.query_map([kelurahan], |r| r.get::<_, Vec<u8>>(0))?;
        for doc in docs {
            if let Some(bps) = Household::load(&doc?).ok().and_then(|h| h.kelurahan_bps()) {
                return Ok(Some(bps));
            }
        }
        Ok(None)
    }
}

fn write_prepared(
    tx: &Transaction<'_>,
    p: Prepared,
    now: i64,
    actor: &ActorId,
) -> Result<(), StorageError> {
    if p.outcome != Outcome::Unchanged {
        crate::storage::note_actors(tx, &p.id, [actor])?;
    }
    if p.outcome == Outcome::Created {
        tx.execute("INSERT INTO log (household, kind) VALUES (?1, 1)", [&p.id])?;
        let seq = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO households (id, kelurahan, rw, rt, doc, heads, placed_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![p.id, p.kelurahan, p.rw, p.rt, p.doc, p.heads, seq],
        )?;
    } else {
        for (hash, bytes) in &p.changes {
            tx.execute(
                "INSERT INTO log (household, kind, hash, bytes) VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT (hash) DO NOTHING",
                params![p.id, hash, bytes],
            )?;
        }
        let old_rw: u16 =
            tx.query_row("SELECT rw FROM households WHERE id = ?1", [&p.id], |r| {
                r.get(0)
            })?;
        tx.execute(
            "UPDATE households SET doc = ?2, heads = ?3, rt = ?4 WHERE id = ?1",
            params![p.id, p.doc, p.heads, p.rt],
        )?;
        if old_rw != p.rw {
            // The registry moved it to another RW: a placement, as `move` makes, so
            // devices of the new RW get it whole and those of the old one drop it.
            tx.execute(
                "INSERT INTO log (household, kind, from_kelurahan, from_rw) VALUES (?1, 1, ?2, ?3)",
                params![p.id, p.kelurahan, old_rw],
            )?;
            let seq = tx.last_insert_rowid();
            tx.execute(
                "UPDATE households SET rw = ?2, placed_seq = ?3 WHERE id = ?1",
                params![p.id, p.rw, seq],
            )?;
        }
    }
    crate::storage::insert_row(tx, &p.row, &p.kelurahan, now)
}
