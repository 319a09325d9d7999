#!/usr/bin/env bash
# bench/p2pcast20.sh - issue 14's live benchmark: one 2 Mbit/s stream to N=20 peers, each in a
# network namespace of its own with a 4 Mbit/s upload (tbf), rvserver only introducing; then the
# same stream through rvserver (rvsend -g / rvrecv -g) to the same 20, in the same run. The
# network and both runs are tests/cli/netns_cast.sh's (run inside `unshare --net --mount`: root).
#
#   From each receiver's NetStream.MulticastInfo: continuity (fragments delivered / (delivered +
#   given up)), duplicate bytes (copies of fragments held / bytes received); from the publisher's:
#   its upload (bytes pushed and sent on request) over the stream's bytes. From RV_TEST_STAMPS
#   (when the publisher published each fragment, when each receiver's engine delivered it, on the
#   machine's monotonic clock): the latency publisher -> last peer (for each fragment, the latest
#   of the N receivers there from the start; p50 and p99 over the fragments, and over those
#   published from the stream's third second on, the start-up aside), and the joiner's
#   first fragment after it started (a joiner comes JOIN_AT s into the stream; its engine starts
#   it at a keyframe, so its first fragment is its first frame's). From the interfaces' counters
#   (ip -s link): the bytes rvserver sent during the p2p run (introductions and keep-alives only:
#   no media) and, in the rvserver run, its upload over what the publisher sent it.
#
# Environment: N=20 SECS=10 SIZE=640x360 FPS=25 BITRATE=2M RATE=4mbit (each peer's upload)
#              JOIN_AT=4 PUSH_LIMIT= (--push-limit, default the tools' 4) MAX_UPLOAD= (--max-upload
#              for every p2p peer, e.g. 3.5M; default none) LOSS= (RV_TEST_IMPAIR loss for the p2p peers) WATCHDOG=150 O=build
# Output: a table and GOAL lines, also written to bench/results/p2pcast20-latest.txt.
# Exit status: 0 measured and the goals met, 1 a goal missed, 2 a measurement failed (or not root).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
SBIN=$ROOT/$O/bin
export N=${N:-20} SECS=${SECS:-10} SIZE=${SIZE:-640x360} FPS=${FPS:-25} BITRATE=${BITRATE:-2M}
export RATE=${RATE:-4mbit} JOIN_AT=${JOIN_AT:-4} PUSH_LIMIT=${PUSH_LIMIT:-} MAX_UPLOAD=${MAX_UPLOAD:-}
LOSS=${LOSS:-}
WATCHDOG=${WATCHDOG:-150}
PIN=0
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init p2pcast20
for b in rvserver rvsend rvrecv rvgroup; do
	[ -x "$SBIN/$b" ] || { say "p2pcast20: $SBIN/$b missing (make all)"; exit 2; }
done
for t in unshare nsenter ip tc jq; do
	command -v "$t" >/dev/null || { say "p2pcast20: needs $t"; exit 2; }
done
if ! unshare --net --mount true 2>/dev/null; then	# not a failure: make bench runs it as any user
	say "p2pcast20: skipped: needs unshare --net --mount (root)"
	exit 0
fi

SPEC=$("$SBIN/rvgroup" p2p spec new castbench --key "$TMP/owner.key" 2>/dev/null)
[ -n "$SPEC" ] || { say "p2pcast20: no group spec"; exit 2; }
# shellcheck disable=SC2030,SC2031 # the scenario's environment only
(
	export SPEC STAMPS=1 SERVER_SIDE=1 IMPAIR=${LOSS:+loss=$LOSS} PATH=$SBIN:$PATH
	exec timeout -k 5 $((WATCHDOG - 10)) unshare --net --mount bash "$ROOT/tests/cli/netns_cast.sh" "$TMP"
) 2>"$TMP/netns.err" || { say "p2pcast20: the run failed: $(grep -v Killed "$TMP/netns.err" | tail -3)"; exit 2; }

