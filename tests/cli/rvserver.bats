#!/usr/bin/env bats
# rvserver as users run it: real processes on 127.0.0.1, every wait bounded.

load helpers

# A member of GROUP named NAME that prints what it receives to $T/NAME.out.
member() {
	local name=$1
	shift
	start_member "$name" -n "$name" join "$@"
	wait_for_line "$T/$name.err" "joined $1 " 5
}

# The group still works: a post reaches NAME.
still_works() {
	local name=$1 group=$2 text=$3
	run rvg -n ci post "$group" "$text"
	assert_success
	wait_for_line "$T/$name.out" "^\[$group\] ci: $text\$" 5
}

@test "rvserver: ready line on stderr, port file holds the TCP then the UDP port" {
	start_server
	run cat "$T/server.port"
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_regex "${lines[0]}" '^[0-9]+$'
	assert_regex "${lines[1]}" '^[0-9]+$'
	(( lines[0] > 0 && lines[1] > 0 ))
	# the ready line names the bound ports, not 0
	run grep -E "^rvserver: ready on 127\.0\.0\.1 port ${lines[0]} \(tcp, udp ${lines[1]}\)" "$SERVER_ERR"
	assert_success
	# nothing on stdout: stdout carries data only
	[ ! -s "$T/server.out" ]
	# the port really answers
	run timeout 5 curl -sf "http://127.0.0.1:${SERVER_PORT}/healthz"
	assert_success
	assert_output "ok"
}

@test "rvserver: --udp-port is bound and written to the port file" {
	start_server --udp-port 0
	assert_regex "$SERVER_UDP_PORT" '^[0-9]+$'
	(( SERVER_UDP_PORT > 0 ))
	# the UDP port is really bound by the server
	run timeout 5 python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
try:
    s.bind(('127.0.0.1',$SERVER_UDP_PORT)); sys.exit(1)
except OSError: sys.exit(0)"
	assert_success
}

@test "rvserver: --port 0 whose number is taken for UDP: the kernel picks the UDP port too" {
	unshare --net true 2>/dev/null || skip "needs unshare --net (root)"
	# in a namespace of its own, ports 0 come from 40000-40001; a TCP listener holds 40001
	# (so rvserver's TCP gets 40000) and a UDP socket 40000 (so UDP can only have 40001)
	cat >"$T/ns.sh" <<'EOF2'
		set -e
		ip link set lo up
		echo "40000 40001" >/proc/sys/net/ipv4/ip_local_port_range
		python3 -c "
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('127.0.0.1', 40000))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind(('127.0.0.1', 40001))
t.listen()
time.sleep(30)" &
		holder=$!
		for ((i = 0; i < 100; i++)); do
			ss -Hltn 'sport = :40001' | grep -q . && break
			sleep 0.05
		done
		timeout 5 rvserver -l 127.0.0.1 --port 0 --port-file "$T/ns.port" 2>"$T/ns.err" &
		srv=$!
		for ((i = 0; i < 50; i++)); do
			[ -s "$T/ns.port" ] && [ "$(wc -l <"$T/ns.port")" -ge 2 ] && break
			sleep 0.1
		done
		kill "$srv" "$holder"
		wait "$srv" || true
EOF2
	T=$T PATH=$PATH run timeout "$(secs 20)" unshare --net bash "$T/ns.sh"
	assert_success
	[ -s "$T/ns.port" ] || fail "no port file: $output $(cat "$T/ns.err" 2>&1)"
	run cat "$T/ns.port"
	assert_line --index 0 40000
	local udp
	udp=$(sed -n 2p "$T/ns.port")
	[ "$udp" = 40001 ]
	grep -q "ready on 127.0.0.1 port 40000 (tcp, udp $udp)" "$T/ns.err"
}

@test "rvserver: /healthz, /stats and /metrics over HTTP" {
	start_server
	member alice ops
	run rvg -n ci post ops 'hello'
	assert_success
	wait_for_line "$T/alice.out" '^\[ops\] ci: hello$' 5

	run timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://$RV_SERVER/healthz"
	assert_output 200
	run timeout 5 curl -sf "http://$RV_SERVER/healthz"
	assert_output ok

	run stats
	assert_success
	echo "$output" | jq -e 'type == "object"'
	echo "$output" | jq -e '(.connections|type) == "number" and (.groups|type) == "number" and (.deliveries|type) == "number"'
	# alice's recv connection is open; one group; one delivery
	echo "$output" | jq -e '.connections >= 1 and .groups == 1 and .deliveries == 1'

	run timeout 5 curl -sf "http://$RV_SERVER/metrics"
	assert_success
	assert_line --regexp '^rvserver_connections [0-9]+$'
	assert_line --regexp '^rvserver_deliveries_total 1$'
	assert_line --regexp '^rvserver_slow_consumer_drops_total 0$'
	assert_line '# TYPE rvserver_deliveries_total counter'
	assert_line '# TYPE rvserver_connections gauge'

	run timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://$RV_SERVER/nope"
	assert_output 404
	run timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://$RV_SERVER/rv"
	assert_output 426
}

