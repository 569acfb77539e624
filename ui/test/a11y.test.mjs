// Owns: the accessibility check — axe-core (every rule, nothing excluded) on every
// screen of test/screens.mjs, in Indonesian and in English, at 360 px; no critical or
// serious violation is allowed, nor any landmark one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startBrowser } from './browser.mjs';
import { installFakeTauri } from './fake-tauri.mjs';
import { LOGIN, SCREENS } from './screens.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let server;
let browser;

before(async () => {
  ({ server, browser } = await startBrowser());
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Landmark rules, held at any impact: every screen's content sits in one `<main>`. */
const LANDMARKS = new Set(['region', 'landmark-one-main', 'landmark-no-duplicate-main', 'landmark-main-is-top-level']);

/** axe's serious and critical violations, and any landmark one, on the page as it
 *  stands: "rule: target …". */
async function violations(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical' || LANDMARKS.has(v.id))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(' | ')}`);
}

describe('accessibility (axe-core, every rule)', () => {
  for (const lang of ['id', 'en']) {
    for (const s of SCREENS) {
      test(`${s.name} [${lang}]`, async () => {
        const context = await browser.newContext({ viewport: { width: 360, height: 800 } });
        const page = await context.newPage();
        await page.addInitScript(installFakeTauri, { lock: s.lock ?? 'open' });
        await page.addInitScript((l) => localStorage.setItem('jemput.lang', l), lang);
        await page.goto(server.url);
        if (s.loggedIn !== false) await LOGIN(page, s.user ?? 'kader_uji');
        await s.reach(page);
        assert.deepEqual(await violations(page), [], `${s.name}: no serious or critical violation`);
        await context.close();
      });
    }
  }
});
