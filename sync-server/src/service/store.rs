//! The store interface the service works over: the transactional operations of one
//! request. A store (SQLite today, `crate::storage`) implements them with its query
//! language and nothing else; every call runs inside the transaction the store opened
//! for the request ([`Store::run`]) and sees the writes of the calls before it.
//!
//! - [`StoreTx`]: household data — households and their documents, the log, export
//!   rows — each keyed by the household and its kelurahan.
//! - [`AccountTx`]: reference data — users, areas, devices and their actors, kelurahan
//!   settings, login throttles, challenges, the server's keys, the audit chains.

use std::collections::BTreeMap;

use automerge::{ActorId, Change, ChangeHash};
use jemput_core::registry::export::ExportRow;
use jemput_core::sync::Area;

use crate::error::StorageError;
use crate::guard::Origin;
use crate::service::api::{AuditHeads, DeviceInfo, HouseholdArea, QuarantineReport};
use jemput_core::rules::Role;

/// How a transaction ends once its work returned `Ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Commit,
    /// Everything is undone: a dry run.
    Rollback,
}

/// Both halves of a transaction's operations.
pub trait Tx: StoreTx + AccountTx {}
impl<T: StoreTx + AccountTx + ?Sized> Tx for T {}

/// A backend: it runs work in transactions.
pub trait Store: Send + Sync + 'static {
    /// Runs `work` in one transaction and ends it as `work` says; an `Err` rolls back.
    /// `write: false` promises `work` only reads (a store may then run it beside
    /// writers, on a snapshot).
    fn run<T>(
        &self,
        write: bool,
        work: impl FnOnce(&dyn Tx) -> Result<(T, End), StorageError>,
    ) -> Result<T, StorageError>;

    /// Where files of the server beside the store live (the audit heads file), if the
    /// store has a directory.
    fn dir(&self) -> Option<&std::path::Path>;

    /// Erases the server's keys from the store, beyond recovery from its files, and
    /// records that they moved to a key file.
    fn forget_keys(&self) -> Result<(), StorageError>;
}

/// A stored household as the sync reads it.
pub struct Stored {
    pub kelurahan: String,
    pub rw: u16,
    /// The whole document as stored.
    pub doc: Vec<u8>,
}

/// One row of an area's log: a placement (the household's whole document goes out)
/// or a change (its bytes go out), with the household's RW and heads as they stand.
pub struct PageRow {
    pub seq: i64,
    pub household: String,
    pub placement: bool,
    pub bytes: Option<Vec<u8>>,
    pub rw: u16,
    pub heads: Vec<ChangeHash>,
}

