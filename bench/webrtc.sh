#!/usr/bin/env bash
# bench/webrtc.sh - rvserver's WebRTC egress (WHEP) against Janus's streaming plugin, in one run;
# then WHIP publishers connecting through 5 % loss.
#
# Egress: one 1 Mbit/s H.264 source to N WebRTC viewers (VIEWERS, default "50 100 200"), the viewers
# emulated by bench/wload.c (ICE as the controlling agent, DTLS, every SRTP packet authenticated,
# decrypted and counted), all in one process with one UDP socket per viewer.
#   rvserver  `rvserver -l 127.0.0.1 --port 0`; the source is `rvsend -g bench media` from a lavfi
#             testsrc2 (SIZE at FPS, BITRATE bits/s, no audio); each viewer POSTs a recvonly WHEP
#             offer to /whep/bench.
#   janus     Debian's janus with bench/janus/*.jcfg.in: the streaming plugin (one RTP mountpoint,
#             H.264 42e01f packetization-mode 1) and the plain HTTP transport on 127.0.0.1 only,
#             ICE-lite like rvserver, JANUS_LOOPS static event loops (default 1: one core); the
#             source is the same `rvsend media` with --rtp to the mountpoint's port; each viewer
#             does create, attach, watch, start with its JSEP answer (setup:passive).
# Once every viewer is up and has media: WARMUP seconds, then a WINDOW of seconds over which wload
# counts the packets the viewers received and reads the server's CPU (utime+stime, all threads,
# /proc/PID/stat). Figures: forwarded packets per server CPU second, server CPU per packet, and
# viewer legs of 1 Mbit/s per core (see bench/README.md). The server runs on CPU 0, the generator
# and the source on CPU 1 (PIN=0: no pinning). Median of RUNS runs, alternated, fresh processes
# for every run.
# WHIP (PARTS contains whip): WHIP_N (100) publishers at once (WHIP_PARALLEL at a time), each a
# sendonly WHIP offer to a fresh rvserver started with RV_TEST_IMPAIR=loss=WHIP_LOSS (it drops that
# share of the datagrams it sends), wload dropping the same share of its own: connect time = POST
# to the DTLS handshake done at the publisher; failures and p50 / p95 / max.
#
# Environment: VIEWERS="50 100 200" RUNS=3 WARMUP=2 WINDOW=10 SIZE=640x360 FPS=30 BITRATE=1000000
#              PARALLEL=20 JANUS_LOOPS=1 PARTS="egress whip" WHIP_N=100 WHIP_PARALLEL=100
#              WHIP_LOSS=0.05 PIN=1 O=build RVSERVER RVSEND JANUS WLOAD WATCHDOG=(computed)
# Output: tables with the ratios rvserver/janus and GOAL lines, also written to
# bench/results/webrtc-latest.txt (raw generator output in bench/results/webrtc-latest.log).
# Exit status: 0 all measured and the goals met, 1 a goal missed, 2 a measurement failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
WLOAD=${WLOAD:-$BIN/wload}
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
RVSEND=${RVSEND:-$ROOT/$O/bin/rvsend}
JANUS=${JANUS:-$(command -v janus || echo /usr/bin/janus)}
JANUS_LIB=${JANUS_LIB:-/usr/lib/x86_64-linux-gnu/janus}
VIEWERS=${VIEWERS:-50 100 200}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
WINDOW=${WINDOW:-10}
SIZE=${SIZE:-640x360}
FPS=${FPS:-30}
BITRATE=${BITRATE:-1000000}
PARALLEL=${PARALLEL:-20}
JANUS_LOOPS=${JANUS_LOOPS:-1}
PARTS=${PARTS:-egress whip}
WHIP_N=${WHIP_N:-100}
WHIP_PARALLEL=${WHIP_PARALLEL:-100}
WHIP_LOSS=${WHIP_LOSS:-0.05}
PIN=${PIN:-1}
NV=$(wc -w <<<"$VIEWERS")
WATCHDOG=${WATCHDOG:-$((RUNS * NV * 2 * (WARMUP + WINDOW + 60) + 240))}
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init webrtc-bench
if [ ! -x "$WLOAD" ]; then
	say "webrtc bench: building $WLOAD"
	make -C "$ROOT" --no-print-directory "$O/bench/wload" >/dev/null || { say "webrtc bench: build failed"; exit 2; }
fi
for b in "$RVSERVER" "$RVSEND" "$JANUS"; do
	[ -x "$b" ] || { say "webrtc bench: $b not found (make; scripts/deps.sh --bench installs janus)"; exit 2; }
