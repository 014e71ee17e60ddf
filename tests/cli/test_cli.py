#!/usr/bin/env python3
"""The airlock command line, case by case.

Usage: test_cli.py AIRLOCK_BINARY SOURCE_ROOT
Each case runs airlock from SOURCE_ROOT with AIRLOCK_PROFILE_PATH pointing at
tests/data/profiles, and checks the exit status, then stdout against a golden
file (tests/golden/NAME.txt) or required fragments, and stderr fragments.
AIRLOCK_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ALLOW, BLOCK, USAGE = 0, 1, 2

# (name, args, exit status, checks)
# checks: golden=True compares stdout with tests/golden/NAME.txt;
# out=[...] / err=[...] are fragments that must appear; lines=[...] are
# (verdict, target, decided-by) triples for `check` output, in order.
CASES = [
    # The acceptance example from issue 2.
    ("check-strict-github", ["check", "--profile", "strict", "--allow", "*.github.com",
                             "api.github.com", "github.com", "notgithub.com",
                             "api.github.com.evil.test"], BLOCK, {"golden": True}),
    ("check-standard-dev-hosts", ["check", "--profile", "standard", "github.com",
                                  "api.github.com", "raw.githubusercontent.com", "gitlab.com",
                                  "bitbucket.org", "npmjs.org", "pypi.org",
                                  "files.pythonhosted.org", "crates.io", "proxy.golang.org",
                                  "rubygems.org", "repo.maven.apache.org", "api.nuget.org",
                                  "ghcr.io", "api.anthropic.com"], ALLOW, {}),
    ("check-standard-unknown", ["check", "--profile", "standard", "github.com",
                                "unknown-host.example"], BLOCK,
     {"lines": [("allow", "github.com", "rule .github.com"),
                ("block", "unknown-host.example", "default")]}),
    ("check-default-profile-is-standard", ["check", "pypi.org"], ALLOW,
     {"out": ["built-in standard.conf:"]}),
    ("check-airgapped", ["check", "--profile", "airgapped", "github.com", "127.0.0.1:53",
                         "[::1]:443"], BLOCK,
     {"lines": [("block", "github.com", "no network"), ("block", "127.0.0.1:53", "no network"),
                ("block", "[::1]:443", "no network")],
      "out": ["profile airgapped (network = none)"]}),
    ("check-airgapped-refuses-allow", ["check", "--profile", "airgapped", "--allow", "x.example",
                                       "x.example"], USAGE, {"err": ["network = none"]}),
    ("check-permissive", ["check", "--profile", "permissive", "anything.example",
                          "198.18.0.1:25", "[2001:2::1]:443"], ALLOW,
     {"lines": [("allow", "anything.example", "default"), ("allow", "198.18.0.1:25", "default"),
                ("allow", "[2001:2::1]:443", "default")]}),
    ("check-ports-and-cidrs", ["check", "--profile", "strict", "--allow", "git.example:22",
                               "--allow", "198.18.0.0/15:443", "--block", "198.18.1.0/24",
                               "git.example:22", "git.example:443", "git.example",
                               "198.18.0.9:443", "198.18.1.9:443"], BLOCK,
     {"lines": [("allow", "git.example:22", "rule git.example:22"),
                ("block", "git.example:443", "default"),
                ("allow", "git.example", "rule git.example:22"),
                ("allow", "198.18.0.9:443", "rule 198.18.0.0/15:443"),
                ("block", "198.18.1.9:443", "rule 198.18.1.0/24")]}),
    ("check-normalises-targets", ["check", "--profile", "strict", "--allow", ".example.com",
                                  "WWW.Example.COM.", "b\u00fccher.example.com"], ALLOW,
     {"lines": [("allow", "www.example.com", "rule .example.com"),
                ("allow", "xn--bcher-kva.example.com", "rule .example.com")]}),
    ("check-default-override", ["check", "--profile", "strict", "--default", "allow",
                                "--block", "*.tracker.example", "a.example", "x.tracker.example"],
     BLOCK, {"lines": [("allow", "a.example", "default"),
                       ("block", "x.tracker.example", "rule *.tracker.example")]}),
    ("check-json", ["check", "--json", "--profile", "strict", "--allow", "*.github.com",
                    "api.github.com:443", "github.com"], BLOCK, {"json": [
                        {"target": "api.github.com:443", "name": "api.github.com", "port": 443,
                         "verdict": "allow", "decided_by": "rule", "rule": "*.github.com",
                         "origin": "command line", "profile": "strict"},
                        {"target": "github.com", "verdict": "block", "decided_by": "default",
                         "rule": None, "profile": "strict"}]}),
    ("check-claude-settings", ["check", "--profile", "strict", "--claude-settings",
                               "tests/data/claude/settings.json", "docs.example.com",
                               "x.readthedocs.io", "tracker.example"], BLOCK,
     {"lines": [("allow", "docs.example.com", "rule docs.example.com"),
                ("allow", "x.readthedocs.io", "rule *.readthedocs.io"),
                ("block", "tracker.example", "rule tracker.example")],
      "out": ["Claude settings tests/data/claude/settings.json"]}),
    ("check-claude-tilde", ["check", "--profile", "strict", "--claude-settings",
                            "~/settings.json", "docs.example.com"], USAGE,
     {"err": ["cannot open /nonexistent/settings.json"]}),
    ("check-claude-malformed", ["check", "--claude-settings", "tests/data/claude/malformed.json",
                                "x.example"], USAGE,
     {"err": ["airlock check: tests/data/claude/malformed.json:4:", "invalid JSON"]}),
    ("check-allow-file", ["check", "--profile", "strict", "--allow-file",
                          "fuzz/corpus/rulelist/seed-1", "--block-file",
                          "fuzz/corpus/rulelist/seed-3", "ads.example", "sub.example.com"],
     BLOCK, {"lines": [("allow", "ads.example", "rule ads.example"),
                       ("block", "sub.example.com", "rule .example.com")],
             "out": ["fuzz/corpus/rulelist/seed-1:2", "fuzz/corpus/rulelist/seed-3:1"]}),
    ("check-user-profile", ["check", "--profile", "team", "ci.team.example", "gist.github.com",
                            "registry-1.docker.io"], BLOCK,
     {"lines": [("allow", "ci.team.example", "rule .team.example"),
                ("block", "gist.github.com", "rule gist.github.com"),
                ("block", "registry-1.docker.io", "default")]}),
    # Mistakes get a message that says what and where, and exit 2.
    ("check-bad-rule", ["check", "--allow", "bad..example", "x.example"], USAGE,
     {"err": ["airlock check: --allow bad..example: in rule 'bad..example': empty label"]}),
    ("check-url-rule", ["check", "--block", "https://x.example/a", "x.example"], USAGE,
     {"err": ["looks like a URL"]}),
    ("check-bad-target", ["check", "github.com", "exa mple.com"], USAGE,
     {"err": ["target 'exa mple.com'"]}),
    ("check-numeric-target", ["check", "2130706433"], USAGE, {"err": ["numeric IPv4"]}),
    ("check-unknown-profile", ["check", "--profile", "nope", "x.example"], USAGE,
     {"err": ["no profile named 'nope'", "airlock profiles"]}),
    ("check-bad-profile-file", ["check", "--profile", "tests/data/bad/bad-rule.conf",
                                "x.example"], USAGE,
     {"err": ["tests/data/bad/bad-rule.conf:6: "]}),
    ("check-bad-default", ["check", "--default", "deny", "x.example"], USAGE,
     {"err": ["expected allow or block"]}),
    ("check-no-target", ["check"], USAGE, {"err": ["no TARGET given"]}),
    ("check-help", ["check", "--help"], ALLOW,
     {"out": ["Usage: airlock check", "--profile", "--claude-settings", "Exit status"]}),
    ("help-check", ["help", "check"], ALLOW, {"out": ["Usage: airlock check"]}),
    # profiles
    ("profiles-list", ["profiles"], ALLOW, {"golden": True}),
    ("profiles-show-standard", ["profiles", "show", "standard"], ALLOW, {"golden": True}),
    ("profiles-show-team-open", ["profiles", "show", "team-open"], ALLOW, {"golden": True}),
    ("profiles-show-airgapped", ["profiles", "show", "airgapped"], ALLOW, {"golden": True}),
    ("profiles-show-missing", ["profiles", "show", "nope"], USAGE,
     {"err": ["no profile named 'nope'"]}),
    ("profiles-show-loop", ["profiles", "show", "loop-a"], USAGE, {"err": ["extends itself"]}),
    ("profiles-help", ["profiles", "--help"], ALLOW, {"out": ["airlock profiles show"]}),
    # gateway: option errors are caught before anything is bound
    ("gateway-nothing-to-serve", ["gateway", "--upstream", "127.0.0.1"], USAGE,
     {"err": ["nothing to serve: give --listen-dns ADDR"]}),
    ("gateway-asks-itself", ["gateway", "--listen-dns", "127.0.0.1:5399",
                             "--upstream", "127.0.0.1:5399"], USAGE,
     {"err": ["the gateway would ask itself"]}),
    ("gateway-bad-listen", ["gateway", "--listen-dns", "localhost:53"], USAGE,
     {"err": ["--listen-dns 'localhost:53': expected an address"]}),
    ("gateway-bad-refusal", ["gateway", "--listen-dns", "127.0.0.1:5399",
                             "--dns-refusal", "drop"], USAGE,
     {"err": ["--dns-refusal 'drop': expected nxdomain, refused or sinkhole"]}),
    ("gateway-bad-types", ["gateway", "--listen-dns", "127.0.0.1:5399",
                           "--dns-types", "A,BOGUS"], USAGE, {"err": ["'BOGUS' is not a DNS query type"]}),
    ("gateway-bad-timeout", ["gateway", "--listen-dns", "127.0.0.1:5399",
                             "--dns-timeout", "0"], USAGE,
     {"err": ["--dns-timeout '0': expected a number from 1 to 60000"]}),
    ("gateway-bad-profile", ["gateway", "--profile", "nope", "--listen-dns", "127.0.0.1:5399",
                             "--upstream", "127.0.0.1:5300"], USAGE,
     {"err": ["no profile named 'nope'"]}),
    ("gateway-extra-argument", ["gateway", "--listen-dns", "127.0.0.1:5399", "stray"], USAGE,
     {"err": ["unexpected argument 'stray'"]}),
    ("gateway-user-root", ["gateway", "--listen-dns", "127.0.0.1:5399", "--user", "0:0"], USAGE,
     {"err": ["--user '0:0': expected UID:GID (not root), e.g. 65532:65532"]}),
    ("gateway-user-no-gid", ["gateway", "--listen-dns", "127.0.0.1:5399", "--user", "1000:"],
     USAGE, {"err": ["--user '1000:': expected UID:GID (not root)"]}),
    ("gateway-user-signed-gid", ["gateway", "--listen-dns", "127.0.0.1:5399",
                                 "--user", "1000:-0"], USAGE,
     {"err": ["--user '1000:-0': expected UID:GID (not root)"]}),
    ("gateway-router-bad-address", ["gateway", "--listen-dns", "127.0.0.1:5399",
                                    "--router", "198.18.1"], USAGE,
     {"err": ["--router '198.18.1': expected an IPv4 address"]}),
    ("gateway-router-no-network", ["gateway", "--listen-dns", "127.0.0.1:5399",
                                   "--upstream", "127.0.0.1:5300", "--router", "203.0.113.1"],
     USAGE, {"err": ["--router: no interface is on a network holding 203.0.113.1"]}),
    ("gateway-router-no-transparent", ["gateway", "--listen-dns", "127.0.0.1:5399",
                                       "--upstream", "127.0.0.1:5300", "--router", "127.0.0.2"],
     USAGE, {"err": ["--router: no --listen-transparent on 127.0.0.1 (lo's address)"]}),
    ("gateway-bad-transparent", ["gateway", "--listen-transparent", "localhost:1"], USAGE,
     {"err": ["--listen-transparent 'localhost:1': expected an address, e.g. 127.0.0.1:3129"]}),
    ("gateway-bad-peek-timeout", ["gateway", "--listen-proxy", "127.0.0.1:3128",
                                  "--transparent-peek-timeout", "abc"], USAGE,
     {"err": ["--transparent-peek-timeout 'abc': expected a number from 1 to 600000"]}),
    ("gateway-bad-max-connections", ["gateway", "--listen-proxy", "127.0.0.1:3128",
                                     "--proxy-max-connections", "0"], USAGE,
     {"err": ["--proxy-max-connections '0': expected a number from 1 to 1000000"]}),
    ("gateway-help", ["gateway", "--help"], ALLOW,
     {"out": ["Usage: airlock gateway", "--listen-dns", "--listen-proxy", "--listen-transparent",
              "--control", "--dns-refusal"]}),
    # logs
    ("logs-sample", ["logs", "tests/data/logs/sample.log"], ALLOW,
     {"golden": True, "err": ["sample.log: line 4:", "1 malformed line(s) skipped"]}),
    ("logs-blocked-one-sandbox", ["logs", "--blocked", "--name", "build",
                                  "tests/data/logs/sample.log"], ALLOW, {"golden": True}),
    ("logs-json", ["logs", "--json", "--blocked", "--name", "agent",
                   "tests/data/logs/sample.log"], ALLOW,
     {"json": [{"name": "ads.example"}, {"name": "evil\u001b[31m.example"},
               {"event": "note"}, {"name": "db.rebind.test"}]}),
    ("logs-follow-needs-file", ["logs", "--follow", "-"], USAGE, {"err": ["--follow needs a file"]}),
    ("logs-missing-file", ["logs", "tests/data/logs/none.log"], USAGE,
     {"err": ["cannot open tests/data/logs/none.log"]}),
    ("logs-help", ["logs", "--help"], ALLOW, {"out": ["Usage: airlock logs", "--follow"]}),
    # run, and the named-sandbox commands (an empty state directory)
    ("run-no-command", ["run", "--profile", "strict"], 125,
     {"err": ["no command to run: airlock run [OPTIONS] -- COMMAND"]}),
    ("run-bad-profile", ["run", "--profile", "no-such-profile", "--", "true"], 125,
     {"err": ["no-such-profile"]}),
    ("run-bad-rule", ["run", "--allow", "*.*.x", "--", "true"], 125, {"err": ["*.*.x"]}),
    ("run-bad-upstream", ["run", "--upstream", "resolver.example", "--", "true"], 125,
     {"err": ["--upstream 'resolver.example': expected an address"]}),
    ("run-bad-ask-timeout", ["run", "--ask-timeout", "0", "--", "true"], 125,
     {"err": ["--ask-timeout '0': expected seconds, 1 to 3600"]}),
    ("run-hide-relative", ["run", "--hide", "tmp", "--", "true"], 125,
     {"err": ["--hide 'tmp': give an absolute path"]}),
    ("run-bad-name", ["run", "--name", "airlock-x", "--", "true"], 125,
     {"err": ["names starting with 'airlock-' are airlock's own"]}),
    ("run-help", ["run", "--help"], ALLOW,
     {"out": ["Usage: airlock run", "--ask", "--name", "airgapped", "125", "--hide"]}),
    ("allow-needs-name", ["allow", "x.example"], USAGE, {"err": ["give --name NAME"]}),
    ("allow-needs-rule", ["allow", "--name", "web"], USAGE, {"err": ["no rule given"]}),
    ("allow-unknown-sandbox", ["allow", "--name", "web", "x.example"], 1,
     {"err": ["no sandbox named web"]}),
    ("reset-takes-no-rule", ["reset", "--name", "web", "x.example"], USAGE,
     {"err": ["reset takes no rule"]}),
    ("rule-help", ["block", "--help"], ALLOW, {"out": ["airlock block --name NAME RULE"]}),
    ("ps-empty", ["ps"], ALLOW, {"out": ["NAME", "KIND", "PROFILE", "REFUSED"]}),
    ("ps-extra-argument", ["ps", "x"], USAGE, {"err": ["unexpected argument 'x'"]}),
    ("rm-usage", ["rm"], USAGE, {"err": ["Usage: airlock rm NAME"]}),
    ("rm-unknown", ["rm", "web"], 1, {"err": ["no sandbox named web"]}),
    ("pending-none", ["pending"], ALLOW, {"err": ["no question is open"]}),
    ("approve-needs-number", ["approve", "three"], USAGE, {"err": ["expected one question number"]}),
    ("approve-unknown", ["approve", "3"], 1, {"err": ["no open question 3"]}),
    ("deny-always", ["deny", "--always", "3"], USAGE, {"err": ["--always is for approve"]}),
    ("logs-unknown-sandbox", ["logs", "--name", "web"], USAGE, {"err": ["no sandbox named web"]}),
    # apply (--check changes nothing; errors before anything changes)
    ("apply-help", ["apply", "--help"], ALLOW,
     {"out": ["Usage: airlock apply", "--remove", "allowDockerNetworks", "immutableConfig"]}),
    ("apply-check", ["apply", "--check", "--config", "tests/data/apply/strict.conf"], ALLOW,
     {"out": ["# devcontainer: profile strict", "table inet airlock",
              "ip daddr { 10.0.0.0/8 } return", "tcp dport { 53, 3128, 3129 } accept",
              "log group 7"]}),
    ("apply-bad-key", ["apply", "--check", "--config", "tests/data/apply/bad-key.conf"], USAGE,
     {"err": ["tests/data/apply/bad-key.conf:2: unknown option 'allowedDomain'"]}),
    ("apply-bad-rule", ["apply", "--check", "--config", "tests/data/apply/bad-rule.conf"], USAGE,
     {"err": ["*.*.bad"]}),
    ("apply-no-user", ["apply", "--check", "--config", "tests/data/apply/no-user.conf"], USAGE,
     {"err": ["no user 'no-such-user-airlock' for the gateway"]}),
    ("apply-missing-config", ["apply", "--check", "--config", "tests/data/apply/none.conf"],
     USAGE, {"err": ["tests/data/apply/none.conf"]}),
    ("apply-check-and-remove", ["apply", "--check", "--remove"], USAGE,
     {"err": ["--check and --remove do not go together"]}),
    # compose render: the overlay, and every way the input can be wrong
    ("compose-render-project", ["compose", "render", "--profile", "strict", "--allow",
                                "allowed.test", "--block", "*.blocked.test", "--subnet",
                                "198.18.130.0/24", "--name", "proj", "-f",
                                "tests/data/compose/project.yml", "agent", "api"], ALLOW,
     {"golden": True, "err": ["note: network backend is made internal (compose keeps a "
                              "service's networks): no route out for db",
                              "note: network frontend is made internal"]}),
    ("compose-render-stdin", ["compose", "render", "--subnet", "10.9.0.0/24", "app"], ALLOW,
     {"stdin": "services:\n  app:\n    image: x\n",
      "out": ["# airlock compose render (airlock 0.", "app of stdin", "\"--profile\"\n      - "
              "\"standard\"", "  \"app\":\n    networks:\n      airlock-internal: {}\n"]}),
    ("compose-render-unknown-service", ["compose", "render", "--subnet", "10.9.0.0/24", "-f",
                                        "tests/data/compose/project.yml", "agent", "nope"], 1,
     {"err": ["airlock compose render: no service 'nope' in tests/data/compose/project.yml "
              "(it has: agent, api, db, web, cache)"]}),
    ("compose-render-unreadable", ["compose", "render", "--subnet", "10.9.0.0/24", "-f",
                                   "tests/data/compose/none.yml", "app"], 1,
     {"err": ["airlock compose render: cannot open tests/data/compose/none.yml: No such file"]}),
    ("compose-render-malformed", ["compose", "render", "--subnet", "10.9.0.0/24", "-f",
                                  "fuzz/corpus/compose/malformed.yml", "app"], 1,
     {"err": ["airlock compose render: fuzz/corpus/compose/malformed.yml:4:1: YAML: did not "
              "find expected ',' or ']' (while parsing a flow sequence at line 3, column 12)"]}),
    ("compose-render-not-compose", ["compose", "render", "--subnet", "10.9.0.0/24", "app"], 1,
     {"stdin": "- a\n- b\n", "err": ["stdin:1:1: not a compose file"]}),
    ("compose-render-empty-stdin", ["compose", "render", "--subnet", "10.9.0.0/24", "app"], 1,
     {"stdin": "", "err": ["stdin: empty"]}),
    ("compose-render-network-mode", ["compose", "render", "--subnet", "10.9.0.0/24", "-f",
                                     "tests/data/compose/refused.yml", "hostnet"], 1,
     {"err": ["refused.yml:2:3: service hostnet sets network_mode, which an overlay cannot "
              "undo"]}),
    ("compose-render-external", ["compose", "render", "--subnet", "10.9.0.0/24", "-f",
                                 "tests/data/compose/refused.yml", "outside"], 1,
     {"err": ["service outside is on the external network shared"]}),
    ("compose-render-no-service", ["compose", "render", "-f", "tests/data/compose/project.yml"],
     USAGE, {"err": ["no SERVICE given"]}),
    ("compose-render-bad-subnet", ["compose", "render", "--subnet", "10.0.0.0/8", "app"], USAGE,
     {"err": ["--subnet '10.0.0.0/8': expected an IPv4 subnet from /16 to /28"]}),
    ("compose-render-bad-rule", ["compose", "render", "--allow", "bad..example", "app"], USAGE,
     {"err": ["bad..example", "empty label"]}),
    ("compose-render-airgapped", ["compose", "render", "--profile", "airgapped", "--subnet",
                                  "10.9.0.0/24", "app"], USAGE,
     {"stdin": "services: {app: {}}\n", "err": ["has no network"]}),
    ("compose-render-needs-a-subnet", ["compose", "render", "app"], 1,
     {"stdin": "services: {app: {}}\n", "env": {"DOCKER_HOST": "unix:///nonexistent/d.sock"},
      "err": ["does not exist", "give --subnet CIDR to render without asking the daemon"]}),
    ("compose-unknown", ["compose", "up"], USAGE, {"err": ["no command 'up'"]}),
    ("compose-help", ["compose", "render", "--help"], ALLOW,
     {"out": ["Usage: airlock compose render", "--subnet", "docker compose -f"]}),
    # docker protect: usage errors come before anything is asked of Docker
    ("protect-no-container", ["docker", "protect"], USAGE,
     {"err": ["usage: airlock docker protect [OPTIONS] CONTAINER"]}),
    ("protect-two-gateways", ["docker", "protect", "--gateway", "198.18.0.1", "--sidecar",
                              "gw", "web"], USAGE, {"err": ["--gateway or --sidecar, not both"]}),
    ("protect-bad-gateway", ["docker", "protect", "--gateway", "gw.example", "web"], USAGE,
     {"err": ["--gateway 'gw.example': expected an IPv4 or IPv6 address"]}),
    ("protect-bad-port", ["docker", "protect", "--proxy-port", "70000", "web"], USAGE,
     {"err": ["--proxy-port '70000': expected a port"]}),
    ("protect-nothing-allowed", ["docker", "protect", "--proxy-port", "0", "--dns-port", "0",
                                 "web"], USAGE, {"err": ["leave nothing to reach"]}),
    ("protect-two-containers", ["docker", "protect", "a", "b"], USAGE,
     {"err": ["one CONTAINER at a time"]}),
    ("protect-unknown-option", ["docker", "protect", "--frob", "a"], USAGE,
     {"err": ["unknown option '--frob'"]}),
    ("unprotect-no-container", ["docker", "unprotect"], USAGE,
     {"err": ["usage: airlock docker unprotect CONTAINER"]}),
    ("protect-watch-takes-nothing", ["docker", "protect", "--watch", "web"], USAGE,
     {"err": ["--watch takes no container"]}),
    ("protect-help", ["docker", "protect", "--help"], ALLOW,
     {"out": ["Usage: airlock docker protect", "--gateway ADDR", "--watch", "restarted"]}),
    # doctor
    ("doctor-extra-argument", ["doctor", "x"], USAGE, {"err": ["unexpected argument 'x'"]}),
    ("doctor-help", ["doctor", "--help"], ALLOW, {"out": ["Usage: airlock doctor", "Exit status"]}),
    ("doctor-without-docker", ["doctor"], None,
     {"env": {"DOCKER_HOST": "unix:///nonexistent/d.sock"},
      "out": ["  user namespaces: ", "  nftables: ", "warn  docker: no Docker daemon", "doctor: "]}),
    # top level
    ("version", ["--version"], ALLOW, {"out": ["airlock 0."]}),
    ("help", ["--help"], ALLOW, {"out": ["check", "profiles"]}),
    ("unknown-command", ["frobnicate"], USAGE, {"err": ["no command 'frobnicate'"]}),
    ("no-command", [], USAGE, {"err": ["Usage: airlock"]}),
]


def run_case(binary, root, name, args, want_status, checks, update):
    env = dict(os.environ)
    env["AIRLOCK_PROFILE_PATH"] = os.path.join("tests", "data", "profiles")
    env["HOME"] = "/nonexistent"
    env["TZ"] = "UTC"
    env.pop("NO_COLOR", None)
    env.pop("XDG_CONFIG_HOME", None)
    env["AIRLOCK_STATE_DIR"] = STATE_DIR
    env.update(checks.get("env", {}))
    p = subprocess.run([binary] + args, cwd=root, env=env, capture_output=True, text=True,
                       timeout=30, input=checks.get("stdin", ""))
    problems = []
    if want_status is not None and p.returncode != want_status:
        problems.append(f"exit status {p.returncode}, want {want_status}")
    if checks.get("golden"):
        path = os.path.join(root, "tests", "golden", name + ".txt")
        if update:
            with open(path, "w") as f:
                f.write(p.stdout)
        else:
            with open(path) as f:
                want = f.read()
            if p.stdout != want:
                problems.append(f"stdout differs from tests/golden/{name}.txt:\n{p.stdout}")
    for frag in checks.get("out", []):
        if frag not in p.stdout:
            problems.append(f"stdout lacks {frag!r}")
    for frag in checks.get("err", []):
        if frag not in p.stderr:
            problems.append(f"stderr lacks {frag!r}")
    if "lines" in checks:
        got = [line.split() for line in p.stdout.splitlines()]
        want = checks["lines"]
        if len(got) != len(want):
            problems.append(f"{len(got)} lines, want {len(want)}")
        for g, (verdict, target, by) in zip(got, want):
            decided = " ".join(g[2:2 + len(by.split())])
            if g[0] != verdict or g[1] != target or decided != by:
                problems.append(f"line {' '.join(g)!r}, want {verdict} {target} {by}")
    if "json" in checks:
        rows = [json.loads(line) for line in p.stdout.splitlines()]
        if len(rows) != len(checks["json"]):
            problems.append(f"{len(rows)} JSON rows, want {len(checks['json'])}")
        for row, want in zip(rows, checks["json"]):
            for k, v in want.items():
                if row.get(k, "<absent>") != v:
                    problems.append(f"JSON {k}={row.get(k, '<absent>')!r}, want {v!r}")
    if problems:
        print(f"FAIL {name}: airlock {' '.join(args)}")
        for pr in problems:
            print(f"  {pr}")
        if p.stderr:
            print(f"  stderr: {p.stderr.strip()}")
        return False
    print(f"ok   {name}")
    return True


def checksrc_catches_violations(root):
    """The source checker finds each planted violation in its fixture."""
    p = subprocess.run([sys.executable, os.path.join(root, "scripts", "checksrc.py"),
                        os.path.join(root, "tests", "data", "checksrc")],
                       capture_output=True, text=True)
    want = ["bad.c:6: open() without O_CLOEXEC", "bad.c:7: socket() without SOCK_CLOEXEC",
            "bad.c:10: sprintf() is banned", "bad.c:12: fopen() mode needs",
            "bad.c:14: pipe() is banned", "checksrc: 5 finding(s)"]
    missing = [w for w in want if w not in p.stdout]
    ok = p.returncode == 1 and not missing
    print(("ok  " if ok else "FAIL") + " checksrc-selftest" +
          ("" if ok else f": exit {p.returncode}, missing {missing}\n{p.stdout}"))
    return ok


STATE_DIR = None  # an empty state directory, made in main()


def main():
    global STATE_DIR
    binary, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    STATE_DIR = tempfile.mkdtemp(prefix="airlock-cli-state-")
    update = os.environ.get("AIRLOCK_UPDATE_GOLDEN") == "1"
    results = [run_case(binary, root, *case, update) for case in CASES]
    results.append(checksrc_catches_violations(root))
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
