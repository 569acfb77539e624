#!/usr/bin/env bash
# Runs Jemput: a sync server with a synthetic Kelurahan Purwantoro, and the app (under
# Xvfb when there is no display). Prints the demo logins. Ctrl-C stops everything.
# Data lives in ./.demo (delete it for a fresh start).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
cargo build --workspace --quiet
data="$root/.demo"
listen=${JEMPUT_LISTEN:-127.0.0.1:8080}
server="$root/target/debug/jemput-sync-server"
"$server" --data "$data/server" demo --seed 1
# A registry file to try the operator's import with (log in as demo-operator, Registri).
"$server" --data "$data/server" demo-registry --out "$data/dtks-demo.csv" --households 40 --seed 11
# TLS with a certificate the server makes; the app trusts it by its pin, which the
# deployment file hands it (as an office would configure its kaders' phones).
pin=$("$server" --data "$data/server" tls-cert | sed -n 's/^pin //p')
"$server" --data "$data/server" serve --listen "$listen" \
  --tls-cert "$data/server/tls/cert.pem" --tls-key "$data/server/tls/key.pem" 2>"$data/server.log" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
sleep 1
export JEMPUT_HOME="$data/app"
mkdir -p "$JEMPUT_HOME"
printf '{"server": "https://%s", "pin": "%s"}\n' "$listen" "$pin" > "$JEMPUT_HOME/deployment.json"
echo "server: https://$listen, certificate pin $pin (log: $data/server.log)"
echo "in the app, log in with one of the users above; the headless client: jemput login --server https://$listen --pin $pin …"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  "$root/target/debug/jemput-app"
else
  echo "no display: running the app under Xvfb (headless); drive it with scripts/e2e.sh or a VNC viewer"
  xvfb-run -a -s "-screen 0 420x820x24" "$root/target/debug/jemput-app"
fi
