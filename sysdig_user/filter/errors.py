"""Filter errors with sysdig 0.29.3's exact wording and positions.

sysdig prints a bad filter as ``filter error at position N: MESSAGE`` where N is where its
character scanner (libs e5c53d6, sinsp_filter_compiler) stood when it gave up; some MESSAGEs carry
their own ``filter error:`` prefix and some do not, exactly as below. Errors raised while comparing
(an operator the field type does not support) come out with no position at all: sysdig only finds
them when the first event reaches the check, we find them at compile time.

`syntax_error` turns a Lark failure into that line. It names the mistake from the parser state
(what was expected) and recomputes sysdig's position from the text, because sysdig's scanner does
not stop where Lark's token does (e.g. for "nosuch=1" it fails on the 's', reading `not`).
"""
from __future__ import annotations

from _collections_abc import Collection, Sequence  # (collections.abc without collections)

from sysdig_user import errors
from sysdig_user.errors import FieldError
from sysdig_user.filter.grammar import runtime

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:  # the classes at run time are the standalone parser's own (filter/grammar.py)
    from lark import Token
    from lark.exceptions import UnexpectedInput

BLANKS = " \t\r\n"
CMP_OPS = frozenset({"EQ", "NE", "LE", "LT", "GE", "GT", "CONTAINS", "ICONTAINS", "STARTSWITH",
                     "ENDSWITH", "GLOB", "IN", "PMATCH", "EXISTS"})

# Message texts, verbatim from sysdig 0.29.3.
UNEXPECTED_END = "filter error: unexpected end of filter"
SYNTAX = "syntax error in filter"
UNCLOSED_QUOTES = "filter error: unclosed quotes"
EXPECTED_LPAR = "expected '(' after 'in/intersects/pmatch' operand"
LIST_SEP_STRING = "expected either ')' or ',' after a value inside the 'in/pmatch' clause"
LIST_SEP_OTHER = "expected either ')' or ',' after a value inside the 'in' clause"
MIXED = "expression mixes 'and' and 'or' in an ambiguous way. Please use brackets."
PMATCH_TYPE = "pmatch requires all charbuf arguments"


def one_line(text: str) -> str:
    """``text`` with its line breaks escaped: a message quoting a filter that spans lines stays one line
    on stderr (sysdig prints the breaks as they are; ``message`` keeps them)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class FilterError(errors.FilterError):
    """A filter sysdig would reject; ``str()`` is the exact line sysdig prints (line breaks escaped)."""

    def __init__(self, message: str, pos: int | None = None) -> None:
        self.message = message
        self.pos = pos
        super().__init__(one_line(message if pos is None else f"filter error at position {pos}: {message}"))


class UnknownField(FieldError):
    """Raised by a field resolver for a name it does not know; the filter compiler re-raises it
    as sysdig's ``unrecognized field`` FilterError with the right positions."""

    def __init__(self, field: str, pos: int = 0) -> None:
        self.field = field
        self.pos = pos
        super().__init__(one_line(f"filter error: unrecognized field {field} at pos {pos}"))


class FilterSyntaxError(FilterError):
    """A syntax error found by the parser, with what the compiler needs to order errors as sysdig.

    sysdig reads left to right and checks each field and value as soon as it has read it, so an
    unknown field or bad value *before* the syntax error wins. `prefix` holds the checks (complete
    or not) read before the error, for the compiler to validate first. `list_sep` marks the "in
    clause" message, whose wording depends on the field type (fixed up by the compiler).
    """

    def __init__(self, message: str, pos: int | None, *, list_sep: bool = False) -> None:
        super().__init__(message, pos)
        self.list_sep = list_sep
        self.prefix: list[object] = []


def unrecognized_field(field: str, start: int, end: int) -> FilterError:
    """sysdig's unknown-field error: reported at the end of the name, naming its start."""
    return FilterError(f"filter error: unrecognized field {field} at pos {start}", end)


def escape_error(raw_from_start: str, pos: int) -> FilterError:
    """Bad backslash sequence; sysdig prints the text from the value's start to the end of input
    (it passes the scan position as a length to substr)."""
    return FilterError(f"filter error: unrecognized escape sequence at {raw_from_start}", pos)


