#!/usr/bin/env bash
# Drives the real app window through the real webview: a demo server, tauri-driver
# (WebKitWebDriver) under Xvfb, and ui/e2e/app.e2e.mjs (a kader's visit, then the
# operator's registry import of a generated file, the dashboard, and a Muskel session
# deciding a household proposed in the field). Needs a built workspace
# (`cargo build --workspace`) and ui/node_modules. Cleans up whatever happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  # SIGTERM to each whole process group (xvfb-run, Xvfb, tauri-driver), never SIGKILL:
  # a killed tauri-driver orphans WebKitWebDriver and the next run hangs.
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT

server="$root/target/debug/jemput-sync-server"
"$server" --data "$work/server" demo --seed 5 >/dev/null
# A registry file of 30 households new to the demo, for the operator's import (second e2e part).
"$server" --data "$work/server" demo-registry --out "$work/dtks.csv" --households 30 --seed 9 >/dev/null
# serve DATA NAME: starts the server over TLS on a free port; sets $pin and $url.
serve() {
  pin=$("$server" --data "$1" tls-cert | sed -n 's/^pin //p')
  setsid "$server" --data "$1" serve --listen 127.0.0.1:0 \
    --tls-cert "$1/tls/cert.pem" --tls-key "$1/tls/key.pem" >"$work/$2.out" 2>"$work/$2.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$2.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$work/$2.out")
  [ -n "$url" ] || { echo "e2e: server $2 did not start"; cat "$work/$2.log"; exit 1; }
}
# Over TLS with a certificate the server makes, trusted by the app through the pin in
# its deployment.json, as an office sets up its phones.
serve "$work/server" serve

# A household proposed in the field by RW 2's kader (the headless client, with a key
# file of its own), for the operator's Muskel in the app (third e2e part).
jemput="$root/target/debug/jemput"
XDG_CONFIG_HOME="$work/cli-config" "$jemput" --home "$work/kader2" login --server "$url" --pin "$pin" \
  --user demo-kader-rw02 --password jemput-demo >/dev/null
XDG_CONFIG_HOME="$work/cli-config" "$jemput" --home "$work/kader2" sync >/dev/null
XDG_CONFIG_HOME="$work/cli-config" "$jemput" --home "$work/kader2" propose --head-name "Keluarga Usulan Muskel" \
  --address "Jl. Musyawarah 1" --rw 2 --rt 1 >/dev/null
XDG_CONFIG_HOME="$work/cli-config" "$jemput" --home "$work/kader2" sync >/dev/null

# The drivers use fixed ports; a leftover driver would answer in our place.
if (exec 3<>/dev/tcp/127.0.0.1/4444) 2>/dev/null; then
  echo "e2e: port 4444 is taken (a leftover tauri-driver?): stop it first"; exit 1
fi
tauri_driver=${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}
export JEMPUT_HOME="$work/app-home"
# Where the app would keep a key file: it must stay empty, the PIN wraps the store key.
export XDG_CONFIG_HOME="$work/config"
mkdir -p "$JEMPUT_HOME"
printf '{"server": "%s", "pin": "%s"}\n' "$url" "$pin" > "$JEMPUT_HOME/deployment.json"
export JEMPUT_APP="$root/target/debug/jemput-app"
export JEMPUT_SERVER="$url" JEMPUT_USER=demo-kader-rw01 JEMPUT_PASSWORD=jemput-demo
export JEMPUT_OPERATOR=demo-operator JEMPUT_REGISTRY_FILE="$work/dtks.csv" JEMPUT_REGISTRY_HOUSEHOLDS=30
# The app's file dialog answers with the registry file (debug builds only): the
# operator chooses it with "Pilih berkas…" instead of typing a path.
export JEMPUT_TEST_FILE_DIALOG="$work/dtks.csv"
# A save dialog (the Muskel's minutes) answers with the file name asked for, here.
export JEMPUT_TEST_SAVE_DIR="$work/saved"
mkdir -p "$JEMPUT_TEST_SAVE_DIR"
setsid xvfb-run -a -s "-screen 0 1280x800x24" "$tauri_driver" >"$work/driver.log" 2>&1 &
pids+=($!)
cd "$root/ui"
if ! timeout 300 npm run --silent test:e2e; then
  echo "--- tauri-driver log"; tail -n 40 "$work/driver.log"
  echo "--- server log"; tail -n 20 "$work/serve.log"
  exit 1
