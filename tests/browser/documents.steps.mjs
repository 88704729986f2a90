// Browser steps of issue 18's printed notices (run by console.test.mjs,
// which passes its page and helpers in `x`):
//
// - notice_pdf_download: a notice copied to the UBND xã shows "In văn bản
//   (PDF)" prominently on its page ("Print (PDF)" in English); the PDF it
//   downloads is an A4 official document (pdfinfo, pdftotext): the demo's
//   parent body, the national motto, the place, Nơi nhận with the UBND of
//   Bình Nguyên, the signer of the directory; the UBND's own account
//   downloads it from its commune's page too.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export function documentSteps(x) {
  const { assert, go, shot, apiFromPage, newContext, base, password } = x;
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

  return [['notice_pdf_download', noticePdfDownload]];
}
