// Who did what, for admins (its table also shows the latest entries on the health page).

import { can } from './state.js';
import { t, tableLabel, h, replace, fmtDateTime, qs, errorBox, table, pageHeader, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';

export function auditTable(entries) {
  return table([t('au_time'), t('au_actor'), t('au_action'), t('au_table'), t('au_record'), t('au_outcome'), t('au_detail'), t('au_peer')],
    entries.map((e) => h('tr', { class: e.outcome && !['ok', 'applied'].includes(e.outcome) ? 'row-warn' : null },
      h('td', { class: 'nowrap' }, fmtDateTime(e.ts_ms)),
      h('td', {}, e.actor, h('br'), h('small', { class: 'muted' }, e.actor_kind)),
      h('td', {}, e.action),
      h('td', {}, e.table ? tableLabel(e.table) : t('none')),
      h('td', {}, e.record || t('none')),
      h('td', {}, e.outcome || t('none')),
      h('td', { class: 'detail' }, (e.detail || '').length > 160 ? `${e.detail.slice(0, 160)}…` : e.detail || ''),
      h('td', { class: 'nowrap' }, e.peer || ''))), { class: 'audit' });
}

export async function viewAudit(root) {
  if (!can('admin')) {
    replace(root, pageHeader(t('nav_audit')), h('p', { class: 'alert' }, t('au_admin_only')));
    return null;
  }
  const p = hashParams();
  const st = { actor: p.get('actor') || '', action: p.get('action') || '', table: p.get('table') || '', record: p.get('record') || '', before: Number(p.get('before')) || 0 };
  const inputs = {};
  const fieldsRow = h('form', {
    class: 'toolbar', onsubmit: (ev) => {
      ev.preventDefault();
      for (const k of Object.keys(inputs)) st[k] = inputs[k].value.trim();
      st.before = 0;
      load();
    },
  }, ['actor', 'action', 'table', 'record'].map((k) => {
    inputs[k] = h('input', { class: 'input', value: st[k], placeholder: t(`au_${k}`), 'aria-label': t(`au_${k}`) });
    return inputs[k];
  }), h('button', { type: 'submit', class: 'button' }, t('au_filter')));
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_audit')), fieldsRow, results);
  async function load() {
    setHashParams({ actor: st.actor, action: st.action, table: st.table, record: st.record, before: st.before || '' });
    let res;
    try {
      res = await api('GET', `/api/audit${qs({ actor: st.actor, action: st.action, table: st.table, record: st.record, before: st.before || '', limit: 100 })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    replace(results, auditTable(res.entries),
      h('div', { class: 'pager' },
        h('button', { type: 'button', class: 'button small', disabled: !st.before, onclick: () => { st.before = 0; load(); } }, t('au_newest')),
        h('button', { type: 'button', class: 'button small', disabled: !res.more, onclick: () => { st.before = res.next_before; load(); } }, t('au_older'))));
  }
  await load();
  return { refresh: () => (st.before ? null : load()), events: ['record', 'conflict', 'notice', 'task'] };
}
