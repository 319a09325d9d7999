#!/usr/bin/env bash
# bench/run.sh - rvserver against mosquitto, side by side in one run (what `make bench` calls).
#
# Measures, for both servers, with the same generators (bench/fanout.c, bench/idle.c):
#   1. fan-out: 1 sender -> 100 receivers, 64 B payloads, deliveries/s at saturation
#      (closed loop, WINDOW=256, receivers with SO_RCVLOWAT=4096), median of RUNS runs,
#      runs alternated between the two servers; broker and generator CPU over the window.
#   2. latency: open loop at half of mosquitto's measured max publish rate (the same rate for
#      both), p50/p99 of every delivery, median of LAT_RUNS runs; plus one extra point at
#      EXTRA_RATE publishes/s (the anchors' stable load).
#   3. idle memory: VmRSS growth per connection with IDLE_N idle clients, fresh servers.
#   4. the latency floor: bench/floor.c, a broker that only writes each message to each
#      receiver (one write(2) per delivery, no protocol work), at the same rates: what the
#      kernel's loopback writes and reader wake-ups cost on this machine, which no broker
#      on one core goes below. The latency goal is read against it.
# Servers are pinned to CPU 0, generators to CPU 1 (PIN=0: no pinning).
#
# Environment: RUNS=3 LAT_RUNS=3 EXTRA_RATE=500 EXTRA_RUNS=3 IDLE_N=10000 RATE=auto|N PIN=1
#              O=build (build dir) RVSERVER=path MOSQUITTO=path DURATION=8 WARMUP=2
#              WINDOW=256 LOWAT=4096 (fan-out closed loop; the anchors' settings) WATCHDOG=600
# Output: a table with ratios rvserver/mosquitto and goal lines, also written to
# bench/results/latest.txt (raw generator output in bench/results/latest.log).
# Exit status: 0 all measured and goals met, 1 a goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
RUNS=${RUNS:-3}
LAT_RUNS=${LAT_RUNS:-3}
EXTRA_RATE=${EXTRA_RATE:-500}
EXTRA_RUNS=${EXTRA_RUNS:-3}
IDLE_N=${IDLE_N:-10000}
RATE=${RATE:-auto}
PIN=${PIN:-1}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
WINDOW=${WINDOW:-256}
LOWAT=${LOWAT:-4096}
WATCHDOG=${WATCHDOG:-600}
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init bench

mkdir -p "$RESDIR"
LOG=$RESDIR/latest.log
: >"$LOG"

# ---- servers ------------------------------------------------------------------

port_listening() { [ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]; }

MQ_PID='' MQ_PORT='' RV_PID='' RV_PORT=''

# start_mosquitto: on a free port below the ephemeral range (free_port, bench/common.sh); when
# mosquitto still cannot bind it (another process took it meanwhile), again on another port.
start_mosquitto() {
	local try
	for try in 1 2 3 4 5; do
		try_mosquitto && return 0
		grep -q 'Address already in use' "$TMP/mosquitto.log" 2>/dev/null || return 1
		say "bench: mosquitto could not bind port $MQ_TRIED (try $try/5), picking another"
		: >"$TMP/mosquitto.log"
	done
	return 1
}

# try_mosquitto: one start on one port; sets MQ_PID and MQ_PORT, or returns 1.
try_mosquitto() {
	local i p
	MQ_PID='' MQ_PORT=''
	p=$(free_port tcp) || { say "bench: no free port for mosquitto"; return 1; }
	MQ_TRIED=$p
	cat >"$TMP/mosquitto.conf" <<-EOF
		listener $p 127.0.0.1
		allow_anonymous true
		set_tcp_nodelay false
		persistence false
		max_connections -1
		log_dest stderr
		log_type error
		log_type warning
	EOF
	"${PIN_SRV[@]}" "$MOSQUITTO" -c "$TMP/mosquitto.conf" 2>>"$TMP/mosquitto.log" &
	MQ_PID=$!
	PIDS+=("$MQ_PID")
	for i in $(seq 1 50); do
		if ! kill -0 "$MQ_PID" 2>/dev/null; then
			say "bench: mosquitto exited: $(tail -3 "$TMP/mosquitto.log")"
			stop_pid "$MQ_PID"
			MQ_PID=
			return 1
		fi
		port_listening "$p" && { MQ_PORT=$p; return 0; }
		sleep 0.1
	done
	say "bench: mosquitto did not listen on $p within 5 s"
	return 1
}

