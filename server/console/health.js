// The daemon's own counters, to see that the service itself is well.

import { can } from './state.js';
import { t, h, s, replace, fmtDateTime, fmtNum, fmtBytes, fmtDuration, card, stat, pageHeader } from './ui.js';
import { api } from './api.js';
import { auditTable } from './audit.js';

export async function viewHealth(root) {
  const samples = [];
  async function draw() {
    const ov = await api('GET', '/api/overview');
    const sv = ov.service;
    samples.push({ t: ov.now_ms, n: sv.changes_in + sv.changes_out, i: sv.changes_in, o: sv.changes_out });
    if (samples.length > 120) samples.shift();
    let rateIn = null, rateOut = null;
    if (samples.length > 1) {
      const a = samples[samples.length - 2], b = samples[samples.length - 1];
      const mins = Math.max(1e-3, (b.t - a.t) / 60000);
      rateIn = (b.i - a.i) / mins;
      rateOut = (b.o - a.o) / mins;
    }
    let audit = null;
    if (can('admin')) {
      try { audit = await api('GET', '/api/audit?limit=15'); } catch (e) { audit = null; }
    }
    const st = ov.stations;
    replace(root, pageHeader(t('nav_health')),
      h('div', { class: 'stats' },
        stat(t('hl_stations'), `${fmtNum(st.online)} / ${fmtNum(st.total)}`, st.silent ? 'bad' : null, '#/stations'),
        stat(t('hl_connections'), fmtNum(sv.connections)),
        stat(t('hl_sessions'), fmtNum(sv.sessions)),
        stat(t('hl_changes_in'), fmtNum(sv.changes_in), null),
        stat(t('hl_changes_out'), fmtNum(sv.changes_out), null),
        stat(t('hl_db'), fmtBytes(ov.db_bytes)),
        stat(t('hl_records'), fmtNum(ov.records)),
        stat(t('hl_errors'), fmtNum(sv.errors), sv.errors ? 'warn' : 'good')),
      h('div', { class: 'columns' },
        card(t('hl_throughput'), sparkline(samples),
          h('p', { class: 'muted' }, `${t('hl_changes_in')}: ${rateIn === null ? t('none') : t('hl_rate', fmtNum(rateIn, 1))} · ${t('hl_changes_out')}: ${rateOut === null ? t('none') : t('hl_rate', fmtNum(rateOut, 1))}`)),
        card(t('dash_service'), h('dl', { class: 'facts' }, [
          [t('hl_version'), sv.version], [t('hl_uptime'), fmtDuration(sv.uptime_s)],
          [t('hl_bytes'), `${fmtBytes(sv.bytes_in)} / ${fmtBytes(sv.bytes_out)}`],
          [t('hl_protocol_errors'), fmtNum(sv.protocol_errors)], [t('hl_handshakes_failed'), fmtNum(sv.handshakes_failed)],
          [t('hl_rejected'), fmtNum(sv.changes_rejected)], [t('hl_rate_limited'), fmtNum(sv.rate_limited)],
          [t('hl_lag'), `${sv.loop_lag_p50_ms} / ${sv.loop_lag_p99_ms} ms`],
          // people's acknowledgements, counted over the handling records (one per
          // station a notice went to); the frames are the wire's, re-sends included
          [t('hl_notice_acks'), `${fmtNum(ov.notices.acknowledged)} / ${fmtNum(ov.notices.recipients)}`],
          [t('hl_notice_frames'), `${fmtNum(sv.notices_sent)} / ${fmtNum(sv.notices_acked)}`],
          [t('hl_streams'), fmtNum(sv.console_streams)], [t('hl_admin_requests'), fmtNum(sv.admin_requests)],
          [t('hl_last_seq'), fmtNum(ov.last_seq)],
        ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])))),
      audit ? card(t('nav_audit'), auditTable(audit.entries), h('a', { class: 'more', href: '#/audit' }, t('show_all'))) : null,
      h('p', { class: 'muted' }, t('updated_at', fmtDateTime(ov.now_ms))));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), poll: 5000, events: [] };
}

function sparkline(samples) {
  const W = 520, H = 90;
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark', role: 'img' });
  if (samples.length < 2) return h('div', { class: 'chart-wrap' }, g);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const mins = Math.max(1e-3, (samples[i].t - samples[i - 1].t) / 60000);
    rates.push((samples[i].n - samples[i - 1].n) / mins);
  }
  const max = Math.max(1, ...rates);
  const pts = rates.map((r, i) => `${(i * W) / Math.max(1, rates.length - 1)},${H - 4 - ((H - 8) * r) / max}`).join(' ');
  g.append(s('polyline', { points: pts, class: 'series' }));
  g.append(s('text', { x: 4, y: 12, class: 'axis-label' }, t('hl_rate', fmtNum(max, 0))));
  return h('div', { class: 'chart-wrap' }, g);
}
