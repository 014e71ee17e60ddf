#!/usr/bin/env python3
"""Write the hand-made seeds of fuzz/corpus/nflog/ (the fuzz_nflog harness).

Usage: gen-nflog-corpus.py [DIR]   (default: fuzz/corpus/nflog)

Each seed is what one recv() on an NFLOG socket could return: netlink
messages of type (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET, an nfgenmsg, and
attributes as the kernel orders them, the last one NFULA_PAYLOAD holding the
first bytes of an IPv4 or IPv6 packet.  The kernel-* seeds are not written
here: they are messages read from a real NFLOG socket in a throwaway user and
network namespace behind the sandbox's ruleset, kept as they came.
"""
import os
import struct
import sys
import ipaddress

NFNL_SUBSYS_ULOG = 4
PACKET = NFNL_SUBSYS_ULOG << 8 | 0
CONFIG = NFNL_SUBSYS_ULOG << 8 | 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_MULTI = 2
AF_INET, AF_INET6 = 2, 10
(NFULA_PACKET_HDR, NFULA_MARK, NFULA_TIMESTAMP, NFULA_IFINDEX_INDEV,
 NFULA_IFINDEX_OUTDEV) = 1, 2, 3, 4, 5
NFULA_PAYLOAD, NFULA_PREFIX, NFULA_UID, NFULA_GID = 9, 10, 11, 14
TCP, UDP, ICMP, ICMPV6, GRE, SCTP, UDPLITE = 6, 17, 1, 58, 47, 132, 136
HOPOPTS, ROUTING, FRAGMENT, AH, DSTOPTS, NONE = 0, 43, 44, 51, 60, 59


def align(b, to=4):
    return b + b"\0" * (-len(b) % to)


def attr(kind, value):
    return align(struct.pack("=HH", 4 + len(value), kind) + value)


def message(kind, family, body, flags=0, padded=True):
    """A netlink message: header, nfgenmsg (group 7), then body."""
    payload = struct.pack(">BBH", family, 0, 7) + body
    msg = struct.pack("=IHHII", 16 + len(payload), kind, flags, 0, 0) + payload
    return align(msg) if padded else msg


def packet_msg(family, ip, flags=0, padded=True):
    hdr = struct.pack(">HBB", 0x0800 if family == AF_INET else 0x86DD, 3, 0)
    body = (attr(NFULA_PACKET_HDR, hdr) + attr(NFULA_PREFIX, b"drop\0") +
            attr(NFULA_IFINDEX_OUTDEV, struct.pack(">I", 1)) +
            attr(NFULA_UID, struct.pack(">I", 1000)) + attr(NFULA_GID, struct.pack(">I", 1000)))
    body += attr(NFULA_PAYLOAD, ip)
    return message(PACKET, family, body, flags, padded)


