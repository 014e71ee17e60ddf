#!/usr/bin/env python3
"""Self-test of the simulated internet, with no airlock involved: the gateway
namespace is a plain router (ip_forward=1), and real clients (dig, curl, a
socket probe) in the client namespace reach the servers through it.

Usage: test_netsim.py   (as root; exits 77, Meson's "skipped", when it cannot run)
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

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netsim  # noqa: E402

A = netsim.ADDR
TOOLS = ["ip", "ss", "sysctl", "setpriv", "openssl", "dig", "curl", "tcpdump"]

# (name, dig arguments, checks); the client's resolver is the DNS host.
# checks: status (default NOERROR); answers: the answer section's data, in
# order; log: (name, qtype, transport) entries upstream must have seen.
DNS_CASES = [
    ("dns-a", ["allowed.test"], {"answers": [A.http], "log": [("allowed.test", "A", "udp")]}),
    ("dns-aaaa", ["allowed.test", "AAAA"], {"answers": [A.http6]}),
    ("dns-explicit-server", ["@" + A.dns, "www.allowed.test"], {"answers": [A.http]}),
    ("dns-over-ipv6", ["@" + A.dns6, "www.allowed.test", "AAAA"], {"answers": [A.http6]}),
    ("dns-over-tcp", ["+tcp", "api.allowed.test"],
     {"answers": [A.http], "log": [("api.allowed.test", "A", "tcp")]}),
    ("dns-cname", ["cdn.allowed.test"], {"answers": ["edge.cdnhost.test.", A.http]}),
    ("dns-cname-aaaa", ["cdn.allowed.test", "AAAA"], {"answers": ["edge.cdnhost.test.", A.http6]}),
    ("dns-wildcard", ["deep.x.wild.allowed.test"], {"answers": [A.http]}),
    ("dns-case-folded-in-log", ["WWW.Blocked.TEST"],
     {"answers": [A.http], "log": [("www.blocked.test", "A", "udp")]}),
    ("dns-v6only-has-no-a", ["v6only.allowed.test", "A"], {"answers": []}),
    ("dns-v6only-aaaa", ["v6only.allowed.test", "AAAA"], {"answers": [A.http6]}),
    ("dns-nxdomain", ["nothere.allowed.test"], {"status": "NXDOMAIN", "answers": []}),
    ("dns-nxdomain-outside-zones", ["example.com"], {"status": "NXDOMAIN"}),
    ("dns-servfail", ["servfail.allowed.test"], {"status": "SERVFAIL"}),
    ("dns-txt", ["txt.allowed.test", "TXT"], {"answers": ['"v=netsim"']}),
    ("dns-short-ttl", ["shortttl.allowed.test"], {"answers": [A.http], "out": ["\t1\tIN\tA\t"]}),
    ("dns-rebind-a", ["rebind.test"], {"answers": ["127.0.0.1", "10.0.0.5", "169.254.169.254"]}),
    ("dns-rebind-aaaa", ["rebind.test", "AAAA"], {"answers": ["fd00::1", "::1"]}),
    ("dns-rebind-metadata", ["metadata.rebind.test"], {"answers": ["169.254.169.254"]}),
    ("dns-rebind-mixed", ["mixed.rebind.test"], {"answers": [A.http, "10.0.0.5"]}),
    ("dns-rebind-via-cname", ["cname.rebind.test"],
     {"answers": ["private.rebind.test.", "10.0.0.5"]}),
    # The TC bit over UDP makes dig ask again over TCP.
    ("dns-tc-falls-back-to-tcp", ["tc.allowed.test"],
     {"answers": [A.http], "out": ["Truncated, retrying in TCP mode"],
      "log": [("tc.allowed.test", "A", "udp"), ("tc.allowed.test", "A", "tcp")]}),
    ("dns-tc-bit-set", ["+ignore", "tc.allowed.test"], {"out": ["flags: qr aa tc rd"]}),
    ("dns-big-answer-truncated", ["+noedns", "big.allowed.test"],
     {"count": 40, "log": [("big.allowed.test", "A", "udp"), ("big.allowed.test", "A", "tcp")]}),
    ("dns-garbage", ["garbage.allowed.test"], {"out": ["malformed"]}),
    ("dns-pointer-loop", ["ptrloop.allowed.test"], {"out": ["bad compression pointer"]}),
]

# (name, curl arguments, stdout fragments, the request the origin must log)
CURL = ["curl", "-sS", "--max-time", "10"]
HTTP_CASES = [
    ("http-by-name", ["http://allowed.test/"], ["origin ok", "host allowed.test", "scheme http"],
     ("GET", "/", "allowed.test")),
    ("https-by-name", ["https://www.allowed.test/"], ["origin ok", "scheme https"],
     ("GET", "/", "www.allowed.test")),
    ("https-cname", ["https://cdn.allowed.test/"], ["host cdn.allowed.test"],
     ("GET", "/", "cdn.allowed.test")),
    ("https-wildcard", ["https://a.wild.allowed.test/"], ["origin ok"],
     ("GET", "/", "a.wild.allowed.test")),
    ("http-by-address", [f"http://{A.http}/"], ["origin ok"], ("GET", "/", A.http)),
    ("https-by-address", [f"https://{A.http}/x?y"], ["not found"], ("GET", "/x?y", A.http)),
    ("https-ipv6-by-name", ["-6", "https://v6only.allowed.test/"], ["scheme https"],
     ("GET", "/", "v6only.allowed.test")),
    ("http-ipv6-by-address", [f"http://[{A.http6}]/"], ["origin ok"],
     ("GET", "/", f"[{A.http6}]")),
    ("http-bulk", ["-o", "/dev/null", "-w", "%{size_download}",
                   "http://allowed.test/bytes/50000000"], ["50000000"],
     ("GET", "/bytes/50000000", "allowed.test")),
    ("https-bulk", ["-o", "/dev/null", "-w", "%{size_download}",
                    "https://allowed.test/bytes/20000000"], ["20000000"],
     ("GET", "/bytes/20000000", "allowed.test")),
    ("http-post", ["--data-binary", "x" * 3000, "http://allowed.test/upload"],
     ["received 3000 bytes"], ("POST", "/upload", "allowed.test")),
    ("http-headers", ["-H", "X-Token: t0k3n", "http://allowed.test/headers"],
     ["GET /headers HTTP/1.1", "X-Token: t0k3n"], ("GET", "/headers", "allowed.test")),
    ("http-status", ["-o", "/dev/null", "-w", "%{http_code}", "http://allowed.test/status/503"],
     ["503"], ("GET", "/status/503", "allowed.test")),
]


def dig(ns, args):
    """(status, answer data, stdout) of one dig run."""
    p = ns.run(["dig", "+tries=1", "+time=3", *args], timeout=20)
    m = re.search(r"status: (\w+)", p.stdout)
    answers, section = [], None
    for line in p.stdout.splitlines():
        if line.startswith(";; ") and line.endswith("SECTION:"):
            section = line
        elif not line.strip():
            section = None
        elif section == ";; ANSWER SECTION:":
            answers.append(line.split(None, 4)[4])
    return (m.group(1) if m else None), answers, p.stdout + p.stderr


def dns_case(net, args, checks):
    status, answers, out = dig(net.client, args)
    problems = []
    if checks.get("status", "NOERROR") != status and "out" not in checks:
        problems.append(f"status {status}, want {checks.get('status', 'NOERROR')}")
    if "answers" in checks and answers != checks["answers"]:
        problems.append(f"answers {answers}, want {checks['answers']}")
    if "count" in checks and len(answers) != checks["count"]:
        problems.append(f"{len(answers)} answers, want {checks['count']}")
    problems += [f"output lacks {f!r}" for f in checks.get("out", []) if f not in out]
    log = net.dns_log()
    problems += [f"upstream log lacks {e}" for e in checks.get("log", []) if e not in log]
    return problems + ([out] if problems else [])


def http_case(net, args, fragments, request):
    p = net.client.run(CURL + ["--cacert", net.ca_file] + args, timeout=30)
    problems = [f"stdout lacks {f!r}" for f in fragments if f not in p.stdout]
    if p.returncode:
        problems.append(f"curl exit {p.returncode}: {p.stderr.strip()}")
    if request not in net.http_log():
        problems.append(f"origin log lacks {request}: {net.http_log()[-3:]}")
    return problems


# -- the cases that are not table rows --

def logs_start_empty(net):
    """Building the internet makes no query or request of its own."""
    logs = {"dns": net.dns_log(), "http": net.http_log(), "echo": net.echo_log()}
    return [f"{kind} log not empty: {log}" for kind, log in logs.items() if log]


def dns_log_is_exact(net):
    """Upstream saw exactly the one query asked, from the client's address
    (a plain router does no NAT); a name never asked is not in the log."""
    net.clear_logs()
    dig(net.client, ["www.allowed.test"])
    problems = []
    if net.dns_log() != [("www.allowed.test", "A", "udp")]:
        problems.append(f"log {net.dns_log()}")
    if net.records("dns")[0]["client"] != A.client:
        problems.append(f"client {net.records('dns')[0]['client']}")
    if any(name == "blocked.test" for name, _, _ in net.dns_log()):
        problems.append("blocked.test in the log")
    return problems


def dns_slow(net):
    delay = net.zone["slow.allowed.test"]["delay_ms"] / 1000
    t = time.monotonic()
    status, answers, out = dig(net.client, ["slow.allowed.test"])
    took = time.monotonic() - t
    problems = [] if answers == [A.http] else [f"answers {answers}: {out}"]
    return problems + ([] if took >= delay * 0.9 else [f"answered after {took:.2f}s"])


def dns_drop(net):
    status, answers, out = dig(net.client, ["+time=1", "noanswer.allowed.test"])
    return [] if "timed out" in out and status is None else [out]


def https_needs_the_ca(net):
    p = net.client.run(CURL + ["https://allowed.test/"])
    return [] if p.returncode == 60 else [f"curl exit {p.returncode}, want 60 (untrusted)"]


def https_logs_sni(net):
    net.client.run(CURL + ["--cacert", net.ca_file, "https://api.allowed.test/"])
    last = net.records("http")[-1]
    want = {"scheme": "https", "sni": "api.allowed.test", "host": "api.allowed.test"}
    return [f"{k}={last.get(k)!r}, want {v!r}" for k, v in want.items() if last.get(k) != v]


def http_slow(net):
    t = time.monotonic()
    p = net.client.run(CURL + ["http://allowed.test/slow?n=5&ms=60"])
    took = time.monotonic() - t
    problems = [] if p.stdout == "....." else [f"body {p.stdout!r} {p.stderr}"]
    return problems + ([] if took >= 0.3 else [f"took {took:.2f}s, want >= 0.3s"])


def echo(proto, addr):
    def case(net):
        token = secrets.token_hex(8).encode()
        got = net.client.send(proto, addr, 7, token)
        problems = [] if got.data == token else [f"got {got}"]
        return problems + ([] if token in net.echo_log() else ["token not in the echo log"])
    return case


def echo_by_name(net):
    p = net.client.run(["getent", "ahostsv4", "echo.allowed.test"])
    return [] if p.stdout.startswith(A.echo) else [f"getent: {p.stdout}{p.stderr}"]


def capture_sees_token(net):
    seen, unseen = secrets.token_hex(8).encode(), secrets.token_hex(8).encode()
    with net.capture() as cap:
        net.client.send("udp", A.echo, 7, seen)
        inside = cap.contains(seen)
    problems = [] if inside and cap.contains(seen) else ["token sent but not captured"]
    return problems + (["token never sent but captured"] if cap.contains(unseen) else [])


def capture_filter(net):
    """Only what the filter selects is captured."""
    udp_token, http_token = secrets.token_hex(8), secrets.token_hex(8)
    with net.capture(filter="tcp port 80") as cap:
        net.client.send("udp", A.echo, 7, udp_token.encode())
        net.client.run(CURL + [f"http://{A.http}/{http_token}"])
    problems = [] if cap.contains(http_token.encode()) else ["HTTP token not captured"]
    return problems + (["UDP token captured despite the filter"]
                       if cap.contains(udp_token.encode()) else [])


def capture_on_gateway(net):
    token = secrets.token_hex(8).encode()
    with net.capture(ns="gateway") as cap:
        net.client.send("tcp", A.echo6, 7, token)
    return [] if cap.contains(token) else ["token not captured on the gateway"]


def routes(net):
    """The client's only way out is the gateway; the internet has no default route."""
    problems = []
    for ns, want, unwanted in [
            (net.client, [f"default via {A.gateway} dev eth0"], []),
            (net.gateway, [f"198.18.0.0/15 via {A.router} dev wan0"], ["default"]),
            (net.internet, [f"198.18.1.0/24 via {A.uplink} dev eth0"], ["default"])]:
        out = ns.run(["ip", "route"]).stdout + ns.run(["ip", "-6", "route"]).stdout
        problems += [f"{ns.role} lacks route {w!r}" for w in want if w not in out]
        problems += [f"{ns.role} has a {u} route" for u in unwanted if u in out]
    return problems


