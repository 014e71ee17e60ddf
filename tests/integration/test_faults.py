#!/usr/bin/env python3
"""Faults: the boundary holds when parts of the system fail.

Usage: test_faults.py AIRLOCK_BINARY   (as root; exits 77 when it cannot run)

In the simulated internet, with `airlock apply` in the client namespace (a
container, as in test_apply.py) or `airlock gateway` in the gateway
namespace, each case breaks something and checks that traffic fails closed
(stops, nothing goes around the gateway), that the gateway survives what
it can survive and says so in its log, and that it serves again once the
fault is gone:

  - the gateway killed in the middle of a transfer;
  - the upstream resolver down, slow, or answering garbage;
  - a reload with a broken rule file (the old policy stays);
  - the audit log's disk full (decisions go on; the gap is logged);
  - out of file descriptors (others still served; service comes back).

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
USER = "nobody"


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def origin_saw(net, host):
    return any(h == host or h.startswith(host + ":") for _, _, h in net.http_log())


class InPlace:
    """airlock apply in the client namespace (see test_apply.py)."""

    def __init__(self, net, binary):
        self.net, self.binary, self.ns = net, binary, net.client
        self.state = os.path.join(net.tmpdir, "state")
        os.makedirs(self.state)
        os.chmod(net.tmpdir, 0o755)
        with open(os.path.join(netsim.NETNS_ETC, self.ns.name, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        self.conf = os.path.join(net.tmpdir, "apply.conf")
        with open(self.conf, "w") as f:
            f.write("profile = strict\nallowedDomains = .allowed.test\nuser = daemon\n"
                    "name = faults\n")
        self.dir = os.path.join(self.state, "apply", "faults")

    def env(self):
        e = netsim.clean_env()
        e["AIRLOCK_STATE_DIR"] = self.state
        return e

    def apply(self, *args):
        return self.ns.run([self.binary, "apply", "--config", self.conf, *args], env=self.env(),
                           timeout=60)

    def airlock(self, *args):
        return self.ns.run([self.binary, *args], env=self.env(), timeout=30)

    def curl(self, url, *extra, timeout=8):
        return self.ns.run(["curl", "-sS", "--max-time", str(timeout), "--cacert",
                            self.net.ca_file, "-o", "/dev/null", "-w", "%{http_code}", *extra,
                            url], user=USER, env=self.env(), timeout=timeout + 10)

    def gateway_pid(self):
        with open(os.path.join(self.dir, "run", "gateway.pid")) as f:
            return int(f.read())

    def log(self):
        time.sleep(0.1)
        with open(os.path.join(self.dir, "run", "audit.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]


def gateway_killed_mid_transfer(c, net):
    p = []
    r = c.apply()
    expect(p, r.returncode == 0, f"apply: {r.stderr}")
    # A download of 300 bytes, one every 50 ms: 15 s if nothing stops it.
    dl = c.ns.popen(["curl", "-sS", "--max-time", "30", "--cacert", net.ca_file, "-o",
                     "/dev/null", "https://api.allowed.test/slow?n=300&ms=50"], user=USER,
                    env=c.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    os.kill(c.gateway_pid(), signal.SIGKILL)
    t0 = time.monotonic()
    try:
        dl.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.append("the download went on without the gateway")
        dl.kill()
    expect(p, dl.returncode not in (0, None), f"the download failed: {dl.returncode}")
    expect(p, time.monotonic() - t0 < 5, "at once")
    net.clear_logs()
    r = c.curl("https://www.allowed.test/", timeout=4)
    expect(p, r.returncode != 0, f"no new connection while the gateway is down: {r.stdout}")
    expect(p, not origin_saw(net, "www.allowed.test"), "nothing went around it")
    r = c.apply()
    expect(p, r.returncode == 0, f"apply again: {r.stderr}")
    r = c.curl("https://www.allowed.test/")
    expect(p, r.stdout == "200", f"a restarted gateway serves: {r.stdout} {r.stderr}")
    return p


def upstream_down_slow_garbage(c, net):
    p = []
    dig = ["dig", "+tries=1", "+time=8"]
    net.stop_server("dns")
    try:
        t0 = time.monotonic()
        r = c.ns.run(dig + ["fresh1.wild.allowed.test"], user=USER, env=c.env(), timeout=20)
        expect(p, "status: SERVFAIL" in r.stdout and time.monotonic() - t0 < 7,
               f"upstream down: SERVFAIL, in bounded time: {r.stdout[:200]}")
        r = c.curl("https://fresh2.wild.allowed.test/")
        expect(p, r.returncode != 0, "the proxy cannot resolve either: refused")
    finally:
        net.start_server("dns")
    r = c.ns.run(dig + ["fresh3.wild.allowed.test"], user=USER, env=c.env(), timeout=20)
    expect(p, "status: NOERROR" in r.stdout, f"the resolver back: answered {r.stdout[:200]}")
    r = c.ns.run(dig + ["slow.allowed.test"], user=USER, env=c.env(), timeout=20)
    expect(p, "status: NOERROR" in r.stdout, f"a slow upstream (1 s): answered {r.stdout[:100]}")
    for name in ("garbage.allowed.test", "ptrloop.allowed.test"):
        r = c.ns.run(dig + [name], user=USER, env=c.env(), timeout=20)
        expect(p, "status: SERVFAIL" in r.stdout, f"{name}: SERVFAIL {r.stdout[:100]}")
    expect(p, c.curl("https://allowed.test/").stdout == "200", "the gateway still serves")
    return p


def broken_reload_keeps_policy(c, net):
    p = []
    rules = os.path.join(c.dir, "rules", "allowed-domains")
    with open(rules, "w") as f:
        f.write("*.*.broken\n")
    try:
        r = c.airlock("allow", "--name", "faults", "www.blocked.test")
        expect(p, r.returncode != 0 and "refused the new rules" in r.stderr,
               f"the reload is refused: {r.returncode} {r.stderr.strip()}")
        expect(p, "allowed-domains:1" in r.stderr, f"naming the line: {r.stderr.strip()}")
        expect(p, c.curl("https://allowed.test/").stdout == "200", "the old policy still serves")
        expect(p, c.curl("https://www.blocked.test/").returncode != 0,
               "and nothing of the broken file is in force")
    finally:
        with open(rules, "w") as f:
            f.write("")
    r = c.airlock("allow", "--name", "faults", "www.blocked.test")
    expect(p, r.returncode == 0, f"a good file reloads: {r.stderr}")
    expect(p, c.curl("https://www.blocked.test/").stdout == "200", "and is in force")
    c.airlock("reset", "--name", "faults")
    return p


def log_disk_full(net, binary):
    """The audit log on a 64 KiB file system, full: every query is still
    answered; once there is room again, the log says how many records were
    lost."""
    p = []
    logdir = os.path.join(net.tmpdir, "tinylog")
    os.makedirs(logdir)
    gw = net.gateway.popen(
        ["unshare", "-m", "sh", "-c",
         f"mount -t tmpfs -o size=64k tmpfs {logdir} && "
         f"head -c 60000 /dev/zero > {logdir}/filler && "
         f"exec {binary} gateway --profile strict --allow .allowed.test "
         f"--listen-dns {A.gateway}:53 --upstream {A.dns} --log {logdir}/audit.log"])
    try:
        net.gateway.wait_port(A.gateway, 53, "udp")
        answered = 0
        for i in range(60):
            r = net.client.run(["dig", "+short", "+tries=1", "+time=3", f"@{A.gateway}",
                                f"n{i}.wild.allowed.test"], timeout=10)
            answered += A.http in r.stdout.split()
        expect(p, answered == 60, f"every query answered with the log full: {answered}/60")
        subprocess.run(["nsenter", "-t", str(gw.pid), "-m", "rm", f"{logdir}/filler"], check=True)
        for i in range(3):
            net.client.run(["dig", "+short", "+tries=1", "+time=3", f"@{A.gateway}",
                            f"after{i}.wild.allowed.test"], timeout=10)
            time.sleep(0.3)
        text = subprocess.run(["nsenter", "-t", str(gw.pid), "-m", "cat", f"{logdir}/audit.log"],
                              capture_output=True, text=True).stdout
        expect(p, re.search(r"disk full: \d+ records lost", text),
               f"the gap is logged: {text[-400:]!r}")
        expect(p, "after2.wild.allowed.test" in text, "and logging goes on")
    finally:
        net.stop(gw)
    return p


def out_of_descriptors(net, binary):
    """At 64 descriptors, 100 idle proxy clients use them all up: DNS is
    still answered, and once they leave the proxy serves again."""
    p = []
    log = os.path.join(net.tmpdir, "fd.log")
    gw = net.gateway.popen(
        ["prlimit", "--nofile=64:64", binary, "gateway", "--profile", "strict", "--allow",
         ".allowed.test", "--listen-dns", f"{A.gateway}:53", "--listen-proxy",
         f"{A.gateway}:3128", "--upstream", A.dns, "--log", log])
    socks = []
    try:
        net.gateway.wait_port(A.gateway, 3128)
        hold = ("import socket, time\n"
                "s = []\n"
                "for i in range(100):\n"
                "    try:\n"
                f"        c = socket.create_connection(('{A.gateway}', 3128), timeout=1)\n"
                "        c.send(b'CONNECT allowed.test:443 HTTP/1.1\\r\\n')\n"
                "        s.append(c)\n"
                "    except OSError:\n"
                "        pass\n"
                "print(len(s), flush=True)\n"
                "time.sleep(4)\n")
        holder = net.client.popen([sys.executable, "-c", hold], stdout=subprocess.PIPE)
        socks.append(holder)
        held = holder.stdout.readline().strip()
        r = net.client.run(["dig", "+short", "+tries=1", "+time=3", f"@{A.gateway}",
                            "allowed.test"], timeout=10)
        expect(p, A.http in r.stdout.split(), f"DNS answered at the limit (held {held}): {r.stdout!r}")
        holder.wait(timeout=15)
        time.sleep(1.5)
        r = net.client.run(["curl", "-sS", "--max-time", "8", "--cacert", net.ca_file, "-x",
                            f"http://{A.gateway}:3128", "-o", "/dev/null", "-w", "%{http_code}",
                            "https://allowed.test/"], timeout=20)
        expect(p, r.stdout == "200", f"the proxy serves again: {r.stdout} {r.stderr}")
        expect(p, gw.poll() is None, "the gateway never died")
        with open(log) as f:
            text = f.read()
        expect(p, "proxy connections capped at" in text, "the cap and its reason are logged")
        expect(p, '"detail":"connection cap' in text or "at the cap" in text or
               re.search(r"cap.*closed|closed.*cap", text),
               f"the connections over the cap are noted: {text[-300:]!r}")
    finally:
        for s in socks:
            net.stop(s)
        net.stop(gw)
    return p


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces)")
        return 77
    for tool in ("ip", "nft", "curl", "dig", "unshare", "prlimit", "nsenter"):
        if not shutil.which(tool):
            print(f"skip: missing {tool}")
            return 77
    only = os.environ.get("AIRLOCK_TEST_ONLY")
    results = []
    started = time.monotonic()
    with netsim.Internet(forward=True) as net:
        c = InPlace(net, binary)
        inplace = [("gateway-killed-mid-transfer", gateway_killed_mid_transfer),
                   ("upstream-down-slow-garbage", upstream_down_slow_garbage),
                   ("broken-reload-keeps-policy", broken_reload_keeps_policy)]
        plain = [("log-disk-full", log_disk_full), ("out-of-descriptors", out_of_descriptors)]
        for name, fn in inplace + plain:
            if only and only not in name:
                continue
            net.clear_logs()
            try:
                if (name, fn) in inplace:
                    if not c.ns.run(["nft", "list", "table", "inet", "airlock"]).returncode == 0:
                        c.apply()
                    problems = fn(c, net)
                else:
                    c.apply("--remove")
                    problems = fn(net, binary)
            except Exception as e:  # a case that blows up is a failed case
                problems = [f"{type(e).__name__}: {e}"]
            print(("ok   " if not problems else "FAIL ") + name, flush=True)
            for pr in problems:
                print("  " + str(pr).rstrip().replace("\n", "\n  "))
            results.append(not problems)
        c.apply("--remove")
    failed = results.count(False)
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
