"""Every option of ``sysdig --help`` is accepted or refused as sysdig 0.29.3 does, and the ones with a
meaning here do what sysdig does (compared with sysdig on the shared samples and on captures sdu writes).

The walk reads sysdig's own --help, so an option sysdig lists and sdu lacks fails here by name.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support import line_diff, require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle

NO_FILE = "/nonexistent/capture.scap"


def _sysdig(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("sysdig"), *argv], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})


def _help_options() -> list[str]:
    """Every option name sysdig's --help shows at the start of an entry."""
    names: list[str] = []
    for line in _sysdig("--help").stdout.splitlines():
        if not re.match(r"^ --?[A-Za-z]", line):
            continue
        for name in re.findall(r"(?<![\w-])(--[a-z0-9-]+|-[A-Za-z]l?)(?![\w-])", line.split("  ")[0] + " "):
            if name not in names:
                names.append(name)
    return names


def _kind(text: str) -> str:
    """What a parser did with an option given last, without its value: refused it, wanted a value, or
    took it (and went on to fail opening the file, or printed a listing)."""
    if re.search(r"invalid option|unrecognized option", text):
        return "refused"
    if "requires an argument" in text:
        return "needs a value"
    return "accepted"


def test_the_walk_sees_sysdigs_options() -> None:
    names = _help_options()
    assert {"-A", "-B", "-cl", "-Il", "--exclude-users", "--libs-version", "--page-faults", "-U"} <= set(names)
    assert len(names) > 60


def test_every_sysdig_option_is_accepted_or_refused_as_sysdig_does() -> None:
    differ: list[str] = []
    for name in _help_options():
        want = _sysdig("-r", NO_FILE, name, timeout=30)
        got = run_sdu("-r", NO_FILE, name)
        want_kind, got_kind = _kind(want.stdout + want.stderr), _kind(got.output)
        if want_kind == got_kind:
            continue
        differ.append(f"{name}: sysdig {want_kind} ({(want.stdout + want.stderr).strip()[:80]!r}), "
                      f"sdu {got_kind} ({got.output.strip()[:80]!r})")
    assert not differ, "\n".join(differ)


@pytest.mark.parametrize("argv", [
    ("-H", "dummy"), ("-H", "dummy:{}"), ("-I", "dummy"), ("--input=dummy",), ("-H", "/nonexistent/p.so"),
    ("--plugin-config-file", "/nonexistent.yaml"), ("--filter-proclist",), ("--libs-version",), ("-Il",),
    ("-I", "l"),
])
def test_refusals_and_listings_word_for_word(argv: tuple[str, ...]) -> None:
    sample = str(shared_path("samples", "libs_curl_google.scap"))
    want = _sysdig(*argv, "-r", sample)
    got = run_sdu(*argv, "-r", sample)
    assert (got.stdout, got.stderr.strip(), got.status) == (want.stdout, want.stderr.strip(), want.returncode)


def test_empty_plugin_config(tmp_path: Path) -> None:
    empty = tmp_path / "falco.yaml"
    empty.write_text("")
    want = _sysdig("--plugin-config-file", str(empty), "-r", NO_FILE)
    got = run_sdu("--plugin-config-file", str(empty), "-r", NO_FILE)
    assert (got.stderr.strip(), got.status) == (want.stderr.strip(), want.returncode)


def test_list_markdown_is_sysdigs_for_every_class_sdu_lists() -> None:
    """Section by section: each class sdu lists is the same markdown as sysdig's (classes sdu does not
    list yet are another change's; -l's own test pins which)."""
    def sections(text: str) -> dict[str, str]:
        parts = re.split(r"\n(?=## Field Class: )", text)
        return {p.split("\n", 2)[0] + p.split("\n", 4)[3]: p.strip("\n") for p in parts if p.strip()}

    want = sections(_sysdig("--list-markdown").stdout)
    got = sections(run_sdu("--list-markdown").stdout)
    assert got and set(got) <= set(want)
    for key, text in got.items():
        assert line_diff(want[key].splitlines(), text.splitlines()) == "", key


