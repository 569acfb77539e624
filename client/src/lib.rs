//! The device side of Jemput outside the UI: a device home (config + local store), the
//! offline operations a kader performs on it, and the sync cycle over HTTP (reqwest).
//! The Tauri app, the headless `jemput` CLI and the tests all go through this crate.

pub mod cases;
pub mod dashboard;
pub mod home;
pub mod http;
pub mod keys;
pub mod muskel;
pub mod pin;
pub mod registry;
pub mod tls;

pub use home::{Config, Device, DeviceError};
pub use http::{SyncClient, SyncProgress, SyncReport};
