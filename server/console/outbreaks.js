// Ổ dịch: the outbreaks the district opened from stations' reports, each one's
// timeline (detection → updates → the district's instructions → declared end)
// with its cases by day, opening one, and declaring its end.
//
// Counts only (GET /api/epidemic/outbreaks/{id}): never a patient's name.

import { state, can } from './state.js';
import { t, label, h, s, replace, fmtDate, fmtDateTime, fmtNum, parseDate, todayText, qs, toast, errorBox, table, card, pageHeader, hashParams, confirmDialog, urgencyBadge } from './ui.js';
import { api } from './api.js';
import './i18n-epidemic.js';

const diseaseOf = (o) => (state.lang === 'en' ? o.disease_en : o.disease_vi) || o.disease_vi || o.fields?.disease || o.disease;

// code -> the commune's name, from the directory (never the code when it is known)
export function placeNames(stations) {
  const m = new Map();
  for (const x of stations) m.set(x.code, x.directory?.commune || x.commune || x.code);
  return m;
}

// A station's neighbouring communes in the directory: either side naming the
// other is enough (as the cluster rule reads them).
export function neighboursOf(code, stations) {
  const out = new Set();
  for (const x of stations) {
    const nb = x.directory?.neighbours || [];
    if (x.code === code) nb.forEach((c) => out.add(c));
    else if (nb.includes(code)) out.add(x.code);
  }
  out.delete(code);
  return [...out].filter((c) => stations.some((x) => x.code === c));
}

export const outbreakStatus = (st) => (['detected', 'ongoing', 'ended'].includes(st) ? t(`ob_status_${st}`) : t('ob_status_unknown'));
const communesText = (codes, places) => (codes || []).map((c) => places.get(c) || c).join(', ');

// The outbreak list (the Dịch bệnh page): disease, communes, status, started, cases, deaths.
export function outbreakTable(list, places) {
  return table([t('ep_disease'), t('ob_communes'), t('ob_status'), t('ob_started'), { text: t('ep_cases'), attrs: { class: 'num' } }, { text: t('ob_deaths'), attrs: { class: 'num' } }, t('details')],
    list.map((o) => {
      const f = o.fields;
      return h('tr', { class: f.status === 'ended' ? null : 'row-warn', dataset: { id: o.id, status: f.status || '' } },
        h('td', {}, h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(o.id)}`, class: 'ob-link' }, diseaseOf(o))),
        h('td', { class: 'ob-communes' }, communesText(f.stations, places)),
        h('td', {}, h('span', { class: ['tag', f.status === 'ended' ? 'tag-good' : 'tag-bad'] }, outbreakStatus(f.status))),
        h('td', { class: 'nowrap' }, f.started_on ? fmtDate(f.started_on) : t('none')),
        h('td', { class: 'num' }, fmtNum(f.cases_total || 0)),
        h('td', { class: 'num' }, fmtNum(f.deaths || 0)),
        h('td', {}, h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(o.id)}` }, t('ob_timeline'))));
    }), { class: 'ob-list', empty: t('ob_none') });
}

// The daemon's refusals, said in the console's language with a local date.
export function outbreakError(e) {
  if (e.code === 'TOO_EARLY') {
    const day = /(\d{4}-\d{2}-\d{2})/.exec(e.message || '');
    return t('ob_too_early', day ? fmtDate(day[1]) : t('none'));
  }
  if (e.code === 'ALREADY_ENDED') return t('ob_already_ended');
  if (e.status === 422 && /reason/.test(e.message || '')) return t('ob_need_reason');
  return e.message;
}

