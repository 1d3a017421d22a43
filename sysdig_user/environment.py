"""Where a capture reads its settings and writes its text: the streams and the environment variables.

The CLI passes the process's own (``Environment.default()``); tests and the Python API pass buffers
(STYLE.md section 4). Nothing below the CLI reads ``sys.stdout`` or ``os.environ`` directly.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, BinaryIO


@dataclass
class Environment:
    """stdout (binary: events are bytes as the capture holds them), stderr (text) and the environment."""

    stdout: BinaryIO
    stderr: IO[str]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def default(cls) -> Environment:
        return cls(sys.stdout.buffer, sys.stderr, os.environ)
