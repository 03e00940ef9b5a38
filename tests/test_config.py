"""The run configuration: every key checked, named when wrong, paths beside the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmetneed.errors import ConfigError, InputError
from unmetneed.runs.config import read_config

GOOD = """
period = "2024/25"

[disclosure]
k = 3

[output]
dir = "out"
formats = ["parquet", "csv"]

[inputs.raw]
path = "raw.csv"
kind = "records"

[inputs.prev]
path = "prev.csv"
kind = "prevalence"
columns = { estimate = "Estimate" }

[inputs.ootu]
path = "ootu.csv"
kind = "cohort"

[extract]
input = "raw"

[gap]
treatment = "extract"
prevalence = "prev"
substances = ["opiate_crack", "alcohol_dependent"]
prevalence_years = 3
total = "All areas"

[[compare]]
name = "disability"
cohorts = { NDTMS = "extract", OOTU = "ootu" }
by = ["disability", "housing"]
within = ["area"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_good_config_resolves_paths_beside_the_file(tmp_path: Path) -> None:
    config = read_config(write(tmp_path, GOOD))
    assert config.period == "2024/25"
    assert config.out_dir == tmp_path.resolve() / "out"
    assert config.inputs["prev"].path == tmp_path.resolve() / "prev.csv"
    assert config.inputs["prev"].columns == {"estimate": "Estimate"}
    assert config.gap is not None and config.gap.options.prevalence_years == 3
    assert config.compare[0].cohorts == {"NDTMS": "extract", "OOTU": "ootu"}
    assert config.extract is not None and config.extract.options.k == 3
    assert config.resolved()["formats"] == ["parquet", "csv"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("prevalence_years = 3", "prevalence_yeers = 3", "unknown key 'gap.prevalence_yeers'"),
        (
            "[disclosure]\nk = 3",
            '[disclosure]\nk = "three"',
            "disclosure.k: expected a whole number",
        ),
        ("[disclosure]\nk = 3", "[disclosure]\nk = true", "disclosure.k: expected a whole number"),
        ("prevalence_years = 3", "prevalence_years = 0", "gap.prevalence_years: must be 1 or more"),
        ('period = "2024/25"', 'period = "2024"', "period: '2024' is not a period"),
        ('kind = "cohort"', 'kind = "survey"', "inputs.ootu.kind: 'survey' is not one of"),
        (
            'prevalence = "prev"',
            'prevalence = "ootu"',
            "gap.prevalence: input 'ootu' is a cohort file",
        ),
        ('OOTU = "ootu"', 'OOTU = "nope"', "compare[0].cohorts.OOTU: 'nope' is not an input"),
        ('"opiate_crack",', '"heroin",', "gap.substances: 'heroin' is not one of"),
        ('formats = ["parquet", "csv"]', 'formats = ["pdf"]', "output.formats: use one or more of"),
        ('[output]\ndir = "out"', '[output]\nfolder = "out"', "output.dir: required"),
        ('within = ["area"]', 'within = ["area"]\nwide = true', "unknown key 'compare[0].wide'"),
        ('within = ["area"]', 'within = ["area"]\nview = "wide"', "compare[0].view: 'wide' is"),
        ('within = ["area"]', 'within = ["area"]\npct_digits = 2', "compare[0].pct_digits: use 0"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError) as info:
        read_config(write(tmp_path, GOOD.replace(old, new, 1)))
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config(write(tmp_path, "period = \n"))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such config file"):
        read_config(tmp_path / "absent.toml")


def test_a_config_that_asks_for_nothing(tmp_path: Path) -> None:
    text = '[output]\ndir = "o"\n[inputs.a]\npath = "a.csv"\nkind = "treatment"\n'
    with pytest.raises(ConfigError, match="asks for no table"):
        read_config(write(tmp_path, text))


def test_publication_keys_and_views(tmp_path: Path) -> None:
    text = GOOD.replace(
        'formats = ["parquet", "csv"]',
        'formats = ["parquet", "xlsx", "html"]\ncontact = "PHI team, phi@example.org"',
    ).replace('within = ["area"]', 'within = ["area"]\nview = "table1"\npct_digits = 1')
    config = read_config(write(tmp_path, text))
    assert config.formats == ("parquet", "xlsx", "html")
    assert config.publication.contact == "PHI team, phi@example.org"
    assert config.publication.title  # a default title
    assert (config.compare[0].view, config.compare[0].pct_digits) == ("table1", 1)
    assert read_config(write(tmp_path, GOOD)).compare[0].view == "tidy"
