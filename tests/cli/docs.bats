#!/usr/bin/env bats
# docs.bats - fail when the documentation drifts from the tools.
#
# The option tables generate --help, the man pages' SYNOPSIS/COMMANDS/OPTIONS/
# EXIT STATUS blocks and the completions (scripts/gen-docs.sh); these tests
# regenerate everything into a temporary directory and compare it with what
# is committed, and check that the pages and completions are well formed.
# Binaries come from $RV_BIN (default: build/bin of this tree).

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOOLS=(rvserver rvgroup rvsend rvrecv rvturn rvsignal)
PAGES7=(rv-protocol.7 rv-signal.7 rv-p2p.7)

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	BIN=${RV_BIN:-$BATS_TEST_DIRNAME/../../build/bin}
	for t in "${TOOLS[@]}"; do
		[ -x "$BIN/$t" ] || fail "$BIN/$t is missing: run make (or set RV_BIN)"
	done
}

# The man page's source with roff's escaped hyphens made plain.
page_text() {
	sed 's/\\-/-/g' "$ROOT/man/$1"
}

# bash_complete TOOL WORD... - what bash would offer for the last WORD.
bash_complete() {
	bash -c 'source "$1"; shift; t=$1; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		"_$t"; echo "${COMPREPLY[*]}"' _ "$ROOT/completions/$1.bash" "$@"
}

@test "every tool has a man page and bash, zsh and fish completions" {
	for t in "${TOOLS[@]}"; do
		assert [ -f "$ROOT/man/$t.1" ]
		assert [ -f "$ROOT/completions/$t.bash" ]
		assert [ -f "$ROOT/completions/_$t" ]
		assert [ -f "$ROOT/completions/$t.fish" ]
	done
	for p in "${PAGES7[@]}"; do
		assert [ -f "$ROOT/man/$p" ]
	done
}

@test "committed man pages and completions match the option tables (run 'make docs' to fix)" {
	out="$BATS_TEST_TMPDIR/gen"
	run "$ROOT/scripts/gen-docs.sh" "$BIN" "$out"
	assert_success
	for t in "${TOOLS[@]}"; do
		for f in "man/$t.1" "completions/$t.bash" "completions/_$t" "completions/$t.fish"; do
			run diff -u "$ROOT/$f" "$out/$f"
			[ "$status" -eq 0 ] || fail "$f drifted from '$t --dump' (run 'make docs'):
$output"
		done
	done
}

