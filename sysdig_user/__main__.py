"""``python -m sysdig_user``: the sdu command line."""
from __future__ import annotations

import sys

from sysdig_user.entry import main

if __name__ == "__main__":
    sys.exit(main())
