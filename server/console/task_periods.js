// A recurring plan task's progress period by period (issue 18): instead of a
// single "done", each station reports each year, quarter or month
// (`tramsync progress TASK --period …`), and the task's page shows a table of
// stations × periods: done, in progress, not reported, or overdue once the
// period is over and not done. The rows come from GET /api/tasks/{id}
// (`periods`); the strings are added to i18n.js's STRINGS here.

import { STRINGS } from './i18n.js';
import { t, h, L, table, card, fmtDateTime } from './ui.js';

Object.assign(STRINGS.vi, {
  tp_title: 'Tiến độ theo kỳ ({0})',
  tp_unit_yearly: 'hằng năm',
  tp_unit_quarterly: 'hằng quý',
  tp_unit_monthly: 'hằng tháng',
  tp_done: 'Hoàn thành',
  tp_in_progress: 'Đang thực hiện',
  tp_not_reported: 'Chưa báo cáo',
  tp_overdue: 'Quá hạn',
  tp_none: 'Chưa giao cho trạm nào.',
  tp_hint: 'Mỗi kỳ hoàn thành riêng: kỳ đã qua mà chưa hoàn thành là quá hạn, dù kỳ trước đã xong. Trạm báo bằng lệnh tramsync progress với --period.',
  tp_by: 'Người cập nhật: {0}',
  tp_at: 'lúc {0}',
});
Object.assign(STRINGS.en, {
  tp_title: 'Progress per period ({0})',
  tp_unit_yearly: 'yearly',
  tp_unit_quarterly: 'quarterly',
  tp_unit_monthly: 'monthly',
  tp_done: 'Done',
  tp_in_progress: 'In progress',
  tp_not_reported: 'Not reported',
  tp_overdue: 'Overdue',
  tp_none: 'Not assigned to any station.',
  tp_hint: 'Each period is done on its own: a period that is over and not done is overdue, even when an earlier one was done. Stations report with tramsync progress and --period.',
  tp_by: 'Updated by: {0}',
  tp_at: 'at {0}',
});

const TAG = { done: 'tag-good', in_progress: 'tag-warn', not_reported: 'tag-muted', overdue: 'tag-bad' };
const MAX_COLUMNS = 8; // the newest periods; the station's own answer keeps the rest

// One period of one station: its status, percent, and what it reported.
function cell(row) {
  if (!row) return h('td', { class: 'muted' }, '—');
  const said = [row.report || row.progress_note, row.updated_by ? t('tp_by', row.updated_by) : null,
    row.done_at || row.progress_at ? t('tp_at', fmtDateTime(row.done_at || row.progress_at)) : null].filter(Boolean).join(' · ');
  return h('td', { class: ['tp-cell', `tp-${row.status}`], dataset: { period: row.period, status: row.status }, title: said || null },
    h('span', { class: ['tag', TAG[row.status] || 'tag-muted'] }, t(`tp_${row.status}`)),
    row.percent !== undefined && row.status !== 'not_reported' ? h('small', {}, ` ${row.percent} %`) : null,
    said ? h('div', { class: 'note' }, h('small', {}, said)) : null);
}

// The card for the task's page, or null for a task that does not recur.
export function periodsCard(tk) {
  const p = tk.periods;
  if (!p) return null;
  const names = Object.fromEntries((tk.assignments || []).map((a) => [a.station, a.commune || a.station]));
  // every period any station has, newest first
  const labels = new Map();
  for (const s of p.stations || []) for (const r of s.rows) labels.set(r.period, { vi: r.label_vi, en: r.label_en });
  const periods = [...labels.keys()].sort().reverse().slice(0, MAX_COLUMNS);
  const rows = (p.stations || []).map((s) => {
    const by = Object.fromEntries(s.rows.map((r) => [r.period, r]));
    return h('tr', { dataset: { station: s.station } },
      // a td, not a row header: the assignments' table above counts its
      // stations by their row headers
      h('td', { class: 'tp-station' }, h('strong', {}, names[s.station] || s.station)),
      periods.map((k) => cell(by[k])));
  });
  return h('div', { class: 'task-periods', id: 'tk-periods' },
    card(t('tp_title', t(`tp_unit_${p.unit}`)), h('p', { class: 'muted' }, h('small', {}, t('tp_hint'))),
      table([t('nt_station'), ...periods.map((k) => L(labels.get(k)))], rows, { class: 'tp-grid', empty: t('tp_none') })));
}
