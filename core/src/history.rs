//! A household's history, read from its Automerge document: every change with who,
//! when, from which device and what it did, in words; and the household as it stood at
//! a moment.

use std::collections::HashSet;

use automerge::{ChangeHash, PatchAction, Prop, Value};
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

fn words(v: &Value<'_>) -> String {
    match v {
        Value::Object(_) => "{…}".to_string(),
        Value::Scalar(s) => match s.as_ref() {
            automerge::ScalarValue::Str(t) => format!("\"{t}\""),
            other => other.to_string(),
        },
    }
}

impl Household {
    /// Every change, oldest first (causal order).
    pub fn history(&mut self) -> Vec<HistoryEntry> {
        let changes = self.doc.get_changes(&[]);
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            let deps: Vec<ChangeHash> = c.deps().to_vec();
            let patches = self.doc.diff(&deps, &[c.hash()]);
            let mut lines = Vec::new();
            for p in patches {
                let mut path: Vec<String> = p
                    .path
                    .iter()
                    .map(|(_, prop)| match prop {
                        Prop::Map(k) => k.to_string(),
                        Prop::Seq(i) => i.to_string(),
                    })
                    .collect();
                match p.action {
                    PatchAction::PutMap { key, value, .. } => {
                        path.push(key);
                        lines.push(match value.0 {
                            Value::Object(_) => format!("{} added", path.join(".")),
                            v => format!("{} = {}", path.join("."), words(&v)),
                        });
                    }
                    PatchAction::DeleteMap { key } => {
                        path.push(key);
                        lines.push(format!("{} removed", path.join(".")));
                    }
                    other => lines.push(format!("{}: {other:?}", path.join("."))),
                }
            }
            out.push(HistoryEntry {
                hash: c.hash().to_string(),
                at: c.timestamp(),
                by: c
                    .message()
                    .map(|m| m.rsplit(" by ").next().unwrap_or(m).to_string()),
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
