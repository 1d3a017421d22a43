"""The optional compiled fast paths (tracer/_fastpath.c, tracer/_launch.c, sysdig_user/_fastline.c, sysdig_user/_sections.c),
the co-location watchdog program (tracer/_guard.c, built as tracer/<guard.HELPER> beside the extensions),
and the man page and shell completions made from the option table.

optional=True: where no C compiler or Python headers exist, the build skips the extensions and sdu
stays pure Python (tracer/fastpath.py, sysdig_user/native.py check for them).

The man page sdu(8) and the bash/zsh completions are written at build time by sysdig_user/shell_files.py
(from sysdig_user/cli_options.py, never by hand) into build/shell-files/ and installed as data files
under the environment's share/ (share/man/man8/sdu.8, share/bash-completion/completions/sdu,
share/zsh/site-functions/_sdu). ``sdu --install-shell-files PREFIX`` writes the same files elsewhere.
"""
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sysdig_user import shell_files
from tracer.guard import HELPER

OUT = Path("build", "shell-files")
written = shell_files.write_all(HERE / OUT)
data_files = [(str(Path(shell_files.PATHS[key]).parent), [str(OUT / shell_files.PATHS[key])])
              for key in shell_files.PATHS]

_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]


class BuildExtAndGuard(build_ext):
    """build_ext, then the watchdog program with the same compiler, into the tracer package's directory
    (the source tree for an editable install, else the build tree, whence it is installed with the
    package). Optional as the extensions are: without it, tracer/guard.py forks its Python watchdog."""

    def run(self) -> None:
        super().run()
        out = HERE / "tracer" if self.inplace else Path(self.build_lib) / "tracer"
        try:
            objects = self.compiler.compile(["tracer/_guard.c"], output_dir=self.build_temp, extra_postargs=_FLAGS)
            self.compiler.link_executable(objects, HELPER, output_dir=str(out))
        except Exception as exc:  # noqa: BLE001 - CompileError, LinkError, a missing compiler: optional
            print(f"warning: the watchdog program {HELPER} was not built ({exc}): sdu forks its Python one",
                  file=sys.stderr)


setup(cmdclass={"build_ext": BuildExtAndGuard},
      ext_modules=[Extension("tracer._fastpath", ["tracer/_fastpath.c"], optional=True, extra_compile_args=_FLAGS),
                   Extension("tracer._launch", ["tracer/_launch.c"], optional=True, extra_compile_args=_FLAGS),
                   Extension("sysdig_user._fastline", ["sysdig_user/_fastline.c"], optional=True,
                             extra_compile_args=_FLAGS),
                   Extension("sysdig_user._sections", ["sysdig_user/_sections.c"], optional=True,
                             extra_compile_args=_FLAGS)],
      data_files=data_files)
