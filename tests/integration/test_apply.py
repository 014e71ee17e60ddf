#!/usr/bin/env python3
"""`airlock apply` in a network namespace standing in for a container.

Usage: test_apply.py AIRLOCK_BINARY NO_NFTABLES_SHIM   (as root; exits 77 when it cannot run)

netsim's client namespace is the "container": it routes to the simulated
internet (Internet(forward=True)), it has its own /etc/resolv.conf and
/etc/hosts (ip netns exec binds them from /etc/netns/NAME), and `airlock
apply` runs there as root, as the devcontainer feature's init hook would.
The gateway runs as the `daemon` user; the programs being filtered run as
`nobody`, a stand-in for the container's user, and know nothing of airlock
(no proxy variables).  Each case checks what the client got, what the
internet saw (its servers' logs; a capture on its side for the refusals)
and the audit log.

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
TOOLS = ["ip", "nft", "curl", "dig", "tcpdump", "setpriv", "ping", "iptables-save"]
GATEWAY_USER = "daemon"
USER = "nobody"
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n198.18.0.99 build-cache.internal"

SEND = r"""
import socket, sys
proto, addr, port, data = sys.argv[1:5]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
try:
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(1.5)
        s.sendto(data.encode(), (addr, int(port)))
        print("reply", s.recv(100))
    else:
        s = socket.create_connection((addr, int(port)), timeout=3)
        s.sendall(data.encode())
        s.settimeout(3)
        print("reply", s.recv(100))
except OSError as e:
    print("error", type(e).__name__)
"""

LOCAL_SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"local service\n")
    c.close()
"""

