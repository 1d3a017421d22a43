"""The container JSON event sdu writes (sysdig_user/scap/container_json.py): sinsp's keys and layout.

sysdig reading it is checked in tests/live/test_container_events.py; here the bytes and the keys.
"""
from __future__ import annotations

import json
import struct

from sysdig_user.event import Event
from sysdig_user.scap.container_json import (
    CONTAINER_JSON_2_E,
    CONTAINER_JSON_E,
    CT_DOCKER,
    ContainerRecord,
    MountRecord,
    event_raw,
    to_json,
)


def test_keys_are_sinsps() -> None:
    rec = ContainerRecord("abc123def456", CT_DOCKER, "web", "nginx:1.25", "9c9c9c9c9c9c", "nginx", "1.25",
                          privileged=True, mounts=[MountRecord("/srv", "/data", "z", True, "rprivate")])
    text = to_json(rec)
    assert text.endswith("}\n") and "\n" not in text[:-1]  # jsoncpp's FastWriter: compact, one newline
    c = json.loads(text)["container"]
    assert (c["id"], c["type"], c["name"], c["image"], c["imageid"], c["imagerepo"], c["imagetag"],
            c["privileged"]) == ("abc123def456", 0, "web", "nginx:1.25", "9c9c9c9c9c9c", "nginx", "1.25", True)
    assert c["Mounts"] == [{"Source": "/srv", "Destination": "/data", "Mode": "z", "RW": True,
                            "Propagation": "rprivate"}]
    assert c["labels"] is None and c["ip"] == "0.0.0.0"


def test_event_layout_small_and_large() -> None:
    text = to_json(ContainerRecord("abc123def456", CT_DOCKER))
    raw = event_raw(1_700_000_000_000_000_000, text)
    _ts, tid, length, code, nparams = struct.unpack_from("<QqIHI", raw)
    assert (tid, length, code, nparams) == (-1, len(raw), CONTAINER_JSON_E, 1)
    evt = Event(raw, 0, 0)
    assert evt.param(0).rstrip("\0") == text
    big = to_json(ContainerRecord("x", CT_DOCKER, labels={"k": "v" * 70000}))
    raw2 = event_raw(1, big)
    assert struct.unpack_from("<QqIHI", raw2)[3] == CONTAINER_JSON_2_E
    assert struct.unpack_from("<I", raw2, 26)[0] == len(big.encode()) + 1
