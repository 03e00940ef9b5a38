"""pandera schemas built from the data contracts in ``schemas/*.yaml``.

The YAML files are what an analyst reads; this module turns each into a
``pandera.DataFrameSchema`` that checks a frame *after* its codes were normalised (values
that matched no spelling are left as they were in the file, so the failure names them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from unmetneed.inputs.codes import CodeList, by_distinct, code_list, schema_dir, with_totals

if TYPE_CHECKING:  # pandera is imported where a schema is built: it costs 0.3 s to import
    import pandera.pandas as pa

KINDS = ("treatment", "counts", "cohort", "prevalence")
COLUMN_TYPES = ("period", "text", "gss_code", "code", "flag", "count", "number")
PERIOD_PATTERN = r"^\d{4}/\d{2}( Q[1-4])?$"
YEAR_PATTERN = r"^\d{4}/\d{2}$"
GSS_PATTERN = r"^[EWSNK]\d{8}$"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract, as written in its YAML file."""

    name: str
    type: str
    required: bool
    nullable: bool
    codes: str | None = None
    quarters: bool = True
    margins: bool = False
    description: str = ""

    def code_list(self) -> CodeList:
        """The column's code list (with ``total`` where the contract allows margin rows)."""
        return with_totals(str(self.codes)) if self.margins else code_list(str(self.codes))

    def rule(self) -> str:
        """The rule a bad value breaks, in words (used in failure messages)."""
        if self.type == "code":
            return "not one of " + ", ".join(self.code_list().codes)
        return {
            "period": "not a financial year like 2019/20"
            + (" or a quarter like 2019/20 Q3" if self.quarters else ""),
            "text": "must not be blank",
            "gss_code": "not a GSS code like E06000015",
            "flag": "not yes/no (true/false, y/n, 1/0)",
            "count": "not a whole number >= 0 or a suppression marker (*, c, ~, <5, [c])",
            "number": "not a number >= 0",
        }[self.type]


@dataclass(frozen=True)
class Contract:
    """A data contract: its kind, columns, and whether identifier columns are refused."""

    kind: str
    title: str
    columns: tuple[ColumnSpec, ...]
    refuse_identifiers: bool
    rules: dict[str, str]

    def column(self, name: str) -> ColumnSpec:
        """The spec of one column by name."""
        return {c.name: c for c in self.columns}[name]

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in the contract's order."""
        return tuple(c.name for c in self.columns)


@cache
def contract(kind: str) -> Contract:
    """The contract of one input kind, read from ``schemas/<kind>.yaml``."""
    if kind not in KINDS:
        raise KeyError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    with open(schema_dir() / f"{kind}.yaml", encoding="utf-8") as fh:
        raw: dict[str, Any] = yaml.safe_load(fh)
    columns = []
    for name, spec in raw["columns"].items():
        if spec["type"] not in COLUMN_TYPES:
            raise ValueError(f"{kind}.yaml column {name}: unknown type {spec['type']!r}")
        required = bool(spec.get("required", False))
        columns.append(
            ColumnSpec(
                name=name,
                type=spec["type"],
                required=required,
                nullable=bool(spec.get("nullable", not required)),
                codes=spec.get("codes"),
                quarters=bool(spec.get("quarters", True)),
                margins=bool(raw.get("margins", False)) and spec["type"] == "code",
                description=spec.get("description", ""),
            )
        )
    return Contract(
        kind=raw["kind"],
        title=raw["title"],
        columns=tuple(columns),
        refuse_identifiers=bool(raw.get("refuse_identifiers", False)),
        rules=dict(raw.get("rules") or {}),
    )


def _number_check(integer: bool) -> pa.Check:
    import pandera.pandas as pa

    def ok(s: pd.Series) -> pd.Series:
        num = pd.to_numeric(s, errors="coerce")
        good = num.notna() & (num >= 0)
        return good & (num % 1 == 0) if integer else good

    return pa.Check(ok, name="whole_number_ge_0" if integer else "number_ge_0")


def column_checks(spec: ColumnSpec) -> list[pa.Check]:
    """The pandera checks of one column (applied to non-missing values)."""
    import pandera.pandas as pa

    if spec.type == "code":
        return [pa.Check.isin(list(spec.code_list().codes), name="in_code_list")]
    if spec.type == "flag":
        return [pa.Check.isin([True, False], name="is_flag")]
    if spec.type == "period":
        pattern = PERIOD_PATTERN if spec.quarters else YEAR_PATTERN
        return [
            pa.Check(lambda s: _distinct_ok(s, lambda u: _is_period(u, pattern)), name="is_period")
        ]
    if spec.type == "gss_code":
        return [pa.Check(lambda s: _distinct_ok(s, _is_gss), name="is_gss_code")]
    if spec.type == "text":
        return [pa.Check(lambda s: _distinct_ok(s, _not_blank), name="not_blank")]
    return [_number_check(integer=spec.type == "count")]


def _distinct_ok(values: pd.Series, check: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """A vectorised string check run once per distinct value, as a boolean per row."""
    return by_distinct(values, check).astype(bool)


def _is_gss(values: pd.Series) -> pd.Series:
    """A GSS code: a letter E, W, S, N or K and eight digits."""
    return values.astype(str).str.match(GSS_PATTERN)


def _not_blank(values: pd.Series) -> pd.Series:
    """Anything but white space."""
    return values.astype(str).str.strip() != ""


def _is_period(values: pd.Series, pattern: str) -> pd.Series:
    """``YYYY/YY`` (optionally `` Qn``) whose second year follows the first."""
    text = values.astype(str)
    shaped = text.str.match(pattern)
    first = pd.to_numeric(text.str[:4], errors="coerce")
    second = pd.to_numeric(text.str[5:7], errors="coerce")
    return shaped & ((first + 1) % 100 == second)


def frame_checks(c: Contract) -> list[pa.Check]:
    import pandera.pandas as pa

    checks = []
    if "lower_not_above_estimate" in c.rules:
        checks.append(
            pa.Check(
                lambda df: ~(_num(df, "lower") > _num(df, "estimate")),
                name="lower_not_above_estimate",
            )
        )
    if "upper_not_below_estimate" in c.rules:
        checks.append(
            pa.Check(
                lambda df: ~(_num(df, "upper") < _num(df, "estimate")),
                name="upper_not_below_estimate",
            )
        )
    return checks


def _num(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df:
        return pd.Series(float("nan"), index=df.index)
    return pd.to_numeric(df[column], errors="coerce")


@cache
def pandera_schema(kind: str) -> pa.DataFrameSchema:
    """The pandera schema of one input kind, built from its contract file."""
    import pandera.pandas as pa

    c = contract(kind)
    return pa.DataFrameSchema(
        {
            spec.name: pa.Column(
                checks=column_checks(spec),
                nullable=spec.nullable or spec.type == "count",
                required=spec.required,
                name=spec.name,
            )
            for spec in c.columns
        },
        checks=frame_checks(c),
        strict=False,
        name=kind,
    )
