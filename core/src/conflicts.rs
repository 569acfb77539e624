//! Conflicts a fasilitator decides, within one household document: *field conflicts*
//! (concurrent writes Automerge kept side by side) and *divergent visits* (two visits
//! in the same period that disagree). Possible duplicates span households and are found
//! by the store. Also the decisions themselves — a resolution is an ordinary change,
//! recorded under `resolutions` with an optional note to the kader under `notes` — and
//! office corrections (`edit`).
//!
//! A conflict's id is derived from what it is about (household, path, the operation ids
//! of the values, or the visit ids), so every device computes the same id.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ValueRef, ROOT};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::household::{
    obj_json, parse_date, score_visit, value_json, Author, Household, HouseholdError, VisitResult,
    PRESENCE,
};
use crate::indicators::IndicatorSet;
use crate::nik::{Kk, Nik, Sex};

/// A field holding concurrent values (two or more *different* values).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Conflict {
    pub path: String,
    pub values: Vec<ConflictValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ConflictValue {
    pub value: serde_json::Value,
    pub by: Option<String>,
    /// Milliseconds since the epoch (JSON number).
    #[ts(type = "number")]
    pub at: i64,
    pub device: String,
    /// The visit recorded in the same change, when a visit wrote this value.
    pub visit: Option<String>,
    /// Automerge operation id: the same on every device.
    #[serde(skip)]
    #[ts(skip)]
    pub op: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    Field,
    DivergentVisits,
    PossibleDuplicate,
}

impl ConflictKind {
    pub fn code(self) -> &'static str {
        match self {
            ConflictKind::Field => "field",
            ConflictKind::DivergentVisits => "divergent_visits",
            ConflictKind::PossibleDuplicate => "possible_duplicate",
        }
    }
    pub fn parse(s: &str) -> Option<ConflictKind> {
        [
            ConflictKind::Field,
            ConflictKind::DivergentVisits,
            ConflictKind::PossibleDuplicate,
        ]
        .into_iter()
        .find(|k| k.code() == s)
    }
}

/// What the fasilitator chooses between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceAction {
    Value,
    Visit,
    KeepBoth,
    DuplicateOf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Choice {
    pub n: u32,
    #[ts(type = "\"value\" | \"visit\" | \"keep_both\" | \"duplicate_of\"")]
    pub action: ChoiceAction,
    pub value: serde_json::Value,
    pub by: Option<String>,
    #[ts(type = "number")]
    pub at: i64,
    pub device: Option<String>,
    pub visit: Option<String>,
    pub other_household: Option<String>,
    /// The notes of the visit this choice came with, for the one who decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ConflictItem {
    pub id: String,
    #[ts(type = "\"field\" | \"divergent_visits\" | \"possible_duplicate\"")]
    pub kind: ConflictKind,
    pub household: String,
    pub rw: u16,
    pub rt: u16,
    pub head_name: Option<String>,
    pub path: Option<String>,
    /// The field (or the kind of conflict) in words, in the reader's language; filled
    /// by the device ([`ConflictItem::describe`]).
    #[serde(default)]
    pub label: String,
    pub choices: Vec<Choice>,
}

impl ConflictItem {
    /// Fills `label` in `lang`.
    pub fn describe(&mut self, set: &IndicatorSet, lang: crate::words::Lang) {
        use crate::words::{field_label, Lang};
        self.label = match (self.kind, self.path.as_deref(), lang) {
            (ConflictKind::Field, Some(p), _) => field_label(p, set, lang),
            (ConflictKind::DivergentVisits, _, Lang::Id) => {
                "Hasil kunjungan bulan yang sama berbeda".into()
            }
            (ConflictKind::DivergentVisits, _, Lang::En) => "Visits of one month disagree".into(),
            (ConflictKind::PossibleDuplicate, why, Lang::Id) => format!(
                "Kemungkinan duplikat ({})",
                match why {
                    Some("nik") => "NIK sama",
                    Some("kk") => "KK sama",
                    _ => "kepala keluarga sama",
                }
            ),
            (ConflictKind::PossibleDuplicate, why, Lang::En) => format!(
                "Possible duplicate ({})",
                match why {
                    Some("nik") => "same NIK",
                    Some("kk") => "same KK",
                    _ => "same head",
                }
            ),
            (_, p, _) => p.unwrap_or_default().to_string(),
        };
    }
}

