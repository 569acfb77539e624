//! The rule book: who may write which path of a household document, and what value
//! each path holds. One table ([`RULES`]) is read by the server (every operation of
//! every pushed change), by the device (before it writes) and by `docs/protocol.md`.
//!
//! [`judge`] is a pure function: the document as the server held it before, the
//! decoded changes, and who signed them → a verdict. Each operation is mapped to the
//! path of its object in the document *before* the change (or to the object the same
//! push created), so a value that loses a concurrent write, a deletion and an object
//! replaced under a key are all judged, not only the value that wins.
//!
//! Order of judgement for one operation (the first failure is the verdict):
//! 1. the path is unknown, or fixed once the document exists (`schema`, `id`, the
//!    top-level maps) → `schema`;
//! 2. the signer's role may not write the path → `forbidden` (before the value is
//!    looked at: a kader's invalid NIK is `forbidden`, not `schema`);
//! 3. the value has the wrong type or range → `schema`.

use std::collections::{HashMap, HashSet};

use automerge::{
    legacy::OpType, ActorId, AutoCommit, ExpandedChange, ObjType, Prop, ReadDoc, ScalarValue, ROOT,
};
use serde::{Deserialize, Serialize};

use crate::household::VisitResult;
use crate::indicators::IndicatorSet;
use crate::nik::{Kk, Nik, Sex};

/// Ids of households proposed in the field start with this; registry ids are `hh-`
/// and hex, so the two never meet.
pub const PROPOSAL_ID_PREFIX: &str = "hh-p";

/// Minutes in the background before the app asks for the PIN again, where the
/// kelurahan sets nothing else (1–30; `jemput-sync-server kelurahan set CODE --lock-minutes`).
pub const DEFAULT_LOCK_MINUTES: u8 = 5;

/// A user's role. The server stores it, the device keeps it from login, the UI gets
/// it generated (ts-rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Role {
    Kader,
    Operator,
    Fasilitator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Kader, Role::Operator, Role::Fasilitator, Role::Admin];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kader => "kader",
            Role::Operator => "operator",
            Role::Fasilitator => "fasilitator",
            Role::Admin => "admin",
        }
    }
    /// Office roles decide conflicts, correct records and read the periodic export.
    pub fn is_office(self) -> bool {
        self != Role::Kader
    }

    /// What the app offers this role (the server and the rule book check again).
    pub fn capabilities(self) -> Capabilities {
        Capabilities {
            review: matches!(self, Role::Fasilitator | Role::Operator | Role::Admin),
            registry: matches!(self, Role::Operator | Role::Admin),
            export: self.is_office(),
            dashboard: matches!(self, Role::Fasilitator | Role::Operator | Role::Admin),
            muskel: matches!(self, Role::Fasilitator | Role::Operator),
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// The screens and office work a role is offered, for the UI (generated type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Capabilities {
    /// Conflicts side by side, decisions, notes.
    pub review: bool,
    /// Registry import from the Dinas Sosial file.
    pub registry: bool,
    /// The periodic export.
    pub export: bool,
    /// The round's dashboard (from the device's replica).
    pub dashboard: bool,
    /// Opens Muskel sessions and decides proposals in them (a kelurahan-wide user).
    pub muskel: bool,
}

/// Stable refusal codes: the server's answer for a refused document and the device's
/// reason for refusing an edit. Names never change (clients match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Code {
    OutsideArea,
    BadChanges,
    MissingDeps,
    Schema,
    Forbidden,
    ForeignActor,
    BadTime,
    TooLarge,
    TooMany,
    RevokedSigner,
    Quarantined,
    /// The server already holds this household under another first change (two first
    /// imports of one registry household): the device takes the server's copy.
    AlreadyHeld,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::OutsideArea => "outside_area",
            Code::BadChanges => "bad_changes",
            Code::MissingDeps => "missing_deps",
            Code::Schema => "schema",
            Code::Forbidden => "forbidden",
            Code::ForeignActor => "foreign_actor",
            Code::BadTime => "bad_time",
            Code::TooLarge => "too_large",
            Code::TooMany => "too_many",
            Code::RevokedSigner => "revoked_signer",
            Code::Quarantined => "quarantined",
            Code::AlreadyHeld => "already_held",
        }
    }
}

/// Why a change was refused: the code and a reason a person understands, naming the
/// path it is about (never a value: values can be NIKs and names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    /// Starts with the path it is about, when there is one.
    pub reason: String,
}

impl Refusal {
    pub fn new(code: Code, reason: impl Into<String>) -> Refusal {
        Refusal {
            code,
            reason: reason.into(),
        }
    }
    fn at(code: Code, path: &str, reason: impl Into<String>) -> Refusal {
        Refusal::new(code, format!("{}: {}", path, reason.into()))
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.reason)
    }
}

