// Owns: the top-level app state — the PIN lock, session, current screen, language re-render.
import { useEffect, useState } from 'preact/hooks';
import * as api from './api';
import { onLangChange, lang, t } from './i18n';
import type { HouseholdDetail, LockStatus, SessionStatus } from './types';
import { Login } from './screens/login';
import { LockScreen } from './screens/lock';
import { ConfirmDialog, ErrorBox } from './components';
import { forgetList, HouseholdList } from './screens/household-list';
import { forgetSyncStatus } from './screens/sync-bar';
import { HouseholdDetailScreen } from './screens/household-detail';
import { VisitForm } from './screens/visit-form';
import { ProposeForm } from './screens/propose-form';
import { ReviewScreen } from './screens/review';
import { HistoryScreen } from './screens/history';
import { RegistryScreen } from './screens/registry';
import { MuskelScreen } from './screens/muskel';
import { ComplaintsScreen, type CaseAbout } from './screens/complaints';
import { InboxScreen, OutboxScreen } from './screens/outbox-inbox';

/** The screen a household was opened from, where "Kembali" returns. */
type From = 'review' | 'outbox' | 'inbox';

export type Route =
  | { screen: 'list' }
  | { screen: 'detail'; id: string; initial?: HouseholdDetail; from?: From }
  | { screen: 'visit'; id: string; household: HouseholdDetail; from?: From }
  | { screen: 'history'; id: string; household: HouseholdDetail; from?: From }
  | { screen: 'propose' }
  | { screen: 'outbox' }
  | { screen: 'inbox' }
  | { screen: 'review' }
  | { screen: 'registry' }
  | { screen: 'dashboard' }
  | { screen: 'muskel' }
  | { screen: 'complaints'; about?: CaseAbout };

