"""sysdig-compatible argv parsing (getopt_long semantics) from the option table."""
from __future__ import annotations

import pytest

from sysdig_user.cli_options import OPTIONS, UsageError, help_text, parse_argv


def test_options_and_filter_words_interleave() -> None:
    opts = parse_argv(["-r", "a.scap", "evt.type=open", "-p%evt.num", "and", "-qS", "proc.name=cat"])
    assert opts.read == ["a.scap"]
    assert opts.print_format == "%evt.num"
    assert opts.quiet and opts.summary
    assert opts.filter == "evt.type=open and proc.name=cat"


def test_long_options_and_values() -> None:
    opts = parse_argv(["--read=x", "--numevents", "5", "--json", "--timetype=r"])
    assert (opts.read, opts.numevents, opts.json, opts.timetype) == (["x"], "5", True, "r")


def test_pid_list_and_command() -> None:
    opts = parse_argv(["-p", "12,13", "proc.name=x", "--", "ls", "-l"])
    assert opts.pids == [12, 13]
    assert opts.print_format is None
    assert opts.command == ["ls", "-l"]


def test_chisel_args_callback_and_cl() -> None:
    opts = parse_argv(["-c", "topfiles", "fd.type", "x"], lambda name, rest: rest[0])
    assert opts.chisels == [("topfiles", "fd.type")]
    assert opts.filter == "x"
    assert parse_argv(["-cl"]).list_chisels


def test_bad_options() -> None:
    with pytest.raises(UsageError, match="invalid option -- 'Q'"):
        parse_argv(["-Q"])
    with pytest.raises(UsageError, match="requires an argument"):
        parse_argv(["-r"])


def test_help_lists_every_option() -> None:
    text = help_text("x")
    for opt in OPTIONS:
        assert f"--{opt.long[0]}" in text if opt.long else f" -{opt.short} " in text


@pytest.mark.parametrize(("chisel", "flt"), [
    ("echo_fds", "fd.cip=127.0.0.1"),
    ("echo_fds", "fd.type=ipv4 or fd.type=ipv6"),
    ("spy_users", "user.name=root"),
])
def test_chisel_arguments_stop_at_the_command(chisel: str, flt: str) -> None:
    """A chisel with optional arguments never takes its arguments from the launched command: the words
    before "--" are a valid filter, so they stay the filter (sysdig's parse_chisel_args rule)."""
    from sysdig_user.cli import _chisel_arg_taker

    opts = parse_argv(["-X", "-c", chisel, flt, "--", "bash", "-c", "ls"], _chisel_arg_taker)
    assert opts.chisels == [(chisel, None)]
    assert opts.filter == flt
    assert opts.command == ["bash", "-c", "ls"]
    # the same words with no command after them: the same decision
    assert parse_argv(["-c", chisel, flt], _chisel_arg_taker).chisels == [(chisel, None)]
    # a word that is no filter is still the chisel's argument
    assert parse_argv(["-c", "spy_users", "3", "--", "ls"], _chisel_arg_taker).chisels == [("spy_users", "3")]
