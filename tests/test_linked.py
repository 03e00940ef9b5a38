"""Linked tables: a gap table and a compare table of the same extract protected together.

The hand case: in Aford, 2 people are in treatment for crack without opiates. The gap table
shows Aford's ``crack`` count; a compare table within area x substance_cohort shows the
NDTMS denominators. Protected one at a time, the compare table suppresses the
crack_no_opiate denominator (2), but ``gap crack - compare opiate_and_crack`` gives it back.
An attacker written here (an LP over the people of every area x drug_group x crack x sex,
independent of ``unmetneed.disclosure``) and the project's ``audit`` both check it.
"""

from __future__ import annotations

import doctest
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from typer.testing import CliRunner

from unmetneed import compare as cmp
from unmetneed import gap, linked
from unmetneed.cli import app
from unmetneed.load import load
from unmetneed.write import read_meta, write_table

PERIOD = "2024/25"
CODES = {"Aford": "E06900101", "Bton": "E06900102"}
GROUPS = ("opiate", "non_opiate_only", "non_opiate_and_alcohol", "alcohol_only")
SEXES = ("male", "female", "other", "not_stated")
# people (male, female) per area x drug_group x crack
PEOPLE = {
    ("Aford", "opiate", False): (10, 10),
    ("Aford", "opiate", True): (5, 5),
    ("Aford", "non_opiate_only", True): (1, 1),  # crack_no_opiate = 2
    ("Aford", "alcohol_only", False): (8, 7),
    ("Aford", "non_opiate_only", False): (6, 6),
    ("Bton", "opiate", False): (12, 13),
    ("Bton", "opiate", True): (4, 4),
    ("Bton", "non_opiate_only", True): (3, 3),
    ("Bton", "alcohol_only", False): (7, 7),
    ("Bton", "non_opiate_only", False): (5, 4),
}
SUBSTANCES = ("opiate_crack", "opiate", "crack")
GAP_OPTIONS = gap.GapOptions(periods=(PERIOD,), substances=SUBSTANCES, total="All areas")
COMPARE_OPTIONS = cmp.CompareOptions(by=("sex",), within=("area", "substance_cohort"))
K = 3


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[pd.DataFrame, object]:
    """The hand-case extract (one row per person) and prevalence, loaded as a run loads them."""
    rows = [
        {
            "period": PERIOD,
            "area": area,
            "area_code": CODES[area],
            "drug_group": group,
            "crack": str(crack).lower(),
            "age_band": "30-34",
            "sex": sex,
        }
        for (area, group, crack), counts in PEOPLE.items()
        for sex, n in zip(("male", "female"), counts, strict=True)
        for _ in range(n)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "extract.csv", index=False)
    prevalence = [
        {
            "area": area,
            "area_code": code,
            "period": PERIOD,
            "substance": s,
            "estimate": est,
            "lower": est - 50,
            "upper": est + 50,
        }
        for area, code in CODES.items()
        for s, est in zip(SUBSTANCES, (300, 250, 120), strict=True)
    ]
    pd.DataFrame(prevalence).to_csv(tmp_path / "prevalence.csv", index=False)
    extract = load(tmp_path / "extract.csv", "treatment").frame
    return extract, load(tmp_path / "prevalence.csv", "prevalence")


def protect_linked(
    extract: pd.DataFrame, prevalence: object
) -> tuple[gap.GapResult, cmp.Comparison, linked.Linked, dict[str, dict[str, object]]]:
    """Both tables protected together, as ``run`` does; with each file's disclosure block."""
    g = gap.prepare(extract, prevalence, GAP_OPTIONS)
    c = cmp.prepare({"NDTMS": extract}, COMPARE_OPTIONS)
    parts = [
        linked.Part("gap", g.cells, g.members),
        linked.Part("compare-x", c.cells, c.members("NDTMS")),
    ]
    structure = linked.link(extract, parts)
    protection = structure.protect(g.policy)
    g_slice = linked.sliced(structure, protection, "gap")
    c_slice = linked.sliced(structure, protection, "compare-x")
    gap_result, comparison = g.finish(g_slice), c.finish(c_slice)
    protection.derived.update({"gap": g_slice.derived[""], "compare-x": c_slice.derived[""]})
    metas = {name: structure.meta(protection, name) for name in ("gap", "compare-x")}
    return gap_result, comparison, structure, metas


# --- an attacker of its own: an LP over the people of each area x group x crack x sex --------


