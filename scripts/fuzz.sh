#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder of outside bytes (jemput_core::untrusted)
# with cargo-afl (AFL++): builds fuzz/ instrumented, runs every target at once for
# SECS seconds (default 60) from the committed seed corpus, and fails on any crash or
# hang, copying its input to fuzz/crashes/TARGET/ where `cargo test` replays it.
# A longer campaign: scripts/fuzz.sh 3600 (see fuzz/Cargo.toml for one target by hand).
# `scripts/fuzz.sh --build` only installs cargo-afl and builds (test-all.sh runs that in
# the background, at the lowest priority, while the other tests run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo afl --version >/dev/null 2>&1; then
  cargo install cargo-afl --locked --quiet
fi
cd "$root/fuzz"
cargo afl build --release --quiet
[ "$secs" = "--build" ] && exit 0
targets=(sync_request sync_response bundle registry_csv registry_workbook)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
# -t 1000: a run over 1 s is a hang. AFL++'s own bound (a few times the calibrated
# run) flagged a 10 ms workbook as a hang with five fuzzers sharing 2 cores.
for t in "${targets[@]}"; do
  AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    cargo afl fuzz -V "$secs" -t 1000 -i "corpus/$t" -o "$out/$t" -- target/release/jemput-fuzz "$t" \
    >"$out/$t.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for t in "${targets[@]}"; do
  stats="$out/$t/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "fuzz $t: did not run"; tail -n 20 "$out/$t.log"; exit 1
  fi
  execs=$(sed -n 's/^execs_done *: //p' "$stats")
  crashes=$(sed -n 's/^saved_crashes *: //p' "$stats")
  hangs=$(sed -n 's/^saved_hangs *: //p' "$stats")
  echo "fuzz $t: $execs runs in ${secs} s, $crashes crashes, $hangs hangs"
  # A hang is confirmed by replaying its input alone: with five fuzzers on 2 cores a
  # descheduled run can pass the 1 s bound (a workbook that replays in 0.00 s was
  # flagged so once). An input over 1 s alone in any of three replays is a hang.
  confirmed=0
  for h in "$out/$t/default/hangs/"id*; do
    [ -f "$h" ] || continue
    slow=0
    for _ in 1 2 3; do
      if ! timeout 1 target/release/jemput-fuzz "$t" <"$h" >/dev/null 2>&1; then slow=1; fi
    done
    if [ "$slow" = 1 ]; then
      confirmed=$((confirmed + 1))
    else
      echo "  a hang flagged under load replays under 1 s alone: not counted"
      rm -f "$h"
    fi
  done
  if [ "$crashes" != 0 ] || [ "$confirmed" != 0 ]; then
    mkdir -p "crashes/$t"
    cp "$out/$t/default/crashes/"id* "$out/$t/default/hangs/"id* "crashes/$t/" 2>/dev/null || true
    echo "  inputs copied to fuzz/crashes/$t/: commit them with the fix"
    status=1
  fi
done
exit $status
