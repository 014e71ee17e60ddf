#!/usr/bin/env bash
# Run one libFuzzer harness for a while over a copy of its seed corpus.
#   fuzz-run.sh HARNESS_BINARY CORPUS_DIR SECONDS ARTIFACT_DIR
# The source corpus is never written to: new inputs go to a temporary copy.
# A crash leaves its input in ARTIFACT_DIR, to be added to the corpus as a
# regression seed once fixed.
set -euo pipefail
harness=$1 corpus=$2 seconds=$3 artifacts=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
mkdir -p "$artifacts"
name=$(basename "$harness")
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$artifacts/$name-" -print_final_stats=1 "$work" 2>"$work.log" || {
	status=$?
	tail -40 "$work.log"
	rm -f "$work.log"
	exit $status
}
grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$work.log" || true
rm -f "$work.log"
