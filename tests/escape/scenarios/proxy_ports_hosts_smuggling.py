"""Proxy requests that try their luck: an allowed name on a port its rule
does not cover, a blocked Host behind an allowed target, request smuggling,
CONNECT to the proxy itself and to loopback, a head of a megabyte."""
CLASS = "proxy"


def attempts(t):
    yield t.attempt("CONNECT an allowed name on another port",
                    ["connect", t.proxy, 3128, "allowed.test:22"],
                    log={"proto": "connect", "name": "allowed.test", "port": 22, "verdict": "block"})
    tok = t.token()
    yield t.attempt("absolute-form for an allowed host, Host naming a blocked one",
                    ["http", t.proxy, 3128,
                     f"GET http://allowed.test/{tok} HTTP/1.1\\r\\nHost: blocked.test\\r\\n\\r\\n"],
                    token=tok, log={"proto": "http", "verdict": "block"})
    tok = t.token()
    yield t.attempt("Content-Length and Transfer-Encoding together",
                    ["http", t.proxy, 3128,
                     f"POST http://allowed.test/{tok} HTTP/1.1\\r\\nHost: allowed.test\\r\\n"
                     "Content-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n"],
                    token=tok, log={"proto": "http", "verdict": "block"})
    tok = t.token()
    yield t.attempt("two Content-Lengths",
                    ["http", t.proxy, 3128,
                     f"POST http://allowed.test/{tok} HTTP/1.1\\r\\nHost: allowed.test\\r\\n"
                     "Content-Length: 1\\r\\nContent-Length: 40\\r\\n\\r\\nx"],
                    token=tok, log={"proto": "http", "verdict": "block"})
    for target in ("127.0.0.1:3128", "localhost:3128", "[::1]:53"):
        yield t.attempt(f"CONNECT {target}", ["connect", t.proxy, 3128, target],
                        log={"proto": "connect", "verdict": "block"})
    tok = t.token()
    yield t.attempt("a 1 MiB request head",
                    ["http", t.proxy, 3128,
                     f"GET http://allowed.test/{tok} HTTP/1.1\\r\\nHost: allowed.test\\r\\n\\r\\n",
                     1024 * 1024],
                    token=tok, log={"proto": "http", "verdict": "block"})
