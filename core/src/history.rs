//! A household's history, read from its Automerge document: every change with who,
//! when, from which device and what it did, in words; and the household as it stood at
//! a moment.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ChangeHash, ScalarValue};
use serde::Serialize;

use crate::household::{Household, HouseholdError};

use crate::indicators::IndicatorSet;
use crate::words::{field_label, format_time, result_label, value_words, Lang};

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct HistoryEntry {
    pub hash: String,
    /// Milliseconds since the epoch, as the author's device recorded it.
    #[ts(type = "number")]
    pub at: i64,
    pub by: Option<String>,
    pub device: String,
    /// What the change did, field by field.
    pub changes: Vec<FieldChange>,
    /// The change as a sentence in the reader's language ([`describe`]); empty until
    /// the device, which knows who `by` is, fills it.
    pub text: String,
}

/// One field a change wrote: its path, its value (typed: numbers stay numbers), the
/// value before, and the field's name in words.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct FieldChange {
    pub path: String,
    #[ts(type = "\"set\" | \"added\" | \"removed\"")]
    pub op: &'static str,
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
    #[ts(type = "unknown")]
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub before: serde_json::Value,
    pub label: String,
}

fn scalar_value(v: &ScalarValue) -> serde_json::Value {
    crate::household::scalar_json(v)
}

/// Fills each entry's `text` and its fields' `label` in `lang`.
pub fn describe(entries: &mut [HistoryEntry], set: &IndicatorSet, lang: Lang) {
    for e in entries {
        for c in &mut e.changes {
            c.label = field_label(&c.path, set, lang);
        }
        e.text = sentence(e, set, lang);
    }
}

fn sentence(e: &HistoryEntry, set: &IndicatorSet, lang: Lang) -> String {
    let who =
        e.by.clone()
            .unwrap_or_else(|| lang.pick("Perangkat lain", "Another device").to_string());
    let find = |pred: &dyn Fn(&[&str], &FieldChange) -> bool| {
        e.changes.iter().find(|c| {
            let parts: Vec<&str> = c.path.split('.').collect();
            pred(&parts, c)
        })
    };
    if find(&|p, c| p == ["identity"] && c.op == "added").is_some() {
        let proposal = find(&|p, c| p == ["proposal"] && c.value == serde_json::json!(true));
        return if proposal.is_some() {
            format!(
                "{who} {}",
                lang.pick("mengusulkan rumah tangga baru", "proposed a new household")
            )
        } else {
            format!(
                "{who} {}",
                lang.pick(
                    "membuat data rumah tangga dari registri",
                    "created the household from the registry"
                )
            )
        };
    }
    if let Some(r) =
        find(&|p, c| p.len() == 3 && p[0] == "visits" && p[2] == "result" && c.op == "set")
    {
        let result = result_label(r.value.as_str().unwrap_or_default(), lang);
        return format!(
            "{who} {}: {result}",
            lang.pick("mencatat kunjungan", "recorded a visit")
        );
    }
    if find(&|p, c| p.len() == 2 && p[0] == "resolutions" && c.op == "added").is_some() {
        let note = find(&|p, _| p.len() == 3 && p[0] == "notes" && p[2] == "text");
        let base = format!(
            "{who} {}",
            lang.pick("memutuskan konflik", "decided a conflict")
        );
        return match note {
            Some(n) => format!(
                "{base}, {}: “{}”",
                lang.pick("dengan catatan", "with a note"),
                value_words(&n.value, lang)
            ),
            None => base,
        };
    }
    if let Some(w) =
        find(&|p, c| p.len() == 3 && p[0] == "visits" && p[2] == "withdrawn" && c.op == "set")
    {
        if w.value == serde_json::json!(true) {
            return format!(
                "{who} {}",
                lang.pick("menarik kunjungan", "withdrew a visit")
            );
        }
    }
    if let Some(m) = find(&|p, c| p.len() == 2 && p[0] == "members" && c.op == "added") {
        let name = find(&|p, _| {
            p.len() == 3
                && p[0] == "members"
                && p[1] == m.path.split('.').nth(1).unwrap_or_default()
                && p[2] == "name"
        });
        return format!(
            "{who} {}: {}",
            lang.pick("menambah anggota", "added a member"),
            name.map(|n| value_words(&n.value, lang))
                .unwrap_or_default()
        );
    }
    let sets: Vec<&FieldChange> = e.changes.iter().filter(|c| c.op == "set").collect();
    if let Some(first) = sets.first() {
        let label = field_label(&first.path, set, lang);
        let mut s = format!(
            "{who} {} {}: ",
            lang.pick("mengubah", "changed"),
            lowercase_first(&label)
        );
        if !first.before.is_null() {
            s.push_str(&format!("{} → ", value_words(&first.before, lang)));
        }
        s.push_str(&value_words(&first.value, lang));
        if sets.len() > 1 {
            s.push_str(&match lang {
                Lang::Id => format!(" (dan {} lainnya)", sets.len() - 1),
                Lang::En => format!(" (and {} more)", sets.len() - 1),
            });
        }
        return s;
    }
    format!("{who} {}", lang.pick("mengubah data", "changed the record"))
}

