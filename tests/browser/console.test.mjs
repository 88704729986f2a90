// Browser tests of the district console in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core from this folder only),
// against the full demo (tests/demo/run-demo.sh: tramsyncd and the four
// station agents) started in a temporary directory on free ports.
//
// Steps: log in; see the four demo stations; send a Hỏa tốc notice from the
// console, watch a station agent receive it (tramsync --json notices) and its
// acknowledgement (tramsync ack) appear in the status matrix without a
// reload; attach files to a notice (the limits refused in the page before
// anything is sent; two files sent, listed, one downloaded and its bytes
// compared; the daemon's body limit and its refusal shown); produce a true conflict and resolve it with a merged value;
// issue 16: one radio group per recipient chooser, the urgent tile over every
// urgency above Thường, urgent station reports on the overview and the menu
// until opened, the district's day on a PC set to UTC at 23:57 UTC (a second
// Chromium, its clock fixed), targets never over missing data and a stale
// commune, acknowledgements on the health page, compose validation in
// Vietnamese below the sticky header, no 401 on a fresh load; and points 7
// to 12: reminders on a schedule with their times, the next one and the
// station's contact; an offline station warned of in compose, sending to all
// asked first, a notice recalled (console and station command line); since
// when a station is offline; labels instead of codes (registry, audit);
// conflicts: a bad number said in words, the resolution kept in sight; plan
// tasks searched, filtered and assigned again only when confirmed;
// issue 17 (epidemic.steps.mjs): the Dịch bệnh page (the demo's dengue cluster: alerts in words,
// cases by commune × disease × week, the reporting clock, filters, links) in
// Vietnamese and English, its CSV, the alert badge and the overview's tile
// appearing live when a station writes a case, cleared by acknowledging it
// (who and when shown); outbreaks (outbreaks.steps.mjs: the list, a timeline,
// opening one, instructions, declaring its end) and the disease catalogue;
// issue 18 (commune.steps.mjs): the directory of focal points (listed, searched, offered as the
// responsible person, shown by name on the notice) and the commune role's view
// (its page and menu only, nothing of another commune, acknowledging a notice
// copied to the UBND); issue 19 (plans.steps.mjs): the plan's versions and
// what a replaced one differs in; switch
// to English and back; every page at 1366×768 (no horizontal overflow, under
// a second); no script error and no CSP violation. Each step leaves
// screenshots in build/test-artefacts/browser/. Output is in cmocka's text
// format so tests/run-tests.sh counts the cases.
//
// How the conflict is made (reliably, in the demo): the district creates an
// outbreak record shared with Bình Xuyên and waits until the station has it;
// the station's agent is stopped (SIGTERM, by its pid); the station edits
// cases_total offline (tramsync put); the district edits the same field
// (POST /api/records/outbreaks/ID); the agent is started again. Neither write
// saw the other, so the push on reconnection is a true conflict logged at
// the district, with both values.

import { chromium } from 'playwright-core';
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { outbreakSteps } from './outbreaks.steps.mjs';
import { planSteps } from './plans.steps.mjs';
import { epidemicSteps } from './epidemic.steps.mjs';
import { communeSteps } from './commune.steps.mjs';
import { documentSteps } from './documents.steps.mjs';
import { taskPeriodSteps } from './tasks_period.steps.mjs';
import { calendarSteps } from './calendar.steps.mjs';
import { calendarGradeSteps } from './calendar_grade.steps.mjs';
import { noticeSteps } from './notices.steps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin');
const ART = process.env.TS_ARTEFACTS_DIR || path.join(ROOT, 'build/test-artefacts/browser');
const CHROMIUM = process.env.TS_CHROMIUM || '/usr/bin/chromium';
const USER = 'admin';
const PASSWORD = 'tramsync-demo';
const STATIONS = ['binhnguyen', 'binhxuyen', 'binhtuyen', 'xuanlang'];
const VIEWPORT = { width: 1366, height: 768 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pad2 = (n) => String(n).padStart(2, '0');
const ddmmyyyy = (d) => `${pad2(d.getDate())}/${pad2(d.getMonth() + 1)}/${d.getFullYear()}`;

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function waitFor(what, timeoutMs, fn, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const tramsync = (station, ...args) => run(path.join(BIN, 'tramsync'), ['-d', path.join(demoDir, 'stations', station), ...args]);

function httpsGet(url) {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

// the pid of a process whose command line is exactly argv (one we started,
// or one the demo we started started)
function findPid(argv) {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch (e) { continue; }
    if (cmd.length === argv.length && cmd.every((a, i) => a === argv[i])) return Number(entry);
  }
  return 0;
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return false; } };

/* ------------------------------------------------------------------ harness */

const results = [];
let page;
let demo;
let demoDir;
let base;
let agent = 0; // the agent this test restarted
const restarted = []; // other agents this test restarted
let spare = null; // a second browser, for contexts of their own (another time zone, no session)
const pageErrors = [];
const consoleErrors = [];

async function shot(name, opts = {}) {
  if (!page) return;
  fs.mkdirSync(ART, { recursive: true });
  await page.screenshot({ path: path.join(ART, `${name}.png`), ...opts });
}

async function test(name, fn) {
  console.log(`[ RUN      ] ${name}`);
  const t0 = Date.now();
  try {
    await fn();
    console.log(`[       OK ] ${name} (${Date.now() - t0} ms)`);
    results.push([name, true]);
  } catch (e) {
    console.log(`[  ERROR   ] --- ${String(e && e.stack ? e.stack : e).split('\n').slice(0, 6).join('\n    ')}`);
    console.log(`[  FAILED  ] ${name}`);
    results.push([name, false]);
    await shot(`FAILED-${name}`).catch(() => {});
  }
}

async function apiFromPage(method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const opts = { method: m, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (b !== null) {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-Requested-With'] = 'tramsync';
      opts.body = JSON.stringify(b);
    }
    const r = await fetch(u, opts);
    let json = null;
    try { json = await r.json(); } catch (e) { json = null; }
    return { status: r.status, json };
  }, [method, url, body === undefined ? null : body]);
}

async function go(hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
}

/* ------------------------------------------------------------------ the demo */

async function startDemo() {
  demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tramsync-browser-demo-'));
  const port = await freePort();
  let adminPort = await freePort();
  while (adminPort === port) adminPort = await freePort();
  base = `https://localhost:${adminPort}`;
  const log = fs.openSync(path.join(demoDir, 'demo.log'), 'a');
  demo = spawn('bash', [path.join(ROOT, 'tests/demo/run-demo.sh')], {
    cwd: ROOT,
    env: {
      ...process.env, TS_DEMO_DIR: demoDir, TS_DEMO_PORT: String(port), TS_DEMO_ADMIN_PORT: String(adminPort),
      // reminders of Thượng khẩn notices in seconds (escalation_reminders)
      TS_DEMO_DISTRICT_CONF: '[notices]\nescalate_every = 1s\nack_within_thuong_khan = 2s\nremind_every_thuong_khan = 3s',
    },
    detached: true,
    stdio: ['ignore', log, log],
  });
  await waitFor('the demo to start', 90000, () => {
    if (demo.exitCode !== null) throw new Error(`run-demo.sh exited (${demo.exitCode}): ${fs.readFileSync(path.join(demoDir, 'demo.log'), 'utf8').slice(-800)}`);
    return fs.readFileSync(path.join(demoDir, 'demo.log'), 'utf8').includes('demo is running');
  });
  await waitFor('the console', 20000, async () => (await httpsGet(`${base}/`)) === 200);
}

async function stopDemo() {
  for (const pid of [agent, ...restarted]) {
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      await waitFor('our agent to stop', 15000, () => !alive(pid)).catch(() => process.kill(pid, 'SIGKILL'));
    }
  }
  if (demo && demo.exitCode === null) {
    // the demo stops its agents, then the daemon, on SIGTERM
    process.kill(demo.pid, 'SIGTERM');
    const stopped = await waitFor('the demo to stop', 30000, () => demo.exitCode !== null).then(() => true, () => false);
    if (!stopped) {
      try { process.kill(-demo.pid, 'SIGKILL'); } catch (e) { /* gone */ }
    }
  }
}

/* ------------------------------------------------------------------ the steps */

let noticeId = '';

async function login() {
  await page.goto(`${base}/`);
  await page.waitForSelector('#login-user', { timeout: 10000 });
  assert((await page.getAttribute('html', 'lang')) === 'vi', 'Vietnamese by default');
  await page.fill('#login-user', USER);
  await page.fill('#login-pass', PASSWORD);
  await shot('01-login');
  await page.click('#login-submit');
  await page.waitForSelector('#nav a.active', { timeout: 10000 });
  await page.waitForSelector('.stats .stat', { timeout: 10000 });
  const h1 = await page.textContent('main h1');
  assert(h1.includes('Tổng quan'), `dashboard heading: ${h1}`);
  await shot('02-dashboard');
}

async function fourDemoStations() {
  await go('#/stations');
  await page.waitForSelector('table.stations tbody tr[data-code]', { timeout: 10000 });
  // the agents connect within seconds; the page polls and follows events
  await page.waitForFunction((n) => document.querySelectorAll('table.stations tbody tr.row-online').length === n, STATIONS.length, { timeout: 30000 });
  const codes = await page.$$eval('table.stations tbody tr[data-code]', (rows) => rows.map((r) => r.dataset.code).sort());
  assert(JSON.stringify(codes) === JSON.stringify([...STATIONS].sort()), `stations shown: ${codes}`);
  const text = await page.textContent('table.stations');
  for (const name of ['Bình Nguyên', 'Bình Xuyên', 'Bình Tuyền', 'Xuân Lãng']) assert(text.includes(name), `${name} shown`);
  assert(/\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(text), 'last sync as dd/mm/yyyy HH:MM');
  await shot('03-stations');
  // search without tone marks
  await page.fill('#station-search', 'xuan lang');
  await page.waitForFunction(() => document.querySelectorAll('table.stations tbody tr[data-code]').length === 1, null, { timeout: 10000 });
  await page.fill('#station-search', '');
  await page.waitForFunction((n) => document.querySelectorAll('table.stations tbody tr[data-code]').length === n, STATIONS.length, { timeout: 10000 });
}

