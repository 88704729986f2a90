// The plan's tasks, their assignment to stations, and how far each station has got.

import { can } from './state.js';
import { t, h, replace, fmtDate, parseDate, toast, stateBadge, table, card, pageHeader, fold, todayText, confirmDialog, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';
import { recipientPicker } from './recipients.js';
import { loadPeople, fillPersonPicker, peopleFor } from './people.js';
import { periodsCard } from './task_periods.js';

function progressBar(pct) {
  return h('progress', { max: 100, value: Math.max(0, Math.min(100, pct || 0)) }, `${pct || 0} %`);
}

// YYYY-MM-DD of today, the district's (for comparing with date deadlines)
const todayIso = () => todayText().split('/').reverse().join('-');

// a task's title: its number in the plan and the start of its text
export function taskTitle(id, f) {
  const text = f.task || '';
  const cut = [...text];
  return `${id} · ${cut.length > 90 ? `${cut.slice(0, 90).join('').trimEnd()}…` : text}`;
}

export async function viewTasks(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', lead: p.get('lead') || '', deadline: p.get('deadline') || '', state: p.get('state') || '' };
  const search = h('input', { type: 'search', class: 'input search', id: 'tk-search', placeholder: t('tk_search'), value: st.q, 'aria-label': t('search') });
  const lead = h('select', { class: 'input', id: 'tk-lead', 'aria-label': t('tk_lead') });
  const deadline = h('select', { class: 'input', id: 'tk-deadline-filter', 'aria-label': t('tk_deadline') },
    [['', 'tk_deadline_any'], ['past', 'tk_deadline_past'], ['soon', 'tk_deadline_soon'], ['recurring', 'tk_deadline_recurring']].map(([v, k]) => h('option', { value: v, selected: st.deadline === v }, t(k))));
  const stateSel = h('select', { class: 'input', id: 'tk-state', 'aria-label': t('cf_state') },
    [['', 'tk_state_any'], ['unassigned', 'tk_state_unassigned'], ['ongoing', 'tk_state_ongoing'], ['done', 'tk_state_done']].map(([v, k]) => h('option', { value: v, selected: st.state === v }, t(k))));
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_tasks')), h('div', { class: 'toolbar' }, search, lead, deadline, stateSel), results);
  let tasks = [];
  function draw() {
    setHashParams({ q: st.q, lead: st.lead, deadline: st.deadline, state: st.state });
    const today = todayIso();
    const soon = new Date(Date.parse(`${today}T00:00:00Z`) + 30 * 86400000).toISOString().slice(0, 10);
    const q = fold(st.q);
    const shown = tasks.filter((tk) => {
      const f = tk.fields, pg = tk.progress || { assigned: 0, done: 0 };
      const done = pg.assigned > 0 && pg.done >= pg.assigned;
      if (q && !fold(`${tk.id} ${f.no} ${f.task} ${f.lead || ''} ${f.coordinating || ''}`).includes(q)) return false;
      if (st.lead && f.lead !== st.lead) return false;
      if (st.deadline === 'past' && !(f.deadline && f.deadline < today && !done)) return false;
      if (st.deadline === 'soon' && !(f.deadline && f.deadline >= today && f.deadline <= soon)) return false;
      if (st.deadline === 'recurring' && !f.recurring) return false;
      if (st.state === 'unassigned' && pg.assigned) return false;
      if (st.state === 'ongoing' && !(pg.assigned && !done)) return false;
      if (st.state === 'done' && !done) return false;
      return true;
    });
    const rows = shown.map((tk) => {
      const f = tk.fields, pg = tk.progress || { assigned: 0, done: 0, percent: 0 };
      const overdue = tk.assignment_counts?.overdue || 0;
      // a task set aside (its lead body no longer exists) is never past due
      const na = tk.not_applicable;
      const past = !na && f.deadline && f.deadline < today && !(pg.assigned && pg.done >= pg.assigned);
      return h('tr', { class: overdue || past ? 'row-alert' : null, dataset: { id: tk.id } },
        h('td', { class: 'num' }, f.no),
        h('td', { class: 'subject' }, h('a', { href: `#/tasks/${encodeURIComponent(tk.id)}` }, f.task)),
        h('td', {}, h('small', {}, f.lead)),
        h('td', {}, f.deadline ? fmtDate(f.deadline) : f.recurring ? (f.recurring_from ? t('tk_recurring_from', f.recurring_from) : t('tk_recurring')) : (f.deadline_text || t('none')),
          past ? h('span', { class: 'tag tag-bad tk-past' }, t('tk_past')) : null,
          na ? h('span', { class: 'tag tk-na', title: na.reason }, t('tk_na')) : null),
        h('td', { class: 'progress-cell' }, pg.assigned ? [progressBar(pg.percent), h('small', {}, ` ${pg.percent} % · ${t('tk_progress_of', pg.done, pg.assigned)}`)] : h('small', { class: 'muted' }, t('tk_not_assigned')),
          overdue ? h('span', { class: 'tag tag-bad' }, `${t('nt_overdue')} ${overdue}`) : null));
    });
    replace(results, table([t('tk_no'), t('tk_task'), t('tk_lead'), t('tk_deadline'), t('tk_progress')], rows, { class: 'tasks', empty: t('tk_none_match') }));
  }
  async function load() {
    const res = await api('GET', '/api/tasks');
    tasks = res.tasks;
    const leads = [...new Set(tasks.map((tk) => tk.fields.lead).filter(Boolean))].sort((a, b) => a.localeCompare(b, 'vi'));
    replace(lead, h('option', { value: '' }, t('tk_all_leads')), leads.map((l) => h('option', { value: l, selected: st.lead === l }, l)));
    draw();
  }
  search.addEventListener('input', () => { st.q = search.value.trim(); draw(); });
  lead.addEventListener('change', () => { st.lead = lead.value; draw(); });
  deadline.addEventListener('change', () => { st.deadline = deadline.value; draw(); });
  stateSel.addEventListener('change', () => { st.state = stateSel.value; draw(); });
  await load();
  return { refresh: () => load().catch(() => {}), events: ['task', 'record', 'escalation'] };
}

export async function viewTask(root, id) {
  const head = h('div', {});
  const list = h('div', {});
  const assign = h('div', {});
  replace(root, head, list, assign);
  let assigned = []; // [{station, name}] already given this task
  async function draw() {
    const tk = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
    const f = tk.fields;
    assigned = (tk.assignments || []).map((a) => ({ station: a.station, name: a.commune || a.station }));
    const na = tk.not_applicable;
    const past = !na && f.deadline && f.deadline < todayIso();
    // set aside with a reason (audited), or taken back
    const naBtn = can('operator') ? h('button', {
      type: 'button', class: 'button', id: 'tk-na', onclick: async () => {
        const ans = na ? await confirmDialog({ title: t('tk_na_undo'), message: t('tk_na_undo_q'), ok: t('tk_na_undo') })
          : await confirmDialog({ title: t('tk_na_set'), message: t('tk_na_set_q'), ok: t('tk_na_set'), reason: t('tk_na_reason') });
        if (!ans) return;
        try {
          await api('POST', `/api/tasks/${encodeURIComponent(id)}/not-applicable`, na ? { applicable: true } : { reason: ans.reason });
          await draw();
        } catch (e) { toast(e.message, 'error'); }
      },
    }, na ? t('tk_na_undo') : t('tk_na_set')) : null;
    replace(head, pageHeader(taskTitle(id, f), naBtn, h('a', { class: 'button', href: '#/tasks' }, t('back'))),
      na ? h('p', { class: 'alert tk-na-banner' }, t('tk_na_banner', na.reason, na.by)) : null,
      card(null, h('p', { class: 'task-text' }, f.task), h('dl', { class: 'facts' }, [
        [t('tk_no'), String(f.no)],
        [t('tk_lead'), f.lead], [t('tk_coordinating'), f.coordinating || t('none')],
        [t('tk_deadline'), [f.deadline ? `${fmtDate(f.deadline)} (${f.deadline_text})` : f.deadline_text, past ? h('span', { class: 'tag tag-bad tk-past' }, t('tk_past')) : null]],
      ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
    const rows = (tk.assignments || []).map((a) => h('tr', { class: a.overdue && a.state !== 'done' ? 'row-alert' : null, dataset: { station: a.station } },
      h('th', { scope: 'row' }, a.commune || a.station, h('br'), h('small', { class: 'muted' }, a.station)),
      h('td', {}, stateBadge(a.state)),
      h('td', { class: 'progress-cell' }, progressBar(a.state === 'done' ? 100 : a.percent || 0), h('small', {}, ` ${a.state === 'done' ? 100 : a.percent || 0} %`)),
      h('td', {}, a.deadline ? fmtDate(a.deadline) : t('none'), a.overdue && a.state !== 'done' ? h('span', { class: 'tag tag-bad' }, t('nt_overdue')) : null),
      h('td', { class: 'tk-responsible' }, a.responsible_person_label || a.responsible_person || t('none'),
        a.expected_result ? h('div', {}, h('small', { class: 'muted' }, `${t('nt_expected')}: ${a.expected_result}`)) : null),
      h('td', {}, a.acknowledged_by_label || a.acknowledged_by || t('none')),
      h('td', { class: 'note' }, a.report || a.progress_note || a.instructions || '')));
    replace(list, card(t('tk_assignments'), table([t('nt_station'), t('cf_state'), t('tk_percent'), t('tk_deadline'), t('tk_responsible'), t('nt_ack_by'), t('nt_note')], rows)));
    // a recurring task: its progress period by period (task_periods.js)
    const periods = periodsCard(tk);
    if (periods) list.append(periods);
  }
  if (can('operator')) {
    // who answers for it: a person of the directory - the TTYT's, and the
    // UBND's and the staff of the stations chosen - a name typed only when
    // they are not in it
    let people = [];
    const person = h('select', { class: 'input', id: 'tk-person' });
    const personText = h('input', { class: 'input', id: 'tk-person-text', placeholder: t('tk_person_text_hint') });
    const expected = h('input', { class: 'input', id: 'tk-expected' });
    const drawPeople = () => fillPersonPicker(person, peopleFor(people, picker.mode() === 'stations' ? picker.value()?.stations || [] : null));
    const picker = recipientPicker({ allowAll: true, initialMode: 'stations', onChange: drawPeople });
    loadPeople().then((list) => { people = list; drawPeople(); }).catch(() => drawPeople());
    const deadline = h('input', { class: 'input', id: 'tk-deadline', placeholder: t('date_hint') });
    const instructions = h('textarea', { class: 'input', id: 'tk-instructions', rows: 2 });
    replace(assign, card(t('tk_assign_title'), picker.el,
      h('div', { class: 'form-row' }, h('div', { class: 'field grow' }, h('label', { for: 'tk-person' }, t('nt_responsible_person')), person),
        h('div', { class: 'field' }, h('label', { for: 'tk-person-text' }, t('tk_person_text')), personText)),
      h('div', { class: 'form-row' }, h('div', { class: 'field' }, h('label', { for: 'tk-deadline' }, t('tk_deadline')), deadline),
        h('div', { class: 'field grow' }, h('label', { for: 'tk-expected' }, t('nt_expected')), expected)),
      h('div', { class: 'form-row' },
        h('div', { class: 'field grow' }, h('label', { for: 'tk-instructions' }, t('tk_instructions')), instructions)),
      h('button', {
        type: 'button', class: 'button primary', id: 'tk-assign', onclick: async () => {
          const recipients = picker.value();
          if (!recipients) { toast(t('tk_need_stations'), 'error'); return; }
          const body = { recipients };
          if (deadline.value.trim()) {
            const d = parseDate(deadline.value);
            if (!d) { toast(t('bad_date', deadline.value), 'error'); return; }
            body.deadline = d;
          }
          if (instructions.value.trim()) body.instructions = instructions.value.trim();
          if (person.value) body.responsible_person = person.value;
          else if (personText.value.trim()) body.responsible_name = personText.value.trim();
          if (expected.value.trim()) body.expected_result = expected.value.trim();
          // given already: asked before their deadline and instructions are overwritten
          const again = recipients.all ? assigned
            : recipients.stations ? assigned.filter((a) => recipients.stations.includes(a.station))
              : assigned.filter((a) => recipients.communes.includes(a.name));
          if (again.length) {
            const yes = await confirmDialog({ title: t('tk_reassign_title'), message: t('tk_reassign', again.map((a) => a.name).join(', ')), ok: t('tk_reassign_ok') });
            if (!yes) return;
          }
          try {
            const res = await api('POST', `/api/tasks/${encodeURIComponent(id)}/assign`, body);
            toast(t('tk_assign_done', res.assigned));
            picker.clear();
            deadline.value = '';
            instructions.value = '';
            person.value = '';
            personText.value = '';
            expected.value = '';
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
