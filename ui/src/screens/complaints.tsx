// Owns: the complaints and referrals screen — the cases of the user's areas
// (`cases_list`, kept for offline reading) filtered by status and overdue, with the
// days left; receiving one (`case_add`: kept on the phone when offline), and the
// office's steps (`case_update`: assign a kader, close with an outcome and a note,
// asked first).
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ConfirmDialog, ErrorBox, Field, Header } from '../components';
import { formatDate, t, todayYmd, type Key } from '../i18n';
import type { Case, CaseCategory, CommandError } from '../types';

type Filter = 'open' | 'overdue' | 'closed' | 'all';
const FILTERS: Filter[] = ['open', 'overdue', 'closed', 'all'];
const CATEGORIES: CaseCategory[] = ['sanggah', 'usul', 'rujukan', 'lain'];

const day = formatDate;
const daysLeft = (c: Case, today: string) =>
  Math.round((Date.parse(`${c.due}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);

/** A household the new case is about (opened from its detail screen). */
export type CaseAbout = { household: string; rw: number; name: string | null };

export function ComplaintsScreen({ onBack, office, about }: {
  onBack: () => void; office: boolean; about?: CaseAbout;
}) {
  const [cases, setCases] = useState<Case[]>([]);
  const [offline, setOffline] = useState(false);
  const [unsent, setUnsent] = useState(0);
  const [filter, setFilter] = useState<Filter>('open');
  const [adding, setAdding] = useState(about != null);
  const [err, setErr] = useState<CommandError | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const today = todayYmd();

  const load = () => api.casesList()
    .then((r) => { setCases(r.cases); setOffline(r.offline); setUnsent(r.unsent); setErr(null); })
    .catch((e) => setErr(api.toCommandError(e)));
  useEffect(() => { load(); }, []);

  const shown = cases.filter((c) => filter === 'all'
    || (filter === 'closed' ? c.status === 'closed' : c.status !== 'closed' && (filter === 'open' || daysLeft(c, today) < 0)));
  return (
    <div class="screen" id="complaints">
      <Header title={t('cases_title')} onBack={onBack} />
      <main>
        {offline && <p class="card muted" id="cases-offline">{t('cases_offline')}</p>}
        {unsent > 0 && <p class="notice" id="cases-unsent">{t('cases_unsent', { n: unsent })}</p>}
        {note && <p class="notice" id="cases-note" role="status">{note}</p>}
        <ErrorBox err={err} id="cases-error" />
        {adding
          ? <NewCaseForm about={about} onCancel={() => setAdding(false)}
              onDone={(queued) => { setAdding(false); setNote(queued ? t('cases_queued') : t('cases_received')); load(); }} />
          : <button id="case-new" class="secondary wide" type="button" onClick={() => { setNote(null); setAdding(true); }}>+ {t('cases_new')}</button>}
        <div class="chips" role="group" aria-label={t('filter_label')}>
          {FILTERS.map((f) => (
            <button key={f} id={`cases-${f}`} type="button" class={`chip ${filter === f ? 'active' : ''}`}
              aria-pressed={filter === f} onClick={() => setFilter(f)}>{t(`cases_filter_${f}` as Key)}</button>
          ))}
        </div>
        {shown.length === 0 && <p class="center muted" id="cases-none">{t('cases_none')}</p>}
        <ul class="proposal-list">
          {shown.map((c) => <CaseItem key={c.id} c={c} today={today} office={office && !offline} onChanged={load} />)}
        </ul>
      </main>
    </div>
  );
}

function CaseItem({ c, today, office, onChanged }: { c: Case; today: string; office: boolean; onChanged: () => void }) {
  const [step, setStep] = useState<'assign' | 'close' | null>(null);
  const [kader, setKader] = useState('');
  const [outcome, setOutcome] = useState('');
  const [closing, setClosing] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [err, setErr] = useState<CommandError | null>(null);
  const left = daysLeft(c, today);
  const send = async (action: Record<string, string>) => {
    setErr(null);
    try {
      await api.caseUpdate(c.id, action);
      setStep(null);
      onChanged();
    } catch (e) {
      setErr(api.toCommandError(e));
    }
  };
  return (
    <li class="proposal-item case-item" data-id={c.id}>
      <div>
        <span class={`badge kind-${c.category === 'sanggah' ? 'remove' : 'add'}`}>{t(`case_category_${c.category}` as Key)}</span>{' '}
        <span class="muted">RW {String(c.rw).padStart(3, '0')}</span>{' '}
        {c.status === 'closed'
          ? <span class="badge">{t('cases_closed')}</span>
          : <span class={`badge ${left < 0 ? 'late' : ''}`} data-left={left}>
              {left < 0 ? t('cases_late', { n: -left }) : t('cases_left', { n: left })}
            </span>}
      </div>
      <div class="case-text">{c.text}</div>
      <div class="muted small-text">
        {c.complainant ?? t('cases_anonymous')} · {t('cases_due', { date: day(c.due) })}
        {c.service && ` · ${t('cases_service')}: ${c.service}`}
        {c.assigned && ` · ${t('cases_assigned', { user: c.assigned })}`}
        {c.visit && ` · ${t('cases_visited')}`}
      </div>
      {c.outcome && <div class="decision">{c.outcome}: {c.note}</div>}
      {office && c.status !== 'closed' && step === null && (
        <div class="decide-buttons">
          <button type="button" class="small secondary" id={`case-assign-${c.id}`} onClick={() => setStep('assign')}>{t('cases_assign')}</button>
          <button type="button" class="small secondary" id={`case-close-${c.id}`} onClick={() => setStep('close')}>{t('cases_close')}</button>
        </div>
      )}
      {step === 'assign' && (
        <div class="decide-form">
          <Field label={t('cases_kader')} for="case-kader">
            <input id="case-kader" value={kader} onInput={(e) => setKader(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setStep(null)}>{t('cancel')}</button>
            <button type="button" class="primary" id="case-assign-save" disabled={!kader.trim()}
              onClick={() => send({ action: 'assign', kader: kader.trim() })}>{t('cases_assign')}</button>
          </div>
        </div>
      )}
      {step === 'close' && (
        <div class="decide-form">
          <Field label={t('cases_outcome')} for="case-outcome">
            <input id="case-outcome" value={outcome} onInput={(e) => setOutcome(e.currentTarget.value)} />
          </Field>
          <Field label={t('cases_closing_note')} for="case-note">
            <textarea id="case-note" value={closing} onInput={(e) => setClosing(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setStep(null)}>{t('cancel')}</button>
            <button type="button" class="primary" id="case-close-save" disabled={!outcome.trim() || !closing.trim()}
              onClick={() => setConfirm(true)}>{t('cases_close')}</button>
          </div>
        </div>
      )}
      {confirm && (
        <ConfirmDialog id="confirm-case-close" title={t('cases_close_title')} body={<p>{t('cases_close_body')}</p>}
          choices={[
            { id: 'case-close-cancel', label: t('cancel'), onClick: () => setConfirm(false) },
            { id: 'case-close-confirm', label: t('cases_close'), primary: true,
              onClick: () => { setConfirm(false); send({ action: 'close', outcome: outcome.trim(), note: closing.trim() }); } },
          ]} />
      )}
      <ErrorBox err={err} id={`case-error-${c.id}`} />
    </li>
  );
}

function NewCaseForm({ about, onCancel, onDone }: {
  about?: CaseAbout; onCancel: () => void; onDone: (queued: boolean) => void;
}) {
  const [category, setCategory] = useState<CaseCategory>('sanggah');
  const [rw, setRw] = useState(about ? String(about.rw) : '');
  const [from, setFrom] = useState('');
  const [text, setText] = useState('');
  const [service, setService] = useState('');
  const [err, setErr] = useState<CommandError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = Number(rw);
    if (!text.trim() || (!about && !(Number.isInteger(n) && n > 0)) || (category === 'rujukan' && !service.trim())) {
      setErr({ code: 'invalid_input', message: t('cases_form_missing') });
      return;
    }
    setBusy(true);
    setErr(null);
    try {
      const r = await api.caseAdd({
        category, household: about?.household ?? null, rw: about ? null : n, complainant: from.trim() || null,
        text: text.trim(), service: category === 'rujukan' ? service.trim() : null,
      });
      onDone(r.queued);
    } catch (x) {
      setErr(api.toCommandError(x));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" id="case-form" onSubmit={submit} noValidate>
      <h2>{t('cases_new')}</h2>
      {about && <p class="muted" id="case-about">{t('cases_about', { name: about.name ?? about.household })}</p>}
      <Field label={t('cases_category')} for="case-category">
        <select id="case-category" value={category} onChange={(e) => setCategory(e.currentTarget.value as CaseCategory)}>
          {CATEGORIES.map((c) => <option key={c} value={c}>{t(`case_category_${c}` as Key)}</option>)}
        </select>
      </Field>
      {!about && (
        <Field label="RW" for="case-rw">
          <input id="case-rw" type="number" inputMode="numeric" min={1} value={rw} onInput={(e) => setRw(e.currentTarget.value)} />
        </Field>
      )}
      <Field label={t('cases_from')} for="case-from">
        <input id="case-from" value={from} placeholder={t('cases_anonymous')} onInput={(e) => setFrom(e.currentTarget.value)} />
      </Field>
      {category === 'rujukan' && (
        <Field label={t('cases_service')} for="case-service">
          <input id="case-service" list="case-services" value={service} onInput={(e) => setService(e.currentTarget.value)} />
          <datalist id="case-services"><option value="puskesmas" /><option value="sekolah" /><option value="dinsos" /></datalist>
        </Field>
      )}
      <Field label={t('cases_text')} for="case-text">
        <textarea id="case-text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </Field>
      <ErrorBox err={err} id="case-form-error" />
      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel}>{t('cancel')}</button>
        <button type="submit" class="primary" id="case-save" disabled={busy}>{busy ? t('saving') : t('save')}</button>
      </div>
    </form>
  );
}
