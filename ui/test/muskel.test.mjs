// Owns: the UI tests of the Muskel screen — the built UI in headless Chromium with the
// fake backend: a session opened, proposals decided with a reason each, closing asked
// first, the minutes and the SIKS-NG list saved; offline; who is offered it; 360 px.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, SHOTS, useBrowser } from './page.mjs';

const shared = useBrowser();

async function openMuskel({ user = 'operator_uji', offline = false } = {}) {
  const opened = await openPage(shared, { user });
  if (offline) await opened.page.evaluate(() => { window.__fake.muskelOffline = true; });
  await opened.page.click('#open-muskel');
  await opened.page.waitForSelector('#sessions-title');
  return opened;
}

const calls = (page, cmd) => page.evaluate((c) => window.__fake.calls.filter((x) => x.cmd === c), cmd);

async function openSession(page) {
  await page.click('#muskel-new');
  assert.equal(await page.inputValue('#official-position-0'), 'Lurah', 'positions offered');
  // Nothing typed: the form says what is missing and sends nothing.
  await page.click('#muskel-create');
  assert.match(await page.textContent('#muskel-form-error'), /tempat/i);
  assert.equal((await calls(page, 'muskel_new')).length, 0);
  await page.fill('#muskel-place', 'Balai Kelurahan Purwantoro');
  await page.fill('#muskel-attendees', '23');
  await page.fill('#official-name-0', 'Sutrisno Hadi');
  await page.fill('#official-name-1', 'Wahyuni');
  await page.click('#muskel-create');
  await page.waitForSelector('#muskel-session');
  const sent = (await calls(page, 'muskel_new')).at(-1).args.session;
  assert.equal(sent.attendees, 23);
  assert.deepEqual(sent.officials, [
    { name: 'Sutrisno Hadi', position: 'Lurah' }, { name: 'Wahyuni', position: 'Ketua Puskesos' }]);
}

async function decide(page, household, outcome, reason) {
  await page.click(`.proposal-item[data-household="${household}"] button[id$="-${outcome}"]`);
  if (reason !== null) await page.fill('#decision-reason', reason);
  await page.click('#decision-save');
}

