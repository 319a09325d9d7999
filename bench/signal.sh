#!/usr/bin/env bash
# bench/signal.sh - rvsignal against a Node.js `ws` broadcast broker, side by side in one run.
#
# The anchor is bench/ws_broker/broker.js (anchors-measured.md rows 2a and 2c): every WebSocket
# text message from a client goes to every other open client. rvsignal does the same relay for a
# room: receivers join room "bench", the sender posts {"type":"chat","room":"bench","text":P} and
# every other peer gets it with "from" added. Both are driven by bench/fanout.c and bench/idle.c
# (--proto ws and --proto sigws), with the anchors' method:
#   1. fan-out: 1 sender -> 100 receivers, 64 B payloads (P), deliveries/s at saturation (closed
#      loop, WINDOW=256, receivers with SO_RCVLOWAT=4096, 2 s warm-up, 8 s window), median of RUNS
#      runs, alternated between the two servers, a fresh server for each run (a disconnected
#      rvsignal peer stays in its rooms for the 30 s resume window and would be a 101st, 102nd...
#      receiver in the next run); server and generator CPU over the window, and the
#      wire bytes of one message as sent and per delivery (rvsignal's JSON envelope is larger).
#      The same fan-out to rvserver's WebSocket endpoint /rv (--proto rvws: RV frames as binary
#      messages, receivers in one group, the sender's msg relayed to each), alternated with the
#      other two, a fresh rvserver for each run: the anchor for it is the same ws broker.
#   2. idle memory: VmRSS growth per connection with IDLE_N idle WebSocket clients on a fresh
#      server (ws: just upgraded; rvsignal: upgraded and welcome received); then, for
#      information (no anchor), rvsignal's raw-TCP broker: IDLE_N clients with the welcome line.
# Servers are pinned to CPU 0, generators to CPU 1 (PIN=0: no pinning). Only 127.0.0.1.
#
# Environment: RUNS=3 IDLE_N=10000 PIN=1 DURATION=8 WARMUP=2 WINDOW=256 LOWAT=4096 WATCHDOG=230
#              O=build RVSIGNAL=path RVSERVER=path NODE=path
#              PARTS="idle fanout" (either alone skips the other; its goal line then says N/A)
# Output: a table with ratios rvsignal/ws and goal lines, also written to
# bench/results/signal-latest.txt (raw generator output in bench/results/signal-latest.log).
# Exit status: 0 all measured and both goals met, 1 a goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVSIGNAL=${RVSIGNAL:-$ROOT/$O/bin/rvsignal}
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
NODE=${NODE:-$(command -v node || echo node)}
BROKER_DIR=$ROOT/bench/ws_broker
RUNS=${RUNS:-3}
IDLE_N=${IDLE_N:-10000}
PIN=${PIN:-1}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
WINDOW=${WINDOW:-256}
LOWAT=${LOWAT:-4096}
WATCHDOG=${WATCHDOG:-300}
PARTS=${PARTS:-idle fanout}
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init signal-bench
for b in "$RVSIGNAL" "$RVSERVER"; do
	[ -x "$b" ] || { say "signal bench: $b not found (run make first)"; exit 2; }
done
if ! command -v "$NODE" >/dev/null; then
	say "signal bench: node not found (set NODE=)"
	exit 2
