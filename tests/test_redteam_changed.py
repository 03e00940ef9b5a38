"""Red team: an out-of-treatment cohort file that lost people between quarters (and gained
others), published into one release.

The attacker (tests/redteam/attacker.py) holds every quarter's files and knows who is in
which file (each person labelled by the quarters whose file holds them: ``p10`` in the first
file only, ``p11`` in both, ``p01`` added). Subtracting the same shown cell of two quarters
gives the people gone less the people added there: where one of them is nobody, the other
is pinned. Every group of people gone or added between two quarters that the attacker pins
within 1..K is a leak, as are the usual exact and narrowed cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redteam import attacker as atk
from redteam import scenarios as sc

PERIOD = "2024/25"
COMMANDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str | None], ...] = (
    ("housing-by-area", ("housing",), ("area",), None),
    ("sex-by-area", ("sex",), ("area",), None),
    ("disability-by-cohort", ("disability",), ("substance_cohort",), None),
)


def _sample() -> pd.DataFrame:
    return pd.read_csv(sc.SAMPLE / "cohort_ootu.csv", dtype=str, keep_default_na=False)


def _changed_files(
    tmp: Path, steps: Sequence[tuple[Sequence[int], Sequence[int]]]
) -> tuple[list[Path], pd.DataFrame, list[frozenset[str]]]:
    """The sample cohort file, then one file per step ``(gone, added)``: the last file
    without the sample rows ``gone`` and with copies of the sample rows ``added``. Returns
    the files, every person ever with their label (``period``: which files hold them) and
    each file's labels."""
    cohort = _sample()
    quarters = len(steps) + 1
    held = [[True] * len(cohort)]
    people = cohort.copy()
    for gone, added in steps:
        now = list(held[-1]) + [False] * (len(people) - len(held[-1]))
        for row in gone:
            now[row] = False
        people = pd.concat([people, cohort.iloc[list(added)]], ignore_index=True)
        held.append(now + [True] * len(added))
    files, covers = [], []
    for q in range(quarters):
        mask = [q < len(held) and i < len(held[q]) and held[q][i] for i in range(len(people))]
        path = tmp / f"cohort_q{q + 1}.csv"
        people[mask].to_csv(path, index=False)
        files.append(path)
    labels = [
        "p" + "".join("1" if i < len(h) and h[i] else "0" for h in held) for i in range(len(people))
    ]
    covers = [frozenset(x for x in set(labels) if x[1 + q] == "1") for q in range(quarters)]
    return files, people.assign(period=labels), covers


def _groups(covers: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """The people added, and the people gone, between any two quarters (nonempty)."""
    out = []
    for a, b in combinations(covers, 2):
        out += [g for g in (b - a, a - b) if g]
    return out


def _quarter(tmp: Path, q: int, rel: Path, ndtms: Path, cohort: Path) -> Path:
    folder = tmp / f"pub_Q{q}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, by, within, bands in COMMANDS:
        out = folder / f"compare-{name}.parquet"
        sc.cli(sc._compare_args(ndtms, out, by, within, bands, rel, (), ootu=cohort))
    return folder


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([([0], [])], id="one-gone"),
        pytest.param([([0, 5], [1])], id="two-gone-one-added"),
        pytest.param([([3], [0, 0])], id="one-gone-two-alike-added"),
        pytest.param([([8, 12], [])], id="westmere-emptied"),
        pytest.param([([24], [])], id="the-one-not-stated-sex-gone"),
        pytest.param([([], [0, 1]), ([70, 71], [])], id="the-people-added-gone-again"),
        pytest.param([([35], [45]), ([45, 70], [8]), ([2], [35])], id="four-quarters"),
        pytest.param([([0], [3]), ([7, 12], [])], id="three-quarters"),
    ],
)
def test_a_cohort_that_lost_people_cannot_be_differenced(
    tmp_path: Path, steps: list[tuple[list[int], list[int]]]
) -> None:
    """Three compare commands a quarter into one release, the cohort file losing people
    (and gaining some): no leak, no group of people gone or added pinned within 1..3, and
    both audits pass."""
    ndtms = sc.period_extract(tmp_path, PERIOD)
    files, people, covers = _changed_files(tmp_path, steps)
    rel = tmp_path / "rel"
    folders = [_quarter(tmp_path, q, rel, ndtms, path) for q, path in enumerate(files, 1)]
    _assert_safe(rel, folders, people, sc.read_records(ndtms), [PERIOD] * len(files), covers)


