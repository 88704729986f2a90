// Lịch công tác (issue 18): reports due and meetings, the completeness grid of
// periodic reports (station × period) with "remind the late stations", and the
// recurring duties with their editor (a report's form field by field).

import { can, state } from './state.js';
import { t, h, replace, fmtDate, fmtDateTime, toast, table, card, pageHeader, valueLabel, fieldLabel, confirmDialog, errorBox } from './ui.js';
import { api } from './api.js';
import './i18n-calendar.js';

const STATUSES = ['on_time', 'late', 'missing', 'pending', 'invalid', 'not_owed'];
const TYPES = ['int', 'real', 'text', 'date', 'bool'];

const kindLabel = (k) => valueLabel('duties', 'kind', k);
const recLabel = (r) => valueLabel('duties', 'recurrence', r);
// a period key in words: 2026-11, 2026-Q4, 2026-H2, 2026, 2026-W50, or a day
function periodLabel(key) {
  let m;
  if ((m = /^(\d{4})-(\d{2})$/.exec(key))) return t('cal_p_month', Number(m[2]), m[1]);
  // quarters as the administration writes them: Quý IV/2026
  if ((m = /^(\d{4})-Q(\d)$/.exec(key))) return t('cal_p_quarter', state.lang === 'en' ? m[2] : ['I', 'II', 'III', 'IV'][Number(m[2]) - 1], m[1]);
  if ((m = /^(\d{4})-H(\d)$/.exec(key))) return t(m[2] === '1' ? 'cal_p_h1' : 'cal_p_h2', m[1]);
  if ((m = /^(\d{4})-W(\d{2})$/.exec(key))) return t('cal_p_week', Number(m[2]), m[1]);
  if (/^\d{4}$/.test(key)) return t('cal_p_year', key);
  return fmtDate(key);
}

const labelOf = (o) => (state.lang === 'en' ? o.label_en : o.label_vi) || o.field || o.name;

function statusTag(status) {
  const bad = status === 'missing' || status === 'invalid';
  return h('span', { class: ['tag', 'cal-st', `cal-st-${status}`, bad ? 'tag-bad' : null] }, t(`cal_st_${STATUSES.includes(status) ? status : 'pending'}`));
}

function upcoming(occs) {
  const rows = occs.map((o) => {
    const report = o.kind === 'periodic_report';
    const owed = report ? (o.expected || 0) - (o.received || 0) : 0;
    return h('tr', { class: report && o.due_passed && owed > 0 ? 'row-alert' : null, dataset: { id: o.id } },
      h('td', {}, report ? t('cal_due', fmtDate(o.due_date)) : fmtDateTime(o.meeting_at)),
      h('td', {}, h('strong', {}, o.title), h('br'), h('small', { class: 'muted' }, kindLabel(o.kind))),
      h('td', {}, periodLabel(o.period)),
      h('td', {}, report ? null : [o.place || '', o.participants ? h('br') : null, o.participants ? h('small', { class: 'muted' }, o.participants) : null,
        o.responsible_person_label ? [h('br'), h('small', { class: 'cal-chair' }, t('cal_chair', o.responsible_person_label))] : null]),
      h('td', { class: 'cal-progress' }, report ? [t('cal_received', o.received || 0, o.expected || 0),
        o.due_passed && owed > 0 ? h('span', { class: 'tag tag-bad' }, t('cal_missing_n', owed)) : null] : null));
  });
  return card(t('cal_upcoming'), table([t('cal_when'), t('cal_what'), t('cal_period'), t('cal_where'), t('cal_progress')], rows, { class: 'cal-upcoming', empty: t('cal_none') }));
}

// a report's problems in the form's words (never a value), as the station reads them
function problemList(problems) {
  return (problems || []).length ? h('ul', { class: 'cal-problems' }, problems.map((p) => h('li', {}, `${labelOf(p)}: ${t(`cal_pb_${p.problem}`)}`))) : null;
}

