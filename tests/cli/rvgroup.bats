#!/usr/bin/env bats
# rvgroup as users run it, against a real rvserver on 127.0.0.1.

load helpers

# join NAME GROUP... [-- extra rvgroup options before the command]
join() {
	local name=$1
	shift
	start_member "$name" -n "$name" join "$@"
	wait_for_line "$T/$name.err" "joined $1 " 5
}

# A free TCP port on 127.0.0.1 that nobody listens on.
free_port() {
	python3 -c "
import socket
s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); s.close()"
}

@test "rvgroup: the README flow: join, post from a pipe, events, members, say" {
	start_server
	join alice ops
	join bob ops
	wait_for_line "$T/alice.out" '^\* bob joined ops$' 5
	run bash -c "printf 'deploy done\n' | timeout $(secs 10) rvgroup -n ci post ops"
	assert_success
	assert_output ''
	wait_for_line "$T/alice.out" '^\[ops\] ci: deploy done$' 5
	wait_for_line "$T/bob.out" '^\[ops\] ci: deploy done$' 5

	run rvg members ops
	assert_success
	assert_output $'alice\nbob'

	run rvg -n alice say bob 'private hello'
	assert_success
	wait_for_line "$T/bob.out" '^\[@alice\] private hello$' 5

	# a line typed into a join goes to the group, not back to the sender
	to alice 'hi bob'
	wait_for_line "$T/bob.out" '^\[ops\] alice: hi bob$' 5

	close_input bob
	wait_exit "$PID_bob" 5
	assert_equal "$EXIT" 0
	wait_for_line "$T/alice.out" '^\* bob left ops$' 5
	run rvg members ops
	assert_output 'alice'

	# alice saw exactly this, in this order; never her own line nor bob's direct message
	run cat "$T/alice.out"
	assert_output $'* bob joined ops\n[ops] ci: deploy done\n* bob left ops'
	run cat "$T/bob.out"
	assert_output $'[ops] ci: deploy done\n[@alice] private hello\n[ops] alice: hi bob'
}

@test "rvgroup: --json prints one object per line with event, group, from, text, time" {
	start_server
	start_member alice -n alice --json join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	join bob ops
	run rvg -n ci post ops 'json "quoted" text'
	assert_success
	run rvg -n ci say alice 'direct'
	assert_success
	close_input bob
	count_lines "$T/alice.out" . 4 5
	run jq -e -c . "$T/alice.out"
	assert_success
	assert_equal "$(jq -s length "$T/alice.out")" 4
	run jq -r -c 'select(.event == "message") | [.group, .from, .text, (.time|type)] | @json' "$T/alice.out"
	assert_output '["ops","ci","json \"quoted\" text","number"]'
	run jq -r -c 'select(.event == "direct") | [.from, .text, has("group")] | @json' "$T/alice.out"
	assert_output '["ci","direct",false]'
	run jq -r -c 'select(.event == "joined" or .event == "left") | [.event, .group, .from] | @json' "$T/alice.out"
	assert_output $'["joined","ops","bob"]\n["left","ops","bob"]'
	# time is epoch milliseconds, close to now
	now=$(date +%s%3N)
	run jq -r 'select(.event == "message") | .time' "$T/alice.out"
	(( output > now - 60000 && output <= now + 1000 ))
	# members --json too
	run rvg --json members ops
	assert_success
	assert_output '{"id":"alice","online":true}'
}

@test "rvgroup: join several groups: '#group text' picks one, '@id text' is direct" {
	start_server
	join alice ops dev
	join bob dev
	join carol ops
	to alice '#dev to dev only' 'to the first group' '@carol just carol' '#nosuch stays in ops' \
		'@carol: not a valid id, so not sent anywhere'
	wait_for_line "$T/alice.err" "line 5 not sent: '@carol:' names no valid id" 5
	wait_for_line "$T/bob.out" '^\[dev\] alice: to dev only$' 5
	wait_for_line "$T/carol.out" '^\[ops\] alice: to the first group$' 5
	wait_for_line "$T/carol.out" '^\[@alice\] just carol$' 5
	wait_for_line "$T/carol.out" '^\[ops\] alice: #nosuch stays in ops$' 5
	run rvg -n ci post dev 'dev news'
	wait_for_line "$T/alice.out" '^\[dev\] ci: dev news$' 5
	run grep -c 'to dev only\|to the first\|just carol' "$T/carol.out" "$T/bob.out"
	assert_line "$T/carol.out:2"
	assert_line "$T/bob.out:1"
	run rvg groups
	assert_success
	assert_line ops
	assert_line dev
	assert_equal "${#lines[@]}" 2
	run rvg --json groups
	run jq -r 'select(.name == "ops") | .members' <<<"$output"
	assert_output 2
}

