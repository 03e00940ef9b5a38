"""Red team: a counts file's ``*`` counts in a release (a gap made from counts.csv, then
tables of the records of the same people: gap, compare, runs).

The attacker here is written apart from ``src/unmetneed/disclosure``: it reads only the
public counts file and what the commands published (tables as CSV, in_treatment_min/max,
percentages and their intervals), and builds an LP over the people of extract.csv
cross-classified by period x area x drug_group x crack x housing, solved with scipy/HiGHS.
Every constraint it builds is checked against the TRUE records first (extract.csv), so a
parsing slip fails loudly instead of passing.

What it asserts, for every hidden count (a ``*`` of the counts file, a suppressed
in_treatment, a suppressed compare count): not recovered exactly, and not narrowed below
min(the table's protection width, the range it was published with). A gap blank that the
counts file made (a sum with a '*', published as in_treatment_min..max) is not a count this
tool suppressed: its '*' are the targets (see add_gap). Exit 1 or a traceback
from any command is a bug. ``audit --release`` must agree with the attacker.

A failing test here is a leak or a crash found by the red team; none is xfail.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from redteam import scenarios as sc

SAMPLE = sc.SAMPLE
COUNTS = SAMPLE / "counts.csv"
EXTRACT = SAMPLE / "extract.csv"
PREVALENCE = SAMPLE / "prevalence.csv"
REALDATA = sc.ROOT.parent / "shared" / "realdata"
P23, P24 = sc.PREVIOUS, sc.PERIOD

PERIODS = [P23, P24]
AREAS = ["Northton", "Southwick", "Eastbury", "Westmere", "Midford"]
GROUPS = ["opiate", "non_opiate_only", "non_opiate_and_alcohol", "alcohol_only"]
CRACK = ["true", "false"]
HOUSING = ["no_problem", "housing_problem", "urgent_housing_problem", "not_stated"]
DIMS = ("period", "area", "drug_group", "crack", "housing")
SHAPE = (len(PERIODS), len(AREAS), len(GROUPS), len(CRACK), len(HOUSING))
N = int(np.prod(SHAPE))
INDEX = np.arange(N).reshape(SHAPE)

# contract 4.1 (gap substances) and 2.1 (substance cohort), as (drug_group, crack) rules
SUBSTANCE = {
    "opiate_crack": lambda g, c: g == "opiate" or c == "true",
    "opiate": lambda g, c: g == "opiate",
    "crack": lambda g, c: c == "true",
    "alcohol_dependent": lambda g, c: g in ("alcohol_only", "non_opiate_and_alcohol"),
}
SUBSTANCE_COHORT = {
    "opiate_no_crack": lambda g, c: g == "opiate" and c == "false",
    "opiate_and_crack": lambda g, c: g == "opiate" and c == "true",
    "crack_no_opiate": lambda g, c: (
        g in ("non_opiate_only", "non_opiate_and_alcohol") and c == "true"
    ),
    "alcohol_only": lambda g, c: g == "alcohol_only",
    "other_non_opiate": lambda g, c: (
        g in ("non_opiate_only", "non_opiate_and_alcohol") and c == "false"
    ),
}
STAR = re.compile(r"^\s*(\*|c|~|\[c\]|\[x\])\s*$", re.IGNORECASE)
LESS = re.compile(r"^\s*<\s*(\d+)\s*$")


def _truth() -> np.ndarray:
    """extract.csv counted over DIMS (the true people behind every table here)."""
    rec = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
    cube = np.zeros(SHAPE, dtype=np.int64)
    levels = [PERIODS, AREAS, GROUPS, CRACK, HOUSING]
    for key, n in rec.groupby(list(DIMS)).size().items():
        cube[tuple(lv.index(k) for lv, k in zip(levels, key, strict=True))] += n
    assert cube.sum() == len(rec), "parse: a record outside the attacker's codes"
    return cube.ravel()


TRUTH = _truth()


def _mask(
    periods: list[str] | None = None,
    areas: list[str] | None = None,
    dgc=None,  # (drug_group, crack) -> bool
    housing: list[str] | None = None,
) -> np.ndarray:
    """0/1 vector of the people in these periods, areas, groups and housing codes."""
    pick = np.zeros(SHAPE, dtype=bool)
    for i, j, g, c, h in itertools.product(*(range(s) for s in SHAPE)):
        pick[i, j, g, c, h] = (
            (periods is None or PERIODS[i] in periods)
            and (areas is None or AREAS[j] in areas)
            and (dgc is None or dgc(GROUPS[g], CRACK[c]))
            and (housing is None or HOUSING[h] in housing)
        )
    return pick.ravel().astype(np.float64)


# --------------------------------------------------------------------------------------
# the attacker


@dataclass
class Target:
    label: str
    vec: np.ndarray
    need: float  # the interval the attacker may not narrow it below


@dataclass
class Finding:
    label: str
    lo: float
    hi: float
    true: int
    need: float

    def __str__(self) -> str:
        what = "RECOVERED" if self.hi - self.lo < 1e-6 else "narrowed"
        return (
            f"{self.label}: {what} to {self.lo:g}..{self.hi:g} (true {self.true}, "
            f"interval {self.hi - self.lo:g} < {self.need:g})"
        )


@dataclass
class LP:
    """Linear facts about the people, each checked against the truth as it is added."""

    rows: list[np.ndarray] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    prior: list[bool] = field(default_factory=list)  # known from the counts file alone

    def between(
        self, vec: np.ndarray, lo: float, hi: float, label: str, prior: bool = False
    ) -> None:
        true = float(vec @ TRUTH)
        assert lo - 1e-6 <= true <= hi + 1e-6, (
            f"PARSE/CONSTRAINT BROKEN: {label}: true {true:g} not in {lo:g}..{hi:g}"
        )
        self.rows.append(vec)
        self.lo.append(lo)
        self.hi.append(hi)
        self.prior.append(prior)

    def equal(
        self, vec: np.ndarray, value: float, label: str, tol: float = 1e-6, prior: bool = False
    ) -> None:
        self.between(vec, value - tol, value + tol, label, prior)

    def _system(self, only_prior: bool) -> tuple[np.ndarray, np.ndarray]:
        keep = [i for i, p in enumerate(self.prior) if p or not only_prior]
        a = np.asarray([self.rows[i] for i in keep])
        lo = np.asarray([self.lo[i] for i in keep])
        hi = np.asarray([self.hi[i] for i in keep])
        a_ub, b_ub = np.vstack([a, -a]), np.concatenate([hi, -lo])
        finite = np.isfinite(b_ub)
        return a_ub[finite], b_ub[finite]

    @staticmethod
    def _range(vec: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray) -> tuple[float, float]:
        r_lo = optimize.linprog(vec, a_ub, b_ub, bounds=(0, None), method="highs")
        r_hi = optimize.linprog(-vec, a_ub, b_ub, bounds=(0, None), method="highs")
        assert r_lo.status == 0 and r_hi.status in (0, 3), "LP failed"
        return r_lo.fun, np.inf if r_hi.status == 3 else -r_hi.fun

    def target(self, vec: np.ndarray, label: str, need: float) -> None:
        self.targets.append(Target(label, vec, need))

    def solve(self) -> tuple[list[Finding], int]:
        """Each target's range to the whole LP; narrow where it is below min(its need, the
        range the public counts file alone gives it)."""
        a_ub, b_ub = self._system(False)
        p_ub, p_b = self._system(True)
        assert (a_ub @ TRUTH <= b_ub + 1e-6).all(), "the true people break a constraint"
        found, seen = [], {}
        for t in self.targets:
            key = t.vec.tobytes()
            if key not in seen:
                seen[key] = (self._range(t.vec, a_ub, b_ub), self._range(t.vec, p_ub, p_b))
            (a_lo, a_hi), (p_lo, p_hi) = seen[key]
            true = int(round(float(t.vec @ TRUTH)))
            assert a_lo - 1e-6 <= true <= a_hi + 1e-6
            need = min(t.need, p_hi - p_lo)
            if a_hi - a_lo < need - 1e-3:
                found.append(Finding(t.label, round(a_lo, 3), round(a_hi, 3), true, need))
        return found, len(self.targets)


def add_counts_file(lp: LP, path: Path, star_max: int = 4, periods: list[str] | None = None):
    """The public counts file: each shown count exact, each ``*`` in 1..star_max (``<N`` in
    1..N-1), a drug_group x crack it lists no row for (per period and area) empty. Each
    ``*`` is a target (need: min(3, its range))."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    n_star = 0
    for (period, area), rows in frame.groupby(["period", "area"]):
        if periods is not None and period not in periods:
            continue
        listed = set()
        for _, r in rows.iterrows():
            g, c = r["drug_group"], r["crack"].lower()
            listed.add((g, c))
            vec = _mask([period], [area], lambda gg, cc, g=g, c=c: (gg, cc) == (g, c))
            label = f"{path.name} {period} {area} {g} crack={c}"
            value = r["count"].strip()
            less = LESS.match(value)
            if STAR.match(value) or less:
                top = int(less.group(1)) - 1 if less else star_max
                lp.between(vec, 1, top, label + " ('*')", prior=True)
                lp.target(vec, label + f" ('{value}', 1..{top})", min(3, top - 1))
                n_star += 1
            else:
                lp.equal(vec, float(value), label, prior=True)
        for g, c in itertools.product(GROUPS, CRACK):
            if (g, c) not in listed:
                vec = _mask([period], [area], lambda gg, cc, g=g, c=c: (gg, cc) == (g, c))
                lp.equal(vec, 0, f"{path.name} {period} {area} {g}|{c} (no row: empty)", prior=True)
    assert n_star, f"parse: no suppressed count read from {path}"
    return n_star


