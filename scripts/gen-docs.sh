#!/usr/bin/env bash
# gen-docs.sh BINDIR [OUTDIR] - regenerate what the option tables document.
#
# For each tool: completions/TOOL.bash, completions/_TOOL (zsh) and
# completions/TOOL.fish from `TOOL --dump=bash|zsh|fish`, and the part of
# man/TOOL.1 between the lines `.\" BEGIN GENERATED` and `.\" END GENERATED`
# from `TOOL --dump=man` (the prose around the markers is kept).
#
# Without OUTDIR the files in the repository are rewritten (`make docs`).
# With OUTDIR everything goes under OUTDIR at the same relative paths and the
# repository is left alone; tests/cli/docs.bats diffs that against the
# committed files to catch drift.
set -euo pipefail

TOOLS=(rvserver rvgroup)
BEGIN='.\" BEGIN GENERATED'
END='.\" END GENERATED'

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

for tool in "${TOOLS[@]}"; do
	bin=$bindir/$tool
	[ -x "$bin" ] || { echo "gen-docs: $bin is missing (run make)" >&2; exit 1; }

	"$bin" --dump=bash | write "$outdir/completions/$tool.bash"
	"$bin" --dump=zsh | write "$outdir/completions/_$tool"
	"$bin" --dump=fish | write "$outdir/completions/$tool.fish"

	page=$root/man/$tool.1
	[ -f "$page" ] || { echo "gen-docs: $page is missing" >&2; exit 1; }
	nb=$(grep -cxF "$BEGIN" "$page" || true)
	ne=$(grep -cxF "$END" "$page" || true)
	if [ "$nb" != 1 ] || [ "$ne" != 1 ]; then
		echo "gen-docs: $page needs exactly one '$BEGIN' line and one '$END' line" >&2
		exit 1
	fi
	gen=$(mktemp)
	trap 'rm -f "$gen"' EXIT
	"$bin" --dump=man >"$gen"
	# (awk -v would eat the backslashes of the markers: pass them in the environment)
	B=$BEGIN E=$END GEN=$gen awk '
		BEGIN { b = ENVIRON["B"]; e = ENVIRON["E"]; gen = ENVIRON["GEN"] }
		$0 == b { print; while ((getline line < gen) > 0) print line; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }
	' "$page" | write "$outdir/man/$tool.1"
	rm -f "$gen"
	trap - EXIT
done