/// A note from the fasilitator that travels to the field with a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Note {
    pub text: String,
    pub by: String,
    #[ts(type = "number")]
    pub at: i64,
    pub conflict: Option<String>,
}

/// A decision or note as the store's inbox index keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEntry {
    pub id: String,
    pub kind: &'static str,
    pub by: String,
    pub at: i64,
    pub item: serde_json::Value,
}

/// How a conflict is decided: one of its numbered choices, or a corrected value.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pick(u32),
    Value(String),
}

pub fn conflict_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("c-{}", &hex::encode(h.finalize())[..20])
}

/// Keys whose values a kader may not change on an existing household: identity and
/// imports belong to the office, decisions to the fasilitator.
const OFFICE_KEYS: [&str; 5] = [
    "identity",
    "registry",
    "resolutions",
    "notes",
    "duplicate_of",
];

/// Leaf fields an office correction may set, with how the value is checked.
fn check_edit(path: &[&str], value: &str) -> Result<(), HouseholdError> {
    let bad = |m: String| Err(HouseholdError::Invalid(m));
    match path {
        ["status"] => VisitResult::parse(value).map(|_| ()),
        ["identity", "address" | "id_dtks" | "idbdt" | "kelurahan_bps"] => Ok(()),
        ["identity", "kk"] => Kk::parse(value).map(|_| ()).map_err(HouseholdError::Kk),
        ["members", _, "name" | "relation"] if !value.trim().is_empty() => Ok(()),
        ["members", _, "nik"] => Nik::parse(value).map(|_| ()).map_err(HouseholdError::Nik),
        ["members", _, "sex"] => Sex::parse(value)
            .map(|_| ())
            .ok_or_else(|| HouseholdError::Invalid("sex must be L or P".into())),
        ["members", _, "birth_date"] => parse_date(value).map(|_| ()),
        ["members", _, "presence"] if PRESENCE.contains(&value) => Ok(()),
        ["identity", "rw" | "rt"] => bad("RW/RT change with the server's `move` command".into()),
        ["registry", ..] => bad("registry data is imported from Dinas Sosial, read-only".into()),
        _ => bad(format!(
            "`{}` cannot be edited (or the value is not valid there)",
            path.join(".")
        )),
    }
}

fn put_json(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    v: &serde_json::Value,
) -> Result<(), HouseholdError> {
    match v {
        serde_json::Value::String(s) => doc.put(obj, key, s.as_str())?,
        serde_json::Value::Bool(b) => doc.put(obj, key, *b)?,
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => doc.put(obj, key, i)?,
            None => doc.put(obj, key, n.as_f64().unwrap_or(0.0))?,
        },
        serde_json::Value::Null => doc.put(obj, key, ScalarValue::Null)?,
        _ => {
            return Err(HouseholdError::Invalid(
                "only a text, number, yes/no or empty value can be chosen here".into(),
            ))
        }
    }
    Ok(())
}

impl Household {
    /// Every field that holds two or more different concurrent values, with who wrote
    /// each, when, from which device, and in which visit.
    pub fn conflicts(&self) -> Vec<Conflict> {
        // Which visit wrote a value is asked only when some field holds two values.
        let visits = std::cell::OnceCell::new();
        let visits = Visits {
            cell: &visits,
            make: &|| self.visits_by_change(),
        };
        let mut out = Vec::new();
        collect(&self.doc, &ROOT, "", &visits, &mut out);
        out
    }

