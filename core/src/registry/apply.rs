//! Registry households → documents, built on every core.
//!
//! A household new to the store becomes a new document. One already there is updated
//! on top of the state of the previous import, not of the current state: the new
//! values are written on a fork of the document taken at the previous import's
//! changes, and that fork is merged back. A field only the office changed takes the
//! new value; a field only the field changed keeps the field's value; a field both
//! changed holds both values, a conflict the fasilitator sees.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::Mutex;

use automerge::{
    transaction::{CommitOptions, Transactable},
    AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};
use sha2::{Digest, Sha256};

use super::columns::Field;
use super::parse::RegistryHousehold;
use super::RegistryError;
use crate::household::{put_member, Author, Household, HouseholdError, Member, IMPORTED};

/// Who imports and when. The author's actor must be new for each import run: the
/// fork is taken at an older state, and an actor that also wrote later changes would
/// number its changes twice.
pub struct ImportContext<'a> {
    pub kelurahan: &'a str,
    pub author: &'a Author,
    pub now_ms: i64,
}

/// One unit of work: a household of the file, or one the file no longer lists.
pub enum Work {
    Upsert {
        household: Box<RegistryHousehold>,
        /// Some of its rows were rejected: members missing from the file are left alone.
        uncertain: bool,
    },
    Missing(String),
}

impl Work {
    pub fn id(&self, kelurahan: &str) -> String {
        match self {
            Work::Upsert { household, .. } => household.id(kelurahan),
            Work::Missing(id) => id.clone(),
        }
    }
}

/// The work of importing `parsed` into a kelurahan whose stored households are
/// `existing`: every household of the file, then (for a whole-registry file) every
/// stored one the file no longer lists, except where rows of it were rejected.
pub fn plan(
    parsed: super::Parsed,
    kelurahan: &str,
    existing: &std::collections::HashSet<String>,
    partial: bool,
) -> Vec<Work> {
    let uncertain: std::collections::HashSet<String> = parsed
        .uncertain
        .iter()
        .filter_map(|k| parsed.key_field.map(|f| household_id(kelurahan, f, k)))
        .collect();
    let mut listed = std::collections::HashSet::new();
    let mut work = Vec::with_capacity(parsed.households.len());
    for h in parsed.households {
        listed.insert(h.id(kelurahan));
        work.push(Work::Upsert {
            uncertain: parsed.uncertain.contains(&h.key),
            household: Box::new(h),
        });
    }
    if !partial {
        let mut missing: Vec<&String> = existing
            .iter()
            .filter(|id| !listed.contains(*id) && !uncertain.contains(*id))
            .collect();
        missing.sort();
        work.extend(missing.into_iter().map(|id| Work::Missing(id.clone())));
    }
    work
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    MarkedMissing,
}

/// A document built by a worker, for the store to write.
pub struct Built {
    pub id: String,
    pub household: Household,
    /// Heads before the import (empty for a new document).
    pub before: Vec<ChangeHash>,
    pub outcome: Outcome,
    /// For a new document: the registry household it was made from.
    pub created_from: Option<RegistryHousehold>,
}

