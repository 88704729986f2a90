#!/usr/bin/env bash
# Browser tests of the district console (tests/browser/console.test.mjs) in
# headless Chromium: Debian's /usr/bin/chromium, driven by playwright-core
# installed here (node_modules is git-ignored). Needs bin/ built (make) and
# the Debian packages chromium, nodejs and npm. Prints cmocka's text format
# ([ RUN ], [ OK ], [ FAILED ]) so tests/run-tests.sh can count the cases;
# screenshots go to build/test-artefacts/browser/. Bounded in time
# (TS_BROWSER_TIMEOUT seconds, default 360).
set -u
cd "$(dirname "$0")"
if [ ! -f node_modules/playwright-core/package.json ]; then
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error >npm-install.log 2>&1
  else
    npm install --no-audit --no-fund --loglevel=error >npm-install.log 2>&1
  fi
  if [ $? -ne 0 ]; then
    echo "[ RUN      ] browser_setup"
    sed 's/^/    /' npm-install.log | tail -20
    echo "[  FAILED  ] browser_setup"
    exit 1
  fi
  rm -f npm-install.log
fi
timeout -k 15 "${TS_BROWSER_TIMEOUT:-360}" node console.test.mjs
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "[  FAILED  ] browser_tests_timed_out"
fi
exit "$rc"