@test "rvserver: /stats and /metrics hold the same numbers, from one table" {
	start_server
	member alice ops
	run rvg -n ci post ops 'hello'
	assert_success
	wait_for_line "$T/alice.out" '^\[ops\] ci: hello$' 5
	local s m
	s=$(stats)
	m=$(timeout 5 curl -sf "http://$RV_SERVER/metrics")
	same_numbers rvserver "$s" "$m"
	# before the table, these were only in /stats
	for name in media_rtcp_in_total media_test_drops_total media_udp_bindings_total media_bad_bindings_total \
		port udp_port uptime_seconds; do
		grep -qE "^rvserver_$name [0-9.]+$" <<<"$m" || fail "no rvserver_$name"
	done
	grep -qx "rvserver_port $SERVER_PORT" <<<"$m"
	grep -qx "rvserver_deliveries_total 1" <<<"$m"
	# and http_requests only in /metrics
	jq -e --argjson p "$SERVER_PORT" '(.http_requests | type) == "number" and .deliveries == 1 and .port == $p
		and (.media.streams | type) == "array"' <<<"$s"
}

# code METHOD PATH [CURL-ARG...]: the status of one request.
code() {
	local m=$1 path=$2
	shift 2
	timeout 5 curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "http://$RV_SERVER$path"
}

@test "rvserver: HTTP: wrong method 405 with Allow (body or not), unknown path 404, big headers only 431" {
	start_server
	local p m
	for p in /healthz /metrics /stats "/healthz?probe=1"; do
		assert_equal "$(code GET "$p")" 200
		assert_equal "$(code HEAD "$p" -I)" 200
		for m in POST PUT DELETE PATCH OPTIONS; do
			assert_equal "$(code "$m" "$p")" 405
			assert_equal "$(code "$m" "$p" --data-binary 'a body')" 405
		done
	done
	# POST with a body, as a load balancer's misconfigured probe sends it
	run timeout 5 curl -s -i -d 'x=1' "http://$RV_SERVER/healthz"
	assert_line --partial 'HTTP/1.1 405 Method Not Allowed'
	assert_line --regexp '^Allow: GET, HEAD'
	# a large body changes nothing: the answer comes from the head
	head -c 200000 /dev/zero >"$T/body"
	assert_equal "$(code POST /metrics --data-binary @"$T/body")" 405
	assert_equal "$(code PUT /stats -H 'Transfer-Encoding: chunked' --data-binary @"$T/body")" 405
	# /rv is GET only: 426 without the upgrade, 405 (Allow: GET) for the rest
	assert_equal "$(code GET /rv)" 426
	run timeout 5 curl -s -i -X POST -d x "http://$RV_SERVER/rv"
	assert_line --partial '405'
	assert_line --regexp '^Allow: GET.$'
	assert_equal "$(code HEAD /rv -I)" 405
	# unknown paths are 404 whatever the method
	for m in GET POST DELETE; do
		assert_equal "$(code "$m" /nope)" 404
	done
	assert_equal "$(code HEAD /nope -I)" 404
	assert_equal "$(code POST /nope -d x)" 404
	# HEAD gets the head only
	run timeout 5 curl -s -I "http://$RV_SERVER/healthz"
	assert_line --regexp '^Content-Length: 3'
	# a GET with a body: 413, not served
	assert_equal "$(code GET /stats -d x)" 413
	# only headers past the cap are 431
	local fill
	fill=$(head -c 9000 /dev/zero | tr '\0' a)
	assert_equal "$(code GET /healthz -H "X-Fill: $fill")" 431
	assert_equal "$(code POST /healthz -d x -H "X-Fill: $fill")" 431
	# a malformed request line is 400
	run timeout 5 python3 -c "
import socket
s=socket.create_connection(('127.0.0.1',$SERVER_PORT)); s.settimeout(4)
s.sendall(b'GET /healthz HTTP/9x\r\n\r\n'); print(s.recv(100).split(b'\r\n')[0].decode())"
	assert_output --partial ' 400 '
	run timeout 5 curl -sf "http://$RV_SERVER/metrics"
	assert_line --regexp '^rvserver_http_requests_total [0-9]{2,}$'
}

