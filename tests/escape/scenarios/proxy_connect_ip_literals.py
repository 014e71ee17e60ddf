"""CONNECT to addresses: IPv4, IPv6, and the same address as one decimal
number or in hex.  Addresses pass only through a CIDR rule; numeric
"names" are refused as names."""
CLASS = "proxy"


def attempts(t):
    for label, target in (("IPv4", "198.18.0.20:443"), ("IPv6", "[2001:2::20]:443"),
                          ("decimal", "3323068436:443"), ("hex", "0xc6120014:443"),
                          ("dotted octal", "0306.022.0.024:443")):
        # Addresses are decided (CONNECT, 403); numeric non-addresses are
        # not even names (400, logged as a bad request).
        yield t.attempt(f"CONNECT {target} ({label})", ["connect", t.proxy, 3128, target],
                        log={"verdict": "block"})
