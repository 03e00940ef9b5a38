"""Disclosure control: primary and secondary suppression, and the audit that proves it.

Every table a command writes goes through :func:`protect` first.
"""

from unmetneed.disclosure.model import Cells, Placement, Policy, Protection
from unmetneed.disclosure.protect import protect

__all__ = ["Cells", "Placement", "Policy", "Protection", "protect"]
