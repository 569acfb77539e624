//! The device's local store (SQLite): each household's document bytes and the query
//! columns the UI reads, written in one transaction so a killed process never leaves a
//! document and its columns disagreeing; full-text search; sync bookkeeping (the
//! heads the server acknowledged, per-area cursors).
//!
//! Migrations are append-only: `MIGRATIONS[i]` takes the schema from version `i` to
//! `i + 1`, and a database newer than this binary is refused.

use std::path::Path;

use automerge::ChangeHash;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::conflicts::{conflict_id, Choice, ChoiceAction, ConflictItem, ConflictKind};
use crate::household::{Household, Summary};
use crate::indicators::IndicatorSet;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE households (
    id           TEXT PRIMARY KEY,
    doc          BLOB NOT NULL,
    kelurahan    TEXT NOT NULL,
    rw           INTEGER NOT NULL,
    rt           INTEGER NOT NULL,
    head_name    TEXT,
    head_nik     TEXT,
    kk           TEXT,
    address      TEXT,
    status       TEXT,
    last_visit   TEXT,
    score        INTEGER,
    poor         INTEGER NOT NULL DEFAULT 0,
    has_conflict INTEGER NOT NULL DEFAULT 0,
    proposal     INTEGER NOT NULL DEFAULT 0,
    -- concatenated 32-byte change hashes whose history the server is known to hold
    acked_heads  BLOB NOT NULL DEFAULT x'',
    -- 1 while the document has changes the server has not acknowledged
    pending      INTEGER NOT NULL DEFAULT 0,
    -- why the server refused the pending changes; they stay here, never dropped
    rejected     TEXT
);
CREATE INDEX households_area ON households (kelurahan, rw, rt);
CREATE VIRTUAL TABLE households_fts USING fts5 (id UNINDEXED, text);
CREATE TABLE cursors (area TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
    r#"
-- open conflicts inside one household (field conflicts, divergent visits)
CREATE TABLE household_conflicts (
    id        TEXT PRIMARY KEY,
    household TEXT NOT NULL,
    kind      TEXT NOT NULL,
    item      TEXT NOT NULL  -- the ConflictItem as JSON
);
CREATE INDEX household_conflicts_household ON household_conflicts (household);
-- members of every household, to find one person (or family) in two households
CREATE TABLE member_index (
    household  TEXT NOT NULL,
    member     TEXT NOT NULL,
    nik        TEXT,
    name       TEXT,
    birth_date TEXT,
    relation   TEXT,
    PRIMARY KEY (household, member)
);
CREATE INDEX member_index_nik ON member_index (nik);
-- conflict ids decided in each household's document
CREATE TABLE resolved (household TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (household, id));
INSERT INTO kv (key, value) VALUES ('reindex', '1');
"#,
    r#"
-- signed bundles of other devices imported here: sent with the next sync so the
-- server judges their changes as their signer's work
CREATE TABLE relays (id INTEGER PRIMARY KEY AUTOINCREMENT, bytes BLOB NOT NULL);
-- households a pulled document could not be merged into: kept out, with the reason,
-- and reported to the server at the next sync
CREATE TABLE quarantine (
    id       TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0
);
"#,
    r#"
-- who wrote changes (actor hex → user), as the server named them in sync responses
CREATE TABLE authors (actor TEXT PRIMARY KEY, user TEXT NOT NULL);
"#,
    r#"
-- the last visit found the household with some criterion "tidak tahu"
ALTER TABLE households ADD COLUMN incomplete INTEGER NOT NULL DEFAULT 0;
-- a visit being typed (device-local, never synced): the form as the UI holds it
CREATE TABLE drafts (
    household TEXT PRIMARY KEY,
    body      TEXT NOT NULL,
    at        INTEGER NOT NULL
);
-- the fasilitator's decisions and notes, for the kader's inbox
CREATE TABLE inbox (
    household TEXT NOT NULL,
    id        TEXT NOT NULL,
    kind      TEXT NOT NULL,  -- 'decision' or 'note'
    by        TEXT NOT NULL,
    at        INTEGER NOT NULL,
    item      TEXT NOT NULL,  -- JSON: the conflict decided, the pick or value, the note
    PRIMARY KEY (household, id)
);
CREATE INDEX inbox_at ON inbox (at);
-- the list's order, covering its filters: a page and a filtered count never read
-- the documents' pages
CREATE INDEX households_list ON households
    (rw, rt, head_name COLLATE NOCASE, id, last_visit, poor, has_conflict);
-- search rows keyed by the household's rowid (a delete no longer scans the table);
-- prefix indexes make a search of a NIK's first digits one lookup
DROP TABLE households_fts;
CREATE VIRTUAL TABLE households_fts USING fts5 (id UNINDEXED, text, prefix = '2 3 4 6');
INSERT OR REPLACE INTO kv (key, value) VALUES ('reindex', '1');
"#,
    r#"
-- starting again with a restored server: households it has not sent yet (those it
-- never sends are ones it no longer holds, and go to it whole)
CREATE TABLE restart_unseen (id TEXT PRIMARY KEY);
"#,
    r#"
-- the dashboard's visit index: every visit's date, result and score, and who made it
CREATE TABLE visits (
    household  TEXT NOT NULL,
    id         TEXT NOT NULL,
    date       TEXT NOT NULL,
    result     TEXT NOT NULL,
    poor       INTEGER NOT NULL,
    incomplete INTEGER NOT NULL,
    kader      TEXT,
    PRIMARY KEY (household, id)
);
-- a fasilitator decided the household duplicates another
ALTER TABLE households ADD COLUMN duplicate_of INTEGER NOT NULL DEFAULT 0;
-- the dashboard reads these, never the tables' rows (the households' pages hold the
-- documents): both in household order, merged as they are read
CREATE INDEX visits_dashboard ON visits (household, date, id, result, poor, incomplete, kader);
CREATE INDEX households_dashboard ON households
    (kelurahan, id, rw, rt, status, duplicate_of, proposal, has_conflict);
