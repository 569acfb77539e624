//! The sync protocol: message types, their wire encoding (CBOR, zstd-compressed) and
//! the client's side of one sync cycle — building the request from the store and
//! committing the response to it. No network I/O here; `jemput-client` carries the
//! bytes.
//!
//! One cycle is one `POST /v1/sync`: the request carries every document's changes the
//! server has not acknowledged and the last server sequence number applied per area;
//! the response acknowledges or rejects each pushed document and returns the changes in
//! the caller's areas since those cursors (a page at a time, `more` when cut). The client
//! commits a response — documents, acknowledgements, cursors, removals — in one SQLite
//! transaction, so a cycle cut at any point can simply be repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::LazyLock;

use automerge::{AutoCommit, ChangeHash};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::household::{Author, Household};
use crate::indicators::IndicatorSet;
use crate::store::{delete_household, encode_heads, write_household, Store, StoreError};

/// Largest decompressed body either side accepts; a zstd bomb stops here.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;
pub const CONTENT_TYPE: &str = "application/vnd.jemput.sync+cbor+zstd";

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("body is not valid zstd: {0}")]
    Compression(std::io::Error),
    #[error("body is larger than {0} bytes once decompressed")]
    TooLarge(u64),
    #[error("body is not a valid sync message: {0}")]
    Decode(String),
}

/// An area a user may hold: a whole kelurahan (`35.73.01.1007`) or one RW of it
/// (`35.73.01.1007/3`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Area {
    pub kelurahan: String,
    pub rw: Option<u16>,
}

impl Area {
    pub fn key(&self) -> String {
        match self.rw {
            Some(rw) => format!("{}/{rw}", self.kelurahan),
            None => self.kelurahan.clone(),
        }
    }
    pub fn parse_key(key: &str) -> Option<Area> {
        match key.split_once('/') {
            Some((k, rw)) => Some(Area {
                kelurahan: k.to_string(),
                rw: Some(rw.parse().ok()?),
            }),
            None => Some(Area {
                kelurahan: key.to_string(),
                rw: None,
            }),
        }
    }
    pub fn covers(&self, kelurahan: &str, rw: u16) -> bool {
        self.kelurahan == kelurahan && self.rw.is_none_or(|r| r == rw)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Last server sequence number applied, per area key.
    pub cursors: BTreeMap<String, u64>,
    pub push: Vec<PushDoc>,
    /// Signed bundles of other devices this device imported and relays: the server
    /// judges their changes as their signer's, never as this device's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<ByteBuf>,
    /// Households this device could not merge a pulled document into (kept out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<Quarantined>,
    /// `bundle::recipients_digest` of the bundle keys this device knows: the server
    /// sends `recipients` when its own differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients_seen: Option<u64>,
    /// The id of the server this device last synced with (`SyncResponse::server_id`);
    /// absent before the first sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u64>,
    /// While this device starts again with a restored server: the id it had before
    /// (see [`begin_restart`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
}

/// A household a device keeps out, and why (never a value: no NIK, no name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Quarantined {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushDoc {
    pub id: String,
    /// Raw Automerge changes, concatenated.
    pub changes: ByteBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Area keys the user holds now; the client drops what falls outside.
    pub scope: Vec<String>,
    /// Pushed documents the server refused. Every other pushed document was accepted
    /// whole: acknowledgements cost nothing on the wire.
    pub rejected: Vec<Rejected>,
    pub docs: Vec<PullDoc>,
    pub cursors: BTreeMap<String, u64>,
    /// Households that moved out of one of the caller's areas since its cursor.
    #[serde(default)]
    pub gone: Vec<String>,
    /// A page limit was hit: sync again to get the rest.
    pub more: bool,
    /// With `more`: households of the caller's areas still to come whole after this
    /// page (a first sync's progress: received so far of received + remaining).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// The server's clock (ms): devices correct their own clock by it.
    #[serde(default)]
    pub server_ms: i64,
    /// Who wrote the changes of the documents in this page: actor (hex) → user name,
    /// as the server bound them. A client that ignores it misses only names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authors: BTreeMap<String, String>,
    /// The keys (age X25519 recipients) a bundle of this device is encrypted to: the
    /// server's and those of the devices of the same areas. Sent when the request's
    /// `recipients_seen` differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<String>>,
    /// The server's id, sent when the request's `server_id` is absent or another. When
    /// the request named another id the server was restored from a backup (or is
    /// another server): nothing of the request was applied, and the device starts
    /// again ([`begin_restart`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u64>,
}

