#!/usr/bin/env bats
# Media through rvserver: rvsend media streams lavfi test patterns to a
# group or a client, rvserver relays RTP over UDP (or framed on TCP),
# rvrecv media records; ffprobe and ffmpeg check what was recorded.

load helpers

eval "helpers_$(declare -f setup)"
setup() {
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || skip "ffmpeg is not installed"
	helpers_setup
}

# probe FILE: "codec,width,height,frames" of its video stream
probe() {
	ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,width,height,nb_read_frames \
		-of csv=p=0 "$1"
}

# decodes FILE: ffmpeg decodes it all and prints no error
decodes() {
	run ffmpeg -v error -i "$1" -f null -
	assert_success
	assert_output ''
}

# frames_of FILE
frames_of() { probe "$1" | cut -d, -f4; }

# send NAME ARG...: rvsend media from a 320x240 30 fps test pattern
send() {
	local name=$1
	shift
	spawn "$name" rvsend -n "$name" media -f lavfi -i testsrc2=size=320x240:rate=30 --json "$@"
}

# audio_of FILE: "codec,start,frames" of its audio stream (ffprobe's field order)
audio_of() {
	ffprobe -v error -count_frames -select_streams a -show_entries stream=codec_name,nb_read_frames,start_time \
		-of csv=p=0 "$1"
}

@test "relay: H.264 and Opus (testsrc2 + sine, two inputs) to a group of two, one recording to a file, one through stdout" {
	start_server
	spawn r1 rvrecv -n r1 -g show media -o "$T/r1.mkv" --json
	spawn r2 rvrecv -n r2 -g show media -o -
	wait_for_line "$T/r1.err" 'taking media over UDP' 5
	wait_for_line "$T/r2.err" 'taking media over UDP' 5
	send cam -g show -f lavfi -i sine=frequency=440 --duration 5
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_r1" 10
	assert_equal "$EXIT" 0
	wait_exit "$PID_r2" 10
	assert_equal "$EXIT" 0
	cp "$T/r2.out" "$T/r2.mkv"
	for f in "$T/r1.mkv" "$T/r2.mkv"; do
		IFS=, read -r codec w h frames < <(probe "$f")
		assert_equal "$codec" h264
		assert_equal "$w" 320
		assert_equal "$h" 240
		((frames >= 145)) || fail "$f: only $frames of 150 frames"
		# 5 s of Opus in 20 ms frames, starting with the video (RTCP SR alignment)
		IFS=, read -r acodec astart aframes < <(audio_of "$f")
		assert_equal "$acodec" opus
		((aframes >= 230)) || fail "$f: only $aframes of 250 audio frames"
		awk -v s="$astart" 'BEGIN { exit !(s > -0.1 && s < 0.1) }' || fail "$f: audio starts at $astart s"
		decodes "$f"
	done
	run jq -r 'select(.event == "media") | [.streams, .lost, .udp] | @csv' "$T/r1.out"
	assert_output '1,0,true'
	# SRTP by default: the key went to the receivers through the server
	run jq -r 'select(.event == "media") | [.codec, .frames, .audio_frames >= 250, .udp, .srtp] | @csv' "$T/cam.out"
	assert_output '"H264",150,true,true,"AES_CM_128_HMAC_SHA1_80"'
	# the server saw the registrations and relayed every packet twice
	run stats
	assert_success
	in=$(jq '.media.packets_in' <<<"$output")
	out=$(jq '.media.packets_out' <<<"$output")
	((out >= 2 * (in - 20))) || fail "relayed $out packets for $in received"
	[ "$(jq '.media.udp_bindings' <<<"$output")" -ge 3 ]
	# rvsend sent each frame's equal packets as one GSO send; the server read
	# such bursts whole (UDP GRO) and still counted and relayed every packet
	[ "$(jq '.media.udp_bursts' <<<"$output")" -ge 1 ]
	curl -sf "http://$RV_SERVER/metrics" | grep -q '^rvserver_media_packets_out_total [1-9]'
}

