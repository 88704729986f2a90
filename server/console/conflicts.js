// Concurrent edits of the same field, so an operator decides which value stands.

import { can } from './state.js';
import { t, L, tableLabel, fieldLabel, valueLabel, fmtFieldValue, h, replace, fmtDate, fmtDateTime, fmtNum, parseDate, parseDateTime, fmtReplica, fmtDot, hlcTime, qs, toast, errorBox, table, pageHeader, hashParams, setHashParams } from './ui.js';
import { api, loadTables, loadStationNames } from './api.js';

export async function viewConflicts(root) {
  const p = hashParams();
  // every conflict by default: one just resolved stays in sight, marked so
  const st = { status: p.get('status') || 'all' };
  const filters = h('div', { class: 'filters' });
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_conflicts')), filters, results);
  let shown = [];
  async function load(after = 0) {
    setHashParams({ status: st.status !== 'all' && st.status });
    replace(filters, ['open', 'resolved', 'all'].map((k) => h('button', {
      type: 'button', class: ['filter', st.status === k && 'active'], 'aria-pressed': st.status === k ? 'true' : 'false',
      onclick: () => { st.status = k; load(); },
    }, t(`cf_filter_${k}`))));
    let res;
    try {
      res = await api('GET', `/api/conflicts${qs({ status: st.status, after: after || '', limit: 100 })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    await loadStationNames().catch(() => {}); // who wrote each side, by name
    shown = after ? shown.concat(res.conflicts) : res.conflicts;
    const rows = shown.slice().reverse().map((c) => h('tr', { class: c.resolved ? 'row-resolved' : 'row-open', dataset: { id: c.id } },
      h('td', {}, h('a', { href: `#/conflicts/${c.id}`, class: 'conflict-link' }, `#${c.id}`)),
      h('td', {}, fmtDateTime(c.detected_at_ms)),
      h('td', {}, tableLabel(c.table), h('br'), h('small', { class: 'muted' }, c.record)),
      h('td', {}, c.field === '_deleted' ? t('cf_deleted') : fieldLabel(c.table, c.field)),
      h('td', { class: 'val' }, c.field === '_deleted' ? (c.kept ? t('cf_deleted') : t('cf_not_deleted')) : fmtFieldValue(c.table, c.field, c.kept), h('br'), h('small', { class: 'muted' }, writer(c.kept_by))),
      h('td', { class: 'val' }, c.field === '_deleted' ? (c.lost ? t('cf_deleted') : t('cf_not_deleted')) : fmtFieldValue(c.table, c.field, c.lost), h('br'), h('small', { class: 'muted' }, writer(c.lost_by))),
      h('td', { class: 'cf-state' }, c.resolved ? [h('span', { class: 'tag tag-good' }, t('cf_resolved')), h('br'),
        h('small', { class: 'muted' }, t('cf_resolved_short', c.resolved_by || t('none'), fmtDateTime(c.resolved_at_ms), resolutionText(c)))]
        : h('span', { class: 'tag tag-warn' }, t('cf_open')))));
    replace(results,
      h('p', { class: 'muted' }, `${t('dash_conflicts')}: ${fmtNum(res.open)}`),
      table([t('cf_id'), t('cf_detected'), t('cf_record'), t('cf_field'), t('cf_kept'), t('cf_lost'), t('cf_state')], rows, { empty: t('dash_conflict_none') }),
      res.conflicts.length === 100 ? h('button', { type: 'button', class: 'button', onclick: () => load(res.conflicts[res.conflicts.length - 1].id) }, t('cf_more')) : null);
  }
  await load();
  return { refresh: () => load(), events: ['conflict', 'record'], poll: 30000 };
}

// JSON value for a field from the editor's text, by type (throws on bad input)
function parseFieldValue(text, f) {
  const type = f?.type || 'text';
  const v = text.trim();
  if (v === '') return null;
  switch (type) {
    case 'int': { if (!/^-?\d+$/.test(v)) throw new Error(t('cf_bad_int', v)); return Number(v); }
    case 'real': { const n = Number(v.replace(',', '.')); if (v === '' || Number.isNaN(n)) throw new Error(t('cf_bad_real', v)); return n; }
    case 'bool': return v === 'true';
    case 'date': { const d = parseDate(v); if (!d) throw new Error(t('bad_date', v)); return d; }
    case 'datetime': { const d = parseDateTime(v); if (!d) throw new Error(t('bad_datetime', v)); return d; }
    case 'list': return v.split(',').map((x) => x.trim()).filter(Boolean);
    default: return v;
  }
}

