//! The registry on the server: importing a Dinas Sosial file into the households and
//! change log, and the periodic export at a cut-off of *arrival* time.
//!
//! Every time a household's document changes on the server (a sync, a bundle, a
//! move, an import) its export row is projected and stored with the time it arrived.
//! An export at a cut-off reads, per household, the last row that arrived by then: a
//! change arriving later never alters a re-export of the same cut-off, and no
//! document is loaded.

use std::collections::{BTreeSet, HashSet};

use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use jemput_core::household::{Author, Household};
use jemput_core::registry::export::ExportRow;
use jemput_core::registry::{
    self, apply, apply::Outcome, guard, Counts, Coverage, ImportContext, Parsed, RegistryError,
};

use super::api::NewHousehold;
use super::store::Tx;
use crate::error::StorageError;

/// A document built by an import worker, ready to write.
struct Prepared {
    id: String,
    outcome: Outcome,
    kelurahan: String,
    rw: u16,
    rt: u16,
    doc: Vec<u8>,
    heads: Vec<ChangeHash>,
    changes: Vec<Change>,
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

/// Imports a checked registry file into `kelurahan` inside the caller's transaction:
/// all or nothing, also when `progress` cancels or a whole-file check
/// ([`jemput_core::registry::guard`]) stops it. Households of the kelurahan that a
/// whole-registry file no longer lists are marked missing, never deleted.
pub fn import(
    tx: &dyn Tx,
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
    let now = super::now_ms();
    let ctx = ImportContext {
        kelurahan,
        author: &author,
        now_ms: now,
    };
    let existing: HashSet<String> = tx.kelurahan_ids(kelurahan)?.into_iter().collect();
    // Households of the file no stored id names may be stored ones under another key:
    // matched by their people, reading the kelurahan's documents only then.
    if !existing.is_empty()
        && parsed
            .households
            .iter()
            .any(|h| !existing.contains(&h.id(kelurahan)))
    {
        let people = apply::people_index(tx.kelurahan_docs(Some(kelurahan), None)?);
        apply::match_by_people(&mut parsed, kelurahan, &existing, &people);
    }
    let coverage = Coverage::of(&parsed, kelurahan, &existing);
    guard::before_import(&parsed, &coverage, partial)?;
    let work = registry::plan(parsed, kelurahan, &existing, partial);
    let set = super::indicator_set();
    let finish = |b: registry::Built| -> Result<Prepared, String> {
        let row = b.export_row(set);
        let mut hh = b.household;
        let (kelurahan, rw, rt) = hh.area();
        let heads = hh.heads();
        let changes = if b.before.is_empty() {
            Vec::new()
        } else {
            hh.doc_mut().get_changes(&b.before)
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
    let mut load = |id: &str| -> Result<Option<Vec<u8>>, String> {
        if !existing.contains(id) {
            return Ok(None);
        }
        tx.household(id)
            .map(|s| s.map(|s| s.doc))
            .map_err(|e| e.to_string())
    };
    tx.name_author(&author.actor, &author.user)?;
    let mut sink = |p: Prepared| -> Result<(), String> {
        write_prepared(tx, p, now, &author.actor).map_err(|e| e.to_string())
    };
    let counts = registry::run(work, &ctx, &mut load, &finish, &mut sink, progress).map_err(
        |e| match e {
            RegistryError::Cancelled => StorageError::Invalid(e.to_string()),
            other => StorageError::Internal(other.to_string()),
        },
    )?;
    guard::before_commit(&counts, coverage.stored, how.confirm_missing)?;
    Ok((counts, coverage))
}

/// The kelurahan's BPS code: its settings', else as an earlier import recorded it on
/// its households (a file may carry either code in its region column).
pub fn kelurahan_bps(tx: &dyn Tx, kelurahan: &str) -> Result<Option<String>, StorageError> {
    if let Some(bps) = tx.settings(kelurahan)?.and_then(|s| s.bps) {
        return Ok(Some(bps));
    }
    Ok(tx
        .kelurahan_docs(Some(kelurahan), Some(20))?
        .iter()
        .find_map(|(_, doc)| Household::load(doc).ok().and_then(|h| h.kelurahan_bps())))
}

/// Stores households the demo or a test made whole, each placed in its area; ids
/// already stored are skipped. Returns how many were stored.
pub fn insert_households(tx: &dyn Tx, households: &[NewHousehold]) -> Result<usize, StorageError> {
    let mut n = 0;
    for h in households {
        if tx.area_of(&h.id)?.is_some() {
            continue;
        }
        let invalid = |e: String| StorageError::Invalid(format!("household {}: {e}", h.id));
        let mut doc = AutoCommit::load(&h.doc).map_err(|e| invalid(e.to_string()))?;
        let actors: BTreeSet<ActorId> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.actor_id().clone())
            .collect();
        for actor in &actors {
            tx.name_author(actor, &h.by)?;
        }
        tx.note_actors((&h.id, &h.kelurahan), &actors.iter().collect::<Vec<_>>())?;
        let heads = doc.get_heads();
        let bytes = doc.save_nocompress();
        tx.place_new(&h.id, (&h.kelurahan, h.rw, h.rt), &bytes, &heads, None)?;
        let hh = Household::from_doc(doc).map_err(|e| invalid(e.to_string()))?;
        let (kelurahan, _, _) = hh.area();
        tx.export_row(
            &ExportRow::of(&hh, super::indicator_set()),
            &kelurahan,
            super::now_ms(),
        )?;
        n += 1;
    }
    Ok(n)
}

/// Households stored before export rows existed get one, as arrived at time 0. Once
/// any row exists every household has one (each write projects), so opening a current
/// store costs one lookup.
pub fn backfill_export_rows(tx: &dyn Tx) -> Result<(), StorageError> {
    if tx.has_export_rows()? {
        return Ok(());
    }
    for (_, bytes) in tx.kelurahan_docs(None, None)? {
        let hh = Household::load(&bytes).map_err(|e| StorageError::Internal(e.to_string()))?;
        let (kelurahan, _, _) = hh.area();
        tx.export_row(&ExportRow::of(&hh, super::indicator_set()), &kelurahan, 0)?;
    }
    Ok(())
}

fn write_prepared(tx: &dyn Tx, p: Prepared, now: i64, actor: &ActorId) -> Result<(), StorageError> {
    if p.outcome != Outcome::Unchanged {
        tx.note_actors((&p.id, &p.kelurahan), &[actor])?;
    }
    if p.outcome == Outcome::Created {
        tx.place_new(&p.id, (&p.kelurahan, p.rw, p.rt), &p.doc, &p.heads, None)?;
    } else {
        tx.append_changes((&p.id, &p.kelurahan), &p.changes, None)?;
        let (kelurahan, old_rw) = tx
            .area_of(&p.id)?
            .ok_or_else(|| StorageError::Internal("an imported household vanished".into()))?;
        if old_rw != p.rw {
            // The registry moved it to another RW: a placement, as `move` makes, so
            // devices of the new RW get it whole and those of the old one drop it.
            tx.place_moved(&p.id, (&kelurahan, old_rw), (p.rw, p.rt), &p.doc, &p.heads)?;
        } else {
            tx.update_household((&p.id, &kelurahan), p.rt, &p.doc, &p.heads)?;
        }
    }
    tx.export_row(&p.row, &p.kelurahan, now)
}
