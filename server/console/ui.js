// What every page draws with (texts, DOM, formats, tables, messages), so the pages look and behave alike.

import { STRINGS } from './i18n.js';
import { state } from './state.js';

/* ------------------------------------------------------------------ i18n */

export function t(key, ...args) {
  const s = STRINGS[state.lang][key] ?? STRINGS.vi[key] ?? key;
  return s.replace(/\{(\d+)\}/g, (_, i) => (args[i] ?? ''));
}

// A {vi, en} pair from the server.
export const L = (o) => (o ? (o[state.lang] || o.vi || o.code || '') : '');

export function label(kind, code) {
  const list = state.labels?.[kind] || [];
  const found = list.find((x) => x.code === code);
  return found ? L(found) : (code || t('none'));
}

export function tableLabel(name) {
  const tb = state.tables?.[name];
  return tb ? (state.lang === 'en' ? tb.label_en : tb.label_vi) || name : name;
}

// a field's name for people, from the table registry (tables.json label_vi, label_en)
export function fieldLabel(tableName, name) {
  const f = state.tables?.[tableName]?.byName?.[name];
  return f ? (state.lang === 'en' ? f.label_en : f.label_vi) || name : name;
}

// an enum value's name for people, from the table registry (tables.json value_labels)
export function valueLabel(tableName, name, value) {
  const vl = state.tables?.[tableName]?.byName?.[name]?.value_labels?.[value];
  return vl ? (state.lang === 'en' ? vl.en : vl.vi) || String(value) : String(value);
}

// a field's value for people: enum values by their labels, the rest by type
export function fmtFieldValue(tableName, name, v) {
  const f = state.tables?.[tableName]?.byName?.[name];
  if (f?.type === 'enum' && typeof v === 'string') return valueLabel(tableName, name, v);
  return fmtValue(v, f?.type);
}

/* ------------------------------------------------------------------ DOM */

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/* ------------------------------------------------------------------ formats */

const pad2 = (n) => String(n).padStart(2, '0');

// Every date and time is the district's, shown and read in its time zone
// (GET /api/labels timezone, the daemon's [district] timezone), whatever the
// zone of the PC the console runs on: its days are the daemon's days.
const districtZone = () => state.labels?.timezone || 'Asia/Ho_Chi_Minh';
const zoneFormats = new Map();

// the district's wall time at ms: {y, m, d, H, M, S}
function wallTime(ms) {
  const zone = districtZone();
  let f = zoneFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    zoneFormats.set(zone, f);
  }
  const o = {};
  for (const p of f.formatToParts(new Date(ms))) o[p.type] = p.value;
  return { y: Number(o.year), m: Number(o.month), d: Number(o.day), H: Number(o.hour), M: Number(o.minute), S: Number(o.second) };
}

// ms of a wall time in the district (the zone's offset found from a first guess)
function districtMs(y, mo, d, hh, mm) {
  const want = Date.UTC(y, mo - 1, d, hh, mm);
  const offsetAt = (ms) => {
    const w = wallTime(ms);
    return Date.UTC(w.y, w.m - 1, w.d, w.H, w.M, w.S) - ms;
  };
  let ms = want - offsetAt(want);
  const again = want - offsetAt(ms);
  if (again !== ms) ms = again;
  return ms;
}

function toMs(v) {
  if (v === null || v === undefined || v === '' || v === 0) return null;
  if (typeof v === 'number') return v;
  if (v instanceof Date) return v.getTime();
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

// dd/mm/yyyy, for dates (YYYY-MM-DD, as they are), times and milliseconds (the district's day)
export function fmtDate(v) {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const [y, m, d] = v.split('-');
    return `${d}/${m}/${y}`;
  }
  const ms = toMs(v);
  if (ms === null) return t('none');
  const w = wallTime(ms);
  return `${pad2(w.d)}/${pad2(w.m)}/${w.y}`;
}

