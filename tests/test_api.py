"""unmetneed.api: every command as one call, on files or DataFrames, with the same numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from unmetneed import api
from unmetneed.errors import UsageError, ValidationError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
EXTRACT, OOTU, PREVALENCE = (
    SAMPLE / f for f in ("extract.csv", "cohort_ootu.csv", "prevalence.csv")
)
GAP_NUMBERS = ["area", "period", "substance", "in_treatment", "unmet_need_pct", "suppressed"]


def test_gap_from_frames_is_the_gap_from_files() -> None:
    options = api.GapOptions(total="All areas")
    from_files = api.gap(EXTRACT, PREVALENCE, options)
    from_frames = api.gap(pd.read_csv(EXTRACT), pd.read_csv(PREVALENCE), options)
    pd.testing.assert_frame_equal(
        from_frames.table[GAP_NUMBERS].astype(str), from_files.table[GAP_NUMBERS].astype(str)
    )
    assert from_frames.remarks  # the suppression rule at least


def test_gap_worked_by_hand() -> None:
    # 101 + 59 people in treatment of an estimated 400: 100 x (400 - 160) / 400 = 60%
    # (not multiples of 5, or the counts would be read as rounded to 5: 156-164)
    treated = pd.DataFrame(
        {"period": ["2024/25"] * 2, "area": ["Eastbury"] * 2, "count": [101, 59]}
    )
    estimate = pd.DataFrame(
        {
            "period": ["2024/25"],
            "area": ["Eastbury"],
            "estimate": [400.0],
            "lower": [320.0],
            "upper": [500.0],
        }
    )
    options = api.GapOptions(prevalence_years=1, substances=("opiate_crack",))
    row = api.gap(treated.assign(substance="opiate_crack"), estimate, options).table.iloc[0]
    assert (row["in_treatment"], row["unmet_need_pct"]) == (160, 60.0)
    assert row["unmet_need_pct_lower"] == pytest.approx(50.0)  # 100 x (1 - 160 / 320)
    assert row["unmet_need_pct_upper"] == pytest.approx(68.0)  # 100 x (1 - 160 / 500)


def test_a_frame_is_validated_as_a_file_is() -> None:
    frame = pd.read_csv(EXTRACT).head(3).assign(sex=["Male", "M", "female"])
    normalised = api._frame_input(frame, "treatment").frame
    assert list(normalised["sex"].astype(str)) == ["male", "male", "female"]
    bad = frame.assign(age_band=["17", "18-24", "18-24"])
    with pytest.raises(ValidationError) as caught:
        api.gap(bad, pd.read_csv(PREVALENCE))
    assert [(f.line, f.column) for f in caught.value.failures] == [(2, "age_band")]  # header = 1


def test_compare_from_frames_is_the_compare_from_files() -> None:
    options = api.CompareOptions(by=("disability", "housing"), within=("substance_cohort",))
    from_files = api.compare({"NDTMS": EXTRACT, "OOTU": OOTU}, options)
    frames = {"NDTMS": pd.read_csv(EXTRACT), "OOTU": pd.read_csv(OOTU)}
    from_frames = api.compare(frames, options)
    pd.testing.assert_frame_equal(from_frames.table, from_files.table)
    assert from_files.cohorts == ("NDTMS", "OOTU")
    # the tidy table's own law: each shown category's count over its group's denominator
    shown = from_files.table.dropna(subset=["count", "denominator", "pct"])
    shown = shown[shown["denominator"] > 0]
    pct = 100 * shown["count"].astype(float) / shown["denominator"].astype(float)
    assert (pct - shown["pct"]).abs().max() < 1e-9


def test_results_audit_as_their_files_do(tmp_path: Path) -> None:
    from unmetneed.outputs.write import write_table

    release = tmp_path / "release"
    gap = api.gap(EXTRACT, PREVALENCE, api.GapOptions(total="All areas"), release=release)
    gap.protected.record()
    options = api.CompareOptions(by=("age", "sex"), within=("area",))
    compared = api.compare({"NDTMS": EXTRACT, "OOTU": OOTU}, options, release=release)
    compared.protected.record()
    in_memory = api.audit([gap, compared], release=release)
    write_table(gap.table, tmp_path / "gap.parquet", meta=gap.meta())
    write_table(compared.table, tmp_path / "compare.parquet", meta=compared.meta())
    from_files = api.audit([tmp_path / "gap.parquet", tmp_path / "compare.parquet"])
    assert in_memory.ok and from_files.ok
    assert len(in_memory.cells) == len(from_files.cells) > 0


def test_suppress_and_anonymise_take_a_path_or_a_frame() -> None:
    counts = SAMPLE / "counts_by_area_sex.csv"
    from unmetneed.disclosure.suppress import SuppressOptions

    options = SuppressOptions(total_row=True)
    by_path = api.suppress_table(counts, options)
    by_frame = api.suppress_table(pd.read_csv(counts), options)
    pd.testing.assert_frame_equal(by_path.table, by_frame.table)
    raw = SAMPLE / "raw_records.csv"
    made = api.anonymise(raw, api.AnonymiseOptions(k=3))
    # read as text, as the command reads a file: pandas reads the religion "None" as missing
    as_text = pd.read_csv(raw, dtype=str, keep_default_na=False)
    again = api.anonymise(as_text, api.AnonymiseOptions(k=3))
    pd.testing.assert_frame_equal(made.extract, again.extract)
    smallest = made.extract.groupby(list(made.quasi), observed=True, dropna=False).size().min()
    assert smallest >= 3
    with pytest.raises(UsageError):
        api.anonymise(pd.read_csv(raw), columns={"area": "Area"})


def test_run_takes_a_config_path(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    result = api.run(SAMPLE / "quarterly.toml", out_dir=tmp_path / "q")
    assert capfd.readouterr() == ("", "")  # a library call prints nothing
    assert result.manifest["period"] == "2024/25"
    assert {o["path"] for o in result.manifest["outputs"]} >= {"gap.parquet", "gap.csv"}


def test_readme_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the README runs as it stands, from the repository."""
    import re

    root = SAMPLE.parents[1]
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 2  # "Using it from Python" and suppress's
    monkeypatch.chdir(root)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_every_command_is_a_function_of_the_package() -> None:
    import unmetneed
    from unmetneed import api

    for name in (
        "gap",
        "compare",
        "suppress_table",
        "audit",
        "anonymise",
        "validate",
        "chart",
        "run",
    ):
        assert getattr(unmetneed, name) is getattr(api, name)
        assert name in unmetneed.__all__


