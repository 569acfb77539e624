//! Tauri commands: each parses its arguments, calls the device or the worker, and maps
//! errors to `{code, message}` for the UI (which branches on `code` only).

use jemput_client::home::ErrorCode;

use jemput_client::DeviceError;
use jemput_core::conflicts::{ConflictItem, ConflictKind, Decision};
use jemput_core::history::HistoryEntry;
use jemput_core::household::{Proposal, VisitInput};
use jemput_core::rules::{Capabilities, Role};
use jemput_core::store::{InboxItem, ListPage, ListQuery};
use jemput_core::words::Lang;
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::AppState;

#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CommandError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl From<DeviceError> for CommandError {
    fn from(e: DeviceError) -> Self {
        CommandError {
            code: e.error_code(),
            message: e.to_string(),
        }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SessionStatus {
    logged_in: bool,
    user: Option<String>,
    role: Option<Role>,
    /// What the app offers this role (from the one rule book in core).
    can: Option<Capabilities>,
    server: Option<String>,
    /// Set when the office revoked this device and its data was erased.
    revoked: Option<jemput_client::home::Revoked>,
}

#[tauri::command]
pub fn session_status(state: State<'_, AppState>) -> Result<SessionStatus> {
    let cfg = state.device()?.config()?;
    let deployed = state.device()?.deployment()?.server;
    Ok(SessionStatus {
        logged_in: cfg.is_some(),
        user: cfg.as_ref().map(|c| c.user.clone()),
        role: cfg.as_ref().map(|c| c.role),
        can: cfg.as_ref().map(|c| c.role.capabilities()),
        server: cfg.map(|c| c.server).or(deployed),
        revoked: state.device()?.revoked()?,
    })
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct LoginResult {
    user: String,
    role: Role,
    can: Capabilities,
}

#[tauri::command]
pub async fn login(
    state: State<'_, AppState>,
    server: String,
    user: String,
    password: String,
) -> Result<LoginResult> {
    let deployment = state.device()?.deployment()?;
    let pin = deployment.pin_for(&server);
    let ok = state
        .device()?
        .login(&state.client, &server, pin, &user, &password, "jemput-app")
        .await
        .map_err(|e| match e {
            DeviceError::Unauthorized(m) => CommandError {
                code: ErrorCode::InvalidCredentials,
                message: m,
            },
            other => other.into(),
        })?;
    state.worker.wake.notify_one();
    Ok(LoginResult {
        user: ok.user,
        role: ok.role,
        can: ok.role.capabilities(),
    })
}

#[tauri::command]
pub async fn logout(state: State<'_, AppState>) -> Result<()> {
    Ok(state.client.logout(&*state.device()?).await?)
}

/// One page of the household list (the list asks for the rows it shows).
/// Async: runs off the main thread, which also draws the window.
#[tauri::command]
pub async fn list_households(state: State<'_, AppState>, query: ListQuery) -> Result<ListPage> {
    Ok(state.device()?.households_page(&query)?)
}

/// The visit form being typed for a household, if any: `{body, at}`.
#[tauri::command]
pub fn draft_get(state: State<'_, AppState>, id: String) -> Result<Option<serde_json::Value>> {
    Ok(state
        .device()?
        .draft(&id)?
        .map(|(body, at)| serde_json::json!({"body": body, "at": at})))
}

/// Keeps the visit form as typed, in the device store (never the webview's storage).
#[tauri::command]
pub fn draft_put(state: State<'_, AppState>, id: String, body: serde_json::Value) -> Result<()> {
    Ok(state.device()?.put_draft(&id, &body)?)
}

#[tauri::command]
pub fn draft_discard(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.device()?.discard_draft(&id)?)
}

#[tauri::command]
pub fn outbox(state: State<'_, AppState>) -> Result<jemput_client::home::Outbox> {
    Ok(state.device()?.outbox()?)
}

/// Async: runs off the main thread, which also draws the window.
#[tauri::command]
pub async fn inbox(state: State<'_, AppState>) -> Result<Vec<InboxItem>> {
    Ok(state.device()?.inbox(200)?)
}

/// The inbox was looked at: its markers clear.
#[tauri::command]
pub fn inbox_seen(state: State<'_, AppState>) -> Result<()> {
    Ok(state.device()?.mark_inbox_seen()?)
}

/// Async: runs off the main thread, which also draws the window.
#[tauri::command]
pub async fn get_household(state: State<'_, AppState>, id: String) -> Result<serde_json::Value> {
    Ok(state.device()?.show(&id, &state.set)?)
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CriterionView {
    n: u32,
    id: String,
    label_id: String,
    label_en: String,
    answer: jemput_core::indicators::AnswerShape,
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct IndicatorSetView {
    id: String,
    version: String,
    poor_if_met_at_least: u32,
    criteria: Vec<CriterionView>,
}

#[tauri::command]
pub fn indicator_set(state: State<'_, AppState>) -> IndicatorSetView {
    let set = &state.set;
    IndicatorSetView {
        id: set.id.clone(),
        version: set.version.clone(),
        poor_if_met_at_least: set.poor_if_met_at_least,
        criteria: set
            .criteria
            .iter()
            .map(|c| CriterionView {
                n: c.n,
                id: c.id.clone(),
                label_id: c.label_id.clone(),
                label_en: c.label_en.clone(),
                answer: c.shape(),
            })
            .collect(),
    }
}

#[tauri::command]
pub fn record_visit(
    state: State<'_, AppState>,
    id: String,
    visit: VisitInput,
) -> Result<serde_json::Value> {
    state.device()?.record_visit(&id, &visit, &state.set)?;
    state.worker.wake.notify_one();
    Ok(state.device()?.show(&id, &state.set)?)
}

#[derive(Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ProposalInput {
    head_name: String,
    #[serde(default)]
    #[ts(optional = nullable)]
    birth_date: Option<String>,
    #[ts(optional = nullable)]
    nik: Option<String>,
    #[ts(optional = nullable)]
    kk: Option<String>,
    address: String,
    rw: u16,
    rt: u16,
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Proposed {
    id: String,
}

#[tauri::command]
pub fn propose_household(state: State<'_, AppState>, proposal: ProposalInput) -> Result<Proposed> {
    let id = state.device()?.propose(
        &Proposal {
            head_name: proposal.head_name,
            head_birth_date: proposal.birth_date,
            nik: proposal.nik,
            kk: proposal.kk,
            address: proposal.address,
            kelurahan: String::new(),
            rw: proposal.rw,
            rt: proposal.rt,
        },
        &state.set,
    )?;
    state.worker.wake.notify_one();
    Ok(Proposed { id })
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SyncStatus {
    online: bool,
    syncing: bool,
    last_sync: Option<String>,
    last_error: Option<crate::worker::ErrorInfo>,
    #[ts(type = "number")]
    pending: u64,
    #[ts(type = "number")]
    rejected: u64,
    /// Households kept out because a pulled document could not be merged (reported
    /// to the server).
    #[ts(type = "number")]
    quarantined: u64,
    #[ts(type = "number")]
    last_bytes_up: u64,
    #[ts(type = "number")]
    last_bytes_down: u64,
    #[ts(type = "number")]
    month_bytes: u64,
    /// While a sync runs: households received so far, bytes, and whether more follows.
    progress: Option<jemput_client::SyncProgress>,
}

fn status(state: &AppState) -> Result<SyncStatus> {
    let stats = state.open_device()?.sync_stats()?;
    let w = state.worker.snapshot();
    Ok(SyncStatus {
        online: w.online,
        syncing: w.syncing,
        last_sync: stats.last_sync,
        last_error: w.last_error,
        pending: stats.pending,
        rejected: stats.rejected,
        quarantined: stats.quarantined.len() as u64,
        last_bytes_up: stats.last_bytes_up,
        last_bytes_down: stats.last_bytes_down,
        month_bytes: stats.month_bytes,
        progress: w.progress,
    })
}

/// Async: runs off the main thread, which also draws the window.
#[tauri::command]
pub async fn sync_status(state: State<'_, AppState>) -> Result<SyncStatus> {
    status(&state)
}

/// Syncs now (also from the locked screen, before wrong PINs erase unsent work); an
/// unreachable server is reported in the status, not as a failure,
/// because offline is a normal state for a kader.
#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>) -> Result<SyncStatus> {
    let result = state
        .worker
        .sync_once(&*state.open_device()?, &state.client, &state.set)
        .await;
    match result {
        Ok(_) | Err(DeviceError::Offline(_)) => status(&state),
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
pub fn list_conflicts(
    state: State<'_, AppState>,
    rw: Option<u16>,
    kind: Option<String>,
    lang: Option<String>,
) -> Result<Vec<ConflictItem>> {
    let kind = kind.as_deref().and_then(ConflictKind::parse);
    let lang = Lang::parse(lang.as_deref().unwrap_or("id"));
    Ok(state.device()?.conflicts(rw, kind, &state.set, lang)?)
}

/// The round's figures from this device's replica (office and fasilitator; offline
/// too). `period`: `2026-11`, `2026-Q4`, `2026-11-01..2026-11-15`; none: the current one.
#[tauri::command]
pub fn dashboard(
    state: State<'_, AppState>,
    period: Option<String>,
) -> Result<jemput_core::dashboard::Dashboard> {
    Ok(state.device()?.dashboard(period.as_deref())?)
}

#[tauri::command]
pub fn resolve_conflict(
    state: State<'_, AppState>,
    id: String,
    pick: Option<u32>,
    value: Option<String>,
    note: Option<String>,
) -> Result<()> {
    let decision = match (pick, value) {
        (Some(n), None) => Decision::Pick(n),
        (None, Some(v)) => Decision::Value(v),
        _ => {
            return Err(CommandError {
                code: ErrorCode::InvalidInput,
                message: "choose one value or type one".into(),
            })
        }
    };
    state
        .device()?
        .resolve(&id, &decision, note.as_deref(), &state.set)?;
    state.worker.wake.notify_one();
    Ok(())
}

#[tauri::command]
pub fn household_history(
    state: State<'_, AppState>,
    id: String,
    lang: Option<String>,
) -> Result<Vec<HistoryEntry>> {
    let lang = Lang::parse(lang.as_deref().unwrap_or("id"));
    Ok(state.device()?.history(&id, &state.set, lang)?)
}

/// `when` is a date (YYYY-MM-DD): the household at the end of that day in the kelurahan's zone.
#[tauri::command]
pub fn household_as_of(
    state: State<'_, AppState>,
    id: String,
    when: String,
) -> Result<serde_json::Value> {
    Ok(state.device()?.as_of_when(&id, &when, &state.set)?)
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct BundleExported {
    path: String,
    households: usize,
}

/// Writes this device's unsent work to a signed bundle file, in `dir` or the app's
/// `bundles` folder, to share through a messaging app or a USB stick (also from the
/// locked screen, before wrong PINs erase unsent work).
#[tauri::command]
pub fn bundle_export(
    state: State<'_, AppState>,
    dir: Option<String>,
    path: Option<String>,
) -> Result<BundleExported> {
    // Where the person chose in the save dialog; else (the lock screen's quick copy) a
    // new file in the given or the app's own folder.
    let path = match path {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let dir = match dir {
                Some(d) => std::path::PathBuf::from(d),
                None => state.bundle_dir.clone(),
            };
            std::fs::create_dir_all(&dir).map_err(|e| CommandError {
                code: ErrorCode::Storage,
                message: e.to_string(),
            })?;
            let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
            dir.join(format!("jemput-{stamp}.jemput"))
        }
    };
    let households = state.open_device()?.bundle_export(&path)?;
    Ok(BundleExported {
        path: path.display().to_string(),
        households,
    })
}

#[tauri::command]
pub fn bundle_import(
    state: State<'_, AppState>,
    path: String,
) -> Result<jemput_core::bundle::Imported> {
    let r = state
        .device()?
        .bundle_import(std::path::Path::new(&path), &state.set)?;
    state.worker.wake.notify_one();
    Ok(r)
}

/// What importing the registry file would do (operator only): the import is built
/// and rolled back, off the UI thread; nothing is written.
#[tauri::command]
pub async fn registry_preview(
    state: State<'_, AppState>,
    path: String,
    partial: bool,
) -> Result<jemput_client::registry::ImportPreview> {
    let device = state.device()?;
    let set = state.set.clone();
    tauri::async_runtime::spawn_blocking(move || {
        device
            .registry_preview(std::path::Path::new(&path), partial, &set)
            .map_err(CommandError::from)
    })
    .await
    .map_err(|e| CommandError {
        code: ErrorCode::Internal,
        message: e.to_string(),
    })?
}

/// Saves the operator's column mapping: header → field code (or `ignore`).
#[tauri::command]
pub fn registry_save_mapping(
    state: State<'_, AppState>,
    columns: Vec<(String, String)>,
) -> Result<()> {
    let pairs: Vec<String> = columns.iter().map(|(h, f)| format!("{h}={f}")).collect();
    state.device()?.save_registry_mapping(&pairs)?;
    Ok(())
}

#[derive(Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ImportProgress {
    done: u32,
    total: u32,
}

/// Imports the registry file off the UI thread, emitting `registry-progress` events;
/// `registry_cancel` stops it and leaves the store as it was.
#[tauri::command]
pub async fn registry_import(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    path: String,
    partial: bool,
    confirm_missing: Option<u32>,
) -> Result<jemput_client::registry::ImportReport> {
    use std::sync::atomic::Ordering;
    use tauri::Emitter;
    let device = state.device()?;
    let set = state.set.clone();
    let cancel = state.cancel_import.clone();
    cancel.store(false, Ordering::SeqCst);
    let report = tauri::async_runtime::spawn_blocking(move || {
        let mut last = std::time::Instant::now();
        device
            .import_registry(
                std::path::Path::new(&path),
                partial,
                confirm_missing,
                &set,
                &mut |done, total| {
                    if done == total || last.elapsed().as_millis() >= 100 {
                        last = std::time::Instant::now();
                        let _ = app.emit(
                            "registry-progress",
                            ImportProgress {
                                done: done as u32,
                                total: total as u32,
                            },
                        );
                    }
                    !cancel.load(Ordering::SeqCst)
                },
            )
            .map_err(CommandError::from)
    })
    .await
    .map_err(|e| CommandError {
        code: ErrorCode::Internal,
        message: e.to_string(),
    })??;
    state.worker.wake.notify_one();
    Ok(report)
}

#[tauri::command]
pub fn registry_cancel(state: State<'_, AppState>) {
    state
        .cancel_import
        .store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Writes the periodic update at `cutoff` (YYYY-MM-DD or RFC 3339) to `path`
/// (`.xlsx`, or `.csv` plus `.summary.csv`), from the server's rows.
#[tauri::command]
pub async fn registry_export(
    state: State<'_, AppState>,
    cutoff: String,
    since: Option<String>,
    path: String,
) -> Result<jemput_client::registry::ExportDone> {
    Ok(state
        .device()?
        .export_update(
            &state.client,
            &cutoff,
            since.as_deref(),
            std::path::Path::new(&path),
        )
        .await?)
}

/// The kelurahan's Muskel sessions: from the server when it answers (kept for offline
/// reading), else as last kept (`offline` says so).
#[derive(serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct MuskelSessions {
    pub sessions: Vec<jemput_core::muskel::Session>,
    pub offline: bool,
    /// The kelurahan's deadlines, and today in its zone (what is late is counted from it).
    pub deadlines: jemput_core::muskel::Deadlines,
    pub today: String,
}

#[tauri::command]
pub async fn muskel_sessions(state: State<'_, AppState>) -> Result<MuskelSessions> {
    let device = state.device()?;
    let (sessions, offline) = match device.muskel_refresh(&state.client).await {
        Ok(sessions) => (sessions, false),
        Err(jemput_client::DeviceError::Offline(_)) => (device.muskel_known()?, true),
        Err(e) => return Err(e.into()),
    };
    Ok(MuskelSessions {
        sessions,
        offline,
        deadlines: device.deadlines(),
        today: device.today(),
    })
}

/// The cases of the user's areas (from the server, or as kept when offline) and how
/// many received here wait to be sent.
#[derive(serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CasesList {
    pub cases: Vec<jemput_core::cases::Case>,
    pub offline: bool,
    pub unsent: u32,
}

#[tauri::command]
pub async fn cases_list(state: State<'_, AppState>) -> Result<CasesList> {
    let device = state.device()?;
    // What was received offline goes first, when the server answers.
    let _ = device.cases_flush(&state.client).await;
    let (cases, offline) = match device.cases_refresh(&state.client).await {
        Ok(c) => (c, false),
        Err(jemput_client::DeviceError::Offline(_)) => (device.cases_known()?, true),
        Err(e) => return Err(e.into()),
    };
    Ok(CasesList {
        cases,
        offline,
        unsent: device.cases_unsent()?.len() as u32,
    })
}

/// A case as the form sends it.
#[derive(serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CaseInput {
    pub category: jemput_core::cases::Category,
    pub household: Option<String>,
    pub rw: Option<u16>,
    pub complainant: Option<String>,
    pub text: String,
    pub service: Option<String>,
}

#[derive(serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CaseAdded {
    pub id: String,
    /// Kept on this device: no server reachable.
    pub queued: bool,
}

#[tauri::command]
pub async fn case_add(state: State<'_, AppState>, case: CaseInput) -> Result<CaseAdded> {
    let new = jemput_core::cases::NewCase {
        id: String::new(),
        category: case.category,
        household: case.household,
        rw: case.rw,
        complainant: case.complainant,
        text: case.text,
        service: case.service,
        received_ms: 0,
    };
    Ok(match state.device()?.case_add(&state.client, new).await? {
        jemput_client::cases::Received::Sent(c) => CaseAdded {
            id: c.id,
            queued: false,
        },
        jemput_client::cases::Received::Queued(n) => CaseAdded {
            id: n.id,
            queued: true,
        },
    })
}

/// A step of a case: `{action: "assign", kader}`, `{action: "visit", visit}`,
/// `{action: "close", outcome, note}`.
#[tauri::command]
pub async fn case_update(
    state: State<'_, AppState>,
    id: String,
    action: serde_json::Value,
) -> Result<jemput_core::cases::Case> {
    Ok(state
        .device()?
        .case_update(&state.client, &id, action)
        .await?)
}

/// The proposals of this device's households, with their status from the sessions kept.
#[tauri::command]
pub fn proposals(state: State<'_, AppState>) -> Result<Vec<jemput_core::muskel::Proposal>> {
    Ok(state.device()?.proposals()?)
}

#[tauri::command]
pub async fn muskel_new(
    state: State<'_, AppState>,
    session: jemput_core::muskel::NewSession,
) -> Result<jemput_core::muskel::Session> {
    Ok(state.device()?.muskel_new(&state.client, &session).await?)
}

/// Decides a household's proposal (`kind`: add, remove, correct; `outcome`: approved,
/// rejected, deferred) in the session.
#[tauri::command]
pub async fn muskel_decide(
    state: State<'_, AppState>,
    session: String,
    household: String,
    kind: jemput_core::muskel::ProposalKind,
    outcome: jemput_core::muskel::Outcome,
    reason: String,
) -> Result<jemput_core::muskel::Session> {
    Ok(state
        .device()?
        .muskel_decide(&state.client, &session, &household, kind, outcome, &reason)
        .await?)
}

#[tauri::command]
pub async fn muskel_close(
    state: State<'_, AppState>,
    session: String,
) -> Result<jemput_core::muskel::Session> {
    Ok(state
        .device()?
        .muskel_close(&state.client, &session)
        .await?)
}

/// Writes the session's minutes (PDF) to `path`.
#[tauri::command]
pub fn muskel_minutes(state: State<'_, AppState>, session: String, path: String) -> Result<()> {
    state
        .device()?
        .muskel_minutes(&session, std::path::Path::new(&path))?;
    Ok(())
}

/// Writes the session's SIKS-NG list (XLSX) to `path`; how many approved proposals.
#[tauri::command]
pub fn muskel_siks(state: State<'_, AppState>, session: String, path: String) -> Result<usize> {
    Ok(state
        .device()?
        .muskel_siks(&session, std::path::Path::new(&path))?)
}

/// A file chosen in the system's file dialog: `open` one to read (a bundle, a registry
/// file) or `save` where to write (a bundle, an export), starting in the Downloads
/// folder, where a person finds it again. `None` when the person cancels. In debug
/// builds `JEMPUT_TEST_FILE_DIALOG=PATH` answers instead of the dialog (tests drive no
/// native window).
#[tauri::command]
pub async fn choose_file(
    app: tauri::AppHandle,
    mode: String,
    name: Option<String>,
    extensions: Vec<String>,
) -> Result<Option<String>> {
    #[cfg(debug_assertions)]
    {
        // A save dialog answers with the name asked for in JEMPUT_TEST_SAVE_DIR.
        if let (Ok(dir), "save") = (std::env::var("JEMPUT_TEST_SAVE_DIR"), mode.as_str()) {
            let name = name.clone().unwrap_or_else(|| "jemput-file".into());
            return Ok(Some(
                std::path::Path::new(&dir).join(name).display().to_string(),
            ));
        }
        if let Ok(p) = std::env::var("JEMPUT_TEST_FILE_DIALOG") {
            return Ok(Some(p));
        }
    }
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let exts: Vec<&str> = extensions.iter().map(String::as_str).collect();
    let mut dialog = app.dialog().file();
    if !exts.is_empty() {
        dialog = dialog.add_filter(exts.join(", "), &exts);
    }
    if let Ok(dir) = app.path().download_dir() {
        dialog = dialog.set_directory(dir);
    }
    if let Some(n) = name {
        dialog = dialog.set_file_name(n);
    }
    let save = match mode.as_str() {
        "open" => false,
        "save" => true,
        other => {
            return Err(CommandError {
                code: ErrorCode::InvalidInput,
                message: format!("mode `{other}` is neither open nor save"),
            })
        }
    };
    let picked = tauri::async_runtime::spawn_blocking(move || {
        if save {
            dialog.blocking_save_file()
        } else {
            dialog.blocking_pick_file()
        }
    })
    .await
    .map_err(|e| CommandError {
        code: ErrorCode::Internal,
        message: e.to_string(),
    })?;
    Ok(picked
        .and_then(|f| f.into_path().ok())
        .map(|p| p.display().to_string()))
}
