"""Decoding and encoding of the metadata block bodies: MI, IL, UL, PL and FDL (scap-format.md 5-8).

Parsers take the block body *including* its 0-3 padding bytes (block_total_length - 12 bytes),
exactly what libscap's per-block readers consume, and loop "while at least 4 bytes remain", which
is how libscap steps over the padding. Error messages are libscap's, so a user who knows sysdig
recognises them. Encoders write the newest versions only (IL_V2, UL_V2, PL_V9, FDL_V2), the ones
sysdig 0.29.3 writes.

Strings on disk are "u16 length + bytes, no NUL". They are decoded as UTF-8 with
surrogateescape so that any byte string read can be written back unchanged.
"""
from __future__ import annotations

import struct
from _collections_abc import Iterable, Sequence  # (collections.abc without collections)

from sysdig_user.scap.blocks import (
    FDL_V2,
    IL_V2,
    MAX_ARGS_SIZE,
    MAX_CGROUPS_SIZE,
    MAX_CREDENTIALS_STR_LEN,
    MAX_ENV_SIZE,
    MAX_PATH_SIZE,
    MI_BODY_SIZE,
    PL_VERSIONS,
    UL_V2,
    CaptureError,
)
from sysdig_user.scap.entries import NAME_FD_TYPES, NATIVE
from sysdig_user.scap.records import (
    PROC_ENTRY_DEFAULTS,
    FdEntry,
    FdType,
    Group,
    Interface,
    MachineInfo,
    ProcEntry,
    User,
)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

_MI = struct.Struct("<IQQ128s32x")
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_U32_PAIR = struct.Struct("<II")

# IL entry types (scap.h): the NOLINKSPEED variants come from very old writers and are read only.
_II_IPV4, _II_IPV6, _II_IPV4_NOLINKSPEED, _II_IPV6_NOLINKSPEED = 1, 2, 3, 4
# Fixed groups of PL fields: (tid, pid, ptid[, sid[, vpgid]]) by version, then the later groups.
_PL_IDS = {v: struct.Struct("<" + "q" * (3 + (v >= 6) + (v >= 8))) for v in range(1, 10)}
_PL_LIMITS = struct.Struct("<qIII")      # fdlimit, flags, uid, gid
_PL_MEMORY = struct.Struct("<IIIQQ")     # vmsize_kb, vmrss_kb, vmswap_kb, pfmajor, pfminor
_PL_VIDS = struct.Struct("<qq")          # vtid, vpid
_PL_LIMITS_MEMORY = struct.Struct("<qIIIIIIQQ")  # _PL_LIMITS then _PL_MEMORY (version >= 2)
_FD_HEAD = struct.Struct("<qQB")         # fd, ino, type
_UNIX_ENDS = struct.Struct("<QQ")        # a unix socket's source and dest
#: Size of a v1 entry without its name, per entry type (packed scap_ifinfo_* structs).
_IL_V1_FIXED = {_II_IPV4: 24, _II_IPV6: 60, _II_IPV4_NOLINKSPEED: 16, _II_IPV6_NOLINKSPEED: 52}
_USERBLOCK_TYPE_USER, _USERBLOCK_TYPE_GROUP = 0, 1

_FILE_V2, _UNIX_SOCK = FdType.FILE_V2, FdType.UNIX_SOCK  # (a member lookup on its class is slow)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _blob_list(raw: bytes) -> list[str]:
    """``b"a\\0b\\0"`` -> ``["a", "b"]``; a missing final NUL is tolerated (and added back on write)."""
    if not raw:
        return []
    parts = raw.split(b"\0")
    if raw.endswith(b"\0"):
        parts.pop()
    return [_text(p) for p in parts]


