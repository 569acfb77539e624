//! The Jemput app shell: registers the commands, starts the background sync worker,
//! and opens the device home once the PIN screen has its PIN (`lock`). Everything else lives in jemput-core and jemput-client.

mod commands;
mod lock;
mod worker;

use std::sync::Arc;

use jemput_client::{Device, SyncClient};
use jemput_core::IndicatorSet;
use tauri::Manager;

/// The open device, once the PIN has opened its store (none before, and none after an
/// erase). The sync worker and the commands take it from here.
#[derive(Default)]
pub struct Slot(std::sync::RwLock<Option<Arc<Device>>>);

impl Slot {
    pub fn get(&self) -> Option<Arc<Device>> {
        self.0.read().ok().and_then(|d| d.clone())
    }

    pub fn set(&self, device: Option<Arc<Device>>) {
        if let Ok(mut d) = self.0.write() {
            *d = device;
        }
    }
}

pub struct AppState {
    /// The device home's folder.
    pub home: std::path::PathBuf,
    /// Where the app kept the store's key file before it asked for a PIN.
    pub key_dir: std::path::PathBuf,
    pub slot: Arc<Slot>,
    pub lock: lock::Lock,
    pub set: Arc<IndicatorSet>,
    pub client: Arc<SyncClient>,
    pub worker: Arc<worker::Worker>,
    /// Where bundle files are written by default.
    pub bundle_dir: std::path::PathBuf,
    /// Set to cancel the registry import that is running.
    pub cancel_import: Arc<std::sync::atomic::AtomicBool>,
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            // JEMPUT_HOME lets tests and demos run isolated devices side by side.
            let (home, key_dir) = match std::env::var_os("JEMPUT_HOME") {
                Some(d) => (d.into(), jemput_client::keys::default_key_dir()),
                None => (
                    app.path().app_data_dir()?,
                    app.path().app_config_dir()?.join("keys"),
                ),
            };
            // The store stays closed until the PIN screen opens it (`lock.rs`).
            let slot = Arc::new(Slot::default());
            let set = Arc::new(IndicatorSet::bps14());
            let client = Arc::new(SyncClient::new());
            let worker = Arc::new(worker::Worker::default());
            tauri::async_runtime::spawn(worker::run(
                worker.clone(),
                slot.clone(),
                client.clone(),
                set.clone(),
            ));
            app.manage(AppState {
                bundle_dir: home.join("bundles"),
                home,
                key_dir,
                slot,
                lock: lock::Lock::default(),
                set,
                client,
                worker,
                cancel_import: Arc::default(),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            lock::lock_status,
            lock::set_pin,
            lock::unlock,
            lock::lock_now,
            lock::app_hidden,
            lock::app_shown,
            commands::session_status,
            commands::login,
            commands::logout,
            commands::list_households,
            commands::draft_get,
            commands::draft_put,
            commands::draft_discard,
            commands::outbox,
            commands::inbox,
            commands::inbox_seen,
            commands::get_household,
            commands::indicator_set,
            commands::record_visit,
            commands::propose_household,
            commands::sync_now,
            commands::sync_status,
            commands::list_conflicts,
            commands::dashboard,
            commands::muskel_sessions,
            commands::cases_list,
            commands::case_add,
            commands::case_update,
            commands::proposals,
            commands::muskel_new,
            commands::muskel_decide,
            commands::muskel_close,
            commands::muskel_minutes,
            commands::muskel_siks,
            commands::resolve_conflict,
            commands::household_history,
            commands::household_as_of,
            commands::bundle_export,
            commands::bundle_import,
            commands::registry_preview,
            commands::registry_save_mapping,
            commands::registry_import,
            commands::registry_cancel,
            commands::registry_export,
            commands::choose_file,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: Jemput could not start: {e}");
        std::process::exit(1);
    }
}
