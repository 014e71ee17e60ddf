#!/usr/bin/env python3
"""`airlock gateway` in the simulated internet, with real clients.

Usage: test_gateway.py AIRLOCK_BINARY   (as root; exits 77 when it cannot run)

The gateway runs in the gateway namespace, which does not forward: the client
namespace reaches the internet only through the gateway's DNS listener and
proxy.  Clients are the real ones (dig, curl, openssl s_client).  Each case
checks three things: what the client got, what the simulated internet saw
(its servers' logs: a refused name must never appear there), and the JSON
line the gateway logged.  The gateway's stderr must stay free of sanitizer
reports (the suite also runs in the ASan+UBSan build).

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
PROXY = f"http://{A.gateway}:3128"
TOOLS = ["ip", "ss", "dig", "curl", "openssl"]
HEAD_TIMEOUT_MS = 1500

# The policy: strict (default block), the allowed zone by name, one explicit
# block, and the rebinding names allowed by name so that only the answer
# check can refuse them.
POLICY = ["--profile", "strict", "--allow", ".allowed.test", "--allow", ".cdnhost.test",
          "--allow", ".rebind.test", "--block", "blocked.test"]


class Gateway:
    """airlock gateway in the gateway namespace, serving the client's side."""

    def __init__(self, net, binary):
        self.net = net
        self.log = os.path.join(net.tmpdir, "audit.jsonl")
        self.control_path = os.path.join(net.tmpdir, "control.sock")
        self.proc = net.gateway.popen(
            [binary, "gateway", *POLICY,
             "--listen-dns", f"{A.gateway}:53", "--listen-dns", f"[{A.gateway6}]:53",
             "--listen-proxy", f"{A.gateway}:3128", "--listen-proxy", f"[{A.gateway6}]:3128",
             "--upstream", A.dns, "--dns-timeout", "500",
             "--proxy-head-timeout", str(HEAD_TIMEOUT_MS),
             "--log", self.log, "--name", "itest", "--control", self.control_path])
        net.gateway.wait_port(A.gateway, 3128)
        net.gateway.wait_port(A.gateway, 53, "udp")

    def records(self, **match):
        """The audit log's records that have every key=value of match."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            recs = [json.loads(line) for line in f if line.endswith("\n")]
        return [r for r in recs if all(r.get(k) == v for k, v in match.items())]

    def mark(self):
        """A point in the log: wait_record(since=mark) ignores what came before."""
        return len(self.records())

    def wait_record(self, timeout=3, since=0, **match):
        """The last record matching (key=None: the key is absent), logged after
        `since`, waiting for the writer thread."""
        def find():
            found = [r for r in self.records()[since:]
                     if all(r.get(k) == v for k, v in match.items())]
            return found[-1] if found else None
        return netsim.wait_until(find, timeout, f"a log record {match}")

    def control(self, request):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(3)
            s.connect(self.control_path)
            s.send(request.encode())
            return s.recv(65536).decode()

    def stderr(self):
        with open(self.proc.log_path, errors="replace") as f:
            return f.read()


def dig(net, *args):
    """(status, answers) of dig from the client, asking the gateway."""
    p = net.client.run(["dig", "+tries=1", "+time=3", f"@{A.gateway}", *args], timeout=20)
    m = re.search(r"status: (\w+)", p.stdout)
    answers, section = [], None
    for line in p.stdout.splitlines():
        if line.startswith(";; ") and line.endswith("SECTION:"):
            section = line
        elif not line.strip():
            section = None
        elif section == ";; ANSWER SECTION:":
            answers.append(line.split(None, 4)[4])
    return (m.group(1) if m else None), answers


def curl(net, *args, proxy=PROXY, timeout=20):
    cmd = ["curl", "-sS", "--max-time", "10", "--cacert", net.ca_file]
    if proxy:
        cmd += ["-x", proxy]
    return net.client.run(cmd + list(args), timeout=timeout)


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def origin_saw(net, host):
    return any(h == host or h.startswith(host + ":") for _, _, h in net.http_log())


def upstream_saw(net, word):
    return [n for n, _, _ in net.dns_log() if word in n]


# -- DNS ---------------------------------------------------------------------

def dns_allowed(gw, net):
    p = []
    status, answers = dig(net, "www.allowed.test")
    expect(p, (status, answers) == ("NOERROR", [A.http]), f"dig: {status} {answers}")
    expect(p, ("www.allowed.test", "A", "udp") in net.dns_log(), "upstream was asked")
    rec = gw.wait_record(proto="dns", name="www.allowed.test")
    expect(p, rec["verdict"] == "allow" and rec["rule"] == ".allowed.test", f"log {rec}")
    return p


def dns_allowed_tcp_ipv6(gw, net):
    p = []
    out = net.client.run(["dig", "+tcp", "+tries=1", "+time=3", f"@{A.gateway6}",
                          "api.allowed.test", "AAAA", "+short"], timeout=20).stdout.split()
    expect(p, out == [A.http6], f"dig over TCP/IPv6: {out}")
    expect(p, ("api.allowed.test", "AAAA", "udp") in net.dns_log(), "upstream was asked")
    return p


def dns_blocked_nxdomain(gw, net):
    p = []
    for name, rule in (("blocked.test", "blocked.test"), ("www.blocked.test", "default"),
                       ("exfil-" + secrets.token_hex(8) + ".blocked.test", "default")):
        for qtype in ("A", "AAAA", "TXT"):
            status, answers = dig(net, name, qtype)
            expect(p, (status, answers) == ("NXDOMAIN", []), f"{name} {qtype}: {status} {answers}")
        rec = gw.wait_record(proto="dns", name=name)
        decided_by = rec.get("rule") or rec.get("origin")  # "origin": "default"
        expect(p, rec["verdict"] == "block" and decided_by == rule, f"log {rec}")
    expect(p, not upstream_saw(net, "blocked"), f"upstream saw {upstream_saw(net, 'blocked')}")
    return p


def dns_rebinding_refused(gw, net):
    p = []
    for name in ("loopback.rebind.test", "private.rebind.test", "metadata.rebind.test",
                 "cname.rebind.test", "mixed.rebind.test"):
        status, answers = dig(net, name)
        expect(p, not any(a in answers for a in ("127.0.0.1", "10.0.0.5", "169.254.169.254")),
               f"{name}: {status} {answers}")
        rec = gw.wait_record(proto="dns", name=name)
        expect(p, rec["verdict"] == "block" and "rebinding" in rec.get("detail", ""),
               f"log {rec}")
    return p


def dns_data_types_empty(gw, net):
    p = []
    status, answers = dig(net, "txt.allowed.test", "TXT")
    expect(p, (status, answers) == ("NOERROR", []), f"TXT: {status} {answers}")
    expect(p, ("txt.allowed.test", "TXT", "udp") not in net.dns_log(), "TXT was forwarded")
    return p


# -- proxy -------------------------------------------------------------------

def https_allowed_through_proxy(gw, net):
    p = []
    r = curl(net, "https://www.allowed.test/")
    expect(p, r.returncode == 0 and "origin ok" in r.stdout, f"curl {r.returncode}: {r.stderr}")
    expect(p, ("GET", "/", "www.allowed.test") in net.http_log(), "origin saw the request")
    rec = gw.wait_record(proto="connect", event="decision", name="www.allowed.test")
    expect(p, rec["verdict"] == "allow" and rec["port"] == 443, f"log {rec}")
    close = gw.wait_record(proto="connect", event="close", name="www.allowed.test")
    expect(p, close.get("bytes_up", 0) > 0 and close.get("bytes_down", 0) > 0, f"close {close}")
    return p


def http_allowed_absolute_form(gw, net):
    p = []
    r = curl(net, "http://allowed.test/headers")
    expect(p, r.returncode == 0 and "GET /headers HTTP/1.1" in r.stdout,
           f"curl {r.returncode}: {r.stdout} {r.stderr}")
    expect(p, "Proxy-Connection" not in r.stdout, "hop-by-hop header forwarded")
    rec = gw.wait_record(proto="http", event="decision", name="allowed.test")
    expect(p, rec["verdict"] == "allow" and rec["port"] == 80, f"log {rec}")
    return p


def https_blocked_403(gw, net):
    p = []
    r = curl(net, "-v", "https://blocked.test/")
    expect(p, r.returncode != 0 and "403" in r.stderr, f"curl {r.returncode}: {r.stderr[-300:]}")
    r = curl(net, "http://blocked.test/")
    expect(p, "blocked.test" in r.stdout and "allow" in r.stdout, f"403 body: {r.stdout!r}")
    expect(p, not origin_saw(net, "blocked.test"), "origin saw blocked.test")
    expect(p, not upstream_saw(net, "blocked"), "upstream was asked for blocked.test")
    rec = gw.wait_record(proto="connect", name="blocked.test")
    expect(p, rec["verdict"] == "block" and rec["rule"] == "blocked.test", f"log {rec}")
    return p


def ip_literal_connect_refused(gw, net):
    p = []
    for target in (A.http, f"[{A.http6}]"):
        r = curl(net, "-v", f"https://{target}/")
        expect(p, r.returncode != 0 and "403" in r.stderr, f"{target}: curl {r.returncode}")
        rec = gw.wait_record(proto="connect", event="decision", address=target.strip("[]"),
                             name=None)
        expect(p, rec["verdict"] == "block", f"log {rec}")
    # The same address spelled as one number, in hex, and IPv4-mapped: never
    # a name, never dialled.
    for target in ("3323068436", "0xc6120014", "198.18.20", f"[::ffff:{A.http}]"):
        ex = raw_tcp(net, f"CONNECT {target}:443 HTTP/1.1\r\n\r\n".encode())
        got = ex.data or b""
        expect(p, got.startswith((b"HTTP/1.1 400", b"HTTP/1.1 403")), f"{target}: {got[:40]!r}")
    expect(p, not net.http_log(), f"origin saw {net.http_log()}")
    return p


def rebinding_through_proxy_refused(gw, net):
    p = []
    r = curl(net, "-v", "https://loopback.rebind.test/")
    expect(p, r.returncode != 0 and "502" in r.stderr, f"curl {r.returncode}: {r.stderr[-200:]}")
    rec = gw.wait_record(proto="connect", name="loopback.rebind.test")
    expect(p, rec["verdict"] == "block" and "rebinding" in rec.get("detail", ""), f"log {rec}")
    return p


def sni_mismatch_in_tunnel_refused(gw, net):
    """CONNECT to an allowed name, then a ClientHello naming a blocked one."""
    p = []
    mark = gw.mark()
    r = net.client.run(["openssl", "s_client", "-proxy", f"{A.gateway}:3128",
                        "-connect", "allowed.test:443", "-servername", "blocked.test",
                        "-CAfile", net.ca_file, "-brief"], input="", timeout=20)
    expect(p, "CONNECTION ESTABLISHED" not in r.stdout + r.stderr,
           f"handshake went through: {r.stdout[-300:]}")
    expect(p, not any(x.get("sni") == "blocked.test" for x in net.records("http")),
           "the origin saw SNI blocked.test")
    rec = gw.wait_record(since=mark, proto="connect", event="decision", name="blocked.test",
                         verdict="block")
    expect(p, "TLS server name in the tunnel" in rec.get("detail", "")
           and rec.get("rule") == "blocked.test", f"log {rec}")
    return p


def runtime_allow_keeps_download(gw, net):
    """`allow` through the control socket applies at once and does not break a
    download in progress."""
    p = []
    name = "www.blocked.test"  # refused by default, not by a rule
    r = curl(net, "-o", "/dev/null", "-w", "%{http_code}", f"http://{name}/")
    expect(p, r.stdout == "403", f"before allow: {r.stdout}")
    # 40 bytes, one every 75 ms: three seconds of download around the change.
    download = subprocess.Popen(
        net.client.command(["curl", "-sS", "--max-time", "15", "-x", PROXY,
                            "http://allowed.test/slow?n=40&ms=75"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=netsim.clean_env())
    try:
        time.sleep(0.8)
        t0 = time.monotonic()
        reply = gw.control(f"allow {name}")
        expect(p, reply.startswith("ok"), f"control: {reply!r}")
        r = curl(net, "-o", "/dev/null", "-w", "%{http_code}", f"http://{name}/")
        expect(p, r.stdout == "200", f"after allow: {r.stdout} {r.stderr}")
        expect(p, time.monotonic() - t0 < 2, "took effect promptly")
        out, err = download.communicate(timeout=20)
    finally:
        if download.poll() is None:
            download.kill()
            download.wait()
    expect(p, download.returncode == 0 and len(out) == 40,
           f"download: exit {download.returncode}, {len(out)} bytes, {err!r}")
    rec = gw.wait_record(proto="control", rule=name)
    expect(p, rec["verdict"] == "allow", f"log {rec}")
    expect(p, gw.control(f"unallow {name}").startswith("ok"), "unallow")
    return p


def runtime_block_closes_open_tunnel(gw, net):
    """`block` closes the open flows it now refuses within two seconds."""
    p = []
    download = subprocess.Popen(
        net.client.command(["curl", "-sS", "--max-time", "15", "-x", PROXY, "--cacert",
                            net.ca_file, "https://api.allowed.test/slow?n=100&ms=100"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=netsim.clean_env())
    try:
        time.sleep(1)
        t0 = time.monotonic()
        expect(p, gw.control("block api.allowed.test").startswith("ok"), "block")
        download.wait(timeout=5)
        took = time.monotonic() - t0
    except subprocess.TimeoutExpired:
        took = None
    finally:
        if download.poll() is None:
            download.kill()
            download.wait()
        gw.control("unallow api.allowed.test")
    expect(p, took is not None and took < 2.5 and download.returncode != 0,
           f"tunnel still open (took {took}, exit {download.returncode})")
    rec = gw.wait_record(event="close", name="api.allowed.test")
    expect(p, "policy" in rec.get("detail", ""), f"log {rec}")
    return p


# -- malformed input over the network ------------------------------------------

_SEND = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
out, err = b"", ""
try:
    s.sendall(sys.stdin.buffer.read())
    s.shutdown(socket.SHUT_WR)
    while chunk := s.recv(65536):
        out += chunk
except OSError as e:
    err = type(e).__name__
sys.stdout.write(out.hex() + " " + err)
"""