/// What one role may do on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Never.
    No,
    /// Only inside an object this push creates (a new household, a new member).
    Create,
    /// Only inside an object this push creates, and only the path's empty value
    /// (`null`, `false`): a proposal carries no registry data.
    Default,
    /// Only in a visit recorded by one of the signer's device's actors.
    OwnVisit,
    /// Always.
    Yes,
}

/// The value a path holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A map created with the document and never replaced or deleted.
    Fixed,
    /// A map that is an entry keyed by id (a member, a visit, a decision): created
    /// once, never replaced, never deleted.
    Entry,
    /// A map inside an entry (a visit's answers, documents, GPS).
    Map,
    /// A plain string of at most this many characters (never a text object).
    Text(usize),
    /// The document's own id: a plain string, fixed.
    Id,
    Int(i64, i64),
    /// `null` or an integer in the range.
    NullOrInt(i64, i64),
    Number(f64, f64),
    Bool,
    /// Milliseconds since the epoch, as an Automerge timestamp or an integer.
    Millis,
    /// `YYYY-MM-DD`.
    Date,
    Nik,
    Kk,
    Sex,
    Presence,
    VisitResult,
    /// The signer's own user name.
    SignerUser,
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// A criterion answer: its shape comes from the indicator set.
    Answer,
}

pub struct Rule {
    /// Dotted path; `*` stands for any id.
    pub path: &'static str,
    pub kind: Kind,
    /// Indexed by `Role as usize`: kader, operator, fasilitator, admin.
    pub access: [Access; 4],
    pub about: &'static str,
}

use Access::{Create as C, Default as D, No as N, OwnVisit as O, Yes as Y};

const FIXED: [Access; 4] = [C, C, C, C];
const EVERYONE: [Access; 4] = [Y, Y, Y, Y];
/// Identity corrections and decisions: the office; a kader only when proposing.
const OFFICE_OR_NEW: [Access; 4] = [C, Y, Y, Y];
const OFFICE: [Access; 4] = [N, Y, Y, Y];
/// Registry data imported from Dinas Sosial: operators and admins import it.
const IMPORTERS: [Access; 4] = [N, Y, N, Y];
const IMPORTERS_OR_EMPTY: [Access; 4] = [D, Y, D, Y];
/// A visit's fields: its own device; the office when it decides a conflict there.
const VISIT: [Access; 4] = [O, Y, Y, Y];
const PRESENCE_VALUES: &[&str] = &crate::household::PRESENCE;
const CONFLICT_KINDS: &[&str] = &["field", "divergent_visits", "possible_duplicate"];

