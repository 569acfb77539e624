//! Complaints and referrals (`jemput_core::cases`), kept by the server and scoped
//! like their household: a case about a household belongs to that household's RW, one
//! about an unregistered resident to the RW it names. A user reads and receives cases
//! of their areas; the kelurahan's operator or fasilitator assigns them (to a kader of
//! the case's RW) and closes them; the assigned kader links the verification visit.
//! Each step is audited in the kelurahan's chain (ids and kinds, never the text).

use jemput_core::cases::{Case, NewCase};
use jemput_core::rules::Role;
use jemput_core::sync::Area;
use jemput_core::zone::Zone;

use super::store::Tx;
use super::StorageError;

fn parse(record: &str) -> Result<Case, StorageError> {
    serde_json::from_str(record)
        .map_err(|e| StorageError::Internal(format!("a stored case does not read: {e}")))
}

fn store(tx: &dyn Tx, c: &Case) -> Result<(), StorageError> {
    let record = serde_json::to_string(c)
        .map_err(|e| StorageError::Internal(format!("a case does not write: {e}")))?;
    tx.put_case(&c.kelurahan, &c.id, c.rw, &record)
}

fn refused(e: jemput_core::cases::CaseError) -> StorageError {
    StorageError::Refused(e.0)
}

fn office(role: Role) -> Result<(), StorageError> {
    if role.capabilities().muskel {
        Ok(())
    } else {
        Err(StorageError::Forbidden(format!(
            "a {} does not assign or close cases: the operator or fasilitator does",
            role.as_str()
        )))
    }
}

fn audit(tx: &dyn Tx, c: &Case, kind: &str, by: &str) -> Result<(), StorageError> {
    tx.audit(crate::audit::Event {
        chain: &c.kelurahan,
        kind,
        by,
        detail: serde_json::json!({ "case": c.id, "rw": c.rw, "category": c.category }),
    })
}

/// Receives a case (the same id again: the case as first received).
pub fn receive(tx: &dyn Tx, user: &str, new: NewCase) -> Result<Case, StorageError> {
    let areas = tx.areas(user)?;
    let (kelurahan, rw) = match (&new.household, new.rw) {
        (Some(h), _) => tx
            .area_of(h)?
            .ok_or_else(|| StorageError::NotFound(format!("no household `{h}`")))?,
        (None, Some(rw)) => {
            let mut kel: Vec<&str> = areas.iter().map(|a| a.kelurahan.as_str()).collect();
            kel.dedup();
            match kel.as_slice() {
                [one] => (one.to_string(), rw),
                _ => {
                    return Err(StorageError::Refused(
                        "name the household: you hold several kelurahans".into(),
                    ))
                }
            }
        }
        (None, None) => {
            return Err(StorageError::Refused(
                "a case names its household or its RW".into(),
            ))
        }
    };
    if !areas.iter().any(|a| a.covers(&kelurahan, rw)) {
        return Err(StorageError::Forbidden(
            "the case's household or RW is outside your areas".into(),
        ));
    }
    if let Some(kept) = tx.case(&kelurahan, &new.id, true)? {
        let kept = parse(&kept)?;
        return if kept.received_by == user {
            Ok(kept)
        } else {
            Err(StorageError::Refused(format!("case `{}` exists", new.id)))
        };
    }
    let settings = tx.settings(&kelurahan)?.unwrap_or_default();
    let zone = settings
        .zone
        .and_then(|z| Zone::parse(&z).ok())
        .unwrap_or_default();
    let due_days = super::server::stored_deadlines(settings.deadlines).complaint_days;
    let c = Case::receive(new, &kelurahan, rw, user, due_days, zone, super::now_ms())
        .map_err(refused)?;
    store(tx, &c)?;
    audit(tx, &c, "case_received", user)?;
    Ok(c)
}