    /// Change hash → visit id, for the visits each change created.
    fn visits_by_change(&self) -> HashMap<ChangeHash, String> {
        let mut out = HashMap::new();
        if let Some(v) = self.obj("visits") {
            for item in self.doc.map_range(&v, ..) {
                if let Some(h) = self.doc.hash_for_opid(&item.id()) {
                    out.insert(h, item.key.to_string());
                }
            }
        }
        out
    }

    fn map_keys(&self, key: &str) -> Vec<String> {
        self.obj(key)
            .map(|o| self.doc.keys(&o).collect())
            .unwrap_or_default()
    }

    /// Decisions and notes, for the kader's inbox (the store indexes them).
    pub fn inbox_entries(&self) -> Vec<InboxEntry> {
        let mut out = Vec::new();
        for (map, kind) in [("resolutions", "decision"), ("notes", "note")] {
            let Some(obj) = self.obj(map) else { continue };
            let Some(entries) = obj_json(&self.doc, &obj).as_object().cloned() else {
                continue;
            };
            for (id, mut v) in entries {
                let by = v
                    .get("by")
                    .and_then(|b| b.as_str())
                    .unwrap_or_default()
                    .to_string();
                let at = v.get("at").and_then(|a| a.as_i64()).unwrap_or(0);
                if let Some(o) = v.as_object_mut() {
                    o.remove("by");
                    o.remove("at");
                    if kind == "decision" {
                        if let Some(k) = o.remove("kind") {
                            o.insert("conflict_kind".into(), k);
                        }
                        o.insert("conflict".into(), serde_json::json!(id));
                    }
                }
                out.push(InboxEntry {
                    id,
                    kind,
                    by,
                    at,
                    item: v,
                });
            }
        }
        out
    }

    /// Conflict ids decided in this document.
    pub fn resolved_ids(&self) -> Vec<String> {
        self.map_keys("resolutions")
    }

