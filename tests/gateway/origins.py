"""Origin servers for the proxy tests, on loopback addresses the test picks:
an HTTP server that records what it was sent, a TCP echo server, and a
canary that only counts connections (it must never get one).  Each runs in
daemon threads and stops with close().
"""
import http.server
import socket
import threading


class HttpOrigin:
    """Answers every GET/POST with 200 and "origin saw PATH"; keeps
    (request line, headers as a list of (name, value), body) per request."""

    def __init__(self, host):
        self.requests = []
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                origin.requests.append((self.requestline, list(self.headers.items()), body))
                reply = f"origin saw {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TcpServer:
    """echo=True sends back what it reads until EOF, then closes; otherwise
    the connection is only counted and closed."""

    def __init__(self, host, echo=True):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.echo = echo
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.echo:
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()
            else:
                conn.close()

    @staticmethod
    def _echo(conn):
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        # shutdown() wakes the thread blocked in accept(); close() alone may not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(2)
