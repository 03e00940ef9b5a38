"""Publishable outputs of a run: the accessible workbook, the report, charts; [c] everywhere
a value is suppressed and never the value; byte-identical reruns; HiGHS off stdout."""

from __future__ import annotations

import hashlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.outputs.charts import draw, save, svg_text
from unmetneed.outputs.labels import CONFIDENTIAL, hidden_cells
from unmetneed.outputs.workbook import Cover, read_workbook_table, sheet_from_table, write_workbook

SAMPLE_FILES = ("raw_records.csv", "cohort_ootu.csv", "prevalence.csv", "quarterly.toml")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample run (formats parquet, csv, xlsx, html) written twice: the first
    ``publish/`` folder; the second beside it as ``publish2``."""
    root = tmp_path_factory.mktemp("run")
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    for name in SAMPLE_FILES:
        shutil.copy(sample / name, root / name)
    for out in ("out1", "out2"):
        result = CliRunner().invoke(
            app, ["run", str(root / "quarterly.toml"), "--out-dir", str(root / out), "--quiet"]
        )
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""  # nothing on stdout, HiGHS's banner included
    shutil.copytree(root / "out2" / "publish", root / "out1" / "publish2")
    return root / "out1" / "publish"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rerun_gives_byte_identical_workbook_report_and_views(published: Path) -> None:
    for name in ("tables.xlsx", "report.html", "compare-disability-housing-table1.csv"):
        assert sha(published / name) == sha(published.parent / "publish2" / name), name


def test_workbook_sheets_tables_and_cover(published: Path) -> None:
    book = load_workbook(published / "tables.xlsx")
    assert book.sheetnames == [
        "Cover",
        "Contents",
        "Notes",
        "gap",
        "compare-disability-housing",
        "T1 disability-housing",
        "compare-age-sex-by-area",
    ]
    cover = [r[0] for r in book["Cover"].iter_rows(values_only=True)]
    assert "Public health intelligence team, phi@example.org" in cover  # contact from config
    assert "Period: 2024/25" in cover
    for ws in book.worksheets:
        assert not ws.merged_cells.ranges, ws.title
        if ws.title == "Cover":
            continue
        assert len(ws.tables) == 1, ws.title  # one Excel table object per sheet
        ref = next(iter(ws.tables.values())).ref
        rows = [[c.value for c in row] for row in ws[ref]]
        assert all(any(v is not None for v in r) for r in rows), ws.title  # no blank rows
        assert all(v is not None for r in rows for v in r), ws.title  # no empty cells
    notes = [r[1] for r in book["Notes"].iter_rows(values_only=True)]
    assert any(str(n).startswith("[c] means confidential") for n in notes)
    assert any(str(n).startswith("[x] means not available") for n in notes)


def test_workbook_number_formats_and_headings(published: Path) -> None:
    ws = load_workbook(published / "tables.xlsx")["gap"]
    ref = next(iter(ws.tables.values())).ref
    header, first = list(ws[ref])[:2]
    heads = [c.value for c in header]
    assert "Not in treatment (%)" in heads and "People in treatment" in heads
    fmt = {h: c.number_format for h, c in zip(heads, first, strict=True)}
    assert fmt["Not in treatment (%)"] == "#,##0.0"
    assert fmt["Estimated people (prevalence)"] == "#,##0"


@pytest.mark.parametrize("table", ["gap", "compare-disability-housing", "compare-age-sex-by-area"])
def test_every_suppressed_cell_is_c_in_the_workbook(published: Path, table: str) -> None:
    """Law: a cell is [c] in the workbook exactly where the Parquet table hides it."""
    truth = pd.read_parquet(published / f"{table}.parquet")
    hidden = hidden_cells(truth)
    assert hidden.to_numpy().any()  # the sample has suppressed cells in every table
    back = read_workbook_table(published / "tables.xlsx", table)
    ws = load_workbook(published / "tables.xlsx")[table]
    raw = [[c.value for c in row] for row in ws[next(iter(ws.tables.values())).ref]][1:]
    for col_i, name in enumerate(truth.columns):
        for row_i in np.flatnonzero(hidden[name].to_numpy()):
            assert raw[row_i][col_i] == CONFIDENTIAL, (table, name, row_i)
    shown = truth["count" if "count" in truth else "in_treatment"]
    again = back["count" if "count" in back else "in_treatment"]
    pd.testing.assert_series_equal(
        shown.astype("Float64"), again.astype("Float64"), check_names=False
    )


def test_suppressed_value_never_reaches_the_workbook(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "cohort": ["A", "A"],
            "variable": ["sex", "sex"],
            "category": ["male", "female"],
            "count": pd.array([17, None], dtype="Int64"),
            "denominator": pd.array([19, 19], dtype="Int64"),
            "pct": pd.array([100 * 17 / 19, None], dtype="Float64"),
            "suppressed": [False, True],
        }
    )
    path = write_workbook(
        tmp_path / "t.xlsx", [sheet_from_table("t", frame, "Title")], ["a note"], Cover()
    )
    ws = load_workbook(path)["t"]
    values = [c.value for row in ws.iter_rows() for c in row]
    assert values.count(CONFIDENTIAL) == 2  # count and pct of the suppressed row
    assert 2 not in values and not any(
        isinstance(v, float) and abs(v - 200 / 19) < 1e-9 for v in values
    )


class _Page(HTMLParser):
    """Tags, attributes and table cells of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_td = tag == "td"
        if self._in_td:
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_td = False

    def handle_data(self, data: str) -> None:
        if self._in_td:
            self.cells[-1] += data


