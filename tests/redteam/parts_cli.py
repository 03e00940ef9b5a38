"""unmetneed's command line with every release searched part by part (for the red team).

Protection and audit cut a release into parts of areas only from national size (a block
of 2,000 cells, a table of 30,000, parts of about 1,200 cells). This runs the command with
those limits at their least (parts of two areas, from any size), so the red team can attack
what part-by-part protection publishes on the sample's five areas:
``REDTEAM_CLI="python tests/redteam/parts_cli.py"``.
"""

from __future__ import annotations

import sys

import unmetneed.disclosure.attacker as attacker
import unmetneed.disclosure.release as release
import unmetneed.disclosure.secondary as secondary
from unmetneed.cli import main


def forced() -> None:
    """The limits at their least, in this process only (never on import: pytest imports
    this file to look for doctests, and the other tests must see the real limits)."""
    attacker.PARTS_FROM = 0
    secondary.PARTS_FROM = 0
    release.PART_CELLS = 1  # two areas a part: area_parts gathers at least two


if __name__ == "__main__":
    forced()
    sys.exit(main())
