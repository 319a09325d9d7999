#!/usr/bin/env bash
# bench/turn.sh - rvturn bench against turnutils_uclient (coturn's own load client), both
# driving the same coturn with the same load, in one run on 127.0.0.1.
#
# 1. CPU per packet. For each load CLIENTS:PPS (allocations : packets/s each allocation sends),
#    alternated, RUNS runs each:
#      turnutils_uclient -m CLIENTS -z 1000/PPS -c (channels, one allocation per client) to a
#        turnutils_peer echo; CPU and packets over a WINDOW-second window once every session
#        sends (its sessions start 1-6 s after connecting), from its per-second
#        tot_send_msgs/tot_recv_msgs lines and /proc/PID/task/*/schedstat read as each line
#        arrives. us/packet = CPU / (sent + received).
#      rvturn bench --clients CLIENTS --rate PPS --burst BURST --duration WINDOW --peer the same
#        turnutils_peer: CLIENTS allocations each sending to that echo and taking its echoes
#        back, the work uclient does; us/packet = cpu_s / (sent + relayed) (cpu_s covers the
#        send phase). PAIRS=1: rvturn's own pairs instead (CLIENTS/2 senders and CLIENTS/2 TURN
#        echoers, whose work is timed but whose echoes are not counted; the line after the
#        medians counts them too). Both pace alike: with BURST=1 (the default) rvturn's tick is
#        the period, so every sender sends one packet at a time, each at its own time, as
#        uclient does on its -z timer (BURST=16 is rvturn's default: bursts of 16 every 16 ms
#        at 1000/s, for comparison by hand); rvturn reads its sockets every 10 ms (its default
#        --read-every: no arrival wakes it), and its lines show its median round trip, taken
#        from the kernel's receive timestamps.
#    Both put the same load on coturn: CLIENTS allocations, each sending and receiving PPS.
#    Figure: median us/packet of each, ratio rvturn/uclient; coturn's CPU % in every run.
# 2. Offer: rvturn bench --clients 2 --rate OFFER_RATE/2 --peer (its default bursts) to a second
#    turnutils_peer, rvturn and that echo both on CPU 1: OFFER_RATE packets/s in all, each
#    relayed twice by coturn (to the echo and back: 2 x OFFER_RATE relays/s); the figure is what
#    came back: relayed / duration_s, and a run that lost more than OFFER_MAX_LOSS % does not
#    meet the offer (FAIL), whatever it sent. Then, for information, the same rate between
#    rvturn's own pairs (--clients 2 --rate OFFER_RATE, no --peer: allocation to allocation,
#    which costs coturn twice the relays per packet: relayed / 2 / duration_s). Both lines
#    say where what was lost was dropped: coturn's listening sockets, turnutils_peer's, rvturn's
#    own, and the rest of the machine's UDP receive-buffer drops (coturn's relay sockets,
#    which close with the run, and whatever else runs).
# coturn is pinned to CPU 0, the clients to CPU 1 (turnutils_peer's echo for the comparison is
# on CPU 0 with coturn, the offer's on CPU 1); PIN=0 pins nothing.
#
# Environment: RUNS=3 WINDOW=5 LOADS="50:50 20:1000" SIZE=160 BURST=1 PAIRS=0 OFFER_RATE=102000
#              OFFER_DURATION=3 OFFER_MAX_LOSS=2 PIN=1 O=build RVTURN=path MAX_LOSS=1 WATCHDOG=175
#              KEEP=0
# Output: per-run lines, medians, ratios and GOAL lines on stdout, also written to
# bench/results/turn-latest.txt (raw client output: bench/results/turn-latest.log).
# Exit status: 0 both goals met, 1 a goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
RVTURN=${RVTURN:-$ROOT/$O/bin/rvturn}
UCLIENT=${UCLIENT:-$(command -v turnutils_uclient || echo /usr/bin/turnutils_uclient)}
UPEER=${UPEER:-$(command -v turnutils_peer || echo /usr/bin/turnutils_peer)}
TURNSERVER=${TURNSERVER:-$(command -v turnserver || echo /usr/bin/turnserver)}
RUNS=${RUNS:-3}
WINDOW=${WINDOW:-5}
PAIRS=${PAIRS:-0}
LOADS=${LOADS:-"50:50 20:1000"}
SIZE=${SIZE:-160}
OFFER_RATE=${OFFER_RATE:-102000}	# 2 % above the goal: the loss it allows still relays 100,000
OFFER_DURATION=${OFFER_DURATION:-3}
OFFER_GOAL=100000
OFFER_MAX_LOSS=${OFFER_MAX_LOSS:-2}
BURST=${BURST:-1}
PIN=${PIN:-1}
MAX_LOSS=${MAX_LOSS:-1}
WATCHDOG=${WATCHDOG:-175}
KEEP=${KEEP:-0}
RESDIR=$ROOT/bench/results
USER_NAME=alice
PASSWORD=s3cret
export RV_TURN_PASSWORD=$PASSWORD

