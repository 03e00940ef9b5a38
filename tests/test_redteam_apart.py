"""Red team: the release shortcuts (``relevant``, ``unchanged``, the audit memo
audited.json, the interior-point start and the width-skipping intervals).

The claim under attack: leaving out earlier tables' cells of other periods, not checking
again the groups of cells an earlier table published and nothing new touches, and not
solving again a group ``audit --release`` proved before, lets an attacker holding every
published file learn nothing more, and ``audit --release`` still catches anything narrow.

Each test builds a release with real CLI commands / run configs on data/sample and
attacks EVERY published file of the release together with the independent attacker
(tests/redteam/attacker.py; it reads only published files, and its self check against the
true records raises if it built a constraint the truth breaks, so a broken parser cannot
pass). A failing test here is a leak (or a crash) found by the red team; none is xfail.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redteam import attacker as atk
from redteam import scenarios as sc

SAMPLE = sc.SAMPLE
OOTU = SAMPLE / "cohort_ootu.csv"
P1, P2 = sc.PREVIOUS, sc.PERIOD  # 2023/24, 2024/25
BANDS = "18-29,30-39,40-49,50+"

COMPARES = sc.QUARTER_COMPARES


# --------------------------------------------------------------------------------------
# helpers


def _run(args: Sequence[object]) -> subprocess.CompletedProcess[str]:
    """One CLI command, whatever its exit code."""
    return sc.run(args)


def _audit_ok(rel: Path, *tables: Path) -> subprocess.CompletedProcess[str]:
    """`audit --release rel` (and any tables): must exit 0, never a traceback."""
    proc = _run(["audit", *tables, "--release", rel])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, f"audit --release exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def _tables(folder: Path, tag: str, periods: dict[str, str] | None = None) -> sc.atk.Publication:
    """The folder's published tables, named ``tag/...`` (quarters' folders have the same
    file names), compare tables of ``periods[stem]`` (None: every period)."""
    pub = sc._publication([folder], None, periods)
    for t in pub.tables:
        t.name = f"{tag}/{t.name}"
    return pub


def _attack(
    pubs: Sequence[atk.Publication],
    truth: dict[str, pd.DataFrame],
    steps: Sequence[sc.Step] = (),
    policy: atk.Policy | None = None,
) -> atk.Report:
    tables = [t for p in pubs for t in p.tables]
    manifest = next((p.manifest for p in pubs if p.manifest), None)
    texts = {f"{i}:{k}": v for i, p in enumerate(pubs) for k, v in p.texts.items()}
    texts.update(sc._texts_of(list(steps)))
    policy = policy or atk.policy_from_manifest(manifest)
    report = atk.attack(tables, manifest=manifest, texts=texts, truth=truth, policy=policy)
    print(f"\n{report.summary(6)}")
    return report


def _assert_safe(name: str, report: atk.Report) -> None:
    assert report.truth_checked
    problems = report.leaks()
    if problems:
        pytest.fail(f"{name}: " + "; ".join(problems) + "\n" + report.summary(12), pytrace=False)


def _raw_quarter(tmp: Path, q: int, rng: np.random.Generator, drop: float = 0.04) -> Path:
    raw = pd.read_csv(SAMPLE / "raw_records.csv", dtype=str, keep_default_na=False)
    r = raw[rng.random(len(raw)) > drop].copy()
    r["period"] = f"2024/25 Q{q}"
    path = tmp / f"raw_Q{q}.csv"
    r.to_csv(path, index=False)
    return path


def _run_quarter(
    tmp: Path,
    q: int,
    rel: Path,
    compares: Sequence[str],
    rng: np.random.Generator,
    policy: str | None = None,
    gap: bool = True,
) -> tuple[Path, sc.Step]:
    raw = _raw_quarter(tmp, q, rng)
    out = tmp / f"out_Q{q}"
    cfg = sc.run_config(
        out, raw=raw, period=f"2024/25 Q{q}", compares=compares, policy=policy, gap=gap
    )
    cfg = cfg.replace("[disclosure]\n", f"[disclosure]\nrelease = {sc.toml_str(rel)}\n", 1)
    (tmp / f"Q{q}.toml").write_text(cfg, encoding="utf-8")
    return out, sc.cli(["run", tmp / f"Q{q}.toml"])


def _quarters_attack(
    outs: Sequence[Path], steps: Sequence[sc.Step], policy: atk.Policy | None = None
) -> atk.Report:
    pubs = [_tables(sc.publish_dir(o), f"Q{i + 1}") for i, o in enumerate(outs)]
    truth = {
        "NDTMS": pd.concat(
            [sc.read_records(sc.restricted_extract(o)) for o in outs], ignore_index=True
        ),
        "OOTU": sc.ootu_records(),
    }
    return _attack(pubs, truth, steps, policy)


def _gap(extract: Path, out: Path, rel: Path, *periods: str) -> sc.Step:
    args: list[object] = [
        "gap", "--treatment", extract, "--prevalence", SAMPLE / "prevalence.csv",
        "--prevalence-years", "3", "--total", "All areas", "--out", out, "--release", rel,
    ]  # fmt: skip
    for p in periods:
        args += ["--period", p]
    return sc.cli(args)


def _compare(extract: Path, out: Path, rel: Path, *options: object, ootu: bool = True) -> sc.Step:
    args: list[object] = ["compare", "--cohort", f"NDTMS={extract}"]
    if ootu:
        args += ["--cohort", f"OOTU={OOTU}"]
    return sc.cli([*args, *options, "--out", out, "--release", rel])


# --------------------------------------------------------------------------------------
# a. Four quarterly runs into one release, the OOTU cohort (no period) in every quarter


def test_four_quarters_attacked_together(tmp_path: Path) -> None:
    """Q1..Q4 of 2024/25 (each drops a random 4% of the sample raw records), gap and four
    compare tables per quarter, the OOTU cohort (no period: every quarter's OOTU cells
    count the same people) in each, all into one release. Every quarter's published
    files are attacked together; `audit --release` exits 0, twice (the second time from
    audited.json)."""
    rel = tmp_path / "rel"
    rng = np.random.default_rng(7)
    runs = [_run_quarter(tmp_path, q, rel, COMPARES, rng) for q in range(1, 5)]
    outs, steps = [o for o, _ in runs], [s for _, s in runs]
    _assert_safe("four quarters", _quarters_attack(outs, steps))
    _audit_ok(rel)
    assert (rel / "audited.json").exists()
    _audit_ok(rel)


# --------------------------------------------------------------------------------------
# b. Quarter 2 changes the population's model


def test_quarter_two_adds_a_variable_quarter_one_never_used(tmp_path: Path) -> None:
    """Q1 publishes compare tables of disability/housing and age/sex; Q2 the same plus
    ethnicity by area and employment x housing by substance cohort (variables Q1 never
    used, for both cohorts: the OOTU population's model changes, so none of its groups
    may be skipped as unchanged); Q3 repeats Q1's tables. All attacked together."""
    rel = tmp_path / "rel"
    rng = np.random.default_rng(23)
    q1 = COMPARES[:2]
    q2 = [
        *COMPARES[:2],
        sc.compare_toml("ethnicity-by-area", ["ethnicity"], ["area"]),
        sc.compare_toml("employment-housing", ["employment", "housing"], ["substance_cohort"]),
    ]
    runs = [
        _run_quarter(tmp_path, 1, rel, q1, rng),
        _run_quarter(tmp_path, 2, rel, q2, rng),
        _run_quarter(tmp_path, 3, rel, q1, rng),
    ]
    outs, steps = [o for o, _ in runs], [s for _, s in runs]
    _assert_safe("model change in Q2", _quarters_attack(outs, steps))
    _audit_ok(rel)