// what the district's grade told the station, and when (docs/ADMIN-API.md,
// the grid's "graded"); the cell's status above it is the truth now
function gradeNote(g) {
  if (!g) return h('div', { class: 'cal-graded cal-graded-none muted' }, h('small', {}, t('cal_gr_none')));
  const word = t(`cal_st_${STATUSES.includes(g.grade) ? g.grade : 'pending'}`);
  const state = ['current', 'resubmitted', 'outdated'].includes(g.state) ? g.state : 'outdated';
  return h('div', { class: ['cal-graded', `cal-graded-${state}`], dataset: { state } },
    h('small', { class: state === 'current' ? 'muted' : null }, t(`cal_gr_${state}`, word, fmtDateTime(g.graded_at))),
    state === 'current' ? null : problemList(g.problems));
}

function grid(d, reload) {
  const head = [t('cal_station'), ...d.periods.map((p) => ({
    attrs: { scope: 'col', dataset: { occurrence: p.occurrence } },
    text: [periodLabel(p.period), h('br'), h('small', { class: 'muted' }, t('cal_due', fmtDate(p.due_date)))],
  }))];
  const rows = d.rows.map((r) => h('tr', { dataset: { station: r.station } },
    h('th', { scope: 'row' }, r.name || r.station, r.commune && r.commune !== r.name ? [h('br'), h('small', { class: 'muted' }, r.commune)] : null),
    r.cells.map((c) => h('td', { class: 'cal-cell', dataset: { status: c.status, occurrence: c.occurrence } }, statusTag(c.status),
      c.submitted_at ? h('small', { class: 'muted' }, ` ${fmtDateTime(c.submitted_at)}`) : null,
      problemList(c.problems),
      c.submitted_at ? gradeNote(c.graded) : null))));
  const foot = h('tr', { class: 'cal-rates' }, h('th', { scope: 'row' }, ''),
    d.periods.map((p) => h('td', {},
      h('small', {}, !p.expected ? t('cal_rate_none') : p.due_passed ? t('cal_rate', p.reporting_rate, p.timeliness) : t('cal_rate_not_due', p.received, p.expected)),
      p.reminded_late_at ? [h('br'), h('small', { class: 'muted' }, t('cal_reminded_at', fmtDateTime(p.reminded_late_at)))] : null,
      can('operator') && p.due_passed && (p.missing + p.invalid) > 0 ? [h('br'), h('button', {
        type: 'button', class: 'button small cal-remind', dataset: { occurrence: p.occurrence }, onclick: async () => {
          if (!await confirmDialog({ title: t('cal_remind'), message: t('cal_remind_q', d.title, periodLabel(p.period)), ok: t('cal_remind') })) return;
          try {
            const res = await api('POST', `/api/calendar/occurrences/${encodeURIComponent(p.occurrence)}/remind`, {});
            toast(t('cal_reminded', res.stations.length));
            await reload();
          } catch (e) { toast(e.message, 'error'); }
        },
      }, t('cal_remind'))] : null)));
  const tbl = table(head, [...rows, foot], { class: 'cal-grid', empty: t('cal_none') });
  return h('div', { class: 'cal-duty-grid', dataset: { duty: d.duty } }, h('h3', {}, d.title, ' ', h('small', { class: 'muted' }, recLabel(d.recurrence))), tbl);
}

function fieldRow(f = {}) {
  const tr = h('tr', { class: 'cal-form-row' },
    h('td', {}, h('input', { class: 'input cal-f-name', value: f.name || '', 'aria-label': t('cal_form_name'), pattern: '[a-z0-9_]+' })),
    h('td', {}, h('input', { class: 'input cal-f-vi', value: f.label_vi || '', 'aria-label': t('cal_form_label_vi') })),
    h('td', {}, h('input', { class: 'input cal-f-en', value: f.label_en || '', 'aria-label': t('cal_form_label_en') })),
    h('td', {}, h('select', { class: 'input cal-f-type', 'aria-label': t('cal_form_type') }, TYPES.map((x) => h('option', { value: x, selected: (f.type || 'int') === x }, t(`cal_type_${x}`))))),
    h('td', {}, h('input', { type: 'checkbox', class: 'cal-f-req', checked: !!f.required, 'aria-label': t('cal_form_required') })),
    h('td', {}, h('button', { type: 'button', class: 'button small', onclick: () => tr.remove() }, t('cal_form_remove'))));
  return tr;
}

