// The frame around every page (header, menu, live mark), redrawn when the account or the language changes.

import { state, can } from './state.js';
import { t, h, replace, $ } from './ui.js';
import { api } from './api.js';

const NAV = [
  ['#/', 'nav_dashboard', null],
  ['#/stations', 'nav_stations', null],
  ['#/conflicts', 'nav_conflicts', null],
  ['#/notices', 'nav_notices', null],
  ['#/reports', 'nav_reports', null, 'reports'],
  ['#/tasks', 'nav_tasks', null],
  ['#/targets', 'nav_targets', null],
  ['#/health', 'nav_health', null],
  ['#/audit', 'nav_audit', 'admin'],
];

export function renderShell() {
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
    replace(nav, h('ul', {}, NAV.filter(([, , role]) => !role || can(role)).map(([href, key, , badge]) =>
      h('li', {}, h('a', { href, class: (current === href || (href === '#/' && current === '#/')) ? 'active' : null, 'aria-current': current === href ? 'page' : null }, t(key),
        badge && state.badges[badge] ? h('span', { class: 'nav-badge', title: t(`nav_${badge}_badge`, state.badges[badge]), 'aria-label': t(`nav_${badge}_badge`, state.badges[badge]) }, String(state.badges[badge])) : null)))));
  }
  renderLive();
}

// The menu's counts, asked again when the console starts, on every page and
// when a station's change or an opened report is announced.
let badgeSeq = 0;
export async function refreshBadges() {
  if (!state.me) return;
  const seq = ++badgeSeq;
  try {
    const res = await api('GET', '/api/reports?unread=1&limit=1');
    if (seq !== badgeSeq || state.badges.reports === res.unread_urgent) return;
    state.badges.reports = res.unread_urgent;
    if (state.me) renderShell();
  } catch (e) { /* the page shows what fails */ }
}

export function renderLive() {
  const el = $('#live');
  el.hidden = !state.me;
  el.className = state.live ? 'live live-on' : 'live live-off';
  el.textContent = state.live ? `● ${t('live_on')}` : `○ ${t('live_off')}`;
}
