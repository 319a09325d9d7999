#!/usr/bin/env bats
# p2p.bats - rvgroup p2p: peer-to-peer groups with real processes on
# 127.0.0.1 (each peer one rvgroup process, one UDP socket, its own key).

load helpers
bats_require_minimum_version 1.5.0

# p2p_join NAME [ARG...]: a peer reading posts from a FIFO, JSON events out,
# its UDP port in $T/NAME.port (waited for).
p2p_join() {
	local name=$1
	shift
	start_member "$name" p2p join "$SPEC" --json --key "$T/$name.key" --bind 127.0.0.1:0 \
		--port-file "$T/$name.port" "$@"
	local i
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		[ -s "$T/$name.port" ] && return 0
		sleep 0.05
	done
	echo "# $name wrote no port file" >&2
	cat "$T/$name.err" >&2
	return 1
}
port_of() { cat "$T/$1.port"; }
id_of() { rvgroup p2p id --key "$T/$1.key"; }
new_spec() { SPEC=$(rvgroup p2p spec new "${1:-chat.example}" --key "$T/owner.key" --no-server-channel 2>/dev/null); }
# key_near A B: make B's key one whose ring address is within a quarter of
# the ring of A's (half of all keys are: 64 tries fail once in 2^64), so
# that key_farther B A finds a sender as surely. Two random peers can sit
# almost opposite on the ring, and then no sender is farther from one than
# the other is (64 tries of key_farther failed 1 time in 65).
key_near() {
	local i
	for ((i = 0; i < 64; i++)); do
		if python3 -c 'import sys
a, c = (int(x, 16) for x in sys.argv[1:3])
sys.exit(0 if min((c - a) % 2**256, (a - c) % 2**256) < 2**254 else 1)' \
			"$(rvgroup p2p id --json --key "$T/$1.key" | jq -r .ring)" \
			"$(rvgroup p2p id --json --key "$T/near$i.key" 2>/dev/null | jq -r .ring)"; then
			mv "$T/near$i.key" "$T/$2.key"
			return
		fi
	done
	return 1
}
# key_farther A B: the name of a new key whose ring address is farther from
# A's than B's is (so that what it routes to A goes through B)
key_farther() {
	local i
	for ((i = 0; i < 64; i++)); do
		python3 -c 'import sys
a, b, c = (int(x, 16) for x in sys.argv[1:4])
d = lambda x, y: min((x - y) % 2**256, (y - x) % 2**256)
sys.exit(0 if d(c, a) > d(b, a) else 1)' "$(rvgroup p2p id --json --key "$T/$1.key" | jq -r .ring)" \
			"$(rvgroup p2p id --json --key "$T/$2.key" | jq -r .ring)" \
			"$(rvgroup p2p id --json --key "$T/far$i.key" 2>/dev/null | jq -r .ring)" && { echo "far$i"; return; }
	done
	return 1
}
# dst_nearer A B: a peer ID nobody has whose ring address is nearer A's than B's
dst_nearer() {
	python3 - "$(rvgroup p2p id --json --key "$T/$1.key" | jq -r .ring)" \
		"$(rvgroup p2p id --json --key "$T/$2.key" | jq -r .ring)" <<-'EOF2'
		import hashlib, sys
		me, other = (int(x, 16) for x in sys.argv[1:3])
		def dist(a, b):
		    d = (a - b) % 2**256
		    return min(d, 2**256 - d)
		for i in range(1000):
		    dst = "%064x" % (i + 1)
		    ring = int(hashlib.sha256(b"\x01" + bytes.fromhex(dst)).hexdigest(), 16)
		    if dist(me, ring) < dist(other, ring):
		        print(dst)
		        break
	EOF2
}