/// The cases of the user's areas, oldest first.
pub fn list(tx: &dyn Tx, user: &str) -> Result<Vec<Case>, StorageError> {
    let areas = tx.areas(user)?;
    let mut kelurahans: Vec<&str> = areas.iter().map(|a| a.kelurahan.as_str()).collect();
    kelurahans.sort_unstable();
    kelurahans.dedup();
    let mut out = Vec::new();
    for k in kelurahans {
        for r in tx.cases(k)? {
            let c = parse(&r)?;
            if areas.iter().any(|a| a.covers(&c.kelurahan, c.rw)) {
                out.push(c);
            }
        }
    }
    out.sort_by_key(|c| c.received_ms);
    Ok(out)
}

/// The case `id` in the user's areas, held for this transaction's write.
fn held(tx: &dyn Tx, areas: &[Area], id: &str) -> Result<Case, StorageError> {
    let mut kelurahans: Vec<&str> = areas.iter().map(|a| a.kelurahan.as_str()).collect();
    kelurahans.dedup();
    for k in kelurahans {
        if let Some(r) = tx.case(k, id, true)? {
            let c = parse(&r)?;
            if areas.iter().any(|a| a.covers(&c.kelurahan, c.rw)) {
                return Ok(c);
            }
        }
    }
    Err(StorageError::NotFound(format!(
        "no case `{id}` in your areas"
    )))
}

/// Assigns the case to a kader who holds its RW.
pub fn assign(
    tx: &dyn Tx,
    user: &str,
    role: Role,
    id: &str,
    kader: &str,
    now_ms: i64,
) -> Result<Case, StorageError> {
    office(role)?;
    let mut c = held(tx, &tx.areas(user)?, id)?;
    let holds = tx.user(kader)?.is_some_and(|u| u.role == Role::Kader)
        && tx
            .areas(kader)?
            .iter()
            .any(|a| a.covers(&c.kelurahan, c.rw));
    if !holds {
        return Err(StorageError::Refused(format!(
            "`{kader}` is no kader of RW {:03}",
            c.rw
        )));
    }
    c.assign(kader, user, now_ms).map_err(refused)?;
    store(tx, &c)?;
    audit(tx, &c, "case_assigned", user)?;
    Ok(c)
}

/// Links the verification visit (a visit of the case's household).
pub fn link_visit(
    tx: &dyn Tx,
    user: &str,
    role: Role,
    id: &str,
    visit: &str,
    now_ms: i64,
) -> Result<Case, StorageError> {
    let mut c = held(tx, &tx.areas(user)?, id)?;
    if c.assigned.as_deref() != Some(user) && !role.capabilities().muskel {
        return Err(StorageError::Forbidden(
            "only the assigned kader or the office links the visit".into(),
        ));
    }
    let household = c
        .household
        .clone()
        .ok_or_else(|| StorageError::Refused("the case names no household to visit".into()))?;
    let doc = tx
        .document((&household, &c.kelurahan))?
        .ok_or_else(|| StorageError::NotFound(format!("no household `{household}`")))?;
    let hh =
        jemput_core::Household::load(&doc).map_err(|e| StorageError::Internal(e.to_string()))?;
    if !hh.has_visit(visit) {
        return Err(StorageError::Refused(format!(
            "the household has no visit `{visit}` (sync it first)"
        )));
    }
    c.link_visit(visit, user, now_ms).map_err(refused)?;
    store(tx, &c)?;
    audit(tx, &c, "case_visit", user)?;
    Ok(c)
}

pub fn close(
    tx: &dyn Tx,
    user: &str,
    role: Role,
    id: &str,
    outcome: &str,
    note: &str,
    now_ms: i64,
) -> Result<Case, StorageError> {
    office(role)?;
    let mut c = held(tx, &tx.areas(user)?, id)?;
    c.close(outcome, note, user, now_ms).map_err(refused)?;
    store(tx, &c)?;
    audit(tx, &c, "case_closed", user)?;
    Ok(c)
}
