"""Lean protection: cheap inner complements before totals, pruning that stays safe, public
totals and the restricted explanation.

The attacker here is written apart from ``unmetneed.disclosure``: it builds the relations
of a long table with ``Total`` rows from the rows' labels (pandas) and solves one dense
``scipy.optimize.linprog`` per bound; hidden counts are at least 1, except in a group whose
size is hidden (the published remark: its zeros are hidden too).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from unmetneed.disclosure import Policy
from unmetneed.disclosure.prune import prune
from unmetneed.disclosure.suppress import SuppressOptions, suppress_table
from unmetneed.disclosure.tables import cube
from unmetneed.errors import DisclosureError, UsageError

TOTAL = "Total"


def long_table(inner: np.ndarray, dims: tuple[str, ...]) -> pd.DataFrame:
    """``inner`` (counts, people) with every margin as a long table with Total rows."""
    full = inner.astype(np.int64)
    for axis in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    sizes = zip(dims, full.shape, strict=True)
    labels = [[*(f"{d}{i}" for i in range(n - 1)), TOTAL] for d, n in sizes]
    index = pd.MultiIndex.from_product(labels, names=list(dims))
    return pd.DataFrame({"count": full.ravel()}, index=index).reset_index()


def relations(frame: pd.DataFrame, dims: tuple[str, ...]) -> np.ndarray:
    """Dense ``A`` with ``A @ counts == 0``: each Total row is the sum of the rows that
    differ from it only in that dimension (not Total there)."""
    key = {tuple(r): i for i, r in enumerate(frame[list(dims)].itertuples(index=False))}
    rows = []
    for i, labels in enumerate(frame[list(dims)].itertuples(index=False)):
        for d, label in enumerate(labels):
            if label != TOTAL:
                continue
            row = np.zeros(len(frame))
            row[i] = -1.0
            for other in frame[dims[d]].unique():
                if other != TOTAL:
                    row[key[(*labels[:d], other, *labels[d + 1 :])]] = 1.0
            rows.append(row)
    return np.array(rows)


def may_be_zero(frame: pd.DataFrame, hidden: np.ndarray, dims: tuple[str, ...]) -> np.ndarray:
    """Rows in a group whose size is suppressed (for some dimension where the row is not
    Total, the row with Total there is hidden): the remark says a suppressed count there
    may be 0 (its group's zeros are suppressed too)."""
    key = {tuple(r): i for i, r in enumerate(frame[list(dims)].itertuples(index=False))}
    out = np.zeros(len(frame), dtype=bool)
    for i, labels in enumerate(frame[list(dims)].itertuples(index=False)):
        sizes = [
            key[(*labels[:d], TOTAL, *labels[d + 1 :])]
            for d, label in enumerate(labels)
            if label != TOTAL
        ]
        out[i] = bool(sizes) and bool(hidden[sizes].any())
    return out


def widths(frame: pd.DataFrame, shown: pd.Series, dims: tuple[str, ...]) -> np.ndarray:
    """The attacker's ``max - min`` (whole people) for every suppressed row of ``shown``:
    a suppressed count is at least 1, or 0 in a group whose size is suppressed."""
    a = relations(frame, dims)
    hidden = shown.isna().to_numpy()
    value = shown.to_numpy(dtype=float, na_value=0.0)
    least = np.where(may_be_zero(frame, hidden, dims), 0, 1)
    bounds = [(m, None) if h else (v, v) for h, v, m in zip(hidden, value, least, strict=True)]
    out = []
    for c in np.flatnonzero(hidden).tolist():
        cost = np.zeros(len(frame))
        cost[c] = 1.0
        low = linprog(cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        high = linprog(-cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        assert low.status == 0, "the true table must fit what is published"
        top = np.inf if high.status == 3 else np.floor(-high.fun + 1e-6)
        out.append(top - np.ceil(low.fun - 1e-6))
    return np.array(out)


def test_a_cheap_inner_cell_is_chosen_over_the_total() -> None:
    """Parts 2, 100, 5 of a total 107: the 2 needs one more hidden part. The 5 can move down
    by 3 (to 2; hidden counts are at least 1) and hides 5 people; the 100 hides 100, the
    total 107 and it is a margin. So exactly the 2 and the 5 are hidden."""
    frame = pd.DataFrame({"sex": ["a", "b", "c", TOTAL], "count": [2, 100, 5, 107]})
    done = suppress_table(frame, SuppressOptions(total_row=True))
    assert done.table["suppressed"].tolist() == [True, False, True, False]
    assert (widths(frame, done.table["count"], ("sex",)) >= 3).all()


def test_inner_cells_protect_a_small_count_rather_than_margins() -> None:
    """Rows r1 = 2, 50, 60 and r2 = 40, 45, 30 with every margin. The 2 is protected by a
    2 x 2 cycle of inner cells (its row, its column and one more: 95 or 130 people); any
    pattern through a margin hides a total (90 people or more, and margins cost a thousand
    times more). So no margin is hidden and exactly three inner cells join the 2."""
    frame = long_table(np.array([[2, 50, 60], [40, 45, 30]]), ("r", "c"))
    done = suppress_table(frame, SuppressOptions(total_row=True))
    hidden = done.table["suppressed"].to_numpy()
    margin = ((frame["r"] == TOTAL) | (frame["c"] == TOTAL)).to_numpy()
    assert not (hidden & margin).any()
    assert hidden.sum() == 4
    rows, cols = frame.loc[hidden, "r"], frame.loc[hidden, "c"]
    assert rows.value_counts().tolist() == [2, 2] and cols.value_counts().tolist() == [2, 2]
    assert (widths(frame, done.table["count"], ("r", "c")) >= 3).all()


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
tables_3d = st.tuples(st.integers(2, 4), st.integers(2, 3), st.integers(2, 2)).flatmap(
    lambda shape: st.lists(
        st.integers(1, 14), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
    ).map(lambda v: np.array(v).reshape(shape))
)


@SETTINGS
@given(tables_3d)
def test_suppressed_tables_stay_safe_against_an_independent_attacker(inner: np.ndarray) -> None:
    """Law: after the pruning every suppressed count of a 3-way table with margins keeps an
    attacker interval of at least 3 people, and no count of 1..3 is shown."""
    dims = ("area", "age", "sub")
    frame = long_table(inner, dims)
    done = suppress_table(frame, SuppressOptions(total_row=True))
    shown = done.table["count"]
    small = frame["count"].between(1, 3).to_numpy()
    assert shown[small].isna().all()
    if shown.isna().any():
        assert widths(frame, shown, dims).min() >= 3


@SETTINGS
@given(tables_3d)
def test_pruning_alone_keeps_every_small_count_wide(inner: np.ndarray) -> None:
    """Law: ``prune`` started from every cell hidden (safe whenever a relation has two
    cells) keeps each small count's attacker interval at least 3 wide, whatever it shows
    again: checked without the release's later rounds, by the independent attacker."""
    cells, _ = cube(inner)
    values = cells.values
    small = Policy.named(k=3).primary(values)
    if not small.any():
        return
    hidden = np.ones(len(values), bool)
    floor = np.ones(len(values))
    weight = np.ones(len(values))
    kept, wide, _ = prune(
        cells.matrix(), values, hidden, hidden, floor, np.flatnonzero(small), ~small, weight, 3.0
    )
    assert kept[small].all() and (wide <= kept).all()
    full = inner
    for axis in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    dims = ("area", "age", "sub")
    frame = long_table(inner, dims)
    assert frame["count"].tolist() == full.ravel().tolist() == values.tolist()
    shown = frame["count"].astype("Float64").where(~kept)
    got = widths(frame, shown, dims)
    assert got[np.flatnonzero(small[kept])].min() >= 3


def test_public_totals_are_never_hidden() -> None:
    """The 2 of the first example with the 5 declared public: the 5 may not be hidden, so
    another cell protects the 2 (the 100, the cheapest left); the 5 is shown."""
    frame = pd.DataFrame({"sex": ["a", "b", "c", TOTAL], "count": [2, 100, 5, 107]})
    options = SuppressOptions(total_row=True, public=("sex=c",))
    done = suppress_table(frame, options)
    assert done.table["suppressed"].tolist() == [True, True, False, False]
    assert (widths(frame, done.table["count"], ("sex",)) >= 3).all()


def test_a_public_total_that_is_small_is_refused() -> None:
    frame = pd.DataFrame({"sex": ["a", "b", "c", TOTAL], "count": [2, 100, 5, 107]})
    with pytest.raises(DisclosureError, match="1..3"):
        suppress_table(frame, SuppressOptions(total_row=True, public=("sex=a",)))


@pytest.mark.parametrize("spec", ["sex", "sex=z", "colour=red"])
def test_a_public_spec_naming_no_row_is_a_usage_error(spec: str) -> None:
    frame = pd.DataFrame({"sex": ["a", "b", TOTAL], "count": [20, 10, 30]})
    with pytest.raises(UsageError, match="--public"):
        suppress_table(frame, SuppressOptions(total_row=True, public=(spec,)))


def test_public_area_total_defaults_other_dimensions_to_total() -> None:
    """``area=area0`` in an area x age table with Total rows names the row (area0, Total)."""
    frame = long_table(np.array([[2, 30, 40], [20, 25, 35]]), ("area", "age"))
    done = suppress_table(frame, SuppressOptions(total_row=True, public=("area=area0",)))
    at = ((frame["area"] == "area0") & (frame["age"] == TOTAL)).to_numpy()
    assert not done.table.loc[at, "suppressed"].any()


def test_the_register_explains_each_hidden_cell_and_the_table_does_not(tmp_path: Path) -> None:
    """The first example into a release: the register says the 2 is primary and the 5
    protects it (row 1); the published table says neither."""
    frame = pd.DataFrame({"sex": ["a", "b", "c", TOTAL], "count": [2, 100, 5, 107]})
    done = suppress_table(frame, SuppressOptions(total_row=True), release=tmp_path)
    done.protected.record()
    entry = json.loads((tmp_path / "register.json").read_text())["tables"][0]
    assert entry["why"] == [
        {"at": "suppress:count row 1", "why": "primary"},
        None,
        {"at": "suppress:count row 3", "why": ["suppress:count row 1"]},
        None,
    ]
    published = json.dumps(done.meta) + done.table.to_csv()
    assert "primary" not in published and "why" not in published


def test_audit_explain_prints_the_register(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from unmetneed.cli import app

    frame = pd.DataFrame({"sex": ["a", "b", "c", TOTAL], "count": [2, 100, 5, 107]})
    suppress_table(frame, SuppressOptions(total_row=True), release=tmp_path).protected.record()
    result = CliRunner().invoke(app, ["audit", "--explain", "--release", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "primary" in result.output and "protects: suppress:count row 1" in result.output


def test_a_run_config_declares_public_totals(tmp_path: Path) -> None:
    """``public`` under ``[gap]`` and a ``[[compare]]`` is read as given; a malformed one
    names its key (exit 2)."""
    from test_config import GOOD, write
    from unmetneed.errors import ConfigError
    from unmetneed.runs.config import read_config

    text = GOOD.replace('total = "All areas"', 'total = "All areas"\npublic = ["area=Eastbury"]')
    text = text.replace('within = ["area"]', 'within = ["area"]\npublic = ["cohort=OOTU"]')
    config = read_config(write(tmp_path, text))
    assert config.gap is not None and config.gap.options.public == ("area=Eastbury",)
    assert config.compare[0].options.public == ("cohort=OOTU",)
    bad = GOOD.replace('total = "All areas"', 'total = "All areas"\npublic = ["Eastbury"]')
    with pytest.raises(ConfigError, match="gap.public") as info:
        read_config(write(tmp_path, bad))
    assert info.value.exit_code == 2


def test_a_complement_the_pruning_never_saw_gets_its_reason() -> None:
    """The first example with the pruning's reasons lost for the 5 (as for a complement a
    repair round hid after the pruning): the register still says it protects the 2 (its
    certificate moves it), not 'a group rule, or another complement's range'."""
    from dataclasses import replace

    from unmetneed.disclosure import explain
    from unmetneed.disclosure.release import protect_pieces
    from unmetneed.disclosure.suppress import _piece
    from unmetneed.disclosure.tables import LongSpec, from_long

    frame = pd.DataFrame({"sex": ["a", "b", "c", TOTAL], "count": [2, 100, 5, 107]})
    spec = LongSpec(("sex",), totals=True)
    values = frame["count"].to_numpy()
    piece, people = _piece("p", frame, values, from_long(frame, values, spec), spec)
    release, protection = protect_pieces([piece], people, Policy.named(k=3), weight="count")
    own = release.ids[piece.name]
    assert protection.suppressed[own].tolist() == [True, False, True, False]
    lost = replace(protection, reasons={int(own[3]): [int(own[0])]})  # none for the 5
    assert explain.protects(release, lost) == {int(own[2]): [int(own[0])]}
