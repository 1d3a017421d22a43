"""State rules checked on synthetic events fed straight into the Inspector (no capture, no oracle)."""
from __future__ import annotations

from sysdig_user.event import Event
from sysdig_user.scap.records import FdList, ProcList
from sysdig_user.state.fds import FdType, Role
from sysdig_user.state.inspector import Inspector
from sysdig_user.state.parsers_files import concatenate_paths
from tests.state import scenario
from tests.state.events import mk, pair


def _inspector() -> Inspector:
    insp = Inspector()
    insp.feed_records(ProcList(list(scenario.PROCS)))
    for tid, fds in scenario.FDS.items():
        insp.feed_records(FdList(tid, list(fds)))
    return insp


def _run(insp: Inspector, events: list[Event]) -> list[Event]:
    for evt in events:
        insp.process(evt)
    return events


def test_clone_parent_then_child_and_execve() -> None:
    insp = _inspector()
    _run(insp, scenario.events()[:5])
    child = insp.threads.get(101)
    assert child is not None
    assert (child.comm, child.exe, child.args, child.ptid, child.pid) == ("cat", "cat", ["foo.txt"], 100, 101)
    assert child.exepath == "/home/u/bin/cat" or child.exepath == "/bin/cat"
    assert child.fdtable is not insp.threads.get(100).fdtable  # type: ignore[union-attr]
    assert child.fdtable.get(0) is not None  # fork copies the parent's fds


def test_open_close_removal_is_deferred() -> None:
    insp = _inspector()
    _run(insp, scenario.events()[:5])
    opened = _run(insp, pair("openat", 101, {"dirfd": -100, "name": "f"}, fd=3, dirfd=-100, name="f"))
    assert opened[1].fdinfo is not None and opened[1].fdinfo.name == "/home/u/f"
    assert opened[1].fdnum == 3
    close = pair("close", 101, {"fd": 3}, res=0)
    insp.process(close[0])
    verdict = insp.process(close[1])
    assert verdict is not None and close[1].fdinfo is not None and close[1].fdinfo.name == "/home/u/f"
    assert insp.threads.get(101).fdtable.get(3) is not None  # type: ignore[union-attr]
    insp.apply(verdict)
    assert insp.threads.get(101).fdtable.get(3) is None  # type: ignore[union-attr]


def test_unpaired_exit_gets_no_enter_and_close_keeps_fd() -> None:
    insp = _inspector()
    _run(insp, pair("openat", 100, {"dirfd": -100, "name": "/f"}, fd=3, dirfd=-100, name="/f"))
    stray = mk("close", False, 100, res=0)
    assert insp.process(stray) is None
    # sinsp keeps lastevent_fd across an unpaired exit; fd.name falls back to a lookup of it
    assert stray.enter is None and stray.fdnum == 3
    assert stray.fdinfo is not None and stray.fdinfo.name == "/f"
    assert insp.threads.get(100).fdtable.get(3) is not None  # type: ignore[union-attr]


def test_dup_pipe_and_shared_table() -> None:
    insp = _inspector()
    _run(insp, pair("dup", 102, {"fd": 1}, res=7))
    main = insp.threads.get(100)
    assert main is not None and main.fdtable.get(7) is not None  # thread 102 shares (CLONE_FILES)
    assert main.fdtable.get(7).name == "/dev/pts/0"  # type: ignore[union-attr]
    p = _run(insp, pair("pipe", 100, res=0, fd1=8, fd2=9, ino=1))
    assert p[1].fdnum == 9 and main.fdtable.get(8).type == FdType.FIFO  # type: ignore[union-attr]
    r = _run(insp, pair("read", 103, {"fd": 1, "size": 1}, res=1, data=b"x"))
    assert r[1].fdinfo is None  # thread 103 has no CLONE_FILES: its own, empty table


def test_socket_connect_and_accept_roles() -> None:
    insp = _inspector()
    ev = scenario
    _run(insp, pair("socket", 100, {"domain": 2, "type": 1, "proto": 0}, fd=5))
    c = _run(insp, pair("connect", 100, {"fd": 5, "addr": (2, ev.REMOTE, 80)}, res=0,
                        tuple=(2, ev.LOCAL, 40000, ev.REMOTE, 80)))
    assert c[1].fdinfo is not None
    assert c[1].fdinfo.name == "10.0.0.2:40000->93.184.216.34:80" and c[1].fdinfo.role == Role.CLIENT
    a = _run(insp, pair("accept", 100, {"flags": 0}, fd=6, tuple=(2, ev.REMOTE, 5555, ev.LOCAL, 8080)))
    assert a[1].fdinfo is not None and a[1].fdinfo.role == Role.SERVER and a[1].fdnum == 6


def test_procexit_and_placeholder() -> None:
    insp = _inspector()
    ex = mk("procexit", True, 100)
    insp.process(ex)
    assert ex.thread is not None and ex.thread.comm == "bash"
    nxt = mk("read", True, 4242, fd=0, size=1)
    insp.process(nxt)  # applies the pending removal first
    assert insp.threads.get(100) is not None  # main thread kept: threads 102/103 still use it
    assert nxt.thread is not None and (nxt.thread.comm, nxt.thread.pid, nxt.thread.ptid) == ("<NA>", 4242, -1)


def test_numbering_counts_hidden_events() -> None:
    insp = Inspector()
    evts = [mk("procinfo", True, 1, cpu_usr=0, cpu_sys=0), mk("read", True, 1, fd=0, size=1, dump_flags=1)]
    verdicts = [insp.process(e) for e in evts]
    assert [e.num for e in evts] == [1, 2]
    assert insp.is_hidden(evts[0]) and verdicts[1] is not None and verdicts[1].hidden


def test_concatenate_paths() -> None:
    assert concatenate_paths("/home/u/", "../x//./y/") == "/home/x/y"
    assert concatenate_paths("/home/u/", "/abs/./p") == "/abs/p"
    assert concatenate_paths("/home/u/", "") == "/home/u"
    assert concatenate_paths("/", "..") == "/"
