"""Counting in record batches gives what the frame code gives on the loaded rows.

Every table here is built twice from the same rows: once by ``load`` (the batches
collected into a frame) + the frame code, and once counted by ``unmetneed.inputs.stream`` in
small batches (so counts are added over many batches and text values first seen in later
batches), and the two must be equal; validation failures and notes must be the same too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unmetneed.errors import UsageError, ValidationError
from unmetneed.inputs import stream
from unmetneed.inputs.load import load
from unmetneed.spelling import parse_cohort_specs as cohort_files
from unmetneed.tables.compare import CompareOptions, compare, load_cohorts
from unmetneed.tables.compare.files import compare_files
from unmetneed.tables.gap import GapOptions, compute, compute_files

BY = ("disability", "housing", "sex", "age")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 97 rows: the sample extract's 3,654 rows are read as 38 batches."""
    monkeypatch.setattr(stream, "BATCH_ROWS", 97)


def as_parquet(csv: Path, out: Path, shuffle: int | None = None) -> Path:
    """The CSV's text as a Parquet file (strings, dictionary-encoded by the writer)."""
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    if shuffle is not None:
        frame = frame.sample(frac=1.0, random_state=shuffle).reset_index(drop=True)
    frame.to_parquet(out, index=False)
    return out


def both(specs_csv: list[str], specs_pq: list[str], options: CompareOptions) -> None:
    """The table of the CSV files (loaded whole) equals the table of the Parquet files."""
    cohorts, notes_csv = load_cohorts(cohort_files(specs_csv))
    whole = compare(cohorts, options)
    batched, notes_pq = compare_files(cohort_files(specs_pq), options)
    pd.testing.assert_frame_equal(batched.table, whole.table)
    assert batched.remarks == whole.remarks
    assert [n.split(": ", 1)[-1] for n in notes_pq] == [n.split(": ", 1)[-1] for n in notes_csv]


@pytest.mark.parametrize(
    "options",
    [
        CompareOptions(by=BY, within=("area", "substance_cohort")),
        CompareOptions(by=(*BY, "substance_cohort"), within=("area",), exclude_not_stated=True),
        CompareOptions(by=("age",), within=("drug_group",), age_bands=("18-29", "30-39", "40+")),
        CompareOptions(by=("ethnicity", "employment"), k=0),
    ],
)
def test_two_cohorts_batched_equal_whole(
    sample_dir: Path, tmp_path: Path, options: CompareOptions
) -> None:
    ndtms = as_parquet(sample_dir / "extract.csv", tmp_path / "extract.parquet")
    ootu = as_parquet(sample_dir / "cohort_ootu.csv", tmp_path / "ootu.parquet")
    csv = [f"NDTMS={sample_dir / 'extract.csv'}", f"OOTU={sample_dir / 'cohort_ootu.csv'}"]
    both(csv, [f"NDTMS={ndtms}", f"OOTU={ootu}"], options)


def test_one_file_with_a_cohort_column(sample_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame["cohort"] = np.where(np.arange(len(frame)) % 3 == 0, "B", "A")
    frame.to_csv(tmp_path / "x.csv", index=False)
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    options = CompareOptions(by=BY, within=("area",))
    both([str(tmp_path / "x.csv")], [str(tmp_path / "x.parquet")], options)


def test_a_row_without_a_cohort_label_is_named(sample_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame["cohort"] = "A"
    frame.loc[[150, 1000], "cohort"] = ""
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    with pytest.raises(UsageError, match=r"2 row\(s\) have no cohort label \(lines 152, 1002\)"):
        compare_files(cohort_files([str(tmp_path / "x.parquet")]), CompareOptions(by=("sex",)))


def test_gap_batched_equals_whole(sample_dir: Path, tmp_path: Path) -> None:
    extract = as_parquet(sample_dir / "extract.csv", tmp_path / "extract.parquet", shuffle=1)
    prevalence = sample_dir / "prevalence.csv"
    options = GapOptions(total="All areas")
    batched = compute_files(extract, prevalence, options)
    whole = compute(load(extract, "treatment"), load(prevalence, "prevalence"), options)
    pd.testing.assert_frame_equal(batched.table, whole.table)
    assert batched.remarks == whole.remarks


def test_collapsed_rows_are_people_per_combination(sample_dir: Path, tmp_path: Path) -> None:
    extract = as_parquet(sample_dir / "extract.csv", tmp_path / "extract.parquet")
    loaded = stream.collapse(extract, "treatment", ("period", "area", "drug_group"))
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str)
    assert loaded.frame[stream.PEOPLE].sum() == len(frame) == 3654
    assert len(loaded.frame) == len(frame.drop_duplicates(["period", "area", "drug_group"]))
    first = loaded.frame.index[0]  # each row is indexed by its combination's first row
    assert first == 0 and loaded.frame["area"].iloc[0] == frame["area"].iloc[0]


def failures_of(path: Path, kind: str, run) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        run()
    assert exc.value.kind == kind
    return [f.describe() for f in exc.value.failures]


def test_failures_are_loads_with_the_same_lines(sample_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame.loc[12, "age_band"] = "17"  # line 14
    frame.loc[700, "crack"] = ""  # required: line 702
    frame.loc[1500, "ethnicity"] = "martian"  # a column compare does not use: line 1502
    frame.loc[1501, "period"] = "2023/25"  # not a financial year: line 1503
    frame.to_parquet(tmp_path / "bad.parquet", index=False)
    path = tmp_path / "bad.parquet"
    whole = failures_of(path, "treatment", lambda: load(path, "treatment"))
    options = CompareOptions(by=("sex",))
    batched = failures_of(
        path, "treatment", lambda: compare_files(cohort_files([f"A={path}"]), options, "treatment")
    )
    assert batched == whole
    assert [b.split(" ")[1] for b in batched] == ["14", "702", "1502", "1503"]
    assert batched[0] == "line 14 column age_band value '17': " + whole[0].split(": ", 1)[1]
    gap = failures_of(path, "treatment", lambda: compute_files(path, sample_dir / "prevalence.csv"))
    assert gap == whole


def test_auto_reads_a_file_failing_the_extract_as_a_cohort(
    sample_dir: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame.loc[5, "crack"] = ""  # fails the extract (crack required), passes as a cohort
    frame.to_csv(tmp_path / "x.csv", index=False)
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    both([f"A={tmp_path / 'x.csv'}"], [f"A={tmp_path / 'x.parquet'}"], CompareOptions(by=BY))
    _, notes = compare_files(cohort_files([f"A={tmp_path / 'x.parquet'}"]), CompareOptions(by=BY))
    assert any("read as a cohort file" in n for n in notes)


def test_many_bad_rows_listed_up_to_a_limit_then_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "MAX_LISTED", 5)
    n = 300
    frame = pd.DataFrame({"sex": ["male"] * n, "age_band": ["17"] * n})
    frame.to_parquet(tmp_path / "c.parquet", index=False)
    path = tmp_path / "c.parquet"
    got = failures_of(
        path,
        "cohort",
        lambda: compare_files(cohort_files([f"A={path}"]), CompareOptions(by=("sex",)), "cohort"),
    )
    rule = got[0].removeprefix("column age_band: ").removesuffix(" (295 more row(s))")
    assert rule.startswith("not one of 18-24")
    assert got[1:] == [f"line {i} column age_band value '17': {rule}" for i in range(2, 7)]


def test_identifier_and_missing_required_columns_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"nhs_number": ["1"], "area": ["X"], "sex": ["male"]})
    frame.to_parquet(tmp_path / "id.parquet", index=False)
    path = tmp_path / "id.parquet"
    got = failures_of(path, "treatment", lambda: stream.collapse(path, "treatment", ("area",)))
    assert any(g.startswith("column nhs_number: a direct identifier") for g in got)
    assert any(g.startswith("column period: required column is missing") for g in got)


