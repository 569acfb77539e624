// Owns: the household detail screen — the fasilitator's notes, identity, members, imported
// registry data, past visits and conflicts; entries to recording a visit and to the history.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Header, useCriteriaCount } from '../components';
import { formatDate, formatDay, formatMs, lang, t, tDyn } from '../i18n';
import type { CommandError, ConflictValue, Criterion, HouseholdDetail, Programmes } from '../types';
import { fmt2 } from './household-list';

const PROGRAMMES: { key: keyof Programmes; label: string }[] = [
  { key: 'pkh', label: 'PKH' },
  { key: 'bpnt', label: 'BPNT' },
  { key: 'pbi_jk', label: 'PBI-JK' },
  { key: 'kip', label: 'KIP' },
];

export function HouseholdDetailScreen({ id, initial, onBack, onRecordVisit, onOpenHistory, onComplaint }: {
  id: string; initial?: HouseholdDetail; onBack: () => void; onRecordVisit: (h: HouseholdDetail) => void;
  onOpenHistory: (h: HouseholdDetail) => void;
  onComplaint?: (about: { household: string; rw: number; name: string | null }) => void;
}) {
  const [h, setH] = useState<HouseholdDetail | null>(initial ?? null);
  const [err, setErr] = useState<CommandError | null>(null);
  const [criteria, setCriteria] = useState<Criterion[]>([]);
  const total = useCriteriaCount();

  useEffect(() => {
    if (!initial) api.getHousehold(id).then(setH).catch((e) => setErr(api.toCommandError(e)));
    api.indicatorSet().then((s) => setCriteria(s.criteria)).catch(() => undefined);
  }, [id]);

  const head = h ? headName(h) : null;
  return (
    <div class="screen" id="household-detail">
      <Header title={head ?? t('loading')} onBack={onBack} />
      <main>
      <ErrorBox err={err} id="detail-error" />
      {h && (
        <>
          <div class="markers pad">
            <span class={`badge status-${h.status ?? 'none'}`}>{h.status ? tDyn('result_', h.status) : t('status_none')}</span>
            {h.proposal && <span class="marker proposal">{t('marker_proposal')}</span>}
            {h.conflicts.length > 0 && <span class="marker conflict">⚠ {t('marker_conflict')}</span>}
            <button id="open-history" class="small push-right" onClick={() => onOpenHistory(h)}>
              {t('open_history')}
            </button>
          </div>

          {h.notes && Object.keys(h.notes).length > 0 && (
            <section class="card notes-card" id="notes">
              <h2>{t('notes_title')}</h2>
              <ul class="note-list">
                {Object.entries(h.notes)
                  .sort(([, a], [, b]) => b.at - a.at)
                  .map(([nid, n]) => (
                    <li key={nid} class="note-item" data-id={nid}>
                      <div class="note-text">{n.text}</div>
                      <div class="muted small-text">{n.by} · {formatMs(n.at)}</div>
                    </li>
                  ))}
              </ul>
            </section>
          )}

          {h.conflicts.length > 0 && (
            <section class="card conflicts" id="conflicts">
              <h2>{t('detail_conflicts')}</h2>
              {h.conflicts.map((c) => (
                <div class="conflict" key={c.path}>
                  <div class="conflict-path"><code>{c.path}</code></div>
                  <div class="muted">{t('conflict_values')}:</div>
                  <ul>
                    {c.values.map((v, i) => <li key={i}>{conflictValue(c.path, v)}</li>)}
                  </ul>
                </div>
              ))}
            </section>
          )}

          <section class="card">
            <h2>{t('detail_identity')}</h2>
            <dl class="kv">
              <Kv k={t('address')} v={h.identity.address} />
              <Kv k={t('rw_rt')} v={`${fmt2(h.identity.rw)}/${fmt2(h.identity.rt)}`} />
              <Kv k={t('kk')} v={h.identity.kk} mono />
              <Kv k={t('id_dtks')} v={h.identity.id_dtks} mono />
              <Kv k={t('idbdt')} v={h.identity.idbdt} mono />
              <Kv k={t('kelurahan')} v={h.identity.kelurahan} mono />
              <Kv k={t('kelurahan_bps')} v={h.identity.kelurahan_bps} mono />
            </dl>
          </section>

          <section class="card">
            <h2>{t('detail_members')}</h2>
            {Object.keys(h.members).length === 0 && <p class="muted">{t('detail_no_members')}</p>}
            <ul class="members">
              {membersInOrder(h.members).map(([mid, m]) => (
                <li key={mid} class="member">
                  <div><strong>{m.name || t('no_name')}</strong> · {tDyn('relation_', m.relation)}</div>
                  <div class="muted small-text">
                    {m.sex ? t(m.sex === 'L' ? 'sex_L' : 'sex_P') : ''}
                    {m.birth_date ? ` · ${t('born')} ${m.birth_date}` : ''}
                    {m.nik ? <> · <span class="mono number-id">{m.nik}</span></> : ''}
                  </div>
                  {m.presence && <span class={`badge presence-${m.presence}`}>{tDyn('presence_', m.presence)}</span>}
                  {m.warnings && m.warnings.length > 0 && (
                    <div class="member-warning small-text" title={m.warnings.join('; ')}>⚠ {t('nik_mismatch')}</div>
                  )}
                </li>
              ))}
            </ul>
          </section>

          <section class="card">
            <h2>{t('detail_registry')}</h2>
            <dl class="kv">
              <Kv k={t('desil')} v={h.registry.desil == null ? undefined : String(h.registry.desil)}
                note={h.registry.imported ? t('desil_note_dated', { date: formatDay(h.registry.imported) }) : t('desil_note')} />
            </dl>
            <div class="muted small-text">{t('programmes')}</div>
            <div class="markers">
              {PROGRAMMES.map((p) => {
                const on = h.registry.programmes?.[p.key] === true;
                return <span key={p.key} class={`prog ${on ? 'on' : 'off'}`}>{on ? '✓' : '✗'} {p.label}</span>;
              })}
            </div>
          </section>

          <section class="card" id="visits">
            <h2>{t('detail_visits')}</h2>
            {Object.keys(h.visits).length === 0 && <p class="muted">{t('detail_no_visits')}</p>}
            <ul class="visits">
              {Object.entries(h.visits)
                .sort(([, a], [, b]) => b.date.localeCompare(a.date))
                .map(([vid, v]) => (
                  <li key={vid} class="visit" data-id={vid}>
                    <div class="visit-head">
                      <span class="visit-date">{formatDate(v.date)}</span>
                      <span class={`badge status-${v.result}`}>{tDyn('result_', v.result)}</span>
                      {v.score != null && (
                        <span class={`score ${v.poor ? 'poor' : ''}`}>{v.score}/{total}</span>
                      )}
                      {v.incomplete && (
                        <span class="marker incomplete" title={t('visit_unknown_count', { n: v.unknown?.length ?? 0 })}>
                          {t('marker_incomplete')}
                        </span>
                      )}
                    </div>
                    <div class="muted small-text">{t('visit_by')} {v.kader}</div>
                    {v.met.length > 0 && (
                      <details>
                        <summary>{t('criteria_met')} ({v.met.length})</summary>
                        <ul class="met">
                          {v.met.map((cid) => <li key={cid}>{criterionLabel(criteria, cid)}</li>)}
                        </ul>
                      </details>
                    )}
                    {v.documents && (
                      <div class="small-text">
                        {t('doc_kk')}: {v.documents.kk ? t('yes') : t('no')} · {t('doc_ktp')}: {v.documents.ktp ? t('yes') : t('no')}
                      </div>
                    )}
                    {v.notes && <div class="notes">{v.notes}</div>}
                  </li>
                ))}
            </ul>
          </section>

          <div class="bottom-actions sticky">
            <button id="record-visit" class="primary wide" onClick={() => onRecordVisit(h)}>{t('record_visit')}</button>
            {onComplaint && (
              <button id="household-complaint" class="secondary" type="button"
                onClick={() => onComplaint({ household: id, rw: h.identity.rw ?? 0,
                  name: Object.values(h.members).find((m) => m.relation === 'head')?.name ?? null })}>
                {t('cases_for_household')}
              </button>
            )}
          </div>
        </>
      )}
      </main>
    </div>
  );
}