/// "Alamat" → "alamat" mid-sentence; names that are codes (RW, NIK, KK, PKH) stay.
fn lowercase_first(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            a.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_string(),
    }
}

/// A time for a person: the kelurahan's clock, in `lang`.
pub fn format_when(ms: i64) -> String {
    format_time(ms, Lang::from_env())
}

impl Household {
    /// Every change, oldest first (causal order). Read from the changes' operations,
    /// not by diffing document states, so it stays linear in the history's size.
    pub fn history(&mut self) -> Vec<HistoryEntry> {
        // Path of every map created so far, keyed by the operation that created it.
        let mut paths: HashMap<OpId, String> = HashMap::new();
        // The last value written at each path, for "before → after".
        let mut last: HashMap<String, serde_json::Value> = HashMap::new();
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
                let change = |op: &'static str, value: serde_json::Value, before| FieldChange {
                    path: path.clone(),
                    op,
                    value,
                    before,
                    label: String::new(),
                };
                match &op.action {
                    OpType::Make(_) => {
                        let id = OpId::new(expanded.start_op.get() + i as u64, &expanded.actor_id);
                        paths.insert(id, path.clone());
                        lines.push(change(
                            "added",
                            serde_json::Value::Null,
                            serde_json::Value::Null,
                        ));
                    }
                    OpType::Put(v) => {
                        let value = scalar_value(v);
                        let before = last.insert(path.clone(), value.clone()).unwrap_or_default();
                        let before = if before == value {
                            serde_json::Value::Null
                        } else {
                            before
                        };
                        lines.push(change("set", value, before));
                    }
                    // A delete right before a put of the same key is how a visit rewrites
                    // the status; the put says it all.
                    OpType::Delete => {
                        let rewritten = ops
                            .get(i + 1)
                            .is_some_and(|next| next.obj == op.obj && next.key == op.key);
                        if !rewritten {
                            let before = last.remove(&path).unwrap_or_default();
                            lines.push(change("removed", serde_json::Value::Null, before));
                        }
                    }
                    _ => lines.push(change(
                        "set",
                        serde_json::Value::Null,
                        serde_json::Value::Null,
                    )),
                }
            }
            out.push(HistoryEntry {
                hash: c.hash().to_string(),
                at: c.timestamp(),
                // Named by the device from the server's record of authors.
                by: None,
                device: c.actor_id().to_hex_string(),
                changes: lines,
                text: String::new(),
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

/// `YYYY-MM-DD` (the end of that day in `zone`) or an RFC 3339 time, as epoch milliseconds.
pub fn parse_when(s: &str, zone: crate::zone::Zone) -> Result<i64, String> {
    zone.parse_when(s)
}
