"""Published layouts read as they are (contract 2.5), on the real files in ../shared/realdata/.

Every number asserted is printed in the published file or worked out by hand from it:
- Barnet (ndtms_viewit_barnet.csv, every count rounded to 5), sex = Total, age = Total:
  2017/18 alcohol only 265 + non-opiate & alcohol 150 = 415; 2018/19 240 + 150 = 390;
  2021/22 440 + 230 = 670 (the file writes TOTAL in capitals that year).
- England (ndtms_viewit_england.csv, exact): 2019/20 74,618 + 30,262 = 104,880;
  2020/21 76,740 + 30,688 = 107,428.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from unmetneed import gap
from unmetneed.cli import app
from unmetneed.gap import GapOptions
from unmetneed.layouts import detect
from unmetneed.load import load, read_header

ENGLAND = "ndtms_viewit_england.csv"
BARNET = "ndtms_viewit_barnet.csv"
PHE = "alcohol_dependence_estimates_by_la.csv"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "220"})
    return result.exit_code, result.stdout, result.stderr


def row(table: pd.DataFrame, area: str, period: str) -> dict[str, object]:
    hit = table[(table["area"] == area) & (table["period"] == period)]
    assert len(hit) == 1, table
    return hit.iloc[0].to_dict()


@pytest.mark.parametrize(
    ("name", "layout"),
    [(ENGLAND, "ndtms-viewit-england"), (BARNET, "ndtms-viewit-la"), (PHE, "phe-alcohol")],
)
def test_each_real_file_is_recognised_by_its_header(realdata: Path, name: str, layout: str) -> None:
    found = detect(read_header(realdata / name))
    assert found is not None and found.name == layout


def test_barnet_uses_the_published_totals(realdata: Path) -> None:
    """415 / 390 / 670, each the sum of two published totals rounded to 5 (so +-2 each:
    411..419), not a sum of 12 rounded sex x age cells (425 for 2017/18)."""
    result = gap.compute_files(
        realdata / BARNET,
        realdata / PHE,
        GapOptions(substances=("alcohol_dependent",)),
    )
    t = result.table
    assert row(t, "Barnet", "2017/18")["in_treatment"] == 415
    assert row(t, "Barnet", "2018/19")["in_treatment"] == 390
    assert row(t, "Barnet", "2021/22")["in_treatment"] == 670
    r = row(t, "Barnet", "2017/18")
    assert (r["in_treatment_min"], r["in_treatment_max"]) == (411, 419)
    assert any("layout ndtms-viewit-la" in x for x in result.remarks)


def test_england_viewit_and_phe_file_with_no_column_options(realdata: Path) -> None:
    """England 2019/20 104,880 and 2020/21 107,428 in treatment. The PHE file's latest three
    England years are 2015/16-2017/18: D = (595856 + 589101 + 586780) / 3 = 590579, so
    2019/20 is 100 (590579 - 104880) / 590579 = 82.24%."""
    result = gap.compute_files(realdata / ENGLAND, realdata / PHE, GapOptions())
    t = result.table
    r = row(t, "England", "2019/20")
    assert r["in_treatment"] == 104880
    assert r["prevalence"] == pytest.approx(590579.0)
    assert r["unmet_need_pct"] == pytest.approx(82.24, abs=0.005)
    assert row(t, "England", "2020/21")["in_treatment"] == 107428
    assert r["in_treatment_min"] == r["in_treatment_max"] == 104880  # exact: not rounded


def test_both_viewit_files_in_one_command(realdata: Path, tmp_path: Path) -> None:
    """England and Barnet together: each keeps its own rounding (England exact, Barnet +-2)
    and its published totals; England is the benchmark, and never summed into --total."""
    out = tmp_path / "gap.csv"
    code, _, err = run(
        "gap",
        "--treatment",
        str(realdata / ENGLAND),
        "--treatment",
        str(realdata / BARNET),
        "--prevalence",
        str(realdata / PHE),
        "--period",
        "2017/18",
        "--period",
        "2021/22",
        "--total",
        "All areas",
        "--out",
        str(out),
    )
    assert code == 0, err
    t = pd.read_csv(out)
    assert row(t, "England", "2017/18")["in_treatment"] == 103471  # 75,787 + 27,684
    assert row(t, "Barnet", "2017/18")["in_treatment"] == 415
    assert row(t, "Barnet", "2021/22")["in_treatment"] == 670
    assert row(t, "All areas", "2021/22")["in_treatment"] == 670  # Barnet only, not England
    barnet = row(t, "Barnet", "2017/18")
    assert barnet["benchmark_area"] == "England"
    assert barnet["vs_benchmark"] in ("similar", "higher", "lower")
    england = row(t, "England", "2017/18")
    assert england["in_treatment_min"] == england["in_treatment_max"]


def test_england_2019_20_years_are_chosen_per_area(realdata: Path, tmp_path: Path) -> None:
    """Contract 4.1 worked example: England with a 2018/19 estimate of 602,391 (no bounds)
    the PHE file lacks; 2019/20 D = (589101 + 586780 + 602391) / 3 = 592757.33;
    100 (592757.33 - 104880) / 592757.33 = 82.3064%, no interval. Barnet has no 2018/19
    estimate and keeps its 2015/16-2017/18 mean and interval: D = 9130 / 3, bounds
    6729 / 3 = 2243 and 12872 / 3 = 4290.67; T = 270 + 155 = 425, each +-2: 421..429, so
    100 (1 - 429 / 2243) = 80.87 to 100 (1 - 421 / 4290.67) = 90.19, which holds England's
    82.31: similar."""
    phe = (realdata / PHE).read_text()
    prev = tmp_path / "phe_plus_england_2018_19.csv"
    prev.write_text(phe.rstrip("\n") + "\nEngland,England,E92000001,602391,NA,NA,2018/19\n")
    result = gap.compute_files(
        [realdata / ENGLAND, realdata / BARNET], prev, GapOptions(periods=("2019/20",))
    )
    england = row(result.table, "England", "2019/20")
    assert england["unmet_need_pct"] == pytest.approx(82.3064, abs=5e-5)
    assert pd.isna(england["unmet_need_pct_lower"]) and pd.isna(england["unmet_need_pct_upper"])
    assert england["prevalence_periods"] == "2016/17,2017/18,2018/19"
    barnet = row(result.table, "Barnet", "2019/20")
    assert barnet["prevalence_periods"] == "2015/16,2016/17,2017/18"
    assert not pd.isna(barnet["prevalence_lower"])
    assert barnet["unmet_need_pct_lower"] == pytest.approx(80.87, abs=0.005)
    assert barnet["unmet_need_pct_upper"] == pytest.approx(90.19, abs=0.005)
    assert barnet["vs_benchmark"] == "similar"
    assert england["vs_benchmark"] == "not_compared"  # England's own interval is missing


def test_swapped_inputs_are_named(realdata: Path) -> None:
    code, out, err = run(
        "gap", "--treatment", str(realdata / PHE), "--prevalence", str(realdata / ENGLAND)
    )
    assert code == 2 and out == ""
    assert "did you mean --prevalence" in err and "Traceback" not in err


def test_layout_can_be_forced_or_turned_off(realdata: Path) -> None:
    loaded = load(realdata / BARNET, "counts", layout="ndtms-viewit-la")
    assert loaded.layout == "ndtms-viewit-la" and loaded.rounded_to == 5
    code, _, err = run(
        "validate", str(realdata / PHE), "--kind", "prevalence", "--layout", "ndtms-viewit-la"
    )
    assert code == 2 and "needs the column(s)" in err
    code, _, err = run("validate", str(realdata / PHE), "--kind", "prevalence", "--layout", "phe")
    assert code == 2 and "did you mean 'phe-alcohol'" in err
