#!/usr/bin/env bash
# bench/cluster_xfer.sh - rvsend data across two nodes of a cluster (over their trunk)
# against the same on one node, side by side in one run (issue 15, trunks).
#
#   bench/cluster_xfer.sh
#
# Starts its own redis-server (unix socket in a temporary folder) and two cluster nodes on
# 127.0.0.1. Then SIZE_MB of zeros through `rvsend data` into `rvrecv data >/dev/null`, ROUNDS
# times each way, alternating: both ends on node 1 (one node), then sender on node 1 and
# receiver on node 2 (cross node). The time is rvsend's, from start to the receiver's
# confirmation of the whole stream.
# Environment: SIZE_MB=200 ROUNDS=3 O=build WATCHDOG=120
# Output: FIGURE lines (MB/s, medians) and the ratio; exit 2 when a transfer failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVBIN=$ROOT/$O/bin
SIZE_MB=${SIZE_MB:-200}
ROUNDS=${ROUNDS:-3}
WATCHDOG=${WATCHDOG:-120}
PIN=0
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init cluster_xfer
command -v redis-server >/dev/null || { say "cluster_xfer: redis-server is missing (scripts/deps.sh --bench)"; exit 2; }

redis-server --port 0 --unixsocket "$TMP/r.sock" --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$TMP/r.sock" ] && break; sleep 0.1; done
echo "cluster-bench-secret" >"$TMP/secret"
for n in 1 2; do
	"$RVBIN/rvserver" -q -l 127.0.0.1 -p 0 --port-file "$TMP/n$n.port" --cluster "unix:$TMP/r.sock" \
		--node-id "n$n" --cluster-secret-file "$TMP/secret" 2>"$TMP/n$n.err" &
	PIDS+=($!)
	for _ in $(seq 1 50); do [ -s "$TMP/n$n.port" ] && break; sleep 0.1; done
done
P1=$(sed -n 1p "$TMP/n1.port")
P2=$(sed -n 1p "$TMP/n2.port")
sleep 0.5	# the nodes connect to Redis

# once PORT: SIZE_MB to a receiver on PORT from a sender on node 1; MB/s on stdout
once() {
	local port=$1 id=rx$RANDOM t0 t1
	timeout 60 "$RVBIN/rvrecv" -q -s "127.0.0.1:$port" -n "$id" --count 1 data >/dev/null 2>"$TMP/rx.err" &
	local rx=$!
	for _ in $(seq 1 50); do grep -q . "$TMP/rx.err" 2>/dev/null && break; sleep 0.05; done
	sleep 0.3
	t0=$(date +%s.%N)
	head -c $((SIZE_MB << 20)) /dev/zero | timeout 60 "$RVBIN/rvsend" -q -s "127.0.0.1:$P1" -n tx -t "$id" data ||
		{ say "cluster_xfer: rvsend to port $port failed"; STATUS=2; }
	t1=$(date +%s.%N)
	wait "$rx" || { say "cluster_xfer: rvrecv on port $port failed: $(cat "$TMP/rx.err")"; STATUS=2; }
	awk -v mb="$SIZE_MB" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", mb / (b - a) }'
}
local_v=() cross_v=()
for _ in $(seq 1 "$ROUNDS"); do
	local_v+=("$(once "$P1")")
	cross_v+=("$(once "$P2")")
done
l=$(median "${local_v[@]}")
c=$(median "${cross_v[@]}")
echo "FIGURE one_node_MBps $l (rounds: $(join "${local_v[@]}"))"
echo "FIGURE cross_node_MBps $c (rounds: $(join "${cross_v[@]}"))"
echo "FIGURE cross_over_one_node $(ratio "$c" "$l")"
exit "$STATUS"
