#!/usr/bin/env python3
"""airlock compose render, airlock docker protect and airlock doctor against
a real dockerd, in the simulated internet.

Usage: test_compose_protect.py AIRLOCK_BINARY   (as root; exits 77 when dockerd
cannot run)

The private dockerd, the workload image and the helpers are test_docker.py's
(dockerd.py: inside netsim's gateway namespace, pools in 198.18.0.0/15,
nothing pulled).  Each case checks what the containers got, what the
simulated internet saw (its servers' logs, a capture on its side), and the
kernel's and Docker's own view (nft tables in the daemon's namespace,
docker inspect).

  compose   the overlay validated by `docker compose config` (the plugin) or
            `docker-compose config` (Debian's docker-compose), whichever is
            installed, else only as YAML by python3's yaml module (said in the
            output); then brought up with docker-compose where it is installed:
            the sidecar hardened and healthy, the service's allowed HTTPS
            working, a blocked name refused and never asked upstream, raw TCP
            never arriving, the person's own environment value kept, and
            `down` leaving nothing.
  protect   a container on a bridge network of its own (NAT: it can reach the
            origin before), confined to a gateway container next to it: the
            proxy works, DNS to any server is answered by the gateway, raw TCP
            to the origin and to another container fails and never arrives;
            twice leaves one set of tables; `docker stop` makes the watcher
            remove them (and exit); unprotect removes them without a watcher.
  doctor    against this daemon: ok lines for Docker, the image, the networks
            and both kinds of sandbox with their rule counts; a dead sidecar a
            warning; a network claiming to be airlock's internal one that is
            not internal a failure (exit 1).

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import netsim  # noqa: E402
import dockerd  # noqa: E402
import test_docker  # noqa: E402
from test_docker import A, WORKLOAD_IMAGE, Failure, check, run  # noqa: E402

try:
    import yaml  # noqa: E402
except ImportError:  # the structural check then says it was skipped
    yaml = None


def compose_tool(dk):
    """The compose command this machine has: ["docker", "compose"] (the
    plugin), ["docker-compose"], or None."""
    p = dk.docker(["compose", "version"])
    if p.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


class Env(test_docker.Env):
    def __init__(self, net, dk, binary):
        super().__init__(net, dk, binary)
        self.compose = compose_tool(dk)
        self.project = tempfile.mkdtemp(prefix="airlock-compose-")

    def top(self, *args, timeout=180, input=None):
        """airlock ARGS (not under `docker`), against this daemon."""
        env = self.dk.env()
        env["AIRLOCK_STATE_DIR"] = self.state
        return subprocess.run([self.binary, *args], env=env, capture_output=True, text=True,
                              timeout=timeout, input=input)

    def compose_run(self, *args, timeout=180):
        env = self.dk.env()
        return subprocess.run([*self.compose, "-p", "airlockct", "-f", "docker-compose.yml",
                               "-f", "airlock.yml", *args], cwd=self.project, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def tables(self):
        """airlock's protect tables in the daemon's namespace."""
        out = self.dk.netns(["nft", "list", "tables"]).stdout
        return sorted(l for l in out.splitlines() if "airlock_protect_" in l)

    def records(self):
        d = os.path.join(self.state, "docker", ".protect")
        return sorted(f for f in os.listdir(d) if f.endswith(".conf")) if os.path.isdir(d) else []

    def watcher(self):
        d = os.path.join(self.state, "docker", ".protect")
        pids = []
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.startswith("watch-") and f.endswith(".lock"):
                with open(os.path.join(d, f)) as fh:
                    text = fh.read().strip()
                if text.isdigit() and alive(int(text)):
                    with open(f"/proc/{text}/cmdline", "rb") as c:
                        if b"--watch" in c.read():
                            pids.append(int(text))
        return pids


def alive(pid):
    """Running, not a zombie; a zombie child of ours (the test is a subreaper,
    so the detached watcher is re-parented here) is reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


# ---- compose ----

PROJECT = """\
services:
  app:
    image: {image}
    command: ["sleep", "600"]
    environment:
      DO_NOT_TRACK: "0"
    volumes:
      - "{ca}:/ca.pem:ro"
    dns_opt: ["timeout:1", "attempts:1"]
  db:
    image: {image}
    command: ["sleep", "600"]
"""