def host_untouched(net, before):
    """The host's namespace has none of the fixture's veths or routes, and its
    forwarding setting did not change."""
    now = host_state()
    problems = [] if now["forward"] == before["forward"] else ["host ip_forward changed"]
    if now["routes"] != before["routes"]:
        problems.append(f"host routes to 198.18/2001:2 changed: {now['routes']}")
    veths = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True,
                           text=True).stdout
    problems += [f"host sees veth of {n}" for n in net.inventory()["namespaces"] if n in veths]
    return problems


def host_state():
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout + \
        subprocess.run(["ip", "-6", "route"], capture_output=True, text=True).stdout
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read()
    return {"forward": forward,
            "routes": [r for r in routes.splitlines() if "198.18" in r or "2001:2:" in r]}


def run_as_user(net):
    p = net.client.run(["id", "-u"], user="nobody")
    problems = [] if p.stdout.strip() == "65534" else [f"id -u: {p.stdout}{p.stderr}"]
    p = net.client.run(CURL + ["--cacert", net.ca_file, "https://allowed.test/"], user="nobody")
    return problems + ([] if "origin ok" in p.stdout else [f"curl as nobody: {p.stderr}"])


def wait_port_and_popen(net):
    problems = []
    net.internet.wait_port(A.dns, 53, "udp", timeout=2)
    net.internet.wait_port(A.http6, 443, timeout=2)
    listener = net.gateway.popen([sys.executable, "-c",
                                  "import socket, time; s = socket.create_server(('%s', 8080)); "
                                  "time.sleep(60)" % A.gateway])
    net.gateway.wait_port(A.gateway, 8080, timeout=5)
    net.stop(listener)
    if listener.returncode is None or os.path.exists(f"/proc/{listener.pid}"):
        problems.append("listener still running after stop")
    try:
        net.gateway.wait_port(A.gateway, 8080, timeout=0.3)
        problems.append("wait_port found a closed port")
    except TimeoutError:
        pass
    return problems


