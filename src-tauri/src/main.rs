//! Desktop entry point; mobile builds enter through `jemput_app_lib::run`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    jemput_app_lib::run()
}