@test "rvgroup: say to an unknown id and post to an unknown group exit 4" {
	start_server
	run rvg -n alice say nobody 'hello?'
	assert_equal "$status" 4
	assert_output --partial 'no such client'
	run rvg -n alice post nogroup 'hello?'
	assert_equal "$status" 4
	assert_output --partial 'no such group'
	run bash -c "printf 'a\nb\n' | timeout $(secs 10) rvgroup -n alice post nogroup"
	assert_equal "$status" 4
	run rvg members nogroup
	assert_equal "$status" 4
}

@test "rvgroup: many stdin lines to an unknown group exit 4 without crashing" {
	start_server
	python3 -c "
import sys
for i in range(5000): sys.stdout.write('%05d %s\\n' % (i, 'x' * 1000))" >"$T/lines"
	run timeout "$(secs 10)" rvgroup -n alice post nogroup <"$T/lines"
	assert_equal "$status" 4
	assert_output --partial 'no such group'
	refute_output --partial 'Sanitizer'
}

@test "rvgroup: allowed senders: join --allow carol refuses alice (exit 4), accepts carol" {
	start_server
	start_member bob -n bob --allow carol join ops
	wait_for_line "$T/bob.err" 'joined ops' 5
	run rvg -n alice say bob 'let me in'
	assert_equal "$status" 4
	assert_output --partial 'not'
	run rvg -n carol say bob 'hi from carol'
	assert_success
	wait_for_line "$T/bob.out" '^\[@carol\] hi from carol$' 5
	# group posts skip the refusing member, they are not an error
	run rvg -n alice post ops 'group post from alice'
	assert_success
	run rvg -n carol post ops 'group post from carol'
	assert_success
	wait_for_line "$T/bob.out" '^\[ops\] carol: group post from carol$' 5
	run grep -c alice "$T/bob.out"
	assert_output 0
	run rvg -n bob allow list
	assert_output carol
}

@test "rvgroup: allow add, list, del, all, none change who may send" {
	start_server
	spawn bob rvgroup -n bob listen
	wait_for_line "$T/bob.err" 'connected to' 5
	run rvg -n bob allow list
	assert_success
	assert_output '*'
	run rvg -n bob allow add carol dave
	assert_success
	assert_output $'carol\ndave'
	run rvg -n bob allow list
	assert_output $'carol\ndave'
	run rvg -n alice say bob 'x'
	assert_equal "$status" 4
	run rvg -n dave say bob 'from dave'
	assert_success
	run rvg -n bob allow del dave
	assert_output carol
	run rvg -n dave say bob 'x'
	assert_equal "$status" 4
	run rvg -n bob --json allow list
	assert_output '{"all":false,"ids":["carol"]}'
	run rvg -n bob allow all
	assert_output '*'
	run rvg -n alice say bob 'from alice'
	assert_success
	run rvg -n bob allow none
	assert_success
	assert_output ''
	run rvg -n carol say bob 'x'
	assert_equal "$status" 4
	wait_for_line "$T/bob.out" '^\[@alice\] from alice$' 5
	run cat "$T/bob.out"
	assert_output $'[@dave] from dave\n[@alice] from alice'
}

