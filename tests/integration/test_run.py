#!/usr/bin/env python3
"""`airlock run` in the simulated internet: the sandbox is the boundary.

Usage: test_run.py AIRLOCK_BINARY NO_NFTABLES_SHIM   (as root; exits 77 when it cannot run)

airlock runs in netsim's gateway namespace, which routes to the simulated
internet; the command it sandboxes gets namespaces of its own, with only a
loopback interface.  Each case runs real clients (curl, dig, plain sockets)
inside `airlock run` and checks three things: what the client got, what the
internet saw (its servers' logs; for refusals, a packet capture on the
internet's side too: a refused flow must never leave the gateway), and the
line the sandbox's audit log holds.  Some cases run as an unprivileged user
(nobody): rootless sandboxes, where unprivileged user namespaces are enabled.

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import json
import os
import pty
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
TOOLS = ["ip", "curl", "dig", "tcpdump", "setpriv", "ping"]
SHIM = None  # tests/shims/no_nftables.so, from the command line
STRICT = ["--profile", "strict", "--allow", ".allowed.test", "--block", "blocked.test"]

SEND_UDP = r"""
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
try:
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    print("reply", s.recv(100))
except OSError as e:
    print("error", type(e).__name__)
"""

SEND_TCP = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    s.sendall(sys.argv[3].encode())
    s.settimeout(3)
    print("reply", s.recv(100))
except OSError as e:
    print("error", type(e).__name__)
"""