fi
# The store the app made is wrapped by the PIN alone: no key file anywhere.
python3 - "$JEMPUT_HOME/keys.json" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1]))
assert keys.get("pin") and not keys.get("file"), "the app's store key is not wrapped by the PIN alone"
PY
if [ -d "$XDG_CONFIG_HOME/jemput/keys" ] && [ -n "$(ls -A "$XDG_CONFIG_HOME/jemput/keys")" ]; then
  echo "e2e: the app left a key file beside its PIN-wrapped store"; exit 1
fi
echo "e2e: the app's store is wrapped by the PIN alone"

# The big list: 10,000 households of one RW, synced into a second app home by the
# headless client (not through the UI), then opened, searched, filtered and scrolled in
# the real webview; ui/e2e/big-list.e2e.mjs prints the figures (docs/big-list.md).
kill -TERM -- "-${pids[-1]}" 2>/dev/null || true
sleep 1
big="$work/big-server"
"$server" --data "$big" demo --seed 7 --households 10000 --rws 1 >/dev/null
serve "$big" big
bigpin=$pin bigurl=$url
export JEMPUT_HOME="$work/big-home"
mkdir -p "$JEMPUT_HOME"
printf '{"server": "%s", "pin": "%s"}\n' "$bigurl" "$bigpin" > "$JEMPUT_HOME/deployment.json"
export JEMPUT_PIN=482913
cli() { local home=$1; shift; "$root/target/debug/jemput" --home "$home" "$@"; }
login() { cli "$1" login --server "$bigurl" --pin "$bigpin" --user "$2" --password jemput-demo >/dev/null; }
# A decision for the kader's inbox: two devices of the kader record different results
# for one household, the fasilitator decides with a note.
login "$work/kader-a" demo-kader-rw01
cli "$work/kader-a" sync >/dev/null
hh=$(cli "$work/kader-a" households --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
login "$work/kader-b" demo-kader-rw01
cli "$work/kader-b" sync >/dev/null
echo '{"result": "moved", "answers": {}}' > "$work/moved.json"
echo '{"result": "died", "answers": {}}' > "$work/died.json"
cli "$work/kader-a" visit "$hh" --answers "$work/moved.json" >/dev/null
cli "$work/kader-b" visit "$hh" --answers "$work/died.json" >/dev/null
cli "$work/kader-a" sync >/dev/null
cli "$work/kader-b" sync >/dev/null
login "$work/fasil" demo-fasilitator
cli "$work/fasil" sync >/dev/null
conflict=$(cli "$work/fasil" conflicts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
cli "$work/fasil" resolve "$conflict" --pick 1 --note "Tolong cek lagi ke RT" >/dev/null
cli "$work/fasil" sync >/dev/null
# The app's home: synced by the headless client, not through the UI.
login "$JEMPUT_HOME" demo-kader-rw01
cli "$JEMPUT_HOME" sync >/dev/null
unset JEMPUT_PIN
# Then the server goes away: the app starts offline (the outbox part of the test).
kill -TERM -- "-${pids[-1]}" 2>/dev/null || true
while (exec 3<>/dev/tcp/127.0.0.1/4444) 2>/dev/null; do sleep 0.2; done
setsid xvfb-run -a -s "-screen 0 1280x800x24" "$tauri_driver" >"$work/driver-big.log" 2>&1 &
pids+=($!)
if ! BIG_HOUSEHOLDS=10000 BIG_NOTE="Tolong cek lagi ke RT" timeout 300 npm run --silent test:e2e-big; then
  echo "--- tauri-driver log"; tail -n 40 "$work/driver-big.log"
  exit 1
fi