def ipv4(proto, src, dst, l4, frag=0, options=b""):
    hl = 20 + len(options)
    return (struct.pack(">BBHHHBBH4s4s", 0x40 | hl // 4, 0, hl + len(l4), 1, frag, 64, proto, 0,
                        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
            + options + l4)


def ipv6(next_header, src, dst, rest):
    return (struct.pack(">IHBB16s16s", 6 << 28, len(rest), next_header, 64,
                        ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)
            + rest)


def ports(src, dst, extra=b"\0" * 4):
    return struct.pack(">HH", src, dst) + extra


TCP_SYN = ports(50000, 443, struct.pack(">IIBBHHH", 1, 0, 0x50, 0x02, 64240, 0, 0))

SEEDS = {
    "udp-v4": packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "198.51.100.7", ports(40000, 9))),
    "tcp-v4-options": packet_msg(AF_INET, ipv4(TCP, "10.0.2.15", "203.0.113.9", TCP_SYN,
                                               options=b"\x01\x01\x01\x00" * 2)),
    "icmp-v4-echo": packet_msg(AF_INET, ipv4(ICMP, "10.0.2.15", "192.0.2.1",
                                             b"\x08\x00\xf7\xff\x00\x01\x00\x01")),
    "gre-v4": packet_msg(AF_INET, ipv4(GRE, "10.0.2.15", "192.0.2.1", b"\0\0\x08\0")),
    "sctp-v4": packet_msg(AF_INET, ipv4(SCTP, "10.0.2.15", "192.0.2.1", ports(5000, 3000))),
    "udplite-v4": packet_msg(AF_INET, ipv4(UDPLITE, "10.0.2.15", "192.0.2.1", ports(1, 2))),
    "v4-fragment-later": packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1",
                                                  ports(40000, 53), frag=0x2000 | 185)),
    "v4-truncated-19": packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1", b"")[:19]),
    "v4-ports-cut": packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1", b"\x9c\x40\x00")),
    "tcp-v6": packet_msg(AF_INET6, ipv6(TCP, "fd00::2", "2001:db8::7", TCP_SYN)),
    "icmpv6-echo": packet_msg(AF_INET6, ipv6(ICMPV6, "fd00::2", "2001:db8::7",
                                             b"\x80\x00\x00\x00\x00\x01\x00\x01")),
    # Hop-by-hop -> destination options (16) -> routing -> AH (24) -> UDP.
    "v6-extension-chain": packet_msg(AF_INET6, ipv6(
        HOPOPTS, "fd00::2", "2001:db8::7",
        bytes([DSTOPTS, 0]) + b"\x01\x04\0\0\0\0" +
        bytes([ROUTING, 1]) + b"\0" * 14 +
        bytes([AH, 0]) + b"\0" * 6 +
        bytes([UDP, 4]) + b"\0" * 22 + ports(40000, 9))),
    "v6-fragment-first": packet_msg(AF_INET6, ipv6(
        FRAGMENT, "fd00::2", "2001:db8::7",
        bytes([UDP, 0]) + struct.pack(">HI", 1, 0x1234) + ports(40000, 53))),
    "v6-fragment-later": packet_msg(AF_INET6, ipv6(
        FRAGMENT, "fd00::2", "2001:db8::7",
        bytes([UDP, 0]) + struct.pack(">HI", 181 << 3 | 1, 0x1234) + ports(40000, 53))),
    "v6-no-next-header": packet_msg(AF_INET6, ipv6(NONE, "fd00::2", "2001:db8::7", b"x" * 8)),
    "v6-long-chain": packet_msg(AF_INET6, ipv6(
        DSTOPTS, "fd00::2", "2001:db8::7",
        b"".join(bytes([DSTOPTS if i < 10 else UDP, 0]) + b"\0" * 6 for i in range(11))
        + ports(1, 2))),
    # Three packets and the end of a batch, as the kernel sends a batch.
    "batch-done": (packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "198.51.100.7", ports(1, 9)),
                              NLM_F_MULTI) +
                   packet_msg(AF_INET6, ipv6(TCP, "::1", "2001:db8::1", TCP_SYN), NLM_F_MULTI) +
                   packet_msg(AF_INET, ipv4(ICMP, "10.0.2.15", "192.0.2.1", b"\x03\x03"),
                              NLM_F_MULTI) +
                   struct.pack("=IHHIIi", 20, NLMSG_DONE, NLM_F_MULTI, 0, 0, 0)),
    # Not packets: an ack, a config message, then one packet.
    "ack-config-packet": (struct.pack("=IHHIIi", 36, NLMSG_ERROR, 0, 1, 0, 0) + b"\0" * 16 +
                          message(CONFIG, AF_INET, attr(NFULA_PAYLOAD, b"\x45" + b"\0" * 19)) +
                          packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1",
                                                   ports(2, 3)))),
    # An attribute shorter than its own header, then a good message.
    "bad-nla-len": (message(PACKET, AF_INET, struct.pack("=HH", 2, NFULA_PAYLOAD) + b"\0" * 24) +
                    packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1", ports(2, 3)))),
    # A message that claims more than the buffer holds.
    "bad-nlmsg-len": (packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1", ports(2, 3))) +
                      struct.pack("=IHHII", 4096, PACKET, 0, 0, 0) + b"\x02\0\0\x07"),
    # The last message without its trailing padding.
    "unpadded-last": (packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1", ports(2, 3))) +
                      packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1", ports(2, 3))[:25],
                                 padded=False)),
    # IPv4 header length 16 (ihl 4): not a packet.
    "v4-bad-ihl": packet_msg(AF_INET, b"\x44" + ipv4(UDP, "10.0.2.15", "192.0.2.1",
                                                       ports(1, 2))[1:]),
    # Extension headers cut by the copy: hop-by-hop, fragment and AH headers
    # shorter than their fixed part, and a hop-by-hop longer than the packet.
    "v6-cut-headers": b"".join(packet_msg(AF_INET6, ipv6(nh, "fd00::2", "2001:db8::7", rest))
                               for nh, rest in ((HOPOPTS, bytes([UDP])),
                                                (FRAGMENT, bytes([UDP, 0, 0, 8, 0, 0])),
                                                (AH, bytes([UDP])),
                                                (HOPOPTS, bytes([UDP, 255]) + b"\0" * 14))),
    # Packet messages that are not packets: a body shorter than an nfgenmsg,
    # a family that is neither IPv4 nor IPv6, no payload attribute; then one.
    "odd-packet-messages": (struct.pack("=IHHII", 18, PACKET, 0, 0, 0) + b"\x02\0\0\0" +
                            message(PACKET, 7, attr(NFULA_PAYLOAD, ipv4(UDP, "10.0.2.15",
                                                                        "192.0.2.1",
                                                                        ports(1, 2)))) +
                            message(PACKET, AF_INET, attr(NFULA_PREFIX, b"drop\0")) +
                            packet_msg(AF_INET, ipv4(UDP, "10.0.2.15", "192.0.2.1",
                                                     ports(2, 3)))),
    # The family of the message and the version of the packet disagree.
    "family-mismatch": packet_msg(AF_INET6, ipv4(UDP, "10.0.2.15", "192.0.2.1", ports(1, 2)) +
                                  b"\0" * 20),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus", "nflog")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"gen-nflog-corpus: {len(SEEDS)} seeds in {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
