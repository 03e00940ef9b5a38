"""The HTML report in a real browser: headless Chromium renders it with no console error
and a screenshot that is not blank. Chromium (Debian's package) is installed when missing
and the test runs as root with apt-get; elsewhere the test is skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from unmetneed.cli import app

SAMPLE_FILES = ("raw_records.csv", "cohort_ootu.csv", "prevalence.csv", "quarterly.toml")


def _install_chromium() -> str | None:
    """The chromium binary, installing Debian's package first where that is possible."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or os.environ.get("UNMETNEED_NO_INSTALL"):
        return found
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _install_chromium()
    if found is None:
        pytest.skip("chromium is not installed and cannot be installed here")
    return found


def render(browser: str, page: Path, png: Path) -> str:
    """Screenshot ``page`` headless; returns the browser's console lines."""
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return "\n".join(line for line in done.stderr.splitlines() if ":CONSOLE" in line)


def not_blank(png: Path) -> bool:
    """More than 1% of the pixels are not background, in more than a few colours."""
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    ink = (pixels != pixels[0]).any(axis=1).mean()
    return bool(ink > 0.01 and len(np.unique(pixels, axis=0)) > 8)


def test_console_errors_are_seen(chromium: str, tmp_path: Path) -> None:
    """The check can fail: a page with a script error shows it."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nope();</script>")
    console = render(chromium, bad, tmp_path / "bad.png")
    assert "boom" in console and "nope" in console


def test_report_renders_without_errors(chromium: str, tmp_path: Path, sample_dir: Path) -> None:
    for name in SAMPLE_FILES:
        shutil.copy(sample_dir / name, tmp_path / name)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", str(tmp_path / "quarterly.toml"), "--out-dir", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    png = tmp_path / "report.png"
    console = render(chromium, out / "publish" / "report.html", png)
    assert console == ""
    assert png.exists() and not_blank(png)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>x</title>")
    render(chromium, blank, tmp_path / "blank.png")
    assert not not_blank(tmp_path / "blank.png")  # the blank check can fail too
