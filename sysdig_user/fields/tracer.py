"""The span.* and evtin.* fields: distributed-tracing spans.

libsinsp builds spans from *tracer* events, which sysdig 0.29.3 decodes from the markers applications
write to /dev/null (sinsp_filter_check_tracer, sinsp_filter_check_evtin); span.* describes the tracer
event itself, evtin.span.* the spans open around any event. sdu does not decode tracer markers, so the
fields have no value (``<NA>``; false in any filter comparison), as sysdig prints them for every
capture without tracers. Names and argument syntax are sysdig's: ``span.tag[N]`` (N may be negative),
``span.arg[N]`` or ``span.arg.NAME`` (NAME runs to the end of the text), ``evtin.span.arg.PARAM``
(PARAM an event parameter name, as evt.arg). The hidden span.* fields are the ones sysdig keeps for
its views (EPF_TABLE_ONLY): usable, not listed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import ArgSyntax, FieldClass, FieldDef, FieldFlag, plain

if TYPE_CHECKING:
    from sysdig_user.event import Event


def _no_span(evt: Event) -> None:
    """No tracer events are decoded: no span, no value."""
    return


_NA = plain(_no_span)
_ARG = FieldFlag.REQUIRES_ARGUMENT
_TABLE = FieldFlag.TABLE_ONLY

CLASS = FieldClass("span", "Fields used if information about distributed tracing is available.", (
    FieldDef("span.id", PT.INT64, PF.ID,
        "ID of the span. This is a unique identifier that is used to match the enter and exit tracer events "
        "for this span. It can also be used to match different spans belonging to a trace.", _NA),
    FieldDef("span.time", PT.CHARBUF, PF.NA,
        "time of the span's enter tracer as a human readable string that includes the nanosecond part.", _NA),
    FieldDef("span.ntags", PT.UINT32, PF.DEC, "number of tags that this span has.", _NA),
    FieldDef("span.nargs", PT.UINT32, PF.DEC, "number of arguments that this span has.", _NA),
    FieldDef("span.tags", PT.CHARBUF, PF.NA, "dot-separated list of all of the span's tags.", _NA),
    FieldDef("span.tag", PT.CHARBUF, PF.NA,
        "one of the span's tags, specified by 0-based offset, e.g. 'span.tag[1]'. You can use a negative "
        "offset to pick elements from the end of the tag list. For example, 'span.tag[-1]' returns the last "
        "tag.", _NA, _ARG, ArgSyntax.TRACER_INDEX),
    FieldDef("span.args", PT.CHARBUF, PF.NA, "comma-separated list of the span's arguments.", _NA),
    FieldDef("span.arg", PT.CHARBUF, PF.NA,
        "one of the span arguments, specified by name or by 0-based offset. E.g. 'span.arg.xxx' or "
        "'span.arg[1]'. You can use a negative offset to pick elements from the end of the tag list. For "
        "example, 'span.arg[-1]' returns the last argument.", _NA, _ARG, ArgSyntax.TRACER),
    FieldDef("span.enterargs", PT.CHARBUF, PF.NA,
        "comma-separated list of the span's enter tracer event arguments. For enter tracers, this is the "
        "same as evt.args. For exit tracers, this is the evt.args of the corresponding enter tracer.", _NA),
    FieldDef("span.enterarg", PT.CHARBUF, PF.NA,
        "one of the span's enter arguments, specified by name or by 0-based offset. For enter tracer events, "
        "this is the same as evt.arg. For exit tracer events, this is the evt.arg of the corresponding enter "
        "event.", _NA, _ARG, ArgSyntax.TRACER),
    FieldDef("span.duration", PT.RELTIME, PF.DEC,
        "delta between this span's exit tracer event and the enter tracer event.", _NA),
    FieldDef("span.duration.quantized", PT.UINT64, PF.DEC,
        "10-base log of the span's duration (for views).", _NA, _TABLE),
    FieldDef("span.duration.human", PT.CHARBUF, PF.NA,
        "delta between this span's exit tracer event and the enter event, as a human readable string (e.g. "
        "10.3ms).", _NA),
    FieldDef("span.duration.fortag", PT.RELTIME, PF.DEC,
        "the span's duration if its tag count is the argument, else 0 (for views).", _NA, _TABLE | _ARG,
        ArgSyntax.TRACER),
    FieldDef("span.count", PT.UINT64, PF.DEC, "1 for span exit events (for views).", _NA, _TABLE),
    FieldDef("span.count.fortag", PT.UINT64, PF.DEC,
        "1 if the span's tag count is the argument (for views).", _NA, _TABLE | _ARG, ArgSyntax.TRACER),
    FieldDef("span.childcount.fortag", PT.UINT64, PF.DEC,
        "1 if the span's tag count is above the argument (for views).", _NA, _TABLE | _ARG, ArgSyntax.TRACER),
    FieldDef("span.idtag", PT.CHARBUF, PF.NA, "id of the span list view.", _NA, _TABLE | _ARG,
        ArgSyntax.TRACER_INDEX),
    FieldDef("span.rawtime", PT.CHARBUF, PF.NA, "time of the span list view.", _NA, _TABLE),
    FieldDef("span.rawparenttime", PT.CHARBUF, PF.NA, "parent time of the span list view.", _NA, _TABLE),
))


# evtin.span.*: the same seven fields for four scopes (the thread that made the span, its process, its
# script, the machine); sysdig's descriptions of the script and machine scopes all cite evtin.span.id.
_IN_THREAD = ("accepts all the events that are between the enter and exit tracers of the spans with the given "
              "{what} and are generated by the same thread that generated the tracers.")
_SYNTAX = " See the description of span.{name} for information about the syntax accepted by this field."
_IN_PROCESS = ("same as evtin.span.{name}, but also accepts events generated by other threads in the same "
               "process that produced the span.")
_IN_SCRIPT = ("same as evtin.span.id, but also accepts events generated by the script that produced the span, "
              "i.e. by the processes whose parent PID is the same as the one of the process generating the "
              "span.")
_IN_MACHINE = ("same as evtin.span.id, but accepts all the events generated on the machine during the span, "
               "including other threads and other processes.")

# name, type, print format, what it matches (thread scope), argument syntax
_EVTIN = (
    ("id", PT.INT64, PF.ID, "ID", ArgSyntax.NONE),
    ("ntags", PT.UINT32, PF.DEC, "number of tags", ArgSyntax.NONE),
    ("nargs", PT.UINT32, PF.DEC, "number of arguments", ArgSyntax.NONE),
    ("tags", PT.CHARBUF, PF.NA, "tags", ArgSyntax.NONE),
    ("tag", PT.CHARBUF, PF.NA, "tag", ArgSyntax.EVTIN),
    ("args", PT.CHARBUF, PF.NA, "arguments", ArgSyntax.NONE),
    ("arg", PT.CHARBUF, PF.NA, "argument", ArgSyntax.EVTIN),
)


def _evtin_fields() -> tuple[FieldDef, ...]:
    out: list[FieldDef] = []
    for scope in ("", "p.", "s.", "m."):
        for name, ftype, fmt, what, syntax in _EVTIN:
            if scope == "":
                text = _IN_THREAD.format(what=what) + (_SYNTAX.format(name=name) if syntax else "")
            elif scope == "p.":
                text = _IN_PROCESS.format(name=name)
            else:
                text = _IN_SCRIPT if scope == "s." else _IN_MACHINE
            flags = _ARG if syntax else FieldFlag.NONE
            out.append(FieldDef(f"evtin.span.{scope}{name}", ftype, fmt, text, _NA, flags, syntax))
    return tuple(out)


EVTIN_CLASS = FieldClass("evtin", "Fields used if information about distributed tracing is available.",
                         _evtin_fields())
