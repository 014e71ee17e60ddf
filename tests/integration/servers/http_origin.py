#!/usr/bin/env python3
"""An HTTP and HTTPS origin.

Usage: http_origin.py --cert C --key K --log REQUESTS.jsonl --addr A [--addr B]
                      [--http-port 80] [--https-port 443]

Paths:
  /                  "origin ok" and the Host and scheme the origin saw
  /bytes/N           N bytes (at most 1 GiB), for bulk transfer
  /slow?n=N&ms=M     N bytes, one every M ms (defaults 10 and 100)
  /headers           the request head as received
  /status/NNN        an empty answer with that status
  POST/PUT anything  reads the body (Content-Length, at most 1 GiB), answers its size
Every request is logged before it is answered: {"method", "target", "host",
"scheme", "sni", "client", "headers"}; a request that does not parse is logged
with "error", and so is a failed TLS handshake.
"""
import argparse
import http.server
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse

import common

MAX_BYTES = 1 << 30
MAX_CONNS = 128
PATTERN = bytes(range(256)) * 256  # 64 KiB


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle connections go away

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()  # here, not in the accept loop
            except OSError as e:
                self.server.log.write(scheme="https", client=self.client_address[0],
                                      sni=getattr(self.request, "sni", None), method=None,
                                      target=None, host=None, headers=[], error=f"tls: {e}")
                raise

    def log_message(self, *args):
        pass

    def parse_request(self):
        ok = super().parse_request()
        tls = isinstance(self.request, ssl.SSLSocket)
        record = {"scheme": "https" if tls else "http", "client": self.client_address[0],
                  "sni": getattr(self.request, "sni", None) if tls else None}
        if ok:
            record.update(method=self.command, target=self.path, host=self.headers.get("Host"),
                          headers=[[k, v] for k, v in self.headers.items()])
        else:
            record.update(method=None, target=None, host=None, headers=[],
                          error=self.raw_requestline.decode("latin-1").rstrip("\r\n"))
        self.server.log.write(**record)
        return ok

    def reply(self, status, body=b"", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        scheme = "https" if isinstance(self.request, ssl.SSLSocket) else "http"
        if path == "/":
            self.reply(200, f"origin ok\nhost {self.headers.get('Host')}\nscheme {scheme}\n".encode())
        elif path.startswith("/bytes/") and path[7:].isdigit():
            self.send_bytes(min(int(path[7:]), MAX_BYTES))
        elif path == "/slow":
            n = min(int(query.get("n", ["10"])[0]), 1000)
            ms = min(int(query.get("ms", ["100"])[0]), 5000)
            self.send_slowly(n, ms)
        elif path == "/headers":
            head = self.requestline + "\r\n" + str(self.headers)
            self.reply(200, head.encode("latin-1", "replace"))
        elif path.startswith("/status/") and path[8:].isdigit() and 200 <= int(path[8:]) < 600:
            self.reply(int(path[8:]))
        else:
            self.reply(404, b"not found\n")

    do_HEAD = do_GET

    def do_POST(self):
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BYTES:
            self.close_connection = True
            self.reply(411, b"Content-Length required\n")
            return
        left = int(length)
        while left:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)
        self.reply(200, f"received {length} bytes\n".encode())

    do_PUT = do_POST

    def send_bytes(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        while n:
            chunk = PATTERN[: min(n, len(PATTERN))]
            self.wfile.write(chunk)
            n -= len(chunk)

    def send_slowly(self, n, ms):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self.wfile.flush()
        for _ in range(n):
            time.sleep(ms / 1000)
            self.wfile.write(b".")
            self.wfile.flush()


class Origin(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, port, log, tls=None):
        self.address_family = common.family(addr)
        self.log, self.tls = log, tls
        self.slots = common.Slots(MAX_CONNS)
        super().__init__((addr, port), Handler)

    def server_bind(self):
        # Not HTTPServer's: its socket.getfqdn() would put PTR queries in the DNS log.
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        conn, peer = self.socket.accept()
        if self.tls:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, peer

    def process_request(self, request, client_address):
        if not self.slots.take():
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.give()

    def handle_error(self, request, client_address):
        pass  # a client that hangs up or fails the handshake is not news


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def remember_sni(sock, name, _ctx):
        sock.sni = name

    ctx.sni_callback = remember_sni
    return ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--https-port", type=int, default=443)
    args = ap.parse_args()
    log = common.JsonLog(args.log)
    tls = tls_context(args.cert, args.key)
    servers = []
    for addr in args.addr:
        servers.append(Origin(addr, args.http_port, log))
        servers.append(Origin(addr, args.https_port, log, tls))
    common.ready()
    for s in servers:
        common.spawn(s.serve_forever)
    threading.Event().wait()


if __name__ == "__main__":
    main()
