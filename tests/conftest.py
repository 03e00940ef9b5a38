"""Shared fixtures: where the sample data and the real published files are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
REALDATA = ROOT.parent / "shared" / "realdata"


@pytest.fixture
def sample_dir() -> Path:
    """The synthetic sample world in data/sample/."""
    return SAMPLE


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata/, or skip the test where it is absent."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata/ is not here")
    return REALDATA


# Leaks the red team found that the release model does not close yet (issue 12 closing
# note). Each is expected to fail, strictly: the day one passes, the mark must go. None is
# known now; refusals the red team found (exit 4, nothing leaked) are strict xfails on
# their own tests, raising the refusal only (tests/test_redteam_zeros.py).
KNOWN_GAPS: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the known gaps (KNOWN_GAPS) as strict expected failures."""
    for item in items:
        reason = KNOWN_GAPS.get(item.name.split("[")[0])
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


# Property tests draw the same examples on every machine (CI included): a failure is then
# reproducible, and a slow example found once is not met at random on the next run.
from hypothesis import settings as _settings  # noqa: E402

_settings.register_profile("repeatable", derandomize=True)
_settings.register_profile("explore", max_examples=200)  # hunting: UNMETNEED_HYPOTHESIS=explore
_settings.load_profile(__import__("os").environ.get("UNMETNEED_HYPOTHESIS", "repeatable"))
