//! The server's logic, backend-neutral, over narrow store interfaces: what a request
//! means and decides lives here; the stores (`crate::storage`: SQLite today) hold SQL
//! and nothing else.
//!
//! - [`api`]: [`Storage`], the one trait the HTTP handlers and the admin CLI call, and
//!   the types it answers with; [`Server`] ([`server`]) implements it over any store.
//! - [`store`]: the transactional operations the service runs over ([`store::StoreTx`]
//!   for household data, [`store::AccountTx`] for users, devices and the server's own
//!   records) and the [`store::Store`] that runs them in transactions.
//! - [`sync`]: one sync request (quarantine reports, relayed bundles, pushed documents
//!   judged by [`crate::guard`], a page of the log per area).
//! - [`accounts`]: who may log in, what a token is, how a device registers.
//! - [`registry`]: the registry import, the demo's households, export rows.
//! - [`moves`]: a household moved to another RW/RT by the office.
//! - [`muskel`]: the village meeting's sessions and decisions on proposals.
//! - [`cases`]: complaints and referrals, received, assigned, visited and closed.
//! - [`identity`]: the store's id, new after a restore, which devices sync against.
//! - [`now_ms`], [`indicator_set`]: the server's clock and the criteria it judges by.
//!
//! Logins' throttling and password checks (`crate::login`) and token renewal
//! (`crate::session`) call [`Storage`] and so work on any store too.

pub mod accounts;
pub mod api;
pub mod cases;
pub mod identity;
pub mod moves;
pub mod muskel;
pub mod registry;
pub mod server;
pub mod store;
pub mod sync;

pub use api::*;
pub use server::Server;

use std::sync::OnceLock;

use jemput_core::IndicatorSet;

/// The indicator set the server judges and projects with.
pub(crate) fn indicator_set() -> &'static IndicatorSet {
    static SET: OnceLock<IndicatorSet> = OnceLock::new();
    SET.get_or_init(IndicatorSet::bps14)
}

/// The server's clock. Debug builds take `JEMPUT_TEST_NOW_MS` instead, so a test can
/// make changes arrive at chosen instants (a cut-off at midnight in the kelurahan's zone).
pub fn now_ms() -> i64 {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("JEMPUT_TEST_NOW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return ms;
    }
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
