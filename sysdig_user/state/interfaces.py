"""Network interfaces: which addresses are local, for fd.lip/fd.rip/fd.is_server and role guessing.

Captures carry them in IL blocks (scap-format.md §6); live mode reads them from the kernel. Mirrors
libsinsp's sinsp_network_interfaces (ifinfo.cpp): an IPv4 address is local when it equals an interface
address (127.0.0.2 is not, nor 127.0.0.1 in a capture without an lo entry); an IPv6 address when its
first 64 bits equal an interface address's (ipv6addr::in_subnet: ``::`` is local beside ``::1``).
"""
from __future__ import annotations

import struct

from sysdig_user.scap.records import Interface, InterfaceList
from sysdig_user.state.fds import FdInfo, FdType

_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_LOOPBACK6 = b"\0" * 15 + b"\1"


class Interfaces:
    """The local interfaces. Live, the kernel's are read at the first use of the lists (``load_system``):
    a run that meets no socket (most short ones) never reads them, where sinsp reads them at the
    capture's start; with -w they are read at the start, for the file's IL block."""

    __slots__ = ("_ipv4", "_ipv6", "_system")

    def __init__(self) -> None:
        self._ipv4: list[Interface] = []
        self._ipv6: list[Interface] = []
        self._system = False  # the kernel's interfaces are due (load_system), not read yet

    @property
    def ipv4(self) -> list[Interface]:
        if self._system:
            self._read_system()
        return self._ipv4

    @property
    def ipv6(self) -> list[Interface]:
        if self._system:
            self._read_system()
        return self._ipv6

    def load(self, block: InterfaceList) -> None:
        """Add a capture's IL block. An entry already held is not added again: every section of a
        capture repeats its IL block, and a list that grew with each section would make every lookup
        slower without changing one answer (they all ask "any" or "the first that matches").

        The reader gives a block it read before as the same record (scap/reader.py's _PARSED), so an entry
        is first looked for as itself: ``in`` compares it with every entry ahead of its own by value
        (Record.__eq__, ~15k instructions each by callgrind: ~20M on issue 14's 200-section capture)."""
        for iface in block.interfaces:
            held = self.ipv6 if len(iface.addr) == 16 else self.ipv4
            for known in held:
                if known is iface:
                    break
            else:
                if iface not in held:
                    held.append(iface)

    def add(self, iface: Interface) -> None:
        (self.ipv6 if len(iface.addr) == 16 else self.ipv4).append(iface)

    def clear(self) -> None:
        self._system = False
        self._ipv4.clear()
        self._ipv6.clear()

    def is_local_ipv4(self, addr: bytes) -> bool:
        """sinsp is_ipv4addr_in_local_machine: any interface's address (no loopback rule)."""
        return any(i.addr == addr for i in self.ipv4)

    def is_local_ipv6(self, addr: bytes) -> bool:
        """sinsp is_ipv6addr_in_local_machine: same first 64 bits as an interface's address."""
        net = addr[:8]
        return any(i.addr[:8] == net for i in self.ipv6)

    def is_local(self, addr: bytes) -> bool:
        return self.is_local_ipv6(addr) if len(addr) == 16 else self.is_local_ipv4(addr)

    def load_system(self) -> None:
        """Live mode: the kernel's interfaces, read at the first use of the lists (see the class)."""
        self._system = True

    def _read_system(self) -> None:
        """IPv4 addresses via SIOCGIFADDR per interface, IPv6 from /proc/net/if_inet6. Interfaces without
        an address (ioctl fails with EADDRNOTAVAIL) are skipped: they cannot make an address local."""
        self._system = False
        import _socket as socket  # (the C module: socket.py costs ~2 ms of start-up; here: a -r run needs neither)
        import fcntl

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # (_socket's: no context manager)
        try:
            for _idx, name in socket.if_nameindex():
                req = struct.pack("256s", name.encode()[:15])
                try:
                    addr = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, req)[20:24]
                    mask = fcntl.ioctl(s.fileno(), _SIOCGIFNETMASK, req)[20:24]
                except OSError:
                    continue
                self.add(Interface(4, name, addr, mask, b"\0" * 4))
        finally:
            s.close()
        try:
            with open("/proc/net/if_inet6") as f:
                lines = f.read().splitlines()
        except OSError:  # no IPv6 in this kernel or namespace
            return
        for line in lines:
            parts = line.split()
            if len(parts) >= 6:
                self.add(Interface(6, parts[5], bytes.fromhex(parts[0]), b"", b""))

    # ---------------------------------------------------------------------------- tuple completion
    def infer_ipv4(self, dest: bytes) -> bytes:
        """sinsp infer_ipv4_address: the interface with that address, else one on the same subnet,
        else the first non-loopback one, else 0.0.0.0."""
        for i in self.ipv4:
            if i.addr == dest:
                return i.addr
        d = int.from_bytes(dest, "big")
        for i in self.ipv4:
            m = int.from_bytes(i.netmask, "big") if len(i.netmask) == 4 else 0
            if int.from_bytes(i.addr, "big") & m == d & m:
                return i.addr
        for i in self.ipv4:
            if i.addr != b"\x7f\0\0\1":
                return i.addr
        return b"\0" * 4

    def infer_ipv6(self, dest: bytes) -> bytes:
        for i in self.ipv6:
            if i.addr == dest:
                return i.addr
        for i in self.ipv6:
            if i.addr[:8] == dest[:8]:
                return i.addr
        for i in self.ipv6:
            if i.addr != _LOOPBACK6:
                return i.addr
        return b"\0" * 16

    def update_fd(self, info: FdInfo) -> None:
        """sinsp_network_interfaces::update_fd: fill a zero source or destination address of a
        datagram socket's tuple with the local address that would have been used."""
        if info.type == FdType.IPV4_SOCK:
            zero = b"\0" * 4
            if info.sip not in (b"", zero) and info.dip not in (b"", zero):
                return
            if info.sip in (b"", zero):
                new = self.infer_ipv4(info.dip)
                if new == info.dip and info.sport == info.dport:
                    return
                info.sip = new
            else:
                new = self.infer_ipv4(info.sip)
                if new == info.sip and info.sport == info.dport:
                    return
                info.dip = new
        elif info.type == FdType.IPV6_SOCK:
            zero = b"\0" * 16
            if info.sip not in (b"", zero) and info.dip not in (b"", zero):
                return
            if info.sip in (b"", zero):
                info.sip = self.infer_ipv6(info.dip)
            else:
                info.dip = self.infer_ipv6(info.sip)