start_rvserver() {
	local i
	RV_PID='' RV_PORT=''
	if [ ! -x "$RVSERVER" ]; then
		say "bench: $RVSERVER not found (run make first)"
		return 1
	fi
	rm -f "$TMP/rv.port"
	"${PIN_SRV[@]}" "$RVSERVER" -l 127.0.0.1 --port 0 --port-file "$TMP/rv.port" 2>>"$TMP/rvserver.log" &
	RV_PID=$!
	PIDS+=("$RV_PID")
	for i in $(seq 1 100); do
		if ! kill -0 "$RV_PID" 2>/dev/null; then
			say "bench: rvserver exited: $(tail -3 "$TMP/rvserver.log")"
			RV_PID=
			return 1
		fi
		if [ -s "$TMP/rv.port" ] && grep -qi ready "$TMP/rvserver.log" 2>/dev/null; then
			RV_PORT=$(head -1 "$TMP/rv.port" | tr -dc '0-9')
			[ -n "$RV_PORT" ] && return 0
		fi
		sleep 0.1
	done
	say "bench: rvserver not ready within 10 s: $(tail -3 "$TMP/rvserver.log")"
	return 1
}

# start_floor: bench/floor.c on port 0, pinned like the servers; sets FL_PID and FL_PORT.
start_floor() {
	local i
	FL_PID='' FL_PORT=''
	rm -f "$TMP/floor.port"
	"${PIN_SRV[@]}" "$BIN/floor" --port-file "$TMP/floor.port" 2>>"$TMP/floor.log" &
	FL_PID=$!
	PIDS+=("$FL_PID")
	for i in $(seq 1 50); do
		if [ -s "$TMP/floor.port" ]; then
			FL_PORT=$(tr -dc '0-9' <"$TMP/floor.port")
			return 0
		fi
		sleep 0.1
	done
	say "bench: the floor broker did not start: $(tail -2 "$TMP/floor.log")"
	stop_pid "$FL_PID"
	FL_PID=''
	return 1
}

stop_servers() {
	stop_pid "$MQ_PID"
	stop_pid "$RV_PID"
	stop_pid "${FL_PID:-}"
	MQ_PID='' RV_PID='' FL_PID='' FL_PORT=''
}

# ---- helpers ---------------------------------------------------------------------

# kv KEY < text: the value of KEY=value on the RESULT/FIGURE/INFO lines
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }

