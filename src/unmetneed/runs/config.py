"""The quarterly run's configuration: a TOML file, read with ``tomllib`` and never executed.

Every key is checked before any work starts: an unknown key or a bad value is a
:class:`ConfigError` (exit 2) naming the key as ``section.key``. The tables' options are
checked as the library checks them, and an option the library refuses, then or while the
run reads its inputs and builds its tables, is named by its key too (``key_spelling``:
``gap.total = "England"``, never a command-line flag). Paths in the file are taken
relative to the file's own folder, so cron can run it from anywhere.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unmetneed.disclosure.model import Policy
from unmetneed.errors import ConfigError, InputError, Mention, OptionError, Spelling
from unmetneed.extract.options import AnonymiseOptions
from unmetneed.inputs.codes import code_list, parse_period
from unmetneed.tables.compare import CompareOptions
from unmetneed.tables.gap import GapOptions

INPUT_KINDS = ("treatment", "counts", "cohort", "prevalence", "records")
FORMATS = ("parquet", "csv", "xlsx", "html")
VIEWS = ("tidy", "table1")
POLICIES = ("k3", "lt5", "nhs")


@dataclass(frozen=True)
class InputSpec:
    """One input file: where it is, what kind, and how its columns are named."""

    name: str
    path: Path
    kind: str
    columns: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    substance: str | None = None
    layout: str | None = None
    header_row: int | None = None


@dataclass(frozen=True)
class ExtractSpec:
    """The k-anonymised extract made from record-level input ``input``, with its options
    as the library takes them."""

    input: str
    options: AnonymiseOptions

    def resolved(self) -> dict[str, Any]:
        """As the run log records it: the input and the options the config set."""
        quasi = self.options.quasi
        return {"input": self.input, "k": self.options.k, "quasi": _listed(quasi)}


# The keys of [gap] and [[compare]] that are the table's options, named as the options'
# fields (``GapOptions``, ``CompareOptions``: declared once, there); the period and the
# disclosure policy are the run's, handed to every table.
EXTRACT_OPTION_KEYS = ("k", "quasi")
GAP_OPTION_KEYS = ("substances", "prevalence_years", "total", "public", "suppressed_max")
COMPARE_OPTION_KEYS = ("by", "within", "age_bands", "exclude_not_stated", "public")


@dataclass(frozen=True)
class GapSpec:
    """The gap table: treatment from an input (or ``extract``), prevalence from an input,
    and its options as the library takes them."""

    treatment: str
    prevalence: str
    options: GapOptions = field(default_factory=lambda: GapOptions())

    def resolved(self) -> dict[str, Any]:
        """As the run log records it: the references and the options the config set."""
        opts = self.options
        return {
            "treatment": self.treatment,
            "prevalence": self.prevalence,
            "substances": list(opts.substances) or None,
            "prevalence_years": opts.prevalence_years,
            "total": opts.total,
            **({"public": list(opts.public)} if opts.public else {}),
            **({"suppressed_max": opts.suppressed_max} if opts.suppressed_max else {}),
        }


@dataclass(frozen=True)
class CompareSpec:
    """One compare table: its name, labelled cohorts (input names), its options as the
    library takes them, and the view written beside it."""

    name: str
    cohorts: dict[str, str]
    options: CompareOptions
    view: str = "tidy"
    pct_digits: int = 0

    def resolved(self) -> dict[str, Any]:
        """As the run log records it: the references, the options the config set, the view."""
        opts = self.options
        return {
            "name": self.name,
            "cohorts": dict(self.cohorts),
            "by": list(opts.by),
            "within": list(opts.within),
            "age_bands": ",".join(opts.age_bands) or None,
            "exclude_not_stated": opts.exclude_not_stated,
            "view": self.view,
            "pct_digits": self.pct_digits,
            **({"public": list(opts.public)} if opts.public else {}),
        }


@dataclass(frozen=True)
class Publication:
    """What the workbook's cover and the report say about the tables ([output] keys)."""

    title: str = "Treatment gap and cohort comparison tables"
    source: str = "NDTMS treatment records and published prevalence estimates (unmetneed)"
    contact: str = "Contact the analyst who published these tables."


