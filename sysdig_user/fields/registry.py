"""The field registry: every field class in sysdig's order, name lookup, binding, and the ``-l`` text.

Name matching follows libsinsp (sinsp_filter_check_list::new_filter_check_from_fldname at libs
e5c53d64): classes are tried in order and the first class with a field whose name is a prefix of the
text wins, taking its *longest* such field; fields with arguments then read their argument (see
``ArgSyntax``). ``match_field`` returns how much text was used, which is what a ``-p`` format needs;
``resolve_field`` insists on the whole name, which is what a filter needs.

The names are matched against a table of every class's field names (``_TABLE``); a class's module is
imported only when one of its fields is used, so a run printing the default line imports the evt and
process classes and not the fd, container, k8s, syslog ... ones (a few milliseconds of start-up each).
``CLASSES``, ``FIELDS``, ``INLINE`` and ``BY_CODE`` are made on first use.
"""
from __future__ import annotations

from _collections_abc import Callable, Sequence  # (collections.abc without collections)

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import (
    ArgSyntax,
    Custom,
    Extractor,
    FieldClass,
    FieldDef,
    FieldError,
    FieldFlag,
    UnknownFieldError,
    literal_fn,
    parse_number,
    text_fn,
)
from sysdig_user.lazy_re import Regex
from sysdig_user.rows import Record

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event

    #: Field classes in the order sysdig tries (and lists) them (every class module imported).
    CLASSES: tuple[FieldClass, ...]
    #: Every field by name (every class module imported).
    FIELDS: dict[str, FieldDef]
    #: Extractors that a generated ``-p`` line (output.formatter) may replace with an expression over
    #: ``evt``, saving a call per event: extractor -> (expression, the names it uses, whether it may be
    #: None). Each expression computes exactly what its extractor returns.
    INLINE: dict[Extractor, tuple[str, dict[str, Any], bool]]
    #: Extractors whose value depends on the event type alone: extractor -> its value for a code, None
    #: for the codes where it does not (a generated line per event type prints it as a literal).
    BY_CODE: dict[Extractor, Callable[[int], Any]]