@test "gen-docs.sh with OUTDIR leaves the tree alone and keeps the prose" {
	out="$BATS_TEST_TMPDIR/gen"
	before=$(cd "$ROOT" && cat man/*.1 completions/* | cksum)
	run "$ROOT/scripts/gen-docs.sh" "$BIN" "$out"
	assert_success
	after=$(cd "$ROOT" && cat man/*.1 completions/* | cksum)
	assert_equal "$after" "$before"
	for t in "${TOOLS[@]}"; do
		run grep -c -e '^\.SH NAME' -e '^\.SH DESCRIPTION' -e '^\.SH SEE ALSO' "$out/man/$t.1"
		assert_output 3
		run grep -cxF '.\" BEGIN GENERATED' "$out/man/$t.1"
		assert_output 1
		run grep -cxF '.\" END GENERATED' "$out/man/$t.1"
		assert_output 1
	done
}

@test "gen-docs.sh refuses a page without its markers" {
	mkdir -p "$BATS_TEST_TMPDIR/tree/scripts" "$BATS_TEST_TMPDIR/tree/man"
	cp "$ROOT/scripts/gen-docs.sh" "$BATS_TEST_TMPDIR/tree/scripts/"
	cp "$ROOT/man/rvserver.1" "$BATS_TEST_TMPDIR/tree/man/"
	grep -vF 'END GENERATED' "$ROOT/man/rvgroup.1" >"$BATS_TEST_TMPDIR/tree/man/rvgroup.1"
	run "$BATS_TEST_TMPDIR/tree/scripts/gen-docs.sh" "$BIN" "$BATS_TEST_TMPDIR/out"
	assert_failure
	assert_output --partial 'GENERATED'
}

@test "every tool answers --help on stdout, exit 0, nothing on stderr" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$BIN/$t" --help
		assert_success
		assert_output --partial "Usage: $t"
		[ -z "$stderr" ] || fail "$t --help wrote to stderr: $stderr"
		run --separate-stderr "$BIN/$t" -h
		assert_success
		[ -z "$stderr" ] || fail "$t -h wrote to stderr: $stderr"
	done
}

@test "every tool answers --version on stdout, exit 0" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$BIN/$t" --version
		assert_success
		assert_output --regexp "^$t [0-9]+\.[0-9]+\.[0-9]+"
		[ -z "$stderr" ] || fail "$t --version wrote to stderr: $stderr"
	done
}

@test "every long option in --help is documented in the man page" {
	for t in "${TOOLS[@]}"; do
		opts=$("$BIN/$t" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
		[ -n "$opts" ] || fail "$t --help lists no long options"
		text=$(page_text "$t.1")
		for o in $opts; do
			grep -qF -- "$o" <<<"$text" || fail "$o (from $t --help) is not in man/$t.1"
		done
	done
}

@test "every command in --help is documented in the man page" {
	for t in "${TOOLS[@]}"; do
		cmds=$("$BIN/$t" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
		[ -n "$cmds" ] || fail "$t --help lists no commands"
		for c in $cmds; do
			grep -qE "^\.B $c( |\$)" "$ROOT/man/$t.1" || fail "command $c of $t is not in man/$t.1"
		done
	done
}

# usage_lines TOOL - the "Usage:" lines of TOOL --help, without "Usage: ".
usage_lines() {
	"$BIN/$1" --help | awk 'NR == 1 { sub(/^Usage: /, ""); print; next } /^       / { sub(/^ +/, ""); print; next } { exit }'
}

@test "each tool's --help usage and man SYNOPSIS come from its command table: every command, its arguments" {
	for t in "${TOOLS[@]}"; do
		table=$("$BIN/$t" --dump=commands)
		[ -n "$table" ] || fail "$t --dump=commands lists no commands"
		usage=$(usage_lines "$t")
		listed=$("$BIN/$t" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
		# the committed SYNOPSIS is the table's (run 'make docs' to fix)
		synopsis=$(sed -n '/^\.\\" BEGIN GENERATED SYNOPSIS$/,/^\.\\" END GENERATED SYNOPSIS$/p' "$ROOT/man/$t.1" | sed '1d;$d')
		[ "$synopsis" = "$("$BIN/$t" --dump=man-synopsis)" ] ||
			fail "man/$t.1's SYNOPSIS is not what '$t --dump=man-synopsis' makes of the command table (run 'make docs')"
		rendered=$(sed 's/\\-/-/g; s/\\&//g' <<<"$synopsis" | grep -v '^\.\(SH\|br\)' | sed 's/^\.[A-Z]* //')
		while IFS=$'\t' read -r name min max args; do
			grep -qxF -- "$name" <<<"$listed" || fail "$t --help: command $name is not under Commands:"
			# a command is named on its usage line, with its arguments, unless
			# the one usage line says COMMAND [ARG...]
			if [ "$usage" = "${usage#*COMMAND \[ARG...\]}" ]; then
				line=$(grep -E -- "[[ |]$name([] |]|\$)" <<<"$usage") ||
					fail "$t --help: no usage line names the command $name:
$usage"
				[[ $line == *"$args" ]] || fail "$t --help: the usage line of $name does not end with '$args': $line"
				grep -qE -- "(^|[[ |])$name([] |]|\$)" <<<"$rendered" ||
					fail "man/$t.1: the SYNOPSIS does not name the command $name"
			fi
			[[ $min =~ ^[0-9]+$ && $max =~ ^-?[0-9]+$ ]] || fail "$t --dump=commands: bad counts for $name: $min $max"
		done <<<"$table"
	done
}

@test "every man page documents the exit codes 0 to 8, and --help names each once" {
	for t in "${TOOLS[@]}"; do
		text=$(page_text "$t.1" | sed -n '/^\.SH EXIT STATUS/,/^\.SH /p')
		for code in 0 1 2 3 4 5 6 7 8; do
			grep -qx "\.B $code" <<<"$text" || fail "exit code $code missing from man/$t.1"
		done
		# "Exit status: 0 ok, 1 failure, ...": nine codes, no two words alike
		line=$("$BIN/$t" --help | grep '^Exit status:')
		words=$(sed 's/^Exit status: //; s/\.$//' <<<"$line" | tr ',' '\n' | sed 's/^ *[0-9]* //')
		[ "$(wc -l <<<"$words")" = 9 ] || fail "$t --help: $line"
		[ "$(sort -u <<<"$words" | wc -l)" = 9 ] || fail "$t --help names two codes alike: $line"
	done
}

@test "man pages render without warnings" {
	command -v man >/dev/null || skip "man is not installed (apt-get install man-db groff-base)"
	for p in "$ROOT"/man/*.[1-8]; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$p"
		assert_success
		[ -z "$stderr" ] || fail "$(basename "$p"): $stderr"
		[ -n "$output" ] || fail "$(basename "$p") rendered empty"
	done
}

# A roff escape that went through a shell or a script unescaped ("\\fR"
# became a form feed and "R") renders as stray text such as "JWTR)P"; an
# escape left in the text renders literally. Neither warns under --warnings.
@test "man pages hold no control characters and render no stray font escapes" {
	command -v man >/dev/null || skip "man is not installed (apt-get install man-db groff-base)"
	for p in "$ROOT"/man/*.[1-8]; do
		run env LC_ALL=C grep -n $'[\x01-\x08\x0b-\x1f\x7f]' "$p"
		[ -z "$output" ] || fail "$(basename "$p"): control characters in the source: $output"
		run -0 env MANWIDTH=80 man -l "$p"
		run env LC_ALL=C grep -nE $'[\x01-\x08\x0b-\x1f\x7f]|\\\\f[BIRP(]|R\\)P' <<<"$output"
		[ -z "$output" ] || fail "$(basename "$p") renders font escape artefacts: $output"
	done
}

@test "bash completions parse and complete" {
	for t in "${TOOLS[@]}"; do
		run bash -n "$ROOT/completions/$t.bash"
		assert_success
	done
	# Drive the completion functions the way bash would.
	run bash_complete rvserver --keep-client-info ""
	assert_output "none groups all"
	run bash_complete rvgroup --json ""
	assert_output --partial "join listen post say"
	run bash_complete rvgroup --recon
	assert_output "--reconnect"
}

@test "zsh completions parse" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	for t in "${TOOLS[@]}"; do
		run zsh -n "$ROOT/completions/_$t"
		assert_success
	done
}

@test "fish completions parse" {
	command -v fish >/dev/null || skip "fish is not installed"
	for t in "${TOOLS[@]}"; do
		run fish -n "$ROOT/completions/$t.fish"
		assert_success
	done
}

@test "a usage error exits 2 with a message on stderr and nothing on stdout" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$BIN/$t" --no-such-option
		assert_failure 2
		assert_output ''
		[[ $stderr == *"$t --help"* ]] || fail "$t: no --help hint on stderr: $stderr"
	done
	run --separate-stderr "$BIN/rvgroup"
	assert_failure 2
	run --separate-stderr "$BIN/rvgroup" no-such-command
	assert_failure 2
	run --separate-stderr "$BIN/rvserver" --port 70000
	assert_failure 2
	run --separate-stderr "$BIN/rvgroup" members
	assert_failure 2
	run --separate-stderr "$BIN/rvgroup" --dump=nonsense
	assert_failure 2
}

@test "make install PREFIX puts binaries, man pages and completions in place" {
	prefix="$BATS_TEST_TMPDIR/prefix"
	run make -C "$ROOT" -s install PREFIX="$prefix"
	assert_success
	for t in "${TOOLS[@]}"; do
		assert [ -x "$prefix/bin/$t" ]
		assert [ -f "$prefix/share/man/man1/$t.1" ]
		assert [ -f "$prefix/share/bash-completion/completions/$t" ]
		assert [ -f "$prefix/share/zsh/site-functions/_$t" ]
		assert [ -f "$prefix/share/fish/vendor_completions.d/$t.fish" ]
	done
	for p in "${PAGES7[@]}"; do
		assert [ -f "$prefix/share/man/man7/$p" ]
	done
	run "$prefix/bin/rvserver" --version
	assert_output --partial 'rvserver 0.1.0'
}

@test "every man page's .TH date is a YYYY-MM date no older than the newest commit's year" {
	git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null || skip "not a git checkout"
	year=$(git -C "$ROOT" log -1 --format=%cd --date=format:%Y)
	for p in "$ROOT"/man/*.[1-8]; do
		date=$(sed -n '1s/^\.TH [^ ]* [1-8] "\([^"]*\)".*/\1/p' "$p")
		[[ $date =~ ^([0-9]{4})-(0[1-9]|1[0-2])(-[0-3][0-9])?$ ]] ||
			fail "${p##*/}: the .TH date '$date' is not YYYY-MM (first line: $(head -1 "$p"))"
		((BASH_REMATCH[1] >= year)) || fail "${p##*/}: the .TH date $date is older than the newest commit ($year)"
	done
}

@test "rv-protocol(7)'s ERROR CODES list matches rvserver's code table (run 'make docs' to fix)" {
	out="$BATS_TEST_TMPDIR/gen"
	run "$ROOT/scripts/gen-docs.sh" "$BIN" "$out"
	assert_success
	run diff -u "$ROOT/man/rv-protocol.7" "$out/man/rv-protocol.7"
	[ "$status" -eq 0 ] || fail "man/rv-protocol.7 drifted from 'rvserver --dump=man-error-codes' (run 'make docs'):
$output"
	# the list is there and the prose around it is kept
	list=$(sed -n '/^\.\\" BEGIN GENERATED ERROR CODES$/,/^\.\\" END GENERATED ERROR CODES$/p' "$out/man/rv-protocol.7")
	for code in bad-request no-such-group slow-consumer closed; do
		grep -qxF ".B ${code//-/\\-}" <<<"$list" || fail "$code is not in the generated list"
	done
	run grep -c -e '^\.SH CLOSE REASONS' -e '^\.SH ERROR CODES' -e '^\.SH EXAMPLE' "$out/man/rv-protocol.7"
	assert_output 3
}

# rvserver_codes FILE... - "FILE: CODE" for each string literal given as the
# code of conn_error (third argument), conn_bye, bad_input or monitor_gone
# (second), or as the value of a "code" field, in the C sources FILE...
rvserver_codes() {
	perl -0777 -ne '
		while (/\b(conn_error|conn_bye|bad_input|monitor_gone)\s*(\((?:[^()"]++|"(?:[^"\\]|\\.)*"|(?2))*\))/g) {
			my ($fn, $args, $cur, $depth, @a) = ($1, substr($2, 1, -1), "", 0);
			while ($args =~ /\G("(?:[^"\\]|\\.)*"|[()]|,|[^()",]+)/g) {
				my $t = $1;
				$depth += $t eq "(" ? 1 : $t eq ")" ? -1 : 0;
				if ($t eq "," && !$depth) { push @a, $cur; $cur = ""; } else { $cur .= $t; }
			}
			push @a, $cur;
			my $arg = $a[$fn eq "conn_error" ? 2 : 1] // "";
			print "$ARGV: $1\n" while $arg =~ /"([^"]*)"/g;
		}
		print "$ARGV: $1\n" while /"code"\s*,\s*"([^"]*)"/g;
	' "$@"
}

