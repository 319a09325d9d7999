#!/usr/bin/env bats
# rvsend media --rtp: encoded video as plain RTP, received by ffmpeg itself
# through the SDP rvsend writes, and checked with ffprobe.

load helpers
bats_require_minimum_version 1.5.0

# helpers.bash's setup (a temporary folder in $T) runs first
eval "helpers_$(declare -f setup)"
setup() {
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || skip "ffmpeg is not installed"
	helpers_setup
}

# receive SDP SECONDS OUT: ffmpeg records what the SDP describes
receive() {
	timeout "$(secs 20)" ffmpeg -hide_banner -loglevel error -protocol_whitelist file,udp,rtp \
		-i "$1" -t "$2" -c copy -y "$3"
}

# free_even_port [N]: an even port P with P..P+N-1 free (N: 2, or 4 for video and audio)
free_even_port() {
	python3 -c "
import random, socket
start = random.randrange(20000, 60000, 4)
for p in list(range(start, 60000, 4)) + list(range(20000, start, 4)):
    try:
        s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(${1:-2})]
        for i, x in enumerate(s): x.bind(('127.0.0.1', p + i))
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

# streams_of FILE: "codec,start,frames" per stream, video first
streams_of() {
	ffprobe -v error -count_frames -show_entries stream=codec_name,start_time,nb_read_frames -of csv=p=0 "$1" | sort -r
}

@test "rvsend media --rtp: video and audio from two inputs to two ports; ffmpeg records both, plain and SRTP" {
	for srtp in none aes_cm_128_hmac_sha1_80; do
		port=$(free_even_port 4)
		rm -f "$T/av.sdp"
		spawn tx rvsend --json media -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440 \
			--duration 6 --gop 15 --rtp "127.0.0.1:$port" --sdp "$T/av.sdp" --srtp "$srtp"
		wait_sdp "$T/av.sdp"
		grep -q "^m=video $port RTP/" "$T/av.sdp"
		grep -q "^m=audio $((port + 2)) RTP/" "$T/av.sdp"
		grep -q '^a=rtpmap:111 opus/48000/2' "$T/av.sdp"
		# SRTP: a key of its own in each section
		if [ "$srtp" = none ]; then
			run grep -c '^a=crypto' "$T/av.sdp"
			assert_output 0
		else
			run bash -c "grep '^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:' '$T/av.sdp' | sort -u | wc -l"
			assert_output 2
		fi
		run timeout "$(secs 20)" ffmpeg -hide_banner -loglevel error -protocol_whitelist file,udp,rtp,srtp \
			-i "$T/av.sdp" -t 3 -c copy -y "$T/av.mkv"
		assert_success
		mapfile -t got < <(streams_of "$T/av.mkv")
		IFS=, read -r vcodec _ vframes <<<"${got[1]}"
		IFS=, read -r acodec _ aframes <<<"${got[0]}"
		assert_equal "$vcodec" h264
		assert_equal "$acodec" opus
		((vframes >= 45)) || fail "$srtp: only $vframes video frames"
		((aframes >= 100)) || fail "$srtp: only $aframes audio frames"
		# (only the video: ffmpeg, joining mid-stream, shifts the audio it got
		# before the audio's first sender report, and its own file can hold two
		# audio packets of one time; rvrecv --sdp does not)
		run ffmpeg -v error -i "$T/av.mkv" -map 0:v -f null -
		assert_output ''
		wait_exit "$PID_tx" "$(secs 10)"
		assert_equal "$EXIT" 0
		run jq -r 'select(.event == "media") | [.codec, .frames, .audio_frames > 290] | @csv' "$T/tx.out"
		assert_output '"H264",180,true'
	done
	# audio alone goes to the port itself
	port=$(free_even_port)
	run rvsend media -f lavfi -i sine --duration 1 --rtp "127.0.0.1:$port" --sdp "$T/a.sdp"
	assert_success
	run bash -c "grep '^m=' '$T/a.sdp' | tr -d '\\r'"
	assert_output "m=audio $port RTP/AVP 111"
}

@test "rvsend media: usage errors and a missing input are clear" {
	run rvsend media
	assert_equal "$status" 2
	assert_output --partial 'media needs -i INPUT'
	run rvsend media -i x --sdp s.sdp
	assert_equal "$status" 2
	run rvsend media -f lavfi -i sine --vcodec none --acodec none --rtp 127.0.0.1:5004
	assert_equal "$status" 2
	assert_output --partial 'nothing to send'
	run rvsend media -f lavfi -i testsrc2 --rtp 127.0.0.1:65534
	assert_equal "$status" 2
	assert_output --partial 'audio to PORT+2'
	run rvsend media -f lavfi -i nosuchfilter --rtp 127.0.0.1:5004
	assert_equal "$status" 1
	assert_output --partial 'nosuchfilter'
	run rvsend media -i "$T/missing.mp4" --rtp 127.0.0.1:5004
	assert_equal "$status" 1
	assert_output --partial 'missing.mp4'
}