function valueEditor(f, initial, tableName) {
  const type = f?.type || 'text';
  if (type === 'bool') {
    return h('select', { class: 'input' }, h('option', { value: 'true', selected: initial === true }, t('yes')), h('option', { value: 'false', selected: initial !== true }, t('no')));
  }
  if (type === 'enum' && f.values) {
    return h('select', { class: 'input' }, f.values.map((x) => h('option', { value: x, selected: x === initial }, valueLabel(tableName, f.name, x))));
  }
  const text = initial === null || initial === undefined ? ''
    : type === 'date' ? fmtDate(initial) : type === 'datetime' ? fmtDateTime(initial)
      : Array.isArray(initial) ? initial.join(', ') : String(initial);
  if (type === 'text' && (f?.max || 0) > 300) return h('textarea', { class: 'input', rows: 3 }, text);
  return h('input', { class: 'input', value: text, placeholder: type === 'date' ? t('date_hint') : type === 'datetime' ? t('datetime_hint') : '' });
}

// how a conflict was resolved, in the console's language: the daemon's code
// (resolution_code: kept, lost, value), or the English note older
// daemons stored
function resolutionText(c) {
  if (c.resolution_label) return L(c.resolution_label);
  const code = c.resolution_code || { 'kept the merged value': 'kept', 'restored the losing value': 'lost', 'wrote a merged value': 'value' }[c.resolution];
  const key = { kept: 'cf_keep', lost: 'cf_restore', value: 'cf_edit' }[code];
  return key ? t(key) : c.resolution || '';
}

// who wrote a side and when, in words (the station's name or the centre);
// the dot itself (replica id, counter) only in the technical details
const writer = (by) => `${fmtReplica(by.replica)} · ${fmtDateTime(hlcTime(by.hlc))}`;

