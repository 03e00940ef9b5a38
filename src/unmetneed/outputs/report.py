"""The self-contained HTML report: every table, its Table 1 view, charts (inline SVG),
notes and the key to ``[c]`` and ``[x]``; no external file, font, script or URL."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.outputs.bundle import Published, sections, title_of
from unmetneed.outputs.labels import KEY
from unmetneed.outputs.workbook import Cover, Sheet

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111; background: #fff; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
caption { text-align: left; font-weight: bold; padding: 0.25rem 0; }
th, td { border: 1px solid #999; padding: 0.2rem 0.4rem; }
th { background: #e8eef4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; max-width: 60rem; }
figure svg { width: 100%; height: auto; }
.scroll { overflow-x: auto; }
"""


def _cell(value: Any, fmt: str | None) -> tuple[str, bool]:
    """A cell's text and whether it is a number (numbers formatted as the workbook does)."""
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int | float) and not pd.isna(value):
        if fmt == "#,##0":
            return f"{float(value):,.0f}", True
        if fmt == "#,##0.0":
            return f"{float(value):,.1f}", True
        if fmt == "0.000":
            return f"{float(value):.3f}", True
        if fmt == "0.00":
            return f"{float(value):.2f}", True
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}", True
    return str(value), False


def table_html(sheet: Sheet, ident: str) -> str:
    """One sheet as an HTML table with a caption and column headers."""
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in sheet.frame.columns)
    body = []
    fmts = [sheet.formats.get(str(c)) for c in sheet.frame.columns]
    for record in sheet.frame.itertuples(index=False):
        cells = []
        for value, fmt in zip(record, fmts, strict=True):
            text, number = _cell(value, fmt)
            cls = ' class="num"' if number or text in ("[c]", "[x]") else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = html.escape(sheet.title)
    note = f"<p>{html.escape(sheet.description)}</p>" if sheet.description else ""
    return (
        f'<section id="{ident}"><h2>{caption}</h2>{note}<div class="scroll"><table>'
        f"<caption>{caption}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def charts_for(item: Published) -> list[Any]:
    """The charts of a table: caterpillar (and trend over several periods) per substance
    for gap; bars of each variable for the first within-group of a compare table."""
    from unmetneed.outputs.charts import draw

    frame = item.frame
    if item.kind == "gap":
        out = []
        for sub in dict.fromkeys(frame["substance"].astype(str)):
            for period in dict.fromkeys(frame["period"].astype(str)):
                out.append(draw(frame, "caterpillar", substance=sub, period=period))
            if frame["period"].nunique() > 1:
                out.append(draw(frame, "trend", substance=sub))
        return out
    if item.kind == "compare":
        return [
            draw(frame, "bars", variable=v) for v in dict.fromkeys(frame["variable"].astype(str))
        ]
    return []


def render(items: Sequence[Published], cover: Cover) -> str:
    """The report as one HTML page."""
    from unmetneed.outputs.charts import page, svg_text

    sheets, notes = sections(items)
    parts = [f"<header><h1>{html.escape(cover.title)}</h1>"]
    facts = [
        ("Period", cover.period or "as in each table"),
        ("Source", cover.source),
        ("Disclosure control", cover.rule),
        ("Contact", cover.contact),
    ]
    parts.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in facts))
    parts.append("</dl></header><main>")
    parts.append("<h2>Key</h2><ul>")
    parts.extend(f"<li><b>{s}</b>: {html.escape(m)}</li>" for s, m in KEY)
    parts.append("</ul><h2>Contents</h2><ol>")
    parts.extend(
        f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sheets)
    )
    parts.append('<li><a href="#notes">Notes</a></li></ol>')
    by_name = {item.name: item for item in items}
    n_chart = 0
    for i, sheet in enumerate(sheets):
        parts.append(table_html(sheet, f"s{i}"))
        item = by_name.get(sheet.of)
        if item is None:
            continue
        for chart in charts_for(item):
            parts.append(f"<figure>{svg_text(chart, f'c{n_chart}', inline=True)}")
            parts.append(f"<figcaption>{html.escape(chart.alt)}</figcaption></figure>")
            n_chart += 1
            chart.figure.clear()
    parts.append('<section id="notes"><h2>Notes</h2><ol>')
    parts.extend(f"<li>{html.escape(n)}</li>" for n in notes)
    parts.append("</ol></section></main>")
    body = f"<style>{STYLE}</style>\n" + "\n".join(parts)
    return page(cover.title or title_of(items[0]), body)


def publish_report(path: Path, items: Sequence[Published], cover: Cover) -> Path:
    """Write the report to ``path`` (atomically)."""
    from unmetneed.outputs.write import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(render(items, cover), encoding="utf-8")
    return path
