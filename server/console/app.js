// tramsync district console: one page over the admin API (server/ts_admin.c).
// Plain modern JavaScript, no framework, no build step, nothing loaded from
// elsewhere (the daemon's CSP allows only 'self'); no inline styles either:
// the DOM is built with createElement and styled by class from style.css.
//
// Layout of this file: helpers (i18n, DOM, formats, API), the shell (login,
// navigation, live updates), then one function per page.

import { STRINGS } from './i18n.js';

/* ------------------------------------------------------------------ state */

const state = {
  lang: localStorage.getItem('tramsync.lang') === 'en' ? 'en' : 'vi',
  me: null,          // {user, role}
  labels: null,      // /api/labels
  tables: null,      // /api/tables, by name
  view: null,        // the page shown: {refresh, poll, onEvent}
  events: null,      // EventSource
  live: false,
  pollTimer: 0,
  refreshTimer: 0,
  lastRefresh: 0,
  routeSeq: 0,
  missed: new Set(), // events that came while the page shown was loading
};

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
const can = (role) => state.me && ROLE_RANK[state.me.role] >= ROLE_RANK[role];

/* ------------------------------------------------------------------ i18n */

function t(key, ...args) {
  const s = STRINGS[state.lang][key] ?? STRINGS.vi[key] ?? key;
  return s.replace(/\{(\d+)\}/g, (_, i) => (args[i] ?? ''));
}

// A {vi, en} pair from the server.
const L = (o) => (o ? (o[state.lang] || o.vi || o.code || '') : '');

function label(kind, code) {
  const list = state.labels?.[kind] || [];
  const found = list.find((x) => x.code === code);
  return found ? L(found) : (code || t('none'));
}

function tableLabel(name) {
  const tb = state.tables?.[name];
  return tb ? (state.lang === 'en' ? tb.label_en : tb.label_vi) || name : name;
}

/* ------------------------------------------------------------------ DOM */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
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

function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

/* ------------------------------------------------------------------ formats */

const pad2 = (n) => String(n).padStart(2, '0');

function toDate(v) {
  if (v === null || v === undefined || v === '' || v === 0) return null;
  if (typeof v === 'number') return new Date(v);
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const [y, m, d] = v.split('-').map(Number);
    return new Date(y, m - 1, d);
  }
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

// dd/mm/yyyy, for dates (YYYY-MM-DD), times and milliseconds
function fmtDate(v) {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const [y, m, d] = v.split('-');
    return `${d}/${m}/${y}`;
  }
  const d = toDate(v);
  return d ? `${pad2(d.getDate())}/${pad2(d.getMonth() + 1)}/${d.getFullYear()}` : t('none');
}

// dd/mm/yyyy HH:MM
function fmtDateTime(v) {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) return fmtDate(v);
  const d = toDate(v);
  return d ? `${fmtDate(d.getTime())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}` : t('none');
}

function fmtAgo(ms) {
  if (!ms) return t('never');
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return t('ago_now');
  if (s < 3600) return t('ago_min', Math.floor(s / 60));
  if (s < 86400) return t('ago_hour', Math.floor(s / 3600));
  return t('ago_day', Math.floor(s / 86400));
}

function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return t('none');
  return new Intl.NumberFormat(state.lang === 'en' ? 'en-GB' : 'vi-VN', {
    maximumFractionDigits: digits, minimumFractionDigits: digits,
  }).format(n);
}

function fmtPercent(p) {
  return p === null || p === undefined ? t('none') : `${fmtNum(p, 1)} %`;
}

function fmtBytes(b) {
  if (!b && b !== 0) return t('none');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${fmtNum(b, i && !Number.isInteger(b) ? 1 : 0)} ${units[i]}`;
}

function fmtDuration(sec) {
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60);
  return d ? `${d}d ${hh}h ${mm}m` : hh ? `${hh}h ${mm}m` : `${mm}m ${Math.floor(sec % 60)}s`;
}

// "dd/mm/yyyy" -> "YYYY-MM-DD" (null when invalid)
function parseDate(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text || '');
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(y, mo - 1, d);
  if (dt.getFullYear() !== y || dt.getMonth() !== mo - 1 || dt.getDate() !== d) return null;
  return `${y}-${pad2(mo)}-${pad2(d)}`;
}

// "dd/mm/yyyy HH:MM" (local time) -> RFC 3339 UTC; a bare date ends that day
function parseDateTime(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?\s*$/.exec(text || '');
  if (!m) return null;
  const date = parseDate(`${m[1]}/${m[2]}/${m[3]}`);
  if (!date) return null;
  const hh = m[4] === undefined ? 23 : Number(m[4]), mm = m[5] === undefined ? 59 : Number(m[5]);
  if (hh > 23 || mm > 59) return null;
  const dt = new Date(Number(m[3]), Number(m[2]) - 1, Number(m[1]), hh, mm);
  return dt.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const todayText = () => fmtDate(Date.now());

// search text without tone marks, as the server folds it
function fold(text) {
  return (text || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase();
}

// A field value as text, by the registry's type
function fmtValue(v, type) {
  if (v === null || v === undefined) return t('none');
  if (type === 'bool' || typeof v === 'boolean') return v ? t('yes') : t('no');
  if (type === 'date') return fmtDate(v);
  if (type === 'datetime') return fmtDateTime(v);
  if (Array.isArray(v)) return v.length ? v.join(', ') : t('none');
  if (typeof v === 'object') return v.bin !== undefined ? `[${v.bin.length / 2} B]` : JSON.stringify(v);
  if (typeof v === 'number') return fmtNum(v, Number.isInteger(v) ? 0 : 2);
  return String(v);
}

// who wrote a version: the station part of a replica id, or the district
function fmtReplica(rid) {
  if (!rid) return t('none');
  const who = rid.split('.')[0];
  return who === 'district' ? (state.lang === 'en' ? 'district (TTYT)' : 'TTYT khu vực') : who;
}

const hlcTime = (hlc) => (hlc ? Math.floor(hlc / 65536) : 0);

/* ------------------------------------------------------------------ API */

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  // the daemon's CSRF guard: cookie-authenticated writes carry this header
  if (method !== 'GET') opts.headers['X-Requested-With'] = 'tramsync';
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', t('error_network'));
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = data?.error || {};
    if (res.status === 401 && path !== '/api/login' && state.me) {
      state.me = null;
      stopLive();
      showLogin(t('session_expired'));
    }
    throw new ApiError(res.status, err.code || String(res.status),
      res.status === 403 && !err.message ? t('forbidden') : err.message || res.statusText);
  }
  return data;
}

const qs = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined && v !== false) u.set(k, v);
  const str = u.toString();
  return str ? `?${str}` : '';
};

async function loadTables() {
  if (state.tables) return state.tables;
  const res = await api('GET', '/api/tables');
  state.tables = {};
  for (const tb of res.tables) {
    tb.byName = Object.fromEntries(tb.fields.map((f) => [f.name, f]));
    state.tables[tb.name] = tb;
  }
  return state.tables;
}

/* ------------------------------------------------------------------ messages */

let toastTimer = 0;
function toast(message, kind = 'ok') {
  const el = $('#toast');
  el.className = `toast toast-${kind}`;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

function errorBox(e) {
  return h('div', { class: 'alert alert-error', role: 'alert' }, `${t('error')}: ${e.message}`);
}

/* ------------------------------------------------------------------ small widgets */

function statusBadge(status, live) {
  const text = { online: t('st_online'), offline: t('st_offline'), silent: t('st_silent') }[status] || status;
  return h('span', { class: `status status-${status}` }, h('span', { class: 'dot' }), text,
    status === 'online' && live ? h('small', {}, ` · ${t('st_live')}`) : null);
}

function urgencyBadge(code) {
  return code ? h('span', { class: `urgency urgency-${code}` }, label('urgencies', code)) : t('none');
}

function stateBadge(code) {
  return h('span', { class: `state state-${code}` }, label('states', code));
}

function pager(info, onPage) {
  const { offset, limit, matched } = info;
  const from = matched ? offset + 1 : 0, to = Math.min(offset + limit, matched);
  return h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'button small', disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - limit)) }, t('prev')),
    h('span', { class: 'muted' }, t('page_range', fmtNum(from), fmtNum(to), fmtNum(matched))),
    h('button', { type: 'button', class: 'button small', disabled: offset + limit >= matched, onclick: () => onPage(offset + limit) }, t('next')));
}

function table(headers, rows, opts = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['grid', opts.class] },
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', typeof x === 'object' && !(x instanceof Node) ? x.attrs : {}, typeof x === 'object' && !(x instanceof Node) ? x.text : x)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted empty' }, opts.empty || t('no_rows'))))));
}

function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);
}

function stat(labelText, value, kind, href) {
  const inner = [h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, labelText)];
  return href ? h('a', { class: ['stat', kind && `stat-${kind}`], href }, inner) : h('div', { class: ['stat', kind && `stat-${kind}`] }, inner);
}

function debounce(fn, ms) {
  let timer = 0;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function pageHeader(title, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', {}, title), h('div', { class: 'page-actions' }, extra));
}

// URL hash parameters of the page shown (#/stations?q=…), kept in place so
// Back and a reload return to the same list
function hashParams() {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i >= 0 ? location.hash.slice(i + 1) : '');
}

function setHashParams(params) {
  const path = location.hash.split('?')[0] || '#/';
  history.replaceState(null, '', path + qs(params));
}

// A station/commune chooser for recipients: search, pick, chips.
function recipientPicker({ allowAll = true, initialMode = 'all' } = {}) {
  let mode = allowAll ? initialMode : 'stations';
  const picked = new Map(); // code -> label (stations) or commune -> commune
  const chips = h('div', { class: 'chips' });
  const suggest = h('ul', { class: 'suggest', role: 'listbox' });
  const input = h('input', { type: 'search', class: 'input', placeholder: t('nt_pick_hint'), autocomplete: 'off', 'aria-label': t('nt_pick_hint') });
  const pickArea = h('div', { class: 'pick-area' }, chips, input, suggest);

  const drawChips = () => replace(chips, [...picked.entries()].map(([k, v]) =>
    h('span', { class: 'chip' }, v, h('button', { type: 'button', class: 'chip-x', 'aria-label': 'x', onclick: () => { picked.delete(k); drawChips(); } }, '×'))));

  const search = debounce(async () => {
    const q = input.value.trim();
    if (!q) { replace(suggest); return; }
    try {
      const res = await api('GET', `/api/stations${qs({ q, limit: 10, sort: 'code' })}`);
      const items = [];
      const seen = new Set();
      for (const st of res.stations) {
        const commune = st.directory?.commune || st.commune || st.code;
        if (mode === 'communes') {
          if (seen.has(commune)) continue;
          seen.add(commune);
          items.push([commune, commune]);
        } else {
          items.push([st.code, `${st.code} — ${st.directory?.name || commune}`]);
        }
      }
      replace(suggest, items.map(([key, text]) => h('li', {
        role: 'option', tabindex: 0, class: 'suggest-item',
        onclick: () => { picked.set(key, text); drawChips(); input.value = ''; replace(suggest); input.focus(); },
        onkeydown: (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); ev.currentTarget.click(); } },
      }, text)));
    } catch (e) {
      replace(suggest, h('li', { class: 'muted' }, e.message));
    }
  }, 200);
  input.addEventListener('input', search);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      const first = suggest.querySelector('.suggest-item');
      if (first) first.click();
    }
  });

  const radios = (allowAll ? ['all', 'communes', 'stations'] : ['communes', 'stations']).map((m) =>
    h('label', { class: 'radio' }, h('input', {
      type: 'radio', name: `rcpt-${Math.random().toString(36).slice(2)}`, value: m, checked: m === mode,
      onchange: () => { mode = m; picked.clear(); drawChips(); pickArea.hidden = m === 'all'; },
    }), { all: t('nt_to_all'), communes: t('nt_to_communes'), stations: t('nt_to_stations') }[m]));
  pickArea.hidden = mode === 'all';
  const el = h('div', { class: 'picker' }, h('div', { class: 'radios' }, radios), pickArea);
  return {
    el,
    value() {
      if (mode === 'all') return { all: true };
      if (!picked.size) return null;
      return mode === 'communes' ? { communes: [...picked.keys()] } : { stations: [...picked.keys()] };
    },
    mode: () => mode,
  };
}

/* ------------------------------------------------------------------ shell */

const NAV = [
  ['#/', 'nav_dashboard', null],
  ['#/stations', 'nav_stations', null],
  ['#/conflicts', 'nav_conflicts', null],
  ['#/notices', 'nav_notices', null],
  ['#/reports', 'nav_reports', null],
  ['#/tasks', 'nav_tasks', null],
  ['#/targets', 'nav_targets', null],
  ['#/health', 'nav_health', null],
  ['#/audit', 'nav_audit', 'admin'],
];

function renderShell() {
  document.documentElement.lang = state.lang;
  document.title = `tramsync — ${t('app_title')}`;
  $('#app-title').textContent = t('app_title');
  $('#app-subtitle').textContent = t('app_subtitle');
  const langBtn = $('#lang');
  langBtn.textContent = t('lang_switch');
  langBtn.title = t('lang_switch_title');
  langBtn.setAttribute('lang', state.lang === 'vi' ? 'en' : 'vi');
  const logout = $('#logout');
  logout.textContent = t('logout');
  logout.hidden = !state.me;
  const who = $('#who');
  who.hidden = !state.me;
  if (state.me) who.textContent = `${state.me.user} (${t(`role_${state.me.role}`)})`;
  const nav = $('#nav');
  nav.hidden = !state.me;
  if (state.me) {
    const current = `#/${(location.hash.replace(/^#\/?/, '').split(/[/?]/)[0])}`;
    replace(nav, h('ul', {}, NAV.filter(([, , role]) => !role || can(role)).map(([href, key]) =>
      h('li', {}, h('a', { href, class: (current === href || (href === '#/' && current === '#/')) ? 'active' : null, 'aria-current': current === href ? 'page' : null }, t(key))))));
  }
  renderLive();
}

