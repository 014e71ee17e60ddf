"""Spellings of a blocked name - upper case, a trailing dot - and a
punycode homograph of an allowed one: one canonical form decides, so the
blocked stays blocked and the look-alike is another, refused, name."""
CLASS = "DNS"


def attempts(t):
    yield t.attempt("BLOCKED.TEST. in capitals with a trailing dot",
                    ["dns", t.dns, "BLOCKED.TEST.", "A"], upstream_never="blocked.test",
                    log={"proto": "dns", "name": "blocked.test", "verdict": "block"})
    # "allowed" with a Cyrillic a (U+0430), as IDNA would send it.
    yield t.attempt("a punycode look-alike of allowed.test",
                    ["dns", t.dns, "xn--llowed-2ve.test", "A"], upstream_never="xn--llowed",
                    log={"proto": "dns", "name": "xn--llowed-2ve.test", "verdict": "block"})
