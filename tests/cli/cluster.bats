#!/usr/bin/env bats
# cluster.bats - rvserver nodes as one cluster (--cluster) on a Redis of the
# test's own: on a unix socket in $T, started and stopped by PID.

load helpers
load cluster_helpers

setup_file() {
	command -v redis-server >/dev/null || skip "redis-server is not installed (scripts/deps.sh --check)"
}

# node N [ARG...]: rvserver node nN on the cluster; its address in N<N>.
node() {
	local n=$1
	shift
	SERVER_NAME=n$n start_server --cluster "unix:$T/r.sock" --node-id "n$n" \
		--cluster-secret-file "$T/secret" "$@"
	eval "N$n=127.0.0.1:$SERVER_PORT NPID$n=$SERVER_PID"
	wait_for_line "$T/n$n.err" 'cluster: connected to Redis' 5
}

# decodes FILE N: FILE decodes with no error and has at least N video frames.
decodes() {
	run ffmpeg -v error -i "$1" -f null -
	assert_success
	assert_output ""
	run ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$1"
	assert_success
	[ "$output" -ge "$2" ]
}

# on N ARG...: rvgroup on node N.
on() {
	local n=$1
	shift
	rvg -s "$(eval echo "\$N$n")" "$@"
}

member() {	# member NAME NODE ID GROUP: rvgroup join on a node, joined once it returns
	local name=$1 n=$2 id=$3 g=$4
	start_member "$name" -s "$(eval echo "\$N$n")" -n "$id" join "$g"
	wait_for_line "$T/$name.err" "joined $g" 5
}

