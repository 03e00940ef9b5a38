"""k-anonymising record-level data: code maps, age bands, the k-anonymity law, the loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unmetneed.errors import UsageError, ValidationError
from unmetneed.extract.anonymise import (
    AnonymiseOptions,
    alternatives,
    anonymise,
    code_map,
    delete_small_groups,
    encode,
    period_end,
    plan,
    prepare,
    smallest_group,
)
from unmetneed.inputs.codes import code_list, identifier_columns, key
from unmetneed.inputs.load import load
from unmetneed.outputs.write import write_table

QUASI = ("area", "age_band", "sex", "ethnicity", "sexuality", "religion", "nationality")


def person(**overrides: str) -> dict[str, str]:
    """One raw record as a sample file carries it (identifiers and fine codes included)."""
    row = {
        "client_id": "C0000001",
        "nhs_number": "9990000001",
        "date_of_birth": "1990-06-01",
        "postcode": "ZZ99 1AA",
        "period": "2023/24",
        "area": "Northton",
        "area_code": "E06900001",
        "drug_group": "Opiates",
        "crack": "N",
        "sex": "M",
        "ethnicity": "A",
        "religion": "Christian",
        "sexuality": "Heterosexual",
        "nationality": "British",
    }
    row.update(overrides)
    return row


def records(*groups: tuple[int, dict[str, str]]) -> pd.DataFrame:
    """``n`` copies of each ``person(**overrides)``, with distinct client ids."""
    rows = [person(**over) for n, over in groups for _ in range(n)]
    frame = pd.DataFrame(rows)
    frame["client_id"] = [f"C{i:07d}" for i in range(len(frame))]
    return frame


def group_row(result: pd.DataFrame, variable: str, category: str) -> dict[str, object]:
    hit = result[(result["variable"] == variable) & (result["category"] == category)]
    assert len(hit) == 1, (variable, category)
    return dict(hit.iloc[0])


# --------------------------------------------------------------------------- code maps


@pytest.mark.parametrize(
    ("letters", "code"),
    [
        ("ABC", "white"),
        ("DEFG", "mixed"),
        ("HJKL", "asian"),
        ("MNP", "black"),
        ("RS", "other"),
        ("Z", "not_stated"),
    ],
)
def test_ndtms_ethnicity_letters(letters: str, code: str) -> None:
    assert all(code_map("ethnicity")[key(letter)] == code for letter in letters)


@pytest.mark.parametrize(
    ("column", "label", "code"),
    [
        ("religion", "Baha'i", "other_none"),
        ("religion", "Sikh", "other_none"),
        ("religion", "None", "other_none"),
        ("religion", "Declined", "not_stated"),
        ("religion", "Muslim", "muslim"),
        ("sexuality", "Gay/Lesbian", "other"),
        ("sexuality", "Bisexual", "other"),
        ("sexuality", "Not asked", "not_stated"),
        ("nationality", "Not British", "not_british"),
    ],
)
def test_labels_collapse(column: str, label: str, code: str) -> None:
    assert code_map(column)[key(label)] == code


def test_every_mapped_code_is_a_contract_code_and_alternatives_cover_their_lists() -> None:
    for column in ("ethnicity", "religion", "sexuality", "nationality"):
        assert set(code_map(column).values()) <= set(code_list(column).codes)
    for alt in alternatives():
        assert set(alt.mapping) == set(code_list(alt.column).codes)


def test_raw_values_collapse_and_contract_codes_pass_through() -> None:
    raw = records(
        (1, {"ethnicity": "R", "religion": "Jain", "sexuality": "", "nationality": "Not stated"}),
        (1, {"ethnicity": "black", "religion": "", "sexuality": "Not asked", "sex": ""}),
    )
    out = prepare(raw).frame
    assert out["ethnicity"].tolist() == ["other", "black"]
    assert out["religion"].tolist() == ["other_none", "not_stated"]
    assert out["sexuality"].tolist() == ["not_stated", "not_stated"]
    assert out["nationality"].tolist() == ["not_stated", "british"]
    assert out["sex"].tolist() == ["male", "not_stated"]


# --------------------------------------------------------------------------- age


def test_period_end_for_years_and_quarters() -> None:
    assert period_end("2023/24") == (2024, 3, 31)
    assert period_end("2024/25 Q1") == (2024, 6, 30)
    assert period_end("2024/25 Q3") == (2024, 12, 31)
    assert period_end("2024/25 Q4") == (2025, 3, 31)


def test_age_at_period_end_and_under_18_dropped_with_reason() -> None:
    raw = records(
        (1, {"date_of_birth": "2006-03-31"}),  # 18 on 31 March 2024: adult
        (1, {"date_of_birth": "2006-04-01"}),  # 17 at the year's end: not adult
        (1, {"date_of_birth": "1994-09-30", "period": "2024/25 Q2"}),  # 30 on 30 Sep 2024
        (1, {"date_of_birth": "1994-10-01", "period": "2024/25 Q2"}),  # 29
        (1, {"date_of_birth": "1959-03-31"}),  # 65
        (1, {"date_of_birth": ""}),  # unknown
    )
    prep = prepare(raw)
    assert prep.frame["age_band"].tolist() == ["18-24", "30-34", "25-29", "65+"]
    assert prep.dropped_rows == {"under 18 at the period's end": 1, "no date of birth or age": 1}
    assert prep.dropped_columns["date_of_birth"] == "direct identifier"


def test_age_column_instead_of_date_of_birth() -> None:
    raw = records((3, {})).drop(columns="date_of_birth").assign(age=["18", "64", "17"])
    prep = prepare(raw)
    assert prep.frame["age_band"].tolist() == ["18-24", "60-64"]
    assert "age" in prep.dropped_columns


def test_bad_values_fail_with_their_lines() -> None:
    raw = records((3, {}), (1, {"ethnicity": "Q"}), (1, {"date_of_birth": "31/02/1990"}))
    with pytest.raises(ValidationError) as caught:
        prepare(raw, path="raw.csv")
    got = {(f.line, f.column, f.value) for f in caught.value.failures}
    assert got == {(5, "ethnicity", "Q"), (6, "date_of_birth", "31/02/1990")}


# --------------------------------------------------------------------------- hand cases


def test_local_suppression_keeps_every_row() -> None:
    # 3 white, 3 ethnicity not stated, 1 black; otherwise identical. K=3: the black row
    # is alone. Setting its ethnicity to not_stated joins it to the not-stated group (4).
    raw = records((3, {}), (3, {"ethnicity": "Z"}), (1, {"ethnicity": "M"}))
    result = anonymise(raw, AnonymiseOptions(k=3))
    assert len(result.extract) == 7
    assert result.extract["ethnicity"].value_counts().to_dict() == {
        "white": 3,
        "not_stated": 4,
        "mixed": 0,
        "asian": 0,
        "black": 0,
        "other": 0,
    }
    groups = result.loss.by_group
    assert group_row(groups, "all", "all") == {
        "variable": "all",
        "category": "all",
        "rows": 7,
        "rows_lost_value": 1,
        "rows_removed": 0,
        "values_suppressed": 1,
        "pct_affected": round(100 / 7, 1),
    }
    black = group_row(groups, "ethnicity", "black")
    assert (black["rows"], black["rows_lost_value"], black["rows_removed"]) == (1, 1, 0)
    assert black["values_suppressed"] == 1 and black["pct_affected"] == 100.0
    assert group_row(groups, "ethnicity", "white")["pct_affected"] == 0.0
    # the one row that lost a value was male: 1 of 7 male rows
    male = group_row(groups, "sex", "male")
    assert (male["rows"], male["rows_lost_value"], male["pct_affected"]) == (7, 1, 14.3)
    assert result.loss.lines(1) == ["ethnicity=black: 1 of 1 rows lost a value, 0 rows removed"]
    assert result.loss.baseline_rows_removed == 1


def test_the_more_common_category_is_given_up() -> None:
    # The black Muslim row could join (not stated, Muslim) or (Black, not stated), both of
    # 3+. Black has 5 rows and Muslim 4, so ethnicity goes and Muslim stays visible.
    raw = records(
        (4, {}),
        (3, {"ethnicity": "Z", "religion": "Muslim"}),
        (4, {"ethnicity": "N", "religion": "Declined"}),
        (1, {"ethnicity": "N", "religion": "Muslim"}),
    )
    default = anonymise(raw, AnonymiseOptions(k=3)).extract
    assert (default["religion"] == "muslim").sum() == 4
    assert (default["ethnicity"] == "black").sum() == 4
    chosen = anonymise(raw, AnonymiseOptions(k=3, suppress_first=("religion",))).extract
    assert (chosen["religion"] == "muslim").sum() == 3
    assert (chosen["ethnicity"] == "black").sum() == 5


def test_small_groups_differing_in_one_column_are_pooled() -> None:
    # 2 Black and 1 Asian row, nothing else alike: deleting small groups loses all 3;
    # pooling on ethnicity keeps all 3 with ethnicity not stated.
    raw = records((2, {"ethnicity": "N"}), (1, {"ethnicity": "H"}))
    result = anonymise(raw, AnonymiseOptions(k=3))
    assert len(result.extract) == 3
    assert set(result.extract["ethnicity"]) == {"not_stated"}
    assert result.solution.suppressed.sum() == 3
    assert result.loss.baseline_rows_removed == 3


def test_rows_of_a_large_group_are_donated_to_keep_a_stranded_row() -> None:
    # A Black Muslim woman alike in area and age with 5 white Christian men, K=3, no
    # single or double suppression can help her. Suppressing all 3 of her values and all
    # 3 of 2 men's values (their group keeps 3) makes a not-stated group of 3: 9 values
    # lost, no row. Worth it: her row carries 11 values, 8 of them kept.
    quasi = ("area", "age_band", "sex", "ethnicity", "religion")
    raw = records((5, {}), (1, {"sex": "F", "ethnicity": "M", "religion": "Muslim"}))
    result = anonymise(raw, AnonymiseOptions(k=3, quasi=quasi))
    assert len(result.extract) == 6
    assert result.solution.suppressed.sum() == 9
    assert smallest_group(result.extract, quasi) == 3
    white = group_row(result.loss.by_group, "ethnicity", "white")
    assert (white["rows"], white["rows_lost_value"], white["values_suppressed"]) == (5, 2, 2)
    # with K=4 the men's group (5) can spare only 1 row of the 3 needed: she is removed
    strict = anonymise(raw, AnonymiseOptions(k=4, quasi=quasi))
    assert len(strict.extract) == 5 and strict.solution.suppressed.sum() == 0


def test_a_row_alone_in_its_area_is_removed() -> None:
    raw = records((3, {}), (1, {"area": "Southby", "area_code": "E06900002"}))
    result = anonymise(raw, AnonymiseOptions(k=3))
    assert set(result.extract["area"]) == {"Northton"}
    southby = group_row(result.loss.by_group, "area", "Southby")
    assert (southby["rows"], southby["rows_lost_value"], southby["rows_removed"]) == (1, 0, 1)
    assert southby["pct_affected"] == 100.0


def test_rows_method_deletes_small_groups() -> None:
    raw = records((3, {}), (3, {"ethnicity": "Z"}), (1, {"ethnicity": "M"}))
    result = anonymise(raw, AnonymiseOptions(k=3, method="rows"))
    assert len(result.extract) == 6 and result.solution.suppressed.sum() == 0


def test_k_below_2_only_removes_identifiers() -> None:
    raw = records((1, {}), (1, {"ethnicity": "M"}))
    result = anonymise(raw, AnonymiseOptions(k=1))
    assert len(result.extract) == 2
    assert set(result.extract["ethnicity"]) == {"white", "black"}


def test_bad_options() -> None:
    raw = records((3, {}))
    with pytest.raises(UsageError, match="quasi=postcode"):
        anonymise(raw, AnonymiseOptions(quasi=("postcode",)))
    with pytest.raises(UsageError, match="k=-1"):
        anonymise(raw, AnonymiseOptions(k=-1))


# --------------------------------------------------------------------------- output


def test_output_passes_load_and_is_byte_identical(tmp_path: Path) -> None:
    raw = records((3, {}), (3, {"ethnicity": "Z"}), (1, {"ethnicity": "M"}), (2, {"sex": "F"}))
    paths = []
    for i in range(2):
        result = anonymise(raw, AnonymiseOptions(k=3))
        for suffix in (".parquet", ".csv"):
            paths.append(
                write_table(result.extract, tmp_path / f"x{i}{suffix}", meta=result.meta())
            )
    assert paths[0].read_bytes() == paths[2].read_bytes()
    assert paths[1].read_bytes() == paths[3].read_bytes()
    loaded = load(paths[0], "treatment")
    assert len(loaded.frame) == len(result.extract)
    assert smallest_group(loaded.frame, QUASI) >= 3


def test_row_order_of_the_input_does_not_matter() -> None:
    for seed in (5, 6, 7):
        raw = random_raw(np.random.default_rng(seed), 150)
        first = anonymise(raw, AnonymiseOptions(k=3)).extract
        shuffled = raw.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        second = anonymise(shuffled, AnonymiseOptions(k=3)).extract
        pd.testing.assert_frame_equal(first, second)


def test_plan_compares_collapsings() -> None:
    # 2 rows aged 25-29 and 1 aged 30-34, alike otherwise: with 5-year bands the K=3 rule
    # removes all 3 (age cannot be suppressed); with 10-year bands they share 25-34.
    raw = records((2, {"date_of_birth": "1996-06-01"}), (1, {"date_of_birth": "1991-06-01"}))
    table = plan(raw, AnonymiseOptions(k=3, quasi=("area", "age_band", "sex")))
    by_plan = table.set_index("plan")
    assert by_plan.loc["contract codes", "rows_removed"] == 3
    assert by_plan.loc["age_band 10-year", "rows_removed"] == 0
    # every group loses 100%; ties go to the larger group, then the column order
    assert by_plan.loc["contract codes", "hardest_hit"] == "area=Northton (100.0%)"
    assert by_plan.loc["age_band 10-year", "hardest_hit"] == ""
    assert list(table["plan"]) == ["contract codes", "age_band 10-year"]


def test_input_not_mutated() -> None:
    raw = records((3, {}), (1, {"ethnicity": "M"}))
    before = raw.copy()
    anonymise(raw, AnonymiseOptions(k=3))
    plan(raw, AnonymiseOptions(k=3))
    pd.testing.assert_frame_equal(raw, before)


# --------------------------------------------------------------------------- the law


ETHNICITY = list("ABCDHMNRSZ")
RELIGION = ["Christian", "Muslim", "None", "Sikh", "Declined", ""]
SEXUALITY = ["Heterosexual", "Gay/Lesbian", "Not asked", ""]


def random_raw(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` raw records with identifiers, skewed categories and ages 16-80."""

    def pick(values: list[str], skew: float = 1.5) -> list[str]:
        weights = np.array([skew**-i for i in range(len(values))])
        return list(rng.choice(values, size=n, p=weights / weights.sum()))

    years = rng.integers(1944, 2009, size=n)
    months = rng.integers(1, 13, size=n)
    return pd.DataFrame(
        {
            "client_id": [f"C{i:07d}" for i in range(n)],
            "nhs_number": [f"999{i:07d}" for i in range(n)],
            "date_of_birth": [f"{y}-{m:02d}-15" for y, m in zip(years, months, strict=True)],
            "postcode": "ZZ99 1AA",
            "period": pick(["2023/24", "2024/25"], 1.0),
            "area": pick(["Northton", "Southby", "Eastham"]),
            "drug_group": pick(["Opiates", "Alcohol only", "Non-opiates only"]),
            "crack": pick(["N", "Y"]),
            "sex": pick(["M", "F", ""], 2.0),
            "ethnicity": pick(ETHNICITY),
            "religion": pick(RELIGION),
            "sexuality": pick(SEXUALITY, 3.0),
            "nationality": pick(["British", "Not British", "Not stated"], 3.0),
            "disability_learning": pick(["N", "Y", ""]),
        }
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 80),
    k=st.integers(2, 6),
    extra=st.sampled_from([(), ("disability_learning",), ("drug_group", "crack")]),
)
def test_every_combination_occurs_k_times(
    seed: int, n: int, k: int, extra: tuple[str, ...]
) -> None:
    raw = random_raw(np.random.default_rng(seed), n)
    quasi = QUASI + extra
    result = anonymise(raw, AnonymiseOptions(k=k, quasi=quasi))
    out = result.extract
    assert out.empty or smallest_group(out, quasi) >= k
    assert not {key(c) for c in out.columns} & (identifier_columns() | {"age"})
    # never less kept than deleting every small group
    prep = prepare(raw)
    baseline = delete_small_groups(encode(prep.frame, quasi), k)
    assert result.solution.rows_kept >= baseline.rows_kept
    assert result.solution.values_kept >= baseline.values_kept
    # suppression only ever moves values to not stated: stated counts never grow
    for name in ("ethnicity", "religion", "sexuality", "nationality"):
        before = prep.frame[name].value_counts()
        after = out[name].value_counts()
        for code in code_list(name).codes:
            if code != "not_stated":
                assert after.get(code, 0) <= before.get(code, 0)
