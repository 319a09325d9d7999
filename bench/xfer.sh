#!/usr/bin/env bash
# bench/xfer.sh - 1 GB through rvserver (rvsend data -> rvrecv data) against the
# same bytes through a plain TCP pipe on loopback (socat with 1 MiB buffers, the
# physical limit here), alternated in one run. Prints MB/s, the ratio, and the
# peak RSS of rvserver, rvsend and rvrecv.
# Environment: SIZE_MB=1000 RUNS=3 O=build
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bin
SIZE_MB=${SIZE_MB:-1000}
RUNS=${RUNS:-3}
TMP=$(mktemp -d /tmp/rvxfer.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/common.sh"	# free_port
command -v socat >/dev/null || { echo "xfer: socat is missing (scripts/deps.sh)" >&2; exit 2; }

head -c $((SIZE_MB * 1000000)) /dev/urandom >"$TMP/src"
cat "$TMP/src" >/dev/null	# in the page cache for both

now() { date +%s.%N; }
mbps() { awk -v b=$((SIZE_MB * 1000000)) -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

"$BIN/rvserver" -q -l 127.0.0.1 --port 0 --port-file "$TMP/port" 2>"$TMP/server.log" &
SRV=$!
PIDS+=($SRV)
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
export RV_SERVER=127.0.0.1:$(head -1 "$TMP/port")

plain=() relay=() rss_send=() rss_recv=()
for i in $(seq "$RUNS"); do
	# plain TCP: socat -> socat
	port=$(free_port tcp) || { echo "xfer: no free port below the ephemeral range" >&2; exit 2; }
	timeout 60 socat -b 1048576 -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" OPEN:/dev/null &
	sink=$!
	for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.05; done
	t0=$(now)
	timeout 60 socat -b 1048576 -u OPEN:"$TMP/src" "TCP:127.0.0.1:$port"
	wait $sink
	t1=$(now)
	plain+=("$(mbps "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")")

	# through the relay
	timeout 120 /usr/bin/time -f "%M" -o "$TMP/recv.rss" "$BIN/rvrecv" -q -n "sink$i" data >/dev/null &
	recv=$!
	for _ in $(seq 50); do
		curl -sf "http://$RV_SERVER/stats" | grep -q '"clients":1' && break
		sleep 0.05
	done
	t0=$(now)
	timeout 120 /usr/bin/time -f "%M" -o "$TMP/send.rss" "$BIN/rvsend" -q -n src -t "sink$i" data "$TMP/src" || echo "xfer: rvsend failed" >&2
	wait $recv
	t1=$(now)
	relay+=("$(mbps "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")")
	rss_send+=("$(cat "$TMP/send.rss")")
	rss_recv+=("$(cat "$TMP/recv.rss")")
done
srv_rss=$(awk '/VmHWM/ { print $2 }' "/proc/$SRV/status")

P=$(median "${plain[@]}") R=$(median "${relay[@]}")
printf '\n1 GB transfer, %d MB, median of %d (MB/s = 10^6 B/s)\n' "$SIZE_MB" "$RUNS"
printf '%-40s %s   (runs: %s)\n' "plain TCP pipe (socat -b 1M)" "$P MB/s" "${plain[*]}"
printf '%-40s %s   (runs: %s)\n' "rvsend -> rvserver -> rvrecv (data)" "$R MB/s" "${relay[*]}"
ratio=$(awk -v r="$R" -v p="$P" 'BEGIN { printf "%.2f", r / p }')
printf '%-40s %s\n' "relay / plain" "$ratio"
printf '%-40s rvserver %s kB, rvsend %s kB, rvrecv %s kB\n' "peak RSS" "$srv_rss" "$(median "${rss_send[@]}")" "$(median "${rss_recv[@]}")"
g=$(awk -v x="$ratio" 'BEGIN { print (x >= 0.6) ? "PASS" : "FAIL" }')
echo "GOAL relay >= 60% of the plain pipe: $g ($ratio)"
[ "$g" = PASS ]
