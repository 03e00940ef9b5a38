"""Tables of the same people read two ways are one population of their release
(``unmetneed.disclosure.identity``): a gap from published counts (``data/sample/counts.csv``,
extract.csv counted, with suppressed counts) and tables from the extract.

The attack on the published files is ``test_redteam_more``'s
(``test_counts_file_gap_and_record_gap_in_one_release``); these tests pin what the register
and the commands do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from redteam import scenarios as sc

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _gap(source: Path, out: Path, release: Path, *extra: str) -> sc.Step:
    """One gap command of 2024/25 into ``release``, whatever its exit code."""
    args = ["gap", "--treatment", source, "--prevalence", SAMPLE / "prevalence.csv",
            "--period", sc.PERIOD, "--total", "All areas", *extra, "--out", out,
            "--release", release]  # fmt: skip
    proc = sc.run(args)
    return sc.Step([str(a) for a in args], proc.returncode, proc.stdout, proc.stderr)


def _pops(release: Path) -> list[tuple[set[str], set[str]]]:
    """Per registered table, the populations its definitions and its facts name."""
    tables = json.loads((release / "register.json").read_text(encoding="utf-8"))["tables"]
    return [
        ({d[0] for d in t["defs"] if d}, {d[0] for d in t.get("facts", []) if d}) for t in tables
    ]


def test_records_after_published_counts_are_their_people(tmp_path: Path) -> None:
    """A gap from the counts, then a gap and a compare from the extract: the counts gap's
    exact cells are kept as facts, and the extract's tables take their population's name;
    `audit --release` checks them together and passes."""
    rel = tmp_path / "rel"
    counts = _gap(SAMPLE / "counts.csv", tmp_path / "c.parquet", rel, "--suppressed-max", "4")
    records = _gap(SAMPLE / "extract.csv", tmp_path / "r.parquet", rel)
    assert counts.returncode == 0 and records.returncode == 0, counts.stderr + records.stderr
    h = tmp_path / "h.parquet"
    sc.cli(["compare", "--cohort", f"NDTMS={SAMPLE / 'extract.csv'}", "--by", "housing",
            "--within", "area", "--out", str(h), "--release", str(rel)])  # fmt: skip
    (i_defs, i_facts), (c_defs, c_facts), (r_defs, _), (h_defs, _) = _pops(rel)
    assert not i_defs and i_facts == c_facts  # counts.csv itself, then the gap from it
    assert not c_defs and len(c_facts) == 1  # untied: suppressed counts, no records
    assert r_defs == c_facts and c_facts <= h_defs
    assert sc.run(["audit", "--release", rel]).returncode == 0


def test_a_counts_files_stars_are_learned_from_the_records(tmp_path: Path) -> None:
    """counts.csv is registered as a table someone else published: a cell per row, each
    a range (a count v is v..v; '*' 1..4, its true value not known: -1), none shown by this
    release's rule; once the record gap joins, the register knows the '*', and they are the
    extract's counts of those rows."""
    rel = tmp_path / "rel"
    assert _gap(SAMPLE / "counts.csv", tmp_path / "c.parquet", rel, "--suppressed-max", "4")
    first = json.loads((rel / "register.json").read_text(encoding="utf-8"))["tables"][0]
    stars = [c for c, lo, hi in first["bounds"] if lo < hi]
    assert first["source"] == "input" and [first["bounds"][c][1:] for c in stars] == [[1, 4]] * 8
    assert [first["true"][c] for c in stars] == [-1] * 8
    exact = [(c, lo) for c, lo, hi in first["bounds"] if lo == hi]
    assert len(exact) + 8 == len(first["true"]) and all(first["true"][c] == v for c, v in exact)
    assert set(first["shown"]) == {None}
    assert _gap(SAMPLE / "extract.csv", tmp_path / "r.parquet", rel).returncode == 0
    learned = json.loads((rel / "register.json").read_text(encoding="utf-8"))["tables"][0]
    counts = pd.read_csv(SAMPLE / "counts.csv", dtype=str, keep_default_na=False)
    starred = counts[counts["count"] == "*"]
    extract = sc.read_records(SAMPLE / "extract.csv")
    keys = ["period", "area", "drug_group", "crack"]
    found = extract.groupby(keys).size().reindex(pd.MultiIndex.from_frame(starred[keys]))
    want = {
        (p, a, f"{g}|{'yes' if c == 'true' else 'no'}"): n
        for (p, a, g, c), n in zip(starred[keys].to_numpy().tolist(), found.tolist(), strict=True)
    }
    facts = [learned["facts"][c][1] for c in stars]
    got = {
        (f["period"][0], f["area"][0], f["dgc"][0]): learned["true"][c]
        for c, f in zip(stars, facts, strict=True)
    }
    assert got == want and all(1 <= n <= 4 for n in want.values())


def test_published_counts_after_records_are_refused(tmp_path: Path) -> None:
    """The other way round the counts gap cannot be protected against the record gap (it
    has no records): exit 4 naming what to do, nothing written, the register unchanged."""
    rel = tmp_path / "rel"
    assert _gap(SAMPLE / "extract.csv", tmp_path / "r.parquet", rel).returncode == 0
    before = (rel / "register.json").read_bytes()
    out = tmp_path / "c.parquet"
    step = _gap(SAMPLE / "counts.csv", out, rel, "--suppressed-max", "4")
    assert step.returncode == 4, step.stderr
    assert "same people" in step.stderr and "another release" in step.stderr
    assert "Traceback" not in step.stderr
    assert not out.exists() and (rel / "register.json").read_bytes() == before


