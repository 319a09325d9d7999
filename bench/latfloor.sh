#!/usr/bin/env bash
# bench/latfloor.sh - what this machine allows for the fan-out latency goal (issue 11: p50 <= 200 us
# and p99 <= 1 ms at 500 publishes/s to 100 receivers), by measuring the brokers that bound it.
#
# The same generator and load as bench/run.sh's latency rows (bench/fanout.c --rate RATE, 100
# receivers, 64 B, one thread on CPU 1), against:
#   floor    bench/floor.c on CPU 0: one write(2) per receiver and nothing else (no protocol, no
#            queue): the least any one-thread broker does;
#   rvserver on CPU 0, as run.sh starts it;
#   floor2   bench/floor.c --threads 2, not pinned: two threads write half the receivers each (a
#            fan-out over both cores; on this machine the second core is the generator's).
# Each in two conditions:
#   idle     as run.sh measures: between messages both CPUs go idle, and on a VM each wake-up from
#            idle is an exit to the host (its cost is the host's);
#   busy     a SCHED_IDLE spinner on each CPU, so neither ever idles (any runnable task preempts it
#            at once): the same run without the wake-up from idle.
# Figures: p50 / p99 us by the generator's read time (what the goal counts) and by the kernel's
# receive time (SO_TIMESTAMPING: when the broker's write put the bytes in the receiver's socket),
# median of RUNS runs, every case once a round, rounds alternated. Then, for each row, whether its
# p50 meets 200 us: a broker that does nothing but write (floor) tells what any design on one core
# can reach here.
#
# Environment: RUNS=3 RATE=500 DURATION=5 WARMUP=2 O=build RVSERVER=path PIN=1 WATCHDOG=400
# Output: the table on stdout, also written to bench/results/latfloor-latest.txt (raw generator
# output in bench/results/latfloor-latest.log). Exit status: 0 measured, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
RUNS=${RUNS:-3}
RATE=${RATE:-500}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
PIN=${PIN:-1}
WATCHDOG=${WATCHDOG:-400}
GOAL_P50=200
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init latfloor
mkdir -p "$RESDIR"
LOG=$RESDIR/latfloor-latest.log
: >"$LOG"
STATUS=0
[ -x "$RVSERVER" ] || { say "latfloor: $RVSERVER not found (run make first)"; exit 2; }

# start NAME CMD...: starts a server that writes its port to $TMP/NAME.port; sets SRV_PID, SRV_PORT.
start() {
	local name=$1 i
	shift
	rm -f "$TMP/$name.port"
	"$@" --port-file "$TMP/$name.port" 2>>"$TMP/$name.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for i in $(seq 1 100); do
		if [ -s "$TMP/$name.port" ]; then
			SRV_PORT=$(head -1 "$TMP/$name.port" | tr -dc '0-9')
			# rvserver writes its port before it says ready
			[ "$name" != rvserver ] || grep -qi ready "$TMP/$name.log" && return 0
		fi
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "latfloor: $name did not start: $(tail -2 "$TMP/$name.log")"
	exit 2
}

# spinners on|off: a SCHED_IDLE busy loop on each CPU, or none.
SPIN=()
spinners() {
	local p
	if [ "$1" = on ]; then
		for c in 0 1; do
			taskset -c "$c" chrt -i 0 bash -c 'while :; do :; done' &
			SPIN+=($!)
			PIDS+=($!)
		done
	else
		for p in "${SPIN[@]}"; do stop_pid "$p"; done
		SPIN=()
	fi
}

declare -A PORT PID R50 R99 K50 K99
start floor "${PIN_SRV[@]}" "$BIN/floor"
PORT[floor]=$SRV_PORT PID[floor]=$SRV_PID
start rvserver "${PIN_SRV[@]}" "$RVSERVER" -l 127.0.0.1 --port 0
PORT[rvserver]=$SRV_PORT PID[rvserver]=$SRV_PID
start floor2 "$BIN/floor" --threads 2
PORT[floor2]=$SRV_PORT PID[floor2]=$SRV_PID

# one NAME COND: a latency run; appends its figures to the case's lists.
one() {
	local name=$1 cond=$2 proto=mqtt out r
	[ "$name" = rvserver ] && proto=rv
	out=$(timeout 60 "${PIN_GEN[@]}" "$BIN/fanout" --proto "$proto" --port "${PORT[$name]}" \
		--pid "${PID[$name]}" --warmup "$WARMUP" --duration "$DURATION" --rate "$RATE" 2>&1)
	{ echo "== $name $cond (exit $?)"; echo "$out"; } >>"$LOG"
	r=$(echo "$out" | grep '^RESULT' | grep ' ok=1' | tail -1)
	if [ -z "$r" ]; then
		say "latfloor: $name $cond: no result ($(echo "$out" | grep -E 'ERROR|fanout:' | head -1))"
		STATUS=2
		return
	fi
	kv() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	R50[$name.$cond]+=" $(kv latency_p50_us)"
	R99[$name.$cond]+=" $(kv latency_p99_us)"
	K50[$name.$cond]+=" $(kv latency_kernel_p50_us)"
	K99[$name.$cond]+=" $(kv latency_kernel_p99_us)"
}

med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "n/a" }'; }

for i in $(seq 1 "$RUNS"); do
	for cond in idle busy; do
		say "latfloor: round $i/$RUNS, CPUs $cond"
		[ "$cond" = busy ] && spinners on
		for name in floor rvserver floor2; do one "$name" "$cond"; done
		[ "$cond" = busy ] && spinners off
	done
done

{
	echo "rvkit latfloor: fan-out latency at $RATE publishes/s to 100 receivers, 64 B  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r); generator: ${PIN_GEN[*]:-unpinned}; median of $RUNS runs"
	echo "p50 / p99 us: read by the generator | in the receivers' sockets (kernel receive time)"
	printf '%-34s %-30s %s\n' "" "CPUs idle between messages" "CPUs kept busy (SCHED_IDLE)"
	for name in floor rvserver floor2; do
		case $name in
		floor) label="floor, one thread on CPU 0" ;;
		rvserver) label="rvserver on CPU 0" ;;
		floor2) label="floor, two threads, CPUs 0-1" ;;
		esac
		row=()
		for cond in idle busy; do
			k=$name.$cond
			row+=("$(med <<<"${R50[$k]:-}") / $(med <<<"${R99[$k]:-}") | $(med <<<"${K50[$k]:-}") / $(med <<<"${K99[$k]:-}")")
		done
		printf '%-34s %-30s %s\n' "$label" "${row[0]}" "${row[1]}"
	done
	for name in floor rvserver floor2; do
		for cond in idle busy; do
			p=$(med <<<"${R50[$name.$cond]:-}")
			[ "$p" = n/a ] && continue
			[ "$p" -le "$GOAL_P50" ] && v=meets || v=misses
			echo "p50 <= $GOAL_P50 us: $name, CPUs $cond: $v ($p us; runs${R50[$name.$cond]})"
		done
	done
} | tee "$RESDIR/latfloor-latest.txt"
exit $STATUS