# Each line: the #define, the scale, the phrase (@: the value / scale), and
# the files that define it (default lib/*.h).
@test "rv-p2p(7) states the caps and timers that the peer-group sources define" {
	text=$(page_text rv-p2p.7 | tr '\n' ' ')
	while IFS='|' read -r name scale phrase files; do
		v=$(cd "$ROOT" && sed -n "s/^#define $name \([0-9][0-9]*\)\b.*/\1/p" ${files:-lib/*.h})
		[ -n "$v" ] || fail "no #define $name NUMBER in ${files:-lib/*.h}"
		want=${phrase//@/$((v / scale))}
		[[ $text == *"$want"* ]] || fail "man/rv-p2p.7 does not say '$want' ($name is $v)"
	done <<-'LIST'
		RV_P2P_SPEC_MAX|1|text at most @ characters
		RV_P2P_NAME_MAX|1|name 1 to @ bytes
		RV_P2P_OWNERS_MAX|1|at most @ owners
		RV_P2P_UNIQUE_LEN|1|unique tag @ bytes
		RV_P2P_PAYLOAD_MAX|1|payload at most @ bytes
		RV_P2P_LIST_MAX|1|lists at most @ entries
		RV_P2P_TTL_MAX|1|TTL at most @
		RV_DTLS_MTU|1|datagram at most @ bytes
		RV_P2P_FRAG_MAX|1|at most @ fragments a message
		RV_P2P_SESS_PARTIAL|1|@ messages reassembled at once
		RV_P2P_GOSSIP_SLOTS|1|at most @ sessions
		RV_P2P_RING_ALL|1|all of at most @ known peers
		RV_P2P_RING_BEFORE|1|else @ before
		RV_P2P_RING_AFTER|1|and @ after
		RV_P2P_RTT_BEST|1|@ of lowest RTT
		RV_P2P_TARGET_BASE|1|floor(log2 N) + @
		RV_P2P_CANDIDATES_MAX|1|@ considered at once
		RV_P2P_GOSSIP_MSGS|1|at most @ posts remembered
		RV_P2P_GOSSIP_MISSING|1|@ announced posts awaited
		RV_P2P_GOSSIP_ANNOUNCERS|1|@ announcers each
		RV_P2P_GOSSIP_DONTWANT|1|@ IDONTWANT IDs per neighbour
		RV_P2P_LARGE|1|IDONTWANT after posts over @ bytes
		RV_P2P_LAN_SKEW_MS|1000|refused more than @ s from the receiver's clock
		RV_P2P_LAN_SEEN|1|the last @ opened remembered
		RV_P2P_NODE_KNOWN|1|at most @ peers known
		RV_P2P_NODE_OPENING|1|at most @ handshakes of its own
		RV_P2P_OBJ_ANNOUNCE_MS|1|the chunks checked within @ ms
		RV_P2P_OBJ_ANNOUNCE|1|or @ of them
		RV_P2P_NODE_FORGET_MS|1000|unheard for @ s is forgotten
		RV_P2P_NODE_RESTART_MS|1000|late handshake after @ s
		RV_P2P_NODE_TTL|1|at most @ hops (TTL)
		RV_P2P_TTL_MAX|1|a ROUTE with hops @ or more is dropped
		RV_P2P_HELLO_RESEND_MS|1|HELLO sent again after @ ms
		RV_P2P_INTRO_GIVEN|1|at most @ members per JOIN response
		RV_P2P_RANGES_MAX|1|ranges at most @ a message
		RV_P2P_PIECE_MAX|1|manifest pieces at most @ bytes
		RV_P2P_CHUNK_MAX|1|chunks 1024 to @ bytes
		RV_P2P_MAN_CHUNK_MIN|1|chunks @ to 32768 bytes
		RV_P2P_MAN_CHUNKS|1|at most @ chunks an object
		RV_P2P_OBJ_SHOWN|1|a seeder shows at most @ chunks not yet taken
		RV_P2P_OBJ_SERVE_MAX|1|at most @ requests of a neighbour served at once
		RV_P2P_OBJ_PEERS|1|@ neighbours an object
		RV_P2P_CAST_FRAG_MAX|1|fragment at most @ bytes
		RV_P2P_CAST_KEYS|1|at most @ keyframe starts a map
		RV_P2P_CAST_INFO_MAX|1|announce at most @ bytes
		RV_P2P_CAST_WINDOW_MAX|1|at most @ fragments)
		RV_P2P_CAST_PEERS|1|@ neighbours a stream
		RV_P2P_INTRO_REFRESH_S|1|refresh every @ s
		RETRY_MS|1000|tried again after @ s|lib/p2ptopo.c
		CLOSED_WAIT_MS|1000|asked to close is left alone @ s|lib/p2ptopo.c
		JOIN_FIRST_MS|1000|unanswered after @ s, doubling|lib/p2pjoin.c
		LAN_EVERY_MS|1000|then every @ s, multicast|lib/p2plink.c
		LAN_QUICK|1|133 bytes, @ at|lib/p2plink.c
		LAN_QUICK_MS|1|at @ ms then|lib/p2plink.c
	LIST
}

# adhoc_codes FILE... - the codes of rvserver_codes that are not in the table.
adhoc_codes() {
	local table
	table=$("$BIN/rvserver" --dump=man-error-codes | sed -n 's/^\.B //p' | sed 's/\\-/-/g')
	[ -n "$table" ] || { echo "rvserver --dump=man-error-codes listed no codes"; return; }
	rvserver_codes "$@" | while IFS= read -r line; do
		grep -qxF -- "${line#*: }" <<<"$table" || echo "$line"
	done
}

@test "every error and bye code in cmd/rvserver is in the RV code table (lib/rvcode.c)" {
	command -v perl >/dev/null || skip "perl is not installed"
	run adhoc_codes "$ROOT"/cmd/rvserver/*.c
	assert_success
	[ -z "$output" ] || fail "codes sent but not in lib/rvcode.c's table (add them there, use RV_CODE_*):
$output"
	# the check sees literal codes, in whichever argument and form
	cat >"$BATS_TEST_TMPDIR/adhoc.c" <<-'C'
		conn_error(c, hdr_seq(h), "made-up", "a message");
		conn_bye(c, "bye-bye", "a message");
		bad_input(c, fl == RV_ETOOBIG ? "too-large" : "frame-bad", "malformed (frame)");
		monitor_gone(c, "went", msg);
		cJSON_AddStringToObject(h, "code", "odd");
		conn_error(c, 0, "limit", "known codes pass");
		conn_error(c, 0, RV_CODE_LIMIT, "messages are no codes");
	C
	run adhoc_codes "$BATS_TEST_TMPDIR/adhoc.c"
	assert_success
	assert_equal "$(sed 's/^[^ ]* //' <<<"$output" | tr '\n' ' ')" "made-up bye-bye frame-bad went odd "
}
