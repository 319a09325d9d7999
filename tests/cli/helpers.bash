# helpers.bash - shared setup for the CLI tests: real processes on 127.0.0.1,
# every wait bounded, everything started is killed by its saved PID.
#
#   start_server [ARG...]        rvserver on 127.0.0.1, port 0, port file; exports
#                                RV_SERVER, SERVER_PORT, SERVER_UDP_PORT, SERVER_PID, SERVER_ERR
#   spawn NAME CMD...            CMD in the background, stdout/stderr to $T/NAME.out/.err;
#                                PID in PID_<NAME>
#   start_member NAME ARG...     rvgroup ARG... in the background, stdin from a FIFO the test
#                                writes with `to NAME TEXT` and closes with `close_input NAME`
#   wait_for_line FILE PATTERN [TIMEOUT]   until an ERE matches a line of FILE
#   wait_exit PID [TIMEOUT]      wait for a background process; its status in $EXIT
#   count_lines FILE PATTERN N [TIMEOUT]   until FILE has at least N lines matching

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

RV_BIN=${RV_BIN:-"$BATS_TEST_DIRNAME/../../build/bin"}
RV_BIN=$(cd "$RV_BIN" && pwd)
export RV_BIN
export PATH="$RV_BIN:$PATH"
# The tests' Python is Debian's (scripts/deps.sh installs python3; the test
# scripts need only its standard library), not whatever python3 comes first
# on PATH: a version manager's shim takes most of a second to start, and the
# suite starts Python a few hundred times.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
	mkdir -p "$BATS_RUN_TMPDIR/python"
	ln -sf /usr/bin/python3 "$BATS_RUN_TMPDIR/python/python3"
	export PATH="$BATS_RUN_TMPDIR/python:$PATH"
fi
# A sanitizer build runs slower: scale the waits.
RV_SLOW=1
if nm "$RV_BIN/rvserver" 2>/dev/null | grep -q __asan_init; then
	RV_SLOW=3
	RV_ASAN_BASE=${ASAN_OPTIONS:-detect_leaks=1}
	RV_UBSAN_BASE=${UBSAN_OPTIONS:-print_stacktrace=1}
fi
export RV_SLOW
# Safety net: a background process never outlives this many seconds.
RV_LIFETIME=$((90 * RV_SLOW))

# Scale a wait in seconds by the build's speed.
secs() { echo $(($1 * RV_SLOW)); }

setup() {
	T=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/rv.XXXXXX")
	export T
	PIDS=()
	declare -gA INFD=()
	unset RV_SERVER RV_ID RV_TOKEN RV_AUTH_SECRET
	if ((RV_SLOW > 1)); then
		# every sanitizer report, foreground or background, lands in $T/san.PID
		export ASAN_OPTIONS="$RV_ASAN_BASE:log_path=$T/san"
		export UBSAN_OPTIONS="$RV_UBSAN_BASE:log_path=$T/san"
	fi
	cd "$T"
}

# Kill a process (by PID) and wait for it, bounded.
stop_pid() {
	local pid=$1 i
	alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	kill_hard "$pid"
	wait "$pid" 2>/dev/null || true
	return 0
}

teardown() {
	local fd pid
	for fd in "${INFD[@]}"; do
		eval "exec $fd>&-" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		stop_pid "$pid"
	done
	# Sanitizer reports (files from log_path, or in a tool's stderr) fail the test.
	local f bad=0
	for f in "$T"/san.* "$T"/*.err; do
		[ -f "$f" ] || continue
		case $f in
		*/san.*) ;;
		*) grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$f" || continue ;;
		esac
		echo "# sanitizer report in $f:"
		sed 's/^/#   /' "$f" | head -60
		bad=1
	done >&2
	return "$bad"
}

# Close, in a child, the FIFO writers the test holds, so that closing one in
# the test really gives its reader EOF.
_close_inherited() {
	local fd
	for fd in "${INFD[@]}"; do
		eval "exec $fd>&-"
	done
}