@test "rvsend media --listen: usage errors, a busy port and no publisher are clear" {
	run rvsend media --listen rtmp://127.0.0.1:1935/live/show -f lavfi -i testsrc2
	assert_equal "$status" 2
	assert_output --partial '--listen and -i do not go together'
	run rvsend media --listen http://127.0.0.1:1935/live/show
	assert_equal "$status" 2
	assert_output --partial 'expected an rtmp:// URL'
	run rvsend media -f lavfi -i testsrc2 --listen-timeout 1 --rtp 127.0.0.1:5004
	assert_equal "$status" 2
	assert_output --partial '--listen-timeout goes with --listen'
	start_server	# its port is taken
	run timeout "$(secs 10)" rvsend media --listen "rtmp://127.0.0.1:$SERVER_PORT/live/show" --rtp 127.0.0.1:5004
	assert_equal "$status" 1
	assert_output --partial "rvsend: rtmp://127.0.0.1:$SERVER_PORT/live/show: Address already in use"
	stop_pid "$SERVER_PID"	# its port is free now
	run timeout "$(secs 10)" rvsend media --listen "rtmp://127.0.0.1:$SERVER_PORT/live/show" --listen-timeout 1 \
		--rtp 127.0.0.1:5004 --json
	assert_equal "$status" 6
	assert_output --partial "no publisher came to rtmp://127.0.0.1:$SERVER_PORT/live/show within 1 s"
	assert_line "{\"event\":\"listening\",\"url\":\"rtmp://127.0.0.1:$SERVER_PORT/live/show\"}"
	# SIGINT ends the wait: status 1, as for a signal before encoding began
	spawn wait rvsend media --listen "rtmp://127.0.0.1:$SERVER_PORT/live/show" --rtp 127.0.0.1:5004
	wait_for_line "$T/wait.err" 'waiting for a publisher' 5
	kill -INT "$(tool_pid "$PID_wait")"
	wait_exit "$PID_wait" 5
	assert_equal "$EXIT" 1
	grep -q 'interrupted while waiting for a publisher' "$T/wait.err"
}

@test "rvrecv media --sdp: rvsend's RTP recorded to Matroska without re-encoding; the frames it counts are the file's" {
	port=$(free_even_port)
	# a keyframe a second: rvrecv most likely starts between two, and skips the frames before the next
	spawn tx rvsend media -f lavfi -i testsrc2=size=320x240:rate=30 --duration 8 --gop 30 \
		--rtp "127.0.0.1:$port" --sdp "$T/s.sdp"
	wait_sdp "$T/s.sdp"
	timeout "$(secs 20)" rvrecv --json media --sdp "$T/s.sdp" -o "$T/rec.mkv" --duration 3 \
		>"$T/rx.json" 2>"$T/rx.err" || fail "rvrecv failed: $(cat "$T/rx.err")"
	run jq -r 'select(.event == "media") | [.codec, .lost, (.frames >= 60), (.keyframes >= 2)] | @csv' "$T/rx.json"
	assert_output '"H264",0,true,true'
	run ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,width,height,nb_read_frames \
		-of csv=p=0 "$T/rec.mkv"
	IFS=, read -r codec w h frames <<<"$output"
	assert_equal "$codec" h264
	assert_equal "$w" 320
	assert_equal "$h" 240
	((frames >= 60)) || fail "only $frames frames in the recording"
	assert_equal "$(jq 'select(.event == "media") | .frames' "$T/rx.json")" "$frames"
}

@test "rvrecv media --sdp: rvsend's video and audio (SRTP, a key each) recorded in step" {
	port=$(free_even_port 4)
	spawn tx rvsend media -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440 \
		--duration 8 --gop 15 --rtp "127.0.0.1:$port" --sdp "$T/av.sdp" --srtp aead_aes_128_gcm
	wait_sdp "$T/av.sdp"
	timeout "$(secs 20)" rvrecv -v --json media --sdp "$T/av.sdp" -o "$T/av.mkv" --duration 4 \
		>"$T/rx.json" 2>"$T/rx.err" || fail "rvrecv failed: $(cat "$T/rx.err")"
	run jq -r 'select(.event == "media") | [.codec, .lost, .audio_lost, (.frames >= 90), (.audio_frames >= 150)] | @csv' \
		"$T/rx.json"
	assert_output '"H264",0,0,true,true'
	# the tracks lined up by rvsend's sender reports, which came with the first frames
	grep -q 'by their RTCP sender reports' "$T/rx.err" || fail "no line-up by sender reports: $(cat "$T/rx.err")"
	mapfile -t got < <(streams_of "$T/av.mkv")
	IFS=, read -r vcodec vstart vframes <<<"${got[1]}"
	IFS=, read -r acodec astart aframes <<<"${got[0]}"
	assert_equal "$vcodec" h264
	assert_equal "$acodec" opus
	((vframes >= 90)) || fail "only $vframes video frames"
	((aframes >= 150)) || fail "only $aframes audio frames"
	# what it says it wrote is what the file has
	run jq -r 'select(.event == "media") | [.frames, .audio_frames] | @csv' "$T/rx.json"
	assert_output "$vframes,$aframes"
	awk -v v="$vstart" -v a="$astart" 'BEGIN { d = a - v; exit !(d > -0.05 && d < 0.05) }' ||
		fail "audio starts at $astart s, video at $vstart s"
	run ffmpeg -v error -i "$T/av.mkv" -f null -
	assert_output ''
}

