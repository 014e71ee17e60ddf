"""A private Docker daemon inside the simulated internet, for tests.

    with netsim.Internet() as net, dockerd.Daemon(net) as dk:
        dk.api("GET", "/containers/json")      # parsed JSON
        dk.docker(["import", "-", "img:1"], input=tar_bytes)

starts Debian's dockerd in the `gateway` namespace of netsim (nsenter
--net: the same mount namespace, so /sys/fs/cgroup is the host's, which
dockerd needs), with its own --data-root, --exec-root, --pidfile, socket and
--config-file under a temporary directory (nothing of /etc/docker is read or
written).  Its bridges, NAT and iptables rules live in
that namespace only: docker0 is 198.18.64.1/24 and networks come from
198.18.128.0/17 (--default-address-pool), inside 198.18.0.0/15 and apart
from netsim's 198.18.0.0/24 and 198.18.1.0/24; the namespace's routes lead to
netsim's internet and nowhere else.  Containers resolve through netsim's DNS
server (--dns 198.18.0.10), never the host's resolver.  Nothing is pulled:
images are built locally (`docker import`).

Teardown (on leaving the `with`, or atexit): every container is removed,
dockerd gets SIGTERM (SIGKILL after 20 s), and every process left in our
process tree is killed by PID: this process is made a child subreaper
(PR_SET_CHILD_SUBREAPER), so containerd's shims, which detach from their
parent, are re-parented to it and found in its tree.  Mounts left under the
temporary directory are detached, and the directory is removed.

Daemon(...) raises Unavailable with the reason when dockerd cannot start
(not installed, not root, refused by the kernel): tests turn it into a skip
(exit 77).
"""
import contextlib
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import netsim

PR_SET_CHILD_SUBREAPER = 36
BIP = "198.18.64.1/24"
POOL = "base=198.18.128.0/17,size=24"
DNS = "198.18.0.10"


class Unavailable(Exception):
    pass


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def _children_of(pid):
    """Every process whose parent is pid, from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        for k in _children_of(todo.pop()):
            out.append(k)
            todo.append(k)
    return out


class Daemon:
    def __init__(self, net, start_timeout=60):
        self.net = net
        self.proc = None
        self.tmp = None
        self.start_timeout = start_timeout
        self._closed = False

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    # -- starting --

    def start(self):
        if os.geteuid() != 0:
            raise Unavailable("dockerd needs root")
        dockerd = shutil.which("dockerd")
        if not dockerd or not shutil.which("docker") or not shutil.which("containerd"):
            raise Unavailable("dockerd, containerd or docker not installed (apt-get install "
                              "docker.io)")
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1) != 0:
            raise Unavailable("cannot become a child subreaper")
        # Short: containerd's socket paths live under the exec root.
        self.tmp = tempfile.mkdtemp(prefix="aldk-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "docker.sock")
        self.host = "unix://" + self.sock
        ns = f"/run/netns/{self.net.gateway.name}"
        tag = f"airlock-test-{os.getpid()}"
        # Nothing of the host's: no /etc/docker/daemon.json, and (before
        # Docker 23, which dropped it) no /etc/docker/key.json.
        config = {}
        if self._major(dockerd) < 23:
            config["deprecated-key-path"] = os.path.join(self.tmp, "key.json")
        with open(os.path.join(self.tmp, "daemon.json"), "w") as f:
            json.dump(config, f)
        cmd = ["nsenter", f"--net={ns}", dockerd,
               "--config-file", os.path.join(self.tmp, "daemon.json"),
               "--data-root", os.path.join(self.tmp, "data"),
               "--exec-root", os.path.join(self.tmp, "exec"),
               "--pidfile", os.path.join(self.tmp, "docker.pid"),
               "-H", self.host,
               "--bip", BIP, "--default-address-pool", POOL, "--dns", DNS,
               "--iptables=true", "--ip-masq=true", "--userland-proxy=false",
               "--containerd-namespace", tag, "--containerd-plugins-namespace", tag + "-p",
               "--log-level", "warn"]
        self.log_path = os.path.join(self.tmp, "dockerd.log")
        with open(self.log_path, "wb") as log:
            # PR_SET_PDEATHSIG: a test runner killed outright takes dockerd along.
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=netsim._die_with_parent)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable(f"dockerd exited {self.proc.returncode}: {self._log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.api("GET", "/_ping", raw=True, timeout=2) == b"OK":
                    return
            time.sleep(0.2)
        raise Unavailable(f"dockerd did not answer in {self.start_timeout}s: {self._log_tail()}")

    @staticmethod
    def _major(dockerd):
        out = subprocess.run([dockerd, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
        m = re.search(r"version (\d+)\.", out)
        return int(m.group(1)) if m else 0

    def _log_tail(self):
        with contextlib.suppress(OSError):
            with open(self.log_path, errors="replace") as f:
                lines = [l for l in f.read().splitlines() if "level=error" in l or "failed" in l]
            return " | ".join(lines[-3:]) or "(no error in its log)"
        return "(no log)"

    # -- using --

    def env(self):
        """The environment for docker and airlock: this daemon, no proxies."""
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(DOCKER_HOST=self.host, LC_ALL="C")
        env.pop("DOCKER_CONTEXT", None)
        return env

    def api(self, method, path, body=None, raw=False, timeout=60):
        """One Engine API request; the parsed JSON answer (None if empty), or
        the bytes with raw=True.  Raises RuntimeError on a status >= 400."""
        conn = _UnixHTTP(self.sock, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            out = resp.read()
        finally:
            conn.close()
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {out[:300]!r}")
        if raw:
            return out
        return json.loads(out) if out.strip() else None

    def inspect(self, name):
        """docker inspect of a container, or None when there is none."""
        try:
            return self.api("GET", f"/containers/{name}/json")
        except RuntimeError as e:
            if "HTTP 404" in str(e):
                return None
            raise

    def docker(self, args, timeout=120, **kwargs):
        """The docker command against this daemon, output captured as text."""
        kwargs.setdefault("text", True)
        return subprocess.run(["docker", *args], env=self.env(), capture_output=True,
                              timeout=timeout, **kwargs)

    def netns(self, cmd, timeout=30):
        """A command in the daemon's network namespace (iptables, ip)."""
        return self.net.gateway.run(cmd, timeout=timeout)

    # -- tearing down --

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                for c in self.api("GET", "/containers/json?all=1", timeout=10) or []:
                    with contextlib.suppress(Exception):
                        self.api("DELETE", f"/containers/{c['Id']}?force=1&v=1", timeout=30)
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(5)
        # containerd, shims and anything they left: all in our tree, apart
        # from the simulated internet's own servers (netsim stops those).
        keep = set()
        for p in self.net.procs:
            keep |= {p.pid, *_descendants(p.pid)}
        for pid in reversed(_descendants(os.getpid())):
            if pid in keep:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in _children_of(os.getpid()):
            if pid not in keep:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, 0)
        if self.tmp:
            self._unmount_under(self.tmp)
            shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _unmount_under(root):
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        for p in sorted((p for p in points if p.startswith(root + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", p], capture_output=True, timeout=10)
