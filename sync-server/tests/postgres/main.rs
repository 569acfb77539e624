//! Tests that only PostgreSQL has (the conformance suite runs every other storage test
//! on both stores). Each needs `JEMPUT_TEST_DATABASE`, so each is ignored unless the
//! PostgreSQL pass of `scripts/test-all.sh` runs them with `--ignored`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod schema;
mod tls;
