"""Event sources: what feeds a Session, behind one protocol.

A source drives the session: it feeds the pipeline its state records and its events in order, and
returns an exit status. The file source is here; the tracer's (launch and attach) is
``tracer.live.TraceSource``, and packets join a live source as a second stream merged by timestamp
(``netcap.stream.PacketStream``, through ``merged`` below). The Session never asks which
source it runs: everything a source must know comes from the spec and the plan.
"""
from __future__ import annotations

import os
from _collections_abc import Callable, Iterator  # (collections.abc without collections)

from sysdig_user.event import Event

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any, Protocol

    from sysdig_user.pipeline import EventPipeline, RunStats
    from sysdig_user.scap.cycle import CaptureWriter
    from sysdig_user.session import Session

    # (the protocols are mypy's: a class made at run time costs a start ~0.1M instructions each)

    class EventSource(Protocol):
        """Anything that can feed a Session."""

        def run(self, session: Session) -> int:
            """Feed the session's pipeline (``feed_records``, ``on_event`` until it returns False) and,
            live, its state and its writer's first section (``session.seed_state``); return the exit status
            (a launched command's, else 0). The Session finishes the pipeline afterwards."""

    class MergedStream(Protocol):
        """A second stream of events merged into a source's by timestamp (netcap.stream.PacketStream):
        ``before(evt, inspector)`` returns its events not newer than ``evt`` (having noted what ``evt``
        tells it), ``after(evt, inspector)`` sees ``evt`` once it was fed, ``finish()`` returns the rest."""

        def before(self, evt: Event, inspector: Any) -> list[Event]: ...

        def after(self, evt: Event, inspector: Any) -> None: ...

        def finish(self) -> list[Event]: ...


def merged(on_event: Callable[[Event], bool], stream: MergedStream, inspector: Any) -> Callable[[Event], bool]:
    """``on_event`` with ``stream``'s events fed before each event they are not newer than; False as soon
    as ``on_event`` returns False (the capture is over)."""
    before, after = stream.before, stream.after

    def feed(evt: Event) -> bool:
        for extra in before(evt, inspector):
            if not on_event(extra):
                return False
        if not on_event(evt):
            return False
        after(evt, inspector)
        return True
    return feed


def drain_merged(on_event: Callable[[Event], bool], stream: MergedStream) -> None:
    """The stream's remaining events, once the source has none left."""
    for extra in stream.finish():
        if not on_event(extra):
            return


class ScapSource:
    """``-r FILE...``: scap capture files, read one after the other (sysdig_user/scap/reader.py)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = list(paths)

    def run(self, session: Session) -> int:
        """Read every file through the session's pipeline (its -w writer starts with the first
        section's state); the status is 0: errors are raised."""
        read_files(self.paths, session.pipeline, session.writer)
        return 0


def read_files(paths: list[str], pipe: EventPipeline, writer: CaptureWriter | None) -> RunStats:
    """The -r loop: every item of each file through ``pipe`` (records as state, events as events)."""
    count_hidden = pipe.count_hidden if pipe.limit is not None else None
    hidden = 0  # hidden events skipped unbuilt, added to the count at the end when no -n needs it now
    from sysdig_user.output import fastline

    fast: Any = None  # the compiled default line, once set up
    try:
        from sysdig_user.event_table import PPM_EVENT_MAX
        from sysdig_user.state.inspector import SKIPPED_HIDDEN

        pipe.start()
        # events nobody will see are skipped unbuilt (chisels see the filtered-out ones too): skip_raw,
        # called for the codes it may skip
        skip = pipe.inspector.skip_raw
        skip_codes = pipe.inspector.skip_codes if pipe.plan.skip_unbuilt else None
        on_event = pipe.on_event
        codes = small_capture_codes(paths) if writer is None and pipe.plan.compiled_line else None
        fast = (fastline.core_for(pipe, codes) or fastline.chisel_core(pipe)) if writer is None else None
        fast_one = fast.one if fast is not None else None
        if fast is not None:
            from sysdig_user.scap import reader

            fast.v1_table(reader._V1_GUESS, reader._V1_ODD)  # old captures' EV_V1 blocks too
        section = None  # what -w starts its file with
        if writer is not None:
            from sysdig_user.state.section import SectionRecords, state_section

            section = SectionRecords()
        progress = pipe.progress_meter
        # (two loops rather than one generator chaining the files' items: a generator level costs per
        # event; every break below ends the capture)
        # with the compiled default line, the reader hands it runs of event blocks first (it takes
        # what it can; the rest comes here, after its lines)
        for items in _capture_sources(paths, progress, _draining_blocks(fast, pipe) if fast is not None else None):
            for item in items:
                if type(item) is not tuple:
                    pipe.feed_records(item)
                    if section is not None and pipe.writer is None:
                        section.add(item)
                    continue
                if section is not None and pipe.writer is None:
                    assert writer is not None
                    writer.start(pipe.section(section.as_kwargs()))
                    pipe.writer = writer
                    writer.section_source = lambda: state_section(pipe.inspector)
                cpu, dump_flags, raw = item
                if progress is not None:
                    progress.tick()
                if skip_codes is not None and (code := raw[20] | raw[21] << 8) < PPM_EVENT_MAX and skip_codes[code]:
                    skipped = skip(raw)
                    if skipped:
                        if skipped == SKIPPED_HIDDEN:
                            if count_hidden is None:
                                hidden += 1
                            elif not count_hidden():
                                break
                        continue
                if fast_one is not None:
                    if not dump_flags and fast_one(raw, cpu):
                        continue
                    fastline.drain(fast, pipe)  # its lines first
                if not on_event(Event(raw, cpu, dump_flags)):
                    break
            else:
                continue
            break
    finally:
        if fast is not None:
            fastline.drain(fast, pipe)
        pipe.stats.events += hidden
        if writer is not None and pipe.writer is None:
            writer.start({})
            pipe.writer = writer
        pipe.finish()
    return pipe.stats