async function sendHoaTocNotice() {
  await go('#/notices/new');
  await page.waitForSelector('#nt-subject', { timeout: 10000 });
  const subject = `Công điện về phòng chống dịch sốt xuất huyết (${Date.now() % 100000})`;
  const deadline = new Date(Date.now() + 3 * 86400000);
  await page.selectOption('#nt-doc-type', 'cong_dien');
  await page.fill('#nt-issuer', 'Trung tâm Y tế khu vực Bình Xuyên');
  await page.fill('#nt-subject', subject);
  await page.fill('#nt-body', 'Yêu cầu các trạm y tế xã triển khai ngay chiến dịch diệt lăng quăng, giám sát ca bệnh và báo cáo hằng ngày.');
  await page.selectOption('#nt-category', 'prevention');
  await page.fill('#nt-legal-basis', 'Luật Phòng, chống bệnh truyền nhiễm năm 2007');
  await page.click('label.urgency-hoa_toc');
  assert(await page.isChecked('label.urgency-hoa_toc input'), 'Hỏa tốc chosen');
  await page.check('#nt-cc');
  await page.fill('#nt-responsible', 'Trạm trưởng trạm y tế xã');
  await page.fill('#nt-task', 'Tổ chức diệt lăng quăng tại 100% thôn');
  await page.fill('#nt-deadline', `${ddmmyyyy(deadline)} 17:00`);
  await page.fill('#nt-expected', 'Không để dịch lan rộng; báo cáo kết quả trước hạn');
  await shot('04-compose', { fullPage: true });
  await page.click('#nt-send');
  assert((await confirmInPage()).includes('tất cả 4 trạm'), 'sending to all is asked first');
  await page.waitForFunction(() => /^#\/notices\/TB-/.test(location.hash), null, { timeout: 10000 });
  noticeId = decodeURIComponent((await page.evaluate(() => location.hash)).replace('#/notices/', '').split('?')[0]);
  await page.waitForSelector('table.matrix tbody tr[data-station]', { timeout: 10000 });
  const rows = await page.$$eval('table.matrix tbody tr[data-station]', (r) => r.length);
  assert(rows === 4, `four recipients in the matrix, saw ${rows}`);
  assert((await page.textContent('main')).includes('Hỏa tốc'), 'urgency shown');
  await shot('05-notice-sent');

  // the station's agent receives it (a NOTICE frame, ahead of bulk traffic)
  const got = await waitFor('the notice at binhnguyen', 30000, async () => {
    const r = await tramsync('binhnguyen', '--json', 'notices');
    if (r.code !== 0) return false;
    const list = JSON.parse(r.stdout);
    return list.find((n) => n.id === noticeId);
  });
  assert(got.notice.urgency === 'hoa_toc', 'the station sees Hỏa tốc');
  assert(got.notice.subject === subject, 'the station sees the subject');
  // its delivery shows in the console, then its acknowledgement
  const ack = await tramsync('binhnguyen', 'ack', noticeId, '--by', 'Nguyễn Văn An');
  assert(ack.code === 0, `tramsync ack: ${ack.stderr}`);
  await page.waitForFunction(() => {
    const row = document.querySelector('table.matrix tr[data-station="binhnguyen"]');
    return row && row.dataset.state === 'acknowledged' && row.textContent.includes('Nguyễn Văn An');
  }, null, { timeout: 40000 });
  const cell = await page.textContent('table.matrix tr[data-station="binhnguyen"] td.cell-acknowledged');
  assert(/✓ \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(cell), `acknowledged time as dd/mm/yyyy HH:MM: ${cell}`);
  await shot('06-notice-acknowledged');
}

const sha256hex = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// POST /api/notices seen by the page while fn runs
async function noticePostsDuring(fn) {
  const posts = [];
  const onRequest = (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/notices') posts.push(req.url());
  };
  page.on('request', onRequest);
  try {
    await fn();
    await sleep(300);
  } finally {
    page.off('request', onRequest);
  }
  return posts.length;
}

const fileItems = () => page.$$eval('#nt-file-list li.file-item', (li) => li.map((x) => x.dataset.name));
const filesMessage = async () => ((await page.isHidden('#nt-files-msg')) ? '' : page.textContent('#nt-files-msg'));

async function noticeAttachments() {
  const labels = await apiFromPage('GET', '/api/labels');
  const lim = labels.json.limits;
  assert(lim && lim.attachments === 5 && lim.attachment_bytes === 262144 && lim.max_body > 0, `limits in /api/labels: ${JSON.stringify(lim)}`);
  await go('#/notices/new');
  await page.waitForSelector('#nt-files', { timeout: 10000 });
  assert((await page.textContent('fieldset.files')).includes('Tối đa 5 tệp, mỗi tệp không quá 256 KiB'), 'the limits shown by the chooser');

  // what does not fit is refused when chosen, and nothing is sent
  const small = (i) => ({ name: `phu-luc-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`Phụ lục ${i}\n`, 'utf8') });
  const sent = await noticePostsDuring(async () => {
    await page.setInputFiles('#nt-files', [{ name: 'ban-do-qua-lon.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(300 * 1024, 0x25) }]);
    await page.waitForSelector('#nt-files-msg:not([hidden])', { timeout: 5000 });
    let m = await filesMessage();
    assert(m.includes('ban-do-qua-lon.pdf') && m.includes('300 KiB') && m.includes('vượt quá giới hạn 256 KiB'), `a file over 256 KiB refused: ${m}`);
    assert((await fileItems()).length === 0, 'the big file is not in the list');
    await page.setInputFiles('#nt-files', [1, 2, 3, 4, 5].map(small));
    await page.waitForFunction(() => document.querySelectorAll('#nt-file-list li.file-item').length === 5, null, { timeout: 5000 });
    assert(!(await filesMessage()), 'five small files are fine');
    await page.setInputFiles('#nt-files', [small(6)]);
    await page.waitForSelector('#nt-files-msg:not([hidden])', { timeout: 5000 });
    m = await filesMessage();
    assert(m.includes('tối đa 5 tệp') && m.includes('phu-luc-6.txt'), `a sixth file refused: ${m}`);
    assert((await fileItems()).length === 5, 'still five files');
    await page.locator('fieldset.files').scrollIntoViewIfNeeded();
    await shot('06a-attachments-limits');
    // the same name twice (case aside) is refused too
    await page.locator('#nt-file-list li[data-name="phu-luc-5.txt"] button.file-remove').click();
    await page.setInputFiles('#nt-files', [{ ...small(5), name: 'PHU-LUC-1.TXT' }]);
    await page.waitForSelector('#nt-files-msg:not([hidden])', { timeout: 5000 });
    assert((await filesMessage()).includes('PHU-LUC-1.TXT'), 'a name already there refused');
  });
  assert(sent === 0, `${sent} POST /api/notices while choosing files`);
  while ((await fileItems()).length) await page.locator('#nt-file-list button.file-remove').first().click();
  assert(!(await filesMessage()), 'the message goes with a remove');

  // two small files, sent with a notice
  const files = [
    { name: 'Kế hoạch diệt lăng quăng tháng 7.txt', mimeType: 'text/plain', buffer: Buffer.from('Thôn 1: 12/07\nThôn 2: 13/07\nThôn 3: 14/07\n', 'utf8') },
    { name: 'so-lieu-giam-sat.bin', mimeType: 'application/octet-stream', buffer: crypto.randomBytes(5000) },
  ];
  await page.setInputFiles('#nt-files', files);
  await page.waitForFunction(() => document.querySelectorAll('#nt-file-list li.file-item').length === 2, null, { timeout: 5000 });
  const listed = await page.textContent('#nt-file-list');
  assert(listed.includes(files[0].name) && listed.includes('4,9 KiB'), `names and sizes listed: ${listed}`);
  const subject = `Hướng dẫn kèm phụ lục (${Date.now() % 100000})`;
  await page.fill('#nt-subject', subject);
  await page.locator('fieldset.files').scrollIntoViewIfNeeded();
  await shot('06b-attachments-chosen');
  await page.click('#nt-send');
  await confirmInPage();
  await page.waitForFunction(() => /^#\/notices\/TB-/.test(location.hash), null, { timeout: 15000 });
  const id = decodeURIComponent((await page.evaluate(() => location.hash)).replace('#/notices/', '').split('?')[0]);
  await page.waitForSelector('#nt-attachments table.attachments tbody tr[data-id]', { timeout: 10000 });
  const rows = await page.$$eval('#nt-attachments table.attachments tbody tr[data-id]', (r) => r.map((tr) => ({
    id: tr.dataset.id, text: tr.textContent, sha: tr.querySelector('code.sha').textContent, href: tr.querySelector('a.att-download').getAttribute('href'),
  })));
  assert(rows.length === 2, `two attachments in the detail, saw ${rows.length}`);
  for (const f of files) {
    const row = rows.find((r) => r.text.includes(f.name));
    assert(row, `${f.name} listed`);
    assert(row.sha === sha256hex(f.buffer).slice(0, 12), `${f.name}: sha256 ${row.sha}`);
    assert(row.text.includes(f.mimeType), `${f.name}: type shown`);
    assert(row.id.startsWith(`${id}:`), `${f.name}: id ${row.id}`);
    assert(row.href.startsWith('/api/notices/'), `${f.name}: a same-origin link ${row.href}`);
  }
  await page.locator('#nt-attachments').scrollIntoViewIfNeeded();
  await shot('06c-attachments-detail');

  // download the binary one through its link: the same bytes come back
  const row = page.locator('#nt-attachments tbody tr', { hasText: files[1].name });
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), row.locator('a.att-download').click()]);
  assert(!(await download.failure()), `download failed: ${await download.failure()}`);
  assert(download.suggestedFilename() === files[1].name, `download name ${download.suggestedFilename()}`);
  const got = fs.readFileSync(await download.path());
  assert(sha256hex(got) === sha256hex(files[1].buffer), `downloaded ${got.length} bytes differ from the ${files[1].buffer.length} uploaded`);
  await download.delete();
  // the other through the page's own session, with the district's digest
  const href = rows.find((r) => r.text.includes(files[0].name)).href;
  const head = await page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin' });
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, digest: r.headers.get('repr-digest'), disposition: r.headers.get('content-disposition'), bytes: Array.from(b) };
  }, href);
  assert(head.status === 200, `GET ${href}: ${head.status}`);
  assert(sha256hex(Buffer.from(head.bytes)) === sha256hex(files[0].buffer), 'the text file comes back as sent');
  assert(head.digest === `sha-256=:${crypto.createHash('sha256').update(files[0].buffer).digest('base64')}:`, `Repr-Digest ${head.digest}`);
  assert(/^attachment/.test(head.disposition || ''), `Content-Disposition ${head.disposition}`);

  // the list shows a paperclip with the count
  await go('#/notices');
  await page.waitForSelector(`table.grid tbody tr[data-id="${id}"]`, { timeout: 10000 });
  const clip = await page.textContent(`table.grid tbody tr[data-id="${id}"] .attach-count`);
  assert(clip.trim() === '2', `paperclip count ${clip}`);
  assert((await page.$(`table.grid tbody tr[data-id="${noticeId}"] .attach-count`)) === null, 'no paperclip without attachments');
  await shot('06d-notices-paperclip');

}

// The body limit of the daemon, checked before sending: a smaller one given to
// the page (the daemon's own is 2 MiB, five files of 256 KiB fit in it); and a
// page that believes in 6 files, to see the daemon's refusal shown. Near the
// end: the page is reloaded twice, and the daemon announces station changes
// only from its first look after a console starts listening again.
async function attachmentLimitsFromLabels() {
  const small = (i) => ({ name: `phu-luc-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`Phụ lục ${i}\n`, 'utf8') });
  await page.route('**/api/labels', async (route) => {
    const res = await route.fetch();
    const json = await res.json();
    json.limits.max_body = 250000;
    json.limits.attachments = 6;
    await route.fulfill({ response: res, json });
  });
  try {
    await go('#/notices/new');
    await page.reload();
    await page.waitForSelector('#nt-files', { timeout: 10000 });
    const big = (i) => ({ name: `anh-chup-${i}.jpg`, mimeType: 'image/jpeg', buffer: crypto.randomBytes(100000) });
    const posted = await noticePostsDuring(async () => {
      await page.setInputFiles('#nt-files', [big(1), big(2)]);
      await page.waitForSelector('#nt-files-msg:not([hidden])', { timeout: 5000 });
      const m = await filesMessage();
      assert(m.includes('vượt quá giới hạn') && m.includes('cho một lần gửi'), `the second file over the body limit: ${m}`);
      assert((await fileItems()).length === 1, 'one file kept');
      // text typed after choosing counts too: the send is refused
      await page.fill('#nt-subject', 'Không được gửi: quá giới hạn');
      await page.fill('#nt-task', 'x'.repeat(130000));
      await page.click('#nt-send');
      await page.waitForSelector('form.compose > .alert-error:not([hidden])', { timeout: 5000 });
      const e = await page.textContent('form.compose > .alert-error');
      assert(e.includes('cho một lần gửi'), `the send refused over the body limit: ${e}`);
      assert((await page.evaluate(() => location.hash)) === '#/notices/new', 'still composing');
      await shot('29-attachments-body-limit');
    });
    assert(posted === 0, `${posted} POST /api/notices over the body limit`);
    await page.fill('#nt-task', '');
    await page.locator('#nt-file-list button.file-remove').first().click();
    await page.setInputFiles('#nt-files', [1, 2, 3, 4, 5, 6].map(small));
    await page.waitForFunction(() => document.querySelectorAll('#nt-file-list li.file-item').length === 6, null, { timeout: 5000 });
    const refused = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/notices', { timeout: 10000 });
    await page.click('#nt-send');
    await confirmInPage();
    assert((await refused).status() === 422, 'the daemon refuses a sixth file');
    await page.waitForFunction(() => {
      const e = document.querySelector('form.compose > .alert-error');
      return e && !e.hidden && e.textContent.includes('Máy chủ từ chối tệp đính kèm') && e.textContent.includes('at most 5 attachments');
    }, null, { timeout: 5000 });
    assert((await page.evaluate(() => location.hash)) === '#/notices/new', 'still composing after the refusal');
    assert(!(await page.isDisabled('#nt-send')), 'the send button back');
    await shot('30-attachments-refused');
  } finally {
    await page.unroute('**/api/labels');
  }
  await go('#/');
  await page.reload();
  await page.waitForSelector('.stats .stat', { timeout: 10000 });
}

