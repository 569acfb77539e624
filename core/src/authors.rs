//! Who wrote a change: the user whose device holds the change's Automerge actor, as
//! the server bound it (at login or first push) and named it to devices in sync
//! responses. Never read from a change's message, which a device writes as it likes.

use std::collections::HashMap;

use crate::conflicts::ConflictItem;
use crate::history::HistoryEntry;

/// Actor (hex) → user name.
#[derive(Debug, Clone, Default)]
pub struct Authors(HashMap<String, String>);

impl Authors {
    pub fn new(map: HashMap<String, String>) -> Authors {
        Authors(map)
    }

    pub fn insert(&mut self, actor_hex: &str, user: &str) {
        self.0.insert(actor_hex.to_string(), user.to_string());
    }

    pub fn of(&self, actor_hex: &str) -> Option<String> {
        self.0.get(actor_hex).cloned()
    }

    pub fn name_history(&self, entries: &mut [HistoryEntry]) {
        for e in entries {
            e.by = self.of(&e.device);
        }
    }

    pub fn name_conflicts(&self, items: &mut [ConflictItem]) {
        for c in items.iter_mut().flat_map(|i| i.choices.iter_mut()) {
            if let Some(device) = &c.device {
                c.by = self.of(device);
            }
        }
    }

    /// The `conflicts` of a household's view (`Household::view`).
    pub fn name_view(&self, view: &mut serde_json::Value) {
        let Some(conflicts) = view.get_mut("conflicts").and_then(|c| c.as_array_mut()) else {
            return;
        };
        for v in conflicts
            .iter_mut()
            .filter_map(|c| c.get_mut("values").and_then(|v| v.as_array_mut()))
            .flatten()
        {
            let by = v["device"].as_str().and_then(|d| self.of(d));
            v["by"] = by.map_or(serde_json::Value::Null, serde_json::Value::String);
        }
    }
}