# median of the numbers given as arguments (empty if none)
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'
}
minmax() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }
thou() { awk -v n="$1" 'BEGIN { if (n == "") { print "n/a"; exit } s = sprintf("%.0f", n); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }

# run_fanout NAME PROTO PORT PID [extra args]: prints the RESULT line (empty on failure)
run_fanout() {
	local name=$1 proto=$2 port=$3 pid=$4 out rc
	shift 4
	out=$(timeout 60 "${PIN_GEN[@]}" "$BIN/fanout" --proto "$proto" --port "$port" --pid "$pid" \
		--warmup "$WARMUP" --duration "$DURATION" --window "$WINDOW" --lowat "$LOWAT" "$@" 2>&1)
	rc=$?
	{ echo "== $name fanout --proto $proto $* (exit $rc)"; echo "$out"; } >>"$LOG"
	if [ $rc -ne 0 ]; then
		say "bench: $name run failed (exit $rc): $(echo "$out" | grep -E 'ERROR|fatal|fanout:' | head -2)"
		STATUS=2
	fi
	echo "$out" | grep '^RESULT' | grep ' ok=1' | tail -1
}

# ---- 1. idle memory (fresh servers) -------------------------------------------------

run_idle() {
	local name=$1 proto=$2 port=$3 pid=$4 out rc
	out=$(timeout 120 "${PIN_GEN[@]}" "$BIN/idle" --proto "$proto" --port "$port" --pid "$pid" -n "$IDLE_N" --hold 1 2>&1)
	rc=$?
	{ echo "== $name idle --proto $proto -n $IDLE_N (exit $rc)"; echo "$out"; } >>"$LOG"
	if [ $rc -ne 0 ] || ! echo "$out" | grep -q '^FIGURE rss_per_conn_bytes='; then
		say "bench: $name idle test failed (exit $rc): $(echo "$out" | grep -E 'ERROR|closed' | head -2)"
		STATUS=2
		return 0
	fi
	echo "$out"
}

T0=$(date +%s)
say "bench: idle memory, $IDLE_N connections each"
MQ_IDLE='' RV_IDLE='' MQ_IDLE_B='' MQ_IDLE_A='' RV_IDLE_B='' RV_IDLE_A=''
if start_mosquitto; then
	o=$(run_idle mosquitto mqtt "$MQ_PORT" "$MQ_PID")
	MQ_IDLE=$(echo "$o" | kv rss_per_conn_bytes)
	MQ_IDLE_B=$(echo "$o" | kv rss_before_kb)
	MQ_IDLE_A=$(echo "$o" | kv rss_after_kb)
else
	STATUS=2
fi
stop_servers
if start_rvserver; then
	o=$(run_idle rvserver rv "$RV_PORT" "$RV_PID")
	RV_IDLE=$(echo "$o" | kv rss_per_conn_bytes)
	RV_IDLE_B=$(echo "$o" | kv rss_before_kb)
	RV_IDLE_A=$(echo "$o" | kv rss_after_kb)
else
	STATUS=2
fi
stop_servers

# ---- 2. fan-out throughput, alternated -------------------------------------------------

start_mosquitto || STATUS=2
start_rvserver || STATUS=2
MQ_D=() RV_D=() MQ_BC=() RV_BC=() MQ_GC=() RV_GC=() MQ_P=()
for i in $(seq 1 "$RUNS"); do
	say "bench: fan-out run $i/$RUNS"
	if [ -n "$MQ_PORT" ]; then
		r=$(run_fanout mosquitto mqtt "$MQ_PORT" "$MQ_PID")
		if [ -n "$r" ]; then
			MQ_D+=("$(echo "$r" | kv deliveries_per_s)")
			MQ_P+=("$(echo "$r" | kv publishes_per_s)")
			MQ_BC+=("$(echo "$r" | kv broker_cpu)")
			MQ_GC+=("$(echo "$r" | kv gen_cpu)")
		fi
	fi
	if [ -n "$RV_PORT" ]; then
		r=$(run_fanout rvserver rv "$RV_PORT" "$RV_PID")
		if [ -n "$r" ]; then
			RV_D+=("$(echo "$r" | kv deliveries_per_s)")
			RV_BC+=("$(echo "$r" | kv broker_cpu)")
			RV_GC+=("$(echo "$r" | kv gen_cpu)")
		fi
	fi
done
MQ_DM=$(median "${MQ_D[@]}")
RV_DM=$(median "${RV_D[@]}")

# ---- 3. latency at half of mosquitto's max publish rate ---------------------------------

if [ "$RATE" = auto ]; then
	if [ ${#MQ_P[@]} -gt 0 ]; then
		LRATE=$(awk -v p="$(median "${MQ_P[@]}")" 'BEGIN { printf "%.0f\n", p / 2 }')
	else
		LRATE=964 # the anchor's rate
	fi
else
	LRATE=$RATE
fi

# latency_series RATE N: fills LAT_<MQ|RV>_<P50|P99|BC> arrays
latency_series() {
	local rate=$1 n=$2 i r
	L_MQ50=() L_MQ99=() L_RV50=() L_RV99=() L_MQBC=() L_RVBC=() L_FL50=() L_FL99=()
	L_MQK=() L_RVK=() L_FLK=()	# "p50/p99" from the kernel's receive times
	for i in $(seq 1 "$n"); do
		say "bench: latency at $rate publishes/s, run $i/$n"
		if [ -n "$MQ_PORT" ]; then
			r=$(run_fanout mosquitto mqtt "$MQ_PORT" "$MQ_PID" --rate "$rate")
			if [ -n "$r" ]; then
				L_MQ50+=("$(echo "$r" | kv latency_p50_us)")
				L_MQK+=("$(echo "$r" | kv latency_kernel_p50_us)/$(echo "$r" | kv latency_kernel_p99_us)")
				L_MQ99+=("$(echo "$r" | kv latency_p99_us)")
				L_MQBC+=("$(echo "$r" | kv broker_cpu)")
			fi
		fi
		if [ -n "$RV_PORT" ]; then
			r=$(run_fanout rvserver rv "$RV_PORT" "$RV_PID" --rate "$rate")
			if [ -n "$r" ]; then
				L_RV50+=("$(echo "$r" | kv latency_p50_us)")
				L_RVK+=("$(echo "$r" | kv latency_kernel_p50_us)/$(echo "$r" | kv latency_kernel_p99_us)")
				L_RV99+=("$(echo "$r" | kv latency_p99_us)")
				L_RVBC+=("$(echo "$r" | kv broker_cpu)")
			fi
		fi
		if [ -n "${FL_PORT:-}" ]; then
			r=$(run_fanout floor mqtt "$FL_PORT" "$FL_PID" --rate "$rate")
			if [ -n "$r" ]; then
				L_FL50+=("$(echo "$r" | kv latency_p50_us)")
				L_FLK+=("$(echo "$r" | kv latency_kernel_p50_us)/$(echo "$r" | kv latency_kernel_p99_us)")
				L_FL99+=("$(echo "$r" | kv latency_p99_us)")
			fi
		fi
	done
}

start_floor || STATUS=2
latency_series "$LRATE" "$LAT_RUNS"
LA_MQ50=("${L_MQ50[@]}") LA_MQ99=("${L_MQ99[@]}") LA_RV50=("${L_RV50[@]}") LA_RV99=("${L_RV99[@]}")
LA_MQBC=("${L_MQBC[@]}") LA_RVBC=("${L_RVBC[@]}") LA_FL50=("${L_FL50[@]}") LA_FL99=("${L_FL99[@]}")
if [ "$EXTRA_RATE" != 0 ] && [ "$EXTRA_RUNS" -gt 0 ]; then
	latency_series "$EXTRA_RATE" "$EXTRA_RUNS"
fi
stop_servers
T1=$(date +%s)

# ---- report ----------------------------------------------------------------------------

fmt_row() { printf '%-44s %-22s %-22s %s\n' "$@"; }
{
	echo "rvkit bench: rvserver vs mosquitto $("$MOSQUITTO" -h 2>/dev/null | head -1 | awk '{print $3}')  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r); servers pinned: ${PIN_SRV[*]:-no}; generator: ${PIN_GEN[*]:-unpinned}; run time $((T1 - T0)) s"
	echo
	fmt_row "" "mosquitto" "rvserver" "rvserver/mosquitto"
	fmt_row "fan-out deliveries/s, 1->100, 64 B (median)" "$(thou "$MQ_DM")" "$(thou "$RV_DM")" "$(ratio "$RV_DM" "$MQ_DM")"
	fmt_row "  runs (n=$RUNS each)" "$(IFS=' '; echo "${MQ_D[*]:-n/a}")" "$(IFS=' '; echo "${RV_D[*]:-n/a}")" ""
	fmt_row "  broker CPU % over the window (median)" "$(median "${MQ_BC[@]}")" "$(median "${RV_BC[@]}")" ""
	fmt_row "  generator CPU % (median)" "$(median "${MQ_GC[@]}")" "$(median "${RV_GC[@]}")" ""
	fmt_row "latency at $LRATE pub/s (half of mosquitto's max)" "" "" ""
	fmt_row "  p50 us (median of $LAT_RUNS)" "$(median "${LA_MQ50[@]}")" "$(median "${LA_RV50[@]}")" "$(ratio "$(median "${LA_RV50[@]}")" "$(median "${LA_MQ50[@]}")")"
	fmt_row "  p99 us (median of $LAT_RUNS)" "$(median "${LA_MQ99[@]}")" "$(median "${LA_RV99[@]}")" "$(ratio "$(median "${LA_RV99[@]}")" "$(median "${LA_MQ99[@]}")")"
	fmt_row "  p50 / p99 us, min-max" "$(minmax "${LA_MQ50[@]}") / $(minmax "${LA_MQ99[@]}")" "$(minmax "${LA_RV50[@]}") / $(minmax "${LA_RV99[@]}")" ""
	fmt_row "  broker CPU % (median)" "$(median "${LA_MQBC[@]}")" "$(median "${LA_RVBC[@]}")" ""
	fmt_row "  floor (bench/floor.c) p50 / p99 us" "" "$(median "${LA_FL50[@]}") / $(median "${LA_FL99[@]}")" "rvserver/floor $(ratio "$(median "${LA_RV50[@]}")" "$(median "${LA_FL50[@]}")") / $(ratio "$(median "${LA_RV99[@]}")" "$(median "${LA_FL99[@]}")")"
	if [ "$EXTRA_RATE" != 0 ] && [ "$EXTRA_RUNS" -gt 0 ]; then
		fmt_row "latency at $EXTRA_RATE pub/s, p50 / p99 us (n=$EXTRA_RUNS)" \
			"$(median "${L_MQ50[@]}") / $(median "${L_MQ99[@]}")" \
			"$(median "${L_RV50[@]}") / $(median "${L_RV99[@]}")" \
			"$(ratio "$(median "${L_RV50[@]}")" "$(median "${L_MQ50[@]}")") / $(ratio "$(median "${L_RV99[@]}")" "$(median "${L_MQ99[@]}")")"
		fmt_row "  floor (bench/floor.c) p50 / p99 us" "" "$(median "${L_FL50[@]}") / $(median "${L_FL99[@]}")" \
			"rvserver/floor $(ratio "$(median "${L_RV50[@]}")" "$(median "${L_FL50[@]}")") / $(ratio "$(median "${L_RV99[@]}")" "$(median "${L_FL99[@]}")")"
		# the same deliveries by the kernel's receive time: what the broker's writes
		# cost, without the generator's one thread reading the 100 sockets after them
		fmt_row "  in the receivers' sockets, p50/p99 us" "$(IFS=' '; echo "${L_MQK[*]:-n/a}")" \
			"$(IFS=' '; echo "${L_RVK[*]:-n/a}")" "floor $(IFS=' '; echo "${L_FLK[*]:-n/a}")"
	fi
	fmt_row "idle RSS per connection, $IDLE_N clients (B)" "${MQ_IDLE:-n/a}" "${RV_IDLE:-n/a}" "$(ratio "$RV_IDLE" "$MQ_IDLE")"
	fmt_row "  VmRSS before -> after (kB)" "${MQ_IDLE_B:-?} -> ${MQ_IDLE_A:-?}" "${RV_IDLE_B:-?} -> ${RV_IDLE_A:-?}" ""
	echo
	GOAL=0
	g1=$(awk -v a="$RV_DM" -v b="$MQ_DM" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a >= 10 * b && a >= 1500000) print "PASS"; else print "FAIL" }')
	g2=$(awk -v a="$RV_IDLE" -v b="$MQ_IDLE" 'BEGIN { if (a == "" || b == "") print "N/A"; else if (a <= b) print "PASS"; else print "FAIL" }')
	echo "GOAL fan-out >= 10x mosquitto and >= 1.5 M deliveries/s: $g1 ($(ratio "$RV_DM" "$MQ_DM"), $(thou "$RV_DM"))"
	echo "GOAL memory per client <= mosquitto: $g2 (${RV_IDLE:-n/a} B vs ${MQ_IDLE:-n/a} B)"
	[ "$g1" = PASS ] && [ "$g2" = PASS ] || GOAL=1
	if [ "$EXTRA_RATE" = 500 ] && [ "$EXTRA_RUNS" -gt 0 ]; then
		x50=$(median "${L_RV50[@]}") x99=$(median "${L_RV99[@]}")
		g3=$(awk -v a="$x50" -v b="$x99" 'BEGIN { if (a == "" || b == "" || a == "n/a") print "N/A"; else if (a <= 200 && b <= 1000) print "PASS"; else print "FAIL" }')
		f50=$(median "${L_FL50[@]}") f99=$(median "${L_FL99[@]}")
		echo "GOAL latency at 500 pub/s to 100 receivers, p50 <= 200 us and p99 <= 1 ms: $g3 (${x50:-n/a} / ${x99:-n/a} us; the floor here: ${f50:-n/a} / ${f99:-n/a} us)"
		g4=$(awk -v a="$x50" -v b="$f50" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a <= 1.25 * b) print "PASS"; else print "FAIL" }')
		echo "GOAL latency at 500 pub/s, p50 within 1.25x the floor (one write per receiver): $g4 ($(ratio "$x50" "$f50"))"
		[ "$g3" = PASS ] && [ "$g4" = PASS ] || GOAL=1
	fi
	if [ "$STATUS" -ne 0 ]; then
		echo "WARNING: some measurements failed; see bench/results/latest.log"
	fi
	echo "$GOAL" >"$TMP/goal"
} | tee "$RESDIR/latest.txt"

if [ "$STATUS" -ne 0 ]; then
	exit "$STATUS"
fi
exit "$(cat "$TMP/goal" 2>/dev/null || echo 1)"
