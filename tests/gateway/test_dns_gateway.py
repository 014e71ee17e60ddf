#!/usr/bin/env python3
"""The DNS side of `airlock gateway`, end to end on loopback.

Usage: test_dns_gateway.py AIRLOCK_BINARY
Starts the real binary against a stub upstream resolver (stub_resolver.py),
speaks DNS to it over UDP and TCP - well-formed and not - and checks the
answers, what reached upstream (refused names must never get there), and
the audit log.  Everything stays on 127.0.0.1; every process is stopped.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsmsg import RCODES, Answer, query  # noqa: E402
from stub_resolver import StubResolver  # noqa: E402


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t.bind(("127.0.0.1", port))
        return port


class Gateway:
    def __init__(self, binary, upstream_port, tmp, *extra):
        self.port = free_port()
        self.log = os.path.join(tmp, "audit.log")
        self.err = open(os.path.join(tmp, "stderr"), "w+")
        self.proc = subprocess.Popen(
            [binary, "gateway", "--profile", "strict", "--allow", ".allowed.test",
             "--allow", ".rebind.test", "--listen-dns", f"127.0.0.1:{self.port}",
             "--upstream", f"127.0.0.1:{upstream_port}", "--dns-timeout", "200",
             "--log", self.log, "--name", "t1", *extra],
            stderr=self.err)
        # Ready when it answers.
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.udp(query("ready.blocked.example"), timeout=0.2):
                return
        raise RuntimeError("gateway did not start: " + self.stderr())

    def udp(self, msg, timeout=2.0):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(msg, ("127.0.0.1", self.port))
            try:
                return Answer(s.recv(65535))
            except socket.timeout:
                return None

    def tcp(self, msg, timeout=3.0, raw=False):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(msg if raw else struct.pack("!H", len(msg)) + msg)
            data = b""
            try:
                while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                    chunk = s.recv(65535)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                return None
            return Answer(data[2:]) if len(data) > 2 else None

    def records(self):
        time.sleep(0.15)  # the writer thread
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# ---- cases: each takes (gateway, stub) ---------------------------------------

def allowed_name_answered(gw, stub):
    a = gw.udp(query("www.allowed.test", qid=0xBEEF))
    check(a and a.rcode == 0 and a.addresses == ["198.18.0.20"], f"answer {a and vars(a)}")
    check(a.id == 0xBEEF, "client ID kept")
    rec = [r for r in gw.records() if r.get("name") == "www.allowed.test"][-1]
    check(rec["verdict"] == "allow" and rec["rule"] == ".allowed.test"
          and rec["address"] == "198.18.0.20" and rec["sandbox"] == "t1", f"log {rec}")


def question_spelling_kept(gw, stub):
    q = query("WwW.AlLoWeD.TeSt")
    a = gw.udp(q)
    check(a and a.rcode == 0, "answered")
    check(a.question == q[12:], f"question echoed byte for byte: {a.question!r}")
    # Upstream was asked the canonical name, not the client's bytes.
    check(("www.allowed.test", 1, "udp") in stub.questions, f"upstream saw {stub.questions}")


def blocked_name_never_leaves(gw, stub):
    for name, qtype in [("blocked.test", 1), ("secret.blocked.test", 28),
                        ("tunnel.blocked.test", 16)]:
        a = gw.udp(query(name, qtype=qtype))
        check(a and RCODES[a.rcode] == "NXDOMAIN", f"{name}: {a and RCODES[a.rcode]}")
    check(not any("blocked" in n for n in stub.names_seen()), f"leaked: {stub.names_seen()}")
    rec = [r for r in gw.records() if r.get("name") == "blocked.test"][-1]
    check(rec["verdict"] == "block" and rec["origin"] == "default", f"log {rec}")


def rebinding_refused(gw, stub):
    a = gw.udp(query("db.rebind.test"))
    check(a and RCODES[a.rcode] == "NXDOMAIN" and not a.addresses, "rebinding answer refused")
    rec = [r for r in gw.records() if r.get("name") == "db.rebind.test"][-1]
    check(rec["verdict"] == "block" and "rebinding" in rec.get("detail", "")
          and "10.0.0.5" in rec["detail"], f"log {rec}")


def data_types_answered_empty(gw, stub):
    for qtype in (16, 10, 65, 64, 255):  # TXT NULL HTTPS SVCB ANY
        a = gw.udp(query("www.allowed.test", qtype=qtype))
        check(a and a.rcode == 0 and a.an == 0, f"type {qtype}: {a and vars(a)}")
    check(not [q for q in stub.questions if q[1] != 1 and q[1] != 28],
          f"non-address types reached upstream: {stub.questions}")


def answers_cached_for_their_ttl(gw, stub):
    before = len(stub.questions)
    a1 = gw.udp(query("cached.allowed.test"))
    time.sleep(1.1)
    a2 = gw.udp(query("cached.allowed.test", qid=99))
    check(a1 and a2 and a2.rcode == 0 and a2.id == 99 and a2.addresses == ["198.18.0.20"],
          "second answer")
    asked = [q for q in stub.questions[before:] if q[0] == "cached.allowed.test"]
    check(len(asked) == 1, f"asked upstream once: {asked}")
    ttl = struct.unpack("!I", a2.raw[-10:-6])[0]
    check(ttl == 299, f"TTL aged by a second: {ttl}")
    rec = [r for r in gw.records() if r.get("name") == "cached.allowed.test"][-1]
    check("cached" in rec.get("detail", "") and rec["verdict"] == "allow", f"log {rec}")


def tcp_query(gw, stub):
    a = gw.tcp(query("tcp.allowed.test", qid=7))
    check(a and a.rcode == 0 and a.addresses == ["198.18.0.20"] and a.id == 7, "TCP answer")
    a = gw.tcp(query("blocked.test"))
    check(a and RCODES[a.rcode] == "NXDOMAIN", "TCP refusal")


def big_answer_truncated_for_udp(gw, stub):
    a = gw.udp(query("big.allowed.test"))
    check(a and a.tc and a.an == 0, f"UDP client told to retry over TCP: {a and vars(a)}")
    # The gateway itself went to TCP upstream when upstream truncated.
    check(("big.allowed.test", 1, "tcp") in stub.questions, f"upstream TCP: {stub.questions}")
    a = gw.tcp(query("big.allowed.test"))
    check(a and len(a.addresses) == 40, f"all records over TCP: {a and len(a.addresses)}")
    a = gw.udp(query("big.allowed.test", edns=1232))
    check(a and not a.tc and len(a.addresses) == 40, "an EDNS client takes it over UDP")


def silent_upstream_servfail(gw, stub):
    t = time.time()
    a = gw.udp(query("slow.allowed.test"), timeout=5)
    check(a and RCODES[a.rcode] == "SERVFAIL", f"SERVFAIL: {a and RCODES[a.rcode]}")
    check(time.time() - t < 3, "after 3 tries of 200 ms")
    rec = [r for r in gw.records() if r.get("name") == "slow.allowed.test"][-1]
    check("timed out" in rec.get("detail", ""), f"log {rec}")


def malformed_battery(gw, stub):
    loop = bytes.fromhex("1234 0100 0001 0000 0000 0000".replace(" ", "")) + b"\xc0\x0c" + b"\0\1\0\1"
    cases = {
        "one byte": b"\x12",
        "header only": bytes.fromhex("123401000001000000000000"),
        "truncated question": query("www.allowed.test")[:20],
        "compression loop": loop,
        "two questions": query("www.allowed.test", qdcount=2),
        "64-byte label": query("", raw_name=b"\x40" + b"a" * 64 + b"\x04test\0"),
        "NUL in label": query("", raw_name=b"\x03a\0b\x04test\0"),
        "counts past the data": query("www.allowed.test")[:10] + b"\0\5" + query("www.allowed.test")[12:],
        "trailing garbage": query("www.allowed.test") + b"\xff" * 8,
        "random bytes": bytes(range(256)) * 2,
    }
    for what, msg in cases.items():
        a = gw.udp(msg, timeout=0.5)
        check(a is None or a.rcode in (1, 3, 5), f"{what}: {a and RCODES.get(a.rcode)}")
    # Responses are never answered (no reflection loops).
    resp = bytearray(query("www.allowed.test"))
    resp[2] |= 0x80
    check(gw.udp(bytes(resp), timeout=0.5) is None, "a response got an answer")
    # A 64 KiB TCP message of zeros (QDCOUNT 0: FORMERR), and a zero-length one.
    a = gw.tcp(b"\xff\xff" + b"\0" * 65535, raw=True)
    check(a and RCODES[a.rcode] == "FORMERR", f"64 KiB junk over TCP: {a and vars(a)}")
    check(gw.tcp(b"\0\0", raw=True) is None, "zero-length TCP message closes")
    check(gw.alive(), "gateway still running")
    a = gw.udp(query("after.allowed.test"))
    check(a and a.rcode == 0, "still serving after the battery")
    recs = [r for r in gw.records() if r.get("detail") in ("malformed query", "not exactly one question")]
    check(len(recs) >= 4, f"malformed queries logged: {len(recs)}")


def reload_keeps_good_policy(gw, stub, rules_file):
    a = gw.udp(query("new.example"))
    check(a and RCODES[a.rcode] == "NXDOMAIN", "not yet allowed")
    with open(rules_file, "w") as f:
        f.write("new.example\n")
    before = len([q for q in stub.questions if q[0] == "cached.allowed.test"])
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    a = gw.udp(query("new.example"))
    check(a and a.rcode == 0, f"allowed after reload: {a and RCODES[a.rcode]}")
    # A new snapshot empties the cache: answers are vetted again.
    gw.udp(query("cached.allowed.test"))
    after = len([q for q in stub.questions if q[0] == "cached.allowed.test"])
    check(after == before + 1, "cache emptied by the reload")
    with open(rules_file, "w") as f:
        f.write("https://broken/\n")
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    a = gw.udp(query("new.example"))
    check(a and a.rcode == 0, "a broken reload keeps the policy that was working")
    notes = [r for r in gw.records() if r["event"] == "note"]
    check(any("reload failed" in n.get("detail", "") and "looks like a URL" in n["detail"]
              for n in notes), f"notes {notes}")
    check("reload failed" in gw.stderr(), "said on stderr too")


def control(path, request):
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(3)
        s.connect(path)
        s.send(request.encode())
        return s.recv(65536).decode()


def control_socket_changes_rules_live(gw, stub, path, rules_file):
    check(oct(os.stat(path).st_mode & 0o777) == "0o600", "socket is owner-only")
    # The reload case left a broken rule file: a change needs a policy that
    # loads, and says why it cannot apply.
    reply = control(path, "allow live.example")
    check(reply.startswith("error:") and "looks like a URL" in reply, f"refused: {reply}")
    with open(rules_file, "w") as f:
        f.write("new.example\n")
    check(RCODES[gw.udp(query("live.example")).rcode] == "NXDOMAIN", "not yet allowed")
    check(control(path, "allow live.example") == "ok\nallowed live.example", "allow")
    check(gw.udp(query("live.example")).rcode == 0, "allowed at once, no restart")
    # A runtime block beats the profile's allow on the same name.
    check(control(path, "block .allowed.test").startswith("ok"), "block")
    check(RCODES[gw.udp(query("x.allowed.test")).rcode] == "NXDOMAIN", "blocked at once")
    status = control(path, "status")
    check("runtime rules 2" in status and "allow live.example" in status
          and "block .allowed.test" in status, f"status: {status}")
    # Runtime rules survive a reload.
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    check(gw.udp(query("live.example")).rcode == 0, "kept across SIGHUP")
    check(control(path, "unallow .allowed.test") == "ok\nremoved .allowed.test", "unallow")
    check(gw.udp(query("y.allowed.test")).rcode == 0, "the profile's rule is back")
    check(control(path, "unallow nothing.example").startswith("error: nothing.example is not"),
          "unallow of an unknown rule")
    check(control(path, "allow https://x/").startswith("error:") , "bad rule refused")
    check(control(path, "frobnicate").startswith("error: unknown command"), "unknown command")
    check(control(path, "reset") == "ok\n1 runtime rules removed", "reset")
    check(RCODES[gw.udp(query("live.example")).rcode] == "NXDOMAIN", "reset applied")
    recs = [r for r in gw.records() if r.get("proto") == "control"]
    check([r["detail"] for r in recs] == ["allow", "block", "unallow", "reset"],
          f"control records {[r.get('detail') for r in recs]}")


def rate_limit(binary, stub, tmp):
    gw = Gateway(binary, stub.port, tmp, "--dns-rate", "5")
    try:
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for i in range(40):
                s.sendto(query(f"r{i}.blocked.example", qid=i), ("127.0.0.1", gw.port))
            try:
                while True:
                    s.recv(512)
                    answered += 1
            except socket.timeout:
                pass
        check(0 < answered <= 12, f"answered {answered} of 40 at 5/s, burst 10")
        notes = [r for r in gw.records() if "rate limit" in r.get("detail", "")]
        check(len(notes) == 1, f"one note for the flood, got {len(notes)}")
    finally:
        gw.stop()


def main():
    binary = os.path.abspath(sys.argv[1])
    results = []
    stub = StubResolver()
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "extra-rules")
        open(rules, "w").close()
        sock = os.path.join(tmp, "control")
        gw = Gateway(binary, stub.port, tmp, "--allow-file", rules, "--control", sock)
        try:
            for case in [allowed_name_answered, question_spelling_kept, blocked_name_never_leaves,
                         rebinding_refused, data_types_answered_empty,
                         answers_cached_for_their_ttl, tcp_query,
                         big_answer_truncated_for_udp, silent_upstream_servfail,
                         malformed_battery]:
                results.append(run(case.__name__, lambda: case(gw, stub)))
            results.append(run("reload_keeps_good_policy",
                               lambda: reload_keeps_good_policy(gw, stub, rules)))
            results.append(run("control_socket_changes_rules_live",
                               lambda: control_socket_changes_rules_live(gw, stub, sock, rules)))
        finally:
            gw.stop()
        with tempfile.TemporaryDirectory() as tmp2:
            results.append(run("rate_limit", lambda: rate_limit(binary, stub, tmp2)))
    stub.close()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run(name, fn):
    try:
        fn()
        print(f"ok   {name}")
        return True
    except Exception as e:  # noqa: BLE001 - report any failure as the case's
        print(f"FAIL {name}: {e}")
        return False


if __name__ == "__main__":
    sys.exit(main())
