#!/usr/bin/env bats
# rvsend and rvrecv as users run them: commands, byte streams and files
# through a real rvserver on 127.0.0.1, compared byte for byte.

load helpers

# Bounded rvsend in the foreground.
rvs() { timeout "$(secs 30)" rvsend "$@"; }

sha() { sha256sum "$1" | cut -d' ' -f1; }

# raw_sender RVCLIENT-ARG...: a hand-made sender (tests/cli/rvclient.py):
# a "replies" hello as mallory, then the given steps.
raw_sender() { rvclient --frame '{"type":"hello","id":"mallory","role":"send","version":1,"replies":true}' --expect welcome "$@"; }

@test "rvsend/rvrecv: cmd: one command with its sender; several args joined by spaces" {
	start_server
	recv bob cmd
	run rvs -n alice -t bob cmd 'reboot at noon'
	assert_success
	wait_for_line "$T/bob.out" '^alice: reboot at noon$' 5
	run rvs -n alice -t bob cmd restart the   web server
	assert_success
	wait_for_line "$T/bob.out" '^alice: restart the web server$' 5
	run cat "$T/bob.out"
	assert_output $'alice: reboot at noon\nalice: restart the web server'
}

@test "rvsend/rvrecv: cmd: each stdin line is one command, in order; --json has event, from, text, time" {
	start_server
	recv bob --json cmd
	run bash -c "printf 'first\nsecond \"quoted\"\n\nthird\n' | timeout $(secs 10) rvsend -n alice -t bob cmd"
	assert_success
	count_lines "$T/bob.out" . 3 5
	run jq -e -c . "$T/bob.out"
	assert_success
	run jq -r -c '[.event, .from, .text, (.time|type)] | @json' "$T/bob.out"
	assert_output $'["cmd","alice","first","number"]\n["cmd","alice","second \\"quoted\\"","number"]\n["cmd","alice","third","number"]'
	now=$(date +%s%3N)
	t=$(jq -r 'select(.text == "first") | .time' "$T/bob.out")
	((t > now - 60000 && t <= now + 1000))
}

@test "rvsend/rvrecv: data: a 20 MB random stream arrives byte for byte" {
	start_server
	random "$T/in.bin" 20
	spawn bob rvrecv -n bob --count 1 data
	wait_for_line "$T/bob.err" 'connected to' 5
	run rvs -n alice -t bob data <"$T/in.bin"
	assert_success
	wait_exit "$PID_bob" 10
	assert_equal "$EXIT" 0
	cmp "$T/in.bin" "$T/bob.out"
	# a file argument works like stdin, and "-" is stdin
	spawn carol rvrecv -n carol --count 1 data
	wait_for_line "$T/carol.err" 'connected to' 5
	printf 'tiny' >"$T/tiny"
	run rvs -n alice -t carol data "$T/tiny"
	assert_success
	wait_exit "$PID_carol" 10
	assert_equal "$EXIT" 0
	run cat "$T/carol.out"
	assert_output tiny
}

@test "rvsend/rvrecv: files of 0, 1 and 100 MB bytes arrive identical, with their sha256" {
	start_server
	mkdir "$T/inbox"
	: >"$T/empty.txt"
	printf x >"$T/one.txt"
	random "$T/big.bin" 100
	recv bob file --dir "$T/inbox"
	run rvs -n alice -t bob file "$T/empty.txt" "$T/one.txt" "$T/big.bin"
	assert_success
	count_lines "$T/bob.out" '^saved ' 3 10
	for f in empty.txt one.txt big.bin; do
		cmp "$T/$f" "$T/inbox/$f"
		assert_equal "$(sha "$T/inbox/$f")" "$(sha "$T/$f")"
	done
	# "saved PATH (N bytes, sha256 HEX) from ID", PATH being DIR/NAME
	run cat "$T/bob.out"
	assert_line "saved $T/inbox/empty.txt (0 bytes, sha256 $(sha "$T/empty.txt")) from alice"
	assert_line "saved $T/inbox/one.txt (1 bytes, sha256 $(sha "$T/one.txt")) from alice"
	assert_line "saved $T/inbox/big.bin (104857600 bytes, sha256 $(sha "$T/big.bin")) from alice"
	# nothing else in the directory: no .part left behind
	run ls -A "$T/inbox"
	assert_output $'big.bin\nempty.txt\none.txt'
}

