"""TXT, NULL, ANY and HTTPS queries for an allowed name: data-carrying
types are answered empty by the gateway, never asked upstream."""
CLASS = "DNS"


def attempts(t):
    for qtype in ("TXT", "NULL", "ANY", "HTTPS"):
        tok = t.token()
        yield t.attempt(f"a {qtype} query under an allowed name",
                        ["dns", t.dns, f"{tok}.allowed.test", qtype], token=tok, upstream_never=tok,
                        log={"proto": "dns", "qtype": qtype, "verdict": "block"})
