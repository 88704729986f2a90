// The plan's tasks, their assignment to stations, and how far each station has got.

import { can } from './state.js';
import { t, h, replace, fmtDate, parseDate, toast, stateBadge, table, card, pageHeader } from './ui.js';
import { api } from './api.js';
import { recipientPicker } from './recipients.js';

function progressBar(pct) {
  return h('progress', { max: 100, value: Math.max(0, Math.min(100, pct || 0)) }, `${pct || 0} %`);
}

export async function viewTasks(root) {
  async function draw() {
    const res = await api('GET', '/api/tasks');
    const rows = res.tasks.map((tk) => {
      const f = tk.fields, pg = tk.progress || { assigned: 0, done: 0, percent: 0 };
      const overdue = tk.assignment_counts?.overdue || 0;
      return h('tr', { class: overdue ? 'row-alert' : null },
        h('td', { class: 'num' }, f.no),
        h('td', { class: 'subject' }, h('a', { href: `#/tasks/${encodeURIComponent(tk.id)}` }, f.task)),
        h('td', {}, h('small', {}, f.lead)),
        h('td', {}, f.deadline ? fmtDate(f.deadline) : f.recurring ? (f.recurring_from ? t('tk_recurring_from', f.recurring_from) : t('tk_recurring')) : (f.deadline_text || t('none'))),
        h('td', { class: 'progress-cell' }, pg.assigned ? [progressBar(pg.percent), h('small', {}, ` ${pg.percent} % · ${t('tk_progress_of', pg.done, pg.assigned)}`)] : h('small', { class: 'muted' }, t('tk_not_assigned')),
          overdue ? h('span', { class: 'tag tag-bad' }, `${t('nt_overdue')} ${overdue}`) : null));
    });
    replace(root, pageHeader(t('nav_tasks')), table([t('tk_no'), t('tk_task'), t('tk_lead'), t('tk_deadline'), t('tk_progress')], rows, { class: 'tasks' }));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), events: ['task', 'record', 'escalation'] };
}

export async function viewTask(root, id) {
  const head = h('div', {});
  const list = h('div', {});
  const assign = h('div', {});
  replace(root, head, list, assign);
  async function draw() {
    const tk = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
    const f = tk.fields;
    replace(head, pageHeader(`${t('tk_no')} ${f.no}`, h('a', { class: 'button', href: '#/tasks' }, t('back'))),
      card(null, h('p', { class: 'task-text' }, f.task), h('dl', { class: 'facts' }, [
        [t('tk_lead'), f.lead], [t('tk_coordinating'), f.coordinating || t('none')],
        [t('tk_deadline'), f.deadline ? `${fmtDate(f.deadline)} (${f.deadline_text})` : f.deadline_text],
      ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
    const rows = (tk.assignments || []).map((a) => h('tr', { class: a.overdue && a.state !== 'done' ? 'row-alert' : null },
      h('th', { scope: 'row' }, a.commune || a.station, h('br'), h('small', { class: 'muted' }, a.station)),
      h('td', {}, stateBadge(a.state)),
      h('td', { class: 'progress-cell' }, progressBar(a.state === 'done' ? 100 : a.percent || 0), h('small', {}, ` ${a.state === 'done' ? 100 : a.percent || 0} %`)),
      h('td', {}, a.deadline ? fmtDate(a.deadline) : t('none'), a.overdue && a.state !== 'done' ? h('span', { class: 'tag tag-bad' }, t('nt_overdue')) : null),
      h('td', {}, a.acknowledged_by || t('none')),
      h('td', { class: 'note' }, a.report || a.progress_note || a.instructions || '')));
    replace(list, card(t('tk_assignments'), table([t('nt_station'), t('cf_state'), t('tk_percent'), t('tk_deadline'), t('nt_ack_by'), t('nt_note')], rows)));
  }
  if (can('operator')) {
    const picker = recipientPicker({ allowAll: true, initialMode: 'stations' });
    const deadline = h('input', { class: 'input', id: 'tk-deadline', placeholder: t('date_hint') });
    const instructions = h('textarea', { class: 'input', id: 'tk-instructions', rows: 2 });
    replace(assign, card(t('tk_assign_title'), picker.el,
      h('div', { class: 'form-row' }, h('div', { class: 'field' }, h('label', { for: 'tk-deadline' }, t('tk_deadline')), deadline),
        h('div', { class: 'field grow' }, h('label', { for: 'tk-instructions' }, t('tk_instructions')), instructions)),
      h('button', {
        type: 'button', class: 'button primary', id: 'tk-assign', onclick: async () => {
          const recipients = picker.value();
          if (!recipients) { toast(t('nt_need_recipients'), 'error'); return; }
          const body = { recipients };
          if (deadline.value.trim()) {
            const d = parseDate(deadline.value);
            if (!d) { toast(t('bad_date', deadline.value), 'error'); return; }
            body.deadline = d;
          }
          if (instructions.value.trim()) body.instructions = instructions.value.trim();
          try {
            const res = await api('POST', `/api/tasks/${encodeURIComponent(id)}/assign`, body);
            toast(t('tk_assign_done', res.assigned));
            await draw();
          } catch (e) {
            toast(e.message, 'error');
          }
        },
      }, t('tk_assign'))));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), events: ['task', 'record', 'escalation'] };
}
