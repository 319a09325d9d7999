#!/usr/bin/env bash
# bench/p2pobj.sh - one object to N peers: rvgroup p2p share/fetch against rvsend file through
# rvserver, side by side in one run (issue 14, "Performance: objects").
#
#   p2p:    an rvserver (the introducer only: it carries no object byte), one
#           `rvgroup p2p share` of a SIZE_MB file, then N `rvgroup p2p fetch` started at once.
#           Time to all N: from the fetchers' start until the last one exits. The sharer's upload:
#           its NetGroup.Replication.Info sendBytes (chunk bytes it served), read when it is
#           stopped; the ratio to the object's size is the goal (at most 1.5x).
#   rvsend: N `rvrecv -g GROUP file` (each in its own folder), then `rvsend -g GROUP file`,
#           timed until it exits (every receiver confirmed size and SHA-256); rvserver sends the
#           whole file to each receiver, so its upload is N x the size.
# Every copy's SHA-256 is checked on both sides.
#
# Environment: N=20 SIZE_MB=100 WATCHDOG=300 O=build (the issue's scale: about a minute in all)
# Output: a table and GOAL lines, also written to bench/results/p2pobj-latest.txt.
# Exit status: 0 measured and the goal met, 1 the goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
SBIN=$ROOT/$O/bin
N=${N:-20}
SIZE_MB=${SIZE_MB:-100}
WATCHDOG=${WATCHDOG:-300}
PIN=0
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init p2pobj
for b in rvserver rvsend rvrecv rvgroup; do
	[ -x "$SBIN/$b" ] || { say "p2pobj: $SBIN/$b missing (make all)"; exit 2; }
done
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- the server ----
"$SBIN/rvserver" -q -l 127.0.0.1 --port 0 --port-file "$TMP/ports" 2>"$TMP/server.err" &
PIDS+=("$!")
for _ in $(seq 1 100); do [ "$(wc -l 2>/dev/null <"$TMP/ports" || echo 0)" -ge 2 ] && break; sleep 0.1; done
TCP=$(sed -n 1p "$TMP/ports")
UDP=$(sed -n 2p "$TMP/ports")
[ -n "$UDP" ] || { say "p2pobj: rvserver wrote no ports"; exit 2; }
head -c $((SIZE_MB * 1000000)) /dev/urandom >"$TMP/object.bin"
SIZE=$((SIZE_MB * 1000000))
WANT=$(sha256sum "$TMP/object.bin" | cut -d' ' -f1)

# ---- p2p ----
p2p_side() {
	local spec i t0 pids=() id rc
	spec=$("$SBIN/rvgroup" p2p spec new objbench --key "$TMP/owner.key" 2>/dev/null)
	"$SBIN/rvgroup" p2p share "$spec" "$TMP/object.bin" --json --key "$TMP/s.key" --bind 127.0.0.1:0 \
		-s "127.0.0.1:$UDP" >"$TMP/share.out" 2>"$TMP/share.err" &
	SHARER=$!
	PIDS+=("$SHARER")
	for _ in $(seq 1 300); do grep -q Replication.Share "$TMP/share.out" 2>/dev/null && break; sleep 0.1; done
	id=$(jq -r 'select(.code == "NetGroup.Replication.Share") | .object' "$TMP/share.out")
	[ -n "$id" ] || { say "p2pobj: the sharer printed no object ID"; return 1; }
	t0=$(now_ms)
	for i in $(seq 1 "$N"); do
		timeout 240 "$SBIN/rvgroup" p2p fetch "$spec" "$id" -o "$TMP/p2p$i.bin" --json --wait 30 \
			--key "$TMP/f$i.key" --bind 127.0.0.1:0 -s "127.0.0.1:$UDP" >"$TMP/f$i.out" 2>"$TMP/f$i.err" &
		pids+=("$!")
		PIDS+=("$!")
	done
	for i in "${!pids[@]}"; do
		rc=0; wait "${pids[$i]}" || rc=$?; [ "$rc" = 0 ] || { say "p2pobj: fetcher $((i + 1)) failed (exit $rc): $(tail -n 3 "$TMP/f$((i + 1)).err" | tr "\n" " ")"; return 1; }
	done
	P2P_MS=$(($(now_ms) - t0))
	stop_pid "$SHARER"
	SENT=$(jq -r 'select(.code == "NetGroup.Replication.Info") | .sendBytes' "$TMP/share.out")
	for i in $(seq 1 "$N"); do
		[ "$(sha256sum "$TMP/p2p$i.bin" | cut -d' ' -f1)" = "$WANT" ] || { say "p2pobj: copy $i is wrong"; return 1; }
		rm -f "$TMP/p2p$i.bin"
	done
}

# ---- rvsend file through rvserver ----
rvsend_side() {
	local i t0 pids=() rc
	for i in $(seq 1 "$N"); do
		mkdir -p "$TMP/r$i"
		timeout 240 "$SBIN/rvrecv" -q -s "127.0.0.1:$TCP" -n "recv$i" -g objbench -d "$TMP/r$i" -c 1 --no-progress \
			file >/dev/null 2>"$TMP/r$i.err" &
		pids+=("$!")
		PIDS+=("$!")
	done
	sleep 1
	t0=$(now_ms)
	timeout 240 "$SBIN/rvsend" -q -s "127.0.0.1:$TCP" -n sender -g objbench file "$TMP/object.bin" \
		2>"$TMP/send.err" || {
		say "p2pobj: rvsend failed: $(tail -1 "$TMP/send.err")"
		for i in "${!pids[@]}"; do
			rc=0
			wait "${pids[$i]}" || rc=$?
			[ "$rc" = 0 ] || say "  rvrecv $((i + 1)) exit $rc: $(tail -n 2 "$TMP/r$((i + 1)).err" | tr '\n' ' ')"
		done
		return 1
	}
	RVSEND_MS=$(($(now_ms) - t0))
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || true; done
	for i in $(seq 1 "$N"); do
		[ "$(sha256sum "$TMP/r$i/object.bin" | cut -d' ' -f1)" = "$WANT" ] || { say "p2pobj: rvrecv copy $i is wrong"; return 1; }
	done
}

P2P_MS= RVSEND_MS= SENT=
p2p_side || STATUS=2
rvsend_side || STATUS=2
RATIO=$(awk -v s="$SENT" -v z="$SIZE" 'BEGIN { if (s == "") print "n/a"; else printf "%.2f", s / z }')
mkdir -p "$RESDIR"
{
	echo "p2pobj bench $(date -u +%Y-%m-%dT%H:%M:%SZ): one ${SIZE_MB} MB object to N=$N peers on 127.0.0.1"
	printf '%-44s %14s %14s\n' "" "p2p share/fetch" "rvsend file"
	printf '%-44s %14s %14s\n' "time to all N (ms)" "${P2P_MS:-n/a}" "${RVSEND_MS:-n/a}"
	printf '%-44s %14s %14s\n' "source's upload / object size" "${RATIO}x" "${N}.00x (rvserver)"
	printf '%-44s %14s\n' "time ratio p2p / rvsend" "$(ratio "$P2P_MS" "$RVSEND_MS")"
	if [ "$RATIO" != n/a ] && awk -v r="$RATIO" 'BEGIN { exit !(r <= 1.5) }'; then
		echo "GOAL sharer upload <= 1.5 x the object: ${RATIO}x PASS"
	else
		echo "GOAL sharer upload <= 1.5 x the object: ${RATIO}x FAIL"
		[ "$STATUS" = 0 ] && STATUS=1
	fi
} | tee "$RESDIR/p2pobj-latest.txt"
exit "$STATUS"
