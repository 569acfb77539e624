//! Server storage: users, devices, area assignments, the household index (household →
//! kelurahan/RW/RT, owned by the server, not by the documents) and the change log with
//! its monotonic sequence numbers.
//!
//! `Storage` is the one trait handlers use; `SqliteStorage` is the embedded default.
//! A sync request's and a move's logic live in `crate::service`, over the
//! transactional operations (`service::store::StoreTx`) `SqliteTx` implements here
//! (SQL only); the rest moves there step by step.
//! SQLite runs one writer at a time, so a sequence number is visible to readers only
//! after every smaller one is: `seq > cursor` never skips a row that commits late. A
//! backend with concurrent writers (PostgreSQL) needs a different cursor rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use automerge::{ActorId, AutoCommit, ChangeHash};
use jemput_core::household::{Author, Household};
use jemput_core::registry::export::ExportRow;
use jemput_core::store::{decode_heads, encode_heads};
use jemput_core::sync::{Area, Rejected, SyncRequest, SyncResponse};
use jemput_core::zone::Zone;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::auth;
use crate::guard::{Limits, Origin, RuleBook};
use crate::service::store::{PageRow, StoreTx, Stored};
use crate::service::sync as service;
use ed25519_dalek::{SigningKey, VerifyingKey};
use jemput_core::bundle;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('kader', 'operator', 'fasilitator', 'admin')),
    password_hash TEXT NOT NULL
);
-- rw = 0: the whole kelurahan
CREATE TABLE areas (
    user      TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kelurahan TEXT NOT NULL,
    rw        INTEGER NOT NULL,
    PRIMARY KEY (user, kelurahan, rw)
);
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE households (
    id         TEXT PRIMARY KEY,
    kelurahan  TEXT NOT NULL,
    rw         INTEGER NOT NULL,
    rt         INTEGER NOT NULL,
    doc        BLOB NOT NULL,
    -- the document's heads, concatenated 32-byte hashes
    heads      BLOB NOT NULL,
    -- seq of the log row that put the household in its current area
    placed_seq INTEGER NOT NULL
);
CREATE INDEX households_area ON households (kelurahan, rw);
-- kind 0: an Automerge change (hash, bytes); kind 1: a placement in an area
CREATE TABLE log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    household TEXT NOT NULL,
    kind      INTEGER NOT NULL,
    hash      BLOB UNIQUE,
    bytes     BLOB,
    device    TEXT
);
CREATE INDEX log_household ON log (household, seq);
"#,
    r#"
-- where a placement moved the household from, so devices there learn it left
ALTER TABLE log ADD COLUMN from_kelurahan TEXT;
ALTER TABLE log ADD COLUMN from_rw INTEGER;
"#,
    r#"
-- a device's Ed25519 public key, certified by the server at login (sync by file)
ALTER TABLE devices ADD COLUMN public_key BLOB;
-- the server's own signing key: it certifies device keys
CREATE TABLE server_key (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);
"#,
    r#"
-- each household's export row (JSON) every time its document changed here, with the
-- time the change arrived: an export at a cut-off reads the last row by then
CREATE TABLE export_rows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    household  TEXT NOT NULL,
    kelurahan  TEXT NOT NULL,
    arrived_ms INTEGER NOT NULL,
    row        TEXT NOT NULL
);
CREATE INDEX export_rows_cutoff ON export_rows (kelurahan, household, arrived_ms);
"#,
    r#"
-- an Automerge actor belongs to one device: registered at login or bound at its first
-- push; a change under another device's actor is refused (foreign_actor)
CREATE TABLE actors (
    actor  BLOB PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE
);
CREATE INDEX actors_device ON actors (device);
-- when the device logged in: its changes cannot be older than a day before that
ALTER TABLE devices ADD COLUMN registered_ms INTEGER NOT NULL DEFAULT 0;
-- households a device could not merge a pulled document into, as it reported them
CREATE TABLE quarantine (
    device      TEXT NOT NULL,
    household   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    reported_ms INTEGER NOT NULL,
    PRIMARY KEY (device, household)
);
"#,
    r#"
