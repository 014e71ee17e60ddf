#!/usr/bin/env python3
"""An authoritative DNS server for the test zones, over UDP and TCP.

Usage: dns_server.py --zone ZONE.json --log QUERIES.jsonl --addr A [--addr B] [--port 53]

The zone is a JSON object, name -> entry (netsim.ZONE is the default one):
  {"A": [...], "AAAA": [...], "TXT": [...]}  the records
  {"CNAME": "target"}        followed (up to 8 links) through the zone
  "ttl": N                   default 300
  "tc": true                 over UDP: the TC bit and no records (TCP answers)
  "delay_ms": N              answers after N ms
  "garbage": "truncated"     five answers announced, half of one sent
  "garbage": "ptrloop"       an owner name that is a compression pointer to itself
  "drop": true               never answers
  "rcode": N                 that rcode and no records (2 = SERVFAIL)
A name "*.zone" matches any name below zone that has no entry of its own.
Names not in the zone get NXDOMAIN. A UDP answer larger than 512 bytes (or the
query's EDNS size) is truncated. Every query received, even a malformed one, is
logged before it is answered: {"name", "qtype", "transport", "client"}.
"""
import argparse
import json
import socket
import struct
import threading
import time

import common

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 41: "OPT", 64: "SVCB", 65: "HTTPS", 255: "ANY"}
A, CNAME, TXT, AAAA = 1, 5, 16, 28
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 2, 3, 4
MAX_PENDING = 256  # delayed UDP answers in flight
MAX_TCP = 64       # TCP connections at once


def type_name(t):
    return TYPES.get(t, f"TYPE{t}")


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("latin-1")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


class Query:
    """The parts of a query the answer needs. Raises ValueError on anything
    that is not a one-question query."""

    def __init__(self, msg):
        if len(msg) < 12:
            raise ValueError("short header")
        self.id, self.flags, qd, _, _, ar = struct.unpack("!6H", msg[:12])
        if self.flags & 0x8000 or qd != 1:
            raise ValueError("not a one-question query")
        i, labels = 12, []
        while True:
            if i >= len(msg) or i > 12 + 255:
                raise ValueError("bad question name")
            n = msg[i]
            if n == 0:
                i += 1
                break
            if n & 0xC0:
                raise ValueError("compressed question name")
            labels.append(msg[i + 1 : i + 1 + n].decode("latin-1"))
            i += 1 + n
        if i + 4 > len(msg):
            raise ValueError("short question")
        self.qtype, _ = struct.unpack("!HH", msg[i : i + 4])
        self.question = msg[12 : i + 4]  # echoed verbatim, case and all
        self.name = ".".join(labels).lower()
        self.edns = None
        rest = msg[i + 4 :]
        if ar and len(rest) >= 11 and rest[:3] == b"\0\0\x29":
            self.edns = max(512, struct.unpack("!H", rest[3:5])[0])


class Zone:
    def __init__(self, entries):
        self.entries = {k.lower().rstrip("."): v for k, v in entries.items()}

    def lookup(self, name):
        if name in self.entries:
            return self.entries[name]
        labels = name.split(".")
        for k in range(1, len(labels)):
            wild = "*." + ".".join(labels[k:])
            if wild in self.entries:
                return self.entries[wild]
        return None

    def resolve(self, name, qtype):
        """(rcode, [(owner, type, ttl, rdata)]) with CNAMEs followed."""
        records, owner = [], name
        for _ in range(8):
            entry = self.lookup(owner)
            if entry is None:
                return NXDOMAIN, records
            ttl = entry.get("ttl", 300)
            if "CNAME" in entry and qtype != CNAME:
                target = entry["CNAME"].lower().rstrip(".")
                records.append((owner, CNAME, ttl, name_wire(target)))
                owner = target
                continue
            for value in entry.get(type_name(qtype), []):
                if qtype == A:
                    rdata = socket.inet_pton(socket.AF_INET, value)
                elif qtype == AAAA:
                    rdata = socket.inet_pton(socket.AF_INET6, value)
                elif qtype == CNAME:
                    rdata = name_wire(value)
                elif qtype == TXT:
                    raw = value.encode()[:255]
                    rdata = bytes([len(raw)]) + raw
                else:
                    continue
                records.append((owner, qtype, ttl, rdata))
            return NOERROR, records
        return SERVFAIL, records