# --------------------------------------------------------------------------------------
# c. A table of every period between two one-period gap tables


def _whole_extract_release(tmp: Path, order: Sequence[str]) -> tuple[Path, Path, list[sc.Step]]:
    extract = SAMPLE / "extract.csv"
    rel, pub = tmp / "rel", tmp / "publish"
    pub.mkdir(parents=True, exist_ok=True)
    steps = []
    for what in order:
        if what == "gap1":
            steps.append(_gap(extract, pub / "gap-2023-24.parquet", rel, P1))
        elif what == "gap2":
            steps.append(_gap(extract, pub / "gap-2024-25.parquet", rel, P2))
        elif what == "all-housing":  # every period: no period filter
            steps.append(
                _compare(extract, pub / "all-housing-area.parquet", rel,
                         "--by", "housing", "--within", "area", "--within", "substance_cohort",
                         ootu=False)
            )  # fmt: skip
        elif what == "all-sex":
            steps.append(
                _compare(extract, pub / "all-sex-area.parquet", rel,
                         "--by", "sex", "--within", "area", ootu=False)
            )  # fmt: skip
        elif what == "by-period":  # cells of one period each, from the whole file
            steps.append(
                _compare(extract, pub / "period-housing-area.parquet", rel,
                         "--by", "housing", "--within", "area", "--within", "period",
                         ootu=False)
            )  # fmt: skip
        else:
            raise ValueError(what)
    return rel, pub, steps


