// Owns: the office registry screen (operator, admin) — checking a DTKS file before anything
// is written (`registry_preview`), naming the columns Jemput does not recognise
// (`registry_save_mapping`), importing it with a progress bar and cancel (`registry_import`,
// `registry-progress` events, `registry_cancel`), and exporting the periodic update for
// Dinas Sosial (`registry_export`).
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ConfirmDialog, ErrorBox, Header } from '../components';
import { lang, stopText, t, todayYmd } from '../i18n';
import {
  FIELDS,
  type ColumnTarget, type CommandError, type ExportDone, type ImportPreview, type ImportProgress, type ImportReport,
  type PreviewColumn,
} from '../types';

/** The backend sends at most this many rejected-row examples; the screen never shows more. */
const MAX_EXAMPLES = 20;
const PATH_EXAMPLE = '/home/operator/DTKS-2026-11.xlsx';

// Kept across mounts so leaving the screen and coming back keeps what the operator typed.
let savedPath = '';
let savedPartial = false;

export function RegistryScreen({ onBack }: { onBack: () => void }) {
  // While an import runs the only way out is its cancel button.
  const [importing, setImporting] = useState(false);
  return (
    <div class="screen" id="registry">
      <Header title={t('registry_title')} onBack={importing ? undefined : onBack} />
      <main>
      <ImportSection onImporting={setImporting} />
      <ExportSection locked={importing} />
      </main>
    </div>
  );
}

type Busy = 'check' | 'mapping' | 'import' | null;