#: the compiled line's text goes out (fastline.drain) after every this many bytes of events it took
DRAIN_BYTES = 64 * 1024
#: plain capture files up to this many bytes in all have their event types read before the compiled line
#: is set up, which then gets the recipes of those types only (fastline.recipes): all 336 cost ~2 ms
#: (~7M instructions), as much as reading the event types of a few thousand blocks
SMALL_CAPTURE = 64 * 1024


def small_capture_codes(paths: list[str]) -> frozenset[int] | None:
    """The event types of these captures when they are regular files, uncompressed, of SMALL_CAPTURE
    bytes at most in all, and their blocks read whole; else None. (A type missed, in a file that
    changed meanwhile, would only be declined by the compiled line to the Python pipeline.)"""
    import stat

    from sysdig_user.scap import blocks
    from sysdig_user.scap.reader import _EV1, _EVF2, _FLAGGED_BLOCKS, _GZIP_MAGIC, _HDR

    total = 0
    datas = []
    for path in paths:
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode) or total + st.st_size > SMALL_CAPTURE:
                return None
            with open(path, "rb") as f:
                data = f.read(SMALL_CAPTURE - total + 1)
        except (OSError, ValueError):
            return None
        total += len(data)
        if total > SMALL_CAPTURE or data.startswith(_GZIP_MAGIC):
            return None
        datas.append(data)
    codes: set[int] = set()
    event_blocks = blocks.EVENT_TYPES
    for data in datas:
        pos, end = 0, len(data)
        while pos < end:
            if end - pos < 12:
                return None
            btype, blen = _HDR.unpack_from(data, pos)
            if blen < 12 or blen > end - pos:
                return None
            if btype in event_blocks:
                if btype in _FLAGGED_BLOCKS:
                    if blen < 36:
                        return None
                    codes.add(_EVF2.unpack_from(data, pos + 8)[3])
                else:
                    if blen < 32:
                        return None
                    codes.add(_EV1.unpack_from(data, pos + 8)[2])
            pos += blen
    return frozenset(codes)


def _draining_blocks(core: Any, pipe: EventPipeline) -> Callable[[bytes, int, int], int]:
    """read_capture's taker of event blocks: ``core.blocks`` over windows of DRAIN_BYTES of the reader's
    buffer (1 MiB), the lines written out after each DRAIN_BYTES of events handled, instead of kept
    until an event the core declines (a capture it takes whole would hold all its text: 300 MB for
    800k open/close events). A block that crosses a window's end starts the next window."""
    from sysdig_user.output import fastline

    blocks = core.blocks
    taken = 0

    def run(buf: bytes, pos: int, end: int) -> int:
        nonlocal taken
        need = 0  # the length of a block that crossed the last window's end
        while True:
            limit = min(end, pos + max(DRAIN_BYTES, need))
            stop = blocks(buf, pos, limit)
            taken += stop - pos
            if taken >= DRAIN_BYTES:
                taken = 0
                fastline.drain(core, pipe)
            if limit == end or end - stop < 32:
                return stop  # type: ignore[no-any-return]
            need = int.from_bytes(buf[stop + 4:stop + 8], "little")  # the next block's length
            if stop + need <= limit or stop + need > end:
                return stop  # type: ignore[no-any-return]  # (declined, or the reader's to complete)
            pos = stop
    return run


def _capture_sources(paths: list[str], progress: Any = None, events: Any = None) -> Iterator[Iterator[Any]]:
    """The items of each file, one iterator per file (the caller reads each to its end, or stops).
    ``events``: read_capture's taker of event blocks (not with a progress meter, which counts events)."""
    from sysdig_user.event_table import EXTENSIONS
    from sysdig_user.scap import read_capture

    for path in paths:
        if progress is None:
            yield read_capture(path, extension_types=frozenset(EXTENSIONS), events=events)  # sdu's packet events
            continue
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, once the reader is done with it
        except OSError:
            f = None  # let the reader report it with its own message
        if f is None:
            yield read_capture(path, extension_types=frozenset(EXTENSIONS))
            continue
        with f:
            progress.watch(f)
            yield read_capture(f, extension_types=frozenset(EXTENSIONS))