@test "rvsend/rvrecv: --json file events have from, name, path, size, sha256" {
	start_server
	mkdir "$T/in"
	printf 'hello file\n' >"$T/note.txt"
	recv bob --json file --dir "$T/in"
	run rvs -n alice -t bob file "$T/note.txt"
	assert_success
	count_lines "$T/bob.out" . 1 5
	run jq -r -c '[.event, .from, .name, .size, .sha256] | @json' "$T/bob.out"
	assert_output "[\"file\",\"alice\",\"note.txt\",11,\"$(sha "$T/note.txt")\"]"
	path=$(jq -r .path "$T/bob.out")
	cmp "$path" "$T/note.txt"
	[ "$(realpath "$path")" = "$(realpath "$T/in/note.txt")" ]
}

@test "rvsend/rvrecv: a group of three receivers all get identical files" {
	start_server
	for r in bob carol dave; do
		mkdir "$T/dir_$r"
		recv "$r" -g team file --dir "$T/dir_$r"
	done
	random "$T/report.pdf" 3
	random "$T/big.iso" 30
	run rvs -n alice -g team file "$T/report.pdf" "$T/big.iso"
	assert_success
	for r in bob carol dave; do
		count_lines "$T/$r.out" '^saved ' 2 10
		cmp "$T/report.pdf" "$T/dir_$r/report.pdf"
		cmp "$T/big.iso" "$T/dir_$r/big.iso"
		run ls -A "$T/dir_$r"
		assert_output $'big.iso\nreport.pdf'
	done
}

@test "rvsend/rvrecv: an existing name is never overwritten: 'name (1).ext', 'name (2).ext'" {
	start_server
	mkdir "$T/in"
	printf 'precious\n' >"$T/in/report.txt"
	printf 'v1\n' >"$T/report.txt"
	recv bob file --dir "$T/in"
	run rvs -n alice -t bob file "$T/report.txt"
	assert_success
	printf 'v2\n' >"$T/report.txt"
	run rvs -n alice -t bob file "$T/report.txt"
	assert_success
	count_lines "$T/bob.out" '^saved ' 2 5
	run cat "$T/in/report.txt"
	assert_output precious
	run cat "$T/in/report (1).txt"
	assert_output v1
	run cat "$T/in/report (2).txt"
	assert_output v2
	run cat "$T/bob.out"
	assert_line --index 0 "saved $T/in/report (1).txt (3 bytes, sha256 $(printf 'v1\n' | sha256sum | cut -d' ' -f1)) from alice"
}

# hostile NAME: offer a 5-byte file called NAME (a JSON string) to bob from a
# raw client, send it, and print every frame that comes back.
hostile() {
	local body=hello
	local sum
	sum=$(printf %s "$body" | sha256sum | cut -d' ' -f1)
	raw_sender \
		--frame "{\"type\":\"msg\",\"seq\":1,\"to\":\"bob\",\"kind\":\"xfer-offer\",\"xfer\":\"m.$2\",\"what\":\"file\",\"name\":$1,\"size\":5,\"sha256\":\"$sum\",\"receivers\":true}" \
		--expect ok --expect msg \
		--body "$body" --frame "{\"type\":\"msg\",\"seq\":2,\"to\":\"bob\",\"kind\":\"xfer-data\",\"xfer\":\"m.$2\",\"off\":0}" \
		--frame "{\"type\":\"msg\",\"seq\":3,\"to\":\"bob\",\"kind\":\"xfer-end\",\"xfer\":\"m.$2\",\"size\":5,\"sha256\":\"$sum\"}" \
		--expect-kind xfer-done --quit --timeout "$(secs 5)"
}

