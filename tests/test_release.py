"""Releases: tables of the same people protected together, in one run or across commands.

The hand case: in Aford, 2 people are in treatment for crack without opiates. The gap table
shows Aford's ``crack`` count; a compare table within area x substance_cohort shows the
NDTMS denominators. Protected one at a time, the compare table suppresses the
crack_no_opiate denominator (2), but ``gap crack - compare opiate_and_crack`` gives it back.
An attacker written here (an LP over the people of every area x drug_group x crack x sex,
independent of ``unmetneed.disclosure``) and the project's ``audit`` both check it.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.disclosure import Cells, Policy, register, release
from unmetneed.disclosure.release import Def, protect_pieces, sliced
from unmetneed.inputs.load import load
from unmetneed.tables import compare as cmp
from unmetneed.tables import gap

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
# the hand case has one estimate year (the default is now 3: contract 4.1)
GAP_OPTIONS = gap.GapOptions(
    periods=(PERIOD,), substances=SUBSTANCES, total="All areas", prevalence_years=1
)
COMPARE_OPTIONS = cmp.CompareOptions(by=("sex",), within=("area", "substance_cohort"))
K = 3
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The hand-case extract (one row per person) and prevalence as CSV files."""
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
    return tmp_path / "extract.csv", tmp_path / "prevalence.csv"


@pytest.fixture
def inputs(files: tuple[Path, Path]) -> tuple[pd.DataFrame, object]:
    """The hand case loaded as a run loads it."""
    extract, prevalence = files
    return load(extract, "treatment").frame, load(prevalence, "prevalence")


def protect_together(
    extract: pd.DataFrame, prevalence: object
) -> tuple[gap.GapResult, cmp.Comparison]:
    """Both tables protected together as one release, as ``run`` does."""
    g = gap.prepare(extract, prevalence, GAP_OPTIONS)
    c = cmp.prepare({"NDTMS": extract}, COMPARE_OPTIONS)
    pieces = [g.piece("P"), c.piece("compare-x", {"NDTMS": "P"})]
    rel, protection = protect_pieces(pieces, {"P": extract}, g.policy)
    return (
        g.finish(sliced(rel, protection, "gap")),
        c.finish(sliced(rel, protection, "compare-x")),
    )


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
    return grid.assign(cohort=cohort, opiate_crack=opiate | grid["crack"], opiate=opiate)


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
    (people; shown counts exact, every count >= 0; a suppressed count is >= 1 unless it is
    a category of a group whose size is suppressed: the tool suppresses zeros there)."""
    cells = published(gap_table, compare_table)
    shown = [(m, float(v)) for _, (m, v) in cells if not pd.isna(v)]  # type: ignore[misc]
    hidden = {w: m for w, (m, v) in cells if pd.isna(v)}  # type: ignore[misc]
    hidden_groups = {w.rsplit(" ", 1)[0] for w in hidden if w.endswith(" denominator")}
    floors = [
        0.0 if not w.endswith("denominator") and w.rsplit(" ", 1)[0] in hidden_groups else 1.0
        for w in hidden
    ]
    a_eq = np.array([m for m, _ in shown], dtype=float)
    b_eq = np.array([v for _, v in shown])
    a_ub = -np.array(list(hidden.values()), dtype=float)
    b_ub = -np.asarray(floors)
    out = {}
    for where, mask in hidden.items():
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(
                sign * mask.astype(float), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                bounds=(0, None), method="highs",
            )  # fmt: skip
            assert res.status in (0, 3), "the true table must fit what the attacker knows"
            ends.append(sign * res.fun if res.status == 0 else np.inf)
        out[where] = (ends[0], ends[1])
    return out


def narrowest(found: dict[str, tuple[float, float]]) -> tuple[str, float]:
    """The suppressed count the attacker narrows most, and its interval's width."""
    where = min(found, key=lambda w: found[w][1] - found[w][0])
    return where, found[where][1] - found[where][0]


