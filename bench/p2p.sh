#!/usr/bin/env bash
# bench/p2p.sh - rvgroup p2p peer groups against js-libp2p gossipsub, side by side in one run.
#
# The anchor (issue 12, "Performance"): N separate Node.js processes, each one js-libp2p peer
# (bench/p2p/peer.mjs: TCP, noise, yamux, identify, @chainsafe/libp2p-gossipsub with its
# defaults; versions pinned in bench/p2p/package-lock.json, installed there with `npm ci` when
# node_modules is missing) on 127.0.0.1, all subscribed to one topic. rvkit: N `rvgroup p2p join`
# processes in one group (spec from `rvgroup p2p spec new bench --posting --routing
# --no-server-channel`, no server). For each side:
#   1. Start the N peers, each with its stdin on a fifo this script holds open.
#      gossipsub: all at once; once every peer wrote its address, each dials DIAL random others
#      (a sparse random mesh, about 2 x DIAL connections per peer).
#      rvkit: peer 0, then each next one with --peer to 1..BOOT random already started peers.
#   2. Wait (CONNECT_TIMEOUT at most) until every peer reports a neighbour (gossipsub: a peer in
#      its mesh, which it forwards to; rvkit: NetGroup.Neighbor.Connect), then SETTLE seconds.
#   3. bench/p2p/drive.mjs writes POSTS posts at RATE per second into the stdin of random peers
#      (the same seeded sequence of senders on both sides); each post's text carries its send time.
#      Once no peer has printed anything for DRAIN seconds after the last post (DRAIN_MAX at
#      most: a side that cannot keep up with RATE delivers its backlog first), read CPU
#      (utime+stime of every peer, /proc/PID/stat, counted from just before the first post) and
#      VmRSS of every peer.
#   4. bench/p2p/analyze.mjs reads every peer's stdout (one JSON line per delivered post with its
#      receive time): delivery ratio, redundant copies per peer per post, post-to-every-peer
#      latency (per post the max over its receivers of receive - send, then p50/p99 over posts).
#      Redundant copies are counted on the wire on both sides: gossipsub peers print their
#      counters on /stats, rvgroup peers their NetGroup.Info (counts.duplicates) on SIGUSR1, both
#      asked after the drain.
# PHASES (default all of "posts loss churn routing server") selects what runs; gossipsub runs
# only the posts phase (it has no loss hook and no directed routing, and churning Node.js peers
# that take a CPU-second each to start would measure their start-up): the other phases are rvkit
# only, and their gossipsub column says N/A.
#   posts    the above (POSTS posts), on both sides.
#   routing  on the same rvkit group after its posts: ROUTES messages "@PEERID r K SRC DST" at
#            ROUTE_RATE/s from random peers to random others, then bench/p2p/phases.mjs:
#            delivered %, hops p50/p99/max, share within ceil(log2 N) hops.
#   churn    on the same group after that: CHURN_S s of posts "c SEQ SENDER US" at CHURN_RATE/s
#            (written by this script into a random running peer, never the next to go), and
#            every CHURN_EVERY s (600/N: 10 % of the peers a minute) a random peer ended with
#            SIGTERM (it says goodbye) and SIGKILL in turn, and a new one started with a new key
#            and --peer to 1-3 running peers. A post counts toward each peer but its sender that
#            was started before the post was written and not signalled until 2 s after it.
#   loss     a new group with RV_TEST_IMPAIR=loss=LOSS in every rvgroup's environment (each
#            drops that share of the datagrams it sends): LOSS_POSTS posts as in "posts".
#   server   a new group (spec with the server channel) of peers with only --server to an
#            rvserver started here: SERVER_POSTS posts, and rvserver's /metrics read before the
#            peers start, before the posts and after the drain (joins, INTROs per join, relayed).
# When rvgroup has no `p2p` command yet, the script says "rvkit side: rvgroup p2p not available",
# still runs the anchor side, and exits 2.
#
# Environment: N=50 POSTS=200 RATE=50 DIAL=4 BOOT=3 SETTLE=5 DRAIN=2 DRAIN_MAX=300
#              CONNECT_TIMEOUT=240 SEED=1
#              SIDES="gossipsub rvkit" PHASES="posts loss churn routing server"
#              LOSS=0.05 LOSS_POSTS=100 SERVER_POSTS=50 ROUTES=100 ROUTE_RATE=20
#              CHURN_S=72 CHURN_RATE=5 CHURN_EVERY=600/N
#              WATCHDOG=900 KEEP=0 (1: each group's peer output into bench/results/p2p-SIDE/)
#              O=build RVGROUP=path RVSERVER=path NODE=path
# Output: a table with ratios rvkit/gossipsub, a table per rvkit-only phase, and GOAL lines, also
# written to bench/results/p2p-latest.txt (settings, driver output and peer errors in
# p2p-latest.log).
# Exit status: 0 all measured and every goal met (SIDES without rvkit: all measured), 1 a goal
# missed, 2 a measurement failed or was not made.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
BIN=$ROOT/$O/bench
RVGROUP=${RVGROUP:-$ROOT/$O/bin/rvgroup}
RVSERVER=${RVSERVER:-$ROOT/$O/bin/rvserver}
NODE=${NODE:-$(command -v node || echo node)}
P2P_DIR=$ROOT/bench/p2p
N=${N:-50}
POSTS=${POSTS:-200}
RATE=${RATE:-50}
DIAL=${DIAL:-4}
BOOT=${BOOT:-3}
SETTLE=${SETTLE:-5}
DRAIN=${DRAIN:-2}
DRAIN_MAX=${DRAIN_MAX:-300}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-240}
SEED=${SEED:-1}
SIDES=${SIDES:-gossipsub rvkit}
PHASES=${PHASES:-posts loss churn routing server}
LOSS=${LOSS:-0.05}
LOSS_POSTS=${LOSS_POSTS:-100}
SERVER_POSTS=${SERVER_POSTS:-50}
ROUTES=${ROUTES:-100}
ROUTE_RATE=${ROUTE_RATE:-20}
CHURN_S=${CHURN_S:-72}
CHURN_RATE=${CHURN_RATE:-5}
CHURN_EVERY=${CHURN_EVERY:-$(((600 + N / 2) / N))} # 10 % of the peers a minute
[ "$CHURN_EVERY" -ge 1 ] || CHURN_EVERY=1
WATCHDOG=${WATCHDOG:-900}
KEEP=${KEEP:-0}
PIN=0 # N peers cannot be split over two CPUs the way the server benches split server and load
RESDIR=$ROOT/bench/results

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_init p2p-bench
[ "$N" -ge 2 ] || { say "p2p bench: N must be at least 2"; exit 2; }
if ! command -v "$NODE" >/dev/null; then
	say "p2p bench: node not found (set NODE=)"
	exit 2
