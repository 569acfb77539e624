// Owns: every Tauri command call and event subscription (typed). Screens call these,
// never `invoke` or `listen` directly.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { lang } from './i18n';
import type {
  BundleExported, Case, CaseAdded, CaseInput, CasesList, ColumnTarget, CommandError, Dashboard, ErrorCode, MuskelProposal, MuskelSession, MuskelSessions,
  NewSession, Outcome, ProposalKind, ConflictItem, ConflictKind, ExportDone, HistoryEntry,
  HouseholdDetail, Imported, InboxItem, ListPage, ListQuery, Outbox, ImportPreview, ImportProgress, ImportReport, IndicatorSet, LoginResult,
  LockStatus, NewVisit, Proposal, SessionStatus, SyncStatus,
} from './types';

export type { UnlistenFn };

/** Normalise whatever a rejected invoke carries into `{code, message}`. */
export function toCommandError(e: unknown): CommandError {
  if (e && typeof e === 'object' && 'code' in e) {
    const o = e as { code: unknown; message?: unknown };
    // The backend's codes are `ErrorCode`s; anything else shows its message.
    return { code: String(o.code) as ErrorCode, message: o.message == null ? '' : String(o.message) };
  }
  if (typeof e === 'string') return { code: 'unknown', message: e };
  if (e instanceof Error) return { code: 'unknown', message: e.message };
  return { code: 'unknown', message: String(e) };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toCommandError(e);
  }
}

/** Whether the store is open, locked, or needs a PIN chosen; with wrong tries, wait and unsent work. */
export const lockStatus = () => call<LockStatus>('lock_status');
/** Chooses the PIN of a phone that has none (at least 6 digits). */
export const setPin = (pin: string) => call<LockStatus>('set_pin', { pin });
/** Rejects with `wrong_pin`, `pin_wait` or `erased` (then ask `lockStatus` for the numbers). */
export const unlock = (pin: string) => call<LockStatus>('unlock', { pin });
export const lockNow = () => call<LockStatus>('lock_now');
export const appHidden = () => call<null>('app_hidden');
/** Back in front: locked again if it stayed in the background the kelurahan's minutes. */
export const appShown = () => call<LockStatus>('app_shown');

export const sessionStatus = () => call<SessionStatus>('session_status');
export const login = (server: string, user: string, password: string) =>
  call<LoginResult>('login', { server, user, password });
export const logout = () => call<null>('logout');

/** One page of the list: `limit` rows from `offset`, and how many match in all. */
export const listHouseholds = (query: ListQuery) => call<ListPage>('list_households', { query });
/** The visit form being typed for a household (`body` as `draftPut` kept it, `at` ms). */
export const draftGet = (id: string) => call<{ body: unknown; at: number } | null>('draft_get', { id });
/** Keeps the visit form as typed in the device store (never the webview's storage). */
export const draftPut = (id: string, body: unknown) => call<null>('draft_put', { id, body });
export const draftDiscard = (id: string) => call<null>('draft_discard', { id });
/** What waits to reach the server: unsent, refused (with the reason), quarantined, drafts. */
export const outbox = () => call<Outbox>('outbox');
/** The fasilitator's and office's decisions and notes, newest first. */
export const inbox = () => call<InboxItem[]>('inbox');
export const inboxSeen = () => call<null>('inbox_seen');
export const getHousehold = (id: string) => call<HouseholdDetail>('get_household', { id });

let indicatorSetCache: Promise<IndicatorSet> | null = null;
/** The indicator set changes only with an app/data update; fetch it once per session. */
export function indicatorSet(): Promise<IndicatorSet> {
  if (!indicatorSetCache) {
    indicatorSetCache = call<IndicatorSet>('indicator_set');
    indicatorSetCache.catch(() => { indicatorSetCache = null; });
  }
  return indicatorSetCache;
}

export const recordVisit = (id: string, visit: NewVisit) =>
  call<HouseholdDetail>('record_visit', { id, visit });
export const proposeHousehold = (proposal: Proposal) =>
  call<{ id: string }>('propose_household', { proposal });

export const syncNow = () => call<SyncStatus>('sync_now');
/** Writes a bundle of unsent work: to `path` (chosen in the save dialog), else to the app's folder. */
export const bundleExport = (path: string | null = null) => call<BundleExported>('bundle_export', { dir: null, path });
/** The system's file dialog (`open` a file to read, `save` where to write), in Downloads;
 *  null when the person cancels. */
