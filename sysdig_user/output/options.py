"""What a line's look depends on, without the formatter: the default and container formats, the
command line's output options, and a -p format's escapes. The command line and the pipeline read these
at every start; sysdig_user/output/formatter.py (the Python formatter, with its field binding and
generated line functions) is imported only by a run that formats a line in Python: a read the compiled
line prints whole never does.
"""
from __future__ import annotations

from sysdig_user.errors import FieldError
from sysdig_user.output.render import RenderOptions
from sysdig_user.output.timefmt import OutputTime
from sysdig_user.rows import Record

DEFAULT_FORMAT = "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
#: what sysdig's -pc/-pcontainer, -pk/-pkubernetes and -pm/-pmesos print instead (sysdig.cpp); they also
#: tell chisels to show container data. sdu keeps no k8s or mesos metadata: their name shows as <NA>,
#: what sysdig shows for a capture without k8s/mesos events.
CONTAINER_FORMATS = {
    "c": "*%evt.num %evt.outputtime %evt.cpu %container.name (%container.id) %proc.name "
         "(%thread.tid:%thread.vtid) %evt.dir %evt.type %evt.info",
    "k": "*%evt.num %evt.outputtime %evt.cpu <NA> (%container.id) %proc.name (%thread.tid:%thread.vtid) "
         "%evt.dir %evt.type %evt.info",
    "m": "*%evt.num %evt.outputtime %evt.cpu <NA> (%container.id) %proc.name (%thread.tid:%thread.vtid) "
         "%evt.dir %evt.type %evt.info",
}
CONTAINER_FORMATS.update({"container": CONTAINER_FORMATS["c"], "kubernetes": CONTAINER_FORMATS["k"],
                          "mesos": CONTAINER_FORMATS["m"]})
NA = "<NA>"
#: What sysdig prints when a capture ends if its -p format holds an escape character (a colour left on).
COLOR_RESET = "\x1b[00m"


class FormatError(FieldError):
    """A -p format sysdig would refuse; the message is sysdig's."""


class OutputOptions(Record):
    """Everything from the command line that changes how an event prints."""

    _fields = ("render", "time", "json")
    __slots__ = _fields
    render: RenderOptions
    time: OutputTime
    json: bool

    def __init__(self, render: RenderOptions | None = None, time: OutputTime | None = None,
                 json: bool = False) -> None:
        self.render = RenderOptions() if render is None else render
        self.time = OutputTime() if time is None else time
        self.json = json


_ESCAPES = {"n": "\n", "t": "\t", "e": "\x1b", "\\": "\\"}


def unescape_format(fmt: str) -> str:
    """A ``-p`` format as typed -> the format sysdig uses: ``\\n`` a newline, ``\\t`` a tab, ``\\e`` an
    escape character, ``\\\\`` one backslash; a backslash before anything else stays as typed (``\\r``,
    ``\\x41``, ``\\%``). Only the command line's format is read this way: a chisel's format is used as it
    is (both measured against sysdig 0.29.3). A format ending in a lone backslash is refused (sysdig
    exits with status 1 and prints nothing)."""
    if "\\" not in fmt:
        return fmt
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i == n - 1:
            raise FormatError("invalid formatting syntax: formatting cannot end with a \\")
        nxt = fmt[i + 1]
        out.append(_ESCAPES.get(nxt, c + nxt))
        i += 2
    return "".join(out)


__all__ = ["COLOR_RESET", "CONTAINER_FORMATS", "DEFAULT_FORMAT", "NA", "FormatError", "OutputOptions",
           "unescape_format"]
