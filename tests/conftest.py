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