class _Cursor:
    """Bounds-checked little-endian reads over one block body."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _need(self, n: int) -> int:
        pos = self.pos
        if pos + n > len(self.data):
            raise CaptureError(f"corrupted {self.what}: an entry runs past the end of its block")
        self.pos = pos + n
        return pos

    def take(self, n: int) -> bytes:
        pos = self._need(n)
        return self.data[pos:pos + n]

    def skip(self, n: int) -> None:
        self._need(n)

    def num(self, st: struct.Struct) -> int:
        pos = self.pos
        if pos + st.size > len(self.data):
            self._need(st.size)
        self.pos = pos + st.size
        value: int = st.unpack_from(self.data, pos)[0]
        return value

    def nums(self, st: struct.Struct) -> tuple[int, ...]:
        """Several fixed-size fields at once (one bounds check, one unpack)."""
        pos = self._need(st.size)
        return st.unpack_from(self.data, pos)

    def string(self, limit: int, message: str) -> bytes:
        """A u16-prefixed string; ``len > limit`` raises ``message % len`` as libscap does."""
        pos = self.pos
        data = self.data
        if pos + 2 > len(data):
            self._need(2)
        n = data[pos] | (data[pos + 1] << 8)
        if n > limit:
            raise CaptureError(message % n)
        end = pos + 2 + n
        if end > len(data):
            self._need(2 + n)
        self.pos = end
        return data[pos + 2:end]


# ---------------------------------------------------------------------------------------------
# Decoding


def parse_machine_info(body: bytes) -> MachineInfo:
    """MI body (exactly MI_BODY_SIZE bytes)."""
    num_cpus, memory, max_pid, hostname = _MI.unpack_from(body)
    return MachineInfo(num_cpus, memory, max_pid, _text(hostname.split(b"\0", 1)[0]))


def parse_interfaces(body: bytes, block_type: int) -> list[Interface]:
    """IL v1/v2 body. In v2 each entry has a u32 length that does NOT count its own 4 bytes."""
    cur = _Cursor(body, "interface list")
    out: list[Interface] = []
    while cur.remaining() >= 4:
        toread = cur.remaining()
        entry_size = cur.num(_U32) if block_type == IL_V2 else 0
        start = cur.pos
        iftype = cur.num(_U16)
        namelen = cur.num(_U16)
        needed = entry_size + 4 if entry_size else _IL_V1_FIXED.get(iftype, 0) + namelen
        if toread < needed:
            raise CaptureError(f"trace file has corrupted interface list(2) toread={toread}, entrysize={needed}")
        if namelen >= MAX_PATH_SIZE:
            raise CaptureError("trace file has corrupted interface list(0)")
        if iftype in (_II_IPV4, _II_IPV4_NOLINKSPEED):
            family, addr_size = 4, 4
        elif iftype in (_II_IPV6, _II_IPV6_NOLINKSPEED):
            family, addr_size = 6, 16
        else:
            raise CaptureError(f"unknown interface type {iftype}")
        addr, netmask, bcast = cur.take(addr_size), cur.take(addr_size), cur.take(addr_size)
        linkspeed = cur.num(_U64) if iftype in (_II_IPV4, _II_IPV6) else 0
        name = _text(cur.take(namelen))
        out.append(Interface(family, name, addr, netmask, bcast, linkspeed))
        if entry_size:
            cur.pos = start
            cur.skip(entry_size)
    return out


def parse_users(body: bytes, block_type: int) -> tuple[list[User], list[Group]]:
    """UL v1/v2 body. In v2 each entry has a u32 length that counts its own 4 bytes."""
    what = "user list"
    users: list[User] = []
    groups: list[Group] = []
    limit = MAX_CREDENTIALS_STR_LEN - 1
    v2 = block_type == UL_V2
    size = len(body)
    pos = 0
    while size - pos >= 4:
        start = pos
        sub_len = 0
        if v2:
            sub_len = _U32.unpack_from(body, pos)[0]
            pos += 4
        if pos + 1 > size:
            raise _overrun(what)
        kind = body[pos]
        pos += 1
        if kind == _USERBLOCK_TYPE_USER:
            if pos + 8 > size:
                raise _overrun(what)
            uid, gid = _U32_PAIR.unpack_from(body, pos)
            name, pos = _string_at(body, pos + 8, limit, "invalid user name len %d", what)
            home, pos = _string_at(body, pos, limit, "invalid user homedir len %d", what)
            shell, pos = _string_at(body, pos, limit, "invalid user shell len %d", what)
            users.append(User(uid, gid, name, home, shell))
        else:  # libscap treats every non-user entry as a group
            if pos + 4 > size:
                raise _overrun(what)
            gid = _U32.unpack_from(body, pos)[0]
            name, pos = _string_at(body, pos + 4, limit, "invalid group name len %d", what)
            groups.append(Group(gid, name))
        if sub_len:
            pos = _entry_end(pos, start, sub_len, size, "userlist", what)
    return users, groups


def _overrun(what: str) -> CaptureError:
    return CaptureError(f"corrupted {what}: an entry runs past the end of its block")


def _entry_end(pos: int, start: int, sub_len: int, size: int, kind: str, what: str) -> int:
    """Honour a v2 entry length (libscap's _skip_to_entry_end): where the next entry starts, past the
    fields newer than this reader; an entry read past its length or running past the block is refused."""
    read = pos - start
    if read > sub_len:
        raise CaptureError(
            f"corrupted input file. Had read {read} bytes, but {kind} entry have length {sub_len}.")
    end = start + sub_len
    if end > size:
        raise _overrun(what)
    return end


def _skip_to_entry_end(cur: _Cursor, start: int, sub_len: int, kind: str) -> None:
    """_entry_end for a _Cursor's entry."""
    if sub_len:
        cur.pos = _entry_end(cur.pos, start, sub_len, len(cur.data), kind, cur.what)


def parse_procs(body: bytes, block_type: int, native: bool = True) -> list[ProcEntry]:
    """PL V1..V9 body (and the _INT variants). Only V9 entries carry a length prefix.

    Each entry's fields are read by the version's steps (_pl_steps) into one list, in ProcEntry's field
    order once the fields the version lacks are inserted with libscap's defaults; the entry is then
    built with one positional call. With ``native`` the compiled parser (sysdig_user/_sections.c,
    driven by the same steps) reads the block when it is built; a block it does not take whole
    (damage, anything unusual) is read here, which reports the error."""
    what = "process list"
    version = PL_VERSIONS[block_type]
    if native and NATIVE is not None:
        parsed: list[ProcEntry] | None = NATIVE.parse_procs(body, version)
        if parsed is not None:
            return parsed
    steps, missing = _PL_STEPS[version]
    v9 = version >= 9
    size = len(body)
    pos = 0
    out: list[ProcEntry] = []
    while size - pos >= 4:
        start = pos
        sub_len = 0
        if v9:
            sub_len = _U32.unpack_from(body, pos)[0]
            pos += 4
        vals: list[Any] = []
        for kind, arg, message in steps:
            if kind is _NUMS:
                if pos + arg.size > size:
                    raise _overrun(what)
                vals += arg.unpack_from(body, pos)
                pos += arg.size
                continue
            if pos + 2 > size:
                raise _overrun(what)
            n = body[pos] | (body[pos + 1] << 8)
            if n > arg:
                raise CaptureError(message % n)
            end = pos + 2 + n
            if end > size:
                raise _overrun(what)
            text = body[pos + 2:end].decode("utf-8", "surrogateescape")
            if kind is _LIST:  # NUL-separated; a missing final NUL is tolerated
                parts = text.split("\0") if n else []
                if n and body[end - 1] == 0:
                    parts.pop()
                vals.append(parts)
            else:
                vals.append(text)
            pos = end
        for index, default in missing:
            vals.insert(index, [] if default is list else default)
        # Optional trailing fields, present only if entry_len leaves room (1.2 writers before
        # loginuid existed stop after root).
        loginuid = -1
        exe_writable = False
        if sub_len and pos - start + 4 <= sub_len:
            if pos + 4 > size:
                raise _overrun(what)
            loginuid = _I32.unpack_from(body, pos)[0]
            pos += 4
        if sub_len and pos - start + 1 <= sub_len:
            if pos + 1 > size:
                raise _overrun(what)
            exe_writable = body[pos] != 0
            pos += 1
        if sub_len:
            pos = _entry_end(pos, start, sub_len, size, "proclist", what)
        vals += (loginuid, exe_writable)
        out.append(ProcEntry(*vals))
    return out


_NUMS, _STR, _LIST = "nums", "str", "list"
_PL_FIELDS = ("tid", "pid", "ptid", "sid", "vpgid", "comm", "exe", "exepath", "args", "cwd", "fdlimit", "flags",
              "uid", "gid", "vmsize_kb", "vmrss_kb", "vmswap_kb", "pfmajor", "pfminor", "env", "vtid", "vpid",
              "cgroups", "root")  # ProcEntry's fields, up to the optional trailing ones


def _pl_steps(version: int) -> tuple[tuple[tuple[str, Any, str], ...], tuple[tuple[int, Any], ...]]:
    """A PL version's entry layout (scap-format.md 8.1: "V6 = V5 with sid inserted after ptid", ...):
    the reads in file order, (kind, struct or length limit, error message), and the fields the version
    lacks, (index in _PL_FIELDS, ProcEntry's default; ``list`` for a new empty list), in index order."""
    steps: list[tuple[str, Any, str]] = [(_NUMS, _PL_IDS[version], "")]
    steps += [(_STR, MAX_PATH_SIZE, "invalid commlen %d"), (_STR, MAX_PATH_SIZE, "invalid exelen %d")]
    if version >= 7:
        steps.append((_STR, MAX_PATH_SIZE, "invalid exepathlen %d"))
    steps += [(_LIST, MAX_ARGS_SIZE, "invalid argslen %d"), (_STR, MAX_PATH_SIZE, "invalid cwdlen %d"),
              (_NUMS, _PL_LIMITS_MEMORY if version >= 2 else _PL_LIMITS, "")]
    if version >= 3:
        steps.append((_LIST, MAX_ENV_SIZE, "invalid envlen %d"))
    if version >= 4:
        steps += [(_NUMS, _PL_VIDS, ""), (_LIST, MAX_CGROUPS_SIZE, "invalid cgroupslen %d")]
    if version >= 5:
        steps.append((_STR, MAX_PATH_SIZE, "invalid rootlen %d"))
    absent = {"sid": version < 6, "vpgid": version < 8, "exepath": version < 7, "env": version < 3,
              "vtid": version < 4, "vpid": version < 4, "cgroups": version < 4, "root": version < 5}
    absent.update(dict.fromkeys(("vmsize_kb", "vmrss_kb", "vmswap_kb", "pfmajor", "pfminor"), version < 2))
    defaults = dict(PROC_ENTRY_DEFAULTS)
    missing = tuple((i, defaults[name]) for i, name in enumerate(_PL_FIELDS) if absent.get(name))
    return tuple(steps), missing


_PL_STEPS = {v: _pl_steps(v) for v in range(1, 10)}


def _native_pl_table() -> dict[int, tuple[tuple[tuple[int, Any], ...], tuple[tuple[int, Any], ...]]]:
    """_PL_STEPS as sysdig_user/_sections.c takes it: (0, struct codes) for a group of numbers, (1, limit) for
    a string, (2, limit) for a list; a missing field's default None for a fresh list."""
    kinds = {_NUMS: 0, _STR: 1, _LIST: 2}
    table = {}
    for version, (steps, missing) in _PL_STEPS.items():
        table[version] = (tuple((kinds[kind], arg.format.lstrip("<") if kind is _NUMS else arg)
                                for kind, arg, _message in steps),
                          tuple((index, None if default is list else default) for index, default in missing))
    return table


#: The compiled PL/FDL parser (scap/entries.py's, with the PL step table).
if NATIVE is not None:
    assert ProcEntry._fields == (*_PL_FIELDS, "loginuid", "exe_writable")
    NATIVE.configure(_native_pl_table(), len(_PL_FIELDS))


def _string_at(data: bytes, pos: int, limit: int, message: str, what: str) -> tuple[str, int]:
    """The u16-prefixed string at ``pos`` as text, and the position after it (_Cursor.string)."""
    if pos + 2 > len(data):
        raise CaptureError(f"corrupted {what}: an entry runs past the end of its block")
    n = data[pos] | (data[pos + 1] << 8)
    if n > limit:
        raise CaptureError(message % n)
    end = pos + 2 + n
    if end > len(data):
        raise CaptureError(f"corrupted {what}: an entry runs past the end of its block")
    return data[pos + 2:end].decode("utf-8", "surrogateescape"), end


def parse_fds(body: bytes, block_type: int, native: bool = True) -> tuple[int, list[FdEntry]]:
    """FDL v1/v2 body: the owning tid, then fd entries (v2 entries carry a self-counting length).
    File-like entries (nearly all of them) are read inline; the others through _parse_fd. With
    ``native``, the compiled parser first, as parse_procs."""
    v2 = block_type == FDL_V2
    if native and NATIVE is not None:
        parsed: tuple[int, list[FdEntry]] | None = NATIVE.parse_fds(body, v2)
        if parsed is not None:
            return parsed
    cur = _Cursor(body, "fd list")
    tid = cur.num(_I64)
    fds: list[FdEntry] = []
    append = fds.append
    size = len(body)
    head = _FD_HEAD.unpack_from
    name_types = NAME_FD_TYPES
    file_v2 = _FILE_V2
    unix_sock = _UNIX_SOCK
    limit = MAX_PATH_SIZE - 1
    pos = cur.pos
    while size - pos >= 4:
        # v1 entry: fd, ino, type, then per type; v2: the same after a u32 length counting itself.
        # The entry is built once its fields are read.
        p = pos + 4 if v2 else pos
        if p + 17 + 2 <= size:
            fd, ino, t = head(body, p)
            p += 17
            source = dest = open_flags = 0
            is_file = t == file_v2 and p + 6 <= size
            if is_file:
                open_flags = body[p] | (body[p + 1] << 8) | (body[p + 2] << 16) | (body[p + 3] << 24)
                p += 4
            elif t in name_types:
                pass
            elif t == unix_sock and p + 18 <= size:
                source, dest = _UNIX_ENDS.unpack_from(body, p)
                p += 16
            else:
                p = -1
            if p >= 0:
                n = body[p] | (body[p + 1] << 8)
                end = p + 2 + n
                if n <= limit and end <= size:
                    name = body[p + 2:end].decode("utf-8", "surrogateescape")
                    if not v2:
                        e = FdEntry(fd, ino, t, name, open_flags)
                        if t == unix_sock:
                            e.source, e.dest = source, dest
                        append(e)
                        pos = end
                        continue
                    sub_len = body[pos] | (body[pos + 1] << 8) | (body[pos + 2] << 16) | (body[pos + 3] << 24)
                    used = end - pos
                    dev = 0
                    if is_file and used + 4 <= sub_len and end + 4 <= size:  # dev is optional in FDL_V2
                        dev = _U32.unpack_from(body, end)[0]
                        used += 4
                    if used <= sub_len and pos + sub_len <= size:
                        e = FdEntry(fd, ino, t, name, open_flags, dev)
                        if t == unix_sock:
                            e.source, e.dest = source, dest
                        append(e)
                        pos += sub_len
                        continue
        cur.pos = pos  # anything else (and every error) the careful way
        append(_parse_fd(cur, v2))
        pos = cur.pos
    return tid, fds


def _fd_name(cur: _Cursor) -> str:
    return _text(cur.string(MAX_PATH_SIZE - 1, "invalid filename len %d"))


def _parse_fd(cur: _Cursor, v2: bool) -> FdEntry:
    start = cur.pos
    sub_len = cur.num(_U32) if v2 else 0
    fd, ino, t = cur.nums(_FD_HEAD)
    e = FdEntry(fd, ino, t)
    if t in (FdType.IPV4_SOCK, FdType.IPV6_SOCK):
        size = 4 if t == FdType.IPV4_SOCK else 16
        e.sip, e.dip = cur.take(size), cur.take(size)
        e.sport, e.dport, e.l4proto = cur.num(_U16), cur.num(_U16), cur.num(_U8)
    elif t in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK):
        e.sip = cur.take(4 if t == FdType.IPV4_SERVSOCK else 16)
        e.sport, e.l4proto = cur.num(_U16), cur.num(_U8)
    elif t == FdType.UNIX_SOCK:
        e.source, e.dest = cur.num(_U64), cur.num(_U64)
        e.name = _fd_name(cur)
    elif t == FdType.FILE_V2:
        e.open_flags = cur.num(_U32)
        e.name = _fd_name(cur)
        if sub_len and cur.pos - start + 4 <= sub_len:  # dev is optional (added within FDL_V2)
            e.dev = cur.num(_U32)
    elif t in NAME_FD_TYPES:
        e.name = _fd_name(cur)
    elif sub_len:
        # A type from a newer writer: its entry length lets us step over it; newer libscap shows
        # such fds the same way.
        e.type, e.name = FdType.UNSUPPORTED, f"unknown-type:[{t}]"
    else:
        raise CaptureError(f"corrupted fd list: unknown fd type {t}")
    _skip_to_entry_end(cur, start, sub_len, "fdlist")
    return e


