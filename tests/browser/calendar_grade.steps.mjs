// Browser steps of the district's grade on the calendar page (run by
// console.test.mjs, which passes its page and helpers in `x`):
//
// - calendar_grade_in_the_grid: the demo's monthly report past due, graded
//   by the district at its start: each station that sent it reads "Trạm đã
//   được báo lúc …" under its status. Xuân Lãng then sends this month's with
//   a value not of its kind and two required fields missing (tramsync put,
//   as a station's own program might): its cell says Sai mẫu, why in the
//   form's words (never the field codes or the value), and when the station
//   was told; in English too. Sent again fitting the form (tramsync submit),
//   the cell follows: the new grade, nothing left of the reasons.

const RAW = /\bkham_benh\b|\btiem_chung_day_du\b|\bquan_ly_tang_huyet_ap\b|\bon_time\b|\binvalid\b|\bresubmitted\b|\bcurrent\b|nhiều/;

export function calendarGradeSteps(x) {
  const { assert, waitFor, go, shot, apiFromPage, tramsync } = x;
  const P = () => x.page();
  const DUTY = 'BC-HOAT-DONG-THANG';
  const grid = `main .cal-duty-grid[data-duty="${DUTY}"]`;
  const toLang = async (lang) => {
    if ((await P().getAttribute('html', 'lang')) === lang) return;
    await P().click('#lang');
    await P().waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: 10000 });
  };
  // the grid's cell of a station for an occurrence, once cond(cell) holds
  const cellWhen = (what, station, occurrence, cond) => waitFor(what, 30000, async () => {
    const g = (await apiFromPage('GET', `/api/calendar/grid?duty=${DUTY}`)).json;
    const row = g.duties && g.duties[0] && g.duties[0].rows.find((r) => r.station === station);
    const c = row && row.cells.find((k) => k.occurrence === occurrence);
    return c && cond(c) ? c : null;
  });
  // the cell's text in the page, once it holds needle (the page follows the records live)
  const cellText = (station, occurrence, needle) => waitFor(`the page's cell of ${station} with "${needle}"`, 15000, async () => {
    const el = await P().$(`${grid} tr[data-station="${station}"] td.cal-cell[data-occurrence="${occurrence}"]`);
    const text = el ? await el.textContent() : '';
    return text.includes(needle) ? text : null;
  });
  const reload = async () => {
    await go('#/dashboard');
    await go('#/calendar');
    await P().waitForSelector(`${grid} table.cal-grid`, { timeout: 10000 });
  };

  async function gradeInTheGrid() {
    const g = (await apiFromPage('GET', `/api/calendar/grid?duty=${DUTY}`)).json;
    const periods = g.duties[0].periods;
    const past = periods.filter((p) => p.due_passed).pop();
    const now = periods[periods.length - 1];
    assert(past && now && !now.due_passed, `a month past due and this month: ${JSON.stringify(periods.map((p) => p.occurrence))}`);
    // the demo's reports, graded by the district at its start
    const bn = await cellWhen('Bình Nguyên\'s report graded', 'binhnguyen', past.occurrence, (c) => c.graded && c.graded.state === 'current');
    assert(bn.graded.grade === 'on_time' && bn.graded.submission === bn.submitted_at, `Bình Nguyên's grade: ${JSON.stringify(bn)}`);
    await toLang('vi');
    await reload();
    const bnText = await cellText('binhnguyen', past.occurrence, 'Trạm đã được báo');
    assert(bnText.includes('Đúng hạn') && /Trạm đã được báo lúc \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(bnText), `Bình Nguyên's cell: ${bnText}`);

    // Xuân Lãng sends this month's report not fitting the form
    const put = await tramsync('xuanlang', 'put', 'periodic_reports', `${now.occurrence}:xuanlang`, `occurrence_id=${now.occurrence}`,
      `duty_id=${DUTY}`, `period=${now.period}`, 'values={"kham_benh":"nhiều"}', `submitted_at=${new Date().toISOString().slice(0, 19)}Z`);
    assert(put.code === 0, `tramsync put: ${put.stderr}`);
    const xl = await cellWhen('Xuân Lãng\'s report graded invalid', 'xuanlang', now.occurrence,
      (c) => c.graded && c.graded.grade === 'invalid' && c.graded.state === 'current');
    assert(xl.status === 'invalid' && xl.graded.problems.length === 3, `Xuân Lãng's cell: ${JSON.stringify(xl)}`);
    await reload();
    let text = await cellText('xuanlang', now.occurrence, 'Sai mẫu');
    for (const want of ['Sai mẫu', 'Số lượt khám bệnh: giá trị không đúng loại', 'Số trẻ dưới 1 tuổi tiêm chủng đầy đủ: còn thiếu (bắt buộc)',
      'Số người tăng huyết áp được quản lý: còn thiếu (bắt buộc)']) assert(text.includes(want), `Xuân Lãng's cell lacks "${want}": ${text}`);
    assert(/Trạm đã được báo lúc \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(text), `when Xuân Lãng was told: ${text}`);
    assert(!RAW.test(text), `no field codes, values or codes: ${text.match(RAW)}`);
    // the same words as the station's own calendar
    const cal = await tramsync('xuanlang', 'calendar');
    assert(cal.stdout.includes('Số lượt khám bệnh: giá trị không đúng loại'), `tramsync calendar at Xuân Lãng: ${cal.stdout}`);
    await P().locator(`${grid} tr[data-station="xuanlang"]`).scrollIntoViewIfNeeded();
    await shot('65-calendar-grade-vi');
    await toLang('en');
    await P().waitForFunction(() => document.querySelector('main h1')?.textContent === 'Calendar', null, { timeout: 10000 });
    await P().waitForSelector(`${grid} table.cal-grid`, { timeout: 10000 });
    text = await cellText('xuanlang', now.occurrence, 'Does not fit the form');
    assert(text.includes('Does not fit the form') && text.includes('Outpatient visits: not a value of its kind') &&
      /Station told at \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(text), `Xuân Lãng's cell in English: ${text}`);
    assert(!RAW.test(text), `no field codes, values or codes in English: ${text.match(RAW)}`);
    await P().locator(`${grid} tr[data-station="xuanlang"]`).scrollIntoViewIfNeeded();
    await shot('66-calendar-grade-en');
    await toLang('vi');

    // sent again, fitting the form: graded again, no reasons left
    const sub = await tramsync('xuanlang', 'submit', now.occurrence, '--field', 'kham_benh=120', '--field', 'tiem_chung_day_du=8',
      '--field', 'quan_ly_tang_huyet_ap=41');
    assert(sub.code === 0, `tramsync submit: ${sub.stdout} ${sub.stderr}`);
    const again = await cellWhen('Xuân Lãng\'s report graded again', 'xuanlang', now.occurrence,
      (c) => c.graded && c.graded.grade === 'on_time' && c.graded.state === 'current');
    assert(!again.problems && !again.graded.problems, `nothing left of the reasons: ${JSON.stringify(again)}`);
    await reload();
    text = await cellText('xuanlang', now.occurrence, 'Đúng hạn');
    assert(text.includes('Đúng hạn') && text.includes('Trạm đã được báo lúc') && !text.includes('Sai mẫu') && !text.includes('còn thiếu'),
      `Xuân Lãng's cell after sending it again: ${text}`);
  }

  return [
    ['calendar_grade_in_the_grid', gradeInTheGrid],
  ];
}
