"""Red team, more scenarios of an out-of-treatment cohort file that grows between quarters.

tests/test_redteam_grown.py attacks quarterly *runs* (every compare table of a quarter in one
command) over a cohort grown by copies of existing rows. This file tries what it does not:
separate ``compare`` commands per quarter, people added in an area the cohort had nobody
in, other policies (``nhs``, k=5), ``--exclude-not-stated`` / ``--zeros-disclosive``, a
grown file with its columns reordered and rows shuffled, a table of the old (smaller) file
after the release saw the grown one, a damaged people file, and growth by one person (a
file that lost people: tests/test_redteam_changed.py). The attacker
(tests/redteam/attacker.py) holds every quarter's files and knows the waves (the people each
file added); the difference check subtracts the same shown cell of two quarters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redteam import attacker as atk
from redteam import scenarios as sc

SAMPLE = sc.SAMPLE
BANDS = "18-29,30-39,40-49,50+"
PERIOD = "2024/25"

# (name, by, within, age bands) of the separate compare commands
COMMANDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str | None], ...] = (
    ("housing-by-area", ("housing",), ("area",), None),
    ("sex-by-area", ("sex",), ("area",), None),
    ("disability-by-cohort", ("disability",), ("substance_cohort",), None),
    ("age-by-area-cohort", ("age",), ("area", "substance_cohort"), BANDS),
)
RUN_COMPARES = sc.QUARTER_COMPARES


def _sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "cohort_ootu.csv", dtype=str, keep_default_na=False)


def _grown_files(
    tmp: Path, added: Sequence[pd.DataFrame], shuffle_last: bool = False
) -> list[tuple[Path, pd.DataFrame]]:
    """The sample cohort file, then one file per later quarter: the last one's people and
    the rows ``added[i]``; each with its people labelled by wave (``period``: w0, w1...).
    ``shuffle_last``: the last file's rows shuffled and its columns reversed."""
    cohort = _sample()
    files = [(SAMPLE / "cohort_ootu.csv", cohort.assign(period="w0"))]
    rows = cohort
    for i, more in enumerate(added, start=1):
        rows = pd.concat([rows, more], ignore_index=True)
        path = tmp / f"cohort_q{i + 1}.csv"
        out = rows
        if shuffle_last and i == len(added):
            out = rows.sample(frac=1, random_state=3)[list(reversed(rows.columns))]
        out.to_csv(path, index=False)
        waves = pd.concat([files[-1][1], more.assign(period=f"w{i}")], ignore_index=True)
        files.append((path, waves))
    return files


def _copies(rows: Sequence[int], **change: str) -> pd.DataFrame:
    """Copies of the sample rows ``rows`` (new people), with the columns ``change`` set."""
    frame = _sample().iloc[list(rows)].reset_index(drop=True)
    return frame.assign(**change) if change else frame


# --------------------------------------------------------------------------------------
# Quarters made by runs or by compare commands


def _args(
    ndtms: Path,
    cohort: Path,
    out: Path,
    by: Sequence[str],
    within: Sequence[str],
    bands: str | None,
    rel: Path,
    extra: Sequence[str] = (),
) -> list[str]:
    """A compare command of ``ndtms`` and the cohort file ``cohort`` into ``rel``."""
    return sc._compare_args(ndtms, out, by, within, bands, rel, extra, ootu=cohort)


def _command_quarter(
    tmp: Path,
    q: int,
    rel: Path,
    ndtms: Path,
    cohort: Path,
    commands: Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str | None]] = COMMANDS,
    extra: Sequence[str] = (),
) -> Path:
    """Quarter ``q``: one ``compare`` command per table of ``commands`` into ``rel``."""
    folder = tmp / f"pub_Q{q}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, by, within, bands in commands:
        out = folder / f"compare-{name}.parquet"
        sc.cli(_args(ndtms, cohort, out, by, within, bands, rel, extra))
    return folder


# --------------------------------------------------------------------------------------
# The attacks


def _audit(rel: Path, folders: Sequence[Path]) -> None:
    proc = sc.run(["audit", "--release", rel])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    files = [f for o in folders for f in sorted(o.glob("*.parquet"))]
    proc = sc.run(["audit", *files])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]


def _assert_safe(report: atk.Report, small: list[str]) -> None:
    assert report.truth_checked and report.hidden, "the attacker saw no hidden cells"
    assert not report.leaks(), "; ".join(report.leaks()) + "\n" + report.summary(12)
    assert not small, "the people added, by difference:\n" + "\n".join(small)


def _runs(
    tmp: Path, files: Sequence[tuple[Path, pd.DataFrame]], **config: object
) -> tuple[Path, list[Path], pd.DataFrame]:
    rel, rng = tmp / "rel", np.random.default_rng(11)
    folders = [
        sc.run_quarter(tmp, q, rel, path, rng, **config) for q, (path, _) in enumerate(files, 1)
    ]
    extracts = [sc.read_records(sc.restricted_extract(f.parent)) for f in folders]
    return rel, folders, pd.concat(extracts, ignore_index=True)


QUARTERS = [f"{PERIOD} Q{q}" for q in range(1, 5)]


