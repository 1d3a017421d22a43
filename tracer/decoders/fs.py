"""Path and directory syscalls: stat family, access, cwd, rename/link/unlink/mkdir/rmdir/symlink, chmod,
chroot, mount. Most of these events carry their params only on exit (2022 driver layout)."""
from __future__ import annotations

from tracer import memory
from tracer.decoders.base import Call, Decoder, Values, fd_only, no_params, res_only


def path_exit(c: Call) -> Values:
    """res + the path in arg 0 (stat, lstat, unlink, rmdir, chroot, umount2 ...)."""
    return [c.ret, c.path(0)]


def access_enter(c: Call) -> Values:
    return [c.u32(1)]


def access_exit(c: Call) -> Values:
    return [c.ret, c.path(0)]


def getcwd_exit(c: Call) -> Values:
    if c.ret <= 0:
        return [c.ret, ""]
    raw = memory.read_cstring(c.tid, c.args[0], min(c.ret, 4096)) or b""
    return [c.ret, raw.decode("utf-8", "surrogateescape")]


def two_paths_exit(c: Call) -> Values:
    return [c.ret, c.path(0), c.path(1)]


def renameat_exit(c: Call) -> Values:
    return [c.ret, c.fd(0), c.path(1), c.fd(2), c.path(3)]


def renameat2_exit(c: Call) -> Values:
    return [*renameat_exit(c), c.u32(4)]


def linkat_exit(c: Call) -> Values:
    return [c.ret, c.fd(0), c.path(1), c.fd(2), c.path(3), c.u32(4)]


def mkdir_enter(c: Call) -> Values:
    return [c.u32(1)]


def mkdirat_exit(c: Call) -> Values:
    return [c.ret, c.fd(0), c.path(1), c.u32(2)]


def unlinkat_exit(c: Call) -> Values:
    return [c.ret, c.fd(0), c.path(1), c.u32(2)]


def symlinkat_exit(c: Call) -> Values:
    return [c.ret, c.path(0), c.fd(1), c.path(2)]


def chmod_exit(c: Call) -> Values:
    return [c.ret, c.path(0), c.u32(1)]


def fchmod_exit(c: Call) -> Values:
    return [c.ret, c.fd(0), c.u32(1)]


def fchmodat_exit(c: Call) -> Values:
    return [c.ret, c.fd(0), c.path(1), c.u32(2)]


def mount_enter(c: Call) -> Values:
    return [c.u32(3)]


def mount_exit(c: Call) -> Values:
    return [c.ret, c.path(0), c.path(1), c.path(2)]


def umount2_enter(c: Call) -> Values:
    return [c.u32(1)]


def quotactl_enter(c: Call) -> Values:
    cmd = c.u32(0)
    return [(cmd >> 8) & 0xFFFF, cmd & 0xFF, c.u32(2), 0]


def quotactl_exit(c: Call) -> Values:
    return [c.ret, c.path(1), "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]


DECODERS: dict[str, Decoder] = {
    "stat": Decoder(no_params, path_exit),
    "lstat": Decoder(no_params, path_exit),
    "fstat": Decoder(fd_only, res_only),
    "access": Decoder(access_enter, access_exit),
    "getcwd": Decoder(no_params, getcwd_exit),
    "chdir": Decoder(no_params, path_exit),
    "fchdir": Decoder(fd_only, res_only),
    "rename": Decoder(no_params, two_paths_exit),
    "renameat": Decoder(no_params, renameat_exit),
    "renameat2": Decoder(no_params, renameat2_exit),
    "mkdir": Decoder(mkdir_enter, path_exit),
    "mkdirat": Decoder(no_params, mkdirat_exit),
    "rmdir": Decoder(no_params, path_exit),
    "link": Decoder(no_params, two_paths_exit),
    "linkat": Decoder(no_params, linkat_exit),
    "unlink": Decoder(no_params, path_exit),
    "unlinkat": Decoder(no_params, unlinkat_exit),
    "symlink": Decoder(no_params, two_paths_exit),
    "symlinkat": Decoder(no_params, symlinkat_exit),
    "chmod": Decoder(no_params, chmod_exit),
    "fchmod": Decoder(no_params, fchmod_exit),
    "fchmodat": Decoder(no_params, fchmodat_exit),
    "chroot": Decoder(no_params, path_exit),
    "mount": Decoder(mount_enter, mount_exit),
    "umount2": Decoder(umount2_enter, path_exit),
    "quotactl": Decoder(quotactl_enter, quotactl_exit),
}
