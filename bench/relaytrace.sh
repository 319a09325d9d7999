#!/usr/bin/env bash
# bench/relaytrace.sh - one rvserver latency case under a kernel trace: where its tail came from.
#
#   bench/relaytrace.sh RECEIVERS RATE [mrelay options, e.g. --gso]
#
# Starts rvserver on CPU 0 and bench/mrelay on CPU 1 as relay.sh does, runs one latency trial at
# RATE packets/s in (LAT_DUR seconds, default 5; relay.sh prints the rate it used per column)
# with mrelay --lat-trace, while ftrace records scheduler switches, wake-ups, runtime
# accounting and IPIs on CPUs 0 and 1 (trace_clock mono, as the latency trace). Then
# bench/relaytrace.py prints who ran on each CPU, the server's wake-up delays, IPI delays to
# CPU 0, and each tail episode put down to a VM stall, another process, the generator or none
# of these (see its header). Needs root and tracefs at /sys/kernel/tracing; the tracing
# settings it changes are put back. Files kept in $OUT (default /tmp/relaytrace).
# Environment: LAT_DUR=5 O=build RVSERVER MRELAY OUT
# Exit: 0 done, 2 could not run.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
MRELAY=${MRELAY:-$ROOT/$O/bench/mrelay}
LAT_DUR=${LAT_DUR:-5}
OUT=${OUT:-/tmp/relaytrace}
T=/sys/kernel/tracing
[ $# -ge 2 ] || { echo "usage: $0 RECEIVERS RATE [mrelay options]" >&2; exit 2; }
N=$1 RATE=$2
shift 2
[ -w "$T/tracing_on" ] || { echo "relaytrace: needs root and tracefs at $T" >&2; exit 2; }
for b in "$RVSERVER" "$MRELAY"; do
	[ -x "$b" ] || { echo "relaytrace: $b not built (make all build/bench/mrelay)" >&2; exit 2; }
done
mkdir -p "$OUT"

# the tracing settings, to put back
OLD_ON=$(cat "$T/tracing_on")
OLD_CLOCK=$(grep -o '\[[a-z0-9_-]*\]' "$T/trace_clock" | tr -d '[]')
OLD_KB=$(grep -o '^[0-9]*' "$T/buffer_size_kb")
OLD_EVENTS=$(cat "$T/set_event")
SRV=''
cleanup() {
	echo 0 >"$T/tracing_on"
	: >"$T/set_event"
	[ -n "$OLD_EVENTS" ] && printf '%s\n' "$OLD_EVENTS" >"$T/set_event"
	echo "$OLD_CLOCK" >"$T/trace_clock"
	echo "$OLD_KB" >"$T/buffer_size_kb"
	: >"$T/trace"
	echo "$OLD_ON" >"$T/tracing_on"
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
}
trap cleanup EXIT

rm -f "$OUT/port"
taskset -c 0 "$RVSERVER" -l 127.0.0.1 --port 0 --udp-port 0 --port-file "$OUT/port" --idle-timeout 0 -q \
	2>"$OUT/rvserver.log" &
SRV=$!
for _ in $(seq 1 100); do
	[ -s "$OUT/port" ] && [ "$(wc -l <"$OUT/port")" -ge 2 ] && break
	sleep 0.1
done
PORT=$(head -1 "$OUT/port" 2>/dev/null | tr -dc '0-9')
[ -n "$PORT" ] || { echo "relaytrace: rvserver did not start: $(tail -2 "$OUT/rvserver.log")" >&2; exit 2; }

echo 0 >"$T/tracing_on"
echo mono >"$T/trace_clock"
echo 40000 >"$T/buffer_size_kb"
: >"$T/trace"
printf '%s\n' sched:sched_switch sched:sched_waking sched:sched_stat_runtime ipi:ipi_send_cpu \
	irq_vectors:call_function_single_entry irq_vectors:reschedule_entry >"$T/set_event"
echo 1 >"$T/tracing_on"
timeout -k 2 $((LAT_DUR + 60)) taskset -c 1 "$MRELAY" --target rv --port "$PORT" --receivers "$N" --pid "$SRV" \
	--srv-cpu 0 --lat-rate "$RATE" --lat-duration "$LAT_DUR" --lat-trace "$OUT/lat.txt" --max-time $((LAT_DUR + 50)) \
	"$@" >"$OUT/mrelay.out" 2>&1
echo 0 >"$T/tracing_on"
cat "$T/trace" >"$OUT/trace.txt"
grep -E '^(LATENCY|ERROR)' "$OUT/mrelay.out"
grep -q '^LATENCY' "$OUT/mrelay.out" || exit 2
/usr/bin/python3 "$ROOT/bench/relaytrace.py" "$OUT/trace.txt" "$OUT/lat.txt"
