// The frame around every page (header, menu, live mark), redrawn when the account or the language changes.

import { state, can, scoped } from './state.js';
import { t, h, replace, $ } from './ui.js';
import { api } from './api.js';

// [href, text, role needed, badge, scopes that see it (none: the district's accounts only)]
const NAV = [
  ['#/commune', 'nav_commune', null, null, ['communes']],
  ['#/', 'nav_dashboard', null],
  ['#/stations', 'nav_stations', null],
  ['#/conflicts', 'nav_conflicts', null],
  ['#/notices', 'nav_notices', null, null, ['district', 'communes']],
  ['#/reports', 'nav_reports', null, 'reports'],
  ['#/epidemic', 'nav_epidemic', null, 'epidemic'],
  ['#/tasks', 'nav_tasks', null, null, ['district', 'communes']],
  ['#/targets', 'nav_targets', null, null, ['district', 'communes']],
  ['#/calendar', 'nav_calendar', null, null, ['district', 'communes']],
  ['#/people', 'nav_people', null],
  ['#/health', 'nav_health', null],
  ['#/monitor', 'nav_health', null, null, ['monitor']],
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
    const scope = state.me.scope || 'district';
    const shown = ([, , role, , scopes]) => (scopes || ['district']).includes(scope) && (!role || can(role));
    replace(nav, h('ul', {}, NAV.filter(shown).map(([href, key, , badge]) =>
      h('li', {}, h('a', { href, class: (current === href || (href === '#/' && current === '#/')) ? 'active' : null, 'aria-current': current === href ? 'page' : null }, t(key),
        badge && state.badges[badge] ? h('span', { class: 'nav-badge', title: t(`nav_${badge}_badge`, state.badges[badge]), 'aria-label': t(`nav_${badge}_badge`, state.badges[badge]) }, String(state.badges[badge])) : null)))));
  }
  renderLive();
}

// The menu's counts, asked again when the console starts, on every page and
// when a station's change or an opened report is announced; epidemic alerts
// not acknowledged come with the event that announces them (live.js).
let badgeSeq = 0;
export async function refreshBadges() {
  if (!state.me || scoped()) return;
  const seq = ++badgeSeq;
  // what fails keeps its count: the page shows the error
  const [reports, epidemic] = await Promise.all([
    api('GET', '/api/reports?unread=1&limit=1').then((r) => r.unread_urgent, () => undefined),
    api('GET', '/api/epidemic/alerts?limit=1').then((r) => r.open, () => undefined),
  ]);
  if (seq === badgeSeq) setBadges({ reports, epidemic });
}

// {name: count}: the menu redrawn when one changed
export function setBadges(counts) {
  let changed = false;
  for (const [name, n] of Object.entries(counts)) {
    if (typeof n !== 'number' || state.badges[name] === n) continue;
    state.badges[name] = n;
    changed = true;
  }
  if (changed && state.me) renderShell();
}

export function renderLive() {
  const el = $('#live');
  // a commune's or monitor's account has no event stream to show
  el.hidden = !state.me || scoped();
  el.className = state.live ? 'live live-on' : 'live live-off';
  el.textContent = state.live ? `● ${t('live_on')}` : `○ ${t('live_off')}`;
}
