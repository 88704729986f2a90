#!/usr/bin/env bash
# The .deb on a throwaway Debian 12 machine, as root (CI): lintian clean of
# errors, installs, its files are where docs/OPERATIONS.md says, the units
# verify and rate OK in systemd-analyze security, the installed daemon starts
# with the installed configuration, an upgrade restarts the services, and it
# purges cleanly. Prints results the
# way cmocka does so tests/run-tests.sh-style counting works.
set -u
DEB=${1:?usage: test-package.sh FILE.deb}
passed=0; failed=0
run() { # name command...
  local name=$1; shift
  echo "[ RUN      ] $name"
  local out
  if out=$("$@" 2>&1); then
    echo "[       OK ] $name"; passed=$((passed + 1))
  else
    echo "$out" | tail -20 | sed 's/^/    /'
    echo "[  FAILED  ] $name"; failed=$((failed + 1))
  fi
}
if [ "$(id -u)" != 0 ]; then echo "package test: needs root (it installs the package)"; exit 1; fi
if dpkg -s tramsync >/dev/null 2>&1; then echo "package test: tramsync is already installed here; not touching it"; exit 1; fi

lintian_clean() { lintian --fail-on error "$DEB"; }
install_pkg() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(readlink -f "$DEB")"; }
files_in_place() {
  local f
  for f in /usr/bin/tramsyncd /usr/bin/tramsync /usr/bin/tramsyncctl \
           /lib/systemd/system/tramsyncd.service /lib/systemd/system/tramsync.service \
           /etc/tramsync/tramsyncd.conf /usr/share/man/man8/tramsyncd.8.gz /usr/share/man/man1/tramsync.1.gz \
           /usr/share/man/man8/tramsyncctl.8.gz /usr/share/doc/tramsync/OPERATIONS.md \
           /usr/share/doc/tramsync/copyright /usr/share/tramsync/console/index.html \
           /usr/share/tramsync/plans/binh-dinh-2024.json /usr/share/doc/tramsync/PLANS.md; do
    [ -e "$f" ] || { echo "missing $f"; return 1; }
  done
  getent passwd tramsync >/dev/null || { echo "no tramsync user"; return 1; }
  [ "$(stat -c %U /var/lib/tramsync)" = tramsync ] || { echo "/var/lib/tramsync not owned by tramsync"; return 1; }
  dpkg -L tramsync | grep -q '^/etc/tramsync/tramsyncd.conf$'
}
units_verify() { systemd-analyze verify /lib/systemd/system/tramsyncd.service /lib/systemd/system/tramsync.service; }
security_ok() {
  local out
  out=$(systemd-analyze security --offline=true /lib/systemd/system/tramsyncd.service) || return 1
  echo "$out" | tail -1
  echo "$out" | tail -1 | grep -Eq 'exposure level for tramsyncd.service: [0-9.]+ (OK|SAFE)'
}
daemon_serves() {
  local dir; dir=$(mktemp -d)
  tramsyncctl --pki "$dir/pki" ca init >/dev/null && tramsyncctl --pki "$dir/pki" ca issue-server localhost >/dev/null || return 1
  chown -R tramsync:tramsync "$dir"
  local args=(-c /etc/tramsync/tramsyncd.conf --set server.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0
              --set server.data_dir="$dir" --set server.database="$dir/district.db"
              --set tls.ca="$dir/pki/ca.pem" --set tls.cert="$dir/pki/server.pem" --set tls.key="$dir/pki/server.key"
              --set tls.crl="$dir/pki/crl.pem")
  local as_tramsync=(setpriv --reuid=tramsync --regid=tramsync --init-groups)
  "${as_tramsync[@]}" tramsyncd "${args[@]}" --check-config || return 1
  "${as_tramsync[@]}" tramsyncd "${args[@]}" --port-file "$dir/port" 2>"$dir/log" &
  local pid=$!
  for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
  local ok=1
  local admin; admin=$(sed -n 2p "$dir/port" 2>/dev/null)
  if [ -n "$admin" ] && curl -s --cacert "$dir/pki/ca.pem" "https://localhost:$admin/api/health" | grep -q '"status":"ok"'; then ok=0; fi
  kill -TERM $pid; wait $pid; local rc=$?
  rm -rf "$dir"
  [ $ok = 0 ] && [ $rc = 0 ]
}
# No systemd runs on the test machine: what the maintainer scripts ask of it
# is recorded by a deb-systemd-invoke put first on dpkg's PATH (systemd's
# directory made for the while), as systemd would receive it.
upgrade_restarts() {
  local shim=/usr/local/sbin/deb-systemd-invoke made_run=0 rc=0 dir log
  [ -e "$shim" ] && { echo "$shim exists: not replacing it"; return 1; }
  dir=$(mktemp -d); log="$dir/invoked"; : > "$log"
  printf '#!/bin/sh\necho "$*" >> %s\n' "$log" > "$shim"; chmod 755 "$shim"
  [ -d /run/systemd/system ] || { mkdir -p /run/systemd/system; made_run=1; }
  # a first install starts nothing (the daemon needs its certificates first)
  PATH=/usr/local/sbin:$PATH DPKG_MAINTSCRIPT_PACKAGE=tramsync DPKG_MAINTSCRIPT_NAME=postinst \
    /var/lib/dpkg/info/tramsync.postinst configure || rc=1
  [ -s "$log" ] && { echo "a first install asked:"; cat "$log"; rc=1; }
  # an upgrade restarts what runs, and stops nothing meanwhile
  dpkg-deb -R "$DEB" "$dir/pkg"
  sed -i 's/^Version: \(.*\)$/Version: \1+upgrade1/' "$dir/pkg/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$dir/pkg" "$dir/new.deb" >/dev/null
  PATH=/usr/local/sbin:$PATH DEBIAN_FRONTEND=noninteractive dpkg -i "$dir/new.deb" >/dev/null || rc=1
  echo "asked of systemd during the upgrade:"; cat "$log"
  grep -qx 'try-restart tramsyncd.service tramsync.service' "$log" || { echo "no restart"; rc=1; }
  grep -q '^stop' "$log" && { echo "the upgrade stopped the services"; rc=1; }
  dpkg -s tramsync | grep -q '^Version: .*+upgrade1$' || { echo "not upgraded"; rc=1; }
  rm -f "$shim"; [ $made_run = 1 ] && rmdir /run/systemd/system
  rm -rf "$dir"
  return $rc
}
purge_pkg() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq tramsync >/dev/null || return 1
  ! dpkg -s tramsync >/dev/null 2>&1 || { echo "still installed"; return 1; }
  local f
  for f in /usr/bin/tramsyncd /lib/systemd/system/tramsyncd.service /etc/tramsync/tramsyncd.conf /usr/share/tramsync; do
    [ ! -e "$f" ] || { echo "left behind: $f"; return 1; }
  done
}

run lintian_without_errors lintian_clean
run installs install_pkg
run files_where_the_docs_say files_in_place
run units_verify units_verify
run tramsyncd_service_security_ok security_ok
run installed_daemon_serves daemon_serves
run upgrade_restarts_the_services upgrade_restarts
run purges_cleanly purge_pkg
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
