#!/usr/bin/env python3
"""Sandboxes side by side: what it costs to start one, run a command that
reaches a site, and stop it.

Usage: bench/sandbox.py AIRLOCK_BINARY [RUNS]   (as root; default 20 runs a row)

In the simulated internet of tests/integration/netsim.py, from the namespace
that routes to it, each row runs one command RUNS times and reports the wall
time from the start to the end of the whole thing (median and 90th
percentile):

  - the kernel's floor: `unshare --user --net --mount --pid --fork true`
    (namespaces and nothing else; no network at all);
  - `airlock run -- true`, strict and airgapped: namespaces, the ruleset,
    the gateway's listeners, the log;
  - `airlock run -- curl https://allowed.test/`: the same plus a DNS query
    and an HTTPS fetch through the proxy;
  - `docker run --rm --network none IMAGE true` and `docker run --rm IMAGE
    curl ...` on a private dockerd (tests/docker/dockerd.py), when dockerd
    can start: the usual container, without airlock's policy;
  - `airlock docker run`: the same container behind airlock's sidecar, the
    whole sandbox made and removed each time (fewer runs: it is slow).

Then the memory airlock's own processes hold while a sandbox runs (the
supervisor with its gateway, the helper, init: RSS and PSS).

Bounded: every command has a timeout, and everything started is stopped.
Prints Markdown tables.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "docker"))
import netsim  # noqa: E402

A = netsim.ADDR


def timed(ns, cmd, env, timeout=60):
    """Wall time (s) of one run of cmd in namespace ns."""
    t0 = time.monotonic()
    p = subprocess.run(["nsenter", f"--net=/run/netns/{ns.name}", *cmd], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: "
                           f"{p.stderr.decode(errors='replace').strip()[:300]}")
    return time.monotonic() - t0


def row(name, ns, cmd, env, runs, cleanup=None):
    times = []
    try:
        for _ in range(runs):
            times.append(timed(ns, cmd, env))
            if cleanup:
                cleanup()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return f"| {name} | failed: {e} | |"
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    return f"| {name} | {statistics.median(times) * 1000:.0f} ms | {p90 * 1000:.0f} ms |"


def kib(pid, key):
    """A /proc/PID/status or smaps_rollup field, in KiB."""
    for f in ("status", "smaps_rollup"):
        try:
            with open(f"/proc/{pid}/{f}") as fh:
                for line in fh:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
    return 0


def memory(net, run, env):
    """RSS and PSS of the supervisor, the helper and init while a sandbox
    runs `sleep`."""
    p = subprocess.Popen(["nsenter", f"--net=/run/netns/{net.gateway.name}", *run, "--",
                          "sleep", "3"], env=env)
    try:
        time.sleep(1.5)
        sup = p.pid  # nsenter execs airlock
        helper = children(sup)
        init = [c for h in helper for c in children(h)]
        rows = []
        for what, pids in (("supervisor (gateway)", [sup]), ("helper", helper),
                           ("init", init)):
            rss = sum(kib(x, "VmRSS") for x in pids)
            pss = sum(kib(x, "Pss") for x in pids)
            rows.append(f"| {what} | {rss / 1024:.1f} MiB | {pss / 1024:.1f} MiB |")
        return rows
    finally:
        p.wait(timeout=10)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def main():
    if os.geteuid() != 0:
        print("bench/sandbox.py: needs root (it builds network namespaces)", file=sys.stderr)
        return 77
    airlock = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rows = []
    with netsim.Internet(forward=False) as net:
        env = netsim.clean_env()
        env["AIRLOCK_STATE_DIR"] = os.path.join(net.tmpdir, "state")
        curl = ["curl", "-sS", "-o", "/dev/null", "--max-time", "5", "--cacert", net.ca_file,
                "https://allowed.test/"]
        run = [airlock, "run", "-q", "--upstream", A.dns, "--name", "bench"]
        strict = ["--profile", "strict", "--allow", ".allowed.test"]
        gw = net.gateway
        rows.append(row("namespaces alone (`unshare -Unmp --fork true`)", gw,
                        ["unshare", "--user", "--net", "--mount", "--pid", "--fork", "true"],
                        env, runs))
        rows.append(row("`airlock run --profile strict -- true`", gw, run + strict + ["--", "true"],
                        env, runs))
        rows.append(row("`airlock run --profile airgapped -- true`", gw,
                        run + ["--profile", "airgapped", "--", "true"], env, runs))
        rows.append(row("`airlock run --profile strict -- curl https://allowed.test/`", gw,
                        run + strict + ["--"] + curl, env, runs))
        docker_rows(net, airlock, env, curl, runs, rows)
        mem = memory(net, run + strict, env)
    print("| sandbox | median | p90 |")
    print("|---|---|---|")
    for r in rows:
        print(r)
    print()
    print("| airlock run's processes, while the command runs | RSS | PSS |")
    print("|---|---|---|")
    for r in mem:
        print(r)
    print()
    print(f"{os.cpu_count()} cores, {os.uname().release}; {runs} runs a row "
          "(airlock docker run: a quarter of them); wall time from start to exit.")
    return 0


def docker_rows(net, airlock, env, curl, runs, rows):
    try:
        import dockerd
        import test_docker
    except ImportError as e:
        rows.append(f"| docker | not measured: {e} | |")
        return
    try:
        with dockerd.Daemon(net) as dk:
            p = dk.docker(["import", "-", test_docker.WORKLOAD_IMAGE],
                          input=test_docker.workload_tar(), text=False)
            if p.returncode:
                rows.append("| docker | not measured: docker import failed | |")
                return
            denv = dict(env, DOCKER_HOST=dk.host)
            img = test_docker.WORKLOAD_IMAGE
            ca = ["-v", f"{net.ca_file}:{net.ca_file}:ro"]
            rows.append(row("`docker run --rm --network none IMAGE true`", net.gateway,
                            ["docker", "run", "--rm", "--network", "none", img, "/bin/sh",
                             "-c", "true"], denv, runs))
            rows.append(row("`docker run --rm IMAGE curl https://allowed.test/` (no policy)",
                            net.gateway, ["docker", "run", "--rm", *ca, img] + curl, denv, runs))
            # airlock's own image, built once (not timed).
            b = net.gateway.run([airlock, "docker", "image", "build"], env=denv, timeout=120)
            if b.returncode:
                rows.append(f"| airlock docker run | not measured: {b.stderr.strip()} | |")
                return
            rm = lambda: net.gateway.run([airlock, "docker", "rm", "dbench"], env=denv,  # noqa
                                         timeout=60)
            rows.append(row("`airlock docker run --profile strict IMAGE curl ...` (sidecar "
                            "made and removed)", net.gateway,
                            [airlock, "docker", "run", "--name", "dbench", "--profile", "strict",
                             "--allow", ".allowed.test", "--upstream", A.dns, "--rm", *ca, img]
                            + curl, denv, max(2, runs // 4), cleanup=rm))
    except dockerd.Unavailable as e:
        rows.append(f"| docker | not measured: {e} | |")


if __name__ == "__main__":
    sys.exit(main())
