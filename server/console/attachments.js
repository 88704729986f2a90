// A notice's files: refused in the page when the daemon would refuse them, offered for download once sent.

import { state } from './state.js';
import { t, h, s, replace, fmtNum, fmtBytes, table } from './ui.js';

// Attachments of a notice: the limits the daemon gives in /api/labels
// (defaults as the daemon's own when an older one leaves them out), checked
// here before anything is uploaded; the daemon checks them again.
function attachmentLimits() {
  const l = state.labels?.limits || {};
  return { count: l.attachments ?? 5, bytes: l.attachment_bytes ?? 262144, body: l.max_body ?? 2 * 1024 * 1024 };
}

export const utf8Length = (text) => new TextEncoder().encode(text).length;
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

export function paperclip() {
  return s('svg', { viewBox: '0 0 24 24', class: 'icon', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: 'M8 8v8.5a4 4 0 0 0 8 0V6a2.8 2.8 0 0 0-5.6 0v10a1.6 1.6 0 0 0 3.2 0V8', transform: 'rotate(40 12 12)' }));
}

// The file chooser of the compose form: files picked (several at a time,
// added to those already chosen), each shown with its size and a remove
// button; what does not fit the limits is refused on the spot with the reason.
// otherBytes() is the size of the rest of the request, for the body limit.
export function attachmentPicker(otherBytes) {
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
export function attachmentTable(noticeId, list) {
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
