#!/usr/bin/env bash
# check.sh - what `make check` runs: install what is missing, check the source
# conventions (scripts/checksrc.sh), build with gcc and clang, then unit
# (cmocka), CLI (bats, real processes on 127.0.0.1; meanwhile, at the
# lowest priority, the fuzz and ASan builds, then a short fuzz pass),
# browsers, and the unit and CLI suites again under ASan+UBSan.
# Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-6}
JOBS=${JOBS:-2}
pass=0 fail=0 skip=0
failed=()
log=$(mktemp -d /tmp/rvkit-check.XXXXXX)

step() { printf '== %s (%s)\n' "$*" "$(date +%T)"; }
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); failed+=("$1"); printf 'FAILED: %s\n' "$1"; }

# Count a TAP stream: "ok N", "not ok N", and skips: "ok N # skip" (bats)
# or "not ok N # SKIP" (cmocka).
tap() {
	local name=$1 file=$2 p f s ns
	p=$(grep -cE '^ok [0-9]+' "$file" || true)
	s=$(grep -cE '^ok [0-9]+.*# (skip|SKIP)' "$file" || true)
	ns=$(grep -cE '^not ok [0-9]+ # (skip|SKIP)' "$file" || true)
	f=$(($(grep -cE '^not ok [0-9]+' "$file" || true) - ns))
	p=$((p - s)); s=$((s + ns))
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed+=("$name:")
		# each failure with the diagnostics that follow it (bats: "# " lines),
		# at most 25 lines a failure, so that a CI log says why
		awk '/^not ok [0-9]+ # (skip|SKIP)/ { n = 0; next }
			/^not ok/ { n = 25; print "  " $0; next }
			/^(ok|not ok) / { n = 0 }
			n > 0 && /^#/ { print "    " $0; n-- }' "$file"
		grep -E '^not ok' "$file" | grep -vE '^not ok [0-9]+ # (skip|SKIP)' | sed "s/^/$name: /" >>"$log/failures"
	fi
	printf '%s: %d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
}

step "dependencies"
scripts/deps.sh --check --quiet-if-ok || { echo "0 passed, 1 failed"; exit 1; }

step "source conventions (scripts/checksrc.sh)"
if scripts/checksrc.sh >"$log/checksrc.log" 2>&1; then ok; tail -1 "$log/checksrc.log"; else cat "$log/checksrc.log"; bad "checksrc"; fi

step "build (gcc)"
if make -s -j"$JOBS" all units >"$log/gcc.log" 2>&1; then ok; else cat "$log/gcc.log"; bad "gcc build"; echo "$pass passed, $fail failed"; exit 1; fi
step "build (clang, -Werror)"
if make -s -j"$JOBS" CC=clang all units >"$log/clang.log" 2>&1; then ok; else cat "$log/clang.log"; bad "clang build"; fi

run_units() {	# $1 build dir, $2 label
	for t in "$1"/tests/test_*; do
		[ -x "$t" ] || continue
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 120 "$t" >"$log/unit.tap" 2>"$log/unit.err"
		local rc=$?
		tap "$2 $(basename "$t")" "$log/unit.tap"
		if [ $rc -ne 0 ] && ! grep -qE '^not ok' "$log/unit.tap"; then
			cat "$log/unit.err"; bad "$2 $(basename "$t") (exit $rc)"
		fi
	done
}

