//! The service's interface: [`Storage`], the one trait the HTTP handlers and the admin
//! CLI call (implemented once, by [`super::Server`], over any store), and the types it
//! answers with.

use std::collections::BTreeMap;

use automerge::ActorId;
use ed25519_dalek::VerifyingKey;
use jemput_core::dashboard::PeriodKind;
use jemput_core::household::Author;
use jemput_core::registry::export::ExportRow;
use jemput_core::registry::{Counts, Coverage, Parsed};
use jemput_core::sync::{Rejected, SyncRequest, SyncResponse};
use jemput_core::zone::Zone;
use serde::Serialize;

use crate::guard::Limits;
use jemput_core::sync::Area;

/// Rows per sync response page.
pub const PAGE_LIMIT: usize = 1000;

pub use crate::error::StorageError;

pub use jemput_core::rules::Role;

/// An authenticated device of a user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub device: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoginOk {
    pub token: String,
    pub device: String,
    pub user: String,
    pub role: Role,
    /// Hex of the server's public key.
    pub server_key: String,
    /// Hex of the server's signature over the device's key, when one was given.
    pub certificate: Option<String>,
    /// The server's clock (ms): the device corrects its own by it from the start.
    pub server_ms: i64,
    /// Minutes in the background before the app asks for the PIN again: the shortest
    /// of the user's kelurahans.
    pub lock_minutes: u8,
    /// The zone of the user's kelurahan: the device's dates and months are days in it.
    pub zone: Zone,
    /// The verification round of the user's kelurahan: month or quarter.
    pub period: PeriodKind,
    /// Its month's deadlines (Muskel, SIKS-NG input, complaints).
    pub deadlines: jemput_core::muskel::Deadlines,
    /// The BPS code of the user's kelurahan, when set: registry rows may carry it.
    pub bps: Option<String>,
    /// The server's bundle key (`age1…`): devices encrypt every bundle file to it.
    pub server_recipient: String,
}

/// What importing a bundle on the server did.
#[derive(Debug, Clone, Serialize)]
pub struct BundleImport {
    pub device: String,
    pub user: String,
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
}

/// A household and its area (the server's index).
#[derive(Debug, Clone, Serialize)]
pub struct HouseholdArea {
    pub id: String,
    pub kelurahan: String,
    pub rw: u16,
    pub rt: u16,
}

/// A household a device could not merge, as it reported it.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineReport {
    pub device: String,
    pub user: Option<String>,
    pub household: String,
    pub reason: String,
    pub reported_ms: i64,
}

/// What a bearer token is.
pub enum TokenState {
    Valid(Session),
    /// The device was revoked or its user disabled: it must erase its data.
    Revoked,
    /// Past its 24 h: the device renews it with its key (`/v1/refresh`).
    Expired,
    /// A user other than an admin with no area left.
    NoArea,
    Unknown,
}

/// A device as the token renewal needs it.
pub struct DeviceRecord {
    pub user: String,
    pub role: Role,
    pub public_key: Option<[u8; 32]>,
    pub revoked: bool,
    pub disabled: bool,
    pub login_ms: i64,
    pub password_ms: i64,
    pub has_area: bool,
}

/// Chain → (seq, hash) of its last entry.
pub type AuditHeads = BTreeMap<String, (i64, String)>;

/// A device as `devices` lists it.
#[derive(Debug, serde::Serialize)]
pub struct DeviceInfo {
    pub device: String,
    pub user: String,
    pub name: String,
    pub registered_ms: i64,
    pub last_seen_ms: i64,
    pub revoked: bool,
    pub token_expires_ms: i64,
}

/// A household for the index, as the registry import or the demo creates it.
pub struct NewHousehold {
    pub id: String,
    pub kelurahan: String,
    pub rw: u16,
    pub rt: u16,
    pub doc: Vec<u8>,
    /// The user the document's changes are by (the registry office, for the demo).
    pub by: String,
}

