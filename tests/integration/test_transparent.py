#!/usr/bin/env python3
"""Transparent interception in the simulated internet, with real clients.

Usage: test_transparent.py AIRLOCK_BINARY   (as root; exits 77 when it cannot run)

The gateway namespace does not forward (Internet(forward=False)).  An
nftables table there redirects the client's TCP (prerouting, iifname lan0) to
`airlock gateway --listen-transparent` and its port-53 traffic to the
gateway's DNS listener, so the client - curl, openssl s_client, plain
sockets, none of them told about any proxy - reaches the internet only
through the gateway's decisions.  Besides netsim's hosts, the test adds in
the internet namespace a second HTTPS origin on 198.18.0.21 / 2001:2::21 that
no name resolves to (the target of domain fronting) and a server that
speaks first (a banner on port 2525 of the echo host).

Each case checks what the client got, what the internet saw (the servers'
logs and, for the refusals, a packet capture on the internet side: a refused
flow never leaves the gateway) and the JSON line the gateway logged (proto,
name, address, port, verdict, rule).

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
FRONT = "198.18.0.21"  # served by the origin, resolved to by no name
FRONT6 = "2001:2::21"
BANNER_PORT = 2525  # allowed by a CIDR rule
BANNER_CLOSED_PORT = 2526  # not allowed
PEEK_TIMEOUT_MS = 300
TOOLS = ["ip", "nft", "curl", "openssl", "dig", "tcpdump"]

POLICY = ["--profile", "strict", "--allow", ".allowed.test", "--block", "blocked.test",
          "--allow", f"{A.echo}:{BANNER_PORT}", "--allow", f"[{A.echo6}]:{BANNER_PORT}"]

NFT = f"""
table inet airlock_transparent_test {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "lan0" ip daddr {A.gateway} tcp dport 3128 accept
        iifname "lan0" meta l4proto {{ tcp, udp }} th dport 53 redirect to :53
        iifname "lan0" meta l4proto tcp redirect to :3129
    }}
}}
"""

BANNER_SERVER = r"""
import json, socket, sys, threading
log = open(sys.argv[1], "a")
lock = threading.Lock()
def serve(s):
    while True:
        c, peer = s.accept()
        with lock:
            log.write(json.dumps({"port": s.getsockname()[1], "client": peer[0]}) + "\n")
            log.flush()
        def talk(c=c):
            try:
                c.sendall(b"220 airlock-test banner\r\n")
                c.settimeout(10)
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            c.close()
        threading.Thread(target=talk, daemon=True).start()
socks = []
for addr in sys.argv[2:]:
    for port in (%d, %d):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        socks.append(s)
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
""" % (BANNER_PORT, BANNER_CLOSED_PORT)

# From the client: connect, wait for the server's first words without
# saying anything, then speak.
BANNER_CLIENT = r"""
import json, socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
out = {}
try:
    s = socket.create_connection((addr, port), timeout=5)
    banner = b""
    while not banner.endswith(b"\n"):
        d = s.recv(100)
        if not d:
            break
        banner += d
    out["banner"] = banner.decode(errors="replace")
    s.sendall(b"QUIT\r\n")
    out["echo"] = s.recv(100).decode(errors="replace")
except OSError as e:
    out["error"] = type(e).__name__
