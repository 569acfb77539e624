#!/usr/bin/env bash
# Runs every Jemput test: formatting and lints, the Rust unit and cross-process tests
# (real server binary, real clients, real HTTP), the UI tests in headless Chromium,
# and the end-to-end test in the real app window (WebKitWebDriver under Xvfb).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
export CARGO_TERM_COLOR=never
echo "== advisories (Cargo.lock against ../shared/advisory-db, offline)"
python3 scripts/advisories.py
python3 scripts/advisories.py --lock fuzz/Cargo.lock | tail -n 1
# The check must be able to fail: a lock with a known vulnerable package is refused.
if python3 scripts/advisories.py --lock scripts/testdata/vulnerable.lock > /dev/null; then
  echo "the advisory check missed quick-xml 0.38.4"; exit 1
fi
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo build"
# Build first: the cross-process tests run the workspace's binaries.
cargo build --workspace --quiet
# The fuzz binary (AFL++-instrumented, its own target dir, about 5 CPU-minutes cold)
# builds meanwhile on whatever CPU the tests leave idle: the weak-network tests mostly
# wait on shaped links.
fuzz_log=$(mktemp)
nice -n 19 "$root/scripts/fuzz.sh" --build >"$fuzz_log" 2>&1 &
fuzz_build=$!
trap 'kill "$fuzz_build" 2>/dev/null || true; rm -f "$fuzz_log"' EXIT
echo "== cargo test"
cargo test --workspace
echo "== the same storage, service and system tests on PostgreSQL"
# A throwaway cluster of Debian's PostgreSQL (scripts/pg.sh), each test on a database
# of its own. Not the weak-network, UI or end-to-end tests: they do not touch storage.
pg_dir=/tmp/jemput-pg-$$
trap 'kill "$fuzz_build" 2>/dev/null || true; rm -f "$fuzz_log"; "$root/scripts/pg.sh" stop "$pg_dir"' EXIT
pg_url=$("$root/scripts/pg.sh" start "$pg_dir")
JEMPUT_TEST_DATABASE=$pg_url cargo test -p jemput-sync-server
# Tests only PostgreSQL has: TLS to the database (turns the throwaway cluster's TLS on
# with a certificate of its own), keys ready for distribution, a migration on old data.
JEMPUT_TEST_DATABASE=$pg_url cargo test -p jemput-sync-server --test postgres -- --ignored
JEMPUT_TEST_DATABASE=$pg_url cargo test -p jemput-tests --test system -- \
  field_sync moves bundles registry kader_state review concurrent crash_sync busy sessions \
  logins revoke cursors restore month
echo "== load bench: 50 kaders, 2 x 10 s, on SQLite and on PostgreSQL (tables: docs/load-bench.md)"
target/debug/jemput-bench-load --kaders 50 --seconds 10
psql "$pg_url" -qc "CREATE DATABASE jemput_bench_load"
target/debug/jemput-bench-load --kaders 50 --seconds 10 --database "${pg_url%/*}/jemput_bench_load"
echo "== ingest bench, small: 3,000 households, 20 visits per phase, on both stores (tables: docs/ingest-bench.md)"
target/debug/jemput-bench-ingest --households 3000 --visits 20 --rounds 3
psql "$pg_url" -qc "CREATE DATABASE jemput_bench_ingest"
target/debug/jemput-bench-ingest --households 3000 --visits 20 --rounds 3 --database "${pg_url%/*}/jemput_bench_ingest"
"$root/scripts/pg.sh" stop "$pg_dir"
echo "== IPC bindings are current"
# cargo test regenerates ui/src/bindings from the Rust types (ts-rs).
if [ -n "$(git status --porcelain -- ui/src/bindings)" ]; then
  git status --porcelain -- ui/src/bindings
  echo "ui/src/bindings is stale: run cargo test and commit the generated files"; exit 1
fi
echo "== UI tests (headless Chromium)"
(cd ui && npm test --silent)
echo "== end-to-end (real app window)"
"$root/scripts/e2e.sh"
echo "== fuzzing (cargo-afl, every decoder of outside bytes, 60 s)"
if ! wait "$fuzz_build"; then
  cat "$fuzz_log"; echo "the fuzz build failed"; exit 1
fi
"$root/scripts/fuzz.sh" 60