class Runner:
    """Starts `airlock run` in the gateway namespace, as root or as nobody."""

    def __init__(self, net, binary):
        self.net, self.binary = net, binary
        self.state = {}
        for user in ("root", "nobody"):
            d = os.path.join(net.tmpdir, "state-" + user)
            os.makedirs(d)
            if user == "nobody":
                os.chown(d, 65534, 65534)
            self.state[user] = d

    def command(self, args, cmd, preload=None):
        # A preloaded library reaches airlock alone, not `ip netns exec`.
        pre = ["env", f"LD_PRELOAD={preload}"] if preload else []
        return pre + [self.binary, "run", "--upstream", A.dns, *args, "--", *cmd]

    def env(self, user):
        e = netsim.clean_env()
        e["AIRLOCK_STATE_DIR"] = self.state[user]
        e["HOME"] = self.state[user]
        return e

    def run(self, args, cmd, user="root", timeout=60, env=None, preload=None):
        return self.net.gateway.run(self.command(args, cmd, preload), timeout=timeout,
                                    user=None if user == "root" else user,
                                    env={**self.env(user), **(env or {})})

    def popen(self, args, cmd, user="root", **kw):
        return self.net.gateway.popen(self.command(args, cmd),
                                      user=None if user == "root" else user,
                                      env=self.env(user), **kw)

    def log(self, name, user="root"):
        path = os.path.join(self.state[user], "run", name, "run", "audit.jsonl")
        try:
            with open(path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def airlock(self, *args, user="root", timeout=20):
        return self.net.gateway.run([self.binary, *args], timeout=timeout,
                                    user=None if user == "root" else user, env=self.env(user))


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def find(records, **match):
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def curl(net, url, *extra):
    return ["curl", "-sS", "--max-time", "8", "--cacert", net.ca_file, *extra, url]


def origin_saw(net, host):
    return any(h == host or h.startswith(host + ":") for _, _, h in net.http_log())


def py(script, *args):
    return [sys.executable, "-c", script, *args]


# -- HTTP and HTTPS ------------------------------------------------------------

def https_allowed_via_proxy_and_direct(run, net):
    p = []
    r = run.run(STRICT + ["--name", "web"],
                ["sh", "-c", " ".join(curl(net, "https://allowed.test/")) + " && " +
                 " ".join(curl(net, "https://www.allowed.test/", "--noproxy", "'*'"))])
    expect(p, r.returncode == 0, f"curl: {r.returncode} {r.stderr.strip()}")
    expect(p, origin_saw(net, "allowed.test"), "the origin saw allowed.test (proxy)")
    expect(p, origin_saw(net, "www.allowed.test"), "the origin saw www.allowed.test (direct)")
    log = run.log("web")
    expect(p, find(log, proto="connect", name="allowed.test", verdict="allow", port=443),
           "a CONNECT allow record")
    expect(p, find(log, proto="tls", name="www.allowed.test", verdict="allow",
                   address=A.http, port=443), "a transparent TLS allow record (no proxy)")
    expect(p, find(log, proto="dns", name="www.allowed.test", verdict="allow"),
           "the direct client's DNS query went through the gateway")
    return p


def https_blocked_via_proxy_and_direct(run, net):
    p = []
    with net.capture(filter="host 198.18.0.20") as cap:
        via_proxy = run.run(STRICT + ["--name", "web"], curl(net, "https://blocked.test/"))
        direct = run.run(STRICT + ["--name", "web"],
                         curl(net, "https://blocked.test/", "--noproxy", "*"))
        # The name resolved by hand: the SNI still names a blocked host.
        pinned = run.run(STRICT + ["--name", "web"],
                         curl(net, "https://blocked.test/", "--noproxy", "*",
                              "--resolve", f"blocked.test:443:{A.http}"))
        cap.sync()
        left = cap.packets
    expect(p, via_proxy.returncode != 0, "curl through the proxy failed")
    expect(p, "403" in via_proxy.stderr, f"the proxy said 403: {via_proxy.stderr.strip()}")
    expect(p, direct.returncode == 6, f"direct curl could not resolve: {direct.returncode}")
    expect(p, pinned.returncode != 0, "direct curl with a pinned address failed")
    expect(p, not origin_saw(net, "blocked.test"), "the origin never saw blocked.test")
    expect(p, "blocked.test" not in [n for n, _, _ in net.dns_log()],
           "the upstream resolver was never asked for blocked.test")
    expect(p, not left, f"nothing reached the origin's address: {left[:3]}")
    log = run.log("web")
    expect(p, find(log, proto="connect", name="blocked.test", verdict="block",
                   rule="blocked.test"), "a CONNECT block record naming the rule")
    expect(p, find(log, proto="dns", name="blocked.test", verdict="block"), "a DNS block record")
    expect(p, find(log, proto="tls", name="blocked.test", verdict="block"),
           "a transparent TLS block record")
    return p


def wildcards_as_documented(run, net):
    p = []
    args = ["--profile", "strict", "--allow", "*.wild.allowed.test", "--name", "wild"]
    sub = run.run(args, curl(net, "https://x.wild.allowed.test/"))
    apex = run.run(args, curl(net, "https://wild.allowed.test/"))
    expect(p, sub.returncode == 0, f"*.wild.allowed.test allows x.wild...: {sub.stderr}")
    expect(p, "403" in apex.stderr, f"*.wild... does not allow the apex: {apex.stderr}")
    log = run.log("wild")
    expect(p, find(log, name="x.wild.allowed.test", verdict="allow", rule="*.wild.allowed.test"),
           "allowed by the wildcard rule")
    expect(p, find(log, name="wild.allowed.test", verdict="block", origin="default"),
           "the apex refused by the default")
    return p


# -- DNS ------------------------------------------------------------------------

def dig_any_resolver_gets_the_policy(run, net):
    p = []
    script = ("dig +short +tries=1 +time=3 allowed.test; "
              f"dig +short +tries=1 +time=3 @{A.echo} allowed.test; "
              f"dig +tries=1 +time=3 @{A.echo} blocked.test | grep -o 'status: [A-Z]*'; "
              "dig +tcp +short +tries=1 +time=3 @198.18.0.99 www.allowed.test")
    r = run.run(STRICT + ["--name", "dns"], ["sh", "-c", script])
    lines = r.stdout.split()
    expect(p, lines.count(A.http) == 3, f"three answers {A.http}: {r.stdout!r}")
    expect(p, "NXDOMAIN" in r.stdout, f"blocked.test: NXDOMAIN: {r.stdout!r}")
    expect(p, all(q[0] != "blocked.test" for q in net.dns_log()), "blocked name never upstream")
    echo = [x for x in net.echo_log()]
    expect(p, not echo, f"the 'other resolver' (echo host) received nothing: {echo}")
    log = run.log("dns")
    expect(p, len(find(log, proto="dns", name="allowed.test", verdict="allow")) >= 2,
           "both queries logged as allowed")
    return p


# -- everything else: dropped, counted, logged ----------------------------------

def raw_udp_icmp_ipv6_dropped_and_logged(run, net):
    p = []
    token = "airlock-" + secrets.token_hex(8)
    with net.capture(filter="not port 53") as cap:
        tcp = run.run(STRICT + ["--name", "raw"], py(SEND_TCP, A.echo, "7", token))
        tcp6 = run.run(STRICT + ["--name", "raw"], py(SEND_TCP, A.echo6, "7", token))
        ip_origin = run.run(STRICT + ["--name", "raw"], py(SEND_TCP, A.http, "80", token))
        udp = run.run(STRICT + ["--name", "raw"], py(SEND_UDP, A.echo, "7", token))
        udp6 = run.run(STRICT + ["--name", "raw"], py(SEND_UDP, A.echo6, "7", token))
        quic = run.run(STRICT + ["--name", "raw"], py(SEND_UDP, A.http, "443", token))
        pattern = secrets.token_hex(8)  # ping's payload: the token of ICMP
        ping = run.run(STRICT + ["--name", "raw"],
                       ["ping", "-c", "1", "-W", "1", "-p", pattern, A.echo])
        cap.sync()
        leaked = cap.contains(token.encode())
        pinged = cap.contains(bytes.fromhex(pattern))
    for what, r in (("tcp", tcp), ("tcp6", tcp6), ("tcp to the origin", ip_origin),
                    ("udp", udp), ("udp6", udp6), ("quic", quic)):
        expect(p, r.stdout.startswith("error"), f"{what}: {r.stdout.strip()} {r.stderr.strip()}")
    expect(p, ping.returncode != 0 and "command not found" not in ping.stderr,
           f"ping ran and failed: {ping.returncode} {ping.stderr.strip()}")
    expect(p, not pinged, "no ICMP echo reached the internet")
    expect(p, not leaked, "the token never reached the internet")
    expect(p, not net.echo_log(), f"the echo host got nothing: {net.echo_log()}")
    log = run.log("raw")
    expect(p, find(log, proto="tcp", address=A.echo, port=7, verdict="block"),
           "the TCP connect is logged (transparent, no name)")
    expect(p, find(log, proto="tcp", address=A.echo6, port=7, verdict="block"),
           "the IPv6 TCP connect is logged")
    expect(p, find(log, proto="tcp", address=A.http, port=80, verdict="block"),
           "the raw connect to the origin's address is logged")
    for addr, port in ((A.echo, 7), (A.echo6, 7), (A.http, 443)):
        expect(p, find(log, proto="udp", address=addr, port=port, verdict="block",
                       origin="sandbox firewall"), f"UDP to {addr}:{port} logged by the firewall")
    expect(p, "dropped 1 packet" in udp.stderr, f"the end counts the drop: {udp.stderr.strip()}")
    return p


def airgapped_blocks_even_dns(run, net):
    p = []
    r = run.run(["--profile", "airgapped", "--name", "air"],
                ["sh", "-c", "dig +tries=1 +time=2 allowed.test; "
                 f"dig +tries=1 +time=2 @{A.dns} allowed.test; " +
                 " ".join(curl(net, "https://allowed.test/"))])
    expect(p, r.returncode != 0, "curl failed")
    expect(p, "status: NOERROR" not in r.stdout, f"no DNS answer: {r.stdout[:200]}")
    expect(p, not net.dns_log(), f"the upstream resolver heard nothing: {net.dns_log()}")
    expect(p, not net.http_log(), "the origin heard nothing")
    log = run.log("air")
    expect(p, find(log, proto="udp", address=A.dns, port=53, verdict="block",
                   origin="sandbox firewall"), "the query to a resolver logged as dropped")
    return p


def permissive_allows_and_logs(run, net):
    p = []
    r = run.run(["--profile", "permissive", "--name", "open"],
                curl(net, "https://blocked.test/", "--noproxy", "*"))
    expect(p, r.returncode == 0, f"curl: {r.returncode} {r.stderr.strip()}")
    expect(p, origin_saw(net, "blocked.test"), "the origin saw the request")
    log = run.log("open")
    expect(p, find(log, proto="tls", name="blocked.test", verdict="allow"), "logged as allowed")
    return p


# -- the command's life ------------------------------------------------------------

def exit_status_comes_back(run, net):
    p = []
    r = run.run(STRICT, ["sh", "-c", "exit 7"])
    expect(p, r.returncode == 7, f"exit 7: got {r.returncode}")
    r = run.run(STRICT, ["sh", "-c", "kill -TERM $$"])
    expect(p, r.returncode == 128 + 15, f"killed by SIGTERM: {r.returncode}")
    r = run.run(STRICT, ["no-such-command-airlock"])
    expect(p, r.returncode == 127 and "command not found" in r.stderr,
           f"not found: {r.returncode} {r.stderr.strip()}")
    r = run.run(["--profile", "no-such-profile"], ["true"])
    expect(p, r.returncode == 125 and "no-such-profile" in r.stderr,
           f"airlock's own failure: {r.returncode} {r.stderr.strip()}")
    r = run.run(STRICT, ["sh", "-c", "id -u; echo $AIRLOCK_SANDBOX; cat /proc/self/status"])
    expect(p, r.stdout.split()[0] == "0", "runs as the caller (root here)")
    caps = re.search(r"CapEff:\s*(\w+)", r.stdout)
    expect(p, caps and int(caps.group(1), 16) == 0, f"no capabilities: {caps and caps.group(0)}")
    nnp = re.search(r"NoNewPrivs:\s*(\d)", r.stdout)
    expect(p, nnp and nnp.group(1) == "1", "no_new_privs")
    bnd = re.search(r"CapBnd:\s*(\w+)", r.stdout)
    expect(p, bnd and int(bnd.group(1), 16) == 0, f"empty bounding set: {bnd and bnd.group(0)}")
    return p


def signals_are_forwarded(run, net):
    p = []
    proc = run.popen(STRICT, ["sh", "-c", "trap 'exit 9' TERM; sleep 30 & wait"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    supervisor = airlock_pid(proc.pid)
    expect(p, supervisor, "found airlock's pid")
    if supervisor:
        os.kill(supervisor, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        p.append("airlock did not end after SIGTERM")
    expect(p, proc.returncode == 9, f"the command's trap ran: {proc.returncode}")
    return p


def airlock_pid(wrapper_pid):
    """The airlock process under `ip netns exec` (same pid after exec)."""
    try:
        with open(f"/proc/{wrapper_pid}/cmdline", "rb") as f:
            return wrapper_pid if b"run" in f.read() else None
    except FileNotFoundError:
        return None


def netns_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def kill_leaves_nothing(run, net):
    p = []
    marker = "31" + str(secrets.randbelow(10**6))
    proc = run.popen(STRICT + ["--name", "killme"],
                     ["sh", "-c", f"readlink /proc/self/ns/net; exec sleep {marker}"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ns = proc.stdout.readline().decode().strip()
    deadline = time.monotonic() + 5
    sleepers = []
    while time.monotonic() < deadline and not sleepers:
        sleepers = pids_with_arg(marker)
        time.sleep(0.05)
    expect(p, ns.startswith("net:["), f"the sandbox's netns: {ns!r}")
    expect(p, sleepers, "the command runs")
    expect(p, "killme" in run.airlock("ps").stdout, "airlock ps lists it")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = pids_with_arg(marker) + [q for q in all_pids() if netns_of(q) == ns]
        if not left:
            break
        time.sleep(0.05)
    expect(p, not left, f"nothing of the sandbox survives: {left}")
    expect(p, "killme" not in run.airlock("ps").stdout, "airlock ps no longer lists it")
    # The sockets were the namespace's: nothing listens for it anymore, and
    # a new sandbox of that name starts at once.
    r = run.run(STRICT + ["--name", "killme"], ["true"])
    expect(p, r.returncode == 0, f"the name is free again: {r.stderr.strip()}")
    return p


def all_pids():
    return [int(x) for x in os.listdir("/proc") if x.isdigit()]


def pids_with_arg(arg):
    out = []
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if arg.encode() in f.read().split(b"\0"):
                    out.append(pid)
        except OSError:
            pass
    return out


def runtime_allow_applies_and_persists(run, net):
    p = []
    loop = ("for i in $(seq 1 40); do "
            + " ".join(curl(net, "https://blocked.test/", "-o", "/dev/null", "-w", "'%{http_code}\\n'"))
            + " 2>/dev/null; sleep 0.25; done")
    proc = run.popen(["--profile", "strict", "--name", "live"], ["sh", "-c", loop],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    before = time.monotonic()
    r = run.airlock("allow", "--name", "live", "blocked.test")
    expect(p, r.returncode == 0, f"airlock allow: {r.stderr.strip()}")
    ok = False
    while time.monotonic() - before < 5:
        if origin_saw(net, "blocked.test"):
            ok = True
            break
        time.sleep(0.05)
    expect(p, ok, "the running sandbox reached blocked.test after the allow")
    proc.kill()
    proc.wait(timeout=10)
    with open(os.path.join(run.state["root"], "run", "live", "rules", "allowed-domains")) as f:
        expect(p, "blocked.test\n" in f.read(), "persisted in allowed-domains")
    net.clear_logs()
    again = run.run(["--profile", "strict", "--name", "live"], curl(net, "https://blocked.test/"))
    expect(p, again.returncode == 0, f"the next start applies it: {again.stderr.strip()}")
    r = run.airlock("block", "--name", "live", "blocked.test")
    after = run.run(["--profile", "strict", "--name", "live"], curl(net, "https://blocked.test/"))
    expect(p, "403" in after.stderr, f"block replaces the allow: {after.stderr.strip()}")
    r = run.airlock("reset", "--name", "live")
    expect(p, r.returncode == 0, f"reset: {r.stderr.strip()}")
    ps = run.airlock("ps", "-a")
    expect(p, re.search(r"^live\s+run\s+strict", ps.stdout, re.M), f"ps -a: {ps.stdout}")
    return p


UNIX_PROBE = r"""
import os, socket, sys
for path in sys.argv[1:]:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if path.endswith(".sock")
                          else socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(path)
        print("reached", path)
    except OSError as e:
        print("unreachable", path, type(e).__name__)
"""

UNIX_SERVER = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as log:
        log.write("connection\n")
    c.sendall(b"hello from outside")
    c.close()
"""


def tampering_paths_hidden(run, net):
    """Unix sockets cross network namespaces: the ones that could act for the
    sandbox outside (here a stand-in for the D-Bus session bus in
    $XDG_RUNTIME_DIR) and airlock's own control socket and rule files must be
    out of reach, /etc/resolv.conf read-only, /proc the sandbox's own."""
    p = []
    xdg = os.path.join(net.tmpdir, "xdg")
    os.makedirs(xdg)
    bus = os.path.join(xdg, "bus")
    seen = os.path.join(net.tmpdir, "bus-connections")
    server = net.gateway.popen([sys.executable, "-c", UNIX_SERVER, bus, seen],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    expect(p, server.stdout.readline().strip() == b"ready", "the stand-in bus listens")
    extra = os.path.join(net.tmpdir, "secret-dir")
    os.makedirs(extra)
    state = run.state["root"]
    control = os.path.join(state, "run", "tamper", "run", "control.sock")
    rules = os.path.join(state, "run", "tamper", "rules", "allowed-domains")
    probe_py = os.path.join(net.tmpdir, "unix_probe.py")
    with open(probe_py, "w") as f:
        f.write(UNIX_PROBE)
    script = "; ".join([
        " ".join([sys.executable, probe_py, bus, control]),
        f"echo evil.test >> {rules} && echo rules-written",
        f"ls -A {state} | wc -l",
        f"ls -A {extra} | wc -l",
        "echo nameserver 198.18.0.99 > /etc/resolv.conf && echo resolv-written",
        "ls -d /proc/[0-9]* | wc -l",
    ])
    r = run.run(STRICT + ["--name", "tamper", "--hide", extra], ["sh", "-c", script],
                env={"XDG_RUNTIME_DIR": xdg})
    lines = r.stdout.splitlines()
    expect(p, f"unreachable {bus}" in r.stdout, f"the session bus is hidden: {r.stdout!r}")
    expect(p, f"unreachable {control}" in r.stdout, "the control socket is hidden")
    expect(p, "rules-written" not in r.stdout, "the rule files cannot be written")
    expect(p, len(lines) >= 5 and lines[-3].strip() == "0" and lines[-2].strip() == "0",
           f"the state and --hide directories look empty: {lines}")
    expect(p, "resolv-written" not in r.stdout, "/etc/resolv.conf is read-only")
    expect(p, lines and lines[-1].strip().isdigit() and int(lines[-1]) < 10,
           f"/proc shows the sandbox's processes only: {lines[-1:]}")
    # The probe's control: from outside the sandbox, the bus answers.
    probe = net.gateway.run([sys.executable, "-c", UNIX_PROBE, bus])
    expect(p, f"reached {bus}" in probe.stdout, f"the bus answers outside: {probe.stdout!r}")
    net.stop(server)
    with open(seen) as f:
        expect(p, f.read().count("connection") == 1, "the bus got the outside probe only")
    with open(os.path.join(state, "run", "tamper", "rules", "allowed-domains")) as f:
        expect(p, "evil.test" not in f.read(), "allowed-domains unchanged")
    return p


def cooperative_mode_without_nftables(run, net):
    """Where nftables cannot be used in the sandbox: said once, the proxy
    still works, and nothing else gets out (no route at all)."""
    p = []
    env = {"ASAN_OPTIONS": "verify_asan_link_order=0"}
    token = "airlock-" + secrets.token_hex(8)
    script = " ; ".join([
        " ".join(curl(net, "https://allowed.test/", "-o", "/dev/null")) + " && echo proxy-ok",
        " ".join(curl(net, "https://www.allowed.test/", "--noproxy", "'*'", "-o", "/dev/null"))
        + " || echo direct-failed",
        f"dig +short +tries=1 +time=2 @{A.dns} allowed.test || echo dig-other-failed",
        "dig +short +tries=1 +time=2 allowed.test",
        " ".join(py(SEND_UDP, A.echo, "7", token)),
    ])
    with net.capture(filter="not port 53") as cap:
        r = run.run(STRICT + ["--name", "coop"], ["sh", "-c", script], env=env, preload=SHIM)
        cap.sync()
        leaked = cap.contains(token.encode())
    expect(p, r.stderr.count("nftables is not usable inside the sandbox") == 1,
           f"said once: {r.stderr.strip()}")
    expect(p, "Protocol not supported" in r.stderr, "with nftables' own reason")
    expect(p, "proxy-ok" in r.stdout, f"the proxy works: {r.stdout!r}")
    expect(p, "direct-failed" in r.stdout and not origin_saw(net, "www.allowed.test"),
           "a client ignoring the proxy reaches nothing")
    expect(p, "dig-other-failed" in r.stdout, f"another resolver is unreachable: {r.stdout!r}")
    expect(p, A.http in r.stdout.split(), "the sandbox's own resolver answers")
    expect(p, not leaked and not net.echo_log(), "the UDP datagram went nowhere")
    return p


# -- --ask ------------------------------------------------------------------------

def wait_question(run, name, timeout=8):
    """The open questions of sandbox `name`: [(id, what, proto)], once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = run.airlock("pending", "--name", name).stdout
        qs = [line.split()[1:4] for line in out.splitlines() if line.startswith(name + " ")]
        if qs:
            return [(int(q[0]), q[1], q[2]) for q in qs]
        time.sleep(0.1)
    return []


def ask_approve_deny_timeout(run, net):
    p = []
    # Approved once: the held CONNECT goes through; nothing reached the
    # origin before the answer.
    proc = run.popen(["--profile", "strict", "--name", "ask", "--ask"],
                     curl(net, "https://www.blocked.test/", "-o", "/dev/null"),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    qs = wait_question(run, "ask")
    expect(p, qs and qs[0][1:] == ("www.blocked.test:443", "connect"), f"asked: {qs}")
    expect(p, not origin_saw(net, "www.blocked.test"), "held: nothing sent before the answer")
    if qs:
        r = run.airlock("approve", str(qs[0][0]))
        expect(p, r.returncode == 0 and "ask" in r.stdout, f"approve: {r.stdout} {r.stderr}")
    out, err = proc.communicate(timeout=20)
    expect(p, proc.returncode == 0, f"curl after approve: {proc.returncode} {err.decode()}")
    expect(p, origin_saw(net, "www.blocked.test"), "the origin saw it after the approve")
    log = run.log("ask")
    expect(p, find(log, proto="connect", name="www.blocked.test", verdict="allow",
                   rule="www.blocked.test:443", origin="approved at run time"),
           "allowed by the approved rule")
    # Denied: refused, and the same question is not asked again.
    proc = run.popen(["--profile", "strict", "--name", "ask", "--ask"],
                     ["sh", "-c", " ".join(curl(net, "https://edge.cdnhost.test/")) + "; " +
                      " ".join(curl(net, "https://edge.cdnhost.test/"))],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    qs = wait_question(run, "ask")
    if qs:
        r = run.airlock("deny", "--name", "ask", str(qs[0][0]))
        expect(p, r.returncode == 0, f"deny: {r.stderr}")
    out, err = proc.communicate(timeout=20)
    expect(p, err.decode().count("403") == 2, f"both refused: {err.decode()}")
    expect(p, find(run.log("ask"), name="edge.cdnhost.test", verdict="block",
                   detail="denied earlier in this run"), "the second not asked again")
    # No answer: refused after the timeout.
    t0 = time.monotonic()
    r = run.run(["--profile", "strict", "--name", "ask", "--ask", "--ask-timeout", "1"],
                curl(net, "https://api.allowed.test.invalid/"))
    expect(p, "403" in r.stderr and 0.8 < time.monotonic() - t0 < 6,
           f"timed out into a refusal: {r.stderr.strip()} after {time.monotonic() - t0:.1f}s")
    # An explicit block is never asked about.
    r = run.run(["--profile", "strict", "--block", "www.blocked.test", "--name", "ask", "--ask",
                 "--ask-timeout", "30"], curl(net, "https://www.blocked.test/"))
    expect(p, "403" in r.stderr, f"explicit block refused at once: {r.stderr.strip()}")
    # DNS is held too, and `always` keeps the rule.
    proc = run.popen(["--profile", "strict", "--name", "ask", "--ask"],
                     ["dig", "+short", "+tries=1", "+time=8", "cdn.allowed.test.example"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    qs = wait_question(run, "ask")
    expect(p, qs and qs[0][1:] == ("cdn.allowed.test.example", "dns"), f"DNS asked: {qs}")
    if qs:
        run.airlock("approve", "--always", str(qs[0][0]))
    proc.communicate(timeout=20)
    rules = os.path.join(run.state["root"], "run", "ask", "rules", "allowed-domains")
    with open(rules) as f:
        expect(p, "cdn.allowed.test.example\n" in f.read(), "always: kept in allowed-domains")
    expect(p, ("cdn.allowed.test.example", "A", "udp") in net.dns_log(),
           "the approved query went upstream")
    return p


def on_terminal(net, argv, env, steps, timeout=20):
    """Runs argv in the gateway namespace on a new pseudo-terminal (its
    controlling terminal, as a shell's command would have), then for each
    (pattern, keys) waits up to `timeout` seconds for pattern in the output
    and types keys, then as long again for the end.  Returns
    (exit status, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe("ip", ["ip", "netns", "exec", net.gateway.name, *argv], env)
        finally:
            os._exit(127)
    out = b""
    try:
        for pattern, keys in steps + [(None, None)]:
            deadline = time.monotonic() + timeout  # each step (a loaded machine)
            while time.monotonic() < deadline:
                if pattern is not None and re.search(pattern.encode(), out):
                    break
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:  # EIO: the other end is closed
                        chunk = b""
                    if not chunk:
                        pattern = None
                        break
                    out += chunk
            else:
                raise TimeoutError(f"waiting for {pattern!r}; got {out[-300:]!r}")
            if keys is not None:
                os.write(fd, keys)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
    finally:
        os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def terminal_prompt_and_ctrl_c(run, net):
    """--ask's question on the terminal, answered with a key; then ^C on the
    terminal reaches the command (not airlock), whose status comes back."""
    p = []
    env = run.env("root")
    argv = run.command(["--profile", "strict", "--name", "tty", "--ask"],
                       curl(net, "https://www.blocked.test/", "-o", "/dev/null", "-w",
                            "got %{http_code}\n"))
    status, out = on_terminal(net, argv, env, [(r"www\.blocked\.test:443 \(connect\)\. Allow\?",
                                                 b"y\n")])
    expect(p, status == 0 and "got 200" in out, f"approved on the terminal: {status} {out!r}")
    expect(p, "allowed for this run" in out, "the prompt says what the answer did")
    # SIGINT's default action from before "ready" on: a shell would catch
    # a ^C that comes between its echo and its next fork and go on.
    argv = run.command(["--profile", "strict", "--name", "tty"],
                       [sys.executable, "-c", "import signal, time; "
                        "signal.signal(signal.SIGINT, signal.SIG_DFL); print('ready', flush=True); "
                        "time.sleep(30); print('not-interrupted')"])
    status, out = on_terminal(net, argv, env, [("ready", b"\x03")])
    expect(p, status == 130 and "not-interrupted" not in out,
           f"^C ends the command: {status} {out!r}")
    return p


# -- rootless ---------------------------------------------------------------------

def rootless_sandbox_as_nobody(run, net):
    p = []
    script = " && ".join([
        "id -u",
        " ".join(curl(net, "https://allowed.test/", "-o", "/dev/null")),
        " ".join(curl(net, "https://www.allowed.test/", "--noproxy", "'*'", "-o", "/dev/null")),
        "! " + " ".join(curl(net, "https://blocked.test/", "-o", "/dev/null")),
        # An address no allowed name led to: refused, whatever the default.
        "! " + " ".join(curl(net, f"https://{A.echo}/", "--noproxy", "'*'", "-k",
                             "-o", "/dev/null")),
    ])
    r = run.run(STRICT + ["--name", "rootless"], ["sh", "-c", script], user="nobody")
    if "user namespace" in r.stderr and r.returncode == 125:
        return []  # disabled on this machine: the message says so (checked below)
    expect(p, r.returncode == 0, f"as nobody: {r.returncode} {r.stdout} {r.stderr.strip()}")
    expect(p, r.stdout.split()[:1] == ["65534"], f"runs as nobody: {r.stdout!r}")
    expect(p, origin_saw(net, "allowed.test") and origin_saw(net, "www.allowed.test"),
           "allowed through the proxy and directly")
    expect(p, not origin_saw(net, "blocked.test"), "blocked.test never reached")
    log = run.log("rootless", user="nobody")
    expect(p, find(log, proto="tls", address=A.echo, port=443, verdict="block"),
           "the IP-literal direct connect refused")
    st = os.stat(os.path.join(run.state["nobody"], "run", "rootless"))
    expect(p, st.st_uid == 65534, "the state belongs to nobody")
    return p


CASES = [
    ("https-allowed-via-proxy-and-direct", https_allowed_via_proxy_and_direct),
    ("https-blocked-via-proxy-and-direct", https_blocked_via_proxy_and_direct),
    ("wildcards-as-documented", wildcards_as_documented),
    ("dig-any-resolver-gets-the-policy", dig_any_resolver_gets_the_policy),
    ("raw-udp-icmp-ipv6-dropped-and-logged", raw_udp_icmp_ipv6_dropped_and_logged),
    ("airgapped-blocks-even-dns", airgapped_blocks_even_dns),
    ("permissive-allows-and-logs", permissive_allows_and_logs),
    ("exit-status-comes-back", exit_status_comes_back),
    ("signals-are-forwarded", signals_are_forwarded),
    ("kill-leaves-nothing", kill_leaves_nothing),
    ("runtime-allow-applies-and-persists", runtime_allow_applies_and_persists),
    ("tampering-paths-hidden", tampering_paths_hidden),
    ("cooperative-mode-without-nftables", cooperative_mode_without_nftables),
    ("ask-approve-deny-timeout", ask_approve_deny_timeout),
    ("terminal-prompt-and-ctrl-c", terminal_prompt_and_ctrl_c),
    ("rootless-sandbox-as-nobody", rootless_sandbox_as_nobody),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    global SHIM
    SHIM = os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces)")
        return 77
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print(f"skip: missing tools: {' '.join(missing)}")
        return 77
    only = os.environ.get("AIRLOCK_TEST_ONLY")
    results = []
    started = time.monotonic()
    with netsim.Internet(forward=False) as net:
        run = Runner(net, binary)
        for name, fn in CASES:
            if only and only not in name:
                continue
            net.clear_logs()
            try:
                problems = fn(run, net)
            except Exception as e:  # a case that blows up is a failed case
                problems = [f"{type(e).__name__}: {e}"]
            print(("ok   " if not problems else "FAIL ") + name, flush=True)
            for pr in problems:
                print("  " + str(pr).rstrip().replace("\n", "\n  "))
            results.append(not problems)
    failed = results.count(False)
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
