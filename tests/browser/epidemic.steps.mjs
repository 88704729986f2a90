// Browser steps of issue 17's epidemic channel (run by console.test.mjs,
// which passes its page and helpers in `x`; moved out of it unchanged):
//
// - epidemic_page_vi_en: the demo's dengue cluster on the Dịch bệnh page, the
//   alerts in words, cases by commune × disease × week, the reporting clock.
// - epidemic_csv_download: the page's CSV.
// - epidemic_alert_live_and_acknowledged: a station's case raises the live
//   badge and an alert a named account acknowledges.

import fs from 'node:fs';
import { stepContext } from './steps-context.mjs';

export function epidemicSteps(x) {
  const { page, assert, waitFor, go, shot, apiFromPage, tramsync, pad2, USER, PASSWORD } = stepContext(x);

  const epiBadge = () => page.evaluate(() => {
    const b = document.querySelector('#nav a[href="#/epidemic"] .nav-badge');
    return b ? Number(b.textContent) : 0;
  });
  const mainText = () => page.evaluate(() => document.querySelector('main').innerText);

  // The demo's dengue cluster (tests/demo/run-demo.sh) on the Dịch bệnh page:
  // the alerts in words (a case, a cluster, an outbreak the station declared),
  // cases by commune × disease × week, the reporting clock, the filters, the
  // links to the station and to the report; Vietnamese, then English; never a
  // disease code or an alert kind's code, dates dd/mm/yyyy.
  async function epidemicPage() {
    const all = await waitFor('the demo\'s cluster, case and outbreak alerts', 30000, async () => {
      const r = (await apiFromPage('GET', '/api/epidemic/alerts?show=all')).json;
      const kinds = new Set(r.alerts.filter((a) => a.disease === 'dengue').map((a) => a.kind));
      return ['case', 'cluster', 'outbreak'].every((k) => kinds.has(k)) ? r : null;
    });
    // the overview: the tile and the newest alerts
    await go('#/');
    await page.waitForSelector('main .stats a.stat[href="#/epidemic"]', { timeout: 10000 });
    await page.waitForFunction((n) => {
      const el = document.querySelector('main .stats a.stat[href="#/epidemic"] .stat-value');
      return el && Number(el.textContent.replace(/\D/g, '')) === n;
    }, all.open, { timeout: 10000 });
    const panel = await page.textContent('main .card:has(table.epi-alerts-dash)');
    assert(panel.includes('Cảnh báo dịch chưa xác nhận') && panel.includes('Sốt xuất huyết Dengue'), `the overview's alert panel: ${panel}`);
    assert((await epiBadge()) === all.open, `the menu badge ${await epiBadge()}, open ${all.open}`);
    await shot('40-epidemic-overview');

    await page.click('#nav a[href="#/epidemic"]');
    await page.waitForSelector('main table.epi-cases', { timeout: 10000 });
    assert((await page.textContent('main h1')).includes('Dịch bệnh'), 'the page heading');
    const rows = 'main table.epi-alerts-open tbody tr[data-kind]';
    const kindText = async (kind) => page.$$eval(`${rows}[data-kind="${kind}"] .ep-kind`, (x) => x.map((e) => e.textContent));
    assert((await kindText('case')).every((x) => x === 'Ca bệnh phải báo cáo từng trường hợp') && (await kindText('case')).length > 0, 'a case alert in words');
    assert((await kindText('outbreak')).every((x) => x === 'Ổ dịch do trạm báo') && (await kindText('outbreak')).length > 0, 'an outbreak alert in words');
    const clusters = await kindText('cluster');
    assert(clusters.length > 0 && clusters.every((x) => /^Nghi ổ dịch: \d+ ca trong \d+ ngày$/.test(x)), `cluster alerts in words: ${clusters}`);
    let text = await mainText();
    assert(text.includes('Sốt xuất huyết Dengue'), 'the disease by its name');
    assert(!/\bdengue\b|\bcluster\b|\boutbreak\b|\d{4}-\d{2}-\d{2}|\d{4}-W\d/.test(text), 'no code, no ISO date or week on the page');
    assert(/\d{2}\/\d{2}\/\d{4}/.test(text), 'dates as dd/mm/yyyy');
    // cases by commune × disease × week, and the reporting clock
    for (const st of ['binhnguyen', 'binhxuyen']) {
      const row = await page.textContent(`main table.epi-cases tbody tr[data-station="${st}"][data-disease="dengue"]`);
      assert(/Sốt xuất huyết Dengue/.test(row) && /[1-9]/.test(row), `${st}'s dengue row: ${row}`);
    }
    assert((await page.$$('main table.epi-cases thead th[data-week]')).length >= 8, 'a column per week of the period');
    const clock = await page.textContent('main table.epi-clock tr[data-station="binhxuyen"]');
    assert(/Bình Xuyên/.test(clock) && /\d+ giờ/.test(clock), `Bình Xuyên's late cases and the worst delay: ${clock}`);
    await shot('41-epidemic-vi', { fullPage: true });
    // the filters: one commune
    await page.selectOption('#ep-station', 'binhxuyen');
    await page.waitForFunction(() => [...document.querySelectorAll('main table.epi-alerts-open tbody tr[data-station]')].every((tr) => tr.dataset.station === 'binhxuyen')
      && document.querySelectorAll('main table.epi-cases tbody tr[data-station="binhnguyen"]').length === 0, null, { timeout: 5000 });
    await page.selectOption('#ep-station', '');
    await page.selectOption('#ep-disease', 'dengue');
    // links: the station, and the outbreak's report on "Báo cáo từ trạm", opened
    const stationHref = await page.getAttribute(`${rows}[data-station="binhnguyen"] a.ep-station`, 'href');
    assert(stationHref === '#/stations/binhnguyen', `the station link ${stationHref}`);
    const outbreak = all.alerts.find((a) => a.kind === 'outbreak' && a.disease === 'dengue' && a.station === 'binhnguyen');
    await page.click(`${rows}[data-id="${outbreak.id}"] a.ep-report`);
    await page.waitForSelector(`article.report[data-id="${outbreak.record}"] .report-body:not([hidden])`, { timeout: 10000 });
    assert((await page.textContent(`article.report[data-id="${outbreak.record}"]`)).includes('Phát hiện ổ dịch sốt xuất huyết Dengue'), 'the outbreak report opened');

    // in English
    await go('#/epidemic');
    await page.waitForSelector('main table.epi-cases', { timeout: 10000 });
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'en' && document.querySelector('main h1')?.textContent.includes('Epidemics'), null, { timeout: 10000 });
    await page.waitForSelector('main table.epi-cases', { timeout: 10000 });
    text = await mainText();
    for (const want of ['Case of a disease reported case by case', 'Outbreak reported by the station', 'Dengue fever', 'Cases by commune, disease and week', 'Week ']) {
      assert(text.includes(want), `English: ${want}`);
    }
    assert(/Suspected outbreak: \d+ cases within \d+ days/.test(text), 'a cluster in English words');
    assert(!text.includes('Sốt xuất huyết') && !text.includes('Ca bệnh phải'), 'no Vietnamese left in English');
    assert(!/\bdengue\b|\d{4}-\d{2}-\d{2}|\d{4}-W\d/.test(text), 'no code, no ISO date or week in English');
    assert((await page.textContent('#nav a[href="#/epidemic"]')).includes('Epidemics'), 'the menu in English');
    await shot('42-epidemic-en', { fullPage: true });
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'vi', null, { timeout: 10000 });
  }

  // The CSV export: a download with the header row and the names of the diseases.
  async function epidemicCsv() {
    await go('#/epidemic');
    await page.waitForSelector('main table.epi-cases', { timeout: 10000 });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.click('#ep-csv')]);
    assert(!(await download.failure()), `download failed: ${await download.failure()}`);
    assert(/^dich-benh-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/.test(download.suggestedFilename()), `file name ${download.suggestedFilename()}`);
    const text = fs.readFileSync(await download.path(), 'utf8');
    await download.delete();
    assert(text.startsWith('\uFEFFxa,ma_tram,benh,ma_benh,tuan,so_ca\r\n'), `the CSV header: ${JSON.stringify(text.slice(0, 60))}`);
    assert(text.includes('"Bình Xuyên","binhxuyen","Sốt xuất huyết Dengue","dengue"'), `the demo's dengue rows: ${text.slice(0, 300)}`);
  }

  // A station writes a case of a disease reported case by case: the menu's
  // badge and the overview's tile show it within seconds, without a reload;
  // acknowledging it on the Dịch bệnh page clears them, and the alert shows who
  // (by full name) and when (the district's time).
  async function epidemicAlertLive() {
    const me = await apiFromPage('POST', `/api/users/${USER}`, { full_name: 'Trần Thị Quản Trị' });
    assert(me.status === 200, `the admin's full name: ${JSON.stringify(me.json)}`);
    // what waits is acknowledged first (as someone at the district would), so
    // the new alert is the only one
    const open = (await apiFromPage('GET', '/api/epidemic/alerts')).json;
    for (const a of open.alerts) {
      const r = await apiFromPage('POST', `/api/epidemic/alerts/${a.id}/ack`, {});
      assert(r.status === 200 || r.status === 409, `acknowledge ${a.id}: ${r.status}`);
    }
    await go('#/');
    await page.waitForSelector('main .stats a.stat[href="#/epidemic"]', { timeout: 10000 });
    await page.waitForFunction(() => !document.querySelector('#nav a[href="#/epidemic"] .nav-badge'), null, { timeout: 10000 });
    await page.evaluate(() => { window.__noReload = true; });
    // today in the district (Asia/Ho_Chi_Minh, UTC+7 all year), not on this machine
    const iso = new Date(Date.now() + 7 * 3600000).toISOString().slice(0, 10);
    const t0 = Date.now();
    const put = await tramsync('binhtuyen', 'put', 'disease_cases', `BT-C${Date.now() % 100000}`, 'disease=Sởi', `diagnosis_date=${iso}`,
      'classification=suspected', 'village_id=BT-V1', 'patient_name=Hoàng Văn Sởi');
    assert(put.code === 0, `tramsync put: ${put.stderr}`);
    await page.waitForFunction(() => Number(document.querySelector('#nav a[href="#/epidemic"] .nav-badge')?.textContent) === 1, null, { timeout: 15000, polling: 50 });
    const took = Date.now() - t0;
    console.log(`    station case to the menu badge: ${took} ms`);
    await page.waitForFunction(() => {
      const el = document.querySelector('main .stats a.stat[href="#/epidemic"] .stat-value');
      const card = document.querySelector('main .card:has(table.epi-alerts-dash)');
      return el && el.textContent.trim() === '1' && card && card.textContent.includes('Sởi') && card.textContent.includes('Bình Tuyền');
    }, null, { timeout: 5000 });
    const tookTile = Date.now() - t0;
    console.log(`    station case to the overview's tile and panel: ${tookTile} ms`);
    assert(await page.evaluate(() => window.__noReload === true), 'no reload');
    assert(took < 5000, `the badge took ${took} ms`);
    assert(!(await mainText()).includes('Hoàng Văn Sởi'), 'no patient name on the overview');
    await shot('43-epidemic-alert-live');

    await page.click('#nav a[href="#/epidemic"]');
    const row = 'main table.epi-alerts-open tbody tr[data-station="binhtuyen"][data-kind="case"]';
    await page.waitForSelector(row, { timeout: 10000 });
    assert((await page.textContent(row)).includes('Sởi'), 'the measles case, by its name');
    await page.click(`${row} button.ep-ack`);
    await page.waitForFunction(() => !document.querySelector('#nav a[href="#/epidemic"] .nav-badge'), null, { timeout: 10000 });
    const done = 'main table.epi-alerts-past tbody tr[data-station="binhtuyen"][data-kind="case"]';
    await page.waitForSelector(done, { timeout: 10000 });
    const alert = (await apiFromPage('GET', '/api/epidemic/alerts?show=all')).json.alerts.find((a) => a.station === 'binhtuyen' && a.kind === 'case' && a.disease === 'measles');
    assert(alert && alert.acknowledged_by === USER, `acknowledged by ${alert && alert.acknowledged_by}`);
    const vn = new Date(alert.acknowledged_at_ms + 7 * 3600000); // Asia/Ho_Chi_Minh
    const when = `${pad2(vn.getUTCDate())}/${pad2(vn.getUTCMonth() + 1)}/${vn.getUTCFullYear()} ${pad2(vn.getUTCHours())}:${pad2(vn.getUTCMinutes())}`;
    const cell = await page.textContent(`${done} td.ep-ack-cell`);
    assert(cell.includes('Trần Thị Quản Trị') && cell.includes(when), `who and when: ${cell} (expected ${when})`);
    assert((await page.$$(`${row}`)).length === 0, 'no longer among the open alerts');
    await shot('44-epidemic-acknowledged', { fullPage: true });
    await go('#/');
    await page.waitForFunction(() => document.querySelector('main .stats a.stat[href="#/epidemic"] .stat-value')?.textContent.trim() === '0', null, { timeout: 10000 });
  }

  return [
    ['epidemic_page_vi_en', epidemicPage], ['epidemic_csv_download', epidemicCsv],
    ['epidemic_alert_live_and_acknowledged', epidemicAlertLive],
  ];
}