@test "relay: VP8 into WebM with both ends framed on TCP (--tcp), plain RTP (--srtp none)" {
	start_server
	spawn rx rvrecv -n rx media -o "$T/rx.webm" --tcp --json
	wait_for_line "$T/rx.err" 'taking media over TCP' 5
	send cam -t rx -f lavfi -i sine --vcodec vp8 --duration 5 --tcp --srtp none
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	IFS=, read -r codec w h frames < <(probe "$T/rx.webm")
	assert_equal "$codec" vp8
	((frames >= 145)) || fail "only $frames of 150 frames"
	[ "$(audio_of "$T/rx.webm" | cut -d, -f1)" = opus ]
	decodes "$T/rx.webm"
	run jq -r 'select(.event == "media") | .udp' "$T/rx.out"
	assert_output false
	run jq -r 'select(.event == "media") | .udp' "$T/cam.out"
	assert_output false
	[ "$(stat_of media.udp_bindings)" -eq 0 ]
}

@test "relay: packets the server drops (--drop-rate 0.05) are repaired by NACK over SRTCP (AES-GCM), video and audio; the file decodes cleanly" {
	start_server --drop-rate 0.05
	spawn rx rvrecv -n rx -g show media -o "$T/rx.mkv" --json
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	send cam -g show -f lavfi -i sine=frequency=440 --duration 5 --srtp aead_aes_128_gcm
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	[ "$(stat_of media.test_drops)" -gt 0 ]
	[ "$(jq -r 'select(.event == "media") | .srtp' "$T/cam.out")" = AEAD_AES_128_GCM ]
	recovered=$(jq 'select(.event == "media") | .recovered' "$T/rx.out")
	((recovered > 0)) || fail "nothing recovered: $(cat "$T/rx.out")"
	resent=$(jq 'select(.event == "media") | .resent' "$T/cam.out")
	((resent > 0)) || fail "rvsend resent nothing: $(cat "$T/cam.out")"
	# the receiver's RTCP reports came back: (almost) nothing left unrepaired, a round trip measured
	run jq -c 'select(.event == "media") | .receivers | map([.lost < 5, (.rtt_ms | type)])' "$T/cam.out"
	assert_output '[[true,"number"]]'
	frames=$(frames_of "$T/rx.mkv")
	((frames >= 135)) || fail "only $frames of 150 frames"
	# audio too: some 12 of its 250 packets were dropped, (almost) all resent
	IFS=, read -r apackets alost arecovered < <(jq -r 'select(.event == "media") |
		[.audio_packets, .audio_lost, .audio_recovered] | @csv' "$T/rx.out")
	((apackets >= 230)) || fail "only $apackets audio packets"
	((alost <= 2)) || fail "$alost audio packets lost, $arecovered recovered"
	((arecovered > 0)) || fail "no audio packet recovered"
	[ "$(jq 'select(.event == "media") | .audio_nacks > 0' "$T/cam.out")" = true ]
	IFS=, read -r acodec _ aframes < <(audio_of "$T/rx.mkv")
	assert_equal "$acodec" opus
	((aframes >= 230)) || fail "only $aframes of 250 audio frames"
	decodes "$T/rx.mkv"
}

@test "relay: rvrecv media loads FFmpeg before it joins, not when the first stream comes (whose first frames would wait for it)" {
	start_server
	recv rx -g show media -o "$T/rx.mkv"
	grep -q 'libavformat\.so' "/proc/$(tool_pid "$PID_rx")/maps"
	grep -q 'libavcodec\.so' "/proc/$(tool_pid "$PID_rx")/maps"
}

@test "relay: a receiver joining mid-stream gets a keyframe within a second (the server asks the sender)" {
	start_server
	# one keyframe in 100 s, longer than the sender lives: a receiver that
	# joins later can only start on the keyframe the server asks for
	send cam -g show --duration 40 --gop 3000
	wait_for_line "$T/cam.err" 'streaming H264' 5
	sleep 2
	start=$(date +%s%N)
	spawn rx rvrecv -n rx -g show media -o "$T/late.mkv" --frames 15
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	echo "# 15 frames took $((($(date +%s%N) - start) / 1000000)) ms" >&3
	[ "$(stat_of media.keyframe_requests)" -ge 1 ]
	frames=$(frames_of "$T/late.mkv")
	((frames >= 15)) || fail "only $frames frames"
	decodes "$T/late.mkv"
}

@test "relay: a server given more media than it can relay stays responsive (its UDP reads yield at their time budget)" {
	# each datagram read costs 50 ms: a 30 fps stream is more than the
	# server can relay, as 200 WebRTC viewers are on a real one. Reading all
	# that waits (256 datagrams) would hold the loop for 13 s at a time.
	export RV_TEST_IMPAIR=rxcost=50
	start_server
	unset RV_TEST_IMPAIR
	grep -q 'each UDP datagram read takes 50 ms more' "$SERVER_ERR"
	spawn rx rvrecv -n rx -g show media -o "$T/rx.mkv"
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	send cam -g show --duration 30
	wait_for_line "$T/cam.err" 'streaming H264' 5
	sleep 3
	for i in 1 2 3 4 5; do
		timeout "$(secs 2)" curl -sf "http://$RV_SERVER/stats" >"$T/stats.json" ||
			fail "/stats did not answer within $(secs 2) s (try $i)"
		sleep 0.5
	done
	(($(jq .media.udp_yields "$T/stats.json") >= 1)) || fail "no yield: $(jq -c .media "$T/stats.json")"
	rvg -n probe groups >/dev/null || fail "a client's command was not answered"
}

# has_index FILE.mkv: its duration is known and it has cues (the Cues ID
# twice: in the SeekHead and the element itself)
has_index() {
	local d
	d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$1")
	[ "$d" != N/A ] || fail "$1: no duration"
	awk -v d="$d" 'BEGIN { exit !(d > 1) }' || fail "$1: duration $d"
	(($(LC_ALL=C grep -obUaP '\x1C\x53\xBB\x6B' "$1" | wc -l) >= 2)) || fail "$1: no cues"
}

@test "relay: a receiver killed with -9 leaves a file that decodes; a finished one has its duration and cues" {
	start_server
	spawn rx rvrecv -n rx -g show media -o "$T/crash.mkv"
	spawn end rvrecv -n end -g show media -o "$T/end.mkv"
	spawn frm rvrecv -n frm -g show media -o "$T/frames.webm" --frames 60
	spawn term rvrecv -n term -g show media -o "$T/term.mkv"
	for r in rx end frm term; do wait_for_line "$T/$r.err" 'taking media over UDP' 5; done
	send cam -g show --duration 7 --gop 15 --vcodec vp8
	wait_for_line "$T/rx.err" 'recording VP8' 10
	sleep 4
	kill_hard "$PID_rx"
	stop_pid "$PID_term"
	frames=$(frames_of "$T/crash.mkv")
	((frames >= 60)) || fail "only $frames frames survived"
	decodes "$T/crash.mkv"
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_end" 10
	assert_equal "$EXIT" 0
	wait_exit "$PID_frm" 10
	assert_equal "$EXIT" 0
	for f in end.mkv frames.webm term.mkv; do
		has_index "$T/$f"
		decodes "$T/$f"
	done
}

@test "relay: a fragmented MP4 killed with -9 plays up to about its last second, however rare the keyframes" {
	start_server
	spawn rx rvrecv -n rx media -o "$T/crash.mp4"
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	send cam -t rx --duration 10 --gop 600
	wait_for_line "$T/rx.err" 'recording H264' 10
	sleep 4
	kill_hard "$PID_rx"
	frames=$(frames_of "$T/crash.mp4")
	((frames >= 60)) || fail "only $frames frames survived"
	decodes "$T/crash.mp4"
	stop_pid "$PID_cam"
}

@test "relay: one file per sender with -o 'rec-%s.mkv'; --from picks one sender" {
	start_server
	spawn all rvrecv -n all -g show media -o "$T/rec-%s.mkv" --count 2
	spawn one rvrecv -n one -g show media -o "$T/one.mkv" --from b
	wait_for_line "$T/all.err" 'taking media over UDP' 5
	wait_for_line "$T/one.err" 'taking media over UDP' 5
	send a -g show --duration 3
	send b -g show --duration 3 --vcodec vp8
	wait_exit "$PID_all" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_one" 20
	assert_equal "$EXIT" 0
	[ "$(probe "$T/rec-a.mkv" | cut -d, -f1)" = h264 ]
	[ "$(probe "$T/rec-b.mkv" | cut -d, -f1)" = vp8 ]
	[ "$(probe "$T/one.mkv" | cut -d, -f1)" = vp8 ]
	decodes "$T/rec-a.mkv"
	decodes "$T/rec-b.mkv"
}

@test "relay: a receiver that allows only others refuses the stream (denied, exit 4); a group member that refuses gets nothing" {
	start_server
	spawn rx rvrecv -n rx --allow boss media -o "$T/rx.mkv" --timeout 6
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	run timeout 10 rvsend -n cam -t rx media -f lavfi -i testsrc2 --duration 1
	assert_equal "$status" 4
	assert_output --partial 'not allow'
	spawn picky rvrecv -n picky -g show --allow boss media -o "$T/picky.mkv" --timeout 5
	wait_for_line "$T/picky.err" 'taking media over UDP' 5
	send cam2 -g show --duration 2
	wait_exit "$PID_cam2" 15
	assert_equal "$EXIT" 0
	[ ! -e "$T/picky.mkv" ] || [ "$(frames_of "$T/picky.mkv")" = 0 ]
}

@test "relay: a Binding with a wrong password registers nothing; media from an unknown address is not relayed" {
	start_server
	spawn rx rvrecv -n rx media -o "$T/rx.mkv" --timeout 4
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	python3 - "$SERVER_UDP_PORT" <<'EOF'
import hashlib, hmac, os, socket, struct, sys, zlib
port = int(sys.argv[1])
def attr(t, v):
    return struct.pack('!HH', t, len(v)) + v + b'\0' * (-len(v) % 4)
tid = os.urandom(12)
body = attr(0x0006, b'1')
head = struct.pack('!HHI', 0x0001, len(body) + 24, 0x2112A442) + tid
mi = hmac.new(b'not-the-password', head + body, hashlib.sha1).digest()
msg = head + body + attr(0x0008, mi)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(msg, ('127.0.0.1', port))
# and an RTP packet from nowhere
s.sendto(bytes([0x80, 96, 0, 1]) + b'\0' * 8 + b'x' * 100, ('127.0.0.1', port))
EOF
	sleep 0.5
	[ "$(stat_of media.bad_bindings)" -ge 1 ]
	[ "$(stat_of media.unknown)" -ge 1 ]
	[ "$(stat_of media.packets_out)" -eq 0 ]
}

@test "relay: a file's own H.264 and Opus sent untouched (--vcodec copy --acodec copy); audio alone with --vcodec none" {
	ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440 -t 4 \
		-c:v libx264 -profile:v baseline -g 30 -bf 0 -c:a libopus -y "$T/talk.mkv"
	start_server
	spawn rx rvrecv -n rx media -o "$T/copy.mkv" --json
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	spawn cam rvsend -n cam -t rx media -i "$T/talk.mkv" --vcodec copy --acodec copy --re --json
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	IFS=, read -r codec w h frames < <(probe "$T/copy.mkv")
	assert_equal "$codec" h264
	((frames >= 115)) || fail "only $frames of 120 frames"
	IFS=, read -r acodec astart aframes < <(audio_of "$T/copy.mkv")
	assert_equal "$acodec" opus
	((aframes >= 180)) || fail "only $aframes of 200 audio frames"
	decodes "$T/copy.mkv"

	spawn ear rvrecv -n ear media -o "$T/voice.mka"
	wait_for_line "$T/ear.err" 'taking media over UDP' 5
	spawn mic rvsend -n mic -t ear media -f lavfi -i sine=frequency=300 --vcodec none --duration 3 --json
	wait_exit "$PID_mic" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_ear" 10
	assert_equal "$EXIT" 0
	[ "$(probe "$T/voice.mka")" = "" ]	# no video
	IFS=, read -r acodec astart aframes < <(audio_of "$T/voice.mka")
	assert_equal "$acodec" opus
	((aframes >= 140)) || fail "only $aframes of 150 audio frames"
	decodes "$T/voice.mka"
}

# pts_ms FILE: its video packets' presentation times in file (decode) order,
# in milliseconds from the first
pts_ms() {
	ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 "$1" |
		awk 'NR == 1 { t0 = $1 } { printf "%.0f\n", ($1 - t0) * 1000 }'
}

@test "relay: H.264 with B-frames sent as it is (--vcodec copy) keeps the input's presentation times and order" {
	ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 4 -c:v libx264 -bf 2 -g 30 -y "$T/bf.mp4"
	pts_ms "$T/bf.mp4" >"$T/in.pts"
	# decode order differs from presentation order: a B-frame shows before the P-frame before it
	awk 'NR > 1 && $1 < prev { found = 1 } { prev = $1 } END { exit !found }' "$T/in.pts" ||
		fail "the input has no B-frames"
	start_server
	spawn rx rvrecv -n rx media -o "$T/bf.mkv"
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	spawn cam rvsend -n cam -t rx media -i "$T/bf.mp4" --vcodec copy --re
	wait_exit "$PID_cam" 20
	assert_equal "$EXIT" 0
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	pts_ms "$T/bf.mkv" >"$T/out.pts"
	n=$(wc -l <"$T/out.pts")
	((n >= 90)) || fail "only $n of 120 frames"
	# the recording starts at a keyframe: from there, the same times in the same order
	steps() { awk 'NR > 1 { printf "%d,", $1 - prev } { prev = $1 }' "$1"; }
	[[ ",$(steps "$T/in.pts")" == *",$(steps "$T/out.pts")"* ]] ||
		fail "recorded $(paste -sd' ' "$T/out.pts"), sent $(paste -sd' ' "$T/in.pts")"
	decodes "$T/bf.mkv"
}

@test "relay: media from a pipe (ffmpeg -c copy -f nut - | rvsend media -i -), encoded again and recorded" {
	ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine -t 4 -c:v libx264 -g 30 \
		-c:a libopus "$T/in.mkv"
	start_server
	spawn rx rvrecv -n rx -g show media -o "$T/rx.mkv"
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	run timeout "$(secs 30)" bash -c "ffmpeg -v error -i '$T/in.mkv' -c copy -f nut - | rvsend -n cam -g show media -i -"
	assert_success
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	IFS=, read -r codec w h frames < <(probe "$T/rx.mkv")
	assert_equal "$codec" h264
	assert_equal "$w" 320
	((frames >= 115)) || fail "only $frames of 120 frames"
	IFS=, read -r acodec _ aframes < <(audio_of "$T/rx.mkv")
	assert_equal "$acodec" opus
	((aframes >= 190)) || fail "only $aframes of 200 audio frames"
	decodes "$T/rx.mkv"
}

@test "relay: a receiver that stops reading (TCP) loses packets; the others lose nothing" {
	start_server --max-queue 64K
	spawn slow python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --rcvbuf 4096 --timeout 20 \
		--hello slow:recv --frame '{"type":"join","seq":1,"group":"show"}' \
		--frame '{"type":"watch","seq":2}' --expect ok --expect ok --stall
	wait_for_line "$T/slow.out" '_stalled' 5
	spawn rx rvrecv -n rx -g show media -o "$T/rx.mkv" --json
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	# all keyframes at 50 Mbit/s: more than the kernel's buffers hide
	send cam -g show --duration 4 --size 1280x720 --gop 1 --bitrate 50M
	wait_exit "$PID_cam" 30
	assert_equal "$EXIT" 0
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	frames=$(frames_of "$T/rx.mkv")
	((frames >= 118)) || fail "the healthy receiver got only $frames of 120 frames: $(grep "\"media\"" "$T/rx.out")"
	[ "$(jq 'select(.event == "media") | .lost' "$T/rx.out")" -eq 0 ]
	[ "$(stat_of media.drops)" -gt 0 ]
	[ "$(stat_of media.lost)" -eq 0 ]
	decodes "$T/rx.mkv"
}

