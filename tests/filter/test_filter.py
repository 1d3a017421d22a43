"""Filter language: parsing (ast shape, tokens), compiled semantics over fake events, sysdig's
error messages, and oracle comparisons with sysdig 0.29.3 on a sample capture."""
from __future__ import annotations

import ipaddress
import os
import subprocess
from typing import Any

import pytest

from sysdig_user.filter import (
    FilterError,
    ValueKind,
    compile_filter,
    event_types,
    parse,
    referenced_fields,
    value_kind,
)
from sysdig_user.filter.ast import Check, Conn, Seq
from tests.filter.fakes import resolve
from tests.support import require_tool, shared_path


def match(text: str, **evt: Any) -> bool:
    return compile_filter(text, resolve)({k.replace("__", "."): v for k, v in evt.items()})


def ev(**fields: Any) -> dict[str, Any]:
    return {k.replace("__", "."): v for k, v in fields.items()}


def error(text: str) -> str:
    with pytest.raises(FilterError) as info:
        compile_filter(text, resolve)
    return str(info.value)


# --- parsing ---------------------------------------------------------------------------------------
def test_ast_positions_and_connectors() -> None:
    flt = parse("evt.type=open and (proc.name=curl or proc.name=nc)")
    first, second = flt.root.items
    assert isinstance(first.node, Check) and first.conn is Conn.NONE
    assert (first.node.field, first.node.op, first.node.values[0].text) == ("evt.type", "=", "open")
    assert isinstance(second.node, Seq) and second.conn is Conn.AND
    assert second.node.pos == 18 and second.node.close_pos == 49
    assert [i.conn for i in second.node.items] == [Conn.NONE, Conn.OR]


@pytest.mark.parametrize("text, field, name, arg", [
    ("evt.arg.name contains /etc", "evt.arg.name", "evt.arg", "name"),
    ("evt.arg[0]=3", "evt.arg[0]", "evt.arg", "0"),
    ("evt.rawarg.res<0", "evt.rawarg.res", "evt.rawarg", "res"),
    ("proc.aname[2]=bash", "proc.aname[2]", "proc.aname", "2"),
    ("proc.apid[1]=4", "proc.apid[1]", "proc.apid", "1"),
    ("fd.name=x", "fd.name", "fd.name", None),
])
def test_field_arguments(text: str, field: str, name: str, arg: str | None) -> None:
    check = parse(text).checks()[0]
    assert (check.field, check.name, check.arg) == (field, name, arg)


@pytest.mark.parametrize("text, values", [
    ("proc.name=curl", ["curl"]),                       # no blanks needed
    ("fd.name glob /etc/*.conf", ["/etc/*.conf"]),      # bare words keep * / .
    ("fd.cip=127.0.0.1", ["127.0.0.1"]),
    ("evt.dir=<", ["<"]),
    ("evt.dir = >", [">"]),
    ("proc.name==curl", ["=curl"]),                     # sysdig reads "=" then the value "=curl"
    ("proc.name='a b'", ["a b"]),
    ('proc.name="a b"', ["a b"]),
    ('proc.name="x\\"y"', ['x"y']),
    ('proc.name="\\x41\\\\"', ["A\\"]),
    ("proc.name='curl\"", ["curl"]),                   # a quote of either kind ends a quoted value
    ("proc.name= and", ["and"]),                        # the next word is the value, whatever it is
    ("proc.name=", [""]),
    ("proc.name in (a, b,c)", ["a", "b", "c"]),
    ("proc.name in ( 'a' ,\"b\" )", ["a", "b"]),
    ("proc.name in (a,,b)", ["a", "", "b"]),
    ("proc.name in ()", [""]),
    ("proc.name containscurl", ["curl"]),               # operators need no word boundary
])
def test_values(text: str, values: list[str]) -> None:
    check = parse(text).checks()[0]
    assert [v.text for v in check.values] == values


def test_connector_letters_may_be_spread() -> None:
    assert [i.conn for i in parse("proc.name=a a n d proc.name=b").root.items] == [Conn.NONE, Conn.AND]
    assert parse("notproc.name=a").root.items[0].negate


def test_not_bits() -> None:
    root = parse("not not proc.name=a").root
    assert root.items[0].negate                          # "not not" is one NOT bit
    root = parse("proc.name=a not proc.name=b").root
    assert root.items[1].ignored                         # sysdig never evaluates b
    root = parse("proc.name=a and proc.name=b not proc.name=c").root
    assert (root.items[2].conn, root.items[2].negate, root.items[2].ignored) == (Conn.AND, True, False)


