//! The store's identity. A store restored from a backup has forgotten changes it once
//! acknowledged, so to devices it is another store: its id changes (`restore`,
//! `restored`), and a device that meets an id other than the one it last synced with
//! is answered nothing until it starts again — every cursor at zero, and what it holds
//! compared by heads with what the store sends, so it sends again whatever the store
//! no longer holds (ARCHITECTURE.md, "A restore loses nothing").
//!
//! While a device does that it names the id it knew (`restored_from`); for a while
//! after the restore the store then accepts changes the device relays under another
//! device's actor, when that device is known, not revoked and its user holds the
//! household's area (`crate::guard`). Anything else stays on the device, unconfirmed.

use serde::{Deserialize, Serialize};

use super::store::AccountTx;
use crate::error::StorageError;

/// Where the identity is kept (`server_values`).
const KEY: &str = "identity";
/// How long after a restore devices may relay other devices' changes: a kader who is
/// in the field for weeks still brings back what another device sent before it.
pub const RELAY_WINDOW_MS: i64 = 30 * jemput_core::rules::DAY_MS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// 64 random bits (a device sends it with every sync: 9 bytes).
    pub id: u64,
    /// Ids this store had before restores, and until when devices may still name them.
    #[serde(default)]
    pub former: Vec<Former>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Former {
    pub id: u64,
    pub until_ms: i64,
}

impl Identity {
    /// The store's identity, made on first use.
    pub fn get(tx: &dyn AccountTx) -> Result<Identity, StorageError> {
        if let Some(found) = Self::read(tx)? {
            return Ok(found);
        }
        let made = Identity {
            id: new_id(),
            former: Vec::new(),
        };
        made.put(tx)?;
        Ok(made)
    }

    /// The identity as stored; `None` before the first use (a read-only transaction
    /// cannot make it).
    pub fn read(tx: &dyn AccountTx) -> Result<Option<Identity>, StorageError> {
        tx.server_value(KEY)?
            .map(|v| {
                serde_json::from_str(&v)
                    .map_err(|e| StorageError::Internal(format!("server identity: {e}")))
            })
            .transpose()
    }

    /// A new id after a restore: the store's id (the backup's) and `also` (the id
    /// of the store the backup replaced, if another) become former ids.
    pub fn renew(
        tx: &dyn AccountTx,
        also: Option<u64>,
        now_ms: i64,
    ) -> Result<Identity, StorageError> {
        let mut ident = Self::read(tx)?.unwrap_or_default();
        let until_ms = now_ms + RELAY_WINDOW_MS;
        let old = std::mem::replace(&mut ident.id, new_id());
        for id in [Some(old), also].into_iter().flatten() {
            if id != 0 && id != ident.id && ident.former.iter().all(|f| f.id != id) {
                ident.former.push(Former { id, until_ms });
            }
        }
        ident.put(tx)?;
        Ok(ident)
    }

    /// Whether a device that last synced with `id` is starting again after a restore
    /// recently enough to relay other devices' changes.
    pub fn relays_from(&self, id: u64, now_ms: i64) -> bool {
        self.former
            .iter()
            .any(|f| f.id == id && now_ms <= f.until_ms)
    }

    fn put(&self, tx: &dyn AccountTx) -> Result<(), StorageError> {
        let json =
            serde_json::to_string(self).map_err(|e| StorageError::Internal(e.to_string()))?;
        tx.put_server_value(KEY, &json)
    }
}

fn new_id() -> u64 {
    rand::random::<u64>().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_former_id_relays_only_within_its_window() {
        let ident = Identity {
            id: 2,
            former: vec![Former {
                id: 1,
                until_ms: 1_000,
            }],
        };
        assert!(ident.relays_from(1, 1_000));
        assert!(!ident.relays_from(1, 1_001));
        assert!(!ident.relays_from(2, 0));
        assert!(!ident.relays_from(3, 0));
    }
}
