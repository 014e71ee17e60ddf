"""Tiny DNS message helpers for tests: build queries byte by byte (including
broken ones) and read the parts of answers the tests look at."""
import struct


def name_wire(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def query(name, qtype=1, qid=0x1234, edns=None, flags=0x0100, qdcount=1, raw_name=None):
    """A query; edns=N adds an OPT record advertising N bytes."""
    ar = 1 if edns else 0
    msg = struct.pack("!6H", qid, flags, qdcount, 0, 0, ar)
    msg += (raw_name if raw_name is not None else name_wire(name)) + struct.pack("!HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack("!HHIH", 41, edns, 0, 0)
    return msg


class Answer:
    def __init__(self, msg: bytes):
        self.raw = msg
        (self.id, self.flags, self.qd, self.an, self.ns, self.ar) = struct.unpack("!6H", msg[:12])
        self.rcode = self.flags & 0xF
        self.tc = bool(self.flags & 0x0200)
        self.qr = bool(self.flags & 0x8000)
        # The question, as bytes, when there is one.
        self.question = b""
        i = 12
        if self.qd:
            while msg[i]:
                i += 1 + msg[i]
            self.question = msg[12 : i + 5]
            i += 5
        self.addresses = []
        for _ in range(self.an):
            # Owner: a pointer or labels.
            if msg[i] & 0xC0 == 0xC0:
                i += 2
            else:
                while msg[i]:
                    i += 1 + msg[i]
                i += 1
            rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i : i + 10])
            i += 10
            if rtype == 1:
                self.addresses.append(".".join(str(b) for b in msg[i : i + 4]))
            i += rdlen


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
