//! One sync request, backend-neutral. The store opens one transaction for the whole
//! request and hands in its operations ([`StoreTx`]); everything here is the
//! protocol's meaning: which reports and bundles are read, how each pushed document is
//! judged and written, and which rows of the log make the answer's page per area.
//!
//! The page's cursor rule ("a page that is not full jumps to the maximum of the area's
//! kelurahan") is correct only while a store lets no row of a kelurahan with a smaller
//! sequence commit after a larger one is visible: true of SQLite's single writer, and
//! of PostgreSQL's writers, which take a kelurahan's lock before its rows get their
//! numbers. See [`StoreTx::max_seq`].

use std::collections::BTreeMap;

use automerge::ActorId;
use ed25519_dalek::VerifyingKey;
use jemput_core::bundle;
use jemput_core::registry::export::ExportRow;
use jemput_core::rules::Code;
use jemput_core::sync::{
    heads_to_wire, Area, PullDoc, PushDoc, Rejected, SyncRequest, SyncResponse,
};
use jemput_core::IndicatorSet;

use super::identity::Identity;
use super::store::StoreTx;
use crate::error::StorageError;
use crate::guard::{check_push, Limits, Origin, Owner, RuleBook};

/// Relayed bundles read from one sync request (the device sends the rest next time).
pub const MAX_RELAYS_PER_REQUEST: usize = 8;
/// How deep bundles carried inside bundles are opened.
pub const MAX_RELAY_DEPTH: usize = 4;
/// Quarantine reports read from one request, and the longest id and reason kept.
const MAX_QUARANTINE_REPORTS: usize = 100;
const MAX_QUARANTINE_ID: usize = 64;
const MAX_QUARANTINE_REASON: usize = 500;

/// What a sync needs besides the store: the server's caps, its rule book switch, its
/// public key (bundles are certified by it), the indicator set and the clock.
pub struct Context<'a> {
    pub limits: &'a Limits,
    pub book: RuleBook,
    /// `None` when the request carries no bundle: reading the key costs a query.
    pub server_key: Option<&'a VerifyingKey>,
    pub set: &'a IndicatorSet,
    pub now_ms: fn() -> i64,
    /// Set when the request added to the audit log (its heads file is then rewritten).
    pub audited: std::cell::Cell<bool>,
}

/// Whether a request writes (pushes, relayed bundles, quarantine reports); one that
/// does not is answered in a read-only transaction.
pub fn writes(req: &SyncRequest) -> bool {
    !req.push.is_empty() || !req.bundles.is_empty() || !req.quarantined.is_empty()
}

/// Answers one sync request of `device` to the store whose identity is `ident`.
pub fn sync(
    tx: &dyn StoreTx,
    cx: &Context<'_>,
    ident: &Identity,
    device: &str,
    req: &SyncRequest,
    page_limit: usize,
) -> Result<SyncResponse, StorageError> {
    let limits = cx.limits;
    let mut signer = tx
        .origin(device)?
        .ok_or_else(|| StorageError::Invalid("unknown device".into()))?;
    let scope = signer.areas.clone();
    let mut resp = SyncResponse {
        scope: scope.iter().map(Area::key).collect(),
        server_ms: (cx.now_ms)(),
        ..SyncResponse::default()
    };
    if req.server_id != Some(ident.id) {
        resp.server_id = Some(ident.id);
        if req.server_id.is_some() {
            // The device last synced with another store (this one before a restore):
            // nothing of its request is taken; it starts again (`identity`).
            return Ok(resp);
        }
    }
    signer.restarting = req.restored_from.is_some();
    signer.relays_after_restore = req
        .restored_from
        .is_some_and(|id| ident.relays_from(id, (cx.now_ms)()));
    for q in req
        .quarantined
        .iter()
        .filter(|q| q.id.len() <= MAX_QUARANTINE_ID)
        .take(MAX_QUARANTINE_REPORTS)
    {
        let reason: String = q.reason.chars().take(MAX_QUARANTINE_REASON).collect();
        tx.note_quarantine(device, &q.id, &reason, (cx.now_ms)())?;
    }
    // Relayed bundles first: their changes are judged as their signer's.
    for b in req.bundles.iter().take(MAX_RELAYS_PER_REQUEST) {
        match bundle::read_limited(b, server_key(cx)?, limits.request_bytes) {
            Ok(payload) => resp.rejected.extend(apply_bundle(tx, cx, &payload, 0)?),
            Err(e) => tracing::info!(device = %device, error = %e, "relayed bundle refused"),
        }
    }
    let started = std::time::Instant::now();
    for (i, push) in req.push.iter().enumerate() {
        // Over a cap, the rest waits for the next request: nothing of it is stored.
        if i >= limits.docs_per_request || started.elapsed().as_millis() as u64 >= limits.write_ms {
            resp.rejected.push(Rejected {
                id: push.id.clone(),
                code: Code::TooMany.as_str().into(),
                reason: "deferred: send again".into(),
            });
            continue;
        }
        resp.rejected
            .extend(apply_push(tx, cx, &mut signer, push, 0)?);
    }
    // Starting again, a device takes every household of its areas whole, also those
    // it placed itself (no row is skipped as its own).
    let skip_own = match req.restored_from {
        Some(_) => "",
        None => device,
    };
    page(tx, cx, skip_own, &scope, req, page_limit, &mut resp)?;
    Ok(resp)
}

