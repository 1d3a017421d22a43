"""``-p`` formats: compiled once into (literal, field) pairs, then applied to each event.

Follows sinsp_evt_formatter (sysdig 0.29.3): a leading ``*`` prints events whose fields are missing
with ``<NA>``; without it an event with any missing field is not printed at all. ``%field``,
``%field[arg]`` and ``%field.argname`` name fields; ``%<N>field`` pads or cuts the field text to N
characters. Text between tokens is copied. The default line is DEFAULT_FORMAT.

Fields come from the registry (sysdig_user.fields.registry.resolve_token). The few whose text depends
on command-line options (evt.args/evt.info with -A/-x/-X/-b/-v, evt.arg.X for data buffers, and
evt.outputtime with -t) are bound here instead, so that one formatter carries all of its options.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user import cache
from sysdig_user.errors import SduError
from sysdig_user.output.options import NA, FormatError, OutputOptions
from sysdig_user.output.render import (
    ARGS_FUNCTIONS,
    RenderOptions,
    args_function,
    args_source,
    param_display,
    render_args,
)
from sysdig_user.output.timefmt import OutputTime
from sysdig_user.rows import Record

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any, Protocol

    from sysdig_user.event import Event
    from sysdig_user.event_table import EventInfo

    class BoundFieldLike(Protocol):  # (mypy's: a class made at run time costs a start ~0.1M instructions)
        """What the formatter needs of a registry field: a value (None when missing) and its text."""

        def extract(self, evt: Event) -> Any: ...

        def to_text(self, value: Any) -> str: ...

#: registry.resolve_token: the field at the start of a text and how many characters it spans.
Matcher = Callable[[str], "tuple[Any, int]"]


# ------------------------------------------------------------------------------ option-bound fields

class _ArgsField:
    """evt.args / evt.info: never missing (empty string for events without params)."""

    __slots__ = ("opts",)
    json_number = False

    def __init__(self, opts: RenderOptions) -> None:
        self.opts = opts

    def extract(self, evt: Event) -> Any:
        return render_args(evt, self.opts)

    to_text = staticmethod(str)  # (the text as it is: the line function knows str)


class _ArgField:
    """evt.arg.NAME / evt.arg[N]: resolved text of one param; missing when the event lacks it."""

    __slots__ = ("index", "name", "opts")
    json_number = False

    def __init__(self, opts: RenderOptions, arg: str) -> None:
        self.opts = opts
        self.name = arg
        self.index = int(arg) if arg.isdigit() else -1

    def extract(self, evt: Event) -> Any:
        info = evt.info
        if info is None:
            return None
        idx = self.index if self.index >= 0 else info.param_index(self.name)
        if idx < 0 or idx >= evt.param_count:
            return None
        return param_display(evt, idx, self.opts)

    to_text = staticmethod(str)


class _OutputTimeField:
    """evt.outputtime: text per -t mode; the JSON value is the timestamp in ns."""

    __slots__ = ("time", "to_text")
    json_number = True

    def __init__(self, time: OutputTime) -> None:
        self.time = time
        self.to_text: Callable[[Any], str] = time.text_function()  # the value is the event

    def extract(self, evt: Event) -> Any:
        return evt

    def to_json(self, value: Any) -> Any:
        return value.ts


def _local_field(name: str, arg: str | None, opts: OutputOptions) -> BoundFieldLike | None:
    if name in ("evt.args", "evt.info") and arg is None:
        return _ArgsField(opts.render)
    if name == "evt.arg" and arg:
        return _ArgField(opts.render, arg)
    if name == "evt.outputtime" and arg is None:
        return _OutputTimeField(opts.time)
    return None


# ----------------------------------------------------------------------------------------- compile

class Token(Record):
    _fields = ("literal", "key", "field", "width")
    __slots__ = _fields
    literal: str  # text printed before the field
    key: str  # the field as written (JSON key)
    field: BoundFieldLike
    width: int

    def __init__(self, literal: str, key: str, field: BoundFieldLike, width: int = 0) -> None:
        self.literal = literal
        self.key = key
        self.field = field
        self.width = width


def _bind(text: str, match: Matcher, opts: OutputOptions) -> tuple[BoundFieldLike, int]:
    """Bind the field at the start of ``text`` (the registry decides the syntax and span), then
    substitute the option-bound version of the few fields this module owns."""
    # (the field classes come with the first format compiled)
    from sysdig_user.fields.base import UnknownFieldError

    try:
        bound, used = match(text)
    except UnknownFieldError as exc:
        raise FormatError("invalid formatting token " + text) from exc
    except SduError as exc:  # a field sysdig knows but refuses here, or a bad argument: its own words
        raise FormatError(str(exc)) from exc
    local = _local_field(getattr(bound, "name", ""), getattr(bound, "arg", None), opts)
    return (local if local is not None else bound), used


def compile_format(fmt: str, match: Matcher, opts: OutputOptions) -> tuple[list[Token], str, bool]:
    """Parse a -p format into tokens, the trailing literal and whether every field is required."""
    require_all = True
    if fmt.startswith("*"):
        require_all = False
        fmt = fmt[1:]
    tokens: list[Token] = []
    literal: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            literal.append(c)
            i += 1
            continue
        if i == n - 1:
            raise FormatError("invalid formatting syntax: formatting cannot end with a %")
        j = i + 1
        while j < n and fmt[j].isdigit():
            j += 1
        if j == n:
            raise FormatError("invalid formatting syntax: formatting cannot end with a number")
        width = int(fmt[i + 1:j]) if j > i + 1 else 0
        bound, used = _bind(fmt[j:], match, opts)
        end = j + used
        key = fmt[j:end]
        tokens.append(Token("".join(literal), key, bound, width))
        literal = []
        i = end
    return tokens, "".join(literal), require_all


# ------------------------------------------------------------------------------------------ format

class Formatter:
    """Turns events into output lines (without the newline); None means "do not print"."""

    def __init__(self, fmt: str, match: Matcher | None = None, opts: OutputOptions | None = None) -> None:
        if match is None:
            from sysdig_user.fields.registry import resolve_token

            match = resolve_token
        self.opts = opts or OutputOptions()
        if not fmt:
            raise FormatError("empty formatting token")
        self.tokens, self.tail, self.require_all = compile_format(fmt, match, self.opts)
        self._plan = [(t.literal, t.field.extract, t.field.to_text, t.width) for t in self.tokens]
        if self.opts.json:
            from sysdig_user.output.json import JsonLine

            self._json: JsonLine | None = JsonLine(self.tokens, self.require_all)
        else:
            self._json = None
        self._line = _line_function(self.tokens, self.tail, self.require_all)

    def format(self, evt: Event) -> str | None:
        if self._json is not None:
            return self._json.format(evt)
        return self._line(evt)

    @property
    def line_function(self) -> Callable[[Event], str | None]:
        """``format`` without the JSON test: for callers that format many events (-j excluded)."""
        if self._json is not None:
            return self._json.format
        return self._line


LineFunction = Callable[["Event"], "str | None"]


def _line_function(tokens: list[Token], tail: str, require_all: bool) -> LineFunction:
    """The text line of a format as one generated function (_compile_line). A format printing
    evt.args/evt.info gets one per event type instead, generated when the type is first seen: its
    params' text and the fields that depend on the type alone go straight into the line's template."""
    parts = _token_parts(tokens, require_all)
    generic = _compile_line(tokens, tail, require_all, parts=parts)
    if not any(isinstance(t.field, _ArgsField) and not t.width for t in tokens):
        return generic
    lines: dict[int, LineFunction] = {}

    def line(evt: Event) -> str | None:
        fn = lines.get(evt.type)
        if fn is None:
            fn = lines[evt.type] = _compile_line(tokens, tail, require_all, evt.type, evt.info, generic, parts)
        return fn(evt)
    return line


class _Part(Record):
    """What _compile_line writes for one token whatever the event type, worked out once per format."""

    _fields = ("literal", "statements", "args", "by_code", "body", "names")
    __slots__ = _fields
    literal: str  # the token's literal, '%' doubled
    statements: list[str] | None  # -t h's time statements (_time_statements), else None
    args: bool  # an evt.args/evt.info token without a width (a per-type line inlines the first one)
    by_code: Callable[[int], Any] | None  # BY_CODE's function of the field (its text for a code), or None
    body: list[str]  # the statements setting t{i}: the line's own code for the token
    names: dict[str, Any]  # the globals those statements use

    def __init__(self, literal: str, statements: list[str] | None, args: bool,
                 by_code: Callable[[int], Any] | None, body: list[str], names: dict[str, Any]) -> None:
        self.literal = literal
        self.statements = statements
        self.args = args
        self.by_code = by_code
        self.body = body
        self.names = names


def _token_parts(tokens: list[Token], require_all: bool) -> list[_Part]:
    """Per token, what its line code is for any event type (_compile_line): a format with evt.args gets a
    line per event type, which then only adds what depends on the type (~70 us a type less, each)."""
    from sysdig_user.fields.registry import BY_CODE

    parts = []
    for i, tok in enumerate(tokens):
        field = tok.field
        literal = tok.literal.replace("%", "%%")
        names: dict[str, Any] = {}
        statements = _time_statements(tok, i, names)
        if statements is not None:  # -t h: the second's text, then the nanoseconds as %09d
            parts.append(_Part(literal, ["    " + line for line in statements], False, None, [], names))
            continue
        args = isinstance(field, _ArgsField) and not tok.width
        by_code = BY_CODE.get(getattr(field, "extract", None))  # type: ignore[arg-type]
        body: list[str] = []
        inline = _inline(field, i, names)
        if inline is None:
            names[f"x{i}"] = field.extract
            inline = f"x{i}(evt)", True, False
        expr, maybe_none, is_text = inline
        to_text = str if is_text else field.to_text
        names[f"s{i}"] = to_text
        text = "v" if to_text is str and not tok.width else "str(v)" if to_text is str else f"s{i}(v)"
        if maybe_none:
            missing = "return None" if require_all else f"t{i} = NA"
            body += [f"    v = {expr}", "    if v is None:", f"        {missing}", "    else:", f"        t{i} = {text}"]
        else:
            body.append(f"    t{i} = {expr}" if text == "v" else f"    v = {expr}\n    t{i} = {text}")
        if tok.width:
            body.append(f"    t{i} = t{i}[:{tok.width}].ljust({tok.width})")
        parts.append(_Part(literal, None, args, by_code, body, names))
    return parts


def _compile_line(tokens: list[Token], tail: str, require_all: bool, code: int | None = None,
                  info: EventInfo | None = None, generic: LineFunction | None = None,
                  parts: list[_Part] | None = None) -> LineFunction:
    """The line of a format as one generated function: per token, extract the value, print ``<NA>``
    (or give up on the line, without ``*``) when it is missing, else its text, cut or padded to the
    token's width; then one %-substitution into the literals (``%s`` of a value is ``str()`` of it,
    so values printed with ``str`` go in as they are).

    Equivalent to looping over (literal, extract, to_text, width) per event, without the loop and,
    for the fields _inline knows, without the extractor's call. With ``code``, the function is for
    events of that type (``info``): the text of the fields BY_CODE knows is a literal, and the first
    evt.args/evt.info token is render.args_source's, inline (an event with another param count takes
    the ``generic`` line). ``parts``: _token_parts of the tokens, when the caller keeps them."""
    if parts is None:
        parts = _token_parts(tokens, require_all)
    names: dict[str, Any] = {"NA": NA, "generic": generic}
    head: list[str] = []  # the params unpacked, first
    body: list[str] = []
    template: list[str] = []  # per token, its literal and the %-specs of its text
    values: list[str] = []  # what the specs print
    for i, (tok, part) in enumerate(zip(tokens, parts, strict=True)):
        literal = part.literal
        if part.statements is not None:
            names.update(part.names)
            body += part.statements
            template.append(literal + "%s%09d")
            values.append(f"c{i}._prefix, f{i}, ")
            continue
        if code is not None and not head and part.args:
            field = tok.field
            assert isinstance(field, _ArgsField)
            src = args_source(code, info, -1, f"o{i}")
            names[f"o{i}"] = field.opts
            if src is not None:
                names.update(src.names)
                head = ["    vals = evt.param_values()", f"    if len(vals) != {src.nparams}:",
                        "        return generic(evt)", f"    {src.unpack}"]
                values.append("".join(e + ", " for e in src.exprs))
            template.append(literal + (src.template if src is not None else ""))
            continue
        constant = part.by_code(code) if part.by_code is not None and code is not None else None
        if constant is not None:
            text = tok.field.to_text(constant)
            if tok.width:
                text = text[:tok.width].ljust(tok.width)
            template.append(literal + text.replace("%", "%%"))
            continue
        template.append(literal + "%s")
        values.append(f"t{i}, ")
        names.update(part.names)
        body += part.body
    names["TEMPLATE"] = "".join(template) + tail.replace("%", "%%") if tokens else tail
    body.append(f"    return TEMPLATE % ({''.join(values)})" if tokens else "    return TEMPLATE")
    source = "def line(evt):\n" + "\n".join(head + body) + "\n"
    name = "<sdu format>" if info is None else f"<sdu format {info.name}{info.dir}>"
    exec(cache.compiled(source, name), names)  # noqa: S102 - generated from the tokens only
    line: LineFunction = names["line"]
    return line


def _time_statements(tok: Token, i: int, names: dict[str, Any]) -> list[str] | None:
    """evt.outputtime in -t h mode without a width: statements setting ``f{i}``, printed after the
    clock ``c{i}``'s ``_prefix`` (OutputTime.inline_statements); None for any other token."""
    field = tok.field
    if not isinstance(field, _OutputTimeField) or tok.width:
        return None
    statements = field.time.inline_statements(f"c{i}", f"f{i}")
    if statements is not None:
        names[f"c{i}"] = field.time.clock
    return statements


def _inline(field: BoundFieldLike, i: int, names: dict[str, Any]) -> tuple[str, bool, bool] | None:
    """An expression over ``evt`` computing ``field.extract(evt)`` without calling it, whether its
    value may be None and whether it is the field's text already (``to_text`` applied); None for
    fields extracted by a call. Adds the names it uses to ``names``."""
    if isinstance(field, _OutputTimeField):  # (-t h without a width: _inline_statements)
        return "evt", False, False
    if isinstance(field, _ArgsField):  # render_args, one call less
        names["ARGS_FUNCTIONS"] = ARGS_FUNCTIONS
        names["args_function"] = args_function
        names[f"o{i}"] = field.opts
        return f"(ARGS_FUNCTIONS.get(evt.type) or args_function(evt))(evt, o{i})", False, False
    from sysdig_user.fields.registry import INLINE

    known = INLINE.get(getattr(field, "extract", None))  # type: ignore[arg-type]
    if known is None:
        return None
    expr, used, maybe_none = known
    names.update(used)
    return expr, maybe_none, False