def test_report_is_self_contained_with_charts_and_c(published: Path) -> None:
    text = (published / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    names = [t for t, _ in page.tags]
    assert "script" not in names and "link" not in names and "img" not in names
    assert not re.search(r"https?://|//[a-z0-9]", text)  # no external URL of any kind
    assert names.count("svg") >= 4  # caterpillars of the gap and bars of the compare tables
    assert names.count("title") >= 5  # the page's and each chart's
    hidden = sum(
        int(hidden_cells(pd.read_parquet(published / f"{t}.parquet")).to_numpy().sum())
        for t in ("gap", "compare-disability-housing", "compare-age-sex-by-area")
    )
    assert page.cells.count(CONFIDENTIAL) >= hidden
    assert "Key" in text and "Notes" in text


def gap_frame(hidden_area: bool) -> pd.DataFrame:
    """Three areas' gap rows; Midford's value hidden (suppressed) or shown as 62.5."""
    value = [40.0, None if hidden_area else 62.5, 55.0]
    return pd.DataFrame(
        {
            "area": ["Eastbury", "Midford", "Northton"],
            "period": "2024/25",
            "substance": "opiate",
            "unmet_need_pct": pd.array(value, dtype="Float64"),
            "unmet_need_pct_lower": pd.array(
                [30.0, None if hidden_area else 50.0, 45.0], dtype="Float64"
            ),
            "unmet_need_pct_upper": pd.array(
                [50.0, None if hidden_area else 71.5, 65.0], dtype="Float64"
            ),
            "suppressed": [False, hidden_area, False],
        }
    )


def test_caterpillar_never_draws_a_suppressed_value(tmp_path: Path) -> None:
    shown = svg_text(draw(gap_frame(False)))
    hidden = svg_text(draw(gap_frame(True)))
    # each value drawn is one point with its own id
    assert shown.count('id="point-') == 3 and hidden.count('id="point-') == 2
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", hidden)
    assert texts.count(CONFIDENTIAL) == 1 and "Midford" in texts
    assert "62.5" not in hidden and CONFIDENTIAL not in shown
    one = save(draw(gap_frame(True)), tmp_path / "a.svg").read_bytes()
    two = save(draw(gap_frame(True)), tmp_path / "b.svg").read_bytes()
    assert one == two  # byte-identical on rerun


def test_caterpillar_draws_the_benchmark_when_the_table_has_it() -> None:
    frame = gap_frame(False).assign(
        benchmark_area="Northton", vs_benchmark=["lower", "similar", "not_compared"]
    )
    svg = svg_text(draw(frame))
    assert "Northton (benchmark)" in svg and "similar to benchmark" in svg
    assert "#0072b2" in svg.lower() and "#e69f00" in svg.lower()  # Okabe-Ito blue, orange


def test_bars_leave_out_suppressed_cohort_cells(published: Path, tmp_path: Path) -> None:
    table = pd.read_parquet(published / "compare-disability-housing.parquet")
    group = {"substance_cohort": "opiate_and_crack"}
    rows = table[
        (table["variable"] == "housing") & (table["substance_cohort"] == "opiate_and_crack")
    ]
    blank = int(rows["pct"].isna().sum())
    assert blank > 0
    svg = svg_text(draw(table, "bars", variable="housing", group=group))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts.count(CONFIDENTIAL) == blank
    assert svg.count('id="bar-') == len(rows) - blank
    for path in ("bars.png", "bars.svg", "bars.html"):
        code = (
            CliRunner()
            .invoke(
                app,
                [
                    "chart",
                    str(published / "compare-disability-housing.csv"),
                    "--variable",
                    "housing",
                    "--group",
                    "substance_cohort=opiate_and_crack",
                    "--out",
                    str(tmp_path / path),
                ],
            )
            .exit_code
        )
        assert code == 0 and (tmp_path / path).stat().st_size > 0
    assert (tmp_path / "bars.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_command_refuses_a_wrong_kind(published: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "chart",
            str(published / "compare-disability-housing.parquet"),
            "--kind",
            "trend",
            "--out",
            str(tmp_path / "t.svg"),
        ],
    )
    assert result.exit_code == 2 and "needs a gap table" in result.stderr
    assert not (tmp_path / "t.svg").exists()