async function resolveConflict() {
  const id = `OB-SXH-${Date.now() % 1000000}`;
  // today in the district (Asia/Ho_Chi_Minh, UTC+7 all year), not on this machine
  const iso = new Date(Date.now() + 7 * 3600000).toISOString().slice(0, 10);
  let r = await apiFromPage('POST', `/api/records/outbreaks/${id}`, {
    fields: { disease: 'Sốt xuất huyết Dengue', stations: ['binhxuyen'], status: 'detected', started_on: iso, cases_total: 1 },
  });
  assert(r.status === 200, `create outbreak: ${JSON.stringify(r.json)}`);
  await waitFor('the outbreak at binhxuyen', 30000, async () => (await tramsync('binhxuyen', 'get', 'outbreaks', id)).code === 0);
  // the station goes offline...
  const stationDir = path.join(demoDir, 'stations', 'binhxuyen');
  const pid = findPid([path.join(BIN, 'tramsync'), '-d', stationDir, 'run']);
  assert(pid > 0, 'the binhxuyen agent of the demo is running');
  process.kill(pid, 'SIGTERM');
  await waitFor('the binhxuyen agent to stop', 15000, () => !alive(pid));
  // the console shows it offline (amber; silent, in red, after [admin] silent_after)
  await go('#/stations');
  await page.waitForSelector('table.stations tr[data-code="binhxuyen"].row-offline', { timeout: 15000 });
  assert((await page.$$eval('table.stations tbody tr[data-code]', (r) => r[0].dataset.code)) === 'binhxuyen', 'offline first');
  await shot('07-station-offline');
  // ...both sides change the same field without seeing each other...
  const put = await tramsync('binhxuyen', 'put', 'outbreaks', id, 'cases_total=7', 'status=ongoing', 'updated_by=Trạm Bình Xuyên');
  assert(put.code === 0, `station put: ${put.stderr}`);
  // the status too (ongoing at the station, ended at the district): a conflict on an enum field (issue 16, point 10)
  r = await apiFromPage('POST', `/api/records/outbreaks/${id}`, { fields: { cases_total: 5, status: 'ended', notes: 'TTYT cập nhật theo báo cáo giám sát' } });
  assert(r.status === 200, `district put: ${JSON.stringify(r.json)}`);
  // ...and the station comes back
  const log = fs.openSync(path.join(stationDir, 'agent.log'), 'a');
  const child = spawn(path.join(BIN, 'tramsync'), ['-d', stationDir, 'run'], { detached: true, stdio: ['ignore', log, log] });
  agent = child.pid;
  child.unref();

  await go('#/conflicts');
  await page.waitForSelector('main h1', { timeout: 10000 });
  // the conflict appears by itself (the change watch's "conflict" event)
  await page.waitForFunction((rec) => [...document.querySelectorAll('table.grid tbody tr')].some((tr) => tr.textContent.includes(rec)), id, { timeout: 45000 });
  await shot('08-conflicts');
  // the conflict on cases_total (the record has one on status too)
  const cfc = await waitFor('the cases_total conflict', 15000, async () => (await apiFromPage('GET', '/api/conflicts?status=open&table=outbreaks&limit=1000')).json.conflicts.find((x) => x.record === id && x.field === 'cases_total'));
  await page.waitForSelector(`table.grid tbody tr[data-id="${cfc.id}"]`, { timeout: 15000 });
  const link = page.locator(`table.grid tbody tr[data-id="${cfc.id}"] a.conflict-link`);
  await link.click();
  await page.waitForSelector('table.side-by-side tr.row-conflict', { timeout: 10000 });
  const both = await page.textContent('table.side-by-side tr.row-conflict[data-field="cases_total"]');
  assert(both.includes('5') && both.includes('7'), `both values side by side: ${both}`);
  assert(both.includes('Trạm Y tế xã Bình Xuyên'), `the station named as a writer: ${both}`);
  await enumLabelsAndWriters(id);
  await shot('09-conflict-detail');
  await page.click('table.side-by-side button[data-action="edit"]');
  const editor = page.locator('table.side-by-side .edit-box .input').first();
  // issue 16, point 11: a bad number is said beside the field, in words, and nothing is sent
  await editor.fill('abc');
  await page.locator('table.side-by-side .edit-box button.primary').first().click();
  await page.waitForSelector('table.side-by-side .edit-box .edit-error:not([hidden])', { timeout: 5000 });
  const bad = await page.textContent('table.side-by-side .edit-box .edit-error');
  assert(bad.includes('«abc» không phải là số nguyên'), `the bad number's message: ${bad}`);
  assert(await page.isHidden('#toast') || (await page.textContent('#toast')).trim() !== 'abc', 'no toast saying only "abc"');
  assert(await page.$('table.side-by-side tr.row-conflict'), 'still open after a bad number');
  await shot('09a-conflict-bad-number');
  await editor.fill('6');
  await page.locator('table.side-by-side .edit-box button.primary').first().click();
  await page.waitForSelector('table.side-by-side tr.row-resolved[data-field="cases_total"]', { timeout: 10000 });
  // the status conflict: keep what stands
  await page.locator('table.side-by-side tr.row-actions button[data-action="keep"]').first().click();
  await page.waitForSelector('table.side-by-side tr.row-resolved[data-field="status"]', { timeout: 10000 });
  await shot('10-conflict-resolved');
  conflictRecord = id;
  r = await apiFromPage('GET', `/api/records/outbreaks/${id}`);
  assert(r.json.fields.cases_total === 6, `merged value at the district: ${JSON.stringify(r.json.fields)}`);
  // a new version, synced everywhere: the station gets it too
  await waitFor('the merged value at binhxuyen', 30000, async () => {
    const g = await tramsync('binhxuyen', '--json', 'get', 'outbreaks', id);
    return g.code === 0 && JSON.parse(g.stdout).fields.cases_total === 6;
  });
}

