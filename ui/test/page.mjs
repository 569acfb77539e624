// Owns: what the screen test files share — one browser and static server per file, and
// a fresh page (fresh fake backend) on a viewport, logged in, collecting page errors.
import { after, before } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { startBrowser } from './browser.mjs';
import { installFakeTauri } from './fake-tauri.mjs';
import { LOGIN } from './screens.mjs';

export const SHOTS = '/tmp/ui-shots';
export const PHONE = { width: 360, height: 740 };

/** Starts the browser and server before the file's tests and stops them after; the
 *  returned object holds `browser` and `server` once started. */
export function useBrowser() {
  const shared = {};
  before(async () => {
    Object.assign(shared, await startBrowser());
    await mkdir(SHOTS, { recursive: true });
  });
  after(async () => {
    await shared.browser?.close();
    await shared.server?.close();
  });
  return shared;
}

/** A fresh page on `viewport`, logged in as `user` (none: the login screen). */
export async function openPage(shared, { user = 'operator_uji', viewport = PHONE } = {}) {
  const context = await shared.browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.addInitScript(installFakeTauri, {});
  await page.goto(shared.server.url);
  if (user) await LOGIN(page, user);
  return { page, context, errors };
}