/// The household document's layout and who may write each path. Later capabilities
/// (proposals, complaints, photos, locations) add rows here.
pub const RULES: &[Rule] = &[
    Rule {
        path: "schema",
        kind: Kind::Int(1, 1),
        access: FIXED,
        about: "document schema version",
    },
    Rule {
        path: "id",
        kind: Kind::Id,
        access: FIXED,
        about: "household id",
    },
    Rule {
        path: "proposal",
        kind: Kind::Bool,
        access: [C, Y, C, Y],
        about: "proposed in the field (a kader's new household is always one)",
    },
    Rule {
        path: "status",
        kind: Kind::VisitResult,
        access: EVERYONE,
        about: "result of the latest visit, or the decided one",
    },
    Rule {
        path: "duplicate_of",
        kind: Kind::Text(64),
        access: OFFICE,
        about: "decided: this household duplicates another",
    },
    Rule {
        path: "identity",
        kind: Kind::Fixed,
        access: FIXED,
        about: "registry identity",
    },
    Rule {
        path: "identity.id_dtks",
        kind: Kind::Text(64),
        access: IMPORTERS,
        about: "ID DTKS",
    },
    Rule {
        path: "identity.idbdt",
        kind: Kind::Text(64),
        access: IMPORTERS,
        about: "IDBDT",
    },
    Rule {
        path: "identity.kelurahan_bps",
        kind: Kind::Text(16),
        access: IMPORTERS,
        about: "BPS code of the kelurahan",
    },
    Rule {
        path: "identity.kk",
        kind: Kind::Kk,
        access: OFFICE_OR_NEW,
        about: "No KK",
    },
    Rule {
        path: "identity.address",
        kind: Kind::Text(300),
        access: OFFICE_OR_NEW,
        about: "address",
    },
    Rule {
        path: "identity.kelurahan",
        kind: Kind::Text(32),
        access: FIXED,
        about: "Kemendagri code; changes only by the server's move",
    },
    Rule {
        path: "identity.rw",
        kind: Kind::Int(0, 999),
        access: FIXED,
        about: "RW; changes only by the server's move",
    },
    Rule {
        path: "identity.rt",
        kind: Kind::Int(0, 999),
        access: FIXED,
        about: "RT; changes only by the server's move",
    },
    Rule {
        path: "registry",
        kind: Kind::Fixed,
        access: FIXED,
        about: "Dinas Sosial's data, read-only in the field",
    },
    Rule {
        path: "registry.imported",
        kind: Kind::Millis,
        access: IMPORTERS,
        about: "when the registry office last wrote the household (every import stamps it)",
    },
    Rule {
        path: "registry.desil",
        kind: Kind::NullOrInt(1, 10),
        access: IMPORTERS_OR_EMPTY,
        about: "national welfare decile",
    },
    Rule {
        path: "registry.in_registry",
        kind: Kind::Bool,
        access: IMPORTERS,
        about: "still listed by the registry",
    },
    Rule {
        path: "registry.programmes",
        kind: Kind::Fixed,
        access: FIXED,
        about: "programmes received",
    },
    Rule {
        path: "registry.programmes.pkh",
        kind: Kind::Bool,
        access: IMPORTERS_OR_EMPTY,
        about: "PKH",
    },
    Rule {
        path: "registry.programmes.bpnt",
        kind: Kind::Bool,
        access: IMPORTERS_OR_EMPTY,
        about: "BPNT",
    },
    Rule {
        path: "registry.programmes.pbi_jk",
        kind: Kind::Bool,
        access: IMPORTERS_OR_EMPTY,
        about: "PBI-JK",
    },
    Rule {
        path: "registry.programmes.kip",
        kind: Kind::Bool,
        access: IMPORTERS_OR_EMPTY,
        about: "KIP",
    },
    Rule {
        path: "members",
        kind: Kind::Fixed,
        access: FIXED,
        about: "members by id",
    },
    Rule {
        path: "members.*",
        kind: Kind::Entry,
        access: EVERYONE,
        about: "a member (a kader adds newborns and people who moved in)",
    },
    Rule {
        path: "members.*.nik",
        kind: Kind::Nik,
        access: OFFICE_OR_NEW,
        about: "NIK",
    },
    Rule {
        path: "members.*.name",
        kind: Kind::Text(200),
        access: OFFICE_OR_NEW,
        about: "name",
    },
    Rule {
        path: "members.*.sex",
        kind: Kind::Sex,
        access: OFFICE_OR_NEW,
        about: "L or P",
    },
    Rule {
        path: "members.*.birth_date",
        kind: Kind::Date,
        access: OFFICE_OR_NEW,
        about: "birth date",
    },
    Rule {
        path: "members.*.relation",
        kind: Kind::Text(40),
        access: OFFICE_OR_NEW,
        about: "relation to the head",
    },
    Rule {
        path: "members.*.presence",
        kind: Kind::Presence,
        access: EVERYONE,
        about: "lives here, died, moved, new, not found",
    },
    Rule {
        path: "members.*.in_registry",
        kind: Kind::Bool,
        access: IMPORTERS,
        about: "still listed by the registry",
    },
    Rule {
        path: "visits",
        kind: Kind::Fixed,
        access: FIXED,
        about: "visits by id",
    },
    Rule {
        path: "visits.*",
        kind: Kind::Entry,
        access: EVERYONE,
        about: "a visit",
    },
    Rule {
        path: "visits.*.date",
        kind: Kind::Date,
        access: VISIT,
        about: "day of the visit (within a day of the change's time)",
    },
    Rule {
        path: "visits.*.at",
        kind: Kind::Millis,
        access: VISIT,
        about: "time of the visit (within a day of the change's time)",
    },
    Rule {
        path: "visits.*.kader",
        kind: Kind::SignerUser,
        access: VISIT,
        about: "who visited: the signer",
    },
    Rule {
        path: "visits.*.result",
        kind: Kind::VisitResult,
        access: VISIT,
        about: "found, not_found, moved, died, duplicate, refused",
    },
    Rule {
        path: "visits.*.set",
        kind: Kind::Text(64),
        access: VISIT,
        about: "indicator set id@version",
    },
    Rule {
        path: "visits.*.size",
        kind: Kind::Int(0, 99),
        access: VISIT,
        about: "members living there after the visit",
    },
    Rule {
        path: "visits.*.notes",
        kind: Kind::Text(4000),
        access: VISIT,
        about: "the kader's notes",
    },
    Rule {
        path: "visits.*.withdrawn",
        kind: Kind::Bool,
        access: VISIT,
        about: "withdrawn by its own device (visits are never deleted)",
    },
    Rule {
        path: "visits.*.answers",
        kind: Kind::Map,
        access: VISIT,
        about: "raw answers by criterion id",
    },
    Rule {
        path: "visits.*.answers.*",
        kind: Kind::Answer,
        access: VISIT,
        about: "a raw answer, shaped by its criterion",
    },
    Rule {
        path: "visits.*.answers.*.occupation",
        kind: Kind::Text(100),
        access: VISIT,
        about: "head's occupation",
    },
    Rule {
        path: "visits.*.answers.*.land_m2",
        kind: Kind::Number(0.0, 1e9),
        access: VISIT,
        about: "farm land, m²",
    },
    Rule {
        path: "visits.*.answers.*.income_rp",
        kind: Kind::Number(0.0, 1e12),
        access: VISIT,
        about: "monthly income, rupiah",
    },
    Rule {
        path: "visits.*.documents",
        kind: Kind::Map,
        access: VISIT,
        about: "documents seen",
    },
    Rule {
        path: "visits.*.documents.kk",
        kind: Kind::Bool,
        access: VISIT,
        about: "KK seen",
    },
    Rule {
        path: "visits.*.documents.ktp",
        kind: Kind::Bool,
        access: VISIT,
        about: "KTP seen",
    },
    Rule {
        path: "visits.*.gps",
        kind: Kind::Map,
        access: VISIT,
        about: "location",
    },
    Rule {
        path: "visits.*.gps.lat",
        kind: Kind::Number(-90.0, 90.0),
        access: VISIT,
        about: "latitude",
    },
    Rule {
        path: "visits.*.gps.lon",
        kind: Kind::Number(-180.0, 180.0),
        access: VISIT,
        about: "longitude",
    },
    Rule {
        path: "visits.*.member_changes",
        kind: Kind::Map,
        access: VISIT,
        about: "member id → presence found",
    },
    Rule {
        path: "visits.*.member_changes.*",
        kind: Kind::Presence,
        access: VISIT,
        about: "presence found",
    },
    Rule {
        path: "resolutions",
        kind: Kind::Fixed,
        access: FIXED,
        about: "decisions by conflict id",
    },
    Rule {
        path: "resolutions.*",
        kind: Kind::Entry,
        access: OFFICE,
        about: "a decision: only the office (fasilitator, operator) decides",
    },
    Rule {
        path: "resolutions.*.kind",
        kind: Kind::OneOf(CONFLICT_KINDS),
        access: OFFICE,
        about: "conflict kind",
    },
    Rule {
        path: "resolutions.*.by",
        kind: Kind::SignerUser,
        access: OFFICE,
        about: "who decided: the signer",
    },
    Rule {
        path: "resolutions.*.at",
        kind: Kind::Millis,
        access: OFFICE,
        about: "when",
    },
    Rule {
        path: "resolutions.*.pick",
        kind: Kind::Int(1, 1000),
        access: OFFICE,
        about: "choice picked",
    },
    Rule {
        path: "resolutions.*.value",
        kind: Kind::Text(300),
        access: OFFICE,
        about: "value typed",
    },
    Rule {
        path: "notes",
        kind: Kind::Fixed,
        access: FIXED,
        about: "notes to the kader by id",
    },
    Rule {
        path: "notes.*",
        kind: Kind::Entry,
        access: OFFICE,
        about: "a note to the kader from the fasilitator or operator",
    },
    Rule {
        path: "notes.*.text",
        kind: Kind::Text(4000),
        access: OFFICE,
        about: "text",
    },
    Rule {
        path: "notes.*.by",
        kind: Kind::SignerUser,
        access: OFFICE,
        about: "who wrote it: the signer",
    },
    Rule {
        path: "notes.*.at",
        kind: Kind::Millis,
        access: OFFICE,
        about: "when",
    },
    Rule {
        path: "notes.*.conflict",
        kind: Kind::Text(64),
        access: OFFICE,
        about: "the conflict it explains",
    },
];