// Issue 16, point 10 (enum values) and the dots: a conflict on outbreaks.status
// shows both values by their registry labels (list, detail, the editor's
// choices), never 'ongoing' or 'ended'; who wrote each side is said in words
// (the station's name from the directory, or 'Trung tâm', and when), the dot
// (replica id, counter) only behind 'Chi tiết kỹ thuật'.
async function enumLabelsAndWriters(id) {
  const back = await page.evaluate(() => location.hash);
  const tables = (await apiFromPage('GET', '/api/tables')).json.tables;
  const status = tables.find((x) => x.name === 'outbreaks').fields.find((f) => f.name === 'status');
  assert(status.value_labels?.ongoing?.vi === 'Đang diễn biến' && status.value_labels?.ended?.en === 'Ended', `value labels served: ${JSON.stringify(status)}`);
  for (const tb of tables) for (const f of tb.fields) if (f.type === 'enum') for (const v of f.values) assert(f.value_labels?.[v]?.vi && f.value_labels[v].vi !== v, `${tb.name}.${f.name}=${v} has no label`);
  const row = page.locator('table.side-by-side tr.row-conflict[data-field="status"]');
  await row.waitFor({ timeout: 10000 });
  const text = await row.textContent();
  assert(text.includes('Đang diễn biến') && text.includes('Đã kết thúc'), `both statuses by their labels: ${text}`);
  assert(!/\bongoing\b|\bended\b/.test(text), `no raw status code: ${text}`);
  assert(text.includes('Trạm Y tế xã Bình Xuyên') && text.includes('Trung tâm'), `both writers in words: ${text}`);
  const cf = (await apiFromPage('GET', `/api/conflicts?status=open&table=outbreaks&limit=1000`)).json.conflicts.find((x) => x.record === id && x.field === 'status');
  const main = await page.evaluate(() => { const m = document.querySelector('main').cloneNode(true); m.querySelector('#cf-tech')?.remove(); return m.textContent; });
  for (const dot of [cf.kept_by.replica, cf.lost_by.replica]) assert(!main.includes(dot), `the dot ${dot} shown outside the technical details`);
  assert(!(await page.isVisible('#cf-tech dl')), 'the dots folded away');
  await page.click('#cf-tech summary');
  const tech = await page.textContent('#cf-tech');
  assert(tech.includes(`${cf.kept_by.replica}, ${cf.kept_by.counter}`) && tech.includes(`${cf.lost_by.replica}, ${cf.lost_by.counter}`), `the dots in the technical details: ${tech}`);
  await page.click('#cf-tech summary');
  const options = await page.locator('table.side-by-side tr.row-actions').nth(1).locator('select option').allTextContents();
  assert(options.includes('Đang diễn biến') && !options.includes('ongoing'), `the editor's choices by label: ${options}`);
  await shot('09b-conflict-enum-labels');
  await go('#/conflicts');
  await page.waitForSelector(`table.grid tbody tr[data-id="${cf.id}"]`, { timeout: 10000 });
  const line = await page.textContent(`table.grid tbody tr[data-id="${cf.id}"]`);
  assert(line.includes('Đang diễn biến') && line.includes('Đã kết thúc') && !/\bongoing\b/.test(line), `the list by labels: ${line}`);
  assert(line.includes('Trạm Y tế xã Bình Xuyên') && !line.includes(cf.lost_by.replica) && !line.includes(cf.kept_by.replica), `the list names writers: ${line}`);
  await go(back);
  await page.waitForSelector('table.side-by-side tr.row-conflict[data-field="cases_total"]', { timeout: 10000 });
}

async function redistributeReport() {
  // a station reports an outbreak; the district passes it on to a neighbour
  const subject = `Phát hiện ổ dịch sốt xuất huyết tại thôn 2 (${Date.now() % 100000})`;
  const rep = await tramsync('xuanlang', 'report', '--kind', 'outbreak_detection', '--subject', subject,
    '--body', 'Ghi nhận 3 ca sốt xuất huyết Dengue tại thôn 2 trong 5 ngày; đã phun hóa chất.', '--urgency', 'thuong_khan',
    '--category', 'prevention', '--disease', 'Sốt xuất huyết Dengue', '--cases', '3', '--by', 'BS. Trần Thị Hoa');
  assert(rep.code === 0, `tramsync report: ${rep.stderr}`);
  await go('#/reports');
  await page.waitForSelector('main h1', { timeout: 10000 });
  // it arrives by itself (the change watch's "record" event)
  const item = page.locator('article.report', { hasText: subject });
  await item.waitFor({ timeout: 40000 });
  await item.locator('button.report-head').click();
  await item.locator('.report-body button.button', { hasText: 'Chuyển tiếp tới' }).click();
  // an outbreak report: Xuân Lãng's neighbour in the directory (Bình Tuyền) chosen already
  await item.locator('.redistribute .chip', { hasText: 'binhtuyen' }).waitFor({ timeout: 10000 });
  assert((await item.locator('.redistribute .chip').count()) === 1, 'the neighbour chosen already');
  const input = item.locator('.redistribute input[type="search"]');
  await input.fill('binh nguyen');
  await item.locator('.redistribute .suggest-item').first().click();
  assert((await item.locator('.redistribute .chip').count()) === 2, 'and one station more');
  await shot('11-report-redistribute');
  await item.locator('.redistribute button.primary').click();
  await page.waitForFunction(() => document.querySelector('#toast') && !document.querySelector('#toast').hidden, null, { timeout: 10000 });
  // the inbox shows what it became
  await page.waitForFunction((subj) => [...document.querySelectorAll('article.report')].some((a) => a.textContent.includes(subj) && a.querySelector('.tag-good')), subject, { timeout: 20000 });
  const r = await apiFromPage('GET', '/api/reports?kind=outbreak_detection&limit=5');
  const mine = r.json.reports.find((x) => x.fields.subject === subject);
  assert(mine && mine.redistributed_as.length === 1, 'the report was passed on as one notice');
  const n = await apiFromPage('GET', `/api/notices/${encodeURIComponent(mine.redistributed_as[0])}`);
  assert(n.json.recipients.map((x) => x.station).sort().join() === 'binhnguyen,binhtuyen', 'to Bình Nguyên and the neighbour Bình Tuyền');
  // the notice shows the report's epidemiological fields
  await go(`#/notices/${encodeURIComponent(mine.redistributed_as[0])}`);
  await page.waitForSelector('main dl.facts', { timeout: 10000 });
  const facts = await page.textContent('main dl.facts');
  assert(/Bệnh\s*Sốt xuất huyết Dengue/.test(facts) && /Số ca\s*3/.test(facts), `the notice's disease and cases: ${facts}`);
  // the source station by its name, never its code
  assert(facts.includes('Trạm Y tế xã Xuân Lãng') && !facts.includes('(xuanlang)'), `the source station by name: ${facts}`);
}

async function assignPlanTask() {
  await go('#/tasks/KH-05');
  await page.waitForSelector('main .task-text', { timeout: 10000 });
  const card = page.locator('main .card', { hasText: 'Giao nhiệm vụ cho các trạm' });
  await card.locator('input[type="radio"][value="all"]').check();
  await page.fill('#tk-deadline', ddmmyyyy(new Date(Date.now() + 30 * 86400000)));
  await page.fill('#tk-instructions', 'Báo cáo kết quả giám sát hằng quý');
  await page.click('#tk-assign');
  await page.waitForFunction(() => document.querySelectorAll('main table.grid tbody tr th[scope="row"]').length === 4, null, { timeout: 10000 });
  await shot('12-task-assigned');
  // a station reports progress; the list shows it
  await waitFor('the task at binhtuyen, marked done there', 30000, async () =>
    (await tramsync('binhtuyen', 'progress', 'KH-05', '--state', 'done', '--by', 'Phạm Thị Thu', '--report', 'Đã tổ chức giám sát tại 3 thôn')).code === 0, 1000);
  await go('#/tasks');
  await page.waitForFunction(() => [...document.querySelectorAll('main table.tasks tbody tr')].some((tr) => /1\/4/.test(tr.textContent)), null, { timeout: 40000 });
  await shot('13-tasks-progress');
}

async function switchLanguage() {
  await go('#/');
  await page.waitForSelector('.stats .stat', { timeout: 10000 });
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en' && document.querySelector('#nav').textContent.includes('Overview'), null, { timeout: 10000 });
  await page.waitForSelector('.stats .stat', { timeout: 10000 });
  const text = await page.textContent('main');
  assert(text.includes('Stations online'), 'English labels');
  assert(/\d{2}\/\d{2}\/\d{4}/.test(text) && !/\d{1,2}\/\d{1,2}\/\d{4}, /.test(text), 'dates stay dd/mm/yyyy in English');
  await shot('14-dashboard-english');
  await go(`#/notices/${encodeURIComponent(noticeId)}`);
  await page.waitForSelector('table.matrix tbody tr[data-station]', { timeout: 10000 });
  assert((await page.textContent('main')).includes('Immediate'), 'urgency label in English');
  await shot('15-notice-english');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'vi' && document.querySelector('#nav').textContent.includes('Tổng quan'), null, { timeout: 10000 });
  await go('#/');
  await page.waitForSelector('.stats .stat', { timeout: 10000 });
  await shot('16-dashboard-vietnamese');
  // the choice is kept across a reload
  await page.click('#lang');
  await page.reload();
  await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: 10000 });
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'vi', null, { timeout: 10000 });
}