@test "rvgroup: contacts add, list, del; a message with no target reaches them" {
	start_server
	spawn alice rvgroup -n alice listen
	spawn bob rvgroup -n bob listen
	wait_for_line "$T/alice.err" 'connected to' 5
	wait_for_line "$T/bob.err" 'connected to' 5
	run rvg -n alice contacts list
	assert_success
	assert_output ''
	run rvg -n alice contacts add bob
	assert_success
	assert_output bob
	run rvg -n alice contacts list
	assert_output bob
	run rvg -n alice --json contacts list
	assert_output '{"ids":["bob"]}'
	# a msg with no to and no group goes to the sender's contacts
	run rvclient --hello alice:send --expect welcome --body 'to my contacts' \
		--frame '{"type":"msg","seq":1}' --expect ok --quit --timeout 3
	assert_success
	assert_line --regexp '"re": 1.*"delivered": 1|"delivered": 1.*"re": 1'
	wait_for_line "$T/bob.out" '^\[@alice\] to my contacts$' 5
	run rvg -n alice contacts del bob
	assert_success
	assert_output ''
	run rvclient --hello alice:send --expect welcome --frame '{"type":"msg","seq":1}' --expect error --quit --timeout 3
	assert_line --partial '"code": "no-receivers"'
}

@test "rvgroup: bad allow and contacts operations are usage errors (exit 2)" {
	start_server
	run rvg -n bob allow bogus
	assert_equal "$status" 2
	assert_output --partial 'allow takes list, add, del, all or none'
	run rvg -n bob allow add
	assert_equal "$status" 2
	assert_output --partial 'need at least one ID'
	run rvg -n bob contacts bogus
	assert_equal "$status" 2
	run rvg -n bob contacts del
	assert_equal "$status" 2
}

@test "rvgroup: a second listen with the same id replaces the first (exit 5)" {
	start_server
	spawn first rvgroup -n alice listen
	wait_for_line "$T/first.err" 'connected to' 5
	spawn second rvgroup -n alice listen
	wait_for_line "$T/second.err" 'connected to' 5
	wait_exit "$PID_first" 5
	assert_equal "$EXIT" 5
	run cat "$T/first.err"
	assert_output --partial 'another connection logged in with this id'
	alive "$PID_second"
	run rvg -n bob say alice 'to the new one'
	assert_success
	wait_for_line "$T/second.out" '^\[@bob\] to the new one$' 5
	run cat "$T/first.out"
	assert_output ''
	[ "$(stat_of replaced)" -eq 1 ]
}

@test "rvgroup: EOF on the stdin of join exits 0 and the others see it leave" {
	start_server
	join alice ops
	join bob ops
	to alice 'last words'
	close_input alice
	wait_exit "$PID_alice" 5
	assert_equal "$EXIT" 0
	wait_for_line "$T/bob.out" '^\[ops\] alice: last words$' 5
	wait_for_line "$T/bob.out" '^\* alice left ops$' 5
	run rvg members ops
	assert_output bob
}

@test "rvgroup: --reconnect: after a server restart on the same port, lines typed meanwhile arrive" {
	start_server
	port=$SERVER_PORT
	start_member alice -n alice --reconnect join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	kill_hard "$SERVER_PID"
	wait_exit "$SERVER_PID" 3
	wait_for_line "$T/alice.err" 'reconnecting' 5
	to alice 'typed while down 1' 'typed while down 2'
	sleep 0.3
	# hold alice until a member is back, so the order is known
	kill -STOP "$(tool_pid "$PID_alice")"
	SERVER_NAME=server2 restart_server_on "$port"
	join bob ops
	kill -CONT "$(tool_pid "$PID_alice")"
	wait_for_line "$T/bob.out" '^\[ops\] alice: typed while down 1$' 10
	wait_for_line "$T/bob.out" '^\[ops\] alice: typed while down 2$' 5
	# alice says how many members each resent line reached
	wait_for_line "$T/alice.err" 'a line sent after reconnecting reached 1 member of group ops: "typed while down 2"$' 5
	run grep -c 'reached 1 member of group ops' "$T/alice.err"
	assert_output 2
	# alice rejoined ops: she receives again
	wait_for_line "$T/bob.out" '^\* alice joined ops$' 5
	to bob 'welcome back'
	wait_for_line "$T/alice.out" '^\[ops\] bob: welcome back$' 5
	alive "$PID_alice"
	run rvg members ops
	assert_output $'bob\nalice'
	# end of input after the reconnect ends join as it does without one
	close_input alice
	wait_exit "$PID_alice" 5
	assert_equal "$EXIT" 0
	wait_for_line "$T/bob.out" '^\* alice left ops$' 5
}

