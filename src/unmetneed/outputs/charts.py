"""Charts of published tables (matplotlib, headless): caterpillar, trend and compare bars.

Suppressed values are never drawn: a ``[c]`` label sits at a fixed place instead (the
axis edge), so neither its position nor its text says anything about the value. Colours
are Okabe-Ito (colour-blind safe); every chart has a title, axis labels with units and
alt text; an SVG is byte-identical on rerun (fixed hash salt, no date, text as text).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.errors import Mention, OptionError, UsageError
from unmetneed.outputs.labels import CONFIDENTIAL, category_label, variable_label

KINDS = ("caterpillar", "trend", "bars")
SUFFIXES = (".svg", ".png", ".html")
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
VS_COLOURS = {
    "higher": "#D55E00",
    "similar": "#E69F00",
    "lower": "#0072B2",
    "not_compared": "#999999",
}
_RC: dict[Any, Any] = {
    "svg.hashsalt": "unmetneed",
    "svg.fonttype": "none",  # text stays text: readable, searchable, checkable
    "font.family": "DejaVu Sans",
    "font.size": 9,
}


_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class Chart:
    """A drawn chart: the figure, its title and its alt text."""

    figure: Any
    title: str
    alt: str


def _figure(height: float, width: float = 7.5) -> Any:
    """A figure of its own (no pyplot, no global state, no display needed)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _pick(frame: pd.DataFrame, column: str, value: str | None, option: Mention) -> str:
    """``value`` if the column has it, else its first value; a usage error naming the
    choices (``option``: the option that chose it, e.g. ``group`` with the column)."""
    have = list(dict.fromkeys(frame[column].dropna().astype(str)))
    if not have:
        raise UsageError((option, ": the table has no rows to draw"))
    if value is None:
        return have[0]
    if value not in have:
        problem = f"not in the table; it has {', '.join(have)}"
        if option.value is None:
            raise OptionError(option.option, value, problem, quoted=True)
        raise UsageError((option, f" {value!r}: {problem}"))
    return value


def caterpillar(
    gap: pd.DataFrame, substance: str | None = None, period: str | None = None
) -> Chart:
    """The gap by area for one substance and period: each area's % not in treatment with
    its 95% interval, sorted; the benchmark's line and colours by ``vs_benchmark`` when the
    table has them; suppressed areas at the bottom with ``[c]`` and no point."""
    sub = _pick(gap, "substance", substance, Mention("substance"))
    per = _pick(gap, "period", period, Mention("period"))
    rows = gap[(gap["substance"].astype(str) == sub) & (gap["period"].astype(str) == per)]
    value = rows["unmet_need_pct"].astype("Float64")
    shown = rows[value.notna().to_numpy()].sort_values("unmet_need_pct", ascending=True)
    hidden = rows[value.isna().to_numpy()]
    fig = _figure(max(2.5, 0.3 * len(rows) + 1.5))
    ax = fig.add_subplot()
    labels = [*hidden["area"].astype(str), *shown["area"].astype(str)]
    y_hidden = np.arange(len(hidden))
    y_shown = np.arange(len(hidden), len(rows))
    x = shown["unmet_need_pct"].astype(float).to_numpy()
    lo = shown["unmet_need_pct_lower"].astype("Float64").fillna(np.nan).to_numpy(dtype=float)
    hi = shown["unmet_need_pct_upper"].astype("Float64").fillna(np.nan).to_numpy(dtype=float)
    colours = _vs_colours(shown)
    err = _whiskers(x, lo, hi)
    for i in range(len(shown)):
        drawn = ax.errorbar(
            x[i], y_shown[i], xerr=err[:, i : i + 1], fmt="o", color=colours[i], capsize=2, ms=4
        )
        drawn.lines[0].set_gid(f"point-{i}")  # one id per value drawn (checkable in the SVG)
    for y in y_hidden:
        ax.text(0.01, y, CONFIDENTIAL, transform=ax.get_yaxis_transform(), va="center")
    benchmark = _benchmark(rows)
    if benchmark is not None:
        name, level = benchmark
        ax.axvline(level, color="#000000", linestyle="--", linewidth=1, label=f"{name} (benchmark)")
        _vs_legend(ax, shown)
    ax.set_yticks(np.arange(len(rows)), labels)
    ax.set_xlabel("People not in structured treatment (% of estimated people, 95% interval)")
    ax.set_ylabel("Area")
    title = f"Proportion not in treatment by area: {category_label(sub)}, {per}"
    ax.set_title(title)
    alt = (
        f"Dot plot of the percentage of estimated {category_label(sub)} users not in "
        f"structured treatment in {per}, one dot per area with its 95% interval, "
        f"{len(shown)} areas shown"
        + (f" and {len(hidden)} suppressed (marked [c])" if len(hidden) else "")
        + (f"; dashed line: {benchmark[0]}" if benchmark else "")
        + "."
    )
    return Chart(fig, title, alt)


