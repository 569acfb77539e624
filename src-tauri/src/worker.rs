//! The background sync worker: syncs when logged in, every few minutes when all is
//! well, and backs off exponentially (with jitter) while the server is unreachable.
//! `sync_now` wakes it; the UI reads its state through `sync_status`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jemput_client::home::ErrorCode;
use jemput_client::{Device, DeviceError, SyncClient, SyncReport};
use jemput_core::IndicatorSet;
use rand::Rng;
use serde::Serialize;
use tokio::sync::Notify;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct WorkerState {
    pub online: bool,
    pub syncing: bool,
    pub last_error: Option<ErrorInfo>,
    /// How far the running sync has come (None when none runs).
    pub progress: Option<jemput_client::SyncProgress>,
}

#[derive(Default)]
pub struct Worker {
    pub state: Mutex<WorkerState>,
    pub wake: Notify,
    /// One sync at a time, whether the worker or the button started it.
    pub running: tokio::sync::Mutex<()>,
}

const HEALTHY_INTERVAL: Duration = Duration::from_secs(120);
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

impl Worker {
    pub fn snapshot(&self) -> WorkerState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut WorkerState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    /// Runs one sync and records the outcome for the UI.
    pub async fn sync_once(
        &self,
        device: &Device,
        client: &SyncClient,
        set: &IndicatorSet,
    ) -> Result<SyncReport, DeviceError> {
        let _guard = self.running.lock().await;
        self.update(|s| {
            s.syncing = true;
            s.progress = None;
        });
        let result = client
            .sync_with_progress(device, set, &|p| {
                self.update(|s| s.progress = Some(p.clone()));
            })
            .await;
        self.update(|s| {
            s.syncing = false;
            s.progress = None;
            match &result {
                Ok(_) => {
                    s.online = true;
                    s.last_error = None;
                }
                Err(e) => {
                    s.online = !matches!(e, DeviceError::Offline(_));
                    s.last_error = Some(ErrorInfo {
                        code: e.error_code(),
                        message: e.to_string(),
                    });
                }
            }
        });
        result
    }
}

pub async fn run(
    worker: Arc<Worker>,
    slot: Arc<crate::Slot>,
    client: Arc<SyncClient>,
    set: Arc<IndicatorSet>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        // Nothing to sync until the PIN has opened the store (the unlock wakes us).
        let Some(device) = slot.get() else {
            worker.wake.notified().await;
            continue;
        };
        let wait = match device.config() {
            Ok(Some(_)) => match worker.sync_once(&device, &client, &set).await {
                Ok(_) => {
                    backoff = FIRST_BACKOFF;
                    HEALTHY_INTERVAL
                }
                Err(_) => {
                    let jitter = rand::thread_rng().gen_range(0.5..1.5);
                    let wait = backoff.mul_f64(jitter);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            },
            _ => HEALTHY_INTERVAL,
        };
        drop(device);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = worker.wake.notified() => {}
        }
    }
}