function ImportSection({ onImporting }: { onImporting: (running: boolean) => void }) {
  const [path, setPath] = useState(savedPath);
  const [partial, setPartial] = useState(savedPartial);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [choices, setChoices] = useState<Record<string, ColumnTarget>>({});
  const [busy, setBusy] = useState<Busy>(null);
  const [progress, setProgress] = useState<ImportProgress | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [cancelled, setCancelled] = useState(false);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  const alive = useRef(true);
  const unlisten = useRef<api.UnlistenFn | null>(null);

  const stopListening = () => {
    const f = unlisten.current;
    unlisten.current = null;
    if (f) Promise.resolve(f()).catch(() => undefined);
  };
  useEffect(() => {
    alive.current = true;
    return () => { alive.current = false; stopListening(); };
  }, []);
  useEffect(() => { savedPath = path; savedPartial = partial; }, [path, partial]);

  // A preview describes one file read one way: editing either makes it stale.
  const edited = () => { setPreview(null); setChoices({}); setReport(null); setCancelled(false); };

  const check = async () => {
    setBusy('check');
    setErr(null);
    setReport(null);
    setCancelled(false);
    try {
      const p = await api.registryPreview(path.trim(), partial);
      if (!alive.current) return;
      setPreview(p);
      setChoices({});
    } catch (e) {
      if (!alive.current) return;
      // The path and the checkbox stay as typed, so the operator can correct them.
      setPreview(null);
      setErr(api.toCommandError(e));
    } finally {
      if (alive.current) setBusy(null);
    }
  };

  const chosen = Object.entries(choices);
  const saveMapping = async () => {
    if (chosen.length === 0) return;
    setBusy('mapping');
    setErr(null);
    try {
      await api.registrySaveMapping(chosen);
      // Read the file again with the new names: counts and rejections may change.
      const p = await api.registryPreview(path.trim(), partial);
      if (!alive.current) return;
      setPreview(p);
      setChoices({});
    } catch (e) {
      // The choices stay selected; saving them again is harmless.
      if (alive.current) setErr(api.toCommandError(e));
    } finally {
      if (alive.current) setBusy(null);
    }
  };

  // Marking many households missing asks first, with the number (the backend checks it).
  const [confirming, setConfirming] = useState(false);
  const confirmNeeded = preview?.stop?.stop === 'confirm_missing' ? preview.stop.missing : null;
  const askOrImport = () => (confirmNeeded != null ? setConfirming(true) : runImport(null));

  const runImport = async (confirmMissing: number | null) => {
    setConfirming(false);
    setBusy('import');
    onImporting(true);
    setErr(null);
    setProgress(null);
    setCancelling(false);
    setCancelled(false);
    setReport(null);
    try {
      try {
        // Subscribe before starting, so no early progress event is missed.
        unlisten.current = await api.onRegistryProgress((p) => { if (alive.current) setProgress(p); });
      } catch {
        // Without events the bar stays indeterminate; the import itself still runs.
      }
      const r = await api.registryImport(path.trim(), partial, confirmMissing);
      if (!alive.current) return;
      setReport(r);
      setPreview(null);
    } catch (e) {
      if (!alive.current) return;
      const ce = api.toCommandError(e);
      // A cancelled import wrote nothing; any other failure keeps the preview to try again.
      if (ce.code === 'cancelled') setCancelled(true);
      else setErr(ce);
    } finally {
      stopListening();
      if (alive.current) {
        setBusy(null);
        setProgress(null);
        setCancelling(false);
        onImporting(false);
      }
    }
  };

  const cancel = async () => {
    setCancelling(true);
    try {
      await api.registryCancel();
    } catch (e) {
      if (!alive.current) return;
      setErr(api.toCommandError(e));
      setCancelling(false);
    }
  };

  const locked = busy !== null;
  return (
    <section class="card registry-section" id="registry-import">
      <h2>{t('registry_import_title')}</h2>
      <p class="muted small-text hint">{t('registry_import_hint')}</p>
      <div class="field">
        <label for="registry-path">{t('registry_path')}</label>
        <div class="with-button">
          <input id="registry-path" data-testid="registry-path" type="text" inputMode="url" autoComplete="off"
            spellcheck={false} placeholder={PATH_EXAMPLE} value={path} disabled={busy === 'import'}
            onInput={(e) => { setPath(e.currentTarget.value); edited(); }} />
          <button id="registry-choose" data-testid="registry-choose" type="button" class="secondary"
            disabled={busy === 'import'}
            onClick={() => api.chooseFile('open', ['xlsx', 'csv'])
              .then((p) => { if (p) { setPath(p); edited(); } })
              .catch(() => undefined)}>
            {t('choose_file')}
          </button>
        </div>
      </div>
      <label class="check">
        <input id="registry-partial" data-testid="registry-partial" type="checkbox" checked={partial}
          disabled={busy === 'import'} onChange={(e) => { setPartial(e.currentTarget.checked); edited(); }} />
        <span>{t('registry_partial')}</span>
      </label>
      <p class="muted small-text hint">{t('registry_partial_hint')}</p>
      <button id="registry-check" data-testid="registry-check" class="secondary wide"
        disabled={locked || path.trim() === ''} onClick={check}>
        {busy === 'check' ? t('registry_checking') : t('registry_check')}
      </button>

      <ErrorBox err={err} id="registry-error"
        text={err?.code === 'invalid_input' ? t('registry_file_error') : undefined} />
      {cancelled && (
        <p class="info-msg" id="registry-cancelled" data-testid="registry-cancelled" role="status">
          {t('registry_cancelled')}
        </p>
      )}

      {preview && (
        <PreviewView p={preview} choices={choices} locked={locked}
          onChoose={(name, v) => setChoices((c) => {
            const next = { ...c };
            if (v) next[name] = v; else delete next[name];
            return next;
          })}
          onSaveMapping={saveMapping} canSave={chosen.length > 0} onImport={askOrImport} />
      )}
      {confirming && confirmNeeded != null && preview && (
        <ConfirmDialog
          id="registry-confirm-missing"
          title={t('registry_confirm_missing_title', { n: confirmNeeded })}
          body={<p>{t('registry_confirm_missing_body', { n: confirmNeeded, stored: preview.coverage.stored })}</p>}
          choices={[
            { id: 'registry-confirm-cancel', label: t('cancel'), onClick: () => setConfirming(false) },
            { id: 'registry-confirm-yes', label: t('registry_confirm_missing_yes', { n: confirmNeeded }),
              onClick: () => runImport(confirmNeeded), primary: true },
          ]}
        />
      )}

      {busy === 'import' && (
        <div class="import-progress" data-testid="registry-progress-box" aria-live="polite">
          {progress
            ? <progress id="registry-progress" data-testid="registry-progress" value={progress.done} max={progress.total} />
            : <progress id="registry-progress" data-testid="registry-progress" />}
          <span data-testid="registry-progress-text">
            {progress ? t('registry_progress', { done: progress.done, total: progress.total }) : t('registry_importing')}
          </span>
          <button id="registry-cancel" data-testid="registry-cancel" class="secondary wide danger"
            disabled={cancelling} onClick={cancel}>
            {cancelling ? t('registry_cancelling') : t('registry_cancel')}
          </button>
        </div>
      )}

      {report && <ReportView r={report} />}
    </section>
  );
}

