// The notices sent and how far each recipient has got with them.

import { state, can } from './state.js';
import { t, L, label, h, replace, fmtDate, fmtDateTime, fmtNum, qs, toast, errorBox, urgencyBadge, stateBadge, pager, table, card, debounce, pageHeader, hashParams, setHashParams, confirmDialog } from './ui.js';
import { api, loadStationNames } from './api.js';
import { paperclip, attachmentTable } from './attachments.js';
import './i18n-epidemic.js';

function countsChips(counts, total) {
  const order = ['delivered', 'acknowledged', 'in_progress', 'done'];
  // each state counts the recipients at least that far along
  const rank = { sent: 0, delivered: 1, acknowledged: 2, in_progress: 3, done: 4 };
  const atLeast = (k) => Object.entries(counts || {}).filter(([s]) => rank[s] !== undefined && rank[s] >= rank[k]).reduce((a, [, n]) => a + n, 0);
  return h('div', { class: 'progress-chips' },
    order.map((k) => h('span', { class: ['chip-state', `chip-${k}`, !atLeast(k) && 'chip-zero'], title: label('states', k) }, `${label('states', k)} ${atLeast(k)}/${total}`)),
    counts?.overdue ? h('span', { class: 'chip-state chip-overdue' }, `${t('nt_overdue')} ${counts.overdue}`) : null,
    counts?.escalated ? h('span', { class: 'chip-state chip-reminded' }, t('nt_reminded_stations', counts.escalated)) : null);
}

// whom to call at the station: its head and telephone, from the directory
function contact(r) {
  const parts = [r.station_head, r.station_phone ? t('nt_phone', r.station_phone) : null].filter(Boolean);
  return parts.length ? h('div', { class: 'contact' }, h('small', {}, t('nt_contact', parts.join(' · ')))) : null;
}

// each reminder sent (when), and when the next goes while nobody has acknowledged
function reminders(r, rk) {
  const sent = r.reminders?.length ? r.reminders : r.escalated_at ? [r.escalated_at] : [];
  const count = Math.max(r.resend_count || 0, sent.length);
  return [
    count ? h('span', { class: ['tag', rk < 2 ? 'tag-warn' : 'tag-muted'] }, t('nt_reminded_n', count)) : null,
    sent.length ? h('ol', { class: 'reminder-list' }, sent.map((at, i) => h('li', {}, h('small', {}, t('nt_reminder_at', count - sent.length + i + 1, fmtDateTime(at)))))) : null,
    r.next_reminder_at && rk < 2 ? h('div', { class: 'next-reminder' }, h('small', {}, t('nt_next_reminder', fmtDateTime(r.next_reminder_at)))) : null,
    !count && !r.next_reminder_at ? h('span', { class: 'muted' }, '·') : null,
  ];
}

export async function viewNotices(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', urgency: p.get('urgency') || '', category: p.get('category') || '', offset: Number(p.get('offset')) || 0, limit: 25 };
  const search = h('input', { type: 'search', class: 'input search', placeholder: t('nt_search'), value: st.q, 'aria-label': t('search') });
  const urg = h('select', { class: 'input', 'aria-label': t('nt_urgency') }, h('option', { value: '' }, t('nt_filter_urgency')),
    state.labels.urgencies.slice().reverse().map((u) => h('option', { value: u.code, selected: st.urgency === u.code }, L(u))));
  const cat = h('select', { class: 'input', 'aria-label': t('nt_category') }, h('option', { value: '' }, t('nt_filter_category')),
    state.labels.categories.map((u) => h('option', { value: u.code, selected: st.category === u.code }, L(u))));
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_notices'), can('operator') ? h('a', { class: 'button primary', href: '#/notices/new', id: 'compose' }, t('nt_compose')) : null),
    h('div', { class: 'toolbar' }, search, urg, cat), results);
  async function load() {
    setHashParams({ q: st.q, urgency: st.urgency, category: st.category, offset: st.offset || '' });
    let res;
    try {
      res = await api('GET', `/api/notices${qs({ q: st.q, urgency: st.urgency, category: st.category, offset: st.offset, limit: st.limit })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    const rows = res.notices.map((n) => h('tr', { class: `urgency-row-${n.urgency}`, dataset: { id: n.id } },
      h('td', {}, h('a', { href: `#/notices/${encodeURIComponent(n.id)}` }, n.number || n.id)),
      h('td', { class: 'subject' }, h('a', { href: `#/notices/${encodeURIComponent(n.id)}` }, n.subject || t('none')),
        n.attachment_count > 0 ? h('span', { class: 'attach-count', title: t('at_count', fmtNum(n.attachment_count)), 'aria-label': t('at_count', fmtNum(n.attachment_count)) }, paperclip(), fmtNum(n.attachment_count)) : null,
        h('br'), h('small', { class: 'muted' }, label('doc_types', n.doc_type))),
      h('td', {}, urgencyBadge(n.urgency), n.recalled_at ? h('span', { class: 'tag tag-bad recalled' }, t('nt_recalled')) : null),
      h('td', {}, h('small', {}, label('categories', n.category))),
      h('td', {}, fmtDateTime(n.sent_at)),
      h('td', { class: 'num' }, fmtNum(n.recipient_count || 0)),
      h('td', {}, countsChips(n.counts, n.recipient_count || 0))));
    replace(results, table([t('nt_number'), t('nt_subject'), t('nt_urgency'), t('nt_category'), t('nt_list_sent'), { text: t('nt_list_recipients'), attrs: { class: 'num' } }, t('nt_list_progress')], rows),
      pager(res, (off) => { st.offset = off; load(); }));
  }
  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  urg.addEventListener('change', () => { st.urgency = urg.value; st.offset = 0; load(); });
  cat.addEventListener('change', () => { st.category = cat.value; st.offset = 0; load(); });
  await load();
  return { refresh: load, events: ['notice', 'record', 'escalation'], poll: 30000 };
}

