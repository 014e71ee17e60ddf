#!/usr/bin/env python3
"""The devcontainer feature in a real container, on a private dockerd.

Usage: test_feature.py AIRLOCK_BINARY   (as root; exits 77 when dockerd cannot run)

What a devcontainer build does, by hand: the feature's folder (install.sh,
devcontainer-feature.json, and dist/ from scripts/build-feature.sh) is
mounted into a container of a local image (a root file system of this
machine's sh, coreutils and curl: no distribution inside), install.sh runs
with the feature's options as environment variables, and the result is
committed as an image whose entrypoint is the feature's.  Containers of
that image must then start filtered (the init hook runs `airlock apply`),
and must not start at all without NET_ADMIN.  Checked from inside the
container and on the simulated internet's side.

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import netsim  # noqa: E402
import dockerd  # noqa: E402
import test_docker  # noqa: E402

A = netsim.ADDR
BASE = "airlock-feature-base:1"
BUILT = "airlock-feature-built:1"
TOOLS = ["/bin/sh", "/usr/bin/cp", "/usr/bin/mkdir", "/usr/bin/chmod", "/usr/bin/id",
         "/usr/bin/grep", "/usr/bin/mv", "/usr/bin/cut", "/usr/bin/cat", "/usr/bin/dirname",
         "/usr/bin/sleep", "/usr/bin/getent", "/usr/bin/curl"]


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def origin_saw(net, host):
    return any(h == host or h.startswith(host + ":") for _, _, h in net.http_log())


class Feature:
    def __init__(self, net, dk, binary):
        self.net, self.dk, self.binary = net, dk, binary
        self.dir = tempfile.mkdtemp(prefix="airlock-feature-", dir=net.tmpdir)
        os.chmod(self.dir, 0o755)
        src = os.path.join(ROOT, "devcontainer", "src", "airlock")
        for f in ("install.sh", "devcontainer-feature.json"):
            shutil.copy(os.path.join(src, f), self.dir)
        p = subprocess.run([os.path.join(ROOT, "scripts", "build-feature.sh"), binary,
                            os.path.join(self.dir, "dist")], capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"build-feature.sh: {p.stderr.strip()}")

    def docker(self, args, timeout=120):
        return self.dk.docker(args, timeout=timeout)

    def curl(self, url):
        return ["curl", "-sS", "--max-time", "6", "--cacert", self.net.ca_file, "-o", "/dev/null",
                "-w", "%{http_code} ", url]


def install_in_an_image_build(f, net):
    p = []
    opts = ["-e", "PROFILE=strict", "-e", "ALLOWEDDOMAINS=.allowed.test",
            "-e", "BLOCKEDDOMAINS=www.allowed.test", "-e", "_REMOTE_USER=root"]
    r = f.docker(["run", "--name", "feature-build", "-v", f"{f.dir}:/feature:ro", *opts, BASE,
                  "/feature/install.sh"])
    expect(p, r.returncode == 0 and "installed: airlock" in r.stdout,
           f"install.sh: {r.returncode} {r.stdout} {r.stderr}")
    r = f.docker(["commit", "--change",
                  'ENTRYPOINT ["/usr/local/share/airlock/entrypoint.sh"]', "feature-build", BUILT])
    expect(p, r.returncode == 0, f"commit: {r.stderr}")
    f.docker(["rm", "-f", "feature-build"])
    r = f.docker(["run", "--rm", "--entrypoint", "/usr/bin/cat", BUILT, "/etc/airlock/apply.conf"])
    expect(p, "allowedDomains = .allowed.test" in r.stdout and "profile = strict" in r.stdout,
           f"the options in apply.conf: {r.stdout!r} {r.stderr!r}")
    return p


def container_starts_filtered(f, net):
    p = []
    script = "; ".join([
        shlex.join(f.curl("https://allowed.test/")),
        shlex.join(f.curl("https://www.allowed.test/")),
        shlex.join(f.curl("https://blocked.test/")),
        "getent hosts blocked.test || echo no-such-name",
    ])
    r = f.docker(["run", "--rm", "--cap-add", "NET_ADMIN", "-v",
                  f"{net.ca_file}:{net.ca_file}:ro", BUILT, "/bin/sh", "-c", script])
    codes = re.findall(r"\b(\d{3}) ", r.stdout)
    expect(p, r.returncode == 0, f"the container ran: {r.returncode} {r.stderr.strip()}")
    expect(p, codes == ["200", "000", "000"], f"only allowed.test fetched: {r.stdout!r} {r.stderr!r}")
    expect(p, "applied" in r.stdout + r.stderr, "the init hook applied the policy")
    expect(p, origin_saw(net, "allowed.test"), "the origin saw allowed.test")
    expect(p, not origin_saw(net, "www.allowed.test") and not origin_saw(net, "blocked.test"),
           "blockedDomains and the default kept the others off the internet")
    expect(p, "no-such-name" in r.stdout, "blocked.test does not resolve")
    return p


def without_net_admin_it_does_not_start(f, net):
    p = []
    r = f.docker(["run", "--rm", BUILT, "/bin/sh", "-c", "echo the-command-ran"])
    expect(p, r.returncode != 0 and "the-command-ran" not in r.stdout,
           f"refused to start: {r.returncode} {r.stdout!r}")
    expect(p, "not starting" in r.stderr, f"and says why: {r.stderr.strip()}")
    return p


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces, dockerd)")
        return 77
    results = []
    started = time.monotonic()
    with netsim.Internet(forward=False) as net:
        try:
            dk = dockerd.Daemon(net)
            dk.__enter__()
        except dockerd.Unavailable as e:
            print(f"skipped: dockerd cannot run here: {e}")
            return 77
        try:
            r = dk.docker(["import", "-", BASE], input=test_docker.workload_tar(TOOLS),
                          text=False)
            if r.returncode:
                raise RuntimeError(f"docker import: {r.stderr!r}")
            f = Feature(net, dk, binary)
            for fn in (install_in_an_image_build, container_starts_filtered,
                       without_net_admin_it_does_not_start):
                net.clear_logs()
                try:
                    problems = fn(f, net)
                except Exception as e:  # a case that blows up is a failed case
                    problems = [f"{type(e).__name__}: {e}"]
                name = fn.__name__.replace("_", "-")
                print(("ok   " if not problems else "FAIL ") + name, flush=True)
                for pr in problems:
                    print("  " + str(pr).rstrip().replace("\n", "\n  "))
                results.append(not problems)
        finally:
            dk.close()
    failed = results.count(False)
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
