// Owns: all user-visible strings (Bahasa Indonesia default, English on request), the
// current language (remembered in localStorage) and localisation of command errors.
import type { CommandError } from './types';

export type Lang = 'id' | 'en';

const id = {
  app_name: 'Jemput',
  lang_toggle: 'English',
  logout: 'Keluar',
  back: 'Kembali',
  loading: 'Memuat…',
  save: 'Simpan',
  saving: 'Menyimpan…',
  yes: 'Ya',
  no: 'Tidak',
  none: '—',
  choose: '— pilih —',

  login_title: 'Masuk',
  login_server: 'Alamat server',
  login_user: 'Nama pengguna',
  login_password: 'Kata sandi',
  login_submit: 'Masuk',
  login_busy: 'Sedang masuk…',

  sync_online: 'Daring',
  sync_offline: 'Luring',
  sync_syncing: 'Menyinkronkan…',
  sync_now: 'Sinkronkan',
  sync_last: 'Sinkron',
  sync_never: 'belum pernah',
  sync_pending: '{n} menunggu dikirim',
  sync_rejected: '{n} perubahan ditolak',
  sync_bytes: 'Data: {b}',
  sync_done: 'Sinkron selesai',

  search_placeholder: 'Cari nama, NIK, KK, alamat',
  filter_all: 'Semua',
  filter_not_visited: 'Belum dikunjungi',
  filter_poor: 'Miskin (skor)',
  filter_conflict: 'Ada konflik',
  propose_new: '+ Usulkan rumah tangga baru',
  list_empty: 'Tidak ada rumah tangga.',
  list_count: '{n} rumah tangga',
  no_name: '(tanpa nama)',
  not_visited: 'Belum dikunjungi',
  last_visit: 'Kunjungan terakhir',
  marker_conflict: 'Konflik',
  marker_proposal: 'Usulan',
  marker_rejected: 'Ditolak',
  score: 'Skor',
  poor_by_score: 'Miskin menurut skor',

  detail_identity: 'Identitas',
  head_birth_date_optional: 'Tanggal lahir kepala keluarga (opsional)',
  sync_month: 'Bulan ini: {b}',
  bundle_title: 'Tanpa sinyal? Kirim lewat berkas',
  bundle_export: 'Buat berkas bundel',
  bundle_import: 'Terapkan bundel',
  bundle_path: 'Lokasi berkas bundel (.jemput)',
  bundle_written: 'Berkas dibuat: {path} ({n} rumah tangga). Kirim lewat aplikasi pesan atau flashdisk.',
  bundle_applied: 'Bundel diterapkan: {n} rumah tangga ({skipped} dilewati).',
  add_member: '+ Anggota baru (lahir/datang)',
  new_member_name: 'Nama anggota baru',
  new_member_sex: 'Jenis kelamin',
  detail_members: 'Anggota rumah tangga',
  nik_mismatch: 'NIK tidak cocok dengan jenis kelamin/tanggal lahir — periksa KTP/KK',
  detail_registry: 'Data registri (impor)',
  detail_visits: 'Riwayat kunjungan',
  detail_conflicts: 'Konflik data',
  detail_no_visits: 'Belum ada kunjungan.',
  detail_no_members: 'Belum ada anggota.',
  record_visit: 'Catat kunjungan',
  address: 'Alamat',
  kk: 'No. KK',
  nik: 'NIK',
  rw_rt: 'RW/RT',
  rw: 'RW',
  rt: 'RT',
  id_dtks: 'ID DTKS',
  idbdt: 'IDBDT',
  kelurahan: 'Kode kelurahan (Kemendagri)',
  kelurahan_bps: 'Kode kelurahan (BPS)',
  desil: 'Desil',
  desil_note: 'hanya-baca, dari Dinas Sosial',
  programmes: 'Program bantuan',
  sex_L: 'Laki-laki',
  sex_P: 'Perempuan',
  born: 'Lahir',
  visit_by: 'oleh',
  criteria_met: 'Kriteria terpenuhi',
  notes: 'Catatan',
  documents: 'Dokumen yang ditunjukkan',
  doc_kk: 'Kartu Keluarga (KK)',
  doc_ktp: 'KTP',
  conflict_values: 'Nilai yang berbeda',

  visit_title: 'Kunjungan',
  visit_result: 'Hasil kunjungan',
  visit_criteria: '14 kriteria kemiskinan',
  visit_members: 'Perubahan anggota',
  visit_pick_result: 'Pilih hasil kunjungan dulu.',
  visit_unanswered: '{n} belum dijawab',
  visit_only_found: 'Kriteria diisi hanya bila rumah tangga ditemukan.',
  occupation: 'Pekerjaan kepala rumah tangga',
  land_m2: 'Luas lahan (m²)',
  income_rp: 'Penghasilan per bulan (Rp)',

  result_found: 'Ditemukan',
  result_not_found: 'Tidak ditemukan',
  result_moved: 'Pindah',
  result_died: 'Meninggal',
  result_duplicate: 'Ganda',
  result_refused: 'Menolak',
  status_none: 'Belum dikunjungi',

  presence_lives_here: 'Tinggal di sini',
  presence_died: 'Meninggal',
  presence_moved: 'Pindah',
  presence_not_found: 'Tidak ditemukan',

  relation_head: 'Kepala keluarga',
  relation_spouse: 'Istri/suami',
  relation_child: 'Anak',
  relation_parent: 'Orang tua',
  relation_other: 'Lainnya',

  propose_title: 'Usulan rumah tangga baru',
  head_name: 'Nama kepala rumah tangga',
  nik_optional: 'NIK (opsional, 16 angka)',
  kk_optional: 'No. KK (opsional, 16 angka)',
  save_proposal: 'Simpan usulan',
  required_fields: 'Isi nama, alamat, RW dan RT.',

  open_review: 'Tinjau konflik',
  review_title: 'Tinjau konflik',
  review_rw_all: 'Semua RW',
  review_kind_all: 'Semua jenis',
  review_count: '{n} konflik terbuka',
  review_empty: 'Tidak ada konflik terbuka.',
  review_resolved: 'Keputusan tersimpan.',
  review_open_household: 'Lihat rumah tangga',
  kind_field: 'Isian berbeda',
  kind_divergent_visits: 'Kunjungan berbeda',
  kind_possible_duplicate: 'Mungkin ganda',
  path_status: 'Status rumah tangga',
  path_member_name: 'Nama anggota',
  path_member_nik: 'NIK anggota',
  path_member_presence: 'Keberadaan anggota',
  path_member_sex: 'Jenis kelamin anggota',
  path_member_birth_date: 'Tanggal lahir anggota',
  path_member_relation: 'Hubungan dengan kepala keluarga',
  path_identity_address: 'Alamat',
  path_identity_kk: 'No. KK',
  path_identity_rw: 'RW',
  path_identity_rt: 'RT',
  choice_n: 'Pilihan {n}',
  choice_pick: 'Pilih ini',
  choice_by: 'Oleh',
  choice_at: 'Waktu',
  choice_device: 'Perangkat',
  choice_visit: 'Kunjungan',
  choice_empty: '(kosong)',
  choice_keep_both: 'Dua rumah tangga berbeda — simpan keduanya',
  choice_duplicate_of: 'Ganda dari rumah tangga lain:',
  choice_custom: 'Atau isi nilai yang benar',
  choice_custom_save: 'Simpan nilai ini',
  resolve_note: 'Catatan untuk kader (opsional, tulis sebelum memilih)',
  resolve_forbidden: 'Peran Anda tidak boleh memutuskan konflik.',
  notes_title: 'Catatan fasilitator',
  open_history: 'Riwayat perubahan',
  history_title: 'Riwayat perubahan',
  history_empty: 'Belum ada riwayat.',
  history_system: 'sistem',
  as_of_title: 'Keadaan pada tanggal',
  as_of_date: 'Tanggal',
  as_of_show: 'Tampilkan',
  as_of_status: 'Status',
  as_of_visits: 'Jumlah kunjungan',

  err_offline: 'Tidak ada koneksi. Data tetap tersimpan di HP dan akan dikirim saat sinkron berikutnya.',
  err_network: 'Server tidak dapat dihubungi. Coba lagi nanti.',
  err_timeout: 'Server terlalu lama menjawab. Coba lagi nanti.',
  err_invalid_credentials: 'Nama pengguna atau kata sandi salah.',
  err_unauthorized: 'Sesi berakhir. Silakan masuk lagi.',
  err_not_logged_in: 'Silakan masuk dulu.',
  err_forbidden: 'Anda tidak berhak mengakses data ini.',
  err_not_found: 'Data tidak ditemukan.',
  err_invalid_nik: 'NIK tidak valid.',
  err_invalid_kk: 'Nomor KK tidak valid.',
  err_invalid_input: 'Isian tidak valid.',
  err_server: 'Terjadi kesalahan di server.',
  err_storage: 'Gagal menyimpan data di HP.',
  err_unknown: 'Terjadi kesalahan.',
};