@dataclass(frozen=True)
class RunConfig:
    """A whole quarterly run, as resolved from its TOML file (paths made absolute)."""

    source: Path
    period: str | None
    k: int
    policy: str | None
    zeros_disclosive: bool
    out_dir: Path
    formats: tuple[str, ...]
    inputs: dict[str, InputSpec]
    extract: ExtractSpec | None
    gap: GapSpec | None
    compare: tuple[CompareSpec, ...]
    release: Path | None = None
    publication: Publication = field(default_factory=lambda: Publication())

    def disclosure_policy(self) -> Policy:
        """The one disclosure policy every table of the run gets."""
        return Policy.named(self.policy, self.k, self.zeros_disclosive)

    def resolved(self) -> dict[str, Any]:
        """The configuration as JSON-able data for the run log (paths resolved)."""
        from dataclasses import asdict, fields

        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["inputs"] = {name: asdict(spec) for name, spec in self.inputs.items()}
        data["extract"] = self.extract.resolved() if self.extract is not None else None
        data["gap"] = self.gap.resolved() if self.gap is not None else None
        data["compare"] = [spec.resolved() for spec in self.compare]
        data["publication"] = asdict(self.publication)
        result: dict[str, Any] = _jsonable(data)
        return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class _Section:
    """Reads one table of the TOML file, naming every key it complains about."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table ([{where}]), got {data!r}")
        self.data = data
        self.where = where
        self.used: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        """The value of ``key`` checked against ``kind`` (``default`` when absent)."""
        self.used.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f"{self._name(key)}: required, but missing")
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is not bool and bool not in _tuple(kind):
            raise ConfigError(f"{self._name(key)}: expected {_kind_name(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise ConfigError(f"{self._name(key)}: expected {_kind_name(kind)}, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...] | None:
        """A list of strings (or ``default`` when absent)."""
        value = self.get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self._name(key)}: expected a list of strings, got {value!r}")
        return tuple(value)

    def table(self, key: str) -> dict[str, Any] | None:
        """A sub-table (or ``None`` when absent)."""
        return self.get(key, dict, None)  # type: ignore[no-any-return]

    def done(self) -> None:
        """Refuse every key that was not read: a typo must not be ignored."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(
                f"unknown key {self._name(unknown[0])!r}"
                + (f" (and {', '.join(map(self._name, unknown[1:]))})" if unknown[1:] else "")
                + f"; the keys here are {', '.join(sorted(self.used))}"
            )


# Options whose key is not in the section of the table they are about: the run's own
# (period, disclosure policy) and the gap's references to its inputs.
RUN_KEYS = {
    "period": "period",
    "periods": "period",
    "k": "disclosure.k",
    "policy": "disclosure.policy",
    "zeros_disclosive": "disclosure.zeros_disclosive",
    "release": "disclosure.release",
    "treatment": "gap.treatment",
    "prevalence": "gap.prevalence",
}
LIST_KEYS = ("substances", "public", "by", "within", "quasi", "suppress_first", "formats")


def key_spelling(section: str) -> Spelling:
    """How the run config names an option of ``section`` (``gap``, ``compare[0]``,
    ``inputs.raw``): by its key, the value as TOML writes it.

    >>> spell = key_spelling("gap")
    >>> spell(Mention("total", "England")), spell(Mention("k", "-1")), spell(Mention("by"))
    ('gap.total = "England"', 'disclosure.k = -1', 'gap.by')
    >>> key_spelling("inputs.raw")(Mention("columns", "area=LA"))
    'inputs.raw.columns.area = "LA"'
    """

    def spelled(mention: Mention) -> str:
        value = mention.value
        if mention.option == "columns" and value is not None and "=" in value:
            new, _, old = value.partition("=")
            return f"{section}.columns.{new.strip()} = {_toml(old.strip())}"
        name = RUN_KEYS.get(mention.option, f"{section}.{mention.option}")
        if value is None:
            return name
        shown = f"[{_toml(value)}]" if mention.option in LIST_KEYS else _toml(value)
        return f"{name} = {shown}"

    return spelled


def _toml(text: str) -> str:
    """A value as TOML writes it: a whole number bare, text quoted."""
    return text if re.fullmatch(r"-?[0-9]+", text) else json.dumps(text)


@contextmanager
def keys_of(section: str) -> Iterator[None]:
    """Options the library refuses inside, named by their keys in ``section``: an
    ``OptionError`` becomes a :class:`ConfigError` (exit 2, as both are); any other error
    keeps its class and exit code, the options it names spelled as keys. An error about
    the run's period is left as it is: the period is the command line's or the config's
    (``api.run(period=...)``), and each surface names it."""
    from unmetneed.errors import UnmetneedError

    try:
        yield
    except OptionError as exc:
        if exc.option in ("period", "periods"):
            raise
        spelling = key_spelling(section)
        raise ConfigError(exc.text(spelling), hint=exc.hint_text(spelling)) from None
    except UnmetneedError as exc:
        raise exc.spelled_as(key_spelling(section)) from None