#: The field classes in the order sysdig tries (and lists) them, each as the module (in
#: sysdig_user.fields) and attribute that define it and the names of its fields in its order, so that
#: a name is matched without importing the class modules: a class's module is imported when one of
#: its fields is used (``field_class``). tests/fields/test_registry.py checks this table against the
#: classes themselves.
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("evt", "GENERIC_CLASS",
     ("evt.num evt.time evt.time.s evt.time.iso8601 evt.datetime evt.datetime.s evt.rawtime evt.rawtime.s "
      "evt.rawtime.ns evt.reltime evt.reltime.s evt.reltime.ns evt.pluginname evt.plugininfo ")),
    ("evt", "SYSCALL_CLASS",
     ("evt.latency evt.latency.s evt.latency.ns evt.latency.human evt.deltatime evt.deltatime.s "
      "evt.deltatime.ns evt.dir evt.type evt.type.is syscall.type evt.category evt.cpu evt.args evt.arg "
      "evt.rawarg evt.info evt.buffer evt.buflen evt.res evt.rawres evt.failed evt.is_io evt.is_io_read "
      "evt.is_io_write evt.io_dir evt.is_wait evt.wait_latency evt.is_syslog evt.count evt.count.error "
      "evt.count.error.file evt.count.error.net evt.count.error.memory evt.count.error.other evt.count.exit "
      "evt.around evt.abspath evt.is_open_read evt.is_open_write evt.is_open_exec evt.latency.quantized "
      "evt.outputtime evt.count.procinfo evt.count.threadinfo evt.buflen.in evt.buflen.out evt.buflen.file "
      "evt.buflen.file.in evt.buflen.file.out evt.buflen.net evt.buflen.net.in evt.buflen.net.out ")),
    ("proc", "CLASS",
     ("proc.pid proc.exe proc.name proc.args proc.env proc.cmdline proc.exeline proc.cwd proc.nthreads "
      "proc.nchilds proc.ppid proc.pname proc.pcmdline proc.apid proc.aname proc.loginshellid proc.duration "
      "proc.fdopencount proc.fdlimit proc.fdusage proc.vmsize proc.vmrss proc.vmswap thread.pfmajor "
      "thread.pfminor thread.tid thread.ismain thread.exectime thread.totexectime thread.cgroups "
      "thread.cgroup thread.vtid proc.vpid thread.cpu thread.cpu.user thread.cpu.system thread.vmsize "
      "thread.vmrss proc.sid proc.sname proc.tty proc.exepath proc.vpgid proc.is_container_healthcheck "
      "proc.is_container_liveness_probe proc.is_container_readiness_probe proc.is_exe_writable "
      "thread.vmsize.b thread.vmrss.b thread.nametid ")),
    ("user", "CLASS",
      "user.uid user.name user.homedir user.shell user.loginuid user.loginname "),
    ("group", "CLASS",
      "group.gid group.name "),
    ("container", "CLASS",
     ("container.id container.name container.image container.image.id container.type container.privileged "
      "container.mounts container.mount container.mount.source container.mount.dest container.mount.mode "
      "container.mount.rdwr container.mount.propagation container.image.repository container.image.tag "
      "container.image.digest container.healthcheck container.liveness_probe container.readiness_probe ")),
    ("fd", "CLASS",
     ("fd.num fd.type fd.typechar fd.name fd.directory fd.filename fd.ip fd.cip fd.sip fd.lip fd.rip "
      "fd.port fd.cport fd.sport fd.lport fd.rport fd.l4proto fd.sockfamily fd.is_server fd.uid "
      "fd.containername fd.containerdirectory fd.proto fd.cproto fd.sproto fd.lproto fd.rproto fd.net "
      "fd.cnet fd.snet fd.lnet fd.rnet fd.connected fd.name_changed fd.cip.name fd.sip.name fd.lip.name "
      "fd.rip.name fd.dev fd.dev.major fd.dev.minor ")),
    ("syslog", "CLASS",
      "syslog.facility.str syslog.facility syslog.severity.str syslog.severity syslog.message "),
    ("fdlist", "CLASS",
      "fdlist.nums fdlist.names fdlist.cips fdlist.sips fdlist.cports fdlist.sports "),
    ("k8s", "CLASS",
     ("k8s.pod.name k8s.pod.id k8s.pod.label k8s.pod.labels k8s.rc.name k8s.rc.id k8s.rc.label "
      "k8s.rc.labels k8s.svc.name k8s.svc.id k8s.svc.label k8s.svc.labels k8s.ns.name k8s.ns.id "
      "k8s.ns.label k8s.ns.labels k8s.rs.name k8s.rs.id k8s.rs.label k8s.rs.labels k8s.deployment.name "
      "k8s.deployment.id k8s.deployment.label k8s.deployment.labels ")),
    ("k8s", "MESOS_CLASS",
     ("mesos.task.name mesos.task.id mesos.task.label mesos.task.labels mesos.framework.name "
      "mesos.framework.id marathon.app.name marathon.app.id marathon.app.label marathon.app.labels "
      "marathon.group.name marathon.group.id ")),
    ("tracer", "CLASS",
     ("span.id span.time span.ntags span.nargs span.tags span.tag span.args span.arg span.enterargs "
      "span.enterarg span.duration span.duration.quantized span.duration.human span.duration.fortag "
      "span.count span.count.fortag span.childcount.fortag span.idtag span.rawtime span.rawparenttime ")),
    ("tracer", "EVTIN_CLASS",
     ("evtin.span.id evtin.span.ntags evtin.span.nargs evtin.span.tags evtin.span.tag evtin.span.args "
      "evtin.span.arg evtin.span.p.id evtin.span.p.ntags evtin.span.p.nargs evtin.span.p.tags "
      "evtin.span.p.tag evtin.span.p.args evtin.span.p.arg evtin.span.s.id evtin.span.s.ntags "
      "evtin.span.s.nargs evtin.span.s.tags evtin.span.s.tag evtin.span.s.args evtin.span.s.arg "
      "evtin.span.m.id evtin.span.m.ntags evtin.span.m.nargs evtin.span.m.tags evtin.span.m.tag "
      "evtin.span.m.args evtin.span.m.arg ")),
)
_NAMES: tuple[tuple[str, ...], ...] = tuple(tuple(names.split()) for _module, _attr, names in _TABLE)
_CLASS_OF: dict[str, int] = {name: i for i, names in enumerate(_NAMES) for name in names}  # name -> class
_loaded: list[FieldClass | None] = [None] * len(_TABLE)
_by_name: list[dict[str, FieldDef] | None] = [None] * len(_TABLE)


