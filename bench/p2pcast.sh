#!/usr/bin/env bash
# bench/p2pcast.sh - one live stream to N receivers in a peer group: rvsend --p2p to N rvrecv --p2p
# on 127.0.0.1, rvserver only introducing (issue 14, "Performance: live"; a first slice of it:
# no upload limits, no netns, no latency measure yet).
#
#   The receivers start first; the publisher sends lavfi's testsrc2 (SIZE at FPS, BITRATE, a
#   keyframe a second) for SECS seconds, ends the stream, stays 2 s for the last pulls and
#   exits; the receivers end by themselves on the stream's end (those still running 15 s after
#   the publisher are stopped, and counted: a GOAL). From each one's NetStream.MulticastInfo: continuity (fragments
#   delivered / (delivered + given up)), duplicate bytes (copies of fragments held / bytes
#   received), frames recorded against frames sent. From the publisher's: its upload (bytes
#   pushed and sent on request) over the stream's bytes, against N x for rvserver relaying the
#   same stream to N receivers (which this slice does not run: it is N x by construction).
#
# Environment: N=8 SECS=10 SIZE=320x240 FPS=25 BITRATE=1M LOSS= (RV_TEST_IMPAIR loss, e.g. 0.02)
#              WATCHDOG=300 O=build
# Output: a table and GOAL lines, also written to bench/results/p2pcast-latest.txt.
# Exit status: 0 measured and the goals met, 1 a goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
SBIN=$ROOT/$O/bin
N=${N:-8}
SECS=${SECS:-10}
SIZE=${SIZE:-320x240}
FPS=${FPS:-25}
BITRATE=${BITRATE:-1M}
LOSS=${LOSS:-}
WATCHDOG=${WATCHDOG:-300}
PIN=0
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init p2pcast
for b in rvserver rvsend rvrecv rvgroup; do
	[ -x "$SBIN/$b" ] || { say "p2pcast: $SBIN/$b missing (make all)"; exit 2; }
done
[ -n "$LOSS" ] && export RV_TEST_IMPAIR="loss=$LOSS"

"$SBIN/rvserver" -q -l 127.0.0.1 --port 0 --port-file "$TMP/ports" 2>"$TMP/server.err" &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -f "$TMP/ports" ] && [ "$(wc -l <"$TMP/ports")" -ge 2 ] && break; sleep 0.1; done
UDP=$(sed -n 2p "$TMP/ports")
[ -n "$UDP" ] || { say "p2pcast: rvserver wrote no ports"; exit 2; }
SPEC=$("$SBIN/rvgroup" p2p spec new castbench --key "$TMP/owner.key" 2>/dev/null)

RX=()
for i in $(seq 1 "$N"); do
	timeout 240 "$SBIN/rvrecv" --p2p "$SPEC" -s "127.0.0.1:$UDP" --key "$TMP/r$i.key" --json media \
		-o "$TMP/r$i.mkv" >"$TMP/r$i.out" 2>"$TMP/r$i.err" &
	RX+=("$!")
	PIDS+=("$!")
done
for i in $(seq 1 "$N"); do
	for _ in $(seq 1 100); do grep -q 'joined the peer group' "$TMP/r$i.err" 2>/dev/null && break; sleep 0.1; done
done
timeout 240 "$SBIN/rvsend" --p2p "$SPEC" -s "127.0.0.1:$UDP" --key "$TMP/tx.key" --json media \
	-f lavfi -i "testsrc2=size=$SIZE:rate=$FPS" --gop "$FPS" --bitrate "$BITRATE" --duration "$SECS" \
	>"$TMP/tx.out" 2>"$TMP/tx.err" || { say "p2pcast: rvsend failed: $(tail -1 "$TMP/tx.err")"; exit 2; }
ENDED=0
for _ in $(seq 1 150); do	# the receivers end with the stream (bounded: 15 s)
	alive=0
	for pid in "${RX[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
	((alive)) || break
	sleep 0.1
