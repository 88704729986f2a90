// The one way to the admin API, so every call carries the CSRF header and fails the same way.

import { state } from './state.js';
import { t } from './ui.js';

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// what to do when the daemon says the session is over (app.js: stop the live
// stream, show the login); api() cannot show the login itself, the login calls api()
let sessionEnded = () => {};
export function onSessionEnded(fn) {
  sessionEnded = fn;
}

export async function api(method, path, body) {
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
      sessionEnded();
    }
    throw new ApiError(res.status, err.code || String(res.status),
      res.status === 403 && !err.message ? t('forbidden') : err.message || res.statusText);
  }
  return data;
}

export async function loadTables() {
  if (state.tables) return state.tables;
  const res = await api('GET', '/api/tables');
  state.tables = {};
  for (const tb of res.tables) {
    tb.byName = Object.fromEntries(tb.fields.map((f) => [f.name, f]));
    state.tables[tb.name] = tb;
  }
  return state.tables;
}

// station code -> name (the directory), to say who wrote a version in words
export async function loadStationNames() {
  if (state.stationNames && Date.now() - state.stationNamesAt < 60000) return state.stationNames;
  const res = await api('GET', '/api/stations?sort=code');
  state.stationNames = new Map(res.stations.map((x) => [x.code, x.directory?.name || x.code]));
  state.stationNamesAt = Date.now();
  return state.stationNames;
}
