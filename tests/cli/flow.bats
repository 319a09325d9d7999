#!/usr/bin/env bats
# A slow or dead peer costs only itself: rvserver's flow control, monitors
# ("gone" events), and what rvsend and rvrecv do when the other side stalls,
# dies or is interrupted. Real processes on 127.0.0.1.

load helpers

# until_size FILE BYTES: wait (bounded) until FILE holds at least BYTES.
until_size() {
	local deadline=$(($(date +%s) + 20 * RV_SLOW))
	while (($(size "$1") < $2)); do
		(($(date +%s) < deadline)) || fail "$1 did not reach $2 bytes: $(ls -l "$(dirname "$1")")"
		sleep 0.01
	done
}

@test "flow: a group file send with one stalled receiver: the others get it all, the stalled one is reported, exit 1" {
	# rvserver with its defaults; rvsend's stall timer set far out, so that
	# only knowing carol is gone or left behind can end the transfer in time
	start_server
	for r in bob carol; do
		mkdir "$T/dir_$r"
		recv "$r" -g team file --dir "$T/dir_$r"
	done
	random "$T/big.bin" 120
	spawn alice rvsend -n alice -g team --stall-timeout 120 file "$T/big.bin"
	until_size "$T/dir_carol/big.bin.part" $((1024 * 1024))
	kill -STOP "$(tool_pid "$PID_carol")"
	echo "# carol stopped at $(size "$T/dir_carol/big.bin.part") bytes" >&3
	t0=$(date +%s%N)
	wait_exit "$PID_alice" 40
	echo "# rvsend ended $((($(date +%s%N) - t0) / 1000000)) ms after the stall" >&3
	kill -CONT "$(tool_pid "$PID_carol")"
	assert_equal "$EXIT" 1
	cmp "$T/big.bin" "$T/dir_bob/big.bin"
	count_lines "$T/bob.out" '^saved ' 1 5
	run cat "$T/alice.err"
	assert_output --partial 'bob has it'
	assert_output --partial 'carol: dropped by the server as a slow consumer'
	refute_output --partial 'no such client'
	[ ! -e "$T/dir_carol/big.bin" ]
}

@test "flow: --stall-timeout 3 drops only the stalled receiver, never the one that keeps up" {
	start_server
	for r in bob carol; do
		mkdir "$T/dir_$r"
		recv "$r" -g team file --dir "$T/dir_$r"
	done
	random "$T/big.bin" 60
	spawn alice rvsend -n alice -g team --stall-timeout 3 file "$T/big.bin"
	until_size "$T/dir_carol/big.bin.part" $((1024 * 1024))
	kill -STOP "$(tool_pid "$PID_carol")"
	wait_exit "$PID_alice" 20
	kill -CONT "$(tool_pid "$PID_carol")"
	assert_equal "$EXIT" 1
	cmp "$T/big.bin" "$T/dir_bob/big.bin"
	run cat "$T/alice.err"
	assert_output --partial 'bob has it'
	refute_output --regexp 'bob: (stalled|dropped)'
}

@test "flow: a stalled chat member delays nobody: the others get every message long before --slow-timeout" {
	# Without per-receiver flow control the poster is held until the stalled
	# member's --slow-timeout (60 s here) drops it.
	start_server --max-queue 1M --slow-timeout 60
	start_member bob -n bob join ops
	wait_for_line "$T/bob.err" 'joined ops' 5
	spawn slow python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --rcvbuf 4096 \
		--hello slow --frame '{"type":"join","seq":1,"group":"ops"}' --expect ok --stall --timeout 80
	wait_for_line "$T/slow.out" '_stalled' 5
	python3 -c "
import sys
for i in range(20000): sys.stdout.write('%05d %s\\n' % (i, 'x' * 1000))" >"$T/flood.txt"
	run timeout "$(secs 30)" rvgroup -n flood post ops <"$T/flood.txt"
	assert_success
	count_lines "$T/bob.out" '^\[ops\] flood: [0-9]{5} x{1000}$' 20000 20
	run diff <(grep -oE '^\[ops\] flood: [0-9]{5}' "$T/bob.out" | cut -d' ' -f3) <(cut -c1-5 "$T/flood.txt")
	assert_success
	# the stalled member is the one dropped, at its own cap
	run grep 'dropping slow consumer' "$SERVER_ERR"
	assert_output --partial 'dropping slow consumer slow'
	refute_output --partial 'dropping slow consumer bob'
	alive "$PID_bob"
}

@test "flow: a sender that feeds only a stalled receiver is held back, and nothing is lost when it resumes" {
	start_server --max-queue 256K --slow-timeout 30
	spawn bob rvrecv -n bob cmd
	wait_for_line "$T/bob.err" 'connected to' 5
	python3 -c "
import sys
for i in range(10000): sys.stdout.write('%05d %s\\n' % (i, 'y' * 2000))" >"$T/cmds.txt"
	kill -STOP "$(tool_pid "$PID_bob")"
	spawn alice bash -c "exec rvsend -n alice -t bob cmd <'$T/cmds.txt'"
	sleep 2
	run stat_of sender_pauses
	(( output >= 1 )) || fail "the sender was not held back: sender_pauses=$output"
	kill -CONT "$(tool_pid "$PID_bob")"
	wait_exit "$PID_alice" 20
	assert_equal "$EXIT" 0
	count_lines "$T/bob.out" 'y{2000}$' 10000 20
	run stat_of slow_consumer_drops
	assert_output 0
}

