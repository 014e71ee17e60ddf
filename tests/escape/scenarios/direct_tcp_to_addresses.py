"""Direct TCP to addresses: an origin's, the upstream resolver's, the
host's, over IPv4, IPv6 and IPv4-mapped IPv6.  No name travels with these
connections, so only a CIDR rule could let them through (none does), and
a Host header naming a blocked host is refused by that name."""
CLASS = "direct IP connections"


def attempts(t):
    A = __import__("netsim").ADDR
    for label, addr in (("IPv4", A.echo), ("IPv6", A.echo6), ("IPv4-mapped IPv6", "::ffff:" + A.echo)):
        tok = t.token()
        yield t.attempt(f"raw TCP to the echo host over {label}", ["tcp", addr, 7, tok], token=tok,
                        log={"proto": "tcp", "port": 7, "verdict": "block"})
    tok = t.token()
    yield t.attempt("HTTP to the origin's address naming a blocked host",
                    ["tcp", A.http, 80, f"GET /{tok} HTTP/1.1\\r\\nHost: blocked.test\\r\\n\\r\\n"],
                    token=tok, log={"proto": "http", "name": "blocked.test", "verdict": "block"})
    tok = t.token()
    yield t.attempt("TCP to the upstream resolver on port 80", ["tcp", A.dns, 80, tok], token=tok,
                    log={"proto": "tcp", "address": A.dns, "port": 80, "verdict": "block"})
    tok = t.token()
    yield t.attempt("TCP to the host's own uplink address", ["tcp", A.router, 22, tok], token=tok,
                    log={"proto": "tcp", "address": A.router, "port": 22, "verdict": "block"})
