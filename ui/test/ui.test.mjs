// Owns: the fast UI tests — the built UI (dist) in headless Debian Chromium via
// playwright-core, with Tauri IPC replaced by the in-memory fake in fake-tauri.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveDir } from './static-server.mjs';
import { installFakeTauri } from './fake-tauri.mjs';

const DIST = fileURLToPath(new URL('../dist', import.meta.url));
const SHOTS = '/tmp/ui-shots';
const PHONE = { width: 360, height: 640 };

let server;
let browser;

before(async () => {
  server = await serveDir(DIST);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page (fresh fake backend, empty localStorage) on a phone-sized viewport. */
async function openApp({ loggedIn = true, viewport = PHONE } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.addInitScript(installFakeTauri);
  await page.goto(server.url);
  if (loggedIn) {
    await page.fill('#login-user', 'kader_uji');
    await page.fill('#login-password', 'rahasia');
    await page.click('#login-submit');
    await page.waitForSelector('.household-row');
  }
  return { page, context, errors };
}

const rowIds = (page) => page.$$eval('.household-row', (els) => els.map((e) => e.dataset.id));
const noHorizontalOverflow = (page) =>
  page.evaluate(() => document.documentElement.scrollWidth);

describe('login', () => {
  test('a failed login shows the error, a good login shows the household list', async () => {
    const { page, context, errors } = await openApp({ loggedIn: false });
    assert.equal(await page.inputValue('#login-server'), 'http://127.0.0.1:8080', 'default server URL');
    await page.fill('#login-user', 'kader_uji');
    await page.fill('#login-password', 'salah');
    await page.click('#login-submit');
    const error = await page.waitForSelector('#login-error');
    assert.match(await error.textContent(), /salah/i, 'localized wrong-password message (Indonesian default)');
    assert.equal(await page.$('.household-row'), null, 'no list after a failed login');

    await page.fill('#login-password', 'rahasia');
    await page.click('#login-submit');
    await page.waitForSelector('.household-row');
    assert.deepEqual(await rowIds(page), ['hh-0001', 'hh-0002', 'hh-0003', 'hh-0004']);
    const login = (await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'login').at(-1);
    assert.deepEqual(login.args, { server: 'http://127.0.0.1:8080', user: 'kader_uji', password: 'rahasia' });
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('household list', () => {
  test('rows show name, RW/RT, status, last visit, score and markers', async () => {
    const { page, context } = await openApp();
    const first = await page.textContent('.household-row[data-id="hh-0001"]');
    assert.match(first, /Keluarga Uji Satu/);
    assert.match(first, /RW 003\/RT 001/);
    assert.match(first, /Ditemukan/, 'status badge in Indonesian');
    assert.match(first, /2025-01-15/, 'last visit date');
    assert.match(first, /13\/14/, 'score');
    assert.ok(await page.$('.household-row[data-id="hh-0001"] .score.poor'), 'poor score highlighted');
    assert.equal(await page.$('.household-row[data-id="hh-0003"] .score.poor'), null, 'non-poor score not highlighted');
    assert.match(await page.textContent('.household-row[data-id="hh-0002"]'), /Belum dikunjungi/);
    assert.match(await page.textContent('.household-row[data-id="hh-0003"]'), /Konflik/);
    const proposal = await page.textContent('.household-row[data-id="hh-0004"]');
    assert.match(proposal, /Usulan/);
    assert.match(proposal, /Ditolak: NIK sudah terdaftar/, 'rejection reason shown');
    const bar = await page.textContent('#sync-status');
    assert.match(bar, /Daring/);
    assert.match(bar, /perubahan ditolak/);
    assert.match(bar, /4\.5 KB/, 'bytes of the last sync (up + down)');
    await context.close();
  });

  test('search asks the backend and narrows the list', async () => {
    const { page, context } = await openApp();
    await page.fill('#search', 'Dua');
    await page.waitForFunction(() => document.querySelectorAll('.household-row').length === 1);
    assert.deepEqual(await rowIds(page), ['hh-0002']);
    // By NIK of a member
    await page.fill('#search', '3573010707700001');
    await page.waitForFunction(() => document.querySelector('.household-row')?.dataset.id === 'hh-0003');
    assert.deepEqual(await rowIds(page), ['hh-0003']);
    const calls = await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === 'list_households'));
    assert.equal(calls.at(-1).args.search, '3573010707700001');
    await page.fill('#search', '');
    await page.waitForFunction(() => document.querySelectorAll('.household-row').length === 4);
    await context.close();
  });

  test('filter chips: poor shows only poor rows, conflict only conflicts', async () => {
    const { page, context } = await openApp();
    await page.click('#filter-poor');
    await page.waitForFunction(() => document.querySelectorAll('.household-row').length === 1);
    assert.deepEqual(await rowIds(page), ['hh-0001']);
    assert.equal(await page.getAttribute('#filter-poor', 'aria-pressed'), 'true');
    await page.click('#filter-conflict');
    await page.waitForFunction(() => document.querySelector('.household-row')?.dataset.id === 'hh-0003');
    assert.deepEqual(await rowIds(page), ['hh-0003']);
    await page.click('#filter-all');
    await page.waitForFunction(() => document.querySelectorAll('.household-row').length === 4);
    await context.close();
  });

  test('at 360x640 the list does not overflow horizontally (screenshot)', async () => {
    const { page, context } = await openApp();
    assert.ok(await noHorizontalOverflow(page) <= 360, 'list fits a 360 px phone');
    await page.screenshot({ path: `${SHOTS}/list-360x640.png` });
    await context.close();
  });
});

describe('household detail and visit', () => {
  test('open a household, record a visit with a live score, see it in the detail', async () => {
    const { page, context, errors } = await openApp();
    await page.click('.household-row[data-id="hh-0002"]');
    await page.waitForSelector('#household-detail #visits');
    const detail = await page.textContent('#household-detail');
    assert.match(detail, /Jl\. Contoh Dua No\. 2/);
    assert.match(detail, /3573010101900002/, 'KK');
    assert.match(detail, /35\.73\.01\.1007/, 'Kemendagri region code');
    assert.match(detail, /Anak Uji Dua/, 'members');
    assert.match(detail, /Belum ada kunjungan/);

    await page.click('#record-visit');
    await page.waitForSelector('#visit-form');
    await page.click('#result-found');
    await page.waitForSelector('#live-score');
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '0/14');

    // Each answer moves the live score.
    await page.selectOption('#answer-floor_material', 'tanah');
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '1/14');
    await page.fill('#answer-floor_area_per_person', '12,5'); // 2 members -> 6.25 m² each
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '2/14');
    await page.click('#answer-clinic_cost-no');
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '3/14');
    await page.click('#answer-clinic_cost-yes');
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '2/14');
    await page.selectOption('#answer-head_income_source-occupation', 'lainnya');
    await page.fill('#answer-head_income_source-income_rp', '450.000');
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '3/14');
    for (const [id, v] of [['wall_material', 'bambu'], ['toilet', 'umum'], ['drinking_water', 'air hujan'],
      ['cooking_fuel', 'kayu bakar'], ['head_education', 'SD']]) {
      await page.selectOption(`#answer-${id}`, v);
    }
    await page.fill('#answer-meals_per_day', '2');
    await page.waitForFunction(() => document.querySelector('#live-score').textContent === '9/14');
    assert.ok(await page.$('#poor-hint'), 'poor-by-score hint at 9 of 14');
    assert.ok(await page.$('#live-score.poor'));

    assert.ok(await noHorizontalOverflow(page) <= 360, 'visit form fits a 360 px phone');
    await page.screenshot({ path: `${SHOTS}/visit-form-360x640.png` });
    await page.screenshot({ path: `${SHOTS}/visit-form-full.png`, fullPage: true });

    await page.selectOption('#presence-m2', 'moved');
    await page.check('#doc-kk');
    await page.fill('#notes', 'Catatan uji');
    await page.click('#save-visit');
    await page.waitForSelector('#household-detail #visits');

    const sent = (await page.evaluate(() => window.__fake.calls)).find((c) => c.cmd === 'record_visit');
    assert.equal(sent.args.id, 'hh-0002');
    assert.equal(sent.args.visit.result, 'found');
    assert.equal(sent.args.visit.answers.floor_area_per_person, 12.5, 'decimal comma parsed');
    assert.equal(sent.args.visit.answers.clinic_cost, true);
    assert.deepEqual(sent.args.visit.answers.head_income_source, { occupation: 'lainnya', land_m2: 0, income_rp: 450000 });
    assert.deepEqual(sent.args.visit.documents, { kk: true, ktp: false });
    assert.deepEqual(sent.args.visit.member_changes, { m2: 'moved' });
    assert.equal(sent.args.visit.notes, 'Catatan uji');

    const visits = await page.textContent('#visits');
    assert.doesNotMatch(visits, /Belum ada kunjungan/);
    assert.match(visits, /kader_uji/);
    assert.match(visits, /Catatan uji/);
    // Moving a member shrinks the household, so floor area per person is now 12.5 m² (not met): 8/14.
    assert.match(visits, /8\/14/);

    await page.click('#back');
    await page.waitForSelector('.household-row');
    const today = await page.evaluate(() => {
      const d = new Date(); const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    });
    const row = await page.textContent('.household-row[data-id="hh-0002"]');
    assert.ok(row.includes(today), `row shows today's visit: ${row}`);
    assert.match(row, /8\/14/);
    assert.match(row, /Ditemukan/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('conflicts are listed with all concurrent values', async () => {
    const { page, context } = await openApp();
    await page.click('.household-row[data-id="hh-0003"]');
    const conflicts = await (await page.waitForSelector('#conflicts')).textContent();
    assert.match(conflicts, /status/);
    assert.match(conflicts, /Ditemukan/);
    assert.match(conflicts, /Pindah/);
    assert.match(conflicts, /kader_lain/, 'each value names who wrote it');
    const members = await page.textContent('.members');
    assert.match(members, /NIK tidak cocok/, 'a NIK that disagrees with the record is flagged');
    assert.equal((members.match(/NIK tidak cocok/g) ?? []).length, 1, 'only on the member it concerns');
    assert.ok(await noHorizontalOverflow(page) <= 360, 'detail fits a 360 px phone');
    await page.screenshot({ path: `${SHOTS}/detail-360x640.png` });
    await context.close();
  });

  test('propose a household: backend NIK error shown, then saved', async () => {
    const { page, context } = await openApp();
    await page.click('#propose-new');
    await page.waitForSelector('#propose-form');
    await page.fill('#propose-name', 'Keluarga Uji Lima');
    await page.fill('#propose-nik', '35730101');
    await page.fill('#propose-address', 'Jl. Contoh Lima');
    await page.fill('#propose-rw', '3');
    await page.fill('#propose-rt', '4');
    await page.click('#save-proposal');
    const e = await (await page.waitForSelector('#propose-error')).textContent();
    assert.match(e, /NIK tidak valid/);
    assert.match(e, /16 digits/, "backend's own message kept as detail");
    await page.fill('#propose-nik', '3573015505950001');
    await page.click('#save-proposal');
    await page.waitForSelector('#household-detail #visits');
    assert.match(await page.textContent('#household-detail'), /Keluarga Uji Lima/);
    assert.match(await page.textContent('#household-detail'), /Usulan/);
    await context.close();
  });
});

describe('language, errors', () => {
  test('switching to English relabels the UI and is remembered', async () => {
    const { page, context } = await openApp();
    assert.equal(await page.textContent('#filter-poor'), 'Miskin (skor)');
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.querySelector('#filter-poor').textContent === 'Poor (score)');
    assert.match(await page.textContent('#sync-now'), /Sync now/);
    assert.match(await page.textContent('.household-row[data-id="hh-0001"]'), /Found/);
    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#record-visit');
    await page.click('#result-found');
    await page.waitForSelector('#answer-floor_material');
    assert.match(await page.textContent('#visit-form'), /Floor is earth, bamboo or cheap wood/, 'criteria labels from label_en');
    assert.equal(await page.evaluate(() => localStorage.getItem('jemput.lang')), 'en');
    await page.reload();
    await page.waitForSelector('#login-submit');
    assert.equal(await page.textContent('#login-submit'), 'Log in', 'language survives a restart');
    await context.close();
  });

  test('a rejected sync_now shows an offline message instead of crashing', async () => {
    const { page, context, errors } = await openApp();
    await page.evaluate(() => {
      window.__fake.fail.sync_now = { code: 'offline', message: 'no route to host' };
    });
    await page.click('#sync-now');
    const msg = await (await page.waitForSelector('#sync-error')).textContent();
    assert.match(msg, /Tidak ada koneksi/);
    assert.match(await page.textContent('#sync-status .sync-state'), /Luring/);
    // The app still works.
    await page.click('#filter-poor');
    await page.waitForFunction(() => document.querySelectorAll('.household-row').length === 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a rejected list_households with an unknown code shows its message', async () => {
    const { page, context } = await openApp();
    await page.evaluate(() => {
      window.__fake.fail.list_households = { code: 'weird_failure', message: 'store is busy' };
    });
    await page.click('#filter-conflict');
    const msg = await (await page.waitForSelector('#list-error')).textContent();
    assert.match(msg, /store is busy/);
    await context.close();
  });
});
