// Browser steps of issue 18's per-period progress of recurring plan tasks
// (run by console.test.mjs, which passes its page and helpers in `x`):
//
// - task_periods_vi_en: the demo plan's KH-25 ("Từ năm 2025", yearly) is
//   assigned to Bình Nguyên and Bình Xuyên; Bình Nguyên reports 2025 done and
//   the current year in progress with `tramsync progress --period`; the
//   task's page shows a row per station and a column per year: Bình
//   Nguyên's 2025 done, Bình Xuyên's 2025 overdue (over and not reported),
//   the current year in progress or not reported; labels in Vietnamese and
//   English, no status code or ISO date on the screen.

const NO_CODES = /\bnot_reported\b|\bin_progress\b|\boverdue\b|\bquarterly\b|\byearly\b|\d{4}-\d{2}-\d{2}/;

export function taskPeriodSteps(x) {
  const { assert, waitFor, go, shot, apiFromPage, tramsync } = x;
  const P = () => x.page();
  const toLang = async (lang) => {
    if ((await P().getAttribute('html', 'lang')) === lang) return;
    await P().click('#lang');
    await P().waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: 10000 });
  };

  async function taskPeriods() {
    const task = 'KH-25';
    const as = await apiFromPage('POST', `/api/tasks/${task}/assign`, { recipients: { stations: ['binhnguyen', 'binhxuyen'] } });
    assert(as.status === 200, `assigned: ${JSON.stringify(as.json)}`);
    await waitFor('Bình Nguyên reports 2025 done', 40000, async () =>
      (await tramsync('binhnguyen', 'progress', task, '--period', '2025', '--state', 'done', '--by', 'Nguyễn Văn An',
        '--report', 'Đã rà soát 412 người cao tuổi')).code === 0, 1000);
    const now = await tramsync('binhnguyen', '--json', 'progress', task, '--state', 'in_progress', '--percent', '60',
      '--note', 'Đã rà soát 2 thôn');
    assert(now.code === 0, `the current period: ${now.stderr || ''}`);
    const current = JSON.parse(now.stdout).period;
    const periods = await waitFor('the district reads Bình Nguyên\'s periods', 40000, async () => {
      const p = (await apiFromPage('GET', `/api/tasks/${task}`)).json.periods;
      const bn = p && p.stations.find((s) => s.station === 'binhnguyen');
      const row = bn && bn.rows.find((r) => r.period === current);
      return row && row.status === 'in_progress' ? p : null;
    }, 1000);
    assert(periods.unit === 'yearly', `yearly by default: ${periods.unit}`);

    await toLang('vi');
    await go(`#/tasks/${task}`);
    const grid = '#tk-periods table.tp-grid';
    await P().waitForSelector(`${grid} tr[data-station="binhnguyen"] td[data-period="2025"][data-status="done"]`, { timeout: 15000 });
    const bn = await P().textContent(`${grid} tr[data-station="binhnguyen"]`);
    assert(bn.includes('Hoàn thành') && bn.includes('100 %') && bn.includes('Đang thực hiện') && bn.includes('60 %'),
      `Bình Nguyên: 2025 done, this year in progress: ${bn}`);
    assert(bn.includes('Đã rà soát 412 người cao tuổi'), `what it reported: ${bn}`);
    const bx = await P().getAttribute(`${grid} tr[data-station="binhxuyen"] td[data-period="2025"]`, 'data-status');
    assert(bx === 'overdue', `Bình Xuyên's 2025 is overdue: ${bx}`);
    const bxText = await P().textContent(`${grid} tr[data-station="binhxuyen"]`);
    assert(bxText.includes('Quá hạn') && bxText.includes('Chưa báo cáo'), `Bình Xuyên: overdue, then not reported: ${bxText}`);
    let card = await P().textContent('#tk-periods');
    for (const want of ['Tiến độ theo kỳ (hằng năm)', 'Năm 2025', 'Bình Nguyên', 'Bình Xuyên']) assert(card.includes(want), `shows ${want}: ${card}`);
    assert(!NO_CODES.test(card), `no code, no ISO date: ${(NO_CODES.exec(card) || [])[0]}`);
    await shot('70-task-periods', { fullPage: true });

    await toLang('en');
    await P().waitForSelector(`${grid} td[data-period="2025"]`, { timeout: 10000 });
    card = await P().textContent('#tk-periods');
    for (const want of ['Progress per period (yearly)', 'Done', 'Overdue', 'In progress', 'Not reported']) assert(card.includes(want), `English: ${want}`);
    for (const vi of ['Hoàn thành', 'Quá hạn', 'Chưa báo cáo', 'Năm 2025']) assert(!card.includes(vi), `no Vietnamese label in English: ${vi}`);
    await shot('71-task-periods-en', { fullPage: true });
    await toLang('vi');
  }

  return [
    ['task_periods_vi_en', taskPeriods],
  ];
}