fi
if [ ! -f "$BROKER_DIR/node_modules/ws/package.json" ]; then
	say "signal bench: installing ws (npm ci in bench/ws_broker)"
	(cd "$BROKER_DIR" && timeout 120 npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		{ say "signal bench: npm ci failed in $BROKER_DIR"; exit 2; }
fi
WS_VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$BROKER_DIR/node_modules/ws/package.json" | head -1)

mkdir -p "$RESDIR"
LOG=$RESDIR/signal-latest.log
: >"$LOG"

# ---- servers ------------------------------------------------------------------

WS_PID='' WS_PORT='' SG_PID='' SG_PORT='' SG_BPORT=''

# wait_port PID FILE LOGFILE NAME: the first line of FILE once PID wrote it (10 s at most)
wait_port() {
	local pid=$1 file=$2 log=$3 name=$4 i p
	for i in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			say "signal bench: $name exited: $(tail -3 "$log")"
			return 1
		fi
		if [ -s "$file" ]; then
			p=$(head -1 "$file" | tr -dc '0-9')
			[ -n "$p" ] && { echo "$p"; return 0; }
		fi
		sleep 0.1
	done
	say "signal bench: $name not listening within 10 s: $(tail -3 "$log")"
	return 1
}

start_ws() {
	WS_PID='' WS_PORT=''
	rm -f "$TMP/ws.port"
	"${PIN_SRV[@]}" "$NODE" "$BROKER_DIR/broker.js" "$TMP/ws.port" 2>>"$TMP/ws.log" &
	WS_PID=$!
	PIDS+=("$WS_PID")
	WS_PORT=$(wait_port "$WS_PID" "$TMP/ws.port" "$TMP/ws.log" "ws broker") || { WS_PORT=''; return 1; }
}

start_rvsignal() {
	SG_PID='' SG_PORT='' SG_BPORT=''
	rm -f "$TMP/sg.port"
	"${PIN_SRV[@]}" "$RVSIGNAL" serve -l 127.0.0.1 --port 0 --broker-port 0 --port-file "$TMP/sg.port" \
		--rate 0 --idle-timeout 0 --ping 0 --max-queue 16M 2>>"$TMP/rvsignal.log" &
	SG_PID=$!
	PIDS+=("$SG_PID")
	SG_PORT=$(wait_port "$SG_PID" "$TMP/sg.port" "$TMP/rvsignal.log" rvsignal) || { SG_PORT=''; return 1; }
	SG_BPORT=$(sed -n 2p "$TMP/sg.port" | tr -dc '0-9')
}

RV_PID='' RV_PORT=''
start_rvserver() {
	RV_PID='' RV_PORT=''
	rm -f "$TMP/rv.port"
	"${PIN_SRV[@]}" "$RVSERVER" -q -l 127.0.0.1 --port 0 --port-file "$TMP/rv.port" --idle-timeout 0 \
		2>>"$TMP/rvserver.log" &
	RV_PID=$!
	PIDS+=("$RV_PID")
	RV_PORT=$(wait_port "$RV_PID" "$TMP/rv.port" "$TMP/rvserver.log" rvserver) || { RV_PORT=''; return 1; }
}

stop_servers() {
	stop_pid "$WS_PID"
	stop_pid "$SG_PID"
	stop_pid "$RV_PID"
	WS_PID='' SG_PID='' RV_PID=''
}

# ---- helpers ---------------------------------------------------------------------

# kv KEY < text: the value of KEY=value on the RESULT/FIGURE/INFO lines
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }

median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }
thou() { awk -v n="$1" 'BEGIN { if (n == "") { print "n/a"; exit } s = sprintf("%.0f", n); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }

# run_fanout NAME PROTO PORT PID: prints the RESULT line and the wire-bytes INFO line (empty on failure)
run_fanout() {
	local name=$1 proto=$2 port=$3 pid=$4 out rc
	out=$(timeout 60 "${PIN_GEN[@]}" "$BIN/fanout" --proto "$proto" --port "$port" --pid "$pid" \
		--warmup "$WARMUP" --duration "$DURATION" --window "$WINDOW" --lowat "$LOWAT" 2>&1)
	rc=$?
	{ echo "== $name fanout --proto $proto (exit $rc)"; echo "$out"; } >>"$LOG"
	if [ $rc -ne 0 ] || ! echo "$out" | grep '^RESULT' | grep -q ' ok=1'; then
		say "signal bench: $name fan-out run failed (exit $rc): $(echo "$out" | grep -E 'ERROR|fatal|fanout:' | head -2)"
		STATUS=2
		return 0
	fi
	echo "$out" | grep -E '^RESULT|^INFO msg_wire_bytes'
}

run_idle() {
	local name=$1 proto=$2 port=$3 pid=$4 out rc
	out=$(timeout 90 "${PIN_GEN[@]}" "$BIN/idle" --proto "$proto" --port "$port" --pid "$pid" -n "$IDLE_N" --hold 1 2>&1)
	rc=$?
	{ echo "== $name idle --proto $proto -n $IDLE_N (exit $rc)"; echo "$out"; } >>"$LOG"
	if [ $rc -ne 0 ] || ! echo "$out" | grep -q '^FIGURE rss_per_conn_bytes='; then
		say "signal bench: $name idle test failed (exit $rc): $(echo "$out" | grep -E 'ERROR|closed' | head -2)"
		STATUS=2
		return 0
	fi
	echo "$out"
}

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)

# ---- 1. idle memory (fresh servers) -------------------------------------------------

WS_IDLE='' SG_IDLE='' WS_IDLE_B='' WS_IDLE_A='' SG_IDLE_B='' SG_IDLE_A=''
case " $PARTS " in *" idle "*) DO_IDLE=1 ;; *) DO_IDLE=0 ;; esac
case " $PARTS " in *" fanout "*) DO_FANOUT=1 ;; *) DO_FANOUT=0 ;; esac
[ "$DO_IDLE" = 1 ] && say "signal bench: idle memory, $IDLE_N WebSocket connections each"
if [ "$DO_IDLE" = 0 ]; then
	:
