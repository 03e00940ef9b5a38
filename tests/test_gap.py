"""The gap table: figures worked out by hand, areas, suppression, and a real published file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unmetneed.errors import UsageError, ValidationError
from unmetneed.inputs.load import load
from unmetneed.spelling import normalise_periods, normalise_substances
from unmetneed.tables import gap
from unmetneed.tables.gap import GapOptions

T_HEADER = "period,area,area_code,drug_group,crack,age_band,sex"
P_HEADER = "area,area_code,period,substance,estimate,lower,upper"
C_HEADER = "period,area,area_code,drug_group,crack,count"


def records(tmp_path: Path, groups: list[tuple[str, str, str, str, str, int]]) -> Path:
    """A treatment extract: ``n`` people for each (period, area, code, drug_group, crack, n)."""
    lines = [T_HEADER]
    for period, area, code, group, crack, n in groups:
        lines += [f"{period},{area},{code},{group},{crack},30-34,male"] * n
    path = tmp_path / "treatment.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def table(tmp_path: Path, name: str, header: str, rows: list[tuple[Any, ...]]) -> Path:
    path = tmp_path / name
    body = [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join([header, *body]) + "\n")
    return path


def prevalence(tmp_path: Path, rows: list[tuple[Any, ...]]) -> Path:
    return table(tmp_path, "prevalence.csv", P_HEADER, rows)


def run(t: Path, p: Path, **options: Any) -> gap.GapResult:
    """These tests were worked out with one estimate year unless they say otherwise (the
    default is now 3, OHID's method: contract 4.1)."""
    options.setdefault("prevalence_years", 1)
    return gap.compute_files(t, p, GapOptions(**options))


def row(result: gap.GapResult, area: str, period: str, substance: str) -> dict[str, Any]:
    t = result.table
    hit = t[(t["area"] == area) & (t["period"] == period) & (t["substance"] == substance)]
    assert len(hit) == 1, t
    return hit.iloc[0].to_dict()


def remark_numbers(r: dict[str, Any]) -> list[int]:
    return [] if pd.isna(r["remarks"]) else [int(x) for x in r["remarks"].split(",")]


NORTH = ("Northshire", "E06000001")
ALCOHOL_3Y = [  # 2015/16 is older than the three years used for 2018/19
    (*NORTH, "2015/16", "alcohol_dependent", 5000, 4000, 6000),
    (*NORTH, "2016/17", "alcohol_dependent", 1000, 800, 1300),
    (*NORTH, "2017/18", "alcohol_dependent", 1100, 900, 1400),
    (*NORTH, "2018/19", "alcohol_dependent", 1200, 1000, 1500),
]


def north_2018(tmp_path: Path) -> Path:
    """330 dependent drinkers in treatment (200 alcohol only + 130 non-opiate and alcohol),
    plus 50 opiate and 20 non-opiate-only clients who do not count for alcohol."""
    return records(
        tmp_path,
        [
            ("2018/19", *NORTH, "alcohol_only", "no", 200),
            ("2018/19", *NORTH, "non_opiate_and_alcohol", "no", 130),
            ("2018/19", *NORTH, "opiate", "no", 50),
            ("2018/19", *NORTH, "non_opiate_only", "no", 20),
        ],
    )


def test_three_year_mean_with_bounds(tmp_path: Path) -> None:
    """N = 3 for 2018/19 uses 2016/17, 2017/18, 2018/19 (not 2015/16):
    D = (1000 + 1100 + 1200) / 3 = 1100; lower = (800 + 900 + 1000) / 3 = 900;
    upper = (1300 + 1400 + 1500) / 3 = 1400. T = 200 + 130 = 330.
    not in treatment = 1100 - 330 = 770; gap = 100 x 770 / 1100 = 70.0;
    lower = 100 (1 - 330/900) = 63.33; upper = 100 (1 - 330/1400) = 76.43.
    """
    result = run(north_2018(tmp_path), prevalence(tmp_path, ALCOHOL_3Y), prevalence_years=3)
    assert list(result.table.columns[:13]) == list(gap.COLUMNS)
    r = row(result, "Northshire", "2018/19", "alcohol_dependent")
    assert r["area_code"] == "E06000001"
    assert (r["prevalence"], r["prevalence_lower"], r["prevalence_upper"]) == (1100, 900, 1400)
    assert r["in_treatment"] == 330
    assert r["not_in_treatment"] == pytest.approx(770)
    assert r["unmet_need_pct"] == pytest.approx(70.0)
    assert r["unmet_need_pct_lower"] == pytest.approx(63.3333, abs=1e-4)
    assert r["unmet_need_pct_upper"] == pytest.approx(76.4286, abs=1e-4)
    assert r["unmet_need_pct_lower"] < r["unmet_need_pct"] < r["unmet_need_pct_upper"]
    assert r["prevalence_periods"] == "2016/17,2017/18,2018/19"
    assert not r["suppressed"]
    assert any("mean of the estimates for 2016/17, 2017/18, 2018/19" in x for x in result.remarks)


def test_one_year_uses_that_years_estimate(tmp_path: Path) -> None:
    """N = 1: D = 1200 (1000-1500); gap = 100 (1200 - 330)/1200 = 72.5;
    lower = 100 (1 - 330/1000) = 67.0; upper = 100 (1 - 330/1500) = 78.0."""
    r = row(
        run(north_2018(tmp_path), prevalence(tmp_path, ALCOHOL_3Y)),
        "Northshire",
        "2018/19",
        "alcohol_dependent",
    )
    assert r["prevalence"] == 1200
    assert r["unmet_need_pct"] == pytest.approx(72.5)
    assert r["unmet_need_pct_lower"] == pytest.approx(67.0)
    assert r["unmet_need_pct_upper"] == pytest.approx(78.0)


def test_substance_mapping_of_contract_4_1(tmp_path: Path) -> None:
    """opiate_crack = opiate or crack: 10 + 20 + 5 + 4 = 39; opiate = 10 + 20 = 30;
    crack = 10 + 5 + 4 = 19; alcohol_dependent = 4 + 6 + 30 = 40 (non-opiate and alcohol,
    crack or not, plus alcohol only)."""
    t = records(
        tmp_path,
        [
            ("2020/21", *NORTH, "opiate", "yes", 10),
            ("2020/21", *NORTH, "opiate", "no", 20),
            ("2020/21", *NORTH, "non_opiate_only", "yes", 5),
            ("2020/21", *NORTH, "non_opiate_and_alcohol", "yes", 4),
            ("2020/21", *NORTH, "non_opiate_and_alcohol", "no", 6),
            ("2020/21", *NORTH, "alcohol_only", "no", 30),
        ],
    )
    subs = ("opiate_crack", "opiate", "crack", "alcohol_dependent")
    p = prevalence(tmp_path, [(*NORTH, "2020/21", s, 1000, "", "") for s in subs])
    result = run(t, p)
    got = {s: row(result, "Northshire", "2020/21", s)["in_treatment"] for s in subs}
    assert got == {"opiate_crack": 39, "opiate": 30, "crack": 19, "alcohol_dependent": 40}
    assert list(result.table["substance"]) == list(subs)  # the code list's order


def test_missing_bound_leaves_the_interval_missing(tmp_path: Path) -> None:
    """2017/18 has no lower bound: the 3-year interval is missing (never averaged over two
    years); the estimate is still the 3-year mean, 1100, and the gap 70.0."""
    rows = [r if r[2] != "2017/18" else (*r[:5], "", 1400) for r in ALCOHOL_3Y]
    result = run(north_2018(tmp_path), prevalence(tmp_path, rows), prevalence_years=3)
    r = row(result, "Northshire", "2018/19", "alcohol_dependent")
    assert r["prevalence"] == 1100
    assert r["unmet_need_pct"] == pytest.approx(70.0)
    for col in ("prevalence_lower", "prevalence_upper", "unmet_need_pct_lower"):
        assert pd.isna(r[col]), col
    assert pd.isna(r["unmet_need_pct_upper"])
    numbers = remark_numbers(r)
    assert any("no interval" in result.remarks[n - 1] for n in numbers)


def test_negative_gap_is_kept_and_flagged(tmp_path: Path) -> None:
    """D = 100 (80-130), T = 120: gap = 100 (100 - 120)/100 = -20.0, not clipped;
    lower = 100 (1 - 120/80) = -50.0; upper = 100 (1 - 120/130) = 7.69."""
    t = records(tmp_path, [("2020/21", *NORTH, "alcohol_only", "no", 120)])
    p = prevalence(tmp_path, [(*NORTH, "2020/21", "alcohol_dependent", 100, 80, 130)])
    result = run(t, p)
    r = row(result, "Northshire", "2020/21", "alcohol_dependent")
    assert r["not_in_treatment"] == pytest.approx(-20.0)
    assert r["unmet_need_pct"] == pytest.approx(-20.0)
    assert r["unmet_need_pct_lower"] == pytest.approx(-50.0)
    assert r["unmet_need_pct_upper"] == pytest.approx(7.6923, abs=1e-4)
    texts = [result.remarks[n - 1] for n in remark_numbers(r)]
    assert any("negative gap" in x and "Northshire" in x for x in texts)


def counts_file(tmp_path: Path, rows: list[tuple[Any, ...]]) -> Path:
    return table(tmp_path, "counts.csv", C_HEADER, rows)


def test_suppressed_counts_give_t_as_an_interval(tmp_path: Path) -> None:
    """alcohol: 50 + '*' (1..4, as NDTMS and the sample publish it) gives T in 51..54;
    D = 200 (150-260): lower = 100 (1 - 54/150) = 64.0, upper = 100 (1 - 51/260) = 80.38;
    the point gap and
    T itself are unknown (blank). opiate: 12 + '<5' (1..4) gives 13..16 against 40 (30-55):
    lower = 100 (1 - 16/30) = 46.67, upper = 100 (1 - 13/55) = 76.36."""
    c = counts_file(
        tmp_path,
        [
            ("2018/19", *NORTH, "alcohol_only", "no", 50),
            ("2018/19", *NORTH, "non_opiate_and_alcohol", "no", "*"),
            ("2018/19", *NORTH, "opiate", "no", "<5"),
            ("2018/19", *NORTH, "opiate", "yes", 12),
        ],
    )
    p = prevalence(
        tmp_path,
        [
            (*NORTH, "2018/19", "alcohol_dependent", 200, 150, 260),
            (*NORTH, "2018/19", "opiate", 40, 30, 55),
        ],
    )
    result = run(c, p)
    alc = row(result, "Northshire", "2018/19", "alcohol_dependent")
    assert pd.isna(alc["in_treatment"]) and pd.isna(alc["unmet_need_pct"])
    assert (alc["in_treatment_min"], alc["in_treatment_max"]) == (51, 54)
    assert alc["unmet_need_pct_lower"] == pytest.approx(64.0)
    assert alc["unmet_need_pct_upper"] == pytest.approx(80.3846, abs=1e-4)
    assert alc["prevalence"] == 200 and alc["suppressed"]
    opi = row(result, "Northshire", "2018/19", "opiate")
    assert (opi["in_treatment_min"], opi["in_treatment_max"]) == (13, 16)
    assert opi["unmet_need_pct_lower"] == pytest.approx(46.6667, abs=1e-4)
    assert opi["unmet_need_pct_upper"] == pytest.approx(76.3636, abs=1e-4)
    assert any("'*' read as 1..4" in x for x in result.remarks)
    narrower = run(c, p, suppressed_max=3)
    alc3 = row(narrower, "Northshire", "2018/19", "alcohol_dependent")
    assert alc3["in_treatment_max"] == 53  # 50 + 3
    assert alc3["unmet_need_pct_lower"] == pytest.approx(64.6667, abs=1e-4)  # 100 (1 - 53/150)


def test_rounded_counts_widen_by_two_each(tmp_path: Path) -> None:
    """Counts 50 and 10 (all multiples of 5: read as rounded): T = 60, within 56..64;
    D = 200 (150-260): gap 70.0, lower 100 (1 - 64/150) = 57.33, upper
    100 (1 - 56/260) = 78.46."""
    c = counts_file(
        tmp_path,
        [
            ("2018/19", *NORTH, "alcohol_only", "no", 50),
            ("2018/19", *NORTH, "non_opiate_and_alcohol", "no", 10),
        ],
    )
    p = prevalence(tmp_path, [(*NORTH, "2018/19", "alcohol_dependent", 200, 150, 260)])
    result = run(c, p)
    r = row(result, "Northshire", "2018/19", "alcohol_dependent")
    assert r["in_treatment"] == 60 and not r["suppressed"]
    assert (r["in_treatment_min"], r["in_treatment_max"]) == (56, 64)
    assert r["unmet_need_pct"] == pytest.approx(70.0)
    assert r["unmet_need_pct_lower"] == pytest.approx(57.3333, abs=1e-4)
    assert r["unmet_need_pct_upper"] == pytest.approx(78.4615, abs=1e-4)
    assert any("rounded to the nearest 5" in x for x in result.remarks)


def test_counts_with_a_substance_column(tmp_path: Path) -> None:
    c = table(
        tmp_path,
        "counts.csv",
        "period,area,area_code,substance,sex,count",
        [
            ("2018/19", *NORTH, "Opiates", "male", 21),
            ("2018/19", *NORTH, "opiate", "female", 9),
        ],
    )
    p = prevalence(tmp_path, [(*NORTH, "2018/19", "opiate", 120, 100, 150)])
    r = row(run(c, p), "Northshire", "2018/19", "opiate")
    assert r["in_treatment"] == 30
    assert r["unmet_need_pct"] == pytest.approx(75.0)  # 100 (120 - 30) / 120


def test_quarters_use_their_financial_years_estimates(tmp_path: Path) -> None:
    """2024/25 Q1 (10 people) and Q2 (12) use the 2024/25 estimate 100 (90-120): gaps
    90.0 and 88.0; 2025/26 Q1 (14) has no 2025/26 estimate, so the most recent at or
    before it, 2024/25: 86.0. With N = 2, 2024/25 Q1 uses mean(80, 100) = 90: 100 (90 -
    10)/90 = 88.89, and no interval (2023/24 has no bounds)."""
    t = records(
        tmp_path,
        [
            ("2024/25 Q1", *NORTH, "alcohol_only", "no", 10),
            ("2024/25 Q2", *NORTH, "alcohol_only", "no", 12),
            ("2025/26 Q1", *NORTH, "alcohol_only", "no", 14),
        ],
    )
    p = prevalence(
        tmp_path,
        [
            (*NORTH, "2023/24", "alcohol_dependent", 80, "", ""),
            (*NORTH, "2024/25", "alcohol_dependent", 100, 90, 120),
        ],
    )
    result = run(t, p)
    assert list(result.table["period"]) == ["2024/25 Q1", "2024/25 Q2", "2025/26 Q1"]
    pct = result.table["unmet_need_pct"].to_numpy(dtype=float)
    assert pct == pytest.approx([90.0, 88.0, 86.0])
    assert list(result.table["prevalence_periods"]) == ["2024/25"] * 3
    two = row(run(t, p, prevalence_years=2), "Northshire", "2024/25 Q1", "alcohol_dependent")
    assert two["prevalence"] == 90
    assert two["unmet_need_pct"] == pytest.approx(88.8889, abs=1e-4)
    assert pd.isna(two["prevalence_lower"])


def test_too_few_estimate_years_leave_prevalence_missing(tmp_path: Path) -> None:
    """N = 3 for 2017/18 needs three published years at or before it; only two exist."""
    t = records(tmp_path, [("2017/18", *NORTH, "alcohol_only", "no", 40)])
    p = prevalence(tmp_path, [r for r in ALCOHOL_3Y if r[2] in ("2016/17", "2017/18")])
    result = run(t, p, prevalence_years=3)
    r = row(result, "Northshire", "2017/18", "alcohol_dependent")
    assert pd.isna(r["prevalence"]) and pd.isna(r["unmet_need_pct"])
    assert r["in_treatment"] == 40
    assert any("fewer than 3 published estimate year(s)" in x for x in result.remarks)


def test_years_are_chosen_per_area_and_never_averaged_over_fewer(tmp_path: Path) -> None:
    """Contract 4.1: each area's own 3 most recent years at or before 2018/19. Southshire
    lacks 2017/18: (5000 + 1000 + 1200) / 3 = 2400 from 2015/16, 2016/17, 2018/19.
    Westshire has two years only: missing, remarked, not averaged over two."""
    south, west = ("Southshire", "E06000002"), ("Westshire", "E06000003")
    t = records(
        tmp_path,
        [
            ("2018/19", *NORTH, "alcohol_only", "no", 40),
            ("2018/19", *south, "alcohol_only", "no", 40),
            ("2018/19", *west, "alcohol_only", "no", 40),
        ],
    )
    south_rows = [(*south, r[2], *r[3:]) for r in ALCOHOL_3Y if r[2] != "2017/18"]
    west_rows = [(*west, r[2], *r[3:]) for r in ALCOHOL_3Y if r[2] in ("2017/18", "2018/19")]
    p = prevalence(tmp_path, ALCOHOL_3Y + south_rows + west_rows)
    result = run(t, p, prevalence_years=3)
    assert row(result, "Northshire", "2018/19", "alcohol_dependent")["prevalence"] == 1100
    s = row(result, "Southshire", "2018/19", "alcohol_dependent")
    assert s["prevalence"] == 2400
    assert s["prevalence_periods"] == "2015/16,2016/17,2018/19"
    w = row(result, "Westshire", "2018/19", "alcohol_dependent")
    assert pd.isna(w["prevalence"])
    texts = [result.remarks[n - 1] for n in remark_numbers(w)]
    assert any("fewer than 3 published estimate year(s)" in x and "Westshire" in x for x in texts)
    assert any("2015/16, 2016/17, 2018/19 for" in x for x in result.remarks)
    assert any("2016/17, 2017/18, 2018/19 for" in x for x in result.remarks)


def test_area_in_one_file_only_is_a_remark_or_with_strict_an_error(tmp_path: Path) -> None:
    """'Other' (treatment only, line 32 = after 30 Northshire rows and the header) has a
    row without prevalence; 'Eastshire' (prevalence only, line 3) has no row."""
    t = records(
        tmp_path,
        [
            ("2020/21", *NORTH, "alcohol_only", "no", 30),
            ("2020/21", "Other", "", "alcohol_only", "no", 7),
        ],
    )
    p = prevalence(
        tmp_path,
        [
            (*NORTH, "2020/21", "alcohol_dependent", 100, 80, 130),
            ("Eastshire", "E06000002", "2020/21", "alcohol_dependent", 50, 40, 60),
        ],
    )
    result = run(t, p)
    assert list(result.table["area"]) == ["Northshire", "Other"]
    other = row(result, "Other", "2020/21", "alcohol_dependent")
    assert other["in_treatment"] == 7 and pd.isna(other["prevalence"])
    texts = [result.remarks[n - 1] for n in remark_numbers(other)]
    assert any("not in the prevalence file" in x and "Other" in x for x in texts)
    assert any("not in the treatment input" in x and "Eastshire" in x for x in result.remarks)
    with pytest.raises(ValidationError) as err:
        run(t, p, strict=True)
    found = {(f.line, f.value) for f in err.value.failures}
    assert found == {(32, "Other"), (3, "Eastshire")}
    assert err.value.exit_code == 3


def test_areas_match_by_code_else_by_normalised_name(tmp_path: Path) -> None:
    """'Brighton & Hove' (no code) matches 'Brighton and Hove' (a code) by name; two areas
    called Dorset with different GSS codes do not match (codes decide when both have one)."""
    t = table(
        tmp_path,
        "treatment.csv",
        T_HEADER,
        [("2020/21", "Brighton & Hove", "", "alcohol_only", "no", "30-34", "male")] * 5
        + [("2020/21", "Dorset", "E06000059", "alcohol_only", "no", "30-34", "male")] * 6,
    )
    p = prevalence(
        tmp_path,
        [
            ("BRIGHTON AND HOVE", "E06000043", "2020/21", "alcohol_dependent", 100, 80, 130),
            ("Dorset", "E10000009", "2020/21", "alcohol_dependent", 90, 70, 110),
        ],
    )
    result = run(t, p, k=0)
    b = row(result, "Brighton & Hove", "2020/21", "alcohol_dependent")
    assert b["area_code"] == "E06000043" and b["prevalence"] == 100 and b["in_treatment"] == 5
    d = row(result, "Dorset", "2020/21", "alcohol_dependent")
    assert d["area_code"] == "E06000059" and pd.isna(d["prevalence"])


def test_duplicate_estimates_are_a_validation_error_naming_lines(tmp_path: Path) -> None:
    t = records(tmp_path, [("2020/21", *NORTH, "alcohol_only", "no", 30)])
    p = prevalence(
        tmp_path,
        [
            (*NORTH, "2020/21", "alcohol_dependent", 100, 80, 130),
            (*NORTH, "2019/20", "alcohol_dependent", 100, 80, 130),
            ("northshire", "", "2020/21", "alcohol", 101, 80, 130),
        ],
    )
    with pytest.raises(ValidationError) as err:
        run(t, p)
    assert [f.line for f in err.value.failures] == [4]
    assert "first on line 2" in err.value.failures[0].rule


def three_areas(tmp_path: Path) -> tuple[Path, Path]:
    """A (T = 40, D = 100), B (T = 2, D = 10), C (T = 30, D = 80), alcohol, 2020/21."""
    areas = [
        ("Aton", "E06000001", 40, 100),
        ("Bton", "E06000002", 2, 10),
        ("Cton", "E06000003", 30, 80),
    ]
    t = records(tmp_path, [("2020/21", a, c, "alcohol_only", "no", n) for a, c, n, _ in areas])
    p = prevalence(
        tmp_path,
        [(a, c, "2020/21", "alcohol_dependent", d, d - 5, d + 10) for a, c, _, d in areas],
    )
    return t, p


def test_total_row_sums_areas_and_says_its_bounds_are_conservative(tmp_path: Path) -> None:
    """Total: T = 40 + 2 + 30 = 72, D = 100 + 10 + 80 = 190, bounds 175..220;
    gap = 100 (190 - 72)/190 = 62.11 (with --k 0 so every count is shown)."""
    t, p = three_areas(tmp_path)
    result = run(t, p, total="All areas", k=0)
    assert list(result.table["area"]) == ["Aton", "Bton", "Cton", "All areas"]
    r = row(result, "All areas", "2020/21", "alcohol_dependent")
    assert r["in_treatment"] == 72 and pd.isna(r["area_code"])
    assert (r["prevalence"], r["prevalence_lower"], r["prevalence_upper"]) == (190, 175, 220)
    assert r["unmet_need_pct"] == pytest.approx(62.1053, abs=1e-4)
    assert any("conservative" in x for x in result.remarks)
    assert any("--k 0" in x for x in result.remarks)
    assert result.meta()["disclosure"]["relations"] == [[3, [0, 1, 2]]]


def test_small_count_suppressed_with_what_it_can_be_worked_out_from(tmp_path: Path) -> None:
    """B's 2 is in 1..3: blank with its derived columns (prevalence stays); with the total
    shown, one more of A, C, total must be hidden or B = total - A - C."""
    t, p = three_areas(tmp_path)
    result = run(t, p, total="All areas")
    b = row(result, "Bton", "2020/21", "alcohol_dependent")
    for col in gap.DERIVED + ("in_treatment",):
        assert pd.isna(b[col]), col
    assert b["prevalence"] == 10 and b["suppressed"]
    shown = result.table["in_treatment"]
    assert not shown.between(1, 3).any()
    assert shown.isna().sum() >= 2
    hidden = result.table[result.table["suppressed"]]
    assert hidden[list(gap.DERIVED)].isna().all().all()
    assert any("Bton" in x and x.startswith("* suppressed") for x in result.remarks)


def test_suppression_without_a_total_hides_only_the_small_count(tmp_path: Path) -> None:
    t, p = three_areas(tmp_path)
    result = run(t, p)
    assert list(result.table["suppressed"]) == [False, True, False]
    assert list(result.table["in_treatment"].isna()) == [False, True, False]


def test_inputs_are_not_mutated_and_row_order_does_not_matter(tmp_path: Path) -> None:
    t, p = three_areas(tmp_path)
    treat, prev = load(t, "treatment"), load(p, "prevalence")
    before_t, before_p = treat.frame.copy(), prev.frame.copy()
    first = gap.compute(treat, prev, GapOptions(total="All"))
    pd.testing.assert_frame_equal(treat.frame, before_t)
    pd.testing.assert_frame_equal(prev.frame, before_p)
    shuffled = treat.frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = gap.compute(
        shuffled, prev.frame.iloc[::-1].reset_index(drop=True), GapOptions(total="All")
    )
    pd.testing.assert_frame_equal(first.table, again.table)


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    t, p = three_areas(tmp_path)
    with pytest.raises(UsageError, match="prevalence_years=0: use 1 or more"):
        run(t, p, prevalence_years=0)
    with pytest.raises(UsageError, match="periods=2030/31: not in"):
        run(t, p, periods=("2030/31",))
    with pytest.raises(UsageError, match="an area of that name"):
        run(t, p, total="BTON")
    assert normalise_substances(["Opiates", "OCU", "alcohol"]) == (
        "opiate",
        "opiate_crack",
        "alcohol_dependent",
    )
    with pytest.raises(UsageError):
        normalise_periods(["last year"])


def test_counts_without_crack_cannot_give_crack(tmp_path: Path) -> None:
    c = table(
        tmp_path, "counts.csv", "period,area,drug_group,count", [("2020/21", "Aton", "opiate", 9)]
    )
    p = prevalence(tmp_path, [("Aton", "", "2020/21", "crack", 50, 40, 60)])
    with pytest.raises(UsageError, match="substances=crack"):
        run(c, p, substances=("crack",))


def test_margin_rows_of_a_counts_file_are_not_added(tmp_path: Path) -> None:
    """drug_group Total (45) beside its breakdown (30 + 15) is left out: T = 15 + 30."""
    c = table(
        tmp_path,
        "counts.csv",
        "period,area,drug_group,age,count",
        [
            ("2020/21", "Aton", "alcohol_only", "18-29", 10),
            ("2020/21", "Aton", "alcohol_only", "30+", 20),
            ("2020/21", "Aton", "alcohol_only", "Total", 30),
            ("2020/21", "Aton", "non_opiate_and_alcohol", "Total", 15),
            ("2020/21", "Aton", "non_opiate_and_alcohol", "18-29", 6),
            ("2020/21", "Aton", "non_opiate_and_alcohol", "30+", 9),
        ],
    )
    p = prevalence(tmp_path, [("Aton", "", "2020/21", "alcohol_dependent", 100, 80, 130)])
    assert row(run(c, p), "Aton", "2020/21", "alcohol_dependent")["in_treatment"] == 45


def test_column_routing_sends_each_rename_to_the_file_that_has_it(tmp_path: Path) -> None:
    t, p = three_areas(tmp_path)
    to_t, to_p = gap.route_columns([("area", "area"), ("estimate", "estimate")], t, p)
    assert to_t == {"area": "area"} and to_p == {"area": "area", "estimate": "estimate"}
    with pytest.raises(UsageError, match="neither file has a column 'Nope'"):
        gap.route_columns([("area", "Nope")], t, p)


def test_unmet_need_pct_doc_figure() -> None:
    assert gap.unmet_need_pct(5029.33, 1011) == pytest.approx(79.898, abs=1e-3)
    assert gap.name_key(" St. Helens ") == gap.name_key("st helens")


# ---------------------------------------------------------------------------------------
# The real published file

ALCOHOL_COLUMNS = {
    "area": "Local_Authority",
    "area_code": "Area_Code_GSS",
    "estimate": "Alcohol_dependent",
    "lower": "Alcohol_lower_CI",
    "upper": "Alcohol_upper_CI",
    "period": "Year",
}
VIEWIT_COLUMNS = {
    "period": "ReportingPeriod_Data",
    "area": "Area_Data",
    "drug_group": "DrugGroup_Data",
    "sex": "Gender_Data",
    "count": "Num_InTreatment_AllInTx",
}


def test_warwickshire_2018_19_from_the_published_estimates(tmp_path: Path, realdata: Path) -> None:
    """Warwickshire (E10000031) in the PHE file:
    2015/16: 5053 (4044-6570), 2016/17: 5007 (3959-6480), 2017/18: 5028 (3958-6617).
    The three most recent years at or before 2018/19 are these (2018/19 is not published).
    D = (5053 + 5007 + 5028) / 3 = 15088 / 3 = 5029.33
    lower = (4044 + 3959 + 3958) / 3 = 11961 / 3 = 3987.00
    upper = (6570 + 6480 + 6617) / 3 = 19667 / 3 = 6555.67
    T = 1011: not in treatment = 5029.33 - 1011 = 4018.33;
    gap = 100 x 4018.33 / 5029.33 = 79.90;
    lower = 100 (1 - 1011 / 3987.00) = 100 (1 - 0.25357) = 74.64;
    upper = 100 (1 - 1011 / 6555.67) = 100 (1 - 0.15422) = 84.58.
    """
    t = records(tmp_path, [("2018/19", "Warwickshire", "E10000031", "alcohol_only", "no", 1011)])
    result = gap.compute_files(
        t,
        realdata / "alcohol_dependence_estimates_by_la.csv",
        GapOptions(prevalence_years=3, substances=("alcohol_dependent",)),
        prevalence_columns=ALCOHOL_COLUMNS,
    )
    r = row(result, "Warwickshire", "2018/19", "alcohol_dependent")
    assert r["prevalence"] == pytest.approx(15088 / 3)
    assert r["prevalence_lower"] == pytest.approx(3987.0)
    assert r["prevalence_upper"] == pytest.approx(19667 / 3)
    assert r["in_treatment"] == 1011
    assert r["not_in_treatment"] == pytest.approx(4018.33, abs=0.01)
    assert r["unmet_need_pct"] == pytest.approx(79.90, abs=0.005)
    assert r["unmet_need_pct_lower"] == pytest.approx(74.64, abs=0.005)
    assert r["unmet_need_pct_upper"] == pytest.approx(84.58, abs=0.005)
    assert r["prevalence_periods"] == "2015/16,2016/17,2017/18"


def test_england_2019_20_from_viewit_counts_and_the_published_estimates(realdata: Path) -> None:
    """England (E92000001): 2015/16: 595856 (494921-760656), 2016/17: 589101
    (481965-744996), 2017/18: 586780 (485444-742305); 2019/20 uses these three (the most
    recent published at or before it).
    D = 1771737 / 3 = 590579; lower = 1462330 / 3 = 487443.33; upper = 2247957 / 3 = 749319.
    T = 104,880 (ViewIt: alcohol only + alcohol & non-opiates, summed over the sex and age
    breakdown, the Total rows left out).
    gap = 100 (590579 - 104880) / 590579 = 82.24; lower = 100 (1 - 104880/487443.33) =
    78.48; upper = 100 (1 - 104880/749319) = 86.00.
    """
    result = gap.compute_files(
        realdata / "ndtms_viewit_england.csv",
        realdata / "alcohol_dependence_estimates_by_la.csv",
        GapOptions(prevalence_years=3, substances=("alcohol_dependent",), periods=("2019/20",)),
        treatment_columns=VIEWIT_COLUMNS,
        prevalence_columns=ALCOHOL_COLUMNS,
    )
    r = row(result, "England", "2019/20", "alcohol_dependent")
    assert r["area_code"] == "E92000001"  # matched by name, code from the estimates
    assert r["in_treatment"] == 104880
    assert r["prevalence"] == pytest.approx(590579.0)
    assert r["unmet_need_pct"] == pytest.approx(82.24, abs=0.005)
    assert r["unmet_need_pct_lower"] == pytest.approx(78.48, abs=0.005)
    assert r["unmet_need_pct_upper"] == pytest.approx(86.00, abs=0.005)
    assert np.isclose(r["prevalence_lower"], 1462330 / 3)


def test_cornwall_known_by_two_names_is_one_area(tmp_path: Path, realdata: Path) -> None:
    """The file calls E06000052 'Cornwall' in 2017/18 and 'Cornwall & Isles of Scilly'
    before: one area, so the 3-year mean exists: (6659 + 6775 + 6778) / 3 = 6737.33."""
    t = records(tmp_path, [("2018/19", "Cornwall", "E06000052", "alcohol_only", "no", 500)])
    result = gap.compute_files(
        t,
        realdata / "alcohol_dependence_estimates_by_la.csv",
        GapOptions(prevalence_years=3, substances=("alcohol_dependent",)),
        prevalence_columns=ALCOHOL_COLUMNS,
    )
    r = row(result, "Cornwall", "2018/19", "alcohol_dependent")
    assert r["prevalence"] == pytest.approx((6659 + 6775 + 6778) / 3)
    assert any("Cornwall = Cornwall & Isles of Scilly" in x for x in result.remarks)


def test_python_api_takes_frames_and_a_one_substance_prevalence_frame(tmp_path: Path) -> None:
    """From a notebook: loaded frames, a prevalence frame without a substance column and
    the substance named in the options. Northshire 2018/19: 72.5 as in the one-year test."""
    treat = load(north_2018(tmp_path), "treatment").frame
    prev = load(prevalence(tmp_path, ALCOHOL_3Y), "prevalence").frame.drop(columns="substance")
    result = gap.compute(
        treat, prev, GapOptions(prevalence_years=1, substances=("alcohol_dependent",))
    )
    r = row(result, "Northshire", "2018/19", "alcohol_dependent")
    assert r["unmet_need_pct"] == pytest.approx(72.5)
    with pytest.raises(UsageError, match="no substance column"):
        gap.compute(treat, prev)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=9), min_size=2, max_size=5),
    k=st.integers(min_value=1, max_value=4),
)
def test_no_shown_count_in_1_to_k_and_none_recoverable_from_the_total(
    sizes: list[int], k: int
) -> None:
    """Property: with a total, no in_treatment in 1..K is shown, every suppressed row has
    its derived columns blank, and no total relation has exactly one hidden cell."""
    codes = [f"E0600000{i}" for i in range(len(sizes))]
    treat = pd.DataFrame(
        {
            "period": pd.Categorical(["2020/21"] * sum(sizes)),
            "area": pd.Categorical([f"A{i}" for i, n in enumerate(sizes) for _ in range(n)]),
            "area_code": pd.Categorical([codes[i] for i, n in enumerate(sizes) for _ in range(n)]),
            "drug_group": pd.Categorical(["alcohol_only"] * sum(sizes)),
            "crack": pd.array([False] * sum(sizes), dtype="boolean"),
        }
    )
    prev = pd.DataFrame(
        {
            "area": [f"A{i}" for i in range(len(sizes))],
            "area_code": codes,
            "period": "2020/21",
            "substance": "alcohol_dependent",
            "estimate": 50.0,
            "lower": 40.0,
            "upper": 60.0,
        }
    )
    result = gap.compute(treat, prev, GapOptions(k=k, total="All"))
    t = result.table
    assert not t["in_treatment"].between(1, k).any()
    assert t.loc[t["suppressed"], list(gap.DERIVED)].isna().all().all()
    hidden = t["in_treatment"].isna().to_numpy()
    for total, parts in result.disclosure["relations"]:
        assert hidden[[total, *parts]].sum() != 1
    areas = t[~t["suppressed"] & (t["area"] != "All")]
    truth = {f"A{i}": n for i, n in enumerate(sizes)}
    assert [truth[a] for a in areas["area"]] == areas["in_treatment"].tolist()


