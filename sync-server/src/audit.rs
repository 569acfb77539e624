//! The audit log: an append-only, hash-chained record of security events — logins,
//! failures, lockouts, device registrations and revocations, user changes, imports and
//! exports — one chain per kelurahan and one for server-wide events. Each entry's hash
//! covers the previous entry's hash and the entry itself, so an altered or removed
//! entry breaks the chain; the heads are also written to a file outside the store
//! (`audit-heads.json` in the data folder) and to a daily log line, so cutting the last
//! entries off (with the heads in the store) is detected too. Entries carry user names,
//! device ids and counts, never a NIK or a household member's name.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The chain of events that concern no one kelurahan.
pub const SERVER_CHAIN: &str = "server";

/// One event as it is recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub chain: String,
    pub seq: i64,
    pub at_ms: i64,
    /// `login`, `login_failed`, `lockout`, `logout`, `device_revoked`, `user_changed`,
    /// `import`, `export`, …
    pub kind: String,
    /// Who did it (a user name, or `admin-cli`).
    pub by: String,
    /// What, in a few fields (ids and counts only).
    pub detail: serde_json::Value,
    /// Hex of the previous entry's hash (empty for the first).
    pub prev: String,
    /// Hex of this entry's hash.
    pub hash: String,
}

/// An event before it joins its chain.
pub struct Event<'a> {
    pub chain: &'a str,
    pub kind: &'a str,
    pub by: &'a str,
    pub detail: serde_json::Value,
}

/// The hash of an entry: over the previous hash and every field but its own hash.
pub fn hash_of(e: &Entry) -> String {
    let mut h = Sha256::new();
    for part in [
        e.prev.as_bytes(),
        e.chain.as_bytes(),
        e.seq.to_string().as_bytes(),
        e.at_ms.to_string().as_bytes(),
        e.kind.as_bytes(),
        e.by.as_bytes(),
        e.detail.to_string().as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The entry that follows `head` (`(seq, hash)` of the chain's last entry, if any).
pub fn next(event: Event<'_>, head: Option<(i64, String)>, at_ms: i64) -> Entry {
    let (seq, prev) = head.map_or((1, String::new()), |(s, h)| (s + 1, h));
    let mut e = Entry {
        chain: event.chain.to_string(),
        seq,
        at_ms,
        kind: event.kind.to_string(),
        by: event.by.to_string(),
        detail: event.detail,
        prev,
        hash: String::new(),
    };
    e.hash = hash_of(&e);
    e
}

/// What `verify` found wrong, one line each.
pub fn verify(
    entries: &[Entry],
    heads: &std::collections::BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut last: std::collections::BTreeMap<&str, (i64, &str)> = Default::default();
    for e in entries {
        let (seq, prev) = last.get(e.chain.as_str()).copied().unwrap_or((0, ""));
        if e.seq != seq + 1 {
            problems.push(format!(
                "chain {}: entry {} follows entry {seq} (entries removed)",
                e.chain, e.seq
            ));
        }
        if e.prev != prev {
            problems.push(format!(
                "chain {}: entry {} does not follow the previous entry's hash",
                e.chain, e.seq
            ));
        }
        if hash_of(e) != e.hash {
            problems.push(format!("chain {}: entry {} was altered", e.chain, e.seq));
        }
        last.insert(&e.chain, (e.seq, &e.hash));
    }
    for (chain, (seq, hash)) in heads {
        match last.get(chain.as_str()) {
            Some((s, h)) if s == seq && h == hash => {}
            Some((s, _)) => problems.push(format!(
                "chain {chain}: ends at entry {s}, its head says {seq} (the last entries were removed or altered)"
            )),
            None => problems.push(format!("chain {chain}: all its entries are gone")),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|e| (e.seq, e.hash.clone()));
            out.push(next(
                Event {
                    chain: "35.73.01.1007",
                    kind: "login",
                    by: "kader",
                    detail: serde_json::json!({ "i": i }),
                },
                head,
                1_800_000_000_000 + i as i64,
            ));
        }
        out
    }

    fn heads(e: &[Entry]) -> std::collections::BTreeMap<String, (i64, String)> {
        let last = e.last().expect("entries");
        [(last.chain.clone(), (last.seq, last.hash.clone()))].into()
    }

    #[test]
    fn any_altered_or_removed_entry_is_found() {
        let good = chain(5);
        let h = heads(&good);
        assert!(verify(&good, &h).is_empty());
        let mut altered = good.clone();
        altered[2].by = "someone-else".into();
        assert!(!verify(&altered, &h).is_empty());
        let mut removed = good.clone();
        removed.remove(1);
        assert!(!verify(&removed, &h).is_empty());
        let cut = good[..4].to_vec();
        assert!(!verify(&cut, &h).is_empty(), "the last entry removed");
    }
}
