#!/usr/bin/env bash
# bench/cluster.sh - rvserver --cluster and rvsignal --cluster (issue 15): a message between
# two nodes of one cluster against the same on one plain server, side by side in one run.
#
#   bench/cluster.sh
#
# Starts its own redis-server (unix socket in a temporary folder), two cluster nodes and
# one plain rvserver, all on 127.0.0.1 with port files. Then, with bench/fanout (RV
# protocol, 64-byte payloads, 1 sender -> SUBS receivers in one group):
#   1. latency, open loop at RATE/s: plain (sender and receivers on one server) and
#      cross-node (sender on node 1, receivers on node 2, --recv-port);
#   2. saturation deliveries/s, closed loop, the same two ways;
#   3. the same two for rvsignal (--proto sigws: a room message, receivers in the room): one
#      plain rvsignal, and two rvsignal nodes (sender on node 1, receivers on node 2); all
#      with --rate 0 (no per-connection limit).
# Environment: RATE=500 SUBS=1 DURATION=4 WARMUP=1 O=build WATCHDOG=120
# Output: FIGURE lines; exit 2 when a measurement failed. Not part of `make bench` (yet).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVSERVER=$ROOT/$O/bin/rvserver
RVSIGNAL=$ROOT/$O/bin/rvsignal
RATE=${RATE:-500}
SUBS=${SUBS:-1}
DURATION=${DURATION:-4}
WARMUP=${WARMUP:-1}
WATCHDOG=${WATCHDOG:-120}
PIN=0
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init cluster
command -v redis-server >/dev/null || { say "cluster: redis-server is missing (scripts/deps.sh --bench)"; exit 2; }

redis-server --port 0 --unixsocket "$TMP/r.sock" --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$TMP/r.sock" ] && break; sleep 0.1; done
echo "cluster-bench-secret" >"$TMP/secret"

# start NAME ARG...: an rvserver (SERVER=rvsignal: rvsignal serve) on a port file; its port in PORT_NAME
start() {
	local name=$1
	shift
	${SERVER:-"$RVSERVER"} -q -l 127.0.0.1 -p 0 --port-file "$TMP/$name.port" "$@" 2>"$TMP/$name.err" &
	PIDS+=($!)
	for _ in $(seq 1 50); do [ -s "$TMP/$name.port" ] && break; sleep 0.1; done
	eval "PORT_$name=$(sed -n 1p "$TMP/$name.port")"
}
start plain
start n1 --cluster "unix:$TMP/r.sock" --node-id n1 --cluster-secret-file "$TMP/secret"
start n2 --cluster "unix:$TMP/r.sock" --node-id n2 --cluster-secret-file "$TMP/secret"
SERVER="$RVSIGNAL serve" start splain --rate 0
SERVER="$RVSIGNAL serve" start s1 --rate 0 --cluster "unix:$TMP/r.sock" --node-id s1 --cluster-secret-file "$TMP/secret"
SERVER="$RVSIGNAL serve" start s2 --rate 0 --cluster "unix:$TMP/r.sock" --node-id s2 --cluster-secret-file "$TMP/secret"
sleep 0.5	# the nodes connect to Redis

# run LABEL ARG...: one fanout run; its FIGURE lines prefixed with LABEL
run() {
	local label=$1 out
	shift
	out=$(timeout 60 "$BIN/fanout" --proto "${PROTO:-rv}" --subs "$SUBS" --warmup "$WARMUP" --duration "$DURATION" "$@" 2>&1)
	grep -q FIGURE <<<"$out" || { say "cluster: $label failed:"; say "$out"; STATUS=2; return; }
	sed -n "s/^FIGURE /FIGURE ${label}_/p" <<<"$out"
}
# shellcheck disable=SC2154 # PORT_* come from start
{
	run plain --port "$PORT_plain" --rate "$RATE" --topic lat
	run cross_node --port "$PORT_n1" --recv-port "$PORT_n2" --rate "$RATE" --topic lat
	run plain --port "$PORT_plain" --topic sat
	run cross_node --port "$PORT_n1" --recv-port "$PORT_n2" --topic sat
	PROTO=sigws run signal_plain --port "$PORT_splain" --rate "$RATE" --topic lat
	PROTO=sigws run signal_cross_node --port "$PORT_s1" --recv-port "$PORT_s2" --rate "$RATE" --topic lat
	PROTO=sigws run signal_plain --port "$PORT_splain" --topic sat
	PROTO=sigws run signal_cross_node --port "$PORT_s1" --recv-port "$PORT_s2" --topic sat
}
exit "$STATUS"
