// Owns: the sync status bar — online/offline, last sync, pending changes, bytes used
// (last sync and this month), "Sync now", polling `sync_status` every 5 s, and sync by
// file (bundle export/import) for when no network works.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox } from '../components';
import { formatBytes, formatDateTime, t } from '../i18n';
import type { CommandError, SyncStatus } from '../types';

const POLL_MS = 5000;
const POLL_SYNCING_MS = 1000;
/** The last status seen: the bar comes back with it (and its height), so the list under
 * it opens at the kader's place, not pushed down when the first poll answers. */
let lastStatus: SyncStatus | null = null;
/** Drops the last status (at logout, revocation and erase). */
export function forgetSyncStatus() {
  lastStatus = null;
}

/** `onSynced` fires when a sync finished with new data possibly applied (last_sync moved);
 * `onRevoked` when the server said this device was revoked (its data is erased by then). */
export function SyncBar({ onSynced, onRevoked, onOutbox, inbox }: {
  onSynced: () => void; onRevoked?: () => void; onOutbox?: () => void;
  /** The inbox's button, beside "Sync now". */
  inbox?: ComponentChildren;
}) {
  const [status, setStatus] = useState<SyncStatus | null>(lastStatus);
  const [err, setErr] = useState<CommandError | null>(null);
  const [busy, setBusy] = useState(false);
  const lastSync = useRef<string | null | undefined>(undefined);
  const onSyncedRef = useRef(onSynced);
  onSyncedRef.current = onSynced;

  const onRevokedRef = useRef(onRevoked);
  onRevokedRef.current = onRevoked;

  const pulled = useRef(0);
  const apply = (s: SyncStatus) => {
    if (s.last_error?.code === 'revoked') onRevokedRef.current?.();
    // The list fills as the pages of a long sync arrive, not only at its end.
    const got = s.progress?.docs_pulled ?? 0;
    if (got > pulled.current) onSyncedRef.current();
    pulled.current = s.progress ? got : 0;
    if (lastSync.current !== undefined && s.last_sync !== lastSync.current) onSyncedRef.current();
    lastSync.current = s.last_sync;
    lastStatus = s;
    setStatus(s);
  };

  // Every 5 s; every second while a sync runs, for its progress.
  const syncingNow = status?.syncing ?? false;
  useEffect(() => {
    let alive = true;
    const poll = () => api.syncStatus().then((s) => { if (alive) apply(s); }).catch(() => undefined);
    poll();
    const timer = setInterval(poll, syncingNow ? POLL_SYNCING_MS : POLL_MS);
    return () => { alive = false; clearInterval(timer); };
  }, [syncingNow]);

  const syncNow = async () => {
    setBusy(true);
    setErr(null);
    try {
      apply(await api.syncNow());
    } catch (e) {
      const ce = api.toCommandError(e);
      if (ce.code === 'revoked') onRevokedRef.current?.();
      setErr(ce);
      if (ce.code === 'offline' && status) setStatus({ ...status, online: false });
      // What waits to be sent, as it stands now.
      api.syncStatus().then((s) => apply(s)).catch(() => undefined);
    } finally {
      setBusy(false);
    }
  };

  const [bundlePath, setBundlePath] = useState('');
  const [bundleMsg, setBundleMsg] = useState<string | null>(null);
  const [bundleErr, setBundleErr] = useState<CommandError | null>(null);
  // The bundle goes where the kader chooses (Downloads by default), where a phone's
  // share or a USB cable finds it; cancelling the dialog writes nothing.
  const exportBundle = async () => {
    setBundleErr(null);
    try {
      const stamp = new Date().toISOString().slice(0, 10);
      const path = await api.chooseFile('save', ['jemput'], `jemput-${stamp}.jemput`);
      if (!path) return;
      const r = await api.bundleExport(path);
      setBundleMsg(t('bundle_written', { path: r.path, n: r.households }));
    } catch (e) {
      setBundleErr(api.toCommandError(e));
    }
  };
  const importBundle = async () => {
    setBundleErr(null);
    try {
      const r = await api.bundleImport(bundlePath.trim());
      setBundleMsg(t('bundle_applied', { n: r.households, skipped: r.skipped }));
      onSyncedRef.current();
    } catch (e) {
      // The path stays so the kader can correct it; nothing was applied.
      setBundleErr(api.toCommandError(e));
    }
  };

  const online = status?.online ?? false;
  const syncing = busy || (status?.syncing ?? false);
  // Being offline is the field's normal state, not a failure: one calm line says how
  // much waits to be sent. Only a real failure shows a red box.
  const offlineErr = (e: CommandError | null | undefined) => e?.code === 'offline';
  const shownErr = err && !offlineErr(err) ? err : null;
  const lastErr = !err && status?.last_error && !offlineErr(status.last_error) ? status.last_error : null;
  const pending = status?.pending ?? 0;
  return (
    <section id="sync-status" class={`syncbar ${online ? 'online' : 'offline'}`} aria-live="polite">
      <div class="sync-line">
        <span class="sync-dot" aria-hidden="true" />
        <strong class="sync-state" id="sync-state">
          {syncing ? t('sync_syncing')
            : online ? t('sync_online')
              : pending > 0 ? t('offline_calm', { n: pending }) : t('offline_calm_none')}
        </strong>
        {inbox}
        <button id="sync-now" class="small" onClick={syncNow} disabled={syncing}>{t('sync_now')}</button>
      </div>
      {syncing && status?.progress && (
        <div class="sync-progress" id="sync-progress" role="status">
          {status.progress.remaining != null
            ? t('sync_progress_of', {
              n: status.progress.docs_pulled,
              total: status.progress.docs_pulled + status.progress.remaining,
              b: formatBytes(status.progress.bytes_down + status.progress.bytes_up),
            })
            : t('sync_progress', {
              n: status.progress.docs_pulled,
              b: formatBytes(status.progress.bytes_down + status.progress.bytes_up),
            })}
          {status.progress.more && <span class="muted"> · {t('sync_more')}</span>}
        </div>
      )}
      {status && (
        <div class="sync-info">
          <span>{t('sync_last')}: {formatDateTime(status.last_sync)}</span>
          {online && <span class={pending > 0 ? 'pending' : ''}>{t('sync_pending', { n: pending })}</span>}
          {status.rejected > 0 && <span class="bad">{t('sync_rejected', { n: status.rejected })}</span>}
          {status.quarantined > 0 && (
            <span class="bad" id="sync-quarantined">{t('sync_quarantined', { n: status.quarantined })}</span>
          )}
          {online && (
            <>
              <span title={`↑${formatBytes(status.last_bytes_up)} ↓${formatBytes(status.last_bytes_down)}`}>{t('sync_bytes', { b: formatBytes(status.last_bytes_up + status.last_bytes_down) })}</span>
              <span id="sync-month">{t('sync_month', { b: formatBytes(status.month_bytes) })}</span>
            </>
          )}
          {onOutbox && <button id="open-outbox" class="link" type="button" onClick={onOutbox}>{t('open_outbox')}</button>}
        </div>
      )}
      <details class="bundle">
        <summary>{t('bundle_title')}</summary>
        <button id="bundle-export" class="small" onClick={exportBundle}>{t('bundle_export')}</button>
        {bundleMsg && <div id="bundle-result" class="muted">{bundleMsg}</div>}
        <div class="bundle-import">
          <label for="bundle-path" class="sr-only">{t('bundle_path')}</label>
          <input id="bundle-path" placeholder={t('bundle_path')} value={bundlePath}
            onInput={(e) => setBundlePath(e.currentTarget.value)} />
          <button id="bundle-choose" class="small" type="button"
            onClick={() => api.chooseFile('open', ['jemput']).then((p) => { if (p) setBundlePath(p); }).catch(() => undefined)}>
            {t('choose_file')}
          </button>
          <button id="bundle-import" class="small" onClick={importBundle} disabled={!bundlePath.trim()}>{t('bundle_import')}</button>
        </div>
        <ErrorBox err={bundleErr} id="bundle-error" />
      </details>
      {lastErr && <ErrorBox err={lastErr} />}
      <ErrorBox err={shownErr} id="sync-error" />
    </section>
  );
}