def cli(*args: object) -> tuple[int, str]:
    """The command; gap with --prevalence-years 1 (the hand case has one estimate year)."""
    if args and args[0] == "gap" and "--prevalence-years" not in args:
        args = (*args, "--prevalence-years", "1")
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout + result.stderr


# --- the tests --------------------------------------------------------------------------------


def test_doctests() -> None:
    assert doctest.testmod(release).failed == 0


def test_every_cell_is_the_sum_of_the_people_it_describes(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    g = gap.prepare(extract, prevalence, GAP_OPTIONS)
    c = cmp.prepare({"NDTMS": extract}, COMPARE_OPTIONS)
    pieces = [g.piece("P"), c.piece("compare-x", {"NDTMS": "P"})]
    rel = release.assemble(pieces)
    release.count_atoms(rel, {"P": extract}, None)  # raises if any cell disagrees
    assert not rel.cells.check_relations()
    # the gap's Aford crack cell and compare's Aford crack_no_opiate + opiate_and_crack
    # denominators are sums of the same separator atoms: 10 + 2 = 12 people
    crack = Def.of(
        "P",
        {
            "period": [PERIOD],
            "area": ["Aford"],
            "dgc": [f"{g}|yes" for g in (*GROUPS, "not_stated")],
        },
    )
    assert rel.cells.values[rel.defs.index(crack)] == 12


def test_protected_one_at_a_time_the_small_count_is_given_away(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    gap_alone = gap.compute(extract, prevalence, GAP_OPTIONS).table
    compare_alone = cmp.compare({"NDTMS": extract}, COMPARE_OPTIONS).table
    found = attack(gap_alone, compare_alone)
    low, high = found["compare Aford crack_no_opiate denominator"]
    assert low >= 1 and high - low < K  # gap crack - compare opiate_and_crack: 1 or 2


def test_protected_together_no_count_is_given_away(inputs) -> None:  # type: ignore[no-untyped-def]
    extract, prevalence = inputs
    gap_result, comparison = protect_together(extract, prevalence)
    found = attack(gap_result.table, comparison.table)
    assert "compare Aford crack_no_opiate denominator" in found
    where, width = narrowest(found)
    assert width >= K - 1e-6, where
    shown = comparison.table["count"].dropna().to_numpy(dtype=int)
    assert not ((shown >= 1) & (shown <= K)).any()


def test_separate_commands_with_one_release_are_protected_together(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    extract, prevalence = files
    rel = tmp_path / "release"
    code, said = cli(
        "gap", "--treatment", extract, "--prevalence", prevalence, "--period", PERIOD,
        *[x for s in SUBSTANCES for x in ("--substance", s)], "--total", "All areas",
        "--release", rel, "--out", tmp_path / "gap.parquet",
    )  # fmt: skip
    assert code == 0, said
    assert "protected on its own only" not in said
    code, said = cli(
        "compare", "--cohort", f"NDTMS={extract}", "--by", "sex", "--within", "area",
        "--within", "substance_cohort", "--release", rel, "--out", tmp_path / "cmp.parquet",
    )  # fmt: skip
    assert code == 0, said
    found = attack(
        pd.read_parquet(tmp_path / "gap.parquet"), pd.read_parquet(tmp_path / "cmp.parquet")
    )
    where, width = narrowest(found)
    assert width >= K - 1e-6, where
    earlier, policy = register.read(rel)
    assert [p.name for p in earlier] == ["gap@0", "compare@1"] and policy == Policy.named(k=3)
    code, said = cli("audit", tmp_path / "gap.parquet", tmp_path / "cmp.parquet")
    assert code == 0, said
    code, said = cli("audit", "--release", rel)
    assert code == 0, said


def test_without_a_release_a_command_says_its_table_stands_alone(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    extract, prevalence = files
    code, said = cli("gap", "--treatment", extract, "--prevalence", prevalence)
    assert code == 0 and said.count("protected on its own only") == 1


def test_audit_catches_tables_of_one_extract_protected_apart(inputs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from unmetneed.outputs.write import write_table

    extract, prevalence = inputs
    g = gap.compute(extract, prevalence, GAP_OPTIONS)
    c = cmp.compare({"NDTMS": extract}, COMPARE_OPTIONS)
    paths = [
        write_table(g.table, tmp_path / "gap.parquet", g.meta()),
        write_table(c.table, tmp_path / "cmp.parquet", c.meta()),
    ]
    for path in paths:  # each alone is safe
        code, said = cli("audit", path)
        assert code == 0, said
    code, said = cli("audit", *paths)  # together: the same people, the difference shows
    assert code == 4, said
    assert "crack_no_opiate" in said or "narrowed below 3" in said


def test_a_release_refuses_other_data_for_the_same_people(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    extract, prevalence = files
    rel = tmp_path / "release"
    code, said = cli("gap", "--treatment", extract, "--prevalence", prevalence, "--release", rel)
    assert code == 0, said
    code, said = cli(
        "gap", "--treatment", extract, "--prevalence", prevalence, "--release", rel, "--k", "5"
    )
    assert code == 2 and "policy" in said


def test_a_damaged_register_is_exit_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    extract, prevalence = files
    rel = tmp_path / "release"
    rel.mkdir()
    (rel / "register.json").write_text('{"tables": [{"table": "x"}]}')
    code, said = cli("gap", "--treatment", extract, "--prevalence", prevalence, "--release", rel)
    assert code == 2 and "register" in said and "Traceback" not in said


def test_a_counts_file_is_one_population_for_compare_and_gap(tmp_path: Path) -> None:
    """compare with a counts file as its cohort, then gap on the same file, one --release:
    the red team recovered gap's hidden counts when compare filed the people as a cohort
    (each row one person) and gap as treatment (each row `count` people)."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    records = pd.read_csv(sample / "extract.csv")
    records = records[records["period"] == records["period"].max()]
    keys = ["period", "area", "drug_group", "crack"]
    counts = records.groupby(keys, dropna=False).size().rename("count").reset_index()
    path = tmp_path / "counts.csv"
    counts.to_csv(path, index=False)
    rel = tmp_path / "release"
    runner = CliRunner()
    args = ["compare", "--cohort", f"NDTMS={path}", "--by", "substance_cohort"]
    args += ["--within", "area", "--release", str(rel), "--out", str(tmp_path / "c.csv")]
    assert runner.invoke(app, args).exit_code == 0
    args = ["gap", "--treatment", str(path), "--prevalence", str(sample / "prevalence.csv")]
    args += ["--release", str(rel), "--out", str(tmp_path / "g.csv")]
    assert runner.invoke(app, args).exit_code == 0
    earlier, _ = register.read(rel)
    names = {d.pop for piece in earlier for d in piece.defs if d is not None}
    assert len(names) == 1 and next(iter(names)).startswith("treatment:")


def test_a_cell_is_described_by_its_table_row_and_what_it_counts_never_its_value() -> None:
    from unmetneed.disclosure import Cells
    from unmetneed.disclosure.release import Def, Piece, assemble, describe

    cells = Cells([9, 2, 7])
    cells.add_relation(0, [1, 2])
    cells.place("count", np.arange(3), np.arange(3))
    where = {"area": {"Eastbury"}, "sex": {"other"}}
    pop = "cohort:x"
    defs = (Def.of(pop, {"area": {"Eastbury"}}), Def.of(pop, where), None)
    release = assemble([Piece("sex-by-area", cells, defs)])
    two = int(release.ids["sex-by-area"][1])
    assert describe(release, two) == "sex-by-area row 2 (count: area=Eastbury, sex=other)"


@pytest.mark.parametrize("parquet", [False, True])
def test_distinct_labels_are_the_labels(tmp_path: Path, parquet: bool) -> None:
    """Counting atoms by codes gives each row the label it had as text: the sample extract
    with a missing area, drug group and crack flag, as read from CSV and from Parquet."""
    frame = load(SAMPLE / "extract.csv", kind="treatment").frame
    if parquet:
        frame.to_parquet(tmp_path / "x.parquet")
        frame = pd.read_parquet(tmp_path / "x.parquet").copy(deep=True)
    frame = frame.astype({"crack": "boolean"})
    frame.loc[[3, 4], ["area", "drug_group", "crack"]] = None
    for variable in ("area", "period", "dgc", "drug_group", "age_band", "sex", "housing",
                     "disability_learning", "col:area", "absent"):  # fmt: skip
        for rows in (frame, frame[frame["period"] == "2024/25"]):  # categories unused
            names, codes = release.distinct_labels(rows, variable)
            text = release.labels(rows, variable)
            assert (names[codes] == text).all(), variable
            assert sorted(names) == sorted(pd.unique(text)), variable


def test_a_range_published_elsewhere_is_not_narrowed() -> None:
    """A counts file published a '*' (1..4) for Aford's opiate users with crack (truly 4).
    A new table shows S = opiate (4 with crack + 4 without) = 8 (a public total: always
    shown), V = without crack or non-opiate with crack (4 + 1) = 5, and the two parts of
    V. The 1 is small; hiding it and its complement (4) leaves them wide unless the
    attacker knows the '*' is at most 4: then 8 - 4 <= c pins c = 4 and the small count 1
    (V must be hidden too). An LP over the three groups, with the '*' in 1..4, finds every
    hidden count at least 3 wide."""
    codes = ["opiate|yes", "opiate|no", "non_opiate_only|yes"]
    people = [4, 4, 1]
    rows = [c.split("|") for c, n in zip(codes, people, strict=True) for _ in range(n)]
    frame = pd.DataFrame(
        {
            "period": PERIOD,
            "area": "Aford",
            "drug_group": [g for g, _ in rows],
            "crack": pd.array([c == "yes" for _, c in rows], dtype="boolean"),
        }
    )

    def cell(*which: int) -> Def:
        return Def.of(
            "P", {"period": [PERIOD], "area": ["Aford"], "dgc": [codes[i] for i in which]}
        )

    star = release.Piece(
        "counts.csv",
        Cells(np.array([4])),
        (cell(0),),
        shown=np.array([np.nan]),
        bounds=((0, 1, 4),),
    )
    shows = [(0, 1), (1, 2), (1,), (2,)]  # S, V, and V's parts
    values = np.array([sum(people[i] for i in s) for s in shows])
    cells = Cells(values)
    cells.place("count", np.arange(4), np.arange(4))
    new = release.Piece("table", cells, tuple(cell(*s) for s in shows), public=(0,))
    rel, protection = protect_pieces([new], {"P": frame}, Policy.named(k=3), [star])
    shown = sliced(rel, protection, "table").shown
    lo = [1.0, 0.0, 0.0]
    eq_a = [[float(i in s) for i in range(3)] for s, v in zip(shows, shown, strict=True) if v == v]
    eq_b = [v for v in shown if v == v]
    truth = np.asarray(people, dtype=float)
    assert np.allclose(np.asarray(eq_a).reshape(-1, 3) @ truth, eq_b), "parse: the truth breaks"
    hidden = [i for i, v in enumerate(shown) if v != v]
    for i in hidden:  # a hidden count of the table is at least 1 (zeros are shown)
        if len(shows[i]) == 1:
            lo[shows[i][0]] = 1.0
    bounds = [(lo[0], 4.0), (lo[1], None), (lo[2], None)]
    narrow = []
    for what in [(0,), *(shows[i] for i in hidden)]:
        c = np.asarray([float(j in what) for j in range(3)])
        args = {"A_eq": np.asarray(eq_a).reshape(-1, 3), "b_eq": eq_b} if eq_b else {}
        low = linprog(c, bounds=bounds, method="highs", **args)
        high = linprog(-c, bounds=bounds, method="highs", **args)
        assert low.status == 0 and high.status in (0, 3)  # 3: unbounded above
        top = np.inf if high.status == 3 else -high.fun
        if top - low.fun < 3 - 1e-6:
            narrow.append(f"{[codes[j] for j in what]}: {low.fun:g}..{top:g}")
    assert not narrow, f"shown {shown.tolist()}; narrowed: {narrow}"
