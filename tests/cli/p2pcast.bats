#!/usr/bin/env bats
# p2pcast.bats - rvsend --p2p and rvrecv --p2p: a live stream relayed among
# the peers of a group, real processes on 127.0.0.1, rvserver only
# introducing them (its UDP port).

load helpers
bats_require_minimum_version 1.5.0

# cast_setup: rvserver, and a group spec that it introduces.
cast_setup() {
	start_server
	SPEC=$(rvgroup p2p spec new cast.example --key "$T/owner.key" 2>/dev/null)
	[ -n "$SPEC" ]
}

# receiver NAME [ARG...]: rvrecv --p2p recording into $T/NAME.mkv, until stopped.
receiver() {
	local name=$1
	shift
	spawn "$name" rvrecv media --p2p "$SPEC" --server "127.0.0.1:$SERVER_UDP_PORT" -o "$T/$name.mkv" --json -v \
		--key "$T/$name.key" "$@"
	wait_for_line "$T/$name.err" 'joined the peer group' 10
}

# publish NAME SECONDS [ARG...]: rvsend --p2p of lavfi's testsrc2 (10 fps,
# a keyframe a second) in the background.
publish() {
	local name=$1 secs=$2
	shift 2
	spawn "$name" rvsend media --p2p "$SPEC" --server "127.0.0.1:$SERVER_UDP_PORT" --key "$T/$name.key" --json -v \
		-f lavfi -i testsrc2=size=160x120:rate=10 --gop 10 --duration "$secs" "$@"
}

# finish PUBLISHER RECEIVER...: the publisher's end (it stays for the last
# pulls), then the receivers stopped: each finishes its file.
finish() {
	local pub=$1 name
	shift
	wait_exit "$(eval echo "\$PID_$pub")" 30
	for name in "$@"; do
		stop_pid "$(eval echo "\$PID_$name")"
	done
}

# frames FILE: the video frames ffprobe decodes in FILE.
frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }

# decodes FILE: ffmpeg reads it all without an error.
decodes() {
	local errs
	errs=$(ffmpeg -nostdin -v error -i "$1" -f null - 2>&1)
	[ -z "$errs" ] || { echo "# $1: $errs" >&2; return 1; }
}

# info NAME FIELD: the NetStream.MulticastInfo counter of NAME's JSON output.
info() { jq -r "select(.event == \"NetStream.MulticastInfo\") | .$2" "$T/$1.out"; }

@test "p2pcast: one publisher, 5 receivers: every recording is whole and decodes, the publisher uploads at most 5x" {
	cast_setup
	local r
	for r in r1 r2 r3 r4 r5; do receiver "$r"; done
	publish tx 4
	finish tx r1 r2 r3 r4 r5
	jq -e 'select(.event == "media") | .frames == 40' "$T/tx.out"
	local published up
	published=$(info tx bytesPublished)
	up=$(($(info tx bytesPushedToPeers) + $(info tx bytesRequestedByPeers)))
	echo "# publisher: $published bytes published, $up bytes uploaded to peers"
	((published > 0 && up >= published && up <= 5 * published))	# push limit 4: at most 4 + 1 copies
	local relayed=0
	for r in r1 r2 r3 r4 r5; do
		[ "$(frames "$T/$r.mkv")" -eq 40 ] || {
			echo "# $r: $(frames "$T/$r.mkv") frames" >&2
			for x in tx r1 r2 r3 r4 r5; do
				echo "# $x: $(jq -c 'select(.event == "NetStream.MulticastInfo")' "$T/$x.out")"
			done >&2
			false
		}
		decodes "$T/$r.mkv"
		[ "$(info "$r" skipped)" -eq 0 ]
		[ "$(info "$r" first)" -eq 0 ]
		relayed=$((relayed + $(info "$r" fragmentsPushedToPeers) + $(info "$r" fragmentsRequestedByPeers)))
	done
	((relayed > 0))	# the receivers relayed to each other
	# rvserver carried no media: it only introduced
	[ "$(curl -sf "http://127.0.0.1:$SERVER_PORT/metrics" | awk '$1 == "rvserver_p2p_relayed_total" { print $2 }')" = 0 ]
}

@test "p2pcast: a receiver that joins mid-stream records from a keyframe, and decodes" {
	cast_setup
	receiver r1
	publish tx 14
	wait_for_line "$T/r1.err" 'receiving H264 from the peer group' 20
	# r1 has more than the 8 s window of the stream (about 44 kB a second):
	# a receiver coming now cannot take it from the start
	local i
	for ((i = 0; i < 300 * RV_SLOW; i++)); do
		[ "$(stat -c %s "$T/r1.mkv" 2>/dev/null || echo 0)" -gt 450000 ] && break
		sleep 0.1
	done
	receiver late
	finish tx r1 late
	[ "$(frames "$T/r1.mkv")" -eq 140 ]
	decodes "$T/late.mkv"
	local n first key
	n=$(frames "$T/late.mkv")
	first=$(info late first)
	echo "# the late receiver started at fragment $first and recorded $n frames"
	((first > 0 && n > 0 && n < 140))
	# its first frame is a keyframe
	key=$(ffprobe -v error -select_streams v:0 -show_frames -read_intervals '%+#1' \
		-show_entries frame=key_frame -of csv=p=0 "$T/late.mkv" | head -1)
	[ "$key" = 1 ]
	[ "$(jq -r 'select(.event == "media") | .skipped' "$T/late.out")" = 0 ]
}

@test "p2pcast: with 5% of datagrams lost (RV_TEST_IMPAIR) at every peer, every recording still decodes" {
	cast_setup
	local r
	export RV_TEST_IMPAIR=loss=0.05
	for r in r1 r2 r3 r4; do receiver "$r"; done
	publish tx 4
	finish tx r1 r2 r3 r4
	unset RV_TEST_IMPAIR
	local pulled=0
	for r in r1 r2 r3 r4; do
		decodes "$T/$r.mkv"
		[ "$(frames "$T/$r.mkv")" -gt 0 ]
		pulled=$((pulled + $(info "$r" fragmentsRequestedFromPeers)))
		echo "# $r: $(frames "$T/$r.mkv") frames, $(info "$r" skipped) fragments given up"
	done
	((pulled > 0))	# what push lost was pulled
}

@test "p2pcast: video and audio from two inputs, both recorded from the stream's start" {
	cast_setup
	receiver r1
	publish tx 3 -f lavfi -i sine=frequency=440
	finish tx r1
	decodes "$T/r1.mkv"
	[ "$(frames "$T/r1.mkv")" -eq 30 ]
	local audio
	audio=$(ffprobe -v error -count_frames -select_streams a:0 -show_entries stream=codec_name,nb_read_frames -of csv=p=0 "$T/r1.mkv")
	echo "# audio: $audio"
	[[ $audio == opus,* ]] && ((${audio#opus,} > 100))	# 3 s of 20 ms frames
}

@test "p2pcast: --p2p usage errors exit 2" {
	run -2 rvsend media --p2p x --rtp 127.0.0.1:5000 -f lavfi -i testsrc2
	[[ $stderr == *"--rtp and --p2p"* ]] || [[ $output == *"--rtp and --p2p"* ]]
	run -2 rvsend media --push-limit 3 -f lavfi -i testsrc2
	run -2 rvsend media --p2p x --push-limit 0 -f lavfi -i testsrc2
	run -2 rvrecv media --p2p x --sdp f.sdp
	run -2 rvrecv media --key k.pem
	# a spec that does not parse
	run -2 rvrecv media --p2p not-a-spec -o "$T/x.mkv"
}
