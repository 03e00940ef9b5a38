"""The quarterly run end to end on the sample config: outputs, manifest, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.inputs.load import load
from unmetneed.outputs.write import read_meta, sha256_file

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


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its path inside it."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_sample_run_writes_publish_and_restricted_with_true_manifests(world: Path) -> None:
    out = world / "out"
    code, _, err = run(str(world / "quarterly.toml"), "--out-dir", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["publish", "restricted"]
    publish, restricted = out / "publish", out / "restricted"
    manifest = json.loads((publish / "manifest.json").read_text())
    assert manifest["period"] == "2024/25"
    assert set(manifest) == {"tool", "version", "period", "config_sha256", "policy", "outputs"}
    assert manifest["config_sha256"] == sha256_file(world / "quarterly.toml")
    names = sorted(p.name for p in publish.iterdir() if not p.name.endswith(".meta.json"))
    assert names == sorted([*(e["path"] for e in manifest["outputs"]), "manifest.json"])
    for entry in manifest["outputs"]:
        assert sha256_file(publish / entry["path"]) == entry["sha256"]
        assert entry["policy"] == "k3"
    assert not (publish / "extract.parquet").exists()
    runlog = json.loads((restricted / "runlog.json").read_text())
    for name, spec in runlog["inputs"].items():
        assert sha256_file(Path(spec["path"])) == spec["sha256"], name
    assert runlog["inputs"]["raw"]["rows"] == 2000  # the sample's raw records
    extract = load(restricted / "extract.parquet", "treatment").frame
    assert "client_id" not in extract and "date_of_birth" not in extract
    assert (restricted / "register.json").exists()
    assert read_meta(publish / "gap.parquet")["table"] == "gap"  # type: ignore[index]


def test_nothing_published_says_how_many_suppressed_counts_are_small(world: Path) -> None:
    out = world / "out"
    code, stdout, err = run(str(world / "quarterly.toml"), "--out-dir", str(out))
    assert code == 0, err
    texts = [stdout, err] + [
        p.read_text() for p in (out / "publish").iterdir() if p.suffix in (".json", ".csv")
    ]
    for text in texts:
        assert "n_primary" not in text and "n_secondary" not in text
        assert " count(s) of 1..3 suppressed" not in text
        assert "rows=" not in text and "released" not in text


def test_second_run_is_byte_identical(world: Path) -> None:
    out = world / "out"
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out), "--quiet")[0] == 0
    first = files(out / "publish")
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out), "--quiet")[0] == 0
    assert files(out / "publish") == first
    manifest = json.loads((out / "publish" / "manifest.json").read_text())
    assert manifest["outputs"] and all(e["sha256"] for e in manifest["outputs"])


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
    before = files(out)
    (world / "prevalence.csv").write_text("area,period\n")
    assert run(str(world / "quarterly.toml"), "--out-dir", str(out))[0] == 3
    assert files(out) == before


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