async function everyPageAt1366() {
  // the demo computes the targets before its data is loaded: recompute from
  // the console and watch the figures arrive (the "targets" event)
  await go('#/targets');
  await page.waitForSelector('main table.targets tbody tr', { timeout: 10000 });
  await page.click('main .page-actions button');
  await page.waitForSelector('main td.target-cell.met', { timeout: 30000 });
  const pages = [
    ['#/', '.stats .stat'], ['#/stations', 'table.stations tbody tr'], [`#/stations/binhnguyen`, '.facts'],
    ['#/conflicts', 'table.grid'], ['#/notices', 'table.grid tbody tr'], ['#/reports', '.results'],
    ['#/epidemic', 'table.epi-cases'], ['#/tasks', 'table.tasks tbody tr'], ['#/tasks/KH-05', '.task-text'], ['#/targets', 'table.targets tbody tr'],
    ['#/health', '.stats .stat'], ['#/audit', 'table.audit tbody tr'],
  ];
  const timings = [];
  let n = 17;
  for (const [hash, ready] of pages) {
    const t0 = Date.now();
    await go(hash);
    await page.waitForSelector(`main ${ready}`, { timeout: 10000 });
    const ms = Date.now() - t0;
    timings.push(`${hash} ${ms} ms`);
    assert(ms < 1000, `${hash} took ${ms} ms`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `${hash} is wider than 1366 px by ${overflow} px`);
    await shot(`${n++}-${hash.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'dashboard'}`);
  }
  console.log(`    page loads: ${timings.join(', ')}`);
  // the targets chart is SVG built in the page
  await go('#/targets');
  await page.waitForSelector('main table.targets td.target-cell button', { timeout: 10000 });
  await page.locator('main table.targets tbody tr:nth-child(2) td.target-cell button').first().click();
  await page.waitForSelector('main .chart-card svg.chart, main .chart-card p.muted', { timeout: 10000 });
  await page.locator('main .chart-card').scrollIntoViewIfNeeded();
  await shot(`${n++}-targets-chart`);
}

/* ------------------------------------------------------------------ issue 16 */

// a question asked in the page (ui.js confirmDialog): its text, then OK
async function confirmInPage() {
  await page.waitForSelector('#confirm-dialog[open]', { timeout: 5000 });
  const text = await page.textContent('#confirm-dialog');
  await page.click('#dlg-ok');
  await page.waitForSelector('#confirm-dialog', { state: 'detached', timeout: 5000 });
  return text;
}

