"""The man page sdu(8) and the bash and zsh completions, all made from the option table
(sysdig_user/cli_options.py ``OPTIONS``, ``EXAMPLES``, ``FORMAT_NOTES``): nothing here names an option.

They reach a system three ways: ``pip install`` puts them under the environment's ``share/`` (setup.py
writes them at build time: ``share/man/man8/sdu.8``, ``share/bash-completion/completions/sdu``,
``share/zsh/site-functions/_sdu``); ``sdu --install-shell-files PREFIX`` writes the same three under
another prefix; ``sdu --man-page`` and ``sdu --completion bash|zsh`` print one of them.
"""
from __future__ import annotations

import os
from pathlib import Path

from sysdig_user.cli_options import EXAMPLES, FORMAT_NOTES, OPTIONS, Option, UsageError
from sysdig_user.version import SYSDIG_VERSION, __version__

#: where each file goes under a prefix
PATHS = {"man": "share/man/man8/sdu.8", "bash": "share/bash-completion/completions/sdu",
         "zsh": "share/zsh/site-functions/_sdu"}

# option values the shells can offer (by the option's metavar): files, chisel names, fixed words
_FILE_METAVARS = frozenset({"readfile", "writefile", "file"})
_CHISEL_METAVARS = frozenset({"chiselname"})
_WORDS = {"timetype": "h a r d D", "when": "auto always never", "shell": "bash zsh"}


def _names(o: Option) -> list[str]:
    return ([f"-{o.short}"] if o.short else []) + [f"--{n}" for n in o.long]


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes and hyphens escaped, no leading control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def man_page() -> str:
    """sdu(8) in man(7) roff."""
    out = [f'.TH SDU 8 "" "sdu {__version__}" "System Manager\'s Manual"',
           ".SH NAME", "sdu \\- sysdig's command line on ptrace and AF_PACKET, without a kernel driver",
           ".SH SYNOPSIS", ".B sdu",
           ("[\\fIoptions\\fR] [\\fB\\-p\\fR \\fIoutput_format\\fR] [\\fIfilter\\fR] "
           "[\\fB\\-\\-\\fR \\fIcommand\\fR [\\fIargs\\fR]]"),
           ".SH DESCRIPTION",
           _roff(f"sdu reads and writes sysdig {SYSDIG_VERSION} capture files and takes its filters, -p "
                 "formats and chisels. Live events come from a ptrace tracer (a command launched after "
                 "--, or running processes given to -p PID) and, with --net or --iface, from an AF_PACKET "
                 "socket. Options marked (sdu) are sdu's own; the others are sysdig's, with the meaning "
                 "this page gives."),
           ".SH OPTIONS"]
    groups: dict[str, list[Option]] = {}
    for o in OPTIONS:
        groups.setdefault(o.group, []).append(o)
    for group, opts in groups.items():
        out.append(f".SS {_roff(group)}")
        for o in opts:
            names = ", ".join(f"\\fB{_roff(n)}\\fR" for n in _names(o))
            if o.metavar:
                arg = f"\\fI{_roff(o.metavar)}\\fR"
                names += f"[={arg}]" if o.optional else f" {arg}"
            out += [".TP", names, _roff(o.help)]
    out += [".SH OUTPUT FORMAT", ".nf", *(_roff(line) for line in FORMAT_NOTES), ".fi", ".SH EXAMPLES"]
    for what, cmd in EXAMPLES:
        out += [".PP", _roff(what), ".RS", ".nf", _roff("$ " + cmd), ".fi", ".RE"]
    out += [".SH ENVIRONMENT", ".TP", ".B NO_COLOR",
            _roff("When set (to anything), the chisels write no colours (unless --color always)."),
            ".TP", ".B SYSDIG_CHISEL_DIR", _roff("Another directory of Lua chisels."),
            ".TP", ".B SDU_DEBUG", _roff("Print a traceback instead of the one-line internal error."),
            ".SH EXIT STATUS",
            _roff("0 on success, 1 on a bad command line or input; a launched command's own status (128+N "
                  "if signal N ended it); 141 when the reader of the output went away (sdu ... | head), "
                  "what a shell reports for sysdig, killed by SIGPIPE."),
            ".SH SEE ALSO", "sysdig(8), strace(1), tcpdump(8)", ""]
    return "\n".join(out)


def _value_words(o: Option) -> str | None:
    return _WORDS.get(o.metavar or "")