elif start_ws; then
	o=$(run_idle ws ws "$WS_PORT" "$WS_PID")
	WS_IDLE=$(echo "$o" | kv rss_per_conn_bytes)
	WS_IDLE_B=$(echo "$o" | kv rss_before_kb)
	WS_IDLE_A=$(echo "$o" | kv rss_after_kb)
else
	STATUS=2
fi
stop_servers
if [ "$DO_IDLE" = 0 ]; then
	:
elif start_rvsignal; then
	o=$(run_idle rvsignal sigws "$SG_PORT" "$SG_PID")
	SG_IDLE=$(echo "$o" | kv rss_per_conn_bytes)
	SG_IDLE_B=$(echo "$o" | kv rss_before_kb)
	SG_IDLE_A=$(echo "$o" | kv rss_after_kb)
else
	STATUS=2
fi
stop_servers
SG_BIDLE=''
if [ "$DO_IDLE" = 0 ]; then
	:
elif start_rvsignal && [ -n "$SG_BPORT" ]; then
	o=$(run_idle "rvsignal broker" sigtcp "$SG_BPORT" "$SG_PID")
	SG_BIDLE=$(echo "$o" | kv rss_per_conn_bytes)
else
	STATUS=2
fi
stop_servers

# ---- 2. fan-out throughput, alternated -------------------------------------------------

# A fresh server for every run: rvsignal keeps a disconnected peer in its rooms for the resume
# window (30 s), so the previous run's 101 peers would still get (and queue) every message.
WS_D=() SG_D=() WS_BC=() SG_BC=() WS_GC=() SG_GC=() WS_MB='' SG_MB='' WS_DB='' SG_DB=''
RV_D=() RV_BC=() RV_GC=() RV_MB='' RV_DB=''
[ "$DO_FANOUT" = 1 ] || RUNS=0
# fanout_into KEY NAME PROTO PORT PID: one run against the started server; its figures go to
# the arrays KEY_D (deliveries/s), KEY_BC, KEY_GC (server and generator CPU) and KEY_MB, KEY_DB
# (wire bytes). Nothing when the server is not up.
fanout_into() {
	local k=$1 r
	[ -n "$4" ] || return 0
	r=$(run_fanout "$2" "$3" "$4" "$5")
	[ -n "$r" ] || return 0
	eval "${k}_D+=(\"$(kv deliveries_per_s <<<"$r")\")"
	eval "${k}_BC+=(\"$(kv broker_cpu <<<"$r")\")"
	eval "${k}_GC+=(\"$(kv gen_cpu <<<"$r")\")"
	eval "${k}_MB=\"$(kv msg_wire_bytes <<<"$r")\""
	eval "${k}_DB=\"$(kv delivery_wire_bytes <<<"$r")\""
}

for i in $(seq 1 "$RUNS"); do
	say "signal bench: fan-out run $i/$RUNS"
	start_ws || STATUS=2
	fanout_into WS ws ws "$WS_PORT" "$WS_PID"
	stop_servers
	start_rvsignal || STATUS=2
	fanout_into SG rvsignal sigws "$SG_PORT" "$SG_PID"
	stop_servers
	start_rvserver || STATUS=2
	fanout_into RV "rvserver /rv" rvws "$RV_PORT" "$RV_PID"
	stop_servers
done
RV_DM=$(median "${RV_D[@]}")
WS_DM=$(median "${WS_D[@]}")
SG_DM=$(median "${SG_D[@]}")
SG_BCM=$(median "${SG_BC[@]}")
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

# ---- report ----------------------------------------------------------------------------