/// The operations of one request inside the store's transaction.
pub trait StoreTx {
    /// The device's user, role, areas and actors; `None` for an unknown device.
    fn origin(&self, device: &str) -> Result<Option<Origin>, StorageError>;
    /// A household the device could not merge, as it reported it.
    fn note_quarantine(
        &self,
        device: &str,
        household: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<(), StorageError>;
    /// The device's registered public key.
    fn device_key(&self, device: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// A household found by its id alone (a push names no kelurahan), held for this
    /// transaction's writes when it writes. Every other operation on a household
    /// names it by (id, kelurahan), the key household data is distributed by.
    fn household(&self, id: &str) -> Result<Option<Stored>, StorageError>;
    /// A household to read only (a page's documents, a push before the guard has
    /// judged it): nothing held.
    fn household_read(&self, id: &str) -> Result<Option<Stored>, StorageError> {
        self.household(id)
    }
    /// Holds, for this transaction's writes, a household read by `household_read`:
    /// `true` when it is still `doc` (`None`: still absent); `false` when another
    /// writer changed it meanwhile, and it is read again. Stores with one writer at a
    /// time have nothing to check.
    fn claim(
        &self,
        _id: &str,
        _kelurahan: &str,
        _doc: Option<&[u8]>,
    ) -> Result<bool, StorageError> {
        Ok(true)
    }
    /// The device an Automerge actor is bound to.
    fn actor_owner(&self, actor: &ActorId) -> Result<Option<String>, StorageError>;
    /// Binds a new actor to the device and records the user as its author.
    fn bind_actor(&self, actor: &ActorId, device: &str, user: &str) -> Result<(), StorageError>;
    /// A household's document, by (id, kelurahan).
    fn document(&self, household: (&str, &str)) -> Result<Option<Vec<u8>>, StorageError>;
    /// Records that these actors wrote into the household (id, kelurahan).
    fn note_actors(&self, household: (&str, &str), actors: &[&ActorId])
        -> Result<(), StorageError>;
    fn update_doc(
        &self,
        household: (&str, &str),
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError>;
    /// A household's RT within its RW, its document and heads (the registry's update).
    fn update_household(
        &self,
        household: (&str, &str),
        rt: u16,
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError>;
    /// A household new to the server: its row and its placement in its area (the log
    /// row that sends it whole to the area's devices, except `device`, which has it;
    /// `None` when the server made it).
    fn place_new(
        &self,
        id: &str,
        area: (&str, u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
        device: Option<&str>,
    ) -> Result<(), StorageError>;
    /// Appends changes of a household (id, kelurahan) to the log (a change already
    /// there is kept once); `device`: the
    /// device that pushed them (its own sync skips them), `None` for the server's own.
    fn append_changes(
        &self,
        household: (&str, &str),
        changes: &[Change],
        device: Option<&str>,
    ) -> Result<(), StorageError>;
    /// Records the user as the author of an actor the server writes with (a move's).
    fn name_author(&self, actor: &ActorId, user: &str) -> Result<(), StorageError>;
    /// A household moved within its kelurahan: its new RW/RT and document, and a
    /// placement that remembers the area it left (devices there learn it is gone,
    /// devices of the new area get it whole).
    fn place_moved(
        &self,
        id: &str,
        from: (&str, u16),
        to: (u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError>;
    /// Appends an event to its audit chain.
    fn audit(&self, event: crate::audit::Event<'_>) -> Result<(), StorageError> {
        let head = self.audit_head(event.chain)?;
        let entry = crate::audit::next(event, head, super::now_ms());
        self.append_audit(&entry)
    }
    /// The last entry of an audit chain: (seq, hash).
    fn audit_head(&self, chain: &str) -> Result<Option<(i64, String)>, StorageError>;
    /// Appends a chained entry and makes it its chain's head.
    fn append_audit(&self, entry: &crate::audit::Entry) -> Result<(), StorageError>;
    /// Stores the household's export row as it stands now.
    fn export_row(
        &self,
        row: &ExportRow,
        kelurahan: &str,
        arrived_ms: i64,
    ) -> Result<(), StorageError>;
    /// The household's export row as last stored (its document as it stands).
    fn last_export_row(
        &self,
        kelurahan: &str,
        household: &str,
    ) -> Result<Option<ExportRow>, StorageError>;
    /// The largest sequence number of the kelurahan's log rows. A store with several
    /// writers keeps every row of a kelurahan not yet visible above it (see
    /// ARCHITECTURE.md, "Log and cursors").
    fn max_seq(&self, kelurahan: &str) -> Result<i64, StorageError>;
    /// Up to `limit` rows of the area's log after `cursor`, in order: placements of
    /// households placed after it, changes of households placed at or before it,
    /// neither written by `device`.
    fn log_page(
        &self,
        area: &Area,
        cursor: i64,
        device: &str,
        limit: usize,
    ) -> Result<Vec<PageRow>, StorageError>;
    /// Households of the area placed after `seq`.
    fn placed_after(&self, area: &Area, seq: i64) -> Result<u64, StorageError>;
    /// Households placed elsewhere between `from` (exclusive) and `to` that were in
    /// the area before.
    fn gone(&self, area: &Area, from: i64, to: i64) -> Result<Vec<String>, StorageError>;
    /// The users of the actors that wrote into these households, each (id,
    /// kelurahan): actor hex → user.
    fn authors_of(
        &self,
        households: &[(&str, &str)],
    ) -> Result<BTreeMap<String, String>, StorageError>;
    /// A household's kelurahan and RW, by its id alone.
    fn area_of(&self, id: &str) -> Result<Option<(String, u16)>, StorageError>;
    /// Ids of the kelurahan's households.
    fn kelurahan_ids(&self, kelurahan: &str) -> Result<Vec<String>, StorageError>;
    /// Up to `limit` documents of the kelurahan's households (every kelurahan's for
    /// `None`), by id.
    fn kelurahan_docs(
        &self,
        kelurahan: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError>;
    /// Whether any export row is stored.
    fn has_export_rows(&self) -> Result<bool, StorageError>;
    /// Per household of the kelurahan, the last export row that arrived by `cutoff_ms`,
    /// with when it arrived.
    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError>;
    /// Households with their area, optionally of one kelurahan (and RW), ordered.
    fn households(
        &self,
        kelurahan: Option<&str>,
        rw: Option<u16>,
    ) -> Result<Vec<HouseholdArea>, StorageError>;
    fn household_count(&self) -> Result<u64, StorageError>;
    /// Every household's heads, by id.
    fn all_heads(&self) -> Result<Vec<(String, Vec<ChangeHash>)>, StorageError>;
    fn quarantine_reports(&self) -> Result<Vec<QuarantineReport>, StorageError>;
}

/// A user as the store keeps it.
pub struct UserRow {
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
}

/// A device and its user as the store keeps them.
pub struct DeviceRow {
    pub user: String,
    pub role: Role,
    pub public_key: Option<Vec<u8>>,
    pub revoked: bool,
    pub disabled: bool,
    /// The last password login (0: logged out).
    pub login_ms: i64,
    /// When the user's password last changed.
    pub password_ms: i64,
    pub last_seen_ms: i64,
}

/// A device registered at a password login.
pub struct NewDevice<'a> {
    pub id: &'a str,
    pub user: &'a str,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub public_key: Option<&'a [u8]>,
    pub now_ms: i64,
    pub expires_ms: i64,
}

/// One kelurahan's settings row; `None` fields are unset.
#[derive(Default)]
pub struct SettingsRow {
    pub lock_minutes: Option<u8>,
    pub zone: Option<String>,
    pub bps: Option<String>,
    /// `month` or `quarter` (month when unset).
    pub period: Option<String>,
    /// `jemput_core::muskel::Deadlines` as JSON (the defaults when unset).
    pub deadlines: Option<String>,
}

/// The operations on users, devices and the server's own records.
pub trait AccountTx {
    fn user(&self, name: &str) -> Result<Option<UserRow>, StorageError>;
    /// Adds the user or replaces its role and password.
    fn put_user(&self, name: &str, role: Role, hash: &str, now_ms: i64)
        -> Result<(), StorageError>;
    /// `false`: no such user.
    fn set_password_hash(&self, name: &str, hash: &str, now_ms: i64) -> Result<bool, StorageError>;
    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StorageError>;
    /// Ends every token of the user's devices.
    fn end_tokens(&self, user: &str) -> Result<(), StorageError>;
    /// `false`: no such user.
    fn assign(&self, user: &str, area: &Area) -> Result<bool, StorageError>;
    fn unassign(&self, user: &str, area: &Area) -> Result<(), StorageError>;
    /// The user's areas, ordered.
    fn areas(&self, user: &str) -> Result<Vec<Area>, StorageError>;

    fn insert_device(&self, d: &NewDevice<'_>) -> Result<(), StorageError>;
    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError>;
    /// The device holding a token hash: (device, its row, the token's expiry).
    fn device_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(String, DeviceRow, i64)>, StorageError>;
    /// Moves an actor bound elsewhere to `device`.
    fn rebind_actor(&self, actor: &ActorId, device: &str) -> Result<(), StorageError>;
    /// The earliest registration of the user's devices with this key.
    fn first_registered(&self, user: &str, key: &[u8]) -> Result<Option<i64>, StorageError>;
    fn set_registered(&self, device: &str, ms: i64) -> Result<(), StorageError>;
    fn touch_device(&self, device: &str, now_ms: i64) -> Result<(), StorageError>;
    fn set_token(&self, device: &str, hash: &[u8], expires_ms: i64) -> Result<(), StorageError>;
    /// Ends the device's token and its password login.
    fn log_out(&self, device: &str) -> Result<(), StorageError>;
    fn revoke_device(&self, device: &str) -> Result<bool, StorageError>;
    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, StorageError>;
    fn set_device_recipient(&self, device: &str, recipient: &str) -> Result<(), StorageError>;
    /// Bundle keys of unrevoked, logged-in devices of enabled users who hold every area
    /// of `user`, at most `max`, the devices seen last first.
    fn area_recipients(&self, user: &str, max: u32) -> Result<Vec<String>, StorageError>;

    /// Forgets expired challenges and keeps a new one.
    fn put_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StorageError>;
    /// Takes (deletes) an unexpired challenge: `false` if there was none.
    fn take_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        now_ms: i64,
    ) -> Result<bool, StorageError>;

    /// A throttle key's (failures, held until, last failure).
    fn throttle(&self, key: &str) -> Result<Option<(u32, i64, i64)>, StorageError>;
    fn put_throttle(
        &self,
        key: &str,
        failures: u32,
        until_ms: i64,
        last_ms: i64,
    ) -> Result<(), StorageError>;
    fn clear_throttle(&self, key: &str) -> Result<(), StorageError>;

    fn settings(&self, kelurahan: &str) -> Result<Option<SettingsRow>, StorageError>;
    /// Writes the fields that are `Some`; a new row takes the default lock time.
    fn put_settings(&self, kelurahan: &str, s: &SettingsRow) -> Result<(), StorageError>;

    /// The server's signing key and bundle identity, as the store holds them.
    fn server_secrets(&self) -> Result<(Option<Vec<u8>>, Option<String>), StorageError>;
    /// Keeps a signing key unless one is kept already; returns the kept one.
    fn init_signing_key(&self, secret: &[u8]) -> Result<Vec<u8>, StorageError>;
    /// Keeps a bundle identity unless one is kept already; returns the kept one.
    fn init_bundle_identity(&self, identity: &str) -> Result<String, StorageError>;
    /// Whether the keys moved to a key file.
    fn keys_outside(&self) -> Result<bool, StorageError>;

    fn audit_entries(&self, since_ms: i64) -> Result<Vec<crate::audit::Entry>, StorageError>;
    fn audit_heads(&self) -> Result<AuditHeads, StorageError>;

    /// The kelurahan's Muskel sessions (each as JSON, `jemput_core::muskel::Session`),
    /// by date then id.
    fn muskel_sessions(&self, kelurahan: &str) -> Result<Vec<String>, StorageError>;
    /// One session, held for this transaction's write when `for_update`.
    fn muskel_session(
        &self,
        kelurahan: &str,
        id: &str,
        for_update: bool,
    ) -> Result<Option<String>, StorageError>;
    fn put_muskel_session(
        &self,
        kelurahan: &str,
        id: &str,
        date: &str,
        record: &str,
    ) -> Result<(), StorageError>;

    /// The kelurahan's complaints and referrals (each as JSON, `jemput_core::cases::Case`).
    fn cases(&self, kelurahan: &str) -> Result<Vec<String>, StorageError>;
    /// One case, held for this transaction's write when `for_update`.
    fn case(
        &self,
        kelurahan: &str,
        id: &str,
        for_update: bool,
    ) -> Result<Option<String>, StorageError>;
    fn put_case(
        &self,
        kelurahan: &str,
        id: &str,
        rw: u16,
        record: &str,
    ) -> Result<(), StorageError>;

    /// A value the server keeps for itself (the registry's column mapping).
    fn server_value(&self, key: &str) -> Result<Option<String>, StorageError>;
    fn put_server_value(&self, key: &str, value: &str) -> Result<(), StorageError>;
}
