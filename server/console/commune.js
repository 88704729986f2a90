// The commune's page (issue 18): what the UBND xã's officer sees of their
// commune - its station's status, the notices addressed to it (those copied
// to the UBND acknowledged from here), the tasks and how far they are, its
// targets - and the monitor's page (health only). The server decides what
// such an account may read (server/admin/ts_admin_scope.c); this page only
// asks for that.

import { state } from './state.js';
import { t, h, label, replace, fmtDateTime, fmtAgo, fmtPercent, toast, errorBox, statusBadge, urgencyBadge, table, card, pageHeader } from './ui.js';
import { api } from './api.js';

function progressBar(pct) {
  return h('progress', { max: 100, value: Math.max(0, Math.min(100, pct || 0)) }, `${pct || 0} %`);
}

// acknowledged for the UBND, or the button that does it
function ackCell(n, reload) {
  if (!n.cc_commune_committee) return h('span', { class: 'muted' }, '—');
  if (n.commune_ack) return h('span', { class: 'tag tag-good' }, t('cm_acked', fmtDateTime(n.commune_ack.at_ms)));
  if (state.me.role !== 'commune' || n.recalled_at) return h('span', { class: 'tag' }, t('cm_cc'));
  return h('button', {
    type: 'button', class: 'button primary cm-ack', onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await api('POST', `/api/notices/${encodeURIComponent(n.id)}/commune-ack`, {});
        toast(t('cm_ack_done', n.number || n.id));
        reload();
      } catch (e) {
        ev.target.disabled = false;
        toast(e.message, 'error');
      }
    },
  }, t('cm_ack'));
}

export async function viewCommune(root) {
  const station = h('div', {}), notices = h('div', {}), tasks = h('div', {}), targets = h('div', {});
  const head = h('div', {}, pageHeader(t('cm_title', state.me.communes || '')));
  replace(root, head, h('p', { class: 'muted' }, t('cm_intro')), station, notices, tasks, targets);
  async function load() {
    const codes = state.me.stations || [];
    const [sts, ns, tk, tg] = await Promise.all([
      Promise.all(codes.map((c) => api('GET', `/api/stations/${encodeURIComponent(c)}`))).catch((e) => e),
      api('GET', '/api/notices?limit=50').catch((e) => e),
      api('GET', '/api/tasks').catch((e) => e),
      api('GET', '/api/targets').catch((e) => e),
    ]);
    // the commune by its name, from its station's directory entry
    const name = !(sts instanceof Error) && sts[0]?.directory?.commune;
    if (name) replace(head, pageHeader(t('cm_title', name)));
    replace(station, sts instanceof Error ? errorBox(sts) : card(t('cm_station'), table(
      [t('cm_station_name'), t('cm_station_status'), t('cm_last_sync')],
      sts.map((s) => h('tr', {}, h('td', {}, s.directory?.name || s.code), h('td', {}, statusBadge(s.status, s.live)),
        h('td', {}, s.last_sync_ms ? fmtAgo(s.last_sync_ms) : t('none')))), { empty: t('cm_no_station') })));
    replace(notices, ns instanceof Error ? errorBox(ns) : card(t('cm_notices'), table(
      [t('nt_number'), t('nt_subject'), t('nt_urgency'), t('nt_list_sent'), t('cm_handling'), t('cm_ubnd'), t('nt_print_pdf')],
      ns.notices.map((n) => h('tr', { class: 'cm-notice', 'data-id': n.id },
        h('td', {}, n.number || ''), h('td', {}, h('a', { href: `#/notices/${encodeURIComponent(n.id)}` }, n.subject)),
        h('td', {}, urgencyBadge(n.urgency)), h('td', {}, fmtDateTime(n.sent_at)),
        h('td', {}, Object.entries(n.counts || {}).filter(([k]) => k !== 'overdue' && k !== 'escalated').map(([k, v]) => `${label('states', k)}: ${v}`).join(', ')),
        h('td', {}, ackCell(n, load)),
        h('td', {}, n.recalled_at ? null : h('a', { class: ['button', 'small', 'cm-pdf', n.cc_commune_committee && 'primary'], download: '', href: `/api/notices/${encodeURIComponent(n.id)}/pdf`, title: t('nt_print_pdf_title') }, t('nt_print_pdf'))))), { empty: t('cm_no_notices') })));
    replace(tasks, tk instanceof Error ? errorBox(tk) : card(t('cm_tasks'), table(
      [t('nav_tasks'), t('cm_progress')],
      tk.tasks.map((x) => h('tr', {}, h('td', {}, h('a', { href: `#/tasks/${encodeURIComponent(x.id)}` }, `${x.id} · ${x.fields?.task || ''}`)),
        h('td', {}, progressBar(x.progress?.percent), ` ${x.progress?.percent || 0} %`))), { empty: t('cm_no_tasks') })));
    replace(targets, tg instanceof Error ? errorBox(tg) : card(t('nav_targets'), table(
      [t('cm_target'), t('cm_value')],
      (tg.communes[0] ? tg.targets.filter((d) => tg.communes[0].figures[d.code]) : []).map((d) => {
        const f = tg.communes[0].figures[d.code];
        return h('tr', {}, h('td', {}, state.lang === 'en' ? d.en : d.vi), h('td', {}, f.value === null || f.value === undefined ? t('none') : d.unit === '%' ? fmtPercent(f.value) : String(f.value)));
      }), { empty: t('tg_no_data') })));
  }
  await load();
  return { refresh: load, poll: 60000 };
}

// A monitor's account reads the service's health and nothing else.
export async function viewMonitor(root) {
  let hl;
  try { hl = await api('GET', '/api/health'); } catch (e) { replace(root, errorBox(e)); return null; }
  replace(root, pageHeader(t('nav_health')), h('p', { class: 'muted' }, t('mon_intro')),
    h('dl', { class: 'facts' }, Object.entries(hl).map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])));
  return null;
}
