//! The PIN gate in front of a device's store: how many wrong PINs in a row, the wait
//! after the fifth, the erase at the tenth, and when the app locks itself again after
//! time in the background. The same rule for the app and for `JEMPUT_PIN`.
//!
//! Its state is `lock.json` in the home (0600, no personal data, written durably): the
//! count of wrong PINs, the end of the current wait and the last erase. Beside it,
//! `unsent` holds the number of unsent visits (so the warning can say what an erase
//! would lose while the store is still locked): a hint, rewritten at each visit
//! without fsync, never mixed with the count.
//! A try is counted *before* the PIN is checked, so killing the app during the check
//! does not take a try back. Someone who copies the files can still try PINs offline
//! against `keys.json` at Argon2id's cost (64 MiB, about 1 s on a phone per try); only a
//! hardware keystore (Android Keystore, designed in `docs/` but not built) stops that.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::home::DeviceError;

/// From this many wrong PINs in a row, each further try waits [`WAIT_MS`].
pub const WAIT_AFTER: u32 = 5;
/// From this many wrong PINs the screen warns that the data will be erased.
pub const WARN_FROM: u32 = 8;
/// At this many wrong PINs the store is erased.
pub const ERASE_AT: u32 = 10;
pub const WAIT_MS: i64 = 30_000;
pub use jemput_core::rules::DEFAULT_LOCK_MINUTES;

const LOCK: &str = "lock.json";
const UNSENT: &str = "unsent";

#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Erased {
    #[ts(type = "number")]
    pub at_ms: i64,
    /// Visits recorded on this device and never sent, lost with the store.
    #[ts(type = "number")]
    pub discarded_visits: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LockFile {
    failures: u32,
    wait_until_ms: i64,
    erased: Option<Erased>,
    /// An erase began and may not have finished.
    #[serde(default)]
    erasing: bool,
}

/// What the PIN screen shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Gate {
    /// Wrong PINs in a row.
    pub failures: u32,
    /// Seconds before the next try is taken (0: now).
    pub wait_s: u32,
    /// Tries left before the erase.
    pub tries_left: u32,
    /// Whether to warn that the data will be erased.
    pub warn: bool,
    /// Unsent visits the erase would lose (as of the last write or sync).
    #[ts(type = "number")]
    pub unsent: u64,
    /// Set after an erase, until a new PIN is chosen.
    pub erased: Option<Erased>,
}

/// Why a PIN did not open the store.
#[derive(Debug, Clone)]
pub enum Refused {
    Wrong { failures: u32 },
    Wait { secs: u32 },
    Erased { discarded_visits: u64 },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Wrong { failures } => write!(
                f,
                "wrong PIN ({failures} of {ERASE_AT} tries; at {ERASE_AT} the data on this device is erased)"
            ),
            Refused::Wait { secs } => write!(f, "too many wrong PINs: try again in {secs} s"),
            Refused::Erased { discarded_visits } => write!(
                f,
                "{ERASE_AT} wrong PINs: the data on this device was erased ({discarded_visits} unsent visits lost)"
            ),
        }
    }
}