// cases by day from the start to the end (or today): a small bar chart and the same in a table
function casesByDay(o) {
  const counts = new Map((o.cases_by_day || []).map((d) => [d.day, d.cases]));
  const days = [...counts.keys()].sort();
  if (!days.length) return h('p', { class: 'muted' }, t('ob_no_cases'));
  const first = o.fields.started_on && o.fields.started_on < days[0] ? o.fields.started_on : days[0];
  const today = parseDate(todayText());
  const lastWanted = o.fields.ended_on || (today && today > days[days.length - 1] ? today : days[days.length - 1]);
  const all = [];
  for (let d = new Date(`${first}T00:00:00Z`); all.length < 120; d = new Date(d.getTime() + 86400000)) {
    const iso = d.toISOString().slice(0, 10);
    all.push(iso);
    if (iso >= lastWanted) break;
  }
  const max = Math.max(1, ...all.map((d) => counts.get(d) || 0));
  const W = 24, H = 90, top = 14, bottom = 18;
  const chart = s('svg', { class: 'chart ob-chart', viewBox: `0 0 ${all.length * W + 8} ${H + top + bottom}`, role: 'img', 'aria-label': t('ob_by_day') },
    all.map((d, i) => {
      const n = counts.get(d) || 0;
      const bh = Math.round((n / max) * H);
      return s('g', {},
        s('rect', { class: n ? 'ob-bar' : 'ob-bar-zero', x: i * W + 6, y: top + H - bh, width: W - 6, height: Math.max(bh, 1) }, s('title', {}, `${fmtDate(d)}: ${fmtNum(n)}`)),
        n ? s('text', { class: 'axis-label', x: i * W + 6 + (W - 6) / 2, y: top + H - bh - 3, 'text-anchor': 'middle' }, fmtNum(n)) : null,
        i % 7 === 0 || i === all.length - 1 ? s('text', { class: 'axis-label', x: i * W + 6, y: top + H + 13 }, fmtDate(d).slice(0, 5)) : null);
    }));
  const rows = days.map((d) => h('tr', { dataset: { day: d } }, h('td', { class: 'nowrap' }, fmtDate(d)), h('td', { class: 'num' }, fmtNum(counts.get(d)))));
  return [h('div', { class: 'chart-wrap' }, chart),
    table([t('ob_day'), { text: t('ep_cases'), attrs: { class: 'num' } }], rows, { class: 'ob-days' })];
}

function timelineItem(e, places) {
  const when = h('time', { class: 'ob-when nowrap' }, fmtDateTime(e.at));
  const facts = (list) => h('ul', { class: 'ob-facts' }, list.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => h('li', {}, `${k}: `, h('strong', {}, v))));
  if (e.kind === 'notice') {
    return h('li', { class: 'ob-entry ob-notice', dataset: { kind: 'notice', notice: e.notice } }, when,
      h('div', {}, h('strong', { class: 'ob-what' }, t('ob_notice')), ' ', urgencyBadge(e.urgency), ' ',
        h('a', { href: `#/notices/${encodeURIComponent(e.notice)}` }, e.subject || t('none')),
        h('div', { class: 'ob-acks' }, t('ob_acks', fmtNum(e.acknowledged || 0), fmtNum(e.recipients || 0)))));
  }
  if (e.kind === 'declared_end') {
    return h('li', { class: 'ob-entry ob-end', dataset: { kind: 'declared_end' } }, h('time', { class: 'ob-when nowrap' }, fmtDate(e.at)),
      h('div', {}, h('strong', { class: 'ob-what' }, t('ob_declared_end')), e.by ? ` — ${e.by}` : null,
        e.reason ? h('div', { class: 'muted' }, `${t('ob_end_reason')}: ${e.reason}`) : null));
  }
  return h('li', { class: 'ob-entry ob-report', dataset: { kind: e.kind, report: e.report || '' } }, when,
    h('div', {}, h('strong', { class: 'ob-what' }, label('report_kinds', e.kind)), ' — ', places.get(e.station) || e.commune || e.station_name || e.station,
      h('div', {}, e.report ? h('a', { href: `#/reports${qs({ kind: e.kind, open: e.report })}` }, e.subject || e.report) : e.subject),
      facts([[t('ep_cases'), e.cases !== undefined ? fmtNum(e.cases) : null], [t('ob_deaths'), e.deaths !== undefined ? fmtNum(e.deaths) : null],
        [t('ob_onset'), e.onset_date ? fmtDate(e.onset_date) : null], [t('rp_location'), e.location], [t('rp_reported_by'), e.reported_by]])));
}

