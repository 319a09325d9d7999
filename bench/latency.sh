#!/usr/bin/env bash
# bench/latency.sh - rvsend to a Chromium WHEP viewer through rvserver: the milliseconds from
# the source's frame to the browser's playout of it, as Chromium itself estimates them (see
# bench/latency.mjs for how). Installs Debian chromium and the test driver (playwright-core, from
# tests/browser's lock file) when missing. Environment: SECS=20 CODECS="h264 vp8" O=build.
# Output: the table and the GOAL line, also in bench/results/latency-latest.txt.
# Exit status: 0 goal met, 1 missed, 2 no measurement.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
export RV_BIN=${RV_BIN:-$ROOT/$O/bin}
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 || { echo "latency bench: no chromium" >&2; exit 2; }
fi
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
	(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund >&2) || { echo "latency bench: npm ci failed" >&2; exit 2; }
fi
mkdir -p "$ROOT/bench/results"
timeout $((${SECS:-20} * 4 + 120)) node "$ROOT/bench/latency.mjs" | tee "$ROOT/bench/results/latency-latest.txt"
exit "${PIPESTATUS[0]}"