/// The rule for a concrete path (`members.m-1.nik` → `members.*.nik`).
pub fn rule_for(path: &[String]) -> Option<&'static Rule> {
    RULES.iter().find(|r| {
        let mut n = 0;
        let ok = r.path.split('.').zip(path).all(|(p, s)| {
            n += 1;
            p == "*" || p == s
        });
        ok && n == path.len() && r.path.split('.').count() == path.len()
    })
}

/// Who signed the changes being judged.
pub struct Signer<'a> {
    pub role: Role,
    pub user: &'a str,
    /// Actors of the signer's device: its own visits are those these actors created.
    pub actors: &'a HashSet<ActorId>,
}

/// Accepted change times for this signer, in milliseconds: from the device's
/// registration − 24 h to the server's clock + 24 h.
#[derive(Debug, Clone, Copy)]
pub struct TimeWindow {
    pub earliest_ms: i64,
    pub latest_ms: i64,
}

pub const DAY_MS: i64 = 24 * 3600 * 1000;
/// No Jemput document was written before 2020 or will be after 2100.
const MILLIS_RANGE: (i64, i64) = (1_577_836_800_000, 4_102_444_800_000);

struct Op<'c> {
    path: Vec<String>,
    action: &'c OpType,
    /// The object the operation writes into was created by this push.
    in_new_object: bool,
    /// The operation overwrites or deletes earlier values (`pred` is not empty).
    overwrites: bool,
    change_time: i64,
    /// The operation writes into a visit one of the signer's actors created.
    own_visit: bool,
}