@test "rvsend/rvrecv: hostile names are saved safely inside --dir, nothing outside" {
	start_server
	mkdir -p "$T/box/in"
	recv bob --json file --dir "$T/box/in"
	n=0
	long="\"$(printf 'é%.0s' {1..150})\""	# 300 bytes of UTF-8
	for name in '"../../etc/passwd"' '"a\u0001b\u001b[31m"' '".."' '".."' '"/abs/evil"' '"..\\\\x"' '""' '".hidden"' '"sub/../../up"' "$long"; do
		n=$((n + 1))
		run hostile "$name" "$n"
		echo "$output" >"$T/mallory.$n"
		assert_output --partial '"kind": "xfer-accept"'
		assert_output --partial '"kind": "xfer-done"'
	done
	count_lines "$T/bob.out" '"event":"file"' "$n" 10
	# every file is inside the directory, named safely, holds the 5 bytes
	run jq -r .path "$T/bob.out"
	for p in "${lines[@]}"; do
		[ "$(dirname "$(realpath "$p")")" = "$(realpath "$T/box/in")" ] || fail "saved outside: $p"
		assert_equal "$(cat "$p")" hello
	done
	run jq -r .name "$T/bob.out"
	for nm in "${lines[@]}"; do
		[[ $nm != */* && $nm != . && $nm != .. && -n $nm ]] || fail "unsafe name '$nm'"
		[[ $nm != *[[:cntrl:]]* ]] || fail "control character in '$nm'"
	done
	assert_line passwd
	assert_line 'a_b_[31m'
	assert_line file
	# several offers reduced to "file" are saved side by side
	[ -f "$T/box/in/file" ] && [ -f "$T/box/in/file (1)" ] && [ -f "$T/box/in/file (2)" ]
	# a long name is cut to at most 200 bytes, still valid UTF-8
	nm=$(jq -r 'select(.name | startswith("é")) | .name' "$T/bob.out")
	(($(printf %s "$nm" | wc -c) <= 200 && $(printf %s "$nm" | wc -c) >= 190))
	printf %s "$nm" | iconv -f UTF-8 -t UTF-8 >/dev/null
	# exactly the files that were sent, and nothing next to the directory
	assert_equal "$(find "$T/box/in" -type f | wc -l)" "$n"
	run find "$T/box" -mindepth 1 -not -path "$T/box/in*"
	assert_output ''
	[ ! -e "$T/etc" ]
	[ ! -e /abs/evil ]
}

@test "rvsend/rvrecv: a wrong sha256: the receiver reports it, no file and no .part remain" {
	start_server
	mkdir "$T/in"
	recv bob file --dir "$T/in"
	bad=0000000000000000000000000000000000000000000000000000000000000000
	run raw_sender \
		--frame "{\"type\":\"msg\",\"seq\":1,\"to\":\"bob\",\"kind\":\"xfer-offer\",\"xfer\":\"m.1\",\"what\":\"file\",\"name\":\"bad.txt\",\"size\":5,\"sha256\":\"$bad\",\"receivers\":true}" \
		--expect ok --expect msg \
		--body hello --frame '{"type":"msg","seq":2,"to":"bob","kind":"xfer-data","xfer":"m.1","off":0}' \
		--frame "{\"type\":\"msg\",\"seq\":3,\"to\":\"bob\",\"kind\":\"xfer-end\",\"xfer\":\"m.1\",\"size\":5,\"sha256\":\"$bad\"}" \
		--timeout 3
	assert_output --partial '"kind": "xfer-accept"'
	run jq -c 'select(.kind == "xfer-done") | [.xfer, .ok, (.error|type)]' <<<"$output"
	assert_output '["m.1",false,"string"]'
	wait_for_line "$T/bob.err" 'bad\.txt from mallory: .*(SHA-256|sha256|checksum)' 5
	run ls -A "$T/in"
	assert_output ''
	# and a wrong size likewise
	good=$(printf hello | sha256sum | cut -d' ' -f1)
	run raw_sender \
		--frame "{\"type\":\"msg\",\"seq\":1,\"to\":\"bob\",\"kind\":\"xfer-offer\",\"xfer\":\"m.2\",\"what\":\"file\",\"name\":\"short.txt\",\"size\":9,\"sha256\":\"$good\",\"receivers\":true}" \
		--expect ok --expect msg \
		--body hello --frame '{"type":"msg","seq":2,"to":"bob","kind":"xfer-data","xfer":"m.2","off":0}' \
		--frame "{\"type\":\"msg\",\"seq\":3,\"to\":\"bob\",\"kind\":\"xfer-end\",\"xfer\":\"m.2\",\"size\":5,\"sha256\":\"$good\"}" \
		--timeout 3
	run jq -c 'select(.kind == "xfer-done") | .ok' <<<"$output"
	assert_output false
	run ls -A "$T/in"
	assert_output ''
	alive "$PID_bob"
}

@test "rvsend/rvrecv: a refused sender exits 4 and nothing is saved" {
	start_server
	mkdir "$T/in"
	printf 'x\n' >"$T/x"
	recv eve --allow carol file --dir "$T/in"
	run rvs -n alice -t eve file "$T/x"
	assert_equal "$status" 4
	assert_output --partial 'not allow'
	run rvs -n alice -t eve cmd 'let me in'
	assert_equal "$status" 4
	run ls -A "$T/in"
	assert_output ''
	# carol may
	run rvs -n carol -t eve file "$T/x"
	assert_success
	cmp "$T/x" "$T/in/x"
}

@test "rvsend/rvrecv: a receiver killed mid-transfer: the .part stays, a new run resumes and completes" {
	start_server
	mkdir "$T/in"
	random "$T/huge.bin" 200
	recv bob -v file --dir "$T/in"
	spawn send1 rvsend -n alice -v -t bob --window 1048576 --stall-timeout 2 file "$T/huge.bin"
	# once some of it is written, freeze the sender, then kill the receiver hard
	deadline=$(($(date +%s) + 20 * RV_SLOW))
	while (($(size "$T/in/huge.bin.part") < 4 * 1024 * 1024)); do
		(($(date +%s) < deadline)) || fail "no .part grew: $(ls -l "$T/in")"
		sleep 0.01
	done
	kill -STOP "$(tool_pid "$PID_send1")"
	sleep 0.5
	kill_hard "$PID_bob"
	wait_exit "$PID_bob" 5
	kill -CONT "$(tool_pid "$PID_send1")"
	wait_exit "$PID_send1" 20
	[ "$EXIT" -ne 0 ] || fail "the first rvsend exited 0 with its receiver killed"
	part=$(size "$T/in/huge.bin.part")
	echo "# .part after the kill: $part bytes" >&3
	((part > 0 && part < 200 * 1024 * 1024))
	[ -f "$T/in/huge.bin.part.rv" ]
	[ ! -e "$T/in/huge.bin" ]
	# the receiver comes back, the sender runs again
	mv "$T/bob.err" "$T/bob1.log"
	mv "$T/bob.out" "$T/bob1.out"
	recv bob -v file --dir "$T/in"
	run rvs -n alice -v -t bob file "$T/huge.bin"
	assert_success
	echo "$output" >"$T/send2.log"
	count_lines "$T/bob.out" '^saved ' 1 10
	cmp "$T/huge.bin" "$T/in/huge.bin"
	run ls -A "$T/in"
	assert_output huge.bin
	# one side says where it resumed
	grep -iE 'resum' "$T/send2.log" "$T/bob.err" || fail "neither rvsend -v nor rvrecv -v mentions the resume"
}

@test "rvsend/rvrecv: --count N exits 0 after N items; --timeout exits 6 when they do not come" {
	start_server
	spawn bob rvrecv -n bob --count 2 cmd
	wait_for_line "$T/bob.err" 'connected to' 5
	run bash -c "printf 'one\ntwo\nthree\n' | timeout $(secs 10) rvsend -n alice -t bob cmd"
	wait_exit "$PID_bob" 5
	assert_equal "$EXIT" 0
	run cat "$T/bob.out"
	assert_output $'alice: one\nalice: two'
	# files count too
	mkdir "$T/in"
	printf a >"$T/a"
	printf b >"$T/b"
	spawn carol rvrecv -n carol --count 2 file --dir "$T/in"
	wait_for_line "$T/carol.err" 'connected to' 5
	run rvs -n alice -t carol file "$T/a" "$T/b"
	assert_success
	wait_exit "$PID_carol" 5
	assert_equal "$EXIT" 0
	# --timeout without enough items: exit 6, in about that time
	start=$(date +%s)
	run timeout "$(secs 10)" rvrecv -n dave --count 1 --timeout 1 cmd
	assert_equal "$status" 6
	(($(date +%s) - start <= 3 * RV_SLOW))
	# without --count, --timeout just ends the run: exit 0
	run timeout "$(secs 10)" rvrecv -n erin --timeout 1 cmd
	assert_equal "$status" 0
}

@test "rvsend: a receiver that never answers: exit 6 after --accept-timeout; one that refuses: exit 4" {
	start_server
	# a receiving connection that reads and never answers
	spawn bob python3 "$BATS_TEST_DIRNAME/rvclient.py" --port "$SERVER_PORT" --hello bob:recv --expect welcome --timeout 20
	wait_for_line "$T/bob.out" '"type": "welcome"' 5
	printf 'x\n' >"$T/x"
	start=$(date +%s)
	run rvs -n alice -t bob --accept-timeout 1 file "$T/x"
	assert_equal "$status" 6
	(($(date +%s) - start <= 4 * RV_SLOW))
	# rvgroup and an rvrecv for commands refuse files at once
	spawn carol rvgroup -n carol listen
	wait_for_line "$T/carol.err" 'connected to' 5
	start=$(date +%s)
	run rvs -n alice -t carol file "$T/x"
	assert_equal "$status" 4
	(($(date +%s) - start <= 2 * RV_SLOW))
	recv dave cmd
	run rvs -n alice -t dave file "$T/x"
	assert_equal "$status" 4
	assert_output --partial 'no files'
	run bash -c "printf 'x' | timeout $(secs 10) rvsend -n alice -t dave data"
	assert_equal "$status" 4
}

@test "rvsend/rvrecv: a small --window (64K) still completes" {
	start_server
	mkdir "$T/in"
	random "$T/f" 3
	recv bob file --dir "$T/in"
	run rvs -n alice -t bob --window 64K --chunk 16K --stall-timeout 5 file "$T/f"
	assert_success
	count_lines "$T/bob.out" '^saved ' 1 5
	cmp "$T/f" "$T/in/f"
}

@test "rvsend/rvrecv: frames fit the server's --max-frame: the default chunk and a larger --chunk are cut to it" {
	start_server --max-frame 64K
	mkdir "$T/in"
	random "$T/f" 2
	recv bob file --dir "$T/in"
	run rvs -n alice -t bob -v file "$T/f"
	assert_success
	count_lines "$T/bob.out" '^saved ' 1 5
	cmp "$T/f" "$T/in/f"
	rm "$T/in/f"
	run rvs -n alice -t bob -v --chunk 512K file "$T/f"
	assert_success
	assert_output --partial "chunk 65536 bytes: the server's --max-frame"
	count_lines "$T/bob.out" '^saved ' 2 5
	cmp "$T/f" "$T/in/f"
}

@test "rvsend/rvrecv: a file NAME.part that rvrecv did not write is not clobbered" {
	start_server
	mkdir "$T/in"
	printf 'my own notes\n' >"$T/in/notes.txt.part"
	printf 'incoming\n' >"$T/notes.txt"
	recv bob file --dir "$T/in"
	run rvs -n alice -t bob file "$T/notes.txt"
	run cat "$T/in/notes.txt.part"
	assert_output 'my own notes'
}

@test "rvsend/rvrecv: two senders of the same name at once: every saved file is what its line says" {
	start_server
	mkdir "$T/in" "$T/a" "$T/c"
	random "$T/a/same.bin" 30
	random "$T/c/same.bin" 30
	recv bob --json file --dir "$T/in"
	spawn alice rvsend -n alice -t bob file "$T/a/same.bin"
	spawn carol rvsend -n carol -t bob file "$T/c/same.bin"
	wait_exit "$PID_alice" 30
	ea=$EXIT
	wait_exit "$PID_carol" 30
	ec=$EXIT
	sleep 0.5
	# whatever rvrecv says it saved is on disk, byte for byte, and is one of the two
	run jq -r 'select(.event == "file") | .path + "\t" + .sha256' "$T/bob.out"
	for l in "${lines[@]}"; do
		assert_equal "$(sha "${l%%$'\t'*}")" "${l#*$'\t'}"
	done
	for f in "$T"/in/*; do
		s=$(sha "$f")
		[ "$s" = "$(sha "$T/a/same.bin")" ] || [ "$s" = "$(sha "$T/c/same.bin")" ] || fail "$f is neither file"
	done
	# a sender that exited 0 has its file there
	((ea != 0)) || grep -qx "$(sha "$T/a/same.bin")" <(for f in "$T"/in/*; do sha "$f"; done) || fail "alice's file is missing"
	((ec != 0)) || grep -qx "$(sha "$T/c/same.bin")" <(for f in "$T"/in/*; do sha "$f"; done) || fail "carol's file is missing"
}

@test "rvsend/rvrecv: a full disk is an error at both ends, not a truncated file" {
	mkdir -p "$T/small"
	mount -t tmpfs -o size=2m tmpfs "$T/small" 2>/dev/null || skip "cannot mount a small tmpfs here"
	random "$T/big.bin" 5
	start_server
	recv bob file --dir "$T/small"
	run rvs -n alice -t bob file "$T/big.bin"
	send_status=$status send_output=$output
	sleep 0.5
	left=$(ls -A "$T/small")
	umount "$T/small"	# before any assertion can fail
	assert_equal "$send_status" 1
	[[ $send_output == *"disk full"* ]] || fail "rvsend said: $send_output"
	wait_for_line "$T/bob.err" 'disk full' 5
	assert_equal "$left" ''
}

@test "rvsend: an unknown target exits 4" {
	start_server
	printf 'x\n' >"$T/x"
	run rvs -n alice -t nobody cmd hello
	assert_equal "$status" 4
	assert_output --partial 'no such client'
	run rvs -n alice -t nobody file "$T/x"
	assert_equal "$status" 4
	run rvs -n alice -g nogroup file "$T/x"
	assert_equal "$status" 4
	assert_output --partial 'no such group'
	run bash -c "printf 'a\n' | timeout $(secs 10) rvsend -n alice -t nobody data"
	assert_equal "$status" 4
}

@test "rvsend/rvrecv: usage errors exit 2" {
	run rvsend
	assert_equal "$status" 2
	run rvsend frobnicate
	assert_equal "$status" 2
	run rvsend --bogus cmd x
	assert_equal "$status" 2
	run rvsend -t bob file
	assert_equal "$status" 2
	run rvsend -t 'bad id!' cmd x
	assert_equal "$status" 2
	run rvsend -g 'bad group!' cmd x
	assert_equal "$status" 2
	run rvsend -t bob --window 0 file x
	assert_equal "$status" 2
	run rvsend -t bob --chunk 0 file x
	assert_equal "$status" 2
	run rvsend -t bob --window lots data
	assert_equal "$status" 2
	run rvsend -t bob data a b
	assert_equal "$status" 2
	run rvrecv frobnicate
	assert_equal "$status" 2
	run rvrecv --count 0 cmd
	assert_equal "$status" 2
	run rvrecv --timeout -1 cmd
	assert_equal "$status" 2
	run rvrecv --allow 'bad id!' file
	assert_equal "$status" 2
	run rvrecv cmd extra
	assert_equal "$status" 2
	run rvrecv --json data
	assert_equal "$status" 2
	run rvrecv file --dir "$T/nonexistent"
	assert_equal "$status" 2
}

@test "rvsend/rvrecv: -h prints help, -V the version" {
	run rvsend -h
	assert_success
	assert_line --index 0 --regexp '^Usage: rvsend '
	assert_output --partial '--window'
	assert_output --partial 'Exit status: 0 ok'
	run rvrecv --help
	assert_success
	assert_line --index 0 --regexp '^Usage: rvrecv '
	assert_output --partial '--dir'
	run rvsend -V
	assert_output --regexp '^rvsend [0-9]+\.[0-9]+\.[0-9]+$'
	run rvrecv -V
	assert_output --regexp '^rvrecv [0-9]+\.[0-9]+\.[0-9]+$'
}
