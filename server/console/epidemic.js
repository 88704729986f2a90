// Dịch bệnh: the epidemic alerts to acknowledge, cases by commune, disease and week, and each station's reporting clock.
//
// Only aggregates (GET /api/epidemic, GET /api/epidemic/alerts): the cases
// themselves are personal records, behind the audited record API.

import { state, can } from './state.js';
import { t, h, replace, fmtDate, fmtDateTime, fmtNum, parseDate, qs, toast, errorBox, table, card, pageHeader, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';
import { setBadges } from './shell.js';
import { outbreakTable, outbreakFromReport, placeNames } from './outbreaks.js';

const pad2 = (n) => String(n).padStart(2, '0');
const DAY_MS = 86400000;

// a disease by its name in the language shown (never its code, unless the
// station wrote a disease the catalogue does not know)
export const diseaseName = (o) => (state.lang === 'en' ? o.disease_en : o.disease_vi) || o.disease_vi || o.disease;

const dayNumber = (day) => {
  const [y, m, d] = day.split('-').map(Number);
  return Date.UTC(y, m - 1, d) / DAY_MS;
};
const dayText = (n) => {
  const dt = new Date(n * DAY_MS);
  return `${dt.getUTCFullYear()}-${pad2(dt.getUTCMonth() + 1)}-${pad2(dt.getUTCDate())}`;
};

// An alert's kind in words: a case of a disease reported case by case, an
// outbreak the station reported, or N cases within D days nobody declared.
export function alertKind(a) {
  if (a.kind === 'case') return t('ep_kind_case');
  if (a.kind === 'outbreak') return t('ep_kind_outbreak');
  if (a.kind === 'cluster') {
    const days = a.first_day && a.last_day ? dayNumber(a.last_day) - dayNumber(a.first_day) + 1 : 0;
    return t('ep_kind_cluster', fmtNum(a.cases), fmtNum(days));
  }
  return t('ep_kind_other');
}

export const alertDays = (a) => (!a.first_day || a.first_day === a.last_day ? fmtDate(a.first_day) : `${fmtDate(a.first_day)} – ${fmtDate(a.last_day)}`);

export const alertPlace = (a) => a.commune || a.station_name || a.station;

// ISO 8601 weeks: the Monday of a day's week, and its "2026-W49"
function weekOf(day) {
  const n = dayNumber(day);
  const monday = n - ((new Date(n * DAY_MS).getUTCDay() + 6) % 7);
  const thursday = new Date((monday + 3) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((monday + 3 - Date.UTC(year, 0, 1) / DAY_MS) / 7) + 1;
  return { key: `${year}-W${pad2(week)}`, week, monday };
}

// every week of the period, in order
function weeksBetween(from, to) {
  const out = [];
  const end = dayNumber(to);
  for (let m = weekOf(from).monday; m <= end; m += 7) {
    const w = weekOf(dayText(m));
    out.push({ ...w, monday: fmtDate(dayText(m)), range: `${fmtDate(dayText(m))} – ${fmtDate(dayText(m + 6))}` });
  }
  return out;
}

export async function viewEpidemic(root) {
  const p = hashParams();
  const st = { from: p.get('from') || '', to: p.get('to') || '', disease: p.get('disease') || '', station: p.get('station') || '' };
  const fromIn = h('input', { class: 'input date', id: 'ep-from', placeholder: t('date_hint'), 'aria-label': t('ep_from'), value: st.from ? fmtDate(st.from) : '' });
  const toIn = h('input', { class: 'input date', id: 'ep-to', placeholder: t('date_hint'), 'aria-label': t('ep_to'), value: st.to ? fmtDate(st.to) : '' });
  const diseaseSel = h('select', { class: 'input', id: 'ep-disease', 'aria-label': t('ep_disease') });
  const stationSel = h('select', { class: 'input', id: 'ep-station', 'aria-label': t('ep_commune') });
  const csv = h('a', { class: 'button', id: 'ep-csv', download: '' }, t('ep_csv'));
  const form = h('form', {
    class: 'toolbar', onsubmit: (ev) => {
      ev.preventDefault();
      for (const [input, key] of [[fromIn, 'from'], [toIn, 'to']]) {
        const text = input.value.trim();
        const d = text ? parseDate(text) : '';
        if (d === null) { toast(t('bad_date', text), 'error'); input.focus(); return; }
        st[key] = d;
      }
      load();
    },
  },
  h('label', { class: 'field inline' }, h('span', { class: 'label' }, t('ep_from')), fromIn),
  h('label', { class: 'field inline' }, h('span', { class: 'label' }, t('ep_to')), toIn),
  h('button', { type: 'submit', class: 'button' }, t('ep_apply')),
  diseaseSel, stationSel);
  const results = h('div', { class: 'results' }, h('p', { class: 'muted' }, t('loading')));
  replace(root, pageHeader(t('nav_epidemic'), h('a', { class: 'button', id: 'ep-diseases', href: '#/epidemic/diseases' }, t('dz_link')), csv), form, results);
  for (const sel of [diseaseSel, stationSel]) {
    sel.addEventListener('change', () => { st.disease = diseaseSel.value; st.station = stationSel.value; draw(); });
  }

  let data = null; // {sum, alerts, stations, outbreaks}
  async function load() {
    try {
      const [sum, alerts, stations, outbreaks] = await Promise.all([
        api('GET', `/api/epidemic${qs({ from: st.from, to: st.to })}`),
        api('GET', '/api/epidemic/alerts?show=all&limit=500'),
        data?.stations || api('GET', '/api/stations').then((r) => r.stations),
        api('GET', '/api/epidemic/outbreaks').then((r) => r.outbreaks),
      ]);
      data = { sum, alerts, stations, outbreaks };
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    setBadges({ epidemic: data.alerts.open });
    // the period the daemon answered for (its default: the last 8 weeks)
    if (!st.from) fromIn.value = fmtDate(data.sum.from);
    if (!st.to) toIn.value = fmtDate(data.sum.to);
    csv.href = `/api/epidemic${qs({ from: data.sum.from, to: data.sum.to, format: 'csv' })}`;
    draw();
  }

  function draw() {
    if (!data) return;
    setHashParams({ from: st.from, to: st.to, disease: st.disease, station: st.station });
    const { sum, alerts, stations } = data;
    // the choices: every disease seen in the period or in an alert, every station
    const diseases = new Map();
    for (const o of [...sum.rows, ...alerts.alerts]) if (!diseases.has(o.disease)) diseases.set(o.disease, diseaseName(o));
    replace(diseaseSel, h('option', { value: '' }, t('ep_all_diseases')),
      [...diseases].sort((a, b) => a[1].localeCompare(b[1], 'vi')).map(([code, name]) => h('option', { value: code, selected: code === st.disease }, name)));
    const places = new Map();
    for (const x of stations) places.set(x.code, x.directory?.commune || x.commune || x.code);
    for (const o of [...sum.rows, ...sum.reporting, ...alerts.alerts]) if (!places.has(o.station)) places.set(o.station, alertPlace(o));
    replace(stationSel, h('option', { value: '' }, t('ep_all_communes')),
      [...places].sort((a, b) => a[1].localeCompare(b[1], 'vi')).map(([code, name]) => h('option', { value: code, selected: code === st.station }, name)));
    const keep = (o) => (!st.disease || o.disease === st.disease) && (!st.station || o.station === st.station);
    const open = alerts.alerts.filter((a) => !a.acknowledged_at_ms && keep(a));
    const past = alerts.alerts.filter((a) => a.acknowledged_at_ms && keep(a));

    replace(results,
      card(`${t('ep_alerts_open')} (${fmtNum(open.length)})`,
        open.length ? alertTable(open, 'epi-alerts-open') : h('p', { class: 'good-text' }, t('ep_no_alerts_open'))),
      card(`${t('ob_list')} (${fmtNum(data.outbreaks.length)})`, outbreakTable(data.outbreaks.filter((o) => (!st.disease || o.disease === st.disease) && (!st.station || (o.fields.stations || []).includes(st.station))), placeNames(stations))),
      card(t('ep_weekly'), h('p', { class: 'muted' }, t('ep_period', fmtDate(sum.from), fmtDate(sum.to)), ' · ', t('ep_aggregates')),
        casesTable(sum, keep, places)),
      card(t('ep_clock'), h('p', { class: 'muted' }, t('ep_clock_hint')), clockTable(sum, stations, places)),
      card(`${t('ep_alerts_past')} (${fmtNum(past.length)})`,
        past.length ? alertTable(past, 'epi-alerts-past') : h('p', { class: 'muted' }, t('ep_no_alerts_past'))));
  }

  function alertTable(list, cls) {
    const places = placeNames(data.stations);
    return table([t('ep_alert'), t('ep_disease'), t('ep_commune'), { text: t('ep_cases'), attrs: { class: 'num' } }, t('ep_days'), t('ep_raised'), t('ep_ack'), t('details')],
      list.map((a) => h('tr', { class: a.acknowledged_at_ms ? null : 'row-alert', dataset: { id: String(a.id), kind: a.kind, station: a.station } },
        h('td', {}, h('strong', { class: 'ep-kind' }, alertKind(a))),
        h('td', {}, diseaseName(a)),
        h('td', {}, h('a', { href: `#/stations/${encodeURIComponent(a.station)}`, class: 'ep-station' }, alertPlace(a)),
          // a cluster over neighbouring communes: the others involved
          (a.stations || []).length > 1 ? h('small', { class: 'ep-area' }, ` + ${a.stations.filter((c) => c !== a.station).map((c) => places.get(c) || c).join(', ')}`) : null),
        h('td', { class: 'num' }, fmtNum(a.cases)),
        h('td', { class: 'nowrap' }, alertDays(a)),
        h('td', { class: 'nowrap' }, fmtDateTime(a.created_at_ms)),
        h('td', { class: 'ep-ack-cell' }, a.acknowledged_at_ms
          ? [a.acknowledged_by_name || a.acknowledged_by, h('br'), h('small', { class: 'muted nowrap' }, fmtDateTime(a.acknowledged_at_ms))]
          : can('operator')
            ? h('button', { type: 'button', class: 'button small primary ep-ack', onclick: (ev) => acknowledge(a, ev.currentTarget) }, t('ep_ack_button'))
            : h('span', { class: 'tag tag-bad' }, t('ep_not_acked'))),
        h('td', {}, a.table === 'reports' && a.record
          ? [h('a', { href: `#/reports${qs({ kind: a.kind === 'outbreak' ? 'outbreak_detection' : 'case_report', open: a.record })}`, class: 'ep-report' }, t('ep_open_report')),
            a.kind === 'outbreak' ? outbreakLink(a.record) : null]
          : t('none')))), { class: `epi-alerts ${cls}` });
  }

  // an outbreak alert: the outbreak opened from its report, or a way to open one
  function outbreakLink(report) {
    const o = outbreakFromReport(data.outbreaks, report);
    if (o) return [h('br'), h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(o.id)}`, class: 'ep-outbreak' }, t('ob_view'))];
    return can('operator') ? [h('br'), h('a', { href: `#/epidemic/open${qs({ report })}`, class: 'ep-open-outbreak' }, t('ob_open'))] : null;
  }

  async function acknowledge(a, button) {
    button.disabled = true;
    try {
      const res = await api('POST', `/api/epidemic/alerts/${a.id}/ack`, {});
      setBadges({ epidemic: res.open });
      toast(t('ep_acked'));
    } catch (e) {
      toast(e.message, 'error');
    }
    await load();
  }

  await load();
  return { refresh: load, events: ['epidemic', 'record'], poll: 60000 };
}

function casesTable(sum, keep, places) {
  const weeks = weeksBetween(sum.from, sum.to);
  const groups = new Map();
  for (const r of sum.rows.filter(keep)) {
    const k = `${r.station}\u0000${r.disease}`;
    if (!groups.has(k)) groups.set(k, { r, weeks: new Map(), total: 0 });
    const g = groups.get(k);
    g.weeks.set(r.week, (g.weeks.get(r.week) || 0) + r.cases);
    g.total += r.cases;
  }
  const list = [...groups.values()].sort((a, b) => (places.get(a.r.station) || '').localeCompare(places.get(b.r.station) || '', 'vi') || diseaseName(a.r).localeCompare(diseaseName(b.r), 'vi'));
  const cell = (n) => h('td', { class: ['num', n ? 'ep-n' : 'muted'] }, n ? fmtNum(n) : '·');
  const rows = list.map((g) => h('tr', { dataset: { station: g.r.station, disease: g.r.disease } },
    h('th', { scope: 'row', class: 'nowrap' }, h('a', { href: `#/stations/${encodeURIComponent(g.r.station)}` }, places.get(g.r.station) || alertPlace(g.r))),
    h('td', { class: 'nowrap' }, diseaseName(g.r)),
    weeks.map((w) => cell(g.weeks.get(w.key) || 0)),
    h('td', { class: 'num ep-total' }, fmtNum(g.total))));
  if (list.length > 1) {
    rows.push(h('tr', { class: 'ep-total-row' }, h('th', { scope: 'row', colspan: 2 }, t('ep_total')),
      weeks.map((w) => cell(list.reduce((s, g) => s + (g.weeks.get(w.key) || 0), 0))),
      h('td', { class: 'num ep-total' }, fmtNum(list.reduce((s, g) => s + g.total, 0)))));
  }
  return table([t('ep_commune'), t('ep_disease'),
    // a week by its number and its Monday; its days in full on hover
    ...weeks.map((w) => ({ text: [t('ep_week', w.week), h('br'), h('small', { class: 'muted nowrap' }, w.monday)], attrs: { class: 'num', title: w.range, dataset: { week: w.key } } })),
    { text: t('ep_total'), attrs: { class: 'num' } }], rows, { class: 'epi-cases', empty: t('ep_no_cases') });
}

function clockTable(sum, stations, places) {
  const byStation = new Map(sum.reporting.map((r) => [r.station, r]));
  // every station, those without a case in the period too
  const codes = [...new Set([...stations.map((x) => x.code), ...byStation.keys()])];
  codes.sort((a, b) => (places.get(a) || a).localeCompare(places.get(b) || b, 'vi'));
  return table([t('ep_commune'), { text: t('ep_cases'), attrs: { class: 'num' } }, { text: t('ep_on_time'), attrs: { class: 'num' } },
    { text: t('ep_late'), attrs: { class: 'num' } }, { text: t('ep_worst_late'), attrs: { class: 'num' } },
    { text: t('ep_missing'), attrs: { class: 'num' } }],
  codes.map((code) => {
    const r = byStation.get(code) || { cases: 0, late: 0, on_time: 0, worst_late_hours: 0, missing: 0 };
    // which disease: declared in the station's reports, fewer filed one by one
    const why = (r.missing_by_disease || []).map((m) => t('ep_missing_of', state.lang === 'en' ? m.disease_en : m.disease_vi, fmtNum(m.declared), fmtNum(m.filed))).join('; ');
    return h('tr', { class: r.late || r.missing ? 'row-warn' : null, dataset: { station: code } },
      h('th', { scope: 'row' }, h('a', { href: `#/stations/${encodeURIComponent(code)}` }, places.get(code) || code)),
      h('td', { class: 'num' }, fmtNum(r.cases)),
      h('td', { class: 'num' }, fmtNum(r.on_time)),
      h('td', { class: ['num', r.late && 'bad'] }, fmtNum(r.late)),
      h('td', { class: 'num' }, r.late ? t('ep_hours', fmtNum(r.worst_late_hours)) : t('none')),
      h('td', { class: ['num', r.missing && 'bad', 'ep-missing'], title: why || null }, fmtNum(r.missing || 0)));
  }), { class: 'epi-clock' });
}
