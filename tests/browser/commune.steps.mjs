// Browser steps of issue 18's people and the commune role (run by
// console.test.mjs, which passes its page and helpers in `x`; moved out of it
// unchanged):
//
// - people_directory: the directory of focal points, listed and searched,
//   offered as the responsible person in compose.
// - commune_role_view: a commune account sees its commune only.

import path from 'node:path';
import { stepContext } from './steps-context.mjs';

export function communeSteps(x) {
  const { page, assert, waitFor, go, shot, apiFromPage, tramsync, run, newContext, pad2, ART, USER, PASSWORD } = stepContext(x);
  const base = () => x.base();

  // The directory of focal points: the TTYT's, the UBNDs' and each station's
  // people listed and searched; the compose page offers them as the
  // responsible person, and the notice shows the one chosen by name and position.
  async function peopleDirectory() {
    await go('#/people');
    await waitFor('the stations\' staff to reach the district', 30000, async () =>
      (await page.$$('tr.pp-row')).length >= 14);
    const text = await page.textContent('main');
    for (const name of ['Nguyễn Văn Thành', 'Trịnh Văn Hải', 'Đỗ Văn Nam', 'Cán bộ phụ trách dịch', 'UBND xã Bình Nguyên']) {
      assert(text.includes(name), `${name} in the directory`);
    }
    await page.fill('#pp-search', 'phu trach dich');
    await page.waitForFunction(() => document.querySelectorAll('tr.pp-row').length === 4, null, { timeout: 10000 });
    await shot('18-people');
    await go('#/notices/new');
    await page.waitForSelector('#nt-responsible-person', { timeout: 10000 });
    const options = await page.$$eval('#nt-responsible-person option', (os) => os.map((o) => o.textContent));
    assert(options.some((o) => o.includes('Trần Thị Thu (Trưởng khoa Kiểm soát bệnh tật)')), `people offered: ${options.slice(0, 4)}`);
    const sent = await apiFromPage('POST', '/api/notices', {
      notice: { subject: 'Rà soát ca sốt xuất huyết', issuer: 'TTYT', urgency: 'khan', category: 'prevention', responsible_person: 'TTYT-KSBT' },
      recipients: { stations: ['binhnguyen'] },
    });
    assert(sent.status === 201, `notice with a responsible person: ${sent.status}`);
    await go(`#/notices/${encodeURIComponent(sent.json.id)}`);
    await page.waitForFunction(() => document.querySelector('main dl.facts')?.textContent.includes('Trần Thị Thu (Trưởng khoa Kiểm soát bệnh tật)'), null, { timeout: 10000 });
  }

  // The UBND of Bình Nguyên logs in: its commune's page and menu only, nothing
  // of another commune, no personal record, and it acknowledges a notice
  // copied to it.
  async function communeRoleView() {
    const cc = await apiFromPage('POST', '/api/notices', {
      notice: { subject: 'Phối hợp diệt lăng quăng toàn xã', issuer: 'TTYT', urgency: 'khan', category: 'prevention', cc_commune_committee: true },
      recipients: { stations: ['binhnguyen'] },
    });
    assert(cc.status === 201, `notice copied to the UBND: ${cc.status}`);
    const other = await apiFromPage('POST', '/api/notices', {
      notice: { subject: 'Riêng xã Bình Xuyên', issuer: 'TTYT', urgency: 'khan', category: 'prevention' },
      recipients: { stations: ['binhxuyen'] },
    });
    assert(other.status === 201, `notice to another commune: ${other.status}`);
    const ctx = await newContext({ timezoneId: 'Asia/Ho_Chi_Minh' });
    const p = await ctx.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    try {
      await p.goto(`${base()}/`);
      await p.waitForSelector('#login-user', { timeout: 10000 });
      await p.fill('#login-user', 'ubnd-binhnguyen');
      await p.fill('#login-pass', PASSWORD);
      await p.click('#login-submit');
      await p.waitForSelector('tr.cm-notice', { timeout: 15000 });
      assert(p.url().endsWith('#/commune'), `the commune's page first: ${p.url()}`);
      const menu = await p.$$eval('#nav a', (as) => as.map((a) => a.getAttribute('href')));
      assert(JSON.stringify(menu) === JSON.stringify(['#/commune', '#/notices', '#/tasks', '#/targets', '#/calendar']), `menu: ${menu}`);
      const text = await p.textContent('main');
      // another commune's station never shows (a notice to both communes may
      // name Bình Xuyên in its own words: that is the notice's text)
      assert(text.includes('Bình Nguyên') && !text.includes('Trạm Y tế xã Bình Xuyên') && !text.includes('binhxuyen') &&
        !text.includes('Riêng xã'), `its commune only: ${text.slice(0, 400)}`);
      // the other pages: sent back to its own
      await p.evaluate(() => { location.hash = '#/stations'; });
      await p.waitForFunction(() => location.hash === '#/commune', null, { timeout: 10000 });
      // and the server refuses what the menu does not offer
      const refused = await p.evaluate(async () => (await fetch('/api/records/residents')).status);
      assert(refused === 403, `personal records: ${refused}`);
      // its calendar: the completeness grid has its own station's rows only,
      // and nothing to remind (the district's operators do that)
      await p.evaluate(() => { location.hash = '#/calendar'; });
      await p.waitForSelector('table.cal-grid tbody tr[data-station]', { timeout: 15000 });
      const gridStations = await p.$$eval('table.cal-grid tbody tr[data-station]', (trs) => [...new Set(trs.map((r) => r.dataset.station))]);
      assert(JSON.stringify(gridStations) === JSON.stringify(['binhnguyen']), `the grid's stations: ${gridStations}`);
      const cal = await p.textContent('main');
      // (the TTYT itself is named after Bình Xuyên: its stations are what must not show)
      assert(!cal.includes('Xuân Lãng') && !cal.includes('xã Bình Xuyên') && !cal.includes('Bình Tuyền'), `no other commune on its calendar: ${cal.slice(0, 400)}`);
      assert((await p.$$('button.cal-remind')).length === 0, 'a commune account reminds no station');
      await p.screenshot({ path: path.join(ART, '18-commune-calendar.png') });
      await p.evaluate(() => { location.hash = '#/commune'; });
      await p.waitForSelector('tr.cm-notice', { timeout: 15000 });
      const row = `tr.cm-notice[data-id="${cc.json.id}"]`;
      await p.waitForSelector(`${row} button.cm-ack`, { timeout: 10000 });
      await p.screenshot({ path: path.join(ART, '18-commune.png') });
      await p.click(`${row} button.cm-ack`);
      await p.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('Đã xác nhận'), row, { timeout: 10000 });
      assert(errors.length === 0, `script errors: ${errors}`);
    } finally {
      await ctx.close();
    }
  }

  return [['people_directory', peopleDirectory], ['commune_role_view', communeRoleView]];
}