fn read(dir: &Path) -> LockFile {
    std::fs::read(dir.join(LOCK))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write(dir: &Path, lock: &LockFile) -> Result<(), DeviceError> {
    let body = serde_json::to_vec(lock).map_err(|e| DeviceError::Invalid(e.to_string()))?;
    crate::keys::write_private(&dir.join(LOCK), &body)
}

/// One read-modify-write of `lock.json` at a time in this process (a sync noting its
/// unsent count must not undo a wrong PIN counted meanwhile).
fn guard() -> std::sync::MutexGuard<'static, ()> {
    static GUARD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GUARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The gate's state for the screen, at `now_ms`.
pub fn gate(dir: &Path, now_ms: i64) -> Gate {
    let _ = finish_erase(dir);
    let lock = read(dir);
    Gate {
        failures: lock.failures,
        wait_s: wait_secs(&lock, now_ms),
        tries_left: ERASE_AT.saturating_sub(lock.failures),
        warn: lock.failures >= WARN_FROM,
        unsent: unsent(dir),
        erased: lock.erased,
    }
}

fn wait_secs(lock: &LockFile, now_ms: i64) -> u32 {
    // Never more than one wait, however far the clock was set back.
    let ms = (lock.wait_until_ms - now_ms).clamp(0, WAIT_MS);
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

/// Checks a PIN with `check` (which unwraps the store key): refused while a wait runs,
/// counted before it runs, reset when it opens, and at the tenth wrong PIN in a row
/// the store is erased.
pub fn attempt<T>(
    dir: &Path,
    now_ms: i64,
    check: impl FnOnce() -> Option<T>,
) -> Result<T, DeviceError> {
    let _guard = guard();
    let mut lock = read(dir);
    let wait = wait_secs(&lock, now_ms);
    if wait > 0 {
        return Err(DeviceError::Pin(Refused::Wait { secs: wait }));
    }
    lock.failures += 1;
    write(dir, &lock)?;
    if let Some(opened) = check() {
        lock.failures = 0;
        lock.wait_until_ms = 0;
        write(dir, &lock)?;
        return Ok(opened);
    }
    if lock.failures >= ERASE_AT {
        let discarded_visits = unsent(dir);
        erase(dir, now_ms, discarded_visits)?;
        return Err(DeviceError::Pin(Refused::Erased { discarded_visits }));
    }
    if lock.failures >= WAIT_AFTER {
        lock.wait_until_ms = now_ms + WAIT_MS;
        write(dir, &lock)?;
    }
    Err(DeviceError::Pin(Refused::Wrong {
        failures: lock.failures,
    }))
}

/// Erases the store: first a durable mark (so an erase cut short by a kill or a full
/// disk is finished at the next open, see [`finish_erase`]), then the wrapped key
/// (without it the encrypted database is noise), the database, the login and the
/// bundle files. Keeps only `lock.json`, which says when and how many unsent visits
/// were lost.
pub fn erase(dir: &Path, now_ms: i64, discarded_visits: u64) -> Result<(), DeviceError> {
    let mut lock = LockFile {
        erased: Some(Erased {
            at_ms: now_ms,
            discarded_visits,
        }),
        erasing: true,
        ..LockFile::default()
    };
    write(dir, &lock)?;
    erase_files(dir)?;
    lock.erasing = false;
    write(dir, &lock)
}

/// Completes an erase that was cut short (its mark is still in `lock.json`).
pub fn finish_erase(dir: &Path) -> Result<(), DeviceError> {
    let _guard = guard();
    let mut lock = read(dir);
    if !lock.erasing {
        return Ok(());
    }
    erase_files(dir)?;
    lock.erasing = false;
    write(dir, &lock)
}

fn erase_files(dir: &Path) -> Result<(), DeviceError> {
    let gone = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DeviceError::from(e)),
        _ => Ok(()),
    };
    overwrite(&dir.join("keys.json"))?;
    for name in [
        "keys.json",
        "jemput.db",
        "jemput.db-wal",
        "jemput.db-shm",
        "config.json",
        "revoked.json",
        UNSENT,
    ] {
        gone(std::fs::remove_file(dir.join(name)))?;
    }
    // Bundle files the app wrote (older ones were not encrypted).
    gone(std::fs::remove_dir_all(dir.join("bundles")))
}

/// Zero-fills a file in place (the wrapped key), so its bytes do not linger in free
/// blocks where the file system writes in place.
pub(crate) fn overwrite(path: &Path) -> Result<(), DeviceError> {
    use std::io::Write;
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])?;
    f.sync_all()?;
    Ok(())
}