def test_trend_marks_suppressed_points(tmp_path: Path) -> None:
    earlier = gap_frame(False).assign(period="2023/24")
    svg = svg_text(draw(pd.concat([earlier, gap_frame(True)]), "trend"))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert f"1 area {CONFIDENTIAL}" in texts and "62.5" not in svg


def test_highs_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    from unmetneed.disclosure.lp import Model

    model = Model(np.array([[1.0, 1.0]]), np.array([4.0]), np.zeros(2), np.full(2, 10.0))
    status, value, _ = model.solve(maximise=False)
    out, _ = capfd.readouterr()
    assert status == "optimal" and out == ""


def test_compare_table1_in_the_terminal_and_beside_out(tmp_path: Path, sample_dir: Path) -> None:
    args = [
        "compare",
        "--cohort", f"NDTMS={sample_dir / 'extract.csv'}",
        "--cohort", f"OOTU={sample_dir / 'cohort_ootu.csv'}",
        "--by", "housing", "--within", "substance_cohort", "--table1",
    ]  # fmt: skip
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.stderr
    assert "Housing: urgent housing problem" in shown.stdout and "NDTMS n (%)" in shown.stdout
    assert "[c]" not in shown.stdout  # the terminal shows * (contract 4.3)
    written = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "t.csv")])
    assert written.exit_code == 0, written.stderr
    tidy = pd.read_csv(tmp_path / "t.csv")
    view = pd.read_csv(tmp_path / "t_table1.csv", dtype=str)
    cohort_cols = [c for c in view.columns if c.endswith("n (%)")]
    assert cohort_cols == ["NDTMS n (%)", "OOTU n (%)"]
    hidden = int(tidy["count"].isna().sum())
    assert hidden > 0 and (view[cohort_cols] == CONFIDENTIAL).to_numpy().sum() >= hidden


def test_gap_out_xlsx_is_the_accessible_workbook_and_audits(
    tmp_path: Path, sample_dir: Path
) -> None:
    out = tmp_path / "gap.xlsx"
    result = CliRunner().invoke(
        app,
        ["gap", "--treatment", str(sample_dir / "extract.csv"), "--prevalence",
         str(sample_dir / "prevalence.csv"), "--total", "All areas", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert load_workbook(out).sheetnames == ["Cover", "Contents", "Notes", "gap"]
    audited = CliRunner().invoke(app, ["audit", str(out)])
    assert audited.exit_code == 0, audited.stdout + audited.stderr


def test_one_table_workbook_states_its_own_rule(tmp_path: Path) -> None:
    """--out x.xlsx under --k 5: the cover says 1..5, the rule the table was protected by."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    out = tmp_path / "c.xlsx"
    args = ["compare", "--cohort", f"NDTMS={sample / 'extract.csv'}", "--cohort"]
    args += [f"OOTU={sample / 'cohort_ootu.csv'}", "--by", "housing", "--k", "5", "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    cover = " ".join(str(r[0]) for r in load_workbook(out)["Cover"].iter_rows(values_only=True))
    assert "Counts of 1..5 are suppressed" in cover
    assert "1 to 3" not in cover


def test_chart_draws_a_named_sheet_of_the_run_workbook(published: Path, tmp_path: Path) -> None:
    book = published / "tables.xlsx"
    args = ["chart", str(book), "--sheet", "compare-disability-housing"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b.svg")])
    assert result.exit_code == 0, result.stderr
    assert "by cohort" in (tmp_path / "b.svg").read_text()
    missing = ["chart", str(book), "--sheet", "nope", "--out", str(tmp_path / "n.svg")]
    result = CliRunner().invoke(app, missing)
    assert result.exit_code == 2 and "no table sheet 'nope'" in result.stderr
    assert not (tmp_path / "n.svg").exists()


def test_a_zero_bar_whose_wilson_limit_is_a_hair_above_zero_is_drawn() -> None:
    # Wilson's lower limit of 0/19 can come out as 6.9e-16 (found on a sample run): the
    # chart drew it as a negative whisker and failed (exit 1). 15/19 = 78.9%.
    frame = pd.DataFrame(
        {
            "cohort": ["A", "A"],
            "variable": ["sex", "sex"],
            "category": ["male", "female"],
            "count": [15, 0],
            "denominator": [19, 19],
            "pct": [100 * 15 / 19, 0.0],
            "pct_lower": [63.65, 6.9e-16],
            "pct_upper": [88.9, 16.8],
            "suppressed": [False, False],
        }
    )
    drawn = draw(frame, "bars")
    assert "bar-0-1" in svg_text(drawn)  # the 0% bar is drawn, with its whisker
