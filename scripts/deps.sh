#!/usr/bin/env bash
# deps.sh - install the Debian packages rvkit needs, for what you are about to do.
# Idempotent: installs only what is missing. Needs root (or sudo) when it must install.
#
#   scripts/deps.sh [--demo|--check|--bench|--all] [--quiet-if-ok]
#     --demo   what `make demo` needs: the build libraries and ffmpeg
#     --check  what `make check` needs: build, test tools, redis-server, coturn, chromium and firefox-esr, node,
#              python3-aiortc (a WHIP publisher for tests/cli/whip.bats), nftables (NATs in
#              namespaces, tests/cli/p2pnat.bats)
#     --bench  what `make bench` needs: build, mosquitto, redis-server, coturn (turnutils), node and npm (the
#              ws broker), janus (the WebRTC anchor), nats-server (the cluster fan-out anchor), ffmpeg,
#              socat, jq, time, curl
#     --all    all of these (the default; what `make deps` runs)
set -euo pipefail

BUILD="gcc clang make pkg-config libuv1-dev libssl-dev libcjson-dev libhiredis-dev libwslay-dev libhttp-parser-dev libsrtp2-dev zlib1g-dev libavformat-dev libavcodec-dev libavdevice-dev libavutil-dev libswscale-dev libswresample-dev"
TEST="libcmocka-dev redis-server bats bats-assert bats-support jq curl socat openssl libclang-rt-14-dev python3 man-db groff-base zsh fish coturn chromium firefox-esr ffmpeg python3-aiortc nftables iproute2"
DEMO="ffmpeg"
BENCH="mosquitto redis-server coturn janus nats-server ffmpeg socat jq time binutils iproute2 curl"
quiet=0 mode=all
for a in "$@"; do
	case $a in
	--quiet-if-ok) quiet=1 ;;
	--demo | --check | --bench | --all) mode=${a#--} ;;
	*) echo "usage: scripts/deps.sh [--demo|--check|--bench|--all] [--quiet-if-ok]" >&2; exit 2 ;;
	esac
done
case $mode in
demo) want="$BUILD $DEMO" node=0 ;;
check) want="$BUILD $TEST" node=1 ;;
bench) want="$BUILD $BENCH" node=1 ;;
*) want="$BUILD $TEST $BENCH" node=1 ;;
esac

missing=()
# shellcheck disable=SC2086 # a list of names
for p in $(printf '%s\n' $want | sort -u); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm (browser tests, the bench's ws broker) may come from elsewhere (nodesource):
# ask Debian for them only when the commands are missing.
if [ $node = 1 ]; then
	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
	[ $quiet = 1 ] || echo "deps: all packages present ($mode)"
	exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/rvkit-apt.log 2>&1; then
	$SUDO apt-get update -q >>/tmp/rvkit-apt.log 2>&1
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/rvkit-apt.log 2>&1 || {
		echo "deps: apt-get failed; see /tmp/rvkit-apt.log" >&2; tail -5 /tmp/rvkit-apt.log >&2; exit 1; }
fi
# mosquitto's, coturn's, janus's, redis-server's and nats-server's packages may start system services; tests and benchmarks start their own.
if command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now mosquitto coturn janus redis-server nats-server >/dev/null 2>&1 || true
fi
echo "deps: done" >&2
