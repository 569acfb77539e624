// Owns: the in-memory fake of the Jemput Tauri backend, installed in the page as
// window.__TAURI_INTERNALS__ (what @tauri-apps/api/core `invoke` calls). All people are
// synthetic. Tests steer it through window.__fake (failures to inject, call log, the
// registry import's step delay and the saved column mapping). Events (`registry-progress`)
// reach `listen` handlers the way Tauri delivers them: `plugin:event|listen` registers the
// handler id from `transformCallback`, and the fake calls window[`_${id}`]({event, id, payload}).

/** Runs inside the page (serialised by page.addInitScript); must be self-contained.
 *  `opts.lock`: the PIN lock at start — 'open' (default: the PIN was entered),
 *  'locked' (enter PIN 246810) or 'new_pin' (a new phone). */
export function installFakeTauri(opts = {}) {
  const today = () => {
    const d = new Date();
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  };

  const criteria = [
    { n: 1, id: 'floor_area_per_person', label_id: 'Luas lantai kurang dari 8 m² per orang', label_en: 'Floor area is less than 8 m² per person', answer: { kind: 'number', unit: 'm²' } },
    { n: 2, id: 'floor_material', label_id: 'Lantai tanah/bambu/kayu murahan', label_en: 'Floor is earth, bamboo or cheap wood', answer: { kind: 'option', options: ['keramik/marmer/granit', 'ubin/tegel/teraso', 'semen/bata merah', 'kayu/papan kualitas tinggi', 'kayu murahan', 'bambu', 'tanah', 'lainnya'] } },
    { n: 3, id: 'wall_material', label_id: 'Dinding bambu/rumbia/kayu rendah/tembok tanpa plester', label_en: 'Walls are bamboo, thatch, low-quality wood or unplastered brick', answer: { kind: 'option', options: ['tembok diplester', 'tembok tanpa plester', 'kayu/papan kualitas tinggi', 'kayu kualitas rendah', 'bambu', 'rumbia', 'lainnya'] } },
    { n: 4, id: 'toilet', label_id: 'Tidak punya jamban/bersama', label_en: 'No toilet, or a shared one', answer: { kind: 'option', options: ['sendiri', 'bersama', 'umum', 'tidak ada'] } },
    { n: 5, id: 'lighting', label_id: 'Penerangan bukan listrik', label_en: 'Lighting is not electric', answer: { kind: 'option', options: ['listrik PLN dengan meteran', 'listrik PLN tanpa meteran', 'listrik non-PLN', 'bukan listrik'] } },
    { n: 6, id: 'drinking_water', label_id: 'Air minum dari sumur/mata air tak terlindung/sungai/hujan', label_en: 'Drinking water unprotected, river or rain', answer: { kind: 'option', options: ['air kemasan/isi ulang', 'leding', 'sumur bor/pompa', 'sumur terlindung', 'sumur tak terlindung', 'mata air terlindung', 'mata air tak terlindung', 'sungai/danau', 'air hujan', 'lainnya'] } },
    { n: 7, id: 'cooking_fuel', label_id: 'Memasak dengan kayu bakar/arang/minyak tanah', label_en: 'Cooks with firewood, charcoal or kerosene', answer: { kind: 'option', options: ['listrik', 'gas/LPG', 'minyak tanah', 'arang', 'kayu bakar', 'lainnya'] } },
    { n: 8, id: 'protein_per_week', label_id: 'Makan daging/susu/ayam satu kali seminggu', label_en: 'Meat, milk or chicken once a week', answer: { kind: 'number', unit: 'x/minggu' } },
    { n: 9, id: 'clothes_per_year', label_id: 'Membeli satu stel pakaian setahun', label_en: 'One new set of clothes a year', answer: { kind: 'number', unit: 'stel' } },
    { n: 10, id: 'meals_per_day', label_id: 'Makan satu/dua kali sehari', label_en: 'One or two meals a day', answer: { kind: 'number', unit: 'x/hari' } },
    { n: 11, id: 'clinic_cost', label_id: 'Sanggup membayar berobat ke puskesmas?', label_en: 'Can pay for treatment at a puskesmas?', answer: { kind: 'yes_no' } },
    { n: 12, id: 'head_income_source', label_id: 'Sumber penghasilan kepala rumah tangga', label_en: 'Income source of the household head', answer: { kind: 'income_source', occupations: ['petani', 'buruh tani', 'nelayan', 'buruh bangunan', 'buruh perkebunan', 'lainnya'] } },
    { n: 13, id: 'head_education', label_id: 'Pendidikan kepala rumah tangga paling tinggi SD', label_en: 'Head has at most primary schooling', answer: { kind: 'option', options: ['tidak sekolah', 'tidak tamat SD', 'SD', 'SMP', 'SMA', 'diploma/sarjana'] } },
    { n: 14, id: 'savings', label_id: 'Tidak punya tabungan/barang ≥ Rp 500.000', label_en: 'No savings or goods worth Rp 500,000', answer: { kind: 'number', unit: 'Rp' } },
  ];
  const indicatorSet = { id: 'bps14', version: '2005.1', poor_if_met_at_least: 9, criteria };

  const meets = {
    floor_area_per_person: (v, size) => v / Math.max(size, 1) < 8,
    floor_material: (v) => ['tanah', 'bambu', 'kayu murahan'].includes(v),
    wall_material: (v) => ['tembok tanpa plester', 'kayu kualitas rendah', 'bambu', 'rumbia'].includes(v),
    toilet: (v) => ['bersama', 'umum', 'tidak ada'].includes(v),
    lighting: (v) => v === 'bukan listrik',
    drinking_water: (v) => ['sumur tak terlindung', 'mata air tak terlindung', 'sungai/danau', 'air hujan'].includes(v),
    cooking_fuel: (v) => ['minyak tanah', 'arang', 'kayu bakar'].includes(v),
    protein_per_week: (v) => v <= 1,
    clothes_per_year: (v) => v <= 1,
    meals_per_day: (v) => v <= 2,
    clinic_cost: (v) => v === false,
    head_income_source: (v) => (v.occupation === 'petani' && v.land_m2 <= 500)
      || ['buruh tani', 'nelayan', 'buruh bangunan', 'buruh perkebunan'].includes(v.occupation)
      || v.income_rp < 600000,
    head_education: (v) => ['tidak sekolah', 'tidak tamat SD', 'SD'].includes(v),
    savings: (v) => v < 500000,
  };

  function score(h, answers) {
    const size = Object.values(h.members).filter((m) => (m.presence ?? 'lives_here') === 'lives_here').length;
    const met = [];
    const unanswered = [];
    const unknown = [];
    for (const c of criteria) {
      const v = answers[c.id];
      if (v === undefined || v === null) { unanswered.push(c.id); continue; }
      if (v === 'tidak_tahu') { unknown.push(c.id); continue; }
      if (meets[c.id](v, size)) met.push(c.id);
    }
    return { met, score: met.length, poor: met.length >= 9, unanswered, unknown, incomplete: unanswered.length + unknown.length > 0 };
  }

  const member = (name, relation, sex, birth, nik) =>
    ({ name, relation, sex, birth_date: birth, nik, presence: 'lives_here' });
  const allMet = {
    floor_area_per_person: 10, floor_material: 'tanah', wall_material: 'bambu', toilet: 'umum',
    lighting: 'listrik PLN tanpa meteran', drinking_water: 'sumur tak terlindung', cooking_fuel: 'kayu bakar',
    protein_per_week: 1, clothes_per_year: 1, meals_per_day: 2, clinic_cost: false,
    head_income_source: { occupation: 'buruh tani', land_m2: 0, income_rp: 400000 },
    head_education: 'SD', savings: 100000,
  };

  const households = {
    'hh-0001': {
      id: 'hh-0001', proposal: false, status: 'found',
      identity: { id_dtks: 'DTKS-UJI-0001', idbdt: 'BDT-UJI-0001', kk: '3573010101900001', address: 'Jl. Contoh Satu No. 1', kelurahan: '35.73.01.1007', kelurahan_bps: '3573010007', rw: 3, rt: 1 },
      registry: { desil: 1, programmes: { pkh: true, bpnt: true, pbi_jk: true, kip: false }, imported: Date.UTC(2026, 10, 3, 3, 0) },
      members: {
        m1: member('Keluarga Uji Satu', 'head', 'L', '1990-01-01', '3573010101900001'),
        m2: member('Istri Uji Satu', 'spouse', 'P', '1992-02-02', '3573014202920002'),
        m3: member('Anak Uji Satu', 'child', 'L', '2015-03-03', '3573010303150003'),
      },
      visits: {},
      conflicts: [],
    },
    'hh-0002': {
      id: 'hh-0002', proposal: false, status: null,
      identity: { id_dtks: 'DTKS-UJI-0002', kk: '3573010101900002', address: 'Jl. Contoh Dua No. 2', kelurahan: '35.73.01.1007', kelurahan_bps: '3573010007', rw: 3, rt: 2 },
      registry: { desil: 3, programmes: { pkh: false, bpnt: true, pbi_jk: false, kip: false } },
      members: {
        m1: member('Keluarga Uji Dua', 'head', 'P', '1985-05-05', '3573014505850001'),
        m2: member('Anak Uji Dua', 'child', 'P', '2010-06-06', '3573014606100002'),
      },
      visits: {},
      conflicts: [],
    },
    'hh-0003': {
      id: 'hh-0003', proposal: false, status: 'found',
      identity: { id_dtks: 'DTKS-UJI-0003', kk: '3573010101900003', address: 'Gang Percobaan No. 3', kelurahan: '35.73.01.1007', kelurahan_bps: '3573010007', rw: 4, rt: 1 },
      registry: { desil: 5, programmes: {} },
      members: {
        m1: member('Keluarga Uji Tiga', 'head', 'L', '1970-07-07', '3573010707700001'),
        m2: { ...member('Anggota Uji Tiga', 'child', 'P', '2001-01-01', '3573010101010002'),
          warnings: ['NIK encodes a different sex than the record'] },
      },
      visits: {},
      conflicts: [{ path: 'status', values: [
        { value: 'found', by: 'kader_uji', at: 1764000000000, device: 'aa01' },
        { value: 'moved', by: 'kader_lain', at: 1764000100000, device: 'bb02' },
      ] }],
    },
    'hh-0004': {
      id: 'hh-0004', proposal: true, status: null,
      identity: { address: 'Jl. Usulan No. 4', rw: 4, rt: 2 },
      registry: {},
      members: { m1: { name: 'Keluarga Uji Empat', relation: 'head' } },
      visits: {},
      conflicts: [],
    },
  };
  const rejected = { 'hh-0004': 'schema: `members.m1.nik` must have 16 digits' };
  // Only a household found is scored (jemput_core VisitResult::carries_answers).
  const noScore = { met: [], score: null, poor: null, unanswered: [], unknown: [], incomplete: false };
  const addVisit = (h, vid, date, kader, result, answers) => {
    h.visits[vid] = result === 'found'
      ? { date, kader, result, answers, documents: { kk: true, ktp: true }, member_changes: {}, ...score(h, answers) }
      : { date, kader, result, answers: {}, documents: { kk: true, ktp: true }, member_changes: {}, ...noScore };
  };
  addVisit(households['hh-0001'], 'v1', '2025-01-15', 'kader_uji', 'found', allMet);
  addVisit(households['hh-0003'], 'v1', '2025-01-20', 'kader_uji', 'found',
    { floor_material: 'tanah', toilet: 'umum', lighting: 'bukan listrik', meals_per_day: 2, savings: 0 });
  addVisit(households['hh-0003'], 'v2', '2025-01-21', 'kader_lain', 'moved', {});

  // Open conflicts for the fasilitator (synthetic): RW 3 has c-002, c-005, c-006; RW 4 has
  // c-001, c-003, c-004. Kinds: field ×4, divergent_visits ×1, possible_duplicate ×1.
  const value = (n, v, by, at, device, visit = null) =>
    ({ n, action: 'value', value: v, by, at, device, visit, other_household: null });
  // The field in words, as core/src/words.rs names it (the fake knows the paths it uses).
  const LABELS = {
    id: { status: 'Status kunjungan', 'members.m2.name': 'Nama anggota', 'identity.address': 'Alamat',
      divergent_visits: 'Hasil kunjungan bulan yang sama berbeda', possible_duplicate: 'Kemungkinan duplikat (KK sama)' },
    en: { status: 'Visit status', 'members.m2.name': "Member's name", 'identity.address': 'Address',
      divergent_visits: 'Visits of one month disagree', possible_duplicate: 'Possible duplicate (same KK)' },
  };
  const labelOf = (c, lang) => LABELS[lang === 'en' ? 'en' : 'id'][c.path ?? c.kind] ?? c.path ?? '';
  const item = (id, kind, hid, path, choices) => {
    const h = households[hid];
    const head = Object.values(h.members).find((m) => m.relation === 'head');
    return { id, kind, household: hid, rw: h.identity.rw, rt: h.identity.rt, head_name: head?.name ?? null, path, label: '', choices };
  };
  let conflicts = [
    item('c-001', 'field', 'hh-0003', 'status', [
      value(1, 'found', 'kader_uji', 1764000000000, 'aa01c0ffee000001', 'v1'),
      value(2, 'moved', 'kader_lain', 1764000100000, 'bb02deadbeef0002', 'v2'),
    ]),
    item('c-002', 'field', 'hh-0001', 'members.m2.name', [
      value(1, 'Istri Uji Satu', 'kader_uji', 1764100000000, 'aa01c0ffee000001'),
      value(2, 'Istri Uji Satoe', 'kader_lain', 1764100200000, 'bb02deadbeef0002'),
    ]),
    item('c-003', 'divergent_visits', 'hh-0003', null, [
      { n: 1, action: 'visit', value: { result: 'found', score: 5, poor: false, met: ['floor_material', 'toilet', 'lighting', 'meals_per_day', 'savings'] },
        by: 'kader_uji', at: 1764000000000, device: 'aa01c0ffee000001', visit: 'v1', other_household: null,
        notes: 'Keluarga ada di rumah, ditemui ibu' },
      { n: 2, action: 'visit', value: { result: 'moved', score: 0, poor: false, met: [] },
        by: 'kader_lain', at: 1764000100000, device: 'bb02deadbeef0002', visit: 'v2', other_household: null },
    ]),
    item('c-004', 'possible_duplicate', 'hh-0004', null, [
      { n: 1, action: 'keep_both', value: null, by: null, at: 0, device: null, visit: null, other_household: null },
      { n: 2, action: 'duplicate_of', value: 'hh-0001', by: null, at: 0, device: null, visit: null, other_household: 'hh-0001' },
    ]),
    item('c-005', 'field', 'hh-0002', 'identity.address', [
      value(1, 'Jl. Contoh Dua No. 2', 'kader_uji', 1764200000000, 'aa01c0ffee000001'),
      value(2, 'Jl. Contoh Dua No. 2A, belakang masjid contoh, dekat pos ronda uji', 'kader_lain', 1764200300000, 'bb02deadbeef0002'),
    ]),
    item('c-006', 'field', 'hh-0002', 'registry.custom_flag', [
      value(1, true, 'operator_uji', 1764300000000, 'cc03'),
      value(2, false, null, 1764300500000, 'dd04'),
    ]),
  ];

  // Change history per household, oldest first; `state` is the fake's snapshot for household_as_of.
  const snapshot = (h, patch) => ({ ...JSON.parse(JSON.stringify(h)), ...patch });
  const history = {};
  const addHistory = (hid, at, by, device, text, changes, state) => {
    const list = (history[hid] ??= []);
    list.push({ hash: `${hid}-h${list.length + 1}-0123456789abcdef`, at, by, device, text, changes, state });
  };
  {
    const h3 = households['hh-0003'];
    // Sentences and field names as core/src/history.rs writes them (in Indonesian; the
    // fake does not translate history).
    const ch = (path, label, value, op = 'set') => ({ path, op, value, label });
    addHistory('hh-0003', Date.parse('2025-01-02T12:00:00Z'), 'import', 'dinsos-import-0000', 'import membuat data rumah tangga dari registri',
      [ch('identity', 'identity', null, 'added'), ch('identity.address', 'Alamat', 'Gang Percobaan No. 3'), ch('members.m1.name', 'Nama anggota', 'Keluarga Uji Tiga')],
      snapshot(h3, { status: null, visits: {}, conflicts: [] }));
    addHistory('hh-0003', Date.parse('2025-01-20T12:00:00Z'), 'kader_uji', 'aa01c0ffee000001', 'kader_uji mencatat kunjungan: Ditemukan',
      [ch('visits.v1.result', 'Hasil kunjungan', 'found'), ch('visits.v1.size', 'visits.v1.size', 2), ch('status', 'Status kunjungan', 'found')],
      snapshot(h3, { status: 'found', visits: { v1: h3.visits.v1 }, conflicts: [] }));
    addHistory('hh-0003', Date.parse('2025-01-21T12:00:00Z'), 'kader_lain', 'bb02deadbeef0002', 'kader_lain mencatat kunjungan: Pindah',
      [ch('visits.v2.result', 'Hasil kunjungan', 'moved'), ch('status', 'Status kunjungan', 'moved')],
      snapshot(h3, {}));
  }

  let session = { logged_in: false, user: null, role: null, can: null, server: null, revoked: null };
  const users = { kader_uji: 'kader', fasilitator_uji: 'fasilitator', operator_uji: 'operator', admin_uji: 'admin' };
  // What the backend answers per role (jemput_core::rules::Role::capabilities).
  const CAN = {
    kader: { review: false, registry: false, export: false, dashboard: false, muskel: false },
    fasilitator: { review: true, registry: false, export: true, dashboard: true, muskel: true },
    operator: { review: true, registry: true, export: true, dashboard: true, muskel: true },
    admin: { review: true, registry: true, export: true, dashboard: true, muskel: false },
  };
  const sync = { progress: null, online: true, syncing: false, last_sync: '2025-01-21T08:30:00+07:00', last_error: null, pending: 0, rejected: 1, quarantined: 1, last_bytes_up: 1200, last_bytes_down: 3400, month_bytes: 56000 };


  // The registry file the fake "reads" (any path ending in .xlsx or .csv; a path with
  // "tidak-ada" in it does not exist). Dinas Sosial's headers, two of which it does not
  // know until the operator names them: "Hub. dgn KRT" (relation) and "Keterangan".
  // A path with "banyak-salah" has 25 rejected rows (the backend sends the first 20).
  const KELURAHAN = '35.73.01.1007';
  const FILE_HEADERS = ['ID DTKS', 'IDBDT', 'ID ART', 'NIK', 'No KK', 'Nama', 'Hub. dgn KRT', 'Jenis Kelamin',
    'Tanggal Lahir', 'Alamat', 'RT', 'RW', 'Kode Wilayah', 'Desil', 'PKH', 'BPNT', 'PBI', 'KIP', 'Keterangan'];
  const KNOWN = {
    iddtks: 'id_dtks', idbdt: 'idbdt', idart: 'id_art', nik: 'nik', nokk: 'kk', nama: 'name',
    hubungandengankrtkk: 'relation', jeniskelamin: 'sex', tanggallahir: 'birth_date', alamat: 'address',
    rt: 'rt', rw: 'rw', kodewilayah: 'region_code', desil: 'desil', pkh: 'pkh', bpnt: 'bpnt', pbi: 'pbi', kip: 'kip',
  };
  const FIELD_CODES = Object.values(KNOWN);
  // As core/src/registry/columns.rs `normalise`: letters and digits only, lower case.
  const normalise = (h) => h.replace(/[^\p{L}\p{N}]/gu, '').toLowerCase();
  const registry = { mapping: {}, running: null, imported: false };
  const IMPORT_TOTAL = 30;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function readRegistryFile(path, partial = false) {
    if (!['operator', 'admin'].includes(session.role)) throw err('forbidden', 'only an operator imports the registry');
    if (!/\.(xlsx|csv)$/i.test(path) || path.includes('tidak-ada')) {
      throw err('invalid_input', `cannot read the file: ${path}: No such file or directory (os error 2)`);
    }
    const fieldOf = (name) => {
      const m = registry.mapping[normalise(name)];
      if (m === 'ignore') return null;
      return m ?? KNOWN[normalise(name)] ?? null;
    };
    const columns = FILE_HEADERS.map((name) => ({ name, field: fieldOf(name) }));
    const unrecognised = FILE_HEADERS.filter((n) => !KNOWN[normalise(n)] && !registry.mapping[normalise(n)]);
    const many = path.includes('banyak-salah');
    // [alasan, reason]: the backend says each reason in both languages.
    const reasons = [
      ['NIK harus tepat 16 angka (tertulis 15 karakter)', 'NIK must be exactly 16 digits (got 15 characters)'],
      ['ID DTKS kosong: baris ini tidak termasuk rumah tangga mana pun', 'ID DTKS is empty: the row belongs to no household'],
      ['Tanggal Lahir 31-02-1980 bukan tanggal yang ada', 'Tanggal Lahir 31-02-1980 is not a real date'],
      ['RW `x` bukan angka 1 sampai 999', 'RW `x` is not a number from 1 to 999'],
    ];
    const rejected = many ? 25 : 4;
    const examples = Array.from({ length: Math.min(rejected, 20) }, (_, i) => {
      const [alasan, reason] = reasons[i % reasons.length];
      return { row: 17 + i * 9, alasan, reason };
    });
    // What the import would do (the real backend builds it and rolls back). Paths pick
    // the whole-file stops: `hilang-banyak` marks 40 of 300 missing (needs confirming),
    // `kelurahan-lain` is another kelurahan's file.
    const counts = registry.imported
      ? { created: 0, updated: 0, unchanged: IMPORT_TOTAL, missing: 0 }
      : { created: IMPORT_TOTAL - 2, updated: 1, unchanged: 1, missing: partial ? 0 : 1 };
    let coverage = { stored: 300, held: 299 };
    let stop = null;
    if (path.includes('kelurahan-lain')) {
      coverage = { stored: 300, held: 0 };
      stop = { stop: 'wrong_file', held: 0, stored: 300 };
      Object.assign(counts, { created: 0, updated: 0, unchanged: 0, missing: 0 });
    } else if (path.includes('kolom-asing')) {
      // (The real check also fires on the default file until `Hub. dgn KRT` is named;
      // the fake keeps that file importable for the progress and cancel tests.)
      stop = { stop: 'unread_columns', fields: ['sex'], columns: ['JNS KLMN'] };
    } else if (path.includes('hilang-banyak') && !partial) {
      coverage = { stored: 300, held: 260 };
      counts.missing = 40;
      stop = { stop: 'confirm_missing', missing: 40, stored: 300 };
    }
    return {
      kelurahan: KELURAHAN, columns, rows: 120 + rejected, households: IMPORT_TOTAL, members: 120, rejected,
      examples, unrecognised, counts, coverage, stop,
    };
  }

  function latest(h) {
    const vs = Object.values(h.visits).sort((a, b) => a.date.localeCompare(b.date));
    return vs[vs.length - 1] ?? null;
  }
  function row(h) {
    const v = latest(h);
    const head = Object.values(h.members).find((m) => m.relation === 'head');
    return {
      id: h.id, head_name: head?.name ?? null, address: h.identity.address ?? null,
      rt: h.identity.rt ?? null, rw: h.identity.rw ?? null, status: h.status,
      last_visit: v?.date ?? null, score: v ? v.score : null, poor: v ? v.poor === true : false,
      has_conflict: h.conflicts.length > 0, proposal: h.proposal, rejected: rejected[h.id] ?? null,
      incomplete: v ? v.incomplete === true : false,
      pending: pendingIds.has(h.id) || rejected[h.id] != null, draft: drafts[h.id] != null,
      unread: inbox.some((i) => i.household === h.id && i.at > fake.inboxSeen && i.by !== session.user),
    };
  }
  // Device-local state: households with unsent work, drafts, the inbox.
  const pendingIds = new Set();
  const drafts = {};
  const inbox = [];
  const clone = (x) => JSON.parse(JSON.stringify(x));
  const err = (code, message) => ({ code, message });

  // Proposals as core::muskel::proposals_of derives them: the field's proposals (add)
  // and households whose last visit found them gone (remove); statuses from the sessions.
  const muskel = { sessions: [] };
  // Complaints and referrals: an overdue one to start with (received 40 days ago).
  const cases = { all: [{ id: 'cs-old', kelurahan: '35.73.01.1007', rw: 3, category: 'sanggah', household: 'hh-0001',
    text: 'Penerima PKH ini punya mobil', received_ms: Date.now() - 40 * 86_400_000, received_by: 'kader_uji',
    due: new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10), status: 'open',
    trail: [{ at_ms: Date.now() - 40 * 86_400_000, by: 'kader_uji', what: 'received' }] }], queued: [] };
  function fakeProposals() {
    const out = [];
    for (const h of Object.values(households)) {
      const visits = Object.values(h.visits).sort((a, b) => (a.date < b.date ? -1 : 1));
      const last = visits.at(-1);
      const head = Object.values(h.members).find((m) => m.relation === 'head');
      const base = { household: h.id, head_name: head?.name ?? null, head_nik: head?.nik ?? null, kk: h.identity.kk ?? null,
        address: h.identity.address ?? null, rw: h.identity.rw, rt: h.identity.rt, status: 'draft', session: null };
      if (h.proposal) out.push({ ...base, id: `p-add-${h.id}`, kind: 'add', reason: 'new_household' });
      else if (last && ['died', 'moved', 'not_found'].includes(last.result)) {
        out.push({ ...base, id: `p-remove-${h.id}`, kind: 'remove', reason: last.result });
      }
    }
    for (const s of muskel.sessions) {
      for (const i of s.items) {
        const p = out.find((x) => x.id === i.proposal.id);
        if (p) { p.session = s.id; p.status = i.decision ? i.decision.outcome : 'to_muskel'; }
      }
    }
    return out;
  }

  // The dashboard of a synthetic kelurahan of 24 RWs (as core::dashboard shapes it):
  // the current period has visits, any other has none. RW n's figures follow from n.
  const ymd = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  function periodSpan(period) {
    const now = new Date();
    const months = (y, m0, n) => ({ start: ymd(new Date(y, m0, 1)), end: ymd(new Date(y, m0 + n, 0)), zone: 'WIB' });
    if (period == null) return months(now.getFullYear(), now.getMonth(), 1);
    let m = /^(\d{4})-(\d{2})$/.exec(period);
    if (m && +m[2] >= 1 && +m[2] <= 12) return months(+m[1], +m[2] - 1, 1);
    m = /^(\d{4})-Q([1-4])$/.exec(period);
    if (m) return months(+m[1], (+m[2] - 1) * 3, 3);
    return null;
  }
  function rwFigures(n, active) {
    const households = 250 + (13 * n) % 90;
    const visited = active ? Math.floor((households * ((n * 37) % 100)) / 100) : 0;
    const [not_found, moved, died, refused] = active ? [n % 3, n % 2, n % 5 === 0 ? 1 : 0, n % 4 === 0 ? 1 : 0] : [0, 0, 0, 0];
    const found = Math.max(0, visited - not_found - moved - died - refused);
    return { households, visited, found, not_found, moved, died, refused, poor: Math.floor(found * 0.4),
      incomplete: active ? n % 6 : 0, open_conflicts: n % 7 === 0 ? 2 : 0, pending_proposals: n % 5 };
  }
  function dashboardOf(span, active) {
    const keys = Object.keys(rwFigures(1, true));
    const sum = (lines) => Object.fromEntries(keys.map((k) => [k, lines.reduce((a, l) => a + l[k], 0)]));
    const rws = [];
    const rts = [];
    for (let n = 1; n <= 24; n++) {
      const f = rwFigures(n, active);
      rws.push({ rw: n, ...f });
      const half = Object.fromEntries(keys.map((k) => [k, Math.floor(f[k] / 2)]));
      rts.push({ rw: n, rt: 1, ...Object.fromEntries(keys.map((k) => [k, f[k] - half[k]])) });
      rts.push({ rw: n, rt: 2, ...half });
    }
    const total = sum(rws);
    const weeks = [];
    const d = new Date(`${span.start}T00:00:00`);
    d.setDate(d.getDate() - ((d.getDay() + 6) % 7));
    while (ymd(d) <= span.end) { weeks.push({ week: ymd(d), visits: 0 }); d.setDate(d.getDate() + 7); }
    if (active) {
      // Visits fall in the weeks up to today, most in the first.
      const past = weeks.filter((w) => w.week <= today());
      let left = total.visited;
      past.forEach((w, i) => { w.visits = i === past.length - 1 ? left : Math.floor(left / 2); left -= w.visits; });
    }
    const kaders = active ? rws.filter((r) => r.visited > 0).map((r) => ({
      user: `kader_rw${String(r.rw).padStart(2, '0')}`, visits: r.visited, households: r.visited, last_visit: today() })) : [];
    return { period: span, total, rws, rts, kaders, weeks };
  }
  const need = (h) => { if (!h) throw err('not_found', 'household not found'); return h; };

  // The PIN gate, as jemput_client::pin rules it: a try is counted, from 5 wrong PINs
  // each waits 30 s, from 8 the screen warns, the 10th erases the phone's data.
  const PIN = '246810';
  const lockState = {
    state: opts.lock ?? 'open', failures: 0, wait_until: 0, erased: null,
    // whether the store is open behind the locked screen (relocked, not at start)
    open: (opts.lock ?? 'open') === 'open',
  };
  const lockStatus = () => {
    const now = Date.now() + fake.skewMs;
    return {
      state: lockState.state,
      gate: {
        failures: lockState.failures,
        wait_s: Math.max(0, Math.ceil((lockState.wait_until - now) / 1000)),
        tries_left: 10 - lockState.failures,
        warn: lockState.failures >= 8,
        unsent: fake.unsent,
        erased: lockState.erased,
      },
      min_digits: 6,
      can_send: lockState.open,
    };
  };
  const needOpen = (cmd) => {
    const free = ['lock_status', 'set_pin', 'unlock', 'lock_now', 'app_hidden', 'app_shown'];
    const whileLocked = ['sync_now', 'sync_status', 'bundle_export'];
    if (free.includes(cmd) || cmd.startsWith('plugin:')) return;
    if (lockState.state === 'open' || (lockState.open && whileLocked.includes(cmd))) return;
    throw err('locked', 'enter the PIN first');
  };

  const commands = {
    lock_status: () => lockStatus(),
    set_pin: ({ pin }) => {
      if (lockState.state !== 'new_pin') throw err('invalid_input', 'this phone already has a PIN');
      if (!/^[0-9]{6,}$/.test(pin)) throw err('invalid_input', 'a PIN is at least 6 digits');
      Object.assign(lockState, { state: 'open', open: true, erased: null, failures: 0 });
      fake.pinSet = pin;
      return lockStatus();
    },
    unlock: ({ pin }) => {
      const now = Date.now() + fake.skewMs;
      if (lockState.wait_until > now) throw err('pin_wait', 'too many wrong PINs');
      lockState.failures += 1;
      if (pin === (fake.pinSet ?? PIN)) {
        Object.assign(lockState, { state: 'open', open: true, failures: 0, wait_until: 0 });
        return lockStatus();
      }
      if (lockState.failures >= 10) {
        const discarded = fake.unsent;
        for (const id of Object.keys(households)) delete households[id];
        session = { logged_in: false, user: null, role: null, can: null, server: null, revoked: null };
        fake.unsent = 0;
        Object.assign(lockState, { state: 'new_pin', open: false, failures: 0, wait_until: 0,
          erased: { at_ms: now, discarded_visits: discarded } });
        throw err('erased', '10 wrong PINs: the data on this device was erased');
      }
      if (lockState.failures >= 5) lockState.wait_until = now + 30000;
      throw err('wrong_pin', `wrong PIN (${lockState.failures} of 10 tries)`);
    },
    lock_now: () => { if (lockState.open) lockState.state = 'locked'; return lockStatus(); },
    app_hidden: () => { fake.hiddenAt = Date.now() + fake.skewMs; return null; },
    app_shown: () => {
      if (fake.hiddenAt != null && lockState.open && Date.now() + fake.skewMs - fake.hiddenAt >= 5 * 60000) {
        lockState.state = 'locked';
      }
      fake.hiddenAt = null;
      return lockStatus();
    },
    session_status: () => session,
    login: ({ server, user, password }) => {
      if (!users[user] || password !== 'rahasia') throw err('invalid_credentials', 'login rejected by server');
      session = { logged_in: true, user, role: users[user], can: CAN[users[user]], server };
      return { user, role: users[user], can: CAN[users[user]] };
    },
    logout: () => { session = { ...session, logged_in: false, user: null, role: null, can: null }; return null; },
    list_households: ({ query }) => {
      const { search, filter, offset = 0, limit = 0 } = query;
      fake.pageCalls += 1;
      let rows = Object.values(households).map(row);
      if (search) {
        const q = search.toLowerCase();
        rows = rows.filter((r) => {
          const h = households[r.id];
          const hay = [r.head_name, r.address, h.identity.kk, ...Object.values(h.members).map((m) => m.nik)]
            .filter(Boolean).join(' ').toLowerCase();
          return hay.includes(q);
        });
      }
      if (filter === 'poor') rows = rows.filter((r) => r.poor);
      if (filter === 'conflict') rows = rows.filter((r) => r.has_conflict);
      if (filter === 'not_visited') rows = rows.filter((r) => !r.last_visit || r.last_visit.slice(0, 7) !== today().slice(0, 7));
      // The store's order: RW, RT, head name.
      rows.sort((a, b) => (a.rw - b.rw) || (a.rt - b.rt) || (a.head_name ?? '').localeCompare(b.head_name ?? '') || a.id.localeCompare(b.id));
      return { rows: limit ? rows.slice(offset, offset + limit) : rows.slice(offset), total: rows.length, offset };
    },
    draft_get: ({ id }) => { need(households[id]); return drafts[id] ?? null; },
    draft_put: ({ id, body }) => {
      need(households[id]);
      drafts[id] = { body: JSON.parse(JSON.stringify(body)), at: Date.now() };
      return null;
    },
    draft_discard: ({ id }) => { delete drafts[id]; return null; },
    outbox: () => {
      const list = Object.values(households).filter((h) => pendingIds.has(h.id) || rejected[h.id] != null).map((h) => {
        const r = row(h);
        return { id: h.id, head_name: r.head_name, rw: r.rw, rt: r.rt, visits: fake.unsentVisits[h.id] ?? 0, rejected: rejected[h.id] ?? null };
      });
      const waiting = list.filter((h) => h.rejected == null);
      return {
        waiting: waiting.length, refused: list.length - waiting.length,
        unsent_visits: waiting.reduce((n, h) => n + h.visits, 0), households: list,
        quarantined: [{ id: 'hh-rusak', reason: 'document failed to merge: damaged change' }],
        drafts: Object.entries(drafts).map(([id, d]) => ({ id, head_name: row(households[id]).head_name, at: d.at })),
        relays: 0,
      };
    },
    inbox: () => [...inbox].filter((i) => i.by !== session.user).sort((a, b) => b.at - a.at).map((i) => {
      const r = row(households[i.household]);
      return { ...i, head_name: r.head_name, rw: r.rw, rt: r.rt, unread: i.at > fake.inboxSeen };
    }),
    inbox_seen: () => { fake.inboxSeen = Date.now(); return null; },
    get_household: ({ id }) => need(households[id]),
    indicator_set: () => indicatorSet,
    record_visit: ({ id, visit }) => {
      const h = need(households[id]);
      if (!visit.result) throw err('invalid_input', 'result missing');
      const missing = criteria.filter((c) => visit.result === 'found' && visit.answers[c.id] === undefined);
      if (missing.length) throw err('invalid_input', `${missing.length} criteria have no answer`);
      delete drafts[id];
      pendingIds.add(id);
      fake.unsentVisits[id] = (fake.unsentVisits[id] ?? 0) + 1;
      for (const [mid, p] of Object.entries(visit.member_changes ?? {})) h.members[mid].presence = p;
      // As the backend does: each new member joins with presence "new".
      (visit.new_members ?? []).forEach((m, i) => {
        h.members[`m-new-${Object.keys(h.members).length + i + 1}`] = { ...m, presence: 'new' };
      });
      const vid = `v${Object.keys(h.visits).length + 1}`;
      h.visits[vid] = visit.result === 'found'
        ? { date: today(), kader: session.user, ...visit, ...score(h, visit.answers) }
        : { date: today(), kader: session.user, ...visit, answers: {}, ...noScore };
      h.status = visit.result;
      sync.pending += 1;
      return h;
    },
    propose_household: ({ proposal }) => {
      if (proposal.nik !== null && !/^\d{16}$/.test(proposal.nik)) throw err('invalid_nik', 'NIK must have 16 digits');
      const id = `hh-new-${Object.keys(households).length + 1}`;
      households[id] = {
        id, proposal: true, status: null,
        identity: { kk: proposal.kk ?? undefined, address: proposal.address, rw: proposal.rw, rt: proposal.rt },
        registry: {}, members: { m1: { name: proposal.head_name, relation: 'head', nik: proposal.nik ?? undefined, presence: 'lives_here' } },
        visits: {}, conflicts: [],
      };
      sync.pending += 1;
      return { id };
    },
    cases_list: () => {
      if (!fake.casesOffline) {
        // Received offline: sent first once the server answers.
        for (const n of cases.queued.splice(0)) cases.all.push(n);
      }
      return { cases: clone(cases.all), offline: fake.casesOffline, unsent: cases.queued.length };
    },
    case_add: ({ case: c }) => {
      if (!c.text?.trim()) throw err('invalid_input', "the complaint's text is empty");
      if (c.category === 'rujukan' && !c.service) throw err('invalid_input', 'a referral names its service');
      const h = c.household ? households[c.household] : null;
      const due = new Date(`${today()}T00:00:00Z`);
      due.setUTCDate(due.getUTCDate() + 30);
      const id = `cs-${cases.all.length + cases.queued.length + 1}`;
      const made = { id, kelurahan: KELURAHAN, rw: h ? h.identity.rw : c.rw, category: c.category, household: c.household ?? undefined,
        complainant: c.complainant ?? undefined, text: c.text, service: c.service ?? undefined, received_ms: Date.now(),
        received_by: session.user, due: due.toISOString().slice(0, 10), status: 'open',
        trail: [{ at_ms: Date.now(), by: session.user, what: 'received' }] };
      if (fake.casesOffline) { cases.queued.push(made); return { id, queued: true }; }
      cases.all.push(made);
      return { id, queued: false };
    },
    case_update: ({ id, action }) => {
      const c = cases.all.find((x) => x.id === id);
      if (!c) throw err('invalid_input', `no case \`${id}\` in your areas`);
      if (!CAN[session.role]?.muskel) throw err('forbidden', `a ${session.role} does not assign or close cases`);
      if (c.status === 'closed') throw err('invalid_input', 'the case is closed');
      if (action.action === 'assign') {
        if (users[action.kader] !== 'kader') throw err('invalid_input', `\`${action.kader}\` is no kader of RW ${String(c.rw).padStart(3, '0')}`);
        Object.assign(c, { assigned: action.kader, status: 'assigned' });
      } else if (action.action === 'close') {
        Object.assign(c, { outcome: action.outcome, note: action.note, status: 'closed' });
      }
      c.trail.push({ at_ms: Date.now(), by: session.user, what: action.action });
      return clone(c);
    },
    muskel_sessions: () => {
      if (!CAN[session.role]?.dashboard) throw err('forbidden', 'Muskel sessions are for users who hold a whole kelurahan');
      return { sessions: clone(muskel.sessions), offline: fake.muskelOffline === true,
        deadlines: { muskel_day: 14, siks_days: 7, complaint_days: 30 }, today: fake.today ?? today() };
    },
    proposals: () => {
      if (!CAN[session.role]?.dashboard) throw err('forbidden', 'the proposals list is office work');
      return fakeProposals();
    },
    muskel_new: ({ session: n }) => {
      if (!CAN[session.role]?.muskel) throw err('forbidden', 'only an operator or fasilitator opens a Muskel');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(n.date)) throw err('invalid_input', `\`${n.date}\` is not a date (YYYY-MM-DD)`);
      if (!n.place?.trim()) throw err('invalid_input', 'the place of the Muskel is empty');
      const seq = muskel.sessions.filter((x) => x.date.slice(0, 4) === n.date.slice(0, 4)).length + 1;
      const roman = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII'][Number(n.date.slice(5, 7)) - 1];
      const s = { id: `ms-${muskel.sessions.length + 1}`, kelurahan: KELURAHAN, number: n.number ?? `${String(seq).padStart(3, '0')}/BA-MUSKEL/${roman}/${n.date.slice(0, 4)}`,
        date: n.date, place: n.place, attendees: n.attendees, officials: n.officials, closed: false, items: [],
        created_by: session.user, created_ms: Date.now() };
      muskel.sessions.push(s);
      return clone(s);
    },
    muskel_decide: ({ session: id, household, kind, outcome, reason }) => {
      if (!CAN[session.role]?.muskel) throw err('forbidden', 'only an operator or fasilitator decides');
      const s = muskel.sessions.find((x) => x.id === id);
      if (!s) throw err('invalid_input', `no Muskel session \`${id}\` in your kelurahan`);
      if (s.closed) throw err('invalid_input', `the Muskel ${s.number} is closed: its decisions stand`);
      if (!reason.trim()) throw err('invalid_input', "give the decision's reason");
      const p = fakeProposals().find((x) => x.household === household && x.kind === kind);
      if (!p) throw err('invalid_input', `household \`${household}\` stands for no ${kind} proposal now`);
      let item = s.items.find((i) => i.proposal.id === p.id);
      if (!item) { item = { proposal: p, decision: null, trail: [{ at_ms: Date.now(), by: session.user, what: 'agenda' }] }; s.items.push(item); }
      item.proposal = { ...p, status: outcome, session: id };
      item.decision = { outcome, reason, by: session.user, at_ms: Date.now() };
      item.trail.push({ at_ms: Date.now(), by: session.user, what: outcome });
      return clone(s);
    },
    muskel_close: ({ session: id }) => {
      const s = muskel.sessions.find((x) => x.id === id);
      if (!s) throw err('invalid_input', `no Muskel session \`${id}\``);
      const open = s.items.filter((i) => !i.decision).length;
      if (s.items.length === 0) throw err('invalid_input', 'the Muskel decided nothing yet');
      if (open) throw err('invalid_input', `${open} proposals on the agenda have no decision`);
      s.closed = true;
      return clone(s);
    },
    muskel_minutes: ({ session: id, path }) => { fake.written.push({ what: 'minutes', id, path }); return null; },
    muskel_siks: ({ session: id, path }) => {
      fake.written.push({ what: 'siks', id, path });
      return muskel.sessions.find((x) => x.id === id).items.filter((i) => i.decision?.outcome === 'approved').length;
    },
    dashboard: ({ period }) => {
      if (!CAN[session.role]?.dashboard) throw err('forbidden', 'the dashboard is office work');
      const span = periodSpan(period);
      if (!span) throw err('invalid_input', `\`${period}\` is not a period: write 2026-11, 2026-Q4 or 2026-11-01..2026-11-15`);
      return dashboardOf(span, span.start <= today() && today() <= span.end);
    },
    list_conflicts: ({ rw, kind, lang }) => {
      if (!['fasilitator', 'operator', 'admin'].includes(session.role)) throw err('forbidden', 'role may not review conflicts');
      return conflicts.filter((c) => (rw == null || c.rw === rw) && (kind == null || c.kind === kind))
        .map((c) => ({ ...c, label: labelOf(c, lang) }));
    },
    resolve_conflict: ({ id, pick, value, note }) => {
      // As on the real device: only the office decides (fasilitator, operator).
      if (!['fasilitator', 'operator'].includes(session.role)) throw err('forbidden', `role ${session.role} may not resolve conflicts`);
      // c-002 was decided on another device; this one learns it at the next sync.
      if (id === 'c-002') throw err('invalid_input', 'no open conflict `c-002` on this device');
      const c = conflicts.find((x) => x.id === id);
      if (!c) throw err('not_found', 'conflict not found');
      if ((pick == null) === (value == null)) throw err('invalid_input', 'give exactly one of pick and value');
      if (value != null && c.kind !== 'field') throw err('invalid_input', 'a typed value only decides a field conflict');
      const choice = pick != null ? c.choices.find((x) => x.n === pick) : null;
      if (pick != null && !choice) throw err('invalid_input', 'no such choice');
      const h = households[c.household];
      const decided = value ?? choice.value;
      if (c.kind === 'field') {
        h.conflicts = h.conflicts.filter((x) => x.path !== c.path);
        if (c.path === 'status') h.status = decided;
        if (c.path === 'identity.address') h.identity.address = decided;
      }
      if (c.kind === 'divergent_visits') h.status = choice.value.result;
      if (note != null) {
        h.notes ??= {};
        h.notes[`note-${Object.keys(h.notes).length + 1}`] = { text: note, by: session.user, at: Date.now(), conflict: id };
      }
      addHistory(h.id, Date.now(), session.user, 'fasil-device-0001', `${session.user} memutuskan konflik`,
        [{ path: `resolutions.${id}`, op: 'added', value: null, label: `resolutions.${id}` }], snapshot(h, {}));
      inbox.push({ household: h.id, id, kind: 'decision', by: session.user, at: Date.now(), item: { conflict: id } });
      if (note != null) inbox.push({ household: h.id, id: `n-${id}`, kind: 'note', by: session.user, at: Date.now(), item: { text: note, conflict: id } });
      conflicts = conflicts.filter((x) => x.id !== id);
      return null;
    },
    household_history: ({ id }) => {
      need(households[id]);
      return (history[id] ?? []).map(({ state, ...e }) => e);
    },
    household_as_of: ({ id, when }) => {
      need(households[id]);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(when)) throw err('invalid_input', 'date must be YYYY-MM-DD');
      const end = new Date(`${when}T23:59:59.999`).getTime();
      const e = (history[id] ?? []).filter((x) => x.at <= end).at(-1);
      if (!e) throw err('not_found', 'the household did not exist yet on that date');
      return e.state;
    },
    sync_status: () => sync,
    bundle_export: ({ dir, path }) => {
      if (dir !== null) throw err('invalid_input', 'the app writes bundles to its own folder');
      return { path: path ?? '/data/jemput/bundles/jemput-1764000000.jemput', households: sync.pending };
    },
    // The system's file dialog, answered by the test (`fake.dialog`; null: cancelled).
    choose_file: ({ mode, extensions, name }) => {
      fake.dialogAsked = { mode, extensions };
      fake.dialogName = name;
      return fake.dialog;
    },
    bundle_import: ({ path }) => {
      if (!path.endsWith('.jemput')) throw err('invalid_input', 'not a Jemput bundle');
      if (path.includes('altered')) throw err('invalid_input', 'the bundle was altered after its device signed it: refused, nothing applied');
      sync.pending += 2;
      return { households: 2, new_households: 0, skipped: 1 };
    },
    sync_now: () => {
      if (fake.offline) {
        sync.online = false;
        sync.last_error = err('offline', 'no connection to the server');
        throw err('offline', 'no connection to the server');
      }
      sync.online = true;
      sync.last_error = null;
      pendingIds.clear();
      fake.unsentVisits = {};
      sync.pending = 0;
      sync.last_sync = new Date().toISOString();
      return sync;
    },
    registry_preview: ({ path, partial }) => readRegistryFile(path, partial),
    registry_save_mapping: ({ columns }) => {
      if (!['operator', 'admin'].includes(session.role)) throw err('forbidden', 'only an operator imports the registry');
      for (const [header, field] of columns) {
        if (field !== 'ignore' && !FIELD_CODES.includes(field)) {
          throw err('invalid_input', `\`${field}\` is not a column Jemput reads; use one of ${FIELD_CODES.join(', ')} or \`ignore\``);
        }
        if (!normalise(header)) throw err('invalid_input', 'a column name must have letters or digits');
      }
      for (const [header, field] of columns) registry.mapping[normalise(header)] = field;
      return null;
    },
    // Long running: `registry-progress` every 3 households, `fake.importStepMs` apart;
    // `registry_cancel` makes it reject with `cancelled` and change nothing.
    registry_import: async ({ path, partial, confirmMissing }) => {
      const p = readRegistryFile(path, partial);
      if (p.stop && !(p.stop.stop === 'confirm_missing' && confirmMissing === p.stop.missing)) {
        throw err('import_stopped', `import stopped: ${p.stop.stop}`);
      }
      if (registry.running) throw err('invalid_input', 'an import is already running');
      const run = { cancel: false };
      registry.running = run;
      try {
        for (let done = 0; done < p.households;) {
          await sleep(fake.importStepMs);
          if (run.cancel) throw err('cancelled', 'the import was cancelled; nothing was written');
          done = Math.min(p.households, done + 3);
          emit('registry-progress', { done, total: p.households });
        }
      } finally {
        registry.running = null;
      }
      // The file holds hh-0001 (changed) and hh-0003 (unchanged) and 28 new households;
      // hh-0002 is not in it (marked missing unless the file is partial). Again: unchanged.
      let counts = { created: 0, updated: 0, unchanged: p.households, missing: 0 };
      if (!registry.imported) {
        registry.imported = true;
        counts = { created: p.households - 2, updated: 1, unchanged: 1, missing: partial ? 0 : 1 };
        for (let i = 1; i <= counts.created; i++) {
          const n = String(i).padStart(2, '0');
          const id = `hh-imp-${n}`;
          households[id] = {
            id, proposal: false, status: null,
            identity: { id_dtks: `DTKS-UJI-01${n}`, kk: `35730101019001${n}`, address: `Jl. Impor No. ${i}`, kelurahan: KELURAHAN, rw: 5, rt: 1 + (i % 3) },
            registry: { desil: 1 + (i % 4), programmes: {} },
            members: { m1: member(`Keluarga Impor ${n}`, 'head', i % 2 ? 'L' : 'P', '1980-01-01', `35730101018000${n}`) },
            visits: {}, conflicts: [],
          };
        }
        households['hh-0001'].registry.desil = 2;
        sync.pending += counts.created + counts.updated + counts.missing;
      }
      return {
        kelurahan: KELURAHAN, counts, coverage: p.coverage, rows: p.rows, households: p.households, members: p.members, rejected: p.rejected,
        rejected_file: p.rejected > 0 ? `${path}.rejected.csv` : null,
        rejected_xlsx: p.rejected > 0 ? `${path}.rejected.xlsx` : null,
      };
    },
    registry_cancel: () => {
      if (registry.running) registry.running.cancel = true;
      return null;
    },
    registry_export: ({ cutoff, since, path }) => {
      if (session.role === 'kader') throw err('forbidden', 'the periodic export is office work');
      const date = /^\d{4}-\d{2}-\d{2}$/;
      if (!date.test(cutoff)) throw err('invalid_input', 'the cut-off must be YYYY-MM-DD or RFC 3339');
      if (since !== null && !date.test(since)) throw err('invalid_input', '`since` must be YYYY-MM-DD or RFC 3339');
      if (!/\.(xlsx|csv)$/i.test(path)) throw err('invalid_input', 'the export file must end in .xlsx or .csv');
      if (path.includes('tidak-ada')) throw err('invalid_input', `cannot write ${path}: No such file or directory (os error 2)`);
      const files = /\.csv$/i.test(path) ? [path, path.replace(/\.csv$/i, '.summary.csv')] : [path];
      return { kelurahan: KELURAHAN, households: Object.values(households).filter((h) => !h.proposal).length, files,
        unsent: pendingIds.size };
    },
    'plugin:event|listen': ({ event, handler }) => {
      const id = nextEventId++;
      eventListeners.set(id, { event, handler });
      return id;
    },
    'plugin:event|unlisten': ({ eventId }) => {
      eventListeners.delete(eventId);
      return null;
    },
  };

  // Event listeners by event id, as the Rust side keeps them.
  const eventListeners = new Map();
  let nextEventId = 1;
  function emit(event, payload) {
    for (const [id, l] of eventListeners) {
      if (l.event === event) window[`_${l.handler}`]?.({ event, id, payload });
    }
  }

  const fake = {
    /** Files the Muskel screen asked to be written: {what, id, path}. */
    written: [],
    /** `muskel_sessions` answers as when the server cannot be reached. */
    muskelOffline: false,
    /** `cases_list` and `case_add` answer as when the server cannot be reached. */
    casesOffline: false,
    fail: {},
    /** Extra milliseconds a command takes (a slow backend). */
    delay: {},
    calls: [],
    /** What the file dialog answers (a path, or null when the person cancels). */
    dialog: '/home/kader/Download/jemput-2026-11-30.jemput',
    dialogAsked: null,
    /** The sync state `sync_status` answers (a test sets `syncing` and `progress`). */
    syncState: sync,
    /** list_households calls (pages asked). */
    pageCalls: 0,
    /** Unsent visits per household (the outbox's counts). */
    unsentVisits: {},
    /** When the inbox was last looked at (ms). */
    inboxSeen: 0,
    /** The next sync finds no network. */
    offline: false,
    /** Work on household `id` waits to be sent (as a visit saved offline leaves it). */
    markUnsent: (id) => { pendingIds.add(id); },
    /** Adds `n` synthetic households (a big kelurahan), in RW 5–9. */
    addHouseholds: (n) => {
      for (let i = 0; i < n; i++) {
        const id = `hh-x${String(i).padStart(5, '0')}`;
        households[id] = {
          id, proposal: false, status: null,
          identity: { kk: `35730199${String(i).padStart(8, '0')}`, address: `Jl. Uji Besar No. ${i}`, rw: 5 + (i % 5), rt: 1 + (i % 7) },
          registry: {}, members: { m1: { name: `Kepala Uji ${String(i).padStart(5, '0')}`, relation: 'head', presence: 'lives_here' } },
          visits: {}, conflicts: [],
        };
      }
    },
    /** A note from the fasilitator reaches this device (as a sync would bring it). */
    addNote: (hid, text, by = 'fasilitator_uji') => {
      inbox.push({ household: hid, id: `n-${inbox.length + 1}`, kind: 'note', by, at: Date.now(), item: { text, conflict: null } });
    },
    /** A household of the fake's data, to change in place. */
    household: (id) => households[id],
    /** Households waiting to be sent, as sync_status reports them. */
    setPending: (n) => { sync.pending = n; },
    /** Unsent visits the lock screen reports. */
    unsent: 2,
    /** Added to the clock (ms): a test skips a wait or time in the background. */
    skewMs: 0,
    hiddenAt: null,
    pinSet: null,
    /** Delay between two progress steps of registry_import (ms). */
    importStepMs: 40,
    /** The saved column mapping (normalised header → field code or "ignore"). */
    registryMapping: registry.mapping,
    /** How many listeners the page holds for `event`. */
    listening: (event) => [...eventListeners.values()].filter((l) => l.event === event).length,
    /** The office revokes this device: the next sync fails as `revoked`, the device's
     * data is gone and the session says why (as the real backend does). */
    revoke: (discarded) => {
      const reason = 'this device was revoked by the office';
      fake.fail.sync_now = { code: 'revoked', message: reason };
      session = { logged_in: false, user: null, role: null, can: null, server: session.server,
        revoked: { reason, at_ms: Date.now(), discarded_visits: discarded } };
    },
  };
  window.__fake = fake;
  if (opts.households) fake.addHouseholds(opts.households);
  // What @tauri-apps/api/event `_unlisten` calls before invoking `plugin:event|unlisten`.
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = {
    unregisterListener(event, eventId) {
      const l = eventListeners.get(eventId);
      if (l) delete window[`_${l.handler}`];
    },
  };
  window.__TAURI_INTERNALS__ = {
    async invoke(cmd, args = {}) {
      fake.calls.push({ cmd, args: clone(args) });
      await new Promise((r) => setTimeout(r, 5 + (fake.delay[cmd] ?? 0)));
      if (fake.fail[cmd]) throw fake.fail[cmd];
      needOpen(cmd);
      const f = commands[cmd];
      if (!f) throw err('unknown_command', `no such command: ${cmd}`);
      return clone(await f(clone(args)));
    },
    transformCallback(cb) {
      const id = Math.floor(Math.random() * 1e9);
      window[`_${id}`] = cb;
      return id;
    },
    unregisterCallback(id) { delete window[`_${id}`]; },
    convertFileSrc: (p) => p,
  };
}
