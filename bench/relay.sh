#!/usr/bin/env bash
# bench/relay.sh - rvserver's UDP media relay against coturn, side by side in one run.
#
# One generator, bench/mrelay.c, drives both with 1200-byte RTP packets (see its header):
#   rvserver 1->1 and 1->N (RECEIVERS, default "1 10 64", up to 100): a sender announces a stream to a group,
#     the receivers watch it; all register their UDP sockets with signed STUN Bindings; the
#     server relays every packet to every receiver.
#   coturn: one allocation, ChannelBind to the generator's own peer socket; the client sends
#     ChannelData and coturn relays it as plain UDP from its relay address to the peer (TURN_DIRS
#     "up", the default; "down" is the reverse: peer -> relay address -> ChannelData to the
#     client, bounded by coturn's 128 KiB relay socket buffer, anchors-measured.md caveat 4).
#     coturn relays each packet to one peer, so its figure is the anchor for 1->1 and 1->N.
# For each: the highest rate with loss <= 0.1 % (doubling from 10,000 packets/s, bisection to
# 5 %, a confirming 3 s trial), forwarded packets/s at that rate (delivered, summed over the
# receivers), the server's CPU over that trial (utime+stime from /proc/PID/stat) and
# forwarded packets per CPU second ("per core"); then open-loop latency at half that rate:
# relay latency = the kernel's receive time stamp on the receiver's socket minus the send time
# (the time spent getting into, through and out of the relay), app latency = when the generator
# read it (it reads every 200 us, sends first); burst tables send it as bursts too. Beside it, the
# latency trial's conditions: the server's CPU in it, how late the generator's sends were, how long
# each waited runnable for its CPU, steal and softirq squeezes (see bench/README.md: a stall of a few ms on a
# shared VM is enough for the p99). With OVERLOAD=1 one more trial offers OVER_RATE/N packets/s
# (loss allowed).
# Two ways of sending (SENDS, default "burst single"), each a table of its own:
#   burst   the sender sends each batch of packets as UDP GSO sends (mrelay --gso), as rvsend
#           sends a video frame's packets; rvserver reads such a run as one datagram (UDP GRO),
#           as it would get any sender's packets from a network card's GRO; coturn reads them
#           one by one (the kernel splits them on the generator's CPU).
#   single  each packet its own datagram, as from a sender that sends them one by one: on
#           loopback nothing coalesces them, so this is the relay's per-datagram cost alone.
# A direct run (the generator's sender straight to its receiver, no relay) gives the loopback
# floor for the latency figures. Median of RUNS runs, alternated, a fresh server for each.
# Servers are pinned to CPU 0, the generator to CPU 1 (PIN=0: no pinning). Only 127.0.0.1.
#
# Environment: RUNS=3 RECEIVERS="1 10 64" TURN_DIRS=up SENDS="burst single" TRIAL=2 CONFIRM=3 LAT_DUR=5 OVERLOAD=1
#              OVER_RATE=250000 PIN=1 O=build RVSERVER=path TURNSERVER=path MRELAY=path
#              WATCHDOG=(computed)
# Output: a table with ratios rvserver/coturn and goal lines, also written to
# bench/results/relay-latest.txt (raw generator output in bench/results/relay-latest.log).
# Exit status: 0 all measured and the goals met (in every table), 1 a goal missed, 2 a measurement
# failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
MRELAY=${MRELAY:-$BIN/mrelay}
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
TURNSERVER=${TURNSERVER:-$(command -v turnserver || echo /usr/bin/turnserver)}
RUNS=${RUNS:-3}
RECEIVERS=${RECEIVERS:-1 10 64}
TURN_DIRS=${TURN_DIRS:-up}
SENDS=${SENDS:-burst single}
TRIAL=${TRIAL:-2}
CONFIRM=${CONFIRM:-3}
LAT_DUR=${LAT_DUR:-5}
OVERLOAD=${OVERLOAD:-1}
OVER_RATE=${OVER_RATE:-250000}
PIN=${PIN:-1}
NCONF=$((($(wc -w <<<"$RECEIVERS") + $(wc -w <<<"$TURN_DIRS")) * $(wc -w <<<"$SENDS")))
WATCHDOG=${WATCHDOG:-$((RUNS * NCONF * 75 + 60))}
RESDIR=$ROOT/bench/results
TURN_USER=bench
export MRELAY_TURN_PASSWORD=benchpass

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init relay-bench
if [ ! -x "$MRELAY" ]; then
	say "relay bench: building $MRELAY"
	make -C "$ROOT" --no-print-directory "$O/bench/mrelay" >/dev/null || { say "relay bench: build failed"; exit 2; }