/// A refused document: a stable code and a reason a person can read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub id: String,
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullDoc {
    pub id: String,
    pub kelurahan: String,
    pub rw: u16,
    /// A saved document (first delivery) or concatenated changes.
    pub data: ByteBuf,
    /// `data` is a whole saved document: its heads are the server's, and travel inside
    /// it (32 B per household saved on a first sync).
    #[serde(default)]
    pub snapshot: bool,
    /// The server's heads, for changes (empty for a snapshot).
    pub heads: Vec<ByteBuf>,
}

/// The zstd dictionary both sides compress sync messages with, trained on realistic
/// traffic (`jemput-train-dict`): key names, criterion ids and answer options cost
/// almost nothing once both sides know them. Changing it changes the wire format.
pub const DICTIONARY: &[u8] = include_bytes!("../dict/sync.zdict");

/// The dictionary prepared once per process: loading the raw dictionary costs 25 times
/// more than compressing a small message with it (`docs/wire-bench.md`). Large messages
/// load it per message (a prepared dictionary fixes parameters tuned for small inputs,
/// which made a 1,000-household page 70 % slower to compress).
static ENCODER: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY, LEVEL));
static DECODER: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICTIONARY));

/// Bytes cost the kader money and time on 2G; server CPU is cheap at these sizes (a
/// 1,000-household first sync is ~1 MB of CBOR). Only very large pages (an operator's
/// first sync of a big kelurahan) get a cheaper level.
const LEVEL: i32 = 19;
const LEVEL_LARGE: i32 = 12;
const LARGE: usize = 4 * 1024 * 1024;
/// Up to this much CBOR, the prepared dictionary.
const SMALL: usize = 64 * 1024;

thread_local! {
    /// A small message's compressor, kept per thread: making one allocates and clears
    /// level 19's tables, which cost more than compressing a 100-byte answer.
    static SMALL_COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    // Serialising plain structs into memory cannot fail; nor can compressing them with
    // the dictionary compiled in (its validity is tested).
    #[allow(clippy::expect_used)]
    ciborium::into_writer(msg, &mut cbor).expect("CBOR into memory");
    if cbor.len() <= SMALL {
        #[allow(clippy::expect_used)]
        return SMALL_COMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let z = match slot.as_mut() {
                Some(z) => z,
                None => slot.insert(
                    zstd::bulk::Compressor::with_prepared_dictionary(&ENCODER)
                        .expect("zstd dictionary"),
                ),
            };
            z.compress(&cbor).expect("zstd into memory")
        });
    }
    let level = if cbor.len() < LARGE {
        LEVEL
    } else {
        LEVEL_LARGE
    };
    #[allow(clippy::expect_used)]
    let mut z =
        zstd::bulk::Compressor::with_dictionary(level, DICTIONARY).expect("zstd dictionary");
    #[allow(clippy::expect_used)]
    z.compress(&cbor).expect("zstd into memory")
}

pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, WireError> {
    decode_limited(body, MAX_BODY)
}

/// Decodes a body that may be at most `max` bytes once decompressed (the server's
/// cap on requests is far below what a response may be).
pub fn decode_limited<T: for<'de> Deserialize<'de>>(body: &[u8], max: u64) -> Result<T, WireError> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::with_prepared_dictionary(body, &DECODER)
        .map_err(WireError::Compression)?
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(WireError::Compression)?;
    if out.len() as u64 > max {
        return Err(WireError::TooLarge(max));
    }
    ciborium::from_reader(&out[..]).map_err(|e| WireError::Decode(e.to_string()))
}