# ---------------------------------------------------------------------------------------------
# Encoding


def _enc(s: str, limit: int) -> bytes:
    """String(u16) field, cut to the size the reader accepts (libscap cuts /proc data the same way)."""
    raw = s.encode("utf-8", "surrogateescape")[:limit]
    return _U16.pack(len(raw)) + raw


def _enc_list(items: Iterable[str], limit: int) -> bytes:
    raw = b"".join(s.encode("utf-8", "surrogateescape") + b"\0" for s in items)[:limit]
    return _U16.pack(len(raw)) + raw


def _addr(raw: bytes, size: int) -> bytes:
    if not raw:
        return bytes(size)
    if len(raw) != size:
        raise ValueError(f"address must be {size} bytes, got {len(raw)}")
    return raw


def build_machine_info(mi: MachineInfo) -> bytes:
    host = mi.hostname.encode("utf-8", "surrogateescape")[:127]
    body = _MI.pack(mi.num_cpus & 0xFFFFFFFF, mi.memory_size_bytes, mi.max_pid, host)
    assert len(body) == MI_BODY_SIZE
    return body


def build_interfaces(interfaces: Iterable[Interface]) -> bytes:
    """IL_V2 body."""
    parts: list[bytes] = []
    for i in interfaces:
        size = 4 if i.family == 4 else 16
        name = i.name.encode("utf-8", "surrogateescape")[:MAX_PATH_SIZE - 1]
        entry = b"".join((
            struct.pack("<HH", _II_IPV4 if i.family == 4 else _II_IPV6, len(name)),
            _addr(i.addr, size), _addr(i.netmask, size), _addr(i.bcast, size),
            _U64.pack(i.linkspeed), name))
        parts.append(_U32.pack(len(entry)) + entry)
    return b"".join(parts)