pub trait Storage: Send + Sync + 'static {
    fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), StorageError>;
    fn assign(&self, user: &str, area: &Area) -> Result<(), StorageError>;
    fn unassign(&self, user: &str, area: &Area) -> Result<(), StorageError>;
    fn areas(&self, user: &str) -> Result<Vec<Area>, StorageError>;
    /// Records a device's bundle key (`age1…`).
    fn set_device_recipient(&self, device: &str, recipient: &str) -> Result<(), StorageError>;
    /// The bundle keys of the live, logged-in devices whose users hold every area of
    /// `user` (a kader's RW: its RW's kaders and the kelurahan's office; the office's
    /// whole kelurahan: the office alone), never a key of a revoked device.
    fn area_recipients(&self, user: &str) -> Result<Vec<String>, StorageError>;
    /// The server's secret bundle key (an age X25519 identity), made on first use.
    fn bundle_identity(&self) -> Result<String, StorageError>;
    /// Minutes in the background before `user`'s app asks for the PIN again: the
    /// shortest setting of the user's kelurahans, or the default.
    fn lock_minutes(&self, user: &str) -> Result<u8, StorageError>;
    /// Sets the minutes (1–30) a kelurahan's apps stay open in the background.
    fn set_lock_minutes(&self, kelurahan: &str, minutes: u8) -> Result<(), StorageError>;
    /// The kelurahan's time zone (WIB unless set).
    fn zone(&self, kelurahan: &str) -> Result<Zone, StorageError>;
    /// The zone of the user's (first) kelurahan, for their devices.
    fn user_zone(&self, user: &str) -> Result<Zone, StorageError>;
    fn set_zone(&self, kelurahan: &str, zone: Zone) -> Result<(), StorageError>;
    /// The complaints and referrals of `user`'s areas.
    fn cases(&self, user: &str) -> Result<Vec<jemput_core::cases::Case>, StorageError>;
    fn case_receive(
        &self,
        user: &str,
        new: jemput_core::cases::NewCase,
    ) -> Result<jemput_core::cases::Case, StorageError>;
    /// `action`: assign (a kader), visit (a visit id), close (outcome and note).
    fn case_update(
        &self,
        user: &str,
        role: Role,
        id: &str,
        action: CaseAction,
    ) -> Result<jemput_core::cases::Case, StorageError>;
    /// The Muskel sessions of `user`'s kelurahan (kelurahan-wide users only).
    fn muskel_sessions(
        &self,
        user: &str,
    ) -> Result<Vec<jemput_core::muskel::Session>, StorageError>;
    fn muskel_open(
        &self,
        user: &str,
        role: Role,
        new: jemput_core::muskel::NewSession,
    ) -> Result<jemput_core::muskel::Session, StorageError>;
    /// Decides a household's proposal of `kind` in `session`.
    #[allow(clippy::too_many_arguments)]
    fn muskel_decide(
        &self,
        user: &str,
        role: Role,
        session: &str,
        household: &str,
        kind: jemput_core::muskel::ProposalKind,
        outcome: jemput_core::muskel::Outcome,
        reason: &str,
    ) -> Result<jemput_core::muskel::Session, StorageError>;
    fn muskel_close(
        &self,
        user: &str,
        role: Role,
        session: &str,
    ) -> Result<jemput_core::muskel::Session, StorageError>;
    /// The kelurahan's verification round (a month unless set).
    fn period_kind(&self, kelurahan: &str) -> Result<PeriodKind, StorageError>;
    /// The round of the user's (first) kelurahan, for their devices.
    fn user_period_kind(&self, user: &str) -> Result<PeriodKind, StorageError>;
    fn set_period_kind(&self, kelurahan: &str, kind: PeriodKind) -> Result<(), StorageError>;
    /// The kelurahan's deadlines (the defaults unless set).
    fn deadlines(&self, kelurahan: &str) -> Result<jemput_core::muskel::Deadlines, StorageError>;
    fn user_deadlines(&self, user: &str) -> Result<jemput_core::muskel::Deadlines, StorageError>;
    fn set_deadlines(
        &self,
        kelurahan: &str,
        d: jemput_core::muskel::Deadlines,
    ) -> Result<(), StorageError>;
    /// The kelurahan's BPS code, when set (`kelurahan set --bps`, or a first import's
    /// `--bps`).
    fn bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError>;
    /// The BPS code of the user's (first) kelurahan, for their devices' imports.
    fn user_bps(&self, user: &str) -> Result<Option<String>, StorageError>;
    fn set_bps(&self, kelurahan: &str, bps: &str) -> Result<(), StorageError>;
    /// A user's role and password hash, if the user exists.
    fn credentials(&self, user: &str) -> Result<Option<(Role, String)>, StorageError>;
    /// Registers a device for a user whose password was checked (see `login`): a new
    /// token, the device key certified, its actors bound.
    fn register_device(
        &self,
        user: &str,
        role: Role,
        device_name: &str,
        device_key: Option<[u8; 32]>,
        actors: &[ActorId],
        key_proven: bool,
    ) -> Result<LoginOk, StorageError>;
    /// Failed logins counted under `key` and until when it is held back (ms).
    fn throttle(&self, key: &str) -> Result<(u32, i64), StorageError>;
    /// Counts one more failure under `key`, holding it back until `until_ms` as
    /// `until` decides from the new count; returns the new count and the time.
    fn throttle_fail(
        &self,
        key: &str,
        now_ms: i64,
        until: &dyn Fn(u32) -> i64,
    ) -> Result<(u32, i64), StorageError>;
    fn throttle_reset(&self, key: &str) -> Result<(), StorageError>;
    /// Checks the password and registers the device, without throttling: for the
    /// admin CLI and tests. The HTTP login goes through `login::Gate`.
    fn login(
        &self,
        user: &str,
        password: &str,
        device_name: &str,
        device_key: Option<[u8; 32]>,
        actors: &[ActorId],
        key_proven: bool,
    ) -> Result<Option<LoginOk>, StorageError> {
        match crate::login::check_password(self.credentials(user)?, password) {
            Some(role) => self
                .register_device(user, role, device_name, device_key, actors, key_proven)
                .map(Some),
            None => Ok(None),
        }
    }
    /// The server's public key: devices check bundles' certificates with it.
    fn server_key(&self) -> Result<VerifyingKey, StorageError>;
    /// Applies a device's bundle as if that device had synced it (same scope checks).
    fn import_bundle(&self, bytes: &[u8]) -> Result<BundleImport, StorageError>;
    /// What a bearer token is: a device's live session, a revoked device's, or nothing.
    fn token_state(&self, token: &str) -> Result<TokenState, StorageError>;
    /// What the server knows of a device, for renewing its token (`session`).
    fn device_record(&self, device: &str) -> Result<Option<DeviceRecord>, StorageError>;
    /// Keeps a one-time challenge for a device (ignored for unknown devices).
    fn put_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        expires_ms: i64,
    ) -> Result<(), StorageError>;
    /// Uses up a challenge: `true` if it was there and not expired.
    fn take_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        now_ms: i64,
    ) -> Result<bool, StorageError>;
    /// A new token for a device, or (`None`) its token ended by a logout.
    fn set_token(
        &self,
        device: &str,
        token: Option<&str>,
        expires_ms: i64,
    ) -> Result<(), StorageError>;
    /// A new password for an existing user (`false` if none): its tokens end.
    fn set_password(&self, user: &str, password: &str) -> Result<bool, StorageError>;
    /// Disables or enables a user; `false` if there is no such user.
    fn set_disabled(&self, user: &str, disabled: bool) -> Result<bool, StorageError>;
    /// Devices, of one user or all, with when they were last seen.
    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, StorageError>;
    /// Appends an event to its audit chain.
    fn audit(&self, event: crate::audit::Event<'_>) -> Result<(), StorageError>;
    /// Audit entries since `since_ms`, in chain order.
    fn audit_entries(&self, since_ms: i64) -> Result<Vec<crate::audit::Entry>, StorageError>;
    /// The heads as the store keeps them, and as the file outside it keeps them.
    fn audit_heads(&self) -> Result<(AuditHeads, Option<AuditHeads>), StorageError>;
    fn authenticate(&self, token: &str) -> Result<Option<Session>, StorageError> {
        Ok(match self.token_state(token)? {
            TokenState::Valid(s) => Some(s),
            _ => None,
        })
    }
    fn revoke_device(&self, device: &str) -> Result<bool, StorageError>;
    fn insert_households(&self, households: &[NewHousehold]) -> Result<usize, StorageError>;
    fn household_count(&self) -> Result<u64, StorageError>;
    /// The caps this server applies (`guard::Limits`).
    fn limits(&self) -> Limits;
    /// The server's current document of a household (for support and tests).
    fn document(&self, id: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Households with their area, optionally of one kelurahan (and RW).
    fn households(
        &self,
        kelurahan: Option<&str>,
        rw: Option<u16>,
    ) -> Result<Vec<HouseholdArea>, StorageError>;
    /// What devices reported they could not merge.
    fn quarantine_reports(&self) -> Result<Vec<QuarantineReport>, StorageError>;
    /// Household id → the heads of its document (hex, sorted), to compare replicas.
    fn heads(&self) -> Result<BTreeMap<String, Vec<String>>, StorageError>;
    /// Moves a household to another RW/RT of its kelurahan; `false` if it does not exist.
    fn move_household(
        &self,
        id: &str,
        rw: u16,
        rt: u16,
        by: &Author,
        now_ms: i64,
    ) -> Result<bool, StorageError>;
    fn sync(
        &self,
        session: &Session,
        req: &SyncRequest,
        page_limit: usize,
    ) -> Result<SyncResponse, StorageError>;
    /// A sync as the HTTP handler answers it: also the bundle keys of the device's
    /// areas (`area_recipients` and the server's own `server_recipient`), sent when the
    /// device's digest of them differs; read in the sync's own transaction.
    fn sync_answer(
        &self,
        session: &Session,
        req: &SyncRequest,
        page_limit: usize,
        server_recipient: &str,
    ) -> Result<SyncResponse, StorageError>;
    /// Every household of the kelurahan as it stood when the last change that
    /// arrived by `cutoff_ms` had arrived (see `registry`), ordered by RW, RT, id;
    /// each with when that change arrived (ms).
    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError>;
    /// Imports a checked registry file into `kelurahan` (`super::registry`).
    fn import_registry(
        &self,
        parsed: Parsed,
        kelurahan: &str,
        how: &super::registry::ImportRun<'_>,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<(Counts, Coverage), StorageError>;
    /// The kelurahan's BPS code: its settings', else as an earlier import recorded it.
    fn kelurahan_bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError>;
    /// A value the server keeps for itself (`import-mapping`: the registry's column
    /// mapping as JSON).
    fn server_value(&self, key: &str) -> Result<Option<String>, StorageError>;
    fn set_server_value(&self, key: &str, value: &str) -> Result<(), StorageError>;
    /// The store's identity (`super::identity`), which devices send with every sync.
    fn server_id(&self) -> Result<u64, StorageError>;
    /// After a restore from a backup: a new identity, the store's (the backup's) and
    /// `replaced` (that of the store the backup replaced) remembered as former ones;
    /// recorded in the audit log. Devices then start again and lose nothing they hold.
    fn restored(&self, replaced: Option<u64>) -> Result<u64, StorageError>;
}

/// A step of a complaint or referral after it was received.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseAction {
    Assign { kader: String },
    Visit { visit: String },
    Close { outcome: String, note: String },
}