function renderLive() {
  const el = $('#live');
  el.hidden = !state.me;
  el.className = state.live ? 'live live-on' : 'live live-off';
  el.textContent = state.live ? `● ${t('live_on')}` : `○ ${t('live_off')}`;
}

function showLogin(message) {
  clearInterval(state.pollTimer);
  state.view = null;
  renderShell();
  const user = h('input', { class: 'input', id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { class: 'input', id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { class: message ? 'alert alert-warn' : 'alert', role: 'alert', hidden: !message }, message || '');
  const form = h('form', {
    class: 'login-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      try {
        await api('POST', '/api/login', { username: user.value.trim(), password: pass.value });
        pass.value = '';
        await start();
      } catch (e) {
        msg.className = 'alert alert-error';
        msg.textContent = e.status === 429 ? t('login_throttled') : e.status === 401 ? t('login_failed') : e.message;
        msg.hidden = false;
      }
    },
  },
  h('h1', {}, t('login_title')),
  h('p', { class: 'muted' }, t('login_intro')),
  msg,
  h('label', { for: 'login-user' }, t('username')), user,
  h('label', { for: 'login-pass' }, t('password')), pass,
  h('button', { type: 'submit', class: 'button primary', id: 'login-submit' }, t('login_button')));
  replace($('#main'), h('div', { class: 'login' }, form));
  user.focus();
}

async function start() {
  try {
    state.me = await api('GET', '/api/me');
  } catch (e) {
    state.me = null;
    showLogin(e.status === 401 || e.status === 403 ? '' : e.message);
    return;
  }
  try {
    state.labels = state.labels || await api('GET', '/api/labels');
    await loadTables();
  } catch (e) {
    replace($('#main'), errorBox(e));
    return;
  }
  startLive();
  await route();
}

/* live updates: server-sent events refresh the page shown; pages about
 * station connectivity also poll (connections come and go without events) */
function startLive() {
  if (state.events) return;
  const es = new EventSource('/api/events');
  state.events = es;
  let opened = false;
  es.onopen = () => {
    state.live = true;
    renderLive();
    // back after a break: what changed meanwhile was not announced
    if (opened && state.view?.refresh) scheduleRefresh(state.view);
    opened = true;
  };
  es.onerror = () => { state.live = false; renderLive(); };
  for (const name of ['record', 'conflict', 'notice', 'task', 'escalation', 'targets']) {
    es.addEventListener(name, (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { data = {}; }
      onEvent(name, data);
    });
  }
}

function stopLive() {
  if (state.events) state.events.close();
  state.events = null;
  state.live = false;
}

function onEvent(name, data) {
  const v = state.view;
  if (!v) {
    // a page still loading may have read the data before this change:
    // route() refreshes it once it is shown
    state.missed.add(name);
    return;
  }
  if (v.onEvent) v.onEvent(name, data);
  if (v.refresh && (!v.events || v.events.includes(name))) scheduleRefresh(v);
}

// one refresh at a time, at most every 2.5 s however busy the district is
function scheduleRefresh(v) {
  if (state.refreshTimer) return;
  const wait = Math.max(300, 2500 - (Date.now() - state.lastRefresh));
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = 0;
    if (state.view !== v) return;
    state.lastRefresh = Date.now();
    try { await v.refresh(); } catch (e) { /* shown by the page */ }
  }, wait);
}

/* ------------------------------------------------------------------ router */

const ROUTES = [
  [/^$/, viewDashboard],
  [/^stations$/, viewStations],
  [/^stations\/([^/]+)$/, viewStation],
  [/^conflicts$/, viewConflicts],
  [/^conflicts\/(\d+)$/, viewConflict],
  [/^notices$/, viewNotices],
  [/^notices\/new$/, viewCompose],
  [/^notices\/([^/]+)$/, viewNotice],
  [/^reports$/, viewReports],
  [/^tasks$/, viewTasks],
  [/^tasks\/([^/]+)$/, viewTask],
  [/^targets$/, viewTargets],
  [/^health$/, viewHealth],
  [/^audit$/, viewAudit],
];

