// The district's targets by commune and over time, to see where they are not met.

import { can, state } from './state.js';
import { t, L, h, s, replace, todayText, fmtDate, fmtDateTime, fmtNum, fmtPercent, qs, toast, errorBox, pager, table, card, debounce, pageHeader, hashParams, setHashParams } from './ui.js';
import { api } from './api.js';
import './i18n-plans.js';

const UNIT_DIGITS = { '%': 1, c: 2, b: 1 };

function targetShort(tg) {
  if (!tg.op) return t('tg_not_in_plan');
  if (tg.op === 'd') return t('tg_direction');
  const unit = tg.unit === '%' ? ' %' : '';
  if (tg.op === 'r') return `${fmtNum(tg.threshold, UNIT_DIGITS[tg.unit] || 1)}–${fmtNum(tg.high, UNIT_DIGITS[tg.unit] || 1)}${unit}`;
  return `${tg.op === '=' ? '= 100' : `${tg.op} ${fmtNum(tg.threshold, 1)}`}${unit}`;
}

// A figure in its target's unit: a percentage, children per woman, boys per 100 girls.
function fmtValue(tg, v) {
  if (v === null || v === undefined) return t('none');
  return tg.unit === '%' ? fmtPercent(v) : fmtNum(v, UNIT_DIGITS[tg.unit] || 1);
}

function stateTag(f) {
  if (f.value === null || f.value === undefined) return t('none');
  if (f.met === null) return h('span', { class: 'tag' }, t('tg_direction'));
  return f.met ? h('span', { class: 'tag tag-good' }, t('tg_met')) : h('span', { class: 'tag tag-bad' }, t('tg_not_met'));
}

