#!/usr/bin/env bats
# rvsignal as scripts and browsers use it, against a real server on
# 127.0.0.1: clients are `rvsignal connect` processes (WebSocket and the
# raw-TCP broker) reading their stdin from a FIFO; every received message is
# one JSON line in $T/NAME.out, checked with jq. Every wait is bounded.

bats_require_minimum_version 1.5.0

load helpers
load sig_helpers

JWT_SECRET=jwt-test-secret-0123456789

# start_sig [ARG...]: rvsignal serve on 127.0.0.1 (port 0, broker port 0, port
# file); sets WS (ws://.../ws), TCP (tcp://...), HTTP, SIG_PORT, BROKER_PORT.
start_sig() {
	local pf=$T/sig.port scheme=ws
	rm -f "$pf"
	spawn sig rvsignal serve -l 127.0.0.1 --port 0 --broker-port 0 --port-file "$pf" "$@"
	wait_for_line "$T/sig.err" 'rvsignal: ready on 127\.0\.0\.1 port [0-9]+ \(wss?\) broker [0-9]+' 5 || return 1
	[ "$(wc -l <"$pf")" -eq 2 ] || { echo "# bad port file $pf" >&2; return 1; }
	SIG_PORT=$(sed -n 1p "$pf")
	BROKER_PORT=$(sed -n 2p "$pf")
	grep -q '(wss)' "$T/sig.err" && scheme=wss
	WS="$scheme://127.0.0.1:$SIG_PORT/ws"
	TCP="tcp://127.0.0.1:$BROKER_PORT"
	HTTP="http://127.0.0.1:$SIG_PORT"
}

# oneshot NAME CONNECT-ARG...: a client expected to end by itself; status in EXIT.
oneshot() {
	local name=$1
	start_client "$@"
	wait_exit "$(eval echo "\$PID_$name")" 10
}

# b64url: base64url without padding, for JWTs.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt CLAIMS [SECRET] [HEADER]: an HS256 token made here, independently of rvsignal.
jwt() {
	local h p s
	h=$(printf '%s' "${3:-{\"alg\":\"HS256\",\"typ\":\"JWT\"\}}" | b64url)
	p=$(printf '%s' "$1" | b64url)
	s=$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "${2:-$JWT_SECRET}" -binary | b64url)
	echo "$h.$p.$s"
}

@test "rvsignal: the welcome has an id, W3C iceServers and a resume token (WebSocket and broker)" {
	start_sig --ice stun:127.0.0.1:3478 --ice turn:127.0.0.1:3478
	client a "$WS"
	client b "$TCP"
	for n in a b; do
		run jq -c 'select(.type == "welcome")' "$T/$n.out"
		assert_equal "$(wc -l <<<"$output")" 1
		run jq -r '.id' <<<"$output"
		assert_output --regexp '^p-[0-9a-f]{8}$'
		run jq -r 'select(.type == "welcome") | .resume' "$T/$n.out"
		assert_output --regexp '^[0-9a-f]{32}$'
		run jq -c 'select(.type == "welcome") | .iceServers' "$T/$n.out"
		# no secret: plain entries, no credentials
		assert_output '[{"urls":["stun:127.0.0.1:3478"]},{"urls":["turn:127.0.0.1:3478"]}]'
	done
	[ "$ID_a" != "$ID_b" ]
	[ "$TOK_a" != "$TOK_b" ]
}

@test "rvsignal: TURN REST credentials: username EXPIRY:ID, credential = base64(HMAC-SHA1(secret, username))" {
	printf 'turn-shared-secret\n' >"$T/turn.secret"
	start_sig --ice stun:127.0.0.1:3478 --ice "turn:127.0.0.1:3478?transport=tcp" --ice turns:localhost:5349 \
		--turn-secret-file "$T/turn.secret" --turn-ttl 600
	now=$(date +%s)
	client a "$WS"
	run jq -c 'select(.type == "welcome") | .iceServers[0]' "$T/a.out"
	assert_output '{"urls":["stun:127.0.0.1:3478"]}'
	for i in 1 2; do
		user=$(jq -r "select(.type == \"welcome\") | .iceServers[$i].username" "$T/a.out")
		cred=$(jq -r "select(.type == \"welcome\") | .iceServers[$i].credential" "$T/a.out")
		[[ $user =~ ^([0-9]+):(p-[0-9a-f]{8})$ ]] || fail "username '$user' is not EXPIRY:ID"
		assert_equal "${BASH_REMATCH[2]}" "$ID_a"
		exp=${BASH_REMATCH[1]}
		((exp >= now + 600 - 2 && exp <= now + 600 + 10)) || fail "expiry $exp is not now+600 ($now)"
		# the trailing newline of the secret file is not part of the secret
		want=$(printf '%s' "$user" | openssl dgst -sha1 -hmac turn-shared-secret -binary | openssl base64 -A)
		assert_equal "$cred" "$want"
	done
	run jq -r 'select(.type == "welcome") | .iceServers[1].urls[0], .iceServers[2].urls[0]' "$T/a.out"
	assert_output $'turn:127.0.0.1:3478?transport=tcp\nturns:localhost:5349'
	# each peer gets its own username
	client b "$TCP"
	run jq -r 'select(.type == "welcome") | .iceServers[1].username' "$T/b.out"
	assert_output --regexp ":$ID_b\$"
}