def test_referenced_fields() -> None:
    assert referenced_fields("evt.type=open and (proc.aname[2]=x or not fd.name exists)") == {
        "evt.type", "proc.aname[2]", "fd.name"}
    assert referenced_fields("") == set()


@pytest.mark.parametrize("text, expected", [
    ("evt.type in (open,openat)", {"open", "openat"}),
    ("evt.type=open", {"open"}),
    ("evt.type=open and proc.name=curl", {"open"}),
    ("evt.type in (open,read) and evt.type in (read,write)", {"read"}),
    ("(evt.type=open or evt.type=read) and fd.num>3", {"open", "read"}),
    ("evt.type=open or proc.name=x", None),
    ("not evt.type=open", None),
    ("evt.type!=open", None),
    ("proc.name=curl", None),
    ("evt.type=open not evt.type=read", {"open"}),
])
def test_event_types(text: str, expected: set[str] | None) -> None:
    assert event_types(parse(text)) == expected


def test_value_kinds() -> None:
    assert value_kind("CHARBUF") is ValueKind.STRING
    assert value_kind("PT_UINT64") is ValueKind.UINT
    assert value_kind(ValueKind.IPNET) is ValueKind.IPNET
    from sysdig_user.event_table import PT
    assert value_kind(PT.FSPATH) is ValueKind.STRING and value_kind(PT.IPV4ADDR) is ValueKind.IPADDR


# --- semantics ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, evt, result", [
    ("proc.name=curl", ev(proc__name="curl"), True),
    ("proc.name==curl", ev(proc__name="curl"), False),
    ("proc.name!=curl", ev(proc__name="nc"), True),
    ("proc.name<curm", ev(proc__name="curl"), True),
    ("proc.name>=curl", ev(proc__name="curl"), True),
    ("proc.name contains ur", ev(proc__name="curl"), True),
    ("proc.name icontains UR", ev(proc__name="curl"), True),
    ("proc.name startswith cu", ev(proc__name="curl"), True),
    ("proc.name endswith rl", ev(proc__name="curl"), True),
    ("fd.name glob /etc/*.conf", ev(fd__name="/etc/a/b.conf"), True),   # * crosses /
    ("fd.name glob /etc/?.conf", ev(fd__name="/etc/ab.conf"), False),
    ("fd.name glob '/etc/[!x]*'", ev(fd__name="/etc/y"), True),
    ("proc.name glob C*", ev(proc__name="curl"), False),                # case-sensitive
    ("proc.name in (nc, curl)", ev(proc__name="curl"), True),
    ("proc.name in (nc, bash)", ev(proc__name="curl"), False),
    ("fd.name pmatch (/etc, /usr/lib)", ev(fd__name="/etc/hosts"), True),
    ("fd.name pmatch (/etc/)", ev(fd__name="/etc/hosts"), True),
    ("fd.name pmatch (/et)", ev(fd__name="/etc/hosts"), False),
    ("fd.name exists", ev(fd__name="/etc/hosts"), True),
    ("fd.name exists", ev(), False),
    ("evt.rawres>=3", ev(evt__rawres=3), True),
    ("evt.rawres<-1", ev(evt__rawres=-2), True),
    ("evt.rawres in (1, 2, 3)", ev(evt__rawres=2), True),
    ("evt.num!=5", ev(evt__num=4), True),
    ("evt.failed=true", ev(evt__failed=True), True),
    ("evt.failed=false", ev(evt__failed=True), False),
    ("fd.cip=127.0.0.1", ev(fd__cip=ipaddress.ip_address("127.0.0.1")), True),
    ("fd.cip=127.0.0.1", ev(fd__cip="127.0.0.1"), True),
    ("fd.cip!=127.0.0.1", ev(fd__cip=ipaddress.ip_address("::1")), True),
    ("fd.cip in (10.0.0.1, ::1)", ev(fd__cip=ipaddress.ip_address("::1")), True),
    ("fd.net=142.250.0.0/16", ev(fd__net=ipaddress.ip_address("142.250.184.4")), True),
    ("fd.net!=142.250.0.0/16", ev(fd__net=ipaddress.ip_address("142.251.0.1")), True),
    ("fd.sport=http", ev(fd__sport=80), True),
    ("evt.buffer contains HTTP", ev(evt__buffer=b"GET / HTTP/1.1"), True),
    ("evt.buffer startswith '\\x47E'", ev(evt__buffer=b"GET"), True),
    ("evt.arg[0]=3", ev(**{"evt__arg[0]": "3"}), True),
])
def test_operators(text: str, evt: dict[str, Any], result: bool) -> None:
    assert compile_filter(text, resolve)(evt) is result


