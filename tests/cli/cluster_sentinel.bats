#!/usr/bin/env bats
# cluster_sentinel.bats - rvserver nodes on a Sentinel-managed Redis
# (--cluster sentinel://IP:PORT/NAME): a master, its replica and one Sentinel
# of the test's own, on free TCP ports of 127.0.0.1 (a replica and a
# Sentinel reach Redis over TCP only), started and stopped by PID. Debian's
# redis-server is a Sentinel with --sentinel: no other package is needed.

load helpers

setup_file() {
	command -v redis-server >/dev/null || skip "redis-server is not installed (scripts/deps.sh --check)"
}

# helpers.bash's setup, and the cluster's secret
eval "$(declare -f setup | sed '1s/^setup/rv_setup/')"
setup() {
	rv_setup
	echo "cluster-test-secret" >"$T/secret"
}

# Three TCP ports free on 127.0.0.1 (held together while chosen, so distinct).
free_ports() {
	python3 -c "
import socket
s=[socket.socket() for _ in range(3)]
for x in s: x.bind(('127.0.0.1',0))
print(' '.join(str(x.getsockname()[1]) for x in s))"
}

# until_true SECS CMD...: CMD succeeds within SECS (x RV_SLOW), polled every 0.1 s.
until_true() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10 * RV_SLOW; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "# not true within ${secs}s: $*" >&2
	return 1
}

replica_up() { redis-cli -p "$RP" info replication | grep -q 'master_link_status:up'; }
sentinel_sees_replica() { redis-cli -p "$SP" sentinel replicas rv | grep -qx "127.0.0.1:$RP"; }

# A master on $MP, its replica on $RP, a Sentinel on $SP watching it as "rv"
# (down after 1 s); their PIDs in MPID, RPID, SPID.
start_sentinel_set() {
	read -r MP RP SP < <(free_ports)
	spawn master redis-server --port "$MP" --bind 127.0.0.1 --save '' --appendonly no --repl-diskless-sync-delay 0
	spawn replica redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --replicaof 127.0.0.1 "$MP"
	MPID=$PID_master RPID=$PID_replica
	cat >"$T/sentinel.conf" <<-EOF
		port $SP
		bind 127.0.0.1
		dir $T
		sentinel monitor rv 127.0.0.1 $MP 1
		sentinel down-after-milliseconds rv 1000
		sentinel failover-timeout rv 3000
	EOF
	until_true 5 replica_up
	spawn sentinel redis-server "$T/sentinel.conf" --sentinel
	SPID=$PID_sentinel
	until_true 5 sentinel_sees_replica
}

# node N: rvserver node nN on the Sentinel; its address in N<N>.
node() {
	local n=$1
	shift
	SERVER_NAME=n$n start_server --cluster "sentinel://127.0.0.1:$SP/rv" --node-id "n$n" \
		--cluster-secret-file "$T/secret" "$@"
	eval "N$n=127.0.0.1:$SERVER_PORT"
	wait_for_line "$T/n$n.err" "cluster: connected to Redis \(master rv at 127\.0\.0\.1:$MP\)" 5
}

@test "cluster on Sentinel: nodes find the master, follow a failover (SENTINEL FAILOVER), re-assert; no send lost silently" {
	start_sentinel_set
	node 1
	node 2
	grep -q "Sentinel 127.0.0.1 port $SP names 127.0.0.1:$MP as master rv" "$T/n1.err"
	start_member alice -s "$N1" -n alice join ops
	wait_for_line "$T/alice.err" "joined ops" 5
	start_member bob -s "$N2" -n bob join ops
	wait_for_line "$T/bob.err" "joined ops" 5
	run rvg -s "$N1" -n zed say bob "before"
	assert_success
	wait_for_line "$T/bob.out" '^\[@zed\] before$' 5
	# the failover: the replica becomes the master; the nodes hear it from the
	# Sentinel (+switch-master) and move, while cross-node sends go on
	until_true 5 redis-cli -p "$SP" sentinel failover rv
	local i ok=() failed=0
	for ((i = 1; i <= 60 * RV_SLOW; i++)); do
		if rvg -s "$N1" -n zed say bob "m$i" 2>"$T/say.err"; then
			ok+=("m$i")
			grep -q "master rv at 127\.0\.0\.1:$RP" "$T/n1.err" && grep -q "master rv at 127\.0\.0\.1:$RP" "$T/n2.err" &&
				((${#ok[@]} >= 3)) && [[ ${ok[-1]} == "m$i" && ${ok[-2]} == "m$((i - 1))" ]] && break
		else
			failed=$((failed + 1))
			# a send in the gap fails loudly: an error the sender sees, never a silence
			grep -qE "cluster bus is unavailable|no such client" "$T/say.err"
		fi
		sleep 0.1
	done
	grep -q "a Sentinel moved master rv to 127.0.0.1 port $RP" "$T/n1.err"
	grep -q "connected to Redis (master rv at 127.0.0.1:$RP)" "$T/n2.err"
	[ "$(redis-cli -p "$RP" role | head -1)" = master ]
	# every send that was answered ok was delivered, once
	local m
	for m in "${ok[@]}"; do
		wait_for_line "$T/bob.out" "^\[@zed\] $m\$" 5
		[ "$(grep -c "^\[@zed\] $m\$" "$T/bob.out")" = 1 ]
	done
	echo "# $((${#ok[@]})) sends ok, $failed refused during the failover" >&3
	# the new master knows both members (re-asserted), and group posts flow both ways
	until_true 5 test "$(redis-cli -p "$RP" scard rv:g:ops:m)" = 2
	to alice "after the failover"
	wait_for_line "$T/bob.out" '^\[ops\] alice: after the failover$' 5
	to bob "and back"
	wait_for_line "$T/alice.out" '^\[ops\] bob: and back$' 5
}

@test "cluster on Sentinel: bad sentinel:// URLs are refused; no Sentinel answering is said, and the node keeps asking" {
	run timeout 5 rvserver -l 127.0.0.1 -p 0 --cluster sentinel://localhost:26379/rv --node-id n1 --cluster-secret-file "$T/secret"
	assert_failure
	assert_output --partial "each Sentinel an IP address"
	run timeout 5 rvserver -l 127.0.0.1 -p 0 --cluster sentinel://127.0.0.1:26379 --node-id n1 --cluster-secret-file "$T/secret"
	assert_failure
	assert_output --partial "the master's name is missing"
	run timeout 5 rvserver -l 127.0.0.1 -p 0 --cluster "sentinel://127.0.0.1:26379/r v" --node-id n1 --cluster-secret-file "$T/secret"
	assert_failure
	assert_output --partial "1-63 characters"
	local p
	read -r p _ < <(free_ports)	# nothing listens there
	SERVER_NAME=n1 start_server --cluster "sentinel://127.0.0.1:$p,127.0.0.1:$p/rv" --node-id n1 \
		--cluster-secret-file "$T/secret"
	wait_for_line "$T/n1.err" "no Sentinel named master rv \(last: 127\.0\.0\.1 port $p" 5
	# the node serves its own clients meanwhile
	spawn bob rvgroup -s "127.0.0.1:$SERVER_PORT" -n bob listen
	wait_for_line "$T/bob.err" 'connected to' 5
	run rvg -s "127.0.0.1:$SERVER_PORT" -n alice say bob "local"
	assert_success
	wait_for_line "$T/bob.out" '^\[@alice\] local$' 5
}
