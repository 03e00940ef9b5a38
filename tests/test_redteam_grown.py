"""Red team: an out-of-treatment cohort file that grows between quarters.

Each quarter's cohort file holds last quarter's people and some more. The attacker holds
every quarter's published files and subtracts them: a shown count of the grown cohort
minus last quarter's shown count of the same cell is the number of people added there.
Northton's OOTU denominator 38, then 40, with no_problem 30, then 32, says that the two
people added live in Northton and have no housing problem.

The independent attacker (tests/redteam/attacker.py; it reads only published files) sees
the cohort as periodic by *wave* (the people of the first file, then the people each
later file added): a quarter's tables cover the waves its file holds. Its separator atoms
of the later waves are the people added per area x drug group x crack, so a small group of
them pinned is a leak it reports; its self check against the true records (every
constraint it built must hold for them) keeps a broken parser from passing.
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
COMPARES = sc.QUARTER_COMPARES


def _cohorts(tmp: Path, added: Sequence[Sequence[int]]) -> list[tuple[Path, pd.DataFrame]]:
    """The sample cohort file, then one file per quarter after it: the last one's people
    and copies of the sample rows ``added[i]`` (new people alike in every variable). Each
    with its people, labelled by the wave that added them (``period``: w0, w1, ...)."""
    cohort = pd.read_csv(SAMPLE / "cohort_ootu.csv", dtype=str, keep_default_na=False)
    files = [(SAMPLE / "cohort_ootu.csv", cohort.assign(period="w0"))]
    rows = cohort
    for i, more in enumerate(added, start=1):
        rows = pd.concat([rows, cohort.iloc[list(more)]], ignore_index=True)
        path = tmp / f"cohort_q{i + 1}.csv"
        rows.to_csv(path, index=False)
        waves = pd.concat([files[-1][1], cohort.iloc[list(more)].assign(period=f"w{i}")])
        files.append((path, waves.reset_index(drop=True)))
    return files


def _quarter(tmp: Path, q: int, rel: Path, cohort: Path, rng: np.random.Generator) -> Path:
    """Quarter ``q``'s run (gap and four compare tables) into release ``rel``: 96% of the
    sample raw records, period 2024/25 Qq, the cohort file ``cohort``."""
    raw = pd.read_csv(SAMPLE / "raw_records.csv", dtype=str, keep_default_na=False)
    raw = raw[rng.random(len(raw)) > 0.04].assign(period=f"2024/25 Q{q}")
    raw.to_csv(tmp / f"raw_Q{q}.csv", index=False)
    out = tmp / f"out_Q{q}"
    cfg = sc.run_config(
        out, raw=tmp / f"raw_Q{q}.csv", period=f"2024/25 Q{q}", compares=COMPARES, ootu=cohort
    )
    cfg = cfg.replace("[disclosure]\n", f"[disclosure]\nrelease = {sc.toml_str(rel)}\n", 1)
    (tmp / f"Q{q}.toml").write_text(cfg, encoding="utf-8")
    sc.cli(["run", tmp / f"Q{q}.toml"])
    return out


@pytest.mark.parametrize(
    "added",
    [
        pytest.param([[0, 0]], id="two-alike-in-one-area"),
        pytest.param([[0, 1, 7]], id="three-in-several-areas"),
        pytest.param([[0, 0], [1]], id="grown-twice"),
    ],
)
def test_a_grown_cohort_over_quarters_is_protected(tmp_path: Path, added: list[list[int]]) -> None:
    """Quarterly runs into one release, the cohort file grown before each later quarter:
    the attacker holding every quarter's files (waves known) recovers no hidden count,
    narrows none below K, finds no group disclosure and pins no small group of the people
    added; no shown OOTU cell differs from last quarter's by 1..K; `audit --release`
    passes, and so does `audit` of every quarter's published files (no register)."""
    rel, rng = tmp_path / "rel", np.random.default_rng(11)
    cohorts = _cohorts(tmp_path, added)
    outs = [_quarter(tmp_path, q, rel, path, rng) for q, (path, _) in enumerate(cohorts, 1)]
    tables = []
    for q, out in enumerate(outs, start=1):
        pub = sc._publication([sc.publish_dir(out)], None, None)
        for t in pub.tables:
            t.name = f"Q{q}/{t.name}"
            t.period = f"2024/25 Q{q}"
            t.covers = {"OOTU": frozenset(f"w{w}" for w in range(q))}
        tables += pub.tables
    extracts = [sc.read_records(sc.restricted_extract(o)) for o in outs]
    truth = {"NDTMS": pd.concat(extracts, ignore_index=True), "OOTU": cohorts[-1][1]}
    added_waves = [frozenset([f"w{w}"]) for w in range(1, len(outs))]
    report = atk.attack(
        tables, truth=truth, periodic_labels={"NDTMS", "OOTU"}, added={"OOTU": added_waves}
    )
    print(report.summary(8))
    assert report.truth_checked and report.hidden, "the attacker saw no hidden cells"
    assert not report.leaks(), "; ".join(report.leaks()) + "\n" + report.summary(12)
    small = sc.grown_differences([sc.publish_dir(o) for o in outs])
    assert not small, "the people added, by difference:\n" + "\n".join(small)
    proc = sc.run(["audit", "--release", rel])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    files = [f for o in outs for f in sorted(sc.publish_dir(o).glob("*.parquet"))]
    proc = sc.run(["audit", *files])  # the files alone: earlier cells count the first wave
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]


def test_the_attacker_finds_a_grown_cohort_protected_apart(tmp_path: Path) -> None:
    """Control: the same two quarters, each run in a release of its own (protected apart,
    as before the release kept its people). The attacker, told the waves, finds the
    people added (two alike in Northton); so the test above can fail."""
    rng = np.random.default_rng(11)
    cohorts = _cohorts(tmp_path, [[0, 0]])
    outs = [
        _quarter(tmp_path, q, tmp_path / f"rel{q}", path, rng)
        for q, (path, _) in enumerate(cohorts, 1)
    ]
    assert sc.grown_differences([sc.publish_dir(o) for o in outs]), (
        "two people added to Northton, yet no difference shows"
    )
    tables = []
    for q, out in enumerate(outs, start=1):
        pub = sc._publication([sc.publish_dir(out)], None, None)
        for t in pub.tables:
            t.name, t.period = f"Q{q}/{t.name}", f"2024/25 Q{q}"
            t.covers = {"OOTU": frozenset(f"w{w}" for w in range(q))}
        tables += pub.tables
    extracts = [sc.read_records(sc.restricted_extract(o)) for o in outs]
    truth = {"NDTMS": pd.concat(extracts, ignore_index=True), "OOTU": cohorts[-1][1]}
    report = atk.attack(
        tables, truth=truth, periodic_labels={"NDTMS", "OOTU"}, added={"OOTU": [frozenset(["w1"])]}
    )
    pinned = [a for a in report.atoms_small if a.startswith("people added")]
    assert any("Northton" in a and "(true 2)" in a for a in pinned), report.summary(12)
