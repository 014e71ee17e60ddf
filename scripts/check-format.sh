#!/usr/bin/env bash
# Fails when a C file under src/, tests/unit/, fuzz/ or bench/ is not formatted
# as .clang-format says.  Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src tests/unit tests/escape fuzz bench -name '*.[ch]' | sort)
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
