// Browser steps of issue 18's calendar (run by console.test.mjs, which passes
// its page and helpers in `x`):
//
// - calendar_page_vi_en: the demo's calendar (tests/demo/run-demo.sh): the
//   monthly activity report due the 5th with three stations on time and Xuân
//   Lãng late, the quarterly report, the weekly giao ban next week with its
//   time, place and participants; the completeness grid with its rates; in
//   Vietnamese and in English, statuses and periods in words, no raw codes,
//   no wider than 1366 px.
// - calendar_remind_late: "Nhắc các trạm chậm" on the month past due asks
//   first, then sends one notice to Xuân Lãng only, which its agent receives
//   (tramsync --json notices); the grid says when it reminded.
// - calendar_duty_editor: a new monthly report with a form of two fields made
//   in the page (a field code with capitals refused by the district and said
//   in the page), then stored; its occurrences appear, and a station sees
//   the form's fields in words (tramsync calendar).

const NO_CODES = /\bperiodic_report\b|\bon_time\b|\bnot_owed\b|\bmissing\b|\bmonthly\b|\bquarterly\b|\bkham_benh\b|\b\d{4}-(\d{2}|Q\d|W\d{2})\b/;

export function calendarSteps(x) {
  const { assert, waitFor, go, shot, apiFromPage, tramsync } = x;
  const P = () => x.page();
  const mainText = () => P().evaluate(() => document.querySelector('main').innerText);
  const toLang = async (lang) => {
    if ((await P().getAttribute('html', 'lang')) === lang) return;
    await P().click('#lang');
    await P().waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: 10000 });
  };
  // the demo's month past due: its grid column
  const pastMonth = async () => waitFor('the demo\'s monthly report', 40000, async () => {
    const g = (await apiFromPage('GET', '/api/calendar/grid?duty=BC-HOAT-DONG-THANG')).json;
    const d = g.duties && g.duties[0];
    const p = d && d.periods.filter((c) => c.due_passed).pop();
    return p && p.received === 3 ? p : null;
  });

  async function calendarPage() {
    const p = await pastMonth();
    await toLang('vi');
    await go('#/calendar');
    await P().waitForSelector('main .cal-duty-grid[data-duty="BC-HOAT-DONG-THANG"] table.cal-grid', { timeout: 10000 });
    const grid = 'main .cal-duty-grid[data-duty="BC-HOAT-DONG-THANG"]';
    const late = await P().textContent(`${grid} tr[data-station="xuanlang"]`);
    assert(late.includes('Chưa nộp'), `Xuân Lãng late: ${late}`);
    for (const s of ['binhnguyen', 'binhxuyen', 'binhtuyen']) {
      const row = await P().textContent(`${grid} tr[data-station="${s}"]`);
      assert(row.includes('Đúng hạn'), `${s} on time: ${row}`);
    }
    const rates = await P().textContent(`${grid} tr.cal-rates`);
    assert(rates.includes('Tỉ lệ báo cáo 75 % · đúng hạn 75 %'), `the month's rates: ${rates}`);
    const [y, m] = p.period.split('-');
    assert((await P().textContent(`${grid} thead`)).includes(`Tháng ${Number(m)}/${y}`), `the period in words in the header: ${p.period}`);
    assert((await P().textContent(`${grid} tr.cal-rates`)).includes('trạm đã nộp, chưa đến hạn'), 'a period not due yet: no rate');
    assert(await P().isVisible('main .cal-duty-grid[data-duty="BC-QUY"]'), 'the quarterly report has its grid');
    const up = await P().textContent('main table.cal-upcoming');
    assert(up.includes('Họp giao ban tuần') && up.includes('Hội trường Trung tâm Y tế khu vực Bình Xuyên') && up.includes('07:30'),
      `the giao ban with its time and place: ${up}`);
    assert(up.includes('Trạm trưởng các trạm y tế xã'), `its participants: ${up}`);
    assert(up.includes('Chủ trì: Nguyễn Văn Thành (Giám đốc)'), `its chair from the directory: ${up}`);
    assert(up.includes('3/4 trạm đã nộp'), `the month's progress: ${up}`);
    const csv = await P().evaluate(async () => {
      const r = await fetch(document.querySelector('#cal-csv').href);
      return { type: r.headers.get('content-type'), text: await r.text() };
    });
    assert(csv.type.startsWith('text/csv') && csv.text.includes('"Chưa nộp"') && csv.text.includes('"Đúng hạn"'), `the CSV: ${csv.text.slice(0, 200)}`);
    const vi = await mainText();
    assert(!NO_CODES.test(vi), `no raw codes: ${vi.match(NO_CODES)}`);
    assert(vi.includes('Báo cáo định kỳ') && vi.includes('Hằng tháng'), 'kinds and recurrences in words');
    const overflow = await P().evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the calendar is wider than the window by ${overflow} px`);
    await shot('60-calendar-vi');
    await toLang('en');
    await P().waitForFunction(() => document.querySelector('main h1')?.textContent === 'Calendar', null, { timeout: 10000 });
    await P().waitForSelector('main table.cal-grid', { timeout: 10000 });
    const en = await mainText();
    assert(en.includes('Reporting rate 75 % · on time 75 %') && en.includes('Missing') && en.includes('On time'), 'the grid in English');
    assert(en.includes('Periodic report') && en.includes('Monthly') && en.includes('Briefing meeting'), 'kinds in English');
    assert(!NO_CODES.test(en), `no raw codes in English: ${en.match(NO_CODES)}`);
    await shot('61-calendar-en');
    await toLang('vi');
  }

  async function calendarRemindLate() {
    const p = await pastMonth();
    await toLang('vi');
    await go('#/calendar');
    const btn = `main button.cal-remind[data-occurrence="${p.occurrence}"]`;
    await P().waitForSelector(btn, { timeout: 10000 });
    await P().click(btn);
    await P().waitForSelector('#confirm-dialog[open]', { timeout: 5000 });
    assert((await P().textContent('#confirm-dialog')).includes('Báo cáo hoạt động chuyên môn tháng'), 'the question names the report');
    await P().click('#dlg-ok');
    await P().waitForSelector('main .cal-rates small.muted', { timeout: 10000 });
    const rem = await P().textContent('main .cal-duty-grid[data-duty="BC-HOAT-DONG-THANG"] tr.cal-rates');
    assert(/đã nhắc \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/.test(rem), `when it reminded: ${rem}`);
    const audit = (await apiFromPage('GET', '/api/audit?action=calendar_remind')).json;
    const entry = (audit.entries || audit.items || []).find((e) => e.record === p.occurrence || e.rec_id === p.occurrence);
    assert(entry, `the reminder audited: ${JSON.stringify(audit).slice(0, 300)}`);
    // Xuân Lãng's agent has it; the stations that reported do not
    await waitFor('the reminder at Xuân Lãng', 20000, async () => {
      const r = await tramsync('xuanlang', '--json', 'notices');
      return r.code === 0 && r.stdout.includes('Nhắc nộp báo cáo quá hạn: Báo cáo hoạt động chuyên môn tháng');
    });
    const bn = await tramsync('binhnguyen', '--json', 'notices');
    assert(!bn.stdout.includes('Nhắc nộp báo cáo quá hạn: Báo cáo hoạt động chuyên môn tháng'), 'Bình Nguyên reported: not reminded');
    await shot('62-calendar-reminded');
  }

  async function calendarDutyEditor() {
    await toLang('vi');
    await go('#/calendar');
    await P().waitForSelector('#cal-new', { timeout: 10000 });
    await P().click('#cal-new');
    await P().waitForSelector('#cal-editor', { timeout: 5000 });
    await P().fill('#cal-title', 'Báo cáo công tác an toàn thực phẩm tháng');
    await P().fill('#cal-due_days', '7');
    await P().click('#cal-form-add');
    await P().click('#cal-form-add');
    const rows = P().locator('#cal-editor tr.cal-form-row');
    await rows.nth(0).locator('.cal-f-name').fill('So Co So');
    await rows.nth(0).locator('.cal-f-vi').fill('Số cơ sở được kiểm tra');
    await rows.nth(0).locator('.cal-f-en').fill('Businesses inspected');
    await rows.nth(0).locator('.cal-f-req').check();
    await rows.nth(1).locator('.cal-f-name').fill('vi_pham');
    await rows.nth(1).locator('.cal-f-vi').fill('Số cơ sở vi phạm');
    await rows.nth(1).locator('.cal-f-en').fill('Businesses in breach');
    await P().click('#cal-save');
    await P().waitForSelector('#cal-editor .alert-error:not([hidden])', { timeout: 5000 });
    const err = await P().textContent('#cal-editor .alert-error');
    assert(err.includes('Mẫu báo cáo không hợp lệ'), `the refusal said: ${err}`);
    await shot('63-calendar-editor-refused');
    await rows.nth(0).locator('.cal-f-name').fill('so_co_so');
    await P().click('#cal-save');
    await P().waitForSelector('#cal-editor', { state: 'detached', timeout: 10000 });
    await P().waitForFunction(() => document.querySelector('main table.cal-duties')?.textContent.includes('Báo cáo công tác an toàn thực phẩm tháng'), null, { timeout: 10000 });
    const cal = (await apiFromPage('GET', '/api/calendar')).json;
    const duty = cal.duties.find((d) => d.title === 'Báo cáo công tác an toàn thực phẩm tháng');
    assert(duty && JSON.parse(duty.form).length === 2 && duty.due_days === 7, `the duty stored: ${JSON.stringify(duty)}`);
    await waitFor('its form at a station', 20000, async () => {
      const r = await tramsync('binhtuyen', 'calendar');
      return r.code === 0 && r.stdout.includes('--field so_co_so=…   Số cơ sở được kiểm tra (số nguyên, bắt buộc)');
    });
    await shot('64-calendar-duty-saved');
  }

  return [
    ['calendar_page_vi_en', calendarPage],
    ['calendar_remind_late', calendarRemindLate],
    ['calendar_duty_editor', calendarDutyEditor],
  ];
}