fi
NODE_MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$NODE_MAJOR" -lt 20 ]; then # Node.js 18 has no global CustomEvent, which libp2p 2 uses
	say "p2p bench: the anchor needs Node.js 20 or later; $NODE is $("$NODE" --version 2>/dev/null)"
	exit 2
fi
if [ ! -f "$P2P_DIR/node_modules/@chainsafe/libp2p-gossipsub/package.json" ]; then
	say "p2p bench: installing js-libp2p (npm ci in bench/p2p)"
	(cd "$P2P_DIR" && timeout 300 npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		{ say "p2p bench: npm ci failed in $P2P_DIR"; exit 2; }
fi
pkg_version() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$P2P_DIR/node_modules/$1/package.json" | head -1; }
GS_VERSION="libp2p $(pkg_version libp2p), gossipsub $(pkg_version @chainsafe/libp2p-gossipsub)"

mkdir -p "$RESDIR"
LOG=$RESDIR/p2p-latest.log
{
	echo "p2p bench $(date -u +%Y-%m-%dT%H:%M:%SZ): N=$N POSTS=$POSTS RATE=$RATE DIAL=$DIAL BOOT=$BOOT SETTLE=$SETTLE DRAIN=$DRAIN DRAIN_MAX=$DRAIN_MAX SEED=$SEED"
	echo "node $("$NODE" --version), $GS_VERSION"
} >"$LOG"
HZ=$(getconf CLK_TCK)

# ---- helpers ---------------------------------------------------------------------

# cpu_ticks PID...: utime + stime of these processes, summed, in clock ticks
cpu_ticks() {
	local p s=0 f
	for p in "$@"; do
		f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		f=${f##*) } # fields after "(comm) "; utime and stime are fields 14 and 15
		read -r -a a <<<"$f"
		s=$((s + a[11] + a[12]))
	done
	echo "$s"
}

# rss_kb PID...: "mean max" VmRSS in kB over these processes
rss_kb() {
	local p
	for p in "$@"; do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done |
		awk '{ s += $1; if ($1 > m) m = $1 } END { if (NR) printf "%.0f %d\n", s / NR, m }'
}

# count_files PATTERN FILE...: how many of the files contain PATTERN
count_files() {
	local pat=$1
	shift
	grep -l -F -- "$pat" "$@" 2>/dev/null | wc -l
}

# wait_all SECONDS PATTERN FILE...: until every file contains PATTERN (1 on timeout)
wait_all() {
	local end=$((SECONDS + $1)) pat=$2
	shift 2
	while [ "$(count_files "$pat" "$@")" -lt $# ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		alive || return 1
		sleep 0.2
	done
}

# drain FILE...: after the last post, until no peer has printed a post (a line with DRAIN_PAT,
# default a post of drive.mjs) for DRAIN seconds (DRAIN_MAX at most): a side that falls behind
# the rate still delivers its backlog, and its latency and CPU figures then include it. Sets
# R[DRAIN_KEY.drain_s] (DRAIN_KEY: SIDE by default).
drain() {
	local start=$SECONDS last=-1 size quiet=0 step=0.5
	while :; do
		size=$(cat "$@" 2>/dev/null | grep -c -F "${DRAIN_PAT:-\"text\":\"b }")
		if [ "$size" = "$last" ]; then
			quiet=$(awk -v q="$quiet" -v s="$step" 'BEGIN { print q + s }')
			awk -v q="$quiet" -v d="$DRAIN" 'BEGIN { exit !(q >= d) }' && break
		else
			quiet=0 last=$size
		fi
		if [ $((SECONDS - start)) -ge "$DRAIN_MAX" ]; then
			say "p2p bench: ${DRAIN_KEY:-$SIDE}: still delivering ${DRAIN_MAX}s after the last post; counted as it stands"
			break
		fi
		sleep "$step"
	done
	R[${DRAIN_KEY:-$SIDE}.drain_s]=$((SECONDS - start))
}

# alive: every peer of the current side still runs (says which one exited otherwise)
alive() {
	local i
	for i in "${!PEER_PID[@]}"; do
		if ! kill -0 "${PEER_PID[$i]}" 2>/dev/null; then
			say "p2p bench: $SIDE peer $i exited: $(tail -2 "$D/err.$i" 2>/dev/null)"
			return 1
		fi
	done
}

# pick K I SALT: K distinct random numbers in 0..I-1 (all of them when I <= K), the same ones
# for the same SEED and SALT
pick() {
	awk -v k="$1" -v n="$2" -v seed=$((SEED * 100003 + $3)) 'BEGIN {
		srand(seed); for (i = 0; i < n; i++) a[i] = i
		for (i = 0; i < k && i < n; i++) { j = i + int(rand() * (n - i)); t = a[i]; a[i] = a[j]; a[j] = t; print a[i] }
	}'
}

# start_peer I CMD...: CMD with stdin on fifo $D/in.I (held open here in FD[I]),
# stdout in $D/out.I and stderr in $D/err.I
start_peer() {
	local i=$1 fd
	shift
	mkfifo "$D/in.$i"
	exec {fd}<>"$D/in.$i"
	FD[i]=$fd
	START_US[i]=${EPOCHREALTIME/./}
	"$@" <"$D/in.$i" >"$D/out.$i" 2>"$D/err.$i" &
	PEER_PID[i]=$!
	PIDS+=("$!")
}

# stop_side: EOF on every stdin (a peer then prints its counters and ends: peer.mjs does, and
# analyze.mjs reads the same line from rvgroup if it prints one), 5 s for all to end on their own,
# then TERM and up to 5 s more, then stop_pid each
stop_side() {
	local i fd
	for fd in "${FD[@]}"; do exec {fd}>&-; done
	wait_gone 5 || for i in "${!PEER_PID[@]}"; do kill -TERM "${PEER_PID[$i]}" 2>/dev/null; done
	wait_gone 5
	for i in "${!PEER_PID[@]}"; do stop_pid "${PEER_PID[$i]}"; done
	FD=() PEER_PID=()
}

# wait_gone SECONDS: until every peer of the current side has ended (1 on timeout)
wait_gone() {
	local end=$((SECONDS + $1)) i left
	while :; do
		left=0
		for i in "${!PEER_PID[@]}"; do kill -0 "${PEER_PID[$i]}" 2>/dev/null && left=1; done
		[ "$left" = 1 ] || return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# ---- the sides and the groups ----------------------------------------------------------
# SIDE is gossipsub, or one rvkit group: rvkit (bootstrapped with --peer; the posts, routing
# and churn phases), loss (the same with RV_TEST_IMPAIR=loss=LOSS in every rvgroup's
# environment) or server (bootstrapped only through rvserver's introducer).

start_gossipsub() {
	local i j addrs
	for i in $(seq 0 $((N - 1))); do
		start_peer "$i" "$NODE" "$P2P_DIR/peer.mjs" "$D/addr.$i" bench
	done
	say "p2p bench: gossipsub: $N peers starting"
	local files=()
	for i in $(seq 0 $((N - 1))); do files+=("$D/out.$i"); done
	wait_all "$CONNECT_TIMEOUT" '"code":"ready"' "${files[@]}" || { say "p2p bench: gossipsub peers not all ready within ${CONNECT_TIMEOUT}s ($(count_files '"code":"ready"' "${files[@]}")/$N)"; return 1; }
	for i in $(seq 0 $((N - 1))); do
		addrs=''
		for j in $(pick $((DIAL + 1)) "$N" "$i" | grep -vx "$i" | head -"$DIAL"); do addrs+=" $(cat "$D/addr.$j")"; done
		printf '/dial%s\n' "$addrs" >&"${FD[i]}"
	done
	NEIGHBOUR_PAT='"code":"mesh"'
}

# port_of I: peer I's UDP port (empty until it wrote its port file)
port_of() { head -1 "$D/port.$1" 2>/dev/null | tr -dc '0-9'; }

# launch_rv I ARG...: rvgroup peer I of the current group (its own new key, SIDE's environment
# and spec), then until it wrote its port (10 s at most)
launch_rv() {
	local i=$1 env=()
	shift
	[ "$SIDE" = loss ] && env=(env "RV_TEST_IMPAIR=loss=$LOSS")
	start_peer "$i" "${env[@]}" "$RVGROUP" p2p join "$SPEC" --json --key "$D/key.$i" --bind 127.0.0.1:0 \
		--port-file "$D/port.$i" "$@"
	local end=$((SECONDS + 10))
	until [ -n "$(port_of "$i")" ]; do
		if [ "$SECONDS" -ge "$end" ] || ! kill -0 "${PEER_PID[i]}" 2>/dev/null; then
			say "p2p bench: rvgroup peer $i wrote no port: $(tail -2 "$D/err.$i")"
			return 1
		fi
		sleep 0.02
	done
}

start_rvkit() {
	local i j args
	for i in $(seq 0 $((N - 1))); do
		args=()
		if [ "$SIDE" = server ]; then
			args=(--server "127.0.0.1:$SRV_UDP")
		else
			for j in $(pick $((1 + (SEED + i * 7919) % BOOT)) "$i" "$i"); do
				args+=(--peer "127.0.0.1:$(port_of "$j")")
			done
		fi
		launch_rv "$i" "${args[@]}" || return 1
	done
	say "p2p bench: $SIDE: $N rvgroup peers started"
	NEIGHBOUR_PAT='"code":"NetGroup.Neighbor.Connect"'
}

start_side() {
	case $SIDE in
	gossipsub) start_gossipsub ;;
	*) start_rvkit ;;
	esac
}

# live_files: the stdout files of the running peers of the current side
live_files() {
	local i
	FILES=()
	for i in "${!PEER_PID[@]}"; do FILES+=("$D/out.$i"); done
}

# post_phase POSTS: the posts phase on the running peers: R[SIDE.*]
post_phase() {
	local posts=$1 i t0 c0 c1 rss_mean rss_max fifos=()
	live_files
	for i in "${!PEER_PID[@]}"; do fifos+=("$D/in.$i"); done
	c0=$(cpu_ticks "${PEER_PID[@]}")
	t0=$(date +%s.%N)
	R[$SIDE.posts]=$posts
	say "p2p bench: $SIDE: $posts posts at $RATE/s"
	if ! timeout $((posts / RATE + 30)) "$NODE" "$P2P_DIR/drive.mjs" "$posts" "$RATE" "$SEED" "${fifos[@]}" >"$D/drive.out" 2>&1; then
		say "p2p bench: $SIDE: the driver failed: $(tail -2 "$D/drive.out")"
		STATUS=2
	fi
	DRAIN_PAT='"text":"b ' drain "${FILES[@]}"
	alive || STATUS=2
	c1=$(cpu_ticks "${PEER_PID[@]}")
	R[$SIDE.window_s]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	read -r rss_mean rss_max <<<"$(rss_kb "${PEER_PID[@]}")"
	R[$SIDE.rss_kb]=$rss_mean R[$SIDE.rss_max_kb]=$rss_max
	R[$SIDE.cpu_s]=$(awk -v t=$((c1 - c0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
	if [ "$SIDE" = gossipsub ]; then # its counters now, while every peer still runs (10 s at most)
		for i in "${!PEER_PID[@]}"; do printf '/stats\n' >&"${FD[i]}"; done
		wait_all 10 '"code":"stats"' "${FILES[@]}" || say "p2p bench: gossipsub: not every peer printed its counters"
	else # its NetGroup.Info: counts.duplicates, the copies its gossip engine already had
		for i in "${!PEER_PID[@]}"; do kill -USR1 "${PEER_PID[i]}" 2>/dev/null; done
		wait_all 10 '"code":"NetGroup.Info"' "${FILES[@]}" || say "p2p bench: $SIDE: not every peer printed NetGroup.Info"
	fi
	"$NODE" "$P2P_DIR/analyze.mjs" "$N" "$posts" "${FILES[@]}" >"$D/figures" 2>>"$LOG" || STATUS=2
	while IFS='=' read -r k v; do R[$SIDE.$k]=$v; done <"$D/figures"
	local dl=${R[$SIDE.delivered]:-0}
	R[$SIDE.cpu_us]=$(awk -v c="${R[$SIDE.cpu_s]}" -v d="$dl" 'BEGIN { if (d > 0) printf "%.0f", c * 1e6 / d }')
	{ echo "== $SIDE posts: driver: $(cat "$D/drive.out")"; cat "$D/figures"; } >>"$LOG"
}

# peer_id I: peer I's ID, from its NetGroup.Connect.Success
peer_id() { grep -m1 -F '"code":"NetGroup.Connect.Success"' "$D/out.$1" 2>/dev/null | grep -o '"peer":"[0-9a-f]\{64\}"' | cut -d'"' -f4; }

# pick_live [EXCEPT]: a random running peer other than EXCEPT, into PICK ($RANDOM, seeded)
pick_live() {
	local keys=("${!PEER_PID[@]}")
	while :; do
		PICK=${keys[RANDOM % ${#keys[@]}]}
		[ "$PICK" != "${1:-}" ] && return 0
	done
}

# routing_phase: ROUTES messages "@ID r K SRC DST" at ROUTE_RATE/s from random peers to random
# other peers, then until none arrived for DRAIN s: R[routing.*]
routing_phase() {
	local k i ids=() src dst t=$SECONDS bound
	bound=$(awk -v n="$N" 'BEGIN { b = 0; while (2 ^ b < n) b++; print b }')
	for i in "${!PEER_PID[@]}"; do
		ids[i]=$(peer_id "$i")
		[ -n "${ids[i]}" ] || { say "p2p bench: routing: no peer ID for peer $i"; STATUS=2; return 1; }
	done
	say "p2p bench: routing: $ROUTES messages at $ROUTE_RATE/s"
	: >"$D/routes"
	for ((k = 0; k < ROUTES; k++)); do
		pick_live; src=$PICK
		pick_live "$src"; dst=$PICK
		printf '@%s r %d %d %d\n' "${ids[dst]}" "$k" "$src" "$dst" >&"${FD[src]}"
		echo "$k $src $dst" >>"$D/routes"
		sleep "$(awk -v r="$ROUTE_RATE" 'BEGIN { printf "%.3f", 1 / r }')"
	done
	live_files
	DRAIN_KEY=routing DRAIN_PAT='"code":"NetGroup.SendTo.Notify"' drain "${FILES[@]}"
	R[routing.bound]=$bound
	"$NODE" "$P2P_DIR/phases.mjs" routes "$bound" "$D/routes" "$D" >"$D/routes.figures" 2>>"$LOG" || STATUS=2
	while IFS='=' read -r k v; do R[routing.$k]=$v; done <"$D/routes.figures"
	R[routing.wall_s]=$((SECONDS - t))
	{ echo "== routing"; cat "$D/routes.figures"; } >>"$LOG"
}

# churn_start I: a new peer I with a fresh key and --peer to 1..3 running peers (not the next
# victim); its start logged
churn_start() {
	local i=$1 n=$((1 + RANDOM % 3)) args=() k tries=0
	while [ ${#args[@]} -lt $((2 * n)) ] && [ $tries -lt 20 ]; do
		tries=$((tries + 1))
		pick_live "$VICTIM"
		case " ${args[*]} " in *" 127.0.0.1:$(port_of "$PICK") "*) continue ;; esac
		[ -n "$(port_of "$PICK")" ] && args+=(--peer "127.0.0.1:$(port_of "$PICK")")
	done
	launch_rv "$i" "${args[@]}" || return 1
	echo "start $i ${START_US[i]}" >>"$D/churn.events"
}

# churn_phase: for CHURN_S s, posts "c SEQ SENDER US" at CHURN_RATE/s from random peers (never
# the next victim), and every CHURN_EVERY s one peer (picked at random) ended with SIGTERM and
# SIGKILL in turn and a new one started (churn_start); then 2 s and until no post arrived for
# DRAIN s: R[churn.*]
churn_phase() {
	local ev=$D/churn.events seq=0 kills=0 sig now t_end next_kill next_post step i next_i=0 t=$SECONDS fd
	: >"$ev"
	for i in "${!PEER_PID[@]}"; do
		echo "start $i ${START_US[i]}" >>"$ev"
		[ "$i" -ge "$next_i" ] && next_i=$((i + 1))
	done
	RANDOM=$SEED
	now=${EPOCHREALTIME/./}
	t_end=$((now + CHURN_S * 1000000))
	next_kill=$((now + CHURN_EVERY * 500000))
	step=$((1000000 / CHURN_RATE))
	next_post=$now
	pick_live; VICTIM=$PICK
	say "p2p bench: churn: ${CHURN_S} s of posts at $CHURN_RATE/s, one peer replaced every ${CHURN_EVERY} s"
	while now=${EPOCHREALTIME/./}; [ "$now" -lt "$t_end" ]; do
		if [ "$now" -ge "$next_kill" ]; then
			sig=TERM
			[ $((kills % 2)) = 1 ] && sig=KILL
			echo "kill $VICTIM ${EPOCHREALTIME/./} $sig" >>"$ev"
			kill "-$sig" "${PEER_PID[VICTIM]}" 2>/dev/null
			# reaped at once after SIGKILL (or bash reports it "Killed" on stderr); after
			# SIGTERM it ends on its own, and stop_pid reaps it after the phase
			[ "$sig" = KILL ] && wait "${PEER_PID[VICTIM]}" 2>/dev/null
			DEAD+=("${PEER_PID[VICTIM]}")
			fd=${FD[VICTIM]}
			exec {fd}>&-
			unset "PEER_PID[$VICTIM]" "FD[$VICTIM]"
			kills=$((kills + 1))
			pick_live; VICTIM=$PICK
			churn_start "$next_i" || { STATUS=2; break; }
			next_i=$((next_i + 1))
			next_kill=$((next_kill + CHURN_EVERY * 1000000))
		fi
		if [ "$now" -ge "$next_post" ]; then
			pick_live "$VICTIM"
			now=${EPOCHREALTIME/./}
			printf 'c %d %d %d\n' "$seq" "$PICK" "$now" >&"${FD[PICK]}"
			echo "post $seq $PICK $now" >>"$ev"
			seq=$((seq + 1))
			next_post=$((next_post + step))
		fi
		sleep 0.02
	done
	sleep 2
	live_files
	DRAIN_KEY=churn DRAIN_PAT='"text":"c ' drain "${FILES[@]}"
	for i in "${DEAD[@]}"; do stop_pid "$i"; done
	DEAD=()
	"$NODE" "$P2P_DIR/phases.mjs" churn "$ev" "$D" >"$D/churn.figures" 2>>"$LOG" || STATUS=2
	while IFS='=' read -r k v; do R[churn.$k]=$v; done <"$D/churn.figures"
	R[churn.wall_s]=$((SECONDS - t))
	{ echo "== churn"; cat "$D/churn.figures"; } >>"$LOG"
}

# phase P: whether PHASES has P
phase() { case " $PHASES " in *" $1 "*) return 0 ;; esac; return 1; }

# run_side SIDE: start the peers of one side or group, wait for neighbours, settle, then its
# phases: gossipsub and rvkit the posts (POSTS), rvkit then routing and churn; loss the posts
# (LOSS_POSTS), server the posts (SERVER_POSTS) with rvserver's /metrics around it
declare -A R
run_side() {
	SIDE=$1
	D=$TMP/$SIDE
	mkdir -p "$D"
	FD=() PEER_PID=()
	local i t=$SECONDS
	FILES=()
	for i in $(seq 0 $((N - 1))); do FILES+=("$D/out.$i"); done
	if ! start_side || ! wait_all "$CONNECT_TIMEOUT" "$NEIGHBOUR_PAT" "${FILES[@]}"; then
		say "p2p bench: $SIDE: $(count_files "$NEIGHBOUR_PAT" "${FILES[@]}")/$N peers with a neighbour within ${CONNECT_TIMEOUT}s"
		side_log
		stop_side
		STATUS=2
		return 1
	fi
	R[$SIDE.connect_s]=$((SECONDS - t))
	say "p2p bench: $SIDE: every peer has a neighbour after ${R[$SIDE.connect_s]} s; settling ${SETTLE} s"
	local ci c0
	ci=$(cpu_ticks "${PEER_PID[@]}")
	sleep "$SETTLE"
	c0=$(cpu_ticks "${PEER_PID[@]}")
	R[$SIDE.idle_pct]=$(awk -v t=$((c0 - ci)) -v hz="$HZ" -v s="$SETTLE" -v n="$N" 'BEGIN { if (s > 0) printf "%.2f", 100 * t / hz / s / n }')
	case $SIDE in
	gossipsub) post_phase "$POSTS" ;;
	rvkit)
		phase posts && post_phase "$POSTS"
		phase routing && routing_phase
		phase churn && churn_phase
		;;
	loss) post_phase "$LOSS_POSTS" ;;
	server)
		SRV_MID=$(curl -sf --max-time 5 "http://127.0.0.1:$SRV_PORT/metrics")
		post_phase "$SERVER_POSTS"
		SRV_AFTER=$(curl -sf --max-time 5 "http://127.0.0.1:$SRV_PORT/metrics")
		;;
	esac
	side_log
	if [ "$KEEP" = 1 ]; then
		rm -rf "$RESDIR/p2p-$SIDE"
		cp -r "$D" "$RESDIR/p2p-$SIDE" 2>/dev/null && say "p2p bench: $SIDE: peer output kept in bench/results/p2p-$SIDE"
	fi
	stop_side
	R[$SIDE.wall_s]=$((SECONDS - t))
}

# side_log: the first error lines of every peer of the current side, into the log
side_log() {
	local f
	for f in "$D"/err.*; do
		[ -s "$f" ] && { echo "-- $SIDE peer ${f##*.} stderr:"; head -5 "$f"; }
	done >>"$LOG"
}

# metric TEXT NAME: the value of NAME in a /metrics text (empty when absent)
metric() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }

# run_server: rvserver on 127.0.0.1 (port 0), then the server group, then the deltas of its
# peer-group counters over the group's life: R[server.*]
run_server() {
	local pf=$TMP/rvserver.port before end k
	"$RVSERVER" -l 127.0.0.1 --port 0 --port-file "$pf" >"$TMP/rvserver.out" 2>"$TMP/rvserver.err" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	end=$((SECONDS + 10))
	until [ "$({ wc -l <"$pf"; } 2>/dev/null || echo 0)" -ge 2 ]; do
		if [ "$SECONDS" -ge "$end" ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
			say "p2p bench: rvserver did not start: $(tail -2 "$TMP/rvserver.err")"
			STATUS=2
			return 1
		fi
		sleep 0.05
	done
	SRV_PORT=$(sed -n 1p "$pf") SRV_UDP=$(sed -n 2p "$pf")
	before=$(curl -sf --max-time 5 "http://127.0.0.1:$SRV_PORT/metrics")
	SRV_AFTER='' SRV_MID=''
	local spec=$SPEC
	SPEC=$(timeout 10 "$RVGROUP" p2p spec new bench-server --posting --routing 2>>"$LOG" | head -1)
	run_side server
	SPEC=$spec
	stop_pid "$SRV_PID"
	local a b
	for k in joins_total refreshes_total intros_total relayed_total relayed_bytes_total relay_drops_total; do
		a=$(metric "$before" "rvserver_p2p_$k") b=$(metric "$SRV_AFTER" "rvserver_p2p_$k")
		[ -n "$a" ] && [ -n "$b" ] && R[server.$k]=$((b - a))
	done
	a=$(metric "$SRV_MID" rvserver_p2p_relayed_bytes_total) b=$(metric "$SRV_AFTER" rvserver_p2p_relayed_bytes_total)
	[ -n "$a" ] && [ -n "$b" ] && R[server.relayed_bytes_posts]=$((b - a))
	R[server.intros_per_join]=$(awk -v i="${R[server.intros_total]:-}" -v j="${R[server.joins_total]:-}" 'BEGIN { if (i != "" && j > 0) printf "%.2f", i / j }')
	# sessions through the server: as each peer reported it when the session came up, and in the
	# neighbour lists of its NetGroup.Info after the drain (each session seen from both ends)
	R[server.relayed_at_connect]=$(cat "$D"/out.* | grep -F '"code":"NetGroup.Neighbor.Connect"' | grep -c -F '"relayed":true')
	R[server.relayed_at_end]=$(cat "$D"/out.* | grep -F '"code":"NetGroup.Info"' | grep -o -F '"relayed":true' | wc -l)
	R[server.neighbours_at_end]=$(cat "$D"/out.* | grep -F '"code":"NetGroup.Info"' | grep -o -F '"relayed":' | wc -l)
	{ echo "== server /metrics after:"; grep '^rvserver_p2p_' <<<"$SRV_AFTER"; } >>"$LOG"
}

T0=$(date +%s)
say "p2p bench: N=$N peers, $POSTS posts at $RATE/s, phases: $PHASES; load average $(cut -d' ' -f1-3 /proc/loadavg)"
RV_OK=
DEAD=()
for s in $SIDES; do
	case $s in
	gossipsub) phase posts && run_side gossipsub ;;
	rvkit)
		SPEC=$(timeout 10 "$RVGROUP" p2p spec new bench --posting --routing --no-server-channel 2>>"$LOG" | head -1)
		if [ "${SPEC#rvg1:}" = "$SPEC" ]; then
			say "p2p bench: rvkit side: rvgroup p2p not available ($RVGROUP)"
			echo "rvkit side: rvgroup p2p not available" >>"$LOG"
			STATUS=2
			continue
		fi
		RV_OK=1
		echo "rvkit spec: $SPEC" >>"$LOG"
		{ phase posts || phase routing || phase churn; } && run_side rvkit
		phase loss && run_side loss
		phase server && run_server
		;;
	*) say "p2p bench: unknown side $s"; exit 2 ;;
	esac
