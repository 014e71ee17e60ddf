#!/usr/bin/env python3
"""Print the closing line CI reads: "tests: N passed, N failed[, N skipped]".

Usage: test-summary.py BUILD_DIR...
Counts every test of every build's meson-logs/testlog.json.  Exits 1 when
any test failed or a build has no log (it did not get as far as testing).
"""
import json
import os
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def main() -> int:
    passed = failed = skipped = 0
    missing = []
    for build in sys.argv[1:]:
        log = os.path.join(build, "meson-logs", "testlog.json")
        if not os.path.exists(log):
            missing.append(build)
            continue
        with open(log) as f:
            for line in f:
                result = json.loads(line)["result"]
                if result in PASSED:
                    passed += 1
                elif result in SKIPPED:
                    skipped += 1
                else:
                    failed += 1
    for build in missing:
        print(f"test-summary: {build} has no test log; it failed before testing")
    line = f"tests: {passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed or missing or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