@test "rvserver: unknown protocol bytes close only that connection" {
	start_server
	member alice ops
	run rvclient --raw 00ff00ff0102030405 --timeout 3
	assert_success
	assert_line '{"_closed": true}'
	refute_output --partial '"type"'
	# lowercase text is not an HTTP method either
	run rvclient --raw "$(printf 'hello world\r\n' | od -An -tx1 | tr -d ' \n')" --timeout 3
	assert_line '{"_closed": true}'
	# alice still connected and receiving
	alive "$PID_alice"
	still_works alice ops 'after garbage'
	[ "$(stat_of bad_input)" -ge 2 ]
}

@test "rvserver: a header over 16384 bytes gets an error and a close; others unaffected" {
	start_server
	member alice ops
	run rvclient --hello big:send --expect welcome --header-len 16385 --timeout 3
	assert_success
	assert_line --partial '"type": "welcome"'
	assert_line --regexp '"type": "error".*"code": "too-large"|"code": "too-large".*"type": "error"'
	assert_line '{"_closed": true}'
	# before hello too
	run rvclient --header-len 100000 --timeout 3
	assert_line --partial '"code": "too-large"'
	assert_line '{"_closed": true}'
	alive "$PID_alice"
	still_works alice ops 'still here'
}

@test "rvserver: a body over --max-frame gets too-large and a close" {
	start_server --max-frame 2K
	member alice ops
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	run rvclient --hello big:send --expect welcome --body "$big" --frame '{"type":"msg","seq":1,"group":"ops"}' --timeout 3
	assert_line --partial '"code": "too-large"'
	assert_line '{"_closed": true}'
	refute_line --partial '"type": "ok"'
	still_works alice ops 'small is fine'
	run grep -c 'xxxx' "$T/alice.out"
	assert_output 0
}

@test "rvserver: a malformed JSON header gets bad-frame and a close" {
	start_server
	member alice ops
	# not JSON at all: 8-byte prefix says 5 bytes of header
	run rvclient --hello x:send --expect welcome --raw "0000000500000000$(printf '{nope' | od -An -tx1 | tr -d ' \n')" --timeout 3
	assert_line --partial '"code": "bad-frame"'
	assert_line '{"_closed": true}'
	# JSON, but no type
	run rvclient --hello y:send --expect welcome --frame '{"seq":1,"group":"ops"}' --timeout 3
	assert_line --partial '"code": "bad-frame"'
	assert_line '{"_closed": true}'
	# a JSON array is not an object
	run rvclient --frame '[1,2,3]' --timeout 3
	assert_line --partial '"code": "bad-frame"'
	assert_line '{"_closed": true}'
	# first frame not a hello
	run rvclient --frame '{"type":"join","seq":1,"group":"ops"}' --timeout 3
	assert_line --partial '"code": "bad-request"'
	assert_line '{"_closed": true}'
	still_works alice ops 'unaffected'
}

@test "rvserver: no hello within --handshake-timeout 1 closes the connection" {
	start_server --handshake-timeout 1
	start=$(date +%s%N)
	run rvclient --timeout 6
	end=$(date +%s%N)
	assert_success
	assert_line --partial '"code": "timeout"'
	assert_line '{"_closed": true}'
	refute_line '{"_timeout": true}'
	# closed by the server after about a second (sweeps run once a second), not by our timeout
	(( (end - start) / 1000000 < 4500 * RV_SLOW ))
	# an HTTP client that never finishes its request is closed too
	run timeout "$(secs 8)" python3 -c "
import socket,time,sys
s=socket.create_connection(('127.0.0.1',$SERVER_PORT)); s.settimeout(6)
s.sendall(b'GET /healthz HTTP/1.1\r\n')
t=time.time(); d=s.recv(100)
sys.exit(0 if d==b'' and time.time()-t<5 else 1)"
	assert_success
	# and the server still accepts clients
	run rvg -n alice groups
	assert_success
}

@test "rvserver: --max-clients refuses connections over the limit" {
	start_server --max-clients 2
	spawn l1 rvgroup -n one listen
	spawn l2 rvgroup -n two listen
	wait_for_line "$T/l1.err" 'connected to' 5
	wait_for_line "$T/l2.err" 'connected to' 5
	run rvg -n three groups
	assert_failure
	[ "$status" -ne 2 ]
	run grep -c 'refusing a connection: --max-clients 2 reached' "$SERVER_ERR"
	assert_output 1
	alive "$PID_l1"
	alive "$PID_l2"
	# the limit is refused cleanly: once one leaves, a new client gets in
	stop_pid "$PID_l2"
	sleep 0.3
	run rvg -n three groups
	assert_success
}

