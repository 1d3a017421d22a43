# ruff: noqa: UP031  (printf-style formats are the point: they mirror the Lua chisels' string.format)
"""Rendering helpers with the exact behaviour of sysdig's chisels/common.lua (LuaJIT numbers are
doubles and string.format's %u/%d truncate them), so Python chisels print the same bytes."""
from __future__ import annotations

from typing import Any

ONE_S_IN_NS = 1_000_000_000
ONE_MS_IN_NS = 1_000_000
ONE_US_IN_NS = 1_000

_KB = 1024
_MB = _KB * 1024
_GB = _MB * 1024
_TB = _GB * 1024
_PB = _TB * 1024


def extend_string(s: str, newlen: int) -> str:
    """Pad to ``newlen``; a longer string is cut to newlen-1 chars plus one space (common.lua). Lua
    counts bytes: a UTF-8 name is padded (and cut) by its byte length."""
    if not s.isascii():
        raw = s.encode("utf-8", "surrogateescape")
        if len(raw) < newlen:
            return s + " " * (newlen - len(raw))
        return raw[:newlen - 1].decode("utf-8", "surrogateescape") + " " if newlen > 0 else ""
    if len(s) < newlen:
        return s + " " * (newlen - len(s))
    if newlen > 0:
        return s[:newlen - 1] + " "
    return ""


def fmt2(x: float) -> str:
    """LuaJIT's string.format("%.2f"): exact ties round away from zero (10.625 -> "10.63"), where C's
    printf would round to even; sysdig's Lua chisels print through LuaJIT. (decimal imported here: a
    chisel run that prints no such number skips its ~10 ms import.)"""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def format_bytes(val: float) -> str:
    if val > _PB:
        return fmt2(val / _PB) + "P"
    if val > _TB:
        return fmt2(val / _TB) + "T"
    if val > _GB:
        return fmt2(val / _GB) + "G"
    if val > _MB:
        return fmt2(val / _MB) + "M"
    if val > _KB:
        return fmt2(val / _KB) + "KB"
    return "%dB" % int(val)


def format_time_interval(val: float) -> str:
    if val >= ONE_S_IN_NS:
        return "%u.%02us" % (val // ONE_S_IN_NS, int((val % ONE_S_IN_NS) / 10000000))
    if val >= ONE_S_IN_NS / 100:
        return "%ums" % (val // (ONE_S_IN_NS / 1000))
    if val >= ONE_S_IN_NS / 1000:
        return "%u.%02ums" % (val // (ONE_S_IN_NS / 1000), int((val % ONE_MS_IN_NS) / 10000))
    if val >= ONE_S_IN_NS / 100000:
        return "%uus" % (val // (ONE_S_IN_NS / 1000000))
    if val >= ONE_S_IN_NS / 1000000:
        return "%u.%02uus" % (val // (ONE_S_IN_NS / 1000000), int((val % ONE_US_IN_NS) / 10))
    return "%uns" % int(val)


def lua_tostring(value: Any) -> str:
    """What Lua's tostring/concatenation gives for a field value pushed by sysdig (numbers are
    doubles printed with %.14g; strings and buffers as they are)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 10 ** 14:
            return str(value)
        return "%.14g" % float(value)
    if isinstance(value, float):
        if value == int(value) and abs(value) < 10 ** 14:
            return str(int(value))
        return "%.14g" % value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def lua_format(fmt: str, *args: Any) -> str:
    """string.format(fmt, ...) for str and int args: widths and precisions count bytes, as in C, so a
    UTF-8 proc.name takes as many columns as it has bytes (``%-12.12s`` may cut inside a character)."""
    if all(a.__class__ is not str or a.isascii() for a in args):
        return fmt % args
    raw = tuple(a.encode("utf-8", "surrogateescape") if a.__class__ is str else a for a in args)
    return (fmt.encode() % raw).decode("utf-8", "surrogateescape")


def c_fmt(spec: str, value: Any) -> str:
    """printf-style %-W.Ps / %s for a field value, with Lua's conversion of numbers to strings; widths
    and precisions count bytes, as string.format does."""
    text = lua_tostring(value)
    if text.isascii():
        return spec % text
    raw = text.encode("utf-8", "surrogateescape")
    return (spec.encode() % raw).decode("utf-8", "surrogateescape")


class ScreenPolicy:
    """What the run allows the chisels to write to the screen (set by the ChiselRunner before it loads
    its chisels, for Python and Lua chisels alike).

    ``color``: None lets each chisel colour as sysdig's does (its disable_color argument included);
    False (``--color never``, or NO_COLOR set) and True (``--color always``) override it. ``repaint``:
    the clear-screen and cursor codes of sysdig's endless live view, only written when sdu is attached
    to running processes (``-p PID``) and prints to a terminal; a launched command's run, a pipe or a
    file get plain tables one after another, the last one when the capture ends."""

    color: bool | None = None
    repaint: bool = False


def set_screen_policy(color: bool | None, repaint: bool) -> None:
    ScreenPolicy.color = color
    ScreenPolicy.repaint = repaint


class Terminal:
    """ansiterminal.lua's colour codes; ``enabled=False`` makes them all empty strings."""

    def __init__(self, enabled: bool = True) -> None:
        self.enable(enabled)

    @property
    def repaints(self) -> bool:
        """The live view clears and redraws the screen (ScreenPolicy.repaint)."""
        return ScreenPolicy.repaint

    def enable(self, enabled: bool) -> None:
        if ScreenPolicy.color is not None:
            enabled = ScreenPolicy.color

        def c(code: str) -> str:
            return code if enabled else ""

        self.reset = c("\x1b[0m")
        self.bright = c("\x1b[1m")
        self.dim = c("\x1b[2m")
        self.underscore = c("\x1b[4m")
        self.blink = c("\x1b[5m")
        self.reverse = c("\x1b[7m")
        self.hidden = c("\x1b[8m")
        self.black = c("\x1b[30m")
        self.red = c("\x1b[31m")
        self.green = c("\x1b[32m")
        self.yellow = c("\x1b[33m")
        self.blue = c("\x1b[34m")
        self.magenta = c("\x1b[35m")
        self.cyan = c("\x1b[36m")
        self.white = c("\x1b[37m")
        self.onblack = c("\x1b[40m")
        self.onred = c("\x1b[41m")
        self.ongreen = c("\x1b[42m")
        self.onyellow = c("\x1b[43m")
        self.onblue = c("\x1b[44m")
        self.onmagenta = c("\x1b[45m")
        self.oncyan = c("\x1b[46m")
        self.onwhite = c("\x1b[47m")

    @staticmethod
    def clearscreen() -> str:
        return "\x1b[2J" if ScreenPolicy.repaint else ""

    @staticmethod
    def moveto(x: int, y: int) -> str:
        return "\x1b[%d;%dH" % (x, y) if ScreenPolicy.repaint else ""

    @staticmethod
    def hidecursor() -> str:
        return "\x1b[?25l" if ScreenPolicy.repaint else ""

    @staticmethod
    def showcursor() -> str:
        return "\x1b[?25h" if ScreenPolicy.repaint else ""