// Issue 16, point 8: compose warns of a chosen station that is offline, with
// since when; sending to every station is asked first (cancel sends nothing);
// a notice sent is recalled with a reason, shown as such in the console and
// at the station's command line.
async function composeOfflineConfirmRecall() {
  const stationDir = path.join(demoDir, 'stations', 'xuanlang');
  const argv = [path.join(BIN, 'tramsync'), '-d', stationDir, 'run'];
  const pid = findPid(argv);
  assert(pid > 0, 'the xuanlang agent is running');
  process.kill(pid, 'SIGTERM');
  await waitFor('the xuanlang agent to stop', 15000, () => !alive(pid));
  try {
    await waitFor('xuanlang offline at the district', 15000, async () =>
      (await apiFromPage('GET', '/api/stations/xuanlang')).json.connected === false);
    await go('#/notices/new');
    await page.waitForSelector('#nt-subject', { timeout: 10000 });
    await page.check('form.compose .picker input[type="radio"][value="stations"]');
    await page.fill('form.compose .picker input[type="search"]', 'xuan lang');
    await page.locator('form.compose .picker .suggest-item').first().click();
    await page.waitForSelector('form.compose .picker-offline:not([hidden]) li[data-station="xuanlang"]', { timeout: 5000 });
    const warn = await page.textContent('form.compose .picker-offline');
    assert(/Xuân Lãng: ngoại tuyến từ \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(warn), `the offline warning: ${warn}`);
    await shot('06g-compose-offline');
    await page.fill('form.compose .picker input[type="search"]', 'binh nguyen');
    await page.locator('form.compose .picker .suggest-item').first().click();
    assert((await page.$$('form.compose .picker-offline li')).length === 1, 'a connected station is not in the warning');
  } finally {
    const log = fs.openSync(path.join(stationDir, 'agent.log'), 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    restarted.push(child.pid);
    child.unref();
  }
  // to every station: asked first; cancelled, nothing goes
  await page.check('form.compose .picker input[type="radio"][value="all"]');
  await page.fill('#nt-subject', 'Không gửi: hỏi trước khi gửi tất cả');
  const posts = await noticePostsDuring(async () => {
    await page.click('#nt-send');
    await page.waitForSelector('#confirm-dialog[open]', { timeout: 5000 });
    const q = await page.textContent('#confirm-dialog');
    assert(q.includes('tất cả 4 trạm') && q.includes('Không gửi: hỏi trước khi gửi tất cả'), `the question: ${q}`);
    await shot('06h-compose-confirm-all');
    await page.click('#dlg-cancel');
    await page.waitForSelector('#confirm-dialog', { state: 'detached', timeout: 5000 });
  });
  assert(posts === 0, `${posts} POST /api/notices after cancelling`);
  assert((await page.evaluate(() => location.hash)) === '#/notices/new', 'still composing');

  // recalled with a reason
  const subject = `Thu hồi: lịch tiêm chủng tháng 8 (${Date.now() % 100000})`;
  const r = await apiFromPage('POST', '/api/notices', {
    notice: { subject, urgency: 'khan', issuer: 'Trung tâm Y tế khu vực', category: 'prevention' },
    recipients: { stations: ['binhnguyen'] },
  });
  assert(r.status === 201, `send: ${JSON.stringify(r.json)}`);
  const id = r.json.id;
  await waitFor('the notice at binhnguyen', 30000, async () => {
    const x = await tramsync('binhnguyen', '--json', 'notices');
    return x.code === 0 && JSON.parse(x.stdout).some((n) => n.id === id);
  });
  await go(`#/notices/${encodeURIComponent(id)}`);
  await page.waitForSelector('#nt-recall', { timeout: 10000 });
  await page.click('#nt-recall');
  await page.waitForSelector('#confirm-dialog[open] #dlg-reason', { timeout: 5000 });
  await page.click('#dlg-ok');
  assert((await page.textContent('#confirm-dialog .alert-error')).includes('Cần nhập lý do'), 'a reason is required');
  const reason = 'Gửi nhầm lịch; lịch đúng sẽ gửi sau';
  await page.fill('#dlg-reason', reason);
  await page.click('#dlg-ok');
  await page.waitForSelector('#nt-recalled', { timeout: 10000 });
  const banner = await page.textContent('#nt-recalled');
  assert(banner.includes('Văn bản đã bị thu hồi lúc') && banner.includes(USER) && banner.includes(reason), `the recall shown: ${banner}`);
  assert(!(await page.$('#nt-recall')), 'no second recall');
  await shot('06i-notice-recalled');
  await go('#/notices');
  await page.waitForSelector(`table.grid tbody tr[data-id="${id}"] .recalled`, { timeout: 10000 });
  const audit = (await apiFromPage('GET', `/api/audit?action=recall_notice&record=${encodeURIComponent(id)}`)).json;
  assert(audit.entries.length === 1 && audit.entries[0].actor === USER, 'the recall is audited');
  // at the station, like any change
  const list = await waitFor('the recall at binhnguyen', 30000, async () => {
    const x = await tramsync('binhnguyen', 'notices', '--all');
    return x.code === 0 && x.stdout.split('\n').some((l) => l.includes(subject) && l.includes('ĐÃ THU HỒI')) ? x.stdout : null;
  });
  assert(list, 'tramsync notices says recalled');
  const show = await tramsync('binhnguyen', 'notice', 'show', id);
  assert(show.code === 0 && show.stdout.includes('VĂN BẢN ĐÃ BỊ THU HỒI') && show.stdout.includes(reason), `tramsync notice show: ${show.stdout}`);
  const again = await apiFromPage('POST', `/api/notices/${encodeURIComponent(id)}/recall`, { reason: 'lần nữa' });
  assert(again.status === 409, `a second recall: ${again.status}`);
}

// stops a station's agent for fn, then starts it again
async function withAgentStopped(station, fn) {
  const stationDir = path.join(demoDir, 'stations', station);
  const argv = [path.join(BIN, 'tramsync'), '-d', stationDir, 'run'];
  const pid = findPid(argv);
  assert(pid > 0, `the ${station} agent is running`);
  process.kill(pid, 'SIGTERM');
  await waitFor(`the ${station} agent to stop`, 15000, () => !alive(pid));
  try {
    await waitFor(`${station} offline at the district`, 15000, async () =>
      (await apiFromPage('GET', `/api/stations/${station}`)).json.connected === false);
    await fn();
  } finally {
    const log = fs.openSync(path.join(stationDir, 'agent.log'), 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    restarted.push(child.pid);
    child.unref();
  }
}

// Issue 16, point 9: an offline station shows since when (the list and its
// page), what waits for it, and that what waits at the station is not known
// at the district; the technical details stay folded away.
async function stationOfflineSince() {
  await withAgentStopped('xuanlang', async () => {
    const x = (await apiFromPage('GET', '/api/stations/xuanlang')).json;
    assert(x.last_seen_ms > 0, 'the district knows when it last heard from it');
    await go('#/stations');
    await page.waitForSelector('table.stations tbody tr[data-code="xuanlang"] .offline-since', { timeout: 20000 });
    const since = await page.textContent('table.stations tbody tr[data-code="xuanlang"] .offline-since');
    assert(/từ \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(since), `since when, in the list: ${since}`);
    await go('#/stations/xuanlang');
    await page.waitForSelector('#st-offline-since', { timeout: 10000 });
    const shown = await page.textContent('#st-offline-since');
    const want = await page.evaluate(async (ms) => (await import('/ui.js')).fmtDateTime(ms), x.last_seen_ms);
    assert(shown.startsWith(want), `offline since ${shown}, expected ${want}`);
    const facts = await page.textContent('main dl.facts');
    assert(facts.includes('Ngoại tuyến từ') && facts.includes('Chờ gửi tới trạm') && facts.includes('Chờ gửi tại trạm'), `both directions: ${facts}`);
    // what waits at the station, from the agent's last report (its station_agent_status record)
    const at = await page.textContent('#st-pending-at');
    assert(x.agent_report ? /^\d+ \(theo báo cáo lúc \d{2}:\d{2} \d{2}\/\d{2}\)$/.test(at) : at.includes('Trung tâm không biết'), `what waits at the station: ${at}`);
    assert(!(await page.isVisible('details.tech dl')), 'technical details folded away');
    const text = await page.textContent('main');
    for (const raw of ['Con trỏ đồng bộ', 'Bản sao (replica)', 'Im lặng']) assert(!text.includes(raw), `"${raw}" on the station page`);
    await shot('03a-station-offline-since');
  });
}


// Issue 16, point 9: the changes waiting at the station, from its agent's
// last report. Bình Tuyền's agent stopped, two records written there, the
// agent run against a district that does not answer (it writes its report:
// 2 waiting, itself not counted); the agent restarted as usual pushes them
// and its report, which it does not write again within [sync] status_every
// (the district then says 2, at the report's time), in the list and the page.
async function stationPendingAtStation() {
  const station = 'binhtuyen';
  const stationDir = path.join(demoDir, 'stations', station);
  await withAgentStopped(station, async () => {
    for (const n of [1, 2]) {
      const put = await tramsync(station, 'put', 'stock', `BT-CHO-${n}-${Date.now() % 100000}`, `item_code=PARA${n}`, 'name=Paracetamol 500mg', 'quantity=10');
      assert(put.code === 0, `station put: ${put.stderr}`);
    }
    const child = spawn(path.join(BIN, 'tramsync'), ['-d', stationDir, '--set', 'server.address=127.0.0.1:1', '--set', 'sync.status_every=1s', 'run'], { stdio: 'ignore' });
    try {
      await waitFor('the agent\'s report at the station', 15000, async () => {
        const g = await tramsync(station, '--json', 'get', 'station_agent_status', station);
        return g.code === 0 && JSON.parse(g.stdout).fields.pending_changes === 2;
      });
    } finally {
      child.kill('SIGTERM');
      await waitFor('the offline agent to stop', 15000, () => !alive(child.pid));
    }
    const g = await tramsync(station, 'get', 'station_agent_status', station);
    assert(/pending_changes\s+2/.test(g.stdout), `the record at the station: ${g.stdout}`);
  });
  const x = await waitFor('the report at the district', 40000, async () => {
    const r = (await apiFromPage('GET', `/api/stations/${station}`)).json;
    return r.agent_report && r.agent_report.pending_changes === 2 && r.pending_changes === 0 ? r : null;
  });
  const when = await page.evaluate(async (ms) => (await import('/ui.js')).fmtTimeDay(ms), x.agent_report.reported_at_ms);
  assert(/^\d{2}:\d{2} \d{2}\/\d{2}$/.test(when), `HH:MM dd/mm: ${when}`);
  await go(`#/stations/${station}`);
  await page.waitForSelector('#st-pending-at', { timeout: 10000 });
  assert((await page.textContent('#st-pending-at')) === `2 (theo báo cáo lúc ${when})`, `the station page: ${await page.textContent('#st-pending-at')}`);
  const facts = await page.textContent('main dl.facts');
  assert(facts.includes('Chờ gửi tới trạm') && facts.includes('Chờ gửi tại trạm'), `both directions: ${facts}`);
  await go('#/stations');
  await page.waitForSelector(`table.stations tbody tr[data-code="${station}"] .pending-at`, { timeout: 10000 });
  const line = await page.textContent(`table.stations tbody tr[data-code="${station}"] .pending-at`);
  assert(line === `Chờ gửi tại trạm: 2 (theo báo cáo lúc ${when})`, `the list: ${line}`);
  await shot('03b-station-pending-at-station');
}

// Issue 16, points 10 and 11, after resolve_conflict: the resolved conflict
// says how it was resolved in its header, stays in the list (every conflict
// by default) with the value first kept, who resolved it and how; fields are
// named as the registry labels them, never by their code.
let conflictRecord = '';
async function conflictResolvedStaysVisible() {
  const list = (await apiFromPage('GET', '/api/conflicts?status=resolved&limit=1000')).json.conflicts;
  const c = list.find((x) => x.record === conflictRecord && x.field === 'cases_total');
  assert(c && c.resolved, `the resolved conflict: ${JSON.stringify(c)}`);
  await go(`#/conflicts/${c.id}`);
  await page.waitForSelector('#cf-resolution', { timeout: 10000 });
  const head = await page.textContent('#cf-resolution');
  assert(head.includes(USER) && head.includes('Sửa giá trị hợp nhất'), `the resolution in the header: ${head}`);
  assert((await page.textContent('#cf-head-kept')).includes('Giá trị sau khi xử lý'), 'the column is the value now');
  const row = await page.textContent('table.side-by-side tr[data-field="cases_total"]');
  assert(row.includes('Tổng số ca') && !row.includes('cases_total'), `the field by its label: ${row}`);
  assert(row.includes(`Giá trị đã giữ ban đầu: ${c.kept}`), `the value first kept: ${row}`);
  await go('#/conflicts');
  await page.waitForSelector(`table.grid tbody tr[data-id="${c.id}"]`, { timeout: 10000 });
  const line = await page.textContent(`table.grid tbody tr[data-id="${c.id}"]`);
  assert(line.includes('Tổng số ca') && !line.includes('cases_total'), `the list names the field by its label: ${line}`);
  assert(line.includes(String(c.kept)) && line.includes(USER) && line.includes('Sửa giá trị hợp nhất'), `kept value, who and how in the list: ${line}`);
  await shot('10a-conflicts-resolved-list');
}

// Issue 16, point 10: the audit page speaks the console's language: actions
// and outcomes translated, filtered by a translated action, the raw codes
// behind "Hiện chi tiết kỹ thuật"; the registry serves every field's labels.
async function noRawCodes() {
  const tables = (await apiFromPage('GET', '/api/tables')).json.tables;
  for (const tb of tables) for (const f of tb.fields) assert(f.label_vi && f.label_en, `${tb.name}.${f.name} has no labels`);
  const ob = tables.find((x) => x.name === 'outbreaks').fields.find((f) => f.name === 'cases_total');
  assert(ob.label_vi === 'Tổng số ca' && ob.label_en === 'Total cases', `cases_total labels: ${JSON.stringify(ob)}`);
  await go('#/audit');
  await page.waitForSelector('#au-action', { timeout: 10000 });
  const opts = await page.$$eval('#au-action option', (o) => o.map((x) => x.textContent));
  assert(opts.includes('Gửi văn bản') && opts.includes('Trạm gửi dữ liệu lên') && !opts.includes('push'), `translated actions: ${opts}`);
  await page.selectOption('#au-action', 'send_notice');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('table.audit tbody tr[data-action]')];
    return rows.length > 0 && rows.every((r) => r.dataset.action === 'send_notice');
  }, null, { timeout: 10000 });
  const cells = await page.$$eval('table.audit tbody td.au-action', (c) => c.map((x) => x.textContent));
  assert(cells.every((x) => x === 'Gửi văn bản'), `actions shown: ${cells.slice(0, 3)}`);
  const text = await page.textContent('table.audit');
  for (const raw of ['send_notice', 'applied', '127.0.0.1']) assert(!text.includes(raw), `"${raw}" shown without the technical details`);
  await page.check('#au-tech');
  await page.waitForFunction(() => document.querySelector('table.audit')?.textContent.includes('send_notice'), null, { timeout: 10000 });
  await shot('31-audit-translated');
  await page.uncheck('#au-tech');
}

// The plan as data and the reports up to the province (#19): the targets
// page names the plan in force (name, issuer, date, version); a task whose
// lead body is gone is set aside with a reason in the task's page (no longer
// flagged past its deadline, the reason shown, audited); the quarter's
// workbook and summary report download from the targets page.
async function planAndProvince() {
  await go('#/targets');
  await page.waitForSelector('main .plan-info strong', { timeout: 10000 });
  const info = await page.textContent('main .plan-info');
  // in either language (an earlier step may have left the console in English)
  assert(/^(Kế hoạch|Plan):/.test(info) && info.includes('103-KH/TU') && /Ủy ban nhân dân tỉnh Bình Định, 2024 · (phiên bản|version) 1/.test(info),
    `the plan named on the targets page: ${info}`);
  for (const [sel, re] of [['#tg-xlsx', /^bao-cao-\d{4}-Q[1-4]\.xlsx$/], ['#tg-pdf', /^bao-cao-quy-\d{4}-Q[1-4]\.pdf$/]]) {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click(sel)]);
    assert(!(await download.failure()), `${sel}: ${await download.failure()}`);
    assert(re.test(download.suggestedFilename()), `${sel}: file name ${download.suggestedFilename()}`);
    const head = fs.readFileSync(await download.path()).subarray(0, 5).toString('latin1');
    assert(sel === '#tg-xlsx' ? head.startsWith('PK') : head === '%PDF-', `${sel}: not the file's kind: ${JSON.stringify(head)}`);
    await download.delete();
  }
  await go('#/tasks/KH-08');
  await page.waitForSelector('#tk-na', { timeout: 10000 });
  assert(await page.$('main .tk-past'), 'KH-08 flagged past its deadline before');
  await page.click('#tk-na');
  await page.waitForSelector('#confirm-dialog #dlg-reason', { timeout: 5000 });
  await page.fill('#dlg-reason', 'Không còn cấp huyện từ 01/7/2025');
  await page.click('#dlg-ok');
  await page.waitForSelector('main .tk-na-banner', { timeout: 10000 });
  const banner = await page.textContent('main .tk-na-banner');
  assert(/^(Không áp dụng|Not applicable): Không còn cấp huyện từ 01\/7\/2025/.test(banner), `the banner: ${banner}`);
  assert(!(await page.$('main .tk-past')), 'a task set aside is not flagged past its deadline');
  await go('#/tasks');
  await page.waitForSelector('table.tasks tbody tr[data-id="KH-08"] .tk-na', { timeout: 10000 });
  // taken back, for the steps after
  await go('#/tasks/KH-08');
  await page.waitForSelector('main .tk-na-banner', { timeout: 10000 });
  await page.click('#tk-na');
  await page.click('#dlg-ok');
  await page.waitForFunction(() => !document.querySelector('main .tk-na-banner'), null, { timeout: 10000 });
}

