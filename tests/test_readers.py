"""Every format through one path: a reader per format yields record batches, and the same
validator and counter give the same counts, failures and lines whatever the format.

The same six people are written as CSV, as an Excel sheet with a title above the header
and a note below the table, and as an SPSS file; counted by ``stream.collapse`` and by
``compare`` (the batch counter), each format gives the counts worked out by hand here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from unmetneed.errors import ValidationError
from unmetneed.inputs import readers, stream
from unmetneed.inputs.load import load
from unmetneed.spelling import parse_cohort_specs as cohort_files
from unmetneed.tables.compare import CompareOptions
from unmetneed.tables.compare.files import compare_files
from unmetneed.tables.gap import GapOptions, compute_files

HEADER = ["area", "sex", "age_band"]
PEOPLE = [
    ["Leeds", "male", "18-24"],
    ["Leeds", "Male", "25-29"],  # another spelling of male
    ["York", "female", "18-24"],
    ["Leeds", "female", "65+"],
    ["York", "male", "18-24"],
    ["York", "", "25-29"],  # sex not stated
]
# by hand: Leeds 2 male + 1 female; York 1 male + 1 female + 1 not stated
BY_HAND = {
    ("Leeds", "male"): 2,
    ("Leeds", "female"): 1,
    ("York", "female"): 1,
    ("York", "male"): 1,
    ("York", "not_stated"): 1,
}


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n")
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    """A sheet with a title on row 1, the header on row 2 (data row i on row i + 3), and a
    note two rows below the table."""
    book = Workbook()
    sheet = book.active
    sheet.append(["People in treatment, test extract"])
    for row in [HEADER, *rows]:
        sheet.append(row)
    sheet.append([])
    sheet.append(["Source: a test"])
    book.save(path)
    return path


def write_sav(path: Path, rows: list[list[str]]) -> Path:
    import pyreadstat

    pyreadstat.write_sav(pd.DataFrame(rows, columns=HEADER), str(path))
    return path


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "sav": write_sav}
FIRST_LINE = {"csv": 2, "xlsx": 3, "sav": 2}  # the line of the first data row


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 2 rows: a value first seen in a later batch, counts added over batches."""
    monkeypatch.setattr(stream, "BATCH_ROWS", 2)


@pytest.mark.parametrize("fmt", WRITERS)
def test_every_format_gives_the_counts_worked_out_by_hand(
    tmp_path: Path, small_batches: None, fmt: str
) -> None:
    path = WRITERS[fmt](tmp_path / f"people.{fmt}", PEOPLE)
    collapsed = stream.collapse(path, "cohort", ("area", "sex"))
    frame = collapsed.frame
    keys = zip(frame["area"].astype(str), frame["sex"].astype(str), strict=True)
    got = dict(zip(keys, frame[stream.PEOPLE], strict=True))
    assert got == BY_HAND
    # each combination is indexed by its first row's position (line - 2)
    assert frame.index[0] + 2 == FIRST_LINE[fmt]
    assert frame.index[-1] + 2 == FIRST_LINE[fmt] + 5  # York, not stated: the sixth row


def test_excel_and_spss_compare_tables_equal_the_csvs(tmp_path: Path, small_batches: None) -> None:
    options = CompareOptions(by=("sex", "age"), within=("area",), k=0)
    tables = {
        fmt: compare_files(
            cohort_files([f"A={write(tmp_path / f'p.{fmt}', PEOPLE)}"]), options, "cohort"
        )[0]
        for fmt, write in WRITERS.items()
    }
    pd.testing.assert_frame_equal(tables["xlsx"].table, tables["csv"].table)
    pd.testing.assert_frame_equal(tables["sav"].table, tables["csv"].table)
    counts = tables["csv"].table.set_index(["area", "variable", "category"])["count"]
    assert counts[("Leeds", "sex", "male")] == 2 and counts[("York", "sex", "not_stated")] == 1
    assert counts[("York", "age_band", "18-24")] == 2


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_failure_names_the_line_in_every_format(tmp_path: Path, fmt: str) -> None:
    rows = [list(r) for r in PEOPLE]
    rows[3][2] = "17"  # the fourth data row: line 5 of the CSV, row 6 of the sheet
    path = WRITERS[fmt](tmp_path / f"bad.{fmt}", rows)
    line = FIRST_LINE[fmt] + 3
    with pytest.raises(ValidationError) as loaded:
        load(path, "cohort")
    with pytest.raises(ValidationError) as counted:
        compare_files(cohort_files([f"A={path}"]), CompareOptions(by=("sex",)), "cohort")
    assert [f.line for f in loaded.value.failures] == [line]
    assert (
        loaded.value.failures[0]
        .describe()
        .startswith(f"line {line} column age_band value '17': not one of 18-24")
    )
    assert counted.value.failures == loaded.value.failures


def test_gap_counts_a_csv_extract_in_blocks_and_an_excel_one_the_same(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[Path] = []
    reader = readers._csv_reader

    def spy(path: Path):  # type: ignore[no-untyped-def]
        opened = reader(path)
        read.append(path)
        return opened

    monkeypatch.setattr(readers, "_csv_reader", spy)
    extract, prevalence = sample_dir / "extract.csv", sample_dir / "prevalence.csv"
    frame = pd.read_csv(extract, dtype=str, keep_default_na=False)
    sheet = tmp_path / "extract.xlsx"
    frame.to_excel(sheet, index=False)
    options = GapOptions(total="All areas")
    from_csv = compute_files(extract, prevalence, options)
    assert read[0] == extract  # the extract was read in blocks, not held whole
    from_excel = compute_files(sheet, prevalence, options)
    pd.testing.assert_frame_equal(from_excel.table, from_csv.table)
    assert from_excel.remarks == from_csv.remarks


def test_a_column_of_numbers_beside_text_is_read_as_the_text_a_person_sees() -> None:
    frame = pd.DataFrame({"count": [5.0, "*", None, 12]}, index=[3, 4, 6, 7])
    read = readers.frame_reader(frame)
    (batch, positions), *rest = list(read(["count"], 10))
    assert rest == []
    assert batch.column(0).to_pylist() == ["5", "*", None, "12"]
    assert positions is not None and np.array_equal(positions, [3, 4, 6, 7])
