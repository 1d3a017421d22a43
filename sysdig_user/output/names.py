"""Names sysdig prints next to numbers: errno codes and signal numbers.

errno: sinsp_utils::errno_to_str (libsinsp utils.cpp at libs e5c53d64) maps a negative return value
to the Linux symbol; where Linux has two names for one number it prints the first one defined in
asm-generic/errno*.h (EAGAIN, not EWOULDBLOCK; EDEADLK, not EDEADLOCK; EOPNOTSUPP, not ENOTSUP). The
kernel-internal codes (512-529, include/linux/errno.h) can reach userspace through a tracer, so they
are listed as well. An unknown code resolves to nothing and sysdig prints the bare number.

signals: sinsp_utils::signal_to_str, x86_64 numbering (asm/signal.h), 1..31 only.
"""
from __future__ import annotations

import errno as _errno

# Where Python's errno.errorcode picks the alias, sysdig prints the primary name.
_ERRNO_PRIMARY = {11: "EAGAIN", 35: "EDEADLK", 95: "EOPNOTSUPP"}

_KERNEL_INTERNAL = {
    512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
    516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER", 518: "EOPENSTALE", 521: "EBADHANDLE",
    522: "ENOTSYNC", 523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT",
    527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED",
}


def _errno_names() -> dict[int, str]:
    names = {code: name for code, name in _errno.errorcode.items() if 0 < code < 512}
    names.update(_ERRNO_PRIMARY)
    names.update(_KERNEL_INTERNAL)
    return names


ERRNO_NAMES: dict[int, str] = _errno_names()

SIGNAL_NAMES: tuple[str, ...] = (
    "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
    "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
)


def errno_name(value: int) -> str:
    """``-2`` -> ``"ENOENT"``; ``""`` for a non-negative or unknown value."""
    if value >= 0:
        return ""
    return ERRNO_NAMES.get(-value, "")


def signal_name(signo: int) -> str:
    """``9`` -> ``"SIGKILL"``; ``""`` outside 1..31."""
    if 0 < signo < len(SIGNAL_NAMES):
        return SIGNAL_NAMES[signo]
    return ""
