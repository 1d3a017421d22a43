"""Lesson 3: count the system calls of a buffered and an unbuffered copy.

Copying a file one byte at a time through an unbuffered file object makes one write() system call
per byte; a buffered file object collects the bytes and writes them in large blocks. `syscalls()`
counts each system call by name, so the difference is a number a test can check.
"""
import sys

COPY = """
import sys
src, dst, buffering = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as fin, open(dst, "wb", buffering=buffering) as fout:
    while byte := fin.read(1):
        fout.write(byte)
"""
SIZE = 2000


def copy_writes(sdu_trace, tmp_path, buffering):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * SIZE)
    run = sdu_trace([sys.executable, "-c", COPY, str(src), str(tmp_path / "dst.bin"), str(buffering)])
    assert run.returncode == 0
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()
    # only the writes to the copy: the interpreter writes nothing else, but say so in the filter
    return len(run.filter(f"evt.type=write and evt.dir=< and fd.name={tmp_path / 'dst.bin'}"))


def test_unbuffered_copy_writes_once_per_byte(sdu_trace, tmp_path):
    assert copy_writes(sdu_trace, tmp_path, buffering=0) == SIZE


def test_buffered_copy_writes_in_blocks(sdu_trace, tmp_path):
    writes = copy_writes(sdu_trace, tmp_path, buffering=8192)
    assert 1 <= writes <= 2  # 2000 bytes fit in one 8 KiB buffer, written when the file closes
