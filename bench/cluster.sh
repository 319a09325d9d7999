#!/usr/bin/env bash
# bench/cluster.sh - rvserver --cluster and rvsignal --cluster (issue 15): a message between
# two nodes of one cluster against the same on one plain server, and a fan-out over three
# nodes against a three-node NATS cluster, side by side in one run.
#
#   bench/cluster.sh
#
# Starts its own redis-server (unix socket in a temporary folder), three cluster nodes and
# one plain rvserver, all on 127.0.0.1 with port files. Then, with bench/fanout (64-byte
# payloads, 1 sender -> SUBS receivers in one group):
#   1. latency, open loop at RATE/s: plain (sender and receivers on one server) and
#      cross-node (sender on node 1, receivers on node 2, --recv-port);
#   2. saturation deliveries/s, closed loop, the same two ways;
#   3. the same two for rvsignal (--proto sigws: a room message, receivers in the room): one
#      plain rvsignal, and two rvsignal nodes (sender on node 1, receivers on node 2); all
#      with --rate 0 (no per-connection limit);
#   4. fan-out 1 -> FAN_SUBS receivers spread round-robin over three nodes (sender on node 1):
#      rvserver nodes (--proto rv) against three nats-server processes in one NATS cluster
#      (--proto nats, the same generator; routes checked on /routez, and the generator
#      publishes probes until every receiver has one), saturation deliveries/s and latency
#      p50/p99 at FAN_RATE publishes/s (FAN_RATE x FAN_SUBS deliveries/s); the same on one
#      plain rvserver against one nats-server; ratios rvserver/NATS. Without nats-server the
#      NATS rows are skipped (said on stderr). The issue sets no goal: ratios only.
# Servers (Redis, nodes, nats-server) are pinned to CPU 0, the generator to CPU 1 (PIN=0: none).
# Environment: RATE=500 SUBS=1 FAN_SUBS=100 FAN_RATE=500 DURATION=4 WARMUP=1 PIN=1 O=build
#              WINDOW=256 (closed loop: messages outstanding to the slowest receiver, as run.sh)
#              ROWS="pair signal fanout" (which of 1-2, 3, 4 to run) NATS_SERVER=path WATCHDOG=150
#              LOGDIR=DIR (append the generator's whole output to DIR/cluster.log)
# Output: FIGURE lines; exit 2 when a measurement failed. Not part of `make bench` (yet).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVSERVER=$ROOT/$O/bin/rvserver
RVSIGNAL=$ROOT/$O/bin/rvsignal
RATE=${RATE:-500}
SUBS=${SUBS:-1}
FAN_SUBS=${FAN_SUBS:-100}
FAN_RATE=${FAN_RATE:-500}
WINDOW=${WINDOW:-256}
DURATION=${DURATION:-4}
WARMUP=${WARMUP:-1}
WATCHDOG=${WATCHDOG:-150}
ROWS=${ROWS:-pair signal fanout}
PIN=${PIN:-1}
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init cluster
command -v redis-server >/dev/null || { say "cluster: redis-server is missing (scripts/deps.sh --bench)"; exit 2; }
NATS=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
row() { [[ " $ROWS " == *" $1 "* ]]; }

"${PIN_SRV[@]}" redis-server --port 0 --unixsocket "$TMP/r.sock" --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
PID_redis=$!
for _ in $(seq 1 50); do [ -S "$TMP/r.sock" ] && break; sleep 0.1; done
echo "cluster-bench-secret" >"$TMP/secret"

# start NAME ARG...: an rvserver (SERVER=rvsignal: rvsignal serve) on a port file; its port in PORT_NAME,
# its process id in PID_NAME
start() {
	local name=$1
	shift
	# shellcheck disable=SC2086 # SERVER may be "rvsignal serve"
	"${PIN_SRV[@]}" ${SERVER:-"$RVSERVER"} -q -l 127.0.0.1 -p 0 --port-file "$TMP/$name.port" "$@" 2>"$TMP/$name.err" &
	PIDS+=($!)
	eval "PID_$name=$!"
	for _ in $(seq 1 50); do [ -s "$TMP/$name.port" ] && break; sleep 0.1; done
	eval "PORT_$name=$(sed -n 1p "$TMP/$name.port")"
}
node() { start "$1" --cluster "unix:$TMP/r.sock" --node-id "$1" --cluster-secret-file "$TMP/secret"; }
row pair || row fanout && start plain
row pair || row fanout && node n1 && node n2
row fanout && node n3
if row signal; then
	SERVER="$RVSIGNAL serve" start splain --rate 0
	SERVER="$RVSIGNAL serve" start s1 --rate 0 --cluster "unix:$TMP/r.sock" --node-id s1 --cluster-secret-file "$TMP/secret"
	SERVER="$RVSIGNAL serve" start s2 --rate 0 --cluster "unix:$TMP/r.sock" --node-id s2 --cluster-secret-file "$TMP/secret"