TMP=$(mktemp -d /tmp/rvturnbench.XXXXXX)
PIDS=()
STOPPED=()	# turnutils_uclient runs stopped after their window (see uclient_run)
WATCH_PID=
FAILED=0
RETRIES_437=0

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"	# free_port (say, too)
out() { printf '%s\n' "$*"; printf '%s\n' "$*" >>"$TMP/summary"; }

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local p i
	exec 3<&- 2>/dev/null
	for p in "${STOPPED[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "$KEEP" = 1 ]; then say "turn: files kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'say "turn: interrupted"; exit 2' INT TERM

# Whole-run watchdog: TERM this script; the EXIT trap then stops everything it started.
(
	end=$((SECONDS + WATCHDOG))
	while [ "$SECONDS" -lt "$end" ]; do sleep 1; done
	say "turn: watchdog: run exceeded ${WATCHDOG}s"
	kill -TERM $$
) 2>/dev/null &
WATCH_PID=$!

for b in "$RVTURN" "$UCLIENT" "$UPEER" "$TURNSERVER"; do
	[ -x "$b" ] || { say "turn: $b not found (make; apt-get install coturn)"; exit 2; }
done
command -v jq >/dev/null || { say "turn: jq is missing"; exit 2; }
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_SRV=(taskset -c 0)
	PIN_CLI=(taskset -c 1)
else
	PIN=0
	PIN_SRV=()
	PIN_CLI=()
fi
mkdir -p "$RESDIR"
LOG=$RESDIR/turn-latest.log
: >"$LOG"

# ---- helpers ----------------------------------------------------------------------