def _grid() -> pd.DataFrame:
    """Every area x drug_group x crack x sex: one unknown count of people each."""
    index = pd.MultiIndex.from_product(
        [list(CODES), GROUPS, [False, True], SEXES], names=["area", "group", "crack", "sex"]
    )
    grid = index.to_frame(index=False)
    opiate = grid["group"] == "opiate"
    non_opiate = grid["group"].isin(["non_opiate_only", "non_opiate_and_alcohol"])
    cohort = np.select(
        [opiate & ~grid["crack"], opiate & grid["crack"], non_opiate & grid["crack"]],
        ["opiate_no_crack", "opiate_and_crack", "crack_no_opiate"],
        default="other_non_opiate",
    )
    cohort = np.where(grid["group"] == "alcohol_only", "alcohol_only", cohort)
    return grid.assign(
        cohort=cohort,
        opiate_crack=opiate | grid["crack"],
        opiate=opiate,
    )


def published(gap_table: pd.DataFrame, compare_table: pd.DataFrame) -> list[tuple[str, object]]:
    """Each published count of both tables as (where, (mask over the grid, value or NaN))."""
    grid = _grid()
    out: list[tuple[str, object]] = []
    for row in gap_table.itertuples():
        in_area = grid["area"].isin(list(CODES) if row.area == "All areas" else [row.area])
        mask = in_area & grid[row.substance].astype(bool)
        out.append((f"gap {row.area} {row.substance}", (mask.to_numpy(), row.in_treatment)))
    for row in compare_table.itertuples():
        group = (grid["area"] == row.area) & (grid["cohort"] == row.substance_cohort)
        where = f"compare {row.area} {row.substance_cohort}"
        out.append((f"{where} denominator", (group.to_numpy(), row.denominator)))
        count = group & (grid["sex"] == row.category)
        out.append((f"{where} {row.category}", (count.to_numpy(), row.count)))
    return out


