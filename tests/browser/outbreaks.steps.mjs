// Browser steps of issue 17's outbreaks and disease catalogue (run by
// console.test.mjs, which passes its page and helpers in `x`):
//
// - outbreak_list_and_timeline_vi_en: the demo's dengue outbreak (opened by
//   tests/demo/run-demo.sh from Bình Nguyên's report with its neighbour Bình
//   Xuyên, instructions sent, Bình Xuyên acknowledging) in the list on the
//   Dịch bệnh page, and its timeline: the report, the notice with 1/2
//   acknowledged, cases by day, when its end may be declared; the demo's
//   cluster spans the two neighbouring communes; in Vietnamese and English.
// - outbreak_open_instruct_end: a station reports an outbreak; the district
//   opens it from the alert (the reporting commune's neighbour chosen
//   already), sends instructions from it (the compose form prefilled with its
//   id and stations), declares its end too early (a reason asked, then sent
//   with force), and the end and its notice appear in the timeline and at
//   the station; the daemon's 409 said in words with a local date.
// - disease_catalogue_edit: the catalogue with its source, an admin's edit
//   (a bad number refused in the page, then stored), in Vietnamese and English.

const pad2 = (n) => String(n).padStart(2, '0');
const isoDay = (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
const NO_CODES = /\bdengue\b|\bhfmd\b|\bdetected\b|\bongoing\b|\boutbreak_|\bdeclared_end\b|\d{4}-\d{2}-\d{2}/;

export function outbreakSteps(x) {
  const { assert, waitFor, go, shot, apiFromPage, tramsync } = x;
  const P = () => x.page();
  const mainText = () => P().evaluate(() => document.querySelector('main').innerText);
  const toLang = async (lang) => {
    if ((await P().getAttribute('html', 'lang')) === lang) return;
    await P().click('#lang');
    await P().waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: 10000 });
  };

  async function outbreakListAndTimeline() {
    const demo = await waitFor('the demo\'s outbreak', 40000, async () => {
      const r = (await apiFromPage('GET', '/api/epidemic/outbreaks')).json;
      return r.outbreaks.find((o) => o.disease === 'dengue' && (o.fields.stations || []).join() === 'binhnguyen,binhxuyen');
    });
    // the demo's cluster: the two neighbouring communes together
    const alerts = (await apiFromPage('GET', '/api/epidemic/alerts?show=all')).json.alerts;
    const cluster = alerts.find((a) => a.kind === 'cluster' && a.disease === 'dengue');
    assert(cluster && cluster.stations.includes('binhnguyen') && cluster.stations.includes('binhxuyen'), `the cluster spans Bình Nguyên and Bình Xuyên: ${JSON.stringify(cluster)}`);
    await toLang('vi');
    await go('#/epidemic');
    const row = `main table.ob-list tbody tr[data-id="${demo.id}"]`;
    await P().waitForSelector(row, { timeout: 10000 });
    const text = await P().textContent(row);
    for (const want of ['Sốt xuất huyết Dengue', 'Bình Nguyên, Bình Xuyên', 'Mới phát hiện']) assert(text.includes(want), `the outbreak's row shows ${want}: ${text}`);
    assert(/\d{2}\/\d{2}\/\d{4}/.test(text), `its start as dd/mm/yyyy: ${text}`);
    const clusterRow = await P().textContent(`main table.epi-alerts tbody tr[data-id="${cluster.id}"]`);
    assert(clusterRow.includes('Bình Nguyên') && clusterRow.includes('Bình Xuyên'), `the cluster alert names both communes: ${clusterRow}`);
    await shot('45-outbreak-list');

    await P().click(`${row} a.ob-link`);
    await P().waitForSelector('main ol.ob-timeline', { timeout: 10000 });
    const tl = 'main ol.ob-timeline';
    await P().waitForSelector(`${tl} li[data-kind="outbreak_detection"]`, { timeout: 5000 });
    const notice = await P().textContent(`${tl} li[data-kind="notice"]`);
    assert(notice.includes('Hướng dẫn của TTYT') && notice.includes('1/2 trạm đã xác nhận'), `the instructions and who acknowledged: ${notice}`);
    const canEnd = (await P().textContent('#ob-can-end')).trim();
    assert(/^Có thể công bố kết thúc từ ngày \d{2}\/\d{2}\/\d{4}$/.test(canEnd), `when its end may be declared: ${canEnd}`);
    assert(await P().$('main svg.ob-chart rect.ob-bar'), 'cases by day, as bars');
    assert((await P().$$('main table.ob-days tbody tr[data-day]')).length >= 2, 'cases by day, as a table');
    let all = await mainText();
    assert(all.includes('Bình Nguyên') && all.includes('Bình Xuyên') && all.includes('Ngày khởi phát'), 'communes by name, the report\'s fields');
    assert(!NO_CODES.test(all), `no code, no ISO date: ${(NO_CODES.exec(all) || [])[0]}`);
    assert(!/BN-R\d|BX-R\d/.test(all), 'no patient record');
    await shot('46-outbreak-timeline', { fullPage: true });

    await toLang('en');
    await P().waitForSelector('main ol.ob-timeline', { timeout: 10000 });
    all = await mainText();
    for (const want of ['Timeline', 'District instructions', '1/2 stations acknowledged', 'May be declared over from', 'Cases by day', 'Dengue fever', 'Just detected']) {
      assert(all.includes(want), `English: ${want}`);
    }
    for (const vi of ['Diễn biến', 'Mới phát hiện', 'trạm đã xác nhận', 'Có thể công bố', 'Số ca theo ngày']) assert(!all.includes(vi), `no Vietnamese label in English: ${vi}`);
    // ("detected" is English here: "Just detected")
    assert(!/\bdengue\b|\boutbreak_|\bdeclared_end\b|\d{4}-\d{2}-\d{2}/.test(all), 'no code, no ISO date in English');
    await shot('47-outbreak-timeline-en', { fullPage: true });
    await toLang('vi');
  }

  async function outbreakOpenInstructEnd() {
    await toLang('vi');
    const today = isoDay(new Date());
    // a dengue case today at Xuân Lãng, then its outbreak report
    const put = await tramsync('xuanlang', 'put', 'disease_cases', `XL-C${Date.now() % 100000}`, 'disease=Sốt xuất huyết Dengue',
      `diagnosis_date=${today}`, 'classification=suspected', 'village_id=XL-V1');
    assert(put.code === 0, `tramsync put: ${put.stderr}`);
    const rep = await tramsync('xuanlang', '--json', 'report', '--kind', 'outbreak_detection', '--subject', `Ổ dịch sốt xuất huyết tại thôn 1 (${Date.now() % 100000})`,
      '--urgency', 'khan', '--category', 'prevention', '--disease', 'Sốt xuất huyết Dengue', '--cases', '2', '--deaths', '0',
      '--onset', today, '--location', 'Thôn 1, xã Xuân Lãng', '--by', 'BS. Trần Thị Hoa');
    assert(rep.code === 0, `tramsync report: ${rep.stderr}`);
    const reportId = JSON.parse(rep.stdout).id;
    const alert = await waitFor('the outbreak alert', 30000, async () => (await apiFromPage('GET', '/api/epidemic/alerts?show=all')).json.alerts.find((a) => a.record === reportId));
    await waitFor('the case at the district', 30000, async () => (await apiFromPage('GET', '/api/epidemic/alerts?show=all')).json.alerts.some((a) => a.kind === 'case' && a.station === 'xuanlang' && a.disease === 'dengue'));
    await go('#/epidemic');
    const link = `main table.epi-alerts tbody tr[data-id="${alert.id}"] a.ep-open-outbreak`;
    await P().waitForSelector(link, { timeout: 15000 });
    await P().click(link);
    await P().waitForSelector('#ob-open-form', { timeout: 10000 });
    assert(await P().isChecked('#ob-open-form label[data-station="binhtuyen"] input'), 'the neighbour Bình Tuyền chosen already');
    assert(!(await P().isChecked('#ob-open-form label[data-station="binhnguyen"] input')), 'Bình Nguyên, not a neighbour, not chosen');
    assert((await P().textContent('#ob-open-form')).includes('Xuân Lãng'), 'the reporting commune by name');
    await shot('48-outbreak-open');
    await P().click('#ob-open-submit');
    await P().waitForFunction(() => /^#\/epidemic\/outbreaks\/OD-/.test(location.hash), null, { timeout: 10000 });
    const id = decodeURIComponent((await P().evaluate(() => location.hash)).split('/').pop());
    await P().waitForSelector('main ol.ob-timeline', { timeout: 10000 });
    assert((await P().textContent('#ob-status')).includes('Mới phát hiện'), 'opened: just detected');

    // instructions about it: the compose form prefilled
    await P().click('#ob-instruct');
    await P().waitForSelector('#nt-outbreak', { timeout: 10000 });
    assert((await P().inputValue('#nt-subject')).includes('Sốt xuất huyết Dengue'), 'the subject names the disease');
    const chips = await P().$$eval('.picker .chip', (c) => c.map((e) => e.textContent));
    assert(chips.length === 2 && chips.some((c) => c.includes('xuanlang')) && chips.some((c) => c.includes('binhtuyen')), `the outbreak's stations chosen: ${chips}`);
    assert(await P().isChecked('label.urgency-khan input'), 'Khẩn chosen');
    await P().fill('#nt-task', 'Phun hóa chất, diệt lăng quăng quanh nhà ca bệnh');
    await P().click('#nt-send');
    await P().waitForFunction(() => /^#\/notices\/TB-/.test(location.hash), null, { timeout: 10000 });
    const nid = decodeURIComponent((await P().evaluate(() => location.hash)).replace('#/notices/', '').split('?')[0]);
    const n = (await apiFromPage('GET', `/api/notices/${encodeURIComponent(nid)}`)).json;
    assert(n.fields.outbreak_id === id, `the notice carries the outbreak: ${n.fields.outbreak_id}`);
    await P().waitForSelector('#nt-outbreak-link', { timeout: 5000 });

    // declaring its end too early: a reason asked, then sent with force
    await x.go(`#/epidemic/outbreaks/${encodeURIComponent(id)}`);
    await P().waitForSelector(`main ol.ob-timeline li[data-notice="${nid}"]`, { timeout: 10000 });
    await P().click('#ob-end');
    await P().waitForSelector('#confirm-dialog[open] #dlg-reason', { timeout: 5000 });
    const ask = await P().textContent('#confirm-dialog');
    assert(/có thể công bố kết thúc từ ngày \d{2}\/\d{2}\/\d{4}/.test(ask), `the day it may end: ${ask}`);
    await P().click('#dlg-ok');
    assert(await P().isVisible('#confirm-dialog .alert-error'), 'no reason: asked again');
    await P().fill('#dlg-reason', 'Đã xác định nguồn lây, không còn ca sốt mới sau phun hóa chất');
    await P().click('#dlg-ok');
    await P().waitForSelector('main ol.ob-timeline li[data-kind="declared_end"]', { timeout: 10000 });
    assert((await P().textContent('#ob-status')).includes('Đã kết thúc'), 'over');
    assert(!(await P().$('#ob-end')), 'no second end');
    const end = await P().textContent('main ol.ob-timeline li[data-kind="declared_end"]');
    assert(end.includes('Đã xác định nguồn lây'), `the reason in the timeline: ${end}`);
    const ob = (await apiFromPage('GET', `/api/epidemic/outbreaks/${encodeURIComponent(id)}`)).json;
    const endNotice = ob.timeline.filter((e) => e.kind === 'notice').map((e) => e.notice).find((x2) => x2 !== nid);
    assert(endNotice, 'the end notice is in the timeline');
    await P().waitForSelector(`main ol.ob-timeline li[data-notice="${endNotice}"]`, { timeout: 10000 });
    assert(await P().evaluate(() => document.querySelector('main ol.ob-timeline').lastElementChild.dataset.kind === 'declared_end'), 'the end last in the timeline');
    await shot('49-outbreak-ended', { fullPage: true });
    await waitFor('the end notice at xuanlang', 30000, async () => {
      const r = await tramsync('xuanlang', '--json', 'notices');
      return r.code === 0 && JSON.parse(r.stdout).some((m) => m.id === endNotice);
    });
    // the daemon's refusals, in words, with a local date
    const again = await apiFromPage('POST', `/api/epidemic/outbreaks/${encodeURIComponent(id)}/end`, {});
    assert(again.status === 409, `a second end: ${again.status}`);
    const said = await P().evaluate(async () => {
      const m = await import('/outbreaks.js');
      return [m.outbreakError({ code: 'TOO_EARLY', status: 409, message: 'chưa đủ số ngày không có ca mới: có thể công bố kết thúc từ ngày 2026-12-21' }),
        m.outbreakError({ code: 'ALREADY_ENDED', status: 409, message: 'this outbreak was already declared over' })];
    });
    assert(said[0] === 'Chưa đủ số ngày không có ca mới: có thể công bố kết thúc từ ngày 21/12/2026.' && said[1] === 'Ổ dịch này đã được công bố kết thúc.', `409 in Vietnamese: ${said}`);
    await toLang('en');
    await P().waitForSelector('main ol.ob-timeline li[data-kind="declared_end"]', { timeout: 10000 });
    const en = await mainText();
    assert(en.includes('Outbreak declared over') && en.includes('Over') && en.includes('Reason for ending early'), 'the end in English');
    await toLang('vi');
  }

  async function diseaseCatalogueEdit() {
    await toLang('vi');
    await go('#/epidemic');
    await P().waitForSelector('#ep-diseases', { timeout: 10000 });
    await P().click('#ep-diseases');
    const row = 'main table.dz-list tr[data-code="hfmd"]';
    await P().waitForSelector(row, { timeout: 10000 });
    assert((await P().textContent('#dz-source')).includes('Thông tư 54/2015/TT-BYT, tham khảo'), 'the source named');
    const dengue = await P().textContent('main table.dz-list tr[data-code="dengue"]');
    for (const want of ['Sốt xuất huyết Dengue', 'Nhóm B', '24 giờ', '2 ca trong 14 ngày', '14 ngày', 'Có']) assert(dengue.includes(want), `dengue's row: ${want} in ${dengue}`);
    await P().click(`${row} button.dz-edit`);
    await P().waitForSelector('#dz-form', { timeout: 5000 });
    await P().fill('#dz-cluster_cases', '5000');
    await P().click('#dz-save');
    await P().waitForSelector('#dz-form .alert-error:not([hidden])', { timeout: 5000 });
    const bad = await P().textContent('#dz-form .alert-error');
    assert(bad.includes('Số ca nghi ổ dịch: cần một số nguyên từ 0 đến 1.000'), `a bad number refused in words: ${bad}`);
    await P().fill('#dz-cluster_cases', '5');
    await P().fill('#dz-cluster_days', '10');
    await P().click('#dz-save');
    await P().waitForFunction(() => !document.querySelector('#dz-form')
      && document.querySelector('main table.dz-list tr[data-code="hfmd"]')?.textContent.includes('5 ca trong 10 ngày'), null, { timeout: 10000 });
    const rec = (await apiFromPage('GET', '/api/records/diseases/hfmd')).json;
    assert(rec.fields.cluster_cases === 5 && rec.fields.cluster_days === 10 && rec.fields.name_vi === 'Tay chân miệng', `stored: ${JSON.stringify(rec.fields)}`);
    let all = await mainText();
    assert(!/\bhfmd\b|\bcase_by_case\b|\bcluster_cases\b/.test(all), 'no code on the page');
    await shot('50-disease-catalogue', { fullPage: true });
    await toLang('en');
    await P().waitForSelector(row, { timeout: 10000 });
    all = await mainText();
    for (const want of ['Infectious disease catalogue', 'Circular 54/2015/TT-BYT, as a reference', 'Hand, foot and mouth disease', 'Group B', '5 cases within 10 days']) {
      assert(all.includes(want), `English: ${want}`);
    }
    assert(!all.includes('Nhóm B') && !all.includes('ca trong'), 'no Vietnamese label in English');
    await shot('51-disease-catalogue-en', { fullPage: true });
    await toLang('vi');
  }

  return [
    ['outbreak_list_and_timeline_vi_en', outbreakListAndTimeline],
    ['outbreak_open_instruct_end', outbreakOpenInstructEnd],
    ['disease_catalogue_edit', diseaseCatalogueEdit],
  ];
}
