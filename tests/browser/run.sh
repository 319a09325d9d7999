#!/usr/bin/env bash
# run.sh - the browser suite, as `make check` runs it: installs Debian
# chromium (and coturn, firefox-esr) when missing, playwright-core from the
# lock file when node_modules is missing, then runs the tests with node's
# test runner and prints TAP on stdout. Extra arguments go to `node --test`.
# Env: RVSIGNAL (binary, default build/bin/rvsignal), CHROMIUM (default
# /usr/bin/chromium), FIREFOX (default /usr/bin/firefox-esr; driven through
# its own Marionette protocol, firefox.test.mjs), RV_SCREENSHOT (default
# /tmp/room.png).
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
	if [ "$(id -u)" != 0 ]; then
		echo "run.sh: $* missing and not root: apt-get install $*" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "$@" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "$@" >&2; }
}

if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
	apt_install chromium
fi
if ! command -v turnserver >/dev/null 2>&1; then
	apt_install coturn || echo "run.sh: no coturn: the TURN test will be skipped" >&2
fi
if [ -z "${FIREFOX:-}" ] && [ ! -x /usr/bin/firefox-esr ]; then
	apt_install firefox-esr || echo "run.sh: no firefox-esr: the Firefox tests will be skipped" >&2
fi
if ! command -v node >/dev/null 2>&1; then
	apt_install nodejs npm
fi
if [ ! -d node_modules/playwright-core ]; then
	npm ci --no-audit --no-fund >&2
fi

# Within a file the tests run one after another; the files too
# (--test-concurrency=1), so that two suites' browsers do not compete for the
# CPU (browsers and servers are not shared across files).
exec node --test --test-reporter=tap --test-concurrency=1 "$@" ./*.test.mjs
