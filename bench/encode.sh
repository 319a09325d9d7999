#!/usr/bin/env bash
# bench/encode.sh - rvsend's live H.264 sender against ffmpeg, CPU per minute of 720p30 video.
#
# Both encode the same lavfi test pattern (testsrc2=size=1280x720:rate=30) in real time and send
# it as plain RTP to a socat sink on 127.0.0.1 (RTP port and RTCP port + 1), DUR seconds each:
#   rvsend media -f lavfi -i testsrc2=... --bitrate 1000000 --gop 60 --duration DUR --rtp 127.0.0.1:PORT
#   ffmpeg -re -f lavfi -i testsrc2=... -t DUR -c:v libx264 <rvsend's x264 settings> -f rtp rtp://...
# rvsend's settings are the ones lib/media.c sets: preset veryfast, tune zerolatency, profile
# baseline, 1 Mbit/s, GOP of two seconds (60 frames), no B-frames, x264-params
# repeat-headers=1:bframes=0, and libavcodec's default thread count (x264 then runs 2 sliced
# threads on this 2-CPU machine, as ffmpeg does by default). Before measuring, a 2 s run of each
# captures its RTP and compares the option string x264 writes into the first keyframe (its SEI):
# they must be identical, or the run stops with exit 2. One more ffmpeg row with -threads 1 is
# printed for reference (THREADS1=1), not used for the goal.
# CPU = user + sys from /usr/bin/time, scaled to 60 s of video (x 60 / DUR); median of RUNS runs,
# the variants alternated. PIN=1 pins every encoder to CPU 1 (default 0: pinning to one CPU
# would change x264's thread count).
#
# Environment: RUNS=3 DUR=20 PIN=0 O=build RVSEND=path FFMPEG=path THREADS1=1 (0 skips the
#              reference row) BITRATE=1000000 GOP=60 (given to both, in bits: rvsend reads 1M as 2^20;
#              anchor 5 used 2M) WATCHDOG=(computed)
# Output: a table with the ratio rvsend/ffmpeg and the goal line, also written to
# bench/results/encode-latest.txt (raw output in bench/results/encode-latest.log).
# Exit status: 0 measured and the goal met, 1 the goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
# shellcheck disable=SC2034 # common.sh builds the generators there
BIN=$ROOT/$O/bench
RVSEND=${RVSEND:-$ROOT/$O/bin/rvsend}
FFMPEG=${FFMPEG:-$(command -v ffmpeg || echo ffmpeg)}
RUNS=${RUNS:-3}
DUR=${DUR:-20}
PIN=${PIN:-0}
THREADS1=${THREADS1:-1}
WATCHDOG=${WATCHDOG:-$((RUNS * (2 + THREADS1) * (DUR + 15) + 60))}
RESDIR=$ROOT/bench/results
SRC="testsrc2=size=1280x720:rate=30"
BITRATE=${BITRATE:-1000000}
GOP=${GOP:-60}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init encode-bench
for b in "$RVSEND" "$FFMPEG" /usr/bin/time; do
	command -v "$b" >/dev/null || { say "encode bench: $b not found (make; apt-get install ffmpeg time)"; exit 2; }
done
for b in socat strings; do
	command -v "$b" >/dev/null || { say "encode bench: $b not found"; exit 2; }
done
mkdir -p "$RESDIR"
LOG=$RESDIR/encode-latest.log
: >"$LOG"

median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }

# start_sink [FILE]: an even port PORT whose pair is free (UDP), socat sinks on both (RTP into
# FILE, default /dev/null); their PIDs in SINK.
start_sink() {
	local i p
	# free_port (common.sh): three free ports below the ephemeral range hold an even pair
	p=$(free_port udp 3) || { say "encode bench: no free port"; return 1; }
	PORT=$(((p + 1) & ~1)) SINK=()
	socat -u "UDP-RECV:$PORT,bind=127.0.0.1" "OPEN:${1:-/dev/null},creat,append" 2>/dev/null &
	SINK+=($!) PIDS+=($!)
	socat -u "UDP-RECV:$((PORT + 1)),bind=127.0.0.1" /dev/null 2>/dev/null &
	SINK+=($!) PIDS+=($!)
	for i in $(seq 1 30); do
		[ "$(ss -Hnua "( sport = :$PORT or sport = :$((PORT + 1)) )" 2>/dev/null | wc -l)" -ge 2 ] && return 0
		sleep 0.1
	done
	say "encode bench: socat sink not listening on $PORT"
	return 1
}
stop_sink() {
	local p
	for p in "${SINK[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	SINK=()
}