async function route() {
  if (!state.me) return;
  const seq = ++state.routeSeq;
  clearInterval(state.pollTimer);
  clearTimeout(state.refreshTimer);
  state.refreshTimer = 0;
  state.view = null;
  state.missed.clear();
  renderShell();
  const path = location.hash.replace(/^#\/?/, '').split('?')[0];
  const main = $('#main');
  let fn = null, m = null;
  for (const [re, f] of ROUTES) {
    m = re.exec(path);
    if (m) { fn = f; break; }
  }
  if (!fn) { location.hash = '#/'; return; }
  const root = h('div', { class: 'page' }, h('p', { class: 'muted' }, t('loading')));
  replace(main, root);
  try {
    const view = await fn(root, ...m.slice(1).map(decodeURIComponent));
    if (seq !== state.routeSeq) return;
    state.view = view || null;
    if (view?.poll) state.pollTimer = setInterval(() => view.refresh(), view.poll);
    if (view?.refresh && [...state.missed].some((name) => !view.events || view.events.includes(name))) scheduleRefresh(view);
    state.missed.clear();
  } catch (e) {
    if (seq === state.routeSeq && state.me) replace(root, errorBox(e));
  }
}

/* ------------------------------------------------------------------ dashboard */

async function viewDashboard(root) {
  async function draw() {
    const [ov, attention, esc, conflicts, targets] = await Promise.all([
      api('GET', '/api/overview'),
      api('GET', '/api/stations?filter=attention&sort=status&limit=8'),
      api('GET', '/api/escalations?limit=8'),
      api('GET', '/api/conflicts?limit=6'),
      api('GET', '/api/targets?limit=1'),
    ]);
    const st = ov.stations, n = ov.notices, sv = ov.service;
    const stats = h('div', { class: 'stats' },
      stat(t('dash_stations_online'), `${fmtNum(st.online)} / ${fmtNum(st.total)}`, st.online === st.total ? 'good' : null, '#/stations'),
      stat(t('dash_silent'), fmtNum(st.silent), st.silent ? 'bad' : 'good', '#/stations?filter=silent'),
      stat(t('dash_offline'), fmtNum(st.offline), st.offline ? 'warn' : null, '#/stations?filter=offline'),
      stat(t('dash_conflicts'), fmtNum(ov.conflicts_open), ov.conflicts_open ? 'warn' : 'good', '#/conflicts'),
      stat(t('dash_urgent'), fmtNum(n.urgent_unacknowledged), n.urgent_unacknowledged ? 'bad' : 'good', '#/notices'),
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

    const cfRows = conflicts.conflicts.map((c) => h('tr', {},
      h('td', {}, h('a', { href: `#/conflicts/${c.id}` }, `#${c.id}`)),
      h('td', {}, `${tableLabel(c.table)} · ${c.record}`),
      h('td', {}, c.field === '_deleted' ? t('cf_deleted') : c.field),
      h('td', {}, fmtDateTime(c.detected_at_ms))));
    const cfCard = card(t('dash_conflict_list'),
      conflicts.conflicts.length ? table([t('cf_id'), t('cf_record'), t('cf_field'), t('cf_detected')], cfRows) : h('p', { class: 'good-text' }, t('dash_conflict_none')),
      ov.conflicts_open > conflicts.conflicts.length ? h('a', { class: 'more', href: '#/conflicts' }, `${t('show_all')} (${fmtNum(ov.conflicts_open)})`) : null);

    const tiles = h('div', { class: 'target-tiles' }, targets.targets.map((tg) => {
      const f = targets.district[tg.code];
      return h('a', { class: ['tile', f.percent === null ? 'nodata' : f.met ? 'met' : 'notmet'], href: `#/targets?indicator=${tg.code}` },
        h('span', { class: 'tile-value' }, fmtPercent(f.percent)),
        h('span', { class: 'tile-label' }, L(tg)),
        h('span', { class: 'tile-target' }, `${t('tg_target')} ${tg.op === '=' ? '100' : `${tg.op} ${fmtNum(tg.threshold, 1)}`} %`));
    }));
    const tgCard = card(t('dash_targets'), targets.day ? h('p', { class: 'muted' }, t('tg_day', fmtDate(targets.day))) : h('p', { class: 'muted' }, t('tg_no_data')), tiles);

    const svcLine = h('p', { class: 'muted service-line' },
      `${t('dash_service')}: ${t('hl_version')} ${sv.version} · ${t('hl_uptime')} ${fmtDuration(sv.uptime_s)} · `,
      `${t('hl_connections')} ${fmtNum(sv.connections)} · `, t('dash_db', fmtBytes(ov.db_bytes), fmtNum(ov.records)),
      ` · ${t('updated_at', fmtDateTime(ov.now_ms))}`);

    replace(root, pageHeader(t('nav_dashboard')), stats,
      h('div', { class: 'columns' }, h('div', {}, stationsCard, cfCard), h('div', {}, escCard)),
      tgCard, svcLine);
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), poll: 15000 };
}

/* ------------------------------------------------------------------ stations */

async function viewStations(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', filter: p.get('filter') || 'all', sort: p.get('sort') || 'status', offset: Number(p.get('offset')) || 0, limit: 50 };
  const search = h('input', { type: 'search', class: 'input search', id: 'station-search', placeholder: t('search_stations'), value: st.q, 'aria-label': t('search') });
  const filters = h('div', { class: 'filters', role: 'group' });
  const sort = h('select', { class: 'input', 'aria-label': t('sort_by') },
    ['status', 'code', 'last_sync', 'cert'].map((k) => h('option', { value: k, selected: st.sort === k }, t(`sort_${k}`))));
  const results = h('div', { class: 'results' }, h('p', { class: 'muted' }, t('loading')));
  replace(root, pageHeader(t('nav_stations')), h('div', { class: 'toolbar' }, search, sort), filters, results);

  const keys = ['all', 'attention', 'silent', 'offline', 'online', 'cert', 'clock'];
  async function load() {
    setHashParams({ q: st.q, filter: st.filter !== 'all' && st.filter, sort: st.sort !== 'status' && st.sort, offset: st.offset || '' });
    let res;
    try {
      res = await api('GET', `/api/stations${qs({ q: st.q, filter: st.filter, sort: st.sort, offset: st.offset, limit: st.limit })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    const c = res.counts;
    const count = { all: c.total, attention: c.silent + c.offline, silent: c.silent, offline: c.offline, online: c.online, cert: c.cert_expiring, clock: c.clock_problem };
    replace(filters, keys.map((k) => h('button', {
      type: 'button', class: ['filter', st.filter === k && 'active', (k === 'silent' && c.silent) || (k === 'cert' && c.cert_expiring) ? 'filter-bad' : null],
      'aria-pressed': st.filter === k ? 'true' : 'false',
      onclick: () => { st.filter = k; st.offset = 0; load(); },
    }, `${t(`f_${k}`)} (${fmtNum(count[k])})`)));
    const rows = res.stations.map((x) => {
      const d = x.directory || {};
      const certCls = x.cert_days_left === undefined ? null : x.cert_days_left < 0 ? 'bad' : x.cert_days_left < res.cert_warn_days ? 'warn' : null;
      const skew = x.clock_skew_ms;
      return h('tr', { class: `row-${x.status}`, dataset: { code: x.code } },
        h('td', {}, statusBadge(x.status, x.live)),
        h('td', {}, h('a', { href: `#/stations/${encodeURIComponent(x.code)}` }, x.code)),
        h('td', {}, d.name || t('none'), h('br'), h('small', { class: 'muted' }, d.commune || x.commune || '')),
        h('td', { class: x.status === 'silent' ? 'bad' : null }, fmtDateTime(x.last_sync_ms), h('br'), h('small', { class: 'muted' }, fmtAgo(x.last_sync_ms))),
        h('td', { class: 'num' }, x.sending ? t('st_sending') : x.pending_changes === undefined ? t('none') : fmtNum(x.pending_changes)),
        h('td', {}, x.agent || t('none')),
        h('td', { class: ['num', x.clock_problem && 'bad'] }, skew === undefined ? t('none') : t('skew_ms', fmtNum(Math.round(skew / 100) / 10 || 0, 1))),
        h('td', { class: certCls }, x.cert_not_after ? fmtDate(x.cert_not_after * 1000) : t('none'),
          x.cert_days_left !== undefined ? h('small', { class: 'muted' }, h('br'), x.cert_days_left < 0 ? t('cert_expired') : t('cert_days', fmtNum(x.cert_days_left))) : null));
    });
    replace(results,
      table([t('st_status'), t('st_code'), t('st_name'), t('st_last_sync'), { text: t('st_pending'), attrs: { class: 'num' } }, t('st_agent'), { text: t('st_skew'), attrs: { class: 'num' } }, t('st_cert')], rows, { class: 'stations' }),
      pager(res, (off) => { st.offset = off; load(); }));
  }
  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  sort.addEventListener('change', () => { st.sort = sort.value; st.offset = 0; load(); });
  await load();
  return { refresh: load, poll: 15000 };
}