function editor(duty, done) {
  const f = duty?.fields || {};
  const id = (name) => `cal-${name}`;
  const inp = (name, attrs = {}) => h('input', { class: 'input', id: id(name), name, value: f[name] ?? '', ...attrs });
  const kind = h('select', { class: 'input', id: id('kind') }, ['periodic_report', 'meeting', 'review'].map((k) => h('option', { value: k, selected: (f.kind || 'periodic_report') === k }, kindLabel(k))));
  const rec = h('select', { class: 'input', id: id('recurrence') }, ['monthly', 'quarterly', 'half_yearly', 'yearly', 'weekly', 'once'].map((r) => h('option', { value: r, selected: (f.recurrence || 'monthly') === r }, recLabel(r))));
  const inputs = {
    title: inp('title', { required: true, maxlength: 300 }),
    due_days: inp('due_days', { type: 'number', min: 0, max: 366 }),
    remind_days: inp('remind_days', { type: 'number', min: 0, max: 60 }),
    weekday: inp('weekday', { type: 'number', min: 1, max: 7 }),
    day: inp('day', { type: 'number', min: 1, max: 31 }),
    on_date: inp('on_date', { type: 'date' }),
    time: inp('time', { type: 'time' }),
    place: inp('place', { maxlength: 300 }),
    participants: inp('participants', { maxlength: 2000 }),
    responsible_person: inp('responsible_person', { maxlength: 200 }),
    active_from: inp('active_from', { type: 'date' }),
    active_to: inp('active_to', { type: 'date' }),
    legal_basis: inp('legal_basis', { maxlength: 2000 }),
  };
  const stations = h('input', { class: 'input', id: id('stations'), value: (f.stations || []).join(', ') });
  let form0 = [];
  try { form0 = JSON.parse(f.form || '[]'); } catch (e) { form0 = []; }
  const formBody = h('tbody', {}, form0.map(fieldRow));
  const formBox = h('div', { class: 'cal-form-editor' }, h('h3', {}, t('cal_form')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, [t('cal_form_name'), t('cal_form_label_vi'), t('cal_form_label_en'), t('cal_form_type'), t('cal_form_required'), ''].map((x) => h('th', {}, x)))),
      formBody)),
    h('button', { type: 'button', class: 'button small', id: 'cal-form-add', onclick: () => formBody.append(fieldRow()) }, t('cal_form_add')));
  const msg = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  const field = (name, input, hint) => h('div', { class: 'field' }, h('label', { for: id(name) }, fieldLabel('duties', name)), input, hint ? h('small', { class: 'muted' }, hint) : null);
  const showFor = () => { formBox.hidden = kind.value !== 'periodic_report'; };
  kind.addEventListener('change', showFor);
  showFor();
  const form = h('form', {
    class: 'form', id: 'cal-editor', novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      const fields = { kind: kind.value, recurrence: rec.value };
      for (const [name, el] of Object.entries(inputs)) {
        const v = el.value.trim();
        if (el.type === 'number') { if (v !== '') fields[name] = Number(v); else if (duty) fields[name] = null; } else if (v !== '') fields[name] = v;
        else if (duty && f[name] !== undefined) fields[name] = null;
      }
      const codes = stations.value.split(',').map((x) => x.trim()).filter(Boolean);
      if (codes.length || duty) fields.stations = codes;
      if (kind.value === 'periodic_report') {
        fields.form = JSON.stringify([...formBody.querySelectorAll('tr')].map((tr) => ({
          name: tr.querySelector('.cal-f-name').value.trim(),
          label_vi: tr.querySelector('.cal-f-vi').value.trim(),
          label_en: tr.querySelector('.cal-f-en').value.trim(),
          type: tr.querySelector('.cal-f-type').value,
          required: tr.querySelector('.cal-f-req').checked,
        })));
      }
      for (const [k, v] of Object.entries(fields)) if (v === null) delete fields[k];
      try {
        await api('POST', '/api/calendar/duties', duty ? { id: duty.id, fields } : { fields });
        toast(t('cal_saved', fields.title || f.title));
        await done();
      } catch (e) { msg.textContent = e.message; msg.hidden = false; }
    },
  },
  h('h2', {}, duty ? t('cal_editor_edit', f.title) : t('cal_editor_new')), msg,
  h('div', { class: 'form-row' }, field('kind', kind), field('recurrence', rec), field('title', inputs.title)),
  h('div', { class: 'form-row' }, field('due_days', inputs.due_days), field('remind_days', inputs.remind_days), field('stations', stations, t('cal_stations_hint'))),
  h('div', { class: 'form-row' }, field('weekday', inputs.weekday), field('day', inputs.day), field('on_date', inputs.on_date), field('time', inputs.time)),
  h('div', { class: 'form-row' }, field('place', inputs.place), field('participants', inputs.participants), field('responsible_person', inputs.responsible_person, t('cal_person_hint'))),
  h('div', { class: 'form-row' }, field('active_from', inputs.active_from), field('active_to', inputs.active_to), field('legal_basis', inputs.legal_basis)),
  formBox,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary', id: 'cal-save' }, t('cal_save')),
    h('button', { type: 'button', class: 'button', onclick: () => done() }, t('cal_cancel'))));
  return form;
}

