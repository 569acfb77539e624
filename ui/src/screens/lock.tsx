// Owns: the PIN screen — choosing a PIN, entering it at start and after time in the
// background, the wait after wrong PINs, and the warning (with a last chance to send
// unsent work) before the tenth wrong PIN erases the phone's data.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header } from '../components';
import { t } from '../i18n';
import type { CommandError, LockStatus } from '../types';

export function LockScreen({ status, onChange }: {
  status: LockStatus; onChange: (s: LockStatus) => void;
}) {
  const [pin, setPin] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<CommandError | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [sendMsg, setSendMsg] = useState<string | null>(null);
  const { gate, min_digits: min } = status;
  const fresh = status.state === 'new_pin';

  // While a wait runs, the backend's clock counts it down: ask it every second.
  const left = gate.wait_s;
  useEffect(() => {
    if (left <= 0) return;
    const timer = setTimeout(() => api.lockStatus().then(onChange).catch(() => undefined), 1000);
    return () => clearTimeout(timer);
  }, [status]);

  const refused = async (e: unknown) => {
    const ce = api.toCommandError(e);
    const now = await api.lockStatus().catch(() => status);
    onChange(now);
    if (ce.code === 'wrong_pin') setNote(t('lock_wrong', { n: now.gate.tries_left }));
    else if (ce.code === 'pin_wait' || ce.code === 'erased') setNote(null);
    else setErr(ce);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    setNote(null);
    if (!/^[0-9]+$/.test(pin) || pin.length < min) {
      setNote(t('lock_short', { n: min }));
      return;
    }
    if (fresh && pin !== again) {
      setNote(t('lock_mismatch'));
      return;
    }
    setBusy(true);
    try {
      onChange(fresh ? await api.setPin(pin) : await api.unlock(pin));
    } catch (e) {
      await refused(e);
    } finally {
      setPin('');
      setAgain('');
      setBusy(false);
    }
  };

  const send = async (what: 'sync' | 'bundle') => {
    setSendMsg(null);
    setErr(null);
    try {
      if (what === 'sync') {
        const s = await api.syncNow();
        setSendMsg(s.last_error ? s.last_error.message : t('sync_done'));
      } else {
        const r = await api.bundleExport();
        setSendMsg(t('bundle_written', { path: r.path, n: r.households }));
      }
      onChange(await api.lockStatus());
    } catch (e) {
      setErr(api.toCommandError(e));
    }
  };

  const waiting = left > 0;
  return (
    <div class="screen">
      <Header title={t('app_name')} />
      <main>
      <form class="card form" id="lock-form" onSubmit={submit}>
        <h2>{fresh ? t('lock_new_title') : t('lock_title')}</h2>
        {gate.erased && (
          <p class="error" id="erased-notice" role="alert">
            {t('lock_erased', { n: gate.erased.discarded_visits })}
          </p>
        )}
        {fresh && <p class="muted">{t('lock_new_hint', { n: min })}</p>}
        {!fresh && gate.warn && (
          <div class="error" id="erase-warning" role="alert">
            <p>{t('lock_warn', { left: gate.tries_left, n: gate.unsent })}</p>
            {status.can_send ? (
              <div class="actions">
                <span>{t('lock_warn_send')}</span>
                <button type="button" id="lock-sync" onClick={() => send('sync')}>{t('sync_now')}</button>
                <button type="button" id="lock-bundle" onClick={() => send('bundle')}>{t('bundle_export')}</button>
              </div>
            ) : <p>{t('lock_warn_closed')}</p>}
            {sendMsg && <p id="lock-sent">{sendMsg}</p>}
          </div>
        )}
        <div class="field">
          <label for="pin">{t('lock_pin')}</label>
          <input id="pin" type="password" inputMode="numeric" autoComplete={fresh ? 'new-password' : 'current-password'}
            pattern="[0-9]*" value={pin} disabled={waiting || busy} autoFocus
            onInput={(e) => setPin(e.currentTarget.value.replace(/\D/g, ''))} />
        </div>
        {fresh && (
          <div class="field">
            <label for="pin-again">{t('lock_pin_again')}</label>
            <input id="pin-again" type="password" inputMode="numeric" autoComplete="new-password"
              pattern="[0-9]*" value={again} disabled={busy}
              onInput={(e) => setAgain(e.currentTarget.value.replace(/\D/g, ''))} />
          </div>
        )}
        {waiting && <p class="error" id="pin-wait" role="status">{t('lock_wait', { n: left })}</p>}
        {note && <p class="error" id="pin-note" role="alert">{note}</p>}
        <ErrorBox err={err} id="pin-error" />
        <button id="pin-submit" class="primary" type="submit" disabled={waiting || busy}>
          {busy ? t('lock_opening') : fresh ? t('lock_set') : t('lock_open')}
        </button>
      </form>
      </main>
    </div>
  );
}