export async function viewTargets(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', only: p.get('only') || 'all', offset: Number(p.get('offset')) || 0, limit: 50, indicator: p.get('indicator') || '', station: p.get('station') || '' };
  const search = h('input', { type: 'search', class: 'input search', placeholder: t('search_stations'), value: st.q, 'aria-label': t('search') });
  const only = h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: st.only === 'unmet', onchange: (ev) => { st.only = ev.target.checked ? 'unmet' : 'all'; st.offset = 0; load(); } }), t('tg_unmet_only'));
  const refreshBtn = can('operator') ? h('button', {
    type: 'button', class: 'button', onclick: async () => {
      try { await api('POST', '/api/targets/refresh', {}); toast(t('tg_refreshing')); } catch (e) { toast(e.message, 'error'); }
    },
  }, t('tg_refresh')) : null;
  const planInfo = h('p', { class: 'plan-info' });
  const info = h('p', { class: 'muted' });
  const results = h('div', { class: 'results' });
  const chart = h('div', { class: 'chart-card' });
  // up to the province: the quarter's workbook, its parts as CSV and the
  // summary report, for the quarter chosen (the district's current one first)
  const xlsx = h('a', { class: 'button', id: 'tg-xlsx', download: '', href: '/api/export?format=xlsx' }, t('tg_export_xlsx'));
  const pdf = h('a', { class: 'button', id: 'tg-pdf', download: '', href: '/api/report/quarterly' }, t('tg_report_pdf'));
  const [, tm, ty] = todayText().split('/').map(Number);
  const quarters = [];
  for (let i = 0, y = ty, q = Math.floor((tm - 1) / 3) + 1; i < 5; i++) {
    quarters.push({ key: `${y}-Q${q}`, label: t('pv_quarter', state.lang === 'en' ? q : ['I', 'II', 'III', 'IV'][q - 1], y) });
    if (--q === 0) { q = 4; y--; }
  }
  const quarter = h('select', { class: 'input', id: 'tg-quarter', 'aria-label': t('pv_quarter_pick') },
    quarters.map((x) => h('option', { value: x.key }, x.label)));
  const csvLinks = ['targets', 'tasks', 'reporting', 'periodic'].map((part) =>
    h('a', { class: 'button small', id: `tg-csv-${part}`, download: '', href: '' }, t(`pv_csv_${part}`)));
  const setQuarter = () => {
    const q = encodeURIComponent(quarter.value);
    xlsx.href = `/api/export?format=xlsx&quarter=${q}`;
    pdf.href = `/api/report/quarterly?quarter=${q}`;
    for (const a of csvLinks) a.href = `/api/export?format=csv&part=${a.id.slice(7)}&quarter=${q}`;
  };
  quarter.addEventListener('change', setQuarter);
  setQuarter();
  const province = h('div', { class: 'toolbar', id: 'tg-province' }, h('label', {}, t('pv_quarter_pick'), ' ', quarter), h('span', { class: 'muted' }, t('pv_csv')), ...csvLinks);
  replace(root, pageHeader(t('nav_targets'), xlsx, pdf, refreshBtn), province, planInfo, h('div', { class: 'toolbar' }, search, only), info, results, chart);
  let defs = [];
  let communes = [];

  async function load() {
    setHashParams({ q: st.q, only: st.only !== 'all' && st.only, offset: st.offset || '', indicator: st.indicator, station: st.station });
    let res;
    try {
      res = await api('GET', `/api/targets${qs({ q: st.q, only: st.only, offset: st.offset, limit: st.limit })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    defs = res.targets;
    communes = res.communes;
    if (!st.indicator) st.indicator = defs[0]?.code || '';
    // the plan the figures are judged by: its name, issuer, date and version
    replace(planInfo, res.plan
      ? [h('strong', {}, t('tg_plan')), ' ', res.plan.name, h('br'), h('small', { class: 'muted' },
        t('tg_plan_by', res.plan.issuer, res.plan.date.length === 10 ? fmtDate(res.plan.date) : res.plan.date, res.plan.version)),
        ' · ', h('a', { href: '#/targets/plans', id: 'tg-plans' }, t('pl_title'))]
      : h('span', { class: 'tag tag-warn' }, t('tg_no_plan')));
    replace(info, res.day ? t('tg_day', fmtDate(res.day)) : t('tg_no_data'), ' · ', t('tg_cell_hint'));
    const cell = (tg, f, station) => {
      if (!f) return h('td', { class: 'nodata' }, t('none'));
      const cls = f.value === null ? 'nodata' : f.met === null ? 'direction' : f.met ? 'met' : 'notmet';
      const selected = st.indicator === tg.code && st.station === station;
      return h('td', { class: ['target-cell', cls, selected && 'selected'], dataset: { indicator: tg.code, station } },
        h('button', {
          type: 'button', class: 'cell-button', title: `${L(tg)}: ${f.numerator}/${f.denominator} — ${f.met === null ? t('tg_direction') : f.met ? t('tg_met') : t('tg_not_met')}${f.source ? ` — ${t('tg_source')}: ${f.source}` : ''}`,
          onclick: () => { st.indicator = tg.code; st.station = station; load(); },
        },
        h('span', { class: 'pct' }, fmtValue(tg, f.value)),
        h('span', { class: 'nd' }, `${fmtNum(f.numerator)}/${fmtNum(f.denominator)}`),
        f.source ? h('small', { class: 'nd muted' }, f.source) : null));
    };
    const headers = [t('tg_commune'), ...defs.map((tg) => ({ text: [L(tg), h('br'), h('small', {}, targetShort(tg))], attrs: { class: 'target-head', title: L(tg) } }))];
    const districtRow = h('tr', { class: 'district-row' }, h('th', { scope: 'row' }, t('tg_district')), defs.map((tg) => cell(tg, res.district[tg.code], '')));
    // a commune whose station has not synced since its figures were computed
    const staleTag = (c) => (c.stale ? h('span', {
      class: 'tag tag-warn', title: t('tg_stale_hint', fmtDateTime(c.computed_at_ms), c.synced_at_ms ? fmtDateTime(c.synced_at_ms) : t('never')),
    }, t('tg_stale')) : null);
    const rows = [districtRow, ...communes.map((c) => h('tr', { class: c.stale ? 'stale' : null, dataset: { station: c.station } },
      h('th', { scope: 'row' }, c.commune || c.station, staleTag(c), h('br'), h('small', { class: 'muted' }, c.station)),
      defs.map((tg) => cell(tg, c.figures[tg.code], c.station))))];
    replace(results, table(headers, rows, { class: 'targets' }), pager(res, (off) => { st.offset = off; load(); }));
    await drawChart();
  }

  async function drawChart() {
    const tg = defs.find((x) => x.code === st.indicator);
    if (!tg) { replace(chart); return; }
    const scopeName = st.station ? (communes.find((c) => c.station === st.station)?.commune || st.station) : t('tg_district');
    const indSel = h('select', { class: 'input', 'aria-label': t('tg_indicator'), onchange: (ev) => { st.indicator = ev.target.value; load(); } },
      defs.map((d) => h('option', { value: d.code, selected: d.code === st.indicator }, L(d))));
    let hist;
    try {
      hist = await api('GET', `/api/targets/history${qs({ indicator: st.indicator, station: st.station })}`);
    } catch (e) {
      replace(chart, card(t('tg_chart'), errorBox(e)));
      return;
    }
    const points = hist.points || [];
    replace(chart, card(t('tg_chart_of', L(tg), scopeName),
      h('div', { class: 'toolbar' }, h('label', {}, t('tg_indicator')), indSel,
        st.station ? h('button', { type: 'button', class: 'button small', onclick: () => { st.station = ''; load(); } }, t('tg_district')) : null),
      points.length ? lineChart(points, tg) : h('p', { class: 'muted' }, t('tg_no_history')),
      points.length ? table([t('tg_day_col'), { text: t('tg_numerator'), attrs: { class: 'num' } }, { text: t('tg_denominator'), attrs: { class: 'num' } }, { text: tg.unit === '%' ? t('tg_percent') : t('tg_value'), attrs: { class: 'num' } }, t('cf_state'), t('tg_source')],
        points.slice(-14).reverse().map((pt) => h('tr', {}, h('td', {}, fmtDate(pt.day)), h('td', { class: 'num' }, fmtNum(pt.numerator)), h('td', { class: 'num' }, fmtNum(pt.denominator)),
          h('td', { class: 'num' }, fmtValue(tg, pt.value)), h('td', {}, stateTag(pt)), h('td', {}, pt.source || ''))), { class: 'compact' }) : null));
  }

  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  await load();
  return { refresh: load, events: ['targets'] };
}

// An SVG line chart of a target over time, with its threshold, built here
// (no library, no inline style: attributes and classes only).
function lineChart(points, tg) {
  const W = 760, H = 240, ml = 48, mr = 16, mt = 14, mb = 34;
  const vals = points.map((p) => p.value).filter((v) => v !== null && v !== undefined);
  let ymax = 100;
  if (tg.op === '<') ymax = Math.max(tg.threshold * 2, ...vals, 1) * 1.1;
  if (tg.unit !== '%') ymax = Math.max(tg.high || 0, ...vals, 1) * 1.2;
  const unit = tg.unit === '%' ? '%' : '';
  const ymin = 0;
  const n = points.length;
  const x = (i) => ml + (n === 1 ? (W - ml - mr) / 2 : (i * (W - ml - mr)) / (n - 1));
  const y = (v) => mt + (H - mt - mb) * (1 - (v - ymin) / (ymax - ymin));
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${L(tg)}` });
  const ticks = 5;
  for (let k = 0; k <= ticks; k++) {
    const v = ymin + ((ymax - ymin) * k) / ticks;
    g.append(s('line', { x1: ml, x2: W - mr, y1: y(v), y2: y(v), class: 'grid-line' }));
    g.append(s('text', { x: ml - 6, y: y(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, `${fmtNum(v, ymax < 20 ? 1 : 0)}${unit}`));
  }
  // a direction has no line to reach; a band has two
  const lines = tg.op === 'd' ? [] : tg.op === 'r' ? [tg.threshold, tg.high] : [tg.op === '=' ? 100 : tg.threshold];
  lines.forEach((thr, k) => {
    g.append(s('line', { x1: ml, x2: W - mr, y1: y(thr), y2: y(thr), class: 'threshold' }));
    if (k === lines.length - 1) g.append(s('text', { x: W - mr, y: y(thr) - 4, class: 'threshold-label', 'text-anchor': 'end' }, `${t('tg_target')} ${targetShort(tg)}`));
  });
  const step = Math.max(1, Math.ceil(n / 8));
  points.forEach((p, i) => {
    if (i % step === 0 || i === n - 1) g.append(s('text', { x: x(i), y: H - mb + 18, class: 'axis-label', 'text-anchor': 'middle' }, fmtDate(p.day).slice(0, 5)));
  });
  const has = (p) => p.value !== null && p.value !== undefined;
  const path = points.map((p, i) => (has(p) ? `${x(i)},${y(p.value)}` : null)).filter(Boolean).join(' ');
  if (path) g.append(s('polyline', { points: path, class: 'series' }));
  points.forEach((p, i) => {
    if (!has(p)) return;
    g.append(s('circle', { cx: x(i), cy: y(p.value), r: 4, class: p.met === null ? 'point' : p.met ? 'point met' : 'point notmet' },
      s('title', {}, `${fmtDate(p.day)}: ${fmtValue(tg, p.value)} (${p.numerator}/${p.denominator})`)));
  });
  return h('div', { class: 'chart-wrap' }, g);
}
