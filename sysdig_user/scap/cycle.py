"""-w as sysdig 0.29's cycle writer: one scap file, or rotated files (-C, -G, -e, -W)."""
from __future__ import annotations

import contextlib
import os
import time
from _collections_abc import Mapping  # (collections.abc without collections)
from typing import Any, BinaryIO, NoReturn

from sysdig_user.environment import silence
from sysdig_user.errors import SduError
from sysdig_user.event import Event
from sysdig_user.scap.container_json import CONTAINER_JSON_2_E, CONTAINER_JSON_E
from sysdig_user.spec import WriteSpec

_CONTAINER_CODES = frozenset({CONTAINER_JSON_E, CONTAINER_JSON_2_E})
STDOUT_NAME = "-"  # -w -: the capture goes to the standard output, as libscap's dumper takes "-"


class CaptureWriter:
    """-w: a section (the capture's state) first, then every event that passed the filter.

    sysdig 0.29's cycle writer. Before writing an event it decides, in this order, on a new file: -G
    SECONDS once the event's second (its timestamp, floored) is SECONDS past the one the current period
    started at (the first event's); -C SIZE_MB once the current file holds more than SIZE_MB * 10^6 bytes;
    -e NUM once NUM events were counted (the count includes the event at hand, restarts at 0 on an -e
    rotation, not on the others: the first file holds NUM - 1 events). A new file starts with the state
    at that moment, which ``section_source()`` provides, then the container events written so far (one
    per distinct event body, in their order), as sinsp's dumper opens every file with its known
    containers (dump_containers): each file's readers then know the containers its threads are in.

    Names, as sysdig builds them: with -e, FILE0, FILE1, ...; else with -G, FILE0, ... or, if FILE holds
    a '%', strftime(FILE) of the period's start (local time; the first file is then ./first_dump.scap,
    and -W NUM deletes the name written NUM rotations before), then with -C the index again, zero-padded
    to the digits of -W. -W NUM makes the index wrap to 0, overwriting the oldest files.
    """

    def __init__(self, path: str, compress: bool, rollover_mb: int = 0, file_limit: int = 0,
                 seconds: int = 0, events: int = 0) -> None:
        self.path = path
        self.compress = compress
        self.rollover_bytes = rollover_mb * 1_000_000
        self.file_limit = file_limit
        self.seconds = seconds
        self.events = events
        self.section_source: Any = None
        self.started = False
        self._index = 0
        self._width = len(str(file_limit)) if file_limit > 0 else 0
        self._strftime = seconds > 0 and "%" in path
        self._past: list[str] = [""] * file_limit if self._strftime and file_limit > 0 else []
        self._period: int | None = None
        self._count = 0
        self._file: BinaryIO | None = None
        self._name = path
        self._w: Any = None
        self._containers: dict[bytes, Event] = {}  # container events written (rotation: replayed)
        self._open("first_dump.scap" if self._strftime else self._next_name())

    def _next_name(self) -> str:
        if not (self.rollover_bytes or self.seconds or self.events):
            return self.path
        if self.file_limit > 0 and self._index >= self.file_limit:
            self._index = 0
        index = self._index
        self._index += 1
        if self.events:
            return f"{self.path}{index}"
        name = self.path
        if self._strftime:
            name = time.strftime(self.path, time.localtime(self._period or 0))
            if self._past:
                if self._past[index]:
                    with contextlib.suppress(OSError):
                        os.remove(self._past[index])
                self._past[index] = name
        elif self.seconds:
            name = f"{name}{index}"
        if self.rollover_bytes:
            name = f"{name}{index:0{self._width}d}" if self._width else f"{name}{index}"
        return name

    def _open(self, name: str) -> None:
        from sysdig_user.scap import ScapWriter

        try:
            if name == STDOUT_NAME:  # (sysdig's -w -)
                self._file = open(os.dup(1), "wb")  # noqa: SIM115 - closed by close()
            else:
                self._file = open(name, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise SduError(f"can't open file {name}: {exc.strerror}") from None
        self._name = name
        self._w = ScapWriter(self._file, compress=self.compress)

    def _failed(self, exc: OSError) -> NoReturn:
        """A write failed (a full disk, a quota, an I/O error): drop the file (what it holds is a
        truncated capture, which sysdig and sdu read up to its last whole event) and say so in one line.
        EPIPE (``-w - | head``: the reader is gone) goes on as itself, as the text output's does."""
        file, self._file, self._w = self._file, None, None
        if file is not None:
            if isinstance(exc, BrokenPipeError):
                silence(file)  # (what it still buffers goes nowhere)
            try:
                file.close()
            except OSError:
                pass
        if isinstance(exc, BrokenPipeError):
            raise exc
        raise SduError(f"can't write file {self._name}: {exc.strerror or exc}") from None

    def start(self, section: Mapping[str, Any]) -> None:
        self.started = True
        if self._w is None:
            return
        try:
            self._w.write_section(**section)
        except OSError as exc:
            self._failed(exc)

    def _rotate(self, evt: Event) -> bool:
        self._count += 1
        if self.seconds:
            sec = evt.ts // 1_000_000_000
            if self._period is None:
                self._period = sec
            elif sec - self._period >= self.seconds:
                self._period = sec
                return True
        if self.rollover_bytes and self._file is not None and self._file.tell() > self.rollover_bytes:
            return True
        if self.events and self._count >= self.events:
            self._count = 0
            return True
        return False

    def write_container(self, evt: Event) -> None:
        """A container known before the first event (consumed at a capture's head, or found at a live
        start): written where the file is now and into every new file, as sinsp's dumper writes its
        container table when it opens a file; outside the cycle writer's decisions (not counted by -e,
        never the cause of a new file), which only the events it is given later make."""
        self._containers.setdefault(evt.raw[26:], evt)
        try:
            self._w.write_event(evt.cpu, 0, evt.raw)
        except OSError as exc:
            self._failed(exc)
        except AttributeError:  # a write after a failed one (self._w is None): the error was reported
            if self._w is not None:
                raise

    def write(self, evt: Event, dump_flags: int | None = None) -> None:
        if self.rollover_bytes or self.seconds or self.events:
            if self._rotate(evt):
                self._close_file()
                self._open(self._next_name())
                self.start(self.section_source() if self.section_source is not None else {})
                try:
                    for known in self._containers.values():
                        self._w.write_event(known.cpu, 0, known.raw)
                except OSError as exc:
                    self._failed(exc)
            if evt.type in _CONTAINER_CODES:
                self._containers.setdefault(evt.raw[26:], evt)
        try:
            self._w.write_event(evt.cpu, evt.dump_flags if dump_flags is None else dump_flags, evt.raw)
        except OSError as exc:
            self._failed(exc)
        except AttributeError:  # a write after a failed one (self._w is None): the error was reported
            if self._w is not None:
                raise

    @property
    def rotates(self) -> bool:
        """-C, -G or -e: a new file may start (with the state at that moment) before any event."""
        return bool(self.rollover_bytes or self.seconds or self.events)

    def write_blocks(self, data: bytes, count: int) -> None:
        """Events already framed as scap blocks (ScapWriter.write_blocks); only without rotation."""
        assert not self.rotates
        try:
            self._w.write_blocks(data, count)
        except OSError as exc:
            self._failed(exc)

    def _close_file(self) -> None:
        try:
            if self._w is not None:
                self._w.close()
                self._w = None
            if self._file is not None:
                self._file.close()
                self._file = None
        except OSError as exc:
            self._failed(exc)

    def hand_over(self) -> None:
        """Another process writes this capture from now on (forked with this writer). This process's
        descriptor is pointed at /dev/null and forgotten: nothing its copy holds (the buffered section, a
        gzip trailer written when the objects are collected) can reach the file, and close() does nothing."""
        if self._file is not None:
            silence(self._file)
        self._w = None
        self._file = None

    def close(self) -> None:
        if self._w is not None and not self.started:
            self.start({})
        self._close_file()


def make_writer(spec: WriteSpec) -> CaptureWriter:
    """The writer for a -w spec (its file is created now: an unwritable path fails before any capture)."""
    return CaptureWriter(spec.path, spec.compress, spec.size_mb, spec.file_limit, spec.seconds, spec.events)
