// Browser steps of issue 16's notices (run by console.test.mjs, which passes
// its page and helpers in `x`; moved here from it unchanged):
//
// - recipients_one_group: the radios of one recipient chooser are one group
// - urgent_tile_every_urgency: a Khẩn notice not acknowledged counts on the
//   overview's tile and is listed in the panel beside it
// - urgent_report_on_overview, escalation_reminders: see each step below

import { stepContext } from './steps-context.mjs';

export function noticeSteps(x) {
  const { page, assert, waitFor, go, shot, apiFromPage, tramsync, confirmInPage, sleep, USER } = stepContext(x);

  // The radios of one recipient chooser are one group: choosing "Theo xã", then
  // "Tất cả các trạm" again leaves one radio chosen, and the request goes to all.
  // The requests are caught and refused here, so nothing is sent.
  async function recipientsOneGroup() {
    const caught = [];
    const refuse = async (route) => {
      if (route.request().method() !== 'POST') { await route.continue(); return; }
      caught.push(route.request().postDataJSON());
      await route.fulfill({ status: 422, json: { error: { code: 'TEST', message: 'bị chặn trong bài kiểm tra' } } });
    };
    const checkedOf = (scope) => page.$$eval(`${scope} .picker input[type="radio"]`, (r) => r.filter((x) => x.checked).map((x) => x.value));
    await page.route('**/api/notices', refuse);
    await page.route('**/api/tasks/*/assign', refuse);
    try {
      await go('#/notices/new');
      await page.waitForSelector('#nt-subject', { timeout: 10000 });
      const names = await page.$$eval('form.compose .picker input[type="radio"]', (r) => [...new Set(r.map((x) => x.name))]);
      assert(names.length === 1, `the compose form's recipient radios have ${names.length} names`);
      await page.check('form.compose .picker input[type="radio"][value="communes"]');
      await page.fill('form.compose .picker input[type="search"]', 'xuan');
      await page.locator('form.compose .picker .suggest-item').first().click();
      await page.check('form.compose .picker input[type="radio"][value="all"]');
      let checked = await checkedOf('form.compose');
      assert(JSON.stringify(checked) === '["all"]', `chosen after "Tất cả các trạm" again: ${checked}`);
      assert(await page.isHidden('form.compose .picker .pick-area'), 'the commune chooser hidden with "all"');
      await page.fill('#nt-subject', 'Không gửi: kiểm tra nhóm nút chọn');
      await page.click('#nt-send');
      await confirmInPage();
      await waitFor('the notice request', 5000, () => caught.length === 1, 100);
      assert(JSON.stringify(caught[0].recipients) === '{"all":true}', `notice recipients ${JSON.stringify(caught[0].recipients)}`);
      assert(!caught[0].notice.communes, `the notice still names communes: ${caught[0].notice.communes}`);

      await go('#/tasks/KH-05');
      await page.waitForSelector('#tk-assign', { timeout: 10000 });
      const card = 'main .card:has(#tk-assign)';
      assert(JSON.stringify(await checkedOf(card)) === '["stations"]', 'the task chooser starts with stations');
      await page.check(`${card} .picker input[type="radio"][value="stations"]`);
      await page.fill(`${card} .picker input[type="search"]`, 'binh');
      await page.locator(`${card} .picker .suggest-item`).first().click();
      await page.check(`${card} .picker input[type="radio"][value="all"]`);
      checked = await checkedOf(card);
      assert(JSON.stringify(checked) === '["all"]', `task chooser after "all": ${checked}`);
      await page.click('#tk-assign');
      await waitFor('the assignment request', 5000, () => caught.length === 2, 100);
      assert(JSON.stringify(caught[1].recipients) === '{"all":true}', `task recipients ${JSON.stringify(caught[1].recipients)}`);
    } finally {
      await page.unroute('**/api/notices', refuse);
      await page.unroute('**/api/tasks/*/assign', refuse);
    }
  }

  const tileValue = async (href) => {
    const t = await page.textContent(`main .stats a.stat[href="${href}"] .stat-value`);
    return Number(t.replace(/\D/g, ''));
  };

  // A Khẩn notice not acknowledged counts on the tile, and the panel beside it
  // lists it: the tile and the panel agree.
  async function urgentTileEveryUrgency() {
    const subject = `Khẩn: rà soát ca sốt tại các thôn (${Date.now() % 100000})`;
    const r = await apiFromPage('POST', '/api/notices', {
      notice: { subject, urgency: 'khan', issuer: 'Trung tâm Y tế khu vực', category: 'prevention' },
      recipients: { stations: ['binhtuyen', 'xuanlang'] },
    });
    assert(r.status === 201, `send a Khẩn notice: ${JSON.stringify(r.json)}`);
    await go('#/');
    await page.waitForSelector('main .stats a.stat[href="#/notices"]', { timeout: 10000 });
    const ov = (await apiFromPage('GET', '/api/overview')).json;
    const esc = (await apiFromPage('GET', '/api/escalations')).json;
    const urgentItems = esc.items.filter((x) => x.urgent_unacknowledged);
    const mine = urgentItems.filter((x) => x.fields.notice_id === r.json.id);
    assert(mine.length === 2, `the Khẩn notice's two recipients are urgent and unacknowledged: ${mine.length}`);
    assert(ov.notices.urgent_unacknowledged === urgentItems.length, `overview ${ov.notices.urgent_unacknowledged}, escalations ${urgentItems.length}`);
    await page.waitForFunction(([n]) => {
      const el = document.querySelector('main .stats a.stat[href="#/notices"] .stat-value');
      return el && Number(el.textContent.replace(/\D/g, '')) === n;
    }, [ov.notices.urgent_unacknowledged], { timeout: 10000 });
    assert((await tileValue('#/notices')) >= 2, 'the tile counts the Khẩn notice');
    const panel = await page.textContent('main .card:has(h2:text("Văn bản khẩn"))');
    assert(panel.includes(subject), 'the panel beside the tile lists the Khẩn notice');
    await shot('02a-urgent-tile');
  }

  // A Thượng khẩn report from a station shows on the overview and badges the
  // menu until someone opens it; the opening is recorded and audited.
  async function urgentReportOnOverview() {
    const subject = `Nghi ngờ ổ dịch tay chân miệng tại trường mầm non (${Date.now() % 100000})`;
    const rep = await tramsync('binhtuyen', 'report', '--kind', 'outbreak_detection', '--subject', subject,
      '--body', 'Ghi nhận 4 trẻ sốt, loét miệng trong 3 ngày.', '--urgency', 'thuong_khan', '--category', 'prevention',
      '--disease', 'Tay chân miệng', '--cases', '4', '--by', 'YS. Lê Văn Bình');
    assert(rep.code === 0, `tramsync report: ${rep.stderr}`);
    await go('#/');
    await page.waitForSelector('main .stats .stat', { timeout: 10000 });
    // it arrives by itself (the change watch)
    await page.waitForFunction((subj) => [...document.querySelectorAll('main .card')].some((c) => c.textContent.includes(subj)), subject, { timeout: 40000 });
    const tile = await tileValue('#/reports?unread=1');
    assert(tile >= 1, `the unread urgent reports tile: ${tile}`);
    // the menu counts what the tile counts (the demo's own report may have been there before)
    await page.waitForFunction((n) => {
      const b = document.querySelector('#nav a[href="#/reports"] .nav-badge');
      return b && Number(b.textContent) === n;
    }, tile, { timeout: 10000 });
    const badge = Number(await page.textContent('#nav a[href="#/reports"] .nav-badge'));
    await shot('02b-urgent-report-overview');
    // opened from the overview
    await page.locator('main .card a', { hasText: subject }).first().click();
    const item = page.locator('article.report', { hasText: subject });
    await item.waitFor({ timeout: 10000 });
    await item.locator('button.report-head').click();
    await page.waitForFunction((n) => {
      const b = document.querySelector('#nav a[href="#/reports"] .nav-badge');
      return (b ? Number(b.textContent) : 0) === n - 1;
    }, badge, { timeout: 10000 });
    const list = (await apiFromPage('GET', `/api/reports?q=${encodeURIComponent('tay chan mieng')}`)).json;
    const mine = list.reports.find((x) => x.fields.subject === subject);
    assert(mine && mine.opened && mine.opened.by === USER && mine.opened.at_ms > 0, `opened recorded: ${JSON.stringify(mine && mine.opened)}`);
    const audit = (await apiFromPage('GET', '/api/audit?action=open_report&limit=20')).json;
    assert(audit.entries.some((e) => e.record === mine.id && e.actor === USER), 'the opening is audited');
    await go('#/');
    await page.waitForSelector('main .stats .stat', { timeout: 10000 });
    assert((await tileValue('#/reports?unread=1')) === tile - 1, 'the tile counts one fewer once opened');
  }

  // Issue 16, point 7: a notice nobody acknowledges is reminded on its
  // urgency's schedule (the demo's Thượng khẩn: first after 2 s, then every
  // 3 s), each reminder's time and the next one's shown in the matrix with the
  // station's contact, the list says how many stations were reminded, and the
  // reminders stop once the station acknowledges.
  async function escalationReminders() {
    const subject = `Thượng khẩn: rà soát ca sốt phát ban (${Date.now() % 100000})`;
    const r = await apiFromPage('POST', '/api/notices', {
      notice: { subject, urgency: 'thuong_khan', issuer: 'Trung tâm Y tế khu vực', category: 'prevention' },
      recipients: { stations: ['binhtuyen'] },
    });
    assert(r.status === 201, `send a Thượng khẩn notice: ${JSON.stringify(r.json)}`);
    const id = r.json.id;
    const rec = await waitFor('two reminders', 40000, async () => {
      const n = (await apiFromPage('GET', `/api/notices/${encodeURIComponent(id)}`)).json;
      const x = n.recipients[0];
      return x.resend_count >= 2 && (x.reminders || []).length >= 2 ? x : null;
    });
    assert(typeof rec.next_reminder_at === 'string' && Date.parse(rec.next_reminder_at) > Date.parse(rec.escalated_at), `the next reminder after the last: ${JSON.stringify(rec)}`);
    await go(`#/notices/${encodeURIComponent(id)}`);
    const cell = 'table.matrix tr[data-station="binhtuyen"] td.cell-reminders';
    await page.waitForFunction((sel) => /Đã nhắc lại ×[2-9]/.test(document.querySelector(sel)?.textContent || ''), cell, { timeout: 10000 });
    const text = await page.textContent(cell);
    assert(/Lần 1: \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(text) && /Lần 2: \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(text), `each reminder's time: ${text}`);
    assert(/Lần nhắc tới: \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(text), `the next reminder: ${text}`);
    const who = await page.textContent('table.matrix tr[data-station="binhtuyen"] th');
    assert(who.includes('Liên hệ: Trạm trưởng · ĐT 0210381103'), `the station's contact: ${who}`);
    await shot('06f-notice-reminders');
    await go('#/notices');
    await page.waitForSelector(`table.grid tbody tr[data-id="${id}"]`, { timeout: 10000 });
    const row = await page.textContent(`table.grid tbody tr[data-id="${id}"]`);
    assert(row.includes('Đã nhắc lại 1 trạm'), `reminders in the notices list: ${row}`);
    // acknowledged: no more reminders, none announced
    await waitFor('the notice at binhtuyen', 30000, async () => {
      const x = await tramsync('binhtuyen', '--json', 'notices');
      return x.code === 0 && JSON.parse(x.stdout).some((n) => n.id === id);
    });
    const ack = await tramsync('binhtuyen', 'ack', id, '--by', 'Lê Thị Hoa');
    assert(ack.code === 0, `tramsync ack: ${ack.stderr}`);
    const acked = await waitFor('the acknowledgement', 30000, async () => {
      const x = (await apiFromPage('GET', `/api/notices/${encodeURIComponent(id)}`)).json.recipients[0];
      return x.state === 'acknowledged' ? x : null;
    });
    assert(!acked.next_reminder_at, `no next reminder once acknowledged: ${acked.next_reminder_at}`);
    await sleep(5000);
    const later = (await apiFromPage('GET', `/api/notices/${encodeURIComponent(id)}`)).json.recipients[0];
    assert(later.resend_count === acked.resend_count, `reminded after the acknowledgement: ${acked.resend_count} -> ${later.resend_count}`);
  }

  return [
    ['recipients_one_group', recipientsOneGroup], ['urgent_tile_every_urgency', urgentTileEveryUrgency],
    ['urgent_report_on_overview', urgentReportOnOverview], ['escalation_reminders', escalationReminders],
  ];
}