# run NAME CMD...: V = CPU seconds per 60 s of video (empty on failure), RSS = max RSS in kB
run() {
	local name=$1 rc line u s e m
	shift
	V='' RSS=''
	say "encode bench:   $name"
	echo "== $name: $*" >>"$LOG"
	timeout -k 2 $((DUR + 30)) /usr/bin/time -o "$TMP/time" -f "%U %S %e %M" "${PIN_GEN[@]}" "$@" \
		>"$TMP/out" 2>"$TMP/err"
	rc=$?
	tail -4 "$TMP/err" >>"$LOG"
	cat "$TMP/out" >>"$LOG"
	line=$(tail -1 "$TMP/time")
	echo "   exit $rc; user sys wall maxrss_kB: $line" >>"$LOG"
	read -r u s e m <<<"$line"
	if [ "$rc" != 0 ] || [ -z "${m:-}" ] || ! awk -v e="$e" -v d="$DUR" 'BEGIN { exit !(e >= d * 0.95) }'; then
		say "encode bench: $name failed (exit $rc, wall ${e:-?} s): $(tail -2 "$TMP/err" | tr '\n' ' ')"
		STATUS=2
		return 0
	fi
	V=$(awk -v u="$u" -v s="$s" -v d="$DUR" 'BEGIN { printf "%.2f\n", (u + s) * 60 / d }')
	RSS=$m
}

X264=(-c:v libx264 -preset veryfast -tune zerolatency -profile:v baseline -b:v "$BITRATE" -g "$GOP"
	-bf 0 -x264-params repeat-headers=1:bframes=0)
ffmpeg_cmd() {	# ffmpeg_cmd SECONDS [EXTRA...]: the ffmpeg command line into CMD
	local t=$1
	shift
	CMD=("$FFMPEG" -hide_banner -nostdin -nostats -loglevel info -re -f lavfi -i "$SRC" -t "$t" "${X264[@]}" "$@"
		-an -f rtp "rtp://127.0.0.1:$PORT")
}
rvsend_cmd() {
	CMD=("$RVSEND" media -f lavfi -i "$SRC" --bitrate "$BITRATE" --gop "$GOP" --duration "$1"
		--rtp "127.0.0.1:$PORT" --json)
}

# ---- the same x264 options? ----
say "encode bench: comparing the x264 options of rvsend and ffmpeg (2 s each)"
SAME=''
# x264_check rvsend|ffmpeg: 2 s of video into a capture; the option string x264 wrote into the
# stream, one option a line, into $TMP/opts.NAME
x264_check() {
	local name=$1
	start_sink "$TMP/cap.$name" || return 1
	case $name in
	rvsend) rvsend_cmd 2 ;;
	ffmpeg) ffmpeg_cmd 2 ;;
	esac
	timeout -k 2 20 "${CMD[@]}" >/dev/null 2>>"$TMP/check.err"
	sleep 0.3
	stop_sink
	strings -n 20 "$TMP/cap.$name" | grep -m1 -o 'options: .*' | tr ' ' '\n' >"$TMP/opts.$name"
	rm -f "$TMP/cap.$name"
	[ -s "$TMP/opts.$name" ]
}
if x264_check rvsend && x264_check ffmpeg; then
	if diff "$TMP/opts.rvsend" "$TMP/opts.ffmpeg" >"$TMP/opts.diff"; then
		SAME=yes
	else
		SAME=no
		say "encode bench: rvsend and ffmpeg run x264 with different options:"
		sed 's/^/  /' "$TMP/opts.diff" >&2
	fi
	{ echo "== x264 options (rvsend):"; tr '\n' ' ' <"$TMP/opts.rvsend"; echo; } >>"$LOG"
else
	say "encode bench: could not read x264's options from the streams: $(tail -2 "$TMP/check.err" 2>/dev/null)"
fi

