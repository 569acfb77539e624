//! Integration tests of jemput-core: household documents, merge, store, sync logic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod fuzz_corpus;
mod household;
mod merge;
mod registry;
mod store;
