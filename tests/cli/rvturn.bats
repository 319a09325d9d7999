#!/usr/bin/env bats
# rvturn against a real coturn (turnserver) on 127.0.0.1: binding, check on
# every transport, credentials (password, REST secret), the hints of failed
# steps, stale nonces, relaying through a socat echo peer, scripted sessions,
# timeouts and usage errors. Every coturn runs on free ports and is killed by
# its PID.

bats_require_minimum_version 1.5.0

load helpers
load turn_helpers

# The steps of a full check, in order.
STEPS_UDP="resolve binding allocate-401 allocate refresh permission send-indication channel-bind channel-data round-trip delete"
STEPS_TCP="connect ${STEPS_UDP#resolve }"
STEPS_TLS="tls ${STEPS_UDP#resolve }"

# passes FILE TRANSPORT STEPS: FILE (text output) has exactly these PASS steps.
passes() {
	local got
	got=$(awk -v tr="$2" '$1 == "PASS" && $2 == tr { printf "%s%s", sep, $3; sep = " " }' "$1")
	[ "$got" = "$3" ] || {
		echo "# $2 steps: '$got', wanted '$3'; output:" >&2
		sed 's/^/#   /' "$1" >&2
		return 1
	}
	! grep -q '^FAIL' "$1"
}

@test "rvturn: binding prints the mapped IP:PORT (UDP, TCP; --json has server and mapped)" {
	start_turn turn
	run --separate-stderr rvt binding "stun:127.0.0.1:$TURN_PORT"
	assert_success
	assert_output --regexp '^127\.0\.0\.1:[0-9]+$'
	run --separate-stderr rvt -T tcp binding "stun:127.0.0.1:$TURN_PORT"
	assert_success
	assert_output --regexp '^127\.0\.0\.1:[0-9]+$'
	run --separate-stderr rvt --json binding "turn:127.0.0.1:$TURN_PORT?transport=tcp"
	assert_success
	run jq -r '"\(.server) \(.mapped)"' <<<"$output"
	assert_output --regexp "^127\.0\.0\.1:$TURN_PORT 127\.0\.0\.1:[0-9]+$"
}

@test "rvturn: check passes every step over UDP and TCP (URI transport and -T)" {
	start_turn turn
	rvt check "$URI" -u alice >"$T/udp.txt"
	passes "$T/udp.txt" udp "$STEPS_UDP"
	grep -qE '^PASS udp allocate +[0-9.]+ ms  relayed 127\.0\.0\.1:[0-9]+, lifetime 600 s$' "$T/udp.txt"
	rvt check "$URI?transport=tcp" -u alice >"$T/tcp.txt"
	passes "$T/tcp.txt" tcp "$STEPS_TCP"
	rvt check -T tcp "$URI" -u alice >"$T/tcp2.txt"
	passes "$T/tcp2.txt" tcp "$STEPS_TCP"
}

@test "rvturn: check over TLS: --ca passes, no --ca fails at the tls step (certificate, exit 3), --insecure passes" {
	TURN_TLS=1 start_turn turn
	rvt check "turns:127.0.0.1:$TURN_TLS_PORT" -u alice --ca "$T/cert.pem" >"$T/tls.txt"
	passes "$T/tls.txt" tls "$STEPS_TLS"
	# the certificate names localhost too (SNI and verification by name)
	rvt check "turns:localhost:$TURN_TLS_PORT" -4 -u alice --ca "$T/cert.pem" >"$T/tls2.txt"
	passes "$T/tls2.txt" tls "$STEPS_TLS"
	run rvt check "turns:127.0.0.1:$TURN_TLS_PORT" -u alice
	assert_failure 3
	assert_line --regexp '^FAIL tls tls .*certificate'
	assert_line --regexp 'hint: .*--ca FILE.*--insecure'
	[ "${#lines[@]}" -eq 2 ]
	rvt check "turns:127.0.0.1:$TURN_TLS_PORT" -u alice --insecure >"$T/tls3.txt"
	passes "$T/tls3.txt" tls "$STEPS_TLS"
}