@test "rvsignal: join gets the state (others, not self); others get joined; WebSocket and broker peers alike" {
	start_sig
	peer alice r1
	run jq -c 'select(.type == "state") | [.room, .peers]' "$T/alice.out"
	assert_output '["r1",[]]'
	peer bob r1 "$TCP"
	run jq -c 'select(.type == "state") | .peers' "$T/bob.out"
	assert_output "[{\"id\":\"$ID_alice\",\"name\":\"alice\"}]"
	wait_json alice ".type == \"joined\" and .room == \"r1\" and .peer == {\"id\":\"$ID_bob\",\"name\":\"bob\"}"
	peer carol r1
	run jq -c 'select(.type == "state") | [.peers[].name] | sort' "$T/carol.out"
	assert_output '["alice","bob"]'
	wait_json alice '.type == "joined" and .peer.name == "carol"'
	wait_json bob '.type == "joined" and .peer.name == "carol"'
	# a peer in another room hears nothing of r1
	peer dave r2
	run jq -c 'select(.type == "state") | .peers' "$T/dave.out"
	assert_output '[]'
	# nobody is told about their own join
	[ "$(njson alice '.type == "joined" and .peer.name == "alice"')" -eq 0 ]
	# a peer without a name is listed by its id; a peer may be in several rooms
	client eve "$WS"
	to eve '{"type":"join","room":"r2"}' '{"type":"join","room":"r3"}'
	wait_json eve '.type == "state" and .room == "r3"'
	wait_json dave ".type == \"joined\" and .peer == {\"id\":\"$ID_eve\",\"name\":\"$ID_eve\"}"
	# bad joins: no room, a bad room name, an empty name, the same room twice
	to eve '{"type":"join"}' '{"type":"join","room":"a b/c"}' '{"type":"join","room":"r4","name":""}' \
		'{"type":"join","room":"r2"}'
	wait_json eve '.type == "error" and .message == "already in this room"'
	[ "$(njson eve '.type == "error" and .code == "bad-request" and .re == "join"')" -eq 4 ]
}

@test "rvsignal: leave sends left to the others; leaving a room one is not in is not-in-room" {
	start_sig
	peer alice r1
	peer bob r1 "$TCP"
	to bob '{"type":"leave","room":"r1"}'
	wait_json alice ".type == \"left\" and .room == \"r1\" and .peer == {\"id\":\"$ID_bob\",\"name\":\"bob\"}"
	to bob '{"type":"leave","room":"r1"}' '{"type":"leave","room":"nowhere"}' '{"type":"leave"}'
	wait_json bob '.type == "error" and .code == "not-in-room" and .re == "leave"'
	count_lines "$T/bob.out" '"not-in-room"' 3 5
	# bob is out: a room message from alice does not reach him, and he cannot send to r1
	to alice '{"type":"chat","room":"r1","text":"after"}'
	to bob '{"type":"chat","room":"r1","text":"from outside"}'
	wait_json bob '.code == "not-in-room" and .re == "chat"'
	[ "$(njson bob '.type == "chat"')" -eq 0 ]
	[ "$(njson alice '.type == "chat"')" -eq 0 ]
}

@test "rvsignal: with --resume-window 0 a disconnect is left at once" {
	start_sig --resume-window 0
	peer alice r1
	peer bob r1
	peer carol r1 "$TCP"
	close_input bob                                # stdin ends: bob exits
	wait_exit "$PID_bob" 5
	assert_equal "$EXIT" 0
	wait_json alice ".type == \"left\" and .peer.id == \"$ID_bob\"" 2
	kill_hard "$PID_carol"                         # a broker connection lost
	wait_json alice ".type == \"left\" and .peer.id == \"$ID_carol\"" 2
	# and the session is gone: its token resumes nothing
	client bob2 "$WS?resume=$TOK_bob"
	run jq -r 'select(.type == "welcome") | [.id, .resumed] | @tsv' "$T/bob2.out"
	[ "${lines[0]%%$'\t'*}" != "$ID_bob" ]
	run jq -r 'select(.type == "welcome") | .resumed // false' "$T/bob2.out"
	assert_output false
}

@test "rvsignal: with a resume window, a lost peer is left only after the window" {
	start_sig --resume-window 1.5
	peer alice r1
	peer bob r1
	t0=$(date +%s%N)
	kill_hard "$PID_bob"
	sleep 0.7
	[ "$(njson alice '.type == "left"')" -eq 0 ] || fail "left before the window expired"
	wait_json alice ".type == \"left\" and .peer.id == \"$ID_bob\"" 5
	ms=$((($(date +%s%N) - t0) / 1000000))
	((ms >= 1400)) || fail "left after $ms ms, before the 1.5 s window"
}

