// Owns: the fast UI tests — the built UI (dist) in headless Debian Chromium via
// playwright-core, with Tauri IPC replaced by the in-memory fake in fake-tauri.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { startBrowser } from './browser.mjs';
import { installFakeTauri } from './fake-tauri.mjs';
import { LOGIN } from './screens.mjs';

const SHOTS = '/tmp/ui-shots';
const PHONE = { width: 360, height: 640 };

let server;
let browser;

before(async () => {
  ({ server, browser } = await startBrowser());
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page (fresh fake backend, empty localStorage) on a phone-sized viewport. */
async function openApp({ loggedIn = true, viewport = PHONE, user = 'kader_uji', lock = 'open', households = 0 } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.addInitScript(installFakeTauri, { lock, households });
  await page.goto(server.url);
  if (loggedIn) await logIn(page, user);
  return { page, context, errors };
}

const logIn = LOGIN;

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
    assert.match(first, /15\/01\/2025/, 'last visit date, dd/mm/yyyy');
    assert.match(first, /13\/14/, 'score');
    assert.ok(await page.$('.household-row[data-id="hh-0001"] .score.poor'), 'poor score highlighted');
    assert.equal(await page.$('.household-row[data-id="hh-0003"] .score.poor'), null, 'non-poor score not highlighted');
    assert.match(await page.textContent('.household-row[data-id="hh-0002"]'), /Belum dikunjungi/);
    assert.match(await page.textContent('.household-row[data-id="hh-0003"]'), /Konflik/);
    const proposal = await page.textContent('.household-row[data-id="hh-0004"]');
    assert.match(proposal, /Usulan/);
    assert.match(proposal, /Ditolak: Isian tidak sesuai aturan data/, 'the refusal in Indonesian');
    assert.doesNotMatch(proposal, /must have 16 digits/, "not the server's English");
    const bar = await page.textContent('#sync-status');
    assert.match(bar, /Daring/);
    assert.match(bar, /perubahan ditolak/);
    assert.match(await page.textContent('#sync-quarantined'), /1 rumah tangga tidak bisa digabung/,
      'a quarantined household is shown');
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
    assert.equal(calls.at(-1).args.query.search, '3573010707700001');
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
  test('a visit: no score while answering, unanswered criteria refused until marked "tidak tahu", score after saving', async () => {
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
    await page.waitForSelector('#answered-count');
    assert.match(await page.textContent('#answered-count'), /0 dari 14/);

    await page.selectOption('#answer-floor_material', 'tanah');
    await page.fill('#answer-floor_area_per_person', '12,5'); // 2 members -> 6.25 m² each
    await page.click('#answer-clinic_cost-no');
    await page.click('#answer-clinic_cost-yes');
    await page.selectOption('#answer-head_income_source-occupation', 'lainnya');
    await page.fill('#answer-head_income_source-income_rp', '450.000');
    for (const [id, v] of [['wall_material', 'bambu'], ['toilet', 'umum'], ['drinking_water', 'air hujan'],
      ['cooking_fuel', 'kayu bakar'], ['head_education', 'SD']]) {
      await page.selectOption(`#answer-${id}`, v);
    }
    await page.fill('#answer-meals_per_day', '2');
    await page.waitForFunction(() => /10 dari 14/.test(document.querySelector('#answered-count').textContent));
    // The score is not shown while answering: nothing to steer toward.
    assert.equal(await page.$('#live-score'), null);
    assert.doesNotMatch(await page.textContent('#visit-form'), /\/14|Miskin/);

    assert.ok(await noHorizontalOverflow(page) <= 360, 'visit form fits a 360 px phone');
    await page.screenshot({ path: `${SHOTS}/visit-form-360x640.png` });

    await page.selectOption('#presence-m2', 'moved');
    await page.check('#doc-kk');
    await page.fill('#notes', 'Catatan uji');
    // Four criteria are unanswered: "Simpan" names them and saves nothing.
    await page.click('#save-visit');
    await page.waitForSelector('#confirm-missing');
    const missing = await page.$$eval('#missing-list li', (l) => l.map((e) => e.dataset.id));
    assert.deepEqual(missing, ['lighting', 'protein_per_week', 'clothes_per_year', 'savings']);
    await page.screenshot({ path: `${SHOTS}/visit-incomplete-360x800.png` });
    assert.equal((await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'record_visit').length, 0);
    // Back to the form: answer one, mark the other three "tidak tahu" one by one or all at once.
    await page.click('#missing-back');
    await page.fill('#answer-savings', '100.000');
    await page.click('#answer-lighting-unknown');
    assert.ok(await page.$('#answer-lighting-is-unknown'));
    await page.click('#save-visit');
    await page.waitForSelector('#confirm-missing');
    assert.deepEqual(await page.$$eval('#missing-list li', (l) => l.map((e) => e.dataset.id)),
      ['protein_per_week', 'clothes_per_year']);
    await page.click('#missing-unknown');
    await page.waitForFunction(() => /14 dari 14/.test(document.querySelector('#answered-count').textContent));
    assert.match(await page.textContent('#answered-count'), /3 tidak tahu/);
    await page.click('#save-visit');
    await page.waitForSelector('#household-detail #visits');

    const sent = (await page.evaluate(() => window.__fake.calls)).find((c) => c.cmd === 'record_visit');
    assert.equal(sent.args.id, 'hh-0002');
    assert.equal(sent.args.visit.result, 'found');
    assert.equal(sent.args.visit.answers.floor_area_per_person, 12.5, 'decimal comma parsed');
    assert.equal(sent.args.visit.answers.clinic_cost, true);
    assert.equal(sent.args.visit.answers.lighting, 'tidak_tahu');
    assert.equal(sent.args.visit.answers.protein_per_week, 'tidak_tahu');
    assert.equal(sent.args.visit.answers.savings, 100000);
    assert.deepEqual(sent.args.visit.answers.head_income_source, { occupation: 'lainnya', land_m2: 0, income_rp: 450000 });
    assert.deepEqual(sent.args.visit.documents, { kk: true, ktp: false });
    assert.deepEqual(sent.args.visit.member_changes, { m2: 'moved' });
    assert.equal(sent.args.visit.notes, 'Catatan uji');

    // The score appears once the visit is saved, and says the visit is incomplete.
    const visits = await page.textContent('#visits');
    assert.doesNotMatch(visits, /Belum ada kunjungan/);
    assert.match(visits, /kader_uji/);
    assert.match(visits, /Catatan uji/);
    // Moving a member shrinks the household, so floor area per person is now 12.5 m² (not met).
    assert.match(visits, /9\/14/);
    assert.match(visits, /Tidak lengkap/);

    await page.click('#back');
    await page.waitForSelector('.household-row');
    const today = await page.evaluate(() => {
      const d = new Date(); const p = (n) => String(n).padStart(2, '0');
      return `${p(d.getDate())}/${p(d.getMonth() + 1)}/${d.getFullYear()}`;
    });
    const row = await page.textContent('.household-row[data-id="hh-0002"]');
    assert.ok(row.includes(today), `row shows today's visit as dd/mm/yyyy: ${row}`);
    assert.match(row, /9\/14/);
    assert.match(row, /Ditemukan/);
    assert.match(row, /Belum terkirim/, 'the unsent visit is marked');
    assert.match(row, /Tidak lengkap/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a half-filled visit is a draft: kept through "Kembali", marked in the list, restored, discarded only after asking', async () => {
    const { page, context, errors } = await openApp();
    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#record-visit');
    await page.click('#result-found');
    await page.selectOption('#answer-floor_material', 'tanah');
    await page.fill('#answer-meals_per_day', '2,');
    await page.fill('#notes', 'Belum selesai');
    await page.click('#back');
    await page.waitForSelector('#household-detail');
    // Kept by the backend (the device store), not by the webview.
    const kept = (await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'draft_put').at(-1);
    assert.equal(kept.args.id, 'hh-0002');
    assert.equal(kept.args.body.answers.floor_material, 'tanah');
    assert.equal(kept.args.body.drafts['answer-meals_per_day'], '2,', 'half-typed text kept as typed');
    assert.equal(await page.evaluate(() => localStorage.length <= 1), true, 'nothing but the language in the webview');
    await page.click('#back');
    await page.waitForSelector('.household-row[data-id="hh-0002"]');
    assert.match(await page.textContent('.household-row[data-id="hh-0002"]'), /Draf/);
    await page.screenshot({ path: `${SHOTS}/list-draft-360x800.png` });

    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#record-visit');
    await page.waitForSelector('#draft-restored');
    assert.equal(await page.inputValue('#answer-floor_material'), 'tanah');
    assert.equal(await page.inputValue('#answer-meals_per_day'), '2,');
    assert.equal(await page.inputValue('#notes'), 'Belum selesai');
    await page.screenshot({ path: `${SHOTS}/visit-draft-360x800.png` });
    await page.click('#draft-discard');
    await page.waitForSelector('#confirm-discard');
    await page.click('#discard-cancel');
    assert.equal(await page.inputValue('#notes'), 'Belum selesai', 'cancel keeps everything');
    await page.click('#draft-discard');
    await page.click('#discard-confirm');
    await page.waitForSelector('#household-detail');
    await page.click('#back');
    await page.waitForSelector('.household-row[data-id="hh-0002"]');
    // The rows shown before stay until the list's page comes again: then no mark.
    await page.waitForFunction(() => !/Draf/.test(document.querySelector('.household-row[data-id="hh-0002"]')?.textContent ?? 'Draf'),
      null, { timeout: 5000 });
    assert.doesNotMatch(await page.textContent('.household-row[data-id="hh-0002"]'), /Draf/);
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
    await page.fill('#propose-birth-date', '1995-05-15');
    await page.click('#save-proposal');
    await page.waitForSelector('#household-detail #visits');
    const sent = (await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'propose_household').at(-1);
    assert.equal(sent.args.proposal.birth_date, '1995-05-15', "the head's birth date finds duplicates");
    assert.match(await page.textContent('#household-detail'), /Keluarga Uji Lima/);
    assert.match(await page.textContent('#household-detail'), /Usulan/);
    await context.close();
  });
});

describe('births', () => {
  test('a visit records a newborn as a new member', async () => {
    const { page, context } = await openApp();
    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#record-visit');
    await page.click('#result-found');
    await page.click('#add-member');
    await page.fill('.new-member-name', 'Bayi Uji Dua');
    await page.selectOption('.new-member-sex', 'P');
    await page.fill('.new-member-birth', '2026-10-01');
    assert.ok(await noHorizontalOverflow(page) <= 360, 'the new-member row fits a phone');
    await page.click('#save-visit');
    await page.click('#missing-unknown');
    await page.click('#save-visit');
    await page.waitForSelector('#household-detail');
    const sent = (await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'record_visit').at(-1);
    assert.deepEqual(sent.args.visit.new_members, [
      { name: 'Bayi Uji Dua', sex: 'P', birth_date: '2026-10-01', relation: 'child' },
    ]);
    assert.match(await page.textContent('.members'), /Bayi Uji Dua/);
    await context.close();
  });
});

describe('sync by file', () => {
  test('a kader without signal writes a bundle, and an altered one is refused with the path kept', async () => {
    const { page, context } = await openApp();
    await page.click('#sync-status details.bundle summary');
    assert.match(await page.textContent('#sync-month'), /Bulan ini/);
    // Cancelling the save dialog writes nothing.
    await page.evaluate(() => { window.__fake.dialog = null; });
    await page.click('#bundle-export');
    await page.waitForFunction(() => window.__fake.dialogAsked?.mode === 'save');
    assert.deepEqual(await page.evaluate(() => window.__fake.dialogAsked), { mode: 'save', extensions: ['jemput'] });
    assert.equal((await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'bundle_export').length, 0);
    // The file goes where the dialog says (Downloads by default), not the app's private folder.
    await page.evaluate(() => { window.__fake.dialog = '/sdcard/Download/jemput-kader.jemput'; });
    await page.click('#bundle-export');
    assert.match(await (await page.waitForSelector('#bundle-result')).textContent(), /\/sdcard\/Download\/jemput-kader\.jemput/);
    // A bundle to import is chosen in the open dialog.
    await page.evaluate(() => { window.__fake.dialog = '/sdcard/Download/altered.jemput'; });
    await page.click('#bundle-choose');
    await page.waitForFunction(() => document.querySelector('#bundle-path').value === '/sdcard/Download/altered.jemput');
    await page.click('#bundle-import');
    assert.match(await (await page.waitForSelector('#bundle-error')).textContent(), /altered/);
    assert.equal(await page.inputValue('#bundle-path'), '/sdcard/Download/altered.jemput', 'the path stays to correct');
    await page.fill('#bundle-path', '/sdcard/Download/kader-b.jemput');
    await page.click('#bundle-import');
    await page.waitForFunction(() => /2 rumah tangga/.test(document.querySelector('#bundle-result')?.textContent ?? ''));
    const sent = (await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'bundle_import').at(-1);
    assert.equal(sent.args.path, '/sdcard/Download/kader-b.jemput');
    assert.ok(await noHorizontalOverflow(page) <= 360, 'fits a 360 px phone');
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

  test('offline is a calm line with what waits to be sent, not a red failure', async () => {
    const { page, context, errors } = await openApp({ viewport: { width: 360, height: 800 } });
    await page.evaluate(() => {
      window.__fake.offline = true;
      window.__fake.setPending(12);
    });
    await page.click('#sync-now');
    await page.waitForFunction(() => /Luring — 12 menunggu dikirim/.test(document.querySelector('#sync-state').textContent));
    assert.equal(await page.$('#sync-error'), null, 'no error box for being offline');
    assert.equal(await page.$('#sync-status .error'), null);
    await page.screenshot({ path: `${SHOTS}/list-offline-360x800.png` });
    const barHeight = await page.$eval('#sync-status', (e) => e.getBoundingClientRect().height);
    assert.ok(barHeight < 240, `the bar stays small: ${barHeight} px`);
    const firstRowTop = await page.$eval('.household-row', (e) => e.getBoundingClientRect().top);
    assert.ok(firstRowTop < 800 - 3 * 112, `three rows or more stay in view at 360×800: first at ${firstRowTop} px`);
    // The app still works.
    await page.click('#filter-poor');
    await page.waitForFunction(() => document.querySelectorAll('.household-row').length === 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a revoked device goes back to login and says its data and unsent visits are gone', async () => {
    const { page, context, errors } = await openApp();
    await page.evaluate(() => window.__fake.revoke(2));
    await page.click('#sync-now');
    const notice = await (await page.waitForSelector('#revoked-notice')).textContent();
    assert.match(notice, /mencabut akses/);
    assert.match(notice, /2 kunjungan yang belum terkirim/);
    assert.equal(await page.$('.household-row'), null, 'no household left on screen');
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

  test('an error speaks one language: the backend\'s English waits behind "Detail"', async () => {
    const { page, context, errors } = await openApp();
    await page.evaluate(() => {
      window.__fake.fail.list_households = { code: 'storage', message: 'disk I/O error' };
    });
    await page.click('#filter-conflict');
    const box = await page.waitForSelector('#list-error');
    const shown = await box.evaluate((e) => e.innerText);
    assert.match(shown, /Data di HP tidak dapat dibaca atau disimpan/);
    assert.doesNotMatch(shown, /disk I\/O error/, 'no English on screen');
    await page.click('#list-error summary');
    assert.match(await box.evaluate((e) => e.innerText), /disk I\/O error/, 'behind Detail');
    assert.deepEqual(errors, []);
    await context.close();
  });
});

const conflictIds = (page) => page.$$eval('.conflict-item', (els) => els.map((e) => e.dataset.id));
const lastCall = (page, cmd) =>
  page.evaluate((c) => window.__fake.calls.filter((x) => x.cmd === c).at(-1), cmd);
const waitCount = (page, n) =>
  page.waitForFunction((k) => document.querySelectorAll('.conflict-item').length === k, n);

async function openReview(page) {
  await page.click('#open-review');
  await page.waitForSelector('#review .conflict-item');
}

describe('conflict review', () => {
  test('a kader does not see the review entry', async () => {
    const { page, context } = await openApp();
    assert.equal(await page.$('#open-review'), null);
    await context.close();
  });

  test('fasilitator: list, filters, pick with a note, corrected value; the kader sees the note', async () => {
    const { page, context, errors } = await openApp({ user: 'fasilitator_uji' });
    await openReview(page);
    assert.deepEqual(await conflictIds(page), ['c-001', 'c-002', 'c-003', 'c-004', 'c-005', 'c-006']);
    assert.match(await page.textContent('#review-count'), /6 konflik terbuka/);

    const c1 = await page.textContent('.conflict-item[data-id="c-001"]');
    assert.match(c1, /Keluarga Uji Tiga/);
    assert.match(c1, /RW 004\/RT 001/);
    assert.match(c1, /Isian berbeda/, 'kind localized');
    assert.match(c1, /Status kunjungan/, 'path in words');
    assert.match(c1, /Ditemukan/);
    assert.match(c1, /Pindah/, 'values localized like the detail screen');
    assert.match(c1, /kader_uji/);
    assert.match(c1, /kader_lain/);
    assert.match(c1, /2025/, 'time of each value');
    assert.match(c1, /bb02dead/, 'device, short');
    assert.doesNotMatch(c1, /bb02deadbeef/, 'device shortened to 8 characters');
    assert.match(await page.textContent('.conflict-item[data-id="c-001"] .choice[data-n="2"] .choice-visit'), /^v2$/);
    assert.match(await page.textContent('.conflict-item[data-id="c-002"] .conflict-path'), /^Nama anggota$/);
    assert.match(await page.textContent('.conflict-item[data-id="c-005"] .conflict-path'), /^Alamat$/);
    const c6 = await page.textContent('.conflict-item[data-id="c-006"]');
    assert.match(c6, /registry\.custom_flag/, 'unknown path shown raw');
    assert.match(c6, /Ya/);
    assert.match(c6, /Tidak/);
    const c3 = await page.textContent('.conflict-item[data-id="c-003"]');
    assert.match(c3, /Kunjungan berbeda/);
    assert.match(c3, /5\/14/, 'score of each visit');
    assert.equal(await page.$('.conflict-item[data-id="c-003"] .choice-custom'), null, 'typed value only for field conflicts');
    const c4 = '.conflict-item[data-id="c-004"]';
    await page.waitForFunction((sel) => /Keluarga Uji Satu/.test(document.querySelector(sel).textContent), c4);
    const dup = await page.textContent(c4);
    assert.match(dup, /Mungkin ganda/);
    assert.match(dup, /simpan keduanya/);
    assert.match(dup, /Keluarga Uji Empat/, 'the household itself');
    assert.match(dup, /Jl\. Contoh Satu/, 'the other household, to compare');

    // Filters: kind chips and RW select; each asks the backend with the filter.
    await page.click('#review-kind-field');
    await waitCount(page, 4);
    assert.deepEqual((await lastCall(page, 'list_conflicts')).args, { rw: null, kind: 'field', lang: 'id' });
    await page.click('#review-kind-divergent_visits');
    await waitCount(page, 1);
    assert.deepEqual(await conflictIds(page), ['c-003']);
    await page.click('#review-kind-possible_duplicate');
    await page.waitForSelector('.conflict-item[data-id="c-004"]:only-child');
    assert.deepEqual(await conflictIds(page), ['c-004']);
    await page.click('#review-kind-all');
    await waitCount(page, 6);
    assert.deepEqual(await page.$$eval('#review-rw option', (os) => os.map((o) => o.value)), ['', '3', '4']);
    await page.selectOption('#review-rw', '4');
    await waitCount(page, 3);
    await page.click('#review-kind-field');
    await waitCount(page, 1);
    assert.deepEqual((await lastCall(page, 'list_conflicts')).args, { rw: 4, kind: 'field', lang: 'id' });
    assert.equal(await page.getAttribute('#review-kind-field', 'aria-pressed'), 'true');

    // Pick choice 2 with a note.
    await page.fill('.conflict-item[data-id="c-001"] .resolve-note', 'Keluarga sudah pindah, dicek ke RT.');
    // The field in words, not the raw path.
    assert.equal(await page.textContent('.conflict-item[data-id="c-001"] .conflict-path'), 'Status kunjungan');
    // A decision asks first: cancel decides nothing.
    await page.click('.conflict-item[data-id="c-001"] .choice-pick[data-n="2"]');
    await page.waitForSelector('#confirm-decide');
    assert.match(await page.textContent('#confirm-decide'), /Pilihan 2/);
    await page.click('#decide-cancel');
    assert.equal(await lastCall(page, 'resolve_conflict'), undefined, 'nothing decided');
    await page.click('.conflict-item[data-id="c-001"] .choice-pick[data-n="2"]');
    await page.click('#decide-confirm');
    await waitCount(page, 0);
    assert.deepEqual((await lastCall(page, 'resolve_conflict')).args,
      { id: 'c-001', pick: 2, value: null, note: 'Keluarga sudah pindah, dicek ke RT.' });
    await page.waitForSelector('#review-resolved');
    assert.match(await page.textContent('#review'), /Tidak ada konflik terbuka/);
    assert.equal(await page.inputValue('#review-rw'), '4', 'the chosen RW stays selected');

    // A corrected value typed by the fasilitator (no note → null).
    await page.selectOption('#review-rw', '');
    await page.click('#review-kind-all');
    await waitCount(page, 5);
    const c5 = '.conflict-item[data-id="c-005"]';
    assert.equal(await page.isDisabled(`${c5} .choice-custom-save`), true, 'nothing typed, nothing to save');
    await page.fill(`${c5} .choice-custom`, '  Jl. Contoh Dua No. 2B ');
    await page.click(`${c5} .choice-custom-save`);
    assert.match(await (await page.waitForSelector('#confirm-decide')).textContent(), /Jl\. Contoh Dua No\. 2B/);
    await page.click('#decide-confirm');
    await waitCount(page, 4);
    assert.equal(await page.$(c5), null);
    assert.deepEqual((await lastCall(page, 'resolve_conflict')).args,
      { id: 'c-005', pick: null, value: 'Jl. Contoh Dua No. 2B', note: null });

    // The decision and the note show on the household; the kader sees them too.
    await page.click('.conflict-item[data-id="c-003"] .conflict-household');
    await page.waitForSelector('#household-detail #notes');
    assert.match(await page.textContent('#notes'), /Catatan fasilitator/);
    assert.match(await page.textContent('#notes'), /Keluarga sudah pindah, dicek ke RT\./);
    assert.match(await page.textContent('#notes'), /fasilitator_uji/);
    assert.equal(await page.$('#conflicts'), null, 'the status conflict is gone');
    await page.click('#back');
    await page.waitForSelector('#review .conflict-item');
    await page.click('#back');
    await page.click('#logout');
    await page.click('#logout-confirm');
    await logIn(page, 'kader_uji');
    assert.equal(await page.$('#open-review'), null);
    await page.click('.household-row[data-id="hh-0003"]');
    await page.waitForSelector('#household-detail #notes');
    assert.match(await page.textContent('#notes'), /Keluarga sudah pindah/);
    assert.match(await page.textContent('#household-detail .markers'), /Pindah/, 'the picked status');
    assert.equal(await page.$('#household-detail #notes .note-item:nth-child(2)'), null);
    await page.click('#back');
    await page.click('.household-row[data-id="hh-0002"]');
    await page.waitForSelector('#household-detail #visits');
    assert.equal(await page.$('#notes'), null, 'no notes section without notes');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('an operator sees the review; a refused decision keeps the note and the typed value', async () => {
    const { page, context } = await openApp({ user: 'operator_uji' });
    await openReview(page);
    const c2 = '.conflict-item[data-id="c-002"]';
    await page.fill(`${c2} .resolve-note`, 'Nama ditulis sesuai KK.');
    await page.fill(`${c2} .choice-custom`, 'Istri Uji Satu');
    await page.click(`${c2} .choice-pick[data-n="1"]`);
    await page.click('#decide-confirm');
    const e = await (await page.waitForSelector(`${c2} .resolve-error .error`)).textContent();
    assert.match(e, /Isian tidak valid/);
    assert.match(e, /no open conflict/, "backend's message kept as detail");
    assert.equal(await page.inputValue(`${c2} .resolve-note`), 'Nama ditulis sesuai KK.');
    assert.equal(await page.inputValue(`${c2} .choice-custom`), 'Istri Uji Satu');
    assert.equal(await page.isDisabled(`${c2} .choice-pick[data-n="1"]`), false, 'can try again');
    assert.equal((await conflictIds(page)).length, 6, 'nothing removed');
    // English labels.
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.querySelector('#review-kind-field').textContent === 'Differing entries');
    assert.match(await page.textContent(`${c2} .resolve-error`), /Invalid input/);
    await page.waitForFunction((sel) => /Member's name/.test(document.querySelector(sel)?.textContent ?? ''), `${c2} .conflict-path`);
    await context.close();
  });

  test('at 360x640 the review does not overflow and choices stack; side by side when wide (screenshots)', async () => {
    const { page, context } = await openApp({ user: 'fasilitator_uji' });
    await openReview(page);
    await page.waitForFunction(() => /Keluarga Uji Satu/.test(document.querySelector('.conflict-item[data-id="c-004"]').textContent));
    assert.ok(await noHorizontalOverflow(page) <= 360, 'review fits a 360 px phone');
    const tops = (p) => p.$$eval('.conflict-item[data-id="c-001"] .choice', (els) => els.map((e) => e.getBoundingClientRect().top));
    const [a, b] = await tops(page);
    assert.ok(b > a, 'choices stacked on a phone');
    const small = await page.$$eval('#review button, #review select, #review input, #review textarea',
      (els) => els.filter((e) => e.getBoundingClientRect().height < 44).map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(small, [], 'touch targets at least 44 px');
    await page.screenshot({ path: `${SHOTS}/review-360x640.png` });
    await page.screenshot({ path: `${SHOTS}/review-360-full.png`, fullPage: true });
    await page.setViewportSize({ width: 900, height: 800 });
    const [c, d] = await tops(page);
    assert.equal(c, d, 'choices side by side on a wide screen');
    await page.screenshot({ path: `${SHOTS}/review-900.png` });
    await context.close();
  });
});

describe('household history', () => {
  test('timeline lists the changes; the state on a date shows the older status', async () => {
    const { page, context, errors } = await openApp();
    await page.click('.household-row[data-id="hh-0003"]');
    await page.click('#open-history');
    await page.waitForSelector('#history .history-entry');
    assert.deepEqual((await lastCall(page, 'household_history')).args, { id: 'hh-0003', lang: 'id' });
    const entries = await page.$$eval('.history-entry', (els) => els.map((e) => e.textContent));
    assert.equal(entries.length, 3);
    assert.match(entries[0], /kader_lain/, 'newest first');
    assert.match(entries[0], /bb02dead/);
    assert.doesNotMatch(entries[0], /bb02deadbeef/);
    // One sentence per change; the fields behind "Rincian", named in words, values in words.
    assert.equal(await page.textContent('.history-entry:first-child .history-text'), 'kader_lain mencatat kunjungan: Pindah');
    assert.match(entries[0], /Status kunjungan: Pindah/);
    assert.match(entries[0], /\d{2}\/\d{2}\/2025/, 'dates as dd/mm/yyyy');
    assert.doesNotMatch(entries.join(' '), /Timestamp|visits\.v1\.result/);
    assert.match(entries[2], /membuat data rumah tangga dari registri/);
    assert.equal(await page.$$eval('.history-entry:first-child .history-changes li', (l) => l.length), 2);
    await page.click('.history-entry:first-child .history-details summary');
    await page.screenshot({ path: `${SHOTS}/history-360x640.png` });

    assert.equal(await page.isDisabled('#as-of-show'), true, 'no date yet');
    await page.fill('#as-of-date', '2025-01-10');
    await page.click('#as-of-show');
    await page.waitForSelector('#as-of-view[data-date="2025-01-10"]');
    assert.deepEqual((await lastCall(page, 'household_as_of')).args, { id: 'hh-0003', when: '2025-01-10' });
    assert.equal(await page.textContent('#as-of-status'), 'Belum dikunjungi');
    assert.equal(await page.textContent('#as-of-visits'), '0');
    assert.match(await page.textContent('#as-of-view'), /Keluarga Uji Tiga/);
    await page.fill('#as-of-date', '2025-01-20');
    await page.click('#as-of-show');
    await page.waitForSelector('#as-of-view[data-date="2025-01-20"]');
    assert.equal(await page.textContent('#as-of-status'), 'Ditemukan');
    assert.equal(await page.textContent('#as-of-visits'), '1');
    await page.fill('#as-of-date', '2024-12-01');
    await page.click('#as-of-show');
    assert.match(await (await page.waitForSelector('#as-of-error')).textContent(), /Data tidak ditemukan/);
    assert.equal(await page.$('#as-of-view'), null);
    assert.ok(await noHorizontalOverflow(page) <= 360, 'history fits a 360 px phone');
    await page.screenshot({ path: `${SHOTS}/history-360x640.png`, fullPage: true });
    await page.click('#back');
    await page.waitForSelector('#household-detail #visits');
    assert.deepEqual(errors, []);
    await context.close();
  });
});

const REG_PATH = '/home/operator/DTKS-2026-11.xlsx';
const tid = (id) => `[data-testid="${id}"]`;
const mapSelect = (column) => `${tid('registry-map')}[data-column="${column}"]`;
const calls = (page, cmd) => page.evaluate((c) => window.__fake.calls.filter((x) => x.cmd === c), cmd);
const progressValue = () => document.querySelector('[data-testid="registry-progress"]')?.value ?? 0;

async function openRegistry(page) {
  await page.click(tid('nav-registry'));
  await page.waitForSelector('#registry #registry-import');
}

async function checkFile(page, path = REG_PATH) {
  await page.fill(tid('registry-path'), path);
  await page.click(tid('registry-check'));
  await page.waitForSelector(tid('registry-preview'));
}

describe('registry (office)', () => {
  test('only an operator or an admin sees the Registri entry; back returns to the list', async () => {
    for (const [user, sees] of [['kader_uji', false], ['fasilitator_uji', false], ['operator_uji', true], ['admin_uji', true]]) {
      const { page, context } = await openApp({ user });
      assert.equal(Boolean(await page.$(tid('nav-registry'))), sees, `${user} ${sees ? 'sees' : 'does not see'} Registri`);
      if (sees) {
        assert.match(await page.textContent(tid('nav-registry')), /Registri/);
        await openRegistry(page);
        assert.match(await page.textContent('#registry .topbar h1'), /Registri DTKS/);
        assert.ok(await page.$('#registry #registry-export'), 'import and export on one screen');
        await page.click('#back');
        await page.waitForSelector('.household-row');
      }
      await context.close();
    }
  });

  test('the preview says what the import will do; a wrong file cannot be imported; many marked missing asks with the number', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    await checkFile(page);
    assert.equal(await page.textContent(tid('registry-will-create')), '28');
    assert.equal(await page.textContent(tid('registry-will-update')), '1');
    assert.equal(await page.textContent(tid('registry-will-keep')), '1');
    assert.equal(await page.textContent(tid('registry-will-miss')), '1');
    assert.match(await page.textContent('#registry-coverage'), /299 dari 300 rumah tangga register yang tersimpan \(99 %\)/);
    assert.equal(await page.$('#registry-stop'), null);

    // Another kelurahan's file: what stops it, in words, and no import button to press.
    await checkFile(page, '/home/operator/Download/kelurahan-lain.xlsx');
    assert.match(await page.textContent('#registry-stop'), /0 dari 300 rumah tangga register.*kurang dari 50 %.*Tidak ada yang berubah/);
    assert.equal(await page.isDisabled(tid('registry-import')), true);

    // A column the office needs under a name Jemput does not know: named in words.
    await checkFile(page, '/home/operator/Download/kolom-asing.xlsx');
    assert.match(await page.textContent('#registry-stop'), /Tidak ada kolom untuk Jenis kelamin, sementara kolom JNS KLMN tidak dikenali/);
    assert.equal(await page.isDisabled(tid('registry-import')), true);

    // A file that would mark 40 of 300 missing: the import asks, with the number, and
    // sends the number the operator confirmed.
    await checkFile(page, '/home/operator/Download/hilang-banyak.xlsx');
    assert.match(await page.textContent('#registry-stop'), /40 dari 300/);
    await page.click(tid('registry-import'));
    await page.waitForSelector('#registry-confirm-missing');
    assert.match(await page.textContent('#registry-confirm-missing'), /Tandai 40 rumah tangga tidak ada di register\?/);
    await page.click('#registry-confirm-cancel');
    assert.equal(await page.$('#registry-confirm-missing'), null);
    assert.equal((await calls(page, 'registry_import')).length, 0, 'cancel imports nothing');
    await page.click(tid('registry-import'));
    await page.click('#registry-confirm-yes');
    await page.waitForSelector(tid('registry-result'));
    assert.equal((await lastCall(page, 'registry_import')).args.confirmMissing, 40);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('preview shows the counts and columns; naming an unrecognised column saves it and checks again', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    assert.equal(await page.isDisabled(tid('registry-check')), true, 'no path, nothing to check');
    assert.equal(await page.getAttribute(tid('registry-path'), 'placeholder'), REG_PATH);
    assert.equal(await page.$(tid('registry-import')), null, 'no import before a check');
    await checkFile(page);
    assert.deepEqual((await lastCall(page, 'registry_preview')).args, { path: REG_PATH, partial: false });
    assert.equal(await page.textContent(tid('registry-kelurahan')), '35.73.01.1007');
    assert.equal(await page.textContent(tid('registry-rows')), '124');
    assert.equal(await page.textContent(tid('registry-households')), '30');
    assert.equal(await page.textContent(tid('registry-members')), '120');
    assert.equal(await page.textContent(tid('registry-rejected')), '4');
    const examples = await page.$$eval(`${tid('registry-examples')} li`, (els) => els.map((e) => e.textContent));
    assert.equal(examples.length, 4);
    assert.equal(examples[0], 'Baris 17: NIK harus tepat 16 angka (tertulis 15 karakter)');

    // Each column with what it maps to; the unknown ones are flagged and get a select.
    const column = (name) => page.textContent(`${tid('registry-columns')} li[data-column="${name}"]`);
    assert.match(await column('NIK'), /NIK\s*→\s*NIK/);
    assert.match(await column('Nama'), /Nama\s*→\s*Nama/);
    assert.match(await column('Tanggal Lahir'), /Tanggal lahir/);
    assert.match(await column('Hub. dgn KRT'), /Tidak dikenali/);
    assert.ok(await page.$(`${tid('registry-columns')} li.unrecognised[data-column="Hub. dgn KRT"]`));
    assert.deepEqual(await page.$$eval(tid('registry-map'), (els) => els.map((e) => e.dataset.column)),
      ['Hub. dgn KRT', 'Keterangan']);
    const options = await page.$$eval(`${mapSelect('Hub. dgn KRT')} option`, (os) => os.map((o) => [o.value, o.textContent]));
    assert.equal(options.length, 20, 'choose, 18 fields, ignore');
    assert.deepEqual(options.find(([v]) => v === 'relation'), ['relation', 'Hubungan dengan KRT/KK']);
    assert.deepEqual(options.find(([v]) => v === 'birth_date'), ['birth_date', 'Tanggal lahir']);
    assert.deepEqual(options.at(-1), ['ignore', 'Abaikan']);
    assert.equal(await page.isDisabled(tid('registry-map-save')), true, 'nothing chosen, nothing to save');

    await page.selectOption(mapSelect('Hub. dgn KRT'), 'relation');
    await page.selectOption(mapSelect('Keterangan'), 'ignore');
    await page.click(tid('registry-map-save'));
    await page.waitForFunction(() => !document.querySelector('[data-testid="registry-mapping"]'));
    assert.deepEqual((await lastCall(page, 'registry_save_mapping')).args,
      { columns: [['Hub. dgn KRT', 'relation'], ['Keterangan', 'ignore']] });
    assert.deepEqual(await page.evaluate(() => window.__fake.registryMapping),
      { hubdgnkrt: 'relation', keterangan: 'ignore' }, 'the fake backend kept the mapping');
    assert.equal((await calls(page, 'registry_preview')).length, 2, 'checked again after saving');
    assert.match(await column('Hub. dgn KRT'), /Hubungan dengan KRT\/KK/);
    assert.equal(await page.$(`${tid('registry-columns')} li.unrecognised`), null);
    assert.match(await column('Keterangan'), /Diabaikan/);

    await page.click('#lang-toggle');
    await page.waitForFunction(() => /Check file/.test(document.querySelector('[data-testid="registry-check"]').textContent));
    assert.match(await column('Hub. dgn KRT'), /Relation to the household\/family head/);
    assert.match(await page.textContent(tid('registry-examples')), /Row 17: NIK must be exactly 16 digits/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('import shows a progress bar, locks the screen, then the result; the list has the new households', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    await page.fill(tid('export-path'), '/home/operator/pemutakhiran.xlsx');
    await checkFile(page);
    await page.evaluate(() => { window.__fake.importStepMs = 80; });
    await page.click(tid('registry-import'));
    await page.waitForFunction(progressValue, null, { polling: 20 });
    const bar = await page.$eval(tid('registry-progress'), (e) => ({ tag: e.tagName, value: e.value, max: e.max }));
    assert.equal(bar.tag, 'PROGRESS');
    assert.equal(bar.max, 30);
    assert.ok(bar.value >= 3, `progress moved: ${bar.value}`);
    assert.match(await page.textContent(tid('registry-progress-text')), /^\d+ \/ 30 rumah tangga$/);
    for (const b of ['registry-check', 'registry-import', 'export-run']) {
      assert.equal(await page.isDisabled(tid(b)), true, `${b} disabled while importing`);
    }
    assert.equal(await page.isDisabled(tid('registry-path')), true);
    assert.equal(await page.$('#back'), null, 'no leaving mid-import (cancel instead)');
    assert.equal(await page.evaluate(() => window.__fake.listening('registry-progress')), 1);

    const result = await (await page.waitForSelector(tid('registry-result'))).textContent();
    assert.equal(await page.textContent(tid('registry-created')), '28');
    assert.equal(await page.textContent(tid('registry-updated')), '1');
    assert.equal(await page.textContent(tid('registry-unchanged')), '1');
    assert.equal(await page.textContent(tid('registry-missing')), '1');
    assert.equal(await page.textContent(tid('registry-result-rejected')), '4');
    assert.equal(await page.textContent(tid('registry-rejected-xlsx')), '/home/operator/DTKS-2026-11.xlsx.rejected.xlsx');
    assert.equal(await page.textContent(tid('registry-rejected-file')), '/home/operator/DTKS-2026-11.xlsx.rejected.csv');
    assert.match(result, /Rumah tangga baru/);
    assert.match(result, /Ditandai tidak ada di berkas/);
    assert.match(result, /sinkron berikutnya/, 'the changes go up at the next sync');
    assert.equal(await page.$(tid('registry-progress')), null);
    await page.waitForFunction(() => window.__fake.listening('registry-progress') === 0);
    assert.equal((await calls(page, 'plugin:event|unlisten')).length, 1, 'unsubscribed once');
    assert.deepEqual((await lastCall(page, 'registry_import')).args, { path: REG_PATH, partial: false, confirmMissing: null });
    assert.equal(await page.isDisabled(tid('registry-check')), false, 'unlocked again');
    assert.equal(await page.isDisabled(tid('export-run')), false);

    await page.click('#back');
    await page.waitForFunction(() => document.querySelector('#list-count')?.dataset.total === '32');
    assert.match(await page.textContent('#list-count'), /32 rumah tangga/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('cancel mid-import: nothing changes, and the file and choice are kept', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    await page.check(tid('registry-partial'));
    await checkFile(page);
    assert.equal((await lastCall(page, 'registry_preview')).args.partial, true);
    await page.evaluate(() => { window.__fake.importStepMs = 150; });
    await page.click(tid('registry-import'));
    await page.waitForFunction(progressValue, null, { polling: 20 });
    await page.click(tid('registry-cancel'));
    const msg = await (await page.waitForSelector(tid('registry-cancelled'))).textContent();
    assert.match(msg, /Impor dibatalkan; tidak ada yang berubah/);
    assert.equal((await calls(page, 'registry_cancel')).length, 1);
    assert.deepEqual((await lastCall(page, 'registry_import')).args, { path: REG_PATH, partial: true, confirmMissing: null });
    assert.equal(await page.$(tid('registry-result')), null);
    assert.equal(await page.$(tid('registry-progress')), null);
    assert.equal(await page.$('#registry-error'), null, 'a cancel is not an error');
    assert.equal(await page.inputValue(tid('registry-path')), REG_PATH);
    assert.equal(await page.isChecked(tid('registry-partial')), true);
    assert.equal(await page.isDisabled(tid('registry-import')), false, 'can import again');
    await page.waitForFunction(() => window.__fake.listening('registry-progress') === 0);
    await page.click('#back');
    await page.waitForSelector('.household-row');
    assert.deepEqual(await rowIds(page), ['hh-0001', 'hh-0002', 'hh-0003', 'hh-0004'], 'nothing imported');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a file that cannot be read is reported with the path kept; a failed import keeps the preview', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    const bad = '/home/operator/tidak-ada.xlsx';
    await page.fill(tid('registry-path'), bad);
    await page.click(tid('registry-check'));
    const e = await (await page.waitForSelector('#registry-error')).textContent();
    assert.match(e, /Berkas tidak dapat diproses/);
    assert.match(e, /cannot read the file/, "backend's message kept as detail");
    assert.equal(await page.inputValue(tid('registry-path')), bad, 'the path stays to correct it');
    assert.equal(await page.$(tid('registry-preview')), null);

    await checkFile(page);
    assert.equal(await page.$('#registry-error'), null, 'the error goes with a good check');
    await page.evaluate(() => { window.__fake.fail.registry_import = { code: 'storage', message: 'disk full' }; });
    await page.click(tid('registry-import'));
    const e2 = await (await page.waitForSelector('#registry-error')).textContent();
    assert.match(e2, /Data di HP tidak dapat dibaca atau disimpan/);
    assert.match(e2, /disk full/);
    assert.ok(await page.$(tid('registry-preview')), 'the preview stays');
    assert.equal(await page.inputValue(tid('registry-path')), REG_PATH);
    assert.equal(await page.isDisabled(tid('registry-import')), false, 'can try again');
    await page.waitForFunction(() => window.__fake.listening('registry-progress') === 0);

    // Editing the path makes the preview stale.
    await page.fill(tid('registry-path'), '/home/operator/DTKS-banyak-salah.csv');
    assert.equal(await page.$(tid('registry-preview')), null);
    await page.click(tid('registry-check'));
    await page.waitForSelector(tid('registry-preview'));
    assert.equal(await page.$$eval(`${tid('registry-examples')} li`, (l) => l.length), 20, 'at most 20 examples');
    assert.match(await page.textContent(tid('registry-examples')), /dan 5 baris lain/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('export: cut-off defaults to today, the files written are listed; errors keep the inputs', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    const today = await page.evaluate(() => {
      const d = new Date(); const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    });
    assert.equal(await page.inputValue(tid('export-cutoff')), today);
    assert.equal(await page.isDisabled(tid('export-run')), true, 'no path yet');
    assert.match(await page.getAttribute(tid('export-path'), 'placeholder'), new RegExp(`pemutakhiran-${today}\\.xlsx$`));

    const csv = '/home/operator/pemutakhiran-2026-11.csv';
    await page.fill(tid('export-path'), csv);
    assert.equal(await page.inputValue(tid('export-format')), 'csv', 'the format follows the extension');
    await page.fill(tid('export-since'), '2026-10-01');
    await page.click(tid('export-run'));
    const result = await (await page.waitForSelector(tid('export-result'))).textContent();
    assert.deepEqual((await lastCall(page, 'registry_export')).args, { cutoff: today, since: '2026-10-01', path: csv });
    assert.deepEqual(await page.$$eval(tid('export-file'), (els) => els.map((e) => e.textContent)),
      [csv, '/home/operator/pemutakhiran-2026-11.summary.csv']);
    assert.match(result, /3 rumah tangga/);

    // The format select changes the extension; a path without one gets the format's.
    await page.selectOption(tid('export-format'), 'xlsx');
    assert.equal(await page.inputValue(tid('export-path')), '/home/operator/pemutakhiran-2026-11.xlsx');
    await page.fill(tid('export-path'), '/home/operator/laporan');
    await page.fill(tid('export-since'), '');
    await page.fill(tid('export-cutoff'), '2026-11-30');
    await page.click(tid('export-run'));
    await page.waitForFunction(() => window.__fake.calls.filter((c) => c.cmd === 'registry_export').length === 2);
    assert.deepEqual((await lastCall(page, 'registry_export')).args,
      { cutoff: '2026-11-30', since: null, path: '/home/operator/laporan.xlsx' });
    await page.waitForSelector(tid('export-result'));

    await page.fill(tid('export-since'), '2026-12-01');
    assert.match(await page.textContent(tid('export-since-error')), /sebelum tanggal batas/);
    assert.equal(await page.isDisabled(tid('export-run')), true);
    await page.fill(tid('export-since'), '2026-11-01');

    await page.evaluate(() => { window.__fake.fail.registry_export = { code: 'offline', message: 'no route to host' }; });
    await page.click(tid('export-run'));
    assert.match(await (await page.waitForSelector('#export-error')).textContent(), /Tidak ada koneksi/);
    assert.equal(await page.$(tid('export-result')), null);
    assert.equal(await page.inputValue(tid('export-path')), '/home/operator/laporan');
    assert.equal(await page.inputValue(tid('export-cutoff')), '2026-11-30');
    assert.equal(await page.inputValue(tid('export-since')), '2026-11-01');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('export with unsent work on the device says how much and offers to sync first', async () => {
    const { page, context, errors } = await openApp({ user: 'operator_uji' });
    await openRegistry(page);
    await page.evaluate(() => { window.__fake.markUnsent('hh-0001'); window.__fake.markUnsent('hh-0002'); });
    await page.fill(tid('export-path'), '/home/operator/pemutakhiran.xlsx');
    await page.click(tid('export-run'));
    await page.waitForSelector('#export-unsent');
    assert.match(await page.textContent('#export-unsent'), /2 rumah tangga belum terkirim/);
    await page.click('#export-unsent-cancel');
    assert.equal((await calls(page, 'registry_export')).length, 0, 'cancel exports nothing');
    // "Sync first": the sync runs, nothing waits any more, the export follows.
    await page.click(tid('export-run'));
    await page.click('#export-unsent-sync');
    await page.waitForSelector(tid('export-result'));
    const order = (await page.evaluate(() => window.__fake.calls.map((c) => c.cmd)))
      .filter((c) => c === 'sync_now' || c === 'registry_export');
    assert.deepEqual(order, ['sync_now', 'registry_export']);
    // "Export anyway" exports what the server holds.
    await page.evaluate(() => window.__fake.markUnsent('hh-0003'));
    await page.click(tid('export-run'));
    await page.click('#export-unsent-anyway');
    await page.waitForFunction(() => window.__fake.calls.filter((c) => c.cmd === 'registry_export').length === 2);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('at 360x640 the registry screen does not overflow; touch targets are 44 px (screenshots)', async () => {
    const { page, context } = await openApp({ user: 'operator_uji' });
    assert.ok(await noHorizontalOverflow(page) <= 360, 'list with the office buttons fits');
    await page.screenshot({ path: `${SHOTS}/list-operator-360x640.png` });
    await openRegistry(page);
    assert.ok(await noHorizontalOverflow(page) <= 360, 'empty registry screen fits');
    await checkFile(page, '/home/operator/Data Terpadu Kesejahteraan Sosial/DTKS-Kelurahan-Purwantoro-2026-11-final-revisi.xlsx');
    assert.ok(await noHorizontalOverflow(page) <= 360, 'preview with the mapping fits');
    const small = await page.$$eval('#registry button, #registry select, #registry input:not([type=checkbox])',
      (els) => els.filter((e) => e.getBoundingClientRect().height < 44).map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(small, [], 'touch targets at least 44 px');
    await page.screenshot({ path: `${SHOTS}/registry-preview-360-full.png`, fullPage: true });

    await page.evaluate(() => { window.__fake.importStepMs = 120; });
    await page.click(tid('registry-import'));
    await page.waitForFunction(progressValue, null, { polling: 20 });
    assert.ok(await noHorizontalOverflow(page) <= 360, 'progress fits');
    await (await page.$(tid('registry-progress-box'))).scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/registry-progress-360x640.png` });
    await page.waitForSelector(tid('registry-result'), { timeout: 10_000 });
    assert.ok(await noHorizontalOverflow(page) <= 360, 'result with a long rejected-file path fits');

    await page.fill(tid('export-path'), '/home/operator/Laporan Pemutakhiran DTKS/pemutakhiran-kelurahan-purwantoro.csv');
    await page.click(tid('export-run'));
    await page.waitForSelector(tid('export-result'));
    assert.ok(await noHorizontalOverflow(page) <= 360, 'export result fits');
    await page.screenshot({ path: `${SHOTS}/registry-done-360-full.png`, fullPage: true });
    await context.close();
  });
});

describe('household detail: the registry', () => {
  test('desil is read-only and says which imported file it came from', async () => {
    const { page, context, errors } = await openApp();
    await page.click('.household-row[data-id="hh-0001"]');
    await page.waitForSelector('#household-detail #visits');
    const text = await page.textContent('#household-detail');
    assert.match(text, /hanya-baca, dari berkas Dinas Sosial yang diimpor 03\/11\/2026/);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('household detail: the family', () => {
  test('the head is listed first whatever the record order, and a NIK never wraps', async () => {
    const { page, context, errors } = await openApp({ viewport: { width: 320, height: 640 } });
    await page.evaluate(() => {
      const h = window.__fake.household('hh-0001');
      h.members = { m3: h.members.m3, m2: h.members.m2, m1: h.members.m1 };
    });
    await page.click('.household-row[data-id="hh-0001"]');
    await page.waitForSelector('#household-detail .member');
    const names = await page.$$eval('#household-detail .member strong', (els) => els.map((e) => e.textContent));
    assert.deepEqual(names, ['Keluarga Uji Satu', 'Istri Uji Satu', 'Anak Uji Satu']);
    const lines = await page.$$eval('#household-detail .member .mono', (els) =>
      els.map((e) => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight || '16'))));
    assert.ok(lines.every((n) => n <= 1), `each NIK on one line: ${lines}`);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('logout', () => {
  test('asks first and says what waits to be sent; cancel keeps the session, sync first syncs', async () => {
    const { page, context, errors } = await openApp();
    await page.evaluate(() => { window.__fake.setPending(3); });
    await page.click('#logout');
    const text = await (await page.waitForSelector('#confirm-logout')).textContent();
    assert.match(text, /3 rumah tangga punya pekerjaan yang belum terkirim/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'logout-cancel', 'the safe choice has the focus');
    await page.click('#logout-cancel');
    await page.waitForFunction(() => !document.querySelector('#confirm-logout'));
    assert.ok(await page.$('.household-row'), 'still logged in');
    await page.click('#logout');
    await page.click('#logout-sync');
    await page.waitForFunction(() => window.__fake.calls.some((c) => c.cmd === 'sync_now'));
    assert.equal((await page.evaluate(() => window.__fake.calls)).some((c) => c.cmd === 'logout'), false,
      'nothing logged out yet');
    await page.evaluate(() => { window.__fake.setPending(0); });
    await page.click('#logout');
    assert.match(await (await page.waitForSelector('#confirm-logout')).textContent(), /Semua pekerjaan sudah terkirim/);
    assert.equal(await page.$('#logout-sync'), null);
    await page.click('#logout-confirm');
    await page.waitForSelector('#login-user');
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('PIN lock', () => {
  const enterPin = async (page, pin) => {
    await page.fill('#pin', pin);
    await page.click('#pin-submit');
  };
  const tries = (page) => page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === 'unlock').length);
  /** Moves the fake's clock past the 30 s wait and waits for the screen to take a PIN again. */
  const skipWait = async (page) => {
    await page.evaluate(() => { window.__fake.skewMs += 30000; });
    await page.waitForSelector('#pin-submit:not([disabled])');
  };
  /** After the fifth wrong PIN: skip the wait, enter a wrong PIN, see the next wait start. */
  const wrongAfterWait = async (page, pin) => {
    const before = await tries(page);
    await skipWait(page);
    await enterPin(page, pin);
    await page.waitForFunction((n) => window.__fake.calls.filter((c) => c.cmd === 'unlock').length === n, before + 1);
    await page.waitForSelector('#pin-wait');
  };

  test('a new phone chooses a PIN of at least 6 digits, typed twice, before anything else', async () => {
    const { page, context, errors } = await openApp({ loggedIn: false, lock: 'new_pin' });
    await page.waitForSelector('#pin-again');
    assert.equal(await page.$('#login-user'), null, 'no login before a PIN');
    await page.fill('#pin', '12345');
    await page.fill('#pin-again', '12345');
    await page.click('#pin-submit');
    assert.match(await (await page.waitForSelector('#pin-note')).textContent(), /minimal 6 angka/);
    await page.fill('#pin', '135791');
    await page.fill('#pin-again', '135790');
    await page.click('#pin-submit');
    await page.waitForFunction(() => /tidak sama/.test(document.querySelector('#pin-note')?.textContent ?? ''));
    assert.equal((await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'set_pin').length, 0,
      'a short or mistyped PIN never reaches the backend');
    await page.fill('#pin', '135791');
    await page.fill('#pin-again', '135791');
    await page.click('#pin-submit');
    await page.waitForSelector('#login-user');
    assert.equal(await page.evaluate(() => window.__fake.pinSet), '135791');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('at start: wrong PINs count down, the fifth makes a 30 s wait, the eighth warns, the tenth erases', async () => {
    const { page, context, errors } = await openApp({ loggedIn: false, lock: 'locked' });
    await page.waitForSelector('#pin');
    for (let n = 1; n <= 4; n++) {
      await enterPin(page, '000000');
      await page.waitForFunction((n) => document.querySelector('#pin-note')?.textContent.includes(`Sisa ${10 - n} kali`), n);
    }
    await enterPin(page, '000000');
    const wait = await (await page.waitForSelector('#pin-wait')).textContent();
    assert.match(wait, /30 detik/);
    assert.equal(await page.isDisabled('#pin-submit'), true, 'no try during the wait');
    for (let n = 6; n <= 8; n++) await wrongAfterWait(page, '000000');
    const warning = await (await page.waitForSelector('#erase-warning')).textContent();
    assert.match(warning, /2 kali lagi PIN salah/);
    assert.match(warning, /2 kunjungan yang belum terkirim/);
    assert.match(warning, /sebelum HP dibuka/, 'at start nothing can be sent: the store is still closed');
    assert.equal(await page.$('#lock-sync'), null);
    await wrongAfterWait(page, '000000');
    await skipWait(page);
    await enterPin(page, '000000');
    const erased = await (await page.waitForSelector('#erased-notice')).textContent();
    assert.match(erased, /10 kali PIN salah; 2 kunjungan yang belum terkirim ikut terhapus/);
    await page.waitForSelector('#pin-again');
    assert.equal(await tries(page), 10);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('back from 5 minutes in the background the app asks for the PIN; the warning offers sync and a bundle', async () => {
    const { page, context, errors } = await openApp();
    const visibility = async (state) => {
      await page.evaluate((state) => {
        Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
      // The backend has noted the time it went away before the clock moves on.
      if (state === 'hidden') await page.waitForFunction(() => window.__fake.hiddenAt != null);
    };
    await visibility('hidden');
    await page.evaluate(() => { window.__fake.skewMs += 4 * 60000; });
    await visibility('visible');
    await page.waitForFunction(() => window.__fake.calls.filter((c) => c.cmd === 'app_shown').length === 1);
    assert.ok(await page.$('.household-row'), 'four minutes away: still open');
    await visibility('hidden');
    await page.evaluate(() => { window.__fake.skewMs += 5 * 60000; });
    await visibility('visible');
    await page.waitForSelector('#pin');
    assert.equal(await page.$eval('.household-row', (r) => r.closest('[inert]') !== null), true,
      'the list stays under the PIN screen, taking no input');
    for (let n = 1; n <= 4; n++) {
      await enterPin(page, '111111');
      await page.waitForFunction((n) => document.querySelector('#pin-note')?.textContent.includes(`Sisa ${10 - n} kali`), n);
    }
    await enterPin(page, '111111');
    await page.waitForSelector('#pin-wait');
    for (let n = 6; n <= 8; n++) await wrongAfterWait(page, '111111');
    await page.waitForSelector('#erase-warning');
    await page.click('#lock-sync');
    assert.match(await (await page.waitForSelector('#lock-sent')).textContent(), /Sinkron selesai/);
    await page.click('#lock-bundle');
    await page.waitForFunction(() => /Berkas dibuat/.test(document.querySelector('#lock-sent')?.textContent ?? ''));
    await skipWait(page);
    await enterPin(page, '246810');
    await page.waitForSelector('.household-row');
    await page.click('#lock-now');
    await page.waitForSelector('#pin');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('relocked with a visit half filled: covered while away, the PIN screen over it, the answers kept', async () => {
    const { page, context, errors } = await openApp();
    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#record-visit');
    await page.waitForSelector('#visit-form');
    await page.click('#result-found');
    await page.selectOption('#answer-floor_material', 'tanah');
    await page.fill('#answer-meals_per_day', '2');
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForSelector('#lock-overlay');
    assert.doesNotMatch(await page.textContent('#lock-overlay'), /Contoh Dua/,
      'the app switcher sees a cover, not the household');
    await page.waitForFunction(() => window.__fake.hiddenAt != null);
    await page.evaluate(() => {
      window.__fake.skewMs += 6 * 60000;
      Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForSelector('#lock-overlay #pin');
    assert.equal(await page.$eval('#visit-form', (f) => f.closest('[inert]') !== null), true,
      'the form underneath takes no input while locked');
    await page.fill('#pin', '246810');
    await page.click('#pin-submit');
    await page.waitForFunction(() => !document.querySelector('#lock-overlay'));
    assert.equal(await page.inputValue('#answer-floor_material'), 'tanah');
    assert.equal(await page.inputValue('#answer-meals_per_day'), '2');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('at 360x640 the PIN screen does not overflow (screenshot)', async () => {
    const { page, context } = await openApp({ loggedIn: false, lock: 'locked' });
    await page.waitForSelector('#pin');
    assert.ok(await noHorizontalOverflow(page) <= PHONE.width);
    await page.screenshot({ path: `${SHOTS}/pin-360.png` });
    await context.close();
  });
});

describe('big lists, the outbox and the inbox', () => {
  test('10,000 households: at most 60 rows in the page, pages fetched as the list scrolls, the place kept after opening one', async () => {
    const { page, context, errors } = await openApp({ households: 10000, viewport: { width: 360, height: 800 } });
    await page.waitForFunction(() => document.querySelector('#list-count')?.dataset.total === '10004');
    const rowsInDom = () => page.$$eval('.rows > li', (l) => l.length);
    assert.ok(await rowsInDom() <= 60, `rows in the DOM: ${await rowsInDom()}`);
    assert.ok(await page.$$eval('*', (l) => l.length) < 1500, 'the page stays small');
    const firstCalls = await page.evaluate(() => window.__fake.pageCalls);
    // Far down the list: the rows there are fetched and drawn, still at most 60.
    await page.evaluate(() => window.scrollTo(0, 112 * 6000));
    await page.waitForFunction(() => [...document.querySelectorAll('.rows > li')]
      .some((li) => Number(li.dataset.index) > 5990 && li.querySelector('.household-row')));
    assert.ok(await rowsInDom() <= 60);
    assert.ok(await page.evaluate(() => window.__fake.pageCalls) > firstCalls, 'a page was asked for');
    const calls = (await page.evaluate(() => window.__fake.calls)).filter((c) => c.cmd === 'list_households');
    assert.ok(calls.every((c) => c.args.query.limit === 50), 'always one page of 50');
    const opened = await page.evaluate(() => [...document.querySelectorAll('.household-row')]
      .find((r) => r.getBoundingClientRect().top > 200).dataset.id);
    const topBefore = await page.$eval(`.household-row[data-id="${opened}"]`, (e) => e.getBoundingClientRect().top);
    await page.click(`.household-row[data-id="${opened}"]`);
    await page.waitForSelector('#household-detail');
    await page.click('#back');
    await page.waitForSelector(`.household-row[data-id="${opened}"]`);
    await page.waitForTimeout(300);
    const topAfter = await page.$eval(`.household-row[data-id="${opened}"]`, (e) => e.getBoundingClientRect().top);
    assert.ok(Math.abs(topAfter - topBefore) <= 80, `back at the same place: ${topBefore} → ${topAfter} px`);
    await page.screenshot({ path: `${SHOTS}/list-10000-360x800.png` });
    // Back again with a slow backend: the rows drawn before are there at once (no
    // "Memuat…"), while the list is asked again behind them.
    await page.click(`.household-row[data-id="${opened}"]`);
    await page.waitForSelector('#household-detail');
    const asked = await page.evaluate(() => { window.__fake.delay.list_households = 1500; return window.__fake.pageCalls; });
    await page.click('#back');
    await page.waitForSelector(`.household-row[data-id="${opened}"]`, { timeout: 1000 });
    assert.equal(await page.$eval('#list-count', (e) => e.dataset.total), '10004');
    await page.waitForFunction((n) => window.__fake.pageCalls > n, asked);
    await page.evaluate(() => { window.__fake.delay.list_households = 0; });

    // Logged out and in again: the rows and the search kept for "Kembali" are gone with
    // the session — with the backend slow, nothing of the old list is drawn.
    await page.fill('#search', 'Kepala Uji 0');
    await page.click('#logout');
    await page.click('#logout-confirm');
    await page.waitForSelector('#login-user');
    await page.evaluate(() => { window.__fake.delay.list_households = 1500; });
    await page.fill('#login-user', 'kader_uji');
    await page.fill('#login-password', 'rahasia');
    await page.click('#login-submit');
    await page.waitForSelector('#search');
    await page.waitForTimeout(500);
    assert.equal(await page.$('.household-row'), null, 'no row from before the logout');
    assert.equal(await page.inputValue('#search'), '', 'no search from before the logout');
    await page.waitForSelector('.household-row', { timeout: 5000 });
    await page.evaluate(() => { window.__fake.delay.list_households = 0; });
    // Search and filter work on the whole list, paged.
    await page.fill('#search', 'Kepala Uji 09999');
    await page.waitForFunction(() => document.querySelector('#list-count')?.dataset.total === '1');
    assert.deepEqual(await rowIds(page), ['hh-x09999']);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the outbox lists unsent, refused and quarantined work and drafts; a visit made offline waits there', async () => {
    const { page, context, errors } = await openApp();
    await page.evaluate(() => { window.__fake.offline = true; window.__fake.fail.sync_now = undefined; });
    await page.click('.household-row[data-id="hh-0002"]');
    await page.click('#record-visit');
    await page.click('#result-refused');
    await page.click('#save-visit');
    await page.waitForSelector('#household-detail');
    await page.click('#back');
    await page.click('#sync-now');
    await page.waitForFunction(() => /Luring/.test(document.querySelector('#sync-state').textContent));
    assert.match(await page.textContent('.household-row[data-id="hh-0002"]'), /Belum terkirim/);
    await page.click('#open-outbox');
    await page.waitForSelector('#outbox-waiting');
    assert.match(await page.textContent('#outbox-waiting'), /1 rumah tangga menunggu dikirim \(1 kunjungan\)/);
    assert.match(await page.textContent('#outbox-waiting'), /Keluarga Uji Dua/);
    assert.match(await page.textContent('#outbox-refused .refusal'), /^Isian tidak sesuai aturan data/, 'the refusal and why, in Indonesian');
    assert.equal(await page.isVisible('#outbox-refused .detail span'), false, "the server's English waits behind Detail");
    assert.match(await page.textContent('#outbox-quarantined'), /hh-rusak/);
    assert.ok(await noHorizontalOverflow(page) <= 360, 'fits a 360 px phone');
    await page.screenshot({ path: `${SHOTS}/outbox-360x800.png` });
    // Back online, the sync sends it: the outbox empties of it.
    await page.evaluate(() => { window.__fake.offline = false; });
    await page.click('#back');
    await page.click('#sync-now');
    await page.waitForFunction(() => !/Belum terkirim/.test(document.querySelector('.household-row[data-id="hh-0002"]').textContent));
    await page.click('#open-outbox');
    await page.waitForSelector('#outbox-refused');
    assert.equal(await page.$('#outbox-waiting'), null);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("the fasilitator's note reaches the kader: marked in the list and the inbox until read", async () => {
    const { page, context, errors } = await openApp();
    await page.evaluate(() => window.__fake.addNote('hh-0003', 'Tolong cek ulang lantai rumah'));
    await page.click('#sync-now');
    await page.waitForSelector('#inbox-unread');
    assert.match(await page.textContent('#inbox-unread'), /1/);
    assert.match(await page.textContent('.household-row[data-id="hh-0003"]'), /Catatan baru/);
    await page.click('#open-inbox');
    await page.waitForSelector('.inbox-item');
    const item = await page.textContent('.inbox-item');
    assert.match(item, /Catatan dari fasilitator_uji/);
    assert.match(item, /Tolong cek ulang lantai rumah/);
    assert.match(item, /Baru/);
    assert.match(item, /Keluarga Uji Tiga/);
    await page.screenshot({ path: `${SHOTS}/inbox-360x800.png` });
    await page.waitForFunction(() => window.__fake.calls.some((c) => c.cmd === 'inbox_seen'));
    await page.click('.inbox-item .link-row');
    await page.waitForSelector('#household-detail');
    await page.click('#back');
    await page.waitForSelector('#inbox');
    await page.click('#back');
    // The rows drawn before come back first; the list asked again clears the marker.
    await page.waitForFunction(() => {
      const r = document.querySelector('.household-row[data-id="hh-0003"]');
      return r && !/Catatan baru/.test(r.textContent);
    }, null, { timeout: 5000 });
    assert.equal(await page.$('#inbox-unread'), null);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('a long sync', () => {
  test('shows households received and bytes, and the list fills as pages arrive', async () => {
    const { page, context, errors } = await openApp();
    const calls = () => page.evaluate(() => window.__fake.pageCalls);
    const before = await calls();
    await page.evaluate(() => {
      Object.assign(window.__fake.syncState, { syncing: true, progress: { docs_pulled: 200, docs_pushed: 0, bytes_down: 180000, bytes_up: 900, requests: 1, more: true, remaining: null } });
    });
    await page.waitForSelector('#sync-progress', { timeout: 8000 });
    assert.match(await page.textContent('#sync-progress'), /200 rumah tangga · 176\.7 KB · masih berlanjut/);
    await page.waitForFunction((n) => window.__fake.pageCalls > n, before);
    // The next page: the bar counts on, the list asks again.
    const mid = await calls();
    // The server counts what is still to come: received of the whole.
    await page.evaluate(() => { window.__fake.syncState.progress = { ...window.__fake.syncState.progress, docs_pulled: 400, bytes_down: 360000, requests: 2, remaining: 600 }; });
    await page.waitForFunction(() => /400 dari 1000 rumah tangga/.test(document.querySelector('#sync-progress')?.textContent ?? ''));
    await page.waitForFunction((n) => window.__fake.pageCalls > n, mid);
    await page.screenshot({ path: `${SHOTS}/sync-progress-360x800.png` });
    await page.evaluate(() => { Object.assign(window.__fake.syncState, { syncing: false, progress: null }); });
    await page.waitForFunction(() => !document.querySelector('#sync-progress'));
    assert.deepEqual(errors, []);
    await context.close();
  });
});