@test "rvturn: check --transport all: UDP, TCP and TLS; an explicit port is kept for TLS" {
	# coturn accepts TLS on its plain listening port too
	TURN_TLS=1 start_turn turn
	rvt check --transport all "$URI" -u alice --ca "$T/cert.pem" >"$T/all.txt"
	passes "$T/all.txt" udp "$STEPS_UDP"
	passes "$T/all.txt" tcp "$STEPS_TCP"
	passes "$T/all.txt" tls "$STEPS_TLS"
	grep -qE "^PASS tls tls .* 127\.0\.0\.1:$TURN_PORT \(handshake done\)$" "$T/all.txt"
}

@test "rvturn: check --transport all against a server without TLS: UDP and TCP pass, TLS times out on the same port" {
	start_turn turn
	run rvt check -T all "$URI" -u alice --timeout 1
	assert_failure 6
	assert_line --regexp '^PASS udp delete '
	assert_line --regexp '^PASS tcp delete '
	assert_line --regexp "^FAIL tls tls .*127\.0\.0\.1:$TURN_PORT: no answer within 1 s"
	run grep -c '^PASS' <<<"$output"
	assert_output 22
}

@test "rvturn: check --json: one object a line with transport, step, ok, ms (and detail)" {
	start_turn turn
	rvt check --json -T all "$URI" -u alice --timeout 1 >"$T/all.json" || true
	run jq -e -c . "$T/all.json"
	assert_success
	run jq -e -s 'all(.[]; (.transport|type) == "string" and (.step|type) == "string"
		and (.ok|type) == "boolean" and (.ms|type) == "number" and .ms >= 0)' "$T/all.json"
	assert_success
	run jq -r -s '[.[] | select(.ok) | .transport] | unique | join(",")' "$T/all.json"
	assert_output "tcp,udp"
	run jq -r -s '[.[] | select(.transport == "udp") | .step] | join(" ")' "$T/all.json"
	assert_output "$STEPS_UDP"
	run jq -r 'select(.step == "allocate" and .transport == "udp") | .detail' "$T/all.json"
	assert_output --regexp '^relayed 127\.0\.0\.1:[0-9]+, lifetime 600 s$'
	run jq -r 'select(.ok | not) | "\(.transport) \(.step) \(.hint != null)"' "$T/all.json"
	assert_output "tls tls true"
}

@test "rvturn: a wrong password fails at allocate with 401 and a hint about the password, exit 4" {
	start_turn turn
	run env RV_TURN_PASSWORD=wrong timeout "$(secs 10)" rvturn check "$URI" -u alice
	assert_failure 4
	assert_line --regexp '^PASS udp allocate-401 .*401 as expected, realm "rvkit\.test"'
	assert_line --regexp '^FAIL udp allocate .*401'
	assert_line --regexp '^     hint: .*password'
	refute_line --regexp '^(PASS|FAIL) udp refresh'
	run env RV_TURN_PASSWORD=wrong timeout "$(secs 10)" rvturn check --json "$URI" -u bob
	assert_failure 4
	run jq -r 'select(.ok | not) | "\(.step) \(.detail) \(.hint | test("password"))"' <<<"$output"
	assert_output "allocate 401 Unauthorized true"
	# the right password from a file
	printf '%s\n' "$TURN_PASS" >"$T/pw"
	run env -u RV_TURN_PASSWORD timeout "$(secs 10)" rvturn check "$URI" -u alice --password-file "$T/pw"
	assert_success
	assert_line --regexp '^PASS udp delete '
}

@test "rvturn: TURN REST credentials from --secret-file pass on a use-auth-secret coturn; a wrong secret is denied (4)" {
	start_turn turn --use-auth-secret --static-auth-secret=topsecret --realm=rest.test --allow-loopback-peers
	echo topsecret >"$T/secret"
	echo notthesecret >"$T/wrong"
	run env -u RV_TURN_PASSWORD timeout "$(secs 10)" rvturn check "$URI" -u bob --secret-file "$T/secret" --ttl 600
	assert_success
	assert_line --regexp '^PASS udp allocate-401 .*realm "rest\.test"'
	assert_line --regexp '^PASS udp delete '
	run env -u RV_TURN_PASSWORD timeout "$(secs 10)" rvturn check "$URI" -u bob --secret-file "$T/wrong"
	assert_failure 4
	assert_line --regexp '^FAIL udp allocate .*401'
	assert_line --regexp 'hint: .*--secret-file'
	# a plain password is no REST credential
	run env RV_TURN_PASSWORD=topsecret timeout "$(secs 10)" rvturn check "$URI" -u bob
	assert_failure 4
}