# The CLI suite runs as two shards at once, by file: its tests wait on
# processes and sockets more than they compute (with one shard about 40 %
# of the two cores stay idle), and each test has its own servers, ports,
# namespaces and files. Shard A is these files, about half the time
# (measured with `bats --timing`: each shard 500 s or so of the plain run
# on one busy machine); any other file (a new one too) goes to shard B.
CLI_SHARD_A='/(rvserver|rvsend|p2p|media|flow|p2pintro|checksrc|cluster|cluster_signal|p2pnat|sdp_audio)\.bats$'
run_cli() {	# $1 bin dir, $2 label, $3 files left out (a regex), if any
	local a=() b=() f
	for f in tests/cli/*.bats; do
		[ -n "${3:-}" ] && [[ $f =~ $3 ]] && continue
		if [[ $f =~ $CLI_SHARD_A ]]; then a+=("$f"); else b+=("$f"); fi
	done
	: >"$log/cli-a.tap"
	: >"$log/cli-b.tap"
	local shards=()	# waited for by PID: a bare wait would wait for the fuzz pass too
	[ ${#a[@]} -eq 0 ] || { RV_BIN="$PWD/$1" timeout 900 bats --tap --timing "${a[@]}" >"$log/cli-a.tap" 2>&1 & shards+=($!); }
	[ ${#b[@]} -eq 0 ] || { RV_BIN="$PWD/$1" timeout 900 bats --tap --timing "${b[@]}" >"$log/cli-b.tap" 2>&1 & shards+=($!); }
	[ ${#shards[@]} -eq 0 ] || wait "${shards[@]}"
	cat "$log/cli-a.tap" "$log/cli-b.tap" >"$log/cli.tap"
	tap "$2 cli" "$log/cli.tap"
}

step "unit tests"
run_units build unit
step "CLI tests"
# The fuzz and sanitizer builds, and then the fuzz pass, use the CPU the CLI
# tests leave idle (they mostly wait on processes and sockets): started with
# them at the lowest priority. The builds are waited for before the browsers
# start (builds.done); the fuzz pass may go on beside the browsers, where at
# nice 19 it takes only what they leave, and is waited for at its step. Each
# harness runs FUZZ_SECONDS of wall-clock time either way; its log says how
# many inputs that was.
fuzz_one() {	# $1 the fuzzer: runs it, leaves its exit status in $log/NAME.rc
	local name corpus
	name=$(basename "$1")
	corpus=$(mktemp -d "$log/corpus.XXXX")
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
	timeout $((FUZZ_SECONDS + 60)) "$1" -max_total_time="$FUZZ_SECONDS" -timeout=30 \
		-rss_limit_mb=2048 "$corpus" >"$log/$name.log" 2>&1
	echo $? >"$log/$name.rc"
}
fuzz_all() {	# every harness, JOBS at a time
	local f i fuzzers=()
	for f in build-fuzz/fuzz_*; do [ -x "$f" ] && fuzzers+=("$f"); done
	for ((i = 0; i < ${#fuzzers[@]}; i += JOBS)); do
		for f in "${fuzzers[@]:i:JOBS}"; do fuzz_one "$f" & done
		wait
	done
}
(
	nice -n 19 make -s -j"$JOBS" fuzz >"$log/fuzz.log" 2>&1
	echo $? >"$log/fuzz.rc"
	nice -n 19 make -s -j"$JOBS" SANITIZE=1 all units >"$log/san.log" 2>&1
	echo $? >"$log/san.rc"
	touch "$log/builds.done"
	[ "$(cat "$log/fuzz.rc")" = 0 ] && { renice -n 19 $BASHPID >/dev/null; fuzz_all; }
) &
background=$!
run_cli build/bin cli
step "fuzz and sanitizer builds (started with the CLI tests)"
while [ ! -e "$log/builds.done" ] && kill -0 "$background" 2>/dev/null; do sleep 1; done

step "browser tests (headless Chromium)"
if [ -x tests/browser/run.sh ]; then
	RVSIGNAL="$PWD/build/bin/rvsignal" timeout 900 tests/browser/run.sh >"$log/browser.tap" 2>"$log/browser.err"
	rc=$?
	tap browser "$log/browser.tap"
	if [ $rc -ne 0 ] && ! grep -qE '^not ok' "$log/browser.tap"; then
		tail -30 "$log/browser.err"; bad "browser tests (exit $rc)"
	fi
fi

step "fuzz (${FUZZ_SECONDS}s each, $JOBS at a time, started after the builds)"
wait "$background"
if [ "$(cat "$log/fuzz.rc")" = 0 ]; then
	for f in build-fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		if [ "$(cat "$log/$name.rc" 2>/dev/null)" = 0 ]; then
			ok; printf '%s: ok (%s)\n' "$name" "$(grep -oE '#[0-9]+' "$log/$name.log" | tail -1) runs"
		else
			tail -30 "$log/$name.log"; bad "fuzz $name"
		fi
	done
else
	cat "$log/fuzz.log"; bad "fuzz build"
fi

step "ASan+UBSan: unit and CLI tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "$(cat "$log/san.rc")" = 0 ]; then
	ok
	run_units build-san "asan unit"
	# docs.bats and checksrc.bats check text (sources, man pages, --help):
	# the same under ASan, so they run once
	run_cli build-san/bin "asan" '/(docs|checksrc)\.bats$'
else
	cat "$log/san.log"; bad "sanitizer build"
fi

echo
step "done"
[ ${#failed[@]} -eq 0 ] || { echo "failures:"; printf '  %s\n' "${failed[@]}"; [ -f "$log/failures" ] && cat "$log/failures"; }
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
