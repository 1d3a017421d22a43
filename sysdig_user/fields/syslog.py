"""The syslog.* fields: the message of a write to /dev/log, decoded as "<PRI>message".

libsinsp's syslog protocol decoder (protodecoder.cpp, libs e5c53d64) decodes successful writes to fds
whose name contains "/dev/log" and is reset after each event, so the fields have values on those write
exits only. PRI is read from the byte after the first, up to '>' (at most 15 characters).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sysdig_user.event_table import EF, EVENTS, PF, PT
from sysdig_user.fields.base import FieldClass, FieldDef, plain
from sysdig_user.rows import FrozenRow, set_slot

if TYPE_CHECKING:
    from sysdig_user.event import Event

SEVERITIES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "clock", "authpriv",
              "ftp", "ntp", "logaudit", "logalert", "cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")
_WRITES_TO_FD = int(EF.WRITES_TO_FD)
_WRITE_EXITS = frozenset(e.code for e in EVENTS if e.code & 1 and int(e.flags) & _WRITES_TO_FD)
_DATA_IDX = {e.code: e.param_index("data") for e in EVENTS}


class SyslogMessage(FrozenRow):
    _fields = ("priority", "message")
    __slots__ = _fields
    priority: int
    message: str

    def __init__(self, priority: int, message: str) -> None:
        set_slot(self, "priority", priority)
        set_slot(self, "message", message)

    @property
    def severity(self) -> int:
        return self.priority & 7

    @property
    def facility(self) -> int:
        return self.priority >> 3

    @property
    def severity_str(self) -> str:
        return SEVERITIES[self.severity]

    @property
    def facility_str(self) -> str:
        f = self.facility
        return FACILITIES[f] if 0 <= f < len(FACILITIES) else "<NA>"


def parse_syslog(data: bytes) -> SyslogMessage | None:
    """b"<14>hello" -> SyslogMessage(14, "hello"); None when PRI is missing or not a number."""
    pri = bytearray()
    for b in data[1:16]:
        if b in (0x3E, 0):  # '>' or NUL
            break
        pri.append(b)
    n = len(pri)
    if n == 0 or len(data) < n + 2:
        return None
    text = pri.decode("ascii", "replace")
    body = text[1:] if text[0] in "+-" else text
    if not body.isdigit():
        return None
    msg = data[n + 2:].decode("utf-8", "surrogateescape")
    return SyslogMessage(int(text), msg)


def decode_syslog(evt: Event) -> SyslogMessage | None:
    """The syslog message this event writes, if it is a successful write to a /dev/log fd."""
    fdinfo = evt.fdinfo
    if evt.type not in _WRITE_EXITS or fdinfo is None or "/dev/log" not in fdinfo.name:
        return None
    res = evt.param(0) if evt.nparams else None
    idx = _DATA_IDX.get(evt.type, -1)
    if not isinstance(res, int) or res < 0 or idx < 0 or idx >= evt.nparams:
        return None
    data = evt.param(idx)
    return parse_syslog(data) if isinstance(data, bytes) else None


def _facility_str(evt: Event) -> str | None:
    m = decode_syslog(evt)
    return None if m is None else m.facility_str


def _facility(evt: Event) -> int | None:
    m = decode_syslog(evt)
    return None if m is None else m.facility


def _severity_str(evt: Event) -> str | None:
    m = decode_syslog(evt)
    return None if m is None else m.severity_str


def _severity(evt: Event) -> int | None:
    m = decode_syslog(evt)
    return None if m is None else m.severity


def _message(evt: Event) -> str | None:
    m = decode_syslog(evt)
    return None if m is None else m.message


CLASS = FieldClass("syslog", "Content of Syslog messages.", (
    FieldDef("syslog.facility.str", PT.CHARBUF, PF.NA,
        'facility as a string.',
        plain(_facility_str)),
    FieldDef("syslog.facility", PT.UINT32, PF.DEC,
        'facility as a number (0-23).',
        plain(_facility)),
    FieldDef("syslog.severity.str", PT.CHARBUF, PF.NA,
        'severity as a string. Can have one of these values: emerg, alert, crit, err, warn, '
        'notice, info, debug',
        plain(_severity_str)),
    FieldDef("syslog.severity", PT.UINT32, PF.DEC,
        'severity as a number (0-7).',
        plain(_severity)),
    FieldDef("syslog.message", PT.CHARBUF, PF.NA,
        'message sent to syslog.',
        plain(_message)),
))