@test "rvserver: --max-clients tells the refused client why (exit 4)" {
	start_server --max-clients 1
	spawn l1 rvgroup -n one listen
	wait_for_line "$T/l1.err" 'connected to' 5
	run rvg -n two groups
	assert_equal "$status" 4
	assert_output --regexp 'limit|max-clients|too many'
}

@test "rvserver: --max-clients 1 with one client: /healthz, /metrics, /stats still 200; an RV client is still refused" {
	start_server --max-clients 1
	spawn l1 rvgroup -n one listen
	wait_for_line "$T/l1.err" 'connected to' 5
	local i
	for i in 1 2 3; do
		run timeout 5 curl -s -w ' %{http_code}' "http://$RV_SERVER/healthz"
		assert_output 'ok
 200'
		run timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://$RV_SERVER/metrics"
		assert_output 200
	done
	run timeout 5 curl -sf "http://$RV_SERVER/metrics"
	assert_line 'rvserver_refused_total 0'
	# a second RV client is refused as documented, and probes go on answering
	run rvg -n two groups
	assert_equal "$status" 4
	assert_output --partial 'the server is full (--max-clients)'
	run stats
	assert_success
	echo "$output" | jq -e '.refused == 1'
	# a WebSocket client counts as a client too
	run timeout "$(secs 5)" python3 - "$SERVER_PORT" "$BATS_TEST_DIRNAME" <<'EOF'
import sys, json, struct, time
sys.path.insert(0, sys.argv[2])
import wsclient
ws = wsclient.WS(int(sys.argv[1]), "/rv", 5)
ws.send(wsclient.rv_frame({"type": "hello", "id": "web", "role": "send", "version": 1}))
deadline = time.monotonic() + 5
while True:
    op, p = ws.recv(deadline)
    hl = struct.unpack(">I", p[:4])[0]
    h = json.loads(p[8:8 + hl])
    print(json.dumps(h))
    if h.get("type") == "bye": break
EOF
	assert_output --partial '"code": "limit"'
	alive "$PID_l1"
	run timeout 5 curl -sf "http://$RV_SERVER/healthz"
	assert_output ok
}

@test "rvserver: --max-clients N: at most N + 16 connections are open; past that they are closed at once" {
	start_server --max-clients 1
	spawn l1 rvgroup -n one listen
	wait_for_line "$T/l1.err" 'connected to' 5
	# 16 connections that say nothing hold the extra slots until released
	mkfifo "$T/release.fifo"
	spawn hold python3 -c "
import socket
socks = [socket.create_connection(('127.0.0.1', $SERVER_PORT)) for _ in range(16)]
print('held', flush=True)
open('$T/release.fifo').read()"
	local rel
	exec {rel}>"$T/release.fifo"
	wait_for_line "$T/hold.out" '^held$' 5
	# the 18th connection: closed without an answer
	run timeout 5 curl -s "http://$RV_SERVER/healthz"
	refute_output ok
	[ "$status" -ne 0 ]
	exec {rel}>&-
	wait_exit "$PID_hold" 5
	# the held ones are gone: probes answer again, the client never noticed
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(timeout 5 curl -s "http://$RV_SERVER/healthz")" = ok ] && break
		sleep 0.1
	done
	run timeout 5 curl -s "http://$RV_SERVER/healthz"
	assert_output ok
	alive "$PID_l1"
	[ "$(stat_of refused)" -ge 1 ]
}

@test "rvserver: --max-groups: join of one group too many exits 4 with a message" {
	start_server --max-groups 1
	member alice ops
	# stdin stays open: the join itself must fail
	start_member bob -n bob join dev
	wait_exit "$PID_bob" 5
	assert_equal "$EXIT" 4
	run cat "$T/bob.err"
	assert_output --partial 'too many groups'
	close_input bob
	# joining the existing group is fine
	start_member bob2 -n bob join ops
	wait_for_line "$T/bob2.err" 'joined ops \(2 members' 5
}

@test "rvserver: --max-group-members: a full group refuses the next member (exit 4)" {
	start_server --max-group-members 2
	member alice ops
	member bob ops
	start_member carol -n carol join ops
	wait_exit "$PID_carol" 5
	assert_equal "$EXIT" 4
	run cat "$T/carol.err"
	assert_output --partial 'the group is full'
	run rvg members ops
	assert_success
	assert_output $'alice\nbob'
}