@pytest.mark.parametrize("whole", [True, False], ids=["whole-extract", "period-extract"])
def test_gap_after_a_compare_of_the_same_file_into_one_release(tmp_path: Path, whole: bool) -> None:
    """Found by this red team, fixed since: a `gap` after a `compare` of the same file
    into one release exited 4 ("N published count(s) are not the sum of the people they
    describe ... This is a bug in unmetneed"): gap kept its records by period, area, drug
    group, crack, age and sex only, so the earlier compare's housing cells could not be
    counted over them. whole-extract: `gap --period 2023/24`, `compare` (housing within
    area x substance_cohort, NDTMS only) over the WHOLE file, then `gap --period 2024/25`;
    period-extract: the 2024/25 rows alone, `compare --by housing --within area` then
    `gap --period 2024/25`. Now the gap completes, and everything published is attacked
    together and audited."""
    rel, pub = tmp_path / "rel", tmp_path / "publish"
    pub.mkdir()
    if whole:
        extract = SAMPLE / "extract.csv"
        _gap(extract, pub / "gap-2023-24.parquet", rel, P1)
    else:
        extract = sc.period_extract(tmp_path, P2)
    _compare(extract, pub / "housing-area.parquet", rel, "--by", "housing", "--within", "area",
             *(["--within", "substance_cohort"] if whole else []), ootu=False)  # fmt: skip
    proc = _run(
        ["gap", "--treatment", extract, "--prevalence",
         SAMPLE / "prevalence.csv", "--prevalence-years", "3", "--total", "All areas",
         "--out", pub / "gap-2024-25.parquet", "--release", rel, "--period", P2]
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-800:]}"
    p = _tables(pub, "pub")
    for t in p.tables:
        if t.kind == "compare":
            t.period = None if whole else P2  # the file's periods
    truth = {"NDTMS": sc.read_records(extract)}
    _assert_safe("compare, then gap", _attack([p], truth))
    _audit_ok(rel)


@pytest.mark.parametrize(
    "order",
    [
        ("gap1", "gap2", "all-housing"),
        ("gap1", "gap2", "all-housing", "all-sex", "by-period"),
        ("gap2", "gap1", "by-period", "all-sex", "all-housing"),
    ],
    ids=["gaps-all", "gaps-all-all-period", "gaps-period-all-all"],
)
def test_table_of_every_period_ties_two_gap_periods(tmp_path: Path, order: tuple[str]) -> None:
    """One-period gap tables of data/sample/extract.csv and compare tables of the WHOLE
    file (cells of both periods) into one release: the whole-file tables tie both
    periods' cells, so `relevant` must keep the other period's gap when protecting a
    table of one period (by-period: compare --within period, cells of one period each,
    published after the tie). A gap after a whole-file compare: see
    test_gap_after_a_compare_of_the_same_file_into_one_release."""
    rel, pub, steps = _whole_extract_release(tmp_path, order)
    p = _tables(pub, "pub")
    for t in p.tables:
        if t.kind == "compare":
            t.period = None  # the whole file: every period
    truth = {"NDTMS": sc.read_records(SAMPLE / "extract.csv")}
    _assert_safe(" -> ".join(order), _attack([p], truth, steps))
    _audit_ok(rel)


# --------------------------------------------------------------------------------------
# d. Separate commands per period, in different orders