@pytest.mark.parametrize("op", ["=", "!=", "<", "contains", "icontains", "startswith", "endswith", "glob",
                                "in", "pmatch"])
def test_missing_field_makes_every_comparison_false(op: str) -> None:
    value = "(x)" if op in ("in", "pmatch") else "x"
    assert compile_filter(f"proc.name {op} {value}", resolve)({}) is False
    assert compile_filter(f"not proc.name {op} {value}", resolve)({}) is True


@pytest.mark.parametrize("text, a, b, c, result", [
    ("proc.pid=1 and (proc.pid=2 or evt.num=3)", 1, 0, 3, True),
    ("proc.pid=1 or proc.pid=2 or evt.num=3", 0, 0, 3, True),
    ("not proc.pid=1 and evt.num=3", 1, 0, 3, False),
    ("not (proc.pid=1 or evt.num=3)", 0, 0, 3, False),
    ("proc.pid=1 not evt.num=4", 1, 0, 3, True),                # b is never evaluated
    ("proc.pid=1 and fd.num=0 not evt.num=3", 1, 0, 3, False),  # "not" after an operand: and-not
])
def test_boolean_structure(text: str, a: int, b: int, c: int, result: bool) -> None:
    assert compile_filter(text, resolve)(ev(proc__pid=a, fd__num=b, evt__num=c)) is result


def test_empty_filter_matches_all() -> None:
    assert compile_filter("", resolve)({}) is True


# --- errors (texts verified with sysdig 0.29.3; the oracle test below re-checks them) ---------------
ERRORS = [
    ("evt.type=open and (proc.name=curl", "filter error at position 34: filter error: unexpected end of filter"),
    ("evt.bogus=1", "filter error at position 9: filter error: unrecognized field evt.bogus at pos 0"),
    ("proc.name ~= curl",
     "filter error at position 10: filter error: unrecognized comparison operator after proc.name "),
    ("proc.name", "filter error at position 9: filter error: unrecognized comparison operator after proc.name"),
    ("evt.type = open and evt.bogus = 1",
     "filter error at position 29: filter error: unrecognized field evt.bogus at pos 20"),
    ("evt.type=open and evt.bogus=1 and proc.name=curl",
     "filter error at position 27: filter error: unrecognized field evt.bogus at pos 18"),
    ("evt.num=1 and evt.num=2 or evt.num=3",
     "filter error at position 37: expression mixes 'and' and 'or' in an ambiguous way. Please use brackets."),
    ("(evt.num=1 and evt.num=2 or evt.num=3) and evt.bogus=1",
     "filter error at position 37: expression mixes 'and' and 'or' in an ambiguous way. Please use brackets."),
    ("evt.type=open and", "filter error at position 17: filter error: unexpected end of filter"),
    ("evt.type=open)", "filter error at position 14: filter error: unexpected end of filter"),
    ("()", "filter error at position 2: filter error: unexpected end of filter"),
    ("   ", "filter error at position 3: filter error: unexpected end of filter"),
    ("evt.rawres>abc", "filter error at position 14: abc is not a valid number"),
    ("evt.num=1.5", "filter error at position 11: 1.5 is not a valid number"),
    ("evt.num in ()", "filter error at position 11:  is not a valid number"),
    ("evt.num in (213, abc)", "filter error at position 19: abc is not a valid number"),
    ("evt.num in (1,2", "filter error at position 16: expected either ')' or ',' after a value inside the 'in' clause"),
    ("proc.name in (curl bash)",
     "filter error at position 19: expected either ')' or ',' after a value inside the 'in/pmatch' clause"),
    ("evt.num in 1,2", "filter error at position 11: expected '(' after 'in/intersects/pmatch' operand"),
    ("proc.name intersects (curl)", "filter error at position 12: expected '(' after 'in/intersects/pmatch' operand"),
    ("evt.num pmatch (1)", "filter error at position 16: pmatch requires all charbuf arguments"),
    ("proc.name bcontains 6375",
     "filter error at position 10: filter error: unrecognized comparison operator after proc.name "),
    ("evt.num=3 xyz", "filter error at position 10: syntax error in filter"),
    ("evt.num=3 oops", "filter error at position 11: syntax error in filter"),
    ("nosuch=1", "filter error at position 2: syntax error in filter"),
    ("evt.num=3 andy evt.num=4", "filter error at position 14: filter error: unrecognized field y at pos 13"),
    ("evt.bogus=1 xyz", "filter error at position 9: filter error: unrecognized field evt.bogus at pos 0"),
    ("evt.num=abc xyz", "filter error at position 11: abc is not a valid number"),
    ("=3", "filter error at position 0: filter error: unrecognized field  at pos 0"),
    ("(evt.num=213) (evt.num=214)", "filter error at position 14: unexpected '(' after (evt.num=213) "),
    ('proc.name="curl', "filter error at position 15: filter error: unclosed quotes"),
    ("proc.name=cu\\ rl", "filter error at position 13: filter error: unrecognized escape sequence at cu\\ rl"),
    ('proc.name="\\x4"', "filter error at position 14: filter error: unrecognized escape sequence at \\x4\""),
    ("fd.cip=abc", "filter error at position 10: unrecognized IPv6 address abc"),
    ("fd.cip=1.2.3.0/24", "filter error at position 17: unrecognized IPv4 address 1.2.3.0/24"),
    ("fd.net=142.250.0.0", "filter error at position 18: unrecognized IP network 142.250.0.0"),
    ("fd.cport=abc", "filter error at position 12: unrecognized protocol abc"),
    ("evt.failed=1", "filter error at position 12: filter error: unrecognized boolean value 1"),
    ("evt.type=foo", "filter error at position 12: unknown event type foo"),
    ("(evt.num=", "filter error at position 9:  is not a valid number"),
    ("evt.num contains 3", "'contains' not supported for numeric filters"),
    ("evt.buffer glob x", "'glob' not supported for buffer filters"),
]


