//! The PostgreSQL store (`--database URL`): the same operations as `crate::storage`,
//! in PostgreSQL's SQL and nothing else. Several server processes may share one
//! database: nothing is cached here that another process could change.
//!
//! Writers run concurrently (READ COMMITTED); readers read one snapshot (REPEATABLE
//! READ, read only) and never wait for a writer. Three rules keep that correct:
//! - **Cursors.** Before a transaction appends a kelurahan's first log row it takes
//!   that kelurahan's lock (`pg_advisory_xact_lock`), held until it commits: a
//!   kelurahan's rows are numbered and committed one writer at a time, so every row of
//!   the kelurahan that a snapshot does not show has a larger number than every row it
//!   shows, and a cursor set to the kelurahan's maximum never passes one.
//! - **No lost update.** A write transaction reads a household `FOR UPDATE`: two
//!   pushes into one document merge one after the other.
//! - **Chains and counts.** An audit chain's head and a throttle's count are read
//!   under their own lock before they are written.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use automerge::{ActorId, Change, ChangeHash};
use jemput_core::registry::export::ExportRow;
use jemput_core::store::{decode_heads, encode_heads};
use jemput_core::sync::Area;
use postgres::types::ToSql;
use postgres::{IsolationLevel, NoTls, Row, Statement};

use crate::error::StorageError;
use crate::guard::Origin;
use crate::service::store::{
    AccountTx, DeviceRow, End, NewDevice, PageRow, SettingsRow, Store, StoreTx, Stored, Tx, UserRow,
};
use crate::service::{AuditHeads, DeviceInfo, HouseholdArea, QuarantineReport, Role, Server};

