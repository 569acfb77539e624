// Owns: the visit form — result, the indicator-set criteria by answer kind, live score,
// member presence changes and new members (births), documents shown, notes; saving
// through `record_visit`.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header } from '../components';
import { lang, t, tDyn } from '../i18n';
import {
  PRESENCES, VISIT_RESULTS,
  type Answers, type AnswerValue, type Criterion, type ShownError, type HouseholdDetail,
  type IndicatorSet, type NewMember, type NewVisit, type Score, type VisitResult,
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

export function VisitForm({ household, onCancel, onSaved }: {
  household: HouseholdDetail; onCancel: () => void; onSaved: (h: HouseholdDetail) => void;
}) {
  const [set, setSet] = useState<IndicatorSet | null>(null);
  const [result, setResult] = useState<VisitResult | null>(null);
  const [answers, setAnswers] = useState<Answers>({});
  const [drafts, setDrafts] = useState<Drafts>({});
  const [score, setScore] = useState<Score | null>(null);
  const [presence, setPresence] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(household.members).map(([id, m]) => [id, m.presence ?? 'lives_here'])));
  const [docKk, setDocKk] = useState(false);
  const [docKtp, setDocKtp] = useState(false);
  const [notes, setNotes] = useState('');
  const [err, setErr] = useState<ShownError | null>(null);
  const [saving, setSaving] = useState(false);
  const scoreSeq = useRef(0);

  useEffect(() => {
    api.indicatorSet().then(setSet).catch((e) => setErr(api.toCommandError(e)));
  }, []);

  // Live score: re-ask the backend on every change; ignore answers that arrive out of order.
  useEffect(() => {
    const mySeq = ++scoreSeq.current;
    api.scoreAnswers(household.id, answers)
      .then((s) => { if (mySeq === scoreSeq.current) setScore(s); })
      .catch(() => undefined);
  }, [answers]);

  const setAnswer = (cid: string, v: AnswerValue | null) => {
    setAnswers((prev) => {
      const next = { ...prev };
      if (v === null) delete next[cid]; else next[cid] = v;
      return next;
    });
  };
  const setDraft = (key: string, v: string) => setDrafts((d) => ({ ...d, [key]: v }));
  // Members found on the visit who are not on the record yet (a birth, someone who
  // moved in): saved as `new_members`, each becoming a member with presence "new".
  const [newMembers, setNewMembers] = useState<NewMember[]>([]);
  const editNewMember = (i: number, patch: Partial<NewMember>) =>
    setNewMembers((list) => list.map((m, j) => (j === i ? { ...m, ...patch } : m)));

  const save = async () => {
    if (!result) { setErr({ code: 'form', message: t('visit_pick_result') }); return; }
    const found = result === 'found';
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
      onSaved(await api.recordVisit(household.id, visit));
    } catch (e) {
      setErr(api.toCommandError(e));
      setSaving(false);
    }
  };

  const total = set?.criteria.length ?? 14;
  const found = result === 'found';
  return (
    <div class="screen" id="visit-form">
      <Header title={`${t('visit_title')}: ${headName(household)}`} onBack={onCancel} />

      <section class="card">
        <h2>{t('visit_result')}</h2>
        <div class="result-grid" role="radiogroup" aria-label={t('visit_result')}>
          {VISIT_RESULTS.map((r) => (
            <button key={r} id={`result-${r}`} role="radio" aria-checked={result === r}
              class={`toggle ${result === r ? 'active' : ''}`} onClick={() => setResult(r)}>
              {tDyn('result_', r)}
            </button>
          ))}
        </div>
      </section>

      {found && (
        <div class="live-score-bar" aria-live="polite">
          <span>{t('score')}:</span>
          <strong id="live-score" class={score?.poor ? 'poor' : ''}>{score ? `${score.score}/${total}` : `…/${total}`}</strong>
          {score?.poor && <span id="poor-hint" class="marker poor">{t('poor_by_score')}</span>}
          {score && score.unanswered.length > 0 && (
            <span class="muted small-text">{t('visit_unanswered', { n: score.unanswered.length })}</span>
          )}
        </div>
      )}

      {result && !found && <p class="muted pad">{t('visit_only_found')}</p>}

      {found && set && (
        <section class="card">
          <h2>{t('visit_criteria')}</h2>
          <ol class="criteria">
            {set.criteria.map((c) => (
              <li key={c.id} class={`criterion ${score?.met.includes(c.id) ? 'met' : ''}`} data-id={c.id}>
                <CriterionInput c={c} value={answers[c.id]} drafts={drafts}
                  setDraft={setDraft} setAnswer={(v) => setAnswer(c.id, v)} />
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
                onChange={(e) => setPresence((p) => ({ ...p, [mid]: e.currentTarget.value }))}>
                {PRESENCES.map((p) => <option key={p} value={p}>{tDyn('presence_', p)}</option>)}
              </select>
            </div>
          ))}
          {newMembers.map((m, i) => (
            <div class="new-member" key={i}>
              <input class="new-member-name" placeholder={t('new_member_name')} value={m.name}
                onInput={(e) => editNewMember(i, { name: e.currentTarget.value })} />
              <select class="new-member-sex" value={m.sex ?? ''}
                onChange={(e) => editNewMember(i, { sex: e.currentTarget.value || undefined })}>
                <option value="">{t('new_member_sex')}</option>
                <option value="L">{t('sex_L')}</option>
                <option value="P">{t('sex_P')}</option>
              </select>
              <input class="new-member-birth" type="date" value={m.birth_date ?? ''}
                onInput={(e) => editNewMember(i, { birth_date: e.currentTarget.value || undefined })} />
              <select class="new-member-relation" value={m.relation ?? 'child'}
                onChange={(e) => editNewMember(i, { relation: e.currentTarget.value })}>
                {['child', 'spouse', 'parent', 'other'].map((r) => <option key={r} value={r}>{tDyn('relation_', r)}</option>)}
              </select>
            </div>
          ))}
          <button id="add-member" class="small" type="button"
            onClick={() => setNewMembers((l) => [...l, { name: '', relation: 'child' }])}>{t('add_member')}</button>
        </section>
      )}

      {result && (
        <section class="card">
          <h2>{t('documents')}</h2>
          <label class="check"><input type="checkbox" id="doc-kk" checked={docKk}
            onChange={(e) => setDocKk(e.currentTarget.checked)} /> {t('doc_kk')}</label>
          <label class="check"><input type="checkbox" id="doc-ktp" checked={docKtp}
            onChange={(e) => setDocKtp(e.currentTarget.checked)} /> {t('doc_ktp')}</label>
          <div class="field">
            <label for="notes">{t('notes')}</label>
            <textarea id="notes" rows={3} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} />
          </div>
        </section>
      )}

      <ErrorBox err={err} id="visit-error" />
      <div class="bottom-actions sticky">
        <button id="save-visit" class="primary wide" onClick={save} disabled={saving}>
          {saving ? t('saving') : t('save')}
        </button>
      </div>
    </div>
  );
}

function CriterionInput({ c, value, drafts, setDraft, setAnswer }: {
  c: Criterion; value: AnswerValue | undefined; drafts: Drafts;
  setDraft: (key: string, v: string) => void; setAnswer: (v: AnswerValue | null) => void;
}) {
  const label = `${c.n}. ${lang() === 'id' ? c.label_id : c.label_en}`;
  const inputId = `answer-${c.id}`;
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
