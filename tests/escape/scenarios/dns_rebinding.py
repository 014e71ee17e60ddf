"""Allowed names that answer loopback, private, link-local and cloud
metadata addresses (IPv4 and IPv6): refused by the answer check, in DNS and
through the proxy (which resolves for itself, so the sandbox never sees an
answer it could use)."""
CLASS = "DNS rebinding"

NAMES = [("rebind.allowed.test", "loopback"), ("private.rebind.allowed.test", "private"),
         ("linklocal.rebind.allowed.test", "link-local"),
         ("metadata.rebind.allowed.test", "cloud metadata")]


def attempts(t):
    for name, kind in NAMES:
        for qtype in ("A", "AAAA"):
            yield t.attempt(f"an allowed name answering {kind} ({qtype})", ["dns", t.dns, name, qtype],
                            log={"proto": "dns", "name": name, "verdict": "block"})
        yield t.attempt(f"CONNECT to the {kind} one through the proxy",
                        ["connect", t.proxy, 3128, f"{name}:443"],
                        log={"proto": "connect", "name": name, "verdict": "block"})
