"""Lesson 2: prove that a program never touches the network.

A test that a program "works offline" usually just runs it without a network and hopes. With sdu we
can assert it directly: no socket of an internet family is ever created, nothing is connected or
sent. `assert_no` fails with the offending system calls, printed as sysdig lines.
"""
import sys

# a small program that counts the words of a file: it should need nothing but the file system
WORD_COUNT = """
import sys
with open(sys.argv[1]) as f:
    print(len(f.read().split()))
"""

NETWORK_EVENTS = "evt.type in (connect, sendto, sendmsg) or fd.type in (ipv4, ipv6)"


def test_word_count_stays_offline(sdu_trace, tmp_path):
    text = tmp_path / "words.txt"
    text.write_text("the quick brown fox")

    run = sdu_trace([sys.executable, "-c", WORD_COUNT, str(text)])

    assert run.returncode == 0
    run.assert_no(NETWORK_EVENTS)
    assert (str(text), "O_RDONLY|O_CLOEXEC") in run.files_opened()


def test_the_check_would_catch_a_connection(sdu_trace):
    """The same assertion on a program that does connect (to itself, on 127.0.0.1) fails: the check
    is not vacuous."""
    talker = ("import socket\n"
              "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
              "socket.create_connection(s.getsockname()).close()\n")
    run = sdu_trace([sys.executable, "-c", talker])
    try:
        run.assert_no(NETWORK_EVENTS)
    except AssertionError as failure:
        assert "connect" in str(failure)
    else:
        raise AssertionError("a connection went unnoticed")
