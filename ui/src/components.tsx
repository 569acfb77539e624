// Owns: small shared UI pieces (error box, header, labelled field).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from './api';
import { errorText, lang, setLang, t } from './i18n';
import type { ShownError } from './types';

/** A localized error by code, with the backend's own message as detail when it adds something. */
export function ErrorBox({ err, id, text }: {
  err: ShownError | null; id?: string;
  /** Overrides the localized message for this error (e.g. a screen-specific wording). */
  text?: string;
}) {
  if (!err) return null;
  const main = text ?? errorText(err);
  return (
    <div class="error" id={id} role="alert">
      <div>{main}</div>
      {/* One language at a time: the backend's own words (English, technical) wait
          behind "Detail" for whoever supports the kader. */}
      {err.message && err.message !== main && (
        <details class="error-detail"><summary>{t('error_detail')}</summary>{err.message}</details>
      )}
    </div>
  );
}

export function Header({ title, onBack, onLogout, onLock }: {
  title: string; onBack?: () => void; onLogout?: () => void; onLock?: () => void;
}) {
  return (
    <header class="topbar">
      {onBack && <button id="back" class="icon-btn" onClick={onBack} aria-label={t('back')}>‹ {t('back')}</button>}
      <h1>{title}</h1>
      <button id="lang-toggle" class="link-btn" onClick={() => setLang(lang() === 'id' ? 'en' : 'id')}>
        {t('lang_toggle')}
      </button>
      {onLock && <button id="lock-now" class="link-btn" onClick={onLock}>{t('lock_now')}</button>}
      {onLogout && <button id="logout" class="link-btn" onClick={onLogout}>{t('logout')}</button>}
    </header>
  );
}

export function Field({ label, for: htmlFor, children }: { label: string; for: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={htmlFor}>{label}</label>
      {children}
    </div>
  );
}

/** Number of criteria in the current indicator set (the score's denominator); 14 until loaded. */
export function useCriteriaCount(): number {
  const [n, setN] = useState(14);
  useEffect(() => {
    api.indicatorSet().then((s) => setN(s.criteria.length)).catch(() => undefined);
  }, []);
  return n;
}

/** Asks before an action that cannot be taken back: what it does, what it costs, and
 *  the choices (the first is the safe one and has the focus). */
export function ConfirmDialog({ id, title, body, choices }: {
  id: string; title: string; body: ComponentChildren;
  choices: { id: string; label: string; onClick: () => void; primary?: boolean }[];
}) {
  const safe = useRef<HTMLButtonElement>(null);
  useEffect(() => safe.current?.focus(), []);
  return (
    <div class="dialog-backdrop">
      <div class="dialog card" id={id} role="alertdialog" aria-modal="true" aria-labelledby={`${id}-title`}>
        <h2 id={`${id}-title`}>{title}</h2>
        <div>{body}</div>
        <div class="actions">
          {choices.map((c, i) => (
            <button key={c.id} id={c.id} type="button" class={c.primary ? 'primary' : ''}
              ref={i === 0 ? safe : undefined} onClick={c.onClick}>{c.label}</button>
          ))}
        </div>
      </div>
    </div>
  );
}