done
for pid in "${RX[@]}"; do stop_pid "$pid"; done
for i in $(seq 1 "$N"); do
	grep -q '"NetGroup.MulticastStream.UnpublishNotify"' "$TMP/r$i.out" && ENDED=$((ENDED + 1))
done

info() { jq -r "select(.event == \"NetStream.MulticastInfo\") | .$2 // 0" "$1"; }
SENT_FRAMES=$(jq -r 'select(.event == "media") | .frames' "$TMP/tx.out")
PUB=$(info "$TMP/tx.out" bytesPublished)
UP=$(($(info "$TMP/tx.out" bytesPushedToPeers) + $(info "$TMP/tx.out" bytesRequestedByPeers)))
DELIV=0 SKIP=0 DUP=0 GOT=0 MINF=
for i in $(seq 1 "$N"); do
	f=$(jq -r 'select(.event == "media") | .frames' "$TMP/r$i.out")
	[ -n "$f" ] || { say "p2pcast: receiver $i wrote no summary: $(tail -1 "$TMP/r$i.err")"; exit 2; }
	[ -z "$MINF" ] || [ "$f" -lt "$MINF" ] && MINF=$f
	DELIV=$((DELIV + $(info "$TMP/r$i.out" delivered)))
	SKIP=$((SKIP + $(info "$TMP/r$i.out" skipped)))
	DUP=$((DUP + $(info "$TMP/r$i.out" bytesDuplicate)))
	GOT=$((GOT + $(info "$TMP/r$i.out" bytesPushedFromPeers) + $(info "$TMP/r$i.out" bytesRequestedFromPeers)))
done
CONT=$(awk -v d="$DELIV" -v s="$SKIP" 'BEGIN { if (d + s == 0) print "n/a"; else printf "%.4f", d / (d + s) }')
DUPR=$(awk -v d="$DUP" -v g="$GOT" 'BEGIN { if (g + d == 0) print "n/a"; else printf "%.1f", 100 * d / (g + d) }')
UPR=$(awk -v u="$UP" -v p="$PUB" 'BEGIN { if (p == 0) print "n/a"; else printf "%.2f", u / p }')
goal() { awk -v v="$1" "BEGIN { exit !(v != \"n/a\" && $2) }" && echo PASS || { STATUS=1; echo FAIL; }; }
G_UP=$(goal "$UPR" "v <= 5") G_CONT=$(goal "$CONT" "v >= 0.995") G_DUP=$(goal "$DUPR" "v <= 10")
G_END=$(goal "$ENDED" "v == $N")
case "$G_UP$G_CONT$G_DUP$G_END" in *FAIL*) [ "$STATUS" = 0 ] && STATUS=1 ;; esac
mkdir -p "$RESDIR"
{
	echo "p2pcast bench $(date -u +%Y-%m-%dT%H:%M:%SZ): one ${SECS} s stream ($SIZE, $FPS fps, $BITRATE) to N=$N receivers on 127.0.0.1${LOSS:+, loss $LOSS}"
	printf '%-52s %14s\n' "stream bytes published" "$(thou "$PUB")"
	printf '%-52s %14s\n' "frames sent / fewest frames a receiver recorded" "$SENT_FRAMES / $MINF"
	printf '%-52s %14s\n' "continuity (fragments delivered / due)" "$CONT"
	printf '%-52s %14s\n' "duplicate bytes / bytes received (%)" "$DUPR"
	printf '%-52s %14s %14s\n' "source's upload / stream" "${UPR}x (p2p)" "${N}.00x (rvserver)"
	echo "GOAL publisher upload <= (push limit + 1) x the stream: ${UPR}x $G_UP"
	echo "GOAL continuity >= 0.995: $CONT $G_CONT"
	echo "GOAL duplicate bytes <= 10%: ${DUPR}% $G_DUP"
	echo "GOAL every receiver ended with the stream (no signal): $ENDED / $N $G_END"
} | tee "$RESDIR/p2pcast-latest.txt"
exit "$STATUS"
