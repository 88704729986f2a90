// The first page: what needs the district's attention now, at a glance.

import { t, L, tableLabel, h, replace, fmtDate, fmtDateTime, fmtAgo, fmtNum, fmtPercent, fmtBytes, fmtDuration, statusBadge, urgencyBadge, stateBadge, table, card, stat, pageHeader } from './ui.js';
import { api } from './api.js';
import { alertKind, alertDays, alertPlace, diseaseName } from './epidemic.js';

export async function viewDashboard(root) {
  async function draw() {
    const [ov, attention, esc, conflicts, targets, reports, epi] = await Promise.all([
      api('GET', '/api/overview'),
      api('GET', '/api/stations?filter=attention&sort=status&limit=8'),
      api('GET', '/api/escalations?limit=8'),
      api('GET', '/api/conflicts?limit=6'),
      api('GET', '/api/targets?limit=1'),
      api('GET', '/api/reports?unread=1&limit=5'),
      api('GET', '/api/epidemic/alerts?limit=5'),
    ]);
    const st = ov.stations, n = ov.notices, sv = ov.service;
    const stats = h('div', { class: 'stats' },
      stat(t('dash_stations_online'), `${fmtNum(st.online)} / ${fmtNum(st.total)}`, st.online === st.total ? 'good' : null, '#/stations'),
      stat(t('dash_silent'), fmtNum(st.silent), st.silent ? 'bad' : 'good', '#/stations?filter=silent'),
      stat(t('dash_offline'), fmtNum(st.offline), st.offline ? 'warn' : null, '#/stations?filter=offline'),
      stat(t('dash_conflicts'), fmtNum(ov.conflicts_open), ov.conflicts_open ? 'warn' : 'good', '#/conflicts?status=open'),
      stat(t('dash_urgent'), fmtNum(n.urgent_unacknowledged), n.urgent_unacknowledged ? 'bad' : 'good', '#/notices'),
      stat(t('dash_reports_unread'), fmtNum(ov.reports.urgent_unread), ov.reports.urgent_unread ? 'bad' : 'good', '#/reports?unread=1'),
      stat(t('dash_epidemic'), fmtNum(ov.epidemic_alerts_open ?? epi.open), (ov.epidemic_alerts_open ?? epi.open) ? 'bad' : 'good', '#/epidemic'),
      stat(t('dash_overdue'), fmtNum(n.overdue), n.overdue ? 'bad' : 'good', '#/tasks'),
      stat(t('dash_errors'), fmtNum(sv.errors), sv.errors ? 'warn' : null, '#/health'));

    const stRows = attention.stations.map((x) => h('tr', { class: `row-${x.status}` },
      h('td', {}, statusBadge(x.status, x.live)),
      h('td', {}, h('a', { href: `#/stations/${encodeURIComponent(x.code)}` }, x.directory?.name || x.code)),
      h('td', {}, fmtDateTime(x.last_seen_ms), h('br'), h('small', { class: 'muted' }, fmtAgo(x.last_seen_ms)))));
    const stationsCard = card(t('dash_silent_list'),
      attention.stations.length
        ? table([t('st_status'), t('st_name'), t('st_last_sync')], stRows)
        : h('p', { class: 'good-text' }, t('dash_silent_none')),
      attention.matched > attention.stations.length ? h('a', { class: 'more', href: '#/stations?filter=attention' }, `${t('show_all')} (${fmtNum(attention.matched)})`) : null);

    const escRows = esc.items.map((x) => h('tr', { class: x.overdue || x.urgent_unacknowledged ? 'row-alert' : null },
      h('td', {}, urgencyBadge(x.fields.urgency)),
      h('td', {}, x.fields.notice_id
        ? h('a', { href: `#/notices/${encodeURIComponent(x.fields.notice_id)}` }, x.subject || x.fields.notice_id)
        : h('a', { href: `#/tasks/${encodeURIComponent(x.fields.task_id)}` }, x.subject || x.fields.task_id)),
      h('td', {}, x.commune || x.station),
      h('td', {}, stateBadge(x.fields.state), x.overdue ? h('span', { class: 'tag tag-bad' }, t('nt_overdue')) : null)));
    const escCard = card(t('dash_urgent_list'),
      esc.items.length ? table([t('nt_urgency'), t('nt_subject'), t('nt_station'), t('cf_state')], escRows) : h('p', { class: 'good-text' }, t('dash_urgent_none')),
      esc.matched > esc.items.length ? h('a', { class: 'more', href: '#/notices' }, `${t('show_all')} (${fmtNum(esc.matched)})`) : null);

    // urgent reports from stations, until someone opens them
    const rpRows = reports.reports.map((r) => h('tr', { class: 'row-alert' },
      h('td', {}, urgencyBadge(r.fields.urgency)),
      h('td', {}, h('a', { href: `#/reports?open=${encodeURIComponent(r.id)}` }, r.fields.subject || r.id)),
      h('td', {}, r.commune || r.station),
      h('td', {}, fmtDateTime(r.fields.reported_at))));
    const rpCard = card(t('dash_reports_list'),
      rpRows.length ? table([t('nt_urgency'), t('rp_subject'), t('rp_station'), t('rp_reported')], rpRows) : h('p', { class: 'good-text' }, t('dash_reports_none')),
      reports.matched > rpRows.length ? h('a', { class: 'more', href: '#/reports?unread=1' }, `${t('show_all')} (${fmtNum(reports.matched)})`) : null);

    // epidemic alerts nobody acknowledged yet, the newest first
    const epiRows = epi.alerts.map((a) => h('tr', { class: 'row-alert', dataset: { id: String(a.id) } },
      h('td', {}, h('a', { href: '#/epidemic' }, alertKind(a))),
      h('td', {}, diseaseName(a)),
      h('td', {}, alertPlace(a)),
      h('td', { class: 'nowrap' }, alertDays(a))));
    const epiCard = card(t('dash_epidemic'),
      epiRows.length ? table([t('ep_alert'), t('ep_disease'), t('ep_commune'), t('ep_days')], epiRows, { class: 'epi-alerts-dash' }) : h('p', { class: 'good-text' }, t('dash_epidemic_none')),
      epi.open > epiRows.length ? h('a', { class: 'more', href: '#/epidemic' }, `${t('show_all')} (${fmtNum(epi.open)})`) : null);

    const cfRows = conflicts.conflicts.map((c) => h('tr', {},
      h('td', {}, h('a', { href: `#/conflicts/${c.id}` }, `#${c.id}`)),
      h('td', {}, `${tableLabel(c.table)} · ${c.record}`),
      h('td', {}, c.field === '_deleted' ? t('cf_deleted') : c.field),
      h('td', {}, fmtDateTime(c.detected_at_ms))));
    const cfCard = card(t('dash_conflict_list'),
      conflicts.conflicts.length ? table([t('cf_id'), t('cf_record'), t('cf_field'), t('cf_detected')], cfRows) : h('p', { class: 'good-text' }, t('dash_conflict_none')),
      ov.conflicts_open > conflicts.conflicts.length ? h('a', { class: 'more', href: '#/conflicts?status=open' }, `${t('show_all')} (${fmtNum(ov.conflicts_open)})`) : null);

    const tiles = h('div', { class: 'target-tiles' }, targets.targets.map((tg) => {
      const f = targets.district[tg.code];
      return h('a', { class: ['tile', f.percent === null ? 'nodata' : f.met ? 'met' : 'notmet'], href: `#/targets?indicator=${tg.code}` },
        h('span', { class: 'tile-value' }, fmtPercent(f.percent)),
        h('span', { class: 'tile-label' }, L(tg)),
        // what the plan in force asks (nothing when it does not name the indicator)
        h('span', { class: 'tile-target' }, !tg.op ? t('tg_not_in_plan') : tg.op === 'd' ? t('tg_direction')
          : `${t('tg_target')} ${tg.op === '=' ? '100 %' : tg.op === 'r' ? `${fmtNum(tg.threshold, 1)}–${fmtNum(tg.high, 1)}` : `${tg.op} ${fmtNum(tg.threshold, 1)} %`}`));
    }));
    const tgCard = card(t('dash_targets'), targets.day ? h('p', { class: 'muted' }, t('tg_day', fmtDate(targets.day))) : h('p', { class: 'muted' }, t('tg_no_data')), tiles);

    const svcLine = h('p', { class: 'muted service-line' },
      `${t('dash_service')}: ${t('hl_version')} ${sv.version} · ${t('hl_uptime')} ${fmtDuration(sv.uptime_s)} · `,
      `${t('hl_connections')} ${fmtNum(sv.connections)} · `, t('dash_db', fmtBytes(ov.db_bytes), fmtNum(ov.records)),
      ` · ${t('updated_at', fmtDateTime(ov.now_ms))}`);

    replace(root, pageHeader(t('nav_dashboard')), stats,
      h('div', { class: 'columns' }, h('div', {}, stationsCard, cfCard), h('div', {}, epiCard, rpCard, escCard)),
      tgCard, svcLine);
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), poll: 15000 };
}
