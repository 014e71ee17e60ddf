"""The sandbox working on its own cage: the firewall (netlink requests to
delete the table, and to add one of its own), the control socket,
/etc/resolv.conf and /etc/hosts, the Docker socket."""
CLASS = "tampering"


def attempts(t):
    yield t.attempt("delete the nftables table", ["nft"],
                    no_log="refused by the kernel (no CAP_NET_ADMIN); nothing reaches the gateway")
    yield t.attempt("add an nftables table of its own", ["nft", "add"],
                    no_log="refused by the kernel (no CAP_NET_ADMIN); nothing reaches the gateway")
    yield t.attempt("reach the gateway's control socket", ["unix", t.control],
                    no_log="hidden (run) or not ours to open (apply): the connect fails")
    # In a Docker workload the file is the container's own, and rewriting it
    # leads nowhere: there is no route but to the sidecar.
    yield t.attempt("rewrite /etc/resolv.conf", ["write", "/etc/resolv.conf", "nameserver 198.18.0.99\\n"],
                    no_log="read-only (run) or root's (apply): the write fails",
                    only=("run", "apply"))
    yield t.attempt("rewrite /etc/hosts", ["write", "/etc/hosts", "198.18.0.20 blocked.test\\n"],
                    no_log="read-only (run) or root's (apply): the write fails",
                    only=("run", "apply"))
    yield t.attempt("reach the Docker socket", ["unix", "/var/run/docker.sock"],
                    no_log="hidden (run) or absent: the connect fails")