/// Judges decoded changes (in causal order) against the document the server held
/// before them. `before` is empty for a household new to the server.
pub fn judge(
    before: &AutoCommit,
    changes: &[ExpandedChange],
    signer: &Signer<'_>,
    window: Option<TimeWindow>,
    set: &IndicatorSet,
) -> Result<(), Refusal> {
    let new_doc = before.get(ROOT, "id").ok().flatten().is_none();
    let mut paths = Paths::new(before);
    for change in changes {
        if let Some(w) = window {
            if change.time < w.earliest_ms || change.time > w.latest_ms {
                return Err(Refusal::new(
                    Code::BadTime,
                    "the change's time is outside what this device can have recorded \
                     (check the phone's date and time)",
                ));
            }
        }
        for (i, op) in change.operations.iter().enumerate() {
            let counter = change
                .start_op
                .get()
                .checked_add(i as u64)
                .ok_or_else(|| Refusal::new(Code::BadChanges, "operation counter overflows"))?;
            let parent = paths.of(&op.obj)?;
            let key = match &op.key {
                automerge::legacy::Key::Map(k) => k.to_string(),
                automerge::legacy::Key::Seq(_) => {
                    return Err(Refusal::new(
                        Code::Schema,
                        "lists are not part of the schema",
                    ))
                }
            };
            let mut path = parent.path.clone();
            path.push(key.clone());
            let replaces = match &op.action {
                // A map made where one already is (before, or earlier in this push)
                // would stand beside it and could hide it: only new keys get maps.
                OpType::Make(_) => {
                    paths.exists_before(&parent, &key) || !paths.made_entries.insert(path.clone())
                }
                _ => false,
            };
            let judged = Op {
                path: path.clone(),
                action: &op.action,
                in_new_object: new_doc || parent.new,
                overwrites: !op.pred.is_empty() || replaces,
                change_time: change.time,
                own_visit: parent
                    .visit_actor
                    .as_ref()
                    .is_some_and(|a| signer.actors.contains(a)),
            };
            judge_op(&judged, signer, set, new_doc)?;
            if let OpType::Make(_) = &op.action {
                paths.created((counter, change.actor_id.clone()), path, &parent);
            }
        }
    }
    Ok(())
}

/// The device's own check before it writes: the changes `after` holds beyond
/// `before` (an empty document for a new household), judged as this user's, so the
/// user hears "not allowed" at once rather than at the next sync.
pub fn judge_local(
    before: &mut AutoCommit,
    after: &mut AutoCommit,
    role: Role,
    author: &crate::household::Author,
    set: &IndicatorSet,
) -> Result<(), Refusal> {
    let heads = before.get_heads();
    let changes: Vec<ExpandedChange> = after
        .get_changes(&heads)
        .iter()
        .map(|c| c.decode())
        .collect();
    let actors: HashSet<ActorId> = [author.actor.clone()].into_iter().collect();
    let signer = Signer {
        role,
        user: &author.user,
        actors: &actors,
    };
    judge(before, &changes, &signer, None, set)?;
    if before.get(ROOT, "id").ok().flatten().is_none() {
        check_new_household(after, role)?;
    }
    Ok(())
}

fn rule_access(path: &str, role: Role) -> Access {
    RULES
        .iter()
        .find(|r| r.path == path)
        .map_or(Access::No, |r| r.access[role.index()])
}