// dd/mm/yyyy HH:MM, the district's
export function fmtDateTime(v) {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) return fmtDate(v);
  const ms = toMs(v);
  if (ms === null) return t('none');
  const w = wallTime(ms);
  return `${pad2(w.d)}/${pad2(w.m)}/${w.y} ${pad2(w.H)}:${pad2(w.M)}`;
}

// 'HH:MM dd/mm' in the district's zone, for a report of the day or the days before
export function fmtTimeDay(v) {
  const ms = toMs(v);
  if (ms === null) return t('none');
  const w = wallTime(ms);
  return `${pad2(w.H)}:${pad2(w.M)} ${pad2(w.d)}/${pad2(w.m)}`;
}

export function fmtAgo(ms) {
  if (!ms) return t('never');
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return t('ago_now');
  if (s < 3600) return t('ago_min', Math.floor(s / 60));
  if (s < 86400) return t('ago_hour', Math.floor(s / 3600));
  return t('ago_day', Math.floor(s / 86400));
}

export function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return t('none');
  return new Intl.NumberFormat(state.lang === 'en' ? 'en-GB' : 'vi-VN', {
    maximumFractionDigits: digits, minimumFractionDigits: digits,
  }).format(n);
}

export function fmtPercent(p) {
  return p === null || p === undefined ? t('none') : `${fmtNum(p, 1)} %`;
}

