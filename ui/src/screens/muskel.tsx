// Owns: the village meeting (Muskel) screen of the operator and fasilitator — the
// kelurahan's sessions (`muskel_sessions`), a new session's form (`muskel_new`), the
// proposals with a decision and its reason each (`proposals`, `muskel_decide`), closing
// a session after asking (`muskel_close`), and its minutes (PDF) and SIKS-NG list (XLSX)
// saved where the person chooses (`muskel_minutes`, `muskel_siks`).
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ConfirmDialog, ErrorBox, Field, Header } from '../components';
import { formatDate, t, todayYmd, type Key } from '../i18n';
import type {
  CommandError, Deadlines, MuskelProposal, MuskelSession, NewSession, Official, Outcome,
} from '../types';

const OUTCOMES: Outcome[] = ['approved', 'rejected', 'deferred'];

const today = todayYmd;
const day = formatDate;
const area = (p: MuskelProposal) => `RT ${String(p.rt).padStart(3, '0')}/RW ${String(p.rw).padStart(3, '0')}`;
/** A file name from the session's number: `001/BA-MUSKEL/XII/2026` → `001-BA-MUSKEL-XII-2026`. */
const fileName = (s: MuskelSession, ext: string) => `${s.number.replace(/[^A-Za-z0-9]+/g, '-')}.${ext}`;

