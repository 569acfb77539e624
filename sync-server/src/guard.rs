//! The server's guard over every pushed document, from a sync or a bundle: limits,
//! decoding, the actor's owner, the rule book (`jemput_core::rules`) and the schema.
//! Backend-neutral: the storage hands in the document it holds and who signed, and
//! writes what the guard returns; no SQL here.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use jemput_core::household::Household;
use jemput_core::rules::{self, Code, Refusal, Role, Signer, TimeWindow, DAY_MS};
use jemput_core::sync::{Area, PushDoc};
use jemput_core::IndicatorSet;

/// Caps that keep one device from stalling the others. Defaults from the protocol;
/// every one is configurable.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// One Automerge change, bytes.
    pub change_bytes: usize,
    /// One household document as stored (uncompressed), bytes.
    pub doc_bytes: usize,
    /// Documents pushed in one request; the rest are refused with `too_many`.
    pub docs_per_request: usize,
    /// A request body once decompressed.
    pub request_bytes: u64,
    /// A request body as sent (compressed).
    pub body_bytes: usize,
    /// Documents and changes in one response page (at least one document is sent).
    pub page_bytes: usize,
    /// Rows in one response page.
    pub page_rows: usize,
    /// Time one request may spend writing; documents left are refused `too_many`
    /// (the device sends them again at once).
    pub write_ms: u64,
    /// Operations in one change, and in one document's push: Automerge's run-length
    /// columns make a million operations a few bytes, so bytes alone do not bound work.
    pub change_ops: usize,
    pub push_ops: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            change_bytes: 256 * 1024,
            doc_bytes: 4 * 1024 * 1024,
            docs_per_request: 500,
            request_bytes: 8 * 1024 * 1024,
            body_bytes: 2 * 1024 * 1024,
            page_bytes: 1024 * 1024,
            page_rows: 1000,
            write_ms: 2000,
            change_ops: 20_000,
            push_ops: 100_000,
        }
    }
}

/// The device that signed a push (the session's device, or a bundle's signer).
#[derive(Debug, Clone)]
pub struct Origin {
    pub device: String,
    pub user: String,
    pub role: Role,
    pub revoked: bool,
    /// When the device logged in: the earliest a change of it can be (− 24 h).
    pub registered_ms: i64,
    pub areas: Vec<Area>,
    /// Automerge actors bound to this device.
    pub actors: HashSet<ActorId>,
    /// This device is starting again with a store restored from a backup (it names
    /// the store's former id): an actor it did not register is not bound to it.
    pub restarting: bool,
    /// … and the restore is recent: it may relay changes of other known devices
    /// (`crate::service::identity`).
    pub relays_after_restore: bool,
}

/// The device an actor id is bound to.
pub struct Owner {
    pub device: String,
    /// That device's record, looked up only when the signer relays after a restore.
    pub origin: Option<Origin>,
}

/// Who owns an actor id now: `None` when no device holds it yet.
pub type OwnerOf<'a> =
    dyn FnMut(&ActorId) -> Result<Option<Owner>, crate::error::StorageError> + 'a;

/// A push that passed: what to store.
pub struct Accepted {
    pub household: Household,
    /// The merged document as stored (`save_nocompress`).
    pub bytes: Vec<u8>,
    pub new_changes: Vec<Change>,
    pub heads: Vec<ChangeHash>,
    /// Actors first seen in this push, to bind to the signer's device.
    pub bind: Vec<ActorId>,
    /// Other devices' actors whose changes the signer relayed after a restore.
    pub relayed: usize,
    /// Conflict decisions the household held before (so the push's own are counted
    /// without loading the stored document a second time).
    pub decided_before: usize,
}

/// The guard's switch for the benchmark that measures its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleBook {
    On,
    /// Only decoding and the document's shape, as before the rule book (bench only).
    Off,
}