@test "rvturn: a loopback peer refused (403) without --allow-loopback-peers: permission fails with the hint, exit 4" {
	start_turn turn --lt-cred-mech "--user=alice:$TURN_PASS" --realm=rvkit.test
	run rvt check "$URI" -u alice
	assert_failure 4
	assert_line --regexp '^PASS udp refresh '
	assert_line --regexp '^FAIL udp permission .*403'
	assert_line --regexp 'hint: .*--allow-loopback-peers'
	run rvt check --json "$URI?transport=tcp" -u alice
	assert_failure 4
	run jq -r 'select(.ok | not) | "\(.step) \(.hint | test("--allow-loopback-peers"))"' <<<"$output"
	assert_output "permission true"
	run bash -c "echo hi | RV_TURN_PASSWORD=$TURN_PASS timeout $(secs 10) rvturn relay $URI -u alice --peer 127.0.0.1:9"
	assert_failure 4
	assert_output --partial "403"
	assert_output --partial "--allow-loopback-peers"
}

@test "rvturn: a stale nonce (coturn --stale-nonce=1) is retried: refresh after 2 s still succeeds" {
	start_turn turn -V --stale-nonce=1
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s "$URI" -u alice
	to s allocate
	wait_for_line "$T/s.out" '^allocated 127\.0\.0\.1:[0-9]+ lifetime 600$' 5
	sleep 2.2
	to s "refresh 600" "permission 127.0.0.1"
	wait_for_line "$T/s.out" '^permission 127\.0\.0\.1$' 5
	to s quit
	wait_exit "$PID_s" 5
	[ "$EXIT" -eq 0 ]
	run cat "$T/s.out"
	assert_output --regexp $'^allocated [^\n]*\nrefreshed 600\npermission 127\\.0\\.0\\.1$'
	# the server did say 438, and rvturn did not report it
	grep -q 'error 438' "$TURN_LOG"
	! grep -q '^error' "$T/s.out"
}

@test "rvturn: relay over UDP: stdin goes to the peer through the relay, its echo comes to stdout" {
	start_turn turn
	echo_peer echo
	run bash -c "printf 'hello through the relay\n' | RV_TURN_PASSWORD=$TURN_PASS timeout $(secs 10) rvturn -q relay $URI -u alice --peer 127.0.0.1:$ECHO_PORT"
	assert_success
	assert_output "hello through the relay"
	# binary bytes, unchanged
	head -c 1000 /dev/urandom >"$T/bin"
	RV_TURN_PASSWORD=$TURN_PASS timeout "$(secs 10)" rvturn -q relay "$URI" -u alice --peer "127.0.0.1:$ECHO_PORT" \
		<"$T/bin" >"$T/bin.out"
	cmp "$T/bin" "$T/bin.out"
}

@test "rvturn: relay over TCP and TLS: the echo comes back too" {
	TURN_TLS=1 start_turn turn
	echo_peer echo
	run bash -c "printf 'hello over tcp\n' | RV_TURN_PASSWORD=$TURN_PASS timeout $(secs 10) rvturn -q -T tcp relay $URI -u alice --peer 127.0.0.1:$ECHO_PORT"
	assert_success
	assert_output "hello over tcp"
	run bash -c "printf 'hello over tls\n' | RV_TURN_PASSWORD=$TURN_PASS timeout $(secs 10) rvturn -q relay turns:127.0.0.1:$TURN_TLS_PORT --ca $T/cert.pem -u alice --peer 127.0.0.1:$ECHO_PORT"
	assert_success
	assert_output "hello over tls"
}