impl Built {
    /// The household's export row (cheap for a new document).
    pub fn export_row(&self, set: &crate::IndicatorSet) -> super::export::ExportRow {
        match &self.created_from {
            Some(r) => super::export::ExportRow::of_new(&self.id, r),
            None => super::export::ExportRow::of(&self.household, set),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Counts {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub missing: u32,
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// The same household gets the same id on every import and every device.
pub fn household_id(kelurahan: &str, key_field: Field, key: &str) -> String {
    format!("hh-{}", short_hash(&[kelurahan, key_field.code(), key]))
}

/// Who lives in the stored households: `nik:N` and `kk:K` → household id, for
/// [`match_by_people`]. Households proposed in the field are left out.
pub fn people_index(
    docs: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (id, bytes) in docs {
        if id.starts_with(crate::rules::PROPOSAL_ID_PREFIX) {
            continue;
        }
        let Ok(hh) = Household::load(&bytes) else {
            continue;
        };
        for (_, m) in hh.members_index() {
            if let Some(nik) = m.nik {
                out.entry(format!("nik:{nik}"))
                    .or_insert_with(|| id.clone());
            }
        }
        if let Some(kk) = hh.kk() {
            out.entry(format!("kk:{kk}")).or_insert_with(|| id.clone());
        }
    }
    out
}

/// A file grouped by another key than the one its households were first imported by
/// (No KK instead of ID DTKS, say) gives the same families other ids. Each household of
/// the file whose id is not stored takes the stored household holding one of its
/// members' NIKs, else its KK — each stored household once: the same people are the
/// same household whatever the grouping. Returns how many were matched.
pub fn match_by_people(
    parsed: &mut super::Parsed,
    kelurahan: &str,
    existing: &std::collections::HashSet<String>,
    people: &std::collections::HashMap<String, String>,
) -> usize {
    let mut taken: std::collections::HashSet<String> = parsed
        .households
        .iter()
        .map(|h| h.id(kelurahan))
        .filter(|id| existing.contains(id))
        .collect();
    let mut matched = 0;
    for h in &mut parsed.households {
        if existing.contains(&h.id(kelurahan)) {
            continue;
        }
        let found = h
            .members
            .iter()
            .filter_map(|m| m.nik.as_ref().map(|n| format!("nik:{n}")))
            .chain(h.identity.kk.iter().map(|k| format!("kk:{k}")))
            .filter_map(|k| people.get(&k))
            .find(|id| !taken.contains(*id))
            .cloned();
        if let Some(id) = found {
            taken.insert(id.clone());
            h.stored_as = Some(id);
            matched += 1;
        }
    }
    matched
}

fn member_id(household: &str, member_key: &str) -> String {
    format!("m-{}", short_hash(&[household, member_key]))
}

fn members_of(r: &RegistryHousehold, id: &str) -> Vec<(String, Member)> {
    r.members
        .iter()
        .map(|m| {
            (
                member_id(id, &m.key),
                Member {
                    nik: m.nik.clone(),
                    name: m.name.clone(),
                    sex: m.sex,
                    birth_date: m.birth_date.clone(),
                    relation: m.relation.clone(),
                    presence: "lives_here".into(),
                },
            )
        })
        .collect()
}

/// Builds one document. `existing` is the stored document, if any.
pub fn build(
    work: Work,
    existing: Option<&[u8]>,
    ctx: &ImportContext<'_>,
) -> Result<Built, String> {
    let id = work.id(ctx.kelurahan);
    let err = |e: &dyn std::fmt::Display| format!("household {id}: {e}");
    match (work, existing) {
        (Work::Upsert { household, .. }, None) => {
            let hh = Household::create(
                &id,
                &household.identity,
                &household.registry,
                &members_of(&household, &id),
                ctx.author,
                ctx.now_ms,
            )
            .map_err(|e| err(&e))?;
            Ok(Built {
                id,
                household: hh,
                before: Vec::new(),
                outcome: Outcome::Created,
                created_from: Some(*household),
            })
        }
        (
            Work::Upsert {
                household,
                uncertain,
            },
            Some(bytes),
        ) => {
            let hh = Household::load(bytes).map_err(|e| err(&e))?;
            let hid = id.clone();
            edit_on_previous_import(id, hh, ctx, Outcome::Updated, |fork| {
                update(fork, &household, &hid, uncertain)
            })
        }
        (Work::Missing(_), Some(bytes)) => {
            let mut hh = Household::load(bytes).map_err(|e| err(&e))?;
            if is_proposal(&hh.doc) {
                // A household found in the field was never in the registry.
                let before = hh.heads();
                return Ok(Built {
                    id,
                    household: hh,
                    before,
                    outcome: Outcome::Unchanged,
                    created_from: None,
                });
            }
            edit_on_previous_import(id, hh, ctx, Outcome::MarkedMissing, |fork| {
                let reg = map_at(fork, &ROOT, "registry")?;
                Ok(put_if_changed(
                    fork,
                    &reg,
                    "in_registry",
                    ScalarValue::Boolean(false),
                )?)
            })
        }
        (Work::Missing(_), None) => Err(err(&"is not in the store")),
    }
}

/// Runs `edit` on the previous import's state and merges it; `changed` if that moved
/// the document's heads.
fn edit_on_previous_import(
    id: String,
    mut hh: Household,
    ctx: &ImportContext<'_>,
    changed: Outcome,
    edit: impl FnOnce(&mut AutoCommit) -> Result<(), HouseholdError>,
) -> Result<Built, String> {
    let before = hh.heads();
    on_previous_import(&mut hh, ctx, edit).map_err(|e| format!("household {id}: {e}"))?;
    let outcome = if hh.heads() == before {
        Outcome::Unchanged
    } else {
        changed
    };
    Ok(Built {
        id,
        household: hh,
        before,
        outcome,
        created_from: None,
    })
}

fn is_proposal(doc: &AutoCommit) -> bool {
    matches!(doc.get(ROOT, "proposal"), Ok(Some((Value::Scalar(s), _))) if *s == ScalarValue::Boolean(true))
}

/// Runs `edit` on a fork taken at the previous import and merges the fork back.
fn on_previous_import(
    hh: &mut Household,
    ctx: &ImportContext<'_>,
    edit: impl FnOnce(&mut AutoCommit) -> Result<(), HouseholdError>,
) -> Result<(), HouseholdError> {
    let imports = previous_import(hh);
    let mut fork = hh
        .doc
        .fork_at(&imports)?
        .with_actor(ctx.author.actor.clone());
    edit(&mut fork)?;
    if fork.pending_ops() > 0 {
        // A put of the value already there writes nothing: each stamp differs.
        let reg = map_at(&mut fork, &ROOT, "registry")?;
        let last = match fork.get(&reg, IMPORTED)? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Timestamp(t) | ScalarValue::Int(t) => *t,
                _ => 0,
            },
            _ => 0,
        };
        fork.put(
            &reg,
            IMPORTED,
            ScalarValue::Timestamp(ctx.now_ms.max(last + 1)),
        )?;
        fork.commit_with(
            CommitOptions::default()
                .with_message("import".to_string())
                .with_time(ctx.now_ms),
        );
        hh.doc.merge(&mut fork)?;
    }
    Ok(())
}

/// The changes of the previous import: those holding `registry.imported` (every import
/// stamps it; concurrent imports leave one value each). A document from before the
/// stamp starts from its first change, the one that created it.
fn previous_import(hh: &mut Household) -> Vec<ChangeHash> {
    let doc = &hh.doc;
    let stamps: Vec<ChangeHash> = doc
        .get_all(ROOT, "registry")
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(_, reg)| doc.get_all(&reg, IMPORTED).unwrap_or_default())
        .filter_map(|(_, op)| doc.hash_for_opid(&op))
        .collect();
    if !stamps.is_empty() {
        return stamps;
    }
    hh.doc
        .get_changes(&[])
        .first()
        .map(|c| vec![c.hash()])
        .unwrap_or_default()
}

fn map_at(
    doc: &mut AutoCommit,
    parent: &ObjId,
    key: &str,
) -> Result<ObjId, automerge::AutomergeError> {
    match doc.get(parent, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => doc.put_object(parent, key, ObjType::Map),
    }
}

/// Puts only a changed value: an unchanged field must not become a conflict.
fn put_if_changed(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: ScalarValue,
) -> Result<(), automerge::AutomergeError> {
    let same = matches!(doc.get(obj, key)?, Some((Value::Scalar(s), _)) if *s == value);
    if !same {
        doc.put(obj, key, value)?;
    }
    Ok(())
}

fn put_opt(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    v: &Option<String>,
) -> Result<(), automerge::AutomergeError> {
    // An empty cell says nothing: the stored value stays.
    match v {
        Some(s) => put_if_changed(doc, obj, key, ScalarValue::Str(s.as_str().into())),
        None => Ok(()),
    }
}

fn update(
    fork: &mut AutoCommit,
    r: &RegistryHousehold,
    id: &str,
    uncertain: bool,
) -> Result<(), HouseholdError> {
    let ident = map_at(fork, &ROOT, "identity")?;
    let i = &r.identity;
    put_opt(fork, &ident, "id_dtks", &i.id_dtks)?;
    put_opt(fork, &ident, "idbdt", &i.idbdt)?;
    put_opt(fork, &ident, "kk", &i.kk)?;
    put_opt(fork, &ident, "address", &i.address)?;
    put_opt(fork, &ident, "kelurahan_bps", &i.kelurahan_bps)?;
    // RW/RT of a household already here change only by the server's move (the rule
    // book refuses any other write): a re-import never moves a household.
    let reg = map_at(fork, &ROOT, "registry")?;
    if let Some(d) = r.registry.desil {
        put_if_changed(fork, &reg, "desil", ScalarValue::Int(i64::from(d)))?;
    }
    let progs = map_at(fork, &reg, "programmes")?;
    for (k, v) in [
        ("pkh", r.registry.pkh),
        ("bpnt", r.registry.bpnt),
        ("pbi_jk", r.registry.pbi_jk),
        ("kip", r.registry.kip),
    ] {
        put_if_changed(fork, &progs, k, ScalarValue::Boolean(v))?;
    }
    if matches!(fork.get(&reg, "in_registry")?, Some((Value::Scalar(s), _)) if *s == ScalarValue::Boolean(false))
    {
        fork.put(&reg, "in_registry", true)?;
    }
    let mobj = map_at(fork, &ROOT, "members")?;
    let mut listed = BTreeSet::new();
    for (mid, m) in members_of(r, id) {
        listed.insert(mid.clone());
        match fork.get(&mobj, mid.as_str())? {
            Some((Value::Object(ObjType::Map), o)) => {
                put_opt(fork, &o, "nik", &m.nik)?;
                put_if_changed(fork, &o, "name", ScalarValue::Str(m.name.as_str().into()))?;
                put_opt(fork, &o, "sex", &m.sex.map(|s| s.code().to_string()))?;
                put_opt(fork, &o, "birth_date", &m.birth_date)?;
                put_if_changed(
                    fork,
                    &o,
                    "relation",
                    ScalarValue::Str(m.relation.as_str().into()),
                )?;
                if matches!(fork.get(&o, "in_registry")?, Some((Value::Scalar(s), _)) if *s == ScalarValue::Boolean(false))
                {
                    fork.put(&o, "in_registry", true)?;
                }
            }
            _ => put_member(fork, &mobj, &mid, &m)?,
        }
    }
    if !uncertain {
        let gone: Vec<ObjId> = fork
            .map_range(&mobj, ..)
            .filter(|item| !listed.contains(item.key.as_ref() as &str))
            .map(|item| item.id())
            .collect();
        for o in gone {
            put_if_changed(fork, &o, "in_registry", ScalarValue::Boolean(false))?;
        }
    }
    Ok(())
}

/// Reads a stored document by household id (`None`: not stored).
pub type LoadDoc<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, String> + 'a;

/// Builds every unit of work on all cores and hands each document to `sink`, in
/// batches, on the calling thread (which owns the store's transaction). `load` reads
/// a stored document; `finish` runs on the worker (encode, project); `progress` is
/// told (done, total) and returns `false` to cancel.
pub fn run<T: Send>(
    work: Vec<Work>,
    ctx: &ImportContext<'_>,
    load: &mut LoadDoc<'_>,
    finish: &(dyn Fn(Built) -> Result<T, String> + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), String>,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Counts, RegistryError> {
    const BATCH: usize = 64;
    let total = work.len();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let mut counts = Counts::default();
    let (work_tx, work_rx) = mpsc::sync_channel::<Vec<(Work, Option<Vec<u8>>)>>(threads * 2);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<Result<Vec<(Outcome, Option<T>)>, String>>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || loop {
                let batch = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(batch) = batch else { return };
                let out: Result<Vec<_>, String> = batch
                    .into_iter()
                    .map(|(w, existing)| {
                        let built = build(w, existing.as_deref(), ctx)?;
                        let outcome = built.outcome;
                        let t = match outcome {
                            Outcome::Unchanged => None,
                            _ => Some(finish(built)?),
                        };
                        Ok((outcome, t))
                    })
                    .collect();
                if done_tx.send(out).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut done = 0usize;
        let mut failure: Option<RegistryError> = None;
        let mut absorb = |r: Result<Vec<(Outcome, Option<T>)>, String>,
                          counts: &mut Counts,
                          done: &mut usize|
         -> Result<(), RegistryError> {
            for (outcome, t) in r.map_err(RegistryError::Failed)? {
                match outcome {
                    Outcome::Created => counts.created += 1,
                    Outcome::Updated => counts.updated += 1,
                    Outcome::Unchanged => counts.unchanged += 1,
                    Outcome::MarkedMissing => counts.missing += 1,
                }
                if let Some(t) = t {
                    sink(t).map_err(RegistryError::Failed)?;
                }
                *done += 1;
            }
            Ok(())
        };
        let mut items = work.into_iter().peekable();
        'send: while items.peek().is_some() {
            let mut batch = Vec::with_capacity(BATCH);
            for w in items.by_ref().take(BATCH) {
                match load(&w.id(ctx.kelurahan)) {
                    Ok(existing) => batch.push((w, existing)),
                    Err(e) => {
                        failure = Some(RegistryError::Failed(e));
                        break 'send;
                    }
                }
            }
            if work_tx.send(batch).is_err() {
                break;
            }
            while let Ok(r) = done_rx.try_recv() {
                if let Err(e) = absorb(r, &mut counts, &mut done) {
                    failure = Some(e);
                    break 'send;
                }
            }
            if !progress(done, total) {
                failure = Some(RegistryError::Cancelled);
                break;
            }
        }
        drop(work_tx);
        for r in done_rx.iter() {
            if failure.is_some() {
                continue; // drain so workers finish; nothing more is written
            }
            if let Err(e) = absorb(r, &mut counts, &mut done) {
                failure = Some(e);
            } else if !progress(done, total) {
                failure = Some(RegistryError::Cancelled);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(counts),
        }
    })
}