// #/epidemic/outbreaks/{id}: one outbreak and what happened
export async function viewOutbreak(root, id) {
  const msg = h('div', { class: 'alert alert-error', id: 'ob-msg', role: 'alert', hidden: true });
  let stations = null;
  async function load() {
    let o;
    try {
      [o, stations] = await Promise.all([api('GET', `/api/epidemic/outbreaks/${encodeURIComponent(id)}`),
        stations || api('GET', '/api/stations').then((r) => r.stations)]);
    } catch (e) {
      replace(root, pageHeader(t('ob_title')), errorBox(e));
      return;
    }
    const places = placeNames(stations);
    const f = o.fields;
    // the declared end (a day, no time) last: the notice it sent comes with it
    const timeline = [...o.timeline.filter((e) => e.kind !== 'declared_end'), ...o.timeline.filter((e) => e.kind === 'declared_end')];
    const ended = f.status === 'ended';
    const canEnd = o.can_end_from && !ended ? h('p', { class: 'ob-can-end', id: 'ob-can-end' }, t('ob_can_end_from', fmtDate(o.can_end_from))) : null;
    const actions = [];
    if (can('operator')) {
      actions.push(h('a', { class: 'button', id: 'ob-instruct', href: `#/notices/new${qs({ outbreak: o.id })}` }, t('ob_send_instructions')));
      if (!ended) actions.push(h('button', { type: 'button', class: 'button danger', id: 'ob-end', onclick: () => declareEnd(o) }, t('ob_end')));
    }
    actions.push(h('a', { class: 'button', href: '#/epidemic' }, t('back')));
    const dl = h('dl', { class: 'facts facts-wide ob-facts-main' }, [
      [t('ep_disease'), diseaseOf(o)], [t('ob_communes'), communesText(f.stations, places)],
      [t('ob_status'), h('span', { class: ['tag', ended ? 'tag-good' : 'tag-bad'], id: 'ob-status' }, outbreakStatus(f.status))],
      [t('ob_started'), f.started_on ? fmtDate(f.started_on) : null], [t('ob_last_case'), o.last_case_on ? fmtDate(o.last_case_on) : null],
      [t('ep_cases'), fmtNum(f.cases_total || 0)], [t('ob_deaths'), fmtNum(f.deaths || 0)],
      [t('ob_end_after'), o.end_after_days ? t('ob_days_n', fmtNum(o.end_after_days)) : null],
      [t('ob_ended_on'), f.ended_on ? fmtDate(f.ended_on) : null], [t('ob_ended_by'), f.ended_by], [t('ob_end_reason'), f.end_reason],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    replace(root, pageHeader(`${t('ob_title')}: ${diseaseOf(o)} — ${communesText(f.stations, places)}`, actions), msg,
      card(null, dl, canEnd, h('p', { class: 'muted' }, t('ep_aggregates'))),
      card(t('ob_by_day'), casesByDay(o)),
      card(t('ob_timeline'), o.timeline.length ? h('ol', { class: 'ob-timeline' }, timeline.map((e) => timelineItem(e, places))) : h('p', { class: 'muted' }, t('no_rows'))));
  }

  async function declareEnd(o) {
    msg.hidden = true;
    const today = parseDate(todayText());
    const early = o.can_end_from && today && today < o.can_end_from;
    const send = async (body) => {
      try {
        const res = await api('POST', `/api/epidemic/outbreaks/${encodeURIComponent(o.id)}/end`, body);
        toast(t('ob_ended_done', fmtNum(res.recipients.length)));
        return true;
      } catch (e) {
        msg.textContent = outbreakError(e);
        msg.hidden = false;
        return e.code === 'TOO_EARLY' ? 'early' : false;
      }
    };
    let done;
    if (early) {
      const ans = await confirmDialog({ title: t('ob_end_title'), message: t('ob_end_early', fmtDate(o.can_end_from)), ok: t('ob_end_ok'), reason: t('ob_end_reason'), danger: true });
      if (!ans) return;
      done = await send({ force: true, reason: ans.reason });
    } else {
      const yes = await confirmDialog({ title: t('ob_end_title'), message: t('ob_end_message', diseaseOf(o)), ok: t('ob_end_ok'), danger: true });
      if (!yes) return;
      done = await send({});
      if (done === 'early') {
        const ans = await confirmDialog({ title: t('ob_end_title'), message: msg.textContent, ok: t('ob_end_ok'), reason: t('ob_end_reason'), danger: true });
        if (!ans) return;
        done = await send({ force: true, reason: ans.reason });
      }
    }
    if (done === true) await load();
  }

  await load();
  return { refresh: () => (document.querySelector('#confirm-dialog') ? null : load()), events: ['epidemic', 'notice', 'record'], poll: 30000 };
}

// #/epidemic/open?report=ID: open an outbreak from a station's outbreak
// report, choosing the neighbouring communes it concerns too (the reporting
// station's neighbours in the directory, chosen already).
export async function viewOpenOutbreak(root) {
  const reportId = hashParams().get('report') || '';
  if (!can('operator')) {
    replace(root, pageHeader(t('ob_open_title')), h('p', { class: 'alert' }, t('nt_no_rights')));
    return null;
  }
  const [rep, stations, existing] = await Promise.all([
    api('GET', `/api/records/reports/${encodeURIComponent(reportId)}`),
    api('GET', '/api/stations').then((r) => r.stations),
    api('GET', '/api/epidemic/outbreaks').then((r) => r.outbreaks),
  ]);
  const places = placeNames(stations);
  const f = rep.fields;
  const already = existing.find((o) => o.fields.source_report === reportId);
  const neighbours = new Set(neighboursOf(rep.owner, stations));
  const boxes = stations.filter((x) => x.code !== rep.owner).sort((a, b) => (places.get(a.code) || '').localeCompare(places.get(b.code) || '', 'vi')).map((x) =>
    h('label', { class: 'check ob-station', dataset: { station: x.code } },
      h('input', { type: 'checkbox', value: x.code, checked: neighbours.has(x.code) }),
      places.get(x.code), neighbours.has(x.code) ? h('small', { class: 'muted' }, ` (${t('ob_neighbour')})`) : null));
  const msg = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button primary', id: 'ob-open-submit' }, t('ob_open'));
  const form = h('form', {
    class: 'form', id: 'ob-open-form', onsubmit: async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      submit.disabled = true;
      const chosen = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      try {
        const o = await api('POST', '/api/epidemic/outbreaks', { report: reportId, stations: chosen });
        toast(t('ob_opened', diseaseOf(o)));
        location.hash = `#/epidemic/outbreaks/${encodeURIComponent(o.id)}`;
      } catch (e) {
        msg.textContent = outbreakError(e);
        msg.hidden = false;
      } finally {
        submit.disabled = false;
      }
    },
  }, msg,
  h('dl', { class: 'facts' }, [
    [t('ob_reported_by_station'), places.get(rep.owner) || rep.owner], [t('rp_subject'), f.subject], [t('ep_disease'), f.disease],
    [t('ep_cases'), f.cases !== undefined ? fmtNum(f.cases) : null], [t('ob_deaths'), f.deaths !== undefined ? fmtNum(f.deaths) : null],
    [t('ob_onset'), f.onset_date ? fmtDate(f.onset_date) : null], [t('rp_location'), f.location],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  h('fieldset', {}, h('legend', {}, t('ob_also_communes')), h('p', { class: 'muted' }, t('ob_also_hint', places.get(rep.owner) || rep.owner)),
    h('div', { class: 'ob-stations' }, boxes)),
  h('div', { class: 'form-actions' }, submit, h('a', { class: 'button', href: '#/epidemic' }, t('cancel'))));
  replace(root, pageHeader(t('ob_open_title')),
    already ? h('p', { class: 'alert alert-warn', id: 'ob-already' }, t('ob_already_open'), ' ', h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(already.id)}` }, t('ob_timeline'))) : null,
    form);
  return null;
}

// the outbreak opened from a report, if any (for the links that open one)
export const outbreakFromReport = (list, reportId) => list.find((o) => o.fields.source_report === reportId);
