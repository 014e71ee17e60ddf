#!/usr/bin/env bash
# Benchmarks, in a release build: the policy matcher (load time and memory
# for a million rules, lookups per second), then the DNS filter side by side
# with dnsmasq, then the HTTP proxy side by side with tinyproxy and squid,
# then (as root) sandboxes side by side with docker run.  Prints Markdown tables (the proxy's also goes to
# build-ci/release/bench/proxy-results.md); docs/benchmarks.md records a run
# with the machine it ran on.  Arguments go to bench_matcher (RULES LOOKUPS).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
. scripts/lib.sh
meson_configure build-ci/release --buildtype=release
ninja -C build-ci/release bench/bench_matcher bench/proxy_load src/airlock >/dev/null
echo "## Policy matcher ($(nproc) cores, $(uname -r))"
echo
build-ci/release/bench/bench_matcher "$@"
echo
echo "## DNS filtering with a 100,000-name blocklist (dnsperf, 10 s each)"
echo
bench/dns.sh build-ci/release/src/airlock 10
echo
echo "## HTTP proxy: airlock, tinyproxy, squid (bench/proxy_load, 5 s a rate)"
echo
bench/proxy.sh build-ci/release/src/airlock build-ci/release/bench/proxy_load 5 \
	build-ci/release/bench/proxy-results.md
echo
if [ "$(id -u)" -eq 0 ]; then
	echo "## Sandboxes: airlock run, airlock docker run, docker run (bench/sandbox.py)"
	echo
	python3 bench/sandbox.py build-ci/release/src/airlock 20
else
	echo "(bench/sandbox.py needs root: it builds network namespaces)"
fi
