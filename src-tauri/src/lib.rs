//! The Jemput app shell: opens the device home, registers the commands and starts
//! the background sync worker. Everything else lives in jemput-core and jemput-client.

mod commands;
mod worker;

use std::sync::Arc;

use jemput_client::{Device, SyncClient};
use jemput_core::IndicatorSet;
use tauri::Manager;

pub struct AppState {
    pub device: Arc<Device>,
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
        .setup(|app| {
            // JEMPUT_HOME lets tests and demos run isolated devices side by side.
            let dir = match std::env::var_os("JEMPUT_HOME") {
                Some(d) => d.into(),
                None => app.path().app_data_dir()?,
            };
            // The store's key file: in the app's config folder, apart from its data
            // (under JEMPUT_HOME, where the headless client keeps it). Until the PIN
            // screen exists this is the app's only unlock.
            let unlock = match std::env::var_os("JEMPUT_HOME") {
                Some(_) => jemput_client::keys::Unlock::from_env(),
                None => {
                    jemput_client::keys::Unlock::KeyFile(app.path().app_config_dir()?.join("keys"))
                }
            };
            let device = Arc::new(Device::open_with(
                &dir,
                Box::new(jemput_core::SystemClock),
                &unlock,
            )?);
            let bundle_dir = dir.join("bundles");
            let set = Arc::new(IndicatorSet::bps14());
            let client = Arc::new(SyncClient::new());
            let worker = Arc::new(worker::Worker::default());
            tauri::async_runtime::spawn(worker::run(
                worker.clone(),
                device.clone(),
                client.clone(),
                set.clone(),
            ));
            app.manage(AppState {
                device,
                set,
                client,
                worker,
                bundle_dir,
                cancel_import: Arc::default(),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::session_status,
            commands::login,
            commands::logout,
            commands::list_households,
            commands::get_household,
            commands::indicator_set,
            commands::score_answers,
            commands::record_visit,
            commands::propose_household,
            commands::sync_now,
            commands::sync_status,
            commands::list_conflicts,
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
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: Jemput could not start: {e}");
        std::process::exit(1);
    }
}
