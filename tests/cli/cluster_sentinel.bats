#!/usr/bin/env bats
# cluster_sentinel.bats - rvserver nodes on a Sentinel-managed Redis
# (--cluster sentinel://IP:PORT/NAME): a master, its replica and one Sentinel
# of the test's own, on free TCP ports of 127.0.0.1 (a replica and a
# Sentinel reach Redis over TCP only), started and stopped by PID. Debian's
# redis-server is a Sentinel with --sentinel: no other package is needed.

load helpers
load sig_helpers

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

# redis_is PORT WANT CMD...: the Redis on PORT answers CMD with WANT.
redis_is() {
	local port=$1 want=$2
	shift 2
	[ "$(redis-cli -p "$port" "$@")" = "$want" ]
}
bob_on_n2() { [[ "$(redis-cli -p "$RP" hget rv:id:bob inc)" == n2.* ]]; }

replica_up() { redis-cli -p "$RP" info replication | grep -q 'master_link_status:up'; }
sentinel_sees_replica() { redis-cli -p "$SP" sentinel replicas rv | grep -qx "127.0.0.1:$RP"; }

# A master on $MP, its replica on $RP (writable: replica_forgets), a Sentinel on $SP watching it as "rv"
# (down after 0.5 s); their PIDs in MPID, RPID, SPID.
start_sentinel_set() {
	read -r MP RP SP < <(free_ports)
	spawn master redis-server --port "$MP" --bind 127.0.0.1 --save '' --appendonly no --repl-diskless-sync-delay 0
	spawn replica redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --replicaof 127.0.0.1 "$MP" \
		--replica-read-only no
	MPID=$PID_master RPID=$PID_replica
	cat >"$T/sentinel.conf" <<-EOF
		port $SP
		bind 127.0.0.1
		dir $T
		sentinel monitor rv 127.0.0.1 $MP 1
		sentinel down-after-milliseconds rv 500
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

# sends_until_moved: zed on node 1 says "mI" to bob on node 2 every 0.1 s
# until both nodes are on the master at $RP and three sends in a row went
# through. A send that fails must fail loudly (an error the sender sees);
# every send answered ok must reach bob exactly once.
sends_until_moved() {
	local i ok=() failed=0 m
	for ((i = 1; i <= 100 * RV_SLOW; i++)); do
		if rvg -s "$N1" -n zed say bob "m$i" 2>"$T/say.err"; then
			ok+=("m$i")
			grep -q "master rv at 127\.0\.0\.1:$RP" "$T/n1.err" && grep -q "master rv at 127\.0\.0\.1:$RP" "$T/n2.err" &&
				((${#ok[@]} >= 3)) && [[ ${ok[-2]} == "m$((i - 1))" && ${ok[-3]} == "m$((i - 2))" ]] && break
		else
			failed=$((failed + 1))
			grep -qE "cluster bus is unavailable|no such client" "$T/say.err"
		fi
		sleep 0.1
	done
	grep -q "connected to Redis (master rv at 127.0.0.1:$RP)" "$T/n1.err"
	grep -q "connected to Redis (master rv at 127.0.0.1:$RP)" "$T/n2.err"
	for m in "${ok[@]}"; do
		wait_for_line "$T/bob.out" "^\[@zed\] $m\$" 5
		[ "$(grep -c "^\[@zed\] $m\$" "$T/bob.out")" = 1 ]
	done
	echo "# ${#ok[@]} sends ok, $failed refused (loudly) until both nodes moved" >&3
}

# two nodes, alice on node 1 and bob on node 2 in #ops, a direct message across
two_nodes_and_members() {
	node 1
	node 2
	start_member alice -s "$N1" -n alice join ops
	wait_for_line "$T/alice.err" "joined ops" 5
	start_member bob -s "$N2" -n bob join ops
	wait_for_line "$T/bob.err" "joined ops" 5
	run rvg -s "$N1" -n zed say bob "before"
	assert_success
	wait_for_line "$T/bob.out" '^\[@zed\] before$' 5
}

# The replica loses what replication is slow to pass on (asynchronous: a
# failover may lose the last writes): #ops's members and bob's receiver,
# deleted on the replica only. Only the nodes' re-assertion brings them back.
replica_forgets() {
	# a new replica's stream starts at its first ack (up to 1 s): wait for the keys
	until_true 5 redis_is "$RP" 2 exists rv:g:ops:m rv:id:bob
	[ "$(redis-cli -p "$RP" del rv:g:ops:m rv:id:bob)" = 2 ]
	[ "$(redis-cli -p "$MP" scard rv:g:ops:m)" = 2 ]
}

# after a failover: the new master knows both members and bob's receiver
# again (re-asserted), and group posts flow both ways
after_failover() {
	[ "$(redis-cli -p "$RP" role | head -1)" = master ]
	until_true 5 redis_is "$RP" 2 scard rv:g:ops:m
	until_true 5 bob_on_n2
	to alice "after the failover"
	wait_for_line "$T/bob.out" '^\[ops\] alice: after the failover$' 5
	to bob "and back"
	wait_for_line "$T/alice.out" '^\[ops\] bob: and back$' 5
}

failover() { redis-cli -p "$SP" sentinel failover rv | grep -qx OK; }

@test "cluster on Sentinel: nodes find the master, follow SENTINEL FAILOVER at once, re-assert; no send lost silently" {
	start_sentinel_set
	two_nodes_and_members
	grep -q "Sentinel 127.0.0.1 port $SP names 127.0.0.1:$MP as master rv" "$T/n1.err"
	# an rvsignal node on the same Sentinel, a peer in room r1 on it
	spawn s1 rvsignal serve -l 127.0.0.1 --port 0 --port-file "$T/s1.port" --cluster "sentinel://127.0.0.1:$SP/rv" \
		--node-id s1 --cluster-secret-file "$T/secret"
	wait_for_line "$T/s1.err" "cluster: connected to Redis \(master rv at 127\.0\.0\.1:$MP\)" 5
	peer carol r1 "ws://127.0.0.1:$(sed -n 1p "$T/s1.port")/ws"
	[ "$(redis-cli -p "$MP" hlen sig:r:r1:m)" = 1 ]
	replica_forgets
	until_true 5 redis_is "$RP" 1 exists sig:r:r1:m
	[ "$(redis-cli -p "$RP" del sig:r:r1:m)" = 1 ]
	# the replica becomes the master while the old one still runs: the nodes
	# hear it from the Sentinel (+switch-master) and move
	until_true 5 failover
	sends_until_moved
	grep -q "a Sentinel moved master rv to 127.0.0.1 port $RP" "$T/n1.err"
	after_failover
	# rvsignal moved too, and asserted its peer's room on the new master
	wait_for_line "$T/s1.err" "cluster: connected to Redis \(master rv at 127\.0\.0\.1:$RP\)" 5
	until_true 5 redis_is "$RP" 1 hlen sig:r:r1:m
}

@test "cluster on Sentinel: kill -9 of the master: the nodes ask the Sentinel until it names the replica" {
	start_sentinel_set
	two_nodes_and_members
	replica_forgets
	kill_hard "$MPID"
	sends_until_moved
	grep -q "lost Redis" "$T/n1.err"
	after_failover
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