@test "rvrecv media: after kill -9 the Matroska file plays up to about its last second" {
	port=$(free_even_port)
	spawn tx rvsend media -f lavfi -i testsrc2=size=320x240:rate=30 --duration 10 --gop 15 \
		--rtp "127.0.0.1:$port" --sdp "$T/s.sdp"
	wait_sdp "$T/s.sdp"
	spawn rx rvrecv media --sdp "$T/s.sdp" -o "$T/crash.mkv"
	sleep 4
	kill_hard "$PID_rx"
	run ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$T/crash.mkv"
	assert_success
	# about four seconds were recorded; all but the last second must play
	((output >= 60)) || fail "only $output frames survived the crash"
}

@test "rvrecv media: a bad SDP is a usage error" {
	printf 'v=0\r\nc=IN IP4 127.0.0.1\r\n' >"$T/bad.sdp"
	run rvrecv media --sdp "$T/bad.sdp" -o "$T/x.mkv"
	assert_equal "$status" 2
	assert_output --partial 'm=video'
	printf 'v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n' >"$T/h265.sdp"
	run rvrecv media --sdp "$T/h265.sdp" -o "$T/x.mkv"
	assert_equal "$status" 2
	assert_output --partial 'H265'
}

@test "rvsend media --rtp --srtp: ffmpeg decrypts it through the SDP's a=crypto line" {
	port=$(free_even_port)
	spawn tx rvsend media -f lavfi -i testsrc2=size=320x240:rate=30 --duration 6 --gop 15 \
		--rtp "127.0.0.1:$port" --sdp "$T/s.sdp" --srtp aes_cm_128_hmac_sha1_80
	wait_sdp "$T/s.sdp"
	run grep -E '^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}' "$T/s.sdp"
	assert_success
	grep -q "^m=video $port RTP/SAVP 96" "$T/s.sdp"
	run timeout "$(secs 20)" ffmpeg -hide_banner -loglevel error -protocol_whitelist file,udp,rtp,srtp \
		-i "$T/s.sdp" -t 2 -c copy -y "$T/out.mkv"
	assert_success
	frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$T/out.mkv")
	((frames >= 30)) || fail "only $frames frames decrypted and decoded"
}