def _num(v: str) -> float | None:
    v = str(v).strip()
    return None if v in ("", "nan", "NaN", "None", "<NA>") else float(v)


def add_gap(lp: LP, csv: Path, name: str, rounded: int = 0) -> None:
    """A published gap table (CSV): shown in_treatment exact (or +-rounded/2), and from a
    hidden one whatever its row still shows: in_treatment_min/max, not_in_treatment,
    unmet_need_pct and its interval (T = D - not_in; T = D (1 - pct/100); the interval's
    ends bound T from either side)."""
    meta = json.loads(Path(str(csv) + ".meta.json").read_text(encoding="utf-8"))
    width = float(meta["disclosure"].get("width") or 3)
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    areas = set(AREAS)
    for _, r in frame.iterrows():
        if r["substance"] not in SUBSTANCE:
            continue
        where = [r["area"]] if r["area"] in areas else None  # a total row: every area
        vec = _mask([r["period"]], where, SUBSTANCE[r["substance"]])
        label = f"{name} {r['period']} {r['area']} {r['substance']}"
        t = _num(r["in_treatment"])
        if t is not None:
            if rounded and t > 0:
                lp.between(vec, t - rounded // 2, t + rounded // 2, label + " (rounded)")
            else:
                lp.equal(vec, t, label)
            continue
        d = _num(r["prevalence"])
        lo_pub, hi_pub = _num(r.get("in_treatment_min", "")), _num(r.get("in_treatment_max", ""))
        if lo_pub is not None and hi_pub is not None:
            lp.between(vec, lo_pub, hi_pub, label + " in_treatment_min/max")
        nit, pct = _num(r["not_in_treatment"]), _num(r["unmet_need_pct"])
        if nit is not None and d is not None:
            lp.equal(vec, d - nit, label + " = prevalence - not_in_treatment", 1e-4)
        if pct is not None and d is not None:
            lp.equal(vec, d * (1 - pct / 100), label + " from unmet_need_pct", 1e-4)
        pl, pu = _num(r["unmet_need_pct_lower"]), _num(r["unmet_need_pct_upper"])
        dl, du = _num(r["prevalence_lower"]), _num(r["prevalence_upper"])
        if pl is not None and dl is not None:
            lp.between(vec, -np.inf, dl * (1 - pl / 100) + 1e-4, label + " pct_lower")
        if pu is not None and du is not None:
            lp.between(vec, du * (1 - pu / 100) - 1e-4, np.inf, label + " pct_upper")
        # a blank the counts file made (a sum with a '*': published as min..max) is not a
        # count this tool suppressed: its '*' are the targets (add_counts_file), and a sum
        # of several may be shown while each keeps its 1..4 (every split of it is possible)
        unknown = lo_pub is not None and hi_pub is not None and hi_pub > lo_pub
        if r["suppressed"].lower() == "true" and not unknown:
            lp.target(vec, label + " (suppressed in_treatment)", width)


def add_compare(
    lp: LP, csv: Path, name: str, periods: list[str] | None = None, rounded: int = 0
) -> None:
    """A published compare table (CSV) of the NDTMS cohort (extract.csv, ``periods`` of it)
    by housing within area or substance_cohort (or nothing): shown counts and denominators
    exact, a shown pct with a hidden count or denominator as their ratio."""
    meta = json.loads(Path(str(csv) + ".meta.json").read_text(encoding="utf-8"))
    width = float(meta["disclosure"].get("width") or 3)
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    frame = frame[frame["cohort"] == "NDTMS"]
    assert len(frame), f"parse: no NDTMS rows in {csv}"
    for _, r in frame.iterrows():
        assert r["variable"] == "housing", f"parse: {r['variable']}"
        areas = [r["area"]] if "area" in r and r["area"] in AREAS else None
        dgc = SUBSTANCE_COHORT[r["substance_cohort"]] if "substance_cohort" in r else None
        group = _mask(periods, areas, dgc)
        cell = _mask(periods, areas, dgc, [r["category"]])
        label = f"{name} {r.get('area', '')}{r.get('substance_cohort', '')} {r['category']}"
        count, den, pct = _num(r["count"]), _num(r["denominator"]), _num(r["pct"])
        for vec, v, what in ((cell, count, "count"), (group, den, "denominator")):
            if v is None:
                continue
            if rounded and v > 0:
                lp.between(vec, v - rounded // 2, v + rounded // 2, f"{label} {what} (rounded)")
            else:
                lp.equal(vec, v, f"{label} {what}")
        if pct is not None and (count is None or den is None) and not rounded:
            lp.equal(100 * cell - pct * group, 0, f"{label} pct (ratio)", 1e-6 * 100 * 5000)
        if count is None:
            lp.target(cell, label + " (suppressed count)", width)


# --------------------------------------------------------------------------------------
# commands


def _check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    assert proc.returncode != 1 and "Traceback" not in proc.stderr + proc.stdout, (
        f"CRASH in {what}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    )


def _run(args: list[object], ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    proc = sc.run(args)
    what = "unmetneed " + " ".join(map(str, args))
    _check(proc, what)
    assert proc.returncode in ok, f"{what} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    return proc


def gap(treatment: Path, out: Path, rel: Path, *extra: object, period: str = P24, ok=(0,)):
    args = ["gap", "--treatment", treatment, "--prevalence", PREVALENCE, "--period", period,
            "--total", "All areas", *extra, "--out", out, "--release", rel]  # fmt: skip
    return _run(args, ok)


def compare(out: Path, rel: Path, within: str | None, cohort: Path = EXTRACT, ok=(0,)):
    args: list[object] = ["compare", "--cohort", f"NDTMS={cohort}", "--by", "housing"]
    if within:
        args += ["--within", within]
    return _run([*args, "--out", out, "--release", rel], ok)


def published(proc: subprocess.CompletedProcess[str], out: Path, rel: Path, before) -> bool:
    """Whether the command published its table; a refusal (exit 4) must write nothing,
    leave the register as it was and not call itself a bug."""
    if proc.returncode == 0:
        return True
    assert "bug" not in proc.stderr.lower(), f"the tool reports a BUG (exit 4):\n{proc.stderr}"
    assert not out.exists() and not Path(str(out) + ".meta.json").exists(), "refused, but written"
    after = (rel / "register.json").read_bytes() if (rel / "register.json").exists() else None
    assert after == before, "a refused table changed the register"
    return False


def register_bytes(rel: Path) -> bytes | None:
    return (rel / "register.json").read_bytes() if (rel / "register.json").exists() else None


def audit(rel: Path) -> int:
    proc = sc.run(["audit", "--release", rel])
    _check(proc, f"audit --release {rel}")
    assert proc.returncode in (0, 4), f"audit exited {proc.returncode}: {proc.stderr[-1500:]}"
    return proc.returncode


def verdict(what: str, lp: LP, rel: Path) -> None:
    found, n = lp.solve()
    rc = audit(rel)
    print(f"[attacker] {what}: {len(lp.rows)} constraints, {n} hidden counts, {len(found)} narrow")
    if found:
        agree = "AUDIT DISAGREES: passed (exit 0)" if rc == 0 else f"audit exited {rc}"
        pytest.fail(
            f"LEAK ({what}): {len(found)} of {n} hidden counts narrowed by an LP over the "
            f"public counts file and the release's tables; {agree}:\n  "
            + "\n  ".join(map(str, found[:25])),
            pytrace=False,
        )
    assert rc == 0, f"{what}: the attacker finds nothing, but audit --release exited {rc}"


# --------------------------------------------------------------------------------------
# 1. counts gap, compares and a record gap in one release, in various orders

ORDERS = {
    "counts-compare_area-records": ["counts", "cmp_area", "records"],
    "counts-records-compare_area": ["counts", "records", "cmp_area"],
    "counts-compare_sc-records": ["counts", "cmp_sc", "records"],
    "counts-records-compare_sc": ["counts", "records", "cmp_sc"],
    "counts-compare_area-compare_sc-records": ["counts", "cmp_area", "cmp_sc", "records"],
    "counts-compare_sc-compare_area-compare_none": ["counts", "cmp_sc", "cmp_area", "cmp_none"],
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_counts_gap_with_compares_and_records_gap(tmp_path: Path, order: str) -> None:
    """counts.csv gap (--suppressed-max 4), compares of extract.csv by housing within area /
    substance_cohort / nothing, a gap from extract.csv: one release, several orders."""
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, COUNTS)
    for step in ORDERS[order]:
        out = tmp_path / f"{step}.csv"
        if step == "counts":
            gap(COUNTS, out, rel, "--suppressed-max", "4")
            add_gap(lp, out, step)
        elif step == "records":
            gap(EXTRACT, out, rel)
            add_gap(lp, out, step)
        else:
            within = {"cmp_area": "area", "cmp_sc": "substance_cohort", "cmp_none": None}[step]
            compare(out, rel, within)
            add_compare(lp, out, step)
    verdict(order, lp, rel)


def test_control_the_attacker_pins_stars_when_tables_are_protected_apart(tmp_path: Path) -> None:
    """Control (guards the attacker, not the tool): the counts gap and the record gap each
    WITHOUT --release (protected apart, as before the fix) and a compare by housing within
    area: the attacker must find '*' counts pinned. If this fails, the attacker is blind."""
    lp = LP()
    add_counts_file(lp, COUNTS)
    for name, src in (("c", COUNTS), ("r", EXTRACT)):
        out = tmp_path / f"{name}.csv"
        _run(["gap", "--treatment", src, "--prevalence", PREVALENCE, "--period", P24,
              "--total", "All areas", "--suppressed-max", "4", "--out", out])  # fmt: skip
        add_gap(lp, out, name)
    _run(["compare", "--cohort", f"NDTMS={EXTRACT}", "--by", "housing", "--within", "area",
          "--out", tmp_path / "h.csv"])  # fmt: skip
    add_compare(lp, tmp_path / "h.csv", "compare")
    found, n = lp.solve()
    print("\n".join(map(str, found)))
    stars = [f for f in found if "('*'" in f.label]
    assert stars, f"the attacker pins no '*' of {n} hidden counts in tables protected apart"


# --------------------------------------------------------------------------------------
# 2. two periods


@pytest.mark.parametrize(
    "order",
    ["2023-counts-records", "counts-counts-records-records", "counts-records-counts-records"],
)
def test_two_periods(tmp_path: Path, order: str) -> None:
    """Counts gaps for 2023/24 and 2024/25, record gaps for both, in one release. (Found at
    7c17b73: the 2023/24 record gap shows All areas opiate_crack 905 and crack 439, which
    the 2023/24 counts gap hides (in_treatment_min..max 902..911 and 436..445: sums of
    three '*'); each '*' alone keeps 1..4, the counts gap's hidden cells are recovered
    exactly; audit passes. In 2024/25 the record gap hides them. Accepted: those blanks
    are sums the counts file left unknown, not counts this tool suppressed, and every
    split of a shown sum of several '*' is possible while each keeps 1..4: the '*' are
    the targets, see add_gap.)"""
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, COUNTS)
    steps = {
        "2023-counts-records": [("c", P23), ("r", P23)],
        "counts-counts-records-records": [("c", P23), ("c", P24), ("r", P23), ("r", P24)],
        "counts-records-counts-records": [("c", P23), ("r", P23), ("c", P24), ("r", P24)],
    }[order]
    for kind, period in steps:
        out = tmp_path / f"{kind}{period.replace('/', '-')}.csv"
        src = COUNTS if kind == "c" else EXTRACT
        extra = ("--suppressed-max", "4") if kind == "c" else ()
        before = register_bytes(rel)
        proc = gap(src, out, rel, *extra, period=period, ok=(0, 4))
        if published(proc, out, rel, before):
            add_gap(lp, out, f"{kind}-gap {period}")
        else:
            lp.notes.append(f"{kind}-gap {period} refused (exit 4)")
    print(lp.notes)
    verdict(order + " " + "; ".join(lp.notes), lp, rel)


def test_counts_gap_of_one_period_records_gap_of_the_other(tmp_path: Path) -> None:
    """Counts gap for 2024/25 only, then a record gap for 2023/24: the counts file's 2023/24
    '*' are public too (the whole file is), the record gap may not pin them."""
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, COUNTS)
    gap(COUNTS, tmp_path / "c.csv", rel, "--suppressed-max", "4", period=P24)
    add_gap(lp, tmp_path / "c.csv", "counts-gap 2024/25")
    gap(EXTRACT, tmp_path / "r.csv", rel, period=P23)
    add_gap(lp, tmp_path / "r.csv", "records-gap 2023/24")
    verdict("counts gap 2024/25, records gap 2023/24", lp, rel)


def _unstarred(tmp: Path, period: str) -> Path:
    """counts.csv with ``period``'s '*' written as their true counts (that year's publisher
    showed every count), the other year's '*' kept."""
    frame = pd.read_csv(COUNTS, dtype=str, keep_default_na=False)
    rec = pd.read_csv(EXTRACT, dtype=str, keep_default_na=False)
    true = rec.groupby(["period", "area", "drug_group", "crack"]).size()
    for i, r in frame.iterrows():
        if r["period"] == period and r["count"] == "*":
            frame.loc[i, "count"] = str(true[(period, r["area"], r["drug_group"], r["crack"])])
    path = tmp / "counts_unstarred.csv"
    frame.to_csv(path, index=False)
    return path


def test_counts_gap_of_an_exact_year_keeps_the_other_years_stars(tmp_path: Path) -> None:
    """A counts file whose 2024/25 counts are all exact (its 2023/24 '*' kept): the 2024/25
    gap from it is tied to people; the file's 2023/24 '*' are still public suppressed
    counts. Then record gaps for 2023/24 and 2024/25 into the same release. (Found: the
    gap from this valid file exits 4 saying 'N published count(s) are not the sum of the
    people they describe ... This is a bug in unmetneed', with or without --release; also
    at 7c17b73~1.)"""
    edited = _unstarred(tmp_path, P24)
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, edited)
    proc = gap(edited, tmp_path / "c.csv", rel, "--suppressed-max", "4", period=P24, ok=(0, 4))
    assert published(proc, tmp_path / "c.csv", rel, None)
    add_gap(lp, tmp_path / "c.csv", "counts-gap 2024/25")
    for period in (P23, P24):
        out = tmp_path / f"r{period.replace('/', '-')}.csv"
        gap(EXTRACT, out, rel, period=period)
        add_gap(lp, out, f"records-gap {period}")
    verdict("exact-2024/25 counts gap, record gaps of both years", lp, rel)


# --------------------------------------------------------------------------------------
# 3. other spellings and ranges of '*'


def _respelled(tmp: Path, spelling: str) -> Path:
    frame = pd.read_csv(COUNTS, dtype=str, keep_default_na=False)
    frame.loc[frame["count"] == "*", "count"] = spelling
    path = tmp / "counts_respelled.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("spelling", "star_max", "extra"),
    [("<5", 4, ()), ("*", 9, ("--suppressed-max", "9")), ("c", 4, ("--suppressed-max", "4"))],
)
def test_other_star_spellings_and_ranges(
    tmp_path: Path, spelling: str, star_max: int, extra: tuple[str, ...]
) -> None:
    """'*' written '<5' (1..4), or read as 1..9 (--suppressed-max 9), or written 'c': counts
    gap, compare by housing within area, record gap."""
    src = _respelled(tmp_path, spelling)
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, src, star_max)
    gap(src, tmp_path / "c.csv", rel, *extra)
    add_gap(lp, tmp_path / "c.csv", "counts-gap")
    compare(tmp_path / "h.csv", rel, "area")
    add_compare(lp, tmp_path / "h.csv", "compare")
    gap(EXTRACT, tmp_path / "r.csv", rel)
    add_gap(lp, tmp_path / "r.csv", "records-gap")
    verdict(f"'*' as {spelling!r} 1..{star_max}", lp, rel)