done
for f in plugins/libjanus_streaming.so transports/libjanus_http.so; do
	[ -e "$JANUS_LIB/$f" ] || { say "webrtc bench: $JANUS_LIB/$f not found (apt-get install janus)"; exit 2; }
done
mkdir -p "$RESDIR"
LOG=$RESDIR/webrtc-latest.log
: >"$LOG"
SRC="testsrc2=size=$SIZE:rate=$FPS"

# ---- servers and the source ---------------------------------------------------------------

SRV_PID='' HTTP_PORT='' SRC_PID='' VIDEO_PORT=''
RV_QUIET=(-q)	# the WHIP part reads the sessions' "connected in N ms" from rvserver's log

stop_all() {
	stop_pid "$SRC_PID"
	stop_pid "$SRV_PID"
	SRC_PID='' SRV_PID=''
}

# start_rvserver [VAR=VALUE...]: rvserver on 127.0.0.1 with those in its environment, ports from
# its port file; every viewer comes from 127.0.0.1, so no per-address limit
start_rvserver() {
	local i
	SRV_PID='' HTTP_PORT=''
	rm -f "$TMP/rv.port"
	env "$@" "${PIN_SRV[@]}" "$RVSERVER" -l 127.0.0.1 --port 0 --udp-port 0 --port-file "$TMP/rv.port" \
		--idle-timeout 0 --webrtc-max-per-ip 0 "${RV_QUIET[@]}" 2>>"$TMP/rvserver.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for i in $(seq 1 100); do
		kill -0 "$SRV_PID" 2>/dev/null || { say "webrtc bench: rvserver exited: $(tail -3 "$TMP/rvserver.log")"; return 1; }
		if [ -s "$TMP/rv.port" ] && [ "$(wc -l <"$TMP/rv.port")" -ge 2 ]; then
			HTTP_PORT=$(head -1 "$TMP/rv.port" | tr -dc '0-9')
			[ -n "$HTTP_PORT" ] && return 0
		fi
		sleep 0.1
	done
	say "webrtc bench: rvserver not listening within 10 s"
	return 1
}

# janus_conf HTTP_PORT VIDEO_PORT: a config folder with only the streaming plugin and the HTTP
# transport, from bench/janus/*.jcfg.in
janus_conf() {
	local d=$TMP/janus f
	rm -rf "$d"
	mkdir -p "$d/plugins" "$d/transports" "$d/none"
	ln -s "$JANUS_LIB/plugins/libjanus_streaming.so" "$d/plugins/"
	ln -s "$JANUS_LIB/transports/libjanus_http.so" "$d/transports/"
	for f in janus janus.transport.http janus.plugin.streaming; do
		sed -e "s|@DIR@|$d|g" -e "s/@DEBUG@/3/" -e "s/@LOOPS@/$JANUS_LOOPS/" -e "s/@HTTP_PORT@/$1/" \
			-e "s/@VIDEO_PORT@/$2/" "$ROOT/bench/janus/$f.jcfg.in" >"$d/$f.jcfg"
	done
}

# start_janus: on free ports (HTTP, and the mountpoint's RTP with RTCP above it), up to 5 tries
start_janus() {
	local try i hp vp
	SRV_PID='' HTTP_PORT='' VIDEO_PORT=''
	for try in 1 2 3 4 5; do
		if ! hp=$(free_port tcp) || ! vp=$(free_port udp 2); then
			say "webrtc bench: no free port"
			return 1
		fi
		janus_conf "$hp" "$vp"
		: >"$TMP/janus.log"
		"${PIN_SRV[@]}" "$JANUS" -C "$TMP/janus/janus.jcfg" -F "$TMP/janus" -o >>"$TMP/janus.log" 2>&1 &
		SRV_PID=$!
		PIDS+=("$SRV_PID")
		for i in $(seq 1 100); do
			kill -0 "$SRV_PID" 2>/dev/null || break
			if curl -s --max-time 1 "http://127.0.0.1:$hp/janus/info" 2>/dev/null | grep -q '"janus.plugin.streaming"'; then
				HTTP_PORT=$hp VIDEO_PORT=$vp
				return 0
			fi
			sleep 0.1
		done
		say "webrtc bench: janus did not start on $hp (try $try/5): $(grep -v '^\s*$' "$TMP/janus.log" | tail -2 | tr '\n' ' ')"
		stop_pid "$SRV_PID"
		SRV_PID=''
	done
	return 1
}

