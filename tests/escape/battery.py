#!/usr/bin/env python3
"""The escape battery: every scenario under scenarios/, in one topology.

Usage: battery.py TOPOLOGY AIRLOCK_BINARY ATTACKER_BINARY   (as root; exits 77 when it cannot run)
       TOPOLOGY: run (airlock run), apply (in place) or docker (airlock docker
       run, on a private dockerd: tests/docker/dockerd.py)

Each scenario file is named for an attack and yields attempts; each attempt
runs tests/escape/attacker.c (one attempt a run) inside the topology's
sandbox, against the simulated internet (tests/integration/netsim.py).  An
attempt expected to be stopped counts as stopped only when three things
hold:
  - the client failed (no reply, no answer with records);
  - the random token it tried to send appears nowhere on the simulated
    internet's side: not in its servers' logs, not in a packet capture
    there;
  - the audit log gained a record of the refusal, with the fields the
    scenario names (or the scenario says why no record can exist).
Attempts a scenario expects to succeed (an allowed host is an allowed host:
what it relays is beyond a name filter) are checked the other way round,
and named in docs/security.md as residual gaps.

Prints "ok   SCENARIO: attempt" or "FAIL SCENARIO: attempt: why" an attempt,
then "N passed, N failed".  AIRLOCK_TEST_ONLY=WORD runs the scenarios whose
file name holds WORD.
"""
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import netsim  # noqa: E402

A = netsim.ADDR
# Names below allowed.test on port 443 only (so a CONNECT to another port is
# refused), the rebinding name on any port, blocked.test blocked.
POLICY = ["--profile", "strict", "--allow", ".allowed.test:443", "--allow", "rebind.allowed.test",
          "--block", "blocked.test"]
APPLY_CONF = ("profile = strict\nallowedDomains = .allowed.test:443, rebind.allowed.test\n"
              "blockedDomains = blocked.test\nuser = {user}\nname = battery\n"
              "allowDockerNetworks = false\n")
GATEWAY_USER = "daemon"
USER = "nobody"


@dataclass
class Attempt:
    name: str
    argv: list
    token: str = ""          # must never reach the internet ("through": must, the gap shown)
    expect: str = "stopped"  # "stopped", or "through" (a documented gap)
    log: dict = None         # fields of the record the refusal leaves
    no_log: str = ""         # why no record can exist, instead of `log`
    only: tuple = ()         # the topologies it applies to (empty: all)
    upstream_never: str = "" # a name the upstream resolver must never be asked
    sent_nowhere: str = ""   # why the client's own success is no escape (the token decides)


@dataclass
class Result:
    ok: bool
    problems: list = field(default_factory=list)


class Topology:
    """What every topology gives a scenario: where the gateway's listeners
    are as the sandbox sees them, a token maker, and attempt()."""
    name = "?"
    dns = "127.0.0.1"
    proxy = "127.0.0.1"

    def __init__(self, net, airlock, attacker):
        self.net, self.airlock, self.attacker = net, airlock, attacker

    @staticmethod
    def token():
        return "tok" + secrets.token_hex(8)

    def attempt(self, name, argv, **kw):
        return Attempt(name, [str(a) for a in argv], **kw)


