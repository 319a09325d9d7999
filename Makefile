# rvkit - the one entry point.
#   make            build librv and the tools (build/bin)
#   make check      install what is missing, run every suite, print "N passed, N failed"
#   make demo       start a relay on loopback and run a scripted group chat
#                   (installs only the build libraries and ffmpeg)
#   make bench      benchmarks against the anchors (prints ratios; not part of check)
#   make deps       install every package that build, check, demo and bench need
#   make fuzz       build the libFuzzer harnesses (clang)
#   make install    PREFIX=/usr/local: binaries, man pages, completions
#   make docs       regenerate man OPTIONS sections and completions from the option tables
#   make checksrc   check the source conventions (scripts/checksrc.sh; part of make check)
#   make SANITIZE=1 ASan+UBSan build (into build-san/)
#   make CC=clang   build with clang (into build-clang/)

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

ifeq ($(SANITIZE),1)
O ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1 -g
else
ifeq ($(CC),clang)
O ?= build-clang
else
O ?= build
endif
SAN :=
OPT := -O2 -g
endif

PKGS := libuv libcjson openssl hiredis
MEDIA_PKGS := libavdevice libavformat libavcodec libswscale libavutil
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(MEDIA_PKGS) 2>/dev/null)
# FFmpeg is not linked: lib/media.c loads it when media is first used
LIBS_rvsend := -ldl
LIBS_rvrecv := -ldl
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS ?=
CFLAGS += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-Ilib $(PKG_CFLAGS) $(SAN) -DRV_VERSION='"$(VERSION)"'
LDLIBS := $(PKG_LIBS) -lwslay -lhttp_parser -lsrtp2 -lz -lm
# libsrtp2 built on NSS (Debian's): lib/srtp.c opens NSS itself before libsrtp2 does (see init()
# there), so it includes nss.h and the tools link libnss3, which libsrtp2 pulls in anyway.
SRTP_NSS := $(shell pkg-config --static --libs libsrtp2 2>/dev/null | grep -q -- -lnss3 && echo 1)
ifeq ($(SRTP_NSS),1)
SRTP_NSS_CFLAGS := -DRV_SRTP_NSS $(shell pkg-config --cflags nss 2>/dev/null)
LDLIBS += -lnss3
endif
LDFLAGS += $(SAN)

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
TOOLS := rvserver rvgroup rvsend rvrecv rvturn rvsignal
BINS := $(TOOLS:%=$(O)/bin/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(O)/bench/%)