def test_a_bad_option_is_named_on_each_surface(tmp_path: Path) -> None:
    """One OptionError: ``option``, ``value``, ``problem``; Python reads ``k=-1``, the
    command line ``--k -1`` (as it always has), the run config its key."""
    from typer.testing import CliRunner

    from unmetneed.cli import app
    from unmetneed.errors import ConfigError, OptionError
    from unmetneed.runs.config import read_config

    with pytest.raises(OptionError) as caught:
        api.gap(EXTRACT, PREVALENCE, api.GapOptions(total=" "))
    error = caught.value
    assert (error.option, error.value) == ("total", None)
    assert error.problem == "give the total row a name, e.g. total=England"
    assert str(error) == "total: give the total row a name, e.g. total=England"
    assert error.exit_code == 2 and isinstance(error, UsageError)

    args = ["gap", "--treatment", str(EXTRACT), "--prevalence", str(PREVALENCE), "--total", " "]
    said = CliRunner().invoke(app, args)
    assert said.exit_code == 2
    assert said.stderr == "Error: --total: give the total row a name, e.g. --total England\n"

    config = (SAMPLE / "quarterly.toml").read_text().replace('path = "', f'path = "{SAMPLE}/')
    (tmp_path / "q.toml").write_text(config.replace('total = "All areas"', 'total = " "'))
    with pytest.raises(ConfigError) as bad:
        read_config(tmp_path / "q.toml")
    assert bad.value.message == 'gap.total: give the total row a name, e.g. gap.total = "England"'
    assert bad.value.exit_code == 2


def test_an_option_error_keeps_the_text_given() -> None:
    from unmetneed.errors import OptionError
    from unmetneed.spelling import normalise_periods

    with pytest.raises(OptionError) as caught:
        normalise_periods(["last year"])
    assert (caught.value.option, caught.value.value) == ("periods", "last year")
    assert str(caught.value) == (
        "periods='last year': write a financial year like 2019/20 or 2024/25 Q2"
    )
    with pytest.raises(OptionError, match=r"^k=-1: use a whole number >= 0"):
        api.anonymise(SAMPLE / "raw_records.csv", api.AnonymiseOptions(k=-1))