def test_notes_for_bare_years_and_codes_that_are_not_gss(sample_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame["period"] = "2023"
    frame.loc[[3, 400], "area_code"] = "E0999"
    frame.to_parquet(tmp_path / "n.parquet", index=False)
    path = tmp_path / "n.parquet"
    batched = stream.collapse(path, "treatment", ("period", "area", "area_code"))
    assert sorted(batched.notes) == sorted(load(path, "treatment").notes)
    assert any("3654 row(s) give a bare year" in n for n in batched.notes)
    assert any("lines 5, 402" in n for n in batched.notes)
    assert set(batched.frame["period"].astype(str)) == {"2023/24"}


def test_typed_columns_and_dictionaries_from_the_writer(tmp_path: Path) -> None:
    """Booleans, integers and dictionary columns with unused (even invalid) entries."""
    sex = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 0, None], pa.int8()), pa.array(["Male", "female", "alien"])
    )
    table = pa.table(
        {
            "sex": sex,
            "crack": pa.array([True, False, None, True]),
            "age_band": pa.array(["18-24", "25-29", "18-24", "65+"]),
            "period": pa.array([2019, 2019, 2020, 2020]),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    path = tmp_path / "t.parquet"
    whole = load(path, "cohort").frame
    options = CompareOptions(by=("sex", "crack", "age"), within=("period",), k=0)
    batched, _ = compare_files(cohort_files([f"A={path}"]), options, "cohort")
    pd.testing.assert_frame_equal(batched.table, compare({"A": whole}, options).table)
    counts = batched.table.set_index(["period", "variable", "category"])["count"]
    assert counts[("2019/20", "sex", "male")] == 1 and counts[("2020/21", "sex", "not_stated")] == 1
    assert counts[("2020/21", "crack", "not_stated")] == 1


CODES = {
    "sex": ["male", "Female", "not stated", ""],
    "housing": ["no_problem", "urgent housing problem", "housing_problem", ""],
    "area": ["Leeds", "Leeds ", "York", "Hull", ""],
    "disability_physical": ["yes", "no", "", "1"],
}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(
        st.tuples(*(st.sampled_from(v) for v in CODES.values()), st.sampled_from(["A", "B"])),
        min_size=1,
        max_size=300,
    ),
    batch=st.integers(1, 64),
)
def test_any_rows_any_batches_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: list[tuple[str, ...]], batch: int
) -> None:
    monkeypatch.setattr(stream, "BATCH_ROWS", batch)
    frame = pd.DataFrame(data, columns=[*CODES, "cohort"])
    frame.to_parquet(tmp_path / "h.parquet", index=False)
    options = CompareOptions(by=("sex", "housing", "disability_physical"), within=("area",), k=2)
    batched, _ = compare_files(cohort_files([str(tmp_path / "h.parquet")]), options, "cohort")
    whole = compare(load(tmp_path / "h.parquet", "cohort").frame, options)
    pd.testing.assert_frame_equal(batched.table, whole.table)
