// Owns: the round's dashboard (operator, fasilitator, admin) — the figures per RW, RT,
// kader and week from the device's own replica (`dashboard`, so it works offline),
// progress per RW as bars and visits per week as a line (Chart.js), each chart backed
// by a table of the same figures, and the period to show.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement,
  PointElement, Tooltip,
} from 'chart.js';
import * as api from '../api';
import { ErrorBox, Header } from '../components';
import { formatDate, lang, t, type Key } from '../i18n';
import type { CommandError, Dashboard, Figures } from '../types';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement,
  Tooltip, Legend);

const GREEN = '#0b6e4f';
const GREEN_LIGHT = '#cfe6dc';
const BLUE = '#1f4e99';

/** The figures of a line in the tables' order, with their labels. */
const COLUMNS: { key: keyof Figures; label: Key }[] = [
  { key: 'households', label: 'dashboard_households' },
  { key: 'visited', label: 'dashboard_visited' },
  { key: 'found', label: 'dashboard_found' },
  { key: 'not_found', label: 'dashboard_not_found' },
  { key: 'moved', label: 'dashboard_moved' },
  { key: 'died', label: 'dashboard_died' },
  { key: 'refused', label: 'dashboard_refused' },
  { key: 'poor', label: 'dashboard_poor' },
  { key: 'incomplete', label: 'dashboard_incomplete' },
  { key: 'open_conflicts', label: 'dashboard_conflicts' },
  { key: 'pending_proposals', label: 'dashboard_proposals' },
];

const pad = (n: number) => String(n).padStart(2, '0');
const rwLabel = (rw: number | undefined) => `RW ${String(rw ?? 0).padStart(3, '0')}`;
const percent = (f: Figures) => (f.households > 0 ? Math.floor((f.visited * 100) / f.households) : 0);
const day = formatDate;

/** The periods offered: this one, the 12 months before and the 4 quarters before. */
function periodChoices(): { value: string; label: string }[] {
  const now = new Date();
  const out = [{ value: '', label: t('dashboard_current') }];
  const locale = lang() === 'id' ? 'id-ID' : 'en-GB';
  for (let i = 0; i < 12; i++) {
    const d = new Date(now.getFullYear(), now.getMonth() - i, 1);
    out.push({
      value: `${d.getFullYear()}-${pad(d.getMonth() + 1)}`,
      label: d.toLocaleDateString(locale, { month: 'long', year: 'numeric' }),
    });
  }
  for (let i = 0; i < 4; i++) {
    const q0 = Math.floor(now.getMonth() / 3) - i;
    const year = now.getFullYear() + Math.floor(q0 / 4);
    const q = ((q0 % 4) + 4) % 4 + 1;
    out.push({ value: `${year}-Q${q}`, label: t('dashboard_quarter', { q, year }) });
  }
  return out;
}

// The period chosen stays when the screen is left and opened again.
let savedPeriod = '';

