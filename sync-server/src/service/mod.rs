//! The server's logic, backend-neutral, over narrow store interfaces: what a request
//! means and decides lives here; the stores (`crate::storage`: SQLite today) hold SQL
//! and nothing else.
//!
//! - [`sync`]: one sync request (quarantine reports, relayed bundles, pushed documents
//!   judged by [`crate::guard`], a page of the log per area) over [`sync::StoreTx`].
//! - [`moves`]: a household moved to another RW/RT by the office.
//! - [`store`]: the transactional operations the service runs over ([`store::StoreTx`]).
//! - [`now_ms`], [`indicator_set`]: the server's clock and the criteria it judges by.
//!
//! Moving in step by step: authentication and the registry import still live in
//! `storage.rs` and `registry.rs`.

pub mod moves;
pub mod store;
pub mod sync;

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
