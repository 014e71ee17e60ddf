#!/usr/bin/env bash
# Source coverage of each parser by its fuzz corpus.
#
#   scripts/fuzz-coverage.sh [CORPUS_ROOT]
#
# Builds the replay harnesses with clang's source-based coverage (in
# build-coverage/), replays CORPUS_ROOT/NAME through each (default: the seed
# corpora, fuzz/corpus; pass BUILD_DIR/campaign after a fuzz-campaign.sh run)
# and prints, for each harness, the line and branch coverage of the source
# files it is there to test.  Lines a harness cannot reach are mostly
# allocation failures, I/O and the code around the parser that the harness
# does not call; the last line says how to list them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

corpus_root=$(realpath "${1:-fuzz/corpus}")
build=build-coverage
flags="-fprofile-instr-generate -fcoverage-mapping"

# What each harness is for: the files whose coverage is its measure.
declare -A targets=(
	[name]="src/policy/name.c"
	[rule]="src/policy/rule.c"
	[profile]="src/policy/profile.c src/policy/keymap.c"
	[claude]="src/policy/claude.c"
	[rulelist]="src/policy/rulelist.c"
	[dns_wire]="src/dns/wire.c"
	[http_head]="src/proxy/http_head.c"
	[tls_hello]="src/proxy/tls_hello.c"
	[log_line]="src/log/render.c"
	[control]="src/gateway/control.c"
	[flow_sniff]="src/gateway/flow_check.c src/proxy/tls_hello.c"
	[nflog]="src/enforce/nflog.c"
	[compose]="src/compose/compose.c src/compose/overlay.c"
	[apply_options]="src/apply/options.c src/apply/hosts.c"
)

for source in fuzz/fuzz_*.c; do
	name=${source#fuzz/fuzz_}
	name=${name%.c}
	[ -n "${targets[$name]:-}" ] ||
		echo "fuzz-coverage: harness $name has no target files here; add it to the table" >&2
done

if [ ! -f "$build/build.ninja" ]; then
	CC=clang CFLAGS="$flags" LDFLAGS="$flags" meson_configure "$build" --buildtype=debug >/dev/null
fi
ninja -C "$build" $(printf 'fuzz/replay_%s ' "${!targets[@]}") >/dev/null

profiles=$build/profiles
rm -rf "$profiles"
mkdir -p "$profiles"
printf '%-14s %-26s %8s %15s %15s\n' harness file inputs lines branches
for name in $(printf '%s\n' "${!targets[@]}" | sort); do
	corpus="$corpus_root/$name"
	[ -d "$corpus/corpus" ] && corpus="$corpus/corpus" # a campaign's layout
	[ -d "$corpus" ] || { echo "$name: no corpus $corpus" >&2; continue; }
	LLVM_PROFILE_FILE="$profiles/$name.profraw" "$build/fuzz/replay_$name" "$corpus" >/dev/null 2>&1
	llvm-profdata merge -sparse "$profiles/$name.profraw" -o "$profiles/$name.profdata"
	inputs=$(find "$corpus" -type f | wc -l)
	# shellcheck disable=SC2086 # the targets: words on purpose
	llvm-cov export "$build/fuzz/replay_$name" -instr-profile="$profiles/$name.profdata" |
		scripts/fuzz-coverage-table.py "$name" "$inputs" ${targets[$name]}
done
echo "lines missed: llvm-cov show $build/fuzz/replay_NAME -instr-profile=$profiles/NAME.profdata FILE"
