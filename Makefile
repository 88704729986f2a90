# tramsync — build, test, soak, lint, bench, fuzz, run.
#
# Every target depends on `deps`, which installs the Debian packages the project
# needs when they are missing (idempotent). See docs/DEPENDENCIES.md for why each
# package is here.

SHELL := /bin/bash
.DEFAULT_GOAL := all

# ---------------------------------------------------------------- packages
DEB_BUILD := gcc make libc6-dev pkg-config libuv1-dev libsqlite3-dev \
             libmsgpack-dev libssl-dev libinih-dev libjansson-dev \
             libhttp-parser-dev libargon2-dev libsystemd-dev libzstd-dev openssl sqlite3 tzdata \
             libxlsxwriter-dev libpango1.0-dev libcairo2-dev fonts-dejavu-core
# poppler-utils (pdftotext) and unzip read back the reports to the province
DEB_TEST  := libcmocka-dev clang libclang-rt-14-dev procps faketime poppler-utils unzip
DEB_LINT  := cppcheck clang-tidy lintian binutils
# package-test: systemd-analyze checks the units, curl asks the installed daemon
DEB_PKGTEST := systemd curl
# the console's browser tests: Debian's Chromium (node and npm too, below,
# when the machine has no node of its own)
DEB_BROWSER := chromium
DEB_PKGS  := $(DEB_BUILD) $(DEB_TEST) $(DEB_LINT) $(DEB_PKGTEST) $(DEB_BROWSER)

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: deps
deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# ---------------------------------------------------------------- sources
SRC_LIB     := $(wildcard common/*.c proto/*.c)
GEN_SRC     := build/gen/schema_tables.c build/gen/diseases.c \
               build/gen/who_weianthro.c build/gen/who_lenanthro.c build/gen/zstd_dict.c
SRC_SERVER  := $(filter-out server/main.c,$(wildcard server/*.c server/admin/*.c))
SRC_CTL     := $(filter-out server/ctl/main.c,$(wildcard server/ctl/*.c))
SRC_CLIENT  := $(filter-out client/main.c,$(wildcard client/*.c))
SRC_TESTSUP := $(wildcard tests/support/*.c)
TEST_SRCS   := $(sort $(wildcard tests/unit/test_*.c tests/integration/test_*.c))
BENCH_SRCS  := $(sort $(wildcard tests/bench/bench_*.c))
FUZZ_SRCS   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

# the quarterly report's PDF: Pango on cairo (docs/DEPENDENCIES.md)
# (system headers: -isystem, so that -Werror judges only ours)
PANGO_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags pangocairo 2>/dev/null))
PANGO_LIBS   = $(shell pkg-config --libs pangocairo 2>/dev/null)

LIBS = -luv -lsqlite3 -lmsgpackc -lssl -lcrypto -linih -ljansson \
        -lhttp_parser -largon2 -lsystemd -lzstd -lxlsxwriter $(PANGO_LIBS) -lm -lpthread

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wvla
BASE     := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. -Ibuild/gen $(WARN) -g
HARDEN      := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
REL_CFLAGS  := $(BASE) -O2 $(HARDEN)
REL_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS := $(BASE) -O1 $(ASAN_FLAGS) -DTS_TESTING=1
FUZZ_CFLAGS := $(BASE) -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -DTS_FUZZING=1

# $(call build_flavor,NAME,CC,CFLAGS-VARIABLE,LDFLAGS-VARIABLE): names, not values,
# because the flags themselves hold commas.
define build_flavor
build/$(1)/%.o: %.c | deps $(GEN_SRC)
	@mkdir -p $$(@D)
	@echo "CC[$(1)] $$<"
	@$(2) $$($(3)) -MMD -MP -c $$< -o $$@

build/$(1)/libtramsync.a: $(patsubst %.c,build/$(1)/%.o,$(SRC_LIB) $(GEN_SRC))
	@ar rcs $$@ $$^
build/$(1)/libtsserver.a: $(patsubst %.c,build/$(1)/%.o,$(SRC_SERVER)) build/$(1)/libtramsync.a
	@ar rcs $$@ $(patsubst %.c,build/$(1)/%.o,$(SRC_SERVER))
build/$(1)/libtsclient.a: $(patsubst %.c,build/$(1)/%.o,$(SRC_CLIENT)) build/$(1)/libtramsync.a
	@ar rcs $$@ $(patsubst %.c,build/$(1)/%.o,$(SRC_CLIENT))
build/$(1)/libtsctl.a: $(patsubst %.c,build/$(1)/%.o,$(SRC_CTL)) build/$(1)/libtramsync.a
	@ar rcs $$@ $(patsubst %.c,build/$(1)/%.o,$(SRC_CTL))

build/$(1)/bin/tramsyncd: build/$(1)/server/main.o build/$(1)/libtsserver.a build/$(1)/libtramsync.a
	@mkdir -p $$(@D)
	@echo "LD[$(1)] $$@"
	@$(2) $$($(3)) -o $$@ $$^ $$($(4)) $(LIBS)
build/$(1)/bin/tramsync: build/$(1)/client/main.o build/$(1)/libtsclient.a build/$(1)/libtramsync.a
	@mkdir -p $$(@D)
	@echo "LD[$(1)] $$@"
	@$(2) $$($(3)) -o $$@ $$^ $$($(4)) $(LIBS)
build/$(1)/bin/tramsyncctl: build/$(1)/server/ctl/main.o build/$(1)/libtsctl.a build/$(1)/libtramsync.a
	@mkdir -p $$(@D)
	@echo "LD[$(1)] $$@"
	@$(2) $$($(3)) -o $$@ $$^ $$($(4)) $(LIBS)
endef

build/%/server/ts_pdf.o: REL_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_pdf.o: ASAN_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_pdf.o: FUZZ_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_report_pdf.o: REL_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_report_pdf.o: ASAN_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_report_pdf.o: FUZZ_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_notice_pdf.o: REL_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_notice_pdf.o: ASAN_CFLAGS += $(PANGO_CFLAGS)
build/%/server/ts_notice_pdf.o: FUZZ_CFLAGS += $(PANGO_CFLAGS)
$(eval $(call build_flavor,release,gcc,REL_CFLAGS,REL_LDFLAGS))
$(eval $(call build_flavor,asan,gcc,ASAN_CFLAGS,ASAN_FLAGS))

-include $(shell find build -name '*.d' 2>/dev/null)

BINS := tramsyncd tramsync tramsyncctl

# Data built into the binaries: the default table registry (schemas as data,
# docs/TABLES.md), the default disease catalogue, the WHO growth standards.
# The provincial plan is not: the district loads it (docs/PLANS.md). $(call embed,SYMBOL)
define embed
	@mkdir -p $(@D)
	@{ echo '/* generated from $< by the Makefile; do not edit */'; \
	   echo '#include <stddef.h>'; \
	   echo 'const unsigned char $(1)[] = {'; \
	   od -An -v -tx1 $< | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '0x00};'; \
	   echo 'const size_t $(1)_len = sizeof $(1) - 1;'; } > $@.tmp
	@mv $@.tmp $@
