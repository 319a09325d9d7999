#!/usr/bin/env bats
# checksrc.bats - scripts/checksrc.sh passes on this tree (with scripts/checksrc.allow) and
# fails, with FILE:LINE: RULE, on each kind of violation planted in a tiny tree copied to $T.
# Needs no binaries.

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	T=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/rv.XXXXXX")
	mkdir -p "$T/lib" "$T/cmd/rvx" "$T/scripts"
	cp "$ROOT/scripts/checksrc.sh" "$T/scripts/"
	# a codec, an I/O header that brings in libuv, a library file and a tool
	printf '/* frame.h - a codec, no I/O. */\n#include <stddef.h>\nint rv_frame_len(const char *s);\n' >"$T/lib/frame.h"
	printf '#include <string.h>\n#include "frame.h"\n\nint rv_frame_len(const char *s)\n{\n\treturn (int)strlen(s);\t/* "exit(" in a comment */\n}\n' >"$T/lib/frame.c"
	printf '#include <uv.h>\nint rv_stream_open(uv_loop_t *loop);\n' >"$T/lib/stream.h"
	printf '#include <stdio.h>\n\nint rv_log_line(char *out, size_t n)\n{\n\treturn snprintf(out, n, "printf(%%s)\\n", "x");\n}\n' >"$T/lib/log.c"
	printf '#include "frame.h"\n\nstatic int rvx_run(const char *s)\n{\n\treturn rv_frame_len(s);\n}\n\nint main(void)\n{\n\treturn rvx_run("rv_frame(");\n}\n' >"$T/cmd/rvx/main.c"
}

teardown() {
	rm -rf "$T"
}

checksrc() {
	run --separate-stderr "$T/scripts/checksrc.sh" "$T"
}

@test "checksrc: this tree passes, with its allowlist" {
	run "$ROOT/scripts/checksrc.sh" "$ROOT"
	assert_success
	assert_output --regexp 'checksrc: [0-9]+ files, 0 violations'
}

@test "checksrc: the clean tiny tree passes" {
	checksrc
	assert_success
	assert_output 'checksrc: 5 files, 0 violations, 0 known exceptions (scripts/checksrc.allow)'
}

@test "checksrc: an rv_ function defined in a tool fails" {
	printf '\nstatic int\nrv_helper(int a,\n\t  int b)\n{\n\treturn a + b;\n}\n' >>"$T/cmd/rvx/main.c"
	printf 'int rv_frame_len(const char *s);\n' >>"$T/cmd/rvx/main.c"	# a declaration is no definition
	checksrc
	assert_failure 1
	assert_line --index 0 'cmd/rvx/main.c:14: rv-def: rv_helper() defined outside lib/: use the tool'"'"'s own prefix'
	assert_line --index 1 --partial '1 violations'
}

@test "checksrc: a tool file named like a lib header fails" {
	printf '/* stream.c - rvx streams */\n' >"$T/cmd/rvx/stream.c"
	checksrc
	assert_failure 1
	assert_line --index 0 --partial 'cmd/rvx/stream.c:1: shadow: shares its name with lib/stream.h'
}

@test "checksrc: a tool file that calls into its main.c fails" {
	printf '\nint rvx_finish(int code)\n{\n\treturn code;\n}\n\nstatic int\nrvx_quiet(int code)\n{\n\treturn code;\n}\n' >>"$T/cmd/rvx/main.c"
	printf 'int rvx_finish(int code);\nint rvx_quiet(int code);\n\n/* rvx_finish(0) in a comment */\nint rvx_app(void)\n{\n\treturn rvx_quiet(0) + rvx_finish(1);\n}\n' >"$T/cmd/rvx/app.c"
	checksrc
	assert_failure 1
	assert_line --index 0 'cmd/rvx/app.c:7: spine: calls rvx_finish() of main.c: main.c only calls down (move it to the tool'"'"'s lifecycle file)'
	assert_line --index 1 --partial '1 violations'
}

@test "checksrc: printing to stdout or stderr in lib fails" {
	printf '\nvoid rv_log_say(const char *s)\n{\n\tfprintf(stderr, "%%s\\n", s);\n}\n' >>"$T/lib/log.c"
	checksrc
	assert_failure 1
	assert_line --index 0 --partial 'lib/log.c:10: stdio: the library never prints'
}

@test "checksrc: exit() in lib fails" {
	printf '\nvoid rv_log_die(void)\n{\n\texit(1);\n}\n' >>"$T/lib/log.c"
	checksrc
	assert_failure 1
	assert_line --index 0 --partial 'lib/log.c:10: exit: the library never ends the process'
}

@test "checksrc: a codec that includes libuv fails, directly or through a header" {
	sed -i '2a #include <uv.h>' "$T/lib/frame.c"
	sed -i '1a #include "stream.h"' "$T/lib/frame.h"
	checksrc
	assert_failure 1
	assert_line --index 0 'lib/frame.c:3: layer: a codec does no I/O: no <uv.h> here (the I/O layer is stream.c)'
	assert_line --index 1 'lib/frame.h:2: layer: a codec does no I/O: stream.h brings in libuv'
}

@test "checksrc: trailing whitespace and space indentation fail" {
	printf 'int rv_frame_max(void) \n{\n        return 4;\n  \treturn 5;\n}\n' >>"$T/lib/frame.c"
	checksrc
	assert_failure 1
	assert_line --index 0 'lib/frame.c:8: space: trailing whitespace'
	assert_line --index 1 'lib/frame.c:10: space: indentation with spaces: use tabs'
	assert_line --index 2 'lib/frame.c:11: space: a space before a tab in the indentation'
}

@test "checksrc: the allowlist excuses a file for one rule, with a reason" {
	printf '/* stream.c - rvx streams */\n' >"$T/cmd/rvx/stream.c"
	printf '\nvoid rv_log_die(void)\n{\n\texit(1);\n}\n' >>"$T/lib/log.c"
	printf '# known\nshadow cmd/rvx/stream.c renamed by its owner later\n' >"$T/scripts/checksrc.allow"
	checksrc
	assert_failure 1
	assert_line --index 0 --partial 'lib/log.c:10: exit:'
	assert_line --index 1 'checksrc: 6 files, 1 violations, 1 known exceptions (scripts/checksrc.allow)'
	printf 'exit lib/log.c the tiny tree'"'"'s own CLI helper\n' >>"$T/scripts/checksrc.allow"
	checksrc
	assert_success
	# a line without a reason excuses nothing and fails
	printf 'space lib/frame.c\n' >>"$T/scripts/checksrc.allow"
	checksrc
	assert_failure 1
	assert_equal "$stderr" 'scripts/checksrc.allow:4: allow: "space lib/frame.c" needs a reason'
}