/// Judges one pushed document. `before` is the stored document (`None`: new to the
/// server) with its area; nothing is written here.
#[allow(clippy::too_many_arguments)]
pub fn check_push(
    before: Option<(&[u8], &str, u16)>,
    push: &PushDoc,
    signer: &Origin,
    owner_of: &mut OwnerOf<'_>,
    now_ms: i64,
    limits: &Limits,
    set: &IndicatorSet,
    book: RuleBook,
) -> Result<Result<Accepted, Refusal>, crate::error::StorageError> {
    let internal = |e: String| crate::error::StorageError::Internal(e);
    if signer.revoked {
        return Ok(Err(Refusal::new(
            Code::RevokedSigner,
            "the device that signed this work was revoked",
        )));
    }
    if push.changes.len() > limits.doc_bytes {
        return Ok(Err(Refusal::new(
            Code::TooLarge,
            format!(
                "more than {} bytes of changes for one household",
                limits.doc_bytes
            ),
        )));
    }
    if let Some((_, kel, rw)) = before {
        if !signer.areas.iter().any(|a| a.covers(kel, rw)) {
            return Ok(Err(Refusal::new(
                Code::OutsideArea,
                "household is outside your areas",
            )));
        }
    }
    let before_doc = match before {
        Some((bytes, _, _)) => AutoCommit::load(bytes).map_err(|e| internal(e.to_string()))?,
        None => AutoCommit::new(),
    };
    let pushed = match split_changes(&push.changes) {
        Ok(c) => c,
        Err(why) => return Ok(Err(Refusal::new(Code::BadChanges, why))),
    };
    // Counted from the changes' headers before anything is expanded.
    let mut ops = 0usize;
    for c in &pushed {
        if c.len() > limits.change_ops {
            return Ok(Err(Refusal::new(
                Code::TooLarge,
                format!("one change has more than {} operations", limits.change_ops),
            )));
        }
        ops += c.len();
    }
    if ops > limits.push_ops {
        return Ok(Err(Refusal::new(
            Code::TooLarge,
            format!("more than {} operations for one household", limits.push_ops),
        )));
    }
    let mut doc = before_doc.clone();
    let old_heads = doc.get_heads();
    if let Err(e) = doc.apply_changes(pushed) {
        return Ok(Err(Refusal::new(
            Code::BadChanges,
            format!("changes do not apply: {e}"),
        )));
    }
    if !doc.get_missing_deps(&[]).is_empty() {
        return Ok(Err(Refusal::new(
            Code::MissingDeps,
            "changes depend on history the server does not have",
        )));
    }
    let new_changes: Vec<Change> = doc.get_changes(&old_heads);
    // One household, one first change. A second root would hold a second copy of
    // every field, each hiding the other (two first imports of one registry
    // household, on the server and on a device that had not synced).
    let roots = new_changes.iter().filter(|c| c.deps().is_empty()).count();
    if before.is_some() && roots > 0 {
        return Ok(Err(Refusal::new(
            Code::AlreadyHeld,
            "the server already holds this household, created elsewhere: this device takes the server's copy",
        )));
    }
    if roots > 1 {
        return Ok(Err(Refusal::new(
            Code::BadChanges,
            "a household document has one first change, not several",
        )));
    }
    if new_changes
        .iter()
        .any(|c| c.raw_bytes().len() > limits.change_bytes)
    {
        return Ok(Err(Refusal::new(
            Code::TooLarge,
            format!("one change is larger than {} bytes", limits.change_bytes),
        )));
    }
    // Every actor is the signer's: bound to its device, or new and bound now. After a
    // restore, also another device's that is known, not revoked, and whose user holds
    // the household's area: the signer relays what the store lost.
    let mut bind = Vec::new();
    let mut actors = signer.actors.clone();
    // Relayed actors and the device each is bound to: its changes are judged as its.
    let mut relayed: HashMap<ActorId, Origin> = HashMap::new();
    for c in &new_changes {
        let actor = c.actor_id();
        if actors.contains(actor) {
            continue;
        }
        if relayed.contains_key(actor) {
            continue;
        }
        let owner = owner_of(actor)?;
        if let Some(Owner {
            origin: Some(o), ..
        }) = &owner
        {
            if signer.relays_after_restore && !o.revoked {
                let area = match before {
                    Some((_, kel, rw)) => Some((kel.to_string(), rw)),
                    None => Household::from_doc(doc.clone()).ok().map(|h| {
                        let (kel, rw, _) = h.area();
                        (kel, rw)
                    }),
                };
                if area.is_some_and(|(kel, rw)| o.areas.iter().any(|a| a.covers(&kel, rw))) {
                    relayed.insert(actor.clone(), o.clone());
                    continue;
                }
            }
        }
        let foreign = match &owner {
            Some(owner) => owner.device != signer.device,
            // Unbound, yet it already wrote in this household (the server's import or
            // move, a device from before actors were bound): not the pusher's. Nor,
            // after a restore, any actor the device did not register at its login: it
            // may be another device's that the restored store has not met yet.
            None => signer.restarting || before_doc.import_obj(&format!("1@{actor}")).is_ok(),
        };
        if foreign {
            return Ok(Err(Refusal::new(
                Code::ForeignActor,
                "a change is written under another device's actor id",
            )));
        }
        if owner.is_none() {
            bind.push(actor.clone());
        }
        actors.insert(actor.clone());
    }
    if book == RuleBook::On {
        // In order, each run of changes by one device judged as that device's: the
        // signer's own, or (after a restore) a relayed device's.
        let mut state = before_doc.clone();
        let mut rest = new_changes.as_slice();
        while !rest.is_empty() {
            let owner = relayed.get(rest[0].actor_id());
            let run = rest
                .iter()
                .take_while(|c| {
                    relayed.get(c.actor_id()).map(|o| &o.device) == owner.map(|o| &o.device)
                })
                .count();
            let (these, later) = rest.split_at(run);
            let expanded: Vec<_> = these.iter().map(Change::decode).collect();
            let (role, user, actors, registered_ms) = match owner {
                Some(o) => (o.role, o.user.as_str(), &o.actors, o.registered_ms),
                None => (
                    signer.role,
                    signer.user.as_str(),
                    &actors,
                    signer.registered_ms,
                ),
            };
            let who = Signer { role, user, actors };
            let window = TimeWindow {
                earliest_ms: registered_ms - DAY_MS,
                latest_ms: now_ms + DAY_MS,
            };
            if let Err(r) = rules::judge(&state, &expanded, &who, Some(window), set) {
                return Ok(Err(r));
            }
            // Relayed work stays within the relaying device's rights too: any device
            // may claim a restore, and relaying must not lend it its owner's role.
            if owner.is_some() && role != signer.role {
                let relayer = Signer {
                    role: signer.role,
                    user,
                    actors,
                };
                if let Err(r) = rules::judge(&state, &expanded, &relayer, Some(window), set) {
                    return Ok(Err(r));
                }
            }
            if !later.is_empty() {
                state
                    .apply_changes(these.iter().cloned())
                    .map_err(|e| internal(e.to_string()))?;
            }
            rest = later;
        }
        if before.is_none() {
            if let Err(r) = rules::check_new_household(&doc, signer.role) {
                return Ok(Err(r));
            }
        }
    }
    let heads = doc.get_heads();
    let decided_before = jemput_core::conflicts::resolution_count(&before_doc);
    let mut household = match Household::from_doc(doc) {
        Ok(hh) => hh,
        Err(e) => return Ok(Err(Refusal::new(Code::Schema, e.to_string()))),
    };
    if household.id().as_deref() != Some(push.id.as_str()) {
        return Ok(Err(Refusal::new(
            Code::Schema,
            "document id does not match",
        )));
    }
    if before.is_none() {
        // A household proposed in the field: its area comes from the document.
        let (kel, rw, _) = household.area();
        if !signer.areas.iter().any(|a| a.covers(&kel, rw)) {
            return Ok(Err(Refusal::new(
                Code::OutsideArea,
                "new household is outside your areas",
            )));
        }
    }
    let bytes = household.save_nocompress();
    if bytes.len() > limits.doc_bytes {
        return Ok(Err(Refusal::new(
            Code::TooLarge,
            format!(
                "the household would be larger than {} bytes",
                limits.doc_bytes
            ),
        )));
    }
    Ok(Ok(Accepted {
        household,
        bytes,
        new_changes,
        heads,
        bind,
        relayed: relayed.len(),
        decided_before,
    }))
}

/// Splits concatenated Automerge chunks into changes without expanding them: each
/// chunk is `85 6f 4a 83`, a 4-byte checksum, a type byte, a LEB128 length and the
/// body. Only uncompressed change chunks (type 1) are accepted.
pub fn split_changes(bytes: &[u8]) -> Result<Vec<Change>, String> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 10 || rest[..4] != MAGIC {
            return Err("changes do not decode: not an Automerge change".into());
        }
        if rest[8] != 1 {
            return Err("changes do not decode: only uncompressed changes are accepted".into());
        }
        let (len, leb) = uleb128(&rest[9..]).ok_or("changes do not decode: bad length")?;
        let end = 9usize
            .checked_add(leb)
            .and_then(|h| h.checked_add(usize::try_from(len).ok()?))
            .filter(|e| *e <= rest.len())
            .ok_or("changes do not decode: truncated")?;
        let change = Change::from_bytes(rest[..end].to_vec())
            .map_err(|e| format!("changes do not decode: {e}"))?;
        out.push(change);
        at += end;
    }
    Ok(out)
}

fn uleb128(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}
