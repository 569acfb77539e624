//! The kelurahan's Muskel sessions: opened, decided and closed by its operator or
//! fasilitator, read by its kelurahan-wide users only. A decision names a household
//! and a kind; the proposal itself is derived here from the household's document
//! (`jemput_core::muskel::proposals_of`), never taken from the request, so what the
//! minutes say is what the household shows. Each change is audited in the kelurahan's
//! chain.

use jemput_core::muskel::{self, Basis, NewSession, Outcome, ProposalKind, Session};
use jemput_core::rules::Role;
use jemput_core::Household;

use super::store::Tx;
use super::StorageError;

/// The one kelurahan `user` holds whole (a Muskel is kelurahan business); a user
/// holding only RWs, or several kelurahans, is refused.
fn kelurahan_of(tx: &dyn Tx, user: &str) -> Result<String, StorageError> {
    let whole: Vec<String> = tx
        .areas(user)?
        .into_iter()
        .filter(|a| a.rw.is_none())
        .map(|a| a.kelurahan)
        .collect();
    match whole.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(StorageError::Forbidden(
            "Muskel sessions are for users who hold a whole kelurahan".into(),
        )),
        _ => Err(StorageError::Refused(
            "you hold several kelurahans: a Muskel is one kelurahan's".into(),
        )),
    }
}

fn decider(role: Role) -> Result<(), StorageError> {
    if role.capabilities().muskel {
        Ok(())
    } else {
        Err(StorageError::Forbidden(format!(
            "a {} does not decide in a Muskel: its operator or fasilitator does",
            role.as_str()
        )))
    }
}

fn parse(record: &str) -> Result<Session, StorageError> {
    serde_json::from_str(record)
        .map_err(|e| StorageError::Internal(format!("a stored Muskel session does not read: {e}")))
}

fn store(tx: &dyn Tx, s: &Session) -> Result<(), StorageError> {
    let record = serde_json::to_string(s)
        .map_err(|e| StorageError::Internal(format!("a Muskel session does not write: {e}")))?;
    tx.put_muskel_session(&s.kelurahan, &s.id, &s.date, &record)
}

fn refused(e: muskel::MuskelError) -> StorageError {
    StorageError::Refused(e.0)
}

/// The sessions of the user's kelurahan, oldest first.
pub fn list(tx: &dyn Tx, user: &str) -> Result<Vec<Session>, StorageError> {
    let kelurahan = kelurahan_of(tx, user)?;
    tx.muskel_sessions(&kelurahan)?
        .iter()
        .map(|r| parse(r))
        .collect()
}

/// Opens a session; numbered in its year unless the office gave a number.
pub fn open(
    tx: &dyn Tx,
    user: &str,
    role: Role,
    new: NewSession,
    now_ms: i64,
) -> Result<Session, StorageError> {
    decider(role)?;
    let kelurahan = kelurahan_of(tx, user)?;
    let year = new.date.get(..4).unwrap_or_default().to_string();
    let seq = tx
        .muskel_sessions(&kelurahan)?
        .iter()
        .filter_map(|r| parse(r).ok())
        .filter(|s| s.date.starts_with(&year))
        .count() as u32
        + 1;
    let id = jemput_core::household::random_id("ms-", &mut rand::thread_rng());
    let s = Session::open(id, &kelurahan, new, seq, user, now_ms).map_err(refused)?;
    store(tx, &s)?;
    tx.audit(crate::audit::Event {
        chain: &kelurahan,
        kind: "muskel_open",
        by: user,
        detail: serde_json::json!({ "session": s.id, "date": s.date }),
    })?;
    Ok(s)
}

fn held(tx: &dyn Tx, user: &str, id: &str) -> Result<Session, StorageError> {
    let kelurahan = kelurahan_of(tx, user)?;
    let record = tx.muskel_session(&kelurahan, id, true)?.ok_or_else(|| {
        StorageError::NotFound(format!("no Muskel session `{id}` in your kelurahan"))
    })?;
    parse(&record)
}

/// Decides the household's proposal of `kind` in the session (put on its agenda if
/// it is not there yet).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    tx: &dyn Tx,
    user: &str,
    role: Role,
    session: &str,
    household: &str,
    kind: ProposalKind,
    outcome: Outcome,
    reason: &str,
    now_ms: i64,
) -> Result<Session, StorageError> {
    decider(role)?;
    let mut s = held(tx, user, session)?;
    let doc = tx.document((household, &s.kelurahan))?.ok_or_else(|| {
        StorageError::NotFound(format!("no household `{household}` in this kelurahan"))
    })?;
    let hh = Household::load(&doc).map_err(|e| StorageError::Internal(e.to_string()))?;
    let proposal = proposals_of(&hh)
        .into_iter()
        .find(|p| p.kind == kind)
        .ok_or_else(|| {
            StorageError::Refused(format!(
                "household `{household}` stands for no {} proposal now",
                kind.code()
            ))
        })?;
    s.decide(proposal, outcome, reason, user, now_ms)
        .map_err(refused)?;
    store(tx, &s)?;
    tx.audit(crate::audit::Event {
        chain: &s.kelurahan,
        kind: "muskel_decision",
        by: user,
        detail: serde_json::json!({
            "session": s.id, "household": household, "kind": kind.code(), "outcome": outcome,
        }),
    })?;
    Ok(s)
}

/// Closes the session: every proposal on its agenda decided, its decisions final.
pub fn close(tx: &dyn Tx, user: &str, role: Role, session: &str) -> Result<Session, StorageError> {
    decider(role)?;
    let mut s = held(tx, user, session)?;
    s.close().map_err(refused)?;
    store(tx, &s)?;
    tx.audit(crate::audit::Event {
        chain: &s.kelurahan,
        kind: "muskel_close",
        by: user,
        detail: serde_json::json!({
            "session": s.id,
            "approved": s.count(Outcome::Approved),
            "rejected": s.count(Outcome::Rejected),
            "deferred": s.count(Outcome::Deferred),
        }),
    })?;
    Ok(s)
}

/// The proposals a household document stands for (the same derivation as the device's).
pub fn proposals_of(hh: &Household) -> Vec<muskel::Proposal> {
    let s = hh.summary(super::indicator_set());
    muskel::proposals_of(&Basis {
        household: hh.id().unwrap_or_default(),
        head_name: s.head_name,
        head_nik: s.head_nik,
        kk: s.kk,
        address: s.address,
        rw: s.rw,
        rt: s.rt,
        proposal: s.proposal,
        status: s.status,
        last_visit: s.last_visit,
        poor: s.poor,
        incomplete: s.incomplete,
        duplicate_of: hh.duplicate_of().is_some(),
    })
}