export function App() {
  const [, setLangTick] = useState(lang());
  const [session, setSession] = useState<SessionStatus | null>(null);
  const [route, setRoute] = useState<Route>({ screen: 'list' });
  const [confirmLogout, setConfirmLogout] = useState<{ pending: number | null } | null>(null);

  useEffect(() => onLangChange((l) => setLangTick(l)), []);
  useEffect(() => { document.documentElement.lang = lang(); }, []);

  // Nothing but the PIN screen until the PIN has opened the store; in the background
  // the backend counts the kelurahan's minutes and locks again when the app returns.
  // A relocked app keeps its screens under the PIN screen (a half-filled visit stays),
  // and while in the background a cover hides them from the app switcher's snapshot.
  const [lock, setLock] = useState<LockStatus | null>(null);
  const [hidden, setHidden] = useState(false);
  useEffect(() => { api.lockStatus().then(setLock).catch(() => undefined); }, []);
  useEffect(() => {
    const onVisibility = () => {
      if (document.visibilityState === 'hidden') {
        setHidden(true);
        api.appHidden().catch(() => undefined);
      } else {
        api.appShown().then(setLock).catch(() => undefined).finally(() => setHidden(false));
      }
    };
    document.addEventListener('visibilitychange', onVisibility);
    return () => document.removeEventListener('visibilitychange', onVisibility);
  }, []);
  const open = lock?.state === 'open';

  useEffect(() => {
    if (!open) return;
    api.sessionStatus()
      .then(setSession)
      .catch(() => setSession({ logged_in: false, user: null, role: null, can: null, server: null, revoked: null }));
  }, [open]);

  const reloadSession = () => {
    api.sessionStatus().then(setSession).catch(() => undefined);
  };

  // Logged out, revoked or erased: nothing the screens kept of the session stays in
  // the page (the list's rows and search, the sync bar's status).
  const loggedIn = session?.logged_in === true;
  useEffect(() => {
    if (!loggedIn) { forgetList(); forgetSyncStatus(); }
  }, [loggedIn]);

  // After an erase nothing of the old session may stay on screen.
  const changeLock = (s: LockStatus) => {
    if (s.state === 'new_pin') setSession(null);
    setLock(s);
  };

  if (!lock) return <div class="center muted">…</div>;
  if (!session) {
    return open ? <div class="center muted">…</div> : <LockScreen status={lock} onChange={changeLock} />;
  }
  const covered = !open || hidden;
  return (
    <>
      <div inert={covered} aria-hidden={covered}>{screen(session)}</div>
      {covered && (
        <div class="lock-overlay" id="lock-overlay">
          {open ? <div class="center">{t('app_name')}</div> : <LockScreen status={lock} onChange={changeLock} />}
        </div>
      )}
    </>
  );

  function screen(session: SessionStatus) {
    if (!session.logged_in) {
      return (
        <Login
          defaultServer={session.server}
          revoked={session.revoked}
          onLoggedIn={(r) => {
            setSession({ ...session, logged_in: true, user: r.user, role: r.role, can: r.can, revoked: null });
            setRoute({ screen: 'list' });
          }}
        />
      );
    }

    // Logging out asks first and says what waits to be sent (it stays on the phone,
    // but leaves only after someone logs in again).
    const logout = () => {
      api.syncStatus()
        .then((s) => setConfirmLogout({ pending: s.pending }))
        .catch(() => setConfirmLogout({ pending: null }));
    };
    const doLogout = () => {
      setConfirmLogout(null);
      api.logout().catch(() => undefined).finally(() =>
        setSession({ ...session, logged_in: false, user: null, role: null, can: null }));
    };
    const syncFirst = () => {
      setConfirmLogout(null);
      api.syncNow().catch(() => undefined);
    };
    const n = confirmLogout?.pending ?? null;
    const logoutDialog = confirmLogout && (
      <ConfirmDialog
        id="confirm-logout"
        title={t('logout_title')}
        body={<p>{n == null ? t('logout_unknown') : n > 0 ? t('logout_pending', { n }) : t('logout_nothing')}</p>}
        choices={[
          { id: 'logout-cancel', label: t('cancel'), onClick: () => setConfirmLogout(null) },
          ...(n != null && n > 0 ? [{ id: 'logout-sync', label: t('logout_sync_first'), onClick: syncFirst }] : []),
          { id: 'logout-confirm', label: t('logout'), onClick: doLogout, primary: true },
        ]}
      />
    );

    switch (route.screen) {
      case 'list':
        return (
          <>
            <HouseholdList
              user={session.user}
              open={open}
              onRevoked={reloadSession}
              onOpen={(id) => setRoute({ screen: 'detail', id })}
              onPropose={() => setRoute({ screen: 'propose' })}
              onLogout={logout}
              onLock={() => api.lockNow().then(setLock).catch(() => undefined)}
              // What each role is offered comes from the rule book in core (`can`); the
              // backend checks again.
              onReview={session.can?.review ? () => setRoute({ screen: 'review' }) : undefined}
              onRegistry={session.can?.registry ? () => setRoute({ screen: 'registry' }) : undefined}
              onDashboard={session.can?.dashboard ? () => setRoute({ screen: 'dashboard' }) : undefined}
              onMuskel={session.can?.muskel ? () => setRoute({ screen: 'muskel' }) : undefined}
              onComplaints={() => setRoute({ screen: 'complaints' })}
              onOutbox={() => setRoute({ screen: 'outbox' })}
              onInbox={() => setRoute({ screen: 'inbox' })}
            />
            {logoutDialog}
          </>
        );
      case 'detail':
        return (
          <HouseholdDetailScreen
            id={route.id}
            initial={route.initial}
            onBack={() => setRoute({ screen: route.from ?? 'list' })}
            onRecordVisit={(household) => setRoute({ screen: 'visit', id: route.id, household, from: route.from })}
            onOpenHistory={(household) => setRoute({ screen: 'history', id: route.id, household, from: route.from })}
            onComplaint={(about) => setRoute({ screen: 'complaints', about })}
          />
        );
      case 'visit':
        return (
          <VisitForm
            household={route.household}
            onCancel={() => setRoute({ screen: 'detail', id: route.id, initial: route.household, from: route.from })}
            onSaved={(detail) => setRoute({ screen: 'detail', id: route.id, initial: detail, from: route.from })}
          />
        );
      case 'history':
        return (
          <HistoryScreen
            id={route.id}
            household={route.household}
            onBack={() => setRoute({ screen: 'detail', id: route.id, initial: route.household, from: route.from })}
          />
        );
      case 'review':
        return (
          <ReviewScreen
            onBack={() => setRoute({ screen: 'list' })}
            onOpenHousehold={(id) => setRoute({ screen: 'detail', id, from: 'review' })}
          />
        );
      case 'registry':
        return <RegistryScreen onBack={() => setRoute({ screen: 'list' })} />;
      case 'complaints':
        return <ComplaintsScreen about={route.about} office={session.can?.muskel === true}
          onBack={() => setRoute({ screen: 'list' })} />;
      case 'muskel':
        return <MuskelScreen onBack={() => setRoute({ screen: 'list' })} />;
      case 'dashboard':
        return <LazyDashboard onBack={() => setRoute({ screen: 'list' })} />;
      case 'outbox':
        return (
          <OutboxScreen onBack={() => setRoute({ screen: 'list' })}
            onOpenHousehold={(id) => setRoute({ screen: 'detail', id, from: 'outbox' })} />
        );
      case 'inbox':
        return (
          <InboxScreen onBack={() => setRoute({ screen: 'list' })}
            onOpenHousehold={(id) => setRoute({ screen: 'detail', id, from: 'inbox' })} />
        );
      case 'propose':
        return (
          <ProposeForm
            onCancel={() => setRoute({ screen: 'list' })}
            onSaved={(id) => setRoute({ screen: 'detail', id })}
          />
        );
    }
  }
}

/** The dashboard and its charting library load when an office user first opens it:
 *  a kader's app never downloads or parses them. */
function LazyDashboard({ onBack }: { onBack: () => void }) {
  const [screen, setScreen] = useState<typeof import('./screens/dashboard').DashboardScreen | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    import('./screens/dashboard')
      .then((m) => setScreen(() => m.DashboardScreen))
      .catch((e) => setFailed(String(e)));
  }, []);
  const Screen = screen;
  if (Screen) return <Screen onBack={onBack} />;
  return failed
    ? <ErrorBox err={{ code: 'unknown', message: failed }} id="dashboard-error" />
    : <div class="center muted">{t('loading')}</div>;
}
