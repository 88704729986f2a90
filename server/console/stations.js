// The stations and how their sync goes, to find the silent or troubled ones.

import { t, tableLabel, h, replace, fmtDate, fmtDateTime, fmtTimeDay, fmtAgo, fmtNum, qs, errorBox, statusBadge, pager, table, card, debounce, pageHeader, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';

export async function viewStations(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', filter: p.get('filter') || 'all', sort: p.get('sort') || 'status', offset: Number(p.get('offset')) || 0, limit: 50 };
  const search = h('input', { type: 'search', class: 'input search', id: 'station-search', placeholder: t('search_stations'), value: st.q, 'aria-label': t('search') });
  const filters = h('div', { class: 'filters', role: 'group' });
  const sort = h('select', { class: 'input', 'aria-label': t('sort_by') },
    ['status', 'code', 'last_sync', 'cert'].map((k) => h('option', { value: k, selected: st.sort === k }, t(`sort_${k}`))));
  const results = h('div', { class: 'results' }, h('p', { class: 'muted' }, t('loading')));
  replace(root, pageHeader(t('nav_stations')), h('div', { class: 'toolbar' }, search, sort), filters, results);

  const keys = ['all', 'attention', 'silent', 'offline', 'online', 'cert', 'clock'];
  async function load() {
    setHashParams({ q: st.q, filter: st.filter !== 'all' && st.filter, sort: st.sort !== 'status' && st.sort, offset: st.offset || '' });
    let res;
    try {
      res = await api('GET', `/api/stations${qs({ q: st.q, filter: st.filter, sort: st.sort, offset: st.offset, limit: st.limit })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    const c = res.counts;
    const count = { all: c.total, attention: c.silent + c.offline, silent: c.silent, offline: c.offline, online: c.online, cert: c.cert_expiring, clock: c.clock_problem };
    replace(filters, keys.map((k) => h('button', {
      type: 'button', class: ['filter', st.filter === k && 'active', (k === 'silent' && c.silent) || (k === 'cert' && c.cert_expiring) ? 'filter-bad' : null],
      'aria-pressed': st.filter === k ? 'true' : 'false',
      onclick: () => { st.filter = k; st.offset = 0; load(); },
    }, `${t(`f_${k}`)} (${fmtNum(count[k])})`)));
    const rows = res.stations.map((x) => {
      const d = x.directory || {};
      const certCls = x.cert_days_left === undefined ? null : x.cert_days_left < 0 ? 'bad' : x.cert_days_left < res.cert_warn_days ? 'warn' : null;
      const skew = x.clock_skew_ms;
      return h('tr', { class: `row-${x.status}`, dataset: { code: x.code } },
        h('td', {}, statusBadge(x.status, x.live),
          !x.connected && x.last_seen_ms ? h('small', { class: 'muted offline-since' }, h('br'), t('st_since', fmtDateTime(x.last_seen_ms))) : null),
        h('td', {}, h('a', { href: `#/stations/${encodeURIComponent(x.code)}` }, x.code)),
        h('td', {}, d.name || t('none'), h('br'), h('small', { class: 'muted' }, d.commune || x.commune || '')),
        h('td', { class: x.status === 'silent' ? 'bad' : null }, fmtDateTime(x.last_sync_ms), h('br'), h('small', { class: 'muted' }, fmtAgo(x.last_sync_ms))),
        h('td', { class: 'num' }, x.sending ? t('st_sending') : x.pending_changes === undefined ? t('none') : fmtNum(x.pending_changes),
          x.agent_report ? h('small', { class: 'muted pending-at' }, h('br'), t('st_pending_at_line', fmtNum(x.agent_report.pending_changes), fmtTimeDay(x.agent_report.reported_at_ms))) : null),
        h('td', {}, x.agent || t('none')),
        h('td', { class: ['num', x.clock_problem && 'bad'] }, skew === undefined ? t('none') : t('skew_ms', fmtNum(Math.round(skew / 100) / 10 || 0, 1))),
        h('td', { class: certCls }, x.cert_not_after ? fmtDate(x.cert_not_after * 1000) : t('none'),
          x.cert_days_left !== undefined ? h('small', { class: 'muted' }, h('br'), x.cert_days_left < 0 ? t('cert_expired') : t('cert_days', fmtNum(x.cert_days_left))) : null));
    });
    replace(results,
      table([t('st_status'), t('st_code'), t('st_name'), t('st_last_sync'), { text: t('st_pending'), attrs: { class: 'num' } }, t('st_agent'), { text: t('st_skew'), attrs: { class: 'num' } }, t('st_cert')], rows, { class: 'stations' }),
      pager(res, (off) => { st.offset = off; load(); }));
  }
  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  sort.addEventListener('change', () => { st.sort = sort.value; st.offset = 0; load(); });
  await load();
  return { refresh: load, poll: 15000 };
}

