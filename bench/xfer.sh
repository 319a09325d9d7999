#!/usr/bin/env bash
# bench/xfer.sh - bytes through rvserver (rvsend data -> rvserver -> rvrecv data) against a
# socat relay (socat -> socat -> socat: the same two TCP hops on loopback with no framing), and,
# for reference, a direct socat pipe (one hop), measured side by side in one run.
#
# Each configuration moves a SIZE_MB file (from the page cache) REPEAT times; each transfer is
# timed on its own, from the sender's start to the receiver's exit (listeners and the receiver's
# registration are ready before the clock starts), and a run's figure is REPEAT * SIZE_MB over the
# summed times, so a run lasts several seconds. Runs alternate between the configurations; the
# figure is the median of RUNS. The relay (rvserver, the middle socat) is pinned to CPU 0, the
# sender and the receiver to CPU 1 (PIN=0: no pinning); socat uses 1 MiB buffers (-b 1048576),
# rvsend its defaults (frames as large as the server takes: 1020 KiB under rvserver's default
# --max-frame; a 16 MiB window).
#
# Environment: SIZE_MB=1000 REPEAT=3 RUNS=3 PIN=1 O=build WATCHDOG=400
# Output: the table and goal line, also in bench/results/xfer-latest.txt (per-transfer times in
# xfer-latest.log). Exit status: 0 the goal met, 1 missed, 2 a measurement failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
SBIN=$ROOT/$O/bin
SIZE_MB=${SIZE_MB:-1000}
REPEAT=${REPEAT:-3}
RUNS=${RUNS:-3}
PIN=${PIN:-1}
WATCHDOG=${WATCHDOG:-400}
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init xfer-bench
command -v socat >/dev/null || { say "xfer: socat is missing (scripts/deps.sh --bench)"; exit 2; }
for b in rvserver rvsend rvrecv; do
	[ -x "$SBIN/$b" ] || { say "xfer: $SBIN/$b not found (run make first)"; exit 2; }
done
mkdir -p "$RESDIR"
LOG=$RESDIR/xfer-latest.log
: >"$LOG"
BYTES=$((SIZE_MB * 1000000))

