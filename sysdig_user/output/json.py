"""``-j``: one JSON object per event, as sysdig 0.29.3 writes it with jsoncpp's FastWriter.

Keys are the format's field names in sorted order (jsoncpp keeps object members in a std::map),
numeric fields are JSON numbers, everything else the field's text; literal text of the format is
dropped. A missing field makes the whole event disappear unless the format starts with ``*``, in
which case the value is ``null``. Non-ASCII characters are written as ``\\uXXXX`` escapes, as
jsoncpp does when it is not told to emit UTF-8.
"""
from __future__ import annotations

import json
import re
from _collections_abc import Sequence  # (collections.abc without collections)
from typing import TYPE_CHECKING, Any

from sysdig_user.event_table import PT

#: Field types jsoncpp receives as integers (sinsp_filter_check::rawval_to_json).
NUMERIC_TYPES = frozenset({PT.INT8, PT.INT16, PT.INT32, PT.INT64, PT.UINT8, PT.UINT16, PT.UINT32,
                           PT.UINT64, PT.PID, PT.ERRNO, PT.FD, PT.RELTIME, PT.ABSTIME, PT.PORT,
                           PT.L4PROTO, PT.SOCKFAMILY, PT.UID, PT.GID, PT.SIGTYPE, PT.SYSCALLID})

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.output.formatter import Token

_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
# jsoncpp escapes the control characters below 0x20 but writes DEL (0x7f) as it is; Python's encoder
# escapes it: undo that escape (one preceded by an even run of backslashes, i.e. not an escaped '\')
_DEL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u007f")


def _encode(root: dict[str, Any]) -> str:
    text = _encoder.encode(root)
    if "\\u007f" in text:
        text = _DEL_ESCAPE.sub("\\1\x7f", text)
    return text


def json_value(field: Any, value: Any) -> Any:
    """The JSON value of an extracted field value: the field's own ``to_json`` when it has one,
    numbers as numbers, anything else as the field's text."""
    to_json = getattr(field, "to_json", None)
    if to_json is not None:
        return to_json(value)
    ftype = getattr(field, "ftype", None)
    if ftype is not None:
        if ftype in NUMERIC_TYPES and isinstance(value, int) and not isinstance(value, bool):
            return value
        if ftype is PT.DOUBLE and isinstance(value, float):
            return value
        return field.to_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return field.to_text(value)


class JsonLine:
    """Formats one event as a JSON object line from compiled format tokens."""

    __slots__ = ("require_all", "tokens")

    def __init__(self, tokens: Sequence[Token], require_all: bool) -> None:
        self.tokens = list(tokens)
        self.require_all = require_all

    def format(self, evt: Event) -> str | None:
        if not self.tokens:
            return "null"  # a format without fields: sysdig's JSON value is empty
        root: dict[str, Any] = {}
        for tok in self.tokens:
            value = tok.field.extract(evt)
            if value is None:
                if self.require_all:
                    return None
                root[tok.key] = None
                continue
            root[tok.key] = json_value(tok.field, value)
        return _encode(root)