def header(q, rcode, an, ar, tc=False):
    flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | rcode
    if tc:
        flags |= 0x0200
    return struct.pack("!6H", q.id, flags, 1, an, 0, ar)


def garbage(q, kind):
    if kind == "ptrloop":
        # The answer's owner is a pointer to its own offset.
        here = 12 + len(q.question)
        rr = struct.pack("!H", 0xC000 | here) + struct.pack("!HHIH", A, 1, 300, 4) + bytes(4)
        return header(q, NOERROR, 1, 0) + q.question + rr
    # "truncated": five answers announced, the first cut after its type.
    return header(q, NOERROR, 5, 0) + q.question + b"\xc0\x0c\x00\x01\x00"


def answer(zone, q, transport):
    """The reply bytes, or None to stay silent."""
    entry = zone.lookup(q.name) or {}
    if entry.get("drop"):
        return None
    if "garbage" in entry:
        return garbage(q, entry["garbage"])
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0) if q.edns else b""
    ar = 1 if q.edns else 0
    if q.flags & 0x7800:
        return header(q, NOTIMP, 0, ar) + q.question + opt
    if "rcode" in entry:
        return header(q, entry["rcode"], 0, ar) + q.question + opt
    rcode, records = zone.resolve(q.name, q.qtype)
    body = b""
    for owner, rtype, ttl, rdata in records:
        own = b"\xc0\x0c" if owner == q.name else name_wire(owner)
        body += own + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
    msg = header(q, rcode, len(records), ar) + q.question + body + opt
    limit = q.edns or 512
    if transport == "udp" and (entry.get("tc") or len(msg) > limit):
        return header(q, rcode, 0, ar, tc=True) + q.question + opt
    return msg


class Server:
    def __init__(self, zone, log):
        self.zone, self.log = zone, log
        self.pending = common.Slots(MAX_PENDING)
        self.conns = common.Slots(MAX_TCP)

    def handle(self, msg, transport, client):
        """(reply or None, delay in seconds). Logs the query first."""
        try:
            q = Query(msg)
        except ValueError as e:
            self.log.write(name=None, qtype=None, transport=transport, client=client,
                           error=str(e))
            return None, 0
        self.log.write(name=q.name, qtype=type_name(q.qtype), transport=transport, client=client)
        entry = self.zone.lookup(q.name) or {}
        return answer(self.zone, q, transport), entry.get("delay_ms", 0) / 1000

    def serve_udp(self, sock):
        while True:
            msg, peer = sock.recvfrom(65535)
            reply, delay = self.handle(msg, "udp", peer[0])
            if reply is None:
                continue
            if not delay:
                sock.sendto(reply, peer)
            elif self.pending.take():
                t = threading.Timer(delay, self._send_later, (sock, reply, peer))
                t.daemon = True
                t.start()

    def _send_later(self, sock, reply, peer):
        try:
            sock.sendto(reply, peer)
        finally:
            self.pending.give()

    def serve_tcp(self, sock):
        while True:
            conn, peer = sock.accept()
            if not self.conns.take():
                conn.close()
                continue
            common.spawn(self.tcp_conn, conn, peer[0])

    def tcp_conn(self, conn, client):
        try:
            conn.settimeout(10)
            f = conn.makefile("rb")
            while True:
                head = f.read(2)
                if len(head) < 2:
                    return
                msg = f.read(struct.unpack("!H", head)[0])
                reply, delay = self.handle(msg, "tcp", client)
                if reply is None:
                    continue
                if delay:
                    time.sleep(delay)
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            conn.close()
            self.conns.give()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zone", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--port", type=int, default=53)
    args = ap.parse_args()
    with open(args.zone) as f:
        server = Server(Zone(json.load(f)), common.JsonLog(args.log))
    threads = []
    for addr in args.addr:
        udp = common.bind(addr, args.port, socket.SOCK_DGRAM)
        tcp = common.bind(addr, args.port, socket.SOCK_STREAM)
        threads += [(server.serve_udp, udp), (server.serve_tcp, tcp)]
    common.ready()
    for target, sock in threads:
        common.spawn(target, sock)
    threading.Event().wait()


if __name__ == "__main__":
    main()
