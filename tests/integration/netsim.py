"""A simulated internet in network namespaces, for integration tests.

    with netsim.Internet(forward=True) as net:
        net.client.run(["dig", "@" + net.addr.dns, "allowed.test", "+short"])
        net.dns_log()   # [("allowed.test", "A", "udp")]

builds three namespaces joined by veth pairs (tests/integration/README.md has the picture):

    client  198.18.1.2   2001:2:1::2    only route: via the gateway
    gateway 198.18.1.1   2001:2:1::1    where airlock's gateway runs; forwards
            198.18.0.2   2001:2::2      only if Internet(forward=True)
    internet 198.18.0.1  2001:2::1      the hosts: .10 DNS (53 udp+tcp),
                                        .20 HTTP 80 + HTTPS 443, .30 echo 7

Every address is in 198.18.0.0/15 or 2001:2::/48; the veths are created
directly inside the namespaces, so the host's own namespace never sees them.
Everything is torn down on leaving the `with` (also on an exception, SIGINT,
SIGTERM or SIGHUP): the processes started here are stopped by PID, any
process still inside a namespace is killed by PID, the namespaces (and with
them the veths) are deleted. Names carry the PID ("al<pid>-client"), so runs
do not collide; `python3 netsim.py sweep` removes those of dead runs.
Needs root, iproute2, openssl, python3; dig, curl and tcpdump for the tests.
"""
import contextlib
import ctypes
import glob
import json
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "servers")
NETNS_ETC = "/etc/netns"  # `ip netns exec` bind-mounts NETNS_ETC/NAME/* over /etc


@dataclass(frozen=True)
class Addresses:
    client: str = "198.18.1.2"
    client6: str = "2001:2:1::2"
    gateway: str = "198.18.1.1"  # the gateway's side facing the client
    gateway6: str = "2001:2:1::1"
    uplink: str = "198.18.0.2"  # the gateway's side facing the internet
    uplink6: str = "2001:2::2"
    router: str = "198.18.0.1"  # the internet's side of the uplink
    router6: str = "2001:2::1"
    dns: str = "198.18.0.10"
    dns6: str = "2001:2::10"
    http: str = "198.18.0.20"
    http6: str = "2001:2::20"
    echo: str = "198.18.0.30"
    echo6: str = "2001:2::30"


ADDR = Addresses()

# The test zones dns_server.py answers (its docstring lists the keys).
# Internet(zone={...}) adds entries or, with None, removes them.
_ORIGIN = {"A": [ADDR.http], "AAAA": [ADDR.http6]}
ZONE = {
    "allowed.test": _ORIGIN,
    "www.allowed.test": _ORIGIN,
    "api.allowed.test": _ORIGIN,
    "blocked.test": _ORIGIN,
    "www.blocked.test": _ORIGIN,
    "echo.allowed.test": {"A": [ADDR.echo], "AAAA": [ADDR.echo6]},
    "*.wild.allowed.test": _ORIGIN,
    "cdn.allowed.test": {"CNAME": "edge.cdnhost.test"},
    "edge.cdnhost.test": _ORIGIN,
    "v4only.allowed.test": {"A": [ADDR.http]},
    "v6only.allowed.test": {"AAAA": [ADDR.http6]},
    "shortttl.allowed.test": dict(_ORIGIN, ttl=1),
    "tc.allowed.test": dict(_ORIGIN, tc=True),
    "big.allowed.test": {"A": [f"198.18.0.{100 + i}" for i in range(40)]},
    "slow.allowed.test": dict(_ORIGIN, delay_ms=1000),
    "noanswer.allowed.test": {"drop": True},
    "servfail.allowed.test": {"rcode": 2},
    "garbage.allowed.test": {"garbage": "truncated"},
    "ptrloop.allowed.test": {"garbage": "ptrloop"},
    "txt.allowed.test": {"TXT": ["v=netsim"]},
    # DNS rebinding: names that answer loopback, private, link-local (cloud
    # metadata) and ULA addresses.
    "rebind.test": {"A": ["127.0.0.1", "10.0.0.5", "169.254.169.254"], "AAAA": ["fd00::1", "::1"]},
    "loopback.rebind.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "private.rebind.test": {"A": ["10.0.0.5"], "AAAA": ["fd00::1"]},
    "metadata.rebind.test": {"A": ["169.254.169.254"]},
    "mixed.rebind.test": {"A": [ADDR.http, "10.0.0.5"]},
    "rebind.allowed.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "private.rebind.allowed.test": {"A": ["10.0.0.5"], "AAAA": ["fd00::1"]},
    "linklocal.rebind.allowed.test": {"A": ["169.254.1.1"], "AAAA": ["fe80::1"]},
    "metadata.rebind.allowed.test": {"A": ["169.254.169.254"], "AAAA": ["fd00:ec2::254"]},
    "cname.rebind.test": {"CNAME": "private.rebind.test"},
}