export async function viewStation(root, code) {
  async function draw() {
    const x = await api('GET', `/api/stations/${encodeURIComponent(code)}`);
    const d = x.directory || {};
    const dl = (pairs) => h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? t('none'))]));
    const recs = Object.entries(x.records || {}).sort(([a], [b]) => a.localeCompare(b));
    replace(root,
      pageHeader(`${d.name || x.code}`, h('a', { class: 'button', href: '#/stations' }, t('back'))),
      h('p', {}, statusBadge(x.status, x.live), ' ', h('span', { class: 'muted' }, `${x.code} · ${d.commune || x.commune || ''}`)),
      x.clock_problem ? h('div', { class: 'alert alert-warn' }, t('st_clock_problem')) : null,
      h('div', { class: 'columns' },
        card(t('st_detail_connection'), dl([
          !x.connected ? [t('st_offline_since'), x.last_seen_ms ? h('span', { id: 'st-offline-since' }, `${fmtDateTime(x.last_seen_ms)} (${fmtAgo(x.last_seen_ms)})`) : t('never')] : null,
          [t('st_last_sync'), `${fmtDateTime(x.last_sync_ms)} (${fmtAgo(x.last_sync_ms)})`],
          x.connected ? [t('st_connected_since'), fmtDateTime(x.connected_since_ms)] : null,
          [t('st_pending'), h('span', { id: 'st-pending-for' }, x.sending ? t('st_sending') : x.pending_changes === undefined ? t('none') : t('changes_n', fmtNum(x.pending_changes)))],
          // what waits at the station, as its agent last reported it (its
          // station_agent_status record); without a report, said unknown
          [t('st_pending_at_station'), x.agent_report
            ? h('span', { id: 'st-pending-at' }, t('st_pending_at_report', fmtNum(x.agent_report.pending_changes), fmtTimeDay(x.agent_report.reported_at_ms)))
            : h('span', { id: 'st-pending-at', class: 'muted' }, x.connected ? t('st_pending_at_station_live') : t('st_pending_at_station_unknown'))],
          x.agent_report?.storage_problem ? [t('st_storage_problem'), h('span', { class: 'bad', id: 'st-storage-problem' }, x.agent_report.storage_problem)] : null,
          x.agent_report?.last_error ? [t('st_last_error'), h('span', { id: 'st-last-error' }, x.agent_report.last_error)] : null,
          [t('st_skew'), x.clock_skew_ms === undefined ? t('none') : t('skew_ms', fmtNum(Math.round(x.clock_skew_ms / 100) / 10 || 0, 1))],
          [t('st_cert'), x.cert_not_after ? `${fmtDate(x.cert_not_after * 1000)} (${x.cert_days_left < 0 ? t('cert_expired') : t('cert_days', fmtNum(x.cert_days_left))})` : t('none')],
          [t('st_conflicts_open'), fmtNum(x.conflicts_open || 0)],
        ]), h('details', { class: 'tech' }, h('summary', {}, t('tech_details')), dl([
          [t('st_peer'), x.peer || x.last_peer],
          [t('st_cursor'), x.cursor === undefined ? t('none') : fmtNum(x.cursor)],
          [t('st_agent'), x.agent],
          [t('st_replica'), x.replica],
          [t('st_cert_serial'), x.cert_serial],
        ]))),
        card(t('st_directory'), dl([
          [t('st_name'), d.name], [t('st_province'), d.province], [t('st_population'), d.population !== undefined ? fmtNum(d.population) : null],
          [t('st_villages'), d.villages !== undefined ? fmtNum(d.villages) : null], [t('st_head'), d.head], [t('st_phone'), d.phone],
          [t('st_address'), d.address], [t('st_facility'), d.facility_code],
        ]))),
      card(t('st_detail_records'), table([t('au_table'), { text: t('hl_records'), attrs: { class: 'num' } }],
        recs.map(([tb, n]) => h('tr', {}, h('td', {}, tableLabel(tb)), h('td', { class: 'num' }, fmtNum(n)))))));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), poll: 15000 };
}