@pytest.mark.parametrize(
    "order",
    [
        ((P1, "gap"), (P1, "cmp"), (P2, "gap"), (P2, "cmp")),
        ((P2, "gap"), (P2, "cmp"), (P1, "gap"), (P1, "cmp")),
        ((P1, "gap"), (P2, "gap"), (P2, "cmp"), (P1, "cmp")),
        ((P1, "cmp"), (P1, "gap"), (P2, "cmp"), (P2, "gap")),
    ],
    ids=["p1-p2", "p2-p1", "gaps-first-p2-p1", "compares-first"],
)
def test_per_period_commands_in_any_order(
    tmp_path: Path, order: tuple[tuple[str, str], ...]
) -> None:
    """Per-period extracts (sc.period_extract): gap --period P and three compare tables
    per period (OOTU in each: the cohort ties the periods), into one release, in
    different orders (a gap after a compare of the same file: see
    test_gap_after_a_compare_of_the_same_file_into_one_release)."""
    rel, pub = tmp_path / "rel", tmp_path / "publish"
    pub.mkdir()
    ext = {p: sc.period_extract(tmp_path, p) for p in (P1, P2)}
    steps, periods = [], {}
    for period, what in order:
        tag = period.replace("/", "-")
        if what == "gap":
            steps.append(_gap(ext[period], pub / f"gap-{tag}.parquet", rel, period))
            continue
        for name, opts in (
            ("housing-area", ("--by", "housing", "--within", "area")),
            ("disability-cohort", ("--by", "disability", "--within", "substance_cohort")),
            ("sex-area-cohort",
             ("--by", "sex", "--within", "area", "--within", "substance_cohort")),
        ):  # fmt: skip
            stem = f"{name}-{tag}"
            steps.append(_compare(ext[period], pub / f"{stem}.parquet", rel, *opts))
            periods[stem] = period
    p = _tables(pub, "pub", periods)
    truth = {
        "NDTMS": pd.concat([sc.read_records(ext[x]) for x in (P1, P2)], ignore_index=True),
        "OOTU": sc.ootu_records(),
    }
    _assert_safe("per-period commands", _attack([p], truth, steps))
    _audit_ok(rel)


# --------------------------------------------------------------------------------------
# e. The audit memo (audited.json)


def _small_release(tmp: Path) -> tuple[Path, Path, list[sc.Step]]:
    rel, pub = tmp / "rel", tmp / "publish"
    pub.mkdir()
    ext = sc.period_extract(tmp, P2)
    steps = [
        _gap(ext, pub / "gap.parquet", rel, P2),
        _compare(ext, pub / "housing-area.parquet", rel, "--by", "housing", "--within", "area"),
        _compare(ext, pub / "sex-cohort.parquet", rel, "--by", "sex", "--within",
                 "substance_cohort"),
    ]  # fmt: skip
    return rel, pub, steps


def _reveal_one(rel: Path) -> str:
    """Edit register.json: in a relation whose total is shown and exactly two parts are
    hidden, show one part's true value (the other is then worked out exactly)."""
    path = rel / "register.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for entry in data["tables"]:
        shown, true = entry["shown"], entry["true"]
        for total, parts in entry["relations"]:
            hidden = [p for p in parts if shown[p] is None]
            if shown[total] is not None and len(hidden) == 2:
                shown[hidden[0]] = float(true[hidden[0]])
                path.write_text(json.dumps(data), encoding="utf-8")
                return f"{entry['table']} cell {hidden[0]} = {true[hidden[0]]}"
    raise AssertionError("no relation with two hidden parts to reveal")


def test_audit_memo_does_not_hide_an_edited_register(tmp_path: Path) -> None:
    """Audit a release (audited.json written, exit 0); then hand-edit register.json so a
    component proven before becomes unsafe (a hidden complement's true value put in
    "shown"): `audit --release` must now exit 4, not skip it as proven."""
    rel, _pub, _steps = _small_release(tmp_path)
    _audit_ok(rel)
    assert json.loads((rel / "audited.json").read_text())["proven"]
    what = _reveal_one(rel)
    proc = _run(["audit", "--release", rel])
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 4, f"{what} revealed: audit exit {proc.returncode}\n{proc.stderr}"
    # and again (the failed group must not have been remembered as proven)
    assert _run(["audit", "--release", rel]).returncode == 4