    pub fn notes(&self) -> BTreeMap<String, Note> {
        let Some(notes) = self.obj("notes") else {
            return BTreeMap::new();
        };
        obj_json(&self.doc, &notes)
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        serde_json::from_value(v.clone())
                            .ok()
                            .map(|n| (k.clone(), n))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Open field conflicts and divergent visits of this household (possible
    /// duplicates need the other households: see the store).
    pub fn open_conflicts(&self, set: &IndicatorSet) -> Vec<ConflictItem> {
        let id = self.id().unwrap_or_default();
        let (_, rw, rt) = self.area();
        let head_name = self.head().0;
        let item = |cid: String, kind, path: Option<String>, choices| ConflictItem {
            id: cid,
            kind,
            household: id.clone(),
            rw,
            rt,
            head_name: head_name.clone(),
            path,
            label: String::new(),
            choices,
        };
        let visit_notes = |vid: &Option<String>| -> Option<String> {
            let visits = self.obj("visits")?;
            let v = match self.doc.get(&visits, vid.as_deref()?) {
                Ok(Some((automerge::Value::Object(_), o))) => o,
                _ => return None,
            };
            self.get_str(&v, "notes")
        };
        let mut out = Vec::new();
        for c in self.conflicts() {
            // A conflict on an office-owned map key itself (not a field) cannot be
            // chosen between meaningfully; its fields are reported one by one.
            let mut ops: Vec<&str> = c.values.iter().map(|v| v.op.as_str()).collect();
            ops.sort();
            let mut parts = vec![id.as_str(), "field", c.path.as_str()];
            parts.extend(ops);
            let choices = c
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| Choice {
                    n: i as u32 + 1,
                    action: ChoiceAction::Value,
                    value: v.value.clone(),
                    by: v.by.clone(),
                    at: v.at,
                    device: Some(v.device.clone()),
                    visit: v.visit.clone(),
                    other_household: None,
                    notes: visit_notes(&v.visit),
                })
                .collect();
            out.push(item(
                conflict_id(&parts),
                ConflictKind::Field,
                Some(c.path),
                choices,
            ));
        }
        let resolved = self.resolved_ids();
        for (period, visits) in self.visits_by_period(set) {
            if visits.len() < 2 {
                continue;
            }
            let first = &visits[0].1;
            let differ = visits.iter().any(|(_, v)| {
                v["result"] != first["result"]
                    || v["met"] != first["met"]
                    || v["poor"] != first["poor"]
            });
            if !differ {
                continue;
            }
            let mut parts = vec![id.as_str(), "visits", period.as_str()];
            parts.extend(visits.iter().map(|(vid, _)| vid.as_str()));
            let cid = conflict_id(&parts);
            if resolved.contains(&cid) {
                continue;
            }
            let choices = visits
                .iter()
                .enumerate()
                .map(|(i, (vid, v))| Choice {
                    n: i as u32 + 1,
                    action: ChoiceAction::Visit,
                    value: serde_json::json!({
                        "result": v["result"], "score": v["score"], "poor": v["poor"], "met": v["met"], "date": v["date"]
                    }),
                    by: v["kader"].as_str().map(String::from),
                    at: v["at"].as_i64().unwrap_or(0),
                    device: v["device"].as_str().map(String::from),
                    visit: Some(vid.clone()),
                    other_household: None,
                    notes: v["notes"].as_str().map(String::from),
                })
                .collect();
            out.push(item(cid, ConflictKind::DivergentVisits, None, choices));
        }
        out
    }

    /// Visits of the periods (calendar months) with two or more visits, each scored,
    /// ordered by date then id.
    fn visits_by_period(
        &self,
        set: &IndicatorSet,
    ) -> BTreeMap<String, Vec<(String, serde_json::Value)>> {
        let mut out: BTreeMap<String, Vec<(String, serde_json::Value)>> = BTreeMap::new();
        let Some(visits) = self.obj("visits") else {
            return out;
        };
        // Periods first, from each visit's date alone: only a period with two or more
        // visits can hold a conflict, so only those visits are read whole and scored
        // (a save stays flat in the number of earlier periods).
        let mut by_period: BTreeMap<String, Vec<(String, automerge::ObjId)>> = BTreeMap::new();
        for item in self.doc.map_range(&visits, ..) {
            let date = self.visit_date(&item.key, &item.id());
            let period = date.get(..7).unwrap_or("").to_string();
            by_period
                .entry(period)
                .or_default()
                .push((item.key.to_string(), item.id()));
        }
        for (period, items) in by_period {
            if items.len() < 2 {
                continue;
            }
            for (key, id) in items {
                let mut v = obj_json(&self.doc, &id);
                let sc = score_visit(set, &v);
                let device = self
                    .doc
                    .hash_for_opid(&id)
                    .and_then(|h| self.doc.get_change_by_hash(&h))
                    .map(|c| c.actor_id().to_hex_string());
                if let Some(o) = v.as_object_mut() {
                    o.insert("met".into(), serde_json::json!(sc.met));
                    o.insert("score".into(), serde_json::json!(sc.score));
                    o.insert("poor".into(), serde_json::json!(sc.poor));
                    o.insert("device".into(), serde_json::json!(device));
                }
                out.entry(period.clone()).or_default().push((key, v));
            }
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| (a.1["date"].as_str(), &a.0).cmp(&(b.1["date"].as_str(), &b.0)));
        }
        out
    }

    fn path_obj(&self, path: &[&str]) -> Result<ObjId, HouseholdError> {
        let mut obj = ROOT;
        for key in path {
            obj = match self.doc.get(&obj, *key)? {
                Some((automerge::Value::Object(ObjType::Map), id)) => id,
                _ => {
                    return Err(HouseholdError::Invalid(format!(
                        "no `{}` in this household",
                        path.join(".")
                    )))
                }
            };
        }
        Ok(obj)
    }

