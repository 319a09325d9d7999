#!/usr/bin/env bash
# demo.sh - what `make demo` runs: a relay on loopback, a scripted group
# chat between three members, then a test pattern streamed through the relay
# and recorded, and a summary. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RV_BIN:-$PWD/build/bin}
dir=$(mktemp -d /tmp/rvkit-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

wait_for() {	# wait_for FILE PATTERN: up to 5 s
	for _ in $(seq 50); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "demo: timed out waiting for '$2' in $1" >&2; return 1
}

echo "== rvserver on 127.0.0.1 (a free port)"
"$BIN/rvserver" -l 127.0.0.1 --port 0 --port-file "$dir/port" 2>"$dir/server.log" &
pids+=($!)
wait_for "$dir/server.log" "ready"
sed 's/^/   /' "$dir/server.log"
export RV_SERVER=127.0.0.1:$(head -1 "$dir/port")

# Each member's stdin is a FIFO the script writes lines into.
member() {	# member NAME GROUP
	mkfifo "$dir/$1.in"
	"$BIN/rvgroup" -n "$1" join "$2" <"$dir/$1.in" >"$dir/$1.out" 2>"$dir/$1.err" &
	pids+=($!)
	exec {fd}>"$dir/$1.in"
	eval "fd_$1=$fd"
	wait_for "$dir/$1.err" "joined $2"
}
say() {	# say NAME TEXT: NAME types a line
	local fd
	eval "fd=\$fd_$1"
	echo "$2" >&"$fd"
}

echo "== alice, bob and carol join ops (rvgroup join)"
member alice ops
member bob ops
member carol ops
say alice "morning all, standup in 5"
wait_for "$dir/carol.out" "standup in 5"
say bob "ack, joining"
wait_for "$dir/alice.out" "ack, joining"
say carol "@alice can you share the deploy notes?"
wait_for "$dir/alice.out" "deploy notes"
printf 'deploy 142 done\n' | "$BIN/rvgroup" -n ci post ops
wait_for "$dir/bob.out" "deploy 142 done"
echo "== members of ops (rvgroup members ops)"
"$BIN/rvgroup" members ops | sed 's/^/   /'
echo "== carol leaves (EOF on her stdin)"
eval "exec $fd_carol>&-"
wait_for "$dir/alice.out" "carol left ops"
say alice "bye"
wait_for "$dir/bob.out" "alice: bye"

for who in alice bob carol; do
	echo "== what $who saw"
	sed 's/^/   /' "$dir/$who.out"
done

# exited PID SECONDS: wait up to SECONDS for PID to exit; its status in $rc.
exited() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			rc=0
			wait "$1" 2>/dev/null || rc=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

media_demo() {
	echo "== cam streams a test pattern to the group show; studio records it"
	echo "   rvrecv -n studio -g show media -o show.mkv"
	echo "   rvsend -n cam -g show media -f lavfi -i testsrc2=size=320x240:rate=30 --duration 3"
	"$BIN/rvrecv" -n studio -g show media -o "$dir/show.mkv" >"$dir/studio.out" 2>"$dir/studio.err" &
	local studio=$!
	pids+=("$studio")
	if ! wait_for "$dir/studio.err" "taking media over"; then
		echo "   rvrecv media did not get ready; skipping the media part"
		sed 's/^/   /' "$dir/studio.err"
		return 0
	fi
	local cam=0
	timeout 30 "$BIN/rvsend" -n cam -g show media -f lavfi -i testsrc2=size=320x240:rate=30 \
		--duration 3 2>"$dir/cam.err" || cam=$?
	if [ "$cam" != 0 ]; then
		echo "   rvsend media failed (exit $cam), so the media part stops here (scripts/deps.sh installs FFmpeg):"
		sed 's/^/   /' "$dir/cam.err"
		return 0
	fi
	# rvrecv finishes the file and exits when the stream ends.
	rc=0
	if ! exited "$studio" 10; then
		echo "   rvrecv did not stop by itself: stopping it"
		kill -TERM "$studio" 2>/dev/null || true
		exited "$studio" 5 || kill -KILL "$studio" 2>/dev/null || true
	fi
	sed -e 's|'"$dir"'/||g' -e 's/^/   /' "$dir/cam.err" "$dir/studio.err"
	if [ ! -s "$dir/show.mkv" ]; then
		echo "   nothing was recorded (rvrecv exit $rc)"
		return 0
	fi
	local size
	size=$(wc -c <"$dir/show.mkv")
	if command -v ffprobe >/dev/null; then
		local codec w h frames
		IFS=, read -r codec w h frames < <(ffprobe -v error -count_frames -select_streams v:0 \
			-show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$dir/show.mkv" \
			2>/dev/null) || true
		echo "== recorded show.mkv: ${codec:-?} ${w:-?}x${h:-?}, ${frames:-?} frames, $size bytes (ffprobe)"
	else
		echo "== recorded show.mkv: $size bytes (install ffmpeg for ffprobe's view of it)"
	fi
}
media_demo

curl -s "http://$RV_SERVER/stats" >"$dir/stats" 2>/dev/null || true
if command -v jq >/dev/null && [ -s "$dir/stats" ]; then
	echo "== server /stats"
	jq -r '"   \(.connections) connections, \(.groups) group(s), \(.messages) messages in, \(.deliveries) deliveries, \(.slow_consumer_drops) slow-consumer drops"' "$dir/stats"
	jq -r 'select(.media) | .media | "   \(.streams_total) media stream(s), \(.packets_in) packets in, \(.packets_out) relayed, \(.drops) dropped, \(.feedback) RTCP feedback to the sender"' "$dir/stats"
fi
echo "== done: every process this demo started is stopped"