# session_script NAME: the verbs of a session with the echo peer, one at a
# time, each after the event of the one before.
session_script() {
	local s=$1 e="127.0.0.1:$ECHO_PORT" f=$2
	to "$s" allocate
	wait_for_line "$T/$s.out" "$(jqpat "$f" allocated '^allocated 127\.0\.0\.1:[0-9]+ lifetime 600$')" 5
	to "$s" "permission 127.0.0.1"
	wait_for_line "$T/$s.out" "$(jqpat "$f" '"event":"permission"' '^permission 127\.0\.0\.1$')" 5
	to "$s" "send $e via indication"
	wait_for_line "$T/$s.out" "$(jqpat "$f" '"event":"data"' "^data $e via indication$")" 5
	to "$s" "bind $e"
	wait_for_line "$T/$s.out" "$(jqpat "$f" '"event":"bound"' "^bound 0x4000 $e$")" 5
	to "$s" "data $e via channel"
	wait_for_line "$T/$s.out" "$(jqpat "$f" '"event":"channel-data"' "^channel-data 0x4000 $e via channel$")" 5
	to "$s" "frobnicate" "data 127.0.0.1:9 not bound"
	count_lines "$T/$s.out" 'error' 2 5
	to "$s" quit
	wait_exit "$(eval echo "\$PID_$s")" 5
	[ "$EXIT" -eq 0 ]
}

# jqpat json|text JSONPAT TEXTPAT
jqpat() { if [ "$1" = json ]; then echo "$2"; else echo "$3"; fi; }

@test "rvturn: session (text): allocated, permission, data, bound, channel-data and error events" {
	start_turn turn
	echo_peer echo
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s "$URI" -u alice
	session_script s text
	e="127.0.0.1:$ECHO_PORT"
	run cat "$T/s.out"
	assert_line --index 0 --regexp '^allocated 127\.0\.0\.1:[0-9]+ lifetime 600$'
	assert_line --index 1 "permission 127.0.0.1"
	assert_line --index 2 "data $e via indication"
	assert_line --index 3 "bound 0x4000 $e"
	assert_line --index 4 "channel-data 0x4000 $e via channel"
	assert_line --index 5 --regexp "^error frobnicate 0 unknown verb 'frobnicate'"
	assert_line --index 6 --regexp '^error data 0 no channel bound to 127\.0\.0\.1:9'
	[ "${#lines[@]}" -eq 7 ]
}

@test "rvturn: session --json: one object a line with event and its fields" {
	start_turn turn
	echo_peer echo
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s "$URI" -u alice --json
	session_script s json
	run jq -e -c . "$T/s.out"
	assert_success
	run jq -r -s 'map(.event) | join(" ")' "$T/s.out"
	assert_output "allocated permission data bound channel-data error error"
	e="127.0.0.1:$ECHO_PORT"
	run jq -r -c 'select(.event == "allocated") | [(.relayed | test("^127\\.0\\.0\\.1:[0-9]+$")), .lifetime]' "$T/s.out"
	assert_output '[true,600]'
	run jq -r -c 'select(.event == "data") | [.from, .text]' "$T/s.out"
	assert_output "[\"$e\",\"via indication\"]"
	run jq -r -c 'select(.event == "bound") | [.channel, .peer]' "$T/s.out"
	assert_output "[16384,\"$e\"]"
	run jq -r -c 'select(.event == "channel-data") | [.channel, .from, .text]' "$T/s.out"
	assert_output "[16384,\"$e\",\"via channel\"]"
	run jq -r -c 'select(.event == "error") | [.verb, .code]' "$T/s.out"
	assert_output $'["frobnicate",0]\n["data",0]'
}

@test "rvturn: session --hex: payloads in and out as hex; refresh 0 deletes the allocation" {
	start_turn turn
	echo_peer echo
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s "$URI" -u alice --hex
	to s "allocate" "permission 127.0.0.1" "bind 127.0.0.1:$ECHO_PORT"
	wait_for_line "$T/s.out" '^bound 0x4000 ' 5
	to s "data 127.0.0.1:$ECHO_PORT 00ff410a"
	wait_for_line "$T/s.out" "^channel-data 0x4000 127\.0\.0\.1:$ECHO_PORT 00ff410a$" 5
	to s "refresh 0"
	wait_for_line "$T/s.out" '^refreshed 0$' 5
	close_input s
	wait_exit "$PID_s" 5
	[ "$EXIT" -eq 0 ]
}