@test "relay: watch with media:false tells of the streams and sends none of their packets; watch sends them" {
	start_server
	for w in events media; do
		media=''
		[ "$w" = media ] || media=',"media":false'
		spawn "$w" python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --timeout 6 --hello "$w:recv" \
			--frame '{"type":"join","seq":1,"group":"show"}' --frame '{"type":"watch","seq":2'"$media"'}' \
			--expect ok --expect ok --expect stream
		wait_for_line "$T/$w.out" '"re": 2' 5
	done
	grep '"re": 2' "$T/events.out" | jq -e '.udp == null'	# no UDP to register
	grep '"re": 2' "$T/media.out" | jq -e '.udp.port > 0'
	send cam -g show --duration 3
	wait_exit "$PID_cam" 30
	wait_exit "$PID_events" 10
	wait_exit "$PID_media" 10
	grep '"type": "stream"' "$T/events.out" | jq -e '.from == "cam"'
	grep '"type": "stream-end"' "$T/events.out" | jq -e '.from == "cam"'
	[ "$(grep -c '"type": "media"' "$T/media.out")" -gt 30 ]	# framed on TCP: no UDP address
	[ "$(grep -c '"type": "media"' "$T/events.out")" -eq 0 ]
}

# listen_rtmp NAME ARG...: rvsend media --listen ARG... on a free port in
# 20000-40000 (another one when it lost the port to someone else); returns
# once it listens there, RTMP_URL its URL.
listen_rtmp() {
	local name=$1 port try i
	shift
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		ss -ltn | grep -q ":$port\b" && continue
		RTMP_URL="rtmp://127.0.0.1:$port/live/show"
		spawn "$name" rvsend -n "$name" media --listen "$RTMP_URL" "$@"
		for ((i = 0; i < 100 * RV_SLOW; i++)); do
			ss -ltn | grep -q "127.0.0.1:$port\b" && return 0
			alive "$(eval echo "\$PID_$name")" || break
			sleep 0.05
		done
		grep -q 'Address already in use' "$T/$name.err" || { cat "$T/$name.err" >&2; return 1; }
	done
	return 1
}

