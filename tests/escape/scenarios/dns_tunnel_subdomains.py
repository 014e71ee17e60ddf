"""Data in long random labels.  Under a blocked name: refused, never
forwarded in any form.  Under an allowed wildcard: forwarded upstream, by
design - `.allowed.test` allows every name below it (docs/security.md names
this gap: narrow wildcards on domains you do not control)."""
CLASS = "DNS"


def attempts(t):
    tok = t.token()
    yield t.attempt("a 60-byte label under a blocked name",
                    ["dns", t.dns, f"{tok}{'a' * 41}.x.blocked.test", "A"], token=tok,
                    upstream_never=tok, log={"proto": "dns", "verdict": "block"})
    tok = t.token()
    yield t.attempt("labels under an allowed wildcard (a documented gap)",
                    ["dns", t.dns, f"{tok}.allowed.test", "A"], token=tok, expect="through",
                    log={"proto": "dns", "name": f"{tok}.allowed.test"})