def build_users(users: Iterable[User], groups: Iterable[Group]) -> bytes:
    """UL_V2 body: users, then groups (sysdig's order)."""
    limit = MAX_CREDENTIALS_STR_LEN - 1
    parts: list[bytes] = []
    for u in users:
        entry = b"".join((_U8.pack(_USERBLOCK_TYPE_USER), _U32.pack(u.uid & 0xFFFFFFFF),
                          _U32.pack(u.gid & 0xFFFFFFFF), _enc(u.name, limit), _enc(u.homedir, limit),
                          _enc(u.shell, limit)))
        parts.append(_U32.pack(len(entry) + 4) + entry)
    for g in groups:
        entry = _U8.pack(_USERBLOCK_TYPE_GROUP) + _U32.pack(g.gid & 0xFFFFFFFF) + _enc(g.name, limit)
        parts.append(_U32.pack(len(entry) + 4) + entry)
    return b"".join(parts)


_M64 = (1 << 64) - 1
_M32 = 0xFFFFFFFF


def build_proc(p: ProcEntry) -> bytes:
    """One PL_V9 entry (129 bytes + the 8 strings), including its self-counting length."""
    body = b"".join((
        struct.pack("<QQQQQ", p.tid & _M64, p.pid & _M64, p.ptid & _M64, p.sid & _M64, p.vpgid & _M64),
        _enc(p.comm, MAX_PATH_SIZE), _enc(p.exe, MAX_PATH_SIZE), _enc(p.exepath, MAX_PATH_SIZE),
        _enc_list(p.args, MAX_ARGS_SIZE), _enc(p.cwd, MAX_PATH_SIZE),
        struct.pack("<QIIIIIIQQ", p.fdlimit & _M64, p.flags & _M32, p.uid & _M32, p.gid & _M32,
                    p.vmsize_kb & _M32, p.vmrss_kb & _M32, p.vmswap_kb & _M32, p.pfmajor, p.pfminor),
        _enc_list(p.env, MAX_ENV_SIZE),
        struct.pack("<QQ", p.vtid & _M64, p.vpid & _M64),
        _enc_list(p.cgroups, MAX_CGROUPS_SIZE), _enc(p.root, MAX_PATH_SIZE),
        struct.pack("<IB", p.loginuid & _M32, 1 if p.exe_writable else 0),
    ))
    return _U32.pack(len(body) + 4) + body