def test_k5_reads_star_wider_than_published(tmp_path: Path) -> None:
    """gap --k 5 without --suppressed-max reads counts.csv's '*' as 1..5 (the documented
    default 'K if larger'); the file's own rule (data/sample/README) is 1..4, which an
    attacker knows. Counts gap and record gap at --k 5 in one release. (Found: the record
    gap is refused (exit 4, fine), but audit --release then fails (exit 4: '4 shown
    count(s) are small') on the release the counts gap alone made: counts.csv's own shown
    5s are judged against K=5. The attacker finds nothing narrow.)"""
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, COUNTS, 4)
    gap(COUNTS, tmp_path / "c.csv", rel, "--k", "5")
    add_gap(lp, tmp_path / "c.csv", "counts-gap k5")
    before = register_bytes(rel)
    proc = gap(EXTRACT, tmp_path / "r.csv", rel, "--k", "5", ok=(0, 4))
    if published(proc, tmp_path / "r.csv", rel, before):
        add_gap(lp, tmp_path / "r.csv", "records-gap k5")
    verdict("--k 5, '*' known to be 1..4", lp, rel)


# --------------------------------------------------------------------------------------
# 4 and 6. runs: a counts input feeding [gap], policies, then record tables


def _toml(
    tmp: Path, name: str, rel: Path, treatment: str, policy: str | None, compares: list[str]
) -> Path:
    lines = [f'period = "{P24}"', "[disclosure]"]
    lines.append(f'policy = "{policy}"' if policy else "k = 3")
    lines += [f'release = "{rel}"', "[output]", f'dir = "{tmp / name}"', 'formats = ["csv"]']
    lines += ["[inputs.counts]", f'path = "{COUNTS}"', 'kind = "counts"']
    lines += ["[inputs.ndtms]", f'path = "{EXTRACT}"', 'kind = "treatment"']
    lines += ["[inputs.prevalence]", f'path = "{PREVALENCE}"', 'kind = "prevalence"']
    if treatment:
        lines += ["[gap]", f'treatment = "{treatment}"', 'prevalence = "prevalence"']
        lines += ['total = "All areas"', "suppressed_max = 4"]  # counts.csv's '*' is 1..4
    for within in compares:
        lines += ["[[compare]]", f'name = "housing-{within}"', 'cohorts = { NDTMS = "ndtms" }']
        lines += ['by = ["housing"]', f'within = ["{within}"]']
    path = tmp / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_tables(tmp: Path, name: str) -> list[Path]:
    pub = sc.publish_dir(tmp / name)
    return sorted(pub.glob("*.csv"))