@test "rvsignal: a direct message (to) reaches only its peer with from set; unknown peer is not-found" {
	start_sig
	peer alice r1
	peer bob r1 "$TCP"
	peer carol r1
	to alice "{\"type\":\"offer\",\"to\":\"$ID_bob\",\"sdp\":\"v=0 x\",\"from\":\"spoofed\"}"
	wait_json bob ".type == \"offer\" and .from == \"$ID_alice\" and .sdp == \"v=0 x\" and .to == \"$ID_bob\""
	to bob "{\"type\":\"answer\",\"to\":\"$ID_alice\",\"sdp\":\"v=0 y\"}"
	to bob "{\"type\":\"candidate\",\"to\":\"$ID_alice\",\"candidate\":{\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 9 typ host\",\"sdpMid\":\"0\"}}"
	wait_json alice ".type == \"candidate\" and .from == \"$ID_bob\" and .candidate.sdpMid == \"0\""
	wait_json alice ".type == \"answer\" and .from == \"$ID_bob\""
	# direct messages do not need a shared room
	client dave "$WS"
	to dave "{\"type\":\"chat\",\"to\":\"$ID_carol\",\"text\":\"hi\"}"
	wait_json carol ".type == \"chat\" and .from == \"$ID_dave\""
	to dave '{"type":"chat","to":"p-00000000","text":"nobody"}'
	wait_json dave '.type == "error" and .code == "not-found" and .re == "chat"'
	to dave '{"type":"chat","text":"where to?"}'
	wait_json dave '.type == "error" and .code == "bad-request" and .re == "chat"'
	to dave '{"type":"ping"}'
	wait_json dave '.type == "pong"'
	sleep 0.3
	[ "$(njson carol '.type == "offer" or .type == "answer"')" -eq 0 ]
	[ "$(njson alice '.type == "offer"')" -eq 0 ]
}

@test "rvsignal: a room message reaches everyone else, never the sender; exclude and include narrow it" {
	start_sig
	peer a r1
	peer b r1 "$TCP"
	peer c r1
	peer d r1 "$TCP"
	peer x r2
	to a '{"type":"chat","room":"r1","text":"all"}'
	for n in b c d; do wait_json "$n" ".type == \"chat\" and .text == \"all\" and .from == \"$ID_a\" and .room == \"r1\""; done
	to a "{\"type\":\"chat\",\"room\":\"r1\",\"text\":\"not c\",\"exclude\":[\"$ID_c\"]}"
	to a "{\"type\":\"chat\",\"room\":\"r1\",\"text\":\"only d\",\"include\":[\"$ID_d\",\"$ID_x\"]}"
	to a '{"type":"chat","room":"r1","text":"end"}'
	for n in b c d; do wait_json "$n" '.text == "end"'; done
	sleep 0.2
	run jq -r 'select(.type == "chat") | .text' "$T/b.out"
	assert_output $'all\nnot c\nend'
	run jq -r 'select(.type == "chat") | .text' "$T/c.out"
	assert_output $'all\nend'
	run jq -r 'select(.type == "chat") | .text' "$T/d.out"
	assert_output $'all\nnot c\nonly d\nend'
	# exclude and include are not forwarded
	[ "$(njson b 'has("exclude") or has("include")')" -eq 0 ]
	[ "$(njson d 'has("exclude") or has("include")')" -eq 0 ]
	[ "$(njson a '.type == "chat"')" -eq 0 ]
	[ "$(njson x '.type == "chat"')" -eq 0 ]
	# a room one is not in
	to x '{"type":"chat","room":"r1","text":"intruder"}'
	wait_json x '.type == "error" and .code == "not-in-room" and .re == "chat"'
}

@test "rvsignal: --max-peers: a full room answers room-full and connect --room exits 4" {
	start_sig --max-peers 2
	peer a full
	peer b full
	oneshot c "$WS" --room full --name c
	assert_equal "$EXIT" 4
	wait_json c '.type == "error" and .code == "room-full" and .re == "join"'
	grep -q 'full' "$T/c.err"
	# another room still has space, and a place frees when someone leaves
	peer d other
	to b '{"type":"leave","room":"full"}'
	wait_json a '.type == "left"'
	peer e full
	run jq -c 'select(.type == "state") | [.peers[].name]' "$T/e.out"
	assert_output '["a"]'
}