# Header dependencies: every compile writes OUTPUT.d next to its output (-MMD -MP: the headers
# and #included .c files it read, each also as an empty target so a removed header is no error).
DEPFLAGS = -MMD -MP -MT $@ -MF $@.d
TOOL_OBJ := $(patsubst %.c,$(O)/%.o,$(wildcard $(TOOLS:%=cmd/%/*.c)))
WEB_TOOLS := rvsignal rvserver    # they serve a room page (web/TOOL)
DEPS := $(addsuffix .d,$(LIB_OBJ) $(TOOL_OBJ) $(WEB_TOOLS:%=$(O)/gen/web_%.o) $(UNITS) $(BENCH_BINS))

all: $(O)/librv.a $(BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(O)/librv.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

define tool_rule
$(O)/bin/$(1): $(patsubst %.c,$(O)/%.o,$(wildcard cmd/$(1)/*.c)) $(O)/librv.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $$(LIBS_$(1))
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# rvsignal and rvserver serve their room page (web/TOOL) and the shared
# assets (web/shared) from their binaries.
WEB_SHARED := $(sort $(wildcard web/shared/*))
$(WEB_TOOLS:%=$(O)/gen/web_%.c): $(O)/gen/web_%.c: $(wildcard web/*/*) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	scripts/embed-web.sh $@ $(sort $(wildcard web/$*/*)) $(WEB_SHARED)
$(WEB_TOOLS:%=$(O)/gen/web_%.o): $(O)/gen/web_%.o: $(O)/gen/web_%.c
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(O)/bin/rvsignal: $(O)/gen/web_rvsignal.o
$(O)/bin/rvserver: $(O)/gen/web_rvserver.o

$(O)/tests/%: tests/unit/%.c $(O)/librv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(O)/librv.a $(LDLIBS) -lcmocka

$(O)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)
# mrelay builds its STUN/TURN requests with librv; wload its STUN, DTLS and SRTP; castsim runs
# the live-stream engine.
$(O)/bench/mrelay $(O)/bench/wload $(O)/bench/castsim: $(O)/bench/%: bench/%.c $(O)/librv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(O)/librv.a $(LDLIBS)

$(O)/lib/srtp.o $(O)/tests/test_srtp: CFLAGS += $(SRTP_NSS_CFLAGS)
build-fuzz/obj/lib/srtp.o: FUZZ_CFLAGS += $(SRTP_NSS_CFLAGS)
# test_wsdp reads captured SDP offers from tests/unit/data/wsdp.
$(O)/tests/test_wsdp: CFLAGS += -DRV_TEST_DATA='"$(CURDIR)/tests/unit/data"'

# whip.bats' WHEP viewers are bench/wload's
units: $(UNITS) $(O)/bench/wload
bench-bins: $(BENCH_BINS)

# libFuzzer harnesses: always clang, ASan+UBSan, their own object tree.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-Ilib $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -DRV_VERSION='"$(VERSION)"'
FUZZ_LIB_OBJ := $(filter-out build-fuzz/obj/lib/media.o build-fuzz/obj/lib/sink.o build-fuzz/obj/lib/av.o,$(LIB_SRC:%.c=build-fuzz/obj/%.o))
.PRECIOUS: build-fuzz/obj/%.o
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<
# A harness of a tool's code links that tool's own files (the real code, never
# copies) and provides the narrow interface they reach the rest through.
FUZZ_TOOL_OBJ_fuzz_relay := $(addprefix build-fuzz/obj/cmd/rvserver/,relay.o relay_ep.o relay_stats.o)
FUZZ_TOOL_OBJ_fuzz_signal := $(addprefix build-fuzz/obj/cmd/rvsignal/,rooms.o auth.o)
FUZZ_TOOL_OBJ_fuzz_rvrecv := $(addprefix build-fuzz/obj/cmd/rvrecv/,files.o app.o)
FUZZ_TOOL_OBJ := $(FUZZ_TOOL_OBJ_fuzz_relay) $(FUZZ_TOOL_OBJ_fuzz_signal) $(FUZZ_TOOL_OBJ_fuzz_rvrecv)
build-fuzz/fuzz_relay: $(FUZZ_TOOL_OBJ_fuzz_relay)
build-fuzz/fuzz_signal: $(FUZZ_TOOL_OBJ_fuzz_signal)
build-fuzz/fuzz_rvrecv: $(FUZZ_TOOL_OBJ_fuzz_rvrecv)
# fuzz_p2pnode makes the nodes' DTLS key and context once (5 ms each under ASan).
FUZZ_LDFLAGS_fuzz_p2pnode := -Wl,--wrap=rv_dtls_key_p256,--wrap=rv_dtls_ctx_new,--wrap=rv_dtls_ctx_free
build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_TOOL_OBJ_$*) $(FUZZ_LIB_OBJ) \
		$(FUZZ_LDFLAGS_$*) $(LDLIBS)
fuzz: $(FUZZERS)
FUZZ_DEPS := $(addsuffix .d,$(FUZZ_LIB_OBJ) $(FUZZ_TOOL_OBJ) $(FUZZERS))

# An output whose .d is missing (a build tree from before the .d files) is rebuilt once.
DEPS_FOUND := $(wildcard $(DEPS) $(FUZZ_DEPS))
$(patsubst %.d,%,$(filter-out $(DEPS_FOUND),$(DEPS) $(FUZZ_DEPS))): FORCE
FORCE:
include $(DEPS_FOUND)

deps:
	@scripts/deps.sh

check:
	@scripts/check.sh

checksrc:
	@scripts/checksrc.sh

demo:
	@scripts/deps.sh --demo --quiet-if-ok
	@$(MAKE) --no-print-directory all >/dev/null
	@scripts/demo.sh

bench:
	@scripts/deps.sh --bench --quiet-if-ok
	@$(MAKE) --no-print-directory all bench-bins >/dev/null
	@rc=0; for b in bench/run.sh bench/xfer.sh bench/turn.sh bench/signal.sh bench/relay.sh bench/encode.sh bench/webrtc.sh bench/latency.sh bench/p2p.sh bench/p2pobj.sh bench/p2pcast.sh bench/p2pcast20.sh; do \
		[ -x $$b ] || continue; $$b || rc=1; done; exit $$rc

docs: all
	@scripts/gen-docs.sh $(O)/bin

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man7 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	for t in $(TOOLS); do \
		install -m 644 completions/$$t.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
		install -m 644 completions/_$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; \
		install -m 644 completions/$$t.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done

clean:
	rm -rf build build-san build-clang build-fuzz

.PHONY: all units bench-bins fuzz deps check checksrc demo bench docs install clean FORCE
.DELETE_ON_ERROR:
