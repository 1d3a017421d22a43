"""Loopback peers for the live capture tests, run as separate processes so each side has its own pid.

    python peers.py server TCP_PORT UDP_PORT N    # echo N TCP messages on one connection, N UDP datagrams
    python peers.py client TCP_PORT UDP_PORT N

Each prints one JSON line once its sockets are set up and the exchange is done: pid, tid and every socket
as [l4proto, local ip, local port, remote ip, remote port] ("*"/0 for unbound ends). The sockets stay open
until a line arrives on stdin, so /proc still lists them; then it closes them and prints
{"closed_at": CLOCK_REALTIME ns}.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

MSG = b"m" * 100


def emit(obj: object) -> None:
    print(json.dumps(obj), flush=True)


def recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise SystemExit("peer closed early")
        buf += chunk
    return buf


def server(tcp_port: int, udp_port: int, n: int) -> list[socket.socket]:
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", tcp_port))
    lst.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", udp_port))
    emit({"ready": True})
    lst.settimeout(20)
    conn, peer = lst.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.settimeout(20)
    for _ in range(n):
        conn.sendall(recv_exact(conn, len(MSG)))
    udp.settimeout(20)
    for _ in range(n):
        data, addr = udp.recvfrom(2048)
        udp.sendto(data, addr)
    emit({"pid": os.getpid(), "tid": threading.get_native_id(),
          "sockets": [[6, "127.0.0.1", tcp_port, "*", 0], [6, "127.0.0.1", tcp_port, peer[0], peer[1]],
                      [17, "127.0.0.1", udp_port, "*", 0]]})
    return [conn, lst, udp]


def client(tcp_port: int, udp_port: int, n: int) -> list[socket.socket]:
    conn = socket.create_connection(("127.0.0.1", tcp_port), timeout=20)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n):
        conn.sendall(MSG)
        recv_exact(conn, len(MSG))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(20)
    for _ in range(n):
        udp.sendto(MSG, ("127.0.0.1", udp_port))
        udp.recvfrom(2048)
    local = conn.getsockname()
    emit({"pid": os.getpid(), "tid": threading.get_native_id(),
          "sockets": [[6, local[0], local[1], "127.0.0.1", tcp_port],
                      [17, "127.0.0.1", udp.getsockname()[1], "*", 0]]})
    return [conn, udp]


def main() -> None:
    role, tcp_port, udp_port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    socks = (server if role == "server" else client)(tcp_port, udp_port, n)
    sys.stdin.readline()
    closed_at = time.time_ns()
    for s in socks:
        s.close()
    emit({"closed_at": closed_at})
    time.sleep(0.2)


if __name__ == "__main__":
    main()
