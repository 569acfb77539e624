// Owns: the visit form — result, the indicator-set criteria by answer kind (each may be
// marked "tidak tahu / menolak menjawab"), member presence changes and new members
// (births), documents shown, notes; the draft kept in the device store as it is typed
// (`draft_put`), restored on return, gone with the saved visit; saving through
// `record_visit`, which a found household with unanswered criteria cannot pass. The
// score is not shown while answering (it would invite steering answers): the household
// shows it once the visit is saved.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ConfirmDialog, ErrorBox, Header } from '../components';
import { formatMs, lang, t, tDyn } from '../i18n';
import {
  PRESENCES, UNKNOWN_ANSWER, VISIT_RESULTS,
  type Answers, type AnswerValue, type Criterion, type ShownError, type HouseholdDetail,
  type IndicatorSet, type NewMember, type NewVisit, type VisitResult,
} from '../types';
import { headName } from './household-detail';

/** Raw text the kader typed, per input, so half-typed numbers are not lost on re-render. */
type Drafts = Record<string, string>;

/**
 * Parse a number typed on an Indonesian phone: "1,5" is 1.5, "600.000" is 600000.
 * Returns null for blank or unparseable input (the criterion stays unanswered).
 */
export function parseNumber(raw: string): number | null {
  let s = raw.trim().replace(/\s/g, '').replace(/^rp/i, '');
  if (s === '') return null;
  if (/^\d{1,3}(\.\d{3})+(,\d+)?$/.test(s)) s = s.replace(/\./g, '');
  s = s.replace(',', '.');
  if (!/^-?\d*\.?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** Everything the kader has entered, as kept in the draft. */
interface FormState {
  result: VisitResult | null;
  answers: Answers;
  drafts: Drafts;
  presence: Record<string, string>;
  newMembers: NewMember[];
  docKk: boolean;
  docKtp: boolean;
  notes: string;
}

const DRAFT_DEBOUNCE_MS = 300;

function emptyState(household: HouseholdDetail): FormState {
  return {
    result: null,
    answers: {},
    drafts: {},
    presence: Object.fromEntries(Object.entries(household.members).map(([id, m]) => [id, m.presence ?? 'lives_here'])),
    newMembers: [],
    docKk: false,
    docKtp: false,
    notes: '',
  };
}

/** Whether the kader has entered anything worth keeping. */
function touched(s: FormState, household: HouseholdDetail): boolean {
  const e = emptyState(household);
  return s.result !== null || Object.keys(s.answers).length > 0 || s.newMembers.length > 0 || s.docKk || s.docKtp
    || s.notes.trim() !== '' || JSON.stringify(s.presence) !== JSON.stringify(e.presence)
    || Object.values(s.drafts).some((d) => d.trim() !== '');
}

export function VisitForm({ household, onCancel, onSaved }: {
  household: HouseholdDetail; onCancel: () => void; onSaved: (h: HouseholdDetail) => void;
}) {
  const [set, setSet] = useState<IndicatorSet | null>(null);
  const [form, setForm] = useState<FormState>(() => emptyState(household));
  // The draft is read before anything is typed, and written only after that.
  const [ready, setReady] = useState(false);
  const [restoredAt, setRestoredAt] = useState<number | null>(null);
  const [draftErr, setDraftErr] = useState<ShownError | null>(null);
  const [err, setErr] = useState<ShownError | null>(null);
  const [saving, setSaving] = useState(false);
  const [missing, setMissing] = useState<Criterion[] | null>(null);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const pendingDraft = useRef<FormState | null>(null);
  const saved = useRef(false);

  useEffect(() => {
    api.indicatorSet().then(setSet).catch((e) => setErr(api.toCommandError(e)));
    api.draftGet(household.id)
      .then((d) => {
        if (d && d.body && typeof d.body === 'object') {
          setForm({ ...emptyState(household), ...(d.body as Partial<FormState>) });
          setRestoredAt(d.at);
        }
      })
      .catch((e) => setDraftErr(api.toCommandError(e)))
      .finally(() => setReady(true));
  }, [household.id]);

  // Every change is kept on the device (the Rust store, not the webview's storage)
  // shortly after it is made, so "Kembali", closing the app or a crash lose nothing.
  const writeDraft = (s: FormState) => {
    pendingDraft.current = null;
    if (saved.current) return Promise.resolve();
    const p = touched(s, household) ? api.draftPut(household.id, s) : api.draftDiscard(household.id);
    return p.then(() => setDraftErr(null)).catch((e) => setDraftErr(api.toCommandError(e)));
  };
  useEffect(() => {
    if (!ready) return;
    pendingDraft.current = form;
    const timer = setTimeout(() => writeDraft(form), DRAFT_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [form, ready]);
  const back = async () => {
    if (pendingDraft.current) await writeDraft(pendingDraft.current);
    onCancel();
  };

  const update = (patch: Partial<FormState>) => setForm((f) => ({ ...f, ...patch }));
  const { result, answers, drafts, presence, newMembers, docKk, docKtp, notes } = form;
  const setAnswer = (cid: string, v: AnswerValue | null) => {
    setForm((f) => {
      const next = { ...f.answers };
      if (v === null) delete next[cid]; else next[cid] = v;
      return { ...f, answers: next };
    });
  };
  const setDraft = (key: string, v: string) => setForm((f) => ({ ...f, drafts: { ...f.drafts, [key]: v } }));
  // Members found on the visit who are not on the record yet (a birth, someone who
  // moved in): saved as `new_members`, each becoming a member with presence "new".
  const editNewMember = (i: number, patch: Partial<NewMember>) =>
    setForm((f) => ({ ...f, newMembers: f.newMembers.map((m, j) => (j === i ? { ...m, ...patch } : m)) }));

  const markMissingUnknown = () => {
    setForm((f) => {
      const next = { ...f.answers };
      for (const c of missing ?? []) next[c.id] = UNKNOWN_ANSWER;
      return { ...f, answers: next };
    });
    setMissing(null);
  };

  const save = async () => {
    if (!result) { setErr({ code: 'form', message: t('visit_pick_result') }); return; }
    const found = result === 'found';
    // A found household is asked every criterion: what is left blank must be marked
    // "tidak tahu" first (the backend refuses it too).
    if (found && set) {
      const gaps = set.criteria.filter((c) => answers[c.id] === undefined);
      if (gaps.length > 0) { setMissing(gaps); return; }
    }
    const member_changes: Record<string, string> = {};
    if (found) {
      for (const [mid, p] of Object.entries(presence)) {
        if (p !== (household.members[mid]?.presence ?? 'lives_here')) member_changes[mid] = p;
      }
    }
    const visit: NewVisit = {
      result,
      answers: found ? answers : {},
      documents: { kk: docKk, ktp: docKtp },
    };
    if (notes.trim()) visit.notes = notes.trim();
    if (Object.keys(member_changes).length) visit.member_changes = member_changes;
    const added = found ? newMembers.filter((m) => m.name.trim()) : [];
    if (added.length) {
      visit.new_members = added.map((m) => ({
        name: m.name.trim(),
        sex: m.sex || undefined,
        birth_date: m.birth_date || undefined,
        relation: m.relation || 'child',
      }));
    }
    setSaving(true);
    setErr(null);
    try {
      const detail = await api.recordVisit(household.id, visit);
      // The backend removed the draft with the same write.
      saved.current = true;
      onSaved(detail);
    } catch (e) {
      setErr(api.toCommandError(e));
      setSaving(false);
    }
  };

  const discard = async () => {
    setConfirmDiscard(false);
    saved.current = true;
    await api.draftDiscard(household.id).catch(() => undefined);
    onCancel();
  };

  const found = result === 'found';
  const unknownCount = set ? set.criteria.filter((c) => answers[c.id] === UNKNOWN_ANSWER).length : 0;
  const answeredCount = set ? set.criteria.filter((c) => answers[c.id] !== undefined).length : 0;
  return (
    <div class="screen" id="visit-form">
      <Header title={`${t('visit_title')}: ${headName(household)}`} onBack={back} />
      <main>
        {restoredAt != null && (
          <p class="notice" id="draft-restored">
            {t('draft_restored', { at: formatMs(restoredAt) })}{' '}
            <button id="draft-discard" class="link" type="button" onClick={() => setConfirmDiscard(true)}>
              {t('draft_discard')}
            </button>
          </p>
        )}
        <ErrorBox err={draftErr} id="draft-error" />

        <section class="card">
          <h2>{t('visit_result')}</h2>
          <div class="result-grid" role="radiogroup" aria-label={t('visit_result')}>
            {VISIT_RESULTS.map((r) => (
              <button key={r} id={`result-${r}`} role="radio" aria-checked={result === r}
                class={`toggle ${result === r ? 'active' : ''}`} onClick={() => update({ result: r })}>
                {tDyn('result_', r)}
              </button>
            ))}
          </div>
        </section>

        {found && set && (
          <p class="muted pad" id="answered-count" aria-live="polite">
            {t('visit_answered', { n: answeredCount, total: set.criteria.length })}
            {unknownCount > 0 && <> · {t('visit_unknown_count', { n: unknownCount })}</>}
          </p>
        )}

        {result && !found && <p class="muted pad">{t('visit_only_found')}</p>}

        {found && set && (
          <section class="card">
            <h2>{t('visit_criteria')}</h2>
            <ol class="criteria">
              {set.criteria.map((c) => (
                <li key={c.id} class={`criterion ${answers[c.id] === UNKNOWN_ANSWER ? 'unknown' : ''}`} data-id={c.id}>
                  <CriterionInput c={c} value={answers[c.id]} drafts={drafts}
                    setDraft={setDraft} setAnswer={(v) => setAnswer(c.id, v)} />
                  <button type="button" id={`answer-${c.id}-unknown`} class={`toggle small unknown-toggle ${answers[c.id] === UNKNOWN_ANSWER ? 'active' : ''}`}
                    aria-pressed={answers[c.id] === UNKNOWN_ANSWER}
                    onClick={() => setAnswer(c.id, answers[c.id] === UNKNOWN_ANSWER ? null : UNKNOWN_ANSWER)}>
                    {t('answer_unknown')}
                  </button>
                </li>
              ))}
            </ol>
          </section>
        )}

        {found && (
          <section class="card" id="visit-members">
            <h2>{t('visit_members')}</h2>
            {Object.entries(household.members).map(([mid, m]) => (
              <div class="field" key={mid}>
                <label for={`presence-${mid}`}>{m.name || t('no_name')} · {tDyn('relation_', m.relation)}</label>
                <select id={`presence-${mid}`} class="presence" value={presence[mid]}
                  onChange={(e) => update({ presence: { ...presence, [mid]: e.currentTarget.value } })}>
                  {PRESENCES.map((p) => <option key={p} value={p}>{tDyn('presence_', p)}</option>)}
                </select>
              </div>
            ))}
            {newMembers.map((m, i) => (
              <fieldset class="new-member" key={i}>
                <legend>{t('new_member')} {i + 1}</legend>
                <label for={`new-member-name-${i}`}>{t('new_member_name')}</label>
                <input id={`new-member-name-${i}`} class="new-member-name" value={m.name}
                  onInput={(e) => editNewMember(i, { name: e.currentTarget.value })} />
                <label for={`new-member-sex-${i}`}>{t('new_member_sex')}</label>
                <select id={`new-member-sex-${i}`} class="new-member-sex" value={m.sex ?? ''}
                  onChange={(e) => editNewMember(i, { sex: e.currentTarget.value || undefined })}>
                  <option value="">{t('choose')}</option>
                  <option value="L">{t('sex_L')}</option>
                  <option value="P">{t('sex_P')}</option>
                </select>
                <label for={`new-member-birth-${i}`}>{t('new_member_birth')}</label>
                <input id={`new-member-birth-${i}`} class="new-member-birth" type="date" value={m.birth_date ?? ''}
                  onInput={(e) => editNewMember(i, { birth_date: e.currentTarget.value || undefined })} />
                <label for={`new-member-relation-${i}`}>{t('new_member_relation')}</label>
                <select id={`new-member-relation-${i}`} class="new-member-relation" value={m.relation ?? 'child'}
                  onChange={(e) => editNewMember(i, { relation: e.currentTarget.value })}>
                  {['child', 'spouse', 'parent', 'other'].map((r) => <option key={r} value={r}>{tDyn('relation_', r)}</option>)}
                </select>
              </fieldset>
            ))}
            <button id="add-member" class="small" type="button"
              onClick={() => update({ newMembers: [...newMembers, { name: '', relation: 'child' }] })}>{t('add_member')}</button>
          </section>
        )}

        {result && (
          <section class="card">
            <h2>{t('documents')}</h2>
            <label class="check"><input type="checkbox" id="doc-kk" checked={docKk}
              onChange={(e) => update({ docKk: e.currentTarget.checked })} /> {t('doc_kk')}</label>
            <label class="check"><input type="checkbox" id="doc-ktp" checked={docKtp}
              onChange={(e) => update({ docKtp: e.currentTarget.checked })} /> {t('doc_ktp')}</label>
            <div class="field">
              <label for="notes">{t('notes')}</label>
              <textarea id="notes" rows={3} value={notes} onInput={(e) => update({ notes: e.currentTarget.value })} />
            </div>
          </section>
        )}

        <ErrorBox err={err} id="visit-error" />
      </main>
      <div class="bottom-actions sticky">
        <button id="save-visit" class="primary wide" onClick={save} disabled={saving || !ready}>
          {saving ? t('saving') : t('save')}
        </button>
      </div>
      {missing && (
        <ConfirmDialog
          id="confirm-missing"
          title={t('missing_title', { n: missing.length })}
          body={
            <>
              <p>{t('missing_body')}</p>
              <ul id="missing-list">
                {missing.map((c) => <li key={c.id} data-id={c.id}>{c.n}. {lang() === 'id' ? c.label_id : c.label_en}</li>)}
              </ul>
            </>
          }
          choices={[
            { id: 'missing-back', label: t('missing_back'), onClick: () => setMissing(null) },
            { id: 'missing-unknown', label: t('missing_mark_unknown'), onClick: markMissingUnknown, primary: true },
          ]}
        />
      )}
      {confirmDiscard && (
        <ConfirmDialog
          id="confirm-discard"
          title={t('draft_discard_title')}
          body={<p>{t('draft_discard_body')}</p>}
          choices={[
            { id: 'discard-cancel', label: t('cancel'), onClick: () => setConfirmDiscard(false) },
            { id: 'discard-confirm', label: t('draft_discard'), onClick: discard, primary: true },
          ]}
        />
      )}
    </div>
  );
}

function CriterionInput({ c, value, drafts, setDraft, setAnswer }: {
  c: Criterion; value: AnswerValue | undefined; drafts: Drafts;
  setDraft: (key: string, v: string) => void; setAnswer: (v: AnswerValue | null) => void;
}) {
  const label = `${c.n}. ${lang() === 'id' ? c.label_id : c.label_en}`;
  const inputId = `answer-${c.id}`;
  if (value === UNKNOWN_ANSWER) {
    return (
      <div class="field">
        <span class="label">{label}</span>
        <span class="muted" id={`${inputId}-is-unknown`}>{t('answer_unknown')}</span>
      </div>
    );
  }
  switch (c.answer.kind) {
    case 'number': {
      const draft = drafts[inputId] ?? (typeof value === 'number' ? String(value) : '');
      return (
        <div class="field">
          <label for={inputId}>{label}</label>
          <div class="with-unit">
            <input id={inputId} type="text" inputMode="decimal" autoComplete="off" value={draft}
              onInput={(e) => {
                const raw = e.currentTarget.value;
                setDraft(inputId, raw);
                setAnswer(parseNumber(raw));
              }} />
            {c.answer.unit && <span class="unit">{c.answer.unit}</span>}
          </div>
        </div>
      );
    }
    case 'option':
      return (
        <div class="field">
          <label for={inputId}>{label}</label>
          <select id={inputId} value={typeof value === 'string' ? value : ''}
            onChange={(e) => setAnswer(e.currentTarget.value || null)}>
            <option value="">{t('choose')}</option>
            {(c.answer.options ?? []).map((o) => <option key={o} value={o}>{o}</option>)}
          </select>
        </div>
      );
    case 'yes_no':
      return (
        <div class="field">
          <span class="label" id={`${inputId}-label`}>{label}</span>
          <div class="yes-no" role="group" aria-labelledby={`${inputId}-label`}>
            {([true, false] as const).map((yes) => (
              <button key={String(yes)} id={`${inputId}-${yes ? 'yes' : 'no'}`} aria-pressed={value === yes}
                class={`toggle ${value === yes ? 'active' : ''}`}
                onClick={() => setAnswer(value === yes ? null : yes)}>
                {yes ? t('yes') : t('no')}
              </button>
            ))}
          </div>
        </div>
      );
    case 'income_source': {
      const occKey = `${inputId}-occupation`;
      const landKey = `${inputId}-land_m2`;
      const incomeKey = `${inputId}-income_rp`;
      const occ = drafts[occKey] ?? '';
      const land = drafts[landKey] ?? '';
      const income = drafts[incomeKey] ?? '';
      // The answer exists once occupation and income are given; blank land counts as 0 m².
      const update = (o: string, l: string, i: string) => {
        const inc = parseNumber(i);
        if (!o || inc === null) { setAnswer(null); return; }
        setAnswer({ occupation: o, land_m2: parseNumber(l) ?? 0, income_rp: inc });
      };
      return (
        <fieldset class="field income">
          <legend>{label}</legend>
          <label for={occKey}>{t('occupation')}</label>
          <select id={occKey} value={occ} onChange={(e) => {
            const v = e.currentTarget.value; setDraft(occKey, v); update(v, land, income);
          }}>
            <option value="">{t('choose')}</option>
            {(c.answer.occupations ?? []).map((o) => <option key={o} value={o}>{o}</option>)}
          </select>
          <label for={landKey}>{t('land_m2')}</label>
          <input id={landKey} type="text" inputMode="decimal" autoComplete="off" value={land} onInput={(e) => {
            const v = e.currentTarget.value; setDraft(landKey, v); update(occ, v, income);
          }} />
          <label for={incomeKey}>{t('income_rp')}</label>
          <input id={incomeKey} type="text" inputMode="numeric" autoComplete="off" value={income} onInput={(e) => {
            const v = e.currentTarget.value; setDraft(incomeKey, v); update(occ, land, v);
          }} />
        </fieldset>
      );
    }
    default:
      return <div class="field muted">{label}</div>;
  }
}