@test "p2p: id is SHA-256 of the public key, the key file is made once with mode 0600" {
	run --separate-stderr rvgroup p2p id --key "$T/a.key"
	assert_success
	[[ $stderr == *"made a new peer key"* ]]
	assert_output --regexp '^[0-9a-f]{64}$'
	local id=$output
	[ "$(stat -c %a "$T/a.key")" = 600 ]
	run rvgroup p2p id --key "$T/a.key" --json
	assert_success
	[ "$(jq -r .peer <<<"$output")" = "$id" ]
	# the ID is SHA-256 of the raw Ed25519 public key
	local raw
	raw=$(openssl pkey -in "$T/a.key" -pubout -outform DER | tail -c 32 | sha256sum | cut -d' ' -f1)
	[ "$raw" = "$id" ]
	run rvgroup p2p id --key "$T/b.key"
	[ "$output" != "$id" ]
	echo "not a key" >"$T/bad.key"
	run rvgroup p2p id --key "$T/bad.key"
	assert_failure
	assert_output --partial "not an Ed25519 private key"
}

@test "p2p: spec new makes an opaque rvg1 spec; spec show reads it back; a broken one is refused" {
	run --separate-stderr rvgroup p2p spec new chat.example --key "$T/o.key" --posting --lan 239.255.42.1:30000
	assert_success
	assert_output --regexp '^rvg1:[a-z2-7]+$'
	local spec=$output
	run rvgroup p2p spec show "$spec" --json
	assert_success
	[ "$(jq -r .name <<<"$output")" = chat.example ]
	[ "$(jq -c .capabilities <<<"$output")" = '["posting","server-channel"]' ]
	[ "$(jq -r .lan <<<"$output")" = 239.255.42.1:30000 ]
	[ "$(jq -r '.owners[0]' <<<"$output")" = "$(rvgroup p2p id --key "$T/o.key")" ]
	# the server sees SHA-256 of the group ID, never the spec
	local gid
	gid=$(jq -r .group <<<"$output")
	[ "$(jq -r .serverSees <<<"$output")" = "$(printf '%s' "$gid" | xxd -r -p | sha256sum | cut -d' ' -f1)" ]
	# two specs of the same name are two groups
	run rvgroup p2p spec new chat.example --key "$T/o.key" --posting --lan 239.255.42.1:30000
	[ "$output" != "$spec" ]
	run rvgroup p2p spec show "${spec}a"
	[ "$status" -eq 2 ]
	assert_output --partial "not a group spec"
	run rvgroup p2p spec show "rvg2:aaaa"
	[ "$status" -eq 2 ]
	# what the spec leaves out, a member refuses before it starts (exit 4)
	run rvgroup p2p share "$spec" --key "$T/o.key" "$BATS_TEST_FILENAME"
	[ "$status" -eq 4 ]
	assert_output --partial "the group's spec does not enable object replication (p2p spec new --replication)"
	run rvgroup p2p send "$spec" --key "$T/o.key" --to "$(rvgroup p2p id --key "$T/o.key")" hi
	[ "$status" -eq 4 ]
	assert_output --partial "does not enable routing"
	run rvrecv media --p2p "$spec" --key "$T/r.key" -o "$T/live.mkv" --duration 1
	[ "$status" -ne 0 ]
	assert_output --partial "the group's spec does not enable multicast (p2p spec new --multicast)"
	# none of the four named: all four
	run --separate-stderr rvgroup p2p spec new open.example --key "$T/o.key"
	run rvgroup p2p spec show "$output" --json
	[ "$(jq -c .capabilities <<<"$output")" = '["posting","routing","replication","multicast","server-channel"]' ]
}

@test "p2p: usage errors exit 2 before anything starts" {
	new_spec
	run rvgroup p2p
	[ "$status" -eq 2 ]
	run rvgroup p2p fly
	[ "$status" -eq 2 ]
	assert_output --partial "p2p takes id, spec, join, post, send, info, grant, share or fetch"
	run rvgroup p2p send "$SPEC" hello
	[ "$status" -eq 2 ]
	assert_output --partial "one of --to PEERID and --nearest"
	run rvgroup p2p send "$SPEC" --to abc hello
	[ "$status" -eq 2 ]
	run rvgroup p2p join "$SPEC" extra
	[ "$status" -eq 2 ]
	run rvgroup p2p join
	[ "$status" -eq 2 ]
	run rvgroup p2p post "$SPEC" --wait 0 x
	[ "$status" -eq 2 ]
}

