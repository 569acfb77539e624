// Owns: the fasilitator's conflict review screen — open conflicts filtered by RW and kind,
// each with its choices side by side (stacked on a phone), a corrected value for field
// conflicts, a note for the kader, and deciding through `resolve_conflict`.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ConfirmDialog, ErrorBox, Header, useCriteriaCount } from '../components';
import { formatMs, lang, t, tDyn, type Key } from '../i18n';
import {
  CONFLICT_KINDS, PRESENCES, VISIT_RESULTS,
  type Choice, type CommandError, type ConflictItem, type ConflictKind, type HouseholdDetail,
  type JsonValue,
} from '../types';
import { headName } from './household-detail';
import { fmt2 } from './household-list';

// Kept across mounts so opening a household and coming back keeps the fasilitator's filters.
let savedRw: number | null = null;
let savedKind: ConflictKind | null = null;

export function ReviewScreen({ onBack, onOpenHousehold }: {
  onBack: () => void; onOpenHousehold: (id: string) => void;
}) {
  const [rw, setRw] = useState<number | null>(savedRw);
  const [kind, setKind] = useState<ConflictKind | null>(savedKind);
  const [items, setItems] = useState<ConflictItem[] | null>(null);
  const [rws, setRws] = useState<number[]>([]);
  const [err, setErr] = useState<CommandError | null>(null);
  const [reload, setReload] = useState(0);
  const [resolved, setResolved] = useState(false);
  const seq = useRef(0);
  const total = useCriteriaCount();

  useEffect(() => {
    savedRw = rw;
    savedKind = kind;
    const mySeq = ++seq.current;
    const filtered = rw !== null || kind !== null;
    // The unfiltered list gives the RWs that have conflicts (the RW select's options).
    Promise.all([api.listConflicts(null, null), filtered ? api.listConflicts(rw, kind) : null])
      .then(([all, some]) => {
        if (mySeq !== seq.current) return;
        setRws([...new Set(all.map((c) => c.rw))].sort((a, b) => a - b));
        setItems(some ?? all);
        setErr(null);
      })
      .catch((e) => { if (mySeq === seq.current) setErr(api.toCommandError(e)); });
    // The labels come in the UI's language: a new language asks again.
  }, [rw, kind, reload, lang()]);

  const onResolved = (id: string) => {
    setItems((list) => list && list.filter((c) => c.id !== id));
    setResolved(true);
    setReload((n) => n + 1);
  };

  // Keep the chosen RW selectable even when its last conflict was just decided.
  const rwOptions = rw !== null && !rws.includes(rw) ? [...rws, rw].sort((a, b) => a - b) : rws;

  return (
    <div class="screen" id="review">
      <Header title={t('review_title')} onBack={onBack} />
      <main>
      <div class="list-tools">
        <select id="review-rw" aria-label={t('rw')} value={rw === null ? '' : String(rw)}
          onChange={(e) => { setResolved(false); setRw(e.currentTarget.value === '' ? null : Number(e.currentTarget.value)); }}>
          <option value="">{t('review_rw_all')}</option>
          {rwOptions.map((r) => <option key={r} value={String(r)}>{t('rw')} {fmt2(r)}</option>)}
        </select>
        <div class="chips" role="group">
          {([null, ...CONFLICT_KINDS] as (ConflictKind | null)[]).map((k) => (
            <button key={k ?? 'all'} id={`review-kind-${k ?? 'all'}`} class={`chip ${kind === k ? 'active' : ''}`}
              aria-pressed={kind === k} onClick={() => { setResolved(false); setKind(k); }}>
              {k ? t(`kind_${k}`) : t('review_kind_all')}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox err={err} id="review-error" />
      {resolved && <p class="ok-msg" id="review-resolved" role="status">✓ {t('review_resolved')}</p>}
      {items === null && !err && <p class="muted center">{t('loading')}</p>}
      {items && (
        <>
          <p class="muted count" id="review-count">{t('review_count', { n: items.length })}</p>
          {items.length === 0 && <p class="muted center">{t('review_empty')}</p>}
          <ul class="conflict-list">
            {items.map((c) => (
              <ConflictCard key={c.id} item={c} total={total} onOpenHousehold={onOpenHousehold}
                onResolved={() => onResolved(c.id)} />
            ))}
          </ul>
        </>
      )}
      </main>
    </div>
  );
}

type Decision = { pick: number } | { value: string };

function ConflictCard({ item, total, onOpenHousehold, onResolved }: {
  item: ConflictItem; total: number; onOpenHousehold: (id: string) => void; onResolved: () => void;
}) {
  const [note, setNote] = useState('');
  const [custom, setCustom] = useState('');
  const [err, setErr] = useState<CommandError | null>(null);
  const [busy, setBusy] = useState(false);
  // A decision travels to every kader and cannot be taken back here: it asks first.
  const [confirm, setConfirm] = useState<{ d: Decision; what: string } | null>(null);
  const dup = item.kind === 'possible_duplicate';
  const self = useHousehold(dup ? item.household : null);

  const submit = async (d: Decision) => {
    setConfirm(null);
    setBusy(true);
    setErr(null);
    try {
      await api.resolveConflict(item.id, d, note.trim() || null);
      onResolved();
    } catch (e) {
      // The note and the typed value stay in the form: only the error is new.
      setErr(api.toCommandError(e));
      setBusy(false);
    }
  };

  const enumOptions = customOptions(item.path);
  const listId = `custom-options-${item.id}`;
  return (
    <li class="card conflict-item" data-id={item.id} data-kind={item.kind}>
      <div class="conflict-head">
        <button class="conflict-household link-text" onClick={() => onOpenHousehold(item.household)}
          title={t('review_open_household')}>
          {item.head_name || t('no_name')}
        </button>
        <span class="rwrt small-text">RW {fmt2(item.rw)}/RT {fmt2(item.rt)}</span>
        <span class={`marker kind-${item.kind}`}>{t(`kind_${item.kind}`)}</span>
      </div>
      {(item.label || item.path) && (
        <div class="conflict-path" title={item.path ?? undefined}><strong>{item.label || pathLabel(item.path ?? '')}</strong></div>
      )}
      {dup && self && <HouseholdSummary h={self} />}

      {/* Before the choices: choosing decides at once, so the note is written first. */}
      <div class="field">
        <label for={`note-${item.id}`}>{t('resolve_note')}</label>
        <textarea id={`note-${item.id}`} class="resolve-note" rows={2} value={note}
          onInput={(e) => setNote(e.currentTarget.value)} />
      </div>
      <div class="choices">
        {item.choices.map((c) => (
          <div class="choice" key={c.n} data-n={c.n}>
            <div class="muted small-text">{t('choice_n', { n: c.n })}</div>
            <div class="choice-value"><ChoiceValue item={item} c={c} total={total} /></div>
            <dl class="choice-meta small-text">
              {c.by != null && <><dt>{t('choice_by')}</dt><dd class="choice-by">{c.by}</dd></>}
              {c.at > 0 && <><dt>{t('choice_at')}</dt><dd class="choice-at">{formatMs(c.at)}</dd></>}
              {c.device && <><dt>{t('choice_device')}</dt><dd class="choice-device mono" title={c.device}>{c.device.slice(0, 8)}</dd></>}
              {c.visit && <><dt>{t('choice_visit')}</dt><dd class="choice-visit mono">{c.visit}</dd></>}
            </dl>
            {c.notes && (
              <div class="choice-notes small-text"><span class="muted">{t('choice_notes')}:</span> “{c.notes}”</div>
            )}
            <button class="choice-pick secondary wide" data-n={c.n} disabled={busy}
              onClick={() => setConfirm({ d: { pick: c.n }, what: t('choice_n', { n: c.n }) })}>
              {t('choice_pick')}
            </button>
          </div>
        ))}
      </div>

      {item.kind === 'field' && (
        <div class="field custom-value">
          <label for={`custom-${item.id}`}>{t('choice_custom')}</label>
          <div class="with-button">
            <input id={`custom-${item.id}`} class="choice-custom" autoComplete="off" value={custom}
              list={enumOptions ? listId : undefined} onInput={(e) => setCustom(e.currentTarget.value)} />
            <button class="choice-custom-save secondary" disabled={busy || custom.trim() === ''}
              onClick={() => setConfirm({ d: { value: custom.trim() }, what: `“${custom.trim()}”` })}>
              {t('choice_custom_save')}
            </button>
          </div>
          {enumOptions && (
            <datalist id={listId}>
              {enumOptions.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
            </datalist>
          )}
        </div>
      )}

      <div class="resolve-error">
        <ErrorBox err={err} text={err?.code === 'forbidden' ? t('resolve_forbidden') : undefined} />
      </div>
      {confirm && (
        <ConfirmDialog
          id="confirm-decide"
          title={t('decide_title')}
          body={<p>{t('decide_body', { choice: confirm.what })}</p>}
          choices={[
            { id: 'decide-cancel', label: t('cancel'), onClick: () => setConfirm(null) },
            { id: 'decide-confirm', label: t('decide_confirm'), onClick: () => submit(confirm.d), primary: true },
          ]}
        />
      )}
    </li>
  );
}

function ChoiceValue({ item, c, total }: { item: ConflictItem; c: Choice; total: number }) {
  const other = useHousehold(c.action === 'duplicate_of' ? c.other_household : null);
  switch (c.action) {
    case 'keep_both':
      return <span>{t('choice_keep_both')}</span>;
    case 'duplicate_of':
      return (
        <>
          <div>{t('choice_duplicate_of')}</div>
          {other ? <HouseholdSummary h={other} /> : <div class="mono">{c.other_household ?? t('none')}</div>}
        </>
      );
    case 'visit': {
      const v = (c.value && typeof c.value === 'object' && !Array.isArray(c.value) ? c.value : {}) as
        { [k: string]: JsonValue | undefined };
      const result = typeof v.result === 'string' ? v.result : null;
      const met = Array.isArray(v.met) ? v.met.length : typeof v.met === 'number' ? v.met : null;
      return (
        <div class="markers">
          <span class={`badge status-${result ?? 'none'}`}>{tDyn('result_', result)}</span>
          {typeof v.score === 'number' && (
            <span class={`score ${v.poor === true ? 'poor' : ''}`}>{v.score}/{total}</span>
          )}
          {v.poor === true && <span class="marker poor">{t('poor_by_score')}</span>}
          {met !== null && typeof v.score !== 'number' && <span>{t('criteria_met')}: {met}</span>}
        </div>
      );
    }
    default:
      return <span class="value-text">{formatValue(item.path, c.value)}</span>;
  }
}

function HouseholdSummary({ h }: { h: HouseholdDetail }) {
  return (
    <div class="hh-summary small-text">
      <strong>{headName(h)}</strong>
      <div class="muted">
        RW {fmt2(h.identity.rw)}/RT {fmt2(h.identity.rt)}{h.identity.address ? ` · ${h.identity.address}` : ''}
      </div>
      {h.identity.kk && <div>{t('kk')}: <span class="mono number-id">{h.identity.kk}</span></div>}
    </div>
  );
}

/** A household's detail for a side-by-side comparison; null while loading or when unavailable. */
function useHousehold(id: string | null): HouseholdDetail | null {
  const [h, setH] = useState<HouseholdDetail | null>(null);
  useEffect(() => {
    setH(null);
    if (!id) return;
    let alive = true;
    api.getHousehold(id).then((d) => { if (alive) setH(d); }).catch(() => undefined);
    return () => { alive = false; };
  }, [id]);
  return h;
}

const MEMBER_FIELDS = ['name', 'nik', 'presence', 'sex', 'birth_date', 'relation'];
const IDENTITY_FIELDS = ['address', 'kk', 'rw', 'rt'];

/** A document path in words ("members.m-1.name" → "Nama anggota (m-1)"); unknown paths stay raw. */
export function pathLabel(path: string): string {
  if (path === 'status') return t('path_status');
  const m = /^members\.(.+)\.([a-z_]+)$/.exec(path);
  if (m && MEMBER_FIELDS.includes(m[2])) return `${t(`path_member_${m[2]}` as Key)} (${m[1]})`;
  const i = /^identity\.([a-z_]+)$/.exec(path);
  if (i && IDENTITY_FIELDS.includes(i[1])) return t(`path_identity_${i[1]}` as Key);
  return path;
}

/** One concurrent value, localized by the field it belongs to. */
export function formatValue(path: string | null, v: JsonValue): string {
  if (v === null || v === '') return t('choice_empty');
  if (typeof v === 'boolean') return v ? t('yes') : t('no');
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') return JSON.stringify(v);
  const p = path ?? '';
  if (p === 'status' || p.endsWith('.result')) return tDyn('result_', v);
  if (p.startsWith('members.') && p.endsWith('.presence')) return tDyn('presence_', v);
  if (p.startsWith('members.') && p.endsWith('.relation')) return tDyn('relation_', v);
  if (p.startsWith('members.') && p.endsWith('.sex') && (v === 'L' || v === 'P')) return t(v === 'L' ? 'sex_L' : 'sex_P');
  return v;
}

/** Suggested raw codes (with their labels) for a corrected value of a coded field. */
function customOptions(path: string | null): [string, string][] | null {
  if (path === 'status') return VISIT_RESULTS.map((r) => [r, tDyn('result_', r)]);
  if (path && /^members\..+\.presence$/.test(path)) return PRESENCES.map((p) => [p, tDyn('presence_', p)]);
  return null;
}
