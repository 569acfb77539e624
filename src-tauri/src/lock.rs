//! The PIN screen's commands. The store opens only with the kader's PIN: at start, and
//! again after the kelurahan's minutes in the background. A relocked app keeps its
//! store open so the sync worker goes on and the locked screen can still send unsent
//! work (sync or bundle) before wrong PINs erase it; every other command answers
//! `locked`. Counting, waiting and erasing are `jemput_client::pin`'s, shared with the
//! headless client.

use jemput_client::home::ErrorCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jemput_client::pin::{self, Gate};
use jemput_client::{keys, Device, DeviceError};
use jemput_core::Clock;
use serde::Serialize;
use tauri::State;

use crate::commands::CommandError;
use crate::AppState;

type Result<T> = std::result::Result<T, CommandError>;

/// The app's lock: whether the screen is locked, and since when it is in the background.
#[derive(Default)]
pub struct Lock {
    locked: AtomicBool,
    /// When the app went to the background (a monotonic clock: setting the phone's
    /// clock back does not keep it open), and the minutes it may stay there.
    hidden: Mutex<Option<(std::time::Instant, u8)>>,
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum LockState {
    /// No PIN yet: choose one (a new phone, an erased one, or one set up before PINs).
    NewPin,
    /// Enter the PIN.
    Locked,
    Open,
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct LockStatus {
    state: LockState,
    gate: Gate,
    /// The shortest PIN.
    min_digits: u32,
    /// Whether the store is open behind the locked screen (so it can still sync or
    /// write a bundle before an erase).
    can_send: bool,
}

impl AppState {
    /// The open device, unless the screen is locked: `locked`.
    pub fn device(&self) -> Result<Arc<Device>> {
        if self.lock.locked.load(Ordering::SeqCst) {
            return Err(locked());
        }
        self.open_device()
    }

    /// The open device, locked screen or not (syncing, a bundle before an erase).
    pub fn open_device(&self) -> Result<Arc<Device>> {
        self.slot.get().ok_or_else(locked)
    }
}

fn locked() -> CommandError {
    CommandError {
        code: ErrorCode::Locked,
        message: "enter the PIN first".into(),
    }
}

fn now_ms() -> i64 {
    jemput_core::SystemClock.now_ms()
}

fn status(state: &AppState) -> LockStatus {
    let open = state.slot.get().is_some();
    let lock_state = if open && !state.lock.locked.load(Ordering::SeqCst) {
        LockState::Open
    } else if open || keys::has_pin(&state.home) {
        LockState::Locked
    } else {
        LockState::NewPin
    };
    LockStatus {
        state: lock_state,
        gate: pin::gate(&state.home, now_ms()),
        min_digits: keys::PIN_MIN_DIGITS as u32,
        can_send: open,
    }
}

#[tauri::command]
pub fn lock_status(state: State<'_, AppState>) -> LockStatus {
    status(&state)
}

/// Chooses the PIN of a phone that has none: a new store is made and wrapped by it, or a
/// store opened by the app's old key file moves to it (the key file is erased).
#[tauri::command]
pub async fn set_pin(state: State<'_, AppState>, pin: String) -> Result<LockStatus> {
    if keys::has_pin(&state.home) {
        return Err(CommandError {
            code: ErrorCode::InvalidInput,
            message: "this phone already has a PIN".into(),
        });
    }
    let (home, key_dir) = (state.home.clone(), state.key_dir.clone());
    let device = blocking(move || {
        // Checked before anything is made or moved: a short PIN leaves nothing behind.
        keys::check_new_pin(&pin)?;
        if keys::key_file_of(&home, &key_dir).is_some() {
            keys::move_to_pin(&home, &key_dir, &pin)?;
        } else if home.join("keys.json").exists() {
            // A store wrapped by neither a PIN nor this app's key file: nothing opens it.
            return Err(DeviceError::Invalid(
                "this phone's store cannot be opened: its key is missing".into(),
            )
            .into());
        }
        let device = Device::open_with(
            &home,
            Box::new(jemput_core::SystemClock),
            &keys::Unlock::Pin(pin),
        )?;
        pin::forget_erase(&home)?;
        Ok(device)
    })
    .await?;
    opened(&state, device);
    Ok(status(&state))
}

/// Opens the store (at start) or the locked screen (after the background) with the PIN.
/// A wrong PIN is `wrong_pin`, a PIN during the wait `pin_wait`, the tenth wrong PIN
/// `erased`; `lock_status` then has the numbers.
#[tauri::command]
pub async fn unlock(state: State<'_, AppState>, pin: String) -> Result<LockStatus> {
    let home = state.home.clone();
    match state.slot.get() {
        // Relocked: the store is open, only the PIN is checked (and counted); never a
        // new key, whatever happened to keys.json.
        Some(_) => {
            // A try that may erase waits for a running sync and keeps the next one
            // from starting, so nothing writes into the home after the erase.
            let last_try = pin::gate(&state.home, now_ms()).tries_left <= 1;
            let _no_sync = if last_try {
                Some(state.worker.running.lock().await)
            } else {
                None
            };
            let checked = blocking(move || Ok(keys::check_pin(&home, &pin)?)).await;
            if let Err(e) = checked {
                if e.code == ErrorCode::Erased || !keys::has_pin(&state.home) {
                    state.slot.set(None);
                }
                return Err(e);
            }
            state.lock.locked.store(false, Ordering::SeqCst);
        }
        None => {
            let device = blocking(move || {
                Ok(Device::open_with(
                    &home,
                    Box::new(jemput_core::SystemClock),
                    &keys::Unlock::Pin(pin),
                )?)
            })
            .await?;
            opened(&state, device);
        }
    }
    Ok(status(&state))
}

/// Locks the screen now (the lock button).
#[tauri::command]
pub fn lock_now(state: State<'_, AppState>) -> LockStatus {
    if state.slot.get().is_some() {
        state.lock.locked.store(true, Ordering::SeqCst);
    }
    status(&state)
}

/// The app went to the background.
#[tauri::command]
pub fn app_hidden(state: State<'_, AppState>) {
    let minutes = state
        .slot
        .get()
        .and_then(|d| d.config().ok().flatten())
        .and_then(|c| c.lock_minutes)
        .unwrap_or(pin::DEFAULT_LOCK_MINUTES);
    if let Ok(mut h) = state.lock.hidden.lock() {
        h.get_or_insert((std::time::Instant::now(), minutes));
    }
}

/// The app is in front again: locked if it stayed away the kelurahan's minutes.
#[tauri::command]
pub fn app_shown(state: State<'_, AppState>) -> LockStatus {
    let hidden = state.lock.hidden.lock().ok().and_then(|mut h| h.take());
    if let Some((since, minutes)) = hidden {
        let away_ms = i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX);
        if state.slot.get().is_some() && pin::locks_after(away_ms, minutes) {
            state.lock.locked.store(true, Ordering::SeqCst);
        }
    }
    status(&state)
}

fn opened(state: &AppState, device: Device) {
    state.slot.set(Some(Arc::new(device)));
    state.lock.locked.store(false, Ordering::SeqCst);
    state.worker.wake.notify_one();
}

/// Runs PIN work (Argon2id, about 0.1–1 s) off the UI thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError {
            code: ErrorCode::Internal,
            message: e.to_string(),
        })?
}