function Kv({ k, v, mono, note }: { k: string; v?: string | null; mono?: boolean; note?: string }) {
  return (
    <>
      <dt>{k}</dt>
      <dd class={mono ? 'mono number-id' : ''}>{v || t('none')}{note && <span class="muted small-text"> ({note})</span>}</dd>
    </>
  );
}

export function headName(h: HouseholdDetail): string {
  const members = Object.values(h.members);
  const head = members.find((m) => m.relation === 'head' || /kepala/i.test(m.relation ?? '')) ?? members[0];
  return head?.name || h.identity.address || t('no_name');
}

function criterionLabel(criteria: Criterion[], id: string): string {
  const c = criteria.find((x) => x.id === id);
  if (!c) return id;
  return `${c.n}. ${lang() === 'id' ? c.label_id : c.label_en}`;
}

/** A concurrent value with who wrote it and when: the fasilitator decides by these. */
function conflictValue(path: string, c: ConflictValue): string {
  const v = c.value;
  const shown = typeof v === 'string'
    ? (path === 'status' || path.endsWith('.result') ? tDyn('result_', v) : v)
    : JSON.stringify(v);
  const when = c.at > 0 ? new Date(c.at).toLocaleString(lang() === 'id' ? 'id-ID' : 'en-GB') : '';
  return [shown, c.by ?? '', when].filter((x) => x !== '').join(' — ');
}

/** The family as a KK lists it: the head first, then spouse, children, parents, others;
 *  within each, the order the members were recorded in. */
function membersInOrder<M extends { relation?: string | null }>(members: Record<string, M>): [string, M][] {
  const rank = (r: string | null | undefined) => {
    const i = ['head', 'spouse', 'child', 'parent'].indexOf(r ?? '');
    return i === -1 ? 4 : i;
  };
  return Object.entries(members).sort(([, a], [, b]) => rank(a.relation) - rank(b.relation));
}