def field_class(index: int) -> FieldClass:
    """The field class at ``index`` in sysdig's order (its module imported on first use)."""
    cls = _loaded[index]
    if cls is None:
        module, attr, _names = _TABLE[index]
        # (__import__ with a fromlist returns the submodule itself: importlib would import warnings too)
        cls = _loaded[index] = getattr(__import__(f"sysdig_user.fields.{module}", fromlist=(attr,)), attr)
    return cls


def field_def(name: str) -> FieldDef | None:
    """The field called exactly ``name`` (no argument), or None."""
    index = _CLASS_OF.get(name)
    if index is None:
        return None
    fields = _by_name[index]
    if fields is None:
        fields = _by_name[index] = {f.name: f for f in field_class(index).fields}
    return fields[name]


def _classes() -> tuple[FieldClass, ...]:
    return tuple(field_class(i) for i in range(len(_TABLE)))


def _fields() -> dict[str, FieldDef]:
    return {f.name: f for c in _classes() for f in c.fields}


def _inline() -> dict[Extractor, tuple[str, dict[str, Any], bool]]:
    from sysdig_user.fields import evt, proc

    return {
        evt._num: ("evt.num", {}, False),
        evt._cpu: ("evt.cpu", {}, False),
        evt._dir: ('"<" if evt.type & 1 else ">"', {}, False),
        evt._type: (f"TYPE_NAMES[code] if 1 < (code := evt.type) < {len(evt.TYPE_NAMES)} else event_type_name(evt)",
                    {"TYPE_NAMES": evt.TYPE_NAMES, "event_type_name": evt.event_type_name}, False),
        proc.thread.tid: ("evt.tid", {}, False),
        proc._name: ("None if evt.thread is None else evt.thread.comm", {}, True),
    }


def _by_code() -> dict[Extractor, Callable[[int], Any]]:
    from sysdig_user.fields import evt

    return {
        evt._dir: lambda code: "<" if code & 1 else ">",
        evt._type: lambda code: evt.TYPE_NAMES[code] if 1 < code < len(evt.TYPE_NAMES) else None,
    }


_LAZY: dict[str, Callable[[], Any]] = {"CLASSES": _classes, "FIELDS": _fields, "INLINE": _inline, "BY_CODE": _by_code}


def __getattr__(name: str) -> Any:
    """CLASSES, FIELDS, INLINE and BY_CODE, made on first use (they import the class modules)."""
    make = _LAZY.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = make()
    return value


_param_names: tuple[str, ...] | None = None
_event_names: frozenset[str] | None = None


def _params_longest_first() -> tuple[str, ...]:
    """Every event param name, longest first (sinsp_utils::find_longest_matching_evt_param)."""
    global _param_names
    if _param_names is None:
        from sysdig_user.event_table import EVENTS

        _param_names = tuple(sorted({p.name for e in EVENTS for p in e.params}, key=len, reverse=True))
    return _param_names


def _is_event_name(text: str) -> bool:
    global _event_names
    if _event_names is None:
        from sysdig_user.event_table import EVENTS

        _event_names = frozenset(e.name for e in EVENTS)
    return text in _event_names
_WORD_RE = Regex(r"[A-Za-z_]*")
_LABEL_RE = Regex(r"[A-Za-z0-9/_.-]*")
_FILTER_FIELD_RE = Regex(r"[^ \t\r\n()!=<>]+")  # filter.lark's FIELD
_INDEX_RE = Regex(r"\[([^\]]*)\]")


_NUMBERED = frozenset({ArgSyntax.PARAM, ArgSyntax.TRACER, ArgSyntax.TRACER_INDEX, ArgSyntax.EVTIN,
                       ArgSyntax.AROUND})


