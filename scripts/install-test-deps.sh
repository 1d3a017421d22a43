#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then the project into .venv with its
# test extras. The system packages go through apt-get as root, or through sudo for another user (when
# neither can, they are left to the machine's owner and the tests needing them skip or, with
# SDU_REQUIRE_ORACLES=1, fail). The oracles: Debian's sysdig 0.29.3, strace, tshark, tcpdump; nc and curl
# for the live examples; gcc for the small C test programs and, with python3-dev, for the tracer's
# compiled fast path (tracer/_fastpath.c); iproute2/util-linux for namespaces; man-db, bash, zsh, tmux and
# jq for the man page, the completions, the terminal and the -o tests (tests/test_shell_files.py,
# tests/chisels/test_screen.py, tests/live/test_output_file.py).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root=()
[ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && as_root=(sudo); }
if { [ "$(id -u)" = 0 ] || [ ${#as_root[@]} -gt 0 ]; } && command -v apt-get >/dev/null; then
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    sysdig strace tshark tcpdump netcat-openbsd curl gcc libc6-dev iproute2 util-linux passwd \
    procps tar lua5.2 python3-dev python3-venv man-db groff-base bash zsh tmux jq >/dev/null
fi
# Keep a .venv the README's first command made (it may have been made by another python3).
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[test]'
