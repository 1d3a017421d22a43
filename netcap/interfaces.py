"""Which interfaces can be captured, and with which link type.

The link type decides what a frame starts with: ARPHRD_ETHER and ARPHRD_LOOPBACK devices hand an
AF_PACKET SOCK_RAW socket an Ethernet header (loopback's is all zeros), ARPHRD_NONE devices (tun,
WireGuard) hand it the bare IP packet. Other hardware types (GRE, SIT, IPoIB, CAN, ...) have headers the
dissector does not know, so they are not captured: naming one is an InterfaceError, "all" skips it.
"""
from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

from netcap.errors import InterfaceError
from netcap.layers import LINKTYPE_ETHERNET, LINKTYPE_RAW
from netcap.records import Interface

SYS_CLASS_NET = Path("/sys/class/net")

# linux/if_arp.h hardware type -> pcap link type of what a SOCK_RAW packet socket reads on it.
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 65534
ARPHRD_TO_LINKTYPE = {ARPHRD_ETHER: LINKTYPE_ETHERNET, ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,
                      ARPHRD_NONE: LINKTYPE_RAW}

#: Spellings of "every interface"; "any" is tcpdump's.
ALL_NAMES = frozenset({"all", "any", "*"})


def _arphrd(name: str) -> int | None:
    try:
        return int((SYS_CLASS_NET / name / "type").read_text())
    except (OSError, ValueError):
        # The interface went away between if_nameindex() and this read (a veth whose peer namespace
        # died, a tun closed by its owner): nothing to capture there, so it is simply not listed.
        return None


def list_interfaces() -> list[Interface]:
    """Every interface of this network namespace whose link type netcap can dissect."""
    found = []
    for ifindex, name in socket.if_nameindex():
        arphrd = _arphrd(name)
        if arphrd in ARPHRD_TO_LINKTYPE:
            found.append(Interface(ifindex, name, arphrd, ARPHRD_TO_LINKTYPE[arphrd]))
    return found


def resolve(ifaces: str | Sequence[str] | None) -> list[Interface]:
    """None, "all" or "any" -> every capturable interface; "lo,eth0" or ["lo", "eth0"] -> those, in order.

    New interfaces appearing after start() are not picked up (each gets its own socket at start).
    """
    if ifaces is None:
        ifaces = "all"
    names = [n.strip() for n in ifaces.split(",")] if isinstance(ifaces, str) else list(ifaces)
    if any(n in ALL_NAMES for n in names):
        return list_interfaces()
    chosen = []
    for name in names:
        try:
            ifindex = socket.if_nametoindex(name)
        except OSError:
            raise InterfaceError(f"no such network interface: {name}") from None
        arphrd = _arphrd(name)
        if arphrd not in ARPHRD_TO_LINKTYPE:
            raise InterfaceError(f"interface {name} has link type {arphrd}, which netcap cannot dissect")
        chosen.append(Interface(ifindex, name, arphrd, ARPHRD_TO_LINKTYPE[arphrd]))
    if not chosen:
        raise InterfaceError("no network interface to capture on")
    return chosen


def is_loopback(iface: Interface) -> bool:
    return iface.arphrd == ARPHRD_LOOPBACK
