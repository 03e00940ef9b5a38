"""The Table 1 view: labels, n (%) rounded half up, p-values, [c] where suppressed."""

from __future__ import annotations

import pandas as pd
import pytest

from unmetneed.outputs.labels import CONFIDENTIAL, p_text, round_half_up
from unmetneed.outputs.table1 import P_VALUE, table1


def tidy(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """A published tidy compare table (no within-groups) from (cohort, variable, category,
    count, denominator, suppressed, test, p_value) rows; pct follows from the counts."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "cohort",
            "variable",
            "category",
            "count",
            "denominator",
            "suppressed",
            "test",
            "p_value",
        ],
    ).astype({"count": "Int64", "denominator": "Int64", "p_value": "Float64"})
    pct = 100 * frame["count"].astype("Float64") / frame["denominator"].astype("Float64")
    return frame.assign(pct=pct, pct_lower=pct, pct_upper=pct)


def test_half_up_rounding_from_the_counts() -> None:
    # 6/48 = 12.5% exactly: half up gives 13 (Python's round gives 12); 1/8 = 12.5 at 1 dp
    assert round(12.5) == 12
    assert round_half_up([6, 1, 0, 5], [48, 8, 7, 0]).tolist()[:3] == [13.0, 13.0, 0.0]
    assert round_half_up([1], [8], 1).tolist() == [12.5]
    assert round_half_up([1], [3], 1).tolist() == [33.3]


def test_p_values_as_published() -> None:
    assert p_text(0.0004997501, "<=") == "<0.001"
    assert p_text(0.00990099, "<=") == "<=0.010"
    assert p_text(0.2) == "0.200"
    assert p_text(None) is None


def test_table1_labels_cells_and_p_values() -> None:
    t = tidy(
        [
            ("NDTMS", "disability_mental_health", "yes", 6, 48, False, "chi2", 0.0123),
            ("NDTMS", "disability_mental_health", "no", 40, 48, False, "chi2", 0.0123),
            ("NDTMS", "disability_mental_health", "not_stated", 2, 48, False, "chi2", 0.0123),
            ("OOTU", "disability_mental_health", "yes", 23, 27, False, "chi2", 0.0123),
            ("OOTU", "disability_mental_health", "no", 4, 27, False, "chi2", 0.0123),
            ("OOTU", "disability_mental_health", "not_stated", 0, 27, False, "chi2", 0.0123),
        ]
    )
    view = table1(t).shown()
    assert list(view.columns) == [
        "Characteristic",
        "NDTMS (n = 48) n (%)",
        "OOTU (n = 27) n (%)",
        P_VALUE,
    ]
    assert view["Characteristic"].tolist() == [
        "People (n)",
        "Mental health disability: yes",
        "Mental health disability: no",
        "Mental health disability: not stated",
    ]
    # 6/48 = 12.5 -> 13; 40/48 = 83.33 -> 83; 23/27 = 85.19 -> 85; 4/27 = 14.81 -> 15
    assert view.iloc[1, 1:].tolist() == ["6 (13%)", "23 (85%)", "0.012"]
    assert view.iloc[2, 1:3].tolist() == ["40 (83%)", "4 (15%)"]
    assert view.iloc[0, 1:3].tolist() == ["48", "27"]
    one_dp = table1(t, digits=1).shown()
    assert one_dp.iloc[1, 1] == "6 (12.5%)"


def test_suppressed_cells_show_c_and_no_number() -> None:
    hidden = 2  # the true count behind the suppressed cell: must appear nowhere
    t = tidy(
        [
            ("NDTMS", "housing", "no_problem", 30, 33, False, "suppressed", None),
            ("NDTMS", "housing", "housing_problem", None, 33, True, "suppressed", None),
            ("NDTMS", "housing", "not_stated", None, 33, True, "suppressed", None),
            ("OOTU", "housing", "no_problem", 9, 9, False, "suppressed", None),
            ("OOTU", "housing", "housing_problem", 0, 9, False, "suppressed", None),
            ("OOTU", "housing", "not_stated", 0, 9, False, "suppressed", None),
        ]
    )
    view = table1(t).shown()
    row = view[view["Characteristic"] == "Housing: housing problem"].iloc[0]
    assert row.iloc[1] == CONFIDENTIAL
    assert row[P_VALUE] == CONFIDENTIAL
    text = " ".join(view.iloc[:, 1].astype(str))
    assert f"{hidden} (" not in text and f"({100 * hidden / 33:.0f}%)" not in text
    assert table1(t).shown("*").iloc[2, 1] == "*"


def test_digits_must_be_0_or_1() -> None:
    with pytest.raises(ValueError):
        table1(tidy([("A", "sex", "male", 1, 1, False, "none", None)]), digits=2)


def test_monte_carlo_p_at_its_floor_is_an_upper_bound(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """40 vs 44 people with no category in common: no random table of 2,000 is as extreme,
    so the Monte Carlo p-value is its floor 1/2001, written as an upper bound."""
    from unmetneed.inputs.load import load
    from unmetneed.tables.compare import CompareOptions, compare

    def cohort(name: str, counts: dict[str, int]) -> pd.DataFrame:
        rows = [{"housing": h} for h, n in counts.items() for _ in range(n)]
        path = tmp_path / f"{name}.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        return load(path, "cohort").frame

    frames = {
        "A": cohort("a", {"no_problem": 40}),
        "B": cohort("b", {"housing_problem": 20, "urgent_housing_problem": 20, "": 4}),
    }
    t = compare(frames, CompareOptions(by=("housing",))).table
    assert set(t["test"]) == {"fisher_monte_carlo"}  # an expected count of 4 x 40/84 < 5
    assert t["p_value"].iloc[0] == pytest.approx(1 / 2001)
    assert set(t["p_value_bound"]) == {"<="}
    view = table1(t).shown()
    assert set(view[P_VALUE].iloc[1:]) == {"<0.001"}


def test_stated_only_denominators_get_a_size_row_per_variable() -> None:
    """With not stated left out, each variable has its own denominator: one n row each."""
    t = tidy(
        [
            ("A", "sex", "male", 30, 40, False, "chi2", 0.5),
            ("A", "sex", "female", 10, 40, False, "chi2", 0.5),
            ("A", "housing", "no_problem", 20, 25, False, "chi2", 0.04),
            ("A", "housing", "housing_problem", 5, 25, False, "chi2", 0.04),
        ]
    )
    view = table1(t).shown()
    assert view["Characteristic"].tolist() == [
        "Sex: people with a stated value (n)",
        "Sex: male",
        "Sex: female",
        "Housing: people with a stated value (n)",
        "Housing: no housing problem",
        "Housing: housing problem",
    ]
    assert view.iloc[:, 1].tolist() == ["40", "30 (75%)", "10 (25%)", "25", "20 (80%)", "5 (20%)"]
    assert view.columns[1] == "A n (%)"  # no single n for the heading


def test_within_groups_are_columns_in_words() -> None:
    t = tidy(
        [
            ("A", "sex", "male", 3, 4, False, "none", None),
            ("A", "sex", "female", 1, 4, False, "none", None),
        ]
    )
    t.insert(1, "substance_cohort", "opiate_and_crack")
    view = table1(t).shown()
    assert list(view.columns[:2]) == ["Substance group", "Characteristic"]
    assert set(view["Substance group"]) == {"opiates and crack"}
    assert view["p-value"].tolist() == ["[x]", "[x]", "[x]"]  # no test: not available