# --------------------------------------------------------------------------------------
# 1. separate compare commands


@pytest.mark.parametrize(
    "added",
    [
        pytest.param(_copies([0]), id="one-person"),
        pytest.param(_copies([0, 1, 7, 12]), id="four-over-areas"),
        pytest.param(_copies([0], sex="other", housing="urgent_housing_problem"), id="rare"),
        pytest.param(_copies([0], area="Midford"), id="one-in-a-new-area"),
    ],
)
def test_separate_compare_commands_over_a_grown_cohort(tmp_path: Path, added: pd.DataFrame) -> None:
    """Quarter 1: four compare commands (housing/sex by area, disability by substance
    cohort, age by area x substance cohort) into one release; quarter 2: the same four
    commands over the grown cohort file. No leak; no shown OOTU cell differs by 1..3."""
    ndtms = sc.period_extract(tmp_path, PERIOD)
    files = _grown_files(tmp_path, [added])
    rel = tmp_path / "rel"
    folders = [
        _command_quarter(tmp_path, q, rel, ndtms, path) for q, (path, _) in enumerate(files, 1)
    ]
    small = sc.grown_differences(folders)
    report = sc.attack_grown(folders, files[-1][1], sc.read_records(ndtms), [PERIOD, PERIOD])
    _assert_safe(report, small)
    _audit(rel, folders)


# --------------------------------------------------------------------------------------
# 2. people added where the cohort had nobody; 9. growth by one person


@pytest.mark.parametrize(
    "added",
    [
        pytest.param(_copies([0], area="Midford"), id="one-in-a-new-area"),
        pytest.param(_copies([0, 1], area="Midford"), id="two-in-a-new-area"),
        pytest.param(_copies([5]), id="one-person"),
        pytest.param(_copies([0], drug_group="alcohol_only", crack="false"), id="new-group"),
    ],
)
def test_runs_over_a_cohort_grown_somewhere_new(tmp_path: Path, added: pd.DataFrame) -> None:
    """Two quarterly runs into one release; the cohort grows by people in an area (or
    substance group) where it had nobody, or by one person."""
    files = _grown_files(tmp_path, [added])
    rel, folders, ndtms = _runs(tmp_path, files)
    small = sc.grown_differences(folders)
    report = sc.attack_grown(folders, files[-1][1], ndtms, QUARTERS)
    _assert_safe(report, small)
    _audit(rel, folders)


# --------------------------------------------------------------------------------------
# 3. other policies


@pytest.mark.parametrize(
    ("config", "policy", "added"),
    [
        pytest.param({"policy": "nhs"}, atk.Policy.from_name("nhs"), _copies([0]), id="nhs-one"),
        pytest.param(
            {"policy": "nhs"}, atk.Policy.from_name("nhs"), _copies([0, 0, 1, 7, 9]), id="nhs-five"
        ),
        pytest.param(
            {"k": 5}, atk.Policy.from_name(None, 5), _copies([0, 0, 0, 0]), id="k5-four-alike"
        ),
    ],
)
def test_runs_over_a_grown_cohort_other_policies(
    tmp_path: Path, config: dict[str, object], policy: atk.Policy, added: pd.DataFrame
) -> None:
    files = _grown_files(tmp_path, [added])
    rel, folders, ndtms = _runs(tmp_path, files, **config)
    k = int(config.get("k", 3))  # type: ignore[call-overload]
    small = sc.grown_differences(folders, k) if "policy" not in config else []
    report = sc.attack_grown(folders, files[-1][1], ndtms, QUARTERS, policy=policy)
    _assert_safe(report, small)
    _audit(rel, folders)


# --------------------------------------------------------------------------------------
# 4. --exclude-not-stated and --zeros-disclosive


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(["--exclude-not-stated"], id="exclude-not-stated"),
        pytest.param(["--zeros-disclosive"], id="zeros-disclosive"),
    ],
)
def test_compare_commands_options_over_a_grown_cohort(tmp_path: Path, extra: list[str]) -> None:
    """One compare table per quarter (housing by area, with the option), the cohort grown
    by two people in Northton (one not_stated housing)."""
    ndtms = sc.period_extract(tmp_path, PERIOD)
    added = pd.concat([_copies([0]), _copies([0], housing="not_stated")], ignore_index=True)
    files = _grown_files(tmp_path, [added])
    rel = tmp_path / "rel"
    commands = [COMMANDS[0]]
    folders = [
        _command_quarter(tmp_path, q, rel, ndtms, path, commands, extra)
        for q, (path, _) in enumerate(files, 1)
    ]
    small = sc.grown_differences(folders)
    floor = 0 if "--zeros-disclosive" in extra else "auto"  # zeros hidden too
    records = sc.read_records(ndtms)
    report = sc.attack_grown(folders, files[-1][1], records, [PERIOD, PERIOD], hidden_floor=floor)
    _assert_safe(report, small)
    _audit(rel, folders)


