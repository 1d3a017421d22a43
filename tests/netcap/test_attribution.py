"""Socket -> process attribution without capturing: the tracer's table (grace period, wildcards, which end
lookup names), /proc/net parsing on fake file contents, and the /proc fallback on this process's own
sockets."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from netcap.attribution import Attribution
from netcap.procnet import ProcSockets, decode_address, normalize_ip, read_proc_net
from netcap.records import FlowKey, SockTuple

S = 1_000_000_000
C2S = FlowKey(socket.AF_INET, "10.0.0.1", 40000, "10.0.0.2", 80, 6)   # client -> server
S2C = FlowKey(socket.AF_INET, "10.0.0.2", 80, "10.0.0.1", 40000, 6)


def _table() -> Attribution:
    att = Attribution(grace_ms=2000, use_proc=False)
    att.note_socket((6, "10.0.0.1", 40000, "10.0.0.2", 80), 100, 101, "client")
    att.note_socket((6, "0.0.0.0", 80, "0.0.0.0", 0), 200, 200, "listener")
    att.note_socket((6, "::ffff:10.0.0.2", 80, "::ffff:10.0.0.1", 40000), 200, 202, "server")
    return att


def test_lookup_names_the_local_end_for_the_direction() -> None:
    att = _table()
    assert att.lookup(C2S, "out", 5 * S).tid == 101          # type: ignore[union-attr]
    assert att.lookup(C2S, "in", 5 * S).tid == 202           # type: ignore[union-attr]
    sender, receiver = att.lookup_ends(S2C, 5 * S)
    assert (sender.comm, receiver.comm) == ("server", "client")  # type: ignore[union-attr]
    assert sender.source == "traced"                             # type: ignore[union-attr]


def test_wildcard_binding_catches_new_peers() -> None:
    att = _table()
    syn = FlowKey(socket.AF_INET, "10.0.0.7", 5000, "10.0.0.2", 80, 6)
    assert att.lookup(syn, "in", 5 * S).comm == "listener"   # type: ignore[union-attr]
    assert att.lookup(syn._replace(l4proto=17), "in", 5 * S) is None


def test_closed_socket_attributes_until_grace_ends() -> None:
    att = _table()
    att.forget_socket((6, "10.0.0.1", 40000, "10.0.0.2", 80), at_ts=10 * S)
    assert att.lookup(C2S, "out", 11 * S).tid == 101          # type: ignore[union-attr]  # FIN after close
    assert att.lookup_ends(C2S, 12 * S + 1)[0] is None
    att.forget_socket((6, "10.0.0.9", 1, "10.0.0.9", 2), at_ts=20 * S)   # moves packet time on: purge
    assert SockTuple(6, "10.0.0.1", 40000, "10.0.0.2", 80) not in att.traced.entries


def test_reused_tuple_is_not_purged_by_the_old_close() -> None:
    att = _table()
    tup = (6, "10.0.0.1", 40000, "10.0.0.2", 80)
    att.forget_socket(tup, at_ts=10 * S)
    att.note_socket(tup, 300, 301, "reuser")
    att.forget_socket((6, "10.0.0.9", 1, "10.0.0.9", 2), at_ts=20 * S)
    assert att.lookup(C2S, "out", 21 * S).comm == "reuser"   # type: ignore[union-attr]


def test_normalize_ip() -> None:
    assert normalize_ip("::ffff:127.0.0.1") == "127.0.0.1"
    assert normalize_ip("0.0.0.0") == normalize_ip("::") == normalize_ip("") == "*"
    assert normalize_ip("2001:DB8:0:0::1") == "2001:db8::1"


PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1
   2: 0100007F:9C41 0100007F:1F90 06 00000000:00000000 03:00000F9D 00000000     0        0 0 3 0
"""
PROC_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000200007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 5252 1 0 20 4 30 10 -1
"""
PROC_RAW = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6161 2 0 0
"""


def test_read_proc_net_on_fake_files(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(PROC_TCP)
    (tmp_path / "tcp6").write_text(PROC_TCP6)
    (tmp_path / "raw").write_text(PROC_RAW)
    (tmp_path / "udp").write_text(PROC_TCP.splitlines()[0] + "\n")   # header only; udp6, raw6 absent
    found = read_proc_net(tmp_path)
    assert found == {
        SockTuple(6, "127.0.0.1", 8080, "*", 0): 4242,
        SockTuple(6, "127.0.0.1", 8080, "127.0.0.1", 40000): 4343,
        SockTuple(6, "::1", 22, "*", 0): 5151,
        SockTuple(6, "127.0.0.1", 80, "127.0.0.2", 54321): 5252,
        SockTuple(1, "*", 0, "*", 0): 6161,                      # raw ICMP socket
    }                                                           # TIME_WAIT (inode 0) is skipped


def test_decode_address_worked_examples() -> None:
    assert decode_address("0100007F:1F90", socket.AF_INET) == ("127.0.0.1", 8080)
    assert decode_address("B80D01200000000000000000010000A0:0035", socket.AF_INET6) == ("2001:db8::a000:1", 53)


def test_proc_fallback_finds_this_process() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        port = lst.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as cli:
            srv, _ = lst.accept()
            with srv:
                cport = cli.getsockname()[1]
                att = Attribution(refresh_ms=0)
                flow = FlowKey(socket.AF_INET, "127.0.0.1", cport, "127.0.0.1", port, 6)
                sender, receiver = att.lookup_ends(flow)
                assert sender is not None and receiver is not None
                assert sender.pid == receiver.pid == os.getpid() and sender.source == "proc"
                assert sender.exe == os.readlink("/proc/self/exe")
                assert att.lookup(FlowKey(socket.AF_INET, "127.0.0.1", 1, "127.0.0.1", 2, 6)) is None


def test_proc_refresh_is_rate_limited() -> None:
    proc = ProcSockets(refresh_ms=60_000)
    assert proc.maybe_refresh() is True
    assert proc.maybe_refresh() is False
    assert proc.refreshes == 1


def test_table_is_safe_across_threads() -> None:
    att = Attribution(use_proc=False)

    def feed(base: int) -> None:
        for i in range(2000):
            tup = (17, "10.0.0.1", base + i, "*", 0)
            att.note_socket(tup, base, base, "t")
            att.forget_socket(tup, i)

    threads = [threading.Thread(target=feed, args=(b,)) for b in (10000, 20000, 30000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = att.lookup(FlowKey(socket.AF_INET, "10.0.0.1", 21999, "10.0.0.5", 53, 17), "out", 1999)
    assert found is not None and found.pid == 20000