export function DashboardScreen({ onBack }: { onBack: () => void }) {
  const [period, setPeriod] = useState(savedPeriod);
  const [data, setData] = useState<Dashboard | null>(null);
  const [err, setErr] = useState<CommandError | null>(null);
  const [loading, setLoading] = useState(true);
  const [lastSync, setLastSync] = useState<string | null>(null);

  useEffect(() => {
    savedPeriod = period;
    let alive = true;
    setLoading(true);
    setErr(null);
    api.dashboard(period || null)
      .then((d) => { if (alive) setData(d); })
      .catch((e) => { if (alive) { setErr(api.toCommandError(e)); setData(null); } })
      .finally(() => { if (alive) setLoading(false); });
    return () => { alive = false; };
  }, [period]);
  useEffect(() => { api.syncStatus().then((s) => setLastSync(s.last_sync)).catch(() => undefined); }, []);

  return (
    <div class="screen wide" id="dashboard">
      <Header title={t('dashboard_title')} onBack={onBack} />
      <main>
        <div class="card">
          <label for="dashboard-period">{t('dashboard_period')}</label>
          <select id="dashboard-period" value={period} onChange={(e) => setPeriod(e.currentTarget.value)}>
            {periodChoices().map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
          </select>
          {data && (
            <p class="muted small-text" id="dashboard-range">
              {t('dashboard_range', { start: day(data.period.start), end: day(data.period.end), zone: data.period.zone })}
              {' · '}{t('dashboard_from_device')}
              {lastSync && ` ${t('dashboard_last_sync', { when: new Date(lastSync).toLocaleString(lang() === 'id' ? 'id-ID' : 'en-GB') })}`}
            </p>
          )}
        </div>
        <ErrorBox err={err} id="dashboard-error" />
        {loading && !data && <p class="center muted">{t('loading')}</p>}
        {data && data.total.households === 0 && <p class="center muted" id="dashboard-empty">{t('dashboard_empty')}</p>}
        {data && data.total.households > 0 && <Figures data={data} />}
      </main>
    </div>
  );
}

function Figures({ data }: { data: Dashboard }) {
  const total = data.total;
  const tiles: { id: string; label: Key; value: string; tone?: string }[] = [
    { id: 'households', label: 'dashboard_households', value: String(total.households) },
    { id: 'visited', label: 'dashboard_visited', value: `${total.visited} (${percent(total)}%)`, tone: 'good' },
    { id: 'poor', label: 'dashboard_poor', value: String(total.poor) },
    { id: 'incomplete', label: 'dashboard_incomplete', value: String(total.incomplete), tone: total.incomplete ? 'warn' : undefined },
    { id: 'conflicts', label: 'dashboard_conflicts', value: String(total.open_conflicts), tone: total.open_conflicts ? 'warn' : undefined },
    { id: 'proposals', label: 'dashboard_proposals', value: String(total.pending_proposals) },
  ];
  return (
    <>
      <div class="tiles" id="dashboard-tiles">
        {tiles.map((x) => (
          <div key={x.id} class={`tile ${x.tone ?? ''}`} id={`tile-${x.id}`}>
            <div class="tile-value">{x.value}</div>
            <div class="tile-label">{t(x.label)}</div>
          </div>
        ))}
      </div>
      <div class="charts">
        <section class="card" aria-labelledby="progress-title">
          <h2 id="progress-title">{t('dashboard_progress')}</h2>
          <RwBars rws={data.rws} />
          {/* On a desktop the table takes the page's width below both charts. */}
          <div class="narrow-only">
            <FiguresTable id="table-rw" label={t('dashboard_progress')} lines={data.rws} total={total} name={(f) => rwLabel(f.rw)} />
          </div>
        </section>
        <section class="card" aria-labelledby="weeks-title">
          <h2 id="weeks-title">{t('dashboard_weeks')}</h2>
          <WeekLine data={data} />
          <Scroll label={t('dashboard_weeks')}>
            <table id="table-weeks">
              <thead><tr><th scope="col">{t('dashboard_week')}</th><th scope="col">{t('dashboard_visits')}</th></tr></thead>
              <tbody>
                {data.weeks.map((w) => <tr key={w.week}><th scope="row">{day(w.week)}</th><td>{w.visits}</td></tr>)}
              </tbody>
            </table>
          </Scroll>
        </section>
      </div>
      <section class="card wide-only" aria-labelledby="rw-table-title">
        <h2 id="rw-table-title">{t('dashboard_progress')}</h2>
        <FiguresTable id="table-rw-wide" label={t('dashboard_progress')} lines={data.rws} total={total} name={(f) => rwLabel(f.rw)} />
      </section>
      <section class="card" aria-labelledby="kaders-title">
        <h2 id="kaders-title">{t('dashboard_kaders')}</h2>
        {data.kaders.length === 0
          ? <p class="muted" id="kaders-none">{t('dashboard_no_visits')}</p>
          : (
            <Scroll label={t('dashboard_kaders')}>
              <table id="table-kaders">
                <thead><tr>
                  <th scope="col">{t('dashboard_kader')}</th><th scope="col">{t('dashboard_visits')}</th>
                  <th scope="col">{t('dashboard_households')}</th><th scope="col">{t('dashboard_last_visit')}</th>
                </tr></thead>
                <tbody>
                  {data.kaders.map((k) => (
                    <tr key={k.user} data-user={k.user}>
                      <th scope="row">{k.user}</th><td>{k.visits}</td><td>{k.households}</td>
                      <td>{k.last_visit ? day(k.last_visit) : t('none')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
          )}
      </section>
      <details class="card" id="per-rt">
        <summary><h2 class="inline">{t('dashboard_per_rt')}</h2></summary>
        <FiguresTable id="table-rt" label={t('dashboard_per_rt')} lines={data.rts} name={(f) => `${rwLabel(f.rw)} / RT ${String(f.rt ?? 0).padStart(3, '0')}`} />
      </details>
    </>
  );
}

/** One line per RW (or RT), then the total; every figure the dashboard has. */
function FiguresTable({ id, label, lines, total, name }: {
  id: string; label: string; lines: Figures[]; total?: Figures; name: (f: Figures) => string;
}) {
  const row = (f: Figures, label: string, key: string, cls?: string) => (
    <tr key={key} class={cls} data-rw={f.rw} data-rt={f.rt}>
      <th scope="row">{label}</th>
      {COLUMNS.map((c) => <td key={c.key}>{f[c.key] as number}</td>)}
    </tr>
  );
  return (
    <Scroll label={label}>
      <table id={id} class="figures">
        <thead>
          <tr><th scope="col">{t('dashboard_area')}</th>{COLUMNS.map((c) => <th key={c.key} scope="col">{t(c.label)}</th>)}</tr>
        </thead>
        <tbody>
          {lines.map((f) => row(f, name(f), `${f.rw}-${f.rt ?? ''}`))}
          {total && row(total, t('dashboard_total'), 'total', 'total')}
        </tbody>
      </table>
    </Scroll>
  );
}

/** A table too wide for a phone scrolls inside this region, which the keyboard can
 *  reach and a screen reader names. */
function Scroll({ label, children }: { label: string; children: ComponentChildren }) {
  return <div class="table-scroll" role="region" aria-label={label} tabIndex={0}>{children}</div>;
}

/** Keeps one Chart.js chart on a canvas, rebuilt when `config` changes. */
function useChart(config: () => ConstructorParameters<typeof Chart>[1], deps: unknown[]) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, config());
    return () => chart.destroy();
  }, deps);
  return canvas;
}

/** Progress per RW: visited and not yet visited, stacked, one bar per RW. */
function RwBars({ rws }: { rws: Figures[] }) {
  const canvas = useChart(() => ({
    type: 'bar',
    data: {
      labels: rws.map((f) => rwLabel(f.rw)),
      datasets: [
        { label: t('dashboard_visited'), data: rws.map((f) => f.visited), backgroundColor: GREEN },
        { label: t('dashboard_not_visited'), data: rws.map((f) => f.households - f.visited), backgroundColor: GREEN_LIGHT },
      ],
    },
    options: {
      indexAxis: 'y', responsive: true, maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } },
      plugins: { legend: { position: 'bottom' } },
    },
  }), [rws, lang()]);
  // Bars stay readable whatever the number of RWs: the chart grows with them.
  return (
    <div class="chart" style={{ height: `${Math.max(160, 28 * rws.length + 60)}px` }}>
      <canvas ref={canvas} id="chart-rw" role="img" aria-label={t('dashboard_chart_rw')} />
    </div>
  );
}

/** Visits per week of the period, as a line. */
function WeekLine({ data }: { data: Dashboard }) {
  const canvas = useChart(() => ({
    type: 'line',
    data: {
      labels: data.weeks.map((w) => day(w.week)),
      datasets: [{ label: t('dashboard_visits'), data: data.weeks.map((w) => w.visits), borderColor: BLUE,
        backgroundColor: BLUE, tension: 0.2 }],
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { display: false } },
    },
  }), [data, lang()]);
  return (
    <div class="chart" style={{ height: '220px' }}>
      <canvas ref={canvas} id="chart-weeks" role="img" aria-label={t('dashboard_chart_weeks')} />
    </div>
  );
}
