"""Helpers for tests that open AF_PACKET sockets: skip without CAP_NET_RAW, pick free loopback ports, run
tcpdump beside netcap on the same traffic."""
from __future__ import annotations

import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import require_tool


def require_netraw() -> None:
    """Skip the test unless this process may open AF_PACKET sockets."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError:
        pytest.skip("needs CAP_NET_RAW")


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tcpdump:
    """tcpdump -i IFACE -w FILE EXPR, started and confirmed listening before the traffic begins.

    --immediate-mode and -U so that nothing sits in a half-filled ring block or stdio buffer when it is
    stopped with SIGINT (its normal way to end)."""

    def __init__(self, iface: str, expr: str, out: Path, extra: tuple[str, ...] = ()) -> None:
        tcpdump = require_tool("tcpdump")
        self.out = out
        self.proc = subprocess.Popen([tcpdump, "-i", iface, "-n", "-U", "--immediate-mode", *extra,
                                      "-w", str(out), expr],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 10
        seen = ""
        while "listening on" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.proc.kill()
                pytest.fail(f"tcpdump did not start: {seen.strip()}")
            ready, _, _ = select.select([self.proc.stderr], [], [], left)
            if ready:
                seen += self.proc.stderr.readline()

    def stop(self) -> str:
        """SIGINT, wait, and return tcpdump's closing report (captured / received / dropped lines)."""
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def tcpdump_report(text: str) -> dict[str, int]:
    """tcpdump's exit lines -> {"captured": n, "received by filter": n, "dropped by kernel": n}."""
    found = {}
    for line in text.splitlines():
        words = line.split(" ", 2)
        if len(words) == 3 and words[0].isdigit() and words[1] in ("packet", "packets"):
            found[words[2].strip()] = int(words[0])
    return found


def pcap_count(path: Path) -> int:
    """Packets in a classic pcap file, read with scapy (an independent reader)."""
    return len(pcap_stamps(path))


def pcap_stamps(path: Path) -> list[int]:
    """The timestamps (ns, microsecond precision) of the packets in a classic pcap file, read with scapy."""
    from scapy.utils import RawPcapReader

    with RawPcapReader(str(path)) as reader:
        return [(meta.sec * 1_000_000 + meta.usec) * 1000 for _, meta in reader]

