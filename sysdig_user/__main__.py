"""``python -m sysdig_user``: the sdu command line, as the ``sdu`` console script runs it."""
from __future__ import annotations

from sysdig_user.entry import console

if __name__ == "__main__":
    console()