class BoundField(Record):
    """One use of a field (one ``%token`` or one filter operand), with its own extractor state.

    ``extract(evt)`` returns the value or None (sysdig's NULL: the formatter prints ``<NA>``, or drops
    the event when the format has no ``*``). ``to_text(value)`` prints a non-None value exactly as
    ``sysdig -p`` does. ``parse_value(text)`` turns a filter literal into a comparable value.

    ``extract_many``, when set, gives the values of a field that matches several things at once
    (fd.ip, fd.port, fd.net, proc.apid / proc.aname without an index): a comparison holds if it holds
    for any value, except ``!=``, which must hold for all of them (libsinsp compare_ip / compare_port).
    """

    _fields = ("name", "ftype", "fmt", "flags", "arg", "extract", "to_text", "parse_value", "extract_many", "definition")
    __slots__ = _fields
    name: str
    ftype: PT
    fmt: PF
    flags: FieldFlag
    arg: str | None
    extract: Extractor
    to_text: Callable[[Any], str]
    parse_value: Callable[[str], Any]
    extract_many: Callable[[Event], Sequence[Any]] | None
    definition: FieldDef | None

    def __init__(self, name: str, ftype: PT, fmt: PF, flags: FieldFlag, arg: str | None, extract: Extractor,
                 to_text: Callable[[Any], str], parse_value: Callable[[str], Any],
                 extract_many: Callable[[Event], Sequence[Any]] | None = None,
                 definition: FieldDef | None = None) -> None:
        self.name = name
        self.ftype = ftype
        self.fmt = fmt
        self.flags = flags
        self.arg = arg
        self.extract = extract
        self.to_text = to_text
        self.parse_value = parse_value
        self.extract_many = extract_many
        self.definition = definition

    def __repr__(self) -> str:  # (the definition left out: it is the registry's row of ``name``)
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__[:-1])
        return f"BoundField({args})"

    @property
    def filter_only(self) -> bool:
        return bool(self.flags & FieldFlag.FILTER_ONLY)

    @property
    def text(self) -> str:
        """The field as written: ``evt.arg.name``, ``proc.apid[2]``, ``thread.cgroup.cpu``."""
        if self.arg is None:
            return self.name
        d = self.definition
        if d is not None and d.arg in (ArgSyntax.INDEX, ArgSyntax.BRACKET):
            return f"{self.name}[{self.arg}]"
        if d is not None and d.arg in _NUMBERED and self.arg.lstrip("-").isdigit():
            return f"{self.name}[{self.arg}]"
        return f"{self.name}.{self.arg}"


def _class_match(names: tuple[str, ...], text: str) -> str | None:
    """The longest of a class's field ``names`` that ``text`` starts with."""
    best: str | None = None
    for name in names:
        if text.startswith(name) and (best is None or len(name) > len(best)):
            best = name
    return best


def _number_arg(text: str, n: int) -> tuple[str, int]:
    """``[N]`` after a name of length ``n`` read as sinsp reads it (up to the text's first "]", a number
    or an error naming the text); the number as text and the length used."""
    end = text.find("]")
    numstr = text[n + 1:] if end < 0 else text[n + 1:end]
    number = parse_number(numstr)
    if end < 0:  # sinsp's length wraps around to 0: nothing of the name is used
        raise UnknownFieldError(text)
    return str(number), end + 1


def _param_arg(rest: str, text: str) -> tuple[str, int]:
    """``.NAME`` (rest starts with the dot): the longest event param name NAME starts with."""
    for pname in _params_longest_first():
        if rest.startswith(pname, 1):
            return pname, 1 + len(pname)
    raise FieldError(f"unknown event argument {rest[1:]}", text)