@test "rvserver: SIGTERM tells connected clients (exit 7) and exits 0 quickly" {
	start_server
	member alice ops
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 3
	assert_equal "$EXIT" 0
	wait_exit "$PID_alice" 3
	assert_equal "$EXIT" 7
	run cat "$T/alice.err"
	assert_output --partial 'shutting down'
	run cat "$SERVER_ERR"
	assert_output --partial 'shutting down (terminated)'
}

@test "rvserver: SIGTERM with no clients exits 0 at once" {
	start_server
	start=$(date +%s%N)
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 2
	assert_equal "$EXIT" 0
	(( ($(date +%s%N) - start) / 1000000 < 1500 * RV_SLOW ))
}

make_cert() {
	timeout 20 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/key.pem" -out "$T/cert.pem" -days 1 -subj '/CN=127.0.0.1' \
		-addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' 2>/dev/null
}

@test "rvserver: TLS with --tls-cert/--tls-key: --ca works, no --ca exits 3, --insecure works" {
	make_cert
	start_server --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
	run grep -E 'ready on .*\(tcp\+tls' "$SERVER_ERR"
	assert_success
	start_member alice -n alice --tls --ca "$T/cert.pem" join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	run rvg -n ci --tls --ca "$T/cert.pem" post ops 'over tls'
	assert_success
	wait_for_line "$T/alice.out" '^\[ops\] ci: over tls$' 5
	# not trusted without --ca
	run rvg -n ci --tls post ops 'unverified'
	assert_equal "$status" 3
	assert_output --regexp 'certificate|verify'
	run rvg -n ci --insecure post ops 'insecure'
	assert_success
	wait_for_line "$T/alice.out" '^\[ops\] ci: insecure$' 5
	run grep -c unverified "$T/alice.out"
	assert_output 0
	# another CA's certificate is not trusted either
	mkdir other && (cd other && T=$PWD make_cert)
	run rvg -n ci --ca other/cert.pem post ops 'wrong ca'
	assert_equal "$status" 3
}

@test "rvserver: plain and TLS on the same port; HTTP /healthz over TLS" {
	make_cert
	start_server --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
	start_member alice -n alice --tls --ca "$T/cert.pem" join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	start_member bob -n bob join ops
	wait_for_line "$T/bob.err" 'joined ops' 5
	run rvg -n ci post ops 'plain post'
	assert_success
	wait_for_line "$T/alice.out" '^\[ops\] ci: plain post$' 5
	wait_for_line "$T/bob.out" '^\[ops\] ci: plain post$' 5
	to alice 'from tls'
	wait_for_line "$T/bob.out" '^\[ops\] alice: from tls$' 5
	run timeout 5 curl -sf --cacert "$T/cert.pem" "https://127.0.0.1:$SERVER_PORT/healthz"
	assert_success
	assert_output ok
	run timeout 5 curl -sf --cacert "$T/cert.pem" "https://localhost:$SERVER_PORT/stats"
	assert_success
	echo "$output" | jq -e '.tls == true'
	run timeout 5 curl -sf "http://127.0.0.1:$SERVER_PORT/healthz"
	assert_output ok
	# curl without the CA refuses the self-signed certificate
	run timeout 5 curl -sf "https://127.0.0.1:$SERVER_PORT/healthz"
	assert_failure
}

@test "rvserver: a TLS ClientHello without --tls-cert closes only that connection" {
	start_server
	member alice ops
	run timeout 5 curl -s --cacert /dev/null "https://127.0.0.1:$SERVER_PORT/healthz"
	assert_failure
	still_works alice ops 'plain still fine'
}

# A token as the spec defines it: v1.EXPIRY.base64url(HMAC-SHA256(secret, "ID.EXPIRY")).
py_token() {
	python3 -c "
import hmac,hashlib,base64,sys
sec=open(sys.argv[1],'rb').read().rstrip(b'\r\n'); i=sys.argv[2]; e=sys.argv[3]
sig=base64.urlsafe_b64encode(hmac.new(sec,(i+'.'+e).encode(),hashlib.sha256).digest()).rstrip(b'=').decode()
print('v1.'+e+'.'+sig)" "$@"
}

