#!/usr/bin/env bats
# WHIP on rvserver without a browser: the HTTP side (answers, status codes,
# CORS, auth) with offers Chromium, Firefox and OBS made (tests/unit/data/
# wsdp), and ICE checks that are not a session's. A browser publishing for
# real is tests/browser/whip.test.mjs (Chromium) and whip-firefox.test.mjs;
# aiortc (tests/cli/whip_aiortc.py) publishes for real in the last test.

load helpers

rvs() { timeout "$(secs 30)" rvsend "$@"; }

OFFERS="$BATS_TEST_DIRNAME/../unit/data/wsdp"

# whip METHOD PATH [CURL ARG...]: the reply's head and body in $T/reply.
whip() {
	local m=$1 path=$2
	shift 2
	timeout 5 curl -s -i -X "$m" "$@" "http://$RV_SERVER$path" | tr -d '\r' >"$T/reply"
}
status() { head -1 "$T/reply" | cut -d' ' -f2; }
header() { sed -n "s/^$1: //Ip" "$T/reply" | head -1; }
post_offer() {	# post_offer FILE [PATH]
	whip POST "${2:-/whip/show}" -H 'Content-Type: application/sdp' --data-binary @"$1"
}

# ice_checks UFRAG THEIRS: 50 checks from nobody, then 50 to the session UFRAG (the offerer's
# THEIRS) with a wrong password, at the server's UDP port; prints how many answers each got.
ice_checks() {
	timeout 20 env PYTHONPATH="$BATS_TEST_DIRNAME" python3 - "$SERVER_UDP_PORT" "$1" "$2" <<'PY'
import socket, struct, sys
from ice_check import check
port, ufrag, theirs = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
def answers(user, pwd, n):
    for i in range(n):
        s.sendto(check(user, pwd), ('127.0.0.1', port))
    got = []
    try:
        while True:
            got.append(s.recvfrom(2048)[0])
    except socket.timeout:
        pass
    return got
print('stranger', len(answers('nobody:x', 'y' * 24, 50)))
bad = answers(ufrag + ':' + theirs, 'wrong password 24 chars!', 50)
print('wrong password', len(bad), set(struct.unpack('!H', m[:2])[0] for m in bad))
PY
}