def test_a_rounding_policy_rounds_t_and_works_the_rest_out_from_the_rounded_count(
    tmp_path: Path,
) -> None:
    """nhs policy: T = 333 shown as 335; D = 1100 (900-1400): not in treatment 765,
    gap 100 x 765/1100 = 69.55, T within 333..337: lower 100 (1 - 337/900) = 62.56,
    upper 100 (1 - 333/1400) = 76.21 (nothing gives 333 itself away)."""
    t = records(
        tmp_path,
        [
            ("2018/19", *NORTH, "alcohol_only", "no", 203),
            ("2018/19", *NORTH, "non_opiate_and_alcohol", "no", 130),
        ],
    )
    rows = [r for r in ALCOHOL_3Y if r[2] == "2017/18"]
    p = prevalence(tmp_path, [(*r[:2], "2018/19", *r[3:]) for r in rows])
    result = run(t, p, policy="nhs")
    r = row(result, "Northshire", "2018/19", "alcohol_dependent")
    assert r["in_treatment"] == 335
    assert r["not_in_treatment"] == pytest.approx(765)
    assert r["unmet_need_pct"] == pytest.approx(69.5455, abs=1e-4)
    assert (r["in_treatment_min"], r["in_treatment_max"]) == (333, 337)
    assert r["unmet_need_pct_lower"] == pytest.approx(62.5556, abs=1e-4)
    assert r["unmet_need_pct_upper"] == pytest.approx(76.2143, abs=1e-4)
    assert any("rounded to the nearest 5 (nhs policy)" in x for x in result.remarks)
    with pytest.raises(UsageError, match="policy=loose"):
        run(t, p, policy="loose")


