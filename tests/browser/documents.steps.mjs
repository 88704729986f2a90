// Browser steps of issue 18's printed notices (run by console.test.mjs,
// which passes its page and helpers in `x`):
//
// - notice_pdf_download: a notice copied to the UBND xã shows "In văn bản
//   (PDF)" prominently on its page ("Print (PDF)" in English); the PDF it
//   downloads is an A4 official document (pdfinfo, pdftotext): the demo's
//   parent body, the national motto, the place, Nơi nhận with the UBND of
//   Bình Nguyên, the signer of the directory; the UBND's own account
//   downloads it from its commune's page too.
// - task_person_picker: assigning a plan task, the responsible person is
//   picked from the directory - the TTYT's people, and only the UBND and the
//   staff of the station chosen - and the assignment then shows them by
//   name and position with the expected result; a name typed (someone not
//   in the directory) is the fallback, shown as written.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export function documentSteps(x) {
  const { assert, go, shot, apiFromPage, newContext, base, password, waitFor } = x;
  const P = () => x.page();

  // the text of a downloaded PDF, after checking it is A4
  const pdfText = async (download) => {
    assert(!(await download.failure()), `download failed: ${await download.failure()}`);
    const file = await download.path();
    assert(fs.readFileSync(file).subarray(0, 5).toString() === '%PDF-', 'a PDF');
    const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
    assert(info.includes('595.276 x 841.89 pts (A4)'), `A4: ${info}`);
    return execFileSync('pdftotext', ['-raw', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
  };

  async function noticePdfDownload() {
    const sent = await apiFromPage('POST', '/api/notices', {
      notice: {
        subject: 'Tổng vệ sinh môi trường phòng chống sốt xuất huyết', issuer: 'Trung tâm Y tế khu vực Bình Xuyên',
        urgency: 'khan', category: 'prevention', doc_type: 'thong_bao', cc_commune_committee: true,
        body: 'Đề nghị Trạm Y tế xã phối hợp với UBND xã tổ chức tổng vệ sinh môi trường.', responsible_person: 'TTYT-KSBT',
      },
      recipients: { stations: ['binhnguyen'] },
    });
    assert(sent.status === 201, `notice copied to the UBND: ${sent.status}`);
    const id = sent.json.id;
    if ((await P().getAttribute('html', 'lang')) !== 'vi') await P().click('#lang');
    await go(`#/notices/${encodeURIComponent(id)}`);
    await P().waitForSelector('#nt-pdf', { timeout: 10000 });
    const cls = await P().getAttribute('#nt-pdf', 'class');
    assert(cls.includes('primary'), `prominent for a notice copied to the UBND: ${cls}`);
    assert((await P().textContent('#nt-pdf')).trim() === 'In văn bản (PDF)', 'the button in Vietnamese');
    await shot('60-notice-print');
    const [download] = await Promise.all([P().waitForEvent('download', { timeout: 15000 }), P().click('#nt-pdf')]);
    const text = await pdfText(download);
    for (const want of ['SỞ Y TẾ TỈNH PHÚ THỌ', 'TRUNG TÂM Y TẾ KHU VỰC BÌNH XUYÊN', 'CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM',
      'Độc lập - Tự do - Hạnh phúc', 'Bình Xuyên, ngày', 'THÔNG BÁO', 'Tổng vệ sinh môi trường phòng chống sốt xuất huyết',
      'Trần Thị Thu (Trưởng khoa Kiểm soát bệnh tật)', 'Nơi nhận:', '- Trạm Y tế xã Bình Nguyên;', '- UBND xã Bình Nguyên',
      'KT. GIÁM ĐỐC', 'PHÓ GIÁM ĐỐC', 'Lê Văn Minh']) {
      assert(text.includes(want), `the PDF has ${want}: ${text.slice(0, 600)}`);
    }
    await download.delete();
    await P().click('#lang');
    await P().waitForFunction(() => document.querySelector('#nt-pdf')?.textContent.trim() === 'Print (PDF)', null, { timeout: 10000 });
    await P().click('#lang');

    // the UBND's officer downloads it from the commune's page
    const ctx = await newContext({ timezoneId: 'Asia/Ho_Chi_Minh' });
    try {
      const p = await ctx.newPage();
      await p.goto(`${base()}/`);
      await p.waitForSelector('#login-user', { timeout: 10000 });
      await p.fill('#login-user', 'ubnd-binhnguyen');
      await p.fill('#login-pass', password);
      await p.click('#login-submit');
      const link = `tr.cm-notice[data-id="${id}"] a.cm-pdf`;
      await p.waitForSelector(link, { timeout: 15000 });
      const [dl] = await Promise.all([p.waitForEvent('download', { timeout: 15000 }), p.click(link)]);
      const own = await pdfText(dl);
      assert(own.includes('- UBND xã Bình Nguyên') && own.includes('Lê Văn Minh'), `the commune's copy: ${own.slice(0, 600)}`);
      await dl.delete();
    } finally {
      await ctx.close();
    }
  }

  // the task's assignment card: a station chosen in its picker
  const chooseStation = async (card, code) => {
    await card.locator('.pick-area input[type="search"]').fill(code);
    const item = card.locator('.suggest .suggest-item', { hasText: code });
    await item.first().waitFor({ timeout: 10000 });
    await item.first().click();
  };
  const options = () => P().$$eval('#tk-person option', (os) => os.map((o) => o.textContent));

  async function taskPersonPicker() {
    if ((await P().getAttribute('html', 'lang')) !== 'vi') await P().click('#lang');
    const card = () => P().locator('main .card', { hasText: 'Giao nhiệm vụ cho các trạm' });
    // the stations' own staff reach the district with their sync
    await waitFor('Bình Xuyên\'s staff offered for its assignment', 40000, async () => {
      await go('#/tasks/KH-14');
      await P().reload(); // the directory is read as the page opens
      await P().waitForSelector('#tk-assign', { timeout: 10000 });
      await chooseStation(card(), 'binhxuyen');
      await P().waitForFunction(() => document.querySelectorAll('#tk-person optgroup').length >= 2, null, { timeout: 10000 });
      return (await options()).some((o) => o.startsWith('Vũ Thị Lan (Cán bộ phụ trách dịch)'));
    }, 2000);
    const offered = await options();
    for (const want of ['Trần Thị Thu (Trưởng khoa Kiểm soát bệnh tật)', 'Ngô Thị Hương (Phó Chủ tịch UBND xã', 'Lê Văn Bình (Trạm trưởng)']) {
      assert(offered.some((o) => o.startsWith(want)), `${want} offered: ${offered.join(' | ')}`);
    }
    // another commune's UBND and staff are not
    for (const other of ['Trịnh Văn Hải', 'Đỗ Văn Nam', 'Nguyễn Thị Hằng']) {
      assert(!offered.some((o) => o.includes(other)), `${other} (Bình Nguyên) not offered: ${offered.join(' | ')}`);
    }
    await P().selectOption('#tk-person', 'BX-NS-DICH');
    await P().fill('#tk-expected', '100% hộ gia đình được hướng dẫn diệt lăng quăng');
    await shot('61-task-person-picker');
    await P().click('#tk-assign');
    const row = 'main table tbody tr[data-station="binhxuyen"] td.tk-responsible';
    await P().waitForSelector(row, { timeout: 10000 });
    await P().waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('Vũ Thị Lan (Cán bộ phụ trách dịch)'), row, { timeout: 10000 });
    const shown = await P().textContent(row);
    assert(shown.includes('100% hộ gia đình được hướng dẫn diệt lăng quăng'), `the expected result with it: ${shown}`);
    // someone not in the directory: the name typed, as written
    await chooseStation(card(), 'binhtuyen');
    await P().fill('#tk-person-text', 'Nguyễn Văn Khách (cộng tác viên)');
    await P().click('#tk-assign');
    await P().waitForFunction(() => document.querySelector('main table tbody tr[data-station="binhtuyen"] td.tk-responsible')?.textContent.includes('Nguyễn Văn Khách (cộng tác viên)'), null, { timeout: 10000 });
    await shot('62-task-assigned-person');
  }

  return [['notice_pdf_download', noticePdfDownload], ['task_person_picker', taskPersonPicker]];
}
