// Owns: the UI tests of the round's dashboard — the built UI in headless Chromium with the
// fake backend (fake-tauri.mjs): figures and tables, both charts drawn, another period,
// English, a phone's 360 px and a desktop, and who is offered it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, PHONE, SHOTS, useBrowser } from './page.mjs';

const DESKTOP = { width: 1280, height: 900 };
const COLUMNS = ['households', 'visited', 'found', 'not_found', 'moved', 'died', 'refused', 'poor',
  'incomplete', 'open_conflicts', 'pending_proposals'];

const shared = useBrowser();

async function openDashboard({ viewport = PHONE, user = 'operator_uji' } = {}) {
  const opened = await openPage(shared, { viewport, user });
  await opened.page.click('#open-dashboard');
  await opened.page.waitForSelector('#tile-households');
  return opened;
}

/** The numbers of each body row of a figures table, by its first cell. */
const tableRows = (page, id) => page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => ({
  name: tr.querySelector('th').textContent,
  numbers: [...tr.querySelectorAll('td')].map((td) => Number(td.textContent)),
})));

/** How many pixels of a canvas something was drawn on. */
const inkOn = (page, id) => page.$eval(`#${id}`, (c) => {
  const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
  return n;
});

describe('dashboard', () => {
  test('shows the round per RW, RT, kader and week, each chart over its table, at 360 px', async () => {
    const { page, context, errors } = await openDashboard();
    const calls = await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === 'dashboard'));
    assert.deepEqual(calls.at(-1).args, { period: null }, 'the current period first');
    const d = await page.evaluate(() => window.__TAURI_INTERNALS__.invoke('dashboard', { period: null }));

    // Every RW line and the total, figure by figure as the backend sent them.
    const rws = await tableRows(page, 'table-rw');
    assert.equal(rws.length, 25, '24 RWs and the total');
    for (const [i, f] of d.rws.entries()) {
      assert.equal(rws[i].name, `RW ${String(f.rw).padStart(3, '0')}`);
      assert.deepEqual(rws[i].numbers, COLUMNS.map((k) => f[k]), `RW ${f.rw}`);
    }
    assert.equal(rws[24].name, 'Jumlah');
    assert.deepEqual(rws[24].numbers, COLUMNS.map((k) => d.total[k]));
    const pct = Math.floor((d.total.visited * 100) / d.total.households);
    assert.equal(await page.textContent('#tile-visited .tile-value'), `${d.total.visited} (${pct}%)`);
    assert.equal(await page.textContent('#tile-households .tile-value'), String(d.total.households));
    assert.match(await page.textContent('#dashboard-range'), /\d{2}\/\d{2}\/\d{4} s\.d\. \d{2}\/\d{2}\/\d{4} \(WIB\)/);

    // The weeks' table backs the line; the kaders' table lists each with their visits.
    const weeks = await page.$$eval('#table-weeks tbody tr td', (tds) => tds.map((td) => Number(td.textContent)));
    assert.deepEqual(weeks, d.weeks.map((w) => w.visits));
    assert.equal(weeks.reduce((a, b) => a + b, 0), d.total.visited);
    assert.equal(await page.textContent('#table-kaders tr[data-user="kader_rw05"] td'), String(d.rws[4].visited));

    // Both charts are drawn, inside the phone's width, and the page never scrolls sideways.
    await page.waitForFunction(() => document.querySelector('#chart-rw')?.width > 0);
    assert.ok(await inkOn(page, 'chart-rw') > 1000, 'the bars are drawn');
    assert.ok(await inkOn(page, 'chart-weeks') > 200, 'the line is drawn');
    assert.equal(await page.getAttribute('#chart-rw', 'role'), 'img');
    const box = await page.$eval('#chart-rw', (c) => c.getBoundingClientRect().width);
    assert.ok(box <= 360 && box > 250, `the bar chart fits the phone: ${box}`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'no sideways scroll');
    await page.screenshot({ path: `${SHOTS}/dashboard-360.png`, fullPage: true });

    // Per RT, folded until asked.
    await page.click('#per-rt summary');
    const rts = await tableRows(page, 'table-rt');
    assert.equal(rts.length, 48);
    assert.deepEqual(rts[0].numbers.map((n, i) => n + rts[1].numbers[i]), rws[0].numbers, "RW 001's RTs add up to it");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('another period asks the backend again; a quarter and a month with no visits', async () => {
    const { page, context, errors } = await openDashboard();
    const options = await page.$$eval('#dashboard-period option', (os) => os.map((o) => o.value));
    assert.equal(options.length, 17, 'this period, 12 months, 4 quarters');
    const pastMonth = options[2];
    await page.selectOption('#dashboard-period', pastMonth);
    await page.waitForFunction(() => document.querySelector('#tile-visited .tile-value')?.textContent === '0 (0%)');
    const calls = await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === 'dashboard'));
    assert.deepEqual(calls.at(-1).args, { period: pastMonth });
    assert.ok(await page.$('#kaders-none'), 'no kader visited in that month');
    const quarter = options[13];
    assert.match(quarter, /^\d{4}-Q[1-4]$/);
    await page.selectOption('#dashboard-period', quarter);
    await page.waitForFunction(() => document.querySelector('#tile-visited .tile-value')?.textContent !== '0 (0%)');
    assert.match(await page.textContent('#dashboard-range'), /^01\/\d{2}\/\d{4}/, 'a quarter starts on the 1st');
    // The choice stays when the screen is left and opened again.
    await page.click('#back');
    await page.click('#open-dashboard');
    await page.waitForSelector('#tile-households');
    assert.equal(await page.inputValue('#dashboard-period'), quarter);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('on a desktop the charts stand side by side; in English on request', async () => {
    const { page, context, errors } = await openDashboard({ viewport: DESKTOP, user: 'fasilitator_uji' });
    await page.waitForFunction(() => document.querySelector('#chart-weeks')?.width > 0);
    const [rw, weeks] = await page.$$eval('.charts > section', (ss) => ss.map((s) => s.getBoundingClientRect()));
    assert.ok(Math.abs(rw.top - weeks.top) < 2 && weeks.left > rw.right - 1, 'side by side');
    // The RW table spans the page under both charts, every column in view.
    assert.equal(await page.isVisible('#table-rw'), false);
    const table = await page.$eval('#table-rw-wide', (t) => t.getBoundingClientRect());
    assert.ok(table.top > Math.max(rw.bottom, weeks.bottom) && table.width > 900, JSON.stringify(table));
    const scroll = await page.$eval('#table-rw-wide', (t) => t.parentElement.scrollWidth - t.parentElement.clientWidth);
    assert.equal(scroll, 0, 'no column hidden behind a scroll');
    await page.screenshot({ path: `${SHOTS}/dashboard-1280.png`, fullPage: true });
    await page.click('#lang-toggle');
    await page.waitForFunction(() => /Progress per RW/.test(document.body.textContent));
    assert.match(await page.textContent('#table-rw-wide thead'), /Households.*Visited.*Pending proposals/);
    assert.equal((await tableRows(page, 'table-rw-wide'))[24].name, 'Total');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a kader is not offered the dashboard', async () => {
    const { page, context } = await openPage(shared, { user: 'kader_uji' });
    assert.equal(await page.$('#open-dashboard'), null);
    const refused = await page.evaluate(() => window.__TAURI_INTERNALS__.invoke('dashboard', { period: null })
      .then(() => null, (e) => e.code));
    assert.equal(refused, 'forbidden');
    await context.close();
  });
});