export async function viewConflict(root, id) {
  let changed = false;
  let quietUntil = 0;
  async function draw() {
    changed = false;
    const c = await api('GET', `/api/conflicts/${id}`);
    const tables = await loadTables();
    await loadStationNames().catch(() => {}); // who wrote each side, by name
    const def = tables[c.table];
    // every conflict of this record, so both versions show field by field
    let siblings = [c];
    try {
      const all = await api('GET', `/api/conflicts${qs({ status: c.resolved ? 'all' : 'open', table: c.table, limit: 1000 })}`);
      siblings = all.conflicts.filter((x) => x.record === c.record);
      if (!siblings.some((x) => x.id === c.id)) siblings.push(c);
    } catch (e) { /* the one conflict is enough */ }
    const byField = new Map(siblings.map((x) => [x.field, x]));
    const current = c.current || { fields: {}, written: {} };
    const fields = [...new Set([...(def ? def.fields.map((f) => f.name) : []), ...Object.keys(current.fields || {}), ...byField.keys()])]
      .filter((name) => name !== '_deleted' || byField.has('_deleted'));
    const rows = fields.map((name) => {
      const f = def?.byName[name];
      const cf = byField.get(name);
      const cur = name === '_deleted' ? !!current.deleted : current.fields?.[name];
      const show = (v) => (name === '_deleted' ? (v ? t('cf_deleted') : t('cf_not_deleted')) : fmtFieldValue(c.table, name, v));
      if (!cf) {
        if (cur === undefined) return null;
        return h('tr', {}, h('th', { scope: 'row' }, fieldLabel(c.table, name)), h('td', {}, show(cur)), h('td', {}, show(cur)));
      }
      const actions = !cf.resolved && can('operator') ? conflictActions(cf, f, cur) : null;
      return [
        h('tr', { class: cf.resolved ? 'row-resolved' : 'row-conflict', dataset: { field: name } },
          h('th', { scope: 'row' }, name === '_deleted' ? t('cf_deleted') : fieldLabel(c.table, name), ' ', h('span', { class: ['tag', cf.resolved ? 'tag-good' : 'tag-warn'] }, cf.resolved ? t('cf_resolved') : t('cf_conflicting'))),
          h('td', { class: 'kept' }, h('strong', {}, show(cf.resolved ? cur : cf.kept)), h('br'),
            cf.resolved ? h('small', { class: 'muted kept-before' }, `${t('cf_side_kept_before')}: ${show(cf.kept)} — `) : null,
            h('small', { class: 'muted' }, t('cf_written_by', fmtReplica(cf.kept_by.replica), fmtDateTime(hlcTime(cf.kept_by.hlc))))),
          h('td', { class: 'lost' }, h('strong', {}, show(cf.lost)), h('br'),
            h('small', { class: 'muted' }, t('cf_written_by', fmtReplica(cf.lost_by.replica), fmtDateTime(hlcTime(cf.lost_by.hlc)))))),
        cf.resolved
          ? h('tr', { class: 'row-resolved' }, h('td', { colspan: 3, class: 'muted' }, t('cf_resolved_by', cf.resolved_by, fmtDateTime(cf.resolved_at_ms), resolutionText(cf))))
          : actions ? h('tr', { class: 'row-actions' }, h('td', { colspan: 3 }, actions)) : null,
      ];
    });
    const kept = siblings[0].kept_by, lost = siblings[0].lost_by;
    // once resolved, the first column is what stands now, not the side kept before
    const done = siblings.every((x) => x.resolved);
    replace(root,
      pageHeader(t('cf_title', c.id, tableLabel(c.table), c.record), h('a', { class: 'button', href: '#/conflicts' }, t('back'))),
      done ? h('div', { class: 'alert alert-good', id: 'cf-resolution', role: 'status' }, t('cf_resolution_summary',
        t('cf_resolved_by', c.resolved_by || t('none'), fmtDateTime(c.resolved_at_ms), resolutionText(c)))) : null,
      h('p', { class: 'intro' }, t('cf_intro')),
      !can('operator') ? h('p', { class: 'alert' }, t('cf_no_rights')) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid side-by-side' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('cf_field')),
          h('th', { id: 'cf-head-kept' }, done ? t('cf_side_current') : [t('cf_side_kept'), h('br'), h('small', {}, fmtReplica(kept.replica))]),
          h('th', {}, t('cf_side_lost'), h('br'), h('small', {}, fmtReplica(lost.replica))))),
        h('tbody', {}, rows))),
      // the dots (replica id, change counter) and the merge rule, for whoever needs them
      h('details', { class: 'tech', id: 'cf-tech' }, h('summary', {}, t('tech_details')),
        h('dl', { class: 'facts' }, siblings.map((x) => [
          h('dt', {}, x.field === '_deleted' ? t('cf_deleted') : fieldLabel(c.table, x.field), ' ', h('code', {}, x.field)),
          h('dd', {}, `${t('cf_side_kept')}: (${fmtDot(x.kept_by)}) · ${t('cf_side_lost')}: (${fmtDot(x.lost_by)}) · ${x.rule || ''}`)]))));
  }

  function conflictActions(cf, f, cur) {
    const editor = valueEditor(f, cf.field === '_deleted' ? null : cf.lost, cf.table);
    // a value that does not fit the field is said here, beside it, in words
    const bad = h('p', { class: 'alert alert-error edit-error', role: 'alert', hidden: true });
    editor.addEventListener('input', () => { bad.hidden = true; editor.removeAttribute('aria-invalid'); });
    const editBox = h('div', { class: 'edit-box', hidden: true },
      h('label', {}, t('cf_merged_value')), editor,
      h('button', {
        type: 'button', class: 'button primary small', onclick: async () => {
          let value;
          try {
            value = parseFieldValue(editor.value, f);
          } catch (e) {
            bad.textContent = e.message;
            bad.hidden = false;
            editor.setAttribute('aria-invalid', 'true');
            editor.focus();
            return;
          }
          await resolve(cf, { choice: 'value', value });
        },
      }, t('cf_apply')), bad);
    const buttons = [
      h('button', { type: 'button', class: 'button small', dataset: { action: 'keep' }, onclick: () => resolve(cf, { choice: 'kept' }) }, t('cf_keep')),
      h('button', { type: 'button', class: 'button small', dataset: { action: 'restore' }, onclick: () => resolve(cf, { choice: 'lost' }) }, t('cf_restore')),
    ];
    if (cf.field !== '_deleted') {
      buttons.push(h('button', { type: 'button', class: 'button small', dataset: { action: 'edit' }, onclick: () => { editBox.hidden = !editBox.hidden; } }, t('cf_edit')));
    }
    return h('div', { class: 'actions' }, buttons, editBox);
  }

  async function resolve(cf, body) {
    try {
      await api('POST', `/api/conflicts/${cf.id}/resolve`, body);
      quietUntil = Date.now() + 3000; // our own change comes back as an event
      toast(t('cf_done'));
      await draw();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  await draw();
  return {
    // someone else resolved it, or a station changed the record: show it,
    // but never under the hands of someone editing a value
    onEvent: (name, data) => {
      if (name !== 'conflict' || Date.now() < quietUntil) return;
      if (data.id !== undefined && String(data.id) !== String(id)) return;
      const editing = [...root.querySelectorAll('.edit-box')].some((b) => !b.hidden);
      if (!editing) {
        draw().catch(() => {});
      } else if (!changed) {
        changed = true;
        root.prepend(h('div', { class: 'alert alert-warn' }, t('cf_changed'), ' ',
          h('button', { type: 'button', class: 'button small', onclick: () => { changed = false; draw(); } }, t('cf_reload'))));
      }
    },
  };
}