async function viewStation(root, code) {
  async function draw() {
    const x = await api('GET', `/api/stations/${encodeURIComponent(code)}`);
    const d = x.directory || {};
    const dl = (pairs) => h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? t('none'))]));
    const recs = Object.entries(x.records || {}).sort(([a], [b]) => a.localeCompare(b));
    replace(root,
      pageHeader(`${d.name || x.code}`, h('a', { class: 'button', href: '#/stations' }, t('back'))),
      h('p', {}, statusBadge(x.status, x.live), ' ', h('span', { class: 'muted' }, `${x.code} · ${d.commune || x.commune || ''}`)),
      x.clock_problem ? h('div', { class: 'alert alert-warn' }, t('st_clock_problem')) : null,
      h('div', { class: 'columns' },
        card(t('st_detail_connection'), dl([
          [t('st_last_sync'), `${fmtDateTime(x.last_sync_ms)} (${fmtAgo(x.last_sync_ms)})`],
          x.connected ? [t('st_connected_since'), fmtDateTime(x.connected_since_ms)] : null,
          [t('st_peer'), x.peer || x.last_peer],
          [t('st_pending'), x.sending ? t('st_sending') : x.pending_changes === undefined ? t('none') : t('changes_n', fmtNum(x.pending_changes))],
          [t('st_cursor'), x.cursor === undefined ? t('none') : fmtNum(x.cursor)],
          [t('st_agent'), x.agent],
          [t('st_skew'), x.clock_skew_ms === undefined ? t('none') : t('skew_ms', fmtNum(Math.round(x.clock_skew_ms / 100) / 10 || 0, 1))],
          [t('st_replica'), x.replica],
          [t('st_cert'), x.cert_not_after ? `${fmtDate(x.cert_not_after * 1000)} (${x.cert_days_left < 0 ? t('cert_expired') : t('cert_days', fmtNum(x.cert_days_left))})` : t('none')],
          [t('st_cert_serial'), x.cert_serial],
          [t('st_conflicts_open'), fmtNum(x.conflicts_open || 0)],
        ])),
        card(t('st_directory'), dl([
          [t('st_name'), d.name], [t('st_province'), d.province], [t('st_population'), d.population !== undefined ? fmtNum(d.population) : null],
          [t('st_villages'), d.villages !== undefined ? fmtNum(d.villages) : null], [t('st_head'), d.head], [t('st_phone'), d.phone],
          [t('st_address'), d.address], [t('st_facility'), d.facility_code],
        ]))),
      card(t('st_detail_records'), table([t('au_table'), { text: t('hl_records'), attrs: { class: 'num' } }],
        recs.map(([tb, n]) => h('tr', {}, h('td', {}, tableLabel(tb)), h('td', { class: 'num' }, fmtNum(n)))))));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), poll: 15000 };
}

/* ------------------------------------------------------------------ conflicts */

async function viewConflicts(root) {
  const p = hashParams();
  const st = { status: p.get('status') || 'open' };
  const filters = h('div', { class: 'filters' });
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_conflicts')), filters, results);
  let shown = [];
  async function load(after = 0) {
    setHashParams({ status: st.status !== 'open' && st.status });
    replace(filters, ['open', 'resolved', 'all'].map((k) => h('button', {
      type: 'button', class: ['filter', st.status === k && 'active'], 'aria-pressed': st.status === k ? 'true' : 'false',
      onclick: () => { st.status = k; load(); },
    }, t(`cf_filter_${k}`))));
    let res;
    try {
      res = await api('GET', `/api/conflicts${qs({ status: st.status, after: after || '', limit: 100 })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    shown = after ? shown.concat(res.conflicts) : res.conflicts;
    const rows = shown.slice().reverse().map((c) => h('tr', { class: c.resolved ? null : 'row-open' },
      h('td', {}, h('a', { href: `#/conflicts/${c.id}`, class: 'conflict-link' }, `#${c.id}`)),
      h('td', {}, fmtDateTime(c.detected_at_ms)),
      h('td', {}, tableLabel(c.table), h('br'), h('small', { class: 'muted' }, c.record)),
      h('td', {}, c.field === '_deleted' ? t('cf_deleted') : c.field),
      h('td', { class: 'val' }, c.field === '_deleted' ? (c.kept ? t('cf_deleted') : t('cf_not_deleted')) : fmtValue(c.kept), h('br'), h('small', { class: 'muted' }, fmtReplica(c.kept_by.replica))),
      h('td', { class: 'val' }, c.field === '_deleted' ? (c.lost ? t('cf_deleted') : t('cf_not_deleted')) : fmtValue(c.lost), h('br'), h('small', { class: 'muted' }, fmtReplica(c.lost_by.replica))),
      h('td', {}, c.resolved ? h('span', { class: 'tag tag-good' }, t('cf_resolved')) : h('span', { class: 'tag tag-warn' }, t('cf_open')))));
    replace(results,
      h('p', { class: 'muted' }, `${t('dash_conflicts')}: ${fmtNum(res.open)}`),
      table([t('cf_id'), t('cf_detected'), t('cf_record'), t('cf_field'), t('cf_kept'), t('cf_lost'), t('cf_state')], rows, { empty: t('dash_conflict_none') }),
      res.conflicts.length === 100 ? h('button', { type: 'button', class: 'button', onclick: () => load(res.conflicts[res.conflicts.length - 1].id) }, t('cf_more')) : null);
  }
  await load();
  return { refresh: () => load(), events: ['conflict', 'record'], poll: 30000 };
}

// JSON value for a field from the editor's text, by type (throws on bad input)
function parseFieldValue(text, f) {
  const type = f?.type || 'text';
  const v = text.trim();
  if (v === '') return null;
  switch (type) {
    case 'int': { if (!/^-?\d+$/.test(v)) throw new Error(v); return Number(v); }
    case 'real': { const n = Number(v.replace(',', '.')); if (Number.isNaN(n)) throw new Error(v); return n; }
    case 'bool': return v === 'true';
    case 'date': { const d = parseDate(v); if (!d) throw new Error(t('bad_date', v)); return d; }
    case 'datetime': { const d = parseDateTime(v); if (!d) throw new Error(t('bad_datetime', v)); return d; }
    case 'list': return v.split(',').map((x) => x.trim()).filter(Boolean);
    default: return v;
  }
}

function valueEditor(f, initial) {
  const type = f?.type || 'text';
  if (type === 'bool') {
    return h('select', { class: 'input' }, h('option', { value: 'true', selected: initial === true }, t('yes')), h('option', { value: 'false', selected: initial !== true }, t('no')));
  }
  if (type === 'enum' && f.values) {
    return h('select', { class: 'input' }, f.values.map((x) => h('option', { value: x, selected: x === initial }, x)));
  }
  const text = initial === null || initial === undefined ? ''
    : type === 'date' ? fmtDate(initial) : type === 'datetime' ? fmtDateTime(initial)
      : Array.isArray(initial) ? initial.join(', ') : String(initial);
  if (type === 'text' && (f?.max || 0) > 300) return h('textarea', { class: 'input', rows: 3 }, text);
  return h('input', { class: 'input', value: text, placeholder: type === 'date' ? t('date_hint') : type === 'datetime' ? t('datetime_hint') : '' });
}

// the server's resolution notes, in the console's language
function resolutionText(text) {
  const key = { 'kept the merged value': 'cf_keep', 'restored the losing value': 'cf_restore', 'wrote a merged value': 'cf_edit' }[text];
  return key ? t(key) : text || '';
}

