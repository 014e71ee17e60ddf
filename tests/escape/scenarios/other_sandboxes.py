"""Another sandbox's listeners: in airlock run its own network namespace
(its 127.0.0.1 is not ours) and its control socket behind the hidden state
directory; in Docker its sidecar, on an internal network of its own, which
only our sidecar (the workload's router) could lead to, and refuses.  In
place there is one sandbox: nothing to reach."""
CLASS = "tampering"


def attempts(t):
    if not hasattr(t, "neighbour"):
        return
    nb = t.neighbour()
    tok = t.token()
    if t.name == "docker":
        # Its sidecar is on another internal network: the flow goes to ours,
        # the workload's router, which refuses the address.
        yield t.attempt(f"a neighbour sandbox's listener ({nb['listener']}:{nb['port']})",
                        ["tcp", nb["listener"], nb["port"], tok], token=tok,
                        log={"address": nb["listener"], "port": nb["port"], "verdict": "block"})
    else:
        yield t.attempt(f"a neighbour sandbox's listener ({nb['listener']}:{nb['port']})",
                        ["tcp", nb["listener"], nb["port"], tok], token=tok,
                        no_log="its listeners are in another network namespace: the connect "
                               "is refused on our own loopback")
    yield t.attempt("a neighbour sandbox's control socket", ["unix", nb["control"]],
                    no_log="the state directory is hidden (run) or on the host (docker)")