    /// Decides a conflict of this household. Field conflicts take the chosen or typed
    /// value; divergent visits set the status from the chosen visit; possible duplicates
    /// keep both or mark this household a duplicate. Every decision is recorded under
    /// `resolutions`, with the note (if any) under `notes`.
    pub fn resolve(
        &mut self,
        item: &ConflictItem,
        decision: &Decision,
        note: Option<&str>,
        author: &Author,
        now_ms: i64,
    ) -> Result<(), HouseholdError> {
        let choice = match decision {
            Decision::Pick(n) => {
                Some(item.choices.iter().find(|c| c.n == *n).ok_or_else(|| {
                    HouseholdError::Invalid(format!(
                        "no choice {n}: pick 1 to {}",
                        item.choices.len()
                    ))
                })?)
            }
            Decision::Value(_) => None,
        };
        match (item.kind, decision, choice) {
            (ConflictKind::Field, _, _) => {
                let path_text = item.path.clone().unwrap_or_default();
                let path: Vec<&str> = path_text.split('.').collect();
                let (key, parent) = path
                    .split_last()
                    .ok_or_else(|| HouseholdError::Invalid("empty path".into()))?;
                let obj = self.path_obj(parent)?;
                let value = match (decision, choice) {
                    (_, Some(c)) => c.value.clone(),
                    (Decision::Value(v), None) => {
                        if item
                            .path
                            .as_deref()
                            .is_some_and(|p| !p.starts_with("visits."))
                        {
                            check_edit(&path, v)?;
                        }
                        serde_json::from_str(v).unwrap_or_else(|_| serde_json::json!(v))
                    }
                    _ => return Err(HouseholdError::Invalid("nothing chosen".into())),
                };
                // Delete (every concurrent value) then put: exactly one value remains, and
                // the decision shows in the history as a value set, even when it repeats
                // the value Automerge had picked as the winner.
                self.doc.delete(&obj, *key)?;
                put_json(&mut self.doc, &obj, key, &value)?;
            }
            (ConflictKind::DivergentVisits, Decision::Pick(_), Some(c)) => {
                if let Some(result) = c.value["result"].as_str() {
                    self.doc.put(ROOT, "status", result)?;
                }
            }
            (ConflictKind::PossibleDuplicate, Decision::Pick(_), Some(c)) => {
                if c.action == ChoiceAction::DuplicateOf {
                    if let Some(other) = &c.other_household {
                        self.doc.put(ROOT, "duplicate_of", other.as_str())?;
                    }
                }
            }
            _ => {
                return Err(HouseholdError::Invalid(
                    "a typed value only decides a field conflict; pick one of the choices".into(),
                ))
            }
        }
        let resolutions = self.ensure_map("resolutions")?;
        let r = self
            .doc
            .put_object(&resolutions, item.id.as_str(), ObjType::Map)?;
        self.doc.put(&r, "kind", item.kind.code())?;
        self.doc.put(&r, "by", author.user.as_str())?;
        self.doc.put(&r, "at", ScalarValue::Timestamp(now_ms))?;
        match decision {
            Decision::Pick(n) => self.doc.put(&r, "pick", i64::from(*n))?,
            Decision::Value(v) => self.doc.put(&r, "value", v.as_str())?,
        }
        if let Some(text) = note.map(str::trim).filter(|t| !t.is_empty()) {
            let notes = self.ensure_map("notes")?;
            let nid = format!("n-{}", &item.id[2..]);
            let n = self.doc.put_object(&notes, nid.as_str(), ObjType::Map)?;
            self.doc.put(&n, "text", text)?;
            self.doc.put(&n, "by", author.user.as_str())?;
            self.doc.put(&n, "at", now_ms)?;
            self.doc.put(&n, "conflict", item.id.as_str())?;
        }
        self.commit(now_ms, "resolve");
        Ok(())
    }

