// Owns: the outbox (what this phone holds that the server does not: unsent work,
// work the server refused and why, quarantined households, drafts) and the inbox (the
// fasilitator's and office's decisions and notes, newest first; opening it marks them
// read).
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header } from '../components';
import { formatMs, refusalText, t } from '../i18n';
import type { CommandError, InboxItem, Outbox } from '../types';
import { fmt2 } from './household-list';

export function OutboxScreen({ onBack, onOpenHousehold }: {
  onBack: () => void; onOpenHousehold: (id: string) => void;
}) {
  const [box, setBox] = useState<Outbox | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  useEffect(() => { api.outbox().then(setBox).catch((e) => setErr(api.toCommandError(e))); }, []);

  const waiting = box?.households.filter((h) => h.rejected == null) ?? [];
  const refused = box?.households.filter((h) => h.rejected != null) ?? [];
  const empty = box && box.households.length === 0 && box.quarantined.length === 0 && box.drafts.length === 0
    && box.relays === 0;
  return (
    <div class="screen" id="outbox">
      <Header title={t('outbox_title')} onBack={onBack} />
      <main>
        <ErrorBox err={err} id="outbox-error" />
        {!box && !err && <p class="muted center">{t('loading')}</p>}
        {empty && <p class="muted center" id="outbox-empty">{t('outbox_empty')}</p>}
        {box && waiting.length > 0 && (
          <section class="card" id="outbox-waiting">
            <h2>{t('outbox_waiting', { n: box.waiting, v: box.unsent_visits })}</h2>
            <ul class="plain-list">
              {waiting.map((h) => (
                <li key={h.id}>
                  <button class="link-row" data-id={h.id} onClick={() => onOpenHousehold(h.id)}>
                    <strong>{h.head_name || t('no_name')}</strong> · RW {fmt2(h.rw)}/RT {fmt2(h.rt)}
                    {h.visits > 0 && <span class="muted"> · {t('outbox_visits', { n: h.visits })}</span>}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
        {refused.length > 0 && (
          <section class="card" id="outbox-refused">
            <h2>{t('outbox_refused')}</h2>
            <p class="muted">{t('outbox_refused_hint')}</p>
            <ul class="plain-list">
              {refused.map((h) => (
                <li key={h.id}>
                  <button class="link-row" data-id={h.id} onClick={() => onOpenHousehold(h.id)}>
                    <strong>{h.head_name || t('no_name')}</strong> · RW {fmt2(h.rw)}/RT {fmt2(h.rt)}
                  </button>
                  <Refusal stored={h.rejected ?? ''} />
                </li>
              ))}
            </ul>
          </section>
        )}
        {box && box.quarantined.length > 0 && (
          <section class="card" id="outbox-quarantined">
            <h2>{t('outbox_quarantined')}</h2>
            <ul class="plain-list">
              {box.quarantined.map((q) => <li key={q.id}><code>{q.id}</code> — {q.reason}</li>)}
            </ul>
          </section>
        )}
        {box && box.drafts.length > 0 && (
          <section class="card" id="outbox-drafts">
            <h2>{t('outbox_drafts')}</h2>
            <ul class="plain-list">
              {box.drafts.map((d) => (
                <li key={d.id}>
                  <button class="link-row" data-id={d.id} onClick={() => onOpenHousehold(d.id)}>
                    <strong>{d.head_name || t('no_name')}</strong> <span class="muted">· {formatMs(d.at)}</span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
        {box && box.relays > 0 && <p class="muted pad">{t('outbox_relays', { n: box.relays })}</p>}
      </main>
    </div>
  );
}

/** Why the server refused, in the UI's language; its own English words behind "Detail". */
function Refusal({ stored }: { stored: string }) {
  const r = refusalText(stored);
  return (
    <div class="refusal">
      {r.text}
      {r.detail && (
        <details class="detail"><summary>{t('error_detail')}</summary><span class="mono small-text">{r.detail}</span></details>
      )}
    </div>
  );
}

export function InboxScreen({ onBack, onOpenHousehold }: {
  onBack: () => void; onOpenHousehold: (id: string) => void;
}) {
  const [items, setItems] = useState<InboxItem[] | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  useEffect(() => {
    // What is shown now is marked read only after it was fetched with its marks.
    api.inbox()
      .then((list) => { setItems(list); return api.inboxSeen(); })
      .catch((e) => setErr(api.toCommandError(e)));
  }, []);
  return (
    <div class="screen" id="inbox">
      <Header title={t('inbox_title')} onBack={onBack} />
      <main>
        <ErrorBox err={err} id="inbox-error" />
        {!items && !err && <p class="muted center">{t('loading')}</p>}
        {items && items.length === 0 && <p class="muted center" id="inbox-empty">{t('inbox_empty')}</p>}
        {items && items.length > 0 && (
          <ul class="plain-list inbox-list">
            {items.map((i) => (
              <li key={`${i.household}/${i.id}`} class={`card inbox-item ${i.unread ? 'unread' : ''}`} data-kind={i.kind}>
                <div class="inbox-head">
                  {i.unread && <span class="marker unread">{t('inbox_new')}</span>}
                  <strong>{i.kind === 'note' ? t('inbox_note', { by: i.by }) : t('inbox_decision', { by: i.by })}</strong>
                  <span class="muted small-text">{formatMs(i.at)}</span>
                </div>
                {i.kind === 'note' && typeof i.item.text === 'string' && <p class="inbox-text">“{i.item.text}”</p>}
                <button class="link-row" data-id={i.household} onClick={() => onOpenHousehold(i.household)}>
                  {i.head_name || t('no_name')} · RW {fmt2(i.rw)}/RT {fmt2(i.rt)}
                </button>
              </li>
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}