# spawn NAME CMD...: run CMD in the background, bounded by $RV_LIFETIME.
spawn() {
	local name=$1
	shift
	( _close_inherited; exec timeout -k 2 "$RV_LIFETIME" "$@" ) >"$T/$name.out" 2>"$T/$name.err" 3>&- </dev/null &
	eval "PID_$name=$!"
	PIDS+=("$!")
}

# start_member NAME RVGROUP-ARG...: rvgroup reading stdin from a FIFO.
start_member() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in"
	( _close_inherited; exec timeout -k 2 "$RV_LIFETIME" rvgroup "$@" ) \
		<"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
	eval "PID_$name=$!"
	PIDS+=("$!")
	exec {fd}>"$T/$name.in"
	INFD[$name]=$fd
}

# to NAME LINE...: type lines into a member's stdin.
to() {
	local name=$1 fd=${INFD[$1]}
	shift
	printf '%s\n' "$@" >&"$fd"
}

close_input() {
	local fd=${INFD[$1]}
	eval "exec $fd>&-"
	unset "INFD[$1]"
}

wait_for_line() {
	local file=$1 pattern=$2 timeout=${3:-5} deadline
	deadline=$(($(date +%s%N) / 1000000 + timeout * 1000 * RV_SLOW))
	while (($(date +%s%N) / 1000000 < deadline)); do
		if [ -f "$file" ] && grep -qE -- "$pattern" "$file"; then
			return 0
		fi
		sleep 0.05
	done
	echo "# no line matching '$pattern' in $file within ${timeout}s (x$RV_SLOW); it holds:" >&2
	sed 's/^/#   /' "$file" 2>/dev/null | tail -30 >&2
	return 1
}

count_lines() {
	local file=$1 pattern=$2 n=$3 timeout=${4:-10} deadline got=0
	deadline=$(($(date +%s%N) / 1000000 + timeout * 1000 * RV_SLOW))
	while (($(date +%s%N) / 1000000 < deadline)); do
		got=$(grep -cE -- "$pattern" "$file" 2>/dev/null || true)
		((got >= n)) && return 0
		sleep 0.1
	done
	echo "# $file: $got lines matching '$pattern', wanted $n (within ${timeout}s)" >&2
	return 1
}

# wait_exit PID [TIMEOUT]: sets EXIT to the status, fails when it does not end.
wait_exit() {
	local pid=$1 timeout=${2:-5} deadline
	deadline=$(($(date +%s%N) / 1000000 + timeout * 1000 * RV_SLOW))
	while alive "$pid"; do
		if (($(date +%s%N) / 1000000 >= deadline)); then
			echo "# process $pid still running after ${timeout}s" >&2
			EXIT=
			return 1
		fi
		sleep 0.05
	done
	EXIT=0
	wait "$pid" || EXIT=$?
	return 0
}

# The tool behind a PID from spawn/start_member (the child of its `timeout`).
tool_pid() { pgrep -P "$1" | head -1; }

# SIGKILL a spawned tool (not just its `timeout` wrapper, which cannot forward KILL).
kill_hard() {
	local child
	child=$(tool_pid "$1")
	[ -n "$child" ] && kill -KILL "$child" 2>/dev/null
	kill -KILL "$1" 2>/dev/null || true
}

# Is PID still running (not gone, not a zombie)?
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# start_server [ARG...]: one rvserver; NAME defaults to "server" (SERVER_NAME=other).
start_server() {
	local name=${SERVER_NAME:-server} pf
	pf="$T/$name.port"
	rm -f "$pf"
	spawn "$name" rvserver -l 127.0.0.1 --port 0 --port-file "$pf" "$@"
	SERVER_PID=$(eval echo "\$PID_$name")
	SERVER_ERR="$T/$name.err"
	if ! wait_for_line "$SERVER_ERR" 'rvserver: ready on 127\.0\.0\.1 port [0-9]+' 5; then
		return 1
	fi
	local deadline=$(($(date +%s) + 5 * RV_SLOW))
	while [ ! -s "$pf" ] || [ "$(wc -l <"$pf")" -lt 2 ]; do
		(($(date +%s) < deadline)) || { echo "# no port file $pf" >&2; return 1; }
		sleep 0.05
	done
	SERVER_PORT=$(sed -n 1p "$pf")
	SERVER_UDP_PORT=$(sed -n 2p "$pf")
	RV_SERVER="127.0.0.1:$SERVER_PORT"
	export RV_SERVER SERVER_PORT SERVER_UDP_PORT SERVER_PID SERVER_ERR
}

