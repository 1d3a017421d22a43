"""Fixtures for live-capture tests: run the sdu CLI as a subprocess, skip when ptrace is unavailable.

Every test traces only processes it starts itself; network traffic stays on 127.0.0.1.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


@dataclass
class Run:
    stdout: str
    stderr: str
    status: int

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def sdu(*argv: str, cwd: Path | None = None, timeout: float = TIMEOUT) -> Run:
    """`sdu ARGV` in a child process (TZ=UTC), its output and exit status."""
    env = dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "sysdig_user", *argv], check=False, capture_output=True, env=env,
                         cwd=cwd, timeout=timeout)
    return Run(res.stdout.decode("utf-8", "surrogateescape"), res.stderr.decode("utf-8", "replace"),
               res.returncode)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _ptrace_available() -> None:
    """Skip the whole directory when this machine forbids tracing our own children."""
    res = sdu("-q", "--", "true", timeout=30)
    if res.status != 0:
        pytest.skip(f"ptrace is not usable here: {res.stderr.strip()}")


# A TCP pair on loopback: the server accept()s through libc (the accept syscall, not accept4, which
# Python's socket.accept uses), the client is a forked process that sends one message and reads the reply.
TCP_PAIR = r"""
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
pid = os.fork()
if pid == 0:
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"hello-sdu")
    c.recv(64)
    c.close()
    os._exit(0)
fd = libc.accept(srv.fileno(), None, None)
data = os.read(fd, 64)
os.write(fd, b"reply-" + data)
os.waitpid(pid, 0)
os.close(fd)
"""
