// Server-sent events keep the page shown up to date without a reload, at a bounded rate.

import { state } from './state.js';
import { renderLive, refreshBadges, setBadges } from './shell.js';

/* live updates: server-sent events refresh the page shown; pages about
 * station connectivity also poll (connections come and go without events) */
export function startLive() {
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
  for (const name of ['record', 'conflict', 'notice', 'task', 'escalation', 'targets', 'report', 'epidemic', 'calendar']) {
    es.addEventListener(name, (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { data = {}; }
      onEvent(name, data);
    });
  }
}

export function stopLive() {
  if (state.events) state.events.close();
  state.events = null;
  state.live = false;
}

let badgeTimer = 0;
function onEvent(name, data) {
  // a station's report comes as a record; an opened one as a report
  if ((name === 'record' || name === 'report') && !badgeTimer) {
    badgeTimer = setTimeout(() => { badgeTimer = 0; refreshBadges(); }, 500);
  }
  // an epidemic alert raised or acknowledged says how many wait
  if (name === 'epidemic' && typeof data.open === 'number') setBadges({ epidemic: data.open });
  const v = state.view;
  if (!v) {
    // a page still loading may have read the data before this change:
    // route() refreshes it once it is shown
    state.missed.add(name);
    return;
  }
  if (v.onEvent) v.onEvent(name, data);
  if (v.refresh && (!v.events || v.events.includes(name))) scheduleRefresh(v, name === 'epidemic');
}

// one refresh at a time, at most every 2.5 s however busy the district is;
// soon (an epidemic alert, rare): in a moment, whatever was planned
export function scheduleRefresh(v, soon = false) {
  if (state.refreshTimer && !soon) return;
  clearTimeout(state.refreshTimer);
  const wait = soon ? 200 : Math.max(300, 2500 - (Date.now() - state.lastRefresh));
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = 0;
    if (state.view !== v) return;
    state.lastRefresh = Date.now();
    try { await v.refresh(); } catch (e) { /* shown by the page */ }
  }, wait);
}
