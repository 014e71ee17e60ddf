#!/usr/bin/env python3
"""Load: the gateway under many connections and queries, bounded in count
and time, on loopback inside a test namespace.

Usage: test_load.py AIRLOCK_BINARY PROXY_LOAD_BINARY   (as root; exits 77 when it cannot run)

  - 10,000 idle CONNECT tunnels held at once (bench/proxy_load idle): all
    established, memory per tunnel bounded, and other clients served while
    they are held;
  - 1,000 slow-loris clients (a byte of request head every half second):
    cut at the head deadline, while other clients are served;
  - a burst of 100,000 DNS queries (dnsperf), half allowed and half blocked
    names: none lost, each answered by the policy.

The measured numbers are printed (memory per tunnel, queries per second);
docs/benchmarks.md compares them with other tools.  Everything runs in
netsim's gateway namespace, on 127.0.0.1/127.0.0.2, except the upstream
resolver (the simulated internet's).

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import os
import re
import resource
import select
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
ORIGIN = "127.0.0.2:9000"
PROXY = "127.0.0.1:3128"
# Each tunnel is two sockets in the gateway: 10,000 of them need more than
# 20,000 descriptors, which a machine whose root lacks CAP_SYS_RESOURCE (this
# one: its hard limit is 20,000) cannot give; then the test holds as many as
# the hard limit pays for and says so.
HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
if HARD == resource.RLIM_INFINITY:
    HARD = 1 << 20
NOFILE = f"--nofile={HARD}:{HARD}"
TUNNELS = min(10000, (HARD - 400) // 2)
LORIS = 1000
QUERIES = 100000
MAX_RSS_PER_TUNNEL = 16 * 1024  # bytes; measured about 5 KiB (docs/benchmarks.md)
# AddressSanitizer's redzones and freed-memory quarantine: about 29 KiB.
MAX_RSS_PER_TUNNEL_ASAN = 48 * 1024


def max_rss_per_tunnel(binary):
    with open(binary, "rb") as f:
        return MAX_RSS_PER_TUNNEL_ASAN if b"__asan_init" in f.read() else MAX_RSS_PER_TUNNEL


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def field(line, key):
    m = re.search(rf"\b{key}=(\S+)", line)
    return m.group(1) if m else None


class Load:
    def __init__(self, net, binary, load):
        self.net, self.binary, self.load = net, binary, load
        self.ns = net.gateway
        self.origin = self.ns.popen(["prlimit", NOFILE, load, "origin", ORIGIN])
        self.log = os.path.join(net.tmpdir, "load-audit.jsonl")
        self.gw = self.ns.popen(
            ["prlimit", NOFILE, binary, "gateway", "--profile", "strict",
             "--allow", f"127.0.0.2/32:{ORIGIN.split(':')[1]}", "--allow", ".wild.allowed.test",
             "--listen-proxy", PROXY, "--listen-dns", "127.0.0.1:5353", "--upstream", A.dns,
             "--proxy-max-connections", str(TUNNELS + LORIS + 500),
             "--proxy-head-timeout", "3000", "--dns-rate", "1000000", "--log", self.log])
        self.ns.wait_port("127.0.0.2", 9000)
        self.ns.wait_port("127.0.0.1", 3128)
        # prlimit execs airlock: the gateway's pid is the process's own.
        self.gw_pid = self.gw.pid

    def run(self, cmd, timeout=120):
        return self.ns.run(["prlimit", NOFILE, *cmd], timeout=timeout)

    def others_served(self, seconds=2):
        """Requests of other clients through the proxy meanwhile."""
        r = self.run([self.load, "rps", PROXY, f"http://{ORIGIN}/small", "8", str(seconds)])
        return r.stdout.strip()


def idle_tunnels(ld, net):
    p = []
    idle = ld.ns.popen(["prlimit", NOFILE, ld.load, "idle", PROXY, ORIGIN,
                        str(TUNNELS), str(ld.gw_pid), "6"], stdout=subprocess.PIPE)
    ready, _, _ = select.select([idle.stdout], [], [], 90)
    line = idle.stdout.readline().decode() if ready else ""
    expect(p, field(line, "holding") == str(TUNNELS), f"{TUNNELS} tunnels held: {line!r}")
    other = ld.others_served()
    expect(p, (field(other, "ok") or "0") != "0" and field(other, "errors") == "0",
           f"others served meanwhile: {other}")
    out, _ = idle.communicate(timeout=60)
    out = out.decode()
    per = float(field(out, "rss_per_conn") or "inf")
    bound = max_rss_per_tunnel(ld.binary)
    expect(p, per <= bound, f"memory per tunnel {per:.0f} B (at most {bound}): {out.strip()}")
    print(f"  # {TUNNELS} idle tunnels (descriptor hard limit {HARD}): {per / 1024:.1f} KiB RSS "
          f"each in the gateway, {float(field(out, 'kernel_per_conn') or 0) / 1024:.1f} KiB kernel")
    return p


LORIS_SCRIPT = r"""
import socket, sys, time
addr, n = sys.argv[1], int(sys.argv[2])
host, port = addr.rsplit(":", 1)
socks = []
for i in range(n):
    try:
        s = socket.create_connection((host, int(port)), timeout=2)
        s.setblocking(False)
        socks.append(s)
    except OSError:
        pass
