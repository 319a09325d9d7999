#!/usr/bin/env bash
# netns_cast.sh - one live stream to N peers, each in a network namespace of
# its own with a limited upload (issue 14's live test and benchmark); shared by
# tests/cli/p2pcast.bats and bench/p2pcast20.sh. Run it as root inside a
# namespace of its own, which it fills and leaves to die with it:
#
#     unshare --net --mount bash tests/cli/netns_cast.sh DIR
#
# The network: a bridge br0 (10.77.0.1/16, the outer namespace, where rvserver
# runs, its upload not limited) and, for each peer, a namespace pI (/run/netns
# on a private tmpfs) joined to br0 by a veth, its address 10.77.1.(I+1); the
# peer's side of the veth (its egress, so its upload) has
#     tc qdisc add dev eth0 root tbf rate $RATE burst 32kbit latency 400ms
# p0 is the publisher, p1..pN the receivers, p(N+1) the joiner.
#
# The p2p run: rvserver introduces; the N receivers (rvrecv --p2p) join; the
# publisher (rvsend --p2p) sends lavfi's testsrc2 for SECS s; at JOIN_AT s a
# joiner "late" starts; at KILL_AT s the receivers show their counters
# (SIGUSR1) and the KILL_N that pushed the most fragments to peers (rN left
# out: it is the one whose recording counts) get kill -9 (their names in
# DIR/killed). Each receiver left ends with the stream; its exit code is in
# DIR/NAME.rc. With STAMPS=1, RV_TEST_STAMPS (sdprec.c, p2pout.c) writes
# DIR/NAME.stamps for each.
# The rvserver run (SERVER_SIDE=1): the same stream (rvsend -g) through
# rvserver to N rvrecv -g in the same namespaces, one after the other.
# Bytes on the wire (ip -s link, DIR/wire): br0's TX (what rvserver sent),
# p0's eth0 TX (what the publisher sent), for each run; and the packets the
# tbf of the publisher and of the receivers dropped (their upload was full).
#
# Environment: SPEC (the group spec), N=20 SECS=6 SIZE=320x240 FPS=25
#   BITRATE=1M RATE=4mbit JOIN_AT= KILL_AT= KILL_N=2 SERVER_SIDE=0 STAMPS=0
#   IMPAIR= (RV_TEST_IMPAIR for the p2p peers) PUSH_LIMIT= (--push-limit
#   for every p2p peer; default the tools') MAX_UPLOAD= (--max-upload for
#   every p2p peer, bits/s as 3.5M; default none). RV_SLOW=1 scales every bounded
#   wait (tests/cli/helpers.bash's). The tools come from PATH.
#   The caller bounds the run (timeout): at SIGTERM every tool started is
#   killed.
# Exit: 0 the runs went through (the figures are for the caller to judge),
# 1 a step failed (said on stderr).
set -u
DIR=$1
N=${N:-20} SECS=${SECS:-6} SIZE=${SIZE:-320x240} FPS=${FPS:-25} BITRATE=${BITRATE:-1M}
RATE=${RATE:-4mbit} JOIN_AT=${JOIN_AT:-} KILL_AT=${KILL_AT:-} KILL_N=${KILL_N:-2}
SERVER_SIDE=${SERVER_SIDE:-0} STAMPS=${STAMPS:-0} IMPAIR=${IMPAIR:-} PUSH_LIMIT=${PUSH_LIMIT:-}
MAX_UPLOAD=${MAX_UPLOAD:-}
SLOW=${RV_SLOW:-1}	# the bounded waits' factor (ASan)
cd "$DIR" || exit 1
PIDS=()
say() { printf 'netns_cast: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck disable=SC2317 # the EXIT trap's
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# ---- the network ----
mkdir -p /run/netns && mount -t tmpfs netns /run/netns || die "cannot mount /run/netns (unshare --mount?)"
ip link set lo up
ip link add br0 type bridge && ip addr add 10.77.0.1/16 dev br0 && ip link set br0 up || die "no bridge"
for ((i = 0; i <= N + 1; i++)); do
	ip netns add "p$i" &&
		ip link add "v$i" type veth peer name eth0 netns "p$i" &&
		ip link set "v$i" master br0 up &&
		ip -n "p$i" link set lo up &&
		ip -n "p$i" addr add "10.77.1.$((i + 1))/16" dev eth0 &&
		ip -n "p$i" link set eth0 up &&
		tc -n "p$i" qdisc add dev eth0 root tbf rate "$RATE" burst 32kbit latency 400ms ||
		die "peer namespace p$i: no veth or tbf"
done
# $(ns I) CMD...: CMD in pI (nsenter execs it: $! is the tool's PID, not a
# subshell's as with a function run in the background)
ns() { echo "nsenter --net=/run/netns/p$1 --"; }
# tx_bytes [I]: the bytes sent by br0 (rvserver), or by pI's eth0
tx_bytes() {
	if [ $# = 0 ]; then
		ip -j -s link show dev br0 | jq '.[0].stats64.tx.bytes'
	else
		ip -n "p$1" -j -s link show dev eth0 | jq '.[0].stats64.tx.bytes'
	fi
}
# drops I: the packets pI's tbf dropped (its upload was full)
drops() { tc -n "p$1" -s -j qdisc show dev eth0 | jq '[.[] | select(.kind == "tbf") | .drops] | add // 0'; }
drops_rx() { local i s=0; for ((i = 1; i <= N + 1; i++)); do s=$((s + $(drops "$i"))); done; echo "$s"; }
# wait_line FILE REGEX TENTHS: bounded
wait_line() {
	local t
	for ((t = 0; t < $3; t++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# settle PID TENTHS: wait for PID (our child) to exit, bounded; RC its exit code (255: killed at the bound)
settle() {
	local t
	for ((t = 0; t < $2; t++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		RC=255
		return
	fi
	wait "$1"
	RC=$?
}
stamps() { ((STAMPS)) && echo "RV_TEST_STAMPS=$DIR/$1.stamps"; }

rvserver -l 10.77.0.1 --port 0 --port-file srv.port 2>srv.err &
PIDS+=("$!")
for ((t = 0; t < 50; t++)); do
	[ -s srv.port ] && [ "$(wc -l <srv.port)" -ge 2 ] && break
	sleep 0.1
done
TCP=$(sed -n 1p srv.port) UDP=$(sed -n 2p srv.port)
[ -n "$UDP" ] || die "rvserver wrote no ports: $(tail -1 srv.err)"
SRC=(-f lavfi -i "testsrc2=size=$SIZE:rate=$FPS" --gop "$FPS" --bitrate "$BITRATE" --duration "$SECS")

# ---- p2p ----
# receiver NAME I: rvrecv --p2p in pI
receiver() {
	# shellcheck disable=SC2046 # env's arguments: none or one
	$(ns "$2") env $(stamps "$1") ${IMPAIR:+RV_TEST_IMPAIR=$IMPAIR} rvrecv media --p2p "$SPEC" \
		--server "10.77.0.1:$UDP" --key "$1.key" ${PUSH_LIMIT:+--push-limit $PUSH_LIMIT} ${MAX_UPLOAD:+--max-upload $MAX_UPLOAD} --json -v -o "$1.mkv" \
		>"$1.out" 2>"$1.err" &
	PIDS+=("$!")
	eval "PID_$1=$!"
}
RX=()
for ((i = 1; i <= N; i++)); do
	receiver "r$i" "$i"
	RX+=("r$i")
done
for r in "${RX[@]}"; do
	wait_line "$r.err" 'joined the peer group' $((100 * SLOW)) || die "$r did not join: $(tail -1 "$r.err")"
done
say "$N receivers joined"
W0=$(tx_bytes) P0=$(tx_bytes 0)
# shellcheck disable=SC2046
$(ns 0) env $(stamps tx) ${IMPAIR:+RV_TEST_IMPAIR=$IMPAIR} rvsend media --p2p "$SPEC" --server "10.77.0.1:$UDP" \
	--key tx.key ${PUSH_LIMIT:+--push-limit $PUSH_LIMIT} ${MAX_UPLOAD:+--max-upload $MAX_UPLOAD} --json -v "${SRC[@]}" >tx.out 2>tx.err &
PID_tx=$!
PIDS+=("$PID_tx")
T0=$(date +%s%N)
since() { echo $((($(date +%s%N) - T0) / 1000000)); }	# ms since the publisher started
until_ms() { local d=$(($1 - $(since))); ((d > 0)) && sleep "$(awk -v d="$d" 'BEGIN { print d / 1000 }')"; return 0; }
: >killed
EVENTS=()
[ -n "$JOIN_AT" ] && EVENTS+=("$(awk -v s="$JOIN_AT" 'BEGIN { printf "%d", s * 1000 }') join")
[ -n "$KILL_AT" ] && EVENTS+=("$(awk -v s="$KILL_AT" 'BEGIN { printf "%d", s * 1000 }') kill")
while read -r at what; do
	[ -n "$what" ] || continue
	until_ms "$at"
	if [ "$what" = join ]; then
		receiver late $((N + 1))
		RX+=(late)
		continue
	fi
	# the counters now (SIGUSR1), then kill -9 of those that pushed the most
	before=()
	for ((i = 1; i < N; i++)); do
		before[i]=$(grep -c '"NetStream.MulticastInfo"' "r$i.out")
		kill -USR1 "$(eval echo "\$PID_r$i")" 2>/dev/null
	done
	t=$(($(since) + 2000 * SLOW))
	while (($(since) < t)); do	# every one's counters came, or 2 s
		for ((i = 1; i < N; i++)); do
			(($(grep -c '"NetStream.MulticastInfo"' "r$i.out") > before[i])) || break
		done
		((i == N)) && break
		sleep 0.1
	done
	for ((i = 1; i < N; i++)); do
		echo "$(jq -s 'map(select(.event == "NetStream.MulticastInfo")) | last | .fragmentsPushedToPeers // 0' "r$i.out") r$i"
	done | sort -rn | head -n "$KILL_N" >pushed
	while read -r count name; do
		kill -KILL "$(eval echo "\$PID_$name")"
		echo "$name $count" >>killed
		say "kill -9 $name (it had pushed $count fragments to peers) at $(since) ms"
	done <pushed
done < <(printf '%s\n' "${EVENTS[@]}" | sort -n)
settle "$PID_tx" $(((SECS + 20) * 10 * SLOW))
say "the publisher exited at $(since) ms"
echo "$RC" >tx.rc
[ "$RC" = 0 ] || say "rvsend --p2p exited $RC: $(tail -1 tx.err)"
W1=$(tx_bytes) P1=$(tx_bytes 0)
for r in "${RX[@]}"; do
	grep -q "^$r " killed && continue
	settle "$(eval echo "\$PID_$r")" $((150 * SLOW))
	echo "$RC" >"$r.rc"
done
say "the receivers ended at $(since) ms"
echo "p2p_server_tx $((W1 - W0))" >wire
echo "p2p_publisher_tx $((P1 - P0))" >>wire
echo "p2p_publisher_drops $(drops 0)" >>wire
echo "p2p_receiver_drops $(drops_rx)" >>wire

# ---- the same stream through rvserver ----
if ((SERVER_SIDE)); then
	SRX=()
	for ((i = 1; i <= N; i++)); do
		$(ns "$i") rvrecv -s "10.77.0.1:$TCP" -n "s$i" -g castgrp --json media -o "s$i.mkv" >"s$i.out" 2>"s$i.err" &
		PIDS+=("$!")
		SRX+=("$!")
	done
	for ((i = 1; i <= N; i++)); do
		wait_line "s$i.err" 'taking media over UDP' 100 || die "s$i: $(tail -1 "s$i.err")"
	done
	W0=$(tx_bytes) P0=$(tx_bytes 0)
	$(ns 0) rvsend -s "10.77.0.1:$TCP" -n cam -g castgrp --json media "${SRC[@]}" >scam.out 2>scam.err &
	PIDS+=("$!")
	settle "$!" $(((SECS + 20) * 10))
	echo "$RC" >scam.rc
	[ "$RC" = 0 ] || say "rvsend -g exited $RC: $(tail -1 scam.err)"
	W1=$(tx_bytes) P1=$(tx_bytes 0)
	for ((i = 1; i <= N; i++)); do
		settle "${SRX[i - 1]}" 100
		echo "$RC" >"s$i.rc"
	done
	echo "rvserver_server_tx $((W1 - W0))" >>wire
	echo "rvserver_publisher_tx $((P1 - P0))" >>wire
	echo "rvserver_publisher_drops $(($(drops 0) - $(sed -n 's/^p2p_publisher_drops //p' wire)))" >>wire
fi
exit 0