@test "rvserver: auth with --auth-secret-file: tokens from 'rvserver token' via RV_TOKEN and --token-file" {
	printf 'correct horse battery staple\n' >"$T/secret"
	start_server --auth-secret-file "$T/secret"
	run grep 'tokens required' "$SERVER_ERR"
	assert_success

	run rvserver token alice --auth-secret-file "$T/secret"
	assert_success
	assert_regex "$output" '^v1\.[0-9]+\.[A-Za-z0-9_-]+$'
	tok=$output
	# the default validity is a day
	exp=$(echo "$tok" | cut -d. -f2)
	(( exp > $(date +%s) + 86000 && exp <= $(date +%s) + 86400 ))
	# and it matches the spec's definition
	assert_equal "$tok" "$(py_token "$T/secret" alice "$exp")"

	RV_TOKEN=$tok run rvg -n alice groups
	assert_success
	printf '%s\n' "$tok" >"$T/alice.token"
	run rvg -n alice --token-file "$T/alice.token" groups
	assert_success
	# a token in a join: the chat works
	RV_TOKEN=$tok start_member alice -n alice join ops
	wait_for_line "$T/alice.err" 'joined ops' 5
	bobtok=$(RV_AUTH_SECRET="correct horse battery staple" rvserver token bob)
	RV_TOKEN=$bobtok run rvg -n bob post ops 'authenticated'
	assert_success
	wait_for_line "$T/alice.out" '^\[ops\] bob: authenticated$' 5
}

@test "rvserver: auth: missing, wrong, other id's and expired tokens exit 4 with a message" {
	printf 's3cret\n' >"$T/secret"
	start_server --auth-secret-file "$T/secret"
	run rvg -n alice groups
	assert_equal "$status" 4
	assert_output --partial 'token required'
	refute_output --partial 'malformed'
	run timeout "$(secs 10)" rvsend -n alice -t bob cmd hi
	assert_equal "$status" 4
	assert_output --partial 'token required'
	# an empty token file is no token either
	: >"$T/empty.token"
	run rvg -n alice --token-file "$T/empty.token" groups
	assert_equal "$status" 4
	assert_output --partial 'token required'
	RV_TOKEN=not-a-token run rvg -n alice groups
	assert_equal "$status" 4
	assert_output --partial 'malformed token'

	tok=$(rvserver token alice --auth-secret-file "$T/secret")
	RV_TOKEN=$tok run rvg -n mallory groups
	assert_equal "$status" 4
	assert_output --partial 'bad token signature'

	printf 'other\n' >"$T/other"
	RV_TOKEN=$(rvserver token alice --auth-secret-file "$T/other") run rvg -n alice groups
	assert_equal "$status" 4
	assert_output --partial 'bad token signature'

	old=$(( $(date +%s) - 60 ))
	RV_TOKEN=$(py_token "$T/secret" alice "$old") run rvg -n alice groups
	assert_equal "$status" 4
	assert_output --partial 'token expired'

	RV_TOKEN=$(rvserver token alice --ttl 1 --auth-secret-file "$T/secret") run rvg -n alice groups
	assert_success

	RV_TOKEN=garbage run rvg -n alice join ops </dev/null
	assert_equal "$status" 4
	[ "$(stat_of auth_failures)" -ge 4 ]
}

@test "rvserver: a missing or unreadable secret or token file: its path and the reason" {
	# the server cannot start: exit 1, as rvserver(1) says
	run rvserver -l 127.0.0.1 -p 0 --auth-secret-file "$T/nope"
	assert_equal "$status" 1
	assert_output --partial "cannot read --auth-secret-file $T/nope: No such file or directory"
	run rvserver -l 127.0.0.1 -p 0 --auth-secret-file "$T"
	assert_equal "$status" 1
	assert_output --partial "cannot read --auth-secret-file $T: Is a directory"
	: >"$T/empty"
	run rvserver -l 127.0.0.1 -p 0 --auth-secret-file "$T/empty"
	assert_equal "$status" 1
	assert_output --partial "cannot read --auth-secret-file $T/empty: empty"
	run rvserver token alice --auth-secret-file "$T/nope"
	assert_equal "$status" 1
	assert_output --partial "cannot read --auth-secret-file $T/nope: No such file or directory"
	# the clients: a usage error (exit 2) before connecting
	run rvg -s 127.0.0.1:1 -n alice --token-file "$T/nope" groups
	assert_equal "$status" 2
	assert_output --partial "cannot read --token-file $T/nope: No such file or directory"
	run timeout "$(secs 10)" rvsend -s 127.0.0.1:1 -n alice --token-file "$T" -t bob cmd hi
	assert_equal "$status" 2
	assert_output --partial "cannot read --token-file $T: Is a directory"
	run timeout "$(secs 10)" rvrecv -s 127.0.0.1:1 -n bob --token-file "$T/nope" cmd
	assert_equal "$status" 2
	assert_output --partial "cannot read --token-file $T/nope: No such file or directory"
}