fi

# nats NAME ARG...: a nats-server on ports it picks itself (-p -1, -m -1, cluster port -1 when
# clustered), read from its ports file; client port in NPORT_NAME, monitoring in NMON_NAME,
# cluster port in NCL_NAME, process id in NPID_NAME. Returns 1 when it did not come up within 5 s.
nats() {
	local name=$1 f="" json
	shift
	mkdir -p "$TMP/$name"
	"${PIN_SRV[@]}" "$NATS" -a 127.0.0.1 -p -1 -m -1 -n "$name" --ports_file_dir "$TMP/$name" "$@" >"$TMP/$name.log" 2>&1 &
	PIDS+=($!)
	eval "NPID_$name=$!"
	for _ in $(seq 1 50); do
		f=$(find "$TMP/$name" -name '*.ports' 2>/dev/null | head -1)
		[ -n "$f" ] && [ -s "$f" ] && break
		sleep 0.1
	done
	if [ -z "$f" ] || [ ! -s "$f" ]; then
		say "cluster: nats-server $name did not start:"
		say "$(tail -5 "$TMP/$name.log")"
		return 1
	fi
	json=$(cat "$f")
	eval "NPORT_$name=$(sed -n 's/.*"nats":\["nats:\/\/[^"]*:\([0-9]*\)".*/\1/p' <<<"$json")"
	eval "NMON_$name=$(sed -n 's/.*"monitoring":\["http:\/\/[^"]*:\([0-9]*\)".*/\1/p' <<<"$json")"
	eval "NCL_$name=$(sed -n 's/.*"cluster":\["nats:\/\/[^"]*:\([0-9]*\)".*/\1/p' <<<"$json")"
	eval "NCL_$name=\${NCL_$name:-0}"
}

# nats_routes PORT...: wait (5 s at most) until the monitoring endpoint on each PORT reports
# two routes (a full mesh of three); without curl, the generator's probes cover it.
nats_routes() {
	local p n
	command -v curl >/dev/null || return 0
	for p in "$@"; do
		for _ in $(seq 1 50); do
			n=$(curl -s --max-time 1 "http://127.0.0.1:$p/routez" | sed -n 's/.*"num_routes": *\([0-9]*\).*/\1/p')
			[ "${n:-0}" -ge 2 ] && break
			sleep 0.1
		done
		[ "${n:-0}" -ge 2 ] || { say "cluster: NATS routes not up on monitoring port $p (${n:-0} routes)"; return 1; }
	done
}

NATS_OK=0
# shellcheck disable=SC2154 # NCL_* and NMON_* come from nats
if row fanout; then
	if [ ! -x "$NATS" ]; then
		say "cluster: nats-server is missing (scripts/deps.sh --bench): the NATS fan-out rows are skipped"
	elif nats nplain && nats na --cluster nats://127.0.0.1:-1 --cluster_name rvbench &&
		nats nb --cluster nats://127.0.0.1:-1 --cluster_name rvbench --routes "nats://127.0.0.1:$NCL_na" &&
		nats nc --cluster nats://127.0.0.1:-1 --cluster_name rvbench --routes "nats://127.0.0.1:$NCL_na"; then
		nats_routes "$NMON_na" "$NMON_nb" "$NMON_nc" && NATS_OK=1
	fi
	[ "$NATS_OK" = 1 ] || [ ! -x "$NATS" ] || STATUS=2
fi
sleep 0.5	# the nodes connect to Redis

# run LABEL ARG...: one fanout run; its FIGURE lines prefixed with LABEL (and kept unprefixed in $TMP/LABEL);
# with --pid, at saturation, also the servers' CPU over the window and deliveries per server CPU-second
run() {
	local label=$1 out cpu dps
	shift
	out=$(timeout 60 "${PIN_GEN[@]}" "$BIN/fanout" --proto "${PROTO:-rv}" --subs "${N:-$SUBS}" --warmup "$WARMUP" \
		--duration "$DURATION" --window "$WINDOW" "$@" 2>&1)
	[ -n "${LOGDIR:-}" ] && printf '%s\n' "== $label $*" "$out" >>"$LOGDIR/cluster.log"
	grep -q FIGURE <<<"$out" || { say "cluster: $label failed:"; say "$out"; STATUS=2; return; }
	grep -q 'RESULT ok=1' <<<"$out" || { say "cluster: $label: not every message arrived in order:"; say "$(grep '^INFO window' <<<"$out")"; STATUS=2; }
	cpu=$(grep '^RESULT' <<<"$out" | kv broker_cpu)
	if ! grep -q latency_p50 <<<"$out" && awk -v c="${cpu:--1}" 'BEGIN { exit !(c > 0) }'; then
		dps=$(grep '^RESULT' <<<"$out" | kv deliveries_per_s)
		out+=$'\n'"FIGURE servers_cpu_pct=$cpu"
		out+=$'\n'"FIGURE deliveries_per_cpu_s=$(awk -v d="$dps" -v c="$cpu" 'BEGIN { printf "%.0f", d / (c / 100) }')"
	fi
	sed -n 's/^FIGURE //p' <<<"$out" >>"$TMP/$label"
	sed -n "s/^FIGURE /FIGURE ${label}_/p" <<<"$out"
}
# fig LABEL KEY: a figure kept by run
fig() { [ -f "$TMP/$1" ] && kv "$2" <"$TMP/$1"; }

# shellcheck disable=SC2154 # PORT_* come from start, NPORT_* from nats
{
	if row pair; then
		run plain --port "$PORT_plain" --rate "$RATE" --topic lat
		run cross_node --port "$PORT_n1" --recv-port "$PORT_n2" --rate "$RATE" --topic lat
		run plain --port "$PORT_plain" --topic sat
		run cross_node --port "$PORT_n1" --recv-port "$PORT_n2" --topic sat
	fi
	if row signal; then
		PROTO=sigws run signal_plain --port "$PORT_splain" --rate "$RATE" --topic lat
		PROTO=sigws run signal_cross_node --port "$PORT_s1" --recv-port "$PORT_s2" --rate "$RATE" --topic lat
		PROTO=sigws run signal_plain --port "$PORT_splain" --topic sat
		PROTO=sigws run signal_cross_node --port "$PORT_s1" --recv-port "$PORT_s2" --topic sat
	fi
	if row fanout; then
		R3="$PORT_n1,$PORT_n2,$PORT_n3"
		N=$FAN_SUBS run fanout_3nodes --port "$PORT_n1" --recv-port "$R3" --topic fansat \
			--pid "$PID_n1,$PID_n2,$PID_n3,$PID_redis"
		[ "$NATS_OK" = 1 ] && N=$FAN_SUBS PROTO=nats run nats_fanout_3nodes --port "$NPORT_na" \
			--recv-port "$NPORT_na,$NPORT_nb,$NPORT_nc" --topic fansat --pid "$NPID_na,$NPID_nb,$NPID_nc"
		N=$FAN_SUBS run fanout_plain --port "$PORT_plain" --topic fansat --pid "$PID_plain"
		[ "$NATS_OK" = 1 ] && N=$FAN_SUBS PROTO=nats run nats_fanout_plain --port "$NPORT_nplain" --topic fansat \
			--pid "$NPID_nplain"
		N=$FAN_SUBS run fanout_3nodes --port "$PORT_n1" --recv-port "$R3" --rate "$FAN_RATE" --topic fanlat
		[ "$NATS_OK" = 1 ] && N=$FAN_SUBS PROTO=nats run nats_fanout_3nodes --port "$NPORT_na" \
			--recv-port "$NPORT_na,$NPORT_nb,$NPORT_nc" --rate "$FAN_RATE" --topic fanlat
		N=$FAN_SUBS run fanout_plain --port "$PORT_plain" --rate "$FAN_RATE" --topic fanlat
		[ "$NATS_OK" = 1 ] && N=$FAN_SUBS PROTO=nats run nats_fanout_plain --port "$NPORT_nplain" --rate "$FAN_RATE" --topic fanlat
		if [ "$NATS_OK" = 1 ]; then
			for w in 3nodes plain; do
				for k in deliveries_per_s deliveries_per_cpu_s latency_p50_us latency_p99_us; do
					echo "FIGURE fanout_${w}_${k}_rvserver_over_nats $(ratio "$(fig "fanout_$w" "$k")" "$(fig "nats_fanout_$w" "$k")")"
				done
			done
		fi
	fi
}
exit "$STATUS"