@test "rvturn: session over TCP: relayed data comes out as events" {
	start_turn turn
	echo_peer echo
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s "$URI?transport=tcp" -u alice
	session_script s text
}

@test "rvturn: bench: pairs relay at the rate, the whole schedule goes out and comes back; round trips leave out the ticks" {
	start_turn turn
	export RV_TURN_PASSWORD=$TURN_PASS
	# 2 pairs x 100 packets/s x 1.5 s: 150 packets from each sender, each relayed twice
	# (to the echoer, and back)
	run --separate-stderr timeout "$(secs 20)" rvturn bench "$URI" -u alice --clients 4 --rate 100 --duration 1.5 --json
	assert_success
	local j=$output
	run jq -r '"\(.clients) \(.size) \(.sent) \(.relayed >= 594) \(.own_socket_drops)"' <<<"$j"
	assert_output "4 160 300 true 0"
	# At 100 packets/s a tick is 20 ms: a packet waits up to a tick in a socket, at each
	# end. The kernel's receive times and the hold time the echoer writes into each packet
	# keep those waits out of the round trip (else its median would be about 20 ms).
	run jq -r '"\(.rtt_p50_ms > 0 and .rtt_p50_ms < 10) \(.rtt_p99_ms >= .rtt_p50_ms) \(.cpu_s > 0)"' <<<"$j"
	assert_output "true true true"
	# text: one pair
	run --separate-stderr timeout "$(secs 20)" rvturn bench "$URI" -u alice --rate 200 --duration 1
	assert_success
	assert_line --index 0 "clients 2 (1 pairs), 200 packets/s each, 160 bytes, 1 s"
	assert_line --index 1 --regexp '^sent 200, relayed back (39[6-9]|400) '
}

@test "rvturn: bench --peer: every allocation sends to that UDP echo and takes its echoes back (uclient's load)" {
	start_turn turn
	echo_peer echo
	export RV_TURN_PASSWORD=$TURN_PASS
	# 3 allocations (not pairs) x 100 packets/s x 1 s, all to the echo and back
	run --separate-stderr timeout "$(secs 20)" rvturn bench "$URI" -u alice --clients 3 --rate 100 --duration 1 \
		--peer "127.0.0.1:$ECHO_PORT" --json
	assert_success
	run jq -r '"\(.clients) \(.peer) \(.sent) \(.relayed >= 297 and .relayed <= 300) \(.loss_pct < 1) \(.rtt_p50_ms > 0)"' <<<"$output"
	assert_output "3 true 300 true true true"
	run --separate-stderr timeout "$(secs 20)" rvturn bench "$URI" -u alice --clients 1 --rate 100 --duration 1 \
		--peer "127.0.0.1:$ECHO_PORT"
	assert_success
	assert_line --index 0 "clients 1, each to the peer 127.0.0.1:$ECHO_PORT, 100 packets/s each, 160 bytes, 1 s"
	run timeout "$(secs 10)" rvturn bench "$URI" -u alice --peer nowhere
	assert_failure 2
	assert_output --partial "expected IP:PORT"
}

@test "rvturn: bench --burst 1 sends one packet at a time (uclient's pacing), the whole schedule; --burst is 1 to 64" {
	start_turn turn
	export RV_TURN_PASSWORD=$TURN_PASS
	# 1 pair x 200 packets/s x 1 s with a tick every 5 ms (the period), not every 20 ms
	run --separate-stderr timeout "$(secs 20)" rvturn bench "$URI" -u alice --rate 200 --duration 1 --burst 1 --json
	assert_success
	run jq -r '"\(.sent) \(.relayed >= 396) \(.own_socket_drops)"' <<<"$output"
	assert_output "200 true 0"
	for b in 0 65 x; do
		run timeout "$(secs 10)" rvturn bench "$URI" -u alice --burst "$b"
		assert_failure 2
	done
}

