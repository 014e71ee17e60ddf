#!/usr/bin/env python3
"""The demo's second half: a sandbox in a simulated internet, live.

Usage: demo-sandbox.py AIRLOCK_BINARY   (as root)

Builds the simulated internet of tests/integration/netsim.py (three network
namespaces on 198.18.0.0/15: a client, the gateway, and an internet with a
DNS server and HTTP/HTTPS origins), runs `airlock gateway` in the gateway
namespace, and makes it the client's only way out with one nftables table
there: every TCP flow from the client is redirected to the transparent
listener, every port-53 packet to the DNS listener, and everything else is
dropped and counted.  Then, from the client, a program that knows nothing
of airlock (no proxy variables) fetches an allowed and a blocked site, asks
another resolver, opens a raw connection and sends UDP; the audit log and
the drop counter show what happened.  Everything is torn down at the end.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import netsim  # noqa: E402

A = netsim.ADDR
NFT = f"""
table inet airlock_demo {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "lan0" meta l4proto {{ tcp, udp }} th dport 53 redirect to :53
        iifname "lan0" meta l4proto tcp redirect to :3129
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "lan0" ct state established,related accept
        iifname "lan0" meta l4proto {{ tcp, udp }} th dport 53 accept
        iifname "lan0" tcp dport 3129 accept
        iifname "lan0" counter name "dropped" drop
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        counter name "dropped"
    }}
    counter dropped {{ }}
}}
"""

BOLD, DIM, OFF = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text):
    print(f"\n{BOLD}{text}{OFF}", flush=True)


def client(net, shown, cmd, keep=None, timeout=15):
    """Runs cmd in the client namespace, showing it as `shown` and its output
    (only the lines containing `keep`, if given)."""
    print(f"{DIM}sandbox${OFF} {shown}", flush=True)
    p = net.client.run(cmd, timeout=timeout)
    out = (p.stdout + p.stderr).strip()
    if keep:
        out = "\n".join(line for line in out.splitlines() if keep in line)
    for line in out.splitlines()[:6]:
        print("    " + line)
    if not out:
        print(f"    (exit {p.returncode})")
    return p


RAW = r"""
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect((sys.argv[1], 7))
    s.sendall(b"secret")
    print("echoed:", s.recv(100))
except OSError as e:
    print("connection refused by the gateway:", e)
"""
UDP = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"secret over UDP", (sys.argv[1], 7))
try:
    print("answered:", s.recv(100))
except OSError:
    print("no answer: the datagram was dropped")
"""


def main():
    if os.geteuid() != 0:
        print("demo-sandbox: needs root (it builds network namespaces); skipped")
        return 77  # Meson's "skipped"
    binary = os.path.abspath(sys.argv[1])
    with netsim.Internet(forward=False, resolver=A.gateway) as net:
        log = os.path.join(net.tmpdir, "audit.log")
        policy = ["--profile", "strict", "--allow", ".allowed.test"]
        say("A simulated internet: client 198.18.1.2 -> gateway 198.18.1.1 -> "
            "DNS 198.18.0.10, web 198.18.0.20 (allowed.test, blocked.test), echo 198.18.0.30")
        print(f"$ airlock gateway {' '.join(policy)} \\\n"
              f"      --listen-dns {A.gateway}:53 --listen-transparent {A.gateway}:3129 \\\n"
              f"      --upstream {A.dns} --log audit.log    # in the gateway namespace")
        gw = net.gateway.popen([binary, "gateway", *policy,
                                "--listen-dns", f"{A.gateway}:53",
                                "--listen-transparent", f"{A.gateway}:3129",
                                "--upstream", A.dns, "--log", log, "--name", "demo"])
        net.gateway.wait_port(A.gateway, 3129)
        p = net.gateway.run(["nft", "-f", "-"], input=NFT, timeout=10)
        if p.returncode:
            print(f"demo-sandbox: nftables is not usable here: {p.stderr.strip()}")
            return 1
        print("$ nft -f airlock.nft    # client TCP -> transparent listener, port 53 -> DNS, "
              "the rest dropped")

        say("1. An allowed site, fetched by a program that knows nothing of airlock:")
        allowed = client(net, "curl https://allowed.test/",
               ["curl", "-sS", "--max-time", "5", "--cacert", net.ca_file,
                "https://allowed.test/"])
        say("2. A site the policy does not allow:")
        client(net, "curl https://blocked.test/",
               ["curl", "-sS", "--max-time", "5", "--cacert", net.ca_file,
                "https://blocked.test/"])
        client(net, f"curl --resolve blocked.test:443:{A.http} https://blocked.test/  "
                    "# skipping DNS",
               ["curl", "-sS", "--max-time", "5", "--cacert", net.ca_file,
                "--resolve", f"blocked.test:443:{A.http}", "https://blocked.test/"])
        say("3. Asking another resolver directly: the answer is still the policy's")
        client(net, f"dig @{A.dns} blocked.test   # answered by the gateway, never sent upstream",
               ["dig", f"@{A.dns}", "+tries=1", "+time=3", "blocked.test"], keep="status:")
        say("4. A raw TCP connection to an address, and a UDP datagram:")
        client(net, f"python3 raw-connect.py {A.echo}", [sys.executable, "-c", RAW, A.echo])
        client(net, f"python3 udp-send.py {A.echo}", [sys.executable, "-c", UDP, A.echo])
        dns_seen = [n for n, _, _ in net.dns_log() if "blocked" in n]
        http_seen = [h for _, _, h in net.http_log() if "blocked" in h]
        echo_seen = [d for d in net.echo_log() if b"secret" in d]
        say("What the simulated internet saw of the refused attempts:")
        print(f"    DNS queries for blocked names: {len(dns_seen)}; requests to blocked.test: "
              f"{len(http_seen)}; secrets at the echo host: {len(echo_seen)}")
        counter = net.gateway.run(["nft", "list", "counter", "inet", "airlock_demo", "dropped"])
        packets = [w for w in counter.stdout.split() if w.isdigit()]
        print(f"    packets dropped by the kernel: {packets[0] if packets else '?'}")
        time.sleep(0.3)  # the log writer lingers briefly before writing
        say("5. The audit log, for people (`airlock logs`; --json for machines):")
        subprocess.run([binary, "logs", log], check=False)
        net.stop(gw)
    # The demo doubles as a test (tests/meson.build): it fails if the
    # sandbox did not behave as it says.
    leaks = len(dns_seen) + len(http_seen) + len(echo_seen)
    if allowed.returncode != 0 or leaks:
        print(f"demo-sandbox: FAILED: allowed fetch exit {allowed.returncode}, {leaks} leak(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
