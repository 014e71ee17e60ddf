"""DNS to resolvers other than the sandbox's: another address, TCP, the
real upstream directly.  Every port-53 packet goes to the gateway, which
answers by the policy and never asks upstream about a refused name."""
CLASS = "DNS"


def attempts(t):
    A = __import__("netsim").ADDR
    for label, server, extra in (("to another resolver's address", A.echo, []),
                                 ("over TCP to an address nobody serves", "198.18.0.99", ["tcp"]),
                                 ("to the real upstream directly", A.dns, []),
                                 ("over IPv6 to another address", "[2001:2::99]", [])):
        tok = t.token()
        yield t.attempt(f"a query {label}", ["dns", server, f"{tok}.blocked.test", "A", *extra],
                        token=tok, upstream_never=tok,
                        log={"proto": "dns", "name": f"{tok}.blocked.test", "verdict": "block"})