    /// Documents from before `resolutions`/`notes` existed get them on first use.
    fn ensure_map(&mut self, key: &str) -> Result<ObjId, HouseholdError> {
        match self.obj(key) {
            Some(o) => Ok(o),
            None => Ok(self.doc.put_object(ROOT, key, ObjType::Map)?),
        }
    }

    /// An office correction of one field (`identity.address`, `members.<id>.name`, …).
    pub fn edit(&mut self, path: &str, value: &str, now_ms: i64) -> Result<(), HouseholdError> {
        let parts: Vec<&str> = path.split('.').collect();
        check_edit(&parts, value)?;
        let (key, parent) = parts
            .split_last()
            .ok_or_else(|| HouseholdError::Invalid("empty path".into()))?;
        let obj = self.path_obj(parent)?;
        self.doc.put(&obj, *key, value.trim())?;
        self.commit(now_ms, "edit");
        Ok(())
    }

    /// The parts of the household a kader may not change (see the server's check).
    pub fn office_state(&self) -> serde_json::Value {
        let root = obj_json(&self.doc, &ROOT);
        OFFICE_KEYS
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    root.get(*k).cloned().unwrap_or(serde_json::Value::Null),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// Change hash → the visit it created, computed on first use.
struct Visits<'a> {
    cell: &'a std::cell::OnceCell<HashMap<ChangeHash, String>>,
    make: &'a dyn Fn() -> HashMap<ChangeHash, String>,
}

impl Visits<'_> {
    fn get(&self, h: &ChangeHash) -> Option<String> {
        self.cell.get_or_init(self.make).get(h).cloned()
    }
}

fn collect(
    doc: &AutoCommit,
    obj: &ObjId,
    path: &str,
    visits: &Visits<'_>,
    out: &mut Vec<Conflict>,
) {
    for item in doc.map_range(obj, ..) {
        let key = item.key.to_string();
        let p = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        // `conflict` says whether the key holds concurrent values: only then is it
        // worth reading them all.
        // Two imports' stamps concurrently are bookkeeping, not a choice for anyone.
        let all = if item.conflict && p != "registry.imported" {
            doc.get_all(obj, key.as_str()).unwrap_or_default()
        } else {
            Vec::new()
        };
        if all.len() > 1 {
            let values: Vec<ConflictValue> = all
                .iter()
                .map(|(v, id)| {
                    let hash = doc.hash_for_opid(id);
                    let meta = hash.and_then(|h| doc.get_change_by_hash(&h));
                    ConflictValue {
                        value: value_json(doc, v, id),
                        // Named by the device from the server's record of authors.
                        by: None,
                        at: meta.as_ref().map_or(0, |c| c.timestamp()),
                        device: meta.map_or_else(String::new, |c| c.actor_id().to_hex_string()),
                        visit: hash.and_then(|h| visits.get(&h)),
                        op: id.to_string(),
                    }
                })
                .collect();
            // Concurrent writes of the same value agree: not a conflict.
            let first = &values[0].value;
            if values.iter().any(|v| &v.value != first) {
                out.push(Conflict {
                    path: p.clone(),
                    values,
                });
            }
        }
        // Inside a visit every field is written once, by the device that made it (the
        // rule book refuses any other writer): no conflict can hide there, and a
        // household's many visits are not walked at every save.
        let inside_visit = path == "visits";
        if matches!(item.value, ValueRef::Object(ObjType::Map)) && !inside_visit {
            collect(doc, &item.id(), &p, visits, out);
        }
    }
}

/// How many conflict decisions a household document holds, as many as
/// [`Household::resolved_ids`] lists: read straight from the document, so the server
/// counts a push's decisions on the document it has already loaded.
pub fn resolution_count(doc: &AutoCommit) -> usize {
    match doc.get(ROOT, "resolutions") {
        Ok(Some((automerge::Value::Object(_), o))) => doc.keys(&o).count(),
        _ => 0,
    }
}