export const chooseFile = (mode: 'open' | 'save', extensions: string[], name: string | null = null) =>
  call<string | null>('choose_file', { mode, name, extensions });
export const bundleImport = (path: string) => call<Imported>('bundle_import', { path });
export const syncStatus = () => call<SyncStatus>('sync_status');

/** The round's figures from this device's replica; `period` `2026-11`, `2026-Q4` or null (the current one). */
export const dashboard = (period: string | null) => call<Dashboard>('dashboard', { period });

/** The cases (complaints, referrals) of the user's areas; sends those received offline first. */
export const casesList = () => call<CasesList>('cases_list');
/** Receives a case: sent now, or kept on the phone (`queued`) until the server answers. */
export const caseAdd = (c: CaseInput) => call<CaseAdded>('case_add', { case: c });
export const caseUpdate = (id: string, action: Record<string, string>) => call<Case>('case_update', { id, action });
/** The kelurahan's Muskel sessions (from the server, or as last kept when offline). */
export const muskelSessions = () => call<MuskelSessions>('muskel_sessions');
/** The proposals this device's households stand for, with their status. */
export const proposals = () => call<MuskelProposal[]>('proposals');
export const muskelNew = (session: NewSession) => call<MuskelSession>('muskel_new', { session });
export const muskelDecide = (session: string, household: string, kind: ProposalKind, outcome: Outcome, reason: string) =>
  call<MuskelSession>('muskel_decide', { session, household, kind, outcome, reason });
export const muskelClose = (session: string) => call<MuskelSession>('muskel_close', { session });
/** Writes the minutes (PDF) / the SIKS-NG list (XLSX) of a session to `path`. */
export const muskelMinutes = (session: string, path: string) => call<null>('muskel_minutes', { session, path });
export const muskelSiks = (session: string, path: string) => call<number>('muskel_siks', { session, path });

export const listConflicts = (rw: number | null, kind: ConflictKind | null) =>
  call<ConflictItem[]>('list_conflicts', { rw, kind, lang: lang() });
/** Decide a conflict: exactly one of `pick` (a choice's `n`, from 1) or `value` (a corrected value, kind "field"). */
export const resolveConflict = (id: string, decision: { pick: number } | { value: string }, note: string | null) =>
  call<null>('resolve_conflict', {
    id,
    pick: 'pick' in decision ? decision.pick : null,
    value: 'value' in decision ? decision.value : null,
    note,
  });
/** Each change with a sentence (`text`) and field names (`label`) in the UI's language. */
export const householdHistory = (id: string) => call<HistoryEntry[]>('household_history', { id, lang: lang() });
/** The household as it was at the end of `when` (YYYY-MM-DD). */
export const householdAsOf = (id: string, when: string) => call<HouseholdDetail>('household_as_of', { id, when });

/** What importing the registry file at `path` would do; reads and checks it, writes nothing. */
export const registryPreview = (path: string, partial: boolean) =>
  call<ImportPreview>('registry_preview', { path, partial });
/** Saves the operator's names for columns: [header as in the file, field code or "ignore"]. */
export const registrySaveMapping = (columns: [string, ColumnTarget][]) =>
  call<null>('registry_save_mapping', { columns });
/** Imports the file (long running; progress through `onRegistryProgress`). Rejects with
 *  code `cancelled` after `registryCancel`, the store unchanged. */
/** `confirmMissing`: the number of households the operator confirmed may be marked missing. */
export const registryImport = (path: string, partial: boolean, confirmMissing: number | null = null) =>
  call<ImportReport>('registry_import', { path, partial, confirmMissing });
export const registryCancel = () => call<null>('registry_cancel');
/** Writes the periodic update at `cutoff` (YYYY-MM-DD) to `path` (.xlsx, or .csv plus a summary). */
export const registryExport = (cutoff: string, since: string | null, path: string) =>
  call<ExportDone>('registry_export', { cutoff, since, path });

/** Calls `f` with each `registry-progress` event of a running import; resolves to the unsubscribe. */
export function onRegistryProgress(f: (p: ImportProgress) => void): Promise<UnlistenFn> {
  return listen<ImportProgress>('registry-progress', (e) => f(e.payload));
}
