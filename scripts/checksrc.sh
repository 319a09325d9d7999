#!/usr/bin/env bash
# checksrc.sh - the conventions of DESIGN.md as a check (in the spirit of curl's checksrc).
# What `make checksrc` and `make check` run. Bash, grep and awk: it reads the tree once.
#
#   scripts/checksrc.sh [-v] [ROOT]     ROOT defaults to this tree
#
# Rules (the name is what scripts/checksrc.allow uses):
#   rv-def   no rv_ function definition outside lib/: the tools use their own prefixes
#   shadow   no tool file (cmd/*/*.c|h) named like a lib header: cmd/x/media.c vs lib/media.h
#   spine    a tool's main.c only calls down: no other file of the tool calls a function that
#            main.c defines (not static); the lifecycle lives in a file the commands call
#   stdio    the library never prints: no printf/puts/perror/putchar, no fprintf/fputs/
#            fputc/fwrite/fflush on stdout or stderr in lib/
#   exit     the library never ends the process: no exit( in lib/
#   layer    codecs do no I/O: lib/{frame,stun,rtp,sdp,wsdp,wsdpans,http,ws,tls,dtls,sslmem,ice,cmsg}.[ch]
#            include neither <uv.h> nor a lib header that includes it
#   space    no trailing whitespace; indentation with tabs (no space before a tab, no run of
#            8 spaces in a code line's indentation; spaces may align after the tabs)
# Known exceptions live in ROOT/scripts/checksrc.allow, one a line: RULE FILE REASON (the reason
# is required). An exception covers that rule in that whole file; -v lists the ones that matched.
# Output: FILE:LINE: RULE: message, one per violation, then one summary line.
# Exit status: 0 clean, 1 violations (or an allowlist line without a reason), 2 usage.
set -uo pipefail

CODECS="frame stun rtp sdp wsdp wsdpans http ws tls dtls sslmem ice cmsg"
verbose=0
if [ "${1:-}" = -v ]; then verbose=1; shift; fi
case ${1:-} in -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; -*) echo "checksrc: unknown option $1" >&2; exit 2 ;; esac
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[ -d "$ROOT/lib" ] || { echo "checksrc: $ROOT/lib: no such directory" >&2; exit 2; }
cd "$ROOT" || exit 2
ALLOW=scripts/checksrc.allow

