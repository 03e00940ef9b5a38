"""How people write options: ``NEW=OLD`` renames, ``LABEL=FILE`` cohorts, ``INPUT=VALUE``
reading options, periods such as ``2019-20``, substances such as ``OCU``, age bands such as
``18-29,30-39,40+``, lists given repeated or comma-separated: read here as typed values.

The command line and the run config read what a person typed with these; the tables and
the extract receive the typed values (tuples of codes, ``(label, path)`` pairs, mappings).
A value that cannot be read is an :class:`unmetneed.errors.OptionError` naming the option
as the library names it (``periods``, ``substances``, ``columns``...); each surface says
it its own way (``--period`` on the command line).

Built on ``errors`` and ``inputs`` only: never on the tables, the extract, runs or the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from unmetneed.errors import Mention, OptionError, Said, UsageError
from unmetneed.inputs.codes import code_list, key, parse_period


def column_pairs(pairs: Sequence[str] | None, option: str = "columns") -> list[tuple[str, str]]:
    """``["area=Area_Data", "area=LA"]`` as ``[("area", "Area_Data"), ("area", "LA")]``:
    renames in the order given, a new name possibly twice (one per file).

    >>> column_pairs(["estimate = Alcohol_dependent"])
    [('estimate', 'Alcohol_dependent')]
    """
    out: list[tuple[str, str]] = []
    for pair in pairs or []:
        new, sep, old = pair.partition("=")
        if not sep or not new.strip() or not old.strip():
            raise OptionError(
                option, pair, "write it as NEW=OLD, e.g. estimate=Alcohol_dependent", quoted=True
            )
        out.append((new.strip(), old.strip()))
    return out


def parse_column_mapping(pairs: Sequence[str] | None, option: str = "columns") -> dict[str, str]:
    """``["estimate=Alcohol_dependent", ...]`` as ``{"estimate": "Alcohol_dependent"}``.

    >>> parse_column_mapping(["estimate=Alcohol_dependent"])
    {'estimate': 'Alcohol_dependent'}
    """
    return dict(column_pairs(pairs, option))


def per_input(
    values: Sequence[str] | None, inputs: tuple[str, ...], option: str
) -> dict[str, str | None]:
    """``NAME`` (every input) or ``INPUT=NAME`` values of one reading option, per input.

    >>> per_input(["prevalence=phe-alcohol"], ("treatment", "prevalence"), "layout")
    {'treatment': None, 'prevalence': 'phe-alcohol'}
    """
    from unmetneed.inputs.layouts import did_you_mean

    out: dict[str, str | None] = dict.fromkeys(inputs)
    for value in values or []:
        name, sep, rest = value.partition("=")
        if sep and name.strip() in inputs:
            out[name.strip()] = rest.strip()
        elif sep and key(name) in {key(i) for i in inputs} | {"treatments"}:
            out[inputs[0]] = rest.strip()
        elif sep:
            problem = f"{did_you_mean(name.strip(), inputs)} before ="
            raise OptionError(option, value, problem, quoted=True)
        else:
            out = dict.fromkeys(inputs, value.strip())
    return out


def line_number(value: str | None, option: str) -> int | None:
    """A line number (1-based) as typed, or None when not given.

    >>> line_number("3", "header_row")
    3
    """
    if value is None:
        return None
    if not value.isdigit():
        raise OptionError(option, value, "give a line number, e.g. 3", quoted=True)
    return int(value)


def listed(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """Values given repeated and/or comma-separated as one tuple (None when not given).

    >>> listed(["area,sex", "ethnicity"])
    ('area', 'sex', 'ethnicity')
    """
    if not values:
        return None
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def column_values(texts: Sequence[str] | None, option: str) -> dict[str, str]:
    """``COLUMN=VALUE`` choices (e.g. the within-group a chart draws) as a mapping.

    >>> column_values(["area=Eastbury"], "group")
    {'area': 'Eastbury'}
    """
    chosen: dict[str, str] = {}
    for text in texts or ():
        column, sep, value = text.partition("=")
        if not sep:
            raise OptionError(option, text, "write COLUMN=VALUE, e.g. area=Eastbury", quoted=True)
        chosen[column.strip()] = value.strip()
    return chosen


SUBSTANCES = code_list("substance").codes


def normalise_substances(values: Sequence[str] | None) -> tuple[str, ...]:
    """Substance spellings (``Opiates``, ``OCU``...) as codes, each once.

    >>> normalise_substances(["Opiates", "OCU", "alcohol"])
    ('opiate', 'opiate_crack', 'alcohol_dependent')
    """
    codes = code_list("substance")
    out: list[str] = []
    for value in values or []:
        code = codes.lookup(value)
        if not isinstance(code, str):
            from unmetneed.inputs.layouts import did_you_mean

            raise OptionError("substances", value, did_you_mean(value, SUBSTANCES), quoted=True)
        out += [code] if code not in out else []
    return tuple(out)


def normalise_periods(values: Sequence[str] | None) -> tuple[str, ...]:
    """Period spellings (``2019-20``, ``2024/25 Q2``) as periods (``2019/20``), each once.

    >>> normalise_periods(["2019-20", "2019/20", "2024/25 q2"])
    ('2019/20', '2024/25 Q2')
    """
    out: list[str] = []
    for value in values or []:
        period, _note = parse_period(value)
        if period is None:
            raise OptionError(
                "periods", value, "write a financial year like 2019/20 or 2024/25 Q2", quoted=True
            )
        out += [period] if period not in out else []
    return tuple(out)


def period_notes(values: Sequence[str] | None) -> tuple[Said, ...]:
    """Remarks on period spellings that needed a rule: a bare year ``2019`` is read as
    the financial year starting in it (2019/20), which may not be what was meant (each
    names the option; a surface spells it, ``errors.spell``)."""
    out: list[Said] = []
    for value in values or []:
        period, note = parse_period(value)
        if period is not None and note == "bare year":
            year = int(period[:4])
            out.append(
                (
                    Mention("periods", value),
                    f" is read as the financial year {period} (April {year} to "
                    f"March {year + 1}); write {year - 1}/{year % 100:02d} for the year ending "
                    f"in March {year}",
                )
            )
    return tuple(out)


def age_band_list(text: str | None) -> tuple[str, ...]:
    """``18-29,30-39,40+`` as ``("18-29", "30-39", "40+")`` (checked against the 5-year
    bands when the table is made); nothing when not given.

    >>> age_band_list("18-29, 30-39,40+")
    ('18-29', '30-39', '40+')
    """
    if text is None:
        return ()
    bands = tuple(b.strip() for b in text.split(",") if b.strip())
    if not bands:
        raise OptionError("age_bands", None, "give bands such as 18-29,30-39,40+")
    return bands


def parse_cohort_spec(text: str) -> tuple[str | None, Path]:
    """``LABEL=FILE`` as ``(label, path)``; a bare ``FILE`` (its rows labelled by a
    ``cohort`` column) as ``(None, path)``.

    >>> parse_cohort_spec("NDTMS=data/sample/extract.csv")
    ('NDTMS', PosixPath('data/sample/extract.csv'))
    """
    label, sep, rest = text.partition("=")
    if sep and label.strip() and "/" not in label and "\\" not in label:
        if not rest.strip():
            problem = "write it as LABEL=FILE, e.g. OOTU=cohort.csv"
            raise OptionError("cohorts", text, problem, quoted=True)
        return label.strip(), Path(rest.strip())
    return None, Path(text.strip())


def parse_cohort_specs(specs: Sequence[str]) -> list[tuple[str | None, Path]]:
    """Every cohort as ``(label, path)``: all ``LABEL=FILE``, or one bare ``FILE``.

    Mixing the two, or a label given twice, is an option error.
    """
    parsed = [parse_cohort_spec(s) for s in specs]
    if not parsed:
        raise UsageError(("give at least one ", Mention("cohorts", "LABEL=FILE")))
    check_cohorts(parsed)
    return parsed


def check_cohorts(parsed: Sequence[tuple[str | None, Path]]) -> None:
    """Cohorts as ``(label, path)`` pairs: all labelled, or one file unlabelled (its
    ``cohort`` column labels its rows), no label twice."""
    bare = [p for label, p in parsed if label is None]
    if bare and len(parsed) > 1:
        problem = "give every cohort as LABEL=FILE, or one file with a cohort column"
        raise OptionError("cohorts", bare[0], problem)
    labels = [label for label, _ in parsed]
    twice = sorted({x for x in labels if x is not None and labels.count(x) > 1})
    if twice:
        raise OptionError("cohorts", None, f"the label {', '.join(twice)} is given twice")