export function MuskelScreen({ onBack }: { onBack: () => void }) {
  const [sessions, setSessions] = useState<MuskelSession[]>([]);
  const [deadlines, setDeadlines] = useState<{ d: Deadlines; today: string } | null>(null);
  const [offline, setOffline] = useState(false);
  const [proposals, setProposals] = useState<MuskelProposal[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [err, setErr] = useState<CommandError | null>(null);
  const [loading, setLoading] = useState(true);

  const load = async (pick?: string) => {
    setLoading(true);
    try {
      const s = await api.muskelSessions();
      setSessions(s.sessions);
      setOffline(s.offline);
      setDeadlines({ d: s.deadlines, today: s.today });
      setProposals(await api.proposals());
      setErr(null);
      const open = s.sessions.find((x) => !x.closed);
      setSelected((cur) => pick ?? cur ?? open?.id ?? null);
    } catch (e) {
      setErr(api.toCommandError(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { load(); }, []);

  const session = sessions.find((s) => s.id === selected) ?? null;
  return (
    <div class="screen" id="muskel">
      <Header title={t('muskel_title')} onBack={onBack} />
      <main>
        {offline && <p class="card muted" id="muskel-offline">{t('muskel_offline')}</p>}
        <ErrorBox err={err} id="muskel-error" />
        {deadlines && <MonthDeadlines d={deadlines.d} today={deadlines.today} sessions={sessions} />}
        <section class="card" aria-labelledby="sessions-title">
          <h2 id="sessions-title">{t('muskel_sessions')}</h2>
          {!loading && sessions.length === 0 && <p class="muted">{t('muskel_none')}</p>}
          <div class="session-list">
            {sessions.map((s) => (
              <button key={s.id} type="button" class={`session-item ${s.id === selected ? 'active' : ''}`}
                data-id={s.id} aria-pressed={s.id === selected} onClick={() => { setSelected(s.id); setCreating(false); }}>
                <strong>{s.number}</strong>
                <span>{day(s.date)} · {s.place}</span>
                <span class={`badge ${s.closed ? '' : 'good'}`}>
                  {s.closed ? t('muskel_closed') : t('muskel_open')} · {t('muskel_decided_n', { n: s.items.filter((i) => i.decision).length })}
                </span>
              </button>
            ))}
          </div>
          {!creating && !offline && (
            <button id="muskel-new" class="secondary wide" type="button" onClick={() => setCreating(true)}>
              + {t('muskel_new')}
            </button>
          )}
        </section>
        {creating && (
          <NewSessionForm onCancel={() => setCreating(false)}
            onCreated={(s) => { setCreating(false); load(s.id); }} />
        )}
        {session && !creating && (
          session.closed
            ? <ClosedSession session={session} siksDue={deadlines ? siksDue(deadlines.d, session.date) : null}
                today={deadlines?.today ?? today()} />
            : <OpenSession session={session} proposals={proposals} offline={offline} onChanged={() => load(session.id)} />
        )}
      </main>
    </div>
  );
}

const addDays = (d: string, n: number) => {
  const x = new Date(`${d}T00:00:00Z`);
  x.setUTCDate(x.getUTCDate() + n);
  return x.toISOString().slice(0, 10);
};
const daysBetween = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
/** As core's `Deadlines::siks_due`: the session's date plus the kelurahan's days. */
const siksDue = (d: Deadlines, date: string) => addDays(date, d.siks_days);

/** This month's Muskel deadline: met by a session dated in the month, else the days left or late. */
function MonthDeadlines({ d, today, sessions }: { d: Deadlines; today: string; sessions: MuskelSession[] }) {
  const due = `${today.slice(0, 7)}-${String(d.muskel_day).padStart(2, '0')}`;
  const held = sessions.some((s) => s.date.slice(0, 7) === today.slice(0, 7));
  const left = daysBetween(today, due);
  return (
    <p class="card" id="muskel-deadline">
      {t('muskel_due', { date: day(due) })}{' '}
      {held
        ? <span class="badge good" id="muskel-deadline-met">{t('muskel_due_met')}</span>
        : <span class={`badge ${left < 0 ? 'late' : ''}`} id="muskel-deadline-left">
            {left < 0 ? t('cases_late', { n: -left }) : t('cases_left', { n: left })}
          </span>}
    </p>
  );
}

function NewSessionForm({ onCancel, onCreated }: {
  onCancel: () => void; onCreated: (s: MuskelSession) => void;
}) {
  const [date, setDate] = useState(today());
  const [place, setPlace] = useState('');
  const [number, setNumber] = useState('');
  const [attendees, setAttendees] = useState('');
  const [officials, setOfficials] = useState<Official[]>([
    { name: '', position: 'Lurah' }, { name: '', position: 'Ketua Puskesos' },
  ]);
  const [err, setErr] = useState<CommandError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (i: number, o: Partial<Official>) =>
    setOfficials((all) => all.map((x, k) => (k === i ? { ...x, ...o } : x)));

  const submit = async (e: Event) => {
    e.preventDefault();
    const named = officials.filter((o) => o.name.trim() !== '');
    const n = Number(attendees);
    if (!place.trim() || !Number.isInteger(n) || n < 1 || named.length === 0) {
      setErr({ code: 'invalid_input', message: t('muskel_form_missing') });
      return;
    }
    setBusy(true);
    setErr(null);
    const session: NewSession = { date, place: place.trim(), number: number.trim() || undefined, attendees: n, officials: named };
    try {
      onCreated(await api.muskelNew(session));
    } catch (x) {
      setErr(api.toCommandError(x));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" id="muskel-form" onSubmit={submit} noValidate>
      <h2>{t('muskel_new')}</h2>
      <Field label={t('muskel_date')} for="muskel-date">
        <input id="muskel-date" type="date" value={date} onInput={(e) => setDate(e.currentTarget.value)} required />
      </Field>
      <Field label={t('muskel_place')} for="muskel-place">
        <input id="muskel-place" value={place} onInput={(e) => setPlace(e.currentTarget.value)} required />
      </Field>
      <Field label={t('muskel_number')} for="muskel-number">
        <input id="muskel-number" value={number} placeholder="001/BA-MUSKEL/…" onInput={(e) => setNumber(e.currentTarget.value)} />
      </Field>
      <Field label={t('muskel_attendees')} for="muskel-attendees">
        <input id="muskel-attendees" type="number" inputMode="numeric" min={1} value={attendees}
          onInput={(e) => setAttendees(e.currentTarget.value)} required />
      </Field>
      <fieldset class="officials">
        <legend>{t('muskel_officials')}</legend>
        {officials.map((o, i) => (
          <div class="official-row" key={i}>
            <input id={`official-name-${i}`} aria-label={t('muskel_official_name')} placeholder={t('muskel_official_name')}
              value={o.name} onInput={(e) => set(i, { name: e.currentTarget.value })} />
            <input id={`official-position-${i}`} aria-label={t('muskel_official_position')} placeholder={t('muskel_official_position')}
              value={o.position} onInput={(e) => set(i, { position: e.currentTarget.value })} />
          </div>
        ))}
        <button type="button" class="secondary" id="official-add"
          onClick={() => setOfficials((all) => [...all, { name: '', position: '' }])}>+ {t('muskel_official_add')}</button>
      </fieldset>
      <ErrorBox err={err} id="muskel-form-error" />
      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel}>{t('cancel')}</button>
        <button type="submit" class="primary" id="muskel-create" disabled={busy}>{busy ? t('saving') : t('muskel_create')}</button>
      </div>
    </form>
  );
}

function OpenSession({ session, proposals, offline, onChanged }: {
  session: MuskelSession; proposals: MuskelProposal[]; offline: boolean; onChanged: () => void;
}) {
  const [deciding, setDeciding] = useState<{ p: MuskelProposal; outcome: Outcome } | null>(null);
  const [reason, setReason] = useState('');
  const [err, setErr] = useState<CommandError | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmClose, setConfirmClose] = useState(false);
  // Up for decision: undecided or deferred proposals, and those on this agenda.
  const shown = proposals.filter((p) => p.status === 'draft' || p.status === 'deferred' || p.status === 'to_muskel'
    || p.session === session.id);
  const decisionOf = (p: MuskelProposal) => session.items.find((i) => i.proposal.id === p.id)?.decision ?? null;
  const undecided = session.items.filter((i) => !i.decision).length;

  const save = async () => {
    if (!deciding) return;
    if (!reason.trim()) { setErr({ code: 'invalid_input', message: t('muskel_reason_needed') }); return; }
    setBusy(true);
    setErr(null);
    try {
      await api.muskelDecide(session.id, deciding.p.household, deciding.p.kind, deciding.outcome, reason.trim());
      setDeciding(null);
      setReason('');
      onChanged();
    } catch (x) {
      setErr(api.toCommandError(x));
    } finally {
      setBusy(false);
    }
  };
  const close = async () => {
    setConfirmClose(false);
    setBusy(true);
    try {
      await api.muskelClose(session.id);
      onChanged();
    } catch (x) {
      setErr(api.toCommandError(x));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" id="muskel-session" aria-labelledby="agenda-title">
      <h2 id="agenda-title">{t('muskel_agenda', { number: session.number })}</h2>
      <p class="muted small-text">{day(session.date)} · {session.place} · {t('muskel_attendees_n', { n: session.attendees })}</p>
      {shown.length === 0 && <p class="muted" id="proposals-none">{t('muskel_no_proposals')}</p>}
      <ul class="proposal-list">
        {shown.map((p) => {
          const d = decisionOf(p);
          return (
            <li key={p.id} class="proposal-item" data-id={p.id} data-household={p.household}>
              <div class="proposal-head">
                <strong>{p.head_name ?? t('none')}</strong> <span class="muted">{area(p)}</span>
              </div>
              <div class="small-text">
                <span class={`badge kind-${p.kind}`}>{t(`proposal_kind_${p.kind}` as Key)}</span>{' '}
                {t(`proposal_reason_${p.reason}` as Key)}
              </div>
              {d
                ? <div class={`decision outcome-${d.outcome}`}>{t(`outcome_${d.outcome}` as Key)}: {d.reason}</div>
                : p.status === 'deferred' && <div class="muted small-text">{t('outcome_deferred')} ({t('muskel_earlier')})</div>}
              {!offline && (
                <div class="decide-buttons" role="group" aria-label={t('muskel_decide')}>
                  {OUTCOMES.map((o) => (
                    <button key={o} type="button" id={`decide-${p.id}-${o}`} class={`small ${deciding?.p.id === p.id && deciding.outcome === o ? 'primary' : 'secondary'}`}
                      onClick={() => { setDeciding({ p, outcome: o }); setReason(''); setErr(null); }}>
                      {t(`outcome_do_${o}` as Key)}
                    </button>
                  ))}
                </div>
              )}
              {deciding?.p.id === p.id && (
                <div class="decide-form">
                  <Field label={t('muskel_reason')} for="decision-reason">
                    <textarea id="decision-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
                  </Field>
                  <ErrorBox err={err} id="decision-error" />
                  <div class="actions">
                    <button type="button" class="secondary" onClick={() => setDeciding(null)}>{t('cancel')}</button>
                    <button type="button" class="primary" id="decision-save" disabled={busy} onClick={save}>
                      {t('muskel_save_decision', { outcome: t(`outcome_${deciding.outcome}` as Key) })}
                    </button>
                  </div>
                </div>
              )}
            </li>
          );
        })}
      </ul>
      {!deciding && <ErrorBox err={err} id="muskel-session-error" />}
      {!offline && (
        <button type="button" id="muskel-close" class="primary wide" disabled={busy || session.items.length === 0}
          onClick={() => setConfirmClose(true)}>{t('muskel_close')}</button>
      )}
      {confirmClose && (
        <ConfirmDialog id="confirm-muskel-close" title={t('muskel_close_title')}
          body={<p>{undecided > 0 ? t('muskel_close_undecided', { n: undecided }) : t('muskel_close_body', { n: session.items.length })}</p>}
          choices={[
            { id: 'muskel-close-cancel', label: t('cancel'), onClick: () => setConfirmClose(false) },
            { id: 'muskel-close-confirm', label: t('muskel_close'), onClick: close, primary: true },
          ]} />
      )}
    </section>
  );
}

function ClosedSession({ session, siksDue: due, today: now }: { session: MuskelSession; siksDue: string | null; today: string }) {
  const [saved, setSaved] = useState<string | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  const save = async (what: 'pdf' | 'xlsx') => {
    setErr(null);
    setSaved(null);
    try {
      const path = await api.chooseFile('save', [what], fileName(session, what));
      if (!path) return;
      if (what === 'pdf') await api.muskelMinutes(session.id, path);
      else await api.muskelSiks(session.id, path);
      setSaved(path);
    } catch (x) {
      setErr(api.toCommandError(x));
    }
  };
  const count = (o: Outcome) => session.items.filter((i) => i.decision?.outcome === o).length;
  return (
    <section class="card" id="muskel-closed" aria-labelledby="closed-title">
      <h2 id="closed-title">{session.number}</h2>
      <p class="muted small-text">{day(session.date)} · {session.place}</p>
      {due && (
        <p id="muskel-siks-due">
          {t('muskel_siks_due', { date: day(due) })}{' '}
          {daysBetween(now, due) < 0 && <span class="badge late">{t('cases_late', { n: -daysBetween(now, due) })}</span>}
        </p>
      )}
      <p id="muskel-counts">{t('muskel_counts', { a: count('approved'), r: count('rejected'), d: count('deferred') })}</p>
      <ul class="proposal-list">
        {session.items.map((i) => (
          <li key={i.proposal.id} class="proposal-item" data-id={i.proposal.id}>
            <strong>{i.proposal.head_name ?? t('none')}</strong> <span class="muted">{area(i.proposal)}</span>
            <div class="small-text">{t(`proposal_kind_${i.proposal.kind}` as Key)}</div>
            {i.decision && <div class={`decision outcome-${i.decision.outcome}`}>{t(`outcome_${i.decision.outcome}` as Key)}: {i.decision.reason}</div>}
          </li>
        ))}
      </ul>
      <div class="office-actions">
        <button type="button" id="muskel-minutes" class="secondary wide" onClick={() => save('pdf')}>⇩ {t('muskel_minutes')}</button>
        <button type="button" id="muskel-siks" class="secondary wide" onClick={() => save('xlsx')}>⇩ {t('muskel_siks')}</button>
      </div>
      {saved && <p class="notice mono" id="muskel-saved" role="status">{t('muskel_saved', { path: saved })}</p>}
      <ErrorBox err={err} id="muskel-file-error" />
    </section>
  );
}