@test "rvsignal: --token-secret-file: a valid HS256 JWT for the room or * admits; wrong room, expired, bad signature, missing are denied" {
	printf '%s\n' "$JWT_SECRET" >"$T/jwt.secret"
	start_sig --token-secret-file "$T/jwt.secret"
	grep -q 'joins need tokens' "$T/sig.err"
	exp=$(($(date +%s) + 600))
	jwt "{\"room\":\"r1\",\"exp\":$exp,\"sub\":\"alice\"}" >"$T/ok.jwt"
	jwt "{\"room\":\"*\",\"exp\":$exp}" >"$T/star.jwt"
	jwt "{\"room\":\"r2\",\"exp\":$exp}" >"$T/wrong.jwt"
	jwt "{\"room\":\"r1\",\"exp\":$(($(date +%s) - 60))}" >"$T/expired.jwt"
	jwt "{\"room\":\"r1\",\"exp\":$exp}" other-secret >"$T/badsig.jwt"
	jwt "{\"room\":\"r1\"}" >"$T/noexp.jwt"
	jwt "{\"room\":\"r1\",\"exp\":$exp}" "$JWT_SECRET" '{"alg":"none"}' >"$T/none.jwt"
	echo 'not.a.jwt.at.all' >"$T/garbage.jwt"
	echo 'not.a.jwt' >"$T/threeparts.jwt"                  # three parts, but no JSON in them
	jwt 'not json' >"$T/claims.jwt"                         # signed, but its claims are no JSON object

	client ok "$WS" --room r1 --name ok --token-file "$T/ok.jwt"
	wait_json ok '.type == "state" and .room == "r1"'
	client star "$TCP" --room r1 --name star --token-file "$T/star.jwt"
	wait_json star '.type == "state" and .room == "r1"'

	for t in wrong:"not for this room" expired:expired badsig:signature noexp:expired none:HS256 garbage:malformed \
		threeparts:malformed claims:malformed; do
		name=${t%%:*} why=${t#*:}
		oneshot "$name" "$WS" --room r1 --name "$name" --token-file "$T/$name.jwt"
		[ "$EXIT" = 4 ] || fail "$name: exit $EXIT, wanted 4"
		wait_json "$name" ".type == \"error\" and .code == \"denied\" and .re == \"join\" and (.message | contains(\"$why\"))"
	done
	oneshot missing "$WS" --room r1 --name missing
	assert_equal "$EXIT" 4
	wait_json missing '.code == "denied" and (.message | contains("token is required"))'
	[ "$(njson ok '.type == "joined"')" -eq 1 ]
	run curl -sf "$HTTP/stats"
	[ "$(jq .denied <<<"$output")" -eq 9 ]
}

@test "rvsignal: --on-join: exit 0 admits; otherwise the join is denied with the hook's stdout" {
	cat >"$T/hook.sh" <<'EOF'
#!/bin/sh
req=$(cat)
printf '%s\n' "$req" >>"$T/hook.log"
name=$(printf '%s' "$req" | jq -r .name)
if [ "$name" = mallory ]; then
	echo "mallory may not join $(printf '%s' "$req" | jq -r .room)"
	exit 3
fi
exit 0
EOF
	chmod +x "$T/hook.sh"
	start_sig --on-join "$T/hook.sh"
	grep -q 'joins go through --on-join' "$T/sig.err"
	peer alice r1
	oneshot mallory "$WS" --room r1 --name mallory
	assert_equal "$EXIT" 4
	wait_json mallory '.type == "error" and .code == "denied" and .message == "mallory may not join r1" and .re == "join"'
	# the hook saw each request as JSON with the peer's id added
	run jq -c 'select(.name == "alice") | [.type, .room, .id]' "$T/hook.log"
	assert_output "[\"join\",\"r1\",\"$ID_alice\"]"
	[ "$(grep -c mallory "$T/hook.log")" -ge 1 ]
	[ "$(njson alice '.type == "joined"')" -eq 0 ]
}

@test "rvsignal: an --on-join hook that exits without reading its request denies the join; the server lives on" {
	# A join bigger than a pipe buffer: the write to the hook's stdin meets
	# EPIPE once the hook is gone, which must end only that hook.
	start_sig --on-join 'exec <&-; echo closed today; exit 1' --max-message 1M
	client big "$WS"
	to big "{\"type\":\"join\",\"room\":\"r1\",\"name\":\"big\",\"pad\":\"$(head -c 300000 /dev/zero | tr '\0' x)\"}"
	wait_json big '.type == "error" and .code == "denied" and .message == "closed today" and .re == "join"'
	to big '{"type":"ping"}'
	wait_json big '.type == "pong"'
	kill -0 "$PID_sig"
	run curl -fsS "$HTTP/healthz"
	assert_success
}

@test "rvsignal: --hangup close closes the sender after delivering a bye; notify does not" {
	start_sig --hangup close
	peer alice r1
	peer bob r1
	to alice "{\"type\":\"bye\",\"to\":\"$ID_bob\"}"
	wait_json bob ".type == \"bye\" and .from == \"$ID_alice\""
	wait_exit "$PID_alice" 3                       # stdin still open: the server closed it
	assert_equal "$EXIT" 0
	stop_pid "$PID_sig"

	start_sig --hangup notify
	peer carol r1
	peer dave r1 "$TCP"
	to carol '{"type":"bye","room":"r1"}'
	wait_json dave ".type == \"bye\" and .from == \"$ID_carol\""
	to carol '{"type":"ping"}'
	wait_json carol '.type == "pong"'
	alive "$PID_carol"
}

@test "rvsignal: resume with /ws?resume=TOKEN: same id, resumed, the missed messages in order" {
	start_sig --resume-window 20
	peer alice r1
	peer bob r1
	kill_hard "$PID_bob"
	wait_exit "$PID_bob" 3
	for i in 1 2 3; do to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\",\"n\":$i}"; done
	to alice '{"type":"chat","room":"r1","n":4}'
	to alice '{"type":"ping"}'
	wait_json alice '.type == "pong"'
	[ "$(njson alice '.type == "left"')" -eq 0 ]
	client bob2 "$WS?resume=$TOK_bob"
	run jq -c 'select(.type == "welcome") | [.id, .resumed, .resume]' "$T/bob2.out"
	assert_output "[\"$ID_bob\",true,\"$TOK_bob\"]"
	wait_json bob2 '.n == 4'
	run jq -c 'select(.type == "chat") | [.n, .from]' "$T/bob2.out"
	assert_output "$(printf '[%s,"%s"]\n' 1 "$ID_alice" 2 "$ID_alice" 3 "$ID_alice" 4 "$ID_alice")"
	# still in r1: the room reaches the resumed connection
	to alice '{"type":"chat","room":"r1","n":5}'
	wait_json bob2 '.n == 5'
	to bob2 '{"type":"chat","room":"r1","n":6}'
	wait_json alice ".n == 6 and .from == \"$ID_bob\""
	run curl -sf "$HTTP/stats"
	[ "$(jq .resumes <<<"$output")" -eq 1 ]
}

@test "rvsignal: resume as the first message on the broker; a second resuming connection replaces the first" {
	start_sig --resume-window 20
	peer alice r1 "$TCP"
	peer bob r1 "$TCP"
	kill_hard "$PID_bob"
	wait_exit "$PID_bob" 3
	to alice "{\"type\":\"offer\",\"to\":\"$ID_bob\",\"sdp\":\"one\"}" "{\"type\":\"candidate\",\"to\":\"$ID_bob\",\"c\":\"two\"}"
	to alice '{"type":"ping"}'
	wait_json alice '.type == "pong"'
	client bob2 "$TCP"                             # greeted with a fresh id first
	to bob2 "{\"type\":\"resume\",\"token\":\"$TOK_bob\"}"
	wait_json bob2 ".type == \"welcome\" and .resumed == true and .id == \"$ID_bob\""
	wait_json bob2 '.type == "candidate"'
	run jq -c 'select(.type == "offer" or .type == "candidate") | [.type, .from]' "$T/bob2.out"
	assert_output "$(printf '["offer","%s"]\n["candidate","%s"]' "$ID_alice" "$ID_alice")"
	# the fresh session that gave way left no trace
	fresh=$(jq -r 'select(.type == "welcome") | .id' "$T/bob2.out" | head -1)
	[ "$fresh" != "$ID_bob" ]
	run curl -sf "$HTTP/stats"
	[ "$(jq .peers <<<"$output")" -eq 2 ]
	# a bad token: not-found, and the connection goes on
	to alice '{"type":"resume","token":"0000"}'
	wait_json alice '.type == "error" and .code == "not-found" and .re == "resume"'

	# bob2 is alive; a third connection resuming the same session takes over
	client bob3 "$WS?resume=$TOK_bob"
	wait_json bob3 ".type == \"welcome\" and .resumed == true and .id == \"$ID_bob\""
	wait_json bob2 '.type == "error" and .code == "replaced"'
	wait_exit "$PID_bob2" 3
	to alice "{\"type\":\"chat\",\"to\":\"$ID_bob\",\"text\":\"who has it\"}"
	wait_json bob3 '.text == "who has it"'
	[ "$(njson bob2 '.type == "chat"')" -eq 0 ]
	[ "$(njson alice '.type == "left"')" -eq 0 ]
}

# broker_hello: open a raw broker connection on fd BFD and read its welcome
# into BLINE (bash /dev/tcp: no process per connection).
broker_hello() {
	exec {BFD}<>"/dev/tcp/127.0.0.1/$BROKER_PORT" || return 1
	IFS= read -r -t "$(secs 5)" -u "$BFD" BLINE || { echo "# no welcome on the broker" >&2; return 1; }
	[[ $BLINE == '{"type":"welcome"'* ]] || { echo "# not a welcome: $BLINE" >&2; return 1; }
}

@test "rvsignal: connections that only said hello leave no resumable session; kept sessions are capped per address" {
	start_sig --resume-window 60 --max-resumable 3
	# 200 drive-by connections (welcome, then gone), and a few over WebSocket
	for i in $(seq 200); do
		broker_hello
		exec {BFD}>&-
	done
	for i in 1 2 3; do
		client drive$i "$WS"
		close_input drive$i
		wait_exit "$(eval echo "\$PID_drive$i")" 5
	done
	deadline=$((SECONDS + $(secs 10)))
	until [ "$(curl -sf "$HTTP/stats" | jq .connections)" = 1 ] || ((SECONDS > deadline)); do sleep 0.1; done
	run curl -sf "$HTTP/stats"
	assert_equal "$(jq -c '[.connects, .connections, .peers, .resumable]' <<<"$output")" '[203,1,0,0]'

	# six peers from 127.0.0.1 join a room, then lose their connections:
	# three are kept for the window, the three oldest end (alice sees them leave)
	peer alice r1
	declare -A tok fdof
	for i in 1 2 3 4 5 6; do
		broker_hello
		id=$(jq -r .id <<<"$BLINE")
		tok[$id]=$(jq -r .resume <<<"$BLINE")
		printf '{"type":"join","room":"r1","name":"d%d"}\n' "$i" >&"$BFD"
		IFS= read -r -t "$(secs 5)" -u "$BFD" BLINE
		[ "$(jq -r .type <<<"$BLINE")" = state ] || fail "d$i: $BLINE"
		fdof[$id]=$BFD
	done
	wait_json alice '.type == "joined" and .peer.name == "d6"'
	for id in "${!fdof[@]}"; do
		fd=${fdof[$id]}
		exec {fd}>&-
	done
	count_lines "$T/alice.out" '"type":"left"' 3 5
	sleep 0.3
	[ "$(njson alice '.type == "left"')" -eq 3 ] || fail "$(njson alice '.type == "left"') left, wanted 3"
	run curl -sf "$HTTP/stats"
	assert_equal "$(jq -c '[.peers, .resumable]' <<<"$output")" '[4,3]'
	run curl -sf "$HTTP/metrics"
	assert_line 'rvsignal_resumable 3'
	# a kept one resumes; an ended one gets a fresh session
	gone=$(jq -r 'select(.type == "left") | .peer.id' "$T/alice.out" | head -1)
	kept=""
	for id in "${!tok[@]}"; do
		jq -se --arg id "$id" 'any(.[]; .type == "left" and .peer.id == $id)' "$T/alice.out" >/dev/null || kept=$id
	done
	client back "$WS?resume=${tok[$kept]}"
	run jq -c 'select(.type == "welcome") | [.id, .resumed]' "$T/back.out"
	assert_output "[\"$kept\",true]"
	client late "$WS?resume=${tok[$gone]}"
	run jq -r 'select(.type == "welcome") | .resumed // false' "$T/late.out"
	assert_output false
	run curl -sf "$HTTP/stats"
	assert_equal "$(jq .resumable <<<"$output")" 2
}

@test "rvsignal: --rate 5: a burst of 50 messages gets rate-limited errors, then the rate recovers" {
	start_sig --rate 5
	client a "$WS"
	lines=()
	for i in $(seq 50); do lines+=('{"type":"ping"}'); done
	to a "${lines[@]}"
	count_lines "$T/a.out" 'rate-limited' 30 5
	sleep 0.5
	pongs=$(njson a '.type == "pong"')
	((pongs >= 5 && pongs <= 14)) || fail "$pongs pongs for a burst of 50 at --rate 5"
	limited=$(njson a '.type == "error" and .code == "rate-limited"')
	assert_equal $((pongs + limited)) 50
	sleep 1
	to a '{"type":"ping"}'
	count_lines "$T/a.out" 'pong' $((pongs + 1)) 3
	run curl -sf "$HTTP/stats"
	[ "$(jq .rate_limited <<<"$output")" -eq "$limited" ]
}

@test "rvsignal: malformed JSON and non-objects get bad-request and the connection stays usable" {
	start_sig
	client a "$WS"
	client b "$TCP"
	for n in a b; do
		to "$n" '{nope' '[1,2,3]' '"just a string"' '42' '{"type":7}' '{"type":""}' '{"no":"type"}' \
			'{"type":"chat","room":"r1","text":"cut sh'
		count_lines "$T/$n.out" '"bad-request"' 8 5
		# what does not parse says so, as rv-signal(7) documents; the rest asks for an object with a type
		run jq -r 'select(.code == "bad-request") | .message' "$T/$n.out"
		assert_equal "$(grep -cx 'invalid JSON' <<<"$output")" 2
		assert_equal "$(grep -c 'JSON object with a string "type"' <<<"$output")" 6
		to "$n" '{"type":"ping"}'
		wait_json "$n" '.type == "pong"'
		alive "$(eval echo "\$PID_$n")"
	done
}

@test "rvsignal: a message over --max-message closes the connection (WebSocket) or answers too-large (broker)" {
	start_sig --max-message 1K
	client a "$WS"
	client b "$TCP"
	client c "$WS"
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	to c "{\"type\":\"chat\",\"to\":\"$ID_a\",\"text\":\"${big:0:900}\"}"   # under the limit: delivered
	wait_json a '.type == "chat"'
	to a "{\"type\":\"chat\",\"to\":\"$ID_c\",\"text\":\"$big\"}"
	wait_exit "$PID_a" 5
	to b "{\"type\":\"chat\",\"to\":\"$ID_c\",\"text\":\"$big\"}"
	wait_json b '.type == "error" and .code == "too-large"'
	wait_exit "$PID_b" 5
	[ "$(njson c '.type == "chat"')" -eq 0 ]
	# the server is fine
	to c '{"type":"ping"}'
	wait_json c '.type == "pong"'
}

@test "rvsignal: broker lines may arrive many to a read (a burst of small messages is not too-large)" {
	start_sig --max-message 1K --rate 0
	client a "$TCP"
	lines=()
	for i in $(seq 200); do lines+=("{\"type\":\"ping\",\"n\":$i}"); done
	to a "${lines[@]}"
	count_lines "$T/a.out" 'pong' 200 5
	[ "$(njson a '.type == "error"')" -eq 0 ]
}

@test "rvsignal: HTTP: /healthz, /stats (JSON), /metrics names, the room page, 404 and 426" {
	start_sig
	peer a r1
	peer b r1 "$TCP"
	run curl -sf "$HTTP/healthz"
	assert_success
	assert_output ok
	run curl -sf "$HTTP/stats"
	assert_success
	run jq -c '[.connections, .peers, .rooms, .joins, (.server | startswith("rvsignal/")), .port, .broker_port]' <<<"$output"
	assert_output "[3,2,1,2,true,$SIG_PORT,$BROKER_PORT]"   # connections: the two peers and this request
	run curl -sf "$HTTP/metrics"
	assert_success
	for m in connections peers rooms resumable connects_total joins_total messages_total delivered_total errors_total \
		rate_limited_total slow_drops_total resumes_total denied_total; do
		grep -qE "^rvsignal_$m [0-9]+$" <<<"$output" || fail "no metric rvsignal_$m"
		grep -qE "^# TYPE rvsignal_$m (gauge|counter)$" <<<"$output" || fail "no TYPE for rvsignal_$m"
	done
	for p in / /room/r1; do
		run curl -sf -o "$T/page.html" -w '%{content_type}' "$HTTP$p"
		assert_success
		assert_output --partial text/html
		grep -qi '<html' "$T/page.html"
	done
	run curl -s -o /dev/null -w '%{http_code}' "$HTTP/nope"
	assert_output 404
	run curl -s -o /dev/null -w '%{http_code}' "$HTTP/ws"
	assert_output 426
	run curl -s -o /dev/null -w '%{http_code}' -X POST "$HTTP/stats"
	assert_output 405
}

@test "rvsignal: HTTP on the shared route table: 404 whatever the method, 405 with Allow, HEAD, 413 for a body, 431 only for the head" {
	start_sig
	code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
	assert_equal "$(code -X POST "$HTTP/nope")" 404
	assert_equal "$(code -X DELETE "$HTTP/room.css")" 405
	run curl -s -i -X POST -d x "$HTTP/healthz"
	assert_line --partial 'HTTP/1.1 405 Method Not Allowed'
	assert_line --regexp '^Allow: GET, HEAD.$'
	run curl -s -i -X PUT "$HTTP/ws"
	assert_line --regexp '^Allow: GET.$'
	assert_equal "$(code -I "$HTTP/healthz")" 200
	assert_equal "$(code -I "$HTTP/room/r1")" 200
	assert_equal "$(code -d x -X GET "$HTTP/stats")" 413
	local fill
	fill=$(head -c 9000 /dev/zero | tr '\0' a)
	assert_equal "$(code -H "X-Fill: $fill" "$HTTP/healthz")" 431
	# /stats is one line, like rvserver's
	run curl -sf "$HTTP/stats"
	assert_success
	[ "$(curl -sf "$HTTP/stats" | wc -l)" -eq 1 ]
}

@test "rvsignal: /stats and /metrics hold the same numbers, from one table" {
	start_sig
	peer a r1
	peer b r1 "$TCP"
	local s m
	s=$(curl -sf "$HTTP/stats")
	m=$(curl -sf "$HTTP/metrics")
	same_numbers rvsignal "$s" "$m"
	grep -qx "rvsignal_port $SIG_PORT" <<<"$m"
	grep -qx "rvsignal_broker_port $BROKER_PORT" <<<"$m"
	grep -qx "rvsignal_joins_total 2" <<<"$m"
	jq -e '.joins == 2' <<<"$s"
}

@test "rvsignal: --json writes connect, join, message, leave and disconnect events to stdout" {
	start_sig --json --resume-window 0
	peer alice r1
	peer bob r1
	to alice "{\"type\":\"offer\",\"to\":\"$ID_bob\"}" '{"type":"chat","room":"r1"}' '{"type":"leave","room":"r1"}'
	wait_json bob '.type == "left"'
	close_input bob
	wait_exit "$PID_bob" 5
	wait_json sig ".event == \"disconnect\" and .id == \"$ID_bob\""
	f=sig
	wait_json $f ".event == \"connect\" and .id == \"$ID_alice\" and (.time | type) == \"number\""
	wait_json $f ".event == \"join\" and .id == \"$ID_bob\" and .room == \"r1\""
	wait_json $f ".event == \"message\" and .id == \"$ID_alice\" and .type == \"offer\" and .to == \"$ID_bob\""
	wait_json $f ".event == \"message\" and .id == \"$ID_alice\" and .type == \"chat\" and .room == \"r1\""
	wait_json $f ".event == \"leave\" and .id == \"$ID_alice\""
	# stdout holds nothing but JSON events
	run jq -e -s 'all(has("event") and has("time"))' "$T/sig.out"
	assert_success
}

@test "rvsignal: SIGTERM with peers connected exits 0 promptly and closes them" {
	start_sig
	peer a r1
	peer b r1 "$TCP"
	kill -TERM "$(tool_pid "$PID_sig")"
	wait_exit "$PID_sig" 3
	assert_equal "$EXIT" 0
	wait_exit "$PID_a" 3
	wait_exit "$PID_b" 3
}

@test "rvsignal: usage errors exit 2" {
	for args in "bogus" "serve extra" "serve --hangup maybe" "serve --port 70000" "serve --rate x" \
		"serve --max-message 10" "serve --max-queue 1K" "serve --ice http://x" "serve --turn-ttl 0" \
		"serve --turn-secret-file /dev/null" "serve --no-such-option" "connect" "connect a b" \
		"connect http://127.0.0.1:1/ws" "connect ws://127.0.0.1:notaport/ws"; do
		run -2 timeout 5 rvsignal $args </dev/null
		[ -n "$output" ] || fail "no message for '$args'"
	done
	# an unreadable token file is named with the reason
	run -2 timeout 5 rvsignal connect --token-file "$BATS_TEST_TMPDIR/none" ws://127.0.0.1:1/ws </dev/null
	assert_output --partial "cannot read --token-file $BATS_TEST_TMPDIR/none: No such file or directory"
	run timeout 5 rvsignal --help
	assert_success
	assert_output --partial 'rv-signal(7)'
	# a port nobody listens on: cannot connect
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	oneshot nobody "ws://127.0.0.1:$port/ws"
	assert_equal "$EXIT" 3
}

@test "rvsignal: wss with --tls-cert/--tls-key; connect wss:// --ca trusts it, without --ca it exits 3" {
	timeout 20 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$T/key.pem" -out "$T/cert.pem" -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 2>/dev/null
	start_sig --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
	grep -q '(wss)' "$T/sig.err"
	peer alice r1 "$WS" --ca "$T/cert.pem"
	peer bob r1 "$WS" --ca "$T/cert.pem"
	wait_json alice ".type == \"joined\" and .peer.id == \"$ID_bob\""
	to bob "{\"type\":\"offer\",\"to\":\"$ID_alice\",\"sdp\":\"over tls\"}"
	wait_json alice '.sdp == "over tls"'
	run curl -sf --cacert "$T/cert.pem" "https://127.0.0.1:$SIG_PORT/healthz"
	assert_output ok
	# plain HTTP still works on the same port
	run curl -sf "http://127.0.0.1:$SIG_PORT/healthz"
	assert_output ok
	oneshot untrusted "$WS"
	assert_equal "$EXIT" 3
	grep -qi 'certif' "$T/untrusted.err"
	client insecure "$WS" --insecure
}

@test "rvsignal: connect from a pipe: lines read before the join is answered are sent after it; stdin at EOF at once still ends" {
	start_sig
	peer alice r1
	run --separate-stderr timeout "$(secs 5)" bash -c "printf '%s\n' '{\"type\":\"chat\",\"room\":\"r1\",\"text\":\"piped\"}' |
		rvsignal connect '$WS' --room r1 --name bot"
	assert_success
	wait_json alice '.type == "chat" and .text == "piped"' 2
	run --separate-stderr timeout "$(secs 5)" rvsignal connect "$TCP" </dev/null
	assert_success
	assert_output --partial '"type":"welcome"'
}

@test "rvsignal: --json into a reader that goes away (| head -1): the events stop with one warning, serving goes on" {
	local pf=$T/sig.port
	mkfifo "$T/events"
	head -1 <"$T/events" >"$T/first.out" &
	local head_pid=$!
	PIDS+=("$head_pid")
	( _close_inherited; exec timeout -k 2 "$RV_LIFETIME" rvsignal serve -l 127.0.0.1 --port 0 --broker-port 0 \
		--port-file "$pf" --json --resume-window 0 ) >"$T/events" 2>"$T/sig.err" 3>&- </dev/null &
	PID_sig=$!
	PIDS+=("$PID_sig")
	wait_for_line "$T/sig.err" 'rvsignal: ready on' 5
	SIG_PORT=$(sed -n 1p "$pf")
	WS="ws://127.0.0.1:$SIG_PORT/ws"
	HTTP="http://127.0.0.1:$SIG_PORT"
	peer a r1
	wait_exit "$head_pid" 5
	jq -e '.event == "connect"' "$T/first.out"
	# every event from here on meets a pipe with no reader
	peer b r1
	peer c r1
	wait_for_line "$T/sig.err" 'stdout: Broken pipe; --json events are no longer printed' 5
	alive "$PID_sig"
	run curl -sf "$HTTP/healthz"
	assert_output ok
	to a '{"type":"chat","room":"r1","text":"still here"}'
	wait_json c '.text == "still here"'
	[ "$(grep -c 'events are no longer printed' "$T/sig.err")" -eq 1 ]
}

@test "rvsignal: a --port-file that cannot be written: exit 1 and the reason" {
	run --separate-stderr timeout "$(secs 5)" rvsignal serve -l 127.0.0.1 --port 0 --port-file "$T/no/such/dir/port"
	assert_failure 1
	assert_equal "$stderr" "rvsignal: error: cannot write --port-file $T/no/such/dir/port: No such file or directory"
	[ -z "$(ls "$T/no" 2>/dev/null)" ]
}
