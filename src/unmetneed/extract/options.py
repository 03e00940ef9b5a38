"""What to anonymise and how (``AnonymiseOptions``), and the check of the options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from unmetneed.errors import OptionError, UsageError
from unmetneed.inputs.schemas import contract

Method = Literal["local", "rows"]


@dataclass(frozen=True)
class AnonymiseOptions:
    """What to anonymise and how.

    ``k``: every quasi-identifier combination in the output has at least ``k`` rows
    (0 or 1: no k-anonymity, identifiers are still removed). ``quasi``: the
    quasi-identifier columns (``None``: the default list, less optional columns absent
    from the input). ``method``: ``local`` (suppress single values first, then rows) or
    ``rows`` (delete every group smaller than ``k``, the plain K-rule). ``suppress_first``:
    columns whose values are given up before any other's (default: none, so the most
    common category in a group goes first).
    """

    k: int = 3
    quasi: tuple[str, ...] | None = None
    method: Method = "local"
    suppress_first: tuple[str, ...] = ()

    def check(self) -> None:
        """An :class:`OptionError` for the first option out of range (before any work)."""
        if self.k < 0:
            raise OptionError("k", self.k, "use a whole number >= 0 (3 is the K3 rule)")
        if self.method not in ("local", "rows"):
            raise OptionError("method", self.method, "use local or rows", quoted=True)
        for name in self.suppress_first:  # said as the command line has always said it
            if name not in contract("treatment").names:
                raise UsageError(f"suppress_first {name!r}: not a treatment extract column")


def _check_options(opts: AnonymiseOptions) -> None:
    opts.check()