def _vs_colours(rows: pd.DataFrame) -> list[str]:
    """One colour per row: by ``vs_benchmark`` when the table has it, else one colour."""
    if "vs_benchmark" not in rows:
        return [OKABE_ITO[0]] * len(rows)
    vs = rows["vs_benchmark"].astype("string").fillna("not_compared")
    return [VS_COLOURS.get(str(v), VS_COLOURS["not_compared"]) for v in vs]


def _vs_legend(ax: Any, rows: pd.DataFrame) -> None:
    """A legend of the benchmark line and the comparison colours present."""
    from matplotlib.lines import Line2D

    handles = list(ax.get_legend_handles_labels()[0])
    if "vs_benchmark" in rows:
        present = set(rows["vs_benchmark"].astype("string").fillna("not_compared"))
        for key, colour in VS_COLOURS.items():
            if key in present:
                label = (
                    f"{category_label(key)} than benchmark"
                    if key in ("higher", "lower")
                    else ("similar to benchmark" if key == "similar" else "not compared")
                )
                handles.append(Line2D([], [], marker="o", ls="", color=colour, label=label))
    ax.legend(handles=handles, loc="lower right", fontsize=8)


def _benchmark(rows: pd.DataFrame) -> tuple[str, float] | None:
    """The benchmark area and its shown value, when the table names one."""
    if "benchmark_area" not in rows or rows["benchmark_area"].isna().all():
        return None
    name = str(rows["benchmark_area"].dropna().iloc[0])
    mine = rows[rows["area"].astype(str) == name]["unmet_need_pct"].astype("Float64").dropna()
    return (name, float(mine.iloc[0])) if len(mine) else None


