// Writing a new notice: an operator's form, checked here before it goes to the daemon.

import { state, can } from './state.js';
import { t, L, h, replace, $, fmtBytes, parseDate, parseDateTime, todayText, toast, pageHeader, confirmDialog, hashParams } from './ui.js';
import { api } from './api.js';
import { recipientPicker } from './recipients.js';
import { utf8Length, attachmentPicker } from './attachments.js';
import './i18n-epidemic.js';
import { loadPeople, personPicker, fillPersonPicker, peopleFor } from './people.js';

export async function viewCompose(root) {
  if (!can('operator')) {
    replace(root, pageHeader(t('nt_compose')), h('p', { class: 'alert' }, t('nt_no_rights')));
    return null;
  }
  // instructions about an outbreak (#/notices/new?outbreak=ID): its id in the
  // notice, its stations chosen, a subject in Vietnamese (what stations read)
  const outbreakId = hashParams().get('outbreak') || '';
  let outbreak = null, obStations = [];
  if (outbreakId) {
    [outbreak, obStations] = await Promise.all([api('GET', `/api/epidemic/outbreaks/${encodeURIComponent(outbreakId)}`),
      api('GET', '/api/stations').then((r) => r.stations)]);
  }
  const field = (id, labelText, input, hint) => h('div', { class: 'field' }, h('label', { for: id }, labelText), input, hint ? h('small', { class: 'muted' }, hint) : null);
  const inp = (id, attrs = {}) => h('input', { class: 'input', id, name: id, ...attrs });
  const number = inp('nt-number', { placeholder: t('nt_number_hint') });
  const docType = h('select', { class: 'input', id: 'nt-doc-type' }, state.labels.doc_types.map((d) => h('option', { value: d.code, selected: d.code === 'cong_van' }, L(d))));
  const issuer = inp('nt-issuer', { value: 'Trung tâm Y tế khu vực', required: true });
  const issueDate = inp('nt-issue-date', { value: todayText(), placeholder: t('date_hint') });
  const subject = inp('nt-subject', { required: true, maxlength: 500, value: outbreak ? `Hướng dẫn xử lý ổ dịch ${outbreak.disease_vi}` : null });
  const body = h('textarea', { class: 'input', id: 'nt-body', rows: 5, maxlength: 20000 });
  const category = h('select', { class: 'input', id: 'nt-category' }, state.labels.categories.map((c) => h('option', { value: c.code, selected: !!outbreak && c.code === 'prevention' }, L(c))));
  const urgName = 'nt-urgency';
  const urgency = h('div', { class: 'radios urgency-choice', role: 'radiogroup', id: 'nt-urgency' }, state.labels.urgencies.map((u) =>
    h('label', { class: `radio urgency-pick urgency-${u.code}` }, h('input', { type: 'radio', name: urgName, value: u.code, checked: u.code === (outbreak ? 'khan' : 'thuong') }), L(u))));
  const legal = inp('nt-legal-basis');
  // the people offered follow the stations chosen (set once the directory is read)
  let drawPersons = () => {};
  const picker = recipientPicker({ allowAll: true, initialMode: outbreak ? 'stations' : 'all', onChange: () => drawPersons() });
  const names = new Map(obStations.map((x) => [x.code, x.directory?.name || x.directory?.commune || x.commune || x.code]));
  if (outbreak) picker.pick((outbreak.fields.stations || []).map((c) => [c, `${c} — ${names.get(c) || c}`]));
  const cc = h('input', { type: 'checkbox', id: 'nt-cc' });
  const responsible = inp('nt-responsible');
  // who answers for it: a person of the directory (the text above: the fallback)
  let people = [];
  try { people = await loadPeople(); } catch (e) { /* the directory unread: free text only */ }
  const person = personPicker('nt-responsible-person', people);
  // the TTYT's people, and the UBND and staff of the stations chosen only
  drawPersons = () => fillPersonPicker(person, peopleFor(people, picker.mode() === 'stations' ? picker.value()?.stations || [] : null));
  drawPersons();
  const task = h('textarea', { class: 'input', id: 'nt-task', rows: 2 });
  const deadline = inp('nt-deadline', { placeholder: t('datetime_hint') });
  const expected = h('textarea', { class: 'input', id: 'nt-expected', rows: 2 });
  const msg = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  const send = h('button', { type: 'submit', class: 'button primary', id: 'nt-send' }, t('nt_send'));
  // the request's size without its files: the text typed, and room for the keys
  const textBytes = () => 2048 + [...form.querySelectorAll('input:not([type="file"]), textarea')].reduce((a, el) => a + utf8Length(el.value) + 16, 0);
  const files = attachmentPicker(textBytes);

  // the browser's own bubbles speak its language, not the console's: each
  // rule's message is set here, in the console's language (custom validity)
  const rules = [[issuer, 'nt_need_issuer'], [subject, 'nt_need_subject']];
  const validate = () => {
    for (const [el, key] of rules) el.setCustomValidity(el.value.trim() ? '' : t(key));
  };
  for (const [el] of rules) el.addEventListener('input', validate);

  const form = h('form', {
    class: 'form compose', onsubmit: async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      const fail = (text) => { msg.textContent = text; msg.hidden = false; msg.scrollIntoView({ block: 'nearest' }); };
      const notice = {
        doc_type: docType.value, issuer: issuer.value.trim(), subject: subject.value.trim(), category: category.value,
        urgency: $(`input[name="${urgName}"]:checked`, form).value, cc_commune_committee: cc.checked,
      };
      if (!notice.subject) return fail(t('nt_need_subject'));
      if (number.value.trim()) notice.number = number.value.trim();
      if (issueDate.value.trim()) {
        const d = parseDate(issueDate.value);
        if (!d) return fail(t('bad_date', issueDate.value));
        notice.issue_date = d;
      }
      if (deadline.value.trim()) {
        const d = parseDateTime(deadline.value);
        if (!d) return fail(t('bad_datetime', deadline.value));
        notice.deadline = d;
      }
      if (person.value) notice.responsible_person = person.value;
      for (const [k, el] of [['body', body], ['legal_basis', legal], ['responsible', responsible], ['task', task], ['expected_result', expected]]) {
        if (el.value.trim()) notice[k] = el.value.trim();
      }
      const recipients = picker.value();
      if (!recipients) return fail(t('nt_need_recipients'));
      if (recipients.communes) notice.communes = recipients.communes;
      if (outbreak) notice.outbreak_id = outbreak.id;
      send.disabled = true;
      send.textContent = t('nt_sending');
      try {
        const payload = { notice, recipients };
        if (files.count()) {
          try { payload.attachments = await files.read(); } catch (e) { return fail(e.message); }
        }
        // the whole request against the daemon's body limit, before it goes
        const size = utf8Length(JSON.stringify(payload));
        if (payload.attachments && size > files.limits.body) return fail(t('at_body_too_big', fmtBytes(size), fmtBytes(files.limits.body)));
        // every station: asked first, with how many that is
        if (recipients.all) {
          let total = '';
          try { total = (await api('GET', '/api/stations?limit=1')).counts.total; } catch (e) { /* asked without the number */ }
          const yes = await confirmDialog({ title: t('nt_confirm_all_title'), message: t('nt_confirm_all', notice.subject, total), ok: t('nt_confirm_send') });
          if (!yes) return undefined;
        }
        const res = await api('POST', '/api/notices', payload);
        toast(t('nt_sent', res.id, res.recipients.length));
        location.hash = `#/notices/${encodeURIComponent(res.id)}`;
      } catch (e) {
        if (e.status === 413) fail(t('at_request_too_big', fmtBytes(files.limits.body)));
        else if (e.status === 422 && /attachment/i.test(e.message)) fail(`${t('at_refused')} ${e.message}`);
        else fail(e.message);
      } finally {
        send.disabled = false;
        send.textContent = t('nt_send');
      }
    },
  },
  msg,
  h('fieldset', {}, h('legend', {}, t('nt_compose')),
    h('div', { class: 'form-row' },
      field('nt-doc-type', t('nt_doc_type'), docType),
      field('nt-number', t('nt_number'), number),
      field('nt-issue-date', t('nt_issue_date'), issueDate, t('date_hint')),
      field('nt-issuer', t('nt_issuer'), issuer)),
    field('nt-subject', t('nt_subject'), subject),
    field('nt-body', t('nt_body'), body),
    h('div', { class: 'form-row' },
      field('nt-category', t('nt_category'), category),
      field('nt-legal-basis', t('nt_legal_basis'), legal)),
    h('div', { class: 'field' }, h('span', { class: 'label' }, t('nt_urgency')), urgency)),
  h('fieldset', { class: 'files' }, h('legend', {}, t('at_legend')), files.el),
  h('fieldset', {}, h('legend', {}, t('nt_recipients')), picker.el,
    h('label', { class: 'check' }, cc, t('nt_cc'))),
  h('fieldset', {}, h('legend', {}, t('nt_action')),
    h('div', { class: 'form-row' },
      field('nt-responsible-person', t('nt_responsible_person'), person),
      field('nt-responsible', t('nt_responsible'), responsible),
      field('nt-deadline', t('nt_deadline'), deadline, t('datetime_hint'))),
    field('nt-task', t('nt_task'), task),
    field('nt-expected', t('nt_expected'), expected)),
  h('div', { class: 'form-actions' }, send, h('a', { class: 'button', href: '#/notices' }, t('cancel'))));
  validate();
  const communes = outbreak ? (outbreak.fields.stations || []).map((c) => obStations.find((x) => x.code === c)?.directory?.commune || c).join(', ') : '';
  replace(root, pageHeader(t('nt_compose')),
    outbreak ? h('p', { class: 'alert alert-warn', id: 'nt-outbreak' }, t('ob_instructions_for', state.lang === 'en' ? outbreak.disease_en : outbreak.disease_vi, communes), ' ',
      h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(outbreak.id)}` }, t('ob_view'))) : null, form);
  subject.focus();
  return null;
}