def test_counts_of_other_people_stay_apart(tmp_path: Path) -> None:
    """Counts that differ in one cell (Northton's opiate users with crack, 2024/25, one
    more) are not the extract's people: the record gap keeps its own population, nothing
    is refused, and stderr says they were protected apart."""
    frame = pd.read_csv(SAMPLE / "counts.csv", dtype=str, keep_default_na=False)
    row = (frame["period"] == sc.PERIOD) & (frame["area"] == "Northton")
    row &= (frame["drug_group"] == "opiate") & (frame["crack"] == "true")
    assert row.sum() == 1
    frame.loc[row, "count"] = str(int(frame.loc[row, "count"].iloc[0]) + 1)
    other = tmp_path / "other_counts.csv"
    frame.to_csv(other, index=False)
    rel = tmp_path / "rel"
    assert _gap(other, tmp_path / "c.parquet", rel, "--suppressed-max", "4").returncode == 0
    step = _gap(SAMPLE / "extract.csv", tmp_path / "r.parquet", rel)
    assert step.returncode == 0, step.stderr
    assert "counts other people than earlier tables" in step.stderr  # and why it matters
    (_, i_facts), (_, c_facts), (r_defs, _) = _pops(rel)
    assert i_facts == c_facts and r_defs and not (c_facts & r_defs)


def test_published_counts_again_after_their_records_are_refused(tmp_path: Path) -> None:
    """Counts gap, record gap (now the counts' people), then the counts gap once more: the
    release now holds tables of the records, which published counts cannot be protected
    against: exit 4 saying so (not a bug report), nothing written."""
    rel = tmp_path / "rel"
    counts = ("--suppressed-max", "4")
    assert _gap(SAMPLE / "counts.csv", tmp_path / "c.parquet", rel, *counts).returncode == 0
    assert _gap(SAMPLE / "extract.csv", tmp_path / "r.parquet", rel).returncode == 0
    out = tmp_path / "again.parquet"
    step = _gap(SAMPLE / "counts.csv", out, rel, *counts)
    assert step.returncode == 4, step.stderr
    assert "published counts" in step.stderr and "bug" not in step.stderr
    assert not out.exists()


def test_a_grown_cohort_is_not_differenced(tmp_path: Path) -> None:
    """The out-of-treatment cohort file of the next quarter holds last quarter's 70 people
    and 2 more (in Northton, housing no_problem). Both quarters' compare tables by housing
    within area into one release: no shown count or denominator of the grown cohort may
    differ from last quarter's by 1..K, or the new people's small group shows by
    difference (protected apart: Northton's denominator 38, then 40: 2 new people, both
    no_problem: 30, then 32). The release kept the first file's people, so the grown file
    is that population with a wave of people added (:mod:`unmetneed.disclosure.growth`)."""
    cohort = pd.read_csv(SAMPLE / "cohort_ootu.csv", dtype=str, keep_default_na=False)
    grown = tmp_path / "cohort_grown.csv"
    pd.concat([cohort, cohort.iloc[[0, 0]]]).to_csv(grown, index=False)
    rel, out = tmp_path / "rel", {}
    for name, path in (("q1", SAMPLE / "cohort_ootu.csv"), ("q2", grown)):
        out[name] = tmp_path / f"{name}.csv"
        sc.cli(["compare", "--cohort", f"NDTMS={SAMPLE / 'extract.csv'}", "--cohort",
                f"OOTU={path}", "--by", "housing", "--within", "area", "--out",
                str(out[name]), "--release", str(rel)])  # fmt: skip
    q1, q2 = (pd.read_csv(out[n]) for n in ("q1", "q2"))
    both = q1.merge(q2, on=["cohort", "area", "variable", "category"], suffixes=("1", "2"))
    both = both[both["cohort"] == "OOTU"]
    small = []
    for column in ("count", "denominator"):
        diff = (both[f"{column}2"] - both[f"{column}1"]).abs()
        hit = both[diff.between(1, 3)]
        small += [f"{r.area} {r.category} {column}: {diff[i]:.0f}" for i, r in hit.iterrows()]
    assert not small, "the new people of a grown cohort, by difference:\n" + "\n".join(small)


def test_published_population_names_are_places_not_fingerprints(tmp_path: Path) -> None:
    """A population's own name is a hash of its people's counts, which an attacker can
    search for (hash every table the published totals allow). Published metadata names
    populations by kind and place in the release (treatment:1, cohort:1); the register
    (restricted) keeps the real names, and `audit FILES --release DIR` ties the two."""
    rel = tmp_path / "rel"
    gap, cmp = tmp_path / "g.parquet", tmp_path / "h.csv"
    assert _gap(SAMPLE / "extract.csv", gap, rel).returncode == 0
    sc.cli(["compare", "--cohort", f"NDTMS={SAMPLE / 'extract.csv'}", "--cohort",
            f"OOTU={SAMPLE / 'cohort_ootu.csv'}", "--by", "housing", "--within", "area",
            "--out", str(cmp), "--release", str(rel)])  # fmt: skip
    meta = json.loads((tmp_path / "h.csv.meta.json").read_text(encoding="utf-8"))
    published = {d[0] for d in meta["disclosure"]["defs"] if d}
    assert published == {"treatment:1", "cohort:1"}
    real = set().union(*(defs for defs, _ in _pops(rel)))
    assert len(real) == 2 and not real & published
    text = (tmp_path / "h.csv.meta.json").read_text(encoding="utf-8")
    assert not any(name.split(":")[1] in text for name in real)
    assert sc.run(["audit", gap, cmp, "--release", rel]).returncode == 0
