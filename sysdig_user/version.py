"""sdu's version and the sysdig release it follows: the one place both are written.

pyproject.toml reads ``__version__`` from here (``[tool.setuptools.dynamic]``), so the package metadata,
``sdu --version`` and ``--help`` cannot disagree.
"""
from __future__ import annotations

__version__ = "0.1.0"
#: the sysdig release whose command line, fields, chisels and capture files sdu reproduces
SYSDIG_VERSION = "0.29.3"
#: what that sysdig's --libs-version prints (Debian's 0.29.3 build; the text has no trailing newline)
LIBS_VERSION = "0.1.1dev+git20220316.e5c53d64"


def version_line() -> str:
    """``sdu --version``."""
    return f"sdu version {__version__} (follows sysdig {SYSDIG_VERSION})"