# Restart a server on a given port (for --reconnect): restart_server PORT [ARG...]
restart_server_on() {
	local port=$1 name=${SERVER_NAME:-server2}
	shift
	spawn "$name" rvserver -l 127.0.0.1 --port "$port" "$@"
	SERVER_PID=$(eval echo "\$PID_$name")
	SERVER_ERR="$T/$name.err"
	wait_for_line "$SERVER_ERR" "rvserver: ready on 127\.0\.0\.1 port $port" 5
}

stats() { timeout 5 curl -sf "http://$RV_SERVER/stats"; }
stat_of() { stats | jq -r ".$1"; }

# Bounded rvgroup in the foreground.
rvg() { timeout "$(secs 10)" rvgroup "$@"; }

rvclient() { timeout "$(secs 10)" python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" "$@"; }

# recv NAME ARG...: rvrecv -n NAME ARG... in the background; returns once it
# is connected (and has joined its group, with -g).
recv() {
	local name=$1
	shift
	spawn "$name" rvrecv -n "$name" "$@"
	wait_for_line "$T/$name.err" 'connected to' 5
	case " $* " in
	*" -g "* | *" --group "*) wait_for_line "$T/$name.err" 'joined ' 5 ;;
	esac
}

# random FILE MB: MB megabytes of random bytes.
random() { head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"; }

# size FILE (0 when missing)
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# same_numbers PREFIX STATS METRICS: every number of the /stats object STATS
# is a sample of the /metrics text METRICS and the other way round, so that a
# number added to one side only fails. A /stats key path joined with "_" is
# PREFIX_KEY (a gauge, or a counter already named *_total) or PREFIX_KEY_total
# (a counter); KEY_s is PREFIX_KEY_seconds; a list (one object per stream or
# room) counts as one number, its length, and what is inside it is not named.
# Each sample has a TYPE: counter exactly when its name ends in _total.
# (One awk each, not a grep per name: hundreds of names, and under ASan on a
# busy machine the forks took 18 s.)
same_numbers() {
	local prefix=$1 stats=$2 metrics=$3 names bad mapped
	names=$(grep -v '^#' <<<"$metrics" | awk '{ print $1 }' | sort)
	[ -n "$names" ] || fail "no samples in /metrics"
	[ "$(uniq -d <<<"$names")" = "" ] || fail "a sample twice: $(uniq -d <<<"$names")"
	bad=$(awk '$1 == "#" && $2 == "TYPE" { t[$3] = $4; next }
		!/^#/ { want = $1 ~ /_total$/ ? "counter" : "gauge"; if (t[$1] != want) print $1 ": no TYPE " want }' <<<"$metrics")
	[ -z "$bad" ] || fail "$bad"
	mapped=$(jq -r '[paths(numbers), paths(arrays)][] | select(all(.[]; type == "string")) | join("_")' <<<"$stats" |
		awk -v p="$prefix" 'NR == FNR { n[$1] = 1; next }
			{ m = p "_" $0
			  if ($0 ~ /_s$/) m = p "_" substr($0, 1, length($0) - 2) "_seconds"
			  else if (!(m in n)) m = m "_total"
			  if (m in n) print m; else print "/stats has " $0 ", /metrics has no " p "_" $0 "(_total)" }' \
			<(printf '%s\n' "$names") - | sort)
	bad=$(grep '^/stats has' <<<"$mapped" || true)
	[ -z "$bad" ] || fail "$bad"
	[ "$mapped" = "$names" ] ||
		fail "/metrics has samples no /stats key names: $(comm -13 - <(printf '%s\n' "$names") <<<"$mapped" | xargs)"
}