def attack(gap_table: pd.DataFrame, compare_table: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """The [min, max] an attacker who sees both tables gets for every suppressed count
    (people; shown counts are exact, suppressed ones at least 1, every count >= 0)."""
    cells = published(gap_table, compare_table)
    shown = [(m, float(v)) for _, (m, v) in cells if not pd.isna(v)]  # type: ignore[misc]
    hidden = {w: m for w, (m, v) in cells if pd.isna(v)}  # type: ignore[misc]
    a_eq = np.array([m for m, _ in shown], dtype=float)
    b_eq = np.array([v for _, v in shown])
    a_ub = -np.array(list(hidden.values()), dtype=float)
    b_ub = -np.ones(len(hidden))
    out = {}
    for where, mask in hidden.items():
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(
                sign * mask.astype(float), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                bounds=(0, None), method="highs",
            )  # fmt: skip
            ends.append(sign * res.fun if res.status == 0 else np.inf)
        out[where] = (ends[0], ends[1])
    return out


def narrowest(found: dict[str, tuple[float, float]]) -> tuple[str, float]:
    """The suppressed count the attacker narrows most, and its interval's width."""
    where = min(found, key=lambda w: found[w][1] - found[w][0])
    return where, found[where][1] - found[where][0]


# --- the tests --------------------------------------------------------------------------------


def test_doctests() -> None:
    assert doctest.testmod(linked).failed == 0


def test_members_are_exactly_the_people_of_each_cell(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    g = gap.prepare(extract, prevalence, GAP_OPTIONS)
    c = cmp.prepare({"NDTMS": extract}, COMPARE_OPTIONS)
    n_gap = len(g.cells.placements[0].cells)
    per_gap = np.bincount(g.members["cell"], minlength=len(g.cells.values))[:n_gap]
    assert per_gap.tolist() == g.cells.values[:n_gap].tolist()
    per_compare = np.bincount(c.members("NDTMS")["cell"], minlength=len(c.cells.values))
    assert per_compare.tolist() == c.cells.values.tolist()


def test_every_gap_count_and_compare_denominator_is_linked(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    *_, structure, _ = protect_linked(extract, prevalence)
    assert structure.n_atoms == len(PEOPLE)
    atoms_from = structure.offsets["compare-x"] + len(
        cmp.prepare({"NDTMS": extract}, COMPARE_OPTIONS).cells.values
    )
    tied = {t for t, parts in structure.cells.relations if min(parts) >= atoms_from}
    gap_cells = set(structure.ids("gap")[:9].tolist())  # 2 areas + total, x 3 substances
    assert gap_cells <= tied
    # 10 non-empty cohort groups; a sex count is never a whole atom here (both sexes in each)
    assert len(tied) - len(gap_cells) == len(PEOPLE)
    assert not structure.cells.check_relations()


def test_protected_one_at_a_time_the_small_count_is_given_away(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    gap_alone = gap.compute(extract, prevalence, GAP_OPTIONS).table
    compare_alone = cmp.compare({"NDTMS": extract}, COMPARE_OPTIONS).table
    found = attack(gap_alone, compare_alone)
    low, high = found["compare Aford crack_no_opiate denominator"]
    assert (low, high) == pytest.approx((2.0, 2.0))


def test_protected_together_no_count_is_given_away(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    gap_result, comparison, *_ = protect_linked(extract, prevalence)
    found = attack(gap_result.table, comparison.table)
    assert "compare Aford crack_no_opiate denominator" in found
    where, width = narrowest(found)
    assert width >= K - 1e-6, where
    shown = comparison.table["count"].dropna().to_numpy(dtype=int)
    assert not ((shown >= 1) & (shown <= K)).any()


def _audit(*paths: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", *map(str, paths)])
    return result.exit_code, result.stdout + result.stderr


def test_linked_files_pass_audit_together_and_not_alone(inputs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    gap_result, comparison, _, metas = protect_linked(extract, prevalence)
    gap_path = write_table(
        gap_result.table,
        tmp_path / "gap.parquet",
        {**gap_result.meta(), "disclosure": metas["gap"]},
    )
    compare_path = write_table(
        comparison.table,
        tmp_path / "compare-x.parquet",
        {**comparison.meta(), "disclosure": metas["compare-x"]},
    )
    code, said = _audit(gap_path, compare_path)
    assert code == 0, said
    code, said = _audit(gap_path)
    assert code == 2 and "audit them together" in said


def test_audit_catches_the_leak_when_the_files_are_linked_but_protected_apart(
    inputs,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    extract, prevalence = inputs
    _, _, _, metas = protect_linked(extract, prevalence)  # the linked structure only
    gap_alone = gap.compute(extract, prevalence, GAP_OPTIONS).table
    compare_alone = cmp.compare({"NDTMS": extract}, COMPARE_OPTIONS).table
    paths = [
        write_table(gap_alone, tmp_path / "gap.parquet", {"disclosure": metas["gap"]}),
        write_table(
            compare_alone, tmp_path / "compare-x.parquet", {"disclosure": metas["compare-x"]}
        ),
    ]
    code, said = _audit(*paths)
    assert code == 4, said
    assert "crack_no_opiate" in said


# --- the sample quarterly run -----------------------------------------------------------------

SAMPLE_FILES = ("raw_records.csv", "cohort_ootu.csv", "prevalence.csv", "quarterly.toml")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample quarterly run's output folder."""
    world = tmp_path_factory.mktemp("world")
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    for name in SAMPLE_FILES:
        shutil.copy(sample / name, world / name)
    args = ["run", str(world / "quarterly.toml"), "--out-dir", str(world / "out"), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return world / "out"


def test_sample_run_outputs_pass_audit_together(sample_run: Path) -> None:
    tables = sorted(p for p in sample_run.glob("*.parquet") if p.stem != "extract")
    assert [p.stem for p in tables][-1] == "gap" and len(tables) >= 3
    code, said = _audit(*tables)
    assert code == 0, said
    csvs = [p.with_suffix(".csv") for p in tables]
    code, said = _audit(*csvs)
    assert code == 0, said


def test_sample_run_tables_are_written_as_linked(sample_run: Path) -> None:
    tables = [p for p in sample_run.glob("*.parquet") if p.stem != "extract"]
    metas = {p.stem: read_meta(p)["disclosure"] for p in tables}  # type: ignore[index]
    names = sorted(metas)
    assert all(m["table"] == name and sorted(m["tables"]) == names for name, m in metas.items())
    assert len({m["structure_id"] for m in metas.values()}) == 1
    placed = {p["column"] for m in metas.values() for p in m["placements"]}
    assert not any(linked.ATOMS_COLUMN in c or linked.PARTS_COLUMN in c for c in placed)
    manifest = json.loads((sample_run / "manifest.json").read_text())
    assert any("protected together as linked tables" in r for r in manifest["remarks"])


def test_sample_run_tables_keep_their_pinned_columns(sample_run: Path) -> None:
    gap_table = pd.read_parquet(sample_run / "gap.parquet")
    assert tuple(gap_table.columns[: len(gap.COLUMNS)]) == gap.COLUMNS
    for path in sample_run.glob("compare-*.parquet"):
        table = pd.read_parquet(path)
        within = read_meta(path)["options"]["within"]  # type: ignore[index]
        pinned = ("cohort", *within, *cmp.PINNED_TAIL)
        assert tuple(table.columns[: len(pinned)]) == pinned, path.name
        lost = table["count"].isna() | table["denominator"].isna()
        assert table.loc[lost, "suppressed"].all() and table.loc[lost, "pct"].isna().all()