INSERT OR REPLACE INTO kv (key, value) VALUES ('reindex', '1');
"#,
];

/// The largest draft kept (a visit form is a few kilobytes).
pub const MAX_DRAFT_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "local database was written by a newer Jemput (schema {found}, this one knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error(transparent)]
    Household(#[from] crate::household::HouseholdError),
    #[error("no household `{0}` on this device")]
    NotFound(String),
    #[error("the local store does not open with this key")]
    Locked,
}

/// One row of the household list.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct HouseholdRow {
    pub id: String,
    pub head_name: Option<String>,
    pub address: Option<String>,
    pub rt: u16,
    pub rw: u16,
    pub status: Option<String>,
    pub last_visit: Option<String>,
    pub score: Option<u32>,
    pub poor: bool,
    /// The last visit has criteria marked "tidak tahu".
    pub incomplete: bool,
    pub has_conflict: bool,
    pub proposal: bool,
    /// Changes the server has not acknowledged.
    pub pending: bool,
    pub rejected: Option<String>,
    /// A visit is being typed (a draft on this device).
    pub draft: bool,
    /// A decision or note by someone else since the inbox was last looked at.
    pub unread: bool,
}

/// One page of the household list.
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ListQuery {
    #[ts(optional)]
    pub search: Option<String>,
    #[serde(default)]
    pub filter: ListFilter,
    /// Rows to skip, and at most how many to return (0: all).
    #[serde(default)]
    pub offset: u32,
    #[serde(default)]
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ListPage {
    pub rows: Vec<HouseholdRow>,
    /// Rows matching the search and filter, all pages together.
    pub total: u32,
    pub offset: u32,
}

/// One item of the kader's inbox: a decision on a household, or a note.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct InboxItem {
    pub household: String,
    pub head_name: Option<String>,
    pub rw: u16,
    pub rt: u16,
    pub id: String,
    #[ts(type = "\"decision\" | \"note\"")]
    pub kind: String,
    pub by: String,
    #[ts(type = "number")]
    pub at: i64,
    /// Decision: `{conflict, conflict_kind, pick | value}`; note: `{text, conflict}`.
    #[ts(type = "Record<string, unknown>")]
    pub item: serde_json::Value,
    /// Later than the last look at the inbox.
    pub unread: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ListFilter {
    #[default]
    All,
    /// No visit since the start of the current period.
    NotVisited,
    /// Latest visit scores poor.
    Poor,
    Conflict,
}

pub struct Store {
    conn: Connection,
    /// Documents read lately, parsed, with the bytes they were read from: the save
    /// that follows a look (the kader opens a household, then saves the visit) starts
    /// from a copy instead of parsing the document again, so it costs the same
    /// whatever the household's history.
    docs: std::cell::RefCell<DocCache>,
}

/// A few parsed documents by household id (the ones the user is working on).
#[derive(Default)]
struct DocCache {
    entries: Vec<Cached>,
}

/// One parsed document: its household id, stored bytes, heads and visits' dates.
struct Cached {
    id: String,
    bytes: Vec<u8>,
    doc: automerge::AutoCommit,
    heads: Vec<ChangeHash>,
    dates: Dates,
}

type Dates = std::collections::HashMap<String, String>;

impl DocCache {
    const SIZE: usize = 8;

    fn find(&self, id: &str, bytes: &[u8]) -> Option<&Cached> {
        self.entries.iter().find(|c| c.id == id && c.bytes == bytes)
    }

    fn get(&self, id: &str, bytes: &[u8]) -> Option<(automerge::AutoCommit, Dates)> {
        self.find(id, bytes)
            .map(|c| (c.doc.clone(), c.dates.clone()))
    }

    fn put(&mut self, id: &str, bytes: Vec<u8>, mut doc: automerge::AutoCommit, dates: Dates) {
        self.forget(id);
        if self.entries.len() >= Self::SIZE {
            self.entries.remove(0);
        }
        let heads = doc.get_heads();
        self.entries.push(Cached {
            id: id.to_string(),
            bytes,
            doc,
            heads,
            dates,
        });
    }

    /// Whether `hh` holds every change of the stored document `bytes` (it was made
    /// from it): then the store has nothing to merge into it.
    fn contains_stored(&self, id: &str, bytes: &[u8], hh: &mut Household) -> bool {
        self.find(id, bytes)
            .is_some_and(|c| hh.doc_for_changes().get_missing_deps(&c.heads).is_empty())
    }

    fn forget(&mut self, id: &str) {
        self.entries.retain(|c| c.id != id);
    }
}

pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::init(Connection::open(path)?)
    }

    /// Opens the store at `path` encrypted with `key` (SQLCipher: every page, the
    /// search index included). A store written before encryption (plain SQLite) is
    /// encrypted in place first. A wrong key is an error, never an empty store.
    pub fn open_encrypted(path: &Path, key: &[u8; 32]) -> Result<Store, StoreError> {
        let key_sql = format!("\"x'{}'\"", hex::encode(key));
        let was_plain = is_plain_sqlite(path);
        if was_plain {
            encrypt_in_place(path, &key_sql)?;
        }
        let conn = Connection::open(path)?;
        conn.execute_batch(&format!("PRAGMA key = {key_sql};"))?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|_| StoreError::Locked)?;
        let store = Store::init(conn)?;
        if was_plain {
            // The export copies rows, not their rowids: the search index is rebuilt.
            store.kv_set("reindex", "1")?;
        }
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store, StoreError> {
        // WAL + FULL: a committed visit survives a killed process and a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 8 MiB of pages kept in memory: an encrypted page is decrypted once, not at
        // every read of the list (4,000 households fit).
        conn.pragma_update(None, "cache_size", -8192)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(Store {
            conn,
            docs: Default::default(),
        })
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// A write transaction from its first statement (`BEGIN IMMEDIATE`): what it reads
    /// no other process can change before it commits.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// The household `id`, parsed (from the cache when its stored bytes are the ones
    /// parsed before), with `author`'s actor for edits; and the document as stored,
    /// for the rule book's "before".
    pub fn household(
        &self,
        id: &str,
        author: &crate::household::Author,
    ) -> Result<(Household, automerge::AutoCommit), StoreError> {
        let (before, dates) = self.cached_doc(id)?;
        let mut doc = before.clone();
        doc.set_actor(author.actor.clone());
        Ok((Household::from_doc_with_dates(doc, dates)?, before))
    }

    /// The household `id` to read (a look at it also readies the save that follows).
    pub fn load_household(&self, id: &str) -> Result<Household, StoreError> {
        let (doc, dates) = self.cached_doc(id)?;
        Ok(Household::from_doc_with_dates(doc, dates)?)
    }

    fn cached_doc(&self, id: &str) -> Result<(automerge::AutoCommit, Dates), StoreError> {
        let bytes = self.get_doc(id)?;
        if let Some(hit) = self.docs.borrow().get(id, &bytes) {
            return Ok(hit);
        }
        let doc =
            automerge::AutoCommit::load(&bytes).map_err(crate::household::HouseholdError::from)?;
        // Parsing reads the visits' dates too, once, for the saves that follow.
        let hh = Household::from_doc(doc)?;
        hh.read_visit_dates();
        let dates = hh.visit_dates();
        let doc = hh.into_doc();
        self.docs
            .borrow_mut()
            .put(id, bytes, doc.clone(), dates.clone());
        Ok((doc, dates))
    }

    pub fn get_doc(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        self.conn
            .query_row("SELECT doc FROM households WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    /// Writes a household edited on this device: it now has changes to push. What
    /// another process (a sync) stored since the edit loaded it is merged in
    /// first, inside the write transaction: no lost update.
    pub fn save_local(&mut self, hh: &mut Household, set: &IndicatorSet) -> Result<(), StoreError> {
        self.save_local_with(hh, set, false)
    }

    /// [`Store::save_local`] for a saved visit: its draft goes in the same
    /// transaction, so a crash leaves either the draft or the visit, never both.
    pub fn save_visit(&mut self, hh: &mut Household, set: &IndicatorSet) -> Result<(), StoreError> {
        self.save_local_with(hh, set, true)
    }

    fn save_local_with(
        &mut self,
        hh: &mut Household,
        set: &IndicatorSet,
        visit: bool,
    ) -> Result<(), StoreError> {
        let docs = &self.docs;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = hh.id().unwrap_or_default();
        let stored: Option<Vec<u8>> = tx
            .query_row("SELECT doc FROM households WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(bytes) = stored {
            // Nothing to merge when the edit started from what is stored.
            if !docs.borrow().contains_stored(&id, &bytes, hh) {
                let mut doc = automerge::AutoCommit::load(&bytes)
                    .map_err(crate::household::HouseholdError::from)?;
                hh.doc_mut()
                    .merge(&mut doc)
                    .map_err(crate::household::HouseholdError::from)?;
                hh.forget_visit_dates();
            }
        }
        let bytes = write_household(&tx, hh, set)?;
        tx.execute("UPDATE households SET pending = 1 WHERE id = ?1", [&id])?;
        if visit {
            tx.execute("DELETE FROM drafts WHERE household = ?1", [&id])?;
        }
        if let Err(e) = tx.commit() {
            docs.borrow_mut().forget(&id);
            return Err(e.into());
        }
        docs.borrow_mut()
            .put(&id, bytes, hh.doc_ref().clone(), hh.visit_dates());
        Ok(())
    }

    /// Every row matching `search` and `filter` (tools and tests; the app pages).
    pub fn list(
        &self,
        search: Option<&str>,
        filter: ListFilter,
        period_start: &str,
    ) -> Result<Vec<HouseholdRow>, StoreError> {
        let q = ListQuery {
            search: search.map(str::to_string),
            filter,
            ..ListQuery::default()
        };
        Ok(self.list_page(&q, period_start, None)?.rows)
    }

    /// One page of the list, in RW, RT, head-name order; `me`: the user whose own
    /// notes are not unread.
    pub fn list_page(
        &self,
        q: &ListQuery,
        period_start: &str,
        me: Option<&str>,
    ) -> Result<ListPage, StoreError> {
        let fts = q.search.as_deref().map(fts_query).filter(|f| !f.is_empty());
        let mut cond = String::from(if fts.is_some() {
            "h.rowid IN (SELECT rowid FROM households_fts WHERE households_fts MATCH ?1)"
        } else {
            "?1 IS NULL"
        });
        cond.push_str(match q.filter {
            ListFilter::All => "",
            ListFilter::NotVisited => " AND (h.last_visit IS NULL OR h.last_visit < ?2)",
            ListFilter::Poor => " AND h.poor = 1",
            ListFilter::Conflict => " AND h.has_conflict = 1",
        });
        if q.filter != ListFilter::NotVisited {
            cond.push_str(" AND ?2 IS NOT NULL");
        }
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM households h INDEXED BY households_list WHERE {cond}"),
            params![fts, period_start],
            |r| r.get(0),
        )?;
        let limit = if q.limit == 0 { -1 } else { i64::from(q.limit) };
        let sql = format!(
            "SELECT h.id, h.head_name, h.address, h.rt, h.rw, h.status, h.last_visit, h.score,
                    h.poor, h.incomplete, h.has_conflict, h.proposal, h.pending, h.rejected,
                    EXISTS (SELECT 1 FROM drafts d WHERE d.household = h.id),
                    EXISTS (SELECT 1 FROM inbox i WHERE i.household = h.id AND i.at > ?3
                            AND (?4 IS NULL OR i.by != ?4))
               FROM households h INDEXED BY households_list WHERE {cond}
              ORDER BY h.rw, h.rt, h.head_name COLLATE NOCASE, h.id
              LIMIT ?5 OFFSET ?6"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![fts, period_start, self.inbox_seen()?, me, limit, q.offset],
            |r| {
                Ok(HouseholdRow {
                    id: r.get(0)?,
                    head_name: r.get(1)?,
                    address: r.get(2)?,
                    rt: r.get(3)?,
                    rw: r.get(4)?,
                    status: r.get(5)?,
                    last_visit: r.get(6)?,
                    score: r.get(7)?,
                    poor: r.get(8)?,
                    incomplete: r.get(9)?,
                    has_conflict: r.get(10)?,
                    proposal: r.get(11)?,
                    pending: r.get(12)?,
                    rejected: r.get(13)?,
                    draft: r.get(14)?,
                    unread: r.get(15)?,
                })
            },
        )?;
        Ok(ListPage {
            rows: rows.collect::<Result<_, _>>()?,
            total: total as u32,
            offset: q.offset,
        })
    }

    /// When the inbox was last looked at (ms; 0: never).
    fn inbox_seen(&self) -> Result<i64, StoreError> {
        Ok(self
            .kv_get("inbox_seen")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Decisions and notes on this device's households by others than `me`, newest
    /// first, each saying whether it came after the last look.
    pub fn inbox(&self, me: Option<&str>, limit: u32) -> Result<Vec<InboxItem>, StoreError> {
        let seen = self.inbox_seen()?;
        let mut stmt = self.conn.prepare(
            "SELECT i.household, h.head_name, h.rw, h.rt, i.id, i.kind, i.by, i.at, i.item
               FROM inbox i JOIN households h ON h.id = i.household
              WHERE ?1 IS NULL OR i.by != ?1
              ORDER BY i.at DESC, i.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![me, limit], |r| {
            let at: i64 = r.get(7)?;
            let item: String = r.get(8)?;
            Ok(InboxItem {
                household: r.get(0)?,
                head_name: r.get(1)?,
                rw: r.get(2)?,
                rt: r.get(3)?,
                id: r.get(4)?,
                kind: r.get(5)?,
                by: r.get(6)?,
                at,
                item: serde_json::from_str(&item).unwrap_or_default(),
                unread: at > seen,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The inbox was looked at: what came until `now_ms` is no longer unread.
    pub fn mark_inbox_seen(&self, now_ms: i64) -> Result<(), StoreError> {
        let seen = self.inbox_seen()?.max(now_ms);
        self.kv_set("inbox_seen", &seen.to_string())
    }

    /// The visit form being typed for `household`, as the UI keeps it.
    pub fn draft(&self, household: &str) -> Result<Option<(serde_json::Value, i64)>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT body, at FROM drafts WHERE household = ?1",
                [household],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(b, at)| serde_json::from_str(&b).ok().map(|v| (v, at))))
    }

    /// Keeps the visit form being typed (replacing the previous draft). A draft is
    /// device-local: it never enters the document or a sync.
    pub fn put_draft(
        &self,
        household: &str,
        body: &serde_json::Value,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let text = body.to_string();
        if text.len() > MAX_DRAFT_BYTES || !body.is_object() {
            return Err(StoreError::Household(
                crate::household::HouseholdError::Invalid(format!(
                    "a draft is a JSON object of at most {MAX_DRAFT_BYTES} bytes"
                )),
            ));
        }
        self.get_doc(household)?;
        self.conn.execute(
            "INSERT INTO drafts (household, body, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (household) DO UPDATE SET body = excluded.body, at = excluded.at",
            params![household, text, now_ms],
        )?;
        Ok(())
    }

    pub fn discard_draft(&self, household: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM drafts WHERE household = ?1", [household])?;
        Ok(())
    }

    /// Households with a draft: (id, head name, saved at).
    pub fn drafts(&self) -> Result<Vec<(String, Option<String>, i64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT d.household, h.head_name, d.at FROM drafts d
               LEFT JOIN households h ON h.id = d.household ORDER BY d.at",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Households with changes not yet acknowledged or refused: (id, head name,
    /// unsent visits, the refusal if any).
    pub fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, head_name, rw, rt, doc, acked_heads, rejected FROM households
              WHERE pending = 1 ORDER BY rw, rt, head_name COLLATE NOCASE, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, u16>(2)?,
                r.get::<_, u16>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, head_name, rw, rt, doc, acked, rejected) = row?;
            let mut hh = Household::load(&doc)?;
            out.push(OutboxRow {
                id,
                head_name,
                rw,
                rt,
                visits: hh.visits_after(&decode_heads(&acked)).len() as u32,
                rejected,
            });
        }
        Ok(out)
    }

    /// Visits recorded on this device that the server has not taken.
    pub fn unsent_visits(&self) -> Result<usize, StoreError> {
        Ok(self.outbox()?.iter().map(|h| h.visits as usize).sum())
    }

    /// Erases every household, key and record of this device (a revoked device): rows
    /// are overwritten (`secure_delete`), the file is rebuilt and the write-ahead log
    /// emptied, so nothing of them stays in the file's free pages.
    pub fn wipe(&mut self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "secure_delete", true)?;
        let tx = self.conn.transaction()?;
        for table in [
            "households",
            "households_fts",
            "cursors",
            "kv",
            "household_conflicts",
            "member_index",
            "resolved",
            "relays",
            "quarantine",
            "authors",
            "drafts",
            "inbox",
            "visits",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.commit()?;
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn count(&self, sql_where: CountOf) -> Result<u64, StoreError> {
        let sql = match sql_where {
            CountOf::All => "SELECT count(*) FROM households",
            CountOf::Pending => {
                "SELECT count(*) FROM households WHERE pending = 1 AND rejected IS NULL"
            }
            CountOf::Rejected => "SELECT count(*) FROM households WHERE rejected IS NOT NULL",
        };
        let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Any one stored household (the registry import reads the kelurahan's codes).
    pub fn first_household_id(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT id FROM households ORDER BY id LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The authors this device knows: those the server named, and its own actor.
    pub fn authors(&self, own_user: Option<&str>) -> Result<crate::authors::Authors, StoreError> {
        let mut stmt = self.conn.prepare("SELECT actor, user FROM authors")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut authors = crate::authors::Authors::new(rows.collect::<Result<_, _>>()?);
        if let (Some(actor), Some(user)) = (self.kv_get("actor")?, own_user) {
            authors.insert(&actor, user);
        }
        Ok(authors)
    }

    pub fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM kv WHERE key = ?1", [key])?;
        Ok(())
    }

    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    pub fn cursors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT area, seq FROM cursors ORDER BY area")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Documents with changes the server has not acknowledged and did not refuse.
    /// Keeps a bundle to relay to the server at the next sync.
    pub fn add_relay(&self, bundle: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute("INSERT INTO relays (bytes) VALUES (?1)", [bundle])?;
        Ok(())
    }

    /// Bundles waiting to be relayed: (id, bytes).
    /// Households holding work the server refused because it could not establish
    /// who wrote it (`foreign_actor`: another device's changes, relayed after the
    /// server was restored). Kept, listed, never dropped.
    pub fn unconfirmed(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id FROM households WHERE substr(rejected, 1, 14) = 'foreign_actor:' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn relays(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, bytes FROM relays ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Households kept out because a pulled document could not be merged: (id,
    /// reason); `unreported`: only those the server has not heard about yet.
    pub fn quarantined(&self, unreported: bool) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, reason FROM quarantine WHERE ?1 = 0 OR reported = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([unreported], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn pending(&self) -> Result<Vec<PendingDoc>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, doc, acked_heads FROM households WHERE pending = 1 AND rejected IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let acked: Vec<u8> = r.get(2)?;
            Ok(PendingDoc {
                id: r.get(0)?,
                doc: r.get(1)?,
                acked: decode_heads(&acked),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Rebuilds query columns and indexes from the documents after a migration added
    /// some (the documents are the truth; everything else is derived).
    pub fn reindex_if_needed(&mut self, set: &IndicatorSet) -> Result<usize, StoreError> {
        if self.kv_get("reindex")?.is_none() {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        let docs: Vec<Vec<u8>> = {
            let mut stmt = tx.prepare("SELECT doc FROM households")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for bytes in &docs {
            let mut hh = Household::load(bytes)?;
            write_household(&tx, &mut hh, set)?;
        }
        tx.execute("DELETE FROM kv WHERE key = 'reindex'", [])?;
        tx.commit()?;
        Ok(docs.len())
    }

    /// The dashboard for `period` over the households of `kelurahan` on this device,
    /// from the query columns and the visit index (no document is read): two covering
    /// indexes read in household order and merged.
    pub fn dashboard(
        &self,
        kelurahan: &str,
        period: &crate::dashboard::Period,
    ) -> Result<crate::dashboard::Dashboard, StoreError> {
        use crate::dashboard::{self as d, KaderFigures, Standing, VisitFact};
        type Kader = (KaderFigures, std::collections::HashSet<String>);
        let mut kaders: std::collections::BTreeMap<String, Kader> = Default::default();
        let mut dates: Vec<String> = Vec::new();
        let mut standings = Vec::new();
        let mut hs = self.conn.prepare_cached(
            "SELECT id, rw, rt, status, duplicate_of, proposal, has_conflict
               FROM households INDEXED BY households_dashboard
              WHERE kelurahan = ?1 ORDER BY id",
        )?;
        let mut vs = self.conn.prepare_cached(
            "SELECT household, id, date, result, poor, incomplete, kader
               FROM visits INDEXED BY visits_dashboard
              WHERE date <= ?1 ORDER BY household",
        )?;
        let mut hrows = hs.query([kelurahan])?;
        let mut vrows = vs.query([&period.end])?;
        type Visit = (String, String, VisitFact, Option<String>);
        let read_visit = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Visit> {
            Ok((
                r.get(0)?,
                r.get(1)?,
                VisitFact {
                    date: r.get(2)?,
                    result: r.get(3)?,
                    poor: r.get(4)?,
                    incomplete: r.get(5)?,
                },
                r.get(6)?,
            ))
        };
        let mut next = vrows.next()?.map(read_visit).transpose()?;
        let mut mine: Vec<(String, VisitFact)> = Vec::new();
        while let Some(h) = hrows.next()? {
            let id: String = h.get(0)?;
            mine.clear();
            while let Some((household, vid, fact, kader)) = next.take() {
                if household.as_str() > id.as_str() {
                    next = Some((household, vid, fact, kader));
                    break;
                }
                if household == id {
                    if period.holds(&fact.date) {
                        dates.push(fact.date.clone());
                        if let Some(user) = kader {
                            let (k, seen) = kaders.entry(user.clone()).or_insert_with(|| {
                                let k = KaderFigures {
                                    user,
                                    ..KaderFigures::default()
                                };
                                (k, Default::default())
                            });
                            k.visits += 1;
                            k.last_visit = k.last_visit.take().max(Some(fact.date.clone()));
                            seen.insert(id.clone());
                        }
                    }
                    mine.push((vid, fact));
                }
                next = vrows.next()?.map(read_visit).transpose()?;
            }
            let (last, last_found) =
                d::fold_visits(mine.iter().map(|(vid, f)| (vid.as_str(), f)), &period.end);
            standings.push(Standing {
                rw: h.get(1)?,
                rt: h.get(2)?,
                duplicate: h.get::<_, bool>(4)?
                    || h.get::<_, Option<String>>(3)?.as_deref() == Some("duplicate"),
                proposal: h.get(5)?,
                open_conflicts: h.get(6)?,
                last,
                last_found,
            });
        }
        let tally = d::tally(standings, period);
        let kaders = kaders
            .into_values()
            .map(|(mut k, seen)| {
                k.households = seen.len() as u32;
                k
            })
            .collect();
        Ok(d::Dashboard {
            period: period.clone(),
            total: tally.total,
            rws: tally.rws,
            rts: tally.rts,
            kaders,
            weeks: d::weeks(period, dates.iter().map(String::as_str)),
        })
    }

    /// What each household of `kelurahan` stands for as a proposal (its query columns).
    pub fn proposal_bases(&self, kelurahan: &str) -> Result<Vec<crate::muskel::Basis>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, head_name, head_nik, kk, address, rw, rt, proposal, status, last_visit,
                    poor, duplicate_of, incomplete
               FROM households WHERE kelurahan = ?1 ORDER BY rw, rt, id",
        )?;
        let rows = stmt.query_map([kelurahan], |r| {
            Ok(crate::muskel::Basis {
                household: r.get(0)?,
                head_name: r.get(1)?,
                head_nik: r.get(2)?,
                kk: r.get(3)?,
                address: r.get(4)?,
                rw: r.get(5)?,
                rt: r.get(6)?,
                proposal: r.get(7)?,
                status: r.get(8)?,
                last_visit: r.get(9)?,
                poor: r.get(10)?,
                duplicate_of: r.get(11)?,
                incomplete: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Open conflicts on this device, optionally of one RW and one kind: those inside a
    /// household and possible duplicates across households.
    pub fn list_conflicts(
        &self,
        rw: Option<u16>,
        kind: Option<ConflictKind>,
    ) -> Result<Vec<ConflictItem>, StoreError> {
        let mut out = Vec::new();
        if kind.is_none_or(|k| k != ConflictKind::PossibleDuplicate) {
            let mut stmt = self.conn.prepare(
                "SELECT c.item FROM household_conflicts c JOIN households h ON h.id = c.household
                 WHERE (?1 IS NULL OR h.rw = ?1) AND (?2 IS NULL OR c.kind = ?2)
                 ORDER BY h.rw, h.rt, c.household, c.id",
            )?;
            let rows = stmt.query_map(params![rw, kind.map(ConflictKind::code)], |r| {
                r.get::<_, String>(0)
            })?;
            for item in rows {
                if let Ok(c) = serde_json::from_str(&item?) {
                    out.push(c);
                }
            }
        }
        if kind.is_none_or(|k| k == ConflictKind::PossibleDuplicate) {
            out.extend(self.possible_duplicates(rw)?);
        }
        Ok(out)
    }

    /// One NIK in two households; a proposed household with the KK, or the head's name
    /// and birth date, of another household.
    fn possible_duplicates(&self, rw: Option<u16>) -> Result<Vec<ConflictItem>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT a.household, b.household, 'nik' FROM member_index a
               JOIN member_index b ON a.nik = b.nik AND a.household < b.household
              WHERE a.nik IS NOT NULL
             UNION
             SELECT p.id, h.id, 'kk' FROM households p JOIN households h ON p.kk = h.kk AND p.id != h.id
              WHERE p.proposal = 1 AND p.kk IS NOT NULL AND (h.proposal = 0 OR p.id < h.id)
             UNION
             SELECT p.household, h.household, 'head' FROM member_index p
               JOIN households ph ON ph.id = p.household AND ph.proposal = 1
               JOIN member_index h ON lower(h.name) = lower(p.name) AND h.birth_date = p.birth_date
                                  AND h.household != p.household AND h.relation = 'head'
              WHERE p.relation = 'head' AND p.birth_date IS NOT NULL",
        )?;
        let pairs: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (a, b, reason) in pairs {
            let (x, y) = if a <= b { (&a, &b) } else { (&b, &a) };
            let id = conflict_id(&[x, y, "duplicate"]);
            if !seen.insert(id.clone()) || self.is_resolved(&id)? {
                continue;
            }
            // The proposal (or, between registry households, the second) is the one
            // that may be the duplicate.
            let row = |h: &str| -> Result<(u16, u16, Option<String>, bool), StoreError> {
                Ok(self.conn.query_row(
                    "SELECT rw, rt, head_name, proposal FROM households WHERE id = ?1",
                    [h],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?)
            };
            let (ra, rb) = (row(&a)?, row(&b)?);
            let (subject, other, info) = if rb.3 && !ra.3 {
                (&b, &a, rb)
            } else {
                (&a, &b, ra)
            };
            if rw.is_some_and(|w| w != info.0) {
                continue;
            }
            out.push(ConflictItem {
                id,
                kind: ConflictKind::PossibleDuplicate,
                household: subject.clone(),
                rw: info.0,
                rt: info.1,
                head_name: info.2,
                path: Some(reason),
                label: String::new(),
                choices: vec![
                    Choice {
                        n: 1,
                        action: ChoiceAction::KeepBoth,
                        value: serde_json::Value::Null,
                        by: None,
                        at: 0,
                        device: None,
                        visit: None,
                        other_household: None,
                        notes: None,
                    },
                    Choice {
                        n: 2,
                        action: ChoiceAction::DuplicateOf,
                        value: serde_json::json!(other),
                        by: None,
                        at: 0,
                        device: None,
                        visit: None,
                        other_household: Some(other.clone()),
                        notes: None,
                    },
                ],
            });
        }
        Ok(out)
    }

    fn is_resolved(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM resolved WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Consistency check used after crashes: every document loads and its columns match.
    pub fn verify(&self, set: &IndicatorSet) -> Result<usize, String> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, doc, status, last_visit FROM households")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(|e| e.to_string())?;
        let mut n = 0;
        for row in rows {
            let (id, doc, status, last_visit) = row.map_err(|e| e.to_string())?;
            let hh = Household::load(&doc).map_err(|e| format!("{id}: {e}"))?;
            let s = hh.summary(set);
            if s.status != status || s.last_visit != last_visit {
                return Err(format!("{id}: query columns disagree with the document"));
            }
            n += 1;
        }
        Ok(n)
    }
}

/// A household whose work is not yet on the server.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct OutboxRow {
    pub id: String,
    pub head_name: Option<String>,
    pub rw: u16,
    pub rt: u16,
    /// Visits recorded here and not yet acknowledged.
    pub visits: u32,
    /// Why the server refused the changes (they are kept, not resent).
    pub rejected: Option<String>,
}

/// A document with changes to push, and the heads the server already holds.
#[derive(Debug, Clone)]
pub struct PendingDoc {
    pub id: String,
    pub doc: Vec<u8>,
    pub acked: Vec<ChangeHash>,
}

#[derive(Debug, Clone, Copy)]
pub enum CountOf {
    All,
    Pending,
    Rejected,
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    apply_migrations(conn, MIGRATIONS)
}

/// Whether `path` is an unencrypted SQLite file (its first 16 bytes say so).
fn is_plain_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

/// Rewrites a plain store encrypted (`sqlcipher_export`), replacing it whole.
fn encrypt_in_place(path: &Path, key_sql: &str) -> Result<(), StoreError> {
    let tmp = path.with_extension("encrypting");
    let _ = std::fs::remove_file(&tmp);
    {
        let conn = Connection::open(path)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        // The export copies tables, not the schema version the migrations count.
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        conn.execute_batch(&format!(
            "ATTACH DATABASE '{}' AS encrypted KEY {key_sql};
             SELECT sqlcipher_export('encrypted');
             PRAGMA encrypted.user_version = {version};
             DETACH DATABASE encrypted;",
            tmp.display().to_string().replace('\'', "''")
        ))?;
    }
    let io = |e: std::io::Error| {
        StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    };
    // The plain file stays open across the rename, then its bytes are overwritten:
    // the families' data does not linger in the old file's blocks, and a crash at any
    // point leaves either the plain store or the encrypted one in place.
    let mut plain = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    let len = plain.metadata().map_err(io)?.len();
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        std::io::Write::write_all(&mut plain, &zeros[..n]).map_err(io)?;
        left -= n as u64;
    }
    plain.sync_all().map_err(io)?;
    for ext in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    Ok(())
}

/// Runs the append-only `migrations` not yet applied (`PRAGMA user_version` counts
/// them), each in its own transaction; refuses a database newer than this binary.
/// Shared by the device store and the server's storage.
pub fn apply_migrations(conn: &mut Connection, migrations: &[&str]) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = migrations.len() as i64;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Turns what a person typed into an FTS5 query: every word must prefix-match.
fn fts_query(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Document, query columns and search text of one household, inside the caller's
/// transaction; returns the document's bytes as stored. Sync bookkeeping columns are
/// left as they are.
pub fn write_household(
    tx: &Transaction<'_>,
    hh: &mut Household,
    set: &IndicatorSet,
) -> Result<Vec<u8>, StoreError> {
    let id = hh
        .id()
        .ok_or_else(|| crate::household::HouseholdError::Schema("no id".into()))?;
    // Conflicts are computed once per write: the summary and the index share them.
    let conflicts = hh.open_conflicts(set);
    let s: Summary = hh.summary_with(set, !conflicts.is_empty());
    let doc = hh.save();
    tx.prepare_cached(
        "INSERT INTO households (id, doc, kelurahan, rw, rt, head_name, head_nik, kk, address,
             status, last_visit, score, poor, has_conflict, proposal, incomplete)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, kelurahan = excluded.kelurahan,
             rw = excluded.rw, rt = excluded.rt, head_name = excluded.head_name,
             head_nik = excluded.head_nik, kk = excluded.kk, address = excluded.address,
             status = excluded.status, last_visit = excluded.last_visit, score = excluded.score,
             poor = excluded.poor, has_conflict = excluded.has_conflict,
             proposal = excluded.proposal, incomplete = excluded.incomplete",
    )?
    .execute(params![
        id,
        doc,
        s.kelurahan,
        s.rw,
        s.rt,
        s.head_name,
        s.head_nik,
        s.kk,
        s.address,
        s.status,
        s.last_visit,
        s.score,
        s.poor,
        s.has_conflict,
        s.proposal,
        s.incomplete
    ])?;
    let rowid: i64 = tx.query_row("SELECT rowid FROM households WHERE id = ?1", [&id], |r| {
        r.get(0)
    })?;
    tx.prepare_cached("DELETE FROM households_fts WHERE rowid = ?1")?
        .execute([rowid])?;
    tx.prepare_cached("INSERT INTO households_fts (rowid, id, text) VALUES (?1, ?2, ?3)")?
        .execute(params![rowid, id, s.search_text])?;
    write_indexes(tx, &id, hh, set, &conflicts)?;
    Ok(doc)
}

/// Conflicts, members and decisions of one household, for listing conflicts of a whole
/// kelurahan without loading every document.
fn write_indexes(
    tx: &Transaction<'_>,
    id: &str,
    hh: &Household,
    set: &IndicatorSet,
    conflicts: &[ConflictItem],
) -> Result<(), StoreError> {
    for table in [
        "household_conflicts",
        "member_index",
        "resolved",
        "inbox",
        "visits",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE household = ?1"), [id])?;
    }
    for c in conflicts {
        let item = serde_json::to_string(&c).unwrap_or_default();
        tx.execute(
            "INSERT OR REPLACE INTO household_conflicts (id, household, kind, item) VALUES (?1, ?2, ?3, ?4)",
            params![c.id, id, c.kind.code(), item],
        )?;
    }
    for (mid, m) in hh.members_index() {
        tx.execute(
            "INSERT INTO member_index (household, member, nik, name, birth_date, relation)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, mid, m.nik, m.name, m.birth_date, m.relation],
        )?;
    }
    for (vid, v, kader) in hh.visit_facts(set) {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO visits (household, id, date, result, poor, incomplete, kader)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            id,
            vid,
            v.date,
            v.result,
            v.poor,
            v.incomplete,
            kader
        ])?;
    }
    tx.prepare_cached("UPDATE households SET duplicate_of = ?2 WHERE id = ?1")?
        .execute(params![id, hh.duplicate_of().is_some()])?;
    for r in hh.resolved_ids() {
        tx.execute(
            "INSERT OR IGNORE INTO resolved (household, id) VALUES (?1, ?2)",
            params![id, r],
        )?;
    }
    for i in hh.inbox_entries() {
        tx.execute(
            "INSERT OR REPLACE INTO inbox (household, id, kind, by, at, item)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, i.id, i.kind, i.by, i.at, i.item.to_string()],
        )?;
    }
    Ok(())
}

pub fn delete_household(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM households_fts WHERE rowid = (SELECT rowid FROM households WHERE id = ?1)",
        [id],
    )?;
    tx.execute("DELETE FROM households WHERE id = ?1", [id])?;
    for table in [
        "household_conflicts",
        "member_index",
        "resolved",
        "inbox",
        "drafts",
        "visits",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE household = ?1"), [id])?;
    }
    Ok(())
}
