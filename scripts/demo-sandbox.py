#!/usr/bin/env python3
"""The demo's second half: `airlock run` in a simulated internet, live.

Usage: demo-sandbox.py AIRLOCK_BINARY   (as root)

Builds the simulated internet of tests/integration/netsim.py (network
namespaces on 198.18.0.0/15: a DNS server, HTTP/HTTPS origins and an echo
host), then runs commands under `airlock run` from the namespace that
routes to it, the way a user runs a build or an agent: each command gets
namespaces of its own with only a loopback interface, and its only way out
is airlock's gateway.  Programs that know nothing of airlock (curl told to
ignore the proxy, dig asking another resolver, a raw socket, UDP) are
filtered all the same; a rule added from outside applies while the
sandbox runs; the audit log says what happened and why.  Everything is torn
down at the end.  The demo doubles as a test: it fails if the sandbox did
not behave as it says.
"""
import os
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import netsim  # noqa: E402

A = netsim.ADDR
BOLD, DIM, OFF = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
POLICY = ["--profile", "strict", "--allow", ".allowed.test", "--name", "demo"]

RAW = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], 7), timeout=3)
    s.sendall(b"secret")
    print("echoed:", s.recv(100))
except OSError as e:
    print("raw TCP connection refused:", e)
"""
UDP = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.sendto(b"secret over UDP", (sys.argv[1], 7))
    print("answered:", s.recv(100))
except OSError as e:
    print("UDP datagram dropped:", e)
"""


def say(text):
    print(f"\n{BOLD}{text}{OFF}", flush=True)


class Demo:
    def __init__(self, net, binary):
        self.net, self.binary = net, binary
        self.env = netsim.clean_env()
        self.env["AIRLOCK_STATE_DIR"] = os.path.join(net.tmpdir, "state")

    def airlock(self, args, shown=None, keep=None, timeout=30):
        """Runs `airlock ARGS` where the user would, printing it and its output."""
        print(f"{DIM}${OFF} airlock {shown or ' '.join(shlex.quote(a) for a in args)}",
              flush=True)
        p = self.net.gateway.run([self.binary, *args], timeout=timeout, env=self.env)
        out = (p.stdout + p.stderr).strip()
        if keep:
            out = "\n".join(line for line in out.splitlines() if any(k in line for k in keep))
        for line in out.splitlines()[:8]:
            print("    " + line)
        if not out:
            print(f"    (exit {p.returncode})")
        return p

    def sandboxed(self, cmd, shown, **kw):
        args = ["run", "--upstream", A.dns, *POLICY, "--", *cmd]
        return self.airlock(args, f"run {' '.join(POLICY)} -- {shown}", **kw)


def main():
    if os.geteuid() != 0:
        print("demo-sandbox: needs root (it builds network namespaces); skipped")
        return 77  # Meson's "skipped"
    binary = os.path.abspath(sys.argv[1])
    with netsim.Internet(forward=False) as net:
        d = Demo(net, binary)
        curl = ["curl", "-sS", "--max-time", "5", "--cacert", net.ca_file]
        say("A simulated internet: DNS 198.18.0.10, web 198.18.0.20 (allowed.test, "
            "blocked.test, www.blocked.test), echo 198.18.0.30.  Each command below runs "
            "in a sandbox of its own: new namespaces, only a loopback interface.")

        say("1. An allowed site, through the proxy airlock sets (HTTPS_PROXY):")
        allowed = d.sandboxed(curl + ["-o", "/dev/null", "-w", "HTTP %{http_code}\\n",
                                      "https://allowed.test/"],
                              "curl https://allowed.test/")
        say("2. The same by a program that ignores proxies: redirected in the kernel, "
            "decided on its TLS server name:")
        direct = d.sandboxed(curl + ["--noproxy", "*", "-o", "/dev/null", "-w",
                                     "HTTP %{http_code}\\n", "https://www.allowed.test/"],
                             "curl --noproxy '*' https://www.allowed.test/")
        say("3. A site the policy does not allow, through the proxy and around it:")
        d.sandboxed(curl + ["https://blocked.test/"], "curl https://blocked.test/")
        d.sandboxed(curl + ["--noproxy", "*", "--resolve", f"blocked.test:443:{A.http}",
                            "https://blocked.test/"],
                    f"curl --noproxy '*' --resolve blocked.test:443:{A.http} "
                    "https://blocked.test/")
        say("4. Asking another resolver directly: the answer is still the policy's")
        d.sandboxed(["dig", f"@{A.echo}", "+tries=1", "+time=3", "blocked.test"],
                    f"dig @{A.echo} blocked.test", keep=["status:"])
        say("5. A raw TCP connection to an address, a UDP datagram, a ping:")
        d.sandboxed([sys.executable, "-c", RAW, A.echo], f"python3 raw-connect.py {A.echo}")
        d.sandboxed([sys.executable, "-c", UDP, A.echo], f"python3 udp-send.py {A.echo}")
        d.sandboxed(["ping", "-c", "1", "-W", "1", A.echo], f"ping -c 1 {A.echo}",
                    keep=["packet", "ping:", "not permitted"])
        say("6. A rule added from another shell applies while the sandbox runs, "
            "and at every later start of that name:")
        live = net.gateway.popen(
            [binary, "run", "--upstream", A.dns, *POLICY, "--", "sh", "-c",
             "for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null --max-time 3 "
             f"--cacert {net.ca_file} https://www.blocked.test/ && echo allowed || "
             "echo refused; sleep 0.5; done"],
            env=d.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(1.2)
        d.airlock(["allow", "--name", "demo", "www.blocked.test"])
        out = live.communicate(timeout=30)[0].decode().split()
        print(f"    the sandbox's curl, every half second: {' '.join(out)}")
        d.airlock(["ps", "-a"])

        dns_seen = [n for n, _, _ in net.dns_log() if n == "blocked.test"]
        http_seen = [h for _, _, h in net.http_log() if h.split(":")[0] == "blocked.test"]
        echo_seen = [x for x in net.echo_log() if b"secret" in x]
        say("What the simulated internet saw of the refused attempts:")
        print(f"    DNS queries for blocked.test: {len(dns_seen)}; requests for blocked.test: "
              f"{len(http_seen)}; secrets at the echo host: {len(echo_seen)}")
        say("7. The audit log, for people (`airlock logs --name demo`; --json for machines):")
        subprocess.run([binary, "logs", "--name", "demo"], check=False, env=d.env)
    leaks = len(dns_seen) + len(http_seen) + len(echo_seen)
    live_ok = out[:1] == ["refused"] and out[-1:] == ["allowed"]
    if allowed.returncode or direct.returncode or leaks or not live_ok:
        print(f"demo-sandbox: FAILED: allowed fetches exit {allowed.returncode}/"
              f"{direct.returncode}, {leaks} leak(s), live allow {'ok' if live_ok else out}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