@test "rvgroup: --reconnect: a line resent before anyone else is back is reported as reaching nobody" {
	start_server
	port=$SERVER_PORT
	start_member alice -n alice --reconnect join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	kill_hard "$SERVER_PID"
	wait_exit "$SERVER_PID" 3
	wait_for_line "$T/alice.err" 'reconnecting' 5
	to alice 'into the void'
	SERVER_NAME=server2 restart_server_on "$port"
	wait_for_line "$T/alice.err" 'warning: a line sent after reconnecting reached nobody \(no other member was in group ops yet\): "into the void"$' 15
	alive "$PID_alice"
	# lines typed once connected are not resent, and not reported
	join bob ops
	to alice 'hello again'
	wait_for_line "$T/bob.out" '^\[ops\] alice: hello again$' 5
	run grep -c 'after reconnecting' "$T/alice.err"
	assert_output 1
}

@test "rvgroup: --reconnect: end of input while the server is down ends join at once, or after sending what waits" {
	start_server
	port=$SERVER_PORT
	start_member alice -n alice --reconnect join ops
	start_member carol -n carol --reconnect join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	wait_for_line "$T/carol.err" 'joined ops' 5
	kill_hard "$SERVER_PID"
	wait_exit "$SERVER_PID" 3
	wait_for_line "$T/alice.err" 'reconnecting' 5
	wait_for_line "$T/carol.err" 'reconnecting' 5
	# nothing left to send: exit 0 now, as without --reconnect
	close_input alice
	wait_exit "$PID_alice" 5
	assert_equal "$EXIT" 0
	run grep -c -- 'end of input while disconnected: nothing left to send' "$T/alice.err"
	assert_output 1
	# a line waits: carol reconnects to send it, then leaves and exits 0
	to carol 'sent on the way out'
	close_input carol
	wait_for_line "$T/carol.err" 'end of input: 1 line still to send; reconnecting to send it' 5
	alive "$PID_carol"
	kill -STOP "$(tool_pid "$PID_carol")"
	SERVER_NAME=server2 restart_server_on "$port"
	join bob ops
	kill -CONT "$(tool_pid "$PID_carol")"
	wait_exit "$PID_carol" 15
	assert_equal "$EXIT" 0
	wait_for_line "$T/bob.out" '^\[ops\] carol: sent on the way out$' 5
	wait_for_line "$T/bob.out" '^\* carol left ops$' 5
}

@test "rvgroup: a member the server drops as a slow consumer exits 7 (connection lost)" {
	start_server --max-queue 64K --slow-timeout 1
	start_member slow -n slow join ops
	wait_for_line "$T/slow.err" 'joined ops' 5
	kill -STOP "$(tool_pid "$PID_slow")"
	python3 -c "
import sys
for i in range(20000): sys.stdout.write('%05d %s\\n' % (i, 'x' * 1000))" >"$T/flood.txt"
	# the group goes with slow, so the flood may end with 'no such group'
	run timeout "$(secs 30)" rvgroup -n flood post ops <"$T/flood.txt"
	kill -CONT "$(tool_pid "$PID_slow")"
	wait_exit "$PID_slow" 10
	assert_equal "$EXIT" 7
	run grep -c -- 'dropped by the server as a slow consumer' "$T/slow.err"
	assert_output 1
}

@test "rvgroup: without --reconnect a lost server exits 7" {
	start_server
	join alice ops
	kill_hard "$SERVER_PID"
	wait_exit "$PID_alice" 5
	assert_equal "$EXIT" 7
}

@test "rvgroup: --count N exits 0 after N messages" {
	start_server
	spawn alice rvgroup -n alice --count 2 listen
	wait_for_line "$T/alice.err" 'connected to' 5
	run bash -c "printf 'one\ntwo\nthree\n' | timeout $(secs 10) rvgroup -n ci say alice"
	wait_exit "$PID_alice" 5
	assert_equal "$EXIT" 0
	run cat "$T/alice.out"
	assert_output $'[@ci] one\n[@ci] two'
	# in join, events do not count
	start_member bob -n bob -c 1 join ops
	wait_for_line "$T/bob.err" 'joined ops' 5
	join carol ops
	alive "$PID_bob"
	to carol 'the one'
	wait_exit "$PID_bob" 5
	assert_equal "$EXIT" 0
	run cat "$T/bob.out"
	assert_output $'* carol joined ops\n[ops] carol: the one'
}