-- who wrote a household's changes, named to the devices that pull them: an actor's
-- user (structured, never read from a change's message), and the actors of each
-- household
CREATE TABLE authors (
    actor BLOB PRIMARY KEY,
    user  TEXT NOT NULL
);
INSERT INTO authors (actor, user)
    SELECT a.actor, d.user FROM actors a JOIN devices d ON d.id = a.device;
CREATE TABLE household_actors (
    household TEXT NOT NULL,
    actor     BLOB NOT NULL,
    PRIMARY KEY (household, actor)
) WITHOUT ROWID;
"#,
    r#"
-- failed logins per account (`user:NAME`) and per address (`addr:IP`): shared by every
-- server process on this store
CREATE TABLE throttle (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    last_ms  INTEGER NOT NULL
);
"#,
    r#"
-- accounts that can be ended: a disabled user, a password changed at password_ms (a
-- device whose last password login, login_ms, is older must log in again; 0: never or
-- logged out), tokens that expire (0: ended), and when each device was last seen
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN token_expires_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN login_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;
-- one-time challenges a device signs with its key to get a new token
CREATE TABLE challenges (
    device     TEXT NOT NULL,
    challenge  BLOB NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (device, challenge)
);
"#,
    r#"
-- the audit log (`audit.rs`): append-only, hash-chained per chain (a kelurahan, or
-- `server`); the heads are kept here and in audit-heads.json beside the database
CREATE TABLE audit (
    chain  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    by     TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev   TEXT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_at ON audit (at_ms);
CREATE TABLE audit_heads (chain TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    r#"
-- a kelurahan's settings for its devices: minutes in the background before the app
-- asks for the PIN again
CREATE TABLE kelurahan_settings (
    kelurahan    TEXT PRIMARY KEY,
    lock_minutes INTEGER NOT NULL CHECK (lock_minutes BETWEEN 1 AND 30)
);
"#,
    r#"
-- bundle files are encrypted (age, X25519) to the server and to the devices of the
-- same areas: each device's public bundle key, and the server's own secret one
ALTER TABLE devices ADD COLUMN age_recipient TEXT;
CREATE TABLE server_age (id INTEGER PRIMARY KEY CHECK (id = 1), identity TEXT NOT NULL);
"#,
    r#"
-- set once the server's keys moved to a key file (`--key-file`): without the file the
-- server refuses to start rather than make new keys
CREATE TABLE server_keys_outside (id INTEGER PRIMARY KEY CHECK (id = 1));
"#,
    r#"
-- the kelurahan's time zone (WIB, WITA, WIT): its cut-offs, visit dates and months
ALTER TABLE kelurahan_settings ADD COLUMN zone TEXT NOT NULL DEFAULT 'WIB';
"#,
    r#"
-- the kelurahan's BPS code (10 digits): registry rows may carry it instead of the
-- Kemendagri code the server names the kelurahan by
ALTER TABLE kelurahan_settings ADD COLUMN bps TEXT;
"#,
];

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
    /// The kelurahan's BPS code, when set (`kelurahan set --bps`, or a first import's
    /// `--bps`).
    fn bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError>;
    /// The BPS code of the user's (first) kelurahan, for their devices' imports.
    fn user_bps(&self, user: &str) -> Result<Option<String>, StorageError>;
    fn set_bps(&self, kelurahan: &str, bps: &str) -> Result<(), StorageError>;
    /// Checks the password and registers a new device (with its public key, which the
    /// server certifies, when given).
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
    /// Every household of the kelurahan as it stood when the last change that
    /// arrived by `cutoff_ms` had arrived (see `registry`), ordered by RW, RT, id;
    /// each with when that change arrived (ms).
    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError>;
}

pub struct SqliteStorage {
    conn: Mutex<Connection>,
    limits: Limits,
    book: RuleBook,
    /// The audit chains' heads, kept outside the database too.
    heads_file: std::path::PathBuf,
    /// The server's own keys, when they live in a file of their own (`with_key_file`).
    secrets: Option<ServerSecrets>,
}

/// The server's own keys: the Ed25519 key that certifies devices (hex) and the age
/// identity bundle files are encrypted to.
#[derive(Clone, Serialize, serde::Deserialize)]
struct ServerSecrets {
    signing_key: String,
    bundle_identity: String,
}

impl SqliteStorage {
    pub fn open(dir: &Path) -> Result<SqliteStorage, StorageError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Invalid(format!("data dir: {e}")))?;
        let mut conn = Connection::open(dir.join("jemput-server.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        jemput_core::store::apply_migrations(&mut conn, MIGRATIONS).map_err(|e| match e {
            jemput_core::store::StoreError::TooNew { found, known } => {
                StorageError::TooNew { found, known }
            }
            jemput_core::store::StoreError::Sqlite(e) => StorageError::Sqlite(e),
            other => StorageError::Internal(other.to_string()),
        })?;
        backfill_export_rows(&mut conn)?;
        // The server's files are its own: the database holds families' data.
        #[cfg(unix)]
        for name in [
            "jemput-server.db",
            "jemput-server.db-wal",
            "jemput-server.db-shm",
        ] {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600));
        }
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            limits: Limits::default(),
            book: RuleBook::On,
            heads_file: dir.join("audit-heads.json"),
            secrets: None,
        })
    }

    /// Other caps than the defaults (tests, benches, a big office's server).
    pub fn with_limits(mut self, limits: Limits) -> SqliteStorage {
        self.limits = limits;
        self
    }

    /// The rule book off: only for the benchmark that measures what it costs.
    pub fn without_rule_book(mut self) -> SqliteStorage {
        self.book = RuleBook::Off;
        self
    }

    /// Keeps the server's keys in `path` (0600) rather than in the database: a copy of
    /// the database alone then cannot certify a device or open a bundle. The first
    /// time, the keys the database holds (or new ones) move there and are erased from
    /// the database; a database holding other keys than the file is refused.
    pub fn with_key_file(mut self, path: &Path) -> Result<SqliteStorage, StorageError> {
        let bad = |m: String| StorageError::Invalid(format!("{}: {m}", path.display()));
        let in_db = {
            let conn = self.conn()?;
            let key: Option<Vec<u8>> = conn
                .query_row("SELECT secret FROM server_key WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            let age: Option<String> = conn
                .query_row("SELECT identity FROM server_age WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            (key.map(hex::encode), age)
        };
        let secrets = match std::fs::read(path) {
            Ok(bytes) => {
                let secrets: ServerSecrets =
                    serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
                let differs =
                    |db: &Option<String>, file: &str| db.as_deref().is_some_and(|d| d != file);
                if differs(&in_db.0, &secrets.signing_key)
                    || differs(&in_db.1, &secrets.bundle_identity)
                {
                    return Err(bad(
                        "the database holds other server keys than this file".into()
                    ));
                }
                secrets
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secrets = ServerSecrets {
                    signing_key: hex::encode(self.signing_key()?.to_bytes()),
                    bundle_identity: self.bundle_identity()?,
                };
                let body = serde_json::to_vec_pretty(&secrets).map_err(|e| bad(e.to_string()))?;
                // The new file's name is durable before the database forgets the keys.
                jemput_core::files::create_private(path, &body)
                    .and_then(|()| jemput_core::files::sync_parent(path))
                    .map_err(|e| bad(e.to_string()))?;
                secrets
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        {
            let conn = self.conn()?;
            // Overwritten in the pages, not only unlinked from the tree.
            conn.pragma_update(None, "secure_delete", true)?;
            conn.execute("DELETE FROM server_key", [])?;
            conn.execute("DELETE FROM server_age", [])?;
            conn.execute(
                "INSERT INTO server_keys_outside (id) VALUES (1) ON CONFLICT DO NOTHING",
                [],
            )?;
            // And out of the write-ahead log, whose old frames would still hold them.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        self.secrets = Some(secrets);
        Ok(self)
    }

    /// The server's signing key: from its key file, or made on first use and kept in
    /// the database.
    fn signing_key(&self) -> Result<SigningKey, StorageError> {
        if let Some(s) = &self.secrets {
            let secret: [u8; 32] = hex::decode(&s.signing_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| StorageError::Internal("server key file damaged".into()))?;
            return Ok(SigningKey::from_bytes(&secret));
        }
        let conn = self.conn()?;
        keys_inside(&conn)?;
        let existing: Option<Vec<u8>> = conn
            .query_row("SELECT secret FROM server_key WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let secret: [u8; 32] = match existing {
            Some(s) => s
                .as_slice()
                .try_into()
                .map_err(|_| StorageError::Internal("server key damaged".into()))?,
            None => {
                let s: [u8; 32] = rand::random();
                conn.execute(
                    "INSERT INTO server_key (id, secret) VALUES (1, ?1)",
                    [s.to_vec()],
                )?;
                s
            }
        };
        Ok(SigningKey::from_bytes(&secret))
    }

    /// The audit chains' heads, written outside the database too: whoever edits the
    /// database must also edit this file.
    fn write_heads_file(&self) -> Result<(), StorageError> {
        // Read and written under the store's lock: two writers in this process never
        // leave an older snapshot last.
        let conn = self.conn()?;
        let heads = heads_in(&conn)?;
        let tmp = self
            .heads_file
            .with_extension(format!("json.{}.tmp", std::process::id()));
        let json =
            serde_json::to_vec_pretty(&heads).map_err(|e| StorageError::Internal(e.to_string()))?;
        let written = std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &self.heads_file))
            .map_err(|e| StorageError::Internal(format!("audit heads file: {e}")));
        drop(conn);
        written
    }

    pub(crate) fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StorageError> {
        // A panic while the lock was held rolled its transaction back (the
        // `Transaction` drops on unwind): the connection is sound, keep serving.
        Ok(self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Households stored before export rows existed get one, as arrived at time 0. Once
/// any row exists every household has one (each write projects), so opening a current
/// database costs one indexed lookup.
/// Refuses to read or make the server's keys in the database once they moved to a
/// key file: a server started without it must not certify devices with a new key.
fn keys_inside(conn: &Connection) -> Result<(), StorageError> {
    let outside: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM server_keys_outside)",
        [],
        |r| r.get(0),
    )?;
    if outside {
        return Err(StorageError::Invalid(
            "the server's keys live in a key file: give it with --key-file (or JEMPUT_KEY_FILE)"
                .into(),
        ));
    }
    Ok(())
}

/// The most bundle keys a sync answer carries (the devices seen last first): each
/// costs about 60 B in an answer and in every bundle file's header.
const MAX_RECIPIENTS: u32 = 200;

fn backfill_export_rows(conn: &mut Connection) -> Result<(), StorageError> {
    let projected: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM export_rows)", [], |r| {
        r.get(0)
    })?;
    if projected {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let docs: Vec<Vec<u8>> = {
        let mut stmt = tx.prepare("SELECT doc FROM households")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for bytes in docs {
        let hh = Household::load(&bytes).map_err(|e| StorageError::Internal(e.to_string()))?;
        project(&tx, &hh, 0)?;
    }
    tx.commit()?;
    Ok(())
}

fn user_areas(conn: &Connection, user: &str) -> Result<Vec<Area>, StorageError> {
    let mut stmt =
        conn.prepare("SELECT kelurahan, rw FROM areas WHERE user = ?1 ORDER BY kelurahan, rw")?;
    let rows = stmt.query_map([user], |r| {
        let rw: u16 = r.get(1)?;
        Ok(Area {
            kelurahan: r.get(0)?,
            rw: (rw != 0).then_some(rw),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Names `actor`'s user, once: the server's own record of who wrote a change.
pub(crate) fn name_author(
    tx: &Connection,
    actor: &ActorId,
    user: &str,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO authors (actor, user) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![actor.to_bytes(), user],
    )?;
    Ok(())
}

/// Records that `actors` wrote into `household`: devices that pull it learn their users.
pub(crate) fn note_actors<'a>(
    tx: &Connection,
    household: &str,
    actors: impl IntoIterator<Item = &'a ActorId>,
) -> Result<(), StorageError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO household_actors (household, actor) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for actor in actors {
        stmt.execute(params![household, actor.to_bytes()])?;
    }
    Ok(())
}

/// The authors of the changes in `households` (actor hex → user), for a response.
fn authors_of<'a>(
    tx: &Connection,
    households: impl IntoIterator<Item = &'a String>,
) -> Result<BTreeMap<String, String>, StorageError> {
    let mut stmt = tx.prepare_cached(
        "SELECT a.actor, a.user FROM household_actors h JOIN authors a ON a.actor = h.actor
         WHERE h.household = ?1",
    )?;
    let mut out = BTreeMap::new();
    for id in households {
        let rows = stmt.query_map([id], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (actor, user) = row?;
            out.insert(hex::encode(actor), user);
        }
    }
    Ok(out)
}

/// The audit chains' heads as the store keeps them.
fn heads_in(conn: &Connection) -> Result<AuditHeads, StorageError> {
    let mut stmt = conn.prepare("SELECT chain, seq, hash FROM audit_heads")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Appends an event to its audit chain inside the caller's transaction (the heads
/// file is written after the commit: `write_heads_file`).
pub(crate) fn audit_in(
    tx: &Connection,
    event: crate::audit::Event<'_>,
) -> Result<(), StorageError> {
    let head: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_heads WHERE chain = ?1",
            [event.chain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let e = crate::audit::next(event, head, crate::service::now_ms());
    tx.execute(
        "INSERT INTO audit (chain, seq, at_ms, kind, by, detail, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            e.chain,
            e.seq,
            e.at_ms,
            e.kind,
            e.by,
            e.detail.to_string(),
            e.prev,
            e.hash
        ],
    )?;
    tx.execute(
        "INSERT INTO audit_heads (chain, seq, hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![e.chain, e.seq, e.hash],
    )?;
    Ok(())
}

/// The signer of a push, as the guard needs it: user, role, areas, actors.
pub(crate) fn origin(tx: &Connection, device: &str) -> Result<Option<Origin>, StorageError> {
    let row: Option<(String, String, bool, i64)> = tx
        .query_row(
            "SELECT u.name, u.role, d.revoked, d.registered_ms FROM devices d
             JOIN users u ON u.name = d.user WHERE d.id = ?1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((user, role, revoked, registered_ms)) = row else {
        return Ok(None);
    };
    let role = Role::parse(&role).ok_or_else(|| StorageError::Internal("unknown role".into()))?;
    let mut stmt = tx.prepare_cached("SELECT actor FROM actors WHERE device = ?1")?;
    let actors = stmt
        .query_map([device], |r| r.get::<_, Vec<u8>>(0))?
        .map(|a| a.map(ActorId::from))
        .collect::<Result<_, _>>()?;
    Ok(Some(Origin {
        device: device.to_string(),
        areas: user_areas(tx, &user)?,
        user,
        role,
        revoked,
        registered_ms,
        actors,
    }))
}

/// Stores the household's export row as of now (inside the caller's transaction).
pub(crate) fn project(
    tx: &Connection,
    hh: &Household,
    arrived_ms: i64,
) -> Result<(), StorageError> {
    let row = ExportRow::of(hh, crate::service::indicator_set());
    let (kelurahan, _, _) = hh.area();
    insert_row(tx, &row, &kelurahan, arrived_ms)
}

pub(crate) fn insert_row(
    tx: &rusqlite::Connection,
    row: &ExportRow,
    kelurahan: &str,
    arrived_ms: i64,
) -> Result<(), StorageError> {
    let json = serde_json::to_string(row).map_err(|e| StorageError::Internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO export_rows (household, kelurahan, arrived_ms, row) VALUES (?1, ?2, ?3, ?4)",
        params![row.id, kelurahan, arrived_ms, json],
    )?;
    Ok(())
}

/// A stored zone name; one this server cannot read (a hand-edited database) is WIB,
/// with a warning, rather than every login and export of the kelurahan failing.
fn stored_zone(name: &str) -> Zone {
    Zone::parse(name).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "kelurahan_settings.zone unreadable; using WIB");
        Zone::default()
    })
}

impl SqliteStorage {
    /// What the service needs besides the store.
    fn context<'a>(&'a self, server_key: Option<&'a VerifyingKey>) -> service::Context<'a> {
        service::Context {
            limits: &self.limits,
            book: self.book,
            server_key,
            set: crate::service::indicator_set(),
            now_ms: crate::service::now_ms,
        }
    }
}

/// The sync service's operations in one SQLite transaction.
struct SqliteTx<'a>(&'a Connection);

impl StoreTx for SqliteTx<'_> {
    fn origin(&self, device: &str) -> Result<Option<Origin>, StorageError> {
        origin(self.0, device)
    }

    fn note_quarantine(
        &self,
        device: &str,
        household: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<(), StorageError> {
        self.0.execute(
            "INSERT INTO quarantine (device, household, reason, reported_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, household) DO UPDATE SET reason = excluded.reason, reported_ms = excluded.reported_ms",
            params![device, household, reason, at_ms],
        )?;
        Ok(())
    }

    fn device_key(&self, device: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let key: Option<Option<Vec<u8>>> = self
            .0
            .query_row(
                "SELECT public_key FROM devices WHERE id = ?1",
                [device],
                |r| r.get(0),
            )
            .optional()?;
        Ok(key.flatten())
    }

    fn household(&self, id: &str) -> Result<Option<Stored>, StorageError> {
        Ok(self
            .0
            .prepare_cached("SELECT kelurahan, rw, doc FROM households WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(Stored {
                    kelurahan: r.get(0)?,
                    rw: r.get(1)?,
                    doc: r.get(2)?,
                })
            })
            .optional()?)
    }

    fn actor_owner(&self, actor: &ActorId) -> Result<Option<String>, StorageError> {
        Ok(self
            .0
            .prepare_cached("SELECT device FROM actors WHERE actor = ?1")?
            .query_row([actor.to_bytes()], |r| r.get(0))
            .optional()?)
    }

    fn bind_actor(&self, actor: &ActorId, device: &str, user: &str) -> Result<(), StorageError> {
        self.0.execute(
            "INSERT INTO actors (actor, device) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![actor.to_bytes(), device],
        )?;
        name_author(self.0, actor, user)
    }

    fn note_actors(&self, household: &str, actors: &[&ActorId]) -> Result<(), StorageError> {
        note_actors(self.0, household, actors.iter().copied())
    }

    fn update_doc(&self, id: &str, doc: &[u8], heads: &[ChangeHash]) -> Result<(), StorageError> {
        self.0.execute(
            "UPDATE households SET doc = ?2, heads = ?3 WHERE id = ?1",
            params![id, doc, encode_heads(heads)],
        )?;
        Ok(())
    }

    fn place_new(
        &self,
        id: &str,
        (kelurahan, rw, rt): (&str, u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
        device: &str,
    ) -> Result<(), StorageError> {
        self.0.execute(
            "INSERT INTO log (household, kind, device) VALUES (?1, 1, ?2)",
            params![id, device],
        )?;
        let seq = self.0.last_insert_rowid();
        self.0.execute(
            "INSERT INTO households (id, kelurahan, rw, rt, doc, heads, placed_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, kelurahan, rw, rt, doc, encode_heads(heads), seq],
        )?;
        Ok(())
    }

    fn append_changes(
        &self,
        id: &str,
        changes: &[automerge::Change],
        device: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO log (household, kind, hash, bytes, device) VALUES (?1, 0, ?2, ?3, ?4)
             ON CONFLICT (hash) DO NOTHING",
        )?;
        for c in changes {
            stmt.execute(params![id, c.hash().0.to_vec(), c.raw_bytes(), device])?;
        }
        Ok(())
    }

    fn name_author(&self, actor: &ActorId, user: &str) -> Result<(), StorageError> {
        name_author(self.0, actor, user)
    }

    fn place_moved(
        &self,
        id: &str,
        (kelurahan, old_rw): (&str, u16),
        (rw, rt): (u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError> {
        self.0.execute(
            "INSERT INTO log (household, kind, from_kelurahan, from_rw) VALUES (?1, 1, ?2, ?3)",
            params![id, kelurahan, old_rw],
        )?;
        let seq = self.0.last_insert_rowid();
        self.0.execute(
            "UPDATE households SET rw = ?2, rt = ?3, doc = ?4, heads = ?5, placed_seq = ?6 WHERE id = ?1",
            params![id, rw, rt, doc, encode_heads(heads), seq],
        )?;
        Ok(())
    }

    fn audit(&self, event: crate::audit::Event<'_>) -> Result<(), StorageError> {
        audit_in(self.0, event)
    }

    fn export_row(
        &self,
        row: &ExportRow,
        kelurahan: &str,
        arrived_ms: i64,
    ) -> Result<(), StorageError> {
        insert_row(self.0, row, kelurahan, arrived_ms)
    }

    fn max_seq(&self) -> Result<i64, StorageError> {
        Ok(self
            .0
            .query_row("SELECT coalesce(max(seq), 0) FROM log", [], |r| r.get(0))?)
    }

    fn log_page(
        &self,
        area: &Area,
        cursor: i64,
        device: &str,
        limit: usize,
    ) -> Result<Vec<PageRow>, StorageError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT l.seq, l.household, l.kind, l.bytes FROM log l JOIN households h ON h.id = l.household
             WHERE l.seq > ?1 AND h.kelurahan = ?2 AND (?3 = 0 OR h.rw = ?3)
               AND ((l.kind = 1 AND l.seq = h.placed_seq AND (l.device IS NULL OR l.device != ?4))
                 OR (l.kind = 0 AND h.placed_seq <= ?1 AND (l.device IS NULL OR l.device != ?4)))
             ORDER BY l.seq LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                cursor,
                area.kelurahan,
                area.rw.unwrap_or(0),
                device,
                limit as i64
            ],
            |r| {
                Ok(PageRow {
                    seq: r.get(0)?,
                    household: r.get(1)?,
                    placement: r.get::<_, i64>(2)? == 1,
                    bytes: r.get(3)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn placed_after(&self, area: &Area, seq: i64) -> Result<u64, StorageError> {
        let n: i64 = self
            .0
            .prepare_cached(
                "SELECT count(*) FROM households
                 WHERE kelurahan = ?1 AND (?2 = 0 OR rw = ?2) AND placed_seq > ?3",
            )?
            .query_row(params![area.kelurahan, area.rw.unwrap_or(0), seq], |r| {
                r.get(0)
            })?;
        Ok(n as u64)
    }

    fn gone(&self, area: &Area, from: i64, to: i64) -> Result<Vec<String>, StorageError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT l.household FROM log l JOIN households h ON h.id = l.household
             WHERE l.kind = 1 AND l.seq > ?1 AND l.seq <= ?2
               AND l.from_kelurahan = ?3 AND (?4 = 0 OR l.from_rw = ?4)
               AND NOT (h.kelurahan = ?3 AND (?4 = 0 OR h.rw = ?4))",
        )?;
        let ids = stmt.query_map(
            params![from, to, area.kelurahan, area.rw.unwrap_or(0)],
            |r| r.get::<_, String>(0),
        )?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    fn heads(&self, id: &str) -> Result<Vec<ChangeHash>, StorageError> {
        let heads: Vec<u8> = self
            .0
            .prepare_cached("SELECT heads FROM households WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        Ok(decode_heads(&heads))
    }

    fn authors_of(&self, households: &[&String]) -> Result<BTreeMap<String, String>, StorageError> {
        authors_of(self.0, households.iter().copied())
    }
}

impl Storage for SqliteStorage {
    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError> {
        let conn = self.conn()?;
        // SQLite takes the bare columns from the row holding max(id).
        let mut stmt = conn.prepare(
            "SELECT row, arrived_ms, max(id) FROM export_rows
             WHERE kelurahan = ?1 AND arrived_ms <= ?2 GROUP BY household",
        )?;
        let rows = stmt.query_map(params![kelurahan, cutoff_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for pair in rows {
            let (json, arrived) = pair?;
            let row: ExportRow = serde_json::from_str(&json)
                .map_err(|e| StorageError::Internal(format!("export row: {e}")))?;
            out.push((row, arrived));
        }
        out.sort_by(|(a, _), (b, _)| (a.rw, a.rt, &a.id).cmp(&(b.rw, b.rt, &b.id)));
        Ok(out)
    }

    fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), StorageError> {
        if name.trim().is_empty() || password.len() < 8 {
            return Err(StorageError::Invalid(
                "user name must not be empty and the password must have at least 8 characters"
                    .into(),
            ));
        }
        let hash = auth::hash_password(password).map_err(StorageError::Internal)?;
        let now = crate::service::now_ms();
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO users (name, role, password_hash, password_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                 password_hash = excluded.password_hash, password_ms = excluded.password_ms",
            params![name, role.as_str(), hash, now],
        )?;
        // A new password ends every token of the user: each device logs in again.
        tx.execute(
            "UPDATE devices SET token_expires_ms = 0 WHERE user = ?1",
            [name],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn assign(&self, user: &str, area: &Area) -> Result<(), StorageError> {
        let conn = self.conn()?;
        let n = conn.execute(
            "INSERT INTO areas (user, kelurahan, rw) SELECT name, ?2, ?3 FROM users WHERE name = ?1
             ON CONFLICT DO NOTHING",
            params![user, area.kelurahan, area.rw.unwrap_or(0)],
        )?;
        if n == 0
            && conn
                .query_row("SELECT 1 FROM users WHERE name = ?1", [user], |_| Ok(()))
                .optional()?
                .is_none()
        {
            return Err(StorageError::NoUser(user.to_string()));
        }
        Ok(())
    }

    fn unassign(&self, user: &str, area: &Area) -> Result<(), StorageError> {
        self.conn()?.execute(
            "DELETE FROM areas WHERE user = ?1 AND kelurahan = ?2 AND rw = ?3",
            params![user, area.kelurahan, area.rw.unwrap_or(0)],
        )?;
        Ok(())
    }

    fn areas(&self, user: &str) -> Result<Vec<Area>, StorageError> {
        let conn = self.conn()?;
        user_areas(&conn, user)
    }

    fn set_device_recipient(&self, device: &str, recipient: &str) -> Result<(), StorageError> {
        self.conn()?.execute(
            "UPDATE devices SET age_recipient = ?2 WHERE id = ?1",
            params![device, recipient],
        )?;
        Ok(())
    }

    fn area_recipients(&self, user: &str) -> Result<Vec<String>, StorageError> {
        let conn = self.conn()?;
        // A bundle may hold anything of its writer's areas (its own work and what it
        // relays): only users who hold every one of those areas receive it. An
        // install's key on any revoked row is out, so is a logged-out row's.
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT d.age_recipient FROM users u
             JOIN devices d ON d.user = u.name AND d.revoked = 0 AND d.login_ms > 0
                AND d.age_recipient IS NOT NULL
             WHERE u.disabled = 0
               AND EXISTS (SELECT 1 FROM areas WHERE user = ?1)
               AND NOT EXISTS (
                   SELECT 1 FROM areas mine WHERE mine.user = ?1 AND NOT EXISTS (
                       SELECT 1 FROM areas theirs
                       WHERE theirs.user = u.name AND theirs.kelurahan = mine.kelurahan
                         AND (theirs.rw = 0 OR theirs.rw = mine.rw)))
               AND NOT EXISTS (
                   SELECT 1 FROM devices r WHERE r.revoked = 1
                     AND r.age_recipient = d.age_recipient)
             ORDER BY d.last_seen_ms DESC
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![user, MAX_RECIPIENTS], |r| r.get::<_, String>(0))?;
        let mut keys: Vec<String> = rows.collect::<Result<_, _>>()?;
        keys.sort();
        Ok(keys)
    }

    fn bundle_identity(&self) -> Result<String, StorageError> {
        if let Some(s) = &self.secrets {
            return Ok(s.bundle_identity.clone());
        }
        let conn = self.conn()?;
        keys_inside(&conn)?;
        let existing: Option<String> = conn
            .query_row("SELECT identity FROM server_age WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(identity) = existing {
            return Ok(identity);
        }
        let (identity, _) = bundle::new_identity();
        conn.execute(
            "INSERT INTO server_age (id, identity) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
            [&identity],
        )?;
        Ok(
            conn.query_row("SELECT identity FROM server_age WHERE id = 1", [], |r| {
                r.get(0)
            })?,
        )
    }

    fn lock_minutes(&self, user: &str) -> Result<u8, StorageError> {
        let minutes: Option<u8> = self.conn()?.query_row(
            "SELECT min(s.lock_minutes) FROM areas a
             JOIN kelurahan_settings s ON s.kelurahan = a.kelurahan WHERE a.user = ?1",
            [user],
            |r| r.get(0),
        )?;
        Ok(minutes.unwrap_or(jemput_core::rules::DEFAULT_LOCK_MINUTES))
    }

    fn set_lock_minutes(&self, kelurahan: &str, minutes: u8) -> Result<(), StorageError> {
        if !(1..=30).contains(&minutes) {
            return Err(StorageError::Invalid(
                "the lock time is 1 to 30 minutes".into(),
            ));
        }
        self.conn()?.execute(
            "INSERT INTO kelurahan_settings (kelurahan, lock_minutes) VALUES (?1, ?2)
             ON CONFLICT (kelurahan) DO UPDATE SET lock_minutes = excluded.lock_minutes",
            params![kelurahan, minutes],
        )?;
        Ok(())
    }

    fn zone(&self, kelurahan: &str) -> Result<Zone, StorageError> {
        let zone: Option<String> = self
            .conn()?
            .query_row(
                "SELECT zone FROM kelurahan_settings WHERE kelurahan = ?1",
                [kelurahan],
                |r| r.get(0),
            )
            .optional()?;
        Ok(zone.map_or(Zone::default(), |z| stored_zone(&z)))
    }

    fn user_zone(&self, user: &str) -> Result<Zone, StorageError> {
        let zone: Option<String> = self
            .conn()?
            .query_row(
                "SELECT s.zone FROM areas a JOIN kelurahan_settings s ON s.kelurahan = a.kelurahan
                 WHERE a.user = ?1 ORDER BY a.kelurahan LIMIT 1",
                [user],
                |r| r.get(0),
            )
            .optional()?;
        Ok(zone.map_or(Zone::default(), |z| stored_zone(&z)))
    }

    fn set_zone(&self, kelurahan: &str, zone: Zone) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO kelurahan_settings (kelurahan, lock_minutes, zone) VALUES (?1, ?2, ?3)
             ON CONFLICT (kelurahan) DO UPDATE SET zone = excluded.zone",
            params![
                kelurahan,
                jemput_core::rules::DEFAULT_LOCK_MINUTES,
                zone.name()
            ],
        )?;
        Ok(())
    }

    fn bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError> {
        let bps: Option<Option<String>> = self
            .conn()?
            .query_row(
                "SELECT bps FROM kelurahan_settings WHERE kelurahan = ?1",
                [kelurahan],
                |r| r.get(0),
            )
            .optional()?;
        Ok(bps.flatten())
    }

    fn user_bps(&self, user: &str) -> Result<Option<String>, StorageError> {
        let bps: Option<Option<String>> = self
            .conn()?
            .query_row(
                "SELECT s.bps FROM areas a JOIN kelurahan_settings s ON s.kelurahan = a.kelurahan
                 WHERE a.user = ?1 ORDER BY a.kelurahan LIMIT 1",
                [user],
                |r| r.get(0),
            )
            .optional()?;
        Ok(bps.flatten())
    }

    fn set_bps(&self, kelurahan: &str, bps: &str) -> Result<(), StorageError> {
        self.conn()?.execute(
            "INSERT INTO kelurahan_settings (kelurahan, lock_minutes, bps) VALUES (?1, ?2, ?3)
             ON CONFLICT (kelurahan) DO UPDATE SET bps = excluded.bps",
            params![kelurahan, jemput_core::rules::DEFAULT_LOCK_MINUTES, bps],
        )?;
        Ok(())
    }

    fn credentials(&self, user: &str) -> Result<Option<(Role, String)>, StorageError> {
        // A disabled user, and one other than an admin with no area left, cannot log
        // in: they answer like an unknown user.
        let row: Option<(String, String)> = self
            .conn()?
            .query_row(
                "SELECT role, password_hash FROM users u WHERE name = ?1 AND disabled = 0
                   AND (role = 'admin' OR EXISTS (SELECT 1 FROM areas a WHERE a.user = u.name))",
                [user],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(role, hash)| {
            Role::parse(&role)
                .map(|r| (r, hash))
                .ok_or_else(|| StorageError::Internal("unknown role".into()))
        })
        .transpose()
    }

    fn throttle(&self, key: &str) -> Result<(u32, i64), StorageError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT failures, until_ms FROM throttle WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0)))
    }

    fn throttle_fail(
        &self,
        key: &str,
        now_ms: i64,
        until: &dyn Fn(u32) -> i64,
    ) -> Result<(u32, i64), StorageError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Counts from a day ago are forgotten: a few typos a week never add up.
        let failures: u32 = tx
            .query_row(
                "SELECT failures FROM throttle WHERE key = ?1 AND last_ms > ?2",
                params![key, now_ms - 24 * 3600 * 1000],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0)
            + 1;
        let until_ms = until(failures);
        tx.execute(
            "INSERT INTO throttle (key, failures, until_ms, last_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                 until_ms = excluded.until_ms, last_ms = excluded.last_ms",
            params![key, failures, until_ms, now_ms],
        )?;
        tx.commit()?;
        Ok((failures, until_ms))
    }

    fn throttle_reset(&self, key: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM throttle WHERE key = ?1", [key])?;
        Ok(())
    }

    fn register_device(
        &self,
        user: &str,
        role: Role,
        device_name: &str,
        device_key: Option<[u8; 32]>,
        actors: &[ActorId],
        key_proven: bool,
    ) -> Result<LoginOk, StorageError> {
        let token = auth::new_token();
        let device = format!("d-{}", &auth::new_token()[..16]);
        {
            let mut conn = self.conn()?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO devices (id, user, name, token_hash, public_key, registered_ms,
                     token_expires_ms, login_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?6)",
                params![
                    device,
                    user,
                    device_name,
                    auth::token_hash(&token),
                    device_key.map(|k| k.to_vec()),
                    crate::service::now_ms(),
                    crate::service::now_ms() + crate::session::TOKEN_MS
                ],
            )?;
            // The device's actors are its own from now on. An actor already bound moves
            // only from an earlier login of the same install (same device key).
            for actor in actors {
                tx.execute(
                    "INSERT INTO actors (actor, device) VALUES (?1, ?2)
                     ON CONFLICT (actor) DO UPDATE SET device = excluded.device
                     WHERE ?5
                       AND (SELECT public_key FROM devices WHERE id = actors.device) = ?3
                       AND (SELECT user FROM devices WHERE id = actors.device) = ?4",
                    params![
                        actor.to_bytes(),
                        device,
                        device_key.map(|k| k.to_vec()),
                        user,
                        key_proven
                    ],
                )?;
                tx.execute(
                    "INSERT INTO authors (actor, user)
                     SELECT ?1, ?2 WHERE (SELECT device FROM actors WHERE actor = ?1) = ?3
                     ON CONFLICT DO NOTHING",
                    params![actor.to_bytes(), user, device],
                )?;
            }
            // The same install logging in again keeps its first registration: its
            // unsent work from before stays inside the accepted time window.
            tx.execute(
                "UPDATE devices SET registered_ms = (
                     SELECT min(d.registered_ms) FROM devices d
                     WHERE d.user = ?2 AND d.public_key IS NOT NULL AND d.public_key = ?3)
                 WHERE id = ?1 AND ?3 IS NOT NULL AND ?4",
                params![device, user, device_key.map(|k| k.to_vec()), key_proven],
            )?;
            tx.commit()?;
        }
        let server = self.signing_key()?;
        let certificate =
            device_key.map(|k| hex::encode(bundle::certify(&server, &device, user, role, &k)));
        Ok(LoginOk {
            token,
            device,
            user: user.to_string(),
            role,
            server_key: hex::encode(server.verifying_key().to_bytes()),
            certificate,
            server_ms: crate::service::now_ms(),
            lock_minutes: self.lock_minutes(user)?,
            zone: self.user_zone(user)?,
            bps: self.user_bps(user)?,
            server_recipient: bundle::recipient_of(&self.bundle_identity()?).unwrap_or_default(),
        })
    }

    fn server_key(&self) -> Result<VerifyingKey, StorageError> {
        Ok(self.signing_key()?.verifying_key())
    }

    fn import_bundle(&self, bytes: &[u8]) -> Result<BundleImport, StorageError> {
        let server_key = self.server_key()?;
        let payload =
            bundle::read(bytes, &server_key).map_err(|e| StorageError::Invalid(e.to_string()))?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let signer = origin(&tx, &payload.device)?.ok_or_else(|| {
            StorageError::Invalid("the bundle's device is unknown to this server".into())
        })?;
        if signer.revoked {
            return Err(StorageError::Invalid(
                "the bundle's device was revoked: refused".into(),
            ));
        }
        let rejected = service::apply_bundle(
            &SqliteTx(&tx),
            &self.context(Some(&server_key)),
            &payload,
            0,
        )?;
        tx.commit()?;
        drop(conn);
        self.write_heads_file()?;
        Ok(BundleImport {
            device: payload.device.clone(),
            user: signer.user,
            accepted: payload.docs.len() - rejected.len(),
            rejected,
        })
    }

    fn token_state(&self, token: &str) -> Result<TokenState, StorageError> {
        let conn = self.conn()?;
        let row: Option<(String, String, String, bool, bool, i64)> = conn
            .query_row(
                "SELECT d.id, u.name, u.role, d.revoked, u.disabled, d.token_expires_ms
                 FROM devices d JOIN users u ON u.name = d.user WHERE d.token_hash = ?1",
                [auth::token_hash(token)],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((device, user, role, revoked, disabled, expires_ms)) = row else {
            return Ok(TokenState::Unknown);
        };
        let Some(role) = Role::parse(&role) else {
            return Ok(TokenState::Unknown);
        };
        let now = crate::service::now_ms();
        Ok(if revoked || disabled {
            TokenState::Revoked
        } else if expires_ms <= now {
            TokenState::Expired
        } else if role != Role::Admin && user_areas(&conn, &user)?.is_empty() {
            TokenState::NoArea
        } else {
            conn.execute(
                "UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1",
                params![device, now],
            )?;
            TokenState::Valid(Session { user, role, device })
        })
    }

    fn device_record(&self, device: &str) -> Result<Option<DeviceRecord>, StorageError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT d.user, u.role, d.public_key, d.revoked, u.disabled, d.login_ms, u.password_ms
                 FROM devices d JOIN users u ON u.name = d.user WHERE d.id = ?1",
                [device],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, bool>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((user, role, key, revoked, disabled, login_ms, password_ms)) = row else {
            return Ok(None);
        };
        let role =
            Role::parse(&role).ok_or_else(|| StorageError::Internal("unknown role".into()))?;
        let has_area = role == Role::Admin || !user_areas(&conn, &user)?.is_empty();
        Ok(Some(DeviceRecord {
            user,
            role,
            public_key: key.and_then(|k| <[u8; 32]>::try_from(k).ok()),
            revoked,
            disabled,
            login_ms,
            password_ms,
            has_area,
        }))
    }

    fn put_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM challenges WHERE expires_ms < ?1",
            [crate::service::now_ms()],
        )?;
        conn.execute(
            "INSERT INTO challenges (device, challenge, expires_ms) SELECT ?1, ?2, ?3
             WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?1)",
            params![device, challenge, expires_ms],
        )?;
        Ok(())
    }

    fn take_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        Ok(self.conn()?.execute(
            "DELETE FROM challenges WHERE device = ?1 AND challenge = ?2 AND expires_ms >= ?3",
            params![device, challenge, now_ms],
        )? > 0)
    }

    fn set_token(
        &self,
        device: &str,
        token: Option<&str>,
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        let conn = self.conn()?;
        match token {
            Some(t) => conn.execute(
                "UPDATE devices SET token_hash = ?2, token_expires_ms = ?3 WHERE id = ?1",
                params![device, auth::token_hash(t), expires_ms],
            )?,
            // Logged out: the token ends, and only a password login starts a new one.
            None => conn.execute(
                "UPDATE devices SET token_expires_ms = 0, login_ms = 0 WHERE id = ?1",
                [device],
            )?,
        };
        Ok(())
    }

    fn audit(&self, event: crate::audit::Event<'_>) -> Result<(), StorageError> {
        {
            let mut conn = self.conn()?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            audit_in(&tx, event)?;
            tx.commit()?;
        }
        self.write_heads_file()
    }

    fn audit_entries(&self, since_ms: i64) -> Result<Vec<crate::audit::Entry>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT chain, seq, at_ms, kind, by, detail, prev, hash FROM audit
             WHERE at_ms >= ?1 ORDER BY chain, seq",
        )?;
        let rows = stmt.query_map([since_ms], |r| {
            Ok(crate::audit::Entry {
                chain: r.get(0)?,
                seq: r.get(1)?,
                at_ms: r.get(2)?,
                kind: r.get(3)?,
                by: r.get(4)?,
                detail: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
                prev: r.get(6)?,
                hash: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_heads(&self) -> Result<(AuditHeads, Option<AuditHeads>), StorageError> {
        let stored = heads_in(&*self.conn()?)?;
        let file = std::fs::read(&self.heads_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        Ok((stored, file))
    }

    fn set_password(&self, user: &str, password: &str) -> Result<bool, StorageError> {
        if password.chars().count() < 8 {
            return Err(StorageError::Invalid(
                "the password must have at least 8 characters".into(),
            ));
        }
        let hash = auth::hash_password(password).map_err(StorageError::Internal)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE users SET password_hash = ?2, password_ms = ?3 WHERE name = ?1",
            params![user, hash, crate::service::now_ms()],
        )?;
        tx.execute(
            "UPDATE devices SET token_expires_ms = 0 WHERE user = ?1",
            [user],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn set_disabled(&self, user: &str, disabled: bool) -> Result<bool, StorageError> {
        Ok(self.conn()?.execute(
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            params![user, disabled],
        )? > 0)
    }

    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, user, name, registered_ms, last_seen_ms, revoked, token_expires_ms FROM devices
             WHERE ?1 IS NULL OR user = ?1 ORDER BY user, registered_ms",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok(DeviceInfo {
                device: r.get(0)?,
                user: r.get(1)?,
                name: r.get(2)?,
                registered_ms: r.get(3)?,
                last_seen_ms: r.get(4)?,
                revoked: r.get(5)?,
                token_expires_ms: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_device(&self, device: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn()?
            .execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [device])?
            > 0)
    }

    fn insert_households(&self, households: &[NewHousehold]) -> Result<usize, StorageError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let mut n = 0;
        for h in households {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM households WHERE id = ?1",
                    [&h.id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if exists {
                continue;
            }
            let mut doc = AutoCommit::load(&h.doc)
                .map_err(|e| StorageError::Invalid(format!("household {}: {e}", h.id)))?;
            let actors: BTreeSet<ActorId> = doc
                .get_changes(&[])
                .iter()
                .map(|c| c.actor_id().clone())
                .collect();
            for actor in &actors {
                name_author(&tx, actor, &h.by)?;
            }
            note_actors(&tx, &h.id, &actors)?;
            let heads = doc.get_heads();
            let bytes = doc.save_nocompress();
            tx.execute("INSERT INTO log (household, kind) VALUES (?1, 1)", [&h.id])?;
            let seq = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO households (id, kelurahan, rw, rt, doc, heads, placed_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    h.id,
                    h.kelurahan,
                    h.rw,
                    h.rt,
                    bytes,
                    encode_heads(&heads),
                    seq
                ],
            )?;
            let hh = Household::from_doc(doc)
                .map_err(|e| StorageError::Invalid(format!("household {}: {e}", h.id)))?;
            project(&tx, &hh, crate::service::now_ms())?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }

    fn heads(&self) -> Result<BTreeMap<String, Vec<String>>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT id, heads FROM households ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, heads) = row?;
            let mut hex: Vec<String> = decode_heads(&heads).iter().map(|h| h.to_string()).collect();
            hex.sort();
            out.insert(id, hex);
        }
        Ok(out)
    }

    fn document(&self, id: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .conn()?
            .query_row("SELECT doc FROM households WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn households(
        &self,
        kelurahan: Option<&str>,
        rw: Option<u16>,
    ) -> Result<Vec<HouseholdArea>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, kelurahan, rw, rt FROM households
             WHERE (?1 IS NULL OR kelurahan = ?1) AND (?2 IS NULL OR rw = ?2)
             ORDER BY kelurahan, rw, rt, id",
        )?;
        let rows = stmt.query_map(params![kelurahan, rw], |r| {
            Ok(HouseholdArea {
                id: r.get(0)?,
                kelurahan: r.get(1)?,
                rw: r.get(2)?,
                rt: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn quarantine_reports(&self) -> Result<Vec<QuarantineReport>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT q.device, d.user, q.household, q.reason, q.reported_ms FROM quarantine q
             LEFT JOIN devices d ON d.id = q.device ORDER BY q.reported_ms",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(QuarantineReport {
                device: r.get(0)?,
                user: r.get(1)?,
                household: r.get(2)?,
                reason: r.get(3)?,
                reported_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn household_count(&self) -> Result<u64, StorageError> {
        let n: i64 = self
            .conn()?
            .query_row("SELECT count(*) FROM households", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn move_household(
        &self,
        id: &str,
        rw: u16,
        rt: u16,
        by: &Author,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let moved =
            crate::service::moves::move_household(&SqliteTx(&tx), id, (rw, rt), by, now_ms)?;
        if moved {
            tx.commit()?;
        }
        Ok(moved)
    }

    fn sync(
        &self,
        session: &Session,
        req: &SyncRequest,
        page_limit: usize,
    ) -> Result<SyncResponse, StorageError> {
        // Only relayed bundles need the server's key, read before the store's lock is
        // taken (reading it may take it).
        let server_key = match req.bundles.is_empty() {
            true => None,
            false => Some(self.server_key()?),
        };
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let resp = service::sync(
            &SqliteTx(&tx),
            &self.context(server_key.as_ref()),
            &session.device,
            req,
            page_limit,
        )?;
        tx.commit()?;
        drop(conn);
        if !req.push.is_empty() || !req.bundles.is_empty() {
            // Decisions may have joined the audit log.
            self.write_heads_file()?;
        }
        Ok(resp)
    }
}
