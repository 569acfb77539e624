//! The store interface the service works over: the transactional operations of one
//! request. A store (SQLite today, `crate::storage::SqliteTx`) implements them with its
//! query language and nothing else; every call runs inside the transaction the store
//! opened for the request and sees the writes of the calls before it. The store
//! commits when the service returns `Ok` and rolls back otherwise.

use std::collections::BTreeMap;

use automerge::{ActorId, Change, ChangeHash};
use jemput_core::registry::export::ExportRow;
use jemput_core::sync::Area;

use crate::error::StorageError;
use crate::guard::Origin;

/// A stored household as the sync reads it.
pub struct Stored {
    pub kelurahan: String,
    pub rw: u16,
    /// The whole document as stored.
    pub doc: Vec<u8>,
}

/// One row of an area's log: a placement (the household's whole document goes out)
/// or a change (its bytes go out).
pub struct PageRow {
    pub seq: i64,
    pub household: String,
    pub placement: bool,
    pub bytes: Option<Vec<u8>>,
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
    fn household(&self, id: &str) -> Result<Option<Stored>, StorageError>;
    /// The device an Automerge actor is bound to.
    fn actor_owner(&self, actor: &ActorId) -> Result<Option<String>, StorageError>;
    /// Binds a new actor to the device and records the user as its author.
    fn bind_actor(&self, actor: &ActorId, device: &str, user: &str) -> Result<(), StorageError>;
    /// Records that these actors wrote into the household.
    fn note_actors(&self, household: &str, actors: &[&ActorId]) -> Result<(), StorageError>;
    fn update_doc(&self, id: &str, doc: &[u8], heads: &[ChangeHash]) -> Result<(), StorageError>;
    /// A household new to the server: its row and its placement in its area (the log
    /// row that sends it whole to the area's devices, except `device`, which has it).
    fn place_new(
        &self,
        id: &str,
        area: (&str, u16, u16),
        doc: &[u8],
        heads: &[ChangeHash],
        device: &str,
    ) -> Result<(), StorageError>;
    /// Appends changes to the log (a change already there is kept once); `device`: the
    /// device that pushed them (its own sync skips them), `None` for the server's own.
    fn append_changes(
        &self,
        id: &str,
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
    fn audit(&self, event: crate::audit::Event<'_>) -> Result<(), StorageError>;
    /// Stores the household's export row as it stands now.
    fn export_row(
        &self,
        row: &ExportRow,
        kelurahan: &str,
        arrived_ms: i64,
    ) -> Result<(), StorageError>;
    /// The log's largest sequence number.
    fn max_seq(&self) -> Result<i64, StorageError>;
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
    fn heads(&self, id: &str) -> Result<Vec<ChangeHash>, StorageError>;
    /// The users of the actors that wrote into these households (actor hex → user).
    fn authors_of(&self, households: &[&String]) -> Result<BTreeMap<String, String>, StorageError>;
}
