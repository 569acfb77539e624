#!/usr/bin/env bash
# Drives the real app window through the real webview: a demo server, tauri-driver
# (WebKitWebDriver) under Xvfb, and ui/e2e/app.e2e.mjs (a kader's visit, then the
# operator's registry import of a generated file). Needs a built workspace
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
# Over TLS with a certificate the server makes, trusted by the app through the pin in
# its deployment.json, as an office sets up its phones.
pin=$("$server" --data "$work/server" tls-cert | sed -n 's/^pin //p')
setsid "$server" --data "$work/server" serve --listen 127.0.0.1:0 \
  --tls-cert "$work/server/tls/cert.pem" --tls-key "$work/server/tls/key.pem" >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
[ -n "$url" ] || { echo "e2e: server did not start"; cat "$work/serve.log"; exit 1; }

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
