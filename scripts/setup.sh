#!/usr/bin/env bash
# Installs what Jemput needs on a fresh Debian 12 machine: the Tauri/WebKitGTK build
# packages, Xvfb, WebKitWebDriver, Chromium (UI tests), the weak-network test's tools
# (iproute2, nftables, ethtool), pdftotext (poppler-utils: the Muskel minutes are read
# back), PostgreSQL's server (the tests start their own cluster
# with scripts/pg.sh, never the system's), tauri-driver, and the UI's npm packages. Safe to run
# again: it skips what is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev
  librsvg2-dev webkit2gtk-driver xvfb xauth chromium nftables ethtool iproute2 python3
  postgresql poppler-utils)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver"
  cargo install tauri-driver --version '^2' --locked --quiet
fi
cd "$root/ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The JavaScript client that proves docs/protocol.md is enough (a system test runs it).
cd "$root/tests/js-client"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (tests/js-client)"
  npm ci --no-audit --no-fund --loglevel=error
fi
cd "$root/ui"
# The app embeds ui/dist at compile time, so the UI is built before any cargo build.
npm run --silent build >/dev/null
echo "setup: done"