@test "rvturn: bench at 1000 packets/s reads its sockets lazily (--read-every): few receive calls, round trips from the kernel's times" {
	start_turn turn
	export RV_TURN_PASSWORD=$TURN_PASS
	# 1 pair x 1000 packets/s x 1 s, one packet a 1 ms tick, the sockets read every 50 ms
	run --separate-stderr timeout "$(secs 20)" rvturn bench "$URI" -u alice --rate 1000 --duration 1 --burst 1 \
		--read-every 50 --json
	assert_success
	local j=$output
	run jq -r '"\(.sent) \(.relayed >= 1980) \(.own_socket_drops)"' <<<"$j"
	assert_output "1000 true 0"
	# a read drains what 50 ticks left in a socket: one receive call per packet would be
	# about 2000 calls (--read-every 0: 1700)
	run jq -r '"\(.recv_calls > 0 and .recv_calls * 4 < .relayed)"' <<<"$j"
	assert_output "true"
	# a packet waits up to 50 ms in the echoer's socket and as long in the sender's: the
	# round trip is from the kernel's receive times less the echoer's hold (read times would
	# make its median 25 to 50 ms)
	run jq -r '"\(.rtt_p50_ms > 0 and .rtt_p50_ms < 10) \(.rtt_p99_ms >= .rtt_p50_ms)"' <<<"$j"
	assert_output "true true"
	for r in -1 1001 x; do
		run timeout "$(secs 10)" rvturn bench "$URI" -u alice --read-every "$r"
		assert_failure 2
	done
}

@test "rvturn: no answer: binding to a silent UDP port exits 6 after --timeout 2" {
	silent_udp quiet
	t0=$(date +%s%N)
	run timeout "$(secs 10)" rvturn --timeout 2 binding "stun:127.0.0.1:$SILENT_PORT"
	t1=$(date +%s%N)
	assert_failure 6
	assert_output --partial "no answer within 2 s"
	ms=$(((t1 - t0) / 1000000))
	((ms >= 1900 && ms < 2000 * RV_SLOW + 1500))
	# silence, not a refusal: the requests got there (retransmitted)
	count_lines "$T/quiet.out" '^datagram 0001 ' 2 5
}

@test "rvturn: silence is a timeout (6) for check, relay and bench too; a session reports it and goes on" {
	silent_udp quiet
	export RV_TURN_PASSWORD=$TURN_PASS
	run timeout "$(secs 10)" rvturn --timeout 1 check "turn:127.0.0.1:$SILENT_PORT" -u alice
	assert_failure 6
	assert_line --index 1 --regexp '^FAIL udp binding .* no answer within 1 s '
	assert_line --index 2 --regexp '^     hint: no answer: check the port'
	run bash -c "timeout $(secs 10) rvturn --timeout 1 relay turn:127.0.0.1:$SILENT_PORT -u alice --peer 127.0.0.1:9 </dev/null"
	assert_failure 6
	assert_output --regexp '^rvturn: allocate: no answer within 1 s '
	run timeout "$(secs 10)" rvturn --timeout 1 bench "turn:127.0.0.1:$SILENT_PORT" -u alice --duration 1
	assert_failure 6
	assert_output --partial "no answer within 1 s"
	run bash -c "printf 'allocate\n' | timeout $(secs 10) rvturn --timeout 1 session turn:127.0.0.1:$SILENT_PORT -u alice"
	assert_success
	assert_output --regexp '^error allocate 0 no answer within 1 s '
}