@test "p2p: 30 peers on loopback: every post reaches every other peer exactly once, sent to nobody else" {
	new_spec
	local n=30 i
	((RV_SLOW == 1)) || n=12	# under ASan (3x slower) the size is not the point; memory is
	p2p_join p0 --stay
	for ((i = 1; i < n; i++)); do	# each knows only one earlier peer
		p2p_join "p$i" --stay --peer "127.0.0.1:$(port_of "p$((RANDOM % i))")"
	done
	for ((i = 0; i < n; i++)); do
		wait_for_line "$T/p$i.out" '"NetGroup.Neighbor.Connect"' 10
	done
	sleep "$(secs 2)"	# REPORTs spread, the ring forms
	local second=$((n / 2 + 2)) third=$((n - 1))
	to p3 "first post"
	to "p$second" "second post"
	to "p$third" "third post"
	for ((i = 0; i < n; i++)); do
		local want=3
		((i == 3 || i == second || i == third)) && want=2
		count_lines "$T/p$i.out" '"NetGroup.Posting.Notify"' "$want" 10
	done
	sleep 0.5	# late duplicates would show now
	for ((i = 0; i < n; i++)); do
		local want=3 got
		((i == 3 || i == second || i == third)) && want=2
		got=$(jq -r 'select(.code == "NetGroup.Posting.Notify") | .text' "$T/p$i.out" | sort)
		[ "$(wc -l <<<"$got")" -eq "$want" ] || { echo "# p$i: $got" >&2; false; }
		[ "$(sort -u <<<"$got" | wc -l)" -eq "$want" ]
	done
	# the author is the poster's peer ID, and the text is whole
	local from
	from=$(jq -r 'select(.text == "second post") | .from' "$T/p0.out")
	[ "$from" = "$(id_of "p$second")" ]
	# every peer has neighbours beyond the one it was given
	for ((i = 0; i < n; i++)); do
		[ "$(grep -c '"NetGroup.Neighbor.Connect"' "$T/p$i.out")" -ge 3 ]
	done
}