def _add_run(lp: LP, tmp: Path, name: str, rounded: int, periods: list[str] | None) -> None:
    for csv in _run_tables(tmp, name):
        head = pd.read_csv(csv, nrows=0).columns
        if "substance" in head and "in_treatment" in head:
            add_gap(lp, csv, f"{name}/{csv.stem}", rounded)
        elif "cohort" in head:
            add_compare(lp, csv, f"{name}/{csv.stem}", periods, rounded)


def _runs(tmp: Path, policy: str | None, runs: list[tuple[str, str, list[str]]]) -> LP:
    """Runs into one release (name, gap treatment or '', compares within); a run refused
    (exit 4) must leave no tables. The LP of the counts file and every table written."""
    rel, lp = tmp / "rel", LP()
    add_counts_file(lp, COUNTS)
    rounded = 5 if policy == "nhs" else 0
    for name, treatment, compares in runs:
        proc = _run(["run", _toml(tmp, name, rel, treatment, policy, compares)], ok=(0, 4))
        if proc.returncode == 4:
            assert "bug" not in proc.stderr.lower(), proc.stderr
            assert not (tmp / name / "publish").exists(), "a refused run left tables"
            lp.notes.append(f"{name} refused (exit 4): {proc.stderr.strip()[:160]!r}")
            continue
        assert _run_tables(tmp, name), f"{name}: no csv tables in {tmp / name}"
        _add_run(lp, tmp, name, rounded, [P24])
    return lp