@test "rvturn: nothing listening on UDP (ICMP port unreachable) is 'cannot connect' (3), at once, for every command" {
	port=$(closed_udp_port)
	msg="nothing listening on UDP 127.0.0.1:$port (ICMP port unreachable)"
	export RV_TURN_PASSWORD=$TURN_PASS
	# --timeout 60 within a bound of 10 s: a command that waited for its timeout
	# would be killed (124) instead of exiting 3
	run timeout "$(secs 10)" rvturn --timeout 60 binding "stun:127.0.0.1:$port"
	assert_failure 3
	assert_output "rvturn: $msg"
	run timeout "$(secs 10)" rvturn --timeout 60 check "turn:127.0.0.1:$port" -u alice
	assert_failure 3
	assert_line --index 0 --regexp '^PASS udp resolve '
	assert_line --index 1 --regexp '^FAIL udp binding '
	assert_line --index 1 --partial " $msg"
	assert_line --index 2 "     hint: is the server running on that address and port?"
	run timeout "$(secs 10)" rvturn --timeout 60 --json check "stun:127.0.0.1:$port"
	assert_failure 3
	run jq -r -s -c '.[1] | [.step, .ok, .detail]' <<<"$output"
	assert_output "[\"binding\",false,\"$msg\"]"
	run bash -c "timeout $(secs 10) rvturn --timeout 60 relay turn:127.0.0.1:$port -u alice --peer 127.0.0.1:9 </dev/null"
	assert_failure 3
	assert_output "rvturn: allocate: $msg"
	run timeout "$(secs 10)" rvturn --timeout 60 bench "turn:127.0.0.1:$port" -u alice --duration 1
	assert_failure 3
	assert_output "rvturn: $msg"
	# a session learns it at its first request: the error event, then it ends
	run --separate-stderr bash -c "printf 'allocate\nallocate\n' | timeout $(secs 10) rvturn --timeout 60 session turn:127.0.0.1:$port -u alice"
	assert_failure 3
	assert_output "error allocate 0 $msg"
	[ "$stderr" = "rvturn: $msg" ]
}

@test "rvturn: a server that goes away after answering is a lost connection (7): session, relay and bench say so" {
	start_turn turn
	echo_peer echo
	export RV_TURN_PASSWORD=$TURN_PASS
	gone="nothing listening on UDP 127.0.0.1:$TURN_PORT any more (ICMP port unreachable)"
	start_session s "$URI" -u alice
	to s allocate
	wait_for_line "$T/s.out" '^allocated ' 5
	mkfifo "$T/r.in"
	spawn r bash -c "exec rvturn relay $URI -u alice --peer 127.0.0.1:$ECHO_PORT <$T/r.in"
	exec {rin}>"$T/r.in"
	echo one >&$rin
	wait_for_line "$T/r.out" '^one$' 5
	spawn b rvturn bench "$URI" -u alice --duration 60 --lifetime 600 --rate 50
	wait_for_line "$T/b.err" 'pairs ready' 10
	stop_pid "$TURN_PID"
	# the bench's packets meet the ICMP error and it stops early, with the results so far
	wait_exit "$PID_b" 10
	[ "$EXIT" -eq 7 ]
	grep -qF "rvturn: bench: $gone" "$T/b.err"
	grep -q '^sent [0-9]*, relayed back ' "$T/b.out"
	# the session learns it at its next request
	to s "permission 127.0.0.1"
	wait_exit "$PID_s" 10
	[ "$EXIT" -eq 7 ]
	grep -qxF "error permission 0 $gone" "$T/s.out"
	grep -qxF "rvturn: $gone" "$T/s.err"
	# the relay at its next packet
	echo two >&$rin
	wait_exit "$PID_r" 10
	[ "$EXIT" -eq 7 ]
	grep -qxF "rvturn: $gone" "$T/r.err"
	exec {rin}>&-
}

@test "rvturn: no server on the port: TCP cannot connect (3), with the hint" {
	port=$(free_port)
	run timeout "$(secs 10)" rvturn --timeout 2 -T tcp binding "stun:127.0.0.1:$port"
	assert_failure 3
	assert_output --partial "refused"
	run rvt --timeout 2 check "turn:127.0.0.1:$port?transport=tcp" -u alice
	assert_failure 3
	assert_line --regexp '^FAIL tcp connect .*refused'
	assert_line --regexp 'hint: is the server running'
}

