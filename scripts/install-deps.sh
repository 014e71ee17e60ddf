#!/usr/bin/env bash
# Install the Debian/Ubuntu packages airlock needs to build, test, fuzz and
# benchmark.  Runs apt only when something is missing, as root (through sudo
# when run as another user).
set -euo pipefail

packages=(
	# build
	gcc meson ninja-build pkg-config python3
	# libraries (docs/architecture.md says why each)
	libinih-dev libjson-c-dev libidn2-dev libnftables-dev libcap-dev libseccomp-dev
	libcurl4-openssl-dev libyaml-dev
	# tests, sanitizers, fuzzing, style
	libcmocka-dev clang libclang-rt-dev clang-format
	# integration tests: namespaces, nftables, the simulated internet's clients
	iproute2 nftables util-linux curl openssl tcpdump dnsutils iputils-ping
	# Docker sandboxes' tests start their own dockerd (tests/docker/); compose
	# overlays are validated and brought up with Debian's docker-compose
	docker.io docker-compose
	# benchmarks: the tools compared with, and the load generators
	dnsmasq-base dnsperf tinyproxy squid
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: run as root, or install sudo" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Packages with a daemon (squid, docker.io) must not start it: the benchmarks
# and tests start their own, on their own addresses.  policy-rc.d is the
# Debian way to say so during an install, and only while it lasts.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	guard=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' | $sudo tee "$guard" >/dev/null
	$sudo chmod 755 "$guard"
fi
status=0
$sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
	>/dev/null || status=$?
[ -z "$guard" ] || $sudo rm -f "$guard"
exit $status
