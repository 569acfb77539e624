//! The household (keluarga) document: one Automerge document per household, the unit
//! of merge, history and access.
//!
//! Layout of the root map (keys are stable: changing one needs a schema version):
//! - `schema` (int), `id` (household id), `proposal` (bool: proposed in the field)
//! - `identity`: `id_dtks`, `idbdt`, `kk`, `address`, `kelurahan` (Kemendagri code),
//!   `kelurahan_bps`, `rw`, `rt` — imported, opaque identifiers kept as strings
//! - `registry`: `desil` and `programmes` (`pkh`, `bpnt`, `pbi_jk`, `kip`) — read-only
//!   imports from Dinas Sosial; nothing in the field writes them
//! - `members`: map member id → `nik`, `name`, `sex`, `birth_date`, `relation`, `presence`
//! - `visits`: map visit id → `date`, `at`, `kader`, `result`, `answers`, `size`,
//!   `member_changes`, `documents`, `notes`, `gps`, `set`
//! - `status`: the household's current status, set by every visit from its result
//!
//! Members and visits are maps keyed by id (not lists) so concurrent work on different
//! members or visits never collides; two concurrent visits both stay, and leave a
//! visible conflict on `status` when their results differ.
//!
//! Every change is committed explicitly with its author (the user name, as the change
//! message) and a real timestamp: AutoCommit's implicit commits stamp time 0.

use std::collections::BTreeMap;

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::indicators::{Answer, IndicatorSet, Score};
use crate::nik::{Kk, Nik, Sex};

pub const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    #[error("household document is damaged: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("household document does not follow the schema: {0}")]
    Schema(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("NIK {0}")]
    Nik(crate::nik::IdNumberError),
    #[error("KK number {0}")]
    Kk(crate::nik::IdNumberError),
    #[error(transparent)]
    Indicator(#[from] crate::indicators::IndicatorError),
    /// A found household with criteria neither answered nor marked "tidak tahu".
    #[error("{} criteria have no answer ({}): answer them or mark them \"tidak_tahu\"", .0.len(), .0.join(", "))]
    Incomplete(Vec<String>),
}

/// The six results of a visit; each also becomes the household's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitResult {
    Found,
    NotFound,
    Moved,
    Died,
    Duplicate,
    Refused,
}

impl VisitResult {
    pub const ALL: [VisitResult; 6] = [
        VisitResult::Found,
        VisitResult::NotFound,
        VisitResult::Moved,
        VisitResult::Died,
        VisitResult::Duplicate,
        VisitResult::Refused,
    ];
    pub fn code(self) -> &'static str {
        match self {
            VisitResult::Found => "found",
            VisitResult::NotFound => "not_found",
            VisitResult::Moved => "moved",
            VisitResult::Died => "died",
            VisitResult::Duplicate => "duplicate",
            VisitResult::Refused => "refused",
        }
    }
    /// Whether a visit with this result answers the criteria (and gets a score and a
    /// poor / not-poor verdict): only a household found.
    pub fn carries_answers(self) -> bool {
        self == VisitResult::Found
    }

    pub fn parse(s: &str) -> Result<VisitResult, HouseholdError> {
        VisitResult::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| {
                HouseholdError::Invalid(format!(
                    "result `{s}` is not one of found, not_found, moved, died, duplicate, refused"
                ))
            })
    }
}

/// `registry.imported`: when the registry office last wrote the household. Every import
/// change stamps it, so the changes holding its values are the previous import.
pub const IMPORTED: &str = "imported";

/// Whether a member still lives in the household.
pub const PRESENCE: [&str; 5] = ["lives_here", "died", "moved", "new", "not_found"];

/// Who writes a change: the device (Automerge actor) and the signed-in user.
#[derive(Debug, Clone)]
pub struct Author {
    pub actor: ActorId,
    pub user: String,
}

impl Author {
    pub fn new(device_id_hex: &str, user: &str) -> Result<Author, HouseholdError> {
        let bytes = hex::decode(device_id_hex)
            .map_err(|_| HouseholdError::Invalid("device id must be hex".into()))?;
        Ok(Author {
            actor: ActorId::from(bytes),
            user: user.to_string(),
        })
    }
}

/// Milliseconds since the epoch and the local calendar date, passed in so tests are
/// deterministic.
pub trait Clock {
    fn now_ms(&self) -> i64;
    /// The calendar date in the kelurahan's zone (WIB unless a clock knows better).
    fn today(&self) -> String {
        self.zone().date_of(self.now_ms())
    }
    fn zone(&self) -> crate::zone::Zone {
        crate::zone::Zone::default()
    }
}

pub struct SystemClock;
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// A clock stopped at one instant: what a device records one piece of work with
/// (its own clock, corrected by the offset it measured against the server).
pub struct At(pub i64);
impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// A clock stopped at one instant, in the kelurahan's zone (its dates are days there).
pub struct AtIn(pub i64, pub crate::zone::Zone);
impl Clock for AtIn {
    fn now_ms(&self) -> i64 {
        self.0
    }
    fn zone(&self) -> crate::zone::Zone {
        self.1
    }
}