fi
for b in "$RVSERVER" "$TURNSERVER"; do
	[ -x "$b" ] || { say "relay bench: $b not found (make; apt-get install coturn)"; exit 2; }
done
[ "${#PIN_SRV[@]}" -gt 0 ] && SRV_CPU=(--srv-cpu 0) || SRV_CPU=()
mkdir -p "$RESDIR"
LOG=$RESDIR/relay-latest.log
: >"$LOG"

# ---- servers ------------------------------------------------------------------

SRV_PID='' SRV_PORT=''

stop_server() {
	stop_pid "$SRV_PID"
	SRV_PID=''
}

# rcvbuf PORT: the receive buffer (bytes) of the server's UDP socket on PORT, into RB
rcvbuf() {
	RB=$(ss -Hnuam "sport = :$1" 2>/dev/null | grep -o 'rb[0-9]*' | head -1 | tr -dc '0-9')
}

start_rvserver() {
	local i
	SRV_PID='' SRV_PORT='' RB=''
	rm -f "$TMP/rv.port"
	"${PIN_SRV[@]}" "$RVSERVER" -l 127.0.0.1 --port 0 --udp-port 0 --port-file "$TMP/rv.port" --idle-timeout 0 -q \
		2>>"$TMP/rvserver.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for i in $(seq 1 100); do
		if ! kill -0 "$SRV_PID" 2>/dev/null; then
			say "relay bench: rvserver exited: $(tail -3 "$TMP/rvserver.log")"
			return 1
		fi
		if [ -s "$TMP/rv.port" ] && [ "$(wc -l <"$TMP/rv.port")" -ge 2 ]; then
			SRV_PORT=$(head -1 "$TMP/rv.port" | tr -dc '0-9')
			rcvbuf "$(sed -n 2p "$TMP/rv.port" | tr -dc '0-9')"
			[ -n "$SRV_PORT" ] && return 0
		fi
		sleep 0.1
	done
	say "relay bench: rvserver not listening within 10 s"
	return 1
}

start_coturn() {
	local i p
	SRV_PID='' SRV_PORT='' RB=''
	# free_port (common.sh): below the ephemeral range, so outside coturn's relay range too;
	# checked with ss (coturn sets SO_REUSEPORT, so a bind test would not see another coturn)
	p=$(free_port both 2) || { say "relay bench: no free port"; return 1; }
	"${PIN_SRV[@]}" "$TURNSERVER" -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$p" \
		--allow-loopback-peers --lt-cred-mech --user="$TURN_USER:$MRELAY_TURN_PASSWORD" --realm=relay.bench \
		--no-tls --no-dtls --no-tcp --no-cli --no-rfc5780 --log-file=stdout --simple-log \
		--pidfile="$TMP/turnserver.pid" >>"$TMP/coturn.log" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for i in $(seq 1 50); do
		kill -0 "$SRV_PID" 2>/dev/null || break
		if ss -Hnuap "sport = :$p" 2>/dev/null | grep -q "pid=$SRV_PID,"; then
			SRV_PORT=$p
			rcvbuf "$p"
			return 0
		fi
		sleep 0.1
	done
	say "relay bench: coturn not listening on $p: $(tail -3 "$TMP/coturn.log")"
	return 1
}

# ---- helpers ---------------------------------------------------------------------

# kv, median, ratio, thou, join: bench/common.sh