UDP53 = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    s.recvfrom(512)
"""


class Container:
    def __init__(self, net, binary, shim):
        self.net, self.binary, self.shim = net, binary, shim
        self.ns = net.client
        self.etc = os.path.join(netsim.NETNS_ETC, self.ns.name)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write(HOSTS)  # no final newline: --remove must give it back as it was
        self.state = os.path.join(net.tmpdir, "state")
        os.makedirs(self.state)
        os.chmod(net.tmpdir, 0o755)
        self.conf = os.path.join(net.tmpdir, "apply.conf")
        self.workspace = os.path.join(net.tmpdir, "workspace")
        os.makedirs(os.path.join(self.workspace, ".claude"))

    def env(self):
        e = netsim.clean_env()
        e["AIRLOCK_STATE_DIR"] = self.state
        e["WORKSPACE_FOLDER"] = self.workspace
        return e

    def configure(self, **options):
        base = {"profile": "strict", "allowedDomains": ".allowed.test",
                "user": GATEWAY_USER}
        base.update(options)
        with open(self.conf, "w") as f:
            for k, v in base.items():
                if v is not None:
                    f.write(f"{k} = {v}\n")

    def apply(self, *args, preload=None, user=None, no_iptables=False):
        """airlock apply in the container; `preload` (the shim) breaks
        libnftables, `no_iptables` hides the iptables tools (PATH)."""
        cmd = [self.binary, "apply", "--config", self.conf, *args]
        pre = [f"LD_PRELOAD={preload}", "ASAN_OPTIONS=verify_asan_link_order=0"] if preload else []
        if no_iptables:
            pre.append("PATH=/nonexistent")
        if pre:
            cmd = ["env", *pre] + cmd
        return self.ns.run(cmd, env=self.env(), timeout=60, user=user)

    def user(self, cmd, timeout=30):
        return self.ns.run(cmd, user=USER, env=self.env(), timeout=timeout)

    def curl(self, url, *extra):
        return self.user(["curl", "-sS", "--max-time", "6", "--cacert", self.net.ca_file,
                          "-o", "/dev/null", "-w", "%{http_code}", *extra, url])

    def send(self, proto, addr, port, data):
        return self.user([sys.executable, "-c", SEND, proto, addr, str(port), data]).stdout

    def log(self, since=0):
        """The audit log's records, from record `since` on (mark() says where
        the log ends now)."""
        path = os.path.join(self.state, "apply", "devcontainer", "run", "audit.jsonl")
        time.sleep(0.1)  # the writer lingers 20 ms
        try:
            with open(path) as f:
                return [json.loads(line) for line in f if line.strip()][since:]
        except FileNotFoundError:
            return []

    def mark(self):
        return len(self.log())

    def ruleset(self):
        return self.ns.run(["nft", "list", "ruleset"]).stdout

    def gateway_pids(self):
        out = subprocess.run(["ip", "netns", "pids", self.ns.name], capture_output=True,
                             text=True).stdout.split()
        pids = []
        for pid in out:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "airlock":
                        pids.append(int(pid))
            except OSError:
                pass
        return pids


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def find(records, **match):
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def origin_saw(net, host):
    return any(h == host or h.startswith(host + ":") for _, _, h in net.http_log())


def applied(c, **options):
    """Configure, apply; the problems if that failed."""
    c.configure(**options)
    r = c.apply()
    return [] if r.returncode == 0 else [f"apply: {r.returncode} {r.stderr.strip()}"]


# -- the cases -------------------------------------------------------------------

def filters_programs_that_ignore_everything(c, net):
    p = applied(c)
    token = "airlock-" + secrets.token_hex(8)
    pattern = secrets.token_hex(8)
    with net.capture(filter="not port 53") as cap:
        ok = c.curl("https://allowed.test/")
        name = c.curl("https://blocked.test/")
        pinned = c.curl("https://blocked.test/", "--resolve", f"blocked.test:443:{A.http}")
        dig = c.user(["dig", "+short", "+tries=1", "+time=3", f"@{A.echo}", "allowed.test"])
        raw = c.send("tcp", A.echo, 7, token)
        udp = c.send("udp", A.echo, 7, token)
        ping = c.user(["ping", "-c", "1", "-W", "1", "-p", pattern, A.echo])
        cap.sync()
        leaked = cap.contains(token.encode()) or cap.contains(bytes.fromhex(pattern))
    expect(p, ok.stdout == "200", f"allowed: {ok.stdout} {ok.stderr.strip()}")
    expect(p, name.returncode == 6, f"blocked name does not resolve: {name.returncode}")
    expect(p, pinned.returncode != 0, "pinned address refused")
    expect(p, dig.stdout.split() == [A.http], f"another resolver: the policy's answer {dig.stdout!r}")
    expect(p, raw.startswith("error") and udp.startswith("error"), f"raw {raw!r} udp {udp!r}")
    expect(p, ping.returncode != 0, "ping fails")
    expect(p, not leaked and not net.echo_log(), "nothing reached the internet")
    expect(p, not origin_saw(net, "blocked.test"), "the origin never saw blocked.test")
    log = c.log()
    expect(p, find(log, proto="tls", name="allowed.test", verdict="allow"), "allowed logged")
    expect(p, find(log, proto="dns", name="blocked.test", verdict="block"), "DNS block logged")
    expect(p, find(log, proto="tls", name="blocked.test", verdict="block"), "SNI block logged")
    expect(p, find(log, proto="tcp", address=A.echo, port=7, verdict="block"), "raw TCP logged")
    expect(p, find(log, proto="udp", address=A.echo, port=7, origin="sandbox firewall"),
           "the UDP datagram logged (NFLOG)")
    expect(p, find(log, proto="icmp", address=A.echo, origin="sandbox firewall"),
           "the ping logged (NFLOG)")
    return p


def gateway_unprivileged(c, net):
    p = applied(c)
    pids = c.gateway_pids()
    expect(p, len(pids) == 1, f"one gateway: {pids}")
    if pids:
        with open(f"/proc/{pids[0]}/status") as f:
            status = f.read()
        uid = re.search(r"Uid:\s+(\d+)", status).group(1)
        caps = re.search(r"CapEff:\s+(\w+)", status).group(1)
        bnd = re.search(r"CapBnd:\s+(\w+)", status).group(1)
        expect(p, uid == "1" and int(caps, 16) == 0 and int(bnd, 16) == 0,
               f"runs as daemon with nothing: uid {uid} CapEff {caps} CapBnd {bnd}")
    return p


def default_policy_and_blocked_domains(c, net):
    p = applied(c, defaultPolicy="allow", blockedDomains="blocked.test, *.wild.allowed.test",
                allowedDomains="")
    other = c.curl("https://edge.cdnhost.test/")
    blocked = c.curl("https://blocked.test/")
    wild = c.curl("https://x.wild.allowed.test/")
    expect(p, other.stdout == "200", f"default allow: {other.stdout} {other.stderr.strip()}")
    expect(p, blocked.returncode != 0, "blockedDomains refuses blocked.test")
    expect(p, wild.returncode != 0, "and the wildcard")
    p += applied(c, defaultPolicy="block", allowedDomains="")
    other = c.curl("https://edge.cdnhost.test/")
    expect(p, other.returncode != 0, "default block refuses it")
    return p


def profile_option(c, net):
    p = applied(c, profile="permissive", allowedDomains="")
    r = c.curl("https://blocked.test/")
    expect(p, r.stdout == "200", f"permissive: {r.stdout} {r.stderr.strip()}")
    expect(p, find(c.log(), name="blocked.test", verdict="allow"), "and logged")
    return p


def docker_networks(c, net):
    """The echo host stands in for a Compose service on a Docker network
    (dockerNetworks names its address: test traffic stays on 198.18/15)."""
    token = "airlock-" + secrets.token_hex(8)
    p = applied(c, allowDockerNetworks="true", dockerNetworks=f"{A.echo}/32")
    r = c.send("tcp", A.echo, 7, token)
    expect(p, r.startswith("reply"), f"reached directly: {r!r}")
    expect(p, any(token.encode() in x for x in net.echo_log()), "the service got it")
    p += applied(c, allowDockerNetworks="false", dockerNetworks=f"{A.echo}/32")
    net.clear_logs()
    r = c.send("tcp", A.echo, 7, token)
    expect(p, r.startswith("error") and not net.echo_log(), f"refused: {r!r}")
    return p


def localhost(c, net):
    server = c.ns.popen([sys.executable, "-c", LOCAL_SERVER, "8088"], user=USER,
                        stdout=subprocess.PIPE)
    p = []
    try:
        expect(p, server.stdout.readline().strip() == b"ready", "a local service listens")
        p += applied(c, allowLocalhost="true")
        r = c.send("tcp", "127.0.0.1", 8088, "hi")
        expect(p, "local service" in r, f"allowLocalhost true: reached: {r!r}")
        p += applied(c, allowLocalhost="false")
        r = c.send("tcp", "127.0.0.1", 8088, "hi")
        expect(p, r.startswith("error"), f"allowLocalhost false: refused: {r!r}")
        ok = c.curl("https://allowed.test/")
        expect(p, ok.stdout == "200", f"the gateway still serves: {ok.stdout}")
    finally:
        net.stop(server)
    return p


def log_blocked(c, net):
    p = applied(c, logBlocked="false")
    since = c.mark()
    c.send("udp", A.echo, 7, "x")
    expect(p, not find(c.log(since), proto="udp", origin="sandbox firewall"), "not logged")
    counter = c.ns.run(["nft", "list", "counter", "inet", "airlock", "dropped_udp"]).stdout
    expect(p, re.search(r"packets [1-9]", counter), f"counted all the same: {counter}")
    return p


def claude_webfetch(c, net):
    settings = os.path.join(c.workspace, ".claude", "settings.json")
    with open(settings, "w") as f:
        json.dump({"permissions": {"allow": ["WebFetch(domain:www.blocked.test)"]}}, f)
    os.makedirs(os.path.join(c.workspace, "conf"), exist_ok=True)
    with open(os.path.join(c.workspace, "conf", "team.json"), "w") as f:
        json.dump({"permissions": {"allow": ["WebFetch(domain:*.cdnhost.test)"]}}, f)
    try:
        p = applied(c)
        r = c.curl("https://www.blocked.test/")
        expect(p, r.stdout == "200", f"from .claude/settings.json: {r.stdout} {r.stderr.strip()}")
        expect(p, find(c.log(), name="www.blocked.test", verdict="allow",
                       origin=f"Claude settings {settings}"), "logged with the file as origin")
        p += applied(c, claudeSettingsPaths="conf/team.json")
        r = c.curl("https://edge.cdnhost.test/")
        expect(p, r.stdout == "200", f"claudeSettingsPaths: {r.stdout}")
        expect(p, c.curl("https://www.blocked.test/").returncode != 0, "only the paths given")
        p += applied(c, allowClaudeWebFetchDomains="false")
        expect(p, c.curl("https://www.blocked.test/").returncode != 0, "off: not allowed")
    finally:
        os.unlink(settings)
    return p


def immutable_config(c, net):
    p = applied(c, immutableConfig="true")
    state = os.path.join(c.state, "apply", "devcontainer")
    rules = os.path.join(state, "rules", "allowed-domains")
    pid = c.gateway_pids()[:1]
    tries = [
        ("write the rules", ["sh", "-c", f"echo blocked.test >> {rules}"]),
        ("write the config", ["sh", "-c", f"echo 'defaultPolicy = allow' >> {c.conf}"]),
        ("use the control socket", [c.binary, "allow", "--name", "devcontainer", "blocked.test"]),
        ("flush the table", ["nft", "flush", "ruleset"]),
        ("stop the gateway", ["kill", str(pid[0]) if pid else "1"]),
    ]
    for what, cmd in tries:
        r = c.user(cmd)
        expect(p, r.returncode != 0, f"nobody cannot {what}: {r.stdout} {r.stderr}")
    expect(p, c.gateway_pids() == pid and "table inet airlock" in c.ruleset(),
           "the gateway and the table are still there")
    expect(p, c.curl("https://blocked.test/").returncode != 0, "blocked.test still refused")
    # Not immutable, with the container's user as admin: it may change the rules.
    p += applied(c, immutableConfig="false", adminUser=USER)
    r = c.user([c.binary, "allow", "--name", "devcontainer", "www.blocked.test"])
    expect(p, r.returncode == 0, f"adminUser changes the rules: {r.stdout} {r.stderr}")
    ok = c.curl("https://www.blocked.test/")
    expect(p, ok.stdout == "200", f"in force at once: {ok.stdout} {ok.stderr.strip()}")
    c.apply()  # as root, whatever the config
    c.ns.run([c.binary, "reset", "--name", "devcontainer"], env=c.env())
    return p


def doctor_reports(c, net):
    """airlock doctor on the in-place sandbox: in force while its gateway
    serves; a failure (exit 1) once the gateway is gone with the policy
    still applied; "removed" after --remove."""
    def doctor():
        r = c.ns.run([c.binary, "doctor"], env=c.env(), timeout=60)
        lines = [l for l in r.stdout.splitlines() if "sandbox devcontainer (apply)" in l]
        return r.returncode, lines[0] if lines else r.stdout
    p = applied(c)
    code, out = doctor()
    expect(p, "ok" in out and "in force on this machine" in out, f"applied: {out}")
    for pid in c.gateway_pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    code, out = doctor()
    expect(p, code == 1 and "fail" in out and "does not answer" in out,
           f"gateway gone: exit {code}: {out}")
    c.apply("--remove")
    code, out = doctor()
    expect(p, "ok" in out and "removed" in out, f"removed: {out}")
    return p


def twice_is_idempotent(c, net):
    p = applied(c)
    first = strip_counters(c.ruleset())
    r = c.apply()
    expect(p, r.returncode == 0 and "re-applied" in r.stdout, f"again: {r.stdout} {r.stderr}")
    expect(p, strip_counters(c.ruleset()) == first, "the same ruleset")
    expect(p, len(c.gateway_pids()) == 1, f"one gateway: {c.gateway_pids()}")
    expect(p, c.curl("https://allowed.test/").stdout == "200", "still serving")
    return p


def strip_counters(text):
    return re.sub(r"packets \d+ bytes \d+", "", text)


def snapshot(c):
    with open(os.path.join(c.etc, "hosts")) as f:
        hosts = f.read()
    with open(os.path.join(c.etc, "resolv.conf")) as f:
        resolv = f.read()
    return c.ruleset(), hosts, resolv


def remove_restores(c, net):
    c.apply("--remove")
    before = snapshot(c)
    p = applied(c)
    r = c.apply("--remove")
    expect(p, r.returncode == 0, f"remove: {r.stderr}")
    expect(p, snapshot(c) == before, "nft ruleset, /etc/hosts and /etc/resolv.conf as before")
    expect(p, not c.gateway_pids(), "no gateway left")
    ok = c.curl("https://blocked.test/")
    expect(p, ok.stdout == "200", "unfiltered again")
    return p


def hosts_fallback(c, net):
    """Port 53 taken: blocked names sinkholed in /etc/hosts, DNS straight to
    the resolvers, TCP still through the gateway; --remove gives the file
    back byte for byte."""
    c.apply("--remove")
    before = snapshot(c)
    squatter = c.ns.popen([sys.executable, "-c", UDP53], stdout=subprocess.PIPE)
    p = []
    try:
        expect(p, squatter.stdout.readline().strip() == b"ready", "port 53 taken")
        p += applied(c, blockedDomains="blocked.test")
        with open(os.path.join(c.etc, "hosts")) as f:
            hosts = f.read()
        expect(p, "0.0.0.0 blocked.test" in hosts and hosts.startswith(HOSTS),
               f"sinkholed between markers: {hosts!r}")
        r = c.user(["getent", "hosts", "blocked.test"])
        expect(p, r.stdout.split()[:1] in (["0.0.0.0"], ["::"]), f"resolves to the sinkhole {r.stdout!r}")
        ok = c.curl("https://allowed.test/")
        expect(p, ok.stdout == "200", f"allowed names still work: {ok.stdout} {ok.stderr.strip()}")
        pinned = c.curl("https://blocked.test/", "--resolve", f"blocked.test:443:{A.http}")
        expect(p, pinned.returncode != 0, "the gateway still refuses it by name")
        c.apply("--remove")
        expect(p, snapshot(c) == before, "--remove: everything as before")
    finally:
        net.stop(squatter)
    return p


def fails_closed(c, net):
    """Neither nftables (the shim) nor iptables (not on PATH): nothing
    half-done, no gateway left, a clear message; not root: refused."""
    c.apply("--remove")
    before = snapshot(c)
    c.configure()
    r = c.apply(preload=c.shim, no_iptables=True)
    expect(p := [], r.returncode != 0 and "nothing is filtered" in r.stderr,
           f"a clear failure: {r.returncode} {r.stderr.strip()}")
    expect(p, not c.gateway_pids(), "no gateway left running")
    expect(p, snapshot(c) == before, "nothing changed")
    r = c.apply(user=USER)
    expect(p, r.returncode != 0 and "as root" in r.stderr, f"not root: {r.stderr.strip()}")
    c.configure(bogusOption="1")
    r = c.apply("--check")
    expect(p, r.returncode == 2 and "apply.conf:4: unknown option 'bogusOption'" in r.stderr,
           f"a bad config names its line: {r.stderr.strip()}")
    return p


def iptables_fallback(c, net):
    """nftables unusable (the shim): the same rules through iptables-restore,
    said once; --remove takes the chains out again."""
    c.apply("--remove")
    before = snapshot(c)
    c.configure()
    r = c.apply(preload=c.shim)
    p = [] if r.returncode == 0 else [f"apply: {r.returncode} {r.stderr.strip()}"]
    expect(p, "nftables is not usable here" in r.stderr and "through iptables" in r.stdout,
           f"said: {r.stdout} {r.stderr}")
    saved = c.ns.run(["iptables-save"]).stdout
    expect(p, "-A OUTPUT -j AIRLOCK_NAT" in saved and "-A OUTPUT -j AIRLOCK_OUT" in saved,
           "the chains are jumped to")
    ok = c.curl("https://allowed.test/")
    expect(p, ok.stdout == "200", f"allowed: {ok.stdout} {ok.stderr.strip()}")
    expect(p, c.curl("https://blocked.test/").returncode != 0, "blocked")
    since = c.mark()
    r = c.send("udp", A.echo, 7, "x")
    expect(p, r.startswith("error") and not net.echo_log(), f"UDP dropped: {r}")
    expect(p, find(c.log(since), proto="udp", origin="sandbox firewall"), "and logged (NFLOG)")
    c.apply()  # nftables again: the chains must go
    expect(p, "AIRLOCK" not in c.ns.run(["iptables-save"]).stdout, "no chains once nft is back")
    c.apply(preload=c.shim)
    c.apply("--remove")
    expect(p, "AIRLOCK" not in c.ns.run(["iptables-save"]).stdout, "--remove: no chains")
    # iptables-nft keeps the empty tables it made (docs/devcontainer.md says so).
    after = list(snapshot(c))
    after[0] = without_empty_iptables_tables(after[0])
    expect(p, tuple(after) == before, f"--remove: as before:\n{after[0]}")
    return p


def without_empty_iptables_tables(ruleset):
    """The ruleset without the tables iptables-nft creates, when they hold
    nothing but empty base chains."""
    out = []
    for block in re.split(r"(?m)^(?=table )", ruleset):
        m = re.match(r"table (ip6?) (nat|filter) ", block)
        rules = [line for line in block.splitlines()
                 if line.strip() and not re.match(r"\s*(table|chain|type|\}|policy)", line.strip())]
        if m and not rules:
            continue
        out.append(block)
    return "".join(out)


CASES = [
    ("filters-programs-that-ignore-everything", filters_programs_that_ignore_everything),
    ("gateway-unprivileged", gateway_unprivileged),
    ("default-policy-and-blocked-domains", default_policy_and_blocked_domains),
    ("profile-option", profile_option),
    ("docker-networks", docker_networks),
    ("localhost", localhost),
    ("log-blocked", log_blocked),
    ("claude-webfetch", claude_webfetch),
    ("immutable-config", immutable_config),
    ("doctor-reports", doctor_reports),
    ("twice-is-idempotent", twice_is_idempotent),
    ("remove-restores", remove_restores),
    ("hosts-fallback", hosts_fallback),
    ("iptables-fallback", iptables_fallback),
    ("fails-closed", fails_closed),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary, shim = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
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
    with netsim.Internet(forward=True) as net:
        c = Container(net, binary, shim)
        for name, fn in CASES:
            if only and only not in name:
                continue
            net.clear_logs()
            try:
                problems = fn(c, net)
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