/// Append-only: a release adds entries, never edits one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('kader', 'operator', 'fasilitator', 'admin')),
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT false,
    password_ms   BIGINT NOT NULL DEFAULT 0
);
-- rw = 0: the whole kelurahan
CREATE TABLE areas (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kelurahan TEXT NOT NULL,
    rw        INTEGER NOT NULL,
    PRIMARY KEY (user_name, kelurahan, rw)
);
CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    user_name        TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    token_hash       BYTEA NOT NULL UNIQUE,
    revoked          BOOLEAN NOT NULL DEFAULT false,
    public_key       BYTEA,
    registered_ms    BIGINT NOT NULL DEFAULT 0,
    token_expires_ms BIGINT NOT NULL DEFAULT 0,
    login_ms         BIGINT NOT NULL DEFAULT 0,
    last_seen_ms     BIGINT NOT NULL DEFAULT 0,
    age_recipient    TEXT
);
CREATE INDEX devices_user ON devices (user_name);
CREATE TABLE households (
    id         TEXT PRIMARY KEY,
    kelurahan  TEXT NOT NULL,
    rw         INTEGER NOT NULL,
    rt         INTEGER NOT NULL,
    doc        BYTEA NOT NULL,
    heads      BYTEA NOT NULL,
    placed_seq BIGINT NOT NULL
);
CREATE INDEX households_area ON households (kelurahan, rw);
-- kind 0: an Automerge change (hash, bytes); kind 1: a placement in an area
CREATE TABLE log (
    seq            BIGSERIAL PRIMARY KEY,
    kelurahan      TEXT NOT NULL,
    household      TEXT NOT NULL,
    kind           SMALLINT NOT NULL,
    hash           BYTEA UNIQUE,
    bytes          BYTEA,
    device         TEXT,
    from_kelurahan TEXT,
    from_rw        INTEGER
);
CREATE INDEX log_area ON log (kelurahan, seq);
CREATE INDEX log_household ON log (household, seq);
CREATE TABLE export_rows (
    id         BIGSERIAL PRIMARY KEY,
    household  TEXT NOT NULL,
    kelurahan  TEXT NOT NULL,
    arrived_ms BIGINT NOT NULL,
    row        TEXT NOT NULL
);
CREATE INDEX export_rows_cutoff ON export_rows (kelurahan, household, arrived_ms);
CREATE TABLE actors (
    actor  BYTEA PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE
);
CREATE INDEX actors_device ON actors (device);
CREATE TABLE quarantine (
    device      TEXT NOT NULL,
    household   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    reported_ms BIGINT NOT NULL,
    PRIMARY KEY (device, household)
);
CREATE TABLE authors (actor BYTEA PRIMARY KEY, user_name TEXT NOT NULL);
CREATE TABLE household_actors (
    household TEXT NOT NULL,
    actor     BYTEA NOT NULL,
    PRIMARY KEY (household, actor)
);
CREATE TABLE throttle (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    until_ms BIGINT NOT NULL,
    last_ms  BIGINT NOT NULL
);
CREATE TABLE challenges (
    device     TEXT NOT NULL,
    challenge  BYTEA NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (device, challenge)
);
CREATE TABLE audit (
    chain  TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    at_ms  BIGINT NOT NULL,
    kind   TEXT NOT NULL,
    by_user TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev   TEXT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_at ON audit (at_ms);
CREATE TABLE audit_heads (chain TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TABLE kelurahan_settings (
    kelurahan    TEXT PRIMARY KEY,
    lock_minutes INTEGER NOT NULL CHECK (lock_minutes BETWEEN 1 AND 30),
    zone         TEXT NOT NULL DEFAULT 'WIB',
    bps          TEXT
);
CREATE TABLE server_key (id INTEGER PRIMARY KEY CHECK (id = 1), secret BYTEA NOT NULL);
CREATE TABLE server_age (id INTEGER PRIMARY KEY CHECK (id = 1), identity TEXT NOT NULL);
CREATE TABLE server_keys_outside (id INTEGER PRIMARY KEY CHECK (id = 1));
CREATE TABLE server_values (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
    r#"
-- The log's key leads with its kelurahan. A cursor's range (kelurahan = k AND seq > c)
-- then has one index to use, whatever the planner estimates: with a key on seq alone,
-- PostgreSQL walked every kelurahan's newer rows. It is also the key a distribution by
-- kelurahan needs (docs/scaling.md).
ALTER TABLE log DROP CONSTRAINT log_pkey;
ALTER TABLE log ADD PRIMARY KEY (kelurahan, seq);
DROP INDEX log_area;
-- A household's last export row, which a push that only adds a visit derives from.
CREATE INDEX export_rows_last ON export_rows (kelurahan, household, id);
"#,
    r#"
-- Keys a distribution by kelurahan accepts (docs/scaling.md): every primary key and
-- unique constraint of household data holds the kelurahan. A household is found by
-- its id alone in one place, household_home (a push names no kelurahan; a household
-- never leaves its kelurahan, so the row never changes); everything else names it by
-- (kelurahan, id).
CREATE TABLE household_home (id TEXT PRIMARY KEY, kelurahan TEXT NOT NULL);
INSERT INTO household_home (id, kelurahan) SELECT id, kelurahan FROM households;
ALTER TABLE households DROP CONSTRAINT households_pkey;
ALTER TABLE households ADD PRIMARY KEY (kelurahan, id);
ALTER TABLE household_actors ADD COLUMN kelurahan TEXT;
UPDATE household_actors a SET kelurahan = h.kelurahan FROM households h WHERE h.id = a.household;
DELETE FROM household_actors WHERE kelurahan IS NULL;
ALTER TABLE household_actors ALTER COLUMN kelurahan SET NOT NULL;
ALTER TABLE household_actors DROP CONSTRAINT household_actors_pkey;
ALTER TABLE household_actors ADD PRIMARY KEY (kelurahan, household, actor);
ALTER TABLE log DROP CONSTRAINT log_hash_key;
ALTER TABLE log ADD CONSTRAINT log_hash UNIQUE (kelurahan, hash);
ALTER TABLE export_rows DROP CONSTRAINT export_rows_pkey;
ALTER TABLE export_rows ADD PRIMARY KEY (kelurahan, id);
-- no query reads a household's log rows by household alone: the index only cost writes
DROP INDEX log_household;
"#,
    r#"
-- a sync's bundle recipients: the users of the caller's kelurahan, and whether a key
-- was revoked, without reading every user and device
CREATE INDEX areas_kelurahan ON areas (kelurahan, user_name);
CREATE INDEX devices_recipient ON devices (age_recipient);
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

/// The lock every process takes while it migrates (any constant the store owns).
const MIGRATION_LOCK: i64 = 0x6a65_6d70_7574;
/// Connections kept open between transactions (more are opened when busier).
const IDLE_CONNECTIONS: usize = 16;

/// The service over a PostgreSQL database.
pub type PostgresStorage = Server<Postgres>;

impl Server<Postgres> {
    /// Connects to `url`, creating the tables on first use.
    pub fn connect(url: &str) -> Result<PostgresStorage, StorageError> {
        Server::new(Postgres::connect(url, None)?)
    }

    /// Connects to `url`, its TLS certificate checked against the PEM certificates in
    /// `ca` (an office's own CA) instead of the public roots.
    pub fn connect_with_ca(url: &str, ca: Option<&Path>) -> Result<PostgresStorage, StorageError> {
        Server::new(Postgres::connect(url, ca)?)
    }
}

/// How a process reaches the database: TLS when the URL says `sslmode=require`,
/// plain only to this machine — the connection carries families' data.
enum Link {
    Plain,
    Tls(tokio_postgres_rustls::MakeRustlsConnect),
}

impl Link {
    fn of(url: &str, ca: Option<&Path>) -> Result<Link, StorageError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Invalid(format!("--database: {e}")))?;
        if config.get_ssl_mode() != postgres::config::SslMode::Require {
            for host in config.get_hosts() {
                if let postgres::config::Host::Tcp(name) = host {
                    let loopback = name == "localhost"
                        || name
                            .parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback());
                    if !loopback {
                        return Err(StorageError::Invalid(format!(
                            "--database: {name} is another machine; add sslmode=require to the URL (the connection carries families' data)"
                        )));
                    }
                }
            }
            return Ok(Link::Plain);
        }
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(path) => {
                use rustls::pki_types::pem::PemObject;
                let bad = |e: String| StorageError::Invalid(format!("{}: {e}", path.display()));
                for cert in rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .map_err(|e| bad(e.to_string()))?
                {
                    roots
                        .add(cert.map_err(|e| bad(e.to_string()))?)
                        .map_err(|e| bad(e.to_string()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StorageError::Internal(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Link::Tls(tokio_postgres_rustls::MakeRustlsConnect::new(
            config,
        )))
    }
}

/// Connections one process opens at most: with N processes, N times this must stay
/// under the database's `max_connections` (PostgreSQL's default, 100, fits three).
const MAX_CONNECTIONS: usize = 24;
/// How long work waits for a free connection before it fails.
const CONNECTION_WAIT: Duration = Duration::from_secs(30);
/// Set on every connection: a write waits at most this long for a lock (as SQLite's
/// busy timeout), and no statement runs longer. No JIT: a first sync's page is costed
/// high enough to trigger it, and compiling took 200 ms for a query of 80.
const SESSION: &str = "SET lock_timeout = '30s'; SET statement_timeout = '120s'; SET jit = off";

/// A connection and the statements prepared on it.
struct Conn {
    client: postgres::Client,
    prepared: HashMap<&'static str, Statement>,
}

pub struct Postgres {
    url: String,
    link: Link,
    pool: Mutex<Pool>,
    freed: Condvar,
}

struct Pool {
    idle: Vec<Conn>,
    /// Connections open, idle or lent.
    open: usize,
}

/// A connection lent from the pool, given back when dropped (a panic too).
struct Lease<'a> {
    store: &'a Postgres,
    conn: Option<Conn>,
}

impl Lease<'_> {
    fn get(&mut self) -> &mut Conn {
        #[allow(clippy::expect_used)]
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.store.put_back(conn);
        }
    }
}

impl Postgres {
    pub fn connect(url: &str, ca: Option<&Path>) -> Result<Postgres, StorageError> {
        let store = Postgres {
            link: Link::of(url, ca)?,
            url: url.to_string(),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        };
        migrate(&mut store.conn()?.get().client)?;
        Ok(store)
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection, a new one while fewer than `MAX_CONNECTIONS` are open, or
    /// the first given back within `CONNECTION_WAIT`.
    fn conn(&self) -> Result<Lease<'_>, StorageError> {
        let deadline = Instant::now() + CONNECTION_WAIT;
        let mut pool = self.lock_pool();
        loop {
            while let Some(c) = pool.idle.pop() {
                if !c.client.is_closed() {
                    return Ok(Lease {
                        store: self,
                        conn: Some(c),
                    });
                }
                pool.open -= 1;
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                drop(pool);
                return match self.open_new() {
                    Ok(c) => Ok(Lease {
                        store: self,
                        conn: Some(c),
                    }),
                    Err(e) => {
                        self.lock_pool().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StorageError::Internal(format!(
                    "no database connection free for {} s",
                    CONNECTION_WAIT.as_secs()
                )));
            }
            pool = self
                .freed
                .wait_timeout(pool, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn open_new(&self) -> Result<Conn, StorageError> {
        let mut client = match &self.link {
            Link::Plain => postgres::Client::connect(&self.url, NoTls)?,
            Link::Tls(tls) => postgres::Client::connect(&self.url, tls.clone())?,
        };
        client.batch_execute(SESSION)?;
        Ok(Conn {
            client,
            prepared: HashMap::new(),
        })
    }

    fn put_back(&self, conn: Conn) {
        let mut pool = self.lock_pool();
        if conn.client.is_closed() || pool.idle.len() >= IDLE_CONNECTIONS {
            pool.open -= 1;
        } else {
            pool.idle.push(conn);
        }
        drop(pool);
        self.freed.notify_one();
    }
}

/// For a test of a migration: creates the schema in the database `url` names up to
/// `version` only, as a server of that version left it.
pub fn schema_until(url: &str, version: usize) -> Result<(), StorageError> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    migrate_until(&mut client, version)
}

fn migrate(client: &mut postgres::Client) -> Result<(), StorageError> {
    migrate_until(client, MIGRATIONS.len())
}

fn migrate_until(client: &mut postgres::Client, version: usize) -> Result<(), StorageError> {
    let mut tx = client.transaction()?;
    // A migration may rebuild an index of a national log: no statement or lock timeout
    // (the session's) cuts it short, and processes starting meanwhile wait for it.
    tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")?;
    // One process migrates at a time; the others then find it done.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS jemput_schema (version INTEGER PRIMARY KEY)")?;
    let found: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM jemput_schema", &[])?
        .get(0);
    let known = MIGRATIONS.len() as i32;
    if found > known {
        return Err(StorageError::TooNew {
            found: found.into(),
            known: known.into(),
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(version)
        .skip(found as usize)
    {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO jemput_schema (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

impl Store for Postgres {
    fn run<T>(
        &self,
        write: bool,
        work: impl FnOnce(&dyn Tx) -> Result<(T, End), StorageError>,
    ) -> Result<T, StorageError> {
        let mut lease = self.conn()?;
        let conn = lease.get();
        let out = (|| {
            let tx = conn
                .client
                .build_transaction()
                .isolation_level(match write {
                    true => IsolationLevel::ReadCommitted,
                    false => IsolationLevel::RepeatableRead,
                })
                .read_only(!write)
                .start()?;
            let pg = PgTx {
                tx: RefCell::new(tx),
                prepared: RefCell::new(&mut conn.prepared),
                write,
                locked: RefCell::new(HashSet::new()),
            };
            let (out, end) = work(&pg)?;
            if write {
                hold_before_commit();
            }
            let tx = pg.tx.into_inner();
            match end {
                End::Commit => tx.commit()?,
                End::Rollback => tx.rollback()?,
            }
            Ok(out)
        })();
        out
    }

    fn dir(&self) -> Option<&Path> {
        None
    }

    fn forget_keys(&self) -> Result<(), StorageError> {
        let mut lease = self.conn()?;
        let mut tx = lease.get().client.transaction()?;
        tx.batch_execute(
            "DELETE FROM server_key; DELETE FROM server_age;
             INSERT INTO server_keys_outside (id) VALUES (1) ON CONFLICT DO NOTHING",
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Debug builds only: a test (`JEMPUT_TEST_COMMIT_HOLD_MS`) holds each write
/// transaction a random part of that long before it commits, so writers that numbered
/// rows in one order commit in another, as they may under load.
fn hold_before_commit() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("JEMPUT_TEST_COMMIT_HOLD_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let ms = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=ms);
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// One transaction's operations.
struct PgTx<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    prepared: RefCell<&'a mut HashMap<&'static str, Statement>>,
    write: bool,
    /// Kelurahans whose log lock this transaction holds.
    locked: RefCell<HashSet<String>>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    fn statement(&self, sql: &'static str) -> Result<Statement, StorageError> {
        if let Some(s) = self.prepared.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.borrow_mut().prepare(sql)?;
        self.prepared.borrow_mut().insert(sql, s.clone());
        Ok(s)
    }

    fn rows(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, StorageError> {
        let s = self.statement(sql)?;
        Ok(self.tx.borrow_mut().query(&s, params)?)
    }

    fn row(&self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, StorageError> {
        let s = self.statement(sql)?;
        Ok(self.tx.borrow_mut().query_opt(&s, params)?)
    }

    fn exec(&self, sql: &'static str, params: Params<'_>) -> Result<u64, StorageError> {
        let s = self.statement(sql)?;
        Ok(self.tx.borrow_mut().execute(&s, params)?)
    }

    /// The kelurahan of a household known only by its id (`household_home`): the one
    /// lookup by id alone, so that every other statement names (kelurahan, id).
    fn home(&self, id: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .row("SELECT kelurahan FROM household_home WHERE id = $1", &[&id])?
            .map(|r| r.get(0)))
    }

    /// Takes `name`'s transaction lock (once per transaction).
    fn lock(&self, space: &str, name: &str) -> Result<(), StorageError> {
        let key = format!("{space}:{name}");
        if self.locked.borrow().contains(&key) {
            return Ok(());
        }
        self.exec(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )?;
        self.locked.borrow_mut().insert(key);
        Ok(())
    }

    /// The kelurahan's log lock, before any of its rows is numbered.
    fn lock_log(&self, kelurahan: &str) -> Result<(), StorageError> {
        self.lock("log", kelurahan)
    }
}

/// A household row read as `kelurahan, rw, doc`.
fn stored_of(r: &Row) -> Stored {
    Stored {
        kelurahan: r.get(0),
        rw: u16_of(r.get(1)),
        doc: r.get(2),
    }
}

fn u16_of(v: i32) -> u16 {
    u16::try_from(v).unwrap_or_default()
}

fn role_of(name: &str) -> Result<Role, StorageError> {
    Role::parse(name).ok_or_else(|| StorageError::Internal("unknown role".into()))
}

/// An area as stored: RW 0 is the whole kelurahan.
fn area(kelurahan: String, rw: i32) -> Area {
    Area {
        kelurahan,
        rw: (rw != 0).then(|| u16_of(rw)),
    }
}

fn areas_of(rows: Vec<Row>) -> Vec<Area> {
    rows.iter().map(|r| area(r.get(0), r.get(1))).collect()
}

impl StoreTx for PgTx<'_> {
    fn origin(&self, device: &str) -> Result<Option<Origin>, StorageError> {
        // One round trip: the device, its user, actors and areas (every sync asks).
        let Some(row) = self.row(
            "SELECT u.name, u.role, d.revoked, d.registered_ms,
                    ARRAY(SELECT a.actor FROM actors a WHERE a.device = d.id),
                    ARRAY(SELECT r.kelurahan FROM areas r WHERE r.user_name = u.name
                          ORDER BY r.kelurahan COLLATE \"C\", r.rw),
                    ARRAY(SELECT r.rw FROM areas r WHERE r.user_name = u.name
                          ORDER BY r.kelurahan COLLATE \"C\", r.rw)
             FROM devices d JOIN users u ON u.name = d.user_name WHERE d.id = $1",
            &[&device],
        )?
        else {
            return Ok(None);
        };
        let user: String = row.get(0);
        let actors = row
            .get::<_, Vec<Vec<u8>>>(4)
            .into_iter()
            .map(ActorId::from)
            .collect();
        let kelurahans: Vec<String> = row.get(5);
        let rws: Vec<i32> = row.get(6);
        let areas = kelurahans
            .into_iter()
            .zip(rws)
            .map(|(kelurahan, rw)| area(kelurahan, rw))
            .collect();
        Ok(Some(Origin {
            device: device.to_string(),
            areas,
            role: role_of(row.get(1))?,
            user,
            revoked: row.get(2),
            registered_ms: row.get(3),
            actors,
            restarting: false,
            relays_after_restore: false,
        }))
    }

    fn note_quarantine(
        &self,
        device: &str,
        household: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO quarantine (device, household, reason, reported_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device, household) DO UPDATE
                 SET reason = excluded.reason, reported_ms = excluded.reported_ms",
            &[&device, &household, &reason, &at_ms],
        )?;
        Ok(())
    }

    fn device_key(&self, device: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .row("SELECT public_key FROM devices WHERE id = $1", &[&device])?
            .and_then(|r| r.get(0)))
    }

    fn household(&self, id: &str) -> Result<Option<Stored>, StorageError> {
        // A writer holds the row until it commits: pushes into one document merge in
        // turn, never over each other. The kelurahan's log lock comes first, as in
        // every writer (a household never leaves its kelurahan): locks are always
        // taken in one order, so writers of a kelurahan never deadlock.
        let row = match self.write {
            true => {
                let Some(kel) = self.home(id)? else {
                    return Ok(None);
                };
                self.lock_log(&kel)?;
                self.row(
                    "SELECT kelurahan, rw, doc FROM households
                     WHERE kelurahan = $1 AND id = $2 FOR UPDATE",
                    &[&kel, &id],
                )?
            }
            false => return self.household_read(id),
        };
        Ok(row.as_ref().map(stored_of))
    }

    fn claim(&self, id: &str, kelurahan: &str, doc: Option<&[u8]>) -> Result<bool, StorageError> {
        // The kelurahan's lock first, then the row: the one order every writer keeps.
        self.lock_log(kelurahan)?;
        Ok(match doc {
            Some(doc) => self
                .row(
                    "SELECT doc = $3 FROM households WHERE kelurahan = $1 AND id = $2 FOR UPDATE",
                    &[&kelurahan, &id, &doc],
                )?
                .is_some_and(|r| r.get::<_, bool>(0)),
            // Absent from every kelurahan: ids are unique across them.
            None => self.home(id)?.is_none(),
        })
    }

    fn household_read(&self, id: &str) -> Result<Option<Stored>, StorageError> {
        let Some(kel) = self.home(id)? else {
            return Ok(None);
        };
        Ok(self
            .row(
                "SELECT kelurahan, rw, doc FROM households WHERE kelurahan = $1 AND id = $2",
                &[&kel, &id],
            )?
            .as_ref()
            .map(stored_of))
    }

    fn document(&self, (id, kelurahan): (&str, &str)) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .row(
                "SELECT doc FROM households WHERE kelurahan = $1 AND id = $2",
                &[&kelurahan, &id],
            )?
            .map(|r| r.get(0)))
    }

    fn actor_owner(&self, actor: &ActorId) -> Result<Option<String>, StorageError> {
        Ok(self
            .row(
                "SELECT device FROM actors WHERE actor = $1",
                &[&actor.to_bytes()],
            )?
            .map(|r| r.get(0)))
    }

    fn bind_actor(&self, actor: &ActorId, device: &str, user: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO actors (actor, device) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&actor.to_bytes(), &device],
        )?;
        self.name_author(actor, user)
    }

    fn note_actors(
        &self,
        (id, kelurahan): (&str, &str),
        actors: &[&ActorId],
    ) -> Result<(), StorageError> {
        for actor in actors {
            self.exec(
                "INSERT INTO household_actors (kelurahan, household, actor) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&kelurahan, &id, &actor.to_bytes()],
            )?;
        }
        Ok(())
    }

    fn update_doc(
        &self,
        (id, kelurahan): (&str, &str),
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError> {
        self.exec(
            "UPDATE households SET doc = $3, heads = $4 WHERE kelurahan = $1 AND id = $2",
            &[&kelurahan, &id, &doc, &encode_heads(heads)],
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
        self.exec(
            "UPDATE households SET doc = $3, heads = $4, rt = $5 WHERE kelurahan = $1 AND id = $2",
            &[&kelurahan, &id, &doc, &encode_heads(heads), &i32::from(rt)],
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
        self.lock_log(kelurahan)?;
        let seq: i64 = self
            .row(
                "INSERT INTO log (kelurahan, household, kind, device) VALUES ($1, $2, 1, $3)
                 RETURNING seq",
                &[&kelurahan, &id, &device],
            )?
            .map(|r| r.get(0))
            .unwrap_or_default();
        self.exec(
            "INSERT INTO household_home (id, kelurahan) VALUES ($1, $2)",
            &[&id, &kelurahan],
        )?;
        self.exec(
            "INSERT INTO households (id, kelurahan, rw, rt, doc, heads, placed_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &kelurahan,
                &i32::from(rw),
                &i32::from(rt),
                &doc,
                &encode_heads(heads),
                &seq,
            ],
        )?;
        Ok(())
    }

    fn append_changes(
        &self,
        (id, kelurahan): (&str, &str),
        changes: &[Change],
        device: Option<&str>,
    ) -> Result<(), StorageError> {
        self.lock_log(kelurahan)?;
        for c in changes {
            self.exec(
                "INSERT INTO log (kelurahan, household, kind, hash, bytes, device)
                 VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (kelurahan, hash) DO NOTHING",
                &[
                    &kelurahan,
                    &id,
                    &c.hash().0.to_vec(),
                    &c.raw_bytes(),
                    &device,
                ],
            )?;
        }
        Ok(())
    }

    fn name_author(&self, actor: &ActorId, user: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO authors (actor, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&actor.to_bytes(), &user],
        )?;
        Ok(())
    }

    fn place_moved(
        &self,
        id: &str,
        (kelurahan, old_rw): (&str, u16),
        (rw, rt): (u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
    ) -> Result<(), StorageError> {
        self.lock_log(kelurahan)?;
        let seq: i64 = self
            .row(
                "INSERT INTO log (kelurahan, household, kind, from_kelurahan, from_rw)
                 VALUES ($1, $2, 1, $1, $3) RETURNING seq",
                &[&kelurahan, &id, &i32::from(old_rw)],
            )?
            .map(|r| r.get(0))
            .unwrap_or_default();
        self.exec(
            "UPDATE households SET rw = $2, rt = $3, doc = $4, heads = $5, placed_seq = $6
             WHERE id = $1 AND kelurahan = $7",
            &[
                &id,
                &i32::from(rw),
                &i32::from(rt),
                &doc,
                &encode_heads(heads),
                &seq,
                &kelurahan,
            ],
        )?;
        Ok(())
    }

    fn audit_head(&self, chain: &str) -> Result<Option<(i64, String)>, StorageError> {
        // The head is read to be extended: one writer per chain at a time.
        if self.write {
            self.lock("audit", chain)?;
        }
        Ok(self
            .row(
                "SELECT seq, hash FROM audit_heads WHERE chain = $1",
                &[&chain],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn append_audit(&self, e: &crate::audit::Entry) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO audit (chain, seq, at_ms, kind, by_user, detail, prev, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &e.chain,
                &e.seq,
                &e.at_ms,
                &e.kind,
                &e.by,
                &e.detail.to_string(),
                &e.prev,
                &e.hash,
            ],
        )?;
        self.exec(
            "INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, $2, $3)
             ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            &[&e.chain, &e.seq, &e.hash],
        )?;
        Ok(())
    }

    fn export_row(
        &self,
        row: &ExportRow,
        kelurahan: &str,
        arrived_ms: i64,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_string(row).map_err(|e| StorageError::Internal(e.to_string()))?;
        self.exec(
            "INSERT INTO export_rows (household, kelurahan, arrived_ms, row) VALUES ($1, $2, $3, $4)",
            &[&row.id, &kelurahan, &arrived_ms, &json],
        )?;
        Ok(())
    }

    fn last_export_row(
        &self,
        kelurahan: &str,
        household: &str,
    ) -> Result<Option<ExportRow>, StorageError> {
        let rows = self.rows(
            "SELECT row FROM export_rows WHERE kelurahan = $1 AND household = $2
             ORDER BY id DESC LIMIT 1",
            &[&kelurahan, &household],
        )?;
        rows.first()
            .map(|r| {
                serde_json::from_str(r.get(0))
                    .map_err(|e| StorageError::Internal(format!("export row: {e}")))
            })
            .transpose()
    }

    fn max_seq(&self, kelurahan: &str) -> Result<i64, StorageError> {
        Ok(self
            .row(
                "SELECT coalesce(max(seq), 0) FROM log WHERE kelurahan = $1",
                &[&kelurahan],
            )?
            .map_or(0, |r| r.get(0)))
    }

    fn log_page(
        &self,
        area: &Area,
        cursor: i64,
        device: &str,
        limit: usize,
    ) -> Result<Vec<PageRow>, StorageError> {
        let rows = self.rows(
            // The log drives: the lateral lookup (OFFSET 0 keeps it one) reads a
            // household per log row, never the area's households (EXPLAIN in
            // docs/scaling.md). Plain comparisons: PostgreSQL 15 scans a row
            // comparison beside an equality from the kelurahan's first entry.
            "SELECT l.seq, l.household, l.kind, l.bytes, h.rw, h.heads
             FROM log l
             CROSS JOIN LATERAL (SELECT h.rw, h.placed_seq, h.heads FROM households h
                                  WHERE h.kelurahan = $2 AND h.id = l.household OFFSET 0) h
             WHERE l.kelurahan = $2 AND l.seq > $1
               AND ($3 = 0 OR h.rw = $3)
               AND (l.device IS NULL OR l.device <> $4)
               AND ((l.kind = 1 AND l.seq = h.placed_seq) OR (l.kind = 0 AND h.placed_seq <= $1))
             ORDER BY l.seq LIMIT $5",
            &[
                &cursor,
                &area.kelurahan,
                &i32::from(area.rw.unwrap_or(0)),
                &device,
                &(limit as i64),
            ],
        )?;
        Ok(rows
            .iter()
            .map(|r| PageRow {
                seq: r.get(0),
                household: r.get(1),
                placement: r.get::<_, i16>(2) == 1,
                bytes: r.get(3),
                rw: u16_of(r.get(4)),
                heads: decode_heads(r.get(5)),
            })
            .collect())
    }

    fn placed_after(&self, area: &Area, seq: i64) -> Result<u64, StorageError> {
        let n: i64 = match area.rw {
            Some(rw) => self.row(
                "SELECT count(*) FROM households
                 WHERE kelurahan = $1 AND rw = $2 AND placed_seq > $3",
                &[&area.kelurahan, &i32::from(rw), &seq],
            )?,
            None => self.row(
                "SELECT count(*) FROM households WHERE kelurahan = $1 AND placed_seq > $2",
                &[&area.kelurahan, &seq],
            )?,
        }
        .map_or(0, |r| r.get(0));
        Ok(n as u64)
    }

    fn gone(&self, area: &Area, from: i64, to: i64) -> Result<Vec<String>, StorageError> {
        let rows = self.rows(
            "SELECT l.household FROM log l
             JOIN households h ON h.kelurahan = l.kelurahan AND h.id = l.household
             WHERE l.kelurahan = $3 AND l.seq > $1 AND l.seq <= $2 AND l.kind = 1
               AND l.from_kelurahan = $3 AND ($4 = 0 OR l.from_rw = $4)
               AND NOT (h.kelurahan = $3 AND ($4 = 0 OR h.rw = $4))",
            &[
                &from,
                &to,
                &area.kelurahan,
                &i32::from(area.rw.unwrap_or(0)),
            ],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn authors_of(
        &self,
        households: &[(&str, &str)],
    ) -> Result<BTreeMap<String, String>, StorageError> {
        // One statement per kelurahan, each on its own shard once distributed.
        let mut by_kelurahan: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, kel) in households {
            by_kelurahan.entry(kel).or_default().push(id);
        }
        let mut out = BTreeMap::new();
        for (kel, ids) in by_kelurahan {
            let rows = self.rows(
                "SELECT DISTINCT a.actor, a.user_name FROM household_actors h
                 JOIN authors a ON a.actor = h.actor
                 WHERE h.kelurahan = $1 AND h.household = ANY($2)",
                &[&kel, &ids],
            )?;
            out.extend(
                rows.iter()
                    .map(|r| (hex::encode(r.get::<_, Vec<u8>>(0)), r.get(1))),
            );
        }
        Ok(out)
    }

    fn area_of(&self, id: &str) -> Result<Option<(String, u16)>, StorageError> {
        let Some(kel) = self.home(id)? else {
            return Ok(None);
        };
        Ok(self
            .row(
                "SELECT kelurahan, rw FROM households WHERE kelurahan = $1 AND id = $2",
                &[&kel, &id],
            )?
            .map(|r| (r.get(0), u16_of(r.get(1)))))
    }

    fn kelurahan_ids(&self, kelurahan: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .rows(
                "SELECT id FROM households WHERE kelurahan = $1",
                &[&kelurahan],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn kelurahan_docs(
        &self,
        kelurahan: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let limit = limit.map(|l| l as i64);
        Ok(self
            .rows(
                "SELECT id, doc FROM households WHERE $1::text IS NULL OR kelurahan = $1
                 ORDER BY id COLLATE \"C\" LIMIT $2",
                &[&kelurahan, &limit],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn has_export_rows(&self) -> Result<bool, StorageError> {
        Ok(self
            .row("SELECT EXISTS (SELECT 1 FROM export_rows)", &[])?
            .is_some_and(|r| r.get(0)))
    }

    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError> {
        let rows = self.rows(
            "SELECT DISTINCT ON (household) row, arrived_ms FROM export_rows
             WHERE kelurahan = $1 AND arrived_ms <= $2 ORDER BY household, id DESC",
            &[&kelurahan, &cutoff_ms],
        )?;
        rows.iter()
            .map(|r| {
                let row: ExportRow = serde_json::from_str(r.get(0))
                    .map_err(|e| StorageError::Internal(format!("export row: {e}")))?;
                Ok((row, r.get(1)))
            })
            .collect()
    }

    fn households(
        &self,
        kelurahan: Option<&str>,
        rw: Option<u16>,
    ) -> Result<Vec<HouseholdArea>, StorageError> {
        let rw = rw.map(i32::from);
        Ok(self
            .rows(
                "SELECT id, kelurahan, rw, rt FROM households
                 WHERE ($1::text IS NULL OR kelurahan = $1) AND ($2::int IS NULL OR rw = $2)
                 ORDER BY kelurahan COLLATE \"C\", rw, rt, id COLLATE \"C\"",
                &[&kelurahan, &rw],
            )?
            .iter()
            .map(|r| HouseholdArea {
                id: r.get(0),
                kelurahan: r.get(1),
                rw: u16_of(r.get(2)),
                rt: u16_of(r.get(3)),
            })
            .collect())
    }

    fn household_count(&self) -> Result<u64, StorageError> {
        let n: i64 = self
            .row("SELECT count(*) FROM households", &[])?
            .map_or(0, |r| r.get(0));
        Ok(n as u64)
    }

    fn all_heads(&self) -> Result<Vec<(String, Vec<ChangeHash>)>, StorageError> {
        Ok(self
            .rows(
                "SELECT id, heads FROM households ORDER BY id COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), decode_heads(r.get(1))))
            .collect())
    }

    fn quarantine_reports(&self) -> Result<Vec<QuarantineReport>, StorageError> {
        Ok(self
            .rows(
                "SELECT q.device, d.user_name, q.household, q.reason, q.reported_ms
                 FROM quarantine q LEFT JOIN devices d ON d.id = q.device
                 ORDER BY q.reported_ms",
                &[],
            )?
            .iter()
            .map(|r| QuarantineReport {
                device: r.get(0),
                user: r.get(1),
                household: r.get(2),
                reason: r.get(3),
                reported_ms: r.get(4),
            })
            .collect())
    }
}

/// `DeviceRow` from `DEVICE_ROW`'s columns, starting at `at`.
fn device_row(r: &Row, at: usize) -> Result<DeviceRow, StorageError> {
    Ok(DeviceRow {
        user: r.get(at),
        role: role_of(r.get(at + 1))?,
        public_key: r.get(at + 2),
        revoked: r.get(at + 3),
        disabled: r.get(at + 4),
        login_ms: r.get(at + 5),
        password_ms: r.get(at + 6),
        last_seen_ms: r.get(at + 7),
    })
}

impl AccountTx for PgTx<'_> {
    fn user(&self, name: &str) -> Result<Option<UserRow>, StorageError> {
        self.row(
            "SELECT role, password_hash, disabled FROM users WHERE name = $1",
            &[&name],
        )?
        .map(|r| {
            Ok(UserRow {
                role: role_of(r.get(0))?,
                password_hash: r.get(1),
                disabled: r.get(2),
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
        self.exec(
            "INSERT INTO users (name, role, password_hash, password_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                 password_hash = excluded.password_hash, password_ms = excluded.password_ms",
            &[&name, &role.as_str(), &hash, &now_ms],
        )?;
        Ok(())
    }

    fn set_password_hash(&self, name: &str, hash: &str, now_ms: i64) -> Result<bool, StorageError> {
        Ok(self.exec(
            "UPDATE users SET password_hash = $2, password_ms = $3 WHERE name = $1",
            &[&name, &hash, &now_ms],
        )? > 0)
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StorageError> {
        Ok(self.exec(
            "UPDATE users SET disabled = $2 WHERE name = $1",
            &[&name, &disabled],
        )? > 0)
    }

    fn end_tokens(&self, user: &str) -> Result<(), StorageError> {
        self.exec(
            "UPDATE devices SET token_expires_ms = 0 WHERE user_name = $1",
            &[&user],
        )?;
        Ok(())
    }

    fn assign(&self, user: &str, area: &Area) -> Result<bool, StorageError> {
        let n = self.exec(
            "INSERT INTO areas (user_name, kelurahan, rw)
             SELECT name, $2, $3 FROM users WHERE name = $1 ON CONFLICT DO NOTHING",
            &[&user, &area.kelurahan, &i32::from(area.rw.unwrap_or(0))],
        )?;
        Ok(n > 0 || self.user(user)?.is_some())
    }

    fn unassign(&self, user: &str, area: &Area) -> Result<(), StorageError> {
        self.exec(
            "DELETE FROM areas WHERE user_name = $1 AND kelurahan = $2 AND rw = $3",
            &[&user, &area.kelurahan, &i32::from(area.rw.unwrap_or(0))],
        )?;
        Ok(())
    }

    fn areas(&self, user: &str) -> Result<Vec<Area>, StorageError> {
        Ok(areas_of(self.rows(
            "SELECT kelurahan, rw FROM areas WHERE user_name = $1 ORDER BY kelurahan COLLATE \"C\", rw",
            &[&user],
        )?))
    }

    fn insert_device(&self, d: &NewDevice<'_>) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO devices (id, user_name, name, token_hash, public_key, registered_ms,
                 token_expires_ms, login_ms, last_seen_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $6)",
            &[
                &d.id,
                &d.user,
                &d.name,
                &d.token_hash,
                &d.public_key,
                &d.now_ms,
                &d.expires_ms,
            ],
        )?;
        Ok(())
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError> {
        self.row(
            "SELECT d.user_name, u.role, d.public_key, d.revoked, u.disabled, d.login_ms,
                    u.password_ms, d.last_seen_ms
             FROM devices d JOIN users u ON u.name = d.user_name WHERE d.id = $1",
            &[&id],
        )?
        .map(|r| device_row(&r, 0))
        .transpose()
    }

    fn device_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(String, DeviceRow, i64)>, StorageError> {
        self.row(
            "SELECT d.id, d.token_expires_ms, d.user_name, u.role, d.public_key, d.revoked,
                    u.disabled, d.login_ms, u.password_ms, d.last_seen_ms
             FROM devices d JOIN users u ON u.name = d.user_name WHERE d.token_hash = $1",
            &[&token_hash],
        )?
        .map(|r| Ok((r.get(0), device_row(&r, 2)?, r.get(1))))
        .transpose()
    }

    fn rebind_actor(&self, actor: &ActorId, device: &str) -> Result<(), StorageError> {
        self.exec(
            "UPDATE actors SET device = $2 WHERE actor = $1",
            &[&actor.to_bytes(), &device],
        )?;
        Ok(())
    }

    fn first_registered(&self, user: &str, key: &[u8]) -> Result<Option<i64>, StorageError> {
        Ok(self
            .row(
                "SELECT min(registered_ms) FROM devices WHERE user_name = $1 AND public_key = $2",
                &[&user, &key],
            )?
            .and_then(|r| r.get(0)))
    }

    fn set_registered(&self, device: &str, ms: i64) -> Result<(), StorageError> {
        self.exec(
            "UPDATE devices SET registered_ms = $2 WHERE id = $1",
            &[&device, &ms],
        )?;
        Ok(())
    }

    fn touch_device(&self, device: &str, now_ms: i64) -> Result<(), StorageError> {
        self.exec(
            "UPDATE devices SET last_seen_ms = $2 WHERE id = $1",
            &[&device, &now_ms],
        )?;
        Ok(())
    }

    fn set_token(&self, device: &str, hash: &[u8], expires_ms: i64) -> Result<(), StorageError> {
        self.exec(
            "UPDATE devices SET token_hash = $2, token_expires_ms = $3 WHERE id = $1",
            &[&device, &hash, &expires_ms],
        )?;
        Ok(())
    }

    fn log_out(&self, device: &str) -> Result<(), StorageError> {
        self.exec(
            "UPDATE devices SET token_expires_ms = 0, login_ms = 0 WHERE id = $1",
            &[&device],
        )?;
        Ok(())
    }

    fn revoke_device(&self, device: &str) -> Result<bool, StorageError> {
        Ok(self.exec(
            "UPDATE devices SET revoked = true WHERE id = $1",
            &[&device],
        )? > 0)
    }

    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, StorageError> {
        Ok(self
            .rows(
                "SELECT id, user_name, name, registered_ms, last_seen_ms, revoked, token_expires_ms
                 FROM devices WHERE $1::text IS NULL OR user_name = $1
                 ORDER BY user_name COLLATE \"C\", registered_ms",
                &[&user],
            )?
            .iter()
            .map(|r| DeviceInfo {
                device: r.get(0),
                user: r.get(1),
                name: r.get(2),
                registered_ms: r.get(3),
                last_seen_ms: r.get(4),
                revoked: r.get(5),
                token_expires_ms: r.get(6),
            })
            .collect())
    }

    fn set_device_recipient(&self, device: &str, recipient: &str) -> Result<(), StorageError> {
        self.exec(
            "UPDATE devices SET age_recipient = $2 WHERE id = $1",
            &[&device, &recipient],
        )?;
        Ok(())
    }

    fn area_recipients(&self, user: &str, max: u32) -> Result<Vec<String>, StorageError> {
        // As the SQLite store: users holding every area of `user`, their unrevoked,
        // logged-in devices' keys, no key of a revoked row.
        let rows = self.rows(
            "SELECT age_recipient FROM (
                 SELECT d.age_recipient, max(d.last_seen_ms) AS seen FROM users u
                 JOIN devices d ON d.user_name = u.name AND NOT d.revoked AND d.login_ms > 0
                    AND d.age_recipient IS NOT NULL
                 WHERE NOT u.disabled
                   AND u.name IN (SELECT cand.user_name FROM areas cand WHERE cand.kelurahan =
                                  (SELECT min(kelurahan) FROM areas WHERE user_name = $1))
                   AND NOT EXISTS (
                       SELECT 1 FROM areas mine WHERE mine.user_name = $1 AND NOT EXISTS (
                           SELECT 1 FROM areas theirs
                           WHERE theirs.user_name = u.name AND theirs.kelurahan = mine.kelurahan
                             AND (theirs.rw = 0 OR theirs.rw = mine.rw)))
                   AND NOT EXISTS (
                       SELECT 1 FROM devices r WHERE r.revoked
                         AND r.age_recipient = d.age_recipient)
                 GROUP BY d.age_recipient) k
             ORDER BY seen DESC LIMIT $2",
            &[&user, &i64::from(max)],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn put_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        self.exec("DELETE FROM challenges WHERE expires_ms < $1", &[&now_ms])?;
        self.exec(
            "INSERT INTO challenges (device, challenge, expires_ms) SELECT $1, $2, $3
             WHERE EXISTS (SELECT 1 FROM devices WHERE id = $1)",
            &[&device, &challenge, &expires_ms],
        )?;
        Ok(())
    }

    fn take_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        Ok(self.exec(
            "DELETE FROM challenges WHERE device = $1 AND challenge = $2 AND expires_ms >= $3",
            &[&device, &challenge, &now_ms],
        )? > 0)
    }

    fn throttle(&self, key: &str) -> Result<Option<(u32, i64, i64)>, StorageError> {
        // A count read to be raised: one writer per key at a time.
        if self.write {
            self.lock("throttle", key)?;
        }
        Ok(self
            .row(
                "SELECT failures, until_ms, last_ms FROM throttle WHERE key = $1",
                &[&key],
            )?
            .map(|r| (r.get::<_, i32>(0).max(0) as u32, r.get(1), r.get(2))))
    }

    fn put_throttle(
        &self,
        key: &str,
        failures: u32,
        until_ms: i64,
        last_ms: i64,
    ) -> Result<(), StorageError> {
        let failures = i32::try_from(failures).unwrap_or(i32::MAX);
        self.exec(
            "INSERT INTO throttle (key, failures, until_ms, last_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                 until_ms = excluded.until_ms, last_ms = excluded.last_ms",
            &[&key, &failures, &until_ms, &last_ms],
        )?;
        Ok(())
    }

    fn clear_throttle(&self, key: &str) -> Result<(), StorageError> {
        self.exec("DELETE FROM throttle WHERE key = $1", &[&key])?;
        Ok(())
    }

    fn settings(&self, kelurahan: &str) -> Result<Option<SettingsRow>, StorageError> {
        Ok(self
            .row(
                "SELECT lock_minutes, zone, bps, period, deadlines FROM kelurahan_settings
                 WHERE kelurahan = $1",
                &[&kelurahan],
            )?
            .map(|r| SettingsRow {
                lock_minutes: u8::try_from(r.get::<_, i32>(0)).ok(),
                zone: r.get(1),
                bps: r.get(2),
                period: r.get(3),
                deadlines: r.get(4),
            }))
    }

    fn put_settings(&self, kelurahan: &str, s: &SettingsRow) -> Result<(), StorageError> {
        let default = i32::from(jemput_core::rules::DEFAULT_LOCK_MINUTES);
        let lock = s.lock_minutes.map(i32::from);
        self.exec(
            "INSERT INTO kelurahan_settings (kelurahan, lock_minutes) VALUES ($1, $2)
             ON CONFLICT (kelurahan) DO NOTHING",
            &[&kelurahan, &lock.unwrap_or(default)],
        )?;
        self.exec(
            "UPDATE kelurahan_settings SET lock_minutes = coalesce($2, lock_minutes),
                 zone = coalesce($3, zone), bps = coalesce($4, bps),
                 period = coalesce($5, period), deadlines = coalesce($6, deadlines)
             WHERE kelurahan = $1",
            &[&kelurahan, &lock, &s.zone, &s.bps, &s.period, &s.deadlines],
        )?;
        Ok(())
    }

    fn server_secrets(&self) -> Result<(Option<Vec<u8>>, Option<String>), StorageError> {
        let key = self
            .row("SELECT secret FROM server_key WHERE id = 1", &[])?
            .map(|r| r.get(0));
        let age = self
            .row("SELECT identity FROM server_age WHERE id = 1", &[])?
            .map(|r| r.get(0));
        Ok((key, age))
    }

    fn init_signing_key(&self, secret: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.exec(
            "INSERT INTO server_key (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&secret],
        )?;
        self.row("SELECT secret FROM server_key WHERE id = 1", &[])?
            .map(|r| r.get(0))
            .ok_or_else(|| StorageError::Internal("server key not kept".into()))
    }

    fn init_bundle_identity(&self, identity: &str) -> Result<String, StorageError> {
        self.exec(
            "INSERT INTO server_age (id, identity) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&identity],
        )?;
        self.row("SELECT identity FROM server_age WHERE id = 1", &[])?
            .map(|r| r.get(0))
            .ok_or_else(|| StorageError::Internal("bundle identity not kept".into()))
    }

    fn keys_outside(&self) -> Result<bool, StorageError> {
        Ok(self
            .row("SELECT EXISTS (SELECT 1 FROM server_keys_outside)", &[])?
            .is_some_and(|r| r.get(0)))
    }

    fn audit_entries(&self, since_ms: i64) -> Result<Vec<crate::audit::Entry>, StorageError> {
        Ok(self
            .rows(
                "SELECT chain, seq, at_ms, kind, by_user, detail, prev, hash FROM audit
                 WHERE at_ms >= $1 ORDER BY chain COLLATE \"C\", seq",
                &[&since_ms],
            )?
            .iter()
            .map(|r| crate::audit::Entry {
                chain: r.get(0),
                seq: r.get(1),
                at_ms: r.get(2),
                kind: r.get(3),
                by: r.get(4),
                detail: serde_json::from_str(r.get(5)).unwrap_or_default(),
                prev: r.get(6),
                hash: r.get(7),
            })
            .collect())
    }

    fn audit_heads(&self) -> Result<AuditHeads, StorageError> {
        Ok(self
            .rows("SELECT chain, seq, hash FROM audit_heads", &[])?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect())
    }
    fn cases(&self, kelurahan: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .rows(
                "SELECT record FROM cases WHERE kelurahan = $1 ORDER BY id",
                &[&kelurahan],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn case(
        &self,
        kelurahan: &str,
        id: &str,
        for_update: bool,
    ) -> Result<Option<String>, StorageError> {
        let sql = if for_update {
            "SELECT record FROM cases WHERE kelurahan = $1 AND id = $2 FOR UPDATE"
        } else {
            "SELECT record FROM cases WHERE kelurahan = $1 AND id = $2"
        };
        Ok(self.row(sql, &[&kelurahan, &id])?.map(|r| r.get(0)))
    }

    fn put_case(
        &self,
        kelurahan: &str,
        id: &str,
        rw: u16,
        record: &str,
    ) -> Result<(), StorageError> {
        let rw = i32::from(rw);
        self.exec(
            "INSERT INTO cases (kelurahan, id, rw, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kelurahan, id) DO UPDATE SET rw = excluded.rw, record = excluded.record",
            &[&kelurahan, &id, &rw, &record],
        )?;
        Ok(())
    }

    fn muskel_sessions(&self, kelurahan: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .rows(
                "SELECT record FROM muskel_sessions WHERE kelurahan = $1 ORDER BY date, id",
                &[&kelurahan],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn muskel_session(
        &self,
        kelurahan: &str,
        id: &str,
        for_update: bool,
    ) -> Result<Option<String>, StorageError> {
        // FOR UPDATE: two decisions on one session never lose each other.
        let sql = if for_update {
            "SELECT record FROM muskel_sessions WHERE kelurahan = $1 AND id = $2 FOR UPDATE"
        } else {
            "SELECT record FROM muskel_sessions WHERE kelurahan = $1 AND id = $2"
        };
        Ok(self.row(sql, &[&kelurahan, &id])?.map(|r| r.get(0)))
    }

    fn put_muskel_session(
        &self,
        kelurahan: &str,
        id: &str,
        date: &str,
        record: &str,
    ) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO muskel_sessions (kelurahan, id, date, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kelurahan, id) DO UPDATE SET date = excluded.date, record = excluded.record",
            &[&kelurahan, &id, &date, &record],
        )?;
        Ok(())
    }

    fn server_value(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .row("SELECT value FROM server_values WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn put_server_value(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO server_values (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }
}