@pytest.mark.parametrize("sample,comm", [
    ("libs_curl_google.scap", "curl"), ("libs_curl_google.scap", "bash"), ("falco_cat_write.scap", "cat"),
    ("libs_single_ipv6_conn.scap", "nc"),
])
def test_suppress_comm_as_sysdig(sample: str, comm: str) -> None:
    path = str(shared_path("samples", sample))
    for extra in ((), ("-p", "%evt.num %proc.name %thread.tid %evt.type")):
        want = _sysdig("-r", path, "-U", comm, *extra)
        got = run_sdu("-r", path, "-U", comm, *extra, environ={"TZ": "UTC"})
        assert line_diff(want.stdout.splitlines(), got.stdout.splitlines()) == ""
    want_v = _sysdig("-r", path, "-U", comm, "-q", "-v").stderr
    got_v = run_sdu("-r", path, "-U", comm, "-q", "-v").stderr
    suppressed = re.compile(r"Suppressed by Comm:\d+")
    assert suppressed.findall(got_v) == suppressed.findall(want_v)


@pytest.mark.parametrize("flag", ["-E", "--exclude-users", "-T", "--large-environment", "--page-faults",
                                  "-B", "--bpf=probe.o", "-k", "-K", "--node-name", "-u"])
def test_options_without_effect_on_a_file_read(flag: str) -> None:
    """On a capture file these change nothing in sysdig; the same in sdu (and sdu reads the same)."""
    path = str(shared_path("samples", "falco_cat_write.scap"))
    value = ("http://127.0.0.1:1",) if flag in ("-k", "-K", "--node-name") else ()
    want = _sysdig("-r", path, flag, *value)
    got = run_sdu("-r", path, flag, *value, environ={"TZ": "UTC"})
    assert (got.stdout, got.status) == (want.stdout, want.returncode)


def test_mesos_api_fails_as_when_sysdig_finds_no_master() -> None:
    path = str(shared_path("samples", "falco_cat_write.scap"))
    want = _sysdig("-r", path, "-m", "http://127.0.0.1:1")
    got = run_sdu("-r", path, "-m", "http://127.0.0.1:1")
    prefix = "mesos_http: Mesos master leader [http://127.0.0.1:1/master/state.json] detection failed: "
    assert want.stderr.startswith(prefix) and got.stderr.startswith(prefix)
    assert (got.stdout, got.status) == (want.stdout, want.returncode)


@pytest.mark.ptrace
def test_exclude_users_writes_no_user_table(tmp_path: Path) -> None:
    """-E: no user or group table in the -w file. sysdig reading it resolves no user (it prints no line
    for a format asking user.name), where the file written without -E names the user; sdu reads both
    files as sysdig does."""
    import os
    import pwd
    import sys

    fmt = ("-p", "%evt.num %user.name %evt.type")
    shown = {}
    for name, extra in (("with", ()), ("without", ("-E",))):
        path = tmp_path / f"{name}.scap"
        res = subprocess.run([sys.executable, "-m", "sysdig_user", *extra, "-w", str(path), "--", "true"],
                             capture_output=True, text=True, timeout=60, check=False)
        assert res.returncode == 0, res.stderr
        want = _sysdig("-r", str(path), *fmt).stdout.splitlines()
        assert run_sdu("-r", str(path), *fmt).stdout.splitlines() == want
        shown[name] = {line.split()[1] for line in want}
    assert shown["with"] == {pwd.getpwuid(os.getuid()).pw_name}
    assert shown["without"] == set()


@pytest.mark.parametrize("sample", ["libs_curl_google.scap", "libs_single_ipv6_conn.scap"])
@pytest.mark.parametrize("fmt", [(), ("-j",), ("-p", "%fd.name %fd.sport %fd.rport %evt.args")])
def test_resolve_ports_as_sysdig(sample: str, fmt: tuple[str, ...]) -> None:
    path = str(shared_path("samples", sample))
    want = _sysdig("-r", path, "-R", *fmt).stdout
    got = run_sdu("-r", path, "-R", *fmt, environ={"TZ": "UTC"}).stdout
    assert line_diff(want.splitlines(), got.splitlines()) == ""