function PreviewView({ p, choices, locked, onChoose, onSaveMapping, canSave, onImport }: {
  p: ImportPreview; choices: Record<string, ColumnTarget>; locked: boolean;
  onChoose: (name: string, v: ColumnTarget | '') => void; onSaveMapping: () => void; canSave: boolean;
  onImport: () => void;
}) {
  const unrecognised = new Set(p.unrecognised);
  const examples = p.examples.slice(0, MAX_EXAMPLES);
  return (
    <div class="registry-preview" id="registry-preview" data-testid="registry-preview">
      <dl class="kv">
        <dt>{t('registry_kelurahan')}</dt>
        <dd class="mono" data-testid="registry-kelurahan">{p.kelurahan}</dd>
      </dl>
      <div class="stat-grid">
        <Stat label={t('registry_rows')} value={p.rows} testid="registry-rows" />
        <Stat label={t('registry_households')} value={p.households} testid="registry-households" />
        <Stat label={t('registry_members')} value={p.members} testid="registry-members" />
        <Stat label={t('registry_rejected')} value={p.rejected} testid="registry-rejected" bad={p.rejected > 0} />
      </div>

      <h3>{t('registry_plan_title')}</h3>
      <div class="stat-grid" id="registry-plan">
        <Stat label={t('registry_will_create')} value={p.counts.created} testid="registry-will-create" />
        <Stat label={t('registry_will_update')} value={p.counts.updated} testid="registry-will-update" />
        <Stat label={t('registry_will_keep')} value={p.counts.unchanged} testid="registry-will-keep" />
        <Stat label={t('registry_will_miss')} value={p.counts.missing} testid="registry-will-miss" bad={p.counts.missing > 0} />
      </div>
      {p.coverage.stored > 0 && (
        <p class="small-text" id="registry-coverage">
          {t('registry_coverage', { held: p.coverage.held, stored: p.coverage.stored,
            pct: Math.floor((p.coverage.held * 100) / p.coverage.stored) })}
        </p>
      )}
      {p.stop && (
        <p class={p.stop.stop === 'confirm_missing' ? 'info-msg' : 'error'} id="registry-stop" role="status">
          {stopText(p.stop)}
        </p>
      )}

      <h3>{t('registry_columns')}</h3>
      <ul class="column-list" data-testid="registry-columns">
        {p.columns.map((c, i) => (
          <li key={`${i}-${c.name}`} data-column={c.name} class={!c.field && unrecognised.has(c.name) ? 'unrecognised' : ''}>
            <span class="col-name">{c.name}</span>
            <span class="col-arrow" aria-hidden="true">→</span>
            <span class="col-field">{columnLabel(c, unrecognised)}</span>
          </li>
        ))}
      </ul>

      {p.unrecognised.length > 0 && (
        <div class="mapping" data-testid="registry-mapping">
          <h3>{t('registry_map_title')}</h3>
          <p class="muted small-text hint">{t('registry_map_hint')}</p>
          {p.unrecognised.map((name, i) => (
            <div class="field" key={name}>
              <label for={`registry-map-${i}`} class="map-name">{name}</label>
              <select id={`registry-map-${i}`} data-testid="registry-map" data-column={name} disabled={locked}
                value={choices[name] ?? ''} onChange={(e) => onChoose(name, e.currentTarget.value as ColumnTarget | '')}>
                <option value="">{t('choose')}</option>
                {FIELDS.map((f) => <option key={f} value={f}>{t(`field_${f}`)}</option>)}
                <option value="ignore">{t('field_ignore')}</option>
              </select>
            </div>
          ))}
          <button id="registry-map-save" data-testid="registry-map-save" class="secondary wide"
            disabled={locked || !canSave} onClick={onSaveMapping}>
            {t('registry_map_save')}
          </button>
        </div>
      )}

      {examples.length > 0 && (
        <div class="examples" data-testid="registry-examples">
          <h3>{t('registry_examples')}</h3>
          <ul class="example-list">
            {examples.map((e) => (
              <li key={e.row}>{t('registry_example_row', { n: e.row, reason: lang() === 'en' ? e.reason : e.alasan })}</li>
            ))}
          </ul>
          {p.rejected > examples.length && (
            <p class="muted small-text">{t('registry_examples_more', { n: p.rejected - examples.length })}</p>
          )}
        </div>
      )}

      <button id="registry-import" data-testid="registry-import" class="primary wide"
        disabled={locked || p.households === 0 || (p.stop != null && p.stop.stop !== 'confirm_missing')}
        onClick={onImport}>
        {t('registry_import')}
      </button>
    </div>
  );
}

