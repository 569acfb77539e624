//! Jemput's core: the household domain, its Automerge documents, indicator sets, the
//! device's local store and the sync protocol logic. No network I/O lives here.

pub mod authors;
pub mod bundle;
pub mod cases;
pub mod conflicts;
pub mod dashboard;
pub mod files;
pub mod history;
pub mod household;
pub mod indicators;
pub mod muskel;
pub mod nik;
pub mod pin;
pub mod registry;
pub mod rules;
pub mod store;
pub mod sync;
pub mod untrusted;
pub mod words;
pub mod zone;

pub use household::{Author, Clock, Household, HouseholdError, SystemClock};
pub use indicators::IndicatorSet;
pub use store::Store;