# measure NAME MRELAY-ARGS...: runs the generator against the started server; OUT = its output
# (empty on failure, STATUS=2)
measure() {
	local name=$1 rc
	shift
	OUT=''
	say "relay bench:   $name"
	OUT=$(timeout -k 2 200 "${PIN_GEN[@]}" "$MRELAY" --pid "$SRV_PID" "${SRV_CPU[@]}" --trial "$TRIAL" \
		--confirm "$CONFIRM" --search --lat-half --lat-duration "$LAT_DUR" --max-time 190 "$@" 2>&1)
	rc=$?
	{ echo "== $name (exit $rc): mrelay $*"; echo "$OUT"; } >>"$LOG"
	if [ $rc -ne 0 ] || ! grep -q '^RESULT' <<<"$OUT" || ! grep -q '^LATENCY' <<<"$OUT"; then
		say "relay bench: $name failed (exit $rc): $(grep -E '^ERROR' <<<"$OUT" | head -2)"
		STATUS=2
		OUT=''
	fi
}

# collect KEY: append this run's figures to the arrays named KEY_*
collect() {
	local k=$1 res lat conf ovl
	[ -n "$OUT" ] || return 0
	res=$(grep '^RESULT' <<<"$OUT" | tail -1)
	lat=$(grep '^LATENCY' <<<"$OUT" | tail -1)
	conf=$(grep '^TRIAL kind=confirm' <<<"$OUT" | tail -1)
	ovl=$(grep '^OVERLOAD' <<<"$OUT" | tail -1)
	eval "${k}_RATE+=(\"$(kv max_rate <<<"$res")\")"
	eval "${k}_FWD+=(\"$(kv fwd_pps <<<"$res")\")"
	eval "${k}_CPU+=(\"$(kv srv_cpu_pct <<<"$res")\")"
	eval "${k}_PPC+=(\"$(kv pps_per_core <<<"$res")\")"
	eval "${k}_LIM+=(\"$(kv driver_limited <<<"$res")\")"
	eval "${k}_GEN+=(\"$(kv gen_cpu_pct <<<"$res")\")"
	eval "${k}_P50+=(\"$(kv p50_us <<<"$lat")\")"
	eval "${k}_P99+=(\"$(kv p99_us <<<"$lat")\")"
	eval "${k}_A50+=(\"$(kv app_p50_us <<<"$lat")\")"
	eval "${k}_A99+=(\"$(kv app_p99_us <<<"$lat")\")"
	eval "${k}_LRATE+=(\"$(kv rate <<<"$lat")\")"
	# the latency trial's own conditions: server CPU, the generator's lateness, CPU waits, steal, squeezes
	eval "${k}_LCPU+=(\"$(kv srv_cpu_pct <<<"$lat")\")"
	eval "${k}_LLATE+=(\"$(kv gen_late_p99_us <<<"$lat")\")"
	eval "${k}_LLIM+=(\"$(kv driver_limited <<<"$lat")\")"
	eval "${k}_LWAIT0+=(\"$(kv srv_wait_ms <<<"$lat")\")"
	eval "${k}_LWAIT1+=(\"$(kv gen_wait_ms <<<"$lat")\")"
	eval "${k}_LSTEAL+=(\"$(awk -v a="$(kv srv_cpu_steal_ms <<<"$lat")" -v b="$(kv gen_cpu_steal_ms <<<"$lat")" 'BEGIN { if (a != "" && a >= 0) print a + (b > 0 ? b : 0) }')\")"
	eval "${k}_LSQ+=(\"$(awk -v a="$(kv srv_cpu_squeeze <<<"$lat")" -v b="$(kv gen_cpu_squeeze <<<"$lat")" 'BEGIN { if (a != "" && a >= 0) print a + (b > 0 ? b : 0) }')\")"
	local busy
	busy=$(kv srv_cpu_busy_pct <<<"$conf")
	eval "${k}_BUSY+=(\"$(awk -v b="$busy" 'BEGIN { if (b != "" && b >= 0) print b }')\")"
	if [ -n "$ovl" ]; then
		eval "${k}_OFWD+=(\"$(kv fwd_pps <<<"$ovl")\")"
		eval "${k}_OLOSS+=(\"$(kv loss_pct <<<"$ovl")\")"
		eval "${k}_OPPC+=(\"$(kv pps_per_core <<<"$ovl")\")"
		eval "${k}_OCPU+=(\"$(kv srv_cpu_pct <<<"$ovl")\")"
	fi
}

