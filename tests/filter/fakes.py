"""A dict-backed fake field registry for the filter tests: real sysdig 0.29 names and types, events
as plain dicts (a missing key = the field is not available for that event)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sysdig_user.filter import UnknownField

# name -> sysdig param type name (from `sysdig -l -v` 0.29.3)
FIELD_TYPES = {
    "evt.num": "UINT64", "evt.type": "CHARBUF", "evt.dir": "CHARBUF", "evt.rawres": "INT64",
    "evt.res": "CHARBUF", "evt.failed": "BOOL", "evt.latency": "RELTIME", "evt.rawtime": "ABSTIME",
    "evt.cpu": "INT16", "evt.buffer": "BYTEBUF", "evt.arg": "CHARBUF", "evt.rawarg": "DYN",
    "evt.is_io": "BOOL", "proc.name": "CHARBUF", "proc.pid": "INT64", "proc.aname": "CHARBUF",
    "proc.apid": "INT64", "proc.cmdline": "CHARBUF", "fd.name": "CHARBUF", "fd.num": "INT64",
    "fd.type": "CHARBUF", "fd.cip": "IPADDR", "fd.sip": "IPADDR", "fd.ip": "IPADDR",
    "fd.net": "IPNET", "fd.cport": "PORT", "fd.sport": "PORT", "fd.directory": "CHARBUF",
    "user.uid": "UINT32", "user.name": "CHARBUF", "thread.tid": "INT64",
}
WITH_ARG = {"evt.arg", "evt.rawarg", "proc.aname", "proc.apid"}
EVENT_TYPES = {"open", "openat", "read", "write", "connect", "close", "execve", "sendto", "recvfrom",
               "access", "brk", "mmap", "socket"}


@dataclass
class FakeField:
    name: str
    ftype: Any
    key: str

    def extract(self, evt: dict[str, Any]) -> Any:
        return evt.get(self.key)


@dataclass
class EventTypeField(FakeField):
    def parse_value(self, text: str) -> str:
        if text not in EVENT_TYPES:
            raise ValueError(f"unknown event type {text}")
        return text


def resolve(name: str, arg: str | None, pos: int) -> FakeField:
    """Resolver over FIELD_TYPES; events key argument fields as "name[arg]"."""
    if name not in FIELD_TYPES or (arg is not None and name not in WITH_ARG):
        raise UnknownField(name if arg is None else f"{name}[{arg}]", pos)
    if name in WITH_ARG and arg is None and name.startswith("evt."):
        raise UnknownField(name, pos)
    key = name if arg is None else f"{name}[{arg}]"
    cls = EventTypeField if name == "evt.type" else FakeField
    return cls(name, FIELD_TYPES[name], key)
