// Danh mục bệnh truyền nhiễm: the disease catalogue the epidemic scan reads
// (groups, reporting deadlines, cluster thresholds, days before an end), shown
// to all and changed by admins (POST /api/records/diseases/{code}).

import { state, can } from './state.js';
import { t, h, replace, fmtNum, toast, errorBox, table, card, pageHeader } from './ui.js';
import { api } from './api.js';
import './i18n-epidemic.js';

const NUMBERS = [['report_within_hours', 0, 8760], ['cluster_cases', 0, 1000], ['cluster_days', 0, 366], ['end_after_days', 0, 366]];

export async function viewDiseases(root) {
  const editor = h('div', { id: 'dz-editor' });
  const results = h('div', { class: 'results' }, h('p', { class: 'muted' }, t('loading')));
  replace(root, pageHeader(t('dz_title'), h('a', { class: 'button', href: '#/epidemic' }, t('back'))),
    h('p', { class: 'muted dz-source', id: 'dz-source' }, t('dz_source')), editor, results);
  let list = [];

  async function load() {
    try {
      list = (await api('GET', '/api/records/diseases?limit=1000')).records;
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    list.sort((a, b) => (a.fields.group || '').localeCompare(b.fields.group || '') || (a.fields.name_vi || '').localeCompare(b.fields.name_vi || '', 'vi'));
    const yes = (v) => (v ? t('yes') : t('no'));
    const hours = (n) => (n ? t('ep_hours', fmtNum(n)) : t('dz_no_deadline'));
    const cluster = (f) => (f.cluster_cases ? t('dz_cluster', fmtNum(f.cluster_cases), fmtNum(f.cluster_days || 0)) : t('dz_no_rule'));
    replace(results, card(null, table([t('dz_name'), t('dz_icd10'), t('dz_group'), t('dz_case_by_case'), t('dz_deadline'), t('dz_cluster_rule'), t('dz_end_after'), t('dz_reference'), can('admin') ? '' : null].filter((x) => x !== null),
      list.map((r) => {
        const f = r.fields;
        return h('tr', { dataset: { code: r.id } },
          h('th', { scope: 'row' }, state.lang === 'en' ? f.name_en || f.name_vi : f.name_vi, h('br'), h('small', { class: 'muted' }, state.lang === 'en' ? f.name_vi : f.name_en || '')),
          h('td', { class: 'nowrap' }, f.icd10 || t('none')),
          h('td', { class: 'dz-group' }, t('dz_group_n', f.group || '?')),
          h('td', { class: 'dz-cbc' }, yes(f.case_by_case)),
          h('td', { class: 'num dz-hours' }, hours(f.report_within_hours)),
          h('td', { class: 'dz-cluster' }, cluster(f)),
          h('td', { class: 'num dz-end' }, f.end_after_days ? t('ob_days_n', fmtNum(f.end_after_days)) : t('none')),
          h('td', {}, h('small', {}, f.reference || t('dz_reference_default'))),
          can('admin') ? h('td', {}, h('button', { type: 'button', class: 'button small dz-edit', onclick: () => edit(r) }, t('dz_edit'))) : null);
      }), { class: 'dz-list' })));
  }

  function edit(r) {
    const f = r.fields;
    const inp = (name, attrs = {}) => h('input', { class: 'input', id: `dz-${name}`, name, ...attrs });
    const nameVi = inp('name_vi', { value: f.name_vi || '', required: true, maxlength: 200 });
    const nameEn = inp('name_en', { value: f.name_en || '', maxlength: 200 });
    const icd = inp('icd10', { value: f.icd10 || '', maxlength: 9 });
    const group = h('select', { class: 'input', id: 'dz-group' }, ['A', 'B', 'C'].map((g) => h('option', { value: g, selected: f.group === g }, t('dz_group_n', g))));
    const cbc = h('input', { type: 'checkbox', id: 'dz-case_by_case', checked: !!f.case_by_case });
    const nums = NUMBERS.map(([name, min, max]) => [name, inp(name, { type: 'number', min, max, step: 1, value: String(f[name] ?? 0) }), min, max]);
    const msg = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
    const field = (id, text, input) => h('div', { class: 'field' }, h('label', { for: id }, text), input);
    const labels = { report_within_hours: t('dz_deadline_hours'), cluster_cases: t('dz_cluster_cases'), cluster_days: t('dz_cluster_days'), end_after_days: t('dz_end_after_days') };
    const form = h('form', {
      // checked here, in the console's language (not the browser's bubbles)
      class: 'form', id: 'dz-form', novalidate: true, onsubmit: async (ev) => {
        ev.preventDefault();
        msg.hidden = true;
        const fields = { name_vi: nameVi.value.trim(), name_en: nameEn.value.trim() || null, icd10: icd.value.trim() || null, group: group.value, case_by_case: cbc.checked };
        if (!fields.name_vi) { msg.textContent = t('dz_need_name'); msg.hidden = false; return; }
        for (const [name, el, min, max] of nums) {
          const n = Number(el.value);
          if (el.value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
            msg.textContent = t('dz_bad_number', labels[name], fmtNum(min), fmtNum(max));
            msg.hidden = false;
            el.focus();
            return;
          }
          fields[name] = n;
        }
        try {
          await api('POST', `/api/records/diseases/${encodeURIComponent(r.id)}`, { fields });
          toast(t('dz_saved', fields.name_vi));
          replace(editor);
          await load();
        } catch (e) {
          msg.textContent = e.message;
          msg.hidden = false;
        }
      },
    }, msg,
    h('div', { class: 'form-row' }, field('dz-name_vi', t('dz_name_vi'), nameVi), field('dz-name_en', t('dz_name_en'), nameEn), field('dz-icd10', t('dz_icd10'), icd), field('dz-group', t('dz_group'), group)),
    h('label', { class: 'check' }, cbc, t('dz_case_by_case_long')),
    h('div', { class: 'form-row' }, nums.map(([name, el]) => field(`dz-${name}`, labels[name], el))),
    h('p', { class: 'muted' }, t('dz_applies')),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary', id: 'dz-save' }, t('dz_save')),
      h('button', { type: 'button', class: 'button', onclick: () => replace(editor) }, t('cancel'))));
    replace(editor, card(t('dz_editing', f.name_vi || r.id), form));
    editor.scrollIntoView({ block: 'nearest' });
    nameVi.focus();
  }

  await load();
  return { refresh: () => (editor.firstChild ? null : load()), events: ['record'] };
}