export type Key = keyof typeof id;

const en: Record<Key, string> = {
  app_name: 'Jemput',
  lang_toggle: 'Bahasa Indonesia',
  logout: 'Log out',
  back: 'Back',
  loading: 'Loading…',
  save: 'Save',
  saving: 'Saving…',
  yes: 'Yes',
  no: 'No',
  none: '—',
  choose: '— choose —',

  login_title: 'Log in',
  login_server: 'Server address',
  login_user: 'User name',
  login_password: 'Password',
  login_submit: 'Log in',
  login_busy: 'Logging in…',

  sync_online: 'Online',
  sync_offline: 'Offline',
  sync_syncing: 'Syncing…',
  sync_now: 'Sync now',
  sync_last: 'Synced',
  sync_never: 'never',
  sync_pending: '{n} to send',
  sync_rejected: '{n} changes rejected',
  sync_bytes: 'Data: {b}',
  sync_done: 'Sync finished',

  search_placeholder: 'Search name, NIK, KK, address',
  filter_all: 'All',
  filter_not_visited: 'Not visited',
  filter_poor: 'Poor (score)',
  filter_conflict: 'Has conflict',
  propose_new: '+ Propose a new household',
  list_empty: 'No households.',
  list_count: '{n} households',
  no_name: '(no name)',
  not_visited: 'Not visited',
  last_visit: 'Last visit',
  marker_conflict: 'Conflict',
  marker_proposal: 'Proposal',
  marker_rejected: 'Rejected',
  score: 'Score',
  poor_by_score: 'Poor by score',

  detail_identity: 'Identity',
  head_birth_date_optional: "Head's birth date (optional)",
  sync_month: 'This month: {b}',
  bundle_title: 'No signal? Send by file',
  bundle_export: 'Make a bundle file',
  bundle_import: 'Apply bundle',
  bundle_path: 'Bundle file location (.jemput)',
  bundle_written: 'File written: {path} ({n} households). Send it through a messaging app or a USB stick.',
  bundle_applied: 'Bundle applied: {n} households ({skipped} left out).',
  add_member: '+ New member (birth/moved in)',
  new_member_name: "New member's name",
  new_member_sex: 'Sex',
  detail_members: 'Household members',
  nik_mismatch: 'NIK does not match sex/birth date — check the KTP/KK',
  detail_registry: 'Registry data (imported)',
  detail_visits: 'Past visits',
  detail_conflicts: 'Data conflicts',
  detail_no_visits: 'No visits yet.',
  detail_no_members: 'No members yet.',
  record_visit: 'Record a visit',
  address: 'Address',
  kk: 'KK number',
  nik: 'NIK',
  rw_rt: 'RW/RT',
  rw: 'RW',
  rt: 'RT',
  id_dtks: 'DTKS ID',
  idbdt: 'IDBDT',
  kelurahan: 'Kelurahan code (Kemendagri)',
  kelurahan_bps: 'Kelurahan code (BPS)',
  desil: 'Decile',
  desil_note: 'read-only, from Dinas Sosial',
  programmes: 'Assistance programmes',
  sex_L: 'Male',
  sex_P: 'Female',
  born: 'Born',
  visit_by: 'by',
  criteria_met: 'Criteria met',
  notes: 'Notes',
  documents: 'Documents shown',
  doc_kk: 'Family card (KK)',
  doc_ktp: 'ID card (KTP)',
  conflict_values: 'Concurrent values',

  visit_title: 'Visit',
  visit_result: 'Visit result',
  visit_criteria: '14 poverty criteria',
  visit_members: 'Member changes',
  visit_pick_result: 'Choose the visit result first.',
  visit_unanswered: '{n} unanswered',
  visit_only_found: 'Criteria are answered only when the household was found.',
  occupation: 'Occupation of the household head',
  land_m2: 'Farm land (m²)',
  income_rp: 'Monthly income (Rp)',

  result_found: 'Found',
  result_not_found: 'Not found',
  result_moved: 'Moved',
  result_died: 'Died',
  result_duplicate: 'Duplicate',
  result_refused: 'Refused',
  status_none: 'Not visited',

  presence_lives_here: 'Lives here',
  presence_died: 'Died',
  presence_moved: 'Moved',
  presence_not_found: 'Not found',

  relation_head: 'Head',
  relation_spouse: 'Spouse',
  relation_child: 'Child',
  relation_parent: 'Parent',
  relation_other: 'Other',

  propose_title: 'Propose a new household',
  head_name: 'Name of the household head',
  nik_optional: 'NIK (optional, 16 digits)',
  kk_optional: 'KK number (optional, 16 digits)',
  save_proposal: 'Save proposal',
  required_fields: 'Fill in name, address, RW and RT.',

  open_review: 'Review conflicts',
  review_title: 'Review conflicts',
  review_rw_all: 'All RWs',
  review_kind_all: 'All kinds',
  review_count: '{n} open conflicts',
  review_empty: 'No open conflicts.',
  review_resolved: 'Decision saved.',
  review_open_household: 'Open household',
  kind_field: 'Differing entries',
  kind_divergent_visits: 'Differing visits',
  kind_possible_duplicate: 'Possible duplicate',
  path_status: 'Household status',
  path_member_name: 'Member name',
  path_member_nik: 'Member NIK',
  path_member_presence: 'Member presence',
  path_member_sex: 'Member sex',
  path_member_birth_date: 'Member birth date',
  path_member_relation: 'Relation to the head',
  path_identity_address: 'Address',
  path_identity_kk: 'KK number',
  path_identity_rw: 'RW',
  path_identity_rt: 'RT',
  choice_n: 'Choice {n}',
  choice_pick: 'Choose this',
  choice_by: 'By',
  choice_at: 'When',
  choice_device: 'Device',
  choice_visit: 'Visit',
  choice_empty: '(empty)',
  choice_keep_both: 'Two different households — keep both',
  choice_duplicate_of: 'Duplicate of another household:',
  choice_custom: 'Or type the correct value',
  choice_custom_save: 'Save this value',
  resolve_note: 'Note for the kader (optional, write it before choosing)',
  resolve_forbidden: 'Your role may not decide conflicts.',
  notes_title: 'Facilitator notes',
  open_history: 'Change history',
  history_title: 'Change history',
  history_empty: 'No history yet.',
  history_system: 'system',
  as_of_title: 'State on a date',
  as_of_date: 'Date',
  as_of_show: 'Show',
  as_of_status: 'Status',
  as_of_visits: 'Number of visits',

  err_offline: 'No connection. Your data is kept on the phone and will be sent at the next sync.',
  err_network: 'Cannot reach the server. Try again later.',
  err_timeout: 'The server took too long to answer. Try again later.',
  err_invalid_credentials: 'Wrong user name or password.',
  err_unauthorized: 'Your session has ended. Please log in again.',
  err_not_logged_in: 'Please log in first.',
  err_forbidden: 'You may not access this data.',
  err_not_found: 'Not found.',
  err_invalid_nik: 'Invalid NIK.',
  err_invalid_kk: 'Invalid KK number.',
  err_invalid_input: 'Invalid input.',
  err_server: 'Something went wrong on the server.',
  err_storage: 'Could not save the data on the phone.',
  err_unknown: 'Something went wrong.',
};

