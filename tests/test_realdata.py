"""The real published files in ../shared/realdata/ load with a column mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmetneed.inputs.load import Loaded, load

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

ALCOHOL_MAPPING = {
    "area": "Local_Authority",
    "area_code": "Area_Code_GSS",
    "estimate": "Alcohol_dependent",
    "lower": "Alcohol_lower_CI",
    "upper": "Alcohol_upper_CI",
    "period": "Year",
}


@pytest.fixture(scope="module")
def alcohol() -> Loaded:
    """The PHE alcohol-dependence estimates, loaded once with the mapping (skip if absent)."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata/ is not here")
    return load(
        REALDATA / "alcohol_dependence_estimates_by_la.csv",
        "prevalence",
        columns=ALCOHOL_MAPPING,
        substance="alcohol_dependent",
    )


def test_alcohol_estimates_load_with_mapping(alcohol: Loaded) -> None:
    """Warwickshire 2017/18: 5,028 alcohol-dependent adults, 95% CI 3,958-6,617 (PHE)."""
    frame = alcohol.frame
    assert len(frame) == 1211  # every data line of the file, none dropped
    row = frame[(frame["area"] == "Warwickshire") & (frame["period"] == "2017/18")]
    assert row[["estimate", "lower", "upper"]].values.tolist() == [[5028.0, 3958.0, 6617.0]]
    assert row["area_code"].tolist() == ["E10000031"]


def test_bare_years_are_financial_years_without_intervals(alcohol: Loaded) -> None:
    """The file writes 2010..2014 as bare years (151 areas each) with NA bounds."""
    frame = alcohol.frame
    old = frame[frame["period"].isin(["2010/11", "2011/12", "2012/13", "2013/14", "2014/15"])]
    assert len(old) == 5 * 151
    assert old["lower"].isna().all() and old["upper"].isna().all()
    assert any("755 row(s) give a bare year" in n for n in alcohol.notes)


def test_placeholder_area_code_is_reported_not_refused(alcohol: Loaded) -> None:
    """Cornwall & Isles of Scilly carries code E0999 in lines 588-592: read as missing."""
    cornwall = alcohol.frame[alcohol.frame["area"] == "Cornwall & Isles of Scilly"]
    assert cornwall["area_code"].isna().sum() == 5
    assert any("'E0999'" in n and "588" in n for n in alcohol.notes)


def test_viewit_rounded_counts_are_noted(realdata: Path) -> None:
    """Barnet's ViewIt export rounds every count to 5 and mixes Total rows in: both noted."""
    loaded = load(
        realdata / "ndtms_viewit_barnet.csv",
        "counts",
        columns={"period": "ReportingPeriod", "area": "Area", "count": "intreatment_allintx"},
    )
    frame = loaded.frame
    assert loaded.rounded_to == 5
    assert (frame["count"] % 5 == 0).all()
    assert list(frame["drug_group"].cat.categories)[-1] == "total"
    one = frame[
        (frame["period"] == "2009/10") & (frame["sex"] == "total") & (frame["age_group"] == "total")
    ].set_index("drug_group")["count"]
    # published: 1,105 in treatment in Barnet 2009/10; the breakdown sums to it within rounding
    assert one["total"] == 1105
    breakdown = one.drop("total").sum()
    assert abs(breakdown - one["total"]) <= 2 * 4


def test_viewit_england_alcohol_in_treatment_2019_20(realdata: Path) -> None:
    """realdata/README.md: England 2019/20, 104,880 in treatment for alcohol (alcohol only
    plus alcohol & non-opiates); the export writes drug groups in lower and upper case."""
    loaded = load(
        realdata / "ndtms_viewit_england.csv",
        "counts",
        columns={
            "period": "ReportingPeriod_Data",
            "area": "Area_Data",
            "drug_group": "DrugGroup_Data",
            "sex": "Gender_Data",
            "count": "Num_InTreatment_AllInTx",
        },
    )
    f = loaded.frame
    rows = f[
        (f["period"] == "2019/20")
        & (f["sex"] == "total")
        & (f["AgeGroup_Data"].str.lower() == "total")
        & f["drug_group"].isin(["alcohol_only", "non_opiate_and_alcohol"])
    ]
    assert rows["count"].sum() == 104880
