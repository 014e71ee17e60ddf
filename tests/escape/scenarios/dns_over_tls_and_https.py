"""DNS over TLS (853) and over HTTPS (443) to the resolver's address: TCP
flows like any other, decided by name; the resolver's address has no
allowed name, and the SNI a DoH client sends is refused."""
CLASS = "DNS"


def attempts(t):
    A = __import__("netsim").ADDR
    tok = t.token()
    yield t.attempt("DoT to the upstream resolver", ["tls", A.dns, 853, "-"], token=tok,
                    log={"proto": "tls", "address": A.dns, "port": 853, "verdict": "block"})
    yield t.attempt("DoH to the resolver's address", ["tls", A.dns, 443, "dns.resolver.example"],
                    log={"proto": "tls", "name": "dns.resolver.example", "verdict": "block"})
