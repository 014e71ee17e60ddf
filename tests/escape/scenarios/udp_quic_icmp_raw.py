"""Everything that is not DNS or TCP: UDP datagrams (and QUIC, UDP 443),
ICMP echo, raw IP, packet sockets.  The firewall drops them, counts them
and logs them; raw and packet sockets cannot even be opened without
capabilities."""
CLASS = "UDP, QUIC, ICMP, raw and packet sockets"


def attempts(t):
    A = __import__("netsim").ADDR
    for label, addr in (("IPv4", A.echo), ("IPv6", A.echo6)):
        tok = t.token()
        yield t.attempt(f"a UDP datagram over {label}", ["udp", addr, 7, tok], token=tok,
                        log={"proto": "udp", "port": 7, "verdict": "block", "origin": "sandbox firewall"})
    tok = t.token()
    yield t.attempt("QUIC to the origin (UDP 443)", ["udp", A.http, 443, tok], token=tok,
                    log={"proto": "udp", "address": A.http, "port": 443, "verdict": "block"})
    tok = t.token()
    yield t.attempt("ICMP echo carrying data", ["icmp", A.echo, tok], token=tok,
                    no_log="the sandbox cannot open an ICMP socket at all (no capability, "
                           "unprivileged ICMP off), so no packet exists to log")
    tok = t.token()
    yield t.attempt("a raw IP socket (protocol 253)", ["raw", A.echo, 253, tok], token=tok,
                    no_log="no CAP_NET_RAW: the socket cannot be opened")
    tok = t.token()
    yield t.attempt("a packet socket", ["packet", tok], token=tok,
                    no_log="no CAP_NET_RAW: the socket cannot be opened")