@test "p2p: send --to routes to one peer hop by hop; --nearest to whoever is nearest; no route exits 8" {
	new_spec
	local n=12 i
	((RV_SLOW == 1)) || n=8	# ASan: fewer peers, the same paths
	p2p_join p0 --stay
	for ((i = 1; i < n; i++)); do
		p2p_join "p$i" --stay --peer "127.0.0.1:$(port_of p0)"
	done
	for ((i = 0; i < n; i++)); do
		wait_for_line "$T/p$i.out" '"NetGroup.Neighbor.Connect"' 10
	done
	sleep "$(secs 1)"
	local target=$((n - 3))
	run timeout "$(secs 20)" rvgroup p2p send "$SPEC" --key "$T/s.key" --peer "127.0.0.1:$(port_of p1)" \
		--to "$(id_of "p$target")" "just for p$target"
	assert_success
	wait_for_line "$T/p$target.out" "\"NetGroup.SendTo.Notify\".*\"just for p$target\"" 10
	for ((i = 0; i < n; i++)); do
		[ "$i" -eq "$target" ] && continue
		! grep -q "just for p$target" "$T/p$i.out"
	done
	[ "$(jq -r "select(.text == \"just for p$target\") | .from" "$T/p$target.out")" = "$(id_of "s")" ]
	# nearest: p4's own ring address ends at p4
	local ring
	ring=$(rvgroup p2p id --key "$T/p4.key" --json | jq -r .ring)
	run timeout "$(secs 20)" rvgroup p2p send "$SPEC" --key "$T/s.key" --peer "127.0.0.1:$(port_of p0)" \
		--nearest "$ring" "near p4"
	assert_success
	wait_for_line "$T/p4.out" '"NetGroup.SendTo.Notify".*"near p4"' 10
	# a peer ID nobody has, nearer the sender than its one neighbour: no route
	p2p_join lone --stay
	local dst
	dst=$(dst_nearer t lone)
	run timeout "$(secs 20)" rvgroup p2p send "$SPEC" --key "$T/t.key" --peer "127.0.0.1:$(port_of lone)" \
		--to "$dst" "lost"
	[ "$status" -eq 8 ] || { echo "# $output" >&2; false; }
	assert_output --partial "no route"
}

# send exits 0 only when the destination acknowledged the message, end to
# end: the peer where it stops says "nobody has that ID" (exit 8, where it
# used to leave with 0), and a destination that never answers makes a
# bounded wait run out (exit 6).
@test "p2p: send exits 0 on delivery only: no such peer beyond the first hop exits 8, a silent destination 6" {
	new_spec
	p2p_join p0 --stay
	key_near p0 p1	# for key_farther p1 p0 below
	p2p_join p1 --stay --peer "127.0.0.1:$(port_of p0)"
	wait_for_line "$T/p0.out" '"NetGroup.Neighbor.Connect"' 10
	wait_for_line "$T/p1.out" '"NetGroup.Neighbor.Connect"' 10
	# delivered: 0
	run timeout "$(secs 20)" rvgroup p2p send "$SPEC" --key "$T/s.key" --peer "127.0.0.1:$(port_of p0)" \
		--to "$(id_of p1)" "for p1"
	assert_success
	# p1 acknowledges in the same turn of its loop as it prints, the
	# acknowledgement first (what it relays is not held up by its output)
	wait_for_line "$T/p1.out" '"NetGroup.SendTo.Notify".*"for p1"' 5
	# an ID nobody has, nearer p0 than the sender: it leaves, and p0 says no route
	local dst
	dst=$(dst_nearer p0 s)
	run --separate-stderr timeout "$(secs 20)" rvgroup p2p send "$SPEC" --key "$T/s.key" \
		--peer "127.0.0.1:$(port_of p0)" --to "$dst" "nobody"
	[ "$status" -eq 8 ] || fail "exit $status: $stderr"
	[[ $stderr == *"no peer of the group has that ID"* ]] || fail "$stderr"
	# the destination stopped (its sessions still up): no acknowledgement, 6
	local p1 far
	far=$(key_farther p1 p0)	# a sender whose way to p1 is through p0
	p1=$(pgrep -P "$PID_p1")	# rvgroup itself, under timeout
	kill -STOP "$p1"
	run --separate-stderr timeout "$(secs 20)" rvgroup p2p send "$SPEC" --key "$T/$far.key" \
		--peer "127.0.0.1:$(port_of p0)" --to "$(id_of p1)" "unheard"
	kill -CONT "$p1"
	[ "$status" -eq 6 ] || fail "exit $status: $stderr"
	[[ $stderr == *"not delivered: no acknowledgement within 5 s"* ]] || fail "$stderr"
}

@test "p2p: a peer that leaves is seen to go, with a reason; post and info from short-lived peers" {
	new_spec
	p2p_join a --stay
	p2p_join b --peer "127.0.0.1:$(port_of a)"
	wait_for_line "$T/a.out" '"NetGroup.Neighbor.Connect"' 10
	run timeout "$(secs 20)" rvgroup p2p post "$SPEC" --key "$T/c.key" --peer "127.0.0.1:$(port_of a)" "from c"
	assert_success
	wait_for_line "$T/b.out" '"NetGroup.Posting.Notify".*"from c"' 10
	run --separate-stderr timeout "$(secs 20)" rvgroup p2p info "$SPEC" --json --key "$T/d.key" --peer "127.0.0.1:$(port_of a)"
	assert_success
	[ "$(jq -r .code <<<"$output")" = NetGroup.Info ]
	[ "$(jq -r .neighborCount <<<"$output")" -ge 1 ]
	[ "$(jq -r '.neighbors[0].peer' <<<"$output")" != null ]
	close_input b	# EOF: b leaves
	wait_exit "$PID_b" 10
	[ "$EXIT" -eq 0 ]
	wait_for_line "$T/a.out" "\"NetGroup.Neighbor.Disconnect\",.*\"peer\":\"$(id_of b)\".*\"reason\":\"the peer closed\"" 10
	# SIGTERM: the neighbours are told at once, not after 45 s of silence
	p2p_join c --stay --peer "127.0.0.1:$(port_of a)"
	wait_for_line "$T/c.out" '"NetGroup.Neighbor.Connect"' 10
	kill -TERM "$PID_c"
	wait_exit "$PID_c" 10
	[ "$EXIT" -eq 143 ]
	wait_for_line "$T/a.out" "\"NetGroup.Neighbor.Disconnect\",.*\"peer\":\"$(id_of c)\".*\"reason\":\"the peer closed\"" 5
	# post with nobody to reach: a bounded wait, exit 6
	run timeout "$(secs 20)" rvgroup p2p post "$SPEC" --key "$T/e.key" --wait 1 "to nobody"
	[ "$status" -eq 6 ]
	assert_output --partial "no neighbour"
}

@test "p2p: garbage, forged handshakes and another group's peers change nothing for the group" {
	new_spec
	p2p_join a --stay
	p2p_join b --stay --peer "127.0.0.1:$(port_of a)"
	wait_for_line "$T/b.out" '"NetGroup.Neighbor.Connect"' 10
	local pa
	pa=$(port_of a)
	python3 - "$pa" <<-'EOF'
		import os, socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		port = int(sys.argv[1])
		for n in (0, 1, 13, 14, 200, 1500, 9000):
		    s.sendto(os.urandom(n), ("127.0.0.1", port))
		# DTLS-looking records: a ClientHello header with nothing sane after it
		for n in range(50):
		    s.sendto(bytes([22, 0xfe, 0xfd, 0, 0]) + os.urandom(8) + bytes([0, 40, 1]) + os.urandom(40), ("127.0.0.1", port))
	EOF
	# a peer of another group reaches a's port but never becomes a neighbour
	local mine=$SPEC
	new_spec other.example
	p2p_join x --stay --peer "127.0.0.1:$pa"
	SPEC=$mine
	sleep "$(secs 1)"
	! grep -q '"NetGroup.Neighbor.Connect"' "$T/x.out"
	[ "$(grep -c '"NetGroup.Neighbor.Connect"' "$T/a.out")" -eq 1 ]
	to b "still here"
	wait_for_line "$T/a.out" '"NetGroup.Posting.Notify".*"still here"' 10
	alive "$PID_a"
}

@test "p2p: with 5% of datagrams lost (RV_TEST_IMPAIR), every post still reaches every peer once" {
	new_spec
	export RV_TEST_IMPAIR=loss=0.05
	local n=10 i k
	((RV_SLOW == 1)) || n=6	# ASan: fewer peers, the same paths
	p2p_join p0 --stay
	for ((i = 1; i < n; i++)); do
		p2p_join "p$i" --stay --peer "127.0.0.1:$(port_of p0)"
	done
	for ((i = 0; i < n; i++)); do
		wait_for_line "$T/p$i.out" '"NetGroup.Neighbor.Connect"' 15
	done
	sleep "$(secs 2)"
	for ((k = 0; k < 20; k++)); do
		to "p$((k % n))" "post $k"
	done
	local want
	for ((i = 0; i < n; i++)); do	# all 20 but its own
		want=$((20 - (20 / n) - (i < 20 % n)))
		count_lines "$T/p$i.out" '"NetGroup.Posting.Notify"' "$want" 15
	done
	sleep 0.5
	for ((i = 0; i < n; i++)); do
		want=$((20 - (20 / n) - (i < 20 % n)))
		[ "$(jq -r 'select(.code == "NetGroup.Posting.Notify") | .text' "$T/p$i.out" | sort -u | wc -l)" -eq "$want" ]
		[ "$(grep -c '"NetGroup.Posting.Notify"' "$T/p$i.out")" -eq "$want" ]
	done
	unset RV_TEST_IMPAIR
	RV_TEST_IMPAIR=loss=2 run rvgroup p2p join "$SPEC" --key "$T/z.key"
	assert_failure
	assert_output --partial "RV_TEST_IMPAIR"
}

# In a network namespace of the test's own (multicast stays inside it): peers
# given no address find each other by signed LAN announcements alone.
@test "p2p: LAN discovery by multicast in a namespace, no server, no --peer; another group's peers stay out" {
	unshare --net true 2>/dev/null || skip "needs unshare --net (root)"
	local lan other
	lan=$(rvgroup p2p spec new lan.example --key "$T/owner.key" --no-server-channel --lan 239.255.42.1:30000 2>/dev/null)
	other=$(rvgroup p2p spec new lan.example --key "$T/owner.key" --no-server-channel --lan 239.255.42.1:30000 2>/dev/null)
	cat >"$T/lan.sh" <<-'EOF2'
		set -e
		ip link set lo up
		ip link set lo multicast on
		ip route add 224.0.0.0/4 dev lo
		cd "$T"
		for i in 0 1 2 x; do
			spec=$LAN
			[ "$i" = x ] && spec=$OTHER
			mkfifo "lan$i.in"
			timeout -k 1 $((30 * RV_SLOW)) rvgroup p2p join "$spec" --json --serverless --key "lan$i.key" \
				--bind 127.0.0.1:0 <"lan$i.in" >"lan$i.out" 2>"lan$i.err" &
			eval "exec {fd$i}>lan$i.in"
		done
		# each of 0..2 sees the other two, in a second or two: a datagram
		# lost is sent again by DTLS within the 10 s of a handshake
		for ((t = 0; t < 100 * RV_SLOW; t++)); do
			ok=1
			for i in 0 1 2; do
				[ "$(grep -c '"NetGroup.Neighbor.Connect"' "lan$i.out")" -ge 2 ] || ok=0
			done
			((ok)) && break
			sleep 0.1
		done
		echo "hello lan" >&"$fd0"
		for ((t = 0; t < 50 * RV_SLOW; t++)); do
			[ "$(cat lan1.out lan2.out | grep -c 'hello lan')" -ge 2 ] && break
			sleep 0.1
		done
		exec {fd0}>&- {fd1}>&- {fd2}>&- {fdx}>&-
		wait
	EOF2
	T=$T LAN=$lan OTHER=$other PATH=$PATH run timeout "$(secs 40)" unshare --net bash "$T/lan.sh"
	assert_success
	for i in 0 1 2; do
		[ "$(grep -c '"NetGroup.Neighbor.Connect"' "$T/lan$i.out")" -ge 2 ] ||
			fail "peer $i: $(grep -c '"NetGroup.Neighbor.Connect"' "$T/lan$i.out") neighbours; stderr: $(cat "$T/lan$i.err")"
	done
	grep -q '"NetGroup.Posting.Notify".*"hello lan"' "$T/lan1.out" || fail "peer 1 got no post: $(cat "$T/lan1.out")"
	grep -q '"NetGroup.Posting.Notify".*"hello lan"' "$T/lan2.out" || fail "peer 2 got no post: $(cat "$T/lan2.out")"
	! grep -q '"NetGroup.Neighbor.Connect"' "$T/lanx.out"
	! grep -q 'hello lan' "$T/lanx.out"
}

# p2p_wait_neighbors N: until each of p0..p(N-1) has a neighbour.
p2p_wait_neighbors() {
	local i
	for ((i = 0; i < $1; i++)); do
		wait_for_line "$T/p$i.out" '"NetGroup.Neighbor.Connect"' 15
	done
}

@test "p2p: rvserver introduces the peers of a group (no --peer), O(1) messages a join, no post through it" {
	start_server
	SPEC=$(rvgroup p2p spec new intro.example --key "$T/owner.key" 2>/dev/null)
	local n=8 i
	for ((i = 0; i < n; i++)); do	# the last leaves at the end of its input
		p2p_join "p$i" $( ((i < n - 1)) && echo --stay) --server "127.0.0.1:$SERVER_UDP_PORT"
		wait_for_line "$T/p$i.out" '"NetGroup.Introducer.Joined"' 10
	done
	p2p_wait_neighbors "$n"
	to p5 "introduced"
	for ((i = 0; i < n; i++)); do
		[ "$i" -eq 5 ] || wait_for_line "$T/p$i.out" '"NetGroup.Posting.Notify".*"introduced"' 10
	done
	# the newcomer learns its address as the server sees it
	[ "$(jq -r 'select(.code == "NetGroup.Introducer.Joined") | .mapped' "$T/p3.out")" = "127.0.0.1:$(port_of p3)" ]
	local m
	m=$(curl -sf "http://127.0.0.1:$SERVER_PORT/metrics")
	grep -qx 'rvserver_p2p_joins_total 8' <<<"$m"
	grep -qx 'rvserver_p2p_members 8' <<<"$m"
	# each join told at most 8 members: O(1), whatever the group's size
	local intros
	intros=$(awk '$1 == "rvserver_p2p_intros_total" { print $2 }' <<<"$m")
	((intros > 0 && intros <= 8 * 8))
	grep -qx 'rvserver_p2p_relayed_total 0' <<<"$m"
	# a peer that leaves says so
	close_input p7
	wait_exit "$PID_p7" 10
	for ((i = 0; i < 50; i++)); do
		curl -sf "http://127.0.0.1:$SERVER_PORT/metrics" | grep -qx 'rvserver_p2p_members 7' && break
		sleep 0.1
	done
	curl -sf "http://127.0.0.1:$SERVER_PORT/metrics" | grep -qx 'rvserver_p2p_leaves_total 1'
}

@test "p2p: when no datagram gets through directly, sessions go through rvserver, reported and counted" {
	start_server
	SPEC=$(rvgroup p2p spec new relay.example --key "$T/owner.key" 2>/dev/null)
	export RV_TEST_IMPAIR=direct=0	# as if every NAT refused strangers
	local n=4 i
	for ((i = 0; i < n; i++)); do
		p2p_join "p$i" --stay --server "127.0.0.1:$SERVER_UDP_PORT"
	done
	p2p_wait_neighbors "$n"
	grep -q '"NetGroup.Neighbor.Connect".*"relayed":true' "$T/p1.out"
	! grep -q '"NetGroup.Neighbor.Connect".*"relayed":false' "$T/p1.out"
	to p0 "relayed post"
	for ((i = 1; i < n; i++)); do
		wait_for_line "$T/p$i.out" '"NetGroup.Posting.Notify".*"relayed post"' 15
	done
	local relayed
	relayed=$(curl -sf "http://127.0.0.1:$SERVER_PORT/metrics" | awk '$1 == "rvserver_p2p_relayed_total" { print $2 }')
	((relayed > 0))
	unset RV_TEST_IMPAIR
}

@test "p2p: a server with --no-p2p refuses to introduce, and the peer says so" {
	start_server --no-p2p
	SPEC=$(rvgroup p2p spec new x.example --key "$T/owner.key" 2>/dev/null)
	p2p_join p0 --stay --server "127.0.0.1:$SERVER_UDP_PORT"
	wait_for_line "$T/p0.out" '"NetGroup.Introducer.Refused"' 10
	wait_for_line "$T/p0.err" 'refused to introduce' 5
	alive "$PID_p0"
}

@test "p2p: a --peer started later is found; a silent server is reported; text output keeps the terminal safe" {
	SPEC=$(rvgroup p2p spec new later.example --key "$T/owner.key" 2>/dev/null)	# server channel on
	local port quiet
	read -r port quiet < <(python3 -c 'import socket
a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
	# b, text mode, bootstraps from a port nobody has yet, and asks a server that is not there
	start_member b p2p join "$SPEC" --key "$T/b.key" --bind 127.0.0.1:0 --stay --peer "127.0.0.1:$port" \
		--server "127.0.0.1:$quiet"
	wait_for_line "$T/b.err" "no answer from rvserver's UDP port at 127\.0\.0\.1:$quiet" 10
	sleep 1
	start_member a p2p join "$SPEC" --json --key "$T/a.key" --bind "127.0.0.1:$port" --stay --serverless
	wait_for_line "$T/a.out" '"NetGroup.Neighbor.Connect"' 15
	to a $'red \e[31mtext\a'
	wait_for_line "$T/b.out" '^\[p2p\] [0-9a-f]{8}: red \?\[31mtext\?$' 10
}

@test "p2p: a restricted group takes posts from its owner and from holders of the owner's capability only" {
	SPEC=$(rvgroup p2p spec new club.example --key "$T/o.key" --restrict-posting --no-server-channel 2>/dev/null)
	run rvgroup p2p spec show "$SPEC" --json
	[ "$(jq -c .capabilities <<<"$output")" = '["posting","routing","replication","multicast","restrict-posting"]' ]
	# only an owner grants
	run rvgroup p2p grant "$SPEC" "$(id_of b)" --key "$T/c.key"
	[ "$status" -eq 4 ]
	assert_output --partial "not an owner"
	rvgroup p2p grant "$SPEC" "$(id_of b)" --key "$T/o.key" --expires 1d >"$T/b.cap"
	grep -qE '^rvc1:[a-z2-7]+$' "$T/b.cap"
	# a capability is its grantee's: c cannot use b's
	run rvgroup p2p post "$SPEC" --key "$T/c.key" --cap "$T/b.cap" --wait 1 "borrowed"
	[ "$status" -eq 4 ]
	assert_output --partial "grantee"
	p2p_join o --stay
	p2p_join b --stay --cap "$T/b.cap" --peer "127.0.0.1:$(port_of o)"
	p2p_join c --stay --peer "127.0.0.1:$(port_of o)"
	wait_for_line "$T/b.out" '"NetGroup.Neighbor.Connect"' 10
	wait_for_line "$T/c.out" '"NetGroup.Neighbor.Connect"' 10
	to o "from the owner"
	to b "from a holder"
	to c "from nobody"
	wait_for_line "$T/c.out" '"NetGroup.Posting.Notify".*"from a holder"' 10
	wait_for_line "$T/c.out" '"NetGroup.Posting.Notify".*"from the owner"' 10
	wait_for_line "$T/b.out" '"NetGroup.Posting.Notify".*"from the owner"' 10
	wait_for_line "$T/o.out" '"NetGroup.Posting.Notify".*"from a holder"' 10
	wait_for_line "$T/c.err" 'the group is restricted' 5
	sleep 0.5
	! grep -q "from nobody" "$T/o.out" "$T/b.out"
	# the text delivered is the application's, without the capability
	[ "$(jq -r 'select(.code == "NetGroup.Posting.Notify" and .text == "from a holder") | .text' "$T/o.out")" = "from a holder" ]
	# post without a capability: refused before joining
	run rvgroup p2p post "$SPEC" --key "$T/c.key" --peer "127.0.0.1:$(port_of o)" "again"
	[ "$status" -eq 4 ]
}
