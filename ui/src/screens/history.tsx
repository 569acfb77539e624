// Owns: a household's change timeline (`household_history`: when, who, device, what changed)
// and the "state on a date" view (`household_as_of`: status, members, number of visits).
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header } from '../components';
import { formatMs, t, tDyn } from '../i18n';
import type { CommandError, HistoryEntry, HouseholdDetail, JsonValue } from '../types';
import { formatValue } from './review';
import { headName } from './household-detail';

export function HistoryScreen({ id, household, onBack }: {
  id: string; household: HouseholdDetail; onBack: () => void;
}) {
  const [entries, setEntries] = useState<HistoryEntry[] | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  const [date, setDate] = useState('');
  const [asOf, setAsOf] = useState<{ date: string; h: HouseholdDetail } | null>(null);
  const [asOfErr, setAsOfErr] = useState<CommandError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.householdHistory(id).then(setEntries).catch((e) => setErr(api.toCommandError(e)));
  }, [id]);

  const show = async () => {
    if (!date) return;
    setBusy(true);
    setAsOfErr(null);
    try {
      setAsOf({ date, h: await api.householdAsOf(id, date) });
    } catch (e) {
      setAsOf(null);
      setAsOfErr(api.toCommandError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="screen" id="history">
      <Header title={headName(household)} onBack={onBack} />
      <main>

      <section class="card">
        <h2>{t('as_of_title')}</h2>
        <div class="with-button">
          <input id="as-of-date" type="date" aria-label={t('as_of_date')} value={date}
            onInput={(e) => setDate(e.currentTarget.value)} />
          <button id="as-of-show" class="secondary" disabled={busy || !date} onClick={show}>{t('as_of_show')}</button>
        </div>
        <ErrorBox err={asOfErr} id="as-of-error" />
        {asOf && (
          <div id="as-of-view" class="as-of-view" data-date={asOf.date}>
            <dl class="kv">
              <dt>{t('as_of_date')}</dt><dd>{asOf.date}</dd>
              <dt>{t('as_of_status')}</dt>
              <dd><span class={`badge status-${asOf.h.status ?? 'none'}`} id="as-of-status">
                {asOf.h.status ? tDyn('result_', asOf.h.status) : t('status_none')}</span></dd>
              <dt>{t('as_of_visits')}</dt><dd id="as-of-visits">{Object.keys(asOf.h.visits ?? {}).length}</dd>
            </dl>
            <div class="muted small-text">{t('detail_members')}</div>
            {Object.keys(asOf.h.members ?? {}).length === 0 && <p class="muted">{t('detail_no_members')}</p>}
            <ul class="members">
              {Object.entries(asOf.h.members ?? {}).map(([mid, m]) => (
                <li key={mid} class="member">
                  <strong>{m.name || t('no_name')}</strong> · {tDyn('relation_', m.relation)}
                  {m.presence && <> <span class={`badge presence-${m.presence}`}>{tDyn('presence_', m.presence)}</span></>}
                </li>
              ))}
            </ul>
          </div>
        )}
      </section>

      <ErrorBox err={err} id="history-error" />
      {entries === null && !err && <p class="muted center">{t('loading')}</p>}
      {entries && (
        <section class="card">
          <h2>{t('history_title')}</h2>
          {entries.length === 0 && <p class="muted">{t('history_empty')}</p>}
          {/* Newest first: the kader and fasilitator usually look for the latest change.
              Each change is one sentence in the UI's language (written by core/src/history.rs);
              the fields it wrote wait behind "Rincian". */}
          <ol class="timeline">
            {[...entries].reverse().map((e) => (
              <li key={e.hash} class="history-entry" data-hash={e.hash}>
                <div class="history-head">
                  <span class="history-at">{formatMs(e.at)}</span>
                  <span class="history-by">{e.by ?? t('history_system')}</span>
                  <span class="history-device mono muted" title={e.device}>{e.device.slice(0, 8)}</span>
                </div>
                <p class="history-text">{e.text}</p>
                <details class="history-details">
                  <summary>{t('history_fields')}</summary>
                  <ul class="history-changes">
                    {e.changes.filter((c) => c.op !== 'added').map((c, i) => (
                      <li key={i}>{c.label}: {c.op === 'removed' ? '—' : formatValue(c.path, c.value as JsonValue)}</li>
                    ))}
                  </ul>
                </details>
              </li>
            ))}
          </ol>
        </section>
      )}
      </main>
    </div>
  );
}
