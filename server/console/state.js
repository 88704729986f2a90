// What all modules share, in one place: the account signed in, the server's labels and tables, the page shown.

export const state = {
  lang: localStorage.getItem('tramsync.lang') === 'en' ? 'en' : 'vi',
  me: null,          // {user, role, scope: district|communes|monitor, stations: [codes] of a commune's account}
  labels: null,      // /api/labels
  tables: null,      // /api/tables, by name
  stationNames: null, // station code -> name (api.js loadStationNames)
  stationNamesAt: 0,
  view: null,        // the page shown: {refresh, poll, onEvent}
  events: null,      // EventSource
  live: false,
  pollTimer: 0,
  refreshTimer: 0,
  lastRefresh: 0,
  routeSeq: 0,
  missed: new Set(), // events that came while the page shown was loading
  badges: { reports: 0, epidemic: 0 }, // counts on the menu (urgent station reports not yet opened, epidemic alerts not acknowledged)
};

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
// a commune's or a monitor's account: the server refuses it everything else,
// and its menu shows only what it may open (server/admin/ts_admin_scope.c)
export const scoped = () => !!state.me && !!state.me.scope && state.me.scope !== 'district';
export const can = (role) => state.me && !scoped() && ROLE_RANK[state.me.role] >= ROLE_RANK[role];