def trend(gap: pd.DataFrame, substance: str | None = None) -> Chart:
    """The gap over periods, one line per area; a suppressed point is not drawn, and
    ``[c]`` is written at the foot of its period instead."""
    sub = _pick(gap, "substance", substance, Mention("substance"))
    rows = gap[gap["substance"].astype(str) == sub]
    periods = sorted(rows["period"].astype(str).unique())
    fig = _figure(4.5)
    ax = fig.add_subplot()
    xpos = {p: i for i, p in enumerate(periods)}
    many = rows["area"].nunique() > len(OKABE_ITO)  # more areas than colours: grey, no legend
    for i, (area, part) in enumerate(rows.groupby("area", sort=True, observed=True)):
        part = part.assign(_x=part["period"].astype(str).map(xpos)).sort_values("_x")
        y = part["unmet_need_pct"].astype("Float64").fillna(np.nan).to_numpy(dtype=float)
        colour = "#999999" if many else OKABE_ITO[i % len(OKABE_ITO)]
        ax.plot(
            part["_x"].to_numpy(),
            y,
            marker="o",
            ms=3 if many else 6,
            lw=0.8 if many else 1.5,
            color=colour,
            label=str(area),
        )
    hidden = rows[rows["unmet_need_pct"].isna().to_numpy()]
    for p, n in hidden.groupby(hidden["period"].astype(str)).size().items():
        ax.text(
            xpos[str(p)],
            0.02,
            f"{n} {'area' if n == 1 else 'areas'} {CONFIDENTIAL}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(range(len(periods)), periods)
    ax.set_xlabel("Period (financial year or rolling 12 months to the quarter)")
    ax.set_ylabel("People not in structured treatment (%)")
    title = f"Proportion not in treatment over time: {category_label(sub)}"
    ax.set_title(title)
    if not many:
        ax.legend(title="Area", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    alt = (
        f"Line chart of the percentage of estimated {category_label(sub)} users not in "
        f"structured treatment from {periods[0]} to {periods[-1]}, one line per area"
        + (" (grey, without a legend: too many areas to tell apart)" if many else "")
        + "; suppressed values are not drawn and are counted as [c] at the foot of their period."
    )
    return Chart(fig, title, alt)


def bars(
    compare: pd.DataFrame, variable: str | None = None, group: dict[str, str] | None = None
) -> Chart:
    """Each cohort's % by category of one variable (in one within-group), with Wilson 95%
    intervals; a suppressed bar is not drawn and ``[c]`` stands at its foot."""
    from matplotlib.patches import Patch

    from unmetneed.outputs.table1 import within_columns

    var = _pick(compare, "variable", variable, Mention("variable"))
    rows = compare[compare["variable"].astype(str) == var]
    within = within_columns(compare)
    chosen = {**_fullest_group(rows, within), **(group or {})}
    for col in within:
        chosen[col] = _pick(rows, col, chosen.get(col), Mention("group", col))
        rows = rows[rows[col].astype(str) == chosen[col]]
    cohorts = list(dict.fromkeys(rows["cohort"].astype(str)))
    categories = list(dict.fromkeys(rows["category"].astype(str)))
    fig = _figure(4.0)
    ax = fig.add_subplot()
    width = 0.8 / max(len(cohorts), 1)
    handles: list[Any] = []
    for j, cohort in enumerate(cohorts):
        mine = rows[rows["cohort"].astype(str) == cohort]
        mine = mine.set_index(mine["category"].astype(str))
        xs = np.arange(len(categories)) + (j - (len(cohorts) - 1) / 2) * width
        pct = mine["pct"].astype("Float64").reindex(categories)
        known = pct.notna().to_numpy()
        y = pct.fillna(0).to_numpy(dtype=float)
        lo = mine["pct_lower"].astype("Float64").reindex(categories).fillna(np.nan)
        hi = mine["pct_upper"].astype("Float64").reindex(categories).fillna(np.nan)
        err = _whiskers(y, lo.to_numpy(dtype=float), hi.to_numpy(dtype=float))
        colour = OKABE_ITO[j % len(OKABE_ITO)]
        drawn = ax.bar(
            xs[known],
            y[known],
            width,
            color=colour,
            yerr=err[:, known],
            capsize=2,
            ecolor="#333333",
        )
        for k, patch in enumerate(drawn.patches):
            patch.set_gid(f"bar-{j}-{k}")  # one id per value drawn
        handles.append(Patch(color=colour, label=cohort))
        for x in xs[~known]:
            ax.text(
                x, 0.02, CONFIDENTIAL, transform=ax.get_xaxis_transform(), ha="center", fontsize=8
            )
    ax.set_xticks(range(len(categories)), [category_label(c) for c in categories])
    ax.set_xlabel(variable_label(var))
    ax.set_ylabel("People in the cohort group (%, 95% Wilson interval)")
    where = ", ".join(f"{variable_label(k)}: {category_label(v)}" for k, v in chosen.items())
    title = f"{variable_label(var)} by cohort" + (f" ({where})" if where else "")
    ax.set_title(title)
    ax.legend(handles=handles, title="Cohort", fontsize=8)
    alt = (
        f"Bar chart of the percentage of each cohort ({', '.join(cohorts)}) in each category "
        f"of {variable_label(var).lower()}"
        + (f" ({where})" if where else "")
        + ", with 95% intervals; suppressed values are not drawn and are marked [c]."
    )
    return Chart(fig, title, alt)


def _fullest_group(rows: pd.DataFrame, within: list[str]) -> dict[str, str]:
    """The first within-group in which every cohort has a shown percentage (the default
    group of ``bars``); none when no group has them all."""
    if not within:
        return {}
    shown = rows[rows["pct"].notna().to_numpy()]
    keys = shown[within].astype(str)
    cohorts = shown["cohort"].astype(str).groupby([keys[c] for c in within], sort=False).nunique()
    full = cohorts[cohorts == rows["cohort"].nunique()]
    if full.empty:
        return {}
    first = full.index[0] if len(within) > 1 else (full.index[0],)
    return dict(zip(within, (str(v) for v in first), strict=True))


def draw(table: pd.DataFrame, kind: str | None = None, **choices: Any) -> Chart:
    """The chart ``kind`` of a published table (default: caterpillar for gap, bars for
    compare)."""
    is_gap = "unmet_need_pct" in table
    kind = kind or ("caterpillar" if is_gap else "bars")
    if kind not in KINDS:
        raise OptionError("kind", kind, f"use one of {', '.join(KINDS)}", quoted=True)
    if kind in ("caterpillar", "trend") and not is_gap:
        raise OptionError("kind", kind, "needs a gap table (with unmet_need_pct)")
    if kind == "bars" and "variable" not in table:
        raise OptionError("kind", "bars", "needs a compare table (with variable and category)")
    import matplotlib

    with matplotlib.rc_context(_RC):
        if kind == "caterpillar":
            return caterpillar(table, choices.get("substance"), choices.get("period"))
        if kind == "trend":
            return trend(table, choices.get("substance"))
        return bars(table, choices.get("variable"), choices.get("group"))


def svg_text(chart: Chart, ident: str = "chart", inline: bool = False) -> str:
    """The chart as SVG text with its title and alt text inside (``<title>``, ``<desc>``,
    ids prefixed ``ident``); ``inline`` leaves out the XML prolog, for an HTML page."""
    import html

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        chart.figure.savefig(buf, format="svg", metadata=_NO_METADATA)
    text = buf.getvalue()
    if inline:  # HTML knows the SVG namespace: no URI left in the page
        text = text.replace(' xmlns="http://www.w3.org/2000/svg"', "").replace(
            ' xmlns:xlink="http://www.w3.org/1999/xlink"', ""
        )
    start = text.index("<svg")
    end = text.index(">", start) + 1
    label = f'<svg role="img" aria-labelledby="{ident}-title {ident}-desc" '
    head = text[start if inline else 0 : end].replace("<svg ", label, 1)
    inner = (
        f'<title id="{ident}-title">{html.escape(chart.title)}</title>'
        f'<desc id="{ident}-desc">{html.escape(chart.alt)}</desc>'
    )
    return head + inner + text[end:]


def save(chart: Chart, path: Path) -> Path:
    """Write ``chart`` as SVG, PNG (alt text in its metadata) or a one-chart HTML page."""
    import matplotlib

    from unmetneed.outputs.write import atomic_path

    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise OptionError("out", path, f"use a file ending in {', '.join(SUFFIXES)}")
    with atomic_path(path) as tmp:
        if suffix == ".png":
            with matplotlib.rc_context(_RC):
                chart.figure.savefig(
                    tmp,
                    format="png",
                    dpi=150,
                    metadata={"Title": chart.title, "Description": chart.alt, "Software": None},
                )
        elif suffix == ".svg":
            tmp.write_text(svg_text(chart), encoding="utf-8")
        else:
            tmp.write_text(
                page(chart.title, f"<figure>{svg_text(chart, inline=True)}</figure>"), "utf-8"
            )
    return path


def page(title: str, body: str) -> str:
    """A self-contained HTML page (no external files or URLs)."""
    import html

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "</head>\n<body>\n" + body + "\n</body>\n</html>\n"
    )


def _whiskers(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Error-bar lengths below and above each value (percentage points): missing bounds
    draw none, and a bound a hair past its value (a Wilson limit of 1e-16 beside a 0%,
    or an interval not holding its value) draws none on that side.

    >>> _whiskers(np.array([0.0, 50.0]), np.array([1e-16, 40.0]), np.array([9.0, np.nan]))
    array([[ 0., 10.],
           [ 9.,  0.]])
    """
    err = np.vstack([value - lower, upper - value])
    result: np.ndarray = np.clip(np.nan_to_num(err), 0.0, None)
    return result