# role -> (namespace suffix, script); run with `sh -e` inside the namespace
# after the veths exist. {fwd} is 1 or 0.
_VETHS = [("client", "eth0", "gateway", "lan0"), ("gateway", "wan0", "internet", "eth0")]
_LINKS = """
sysctl -qw net.ipv6.conf.all.accept_dad=0 {dad}
ip link set lo up
{up}
"""
_CONFIG = {
    # A default route is safe here: this namespace's only link leads to the
    # gateway namespace, which the fixture built.
    "client": f"""
ip addr add {ADDR.client}/24 dev eth0
ip addr add {ADDR.client6}/64 dev eth0 nodad
ip route add default via {ADDR.gateway}
ip -6 route add default via {ADDR.gateway6}
""",
    "gateway": f"""
sysctl -qw net.ipv4.ip_forward={{fwd}} net.ipv6.conf.all.forwarding={{fwd}}
ip addr add {ADDR.gateway}/24 dev lan0
ip addr add {ADDR.gateway6}/64 dev lan0 nodad
ip addr add {ADDR.uplink}/24 dev wan0
ip addr add {ADDR.uplink6}/64 dev wan0 nodad
ip route add 198.18.0.0/15 via {ADDR.router}
ip -6 route add 2001:2::/48 via {ADDR.router6}
""",
    # The hosts' addresses sit on the uplink's interface itself, so the
    # gateway finds them by ARP/NDP on its uplink. The return routes lead only
    # to the client's network.
    "internet": f"""
ip addr add {ADDR.router}/24 dev eth0
ip addr add {ADDR.dns}/24 dev eth0
ip addr add {ADDR.http}/24 dev eth0
ip addr add {ADDR.echo}/24 dev eth0
ip addr add {ADDR.router6}/64 dev eth0 nodad
ip addr add {ADDR.dns6}/64 dev eth0 nodad
ip addr add {ADDR.http6}/64 dev eth0 nodad
ip addr add {ADDR.echo6}/64 dev eth0 nodad
ip route add 198.18.1.0/24 via {ADDR.uplink}
ip -6 route add 2001:2:1::/64 via {ADDR.uplink6}
""",
}
ROLES = ("client", "gateway", "internet")

_PROBE = r"""
import socket, sys
proto, addr, port, data, timeout = sys.argv[1:6]
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
try:
    if proto == "udp":
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(float(timeout))
        s.sendto(bytes.fromhex(data), (addr, int(port)))
        out = s.recv(65535)
    else:
        s = socket.create_connection((addr, int(port)), timeout=float(timeout))
        s.sendall(bytes.fromhex(data))
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    print("reply", out.hex())
except OSError as e:
    print("error", type(e).__name__, e)
"""
_SENTINEL = b"netsim-sentinel-"


class NetsimError(Exception):
    pass


@dataclass
class Exchange:
    """What Namespace.send got back: data, or None and the error's name."""
    data: bytes | None
    error: str | None


def _die_with_parent():
    # A server must not outlive a test runner killed with SIGKILL.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def clean_env():
    """The caller's environment without proxy variables (a host proxy must not
    leak into the simulated internet), in the C locale."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["LC_ALL"] = "C"
    return env


def wait_until(predicate, timeout, what, interval=0.02):
    """Polls predicate until it returns something true; TimeoutError after
    timeout seconds. Bounded in time and in count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 1):
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _sh(cmd, timeout=10):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=clean_env())
    if p.returncode:
        raise NetsimError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def _alive(pid):
    return os.path.exists(f"/proc/{pid}")


