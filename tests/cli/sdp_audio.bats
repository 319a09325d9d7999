#!/usr/bin/env bats
# rvrecv media --sdp with an m=audio section: ffmpeg sends H.264 and Opus
# (plain RTP or SRTP, each on its own port, RTCP on port+1) and writes the
# SDP; rvrecv records both tracks, lined up, without re-encoding.

load helpers

# helpers.bash's setup (a temporary folder in $T) runs first
eval "helpers_$(declare -f setup)"
setup() {
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || skip "ffmpeg is not installed"
	helpers_setup
}

# An even port P with P..P+3 free on 127.0.0.1 (video RTP/RTCP, audio RTP/RTCP).
free_port_block() {
	python3 -c "
import random, socket
start = random.randrange(20000, 60000, 4)
for p in list(range(start, 60000, 4)) + list(range(20000, start, 4)):
    try:
        socks = []
        for q in range(p, p + 4):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', q)); socks.append(s)
        print(p); break
    except OSError: pass"
}

wait_sdp() {
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done
	fail "no SDP written to $1"
}

# ffmpeg's output URL for PORT, with its own SRTP key when SRTP is set.
rtp_out() {
	if [ -n "${SRTP:-}" ]; then
		echo "-srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params $(openssl rand -base64 30) srtp://127.0.0.1:$1"
	else
		echo "rtp://127.0.0.1:$1"
	fi
}

# send_av PORT SECONDS: ffmpeg sends 320x240 H.264 (a keyframe a second)
# to PORT and Opus to PORT+2 and writes $T/s.sdp when it starts.
send_av() {
	# shellcheck disable=SC2046 # rtp_out's words are options
	spawn ff ffmpeg -hide_banner -loglevel error -re -t "$2" -f lavfi -i testsrc2=size=320x240:rate=30 \
		-re -t "$2" -f lavfi -i sine=frequency=440 \
		-map 0:v -c:v libx264 -tune zerolatency -bf 0 -g 30 -f rtp $(rtp_out "$1") \
		-map 1:a -c:a libopus -f rtp $(rtp_out $(($1 + 2))) -sdp_file "$T/s.sdp"
	wait_sdp "$T/s.sdp"
}

# streams FILE: "TYPE CODEC WIDTH HEIGHT FRAMES START" a line per stream.
streams() {
	ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,width,height,nb_read_frames,start_time \
		-of json "$1" | jq -r '.streams[] | "\(.codec_type) \(.codec_name) \(.width // 0) \(.height // 0) \(.nb_read_frames) \(.start_time)"'
}

# check_av FILE: H.264 320x240 with >= 60 frames and Opus with >= 100, the
# audio starting within 0.2 s of the video, and the file decodes cleanly.
check_av() {
	local out vstart astart
	out=$(streams "$1")
	echo "$out" | grep -qE '^video h264 320 240 ' || fail "no 320x240 H.264 in $1: $out"
	echo "$out" | grep -qE '^audio opus ' || fail "no Opus in $1: $out"
	read -r _ _ _ _ vframes vstart < <(echo "$out" | grep '^video')
	read -r _ _ _ _ aframes astart < <(echo "$out" | grep '^audio')
	((vframes >= 60)) || fail "only $vframes video frames: $out"
	((aframes >= 100)) || fail "only $aframes audio frames: $out"
	awk -v a="$astart" -v v="$vstart" 'BEGIN { d = a - v; exit !(d <= 0.2 && d >= -0.2) }' ||
		fail "audio starts at $astart, video at $vstart"
	run ffmpeg -v error -i "$1" -f null -
	assert_output ''
}

@test "rvrecv media --sdp: H.264 and Opus from ffmpeg as plain RTP, into one Matroska file" {
	port=$(free_port_block)
	send_av "$port" 12
	grep -q "^m=audio $((port + 2)) RTP/AVP" "$T/s.sdp"
	timeout "$(secs 20)" rvrecv --json media --sdp "$T/s.sdp" -o "$T/rec.mkv" --duration 4 \
		>"$T/rx.json" 2>"$T/rx.err" || fail "rvrecv failed: $(cat "$T/rx.err")"
	run jq -r 'select(.event == "media") | [.codec, .audio, (.frames >= 90), (.audio_frames >= 150), .audio_packets == .audio_frames + .audio_skipped] | @csv' "$T/rx.json"
	assert_output '"H264","opus",true,true,true'
	grep -q 'audio: [0-9]* packets' "$T/rx.err"
	check_av "$T/rec.mkv"
}

