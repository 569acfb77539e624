// Owns: the headless Debian Chromium and the static server of the built UI (dist) that
// the UI test files share.
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveDir } from './static-server.mjs';

const DIST = fileURLToPath(new URL('../dist', import.meta.url));

/** Serves dist and launches Chromium: `{ server, browser }`. */
export async function startBrowser() {
  const server = await serveDir(DIST);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { server, browser };
}
