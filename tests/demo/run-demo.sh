#!/usr/bin/env bash
# make run: the district server and the four stations of the seed (Bình Nguyên,
# Bình Xuyên, Bình Tuyền, Xuân Lãng) syncing over mutual TLS on loopback, with
# their data (tests/demo/data) and a dengue cluster of the last week.
#
# State lives in run/ (git-ignored): the development CA and certificates, the
# district database and one directory per station. Ctrl-C stops everything
# cleanly; running it again resumes where it stopped. TS_DEMO_DISTRICT_CONF,
# when set, is added to the end of tramsyncd.conf (the browser tests shorten
# the reminders of Thượng khẩn notices to seconds with a [notices] section).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
RUN=${TS_DEMO_DIR:-$ROOT/run}
PORT=${TS_DEMO_PORT:-7443}
ADMIN_PORT=${TS_DEMO_ADMIN_PORT:-7444}
ADMIN_USER=admin
ADMIN_PASSWORD=${TS_DEMO_PASSWORD:-tramsync-demo}
DATA=$ROOT/tests/demo/data
STATIONS=("binhnguyen|Bình Nguyên" "binhxuyen|Bình Xuyên" "binhtuyen|Bình Tuyền" "xuanlang|Xuân Lãng")
PKI=$RUN/district/pki
PIDS=()

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

stop_all() {
  trap - INT TERM
  echo
  say "stopping: station agents first, then the district server (each finishes its exchange and says BYE)"
  for pid in "${PIDS[@]:1}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:1}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${#PIDS[@]}" -gt 0 ]; then
    kill -TERM "${PIDS[0]}" 2>/dev/null || true
    wait "${PIDS[0]}" 2>/dev/null || true
  fi
  say "stopped. Everything is kept in $RUN — 'make run' again resumes."
  exit 0
}

mkdir -p "$RUN/district" "$RUN/stations"

if [ ! -f "$PKI/ca.pem" ]; then
  say "creating the development CA and the server certificate in $PKI"
  "$BIN/tramsyncctl" --pki "$PKI" ca init --name "TTYT khu vực Bình Xuyên (demo CA)" >/dev/null
  "$BIN/tramsyncctl" --pki "$PKI" ca issue-server localhost --san "DNS:localhost,IP:127.0.0.1" >/dev/null
fi

for entry in "${STATIONS[@]}"; do
  code=${entry%%|*}; commune=${entry#*|}
  dir=$RUN/stations/$code
  if [ ! -f "$dir/station.pem" ]; then
    say "enrolling station $code ($commune)"
    rm -rf "$dir"
    "$BIN/tramsync" -d "$dir" init --station "$code" --commune "$commune" \
      --server "127.0.0.1:$PORT" --server-name localhost >/dev/null
    "$BIN/tramsyncctl" --pki "$PKI" ca issue-station "$code" --commune "$commune" \
      --csr "$dir/station.csr" --out "$dir/issued.pem" >/dev/null
    "$BIN/tramsync" -d "$dir" enroll --cert "$dir/issued.pem" --ca "$PKI/ca.pem" >/dev/null
  fi
done

cat >"$RUN/district/tramsyncd.conf" <<EOF
; written by make run (tests/demo/run-demo.sh)
[server]
listen = 127.0.0.1:$PORT
data_dir = $RUN/district
stats_interval = 30s
[district]
name = Trung tâm Y tế khu vực Bình Xuyên
parent_body = Sở Y tế tỉnh Phú Thọ
place = Bình Xuyên
signer = TTYT-PGD
signer_authority = KT. GIÁM ĐỐC
[admin]
listen = 127.0.0.1:$ADMIN_PORT
console_dir = $ROOT/server/console
targets_every = 5m
[tls]
ca = $PKI/ca.pem
cert = $PKI/server.pem
key = $PKI/server.key
crl = $PKI/crl.pem
${TS_DEMO_DISTRICT_CONF:-}
EOF

if ! "$BIN/tramsyncd" -c "$RUN/district/tramsyncd.conf" --check-config >/dev/null; then
  "$BIN/tramsyncd" -c "$RUN/district/tramsyncd.conf" --check-config
  exit 1
fi

if [ ! -f "$RUN/.demo-admin" ]; then
  say "creating the console account '$ADMIN_USER'"
  TRAMSYNC_PASSWORD=$ADMIN_PASSWORD "$BIN/tramsyncd" -c "$RUN/district/tramsyncd.conf" \
    --add-user "$ADMIN_USER" --role admin >/dev/null
  touch "$RUN/.demo-admin"
fi

trap stop_all INT TERM
say "starting tramsyncd on 127.0.0.1:$PORT (log: $RUN/district/tramsyncd.log)"
rm -f "$RUN/district/port"
"$BIN/tramsyncd" -c "$RUN/district/tramsyncd.conf" --port-file "$RUN/district/port" \
  >>"$RUN/district/tramsyncd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$RUN/district/port" ] && break; sleep 0.1; done
