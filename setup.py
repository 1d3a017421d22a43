"""The optional compiled fast paths (tracer/_fastpath.c, tracer/_launch.c, sysdig_user/_fastline.c, sysdig_user/_sections.c),
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sysdig_user import shell_files

OUT = Path("build", "shell-files")
written = shell_files.write_all(HERE / OUT)
data_files = [(str(Path(shell_files.PATHS[key]).parent), [str(OUT / shell_files.PATHS[key])])
              for key in shell_files.PATHS]

_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
setup(ext_modules=[Extension("tracer._fastpath", ["tracer/_fastpath.c"], optional=True, extra_compile_args=_FLAGS),
                   Extension("tracer._launch", ["tracer/_launch.c"], optional=True, extra_compile_args=_FLAGS),
                   Extension("sysdig_user._fastline", ["sysdig_user/_fastline.c"], optional=True,
                             extra_compile_args=_FLAGS),
                   Extension("sysdig_user._sections", ["sysdig_user/_sections.c"], optional=True,
                             extra_compile_args=_FLAGS)],
      data_files=data_files)
