#!/usr/bin/env python3
"""airlock docker's errors when there is no usable daemon, and its option
checks, without dockerd.

Usage: test_docker_client.py AIRLOCK_BINARY

Each case runs the binary against a DOCKER_HOST it cannot use - a path with
no socket, a socket nobody answers on, one it may not open, a fake daemon
speaking an old API - and checks the exit status and that the message says
which it was and what to do.  Then `docker run`'s refusals, which happen
before the daemon is asked anything.

Prints "ok   NAME" or "FAIL NAME: why" a case, then "N passed, N failed".
"""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

BINARY = None


class Failure(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Failure(why)


def airlock(*args, host=None, user=None, state=None):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["LC_ALL"] = "C"
    env.pop("DOCKER_HOST", None)
    if host:
        env["DOCKER_HOST"] = host
    env["AIRLOCK_STATE_DIR"] = state or tempfile.gettempdir() + "/airlock-client-test-none"
    cmd = [BINARY, "docker", *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)


class FakeDaemon:
    """Answers every HTTP request on a unix socket with one JSON body."""

    def __init__(self, path, body):
        self.body = json.dumps(body).encode()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.stop = False
        self.requests = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            with c, contextlib.suppress(OSError):
                c.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if not data:
                    continue  # a connection that only probed
                self.requests.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(self.body)
                          + self.body)

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.srv.close()


def no_socket(tmp):
    p = airlock("ls", host=f"unix://{tmp}/absent.sock")
    check(p.returncode == 1, f"exit {p.returncode}")
    check("does not exist" in p.stderr and "start dockerd" in p.stderr, p.stderr)


def nobody_answers(tmp):
    path = f"{tmp}/dead.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nothing listens
    p = airlock("ls", host=f"unix://{path}")
    check(p.returncode == 1 and "no Docker daemon answers" in p.stderr, p.stderr)


def permission_denied(tmp):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return  # needs another user to be refused
    path = f"{tmp}/private.sock"
    fake = FakeDaemon(path, {"ApiVersion": "1.41", "MinAPIVersion": "1.12"})
    try:
        os.chmod(path, 0o600)
        os.chmod(tmp, 0o755)
        p = airlock("ls", host=f"unix://{path}", user=65534)
        check(p.returncode == 1, f"exit {p.returncode}: {p.stderr}")
        check("permission denied" in p.stderr and "docker" in p.stderr, p.stderr)
    finally:
        fake.close()


def api_too_old(tmp):
    path = f"{tmp}/old.sock"
    fake = FakeDaemon(path, {"ApiVersion": "1.30", "MinAPIVersion": "1.12"})
    try:
        p = airlock("ls", host=f"unix://{path}")
    finally:
        fake.close()
    check(p.returncode == 1, f"exit {p.returncode}")
    check("speaks API 1.30" in p.stderr and "1.41" in p.stderr, p.stderr)
    check(fake.requests and fake.requests[0].startswith("GET /version "), f"{fake.requests}")


def api_negotiated(tmp):
    # A newer daemon: requests use our highest version, as /v1.45/ paths.
    path = f"{tmp}/new.sock"
    fake = FakeDaemon(path, [])  # /version gets [] too: no ApiVersion
    try:
        p = airlock("ls", host=f"unix://{path}")
    finally:
        fake.close()
    check(p.returncode == 1 and "does not say which API" in p.stderr, p.stderr)
    fake = FakeDaemon(path + "2", {"ApiVersion": "1.50", "MinAPIVersion": "1.24"})
    state = tempfile.mkdtemp(prefix="airlock-client-test-")
    try:
        p = airlock("gc", "--grace", "0", host=f"unix://{path}2", state=state)
    finally:
        fake.close()
        shutil.rmtree(state, True)
    check(p.returncode == 0, f"{p.returncode} {p.stderr}")
    check(any(r.startswith("GET /v1.45/containers/json?all=1&filters=") for r in fake.requests),
          f"{fake.requests}")
    p = airlock("ls", host="tcp://127.0.0.1:2375")
    check(p.returncode == 1 and "only unix://" in p.stderr, p.stderr)


def run_refusals(tmp):
    host = f"unix://{tmp}/absent.sock"  # never reached: refused first
    for args, words in [
        (["--network", "host", "img"], "--network is refused"),
        (["--net=bridge", "img"], "--net is refused"),
        (["-it", "--dns", "1.1.1.1", "img"], "--dns is refused"),
        (["--privileged", "img"], "--privileged is refused"),
        (["-e", "A=1", "--pid=host", "img"], "--pid is refused"),
        (["--userns", "host", "img"], "--userns is refused"),
        (["--use-api-socket", "img"], "--use-api-socket is refused"),
        (["-d", "--name", "x", "img"], "give airlock's --name"),
        (["-d", "--rm"], "no IMAGE"),
        (["--name", "airlock-x", "img"], "airlock's own"),
        (["--name", "-bad", "img"], "letters, digits"),
        (["--profile", "nonexistent-profile", "img"], "nonexistent-profile"),
        (["--allow", "https://x/", "img"], "https://x/"),
        (["--upstream", "not-an-address", "img"], "expected an address"),
    ]:
        p = airlock("run", *args, host=host)
        check(p.returncode == 2, f"{args}: exit {p.returncode}: {p.stderr}")
        check(words in p.stderr, f"{args}: {p.stderr}")
    # Options after IMAGE belong to the command, not to docker.
    p = airlock("run", "-e", "X=1", "img", "--network", "host", host=host)
    check(p.returncode == 125 and "does not exist" in p.stderr, f"{p.returncode} {p.stderr}")


def usage(tmp):
    p = airlock("--help")
    check(p.returncode == 0 and "run [OPTIONS]" in p.stdout, p.stdout)
    p = airlock("nonsense")
    check(p.returncode == 2 and "no command 'nonsense'" in p.stderr, p.stderr)
    p = airlock("run", "--help")
    check(p.returncode == 0 and "Refused docker options" in p.stdout, p.stdout)
    p = airlock("allow", "only-a-name")
    check(p.returncode == 2, p.stderr)
    p = airlock("allow", "ghost", "x.test")
    check(p.returncode == 1 and "no sandbox named ghost" in p.stderr, p.stderr)


def healthcheck_without_gateway(tmp):
    p = subprocess.run([BINARY, "docker", "healthcheck", f"{tmp}/none.sock"],
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 1, f"exit {p.returncode}")


def main():
    global BINARY
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    results = []
    tmp = tempfile.mkdtemp(prefix="airlock-dkc-")
    try:
        for case in (no_socket, nobody_answers, permission_denied, api_too_old,
                     api_negotiated, run_refusals, usage, healthcheck_without_gateway):
            results.append(run(case.__name__, lambda: case(tmp)))
    finally:
        shutil.rmtree(tmp, True)
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
