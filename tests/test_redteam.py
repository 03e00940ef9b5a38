"""Red-team tests: an attacker written apart from the protection code (tests/redteam/)
reads only what a release publishes and tries to pin or narrow every suppressed count.

CONTRACT 4.3-4.4: nothing published (tables, metadata, remarks, manifest, terminal output)
may let anyone work out a suppressed count, narrow it below the protection width, show
that a whole hidden group shares one category, or say which/how many hidden cells are
small. Each scenario runs the CLI into a temporary folder and attacks the result; the
attacker first checks every constraint it built against the true records, so a parsing
mistake fails loudly instead of making it blind.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from redteam import attacker as atk
from redteam import scenarios as sc

# --------------------------------------------------------------------------------------
# The attacker itself: it finds a planted leak, and its self check catches a wrong parse


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


GAP_COLS = ["area", "area_code", "period", "substance", "prevalence", "in_treatment", "suppressed"]


def _planted_gap(tmp: Path, total_code: str = "") -> Path:
    """Opiate in treatment: Ashby hidden (truly 2), Brook 20, the total 22 shown."""
    rows = [
        {
            "area": "Ashby",
            "area_code": "E1",
            "period": "2024/25",
            "substance": "opiate",
            "prevalence": 50.0,
            "in_treatment": "",
            "suppressed": True,
        },
        {
            "area": "Brook",
            "area_code": "E2",
            "period": "2024/25",
            "substance": "opiate",
            "prevalence": 90.0,
            "in_treatment": 20,
            "suppressed": False,
        },
        {
            "area": "All areas",
            "area_code": total_code,
            "period": "2024/25",
            "substance": "opiate",
            "prevalence": 140.0,
            "in_treatment": 22,
            "suppressed": False,
        },
    ]
    return _write_csv(tmp / "gap.csv", rows)


def _planted_compare(tmp: Path) -> Path:
    """NDTMS in Ashby by sex: 12 people, female hidden (truly 2), other and not_stated 0."""
    rows = []
    for cat, count in (("male", 10), ("female", ""), ("other", 0), ("not_stated", 0)):
        rows.append(
            {
                "cohort": "NDTMS",
                "area": "Ashby",
                "variable": "sex",
                "category": cat,
                "count": count,
                "denominator": 12,
                "pct": "",
                "suppressed": count == "",
            }
        )
    for cat, count in (("male", 18), ("female", ""), ("other", 0), ("not_stated", 0)):
        rows.append(
            {
                "cohort": "NDTMS",
                "area": "Brook",
                "variable": "sex",
                "category": cat,
                "count": count,
                "denominator": "",
                "pct": "",
                "suppressed": True,
            }
        )
    return _write_csv(tmp / "compare.csv", rows)


def _planted_truth() -> dict[str, pd.DataFrame]:
    people = (
        [("Ashby", "alcohol_only", False, "male")] * 10
        + [("Ashby", "opiate", True, "female")] * 2
        + [("Brook", "opiate", False, "male")] * 18
        + [("Brook", "opiate", True, "female")] * 2
    )
    frame = pd.DataFrame(people, columns=["area", "drug_group", "crack", "sex"])
    frame.insert(0, "period", "2024/25")
    return {"NDTMS": frame}


def test_attacker_finds_a_planted_leak(tmp_path: Path) -> None:
    gap = atk.read_table(_planted_gap(tmp_path))
    comp = atk.read_table(_planted_compare(tmp_path), period="2024/25")
    assert (gap.kind, comp.kind) == ("gap", "compare")
    rep = atk.attack([gap, comp], truth=_planted_truth())
    pinned = {(f.table, f.row, f.column): (f.low, f.high) for f in rep.exact}
    # total - Brook = Ashby; Ashby's sex denominator - male = female
    assert pinned[("gap.csv", 0, "in_treatment")] == (2, 2), rep.summary()
    assert pinned[("compare.csv", 1, "count")] == (2, 2), rep.summary()
    assert all(f.true == f.low for f in rep.exact)
    # Brook's block (size and female hidden) stays open: nothing ties it down
    assert not any("Brook" in f.label for f in rep.exact), rep.summary()
    assert not rep.ok


def test_attacker_finds_a_group_disclosure(tmp_path: Path) -> None:
    rows = [
        {
            "cohort": "OOTU",
            "area": "Ashby",
            "variable": "housing",
            "category": c,
            "count": v,
            "denominator": "",
            "suppressed": True,
        }
        for c, v in (
            ("no_problem", ""),
            ("housing_problem", 0),
            ("urgent_housing_problem", 0),
            ("not_stated", 0),
        )
    ]
    t = atk.read_table(_write_csv(tmp_path / "c.csv", rows))
    truth = {
        "OOTU": pd.DataFrame(
            {
                "area": ["Ashby"] * 2,
                "drug_group": ["opiate"] * 2,
                "crack": [True] * 2,
                "housing": ["no_problem"] * 2,
            }
        )
    }
    rep = atk.attack([t], truth=truth, check_atoms=False)
    assert len(rep.group_disclosures) == 1 and "no_problem" in rep.group_disclosures[0]


def test_attacker_reads_percentages_beside_hidden_counts(tmp_path: Path) -> None:
    """pct shown beside a hidden count pins it; Wilson bounds beside a hidden group size
    pin the size."""
    lo, hi = atk.wilson(np.array([0]), np.array([37]))
    rows = [
        {
            "cohort": "OOTU",
            "variable": "sex",
            "category": "male",
            "count": "",
            "denominator": 40,
            "pct": 100 * 3 / 40,
            "pct_lower": "",
            "pct_upper": "",
        },
        {
            "cohort": "OOTU",
            "variable": "sex",
            "category": "female",
            "count": 37,
            "denominator": 40,
            "pct": 100 * 37 / 40,
            "pct_lower": "",
            "pct_upper": "",
        },
        {
            "cohort": "OTHER",
            "variable": "sex",
            "category": "male",
            "count": 0,
            "denominator": "",
            "pct": 0.0,
            "pct_lower": lo[0],
            "pct_upper": hi[0],
        },
        {
            "cohort": "OTHER",
            "variable": "sex",
            "category": "female",
            "count": "",
            "denominator": "",
            "pct": "",
            "pct_lower": "",
            "pct_upper": "",
        },
    ]
    t = atk.read_table(_write_csv(tmp_path / "c.csv", rows))
    rep = atk.attack([t], check_atoms=False)
    got = {(f.row, f.column): (f.low, f.high) for f in rep.exact}
    assert got[(0, "count")] == (3, 3)
    assert got[(2, "denominator")] == (37, 37)
    assert rep.derived


def test_self_check_raises_on_a_mislabelled_true_value(tmp_path: Path) -> None:
    gap = atk.read_table(_planted_gap(tmp_path))
    comp = atk.read_table(_planted_compare(tmp_path), period="2024/25")
    truth = _planted_truth()
    truth["NDTMS"].loc[0, "area"] = "Brook"  # one Ashby person put in Brook
    with pytest.raises(atk.SelfCheckError, match="true value"):
        atk.attack([gap, comp], truth=truth)


def test_self_check_raises_on_a_wrong_parse(tmp_path: Path) -> None:
    """A total row read as an area (it carries a code) is caught by the truth."""
    gap = atk.read_table(_planted_gap(tmp_path, total_code="E99"))
    with pytest.raises(atk.SelfCheckError):
        atk.attack([gap], truth=_planted_truth())


def test_text_side_channels_are_found() -> None:
    leaks = atk.scan_texts(
        {
            "meta": "gap: 1 count(s) of 1..3 suppressed (k3), and 5 more so that ...",
            "json": json.dumps({"n_primary": 3}),
            "stderr": "unmetneed run: validated input=ootu rows=70",
            "fine": "Counts of 1..3 are suppressed, with other counts where needed.",
        }
    )
    assert {leak.split(":")[0] for leak in leaks} == {"meta", "json", "stderr"}
    assert atk.scan_manifest({"inputs": {"ootu": {"rows": 70}}})
    assert atk.manifest_totals(
        {
            "inputs": {"ootu": {"kind": "cohort", "rows": 70}},
            "config": {"compare": [{"cohorts": {"OOTU": "ootu"}}]},
        }
    ) == [("OOTU", None, 70.0)]


def test_age_bands_are_read_as_five_year_bands() -> None:
    assert atk.age_band_set("18-29") == {"18-24", "25-29"}
    assert atk.age_band_set("50+") == {"50-54", "55-59", "60-64", "65+"}
    assert atk.age_band_set("40-65") == {"40-44", "45-49", "50-54", "55-59", "60-64", "65+"}
    with pytest.raises(atk.ParseError):
        atk.age_band_set("20-29")


# --------------------------------------------------------------------------------------
# Scenarios: real CLI outputs (CONTRACT 4.3-4.4). They pass when protection holds.

PRIMARY_TEXT = re.compile(r"n_primary|n_secondary|\d+\s*count\(s\) of 1\.\.\d|\band \d+ more\b")


def _assert_safe(outcome: sc.Outcome, report: atk.Report) -> None:
    problems = []
    if report.exact:
        problems.append(f"{len(report.exact)} hidden count(s) worked out exactly")
    if report.narrow:
        problems.append(
            f"{len(report.narrow)} hidden count(s) narrowed below K={report.policy.width}"
        )
    if report.group_disclosures:
        problems.append(f"{len(report.group_disclosures)} group disclosure(s)")
    if report.small_shown:
        problems.append(f"{len(report.small_shown)} shown count(s) the policy forbids")
    if report.derived:
        problems.append(f"{len(report.derived)} derived value(s) shown beside hidden counts")
    if report.text_leaks:
        problems.append(f"{len(report.text_leaks)} text side channel(s)")
    for name, text in outcome.texts.items():
        if PRIMARY_TEXT.search(text or ""):
            problems.append(f"{name} says how many hidden cells are primary")
    if outcome.manifest:
        for name, spec in (outcome.manifest.get("inputs") or {}).items():
            if isinstance(spec, dict) and "rows" in spec:
                problems.append(f"manifest gives input {name}'s row count")
    if problems:
        pytest.fail(
            f"{outcome.name}: " + "; ".join(problems) + "\n" + report.summary(15), pytrace=False
        )


def _attack(outcome: sc.Outcome) -> atk.Report:
    # truth checked (raises on a wrong parse); the manifest read as an attacker would
    return outcome.attack(use_manifest=True)


def test_redteam_quarterly_sample_run(tmp_path: Path) -> None:
    out = sc.quarterly(tmp_path)
    _assert_safe(out, _attack(out))


def test_redteam_a_dozen_compare_tables(tmp_path: Path) -> None:
    out = sc.dozen_compares(tmp_path)
    assert len([t for t in out.tables if t.kind == "compare"]) >= 12
    _assert_safe(out, _attack(out))


def test_redteam_separate_commands_one_release(tmp_path: Path) -> None:
    out = sc.separate_commands(tmp_path)
    _assert_safe(out, _attack(out))


def test_redteam_two_periods_one_release(tmp_path: Path) -> None:
    out = sc.separate_commands(tmp_path, periods=(sc.PREVIOUS, sc.PERIOD), name="two-periods")
    _assert_safe(out, _attack(out))


def test_redteam_exclude_not_stated(tmp_path: Path) -> None:
    out = sc.exclude_not_stated(tmp_path)
    _assert_safe(out, _attack(out))


def test_redteam_nhs_policy(tmp_path: Path) -> None:
    out = sc.nhs_policy(tmp_path)
    assert out.policy.name == "nhs"
    _assert_safe(out, _attack(out))


# --------------------------------------------------------------------------------------
# Random small worlds


@st.composite
def worlds(draw: st.DrawFn) -> tuple[int, int, int, int, list[int], bool]:
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(40, 150))
    n_areas = draw(st.integers(2, 3))
    n_ootu = draw(st.integers(8, 40))
    gap = draw(st.booleans())
    tables = draw(
        st.lists(
            st.integers(0, len(sc.RANDOM_COMPARES) - 1),
            min_size=2 - gap,
            max_size=4 - gap,
            unique=True,
        )
    )
    return seed, n, n_areas, n_ootu, sorted(tables), gap


# every example runs the CLI (about 2 s): no shrinking (a failure is reported as found,
# with its seed, sizes and tables), a fixed sequence of examples
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(worlds())
def test_redteam_random_small_releases(world: tuple[int, int, int, int, list[int], bool]) -> None:
    seed, n, n_areas, n_ootu, tables, gap = world
    rng = np.random.default_rng(seed)
    extract, ootu = sc.random_world(rng, n, n_areas, n_ootu)
    with tempfile.TemporaryDirectory(prefix="redteam-") as tmp:
        out = sc.random_run(Path(tmp), extract, ootu, tables, gap)
        _assert_safe(out, _attack(out))