@test "rvgroup: 1000 lines piped into post all arrive, in order" {
	start_server
	join bob ops
	run bash -c "seq 1 1000 | timeout $(secs 20) rvgroup -n ci post ops"
	assert_success
	count_lines "$T/bob.out" '^\[ops\] ci: ' 1000 10
	run diff <(sed -n 's/^\[ops\] ci: //p' "$T/bob.out") <(seq 1 1000)
	assert_success
	[ "$(stat_of deliveries)" -eq 1000 ]
}

@test "rvgroup: a stdin line is one message up to 1 MiB; a longer one is refused alone" {
	start_server
	join alice ops
	join bob ops
	long=$(head -c 300000 /dev/zero | tr '\0' a)
	huge=$(head -c 2000000 /dev/zero | tr '\0' b)
	to alice "$long" "$huge" 'after the huge one'
	wait_for_line "$T/bob.out" '^\[ops\] alice: after the huge one$' 10
	# the long line came whole, the huge one not at all (not in 64 KiB pieces)
	run awk '{ print length($0) }' "$T/bob.out"
	assert_output $'300013\n31'
	run grep -c 'line 2 of standard input not sent: 2000000 bytes, more than the 1048576 bytes of one message' "$T/alice.err"
	assert_output 1
	alive "$PID_alice"
	to alice 'still here'
	wait_for_line "$T/bob.out" '^\[ops\] alice: still here$' 5
	# post: exactly 1 MiB goes, one byte more is refused, the next line still goes; exit 1
	run bash -c "python3 -c \"print('c' * 1048576); print('d' * 1048577); print('tail')\" |
		timeout $(secs 10) rvgroup -n ci post ops"
	assert_equal "$status" 1
	assert_output --partial 'line 2 of standard input not sent: 1048577 bytes'
	wait_for_line "$T/bob.out" '^\[ops\] ci: tail$' 5
	run bash -c "sed -n '/ci: /p' '$T/bob.out' | awk '{ print length(\$0) }'"
	assert_output $'1048586\n14'
	# TEXT arguments too (each at most 128 KiB on Linux, 9 of them more than 1 MiB)
	part=$(head -c 120000 /dev/zero | tr '\0' e)
	run rvg -n ci post ops "$part" "$part" "$part" "$part" "$part" "$part" "$part" "$part" "$part"
	assert_equal "$status" 2
	assert_output --partial 'TEXT is 1080008 bytes, more than the 1048576 bytes of one message'
}

@test "rvgroup: a line from a file without a final newline is sent; CRLF is trimmed" {
	start_server
	join bob ops
	printf 'first\r\nno newline' >"$T/in.txt"
	run timeout "$(secs 10)" rvgroup -n ci post ops <"$T/in.txt"
	assert_success
	wait_for_line "$T/bob.out" '^\[ops\] ci: no newline$' 5
	run cat "$T/bob.out"
	assert_output $'[ops] ci: first\n[ops] ci: no newline'
}

@test "rvgroup: cannot connect exits 3; a silent server times out (exit 6)" {
	port=$(free_port)
	RV_SERVER=127.0.0.1:$port run rvg -n alice groups
	assert_equal "$status" 3
	assert_output --partial 'cannot connect'
	run rvg -s "127.0.0.1:$port" -n alice join ops
	assert_equal "$status" 3
	# something that accepts and never answers
	spawn mute python3 -c "
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1',0)); s.listen(5); print(s.getsockname()[1], flush=True)
c=[]
while True: c.append(s.accept())"
	wait_for_line "$T/mute.out" '^[0-9]+$' 5
	mport=$(cat "$T/mute.out")
	start=$(date +%s)
	run rvg -s "127.0.0.1:$mport" --connect-timeout 1 -n alice groups
	assert_equal "$status" 6
	(( $(date +%s) - start <= 3 * RV_SLOW ))
}