@test "rvserver: token command usage errors exit 2" {
	run rvserver token
	assert_equal "$status" 2
	run rvserver token alice
	assert_equal "$status" 2
	assert_output --partial 'auth-secret-file'
	run rvserver token 'bad id!' --auth-secret-file /dev/null
	assert_equal "$status" 2
	run rvserver --port 70000
	assert_equal "$status" 2
	run rvserver --bogus
	assert_equal "$status" 2
	run rvserver -h
	assert_success
	assert_output --partial 'Usage: rvserver'
}

@test "rvserver: WebSocket at /rv: hello, join, and a message posted by rvgroup" {
	start_server
	spawn ws python3 "$BATS_TEST_DIRNAME/wsclient.py" --port "$SERVER_PORT" --id web1 --join ops --count 1 --timeout "$(secs 10)"
	wait_for_line "$T/ws.out" '"type": "ok"' 5
	run rvg members ops
	assert_output 'web1'
	run rvg -n ci post ops 'to the browser'
	assert_success
	assert_output ''
	wait_exit "$PID_ws" 5
	assert_equal "$EXIT" 0
	run cat "$T/ws.out"
	assert_line --index 0 --partial '"type": "welcome"'
	run jq -c 'select(.type == "msg")' "$T/ws.out"
	assert_output --partial '"from":"ci"'
	assert_output --partial '"group":"ops"'
	assert_output --partial '"_body":"to the browser"'
	# and the WebSocket client's messages reach rvgroup members
	member alice ops
	run timeout "$(secs 5)" python3 - "$SERVER_PORT" "$BATS_TEST_DIRNAME" <<'EOF'
import sys, json, struct
sys.path.insert(0, sys.argv[2])
import wsclient
ws = wsclient.WS(int(sys.argv[1]), "/rv", 5)
ws.send(wsclient.rv_frame({"type": "hello", "id": "web2", "role": "send", "version": 1}))
ws.send(wsclient.rv_frame({"type": "msg", "seq": 1, "group": "ops"}, b"from the browser"))
import time
deadline = time.monotonic() + 5
while True:
    op, p = ws.recv(deadline)
    hl = struct.unpack(">I", p[:4])[0]
    h = json.loads(p[8:8 + hl])
    if h.get("type") == "ok" and h.get("re") == 1:
        print(json.dumps(h)); break
EOF
	assert_success
	assert_output --partial '"delivered": 1'
	wait_for_line "$T/alice.out" '^\[ops\] web2: from the browser$' 5
}

@test "rvserver: a message to several WebSocket receivers (framed once) reaches each whole, small and large" {
	start_server
	for w in w1 w2 w3; do
		spawn "$w" python3 "$BATS_TEST_DIRNAME/wsclient.py" --port "$SERVER_PORT" --id "$w" --join ops --count 3 --timeout "$(secs 15)"
		wait_for_line "$T/$w.out" '"type": "ok"' 5
	done
	member tcp ops
	python3 -c "
import sys
for n in (10, 126, 70000): sys.stdout.write(''.join(chr(97 + (i * 7) % 26) for i in range(n)) + '\\n')" >"$T/lines.txt"
	run timeout "$(secs 10)" rvgroup -n ci post ops <"$T/lines.txt"
	assert_success
	for w in w1 w2 w3; do
		wait_exit "$(eval echo "\$PID_$w")" 10
		assert_equal "$EXIT" 0
		run diff <(jq -r 'select(.type == "msg") | ._body' "$T/$w.out") "$T/lines.txt"
		assert_success
	done
	count_lines "$T/tcp.out" '^\[ops\] ci: ' 3 5
}

# 5000 posts of about 1 KB, numbered, in $T/flood.txt
make_flood() {
	python3 -c "
import sys
for i in range(5000): sys.stdout.write('%05d %s\\n' % (i, 'x' * 1000))" >"$T/flood.txt"
}

# A raw client in group ops that never reads (small receive buffer).
start_slow() {
	spawn slow python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --rcvbuf 4096 \
		--hello slow --frame '{"type":"join","seq":1,"group":"ops"}' --expect ok --stall --timeout 60
	wait_for_line "$T/slow.out" '_stalled' 5
}

@test "rvserver: a consumer that never reads is dropped at --max-queue" {
	# --keep-client-info groups: the group outlives the dropped member, so the flood goes on
	start_server --max-queue 64K --keep-client-info groups
	start_slow
	make_flood
	run timeout "$(secs 30)" rvgroup -n flood post ops <"$T/flood.txt"
	assert_success
	run stats
	echo "$output" | jq -e '.slow_consumer_drops == 1 and .messages == 5000'
	run grep 'dropping slow consumer slow' "$SERVER_ERR"
	assert_success
	run timeout 5 curl -sf "http://$RV_SERVER/metrics"
	assert_line 'rvserver_slow_consumer_drops_total 1'
	run rvg --json members ops
	assert_output '{"id":"slow","online":false}'
	# the server is fine afterwards
	run rvg -n x groups
	assert_success
}

