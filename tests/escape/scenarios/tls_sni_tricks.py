"""TLS whose first bytes disagree with where they go: a blocked name's SNI
to an allowed host's address, an allowed name's SNI to an address it does
not resolve to (domain fronting across policies), no SNI at all, and an
ECH-shaped ClientHello whose outer name is blocked."""
CLASS = "TLS"


def attempts(t):
    A = __import__("netsim").ADDR
    yield t.attempt("SNI blocked.test to the allowed origin's address",
                    ["tls", A.http, 443, "blocked.test"],
                    log={"proto": "tls", "name": "blocked.test", "verdict": "block"})
    yield t.attempt("SNI allowed.test to another host's address",
                    ["tls", A.echo, 443, "allowed.test"],
                    log={"proto": "tls", "name": "allowed.test", "address": A.echo, "verdict": "block"})
    yield t.attempt("no SNI to the echo host", ["tls", A.echo, 443, "-"],
                    log={"proto": "tls", "address": A.echo, "verdict": "block"})
    yield t.attempt("an ECH-shaped ClientHello with a blocked outer name",
                    ["tls", A.http, 443, "blocked.test", "ech"],
                    log={"proto": "tls", "name": "blocked.test", "verdict": "block"})
