// Who did what, for admins (its table also shows the latest entries on the health page).
//
// Actions, outcomes and kinds of actor are shown in the console's language;
// the raw codes, the detail and the peer address stay behind "Chi tiết kỹ
// thuật" (a toggle), for whoever needs them.

import { can } from './state.js';
import { t, tableLabel, h, replace, fmtDateTime, qs, errorBox, table, pageHeader, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';

// every action the daemon writes (docs/ADMIN-API.md, GET /api/audit)
export const AUDIT_ACTIONS = ['login', 'logout', 'denied', 'read', 'put', 'delete', 'push', 'reject', 'send_notice', 'recall_notice',
  'redistribute_report', 'open_report', 'assign_task', 'resolve_conflict', 'ack_epidemic_alert', 'user', 'login_unblock',
  'refresh_targets', 'rekey', 'restamp', 'load_plan', 'task_not_applicable', 'task_applicable'];

const known = (prefix, code) => t(`${prefix}${code}`) !== `${prefix}${code}`;
export const actionLabel = (a) => (a && known('au_act_', a) ? t(`au_act_${a}`) : a || t('none'));
const outcomeLabel = (o) => (!o ? t('none') : known('au_out_', o) ? t(`au_out_${o}`) : t('au_out_other'));
const kindLabel = (k) => (k && known('au_kind_', k) ? t(`au_kind_${k}`) : k || '');

export function auditTable(entries, tech = false) {
  const headers = [t('au_time'), t('au_actor'), t('au_action'), t('au_table'), t('au_record'), t('au_outcome')];
  if (tech) headers.push(t('au_detail'), t('au_peer'));
  return table(headers,
    entries.map((e) => h('tr', { class: e.outcome && !['ok', 'applied'].includes(e.outcome) ? 'row-warn' : null, dataset: { action: e.action || '' } },
      h('td', { class: 'nowrap' }, fmtDateTime(e.ts_ms)),
      h('td', {}, e.actor, h('br'), h('small', { class: 'muted' }, kindLabel(e.actor_kind))),
      h('td', { class: 'au-action' }, actionLabel(e.action), tech ? [h('br'), h('code', { class: 'muted' }, e.action)] : null),
      h('td', {}, e.table ? tableLabel(e.table) : t('none')),
      h('td', {}, e.record || t('none')),
      h('td', {}, outcomeLabel(e.outcome), tech && e.outcome ? [h('br'), h('code', { class: 'muted' }, e.outcome)] : null),
      tech ? h('td', { class: 'detail' }, (e.detail || '').length > 160 ? `${e.detail.slice(0, 160)}…` : e.detail || '') : null,
      tech ? h('td', { class: 'nowrap' }, e.peer || '') : null)), { class: 'audit' });
}

export async function viewAudit(root) {
  if (!can('admin')) {
    replace(root, pageHeader(t('nav_audit')), h('p', { class: 'alert' }, t('au_admin_only')));
    return null;
  }
  const p = hashParams();
  const st = { actor: p.get('actor') || '', action: p.get('action') || '', table: p.get('table') || '', record: p.get('record') || '', before: Number(p.get('before')) || 0, tech: p.get('tech') === '1' };
  const inputs = {};
  // by translated action: a choice, not a code to type
  inputs.action = h('select', { class: 'input', id: 'au-action', 'aria-label': t('au_action') },
    h('option', { value: '' }, t('au_all_actions')),
    AUDIT_ACTIONS.map((a) => h('option', { value: a, selected: st.action === a }, actionLabel(a))));
  const techBox = h('input', { type: 'checkbox', id: 'au-tech', checked: st.tech });
  const fieldsRow = h('form', {
    class: 'toolbar', onsubmit: (ev) => {
      ev.preventDefault();
      for (const k of Object.keys(inputs)) st[k] = inputs[k].value.trim();
      st.before = 0;
      load();
    },
  }, ['actor', 'table', 'record'].map((k) => {
    inputs[k] = h('input', { class: 'input', value: st[k], placeholder: t(`au_${k}`), 'aria-label': t(`au_${k}`) });
    return inputs[k];
  }), inputs.action, h('button', { type: 'submit', class: 'button' }, t('au_filter')),
  h('label', { class: 'check' }, techBox, t('au_show_tech')));
  inputs.action.addEventListener('change', () => { st.action = inputs.action.value; st.before = 0; load(); });
  techBox.addEventListener('change', () => { st.tech = techBox.checked; load(); });
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_audit')), fieldsRow, results);
  async function load() {
    setHashParams({ actor: st.actor, action: st.action, table: st.table, record: st.record, before: st.before || '', tech: st.tech ? '1' : '' });
    let res;
    try {
      res = await api('GET', `/api/audit${qs({ actor: st.actor, action: st.action, table: st.table, record: st.record, before: st.before || '', limit: 100 })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    replace(results, auditTable(res.entries, st.tech),
      h('div', { class: 'pager' },
        h('button', { type: 'button', class: 'button small', disabled: !st.before, onclick: () => { st.before = 0; load(); } }, t('au_newest')),
        h('button', { type: 'button', class: 'button small', disabled: !res.more, onclick: () => { st.before = res.next_before; load(); } }, t('au_older'))));
  }
  await load();
  return { refresh: () => (st.before ? null : load()), events: ['record', 'conflict', 'notice', 'task'] };
}
