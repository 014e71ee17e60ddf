"""Names a real resolver would never send: a NUL byte in a label, a label
longer than 63 bytes, a compression pointer looping on itself, counts that
lie.  Answered FORMERR (or not at all), logged, never forwarded."""
CLASS = "DNS"


def attempts(t):
    tok = t.token()
    yield t.attempt("a NUL byte in a label", ["dns", t.dns, f"{tok}\\x00.allowed.test", "A"],
                    token=tok, upstream_never=tok, log={"proto": "dns", "verdict": "block"})
    tok = t.token()
    yield t.attempt("a 70-byte label", ["dns", t.dns, f"{tok}{'b' * 51}.allowed.test", "A"],
                    token=tok, upstream_never=tok, log={"proto": "dns", "verdict": "block"})
    # Header (ID 1234, RD, one question), then a name that is a pointer to itself.
    yield t.attempt("a compression loop", ["dnswire", t.dns, "123401000001000000000000c00c00010001"],
                    log={"proto": "dns", "verdict": "block"})
    yield t.attempt("a question count that lies",
                    ["dnswire", t.dns, "12340100000500000000000007616c6c6f7765640474657374000001000100"],
                    log={"proto": "dns", "verdict": "block"})