describe('Muskel', () => {
  test('opens a session, decides each proposal with a reason, asks before closing, saves the minutes', async () => {
    const { page, context, errors } = await openMuskel();
    assert.match(await page.textContent('#sessions-title + p'), /Belum ada sesi/);
    // The month's deadline: day 14, counted from today until a session is held.
    const now = new Date();
    const left = 14 - now.getDate();
    assert.match(await page.textContent('#muskel-deadline'), /paling lambat 14\//);
    assert.match(await page.textContent('#muskel-deadline-left'),
      left < 0 ? new RegExp(`terlambat ${-left} hari`) : new RegExp(`sisa ${left} hari`));
    await openSession(page);
    await page.waitForSelector('#muskel-deadline-met');
    assert.match(await page.textContent('#agenda-title'), /001\/BA-MUSKEL\//);
    const items = await page.$$eval('.proposal-item', (els) => els.map((e) => e.dataset.household));
    assert.deepEqual(items.sort(), ['hh-0003', 'hh-0004'], 'the moved household and the field proposal');
    assert.match(await page.textContent('.proposal-item[data-household="hh-0004"]'), /Usulan baru.*Rumah tangga baru/);
    assert.match(await page.textContent('.proposal-item[data-household="hh-0003"]'), /Usulan hapus.*Pindah/);

    // A decision needs its reason.
    await decide(page, 'hh-0004', 'approved', null);
    assert.match(await page.textContent('#decision-error'), /alasan/i);
    assert.equal((await calls(page, 'muskel_decide')).length, 0);
    await page.fill('#decision-reason', 'Layak masuk DTSEN');
    await page.click('#decision-save');
    await page.waitForSelector('.proposal-item[data-household="hh-0004"] .decision.outcome-approved');
    assert.deepEqual((await calls(page, 'muskel_decide')).at(-1).args,
      { session: 'ms-1', household: 'hh-0004', kind: 'add', outcome: 'approved', reason: 'Layak masuk DTSEN' });
    await decide(page, 'hh-0003', 'deferred', 'Dicari lagi bulan depan');
    await page.waitForSelector('.proposal-item[data-household="hh-0003"] .decision.outcome-deferred');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'no sideways scroll');
    await page.screenshot({ path: `${SHOTS}/muskel-360.png`, fullPage: true });

    // Closing cannot be undone: it asks first; cancel keeps it open.
    await page.click('#muskel-close');
    assert.match(await page.textContent('#confirm-muskel-close'), /2 keputusan menjadi tetap/);
    await page.click('#muskel-close-cancel');
    assert.equal((await calls(page, 'muskel_close')).length, 0);
    await page.click('#muskel-close');
    await page.click('#muskel-close-confirm');
    await page.waitForSelector('#muskel-closed');
    assert.match(await page.textContent('#muskel-counts'), /Disetujui 1, ditolak 0, ditunda 1/);
    const siks = new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate() + 7));
    const dd = (n) => String(n).padStart(2, '0');
    assert.match(await page.textContent('#muskel-siks-due'),
      new RegExp(`paling lambat ${dd(siks.getUTCDate())}/${dd(siks.getUTCMonth() + 1)}/${siks.getUTCFullYear()}`));
    assert.equal(await page.$('#muskel-close'), null, 'a closed session takes no decision');

    // The minutes and the SIKS-NG list go where the person chooses.
    await page.evaluate(() => { window.__fake.dialog = '/home/operator/Download/ba.pdf'; });
    await page.click('#muskel-minutes');
    await page.waitForSelector('#muskel-saved');
    assert.match(await page.textContent('#muskel-saved'), /ba\.pdf/);
    assert.deepEqual(await page.evaluate(() => window.__fake.dialogAsked), { mode: 'save', extensions: ['pdf'] });
    assert.match(await page.evaluate(() => window.__fake.dialogName), /^001-BA-MUSKEL-XII-\d{4}\.pdf$|^001-BA-MUSKEL-[IVX]+-\d{4}\.pdf$/);
    await page.evaluate(() => { window.__fake.dialog = '/home/operator/Download/siks.xlsx'; });
    await page.click('#muskel-siks');
    await page.waitForFunction(() => /siks\.xlsx/.test(document.querySelector('#muskel-saved')?.textContent ?? ''));
    const written = await page.evaluate(() => window.__fake.written);
    assert.deepEqual(written.map((w) => [w.what, w.id, w.path]), [
      ['minutes', 'ms-1', '/home/operator/Download/ba.pdf'], ['siks', 'ms-1', '/home/operator/Download/siks.xlsx']]);
    // A cancelled dialog writes nothing.
    await page.evaluate(() => { window.__fake.dialog = null; });
    await page.click('#muskel-minutes');
    await page.waitForTimeout(100);
    assert.equal((await page.evaluate(() => window.__fake.written)).length, 2);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('offline: the sessions as kept, no decision offered; in English on request', async () => {
    const { page, context, errors } = await openMuskel({ user: 'fasilitator_uji', offline: true });
    assert.match(await page.textContent('#muskel-offline'), /Luring/);
    assert.equal(await page.$('#muskel-new'), null, 'a session is opened on the server');
    await page.click('#lang-toggle');
    await page.waitForFunction(() => /Village meeting/.test(document.body.textContent));
    assert.match(await page.textContent('#muskel-offline'), /Offline/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a kader and an admin are not offered the Muskel', async () => {
    for (const user of ['kader_uji', 'admin_uji']) {
      const { page, context } = await openPage(shared, { user });
      assert.equal(await page.$('#open-muskel'), null, user);
      await context.close();
    }
  });
});
