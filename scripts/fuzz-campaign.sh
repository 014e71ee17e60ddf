#!/usr/bin/env bash
# Run libFuzzer harnesses until their coverage stops growing.
#
#   scripts/fuzz-campaign.sh [-c] [-r SECONDS] [-m ROUNDS] [-j JOBS] BUILD_DIR [HARNESS...]
#
# BUILD_DIR is a -Dfuzz=true build (CC=clang); it is built first.  Each
# harness (all of them when none is named) starts from a copy of its seed
# corpus, fuzz/corpus/NAME, and runs in rounds of SECONDS (default 90) on the growing corpus.  It stops
# at the first round, from the second on, that adds no edge coverage (a
# plateau), after ROUNDS rounds (default 8), or at a crash.  JOBS harnesses
# (default: the number of cores) run at once.  -c continues from the corpus
# an earlier campaign left, for a harness that had not reached its plateau.
#
# Everything goes under BUILD_DIR/campaign/NAME: the grown corpus, the round
# logs, and artifacts/ with the input of any crash.  The seed corpus is never
# written to.  To keep what the campaign found, merge it into the seeds
# (only inputs that add coverage are copied):
#   BUILD_DIR/fuzz/fuzz_NAME -merge=1 fuzz/corpus/NAME BUILD_DIR/campaign/NAME/corpus
#
# Prints one line a round and, at the end, one line a harness:
#   NAME rounds=N execs=N cov=N ft=N corpus=N verdict=plateau|rounds|CRASH
# and exits non-zero if any harness crashed.
set -uo pipefail
cd "$(dirname "$0")/.."

round_seconds=90 max_rounds=8 jobs=$(nproc) continue=false
usage() { sed -n '2,22s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while getopts cr:m:j:h opt; do
	case $opt in
	c) continue=true ;;
	r) round_seconds=$OPTARG ;;
	m) max_rounds=$OPTARG ;;
	j) jobs=$OPTARG ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
build=$(realpath "$1")
shift
[ -f "$build/build.ninja" ] || { echo "fuzz-campaign: $build is not a build directory" >&2; exit 2; }
ninja -C "$build" >/dev/null || { echo "fuzz-campaign: building $build failed (ninja -C $build)" >&2; exit 2; }

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
	for bin in "$build"/fuzz/fuzz_*; do
		[ -x "$bin" ] && [ -f "$bin" ] && harnesses+=("${bin##*/fuzz_}")
	done
fi
[ ${#harnesses[@]} -gt 0 ] || {
	echo "fuzz-campaign: no fuzz_* harness in $build/fuzz (configure it with CC=clang -Dfuzz=true)" >&2
	exit 2
}

# last_stat LOG KEY: the value libFuzzer printed last for KEY ("cov", "ft", ...).
last_stat() { grep -oP "DONE .*\b$2: \K[0-9]+" "$1" | tail -1; }

# campaign NAME: run one harness's rounds; prints the per-round lines and
# writes its summary line to its directory.
campaign() {
	local name=$1 bin="$build/fuzz/fuzz_$1" dir="$build/campaign/$1"
	local round execs total=0 cov="" prev="" ft verdict=rounds rc log
	if [ ! -x "$bin" ] || [ ! -d "fuzz/corpus/$name" ]; then
		echo "$name: no harness $bin or no seed corpus fuzz/corpus/$name" >&2
		echo "$name rounds=0 verdict=MISSING" >"$dir.summary"
		return
	fi
	if ! $continue || [ ! -d "$dir/corpus" ]; then
		rm -rf "$dir"
		mkdir -p "$dir/corpus" "$dir/artifacts"
		cp -r "fuzz/corpus/$name"/. "$dir/corpus/"
	fi
	for ((round = 1; round <= max_rounds; round++)); do
		log="$dir/round$round.log"
		"$bin" -max_total_time="$round_seconds" -timeout=10 -rss_limit_mb=2048 \
			-max_len=65536 -print_final_stats=1 \
			-artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$log" 2>&1
		rc=$?
		execs=$(grep -oP 'stat::number_of_executed_units: \K[0-9]+' "$log" || echo 0)
		total=$((total + execs))
		cov=$(last_stat "$log" cov) ft=$(last_stat "$log" ft)
		echo "$name: round $round: $execs executions, cov ${cov:-?}, ft ${ft:-?}, corpus $(find "$dir/corpus" -type f | wc -l)"
		if [ "$rc" -ne 0 ]; then
			verdict=CRASH
			echo "$name: crashed (exit $rc); input in $dir/artifacts, log $log" >&2
			break
		fi
		if [ "$round" -ge 2 ] && [ "$cov" = "$prev" ]; then
			verdict=plateau
			break
		fi
		prev=$cov
	done
	echo "$name rounds=$((round > max_rounds ? max_rounds : round)) execs=$total cov=${cov:-?} ft=${ft:-?} corpus=$(find "$dir/corpus" -type f | wc -l) verdict=$verdict" >"$dir.summary"
}

mkdir -p "$build/campaign"
echo "fuzz-campaign: ${#harnesses[@]} harnesses, rounds of ${round_seconds}s (at most $max_rounds), $jobs at a time"
running=0
for name in "${harnesses[@]}"; do
	campaign "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

status=0
echo
for name in "${harnesses[@]}"; do
	cat "$build/campaign/$name.summary"
	grep -q 'verdict=\(CRASH\|MISSING\)' "$build/campaign/$name.summary" && status=1
done
exit $status