class RunTopology(Topology):
    """`airlock run`: one sandbox per attempt, from netsim's gateway namespace."""
    name = "run"

    def __init__(self, net, airlock, attacker):
        super().__init__(net, airlock, attacker)
        self.state = os.path.join(net.tmpdir, "state")
        os.makedirs(self.state)
        # The sandbox sees this namespace's /etc/hosts: a copy of our own,
        # so a tampering attempt never touches the machine's.
        with open(os.path.join(netsim.NETNS_ETC, net.gateway.name, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        self.control = os.path.join(self.state, "run", "battery", "run", "control.sock")
        self.log_path = os.path.join(self.state, "run", "battery", "run", "audit.jsonl")

    def env(self):
        e = netsim.clean_env()
        e["AIRLOCK_STATE_DIR"] = self.state
        return e

    def run(self, argv, timeout=30):
        cmd = [self.airlock, "run", "-q", "--upstream", A.dns, "--name", "battery", *POLICY,
               "--", self.attacker, *argv]
        return self.net.gateway.run(cmd, env=self.env(), timeout=timeout)

    def rule_change(self, *args):
        return self.net.gateway.run([self.airlock, *args, "--name", "battery"], env=self.env())

    def neighbour(self):
        """Another sandbox, started on first use: a listener on its own
        127.0.0.1:8000 that writes what it receives where saw() reads it."""
        if not hasattr(self, "nb"):
            self.nb_file = os.path.join(self.net.tmpdir, "neighbour-received")
            cmd = [self.airlock, "run", "-q", "--upstream", A.dns, "--name", "neighbour",
                   "--profile", "strict", "--", sys.executable, "-c", NEIGHBOUR, self.nb_file]
            self.nb = self.net.gateway.popen(cmd, env=self.env(), stdout=subprocess.PIPE)
            if self.nb.stdout.readline().strip() != b"listening":
                raise RuntimeError("the neighbour sandbox did not start")
        return {"listener": "127.0.0.1", "port": 8000,
                "control": os.path.join(self.state, "run", "neighbour", "run", "control.sock")}

    def saw(self, token):
        try:
            with open(self.nb_file, "rb") as f:
                return ["the neighbour sandbox"] if token.encode() in f.read() else []
        except (AttributeError, FileNotFoundError):
            return []

    def close(self):
        if hasattr(self, "nb"):
            self.net.stop(self.nb)


# The neighbour sandbox's listener (run): what arrives goes to argv[1].
NEIGHBOUR = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8000))
s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        data = c.recv(4096)
    except OSError:
        data = b""
    with open(sys.argv[1], "ab") as f:
        f.write(data)
    c.close()