export function fmtBytes(b) {
  if (!b && b !== 0) return t('none');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${fmtNum(b, i && !Number.isInteger(b) ? 1 : 0)} ${units[i]}`;
}

export function fmtDuration(sec) {
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60);
  return d ? `${d}d ${hh}h ${mm}m` : hh ? `${hh}h ${mm}m` : `${mm}m ${Math.floor(sec % 60)}s`;
}

// "dd/mm/yyyy" -> "YYYY-MM-DD" (null when invalid)
export function parseDate(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text || '');
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return `${y}-${pad2(mo)}-${pad2(d)}`;
}

// "dd/mm/yyyy HH:MM" (the district's time) -> RFC 3339 UTC; a bare date ends that day
export function parseDateTime(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?\s*$/.exec(text || '');
  if (!m) return null;
  const date = parseDate(`${m[1]}/${m[2]}/${m[3]}`);
  if (!date) return null;
  const hh = m[4] === undefined ? 23 : Number(m[4]), mm = m[5] === undefined ? 59 : Number(m[5]);
  if (hh > 23 || mm > 59) return null;
  const ms = districtMs(Number(m[3]), Number(m[2]), Number(m[1]), hh, mm);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// today, the district's
export const todayText = () => fmtDate(Date.now());

// search text without tone marks, as the server folds it
export function fold(text) {
  return (text || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase();
}

// A field value as text, by the registry's type
export function fmtValue(v, type) {
  if (v === null || v === undefined) return t('none');
  if (type === 'bool' || typeof v === 'boolean') return v ? t('yes') : t('no');
  if (type === 'date') return fmtDate(v);
  if (type === 'datetime') return fmtDateTime(v);
  if (Array.isArray(v)) return v.length ? v.join(', ') : t('none');
  if (typeof v === 'object') return v.bin !== undefined ? `[${v.bin.length / 2} B]` : JSON.stringify(v);
  if (typeof v === 'number') return fmtNum(v, Number.isInteger(v) ? 0 : 2);
  return String(v);
}

// who wrote a version, in words: the station's name from the directory
// (state.stationNames, loadStationNames), or the district's centre; the
// station code when the directory does not know it
export function fmtReplica(rid) {
  if (!rid) return t('none');
  const who = rid.split('.')[0];
  if (who === 'district') return t('writer_district');
  return state.stationNames?.get(who) || who;
}

// a version's dot (replica id, counter), for the technical details only
export const fmtDot = (by) => (by ? `${by.replica || ''}, ${by.counter ?? ''}` : '');

export const hlcTime = (hlc) => (hlc ? Math.floor(hlc / 65536) : 0);

/* ------------------------------------------------------------------ query strings */

export const qs = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined && v !== false) u.set(k, v);
  const str = u.toString();
  return str ? `?${str}` : '';
};

/* ------------------------------------------------------------------ messages */

let toastTimer = 0;
export function toast(message, kind = 'ok') {
  const el = $('#toast');
  el.className = `toast toast-${kind}`;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

export function errorBox(e) {
  return h('div', { class: 'alert alert-error', role: 'alert' }, `${t('error')}: ${e.message}`);
}

/* ------------------------------------------------------------------ small widgets */

export function statusBadge(status, live) {
  const text = { online: t('st_online'), offline: t('st_offline'), silent: t('st_silent') }[status] || status;
  return h('span', { class: `status status-${status}` }, h('span', { class: 'dot' }), text,
    status === 'online' && live ? h('small', {}, ` · ${t('st_live')}`) : null);
}

export function urgencyBadge(code) {
  return code ? h('span', { class: `urgency urgency-${code}` }, label('urgencies', code)) : t('none');
}

export function stateBadge(code) {
  return h('span', { class: `state state-${code}` }, label('states', code));
}

export function pager(info, onPage) {
  const { offset, limit, matched } = info;
  const from = matched ? offset + 1 : 0, to = Math.min(offset + limit, matched);
  return h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'button small', disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - limit)) }, t('prev')),
    h('span', { class: 'muted' }, t('page_range', fmtNum(from), fmtNum(to), fmtNum(matched))),
    h('button', { type: 'button', class: 'button small', disabled: offset + limit >= matched, onclick: () => onPage(offset + limit) }, t('next')));
}

export function table(headers, rows, opts = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['grid', opts.class] },
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', typeof x === 'object' && !(x instanceof Node) ? x.attrs : {}, typeof x === 'object' && !(x instanceof Node) ? x.text : x)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted empty' }, opts.empty || t('no_rows'))))));
}

export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);
}

export function stat(labelText, value, kind, href) {
  const inner = [h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, labelText)];
  return href ? h('a', { class: ['stat', kind && `stat-${kind}`], href }, inner) : h('div', { class: ['stat', kind && `stat-${kind}`] }, inner);
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function pageHeader(title, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', {}, title), h('div', { class: 'page-actions' }, extra));
}

// URL hash parameters of the page shown (#/stations?q=…), kept in place so
// Back and a reload return to the same list
export function hashParams() {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i >= 0 ? location.hash.slice(i + 1) : '');
}

export function setHashParams(params) {
  const path = location.hash.split('?')[0] || '#/';
  history.replaceState(null, '', path + qs(params));
}

// A question in the page (not the browser's confirm(), which speaks its own
// language): resolves true on OK; with reason, a required text, resolved as
// {reason} (null when cancelled). Escape cancels.
export function confirmDialog({ title, message, ok, reason = null, danger = false }) {
  return new Promise((resolve) => {
    const text = reason ? h('textarea', { class: 'input', id: 'dlg-reason', rows: 3, maxlength: 2000, 'aria-label': reason }) : null;
    const err = h('p', { class: 'alert alert-error', role: 'alert', hidden: true });
    const dlg = h('dialog', { class: 'dialog', id: 'confirm-dialog', 'aria-labelledby': 'dlg-title' });
    const close = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    const okBtn = h('button', {
      type: 'button', class: ['button', danger ? 'danger' : 'primary'], id: 'dlg-ok', onclick: () => {
        if (!text) { close(true); return; }
        if (!text.value.trim()) { err.textContent = t('need_reason'); err.hidden = false; text.focus(); return; }
        close({ reason: text.value.trim() });
      },
    }, ok);
    const cancel = h('button', { type: 'button', class: 'button', id: 'dlg-cancel', onclick: () => close(reason ? null : false) }, t('cancel'));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); close(reason ? null : false); });
    replace(dlg, h('h2', { id: 'dlg-title' }, title), h('p', {}, message),
      text ? h('label', { for: 'dlg-reason' }, reason) : null, text, err,
      h('div', { class: 'form-actions' }, okBtn, cancel));
    document.body.append(dlg);
    dlg.showModal();
    (text || okBtn).focus();
  });
}