@test "rvturn: session: verbs that need an allocation before allocate fail locally with 'allocate first', sending nothing" {
	silent_udp quiet
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s --timeout 1 "turn:127.0.0.1:$SILENT_PORT" -u alice
	to s "permission 127.0.0.1" "refresh 600" "bind 127.0.0.1:9" "send 127.0.0.1:9 hi" "data 127.0.0.1:9 hi"
	count_lines "$T/s.out" '^error ' 5 5
	# then an Allocate, which does go out: the first datagram the server saw is it
	to s allocate
	wait_for_line "$T/quiet.out" '^datagram ' 5
	close_input s
	wait_exit "$PID_s" 10
	[ "$EXIT" -eq 0 ]
	# every datagram the server got is an Allocate (0x0003), retransmitted
	run grep '^datagram ' "$T/quiet.out"
	assert_line --index 0 --regexp '^datagram 0003 '
	refute_line --regexp '^datagram (000[^3]|00[^0]|0[^0]|[^0])'
	run cat "$T/s.out"
	assert_line --index 0 "error permission 0 allocate first"
	assert_line --index 1 "error refresh 0 allocate first"
	assert_line --index 2 "error bind 0 allocate first"
	assert_line --index 3 "error send 0 allocate first"
	assert_line --index 4 "error data 0 allocate first"
	assert_line --index 5 --regexp '^error allocate 0 no answer within 1 s '
}

@test "rvturn: session with coturn: permission before allocate is a local error, not a 400; after allocate it works" {
	start_turn turn
	export RV_TURN_PASSWORD=$TURN_PASS
	start_session s --json "$URI" -u alice
	to s "permission 127.0.0.1"
	wait_for_line "$T/s.out" '"event":"error"' 5
	to s allocate
	wait_for_line "$T/s.out" '"event":"allocated"' 5
	to s "permission 127.0.0.1"
	wait_for_line "$T/s.out" '"event":"permission"' 5
	to s quit
	wait_exit "$PID_s" 5
	[ "$EXIT" -eq 0 ]
	run jq -r -s -c 'map([.event, .verb, .code, .reason])[]' "$T/s.out"
	assert_line --index 0 '["error","permission",0,"allocate first"]'
	assert_line --index 1 '["allocated",null,null,null]'
	assert_line --index 2 '["permission",null,null,null]'
	[ "${#lines[@]}" -eq 3 ]
}

@test "rvturn: usage errors exit 2" {
	for args in "" "binding" "frob stun:127.0.0.1:1" "binding http://127.0.0.1" "binding turn:127.0.0.1:0" \
		"binding turn:127.0.0.1:1?transport=sctp" "-T sctp binding stun:127.0.0.1:1" \
		"-T all binding stun:127.0.0.1:1" "session turn:127.0.0.1:1" "relay turn:127.0.0.1:1 -u a" \
		"--timeout 0 binding stun:127.0.0.1:1" "--ttl -5 check turn:127.0.0.1:1" \
		"binding stun:127.0.0.1:1 extra" "--no-such-option binding stun:127.0.0.1:1"; do
		# shellcheck disable=SC2086
		run timeout 5 rvturn $args
		[ "$status" -eq 2 ] || { echo "# rvturn $args: exit $status: $output" >&2; return 1; }
		[ -n "$output" ]
	done
	run timeout 5 rvturn --help
	assert_success
	assert_output --partial "binding|check|relay|session"
}

@test "rvturn: passwords never in argv: no --password option; -u without a password and no tty exits 2" {
	run timeout 5 rvturn --password s3cret -u alice check turn:127.0.0.1:1
	assert_failure 2
	run env -u RV_TURN_PASSWORD timeout 5 rvturn -u alice check turn:127.0.0.1:1 </dev/null
	assert_failure 2
	assert_output --partial "-u needs a password"
	assert_output --partial "RV_TURN_PASSWORD"
	run env -u RV_TURN_PASSWORD timeout 5 rvturn -u alice --password-file "$T/missing" check turn:127.0.0.1:1 </dev/null
	assert_failure 2
	assert_output --partial "cannot read --password-file $T/missing: No such file or directory"
	run env -u RV_TURN_PASSWORD timeout 5 rvturn -u alice --secret-file "$T" check turn:127.0.0.1:1 </dev/null
	assert_failure 2
	assert_output --partial "cannot read --secret-file $T: Is a directory"
}