def image_built_locally(env):
    p = env.airlock("image", "build")
    check(p.returncode == 0, f"image build: exit {p.returncode}: {p.stderr.strip()}")


def compose_render_validated(env):
    with open(os.path.join(env.project, "docker-compose.yml"), "w") as f:
        f.write(PROJECT.format(image=WORKLOAD_IMAGE, ca=env.net.ca_file))
    # No --subnet: the daemon's pools give one (inside 198.18.128.0/17).
    p = env.top("compose", "render", "--profile", "strict", "--allow", "allowed.test",
                "--upstream", A.dns, "-f", os.path.join(env.project, "docker-compose.yml"),
                "app")
    check(p.returncode == 0, f"render: exit {p.returncode}: {p.stderr.strip()}")
    with open(os.path.join(env.project, "airlock.yml"), "w") as f:
        f.write(p.stdout)
    m = re.search(r'ipv4_address: "(198\.18\.(\d+)\.2)"', p.stdout)
    check(m and 128 <= int(m.group(2)) < 256, f"sidecar address from the pools: {m}")
    env.compose_ip = m.group(1)
    check(env.objects() == [], f"the subnet probe left {env.objects()}")
    how = []
    if env.compose:
        c = env.compose_run("config")
        check(c.returncode == 0, f"{' '.join(env.compose)} config: {c.stderr.strip()}")
        how.append(" ".join(env.compose) + " config")
        merged = c.stdout
    else:
        merged = None
    if yaml:
        doc = yaml.safe_load(merged) if merged else yaml.safe_load(p.stdout)
        svc = doc["services"]
        gw, app = svc["airlock-gateway"], svc["app"]
        check(gw["cap_drop"] == ["ALL"] and gw["read_only"] is True, f"sidecar: {gw}")
        check("no-new-privileges:true" in gw["security_opt"], f"{gw['security_opt']}")
        check(str(gw["user"]) == "65532:65532", f"user {gw['user']}")
        check(gw["healthcheck"]["test"][:4] == ["CMD", "/usr/bin/airlock", "docker",
                                                "healthcheck"], f"{gw['healthcheck']}")
        nets = app["networks"]
        check(list(nets) == ["airlock-internal"], f"app's networks {nets}")
        check(app["dns"] == [env.compose_ip], f"dns {app['dns']}")
        check(app["depends_on"]["airlock-gateway"]["condition"] == "service_healthy",
              f"{app['depends_on']}")
        envs = app["environment"]
        check(envs["HTTPS_PROXY"] == f"http://{env.compose_ip}:3128", f"{envs}")
        if merged:  # interpolated by compose: the person's value stands
            check(str(envs["DO_NOT_TRACK"]) == "0", f"DO_NOT_TRACK {envs['DO_NOT_TRACK']}")
            check(str(envs["DISABLE_TELEMETRY"]) == "1", f"{envs}")
            check(list(svc["db"].get("networks", {"default": None})) == ["default"],
                  f"db: {svc['db']}")
        internal = doc["networks"]["airlock-internal"]
        check(internal["internal"] is True, f"{internal}")
        how.append("python3 yaml")
    print(f"  validated by: {', '.join(how) or 'nothing (no compose tool, no yaml module)'}")
    env.validated_by = how