@pytest.mark.ptrace
def test_resolve_ports_on_a_capture_sdu_writes(tmp_path: Path) -> None:
    """A UDP datagram to port 53 and a TCP connect to port 80 on loopback: -R names them (domain, http)
    in socket names and tuples, as sysdig does reading the same file."""
    from tests.support import record_python

    program = ("import socket\n"
               "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'x', ('127.0.0.1', 53))\n"
               "t = socket.socket()\n"
               "try:\n    t.connect(('127.0.0.1', 80))\nexcept OSError:\n    pass\n")
    capture = record_python(tmp_path / "ports.scap", program)
    flt = "evt.type in (sendto, connect)"
    want = _sysdig("-r", str(capture), "-R", "-p", "%evt.num %fd.name %evt.args", flt).stdout
    assert ":domain" in want
    got = run_sdu("-r", str(capture), "-R", "-p", "%evt.num %fd.name %evt.args", flt).stdout
    assert line_diff(want.splitlines(), got.splitlines()) == ""
    assert ":domain" not in run_sdu("-r", str(capture), "-p", "%fd.name %evt.args", flt).stdout


@pytest.mark.ptrace
@pytest.mark.parametrize("flt", ["proc.name=cat", "proc.name=sh or evt.type=openat", "fd.name contains /etc"])
def test_filter_proclist_writes_the_threads_sysdig_writes(tmp_path: Path, flt: str) -> None:
    """--filter-proclist with -w: the file's process table keeps the threads the filter passes (sinsp
    tests each with a bare event of the thread). sysdig and sdu filter the same capture; sysdig reads
    both files with the same process names, and both files are smaller than without the option."""
    from tests.support import record_python

    capture = record_python(tmp_path / "in.scap", "import subprocess\n"
                            "subprocess.run(['sh', '-c', 'cat /etc/hostname; ls / > /dev/null'])\n")
    fmt = ("-p", "*%evt.num %proc.name %proc.pid %proc.ppid %proc.pname %fd.name")
    shown, sizes = {}, {}
    for tool in ("sysdig", "sdu"):
        for option in ((), ("--filter-proclist",)):
            out = tmp_path / f"{tool}{len(option)}.scap"
            if tool == "sysdig":
                _sysdig("-r", str(capture), "-w", str(out), *option, flt)
            else:
                assert run_sdu("-r", str(capture), "-w", str(out), *option, flt).status == 0
            sizes[tool, bool(option)] = out.stat().st_size
        shown[tool] = _sysdig("-r", str(tmp_path / f"{tool}1.scap"), *fmt).stdout
    assert shown["sdu"] == shown["sysdig"] and shown["sdu"]
    assert sizes["sysdig", True] < sizes["sysdig", False] and sizes["sdu", True] < sizes["sdu", False]


@pytest.mark.ptrace
def test_suppress_comm_live(tmp_path: Path) -> None:
    """Live -U: no event of cat (started by the traced shell) is shown, counted by -v, or written by -w
    (sysdig reading the file finds none); the shell's events are all there."""
    import sys

    cmd = ["--", "sh", "-c", "cat /etc/hostname; ls / > /dev/null"]
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-U", "cat", "-v", "-p", "%proc.name", *cmd],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    names = set(res.stdout.split())
    assert "cat" not in names and {"sh", "ls"} <= names
    count = re.search(r"Suppressed by Comm:(\d+)", res.stderr)
    assert count and int(count.group(1)) > 0, res.stderr
    path = tmp_path / "u.scap"
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-U", "cat", "-w", str(path), *cmd],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    written = set(_sysdig("-r", str(path), "-p", "%proc.name").stdout.split())
    assert "cat" not in written and {"sh", "ls"} <= written


@pytest.mark.ptrace
def test_large_environment(tmp_path: Path) -> None:
    """An environment past 4 KiB is cut to 4096 bytes, as sysdig's driver cuts it (sysdig reads sdu's
    file with the same proc.env); --large-environment reads the whole one from /proc while the process
    lives, as sinsp does."""
    import os
    import sys

    big = "v" * 6000
    env = dict(os.environ, SDU_BIG=big)
    fmt = ("-p", "%proc.env", "evt.type=execve and evt.dir=<")

    def live(*extra: str) -> str:
        res = subprocess.run([sys.executable, "-m", "sysdig_user", *extra, *fmt, "--", "sleep", "0.5"],
                             capture_output=True, text=True, timeout=60, check=False, env=env)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert big not in live() and len(live()) <= 4096
    assert f"SDU_BIG={big}" in live("--large-environment")
    path = tmp_path / "big.scap"
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-q", "-w", str(path), "--", "true"],
                         capture_output=True, text=True, timeout=60, check=False, env=env)
    assert res.returncode == 0, res.stderr
    want = _sysdig("-r", str(path), *fmt).stdout
    assert want and big not in want
    assert run_sdu("-r", str(path), *fmt).stdout == want
