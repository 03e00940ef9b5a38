"""The quarterly run end to end on the sample config: outputs, manifest, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.load import load
from unmetneed.write import read_meta, sha256_file

SAMPLE_FILES = ("raw_records.csv", "cohort_ootu.csv", "prevalence.csv", "quarterly.toml")


@pytest.fixture
def world(tmp_path: Path, sample_dir: Path) -> Path:
    """A copy of the sample inputs and config in a folder of the test's own."""
    for name in SAMPLE_FILES:
        shutil.copy(sample_dir / name, tmp_path / name)
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["run", *args])
    return result.exit_code, result.stdout, result.stderr


def test_sample_run_writes_valid_outputs_and_a_true_manifest(world: Path) -> None:
    out = world / "out"
    code, _, err = run(str(world / "quarterly.toml"), "--out-dir", str(out))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["period"] == "2024/25"
    names = sorted(p.name for p in out.iterdir() if not p.name.endswith(".meta.json"))
    assert names == sorted([*(e["path"] for e in manifest["outputs"]), "manifest.json"])
    for entry in manifest["outputs"]:
        assert sha256_file(out / entry["path"]) == entry["sha256"]
    for name, spec in manifest["inputs"].items():
        assert sha256_file(Path(spec["path"])) == spec["sha256"], name
    extract = load(out / "extract.parquet", "treatment").frame
    assert len(extract) == next(
        e["rows"] for e in manifest["outputs"] if e["path"] == "extract.parquet"
    )
    assert "client_id" not in extract and "date_of_birth" not in extract
    assert read_meta(out / "gap.parquet")["table"] == "gap"  # type: ignore[index]


def test_second_run_is_byte_identical(world: Path) -> None:
    out = world / "out"
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out), "--quiet")[0] == 0
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json"}
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out), "--quiet")[0] == 0
    second = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json"}
    assert first == second
    before = json.loads((out / "manifest.json").read_text())
    assert before["outputs"] and all(e["sha256"] for e in before["outputs"])


def test_quiet_prints_nothing(world: Path) -> None:
    code, out, err = run(str(world / "quarterly.toml"), "--out-dir", str(world / "o"), "--quiet")
    assert (code, out, err) == (0, "", "")


@pytest.mark.parametrize(
    ("file", "damage", "exit_code", "said"),
    [
        ("prevalence.csv", lambda t: t.replace(",opiate,", ",heroin,", 1), 3, "value 'heroin'"),
        (
            "prevalence.csv",
            lambda t: t + 'Northton,E06900001,"2024/25,opiate,1,1,1\n',
            2,
            "well-formed",
        ),
        ("cohort_ootu.csv", None, 2, "no such file"),
    ],
)
def test_bad_input_fails_and_leaves_no_output(
    world: Path,
    file: str,
    damage,
    exit_code: int,  # type: ignore[no-untyped-def]
    said: str,
) -> None:
    path = world / file
    if damage is None:
        path.unlink()
    else:
        path.write_text(damage(path.read_text()))
    out = world / "out"
    code, stdout, err = run(str(world / "quarterly.toml"), "--out-dir", str(out))
    assert code == exit_code
    assert said in err and "nothing was written" in err
    assert stdout == ""
    assert not out.exists()
    assert [p.name for p in world.iterdir() if p.name.startswith(".")] == []


def test_a_failed_run_leaves_the_previous_output_as_it_was(world: Path) -> None:
    out = world / "out"
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out), "--quiet")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (world / "prevalence.csv").write_text("area,period\n")
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out))[0] == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unknown_config_key_is_named_before_any_work(world: Path) -> None:
    config = world / "quarterly.toml"
    config.write_text(config.read_text().replace("prevalence_years = 3", "prevalence_yaers = 3"))
    code, _, err = run(str(config), "--out-dir", str(world / "out"))
    assert code == 2
    assert "unknown key 'gap.prevalence_yaers'" in err
    assert not (world / "out").exists()


def test_period_from_the_command_line(world: Path) -> None:
    code, _, err = run(
        str(world / "quarterly.toml"), "--out-dir", str(world / "out"), "--period", "2023/24"
    )
    # the sample records are all 2024/25: an empty period is a clear failure, not empty files
    assert code == 2
    assert "--period 2023/24: input raw has no rows of it (it has 2024/25)" in err
    assert not (world / "out").exists()
