"""More red-team scenarios: where tests/test_redteam.py does not look.

Each test runs the CLI into a temporary folder and attacks what it published with the
independent attacker (tests/redteam/attacker.py; its self check against the true records
raises on a wrong parse), or checks by plain arithmetic. A failing test here is a leak (or
a crash) found by the red team; none is marked xfail.

CONTRACT 4.3-4.4: tables that count the same people are protected together however they
were made; nothing published (tables, metadata, the terminal) lets anyone work out a
suppressed count, narrow it below the protection width, or see that a hidden group shares
one category; damaged metadata or a damaged register is exit 2 with the file named, never
a traceback (exit 1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redteam import attacker as atk
from redteam import scenarios as sc

SAMPLE = sc.SAMPLE
OOTU = SAMPLE / "cohort_ootu.csv"


# --------------------------------------------------------------------------------------
# helpers


def _run(args: list[object]) -> subprocess.CompletedProcess[str]:
    """One CLI command, whatever its exit code."""
    return sc.run(args)


def _assert_no_leak(name: str, report: atk.Report) -> None:
    problems = report.leaks()
    if problems:
        pytest.fail(f"{name}: " + "; ".join(problems) + "\n" + report.summary(12), pytrace=False)


def _attack_folder(
    folder: Path, truth: dict[str, pd.DataFrame], steps: list[sc.Step], **kwargs: object
) -> atk.Report:
    pub = sc._publication([folder], None)
    texts = {**pub.texts, **sc._texts_of(steps)}
    return atk.attack(pub.tables, manifest=pub.manifest, texts=texts, truth=truth, **kwargs)


def _compare(
    extract: Path,
    out: Path,
    release: Path,
    *options: object,
    ootu: Path | None = None,
) -> sc.Step:
    args: list[object] = ["compare", "--cohort", f"NDTMS={extract}"]
    if ootu is not None:
        args += ["--cohort", f"OOTU={ootu}"]
    return sc.cli([*args, *options, "--out", out, "--release", release])


# --------------------------------------------------------------------------------------
# 1. The same people read from two files are two populations to the release


def test_same_extract_as_csv_and_parquet_is_protected_as_one_release(tmp_path: Path) -> None:
    """The 2024/25 sample extract as CSV and as a Parquet copy of the same rows: one table
    from each into one --release. The release names a population by its file's sha256, so
    the Parquet tables are protected as if they counted other people. Found: 36 hidden
    counts exact (e.g. Midford opiate_and_crack: no_problem 10, housing_problem 2,
    urgent 2, not_stated 1), 18 narrowed, one group disclosure."""
    csv = sc.period_extract(tmp_path, sc.PERIOD)
    parquet = tmp_path / "extract.parquet"
    pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(parquet, index=False)
    pub, rel = tmp_path / "publish", tmp_path / "release"
    pub.mkdir()
    steps = [
        _compare(csv, pub / "by-area-cohort.parquet", rel, "--by", "housing",
                 "--within", "area", "--within", "substance_cohort"),
        _compare(parquet, pub / "by-area.parquet", rel, "--by", "housing", "--within", "area"),
        _compare(parquet, pub / "by-cohort.parquet", rel, "--by", "housing",
                 "--within", "substance_cohort"),
    ]  # fmt: skip
    report = _attack_folder(pub, {"NDTMS": sc.read_records(csv)}, steps)
    _assert_no_leak("csv + parquet of one extract", report)


def test_table_from_the_restricted_extract_joins_the_run_release(tmp_path: Path) -> None:
    """`run` with [extract] and release = DIR publishes housing by area x substance_cohort;
    later an analyst makes two tables from the run's own restricted/extract.parquet with
    --release DIR (README: restricted/ holds the extract and the register). The run names
    the extract's people by a fingerprint of its frame, the later commands by the file's
    sha256: two populations, no protection between them. Found: 44 hidden counts exact
    (e.g. Eastbury opiate_no_crack not_stated 1, crack_no_opiate urgent 2), 8 narrowed."""
    rel = tmp_path / "release"
    table = sc.compare_toml(
        "housing-by-area-cohort", ("housing",), ("area", "substance_cohort"),
        cohorts={"NDTMS": "extract"},
    )  # fmt: skip
    config = sc.run_config(
        tmp_path / "run", compares=[table], raw=SAMPLE / "raw_records.csv", gap=False
    )
    config = config.replace("[disclosure]\n", f"[disclosure]\nrelease = {sc.toml_str(rel)}\n")
    (tmp_path / "q.toml").write_text(config, encoding="utf-8")
    steps = [sc.cli(["run", tmp_path / "q.toml"])]
    extract = tmp_path / "run" / "restricted" / "extract.parquet"
    pub = tmp_path / "run" / "publish"
    steps.append(
        _compare(extract, pub / "compare-housing-by-area.parquet", rel,
                 "--by", "housing", "--within", "area")
    )  # fmt: skip
    steps.append(
        _compare(extract, pub / "compare-housing-by-cohort.parquet", rel,
                 "--by", "housing", "--within", "substance_cohort")
    )  # fmt: skip
    report = _attack_folder(pub, {"NDTMS": sc.read_records(extract)}, steps)
    _assert_no_leak("run + tables from restricted/extract.parquet", report)


def test_counts_file_gap_and_record_gap_in_one_release(tmp_path: Path) -> None:
    """data/sample/counts.csv is extract.csv counted (README of data/sample). A gap from
    each, --period 2024/25, into one --release: the counts gap's cells are 'not tied to
    people', so the record gap is not protected against it. The record gap hides opiate
    in Midford and Westmere (so that opiate_crack - opiate, crack without opiates, stays
    hidden); the counts gap shows both (34, 131), so Midford's non-opiate crack users are
    36 - 34 = 2."""
    pub, rel = tmp_path / "publish", tmp_path / "release"
    pub.mkdir()
    steps = []
    for name, source, extra in (
        ("gap-counts", SAMPLE / "counts.csv", ["--suppressed-max", "4"]),
        ("gap-records", SAMPLE / "extract.csv", []),
    ):
        steps.append(
            sc.cli(
                ["gap", "--treatment", source, "--prevalence", SAMPLE / "prevalence.csv",
                 "--period", sc.PERIOD, "--total", "All areas", *extra,
                 "--out", pub / f"{name}.parquet", "--release", rel]
            )
        )  # fmt: skip
    records = pd.read_parquet(pub / "gap-records.parquet")
    counts = pd.read_parquet(pub / "gap-counts.parquet")
    both = records.merge(counts, on=["area", "substance"], suffixes=("", "_counts"))
    given_away = both[both["in_treatment"].isna() & both["in_treatment_counts"].notna()]
    report = _attack_folder(pub, {"NDTMS": sc.read_records(SAMPLE / "extract.csv")}, steps)
    pinned = [f for f in report.exact + report.narrow if f.table == "gap-records.parquet"]
    assert given_away.empty and not pinned, (
        "the record gap's suppressed counts are shown by the counts gap of the same release:\n"
        + given_away[["area", "substance", "in_treatment_counts"]].to_string()
        + "\n"
        + "\n".join(map(str, pinned))
    )


def test_exclude_not_stated_age_denominators_are_the_group_sizes(tmp_path: Path) -> None:
    """Two compare commands on one 41-person extract (the fuzzer's world 123) into one
    --release: NDTMS by substance_cohort, then age by substance_cohort with
    --exclude-not-stated. age_band is never missing in a treatment extract, so a
    stated-age denominator is the group's size; the first table hides opiate_and_crack,
    crack_no_opiate and other_non_opiate, the second shows them as denominators: 7, 6, 6
    (true 7, 6, 6). In one `run` the same two tables are protected; across --release they
    are not, and without --exclude-not-stated they are."""
    rng = np.random.default_rng(123)
    n, areas, n_ootu = (int(rng.integers(a, b)) for a, b in ((40, 160), (2, 4), (8, 40)))
    extract, _ = sc.random_world(rng, n, areas, n_ootu)
    path = tmp_path / "extract.csv"
    extract.to_csv(path, index=False)
    pub, rel = tmp_path / "publish", tmp_path / "release"
    pub.mkdir()
    steps = [
        _compare(path, pub / "by-cohort.csv", rel, "--by", "substance_cohort"),
        _compare(path, pub / "age-by-cohort.csv", rel, "--by", "age", "--within",
                 "substance_cohort", "--age-bands", "18-24,25-39,40+", "--exclude-not-stated"),
    ]  # fmt: skip
    report = _attack_folder(pub, {"NDTMS": extract}, steps)
    _assert_no_leak("substance_cohort, then age by it excluding not_stated", report)


# --------------------------------------------------------------------------------------
# 2. suppress: totals it does not recognise


def _lone_hidden(frame: pd.DataFrame, label: str) -> list[str]:
    """Cells of an area x sex table that a shown ``label`` row or column pins: the only
    suppressed cell beside a shown total."""
    frame = frame.assign(count=pd.to_numeric(frame["count"], errors="coerce"))
    out = []
    for dim, other in (("area", "sex"), ("sex", "area")):
        for key, block in frame.groupby(dim):
            if key == label:
                continue
            total = block[block[other] == label]["count"]
            parts = block[block[other] != label]
            hidden = parts[parts["count"].isna()]
            if len(total) == 1 and not np.isnan(total.iloc[0]) and len(hidden) == 1:
                known = total.iloc[0] - parts["count"].sum()
                out.append(f"{dim}={key} {other}={hidden[other].iloc[0]}: {known:g}")
    return out


@pytest.mark.parametrize("how", ["label-all", "wrong-total-label"])
def test_suppress_never_publishes_totals_it_did_not_protect(tmp_path: Path, how: str) -> None:
    """counts_by_area_sex.csv with its totals labelled 'All' (ONS style), or the shipped file
    with --total-row --total-label All (a wrong label): the tool refuses rows labelled
    'Total' without --total-row, but not these, and protects the table as if it had no
    totals. Found: Eastbury not_stated = 350 - 237 - 110 - 0 = 3 (true 3), Westmere other
    = 278 - 176 - 101 - 0 = 1 (true 1); `audit` passes the table."""
    source = SAMPLE / "counts_by_area_sex.csv"
    if how == "label-all":
        table = tmp_path / "by_area_sex.csv"
        table.write_text(source.read_text(encoding="utf-8").replace("Total", "All"))
        args: list[object] = ["suppress", table, "--k", "3"]
        label = "All"
    else:
        args = ["suppress", source, "--k", "3", "--total-row", "--total-label", "All"]
        label = "Total"
    out = tmp_path / "protected.csv"
    proc = _run([*args, "--out", out])
    if proc.returncode == 2:
        assert not out.exists()
        return  # refused as rows that look like totals: fine
    assert proc.returncode == 0, proc.stderr
    pinned = _lone_hidden(pd.read_csv(out, dtype=str, keep_default_na=False), label)
    assert not pinned, "suppressed counts worked out from the table's own totals: " + "; ".join(
        pinned
    )


# --------------------------------------------------------------------------------------
# 3. compare lists only the groups that have people


def test_listed_groups_do_not_give_away_a_hidden_group(tmp_path: Path) -> None:
    """One command on the sample data: compare --by housing --within area --within sex.
    A compare table lists a cohort's within-groups only where there are people, so the
    rows present say which groups are empty. OOTU in Westmere (2 people, a size hidden in
    every table) is listed for male only: everyone out of treatment in Westmere is male
    (true: both are). The release model treats every atom as possibly non-empty, so it
    never sees this."""
    out = tmp_path / "housing-by-area-sex.csv"
    sc.cli(
        ["compare", "--cohort", f"NDTMS={sc.period_extract(tmp_path, sc.PERIOD)}",
         "--cohort", f"OOTU={OOTU}", "--by", "housing", "--within", "area",
         "--within", "sex", "--out", out]
    )  # fmt: skip
    table = atk.read_table(out).frame
    found = []
    sexes = set(table["sex"])
    for (cohort, area), rows in table.groupby(["cohort", "area"]):
        size = rows.drop_duplicates("sex").set_index("sex")["denominator"]
        hidden = size[size.isna()].index.tolist()
        zero_or_absent = (sexes - set(size.index)) | set(size[size == 0].index)
        if len(hidden) == 1 and zero_or_absent == sexes - set(hidden):
            found.append(f"{cohort} in {area}: everyone is sex={hidden[0]}, size hidden")
    assert not found, "group disclosure by the rows listed: " + "; ".join(found)
    assert len(table.groupby(["cohort", "area"])) == 2 * table["area"].nunique()  # every cohort


def test_zeros_disclosive_release_counts_listed_groups(tmp_path: Path) -> None:
    """--zeros-disclosive (zeros suppressed too: the cautious option) on a small world,
    two tables in one release: housing by area x substance_cohort and sex by area. The
    protection takes a hidden group size to be possibly 0, but a listed group has people
    and an unlisted one has none: OOTU Northton is 8 (sex table) over four listed
    substance cohorts, so opiate_no_crack is 1..2 (true 1); 19 hidden counts narrowed
    below K=3."""
    rng = np.random.default_rng(2)
    extract, ootu = sc.random_world(
        rng, int(rng.integers(40, 150)), int(rng.integers(2, 4)), int(rng.integers(8, 40))
    )
    ext_path, ootu_path = tmp_path / "extract.csv", tmp_path / "ootu.csv"
    extract.to_csv(ext_path, index=False)
    ootu.to_csv(ootu_path, index=False)
    pub, rel = tmp_path / "publish", tmp_path / "release"
    pub.mkdir()
    steps = [
        _compare(ext_path, pub / "c0.csv", rel, "--by", "housing", "--within", "area",
                 "--within", "substance_cohort", "--zeros-disclosive", ootu=ootu_path),
        _compare(ext_path, pub / "c1.csv", rel, "--by", "sex", "--within", "area",
                 "--zeros-disclosive", ootu=ootu_path),
    ]  # fmt: skip
    report = _attack_folder(
        pub, {"NDTMS": extract, "OOTU": ootu}, steps, policy=atk.Policy.from_name(),
        hidden_floor=0,
    )  # fmt: skip
    _assert_no_leak("--zeros-disclosive release", report)


# --------------------------------------------------------------------------------------
# 4. Robustness: damaged metadata, damaged register, a release that is a file


@pytest.fixture(scope="module")
def protected_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("suppressed")
    out = folder / "protected.csv"
    sc.cli(["suppress", SAMPLE / "counts_by_area_sex.csv", "--k", "3", "--total-row",
            "--out", out])  # fmt: skip
    return out


def _edit_sidecar(table: Path, folder: Path, name: str, edit: object) -> Path:
    copy = folder / f"{name}.csv"
    copy.write_bytes(table.read_bytes())
    side = table.with_name(table.name + ".meta.json")
    if callable(edit):
        meta = json.loads(side.read_text(encoding="utf-8"))
        edit(meta["disclosure"])
        text = json.dumps(meta)
    else:
        text = str(edit)
    copy.with_name(copy.name + ".meta.json").write_text(text, encoding="utf-8")
    return copy


SIDECAR_EDITS = {
    "not-json": "[",
    "k-is-text": lambda d: d["policy"].__setitem__("k", "three"),
    "rows-out-of-range": lambda d: [p.__setitem__("rows", [9999] * len(p["rows"]))
                                    for p in d["placements"]],
    "relations-emptied": lambda d: d.__setitem__("relations", []),
    "negative-width": lambda d: d.__setitem__("width", -5),
}  # fmt: skip


@pytest.mark.parametrize("edit", sorted(SIDECAR_EDITS))
def test_audit_of_damaged_sidecar_is_exit_2(protected_csv: Path, tmp_path: Path, edit: str) -> None:
    """A hand-edited .meta.json: exit 2 naming the file (contract 3, README audit).
    Found: not JSON -> JSONDecodeError (exit 1); k 'three' -> TypeError (1); placements
    out of range -> IndexError (1); relations [] or width -5 -> 'passed' (exit 0) for a
    table whose Total rows would otherwise be checked (structure_id is never verified)."""
    table = _edit_sidecar(protected_csv, tmp_path, edit, SIDECAR_EDITS[edit])
    proc = _run(["audit", table])
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stderr[-1500:]}"
    assert "Traceback" not in proc.stderr and table.name in proc.stderr


@pytest.fixture(scope="module")
def release_with_one_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("release")
    extract = sc.period_extract(folder, sc.PERIOD)
    sc.cli(["compare", "--cohort", f"NDTMS={extract}", "--by", "sex", "--within", "area",
            "--release", folder / "rel", "--out", folder / "first.csv"])  # fmt: skip
    return folder / "rel", extract


REGISTER_EDITS = {
    "relation-out-of-range": lambda t: t.__setitem__("relations", [[0, [99999]]]),
    "guard-out-of-range": lambda t: t.__setitem__("guard", [99999]),
}


@pytest.mark.parametrize("edit", sorted(REGISTER_EDITS))
@pytest.mark.parametrize("command", ["audit", "compare"])
def test_damaged_register_is_exit_2(
    release_with_one_table: tuple[Path, Path], tmp_path: Path, edit: str, command: str
) -> None:
    """A hand-edited register.json (a cell index out of range): `audit --release` and
    `compare --release` must say the register is damaged (exit 2), not crash. Found:
    IndexError, exit 1, for both."""
    rel, extract = release_with_one_table
    damaged = tmp_path / "rel"
    damaged.mkdir()
    data = json.loads((rel / "register.json").read_text(encoding="utf-8"))
    REGISTER_EDITS[edit](data["tables"][0])
    (damaged / "register.json").write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "second.csv"
    if command == "audit":
        proc = _run(["audit", "--release", damaged])
    else:
        proc = _run(["compare", "--cohort", f"NDTMS={extract}", "--by", "housing",
                     "--within", "area", "--release", damaged, "--out", out])  # fmt: skip
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stderr[-1500:]}"
    assert "register.json" in proc.stderr
    assert not out.exists()


def test_release_that_is_a_file_writes_nothing(tmp_path: Path) -> None:
    """`compare --release FILE` where FILE is not a folder: the table is written, then
    recording it in the register fails with FileExistsError (exit 1). A published table
    that is not in its release's register leaves every later table unprotected against
    it; and a failed command must leave nothing at --out (contract 3)."""
    not_a_folder = tmp_path / "release"
    not_a_folder.write_text("", encoding="utf-8")
    out = tmp_path / "table.csv"
    proc = _run(["compare", "--cohort", f"NDTMS={SAMPLE / 'extract.csv'}", "--by", "sex",
                 "--release", not_a_folder, "--out", out])  # fmt: skip
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stderr[-1500:]}"
    assert not out.exists()
