#!/usr/bin/env bats
# rvsend media --rtp: encoded video as plain RTP, received by ffmpeg itself
# through the SDP rvsend writes, and checked with ffprobe.

load helpers

setup() {
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || skip "ffmpeg is not installed"
}

# receive SDP SECONDS OUT: ffmpeg records what the SDP describes
receive() {
	timeout "$(secs 20)" ffmpeg -hide_banner -loglevel error -protocol_whitelist file,udp,rtp \
		-i "$1" -t "$2" -c copy -y "$3"
}

free_even_port() {
	python3 -c "
import socket
for p in range(20000, 40000, 2):
    try:
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('127.0.0.1', p))
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(('127.0.0.1', p + 1))
        print(p); break
    except OSError: pass"
}

wait_sdp() {
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done
	fail "no SDP written to $1"
}

@test "rvsend media --rtp: H.264 from lavfi that ffmpeg records through the SDP" {
	port=$(free_even_port)
	spawn tx rvsend media -f lavfi -i testsrc2=size=320x240:rate=30 --duration 6 --gop 15 \
		--rtp "127.0.0.1:$port" --sdp "$T/s.sdp"
	wait_sdp "$T/s.sdp"
	run grep -c 'a=rtpmap:96 H264/90000' "$T/s.sdp"
	assert_output 1
	run grep -E 'packetization-mode=1;profile-level-id=42e01f;sprop-parameter-sets=[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+' "$T/s.sdp"
	assert_success
	run receive "$T/s.sdp" 2 "$T/out.mkv"
	assert_success
	run ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,width,height,nb_read_frames \
		-of csv=p=0 "$T/out.mkv"
	assert_success
	IFS=, read -r codec w h frames <<<"$output"
	assert_equal "$codec" h264
	assert_equal "$w" 320
	assert_equal "$h" 240
	# two seconds at 30 fps, from the first keyframe on (the GOP is half a second)
	((frames >= 30)) || fail "only $frames frames decoded"
}

@test "rvsend media --rtp: VP8 with --size scales, and --json reports what was sent" {
	port=$(free_even_port)
	spawn tx rvsend --json media -f lavfi -i testsrc2=size=640x480:rate=25 --vcodec vp8 --size 160x120 \
		--duration 4 --gop 10 --rtp "127.0.0.1:$port" --sdp "$T/v.sdp"
	wait_sdp "$T/v.sdp"
	run grep -c 'a=rtpmap:96 VP8/90000' "$T/v.sdp"
	assert_output 1
	run receive "$T/v.sdp" 2 "$T/out.webm"
	assert_success
	run ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,width,height,nb_read_frames \
		-of csv=p=0 "$T/out.webm"
	IFS=, read -r codec w h frames <<<"$output"
	assert_equal "$codec" vp8
	assert_equal "$w" 160
	assert_equal "$h" 120
	((frames >= 20)) || fail "only $frames frames decoded"
	wait_exit "$PID_tx" "$(secs 10)"
	run jq -r 'select(.event == "media") | [.codec, (.frames > 90), (.packets >= .frames)] | @csv' "$T/tx.out"
	assert_output '"VP8",true,true'
}

@test "rvsend media: usage errors and a missing input are clear" {
	run rvsend media
	assert_equal "$status" 2
	assert_output --partial 'media needs -i INPUT'
	run rvsend media -i x --sdp s.sdp
	assert_equal "$status" 2
	run rvsend media -f lavfi -i nosuchfilter --rtp 127.0.0.1:5004
	assert_equal "$status" 1
	assert_output --partial 'nosuchfilter'
	run rvsend media -i "$T/missing.mp4" --rtp 127.0.0.1:5004
	assert_equal "$status" 1
	assert_output --partial 'missing.mp4'
}
