# cluster_helpers.bash - for the suites that run nodes on a Redis of the
# test's own (cluster.bats, cluster_signal.bats): on a unix socket in $T,
# started and stopped by PID. Load after helpers.bash.

# helpers.bash's setup, then a Redis of the test's own
eval "$(declare -f setup | sed '1s/^setup/rv_setup/')"
setup() {
	rv_setup
	command -v redis-server >/dev/null || skip "redis-server is not installed"
	echo "cluster-test-secret" >"$T/secret"
	start_redis
}

# start_redis: redis-server on $T/r.sock, no persistence; PID in REDIS_PID.
start_redis() {
	rm -f "$T/r.sock"
	spawn redis redis-server --port 0 --unixsocket "$T/r.sock" --save '' --appendonly no
	REDIS_PID=$PID_redis
	local i
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		[ -S "$T/r.sock" ] && redis-cli -s "$T/r.sock" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.1
	done
	echo "# redis-server did not start" >&2
	return 1
}