# publish URL SECONDS: ffmpeg publishes H.264 (25 fps, a keyframe a second) and AAC over RTMP
publish() {
	timeout "$(secs 15)" ffmpeg -v error -re -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine \
		-t "$2" -c:v libx264 -profile:v baseline -pix_fmt yuv420p -g 25 -c:a aac -f flv "$1"
}

@test "relay: rvsend media --listen takes an RTMP publisher (H.264 passed through), and exits 0 when it leaves" {
	start_server
	spawn rx rvrecv -n rx -g show media -o "$T/rx.mkv"
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	listen_rtmp cam -g show --vcodec copy --json
	run jq -r 'select(.event == "listening") | .url' "$T/cam.out"
	assert_output "$RTMP_URL"
	grep -q "rvsend: waiting for a publisher at $RTMP_URL" "$T/cam.err"
	run publish "$RTMP_URL" 3
	assert_success
	wait_exit "$PID_cam" 10
	assert_equal "$EXIT" 0
	grep -q 'a publisher is sending' "$T/cam.err"
	[ "$(jq 'select(.event == "media") | .frames' "$T/cam.out")" -eq 75 ]
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	IFS=, read -r codec w h frames < <(probe "$T/rx.mkv")
	assert_equal "$codec,$w,$h" h264,320,240
	((frames >= 60)) || fail "only $frames of 75 frames"
	IFS=, read -r acodec _ aframes < <(audio_of "$T/rx.mkv")
	assert_equal "$acodec" opus
	((aframes >= 120)) || fail "only $aframes of 150 audio frames"
	decodes "$T/rx.mkv"
}

@test "relay: rvsend media --listen: a publisher that stops sending ends the stream after --stall-timeout" {
	start_server
	spawn rx rvrecv -n rx -g show media -o "$T/rx.mkv"
	wait_for_line "$T/rx.err" 'taking media over UDP' 5
	listen_rtmp cam -g show --stall-timeout 2
	spawn pub ffmpeg -v error -re -f lavfi -i testsrc2=size=320x240:rate=25 -t 20 -c:v libx264 \
		-pix_fmt yuv420p -g 25 -f flv "$RTMP_URL"
	wait_for_line "$T/cam.err" 'streaming H264 320x240 to show' 10
	sleep 1
	kill -STOP "$(tool_pid "$PID_pub")"
	wait_exit "$PID_cam" 10
	kill -CONT "$(tool_pid "$PID_pub")"
	assert_equal "$EXIT" 0
	grep -q 'the publisher sent nothing for 2 s' "$T/cam.err"
	wait_exit "$PID_rx" 10
	assert_equal "$EXIT" 0
	frames=$(frames_of "$T/rx.mkv")
	((frames >= 10)) || fail "only $frames frames"
	decodes "$T/rx.mkv"
}