async function viewConflict(root, id) {
  let changed = false;
  let quietUntil = 0;
  async function draw() {
    changed = false;
    const c = await api('GET', `/api/conflicts/${id}`);
    const tables = await loadTables();
    const def = tables[c.table];
    // every conflict of this record, so both versions show field by field
    let siblings = [c];
    try {
      const all = await api('GET', `/api/conflicts${qs({ status: c.resolved ? 'all' : 'open', table: c.table, limit: 1000 })}`);
      siblings = all.conflicts.filter((x) => x.record === c.record);
      if (!siblings.some((x) => x.id === c.id)) siblings.push(c);
    } catch (e) { /* the one conflict is enough */ }
    const byField = new Map(siblings.map((x) => [x.field, x]));
    const current = c.current || { fields: {}, written: {} };
    const fields = [...new Set([...(def ? def.fields.map((f) => f.name) : []), ...Object.keys(current.fields || {}), ...byField.keys()])]
      .filter((name) => name !== '_deleted' || byField.has('_deleted'));
    const rows = fields.map((name) => {
      const f = def?.byName[name];
      const cf = byField.get(name);
      const cur = name === '_deleted' ? !!current.deleted : current.fields?.[name];
      const show = (v) => (name === '_deleted' ? (v ? t('cf_deleted') : t('cf_not_deleted')) : fmtValue(v, f?.type));
      if (!cf) {
        if (cur === undefined) return null;
        return h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, show(cur)), h('td', {}, show(cur)));
      }
      const actions = !cf.resolved && can('operator') ? conflictActions(cf, f, cur) : null;
      return [
        h('tr', { class: cf.resolved ? 'row-resolved' : 'row-conflict', dataset: { field: name } },
          h('th', { scope: 'row' }, name, ' ', h('span', { class: ['tag', cf.resolved ? 'tag-good' : 'tag-warn'] }, cf.resolved ? t('cf_resolved') : t('cf_conflicting'))),
          h('td', { class: 'kept' }, h('strong', {}, show(cf.resolved ? cur : cf.kept)), h('br'),
            h('small', { class: 'muted' }, t('cf_written_by', fmtReplica(cf.kept_by.replica), fmtDateTime(hlcTime(cf.kept_by.hlc))))),
          h('td', { class: 'lost' }, h('strong', {}, show(cf.lost)), h('br'),
            h('small', { class: 'muted' }, t('cf_written_by', fmtReplica(cf.lost_by.replica), fmtDateTime(hlcTime(cf.lost_by.hlc)))))),
        cf.resolved
          ? h('tr', { class: 'row-resolved' }, h('td', { colspan: 3, class: 'muted' }, t('cf_resolved_by', cf.resolved_by, fmtDateTime(cf.resolved_at_ms), resolutionText(cf.resolution))))
          : actions ? h('tr', { class: 'row-actions' }, h('td', { colspan: 3 }, actions)) : null,
      ];
    });
    const kept = siblings[0].kept_by, lost = siblings[0].lost_by;
    replace(root,
      pageHeader(t('cf_title', c.id, tableLabel(c.table), c.record), h('a', { class: 'button', href: '#/conflicts' }, t('back'))),
      h('p', { class: 'intro' }, t('cf_intro')),
      !can('operator') ? h('p', { class: 'alert' }, t('cf_no_rights')) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid side-by-side' },
        h('thead', {}, h('tr', {},
          h('th', {}, t('cf_field')),
          h('th', {}, t('cf_side_kept'), h('br'), h('small', {}, fmtReplica(kept.replica))),
          h('th', {}, t('cf_side_lost'), h('br'), h('small', {}, fmtReplica(lost.replica))))),
        h('tbody', {}, rows))));
  }

  function conflictActions(cf, f, cur) {
    const editor = valueEditor(f, cf.field === '_deleted' ? null : cf.lost);
    const editBox = h('div', { class: 'edit-box', hidden: true },
      h('label', {}, t('cf_merged_value')), editor,
      h('button', {
        type: 'button', class: 'button primary small', onclick: async () => {
          let value;
          try { value = parseFieldValue(editor.value, f); } catch (e) { toast(e.message, 'error'); return; }
          await resolve(cf, { choice: 'value', value });
        },
      }, t('cf_apply')));
    const buttons = [
      h('button', { type: 'button', class: 'button small', dataset: { action: 'keep' }, onclick: () => resolve(cf, { choice: 'kept' }) }, t('cf_keep')),
      h('button', { type: 'button', class: 'button small', dataset: { action: 'restore' }, onclick: () => resolve(cf, { choice: 'lost' }) }, t('cf_restore')),
    ];
    if (cf.field !== '_deleted') {
      buttons.push(h('button', { type: 'button', class: 'button small', dataset: { action: 'edit' }, onclick: () => { editBox.hidden = !editBox.hidden; } }, t('cf_edit')));
    }
    return h('div', { class: 'actions' }, buttons, editBox);
  }

  async function resolve(cf, body) {
    try {
      await api('POST', `/api/conflicts/${cf.id}/resolve`, body);
      quietUntil = Date.now() + 3000; // our own change comes back as an event
      toast(t('cf_done'));
      await draw();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  await draw();
  return {
    // someone else resolved it, or a station changed the record: show it,
    // but never under the hands of someone editing a value
    onEvent: (name, data) => {
      if (name !== 'conflict' || Date.now() < quietUntil) return;
      if (data.id !== undefined && String(data.id) !== String(id)) return;
      const editing = [...root.querySelectorAll('.edit-box')].some((b) => !b.hidden);
      if (!editing) {
        draw().catch(() => {});
      } else if (!changed) {
        changed = true;
        root.prepend(h('div', { class: 'alert alert-warn' }, t('cf_changed'), ' ',
          h('button', { type: 'button', class: 'button small', onclick: () => { changed = false; draw(); } }, t('cf_reload'))));
      }
    },
  };
}

/* ------------------------------------------------------------------ notices */

// Attachments of a notice: the limits the daemon gives in /api/labels
// (defaults as the daemon's own when an older one leaves them out), checked
// here before anything is uploaded; the daemon checks them again.
function attachmentLimits() {
  const l = state.labels?.limits || {};
  return { count: l.attachments ?? 5, bytes: l.attachment_bytes ?? 262144, body: l.max_body ?? 2 * 1024 * 1024 };
}

const utf8Length = (text) => new TextEncoder().encode(text).length;
const b64Length = (n) => 4 * Math.ceil(n / 3);
// what the daemon refuses in a file name: folders, C0/C1 controls, text direction
const BAD_NAME_CHARS = /[/\\\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const NAME_MAX_CHARS = 200;

// a MIME type the daemon takes (type/subtype, no parameters), or none
function fileMime(file) {
  const m = (file.type || '').split(';')[0].trim().toLowerCase();
  return m.length <= 100 && /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(m) ? m : '';
}

// RFC 4648 base64, padded
function base64Of(bytes) {
  if (typeof bytes.toBase64 === 'function') return bytes.toBase64();
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function paperclip() {
  return s('svg', { viewBox: '0 0 24 24', class: 'icon', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: 'M8 8v8.5a4 4 0 0 0 8 0V6a2.8 2.8 0 0 0-5.6 0v10a1.6 1.6 0 0 0 3.2 0V8', transform: 'rotate(40 12 12)' }));
}

// The file chooser of the compose form: files picked (several at a time,
// added to those already chosen), each shown with its size and a remove
// button; what does not fit the limits is refused on the spot with the reason.
// otherBytes() is the size of the rest of the request, for the body limit.
function attachmentPicker(otherBytes) {
  const files = [];
  const lim = attachmentLimits();
  const input = h('input', { type: 'file', multiple: true, id: 'nt-files', class: 'file-input' });
  const msg = h('div', { class: 'alert alert-warn', id: 'nt-files-msg', role: 'alert', hidden: true });
  const list = h('ul', { class: 'file-list', id: 'nt-file-list' });
  const total = h('p', { class: 'muted file-total', hidden: true });
  // a request's JSON for the files: their base64 and names
  const entryBytes = (f) => b64Length(f.size) + utf8Length(JSON.stringify({ name: f.name, mime: fileMime(f), data: '' })) + 1;
  const bodyBytes = (chosen) => otherBytes() + chosen.reduce((a, f) => a + entryBytes(f), 0);

  const say = (lines) => { replace(msg, lines.map((x) => h('div', {}, x))); msg.hidden = !lines.length; };

  function draw() {
    replace(list, files.map((f, i) => h('li', { class: 'file-item', dataset: { name: f.name } },
      paperclip(),
      h('span', { class: 'file-name' }, f.name),
      h('span', { class: 'muted file-size' }, fmtBytes(f.size)),
      fileMime(f) ? h('small', { class: 'muted' }, fileMime(f)) : null,
      h('button', {
        type: 'button', class: 'chip-x file-remove', title: t('at_remove', f.name), 'aria-label': t('at_remove', f.name),
        onclick: () => { files.splice(i, 1); say([]); draw(); input.focus(); },
      }, '×'))));
    total.hidden = !files.length;
    total.textContent = t('at_total', fmtNum(files.length), fmtBytes(files.reduce((a, f) => a + f.size, 0)));
  }

  // why a file cannot join those chosen, or ''
  function refusal(f, chosen) {
    if (chosen.length >= lim.count) return t('at_too_many', fmtNum(lim.count), f.name);
    if (f.size > lim.bytes) return t('at_too_big', f.name, fmtBytes(f.size), fmtBytes(lim.bytes));
    if (f.size === 0) return t('at_empty', f.name);
    if (BAD_NAME_CHARS.test(f.name) || f.name === '.' || f.name === '..') return t('at_bad_chars', f.name);
    if ([...f.name].length > NAME_MAX_CHARS) return t('at_long_name', f.name, fmtNum(NAME_MAX_CHARS));
    const lower = f.name.toLowerCase();
    if (chosen.some((x) => x.name.toLowerCase() === lower)) return t('at_same_name', f.name);
    if (bodyBytes([...chosen, f]) > lim.body) return t('at_body_too_big', fmtBytes(bodyBytes([...chosen, f])), fmtBytes(lim.body));
    return '';
  }

  input.addEventListener('change', () => {
    const refused = [];
    for (const f of input.files) {
      const why = refusal(f, files);
      if (why) refused.push(why); else files.push(f);
    }
    input.value = ''; // the same file can be chosen again after a remove
    say(refused);
    draw();
  });

  return {
    el: [
      // the browser's own chooser says "no file chosen" next to a list of
      // chosen files: it is hidden (still focusable), its label is the button
      h('div', { class: 'file-choose' }, input,
        h('label', { for: 'nt-files', class: 'button' }, paperclip(), ' ', t('at_choose')),
        h('small', { class: 'muted' }, t('at_hint', fmtNum(lim.count), fmtBytes(lim.bytes)))),
      msg, list, total,
    ],
    count: () => files.length,
    // the limits again, then the files read and encoded for the request
    async read() {
      const chosen = [];
      for (const f of files) {
        const why = refusal(f, chosen);
        if (why) throw new Error(why);
        chosen.push(f);
      }
      const out = [];
      for (const f of files) {
        let bytes;
        try { bytes = new Uint8Array(await f.arrayBuffer()); } catch (e) { throw new Error(t('at_read_failed', f.name)); }
        if (bytes.length !== f.size || bytes.length > lim.bytes || bytes.length === 0) throw new Error(t('at_changed', f.name));
        const a = { name: f.name, data: base64Of(bytes) };
        if (fileMime(f)) a.mime = fileMime(f);
        out.push(a);
      }
      return out;
    },
    limits: lim,
  };
}

// The attachments of a notice as sent: a download link each (same origin, the
// session cookie goes with it, as with every call of this page), size, type,
// and the start of the SHA-256 the daemon checks them by.
function attachmentTable(noticeId, list) {
  const rows = list.map((a) => {
    const n = String(a.id).slice(String(a.id).lastIndexOf(':') + 1);
    const href = `/api/notices/${encodeURIComponent(noticeId)}/attachments/${encodeURIComponent(n)}`;
    return h('tr', { dataset: { id: a.id, n } },
      h('td', { class: 'file-name' }, h('a', { href, download: a.name, class: 'att-name' }, paperclip(), h('span', {}, a.name))),
      h('td', { class: 'num nowrap' }, fmtBytes(a.size)),
      h('td', {}, h('small', {}, a.mime || t('none'))),
      h('td', { class: 'nowrap' }, h('code', { class: 'sha', title: a.sha256 }, (a.sha256 || '').slice(0, 12))),
      h('td', {}, h('a', { href, download: a.name, class: 'button small att-download' }, t('at_download'))));
  });
  return h('div', { class: 'attachments', id: 'nt-attachments' },
    h('h3', {}, `${t('at_legend')} (${fmtNum(list.length)})`),
    table([t('at_name'), { text: t('at_size'), attrs: { class: 'num' } }, t('at_mime'), t('at_sha256'), ''], rows, { class: 'compact attachments' }));
}

function countsChips(counts, total) {
  const order = ['delivered', 'acknowledged', 'in_progress', 'done'];
  // each state counts the recipients at least that far along
  const rank = { sent: 0, delivered: 1, acknowledged: 2, in_progress: 3, done: 4 };
  const atLeast = (k) => Object.entries(counts || {}).filter(([s]) => rank[s] !== undefined && rank[s] >= rank[k]).reduce((a, [, n]) => a + n, 0);
  return h('div', { class: 'progress-chips' },
    order.map((k) => h('span', { class: ['chip-state', `chip-${k}`, !atLeast(k) && 'chip-zero'], title: label('states', k) }, `${label('states', k)} ${atLeast(k)}/${total}`)),
    counts?.overdue ? h('span', { class: 'chip-state chip-overdue' }, `${t('nt_overdue')} ${counts.overdue}`) : null);
}

async function viewNotices(root) {
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
      h('td', {}, urgencyBadge(n.urgency)),
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

async function viewCompose(root) {
  if (!can('operator')) {
    replace(root, pageHeader(t('nt_compose')), h('p', { class: 'alert' }, t('nt_no_rights')));
    return null;
  }
  const field = (id, labelText, input, hint) => h('div', { class: 'field' }, h('label', { for: id }, labelText), input, hint ? h('small', { class: 'muted' }, hint) : null);
  const inp = (id, attrs = {}) => h('input', { class: 'input', id, name: id, ...attrs });
  const number = inp('nt-number', { placeholder: t('nt_number_hint') });
  const docType = h('select', { class: 'input', id: 'nt-doc-type' }, state.labels.doc_types.map((d) => h('option', { value: d.code, selected: d.code === 'cong_van' }, L(d))));
  const issuer = inp('nt-issuer', { value: 'Trung tâm Y tế khu vực', required: true });
  const issueDate = inp('nt-issue-date', { value: todayText(), placeholder: t('date_hint') });
  const subject = inp('nt-subject', { required: true, maxlength: 500 });
  const body = h('textarea', { class: 'input', id: 'nt-body', rows: 5, maxlength: 20000 });
  const category = h('select', { class: 'input', id: 'nt-category' }, state.labels.categories.map((c) => h('option', { value: c.code }, L(c))));
  const urgName = 'nt-urgency';
  const urgency = h('div', { class: 'radios urgency-choice', role: 'radiogroup', id: 'nt-urgency' }, state.labels.urgencies.map((u) =>
    h('label', { class: `radio urgency-pick urgency-${u.code}` }, h('input', { type: 'radio', name: urgName, value: u.code, checked: u.code === 'thuong' }), L(u))));
  const legal = inp('nt-legal-basis');
  const picker = recipientPicker({ allowAll: true, initialMode: 'all' });
  const cc = h('input', { type: 'checkbox', id: 'nt-cc' });
  const responsible = inp('nt-responsible');
  const task = h('textarea', { class: 'input', id: 'nt-task', rows: 2 });
  const deadline = inp('nt-deadline', { placeholder: t('datetime_hint') });
  const expected = h('textarea', { class: 'input', id: 'nt-expected', rows: 2 });
  const msg = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  const send = h('button', { type: 'submit', class: 'button primary', id: 'nt-send' }, t('nt_send'));
  // the request's size without its files: the text typed, and room for the keys
  const textBytes = () => 2048 + [...form.querySelectorAll('input:not([type="file"]), textarea')].reduce((a, el) => a + utf8Length(el.value) + 16, 0);
  const files = attachmentPicker(textBytes);

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
      for (const [k, el] of [['body', body], ['legal_basis', legal], ['responsible', responsible], ['task', task], ['expected_result', expected]]) {
        if (el.value.trim()) notice[k] = el.value.trim();
      }
      const recipients = picker.value();
      if (!recipients) return fail(t('nt_need_recipients'));
      if (recipients.communes) notice.communes = recipients.communes;
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
      field('nt-responsible', t('nt_responsible'), responsible),
      field('nt-deadline', t('nt_deadline'), deadline, t('datetime_hint'))),
    field('nt-task', t('nt_task'), task),
    field('nt-expected', t('nt_expected'), expected)),
  h('div', { class: 'form-actions' }, send, h('a', { class: 'button', href: '#/notices' }, t('cancel'))));
  replace(root, pageHeader(t('nt_compose')), form);
  subject.focus();
  return null;
}

