"""``Regex``: a regular expression compiled on its first use.

Importing ``re`` (its parser and compiler, ~8M instructions, a few ms) and compiling a pattern is paid
at every start by whatever module holds a pattern, though a short run (``sdu -- /bin/true``, ``sdu -r``
of a small capture, a plain ``-p`` format) matches none: the field registry's patterns read unusual
field arguments, the literal parsers' filter values, the command line's a PID list. A ``Regex`` imports
``re`` and compiles its pattern when first matched; the match is ``re``'s own.
"""
from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    import re


class Regex:
    """``re.compile(pattern)``, compiled at its first ``match``."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        compiled = self._compiled
        if compiled is None:
            import re

            compiled = self._compiled = re.compile(self.pattern)
        return compiled.match(text, pos)


__all__ = ["Regex"]
