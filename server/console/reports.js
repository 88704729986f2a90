// What stations report, which the district may pass on to other stations as a notice.

import { state, can } from './state.js';
import { t, L, label, h, replace, fmtDate, fmtDateTime, fmtNum, qs, toast, errorBox, urgencyBadge, pager, debounce, pageHeader, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';
import { refreshBadges } from './shell.js';
import { recipientPicker } from './recipients.js';
import { neighboursOf } from './outbreaks.js';

export async function viewReports(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', kind: p.get('kind') || '', unread: p.get('unread') === '1', offset: Number(p.get('offset')) || 0, limit: 25 };
  const search = h('input', { type: 'search', class: 'input search', placeholder: t('search'), value: st.q, 'aria-label': t('search') });
  const kind = h('select', { class: 'input', 'aria-label': t('rp_kind') }, h('option', { value: '' }, t('rp_all_kinds')),
    state.labels.report_kinds.map((k) => h('option', { value: k.code, selected: st.kind === k.code }, L(k))));
  const unread = h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: st.unread, onchange: (ev) => { st.unread = ev.target.checked; st.offset = 0; load(); } }), t('rp_only_unread'));
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_reports')), h('div', { class: 'toolbar' }, search, kind, unread), results);
  // a report named in the address (from the overview) is shown opened
  const open = new Set(p.get('open') ? [p.get('open')] : []);
  async function load() {
    setHashParams({ q: st.q, kind: st.kind, unread: st.unread ? '1' : '', offset: st.offset || '' });
    let res;
    try {
      res = await api('GET', `/api/reports${qs({ q: st.q, kind: st.kind, unread: st.unread ? '1' : '', offset: st.offset, limit: st.limit })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    const items = res.reports.map((r) => reportItem(r, open));
    replace(results, items.length ? h('div', { class: 'report-list' }, items) : h('p', { class: 'muted' }, t('rp_none')),
      pager(res, (off) => { st.offset = off; load(); }));
  }
  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  kind.addEventListener('change', () => { st.kind = kind.value; st.offset = 0; load(); });
  await load();
  // never under the hands of someone choosing where to pass a report on, nor,
  // among the unread ones only, of someone reading one (opened, it leaves that list)
  const refresh = () => (results.querySelector('.redistribute:not([hidden])') || (st.unread && results.querySelector('.report-body:not([hidden])')) ? null : load());
  return { refresh, events: ['record', 'notice'], poll: 30000 };
}

// Opening an urgent report nobody opened tells the district (once: the
// overview and the menu stop flagging it for everyone).
async function markOpened(r, tag) {
  if (!r.urgent || r.opened) return;
  try {
    const res = await api('POST', `/api/reports/${encodeURIComponent(r.id)}/open`, {});
    r.opened = res.opened;
    if (tag) tag.hidden = true;
    refreshBadges();
  } catch (e) {
    toast(e.message, 'error');
  }
}

function reportItem(r, open) {
  const f = r.fields;
  const unreadTag = h('span', { class: 'tag tag-bad', hidden: !r.urgent || !!r.opened }, t('rp_unread'));
  if (open.has(r.id)) markOpened(r, unreadTag);
  const details = h('div', { class: 'report-body', hidden: !open.has(r.id) },
    h('dl', { class: 'facts' }, [
      [t('rp_disease'), f.disease], [t('rp_cases'), f.cases !== undefined ? fmtNum(f.cases) : null], [t('rp_deaths'), f.deaths !== undefined ? fmtNum(f.deaths) : null],
      [t('rp_location'), f.location], [t('rp_reported_by'), f.reported_by], [t('nt_category'), f.category ? label('categories', f.category) : null],
      ['onset', f.onset_date ? fmtDate(f.onset_date) : null],
    ].filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h('dt', {}, k === 'onset' ? (state.lang === 'en' ? 'Onset' : 'Khởi phát') : k), h('dd', {}, v)])),
    f.body ? h('div', { class: 'body-text' }, f.body) : null,
    r.opened ? h('p', { class: 'muted' }, t('rp_opened', r.opened.by, fmtDateTime(r.opened.at_ms))) : null,
    r.redistributed_as?.length ? h('p', {}, `${t('rp_redistributed')}: `, r.redistributed_as.map((nid, i) => [i ? ', ' : '', h('a', { href: `#/notices/${encodeURIComponent(nid)}` }, nid)])) : null,
    f.outbreak_id ? h('p', {}, `${t('ob_link')}: `, h('a', { href: `#/epidemic/outbreaks/${encodeURIComponent(f.outbreak_id)}`, class: 'rp-outbreak' }, t('ob_view'))) : null,
    can('operator') && /^outbreak_/.test(f.kind || '') && f.disease && !f.outbreak_id
      ? h('a', { class: 'button rp-open-outbreak', href: `#/epidemic/open${qs({ report: r.id })}` }, t('ob_open')) : null,
    can('operator') ? redistributePanel(r) : null);
  return h('article', { class: ['report', f.urgency && `urgency-row-${f.urgency}`], dataset: { id: r.id } },
    h('button', {
      type: 'button', class: 'report-head', 'aria-expanded': open.has(r.id) ? 'true' : 'false',
      onclick: (ev) => {
        details.hidden = !details.hidden;
        if (details.hidden) open.delete(r.id); else { open.add(r.id); markOpened(r, unreadTag); }
        ev.currentTarget.setAttribute('aria-expanded', details.hidden ? 'false' : 'true');
      },
    },
    h('span', { class: 'report-kind' }, label('report_kinds', f.kind)),
    f.urgency ? urgencyBadge(f.urgency) : null,
    unreadTag,
    h('span', { class: 'report-subject' }, f.subject || r.id),
    h('span', { class: 'report-from' }, `${r.commune || r.owner} · ${fmtDateTime(f.reported_at)}`),
    r.redistributed_as?.length ? h('span', { class: 'tag tag-good' }, `↗ ${r.redistributed_as.length}`) : null),
    details);
}

function redistributePanel(r) {
  const picker = recipientPicker({ allowAll: true, initialMode: 'stations' });
  const urg = h('select', { class: 'input', 'aria-label': t('nt_urgency') },
    state.labels.urgencies.map((u) => h('option', { value: u.code, selected: u.code === (r.fields.urgency || 'khan') }, L(u))));
  const panel = h('div', { class: 'redistribute', hidden: true },
    h('h3', {}, t('rp_redistribute_title')), picker.el,
    h('div', { class: 'field inline' }, h('label', {}, t('nt_urgency')), urg),
    h('button', {
      type: 'button', class: 'button primary', onclick: async () => {
        const recipients = picker.value();
        if (!recipients) { toast(t('nt_need_recipients'), 'error'); return; }
        try {
          const res = await api('POST', `/api/reports/${encodeURIComponent(r.id)}/redistribute`, { recipients, notice: { urgency: urg.value } });
          toast(t('rp_done', res.id, res.recipients.length));
          panel.hidden = true;
        } catch (e) {
          toast(e.message, 'error');
        }
      },
    }, t('rp_send')));
  // an outbreak report goes first to the reporting commune's neighbours (the directory's)
  let preset = !/^outbreak_/.test(r.fields.kind || '');
  const open = async () => {
    panel.hidden = !panel.hidden;
    if (panel.hidden || preset) return;
    preset = true;
    try {
      const stations = (await api('GET', '/api/stations')).stations;
      const name = (c) => { const x = stations.find((y) => y.code === c); return x.directory?.name || x.directory?.commune || x.commune || c; };
      if (!picker.picked().length) picker.pick(neighboursOf(r.owner, stations).map((c) => [c, `${c} — ${name(c)}`]));
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  return [h('button', { type: 'button', class: 'button', onclick: open }, t('rp_redistribute')), panel];
}