def compose_up_confines(env):
    if not env.compose:
        print("  skipped: no compose plugin and no docker-compose (the overlay was validated "
              "as YAML only)")
        return
    c = env.compose_run("up", "-d")
    check(c.returncode == 0, f"up: {c.stderr.strip()[-800:]}")
    gw = env.dk.inspect("airlockct_airlock-gateway_1") or env.dk.inspect(
        "airlockct-airlock-gateway-1")
    check(gw is not None, "no sidecar container")
    hc = gw["HostConfig"]
    check(hc["CapDrop"] == ["ALL"] and not hc.get("CapAdd"), f"caps {hc['CapDrop']}")
    check(hc["ReadonlyRootfs"] is True, "root file system writable")
    check("no-new-privileges:true" in hc["SecurityOpt"], f"{hc['SecurityOpt']}")
    check(gw["State"]["Health"]["Status"] == "healthy", f"{gw['State']['Health']['Status']}")
    with open(f"/proc/{gw['State']['Pid']}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    check(int(status["CapEff"].strip(), 16) == 0, f"CapEff {status['CapEff']}")
    app = next(n for n in ("airlockct_app_1", "airlockct-app-1") if env.dk.inspect(n))
    env.compose_app = app
    net = env.dk.inspect(app)["NetworkSettings"]["Networks"]
    check(list(net) == ["airlockct_airlock-internal"], f"app's networks {list(net)}")
    # No raw frames to the bridge's own MAC, which the host would take.
    drops = env.dk.inspect(app)["HostConfig"].get("CapDrop") or []
    check("NET_RAW" in drops or "CAP_NET_RAW" in drops, f"app's CapDrop {drops}")
    env.net.clear_logs()
    rc, code, err = env.curl(app, "https://allowed.test/")
    check(rc == 0 and code == "200", f"allowed: exit {rc} {code} {err}")
    check(("GET", "/", "allowed.test") in env.net.http_log(), f"{env.net.http_log()}")
    env.net.clear_logs()
    rc, code, err = env.curl(app, "https://blocked.test/")
    check(rc != 0 and "403" in err, f"blocked: exit {rc} {code} {err}")
    p = env.exec(app, "getent", "hosts", "blocked.test")
    check(p.returncode == 2, f"getent blocked.test: {p.returncode} {p.stdout}")
    check("blocked.test" not in [n for n, _, _ in env.net.dns_log()], "upstream asked")
    rc, code, err = env.curl(app, f"http://{A.http}/", "--noproxy", "*", "-m", "4")
    check(rc != 0, f"raw TCP reached the origin: {code}")
    check(not env.net.http_log(), f"the origin saw {env.net.http_log()}")
    p = env.exec(app, "sh", "-c", "echo $DO_NOT_TRACK $DISABLE_TELEMETRY")
    check(p.stdout.split() == ["0", "1"], f"telemetry variables: {p.stdout!r}")
    c = env.compose_run("down", "-v")
    check(c.returncode == 0, f"down: {c.stderr.strip()}")
    left = [c["Names"][0] for c in env.dk.api("GET", "/containers/json?all=1")]
    nets = [n["Name"] for n in env.dk.api("GET", "/networks") if "airlockct" in n["Name"]]
    check(not left and not nets, f"left behind: {left} {nets}")


# ---- protect ----

def protect_setup(env):
    p = env.dk.docker(["network", "create", "protnet"])
    check(p.returncode == 0, f"network create: {p.stderr}")
    gw_args = ["run", "-d", "--network", "protnet", "--cap-drop", "ALL", "--read-only",
               "--sysctl", "net.ipv4.ip_unprivileged_port_start=0", "--user", "65532:65532"]
    gw_cmd = ["airlock-gateway:" + env.version, "gateway", "--profile", "strict", "--allow",
              "allowed.test", "--listen-dns", "0.0.0.0:53", "--listen-proxy", "0.0.0.0:3128",
              "--upstream", A.dns]
    # The gateway, and another container listening the same way (a peer).
    for name, extra in (("gw", ["--label", "io.airlock.role=sidecar"]), ("peer", [])):
        p = env.dk.docker(gw_args + ["--name", name, *extra] + gw_cmd)
        check(p.returncode == 0, f"docker run {name}: {p.stderr}")
    env.gw_ip = env.dk.inspect("gw")["NetworkSettings"]["Networks"]["protnet"]["IPAddress"]
    env.peer_ip = env.dk.inspect("peer")["NetworkSettings"]["Networks"]["protnet"]["IPAddress"]
    p = env.dk.docker(["run", "-d", "--name", "prot", "--network", "protnet",
                       "-e", f"HTTPS_PROXY=http://{env.gw_ip}:3128",
                       "--dns-option", "timeout:1", "--dns-option", "attempts:1",
                       "-v", f"{env.net.ca_file}:/ca.pem:ro", WORKLOAD_IMAGE, "sleep", "600"])
    check(p.returncode == 0, f"docker run prot: {p.stderr}")
    for ip in (env.gw_ip, env.peer_ip):
        wait_for(lambda: env.curl("prot", "https://allowed.test/", "-x",
                                  f"http://{ip}:3128")[0] == 0, 15, f"the gateway at {ip}")
    # Before: the network has a route out, and the peer answers.
    env.net.clear_logs()
    rc, code, err = env.curl("prot", f"http://{A.http}/before", "--noproxy", "*")
    check(rc == 0 and code != "000", f"before protect the origin is reachable: {rc} {err}")
    check(any(path == "/before" for _, path, _ in env.net.http_log()), f"{env.net.http_log()}")
    rc, code, err = env.curl("prot", "https://allowed.test/", "-x", f"http://{env.peer_ip}:3128")
    check(rc == 0 and code == "200", f"before protect the peer answers: {rc} {err}")


def protect_confines(env):
    p = env.airlock("protect", "prot")
    check(p.returncode == 0, f"protect: exit {p.returncode}: {p.stderr.strip()}")
    check(f"prot may reach {env.gw_ip} only (the gateway gw on protnet" in p.stdout, p.stdout)
    check(re.search(r"watcher pid \d+", p.stdout), p.stdout)
    tables = env.tables()
    check(len(tables) == 2 and any("bridge" in t for t in tables), f"tables {tables}")
    env.net.clear_logs()
    rc, code, err = env.curl("prot", "https://allowed.test/")
    check(rc == 0 and code == "200", f"through the gateway: exit {rc} {code} {err}")
    rc, code, err = env.curl("prot", "https://blocked.test/")
    check(rc != 0 and "403" in err, f"blocked through the gateway: {rc} {err}")
    # DNS to the daemon's resolver (Docker's embedded DNS forwards there)
    # is answered by the gateway: a blocked name is never asked upstream.
    p = env.exec("prot", "getent", "hosts", "allowed.test")
    check(p.returncode == 0, f"getent allowed.test: {p.returncode} {p.stderr}")
    p = env.exec("prot", "getent", "hosts", "blocked.test")
    check(p.returncode == 2, f"getent blocked.test: {p.returncode} {p.stdout}")
    check("blocked.test" not in [n for n, _, _ in env.net.dns_log()], "upstream asked")
    env.net.clear_logs()
    token = "protect-token-7f3a"
    with env.net.capture(filter=f"host {A.http} or host {A.echo}") as cap:
        for url in (f"http://{A.http}/{token}", f"telnet://{A.echo}:7"):
            rc, code, err = env.curl("prot", url, "--noproxy", "*", "-m", "3")
            check(rc != 0, f"{url} reached: {code}")
        cap.sync()
        left = cap.packets
    check(not left, f"packets reached the origin's side: {left[:3]}")
    check(not env.net.http_log() and not env.net.echo_log(), "the internet saw the container")
    # Another container on the same bridge: out of reach, the gateway not.
    rc, code, err = env.curl("prot", "https://allowed.test/", "-x",
                             f"http://{env.peer_ip}:3128", "-m", "3")
    check(rc != 0, f"the peer container answered: {code}")
    # The host's own address on the bridge: only the gateway's ports.
    br_ip = env.dk.api("GET", "/networks/protnet")["IPAM"]["Config"][0]["Gateway"]
    rc, code, err = env.curl("prot", f"http://{br_ip}:80/", "--noproxy", "*", "-m", "3")
    check(rc != 0, "the host answered")
    counters = env.dk.netns(["nft", "list", "counters"]).stdout
    drops = [int(x) for x in re.findall(r"packets (\d+)", counters)]
    check(drops and sum(drops) > 0, f"nothing counted as dropped: {counters}")


def protect_twice_one_set(env):
    before = env.dk.netns(["nft", "list", "ruleset"]).stdout
    watchers = env.watcher()
    p = env.airlock("protect", "prot", "--sidecar", "gw")
    check(p.returncode == 0, f"protect again: {p.stderr.strip()}")
    check(len(env.tables()) == 2, f"tables {env.tables()}")
    check(len(env.records()) == 1, f"records {env.records()}")
    after = env.dk.netns(["nft", "list", "ruleset"]).stdout
    strip = lambda t: re.sub(r"packets \d+ bytes \d+", "", t)  # noqa: E731
    check(strip(before) == strip(after), "the ruleset changed on the second protect")
    check(env.watcher() == watchers and len(watchers) == 1, f"watchers {watchers} -> "
                                                              f"{env.watcher()}")
    rc, code, err = env.curl("prot", "https://allowed.test/")
    check(rc == 0 and code == "200", f"after the second protect: {rc} {err}")


def protect_removed_when_stopped(env):
    watchers = env.watcher()
    p = env.dk.docker(["stop", "-t", "1", "prot"])
    check(p.returncode == 0, f"docker stop: {p.stderr}")
    wait_for(lambda: not env.tables(), 10, "the rules to go")
    check(env.records() == [], f"records {env.records()}")
    wait_for(lambda: not any(alive(w) for w in watchers), 10,
             "the watcher to exit")
    log = open(os.path.join(env.state, "docker", ".protect", "watch.log")).read()
    check("prot (" in log and "stopped: rules airlock_protect_" in log, log[-500:])
    check(not re.search(r"ERROR: \w+Sanitizer|runtime error:", log), log[-2000:])


def unprotect_without_watcher(env):
    p = env.dk.docker(["start", "prot"])
    check(p.returncode == 0, f"docker start: {p.stderr}")
    p = env.airlock("protect", "--no-watch", "--gateway", env.gw_ip, "prot")
    check(p.returncode == 0 and "no watcher" in p.stdout, f"protect: {p.stdout} {p.stderr}")
    check(env.watcher() == [], f"a watcher runs: {env.watcher()}")
    check(len(env.tables()) == 2, f"tables {env.tables()}")
    rc, code, err = env.curl("prot", f"http://{A.http}/", "--noproxy", "*", "-m", "3")
    check(rc != 0, "raw TCP with --gateway")
    p = env.airlock("unprotect", "prot")
    check(p.returncode == 0, f"unprotect: {p.stderr.strip()}")
    check(env.tables() == [] and env.records() == [], f"{env.tables()} {env.records()}")
    env.net.clear_logs()
    rc, code, err = env.curl("prot", f"http://{A.http}/", "--noproxy", "*")
    check(rc == 0 and code == "200", f"after unprotect the route is back: {rc} {err}")
    p = env.airlock("unprotect", "prot")
    check(p.returncode == 1 and "is not protected" in p.stderr, f"{p.returncode} {p.stderr}")
    p = env.airlock("protect", "gw")
    check(p.returncode == 1 and "is an airlock sidecar" in p.stderr, f"protect gw: {p.stderr}")
    for name in ("prot", "gw", "peer"):
        env.dk.docker(["rm", "-f", name])
    env.dk.docker(["network", "rm", "protnet"])


# ---- doctor ----

def doctor_reports(env):
    env.run_sandbox("web")
    p = env.airlock("allow", "web", "www.allowed.test")
    check(p.returncode == 0, f"allow: {p.stderr}")
    rules = os.path.join(env.state, "run", "dev", "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "allowed-domains"), "w") as f:
        f.write("a.example\nb.example\n")
    with open(os.path.join(rules, "blocked-domains"), "w") as f:
        f.write("c.example\n")
    p = env.top("doctor")
    out = p.stdout
    check(p.returncode == 0, f"doctor: exit {p.returncode}:\n{out}{p.stderr}")
    want = [r"^ok    docker: Docker \S+ at \S+docker.sock, API 1\.\d+",
            r"^ok    gateway image: airlock-gateway:\S+, built from this airlock binary$",
            r"^ok    network airlock-egress: NAT for sidecars, 198\.18\.",
            r"^ok    network airlock-int-web: internal, 198\.18\.\d+\.0/24$",
            r"^ok    sandbox web \(docker\): running, gateway serving at 198\.18\.\d+\.2; "
            r"2 allowed and 0 blocked of its own, \d+ rules in force$",
            r"^ok    sandbox dev \(run\): stopped; 2 allowed and 1 blocked of its own",
            r"^(ok  |warn)  user namespaces: ", r"^(ok  |warn)  nftables: ",
            r"^doctor: \d+ ok, \d+ warnings, 0 failed$"]
    for w in want:
        check(re.search(w, out, re.M), f"no line like {w!r} in:\n{out}")
    check(all(re.match(r"^(ok|warn|fail)  |^doctor: ", l) for l in out.splitlines()), out)
    # The bridge's host rules gone (a reboot, a flush): a warning saying what
    # to do, and `reset` puts them back.
    bridge = "br-" + env.dk.api("GET", "/networks/airlock-int-web")["Id"][:12]
    drop = [w for w in env.dk.netns(["iptables", "-S", "INPUT"]).stdout.splitlines()
            if f"-i {bridge} " in w]
    check(len(drop) == 1, f"INPUT rules for {bridge}: {drop}")
    p = env.dk.netns(["sh", "-c", "iptables " + drop[0].replace("-A INPUT", "-D INPUT", 1)])
    check(p.returncode == 0, f"deleting {drop[0]}: {p.stderr}")
    p = env.top("doctor")
    check(re.search(r"^warn  sandbox web \(docker\): gateway serving at \S+, but its host "
                    r"rules are missing.*'airlock docker reset web'", p.stdout, re.M), p.stdout)
    p = env.airlock("reset", "web")
    check(p.returncode == 0, f"reset: {p.stderr}")
    p = env.top("doctor")
    check(re.search(r"^ok    sandbox web \(docker\): running, gateway serving", p.stdout, re.M),
          p.stdout)
    # A sidecar gone: a warning that says what to do; still exit 0.
    env.dk.docker(["kill", "airlock-gw-web"])
    p = env.top("doctor")
    check(p.returncode == 0, f"doctor with a dead sidecar: exit {p.returncode}")
    check(re.search(r"^warn  sandbox web \(docker\): the workload runs but its gateway does "
                    r"not serve.*'airlock docker reset web'", p.stdout, re.M), p.stdout)
    # Something unsafe: a network labelled as airlock's internal one, with a
    # route out.  A failure, exit 1.
    env.dk.docker(["network", "create", "--label", "io.airlock.role=internal", "fake-int"])
    p = env.top("doctor")
    check(p.returncode == 1, f"doctor with a fake internal network: exit {p.returncode}")
    check(re.search(r"^fail  network fake-int: is not internal", p.stdout, re.M), p.stdout)
    check(re.search(r"^doctor: \d+ ok, \d+ warnings, 1 failed$", p.stdout, re.M), p.stdout)
    env.dk.docker(["network", "rm", "fake-int"])
    p = env.airlock("rm", "web")
    check(p.returncode == 0, f"rm web: {p.stderr}")
    shutil.rmtree(os.path.join(env.state, "run", "dev"))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces, dockerd)")
        return 77
    missing = [t for t in ["ip", "nft", "nsenter", "ldd", *test_docker.WORKLOAD_BINARIES]
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
            p = dk.docker(["import", "-", WORKLOAD_IMAGE], input=test_docker.workload_tar(),
                          text=False)
            if p.returncode:
                raise RuntimeError(f"docker import: {p.stderr!r}")
            env = Env(net, dk, binary)
            env.version = subprocess.run([binary, "--version"], capture_output=True,
                                         text=True).stdout.split()[1]
            print(f"# compose: {' '.join(env.compose) if env.compose else 'none installed'}")
            cases = [image_built_locally, compose_render_validated, compose_up_confines,
                     protect_setup, protect_confines, protect_twice_one_set,
                     protect_removed_when_stopped, unprotect_without_watcher, doctor_reports]
            for case in cases:
                results.append(run(case.__name__, lambda: case(env)))
        finally:
            dk.close()
            if env:
                shutil.rmtree(env.state, ignore_errors=True)
                shutil.rmtree(env.project, ignore_errors=True)
    failed = results.count(False)
    print(f"# {time.monotonic() - t0:.0f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
