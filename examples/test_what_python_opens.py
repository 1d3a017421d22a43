"""Lesson 1: what does `python3 -c pass` open before it runs a line of your code?

Starting an interpreter is not free: it looks for its standard library, reads compiled modules and
maybe a site configuration. sdu records every system call of the process, and `files_opened()`
lists the files it opened (with the flags it asked for), in order.
"""
import sys


def test_python_opens_its_standard_library(sdu_trace):
    run = sdu_trace([sys.executable, "-c", "pass"])
    assert run.returncode == 0

    opened = [name for name, flags in run.files_opened()]

    # Its first job is to find its text encodings: the encodings package is read from the standard
    # library (since Python 3.11 modules like os are frozen into the interpreter and never opened).
    assert any("/encodings/" in name for name in opened), opened

    # It only reads them: no file is opened for writing by "pass".
    writes = [(name, flags) for name, flags in run.files_opened() if "O_WRONLY" in flags or "O_RDWR" in flags]
    assert writes == [] or all(name.startswith("/dev/") for name, _ in writes), writes

    # The same question as a sysdig filter: every successful open of a .py or .pyc file.
    modules = run.filter("evt.type=openat and evt.dir=< and evt.rawres>=0 and fd.name contains .py")
    assert len(modules) >= 5
    print(f"python3 -c pass opened {len(opened)} files, {len(modules)} of them Python modules")