def test_a_small_count_does_not_show_as_a_difference_between_substances(tmp_path: Path) -> None:
    """15 opiate and crack, 19 opiate without crack, 2 crack without opiate (non-opiate with
    crack): opiate 34, crack 17, opiate_crack 36 are each large, but 36 - 34 = 2 people
    using crack without opiates. One of opiate and opiate_crack must be hidden."""
    t = records(
        tmp_path,
        [
            ("2024/25", *NORTH, "opiate", "yes", 15),
            ("2024/25", *NORTH, "opiate", "no", 19),
            ("2024/25", *NORTH, "non_opiate_only", "yes", 2),
        ],
    )
    subs = ("opiate_crack", "opiate", "crack")
    p = prevalence(tmp_path, [(*NORTH, "2024/25", s, 100, 80, 130) for s in subs])
    result = run(t, p)
    shown = {s: row(result, "Northshire", "2024/25", s)["in_treatment"] for s in subs}
    assert pd.isna(shown["opiate"]) or pd.isna(shown["opiate_crack"])
    assert not pd.isna(shown["crack"]) or not pd.isna(shown["opiate_crack"])
    assert any("difference between substances" in x for x in result.remarks)
    # the written structure names the parts (cells 3..5) but no column shows them
    meta = result.meta()["disclosure"]
    assert meta["n_cells"] == 6
    assert [p["column"] for p in meta["placements"]] == ["in_treatment"]
    assert sorted((total, tuple(ps)) for total, ps in meta["relations"]) == [
        (0, (3, 4, 5)),
        (1, (3, 4)),
        (2, (4, 5)),
    ]
    assert run(t, p, k=0).table["in_treatment"].tolist() == [36, 34, 17]