start_sink || exit 2
RV=() FF=() F1=() RV_RSS='' FF_RSS='' RV_BYTES='' FF_BYTES=''
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
for i in $(seq 1 "$RUNS"); do
	say "encode bench: run $i/$RUNS (${DUR} s each)"
	ffmpeg_cmd "$DUR"
	run "ffmpeg run $i" "${CMD[@]}"
	[ -n "$V" ] && { FF+=("$V"); FF_RSS=$RSS; FF_BYTES=$(sed -n 's/.*video:\([0-9]*\)kB.*/\1/p' "$TMP/err" | tail -1); }
	rvsend_cmd "$DUR"
	run "rvsend run $i" "${CMD[@]}"
	[ -n "$V" ] && { RV+=("$V"); RV_RSS=$RSS; RV_BYTES=$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' "$TMP/out" | tail -1); RV_BYTES=${RV_BYTES:+$((RV_BYTES / 1024))}; }
	if [ "$THREADS1" = 1 ]; then
		ffmpeg_cmd "$DUR" -threads 1
		run "ffmpeg -threads 1 run $i" "${CMD[@]}"
		[ -n "$V" ] && F1+=("$V")
	fi
done
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
RVM=$(median "${RV[@]}")
FFM=$(median "${FF[@]}")
F1M=$(median "${F1[@]}")

fmt_row() { printf '%-52s %-20s %-20s %s\n' "$@"; }
{
	echo "rvkit encode bench: rvsend vs $("$FFMPEG" -version 2>/dev/null | head -1 | cut -d' ' -f1-3), 720p30 H.264 live to RTP  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r); encoders pinned: ${PIN_GEN[*]:-no}; run time $((T1 - T0)) s; load average $LOAD0 -> $LOAD1"
	echo "source: lavfi $SRC, ${DUR} s per run (CPU scaled x $(awk -v d="$DUR" 'BEGIN { printf "%g", 60 / d }') to one minute)"
	echo "x264: ${X264[*]:2}, libavcodec's default threads, RTP to a socat sink on 127.0.0.1"
	echo "rvsend: --bitrate $BITRATE --gop $GOP (its defaults: 1000000 and two seconds' worth), the rest as lib/media.c sets it"
	echo
	case $SAME in
	yes) echo "x264 options in the streams (SEI): identical: $(grep -E '^(threads|sliced_threads|slices)=' "$TMP/opts.rvsend" | tr '\n' ' ')" ;;
	no) echo "WARNING: x264 options in the streams differ (not the same settings): $(grep '^[<>]' "$TMP/opts.diff" | tr '\n' ' ')" ;;
	*) echo "WARNING: x264 options could not be compared" ;;
	esac
	echo
	fmt_row "" "ffmpeg" "rvsend" "rvsend/ffmpeg"
	fmt_row "CPU s (user+sys) per minute of video (median)" "${FFM:-n/a}" "${RVM:-n/a}" "$(ratio "$RVM" "$FFM")"
	fmt_row "  runs (n=$RUNS each, alternated)" "$(IFS=' '; echo "${FF[*]:-n/a}")" "$(IFS=' '; echo "${RV[*]:-n/a}")" ""
	fmt_row "  KiB sent, last run (ffmpeg: video; rvsend: RTP payload)" "${FF_BYTES:-?}" "${RV_BYTES:-?}" ""
	fmt_row "  max RSS, last run (kB)" "${FF_RSS:-?}" "${RV_RSS:-?}" ""
	if [ "$THREADS1" = 1 ]; then
		fmt_row "ffmpeg -threads 1 (one x264 thread, reference)" "${F1M:-n/a}" "" "$(ratio "$RVM" "$F1M")"
		fmt_row "  runs" "$(IFS=' '; echo "${F1[*]:-n/a}")" "" ""
	fi
	echo
	g=$(awk -v a="$RVM" -v b="$FFM" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a <= 1.1 * b) print "PASS"; else print "FAIL" }')
	echo "GOAL rvsend CPU per minute of 720p30 H.264 <= 1.1x ffmpeg with the same settings: $g ($(ratio "$RVM" "$FFM"); ${RVM:-n/a} s vs ${FFM:-n/a} s)"
	if [ "$STATUS" -ne 0 ]; then
		echo "WARNING: some runs failed; see bench/results/encode-latest.log"
	fi
	if [ "$g" = PASS ]; then echo 0; else echo 1; fi >"$TMP/goal"
} | tee "$RESDIR/encode-latest.txt"

[ "$STATUS" -ne 0 ] && exit "$STATUS"
[ "$SAME" = yes ] || exit 2
[ -z "$RVM" ] || [ -z "$FFM" ] && exit 2
exit "$(cat "$TMP/goal" 2>/dev/null || echo 1)"
