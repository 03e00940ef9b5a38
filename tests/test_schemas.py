"""The contract files in schemas/ and the pandera models built from them agree."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
import yaml

from unmetneed.inputs.codes import code_list, list_names, schema_dir
from unmetneed.inputs.schemas import KINDS, column_checks, contract, pandera_schema


@pytest.mark.parametrize("kind", KINDS)
def test_every_yaml_column_is_in_the_model_with_its_rules(kind: str) -> None:
    raw = yaml.safe_load((schema_dir() / f"{kind}.yaml").read_text())
    schema = pandera_schema(kind)
    assert list(schema.columns) == list(raw["columns"])
    for name, spec in raw["columns"].items():
        column = schema.columns[name]
        assert column.required == bool(spec.get("required", False)), name
        if spec["type"] == "code":
            isin = [c for c in column.checks if c.name == "in_code_list"]
            expected = set(code_list(spec["codes"]).codes) | (
                {"total"} if raw.get("margins") else set()
            )
            assert isin and set(isin[0].statistics["allowed_values"]) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_code_lists_named_in_contracts_exist(kind: str) -> None:
    for spec in contract(kind).columns:
        if spec.type == "code":
            assert spec.codes in list_names()


def test_contract_code_lists_match_the_contract_document() -> None:
    """CONTRACT.md section 2.1, copied by hand: the codes and their order."""
    assert code_list("drug_group").codes == (
        "opiate",
        "non_opiate_only",
        "non_opiate_and_alcohol",
        "alcohol_only",
    )
    assert code_list("age_band").codes == (
        "18-24",
        "25-29",
        "30-34",
        "35-39",
        "40-44",
        "45-49",
        "50-54",
        "55-59",
        "60-64",
        "65+",
    )
    assert code_list("sex").codes == ("male", "female", "other", "not_stated")
    assert code_list("housing").codes == (
        "no_problem",
        "housing_problem",
        "urgent_housing_problem",
        "not_stated",
    )
    assert code_list("substance").codes == ("opiate_crack", "opiate", "crack", "alcohol_dependent")


def test_model_rejects_what_the_file_forbids() -> None:
    schema = pandera_schema("prevalence")
    good = pd.DataFrame(
        {
            "area": ["A"],
            "period": ["2017/18"],
            "substance": ["opiate"],
            "estimate": [10.0],
            "lower": [8.0],
            "upper": [12.0],
        }
    )
    schema.validate(good)
    for column, value in [
        ("period", "2017/19"),
        ("substance", "heroin"),
        ("estimate", -1.0),
        ("lower", 11.0),
        ("upper", 9.0),
    ]:
        with pytest.raises(pa.errors.SchemaError):
            schema.validate(good.assign(**{column: [value]}))


def test_every_column_type_has_checks() -> None:
    for kind in KINDS:
        for spec in contract(kind).columns:
            assert column_checks(spec), (kind, spec.name)
