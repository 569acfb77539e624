//! The server's logic, backend-neutral, over narrow store interfaces: what a request
//! means and decides lives here; the stores (`crate::storage`: SQLite today) hold SQL
//! and nothing else.
//!
//! - [`sync`]: one sync request (quarantine reports, relayed bundles, pushed documents
//!   judged by [`crate::guard`], a page of the log per area) over [`sync::StoreTx`].
//!
//! Moving in step by step: authentication, registry import/export and moves still live
//! in `storage.rs` and `registry.rs`.

pub mod sync;
