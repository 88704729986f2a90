// The provincial plan's versions (issue 19): every version the district
// loaded, newest first, the one in force marked; a version's targets and
// tasks as loaded, and what differs from the version in force, so that an
// earlier plan is never out of sight once a new one replaces it.

import { state } from './state.js';
import { t, h, replace, fmtDate, fmtDateTime, fmtNum, errorBox, table, card, pageHeader } from './ui.js';
import { api } from './api.js';
import './i18n-plans.js';

// a target's name in the plan's own words, in the page's language
const L = (x) => (state.lang === 'en' ? x.label_en : x.label_vi) || x.label_vi || x.code;
const planDate = (d) => (d && d.length === 10 ? fmtDate(d) : d || '');

// What a target asks, in words: "trên 97", "từ 2 đến 2,2"
export function goalText(tg) {
  if (!tg) return t('pl_absent');
  const n = (v) => fmtNum(v, 1);
  switch (tg.operator) {
    case '>': return t('pl_op_gt', n(tg.threshold));
    case '<': return t('pl_op_lt', n(tg.threshold));
    case '=': return t('pl_op_eq');
    case 'r': return t('pl_op_range', n(tg.threshold), n(tg.high));
    default: return t('pl_op_dir');
  }
}

export async function viewPlans(root) {
  const res = await api('GET', '/api/plan');
  const rows = res.history.map((p) => h('tr', { dataset: { version: String(p.version) } },
    h('td', {}, String(p.version)),
    h('td', {}, h('a', { href: `#/targets/plans/${p.version}` }, p.name)),
    h('td', {}, p.issuer),
    h('td', {}, planDate(p.date)),
    h('td', {}, fmtDateTime(p.loaded_at_ms)),
    h('td', {}, p.loaded_by),
    h('td', {}, p.current ? h('span', { class: 'tag tag-good' }, t('pl_in_force')) : h('span', { class: 'tag' }, t('pl_replaced')))));
  replace(root, pageHeader(t('pl_title'), h('a', { class: 'button', href: '#/targets' }, t('back'))),
    card(null, table([t('pl_version'), t('pl_name'), t('pl_issuer'), t('pl_date'), t('pl_loaded'), t('pl_loaded_by'), ''],
      rows, { empty: t('pl_none'), class: 'plan-versions' })));
}

const sameTarget = (a, b) => a.operator === b.operator && a.threshold === b.threshold && a.high === b.high && a.year === b.year;
const sameTask = (a, b) => a.text === b.text && a.lead === b.lead && (a.coordinating || '') === (b.coordinating || '') &&
  a.deadline_text === b.deadline_text && (a.deadline || '') === (b.deadline || '') && !!a.recurring === !!b.recurring;

// Differences of version v from cur: [{kind: added|removed|changed, what, before, after}]
function differences(v, cur) {
  const out = [];
  const byCode = (list) => new Map(list.map((x) => [x.code, x]));
  const byNo = (list) => new Map(list.map((x) => [x.no, x]));
  const tv = byCode(v.targets), tc = byCode(cur.targets);
  for (const [code, a] of tv) {
    const b = tc.get(code);
    if (!b) out.push({ kind: 'removed', what: t('pl_target_x', L(a)), before: goalText(a), after: t('pl_absent') });
    else if (!sameTarget(a, b)) out.push({ kind: 'changed', what: t('pl_target_x', L(a)), before: `${goalText(a)} (${a.year || ''})`, after: `${goalText(b)} (${b.year || ''})` });
  }
  for (const [code, b] of tc) if (!tv.has(code)) out.push({ kind: 'added', what: t('pl_target_x', L(b)), before: t('pl_absent'), after: goalText(b) });
  const kv = byNo(v.tasks), kc = byNo(cur.tasks);
  const no = (x) => String(x).padStart(2, '0');
  for (const [n, a] of kv) {
    const b = kc.get(n);
    if (!b) out.push({ kind: 'removed', what: t('pl_task_x', no(n)), before: a.text, after: t('pl_absent') });
    else if (!sameTask(a, b)) out.push({ kind: 'changed', what: t('pl_task_x', no(n)), before: `${a.text} — ${a.deadline_text}`, after: `${b.text} — ${b.deadline_text}` });
  }
  for (const [n, b] of kc) if (!kv.has(n)) out.push({ kind: 'added', what: t('pl_task_x', no(n)), before: t('pl_absent'), after: b.text });
  return out;
}

export async function viewPlanVersion(root, version) {
  const v = await api('GET', `/api/plan/versions/${encodeURIComponent(version)}`);
  let compare;
  if (v.current) {
    compare = h('p', { class: 'muted', id: 'pl-compare' }, t('pl_is_current'));
  } else {
    try {
      const plan = (await api('GET', '/api/plan')).plan;
      const cur = await api('GET', `/api/plan/versions/${plan.version}`);
      const diff = differences(v, cur);
      const kind = { added: t('pl_added'), removed: t('pl_removed'), changed: t('pl_changed') };
      compare = card(t('pl_changes', cur.version), diff.length
        ? table([t('pl_what'), '', t('pl_before'), t('pl_after')], diff.map((d) => h('tr', { class: `pl-${d.kind}` },
          h('td', {}, h('span', { class: 'tag' }, kind[d.kind])), h('td', {}, d.what), h('td', {}, d.before), h('td', {}, d.after))), { class: 'plan-diff' })
        : h('p', { class: 'muted' }, t('pl_same')));
      compare.id = 'pl-compare';
    } catch (e) {
      compare = errorBox(e);
    }
  }
  const targets = v.targets.map((tg) => h('tr', {}, h('td', {}, L(tg)), h('td', {}, goalText(tg)), h('td', {}, tg.year ? String(tg.year) : ''), h('td', { class: 'muted' }, tg.note || '')));
  const tasks = v.tasks.map((k) => h('tr', {}, h('td', {}, `KH-${String(k.no).padStart(2, '0')}`), h('td', {}, k.text), h('td', {}, k.lead),
    h('td', {}, k.deadline_text, k.recurring ? h('span', { class: 'tag' }, t('pl_recurring')) : null)));
  replace(root, pageHeader(`${t('pl_version')} ${v.version}`, h('a', { class: 'button', href: '#/targets/plans' }, t('pl_back'))),
    card(null,
      h('p', {}, h('strong', {}, v.name)),
      h('p', { class: 'muted' }, `${v.issuer} · ${planDate(v.date)} · ${t('pl_loaded')} ${fmtDateTime(v.loaded_at_ms)} (${v.loaded_by})`,
        ' ', v.current ? h('span', { class: 'tag tag-good' }, t('pl_in_force')) : h('span', { class: 'tag' }, t('pl_replaced'))),
      v.notes ? h('p', {}, h('strong', {}, `${t('pl_notes')}: `), v.notes) : null),
    compare,
    card(t('pl_targets', v.targets.length), table([t('pl_indicator'), t('pl_goal'), t('pl_year'), t('pl_note')], targets)),
    card(t('pl_tasks', v.tasks.length), table([t('pl_no'), t('pl_task'), t('pl_lead'), t('pl_deadline')], tasks)));
}