def bash_completion() -> str:
    """A bash completion function for sdu (``complete -F _sdu sdu``)."""
    files = sorted(n for o in OPTIONS if o.metavar in _FILE_METAVARS and not o.optional for n in _names(o))
    chisels = sorted(n for o in OPTIONS if o.metavar in _CHISEL_METAVARS for n in _names(o))
    valued = sorted(n for o in OPTIONS if o.metavar and not o.optional for n in _names(o))
    every = sorted({n for o in OPTIONS for n in _names(o)} | {"-cl"})
    cases = [f"        {'|'.join(files)}) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;",
             (f"        {'|'.join(chisels)}) COMPREPLY=($(compgen -W \"$(sdu -cl 2>/dev/null | "
             "sed -n 's/^\\([a-z0-9_]\\{1,\\}\\)\\( .*\\)\\{0,1\\}$/\\1/p')\" -- \"$cur\")); return ;;")]
    for o in OPTIONS:
        words = _value_words(o)
        if words:
            cases.append(f"        {'|'.join(_names(o))}) COMPREPLY=($(compgen -W \"{words}\" -- \"$cur\")); "
                         "return ;;")
    handled = set(files) | set(chisels) | {n for o in OPTIONS if _value_words(o) for n in _names(o)}
    cases.append(f"        {'|'.join(n for n in valued if n not in handled)}) return ;;  # any value")
    return "\n".join([
        f"# bash completion for sdu {__version__}, made from its option table (sdu --completion bash)",
        "_sdu() {",
        "    local cur prev i",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        if [[ "${COMP_WORDS[i]}" == "--" ]]; then',
        ("            if declare -F _command_offset >/dev/null; then _command_offset $((i + 1)); "
        'else COMPREPLY=($(compgen -c -- "$cur")); fi'),
        "            return",
        "        fi",
        "    done",
        '    case "$prev" in',
        *cases,
        "    esac",
        '    if [[ "$cur" == -* ]]; then',
        f'        COMPREPLY=($(compgen -W "{" ".join(every)}" -- "$cur"))',
        "    fi",
        "}",
        "complete -F _sdu sdu",
        ""])


def _zsh_text(text: str) -> str:
    first = text.split(". ")[0].rstrip(".")
    return first.replace("\\", "\\\\").replace("'", "'\\''").replace("[", "(").replace("]", ")").replace(":", ";")


def zsh_completion() -> str:
    """A zsh completion function for sdu (``#compdef sdu``, for a directory of $fpath)."""
    specs = []
    for o in OPTIONS:
        names = _names(o)
        desc = _zsh_text(o.help)
        action = ""
        if o.metavar:
            words = _value_words(o)
            if o.metavar in _FILE_METAVARS:
                act = "_files"
            elif o.metavar in _CHISEL_METAVARS:
                act = "_sdu_chisels"
            elif words:
                act = f"({words})"
            else:
                act = " "
            action = f":{o.metavar}:{act}"
        exclusive = f"({' '.join(names)})" if len(names) > 1 else ""
        for n in names:
            eq = "=" if n.startswith("--") and o.metavar else ""
            if o.optional:
                eq = "=-"
            specs.append(f"    '{exclusive}{n}{eq}[{desc}]{action}' \\")
    return "\n".join([
        "#compdef sdu",
        f"# zsh completion for sdu {__version__}, made from its option table (sdu --completion zsh)",
        "_sdu_chisels() {",
        "  local -a names",
        "  names=(${(f)\"$(sdu -cl 2>/dev/null | sed -n 's/^\\([a-z0-9_]\\{1,\\}\\)\\( .*\\)\\{0,1\\}$/\\1/p')\"})",
        "  compadd -a names",
        "}",
        "_arguments -s -S \\",
        *specs,
        "    '*::command:_normal'",
        ""])


def completion(shell: str) -> str:
    if shell == "bash":
        return bash_completion()
    if shell == "zsh":
        return zsh_completion()
    raise UsageError(f"sdu: --completion takes bash or zsh, not '{shell}'")


def contents() -> dict[str, str]:
    return {"man": man_page(), "bash": bash_completion(), "zsh": zsh_completion()}


def write_all(prefix: str | os.PathLike[str]) -> list[Path]:
    """Write the three files under ``prefix`` (directories created); returns their paths."""
    written = []
    for key, text in contents().items():
        path = Path(prefix, PATHS[key])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def install(prefix: str) -> list[Path]:
    """``--install-shell-files PREFIX``."""
    if not prefix:
        raise UsageError("sdu: --install-shell-files needs a prefix, e.g. /usr/local or ~/.local")
    try:
        return write_all(os.path.expanduser(prefix))
    except OSError as err:
        raise UsageError(f"sdu: cannot write the shell files under {prefix}: {err.strerror}") from None
