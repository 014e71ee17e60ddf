#!/usr/bin/env python3
"""airlock docker against a real dockerd, in the simulated internet.

Usage: test_docker.py AIRLOCK_BINARY   (as root; exits 77 when dockerd cannot run)

dockerd.py starts a private dockerd inside netsim's gateway namespace
(bridges and address pools in 198.18.0.0/15, DNS through netsim's server);
the gateway image is built by `airlock docker image build` from the binary
under test, and a workload image is assembled here from host binaries (dash,
curl, getent, sleep and their libraries) and imported: nothing is pulled.

Each case checks what the workload got, what the simulated internet saw
(its servers' logs), and Docker's own view (docker inspect, networks, the
iptables rules of the daemon's namespace).

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import netsim  # noqa: E402
import dockerd  # noqa: E402

A = netsim.ADDR
WORKLOAD_IMAGE = "airlock-test-workload:1"
WORKLOAD_BINARIES = ["/bin/sh", "/usr/bin/curl", "/usr/bin/getent", "/bin/sleep", "/bin/cat"]
POLICY = ["--profile", "strict", "--allow", "allowed.test", "--upstream", A.dns]


class Failure(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Failure(why)


# ---- the workload image ----

def _libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return re.findall(r"(/\S+)", out)


def workload_tar(binaries=None):
    """A root file system with the binaries (default WORKLOAD_BINARIES) at
    their paths and their libraries at the paths the loader looks for, in
    memory."""
    buf = io.BytesIO()
    done = set()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(path):
            if path in done:
                return
            done.add(path)
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/" + "/".join(parts[:i])
                if d not in done:
                    done.add(d)
                    info = tarfile.TarInfo(d.lstrip("/"))
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tar.gettarinfo(os.path.realpath(path), arcname=path.lstrip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(os.path.realpath(path), "rb") as f:
                tar.addfile(info, f)
        # First, so a binary under /tmp (a build there) finds it made.
        for d in ("tmp", "etc"):
            done.add("/" + d)
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        for b in binaries or WORKLOAD_BINARIES:
            add(b)
            for lib in _libraries(b):
                add(lib)
        # getent needs an nsswitch.conf that says "dns" for hosts.
        data = b"hosts: files dns\n"
        info = tarfile.TarInfo("etc/nsswitch.conf")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# ---- helpers ----

class Env:
    def __init__(self, net, dk, binary):
        self.net, self.dk, self.binary = net, dk, binary
        self.state = tempfile.mkdtemp(prefix="airlock-docker-state-")
        os.chmod(self.state, 0o700)

    def airlock(self, *args, timeout=180):
        env = self.dk.env()
        env["AIRLOCK_STATE_DIR"] = self.state
        return subprocess.run([self.binary, "docker", *args], env=env, capture_output=True,
                              text=True, timeout=timeout)

    def run_sandbox(self, name, *extra, cmd=("sleep", "600")):
        """A detached sandbox with the CA mounted; the sidecar's address."""
        # Short resolver timeouts: the fail-closed case waits for them.
        p = self.airlock("run", "--name", name, *POLICY, *extra, "-d",
                         "--dns-option", "timeout:1", "--dns-option", "attempts:1",
                         "-v", f"{self.net.ca_file}:/ca.pem:ro", WORKLOAD_IMAGE, *cmd)
        check(p.returncode == 0, f"airlock docker run {name}: exit {p.returncode}: "
                                 f"{p.stderr.strip()}")
        return self.sidecar_ip(name)

    def sidecar_ip(self, name):
        c = self.dk.inspect(f"airlock-gw-{name}")
        check(c is not None, f"no sidecar for {name}")
        return c["NetworkSettings"]["Networks"][f"airlock-int-{name}"]["IPAddress"]

    def exec(self, name, *cmd, timeout=60):
        return self.dk.docker(["exec", name, *cmd], timeout=timeout)

    def curl(self, name, url, *opts):
        """(exit status, HTTP code or "", stderr) of curl in the workload."""
        p = self.exec(name, "curl", "-sS", "-m", "5", "--cacert", "/ca.pem", "-o", "/dev/null",
                      "-w", "%{http_code}", *opts, url)
        return p.returncode, p.stdout.strip(), p.stderr.strip()

    def audit(self, name):
        path = os.path.join(self.state, "docker", name, "run", "audit.jsonl")
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def objects(self, name=None):
        """Containers and networks Docker holds for sandbox name (all if None)."""
        flt = '{"label":["io.airlock.sandbox%s"]}' % (f"={name}" if name else "")
        q = "filters=" + urllib.parse.quote(flt)
        cs = self.dk.api("GET", f"/containers/json?all=1&{q}")
        ns = self.dk.api("GET", f"/networks?{q}")
        return [c["Names"][0] for c in cs] + [n["Name"] for n in ns]

    def rules(self):
        """The daemon namespace's iptables rules and links: what Docker added."""
        ipt = self.dk.netns(["iptables-save"]).stdout
        ipt = "\n".join(l for l in ipt.splitlines() if not l.startswith("#"))
        ipt = re.sub(r"\[\d+:\d+\]", "", ipt)
        links = self.dk.netns(["ip", "-o", "link", "show"]).stdout
        bridges = sorted(re.findall(r"^\d+: (br-[0-9a-f]+|veth\w+)", links, re.M))
        return ipt, bridges