@test "rvserver: a slow consumer is dropped while a normal member receives everything" {
	start_server --max-queue 64K
	start_member bob -n bob join ops
	wait_for_line "$T/bob.err" 'joined ops' 5
	start_slow
	make_flood
	run timeout "$(secs 30)" rvgroup -n flood post ops <"$T/flood.txt"
	flood_status=$status
	flood_output=$output
	# bob reads as fast as he can: he must not be dropped
	run grep 'dropping slow consumer' "$SERVER_ERR"
	refute_output --partial 'dropping slow consumer bob'
	alive "$PID_bob"
	count_lines "$T/bob.out" '^\[ops\] flood: [0-9]{5} x{1000}$' 5000 20
	run grep -c '^\[ops\] flood: ' "$T/bob.out"
	assert_output 5000
	# in order
	run diff <(grep -oE '^\[ops\] flood: [0-9]{5}' "$T/bob.out" | cut -d' ' -f3) <(cut -c1-5 "$T/flood.txt")
	assert_success
	assert_equal "$flood_status" 0 "$flood_output"
	run stats
	echo "$output" | jq -e '.slow_consumer_drops == 1'
	run grep 'dropping slow consumer slow' "$SERVER_ERR"
	assert_success
	run grep 'dropping slow consumer bob' "$SERVER_ERR"
	assert_failure
	alive "$PID_bob"
	# the dropped client is gone from the group
	run rvg members ops
	assert_output bob
}

@test "rvserver: each routing miss and request error has its wire code and text (lib/rvcode.c)" {
	start_server
	member alice ops
	run rvclient --hello x:send --expect welcome \
		--frame '{"type":"msg","seq":1,"to":"zed"}' --expect error \
		--frame '{"type":"msg","seq":2,"group":"nope"}' --expect error \
		--frame '{"type":"msg","seq":3}' --expect error \
		--frame '{"type":"msg","seq":4,"to":"alice","conn":999}' --expect error \
		--frame '{"type":"msg","seq":5,"to":"x"}' --expect error \
		--frame '{"type":"leave","seq":6,"group":"ops"}' --expect error \
		--frame '{"type":"members","seq":7,"group":"nope"}' --expect error \
		--frame '{"type":"stream-end","seq":8,"stream":42}' --expect error \
		--frame '{"type":"stream","seq":9,"media":[{"kind":"video","codec":"VP8","ssrc":1}]}' --expect error \
		--quit --timeout 5
	assert_success
	assert_line '{"type": "error", "re": 1, "code": "no-such-client", "message": "no such client"}'
	assert_line '{"type": "error", "re": 2, "code": "no-such-group", "message": "no such group"}'
	assert_line '{"type": "error", "re": 3, "code": "no-receivers", "message": "no default receivers"}'
	assert_line '{"type": "error", "re": 4, "code": "no-such-client", "message": "that connection is gone"}'
	assert_line '{"type": "error", "re": 5, "code": "no-such-client", "message": "client is not connected"}'
	assert_line '{"type": "error", "re": 6, "code": "not-member", "message": "not a member of that group"}'
	assert_line '{"type": "error", "re": 7, "code": "no-such-group", "message": "no such group"}'
	assert_line '{"type": "error", "re": 8, "code": "not-found", "message": "no such stream of this connection"}'
	assert_line '{"type": "error", "re": 9, "code": "no-receivers", "message": "no default receivers"}'
	# a receiver that allows only carol refuses everyone else, itself included
	run rvclient --frame '{"type":"hello","id":"y","role":"recv","allow":["carol"]}' --expect welcome \
		--frame '{"type":"msg","seq":1,"to":"y"}' --expect error \
		--frame '{"type":"stream","seq":2,"to":"y","media":[{"kind":"video","codec":"VP8","ssrc":1}]}' --expect error \
		--frame '{"type":"bye"}' --expect bye --timeout 5
	assert_success
	assert_line '{"type": "error", "re": 1, "code": "not-allowed", "message": "receiver does not allow this sender"}'
	assert_line '{"type": "error", "re": 2, "code": "not-allowed", "message": "receiver does not allow this sender"}'
	assert_line '{"type": "bye", "code": "bye", "message": "goodbye"}'
	still_works alice ops 'unaffected'
}