def test_runs_exclude_not_stated_over_a_grown_cohort(tmp_path: Path) -> None:
    compares = [
        sc.compare_toml("housing-excl", ["housing"], ["area"], exclude_not_stated=True),
        sc.compare_toml("sex-excl", ["sex"], ["substance_cohort"], exclude_not_stated=True),
        sc.compare_toml("housing-by-area", ["housing"], ["area"]),
    ]
    added = pd.concat([_copies([0]), _copies([0], housing="not_stated")], ignore_index=True)
    files = _grown_files(tmp_path, [added])
    rel, folders, ndtms = _runs(tmp_path, files, compares=compares)
    small = sc.grown_differences(folders)
    report = sc.attack_grown(folders, files[-1][1], ndtms, QUARTERS)
    _assert_safe(report, small)
    _audit(rel, folders)


# --------------------------------------------------------------------------------------
# 5. the grown file's columns reordered and rows shuffled


def test_a_shuffled_grown_file_is_still_grown(tmp_path: Path) -> None:
    files = _grown_files(tmp_path, [_copies([0, 0])], shuffle_last=True)
    rel, folders, ndtms = _runs(tmp_path, files)
    small = sc.grown_differences(folders)
    report = sc.attack_grown(folders, files[-1][1], ndtms, QUARTERS)
    _assert_safe(report, small)
    _audit(rel, folders)


# --------------------------------------------------------------------------------------
# 6. the old file again after the release saw the grown one: the people added, gone


def test_the_old_file_after_growth_is_one_more_change(tmp_path: Path) -> None:
    """Q1 and Q2 housing-by-area commands (cohort grown by two in Northton), then an age by
    area table of the Q1 (smaller) file into the same release: the two added are gone
    again (a third file), protected so that no difference or leak shows; audits pass."""
    ndtms = sc.period_extract(tmp_path, PERIOD)
    files = _grown_files(tmp_path, [_copies([0, 0])])
    rel = tmp_path / "rel"
    commands = [COMMANDS[0], COMMANDS[1]]
    folders = [
        _command_quarter(tmp_path, q, rel, ndtms, path, commands)
        for q, (path, _) in enumerate(files, 1)
    ]
    late = tmp_path / "late"
    late.mkdir()
    out = late / "compare-age-by-area.parquet"
    sc.cli(_args(ndtms, files[0][0], out, ("age",), ("area",), BANDS, rel))
    report = sc.attack_grown(
        [*folders, late], files[-1][1], sc.read_records(ndtms), [PERIOD] * 3, waves_of=[0, 1, 0]
    )
    assert report.truth_checked
    assert not report.leaks(), "; ".join(report.leaks()) + "\n" + report.summary(12)
    _audit(rel, [*folders, late])


def test_the_old_file_run_after_growth(tmp_path: Path) -> None:
    """The same with a run: Q1, Q2 (grown) runs, then Q1's cohort file again in Q3."""
    files = _grown_files(tmp_path, [_copies([0, 0])])
    rel, rng = tmp_path / "rel", np.random.default_rng(11)
    folders = [sc.run_quarter(tmp_path, q, rel, path, rng) for q, (path, _) in enumerate(files, 1)]
    late = sc.run_quarter(tmp_path, 3, rel, files[0][0], rng)
    extracts = [sc.read_records(sc.restricted_extract(f.parent)) for f in [*folders, late]]
    report = sc.attack_grown(
        [*folders, late],
        files[-1][1],
        pd.concat(extracts, ignore_index=True),
        QUARTERS[:3],
        waves_of=[0, 1, 0],
    )
    assert not report.leaks(), "; ".join(report.leaks()) + "\n" + report.summary(12)
    _audit(rel, [*folders, late])


# --------------------------------------------------------------------------------------
# 8. a damaged or deleted people file


@pytest.mark.parametrize("damage", ["corrupt", "deleted", "truncated"])
def test_a_damaged_people_file_does_not_crash(tmp_path: Path, damage: str) -> None:
    ndtms = sc.period_extract(tmp_path, PERIOD)
    files = _grown_files(tmp_path, [_copies([0, 0])])
    rel = tmp_path / "rel"
    commands = [COMMANDS[0]]
    _command_quarter(tmp_path, 1, rel, ndtms, files[0][0], commands)
    kept = sorted((rel / "people").glob("*.parquet"))
    assert kept, "the release kept no people"
    for p in kept:
        if damage == "corrupt":
            p.write_bytes(b"PAR1 not really parquet" * 10)
        elif damage == "truncated":
            p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
        else:
            p.unlink()
    out = tmp_path / "pub_Q2" / "compare-housing-by-area.parquet"
    out.parent.mkdir()
    name, by, within, bands = commands[0]
    proc = sc.run(_args(ndtms, files[1][0], out, by, within, bands, rel))
    print(proc.returncode, proc.stderr[-1500:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if damage == "deleted":  # a release that kept no people: protected apart, and told why
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "keeps no people of an earlier cohort" in proc.stderr, proc.stderr[-2000:]
    else:  # unreadable: refused, naming the file; nothing written
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "cannot be read" in proc.stderr and kept[0].name in proc.stderr
        assert not out.exists()
    proc = sc.run(["audit", "--release", rel])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