# keys: TURN_<dir>_<send> and RV<n>_<send>; KEYS_<send>: one table's
ALL_KEYS=()
for s in $SENDS; do
	case $s in burst | single) ;; *) say "relay bench: SENDS: burst or single, not $s"; exit 2 ;; esac
	eval "KEYS_$s=()"
	for d in $TURN_DIRS; do eval "KEYS_$s+=(TURN_${d}_$s)"; done
	for n in $RECEIVERS; do eval "KEYS_$s+=(RV${n}_$s)"; done
	eval "ALL_KEYS+=(\"\${KEYS_${s}[@]}\")"
done
for k in "${ALL_KEYS[@]}" DIRECT; do
	for f in RATE FWD CPU PPC LIM GEN P50 P99 A50 A99 LRATE LCPU LLATE LLIM LWAIT0 LWAIT1 LSTEAL LSQ BUSY OFWD OLOSS OPPC OCPU; do
		eval "${k}_$f=()"
	done
	eval "${k}_RB="
done

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)

# ---- measurements, alternated ------------------------------------------------------------

for i in $(seq 1 "$RUNS"); do
	say "relay bench: run $i/$RUNS"
	for s in $SENDS; do
		gso=()
		[ "$s" = burst ] && gso=(--gso)
		for d in $TURN_DIRS; do
			if start_coturn; then
				over=()
				[ "$OVERLOAD" = 1 ] && over=(--overload "$OVER_RATE")
				measure "coturn $d $s run $i" --target turn --port "$SRV_PORT" --user "$TURN_USER" --dir "$d" \
					"${gso[@]}" "${over[@]}"
				collect "TURN_${d}_$s"
				[ -n "$RB" ] && eval "TURN_${d}_${s}_RB=$RB"
			else
				STATUS=2
			fi
			stop_server
		done
		for n in $RECEIVERS; do
			if start_rvserver; then
				over=()
				[ "$OVERLOAD" = 1 ] && over=(--overload "$((OVER_RATE / n))")
				measure "rvserver 1->$n $s run $i" --target rv --port "$SRV_PORT" --receivers "$n" "${gso[@]}" "${over[@]}"
				collect "RV${n}_$s"
				[ -n "$RB" ] && eval "RV${n}_${s}_RB=$RB"
				curl -s --max-time 2 "http://127.0.0.1:$SRV_PORT/stats" 2>/dev/null | jq -c '.media | del(.streams)' >>"$LOG" 2>/dev/null
			else
				STATUS=2
			fi
			stop_server
		done
	done
done

# the loopback floor: no relay, at half rvserver 1->1's (or the first configuration's) rate
FIRST=${ALL_KEYS[0]}
[[ " ${ALL_KEYS[*]} " == *" RV1_${SENDS%% *} "* ]] && FIRST=RV1_${SENDS%% *}
eval "FR=(\"\${${FIRST}_LRATE[@]}\")"
LR=$(median "${FR[@]}")
DIRECT_OUT=''
if [ -n "$LR" ]; then
	say "relay bench: direct (no relay) at $LR packets/s"
	DIRECT_OUT=$(timeout -k 2 60 "${PIN_GEN[@]}" "$MRELAY" --target direct --receivers 1 --lat-rate "$LR" \
		--lat-duration "$LAT_DUR" --max-time 50 2>&1)
	{ echo "== direct (exit $?)"; echo "$DIRECT_OUT"; } >>"$LOG"
fi
DLAT=$(grep '^LATENCY' <<<"$DIRECT_OUT" | tail -1)
DP50=$(kv p50_us <<<"$DLAT") DP99=$(kv p99_us <<<"$DLAT")	# the floor, shown next to the goals
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

# ---- report ----------------------------------------------------------------------------

label() {	# label KEY: "rvserver 1->10", "coturn up"
	local k=${1%_*}
	case $k in
	RV*) echo "rvserver 1->${k#RV}" ;;
	TURN_*) echo "coturn ${k#TURN_}" ;;
	esac
}
m() { eval "median \"\${${1}_$2[@]}\""; }
runs() { eval "join \"\${${1}_$2[@]}\""; }

