# bench/common.sh - what the benchmark scripts share, sourced after they set
# ROOT, BIN, PIN, WATCHDOG and (for idle tests) IDLE_N: a temporary folder,
# every started process stopped at exit (add PIDs to PIDS), a whole-run
# watchdog, the file limit raised, CPU pinning and the generators built.
# Call: bench_init NAME
# shellcheck shell=bash

say() { printf '%s\n' "$*" >&2; }

# shellcheck disable=SC2317 # called from the EXIT trap
bench_cleanup() {
	local p i
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for i in $(seq 1 30); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	if [ -n "${BENCH_KEEP:-}" ]; then	# (bench/README.md)
		echo "bench: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}

# stop_pid PID: TERM, up to 3 s, then KILL; PID leaves PIDS.
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 1 30); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	local keep=() q
	for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	PIDS=("${keep[@]}")
	return 0
}

# free_port [tcp|udp|both] [SPAN]: a loopback port that no socket uses in any state (listening,
# connected, TIME_WAIT), with PORT..PORT+SPAN-1 all free, chosen below the kernel's ephemeral
# range (/proc/sys/net/ipv4/ip_local_port_range): a port from that range can be taken at any
# moment by a client socket, and right after the idle test's 10,000 connections most of it is in
# TIME_WAIT. Prints the port; status 1 when 100 tries found none. A server may still lose a race
# for the port: start it in a loop that picks again when it exits (see run.sh).
free_port() {
	local proto=${1:-tcp} span=${2:-1} lo=32768 base=10000 top p j busy flags
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	top=$((lo - span))
	[ "$top" -gt $((base + 1000)) ] || base=1024
	case $proto in udp) flags=-Hnua ;; both) flags=-Hntua ;; *) flags=-Hnta ;; esac
	for _ in $(seq 1 100); do
		p=$((base + (RANDOM * 32768 + RANDOM) % (top - base)))
		busy=
		for j in $(seq 0 $((span - 1))); do
			[ -n "$(ss "$flags" "sport = :$((p + j))" 2>/dev/null)" ] && { busy=1; break; }
		done
		[ -z "$busy" ] && { echo "$p"; return 0; }
	done
	return 1
}

# Figures: kv KEY < line (the value of KEY=value), median of the arguments (blank ones left out),
# ratio A B ("1.23x"), thou N (1,234,567), join (the arguments, or n/a).
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | grep -v '^$' | sort -g |
		awk '{a[NR]=$1} END {if (NR == 0) exit; if (NR%2) print a[(NR+1)/2]; else printf "%.10g\n", (a[NR/2]+a[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }
thou() { awk -v n="$1" 'BEGIN { if (n == "") { print "n/a"; exit } s = sprintf("%.0f", n); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }
# shellcheck disable=SC2317 # called through eval
join() { local IFS=' '; echo "${*:-n/a}"; }

bench_init() {
	BENCH_NAME=$1
	TMP=$(mktemp -d "/tmp/rv$BENCH_NAME.XXXXXX")
	PIDS=()
	WATCH_PID=
	STATUS=0
	trap bench_cleanup EXIT
	trap 'say "$BENCH_NAME: interrupted"; exit 2' INT TERM

	# Whole-run watchdog: TERM this script (the EXIT trap then stops everything
	# it started); a loop of short sleeps, so that killing it leaves nothing.
	(
		end=$((SECONDS + WATCHDOG))
		while [ "$SECONDS" -lt "$end" ]; do sleep 1; done
		say "$BENCH_NAME: watchdog: run exceeded ${WATCHDOG}s"
		kill -TERM $$
	) 2>/dev/null &
	WATCH_PID=$!

	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	NOFILE=$(ulimit -n)
	if [ -n "${IDLE_N:-}" ] && [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_N + 200)) ]; then
		say "$BENCH_NAME: ulimit -n is $NOFILE; idle test reduced to $((NOFILE - 200)) connections"
		IDLE_N=$((NOFILE - 200))
	fi

	if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
		PIN_SRV=(taskset -c 0)
		PIN_GEN=(taskset -c 1)
	else
		PIN_SRV=()
		PIN_GEN=()
	fi

	local b
	for b in fanout idle; do
		if [ ! -x "$BIN/$b" ]; then
			say "$BENCH_NAME: building $BIN/$b"
			make -C "$ROOT" --no-print-directory bench-bins >/dev/null || { say "$BENCH_NAME: build failed"; exit 2; }
		fi
	done
}
