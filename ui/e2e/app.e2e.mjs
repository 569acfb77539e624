// Owns: the end-to-end test of the real Jemput app window through tauri-driver
// (WebKitWebDriver): log in, open a household, record a visit, see it in the list; then
// (when configured) the operator imports a registry file through the Registri screen.
//
// Needs: tauri-driver listening on 127.0.0.1:4444 (under Xvfb), a running sync server,
// and env JEMPUT_APP (path to the built app binary), JEMPUT_SERVER, JEMPUT_USER,
// JEMPUT_PASSWORD. The registry part runs only with JEMPUT_OPERATOR (an operator of the
// same kelurahan, same password) and JEMPUT_REGISTRY_FILE (a registry CSV/XLSX of new
// households; JEMPUT_REGISTRY_HOUSEHOLDS of them, default 30). Run: npm run test:e2e
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openAppSession } from './session.mjs';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations of the screen the real webview shows. */
async function axeViolations() {
  await browser.execute(AXE_SOURCE);
  return browser.executeAsync((done) => {
    window.axe.run(document).then((r) => done(r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`)));
  });
}

const TIMEOUT = 20_000;
/** The operator's first sync and the import itself may each take this long. */
const IMPORT_TIMEOUT = 60_000;
const { JEMPUT_APP, JEMPUT_SERVER, JEMPUT_USER, JEMPUT_PASSWORD, JEMPUT_OPERATOR, JEMPUT_REGISTRY_FILE } = process.env;
const REGISTRY_HOUSEHOLDS = Number(process.env.JEMPUT_REGISTRY_HOUSEHOLDS || 30);
/** The PIN the kader chooses on this fresh phone. */
const APP_PIN = process.env.JEMPUT_APP_PIN || '482913';

/** @type {import('webdriverio').Browser} */
let browser;

before(async () => {
  assert.ok(JEMPUT_APP, 'set JEMPUT_APP to the path of the built Jemput app binary');
  assert.ok(JEMPUT_SERVER && JEMPUT_USER && JEMPUT_PASSWORD,
    'set JEMPUT_SERVER, JEMPUT_USER and JEMPUT_PASSWORD for a kader with at least one household');
  browser = await openAppSession(JEMPUT_APP);
});

after(async () => {
  await browser?.deleteSession();
});

/** Today as the app shows dates (dd/mm/yyyy), by the local and the UTC calendar. */
/** Today as the app dates a visit: the day in the kelurahan's zone (WIB, UTC+7), dd/mm/yyyy. */
function todayCandidates() {
  const [y, m, d] = new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10).split('-');
  return [`${d}/${m}/${y}`];
}

/** Click after centring the element, so sticky bars cannot intercept the click. */
async function tap(selector) {
  const el = await browser.$(selector);
  await el.waitForExist({ timeout: TIMEOUT });
  await el.scrollIntoView({ block: 'center' });
  await el.click();
}

async function text(selector) {
  const el = await browser.$(selector);
  return (await el.isExisting()) ? el.getText() : '';
}

/** Fill the login form (server, user, the shared password) and submit it. */
async function logIn(user) {
  await browser.$('#login-user').waitForExist({ timeout: TIMEOUT });
  await browser.$('#login-server').setValue(JEMPUT_SERVER);
  await browser.$('#login-user').setValue(user);
  await browser.$('#login-password').setValue(JEMPUT_PASSWORD);
  await tap('#login-submit');
}

/** Wait for household rows after a login (bootstrap sync); nudge a sync if they are slow. */
async function waitForRows() {
  let nudged = false;
  const started = Date.now();
  await browser.waitUntil(async () => {
    const loginError = await text('#login-error');
    if (loginError) throw new Error(`login failed: ${loginError}`);
    if ((await browser.$$('.household-row')).length > 0) return true;
    if (!nudged && Date.now() - started > 5_000 && (await browser.$('#sync-now').isExisting())) {
      nudged = true;
      await browser.$('#sync-now').click();
    }
    return false;
  }, { timeout: TIMEOUT, interval: 250, timeoutMsg: 'no household rows after login' });
}

async function pickOption(selectId, preferred) {
  const select = await browser.$(`#${selectId}`);
  await select.waitForExist({ timeout: TIMEOUT });
  const values = await browser.execute(
    (id) => Array.from(document.getElementById(id).options).map((o) => o.value), selectId);
  const value = preferred.find((v) => values.includes(v)) ?? values.find((v) => v !== '');
  assert.ok(value, `select #${selectId} has options`);
  // Keep the select clear of the sticky header and save button before clicking its option.
  await select.scrollIntoView({ block: 'center' });
  await select.selectByAttribute('value', value);
  return value;
}

/** Enter a PIN on the lock screen. */
async function enterPin(pin) {
  await browser.$('#pin').waitForExist({ timeout: TIMEOUT });
  await browser.$('#pin').setValue(pin);
  await tap('#pin-submit');
}

test('kader logs in, records a visit, and the list shows it with today and the score', async () => {
  // 0. A new phone asks for a PIN before anything else; it opens the encrypted store.
  await browser.$('#pin-again').waitForExist({ timeout: TIMEOUT }).catch(async (e) => {
    throw new Error(`${e.message}; the window shows: ${(await browser.$('body').getText()).slice(0, 400)}`);
  });
  assert.equal(await browser.$('#login-user').isExisting(), false, 'no login before a PIN');
  await browser.$('#pin').setValue(APP_PIN);
  await browser.$('#pin-again').setValue(APP_PIN);
  await tap('#pin-submit');

  // 1. Log in (a fresh app shows the login screen; an already logged-in one the list).
  await browser.waitUntil(async () =>
    (await browser.$('#login-user').isExisting()) || (await browser.$('.household-row').isExisting()),
  { timeout: TIMEOUT, timeoutMsg: 'neither the login screen nor the list appeared' });
  if (await browser.$('#login-user').isExisting()) await logIn(JEMPUT_USER);

  // 2. The kader's households arrive (bootstrap sync); nudge a sync if they are slow.
  await waitForRows();

  assert.deepEqual(await axeViolations(), [], 'the list in the real webview: no serious axe violation');
  const first = await browser.$('.household-row');
  const id = await first.getAttribute('data-id');
  assert.ok(id, 'rows carry the household id');

  // 3. Open it and start a visit.
  await first.click();
  await browser.$('#household-detail #visits').waitForExist({ timeout: TIMEOUT });
  await tap('#record-visit');
  await browser.$('#visit-form').waitForExist({ timeout: TIMEOUT });
  await tap('#result-found');
  await browser.$('#answered-count').waitForExist({ timeout: TIMEOUT });
  assert.equal(await browser.$('#live-score').isExisting(), false, 'no score while answering');

  // 4. A few answers, then the app is closed: they are a draft in the device store.
  await pickOption('answer-floor_material', ['tanah']);
  await pickOption('answer-cooking_fuel', ['kayu bakar']);
  const meals = await browser.$('#answer-meals_per_day');
  await meals.scrollIntoView({ block: 'center' });
  await meals.setValue('2');
  await tap('#answer-clinic_cost-no');
  await browser.waitUntil(async () => /^4 /.test(await text('#answered-count')),
    { timeout: TIMEOUT, timeoutMsg: 'four answers were not counted' });
  await tap('#back');
  await browser.$('#household-detail').waitForExist({ timeout: TIMEOUT });
  await browser.reloadSession();
  await enterPin(APP_PIN);
  await waitForRows();
  await tap(`.household-row[data-id="${id}"]`);
  await browser.$('#household-detail #visits').waitForExist({ timeout: TIMEOUT });
  await tap('#record-visit');
  await browser.$('#draft-restored').waitForExist({ timeout: TIMEOUT });
  assert.equal(await browser.$('#answer-floor_material').getValue(), 'tanah', 'the draft survived a restart');
  assert.equal(await browser.$('#answer-meals_per_day').getValue(), '2');

  // 5. "Simpan" with ten criteria unanswered is refused and names them; marked
  //    "tidak tahu", the visit saves, incomplete, and the detail shows its score.
  await tap('#save-visit');
  await browser.$('#confirm-missing').waitForExist({ timeout: TIMEOUT });
  assert.equal((await browser.$$('#missing-list li')).length, 10);
  assert.deepEqual(await axeViolations(), [], 'the visit form and its dialog: no serious axe violation');
  await tap('#missing-unknown');
  await tap('#save-visit');
  const scoreText = '4/14';
  const dates = todayCandidates();
  await browser.waitUntil(async () => {
    const visits = await text('#household-detail #visits');
    return dates.some((d) => visits.includes(d)) && visits.includes(scoreText) && /Tidak lengkap/.test(visits);
  }, { timeout: TIMEOUT, timeoutMsg: `detail does not show an incomplete visit dated ${dates.join(' or ')} with ${scoreText}` });

  // 6. Back to the list: the row has today's date and the score.
  await tap('#back');
  const row = browser.$(`.household-row[data-id="${id}"]`);
  await browser.waitUntil(async () => {
    if (!(await row.isExisting())) return false;
    const t = await row.getText();
    return dates.some((d) => t.includes(d)) && t.includes(scoreText);
  }, { timeout: TIMEOUT, timeoutMsg: `row ${id} does not show today's visit with ${scoreText}` });
  assert.match(await row.$('.score').getText(), new RegExp(`^${scoreText.replace('/', '\\/')}$`));
});

test('operator imports the registry file in Registri and sees the households created', {
  skip: JEMPUT_OPERATOR && JEMPUT_REGISTRY_FILE ? false : 'set JEMPUT_OPERATOR and JEMPUT_REGISTRY_FILE to run',
}, async () => {
  // 1. Log out the kader (back to the list first, wherever the last test stopped).
  for (let i = 0; i < 5 && !(await browser.$('#logout').isExisting()) && (await browser.$('#back').isExisting()); i++) {
    await tap('#back');
  }
  // The lock button closes the screen; a wrong PIN is counted, the right one opens it.
  await tap('#lock-now');
  await enterPin('000000');
  await browser.waitUntil(async () => /Sisa 9 kali/.test(await text('#pin-note')),
    { timeout: TIMEOUT, timeoutMsg: 'a wrong PIN did not say how many tries are left' });
  await enterPin(APP_PIN);
  await browser.$('#logout').waitForExist({ timeout: TIMEOUT });
  if (!(await browser.$('#login-user').isExisting())) {
    // Logging out asks first, saying what waits to be sent.
    await tap('#logout');
    await browser.$('#confirm-logout').waitForExist({ timeout: TIMEOUT });
    await tap('#logout-confirm');
  }

  // 2. Log in as the operator on the same device and server; the list fills after the sync.
  await logIn(JEMPUT_OPERATOR);
  await waitForRows();

  // 3. Registri: check the file. Until the operator's first sync has finished the device
  //    does not know its kelurahan ("sync once first"), so check again until a preview shows.
  await tap('[data-testid="nav-registry"]');
  const path = browser.$('[data-testid="registry-path"]');
  await path.waitForExist({ timeout: TIMEOUT });
  // Chosen in the file dialog (answered by JEMPUT_TEST_FILE_DIALOG in this debug build).
  await tap('[data-testid="registry-choose"]');
  await browser.waitUntil(async () => (await path.getValue()) === JEMPUT_REGISTRY_FILE,
    { timeout: TIMEOUT, timeoutMsg: 'the file dialog did not fill the path' });
  const check = browser.$('[data-testid="registry-check"]');
  const preview = browser.$('[data-testid="registry-preview"]');
  let checkError = '';
  await browser.waitUntil(async () => {
    if (await preview.isExisting()) return true;
    if (await check.isEnabled()) {
      checkError = await text('#registry-error');
      await tap('[data-testid="registry-check"]');
    }
    return false;
  }, {
    timeout: IMPORT_TIMEOUT, interval: 1_500,
    timeoutMsg: () => `no preview of ${JEMPUT_REGISTRY_FILE}; last error: ${checkError || '(none)'}`,
  });
  assert.equal(await text('[data-testid="registry-households"]'), String(REGISTRY_HOUSEHOLDS),
    'the preview counts the households of the file');
  // The file holds new households only: as a whole registry it would mark every stored
  // household missing, so the preview stops it and offers no import ...
  assert.match(await text('#registry-stop'), /kurang dari 50 %/, 'a whole-registry import of this file stops');
  assert.equal(await browser.$('[data-testid="registry-import"]').isEnabled(), false);
  // ... as the part of the registry it is, it adds them.
  await tap('[data-testid="registry-partial"]');
  await tap('[data-testid="registry-check"]');
  await preview.waitForExist({ timeout: IMPORT_TIMEOUT });
  assert.equal(await browser.$('#registry-stop').isExisting(), false);
  assert.equal(await text('[data-testid="registry-will-create"]'), String(REGISTRY_HOUSEHOLDS));

  // 4. Import; the result shows every household of the file created.
  await tap('[data-testid="registry-import"]');
  let importError = '';
  await browser.waitUntil(async () => {
    importError = await text('#registry-error');
    return importError !== '' || browser.$('[data-testid="registry-result"]').isExisting();
  }, { timeout: IMPORT_TIMEOUT, interval: 250, timeoutMsg: 'no import result within 60 s' });
  assert.equal(importError, '', `the import failed: ${importError}`);
  assert.equal(await text('[data-testid="registry-created"]'), String(REGISTRY_HOUSEHOLDS),
    `${REGISTRY_HOUSEHOLDS} households created; result: ${await text('[data-testid="registry-result"]')}`);

  // 5. The round's dashboard, from this device's own replica: the households just
  // imported count, and Chart.js draws in the real webview.
  await tap('#back');
  await tap('#open-dashboard');
  await browser.waitUntil(async () => await browser.$('#tile-households').isExisting()
    || browser.$('#dashboard-error').isExisting(), { timeout: 20000, timeoutMsg: 'no dashboard within 20 s' });
  assert.equal(await text('#dashboard-error'), '', 'the dashboard shows no error');
  const households = Number(await text('#tile-households .tile-value'));
  assert.ok(households >= REGISTRY_HOUSEHOLDS, `the dashboard counts ${households} households`);
  // The RW table under the bars (a phone) or across the page (this window): the same.
  const totals = await browser.execute(() => [...document.querySelectorAll('.figures tr.total td:first-of-type')]
    .map((td) => td.textContent));
  assert.deepEqual(totals, [String(households), String(households)], 'the tables back the tile');
  await browser.waitUntil(() => browser.execute(() => {
    const c = document.querySelector('#chart-rw');
    if (!c || c.width === 0) return false;
    const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
    return false;
  }), { timeout: 10000, timeoutMsg: 'the bar chart was not drawn' });
});

test('operator holds a Muskel: decides the field\'s proposal, closes it, saves the minutes', {
  skip: JEMPUT_OPERATOR && process.env.JEMPUT_TEST_SAVE_DIR ? false : 'set JEMPUT_OPERATOR and JEMPUT_TEST_SAVE_DIR to run',
}, async () => {
  // From wherever the last test stopped, back to the list, then the Muskel.
  for (let i = 0; i < 5 && (await browser.$('#back').isExisting()); i++) await tap('#back');
  await tap('#open-muskel');
  await browser.$('#muskel-new').waitForExist({ timeout: TIMEOUT });
  await tap('#muskel-new');
  await browser.$('#muskel-place').setValue('Balai Kelurahan');
  await browser.$('#muskel-attendees').setValue('21');
  await browser.$('#official-name-0').setValue('Sutrisno Hadi');
  await tap('#muskel-create');
  // The household RW 2's kader proposed (scripts/e2e.sh) waits on the agenda.
  const item = browser.$('.proposal-item*=Keluarga Usulan Muskel');
  await item.waitForExist({ timeout: TIMEOUT });
  await tap(`#${await item.$('button[id$="-approved"]').getAttribute('id')}`);
  await browser.$('#decision-reason').setValue('Layak masuk DTSEN');
  await tap('#decision-save');
  await browser.$('.decision.outcome-approved').waitForExist({ timeout: TIMEOUT });
  await tap('#muskel-close');
  await browser.$('#confirm-muskel-close').waitForExist({ timeout: TIMEOUT });
  await tap('#muskel-close-confirm');
  await browser.$('#muskel-closed').waitForExist({ timeout: TIMEOUT });
  assert.match(await text('#muskel-counts'), /Disetujui 1, ditolak 0, ditunda 0/);
  await tap('#muskel-minutes');
  await browser.$('#muskel-saved').waitForExist({ timeout: TIMEOUT });
  const saved = (await text('#muskel-saved')).replace(/^Tersimpan: /, '');
  assert.ok(saved.startsWith(process.env.JEMPUT_TEST_SAVE_DIR) && saved.endsWith('.pdf'), saved);
  const pdf = readFileSync(saved);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-', 'a PDF was written');
});