function dutyList(duties, onEdit) {
  const rows = duties.map((d) => {
    let n = 0;
    try { n = JSON.parse(d.form || '[]').length; } catch (e) { n = 0; }
    return h('tr', { dataset: { id: d.id } },
      h('td', {}, h('strong', {}, d.title), h('br'), h('small', { class: 'muted' }, kindLabel(d.kind))),
      h('td', {}, recLabel(d.recurrence)),
      h('td', {}, d.kind === 'periodic_report' ? [t('cal_due', `+${d.due_days ?? 0}`), h('br'), h('small', { class: 'muted' }, t('cal_n_fields', n))]
        : [d.time || '', d.place ? h('br') : null, d.place ? h('small', { class: 'muted' }, d.place) : null]),
      h('td', {}, (d.stations || []).length ? d.stations.join(', ') : t('cal_all_stations')),
      can('operator') ? h('td', {}, h('button', { type: 'button', class: 'button small cal-edit', onclick: () => onEdit(d) }, t('cal_edit'))) : null);
  });
  const heads = [fieldLabel('duties', 'title'), fieldLabel('duties', 'recurrence'), '', fieldLabel('duties', 'stations')];
  if (can('operator')) heads.push('');
  return table(heads, rows, { class: 'cal-duties', empty: t('cal_none') });
}

export async function viewCalendar(root) {
  const top = h('div', {}), grids = h('div', {}), duties = h('div', {}), edit = h('div', {});
  const newBtn = can('operator') ? h('button', { type: 'button', class: 'button primary', id: 'cal-new', onclick: () => openEditor(null) }, t('cal_new')) : null;
  replace(root, pageHeader(t('nav_calendar'), newBtn), edit, top, grids, duties);
  function openEditor(d) {
    replace(edit, card(null, editor(d ? { id: d.id, fields: d } : null, async () => { replace(edit); await load(); })));
    edit.scrollIntoView?.();
  }
  async function load() {
    try {
      const [cal, g] = await Promise.all([api('GET', '/api/calendar'), api('GET', '/api/calendar/grid')]);
      replace(top, upcoming(cal.occurrences));
      replace(grids, card(t('cal_grid'), h('p', { class: 'muted' }, t('cal_grid_hint'), ' ',
        h('a', { class: 'button small', id: 'cal-csv', href: '/api/calendar/grid?format=csv', download: '' }, t('cal_csv'))),
        g.duties.length ? g.duties.map((d) => grid(d, load)) : h('p', { class: 'muted' }, t('cal_no_reports'))));
      replace(duties, card(t('cal_duties'), dutyList(cal.duties, openEditor)));
    } catch (e) { replace(top, errorBox(e)); }
  }
  await load();
  return { refresh: () => load(), events: ['calendar', 'record', 'notice'] };
}