@test "rvrecv media --sdp: H.264 and Opus over SRTP with a key each, lined up by SRTCP sender reports" {
	port=$(free_port_block)
	SRTP=1 send_av "$port" 14
	[ "$(grep -c '^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:' "$T/s.sdp")" = 2 ] || fail "$(cat "$T/s.sdp")"
	run awk '/^a=crypto/ { print $3 }' "$T/s.sdp"
	[ "${lines[0]}" != "${lines[1]}" ] || fail "one key for both sections"
	# ffmpeg's second sender reports come about 5 s after its first
	timeout "$(secs 25)" rvrecv -v --json media --sdp "$T/s.sdp" -o "$T/rec.mkv" --duration 7 \
		>"$T/rx.json" 2>"$T/rx.err" || fail "rvrecv failed: $(cat "$T/rx.err")"
	grep -q 'lining up audio with video by their RTCP sender reports' "$T/rx.err" ||
		fail "no sender report was taken: $(cat "$T/rx.err")"
	if grep -q 'failed SRTP authentication' "$T/rx.err"; then
		fail "$(cat "$T/rx.err")"
	fi
	run jq -r 'select(.event == "media") | [(.frames >= 150), (.audio_frames >= 250)] | @csv' "$T/rx.json"
	assert_output 'true,true'
	check_av "$T/rec.mkv"
}

@test "rvrecv media --sdp: Opus alone (only an m=audio section) into WebM" {
	port=$(free_port_block)
	spawn ff ffmpeg -hide_banner -loglevel error -re -t 10 -f lavfi -i sine=frequency=440 \
		-c:a libopus -f rtp "rtp://127.0.0.1:$port" -sdp_file "$T/s.sdp"
	wait_sdp "$T/s.sdp"
	run grep -c '^m=video' "$T/s.sdp"
	assert_output 0
	timeout "$(secs 20)" rvrecv --json media --sdp "$T/s.sdp" -o "$T/rec.webm" --duration 3 \
		>"$T/rx.json" 2>"$T/rx.err" || fail "rvrecv failed: $(cat "$T/rx.err")"
	run jq -r 'select(.event == "media") | [.codec // "none", .frames, (.audio_frames >= 100)] | @csv' "$T/rx.json"
	assert_output '"none",0,true'
	run streams "$T/rec.webm"
	assert_success
	assert_equal "${#lines[@]}" 1
	read -r type codec _ _ frames _ <<<"${lines[0]}"
	assert_equal "$type $codec" "audio opus"
	((frames >= 100)) || fail "only $frames audio frames"
	run ffmpeg -v error -i "$T/rec.webm" -f null -
	assert_output ''
}

@test "rvrecv media --sdp: audio in a codec it does not take is a usage error without video" {
	port=$(free_port_block)
	printf 'v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n' "$port" >"$T/g722.sdp"
	run timeout "$(secs 10)" rvrecv media --sdp "$T/g722.sdp" -o "$T/x.mka"
	assert_equal "$status" 2
	assert_output --partial 'G722/8000 audio is not supported'
	[ ! -e "$T/x.mka" ]
	# with video next to it, the video alone is taken (nothing comes: --timeout)
	printf 'v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video %d RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio %d RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n' \
		"$port" $((port + 2)) >"$T/vg722.sdp"
	run timeout "$(secs 10)" rvrecv media --sdp "$T/vg722.sdp" -o "$T/x.mkv" --timeout 1
	assert_equal "$status" 6
	assert_output --partial 'video only'
	# an m=audio without its a=rtpmap names what is missing
	printf 'v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 97\r\n' "$port" >"$T/nortpmap.sdp"
	run timeout "$(secs 10)" rvrecv media --sdp "$T/nortpmap.sdp" -o "$T/x.mka"
	assert_equal "$status" 2
	assert_output --partial 'no a=rtpmap for payload type 97 of m=audio'
}
