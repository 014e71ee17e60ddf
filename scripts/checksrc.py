#!/usr/bin/env python3
"""Source rules a compiler does not enforce (see docs/architecture.md).

Usage: checksrc.py DIR...   (exit 1 and one line per finding)

1. Banned functions: unbounded or error-blind C library calls.
2. Every descriptor is created close-on-exec, so nothing leaks into the
   sandboxed program: open() with O_CLOEXEC, socket()/socketpair()/accept4()
   with SOCK_CLOEXEC, fopen() with "e" in its mode, and the calls that cannot
   say so (pipe, dup, dup2, accept, epoll_create...) are banned outright.
"""
import os
import re
import sys

BANNED = {
    "sprintf": "snprintf",
    "vsprintf": "vsnprintf",
    "strcpy": "memcpy or snprintf with the size",
    "strcat": "snprintf with the size",
    "strncpy": "memcpy or snprintf (strncpy may not terminate)",
    "strncat": "snprintf with the size",
    "atoi": "a checked parser (strtol with end and range checks)",
    "atol": "a checked parser",
    "atoll": "a checked parser",
    "atof": "strtod with checks",
    "gets": "fgets",
    "strtok": "strtok_r or explicit scanning",
    "tmpnam": "mkstemp",
    "mktemp": "mkstemp or mkdtemp",
    "pipe": "pipe2(fds, O_CLOEXEC)",
    "dup": "fcntl(fd, F_DUPFD_CLOEXEC, 0)",
    "dup2": "dup3(old, new, O_CLOEXEC)",
    "accept": "accept4(..., SOCK_CLOEXEC)",
    "epoll_create": "epoll_create1(EPOLL_CLOEXEC)",
    "inotify_init": "inotify_init1(IN_CLOEXEC)",
}
# Calls whose flags must include a close-on-exec flag.
NEED_FLAG = {
    "open": "O_CLOEXEC",
    "openat": "O_CLOEXEC",
    "socket": "SOCK_CLOEXEC",
    "socketpair": "SOCK_CLOEXEC",
    "accept4": "SOCK_CLOEXEC",
    "pipe2": "O_CLOEXEC",
    "dup3": "O_CLOEXEC",
    "epoll_create1": "EPOLL_CLOEXEC",
    "timerfd_create": "TFD_CLOEXEC",
    "eventfd": "EFD_CLOEXEC",
    "memfd_create": "MFD_CLOEXEC",
    "inotify_init1": "IN_CLOEXEC",
    "signalfd": "SFD_CLOEXEC",
}
# A call: a name not preceded by '.', '->' or another identifier character.
CALL = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*\(")


def strip(text: str, strings: bool) -> str:
    """Blank out comments (and string/char literals when `strings`), keeping
    every offset, so positions in one version hold in the other."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            body = text[i + 1 : j - 1]
            out.append(c + (re.sub(r"[^\n]", " ", body) if strings else body) + text[j - 1 : j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_args(text: str, start: int) -> str:
    """The text between the '(' at start and its matching ')'."""
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : j]
    return text[start + 1 :]


def check_file(path: str) -> list:
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    text = strip(raw, strings=True)  # where calls are looked for
    code = strip(raw, strings=False)  # where their arguments are read
    findings = []
    for m in CALL.finditer(text):
        name = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        where = f"{path}:{line}"
        before = text[: m.start()].rstrip()
        if before.endswith(("define", "#define")):
            continue
        if name in BANNED:
            findings.append(f"{where}: {name}() is banned; use {BANNED[name]}")
        elif name in NEED_FLAG:
            args = call_args(code, m.end() - 1)
            if NEED_FLAG[name] not in args:
                findings.append(f"{where}: {name}() without {NEED_FLAG[name]}")
        elif name in ("fopen", "fdopen", "popen"):
            args = call_args(code, m.end() - 1)
            mode = re.findall(r'"([^"]*)"', args)
            if name != "fdopen" and not (mode and "e" in mode[-1]):
                findings.append(f'{where}: {name}() mode needs "e" (close-on-exec)')
    return findings


def main() -> int:
    findings = []
    for root in sys.argv[1:]:
        for dirpath, _, files in os.walk(root):
            for fn in sorted(files):
                if fn.endswith((".c", ".h")):
                    path = os.path.join(dirpath, fn)
                    findings += check_file(path)
    for f in findings:
        print(f)
    print(f"checksrc: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
