#!/usr/bin/env bash
# gen-docs.sh BINDIR [OUTDIR] - regenerate what the option tables document.
#
# For each tool: completions/TOOL.bash, completions/_TOOL (zsh) and
# completions/TOOL.fish from `TOOL --dump=bash|zsh|fish`, and two parts of
# man/TOOL.1: between `.\" BEGIN GENERATED SYNOPSIS` and `.\" END GENERATED
# SYNOPSIS` from `TOOL --dump=man-synopsis` (the usage lines of --help, made
# from the tool's command table: `TOOL --dump=commands` lists it), and between
# `.\" BEGIN GENERATED` and `.\" END GENERATED` from `TOOL --dump=man`
# (commands, options, exit status). The prose around the markers is kept.
#
# And man/rv-protocol.7's list of error codes, between `.\" BEGIN GENERATED
# ERROR CODES` and `.\" END GENERATED ERROR CODES`, from the RV vocabulary's
# table (lib/rvcode.c) through `rvserver --dump=man-error-codes`.
#
# Without OUTDIR the files in the repository are rewritten (`make docs`).
# With OUTDIR everything goes under OUTDIR at the same relative paths and the
# repository is left alone; tests/cli/docs.bats diffs that against the
# committed files to catch drift.
set -euo pipefail

TOOLS=(rvserver rvgroup rvsend rvrecv rvturn rvsignal)

usage() {
	echo "usage: $0 BINDIR [OUTDIR]" >&2
	exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
bindir=$(cd "$1" && pwd) || { echo "gen-docs: no directory $1" >&2; exit 1; }
outdir=${2:-$root}
mkdir -p "$outdir/man" "$outdir/completions"

# write FILE: stdin to FILE through a temporary file, so a failing command
# never leaves a half-written file behind.
write() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	if cat >"$tmp"; then
		chmod 644 "$tmp"
		mv -f "$tmp" "$1"
	else
		rm -f "$tmp"
		return 1
	fi
}

# splice PAGE NAME GEN: $text (PAGE's text) with what lies between its
# `.\" BEGIN GENERATED[ NAME]` and `.\" END GENERATED[ NAME]` lines replaced
# by GEN; fails unless there is exactly one of each.
splice() {
	local page=$1 name=$2 gen=$3 begin end nb ne
	begin=".\\\" BEGIN GENERATED${name:+ $name}"
	end=".\\\" END GENERATED${name:+ $name}"
	nb=$(grep -cxF "$begin" <<<"$text" || true)
	ne=$(grep -cxF "$end" <<<"$text" || true)
	if [ "$nb" != 1 ] || [ "$ne" != 1 ]; then
		echo "gen-docs: $page needs exactly one '$begin' line and one '$end' line" >&2
		return 1
	fi
	# (awk -v would eat the backslashes of the markers: pass them in the environment)
	text=$(B=$begin E=$end GEN=$gen awk '
		BEGIN { b = ENVIRON["B"]; e = ENVIRON["E"] }
		$0 == b { print; print ENVIRON["GEN"]; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }
	' <<<"$text")
}

for tool in "${TOOLS[@]}"; do
	bin=$bindir/$tool
	[ -x "$bin" ] || { echo "gen-docs: $bin is missing (run make)" >&2; exit 1; }

	"$bin" --dump=bash | write "$outdir/completions/$tool.bash"
	"$bin" --dump=zsh | write "$outdir/completions/_$tool"
	"$bin" --dump=fish | write "$outdir/completions/$tool.fish"

	page=$root/man/$tool.1
	[ -f "$page" ] || { echo "gen-docs: $page is missing" >&2; exit 1; }
	text=$(cat "$page")
	for part in "man-synopsis:SYNOPSIS" "man:"; do
		dump=${part%%:*} name=${part#*:}
		gen=$("$bin" --dump="$dump")
		splice "$page" "$name" "$gen" || exit 1
	done
	printf '%s\n' "$text" | write "$outdir/man/$tool.1"
done

page=$root/man/rv-protocol.7
[ -f "$page" ] || { echo "gen-docs: $page is missing" >&2; exit 1; }
text=$(cat "$page")
gen=$("$bindir/rvserver" --dump=man-error-codes)
splice "$page" "ERROR CODES" "$gen" || exit 1
printf '%s\n' "$text" | write "$outdir/man/rv-protocol.7"
