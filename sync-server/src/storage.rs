//! The embedded store: SQLite, one file in the data directory. It holds SQL and
//! nothing else: the schema and its migrations, [`Sqlite`] (the connection, its
//! transactions) and `SqliteTx`, the service's store operations
//! (`crate::service::store`) in SQL. The server's logic is `crate::service`;
//! [`SqliteStorage`] is the service over this store.
//!
//! SQLite runs one writer at a time, so a sequence number is visible to readers only
//! after every smaller one is: `seq > cursor` never skips a row that commits late.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use automerge::{ActorId, ChangeHash};
use jemput_core::registry::export::ExportRow;
use jemput_core::store::{decode_heads, encode_heads};
use jemput_core::sync::Area;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StorageError;
use crate::guard::Origin;
use crate::service::store::{
    AccountTx, DeviceRow, End, NewDevice, PageRow, SettingsRow, Store, StoreTx, Stored, Tx, UserRow,
};
use crate::service::{AuditHeads, DeviceInfo, HouseholdArea, QuarantineReport, Role, Server};

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
    r#"
-- the log carries its household's kelurahan (a household never leaves it): a page
-- reads the kelurahan's rows after the cursor, whatever the store's size, and the
-- table can be distributed by kelurahan
ALTER TABLE log ADD COLUMN kelurahan TEXT NOT NULL DEFAULT '';
UPDATE log SET kelurahan = coalesce(
    (SELECT h.kelurahan FROM households h WHERE h.id = log.household), '');
CREATE INDEX log_area ON log (kelurahan, seq);
"#,
    r#"
-- values the server keeps for itself, by name (the registry's column mapping)
CREATE TABLE server_values (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
    r#"
-- a household's last export row, which a push that only adds a visit derives from
CREATE INDEX export_rows_last ON export_rows (kelurahan, household, id);
"#,
    r#"
-- no query reads a household's log rows by household alone: the index only cost writes
DROP INDEX log_household;
"#,
    r#"
-- a sync's bundle recipients: the users of the caller's kelurahan, and whether a key
-- was revoked, without reading every user and device
CREATE INDEX areas_kelurahan ON areas (kelurahan, user);
CREATE INDEX devices_recipient ON devices (age_recipient);
CREATE INDEX devices_user ON devices (user);
"#,
    r#"
-- the kelurahan's verification round: 'month' (when unset) or 'quarter'
ALTER TABLE kelurahan_settings ADD COLUMN period TEXT;
-- the village meetings that decide proposals: each session whole, as JSON
CREATE TABLE muskel_sessions (
    kelurahan TEXT NOT NULL,
    id        TEXT NOT NULL,
    date      TEXT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (kelurahan, id)
);
"#,
    r#"
-- complaints and referrals, each whole as JSON, scoped by their RW
CREATE TABLE cases (
    kelurahan TEXT NOT NULL,
    id        TEXT NOT NULL,
    rw        INTEGER NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (kelurahan, id)
);
"#,
    r#"
-- the month's deadlines (jemput_core::muskel::Deadlines as JSON; defaults when unset)
ALTER TABLE kelurahan_settings ADD COLUMN deadlines TEXT;
"#,
];

/// The service over the embedded SQLite store.
pub type SqliteStorage = Server<Sqlite>;

impl Server<Sqlite> {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStorage, StorageError> {
        Server::new(Sqlite::open(dir)?)
    }

    /// Copies the store in `dir` to the new file `out` (0600) through SQLite's online
    /// backup, in one step: one read transaction, so one consistent snapshot, while
    /// writers go on (WAL). Written beside `out` first and renamed when whole; an
    /// existing `out` is never overwritten. Returns the backup's size in bytes.
    pub fn backup(dir: &Path, out: &Path) -> Result<u64, StorageError> {
        let bad = |m: String| StorageError::Invalid(format!("{}: {m}", out.display()));
        if out.exists() {
            return Err(bad("exists already: a backup is never overwritten".into()));
        }
        let mut partial = out.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_file(&partial);
        jemput_core::files::create_private(&partial, b"").map_err(|e| bad(e.to_string()))?;
        let copied = (|| {
            let src = Connection::open_with_flags(
                Sqlite::file(dir),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            src.busy_timeout(std::time::Duration::from_secs(30))?;
            let mut dst = Connection::open(&partial)?;
            copy_whole(&src, &mut dst)?;
            drop(dst);
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all().and_then(|()| f.metadata()))
                .map(|m| m.len())
                .map_err(|e| StorageError::Internal(format!("backup: {e}")))
        })();
        let done = copied.and_then(|len| {
            std::fs::rename(&partial, out)
                .and_then(|()| jemput_core::files::sync_parent(out))
                .map_err(|e| bad(e.to_string()))?;
            Ok(len)
        });
        if done.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        done
    }

    /// Replaces the store in `dir` with the backup `file` (checked to be a server
    /// store first), through SQLite's backup API so the write-ahead log stays
    /// consistent. The server must be stopped. Returns the identity the replaced store
    /// had, if any; the caller then opens the store (migrating an older backup) and
    /// gives it a new identity (`Storage::restored`).
    pub fn restore(dir: &Path, file: &Path) -> Result<Option<u64>, StorageError> {
        let bad = |m: &str| StorageError::Invalid(format!("{}: {m}", file.display()));
        let src = Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|_| bad("cannot be opened"))?;
        let tables: i64 = src
            .cached_row(
                "SELECT count(*) FROM sqlite_master
                  WHERE type = 'table' AND name IN ('households', 'log', 'users', 'devices')",
                [],
                |r| r.get(0),
            )
            .map_err(|_| bad("is not a Jemput server backup"))?;
        let version: i64 = src.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if tables != 4 {
            return Err(bad("is not a Jemput server backup"));
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(StorageError::TooNew {
                found: version,
                known: MIGRATIONS.len() as i64,
            });
        }
        let replaced = Connection::open_with_flags(
            Sqlite::file(dir),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()
        .and_then(|c| {
            c.cached_row(
                "SELECT value FROM server_values WHERE key = 'identity'",
                [],
                |r| r.get::<_, String>(0),
            )
            .ok()
        })
        .and_then(|v| serde_json::from_str::<crate::service::identity::Identity>(&v).ok())
        .map(|i| i.id);
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Invalid(format!("data dir: {e}")))?;
        let mut dst = Connection::open(Sqlite::file(dir))?;
        dst.busy_timeout(std::time::Duration::from_secs(30))?;
        copy_whole(&src, &mut dst)?;
        dst.cached_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(replaced)
    }
}

