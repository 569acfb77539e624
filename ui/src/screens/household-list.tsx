// Owns: the household list of the kader's RWs — search, filter chips, rows, and the
// entries to proposing a new household, (fasilitator, operator) to reviewing conflicts and
// (operator, admin) to the registry import/export.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header, useCriteriaCount } from '../components';
import { formatDate, refusalText, t, tDyn } from '../i18n';
import type { CommandError, Filter, HouseholdRow } from '../types';
import { SyncBar } from './sync-bar';

const FILTERS: Filter[] = ['all', 'not_visited', 'poor', 'conflict'];
const SEARCH_DEBOUNCE_MS = 250;
/** Rows asked of the backend at a time. */
export const PAGE_SIZE = 50;
/** Every row has this height (CSS `.rows > li` agrees): the list is positioned, not measured. */
export const ROW_HEIGHT = 112;
/** Rows drawn above and below the screen, so a quick flick does not show blanks. */
const OVERSCAN = 8;

// Kept across mounts so coming back from a household keeps the kader's search, filter
// and place in the list.
let savedSearch = '';
let savedFilter: Filter = 'all';
let savedScroll = 0;
/**
 * The rows last drawn and the search and filter (and user) they answer. Coming back
 * from a household draws them in the first frame, then asks for them again (a visit just
 * saved changes its row's markers): stale while it revalidates, never an empty list.
 */
let shownBefore: { key: string; pages: Map<number, HouseholdRow[]>; total: number } | null = null;
const listKey = (user: string | null, search: string, filter: Filter) => JSON.stringify([user, search.trim(), filter]);

/** Drops what the list keeps between screens (rows with names, the search typed): at
 *  logout, revocation and erase nothing of them may stay in the page. */
export function forgetList() {
  shownBefore = null;
  savedSearch = '';
  savedFilter = 'all';
  savedScroll = 0;
}

/** Which rows are on screen: the window scrolls, the list starts `top` px down the page. */
function visibleRange(top: number, total: number): [number, number] {
  const first = Math.floor(Math.max(0, window.scrollY - top) / ROW_HEIGHT);
  const last = Math.ceil((window.scrollY - top + window.innerHeight) / ROW_HEIGHT);
  return [Math.max(0, first - OVERSCAN), Math.min(total, Math.max(0, last) + OVERSCAN)];
}