@test "cluster: a direct message reaches an id on another node; an id online nowhere exits 4 at once" {
	node 1
	node 2
	spawn bob rvgroup -s "$N2" -n bob listen
	wait_for_line "$T/bob.err" 'connected to' 5
	run on 1 -n alice say bob "hello across"
	assert_success
	wait_for_line "$T/bob.out" '^\[@alice\] hello across$' 5
	run on 1 -n alice say nobody hi
	assert_equal "$status" 4
	assert_output --partial "no such client"
	[ "$(timeout 5 curl -sf "http://$N1/stats" | jq .cluster.remote_offline)" = 1 ]
}

@test "cluster: a message with no target reaches the sender's default receivers on every node; refusals skipped; allowed senders hold across nodes" {
	node 1
	node 2
	local who
	spawn dan rvgroup -s "$N1" -n dan listen
	spawn bob rvgroup -s "$N2" -n bob listen
	spawn carol rvgroup -s "$N2" -n carol --allow erin listen
	spawn alice rvgroup -s "$N1" -n alice listen
	for who in dan bob carol alice; do wait_for_line "$T/$who.err" 'connected to' 5; done
	run on 1 -n alice contacts add bob carol dan ghost
	assert_success
	# dan here, bob on node 2; carol (node 2) does not take alice; ghost is nowhere
	SERVER_PORT=${N1##*:} run rvclient --hello alice:send --expect welcome --body 'to my contacts' \
		--frame '{"type":"msg","seq":1,"receivers":true}' --expect ok --quit --timeout 5
	assert_success
	assert_output --partial '"delivered": 2'
	assert_output --regexp '"receivers": \[[^]]*"bob"'
	assert_output --regexp '"receivers": \[[^]]*"dan"'
	wait_for_line "$T/bob.out" '^\[@alice\] to my contacts$' 5
	wait_for_line "$T/dan.out" '^\[@alice\] to my contacts$' 5
	run grep -c 'to my contacts' "$T/carol.out"
	assert_output 0
	# and a direct message to carol from node 1 is refused by her node
	run on 1 -n alice say carol hi
	assert_equal "$status" 4
	assert_output --partial "does not allow this sender"
}

@test "cluster: a message published again on the bus (captured bytes, valid HMAC) is dropped as a replay" {
	node 1
	node 2
	spawn bob rvgroup -s "$N2" -n bob listen
	wait_for_line "$T/bob.err" 'connected to' 5
	spawn cap timeout "$(secs 10)" python3 "$BATS_TEST_DIRNAME/bus_capture.py" "$T/r.sock" rv:i:bob \
		"$T/msg.bin" "$T/cap.ready"
	local i
	for ((i = 0; i < 50 * RV_SLOW; i++)); do [ -e "$T/cap.ready" ] && break; sleep 0.1; done
	run on 1 -n alice say bob "only once"
	assert_success
	wait_exit "$PID_cap" 5
	assert_equal "$EXIT" 0
	wait_for_line "$T/bob.out" '^\[@alice\] only once$' 5
	# the attacker's PUBLISH reaches node 2 (one subscriber), which drops it
	run redis-cli -s "$T/r.sock" -x PUBLISH rv:i:bob <"$T/msg.bin"
	assert_output 1
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		[ "$(timeout 5 curl -sf "http://$N2/stats" | jq .cluster.replays_dropped)" = 1 ] && break
		sleep 0.1
	done
	[ "$(timeout 5 curl -sf "http://$N2/stats" | jq .cluster.replays_dropped)" = 1 ]
	# a later message still arrives, and the replayed one did not
	run on 1 -n alice say bob "the next one"
	assert_success
	wait_for_line "$T/bob.out" 'the next one' 5
	[ "$(grep -c 'only once' "$T/bob.out")" = 1 ]
	timeout 5 curl -sf "http://$N2/metrics" | grep -q '^rvserver_cluster_replays_dropped_total 1$'
}

@test "cluster: Redis loses its script cache (SCRIPT FLUSH): nodes load the scripts again and the directory still answers" {
	node 1
	node 2
	member alice 1 alice ops
	run redis-cli -s "$T/r.sock" SCRIPT FLUSH
	assert_output OK
	# the next directory operations get NOSCRIPT: loaded again, sent once more
	member bob 2 bob ops
	wait_for_line "$T/alice.out" '^\* bob joined ops$' 5
	run on 1 -n carol members ops
	assert_success
	assert_output --partial alice
	assert_output --partial bob
	# the first node to get NOSCRIPT loaded them all again: counted there
	local r1 r2
	r1=$(timeout 5 curl -sf "http://$N1/metrics" | awk '$1 == "rvserver_cluster_script_reloads" { print $2 }')
	r2=$(timeout 5 curl -sf "http://$N2/stats" | jq .cluster.script_reloads)
	[ "$((r1 + r2))" -ge 1 ]
}

@test "cluster: group chat across three nodes, members and groups from any node" {
	node 1
	node 2
	node 3
	member alice 1 alice ops
	member bob 2 bob ops
	member carl 3 carl ops
	wait_for_line "$T/alice.out" '^\* bob joined ops$' 5
	wait_for_line "$T/bob.out" '^\* carl joined ops$' 5
	to alice "hi from alice"
	wait_for_line "$T/bob.out" '^\[ops\] alice: hi from alice$' 5
	wait_for_line "$T/carl.out" '^\[ops\] alice: hi from alice$' 5
	# one copy per member: the ok counts every node's deliveries
	run on 3 -n poster --json post ops "to all"
	assert_success
	count_lines "$T/alice.out" 'to all' 1 5
	count_lines "$T/carl.out" 'to all' 1 5
	[ "$(grep -c 'to all' "$T/bob.out")" = 1 ]
	# with a seq, the ok counts the deliveries of every node, and names them
	run timeout "$(secs 10)" python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "${N3##*:}" --hello counter:send \
		--expect welcome --frame '{"type":"msg","group":"ops","seq":5,"receivers":true}' --expect ok --quit
	assert_success
	ok=$(grep '"ok"' <<<"$output")
	assert_equal "$(jq .delivered <<<"$ok")" 3
	assert_equal "$(jq -c '.receivers | sort' <<<"$ok")" '["alice","bob","carl"]'
	to bob "hi from bob"
	wait_for_line "$T/alice.out" '^\[ops\] bob: hi from bob$' 5
	run on 1 -n carol --json members ops
	assert_success
	assert_output --partial '"alice"'
	assert_output --partial '"bob"'
	run on 2 -n carol groups
	assert_success
	assert_output --partial ops
	close_input bob
	wait_for_line "$T/alice.out" '^\* bob left ops$' 5
}

@test "cluster: a login on another node replaces the older receiver (exit 5) and takes over its groups" {
	node 1
	node 2
	member old 1 dave crew
	spawn new rvgroup -s "$N2" -n dave listen
	wait_for_line "$T/new.err" 'connected to' 5
	wait_exit "$PID_old" 5
	assert_equal "$EXIT" 5
	run on 1 -n eve say dave "for the new one"
	assert_success
	wait_for_line "$T/new.out" 'for the new one' 5
	# as a second login on one server: still in crew (even with --keep-client-info none)
	run on 1 -n eve post crew "to the crew"
	assert_success
	wait_for_line "$T/new.out" '^\[crew\] eve: to the crew$' 5
	[ "$(timeout 5 curl -sf "http://$N1/stats" | jq .cluster.evictions_remote)" = 1 ]
}

@test "cluster: kill -9 of a node: its ids and memberships are reaped, peers see left (node-lost)" {
	node 1
	node 2
	member frank 1 frank crew
	start_member gina -s "$N2" -n gina --json join crew
	wait_for_line "$T/gina.err" 'joined crew' 5
	wait_for_line "$T/frank.out" '^\* gina joined crew$' 5
	kill_hard "$NPID2"
	wait_for_line "$T/frank.out" '^\* gina left crew \(node-lost\)$' 10
	run on 1 -n x --json members crew
	assert_success
	refute_output --partial gina
	run on 1 -n x say gina hi
	assert_equal "$status" 4
}

@test "cluster: --keep-client-info groups: a post to a group whose members are all offline, on no node, is ok (delivered 0); back on another node, a member there" {
	node 1 --keep-client-info groups
	node 2 --keep-client-info groups
	member alice 1 alice ops
	kill_hard "$PID_alice"	# alice detaches without leaving: her membership is kept
	kill_hard "$NPID1"	# and no node holds her any more: only the directory knows ops
	run on 2 -n carol members ops
	assert_success
	assert_output --partial 'alice (offline)'
	run on 2 -n bob post ops "for the record"
	assert_success
	run on 2 -n bob post nosuchgroup hi
	assert_equal "$status" 4
	assert_output --partial "no such group"
	# her node is dead: she comes back on node 2, a member there
	spawn alice2 rvgroup -s "$N2" -n alice listen
	wait_for_line "$T/alice2.err" 'connected to' 5
	run on 2 -n bob post ops "welcome back"
	assert_success
	wait_for_line "$T/alice2.out" '^\[ops\] bob: welcome back$' 5
}

@test "cluster: --keep-client-info groups: a member who comes back on another node is a member there: one copy of a post, online, no new joined" {
	node 1 --keep-client-info groups
	node 2 --keep-client-info groups
	member alice 1 alice crew
	member bob 1 bob crew
	wait_for_line "$T/alice.out" '^\* bob joined crew$' 5
	kill_hard "$PID_bob"	# bob detaches without leaving: node 1 keeps him, offline
	spawn bob2 rvgroup -s "$N2" -n bob listen
	wait_for_line "$T/bob2.err" 'connected to' 5
	# node 2 took bob's membership over (node 1 let go): a post from node 1 reaches him once
	run on 1 -n carol post crew "to the crew"
	assert_success
	run on 1 -n carol post crew "marker"
	assert_success
	wait_for_line "$T/bob2.out" '^\[crew\] carol: marker$' 5
	[ "$(grep -c 'to the crew' "$T/bob2.out")" = 1 ]
	run on 1 -n x members crew
	assert_success
	assert_line bob
	# his own groups, and a leave on node 2 (its owner now) that reaches alice
	SERVER_PORT=${N2##*:} run rvclient --hello bob:send --expect welcome --frame '{"type":"groups","seq":1}' \
		--expect ok --frame '{"type":"leave","group":"crew","seq":2}' --expect ok --quit --timeout 5
	assert_success
	assert_output --partial '"groups": [{"name": "crew", "members": 2}]'
	# he was a member all along: alice heard no second joined
	wait_for_line "$T/alice.out" '^\* bob left crew$' 5
	[ "$(grep -c 'bob joined crew' "$T/alice.out")" = 1 ]
}

@test "cluster: --keep-client-info all: default receivers and allowed senders set on node 1 hold for a login on node 2" {
	node 1 --keep-client-info all
	node 2 --keep-client-info all
	spawn dan rvgroup -s "$N1" -n dan listen
	wait_for_line "$T/dan.err" 'connected to' 5
	run on 1 -n bob contacts add dan
	assert_success
	run on 1 -n bob allow add alice
	assert_success
	run on 2 -n bob contacts list	# a sending connection on node 2 sees them
	assert_success
	assert_output dan
	spawn bob rvgroup -s "$N2" -n bob listen
	wait_for_line "$T/bob.err" 'connected to' 5
	run on 2 -n bob allow list
	assert_output --partial alice
	run on 1 -n alice say bob "from alice"
	assert_success
	wait_for_line "$T/bob.out" '^\[@alice\] from alice$' 5
	run on 1 -n eve say bob "from eve"
	assert_equal "$status" 4
	assert_output --partial "does not allow this sender"
	# a message from bob on node 2 with no target reaches his contact on node 1
	SERVER_PORT=${N2##*:} run rvclient --hello bob:send --expect welcome --body 'to my contacts' \
		--frame '{"type":"msg","seq":1}' --expect ok --quit --timeout 5
	assert_success
	assert_output --partial '"delivered": 1'
	wait_for_line "$T/dan.out" '^\[@bob\] to my contacts$' 5
}

@test "cluster: Redis restarts: cross-node sends fail loudly meanwhile, then nodes re-assert and traffic flows" {
	node 1
	node 2
	member alice 1 alice ops
	member bob 2 bob ops
	offer 1 /whip/tv chromium-whip.sdp	# a WHIP publisher: node 1 is #tv's media home
	assert_equal "$(status)" 201
	stop_pid "$REDIS_PID"
	wait_for_line "$T/n1.err" 'lost Redis' 5
	run on 1 -n zed say bob "while down"
	assert_failure
	assert_output --partial "cluster bus is unavailable"
	start_redis
	wait_for_line "$T/n1.err" 'cluster: connected to Redis' 10
	wait_for_line "$T/n2.err" 'cluster: connected to Redis' 10
	# the directory is empty again: each node asserted its ids and memberships
	local i
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		[ "$(redis-cli -s "$T/r.sock" scard rv:g:ops:m)" = 2 ] && break
		sleep 0.1
	done
	assert_equal "$(redis-cli -s "$T/r.sock" scard rv:g:ops:m)" 2
	# and node 1 claimed #tv's media home again (its publisher is still there)
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		[[ "$(redis-cli -s "$T/r.sock" GET rv:home:tv)" == n1.* ]] && break
		sleep 0.1
	done
	[[ "$(redis-cli -s "$T/r.sock" GET rv:home:tv)" == n1.* ]]
	to alice "after the restart"
	wait_for_line "$T/bob.out" '^\[ops\] alice: after the restart$' 5
	run on 1 -n zed say bob "direct again"
	assert_success
	[ "$(timeout 5 curl -sf "http://$N1/stats" | jq .cluster.send_failed)" -ge 1 ]
}

@test "cluster: files and data cross nodes over a trunk: sha256 confirmed, bytes exact, to an id and a group; strangers refused" {
	node 1
	node 2
	mkdir "$T/in2" "$T/in3"
	spawn bob rvrecv -s "$N2" -n bob -d "$T/in2" --count 1 file
	wait_for_line "$T/bob.err" 'connected to' 5
	head -c 5000000 /dev/urandom >"$T/big.bin"
	run timeout "$(secs 20)" rvsend -s "$N1" -n alice -t bob file "$T/big.bin"
	assert_success
	assert_output --partial "bob has it (5000000 bytes, sha256 $(sha256sum "$T/big.bin" | cut -d' ' -f1))"
	wait_exit "$PID_bob" 10
	assert_equal "$EXIT" 0
	cmp "$T/big.bin" "$T/in2/big.bin"
	# a byte stream from a pipe, to a receiver on the other node, byte for byte
	head -c 3000000 /dev/urandom >"$T/d.bin"
	spawn carol rvrecv -s "$N2" -n carol --count 1 data
	wait_for_line "$T/carol.err" 'connected to' 5
	run timeout "$(secs 20)" bash -c "cat '$T/d.bin' | rvsend -s '$N1' -n alice -t carol data"
	assert_success
	wait_exit "$PID_carol" 10
	assert_equal "$EXIT" 0
	cmp "$T/d.bin" "$T/carol.out"
	# a file to a group with members on three nodes (two trunks): each confirms it
	node 3
	mkdir "$T/in4"
	spawn dan rvrecv -s "$N2" -n dan -g drop -d "$T/in2" --count 1 file
	spawn eve rvrecv -s "$N1" -n eve -g drop -d "$T/in3" --count 1 file
	spawn fay rvrecv -s "$N3" -n fay -g drop -d "$T/in4" --count 1 file
	wait_for_line "$T/dan.err" 'joined drop' 5
	wait_for_line "$T/eve.err" 'joined drop' 5
	wait_for_line "$T/fay.err" 'joined drop' 5
	head -c 300000 /dev/urandom >"$T/g.bin"
	run timeout "$(secs 20)" rvsend -s "$N1" -n alice -g drop file "$T/g.bin"
	assert_success
	assert_output --partial "dan has it"
	assert_output --partial "eve has it"
	assert_output --partial "fay has it"
	wait_exit "$PID_dan" 10
	wait_exit "$PID_fay" 10
	cmp "$T/g.bin" "$T/in2/g.bin"
	cmp "$T/g.bin" "$T/in3/g.bin"
	cmp "$T/g.bin" "$T/in4/g.bin"
	# the trunks' counters: node 1 dialed two, node 2 took one
	run timeout 5 curl -sf "http://$N1/stats"
	assert_equal "$(jq .cluster.trunks_up <<<"$output")" 2
	(($(jq .cluster.trunk_bytes <<<"$output") > 8000000))
	timeout 5 curl -sf "http://$N2/metrics" | grep -q '^rvserver_cluster_trunks_up 1$'
	# a stranger on the trunk: a HELLO, then a proof made with the wrong secret
	run timeout "$(secs 10)" python3 - "${N2##*:}" <<'PY'
import hashlib, hmac, os, socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
inc, nonce = b"zz.1", os.urandom(32)
body = bytes([1]) + nonce + bytes([len(inc)]) + inc
s.sendall(b"RVT1" + struct.pack(">I", 1 + len(body)) + b"\x01" + body)
data = b""
while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
    data += s.recv(4096)
hl = struct.unpack(">I", data[:4])[0]
theirs = data[5 + 1:5 + 33]
peer = data[5 + 34:4 + hl]
msg = b"rvkit-trunk-1" + b"D" + theirs + bytes([len(inc)]) + inc + bytes([len(peer)]) + peer
s.sendall(struct.pack(">I", 33) + b"\x02" + hmac.new(b"not-the-secret", msg, hashlib.sha256).digest())
s.settimeout(5)
try:
    while s.recv(4096):
        pass
    print("closed")
except ConnectionResetError:
    print("closed")
PY
	assert_output closed
	[ "$(timeout 5 curl -sf "http://$N2/stats" | jq .cluster.trunk_refused)" = 1 ]
	grep -q 'a trunk from .* refused: it does not hold the cluster secret' "$T/n2.err"
}

@test "cluster: a receiver on node 2 that stops reading holds back, through the trunk, a sender on node 1 that ignores the window" {
	node 1 --max-queue 1M --slow-timeout 60
	node 2 --max-queue 1M --slow-timeout 60
	cat >"$T/rv.py" <<'PY'
import json, socket, struct, sys
def frame(h, body=b""):
    h = json.dumps(h).encode()
    return struct.pack(">II", len(h), len(body)) + h + body
def hello(port, id, role):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"RVP1" + frame({"type": "hello", "id": id, "role": role, "version": 1}))
    data = b""
    while b"welcome" not in data:
        data += s.recv(4096)
    return s
if sys.argv[1] == "stall":	# a receiver that never reads again
    s = hello(int(sys.argv[2]), "bob", "recv")
    print("ready", flush=True)
    sys.stdin.read()
else:	# a sender of file chunks, as fast as TCP takes them, no window
    s = hello(int(sys.argv[2]), "flood", "send")
    chunk, sent = b"x" * (256 << 10), 0
    s.settimeout(2)
    try:
        while sent < (200 << 20):
            s.sendall(frame({"type": "msg", "to": "bob", "kind": "xfer-data", "xfer": "x1", "off": sent}, chunk))
            sent += len(chunk)
    except socket.timeout:
        pass
    print(sent >> 20)
PY
	spawn bob bash -c "sleep 30 | python3 '$T/rv.py' stall '${N2##*:}'"
	wait_for_line "$T/bob.out" ready 5
	run timeout "$(secs 30)" python3 "$T/rv.py" flood "${N1##*:}"
	assert_success
	# held back long before 200 MB: queues on the way are capped (about 1 MiB to bob,
	# 4 MiB on the trunk), the rest is the kernel's socket buffers
	((output < 100))
	# node 2 paused the trunk for bob; node 1 paused the sender for the trunk
	(($(timeout 5 curl -sf "http://$N2/stats" | jq .sender_pauses) >= 1))
	(($(timeout 5 curl -sf "http://$N1/stats" | jq .sender_pauses) >= 1))
	(($(timeout 5 curl -sf "http://$N1/stats" | jq .congested_receivers) >= 1))
}

@test "cluster: a node dies mid-stream (kill -9): the sender on the other node is told at once that its trunk closed" {
	node 1
	node 2
	spawn bob rvrecv -s "$N2" -n bob data
	wait_for_line "$T/bob.err" 'connected to' 5
	mkfifo "$T/fifo"
	spawn alice rvsend -s "$N1" -n alice -t bob data "$T/fifo"
	exec 5>"$T/fifo"	# (fd 3 is bats')
	head -c 1000000 /dev/zero >&5
	local i
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		(($(stat -c %s "$T/bob.out") >= 1000000)) && break
		sleep 0.05
	done
	(($(stat -c %s "$T/bob.out") >= 1000000))
	kill_hard "$NPID2"
	# the stream is still open (stdin not at its end): only the trunk's closing ends it
	wait_exit "$PID_alice" 5
	exec 5>&-
	assert_equal "$EXIT" 1
	grep -q "the trunk to cluster node n2.* closed" "$T/alice.err"
}

@test "cluster: a node stopped mid-stream (SIGSTOP): its trunk falls silent and is closed within seconds, the sender told, its pipes stopped" {
	node 1
	node 2
	spawn bob rvrecv -s "$N2" -n bob data
	wait_for_line "$T/bob.err" 'connected to' 5
	# and live media piped from node 1 to a receiver on node 2
	spawn vic rvrecv -s "$N2" -n vic media -o "$T/v.mkv" --count 1
	wait_for_line "$T/vic.err" 'connected to' 5
	spawn cam rvsend -s "$N1" -n cam -t vic media -f lavfi -i testsrc2=size=160x120:rate=10 --duration 30
	wait_for_line "$T/vic.err" 'recording H264' 5
	mkfifo "$T/fifo"
	spawn alice rvsend -s "$N1" -n alice -t bob --stall-timeout 60 data "$T/fifo"
	exec 5>"$T/fifo"
	head -c 100000 /dev/zero >&5
	local i pid
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		(($(stat -c %s "$T/bob.out") >= 100000)) && break
		sleep 0.05
	done
	(($(stat -c %s "$T/bob.out") >= 100000))
	pid=$(tool_pid "$NPID2")
	kill -STOP "$pid"
	# its kernel still holds the TCP connection: only the keepalive's silence
	# (3 s) shows it, long before alice's --stall-timeout
	wait_exit "$PID_alice" 10
	exec 5>&-
	assert_equal "$EXIT" 1
	grep -q "the trunk to cluster node n2.* closed" "$T/alice.err"
	grep -q "node n2.* sent nothing on its trunk for 3 s: closing it" "$T/n1.err"
	[ "$(timeout 5 curl -sf "http://$N1/stats" | jq .cluster.trunk_silent)" = 1 ]
	# the pipe to n2 stopped with its trunk, not when cam's stream ends
	grep -q "stream [0-9]* to node n2.*: its trunk closed, the stream ends there" "$T/n1.err"
	local p1
	p1=$(timeout 5 curl -sf "http://$N1/stats" | jq .cluster.pipe_packets_out)
	((p1 > 0))
	sleep 1
	assert_equal "$(timeout 5 curl -sf "http://$N1/stats" | jq .cluster.pipe_packets_out)" "$p1"
	kill -0 "$PID_cam"	# still streaming, to nobody
	kill -CONT "$pid"
}

@test "cluster: --cluster options are checked" {
	run rvserver --cluster unix:/nonexistent -p 0
	assert_equal "$status" 2
	assert_output --partial "needs --node-id and --cluster-secret-file"
	run rvserver --node-id n1 -p 0
	assert_equal "$status" 2
	run timeout 5 rvserver -l 127.0.0.1 -p 0 --cluster redis://localhost:6379 --node-id n1 --cluster-secret-file "$T/secret"
	assert_failure
	assert_output --partial "IP address"
	run timeout 5 rvserver -l 127.0.0.1 -p 0 --cluster sentinel://127.0.0.1:26379 --node-id n1 --cluster-secret-file "$T/secret"
	assert_failure
	assert_output --partial "master's name is missing"	# sentinel:// itself: cluster_sentinel.bats
}

@test "cluster: a reply to one connection (to and conn) crosses nodes back to the sender" {
	node 1
	node 2
	spawn bob python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "${N2##*:}" --hello bob --expect welcome \
		--expect msg --reply-last '{"type":"msg","kind":"answer","seq":2}' --expect ok --timeout "$(secs 8)"
	wait_for_line "$T/bob.out" '"welcome"' 5
	run timeout "$(secs 10)" python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "${N1##*:}" \
		--frame '{"type":"hello","id":"sam","role":"send","replies":true,"version":1}' --expect welcome \
		--frame '{"type":"msg","to":"bob","kind":"ask","seq":1}' --expect-kind answer --quit --timeout "$(secs 8)"
	assert_success
	assert_output --partial '"kind": "answer"'
	assert_output --partial '"from": "bob"'
	# the sender's number carries its node's tag: not a number of node 2
	conn=$(grep '"welcome"' <<<"$output" | jq .conn)
	[ "$conn" -gt 4294967295 ]
	wait_for_line "$T/bob.out" '"type": "ok"' 5
	# message ids carry their node's tag too: node 1's ask, node 2's answer
	local ask answer
	ask=$(grep '"kind": "ask"' "$T/bob.out" | jq .id)
	answer=$(grep '"kind": "answer"' <<<"$output" | jq .id)
	[ $((ask >> 32)) -eq $((conn >> 32)) ] && [ $((answer >> 32)) -gt 0 ] && [ $((answer >> 32)) -ne $((ask >> 32)) ]
	# a number no node has: the connection is gone
	run timeout "$(secs 10)" python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "${N2##*:}" --hello zed:send \
		--expect welcome --frame "{\"type\":\"msg\",\"to\":\"sam\",\"conn\":$((conn + 7)),\"seq\":3}" --expect error --quit
	assert_success
	assert_output --partial "that connection is gone"
}

@test "cluster: media crosses nodes over UDP pipes: recorded on node 2 as on node 1, keyframe for a late receiver, a node new to the stream, silence ends it" {
	command -v ffprobe >/dev/null || skip "ffmpeg is not installed"
	node 1
	node 2 --drop-rate 0.08	# node 2 loses packets to its receivers: they NACK across the pipe
	node 3
	# to an id: bob on node 2 records cam's stream from node 1;
	# to a group: dan (node 2) is a member when cam2's starts, erin joins later
	spawn rx rvrecv -s "$N2" -n bob media -o "$T/x.mkv" --count 1
	spawn dan rvrecv -s "$N2" -n dan -g show media -o "$T/d.mkv" --count 1
	wait_for_line "$T/rx.err" 'connected to' 5
	wait_for_line "$T/dan.err" 'joined show' 5
	spawn cam2 rvsend -s "$N1" -n cam2 -g show media -f lavfi -i testsrc2=size=160x120:rate=10 --duration 20
	spawn cam rvsend -s "$N1" -n cam -t bob media -f lavfi -i testsrc2=size=160x120:rate=10 --duration 3
	wait_for_line "$T/dan.err" 'recording H264' 5
	# erin joins on node 2 mid-stream: node 2 asks node 1's sender for a keyframe
	assert_equal "$(timeout 5 curl -sf "http://$N2/stats" | jq .media.keyframe_requests)" 0
	spawn erin rvrecv -s "$N2" -n erin -g show media -o "$T/e.mkv" --count 1
	wait_for_line "$T/erin.err" 'joined show' 5
	local i p0
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		(($(timeout 5 curl -sf "http://$N2/stats" | jq .media.keyframe_requests) > 0)) && break
		sleep 0.1
	done
	(($(timeout 5 curl -sf "http://$N2/stats" | jq .media.keyframe_requests) > 0))
	# fay joins on node 3, which had no member when the stream started: the
	# stream follows her there (the directory is asked again every 2 s)
	spawn fay rvrecv -s "$N3" -n fay -g show media -o "$T/f.mkv" --count 1
	wait_for_line "$T/fay.err" 'joined show' 5
	wait_for_line "$T/fay.err" 'recording H264' 8
	# and its packets flow there (node 3 asked for a keyframe with its want)
	# and on to fay, a few frames' worth (about 4.5 packets a frame) before
	# the sender stops: under load she may start recording late
	local s3
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		s3=$(timeout 5 curl -sf "http://$N3/stats")
		(($(jq .cluster.pipe_packets_in <<<"$s3") >= 30 && $(jq .media.packets_out <<<"$s3") >= 40)) && break
		sleep 0.1
	done
	(($(jq .cluster.pipe_packets_in <<<"$s3") >= 30 && $(jq .media.packets_out <<<"$s3") >= 40)) ||
		fail "node 3: $(jq -c '[.cluster.pipe_packets_in, .media.packets_out]' <<<"$s3")"
	# then about a second of media to node 2's receivers (a wait, not an assertion)
	p0=$(timeout 5 curl -sf "http://$N2/stats" | jq .media.packets_out)
	for ((i = 0; i < 50 * RV_SLOW; i++)); do
		(($(timeout 5 curl -sf "http://$N2/stats" | jq .media.packets_out) > p0 + 150)) && break
		sleep 0.1
	done
	# cam2 stops (SIGSTOP): after 3 s of pipe silence node 2 ends its stream
	local cam2
	cam2=$(pgrep -P "$PID_cam2")	# rvsend, under the timeout that spawn started
	kill -STOP "$cam2"
	wait_exit "$PID_cam" 10
	assert_equal "$EXIT" 0
	grep -q "(0 receivers now, and on 1 other cluster node)" "$T/cam.err"
	# bob's NACKs went back down the pipe, and cam answered them from node 1
	grep -E '[1-9][0-9]* NACKed \([1-9][0-9]* resent\)' "$T/cam.err"
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	grep -E '[1-9][0-9]* recovered by NACK' "$T/rx.err"
	wait_exit "$PID_erin" 10
	assert_equal "$EXIT" 0
	wait_exit "$PID_dan" 5
	assert_equal "$EXIT" 0
	wait_exit "$PID_fay" 5
	assert_equal "$EXIT" 0
	kill -CONT "$cam2"	# node 2 told node 1 to stop piping it: nothing more is refused there
	decodes "$T/x.mkv" 20
	decodes "$T/e.mkv" 3
	decodes "$T/f.mkv" 3
	# through the pipes; receivers' RTCP came back down them
	local s1 s2
	s1=$(timeout 5 curl -sf "http://$N1/stats")
	s2=$(timeout 5 curl -sf "http://$N2/stats")
	[ "$(jq .cluster.pipe_packets_out <<<"$s1")" -ge 20 ]
	[ "$(jq .cluster.pipe_packets_in <<<"$s2")" -ge 20 ]
	[ "$(jq .cluster.pipe_packets_in <<<"$s1")" -ge 1 ]
	assert_equal "$(jq .cluster.pipe_refused <<<"$s2")" 0
	assert_equal "$(jq .cluster.pipe_silent <<<"$s2")" 1
	timeout 5 curl -sf "http://$N2/metrics" | grep -q '^rvserver_cluster_pipe_packets_in_total [1-9]'
}

@test "cluster: media within one node still flows when the group has no member elsewhere" {
	node 1
	node 2
	spawn rx rvrecv -s "$N1" -n rx -g local media -o "$T/out.mkv" --count 1
	wait_for_line "$T/rx.err" 'joined local' 5
	spawn cam rvsend -s "$N1" -n cam -g local media -f lavfi -i testsrc2=size=160x120:rate=10 --duration 2
	# the stream is #local's source: node 1 is its home, and node 2 sends a WHEP viewer there
	local i
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		[[ "$(redis-cli -s "$T/r.sock" GET rv:home:local)" == n1.* ]] && break
		sleep 0.05
	done
	offer 2 /whep/local chromium-whep.sdp
	assert_equal "$(status)" 307
	assert_equal "$(header Location)" "http://$N1/whep/local"
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_rx" 15
	assert_equal "$EXIT" 0
	[ -s "$T/out.mkv" ]
	home_gone local 5	# its end took the home with it
}

@test "cluster: --max-group-members and --max-groups hold across nodes" {
	node 1 --max-group-members 2 --max-groups 1
	node 2 --max-group-members 2 --max-groups 1
	member alice 1 alice ops
	member bob 2 bob ops
	run on 1 -n carol join ops
	assert_equal "$status" 4
	assert_output --partial "the group is full"
	run on 2 -n dan join other
	assert_equal "$status" 4
	assert_output --partial "too many groups"
}

@test "cluster: a node stopped past its heartbeat is reaped, then comes back and asserts its clients again" {
	node 1
	node 2
	member frank 1 frank crew
	member gina 2 gina crew
	wait_for_line "$T/frank.out" '^\* gina joined crew$' 5
	local pid
	pid=$(tool_pid "$NPID2")
	kill -STOP "$pid"
	wait_for_line "$T/frank.out" '^\* gina left crew \(node-lost\)$' 10
	kill -CONT "$pid"
	# n2 finds the directory forgot it: gina is a member again, and announced
	wait_for_line "$T/frank.out" '^\* gina joined crew$' 10
	count_lines "$T/frank.out" '^\* gina joined crew$' 2 10
	to frank "welcome back"
	wait_for_line "$T/gina.out" '^\[crew\] frank: welcome back$' 5
	run on 1 -n x say gina "direct again"
	assert_success
}

@test "cluster: --max-group-members holds under 30 joins at once spread over three nodes" {
	node 1 --max-group-members 10
	node 2 --max-group-members 10
	node 3 --max-group-members 10
	local i n pids=()
	for ((i = 0; i < 30; i++)); do	# each stays connected (a member) until the test ends
		n=$((i % 3 + 1))
		python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$(eval echo "\${N$n##*:}")" --hello "u$i" --expect welcome \
			--frame '{"type":"join","group":"big","seq":1}' --expect 'ok|error' --stall --timeout "$(secs 15)" \
			>"$T/j$i.out" 2>&1 &
		pids+=($!)
	done
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		(($(cat "$T"/j*.out | grep -c '"re": 1') == 30)) && break
		sleep 0.1
	done
	kill "${pids[@]}" 2>/dev/null || true
	# exactly 10 admitted: the others were told the group is full
	[ "$(grep -l '"type": "ok"' "$T"/j*.out | wc -l)" = 10 ]
	[ "$(grep -l '"type": "error".*the group is full' "$T"/j*.out | wc -l)" = 20 ]
}

@test "cluster: Redis stalls (DEBUG SLEEP 2, then CLIENT PAUSE 2000): a send meanwhile is answered or fails loudly, then traffic flows" {
	node 1
	node 2
	member alice 1 alice ops
	member bob 2 bob ops
	local stall rc i
	for stall in "debug sleep 2" "client pause 2000"; do
		redis-cli -s "$T/r.sock" $stall >/dev/null &
		rc=$!
		sleep 0.3
		# the send during the stall: delivered, or an error with its reason; never silence
		run on 1 -n carol say bob "during $stall"
		if [ "$status" = 0 ]; then
			wait_for_line "$T/bob.out" "^\\[@carol\\] during $stall\$" 10
		else
			assert_output --partial "cluster"
		fi
		wait "$rc" || true
		run on 1 -n carol say bob "after $stall"
		for ((i = 0; i < 30 && status != 0; i++)); do	# the bus may be reconnecting
			sleep 0.2
			run on 1 -n carol say bob "after $stall"
		done
		assert_success
		wait_for_line "$T/bob.out" "^\\[@carol\\] after $stall\$" 5
	done
	to alice "posts too"
	wait_for_line "$T/bob.out" '^\[ops\] alice: posts too$' 5
}

@test "cluster: Redis cuts a node's pub/sub connection: it reconnects and traffic flows again" {
	node 1
	node 2
	member alice 1 alice ops
	member bob 2 bob ops
	redis-cli -s "$T/r.sock" client kill type pubsub >/dev/null
	wait_for_line "$T/n2.err" 'lost Redis' 5
	count_lines "$T/n2.err" 'cluster: connected to Redis' 2 10
	count_lines "$T/n1.err" 'cluster: connected to Redis' 2 10
	to alice "after the cut"
	wait_for_line "$T/bob.out" '^\[ops\] alice: after the cut$' 5
}

@test "cluster: two logins of one id on two nodes at once: exactly one survives" {
	node 1
	node 2
	spawn a rvgroup -s "$N1" -n twin listen
	spawn b rvgroup -s "$N2" -n twin listen
	wait_for_line "$T/a.err" 'connected to' 5
	wait_for_line "$T/b.err" 'connected to' 5
	# one of them is replaced (exit 5); the other stays and receives
	local deadline=$(($(date +%s) + 5 * RV_SLOW))
	while alive "$PID_a" && alive "$PID_b"; do
		(($(date +%s) < deadline)) || fail "both logins survived"
		sleep 0.05
	done
	if alive "$PID_a"; then gone=$PID_b live=a; else gone=$PID_a live=b; fi
	wait_exit "$gone" 5
	assert_equal "$EXIT" 5
	run on 1 -n eve say twin "to the survivor"
	assert_success
	wait_for_line "$T/$live.out" 'to the survivor' 5
}

# webrtc N METHOD PATH [CURL ARG...]: an HTTP request to node N, the reply's head and body
# in $T/reply (a 307 is not followed).
webrtc() {
	local n=$1 m=$2 path=$3
	shift 3
	timeout 5 curl -s -i -X "$m" "$@" "http://$(eval echo "\$N$n")$path" | tr -d '\r' >"$T/reply"
}
offer() {	# offer N PATH FILE: POST the offer FILE (tests/unit/data/wsdp) to node N's PATH
	webrtc "$1" POST "$2" -H 'Content-Type: application/sdp' --data-binary @"$BATS_TEST_DIRNAME/../unit/data/wsdp/$3"
}
status() { head -1 "$T/reply" | cut -d' ' -f2; }
home_gone() {	# home_gone GROUP SECS: GROUP's home key leaves the directory within SECS
	local i
	for ((i = 0; i < $2 * 20 * RV_SLOW; i++)); do
		[ "$(redis-cli -s "$T/r.sock" EXISTS "rv:home:$1")" = 0 ] && return 0
		sleep 0.05
	done
	fail "rv:home:$1 is still in the directory after $2 s"
}
header() { sed -n "s/^$1: //Ip" "$T/reply" | head -1; }

@test "cluster: WHIP and WHEP POSTs for a group whose media is on another node get 307 to it; the home goes with its last source" {
	node 1
	node 2
	# no media anywhere: node 2 answers a viewer itself, as one server would
	offer 2 /whep/quiet chromium-whep.sdp
	assert_equal "$(status)" 201
	# two publishers POST to two nodes at once: one claim wins (one atomic step), the other is sent there
	local n p1 p2
	for n in 1 2; do
		timeout 5 curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/sdp' \
			--data-binary @"$BATS_TEST_DIRNAME/../unit/data/wsdp/chromium-whip.sdp" \
			"http://$(eval echo "\$N$n")/whip/race" >"$T/race$n" &
		eval "p$n=\$!"
	done
	wait "$p1" "$p2"
	assert_equal "$(cat "$T/race1" "$T/race2" | fold -w3 | sort | tr '\n' ' ')" "201 307 "
	local base	# node 2's redirects so far (1 when it lost the race)
	base=$(curl -s "http://$N2/stats" | jq .cluster.webrtc_redirects)
	# a publisher on node 1 (its accepted offer is enough: it is the source) makes node 1 home
	offer 1 /whip/live chromium-whip.sdp
	assert_equal "$(status)" 201
	local pub
	pub=$(header Location)
	[[ "$(redis-cli -s "$T/r.sock" GET rv:home:live)" == n1.* ]]
	# node 2 sends viewers and other publishers there, the same path, and makes no session
	offer 2 '/whep/live?id=v1' chromium-whep.sdp
	assert_equal "$(status)" 307
	assert_equal "$(header Location)" "http://$N1/whep/live?id=v1"
	offer 2 /whip/live chromium-whip.sdp
	assert_equal "$(status)" 307
	assert_equal "$(header Location)" "http://$N1/whip/live"
	assert_equal "$(curl -s "http://$N2/webrtc" | jq '[.sessions[] | select(.group == "live")] | length')" 0
	# the home answers itself
	offer 1 /whep/live chromium-whep.sdp
	assert_equal "$(status)" 201
	assert_equal "$(curl -s "http://$N2/stats" | jq .cluster.webrtc_redirects)" $((base + 2))
	run curl -s "http://$N2/metrics"
	assert_line "rvserver_cluster_webrtc_redirects_total $((base + 2))"
	# the publisher's DELETE ends the only source: the home goes, node 2 answers itself
	webrtc 1 DELETE "$pub"
	assert_equal "$(status)" 200
	home_gone live 5
	offer 2 /whep/live chromium-whep.sdp
	assert_equal "$(status)" 201
	assert_equal "$(curl -s "http://$N2/stats" | jq .cluster.webrtc_redirects)" $((base + 2))
	# a home node that dies (kill -9) is reaped with its homes: node 2 answers itself
	offer 1 /whip/again chromium-whip.sdp
	assert_equal "$(status)" 201
	offer 2 /whep/again chromium-whep.sdp
	assert_equal "$(status)" 307
	kill_hard "$NPID1"
	home_gone again 10
	offer 2 /whep/again chromium-whep.sdp
	assert_equal "$(status)" 201
	# Redis down: node 2 cannot ask, so it answers itself (no 5xx), logs and counts it
	stop_pid "$REDIS_PID"
	wait_for_line "$T/n2.err" 'lost Redis' 5
	offer 2 /whip/again chromium-whip.sdp
	assert_equal "$(status)" 201
	wait_for_line "$T/n2.err" "where #again's media is: the directory cannot be asked" 5
	assert_equal "$(curl -s "http://$N2/stats" | jq .cluster.home_lookups_failed)" 1
}