@pytest.mark.parametrize(
    "garbage",
    ["not json {", "[1, 2]", '{"proven": 5}', '{"proven": [1, null, {}]}', '{"proven": "ab"}',
     "null", '{"other": []}', "\u0000\u00ff", "DIR"],
)  # fmt: skip
def test_corrupt_audit_memo_is_ignored(tmp_path: Path, garbage: str) -> None:
    """A damaged audited.json (garbage, wrong types, a folder in its place): audit runs
    in full and gives the right verdict (exit 0 on the safe release, exit 4 once the
    register is edited to reveal a cell), never a traceback."""
    rel, _pub, _steps = _small_release(tmp_path)
    _audit_ok(rel)
    memo_path = rel / "audited.json"

    def damage() -> None:
        if memo_path.is_dir():
            return
        memo_path.unlink(missing_ok=True)
        if garbage == "DIR":
            memo_path.mkdir()
        else:
            memo_path.write_text(garbage, encoding="utf-8")

    damage()
    _audit_ok(rel)
    damage()
    _reveal_one(rel)
    proc = _run(["audit", "--release", rel])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 4, proc.stderr[-2000:]


# --------------------------------------------------------------------------------------
# f. Other ways to fool `unchanged` / `relevant`


def test_later_tables_republish_earlier_cells_with_new_relations(tmp_path: Path) -> None:
    """One period's extract and the OOTU cohort: housing within area; then housing alone
    (its cells are sums of the earlier ones: new relations over old cells); housing within
    area again with --exclude-not-stated (the same category cells, new denominators and
    relations); the first table again (every cell old: all unchanged); housing within
    substance_cohort; sex within area. All attacked together. (Adding housing within
    area x substance_cohort last is refused, exit 4 "compare row 41 (denominator:
    area=Midford, drug_group=opiate with crack=no) cannot be protected by suppression":
    the earlier shown cells pin it; d9c3730, before the shortcuts, refuses the same. A
    refusal, not a leak.)"""
    rel, pub = tmp_path / "rel", tmp_path / "publish"
    pub.mkdir()
    ext = sc.period_extract(tmp_path, P2)
    steps = [_gap(ext, pub / "gap.parquet", rel, P2)]
    for stem, opts in (
        ("housing-area", ("--by", "housing", "--within", "area")),
        ("housing", ("--by", "housing")),
        ("housing-area-excl", ("--by", "housing", "--within", "area", "--exclude-not-stated")),
        ("housing-area-again", ("--by", "housing", "--within", "area")),
        ("housing-cohort", ("--by", "housing", "--within", "substance_cohort")),
        ("sex-area", ("--by", "sex", "--within", "area")),
    ):
        steps.append(_compare(ext, pub / f"{stem}.parquet", rel, *opts))
    p = _tables(pub, "pub", {})
    for t in p.tables:
        if t.kind == "compare":
            t.period = P2
    truth = {"NDTMS": sc.read_records(ext), "OOTU": sc.ootu_records()}
    _assert_safe("republished cells", _attack([p], truth, steps))
    _audit_ok(rel)


def test_nhs_policy_quarters(tmp_path: Path) -> None:
    """Three quarterly runs under policy = "nhs" (1..7 hidden, the rest rounded to 5)
    into one release, attacked together."""
    rel = tmp_path / "rel"
    rng = np.random.default_rng(5)
    runs = [_run_quarter(tmp_path, q, rel, COMPARES[:3], rng, policy="nhs") for q in (1, 2, 3)]
    outs, steps = [o for o, _ in runs], [s for _, s in runs]
    report = _quarters_attack(outs, steps, atk.Policy.from_name("nhs"))
    _assert_safe("nhs quarters", report)
    _audit_ok(rel)


def test_suppress_table_in_a_quarterly_release(tmp_path: Path) -> None:
    """Two quarterly runs, with a `suppress --total-row` table (counts_by_area_sex.csv)
    published into the same release between them: the quarters stay safe together and
    `audit --release` passes, no traceback."""
    rel = tmp_path / "rel"
    rng = np.random.default_rng(9)
    o1, s1 = _run_quarter(tmp_path, 1, rel, COMPARES[:2], rng)
    s2 = sc.cli(["suppress", SAMPLE / "counts_by_area_sex.csv", "--total-row",
                 "--out", tmp_path / "area-sex.csv", "--release", rel])  # fmt: skip
    o2, s3 = _run_quarter(tmp_path, 2, rel, COMPARES[:3], rng)
    _assert_safe("suppress in release", _quarters_attack([o1, o2], [s1, s2, s3]))
    _audit_ok(rel)
    _audit_ok(rel)
