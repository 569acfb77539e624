// Owns: the UI tests of the complaints screen — the built UI in headless Chromium with
// the fake backend: a kader receives one offline from a household's page (kept, sent
// later), the overdue filter and the countdown, the office assigns and closes (asked
// first), 360 px.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, SHOTS, useBrowser } from './page.mjs';

const shared = useBrowser();
const open = (user) => openPage(shared, { user });

const ids = (page) => page.$$eval('.case-item', (els) => els.map((e) => e.dataset.id));

describe('complaints', () => {
  test('a kader receives one offline from the household page; it is sent when the server answers', async () => {
    const { page, context, errors } = await open('kader_uji');
    await page.evaluate(() => { window.__fake.casesOffline = true; });
    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#household-complaint');
    await page.waitForSelector('#case-form');
    assert.match(await page.textContent('#case-about'), /Keluarga Uji Dua/);
    // Nothing typed: a clear error, nothing sent.
    await page.click('#case-save');
    assert.match(await page.textContent('#case-form-error'), /isi pengaduan/i);
    await page.selectOption('#case-category', 'usul');
    await page.fill('#case-text', 'Minta didaftarkan: suami meninggal, tiga anak');
    await page.click('#case-save');
    await page.waitForSelector('#cases-note');
    assert.match(await page.textContent('#cases-note'), /Tersimpan di HP ini/);
    assert.match(await page.textContent('#cases-unsent'), /1 pengaduan tersimpan/);
    const sent = (await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === 'case_add'))).at(-1).args.case;
    assert.deepEqual(sent, { category: 'usul', household: 'hh-0002', rw: null, complainant: null,
      text: 'Minta didaftarkan: suami meninggal, tiga anak', service: null });
    assert.equal(await page.$('#case-assign-cs-old'), null, 'a kader assigns nothing');
    // Back online: the next look sends it.
    await page.evaluate(() => { window.__fake.casesOffline = false; });
    await page.click('#back');
    await page.click('#open-complaints');
    await page.waitForFunction(() => document.querySelectorAll('.case-item').length === 2);
    assert.equal(await page.$('#cases-unsent'), null);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'no sideways scroll');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the office sees what is overdue, assigns a kader and closes after asking', async () => {
    const { page, context, errors } = await open('operator_uji');
    await page.click('#open-complaints');
    await page.waitForSelector('.case-item');
    assert.match(await page.textContent('.case-item[data-id="cs-old"] .badge.late'), /terlambat 10 hari/);
    await page.click('#cases-overdue');
    assert.deepEqual(await ids(page), ['cs-old']);
    await page.screenshot({ path: `${SHOTS}/complaints-360.png`, fullPage: true });
    // A user who is no kader is refused with the backend's reason.
    await page.click('#case-assign-cs-old');
    await page.fill('#case-kader', 'operator_uji');
    await page.click('#case-assign-save');
    await page.waitForSelector('#case-error-cs-old');
    assert.match(await page.textContent('#case-error-cs-old'), /no kader/);
    await page.fill('#case-kader', 'kader_uji');
    await page.click('#case-assign-save');
    await page.waitForFunction(() => /ditugaskan ke kader_uji/.test(document.querySelector('.case-item[data-id="cs-old"]')?.textContent ?? ''));
    // Closing asks first; cancelling keeps it open.
    await page.click('#case-close-cs-old');
    await page.fill('#case-outcome', 'Tidak layak');
    await page.fill('#case-note', 'Kunjungan: keluarga punya mobil dan toko');
    const updates = () => page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === 'case_update').length);
    const before = await updates();
    await page.click('#case-close-save');
    await page.click('#case-close-cancel');
    assert.equal(await updates(), before, 'cancel sends nothing');
    await page.click('#case-close-save');
    await page.click('#case-close-confirm');
    await page.waitForFunction(() => !document.querySelector('.case-item[data-id="cs-old"]'));
    await page.click('#cases-closed');
    assert.match(await page.textContent('.case-item[data-id="cs-old"]'), /Tidak layak: Kunjungan/);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