@test "rvgroup: usage errors exit 2" {
	run rvgroup
	assert_equal "$status" 2
	assert_output --partial 'missing command'
	run rvgroup frobnicate
	assert_equal "$status" 2
	assert_output --partial "unknown command 'frobnicate'"
	run rvgroup --bogus groups
	assert_equal "$status" 2
	run rvgroup join
	assert_equal "$status" 2
	run rvgroup members
	assert_equal "$status" 2
	run rvgroup members a b
	assert_equal "$status" 2
	run rvgroup listen extra
	assert_equal "$status" 2
	run rvgroup join 'bad group!'
	assert_equal "$status" 2
	assert_output --partial 'not a valid name'
	run rvgroup -c 0 listen
	assert_equal "$status" 2
	run rvgroup -s 'host:notaport' groups
	assert_equal "$status" 2
	run rvgroup --connect-timeout -1 groups
	assert_equal "$status" 2
	run rvgroup --token-file /nonexistent/token groups
	assert_equal "$status" 2
	run rvgroup -n '' groups
	assert_equal "$status" 2
}

@test "rvgroup: every id and group name is checked before connecting (exit 2)" {
	# nothing listens there: a check made after connecting would exit 3
	export RV_SERVER=127.0.0.1:$(free_port)
	long=$(printf 'a%.0s' {1..65})
	run rvgroup -n 'bad id' say bob x
	assert_equal "$status" 2
	assert_line --index 0 "rvgroup: --id 'bad id' is not a valid name: it has a character other than A-Z a-z 0-9 . _ @ -"
	run rvgroup -n "$long" say bob x
	assert_equal "$status" 2
	assert_line --index 0 "rvgroup: --id '$long' is not a valid name: it is 65 characters, at most 64"
	RV_ID='bad id' run rvgroup groups
	assert_equal "$status" 2
	assert_output --partial "RV_ID 'bad id' is not a valid name"
	RV_ID=$long run rvgroup groups
	assert_equal "$status" 2
	run rvgroup -n alice say 'bad id' x
	assert_equal "$status" 2
	assert_output --partial "ID 'bad id' is not a valid name"
	run rvgroup -n alice join ops 'dev!'
	assert_equal "$status" 2
	assert_output --partial "group 'dev!' is not a valid name"
	run rvgroup -n alice post "$long" x
	assert_equal "$status" 2
	run rvgroup -n alice contacts add bob 'bad id'
	assert_equal "$status" 2
	assert_output --partial "ID 'bad id' is not a valid name"
	run rvgroup -n alice --allow 'bob,bad id' listen
	assert_equal "$status" 2
	assert_output --partial "--allow: ID 'bad id' is not a valid name"
	# and a valid one goes on to connect (exit 3 here)
	run rvgroup -n alice.b_c-d@e say bob x
	assert_equal "$status" 3
}

@test "rvgroup: -h prints help and exits 0; -V prints the version" {
	run rvgroup -h
	assert_success
	assert_line --index 0 'Usage: rvgroup [OPTION...] COMMAND [ARG...]'
	assert_output --partial 'join GROUP...'
	assert_output --partial '--reconnect'
	assert_output --partial 'Exit status: 0 ok'
	run rvgroup --help
	assert_success
	run rvgroup -V
	assert_success
	assert_output --regexp '^rvgroup [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "rvgroup: -s takes an IPv4 or IPv6 literal (connected at once, no resolver); a name goes through the resolver, and one that does not resolve exits 3" {
	start_server
	run rvgroup -s "127.0.0.1:$SERVER_PORT" groups
	assert_success
	spawn v6 rvserver -l ::1 --port 0 --port-file "$T/v6.port"
	wait_for_line "$T/v6.err" 'rvserver: ready on ::1 port [0-9]+' 5 || skip "no IPv6 loopback here"
	run rvgroup -s "[::1]:$(sed -n 1p "$T/v6.port")" groups
	assert_success
	run rvgroup -s "nonexistent.invalid:$SERVER_PORT" groups
	assert_failure 3
	assert_output --partial 'cannot connect to nonexistent.invalid'
}