async function viewNotice(root, id) {
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
    const dl = h('dl', { class: 'facts facts-wide' }, [
      [t('nt_number'), f.number], [t('nt_doc_type'), label('doc_types', f.doc_type)], [t('nt_issuer'), f.issuer],
      [t('nt_issue_date'), fmtDate(f.issue_date)], [t('nt_urgency'), urgencyBadge(f.urgency)], [t('nt_category'), label('categories', f.category)],
      [t('nt_legal_basis'), f.legal_basis], [t('nt_cc'), f.cc_commune_committee ? t('yes') : t('no')],
      [t('nt_responsible'), f.responsible], [t('nt_task'), f.task], [t('nt_deadline'), f.deadline ? fmtDateTime(f.deadline) : null],
      [t('nt_expected'), f.expected_result], [t('nt_list_sent'), fmtDateTime(f.sent_at)], [t('nt_sent_by'), f.sent_by],
      [t('nt_list_recipients'), `${fmtNum(n.recipients_total)}${f.communes?.length ? ` (${f.communes.join(', ')})` : ''}`],
      f.source_report ? [t('nt_source_report'), `${f.source_report} (${f.source_station || ''})`] : null,
    ].filter((x) => x && x[1] !== undefined && x[1] !== null && x[1] !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    replace(head,
      pageHeader(f.subject || id, h('a', { class: 'button', href: '#/notices' }, t('back'))),
      card(null, dl, f.body ? h('div', { class: 'body-text' }, f.body) : null,
        n.attachments?.length ? attachmentTable(id, n.attachments) : null,
        h('div', { class: 'summary' }, countsChips(n.counts, n.recipients_total))));
    const tick = (at) => (at ? h('span', { class: 'tick' }, '✓ ', h('small', {}, fmtDateTime(at))) : h('span', { class: 'muted' }, '·'));
    const rank = { sent: 0, delivered: 1, acknowledged: 2, in_progress: 3, done: 4 };
    const rows = n.recipients.map((r) => {
      const rk = rank[r.state] ?? 0;
      const overdue = r.overdue && rk < 4;
      return h('tr', { class: [overdue && 'row-alert', r.escalated_at && rk < 2 && 'row-warn'], dataset: { station: r.station, state: r.state } },
        h('th', { scope: 'row' }, h('a', { href: `#/stations/${encodeURIComponent(r.station)}` }, r.commune || r.station), h('br'), h('small', { class: 'muted' }, r.station)),
        h('td', {}, stateBadge(r.state)),
        h('td', { class: 'cell-delivered' }, rk >= 1 ? tick(r.delivered_at || r.acknowledged_at || r.progress_at || r.done_at || true) : tick(null)),
        h('td', { class: 'cell-acknowledged' }, rk >= 2 ? tick(r.acknowledged_at || true) : tick(null), r.acknowledged_by ? h('div', { class: 'ack-by' }, r.acknowledged_by) : null),
        h('td', { class: 'cell-in-progress' }, rk >= 3 ? tick(r.progress_at || true) : tick(null)),
        h('td', { class: 'cell-done' }, rk >= 4 ? tick(r.done_at || true) : tick(null)),
        h('td', { class: overdue ? 'bad' : null }, overdue ? h('span', { class: 'tag tag-bad' }, t('nt_overdue')) : r.escalated_at && rk < 2 ? h('span', { class: 'tag tag-warn' }, `${t('nt_escalated')} ×${r.resend_count || 1}`) : h('span', { class: 'muted' }, '·')),
        h('td', { class: 'note' }, r.report || r.progress_note || ''));
    });
    replace(matrix,
      table([t('nt_station'), t('cf_state'), label('states', 'delivered'), label('states', 'acknowledged'), label('states', 'in_progress'), label('states', 'done'), t('nt_overdue'), t('nt_note')], rows, { class: 'matrix' }),
      pager({ offset: st.offset, limit: st.limit, matched: n.recipients_matched }, (off) => { st.offset = off; load(); }));
    first = false;
  }
  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  stateSel.addEventListener('change', () => { st.state = stateSel.value; st.offset = 0; load(); });
  await load();
  return { refresh: load, events: ['notice', 'record', 'escalation'], poll: 20000 };
}

/* ------------------------------------------------------------------ reports */

async function viewReports(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', kind: p.get('kind') || '', offset: Number(p.get('offset')) || 0, limit: 25 };
  const search = h('input', { type: 'search', class: 'input search', placeholder: t('search'), value: st.q, 'aria-label': t('search') });
  const kind = h('select', { class: 'input', 'aria-label': t('rp_kind') }, h('option', { value: '' }, t('rp_all_kinds')),
    state.labels.report_kinds.map((k) => h('option', { value: k.code, selected: st.kind === k.code }, L(k))));
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_reports')), h('div', { class: 'toolbar' }, search, kind), results);
  const open = new Set();
  async function load() {
    setHashParams({ q: st.q, kind: st.kind, offset: st.offset || '' });
    let res;
    try {
      res = await api('GET', `/api/reports${qs({ q: st.q, kind: st.kind, offset: st.offset, limit: st.limit })}`);
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
  // never under the hands of someone choosing where to pass a report on
  const refresh = () => (results.querySelector('.redistribute:not([hidden])') ? null : load());
  return { refresh, events: ['record', 'notice'], poll: 30000 };
}

function reportItem(r, open) {
  const f = r.fields;
  const details = h('div', { class: 'report-body', hidden: !open.has(r.id) },
    h('dl', { class: 'facts' }, [
      [t('rp_disease'), f.disease], [t('rp_cases'), f.cases !== undefined ? fmtNum(f.cases) : null], [t('rp_deaths'), f.deaths !== undefined ? fmtNum(f.deaths) : null],
      [t('rp_location'), f.location], [t('rp_reported_by'), f.reported_by], [t('nt_category'), f.category ? label('categories', f.category) : null],
      ['onset', f.onset_date ? fmtDate(f.onset_date) : null],
    ].filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h('dt', {}, k === 'onset' ? (state.lang === 'en' ? 'Onset' : 'Khởi phát') : k), h('dd', {}, v)])),
    f.body ? h('div', { class: 'body-text' }, f.body) : null,
    r.redistributed_as?.length ? h('p', {}, `${t('rp_redistributed')}: `, r.redistributed_as.map((nid, i) => [i ? ', ' : '', h('a', { href: `#/notices/${encodeURIComponent(nid)}` }, nid)])) : null,
    can('operator') ? redistributePanel(r) : null);
  return h('article', { class: ['report', f.urgency && `urgency-row-${f.urgency}`], dataset: { id: r.id } },
    h('button', {
      type: 'button', class: 'report-head', 'aria-expanded': open.has(r.id) ? 'true' : 'false',
      onclick: (ev) => {
        details.hidden = !details.hidden;
        if (details.hidden) open.delete(r.id); else open.add(r.id);
        ev.currentTarget.setAttribute('aria-expanded', details.hidden ? 'false' : 'true');
      },
    },
    h('span', { class: 'report-kind' }, label('report_kinds', f.kind)),
    f.urgency ? urgencyBadge(f.urgency) : null,
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
  return [h('button', { type: 'button', class: 'button', onclick: () => { panel.hidden = !panel.hidden; } }, t('rp_redistribute')), panel];
}

/* ------------------------------------------------------------------ plan tasks */

function progressBar(pct) {
  return h('progress', { max: 100, value: Math.max(0, Math.min(100, pct || 0)) }, `${pct || 0} %`);
}

async function viewTasks(root) {
  async function draw() {
    const res = await api('GET', '/api/tasks');
    const rows = res.tasks.map((tk) => {
      const f = tk.fields, pg = tk.progress || { assigned: 0, done: 0, percent: 0 };
      const overdue = tk.assignment_counts?.overdue || 0;
      return h('tr', { class: overdue ? 'row-alert' : null },
        h('td', { class: 'num' }, f.no),
        h('td', { class: 'subject' }, h('a', { href: `#/tasks/${encodeURIComponent(tk.id)}` }, f.task)),
        h('td', {}, h('small', {}, f.lead)),
        h('td', {}, f.deadline ? fmtDate(f.deadline) : f.recurring ? t('tk_recurring') : (f.deadline_text || t('none'))),
        h('td', { class: 'progress-cell' }, pg.assigned ? [progressBar(pg.percent), h('small', {}, ` ${pg.percent} % · ${t('tk_progress_of', pg.done, pg.assigned)}`)] : h('small', { class: 'muted' }, t('tk_not_assigned')),
          overdue ? h('span', { class: 'tag tag-bad' }, `${t('nt_overdue')} ${overdue}`) : null));
    });
    replace(root, pageHeader(t('nav_tasks')), table([t('tk_no'), t('tk_task'), t('tk_lead'), t('tk_deadline'), t('tk_progress')], rows, { class: 'tasks' }));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), events: ['task', 'record', 'escalation'] };
}

async function viewTask(root, id) {
  const head = h('div', {});
  const list = h('div', {});
  const assign = h('div', {});
  replace(root, head, list, assign);
  async function draw() {
    const tk = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
    const f = tk.fields;
    replace(head, pageHeader(`${t('tk_no')} ${f.no}`, h('a', { class: 'button', href: '#/tasks' }, t('back'))),
      card(null, h('p', { class: 'task-text' }, f.task), h('dl', { class: 'facts' }, [
        [t('tk_lead'), f.lead], [t('tk_coordinating'), f.coordinating || t('none')],
        [t('tk_deadline'), f.deadline ? `${fmtDate(f.deadline)} (${f.deadline_text})` : f.deadline_text],
      ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
    const rows = (tk.assignments || []).map((a) => h('tr', { class: a.overdue && a.state !== 'done' ? 'row-alert' : null },
      h('th', { scope: 'row' }, a.commune || a.station, h('br'), h('small', { class: 'muted' }, a.station)),
      h('td', {}, stateBadge(a.state)),
      h('td', { class: 'progress-cell' }, progressBar(a.state === 'done' ? 100 : a.percent || 0), h('small', {}, ` ${a.state === 'done' ? 100 : a.percent || 0} %`)),
      h('td', {}, a.deadline ? fmtDate(a.deadline) : t('none'), a.overdue && a.state !== 'done' ? h('span', { class: 'tag tag-bad' }, t('nt_overdue')) : null),
      h('td', {}, a.acknowledged_by || t('none')),
      h('td', { class: 'note' }, a.report || a.progress_note || a.instructions || '')));
    replace(list, card(t('tk_assignments'), table([t('nt_station'), t('cf_state'), t('tk_percent'), t('tk_deadline'), t('nt_ack_by'), t('nt_note')], rows)));
  }
  if (can('operator')) {
    const picker = recipientPicker({ allowAll: true, initialMode: 'stations' });
    const deadline = h('input', { class: 'input', id: 'tk-deadline', placeholder: t('date_hint') });
    const instructions = h('textarea', { class: 'input', id: 'tk-instructions', rows: 2 });
    replace(assign, card(t('tk_assign_title'), picker.el,
      h('div', { class: 'form-row' }, h('div', { class: 'field' }, h('label', { for: 'tk-deadline' }, t('tk_deadline')), deadline),
        h('div', { class: 'field grow' }, h('label', { for: 'tk-instructions' }, t('tk_instructions')), instructions)),
      h('button', {
        type: 'button', class: 'button primary', id: 'tk-assign', onclick: async () => {
          const recipients = picker.value();
          if (!recipients) { toast(t('nt_need_recipients'), 'error'); return; }
          const body = { recipients };
          if (deadline.value.trim()) {
            const d = parseDate(deadline.value);
            if (!d) { toast(t('bad_date', deadline.value), 'error'); return; }
            body.deadline = d;
          }
          if (instructions.value.trim()) body.instructions = instructions.value.trim();
          try {
            const res = await api('POST', `/api/tasks/${encodeURIComponent(id)}/assign`, body);
            toast(t('tk_assign_done', res.assigned));
            await draw();
          } catch (e) {
            toast(e.message, 'error');
          }
        },
      }, t('tk_assign'))));
  }
  await draw();
  return { refresh: () => draw().catch(() => {}), events: ['task', 'record', 'escalation'] };
}

/* ------------------------------------------------------------------ targets */

function targetShort(tg) {
  return `${tg.op === '=' ? '= 100' : `${tg.op} ${fmtNum(tg.threshold, 1)}`} %`;
}

async function viewTargets(root) {
  const p = hashParams();
  const st = { q: p.get('q') || '', only: p.get('only') || 'all', offset: Number(p.get('offset')) || 0, limit: 50, indicator: p.get('indicator') || '', station: p.get('station') || '' };
  const search = h('input', { type: 'search', class: 'input search', placeholder: t('search_stations'), value: st.q, 'aria-label': t('search') });
  const only = h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: st.only === 'unmet', onchange: (ev) => { st.only = ev.target.checked ? 'unmet' : 'all'; st.offset = 0; load(); } }), t('tg_unmet_only'));
  const refreshBtn = can('operator') ? h('button', {
    type: 'button', class: 'button', onclick: async () => {
      try { await api('POST', '/api/targets/refresh', {}); toast(t('tg_refreshing')); } catch (e) { toast(e.message, 'error'); }
    },
  }, t('tg_refresh')) : null;
  const info = h('p', { class: 'muted' });
  const results = h('div', { class: 'results' });
  const chart = h('div', { class: 'chart-card' });
  replace(root, pageHeader(t('nav_targets'), refreshBtn), h('div', { class: 'toolbar' }, search, only), info, results, chart);
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
    replace(info, res.day ? t('tg_day', fmtDate(res.day)) : t('tg_no_data'), ' · ', t('tg_cell_hint'));
    const cell = (tg, f, station) => {
      if (!f) return h('td', { class: 'nodata' }, t('none'));
      const cls = f.percent === null ? 'nodata' : f.met ? 'met' : 'notmet';
      const selected = st.indicator === tg.code && st.station === station;
      return h('td', { class: ['target-cell', cls, selected && 'selected'], dataset: { indicator: tg.code, station } },
        h('button', {
          type: 'button', class: 'cell-button', title: `${L(tg)}: ${f.numerator}/${f.denominator} — ${f.met ? t('tg_met') : t('tg_not_met')}`,
          onclick: () => { st.indicator = tg.code; st.station = station; load(); },
        },
        h('span', { class: 'pct' }, fmtPercent(f.percent)),
        h('span', { class: 'nd' }, `${fmtNum(f.numerator)}/${fmtNum(f.denominator)}`)));
    };
    const headers = [t('tg_commune'), ...defs.map((tg) => ({ text: [L(tg), h('br'), h('small', {}, targetShort(tg))], attrs: { class: 'target-head', title: L(tg) } }))];
    const districtRow = h('tr', { class: 'district-row' }, h('th', { scope: 'row' }, t('tg_district')), defs.map((tg) => cell(tg, res.district[tg.code], '')));
    const rows = [districtRow, ...communes.map((c) => h('tr', {},
      h('th', { scope: 'row' }, c.commune || c.station, h('br'), h('small', { class: 'muted' }, c.station)),
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
      points.length ? table([t('tg_day_col'), { text: t('tg_numerator'), attrs: { class: 'num' } }, { text: t('tg_denominator'), attrs: { class: 'num' } }, { text: t('tg_percent'), attrs: { class: 'num' } }, t('cf_state')],
        points.slice(-14).reverse().map((pt) => h('tr', {}, h('td', {}, fmtDate(pt.day)), h('td', { class: 'num' }, fmtNum(pt.numerator)), h('td', { class: 'num' }, fmtNum(pt.denominator)),
          h('td', { class: 'num' }, fmtPercent(pt.percent)), h('td', {}, pt.percent === null ? t('none') : pt.met ? h('span', { class: 'tag tag-good' }, t('tg_met')) : h('span', { class: 'tag tag-bad' }, t('tg_not_met'))))), { class: 'compact' }) : null));
  }

  search.addEventListener('input', debounce(() => { st.q = search.value.trim(); st.offset = 0; load(); }, 250));
  await load();
  return { refresh: load, events: ['targets'] };
}

// An SVG line chart of a target over time, with its threshold, built here
// (no library, no inline style: attributes and classes only).
function lineChart(points, tg) {
  const W = 760, H = 240, ml = 48, mr = 16, mt = 14, mb = 34;
  const vals = points.map((p) => p.percent).filter((v) => v !== null);
  let ymax = 100;
  if (tg.op === '<') ymax = Math.max(tg.threshold * 2, ...vals, 1) * 1.1;
  const ymin = 0;
  const n = points.length;
  const x = (i) => ml + (n === 1 ? (W - ml - mr) / 2 : (i * (W - ml - mr)) / (n - 1));
  const y = (v) => mt + (H - mt - mb) * (1 - (v - ymin) / (ymax - ymin));
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${L(tg)}` });
  const ticks = 5;
  for (let k = 0; k <= ticks; k++) {
    const v = ymin + ((ymax - ymin) * k) / ticks;
    g.append(s('line', { x1: ml, x2: W - mr, y1: y(v), y2: y(v), class: 'grid-line' }));
    g.append(s('text', { x: ml - 6, y: y(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, `${fmtNum(v, ymax < 20 ? 1 : 0)}%`));
  }
  const thr = tg.op === '=' ? 100 : tg.threshold;
  g.append(s('line', { x1: ml, x2: W - mr, y1: y(thr), y2: y(thr), class: 'threshold' }));
  g.append(s('text', { x: W - mr, y: y(thr) - 4, class: 'threshold-label', 'text-anchor': 'end' }, `${t('tg_target')} ${targetShort(tg)}`));
  const step = Math.max(1, Math.ceil(n / 8));
  points.forEach((p, i) => {
    if (i % step === 0 || i === n - 1) g.append(s('text', { x: x(i), y: H - mb + 18, class: 'axis-label', 'text-anchor': 'middle' }, fmtDate(p.day).slice(0, 5)));
  });
  const path = points.map((p, i) => (p.percent === null ? null : `${x(i)},${y(p.percent)}`)).filter(Boolean).join(' ');
  if (path) g.append(s('polyline', { points: path, class: 'series' }));
  points.forEach((p, i) => {
    if (p.percent === null) return;
    g.append(s('circle', { cx: x(i), cy: y(p.percent), r: 4, class: p.met ? 'point met' : 'point notmet' },
      s('title', {}, `${fmtDate(p.day)}: ${fmtPercent(p.percent)} (${p.numerator}/${p.denominator})`)));
  });
  return h('div', { class: 'chart-wrap' }, g);
}

/* ------------------------------------------------------------------ service health */

async function viewHealth(root) {
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
          [t('hl_notices'), `${fmtNum(sv.notices_sent)} / ${fmtNum(sv.notices_acked)}`],
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

/* ------------------------------------------------------------------ audit */

function auditTable(entries) {
  return table([t('au_time'), t('au_actor'), t('au_action'), t('au_table'), t('au_record'), t('au_outcome'), t('au_detail'), t('au_peer')],
    entries.map((e) => h('tr', { class: e.outcome && !['ok', 'applied'].includes(e.outcome) ? 'row-warn' : null },
      h('td', { class: 'nowrap' }, fmtDateTime(e.ts_ms)),
      h('td', {}, e.actor, h('br'), h('small', { class: 'muted' }, e.actor_kind)),
      h('td', {}, e.action),
      h('td', {}, e.table ? tableLabel(e.table) : t('none')),
      h('td', {}, e.record || t('none')),
      h('td', {}, e.outcome || t('none')),
      h('td', { class: 'detail' }, (e.detail || '').length > 160 ? `${e.detail.slice(0, 160)}…` : e.detail || ''),
      h('td', { class: 'nowrap' }, e.peer || ''))), { class: 'audit' });
}

async function viewAudit(root) {
  if (!can('admin')) {
    replace(root, pageHeader(t('nav_audit')), h('p', { class: 'alert' }, t('au_admin_only')));
    return null;
  }
  const p = hashParams();
  const st = { actor: p.get('actor') || '', action: p.get('action') || '', table: p.get('table') || '', record: p.get('record') || '', before: Number(p.get('before')) || 0 };
  const inputs = {};
  const fieldsRow = h('form', {
    class: 'toolbar', onsubmit: (ev) => {
      ev.preventDefault();
      for (const k of Object.keys(inputs)) st[k] = inputs[k].value.trim();
      st.before = 0;
      load();
    },
  }, ['actor', 'action', 'table', 'record'].map((k) => {
    inputs[k] = h('input', { class: 'input', value: st[k], placeholder: t(`au_${k}`), 'aria-label': t(`au_${k}`) });
    return inputs[k];
  }), h('button', { type: 'submit', class: 'button' }, t('au_filter')));
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_audit')), fieldsRow, results);
  async function load() {
    setHashParams({ actor: st.actor, action: st.action, table: st.table, record: st.record, before: st.before || '' });
    let res;
    try {
      res = await api('GET', `/api/audit${qs({ actor: st.actor, action: st.action, table: st.table, record: st.record, before: st.before || '', limit: 100 })}`);
    } catch (e) {
      replace(results, errorBox(e));
      return;
    }
    replace(results, auditTable(res.entries),
      h('div', { class: 'pager' },
        h('button', { type: 'button', class: 'button small', disabled: !st.before, onclick: () => { st.before = 0; load(); } }, t('au_newest')),
        h('button', { type: 'button', class: 'button small', disabled: !res.more, onclick: () => { st.before = res.next_before; load(); } }, t('au_older'))));
  }
  await load();
  return { refresh: () => (st.before ? null : load()), events: ['record', 'conflict', 'notice', 'task'] };
}

/* ------------------------------------------------------------------ boot */

window.addEventListener('hashchange', () => route());
document.addEventListener('DOMContentLoaded', () => {
  $('#lang').addEventListener('click', () => {
    state.lang = state.lang === 'vi' ? 'en' : 'vi';
    localStorage.setItem('tramsync.lang', state.lang);
    if (state.me) route(); else showLogin();
  });
  $('#logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout', {}); } catch (e) { /* the cookie goes anyway */ }
    state.me = null;
    stopLive();
    showLogin();
  });
  renderShell();
  start();
});
