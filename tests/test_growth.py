"""A cohort file that grew: which files are last quarter's people and more, their waves, and
the people the release keeps (unmetneed.disclosure.growth)."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest

from unmetneed.disclosure import growth
from unmetneed.disclosure.release import WAVE
from unmetneed.errors import InputError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
W = "_people"


def _cohort() -> pd.DataFrame:
    """The sample cohort file's 70 people, one row each, as text."""
    return pd.read_csv(SAMPLE / "cohort_ootu.csv", dtype=str, keep_default_na=False)


def test_the_people_added_are_the_next_wave() -> None:
    """70 people, then the same 70 and two more alike (copies of the first row): the 70
    are wave 0 and the two (one combination, 2 people) wave 1."""
    first = _cohort()
    stored = growth.grown(first.assign(**{W: 1}), first, W)
    assert stored is not None and stored[1] is None  # the same people: nothing added
    waved, wave = stored
    later = pd.concat([first, first.iloc[[0, 0]]], ignore_index=True)
    found = growth.grown(waved, later, W)
    assert found is not None
    people, wave = found
    assert wave == "1"
    assert people.groupby(WAVE)[W].sum().to_dict() == {"0": 70, "1": 2}
    added = people[people[WAVE] == "1"]
    assert len(added) == 1 and added["area"].iloc[0] == first["area"].iloc[0]


def test_columns_in_another_order_and_rows_shuffled_are_the_same_people() -> None:
    """The grown file with its columns reversed and rows shuffled: still 70 + 2."""
    first = _cohort()
    later = pd.concat([first, first.iloc[[5, 9]]], ignore_index=True)
    later = later.sample(frac=1.0, random_state=3)[list(reversed(later.columns))]
    found = growth.grown(first.assign(**{W: 1}), later, W)
    assert found is not None and found[1] == "1"
    assert found[0].groupby(WAVE)[W].sum().to_dict() == {"0": 70, "1": 2}


def test_a_file_that_lost_someone_or_has_other_columns_is_not_grown() -> None:
    """One person gone (and two others added), or a column more: other people."""
    first = _cohort()
    lost = pd.concat([first.iloc[1:], first.iloc[[2, 3]]], ignore_index=True)
    assert growth.grown(first.assign(**{W: 1}), lost, W) is None
    wider = first.assign(extra="x")
    assert growth.grown(first.assign(**{W: 1}), wider, W) is None
    assert growth.grown(None, first, W) is None


def test_the_release_keeps_the_people_restricted(tmp_path: Path) -> None:
    """growth.write_people writes DIR/people/<hash>.parquet readable by its owner only,
    and read_people gives them back; unreadable bytes are an error naming the file (exit
    2), which the people of a later table replace."""
    first = _cohort().assign(**{W: 1})
    growth.write_people(tmp_path, {"cohort:abc": first})
    path = growth.people_path(tmp_path, "cohort:abc")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = growth.read_people(tmp_path, "cohort:abc")
    assert back is not None and int(back[W].sum()) == 70
    path.write_bytes(b"not a parquet file")
    with pytest.raises(InputError, match=path.name) as err:
        growth.read_people(tmp_path, "cohort:abc")
    assert err.value.exit_code == 2
    growth.write_people(tmp_path, {"cohort:abc": first})
    back = growth.read_people(tmp_path, "cohort:abc")
    assert back is not None and int(back[W].sum()) == 70
    assert growth.read_people(tmp_path, "cohort:other") is None