print("open", len(socks), flush=True)
head = b"GET http://127.0.0.2:9000/small HTTP/1.1\r\nHost: 127.0.0.2\r\nX-Slow: "
deadline = time.monotonic() + 8
i = 0
while time.monotonic() < deadline and any(socks):
    for k, s in enumerate(socks):
        if s is None:
            continue
        try:
            s.send(head[i:i + 1] if i < len(head) else b"a")
        except OSError:
            socks[k] = None
    i += 1
    time.sleep(0.5)
print("left", sum(1 for s in socks if s is not None), flush=True)
"""


def slow_loris(ld, net):
    p = []
    loris = ld.ns.popen(["prlimit", NOFILE, sys.executable, "-c", LORIS_SCRIPT,
                         PROXY, str(LORIS)], stdout=subprocess.PIPE)
    ready, _, _ = select.select([loris.stdout], [], [], 30)
    opened = loris.stdout.readline().decode().split()
    expect(p, opened[:2] == ["open", str(LORIS)], f"{LORIS} slow clients connected: {opened}")
    other = ld.others_served(2)
    expect(p, (field(other, "ok") or "0") != "0" and field(other, "errors") == "0",
           f"others served while they crawl: {other}")
    out, _ = loris.communicate(timeout=30)
    left = out.decode().split()
    expect(p, left[:2] == ["left", "0"], f"every slow client cut at the deadline: {left}")
    time.sleep(0.3)
    with open(ld.log) as f:
        cut = sum(1 for line in f if "408" in line)
    expect(p, cut >= LORIS, f"each one logged (408): {cut}")
    return p


def dns_burst(ld, net):
    p = []
    qfile = os.path.join(net.tmpdir, "queries.txt")
    with open(qfile, "w") as f:
        for i in range(500):
            f.write(f"n{i}.wild.allowed.test A\n")
            f.write(f"n{i}.refused.example A\n")
    t0 = time.monotonic()
    r = ld.ns.run(["dnsperf", "-s", "127.0.0.1", "-p", "5353", "-d", qfile, "-n",
                   str(QUERIES // 1000), "-q", "100", "-t", "5"], timeout=300)
    elapsed = time.monotonic() - t0
    sent = re.search(r"Queries sent:\s+(\d+)", r.stdout)
    done = re.search(r"Queries completed:\s+(\d+)", r.stdout)
    lost = re.search(r"Queries lost:\s+(\d+)", r.stdout)
    noerror = re.search(r"NOERROR (\d+)", r.stdout)
    nxdomain = re.search(r"NXDOMAIN (\d+)", r.stdout)
    qps = re.search(r"Queries per second:\s+([\d.]+)", r.stdout)
    expect(p, sent and int(sent.group(1)) == QUERIES, f"{QUERIES} sent: {r.stdout[-600:]}")
    expect(p, lost and int(lost.group(1)) == 0, f"none lost: {lost and lost.group(1)}")
    expect(p, done and int(done.group(1)) == QUERIES, "all completed")
    expect(p, noerror and nxdomain and int(noerror.group(1)) == QUERIES // 2 and
           int(nxdomain.group(1)) == QUERIES // 2,
           f"half answered, half refused: {noerror and noerror.group(0)} {nxdomain and nxdomain.group(0)}")
    print(f"  # {QUERIES} queries in {elapsed:.1f} s: {qps.group(1) if qps else '?'} queries/s")
    return p


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary, load = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces, descriptor limits)")
        return 77
    for tool in ("ip", "prlimit", "dnsperf"):
        if not shutil.which(tool):
            print(f"skip: missing {tool}")
            return 77
    only = os.environ.get("AIRLOCK_TEST_ONLY")
    results = []
    started = time.monotonic()
    with netsim.Internet(forward=False) as net:
        ld = Load(net, binary, load)
        for name, fn in (("idle-tunnels", idle_tunnels), ("slow-loris", slow_loris),
                         ("dns-burst", dns_burst)):
            if only and only not in name:
                continue
            try:
                problems = fn(ld, net)
            except Exception as e:  # a case that blows up is a failed case
                problems = [f"{type(e).__name__}: {e}"]
            print(("ok   " if not problems else "FAIL ") + name, flush=True)
            for pr in problems:
                print("  " + str(pr).rstrip().replace("\n", "\n  "))
            results.append(not problems)
        expect(problems := [], ld.gw.poll() is None, "the gateway survived")
        results.append(not problems)
    failed = results.count(False)
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