/// A household made by a role that may only propose is a proposal, and only one:
/// checked on the merged document, so neither a deletion nor a concurrent `false`
/// slips by.
pub fn check_new_household(after: &AutoCommit, role: Role) -> Result<(), Refusal> {
    if rule_access("proposal", role) != Access::Create {
        return Ok(());
    }
    // Registry ids are hashes of the registry's keys (`hh-` + hex): a proposal's id can
    // never take one before the office imports it.
    let id = match after.get(ROOT, "id") {
        Ok(Some((automerge::Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    if !id.starts_with(PROPOSAL_ID_PREFIX) {
        return Err(Refusal::at(
            Code::Forbidden,
            "id",
            format!(
                "a household proposed in the field has an id starting with {PROPOSAL_ID_PREFIX}"
            ),
        ));
    }
    let values = after.get_all(ROOT, "proposal").unwrap_or_default();
    let only_true = values.len() == 1
        && matches!(&values[0].0, automerge::Value::Scalar(v) if matches!(v.as_ref(), ScalarValue::Boolean(true)));
    if only_true {
        Ok(())
    } else {
        Err(Refusal::at(
            Code::Forbidden,
            "proposal",
            "a new household from the field must be marked as a proposal",
        ))
    }
}

fn judge_op(
    op: &Op<'_>,
    signer: &Signer<'_>,
    set: &IndicatorSet,
    new_doc: bool,
) -> Result<(), Refusal> {
    let shown = op.path.join(".");
    let rule = rule_for(&op.path)
        .ok_or_else(|| Refusal::at(Code::Schema, &shown, "not a field of a household"))?;
    // 1. Paths fixed once the document exists.
    let fixed = rule.access == FIXED;
    if fixed && !new_doc {
        return Err(Refusal::at(
            Code::Schema,
            &shown,
            "is set when the household is created and never changes (areas move only by the office's move)",
        ));
    }
    // 2. Rights, before the value is looked at.
    let access = rule.access[signer.role.index()];
    let allowed = match access {
        Access::No => false,
        Access::Yes => true,
        Access::Create | Access::Default => op.in_new_object,
        Access::OwnVisit => op.own_visit,
    };
    if !allowed {
        return Err(Refusal::at(
            Code::Forbidden,
            &shown,
            format!(
                "a {} may not change this ({})",
                signer.role.as_str(),
                rule.about
            ),
        ));
    }
    if matches!(op.action, OpType::Delete) && matches!(access, Access::Create | Access::Default) {
        return Err(Refusal::at(
            Code::Forbidden,
            &shown,
            "may be set when it is created, never deleted",
        ));
    }
    // Naming a member head changes whose name and NIK the registry shows.
    if op.path.len() == 3
        && op.path[0] == "members"
        && op.path[2] == "relation"
        && matches!(op.action, OpType::Put(ScalarValue::Str(v)) if v.as_str() == "head")
        && !new_doc
        && !signer.role.is_office()
    {
        return Err(Refusal::at(
            Code::Forbidden,
            &shown,
            "only the office names the head of an existing household",
        ));
    }
    let entry = matches!(rule.kind, Kind::Entry | Kind::Fixed);
    if entry && (op.overwrites || matches!(op.action, OpType::Delete)) {
        return Err(Refusal::at(
            Code::Forbidden,
            &shown,
            "is never deleted or replaced (a visit is withdrawn by its own device)",
        ));
    }
    // 3. The value.
    let value = match op.action {
        OpType::Delete => return Ok(()),
        OpType::Make(ObjType::Map) => {
            return match rule.kind {
                Kind::Fixed | Kind::Entry | Kind::Map => Ok(()),
                Kind::Answer if is_income(set, &op.path) => Ok(()),
                _ => Err(Refusal::at(
                    Code::Schema,
                    &shown,
                    "must be a plain value, not a map",
                )),
            }
        }
        OpType::Make(_) => {
            return Err(Refusal::at(
                Code::Schema,
                &shown,
                "only maps and plain values are allowed (no text objects or lists)",
            ))
        }
        OpType::Put(v) => v,
        _ => {
            return Err(Refusal::at(
                Code::Schema,
                &shown,
                "counters and marks are not part of the schema",
            ))
        }
    };
    if access == Access::Default
        && !matches!(value, ScalarValue::Null | ScalarValue::Boolean(false))
    {
        return Err(Refusal::at(
            Code::Forbidden,
            &shown,
            "a proposal carries no registry data",
        ));
    }
    check_value(rule.kind, value, op, signer, set)
        .map_err(|why| Refusal::at(Code::Schema, &shown, why))
}

fn is_income(set: &IndicatorSet, path: &[String]) -> bool {
    path.get(3)
        .and_then(|id| set.criterion(id))
        .is_some_and(|c| c.shape().kind == "income_source")
}

fn plain_str(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Str(s) => Some(s.as_str()),
        _ => None,
    }
}

fn int(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int(i) => Some(*i),
        ScalarValue::Uint(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

fn number(v: &ScalarValue) -> Option<f64> {
    match v {
        ScalarValue::F64(f) if f.is_finite() => Some(*f),
        _ => int(v).map(|i| i as f64),
    }
}

fn check_value(
    kind: Kind,
    v: &ScalarValue,
    op: &Op<'_>,
    signer: &Signer<'_>,
    set: &IndicatorSet,
) -> Result<(), String> {
    let text = || plain_str(v).ok_or_else(|| "must be a plain string".to_string());
    let one_of = |s: &str, options: &[&str]| {
        if options.contains(&s) {
            Ok(())
        } else {
            Err(format!("must be one of {}", options.join(", ")))
        }
    };
    match kind {
        Kind::Fixed | Kind::Entry | Kind::Map => Err("must be a map".into()),
        Kind::Id | Kind::Text(_) => {
            let max = if let Kind::Text(m) = kind { m } else { 64 };
            let s = text()?;
            if s.chars().count() > max {
                return Err(format!("is longer than {max} characters"));
            }
            if kind == Kind::Id && s.is_empty() {
                return Err("is empty".into());
            }
            Ok(())
        }
        Kind::Int(lo, hi) => match int(v) {
            Some(i) if (lo..=hi).contains(&i) => Ok(()),
            _ => Err(format!("must be a whole number from {lo} to {hi}")),
        },
        Kind::NullOrInt(lo, hi) => match (v, int(v)) {
            (ScalarValue::Null, _) => Ok(()),
            (_, Some(i)) if (lo..=hi).contains(&i) => Ok(()),
            _ => Err(format!("must be empty or a whole number from {lo} to {hi}")),
        },
        Kind::Number(lo, hi) => match number(v) {
            Some(n) if n >= lo && n <= hi => Ok(()),
            _ => Err(format!("must be a number from {lo} to {hi}")),
        },
        Kind::Bool => match v {
            ScalarValue::Boolean(_) => Ok(()),
            _ => Err("must be true or false".into()),
        },
        Kind::Millis => {
            let ms = match v {
                ScalarValue::Timestamp(t) => *t,
                _ => int(v).ok_or("must be a time in milliseconds")?,
            };
            if !(MILLIS_RANGE.0..MILLIS_RANGE.1).contains(&ms) {
                return Err("must be a time in milliseconds since 1970 (2020–2100)".into());
            }
            // A visit is dated when it is recorded (and a kader's later edit too); an
            // office decision days later on a conflicting visit field is not.
            if op.path.first().map(String::as_str) == Some("visits")
                && (op.in_new_object || !signer.role.is_office())
                && (ms - op.change_time).abs() > DAY_MS
            {
                return Err("is more than a day from the change's own time".into());
            }
            Ok(())
        }
        Kind::Date => {
            let s = text()?;
            let d = crate::household::parse_date(s).map_err(|_| "must be a date YYYY-MM-DD")?;
            if op.path.first().map(String::as_str) == Some("visits")
                && (op.in_new_object || !signer.role.is_office())
            {
                let change_day = time::OffsetDateTime::from_unix_timestamp(op.change_time / 1000)
                    .map(|t| t.date())
                    .map_err(|_| "the change's time is not a date")?;
                if (d - change_day).whole_days().abs() > 1 {
                    return Err("is more than a day from the change's own time".into());
                }
            }
            Ok(())
        }
        Kind::Nik => {
            let s = text()?;
            match Nik::parse(s) {
                Ok(n) if n.as_str() == s => Ok(()),
                Ok(_) => Err("must be the 16 digits alone".into()),
                Err(e) => Err(format!("is not a valid NIK ({e})")),
            }
        }
        Kind::Kk => {
            let s = text()?;
            match Kk::parse(s) {
                Ok(k) if k.as_str() == s => Ok(()),
                Ok(_) => Err("must be the 16 digits alone".into()),
                Err(e) => Err(format!("is not a valid KK number ({e})")),
            }
        }
        Kind::Sex => one_of(text()?, &["L", "P"]).and_then(|()| {
            Sex::parse(text()?)
                .map(|_| ())
                .ok_or_else(|| "must be L or P".into())
        }),
        Kind::Presence => one_of(text()?, PRESENCE_VALUES),
        Kind::VisitResult => VisitResult::parse(text()?)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Kind::SignerUser => {
            if text()? == signer.user {
                Ok(())
            } else {
                Err("must be the signer's own user name".into())
            }
        }
        Kind::OneOf(options) => one_of(text()?, options),
        Kind::Answer => {
            let id = op.path.get(3).map(String::as_str).unwrap_or_default();
            let c = set
                .criterion(id)
                .ok_or_else(|| format!("`{id}` is not a criterion of {}", set.tag()))?;
            if matches!(v, ScalarValue::Str(s) if s.as_str() == crate::indicators::UNKNOWN) {
                return Ok(());
            }
            let shape = c.shape();
            match shape.kind {
                "number" => match number(v) {
                    Some(n) if (0.0..=1e12).contains(&n) => Ok(()),
                    _ => Err("must be a number, 0 or more".into()),
                },
                "option" => {
                    let s = text()?;
                    if shape.options.iter().any(|o| o == s) {
                        Ok(())
                    } else {
                        Err("is not one of the criterion's options".into())
                    }
                }
                "yes_no" => match v {
                    ScalarValue::Boolean(_) => Ok(()),
                    _ => Err("must be true or false".into()),
                },
                _ => Err("must be a map of occupation, land_m2 and income_rp".into()),
            }
        }
    }
}

/// What the judge knows of one object: its path, whether this push made it, the
/// actor that created the visit it belongs to, and its id in the document before.
#[derive(Clone)]
struct ObjInfo {
    path: Vec<String>,
    new: bool,
    visit_actor: Option<ActorId>,
    exid: Option<automerge::ObjId>,
}

/// Paths of objects: from the document before the push, or made by the push itself.
/// Lookups are cached: judging is linear in the number of operations.
struct Paths<'d> {
    before: &'d AutoCommit,
    objects: HashMap<(u64, ActorId), ObjInfo>,
    /// Entry paths (`visits.v-1`, `members.m-1`, …) this push made: made once only.
    made_entries: HashSet<Vec<String>>,
}

impl<'d> Paths<'d> {
    fn new(before: &'d AutoCommit) -> Paths<'d> {
        Paths {
            before,
            objects: HashMap::new(),
            made_entries: HashSet::new(),
        }
    }

    fn root() -> ObjInfo {
        ObjInfo {
            path: Vec::new(),
            new: false,
            visit_actor: None,
            exid: Some(automerge::ObjId::Root),
        }
    }

    /// An object this push makes at `path` inside `parent`.
    fn created(&mut self, id: (u64, ActorId), path: Vec<String>, parent: &ObjInfo) {
        let visit_actor = if path.len() == 2 && path[0] == "visits" {
            Some(id.1.clone())
        } else {
            parent.visit_actor.clone()
        };
        self.objects.insert(
            id,
            ObjInfo {
                path,
                new: true,
                visit_actor,
                exid: None,
            },
        );
    }

    fn of(&mut self, obj: &automerge::legacy::ObjectId) -> Result<ObjInfo, Refusal> {
        let automerge::legacy::ObjectId::Id(automerge::legacy::OpId(counter, actor)) = obj else {
            return Ok(Paths::root());
        };
        let key = (*counter, actor.clone());
        if let Some(info) = self.objects.get(&key) {
            return Ok(info.clone());
        }
        let unknown = || {
            Refusal::new(
                Code::Schema,
                "a change writes into an object the household does not have",
            )
        };
        let (exid, _) = self
            .before
            .import(&format!("{counter}@{actor}"))
            .map_err(|_| unknown())?;
        let chain = self.before.parents(&exid).map_err(|_| unknown())?.path();
        let mut path = Vec::new();
        for (_, prop) in &chain {
            match prop {
                Prop::Map(k) => path.push(k.clone()),
                Prop::Seq(_) => {
                    return Err(Refusal::new(
                        Code::Schema,
                        "lists are not part of the schema",
                    ))
                }
            }
        }
        // The visit this object belongs to: the object itself at `visits.<id>`, or
        // the third link of its chain below it.
        let visit_actor = if path.first().map(String::as_str) != Some("visits") {
            None
        } else if path.len() == 2 {
            Some(actor.clone())
        } else {
            match chain.get(2).map(|(o, _)| o) {
                Some(automerge::ObjId::Id(_, a, _)) => Some(a.clone()),
                _ => None,
            }
        };
        let info = ObjInfo {
            path,
            new: false,
            visit_actor,
            exid: Some(exid),
        };
        self.objects.insert(key, info.clone());
        Ok(info)
    }

    /// Whether anything is stored at `key` of `parent` in the document before.
    fn exists_before(&self, parent: &ObjInfo, key: &str) -> bool {
        match &parent.exid {
            Some(o) => self
                .before
                .get_all(o, key)
                .map(|v| !v.is_empty())
                .unwrap_or(false),
            None => false,
        }
    }
}

/// The rule book as a Markdown table (role × path → access), for `docs/protocol.md`.
pub fn rule_book_markdown() -> String {
    let mut out = String::from(
        "| path | value | kader | operator | fasilitator | admin | what |\n|---|---|---|---|---|---|---|\n",
    );
    for r in RULES {
        let cells: Vec<&str> = Role::ALL
            .iter()
            .map(|role| match (r.access == FIXED, r.access[role.index()]) {
                (true, _) => "at creation",
                (_, Access::No) => "no",
                (_, Access::Create) => "new objects only",
                (_, Access::Default) => "new, empty value only",
                (_, Access::OwnVisit) => "own visits",
                (_, Access::Yes) => "yes",
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.path,
            kind_text(r.kind),
            cells.join(" | "),
            r.about
        ));
    }
    out
}

fn kind_text(k: Kind) -> String {
    match k {
        Kind::Fixed => "map (fixed)".into(),
        Kind::Entry => "map (entry, never deleted)".into(),
        Kind::Map => "map".into(),
        Kind::Text(n) => format!("string ≤ {n}"),
        Kind::Id => "string".into(),
        Kind::Int(a, b) => format!("int {a}–{b}"),
        Kind::NullOrInt(a, b) => format!("null or int {a}–{b}"),
        Kind::Number(a, b) => format!("number {a}–{b}"),
        Kind::Bool => "bool".into(),
        Kind::Millis => "timestamp or int, ms".into(),
        Kind::Date => "string YYYY-MM-DD".into(),
        Kind::Nik => "NIK (16 digits, valid)".into(),
        Kind::Kk => "KK (16 digits, valid)".into(),
        Kind::Sex => "`L` or `P`".into(),
        Kind::Presence => format!("one of {}", PRESENCE_VALUES.join(", ")),
        Kind::VisitResult => "visit result".into(),
        Kind::SignerUser => "the signer's user name".into(),
        Kind::OneOf(o) => format!("one of {}", o.join(", ")),
        Kind::Answer => "by criterion (number, option, bool, or income map)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/protocol.md` carries the rule book as generated here: one source.
    #[test]
    fn protocol_doc_lists_the_rule_book() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
                .unwrap_or_default();
        let table = rule_book_markdown();
        assert!(
            doc.contains(&table),
            "docs/protocol.md must contain the current rule book; paste:\n{table}"
        );
    }

    #[test]
    fn every_rule_path_resolves_to_itself() {
        for r in RULES {
            let p: Vec<String> = r.path.split('.').map(|s| s.replace('*', "x-1")).collect();
            let found = rule_for(&p).map(|f| f.path);
            assert_eq!(found, Some(r.path), "{}", r.path);
        }
        assert!(rule_for(&["nope".to_string()]).is_none());
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
