//! Generates the Tauri context and the permissions of the app's own commands, so the
//! capability file can list exactly the commands the UI may call.

const COMMANDS: &[&str] = &[
    "lock_status",
    "set_pin",
    "unlock",
    "lock_now",
    "app_hidden",
    "app_shown",
    "session_status",
    "login",
    "logout",
    "list_households",
    "draft_get",
    "draft_put",
    "draft_discard",
    "outbox",
    "inbox",
    "inbox_seen",
    "get_household",
    "indicator_set",
    "record_visit",
    "propose_household",
    "sync_now",
    "sync_status",
    "list_conflicts",
    "dashboard",
    "muskel_sessions",
    "cases_list",
    "case_add",
    "case_update",
    "proposals",
    "muskel_new",
    "muskel_decide",
    "muskel_close",
    "muskel_minutes",
    "muskel_siks",
    "resolve_conflict",
    "household_history",
    "household_as_of",
    "bundle_export",
    "bundle_import",
    "registry_preview",
    "registry_save_mapping",
    "registry_import",
    "registry_cancel",
    "registry_export",
    "choose_file",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri build step failed: {e:#}"));
}