export async function viewNotice(root, id) {
  const p = hashParams();
  const st = { state: p.get('state') || 'all', q: p.get('q') || '', offset: Number(p.get('offset')) || 0, limit: 100 };
  const head = h('div', {});
  const stateSel = h('select', { class: 'input', id: 'matrix-state', 'aria-label': t('nt_state_filter') },
    ['all', 'pending', 'sent', 'delivered', 'acknowledged', 'in_progress', 'done', 'overdue', 'escalated'].map((k) =>
      h('option', { value: k, selected: st.state === k }, k === 'all' ? t('all') : k === 'pending' ? t('nt_pending') : k === 'overdue' ? t('nt_overdue') : k === 'escalated' ? t('nt_escalated') : label('states', k))));
  const search = h('input', { type: 'search', class: 'input search', placeholder: t('search_stations'), value: st.q, 'aria-label': t('search') });
  const matrix = h('div', { class: 'results' });
  replace(root, head, card(t('nt_matrix'), h('div', { class: 'toolbar' }, search, stateSel), matrix));
  let first = true;
  async function load() {
    if (!first) setHashParams({ state: st.state !== 'all' && st.state, q: st.q, offset: st.offset || '' });
    let n;
    try {
      n = await api('GET', `/api/notices/${encodeURIComponent(id)}${qs({ state: st.state, q: st.q, offset: st.offset, limit: st.limit })}`);
    } catch (e) {
      if (first) throw e;
      replace(matrix, errorBox(e));
      return;
    }
    const f = n.fields;
    if (f.source_station) await loadStationNames().catch(() => null);
    const dl = h('dl', { class: 'facts facts-wide' }, [
      [t('nt_number'), f.number], [t('nt_doc_type'), label('doc_types', f.doc_type)], [t('nt_issuer'), f.issuer],
      [t('nt_issue_date'), fmtDate(f.issue_date)], [t('nt_urgency'), urgencyBadge(f.urgency)], [t('nt_category'), label('categories', f.category)],
      [t('nt_legal_basis'), f.legal_basis], [t('nt_cc'), f.cc_commune_committee ? t('yes') : t('no')],
      [t('nt_responsible_person'), f.responsible_person_label || f.responsible_person], [t('nt_responsible'), f.responsible], [t('nt_task'), f.task], [t('nt_deadline'), f.deadline ? fmtDateTime(f.deadline) : null],
      [t('nt_expected'), f.expected_result], [t('nt_list_sent'), fmtDateTime(f.sent_at)], [t('nt_sent_by'), f.sent_by],
      [t('nt_list_recipients'), `${fmtNum(n.recipients_total)}${f.communes?.length ? ` (${f.communes.join(', ')})` : ''}`],
      // the station by its name in the directory (loaded above), never its code
      f.source_report ? [t('nt_source_report'), `${f.source_report} (${state.stationNames?.get(f.source_station) || f.source_station || ''})`] : null,
      // an outbreak report passed on keeps its epidemiological fields
      [t('rp_disease'), f.disease], [t('rp_cases'), f.cases !== undefined ? fmtNum(f.cases) : null], [t('rp_deaths'), f.deaths !== undefined ? fmtNum(f.deaths) : null],
      [t('ob_onset'), f.onset_date ? fmtDate(f.onset_date) : null], [t('rp_location'), f.location],
      f.outbreak_id ? [t('ob_link'), h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(f.outbreak_id)}`, id: 'nt-outbreak-link' }, t('ob_view'))] : null,
    ].filter((x) => x && x[1] !== undefined && x[1] !== null && x[1] !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    const recall = can('operator') && !f.recalled_at ? h('button', {
      type: 'button', class: 'button danger', id: 'nt-recall', onclick: async () => {
        const ans = await confirmDialog({ title: t('nt_recall_title'), message: t('nt_recall_message'), ok: t('nt_recall_ok'), reason: t('nt_recall_reason'), danger: true });
        if (!ans) return;
        try {
          await api('POST', `/api/notices/${encodeURIComponent(id)}/recall`, { reason: ans.reason });
          toast(t('nt_recall_done', f.number || id));
        } catch (e) {
          toast(e.message, 'error');
        }
        await load();
      },
    }, t('nt_recall')) : null;
    // the notice as an official document, A4, to print (prominent when copied to the UBND xã)
    const pdf = !f.recalled_at ? h('a', {
      class: ['button', f.cc_commune_committee && 'primary'], id: 'nt-pdf', download: '',
      href: `/api/notices/${encodeURIComponent(id)}/pdf`, title: t('nt_print_pdf_title'),
    }, t('nt_print_pdf')) : null;
    replace(head,
      pageHeader(f.subject || id, pdf, recall, h('a', { class: 'button', href: '#/notices' }, t('back'))),
      f.recalled_at ? h('div', { class: 'alert alert-error recalled-banner', id: 'nt-recalled', role: 'status' },
        h('strong', {}, t('nt_recalled_banner', fmtDateTime(f.recalled_at), f.recalled_by || t('none'))),
        f.recall_reason ? `${t('nt_recall_reason')}: ${f.recall_reason}` : null) : null,
      card(null, dl, f.body ? h('div', { class: 'body-text' }, f.body) : null,
        n.attachments?.length ? attachmentTable(id, n.attachments) : null,
        h('div', { class: 'summary' }, countsChips(n.counts, n.recipients_total))));
    const tick = (at) => (at ? h('span', { class: 'tick' }, '✓ ', h('small', {}, fmtDateTime(at))) : h('span', { class: 'muted' }, '·'));
    const rank = { sent: 0, delivered: 1, acknowledged: 2, in_progress: 3, done: 4 };
    const rows = n.recipients.map((r) => {
      const rk = rank[r.state] ?? 0;
      const overdue = r.overdue && rk < 4;
      return h('tr', { class: [overdue && 'row-alert', r.escalated_at && rk < 2 && 'row-warn'], dataset: { station: r.station, state: r.state } },
        h('th', { scope: 'row' }, h('a', { href: `#/stations/${encodeURIComponent(r.station)}` }, r.commune || r.station), h('br'), h('small', { class: 'muted' }, r.station),
          contact(r)),
        h('td', {}, stateBadge(r.state)),
        h('td', { class: 'cell-delivered' }, rk >= 1 ? tick(r.delivered_at || r.acknowledged_at || r.progress_at || r.done_at || true) : tick(null)),
        h('td', { class: 'cell-acknowledged' }, rk >= 2 ? tick(r.acknowledged_at || true) : tick(null), r.acknowledged_by ? h('div', { class: 'ack-by' }, r.acknowledged_by) : null),
        h('td', { class: 'cell-in-progress' }, rk >= 3 ? tick(r.progress_at || true) : tick(null)),
        h('td', { class: 'cell-done' }, rk >= 4 ? tick(r.done_at || true) : tick(null)),
        h('td', { class: overdue ? 'bad' : null }, overdue ? h('span', { class: 'tag tag-bad' }, t('nt_overdue')) : h('span', { class: 'muted' }, '·')),
        h('td', { class: 'cell-reminders' }, reminders(r, rk)),
        h('td', { class: 'note' }, r.report || r.progress_note || ''));
    });
    replace(matrix,
      table([t('nt_station'), t('cf_state'), label('states', 'delivered'), label('states', 'acknowledged'), label('states', 'in_progress'), label('states', 'done'), t('nt_overdue'), t('nt_reminders'), t('nt_note')], rows, { class: 'matrix' }),
      pager({ offset: st.offset, limit: st.limit, matched: n.recipients_matched }, (off) => { st.offset = off; load(); }));
    first = false;
  }
  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  stateSel.addEventListener('change', () => { st.state = stateSel.value; st.offset = 0; load(); });
  await load();
  return { refresh: load, events: ['notice', 'record', 'escalation'], poll: 20000 };
}