@test "whip: an offer gets 201, an answer a browser takes (ice-lite, setup:active, its mids and payload types, a host candidate on the UDP port), Location and ETag; DELETE ends it" {
	start_server
	for b in chromium firefox obs aiortc; do
		post_offer "$OFFERS/$b-whip.sdp"
		assert_equal "$(status)" 201
		assert_equal "$(header content-type)" application/sdp
		loc=$(header location)
		[[ $loc =~ ^/whip/show/[0-9a-f]{32}$ ]] || fail "$b: Location '$loc'"
		[[ $(header etag) =~ ^\"[A-Za-z0-9+/]{8}\"$ ]] || fail "$b: ETag '$(header etag)'"
		grep -qx 'a=ice-lite' "$T/reply"
		grep -qx 'a=setup:active' "$T/reply"
		grep -qx "a=candidate:1 1 udp 2130706431 127.0.0.1 $SERVER_UDP_PORT typ host" "$T/reply"
		grep -qx "a=candidate:2 1 tcp 2124414975 127.0.0.1 $SERVER_PORT typ host tcptype passive" "$T/reply"
		grep -qx 'a=end-of-candidates' "$T/reply"
		# the offer's BUNDLE group and payload types, echoed
		assert_equal "$(grep '^a=group:BUNDLE' "$T/reply")" "$(grep '^a=group:BUNDLE' "$OFFERS/$b-whip.sdp" | tr -d '\r')"
		pt=$(sed -n 's/^a=rtpmap:\([0-9]*\) opus\/48000\/2.*/\1/p' "$OFFERS/$b-whip.sdp" | head -1)
		grep -q "^m=audio 9 UDP/TLS/RTP/SAVPF $pt\$" "$T/reply" || fail "$b: opus is not PT $pt: $(grep ^m= "$T/reply")"
		grep -qx 'a=recvonly' "$T/reply"
		whip DELETE "$loc"
		assert_equal "$(status)" 200
		whip DELETE "$loc"
		assert_equal "$(status)" 404
	done
	[ "$(stat_of webrtc.sessions_total)" -eq 4 ]
	[ "$(stat_of webrtc.deleted)" -eq 4 ]
	[ "$(stat_of webrtc.sessions)" -eq 0 ]
	run curl -s "http://$RV_SERVER/metrics"
	assert_line 'rvserver_webrtc_deleted_total 4'
}

@test "whip: 415 for another type, 400 with the reason for a bad offer, 405 with Allow, OPTIONS 204 with CORS, 404 off the endpoints" {
	start_server
	whip POST /whip/show -H 'Content-Type: text/plain' --data-binary @"$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 415
	printf 'v=0\r\nthis is not SDP\r\n' >"$T/bad.sdp"
	post_offer "$T/bad.sdp"
	assert_equal "$(status)" 400
	grep -q 'line 2' "$T/reply" || fail "no reason: $(cat "$T/reply")"
	post_offer "$OFFERS/chromium-datachannel.sdp"	# audio, video and a data channel: the channel is refused
	assert_equal "$(status)" 201
	grep -q '^m=application 0 ' "$T/reply"
	whip GET /whip/show
	assert_equal "$(status)" 405
	assert_equal "$(header allow)" 'OPTIONS, POST'
	post_offer "$OFFERS/firefox-whip.sdp"
	loc=$(header location)
	whip GET "$loc"	# a session takes PATCH and DELETE
	assert_equal "$(status)" 405
	assert_equal "$(header allow)" 'OPTIONS, PATCH, DELETE'
	whip OPTIONS /whip/show
	assert_equal "$(status)" 204
	assert_equal "$(header access-control-allow-origin)" '*'
	assert_equal "$(header accept-post)" application/sdp
	[[ $(header access-control-expose-headers) == *Location* ]]
	whip DELETE /whip/show/0123456789abcdef0123456789abcdef
	assert_equal "$(status)" 404
	whip POST '/whip/bad%20group' -H 'Content-Type: application/sdp' --data-binary @"$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 404
	head -c 20000 /dev/zero | tr '\0' a >"$T/huge.sdp"
	post_offer "$T/huge.sdp"
	assert_equal "$(status)" 413
	[ "$(stat_of webrtc.offers_refused)" -ge 1 ]
	whip GET /healthz
	assert_equal "$(status)" 200
}

@test "whip: with --auth-secret-file a token for ?id= is required (401 otherwise); an id already connected is 409; --no-webrtc answers 503" {
	printf 'correct horse battery staple\n' >"$T/secret"
	start_server --auth-secret-file "$T/secret"
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 401
	grep -q 'id=NAME' "$T/reply"
	post_offer "$OFFERS/chromium-whip.sdp" '/whip/show?id=cam'
	assert_equal "$(status)" 401
	tok=$(rvserver token cam --auth-secret-file "$T/secret")
	whip POST '/whip/show?id=cam' -H 'Content-Type: application/sdp' -H "Authorization: Bearer $tok" \
		--data-binary @"$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 201
	whip POST '/whip/show?id=cam' -H 'Content-Type: application/sdp' -H "Authorization: Bearer $tok" \
		--data-binary @"$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 409
	whip POST '/whip/show?id=cam' -H 'Content-Type: application/sdp' -H "Authorization: Bearer $tok.x" \
		--data-binary @"$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 401
	stop_pid "$SERVER_PID"
	SERVER_NAME=plain start_server --no-webrtc
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 503
}

@test "whip: ICE checks for no session get nothing, a wrong password a 401; 1000 offers with no ICE end after 10 s, counted; rv clients are not disturbed" {
	start_server --webrtc-max-per-ip 0	# the flood below comes from one address
	post_offer "$OFFERS/chromium-whip.sdp"
	ufrag=$(sed -n 's/^a=ice-ufrag://p' "$T/reply" | head -1)
	theirs=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' "$OFFERS/chromium-whip.sdp" | head -1)
	run ice_checks "$ufrag" "$theirs"
	assert_line 'stranger 0'	# another session's or nobody's: not a word
	assert_line 'wrong password 50 {273}'	# a Binding error response (401) each
	# the log names the first refusal of a session and its cause, not the 49 after it
	[ "$(grep -c "webrtc whip-1: ICE check from 127.0.0.1:[0-9]* refused: " "$SERVER_ERR")" -eq 1 ]
	[ "$(stat_of webrtc.ice_refused)" -ge 100 ]
	run timeout 60 python3 - "$SERVER_PORT" "$OFFERS/chromium-whip.sdp" <<'PY'
import http.client, sys
port, offer = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
codes = {}
for i in range(1000):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    c.request('POST', '/whip/flood', offer, {'Content-Type': 'application/sdp'})
    r = c.getresponse()
    codes[r.status] = codes.get(r.status, 0) + 1
    c.close()
print(' '.join('%d:%d' % kv for kv in sorted(codes.items())))
PY
	assert_output '201:1000'
	recv bob cmd
	run rvs -n alice -t bob cmd 'still here'
	assert_success
	wait_for_line "$T/bob.out" '^alice: still here$' 5
	# none checked within 10 s: all end, each counted with its cause
	local t
	for ((t = 0; t < 150; t++)); do
		[ "$(stat_of webrtc.sessions)" -eq 0 ] && break
		sleep 0.1
	done
	[ "$(stat_of webrtc.sessions)" -eq 0 ]
	[ "$(stat_of webrtc.failures_ice)" -eq 1001 ]
	grep -q 'no valid check within 10 s' "$SERVER_ERR"
}

@test "whip: ICE over TCP: framed checks on the TCP port are answered framed, DTLS follows on that path; a bad frame length or garbage closes only its connection; DELETE closes the path" {
	start_server
	post_offer "$OFFERS/chromium-whip.sdp"
	ufrag=$(sed -n 's/^a=ice-ufrag://p' "$T/reply" | head -1)
	pwd=$(sed -n 's/^a=ice-pwd://p' "$T/reply" | head -1)
	theirs=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' "$OFFERS/chromium-whip.sdp" | head -1)
	loc=$(header location)
	run timeout 20 env PYTHONPATH="$BATS_TEST_DIRNAME" python3 - "$SERVER_PORT" "$ufrag:$theirs" "$pwd" "$loc" <<'PY'
import http.client, socket, struct, sys
from ice_check import framed as framed_check
port, user, pwd, loc = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def check():
    return framed_check(user, pwd)
def conn():
    c = socket.create_connection(('127.0.0.1', port), timeout=5)
    return c
def framed(c):	# the next framed STUN message's type (DTLS skipped), or 'closed'
    while True:
        t = datagram(c)
        if t[:2] != '16':
            return t
        dtls.add(t)
dtls = set()
def datagram(c):	# one framed datagram: its first two bytes, or 'closed'
    head = b''
    while len(head) < 2:
        b = c.recv(2 - len(head))
        if not b:
            return 'closed'
        head += b
    n, body = struct.unpack('!H', head)[0], b''
    while len(body) < n:
        b = c.recv(n - len(body))
        if not b:
            return 'closed'
        body += b
    return '%04x' % struct.unpack('!H', body[:2])[0]
def closed(c):
    try:
        return 'closed' if c.recv(100) == b'' else 'open'
    except ConnectionResetError:
        return 'closed'
good = conn()
msg = check()	# a frame in pieces, the sniffed bytes split too
good.sendall(msg[:7])
good.sendall(msg[7:])
print('good', framed(good))
two = check() + check()	# two frames in one write
good.sendall(two)
print('two', framed(good), framed(good))
for name, bad in [('zero', b'\0\0'), ('too long', b'\x05\xdd' + b'x' * 1501)]:
    c = conn()
    c.sendall(check())
    got = framed(c)
    c.sendall(bad)
    print(name, got, closed(c))
for name, first in [('garbage', b'\0\x01garbage!!'), ('short', b'\0\x13' + check()[2:])]:
    c = conn()
    c.sendall(first)
    print(name, closed(c))
good.sendall(check())
print('still', framed(good))
print('dtls', ' '.join(sorted(dtls)))
import json
h = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
h.request('GET', '/webrtc')
print('transport', json.loads(h.getresponse().read())['sessions'][0]['transport'])
h = http.client.HTTPConnection('127.0.0.1', port, timeout=5)	# the session ends: its path closes
h.request('DELETE', loc)
print('delete', h.getresponse().status)
n = 0
while n < 100 and datagram(good) != 'closed':
    n += 1
print('after delete closed')
PY
	assert_line 'good 0101'	# a Binding success response, framed
	assert_line 'two 0101 0101'
	assert_line 'zero 0101 closed'	# answered, then a frame of length 0 closes it
	assert_line 'too long 0101 closed'	# past 1500 bytes
	assert_line 'garbage closed'	# never a framed STUN Binding: nobody's protocol
	assert_line 'short closed'
	assert_line 'still 0101'	# the good connection was not disturbed
	assert_line 'dtls 16fe'	# rvserver's DTLS handshake, framed on the selected path
	assert_line 'transport tcp'	# GET /webrtc: the leg's selected path
	assert_line 'delete 200'
	assert_line 'after delete closed'	# its close_notify (if any), then the end
	grep -q 'ICE over TCP: a frame of 0 bytes' "$SERVER_ERR"
	grep -q 'ICE over TCP: a frame of 1501 bytes' "$SERVER_ERR"
	grep -q 'first valid check from 127.0.0.1:[0-9]* (TCP)' "$SERVER_ERR"
	[ "$(stat_of webrtc.tcp_paths)" -eq 3 ]	# good, zero and too long
	recv bob cmd
	run rvs -n alice -t bob cmd 'still here'
	assert_success
	wait_for_line "$T/bob.out" '^alice: still here$' 5
}

# ice_answer USER PWD: one check at the server's UDP port; prints the
# answer's STUN type (257: success, 273: 401) or "none" within 1 s.
ice_answer() {
	timeout 10 env PYTHONPATH="$BATS_TEST_DIRNAME" python3 - "$SERVER_UDP_PORT" "$1" "$2" <<'PY'
import socket, struct, sys
from ice_check import check
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(check(sys.argv[2], sys.argv[3]), ('127.0.0.1', int(sys.argv[1])))
try:
    print(struct.unpack('!H', s.recvfrom(2048)[0][:2])[0])
except socket.timeout:
    print('none')
PY
}

@test "whip: PATCH (RFC 9725 4.3): trickled candidates 204 with the ETag; an ICE restart (If-Match: *) 200 with new credentials and ETag, the old ones answer until the first new check; 412, 428, 415, 400" {
	start_server
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 201
	local loc etag u1 p1 theirs u2 p2
	loc=$(header location)
	etag=$(header etag)
	u1=$(sed -n 's/^a=ice-ufrag://p' "$T/reply" | head -1)
	p1=$(sed -n 's/^a=ice-pwd://p' "$T/reply" | head -1)
	theirs=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' "$OFFERS/chromium-whip.sdp" | head -1)
	assert_equal "$etag" "\"$u1\""
	frag() { whip PATCH "$loc" -H "Content-Type: ${2:-application/trickle-ice-sdpfrag}" ${1:+-H "If-Match: $1"} \
		--data-binary @-; }
	printf 'a=mid:0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n' | frag "$etag" application/sdp
	assert_equal "$(status)" 415
	printf 'a=mid:0\r\n' | frag ''
	assert_equal "$(status)" 428
	printf 'a=mid:0\r\n' | frag '"nottheetag"'
	assert_equal "$(status)" 412
	grep -q 'is not this session.s ETag' "$T/reply"
	printf 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n' |
		frag "$etag"
	assert_equal "$(status)" 204
	assert_equal "$(stat_of webrtc.trickles)" 1
	printf 'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n' | frag '*'
	assert_equal "$(status)" 400
	grep -q 'needs the new ice-ufrag and ice-pwd' "$T/reply"
	# the restart
	printf 'a=ice-ufrag:NeW1\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n' | frag '*'
	assert_equal "$(status)" 200
	assert_equal "$(header content-type)" application/trickle-ice-sdpfrag
	grep -qx 'a=ice-lite' "$T/reply"
	u2=$(sed -n 's/^a=ice-ufrag://p' "$T/reply")
	p2=$(sed -n 's/^a=ice-pwd://p' "$T/reply")
	[ -n "$u2" ] && [ "$u2" != "$u1" ] && [ ${#p2} -eq 24 ] && [ "$p2" != "$p1" ]
	assert_equal "$(header etag)" "\"$u2\""
	assert_equal "$(stat_of webrtc.ice_restarts)" 1
	# the old credentials still answer, the new ones with the peer's new ufrag too; then the old are gone
	assert_equal "$(ice_answer "$u1:$theirs" "$p1")" 257
	assert_equal "$(ice_answer "$u2:NeW1" "$p2")" 257
	grep -q "webrtc whip-1: ICE restart done: checks come with the new credentials" "$SERVER_ERR"
	assert_equal "$(ice_answer "$u2:NeW1" "$p1")" 273	# the old password for the new ufrag
	assert_equal "$(ice_answer "$u1:$theirs" "$p1")" none
	# the old ETag is stale: trickling with it is 412, with the new one 204
	printf 'a=mid:0\r\n' | frag "$etag"
	assert_equal "$(status)" 412
	printf 'a=mid:0\r\n' | frag "\"$u2\""
	assert_equal "$(status)" 204
	whip DELETE "$loc"
	assert_equal "$(status)" 200
}

@test "whip: GET /webrtc and /stats' webrtc.legs list the sessions: id, group, role, state, age, packets per track" {
	start_server
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 201
	local pub=$(header location)
	post_offer "$OFFERS/chromium-whep.sdp" /whep/show
	assert_equal "$(status)" 201
	run timeout 5 curl -sf "http://$RV_SERVER/webrtc"
	assert_success
	local list=$output
	run jq -c '.sessions | sort_by(.role) | map([.id, .group, .role, .state, (.age_s >= 0), .packets_in, .packets_out])' <<<"$list"
	assert_output '[["whip-1","show","publisher","ice",true,0,0],["whep-2","show","viewer","ice",true,0,0]]'
	run jq -c '.sessions | map(select(.role == "publisher"))[0].tracks | map([.kind, .codec, .packets])' <<<"$list"
	assert_output '[["audio","opus",0],["video","VP8",0]]'
	run jq -c '.sessions | map(select(.role == "viewer"))[0].tracks | map([.kind, .codec, .packets, .retransmits])' <<<"$list"
	assert_output '[["video","H264",0,0],["audio","opus",0,0]]'
	[ "$(stats | jq '.webrtc.legs | length')" -eq 2 ]
	run curl -s "http://$RV_SERVER/metrics"
	assert_line 'rvserver_webrtc_legs 2'
	whip DELETE "$pub"
	[ "$(stats | jq -r '.webrtc.legs | map(.role) | join(",")')" = viewer ]
	grep -q 'webrtc whip-1: session ended after [0-9]* ms: DELETE (0 packets in, 0 out' "$SERVER_ERR"
}

@test "whep: a viewer's offer gets the group's codec, sendonly with our SSRCs; a browser without it gets 422 and the reason" {
	start_server
	post_offer "$OFFERS/chromium-whep.sdp" /whep/show	# nothing sent yet: H.264, the browser offers it
	assert_equal "$(status)" 201
	loc=$(header location)
	[[ $loc =~ ^/whep/show/[0-9a-f]{32}$ ]]
	grep -qx 'a=sendonly' "$T/reply"
	grep -q '^a=rtpmap:[0-9]* H264/90000$' "$T/reply"
	[ "$(grep -c '^a=ssrc:[0-9]* cname:' "$T/reply")" -eq 2 ]
	spawn cam rvsend -n cam -g show media -f lavfi -i testsrc2=size=160x120:rate=15 --vcodec vp8 --acodec none --duration 30
	wait_for_line "$SERVER_ERR" 'stream 1 to #show' 10
	post_offer "$OFFERS/firefox-whep.sdp" /whep/show	# VP8 now: Firefox too
	assert_equal "$(status)" 201
	grep -q '^a=rtpmap:[0-9]* VP8/90000$' "$T/reply"
	stop_pid "$PID_cam"
	spawn cam2 rvsend -n cam2 -g show media -f lavfi -i testsrc2=size=160x120:rate=15 --acodec none --duration 30
	wait_for_line "$SERVER_ERR" 'stream 2 to #show' 10
	post_offer "$OFFERS/firefox-whep.sdp" /whep/show	# H.264 now, and Firefox has none
	assert_equal "$(status)" 422
	grep -q 'stream is H264' "$T/reply" || fail "$(cat "$T/reply")"
	whip DELETE "/whip/show/${loc##*/}"	# a viewer's session is not a publisher's
	assert_equal "$(status)" 404
	whip DELETE "$loc"
	assert_equal "$(status)" 200
}

@test "whip: aiortc, a WebRTC stack that is not a browser's, publishes video and Opus; rvrecv -g show media records them" {
	# Debian's python3-aiortc is for Debian's python3 (scripts/deps.sh installs it)
	/usr/bin/python3 -c 'import aiortc' 2>/dev/null || skip "/usr/bin/python3 cannot import aiortc (apt-get install python3-aiortc)"
	start_server
	recv rec -g show media -o "$T/aiortc.mkv" --count 1 --json
	run timeout "$(secs 30)" /usr/bin/python3 "$BATS_TEST_DIRNAME/whip_aiortc.py" "http://$RV_SERVER/whip/show" --seconds 3
	assert_success
	local pub=${lines[-1]} sent vcodec
	[[ $(jq -r .location <<<"$pub") =~ ^/whip/show/[0-9a-f]{32}$ ]] || fail "no Location: $pub"
	sent=$(jq -r .video_frames <<<"$pub")
	vcodec=$(jq -r '.codecs[0] | ascii_downcase' <<<"$pub")
	[[ $vcodec == vp8 || $vcodec == h264 ]] || fail "video codec '$vcodec'"
	assert_equal "$(jq -r '.codecs[1]' <<<"$pub")" opus
	wait_exit "$PID_rec" 15
	assert_equal "$EXIT" 0
	grep -q '"event":"stream","from":"whip-1"' "$T/rec.out"
	run ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,nb_read_frames -of csv=p=0 "$T/aiortc.mkv"
	assert_success
	assert_line --regexp "^$vcodec,video,[0-9]+\$"
	assert_line --regexp '^opus,audio,[0-9]+$'
	local got
	got=$(sed -n 's/^[a-z0-9]*,video,\([0-9]*\)$/\1/p' <<<"$output")
	# the frames aiortc made before the DELETE, 90% of them at least
	((sent > 30 && got * 10 >= sent * 9)) || fail "video frames: $got of $sent sent"
	run ffmpeg -v error -i "$T/aiortc.mkv" -enc_time_base -1 -f null -	# the file's time base, as whip.mjs
	assert_success
	assert_output ''
	[ "$(stat_of webrtc.handshakes)" -eq 1 ]
	[ "$(stat_of webrtc.deleted)" -eq 1 ]
}

@test "whip: a publisher gone within a second, before its first sender reports, is still recorded whole" {
	/usr/bin/python3 -c 'import aiortc' 2>/dev/null || skip "/usr/bin/python3 cannot import aiortc (apt-get install python3-aiortc)"
	start_server
	recv rec -g show media -o "$T/short.mkv" --count 1 --json
	run timeout "$(secs 30)" /usr/bin/python3 "$BATS_TEST_DIRNAME/whip_aiortc.py" "http://$RV_SERVER/whip/show" --seconds 1
	assert_success
	local sent got
	sent=$(jq -r .video_frames <<<"${lines[-1]}")
	wait_exit "$PID_rec" 15
	assert_equal "$EXIT" 0
	got=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$T/short.mkv")
	((sent > 10 && got * 10 >= sent * 9)) || fail "video frames: ${got:-none} of $sent sent"
}

@test "whep: ?from=NAME watches that sender alone: its codec decides the answer (422 for a browser without it), an invalid NAME is 404" {
	start_server
	spawn cam rvsend -n cam -g show media -f lavfi -i testsrc2=size=160x120:rate=15 --acodec none --duration 30
	wait_for_line "$SERVER_ERR" 'stream 1 to #show' 10
	spawn cam2 rvsend -n cam2 -g show media -f lavfi -i testsrc2=size=160x120:rate=15 --vcodec vp8 --acodec none --duration 30
	wait_for_line "$SERVER_ERR" 'stream 2 to #show' 10
	post_offer "$OFFERS/firefox-whep.sdp" '/whep/show?from=cam'	# H.264, and Firefox has none
	assert_equal "$(status)" 422
	post_offer "$OFFERS/firefox-whep.sdp" '/whep/show?from=cam2'	# VP8
	assert_equal "$(status)" 201
	grep -q '^a=rtpmap:[0-9]* VP8/90000$' "$T/reply"
	post_offer "$OFFERS/firefox-whep.sdp" '/whep/show'	# the newest stream is cam2's VP8 too
	assert_equal "$(status)" 201
	post_offer "$OFFERS/firefox-whep.sdp" '/whep/show?from=bad%20id'
	assert_equal "$(status)" 404
}

@test "whip: an RV client publishes and watches as itself (the room page's member); a second WHIP session with its id is 409" {
	start_server
	spawn member python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --hello alice \
		--frame '{"type":"join","seq":1,"group":"show"}' --expect ok --timeout 30
	wait_for_line "$T/member.out" '"re": 1' 10
	post_offer "$OFFERS/chromium-whip.sdp" '/whip/show?id=alice'
	assert_equal "$(status)" 201
	post_offer "$OFFERS/chromium-whip.sdp" '/whip/show?id=alice'
	assert_equal "$(status)" 409
	grep -q 'alice is already connected' "$T/reply"
	for i in 1 2; do	# viewers as alice, as many as she likes
		post_offer "$OFFERS/chromium-whep.sdp" '/whep/show?id=alice&from=bob'
		assert_equal "$(status)" 201
	done
}

@test "rvserver serves the conference page at / and /room/GROUP, and its assets" {
	start_server
	for p in / /room/show; do
		whip GET "$p"
		assert_equal "$(status)" 200
		header content-type | grep -q '^text/html'
		grep -q '/room.js' "$T/reply"
	done
	for p in /room.js /ui.js /room.css; do
		whip GET "$p"
		assert_equal "$(status)" 200
	done
	grep -q 'whip' <(curl -s "http://$RV_SERVER/room.js")
	whip DELETE /room.css
	assert_equal "$(status)" 405
}

@test "whip: --ice servers come as Link headers on OPTIONS and 201, TURN ones with REST credentials coturn checks" {
	printf 'turn secret\n' >"$T/turn"
	start_server --ice stun:127.0.0.1:3478 --ice 'turn:127.0.0.1:3478?transport=udp' --turn-secret-file "$T/turn"
	whip OPTIONS '/whip/show?id=cam'
	assert_equal "$(status)" 204
	[ "$(grep -c '^Link: ' "$T/reply")" -eq 2 ]
	grep -qx 'Link: <stun:127.0.0.1:3478>; rel="ice-server"' "$T/reply"
	post_offer "$OFFERS/chromium-whip.sdp" '/whip/show?id=cam'
	assert_equal "$(status)" 201
	link=$(grep '^Link: <turn:' "$T/reply")
	[[ $link =~ username=\"([0-9]+:cam)\"\;\ credential=\"([^\"]+)\"\;\ credential-type=\"password\" ]] || fail "$link"
	user=${BASH_REMATCH[1]} cred=${BASH_REMATCH[2]}
	assert_equal "$cred" "$(printf %s "$user" | openssl dgst -sha1 -hmac 'turn secret' -binary | base64)"
	((${user%%:*} > $(date +%s) + 86000)) || fail "expiry ${user%%:*} is not a day ahead"
	run rvserver --ice http://x
	assert_failure
	assert_output --partial 'expected a stun:, turn: or turns: URI'
}

@test "whip: --webrtc-max-per-ip: past N sessions from one address a POST gets 429 and is counted; a DELETE frees one" {
	start_server --webrtc-max-per-ip 2
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 201
	first=$(header location)
	post_offer "$OFFERS/chromium-whep.sdp" /whep/show
	assert_equal "$(status)" 201
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 429
	grep -q 'too many WebRTC sessions from 127.0.0.1 (2)' "$T/reply"
	assert_equal "$(stat_of webrtc.offers_per_ip_refused)" 1
	whip DELETE "$first"
	assert_equal "$(status)" 200
	post_offer "$OFFERS/chromium-whip.sdp"
	assert_equal "$(status)" 201
}

@test "whip: RV_TEST_IMPAIR=loss=1 loses every datagram rvserver's UDP port sends (here the answers to ICE checks); a malformed value stops it with status 1" {
	RV_TEST_IMPAIR=loss=1 start_server
	grep -q 'RV_TEST_IMPAIR: 100 % of the UDP datagrams sent are lost' "$SERVER_ERR"
	post_offer "$OFFERS/chromium-whip.sdp"
	ufrag=$(sed -n 's/^a=ice-ufrag://p' "$T/reply" | head -1)
	theirs=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' "$OFFERS/chromium-whip.sdp" | head -1)
	run ice_checks "$ufrag" "$theirs"
	assert_line 'wrong password 0 set()'	# 50 answers without the loss (the test above)
	RV_TEST_IMPAIR=loss=2 run timeout 10 rvserver -l 127.0.0.1 --port 0
	assert_failure 1
	assert_output --partial 'RV_TEST_IMPAIR: expected loss='
}

@test "whip: --webrtc-consent-timeout: a publisher killed with -9 leaves when its consent runs out, not 30 s later; under 10 s is refused" {
	/usr/bin/python3 -c 'import aiortc' 2>/dev/null || skip "/usr/bin/python3 cannot import aiortc (apt-get install python3-aiortc)"
	run rvserver --webrtc-consent-timeout 5
	assert_failure 2
	assert_output --partial 'expected seconds, at least 10'
	start_server --webrtc-consent-timeout 10
	spawn pub /usr/bin/python3 "$BATS_TEST_DIRNAME/whip_aiortc.py" "http://$RV_SERVER/whip/show" --seconds 60
	local i
	for ((i = 0; i < 100 * RV_SLOW; i++)); do
		[ "$(stat_of webrtc.handshakes)" = 1 ] && break
		sleep 0.1
	done
	assert_equal "$(stat_of webrtc.handshakes)" 1
	kill_hard "$PID_pub"
	# consent ends it within 10 s of the last check (aiortc checks every 5 s); 30 s would miss this wait
	wait_for_line "$SERVER_ERR" 'consent lost \(no check for 10 s\)' 16
	assert_equal "$(stat_of webrtc.sessions)" 0
	assert_equal "$(stat_of webrtc.failures_ice)" 1
}

@test "whip: a peer that checks but never finishes DTLS is ended at the consent timeout after its first check, counted as a DTLS failure" {
	start_server --webrtc-consent-timeout 10
	post_offer "$OFFERS/chromium-whip.sdp"
	[ "$(status)" = 201 ]
	ufrag=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' "$T/reply" | head -1)
	pwd=$(sed -n 's/^a=ice-pwd:\([^\r]*\).*/\1/p' "$T/reply" | head -1)
	theirs=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' "$OFFERS/chromium-whip.sdp" | head -1)
	# valid checks every second (consent stays fresh); the DTLS ClientHello is never answered
	spawn checker env PYTHONPATH="$BATS_TEST_DIRNAME" python3 -c '
import socket, sys, time
from ice_check import check
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
for i in range(int(sys.argv[4])):
    s.sendto(check(sys.argv[2] + ":" + sys.argv[3], sys.argv[5]), ("127.0.0.1", int(sys.argv[1])))
    time.sleep(1)
' "$SERVER_UDP_PORT" "$ufrag" "$theirs" "$(secs 40)" "$pwd"
	wait_for_line "$SERVER_ERR" 'first valid check' 5
	wait_for_line "$SERVER_ERR" 'DTLS: no handshake within 10 s of the first valid check' 16
	assert_equal "$(stat_of webrtc.sessions)" 0
	assert_equal "$(stat_of webrtc.failures_dtls)" 1
	assert_equal "$(stat_of webrtc.failures_ice)" 0
}


@test "whip: G.711: aiortc publishes PCMU, rvrecv records it (pcm_mulaw, 8 kHz mono), a WHEP viewer's answer takes PCMU; WebM refuses it with the reason" {
	/usr/bin/python3 -c 'import aiortc' 2>/dev/null || skip "/usr/bin/python3 cannot import aiortc (apt-get install python3-aiortc)"
	start_server
	recv rec -g show media -o "$T/g711.mkv" --count 1 --json
	recv web -g show media -o "$T/g711.webm" --count 1
	spawn pub /usr/bin/python3 "$BATS_TEST_DIRNAME/whip_aiortc.py" "http://$RV_SERVER/whip/show" --seconds 4 \
		--audio-codec PCMU
	wait_for_line "$T/rec.out" '"event":"stream"' 15
	grep -q '"audio":"PCMU"' "$T/rec.out"
	# a browser's WHEP offer (Opus, PCMU, PCMA...) is answered with the source's PCMU
	post_offer "$OFFERS/chromium-whep.sdp" /whep/show
	[ "$(status)" = 201 ] || fail "WHEP: $(cat "$T/reply")"
	grep -q '^a=rtpmap:0 PCMU/8000' "$T/reply"
	! grep -q 'opus/48000' "$T/reply"
	wait_exit "$PID_pub" 30
	assert_equal "$EXIT" 0
	jq -e '.codecs[1] == "PCMU"' "$T/pub.out"
	wait_exit "$PID_rec" 15
	assert_equal "$EXIT" 0
	run ffprobe -v error -count_packets -show_entries stream=codec_name,sample_rate,channels,nb_read_packets \
		-of csv=p=0 "$T/g711.mkv"
	assert_success
	assert_line --regexp '^pcm_mulaw,8000,1,[0-9]+$'
	packets=$(sed -n 's/^pcm_mulaw,8000,1,\([0-9]*\)$/\1/p' <<<"$output")
	((packets >= 100)) || fail "only $packets audio packets (20 ms each) of about 4 s"
	run ffmpeg -v error -i "$T/g711.mkv" -f null -
	assert_success
	assert_output ''
	wait_exit "$PID_web" 15
	grep -q 'PCMU audio can be recorded into Matroska only' "$T/web.err"
}

@test "whep: 20 viewers (bench/wload: ICE, DTLS, every packet authenticated) each get every packet of rvsend's stream; a source packet is decrypted once for all; their packets leave in batches" {
	local wload=$RV_BIN/../bench/wload
	[ -x "$wload" ] || fail "$wload not built (make units builds it)"
	start_server --webrtc-max-per-ip 0
	spawn cam rvsend -n cam -g show media -f lavfi -i testsrc2=size=320x240:rate=30 --acodec none --bitrate 300000 \
		--duration 30
	wait_for_line "$SERVER_ERR" 'stream 1 to #show' 10
	run timeout "$(secs 30)" "$wload" --http-port "$SERVER_PORT" -n 20 --group show --warmup 1 --window 2 \
		--max-time "$(secs 25)"
	# (its status says whether it could read the server's CPU: not asked here)
	local res
	res=$(grep '^RESULT' <<<"$output") || fail "$output"
	[[ $res == *" viewers=20 "* ]] || fail "$res"
	# no sequence gap in any viewer's stream, no packet failed SRTP, each viewer had media
	[[ $res == *" loss_pct=0.000 "* && $res == *" srtp_fail=0 "* ]] || fail "$res"
	[[ $res =~ min_viewer_pkts=([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) || fail "$res"
	stats >"$T/stats.json"
	local legs in dec out calls
	legs=$(jq '[.webrtc.legs[] | select(.role == "viewer" and .tracks[0].packets > 0 and .tracks[0].stream == 1)] | length' "$T/stats.json")
	assert_equal "$legs" 20
	# decrypted once a packet, not once a viewer: at most what the source sent (its RTCP too)
	in=$(jq '.media.packets_in' "$T/stats.json")
	dec=$(jq '.webrtc.source_decrypts' "$T/stats.json")
	out=$(jq '.webrtc.packets_out' "$T/stats.json")
	((dec > 0 && dec <= in && out >= 10 * dec)) || fail "source packets $in, decrypted $dec, sent to viewers $out"
	# one sendmmsg carries a packet to every viewer: far fewer calls than datagrams
	out=$(jq '.udp_datagrams_out' "$T/stats.json")
	calls=$(jq '.udp_send_calls' "$T/stats.json")
	((out > 0 && calls * 5 <= out)) || fail "$calls send calls for $out datagrams"
}
