// Owns: the list of every screen of the app and how to reach it with the mocked IPC
// (fake-tauri.mjs). The accessibility test walks all of them; a new screen is added
// here. Each entry: `name`, the fake's start (`user`, `lock`, `loggedIn`) and `reach`,
// which drives the page from the first screen to it and waits until it shows.

const LOGIN = async (page, user) => {
  await page.fill('#login-user', user);
  await page.fill('#login-password', 'rahasia');
  await page.click('#login-submit');
  await page.waitForSelector('.household-row');
};

const openHousehold = async (page, id) => {
  await page.click(`.household-row[data-id="${id}"]`);
  await page.waitForSelector('#household-detail #visits');
};

const visitForm = async (page) => {
  await openHousehold(page, 'hh-0002');
  await page.click('#record-visit');
  await page.click('#result-found');
  await page.click('#add-member');
  await page.waitForSelector('#answer-floor_material');
};

export const SCREENS = [
  { name: 'PIN, new phone', lock: 'new_pin', loggedIn: false, reach: async (page) => page.waitForSelector('#pin-again') },
  { name: 'PIN, locked', lock: 'locked', loggedIn: false, reach: async (page) => page.waitForSelector('#pin') },
  { name: 'login', loggedIn: false, reach: async (page) => page.waitForSelector('#login-user') },
  { name: 'household list', reach: async () => undefined },
  {
    name: 'logout confirmation',
    reach: async (page) => { await page.click('#logout'); await page.waitForSelector('#confirm-logout'); },
  },
  { name: 'household detail (conflict, warnings)', reach: async (page) => openHousehold(page, 'hh-0003') },
  { name: 'visit form (new member, criteria)', reach: visitForm },
  {
    name: 'visit form, missing criteria',
    reach: async (page) => { await visitForm(page); await page.click('#save-visit'); await page.waitForSelector('#confirm-missing'); },
  },
  {
    name: 'visit form, draft restored',
    reach: async (page) => {
      await visitForm(page);
      await page.selectOption('#answer-floor_material', 'tanah');
      await page.click('#back');
      await page.click('#record-visit');
      await page.waitForSelector('#draft-restored');
    },
  },
  {
    name: 'history',
    reach: async (page) => { await openHousehold(page, 'hh-0003'); await page.click('#open-history'); await page.waitForSelector('.history-entry'); },
  },
  { name: 'propose a household', reach: async (page) => { await page.click('#propose-new'); await page.waitForSelector('#propose-form'); } },
  { name: 'outbox', reach: async (page) => { await page.click('#open-outbox'); await page.waitForSelector('#outbox-refused'); } },
  {
    name: 'inbox',
    reach: async (page) => {
      await page.evaluate(() => window.__fake.addNote('hh-0003', 'Cek ulang lantai'));
      await page.click('#open-inbox');
      await page.waitForSelector('.inbox-item');
    },
  },
  {
    name: 'complaints (kader), new complaint form',
    reach: async (page) => { await page.click('#open-complaints'); await page.click('#case-new'); await page.waitForSelector('#case-form'); },
  },
  {
    name: 'complaints (operator), closing',
    user: 'operator_uji',
    reach: async (page) => {
      await page.click('#open-complaints');
      await page.click('#case-close-cs-old');
      await page.fill('#case-outcome', 'Dicek');
      await page.fill('#case-note', 'Sudah dikunjungi');
      await page.click('#case-close-save');
      await page.waitForSelector('#confirm-case-close');
    },
  },
  {
    name: 'Muskel, new session form',
    user: 'operator_uji',
    reach: async (page) => { await page.click('#open-muskel'); await page.click('#muskel-new'); await page.waitForSelector('#muskel-form'); },
  },
  {
    name: 'Muskel, deciding and closing',
    user: 'fasilitator_uji',
    reach: async (page) => {
      await page.click('#open-muskel');
      await page.click('#muskel-new');
      await page.fill('#muskel-place', 'Balai Kelurahan');
      await page.fill('#muskel-attendees', '20');
      await page.fill('#official-name-0', 'Sutrisno');
      await page.click('#muskel-create');
      await page.click('.proposal-item[data-household="hh-0004"] button[id$="-approved"]');
      await page.fill('#decision-reason', 'Layak');
      await page.click('#decision-save');
      await page.waitForSelector('.proposal-item[data-household="hh-0004"] .decision');
      await page.click('#muskel-close');
      await page.waitForSelector('#confirm-muskel-close');
    },
  },
  {
    name: 'dashboard (operator)',
    user: 'operator_uji',
    reach: async (page) => { await page.click('#open-dashboard'); await page.waitForSelector('#table-rw tr.total'); },
  },
  { name: 'review (fasilitator)', user: 'fasilitator_uji', reach: async (page) => { await page.click('#open-review'); await page.waitForSelector('.conflict-item'); } },
  {
    name: 'review, decision confirmation',
    user: 'fasilitator_uji',
    reach: async (page) => {
      await page.click('#open-review');
      await page.click('.conflict-item[data-id="c-001"] .choice-pick[data-n="1"]');
      await page.waitForSelector('#confirm-decide');
    },
  },
  {
    name: 'registry (operator), preview',
    user: 'operator_uji',
    reach: async (page) => {
      await page.click('[data-testid="nav-registry"]');
      await page.fill('[data-testid="registry-path"]', '/home/operator/DTKS-2026-11.xlsx');
      await page.click('[data-testid="registry-check"]');
      await page.waitForSelector('[data-testid="registry-preview"]');
    },
  },
  {
    name: 'registry (operator), another kelurahan\'s file stopped',
    user: 'operator_uji',
    reach: async (page) => {
      await page.click('[data-testid="nav-registry"]');
      await page.fill('[data-testid="registry-path"]', '/home/operator/kelurahan-lain.xlsx');
      await page.click('[data-testid="registry-check"]');
      await page.waitForSelector('#registry-stop');
    },
  },
  {
    name: 'registry (operator), export with unsent work',
    user: 'operator_uji',
    reach: async (page) => {
      await page.evaluate(() => window.__fake.markUnsent('hh-0001'));
      await page.click('[data-testid="nav-registry"]');
      await page.fill('[data-testid="export-path"]', '/home/operator/pemutakhiran.xlsx');
      await page.click('[data-testid="export-run"]');
      await page.waitForSelector('#export-unsent');
    },
  },
  {
    name: 'registry (operator), confirm marking many missing',
    user: 'operator_uji',
    reach: async (page) => {
      await page.click('[data-testid="nav-registry"]');
      await page.fill('[data-testid="registry-path"]', '/home/operator/hilang-banyak.xlsx');
      await page.click('[data-testid="registry-check"]');
      await page.waitForSelector('#registry-stop');
      await page.click('[data-testid="registry-import"]');
      await page.waitForSelector('#registry-confirm-missing');
    },
  },
];

export { LOGIN };