def _kill_pid(pid, timeout=2):
    """SIGKILL one process (not our child) and wait, bounded, until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not _alive(pid), timeout, f"pid {pid} to exit")


class Namespace:
    """One network namespace of the simulated internet."""

    def __init__(self, net, role, name):
        self.net, self.role, self.name = net, role, name

    def __str__(self):
        return self.name

    def command(self, cmd, user=None):
        """cmd wrapped to run in this namespace, as user (a name) if given."""
        prefix = ["ip", "netns", "exec", self.name]
        if user is not None:
            pw = pwd.getpwnam(user)
            prefix += ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                       "--clear-groups", "--"]
        return prefix + list(cmd)

    def run(self, cmd, timeout=30, user=None, text=True, **kwargs):
        """subprocess.run in this namespace with output captured; raises
        subprocess.TimeoutExpired (after killing cmd) past timeout."""
        kwargs.setdefault("env", clean_env())
        if text:
            kwargs.setdefault("errors", "replace")
        return subprocess.run(self.command(cmd, user), capture_output=True, text=text,
                              timeout=timeout, preexec_fn=_die_with_parent, **kwargs)

    def popen(self, cmd, user=None, **kwargs):
        """A process in this namespace, stopped at teardown (or by net.stop).
        Unless stdout is given, stdout and stderr go to proc.log_path."""
        kwargs.setdefault("env", clean_env())
        log = None
        if "stdout" not in kwargs:
            base = os.path.basename(cmd[0])
            path = os.path.join(self.net.tmpdir, f"{self.role}-{base}-{len(self.net.procs)}.log")
            log = open(path, "wb")
            kwargs["stdout"] = log
            kwargs.setdefault("stderr", subprocess.STDOUT)
        try:
            proc = subprocess.Popen(self.command(cmd, user), start_new_session=True,
                                    preexec_fn=_die_with_parent, **kwargs)
        finally:
            if log:
                log.close()
        proc.log_path = log.name if log else None
        self.net.procs.append(proc)
        return proc

    def listening(self, addr, port, proto="tcp"):
        """Whether a socket in this namespace listens on addr (or a wildcard) and port."""
        out = self.run(["ss", "-Hln", "-t" if proto == "tcp" else "-u"], timeout=5).stdout
        want = {addr.strip("[]"), "*", "0.0.0.0", "::"}
        for line in out.splitlines():
            fields = line.split()
            if len(fields) < 4:
                continue
            host, _, p = fields[3].rpartition(":")
            if p == str(port) and host.strip("[]").split("%")[0] in want:
                return True
        return False

    def wait_port(self, addr, port, proto="tcp", timeout=5):
        """Waits until something in this namespace listens on addr:port."""
        wait_until(lambda: self.listening(addr, port, proto), timeout,
                   f"{proto} {addr}:{port} in {self.name}", interval=0.05)

    def send(self, proto, addr, port, payload, timeout=2, user=None):
        """Sends payload (bytes) over proto ("tcp" or "udp") to addr:port from
        this namespace; an Exchange with what came back (TCP: everything until
        the peer closed) or the error (e.g. "TimeoutError", "ConnectionRefusedError")."""
        p = self.run([sys.executable, "-c", _PROBE, proto, addr, str(port), payload.hex(),
                      str(timeout)], timeout=2 * timeout + 10, user=user)
        word, _, rest = p.stdout.strip().partition(" ")
        if word == "reply":
            return Exchange(bytes.fromhex(rest), None)
        if word == "error":
            return Exchange(None, rest.split(" ")[0])
        raise NetsimError(f"probe failed in {self.name}: {p.stdout}{p.stderr}")

    def set_resolver(self, *servers):
        """The nameservers in /etc/resolv.conf for commands started from now on."""
        etc = os.path.join(NETNS_ETC, self.name)
        for _ in range(3):  # another run may rmdir NETNS_ETC between the two mkdirs
            with contextlib.suppress(FileNotFoundError):
                os.makedirs(etc, exist_ok=True)
                break
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("".join(f"nameserver {s}\n" for s in servers))
            f.write("options timeout:2 attempts:2\n")


class Capture:
    """tcpdump in one namespace. contains(token) says whether any captured
    packet holds token; it first proves the capture is live and caught up by
    sending a sentinel packet through the namespace's loopback and waiting
    until the capture has it."""

    def __init__(self, ns, path, bpf=None, iface="any"):
        self.ns, self.path = ns, path
        self.proc = None
        # Sentinels go to 127.0.0.1:9 inside the namespace.
        expr = [f"(udp and dst host 127.0.0.1 and dst port 9) or ({bpf})"] if bpf else []
        self.cmd = ["tcpdump", "-Z", "root", "-U", "--immediate-mode", "-n", "-s", "0",
                    "-i", iface, "-w", path, *expr]

    def start(self, timeout=5):
        self.proc = self.ns.popen(self.cmd)
        wait_until(lambda: self._listening(), timeout, "tcpdump to start")
        self.sync(timeout)
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            with open(self.proc.log_path, errors="replace") as f:
                raise NetsimError(f"tcpdump exited {self.proc.returncode}: {f.read().strip()}")
        with open(self.proc.log_path, errors="replace") as f:
            return "listening on" in f.read()

    def _raw_packets(self):
        with open(self.path, "rb") as f:
            data = f.read()
        if len(data) < 24:
            return []
        order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        packets, i = [], 24
        while i + 16 <= len(data):
            incl = struct.unpack(order + "I", data[i + 8 : i + 12])[0]
            if i + 16 + incl > len(data):
                break  # being written
            packets.append(data[i + 16 : i + 16 + incl])
            i += 16 + incl
        return packets

    def sync(self, timeout=5):
        """Sends a sentinel and waits until the capture holds it."""
        token = _SENTINEL + secrets.token_hex(8).encode()
        deadline = time.monotonic() + timeout
        for _ in range(10):  # resend now and then: the first may precede the socket
            self.ns.send("udp", "127.0.0.1", 9, token, timeout=0.05)
            left = min(deadline - time.monotonic(), timeout / 5)
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: any(token in p for p in self._raw_packets()), max(left, 0),
                           "the capture's sentinel")
                return
            if time.monotonic() >= deadline:
                break
        raise NetsimError(f"capture in {self.ns.name} never saw its sentinel: not trustworthy")

    @property
    def packets(self):
        """The captured packets (link-layer bytes), sentinels left out."""
        if self.proc and self.proc.poll() is None:
            self.sync()
        return [p for p in self._raw_packets() if _SENTINEL not in p]

    def contains(self, token):
        return any(token in p for p in self.packets)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.sync()
            self.ns.net.stop(self.proc)


class Internet:
    """The simulated internet; see the module's docstring.

    forward: the gateway namespace routes between client and internet (a
        plain router, for the fixture's self-test) instead of dropping.
    resolver: the nameserver in the client's /etc/resolv.conf.
    zone: entries added to (or, with None, removed from) ZONE.
    """

    _count = 0

    def __init__(self, forward=False, resolver=ADDR.dns, zone=None):
        self.forward, self.resolver = forward, resolver
        self.zone = {k: v for k, v in {**ZONE, **(zone or {})}.items() if v is not None}
        Internet._count += 1
        n = Internet._count
        self.prefix = f"al{os.getpid()}-" if n == 1 else f"al{os.getpid()}-{n}-"
        self.addr = ADDR
        self.tmpdir = None
        self.procs = []
        self.servers = {}  # kind -> the server's process
        self.namespaces = {}
        self._captures = []
        self._created = []  # namespace names actually created, for teardown
        self._old_handlers = {}
        self._closed = False
        self.teardown_errors = []

    # -- building --

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if self.teardown_errors and exc_type is None:
            raise NetsimError("teardown: " + "; ".join(self.teardown_errors))

    def start(self):
        self._trap_signals()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self):
        self.tmpdir = tempfile.mkdtemp(prefix=f"netsim-{os.getpid()}-")
        os.chmod(self.tmpdir, 0o755)  # run(user=...) reads ca.pem
        for role in ROLES:
            name = self.prefix + role
            _sh(["ip", "netns", "add", name])
            self._created.append(name)
            self.namespaces[role] = Namespace(self, role, name)
        for a, a_if, b, b_if in _VETHS:
            # Born inside the two namespaces: never in the host's.
            _sh(["ip", "link", "add", a_if, "netns", self.ns(a).name, "type", "veth",
                 "peer", "name", b_if, "netns", self.ns(b).name])
        ifaces = {r: [i for a, ai, b, bi in _VETHS for i, x in ((ai, a), (bi, b)) if x == r]
                  for r in ROLES}
        for role in ROLES:  # every link up everywhere before any route
            dad = " ".join(f"net.ipv6.conf.{i}.accept_dad=0" for i in ifaces[role])
            up = "\n".join(f"ip link set {i} up" for i in ifaces[role])
            _sh(self.ns(role).command(["sh", "-ec", _LINKS.format(dad=dad, up=up)]))
        for role in ROLES:
            script = _CONFIG[role].replace("{fwd}", "1" if self.forward else "0")
            _sh(self.ns(role).command(["sh", "-ec", script]))
        self.client.set_resolver(self.resolver)
        self.gateway.set_resolver(ADDR.dns)
        self.internet.set_resolver(ADDR.dns)
        self._make_certificates()
        self._start_servers()

    def _make_certificates(self):
        """A throwaway CA (ca.pem, for curl --cacert) and an origin certificate
        it signs for every zone name, "*.<zone>" and the origin's addresses."""
        t = self.tmpdir
        names = sorted({n for n in self.zone} | {"*." + n for n in self.zone if n.count(".") == 1})
        sans = ",".join([f"DNS:{n}" for n in names] + [f"IP:{ADDR.http}", f"IP:{ADDR.http6}"])
        with open(os.path.join(t, "origin.ext"), "w") as f:
            f.write(f"subjectAltName={sans}\nbasicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _sh(["openssl", "req", "-x509", *ec, "-keyout", f"{t}/ca.key", "-out", f"{t}/ca.pem",
             "-days", "2", "-subj", f"/CN=netsim test CA {self.prefix}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        _sh(["openssl", "req", *ec, "-keyout", f"{t}/origin.key", "-out", f"{t}/origin.csr",
             "-subj", "/CN=allowed.test"])
        _sh(["openssl", "x509", "-req", "-in", f"{t}/origin.csr", "-CA", f"{t}/ca.pem",
             "-CAkey", f"{t}/ca.key", "-set_serial", "0x" + secrets.token_hex(8), "-days", "2",
             "-extfile", f"{t}/origin.ext", "-out", f"{t}/origin.pem"])
        os.chmod(f"{t}/ca.pem", 0o644)
        self.ca_file = f"{t}/ca.pem"

    def _server_specs(self):
        t = self.tmpdir
        return {
            "dns": ["dns_server.py", "--zone", f"{t}/zone.json", "--log", f"{t}/dns.jsonl",
                    "--addr", ADDR.dns, "--addr", ADDR.dns6],
            "http": ["http_origin.py", "--cert", f"{t}/origin.pem", "--key", f"{t}/origin.key",
                     "--log", f"{t}/http.jsonl", "--addr", ADDR.http, "--addr", ADDR.http6],
            "echo": ["echo_server.py", "--log", f"{t}/echo.jsonl",
                     "--addr", ADDR.echo, "--addr", ADDR.echo6],
        }

    def _start_servers(self, kinds=None):
        t = self.tmpdir
        with open(f"{t}/zone.json", "w") as f:
            json.dump(self.zone, f, indent=1)
        started = {}
        for kind, (script, *args) in self._server_specs().items():
            if kinds and kind not in kinds:
                continue
            if kind not in self.servers:
                open(f"{t}/{kind}.jsonl", "w").close()
            err = open(f"{t}/{kind}.err", "wb")
            started[kind] = self.internet.popen(
                [sys.executable, "-B", os.path.join(SERVERS, script), *args],
                stdout=subprocess.PIPE, stderr=err)
            err.close()
        self.servers.update(started)
        deadline = time.monotonic() + 10
        for kind, proc in started.items():
            ready, _, _ = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
            line = proc.stdout.readline() if ready else b""
            proc.stdout.close()
            if line != b"ready\n":
                with open(f"{t}/{kind}.err", errors="replace") as f:
                    raise NetsimError(f"{kind} server did not start: {f.read().strip()}")

    def stop_server(self, kind):
        """Stops one of the internet's servers ("dns", "http", "echo")."""
        self.stop(self.servers.pop(kind))

    def start_server(self, kind):
        """Starts it again (its log goes on)."""
        self._start_servers([kind])

    # -- using --

    @property
    def client(self):
        return self.namespaces["client"]

    @property
    def gateway(self):
        return self.namespaces["gateway"]

    @property
    def internet(self):
        return self.namespaces["internet"]

    def ns(self, role):
        return self.namespaces[role]

    def records(self, kind):
        """Every record the "dns", "http" or "echo" server logged, as dicts."""
        with open(os.path.join(self.tmpdir, kind + ".jsonl")) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def dns_log(self):
        """[(name, qtype, transport)] for every query upstream DNS received;
        names in lower case without the final dot, qtype like "A" or "AAAA"."""
        return [(r["name"], r["qtype"], r["transport"]) for r in self.records("dns")]

    def http_log(self):
        """[(method, target, host)] for every request the origin received."""
        return [(r["method"], r["target"], r["host"]) for r in self.records("http")]

    def echo_log(self):
        """[payload] the echo servers received: a TCP connection's bytes joined,
        a UDP datagram each."""
        conns = {}
        for r in self.records("echo"):
            conns[r["conn"]] = conns.get(r["conn"], b"") + bytes.fromhex(r["data"])
        return list(conns.values())

    def clear_logs(self):
        for kind in ("dns", "http", "echo"):
            os.truncate(os.path.join(self.tmpdir, kind + ".jsonl"), 0)  # servers append

    @contextlib.contextmanager
    def capture(self, ns="internet", filter=None, iface="any"):
        """with net.capture() as cap: ...; cap.contains(token) -> bool."""
        path = os.path.join(self.tmpdir, f"capture-{len(self._captures)}.pcap")
        cap = Capture(self.ns(ns), path, filter, iface)
        self._captures.append(cap)
        cap.start()
        try:
            yield cap
        finally:
            cap.stop()

    def stop(self, proc, timeout=3):
        """SIGTERM to the process group proc leads (popen made it), then
        SIGKILL after timeout seconds."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()

    def inventory(self):
        """What teardown must remove, for tests that check it did."""
        return {"namespaces": list(self._created), "pids": [p.pid for p in self.procs],
                "tmpdir": self.tmpdir,
                "etc": [os.path.join(NETNS_ETC, n) for n in self._created]}

    # -- tearing down --

    def close(self):
        if self._closed:
            return
        self._closed = True
        pending = []
        for s in self._old_handlers:  # a second signal must not cut teardown short
            signal.signal(s, lambda signum, frame: pending.append(signum))
        self._teardown()
        for s, handler in self._old_handlers.items():
            signal.signal(s, handler)
        for s in pending:
            os.kill(os.getpid(), s)

    def _step(self, what, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # keep going: the next step may still succeed
            self.teardown_errors.append(f"{what}: {e}")

    def _teardown(self):
        for proc in reversed(self.procs):
            self._step(f"stop pid {proc.pid}", self.stop, proc)
        for name in self._created:
            # Anything else still inside (e.g. a child of a killed command).
            out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                                 timeout=10).stdout
            for pid in out.split():
                self._step(f"kill pid {pid} in {name}", _kill_pid, int(pid))
        for name in self._created:
            self._step(f"delete {name}", _sh, ["ip", "netns", "del", name])
            self._step(f"remove {NETNS_ETC}/{name}", shutil.rmtree,
                       os.path.join(NETNS_ETC, name), True)
        with contextlib.suppress(OSError):
            os.rmdir(NETNS_ETC)  # only if empty: other runs may be using it
        if self.tmpdir and os.environ.get("NETSIM_KEEP") == "1":
            print(f"netsim: kept {self.tmpdir}", file=sys.stderr)
        elif self.tmpdir:
            self._step("remove " + self.tmpdir, shutil.rmtree, self.tmpdir)

    def _trap_signals(self):
        """SIGTERM and SIGHUP raise SystemExit (SIGINT already raises
        KeyboardInterrupt), so `with` unwinds and tears down."""
        if threading.current_thread() is not threading.main_thread():
            return

        def leave(signum, frame):
            raise SystemExit(128 + signum)

        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[s] = signal.getsignal(s)
            if s != signal.SIGINT:
                signal.signal(s, leave)


def sweep(pid=None):
    """Deletes namespaces named al<pid>-* whose pid is no longer running (left
    by a run killed with SIGKILL), after killing what runs inside them, and
    their files; only those of pid if given."""
    removed = []
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"al(\d+)-", name)
        if not m or _alive(int(m.group(1))) or pid not in (None, int(m.group(1))):
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            _kill_pid(int(pid))
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(os.path.join(NETNS_ETC, name), True)
        removed.append(name)
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "netsim-*-*")):
        m = re.match(r"netsim-(\d+)-", os.path.basename(path))
        if m and not _alive(int(m.group(1))) and pid in (None, int(m.group(1))):
            shutil.rmtree(path, True)
            removed.append(path)
    return removed


def main():
    import argparse
    ap = argparse.ArgumentParser(description="sweep: remove what dead runs left; "
                                 "up: build the internet, print its inventory, wait")
    ap.add_argument("command", choices=["sweep", "up"])
    ap.add_argument("--forward", action="store_true", help="up: the gateway routes")
    ap.add_argument("--seconds", type=float, default=600, help="up: tear down after this long")
    args = ap.parse_args()
    if args.command == "sweep":
        for name in sweep():
            print("removed", name)
        return 0
    with Internet(forward=args.forward) as net:
        print(json.dumps(net.inventory()))
        print(f"up for {args.seconds:g}s; Ctrl-C tears down", flush=True)
        time.sleep(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
