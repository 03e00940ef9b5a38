"""One options model per command: the run config is parsed into the library's options
(GapOptions, CompareOptions), and the run's one disclosure policy goes to every table."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from unmetneed.disclosure import Policy
from unmetneed.errors import ConfigError
from unmetneed.extract.anonymise import AnonymiseOptions
from unmetneed.runs.config import (
    COMPARE_OPTION_KEYS,
    EXTRACT_OPTION_KEYS,
    GAP_OPTION_KEYS,
    read_config,
)
from unmetneed.tables.compare import CompareOptions
from unmetneed.tables.gap import GapOptions

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_config_keys_are_the_options_fields() -> None:
    assert set(GAP_OPTION_KEYS) <= {f.name for f in fields(GapOptions)}
    assert set(COMPARE_OPTION_KEYS) <= {f.name for f in fields(CompareOptions)}
    assert set(EXTRACT_OPTION_KEYS) <= {f.name for f in fields(AnonymiseOptions)}


def test_the_sample_config_parses_into_the_library_options() -> None:
    config = read_config(SAMPLE / "quarterly.toml")
    assert config.extract is not None and config.extract.options == AnonymiseOptions(k=3)
    assert config.gap is not None
    substances = ("opiate_crack", "opiate", "crack", "alcohol_dependent")
    assert config.gap.options == GapOptions(
        substances=substances, prevalence_years=3, total="All areas"
    )
    first, second = (spec.options for spec in config.compare)
    assert first == CompareOptions(by=("disability", "housing"), within=("substance_cohort",))
    assert second == CompareOptions(
        by=("age", "sex"), within=("area",), age_bands=("18-29", "30-39", "40-49", "50+")
    )


def test_an_unknown_option_is_still_named(tmp_path: Path) -> None:
    text = (SAMPLE / "quarterly.toml").read_text()
    bad = text.replace("prevalence_years = 3", "prevalence_yaers = 3")
    (tmp_path / "q.toml").write_text(bad.replace('path = "', f'path = "{SAMPLE}/'))
    with pytest.raises(ConfigError, match="unknown key 'gap.prevalence_yaers'"):
        read_config(tmp_path / "q.toml")


@pytest.mark.parametrize("name", ["k3", "lt5", "nhs"])
def test_a_policy_handed_in_is_the_one_used(name: str) -> None:
    policy = Policy.named(name)
    gap = GapOptions(k=0).with_policy(policy)  # the fields follow the policy, not k=0
    compare = CompareOptions(by=("sex",), k=0).with_policy(policy)
    assert gap.disclosure_policy() is policy and compare.disclosure_policy() is policy
    assert gap.k == compare.k == policy.k  # lt5: 4, nhs: 7
    assert gap.policy == (name if name != "k3" else None)  # k3 is the threshold alone


def test_every_table_of_a_run_gets_the_run_policy() -> None:
    from unmetneed.runs.pipeline import build_tables, validate_inputs
    from unmetneed.runs.runlog import RunLog

    config = replace(read_config(SAMPLE / "quarterly.toml"), policy="nhs")
    log = RunLog(quiet=True)
    _, tables, _, _ = build_tables(config, validate_inputs(config, log), "2024/25", log)
    policies = {t.name: t.meta["disclosure"]["policy"] for t in tables}
    nhs = Policy.named("nhs").to_meta()
    assert policies == {
        "gap": nhs,
        "compare-disability-housing": nhs,
        "compare-age-sex-by-area": nhs,
    }
    counts = tables[1].frame["count"].dropna()
    assert len(counts) and (counts % 5 == 0).all()  # compare counts rounded to 5 too
