"""Kernel-side classic BPF filters: tcpdump expression -> instructions -> SO_ATTACH_FILTER.

Compiling needs libpcap's compiler, reached in one of two ways, tried in this order:

1. ``tcpdump -y LINKTYPE -s SNAPLEN -ddd EXPR`` (tcpdump >= 4.0 prints the program as decimal numbers:
   a count line, then "code jt jf k" per instruction). No interface is opened, so this needs no privilege.
2. scapy's ``compile_filter(expr, linktype=...)``, which loads libpcap.so through ctypes and calls
   pcap_compile on a pcap_open_dead handle.

With neither tcpdump nor libpcap installed, a filter expression is a FilterError naming both; capturing
without a filter still works.
"""
from __future__ import annotations

import ctypes
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
    tcpdump = shutil.which("tcpdump")
    if tcpdump is not None and linktype in _DLT_NAMES:
        return _compile_with_tcpdump(tcpdump, expr, linktype, snaplen)
    return _compile_with_libpcap(expr, linktype, snaplen)


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


def _compile_with_libpcap(expr: str, linktype: int, snaplen: int) -> list[Insn]:
    try:
        from scapy.arch.common import compile_filter
        from scapy.error import Scapy_Exception
    except ImportError:
        raise FilterError("a capture filter needs tcpdump or scapy with libpcap; neither is installed") from None
    try:
        bpf = compile_filter(expr, linktype=linktype)
    except (ImportError, OSError, Scapy_Exception) as err:  # no libpcap, or pcap_compile's message
        raise FilterError(f"bad capture filter {expr!r}: {err}") from None
    prog = [Insn(int(i.code), int(i.jt), int(i.jf), int(i.k)) for i in bpf.bf_insns[:bpf.bf_len]]
    # libpcap compiled with scapy's MTU as snaplen; accepting returns carry it, so restate ours.
    return [Insn(i.code, 0, 0, snaplen) if i.code == BPF_RET_K and i.k else i for i in prog]


def attach(sock: socket.socket, program: Sequence[Insn]) -> None:
    """SO_ATTACH_FILTER: struct sock_fprog holds a pointer, hence ctypes; the kernel copies the array
    during setsockopt, so it only has to outlive this call."""
    array = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    fprog = _SockFprog(len(program), ctypes.cast(array, ctypes.POINTER(_SockFilter)))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