pub fn heads_to_wire(heads: &[ChangeHash]) -> Vec<ByteBuf> {
    heads.iter().map(|h| ByteBuf::from(h.0.to_vec())).collect()
}

pub fn heads_from_wire(heads: &[ByteBuf]) -> Vec<ChangeHash> {
    heads
        .iter()
        .filter_map(|h| ChangeHash::try_from(h.as_slice()).ok())
        .collect()
}

/// What the client pushed in a request, kept to interpret the response.
#[derive(Debug, Default)]
pub struct Outgoing {
    pub request: SyncRequest,
    /// Heads of each pushed document at the time the request was built.
    pub pushed_heads: BTreeMap<String, Vec<ChangeHash>>,
    pub changes_pushed: usize,
    /// Pending documents were left for the next request (a page is full).
    pub more_to_push: bool,
    /// Relayed bundles sent (store ids): forgotten once the server has answered.
    pub relayed: Vec<i64>,
}

/// Documents one request pushes at most (the server's default cap).
pub const MAX_PUSH_DOCS: usize = 500;

/// Builds the next request: every pending document's unacknowledged changes, and the
/// stored cursors (a bundle carries the same pushes).
pub fn build_request(store: &Store, max_bytes: usize) -> Result<Outgoing, StoreError> {
    build(store, max_bytes, true)
}

/// Builds the next sync request: [`build_request`], naming the server this device last
/// synced with; while it starts again with a restored server, the id that server had
/// before, and no push until the server has sent every area whole.
pub fn build_sync_request(store: &Store, max_bytes: usize) -> Result<Outgoing, StoreError> {
    let restart = restart_state(store)?;
    let mut out = build(store, max_bytes, restart != Restart::Pull)?;
    let id = |key| -> Result<Option<u64>, StoreError> {
        Ok(store.kv_get(key)?.and_then(|v| v.parse().ok()))
    };
    out.request.server_id = id("server_id")?;
    if restart != Restart::No {
        out.request.restored_from = id("restored_from")?;
    }
    Ok(out)
}

/// Where this device stands with a server restored from a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    /// Every area is pulled again from the start; nothing is pushed meanwhile.
    Pull,
    /// What the server no longer holds is sent again, compared by heads.
    Push,
}

pub fn restart_state(store: &Store) -> Result<Restart, StoreError> {
    Ok(match store.kv_get("restart")?.as_deref() {
        Some("pull") => Restart::Pull,
        Some("push") => Restart::Push,
        _ => Restart::No,
    })
}

/// The server answered under another id than the one this device knew: it was
/// restored from a backup (or is another server) and applied nothing of the request.
/// Returns (the id this device knew, the server's now).
pub fn restarted(out: &Outgoing, resp: &SyncResponse) -> Option<(u64, u64)> {
    match (out.request.server_id, resp.server_id) {
        (Some(known), Some(now)) if known != now => Some((known, now)),
        _ => None,
    }
}

