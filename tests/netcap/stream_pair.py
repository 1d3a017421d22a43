"""A TCP and a UDP exchange between two processes, for tests/netcap/test_stream.py.

    python stream_pair.py server|client TCP_PORT UDP_PORT N DIR

The server listens on both ports, writes DIR/server.pid (its pid, which is then the ready signal), echoes N
TCP messages on one connection and N UDP datagrams; the client waits for the pid file, then sends N of
each and reads the echoes, and writes DIR/client.pid.
"""
from __future__ import annotations

import os
import socket
import sys
import time

MSG = b"x" * 50


def server(tport: int, uport: int, n: int, folder: str) -> None:
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", tport))
    lst.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", uport))
    lst.settimeout(20)
    udp.settimeout(20)
    with open(os.path.join(folder, "server.pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(folder, "server.pid.tmp"), os.path.join(folder, "server.pid"))
    conn, _ = lst.accept()
    conn.settimeout(20)
    for _ in range(n):
        conn.sendall(conn.recv(len(MSG)))
    for _ in range(n):
        data, addr = udp.recvfrom(100)
        udp.sendto(data, addr)
    conn.close()
    lst.close()
    udp.close()


def client(tport: int, uport: int, n: int, folder: str) -> None:
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(folder, "server.pid")) and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(os.path.join(folder, "client.pid"), "w") as f:
        f.write(str(os.getpid()))
    conn = socket.create_connection(("127.0.0.1", tport), timeout=20)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n):
        conn.sendall(MSG)
        conn.recv(len(MSG))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(20)
    for _ in range(n):
        udp.sendto(MSG, ("127.0.0.1", uport))
        udp.recvfrom(100)
    conn.close()
    udp.close()


if __name__ == "__main__":
    role, tcp_port, udp_port, count, where = sys.argv[1:6]
    (server if role == "server" else client)(int(tcp_port), int(udp_port), int(count), where)