# CPU time of PID in ns, summed over its threads (schedstat: ns on CPU), into CPU_NS.
cpu_ns() {
	local t s
	CPU_NS=0
	for t in /proc/"$1"/task/*/schedstat; do
		read -r s _ <"$t" 2>/dev/null && CPU_NS=$((CPU_NS + s))
	done
}
now_us() { local t=${EPOCHREALTIME/./}; NOW_US=$((10#$t)); }
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# a run counts when the client sent >= 95 % of the load and lost <= MAX_LOSS %
ok_run() { awk -v l="$1" -v r="$2" -v x="$MAX_LOSS" 'BEGIN { exit !(l <= x && r >= 95) }'; }

# wait until PID has a UDP socket on 127.0.0.1:PORT (max 5 s)
wait_udp() {
	local i
	for i in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || return 1
		ss -Hnuap "sport = :$2" 2>/dev/null | grep -q "pid=$1," && return 0
		sleep 0.1
	done
	return 1
}

# What the UDP sockets on the local ports PORT... dropped for a full receive buffer (the drops
# column of /proc/net/udp{,6}), summed, into DROPS. Read 3 times, the largest count of each
# socket: a read while sockets come and go (coturn closes relay sockets as a run ends) can miss
# some.
port_drops() {
	local ports=' ' p
	for p in "$@"; do ports+="$(printf '%04X' "$p") "; done
	DROPS=$(cat /proc/net/udp /proc/net/udp6 /proc/net/udp /proc/net/udp6 /proc/net/udp /proc/net/udp6 2>/dev/null |
		awk -v ports="$ports" '$10 ~ /^[0-9]+$/ && index(ports, " " substr($2, length($2) - 3) " ") && $NF > d[$10] { d[$10] = $NF }
			END { for (i in d) t += d[i]; print t + 0 }')
}
# the machine's UDP receive-buffer drops (UdpRcvbufErrors) into RCVBUF_ERR
rcvbuf_errors() {
	RCVBUF_ERR=$(awk '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") k = i; n = 1 } else print $k + 0 }' /proc/net/snmp)
}

# ---- coturn and the echo peer -----------------------------------------------------------

# free_port (common.sh): below the ephemeral range, so also outside coturn's relay range
# (49152-65535); checked with ss, since coturn sets SO_REUSEPORT and a bind test would not see it.
PORT=$(free_port both 2) || { say "turn: no free port"; exit 2; }
"${PIN_SRV[@]}" "$TURNSERVER" -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$PORT" \
	--allow-loopback-peers --lt-cred-mech --user="$USER_NAME:$PASSWORD" --realm=bench.test \
	--no-tls --no-dtls --no-tcp --no-cli --no-rfc5780 --log-file=stdout --simple-log \
	--pidfile="$TMP/turnserver.pid" >"$TMP/coturn.log" 2>&1 &
COTURN=$!
PIDS+=("$COTURN")
wait_udp "$COTURN" "$PORT" || { say "turn: coturn not listening on $PORT: $(tail -3 "$TMP/coturn.log")"; exit 2; }
PEER_PORT=$(free_port udp) || { say "turn: no free port"; exit 2; }
"${PIN_SRV[@]}" "$UPEER" -L 127.0.0.1 -p "$PEER_PORT" >"$TMP/peer.log" 2>&1 &
PEER=$!
PIDS+=("$PEER")
wait_udp "$PEER" "$PEER_PORT" || { say "turn: turnutils_peer not listening on $PEER_PORT"; exit 2; }
URI=turn:127.0.0.1:$PORT
# the offer's echo, on the clients' CPU: CPU 0 is coturn's alone then
PEER2_PORT=$(free_port udp) || { say "turn: no free port"; exit 2; }
"${PIN_CLI[@]}" "$UPEER" -L 127.0.0.1 -p "$PEER2_PORT" >"$TMP/peer2.log" 2>&1 &
PEER2=$!
PIDS+=("$PEER2")
wait_udp "$PEER2" "$PEER2_PORT" || { say "turn: turnutils_peer not listening on $PEER2_PORT"; exit 2; }
say "turn: coturn pid $COTURN on 127.0.0.1:$PORT, turnutils_peer on $PEER_PORT (and $PEER2_PORT for the offer), pinning $([ "$PIN" = 1 ] && echo on || echo off)"

# ---- one turnutils_uclient run -----------------------------------------------------------
# Sets R_US (us per packet), R_PKTS, R_CPU_S, R_LOSS, R_COTURN (coturn CPU % of one core).
# The window opens at the first per-second line 6.2 s after "Total connect time" (every session
# starts 1-6 s after connecting) and closes WINDOW lines later; n is large enough that no
# session has finished by then. uclient is then stopped (SIGSTOP), not killed: killed, it would
# leave its allocations in coturn, and a later client whose new socket got one of its ports
# would be refused with 437 (allocation mismatch). Stopped, it keeps its ports until the exit.
uclient_run() {
	local m=$1 pps=$2 tag=$3 z n fifo line s r cw='' lines=0 s0='' r0 u0 k0 w0 deadline uc
	z=$((1000 / pps))
	n=$((pps * (WINDOW + 8)))
	fifo=$TMP/uc.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	"${PIN_CLI[@]}" "$UCLIENT" -u "$USER_NAME" -w "$PASSWORD" -m "$m" -n "$n" -l "$SIZE" -z "$z" -c \
		-e 127.0.0.1 -r "$PEER_PORT" -p "$PORT" 127.0.0.1 >"$fifo" 2>&1 &
	uc=$!
	PIDS+=("$uc")
	exec 3<"$fifo"
	R_US='' R_PKTS='' R_CPU_S='' R_LOSS='' R_COTURN='' R_RATE=''
	deadline=$((SECONDS + WINDOW + 30))
	echo "== $tag: $UCLIENT -u $USER_NAME -w ... -m $m -n $n -l $SIZE -z $z -c -e 127.0.0.1 -r $PEER_PORT -p $PORT 127.0.0.1" >>"$LOG"
	while [ "$SECONDS" -lt "$deadline" ] && IFS= read -r -t 10 -u 3 line; do
		now_us
		printf '%s\n' "$line" >>"$LOG"
		if [ -z "$cw" ] && [[ $line == *"Total connect time"* ]]; then
			cw=$NOW_US
		elif [ -n "$cw" ] && [[ $line =~ tot_send_msgs=([0-9]+),\ tot_recv_msgs=([0-9]+), ]]; then
			s=${BASH_REMATCH[1]} r=${BASH_REMATCH[2]}
			if [ -z "$s0" ] && [ $((NOW_US - cw)) -ge 6200000 ]; then
				cpu_ns "$uc"; u0=$CPU_NS
				cpu_ns "$COTURN"; k0=$CPU_NS
				now_us; w0=$NOW_US s0=$s r0=$r
			elif [ -n "$s0" ] && [ $((lines += 1)) -ge "$WINDOW" ]; then
				cpu_ns "$uc"; local du=$((CPU_NS - u0))
				cpu_ns "$COTURN"; local dk=$((CPU_NS - k0))
				now_us; local dw=$((NOW_US - w0)) ds=$((s - s0)) dr=$((r - r0))
				kill -STOP "$uc" 2>/dev/null
				R_PKTS=$((ds + dr))
				R_CPU_S=$(calc %.3f "$du / 1e9")
				R_US=$(calc %.2f "$R_PKTS ? $du / 1e3 / $R_PKTS : 0")
				R_LOSS=$(calc %.2f "$ds ? 100 * ($ds - $dr) / $ds : 100")
				R_COTURN=$(calc %.1f "100 * $dk / 1e3 / $dw")
				R_RATE=$(calc %.1f "100 * $ds / ($m * $pps * $dw / 1e6)")
				echo "   window: sent $ds, received $dr ($R_RATE % of the rate), uclient CPU $du ns, coturn CPU $dk ns, over $dw us" >>"$LOG"
				break
			fi
		fi
	done
	exec 3<&-
	rm -f "$fifo"
	if [ -z "$R_US" ]; then
		echo "   no complete window" >>"$LOG"
		kill -KILL "$uc" 2>/dev/null
		return 1
	fi
	STOPPED+=("$uc")
	return 0
}

# ---- one rvturn bench run -------------------------------------------------------------
rvturn_run() {
	local m=$1 pps=$2 dur=$3 tag=$4 burst=${5:-16} peer=${6:-} k0 k1 w0 j rc d0 d1 u0 u1 e0 e1
	local cmd=("${PIN_CLI[@]}" "$RVTURN" bench "$URI" -u "$USER_NAME" --clients "$m" --rate "$pps" --size "$SIZE" --duration "$dur" --burst "$burst" --json)
	[ -z "$peer" ] || cmd+=(--peer "$peer")
	R_US='' R_PKTS='' R_CPU_S='' R_LOSS='' R_COTURN='' R_JSON='' R_RATE='' R_DROPS=''
	echo "== $tag: ${cmd[*]}" >>"$LOG"
	# Up to 3 tries when coturn refuses an allocation with 437: uclient leaves one allocation
	# per session behind in coturn (it does not delete them), and a new rvturn socket can get
	# one of those local ports. rvturn bench gives up on 437 instead of taking another port, and
	# it fails in its setup, before any measurement.
	local try
	for try in 1 2 3; do
		port_drops "$PORT"; d0=$DROPS
		port_drops "$PEER_PORT" "$PEER2_PORT"; u0=$DROPS
		rcvbuf_errors; e0=$RCVBUF_ERR
		cpu_ns "$COTURN"; k0=$CPU_NS
		now_us; w0=$NOW_US
		timeout -k 2 $((${dur%.*} + 30)) "${cmd[@]}" >"$TMP/rv.json" 2>"$TMP/rv.err" &
		local p=$!
		PIDS+=("$p")
		wait "$p"
		rc=$?
		cat "$TMP/rv.err" >>"$LOG"
		if [ "$rc" = 0 ] || ! grep -q ' 437 ' "$TMP/rv.err" || [ "$try" = 3 ]; then
			break
		fi
		echo "   (437 in setup: try $((try + 1)))" >>"$LOG"
		RETRIES_437=$((RETRIES_437 + 1))
	done
	cpu_ns "$COTURN"; k1=$CPU_NS
	now_us
	port_drops "$PORT"; d1=$DROPS
	port_drops "$PEER_PORT" "$PEER2_PORT"; u1=$DROPS
	rcvbuf_errors; e1=$RCVBUF_ERR
	R_COTURN=$(calc %.1f "100 * ($k1 - $k0) / 1e3 / ($NOW_US - $w0)")
	cat "$TMP/rv.json" >>"$LOG"
	j=$(tail -1 "$TMP/rv.json")
	if [ "$rc" != 0 ] || ! jq -e .sent <<<"$j" >/dev/null 2>&1; then
		echo "   rvturn bench exit $rc" >>"$LOG"
		return 1
	fi
	R_JSON=$j
	R_PKTS=$(jq -r '.sent + .relayed' <<<"$j")
	R_CPU_S=$(jq -r .cpu_s <<<"$j")
	R_US=$(calc %.2f "$R_CPU_S * 1e6 / $R_PKTS")
	R_LOSS=$(calc %.2f "$(jq -r .loss_pct <<<"$j")")
	R_RATE=$(calc %.1f "$(jq -r "100 * .sent / ((if .peer then .clients else .clients / 2 end) * $pps * .duration_s)" <<<"$j")")
	local own
	own=$(jq -r '.own_socket_drops // 0' <<<"$j")
	echo "   drops: coturn $d0 -> $d1, peers $u0 -> $u1, UdpRcvbufErrors $e0 -> $e1, own $own" >>"$LOG"
	R_DROPS="coturn's listening sockets $((d1 - d0)), turnutils_peer $((u1 - u0)), rvturn's own $own, the rest $((e1 - e0 - (d1 - d0) - (u1 - u0) - own)) (coturn's relay sockets and anything else on the machine)"
	return 0
}

# ---- 1. CPU per packet, alternated -------------------------------------------------------
out "rvturn bench vs turnutils_uclient (coturn $(dpkg-query -W -f '${Version}' coturn 2>/dev/null)), one coturn on 127.0.0.1:$PORT"
out "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start (other work on the machine skews CPU figures)"
out "window ${WINDOW} s per run, ${SIZE}-byte payloads, ChannelData; median of $RUNS; us = CPU microseconds per packet the client sent or received"
RATIOS=() RDESC=()
for load in $LOADS; do
	m=${load%%:*} pps=${load##*:}
	if [ $((1000 % pps)) != 0 ] || [ $((m % 2)) != 0 ]; then
		say "turn: load $load: PPS must divide 1000 (uclient -z is in ms) and CLIENTS be even"
		exit 2
	fi
	out ""
	if [ "$PAIRS" = 0 ]; then
		out "load $m clients x $pps packets/s (uclient -m $m -z $((1000 / pps)); rvturn --clients $m --rate $pps --burst $BURST --peer: both to turnutils_peer)"
	else
		out "load $m clients x $pps packets/s (uclient -m $m -z $((1000 / pps)); rvturn --clients $m --rate $pps --burst $BURST: $((m / 2)) pairs)"
	fi
	U=() V=() VA=()
	for i in $(seq 1 "$RUNS"); do
		if uclient_run "$m" "$pps" "uclient $load run $i"; then
			if ok_run "$R_LOSS" "$R_RATE"; then
				U+=("$R_US")
				out "  uclient run $i: $R_US us/packet  ($R_PKTS packets, CPU $R_CPU_S s, loss $R_LOSS %, coturn CPU $R_COTURN %)"
			else
				out "  uclient run $i: FAILED (sent $R_RATE % of the rate, loss $R_LOSS %; $R_US us/packet)"
				FAILED=1
			fi
		else
			out "  uclient run $i: FAILED (no complete window; see $LOG)"
			FAILED=1
		fi
		if rvturn_run "$m" "$pps" "$WINDOW" "rvturn $load run $i" "$BURST" "$([ "$PAIRS" = 0 ] && echo "127.0.0.1:$PEER_PORT")"; then
			# every packet rvturn handled: .sent, the receives (.relayed) and the echoes its echoers
			# send (as many as they received: about .relayed / 2)
			va=$(jq -r '.cpu_s * 1e6 / (.sent + .relayed + .relayed / 2)' <<<"$R_JSON")
			if ok_run "$R_LOSS" "$R_RATE"; then
				V+=("$R_US")
				VA+=("$va")
				out "  rvturn  run $i: $R_US us/packet  ($R_PKTS packets, CPU $R_CPU_S s, loss $R_LOSS %, coturn CPU $R_COTURN %, rtt p50 $(jq -r .rtt_p50_ms <<<"$R_JSON") ms)"
			else
				out "  rvturn  run $i: FAILED (sent $R_RATE % of the rate, loss $R_LOSS %; $R_US us/packet)"
				FAILED=1
			fi
		else
			out "  rvturn  run $i: FAILED (rvturn bench: see $LOG)"
			FAILED=1
		fi
	done
	if [ ${#U[@]} -gt 0 ] && [ ${#V[@]} -gt 0 ]; then
		mu=$(calc %.2f "$(median "${U[@]}")") mv=$(calc %.2f "$(median "${V[@]}")") mva=$(median "${VA[@]}")
		ratio=$(calc %.2f "$mv / $mu")
		RATIOS+=("$ratio")
		RDESC+=("${m}x$pps $ratio")
		out "  median: uclient $mu us/packet, rvturn $mv us/packet, rvturn/uclient $ratio"
		[ "$PAIRS" = 0 ] || out "  (rvturn counting the echoes it sends too: $(calc %.2f "$mva") us/packet, $(calc %.2f "$mva / $mu")x)"
	else
		FAILED=1
	fi
done

# ---- 2. offer from one core ---------------------------------------------------------------
out ""
OFFER=''
OFFER_SENT=''
OFFER_LOSS=''
if rvturn_run 2 $((OFFER_RATE / 2)) "$OFFER_DURATION" "rvturn offer" 16 "127.0.0.1:$PEER2_PORT"; then
	OFFER=$(jq -r '.relayed / .duration_s | floor' <<<"$R_JSON")
	OFFER_SENT=$(jq -r '.sent / .duration_s | floor' <<<"$R_JSON")
	out "offer: rvturn bench --clients 2 --rate $((OFFER_RATE / 2)) --peer (turnutils_peer$([ "$PIN" = 1 ] && echo ', on CPU 1 with rvturn')) --size $SIZE --duration $OFFER_DURATION: sent $OFFER_SENT packets/s," \
		"relayed back $OFFER packets/s (coturn relays each twice: to the echo and back), loss $R_LOSS %," \
		"rvturn CPU $R_CPU_S s ($(calc %.0f "100 * $R_CPU_S / ($OFFER_DURATION + 0.5)") % of a core over send + 0.5 s drain), coturn CPU $R_COTURN %"
	out "  dropped: $R_DROPS"
	OFFER_LOSS=$R_LOSS
else
	out "offer: FAILED (rvturn bench: see $LOG)"
	FAILED=1
fi
# for information: the same packets between two allocations, which doubles coturn's relays
if rvturn_run 2 "$OFFER_RATE" "$OFFER_DURATION" "rvturn offer, pairs"; then
	out "pairs: rvturn bench --clients 2 --rate $OFFER_RATE --size $SIZE --duration $OFFER_DURATION (allocation to allocation: coturn relays each packet 4 times):" \
		"sent $(jq -r '.sent / .duration_s | floor' <<<"$R_JSON") packets/s, relayed $(jq -r '.relayed / 2 / .duration_s | floor' <<<"$R_JSON") packets/s (relayed / 2: there and back), loss $R_LOSS %, coturn CPU $R_COTURN %"
	out "  dropped: $R_DROPS"
else
	out "pairs: FAILED (rvturn bench: see $LOG)"
fi

[ "$RETRIES_437" = 0 ] || out "note: rvturn bench was refused an allocation (437, a port that uclient's leftover allocations hold in coturn) and rerun $RETRIES_437 time(s)"

# ---- goals ------------------------------------------------------------------------------
out ""
STATUS=0
if [ ${#RATIOS[@]} -gt 0 ]; then
	worst=$(printf '%s\n' "${RATIOS[@]}" | sort -g | tail -1)
	g=$(awk -v r="$worst" 'BEGIN { print (r <= 0.5) ? "PASS" : "FAIL" }')
	desc=$(IFS=,; echo "${RDESC[*]}")
	out "GOAL rvturn CPU per packet <= 0.5x turnutils_uclient: $g ($worst; ${desc//,/, })"
	[ "$g" = PASS ] || STATUS=1
else
	out "GOAL rvturn CPU per packet <= 0.5x turnutils_uclient: FAIL (not measured)"
	STATUS=1
fi
if [ -n "$OFFER" ]; then
	# the pacing sends what is due when it runs; the last tick before the end can miss a few
	# packets, so 99.9 % of the goal counts as reaching it
	g=$(awk -v o="$OFFER" -v goal="$OFFER_GOAL" -v l="$OFFER_LOSS" -v x="$OFFER_MAX_LOSS" \
		'BEGIN { print (o >= goal * 0.999 && l <= x) ? "PASS" : "FAIL" }')
	out "GOAL rvturn offers >= $OFFER_GOAL packets/s relayed from one core, loss <= $OFFER_MAX_LOSS %: $g ($OFFER relayed, $OFFER_SENT sent, loss $OFFER_LOSS %)"
	[ "$g" = PASS ] || STATUS=1
else
	out "GOAL rvturn offers >= $OFFER_GOAL packets/s relayed from one core, loss <= $OFFER_MAX_LOSS %: FAIL (not measured)"
	STATUS=1
fi
cp "$TMP/summary" "$RESDIR/turn-latest.txt"
[ "$FAILED" = 0 ] || { say "turn: a measurement failed (see $LOG)"; exit 2; }
exit "$STATUS"