POLICIES = [None, "lt5", "nhs"]


@pytest.mark.parametrize("policy", POLICIES)
def test_one_run_counts_gap_and_compare_of_the_records(tmp_path: Path, policy: str | None) -> None:
    """ONE run: [gap] from the counts input and a [[compare]] of the extract (kind treatment)
    by housing within area, release, policy k3 / lt5 / nhs. (Found: the compare shows
    Westmere's 2024/25 denominator 278, which with counts.csv's shown Westmere rows gives
    its two '*' exactly (4 and 4) and the gap's hidden Westmere cells exactly. Mended: the
    compare's records are the counts file's people, protected with it.)"""
    lp = _runs(tmp_path, policy, [("run1", "counts", ["area"])])
    verdict(f"one run (counts gap + compare), policy {policy or 'k3'}; " + "; ".join(lp.notes),
            lp, tmp_path / "rel")  # fmt: skip


@pytest.mark.parametrize("policy", POLICIES)
def test_runs_counts_gap_then_records(tmp_path: Path, policy: str | None) -> None:
    """Run 1: gap from the counts input only; run 2: gap from the extract; run 3: compare
    of the extract by housing within area; one release, policy k3 / lt5 / nhs. A '*' keeps
    its whole 1..4 (or a run is refused with exit 4 and writes nothing). (Found: nhs, run 2
    crashes with exit 1, InconsistentError 'no table of non-negative counts fits the
    published values' from disclosure/attacker.py _batched_extremes.)"""
    runs = [("run1", "counts", []), ("run2", "ndtms", []), ("run3", "", ["area"])]
    lp = _runs(tmp_path, policy, runs)
    verdict(f"three runs, policy {policy or 'k3'}; " + "; ".join(lp.notes), lp, tmp_path / "rel")