def _read_arg(f: FieldDef, text: str) -> tuple[str | None, int]:
    """The argument following ``f.name`` in ``text`` and the total length used."""
    n = len(f.name)
    rest = text[n:]
    syntax = f.arg
    if syntax is ArgSyntax.NONE:
        return None, n
    if syntax in (ArgSyntax.TRACER, ArgSyntax.TRACER_INDEX, ArgSyntax.EVTIN, ArgSyntax.AROUND) and rest[:1] == "[":
        return _number_arg(text, n)
    if syntax is ArgSyntax.AROUND and rest.startswith("."):
        raise FieldError(f"wrong syntax for {f.name}", text)
    if syntax is ArgSyntax.TRACER_INDEX and rest.startswith("."):
        raise FieldError(f"invalid syntax for {f.name}", text)
    if syntax is ArgSyntax.TRACER and rest.startswith("."):
        return rest[1:], len(text)  # the name runs to the end of the text
    if syntax is ArgSyntax.EVTIN and rest.startswith("."):
        pname, used = _param_arg(rest, text)
        return pname, n + used
    if syntax is ArgSyntax.LABEL and rest.startswith("."):
        label = _LABEL_RE.match(rest, 1)
        assert label is not None
        return label.group(0), n + label.end()
    if syntax is ArgSyntax.SUFFIX:
        for suffix in (".src", ".dst"):
            if rest.startswith(suffix):
                return suffix[1:], n + len(suffix)
        return None, n
    if syntax is ArgSyntax.PARAM and rest.startswith("["):
        return _number_arg(text, n)
    if syntax in (ArgSyntax.INDEX, ArgSyntax.BRACKET) and rest.startswith("["):
        m = _INDEX_RE.match(rest)
        if m is None:
            raise FieldError(f"filter syntax error: {text}", text)
        return m.group(1), n + m.end()
    if syntax in (ArgSyntax.PARAM, ArgSyntax.PARAM_NAME) and rest.startswith("."):
        pname, used = _param_arg(rest, text)
        return pname, n + used
    if syntax is ArgSyntax.WORD and rest.startswith("."):
        word = _WORD_RE.match(rest, 1)
        assert word is not None
        return word.group(0), n + word.end()
    if syntax is ArgSyntax.EVTTYPE and rest.startswith("."):
        etype = rest[1:]
        if etype.isdigit() or _is_event_name(etype):
            return etype, len(text)
        return None, n
    if f.flags & FieldFlag.ARG_OPTIONAL:
        return None, n
    if syntax is ArgSyntax.PARAM_NAME and rest.startswith("["):
        raise FieldError("evt.arg fields must be expressed explicitly", text)
    raise FieldError(f"filter syntax error: {text}", text)


def match_field(text: str) -> tuple[FieldDef, str | None, int]:
    """The field at the start of ``text``, its argument, and how many characters it spans.

    ``match_field("proc.apid[2] x")`` -> (proc.apid row, "2", 12). Raises UnknownFieldError when no
    field name is a prefix of ``text`` and FieldError for a malformed argument.
    """
    for names in _NAMES:
        name = _class_match(names, text)
        if name is not None:
            f = field_def(name)
            assert f is not None
            arg, used = _read_arg(f, text)
            return f, arg, used
    raise UnknownFieldError(text)


def bind(f: FieldDef, arg: str | None) -> BoundField:
    """A fresh use of field ``f`` with argument ``arg``."""
    if arg is None and f.flags & FieldFlag.REQUIRES_ARGUMENT and not f.flags & FieldFlag.ARG_OPTIONAL:
        raise FieldError(f"filter syntax error: {f.name}", f.name)
    made = f.make(arg)
    if not isinstance(made, Custom):
        return BoundField(f.name, f.ftype, f.fmt, f.flags, arg, made, text_fn(f.ftype, f.fmt),
                          literal_fn(f.ftype), None, f)
    ftype = made.ftype if made.ftype is not None else f.ftype  # evt.rawarg.X: the type of param X
    return BoundField(f.name, ftype, f.fmt, f.flags, arg, made.extract, made.text or text_fn(ftype, f.fmt),
                      made.parse or literal_fn(ftype), made.many, f)


def resolve_field(name: str, arg: str | None = None) -> BoundField:
    """Bind the field called ``name`` (``"evt.arg"`` with ``arg="name"``, or the whole ``"evt.arg.name"``).

    Raises UnknownFieldError (a FieldError, an SduError) naming the text when nothing matches.
    """
    f = field_def(name)
    if f is None:
        f, parsed_arg, used = match_field(name)
        if used != len(name):
            raise UnknownFieldError(name)
        if arg is None:
            arg = parsed_arg
    return bind(f, arg)


_TYPE_IS_DOT = "evt.type.is."

#: The class whose filter-only fields a format refuses (sinsp's fd class does; evt.around, also filter
#: only, prints <NA>).
_NOT_DISPLAYED = "fd"
#: fields whose index is optional in filters only: sinsp's parse_field_name wants ``[N]`` after them
_INDEX_FOR_OUTPUT = frozenset({"proc.apid", "proc.aname"})