head -c "$BYTES" /dev/urandom >"$TMP/src"
cat "$TMP/src" >/dev/null	# in the page cache for all

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) print lo "-" hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f\n", a / b }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# wait_listen PORT: until something listens on 127.0.0.1:PORT (5 s at most)
wait_listen() {
	for _ in $(seq 1 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

# sink PORT: a socat that writes what one connection brings to /dev/null, on CPU 1; SINK = its PID
sink() {
	timeout 120 "${PIN_GEN[@]}" socat -b 1048576 -u "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr" OPEN:/dev/null &
	SINK=$!
	PIDS+=("$SINK")
}

# One transfer of each kind: T = its seconds, or empty on failure.
direct_once() {
	local port t0
	T=''
	port=$(free_port tcp) || return 1
	sink "$port"
	wait_listen "$port" || return 1
	t0=$(now)
	timeout 120 "${PIN_GEN[@]}" socat -b 1048576 -u OPEN:"$TMP/src" "TCP:127.0.0.1:$port" || return 1
	wait "$SINK" || return 1
	T=$(elapsed "$t0" "$(now)")
}

relay_once() {
	local p1 p2 relay t0
	T=''
	p2=$(free_port tcp) || return 1
	sink "$p2"
	wait_listen "$p2" || return 1
	p1=$(free_port tcp) || return 1
	timeout 120 "${PIN_SRV[@]}" socat -b 1048576 "TCP-LISTEN:$p1,bind=127.0.0.1,reuseaddr" "TCP:127.0.0.1:$p2" &
	relay=$!
	PIDS+=("$relay")
	wait_listen "$p1" || return 1
	t0=$(now)
	timeout 120 "${PIN_GEN[@]}" socat -b 1048576 -u OPEN:"$TMP/src" "TCP:127.0.0.1:$p1" || return 1
	wait "$SINK" || return 1
	T=$(elapsed "$t0" "$(now)")
	wait "$relay"
}

RSS_SEND=() RSS_RECV=()
rv_once() {
	local name=$1 recv t0 n
	T=''
	timeout 120 "${PIN_GEN[@]}" /usr/bin/time -f "%M" -o "$TMP/recv.rss" "$SBIN/rvrecv" -q -n "$name" data >/dev/null &
	recv=$!
	PIDS+=("$recv")
	n=0
	until curl -sf --max-time 2 "http://$RV_SERVER/stats" | grep -q '"clients":1'; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || { say "xfer: rvrecv did not register"; return 1; }
		sleep 0.05
	done
	t0=$(now)
	timeout 120 "${PIN_GEN[@]}" /usr/bin/time -f "%M" -o "$TMP/send.rss" "$SBIN/rvsend" -q -n "src-$name" -t "$name" \
		data "$TMP/src" || { say "xfer: rvsend failed"; return 1; }
	wait "$recv" || { say "xfer: rvrecv failed"; return 1; }
	T=$(elapsed "$t0" "$(now)")
	RSS_SEND+=("$(cat "$TMP/send.rss")")
	RSS_RECV+=("$(cat "$TMP/recv.rss")")
}

"${PIN_SRV[@]}" "$SBIN/rvserver" -q -l 127.0.0.1 --port 0 --port-file "$TMP/port" 2>"$TMP/server.log" &
SRV=$!
PIDS+=("$SRV")
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { say "xfer: rvserver did not start: $(tail -3 "$TMP/server.log")"; exit 2; }
export RV_SERVER=127.0.0.1:$(head -1 "$TMP/port")

# run KIND: REPEAT transfers, the run's MB/s into MBPS (empty on failure)
run() {
	local kind=$1 k sum=0
	MBPS=''
	for k in $(seq 1 "$REPEAT"); do
		case $kind in
		direct) direct_once ;;
		relay) relay_once ;;
		rv) rv_once "sink-$i-$k" ;;
		esac
		if [ -z "$T" ]; then
			echo "$kind run $i transfer $k: FAILED" >>"$LOG"
			STATUS=2
			return 0
		fi
		echo "$kind run $i transfer $k: $T s" >>"$LOG"
		sum=$(awk -v a="$sum" -v b="$T" 'BEGIN { print a + b }')
	done
	MBPS=$(awk -v b="$BYTES" -v r="$REPEAT" -v s="$sum" 'BEGIN { printf "%.0f", b * r / s / 1e6 }')
	echo "$kind run $i: $MBPS MB/s over $sum s" >>"$LOG"
}

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
D=() R=() V=()
for i in $(seq "$RUNS"); do
	say "xfer: run $i/$RUNS"
	run direct; [ -n "$MBPS" ] && D+=("$MBPS")
	run relay; [ -n "$MBPS" ] && R+=("$MBPS")
	run rv; [ -n "$MBPS" ] && V+=("$MBPS")
done
SRV_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/$SRV/status")
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

DM=$(median "${D[@]}") RM=$(median "${R[@]}") VM=$(median "${V[@]}")
row() { printf '%-46s %-12s %s\n' "$@"; }
{
	echo "rvkit xfer bench: $SIZE_MB MB x $REPEAT per run, median of $RUNS, alternated  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs; relay pinned: ${PIN_SRV[*]:-no}; ends: ${PIN_GEN[*]:-unpinned}; run time $(($(date +%s) - T0)) s; load average $LOAD0 -> $LOAD1"
	echo
	row "" "MB/s" "runs (MB/s = 10^6 B/s)"
	row "direct socat pipe, one hop (reference)" "${DM:-n/a}" "${D[*]:-n/a}"
	row "socat relay, socat -> socat -> socat" "${RM:-n/a}" "${R[*]:-n/a}"
	row "rvsend -> rvserver -> rvrecv (data)" "${VM:-n/a}" "${V[*]:-n/a}"
	row "  rvserver / socat relay" "$(ratio "$VM" "$RM")" "min-max: relay $(minmax "${R[@]}"), rvserver $(minmax "${V[@]}")"
	row "  rvserver / direct pipe" "$(ratio "$VM" "$DM")" ""
	row "peak RSS (kB)" "" "rvserver ${SRV_RSS:-?}, rvsend $(median "${RSS_SEND[@]}"), rvrecv $(median "${RSS_RECV[@]}")"
	echo
	g=$(awk -v a="$VM" -v b="$RM" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a >= 0.9 * b) print "PASS"; else print "FAIL" }')
	echo "GOAL rvserver >= 0.9x the socat relay: $g ($(ratio "$VM" "$RM"))"
	[ "$STATUS" = 0 ] || echo "WARNING: some transfers failed; see bench/results/xfer-latest.log"
	[ "$g" = PASS ] && echo 0 >"$TMP/goal" || echo 1 >"$TMP/goal"
} | tee "$RESDIR/xfer-latest.txt"
[ "$STATUS" = 0 ] || exit 2
exit "$(cat "$TMP/goal")"
