"""Loopback capture benchmark: sdu's netcap and tcpdump capture the same traffic in the same run.

    .venv/bin/python bench/netcap_bench.py [--mode tcp|udp] [--seconds 2] [--megabytes 200]
                                           [--snaplen N] [--ring-mb N] [--tcpdump-snaplen N]
                                           [--tcpdump-buffer-mb N] [--backend ring|recvfrom] [--dissect]

tcp: one connection sending 64 KiB writes (large GSO frames on lo: few packets, many bytes).
udp: 200-byte datagrams as fast as one process can send (many small packets: the per-packet cost).
Traffic runs in two child processes, so the only Python work in this process is netcap's. Both tools
run with sdu's defaults (snaplen netcap.DEFAULT_SNAPLEN, ring netcap.DEFAULT_RING_BYTES) unless told
otherwise, and tcpdump with the same snaplen (-s) and buffer (-B) unless --tcpdump-snaplen /
--tcpdump-buffer-mb say otherwise (tcpdump's own defaults are -s 262144 -B 2048); both settings are
printed. tcpdump writes to /dev/null.
Bounded by --seconds and --megabytes, whichever comes first. Needs root (CAP_NET_RAW) and tcpdump.
"""
from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netcap import DEFAULT_RING_BYTES, DEFAULT_SNAPLEN, NetCapError, NetCapture, dissect

RECEIVER = """
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", int(sys.argv[2])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
if kind == socket.SOCK_STREAM:
    s.listen(1)
print("ready", flush=True)
if kind == socket.SOCK_STREAM:
    s = s.accept()[0]
s.settimeout(3)
try:
    while s.recv(1 << 20):
        pass
except (socket.timeout, OSError):
    pass
"""

SENDER = """
import socket, sys, time
mode, port, seconds, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
end = time.monotonic() + seconds
sent = n = 0
if mode == "tcp":
    s = socket.create_connection(("127.0.0.1", port)); chunk = b"x" * 65536
    while sent < limit and time.monotonic() < end:
        for _ in range(16):
            s.sendall(chunk); sent += len(chunk); n += 1
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); chunk = b"x" * 200; dst = ("127.0.0.1", port)
    while sent < limit and time.monotonic() < end:
        for _ in range(256):
            try:
                s.sendto(chunk, dst); sent += len(chunk); n += 1
            except OSError:
                pass
s.close()
print(sent, n, flush=True)
"""


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_tcpdump(text: str) -> dict[str, int]:
    found = {}
    for line in text.splitlines():
        count, _, what = line.partition(" ")
        if count.isdigit():
            found[what.strip()] = int(count)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--mode", choices=("tcp", "udp"), default="tcp")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--megabytes", type=int, default=200)
    ap.add_argument("--snaplen", type=int, default=DEFAULT_SNAPLEN, help="sdu's snaplen")
    ap.add_argument("--ring-mb", type=int, default=DEFAULT_RING_BYTES >> 20, help="sdu's ring, MiB")
    ap.add_argument("--tcpdump-snaplen", type=int, help="tcpdump -s (default: sdu's snaplen)")
    ap.add_argument("--tcpdump-buffer-mb", type=int, help="tcpdump -B in MiB (default: sdu's ring)")
    ap.add_argument("--backend", choices=("ring", "recvfrom"), default="ring")
    ap.add_argument("--dissect", action="store_true", help="dissect every packet in the consumer")
    opts = ap.parse_args()
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        print("netcap_bench: tcpdump is not installed", file=sys.stderr)
        return 2
    port = free_port(socket.SOCK_STREAM if opts.mode == "tcp" else socket.SOCK_DGRAM)
    expr = f"{opts.mode} port {port}"
    td_snaplen = opts.tcpdump_snaplen or opts.snaplen
    td_mb = opts.tcpdump_buffer_mb or opts.ring_mb

    td = subprocess.Popen([tcpdump, "-i", "lo", "-n", "-s", str(td_snaplen), "-B", str(td_mb * 1024),
                           "-w", "/dev/null", expr], stderr=subprocess.PIPE, text=True)
    assert td.stderr is not None
    while "listening on" not in (line := td.stderr.readline()):
        if not line:
            print("netcap_bench: tcpdump did not start", file=sys.stderr)
            return 2

    cap = NetCapture()
    try:
        cap.start("lo", expr, snaplen=opts.snaplen, backend=opts.backend, ring_bytes=opts.ring_mb << 20)
    except NetCapError as err:
        td.kill()
        print(f"netcap_bench: {err}", file=sys.stderr)
        return 2
    counted = [0, 0]

    def consume() -> None:
        for pkt in cap.packets():
            counted[0] += 1
            counted[1] += len(pkt.data)
            if opts.dissect:
                dissect(pkt.data)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()

    rx = subprocess.Popen([sys.executable, "-c", RECEIVER, opts.mode, str(port)], stdout=subprocess.PIPE, text=True)
    assert rx.stdout is not None
    rx.stdout.readline()
    t0 = time.monotonic()
    tx = subprocess.run([sys.executable, "-c", SENDER, opts.mode, str(port), str(opts.seconds),
                         str(opts.megabytes << 20)], capture_output=True, text=True, check=True)
    elapsed = time.monotonic() - t0
    sent_bytes, writes = (int(x) for x in tx.stdout.split())
    rx.wait(timeout=10)
    time.sleep(0.5)
    ours = cap.stop()
    consumer.join(timeout=30)
    time.sleep(0.5)
    td.send_signal(signal.SIGINT)
    theirs = parse_tcpdump(td.communicate(timeout=30)[1])

    t_cap, t_drop = theirs.get("packets captured", 0), theirs.get("packets dropped by kernel", 0)
    print(f"mode={opts.mode} backend={opts.backend} dissect={opts.dissect}; sdu: snaplen={opts.snaplen} "
          f"ring={opts.ring_mb} MiB; tcpdump: -s {td_snaplen} -B {td_mb * 1024} (KiB)")
    print(f"traffic: {sent_bytes / 1e6:.1f} MB in {writes} writes over {elapsed:.2f} s")
    print(f"{'':8} {'captured':>10} {'kernel drops':>13} {'received':>10}")
    print(f"{'sdu':8} {counted[0]:>10} {ours.dropped:>13} {ours.received:>10}")
    print(f"{'tcpdump':8} {t_cap:>10} {t_drop:>13} {theirs.get('packets received by filter', 0):>10}")
    ratio = counted[0] / t_cap if t_cap else float("nan")
    print(f"ratio sdu/tcpdump captured: {ratio:.3f}  ({counted[0] / elapsed:,.0f} pkt/s, "
          f"{counted[1] / elapsed / 1e6:,.0f} MB/s copied by sdu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
