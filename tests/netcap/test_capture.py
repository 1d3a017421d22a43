"""Live capture over loopback, checked against tcpdump on the same run, and the attribution of every
packet to the process at each end.

One scenario runs per module (fixture `run`): tcpdump and netcap start on lo with the same filter, then a
server process and a client process exchange N TCP messages and N UDP datagrams on 127.0.0.1 ports
chosen free. While both processes still hold their sockets the test attributes the packets seen so far
through /proc; then the peers close, and every packet, teardown included, is attributed through the
tracer's table (fed here with what the peers report, as the tracer would from connect/accept/close).
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from netcap import CaptureNotPermitted, FilterError, InterfaceError, NetCapture, Packet, dissect
from netcap.attribution import Attribution
from netcap.records import CaptureStats, Owner
from tests.netcap.netraw import Tcpdump, free_port, pcap_count, pcap_stamps, require_netraw, tcpdump_report
from tests.support import require_tool

pytestmark = pytest.mark.netraw

N = 20
PEERS = Path(__file__).with_name("peers.py")


@dataclass
class Run:
    tcp_port: int
    udp_port: int
    packets: list[Packet]
    stats: CaptureStats
    tcpdump_count: int
    tcpdump_report: dict[str, int]
    server: dict[str, Any]
    client: dict[str, Any]
    closed: dict[str, int]
    live_ends: list[tuple[Packet, Owner | None, Owner | None]]
    ss_server_pid: int | None = None
    tmp: Path = field(default_factory=Path)


def _start_peer(role: str, tcp_port: int, udp_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(PEERS), role, str(tcp_port), str(udp_port), str(N)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"peer exited with {proc.wait(timeout=10)}"
    return dict(json.loads(line))


def _ss_pid(port: int) -> int | None:
    """pid that `ss -tnp` shows for the established socket on local port `port`."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=False).stdout
    for part in out.split("pid=")[1:]:
        return int(part.split(",")[0])
    return None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The scenario, run again (at most twice more) when tcpdump, the oracle, dropped packets itself: on a
    loaded machine it sometimes does (seen in a CI dry run: 42 dropped by kernel), and its count is then
    no reference. Our own drops are never retried away: the tests assert there are none."""
    require_netraw()
    for _attempt in range(3):
        got = _scenario(tmp_path_factory.mktemp("netcap"))
        if not got.tcpdump_report.get("dropped by kernel"):
            break
    return got


def _scenario(tmp: Path) -> Run:
    tcp_port, udp_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    expr = f"tcp port {tcp_port} or udp port {udp_port}"
    # tcpdump with our snaplen: in --immediate-mode libpcap's ring is made of fixed-size frames sized from
    # the snaplen, so a small one gives its 2 MB ring many more slots to hold packets while tcpdump waits
    # for a CPU (a CI run beside two busy loops saw it drop 30 by kernel in each of three attempts); the
    # counts compared do not depend on it
    tcpdump = Tcpdump("lo", expr, tmp / "tcpdump.pcap", ("-s", "256"))
    cap = NetCapture()
    packets: list[Packet] = []
    server: subprocess.Popen[str] | None = None
    client: subprocess.Popen[str] | None = None
    try:
        cap.start("lo", expr, snaplen=256)
        server = _start_peer("server", tcp_port, udp_port)
        assert _line(server) == {"ready": True}
        client = _start_peer("client", tcp_port, udp_port)
        server_info, client_info = _line(server), _line(client)
        time.sleep(0.1)  # a ring block is handed over 10 ms after its first packet
        packets.extend(cap.poll())
        attribution = Attribution(refresh_ms=0)
        live_ends = []
        for pkt in packets:
            dis = dissect(pkt.data)
            assert dis is not None
            live_ends.append((pkt, *attribution.lookup_ends(dis.flow, pkt.ts_ns)))
        ss_pid = _ss_pid(tcp_port) if shutil.which("ss") else None
        closed = {}
        for name, proc in (("client", client), ("server", server)):
            assert proc.stdin is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
            closed[name] = int(_line(proc)["closed_at"])
        for proc in (client, server):
            proc.wait(timeout=10)
        time.sleep(0.3)
    finally:
        stats = cap.stop()
        report = tcpdump.stop()
        for maybe in (client, server):
            if maybe is not None and maybe.poll() is None:
                maybe.kill()
    packets.extend(cap.poll())
    return Run(tcp_port, udp_port, packets, stats, pcap_count(tmp / "tcpdump.pcap"), tcpdump_report(report),
               server_info, client_info, closed, live_ends, ss_pid, tmp)


def _is_server_port(run: Run, port: int) -> bool:
    return port in (run.tcp_port, run.udp_port)


def _count_mismatch(run: Run) -> str:
    """Which of our packets tcpdump's file lacks (by microsecond stamp), and tcpdump's own report."""
    theirs = set(pcap_stamps(run.tmp / "tcpdump.pcap"))
    ours = [p.ts_ns // 1000 * 1000 for p in run.packets]
    missing = [i for i, ts in enumerate(ours) if not {ts + d * 1000 for d in range(-2, 3)} & theirs]
    return (f"{len(ours)} captured, tcpdump wrote {len(theirs)}; tcpdump's report {run.tcpdump_report}; "
            f"ours missing from its file: indexes {missing[:10]}{'...' if len(missing) > 10 else ''} "
            f"of {len(ours)} (first {ours[0] if ours else None}, its first {min(theirs, default=None)})")


@pytest.mark.oracle
def test_packet_count_matches_tcpdump(run: Run) -> None:
    tcp = [p for p in run.packets if dissect(p.data).flow.l4proto == 6]  # type: ignore[union-attr]
    udp = [p for p in run.packets if dissect(p.data).flow.l4proto == 17]  # type: ignore[union-attr]
    assert len(udp) == 2 * N
    assert len(tcp) >= 2 * N + 3          # messages, echoes, handshake (ACKs may ride on data)
    assert len(run.packets) == run.tcpdump_count, _count_mismatch(run)
    assert run.stats.dropped == 0 and run.tcpdump_report.get("dropped by kernel") == 0
    assert run.stats.received == run.stats.delivered == len(run.packets)


def test_loopback_packets_seen_once_as_incoming(run: Run) -> None:
    assert {p.direction for p in run.packets} == {"in"}
    assert {p.ifname for p in run.packets} == {"lo"}
    assert all(p.protocol == 0x0800 for p in run.packets)
    assert all(len(p.data) <= 256 and p.length >= len(p.data) for p in run.packets)
    stamps = [p.ts_ns for p in run.packets]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time_ns()) < 60 * 10**9


def test_proc_fallback_attributes_both_ends(run: Run) -> None:
    assert len(run.live_ends) >= 4 * N
    for pkt, sender, receiver in run.live_ends:
        flow = dissect(pkt.data).flow  # type: ignore[union-attr]
        src_is_server = _is_server_port(run, flow.sport)
        want_sender = run.server["pid"] if src_is_server else run.client["pid"]
        want_receiver = run.client["pid"] if src_is_server else run.server["pid"]
        assert sender is not None and sender.pid == want_sender and sender.source == "proc", (flow, sender)
        assert receiver is not None and receiver.pid == want_receiver, (flow, receiver)
        assert sender.comm.startswith("python") and "peers.py" in sender.args


def test_proc_fallback_agrees_with_ss(run: Run) -> None:
    require_tool("ss")
    assert run.ss_server_pid == run.server["pid"]


def test_traced_table_attributes_every_packet_with_grace(run: Run) -> None:
    attribution = Attribution(grace_ms=2000, use_proc=False)
    for info, closed_at in ((run.server, run.closed["server"]), (run.client, run.closed["client"])):
        for tup in info["sockets"]:
            attribution.note_socket(tuple(tup), info["pid"], info["tid"], "python3", sys.executable, "peers.py")
    for info, closed_at in ((run.server, run.closed["server"]), (run.client, run.closed["client"])):
        for tup in info["sockets"]:
            attribution.forget_socket(tuple(tup), closed_at)
    fins = 0
    for pkt in run.packets:
        flow = dissect(pkt.data).flow  # type: ignore[union-attr]
        sender, receiver = attribution.lookup_ends(flow, pkt.ts_ns)
        server_sent = _is_server_port(run, flow.sport)
        want_s, want_r = (run.server, run.client) if server_sent else (run.client, run.server)
        assert sender is not None and (sender.pid, sender.tid) == (want_s["pid"], want_s["tid"])
        assert receiver is not None and (receiver.pid, receiver.tid) == (want_r["pid"], want_r["tid"])
        # Incoming on loopback: lookup() names the receiving end.
        assert attribution.lookup(flow, pkt.direction, pkt.ts_ns) == receiver
        fins += flow.l4proto == 6 and pkt.ts_ns > min(run.closed.values())
    assert fins >= 2                       # teardown packets came after close() and still attributed


@pytest.mark.oracle
def test_pcapng_of_live_capture_read_by_tshark(run: Run) -> None:
    from netcap.pcapng import PcapngWriter

    tshark = require_tool("tshark")
    attribution = Attribution(use_proc=False)
    for info in (run.server, run.client):
        for tup in info["sockets"]:
            attribution.note_socket(tuple(tup), info["pid"], info["tid"], "python3", sys.executable, "peers.py")
    path = run.tmp / "live.pcapng"
    with open(path, "wb") as f, PcapngWriter(f) as writer:
        for pkt in run.packets:
            flow = dissect(pkt.data).flow  # type: ignore[union-attr]
            writer.write(pkt, 1, attribution.lookup(flow, pkt.direction, pkt.ts_ns), snaplen=256)
    done = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "frame.comment",
                           "-e", "frame.packet_flags_direction"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert len(rows) == len(run.packets)
    pids = {run.server["pid"], run.client["pid"]}
    for comment, direction in rows:
        assert int(comment.split()[0].removeprefix("pid=")) in pids
        assert int(direction, 16) == 1


@pytest.mark.oracle
def test_recvfrom_backend_sees_the_same_packets() -> None:
    require_netraw()
    port = free_port(socket.SOCK_DGRAM)
    cap = NetCapture()
    cap.start("lo", f"udp port {port}", snaplen=64, backend="recvfrom")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", port))
        for _ in range(N):
            tx.sendto(b"x" * 300, ("127.0.0.1", port))
            rx.recv(1000)
    stats = cap.stop()
    pkts = cap.poll()
    assert len(pkts) == N == stats.received
    assert all(p.length == 342 and len(p.data) == 64 and p.ts_ns > 0 for p in pkts)


@pytest.mark.oracle
def test_callback_mode_and_all_interfaces() -> None:
    require_netraw()
    port = free_port(socket.SOCK_DGRAM)
    seen: list[Packet] = []
    cap = NetCapture()
    cap.start(None, f"udp port {port}", callback=seen.append)
    assert any(i.name == "lo" for i in cap.interfaces.values())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for _ in range(3):
            tx.sendto(b"y", ("127.0.0.1", port))
    stats = cap.stop()
    assert len(seen) == 3 == stats.delivered and {p.ifname for p in seen} == {"lo"}


@pytest.mark.oracle
def test_errors_are_one_line() -> None:
    require_netraw()
    with pytest.raises(InterfaceError, match="no such network interface: nope0") as exc:
        NetCapture().start("nope0")
    with pytest.raises(FilterError) as bad:
        NetCapture().start("lo", "tcp port", snaplen=64)
    for err in (exc.value, bad.value):
        assert "\n" not in str(err)


def test_no_cap_net_raw_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.socket

    def refuse(family: int = -1, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_PACKET:
            raise PermissionError(1, "Operation not permitted")
        return real(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", refuse)
    with pytest.raises(CaptureNotPermitted, match="CAP_NET_RAW") as exc:
        NetCapture().start("lo")
    assert "\n" not in str(exc.value)


def test_no_cap_net_raw_for_real() -> None:
    """Drop CAP_NET_RAW from a child with capsh and see the one-line error, no traceback."""
    require_netraw()
    capsh = require_tool("capsh")
    code = ("from netcap import NetCapture, NetCapError\n"
            "try:\n    NetCapture().start('lo')\nexcept NetCapError as e:\n    print(type(e).__name__, e)\n")
    done = subprocess.run([capsh, "--drop=cap_net_raw", "--", "-c", f'{sys.executable} -c "{code}"'],
                          capture_output=True, text=True, check=False, timeout=60)
    if "Operation not permitted" in done.stderr and "capsh" in done.stderr:
        pytest.skip("capsh cannot drop capabilities here")
    assert done.stdout.startswith("CaptureNotPermitted packet capture needs CAP_NET_RAW"), done
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr
