#!/usr/bin/env bats
# cluster_signal.bats - rvsignal nodes sharing rooms (--cluster) on a Redis
# of the test's own (cluster_helpers.bash); clients are `rvsignal connect`
# processes (sig_helpers.bash), each on the node its URL names.

bats_require_minimum_version 1.5.0

load helpers
load cluster_helpers
load sig_helpers

setup_file() {
	command -v redis-server >/dev/null || skip "redis-server is not installed (scripts/deps.sh --check)"
}

# sig_node N [ARG...]: rvsignal node sN on the cluster; WS<N>, HTTP<N>, SPID<N>.
sig_node() {
	local n=$1 pf=$T/s$1.port
	shift
	rm -f "$pf"
	spawn "s$n" rvsignal serve -l 127.0.0.1 --port 0 --port-file "$pf" --cluster "unix:$T/r.sock" \
		--node-id "s$n" --cluster-secret-file "$T/secret" "$@"
	wait_for_line "$T/s$n.err" 'rvsignal: ready on' 5 || return 1
	wait_for_line "$T/s$n.err" 'cluster: connected to Redis' 5 || return 1
	local port
	port=$(sed -n 1p "$pf")
	eval "WS$n=ws://127.0.0.1:$port/ws HTTP$n=http://127.0.0.1:$port SPID$n=\$PID_s$n"
}

@test "cluster_signal: two peers in one room on two nodes see each other and exchange an offer and an answer" {
	sig_node 1
	sig_node 2
	peer alice r1 "$WS1"
	peer bob r1 "$WS2"
	# the state bob got lists alice, from the directory; alice hears bob join
	run jq -c 'select(.type == "state") | [.peers[] | [.id, .name]]' "$T/bob.out"
	assert_output "[[\"$ID_alice\",\"alice\"]]"
	wait_json alice ".type == \"joined\" and .peer.id == \"$ID_bob\" and .peer.name == \"bob\""
	to alice "{\"type\":\"offer\",\"to\":\"$ID_bob\",\"sdp\":\"v=0 offer\"}"
	wait_json bob ".type == \"offer\" and .from == \"$ID_alice\" and .sdp == \"v=0 offer\""
	to bob "{\"type\":\"answer\",\"to\":\"$ID_alice\",\"sdp\":\"v=0 answer\"}"
	wait_json alice ".type == \"answer\" and .from == \"$ID_bob\" and .sdp == \"v=0 answer\""
	to bob "{\"type\":\"candidate\",\"to\":\"$ID_alice\",\"candidate\":\"c1\"}"
	wait_json alice '.type == "candidate" and .candidate == "c1"'
	# a room broadcast, with exclude applied on the receiving node
	peer carol r1 "$WS2"
	to alice "{\"type\":\"chat\",\"room\":\"r1\",\"n\":1,\"exclude\":[\"$ID_carol\"]}"
	to alice '{"type":"chat","room":"r1","n":2}'
	wait_json carol '.n == 2'
	wait_json bob '.n == 2'
	[ "$(njson bob '.n == 1')" -eq 1 ]
	[ "$(njson carol '.n == 1')" -eq 0 ]
	# a peer no node has: not-found, as on one node
	to alice '{"type":"chat","to":"p-00000000","n":3}'
	wait_json alice '.type == "error" and .code == "not-found" and .re == "chat"'
	to bob '{"type":"leave","room":"r1"}'
	wait_json alice ".type == \"left\" and .peer.id == \"$ID_bob\""
	run curl -sf "$HTTP1/stats"
	[ "$(jq '.cluster.bus_up' <<<"$output")" -eq 1 ]
	[ "$(jq '.cluster.sent' <<<"$output")" -ge 2 ]
	[ "$(jq '.cluster.remote_offline' <<<"$output")" -eq 1 ]
	run curl -sf "$HTTP1/metrics"
	assert_output --partial 'rvsignal_cluster_bus_up 1'
}

@test "cluster_signal: --max-peers holds across nodes, also for joins at once" {
	sig_node 1 --max-peers 3
	sig_node 2 --max-peers 3
	local i
	for i in 1 2 3 4 5 6; do
		start_client "p$i" "$(eval echo "\$WS$((i % 2 + 1))")" --room full --name "p$i"
	done
	for i in 1 2 3 4 5 6; do
		wait_json "p$i" '.type == "state" or (.type == "error" and .re == "join")' 10
	done
	local admitted=0 refused=0
	for i in 1 2 3 4 5 6; do
		admitted=$((admitted + $(njson "p$i" '.type == "state"')))
		refused=$((refused + $(njson "p$i" '.type == "error" and .code == "room-full"')))
	done
	assert_equal "$admitted" 3
	assert_equal "$refused" 3
	assert_equal "$(redis-cli -s "$T/r.sock" hlen sig:r:full:m)" 3
}

