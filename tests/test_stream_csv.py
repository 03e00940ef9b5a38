"""CSV files counted in record batches (``readers``' CSV reader) give what ``load`` gives.

A CSV file whose header is line 1 is read by ``pyarrow.csv`` in blocks (here of 4 KiB, so
the sample extract is read as about 60 batches), by ``load`` and ``compare`` alike; one
with a title above its header, a blank line or notes below the table, or a value that
fails, is read whole (cut to its table, converted to batches in slices), whose verdict,
lines and notes are the ones a user sees.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from unmetneed.errors import ValidationError
from unmetneed.inputs import readers
from unmetneed.spelling import parse_cohort_specs as cohort_files
from unmetneed.tables.compare import CompareOptions, compare, load_cohorts
from unmetneed.tables.compare.files import compare_files

BY = ("disability", "housing", "sex", "age")
OPTIONS = CompareOptions(by=BY, within=("area", "substance_cohort"))


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Small CSV blocks; the files read in batches are listed."""
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 4096)
    read: list[Path] = []
    reader = readers._csv_reader

    def spy(path: Path):  # type: ignore[no-untyped-def]
        opened = reader(path)  # (raises NotPlainError for a CSV that is not plain)
        read.append(path)
        return opened

    monkeypatch.setattr(readers, "_csv_reader", spy)
    return read


def same_as_loaded(specs: list[str], options: CompareOptions = OPTIONS) -> list[str]:
    """The batched table equals the loaded one; the notes of the batched run."""
    cohorts, notes_whole = load_cohorts(cohort_files(specs))
    whole = compare(cohorts, options)
    batched, notes = compare_files(cohort_files(specs), options)
    pd.testing.assert_frame_equal(batched.table, whole.table)
    assert batched.remarks == whole.remarks
    assert notes == notes_whole
    return notes


def test_a_plain_csv_is_counted_in_batches(sample_dir: Path, batches: list[Path]) -> None:
    extract, ootu = sample_dir / "extract.csv", sample_dir / "cohort_ootu.csv"
    same_as_loaded([f"NDTMS={extract}", f"OOTU={ootu}"])
    assert extract in batches and ootu in batches


def test_a_cohort_column_and_a_semicolon_csv(
    sample_dir: Path, tmp_path: Path, batches: list[Path]
) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame["cohort"] = ["B" if i % 3 == 0 else "A" for i in range(len(frame))]
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False, sep=";")
    same_as_loaded([str(path)], CompareOptions(by=BY, within=("area",)))
    assert batches == [path] * 3  # loaded, counted, then collapsed for protection


def test_title_above_the_header_is_read_whole(
    sample_dir: Path, tmp_path: Path, batches: list[Path]
) -> None:
    path = tmp_path / "titled.csv"
    path.write_text("Treatment extract 2023/24\n" + (sample_dir / "extract.csv").read_text())
    notes = same_as_loaded([f"A={path}"], CompareOptions(by=("sex",)))
    assert batches == []
    assert any("above the header" in n for n in notes)


@pytest.mark.parametrize(
    ("tail", "said"),
    [("Source: NDTMS\n", "note line"), ("Source: NDTMS,,,,,,,,,,,,,,,\n", "note line")],
)
def test_notes_below_the_table_are_left_out_as_load_does(
    sample_dir: Path, tmp_path: Path, batches: list[Path], tail: str, said: str
) -> None:
    path = tmp_path / "noted.csv"
    path.write_text((sample_dir / "extract.csv").read_text() + tail)
    notes = same_as_loaded([f"A={path}"], CompareOptions(by=("sex",)))
    assert any(said in n for n in notes)


def test_a_blank_line_far_down_is_read_whole(
    sample_dir: Path, tmp_path: Path, batches: list[Path]
) -> None:
    lines = (sample_dir / "extract.csv").read_text().splitlines(keepends=True)
    path = tmp_path / "blank.csv"
    path.write_text("".join([*lines[:3000], "\n", *lines[3000:]]))
    notes = same_as_loaded([f"A={path}"], CompareOptions(by=("sex",)))
    assert batches == [path] * 2  # loaded and compared: begun in batches, then read whole
    assert any("1 blank line(s) inside the table" in n for n in notes)


def test_failures_far_down_are_loads(sample_dir: Path, tmp_path: Path, batches: list[Path]) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame.loc[12, "age_band"] = " 17"  # line 14, shown as in the file
    frame.loc[3000, "crack"] = ""  # required: line 3002
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValidationError) as whole:
        load_cohorts(cohort_files([f"A={path}"]), "treatment")
    with pytest.raises(ValidationError) as batched:
        compare_files(cohort_files([f"A={path}"]), CompareOptions(by=("sex",)), "treatment")
    assert batched.value.failures == whole.value.failures
    assert [f.line for f in batched.value.failures] == [14, 3002]


def test_windows_line_ends_and_an_excel_encoding(
    sample_dir: Path, tmp_path: Path, batches: list[Path]
) -> None:
    frame = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    frame.loc[frame["area"] == frame["area"].iloc[0], "area"] = "Bröckton"
    path = tmp_path / "excel.csv"
    frame.to_csv(path, index=False, encoding="cp1252", lineterminator="\r\n")
    same_as_loaded([f"A={path}"], CompareOptions(by=("sex",), within=("area",)))
    assert batches == [path] * 3
