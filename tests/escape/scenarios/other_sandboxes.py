"""Another sandbox's listeners: in airlock run its own network namespace
(its 127.0.0.1 is not ours) and its control socket behind the hidden state
directory; in Docker its sidecar, on an internal network of its own.  In
place there is one sandbox: nothing to reach."""
CLASS = "tampering"


def attempts(t):
    if not hasattr(t, "neighbour"):
        return
    nb = t.neighbour()
    tok = t.token()
    yield t.attempt(f"a neighbour sandbox's listener ({nb['listener']}:{nb['port']})",
                    ["tcp", nb["listener"], nb["port"], tok], token=tok,
                    no_log="its listeners are in another network namespace: the connect is "
                           "refused on our own loopback (run) or has no route (docker)")
    yield t.attempt("a neighbour sandbox's control socket", ["unix", nb["control"]],
                    no_log="the state directory is hidden (run) or on the host (docker)")