def _checked(check: Callable[[], None], section: str) -> None:
    """Run an options model's ``check`` with the options it refuses named by their keys."""
    with keys_of(section):
        check()


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "text",
        int: "a whole number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
        float: "a number",
    }
    return " or ".join(names.get(k, k.__name__) for k in _tuple(kind))


def read_config(path: Path | str) -> RunConfig:
    """Read and check a run configuration; raise ConfigError naming the first bad key."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{source}: no such config file")
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return _parse(raw, source)


def _parse(raw: dict[str, Any], source: Path) -> RunConfig:
    base = source.resolve().parent
    top = _Section(raw, "")
    period = top.get("period", str)
    if period is not None and parse_period(period)[0] != period:
        raise ConfigError(f"period: {period!r} is not a period like 2024/25 or 2024/25 Q2")
    disclosure = _Section(top.table("disclosure") or {}, "disclosure")
    k = disclosure.get("k", int, 3)
    if k < 0:
        raise ConfigError(f"disclosure.k: must be 0 or more, got {k}")
    policy = disclosure.get("policy", str)
    if policy is not None and policy not in POLICIES:
        raise ConfigError(f"disclosure.policy: {policy!r} is not one of {', '.join(POLICIES)}")
    zeros = disclosure.get("zeros_disclosive", bool, False)
    release = disclosure.get("release", str)
    disclosure.done()
    output = _Section(top.get("output", dict, required=True), "output")
    out_dir = (base / output.get("dir", str, required=True)).resolve()
    formats = output.strings("formats", ("parquet",)) or ()
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(
            f"output.formats: use one or more of {', '.join(FORMATS)}, got {list(formats)}"
        )
    default = Publication()
    publication = Publication(
        output.get("title", str, default.title),
        output.get("source", str, default.source),
        output.get("contact", str, default.contact),
    )
    output.done()
    inputs = _inputs(top.get("inputs", dict, required=True), base)
    extract = _extract(top.table("extract"), inputs, k)
    gap = _gap(top.table("gap"), inputs, extract)
    compare = tuple(
        _compare(t, i, inputs, extract) for i, t in enumerate(top.get("compare", list, []))
    )
    top.done()
    if gap is None and not compare and extract is None:
        raise ConfigError("the config asks for no table: add [extract], [gap] or [[compare]]")
    return RunConfig(
        source.resolve(),
        period,
        k,
        policy,
        zeros,
        out_dir,
        tuple(formats),
        inputs,
        extract,
        gap,
        compare,
        (base / release).resolve() if release else None,
        publication,
    )


def _inputs(data: dict[str, Any], base: Path) -> dict[str, InputSpec]:
    specs = {}
    for name, table in data.items():
        s = _Section(table, f"inputs.{name}")
        kind = s.get("kind", str, required=True)
        if kind not in INPUT_KINDS:
            raise ConfigError(
                f"inputs.{name}.kind: {kind!r} is not one of {', '.join(INPUT_KINDS)}"
            )
        columns = s.table("columns") or {}
        if not all(isinstance(v, str) for v in columns.values()):
            raise ConfigError(f'inputs.{name}.columns: write NEW = "OLD" pairs of text')
        specs[name] = InputSpec(
            name,
            base / s.get("path", str, required=True),
            kind,
            dict(columns),
            s.get("sheet", str),
            s.get("substance", str),
            s.get("layout", str),
            s.get("header_row", int),
        )
        s.done()
    if not specs:
        raise ConfigError("inputs: name at least one input file")
    return specs


def _ref(
    value: str,
    key: str,
    inputs: dict[str, InputSpec],
    kinds: tuple[str, ...],
    extract: ExtractSpec | None,
) -> str:
    """Check that ``value`` names an input of one of ``kinds`` (or the made extract)."""
    if value == "extract" and extract is not None and "treatment" in kinds:
        return value
    if value not in inputs:
        made = " or 'extract'" if extract is not None and "treatment" in kinds else ""
        raise ConfigError(f"{key}: {value!r} is not an input; use one of {', '.join(inputs)}{made}")
    if inputs[value].kind not in kinds:
        raise ConfigError(
            f"{key}: input {value!r} is a {inputs[value].kind} file; "
            f"this needs {' or '.join(kinds)}"
        )
    return value


def _extract(
    data: dict[str, Any] | None, inputs: dict[str, InputSpec], k: int
) -> ExtractSpec | None:
    if data is None:
        return None
    s = _Section(data, "extract")
    spec = ExtractSpec(
        _ref(
            s.get("input", str, required=True),
            "extract.input",
            inputs,
            ("records", "treatment"),
            None,
        ),
        _options(s, AnonymiseOptions(k=k), EXTRACT_OPTION_KEYS),
    )
    _checked(spec.options.check, "extract")
    s.done()
    return spec


def _gap(
    data: dict[str, Any] | None, inputs: dict[str, InputSpec], extract: ExtractSpec | None
) -> GapSpec | None:
    if data is None:
        return None
    s = _Section(data, "gap")
    allowed = code_list("substance").codes
    for sub in s.strings("substances") or ():
        if sub not in allowed:
            raise ConfigError(f"gap.substances: {sub!r} is not one of {', '.join(allowed)}")
    years = s.get("prevalence_years", int, GapOptions.prevalence_years)
    if years < 1:
        raise ConfigError(f"gap.prevalence_years: must be 1 or more, got {years}")
    spec = GapSpec(
        _ref(
            s.get("treatment", str, required=True),
            "gap.treatment",
            inputs,
            ("treatment", "counts"),
            extract,
        ),
        _ref(
            s.get("prevalence", str, required=True),
            "gap.prevalence",
            inputs,
            ("prevalence",),
            extract,
        ),
        _options(s, GapOptions(), GAP_OPTION_KEYS),
    )
    _public(spec.options.public, "gap.public")
    _checked(spec.options.check, "gap")
    s.done()
    return spec


def _compare(
    data: Any, index: int, inputs: dict[str, InputSpec], extract: ExtractSpec | None
) -> CompareSpec:
    s = _Section(data, f"compare[{index}]")
    name = s.get("name", str, required=True)
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"compare[{index}].name: {name!r}: use letters, digits, - and _ only")
    cohorts = s.get("cohorts", dict, required=True)
    for label, ref in cohorts.items():
        if not isinstance(ref, str):
            raise ConfigError(f"compare[{index}].cohorts.{label}: expected an input name")
        _ref(ref, f"compare[{index}].cohorts.{label}", inputs, ("treatment", "cohort"), extract)
    by = s.strings("by")
    if not by:
        raise ConfigError(f"compare[{index}].by: name at least one variable")
    view = s.get("view", str, "tidy")
    if view not in VIEWS:
        raise ConfigError(f"compare[{index}].view: {view!r} is not one of {', '.join(VIEWS)}")
    digits = s.get("pct_digits", int, 0)
    if digits not in (0, 1):
        raise ConfigError(f"compare[{index}].pct_digits: use 0 or 1, got {digits}")
    spec = CompareSpec(
        name,
        dict(cohorts),
        _options(s, CompareOptions(by=by), COMPARE_OPTION_KEYS),
        view,
        digits,
    )
    _public(spec.options.public, f"compare[{index}].public")
    _checked(spec.options.check, f"compare[{index}]")
    s.done()
    return spec


def _options(section: _Section, defaults: Any, keys: tuple[str, ...]) -> Any:
    """``defaults`` (an options dataclass) with ``keys`` read from ``section``: each key
    is the field of that name, read as the field's type (a list of text for a tuple;
    ``age_bands`` as one text, ``"18-29,30-39,40+"``); absent keys keep the default."""
    from dataclasses import replace
    from types import NoneType
    from typing import get_args, get_origin, get_type_hints

    hints = get_type_hints(type(defaults))
    given: dict[str, Any] = {}
    for key in keys:
        hint = hints[key]
        if NoneType in get_args(hint):  # X | None: read as X
            hint = next(a for a in get_args(hint) if a is not NoneType)
        value: Any
        if key == "age_bands":
            from unmetneed.spelling import age_band_list

            text = section.get(key, str)
            with keys_of(section.where):
                value = age_band_list(text) if text else None
        elif get_origin(hint) is tuple:
            value = section.strings(key)
        elif hint in (bool, int):
            value = section.get(key, hint)
        else:  # text, or None
            value = section.get(key, str)
        if value is not None:
            given[key] = value
    return replace(defaults, **given)


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    """A tuple as a JSON list (None stays None)."""
    return None if values is None else list(values)


def _public(specs: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Public totals (``COLUMN=VALUE,...`` each), checked for form."""
    from unmetneed.disclosure.public import parse
    from unmetneed.errors import UsageError

    for spec in specs:
        try:
            parse(spec)
        except UsageError:
            raise ConfigError(
                f"{where} = [{json.dumps(spec)}]: write COLUMN=VALUE pairs joined by commas, "
                'e.g. public = ["area=Eastbury"] or public = ["cohort=OOTU"]'
            ) from None
    return specs