/// The number of unsent visits, as last noted.
fn unsent(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(UNSENT))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Rewrites the hint whole (a temporary file renamed over it), without fsync: a visit
/// save stays one fsync; a crash at worst leaves the previous number.
fn write_unsent(dir: &Path, n: u64) -> Result<(), DeviceError> {
    let path = dir.join(UNSENT);
    let tmp = dir.join(format!("{UNSENT}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&tmp)?, n.to_string().as_bytes())?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// Remembers how many visits are unsent (written only when the number changes).
pub fn note_unsent(dir: &Path, n: u64) -> Result<(), DeviceError> {
    let _guard = guard();
    if unsent(dir) == n {
        return Ok(());
    }
    write_unsent(dir, n)
}

/// Counts `n` more unsent visits.
pub fn add_unsent(dir: &Path, n: u64) -> Result<(), DeviceError> {
    let _guard = guard();
    write_unsent(dir, unsent(dir).saturating_add(n))
}

/// A new PIN was chosen: the last erase notice is no longer news.
pub fn forget_erase(dir: &Path) -> Result<(), DeviceError> {
    let _guard = guard();
    let mut lock = read(dir);
    if lock.erased.take().is_some() {
        write(dir, &lock)?;
    }
    Ok(())
}

/// Whether the app, back in front after `hidden_ms` in the background, asks for the PIN.
pub fn locks_after(hidden_ms: i64, lock_minutes: u8) -> bool {
    hidden_ms >= i64::from(lock_minutes.clamp(1, 30)) * 60_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_pins_wait_ten_erase_and_a_right_one_resets() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        std::fs::write(d.join("keys.json"), b"{\"wrapped\":1}").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("jemput.db"), b"noise").unwrap_or_else(|e| panic!("{e}"));
        note_unsent(d, 3).unwrap_or_else(|e| panic!("{e}"));
        let mut now = 1_000_000;
        for n in 1..WAIT_AFTER {
            let r = attempt(d, now, || None::<()>);
            assert!(
                matches!(r, Err(DeviceError::Pin(Refused::Wrong { failures })) if failures == n)
            );
        }
        // A right PIN resets the count.
        assert!(attempt(d, now, || Some(())).is_ok());
        assert_eq!(gate(d, now).failures, 0);
        for _ in 0..WAIT_AFTER {
            let _ = attempt(d, now, || None::<()>);
        }
        let g = gate(d, now);
        assert_eq!((g.failures, g.wait_s, g.warn), (5, 30, false));
        // During the wait even the right PIN is not taken, and no try is counted.
        assert!(matches!(
            attempt(d, now + 10_000, || Some(())),
            Err(DeviceError::Pin(Refused::Wait { secs: 20 }))
        ));
        assert_eq!(gate(d, now).failures, 5);
        // A clock set back an hour does not make the wait an hour.
        assert_eq!(gate(d, now - 3_600_000).wait_s, 30);
        for n in 6..ERASE_AT {
            now += WAIT_MS;
            let _ = attempt(d, now, || None::<()>);
            assert_eq!(gate(d, now).warn, n >= WARN_FROM);
        }
        assert_eq!(gate(d, now).tries_left, 1);
        now += WAIT_MS;
        let r = attempt(d, now, || None::<()>);
        assert!(matches!(
            r,
            Err(DeviceError::Pin(Refused::Erased {
                discarded_visits: 3
            }))
        ));
        assert!(!d.join("keys.json").exists() && !d.join("jemput.db").exists());
        let g = gate(d, now);
        assert_eq!((g.failures, g.wait_s), (0, 0));
        assert_eq!(g.erased.map(|e| e.discarded_visits), Some(3));
    }

    #[test]
    fn an_erase_cut_short_is_finished_at_the_next_look() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        for f in ["keys.json", "jemput.db", "config.json"] {
            std::fs::write(d.join(f), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::create_dir_all(d.join("bundles")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("bundles/old.jemput"), b"JEMPUTB1 plain")
            .unwrap_or_else(|e| panic!("{e}"));
        // Killed right after the mark: every file is still there.
        write(
            d,
            &LockFile {
                erasing: true,
                erased: Some(Erased {
                    at_ms: 1,
                    discarded_visits: 4,
                }),
                ..LockFile::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let g = gate(d, 2);
        for f in ["keys.json", "jemput.db", "config.json", "bundles"] {
            assert!(!d.join(f).exists(), "{f} survived");
        }
        assert_eq!(
            (g.failures, g.erased.map(|e| e.discarded_visits)),
            (0, Some(4))
        );
        assert!(!read(d).erasing);
    }

    #[test]
    fn the_app_locks_after_the_kelurahan_minutes_in_the_background() {
        assert!(!locks_after(4 * 60_000 + 59_999, 5));
        assert!(locks_after(5 * 60_000, 5));
        assert!(locks_after(60_000, 0), "at least one minute");
        assert!(!locks_after(29 * 60_000, 99), "at most thirty minutes");
    }
}
