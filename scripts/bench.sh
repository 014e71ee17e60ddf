#!/usr/bin/env bash
# Benchmarks, in a release build.  Today: the policy matcher (load time and
# memory for a million rules, lookups per second).  Prints Markdown tables;
# docs/benchmarks.md records a run with the machine it ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
. scripts/lib.sh
meson_configure build-ci/release --buildtype=release
ninja -C build-ci/release bench/bench_matcher >/dev/null
echo "## Policy matcher ($(nproc) cores, $(uname -r))"
echo
build-ci/release/bench/bench_matcher "$@"