# ---- cases ----

def image_built_locally(env):
    p = env.airlock("image", "build")
    check(p.returncode == 0, f"image build: exit {p.returncode}: {p.stderr.strip()}")
    ref = p.stdout.strip()
    img = env.dk.api("GET", f"/images/{ref}/json")
    check(img["Config"]["User"] == "65532:65532", f"user {img['Config']['User']!r}")
    check(img["Config"]["Entrypoint"] == ["/usr/bin/airlock"], f"{img['Config']['Entrypoint']}")
    check(img["Config"]["Labels"].get("io.airlock.content"), "no content label")
    env.gateway_image = ref


def sidecar_hardened(env):
    ip = env.run_sandbox("web")
    c = env.dk.inspect("airlock-gw-web")
    hc = c["HostConfig"]
    # Root with four capabilities for the router's setup and the change of
    # user, nothing else; the process gives them up (below, from /proc).
    check(sorted(hc.get("CapAdd") or []) == ["NET_ADMIN", "SETGID", "SETPCAP", "SETUID"],
          f"CapAdd {hc.get('CapAdd')}")
    check(hc.get("CapDrop") == ["ALL"], f"CapDrop {hc.get('CapDrop')}")
    check(hc.get("Sysctls", {}).get("net.ipv4.ip_forward") == "0", f"Sysctls {hc.get('Sysctls')}")
    check(hc.get("ReadonlyRootfs") is True, "root file system writable")
    check("no-new-privileges" in (hc.get("SecurityOpt") or []), f"{hc.get('SecurityOpt')}")
    check(hc.get("Privileged") is False, "privileged")
    cmd = c["Config"]["Cmd"]
    check(cmd[cmd.index("--user") + 1] == "65532:65532", f"command {cmd}")
    hc_test = c["Config"]["Healthcheck"]["Test"]
    check(hc_test[:4] == ["CMD", "/usr/bin/airlock", "docker", "healthcheck"], f"{hc_test}")
    check(c["State"]["Health"]["Status"] in ("starting", "healthy"), f"{c['State']['Health']}")
    p = env.exec("airlock-gw-web", *hc_test[1:])
    check(p.returncode == 0, f"the healthcheck fails: {p.stderr}")
    # The kernel's view of the gateway process, not just Docker's config.
    with open(f"/proc/{c['State']['Pid']}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        check(int(status[cap].strip(), 16) == 0, f"{cap} {status[cap].strip()}")
    check(status["NoNewPrivs"].strip() == "1", "NoNewPrivs not set")
    check(status["Uid"].split()[0] == "65532", f"uid {status['Uid']}")
    p = env.exec("airlock-gw-web", "/usr/bin/airlock", "docker", "healthcheck", "--user",
                 "65532:65532", "/tmp/x")
    check(p.returncode != 0 and "no gateway answers on /tmp/x" in p.stderr,
          f"a healthcheck on a missing socket: exit {p.returncode} {p.stderr}")
    # Docker runs it as root: never asked as root.
    p = env.exec("airlock-gw-web", "/usr/bin/airlock", "docker", "healthcheck",
                 "/run/airlock/control.sock")
    check(p.returncode != 0 and "running as root: give --user UID:GID" in p.stderr,
          f"a healthcheck as root: exit {p.returncode} {p.stderr}")
    # Dual-homed: the internal network at SUBNET.2, and the egress network.
    nets = c["NetworkSettings"]["Networks"]
    check(set(nets) == {"airlock-int-web", "airlock-egress"}, f"networks {sorted(nets)}")
    check(ip.endswith(".2"), f"sidecar address {ip}")
    # The workload: the internal network only, DNS at the sidecar.
    w = env.dk.inspect("web")
    check(set(w["NetworkSettings"]["Networks"]) == {"airlock-int-web"},
          f"workload networks {sorted(w['NetworkSettings']['Networks'])}")
    check(w["HostConfig"]["Dns"] == [ip], f"workload DNS {w['HostConfig']['Dns']}")
    check(f"HTTPS_PROXY=http://{ip}:3128" in w["Config"]["Env"], f"env {w['Config']['Env']}")
    net = env.dk.api("GET", "/networks/airlock-int-web")
    check(net["Internal"] is True, "internal network is not Internal")


def allowed_https_through_proxy(env):
    env.net.clear_logs()
    rc, code, err = env.curl("web", "https://allowed.test/")
    check(rc == 0 and code == "200", f"curl: exit {rc}, code {code!r}: {err}")
    check(("GET", "/", "allowed.test") in env.net.http_log(), f"origin saw {env.net.http_log()}")
    p = env.exec("web", "getent", "hosts", "allowed.test")
    check(p.returncode == 0 and (A.http in p.stdout or A.http6 in p.stdout),
          f"getent: {p.stdout}{p.stderr}")


def blocked_name_refused(env):
    env.net.clear_logs()
    p = env.exec("web", "getent", "hosts", "blocked.test")
    check(p.returncode == 2, f"getent blocked.test: exit {p.returncode} {p.stdout}")
    rc, code, err = env.curl("web", "https://blocked.test/")
    check(rc != 0 and "403" in err, f"curl blocked.test: exit {rc} {code} {err}")
    check(not any(n == "blocked.test" for n, _, _ in env.net.dns_log()),
          f"upstream asked: {env.net.dns_log()}")
    check(not env.net.http_log(), f"origin saw {env.net.http_log()}")
    recs = [r for r in env.audit("web") if r.get("name") == "blocked.test"]
    check(recs and all(r["verdict"] == "block" for r in recs), f"audit: {recs}")
    check(all(r.get("sandbox") == "web" for r in recs), f"audit sandbox: {recs}")


def refused(rc, code):
    """curl's view of a refusal: no connection, or the gateway's 403."""
    return rc != 0 or code == "403"


def raw_traffic_intercepted(env):
    """The workload's default route leads to the sidecar (--router): TCP
    that ignores the proxy is decided like any flow, the rest is logged."""
    env.net.clear_logs()
    since = len(env.audit("web"))
    rc, code, err = env.curl("web", "https://allowed.test/", "--noproxy", "*")
    check(rc == 0 and code == "200", f"intercepted allowed.test: exit {rc}, code {code!r}: {err}")
    # An address no allowed name resolved to (A.http is allowed.test's: the
    # name<->address map lets a flow naming only that address through).
    for url in (f"http://{A.echo}:7/", "https://blocked.test/"):
        rc, code, err = env.curl("web", url, "--noproxy", "*", "--resolve",
                                 f"blocked.test:443:{A.http}", "-m", "4")
        check(refused(rc, code), f"{url} reached: exit {rc}, code {code}")
    # A UDP datagram (curl's TFTP request) to the echo host.
    p = env.exec("web", "curl", "-sS", "-m", "2", f"tftp://{A.echo}:7/udp-token")
    check(p.returncode != 0, f"tftp: {p.stdout}{p.stderr}")
    check(("GET", "/", "allowed.test") in env.net.http_log(), f"origin saw {env.net.http_log()}")
    check(not [h for h in env.net.http_log() if h[2] != "allowed.test"] and
          not env.net.echo_log(), f"the internet saw the workload: {env.net.http_log()}")
    time.sleep(0.3)
    recs = env.audit("web")[since:]
    want = [("tls", "allowed.test", "allow"), ("http", None, "block"),
            ("tls", "blocked.test", "block"), ("udp", None, "block")]
    for proto, name, verdict in want:
        check(any(r.get("proto") == proto and r.get("verdict") == verdict and
                  (name is None or r.get("name") == name) for r in recs),
              f"no {proto} {name or ''} {verdict} record among "
              f"{[(r.get('proto'), r.get('name') or r.get('address'), r.get('verdict')) for r in recs]}")
    udp = [r for r in recs if r.get("proto") == "udp"]
    check(udp and udp[0].get("origin") == "sandbox firewall" and udp[0].get("port") == 7,
          f"udp record {udp}")
    # What lets those packets reach the sidecar past Docker's isolation of
    # internal networks (br_netfilter is on here): the bridge's own
    # addresses to anywhere, and the replies; and nothing from the bridge
    # for the host itself (docker/passage.h).
    net = env.dk.api("GET", "/networks/airlock-int-web")
    bridge, subnet = "br-" + net["Id"][:12], net["IPAM"]["Config"][0]["Subnet"]

    def host_rules():
        lines = env.rules()[0].splitlines()
        return ([l for l in lines if l.startswith("-A DOCKER-USER")],
                [l for l in lines if l.startswith("-A INPUT")])

    want = [f"-A DOCKER-USER -d {subnet} -i {bridge} -o {bridge} -m conntrack --ctstate "
            "RELATED,ESTABLISHED",
            f"-A DOCKER-USER -s {subnet} -i {bridge} -o {bridge} -m comment", "-A DOCKER-USER -j RETURN"]
    for _ in range(2):
        user, inp = host_rules()
        check(len(user) == 3 and all(u.startswith(w) for u, w in zip(user, want)),
              f"DOCKER-USER: {user}")
        check(len(inp) == 1 and inp[0].startswith(f"-A INPUT -i {bridge} ") and
              inp[0].endswith("-j DROP"), f"INPUT: {inp}")
        # A second time, after a reset: the same rules, once.
        p = env.airlock("reset", "web")
        check(p.returncode == 0, f"reset: {p.stderr}")


def host_out_of_reach(env):
    """The daemon's own namespace (the "host") is not reachable: a server
    there on every address stays out of reach, because the internal bridge
    has no address on the host's side (the network's gateway address is the
    sidecar's, which refuses it like any address)."""
    env.net.clear_logs()
    server = env.net.gateway.popen([sys.executable, "-m", "http.server", "--bind", "0.0.0.0",
                                    "18080"])
    try:
        env.net.gateway.wait_port("0.0.0.0", 18080)
        gw = env.dk.api("GET", "/networks/airlock-int-web")["IPAM"]["Config"][0]["Gateway"]
        for host in (A.uplink, "198.18.64.1", gw):
            rc, code, err = env.curl("web", f"http://{host}:18080/", "--noproxy", "*",
                                     "-m", "4")
            check(refused(rc, code), f"the host's server answered on {host}: {code}")
        p = env.net.gateway.run(["curl", "-sS", "-m", "4", "-o", "/dev/null", "-w",
                                 "%{http_code}", f"http://{A.uplink}:18080/"])
        check(p.stdout == "200", f"the server is not up: {p.stdout} {p.stderr}")
    finally:
        env.net.stop(server)
    net = env.dk.api("GET", "/networks/airlock-int-web")
    p = env.dk.netns(["ip", "-4", "-o", "addr", "show", "dev", "br-" + net["Id"][:12]])
    check(p.returncode == 0 and "inet" not in p.stdout, f"bridge address: {p.stdout}{p.stderr}")


def runtime_allow(env):
    before = env.dk.inspect("web")["State"]["StartedAt"]
    rc, code, err = env.curl("web", "https://www.allowed.test/")
    check(rc != 0 and "403" in err, f"www.allowed.test before allow: {rc} {code} {err}")
    p = env.airlock("allow", "web", "www.allowed.test")
    check(p.returncode == 0, f"allow: exit {p.returncode}: {p.stderr}")
    rc, code, err = env.curl("web", "https://www.allowed.test/")
    check(rc == 0 and code == "200", f"after allow: exit {rc} {code} {err}")
    p = env.airlock("block", "web", "allowed.test")
    check(p.returncode == 0, f"block: exit {p.returncode}: {p.stderr}")
    rc, code, err = env.curl("web", "https://allowed.test/")
    check(rc != 0 and "403" in err, f"allowed.test after block: {rc} {code} {err}")
    p = env.airlock("allow", "web", "allowed.test")
    check(p.returncode == 0, f"allow again: {p.stderr}")
    with open(os.path.join(env.state, "docker", "web", "rules", "allowed-domains")) as f:
        allowed = f.read().split()
    with open(os.path.join(env.state, "docker", "web", "rules", "blocked-domains")) as f:
        blocked = f.read().split()
    check(sorted(allowed) == ["allowed.test", "www.allowed.test"] and blocked == [],
          f"rule files: allowed {allowed}, blocked {blocked}")
    after = env.dk.inspect("web")
    check(after["State"]["StartedAt"] == before and after["State"]["Running"],
          "the workload was restarted")


def sidecar_death_fails_closed(env):
    ip = env.sidecar_ip("web")
    started = env.dk.inspect("web")["State"]["StartedAt"]
    p = env.dk.docker(["kill", "airlock-gw-web"])
    check(p.returncode == 0, f"docker kill: {p.stderr}")
    env.net.clear_logs()
    rc, code, err = env.curl("web", "https://allowed.test/", "-m", "4")
    check(rc != 0, f"egress with the sidecar dead: code {code}")
    p = env.exec("web", "getent", "hosts", "allowed.test", timeout=60)
    check(p.returncode != 0, f"DNS with the sidecar dead: {p.stdout}")
    rc, code, err = env.curl("web", f"http://{A.http}/", "--noproxy", "*", "-m", "4")
    check(rc != 0, "raw TCP with the sidecar dead")
    check(not env.net.http_log(), f"the origin saw {env.net.http_log()}")
    # The rules survive in the files: the new sidecar has www.allowed.test.
    p = env.airlock("reset", "web")
    check(p.returncode == 0, f"reset: exit {p.returncode}: {p.stderr}")
    check(env.sidecar_ip("web") == ip, f"new address {env.sidecar_ip('web')} != {ip}")
    rc, code, err = env.curl("web", "https://www.allowed.test/")
    check(rc == 0 and code == "200", f"after reset: exit {rc} {code} {err}")
    w = env.dk.inspect("web")
    check(w["State"]["StartedAt"] == started and w["State"]["Running"],
          "the workload was restarted")


def names_never_collide(env):
    ip2 = env.run_sandbox("other")
    check(ip2 != env.sidecar_ip("web"), "two sandboxes share a sidecar address")
    s1 = env.dk.api("GET", "/networks/airlock-int-web")["IPAM"]["Config"][0]["Subnet"]
    s2 = env.dk.api("GET", "/networks/airlock-int-other")["IPAM"]["Config"][0]["Subnet"]
    check(s1 != s2, f"same subnet {s1}")
    # A workload cannot reach the other sandbox's sidecar.
    rc, code, err = env.curl("web", "https://allowed.test/", "-x", f"http://{ip2}:3128",
                             "-m", "4")
    check(rc != 0, "one sandbox used another's gateway")
    p = env.airlock("run", "--name", "web", *POLICY, "-d", WORKLOAD_IMAGE, "true")
    check(p.returncode == 125 and "exists already" in p.stderr,
          f"a second 'web': exit {p.returncode}: {p.stderr}")
    check(env.dk.inspect("web")["State"]["Running"], "the first 'web' was disturbed")


def airgapped_profile(env):
    p = env.airlock("run", "--name", "air", "--profile", "airgapped", WORKLOAD_IMAGE,
                    "sh", "-c", "cat /proc/net/dev; exit 7")
    check(p.returncode == 7, f"exit {p.returncode}: {p.stderr}")
    check("eth0" not in p.stdout, f"interfaces: {p.stdout}")
    w = env.dk.inspect("air")
    check(w["HostConfig"]["NetworkMode"] == "none", f"network {w['HostConfig']['NetworkMode']}")
    check(env.dk.inspect("airlock-gw-air") is None, "an airgapped sandbox got a sidecar")
    p = env.airlock("rm", "air")
    check(p.returncode == 0 and env.objects("air") == [], f"rm air: {p.stderr}")


def unhealthy_sidecar_starts_nothing(env):
    # An image without airlock in it: the sidecar cannot serve, so no
    # workload may start, and nothing of the sandbox may stay.
    p = env.airlock("run", "--name", "broken", "--gateway-image", WORKLOAD_IMAGE, *POLICY,
                    "-d", WORKLOAD_IMAGE, "sleep", "600")
    check(p.returncode == 125, f"exit {p.returncode}: {p.stderr}")
    check(env.dk.inspect("broken") is None, "the workload started")
    check(env.objects("broken") == [], f"left behind: {env.objects('broken')}")
    check(not os.path.exists(os.path.join(env.state, "docker", "broken")), "state left")


def no_sanitizer_reports(env):
    for name in ("airlock-gw-web", "airlock-gw-other"):
        p = env.dk.docker(["logs", name])
        out = p.stdout + p.stderr
        check(p.returncode == 0, f"docker logs {name}: {out}")
        check(not re.search(r"ERROR: \w+Sanitizer|runtime error:", out), out[-2000:])


def rm_run_and_gc(env):
    # --rm in the foreground: when the workload is gone, so is the sandbox.
    p = env.airlock("run", "--name", "once", *POLICY, "--rm", WORKLOAD_IMAGE,
                    "sh", "-c", "getent hosts allowed.test >/dev/null && echo resolved")
    check(p.returncode == 0 and "resolved" in p.stdout, f"exit {p.returncode}: {p.stderr}")
    check(env.objects("once") == [], f"left behind: {env.objects('once')}")
    # An orphan: its workload removed behind airlock's back.
    env.run_sandbox("orphan")
    env.dk.docker(["rm", "-f", "orphan"])
    p = env.airlock("gc", "--grace", "0")
    check(p.returncode == 0 and "removed orphan" in p.stdout, f"gc: {p.stdout} {p.stderr}")
    check(env.objects("orphan") == [], f"gc left {env.objects('orphan')}")
    check(env.dk.inspect("web") and env.dk.inspect("airlock-gw-web"), "gc removed a live one")
    for name in ("web", "other"):
        p = env.airlock("rm", name)
        check(p.returncode == 0, f"rm {name}: {p.stderr}")
    check(env.objects() == [], f"left behind: {env.objects()}")
    nets = [n["Name"] for n in env.dk.api("GET", "/networks")]
    check(not any(n.startswith("airlock-") for n in nets), f"networks: {nets}")
    check(os.listdir(os.path.join(env.state, "docker")) == [], "state left")
    ipt, bridges = env.rules()
    check(ipt == env.baseline[0], "iptables rules differ from before the first sandbox:\n" +
          "\n".join(sorted(set(ipt.splitlines()) ^ set(env.baseline[0].splitlines()))))
    check(bridges == env.baseline[1], f"links {bridges} != {env.baseline[1]}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces, dockerd)")
        return 77
    missing = [t for t in ["ip", "iptables-save", "nsenter", "ldd", *WORKLOAD_BINARIES]
               if not shutil.which(t)]
    if missing:
        print(f"skipped: missing {', '.join(missing)}")
        return 77
    results = []
    t0 = time.monotonic()
    with netsim.Internet(forward=False) as net:
        try:
            dk = dockerd.Daemon(net)
            dk.__enter__()
        except dockerd.Unavailable as e:
            print(f"skipped: dockerd cannot run here: {e}")
            return 77
        env = None
        try:
            p = dk.docker(["import", "-", WORKLOAD_IMAGE], input=workload_tar(), text=False)
            if p.returncode:
                raise RuntimeError(f"docker import: {p.stderr!r}")
            env = Env(net, dk, binary)
            env.baseline = env.rules()
            cases = [image_built_locally, sidecar_hardened, allowed_https_through_proxy,
                     blocked_name_refused, raw_traffic_intercepted, host_out_of_reach,
                     runtime_allow,
                     sidecar_death_fails_closed, names_never_collide, airgapped_profile,
                     unhealthy_sidecar_starts_nothing, no_sanitizer_reports, rm_run_and_gc]
            for case in cases:
                results.append(run(case.__name__, lambda: case(env)))
        finally:
            dk.close()
            if env:
                shutil.rmtree(env.state, ignore_errors=True)
    failed = results.count(False)
    print(f"# {time.monotonic() - t0:.0f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run(name, fn):
    t = time.monotonic()
    try:
        fn()
        print(f"ok   {name} ({time.monotonic() - t:.1f}s)", flush=True)
        return True
    except Exception as e:  # noqa: BLE001 - report any failure as the case's
        print(f"FAIL {name}: {e}", flush=True)
        return False


if __name__ == "__main__":
    sys.exit(main())