done
T1=$(date +%s)

# ---- report ----------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }
fmt_row() { printf '%-46s %-18s %-18s %s\n' "$@"; }
# xrow LABEL KEY...: one rvkit-only row, the figures joined by " / "
xrow() {
	local l=$1 k v out=''
	shift
	for k in "$@"; do v=${R[$k]:-}; out+="${out:+ / }${v:-n/a}"; done
	printf '%-56s %s\n' "$l" "$out"
}
row() { # row LABEL KEY [SUFFIX]
	local g=${R[gossipsub.$2]:-} r=${R[rvkit.$2]:-}
	fmt_row "$1" "${g:-n/a}" "${r:-n/a}" "$(ratio "$r" "$g")"
}
# goal TEXT CONDITION A [B]: PASS when the awk CONDITION on a (rvkit) and b (gossipsub) holds,
# N/A when a figure it needs is missing
goal() {
	local v need_b=${5:-}
	v=$(awk -v a="$3" -v b="$4" -v nb="$need_b" "BEGIN { if (a == \"\" || (nb && b == \"\")) print \"N/A\"; else if ($2) print \"PASS\"; else print \"FAIL\" }")
	echo "GOAL $1: $v (rvkit ${3:-n/a}${4:+, gossipsub $4})"
	[ "$v" = PASS ] || GOAL=1
}
{
	echo "rvkit bench: rvgroup p2p vs js-libp2p gossipsub ($GS_VERSION, node $("$NODE" --version))  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $N peers on 127.0.0.1, $POSTS posts at $RATE/s from random peers; phases: $PHASES; run time $((T1 - T0)) s"
	[ -n "$RV_OK" ] || echo "rvkit side: rvgroup p2p not available"
	echo
	if phase posts; then
		fmt_row "" "gossipsub" "rvkit" "rvkit/gossipsub"
		row "all started, each with a neighbour, after (s)" connect_s
		row "  connections lost during the run (gossipsub)" disconnects
		row "delivered, of $POSTS x $((N - 1)) = $((POSTS * (N - 1)))" delivered
		row "delivery %" delivery_pct
		row "posts that reached every peer" complete
		row "redundant copies per peer per post" dup_per_post
		row "  copies on the wire, all peers (gossipsub)" raw
		row "  peers that reported that count" raw_peers
		row "  duplicates on the wire, all peers (rvkit)" wire_dups
		row "  peers that reported it (NetGroup.Info)" info_peers
		row "  extra copies printed by a peer" shown_dups
		row "post-to-every-peer latency p50 (ms)" lat_p50_ms
		row "post-to-every-peer latency p99 (ms)" lat_p99_ms
		row "post-to-every-peer latency max (ms)" lat_max_ms
		row "CPU s, all peers, over the window" cpu_s
		row "  window: first post to end of drain (s)" window_s
		row "  drain: last post to quiet (s)" drain_s
		row "CPU us per delivered post" cpu_us
		row "idle CPU % per peer, over the settle time" idle_pct
		row "RSS per peer, mean (kB)" rss_kb
		row "RSS per peer, max (kB)" rss_max_kb
		row "wall time of the side (s)" wall_s
	fi
	GOAL=0
	if phase loss && [ -n "$RV_OK" ]; then
		echo
		echo "5% loss: RV_TEST_IMPAIR=loss=$LOSS in every rvgroup (each drops that share of the datagrams it sends), ${R[loss.posts]:-$LOSS_POSTS} posts at $RATE/s; gossipsub: N/A (no loss hook in it)"
		xrow "delivery % (of ${R[loss.expected]:-n/a})" loss.delivery_pct
		xrow "posts that reached every peer" loss.complete
		xrow "redundant copies per peer per post (wire)" loss.dup_per_post
		xrow "post-to-every-peer latency p50 / p99 (ms)" loss.lat_p50_ms loss.lat_p99_ms
		xrow "CPU us per delivered post" loss.cpu_us
		xrow "all with a neighbour after / wall time (s)" loss.connect_s loss.wall_s
	fi
	if phase routing && [ -n "$RV_OK" ]; then
		echo
		echo "directed routing: after the posts, ${R[routing.sent]:-$ROUTES} messages \"@PEERID text\" from random peers to random others at $ROUTE_RATE/s; gossipsub: N/A (no directed routing)"
		xrow "delivered % (of ${R[routing.sent]:-n/a})" routing.delivered_pct
		xrow "  came back to the sender (no nearer neighbour)" routing.misdelivered
		xrow "hops p50 / p99 / max" routing.hops_p50 routing.hops_p99 routing.hops_max
		xrow "% of the sent delivered in <= ceil(log2 N) = ${R[routing.bound]:-n/a} hops" routing.within_pct
		xrow "wall time (s)" routing.wall_s
	fi
	if phase churn && [ -n "$RV_OK" ]; then
		echo
		echo "churn: ${CHURN_S} s of posts at $CHURN_RATE/s, one peer replaced every ${CHURN_EVERY} s (SIGTERM and SIGKILL in turn, a new key, --peer to 1-3 live peers); gossipsub: N/A (not run: a Node.js peer takes ~1 CPU-s to start)"
		echo "  a post counts toward a peer other than its sender that was started before its send time and not signalled until 2 s after it"
		xrow "posts / peers started / ended by TERM / by KILL" churn.posts churn.started churn.killed_term churn.killed_kill
		xrow "delivery % (of ${R[churn.expected]:-n/a})" churn.delivery_pct
		xrow "  missed by peers started during the phase" churn.missed_by_new
		xrow "  delivery % counting from a peer's first neighbour" churn.delivery_joined_pct
		xrow "send to receive p50 / p99 (ms)" churn.lat_p50_ms churn.lat_p99_ms
		xrow "wall time (s)" churn.wall_s
	fi
	if phase server && [ -n "$RV_OK" ]; then
		echo
		echo "rvserver's share: peers bootstrapped only through rvserver (--server, no --peer), ${R[server.posts]:-$SERVER_POSTS} posts; /metrics before and after; gossipsub: N/A"
		xrow "delivery % / redundant copies per peer per post" server.delivery_pct server.dup_per_post
		xrow "rvserver_p2p_joins_total / refreshes_total" server.joins_total server.refreshes_total
		xrow "rvserver_p2p_intros_total / INTROs per join" server.intros_total server.intros_per_join
		xrow "rvserver_p2p_relayed_total / relayed_bytes_total" server.relayed_total server.relayed_bytes_total
		xrow "  relayed bytes from the first post to the drain" server.relayed_bytes_posts
		xrow "relayed neighbours: at connect / after the drain (of)" server.relayed_at_connect server.relayed_at_end server.neighbours_at_end
		xrow "all with a neighbour after / wall time (s)" server.connect_s server.wall_s
	fi
	echo
	if phase posts; then
		goal "delivery 100% without churn" "a >= 100" "${R[rvkit.delivery_pct]:-}" ""
		goal "redundant copies per peer per post <= 1" "a <= 1" "${R[rvkit.dup_per_post]:-}" "${R[gossipsub.dup_per_post]:-}"
		goal "p99 post-to-every-peer latency <= 20 ms" "a <= 20" "${R[rvkit.lat_p99_ms]:-}" "${R[gossipsub.lat_p99_ms]:-}"
		goal "CPU per delivered post <= 1/5 of gossipsub's" "a * 5 <= b" "${R[rvkit.cpu_us]:-}" "${R[gossipsub.cpu_us]:-}" 1
	fi
	if [ -n "$RV_OK" ]; then
		phase loss && goal "delivery >= 99.9% at 5% loss" "a >= 99.9" "${R[loss.delivery_pct]:-}" ""
		phase churn && goal "delivery >= 99% with 10% of the peers replaced a minute" "a >= 99" "${R[churn.delivery_pct]:-}" ""
		phase routing && goal "directed routing >= 99% delivered" "a >= 99" "${R[routing.delivered_pct]:-}" ""
		phase routing && goal "directed routing: 99th percentile of hops <= ceil(log2 N) = ${R[routing.bound]:-?}" "a <= ${R[routing.bound]:-0}" "${R[routing.hops_p99]:-}" ""
		phase server && goal "rvserver: INTROs per join <= 8" "a <= 8" "${R[server.intros_per_join]:-}" ""
		# the posts' window: what goes through it before is handshakes that fell back to the relay
		# (no answer straight within 5 s while 50 peers start at once on 2 cores), not post bytes
		phase server && goal "rvserver: no post bytes relayed (first post to drain)" "a == 0" "${R[server.relayed_bytes_posts]:-}" ""
	fi
	for s in gossipsub rvkit; do
		d=${R[$s.drain_s]:-0}
		[ "$d" -gt $((DRAIN + 2)) ] && echo "NOTE: $s delivered for $d s after the last post: it fell behind $RATE posts/s on this host, so its latency is mostly queueing (RATE= sets the rate)"
	done
	u=$(awk -v c="${R[rvkit.cpu_s]:-}" -v w="${R[rvkit.window_s]:-}" 'BEGIN { if (c != "" && w > 0) printf "%.2f", c / w }')
	if [ -n "$u" ] && awk -v u="$u" -v n="$(nproc)" 'BEGIN { exit !(u >= n / 2) }'; then
		echo "NOTE: rvkit's peers used $u of the $(nproc) CPUs from the first post to the end of the drain: its latency includes waiting for a CPU (RATE= lower shows it unloaded)"
	fi
	d=${R[gossipsub.disconnects]:-0}
	[ "$d" -gt 0 ] && echo "NOTE: gossipsub peers lost $d connections: libp2p's connection monitor aborts a connection whose ping times out, as it does when the peers are seconds behind, and what was in flight on it is lost"
	if [ "$STATUS" -ne 0 ]; then
		echo "WARNING: some measurements failed or were not made; see bench/results/p2p-latest.log"
	fi
	echo "$GOAL" >"$TMP/goal"
} | tee "$RESDIR/p2p-latest.txt"

if [ "$STATUS" -ne 0 ]; then
	exit "$STATUS"
fi
case " $SIDES " in
*" rvkit "*) exit "$(cat "$TMP/goal" 2>/dev/null || echo 1)" ;;
*) exit 0 ;; # the anchor alone, as asked: its goal lines say N/A
esac
