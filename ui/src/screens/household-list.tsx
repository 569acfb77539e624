// Owns: the household list of the kader's RWs — search, filter chips, rows, and the
// entries to proposing a new household, (fasilitator, operator) to reviewing conflicts and
// (operator, admin) to the registry import/export.
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header, useCriteriaCount } from '../components';
import { t, tDyn } from '../i18n';
import type { CommandError, Filter, HouseholdRow } from '../types';
import { SyncBar } from './sync-bar';

const FILTERS: Filter[] = ['all', 'not_visited', 'poor', 'conflict'];
const SEARCH_DEBOUNCE_MS = 250;

// Kept across mounts so coming back from a household keeps the kader's search and filter.
let savedSearch = '';
let savedFilter: Filter = 'all';

export function HouseholdList({ user, onOpen, onPropose, onLogout, onLock, onReview, onRegistry, onRevoked }: {
  user: string | null; onOpen: (id: string) => void; onPropose: () => void; onLogout: () => void;
  onLock?: () => void;
  /** The server revoked this device: back to the login screen, which says so. */
  onRevoked?: () => void;
  /** Given only to roles that review conflicts. */
  onReview?: () => void;
  /** Given only to roles that import and export the registry. */
  onRegistry?: () => void;
}) {
  const [search, setSearch] = useState(savedSearch);
  const [filter, setFilter] = useState<Filter>(savedFilter);
  const [rows, setRows] = useState<HouseholdRow[] | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  const [reload, setReload] = useState(0);
  const seq = useRef(0);
  const lastSearch = useRef(search);
  const total = useCriteriaCount();

  useEffect(() => {
    savedSearch = search;
    savedFilter = filter;
    const mySeq = ++seq.current;
    const run = () => {
      api.listHouseholds(search.trim() || null, filter)
        .then((r) => { if (mySeq === seq.current) { setRows(r); setErr(null); } })
        .catch((e) => { if (mySeq === seq.current) setErr(api.toCommandError(e)); });
    };
    // Typing is debounced; filter changes and reloads apply at once.
    const typed = search !== lastSearch.current;
    lastSearch.current = search;
    const timer = setTimeout(run, typed ? SEARCH_DEBOUNCE_MS : 0);
    return () => clearTimeout(timer);
  }, [search, filter, reload]);

  return (
    <div class="screen">
      <Header title={user ? `${t('app_name')} · ${user}` : t('app_name')} onLogout={onLogout} onLock={onLock} />
      <SyncBar onSynced={() => setReload((n) => n + 1)} onRevoked={onRevoked} />
      <div class="list-tools">
        {(onReview || onRegistry) && (
          <div class="office-actions">
            {onReview && (
              <button id="open-review" class="secondary wide" onClick={onReview}>⚖ {t('open_review')}</button>
            )}
            {onRegistry && (
              <button id="open-registry" data-testid="nav-registry" class="secondary wide" onClick={onRegistry}>
                ▤ {t('open_registry')}
              </button>
            )}
          </div>
        )}
        <input id="search" type="search" placeholder={t('search_placeholder')} value={search}
          onInput={(e) => setSearch(e.currentTarget.value)} aria-label={t('search_placeholder')} />
        <div class="chips" role="group">
          {FILTERS.map((f) => (
            <button key={f} id={`filter-${f}`} class={`chip ${filter === f ? 'active' : ''}`}
              aria-pressed={filter === f} onClick={() => setFilter(f)}>
              {t(`filter_${f}`)}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox err={err} id="list-error" />
      {rows === null && !err && <p class="muted center">{t('loading')}</p>}
      {rows && (
        <>
          <p class="muted count" id="list-count">{t('list_count', { n: rows.length })}</p>
          {rows.length === 0 && <p class="muted center">{t('list_empty')}</p>}
          <ul class="rows">
            {rows.map((r) => <Row key={r.id} row={r} total={total} onOpen={onOpen} />)}
          </ul>
        </>
      )}
      <div class="bottom-actions">
        <button id="propose-new" class="secondary wide" onClick={onPropose}>{t('propose_new')}</button>
      </div>
    </div>
  );
}

function Row({ row, total, onOpen }: { row: HouseholdRow; total: number; onOpen: (id: string) => void }) {
  return (
    <li>
      <button class="household-row" data-id={row.id} onClick={() => onOpen(row.id)}>
        <div class="row-main">
          <span class="row-name">{row.head_name || t('no_name')}</span>
          {row.score != null && (
            <span class={`score ${row.poor ? 'poor' : ''}`} title={row.poor ? t('poor_by_score') : t('score')}>
              {row.score}/{total}
            </span>
          )}
        </div>
        <div class="row-sub">
          <span class="rwrt">RW {fmt2(row.rw)}/RT {fmt2(row.rt)}</span>
          <span class={`badge status-${row.status ?? 'none'}`}>
            {row.status ? tDyn('result_', row.status) : t('status_none')}
          </span>
          {row.last_visit && <span class="last-visit" title={t('last_visit')}>{row.last_visit}</span>}
        </div>
        {row.address && <div class="row-addr muted">{row.address}</div>}
        {(row.has_conflict || row.proposal || row.rejected != null) && (
          <div class="markers">
            {row.has_conflict && <span class="marker conflict">⚠ {t('marker_conflict')}</span>}
            {row.proposal && <span class="marker proposal">{t('marker_proposal')}</span>}
            {row.rejected != null && (
              <span class="marker rejected">{t('marker_rejected')}: {row.rejected}</span>
            )}
          </div>
        )}
      </button>
    </li>
  );
}

export function fmt2(n: number | null | undefined): string {
  return n == null ? '—' : String(n).padStart(3, '0');
}