fmt_row() { printf '%-46s %-22s %-22s %s\n' "$@"; }
{
	echo "rvkit signal bench: rvsignal vs Node $("$NODE" --version 2>/dev/null) ws ${WS_VERSION:-?} broadcast broker  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r); servers pinned: ${PIN_SRV[*]:-no}; generator: ${PIN_GEN[*]:-unpinned}; run time $((T1 - T0)) s; load average $LOAD0 -> $LOAD1"
	echo
	fmt_row "" "ws (node)" "rvsignal" "rvsignal/ws"
	fmt_row "fan-out deliveries/s, 1->100, 64 B (median)" "$(thou "$WS_DM")" "$(thou "$SG_DM")" "$(ratio "$SG_DM" "$WS_DM")"
	fmt_row "  runs (n=$RUNS each, alternated)" "$(IFS=' '; echo "${WS_D[*]:-n/a}")" "$(IFS=' '; echo "${SG_D[*]:-n/a}")" ""
	fmt_row "  server CPU % over the window (median)" "$(median "${WS_BC[@]}")" "${SG_BCM:-n/a}" ""
	fmt_row "  generator CPU % (median)" "$(median "${WS_GC[@]}")" "$(median "${SG_GC[@]}")" ""
	fmt_row "  wire bytes: one message sent / per delivery" "${WS_MB:-?} / ${WS_DB:-?}" "${SG_MB:-?} / ${SG_DB:-?}" ""
	fmt_row "" "ws (node)" "rvserver /rv" "rvserver/ws"
	fmt_row "fan-out deliveries/s, 1->100, 64 B (median)" "$(thou "$WS_DM")" "$(thou "$RV_DM")" "$(ratio "$RV_DM" "$WS_DM")"
	fmt_row "  runs (n=$RUNS each, alternated)" "" "$(IFS=' '; echo "${RV_D[*]:-n/a}")" ""
	fmt_row "  server / generator CPU % (median)" "" "$(median "${RV_BC[@]}") / $(median "${RV_GC[@]}")" ""
	fmt_row "  wire bytes: one message sent / per delivery" "" "${RV_MB:-?} / ${RV_DB:-?}" ""
	fmt_row "" "ws (node)" "rvsignal" "rvsignal/ws"
	fmt_row "idle RSS per connection, $IDLE_N clients (B)" "${WS_IDLE:-n/a}" "${SG_IDLE:-n/a}" "$(ratio "$SG_IDLE" "$WS_IDLE")"
	fmt_row "  VmRSS before -> after (kB)" "${WS_IDLE_B:-?} -> ${WS_IDLE_A:-?}" "${SG_IDLE_B:-?} -> ${SG_IDLE_A:-?}" ""
	fmt_row "  raw-TCP broker, the same (no anchor) (B)" "-" "${SG_BIDLE:-n/a}" ""
	echo
	echo "Payload: 64 B in both. ws relays it as a bare text frame; rvsignal wraps it in"
	echo '{"type":"chat","room":"bench","text":"<64 B>"} and relays it with "from":"<peer id>" added.'
	echo 'rvserver /rv: the RV frame {"type":"msg","seq":N,"group":"bench"} + the 64 B body in a binary'
	echo 'message; each receiver gets the msg frame with "from" added (the sender gets an ok per message).'
	if [ -n "$SG_BCM" ] && awk -v c="$SG_BCM" 'BEGIN { exit !(c < 90) }'; then
		echo "rvsignal's CPU was ${SG_BCM} % (< 90 %): the window of $WINDOW and the batched reads, not the"
		echo "server, set its figure, which is then a lower bound (WINDOW=1024 shows the headroom)."
		echo "Such a run is latency-bound and swings with any other work on either CPU."
	fi
	WS_BCM=$(median "${WS_BC[@]}")
	if [ -n "$WS_BCM" ] && awk -v c="$WS_BCM" 'BEGIN { exit !(c < 90) }'; then
		echo "WARNING: the ws broker used only ${WS_BCM} % CPU; it is CPU-bound (about 99 %) on a quiet"
		echo "machine, so other work took CPU 0 during this run and its figures are not comparable."
	fi
	echo
	GOAL=0
	g1=$(awk -v a="$SG_DM" -v b="$WS_DM" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a >= 3 * b) print "PASS"; else print "FAIL" }')
	g2=$(awk -v a="$SG_IDLE" -v b="$WS_IDLE" 'BEGIN { if (a == "" || b == "" || b <= 0) print "N/A"; else if (5 * a <= b) print "PASS"; else print "FAIL" }')
	echo "GOAL rvsignal fan-out >= 3x ws: $g1 ($(ratio "$SG_DM" "$WS_DM"))"
	echo "GOAL rvsignal memory per connection <= 1/5 of ws: $g2 ($(ratio "$SG_IDLE" "$WS_IDLE"); ${SG_IDLE:-n/a} B vs ${WS_IDLE:-n/a} B)"
	g3=$(awk -v a="$RV_DM" -v b="$WS_DM" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a >= 5 * b) print "PASS"; else print "FAIL" }')
	echo "GOAL rvserver WebSocket /rv fan-out >= 5x ws: $g3 ($(ratio "$RV_DM" "$WS_DM"))"
	[ "$g1" = PASS ] && [ "$g2" = PASS ] && [ "$g3" = PASS ] || GOAL=1
	if [ "$STATUS" -ne 0 ]; then
		echo "WARNING: some measurements failed; see bench/results/signal-latest.log"
	fi
	echo "$GOAL" >"$TMP/goal"
} | tee "$RESDIR/signal-latest.txt"

if [ "$STATUS" -ne 0 ]; then
	exit "$STATUS"
fi
exit "$(cat "$TMP/goal" 2>/dev/null || echo 1)"