@pytest.mark.parametrize("text, message", ERRORS)
def test_error_messages(text: str, message: str) -> None:
    assert error(text) == message


def test_golden_bad_filters() -> None:
    golden = shared_path("samples", "golden")
    for line in (golden / "CASES.tsv").read_text().splitlines():
        if not line.startswith("bad_filter"):
            continue
        case, _sample, args, _mode = line.split("\t")
        assert error(args.strip("'")) + "\n" == (golden / f"{case}.out").read_text()


# --- oracle: sysdig 0.29.3 on the same text / capture ----------------------------------------------------
def _sysdig(*args: str) -> subprocess.CompletedProcess[str]:
    sysdig = require_tool("sysdig")
    scap = shared_path("samples", "libs_curl_google.scap")
    return subprocess.run([sysdig, "-r", str(scap), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TZ": "UTC"}, check=False)


@pytest.mark.oracle
@pytest.mark.parametrize("text, message", ERRORS)
def test_error_messages_match_sysdig(text: str, message: str) -> None:
    proc = _sysdig("-p", "%evt.num", text)
    assert proc.returncode == 1
    assert (proc.stdout + proc.stderr).splitlines()[0] == message


_DUMP_FIELDS = ("evt.num", "evt.type", "evt.dir", "evt.rawres", "proc.name", "fd.name", "fd.type", "fd.cip",
                "fd.sport", "evt.failed", "fd.num")
_SEMANTIC_FILTERS = [
    "evt.type=open", "evt.type in (connect,sendto,recvfrom)", "fd.type=ipv6 and (proc.name=curl or proc.name=nc)",
    "not fd.name contains /usr and evt.dir=<", "evt.rawres>=3 and evt.rawres<=5 and evt.type!=read",
    "fd.name startswith /etc or fd.name endswith .so.6 or fd.name icontains LIBC", "fd.name glob /etc/*.conf",
    "fd.cip exists and evt.dir=>", "fd.name != /etc/hosts", "not fd.name exists", "fd.name pmatch (/etc, /usr/lib)",
    "evt.failed=true and not evt.type=access", "fd.sport=443 or fd.sport=http", "fd.cip=127.0.0.1",
    "fd.num in (3, 4) and evt.num<400", "evt.num<215 not evt.num>212", "not not evt.num<213",
    "fd.name > /lib", "evt.type=close and evt.rawres=0 a n d fd.num=3",
]


def _typed(name: str, text: str) -> Any:
    if text == "<NA>":
        return None
    if name in ("evt.num", "evt.rawres", "fd.sport", "fd.num"):
        return int(text)
    if name == "evt.failed":
        return text == "true"
    if name == "fd.cip":
        return ipaddress.ip_address(text)
    return text


@pytest.mark.oracle
def test_matches_agree_with_sysdig() -> None:
    dump = _sysdig("-p", "*" + "\x1f".join(f"%{f}" for f in _DUMP_FIELDS))
    events = []
    for line in dump.stdout.splitlines():
        parts = line.split("\x1f")
        events.append({name: _typed(name, text) for name, text in zip(_DUMP_FIELDS, parts, strict=True)})
    for text in _SEMANTIC_FILTERS:
        proc = _sysdig("-p", "%evt.num", text)
        expected = [int(n) for n in proc.stdout.split()]
        predicate = compile_filter(text, resolve)
        assert [e["evt.num"] for e in events if predicate(e)] == expected, text