@test "cluster_signal: a peer that resumes on the other node gets its id, its rooms and the messages it missed" {
	sig_node 1 --resume-window 20
	sig_node 2 --resume-window 20 --json
	peer alice r1 "$WS1"
	peer bob r1 "$WS2"
	kill_hard "$PID_bob"
	wait_exit "$PID_bob" 3
	for i in 1 2 3; do to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\",\"n\":$i}"; done
	to alice '{"type":"chat","room":"r1","n":4}'
	# the last one is kept in Redis once node 2 had it
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		[ "$(redis-cli -s "$T/r.sock" llen "sig:q:$ID_bob")" = 4 ] && break
		sleep 0.1
	done
	assert_equal "$(redis-cli -s "$T/r.sock" llen "sig:q:$ID_bob")" 4
	client bob2 "$WS1?resume=$TOK_bob"
	run jq -c 'select(.type == "welcome") | [.id, .resumed, .resume]' "$T/bob2.out"
	assert_output "[\"$ID_bob\",true,\"$TOK_bob\"]"
	wait_json bob2 '.n == 4'
	run jq -c 'select(.type == "chat") | [.n, .from]' "$T/bob2.out"
	assert_output "$(printf '[%s,"%s"]\n' 1 "$ID_alice" 2 "$ID_alice" 3 "$ID_alice" 4 "$ID_alice")"
	# still in r1, now on node 1; node 2 let it go without a "left"
	to alice '{"type":"chat","room":"r1","n":5}'
	wait_json bob2 '.n == 5'
	to bob2 '{"type":"chat","room":"r1","n":6}'
	wait_json alice ".n == 6 and .from == \"$ID_bob\""
	[ "$(njson alice '.type == "left"')" -eq 0 ]
	wait_for_line "$T/s2.err" "$ID_bob resumed on node s1" 5
	run curl -sf "$HTTP1/stats"
	[ "$(jq '.cluster.resumes_remote' <<<"$output")" -eq 1 ]
	run curl -sf "$HTTP2/stats"
	[ "$(jq '.cluster.handovers' <<<"$output")" -eq 1 ]
	[ "$(jq '.peers' <<<"$output")" -eq 0 ]
	[ "$(jq -c "select(.event == \"disconnect\" and .id == \"$ID_bob\") | .reason" "$T/s2.out")" = '"resumed-elsewhere"' ]
	[ "$(jq -c 'select(.event == "leave")' "$T/s2.out" | wc -l)" -eq 0 ]
}

@test "cluster_signal: one session, one connection cluster-wide: a resume on another node replaces the live one" {
	sig_node 1 --resume-window 20
	sig_node 2 --resume-window 20
	peer alice r1 "$WS1"
	peer bob r1 "$WS2"
	client bob2 "$WS1?resume=$TOK_bob"
	run jq -c 'select(.type == "welcome") | [.id, .resumed]' "$T/bob2.out"
	assert_output "[\"$ID_bob\",true]"
	wait_json bob '.type == "error" and .code == "replaced"'
	wait_exit "$PID_bob" 5
	to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\",\"n\":1}"
	wait_json bob2 ".n == 1 and .from == \"$ID_alice\""
	[ "$(njson alice '.type == "left"')" -eq 0 ]
}

@test "cluster_signal: kill -9 of a node: its peers are reaped and the others see them leave (node-lost)" {
	sig_node 1
	sig_node 2
	peer alice r1 "$WS1"
	peer bob r1 "$WS2"
	kill_hard "$SPID2"
	wait_json alice ".type == \"left\" and .peer.id == \"$ID_bob\" and .reason == \"node-lost\"" 10
	assert_equal "$(redis-cli -s "$T/r.sock" hlen sig:r:r1:m)" 1
	to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\"}"
	wait_json alice '.type == "error" and .code == "not-found"'
}

@test "cluster_signal: a node stopped past its heartbeat is reaped, then comes back and asserts its peers again" {
	sig_node 1
	sig_node 2
	peer alice r1 "$WS1"
	peer bob r1 "$WS2"
	local pid
	pid=$(tool_pid "$SPID2")
	kill -STOP "$pid"
	wait_json alice ".type == \"left\" and .peer.id == \"$ID_bob\" and .reason == \"node-lost\"" 10
	kill -CONT "$pid"
	wait_for_line "$T/s2.err" 'did not know this node' 10
	wait_json alice ".type == \"joined\" and .peer.id == \"$ID_bob\" and .peer.name == \"bob\""
	to bob "{\"type\":\"chat\",\"to\":\"$ID_alice\",\"n\":1}"
	wait_json alice ".n == 1 and .from == \"$ID_bob\""
	assert_equal "$(redis-cli -s "$T/r.sock" hlen sig:r:r1:m)" 2
}

@test "cluster_signal: Redis down: local rooms go on, cross-node sends fail loudly; state comes back with Redis" {
	sig_node 1
	sig_node 2
	peer alice r1 "$WS1"
	peer carol r1 "$WS1"
	peer bob r1 "$WS2"
	stop_pid "$REDIS_PID"
	wait_for_line "$T/s1.err" 'lost Redis' 5
	to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\",\"n\":1}"
	wait_json alice '.type == "error" and .code == "cluster-unavailable" and .re == "chat"'
	to alice '{"type":"chat","room":"r1","n":2}'
	wait_json carol '.n == 2'
	wait_json alice '.type == "error" and .code == "cluster-unavailable" and .re == "chat"'
	start_redis
	wait_for_line "$T/s1.err" 'cluster: connected to Redis' 10
	wait_for_line "$T/s2.err" 'cluster: connected to Redis' 10
	local i
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		[ "$(redis-cli -s "$T/r.sock" hlen sig:r:r1:m)" = 3 ] && break
		sleep 0.1
	done
	assert_equal "$(redis-cli -s "$T/r.sock" hlen sig:r:r1:m)" 3
	to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\",\"n\":3}"
	wait_json bob '.n == 3'
	[ "$(curl -sf "$HTTP1/stats" | jq '.cluster.send_failed')" -ge 2 ]
}

@test "cluster_signal: --cluster options are checked" {
	run rvsignal serve --cluster unix:/nonexistent -p 0
	assert_equal "$status" 2
	assert_output --partial "needs --node-id and --cluster-secret-file"
	run rvsignal serve --node-id s1 -p 0
	assert_equal "$status" 2
	run timeout 5 rvsignal serve -l 127.0.0.1 -p 0 --cluster redis://localhost:6379 --node-id s1 \
		--cluster-secret-file "$T/secret"
	assert_failure
	assert_output --partial "IP address"
}
