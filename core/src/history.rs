//! A household's history, read from its Automerge document: every change with who,
//! when, from which device and what it did, in words; and the household as it stood at
//! a moment.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ChangeHash, ScalarValue};
use serde::Serialize;

use crate::household::{Household, HouseholdError};

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct HistoryEntry {
    pub hash: String,
    /// Milliseconds since the epoch, as the author's device recorded it.
    #[ts(type = "number")]
    pub at: i64,
    pub by: Option<String>,
    pub device: String,
    /// What the change did, one line per field, e.g. `status = "moved"`.
    pub changes: Vec<String>,
}

fn scalar_words(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Str(t) => format!("\"{t}\""),
        other => other.to_string(),
    }
}

impl Household {
    /// Every change, oldest first (causal order). Read from the changes' operations,
    /// not by diffing document states, so it stays linear in the history's size.
    pub fn history(&mut self) -> Vec<HistoryEntry> {
        // Path of every map created so far, keyed by the operation that created it.
        let mut paths: HashMap<OpId, String> = HashMap::new();
        let mut out = Vec::new();
        for c in self.doc.get_changes(&[]) {
            let expanded = c.decode();
            let mut lines = Vec::new();
            let ops = &expanded.operations;
            for (i, op) in ops.iter().enumerate() {
                let parent = match &op.obj {
                    ObjectId::Root => String::new(),
                    ObjectId::Id(id) => paths.get(id).cloned().unwrap_or_else(|| "?".into()),
                };
                let key = match &op.key {
                    Key::Map(k) => k.to_string(),
                    Key::Seq(_) => "[…]".to_string(),
                };
                let path = if parent.is_empty() {
                    key.clone()
                } else {
                    format!("{parent}.{key}")
                };
                match &op.action {
                    OpType::Make(_) => {
                        let id = OpId::new(expanded.start_op.get() + i as u64, &expanded.actor_id);
                        paths.insert(id, path.clone());
                        lines.push(format!("{path} added"));
                    }
                    OpType::Put(v) => lines.push(format!("{path} = {}", scalar_words(v))),
                    // A delete right before a put of the same key is how a visit rewrites
                    // the status; the put says it all.
                    OpType::Delete => {
                        let rewritten = ops
                            .get(i + 1)
                            .is_some_and(|next| next.obj == op.obj && next.key == op.key);
                        if !rewritten {
                            lines.push(format!("{path} removed"));
                        }
                    }
                    other => lines.push(format!("{path}: {other:?}")),
                }
            }
            out.push(HistoryEntry {
                hash: c.hash().to_string(),
                at: c.timestamp(),
                // Named by the device from the server's record of authors.
                by: None,
                device: c.actor_id().to_hex_string(),
                changes: lines,
            });
        }
        out
    }

    /// The household as it stood at `until_ms`: the changes stamped up to then whose
    /// history is complete (a change is left out with anything that depends on it).
    pub fn as_of(&mut self, until_ms: i64) -> Result<Household, HouseholdError> {
        let mut included: HashSet<ChangeHash> = HashSet::new();
        let mut depended: HashSet<ChangeHash> = HashSet::new();
        for c in self.doc.get_changes(&[]) {
            if c.timestamp() <= until_ms && c.deps().iter().all(|d| included.contains(d)) {
                included.insert(c.hash());
                depended.extend(c.deps().iter().copied());
            }
        }
        let heads: Vec<ChangeHash> = included.difference(&depended).copied().collect();
        if heads.is_empty() {
            return Err(HouseholdError::Invalid(
                "the household did not exist yet at that time".into(),
            ));
        }
        Household::from_doc(self.doc.fork_at(&heads)?)
    }
}

/// `YYYY-MM-DD` (the end of that day, UTC) or an RFC 3339 time, as epoch milliseconds.
pub fn parse_when(s: &str) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    let invalid = || format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time");
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let end = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| invalid())?
        .with_hms_milli(23, 59, 59, 999)
        .map_err(|_| invalid())?
        .assume_utc();
    Ok((end.unix_timestamp_nanos() / 1_000_000) as i64)
}