endef

build/gen/schema_tables.c: common/schema/tables.json
	$(call embed,ts_schema_tables_json)
build/gen/diseases.c: server/data/diseases.tsv
	$(call embed,ts_diseases_tsv)
# frame compression's dictionary (proto/zdict/make-dict.py says how it was made)
build/gen/zstd_dict.c: proto/zdict/tramsync-1.dict
	$(call embed,ts_zstd_dict_1)
# the WHO Child Growth Standards (server/data/who/README.md)
build/gen/who_weianthro.c: server/data/who/weianthro.txt
	$(call embed,ts_who_weianthro)
build/gen/who_lenanthro.c: server/data/who/lenanthro.txt
	$(call embed,ts_who_lenanthro)

# ---------------------------------------------------------------- build
.PHONY: all
all: $(addprefix bin/,$(BINS))

bin/%: build/release/bin/% | deps
	@mkdir -p bin
	@cp $< $@.tmp && mv -f $@.tmp $@

# ---------------------------------------------------------------- tests
TEST_BINS := $(patsubst %.c,build/asan/%,$(TEST_SRCS))
ASAN_BINS := $(addprefix build/asan/bin/,$(BINS))

build/asan/tests/%: build/asan/tests/%.o $(patsubst %.c,build/asan/%.o,$(SRC_TESTSUP)) \
                    build/asan/libtsserver.a build/asan/libtsclient.a build/asan/libtsctl.a build/asan/libtramsync.a
	@echo "LD[asan] $@"
	@gcc $(ASAN_CFLAGS) -o $@ $^ $(ASAN_FLAGS) -lcmocka $(LIBS)

