#!/usr/bin/env python3
"""One harness's rows for fuzz-coverage.sh, from `llvm-cov export` on stdin.

    fuzz-coverage-table.py HARNESS INPUTS FILE...

Prints, for each FILE (a path from the source root), its line and branch
coverage, then the functions of FILE the corpus never called: the harness
tests a parser, and what it does not call (sockets, files, the code around
the parser) is the first thing that explains a low figure.
"""
import json
import sys


def main():
    harness, inputs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    data = json.load(sys.stdin)["data"][0]

    def ours(path, file):
        return path.endswith("/" + file)

    for file in files:
        summary = next((f["summary"] for f in data["files"] if ours(f["filename"], file)), None)
        if summary is None:
            print(f"{harness:14} {file:26} not in the harness's binary", file=sys.stderr)
            continue
        lines, branches = summary["lines"], summary["branches"]
        print(f"{harness:14} {file:26} {inputs:8} "
              f"{lines['percent']:6.1f}% of {lines['count']:4} "
              f"{branches['percent']:6.1f}% of {branches['count']:4}")
        never = sorted(fn["name"].split(":")[-1] for fn in data["functions"]
                       if fn["count"] == 0 and any(ours(p, file) for p in fn["filenames"]))
        if never:
            print(f"{'':14}   never called: {', '.join(never)}")


if __name__ == "__main__":
    main()