def raw_tcp(net, payload):
    """Sends payload (which may be larger than a command line) to the proxy
    from the client; an Exchange with the reply and the error's name."""
    r = net.client.run([sys.executable, "-c", _SEND, A.gateway, "3128"], input=payload,
                       text=False, timeout=15)
    data, _, err = r.stdout.decode().partition(" ")
    return netsim.Exchange(bytes.fromhex(data), err or None)


def malformed_http_battery(gw, net):
    p = []
    flood = b"GET http://allowed.test/ HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n"
    cases = {
        "bad request line": b"GARBAGE\r\n\r\n",
        "header flood": flood,
        "NUL in header": b"GET http://allowed.test/ HTTP/1.1\r\nX-A: a\0b\r\n\r\n",
        "1 MiB head": b"GET http://allowed.test/ HTTP/1.1\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n",
        "CONNECT without port": b"CONNECT allowed.test HTTP/1.1\r\n\r\n",
        "smuggling CL+TE": b"POST http://allowed.test/upload HTTP/1.1\r\nContent-Length: 4\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    }
    for what, payload in cases.items():
        ex = raw_tcp(net, payload)
        got = ex.data or b""
        expect(p, got.startswith(b"HTTP/1.1 400") or ex.error in ("ConnectionResetError",
                                                                   "BrokenPipeError"),
               f"{what}: {got[:60]!r} {ex.error}")
    # Missing Host: absolute-form needs none (the target names the host), and
    # the forwarded request carries the canonical one.
    ex = raw_tcp(net, b"GET http://allowed.test/headers HTTP/1.1\r\n\r\n")
    expect(p, b"Host: allowed.test" in (ex.data or b""), f"no Host: {(ex.data or b'')[:200]!r}")
    expect(p, not any(m == "POST" for m, _, _ in net.http_log()), "smuggled request reached origin")
    expect(p, len(gw.records(verdict="block")) > 0, "refusals logged")
    return p


def slow_loris_crowd(gw, net):
    """Fifty clients trickling heads are cut at the deadline; others are served."""
    p = []
    script = r"""
import socket, sys, time
socks = []
for _ in range(50):
    s = socket.create_connection((sys.argv[1], 3128), timeout=5)
    s.sendall(b"GET http://allowed.test/ HTTP/1.1\r\n")
    socks.append(s)
closed, t0 = 0, time.monotonic()
while time.monotonic() - t0 < float(sys.argv[2]):
    for s in socks:
        try:
            s.sendall(b"X")
        except OSError:
            pass
    time.sleep(0.2)
for s in socks:
    s.settimeout(0.5)
    try:
        data = s.recv(100)
        closed += data.startswith(b"HTTP/1.1 408") or data == b""
    except OSError:
        closed += 1
print(closed)
"""
    loris = subprocess.Popen(net.client.command([sys.executable, "-c", script, A.gateway,
                                                 str(HEAD_TIMEOUT_MS / 1000 + 1)]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=netsim.clean_env())
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        r = curl(net, "-o", "/dev/null", "-w", "%{http_code}", "http://allowed.test/")
        expect(p, r.stdout == "200" and time.monotonic() - t0 < 1.5, f"others served: {r.stdout}")
        out, err = loris.communicate(timeout=20)
    finally:
        if loris.poll() is None:
            loris.kill()
            loris.wait()
    expect(p, out.strip() == b"50", f"slow clients cut: {out!r} {err[-200:]!r}")
    expect(p, len([r for r in gw.records() if r.get("detail", "").startswith("408")]) >= 50,
           "each 408 logged")
    return p


def malformed_dns_battery(gw, net):
    p = []
    q = bytes.fromhex("abcd01000001000000000000") + b"\x07allowed\x04test\x00\x00\x01\x00\x01"
    cases = {
        "truncated": q[:15],
        "oversized": q + b"\0" * 4000,
        "compression loop": bytes.fromhex("abcd01000001000000000000") + b"\xc0\x0c\x00\x01\x00\x01",
        "counts lie": q[:4] + b"\x00\x05" + q[6:],
        "64-byte label": bytes.fromhex("abcd01000001000000000000") + b"\x40" + b"a" * 64
                         + b"\x00\x00\x01\x00\x01",
    }
    for what, payload in cases.items():
        ex = net.client.send("udp", A.gateway, 53, payload, timeout=1)
        got = ex.data or b""
        expect(p, ex.error == "TimeoutError" or (len(got) >= 4 and got[3] & 0x0F in (1, 4)),
               f"{what}: {got[:12].hex()} {ex.error}")
    # A TCP client announcing 65535 bytes and sending three.
    ex = net.client.send("tcp", A.gateway, 53, struct.pack("!H", 65535) + b"abc", timeout=2)
    expect(p, ex.error in (None, "TimeoutError", "ConnectionResetError"), f"tcp: {ex.error}")
    status, answers = dig(net, "after.allowed.test")
    expect(p, status == "NXDOMAIN", f"still serving: {status}")
    return p


def clean_under_sanitizers(gw, net):
    err = gw.stderr()
    bad = [w for w in ("AddressSanitizer", "runtime error:", "LeakSanitizer") if w in err]
    return [f"{bad}: {err[-2000:]}"] if bad else []


CASES = [
    ("dns-allowed-resolves", dns_allowed),
    ("dns-allowed-tcp-ipv6", dns_allowed_tcp_ipv6),
    ("dns-blocked-nxdomain-never-forwarded", dns_blocked_nxdomain),
    ("dns-rebinding-refused", dns_rebinding_refused),
    ("dns-data-types-answered-empty", dns_data_types_empty),
    ("proxy-https-allowed", https_allowed_through_proxy),
    ("proxy-http-allowed-absolute-form", http_allowed_absolute_form),
    ("proxy-blocked-403", https_blocked_403),
    ("proxy-ip-literal-connect-refused", ip_literal_connect_refused),
    ("proxy-rebinding-refused", rebinding_through_proxy_refused),
    ("proxy-sni-mismatch-in-tunnel-refused", sni_mismatch_in_tunnel_refused),
    ("runtime-allow-keeps-open-download", runtime_allow_keeps_download),
    ("runtime-block-closes-open-tunnel", runtime_block_closes_open_tunnel),
    ("malformed-http-battery", malformed_http_battery),
    ("slow-loris-crowd", slow_loris_crowd),
    ("malformed-dns-battery", malformed_dns_battery),
]


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
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
    with netsim.Internet(forward=False, resolver=A.gateway) as net:
        gw = Gateway(net, binary)
        for name, fn in CASES + [("clean-under-sanitizers", clean_under_sanitizers)]:
            if only and only not in name:
                continue
            net.clear_logs()
            try:
                problems = fn(gw, net)
            except Exception as e:  # a case that blows up is a failed case
                problems = [f"{type(e).__name__}: {e}"]
            print(("ok   " if not problems else "FAIL ") + name, flush=True)
            for pr in problems:
                print("  " + str(pr).rstrip().replace("\n", "\n  "))
            results.append(not problems)
        net.stop(gw.proc)
    failed = results.count(False)
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