def test_blanked_area_and_drug_group_from_k_anonymising(tmp_path: Path) -> None:
    """An extract whose area or drug_group was blanked (anonymise's local suppression):
    blank areas are one area of their own, never another area's; a blank drug group counts
    for no alcohol or opiate substance, and a remark says so."""
    frame = load(north_2018(tmp_path), "treatment").frame
    frame = frame.assign(
        area=frame["area"].where(frame.index >= 5),
        area_code=frame["area_code"].where(frame.index >= 5),
        drug_group=frame["drug_group"].where((frame.index < 5) | (frame.index >= 8)),
    )
    p = prevalence(tmp_path, ALCOHOL_3Y)
    result = gap.compute(frame, load(p, "prevalence"), GapOptions(k=0))
    north = row(result, "Northshire", "2018/19", "alcohol_dependent")
    blank = row(result, gap.AREA_NOT_STATED, "2018/19", "alcohol_dependent")
    assert blank["in_treatment"] == 5 and pd.isna(blank["prevalence"])
    assert north["in_treatment"] == 330 - 5 - 3
    assert any("3 row(s) have no drug_group" in x for x in result.remarks)
    undated = frame.assign(period=frame["period"].where(frame.index >= 10))
    again = gap.compute(undated, load(p, "prevalence"), GapOptions(k=0))
    # rows 0-4 (blank area), 5-7 (no drug group) and 8-9 (Northshire, alcohol) go
    assert row(again, "Northshire", "2018/19", "alcohol_dependent")["in_treatment"] == 322 - 2
    assert any("10 row(s) have no period: left out" in x for x in again.remarks)