/// The answer's page: per area, the log after the device's cursor, bounded by rows
/// and bytes; its new cursors, what is left, and the households that left the area.
fn page(
    tx: &dyn StoreTx,
    cx: &Context<'_>,
    device: &str,
    scope: &[Area],
    req: &SyncRequest,
    page_limit: usize,
    resp: &mut SyncResponse,
) -> Result<(), StorageError> {
    let mut docs: BTreeMap<String, PullDoc> = BTreeMap::new();
    let mut budget = page_limit;
    let mut bytes_sent = 0usize;
    for area in scope {
        let key = area.key();
        let cursor = req.cursors.get(&key).copied().unwrap_or(0) as i64;
        // The maximum first, the page after: where each statement has a snapshot of
        // its own (PostgreSQL's READ COMMITTED writes), a row committed between the two
        // is sent now and again later, never skipped; the other order would skip it.
        let max_seq = tx.max_seq(&area.kelurahan)?;
        let rows = tx.log_page(area, cursor, device, budget + 1)?;
        let mut more = rows.len() > budget;
        let mut next = if more { cursor } else { max_seq.max(cursor) };
        for row in rows.into_iter().take(budget) {
            // Pages are bounded by bytes too; one document always fits.
            if bytes_sent >= cx.limits.page_bytes {
                more = true;
                break;
            }
            budget -= 1;
            next = row.seq;
            let lacks =
                || StorageError::Internal("a log row names a household the store lacks".into());
            // A placement sends the whole document; a change needs only the area.
            let doc = match row.placement {
                true => Some(
                    tx.document((&row.household, &area.kelurahan))?
                        .ok_or_else(lacks)?,
                ),
                false => None,
            };
            let entry = docs
                .entry(row.household.clone())
                .or_insert_with(|| PullDoc {
                    id: row.household.clone(),
                    kelurahan: area.kelurahan.clone(),
                    rw: row.rw,
                    data: serde_bytes::ByteBuf::new(),
                    snapshot: false,
                    heads: heads_to_wire(&row.heads),
                });
            if let Some(doc) = doc {
                bytes_sent += doc.len();
                entry.data = serde_bytes::ByteBuf::from(doc);
                entry.snapshot = true;
            } else if let Some(b) = row.bytes {
                bytes_sent += b.len();
                entry.data.extend_from_slice(&b);
            }
        }
        if !more {
            next = max_seq.max(cursor);
        } else {
            // Households of this area placed after the page's end come whole later.
            let left = tx.placed_after(area, next)?;
            resp.remaining = Some(resp.remaining.unwrap_or(0) + left);
        }
        resp.more |= more;
        resp.gone.extend(tx.gone(area, cursor, next)?);
        resp.cursors.insert(key, next as u64);
    }
    for d in docs.values_mut().filter(|d| d.snapshot) {
        d.heads.clear();
    }
    let keys: Vec<(&str, &str)> = docs
        .values()
        .map(|d| (d.id.as_str(), d.kelurahan.as_str()))
        .collect();
    resp.authors = tx.authors_of(&keys)?;
    resp.docs = docs.into_values().collect();
    Ok(())
}

fn server_key<'a>(cx: &Context<'a>) -> Result<&'a VerifyingKey, StorageError> {
    cx.server_key
        .ok_or_else(|| StorageError::Internal("bundles need the server's key".into()))
}

/// Applies a checked bundle's documents as its signer's work (rights, areas,
/// revocation and actors of the device that signed it, never of its carrier).
pub fn apply_bundle(
    tx: &dyn StoreTx,
    cx: &Context<'_>,
    payload: &bundle::BundlePayload,
    depth: usize,
) -> Result<Vec<Rejected>, StorageError> {
    let refuse_all = |code: Code, reason: &str| {
        payload
            .docs
            .iter()
            .map(|d| Rejected {
                id: d.id.clone(),
                code: code.as_str().into(),
                reason: reason.into(),
            })
            .collect::<Vec<_>>()
    };
    let Some(mut signer) = tx.origin(&payload.device)? else {
        return Ok(refuse_all(
            Code::Forbidden,
            "the bundle's device is unknown to this server",
        ));
    };
    if tx.device_key(&payload.device)?.as_deref() != Some(payload.device_key.as_slice()) {
        return Ok(refuse_all(
            Code::Forbidden,
            "the bundle's key is not the device's registered key",
        ));
    }
    if payload.docs.len() > 4 * cx.limits.docs_per_request {
        return Ok(refuse_all(
            Code::TooMany,
            "the bundle carries more households than a sync may",
        ));
    }
    // Bundles it carries first, each judged as its own signer's (nested at most a few
    // deep: a relay of a relay of a relay).
    if depth < MAX_RELAY_DEPTH {
        for inner in &payload.relays {
            match bundle::read_limited(inner, server_key(cx)?, cx.limits.request_bytes) {
                Ok(p) => {
                    let inner_rejected = apply_bundle(tx, cx, &p, depth + 1)?;
                    // A carried bundle's refusals are its signer's to hear about.
                    if !inner_rejected.is_empty() {
                        tracing::info!(device = %p.device, refused = inner_rejected.len(), "relayed bundle partly refused");
                    }
                }
                Err(e) => tracing::info!(error = %e, "relayed bundle refused"),
            }
        }
    }
    let mut rejected = Vec::new();
    for doc in &payload.docs {
        rejected.extend(apply_push(tx, cx, &mut signer, doc, 0)?);
    }
    Ok(rejected)
}

