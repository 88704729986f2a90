// The directory of focal points (issue 18, "rõ người"): the TTYT's and the
// communes' UBNDs' people (table people, written here) and each station's own
// (station_people, written at the station), and the picker the pages use
// where a responsibility is given. Reading it is audited (personal data).

import { t, h, replace, fold, errorBox, table, pageHeader, fmtDate } from './ui.js';
import { api } from './api.js';

// Everyone of both tables: [{id, table, owner, fields}]
export async function loadPeople() {
  const [p, sp] = await Promise.all([
    api('GET', '/api/records/people?limit=1000'),
    api('GET', '/api/records/station_people?limit=1000'),
  ]);
  return [...p.records.map((r) => ({ ...r, table: 'people' })), ...sp.records.map((r) => ({ ...r, table: 'station_people' }))];
}

// a role tag in words (a tag the console does not know: as written)
const roleTag = (code) => (t(`tag_${code}`) !== `tag_${code}` ? t(`tag_${code}`) : code);

export const personLabel = (f) => `${f.full_name}${f.position ? ` (${f.position})` : ''}`;

// Who may answer for what is given to some stations (codes; null: any):
// the TTYT's people, and the UBND's and the staff of those stations.
export function peopleFor(people, stations) {
  if (!stations) return people;
  return people.filter((p) => (p.table === 'people'
    ? p.fields.unit_kind !== 'ubnd' || stations.includes(p.fields.station)
    : stations.includes(p.owner)));
}

// A <select> of the directory's people (the first option: nobody); its
// value is a person's id.
export function personPicker(id, people) {
  return fillPersonPicker(h('select', { class: 'input', id }), people);
}

// Its options again, for other people: the TTYT's, the UBNDs', the
// stations' staff, each a group (the one chosen kept when still offered).
export function fillPersonPicker(sel, people) {
  const keep = sel.value;
  const group = (label, list) => (list.length ? h('optgroup', { label }, list.map((p) =>
    h('option', { value: p.id, selected: p.id === keep }, `${personLabel(p.fields)} — ${p.fields.unit || p.owner}`))) : null);
  return replace(sel, h('option', { value: '' }, t('pp_nobody')),
    group(t('tk_people_ttyt'), people.filter((p) => p.table === 'people' && p.fields.unit_kind !== 'ubnd')),
    group(t('tk_people_ubnd'), people.filter((p) => p.table === 'people' && p.fields.unit_kind === 'ubnd')),
    group(t('tk_people_station'), people.filter((p) => p.table === 'station_people')));
}

export async function viewPeople(root) {
  const search = h('input', { type: 'search', class: 'input search', id: 'pp-search', placeholder: t('pp_search'), 'aria-label': t('search') });
  const results = h('div', { class: 'results' });
  replace(root, pageHeader(t('nav_people')), h('p', { class: 'muted' }, t('pp_intro')), h('div', { class: 'toolbar' }, search), results);
  let people = [];
  const draw = () => {
    const q = fold(search.value);
    const shown = people.filter((p) => !q || fold(`${p.fields.full_name} ${p.fields.position} ${p.fields.unit} ${p.owner} ${(p.fields.roles || []).map(roleTag).join(' ')}`).includes(q));
    replace(results, table(
      [t('pp_name'), t('pp_position'), t('pp_unit'), t('pp_phone'), t('pp_roles'), t('pp_active'), t('pp_source')],
      shown.map((p) => h('tr', { class: 'pp-row', 'data-id': p.id },
        h('td', {}, p.fields.full_name), h('td', {}, p.fields.position || ''), h('td', {}, p.fields.unit || ''),
        h('td', {}, p.fields.phone || ''), h('td', {}, (p.fields.roles || []).map(roleTag).join(', ')),
        h('td', {}, [p.fields.active_from && fmtDate(p.fields.active_from), p.fields.active_to && fmtDate(p.fields.active_to)].filter(Boolean).join(' – ')),
        h('td', {}, p.table === 'people' ? t('pp_district') : t('pp_station', p.owner)))),
      { empty: t('pp_empty') }));
  };
  search.addEventListener('input', draw);
  async function load() {
    try { people = await loadPeople(); } catch (e) { replace(results, errorBox(e)); return; }
    draw();
  }
  await load();
  return { refresh: load, events: ['record'] };
}