"""


class ApplyTopology(Topology):
    """In place: `airlock apply` once in netsim's client namespace (routed to
    the internet), the attempts as `nobody` there."""
    name = "apply"

    def __init__(self, net, airlock, attacker):
        super().__init__(net, airlock, attacker)
        self.state = os.path.join(net.tmpdir, "state")
        os.makedirs(self.state)
        os.chmod(net.tmpdir, 0o755)
        with open(os.path.join(netsim.NETNS_ETC, net.client.name, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        conf = os.path.join(net.tmpdir, "apply.conf")
        with open(conf, "w") as f:
            f.write(APPLY_CONF.format(user=GATEWAY_USER))
        r = net.client.run([airlock, "apply", "--config", conf], env=self.env(), timeout=60)
        if r.returncode:
            raise RuntimeError(f"airlock apply: {r.stderr.strip()}")
        self.conf = conf
        self.control = os.path.join(self.state, "apply", "battery", "run", "control.sock")
        self.log_path = os.path.join(self.state, "apply", "battery", "run", "audit.jsonl")
        shutil.copy(attacker, os.path.join(net.tmpdir, "attacker"))
        self.attacker = os.path.join(net.tmpdir, "attacker")

    def env(self):
        e = netsim.clean_env()
        e["AIRLOCK_STATE_DIR"] = self.state
        return e

    def run(self, argv, timeout=30):
        return self.net.client.run([self.attacker, *argv], user=USER, env=self.env(),
                                   timeout=timeout)

    def rule_change(self, *args):
        return self.net.client.run([self.airlock, *args, "--name", "battery"], env=self.env())

    def close(self):
        self.net.client.run([self.airlock, "apply", "--config", self.conf, "--remove"],
                            env=self.env(), timeout=60)


class DockerTopology(Topology):
    """`airlock docker run`: one detached workload (the attacker and sleep in
    an image of their own) behind its sidecar; the attempts are docker exec."""
    name = "docker"

    def __init__(self, net, airlock, attacker):
        super().__init__(net, airlock, attacker)
        sys.path.insert(0, os.path.join(HERE, "..", "docker"))
        import dockerd
        import test_docker
        self.dk = dockerd.Daemon(net)
        self.dk.__enter__()
        r = self.dk.docker(["import", "-", "airlock-battery:1"],
                           input=test_docker.workload_tar([attacker, "/usr/bin/sleep"]),
                           text=False)
        if r.returncode:
            raise RuntimeError(f"docker import: {r.stderr!r}")
        self.state = os.path.join(net.tmpdir, "state")
        os.makedirs(self.state)
        os.chmod(self.state, 0o700)
        allow = [a for a in POLICY if a != "--profile" and a != "strict"]
        r = self.docker_cli("run", "--name", "battery", "--profile", "strict", *allow,
                            "--upstream", A.dns, "-d", "airlock-battery:1", "/usr/bin/sleep", "3600")
        if r.returncode:
            raise RuntimeError(f"airlock docker run: {r.stderr.strip()}")
        c = self.dk.inspect("airlock-gw-battery")
        self.dns = self.proxy = c["NetworkSettings"]["Networks"]["airlock-int-battery"]["IPAddress"]
        self.control = os.path.join(self.state, "docker", "battery", "run", "control.sock")
        self.log_path = os.path.join(self.state, "docker", "battery", "run", "audit.jsonl")

    def docker_cli(self, *args):
        env = self.dk.env()
        env["AIRLOCK_STATE_DIR"] = self.state
        return subprocess.run([self.airlock, "docker", *args], env=env, capture_output=True,
                              text=True, timeout=180)

    def run(self, argv, timeout=30):
        return self.dk.docker(["exec", "battery", self.attacker, *argv], timeout=timeout)

    def adjust(self, a):
        """What differs behind a Docker sidecar, which is the workload's
        router (enforce/router.h): everything the workload sends over IPv4
        reaches it and is decided or logged there, as in `airlock run`.
        But the internal network is IPv4 only: an attempt at an IPv6
        address finds no route in the workload, so no packet exists to
        stop or log.  And Docker gives the workload's root CAP_NET_RAW:
        ICMP and raw IP sockets open and send - to the sidecar, which logs
        and drops what they sent."""
        target = a.argv[1] if len(a.argv) > 1 and a.argv[0] in TARGETED else None
        if target and ":" in target.split("]")[0] and a.expect == "stopped":
            a.log = None
            a.no_log = "the internal network is IPv4 only: no IPv6 route, no packet"
            if a.argv[0] == "raw":
                a.sent_nowhere = "a raw IPv6 datagram with no route"
        elif a.argv[0] in ("icmp", "raw"):
            a.no_log = None
            a.log = {"address": target, "verdict": "block", "origin": "sandbox firewall"}
            if a.argv[0] == "raw":
                a.sent_nowhere = "CAP_NET_RAW is Docker's default: the datagram goes to the " \
                                 "sidecar, which drops it"
        return a

    def neighbour(self):
        """Another Docker sandbox, started on first use: its sidecar's
        listeners, on an internal network of its own."""
        if not hasattr(self, "nb_ip"):
            r = self.docker_cli("run", "--name", "neighbour", "--profile", "strict",
                                "--upstream", A.dns, "-d", "airlock-battery:1",
                                "/usr/bin/sleep", "3600")
            if r.returncode:
                raise RuntimeError(f"airlock docker run (neighbour): {r.stderr.strip()}")
            c = self.dk.inspect("airlock-gw-neighbour")
            self.nb_ip = c["NetworkSettings"]["Networks"]["airlock-int-neighbour"]["IPAddress"]
        return {"listener": self.nb_ip, "port": 3128,
                "control": os.path.join(self.state, "docker", "neighbour", "run", "control.sock")}

    def host_listener(self):
        """A UDP listener on every address of the daemon's namespace (the
        "host"), started on first use; what it receives goes where saw()
        reads it.  With the MAC of the internal bridge's host side."""
        if not hasattr(self, "host_srv"):
            self.host_file = os.path.join(self.net.tmpdir, "host-received")
            self.host_srv = self.net.gateway.popen(
                [sys.executable, "-c", HOST_LISTENER, self.host_file], stdout=subprocess.PIPE)
            if self.host_srv.stdout.readline().strip() != b"listening":
                raise RuntimeError("the host's listener did not start")
            br = "br-" + self.dk.api("GET", "/networks/airlock-int-battery")["Id"][:12]
            mac = self.dk.netns(["cat", f"/sys/class/net/{br}/address"]).stdout.strip()
            self.host = {"mac": mac, "addr": A.uplink, "port": 17007}
        return self.host

    def saw(self, token):
        try:
            with open(self.host_file, "rb") as f:
                return ["the host's listener"] if token.encode() in f.read() else []
        except (AttributeError, FileNotFoundError):
            return []

    def close(self):
        if hasattr(self, "host_srv"):
            self.net.stop(self.host_srv)
        if hasattr(self, "nb_ip"):
            self.docker_cli("rm", "neighbour")
        self.docker_cli("rm", "battery")
        self.dk.close()


# The host's UDP listener (docker): what arrives goes to argv[1].
HOST_LISTENER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 17007))
print("listening", flush=True)
while True:
    data, _ = s.recvfrom(4096)
    with open(sys.argv[1], "ab") as f:
        f.write(data)