// Issue 16, point 12: the plan's tasks can be searched and filtered (lead,
// deadline, state), past deadlines are flagged, a task's page has a real
// title, the chooser is empty again after assigning, assigning again asks
// before overwriting, and the error speaks of tasks.
async function planTasksFindAndAssign() {
  await go('#/tasks');
  await page.waitForSelector('table.tasks tbody tr[data-id]', { timeout: 10000 });
  const ids = async () => page.$$eval('table.tasks tbody tr[data-id]', (r) => r.map((x) => x.dataset.id));
  const past = await page.$$eval('table.tasks tbody tr[data-id] .tk-past', (els) => els.map((e) => e.closest('tr').dataset.id));
  assert(past.includes('KH-01') && past.includes('KH-08'), `past deadlines flagged: ${past}`);
  await page.selectOption('#tk-deadline-filter', 'past');
  await page.waitForFunction((n) => document.querySelectorAll('table.tasks tbody tr[data-id]').length === n, past.length, { timeout: 5000 });
  await page.selectOption('#tk-deadline-filter', '');
  await page.selectOption('#tk-lead', 'Sở Tài chính; UBND cấp huyện');
  await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-id]').length === 1, null, { timeout: 5000 });
  assert(JSON.stringify(await ids()) === '["KH-12"]', `by lead: ${await ids()}`);
  await page.selectOption('#tk-lead', '');
  await page.fill('#tk-search', 'y te truong hoc');
  await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-id]').length === 1, null, { timeout: 5000 });
  assert(JSON.stringify(await ids()) === '["KH-10"]', `searched without tone marks: ${await ids()}`);
  await page.fill('#tk-search', '');
  await page.selectOption('#tk-state', 'ongoing');
  await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-id]').length < 28, null, { timeout: 5000 });
  assert((await ids()).includes('KH-05'), `KH-05 under way: ${await ids()}`);
  await shot('13a-tasks-filtered');
  await page.selectOption('#tk-state', '');

  await go('#/tasks/KH-10');
  await page.waitForSelector('#tk-assign', { timeout: 10000 });
  const title = await page.textContent('main h1');
  assert(title.startsWith('KH-10 · Rà soát, sắp xếp hệ thống y tế trường học') && !/STT/.test(title), `the title: ${title}`);
  await page.click('#tk-assign');
  await page.waitForFunction(() => !document.querySelector('#toast').hidden, null, { timeout: 5000 });
  assert((await page.textContent('#toast')).includes('Cần chọn trạm thực hiện'), `the error: ${await page.textContent('#toast')}`);
  const card = 'main .card:has(#tk-assign)';
  const pick = async () => {
    await page.fill(`${card} .picker input[type="search"]`, 'binh tuyen');
    await page.locator(`${card} .picker .suggest-item`).first().click();
  };
  await pick();
  await page.fill('#tk-instructions', 'Rà soát nhân viên y tế trường học tại các điểm trường');
  await page.click('#tk-assign');
  await page.waitForSelector('main table.grid tbody tr[data-station="binhtuyen"]', { timeout: 10000 });
  assert((await page.$$(`${card} .chip`)).length === 0, 'the chooser is empty after assigning');
  assert((await page.inputValue('#tk-instructions')) === '', 'the instructions are cleared');
  // again: asked first; cancelled, nothing is sent
  let posts = 0;
  const count = (req) => { if (req.method() === 'POST' && /\/api\/tasks\/KH-10\/assign$/.test(new URL(req.url()).pathname)) posts++; };
  page.on('request', count);
  try {
    await pick();
    await page.fill('#tk-instructions', 'Hướng dẫn mới');
    await page.click('#tk-assign');
    await page.waitForSelector('#confirm-dialog[open]', { timeout: 5000 });
    const q = await page.textContent('#confirm-dialog');
    assert(q.includes('đã được giao cho: Bình Tuyền') && q.includes('ghi đè'), `asked before overwriting: ${q}`);
    await shot('13b-task-reassign');
    await page.click('#dlg-cancel');
    await sleep(300);
    assert(posts === 0, `${posts} assignment(s) sent after cancelling`);
    await page.click('#tk-assign');
    await confirmInPage();
    await waitFor('the assignment again', 5000, () => posts === 1, 100);
  } finally {
    page.off('request', count);
  }
}

const pad = (n) => String(n).padStart(2, '0');

// The district's day, not the PC's or UTC's: a browser on a PC set to UTC, at
// 23:57 UTC (06:57 the next day in Vietnam), shows the Vietnamese date.
async function newContext(opts) {
  if (!spare) {
    spare = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }
  return spare.newContext({ ignoreHTTPSErrors: true, viewport: VIEWPORT, locale: 'vi-VN', ...opts });
}

async function districtDay() {
  const now = new Date();
  const fake = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 23, 57, 0));
  const local = new Date(fake.getTime() + 7 * 3600000); // Asia/Ho_Chi_Minh, UTC+7, no DST
  const vnDay = `${pad(local.getUTCDate())}/${pad(local.getUTCMonth() + 1)}/${local.getUTCFullYear()}`;
  const other = await newContext({ timezoneId: 'UTC' });
  try {
    const p = await other.newPage();
    await p.clock.setFixedTime(fake);
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${base}/`);
    await p.waitForSelector('#login-user', { timeout: 10000 });
    await p.fill('#login-user', USER);
    await p.fill('#login-pass', PASSWORD);
    await p.click('#login-submit');
    await p.waitForSelector('.stats .stat', { timeout: 10000 });
    await p.evaluate(() => { location.hash = '#/notices/new'; });
    await p.waitForSelector('#nt-issue-date', { timeout: 10000 });
    const issue = await p.inputValue('#nt-issue-date');
    assert(issue === vnDay, `the issue date at 06:57 in Vietnam on a UTC PC: ${issue}, expected ${vnDay}`);
    const got = await p.evaluate(async (iso) => {
      const ui = await import('/ui.js');
      return { shown: ui.fmtDateTime(iso), parsed: ui.parseDateTime('07/12/2026 17:00'), day: ui.fmtDate(Date.parse(iso)) };
    }, fake.toISOString());
    assert(got.shown === `${vnDay} 06:57`, `a time shown in the district's zone: ${got.shown}`);
    assert(got.day === vnDay, `a day shown in the district's zone: ${got.day}`);
    assert(got.parsed === '2026-12-07T10:00:00Z', `17:00 in the district is 10:00 UTC: ${got.parsed}`);
    assert(errors.length === 0, `script errors: ${errors.join(' | ')}`);
  } finally {
    await other.close();
  }
}

// Targets are never recorded over missing data (the demo computes them 2 s
// after start, before any station's data is in), and a commune whose station
// has not synced since the computation is marked stale.
async function targetsNoMissingData() {
  for (const s of STATIONS) {
    const hist = (await apiFromPage('GET', `/api/targets/history?indicator=bhyt&station=${s}`)).json;
    const empty = hist.points.filter((x) => x.denominator === 0);
    assert(empty.length === 0, `${s}: ${empty.length} point(s) of the history computed with no residents (${empty.map((x) => x.day)})`);
  }
}

