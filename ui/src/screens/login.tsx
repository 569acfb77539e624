// Owns: the login screen (server URL, user name, password, failed-login message).
import { useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Field, Header } from '../components';
import { t } from '../i18n';
import type { CommandError, LoginResult } from '../types';
import type { Revoked } from '../bindings/Revoked';

const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function Login({ defaultServer, revoked, onLoggedIn }: {
  defaultServer: string | null; revoked?: Revoked | null; onLoggedIn: (r: LoginResult) => void;
}) {
  const [server, setServer] = useState(defaultServer || DEFAULT_SERVER);
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<CommandError | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const r = await api.login(server.trim(), user.trim(), password);
      onLoggedIn(r);
    } catch (e) {
      setErr(api.toCommandError(e));
      setBusy(false);
    }
  };

  return (
    <div class="screen">
      <Header title={t('app_name')} />
      <main>
      <form class="card form" onSubmit={submit}>
        <h2>{t('login_title')}</h2>
        {revoked && (
          <p class="error" id="revoked-notice" role="alert">
            {t('revoked_notice', { n: revoked.discarded_visits })}
          </p>
        )}
        <Field label={t('login_server')} for="login-server">
          <input id="login-server" type="url" inputMode="url" autoComplete="url" value={server}
            onInput={(e) => setServer(e.currentTarget.value)} />
        </Field>
        <Field label={t('login_user')} for="login-user">
          <input id="login-user" autoComplete="username" autoCapitalize="none" value={user}
            onInput={(e) => setUser(e.currentTarget.value)} required />
        </Field>
        <Field label={t('login_password')} for="login-password">
          <input id="login-password" type="password" autoComplete="current-password" value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} required />
        </Field>
        <ErrorBox err={err} id="login-error" />
        <button id="login-submit" class="primary" type="submit" disabled={busy}>
          {busy ? t('login_busy') : t('login_submit')}
        </button>
      </form>
      </main>
    </div>
  );
}