def no_forwarding_isolates():
    """With forward=False (the default) the client reaches nothing beyond the
    gateway, while the gateway itself reaches the internet."""
    problems = []
    with netsim.Internet() as net:
        token = secrets.token_hex(8).encode()
        with net.capture() as cap:
            for proto, addr in [("udp", A.echo), ("tcp", A.echo), ("tcp", A.echo6)]:
                got = net.client.send(proto, addr, 7, token, timeout=0.5)
                if got.data is not None:
                    problems.append(f"client reached {proto} {addr}")
            dig(net.client, ["+time=1", "allowed.test"])
        if cap.contains(token) or net.echo_log() or net.dns_log():
            problems.append("something from the client reached the internet")
        if net.gateway.send("udp", A.echo, 7, token).data != token:
            problems.append("the gateway cannot reach the echo host")
        problems += check_gone(net.inventory(), during=True)
        inventory = net.inventory()
    return problems + check_gone(inventory)


def check_gone(inv, during=False):
    """Problems with what the inventory names still existing (or, during the
    run, not existing)."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = {line.split()[0] for line in names.splitlines() if line.split()}
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    left = [n for n in inv["namespaces"] if n in names]
    left += [f"link of {n}" for n in inv["namespaces"] if n in links]
    left += [f"pid {p}" for p in inv["pids"] if os.path.exists(f"/proc/{p}")]
    left += [p for p in [inv["tmpdir"]] + inv["etc"] if os.path.exists(p)]
    if during:
        missing = [n for n in inv["namespaces"] if n not in names]
        return [f"missing during the run: {missing}"] if missing else []
    return [f"left behind: {left}"] if left else []


def teardown_on_exception():
    inventory = None
    try:
        with netsim.Internet() as net:
            inventory = net.inventory()
            net.client.popen(["sleep", "60"])
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    return check_gone(inventory)


def teardown_on_signal(sig, want_status):
    """A run interrupted by sig removes everything it built."""
    def case():
        child = subprocess.Popen([sys.executable, "-B", netsim.__file__, "up", "--seconds", "30"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            inventory = json.loads(child.stdout.readline())
            problems = check_gone(inventory, during=True)
            child.send_signal(sig)
            status = child.wait(15)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        err = child.stderr.read()
        problems += [] if status == want_status else [f"exit {status}, want {want_status}: {err}"]
        return problems + check_gone(inventory)
    return case


def sweep_after_sigkill():
    """SIGKILL leaves no server running (PR_SET_PDEATHSIG); sweep removes
    the namespaces and files."""
    child = subprocess.Popen([sys.executable, "-B", netsim.__file__, "up", "--seconds", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        inventory = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait()
    problems = []
    try:
        netsim.wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in inventory["pids"]),
                          5, "the servers to die with their parent")
    except TimeoutError as e:
        problems.append(str(e))
    removed = netsim.sweep(pid=child.pid)
    if not set(inventory["namespaces"]) <= set(removed):
        problems.append(f"sweep removed {removed}")
    return problems + check_gone(inventory)


def main():
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces, veth)")
        return 77
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print(f"skip: missing tools: {' '.join(missing)}")
        return 77
    probe = f"al{os.getpid()}-probe"
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if p.returncode:
        print(f"skip: cannot create a network namespace: {p.stderr.strip()}")
        return 77
    subprocess.run(["ip", "netns", "del", probe], check=True)

    results = []

    def report(name, fn, *args):
        try:
            problems = fn(*args)
        except Exception as e:  # a case that blows up is a failed case, not a crash
            problems = [f"{type(e).__name__}: {e}"]
        print(("ok   " if not problems else "FAIL ") + name)
        for pr in problems:
            print("  " + str(pr).rstrip().replace("\n", "\n  "))
        results.append(not problems)

    started = time.monotonic()
    before = host_state()
    with netsim.Internet(forward=True) as net:
        print(f"# built in {time.monotonic() - started:.2f}s: {net.prefix}*")
        report("logs-start-empty", logs_start_empty, net)
        for name, args, checks in DNS_CASES:
            report(name, dns_case, net, args, checks)
        report("dns-log-is-exact", dns_log_is_exact, net)
        report("dns-slow-answers-late", dns_slow, net)
        report("dns-noanswer-times-out", dns_drop, net)
        for name, args, fragments, request in HTTP_CASES:
            report(name, http_case, net, args, fragments, request)
        report("https-needs-the-ca", https_needs_the_ca, net)
        report("https-logs-sni", https_logs_sni, net)
        report("http-slow-trickles", http_slow, net)
        for proto in ("tcp", "udp"):
            report(f"echo-{proto}", echo(proto, A.echo), net)
            report(f"echo-{proto}-ipv6", echo(proto, A.echo6), net)
        report("echo-by-name", echo_by_name, net)
        report("capture-sees-token", capture_sees_token, net)
        report("capture-filter", capture_filter, net)
        report("capture-on-gateway", capture_on_gateway, net)
        report("routes", routes, net)
        report("run-as-user", run_as_user, net)
        report("wait-port-and-popen", wait_port_and_popen, net)
        report("host-namespace-untouched", host_untouched, net, before)
        inventory = net.inventory()
    report("teardown-leaves-nothing", check_gone, inventory)
    report("no-forwarding-isolates", no_forwarding_isolates)
    report("teardown-on-exception", teardown_on_exception)
    report("teardown-on-sigterm", teardown_on_signal(signal.SIGTERM, 128 + signal.SIGTERM))
    report("teardown-on-sigint", teardown_on_signal(signal.SIGINT, -signal.SIGINT))
    report("sweep-after-sigkill", sweep_after_sigkill)
    failed = results.count(False)
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
