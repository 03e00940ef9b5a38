"""Red team (this session): findings on compare's zero rows, the group-disclosure rule and
quarterly releases. Each test runs the CLI into a temporary folder; a failing test is a
leak found by the red team. None is marked xfail.

CONTRACT 4.3/4.4: nothing published lets anyone narrow a suppressed count below K; `audit`
proves it; tables of one release (quarterly runs into one --release / [disclosure]
release) are protected together. A hidden count is read as >= 1 unless the table's
remarks say it may be 0 (in a group whose size is suppressed, or a suppressed
denominator).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redteam import attacker as atk
from redteam import scenarios as sc

COMPARES = [
    sc.compare_toml("disability-housing", ["disability", "housing"], ["substance_cohort"]),
    sc.compare_toml("age-sex-by-area", ["age", "sex"], ["area"], age_bands="18-29,30-39,40-49,50+"),
    sc.compare_toml("housing-area-sex", ["housing"], ["area", "sex"]),
    sc.compare_toml("housing-area-cohort", ["housing"], ["area", "substance_cohort"]),
]


def _quarters(tmp: Path, n: int) -> list[Path]:
    """Quarterly runs of the sample raw records (each quarter drops a random ~4% of the
    people), every run into the same release folder. Returns each quarter's output dir."""
    raw = pd.read_csv(sc.SAMPLE / "raw_records.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(7)
    outs = []
    for q in range(1, n + 1):
        keep = rng.random(len(raw)) > 0.04
        r = raw[keep].copy()
        r["period"] = f"2024/25 Q{q}"
        path = tmp / f"raw_Q{q}.csv"
        r.to_csv(path, index=False)
        out = tmp / f"out_Q{q}"
        cfg = sc.run_config(out, raw=path, period=f"2024/25 Q{q}", compares=COMPARES)
        cfg = cfg.replace(
            "[disclosure]\nk = 3", f"[disclosure]\nk = 3\nrelease = {sc.toml_str(tmp / 'rel')}"
        )
        (tmp / f"Q{q}.toml").write_text(cfg, encoding="utf-8")
        sc.cli(["run", tmp / f"Q{q}.toml"])
        outs.append(out)
    return outs


def _audit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*sc.cli_command(), "audit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


def _narrow_blocks(table: pd.DataFrame, within: list[str], k: int = 3) -> list[str]:
    """Plain arithmetic on one compare table: in a block (cohort x within x variable) whose
    denominator is shown, the hidden counts add up to denominator - shown counts; read
    each as >= 1 (zeros are shown where the group's size is), a hidden count lies in
    [1, rest - (hidden - 1)]. Narrower than K is a leak."""
    found = []
    keys = ["cohort", *within, "variable"]
    for key, b in table.groupby(keys, dropna=False):
        den = b["denominator"].dropna().unique()
        if len(den) != 1:
            continue
        hidden = b["count"].isna()
        if not hidden.any():
            continue
        rest = int(den[0] - b.loc[~hidden, "count"].sum())
        hi = rest - (int(hidden.sum()) - 1)
        if hi - 1 < k:
            cats = ", ".join(b.loc[hidden, "category"])
            found.append(f"{dict(zip(keys, key, strict=True))}: hidden {cats} each in 1..{hi}")
    return found


def test_quarter_two_after_quarter_one_in_one_release_is_narrowed(tmp_path: Path) -> None:
    """Q1 then Q2 of 2024/25 (the sample raw records, ~4% of people dropped per quarter)
    run with the sample's kind of compare tables into one release. Found: Q2's
    compare-disability-housing shows NDTMS crack_no_opiate disability_learning no = 54 of
    57, hiding yes (true 2) and not_stated (true 1): they add up to 3, so each is 1..2.
    The tool's own `audit` of Q2's published files, and `audit --release`, fail (exit 4)
    with the same two cells narrowed to [1, 2]; `run` exited 0. Q2 run alone, or into a
    fresh release, is safe: the earlier quarter's register changes Q2's pattern."""
    outs = _quarters(tmp_path, 2)
    pub = sc.publish_dir(outs[1])
    frame = pd.read_parquet(pub / "compare-disability-housing.parquet")
    leaks = _narrow_blocks(frame, ["substance_cohort"])
    audit = _audit(*sorted(pub.glob("*.parquet")))
    problems = []
    if leaks:
        problems.append("hidden counts narrowed below 3 by arithmetic: " + "; ".join(leaks))
    if audit.returncode != 0:
        problems.append(
            f"the tool's own audit of Q2's tables exits {audit.returncode}: "
            + audit.stderr.strip()[-600:]
        )
    assert not problems, "\n".join(problems)


def test_hidden_true_zero_where_the_remarks_say_counts_are_at_least_one(tmp_path: Path) -> None:
    """One quarterly run with compare by age/sex within area and by housing within area x
    sex. In compare-age-sex-by-area, OOTU Southwick sex=not_stated is hidden (true 0)
    beside a shown group size (27): its remarks say only that zeros are hidden where the
    group's size is hidden, so a hidden count here reads as >= 1. It is hidden because
    compare-housing-area-sex hides the same 0 as a denominator ("a suppressed denominator
    may be 0"), but nothing says so in the table that hides it: the independent
    attacker's self check fails on the true records."""
    outs = _quarters(tmp_path, 1)
    pub = sc._publication([sc.publish_dir(outs[0])], None)
    truth = {
        "NDTMS": sc.read_records(sc.restricted_extract(outs[0])),
        "OOTU": sc.ootu_records(),
    }
    try:
        atk.attack(
            pub.tables,
            manifest=pub.manifest,
            texts=pub.texts,
            truth=truth,
            policy=atk.policy_from_manifest(pub.manifest),
            check_atoms=False,
        )
    except atk.SelfCheckError as e:
        pytest.fail(f"a hidden true zero the remarks do not allow for:\n{e}", pytrace=False)


# The a x b x c counts of a small synthetic table (numpy default_rng(16): Poisson(1.2),
# 40% zeros), published as its three two-way margins with Total rows.
CUBE_16 = {
    "ab": "a,b,count\na0,b0,2\na0,b1,0\na0,b2,5\na0,b3,2\na0,Total,9\na1,b0,1\na1,b1,8\n"
    "a1,b2,2\na1,b3,0\na1,Total,11\na2,b0,0\na2,b1,0\na2,b2,1\na2,b3,3\na2,Total,4\na3,b0,1\n"
    "a3,b1,2\na3,b2,0\na3,b3,1\na3,Total,4\na4,b0,3\na4,b1,1\na4,b2,2\na4,b3,0\na4,Total,6\n"
    "Total,b0,7\nTotal,b1,11\nTotal,b2,10\nTotal,b3,6\nTotal,Total,34\n",
    "ac": "a,c,count\na0,c0,3\na0,c1,5\na0,c2,1\na0,Total,9\na1,c0,6\na1,c1,5\na1,c2,0\n"
    "a1,Total,11\na2,c0,2\na2,c1,2\na2,c2,0\na2,Total,4\na3,c0,2\na3,c1,2\na3,c2,0\na3,Total,4\n"
    "a4,c0,4\na4,c1,1\na4,c2,1\na4,Total,6\nTotal,c0,17\nTotal,c1,15\nTotal,c2,2\nTotal,Total,34\n",
    "bc": "b,c,count\nb0,c0,4\nb0,c1,1\nb0,c2,2\nb0,Total,7\nb1,c0,5\nb1,c1,6\nb1,c2,0\n"
    "b1,Total,11\nb2,c0,5\nb2,c1,5\nb2,c2,0\nb2,Total,10\nb3,c0,3\nb3,c1,3\nb3,c2,0\nb3,Total,6\n"
    "Total,c0,17\nTotal,c1,15\nTotal,c2,2\nTotal,Total,34\n",
}


def test_suppress_margins_of_one_table_into_one_release(tmp_path: Path) -> None:
    """Three `suppress --total-row --release DIR` commands on the a x b, a x c and b x c
    margins of one table (the same 34 people; the grand totals match, and the c totals of
    a x c and b x c are the same cells). Each suppress table is its own population in the
    release (a fingerprint of its rows), so they are protected apart. Found: a x c hides
    c1's total (15) that b x c shows, b x c hides c0's (17) that a x c shows; so c2's total
    = 34 - 17 - 15 = 2, a small count hidden in both, is worked out exactly (and a x b hides
    nothing that b x c does not show: b totals). `audit --release DIR` passes (exit 0)."""
    rel = tmp_path / "rel"
    pub = {}
    for name, text in CUBE_16.items():
        src = tmp_path / f"{name}.csv"
        src.write_text(text, encoding="utf-8")
        out = tmp_path / f"{name}.out.csv"
        sc.cli(["suppress", src, "--total-row", "--out", out, "--release", rel])
        pub[name] = pd.read_csv(out, dtype=str, keep_default_na=False)

    def shown(name: str, dim: str) -> dict[str, int]:
        f = pub[name]
        other = next(c for c in f.columns if c not in (dim, "count", "suppressed"))
        rows = f[(f[other] == "Total") & (f["count"] != "")]
        return {r[dim]: int(r["count"]) for _, r in rows.iterrows()}

    c_totals = {**shown("ac", "c"), **shown("bc", "c")}
    grand = c_totals.pop("Total")
    hidden_in_both = [
        c for c in ("c0", "c1", "c2") if c not in shown("ac", "c") and c not in shown("bc", "c")
    ]
    recovered = {}
    if len(hidden_in_both) == 1 and len(c_totals) == 2:
        recovered[hidden_in_both[0]] = grand - sum(c_totals.values())
    assert not recovered, (
        f"c totals worked out exactly from the release's published tables: {recovered} "
        f"(shown by a x c: {shown('ac', 'c')}, by b x c: {shown('bc', 'c')})"
    )