@test "flow: monitor: a gone event when the watched client dies; no-such-client when it is not there" {
	start_server
	start_member bob -n bob join ops
	wait_for_line "$T/bob.err" 'joined ops' 5
	spawn w python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --hello watcher:send \
		--frame '{"type":"monitor","seq":1,"id":"bob"}' --expect ok \
		--frame '{"type":"monitor","seq":2,"id":"nobody"}' --expect error --expect gone --timeout 10
	wait_for_line "$T/w.out" '"re": 2' 5
	kill_hard "$PID_bob"
	wait_for_line "$T/w.out" '"type": "gone"' 5
	run grep '"type": "gone"' "$T/w.out"
	assert_output --partial '"id": "bob"'
	assert_output --partial '"code": "closed"'
	run grep '"re": 2' "$T/w.out"
	assert_output --partial '"code": "no-such-client"'
	# bad requests are refused, the session goes on
	run rvclient --hello x:send --frame '{"type":"monitor","seq":1,"id":"bad id"}' --expect error \
		--frame '{"type":"ping","seq":2}' --expect pong --quit
	assert_success
	assert_output --partial '"code": "bad-request"'
}

@test "flow: rvrecv data ends with 'sender gone' when the sender is killed -9" {
	start_server
	recv bob data
	mkfifo "$T/fifo"
	exec {w}<>"$T/fifo"
	echo hello >&$w
	spawn alice rvsend -n alice -t bob data "$T/fifo"
	wait_for_line "$T/bob.out" hello 5
	kill_hard "$PID_alice"
	wait_exit "$PID_bob" 3
	exec {w}>&-
	assert_equal "$EXIT" 1
	run cat "$T/bob.err"
	assert_output --partial 'sender gone'
}

@test "flow: rvsend data on SIGTERM tells the receiver (exit 143); rvrecv data ends with the reason" {
	start_server
	recv bob data
	mkfifo "$T/fifo"
	exec {w}<>"$T/fifo"
	echo hello >&$w
	spawn alice rvsend -n alice -t bob data "$T/fifo"
	wait_for_line "$T/bob.out" hello 5
	kill -TERM "$(tool_pid "$PID_alice")"
	wait_exit "$PID_alice" 3
	assert_equal "$EXIT" 143
	wait_exit "$PID_bob" 3
	exec {w}>&-
	assert_equal "$EXIT" 1
	run cat "$T/alice.err"
	assert_output --partial 'aborted: the sender was interrupted (SIGTERM)'
	run cat "$T/bob.err"
	assert_output --partial 'the sender gave up: the sender was interrupted (SIGTERM)'
}

@test "flow: a -t file receiver killed -9 mid-transfer: rvsend knows at once, not after --stall-timeout" {
	start_server
	mkdir "$T/in"
	random "$T/huge.bin" 200
	recv bob file --dir "$T/in"
	spawn alice rvsend -n alice -t bob --window 1M --stall-timeout 60 file "$T/huge.bin"
	until_size "$T/in/huge.bin.part" $((2 * 1024 * 1024))
	kill_hard "$PID_bob"
	wait_exit "$PID_alice" 10
	assert_equal "$EXIT" 1
	run cat "$T/alice.err"
	assert_output --partial 'bob: receiver gone'
}

# slow_recv NAME OUT: rvrecv -n NAME data into OUT through a reader that takes
# 128 KiB every 5 ms, so rvrecv blocks on its stdout and the whole path
# (rvrecv's socket, rvserver's queue for it, rvsend's window) backs up. The
# exit status is rvrecv's (pipefail).
slow_recv() {
	spawn "$1" bash -c "set -o pipefail; rvrecv -n $1 data | python3 -c '
import sys, time
i, o = sys.stdin.buffer, sys.stdout.buffer
while True:
    b = i.read1(131072)
    if not b:
        break
    o.write(b)
    time.sleep(0.005)
' >$2"
	wait_for_line "$T/$1.err" 'connected to' 5
}

@test "flow: bulk data frames through rvserver (read in place, no copy) arrive whole behind a slow reader; a file cut short ends rvsend" {
	# rvserver and rvrecv read the rest of each large frame straight into
	# the frame's buffer (rv_frame_room): the bytes must come out as they
	# went in, with the frames of a file (1020 KiB) and of a pipe (sizes
	# around the 64 KiB bulk threshold), while the receiver holds back.
	start_server
	random "$T/big.bin" 12
	slow_recv bob "$T/bob.bin"
	spawn alice rvsend -n alice -t bob data "$T/big.bin"
	wait_exit "$PID_alice" 30
	assert_equal "$EXIT" 0
	wait_exit "$PID_bob" 10
	assert_equal "$EXIT" 0
	cmp "$T/big.bin" "$T/bob.bin"
	slow_recv carol "$T/carol.bin"
	spawn alice2 sh -c "cat '$T/big.bin' | rvsend -n alice2 -t carol data"
	wait_exit "$PID_alice2" 30
	assert_equal "$EXIT" 0
	wait_exit "$PID_carol" 10
	assert_equal "$EXIT" 0
	cmp "$T/big.bin" "$T/carol.bin"
	# a file cut shorter while rvsend sends it (from a mapping): it says so
	# and exits 1, and the receiver sees the sender gone
	cp "$T/big.bin" "$T/cut.bin"
	slow_recv dave "$T/dave.bin"
	spawn alice3 rvsend -n alice3 -t dave data "$T/cut.bin"
	until_size "$T/dave.bin" $((1024 * 1024))
	truncate -s 0 "$T/cut.bin"
	wait_exit "$PID_alice3" 10
	assert_equal "$EXIT" 1
	run cat "$T/alice3.err"
	assert_output --partial 'shrank'
	wait_exit "$PID_dave" 10
	assert_equal "$EXIT" 1
	run cat "$T/dave.err"
	assert_output --partial 'sender gone'
}
