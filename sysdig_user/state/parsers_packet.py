"""State for sdu's packet events (``EXTENSIONS[SDU_EXTENSION_BASE]``, evt.type=packet, from netcap).

A packet event belongs to the thread that owns its socket (``evt.tid``, -1 when nobody is known). It
changes no state; the Inspector only attaches:

* ``evt.thread``: the owner from the thread table; if it has exited already, as it was when it left
  (a flow's last packets can reach the stream after their owner's procexit: netcap delivers them from
  its own thread, and the attribution keeps a closed socket's owner for a grace period); else a
  detached ``<NA>`` thread (not added to the table) when the owner is unknown or not traced, so
  proc.name shows ``<NA>``;
* ``evt.fdinfo``: a synthetic socket FdInfo built from the event's tuple (sender first) and IP protocol,
  so fd.name is ``src:sport->dst:dport``, fd.cip/fd.cport the sender, fd.sip/fd.sport the receiver,
  fd.type ipv4/ipv6 and fd.l4proto tcp/udp/icmp/raw. fd.num is -1: a packet has no descriptor.
"""
from __future__ import annotations

import _socket as socket  # the C module: socket.py itself costs ~2 ms of start-up

from sysdig_user.state.fds import L4, FdInfo, FdType, Role, tuple_name
from sysdig_user.state.threads import ThreadInfo

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.state.inspector import State

TUPLE_PARAM = 4
PROTO_PARAM = 5
_L4 = {6: L4.TCP, 17: L4.UDP, 1: L4.ICMP, 58: L4.ICMP}


def packet_fdinfo(evt: Event) -> FdInfo | None:
    """The socket a packet event's tuple describes (None for a frame without an IP header)."""
    tup = evt.param(TUPLE_PARAM)
    if not tup or tup[0] not in (socket.AF_INET, socket.AF_INET6) or len(tup) < 5:
        return None
    _fam, sip, sport, dip, dport = tup
    proto = evt.param(PROTO_PARAM) or 0
    l4 = _L4.get(proto, L4.RAW if proto else L4.UNKNOWN)
    ftype = FdType.IPV4_SOCK if tup[0] == socket.AF_INET else FdType.IPV6_SOCK
    name = tuple_name(sip, sport, dip, dport)
    return FdInfo(fd=-1, type=ftype, name=name, sip=sip, sport=sport, dip=dip, dport=dport, l4proto=l4,
                  role=Role.CLIENT, connected=True)


def parse_packet(st: State, evt: Event) -> None:
    tid = evt.tid
    th = st.threads.get(tid) if tid > 0 else None
    if th is None and tid > 0:
        th = st.threads.departed.get(tid)
    evt.thread = th if th is not None else ThreadInfo(tid=tid, pid=tid)
    info = packet_fdinfo(evt)
    evt.fdinfo = evt.parsed_fdinfo = info