export function HouseholdList({ user, open: unlocked = true, onOpen, onPropose, onLogout, onLock, onReview, onRegistry, onDashboard, onMuskel, onComplaints, onRevoked, onOutbox, onInbox }: {
  user: string | null; onOpen: (id: string) => void; onPropose: () => void; onLogout: () => void;
  /** The store is open (not behind the PIN screen): a list asked while locked is asked again. */
  open?: boolean;
  onLock?: () => void;
  /** The server revoked this device: back to the login screen, which says so. */
  onRevoked?: () => void;
  /** Given only to roles that review conflicts. */
  onReview?: () => void;
  /** Given only to roles that import and export the registry. */
  onRegistry?: () => void;
  onDashboard?: () => void;
  onMuskel?: () => void;
  onComplaints?: () => void;
  onOutbox?: () => void;
  onInbox?: () => void;
}) {
  const [search, setSearch] = useState(savedSearch);
  const [filter, setFilter] = useState<Filter>(savedFilter);
  const cached = shownBefore?.key === listKey(user, savedSearch, savedFilter) ? shownBefore : null;
  // Pages of rows by page number, for the current search and filter; the total.
  const [pages, setPages] = useState<Map<number, HouseholdRow[]>>(() => cached?.pages ?? new Map());
  const [total, setTotal] = useState<number | null>(cached?.total ?? null);
  // Pages asked since the last search, filter, sync or mount; the others are redrawn
  // from before and asked again when they come on screen.
  const fresh = useRef(new Set<number>());
  const [range, setRange] = useState<[number, number]>([0, 0]);
  const [err, setErr] = useState<CommandError | null>(null);
  const [reload, setReload] = useState(0);
  const [unread, setUnread] = useState(0);
  const seq = useRef(0);
  const loading = useRef(new Set<number>());
  const lastSearch = useRef(search);
  /** The search and filter last asked of the backend (pages are fetched for it only). */
  const asked = useRef(listKey(user, search, filter));
  const listRef = useRef<HTMLUListElement>(null);
  const restored = useRef(false);
  const criteria = useCriteriaCount();

  const fetchPage = (n: number, mySeq: number) => {
    const key = listKey(user, search, filter);
    // A search still in its typing wait is not asked for yet, not even by a scroll.
    if (key !== asked.current || loading.current.has(n)) return;
    loading.current.add(n);
    api.listHouseholds({ search: search.trim() || undefined, filter, offset: n * PAGE_SIZE, limit: PAGE_SIZE })
      .then((p) => {
        if (mySeq !== seq.current) return;
        fresh.current.add(n);
        // The first page draws at once (the rows a screen holds from where it stands);
        // the scroll handler refines the range after.
        setRange((r) => (r[1] > 0 ? r : visibleRange(listRef.current
          ? listRef.current.getBoundingClientRect().top + window.scrollY : 0, p.total)));
        setTotal(p.total);
        setPages((old) => {
          const next = new Map(old).set(n, p.rows);
          shownBefore = { key, pages: next, total: p.total };
          return next;
        });
        setErr(null);
      })
      .catch((e) => { if (mySeq === seq.current) setErr(api.toCommandError(e)); })
      .finally(() => loading.current.delete(n));
  };

  // A new search, filter or sync starts over from the first page.
  useEffect(() => {
    savedSearch = search;
    savedFilter = filter;
    // Behind the PIN screen the store answers nothing: what is shown stays.
    if (!unlocked) return;
    const mySeq = ++seq.current;
    loading.current.clear();
    fresh.current.clear();
    // Rows drawn for this very search and filter (back from a household, a sync) stay
    // while the pages on screen are asked again; anything else starts from nothing.
    const same = shownBefore?.key === listKey(user, search, filter);
    const run = () => {
      lastSearch.current = search;
      asked.current = listKey(user, search, filter);
      // The first page carries the total; its arrival asks again for the others on screen.
      if (same) return fetchPage(0, mySeq);
      shownBefore = null;
      setPages(new Map());
      fetchPage(0, mySeq);
    };
    // Typing is debounced (until the search asked for is the one typed, so a sync that
    // ends mid-typing does not cut the wait short); filter changes and reloads apply at once.
    const typed = search !== lastSearch.current;
    if (typed) savedScroll = 0;
    const timer = setTimeout(run, typed ? SEARCH_DEBOUNCE_MS : 0);
    return () => clearTimeout(timer);
  }, [search, filter, reload, unlocked]);

  useEffect(() => {
    if (!unlocked) return;
    api.inbox().then((items) => setUnread(items.filter((i) => i.unread).length)).catch(() => undefined);
  }, [reload, unlocked]);

  // The rows on screen follow the scroll; the pages they need are fetched. A layout
  // effect, so rows kept from before are placed (and the kader's place restored) before
  // the first frame is drawn.
  useLayoutEffect(() => {
    if (total == null) return;
    if (!restored.current) {
      // Back from a household: the list opens where the kader left it.
      restored.current = true;
      if (savedScroll > 0) window.scrollTo(0, savedScroll);
    }
    const onScroll = () => {
      if (!listRef.current) return;
      const top = listRef.current.getBoundingClientRect().top + window.scrollY;
      setRange(visibleRange(top, total));
      if (restored.current) savedScroll = window.scrollY;
    };
    onScroll();
    window.addEventListener('scroll', onScroll, { passive: true });
    window.addEventListener('resize', onScroll);
    return () => { window.removeEventListener('scroll', onScroll); window.removeEventListener('resize', onScroll); };
  }, [total]);
  useEffect(() => {
    const [from, to] = range;
    for (let n = Math.floor(from / PAGE_SIZE); n * PAGE_SIZE < to; n++) {
      if (!pages.has(n) || !fresh.current.has(n)) fetchPage(n, seq.current);
    }
  }, [range, pages]);

  const open = (id: string) => {
    savedScroll = window.scrollY;
    onOpen(id);
  };

  const shown: { i: number; row: HouseholdRow | null }[] = [];
  for (let i = range[0]; i < range[1]; i++) {
    const page = pages.get(Math.floor(i / PAGE_SIZE));
    shown.push({ i, row: page?.[i % PAGE_SIZE] ?? null });
  }

  return (
    <div class="screen">
      <Header title={user ? `${t('app_name')} · ${user}` : t('app_name')} onLogout={onLogout} onLock={onLock} />
      <main>
        <SyncBar onSynced={() => setReload((n) => n + 1)} onRevoked={onRevoked} onOutbox={onOutbox}
          inbox={onInbox && (
            <button id="open-inbox" class="small secondary" onClick={onInbox} aria-label={t('open_inbox')}>
              ✉{unread > 0 && <span class="count-badge" id="inbox-unread"> {unread}</span>}
            </button>
          )} />
        <div class="list-tools">
          {(onReview || onRegistry || onDashboard || onMuskel) && <div class="office-actions">
            {onMuskel && (
              <button id="open-muskel" class="secondary wide" onClick={onMuskel}>⚑ {t('open_muskel')}</button>
            )}
            {onDashboard && (
              <button id="open-dashboard" class="secondary wide" onClick={onDashboard}>▦ {t('open_dashboard')}</button>
            )}
            {onReview && (
              <button id="open-review" class="secondary wide" onClick={onReview}>⚖ {t('open_review')}</button>
            )}
            {onRegistry && (
              <button id="open-registry" data-testid="nav-registry" class="secondary wide" onClick={onRegistry}>
                ▤ {t('open_registry')}
              </button>
            )}
          </div>}
          <input id="search" type="search" placeholder={t('search_placeholder')} value={search}
            onInput={(e) => setSearch(e.currentTarget.value)} aria-label={t('search_placeholder')} />
          <div class="chips" role="group" aria-label={t('filter_label')}>
            {FILTERS.map((f) => (
              <button key={f} id={`filter-${f}`} class={`chip ${filter === f ? 'active' : ''}`}
                aria-pressed={filter === f} onClick={() => { savedScroll = 0; setFilter(f); }}>
                {t(`filter_${f}`)}
              </button>
            ))}
          </div>
        </div>
        <ErrorBox err={err} id="list-error" />
        {total === null && !err && <p class="muted center">{t('loading')}</p>}
        {total !== null && (
          <>
            <p class="muted count" id="list-count" data-total={total}>{t('list_count', { n: total })}</p>
            {total === 0 && <p class="muted center">{t('list_empty')}</p>}
          </>
        )}
        <ul class="rows" ref={listRef} style={{ height: `${(total ?? 0) * ROW_HEIGHT}px` }}>
          {total !== null && shown.map(({ i, row }) => (
            <li key={row?.id ?? `i${i}`} style={{ top: `${i * ROW_HEIGHT}px` }}
              aria-setsize={total} aria-posinset={i + 1} data-index={i}>
              {row ? <Row row={row} total={criteria} onOpen={open} /> : <div class="row-placeholder" aria-hidden="true" />}
            </li>
          ))}
        </ul>
      </main>
      <div class="bottom-actions">
        <button id="propose-new" class="secondary wide" onClick={onPropose}>{t('propose_new')}</button>
        {onComplaints && (
          <button id="open-complaints" class="secondary" onClick={onComplaints}>{t('open_complaints')}</button>
        )}
      </div>
    </div>
  );
}

function Row({ row, total, onOpen }: { row: HouseholdRow; total: number; onOpen: (id: string) => void }) {
  const unsent = row.pending && row.rejected == null;
  return (
    <>
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
          {row.last_visit && <span class="last-visit" title={t('last_visit')}>{formatDate(row.last_visit)}</span>}
        </div>
        {row.address && <div class="row-addr muted">{row.address}</div>}
        <div class="markers">
          {row.draft && <span class="marker draft">✎ {t('marker_draft')}</span>}
          {unsent && <span class="marker unsent">↑ {t('marker_unsent')}</span>}
          {row.unread && <span class="marker unread">✉ {t('marker_unread')}</span>}
          {row.incomplete && <span class="marker incomplete">{t('marker_incomplete')}</span>}
          {row.has_conflict && <span class="marker conflict">⚠ {t('marker_conflict')}</span>}
          {row.proposal && <span class="marker proposal">{t('marker_proposal')}</span>}
          {row.rejected != null && <span class="marker rejected">{t('marker_rejected')}: {refusalText(row.rejected).text}</span>}
        </div>
      </button>
    </>
  );
}

export function fmt2(n: number | null | undefined): string {
  return n == null ? '—' : String(n).padStart(3, '0');
}