pub fn random_id(prefix: &str, rng: &mut impl Rng) -> String {
    format!("{prefix}{:016x}", rng.gen::<u64>())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Identity {
    pub id_dtks: Option<String>,
    pub idbdt: Option<String>,
    pub kk: Option<String>,
    pub address: Option<String>,
    pub kelurahan: String,
    pub kelurahan_bps: Option<String>,
    pub rw: u16,
    pub rt: u16,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registry {
    pub desil: Option<u8>,
    pub pkh: bool,
    pub bpnt: bool,
    pub pbi_jk: bool,
    pub kip: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub nik: Option<String>,
    pub name: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<String>,
    pub relation: String,
    pub presence: String,
}

/// A visit as the kader enters it (form or JSON file); validated before it is written.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct VisitInput {
    pub result: String,
    #[serde(default)]
    #[ts(optional, as = "Option<BTreeMap<String, serde_json::Value>>")]
    pub answers: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    #[ts(optional)]
    pub notes: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub documents: Option<Documents>,
    /// member id → new presence (`died`, `moved`, `not_found`, `lives_here`).
    #[serde(default)]
    #[ts(optional, as = "Option<BTreeMap<String, String>>")]
    pub member_changes: BTreeMap<String, String>,
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<NewMember>>")]
    pub new_members: Vec<NewMember>,
    #[serde(default)]
    #[ts(optional)]
    pub gps: Option<Gps>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Documents {
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub kk: bool,
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub ktp: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Gps {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewMember {
    pub name: String,
    #[serde(default)]
    #[ts(optional)]
    pub nik: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub sex: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub birth_date: Option<String>,
    #[serde(default = "default_relation")]
    #[ts(optional, as = "Option<String>")]
    pub relation: String,
}
fn default_relation() -> String {
    "other".into()
}

/// A household found on the way that is not in the registry.
#[derive(Debug, Clone, Deserialize)]
pub struct Proposal {
    pub head_name: String,
    /// YYYY-MM-DD; with the name, finds a proposal that duplicates a registry household.
    #[serde(default)]
    pub head_birth_date: Option<String>,
    #[serde(default)]
    pub nik: Option<String>,
    #[serde(default)]
    pub kk: Option<String>,
    pub address: String,
    pub kelurahan: String,
    pub rw: u16,
    pub rt: u16,
}

/// Query columns the local store keeps beside the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub kelurahan: String,
    pub rw: u16,
    pub rt: u16,
    pub head_name: Option<String>,
    pub head_nik: Option<String>,
    pub kk: Option<String>,
    pub address: Option<String>,
    pub status: Option<String>,
    pub last_visit: Option<String>,
    pub score: Option<u32>,
    pub poor: bool,
    /// The last visit found the household but some criterion is "tidak tahu".
    pub incomplete: bool,
    pub has_conflict: bool,
    pub proposal: bool,
    /// All member names and NIKs, for full-text search.
    pub search_text: String,
}

pub struct Household {
    pub(crate) doc: AutoCommit,
    /// Each visit's `date` once read (visit key → date): the list's "last visit" and
    /// the conflicts' periods read every visit's date at every save, and a date is
    /// written once, when its visit is made. Emptied whenever the document takes
    /// changes from elsewhere (a merge, a re-record).
    visit_dates: std::cell::RefCell<std::collections::HashMap<String, String>>,
}

impl std::fmt::Debug for Household {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Household(..)")
    }
}

pub(crate) fn str_of(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn int_of(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            ScalarValue::F64(f) => Some(*f as i64),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn scalar_json(s: &ScalarValue) -> serde_json::Value {
    match s {
        ScalarValue::Str(s) => json!(s.as_str()),
        ScalarValue::Int(i) => json!(i),
        ScalarValue::Uint(u) => json!(u),
        ScalarValue::F64(f) => json!(f),
        ScalarValue::Counter(c) => json!(i64::from(c)),
        ScalarValue::Timestamp(t) => json!(t),
        ScalarValue::Boolean(b) => json!(b),
        ScalarValue::Bytes(b) => json!(hex::encode(b)),
        ScalarValue::Unknown { .. } | ScalarValue::Null => serde_json::Value::Null,
    }
}

impl Household {
    /// A registry household as imported from Dinas Sosial.
    pub fn create(
        id: &str,
        identity: &Identity,
        registry: &Registry,
        members: &[(String, Member)],
        author: &Author,
        now_ms: i64,
    ) -> Result<Household, HouseholdError> {
        Household::build(id, identity, registry, members, author, now_ms, false)
    }

    /// A new document in one change: a registry import's (stamped `registry.imported`,
    /// which later imports start from) or a proposal's.
    fn build(
        id: &str,
        identity: &Identity,
        registry: &Registry,
        members: &[(String, Member)],
        author: &Author,
        now_ms: i64,
        proposal: bool,
    ) -> Result<Household, HouseholdError> {
        let mut doc = AutoCommit::new().with_actor(author.actor.clone());
        doc.put(ROOT, "schema", SCHEMA_VERSION)?;
        doc.put(ROOT, "id", id)?;
        doc.put(ROOT, "proposal", proposal)?;
        let ident = doc.put_object(ROOT, "identity", ObjType::Map)?;
        for (k, v) in [
            ("id_dtks", &identity.id_dtks),
            ("idbdt", &identity.idbdt),
            ("kk", &identity.kk),
            ("address", &identity.address),
            ("kelurahan_bps", &identity.kelurahan_bps),
        ] {
            if let Some(v) = v {
                doc.put(&ident, k, v.as_str())?;
            }
        }
        doc.put(&ident, "kelurahan", identity.kelurahan.as_str())?;
        doc.put(&ident, "rw", i64::from(identity.rw))?;
        doc.put(&ident, "rt", i64::from(identity.rt))?;
        let reg = doc.put_object(ROOT, "registry", ObjType::Map)?;
        if !proposal {
            doc.put(&reg, IMPORTED, ScalarValue::Timestamp(now_ms))?;
        }
        match registry.desil {
            Some(d) => doc.put(&reg, "desil", i64::from(d))?,
            None => doc.put(&reg, "desil", ScalarValue::Null)?,
        }
        let progs = doc.put_object(&reg, "programmes", ObjType::Map)?;
        for (k, v) in [
            ("pkh", registry.pkh),
            ("bpnt", registry.bpnt),
            ("pbi_jk", registry.pbi_jk),
            ("kip", registry.kip),
        ] {
            doc.put(&progs, k, v)?;
        }
        let mobj = doc.put_object(ROOT, "members", ObjType::Map)?;
        for (mid, m) in members {
            put_member(&mut doc, &mobj, mid, m)?;
        }
        doc.put_object(ROOT, "visits", ObjType::Map)?;
        // Created with the document, never lazily: two devices creating the same map
        // concurrently would leave two maps, one hiding the other's entries.
        doc.put_object(ROOT, "resolutions", ObjType::Map)?;
        doc.put_object(ROOT, "notes", ObjType::Map)?;
        let mut hh = Household::wrap(doc);
        hh.commit(now_ms, if proposal { "propose" } else { "import" });
        Ok(hh)
    }

    /// A new household proposed in the field, marked as a proposal.
    pub fn propose(
        id: &str,
        p: &Proposal,
        author: &Author,
        now_ms: i64,
        rng: &mut impl Rng,
    ) -> Result<Household, HouseholdError> {
        let nik = match &p.nik {
            Some(n) => Nik::parse_optional(n)
                .map_err(HouseholdError::Nik)?
                .map(String::from),
            None => None,
        };
        let kk = match p.kk.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(k) => Some(String::from(Kk::parse(k).map_err(HouseholdError::Kk)?)),
            None => None,
        };
        if p.head_name.trim().is_empty() {
            return Err(HouseholdError::Invalid("head name is empty".into()));
        }
        let identity = Identity {
            kk,
            address: Some(p.address.trim().to_string()),
            kelurahan: p.kelurahan.clone(),
            rw: p.rw,
            rt: p.rt,
            ..Identity::default()
        };
        if let Some(bd) = &p.head_birth_date {
            parse_date(bd)?;
        }
        let head = Member {
            nik,
            name: p.head_name.trim().to_string(),
            sex: None,
            birth_date: p.head_birth_date.clone(),
            relation: "head".into(),
            presence: "new".into(),
        };
        Household::build(
            id,
            &identity,
            &Registry::default(),
            &[(random_id("m-", rng), head)],
            author,
            now_ms,
            true,
        )
    }

    pub fn load(bytes: &[u8]) -> Result<Household, HouseholdError> {
        let doc = AutoCommit::load(bytes)?;
        let hh = Household::wrap(doc);
        hh.check_schema()?;
        Ok(hh)
    }

    /// Loads with the device's actor, so local edits are attributed to this device.
    pub fn load_as(bytes: &[u8], author: &Author) -> Result<Household, HouseholdError> {
        let mut hh = Household::load(bytes)?;
        hh.doc.set_actor(author.actor.clone());
        Ok(hh)
    }

    pub fn from_doc(doc: AutoCommit) -> Result<Household, HouseholdError> {
        let hh = Household::wrap(doc);
        hh.check_schema()?;
        Ok(hh)
    }

    fn wrap(doc: AutoCommit) -> Household {
        Household {
            doc,
            visit_dates: Default::default(),
        }
    }

    /// The document with the visit dates a previous reader of it memoised.
    pub(crate) fn from_doc_with_dates(
        doc: AutoCommit,
        dates: std::collections::HashMap<String, String>,
    ) -> Result<Household, HouseholdError> {
        let hh = Household::from_doc(doc)?;
        *hh.visit_dates.borrow_mut() = dates;
        Ok(hh)
    }

    pub(crate) fn visit_dates(&self) -> std::collections::HashMap<String, String> {
        self.visit_dates.borrow().clone()
    }

    /// Reads every visit's date into the memo.
    pub(crate) fn read_visit_dates(&self) {
        if let Some(v) = self.obj("visits") {
            for item in self.doc.map_range(&v, ..) {
                self.visit_date(&item.key, &item.id());
            }
        }
    }

    pub(crate) fn into_doc(self) -> AutoCommit {
        self.doc
    }

    /// The document took changes from elsewhere: dates are read again.
    pub(crate) fn forget_visit_dates(&self) {
        self.visit_dates.borrow_mut().clear();
    }

    /// The `date` of the visit `key` (its object `obj`).
    pub(crate) fn visit_date(&self, key: &str, obj: &ObjId) -> String {
        if let Some(d) = self.visit_dates.borrow().get(key) {
            return d.clone();
        }
        let d = self.get_str(obj, "date").unwrap_or_default();
        self.visit_dates
            .borrow_mut()
            .insert(key.to_string(), d.clone());
        d
    }

    pub fn doc_ref(&self) -> &AutoCommit {
        &self.doc
    }

    /// The document to change directly (a merge, changes from a sync): what was
    /// memoised from it is forgotten.
    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        self.forget_visit_dates();
        &mut self.doc
    }

    /// The document, mutably only because Automerge encodes its changes lazily: for
    /// reading changes (the rule book's judge, the sync's push), never for writing.
    pub fn doc_for_changes(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The document keeps the shape every reader relies on.
    pub fn check_schema(&self) -> Result<(), HouseholdError> {
        let bad = |m: &str| Err(HouseholdError::Schema(m.to_string()));
        match self.doc.get(ROOT, "schema")? {
            Some((v, _)) if int_of(&v) == Some(SCHEMA_VERSION) => {}
            Some(_) => return bad("unknown schema version"),
            None => return bad("no schema version"),
        }
        if self.id().is_none() {
            return bad("no household id");
        }
        for key in ["identity", "members", "visits", "registry"] {
            match self.doc.get(ROOT, key)? {
                Some((Value::Object(ObjType::Map), _)) => {}
                _ => return bad(&format!("`{key}` must be a map")),
            }
        }
        if let Some(status) = self.status() {
            VisitResult::parse(&status).map_err(|_| HouseholdError::Schema("bad status".into()))?;
        }
        Ok(())
    }

    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Without Automerge's internal deflate: for the wire, where zstd compresses a whole
    /// response of documents far better than each document alone.
    pub fn save_nocompress(&mut self) -> Vec<u8> {
        self.doc.save_nocompress()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Visits added since `heads` (all of them when `heads` is empty).
    pub fn visits_after(&mut self, heads: &[ChangeHash]) -> Vec<String> {
        let Some(visits) = self.obj("visits") else {
            return Vec::new();
        };
        let known: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        let before: std::collections::HashSet<String> = if known.is_empty() {
            Default::default()
        } else {
            self.doc.keys_at(&visits, &known).collect()
        };
        self.doc
            .keys(&visits)
            .filter(|k| !before.contains(k))
            .collect()
    }

    /// Records again, at `now_ms`, the changes of `own` that the server has not taken
    /// (those after `acked`): same operations, same actor and numbering, a new time, and
    /// the visit times they carry (`at`, `date`) moved by the same amount. For work the
    /// server refused as `bad_time` (recorded while the phone's clock was wrong): it is
    /// never dropped. Returns how many changes were recorded again.
    pub fn re_record(
        &mut self,
        acked: &[ChangeHash],
        own: &ActorId,
        now_ms: i64,
    ) -> Result<usize, HouseholdError> {
        let acked: Vec<ChangeHash> = acked
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        let unsent = self.doc.get_changes(&acked);
        let mut doc = self.doc.fork_at(&acked)?;
        let mut renamed: std::collections::HashMap<ChangeHash, ChangeHash> = Default::default();
        let mut count = 0;
        for change in unsent {
            let mut e = automerge::ExpandedChange::from(&change);
            e.hash = None;
            e.deps = e
                .deps
                .iter()
                .map(|d| *renamed.get(d).unwrap_or(d))
                .collect();
            e.deps.sort();
            if &e.actor_id == own {
                let delta = now_ms - e.time;
                e.time = now_ms;
                for op in &mut e.operations {
                    shift_time(op, delta);
                }
                count += 1;
            }
            let again = automerge::Change::from(e);
            renamed.insert(change.hash(), again.hash());
            doc.apply_changes([again])?;
        }
        doc.set_actor(self.doc.get_actor().clone());
        self.doc = doc;
        self.forget_visit_dates();
        Ok(count)
    }
    /// Commits with the time the work was recorded and a word for what it was (for a
    /// person reading raw history; the author is the server's record of whose device the
    /// actor is). Only `import` is read back: a device's copy holding nothing but imports
    /// may give way to the server's (`sync::apply_response`).
    pub(crate) fn commit(&mut self, now_ms: i64, what: &str) {
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(what.to_string())
                .with_time(now_ms),
        );
    }

    pub(crate) fn obj(&self, key: &str) -> Option<ObjId> {
        match self.doc.get(ROOT, key) {
            Ok(Some((Value::Object(_), id))) => Some(id),
            _ => None,
        }
    }

    pub(crate) fn get_str(&self, obj: &ObjId, key: &str) -> Option<String> {
        self.doc
            .get(obj, key)
            .ok()
            .flatten()
            .and_then(|(v, _)| str_of(&v))
    }

    pub fn id(&self) -> Option<String> {
        self.get_str(&ROOT, "id")
    }

    pub fn status(&self) -> Option<String> {
        self.get_str(&ROOT, "status")
    }

    pub fn area(&self) -> (String, u16, u16) {
        let ident = self.obj("identity").unwrap_or(ROOT);
        let num = |k: &str| {
            self.doc
                .get(&ident, k)
                .ok()
                .flatten()
                .and_then(|(v, _)| int_of(&v))
                .and_then(|i| u16::try_from(i).ok())
                .unwrap_or(0)
        };
        (
            self.get_str(&ident, "kelurahan").unwrap_or_default(),
            num("rw"),
            num("rt"),
        )
    }

    /// The household's KK number, as the registry import recorded it.
    pub fn kk(&self) -> Option<String> {
        self.get_str(&self.obj("identity")?, "kk")
    }

    /// The kelurahan's BPS code, as the registry import recorded it.
    pub fn kelurahan_bps(&self) -> Option<String> {
        self.get_str(&self.obj("identity")?, "kelurahan_bps")
    }

    /// Members who live in the household now (the divisor of per-person criteria).
    pub fn living_members(&self) -> usize {
        let Some(m) = self.obj("members") else {
            return 0;
        };
        self.doc
            .map_range(&m, ..)
            .filter(|item| {
                let presence = self.get_str(&item.id(), "presence");
                matches!(presence.as_deref(), Some("lives_here" | "new"))
            })
            .count()
    }

    /// Records a visit offline: the visit itself, member changes, and the status.
    pub fn record_visit(
        &mut self,
        input: &VisitInput,
        set: &IndicatorSet,
        author: &Author,
        clock: &dyn Clock,
        rng: &mut impl Rng,
    ) -> Result<String, HouseholdError> {
        let result = VisitResult::parse(&input.result)?;
        // Only a household found is asked the criteria: answers given with any other
        // result are not kept (the CLI says so), and such a visit is never scored.
        let answers = if result.carries_answers() {
            set.validate(&input.answers)?
        } else {
            BTreeMap::new()
        };
        // A found household is asked every criterion: one the family cannot or will
        // not answer is marked "tidak tahu", never left out by accident.
        let missing: Vec<String> = if result.carries_answers() {
            set.criteria
                .iter()
                .filter(|c| !answers.contains_key(&c.id))
                .map(|c| c.id.clone())
                .collect()
        } else {
            Vec::new()
        };
        if !missing.is_empty() {
            return Err(HouseholdError::Incomplete(missing));
        }
        let members = self
            .obj("members")
            .ok_or_else(|| HouseholdError::Schema("no members".into()))?;
        for (mid, presence) in &input.member_changes {
            if !PRESENCE.contains(&presence.as_str()) {
                return Err(HouseholdError::Invalid(format!(
                    "presence `{presence}` is not one of {}",
                    PRESENCE.join(", ")
                )));
            }
            if self.doc.get(&members, mid.as_str())?.is_none() {
                return Err(HouseholdError::Invalid(format!("no member `{mid}`")));
            }
        }
        let mut new_members = Vec::new();
        for nm in &input.new_members {
            let nik = match nm.nik.as_deref() {
                Some(n) => Nik::parse_optional(n).map_err(HouseholdError::Nik)?,
                None => None,
            };
            let sex = match nm.sex.as_deref() {
                Some(s) => Some(
                    Sex::parse(s)
                        .ok_or_else(|| HouseholdError::Invalid("sex must be L or P".into()))?,
                ),
                None => None,
            };
            if let Some(bd) = &nm.birth_date {
                parse_date(bd)?;
            }
            new_members.push(Member {
                nik: nik.map(String::from),
                name: nm.name.trim().to_string(),
                sex,
                birth_date: nm.birth_date.clone(),
                relation: nm.relation.clone(),
                presence: "new".into(),
            });
        }

        let visits = self
            .obj("visits")
            .ok_or_else(|| HouseholdError::Schema("no visits".into()))?;
        let vid = random_id("v-", rng);
        let v = self.doc.put_object(&visits, vid.as_str(), ObjType::Map)?;
        self.doc.put(&v, "date", clock.today())?;
        self.doc
            .put(&v, "at", ScalarValue::Timestamp(clock.now_ms()))?;
        self.doc.put(&v, "kader", author.user.as_str())?;
        self.doc.put(&v, "result", result.code())?;
        self.doc.put(&v, "set", set.tag())?;
        let a = self.doc.put_object(&v, "answers", ObjType::Map)?;
        for (k, ans) in &answers {
            match ans {
                Answer::Number(n) => self.doc.put(&a, k.as_str(), *n)?,
                Answer::Text(s) => self.doc.put(&a, k.as_str(), s.as_str())?,
                Answer::Bool(b) => self.doc.put(&a, k.as_str(), *b)?,
                Answer::Income {
                    occupation,
                    land_m2,
                    income_rp,
                } => {
                    let o = self.doc.put_object(&a, k.as_str(), ObjType::Map)?;
                    self.doc.put(&o, "occupation", occupation.as_str())?;
                    self.doc.put(&o, "land_m2", *land_m2)?;
                    self.doc.put(&o, "income_rp", *income_rp)?;
                }
            }
        }
        if let Some(d) = input.documents {
            let o = self.doc.put_object(&v, "documents", ObjType::Map)?;
            self.doc.put(&o, "kk", d.kk)?;
            self.doc.put(&o, "ktp", d.ktp)?;
        }
        if let Some(n) = input.notes.as_deref().filter(|n| !n.trim().is_empty()) {
            self.doc.put(&v, "notes", n)?;
        }
        if let Some(g) = input.gps {
            let o = self.doc.put_object(&v, "gps", ObjType::Map)?;
            self.doc.put(&o, "lat", g.lat)?;
            self.doc.put(&o, "lon", g.lon)?;
        }
        let mc = self.doc.put_object(&v, "member_changes", ObjType::Map)?;
        for (mid, presence) in &input.member_changes {
            self.doc.put(&mc, mid.as_str(), presence.as_str())?;
            if let Some((_, m)) = self.doc.get(&members, mid.as_str())? {
                self.doc.put(&m, "presence", presence.as_str())?;
            }
        }
        for m in &new_members {
            let mid = random_id("m-", rng);
            put_member(&mut self.doc, &members, &mid, m)?;
            self.doc.put(&mc, mid.as_str(), "new")?;
        }
        // Household size as it stood after this visit: criterion 1 divides by it, and
        // a later member change must not re-score this visit.
        let size = self.living_members() as i64;
        self.doc.put(&v, "size", size)?;
        // Automerge drops a put of the value a key already holds, which would hide a
        // concurrent visit's different result. Deleting first makes this visit's
        // status a fresh write, so two concurrent visits always leave a conflict.
        self.doc.delete(ROOT, "status")?;
        self.doc.put(ROOT, "status", result.code())?;
        self.commit(clock.now_ms(), "visit");
        Ok(vid)
    }

    /// Moves the household to another RW/RT of its kelurahan (an office decision; the
    /// server's area index moves with it).
    pub fn set_area(&mut self, rw: u16, rt: u16, now_ms: i64) -> Result<(), HouseholdError> {
        let ident = self
            .obj("identity")
            .ok_or_else(|| HouseholdError::Schema("no identity".into()))?;
        self.doc.put(&ident, "rw", i64::from(rw))?;
        self.doc.put(&ident, "rt", i64::from(rt))?;
        self.commit(now_ms, "move");
        Ok(())
    }

    /// The whole replicated state as JSON, keys sorted, plus derived scores and the
    /// conflicts. Two devices with the same changes print the same value.
    pub fn view(&self, set: &IndicatorSet) -> serde_json::Value {
        let mut root = obj_json(&self.doc, &ROOT);
        if let Some(visits) = root.get_mut("visits").and_then(|v| v.as_object_mut()) {
            for visit in visits.values_mut() {
                let scored = visit_scored(visit);
                let sc = score_visit(set, visit);
                if let Some(o) = visit.as_object_mut() {
                    if scored {
                        o.insert("met".into(), json!(sc.met));
                        o.insert("score".into(), json!(sc.score));
                        o.insert("poor".into(), json!(sc.poor));
                        o.insert("unanswered".into(), json!(sc.unanswered));
                        o.insert("unknown".into(), json!(sc.unknown));
                        o.insert("incomplete".into(), json!(sc.incomplete));
                    } else {
                        // Not found, moved, died, duplicate, refused: no verdict at all.
                        o.insert("met".into(), json!([]));
                        o.insert("score".into(), serde_json::Value::Null);
                        o.insert("poor".into(), serde_json::Value::Null);
                        o.insert("unanswered".into(), json!([]));
                        o.insert("unknown".into(), json!([]));
                        o.insert("incomplete".into(), json!(false));
                    }
                }
            }
        }
        // A NIK that disagrees with the member's sex or birth date is a warning only:
        // the registry record may be the wrong side of the disagreement.
        if let Some(members) = root.get_mut("members").and_then(|m| m.as_object_mut()) {
            for m in members.values_mut() {
                let warnings = member_warnings(m);
                if let (false, Some(o)) = (warnings.is_empty(), m.as_object_mut()) {
                    o.insert("warnings".into(), json!(warnings));
                }
            }
        }
        if let Some(o) = root.as_object_mut() {
            o.insert("conflicts".into(), json!(self.conflicts()));
        }
        root
    }

    /// Every member, for the store's member index.
    pub fn members_index(&self) -> Vec<(String, Member)> {
        let Some(m) = self.obj("members") else {
            return Vec::new();
        };
        self.doc
            .map_range(&m, ..)
            .map(|item| {
                let id = item.id();
                let get = |k: &str| self.get_str(&id, k);
                (
                    item.key.to_string(),
                    Member {
                        nik: get("nik"),
                        name: get("name").unwrap_or_default(),
                        sex: get("sex").as_deref().and_then(Sex::parse),
                        birth_date: get("birth_date"),
                        relation: get("relation").unwrap_or_default(),
                        presence: get("presence").unwrap_or_default(),
                    },
                )
            })
            .collect()
    }

    /// The household head's name and NIK.
    pub fn head(&self) -> (Option<String>, Option<String>) {
        let Some(m) = self.obj("members") else {
            return (None, None);
        };
        self.doc
            .map_range(&m, ..)
            .find(|item| self.get_str(&item.id(), "relation").as_deref() == Some("head"))
            .map_or((None, None), |item| {
                (
                    self.get_str(&item.id(), "name"),
                    self.get_str(&item.id(), "nik"),
                )
            })
    }

    /// Every visit's id, date, result and score, for the dashboard's visit index.
    pub fn visit_facts(
        &self,
        set: &IndicatorSet,
    ) -> Vec<(String, crate::dashboard::VisitFact, Option<String>)> {
        let Some(v) = self.obj("visits") else {
            return Vec::new();
        };
        self.doc
            .map_range(&v, ..)
            .map(|item| {
                let obj = item.id();
                let json = obj_json(&self.doc, &obj);
                let score = visit_scored(&json).then(|| score_visit(set, &json));
                let fact = crate::dashboard::VisitFact {
                    date: self.visit_date(&item.key, &obj),
                    result: json["result"].as_str().unwrap_or_default().to_string(),
                    poor: score.as_ref().is_some_and(|s| s.poor),
                    incomplete: score.as_ref().is_some_and(|s| s.incomplete),
                };
                (
                    item.key.to_string(),
                    fact,
                    json["kader"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    /// Whether the document holds the visit `id`.
    pub fn has_visit(&self, id: &str) -> bool {
        self.obj("visits")
            .is_some_and(|v| matches!(self.doc.get(&v, id), Ok(Some(_))))
    }

    /// A fasilitator decided this household duplicates another (`duplicate_of`).
    pub fn duplicate_of(&self) -> Option<String> {
        self.get_str(&ROOT, "duplicate_of")
    }

    /// The latest visit (by date, then id) and its date.
    pub(crate) fn last_visit(&self) -> Option<(String, serde_json::Value)> {
        let v = self.obj("visits")?;
        let mut last: Option<(String, String, ObjId)> = None;
        for item in self.doc.map_range(&v, ..) {
            let date = self.visit_date(&item.key, &item.id());
            let key = (date, item.key.to_string());
            if last
                .as_ref()
                .is_none_or(|(d, k, _)| (d, k) < (&key.0, &key.1))
            {
                last = Some((key.0, key.1, item.id()));
            }
        }
        last.map(|(d, _, id)| (d, obj_json(&self.doc, &id)))
    }

    pub fn summary(&self, set: &IndicatorSet) -> Summary {
        self.summary_with(set, !self.open_conflicts(set).is_empty())
    }

    /// The summary, when the caller already knows whether conflicts are open.
    pub fn summary_with(&self, set: &IndicatorSet, has_conflict: bool) -> Summary {
        let (kelurahan, rw, rt) = self.area();
        let ident = self.obj("identity").unwrap_or(ROOT);
        let mut head_name = None;
        let mut head_nik = None;
        let mut search = Vec::new();
        if let Some(m) = self.obj("members") {
            for item in self.doc.map_range(&m, ..) {
                let mid = item.id();
                let name = self.get_str(&mid, "name");
                let nik = self.get_str(&mid, "nik");
                if self.get_str(&mid, "relation").as_deref() == Some("head") && head_name.is_none()
                {
                    head_name = name.clone();
                    head_nik = nik.clone();
                }
                search.extend(name);
                search.extend(nik);
            }
        }
        let last = self.last_visit();
        let score = last
            .as_ref()
            .filter(|(_, v)| visit_scored(v))
            .map(|(_, v)| score_visit(set, v));
        let kk = self.get_str(&ident, "kk");
        let address = self.get_str(&ident, "address");
        search.extend(kk.clone());
        search.extend(address.clone());
        search.extend(self.get_str(&ident, "id_dtks"));
        Summary {
            kelurahan,
            rw,
            rt,
            head_name,
            head_nik,
            kk,
            address,
            status: self.status(),
            last_visit: last.map(|(d, _)| d),
            poor: score.as_ref().is_some_and(|s| s.poor),
            incomplete: score.as_ref().is_some_and(|s| s.incomplete),
            score: score.map(|s| s.score),
            has_conflict,
            proposal: matches!(
                self.doc.get(ROOT, "proposal"),
                Ok(Some((Value::Scalar(s), _))) if matches!(s.as_ref(), ScalarValue::Boolean(true))
            ),
            search_text: search.join(" "),
        }
    }
}

pub(crate) fn put_member(
    doc: &mut AutoCommit,
    members: &ObjId,
    mid: &str,
    m: &Member,
) -> Result<(), HouseholdError> {
    let o = doc.put_object(members, mid, ObjType::Map)?;
    if let Some(n) = &m.nik {
        doc.put(&o, "nik", n.as_str())?;
    }
    doc.put(&o, "name", m.name.as_str())?;
    if let Some(s) = m.sex {
        doc.put(&o, "sex", s.code())?;
    }
    if let Some(b) = &m.birth_date {
        doc.put(&o, "birth_date", b.as_str())?;
    }
    doc.put(&o, "relation", m.relation.as_str())?;
    doc.put(&o, "presence", m.presence.as_str())?;
    Ok(())
}

fn member_warnings(m: &serde_json::Value) -> Vec<String> {
    let Some(nik) = m
        .get("nik")
        .and_then(|n| n.as_str())
        .and_then(|n| Nik::parse(n).ok())
    else {
        return Vec::new();
    };
    let sex = m.get("sex").and_then(|s| s.as_str()).and_then(Sex::parse);
    nik.warnings(sex, m.get("birth_date").and_then(|b| b.as_str()))
}

/// Whether a visit (as JSON) gets a score: its result carries answers. A visit whose
/// result is unknown to this version is not scored either.
pub fn visit_scored(visit: &serde_json::Value) -> bool {
    visit
        .get("result")
        .and_then(|r| r.as_str())
        .and_then(|r| VisitResult::parse(r).ok())
        .is_some_and(VisitResult::carries_answers)
}

pub fn score_visit(set: &IndicatorSet, visit: &serde_json::Value) -> Score {
    let answers: BTreeMap<String, Answer> = visit
        .get("answers")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default();
    let size = visit.get("size").and_then(|s| s.as_u64()).unwrap_or(0) as usize;
    set.score(&answers, size)
}

pub(crate) fn obj_json(doc: &AutoCommit, obj: &ObjId) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for item in doc.map_range(obj, ..) {
        map.insert(
            item.key.to_string(),
            value_json(doc, &item.value.clone().into_value(), &item.id()),
        );
    }
    serde_json::Value::Object(map)
}

pub(crate) fn value_json(doc: &AutoCommit, v: &Value<'_>, id: &ObjId) -> serde_json::Value {
    match v {
        Value::Scalar(s) => scalar_json(s.as_ref()),
        Value::Object(ObjType::Map) => obj_json(doc, id),
        Value::Object(_) => serde_json::Value::Null,
    }
}

pub(crate) fn parse_date(s: &str) -> Result<time::Date, HouseholdError> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| HouseholdError::Invalid(format!("`{s}` is not a date (YYYY-MM-DD)")))
}

/// Moves a visit's `at` (milliseconds) and `date` (a day) by `delta_ms`: what a change
/// recorded again at another time carries with it.
fn shift_time(op: &mut automerge::legacy::Op, delta_ms: i64) {
    let automerge::legacy::Key::Map(key) = &op.key else {
        return;
    };
    let automerge::legacy::OpType::Put(value) = &mut op.action else {
        return;
    };
    match (key.as_str(), value) {
        ("at", ScalarValue::Timestamp(t)) => *t += delta_ms,
        ("date", ScalarValue::Str(s)) => {
            if let Ok(d) = parse_date(s) {
                let days = (delta_ms as f64 / 86_400_000.0).round() as i64;
                if let Some(moved) = d.checked_add(time::Duration::days(days)) {
                    *s = moved.to_string().into();
                }
            }
        }
        _ => {}
    }
}
