"""A cohort file that grew: which files are last quarter's people and more, their waves, and
the people the release keeps (unmetneed.disclosure.growth)."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest

from unmetneed.disclosure import growth, waves
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


def test_a_file_that_lost_someone_splits_the_wave() -> None:
    """One person gone (row 0) and two others added (copies of rows 2 and 3): the 69 kept
    are wave 0.1, the one gone 0-1 (with row 0's combination), the two added wave 1; the
    newest file holds waves 0.1 and 1."""
    first = _cohort()
    lost = pd.concat([first.iloc[1:], first.iloc[[2, 3]]], ignore_index=True)
    found = growth.grown(first.assign(**{W: 1}), lost, W)
    assert found is not None and found[1] == "1"
    people = found[0]
    assert people.groupby(WAVE)[W].sum().to_dict() == {"0-1": 1, "0.1": 69, "1": 2}
    gone = people[people[WAVE] == "0-1"].drop(columns=[WAVE, W]).reset_index(drop=True)
    pd.testing.assert_frame_equal(gone, first.iloc[[0]].reset_index(drop=True))
    assert growth.waves(people) == ["0.1", "1"]


def test_a_later_file_that_lost_someone_splits_only_their_wave() -> None:
    """70, then 70 + 2 (wave 1), then without one of the two added: wave 1 splits (1.2
    kept, 1-2 gone); wave 0 does not (nobody of it left). A cell of the first file still
    counts every one of its people, now wave 0; of the second, 0, 1.2 and 1-2."""
    first = _cohort()
    second = pd.concat([first, first.iloc[[4, 6]]], ignore_index=True)
    found = growth.grown(first.assign(**{W: 1}), second, W)
    assert found is not None
    third = pd.concat([first, first.iloc[[6]]], ignore_index=True)
    found = growth.grown(found[0], third, W)
    assert found is not None and found[1] == "2"
    people = found[0]
    assert people.groupby(WAVE)[W].sum().to_dict() == {"0": 70, "1-2": 1, "1.2": 1}
    gone = people[people[WAVE] == "1-2"].drop(columns=[WAVE, W]).reset_index(drop=True)
    pd.testing.assert_frame_equal(gone, first.iloc[[4]].reset_index(drop=True))
    codes = people[WAVE].tolist()
    assert waves.of_version(0, codes) == ("0",)
    assert waves.of_version(1, codes) == ("0", "1-2", "1.2")  # 1: all in 1.2 or 1-2
    assert waves.of_version(2, codes) == ("0", "1.2")
    assert waves.changes(codes) == [("1.2",), ("1-2",)]  # since the first file; the second


def test_a_file_sharing_under_half_or_with_other_columns_is_other_people() -> None:
    """70 people, then 70 of the first 10 rows' combinations (7 each, so at most as many
    of them as the first file has kept: under half), or a column more: other people."""
    first = _cohort()
    other = pd.concat([first.iloc[:10]] * 7, ignore_index=True)
    shared = first.iloc[:10].merge(first, how="inner").drop_duplicates()
    assert len(first.merge(shared, how="inner")) < 35  # what the first file has of them
    assert growth.grown(first.assign(**{W: 1}), other, W) is None
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
