#!/usr/bin/env bash
# deps.sh - install the Debian packages rvkit needs to build and test.
# Idempotent: installs only what is missing. Needs root (or sudo) when it must install.
set -euo pipefail

BUILD="gcc clang make pkg-config libuv1-dev libssl-dev libcjson-dev libwslay-dev libhttp-parser-dev libsrtp2-dev zlib1g-dev libavformat-dev libavcodec-dev libavdevice-dev libavutil-dev libswscale-dev libswresample-dev"
TEST="libcmocka-dev bats bats-assert bats-support jq curl socat openssl libclang-rt-14-dev python3 man-db groff-base zsh fish coturn chromium firefox-esr ffmpeg"
BENCH="mosquitto"
quiet=0
[ "${1:-}" = "--quiet-if-ok" ] && quiet=1

missing=()
for p in $BUILD $TEST $BENCH; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	[ $quiet = 1 ] || echo "deps: all packages present"
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
# mosquitto's and coturn's packages may start system services; tests and benchmarks start their own.
if command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now mosquitto coturn >/dev/null 2>&1 || true
fi
echo "deps: done" >&2