# start_source rv|janus: the 1 Mbit/s source into the started server
start_source() {
	local dest
	case $1 in
	rv) dest=(-s "127.0.0.1:$HTTP_PORT" -g bench) ;;
	janus) dest=(--rtp "127.0.0.1:$VIDEO_PORT") ;;
	esac
	"${PIN_GEN[@]}" "$RVSEND" "${dest[@]}" media -f lavfi -i "$SRC" --acodec none --bitrate "$BITRATE" \
		--duration 3600 -q >>"$TMP/rvsend.log" 2>&1 &
	SRC_PID=$!
	PIDS+=("$SRC_PID")
	sleep 1.5	# the encoder's start and its first keyframe
	kill -0 "$SRC_PID" 2>/dev/null || { say "webrtc bench: rvsend exited: $(tail -2 "$TMP/rvsend.log")"; return 1; }
}

# ---- helpers ----------------------------------------------------------------------------------

# kv, median, ratio, thou, join: bench/common.sh
pct() {	# pct P SORTED...: the P-th percentile, nearest rank
	local p=$1
	shift
	[ $# -gt 0 ] || return 0
	local k=$(((p * $# + 99) / 100))
	[ "$k" -ge 1 ] || k=1
	echo "${!k}"
}

# egress TARGET N RUN: one measurement; appends to the arrays <T>_<N>_<FIELD>
egress() {
	local t=$1 n=$2 run=$3 k out rc res con
	k=$(tr '[:lower:]' '[:upper:]' <<<"$t")_$n
	say "webrtc bench:   $t, $n viewers, run $run"
	case $t in
	rv) start_rvserver ;;
	janus) start_janus ;;
	esac || { STATUS=2; stop_all; return; }
	if ! start_source "$t"; then
		STATUS=2
		stop_all
		return
	fi
	out=$(timeout -k 2 $((WARMUP + WINDOW + 150)) "${PIN_GEN[@]}" "$WLOAD" --target "$t" --http-port "$HTTP_PORT" \
		-n "$n" --pid "$SRV_PID" --parallel "$PARALLEL" --warmup "$WARMUP" --window "$WINDOW" \
		--max-time $((WARMUP + WINDOW + 140)) 2>&1)
	rc=$?
	{ echo "== $t $n viewers run $run (exit $rc)"; echo "$out"; } >>"$LOG"
	if [ "$t" = rv ]; then	# what came in and what was dropped (a server that fell behind does not answer)
		curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null |
			grep -E '^rvserver_(media_(packets_in|drops)|webrtc_(failures|plis))_total' | tr '\n' ' ' >>"$LOG"
		echo >>"$LOG"
	fi
	stop_all
	res=$(grep '^RESULT' <<<"$out" | tail -1)
	con=$(grep '^CONNECT' <<<"$out" | tail -1)
	if [ $rc -ne 0 ] || [ -z "$res" ]; then
		say "webrtc bench: $t $n viewers run $run failed (exit $rc): $(grep -E '^(ERROR|INFO session)' <<<"$out" | head -2 | tr '\n' ' ')"
		STATUS=2
		return
	fi
	local f
	for f in pkts_per_cpu_s us_per_pkt legs_per_core srv_cpu_pct per_viewer_pps per_viewer_kbps loss_pct gen_cpu_pct; do
		eval "${k}_$f+=(\"$(kv "$f" <<<"$res")\")"
	done
	eval "${k}_setup+=(\"$(kv dtls_p50_ms <<<"$con")\")"
}

# ---- measurements -------------------------------------------------------------------------------

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
for t in RV JANUS; do
	for n in $VIEWERS; do
		for f in pkts_per_cpu_s us_per_pkt legs_per_core srv_cpu_pct per_viewer_pps per_viewer_kbps loss_pct gen_cpu_pct setup; do
			eval "${t}_${n}_$f=()"
		done
	done
done
if [[ " $PARTS " == *" egress "* ]]; then
	for i in $(seq 1 "$RUNS"); do
		say "webrtc bench: egress run $i/$RUNS"
		for n in $VIEWERS; do
			egress janus "$n" "$i"
			egress rv "$n" "$i"
		done
	done
fi

WHIP_OUT=''
if [[ " $PARTS " == *" whip "* ]]; then
	say "webrtc bench: $WHIP_N WHIP publishers, $WHIP_LOSS loss each way"
	RV_QUIET=()
	: >"$TMP/rvserver.log"
	if start_rvserver "RV_TEST_IMPAIR=loss=$WHIP_LOSS"; then
		WHIP_OUT=$(timeout -k 2 120 "${PIN_GEN[@]}" "$WLOAD" --target rv --whip --http-port "$HTTP_PORT" -n "$WHIP_N" \
			--parallel "$WHIP_PARALLEL" --loss "$WHIP_LOSS" --setup-timeout 30 --warmup 3 --max-time 110 2>&1)
		{ echo "== whip $WHIP_N publishers, loss $WHIP_LOSS (exit $?)"; echo "$WHIP_OUT"; } >>"$LOG"
		curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null | grep -E '^rvserver_webrtc_' >>"$LOG"
	fi
	stop_all
	# the server's view: offer accepted to DTLS connected (its last flight's answer arrived)
	mapfile -t SRV_MS < <(sed -n 's/.*webrtc whip-[0-9]*: connected in \([0-9]*\) ms.*/\1/p' "$TMP/rvserver.log" | sort -n)
	grep -E 'session ended|warning' "$TMP/rvserver.log" | grep -v 'server is stopping' | head -20 >>"$LOG"
	grep -q '^CONNECT' <<<"$WHIP_OUT" || { say "webrtc bench: the WHIP run failed: $(grep '^ERROR' <<<"$WHIP_OUT" | head -1)"; STATUS=2; }
fi
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

# ---- report --------------------------------------------------------------------------------------

m() { eval "median \"\${${1}_$2[@]}\""; }
runs() { eval "join \"\${${1}_$2[@]}\""; }
GOAL=0
{
	echo "rvkit WebRTC bench: rvserver vs janus $(dpkg-query -W -f '${Version}' janus 2>/dev/null) (streaming plugin, $JANUS_LOOPS event loop(s))  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r); servers pinned: ${PIN_SRV[*]:-no}; generator and source: ${PIN_GEN[*]:-unpinned}; run time $((T1 - T0)) s; load average $LOAD0 -> $LOAD1"
	if [[ " $PARTS " == *" egress "* ]]; then
		echo "source: rvsend media, lavfi $SRC, H.264 at $BITRATE bit/s, no audio; warm-up $WARMUP s, window $WINDOW s; median of $RUNS runs, alternated"
		echo
		printf '%-46s' "viewers"
		for n in $VIEWERS; do printf '%-22s%-22s' "rvserver $n" "janus $n"; done
		echo
		row() {	# row TITLE FIELD [thou]
			local n v
			printf '%-46s' "$1"
			for n in $VIEWERS; do
				for t in RV JANUS; do
					v=$(m "${t}_$n" "$2")
					[ "${3:-}" = thou ] && v=$(thou "$v")
					printf '%-22s' "${v:-n/a}"
				done
			done
			echo
		}
		runsrow() {
			local n
			printf '%-46s' "  runs"
			for n in $VIEWERS; do
				for t in RV JANUS; do printf '%-22s' "$(runs "${t}_$n" "$1")"; done
			done
			echo
		}
		row "forwarded packets per server CPU second" pkts_per_cpu_s thou
		runsrow pkts_per_cpu_s
		printf '%-46s' "  ratio rvserver/janus"
		for n in $VIEWERS; do printf '%-44s' "$(ratio "$(m "RV_$n" pkts_per_cpu_s)" "$(m "JANUS_$n" pkts_per_cpu_s)")"; done
		echo
		row "server CPU per forwarded packet (us)" us_per_pkt
		row "1 Mbit/s viewer legs per core" legs_per_core thou
		row "server CPU % over the window" srv_cpu_pct
		row "packets/s per viewer" per_viewer_pps
		row "kbit/s per viewer" per_viewer_kbps
		row "loss % (RTP sequence gaps, window)" loss_pct
		row "POST to DTLS up, p50 ms (setup)" setup
		row "generator CPU % (CPU 1)" gen_cpu_pct
		echo
		for n in $VIEWERS; do
			a=$(m "RV_$n" pkts_per_cpu_s) b=$(m "JANUS_$n" pkts_per_cpu_s)
			g=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "" || b == 0) print "N/A"; else if (a >= 2 * b) print "PASS"; else print "FAIL" }')
			echo "GOAL 1->$n: rvserver forwarded packets per CPU second >= 2x janus: $g ($(ratio "$a" "$b"); $(thou "$a") vs $(thou "$b"))"
			[ "$g" = PASS ] || GOAL=1
		done
		last=${VIEWERS##* }
		l=$(m "RV_$last" legs_per_core)
		g=$(awk -v a="$l" 'BEGIN { if (a == "") print "N/A"; else if (a >= 300) print "PASS"; else print "FAIL" }')
		echo "GOAL 1->$last: rvserver >= 300 viewer legs of 1 Mbit/s per core: $g ($(thou "$l"); each N: $(for n in $VIEWERS; do printf '%s ' "$(thou "$(m "RV_$n" legs_per_core)")"; done| sed 's/ $//'))"
		[ "$g" = PASS ] || GOAL=1
		echo
		echo "Legs per core = packets per CPU second / packets per second of one 1 Mbit/s leg, where one leg's"
		echo "packet rate is the measured per-viewer rate scaled to 1 Mbit/s (per_viewer_pps * 1e6 / per_viewer_bps)."
		echo "Server CPU counts every thread (/proc/PID/stat utime+stime over the window); on loopback it includes the"
		echo "kernel's delivery of what the server sends into the viewers' sockets, for both servers."
		for n in $VIEWERS; do
			a=$(m "RV_$n" per_viewer_pps) b=$(m "JANUS_$n" per_viewer_pps)
			if awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b != "" && a < 0.9 * b) }'; then
				echo "NOTE: at $n viewers rvserver's viewers got $a packets/s against Janus's $b: rvserver renumbers what it forwards,"
				echo "      so what it did not forward leaves no sequence gap; it fell behind (see its metrics in the log)."
			fi
			for t in RV JANUS; do
				c=$(m "${t}_$n" srv_cpu_pct)
				if awk -v c="$c" 'BEGIN { exit !(c != "" && c >= 95) }'; then
					echo "NOTE: $(tr '[:upper:]' '[:lower:]' <<<"$t" | sed 's/^rv$/rvserver/') at $n viewers used its whole core ($c %): it forwards at most that much (see its loss); per CPU second is its capacity."
				fi
			done
		done
	fi
	if [[ " $PARTS " == *" whip "* ]]; then
		echo
		con=$(grep '^CONNECT' <<<"$WHIP_OUT" | tail -1)
		echo "WHIP: $WHIP_N publishers ($WHIP_PARALLEL at a time), $(awk -v l="$WHIP_LOSS" 'BEGIN { printf "%g", l * 100 }') % of the datagrams lost each way (rvserver RV_TEST_IMPAIR, wload --loss)"
		echo "  publishers: up $(kv up <<<"$con"), failed $(kv failed <<<"$con"); POST to DTLS done: p50 $(kv dtls_p50_ms <<<"$con") ms, p95 $(kv dtls_p95_ms <<<"$con") ms, max $(kv dtls_max_ms <<<"$con") ms"
		sn=${#SRV_MS[@]}
		sp50=$(pct 50 "${SRV_MS[@]}") sp95=$(pct 95 "${SRV_MS[@]}")
		echo "  rvserver: $sn connected; offer to DTLS connected: p50 ${sp50:-n/a} ms, p95 ${sp95:-n/a} ms, max ${SRV_MS[$((sn - 1))]:-n/a} ms"
		f=$(kv failed <<<"$con") p=$(kv dtls_p95_ms <<<"$con")
		g=$(awk -v f="$f" -v p="$p" -v n="$sn" -v want="$WHIP_N" -v sp="$sp95" 'BEGIN {
			if (f == "" || p == "" || sp == "") print "N/A"
			else if (f == 0 && n == want && p >= 0 && p <= 1500 && sp <= 1500) print "PASS"; else print "FAIL" }')
		echo "GOAL $WHIP_N WHIP sessions at $(awk -v l="$WHIP_LOSS" 'BEGIN { printf "%g", l * 100 }') % loss: no failures, p95 connect <= 1.5 s (both ends): $g"
		[ "$g" = PASS ] || GOAL=1
	fi
	if [ "$STATUS" -ne 0 ]; then
		echo "WARNING: some measurements failed; see bench/results/webrtc-latest.log"
	fi
	echo "$GOAL" >"$TMP/goal"
} | tee "$RESDIR/webrtc-latest.txt"

{ echo "== rvserver log (tail)"; tail -5 "$TMP/rvserver.log" 2>/dev/null; echo "== janus log (warnings)"; grep -a 'WARN\|ERR' "$TMP/janus.log" 2>/dev/null | sort | uniq -c | sort -rn | head -5; } >>"$LOG"
if [ "$STATUS" -ne 0 ]; then
	exit "$STATUS"
fi
exit "$(cat "$TMP/goal" 2>/dev/null || echo 1)"
