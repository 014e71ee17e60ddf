"""An allowed name that answers loopback: refused by the answer check, in
DNS and through the proxy (which resolves for itself)."""
CLASS = "DNS rebinding"


def attempts(t):
    yield t.attempt("an allowed name answering 127.0.0.1", ["dns", t.dns, "rebind.allowed.test", "A"],
                    log={"proto": "dns", "name": "rebind.allowed.test", "verdict": "block"})
    yield t.attempt("CONNECT to it through the proxy",
                    ["connect", t.proxy, 3128, "rebind.allowed.test:443"],
                    log={"proto": "connect", "name": "rebind.allowed.test", "verdict": "block"})