/// Starts again with a server restored from a backup, which may have lost changes it
/// once acknowledged: what this device believes the server holds is forgotten (every
/// acknowledged head, every cursor), every area is pulled whole, and each household's
/// heads in the server's copy become what the server holds. Then whatever the server
/// no longer holds is pending again — households it did not send go to it whole —
/// and is sent, naming the id the server had before (`restored_from`).
pub fn begin_restart(store: &mut Store, known: u64, now: u64) -> Result<(), StoreError> {
    let tx = store.transaction()?;
    tx.execute("DELETE FROM cursors", [])?;
    tx.execute("UPDATE households SET acked_heads = x''", [])?;
    tx.execute("DELETE FROM restart_unseen", [])?;
    tx.execute(
        "INSERT INTO restart_unseen (id) SELECT id FROM households",
        [],
    )?;
    for (key, value) in [
        ("server_id", now.to_string()),
        ("restored_from", known.to_string()),
        ("restart", "pull".to_string()),
    ] {
        tx.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value.as_str()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn build(store: &Store, max_bytes: usize, push: bool) -> Result<Outgoing, StoreError> {
    let mut out = Outgoing::default();
    let mut bytes = 0;
    let pending = match push {
        true => store.pending()?,
        false => Vec::new(),
    };
    for p in pending {
        // One page of pushes at a time; at least one document, whatever its size.
        if (bytes >= max_bytes || out.request.push.len() >= MAX_PUSH_DOCS)
            && !out.request.push.is_empty()
        {
            out.more_to_push = true;
            break;
        }
        let mut doc = AutoCommit::load(&p.doc).map_err(crate::household::HouseholdError::from)?;
        let changes = doc.get_changes(&p.acked);
        if changes.is_empty() {
            continue;
        }
        let mut buf = Vec::new();
        for c in &changes {
            buf.extend_from_slice(c.raw_bytes());
        }
        bytes += buf.len();
        out.changes_pushed += changes.len();
        out.pushed_heads.insert(p.id.clone(), doc.get_heads());
        out.request.push.push(PushDoc {
            id: p.id,
            changes: ByteBuf::from(buf),
        });
    }
    for (id, reason) in store.quarantined(true)? {
        out.request.quarantined.push(Quarantined { id, reason });
    }
    for (id, bytes) in store.relays()?.into_iter().filter(|_| push) {
        out.relayed.push(id);
        out.request.bundles.push(ByteBuf::from(bytes));
    }
    out.request.cursors = store.cursors()?.into_iter().collect();
    out.request.recipients_seen =
        Some(crate::bundle::recipients_digest(&bundle_recipients(store)?));
    Ok(out)
}

/// The bundle keys this device learned at its last sync (`recipients` of a response).
pub fn bundle_recipients(store: &Store) -> Result<Vec<String>, StoreError> {
    Ok(store
        .kv_get("recipients")?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub accepted: usize,
    pub rejected: usize,
    pub docs_pulled: usize,
    pub removed: usize,
    pub quarantined: usize,
    /// Changes refused for their time and recorded again at the server's time.
    pub re_recorded: usize,
    /// Households this device had imported first while the server already held them
    /// (`already_held`): the server's copy replaced this device's.
    pub replaced: usize,
}

/// How a whole document from the server relates to this device's unacknowledged copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Apart {
    /// It holds this copy's first change: one document, merged as usual.
    No,
    /// Made apart, and this copy holds import changes only.
    ImportOnly,
    /// Made apart, and this copy holds other work too.
    WithWork,
}

/// Reads both documents (only for a copy the server never acknowledged meeting a
/// whole document from it: rare). A document that does not load is left to the merge,
/// which reports it.
fn made_apart(local: &[u8], server: &[u8]) -> Apart {
    let (Ok(mut mine), Ok(mut theirs)) = (AutoCommit::load(local), AutoCommit::load(server)) else {
        return Apart::No;
    };
    let changes = mine.get_changes(&[]);
    let held = changes
        .iter()
        .filter(|c| c.deps().is_empty())
        .all(|c| theirs.get_change_by_hash(&c.hash()).is_some());
    if held {
        Apart::No
    } else if changes.iter().all(|c| c.message() == Some("import")) {
        Apart::ImportOnly
    } else {
        Apart::WithWork
    }
}

/// Commits a response in one transaction: merged documents, acknowledged heads,
/// rejections, cursors, and the removal of households outside the user's scope that
/// hold nothing unsent.
pub fn apply_response(
    store: &mut Store,
    out: &Outgoing,
    resp: &SyncResponse,
    set: &IndicatorSet,
    author: &Author,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    let scope: Vec<Area> = resp
        .scope
        .iter()
        .filter_map(|k| Area::parse_key(k))
        .collect();
    let tx = store.transaction()?;

    // Server heads per document: what was pushed and accepted, and what was pulled.
    let mut server_heads: BTreeMap<&str, Vec<ChangeHash>> = BTreeMap::new();
    let mut accepted: BTreeSet<&str> = BTreeSet::new();
    let mut refused: BTreeSet<&str> = BTreeSet::new();
    for r in &resp.rejected {
        if r.code == crate::rules::Code::TooMany.as_str() {
            // Deferred by the server's caps, not refused: sent again next request.
            continue;
        }
        refused.insert(&r.id);
        tx.execute(
            "UPDATE households SET rejected = ?2 WHERE id = ?1",
            rusqlite::params![r.id, format!("{}: {}", r.code, r.reason)],
        )?;
        applied.rejected += 1;
    }
    for p in &out.request.push {
        if resp.rejected.iter().all(|r| r.id != p.id) {
            accepted.insert(&p.id);
            server_heads.entry(&p.id).or_default();
            applied.accepted += 1;
        }
    }
    // A pulled document that cannot be merged is kept out (quarantined) with its
    // reason; everything else in the response commits.
    let mut quarantine: BTreeMap<&str, String> = BTreeMap::new();
    for d in &resp.docs {
        let heads = if d.snapshot {
            match AutoCommit::load(&d.data) {
                Ok(mut doc) => doc.get_heads(),
                Err(e) => {
                    quarantine.insert(&d.id, format!("the server's document does not load: {e}"));
                    continue;
                }
            }
        } else {
            heads_from_wire(&d.heads)
        };
        server_heads.entry(&d.id).or_default().extend(heads);
    }
    let pulled: BTreeMap<&str, &PullDoc> = resp
        .docs
        .iter()
        .filter(|d| !quarantine.contains_key(d.id.as_str()))
        .map(|d| (d.id.as_str(), d))
        .collect();

    for (id, heads) in server_heads {
        let existing: Option<(Vec<u8>, Vec<u8>)> =
            rusqlite::OptionalExtension::optional(tx.query_row(
                "SELECT doc, acked_heads FROM households WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))?;
        // A whole document from the server meets this device's copy, which the server
        // never acknowledged, and does not hold its first change: two first imports of
        // one household (the server refuses this device's as `already_held`). Merged,
        // every field would exist twice. The server's copy replaces this device's when
        // that holds imports only (the operator imports the file again for its values);
        // a copy holding other work is kept out, never dropped.
        let apart = match (&existing, pulled.get(id)) {
            (Some((bytes, acked)), Some(p))
                if p.snapshot
                    && crate::store::decode_heads(acked).is_empty()
                    && !accepted.contains(id) =>
            {
                made_apart(bytes, &p.data)
            }
            _ => Apart::No,
        };
        if apart == Apart::WithWork {
            quarantine.insert(
                id,
                "the server's copy was made apart from this device's (each has its own first change) and this device's holds work besides an import: kept out for the office".into(),
            );
            continue;
        }
        let replaced = apart == Apart::ImportOnly;
        let merged = match (&existing, pulled.get(id)) {
            (Some(_), Some(p)) if replaced => Household::load_as(&p.data, author),
            (Some((bytes, _)), Some(p)) => Household::load_as(bytes, author).and_then(|mut hh| {
                hh.doc_mut()
                    .load_incremental(&p.data)
                    .map_err(crate::household::HouseholdError::from)?;
                hh.check_schema()?;
                Ok(hh)
            }),
            (Some((bytes, _)), None) => Household::load_as(bytes, author),
            (None, Some(p)) => Household::load_as(&p.data, author),
            // Acknowledged but gone meanwhile (removed from scope): nothing to record.
            (None, None) => continue,
        };
        let mut hh = match merged {
            Ok(hh) => hh,
            Err(e) if pulled.contains_key(id) => {
                quarantine.insert(id, format!("the pulled changes do not merge: {e}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if pulled.contains_key(id) {
            applied.docs_pulled += 1;
        }
        if replaced {
            applied.replaced += 1;
            if refused.contains(id) {
                // Refused and settled in one response: not left refused.
                applied.rejected = applied.rejected.saturating_sub(1);
            }
        }
        let doc = hh.doc_mut();
        let known: Vec<ChangeHash> = heads
            .into_iter()
            .filter(|h| doc.get_change_by_hash(h).is_some())
            .collect();
        let mut acked: Vec<ChangeHash> = match &existing {
            Some((_, a)) if !accepted.contains(id) && !replaced => crate::store::decode_heads(a),
            _ => Vec::new(),
        };
        if accepted.contains(id) {
            acked.extend(out.pushed_heads.get(id).cloned().unwrap_or_default());
        }
        acked.extend(known);
        acked.sort();
        acked.dedup();
        let pending = !doc.get_changes(&acked).is_empty();
        if pulled.contains_key(id) {
            write_household(&tx, &mut hh, set)?;
        }
        tx.execute(
            "UPDATE households SET acked_heads = ?2, pending = ?3,
                 rejected = CASE WHEN ?4 OR NOT ?3 THEN NULL ELSE rejected END WHERE id = ?1",
            rusqlite::params![
                id,
                encode_heads(&acked),
                pending,
                accepted.contains(id) || replaced
            ],
        )?;
    }

    // Work refused for its time (the phone's clock was wrong when it was recorded) is
    // recorded again at the server's time, and goes next sync: never dropped.
    for r in resp
        .rejected
        .iter()
        .filter(|r| r.code == crate::rules::Code::BadTime.as_str())
        .filter(|r| out.request.push.iter().any(|p| p.id == r.id))
    {
        let stored: Option<(Vec<u8>, Vec<u8>)> =
            rusqlite::OptionalExtension::optional(tx.query_row(
                "SELECT doc, acked_heads FROM households WHERE id = ?1",
                [&r.id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            ))?;
        let Some((bytes, acked)) = stored else {
            continue;
        };
        let mut hh = Household::load_as(&bytes, author)?;
        if hh.re_record(
            &crate::store::decode_heads(&acked),
            &author.actor,
            resp.server_ms,
        )? > 0
        {
            write_household(&tx, &mut hh, set)?;
            tx.execute(
                "UPDATE households SET pending = 1, rejected = NULL WHERE id = ?1",
                [&r.id],
            )?;
            applied.rejected -= 1;
            applied.re_recorded += 1;
        }
    }
    if let Some(recipients) = &resp.recipients {
        tx.execute(
            "INSERT INTO kv (key, value) VALUES ('recipients', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [serde_json::to_string(recipients).unwrap_or_default()],
        )?;
    }
    for (actor, user) in &resp.authors {
        tx.execute(
            "INSERT INTO authors (actor, user) VALUES (?1, ?2)
             ON CONFLICT (actor) DO UPDATE SET user = excluded.user",
            rusqlite::params![actor, user],
        )?;
    }
    for (id, reason) in &quarantine {
        tx.execute(
            "INSERT INTO quarantine (id, reason) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, reported = 0",
            rusqlite::params![id, reason],
        )?;
        applied.quarantined += 1;
    }
    for q in &out.request.quarantined {
        tx.execute("UPDATE quarantine SET reported = 1 WHERE id = ?1", [&q.id])?;
    }
    for id in &out.relayed {
        tx.execute("DELETE FROM relays WHERE id = ?1", [id])?;
    }
    for (area, seq) in &resp.cursors {
        tx.execute(
            "INSERT INTO cursors (area, seq) VALUES (?1, ?2)
             ON CONFLICT (area) DO UPDATE SET seq = excluded.seq",
            rusqlite::params![area, *seq as i64],
        )?;
    }
    // Areas no longer held: forget their cursors, so regaining one starts from zero.
    let stale: Vec<String> = {
        let mut stmt = tx.prepare("SELECT area FROM cursors")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|a| !resp.scope.contains(a))
            .collect()
    };
    for a in stale {
        tx.execute("DELETE FROM cursors WHERE area = ?1", [a])?;
    }
    // Households outside the scope go, unless they hold work the server never took.
    let outside: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id, kelurahan, rw FROM households WHERE pending = 0")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u16>(2)?,
            ))
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|(_, k, rw)| !scope.iter().any(|a| a.covers(k, *rw)))
            .map(|(id, _, _)| id)
            .collect()
    };
    // Households moved out of an area: the device never sees the move itself, only
    // that they left. Kept when they hold unsent work or arrived again in this page.
    let moved_away = resp
        .gone
        .iter()
        .filter(|id| !pulled.contains_key(id.as_str()));
    let mut to_delete: BTreeSet<String> = outside.into_iter().collect();
    for id in moved_away {
        let pending: Option<bool> = rusqlite::OptionalExtension::optional(tx.query_row(
            "SELECT pending FROM households WHERE id = ?1",
            [id],
            |r| r.get(0),
        ))?;
        if pending == Some(false) {
            to_delete.insert(id.clone());
        }
    }
    for id in to_delete {
        delete_household(&tx, &id)?;
        applied.removed += 1;
    }
    if let Some(id) = resp.server_id {
        tx.execute(
            "INSERT INTO kv (key, value) VALUES ('server_id', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [id.to_string()],
        )?;
    }
    advance_restart(&tx, out, resp, &pulled, &quarantine)?;
    tx.commit()?;
    Ok(applied)
}

/// A restart's next step, in the response's transaction: households the server sent
/// are seen; once it has sent everything, the unseen ones go to it whole; once nothing
/// is left to send, the restart is over.
fn advance_restart(
    tx: &rusqlite::Transaction<'_>,
    out: &Outgoing,
    resp: &SyncResponse,
    pulled: &BTreeMap<&str, &PullDoc>,
    quarantine: &BTreeMap<&str, String>,
) -> Result<(), StoreError> {
    let state: Option<String> = rusqlite::OptionalExtension::optional(tx.query_row(
        "SELECT value FROM kv WHERE key = 'restart'",
        [],
        |r| r.get(0),
    ))?;
    match state.as_deref() {
        Some("pull") => {
            for id in pulled.keys().chain(quarantine.keys()) {
                tx.execute("DELETE FROM restart_unseen WHERE id = ?1", [id])?;
            }
            if !resp.more {
                tx.execute(
                    "UPDATE households SET pending = 1
                      WHERE id IN (SELECT id FROM restart_unseen)",
                    [],
                )?;
                tx.execute("DELETE FROM restart_unseen", [])?;
                tx.execute("UPDATE kv SET value = 'push' WHERE key = 'restart'", [])?;
            }
        }
        Some("push") if !out.more_to_push => {
            let left: i64 = tx.query_row(
                "SELECT count(*) FROM households WHERE pending = 1 AND rejected IS NULL",
                [],
                |r| r.get(0),
            )?;
            if left == 0 {
                tx.execute(
                    "DELETE FROM kv WHERE key IN ('restart', 'restored_from')",
                    [],
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::ActorId;

    fn first(actor: u8, what: &str) -> AutoCommit {
        let mut d = AutoCommit::new().with_actor(ActorId::from(&[actor; 16][..]));
        d.put(automerge::ROOT, "id", "hh-1").expect("put");
        d.commit_with(CommitOptions::default().with_message(what.to_string()));
        d
    }

    #[test]
    fn a_copy_made_apart_gives_way_only_when_it_holds_imports_only() {
        let mut server = first(1, "import");
        let theirs = server.save();
        // Its own first import: made apart, imports only.
        let mut mine = first(2, "import");
        assert_eq!(made_apart(&mine.save(), &theirs), Apart::ImportOnly);
        // Work besides the import: kept.
        mine.put(automerge::ROOT, "status", "found").expect("put");
        mine.commit_with(CommitOptions::default().with_message("visit".to_string()));
        assert_eq!(made_apart(&mine.save(), &theirs), Apart::WithWork);
        // A copy that grew from the server's first change is one document.
        let mut grown = server.fork().with_actor(ActorId::from(&[3; 16][..]));
        grown.put(automerge::ROOT, "status", "found").expect("put");
        grown.commit_with(CommitOptions::default().with_message("visit".to_string()));
        assert_eq!(made_apart(&grown.save(), &theirs), Apart::No);
        assert_eq!(made_apart(b"not a document", &theirs), Apart::No);
    }
}
