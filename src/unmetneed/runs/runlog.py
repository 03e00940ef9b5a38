"""Plain, greppable log lines for unattended runs (stderr), or JSON lines with --log-json.

unmetneed run: validated input=raw rows=2000
unmetneed run: ok period=2024/25 outputs=6 dir=/srv/out/2024-25
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TextIO


@dataclass
class RunLog:
    """Where run events go: nowhere when quiet (errors are not events), else stderr."""

    quiet: bool = False
    as_json: bool = False
    stream: TextIO | None = None

    def event(self, what: str, **fields: object) -> None:
        """One line: ``unmetneed run: <what> key=value ...`` (values with spaces quoted)."""
        if self.quiet:
            return
        out = self.stream or sys.stderr
        if self.as_json:
            out.write(json.dumps({"event": what, **fields}, default=str, sort_keys=True) + "\n")
        else:
            parts = " ".join(f"{k}={_plain(v)}" for k, v in fields.items())
            out.write(f"unmetneed run: {what}{' ' + parts if parts else ''}\n")
        out.flush()


def _plain(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text
