// The station/commune chooser shared by all that sends to stations (notices, reports passed on, tasks).

import { t, h, replace, qs, debounce, fmtDateTime } from './ui.js';
import { api } from './api.js';

let pickers = 0;

// A station/commune chooser for recipients: search, pick, chips.
// onChange: called whenever what is chosen changes.
export function recipientPicker({ allowAll = true, initialMode = 'all', onChange = null } = {}) {
  let mode = allowAll ? initialMode : 'stations';
  const picked = new Map(); // code -> label (stations) or commune -> commune
  const offline = new Map(); // the same keys -> the stations among them not connected: [{code, name, status, since}]
  const chips = h('div', { class: 'chips' });
  const warn = h('div', { class: 'alert alert-warn picker-offline', role: 'status', hidden: true });
  const suggest = h('ul', { class: 'suggest', role: 'listbox' });
  const input = h('input', { type: 'search', class: 'input', placeholder: t('nt_pick_hint'), autocomplete: 'off', 'aria-label': t('nt_pick_hint') });
  const pickArea = h('div', { class: 'pick-area' }, chips, input, suggest, warn);

  // a station chosen that is not connected gets the notice only when it
  // connects again: said, with since when
  const drawWarn = () => {
    const down = [...offline.values()].flat();
    warn.hidden = !down.length;
    replace(warn, down.length ? [h('strong', {}, t('rc_offline_title')), h('ul', {}, down.map((x) =>
      h('li', { dataset: { station: x.code } }, t('rc_offline_since', x.name, x.since ? fmtDateTime(x.since) : t('never')))))] : []);
  };
  const drawChips = () => {
    for (const k of [...offline.keys()]) if (!picked.has(k)) offline.delete(k);
    drawWarn();
    if (onChange) queueMicrotask(onChange);
    return replace(chips, [...picked.entries()].map(([k, v]) =>
      h('span', { class: 'chip' }, v, h('button', { type: 'button', class: 'chip-x', 'aria-label': 'x', onclick: () => { picked.delete(k); drawChips(); } }, '×'))));
  };

  const search = debounce(async () => {
    const q = input.value.trim();
    if (!q) { replace(suggest); return; }
    try {
      const res = await api('GET', `/api/stations${qs({ q, limit: 10, sort: 'code' })}`);
      const items = [];
      const down = new Map();
      for (const st of res.stations) {
        const commune = st.directory?.commune || st.commune || st.code;
        const key = mode === 'communes' ? commune : st.code;
        if (!down.has(key)) {
          down.set(key, []);
          items.push([key, mode === 'communes' ? commune : `${st.code} — ${st.directory?.name || commune}`]);
        }
        if (!st.connected) down.get(key).push({ code: st.code, name: st.directory?.name || commune, status: st.status, since: st.last_seen_ms });
      }
      replace(suggest, items.map(([key, text]) => h('li', {
        role: 'option', tabindex: 0, class: 'suggest-item',
        onclick: () => { picked.set(key, text); offline.set(key, down.get(key) || []); drawChips(); input.value = ''; replace(suggest); input.focus(); },
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

  // one name for the chooser's radios, so they are one group: choosing one
  // unchooses the others (and "all" chosen again is a change, which sets mode)
  const group = `rcpt-${++pickers}`;
  const radios = (allowAll ? ['all', 'communes', 'stations'] : ['communes', 'stations']).map((m) =>
    h('label', { class: 'radio' }, h('input', {
      type: 'radio', name: group, value: m, checked: m === mode,
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
    // what was chosen, for a confirmation: the codes or communes
    picked: () => [...picked.values()],
    // empty again, after what was chosen was used
    clear() { picked.clear(); drawChips(); input.value = ''; replace(suggest); },
    // chosen beforehand (an outbreak's stations, a report's neighbours): [[key, text]]
    pick(list) { for (const [k, v] of list) { picked.set(k, v); offline.set(k, []); } drawChips(); },
  };
}