print(json.dumps(out))
"""


class Gateway:
    def __init__(self, net, binary):
        self.net = net
        self.log = os.path.join(net.tmpdir, "audit.jsonl")
        self.control_path = os.path.join(net.tmpdir, "control.sock")
        self.proc = net.gateway.popen(
            [binary, "gateway", *POLICY,
             "--listen-dns", f"{A.gateway}:53",
             "--listen-transparent", "0.0.0.0:3129", "--listen-transparent", "[::]:3129",
             "--listen-transparent", f"{A.gateway}:3130",  # a loop target, never redirected to
             "--listen-proxy", f"{A.gateway}:3128",
             "--upstream", A.dns, "--dns-timeout", "500",
             "--transparent-peek-timeout", str(PEEK_TIMEOUT_MS),
             "--proxy-head-timeout", "2000",
             "--log", self.log, "--name", "tp", "--control", self.control_path])
        net.gateway.wait_port("0.0.0.0", 3129)
        net.gateway.wait_port(A.gateway, 3128)
        net.gateway.wait_port(A.gateway, 53, "udp")

    def records(self, **match):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            recs = [json.loads(line) for line in f if line.endswith("\n")]
        return [r for r in recs if all(r.get(k) == v for k, v in match.items())]

    def wait_record(self, timeout=3, **match):
        return netsim.wait_until(lambda: (self.records(**match) or [None])[-1], timeout,
                                 f"a log record {match}")

    def control(self, request):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(3)
            s.connect(self.control_path)
            s.send(request.encode())
            return s.recv(65536).decode()

    def stderr(self):
        with open(self.proc.log_path, errors="replace") as f:
            return f.read()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def curl(net, *args, timeout=20):
    return net.client.run(["curl", "-sS", "--max-time", "10", "--cacert", net.ca_file, *args],
                          timeout=timeout)


def decision(gw, **match):
    return gw.wait_record(event="decision", **match)


def expect_record(rec, **want):
    for k, v in want.items():
        check(rec.get(k) == v, f"{k}: want {v!r}, log has {rec}")


def origin_saw(net, host=None, sni=None, kind="http"):
    recs = net.records(kind)
    return [r for r in recs if (host is None or (r.get("host") or "").split(":")[0] == host)
            and (sni is None or r.get("sni") == sni)]


def front_log(net):
    path = os.path.join(net.tmpdir, "front.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def banner_log(net):
    with open(os.path.join(net.tmpdir, "banner.jsonl")) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


# ---- setup ----------------------------------------------------------------------

def add_internet_hosts(net):
    """The second origin (domain fronting's target) and the banner server."""
    ns = net.internet
    for cmd in (["ip", "addr", "add", f"{FRONT}/24", "dev", "eth0"],
                ["ip", "addr", "add", f"{FRONT6}/64", "dev", "eth0", "nodad"]):
        p = ns.run(cmd, timeout=10)
        check(p.returncode == 0, f"{cmd}: {p.stderr}")
    t = net.tmpdir
    procs = [
        ns.popen([sys.executable, "-B", os.path.join(netsim.SERVERS, "http_origin.py"),
                  "--cert", f"{t}/origin.pem", "--key", f"{t}/origin.key",
                  "--log", f"{t}/front.jsonl", "--addr", FRONT, "--addr", FRONT6],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL),
        ns.popen([sys.executable, "-c", BANNER_SERVER, f"{t}/banner.jsonl", A.echo, A.echo6],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL),
    ]
    open(f"{t}/front.jsonl", "a").close()
    open(f"{t}/banner.jsonl", "a").close()
    for proc in procs:
        line = proc.stdout.readline()
        proc.stdout.close()
        check(line == b"ready\n", f"an extra server did not start: {line!r}")


def install_nft(net):
    p = net.gateway.run(["nft", "-f", "-"], input=NFT, timeout=10)
    return p.returncode == 0, p.stderr.strip()


# ---- cases ------------------------------------------------------------------------

def https_by_sni(net, gw):
    p = curl(net, "-4", "https://allowed.test/")
    check(p.returncode == 0 and "origin ok" in p.stdout and "scheme https" in p.stdout,
          f"curl: {p.returncode} {p.stdout!r} {p.stderr!r}")
    check(origin_saw(net, host="allowed.test", sni="allowed.test"), "the origin saw it")
    rec = decision(gw, proto="tls", name="allowed.test", address=A.http)
    expect_record(rec, port=443, verdict="allow", rule=".allowed.test", sandbox="tp")
    close = gw.wait_record(event="close", proto="tls", name="allowed.test")
    check(close["bytes_down"] > 500 and close["bytes_up"] > 200, f"close {close}")


def http_by_host(net, gw):
    p = curl(net, "-4", "http://allowed.test/")
    check(p.returncode == 0 and "origin ok" in p.stdout and "scheme http" in p.stdout,
          f"curl: {p.returncode} {p.stdout!r} {p.stderr!r}")
    rec = decision(gw, proto="http", name="allowed.test", address=A.http)
    expect_record(rec, port=80, verdict="allow", rule=".allowed.test")


def ipv6(net, gw):
    p = curl(net, "-6", "https://allowed.test/")
    check(p.returncode == 0 and "origin ok" in p.stdout, f"curl -6: {p.returncode} {p.stderr!r}")
    rec = decision(gw, proto="tls", name="allowed.test", address=A.http6)
    expect_record(rec, port=443, verdict="allow", rule=".allowed.test")
    p = curl(net, "-6", "http://www.allowed.test/")
    check(p.returncode == 0 and "origin ok" in p.stdout, f"curl -6 http: {p.stderr!r}")
    rec = decision(gw, proto="http", name="www.allowed.test", address=A.http6)
    expect_record(rec, port=80, verdict="allow")


def refusals_never_leave(net, gw):
    """Every refused flow, under one capture of the internet side: none of
    them may put a single TCP packet on the origins' or the banner's ports."""
    with net.capture(filter=f"tcp and (port 80 or port 443 or port {BANNER_CLOSED_PORT})") as cap:
        # A blocked name in the SNI, at the very address its server has.
        p = curl(net, "--resolve", f"blocked.test:443:{A.http}", "https://blocked.test/")
        check(p.returncode != 0 and "origin ok" not in p.stdout, f"blocked SNI: {p}")
        rec = decision(gw, proto="tls", name="blocked.test", address=A.http)
        expect_record(rec, port=443, verdict="block", rule="blocked.test", origin="command line")
        # The same by Host: a 403 saying why.
        p = curl(net, "-w", "%{http_code}", "--resolve", f"blocked.test:80:{A.http}",
                 "http://blocked.test/")
        check(p.stdout.endswith("403") and "blocked.test:80 is blocked" in p.stdout
              and "Refused by: rule blocked.test" in p.stdout, f"blocked Host: {p.stdout!r}")
        rec = decision(gw, proto="http", name="blocked.test", address=A.http)
        expect_record(rec, port=80, verdict="block", rule="blocked.test")
        # DNS refuses it in the first place.
        p = curl(net, "https://blocked.test/")
        check(p.returncode == 6, f"blocked name resolved? {p.returncode} {p.stderr!r}")
        # openssl naming a blocked host to the allowed host's address.
        for dest in (f"{A.http}:443", f"[{A.http6}]:443"):
            p = net.client.run(["openssl", "s_client", "-brief", "-servername", "blocked.test",
                                "-connect", dest], input="", timeout=20)
            check("CONNECTION ESTABLISHED" not in p.stdout + p.stderr,
                  f"s_client {dest}: {p.stdout}{p.stderr}")
            rec = decision(gw, proto="tls", name="blocked.test",
                           address=dest.rsplit(":", 1)[0].strip("[]"))
            expect_record(rec, verdict="block", rule="blocked.test")
        # Domain fronting: an allowed name sent to an address it never
        # resolved to (a server that would answer for it).
        for front, flag in ((FRONT, "-4"), (FRONT6, "-6")):
            host = f"[{front}]" if ":" in front else front
            p = curl(net, flag, "--resolve", f"allowed.test:443:{host}", "https://allowed.test/")
            check(p.returncode != 0 and "origin ok" not in p.stdout, f"fronted TLS: {p}")
            rec = decision(gw, proto="tls", name="allowed.test", address=front)
            expect_record(rec, port=443, verdict="block", rule=".allowed.test")
            check("does not resolve" in rec.get("detail", ""), f"detail {rec}")
        p = curl(net, "-w", "%{http_code}", "--resolve", f"allowed.test:80:{FRONT}",
                 "http://allowed.test/")
        check(p.stdout.endswith("403") and "does not resolve" in p.stdout, f"fronted: {p.stdout!r}")
        rec = decision(gw, proto="http", name="allowed.test", address=FRONT)
        expect_record(rec, port=80, verdict="block")
        # A server-speaks-first port no rule allows: reset after the peek.
        out = banner(net, A.echo, BANNER_CLOSED_PORT)
        check("banner" not in out or not out["banner"], f"closed port: {out}")
        rec = decision(gw, proto="tcp", address=A.echo, port=BANNER_CLOSED_PORT)
        expect_record(rec, verdict="block")
        check(cap.packets == [], f"{len(cap.packets)} packets of refused flows left the gateway")
    check(front_log(net) == [], f"the fronting target saw {front_log(net)}")
    check(not origin_saw(net, host="blocked.test") and not origin_saw(net, sni="blocked.test"),
          "the origin saw blocked.test")
    check(all(r["port"] != BANNER_CLOSED_PORT for r in banner_log(net)), "banner port dialled")


def banner(net, addr, port):
    p = net.client.run([sys.executable, "-c", BANNER_CLIENT, addr, str(port)], timeout=20)
    return json.loads(p.stdout or "{}")


def server_speaks_first(net, gw):
    for addr in (A.echo, A.echo6):
        t0 = time.time()
        out = banner(net, addr, BANNER_PORT)
        took = time.time() - t0
        check(out.get("banner") == "220 airlock-test banner\r\n" and out.get("echo") == "QUIT\r\n",
              f"{addr}: {out}")
        check(PEEK_TIMEOUT_MS / 1000 - 0.05 < took < PEEK_TIMEOUT_MS / 1000 + 2,
              f"decided after the peek deadline: {took:.2f}s")
        rec = decision(gw, proto="tcp", address=addr, port=BANNER_PORT)
        expect_record(rec, verdict="allow",
                      rule=f"{addr}:{BANNER_PORT}" if ":" not in addr
                      else f"[{addr}]:{BANNER_PORT}")
        check("no bytes from the client" in rec.get("detail", ""), f"detail {rec}")


def nameless_by_map(net, gw):
    """Plain TCP to the echo host's address: refused while no allowed name is
    known to lead there, allowed once the client resolved one."""
    r = net.client.send("tcp", A.echo, 7, b"before-dns-" + os.urandom(4).hex().encode(),
                        timeout=3)
    check(not r.data, f"refused before DNS: {r}")
    rec = decision(gw, proto="tcp", address=A.echo, port=7)
    expect_record(rec, verdict="block")
    check(not any(b"before-dns" in p for p in net.echo_log()), "the echo host got it")
    p = net.client.run(["dig", "+short", "echo.allowed.test"], timeout=20)
    check(A.echo in p.stdout, f"dig: {p.stdout!r}")
    r = net.client.send("tcp", A.echo, 7, b"after-dns", timeout=3)
    check(r.data == b"after-dns", f"allowed by the map: {r}")
    rec = decision(gw, proto="tcp", address=A.echo, port=7, verdict="allow")
    expect_record(rec, name="echo.allowed.test", rule=".allowed.test")


def loop_refused(net, gw):
    r = net.client.send("tcp", A.gateway, 3129, b"\x16\x03\x01\x00\x05hello", timeout=3)
    check(not r.data, f"a flow to the listener itself: {r}")
    rec = netsim.wait_until(
        lambda: [r for r in gw.records(event="decision", verdict="block")
                 if "not a redirected flow" in r.get("detail", "")], 3, "the loop's record")[-1]
    expect_record(rec, proto="tcp", client=f"{A.client}:{rec['client'].rsplit(':', 1)[1]}")
    # Redirected to :3129, but aimed at another of the gateway's listeners:
    # relaying it would connect the gateway to itself.
    r = net.client.send("tcp", A.gateway, 3130, b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
                        timeout=3)
    check(not r.data, f"a flow to another listener: {r}")
    rec = netsim.wait_until(
        lambda: [r for r in gw.records(event="decision", verdict="block", port=3130)
                 if "gateway's own listener" in r.get("detail", "")], 3, "the loop's record")[-1]
    expect_record(rec, proto="tcp", address=A.gateway)


def connect_sni_mismatch(net, gw):
    """Through the explicit proxy: a CONNECT to allowed.test whose ClientHello
    names echo.allowed.test (allowed, but at another address) is refused."""
    proxy = f"http://{A.gateway}:3128"
    p = curl(net, "-x", proxy, "https://allowed.test/")
    check(p.returncode == 0 and "origin ok" in p.stdout, f"tunnel: {p.stderr!r}")
    p = curl(net, "-x", proxy, "--connect-to", "echo.allowed.test:443:allowed.test:443",
             "https://echo.allowed.test/")
    check(p.returncode != 0, f"mismatched SNI relayed: {p}")
    rec = decision(gw, proto="connect", name="echo.allowed.test", verdict="block")
    check("TLS server name in the tunnel" in rec["detail"] and "does not resolve" in rec["detail"]
          and rec["address"] == A.http, f"log {rec}")
    check(not origin_saw(net, sni="echo.allowed.test"), "the origin saw the mismatched SNI")


def block_closes_open_flow(net, gw):
    url = "https://allowed.test/slow?n=200&ms=50"  # 10 s of trickle
    proc = net.client.popen(["curl", "-4", "-sS", "--max-time", "20", "--cacert", net.ca_file,
                             "-o", "/dev/null", url])
    try:
        gw.wait_record(timeout=5, event="decision", proto="tls", name="allowed.test",
                       verdict="allow")
        time.sleep(0.5)
        check(gw.control("allow other.test").startswith("ok"), "allow")
        time.sleep(0.5)
        check(proc.poll() is None, "an unrelated allow broke the download")
        t0 = time.time()
        check(gw.control("block allowed.test").startswith("ok"), "block")
        try:
            code = proc.wait(2.5)
        except subprocess.TimeoutExpired:
            code = None
        took = time.time() - t0
        check(code not in (None, 0) and took < 2, f"download ended {took:.2f}s after: {code}")
        rec = gw.wait_record(event="close", proto="tls", name="allowed.test", verdict="block")
        expect_record(rec, rule="allowed.test", origin="runtime (control socket)",
                      detail="closed: policy changed (block allowed.test)")
        expect_record(rec, address=A.http, port=443)
        check(rec["bytes_down"] > 0 and rec["duration_ms"] >= 900, f"close {rec}")
    finally:
        net.stop(proc)
        gw.control("unallow allowed.test")
        gw.control("unallow other.test")
    p = curl(net, "https://allowed.test/")
    check(p.returncode == 0, "allowed again after unallow")


def main():
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return 77
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print(f"skipped: missing {', '.join(missing)}")
        return 77
    results = []
    with netsim.Internet(forward=False) as net:
        ok, err = install_nft(net)
        if not ok:
            print(f"skipped: nftables cannot redirect here: {err}")
            return 77
        add_internet_hosts(net)
        gw = Gateway(net, binary)
        for case in (https_by_sni, http_by_host, ipv6, refusals_never_leave,
                     server_speaks_first, nameless_by_map, loop_refused, connect_sni_mismatch,
                     block_closes_open_flow):
            results.append(run(case.__name__, lambda: case(net, gw)))
        err = gw.stderr()
        results.append(run("no_sanitizer_reports", lambda: check(
            not re.search(r"ERROR: \w+Sanitizer|runtime error:", err), err[-2000:])))
        net.stop(gw.proc)
        results.append(run("clean_exit", lambda: check(gw.proc.returncode == 0,
                                                       f"exit {gw.proc.returncode}")))
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run(name, fn):
    try:
        fn()
        print(f"ok   {name}", flush=True)
        return True
    except Exception as e:  # noqa: BLE001 - report any failure as the case's
        print(f"FAIL {name}: {e}", flush=True)
        return False


if __name__ == "__main__":
    sys.exit(main())
