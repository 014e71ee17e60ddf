"""What the fixture's servers share: a JSON-lines log, the readiness line,
and sockets bound to one address of either family."""
import json
import os
import socket
import sys
import threading


class JsonLog:
    """Appends one JSON object a line and flushes it at once, so a test that
    reads the file right after its client returns sees every record."""

    def __init__(self, path):
        self.f = open(path, "a", buffering=1, encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, **record):
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def bind(addr, port, kind):
    """A socket bound to addr:port, listening when kind is SOCK_STREAM."""
    s = socket.socket(family(addr), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ":" in addr:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def ready():
    """Tells the fixture every socket is bound, then lets go of stdout (a pipe
    nobody reads after this line)."""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def spawn(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


class Slots:
    """A cap on concurrent connections: a flood makes the server refuse, not
    grow without bound."""

    def __init__(self, n):
        self.sem = threading.BoundedSemaphore(n)

    def take(self):
        return self.sem.acquire(blocking=False)

    def give(self):
        self.sem.release()
