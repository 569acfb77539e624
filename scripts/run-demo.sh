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
"$server" --data "$data/server" serve --listen "$listen" 2>"$data/server.log" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
sleep 1
echo "server: http://$listen (log: $data/server.log); in the app, log in with one of the users above"
export JEMPUT_HOME="$data/app"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  "$root/target/debug/jemput-app"
else
  echo "no display: running the app under Xvfb (headless); drive it with scripts/e2e.sh or a VNC viewer"
  xvfb-run -a -s "-screen 0 420x820x24" "$root/target/debug/jemput-app"
fi