def _assert_safe(
    rel: Path,
    folders: Sequence[Path],
    people: pd.DataFrame,
    records: pd.DataFrame,
    periods: Sequence[str],
    covers: Sequence[frozenset[str]],
    policy: atk.Policy | None = None,
) -> None:
    """The attacker over every quarter's files (``people``: the cohort's, labelled by the
    files that hold them; ``covers``: each file's labels) finds no leak and pins no group of
    people gone or added; ``audit --release`` and ``audit`` of every file pass."""
    report = sc.attack_grown(
        folders, people, records, periods, policy=policy, covers=covers, groups=_groups(covers)
    )
    assert report.truth_checked and report.hidden, "the attacker saw no hidden cells"
    assert not report.leaks(), "; ".join(report.leaks()) + "\n" + report.summary(12)
    proc = sc.run(["audit", "--release", rel])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    files = [f for o in folders for f in sorted(o.glob("*.parquet"))]
    proc = sc.run(["audit", *files])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]


def _runs(
    tmp: Path, steps: Sequence[tuple[Sequence[int], Sequence[int]]], seed: int, **config: object
) -> tuple[Path, list[Path], pd.DataFrame, pd.DataFrame, list[str], list[frozenset[str]]]:
    """One quarterly run per cohort file of ``steps`` (:func:`_changed_files`) into one
    release: the release, the publish folders, the cohort's people, the restricted
    extracts' records, the runs' periods and each file's labels."""
    files, people, covers = _changed_files(tmp, steps)
    rel, rng = tmp / "rel", np.random.default_rng(seed)
    folders = [sc.run_quarter(tmp, q, rel, p, rng, **config) for q, p in enumerate(files, 1)]
    extracts = [sc.read_records(sc.restricted_extract(f.parent)) for f in folders]
    periods = [f"{PERIOD} Q{q}" for q in range(1, len(files) + 1)]
    return rel, folders, people, pd.concat(extracts, ignore_index=True), periods, covers


def test_quarterly_runs_over_a_cohort_that_changed(tmp_path: Path) -> None:
    """Three quarterly runs (gap and the red team's quarter compares) into one release, the
    cohort file losing two people and gaining one, then losing one and gaining two: no
    leak, no group of people gone or added pinned within 1..3, both audits pass."""
    rel, folders, people, records, periods, covers = _runs(
        tmp_path, [([0, 5], [1]), ([7], [2, 9])], seed=11
    )
    _assert_safe(rel, folders, people, records, periods, covers)


@pytest.mark.parametrize(
    ("config", "policy"),
    [
        pytest.param({"policy": "nhs"}, "nhs", id="nhs"),
        pytest.param({"k": 5}, "k5", id="k5"),
    ],
)
def test_runs_over_a_changed_cohort_other_policies(
    tmp_path: Path, config: dict[str, object], policy: str
) -> None:
    """Two quarterly runs under ``nhs`` or k = 5, the cohort losing a Westmere person and
    gaining a Northton one: no leak under that policy; both audits pass."""
    rel, folders, people, records, periods, covers = _runs(tmp_path, [([8], [0])], seed=5, **config)
    k = int(config.get("k", 3))  # type: ignore[call-overload]
    named = atk.Policy.from_name("nhs" if policy == "nhs" else None, k)
    _assert_safe(rel, folders, people, records, periods, covers, policy=named)


def test_compare_commands_exclude_not_stated_over_a_changed_cohort(tmp_path: Path) -> None:
    """Housing by area with ``--exclude-not-stated``, two quarters, the one person whose
    housing is not stated gone and a Northton person added: the denominators differ by
    the people gone and added only; no leak; both audits pass."""
    ndtms = sc.period_extract(tmp_path, PERIOD)
    gone = _sample().index[_sample()["housing"] == "not_stated"].tolist()
    files, people, covers = _changed_files(tmp_path, [(gone, [0])])
    rel = tmp_path / "rel"
    folders = []
    for q, path in enumerate(files, 1):
        folder = tmp_path / f"pub_Q{q}"
        folder.mkdir()
        out = folder / "compare-housing-by-area.parquet"
        extra = ("--exclude-not-stated",)
        sc.cli(sc._compare_args(ndtms, out, ("housing",), ("area",), None, rel, extra, ootu=path))
        folders.append(folder)
    _assert_safe(rel, folders, people, sc.read_records(ndtms), [PERIOD] * len(files), covers)
