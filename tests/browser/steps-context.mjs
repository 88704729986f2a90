// What a step module (tests/browser/*.steps.mjs) gets from console.test.mjs:
// its helpers as given, and `page`, which follows the harness's current page
// (the harness may open another), so moved steps read as they did in place.

export function stepContext(x) {
  const page = new Proxy({}, {
    get(_, key) {
      const p = x.page();
      const v = p[key];
      return typeof v === 'function' ? v.bind(p) : v;
    },
  });
  return { ...x, page };
}
