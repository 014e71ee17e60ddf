#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is needed, builds,
# and runs
#   1. the release build's tests (unit, CLI, fuzz corpora, source checks),
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. a clang build with libFuzzer instrumentation (and the sanitizers):
#      the unit, CLI, corpus and source tests again (the namespace and
#      Docker suites ran twice already; they would add six minutes), then
#      every libFuzzer harness for FUZZ_SECONDS (default 30) each,
# then prints "tests: N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds=${FUZZ_SECONDS:-30}
status=0
builds=()

step() { printf '\n== %s\n' "$*"; }

. scripts/lib.sh

# suite NAME DIR [meson options...]: build and test one configuration.
suite() {
	local name=$1 dir=$2
	shift 2
	step "$name"
	builds+=("$dir")
	if ! meson_configure "$dir" "$@" || ! ninja -C "$dir" >"$dir.ninja.log" 2>&1; then
		cat "$dir.ninja.log" 2>/dev/null | tail -40
		echo "test.sh: $name: build failed"
		status=1
		return
	fi
	# Passing tests are counted in the summary; print the rest as they come.
	# shellcheck disable=SC2086 # TEST_ARGS: words on purpose
	meson test -C "$dir" --print-errorlogs --num-processes 2 ${TEST_ARGS:-} 2>&1 |
		grep --line-buffered -vE '^ *[0-9]+/[0-9]+ .* OK '
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}

step "dependencies"
scripts/install-deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }

suite "release build" build-ci/release --buildtype=release
suite "sanitizers (ASan + UBSan)" build-ci/asan -Db_sanitize=address,undefined -Db_lundef=false
CC=clang TEST_ARGS="--no-suite integration --no-suite escape --no-suite docker" \
	suite "clang build: tests, then each libFuzzer harness for ${fuzz_seconds}s" build-ci/fuzz \
	-Dfuzz=true -Dfuzz_seconds="$fuzz_seconds" \
	-Db_sanitize=address,undefined -Db_lundef=false

step "summary"
python3 scripts/test-summary.py "${builds[@]}" || status=1
exit $status
