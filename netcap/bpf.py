"""Kernel-side classic BPF filters: tcpdump expression -> instructions -> SO_ATTACH_FILTER.

Compiling needs libpcap's compiler, reached in one of two ways, tried in this order:

1. libpcap itself through ctypes: ``pcap_compile`` on a ``pcap_open_dead(linktype, snaplen)`` handle
   (no interface opened, no privilege, no process started), the program copied out and freed.
2. ``tcpdump -y LINKTYPE -s SNAPLEN -ddd EXPR`` (tcpdump >= 4.0 prints the program as decimal numbers:
   a count line, then "code jt jf k" per instruction), where libpcap.so cannot be loaded on its own.

With neither, a filter expression is a FilterError naming both; capturing without a filter still works.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import socket
import subprocess
from collections.abc import Sequence
from typing import NamedTuple

from netcap.errors import FilterError

SO_ATTACH_FILTER = 26

# linux/filter.h opcodes used by the instructions netcap writes itself.
BPF_LD_W_ABS = 0x20    # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15       # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06       # BPF_RET | BPF_K
# Loading from SKF_AD_OFF + SKF_AD_PKTTYPE reads skb->pkt_type (linux/filter.h, since 2.6.x).
SKF_AD_PKTTYPE_LOAD = (-0x1000 + 4) & 0xFFFFFFFF
PACKET_OUTGOING = 4

# DLT names tcpdump's -y accepts, by pcap link type.
_DLT_NAMES = {1: "EN10MB", 101: "RAW"}
# pcap_open_dead takes a DLT_ value, not the LINKTYPE_ of a file: they differ for raw IP (DLT_RAW is 12
# on Linux, LINKTYPE_RAW 101)
_DLT_VALUES = {101: 12}


class Insn(NamedTuple):
    """struct sock_filter."""

    code: int
    jt: int
    jf: int
    k: int


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def accept_all(snaplen: int) -> list[Insn]:
    """The program for "no expression": keep every packet, cut at snaplen."""
    return [Insn(BPF_RET_K, 0, 0, snaplen)]


def drop_outgoing(program: Sequence[Insn]) -> list[Insn]:
    """Prefix program with "drop if PACKET_OUTGOING".

    On a loopback device every packet passes dev_queue_xmit_nit (as outgoing) and then netif_rx (as
    incoming), so an ETH_P_ALL socket sees it twice. libpcap discards the outgoing copy on loopback, and
    `tcpdump -i lo` shows each packet once as "In"; doing the same in the kernel keeps the duplicate out of
    the ring and out of the received count. Jumps in classic BPF are relative, so prepending does not
    disturb the program's own offsets.
    """
    return [Insn(BPF_LD_W_ABS, 0, 0, SKF_AD_PKTTYPE_LOAD),
            Insn(BPF_JEQ_K, 0, 1, PACKET_OUTGOING),
            Insn(BPF_RET_K, 0, 0, 0),
            *program]


def compile_expr(expr: str, linktype: int, snaplen: int) -> list[Insn]:
    """tcpdump-style expression -> classic BPF for frames of linktype; raises FilterError."""
    libpcap = _libpcap()
    if libpcap is not None:
        return _compile_with_libpcap(libpcap, expr, linktype, snaplen)
    tcpdump = shutil.which("tcpdump")
    if tcpdump is not None and linktype in _DLT_NAMES:
        return _compile_with_tcpdump(tcpdump, expr, linktype, snaplen)
    raise FilterError("a capture filter needs libpcap (libpcap0.8) or tcpdump; neither is installed")


def _compile_with_tcpdump(tcpdump: str, expr: str, linktype: int, snaplen: int) -> list[Insn]:
    argv = [tcpdump, "-y", _DLT_NAMES[linktype], "-s", str(snaplen), "-ddd", "--", expr]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise FilterError(f"cannot run tcpdump to compile the filter: {err}") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        reason = detail[-1].removeprefix("tcpdump: ") if detail else f"exit status {done.returncode}"
        raise FilterError(f"bad capture filter {expr!r}: {reason}")
    lines = done.stdout.split("\n")
    try:
        count = int(lines[0])
        prog = [Insn(*(int(x) for x in line.split())) for line in lines[1:1 + count]]
    except (ValueError, TypeError):
        raise FilterError(f"unexpected output from {tcpdump} -ddd for {expr!r}") from None
    if len(prog) != count:
        raise FilterError(f"unexpected output from {tcpdump} -ddd for {expr!r}")
    return prog


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_SockFilter))]


_PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF  # pcap.h: no netmask known ("ip broadcast" then fails to compile)
_LIBPCAP_NAMES = ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so")
_libpcap_handle: list[ctypes.CDLL | None] = []  # loaded once: [handle or None]


def _libpcap() -> ctypes.CDLL | None:
    """libpcap.so with the four functions typed, or None where it is not installed."""
    if _libpcap_handle:
        return _libpcap_handle[0]
    lib = None
    found = ctypes.util.find_library("pcap")
    for name in ((found,) if found else ()) + _LIBPCAP_NAMES:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is not None:
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.restype = ctypes.c_int
        lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
                                     ctypes.c_int, ctypes.c_uint32]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
        lib.pcap_close.argtypes = [ctypes.c_void_p]
    _libpcap_handle.append(lib)
    return lib


def _compile_with_libpcap(lib: ctypes.CDLL, expr: str, linktype: int, snaplen: int) -> list[Insn]:
    handle = lib.pcap_open_dead(_DLT_VALUES.get(linktype, linktype), snaplen)
    if not handle:
        raise FilterError(f"libpcap cannot compile for link type {linktype}")
    try:
        prog = _BpfProgram()
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode("utf-8", "surrogateescape"), 1,
                            _PCAP_NETMASK_UNKNOWN) != 0:
            reason = (lib.pcap_geterr(handle) or b"syntax error").decode("utf-8", "replace")
            raise FilterError(f"bad capture filter {expr!r}: {reason}")
        try:
            return [Insn(i.code, i.jt, i.jf, i.k) for i in prog.bf_insns[:prog.bf_len]]
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)


def attach(sock: socket.socket, program: Sequence[Insn]) -> None:
    """SO_ATTACH_FILTER: struct sock_fprog holds a pointer, hence ctypes; the kernel copies the array
    during setsockopt, so it only has to outlive this call."""
    array = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    fprog = _SockFprog(len(program), ctypes.cast(array, ctypes.POINTER(_SockFilter)))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
