"""Normalisation of spellings to codes, and periods."""

from __future__ import annotations

import pandas as pd
import pytest

from unmetneed.inputs.codes import NOT_STATED, code_list, key, normalise, parse_period


@pytest.mark.parametrize(
    ("list_name", "spelling", "code"),
    [
        ("sex", "Male", "male"),
        ("sex", "M", "male"),
        ("sex", " male ", "male"),
        ("sex", "F", "female"),
        ("drug_group", "Opiates", "opiate"),
        ("drug_group", "Non-opiates only", "non_opiate_only"),
        ("drug_group", "Alcohol & non-opiates", "non_opiate_and_alcohol"),
        ("age_band", "18-24", "18-24"),
        ("age_band", "65 and over", "65+"),
        ("substance", "Opiate and/or crack", "opiate_crack"),
        ("housing", "Urgent housing problem", "urgent_housing_problem"),
    ],
)
def test_spellings_map_to_codes(list_name: str, spelling: str, code: str) -> None:
    assert code_list(list_name).lookup(spelling) == code


@pytest.mark.parametrize("spelling", ["", "Missing", "Not stated", "NA", "n/a"])
def test_not_stated_spellings(spelling: str) -> None:
    assert code_list("sex").lookup(spelling) == NOT_STATED
    assert code_list("flag").lookup(spelling) is None


@pytest.mark.parametrize(
    ("spelling", "value"),
    [("Yes", True), ("Y", True), ("1", True), ("true", True), ("No", False), ("0", False)],
)
def test_flag_spellings(spelling: str, value: bool) -> None:
    assert code_list("flag").lookup(spelling) is value


def test_normalise_keeps_unmatched_value_and_flags_it() -> None:
    col = pd.Series(["M", "17", "Female", None, "M"])
    out, bad = normalise(col, code_list("sex"))
    assert out.tolist() == ["male", "17", "female", "not_stated", "male"]
    assert bad.tolist() == [False, True, False, False, False]


def test_normalise_does_not_mutate_input() -> None:
    col = pd.Series(["M", "F"])
    normalise(col, code_list("sex"))
    assert col.tolist() == ["M", "F"]


@pytest.mark.parametrize(
    ("text", "period", "note"),
    [
        ("2017/18", "2017/18", ""),
        ("2017-18", "2017/18", ""),
        ("2019/2020", "2019/20", ""),
        ("2024/25 Q2", "2024/25 Q2", ""),
        ("2024-25 q2", "2024/25 Q2", ""),
        ("2012", "2012/13", "bare year"),
        ("2012.0", "2012/13", "bare year"),
        ("1999/00", "1999/00", ""),
    ],
)
def test_parse_period(text: str, period: str, note: str) -> None:
    assert parse_period(text) == (period, note)


@pytest.mark.parametrize("text", ["2017/19", "17/18", "2017/18 Q5", "last year", ""])
def test_parse_period_refuses(text: str) -> None:
    assert parse_period(text)[0] is None


def test_key() -> None:
    assert key("Non-opiates only") == "non_opiates_only"
    assert key("65+") == "65+"
