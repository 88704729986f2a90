// The station/commune chooser shared by all that sends to stations (notices, reports passed on, tasks).

import { t, h, replace, qs, debounce } from './ui.js';
import { api } from './api.js';

let pickers = 0;

// A station/commune chooser for recipients: search, pick, chips.
export function recipientPicker({ allowAll = true, initialMode = 'all' } = {}) {
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
  };
}