/// Applies one pushed document after the guard has judged it. A refusal stores
/// nothing of that document.
fn apply_push(
    tx: &dyn StoreTx,
    cx: &Context<'_>,
    signer: &mut Origin,
    push: &PushDoc,
    attempt: u8,
) -> Result<Option<Rejected>, StorageError> {
    // Read without holding it: the guard's work runs while other writers write.
    let existing = tx.household_read(&push.id)?;
    let before = existing
        .as_ref()
        .map(|s| (s.doc.as_slice(), s.kelurahan.as_str(), s.rw));
    let relays = signer.relays_after_restore;
    let mut owner_of = |actor: &ActorId| -> Result<Option<Owner>, StorageError> {
        let Some(device) = tx.actor_owner(actor)? else {
            return Ok(None);
        };
        let origin = match relays {
            true => tx.origin(&device)?,
            false => None,
        };
        Ok(Some(Owner { device, origin }))
    };
    let verdict = check_push(
        before,
        push,
        signer,
        &mut owner_of,
        (cx.now_ms)(),
        cx.limits,
        cx.set,
        cx.book,
    )?;
    let ok = match verdict {
        Ok(ok) => ok,
        Err(refusal) => {
            tracing::info!(device = %signer.device, code = refusal.code.as_str(), "push refused");
            return Ok(Some(Rejected {
                id: push.id.clone(),
                code: refusal.code.as_str().to_string(),
                reason: refusal.reason,
            }));
        }
    };
    if ok.new_changes.is_empty() {
        // Everything pushed was here already: nothing to write.
        return Ok(None);
    }
    // The household's kelurahan: where it is stored, or its document's when new.
    let kelurahan = match &existing {
        Some(stored) => stored.kelurahan.clone(),
        None => ok.household.area().0,
    };
    if !tx.claim(
        &push.id,
        &kelurahan,
        existing.as_ref().map(|s| s.doc.as_slice()),
    )? {
        // Another writer changed it since it was read: judged again against what that
        // one wrote. The household is held now, so once more is enough.
        if attempt > 0 {
            return Err(StorageError::Internal("a held household changed".into()));
        }
        return apply_push(tx, cx, signer, push, attempt + 1);
    }
    for actor in &ok.bind {
        tx.bind_actor(actor, &signer.device, &signer.user)?;
        signer.actors.insert(actor.clone());
    }
    let actors: Vec<&ActorId> = ok.new_changes.iter().map(|c| c.actor_id()).collect();
    tx.note_actors((&push.id, &kelurahan), &actors)?;
    match &existing {
        Some(_) => tx.update_doc((&push.id, &kelurahan), &ok.bytes, &ok.heads)?,
        None => {
            let (_, rw, rt) = ok.household.area();
            tx.place_new(
                &push.id,
                (&kelurahan, rw, rt),
                &ok.bytes,
                &ok.heads,
                Some(&signer.device),
            )?;
        }
    }
    tx.append_changes(
        (&push.id, &kelurahan),
        &ok.new_changes,
        Some(&signer.device),
    )?;
    // Decisions the push adds (a fasilitator's or operator's choice on a conflict).
    let decided = ok
        .household
        .resolved_ids()
        .len()
        .saturating_sub(ok.decided_before);
    let (kelurahan, _, _) = ok.household.area();
    if ok.relayed > 0 || decided > 0 {
        cx.audited.set(true);
    }
    if ok.relayed > 0 {
        // Accepted on the relaying device's word that another device wrote it.
        tx.audit(crate::audit::Event {
            chain: &kelurahan,
            kind: "relayed_after_restore",
            by: &signer.user,
            detail: serde_json::json!({
                "household": push.id, "actors": ok.relayed, "device": signer.device,
            }),
        })?;
    }
    if decided > 0 {
        tx.audit(crate::audit::Event {
            chain: &kelurahan,
            kind: "decision",
            by: &signer.user,
            detail: serde_json::json!({
                "household": push.id, "decisions": decided, "device": signer.device,
            }),
        })?;
    }
    // Derived from the previous row when the push only adds a visit; else rebuilt.
    let row = match &existing {
        Some(_) => tx
            .last_export_row(&kelurahan, &push.id)?
            .and_then(|prev| ExportRow::after_visit(&prev, &ok.household, &ok.new_changes, cx.set)),
        None => None,
    }
    .unwrap_or_else(|| ExportRow::of(&ok.household, cx.set));
    tx.export_row(&row, &kelurahan, (cx.now_ms)())?;
    Ok(None)
}