info() { jq -r "select(.event == \"NetStream.MulticastInfo\") | .$2 // 0" "$TMP/$1.out" | tail -1; }
wire() { sed -n "s/^$1 //p" "$TMP/wire"; }
SENT_FRAMES=$(jq -r 'select(.event == "media") | .frames' "$TMP/tx.out")
PUB=$(info tx bytesPublished)
UP=$(($(info tx bytesPushedToPeers) + $(info tx bytesRequestedByPeers)))
DELIV=0 SKIP=0 DUP=0 GOT=0 MINF='' ENDED=0
RX=()
for ((i = 1; i <= N; i++)); do RX+=("r$i"); done
for r in "${RX[@]}" late; do
	f=$(jq -r 'select(.event == "media") | .frames' "$TMP/$r.out")
	[ -n "$f" ] || { say "p2pcast20: $r wrote no summary: $(tail -1 "$TMP/$r.err")"; exit 2; }
	[ "$r" = late ] || { [ -z "$MINF" ] || [ "$f" -lt "$MINF" ]; } && MINF=$f
	[ "$(cat "$TMP/$r.rc")" = 0 ] && grep -q '"NetGroup.MulticastStream.UnpublishNotify"' "$TMP/$r.out" && ENDED=$((ENDED + 1))
	DELIV=$((DELIV + $(info "$r" delivered)))
	SKIP=$((SKIP + $(info "$r" skipped)))
	DUP=$((DUP + $(info "$r" bytesDuplicate)))
	GOT=$((GOT + $(info "$r" bytesPushedFromPeers) + $(info "$r" bytesRequestedFromPeers)))
done
OVER=$(info tx fragmentsOverBudget) DECL=$(info tx pushDeclines)
for r in "${RX[@]}" late; do
	OVER=$((OVER + $(info "$r" fragmentsOverBudget))) DECL=$((DECL + $(info "$r" pushDeclines)))