function columnLabel(c: PreviewColumn, unrecognised: Set<string>): string {
  if (c.field) return t(`field_${c.field}`);
  return unrecognised.has(c.name) ? t('registry_column_unrecognised') : t('registry_column_ignored');
}

function Stat({ label, value, testid, bad = false }: { label: string; value: number; testid: string; bad?: boolean }) {
  return (
    <div class={`stat ${bad ? 'bad' : ''}`}>
      <span class="stat-value" data-testid={testid}>{value}</span>
      <span class="stat-label">{label}</span>
    </div>
  );
}

function ReportView({ r }: { r: ImportReport }) {
  return (
    <div class="result-box" id="registry-result" data-testid="registry-result" role="status">
      <h3>✓ {t('registry_result_title')}</h3>
      <dl class="kv">
        <dt>{t('registry_kelurahan')}</dt><dd class="mono">{r.kelurahan}</dd>
        <dt>{t('registry_households')}</dt><dd data-testid="registry-result-households">{r.households}</dd>
        <dt>{t('registry_created')}</dt><dd data-testid="registry-created">{r.counts.created}</dd>
        <dt>{t('registry_updated')}</dt><dd data-testid="registry-updated">{r.counts.updated}</dd>
        <dt>{t('registry_unchanged')}</dt><dd data-testid="registry-unchanged">{r.counts.unchanged}</dd>
        <dt>{t('registry_missing')}</dt><dd data-testid="registry-missing">{r.counts.missing}</dd>
        <dt>{t('registry_rejected')}</dt><dd data-testid="registry-result-rejected">{r.rejected}</dd>
      </dl>
      {r.rejected_xlsx && (
        <p class="small-text">
          {t('registry_rejected_file')}: <span class="mono" data-testid="registry-rejected-xlsx">{r.rejected_xlsx}</span>
        </p>
      )}
      {r.rejected_file && (
        <p class="small-text muted">
          {t('registry_rejected_csv')}: <span class="mono" data-testid="registry-rejected-file">{r.rejected_file}</span>
        </p>
      )}
      <p class="muted small-text">{t('registry_sync_note')}</p>
    </div>
  );
}

type Format = 'xlsx' | 'csv';
const EXT = /\.(xlsx|csv)$/i;