const dict: Record<Lang, Record<Key, string>> = { id, en };
const STORAGE_KEY = 'jemput.lang';

function initialLang(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    if (v === 'id' || v === 'en') return v;
  } catch { /* storage unavailable: use the default */ }
  return 'id';
}

let current: Lang = initialLang();
const listeners = new Set<(l: Lang) => void>();

export function lang(): Lang {
  return current;
}

export function setLang(l: Lang): void {
  current = l;
  try { localStorage.setItem(STORAGE_KEY, l); } catch { /* not remembered, still switched */ }
  document.documentElement.lang = l;
  listeners.forEach((f) => f(l));
}

export function onLangChange(f: (l: Lang) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Translate a key, filling `{name}` placeholders. */
export function t(key: Key, vars?: Record<string, string | number>): string {
  let s = dict[current][key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}

/** Translate a dynamic key (e.g. `result_${code}`); falls back to the raw value. */
export function tDyn(prefix: string, value: string | null | undefined): string {
  if (value == null || value === '') return t('none');
  const key = `${prefix}${value}` as Key;
  return key in dict[current] ? dict[current][key] : value;
}

/** A localized message for an error code, or null when the dictionary has none. */
export function errorText(err: CommandError): string {
  const key = `err_${err.code}` as Key;
  if (key in dict[current]) return dict[current][key];
  return err.message || dict[current].err_unknown;
}

export function locale(): string {
  return current === 'id' ? 'id-ID' : 'en-GB';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Milliseconds since the epoch → local date-time with the year (for audit: who decided what, when). */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || ms <= 0) return t('none');
  return new Date(ms).toLocaleString(locale(), {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** RFC3339 → short local date-time. */
export function formatDateTime(iso: string | null): string {
  if (!iso) return t('sync_never');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(locale(), { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}