def build_procs(procs: Iterable[ProcEntry]) -> bytes:
    """PL_V9 body."""
    return b"".join(build_proc(p) for p in procs)


def build_fd(e: FdEntry) -> bytes:
    """One FDL_V2 entry, including its self-counting length."""
    t = e.type
    if t in (FdType.IPV4_SOCK, FdType.IPV6_SOCK):
        size = 4 if t == FdType.IPV4_SOCK else 16
        payload = _addr(e.sip, size) + _addr(e.dip, size) + struct.pack("<HHB", e.sport, e.dport, e.l4proto)
    elif t in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK):
        size = 4 if t == FdType.IPV4_SERVSOCK else 16
        payload = _addr(e.sip, size) + struct.pack("<HB", e.sport, e.l4proto)
    elif t == FdType.UNIX_SOCK:
        payload = struct.pack("<QQ", e.source & _M64, e.dest & _M64) + _enc(e.name, MAX_PATH_SIZE - 1)
    elif t == FdType.FILE_V2:
        payload = _U32.pack(e.open_flags & _M32) + _enc(e.name, MAX_PATH_SIZE - 1) + _U32.pack(e.dev & _M32)
    elif t in NAME_FD_TYPES:
        payload = _enc(e.name, MAX_PATH_SIZE - 1)
    else:
        raise ValueError(f"cannot write fd {e.fd}: unknown fd type {t}")
    body = struct.pack("<QQB", e.fd & _M64, e.ino & _M64, t) + payload
    return _U32.pack(len(body) + 4) + body


def build_fds(tid: int, fds: Sequence[FdEntry]) -> bytes:
    """FDL_V2 body."""
    return _U64.pack(tid & _M64) + b"".join(build_fd(e) for e in fds)