# The console in headless Chromium (tests/browser/run.sh): it runs the demo,
# so it needs the release programs in bin/. ONLY=browser runs it alone.
# test_hardening runs the release daemon too, where memory given back to the
# system is measured (ASan's allocator keeps its own); test_agent_faults runs
# the release agent under libfaketime (a clock hours ahead; ASan objects to
# a preloaded library), test_district_day the release daemon under it (its
# clock just before UTC midnight), test_station_day the release station
# command line under it (a PC on UTC past the district's midnight),
# test_render_off_store the release daemon with a gate preloaded in front of
# its document builders.
BROWSER_TEST := tests/browser/run.sh
SELECTED_TESTS := $(if $(ONLY),$(filter $(addprefix %/,$(ONLY)),$(TEST_BINS)) \
                    $(if $(filter browser,$(ONLY)),$(BROWSER_TEST)),$(TEST_BINS) $(BROWSER_TEST))
TEST_NEEDS := $(filter-out $(BROWSER_TEST),$(SELECTED_TESTS)) \
              $(if $(filter $(BROWSER_TEST) %/test_hardening %/test_agent_faults %/test_district_day %/test_station_day %/test_render_off_store,$(SELECTED_TESTS)),$(addprefix bin/,$(BINS)))

# the gate test_render_off_store preloads (tests/support/preload/ts_gate.c)
build/preload/ts_gate.so: tests/support/preload/ts_gate.c | deps
	@mkdir -p $(@D)
	@echo "CC[preload] $<"
	@gcc -std=c11 $(WARN) -O1 -fPIC -shared -o $@ $< -ldl
build/asan/tests/integration/test_render_off_store: | build/preload/ts_gate.so

.PHONY: test test-build soak
test-build: $(TEST_BINS) $(ASAN_BINS) | deps
test: $(TEST_NEEDS) $(ASAN_BINS) | deps
	@TS_BIN_DIR=$(CURDIR)/build/asan/bin TS_RELEASE_BIN_DIR=$(CURDIR)/bin TS_SOURCE_DIR=$(CURDIR) \
	  tests/run-tests.sh $(SELECTED_TESTS)

# The power-cut test at length: 20,000 cuts instead of the 2,000 of `make test`
# (a few minutes; TS_TEST_TIMEOUT, in seconds, bounds it).
soak: build/asan/tests/unit/test_powercut | deps
	@TS_POWERCUT_ROUNDS=20000 TS_TEST_TIMEOUT=$${TS_TEST_TIMEOUT:-3600} TS_BIN_DIR=$(CURDIR)/build/asan/bin \
	  TS_SOURCE_DIR=$(CURDIR) tests/run-tests.sh build/asan/tests/unit/test_powercut

