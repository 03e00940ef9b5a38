"""Published tables gathered for one workbook or report: titles, sheets and numbered notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from unmetneed.outputs.table1 import table1
from unmetneed.outputs.workbook import Cover, Sheet, sheet_from_table, sheet_name, write_workbook


@dataclass(frozen=True)
class Published:
    """One published table: its name, kind (``gap``, ``compare``...), frame and remarks;
    ``table1_digits`` (0 or 1) adds its Table 1 view (compare tables)."""

    name: str
    kind: str
    frame: pd.DataFrame
    remarks: tuple[str, ...] = ()
    table1_digits: int | None = None


def title_of(item: Published) -> str:
    """A readable title for a table."""
    if item.kind == "gap":
        return "Proportion of people not in structured treatment, by area and substance"
    if item.kind == "compare":
        cohorts = " and ".join(dict.fromkeys(item.frame["cohort"].astype(str)))
        return f"Characteristics of {cohorts} ({item.name})"
    return f"Table {item.name}"


def kind_of(frame: pd.DataFrame, meta: dict[str, object] | None = None) -> str:
    """What a published table is, from its metadata or its columns."""
    if meta and isinstance(meta.get("table"), str):
        return str(meta["table"])
    if "unmet_need_pct" in frame:
        return "gap"
    if {"cohort", "variable", "category"} <= set(frame.columns):
        return "compare"
    return "table"


def _as_published(remark: str) -> str:
    """A remark written for the terminal and files, as it reads beside ``[c]`` cells."""
    return remark.replace("are * in the terminal and blank in files", "are [c] here").replace(
        "* suppressed:", "[c] suppressed:"
    )


def sections(items: Sequence[Published]) -> tuple[list[Sheet], list[str]]:
    """Every table's sheet (and Table 1 sheet) and the notes of all of them, numbered in
    order: a table's ``remarks`` column refers to its own notes by their new numbers."""
    sheets: list[Sheet] = []
    notes: list[str] = []
    used = {"cover", "contents", "notes"}
    for item in items:
        first = len(notes) + 1
        notes.extend(f"{item.name}: {_as_published(r)}" for r in item.remarks)
        span = f"notes {first} to {len(notes)}" if len(notes) >= first else "no notes"
        label = sheet_name(item.name, used)
        note = f"See {span}."
        sheets.append(sheet_from_table(label, item.frame, title_of(item), first, note, item.name))
        if item.table1_digits is not None and item.kind == "compare":
            view = table1(item.frame, item.table1_digits).shown()
            sheets.append(
                Sheet(
                    sheet_name(f"T1 {item.name.removeprefix('compare-')}", used),
                    f"Table 1: {title_of(item)}",
                    view,
                    description=f"Percentages rounded half up. See {span}.",
                )
            )
    return sheets, notes


def publish_workbook(path: Path, items: Sequence[Published], cover: Cover) -> Path:
    """One accessible workbook of every table in ``items``."""
    sheets, notes = sections(items)
    return write_workbook(path, sheets, notes, cover)
