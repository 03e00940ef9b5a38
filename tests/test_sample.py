"""The synthetic sample world in data/sample/: it validates, adds up and regenerates exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from unmetneed.inputs.load import load

KINDS = {
    "extract.csv": "treatment",
    "counts.csv": "counts",
    "cohort_ootu.csv": "cohort",
    "prevalence.csv": "prevalence",
}
RAW_COLUMNS = [
    "client_id",
    "nhs_number",
    "date_of_birth",
    "postcode",
    "period",
    "area",
    "area_code",
    "drug_group",
    "crack",
    "sex",
    "ethnicity",
    "religion",
    "sexuality",
    "nationality",
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "housing",
    "employment",
    "lives_with_children",
]
KEYS = ["period", "area", "area_code", "drug_group", "crack"]


def read_text(path: Path) -> pd.DataFrame:
    """A sample CSV as text, blanks kept as empty strings."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.parametrize(("name", "kind"), sorted(KINDS.items()))
def test_sample_file_validates(sample_dir: Path, name: str, kind: str) -> None:
    loaded = load(sample_dir / name, kind)
    assert len(loaded.frame) > 0


def test_counts_add_up_to_the_extract(sample_dir: Path) -> None:
    extract = read_text(sample_dir / "extract.csv")
    counts = read_text(sample_dir / "counts.csv")
    people = extract.groupby(KEYS).size().rename("people").reset_index()
    joined = counts.merge(people, on=KEYS, how="outer", indicator=True)
    assert (joined["_merge"] != "right_only").all(), "an extract group is missing from counts"
    assert not counts.duplicated(KEYS).any()
    joined["people"] = joined["people"].fillna(0).astype(int)
    shown = joined[joined["count"] != "*"]
    assert (shown["count"].astype(int) == shown["people"]).all()
    starred = joined[joined["count"] == "*"]
    assert len(starred) > 0, "the sample should have small cells for suppression to work on"
    assert starred["people"].between(1, 4).all()
    assert (counts["count"] != "").all(), "a zero is written 0, never blank"
    assert joined["people"].sum() == len(extract)


def test_generator_is_byte_identical(sample_dir: Path, tmp_path: Path) -> None:
    script = sample_dir / "make_sample.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert set(KINDS) | {"raw_records.csv", "README.md"} <= set(written)
    for name in written:
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name


def test_raw_records_columns_and_ids(sample_dir: Path) -> None:
    raw = read_text(sample_dir / "raw_records.csv")
    assert list(raw.columns) == RAW_COLUMNS
    assert raw["client_id"].is_unique
    assert raw["client_id"].str.fullmatch(r"C\d{7}").all()
    assert raw["nhs_number"].str.fullmatch(r"999\d{7}").all()
    assert raw["postcode"].str.startswith("ZZ99 ").all()
    dob = pd.to_datetime(raw["date_of_birth"], format="%Y-%m-%d")
    before_april = (dob.dt.month <= 3).astype(int)  # birthday on or before 31 March
    age = 2024 - dob.dt.year + before_april
    assert (age < 18).sum() == 3
    assert age.max() <= 80


def test_area_sex_table_adds_up_to_the_extract(sample_dir: Path) -> None:
    """counts_by_area_sex.csv: the extract's 2024/25 people by area x sex, totals included."""
    table = read_text(sample_dir / "counts_by_area_sex.csv").astype({"count": int})
    extract = read_text(sample_dir / "extract.csv")
    people = extract[extract["period"] == "2024/25"]
    inner = table[(table["area"] != "Total") & (table["sex"] != "Total")]
    expected = people.groupby(["area", "sex"]).size()
    got = inner.set_index(["area", "sex"])["count"]
    assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    grand = table[(table["area"] == "Total") & (table["sex"] == "Total")]["count"].item()
    assert grand == len(people) == inner["count"].sum()
