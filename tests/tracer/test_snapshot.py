"""Initial state from /proc: threads and fds of a process we start."""
from __future__ import annotations

import socket
import subprocess
import sys

from sysdig_user.scap.records import FdType
from tracer.snapshot import snapshot

CHILD = """
import os, socket, sys, threading, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
f = open(sys.argv[1], "w")
t = threading.Thread(target=time.sleep, args=(30,), daemon=True); t.start()
print(s.getsockname()[1], c.fileno(), s.fileno(), f.fileno(), flush=True)
sys.stdin.read()
"""


def test_snapshot_of_own_child(tmp_path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "x")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port, cfd, sfd, ffd = (int(x) for x in proc.stdout.readline().split())  # type: ignore[union-attr]
        procs, fds = snapshot([proc.pid])
        main = next(p for p in procs if p.tid == proc.pid)
        assert main.comm.startswith("python") and main.args[0] == "-c"
        threads = [p for p in procs if p.tid != proc.pid]
        assert threads and all(p.flags == 0x2001 and p.pid == proc.pid for p in threads)
        byfd = {f.fd: f for f in fds[proc.pid]}
        assert byfd[sfd].type == FdType.IPV4_SERVSOCK and byfd[sfd].sport == port
        assert byfd[cfd].type == FdType.IPV4_SOCK and byfd[cfd].dport == port
        assert byfd[cfd].sip == socket.inet_aton("127.0.0.1") and byfd[cfd].l4proto == 2
        assert byfd[ffd].name == str(tmp_path / "x") and byfd[ffd].open_flags & 3 == 2
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=10)
