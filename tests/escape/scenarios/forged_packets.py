"""Packets that lie about where they come from, or go around the routing
table: a DNS query to the gateway whose source is another host's address
(the answer would go to that host - a reflector, and a way to carry a name
out), and, behind a Docker sidecar, an Ethernet frame sent straight to the
host's side of the bridge, holding a datagram for one of the host's own
addresses (delivered to the host, not bridged, so Docker's isolation of the
network never sees it).  Both need CAP_NET_RAW, which only a Docker
workload has by default."""
CLASS = "forged packets"


def attempts(t):
    A = __import__("netsim").ADDR
    tok = t.token()
    argv = ["spoof", A.echo, t.dns, 53, f"{tok}.allowed.test"]
    name = "a DNS query to the gateway with the echo host's address as its source"
    if t.name != "docker":
        yield t.attempt(name, argv, token=tok,
                        no_log="no CAP_NET_RAW: the raw socket cannot be opened")
        return
    # Two walls: the host's (Docker's isolation drops a source outside the
    # network, which the passage rules leave in place) and, where
    # br_netfilter is off and the host's wall is not there, the sidecar's
    # (its router table refuses such a source, logged).
    yield t.attempt(name, argv, token=tok,
                    sent_nowhere="sent; a source outside the network never gets an answer",
                    no_log="dropped on the host by Docker's isolation of the network, before "
                           "the sidecar; where br_netfilter is off, the sidecar refuses and "
                           "logs it (tests/unit/test_enforce_ruleset.c)")
    host = t.host_listener()
    tok = t.token()
    yield t.attempt("a frame to the host's side of the bridge, for the host's own address",
                    ["frame", host["mac"], host["addr"], host["port"], tok], token=tok,
                    sent_nowhere="sent; the host drops what comes in by the bridge",
                    no_log="dropped by the host (INPUT, docker/passage.h): the host is no "
                           "gateway, and nothing of airlock's runs there to log it")