shopt -s nullglob
LIB=(lib/*.c lib/*.h)
TOOL=(cmd/*/*.c cmd/*/*.h)
ALL=("${LIB[@]}" "${TOOL[@]}" tests/unit/*.[ch] tests/fuzz/*.[ch] bench/*.[ch])

hits=$(mktemp)
trap 'rm -f "$hits"' EXIT

hit() { printf '%s:%s: %s: %s\n' "$1" "$2" "$3" "$4" >>"$hits"; }

# rv-def, stdio, exit: one awk over lib/ and cmd/, each line read with comments and string and
# char literals blanked (good enough for these rules: a "/*" in a string goes with the string).
# rv-def: a line at column 0 with rv_name( (after its type, or alone after a type line) whose
# declaration ends in "{", not ";".
awk '
	FNR == 1 { incom = 0; pend = 0; lib = FILENAME ~ /^lib\//; tool = FILENAME ~ /^cmd\// }
	{
		line = $0; code = ""
		while (line != "") {
			if (incom) {
				i = index(line, "*/")
				if (!i) break
				line = substr(line, i + 2); incom = 0; continue
			}
			gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
			gsub(/\047([^\047\\]|\\.)*\047/, "\047\047", line)
			i = index(line, "/*"); j = index(line, "//")
			if (j && (!i || j < i)) { code = code substr(line, 1, j - 1); break }
			if (!i) { code = code line; break }
			code = code substr(line, 1, i - 1); line = substr(line, i + 2); incom = 1
		}
	}
	tool { rvdef(code) }
	lib && (code ~ /(^|[^A-Za-z0-9_])(printf|vprintf|puts|perror|putchar)[ \t]*\(/ ||
		code ~ /(^|[^A-Za-z0-9_])(v?fprintf|fputs|fputc|putc|fwrite|fflush)[ \t]*\((.*[^A-Za-z0-9_])?(stdout|stderr)([^A-Za-z0-9_]|$)/) {
		printf "%s:%d: stdio: the library never prints: log through rv_log or return an error\n", FILENAME, FNR }
	lib && code ~ /(^|[^A-Za-z0-9_])exit[ \t]*\(/ {
		printf "%s:%d: exit: the library never ends the process: return an error code\n", FILENAME, FNR }
	function rvdef(c,   s) {
		if (pend) {
			if (c ~ /;[ \t]*$/) pend = 0
			else if (c ~ /\{/) { found(); pend = 0 }
			return
		}
		if (!match(c, /^([A-Za-z_][A-Za-z0-9_ \t*]*[ \t*])?rv_[A-Za-z0-9_]*[ \t]*\(/)) return
		s = substr(c, 1, RLENGTH); sub(/[ \t]*\($/, "", s); sub(/.*[ \t*]/, "", s)
		name = s; at = FNR; pend = 1
		if (c ~ /;[ \t]*$/) pend = 0
		else if (c ~ /\{/) { found(); pend = 0 }
	}
	function found() {
		printf "%s:%d: rv-def: %s() defined outside lib/: use the tool'"'"'s own prefix\n", FILENAME, at, name }
' "${LIB[@]}" "${TOOL[@]}" >>"$hits"

# shadow
for f in "${TOOL[@]}"; do
	b=${f##*/}; b=${b%.*}
	[ -f "lib/$b.h" ] && hit "$f" 1 shadow "shares its name with lib/$b.h: name tool files after what they do"
done

# spine: the functions main.c defines that are not static (a "static" line above a name at
# column 0 counts), then their calls in the tool's other .c files: indented lines, comments skipped
for m in cmd/*/main.c; do
	d=${m%/main.c}
	names=$(awk '
		pend { if ($0 ~ /\{/) print name; if ($0 ~ /[{;]/) pend = 0; next }
		/^[A-Za-z_]/ && $0 !~ /^(static|typedef|extern)[ \t]/ && !prevstatic &&
		match($0, /^[A-Za-z_][A-Za-z0-9_ \t*]*\(/) {
			name = substr($0, 1, RLENGTH); sub(/[ \t]*\($/, "", name); sub(/.*[ \t*]/, "", name)
			if (name != "main") {
				if ($0 ~ /\{/) print name
				else if ($0 !~ /;/) pend = 1
			}
		}
		{ prevstatic = $0 ~ /^static[ \t]/ && $0 !~ /[;({]/ }' "$m")
	[ -n "$names" ] || continue
	for f in "$d"/*.c; do
		[ "$f" = "$m" ] && continue
		for n in $names; do
			grep -nE "(^|[^A-Za-z0-9_])$n[[:blank:]]*\(" "$f" | grep -E '^[0-9]+:[[:blank:]]' |
				grep -vE '^[0-9]+:[[:blank:]]*(/\*|\*|//)' |
				while IFS=: read -r line _; do
					hit "$f" "$line" spine "calls $n() of main.c: main.c only calls down (move it to the tool's lifecycle file)"
				done
		done
	done
done

# layer: the lib headers that pull in libuv, then the codecs that include <uv.h> or one of them
uvh=" $(grep -l '^[ 	]*#[ 	]*include[ 	]*<uv\.h>' lib/*.h 2>/dev/null | sed 's|^lib/||' | tr '\n' ' ') "
codec=()
for c in $CODECS; do
	for f in "lib/$c.c" "lib/$c.h"; do [ -f "$f" ] && codec+=("$f"); done
done
if [ ${#codec[@]} -gt 0 ]; then
	grep -Hn '^[ 	]*#[ 	]*include[ 	]*[<"]' "${codec[@]}" /dev/null | while IFS=: read -r f n line; do
		inc=${line#*[<\"]}; inc=${inc%%[>\"]*}
		if [ "$inc" = uv.h ]; then
			hit "$f" "$n" layer "a codec does no I/O: no <uv.h> here (the I/O layer is stream.c)"
		elif [[ "$uvh" == *" $inc "* ]]; then
			hit "$f" "$n" layer "a codec does no I/O: $inc brings in libuv"
		fi
	done
fi

# space
for f in "${ALL[@]}"; do
	awk -v f="$f" '
		/[ \t]+$/ { printf "%s:%d: space: trailing whitespace\n", f, NR; next }
		/^[ \t]*\*/ { next }
		/^\t* +\t/ { printf "%s:%d: space: a space before a tab in the indentation\n", f, NR; next }
		/^\t*        / { printf "%s:%d: space: indentation with spaces: use tabs\n", f, NR }' "$f" >>"$hits"
done

# The allowlist: RULE FILE REASON
declare -A allowed=()
bad_allow=0
if [ -f "$ALLOW" ]; then
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		case $line in '' | '#'*) continue ;; esac
		read -r rule file reason <<<"$line"
		if [ -z "${reason:-}" ]; then
			echo "$ALLOW:$n: allow: \"$rule $file\" needs a reason" >&2
			bad_allow=1
			continue
		fi
		allowed["$rule $file"]=$n
	done <"$ALLOW"
fi

violations=0 known=0
declare -A used=()
while IFS= read -r h; do
	file=${h%%:*}
	rule=${h#*:*: }; rule=${rule%%:*}
	if [ -n "${allowed["$rule $file"]:-}" ]; then
		known=$((known + 1)); used["$rule $file"]=1
		[ $verbose = 1 ] && echo "known: $h"
		continue
	fi
	echo "$h"
	violations=$((violations + 1))
done < <(sort -t: -k1,1 -k2,2n "$hits")

for k in "${!allowed[@]}"; do
	[ -n "${used[$k]:-}" ] || echo "checksrc: note: $ALLOW:${allowed[$k]}: \"$k\" matches nothing now: remove the line" >&2
done

echo "checksrc: ${#ALL[@]} files, $violations violations, $known known exceptions ($ALLOW)"
[ $violations -eq 0 ] && [ $bad_allow -eq 0 ]