"""

# The attempts whose second word is where they go.
TARGETED = ("tcp", "udp", "icmp", "raw", "dns", "dnswire", "http", "tls", "connect")

TOPOLOGIES = {"run": RunTopology, "apply": ApplyTopology, "docker": DockerTopology}


def records(t):
    time.sleep(0.08)  # the log writer lingers 20 ms
    try:
        with open(t.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def internet_saw(net, token):
    """Where on the internet's side the token showed up (servers' logs)."""
    where = []
    if any(token in n for n, _, _ in net.dns_log()):
        where.append("the DNS server")
    if any(token in (t or "") or token in (h or "") for _, t, h in net.http_log()):
        where.append("the web origin")
    if any(token.encode() in x for x in net.echo_log()):
        where.append("the echo host")
    return where


def check(t, net, a, cap):
    since = len(records(t))
    net.clear_logs()
    p = t.run(a.argv)
    out = (p.stdout + p.stderr).strip()
    problems = []
    if p.returncode not in (0, 1):
        problems.append(f"attacker exit {p.returncode}: {out[:200]}")
    seen = []
    if a.token:
        cap.sync()
        seen = internet_saw(net, a.token) + (t.saw(a.token) if hasattr(t, "saw") else [])
        if cap.contains(a.token.encode()):
            seen.append("the packet capture")
    if a.expect == "stopped":
        if p.returncode == 0 and not a.sent_nowhere:
            problems.append(f"the client got through: {out[:200]}")
        if seen:
            problems.append(f"the token reached {', '.join(seen)}")
    elif a.expect == "through" and a.token and not seen:
        problems.append(f"a documented gap no longer shows (the token went nowhere): {out[:200]}")
    if a.upstream_never and any(a.upstream_never in n for n, _, _ in net.dns_log()):
        problems.append(f"the upstream resolver was asked about {a.upstream_never}")
    if a.log is not None:
        new = records(t)[since:]
        match = [r for r in new if all(r.get(k) == v for k, v in a.log.items())]
        if not match:
            problems.append(f"no record with {a.log} among {[short(r) for r in new][:6]}")
        elif not any(r.get("rule") or r.get("origin") or r.get("detail") for r in match):
            # What stopped it: a rule (and where it came from), the default,
            # or for what no rule decides (a malformed request) the reason.
            problems.append(f"the refusal says nothing of what stopped it: {short(match[0])}")
    elif a.expect == "stopped" and not a.no_log:
        problems.append("the scenario names neither the record nor why there is none")
    return problems


def short(r):
    return {k: r.get(k) for k in ("proto", "name", "address", "port", "verdict", "origin", "detail")
            if r.get(k) not in (None, "", 0)}


def load_scenarios(only):
    scen = []
    d = os.path.join(HERE, "scenarios")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".py") or (only and only not in f):
            continue
        spec = importlib.util.spec_from_file_location(f[:-3], os.path.join(d, f))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        scen.append((f[:-3], mod))
    return scen


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in TOPOLOGIES:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    topo, airlock, attacker = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces)")
        return 77
    for tool in ("ip", "nft", "tcpdump", "setpriv"):
        if not shutil.which(tool):
            print(f"skip: missing {tool}")
            return 77
    only = os.environ.get("AIRLOCK_TEST_ONLY")
    results = []
    started = time.monotonic()
    with netsim.Internet(forward=(topo == "apply")) as net:
        try:
            t = TOPOLOGIES[topo](net, airlock, attacker)
        except Exception as e:
            if type(e).__name__ == "Unavailable":  # dockerd cannot run here
                print(f"skip: {e}")
                return 77
            raise
        try:
            with net.capture() as cap:
                for name, mod in load_scenarios(only):
                    custom = getattr(mod, "run", None)
                    if custom:
                        problems = custom(t, net)
                        print(("ok   " if not problems else "FAIL ") + name, flush=True)
                        for pr in problems:
                            print("  " + pr)
                        results.append(not problems)
                        continue
                    for a in mod.attempts(t):
                        if a.only and topo not in a.only:
                            continue
                        if hasattr(t, "adjust"):
                            a = t.adjust(a)
                        try:
                            problems = check(t, net, a, cap)
                        except Exception as e:  # a blown-up attempt is a failed one
                            problems = [f"{type(e).__name__}: {e}"]
                        label = f"{name}: {a.name}"
                        print(("ok   " if not problems else "FAIL ") + label, flush=True)
                        for pr in problems:
                            print("  " + str(pr).replace("\n", "\n  "))
                        results.append(not problems)
        finally:
            if hasattr(t, "close"):
                t.close()
    failed = results.count(False)
    print(f"# {topo}: {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
