// The district console's entry point: it starts the console and shows the page the URL names.
//
// One page over the admin API (server/ts_admin.c): plain modern JavaScript in
// ES modules, no framework, no build step, nothing loaded from elsewhere (the
// daemon's CSP allows only 'self'); no inline styles either: the DOM is built
// with createElement and styled by class from style.css.
//
// The modules: state.js (what all share), ui.js (texts, DOM, formats, widgets),
// api.js (the admin API), shell.js (header and menu), live.js (server-sent
// events), login.js, recipients.js (the station chooser), and one module per
// page: dashboard, stations, conflicts, notices (with compose.js and
// attachments.js), reports, epidemic, tasks, targets, health, audit.

import { state, scoped } from './state.js';
import { t, h, replace, $, errorBox } from './ui.js';
import { onSessionEnded, api, loadTables } from './api.js';
import { renderShell, refreshBadges } from './shell.js';
import { startLive, stopLive, scheduleRefresh } from './live.js';
import { showLogin } from './login.js';
import { viewDashboard } from './dashboard.js';
import { viewStations, viewStation } from './stations.js';
import { viewConflicts, viewConflict } from './conflicts.js';
import { viewNotices, viewNotice } from './notices.js';
import { viewCompose } from './compose.js';
import { viewReports } from './reports.js';
import { viewEpidemic } from './epidemic.js';
import { viewOutbreak, viewOpenOutbreak } from './outbreaks.js';
import { viewDiseases } from './diseases.js';
import { viewTasks, viewTask } from './tasks.js';
import { viewTargets } from './targets.js';
import { viewPlans, viewPlanVersion } from './plans.js';
import { viewHealth } from './health.js';
import { viewAudit } from './audit.js';
import { viewCommune, viewMonitor } from './commune.js';
import { viewPeople } from './people.js';
import { viewCalendar } from './calendar.js';

/* ------------------------------------------------------------------ login */

// the login, and after it the console
const login = (message) => showLogin(message, start);

onSessionEnded(() => {
  stopLive();
  login(t('session_expired'));
});

async function start() {
  // asked without a 401: a fresh load without a session is no error
  try {
    const s = await api('GET', '/api/session');
    state.me = s.signed_in ? { user: s.user, role: s.role } : null;
    // what the account sees: the district, its communes, or health only
    if (state.me) Object.assign(state.me, await api('GET', '/api/me'));
  } catch (e) {
    state.me = null;
    login(e.message);
    return;
  }
  if (!state.me) {
    login('');
    return;
  }
  try {
    if (state.me.scope !== 'monitor') {
      state.labels = state.labels || await api('GET', '/api/labels');
      await loadTables();
    }
  } catch (e) {
    replace($('#main'), errorBox(e));
    return;
  }
  // the event stream and the badges are the district's
  if (!scoped()) {
    startLive();
    refreshBadges();
  }
  await route();
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
  [/^epidemic$/, viewEpidemic],
  [/^epidemic\/outbreaks\/([^/]+)$/, viewOutbreak],
  [/^epidemic\/open$/, viewOpenOutbreak],
  [/^epidemic\/diseases$/, viewDiseases],
  [/^tasks$/, viewTasks],
  [/^tasks\/([^/]+)$/, viewTask],
  [/^targets$/, viewTargets],
  [/^targets\/plans$/, viewPlans],
  [/^targets\/plans\/(\d+)$/, viewPlanVersion],
  [/^calendar$/, viewCalendar],
  [/^health$/, viewHealth],
  [/^audit$/, viewAudit],
  [/^commune$/, viewCommune],
  [/^people$/, viewPeople],
  [/^monitor$/, viewMonitor],
];

// the pages a scoped account opens (the server refuses it the others)
const SCOPED = {
  communes: /^(commune|notices|notices\/(?!new$)[^/]+|tasks|tasks\/[^/]+|targets|targets\/plans(?:\/\d+)?|calendar)$/,
  monitor: /^monitor$/,
};
const HOME = { communes: '#/commune', monitor: '#/monitor' };

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
  if (scoped() && !SCOPED[state.me.scope]?.test(path)) {
    if (location.hash !== HOME[state.me.scope]) location.hash = HOME[state.me.scope] || '#/';
    return;
  }
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

/* ------------------------------------------------------------------ boot */

window.addEventListener('hashchange', () => route());
document.addEventListener('DOMContentLoaded', () => {
  $('#lang').addEventListener('click', () => {
    state.lang = state.lang === 'vi' ? 'en' : 'vi';
    localStorage.setItem('tramsync.lang', state.lang);
    if (state.me) route(); else login();
  });
  $('#logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout', {}); } catch (e) { /* the cookie goes anyway */ }
    state.me = null;
    stopLive();
    login();
  });
  renderShell();
  start();
});
