// Browser steps of issue 19's plan versions (run by console.test.mjs, which
// passes its page and helpers in `x`):
//
// - plan_versions_and_differences: the targets page links to the plan's
//   versions; the demo's plan (version 1) is there, in force; the district
//   loads the corrected copy (version 2, POST /api/plan as `tramsyncctl plan
//   load` does); both versions are listed, version 2 in force, version 1
//   replaced but readable: its targets and tasks as loaded and the one
//   difference from the version in force (KH-03 "Kiểm toàn" → "Kiện toàn"),
//   in Vietnamese and English, with no operator code or ISO date on screen.

import fs from 'node:fs';
import path from 'node:path';

export function planSteps(x) {
  const { assert, waitFor, go, shot, apiFromPage, root } = x;
  const P = () => x.page();
  const mainText = () => P().evaluate(() => document.querySelector('main').innerText);
  const toLang = async (lang) => {
    if ((await P().getAttribute('html', 'lang')) === lang) return;
    await P().click('#lang');
    await P().waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: 10000 });
  };

  async function planVersionsAndDifferences() {
    await toLang('vi');
    await go('#/targets');
    await P().waitForSelector('#tg-plans', { timeout: 15000 });
    await P().click('#tg-plans');
    await P().waitForSelector('table.plan-versions tbody tr[data-version]', { timeout: 15000 });
    let rows = await P().$$eval('table.plan-versions tbody tr[data-version]', (trs) => trs.map((r) => r.innerText));
    assert(rows.length === 1 && rows[0].includes('Đang áp dụng') && rows[0].includes('Ủy ban nhân dân tỉnh Bình Định'),
      `the demo's one version, in force: ${JSON.stringify(rows)}`);

    const file = fs.readFileSync(path.join(root, 'server/data/plans/binh-dinh-2024-sua-kh03.json'), 'utf8');
    const r = await apiFromPage('POST', '/api/plan', { plan: JSON.parse(file), file: 'binh-dinh-2024-sua-kh03.json' });
    assert(r.status === 200 || r.status === 201, `loading version 2: ${r.status} ${JSON.stringify(r.json)}`);

    await P().reload();
    await waitFor('two versions listed', 15000, async () =>
      (await P().$$('table.plan-versions tbody tr[data-version]')).length === 2);
    rows = await P().$$eval('table.plan-versions tbody tr[data-version]', (trs) => trs.map((r) => [r.dataset.version, r.innerText]));
    assert(rows[0][0] === '2' && rows[0][1].includes('Đang áp dụng') && rows[1][0] === '1' && rows[1][1].includes('Đã thay thế'),
      `version 2 in force, version 1 replaced: ${JSON.stringify(rows)}`);
    await shot('60-plan-versions');

    await P().click('table.plan-versions tr[data-version="1"] a');
    await P().waitForSelector('#pl-compare table.plan-diff', { timeout: 15000 });
    const diff = await P().$$eval('#pl-compare table.plan-diff tbody tr', (trs) => trs.map((r) => r.innerText));
    assert(diff.length === 1 && diff[0].includes('Nhiệm vụ KH-03') && diff[0].includes('Kiểm toàn') && diff[0].includes('Kiện toàn'),
      `one difference, KH-03's correction: ${JSON.stringify(diff)}`);
    let text = await mainText();
    assert(text.includes('Mục tiêu (') && text.includes('Nhiệm vụ (28)') && text.includes('trên 97'),
      `version 1's targets and tasks in words: ${text.slice(0, 600)}`);
    assert(!/\d{4}-\d{2}-\d{2}|\b(operator|threshold)\b|>\s*\d/.test(text), 'no code or ISO date on the page');
    await shot('61-plan-version-1', { fullPage: true });

    await toLang('en');
    await P().waitForSelector('#pl-compare table.plan-diff', { timeout: 15000 });
    text = await mainText();
    assert(text.includes('Differences from the version in force (2)') && text.includes('Task KH-03') && text.includes('above 97'),
      `in English: ${text.slice(0, 600)}`);
    assert(!text.includes('Đang áp dụng') && !text.includes('Khác với'), 'no Vietnamese label in English');
    await toLang('vi');

    // the version in force says so, without a comparison
    await go('#/targets/plans/2');
    await P().waitForSelector('#pl-compare', { timeout: 15000 });
    assert((await P().innerText('#pl-compare')).includes('Đây là phiên bản đang áp dụng'), 'version 2 is the one in force');
  }

  // Up to the province from the console: a quarter chosen (the district's
  // current one first, named in words), its parts as CSV beside the
  // workbook and the summary report, each for that quarter.
  async function provinceCsvForAQuarter() {
    await toLang('vi');
    await go('#/targets');
    await P().waitForSelector('#tg-quarter', { timeout: 15000 });
    const options = await P().$$eval('#tg-quarter option', (os) => os.map((o) => [o.value, o.textContent]));
    assert(options.length === 5 && options.every(([, l]) => /^Quý (I|II|III|IV)\/\d{4}$/.test(l)), `quarters in words: ${JSON.stringify(options)}`);
    const previous = options[1][0];
    await P().selectOption('#tg-quarter', previous);
    assert((await P().getAttribute('#tg-xlsx', 'href')).endsWith(`quarter=${previous}`), 'the workbook follows the quarter');
    assert((await P().getAttribute('#tg-pdf', 'href')).endsWith(`quarter=${previous}`), 'the report follows the quarter');
    const want = { targets: 'Mục tiêu', tasks: 'Nhiệm vụ', reporting: 'Báo cáo ca bệnh', periodic: 'Báo cáo định kỳ' };
    for (const part of Object.keys(want)) {
      assert((await P().textContent(`#tg-csv-${part}`)).trim() === want[part], `the ${part} link in words`);
      const [download] = await Promise.all([P().waitForEvent('download', { timeout: 15000 }), P().click(`#tg-csv-${part}`)]);
      assert(!(await download.failure()), `${part}: ${await download.failure()}`);
      assert(download.suggestedFilename() === `bao-cao-${part}-${previous}.csv`, `${part}: file name ${download.suggestedFilename()}`);
      const text = fs.readFileSync(await download.path(), 'utf8');
      assert(text.includes('Trung tâm Y tế khu vực Bình Xuyên'), `${part}: the TTYT's name in the file`);
      const [y, q] = previous.split('-Q');
      assert(text.includes(`Quý ${['I', 'II', 'III', 'IV'][Number(q) - 1]}/${y}`), `${part}: the quarter in the file: ${text.slice(0, 300)}`);
      await download.delete();
    }
    await toLang('en');
    await P().waitForSelector('#tg-quarter', { timeout: 15000 });
    const en = await P().$$eval('#tg-quarter option', (os) => os.map((o) => o.textContent));
    assert(en.every((l) => /^Q[1-4] \d{4}$/.test(l)) && (await P().textContent('#tg-csv-periodic')).trim() === 'Periodic reports', `in English: ${en}`);
    await toLang('vi');
    await shot('62-province-quarter-csv');
  }

  return [['plan_versions_and_differences', planVersionsAndDifferences], ['province_csv_for_a_quarter', provinceCsvForAQuarter]];
}