function ExportSection({ locked }: { locked: boolean }) {
  const [cutoff, setCutoff] = useState(todayYmd());
  const [since, setSince] = useState('');
  const [format, setFormat] = useState<Format>('xlsx');
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<ExportDone | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  const alive = useRef(true);
  useEffect(() => { alive.current = true; return () => { alive.current = false; }; }, []);

  // The format and the path's extension follow each other; a path without one gets the format's.
  const choosePath = (v: string) => {
    setPath(v);
    const m = EXT.exec(v.trim());
    if (m) setFormat(m[1].toLowerCase() as Format);
  };
  const chooseFormat = (f: Format) => {
    setFormat(f);
    if (EXT.test(path.trim())) setPath(path.trim().replace(EXT, `.${f}`));
  };
  const target = EXT.test(path.trim()) ? path.trim() : `${path.trim()}.${format}`;
  const sinceAfterCutoff = since !== '' && cutoff !== '' && since > cutoff;

  // Work on this device that the server does not hold is not in an export made from the
  // server's rows: say how much and offer to sync first.
  const [unsent, setUnsent] = useState<number | null>(null);
  const check = async () => {
    setErr(null);
    try {
      const waiting = (await api.outbox()).waiting;
      if (!alive.current) return;
      if (waiting > 0) setUnsent(waiting); else await run();
    } catch (e) {
      if (alive.current) setErr(api.toCommandError(e));
    }
  };
  const syncThenCheck = async () => {
    setUnsent(null);
    setBusy(true);
    try {
      await api.syncNow();
    } catch (e) {
      if (alive.current) { setErr(api.toCommandError(e)); setBusy(false); }
      return;
    }
    if (alive.current) { setBusy(false); await check(); }
  };

  const run = async () => {
    setUnsent(null);
    setBusy(true);
    setErr(null);
    setDone(null);
    try {
      const r = await api.registryExport(cutoff, since || null, target);
      if (alive.current) setDone(r);
    } catch (e) {
      if (alive.current) setErr(api.toCommandError(e));
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  return (
    <section class="card registry-section" id="registry-export">
      <h2>{t('export_title')}</h2>
      <p class="muted small-text hint">{t('export_hint')}</p>
      <div class="two">
        <div class="field">
          <label for="export-cutoff">{t('export_cutoff')}</label>
          <input id="export-cutoff" data-testid="export-cutoff" type="date" value={cutoff} required
            onInput={(e) => setCutoff(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="export-since">{t('export_since')}</label>
          <input id="export-since" data-testid="export-since" type="date" value={since} max={cutoff || undefined}
            onInput={(e) => setSince(e.currentTarget.value)} />
        </div>
      </div>
      <p class="muted small-text hint">{t('export_since_hint')}</p>
      {sinceAfterCutoff && <p class="field-error" data-testid="export-since-error">{t('export_since_after_cutoff')}</p>}
      <div class="field">
        <label for="export-format">{t('export_format')}</label>
        <select id="export-format" data-testid="export-format" value={format}
          onChange={(e) => chooseFormat(e.currentTarget.value as Format)}>
          <option value="xlsx">XLSX (Excel)</option>
          <option value="csv">CSV</option>
        </select>
      </div>
      <div class="field">
        <label for="export-path">{t('export_path')}</label>
        <div class="with-button">
          <input id="export-path" data-testid="export-path" type="text" inputMode="url" autoComplete="off"
            spellcheck={false} placeholder={`/home/operator/pemutakhiran-${cutoff || 'YYYY-MM-DD'}.${format}`}
            value={path} onInput={(e) => choosePath(e.currentTarget.value)} />
          <button id="export-choose" data-testid="export-choose" type="button" class="secondary"
            onClick={() => api.chooseFile('save', [format], `pemutakhiran-${cutoff || 'data'}.${format}`)
              .then((p) => { if (p) choosePath(p); })
              .catch(() => undefined)}>
            {t('choose_place')}
          </button>
        </div>
      </div>
      <button id="export-run" data-testid="export-run" class="primary wide"
        disabled={busy || locked || cutoff === '' || path.trim() === '' || sinceAfterCutoff} onClick={check}>
        {busy ? t('export_running') : t('export_run')}
      </button>
      {unsent != null && (
        <ConfirmDialog
          id="export-unsent"
          title={t('export_unsent_title', { n: unsent })}
          body={<p>{t('export_unsent_body', { n: unsent })}</p>}
          choices={[
            { id: 'export-unsent-cancel', label: t('cancel'), onClick: () => setUnsent(null) },
            { id: 'export-unsent-anyway', label: t('export_unsent_anyway'), onClick: run },
            { id: 'export-unsent-sync', label: t('export_unsent_sync'), onClick: syncThenCheck, primary: true },
          ]}
        />
      )}
      <ErrorBox err={err} id="export-error" />
      {done && (
        <div class="result-box" id="export-result" data-testid="export-result" role="status">
          <p class="result-line">✓ {t('export_done', { n: done.households })}</p>
          <div class="muted small-text">{t('export_files')}:</div>
          <ul class="file-list">
            {done.files.map((f) => <li key={f} class="mono" data-testid="export-file">{f}</li>)}
          </ul>
        </div>
      )}
    </section>
  );
}
