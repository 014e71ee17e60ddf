#!/usr/bin/env python3
"""TCP and UDP echo (RFC 862).

Usage: echo_server.py --log PAYLOADS.jsonl --addr A [--addr B] [--port 7]

Every payload is logged before it is echoed: {"transport", "client", "conn",
"data" (hex)}. A TCP connection logs each chunk it reads under one "conn"
number, up to LOG_CAP bytes a connection; a UDP datagram is its own "conn".
"""
import argparse
import itertools
import socket
import threading

import common

MAX_CONNS = 128
LOG_CAP = 1 << 20
conn_ids = itertools.count(1)


def serve_udp(sock, log):
    while True:
        data, peer = sock.recvfrom(65535)
        log.write(transport="udp", client=peer[0], conn=next(conn_ids), data=data.hex())
        sock.sendto(data, peer)


def serve_tcp(sock, log, slots):
    while True:
        conn, peer = sock.accept()
        if not slots.take():
            conn.close()
            continue
        common.spawn(tcp_conn, conn, peer[0], log, slots)


def tcp_conn(conn, client, log, slots):
    cid, logged = next(conn_ids), 0
    try:
        conn.settimeout(60)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            if logged < LOG_CAP:
                log.write(transport="tcp", client=client, conn=cid,
                          data=data[: LOG_CAP - logged].hex())
                logged += len(data)
            conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()
        slots.give()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--port", type=int, default=7)
    args = ap.parse_args()
    log, slots = common.JsonLog(args.log), common.Slots(MAX_CONNS)
    socks = []
    for addr in args.addr:
        socks.append((serve_udp, (common.bind(addr, args.port, socket.SOCK_DGRAM), log)))
        socks.append((serve_tcp, (common.bind(addr, args.port, socket.SOCK_STREAM), log, slots)))
    common.ready()
    for target, targs in socks:
        common.spawn(target, *targs)
    threading.Event().wait()


if __name__ == "__main__":
    main()