if [ ! -s "$RUN/district/port" ]; then
  echo "tramsyncd did not start; its log says:"; tail -5 "$RUN/district/tramsyncd.log"
  kill "${PIDS[0]}" 2>/dev/null || true
  exit 1
fi

for entry in "${STATIONS[@]}"; do
  code=${entry%%|*}
  say "starting the agent of $code (log: $RUN/stations/$code/agent.log)"
  "$BIN/tramsync" -d "$RUN/stations/$code" run >>"$RUN/stations/$code/agent.log" 2>&1 &
  PIDS+=($!)
done

export TRAMSYNC_ADMIN_URL=https://localhost:$ADMIN_PORT TRAMSYNC_CA=$PKI/ca.pem \
       TRAMSYNC_USER=$ADMIN_USER TRAMSYNC_PASSWORD=$ADMIN_PASSWORD
# the province's plan is data the district loads (docs/PLANS.md): Bình Định's
# (seed 003) is the demo's, loaded once (a later version loaded by hand stays)
if [ ! -f "$RUN/.demo-plan-loaded" ]; then
  say "loading the provincial plan (server/data/plans/binh-dinh-2024.json)"
  "$BIN/tramsyncctl" --pki "$PKI" plan load "$ROOT/server/data/plans/binh-dinh-2024.json" >/dev/null
  touch "$RUN/.demo-plan-loaded"