def resolve_token(text: str) -> tuple[BoundField, int]:
    """Bind the field at the start of a ``-p`` token; returns it and the characters it used.

    A bare ``proc.apid`` / ``proc.aname`` (no ``[N]``) is the current process's value, as in sysdig:
    sinsp's parse_field_name accepts the name without an index only when it is the whole rest of the
    format (m_argid -1: no ancestor walked); anywhere else it says the token spans no characters
    (m_argid 0), so the name is printed again as literal text after the value and the JSON key is "".
    ``evt.type.is.X`` likewise spans no characters, and has no value."""
    if text.startswith(_TYPE_IS_DOT):
        f = field_def("evt.type.is")
        assert f is not None
        return BoundField(f.name, f.ftype, f.fmt, f.flags, None, _no_value, text_fn(f.ftype, f.fmt),
                          literal_fn(f.ftype), None, f), 0
    f, arg, used = match_field(text)
    if f.flags & FieldFlag.FILTER_ONLY and _TABLE[_CLASS_OF[f.name]][0] == _NOT_DISPLAYED:
        # sysdig names the rest of the format, not just the field
        raise FieldError(f"{text} is filter only and cannot be used as a display field", text)
    if arg is None and f.name in _INDEX_FOR_OUTPUT:
        return bind(f, "0"), (used if used == len(text) else 0)
    bound = bind(f, arg)
    if f.flags & FieldFlag.FILTER_ONLY:  # the others (evt.around) print as sysdig's NULL
        bound.extract = _no_value
        bound.extract_many = None
    return bound, used


def _no_value(evt: Event) -> None:
    return None


# ------------------------------------------------------------------------------------------------ -l

_COL = 30
_WIDTH = 120


def _wrap(text: str) -> list[str]:
    """sysdig's description layout: words fill 90 columns, every line ends with a space."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > _WIDTH - _COL:
            lines.append(line)
            line = ""
        line += word + " "
    if line or not lines:
        lines.append(line)
    return lines


def _entry(label: str, text: str) -> list[str]:
    lines = _wrap(text)
    pad = " " * _COL
    if len(label) < _COL:
        out = [label.ljust(_COL) + lines[0]]
    else:
        out = [label, pad + lines[0]]
    out += [pad + ln for ln in lines[1:]]
    return out


_TYPE_NAMES = {PT.DYN: "DYNAMIC"}


def type_name(ftype: PT) -> str:
    """A field's type as ``-lv`` and ``--list-markdown`` name it."""
    return _TYPE_NAMES.get(ftype, ftype.name)


def listing(verbose: bool = False) -> str:
    """``sdu -l`` (``-l -v`` with ``verbose``): the classes and fields we support, in sysdig's layout."""
    out: list[str] = []
    for cls in _classes():
        out.append("-" * 31)
        out.append("Field Class:".ljust(_COL) + cls.name)
        out += _entry("Description:", cls.description)
        out.append("")
        for f in cls.fields:
            if f.flags.hidden:
                continue
            desc = f.description
            if f.flags & FieldFlag.FILTER_ONLY:
                desc = "(FILTER ONLY) " + desc
            if verbose:
                desc = f"(Type: {_TYPE_NAMES.get(f.ftype, f.ftype.name)}) " + desc
            out += _entry(f.name, desc)
        out.append("")
    return "\n".join(out) + "\n"


def compile_predicate(text: str) -> Any:
    """``text`` compiled by the filter package against this registry (its unknown names become the
    filter's ``unrecognized field`` error, with sysdig's positions): a predicate over events."""
    from sysdig_user.filter import UnknownField, compile_filter

    def resolve(name: str, arg: str | None, pos: int) -> Any:
        # the name as written (its argument unsplit), read the way -p reads it: sinsp parses a filter's
        # field name and a format's token with the same code, errors included
        written = None if arg is None else _FILTER_FIELD_RE.match(text, pos)
        try:
            if written is None:
                return resolve_field(name, arg)
            return resolve_field(written.group(0))
        except UnknownFieldError:
            raise UnknownField(name, pos) from None

    return compile_filter(text, resolve)