# table SEND: the figures of one way of sending, with its goal lines (GOAL=1 when one is missed)
table() {
	local s=$1 k n
	eval "KEYS=(\"\${KEYS_${s}[@]}\")"
	ANCHOR=TURN_${TURN_DIRS%% *}_$s
	APPC=$(m "$ANCHOR" PPC)
	case $s in
	burst) echo "== burst sends: runs of equal packets as UDP GSO sends (mrelay --gso), as rvsend sends a frame" ;;
	single) echo "== single sends: every packet its own datagram, nothing coalesced" ;;
	esac
	printf '%-44s' ""
	for k in "${KEYS[@]}"; do printf '%-24s' "$(label "$k")"; done
	echo
	row() {	# row TITLE FIELD [fmt]
		local t=$1 f=$2 k v
		printf '%-44s' "$t"
		for k in "${KEYS[@]}"; do
			v=$(m "$k" "$f")
			case ${3:-} in
			thou) v=$(thou "$v") ;;
			esac
			printf '%-24s' "${v:-n/a}"
		done
		echo
	}
	runsrow() {
		local t=$1 f=$2 k
		printf '%-44s' "$t"
		for k in "${KEYS[@]}"; do printf '%-24s' "$(runs "$k" "$f")"; done
		echo
	}
	row "max rate in, loss <= 0.1 % (packets/s)" RATE thou
	row "forwarded packets/s at that rate" FWD thou
	row "  server CPU % at that rate" CPU
	row "forwarded packets/s per core (median)" PPC thou
	runsrow "  runs" PPC
	printf '%-44s' "  ratio to $(label "$ANCHOR") per core"
	for k in "${KEYS[@]}"; do printf '%-24s' "$(ratio "$(m "$k" PPC)" "$APPC")"; done
	echo
	row "  generator CPU % at that rate" GEN
	printf '%-44s' "  server's UDP receive buffer (bytes)"
	for k in "${KEYS[@]}"; do eval "v=\${${k}_RB:-?}"; printf '%-24s' "$v"; done
	echo
	row "  CPU 0 busy %, all processes (/proc/stat)" BUSY
	row "latency rate (half the max, packets/s in)" LRATE thou
	row "relay latency p50 us (median)" P50
	row "relay latency p99 us (median)" P99
	runsrow "  runs p50" P50
	runsrow "  runs p99" P99
	row "  app latency p50 us (generator's read)" A50
	row "  app latency p99 us" A99
	row "  server CPU % in the latency trial" LCPU
	row "  generator's sends late, p99 us" LLATE
	runsrow "  server waited for its CPU ms, runs" LWAIT0
	runsrow "  generator waited for its CPU ms, runs" LWAIT1
	runsrow "  steal ms (CPU 0 + 1), runs" LSTEAL
	runsrow "  softirq squeezes (CPU 0 + 1), runs" LSQ
	if [ "$OVERLOAD" = 1 ]; then
		printf '%-44s' "overload: offered packets/s in"
		for k in "${KEYS[@]}"; do
			n=${k%_*}
			case $k in RV*) printf '%-24s' "$(thou $((OVER_RATE / ${n#RV})))" ;; *) printf '%-24s' "$(thou "$OVER_RATE")" ;; esac
		done
		echo
		row "  forwarded packets/s" OFWD thou
		row "  loss %" OLOSS
		row "  server CPU %" OCPU
		row "  forwarded packets/s per core" OPPC thou
	fi
	echo
	for k in "${KEYS[@]}"; do
		case $k in RV*) ;; *) continue ;; esac
		v=$(m "$k" PPC)
		g=$(awk -v a="$v" -v b="$APPC" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a >= 2 * b) print "PASS"; else print "FAIL" }')
		echo "GOAL $s: $(label "$k") forwarded packets/s per core >= 2x coturn: $g ($(ratio "$v" "$APPC"); $(thou "$v") vs $(thou "$APPC"))"
		[ "$g" = PASS ] || GOAL=1
	done
	for k in "${KEYS[@]}"; do
		case $k in RV*) ;; *) continue ;; esac
		p50=$(m "$k" P50) p99=$(m "$k" P99)
		g=$(awk -v b="$p99" 'BEGIN { if (b == "") print "N/A"; else if (b < 1000) print "PASS"; else print "FAIL" }')
		echo "GOAL $s: $(label "$k") added latency p99 < 1 ms at half the max rate: $g (p99 ${p99:-n/a} us; direct floor p99 ${DP99:-n/a} us; server CPU $(m "$k" LCPU) %, CPU waits $(m "$k" LWAIT0)/$(m "$k" LWAIT1) ms, steal $(m "$k" LSTEAL) ms)"
		[ "$g" = PASS ] || GOAL=1
		g=$(awk -v a="$p50" 'BEGIN { if (a == "") print "N/A"; else if (a < 50) print "PASS"; else print "FAIL" }')
		echo "GOAL $s: $(label "$k") added latency p50 < 50 us at half the max rate: $g (p50 ${p50:-n/a} us; direct floor p50 ${DP50:-n/a} us)"
		[ "$g" = PASS ] || GOAL=1
	done
}