/// Copies every page of `src` into `dst` in one step of SQLite's backup API (one read
/// transaction of `src`: a consistent snapshot).
fn copy_whole(src: &Connection, dst: &mut Connection) -> Result<(), StorageError> {
    use rusqlite::backup::{Backup, StepResult};
    match Backup::new(src, dst)?.step(-1)? {
        StepResult::Done => Ok(()),
        other => Err(StorageError::Internal(format!(
            "the backup did not finish: {other:?}"
        ))),
    }
}

/// The SQLite store: one writer connection, one write transaction at a time, and
/// reader connections beside it (WAL: a reader sees the last commit before its first
/// read and never waits for the writer).
pub struct Sqlite {
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    dir: PathBuf,
}

/// Reader connections kept open between reads (more are opened when busier, and
/// closed after): opening one parses the schema, which costs more than a sync.
const IDLE_READERS: usize = 32;

impl Sqlite {
    pub fn open(dir: &Path) -> Result<Sqlite, StorageError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Invalid(format!("data dir: {e}")))?;
        let mut conn = Connection::open(Self::file(dir))?;
        Self::plan_once(&conn)?;
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
        Ok(Sqlite {
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            dir: dir.to_path_buf(),
        })
    }

    fn file(dir: &Path) -> PathBuf {
        dir.join("jemput-server.db")
    }

    /// A reader connection: an idle one, or a new one.
    fn reader(&self) -> Result<Connection, StorageError> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            Self::file(&self.dir),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        Self::plan_once(&conn)?;
        Ok(conn)
    }

    /// Statements are prepared once per connection and keep their plan: with the
    /// query planner stability guarantee a new binding never makes SQLite plan a
    /// statement again (without it, every step after a rebind re-prepared — a quarter
    /// of an idle sync's CPU).
    fn plan_once(conn: &Connection) -> Result<(), StorageError> {
        conn.set_prepared_statement_cache_capacity(256);
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(())
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while the lock was held rolled its transaction back (the
        // `Transaction` drops on unwind): the connection is sound, keep serving.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for Sqlite {
    fn run<T>(
        &self,
        write: bool,
        work: impl FnOnce(&dyn Tx) -> Result<(T, End), StorageError>,
    ) -> Result<T, StorageError> {
        if !write {
            let mut conn = self.reader()?;
            let out = {
                let tx = conn.transaction()?;
                let (out, _) = work(&SqliteTx(&tx))?;
                tx.rollback()?;
                out
            };
            self.put_back(conn);
            return Ok(out);
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (out, end) = work(&SqliteTx(&tx))?;
        match end {
            End::Commit => tx.commit()?,
            End::Rollback => tx.rollback()?,
        }
        Ok(out)
    }

    fn dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn forget_keys(&self) -> Result<(), StorageError> {
        let conn = self.conn();
        // Overwritten in the pages, not only unlinked from the tree.
        conn.pragma_update(None, "secure_delete", true)?;
        conn.cached_exec("DELETE FROM server_key", [])?;
        conn.cached_exec("DELETE FROM server_age", [])?;
        conn.cached_exec(
            "INSERT INTO server_keys_outside (id) VALUES (1) ON CONFLICT DO NOTHING",
            [],
        )?;
        // And out of the write-ahead log, whose old frames would still hold them.
        conn.cached_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn user_areas(conn: &Connection, user: &str) -> Result<Vec<Area>, StorageError> {
    let mut stmt = conn
        .prepare_cached("SELECT kelurahan, rw FROM areas WHERE user = ?1 ORDER BY kelurahan, rw")?;
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
fn name_author(tx: &Connection, actor: &ActorId, user: &str) -> Result<(), StorageError> {
    tx.cached_exec(
        "INSERT INTO authors (actor, user) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![actor.to_bytes(), user],
    )?;
    Ok(())
}

/// Records that `actors` wrote into `household`: devices that pull it learn their users.
fn note_actors<'a>(
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
    households: impl IntoIterator<Item = &'a str>,
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
    let mut stmt = conn.prepare_cached("SELECT chain, seq, hash FROM audit_heads")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The signer of a push, as the guard needs it: user, role, areas, actors.
fn origin(tx: &Connection, device: &str) -> Result<Option<Origin>, StorageError> {
    let row: Option<(String, String, bool, i64)> = tx
        .cached_row(
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
        restarting: false,
        relays_after_restore: false,
    }))
}

fn insert_row(
    tx: &rusqlite::Connection,
    row: &ExportRow,
    kelurahan: &str,
    arrived_ms: i64,
) -> Result<(), StorageError> {
    let json = serde_json::to_string(row).map_err(|e| StorageError::Internal(e.to_string()))?;
    tx.cached_exec(
        "INSERT INTO export_rows (household, kelurahan, arrived_ms, row) VALUES (?1, ?2, ?3, ?4)",
        params![row.id, kelurahan, arrived_ms, json],
    )?;
    Ok(())
}

/// The service's store operations in one SQLite transaction.
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
        self.0.cached_exec(
            "INSERT INTO quarantine (device, household, reason, reported_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, household) DO UPDATE SET reason = excluded.reason, reported_ms = excluded.reported_ms",
            params![device, household, reason, at_ms],
        )?;
        Ok(())
    }

    fn device_key(&self, device: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let key: Option<Option<Vec<u8>>> = self
            .0
            .cached_row(
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
        self.0.cached_exec(
            "INSERT INTO actors (actor, device) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![actor.to_bytes(), device],
        )?;
        name_author(self.0, actor, user)
    }

    fn document(&self, (id, kelurahan): (&str, &str)) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .0
            .cached_row(
                "SELECT doc FROM households WHERE id = ?1 AND kelurahan = ?2",
                [id, kelurahan],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn note_actors(&self, (id, _): (&str, &str), actors: &[&ActorId]) -> Result<(), StorageError> {
        note_actors(self.0, id, actors.iter().copied())
    }

    fn update_doc(
        &self,
        (id, kelurahan): (&str, &str),
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE households SET doc = ?2, heads = ?3 WHERE id = ?1 AND kelurahan = ?4",
            params![id, doc, encode_heads(heads), kelurahan],
        )?;
        Ok(())
    }

    fn update_household(
        &self,
        (id, kelurahan): (&str, &str),
        rt: u16,
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE households SET doc = ?2, heads = ?3, rt = ?4 WHERE id = ?1 AND kelurahan = ?5",
            params![id, doc, encode_heads(heads), rt, kelurahan],
        )?;
        Ok(())
    }

    fn place_new(
        &self,
        id: &str,
        (kelurahan, rw, rt): (&str, u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
        device: Option<&str>,
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO log (household, kind, device, kelurahan) VALUES (?1, 1, ?2, ?3)",
            params![id, device, kelurahan],
        )?;
        let seq = self.0.last_insert_rowid();
        self.0.cached_exec(
            "INSERT INTO households (id, kelurahan, rw, rt, doc, heads, placed_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, kelurahan, rw, rt, doc, encode_heads(heads), seq],
        )?;
        Ok(())
    }

    fn append_changes(
        &self,
        (id, kelurahan): (&str, &str),
        changes: &[automerge::Change],
        device: Option<&str>,
    ) -> Result<(), StorageError> {
        // Kept once by hash (PostgreSQL: by kelurahan and hash, its key). The same
        // change cannot be in two households: each document's first change writes
        // its own id, and every later change depends on it.
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO log (household, kind, hash, bytes, device, kelurahan)
             VALUES (?1, 0, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
        )?;
        for c in changes {
            stmt.execute(params![
                id,
                c.hash().0.to_vec(),
                c.raw_bytes(),
                device,
                kelurahan
            ])?;
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
        self.0.cached_exec(
            "INSERT INTO log (household, kind, from_kelurahan, from_rw, kelurahan)
             VALUES (?1, 1, ?2, ?3, ?2)",
            params![id, kelurahan, old_rw],
        )?;
        let seq = self.0.last_insert_rowid();
        self.0.cached_exec(
            "UPDATE households SET rw = ?2, rt = ?3, doc = ?4, heads = ?5, placed_seq = ?6 WHERE id = ?1",
            params![id, rw, rt, doc, encode_heads(heads), seq],
        )?;
        Ok(())
    }

    fn audit_head(&self, chain: &str) -> Result<Option<(i64, String)>, StorageError> {
        Ok(self
            .0
            .cached_row(
                "SELECT seq, hash FROM audit_heads WHERE chain = ?1",
                [chain],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn append_audit(&self, e: &crate::audit::Entry) -> Result<(), StorageError> {
        self.0.cached_exec(
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
        self.0.cached_exec(
            "INSERT INTO audit_heads (chain, seq, hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![e.chain, e.seq, e.hash],
        )?;
        Ok(())
    }

    fn export_row(
        &self,
        row: &ExportRow,
        kelurahan: &str,
        arrived_ms: i64,
    ) -> Result<(), StorageError> {
        insert_row(self.0, row, kelurahan, arrived_ms)
    }

    fn last_export_row(
        &self,
        kelurahan: &str,
        household: &str,
    ) -> Result<Option<ExportRow>, StorageError> {
        let json: Option<String> = self
            .0
            .cached_row(
                "SELECT row FROM export_rows WHERE kelurahan = ?1 AND household = ?2
                 ORDER BY id DESC LIMIT 1",
                [kelurahan, household],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| StorageError::Internal(format!("export row: {e}")))
        })
        .transpose()
    }

    fn max_seq(&self, kelurahan: &str) -> Result<i64, StorageError> {
        Ok(self.0.cached_row(
            "SELECT coalesce(max(seq), 0) FROM log WHERE kelurahan = ?1",
            [kelurahan],
            |r| r.get(0),
        )?)
    }

    fn log_page(
        &self,
        area: &Area,
        cursor: i64,
        device: &str,
        limit: usize,
    ) -> Result<Vec<PageRow>, StorageError> {
        // The log drives (CROSS JOIN keeps SQLite from walking the kelurahan's
        // households instead): the rows read are the kelurahan's after the cursor.
        let mut stmt = self.0.prepare_cached(
            "SELECT l.seq, l.household, l.kind, l.bytes, h.rw, h.heads
             FROM log l CROSS JOIN households h ON h.id = l.household
             WHERE l.kelurahan = ?2 AND l.seq > ?1 AND (?3 = 0 OR h.rw = ?3)
               AND (l.device IS NULL OR l.device != ?4)
               AND ((l.kind = 1 AND l.seq = h.placed_seq) OR (l.kind = 0 AND h.placed_seq <= ?1))
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
                    rw: r.get(4)?,
                    heads: decode_heads(&r.get::<_, Vec<u8>>(5)?),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn placed_after(&self, area: &Area, seq: i64) -> Result<u64, StorageError> {
        // Two statements, so each uses the (kelurahan, rw) index whole.
        let n: i64 = match area.rw {
            Some(rw) => self
                .0
                .prepare_cached(
                    "SELECT count(*) FROM households
                     WHERE kelurahan = ?1 AND rw = ?2 AND placed_seq > ?3",
                )?
                .query_row(params![area.kelurahan, rw, seq], |r| r.get(0))?,
            None => self
                .0
                .prepare_cached(
                    "SELECT count(*) FROM households WHERE kelurahan = ?1 AND placed_seq > ?2",
                )?
                .query_row(params![area.kelurahan, seq], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    fn gone(&self, area: &Area, from: i64, to: i64) -> Result<Vec<String>, StorageError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT l.household FROM log l JOIN households h ON h.id = l.household
             WHERE l.kelurahan = ?3 AND l.seq > ?1 AND l.seq <= ?2 AND l.kind = 1
               AND l.from_kelurahan = ?3 AND (?4 = 0 OR l.from_rw = ?4)
               AND NOT (h.kelurahan = ?3 AND (?4 = 0 OR h.rw = ?4))",
        )?;
        let ids = stmt.query_map(
            params![from, to, area.kelurahan, area.rw.unwrap_or(0)],
            |r| r.get::<_, String>(0),
        )?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    fn authors_of(
        &self,
        households: &[(&str, &str)],
    ) -> Result<BTreeMap<String, String>, StorageError> {
        authors_of(self.0, households.iter().map(|(id, _)| *id))
    }
    fn area_of(&self, id: &str) -> Result<Option<(String, u16)>, StorageError> {
        Ok(self
            .0
            .prepare_cached("SELECT kelurahan, rw FROM households WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn kelurahan_ids(&self, kelurahan: &str) -> Result<Vec<String>, StorageError> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT id FROM households WHERE kelurahan = ?1")?;
        let ids = stmt.query_map([kelurahan], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    fn kelurahan_docs(
        &self,
        kelurahan: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, doc FROM households WHERE ?1 IS NULL OR kelurahan = ?1
             ORDER BY id LIMIT ?2",
        )?;
        let limit = limit.map_or(-1, |l| l as i64);
        let docs = stmt.query_map(params![kelurahan, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(docs.collect::<Result<_, _>>()?)
    }

    fn has_export_rows(&self) -> Result<bool, StorageError> {
        Ok(self
            .0
            .cached_row("SELECT EXISTS (SELECT 1 FROM export_rows)", [], |r| {
                r.get(0)
            })?)
    }

    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError> {
        // SQLite takes the bare columns from the row holding max(id).
        let mut stmt = self.0.prepare_cached(
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
        Ok(out)
    }

    fn households(
        &self,
        kelurahan: Option<&str>,
        rw: Option<u16>,
    ) -> Result<Vec<HouseholdArea>, StorageError> {
        let mut stmt = self.0.prepare_cached(
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

    fn household_count(&self) -> Result<u64, StorageError> {
        let n: i64 = self
            .0
            .cached_row("SELECT count(*) FROM households", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn all_heads(&self) -> Result<Vec<(String, Vec<ChangeHash>)>, StorageError> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT id, heads FROM households ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, heads) = row?;
            out.push((id, decode_heads(&heads)));
        }
        Ok(out)
    }

    fn quarantine_reports(&self) -> Result<Vec<QuarantineReport>, StorageError> {
        let mut stmt = self.0.prepare_cached(
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
}

/// A role as stored; the schema's CHECK admits only known ones.
fn role_of(name: &str) -> Result<Role, StorageError> {
    Role::parse(name).ok_or_else(|| StorageError::Internal("unknown role".into()))
}

/// `DeviceRow` from `DEVICE_ROW`'s columns, starting at `at`.
fn device_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<(DeviceRow, String)> {
    let role: String = r.get(at + 1)?;
    Ok((
        DeviceRow {
            user: r.get(at)?,
            role: Role::Kader,
            public_key: r.get(at + 2)?,
            revoked: r.get(at + 3)?,
            disabled: r.get(at + 4)?,
            login_ms: r.get(at + 5)?,
            password_ms: r.get(at + 6)?,
            last_seen_ms: r.get(at + 7)?,
        },
        role,
    ))
}

const DEVICE_ROW: &str =
    "d.user, u.role, d.public_key, d.revoked, u.disabled, d.login_ms, u.password_ms, d.last_seen_ms
     FROM devices d JOIN users u ON u.name = d.user";

impl AccountTx for SqliteTx<'_> {
    fn user(&self, name: &str) -> Result<Option<UserRow>, StorageError> {
        let row: Option<(String, String, bool)> = self
            .0
            .cached_row(
                "SELECT role, password_hash, disabled FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(role, password_hash, disabled)| {
            Ok(UserRow {
                role: role_of(&role)?,
                password_hash,
                disabled,
            })
        })
        .transpose()
    }

    fn put_user(
        &self,
        name: &str,
        role: Role,
        hash: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO users (name, role, password_hash, password_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                 password_hash = excluded.password_hash, password_ms = excluded.password_ms",
            params![name, role.as_str(), hash, now_ms],
        )?;
        Ok(())
    }

    fn set_password_hash(&self, name: &str, hash: &str, now_ms: i64) -> Result<bool, StorageError> {
        Ok(self.0.cached_exec(
            "UPDATE users SET password_hash = ?2, password_ms = ?3 WHERE name = ?1",
            params![name, hash, now_ms],
        )? > 0)
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StorageError> {
        Ok(self.0.cached_exec(
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            params![name, disabled],
        )? > 0)
    }

    fn end_tokens(&self, user: &str) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE devices SET token_expires_ms = 0 WHERE user = ?1",
            [user],
        )?;
        Ok(())
    }

    fn assign(&self, user: &str, area: &Area) -> Result<bool, StorageError> {
        let n = self.0.cached_exec(
            "INSERT INTO areas (user, kelurahan, rw) SELECT name, ?2, ?3 FROM users WHERE name = ?1
             ON CONFLICT DO NOTHING",
            params![user, area.kelurahan, area.rw.unwrap_or(0)],
        )?;
        Ok(n > 0
            || self
                .0
                .cached_row("SELECT 1 FROM users WHERE name = ?1", [user], |_| Ok(()))
                .optional()?
                .is_some())
    }

    fn unassign(&self, user: &str, area: &Area) -> Result<(), StorageError> {
        self.0.cached_exec(
            "DELETE FROM areas WHERE user = ?1 AND kelurahan = ?2 AND rw = ?3",
            params![user, area.kelurahan, area.rw.unwrap_or(0)],
        )?;
        Ok(())
    }

    fn areas(&self, user: &str) -> Result<Vec<Area>, StorageError> {
        user_areas(self.0, user)
    }

    fn insert_device(&self, d: &NewDevice<'_>) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO devices (id, user, name, token_hash, public_key, registered_ms,
                 token_expires_ms, login_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?6)",
            params![
                d.id,
                d.user,
                d.name,
                d.token_hash,
                d.public_key,
                d.now_ms,
                d.expires_ms
            ],
        )?;
        Ok(())
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError> {
        let row = self
            .0
            .cached_row(&format!("SELECT {DEVICE_ROW} WHERE d.id = ?1"), [id], |r| {
                device_row(r, 0)
            })
            .optional()?;
        row.map(|(mut d, role)| {
            d.role = role_of(&role)?;
            Ok(d)
        })
        .transpose()
    }

    fn device_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(String, DeviceRow, i64)>, StorageError> {
        let row = self
            .0
            .cached_row(
                &format!("SELECT d.id, d.token_expires_ms, {DEVICE_ROW} WHERE d.token_hash = ?1"),
                [token_hash],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        device_row(r, 2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(id, expires, (mut d, role))| {
            d.role = role_of(&role)?;
            Ok((id, d, expires))
        })
        .transpose()
    }

    fn rebind_actor(&self, actor: &ActorId, device: &str) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE actors SET device = ?2 WHERE actor = ?1",
            params![actor.to_bytes(), device],
        )?;
        Ok(())
    }

    fn first_registered(&self, user: &str, key: &[u8]) -> Result<Option<i64>, StorageError> {
        Ok(self.0.cached_row(
            "SELECT min(registered_ms) FROM devices WHERE user = ?1 AND public_key = ?2",
            params![user, key],
            |r| r.get(0),
        )?)
    }

    fn set_registered(&self, device: &str, ms: i64) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE devices SET registered_ms = ?2 WHERE id = ?1",
            params![device, ms],
        )?;
        Ok(())
    }

    fn touch_device(&self, device: &str, now_ms: i64) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1",
            params![device, now_ms],
        )?;
        Ok(())
    }

    fn set_token(&self, device: &str, hash: &[u8], expires_ms: i64) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE devices SET token_hash = ?2, token_expires_ms = ?3 WHERE id = ?1",
            params![device, hash, expires_ms],
        )?;
        Ok(())
    }

    fn log_out(&self, device: &str) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE devices SET token_expires_ms = 0, login_ms = 0 WHERE id = ?1",
            [device],
        )?;
        Ok(())
    }

    fn revoke_device(&self, device: &str) -> Result<bool, StorageError> {
        Ok(self
            .0
            .cached_exec("UPDATE devices SET revoked = 1 WHERE id = ?1", [device])?
            > 0)
    }

    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, StorageError> {
        let mut stmt = self.0.prepare_cached(
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

    fn set_device_recipient(&self, device: &str, recipient: &str) -> Result<(), StorageError> {
        self.0.cached_exec(
            "UPDATE devices SET age_recipient = ?2 WHERE id = ?1",
            params![device, recipient],
        )?;
        Ok(())
    }

    fn area_recipients(&self, user: &str, max: u32) -> Result<Vec<String>, StorageError> {
        // A bundle may hold anything of its writer's areas (its own work and what it
        // relays): only users who hold every one of those areas receive it. An
        // install's key on any revoked row is out, so is a logged-out row's.
        // Candidates are the users of one of its kelurahans (every recipient holds
        // that one too), never every user of the server: CROSS JOIN keeps SQLite from
        // starting at the devices when the store has few of them yet.
        let mut stmt = self.0.prepare_cached(
            "SELECT DISTINCT d.age_recipient FROM areas cand
             CROSS JOIN users u ON u.name = cand.user
             CROSS JOIN devices d ON d.user = u.name AND d.revoked = 0 AND d.login_ms > 0
                AND d.age_recipient IS NOT NULL
             WHERE cand.kelurahan = (SELECT min(kelurahan) FROM areas WHERE user = ?1)
               AND u.disabled = 0
               AND NOT EXISTS (
                   SELECT 1 FROM areas mine WHERE mine.user = ?1 AND NOT EXISTS (
                       SELECT 1 FROM areas theirs
                       WHERE theirs.user = u.name AND theirs.kelurahan = mine.kelurahan
                         AND (theirs.rw = 0 OR theirs.rw = mine.rw)))
               AND NOT EXISTS (
                   SELECT 1 FROM devices r INDEXED BY devices_recipient WHERE r.revoked = 1
                     AND r.age_recipient = d.age_recipient)
             ORDER BY d.last_seen_ms DESC
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![user, max], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        self.0
            .cached_exec("DELETE FROM challenges WHERE expires_ms < ?1", [now_ms])?;
        self.0.cached_exec(
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
        Ok(self.0.cached_exec(
            "DELETE FROM challenges WHERE device = ?1 AND challenge = ?2 AND expires_ms >= ?3",
            params![device, challenge, now_ms],
        )? > 0)
    }

    fn throttle(&self, key: &str) -> Result<Option<(u32, i64, i64)>, StorageError> {
        Ok(self
            .0
            .cached_row(
                "SELECT failures, until_ms, last_ms FROM throttle WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    fn put_throttle(
        &self,
        key: &str,
        failures: u32,
        until_ms: i64,
        last_ms: i64,
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO throttle (key, failures, until_ms, last_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                 until_ms = excluded.until_ms, last_ms = excluded.last_ms",
            params![key, failures, until_ms, last_ms],
        )?;
        Ok(())
    }

    fn clear_throttle(&self, key: &str) -> Result<(), StorageError> {
        self.0
            .cached_exec("DELETE FROM throttle WHERE key = ?1", [key])?;
        Ok(())
    }

    fn settings(&self, kelurahan: &str) -> Result<Option<SettingsRow>, StorageError> {
        Ok(self
            .0
            .cached_row(
                "SELECT lock_minutes, zone, bps, period, deadlines FROM kelurahan_settings
                 WHERE kelurahan = ?1",
                [kelurahan],
                |r| {
                    Ok(SettingsRow {
                        lock_minutes: r.get(0)?,
                        zone: r.get(1)?,
                        bps: r.get(2)?,
                        period: r.get(3)?,
                        deadlines: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    fn put_settings(&self, kelurahan: &str, s: &SettingsRow) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO kelurahan_settings (kelurahan, lock_minutes) VALUES (?1, ?2)
             ON CONFLICT (kelurahan) DO NOTHING",
            params![
                kelurahan,
                s.lock_minutes
                    .unwrap_or(jemput_core::rules::DEFAULT_LOCK_MINUTES)
            ],
        )?;
        self.0.cached_exec(
            "UPDATE kelurahan_settings SET lock_minutes = coalesce(?2, lock_minutes),
                 zone = coalesce(?3, zone), bps = coalesce(?4, bps),
                 period = coalesce(?5, period), deadlines = coalesce(?6, deadlines)
             WHERE kelurahan = ?1",
            params![
                kelurahan,
                s.lock_minutes,
                s.zone,
                s.bps,
                s.period,
                s.deadlines
            ],
        )?;
        Ok(())
    }

    fn server_secrets(&self) -> Result<(Option<Vec<u8>>, Option<String>), StorageError> {
        let key = self
            .0
            .cached_row("SELECT secret FROM server_key WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let age = self
            .0
            .cached_row("SELECT identity FROM server_age WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok((key, age))
    }

    fn init_signing_key(&self, secret: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.0.cached_exec(
            "INSERT INTO server_key (id, secret) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
            [secret],
        )?;
        Ok(self
            .0
            .cached_row("SELECT secret FROM server_key WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    fn init_bundle_identity(&self, identity: &str) -> Result<String, StorageError> {
        self.0.cached_exec(
            "INSERT INTO server_age (id, identity) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
            [identity],
        )?;
        Ok(self
            .0
            .cached_row("SELECT identity FROM server_age WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    fn keys_outside(&self) -> Result<bool, StorageError> {
        Ok(self.0.cached_row(
            "SELECT EXISTS (SELECT 1 FROM server_keys_outside)",
            [],
            |r| r.get(0),
        )?)
    }

    fn audit_entries(&self, since_ms: i64) -> Result<Vec<crate::audit::Entry>, StorageError> {
        let mut stmt = self.0.prepare_cached(
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

    fn audit_heads(&self) -> Result<AuditHeads, StorageError> {
        heads_in(self.0)
    }
    fn cases(&self, kelurahan: &str) -> Result<Vec<String>, StorageError> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT record FROM cases WHERE kelurahan = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kelurahan], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn case(
        &self,
        kelurahan: &str,
        id: &str,
        _for_update: bool,
    ) -> Result<Option<String>, StorageError> {
        Ok(self
            .0
            .cached_row(
                "SELECT record FROM cases WHERE kelurahan = ?1 AND id = ?2",
                [kelurahan, id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_case(
        &self,
        kelurahan: &str,
        id: &str,
        rw: u16,
        record: &str,
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO cases (kelurahan, id, rw, record) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kelurahan, id) DO UPDATE SET rw = excluded.rw, record = excluded.record",
            params![kelurahan, id, rw, record],
        )?;
        Ok(())
    }

    fn muskel_sessions(&self, kelurahan: &str) -> Result<Vec<String>, StorageError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT record FROM muskel_sessions WHERE kelurahan = ?1 ORDER BY date, id",
        )?;
        let rows = stmt.query_map([kelurahan], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn muskel_session(
        &self,
        kelurahan: &str,
        id: &str,
        _for_update: bool,
    ) -> Result<Option<String>, StorageError> {
        // One writer at a time: a write transaction holds everything it read.
        Ok(self
            .0
            .cached_row(
                "SELECT record FROM muskel_sessions WHERE kelurahan = ?1 AND id = ?2",
                [kelurahan, id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_muskel_session(
        &self,
        kelurahan: &str,
        id: &str,
        date: &str,
        record: &str,
    ) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO muskel_sessions (kelurahan, id, date, record) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kelurahan, id) DO UPDATE SET date = excluded.date, record = excluded.record",
            params![kelurahan, id, date, record],
        )?;
        Ok(())
    }

    fn server_value(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .0
            .cached_row(
                "SELECT value FROM server_values WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_server_value(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.0.cached_exec(
            "INSERT INTO server_values (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

/// A statement's SQL is parsed once per connection: the store's statements are few and
/// run thousands of times a second.
trait Cached {
    fn cached_row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
    fn cached_exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn cached_row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn cached_exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}
