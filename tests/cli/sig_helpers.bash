# sig_helpers.bash - rvsignal clients for the suites (rvsignal.bats,
# cluster_signal.bats): `rvsignal connect` processes reading their stdin from
# a FIFO, every received message one JSON line in $T/NAME.out. Load after
# helpers.bash. peer's default URL is $WS.

# start_client NAME CONNECT-ARG...: `rvsignal connect` in the background with
# its stdin on a FIFO (write with `to NAME LINE`, end with `close_input NAME`).
start_client() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in"
	( _close_inherited; exec timeout -k 2 "$RV_LIFETIME" rvsignal connect "$@" ) \
		<"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
	eval "PID_$name=$!"
	PIDS+=("$!")
	exec {fd}>"$T/$name.in"
	INFD[$name]=$fd
}

# wait_json NAME FILTER [TIMEOUT]: until a line NAME received satisfies FILTER (jq).
wait_json() {
	local file=$T/$1.out filter=$2 timeout=${3:-5} deadline
	deadline=$(($(date +%s%N) / 1000000 + timeout * 1000 * RV_SLOW))
	while (($(date +%s%N) / 1000000 < deadline)); do
		if [ -s "$file" ] && jq -c "select($filter)" "$file" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	echo "# nothing in $file matches jq 'select($filter)' within ${timeout}s (x$RV_SLOW); it holds:" >&2
	sed 's/^/#   /' "$file" 2>/dev/null | tail -30 >&2
	return 1
}

# njson NAME FILTER: how many lines NAME received satisfy FILTER.
njson() { jq -c "select($2)" "$T/$1.out" 2>/dev/null | wc -l; }

# client NAME URL [ARG...]: start_client, wait for the welcome (and the state
# when --room is given); the peer id in ID_NAME, the resume token in TOK_NAME.
client() {
	local name=$1
	start_client "$@"
	wait_json "$name" '.type == "welcome"' 5 || return 1
	case " $* " in *" --room "*) wait_json "$name" '.type == "state" or .type == "error"' 5 || return 1 ;; esac
	eval "ID_$name=$(jq -r 'select(.type == "welcome") | .id' "$T/$name.out" | tail -1)"
	eval "TOK_$name=$(jq -r 'select(.type == "welcome") | .resume' "$T/$name.out" | tail -1)"
}

# peer NAME ROOM [URL [ARG...]]: a client that joined ROOM with its name.
peer() {
	local name=$1 room=$2 url=${3:-$WS}
	shift 2
	shift $(($# ? 1 : 0))
	client "$name" "$url" --room "$room" --name "$name" "$@"
	wait_json "$name" ".type == \"state\" and .room == \"$room\"" 1
}