GOAL=0
{
	echo "rvkit relay bench: rvserver vs coturn $(dpkg-query -W -f '${Version}' coturn 2>/dev/null), 1200-byte packets over UDP  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r); servers pinned: ${PIN_SRV[*]:-no}; generator: ${PIN_GEN[*]:-unpinned}; run time $((T1 - T0)) s; load average $LOAD0 -> $LOAD1"
	echo "loss limit 0.1 %; trials ${TRIAL} s, confirm ${CONFIRM} s, latency ${LAT_DUR} s at half the max rate; median of $RUNS runs, alternated"
	echo
	for s in $SENDS; do
		table "$s"
		echo
	done
	if [ -n "$DLAT" ]; then
		echo "no relay (loopback floor) at $(thou "$(kv rate <<<"$DLAT")")/s: relay-stamp p50 $(kv p50_us <<<"$DLAT") us, p99 $(kv p99_us <<<"$DLAT") us; app p50 $(kv app_p50_us <<<"$DLAT") us, p99 $(kv app_p99_us <<<"$DLAT") us"
	fi
	echo
	echo "Per core = forwarded packets / server CPU seconds (utime+stime) over the confirming trial. On loopback the"
	echo "kernel's receive work for packets sent to a server runs on the sender's CPU (the generator's), for both."
	echo "coturn relays each packet to one peer: its per-core figure is the anchor for every rvserver column."
	echo "CPU 0 busy % is tick-sampled (/proc/stat) and can read a little below the server's own CPU %; far above it means"
	echo "other work on CPU 0."
	for k in "${ALL_KEYS[@]}"; do
		if [[ " $(runs "$k" LIM) " == *" 1 "* ]]; then
			echo "NOTE: $(label "$k") (${k##*_}): the generator could not send faster in some run (driver limited): its max rate is a lower bound."
		fi
		if [[ " $(runs "$k" LLIM) " == *" 1 "* ]]; then
			echo "NOTE: $(label "$k") (${k##*_}): the generator could not hold the latency rate in some run (driver limited): that latency"
			echo "      includes its catch-up bursts."
		fi
		lo=$(awk -v a="$(m "$k" LWAIT0)" -v b="$(m "$k" LWAIT1)" -v s="$(m "$k" LSTEAL)" 'BEGIN { if (a > 5 || b > 5 || s > 0) print 1 }')
		if [ -n "$lo" ]; then
			echo "NOTE: $(label "$k") (${k##*_}): its latency trials shared their CPUs (median: the server waited $(m "$k" LWAIT0) ms for CPU 0,"
			echo "      the generator $(m "$k" LWAIT1) ms for CPU 1, steal $(m "$k" LSTEAL) ms): a stall of a few ms delays every packet in"
			echo "      flight, so the p99 contains it."
		fi
		o=$(awk -v b="$(m "$k" BUSY)" -v s="$(m "$k" CPU)" 'BEGIN { if (b != "" && s != "") printf "%.0f", b - s }')
		if [ -n "$o" ] && [ "$o" -gt 10 ]; then
			echo "WARNING: $(label "$k") (${k##*_}): CPU 0 was about $o % busier than the server alone during the confirming trials: other"
			echo "         work shared the server's CPU, so max rates and tail latency are set by that sharing, not by the server"
			echo "         alone (per-core figures are less affected)."
		fi
	done
	if [ "$STATUS" -ne 0 ]; then
		echo "WARNING: some measurements failed; see bench/results/relay-latest.log"
	fi
	echo "$GOAL" >"$TMP/goal"
} | tee "$RESDIR/relay-latest.txt"

if [ "$STATUS" -ne 0 ]; then
	exit "$STATUS"
fi
exit "$(cat "$TMP/goal" 2>/dev/null || echo 1)"