fi
if [ ! -f "$RUN/.demo-district-loaded" ]; then
  say "loading the district's directory (stations, populations, villages, drug catalogue)"
  ctl() { "$BIN/tramsyncctl" --pki "$PKI" record put "$@" >/dev/null; }
  pop=(12450 9870 8340 11120); nv=(4 3 3 4); short=(BN BX BT XL); i=0
  phone=(0210381101 0210381102 0210381103 0210381104)
  # neighbouring communes (the cluster rule counts a commune with its neighbours)
  nb=(binhxuyen binhnguyen,binhtuyen binhxuyen,xuanlang binhtuyen)
  for entry in "${STATIONS[@]}"; do
    code=${entry%%|*}; commune=${entry#*|}
    ctl stations "$code" name="Trạm Y tế xã $commune" commune="$commune" province="Phú Thọ" \
      population="${pop[$i]}" villages="${nv[$i]}" head="Trạm trưởng" \
      phone="${phone[$i]}" neighbours="${nb[$i]}" active=true
    # the commune's population of the year, with its source: the targets' "dân số"
    ctl commune_population "$code-$(date +%Y)" station="$code" year="$(date +%Y)" population="${pop[$i]}" \
      source="Chi cục Thống kê khu vực (số liệu mẫu)" as_of="$(date +%Y)-01-01"
    for v in $(seq 1 "${nv[$i]}"); do
      ctl villages "${short[$i]}-V$v" station="$code" name="Thôn $v, xã $commune" population=$((pop[i] / nv[i]))
    done
    i=$((i + 1))
  done
  ctl drug_catalog PARA500 name="Paracetamol 500mg" active_ingredient=Paracetamol unit=viên essential=true
  ctl drug_catalog AMOX500 name="Amoxicillin 500mg" active_ingredient=Amoxicillin unit=viên essential=true
  ctl drug_catalog ORS name="Oresol (ORS)" unit=gói essential=true
  ctl drug_catalog VITA name="Vitamin A 200.000 IU" unit=viên essential=true
  ctl drug_catalog CLORAMIN name="Cloramin B" unit=kg essential=false
  touch "$RUN/.demo-district-loaded"
fi

if [ ! -f "$RUN/.demo-data-loaded" ]; then
  say "loading the demo data set at each station (residents, visits, children's growth, staff, a dengue case)"
  for entry in "${STATIONS[@]}"; do
    code=${entry%%|*}
    for table in residents encounters child_growth staff village_health_workers commune_criteria disease_cases; do
      f=$DATA/$code-$table.csv
      [ -f "$f" ] || continue
      "$BIN/tramsync" -d "$RUN/stations/$code" import "$f" --table "$table" 2>/dev/null | sed "s/^/   $code: /"
    done
  done
  touch "$RUN/.demo-data-loaded"
fi

if [ ! -f "$RUN/.demo-epidemic-loaded" ]; then
  # the Dịch bệnh page: a dengue cluster in two neighbouring communes over the
  # last week (cases diagnosed days ago reach the district late, today's and
  # yesterday's on time), and Bình Nguyên declaring the outbreak
  say "loading a dengue cluster at Bình Nguyên and Bình Xuyên, and an outbreak report"
  ago() { TZ=Asia/Ho_Chi_Minh date -d "-$1 days" +%F; } # the district's days, not this machine's
  dengue() { # station id resident village onset-days-ago diagnosis-days-ago classification lab
    "$BIN/tramsync" -d "$RUN/stations/$1" put disease_cases "$2" resident_id="$3" village_id="$4" \
      disease="Sốt xuất huyết Dengue" icd10=A97 group=B onset_date="$(ago "$5")" diagnosis_date="$(ago "$6")" \
      classification="$7" lab_result="$8" outcome=under_treatment >/dev/null
  }
  # one case in each of two neighbouring communes makes the cluster (2 cases
  # within 14 days) span both: Bình Xuyên's imported data, then Bình Nguyên's
  # first case reach the district before Bình Xuyên's new cases
  pushed() { # station: wait (bounded) until the district has all it wrote
    for _ in $(seq 1 60); do
      "$BIN/tramsync" -d "$RUN/stations/$1" --json status 2>/dev/null | grep -Eq '"pending_changes": ?0[,} ]' && return 0
      sleep 0.5
    done
  }
  pushed binhxuyen
  dengue binhnguyen BN-C001 BN-R003 BN-V2 9 7 confirmed "NS1 dương tính"
  pushed binhnguyen
  dengue binhxuyen BX-C002 BX-R006 BX-V2 8 6 confirmed "NS1 dương tính"
  dengue binhxuyen BX-C003 BX-R009 BX-V2 5 4 probable ""
  dengue binhxuyen BX-C004 BX-R011 BX-V1 2 1 suspected ""
  dengue binhnguyen BN-C002 BN-R007 BN-V2 4 3 confirmed "NS1 dương tính"
  dengue binhnguyen BN-C003 BN-R010 BN-V1 1 0 suspected ""
  "$BIN/tramsync" -d "$RUN/stations/binhnguyen" report --kind outbreak_detection \
    --subject "Phát hiện ổ dịch sốt xuất huyết Dengue tại thôn 2" \
    --body "3 ca sốt xuất huyết Dengue tại thôn 1 và thôn 2 trong 8 ngày, 2 ca NS1 dương tính; đã khoanh vùng, phun hóa chất diệt muỗi và vận động diệt lăng quăng." \
    --urgency khan --category prevention --disease "Sốt xuất huyết Dengue" --cases 3 --deaths 0 \
    --onset "$(ago 9)" --location "Thôn 2, xã Bình Nguyên" --by "BS. Nguyễn Thị Hằng" >/dev/null
  touch "$RUN/.demo-epidemic-loaded"
fi

if [ ! -f "$RUN/.demo-outbreak-loaded" ]; then
  # the outbreak's timeline: the district opens it from Bình Nguyên's report
  # (with its neighbour Bình Xuyên), sends instructions, Bình Xuyên acknowledges
  say "opening the dengue outbreak at Bình Nguyên and Bình Xuyên, with instructions"
  rid=$("$BIN/tramsync" -d "$RUN/stations/binhnguyen" --json list reports 2>/dev/null |
        grep -o '"id": *"binhnguyen-BC-[^"]*"' | head -1 | sed 's/.*"\(binhnguyen-BC-[^"]*\)"/\1/' || true)
  # English: the ids are read from its words ("outbreak OD-... opened", "notice TB-... sent")
  api() { "$BIN/tramsyncctl" --pki "$PKI" --lang en "$@"; }
  oid=""
  for _ in $(seq 1 40); do
    [ -n "$rid" ] && oid=$(api outbreak open "$rid" --stations binhxuyen 2>/dev/null | awk '/^outbreak /{print $2}') && [ -n "$oid" ] && break
    sleep 0.5
  done
  if [ -n "$oid" ]; then
    nid=$(api notice send --outbreak "$oid" --stations binhnguyen,binhxuyen --urgency khan --category prevention \
      --doc-type cong_van --subject "Hướng dẫn xử lý ổ dịch sốt xuất huyết Dengue tại Bình Nguyên, Bình Xuyên" \
      --body "Khoanh vùng ổ dịch, phun hóa chất diệt muỗi trong bán kính 200 m quanh nhà các ca bệnh; vận động diệt lăng quăng; giám sát ca sốt mới và báo cáo hằng ngày." \
      --responsible "Trạm trưởng trạm y tế xã" --task "Phun hóa chất, diệt lăng quăng, báo cáo ca mới hằng ngày" 2>/dev/null |
      awk '/^notice /{print $2}')
    for _ in $(seq 1 40); do
      [ -n "$nid" ] && "$BIN/tramsync" -d "$RUN/stations/binhxuyen" ack "$nid" --by "BS. Lê Văn Tâm" >/dev/null 2>&1 && break
      sleep 0.5
    done
    touch "$RUN/.demo-outbreak-loaded"
  else
    echo "   (the outbreak report has not reached the district yet: the next 'make run' opens it)"
  fi
fi

if [ ! -f "$RUN/.demo-people-loaded" ]; then
  # "rõ người" (issue 18): the TTYT's focal points and each commune's UBND in
  # the district's directory, each station's own staff at the station, and
  # the UBND officer of Bình Nguyên with an account of role commune
  say "loading the directory of focal points, and the account of the UBND of Bình Nguyên"
  ctl() { "$BIN/tramsyncctl" --pki "$PKI" record put "$@" >/dev/null; }
  ctl people TTYT-GD full_name="Nguyễn Văn Thành" position="Giám đốc" unit="TTYT khu vực Bình Xuyên" \
    unit_kind=ttyt roles=ttyt_director phone=0210381100
  ctl people TTYT-KSBT full_name="Trần Thị Thu" position="Trưởng khoa Kiểm soát bệnh tật" \
    unit="TTYT khu vực Bình Xuyên — Khoa KSBT" unit_kind=ttyt roles=ttyt_department_head phone=0210381109
  heads=("Nguyễn Thị Hằng" "Lê Văn Bình" "Phạm Thị Dung" "Hoàng Văn Lâm")
  epis=("Đỗ Văn Nam" "Vũ Thị Lan" "Bùi Văn Quang" "Đặng Thị Yến")
  ubnd=("Trịnh Văn Hải" "Ngô Thị Hương" "Lý Văn Tuấn" "Mai Thị Nga")
  short=(BN BX BT XL); i=0
  for entry in "${STATIONS[@]}"; do
    code=${entry%%|*}; commune=${entry#*|}
    ctl people "UB-${short[$i]}-PCT" full_name="${ubnd[$i]}" position="Phó Chủ tịch UBND xã (văn hóa - xã hội)" \
      unit="UBND xã $commune" unit_kind=ubnd station="$code" roles=ubnd_vice_chair
    "$BIN/tramsync" -d "$RUN/stations/$code" put station_people "${short[$i]}-NS-TT" full_name="${heads[$i]}" \
      position="Trạm trưởng" unit="Trạm Y tế xã $commune" roles=head >/dev/null
    "$BIN/tramsync" -d "$RUN/stations/$code" put station_people "${short[$i]}-NS-DICH" full_name="${epis[$i]}" \
      position="Cán bộ phụ trách dịch" unit="Trạm Y tế xã $commune" roles=epidemic_officer >/dev/null
    i=$((i + 1))
  done
  TRAMSYNC_NEW_PASSWORD=$ADMIN_PASSWORD "$BIN/tramsyncctl" user add ubnd-binhnguyen --role commune \
    --commune binhnguyen --full-name "Trịnh Văn Hải" >/dev/null
  touch "$RUN/.demo-people-loaded"
fi

if [ ! -f "$RUN/.demo-signer-loaded" ]; then
  # who signs the notices printed as official documents ([district] signer)
  "$BIN/tramsyncctl" --pki "$PKI" record put people TTYT-PGD full_name="Lê Văn Minh" position="Phó Giám đốc" \
    unit="TTYT khu vực Bình Xuyên" unit_kind=ttyt roles=ttyt_deputy_director phone=0210381101 >/dev/null
  touch "$RUN/.demo-signer-loaded"
fi
if [ ! -f "$RUN/.demo-calendar-loaded" ]; then
  # the calendar (issue 18): a monthly activity report due on the 5th of the
  # next month, a quarterly report, the weekly giao ban (every Monday: next
  # week's shows); three stations sent the last report already due, on time,
  # Xuân Lãng did not (late on the grid)
  say "loading the calendar: the monthly and quarterly reports, the weekly giao ban"
  tz() { TZ=Asia/Ho_Chi_Minh date "$@"; }
  first=$(tz +%Y-%m-01)
  # the last month whose report is past due (due the 5th of the month after);
  # the monthly report applies from that month
  if [ "$(tz +%-d)" -gt 5 ]; then month=$(tz -d "$first -1 month" +%Y-%m); else month=$(tz -d "$first -2 month" +%Y-%m); fi
  due=$(tz -d "$month-01 +1 month +4 days" +%F)
  ok=1
  for f in bc-hoat-dong-thang bc-quy giao-ban-tuan; do
    sed "s/\"active_from\": \"[0-9-]*\"/\"active_from\": \"$month-01\"/" "$DATA/calendar/$f.json" >"$RUN/district/duty.json"
    "$BIN/tramsyncctl" --pki "$PKI" calendar duty "$RUN/district/duty.json" >/dev/null || ok=0
  done
  rm -f "$RUN/district/duty.json"
  vals=('{"kham_benh":412,"tiem_chung_day_du":14,"quan_ly_tang_huyet_ap":236}'
        '{"kham_benh":318,"tiem_chung_day_du":11,"quan_ly_tang_huyet_ap":171}'
        '{"kham_benh":287,"tiem_chung_day_du":9,"quan_ly_tang_huyet_ap":158,"ghi_chu":"Thiếu 1 cán bộ nghỉ sinh"}')
  by=("Nguyễn Thị Hằng" "Lê Văn Bình" "Phạm Thị Dung")
  i=0
  for code in binhnguyen binhxuyen binhtuyen; do
    occ="BC-HOAT-DONG-THANG:$month"
    "$BIN/tramsync" -d "$RUN/stations/$code" put periodic_reports "$occ:$code" occurrence_id="$occ" \
      duty_id=BC-HOAT-DONG-THANG period="$month" values="${vals[$i]}" \
      submitted_at="$(tz -d "$due -$((3 - i)) days" +%F)T09:1${i}:00+07:00" submitted_by="${by[$i]}" >/dev/null || ok=0
    i=$((i + 1))
  done
  [ "$ok" = 1 ] && touch "$RUN/.demo-calendar-loaded"
fi

cat <<EOF

tramsync demo is running: the district server and 4 station agents, on loopback.
Each station writes to its own replica; its agent pushes within a second and stays
connected so the district's changes arrive at once.

The district console: https://localhost:$ADMIN_PORT/  (user $ADMIN_USER, password $ADMIN_PASSWORD;
the UBND of Bình Nguyên: user ubnd-binhnguyen, the same password, sees its commune only;
the certificate is the demo CA's: accept it, or import $PKI/ca.pem into the browser).

Try, in another terminal (from $ROOT):
  bin/tramsync -d run/stations/binhnguyen status
  bin/tramsync -d run/stations/binhnguyen put residents BN-R100 full_name="Lê Thị Mai" birth_date=1990-03-08 sex=female
  bin/tramsync -d run/stations/binhnguyen list residents --limit 3
  bin/tramsync -d run/stations/xuanlang conflicts
  bin/tramsyncctl --pki run/district/pki ca list
  bin/tramsync -d run/stations/xuanlang calendar
  TRAMSYNC_ADMIN_URL=https://localhost:$ADMIN_PORT TRAMSYNC_USER=$ADMIN_USER TRAMSYNC_PASSWORD=$ADMIN_PASSWORD \\
    bin/tramsyncctl --pki run/district/pki status
  ... notice send --subject "Công điện phòng chống sốt xuất huyết" --urgency hoa_toc --category prevention --to all
  tail -f run/district/tramsyncd.log
Stop one agent (kill its pid) to see a station go offline, then start it again with
  bin/tramsync -d run/stations/<code> run
and watch it catch up. Ctrl-C here stops everything cleanly.

EOF

while true; do
  sleep 10 &
  wait $! || true
  say "$(date +%H:%M:%S) station status"
  for entry in "${STATIONS[@]}"; do
    code=${entry%%|*}
    "$BIN/tramsync" -d "$RUN/stations/$code" status --brief 2>&1 | sed 's/^/   /'
  done
  if ! kill -0 "${PIDS[0]}" 2>/dev/null; then
    echo "tramsyncd stopped unexpectedly; its log says:"; tail -5 "$RUN/district/tramsyncd.log"
    stop_all
  fi
done