def test_run_counts_gap_then_gap_and_compare_commands(tmp_path: Path) -> None:
    """Run (counts input feeding [gap], k3, release), then the commands: compare by housing
    within area, gap from the extract, into the same release."""
    rel, lp = tmp_path / "rel", LP()
    add_counts_file(lp, COUNTS)
    _run(["run", _toml(tmp_path, "run1", rel, "counts", None, [])])
    _add_run(lp, tmp_path, "run1", 0, [P24])
    compare(tmp_path / "h.csv", rel, "area")
    add_compare(lp, tmp_path / "h.csv", "compare")
    gap(EXTRACT, tmp_path / "r.csv", rel)
    add_gap(lp, tmp_path / "r.csv", "records-gap")
    verdict("run (counts gap), compare, record gap", lp, rel)


# --------------------------------------------------------------------------------------
# 5. real files


def test_realdata_viewit_gap_in_a_release(tmp_path: Path) -> None:
    """A gap from the NDTMS ViewIt exports (rounded to 5) and the PHE alcohol estimates with
    --release, then audit --release: no crash, audit exit 0 or 4, and a gap refused or
    written whole."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata/ is not here")
    rel = tmp_path / "rel"
    alcohol = REALDATA / "alcohol_dependence_estimates_by_la.csv"
    for i, name in enumerate(("ndtms_viewit_barnet.csv", "ndtms_viewit_england.csv")):
        out = tmp_path / f"g{i}.csv"
        args = ["gap", "--treatment", REALDATA / name, "--prevalence", alcohol,
                "--substance", "alcohol_dependent", "--out", out, "--release", rel]  # fmt: skip
        proc = sc.run(args)
        _check(proc, " ".join(map(str, args)))
        print(name, proc.returncode, proc.stderr[-400:])
        assert proc.returncode in (0, 2, 3, 4), proc.stderr[-1500:]
        if proc.returncode:
            assert not out.exists()
    if (rel / "register.json").exists():
        audit(rel)


# --------------------------------------------------------------------------------------
# 8. a hand-edited register


def _edited_register(tmp: Path, edit) -> Path:
    rel = tmp / "rel"
    gap(COUNTS, tmp / "c.csv", rel, "--suppressed-max", "4")
    reg = json.loads((rel / "register.json").read_text(encoding="utf-8"))
    edit(reg["tables"][0])
    (rel / "register.json").write_text(json.dumps(reg), encoding="utf-8")
    return rel


def _bounds_key(table: dict) -> str:
    keys = [k for k in table if "bound" in k or "least" in k or "most" in k or "range" in k]
    assert keys, f"parse: no bounds in the register's counts table: {sorted(table)}"
    return keys[0]


def _set(table: dict, key: str, value) -> None:
    table[key] = value


EDITS = {
    "bounds-not-a-list": lambda t: _set(t, _bounds_key(t), "1..4"),
    "bounds-lo-above-hi": lambda t: _set(
        t, _bounds_key(t), [[c, 4, 1] for c in range(len(t["true"])) if t["true"][c] == -1]
    ),
    "bounds-cell-out-of-range": lambda t: _set(t, _bounds_key(t), [[10_000, 1, 4]]),
    "bounds-wrong-arity": lambda t: _set(t, _bounds_key(t), [[0, 1]]),
    "bounds-removed-true-minus-one": lambda t: t.pop(_bounds_key(t)),
    "true-minus-one-on-a-shown-cell": lambda t: t["true"].__setitem__(0, -1),
    "bounds-strings": lambda t: _set(t, _bounds_key(t), [["a", "b", "c"]]),
}


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("then", ["records-gap", "audit"])
def test_hand_edited_register(tmp_path: Path, edit: str, then: str) -> None:
    """register.json of a counts-gap release edited by hand: the next command (a record gap,
    or audit --release) exits 2 with a message naming the register, never 1 or a
    traceback, and a refused gap writes nothing. (All exit 2 at 7c17b73.)"""
    rel = _edited_register(tmp_path, EDITS[edit])
    if then == "audit":
        proc = sc.run(["audit", "--release", rel])
    else:
        out = tmp_path / "r.csv"
        proc = sc.run(["gap", "--treatment", EXTRACT, "--prevalence", PREVALENCE, "--period",
                       P24, "--total", "All areas", "--out", out, "--release", rel])  # fmt: skip
    _check(proc, f"{then} after edit {edit}")
    assert proc.returncode == 2, (
        f"{then} after '{edit}': exit {proc.returncode} (2 expected: a register it cannot "
        f"read)\n{proc.stderr[-1500:]}"
    )
    assert "register" in proc.stderr.lower(), proc.stderr[-1500:]
    if then == "records-gap":
        assert not (tmp_path / "r.csv").exists()