async function targetsStale() {
  const stationDir = path.join(demoDir, 'stations', 'xuanlang');
  const argv = [path.join(BIN, 'tramsync'), '-d', stationDir, 'run'];
  const pid = findPid(argv);
  assert(pid > 0, 'the xuanlang agent is running');
  process.kill(pid, 'SIGTERM');
  await waitFor('the xuanlang agent to stop', 15000, () => !alive(pid));
  try {
    const before = (await apiFromPage('GET', '/api/targets')).json;
    const t0 = Math.max(0, ...before.communes.map((c) => c.computed_at_ms || 0));
    const r = await apiFromPage('POST', '/api/targets/refresh', {});
    assert(r.status === 202, `refresh: ${r.status}`);
    const after = await waitFor('the targets computed again', 20000, async () => {
      const x = (await apiFromPage('GET', '/api/targets')).json;
      return x.communes.length === STATIONS.length && x.communes.every((c) => c.computed_at_ms > t0) ? x : null;
    });
    for (const c of after.communes) {
      assert(c.stale === (c.station === 'xuanlang'), `${c.station}: stale ${c.stale}`);
      assert(typeof c.synced_at_ms === 'number', `${c.station}: synced_at_ms ${c.synced_at_ms}`);
    }
    await go('#/targets');
    await page.waitForSelector('main table.targets tbody tr', { timeout: 10000 });
    await page.waitForSelector('main table.targets tr.stale', { timeout: 10000 });
    const stale = await page.$$eval('main table.targets tr.stale', (rows) => rows.map((x) => x.textContent));
    assert(stale.length === 1 && stale[0].includes('xuanlang') && stale[0].includes('Số liệu cũ'), `stale rows: ${stale}`);
    await shot('28a-targets-stale');
  } finally {
    const log = fs.openSync(path.join(stationDir, 'agent.log'), 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    restarted.push(child.pid);
    child.unref();
  }
}

// The health page counts stations that acknowledged, and says so.
async function healthCountsAcknowledgements() {
  await go('#/health');
  await page.waitForSelector('main .stats .stat', { timeout: 10000 });
  const recs = (await apiFromPage('GET', '/api/records/notice_recipients?limit=1000')).json;
  const list = recs.records;
  const live = list.filter((x) => !x.deleted);
  const acked = live.filter((x) => ['acknowledged', 'in_progress', 'done'].includes(x.fields.state)).length;
  assert(acked < live.length, `some recipients have not acknowledged (${acked}/${live.length})`);
  const want = `${acked} / ${live.length}`;
  await page.waitForFunction((w) => [...document.querySelectorAll('main dl.facts dt')].some((dt) =>
    dt.textContent.includes('Trạm đã xác nhận văn bản') && dt.nextElementSibling.textContent.replace(/\s+/g, ' ').includes(w)), want, { timeout: 10000 });
  const text = await page.textContent('main');
  assert(!text.includes('Văn bản gửi / được xác nhận'), 'the old label counting deliveries is gone');
}

// Compose validation in Vietnamese, the first invalid field not under the
// sticky header, and no 401 logged when the console loads without a session.
async function composeValidationVietnamese() {
  await go('#/notices/new');
  await page.waitForSelector('#nt-subject', { timeout: 10000 });
  await page.fill('#nt-issuer', '');
  await page.fill('#nt-subject', '');
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.click('#nt-send');
  await sleep(300);
  const v = await page.evaluate(() => {
    const el = document.querySelector('#nt-issuer');
    const header = document.querySelector('#top').getBoundingClientRect();
    const label = document.querySelector('label[for="nt-issuer"]').getBoundingClientRect();
    return { msg: el.validationMessage, subject: document.querySelector('#nt-subject').validationMessage,
      focused: document.activeElement && document.activeElement.id, top: label.top, headerBottom: header.bottom };
  });
  assert(v.focused === 'nt-issuer', `the first invalid field focused: ${v.focused}`);
  assert(v.msg === 'Cần nhập cơ quan ban hành.', `the issuer's message: ${v.msg}`);
  assert(v.subject === 'Cần nhập trích yếu (nội dung chính) của văn bản.', `the subject's message: ${v.subject}`);
  assert(v.top >= v.headerBottom, `the first invalid field's label (top ${v.top}) is under the sticky header (bottom ${v.headerBottom})`);
  await shot('06e-compose-validation');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: 10000 });
  await page.waitForSelector('#nt-subject', { timeout: 10000 });
  await page.fill('#nt-subject', '');
  await page.click('#nt-send');
  const en = await page.evaluate(() => document.querySelector('#nt-subject').validationMessage);
  assert(en === 'Enter the subject of the notice.', `in English: ${en}`);
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'vi', null, { timeout: 10000 });
}

async function freshLoadNo401() {
  const other = await newContext({ timezoneId: 'Asia/Ho_Chi_Minh' });
  try {
    const p = await other.newPage();
    const errors = [];
    const unauthorized = [];
    p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    p.on('response', (r) => { if (r.status() === 401) unauthorized.push(new URL(r.url()).pathname); });
    for (let i = 0; i < 2; i++) {
      await p.goto(`${base}/`);
      await p.waitForSelector('#login-user', { timeout: 10000 });
      await sleep(300);
    }
    assert(unauthorized.length === 0, `401 on a fresh load: ${unauthorized.join(', ')}`);
    assert(errors.length === 0, `console errors on a fresh load: ${errors.join(' | ')}`);
  } finally {
    await other.close();
  }
}

async function logout() {
  await page.click('#logout');
  await page.waitForSelector('#login-user', { timeout: 10000 });
  const me = await apiFromPage('GET', '/api/me');
  assert(me.status === 401, `after logout /api/me gives ${me.status}`);
}

async function noScriptErrors() {
  const csp = consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m));
  assert(csp.length === 0, `CSP violations: ${csp.join(' | ')}`);
  assert(pageErrors.length === 0, `script errors: ${pageErrors.join(' | ')}`);
}


/* ------------------------------------------------------------------ main */

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  for (const f of fs.readdirSync(ART)) if (f.endsWith('.png')) fs.unlinkSync(path.join(ART, f));
  fs.rmSync(path.join(ART, 'logs'), { recursive: true, force: true });
  let context;
  let userDataDir;
  let setupOk = true;
  try {
    for (const b of ['tramsyncd', 'tramsync', 'tramsyncctl']) {
      if (!fs.existsSync(path.join(BIN, b))) throw new Error(`${path.join(BIN, b)} is missing: run make first`);
    }
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
    await startDemo();
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tramsync-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      ignoreHTTPSErrors: true,
      viewport: VIEWPORT,
      locale: 'vi-VN',
      timezoneId: 'Asia/Ho_Chi_Minh',
    });
    page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // the test's own GET /api/me after logging out is a 401 by design (a
      // fresh load without a session must log nothing: fresh_load_no_401)
      if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
    });
  } catch (e) {
    setupOk = false;
    console.log(`[  ERROR   ] --- setup: ${e.message}`);
  }
  // the step modules' helpers (tests/browser/steps-context.mjs)
  const helpers = {
    page: () => page, base: () => base, assert, waitFor, go, shot, apiFromPage, tramsync, run, newContext, pad2,
    ART, USER, PASSWORD,
  };
  const epi = epidemicSteps(helpers);
  const notices = noticeSteps({ ...helpers, confirmInPage, sleep });
  const steps = [
    ['login', login], ['four_demo_stations', fourDemoStations],
    ...epi.slice(0, 2),
    ...outbreakSteps({ page: () => page, assert, waitFor, go, shot, apiFromPage, tramsync }),
    epi[2],
    ['targets_never_over_missing_data', targetsNoMissingData], ['fresh_load_no_401', freshLoadNo401],
    ...notices.slice(0, 2), notices[3], ['compose_offline_confirm_recall', composeOfflineConfirmRecall],
    ['station_offline_since', stationOfflineSince], ['station_pending_at_station', stationPendingAtStation],
    ['send_hoa_toc_notice_and_acknowledgement', sendHoaTocNotice],
    ['notice_attachments', noticeAttachments], ['compose_validation_vietnamese', composeValidationVietnamese],
    ['resolve_conflict', resolveConflict], ['conflict_resolved_stays_visible', conflictResolvedStaysVisible],
    ['no_raw_codes', noRawCodes], notices[2],
    ['redistribute_report', redistributeReport], ['assign_plan_task', assignPlanTask],
    ['plan_tasks_find_and_assign', planTasksFindAndAssign],
    ['health_counts_acknowledgements', healthCountsAcknowledgements], ['district_day', districtDay],
    ['switch_language', switchLanguage], ['every_page_at_1366x768', everyPageAt1366], ['targets_stale', targetsStale],
    ['attachment_limits_from_labels', attachmentLimitsFromLabels], ['plan_and_province', planAndProvince],
    ...communeSteps(helpers),
    ...documentSteps({ page: () => page, assert, go, shot, apiFromPage, newContext, base: () => base, password: PASSWORD, waitFor }),
    ...taskPeriodSteps({ page: () => page, assert, waitFor, go, shot, apiFromPage, tramsync }),
    ...calendarSteps({ page: () => page, assert, waitFor, go, shot, apiFromPage, tramsync }),
    ...planSteps({ page: () => page, assert, waitFor, go, shot, apiFromPage, root: ROOT }),
    ...calendarGradeSteps(helpers),
    ['logout', logout], ['no_script_errors', noScriptErrors],
  ];
  // TS_BROWSER_ONLY=a,b: those steps only (with login), while working on them
  const only = (process.env.TS_BROWSER_ONLY || '').split(',').filter(Boolean);
  if (only.length) steps.splice(0, steps.length, ...steps.filter(([n]) => n === 'login' || only.includes(n)));
  console.log(`[==========] Running ${steps.length} test(s).`);
  for (const [name, fn] of steps) {
    if (setupOk) await test(name, fn);
    else { console.log(`[ RUN      ] ${name}`); console.log(`[  FAILED  ] ${name}`); results.push([name, false]); }
  }
  try { if (context) await context.close(); } catch (e) { /* closing */ }
  try { if (spare) await spare.close(); } catch (e) { /* closing */ }
  await stopDemo();
  const failed = results.filter(([, ok]) => !ok).map(([n]) => n);
  if (failed.length && demoDir) {
    // keep the logs beside the screenshots
    const logs = path.join(ART, 'logs');
    fs.mkdirSync(logs, { recursive: true });
    const copy = (from, to) => { try { fs.copyFileSync(from, path.join(logs, to)); } catch (e) { /* absent */ } };
    copy(path.join(demoDir, 'demo.log'), 'demo.log');
    copy(path.join(demoDir, 'district', 'tramsyncd.log'), 'tramsyncd.log');
    for (const s of STATIONS) copy(path.join(demoDir, 'stations', s, 'agent.log'), `${s}-agent.log`);
  }
  if (demoDir) fs.rmSync(demoDir, { recursive: true, force: true });
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  console.log(`[==========] ${results.length} test(s) run.`);
  console.log(`[  PASSED  ] ${results.length - failed.length} test(s).`);
  if (failed.length) {
    console.log(`[  FAILED  ] ${failed.length} test(s), listed below:`);
    for (const n of failed) console.log(`[  FAILED  ] ${n}`);
  }
  console.log(`screenshots: ${ART}`);
  process.exitCode = failed.length ? 1 : 0;
}

process.on('SIGTERM', async () => { await stopDemo(); process.exit(2); });
process.on('SIGINT', async () => { await stopDemo(); process.exit(2); });
main().catch(async (e) => {
  console.log(`[  ERROR   ] --- ${e.stack || e}`);
  await stopDemo();
  process.exit(1);
});