@test "rvsend media --rtp: the first sequence number is below 2^15, so a receiver joining late never sees an early wrap" {
	# (SDES receivers take SRTP's rollover counter to be 0 when they join:
	# a wrap before that fails every packet's authentication.) 10 runs,
	# which an unrestricted 16-bit start passes with odds of 1 in 1,024.
	for _ in $(seq 10); do
		port=$(free_even_port)
		run timeout "$(secs 10)" python3 -c "
import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', $port)); s.settimeout(5)
tx = subprocess.Popen(['rvsend', 'media', '-f', 'lavfi', '-i', 'sine', '--duration', '0.2',
                       '--rtp', '127.0.0.1:$port', '--sdp', '$T/a.sdp'],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
p = s.recv(2048)
tx.wait()
print(int.from_bytes(p[2:4], 'big'))"
		assert_success
		((output < 32768)) || fail "the first sequence number was $output"
	done
}

@test "rvrecv media --sdp: ffmpeg's H.264 and G.711 (PCMU on static payload type 0, no rtpmap) recorded as they came" {
	port=$(free_even_port 4)
	spawn ff ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=30 \
		-f lavfi -i sine=f=440:r=8000 -t 6 -map 0:v -c:v libx264 -profile:v baseline -tune zerolatency -g 15 \
		-f rtp "rtp://127.0.0.1:$port" -map 1:a -c:a pcm_mulaw -f rtp "rtp://127.0.0.1:$((port + 2))" \
		-sdp_file "$T/g.sdp"
	wait_sdp "$T/g.sdp"
	grep -q '^m=audio [0-9]* RTP/AVP 0' "$T/g.sdp"
	! grep -q '^a=rtpmap:0 ' "$T/g.sdp"
	run timeout "$(secs 20)" rvrecv --json media --sdp "$T/g.sdp" -o "$T/g.mkv" --duration 3
	assert_success
	assert_output --partial '"audio":"PCMU"'
	run ffprobe -v error -count_packets -show_entries stream=codec_name,sample_rate,channels,nb_read_packets \
		-of csv=p=0 "$T/g.mkv"
	assert_line --regexp '^h264,[0-9]+$'
	assert_line --regexp '^pcm_mulaw,8000,1,[0-9]+$'
	run ffmpeg -v error -i "$T/g.mkv" -f null -
	assert_success
	assert_output ''
}

@test "rvrecv media --sdp: records what ffmpeg itself sends as SRTP (srtp://, its own SDP with a=crypto)" {
	port=$(free_even_port)
	key=$(openssl rand -base64 30)
	spawn ff ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=30 -t 6 \
		-c:v libx264 -profile:v baseline -tune zerolatency -g 15 -f rtp \
		-srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params "$key" -sdp_file "$T/ff.sdp" \
		"srtp://127.0.0.1:$port"
	wait_sdp "$T/ff.sdp"
	grep -q '^a=crypto:' "$T/ff.sdp"
	run timeout "$(secs 20)" rvrecv media --sdp "$T/ff.sdp" -o "$T/rec.mkv" --duration 3
	assert_success
	run ffprobe -v error -count_frames -select_streams v -show_entries stream=codec_name,width,height,nb_read_frames \
		-of csv=p=0 "$T/rec.mkv"
	IFS=, read -r codec w h frames <<<"$output"
	assert_equal "$codec" h264
	assert_equal "$w" 320	# from the SPS: ffmpeg's SDP has no a=framesize
	((frames >= 60)) || fail "only $frames frames"
	run ffmpeg -v error -i "$T/rec.mkv" -f null -
	assert_output ''
	# the wrong key: every packet fails authentication, nothing is recorded
	sed "s#inline:[^ |]*#inline:$(openssl rand -base64 30)#" "$T/ff.sdp" >"$T/wrong.sdp"
	spawn ff2 ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=30 -t 4 \
		-c:v libx264 -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params "$key" \
		"srtp://127.0.0.1:$port"
	run timeout "$(secs 20)" rvrecv media --sdp "$T/wrong.sdp" -o "$T/wrong.mkv" --timeout 3
	assert_equal "$status" 6
	assert_output --partial 'failed SRTP authentication'
}

@test "rvsend media --acodec pcmu/pcma: G.711 at 8 kHz on static payload types, through the SDP to ffmpeg and through rvserver to rvrecv" {
	port=$(free_even_port)
	spawn tx rvsend media -f lavfi -i sine=frequency=440:sample_rate=44100 --vcodec none --acodec pcmu \
		--duration 4 --rtp "127.0.0.1:$port" --sdp "$T/u.sdp"
	wait_sdp "$T/u.sdp"
	grep -q '^m=audio [0-9]* RTP/AVP 0' "$T/u.sdp"
	grep -q '^a=rtpmap:0 PCMU/8000' "$T/u.sdp"
	run receive "$T/u.sdp" 2 "$T/u.mkv"
	assert_success
	run ffprobe -v error -show_entries stream=codec_name,sample_rate,channels -of csv=p=0 "$T/u.mkv"
	assert_output 'pcm_mulaw,8000,1'
	# through rvserver: the stream says PCMA at 8000 Hz, rvrecv records it as it came, 20 ms a packet
	start_server
	spawn rec rvrecv -n rec media -o "$T/a.mkv" --duration 4
	wait_for_line "$T/rec.err" 'connected to' 5
	run --separate-stderr timeout "$(secs 20)" rvsend -n cam -t rec --json media -f lavfi -i sine=frequency=440:sample_rate=44100 \
		--vcodec none --acodec pcma --duration 2
	assert_success
	[ "$(jq -r 'select(.event == "media") | .audio_frames' <<<"$output")" -eq 100 ]
	wait_exit "$PID_rec" "$(secs 10)"
	run ffprobe -v error -show_entries stream=codec_name,sample_rate,channels -show_entries format=duration \
		-of csv=p=0 "$T/a.mkv"
	assert_line 'pcm_alaw,8000,1'
	assert_line --regexp '^(1\.[6-9]|2\.[0-4])'	# about the 2 s sent
	# a 440 Hz tone, not silence: its level well above the floor
	level=$(ffmpeg -v info -i "$T/a.mkv" -af astats=measure_overall=RMS_level -f null - 2>&1 |
		sed -n 's/.*RMS level dB: \(-*[0-9.]*\).*/\1/p' | tail -1)
	awk -v l="$level" 'BEGIN { exit !(l > -30) }' || fail "RMS level $level dB"
}
