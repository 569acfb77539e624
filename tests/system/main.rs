//! Cross-process tests: the real server binary, real headless clients, real HTTP.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod at_rest;
mod audit;
mod bad_input;
mod bundles;
mod busy;
mod clock;
mod concurrent;
mod crash;
mod crash_sync;
mod cursors;
mod field_sync;
mod js_client;
mod kader_state;
mod logins;
mod month;
mod moves;
mod registry;
mod registry_guard;
mod restore;
mod review;
mod revoke;
mod sessions;
mod tls;
mod weak_network;