done
CONT=$(awk -v d="$DELIV" -v s="$SKIP" 'BEGIN { if (d + s == 0) print "n/a"; else printf "%.4f", d / (d + s) }')
DUPR=$(awk -v d="$DUP" -v g="$GOT" 'BEGIN { if (g + d == 0) print "n/a"; else printf "%.1f", 100 * d / (g + d) }')
UPR=$(awk -v u="$UP" -v p="$PUB" 'BEGIN { if (p == 0) print "n/a"; else printf "%.2f", u / p }')
# latency: for each fragment published, the latest delivery among r1..rN (ms); p50 and p99
# (and in "$TMP/lat2" those published from the stream's third second on: the start-up aside)
(cd "$TMP" && awk 'FNR == 1 { f++ } $1 == "start" { next } f == 1 { pub[$1] = $2; if (t0 == "") t0 = $2; next }
	($1 in pub) { l = ($2 - pub[$1]) / 1000; if (!($1 in last) || l > last[$1]) last[$1] = l }
	END { for (s in last) print last[s], (pub[s] - t0 >= 2000000) }' tx.stamps "${RX[@]/%/.stamps}") | sort -g >"$TMP/lat"
awk '$2 == 1' "$TMP/lat" >"$TMP/lat2"
pct() { awk -v p="$1" '{ a[NR] = $1 } END { if (!NR) { print "n/a"; exit } i = int(NR * p + 0.999999); if (i < 1) i = 1; printf "%.0f", a[i] }' "$2"; }
LAT50=$(pct 0.5 "$TMP/lat") LAT99=$(pct 0.99 "$TMP/lat") LAT2_50=$(pct 0.5 "$TMP/lat2") LAT2_99=$(pct 0.99 "$TMP/lat2")
# the joiner: its first fragment after it started (ms)
FIRST=$(awk '$1 == "start" { s = $2; next } s && !d { d = ($2 - s) / 1000 } END { if (d) printf "%.0f", d; else print "n/a" }' "$TMP/late.stamps")
LATE_FRAMES=$(jq -r 'select(.event == "media") | .frames' "$TMP/late.out")
P2P_SRV=$(wire p2p_server_tx) P2P_PUB=$(wire p2p_publisher_tx)
RVS_SRV=$(wire rvserver_server_tx) RVS_PUB=$(wire rvserver_publisher_tx)
SRV_PCT=$(awk -v s="$P2P_SRV" -v p="$PUB" 'BEGIN { if (p == 0) print "n/a"; else printf "%.2f", 100 * s / p }')
PUB_WIRE=$(awk -v a="$P2P_PUB" -v b="$RVS_PUB" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }')
RVS_UP=$(awk -v a="$RVS_SRV" -v b="$RVS_PUB" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }')
RVS_MINF=$(for ((i = 1; i <= N; i++)); do jq -r 'select(.event == "media") | .frames' "$TMP/s$i.out"; done | sort -n | head -1)
goal() { awk -v v="$1" "BEGIN { exit !(v != \"n/a\" && v != \"\" && $2) }" && echo PASS || { STATUS=1; echo FAIL; }; }
G_UP=$(goal "$UPR" "v <= ${PUSH_LIMIT:-4} + 1") G_CONT=$(goal "$CONT" "v >= 0.995") G_DUP=$(goal "$DUPR" "v <= 10")
G_END=$(goal "$ENDED" "v == $N + 1") G_LAT=$(goal "$LAT99" "v <= 500") G_FIRST=$(goal "$FIRST" "v <= 2000")
G_SRV=$(goal "$SRV_PCT" "v < 1")
case "$G_UP$G_CONT$G_DUP$G_END$G_LAT$G_FIRST$G_SRV" in *FAIL*) [ "$STATUS" = 0 ] && STATUS=1 ;; esac
mkdir -p "$RESDIR"
{
	echo "p2pcast20 bench $(date -u +%Y-%m-%dT%H:%M:%SZ): one ${SECS} s stream ($SIZE, $FPS fps, $BITRATE) to N=$N receivers, each in its own netns with a $RATE upload (tbf)${LOSS:+, loss $LOSS}; a joiner at ${JOIN_AT} s; push limit ${PUSH_LIMIT:-4}; upload budget ${MAX_UPLOAD:-none}${MAX_UPLOAD:+ (--max-upload $MAX_UPLOAD)}"
	printf '%-58s %14s %14s\n' "" "p2p" "rvserver"
	printf '%-58s %14s %14s\n' "frames sent / fewest a receiver recorded" "$SENT_FRAMES / $MINF" "$(jq -r 'select(.event == "media") | .frames' "$TMP/scam.out") / $RVS_MINF"
	printf '%-58s %14s\n' "stream bytes published (p2p)" "$(thou "$PUB")"
	printf '%-58s %14s\n' "continuity (fragments delivered / due)" "$CONT"
	printf '%-58s %14s\n' "duplicate bytes / bytes received (%)" "$DUPR"
	printf '%-58s %14s\n' "fragments over the budget (not sent), all peers" "$OVER"
	printf '%-58s %14s\n' "neighbours declined (asked to take pushes from another)" "$DECL"
	printf '%-58s %14s\n' "latency publisher -> last peer, p50 / p99 (ms)" "$LAT50 / $LAT99"
	printf '%-58s %14s\n' "  the same from the stream's third second on (ms)" "$LAT2_50 / $LAT2_99"
	printf '%-58s %14s\n' "joiner: first fragment after it started (ms)" "$FIRST"
	printf '%-58s %14s\n' "joiner: frames recorded" "$LATE_FRAMES"
	printf '%-58s %14s %14s\n' "source's upload / stream (engine's counters)" "${UPR}x" "-"
	printf '%-58s %14s %14s\n' "publisher's bytes on the wire (p2p / through rvserver)" "$(thou "$P2P_PUB")" "$(thou "$RVS_PUB")"
	printf '%-58s %14s\n' "publisher's wire upload, p2p / through rvserver" "${PUB_WIRE}x"
	printf '%-58s %14s %14s\n' "packets the publisher's tbf dropped (upload full)" "$(wire p2p_publisher_drops)" "$(wire rvserver_publisher_drops)"
	printf '%-58s %14s\n' "packets the receivers' tbf dropped, in all" "$(wire p2p_receiver_drops)"
	printf '%-58s %14s %14s\n' "rvserver's bytes sent" "$(thou "$P2P_SRV")" "$(thou "$RVS_SRV")"
	printf '%-58s %14s %14s\n' "rvserver's upload / stream" "${SRV_PCT}%" "${RVS_UP}x"
	echo "GOAL publisher upload <= (push limit + 1) x the stream: ${UPR}x $G_UP"
	echo "GOAL continuity >= 0.995: $CONT $G_CONT"
	echo "GOAL first fragment <= 2000 ms after joining: $FIRST ms $G_FIRST"
	echo "GOAL p99 latency publisher -> last peer <= 500 ms: $LAT99 ms $G_LAT"
	echo "GOAL duplicate bytes <= 10%: ${DUPR}% $G_DUP"
	echo "GOAL no media through rvserver (< 1% of the stream): ${SRV_PCT}% $G_SRV"
	echo "GOAL every receiver (and the joiner) ended with the stream: $ENDED / $((N + 1)) $G_END"
	echo "rvserver relaying the same stream to the same $N uploads ${RVS_UP}x what the publisher sent it"
} | tee "$RESDIR/p2pcast20-latest.txt"
exit "$STATUS"
