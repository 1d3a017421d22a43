"""The man page and the completions come from the option table: every option is in each of them, the
bash function completes as a user types, and man renders the page without a warning."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sysdig_user import shell_files
from sysdig_user.cli_options import EXAMPLES, OPTIONS, help_text
from sysdig_user.version import SYSDIG_VERSION, __version__
from tests.support import ROOT, run_sdu


def _names() -> set[str]:
    return {n for o in OPTIONS for n in ([f"-{o.short}"] if o.short else []) + [f"--{x}" for x in o.long]}


def test_every_option_is_in_the_man_page_and_both_completions() -> None:
    page = shell_files.man_page()
    bash = shell_files.bash_completion()
    zsh = shell_files.zsh_completion()
    for name in _names():
        assert f"\\fB{name.replace('-', chr(92) + '-')}\\fR" in page, name
        assert f" {name} " in bash or f'"{name} ' in bash or f" {name}\"" in bash, name
        assert f"{name}[" in zsh or f"{name}=[" in zsh or f"{name}=-[" in zsh, name


def test_help_has_sysdigs_examples_adapted_and_the_version() -> None:
    text = help_text(__version__)
    assert text.startswith(f"sdu version {__version__} (sysdig {SYSDIG_VERSION} compatible")
    for what, cmd in EXAMPLES:
        assert f" {what}\n   $ {cmd}\n" in text
    assert "Output format:" in text and "%evt.num %evt.outputtime" in text


def test_version_names_both() -> None:
    res = run_sdu("--version")
    assert res.stdout == f"sdu version {__version__} (follows sysdig {SYSDIG_VERSION})\n"


def test_printed_files_are_the_installed_ones(tmp_path: Path) -> None:
    assert run_sdu("--man-page").stdout == shell_files.man_page()
    assert run_sdu("--completion", "bash").stdout == shell_files.bash_completion()
    assert run_sdu("--completion", "zsh").stdout == shell_files.zsh_completion()
    bad = run_sdu("--completion", "fish")
    assert bad.status == 1 and bad.stderr == "sdu: --completion takes bash or zsh, not 'fish'\n"
    res = run_sdu("--install-shell-files", str(tmp_path))
    assert res.status == 0
    for key, rel in shell_files.PATHS.items():
        assert (tmp_path / rel).read_text() == shell_files.contents()[key]


@pytest.mark.slow
def test_bash_completes_pr(tmp_path: Path) -> None:
    """`sdu --pr<TAB>`: the generated function, loaded in bash, offers the options starting so."""
    script = tmp_path / "sdu.bash"
    script.write_text(shell_files.bash_completion())
    run = subprocess.run(["bash", "-c", (f'source {script}; COMP_WORDS=(sdu --pr); COMP_CWORD=1; _sdu; '
                          'printf "%s\\n" "${COMPREPLY[@]}"')], capture_output=True, text=True, check=True)
    want = sorted(n for n in _names() if n.startswith("--pr"))
    assert sorted(run.stdout.split()) == want and "--print" in want
    timetype = subprocess.run(["bash", "-c", (f'source {script}; COMP_WORDS=(sdu -t ""); COMP_CWORD=2; _sdu; '
                               'printf "%s\\n" "${COMPREPLY[@]}"')], capture_output=True, text=True, check=True)
    assert timetype.stdout.split() == ["h", "a", "r", "d", "D"]


@pytest.mark.slow
def test_bash_completes_chisel_names(tmp_path: Path) -> None:
    script = tmp_path / "sdu.bash"
    script.write_text(shell_files.bash_completion())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sdu").write_text(f"#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m sysdig_user \"$@\"\n")
    (bindir / "sdu").chmod(0o755)
    run = subprocess.run(["bash", "-c", (f'PATH={bindir}:$PATH; source {script}; COMP_WORDS=(sdu -c topf); '
                          'COMP_CWORD=2; _sdu; printf "%s\\n" "${COMPREPLY[@]}"')],
                         capture_output=True, text=True, check=True)
    assert "topfiles_bytes" in run.stdout.split() and all(w.startswith("topf") for w in run.stdout.split())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed (scripts/install-test-deps.sh)")
def test_man_renders_the_page_without_warnings(tmp_path: Path) -> None:
    page = tmp_path / "sdu.8"
    page.write_text(shell_files.man_page())
    run = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True,
                         env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, check=False)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert "SDU(8)" in run.stdout and "--suppress-comm" in run.stdout and "EXAMPLES" in run.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (scripts/install-test-deps.sh)")
def test_zsh_reads_the_completion(tmp_path: Path) -> None:
    script = tmp_path / "_sdu"
    script.write_text(shell_files.zsh_completion())
    run = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
