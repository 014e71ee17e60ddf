"""A scriptable upstream resolver on 127.0.0.1 (UDP and TCP, one port), for
gateway tests.  Answers by name:
  *.rebind.test       A 10.0.0.5 (a rebinding attempt)
  big.allowed.test    40 A records (over 512 bytes: truncated over UDP
                      without EDNS, whole over TCP)
  slow.allowed.test   never answers
  nx.loop.test        NXDOMAIN
  *.loop.test         A 127.0.0.2, no AAAA (the proxy tests' origins listen
                      there, with a CIDR rule allowing it)
  anything else       A 198.18.0.20
Every question it receives is appended to .questions as (name, qtype, "udp"|"tcp").
"""
import socket
import struct
import threading


def _parse_question(msg):
    i = 12
    labels = []
    while msg[i]:
        labels.append(msg[i + 1 : i + 1 + msg[i]].decode("latin-1"))
        i += 1 + msg[i]
    qtype, _ = struct.unpack("!HH", msg[i + 1 : i + 5])
    return ".".join(labels), qtype, msg[12 : i + 5], i + 5


class StubResolver:
    def __init__(self, port=0):
        self.questions = []
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", port))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.stopping = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def answer(self, msg, transport):
        name, qtype, question, end = _parse_question(msg)
        self.questions.append((name.lower(), qtype, transport))
        qid = msg[:2]
        has_edns = struct.unpack("!H", msg[10:12])[0] > 0
        if name.lower() == "slow.allowed.test":
            return None
        if name.lower() == "nx.loop.test":
            return qid + struct.pack("!5H", 0x8183, 1, 0, 0, 0) + question
        ip = bytes([10, 0, 0, 5]) if name.lower().endswith("rebind.test") else bytes([198, 18, 0, 20])
        if name.lower().endswith(".loop.test"):
            ip = bytes([127, 0, 0, 2])
        count = 40 if name.lower() == "big.allowed.test" else 1
        records = b""
        if qtype == 1:
            for k in range(count):
                addr = ip if count == 1 else bytes([198, 18, 0, 20 + k])
                records += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + addr
        an = count if qtype == 1 else 0
        flags = 0x8180
        if transport == "udp" and not has_edns and 12 + len(question) + len(records) > 512:
            flags |= 0x0200
            records, an = b"", 0
        return qid + struct.pack("!5H", flags, 1, an, 0, 0) + question + records

    def _serve_udp(self):
        while not self.stopping:
            try:
                msg, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            reply = self.answer(msg, "udp")
            if reply:
                self.udp.sendto(reply, peer)

    def _serve_tcp(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if len(data) >= 14:
                    reply = self.answer(data[2:], "tcp")
                    if reply:
                        conn.sendall(struct.pack("!H", len(reply)) + reply)

    def wait(self):
        for t in self.threads:
            t.join()

    def names_seen(self):
        return [q[0] for q in self.questions]

    def close(self):
        self.stopping = True
        self.udp.close()
        self.tcp.close()