def next_nonblank(text: str, pos: int) -> int:
    """Index of the first non-blank character at or after `pos`, or len(text)."""
    while pos < len(text) and text[pos] in BLANKS:
        pos += 1
    return pos


def keyword_mismatch(text: str, pos: int, word: str) -> int:
    """Where sysdig's letter-by-letter read of `word` (starting at text[pos]) fails.

    sysdig reads a connector's letters with next(), which skips blanks; the error position is the
    first letter that does not match, or len(text) when the text ends first.
    """
    for letter in word[1:]:
        pos = next_nonblank(text, pos + 1)
        if pos >= len(text):
            return len(text)
        if text[pos] != letter:
            return pos
    return pos


def end_position(text: str, tokens: Sequence[Token]) -> int:
    """Where sysdig's scanner stands when it reads the end of the filter.

    It is len(text), except after a value read up to the very end (an unquoted value, or an empty
    one): sysdig's value reader leaves its cursor *on* the end, and the next read steps past it.
    """
    if not tokens:
        return len(text)
    last = tokens[-1]
    if last.type in ("VALUE", "LVALUE") and last.end_pos == len(text):
        return len(text) + 1
    empty_value_before = ("EQ", "NE", "LE", "LT", "GE", "GT", "CONTAINS", "ICONTAINS", "STARTSWITH",
                          "ENDSWITH", "GLOB", "COMMA")
    if last.type in empty_value_before:
        return len(text) + 1
    if last.type == "LPAR" and len(tokens) > 1 and tokens[-2].type in ("IN", "PMATCH"):
        return len(text) + 1
    return len(text)


def syntax_error(text: str, exc: UnexpectedInput, tokens: Sequence[Token]) -> FilterSyntaxError:
    """Map a Lark failure to sysdig's message and position.

    `tokens` are the tokens Lark read before failing (the failing one excluded).
    """
    expected: Collection[str]
    rt = runtime()
    if isinstance(exc, rt.UnexpectedToken):
        expected = exc.expected
        at_end = exc.token.type == "$END"
        pos = len(text) if at_end else exc.token.start_pos
    elif isinstance(exc, rt.UnexpectedCharacters):
        expected = exc.allowed
        pos = exc.pos_in_stream
        at_end = False
    else:  # UnexpectedEOF
        expected = getattr(exc, "expected", ())
        pos, at_end = len(text), True
    pos = next_nonblank(text, pos) if not at_end else len(text)
    char = text[pos] if pos < len(text) else ""
    end = end_position(text, tokens)

    if char in ("'", '"') and ("VALUE" in expected or "LVALUE" in expected or "QUOTED" in expected):
        return FilterSyntaxError(UNCLOSED_QUOTES, len(text))
    if CMP_OPS & set(expected):
        return FilterSyntaxError(f"filter error: unrecognized comparison operator after {text[:pos]}", pos)
    if "COMMA" in expected:
        return FilterSyntaxError(LIST_SEP_STRING, end if at_end else pos, list_sep=True)
    if "LPAR" in expected and "FIELD" not in expected:
        return FilterSyntaxError(EXPECTED_LPAR, pos)
    if at_end:
        return FilterSyntaxError(UNEXPECTED_END, end)
    if "FIELD" in expected:  # where an operand must start
        if char == "n":
            return FilterSyntaxError(SYNTAX, keyword_mismatch(text, pos, "not"))
        if char in "!=<>":
            return FilterSyntaxError(f"filter error: unrecognized field  at pos {pos}", pos)
        # sysdig accepts a stray ")" here and fails later; the usual outcome is an early end.
        return FilterSyntaxError(UNEXPECTED_END, end_position(text, []) if char == ")" else pos)
    # after a complete operand: only a connector, ")" or the end may follow
    if char == "(":
        return FilterSyntaxError(f"unexpected '(' after {text[:pos]}", pos)
    words = {"a": "and", "o": "or", "n": "not"}
    if char in words:
        return FilterSyntaxError(SYNTAX, keyword_mismatch(text, pos, words[char]))
    return FilterSyntaxError(SYNTAX, pos)