# ---------------------------------------------------------------- lint
LINT_SRCS := $(SRC_LIB) $(wildcard server/*.c server/admin/*.c server/ctl/*.c client/*.c)
.PHONY: lint
lint: $(GEN_SRC) | deps
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem --library=posix --library=sqlite3 --library=openssl \
	  --library=tests/lint/jansson.cfg -I. -Ibuild/gen \
	  -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(LINT_SRCS)
	clang-tidy --quiet --config-file=tests/lint/clang-tidy.yaml $(LINT_SRCS) -- $(BASE) $(PANGO_CFLAGS) 2>/dev/null
	@# the console's modules parse (a syntax error stops the whole console)
	@for f in server/console/*.js; do node --input-type=module --check < $$f || { echo "in $$f"; exit 1; }; done
	@echo "lint: clean"

# ---------------------------------------------------------------- bench
BENCH_BINS := $(patsubst %.c,build/release/%,$(BENCH_SRCS))
build/release/tests/bench/%: build/release/tests/bench/%.o $(patsubst %.c,build/release/%.o,$(SRC_TESTSUP)) \
                       build/release/libtsserver.a build/release/libtsclient.a build/release/libtramsync.a
	@echo "LD[release] $@"
	@gcc $(REL_CFLAGS) -o $@ $^ -lcmocka $(LIBS)

.PHONY: bench
bench: $(BENCH_BINS) $(addprefix build/release/bin/,$(BINS)) | deps
	@set -e; for b in $(if $(ONLY),$(filter %bench_$(ONLY),$(BENCH_BINS)),$(BENCH_BINS)); do \
	  echo "== $$(basename $$b)"; TS_BIN_DIR=$(CURDIR)/build/release/bin TS_SOURCE_DIR=$(CURDIR) $$b; done

# ---------------------------------------------------------------- fuzz
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_TIME ?= 60
build/fuzz/obj/%.o: %.c | deps $(GEN_SRC)
	@mkdir -p $(@D)
	@clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/%: tests/fuzz/%.c $(patsubst %.c,build/fuzz/obj/%.o,$(SRC_LIB) $(GEN_SRC)) | deps
	@mkdir -p $(@D)
	@echo "LD[fuzz] $@"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS) | deps
	@tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BINS)
fuzz-smoke: $(FUZZ_BINS) | deps
	@tests/fuzz/run.sh $(or $(SMOKE_TIME),10) $(FUZZ_BINS)

# ---------------------------------------------------------------- run
.PHONY: run
run: all | deps
	@tests/demo/run-demo.sh

# ---------------------------------------------------------------- install, package
VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
DOCS       := README.md $(wildcard docs/*.md)

.PHONY: install
install: all | deps
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/tramsync/console $(DESTDIR)$(PREFIX)/share/doc/tramsync $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/tramsync $(DESTDIR)$(PREFIX)/share/tramsync/plans
	install -m 0755 -s bin/tramsyncd bin/tramsync bin/tramsyncctl $(DESTDIR)$(PREFIX)/bin/
	gzip -9n < server/packaging/man/tramsync.1 > $(DESTDIR)$(PREFIX)/share/man/man1/tramsync.1.gz
	gzip -9n < server/packaging/man/tramsyncd.8 > $(DESTDIR)$(PREFIX)/share/man/man8/tramsyncd.8.gz
	gzip -9n < server/packaging/man/tramsyncctl.8 > $(DESTDIR)$(PREFIX)/share/man/man8/tramsyncctl.8.gz
	if [ -d server/console ]; then cp -r server/console/. $(DESTDIR)$(PREFIX)/share/tramsync/console/; \
	  chmod -R u=rwX,go=rX $(DESTDIR)$(PREFIX)/share/tramsync/console; fi
	@# example plan files (docs/PLANS.md): loaded only when the district asks
	install -m 0644 server/data/plans/*.json $(DESTDIR)$(PREFIX)/share/tramsync/plans/
	install -m 0644 $(DOCS) $(DESTDIR)$(PREFIX)/share/doc/tramsync/
	sed 's|/usr/bin/|$(PREFIX)/bin/|g' server/packaging/tramsyncd.service > $(DESTDIR)$(UNITDIR)/tramsyncd.service
	sed 's|/usr/bin/|$(PREFIX)/bin/|g' server/packaging/tramsync.service > $(DESTDIR)$(UNITDIR)/tramsync.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tramsyncd.service $(DESTDIR)$(UNITDIR)/tramsync.service
	@# the district configuration, documented line by line, with the package's paths
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/tramsync/tramsyncd.conf ]; then \
	  bin/tramsyncd --set server.listen=0.0.0.0:7443 --set server.data_dir=/var/lib/tramsync \
	    --set server.database=/var/lib/tramsync/district.db \
	    --set tls.ca=$(SYSCONFDIR)/tramsync/pki/ca.pem --set tls.cert=$(SYSCONFDIR)/tramsync/pki/server.pem \
	    --set tls.key=$(SYSCONFDIR)/tramsync/pki/server.key --set tls.crl=$(SYSCONFDIR)/tramsync/pki/crl.pem \
	    --set admin.console_dir=$(PREFIX)/share/tramsync/console --print-config \
	    > $(DESTDIR)$(SYSCONFDIR)/tramsync/tramsyncd.conf; \
	  chmod 0644 $(DESTDIR)$(SYSCONFDIR)/tramsync/tramsyncd.conf; fi

DEB      := build/tramsync_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null || echo amd64).deb
DEBROOT  := build/deb/root

.PHONY: deb
deb: all | deps
	rm -rf build/deb
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(CURDIR)/$(DEBROOT)
	install -d $(DEBROOT)/DEBIAN
	install -m 0644 server/packaging/debian/copyright $(DEBROOT)/usr/share/doc/tramsync/copyright
	gzip -9n < server/packaging/debian/changelog > $(DEBROOT)/usr/share/doc/tramsync/changelog.gz
	install -m 0755 server/packaging/debian/postinst server/packaging/debian/prerm server/packaging/debian/postrm \
	  $(DEBROOT)/DEBIAN/
	install -m 0644 server/packaging/debian/conffiles $(DEBROOT)/DEBIAN/
	@deps=$$(for b in bin/tramsyncd bin/tramsync bin/tramsyncctl; do objdump -p $$b | awk '/NEEDED/ {print $$2}'; done \
	  | sort -u | while read lib; do path=$$(ldconfig -p | awk -v l=$$lib '$$1 == l {print $$NF; exit}'); \
	  [ -n "$$path" ] && { dpkg -S "$$path" 2>/dev/null || dpkg -S "$$(readlink -f $$path)" 2>/dev/null \
	    || dpkg -S "/usr$$path" 2>/dev/null; } | head -1 | cut -d: -f1; done | sort -u \
	  | while read pkg; do echo "$$pkg (>= $$(dpkg-query -W -f='$${Version}' $$pkg | sed 's/-[^-]*$$//'))"; done \
	  | paste -sd, - | sed 's/,/, /g'); \
	size=$$(du -sk --exclude=DEBIAN $(DEBROOT) | cut -f1); \
	sed -e "s|@VERSION@|$(VERSION)|" -e "s|@ARCH@|$$(dpkg --print-architecture)|" -e "s|@SIZE@|$$size|" \
	    -e "s|@DEPENDS@|$$deps|" server/packaging/debian/control.in > $(DEBROOT)/DEBIAN/control
	cd $(DEBROOT) && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z \
	  | xargs -0 md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEBROOT) $(DEB) >/dev/null
	@echo "built $(DEB)"

.PHONY: package-test
package-test: deb | deps
	tests/package/test-package.sh $(DEB)

# ---------------------------------------------------------------- misc
.PHONY: clean
clean:
	rm -rf build bin

.SECONDARY:
