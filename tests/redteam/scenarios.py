"""Published outputs made by running the unmetneed CLI into temporary folders, with the
true records behind them, for the attacker (attacker.py).

The CLI is ``unmetneed`` beside ``sys.executable`` (the project's .venv); the environment
variable ``REDTEAM_CLI`` replaces it with any command prefix, e.g.
``REDTEAM_CLI="env PYTHONPATH=/tmp/head/src .venv/bin/python -m unmetneed"`` to attack an
older checkout.

``run`` output is read from ``DIR/publish/`` (the contract's layout) or, for older
versions, ``DIR`` itself; the restricted extract from ``DIR/restricted/extract.parquet``
or ``DIR/extract.parquet``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import attacker as atk

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
PERIOD = "2024/25"
PREVIOUS = "2023/24"


def cli_command() -> list[str]:
    env = os.environ.get("REDTEAM_CLI")
    if env:
        return shlex.split(env)
    return [str(Path(sys.executable).parent / "unmetneed")]


@dataclass
class Step:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class CommandFailedError(AssertionError):
    pass


def run(
    args: Sequence[object], *, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run one unmetneed command, whatever its exit code (no colour, wide lines)."""
    return subprocess.run(
        [*cli_command(), *map(str, args)],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


def cli(args: Sequence[str], *, cwd: Path | None = None, timeout: float = 300) -> Step:
    """Run one unmetneed command; raise :class:`CommandFailedError` (with its stderr) unless it
    exits 0."""
    proc = run(args, cwd=cwd, timeout=timeout)
    step = Step([*map(str, args)], proc.returncode, proc.stdout, proc.stderr)
    if proc.returncode != 0:
        raise CommandFailedError(
            f"unmetneed {' '.join(step.args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    return step


def publish_dir(out: Path) -> Path:
    return out / "publish" if (out / "publish").is_dir() else out


def restricted_extract(out: Path) -> Path:
    for p in (
        out / "restricted" / "extract.parquet",
        out / "extract.parquet",
        out / "restricted" / "extract.csv",
        out / "extract.csv",
    ):
        if p.exists():
            return p
    raise FileNotFoundError(f"no extract under {out}")


def read_records(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})


@dataclass
class Outcome:
    """What one scenario published, what the terminal said, and the truth behind it."""

    name: str
    tables: list[atk.Table]
    texts: dict[str, str]
    manifest: dict[str, Any] | None
    record_files: list[Path]
    truth: dict[str, pd.DataFrame]
    policy: atk.Policy
    steps: list[Step] = field(default_factory=list)

    def attack(self, **kwargs: Any) -> atk.Report:
        kwargs.setdefault("policy", self.policy)
        kwargs.setdefault("truth", self.truth)
        rep = atk.attack(self.tables, manifest=self.manifest, texts=self.texts, **kwargs)
        rep.text_leaks.extend(f"record-level file published: {p}" for p in self.record_files)
        return rep


def _texts_of(steps: Sequence[Step]) -> dict[str, str]:
    out = {}
    for i, s in enumerate(steps):
        name = f"terminal {i} (unmetneed {' '.join(s.args[:1])})"
        out[name + " stdout"] = s.stdout
        out[name + " stderr"] = s.stderr
    return out


def _publication(
    folders: Sequence[Path], period: str | None, periods: Mapping[str, str] | None = None
) -> atk.Publication:
    """Every table in ``folders``; ``periods``: the period of a compare table by file stem."""
    tables: list[atk.Table] = []
    texts: dict[str, str] = {}
    records: list[Path] = []
    manifest = None
    for folder in folders:
        pub = atk.read_published_dir(folder, period=period if period is not None else "auto")
        for t in pub.tables:
            if periods and t.path is not None and t.path.stem in periods:
                t.period = periods[t.path.stem]
            t.name = f"{folder.name}/{t.name}" if len(folders) > 1 else t.name
        tables += pub.tables
        texts.update({f"{folder.name}/{k}": v for k, v in pub.texts.items()})
        records += pub.record_files
        manifest = manifest or pub.manifest
    return atk.Publication(tables, manifest, texts, records)


# --------------------------------------------------------------------------------------
# Input files


def period_extract(tmp: Path, period: str, source: Path = SAMPLE / "extract.csv") -> Path:
    """The sample extract's rows of one period, as its own file."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    path = tmp / f"extract_{period.replace('/', '-')}.csv"
    frame[frame["period"] == period].to_csv(path, index=False)
    return path


def ootu_records(path: Path = SAMPLE / "cohort_ootu.csv") -> pd.DataFrame:
    return read_records(path)


def toml_str(value: Any) -> str:
    return json.dumps(str(value))


def compare_toml(
    name: str,
    by: Sequence[str],
    within: Sequence[str] = (),
    *,
    cohorts: Mapping[str, str] | None = None,
    age_bands: str | None = None,
    exclude_not_stated: bool = False,
) -> str:
    cohorts = cohorts or {"NDTMS": "extract", "OOTU": "ootu"}
    lines = [
        "[[compare]]",
        f"name = {toml_str(name)}",
        "cohorts = { " + ", ".join(f"{k} = {toml_str(v)}" for k, v in cohorts.items()) + " }",
        "by = [" + ", ".join(map(toml_str, by)) + "]",
        "within = [" + ", ".join(map(toml_str, within)) + "]",
    ]
    if age_bands:
        lines.append(f"age_bands = {toml_str(age_bands)}")
    if exclude_not_stated:
        lines.append("exclude_not_stated = true")
    return "\n".join(lines) + "\n"


def run_config(
    out: Path,
    *,
    compares: Sequence[str],
    treatment: Path | None = None,
    raw: Path | None = None,
    ootu: Path = SAMPLE / "cohort_ootu.csv",
    prevalence: Path = SAMPLE / "prevalence.csv",
    period: str = PERIOD,
    k: int = 3,
    policy: str | None = None,
    gap: bool = True,
    formats: Sequence[str] = ("parquet", "csv"),
) -> str:
    """A run config like data/sample/quarterly.toml, every path absolute. ``treatment``: a
    treatment extract used as it is; ``raw``: records made into the extract first."""
    lines = [f"period = {toml_str(period)}", "", "[disclosure]", f"k = {k}"]
    if policy:
        lines.append(f"policy = {toml_str(policy)}")
    lines += [
        "",
        "[output]",
        f"dir = {toml_str(out)}",
        "formats = [" + ", ".join(map(toml_str, formats)) + "]",
        "",
    ]
    if raw is not None:
        lines += ["[inputs.raw]", f"path = {toml_str(raw)}", 'kind = "records"', ""]
    else:
        lines += ["[inputs.ext]", f"path = {toml_str(treatment)}", 'kind = "treatment"', ""]
    lines += [
        "[inputs.ootu]",
        f"path = {toml_str(ootu)}",
        'kind = "cohort"',
        "",
        "[inputs.prevalence]",
        f"path = {toml_str(prevalence)}",
        'kind = "prevalence"',
        "",
    ]
    ref = "extract"
    if raw is not None:
        lines += ["[extract]", 'input = "raw"', f"k = {k}", ""]
    else:
        ref = "ext"
    if gap:
        lines += [
            "[gap]",
            f"treatment = {toml_str(ref)}",
            'prevalence = "prevalence"',
            'substances = ["opiate_crack", "opiate", "crack", "alcohol_dependent"]',
            "prevalence_years = 3",
            'total = "All areas"',
            "",
        ]
    text = "\n".join(lines) + "\n"
    for c in compares:
        text += "\n" + c.replace('"extract"', toml_str(ref))
    return text


def run_scenario(
    tmp: Path,
    name: str,
    config_text: str | None = None,
    *,
    config_path: Path | None = None,
    truth_ndtms: Path | None = None,
    ootu: Path = SAMPLE / "cohort_ootu.csv",
    period: str | None = None,
    policy: atk.Policy | None = None,
) -> Outcome:
    """``unmetneed run`` of a config into ``tmp/name``; the truth is the extract it wrote
    (or ``truth_ndtms``) and the OOTU cohort file."""
    out = tmp / name
    if config_path is None:
        config_path = tmp / f"{name}.toml"
        config_path.write_text(config_text or "", encoding="utf-8")
    args = ["run", str(config_path), "--out-dir", str(out)]
    if period:
        args += ["--period", period]
    step = cli(args)
    pub = _publication([publish_dir(out)], None)
    ndtms = read_records(truth_ndtms or restricted_extract(out))
    truth = {"NDTMS": ndtms, "OOTU": ootu_records(ootu)}
    if policy is None:
        policy = atk.policy_from_manifest(pub.manifest)
    texts = {**pub.texts, **_texts_of([step])}
    return Outcome(name, pub.tables, texts, pub.manifest, pub.record_files, truth, policy, [step])


# --------------------------------------------------------------------------------------
# The scenarios of tests/test_redteam.py

BY = ("disability", "housing", "age", "sex")
WITHIN: tuple[tuple[str, ...], ...] = (
    ("area",),
    ("substance_cohort",),
    ("area", "substance_cohort"),
)


def quarterly(tmp: Path) -> Outcome:
    """1. The sample quarterly run, as shipped."""
    return run_scenario(tmp, "quarterly", config_path=SAMPLE / "quarterly.toml")


def dozen_compares(tmp: Path) -> Outcome:
    """2. A run with a dozen compare tables: every --by of disability/housing/age/sex with
    --within area, substance_cohort, or both."""
    compares = []
    for by in BY:
        for within in WITHIN:
            name = f"{by}-by-{'-'.join(w.replace('_', '') for w in within)}"
            compares.append(
                compare_toml(
                    name, (by,), within, age_bands="18-29,30-39,40-49,50+" if by == "age" else None
                )
            )
    cfg = run_config(tmp / "unused", compares=compares, raw=SAMPLE / "raw_records.csv")
    return run_scenario(tmp, "dozen", cfg)


SEPARATE_COMPARES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str | None], ...] = (
    ("disability-housing", ("disability", "housing"), ("substance_cohort",), None),
    ("age-sex-by-area", ("age", "sex"), ("area",), "18-29,30-39,40-49,50+"),
    ("housing-by-area", ("housing",), ("area",), None),
)


def _gap_args(extract: Path, out: Path, period: str, release: Path | None) -> list[str]:
    args = [
        "gap",
        "--treatment",
        str(extract),
        "--prevalence",
        str(SAMPLE / "prevalence.csv"),
        "--prevalence-years",
        "3",
        "--period",
        period,
        "--total",
        "All areas",
        "--out",
        str(out),
    ]
    return args + (["--release", str(release)] if release else [])


def _compare_args(
    extract: Path,
    out: Path,
    by: Sequence[str],
    within: Sequence[str],
    bands: str | None,
    release: Path | None,
    extra: Sequence[str] = (),
    ootu: Path = SAMPLE / "cohort_ootu.csv",
) -> list[str]:
    """A ``compare`` command of the treatment ``extract`` and the cohort file ``ootu``."""
    args = ["compare", "--cohort", f"NDTMS={extract}", "--cohort", f"OOTU={ootu}"]
    for b in by:
        args += ["--by", b]
    for w in within:
        args += ["--within", w]
    if bands:
        args += ["--age-bands", bands]
    args += [*extra, "--out", str(out)]
    return args + (["--release", str(release)] if release else [])


def grown_differences(folders: Sequence[Path], k: int = 3) -> list[str]:
    """Every shown OOTU count or denominator of a compare table (``compare-*.parquet`` in
    each of ``folders``, one per quarter) that differs by 1..``k`` from the same cell's in
    any earlier quarter: the people a grown cohort added there, by subtraction."""
    found = []
    keys = ["cohort", "variable", "category"]
    names = sorted({p.stem for f in folders for p in f.glob("compare-*.parquet")})
    for name in names:
        frames = [
            (f.name, pd.read_parquet(f / f"{name}.parquet"))
            for f in folders
            if (f / f"{name}.parquet").exists()
        ]
        for i, (qa, before) in enumerate(frames):
            for qb, after in frames[i + 1 :]:
                on = [c for c in before.columns if c in ("area", "substance_cohort")] + keys
                both = before.merge(after, on=on, suffixes=("1", "2"))
                both = both[both["cohort"] == "OOTU"]
                for column in ("count", "denominator"):
                    diff = (both[f"{column}2"] - both[f"{column}1"]).abs()
                    for j in both.index[diff.between(1, k)]:
                        where = " ".join(str(both.at[j, c]) for c in on)
                        found.append(
                            f"{qa}->{qb} {name} {where} {column}: "
                            f"{both.at[j, f'{column}1']:.0f} -> {both.at[j, f'{column}2']:.0f}"
                        )
    return found


def separate_commands(
    tmp: Path, periods: Sequence[str] = (PERIOD,), name: str = "separate", release: bool = True
) -> Outcome:
    """3 (one period) and 4 (two): the gap and compare tables made by separate commands
    into one ``--release`` folder (``release=False``: without one), each period from its
    own extract file."""
    rel = tmp / f"{name}-release" if release else None
    pub = tmp / f"{name}-publish"
    pub.mkdir(parents=True, exist_ok=True)
    steps = []
    table_period: dict[str, str] = {}
    truth_frames = []
    for period in periods:
        extract = period_extract(tmp, period)
        truth_frames.append(read_records(extract))
        tag = period.replace("/", "-")
        steps.append(cli(_gap_args(extract, pub / f"gap-{tag}.parquet", period, rel)))
        for cname, by, within, bands in SEPARATE_COMPARES:
            stem = f"compare-{cname}-{tag}"
            steps.append(
                cli(_compare_args(extract, pub / f"{stem}.parquet", by, within, bands, rel))
            )
            table_period[stem] = period
        # the same table as CSV too (a second format of one publication)
        stem = f"compare-disability-by-area-{tag}"
        steps.append(
            cli(_compare_args(extract, pub / f"{stem}.csv", ("disability",), ("area",), None, rel))
        )
        table_period[stem] = period
    p = _publication([pub], None, table_period)
    truth = {"NDTMS": pd.concat(truth_frames, ignore_index=True), "OOTU": ootu_records()}
    return Outcome(
        name,
        p.tables,
        {**p.texts, **_texts_of(steps)},
        p.manifest,
        p.record_files,
        truth,
        atk.Policy.from_name(),
        steps,
    )


def exclude_not_stated(tmp: Path) -> Outcome:
    """5. Compare tables with --exclude-not-stated, published with default ones."""
    compares = [
        compare_toml(
            "disability-housing-excl", ("disability", "housing"), ("area",), exclude_not_stated=True
        ),
        compare_toml(
            "sex-by-cohort-excl", ("sex",), ("substance_cohort",), exclude_not_stated=True
        ),
        compare_toml("disability-by-cohort", ("disability",), ("substance_cohort",)),
    ]
    cfg = run_config(tmp / "unused", compares=compares, raw=SAMPLE / "raw_records.csv")
    return run_scenario(tmp, "exclude", cfg)


def nhs_policy(tmp: Path) -> Outcome:
    """6. The sample quarterly run under ``policy = "nhs"`` (1-7 hidden, the rest rounded
    to 5)."""
    text = (SAMPLE / "quarterly.toml").read_text(encoding="utf-8")
    text = text.replace("[disclosure]\n", '[disclosure]\npolicy = "nhs"\n', 1)
    for rel in ("raw_records.csv", "cohort_ootu.csv", "prevalence.csv"):
        text = text.replace(f'"{rel}"', toml_str(SAMPLE / rel))
    text = text.replace('dir = "../../out/quarterly"', f"dir = {toml_str(tmp / 'unused')}")
    assert 'policy = "nhs"' in text
    return run_scenario(tmp, "nhs", text, policy=atk.Policy.from_name("nhs"))


# --------------------------------------------------------------------------------------
# Random small worlds (the property test)

AREAS = (("Northton", "E06900001"), ("Southwick", "E06900002"), ("Eastbury", "E06900003"))
SEXES = ("male", "female", "other", "not_stated")
HOUSING = ("no_problem", "housing_problem", "urgent_housing_problem", "not_stated")


def random_world(rng: Any, n: int, n_areas: int, n_ootu: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A treatment extract of ``n`` people (one period) and an OOTU cohort file."""
    import numpy as np

    def people(m: int, treatment: bool) -> pd.DataFrame:
        areas = [AREAS[i] for i in rng.integers(0, n_areas, m)]
        dg = rng.choice(
            ["opiate", "non_opiate_only", "non_opiate_and_alcohol", "alcohol_only"],
            m,
            p=[0.45, 0.12, 0.1, 0.33] if treatment else [0.6, 0.4, 0.0, 0.0],
        )
        crack = rng.random(m) < np.where(dg == "alcohol_only", 0.0, 0.4 if treatment else 0.8)

        def flag(p_missing: float) -> list[str]:
            v = rng.random(m)
            return [
                "" if x < p_missing else ("True" if x < p_missing + 0.3 else "False") for x in v
            ]

        frame = pd.DataFrame(
            {
                "area": [a for a, _ in areas],
                "drug_group": dg,
                "crack": ["True" if c else "False" for c in crack],
                "age_band": rng.choice(list(atk.AGE_BANDS), m),
                "sex": rng.choice(SEXES, m, p=[0.62, 0.33, 0.02, 0.03]),
                "disability_learning": flag(0.08),
                "disability_mental_health": flag(0.08),
                "disability_physical": flag(0.08),
                "housing": rng.choice(HOUSING, m, p=[0.6, 0.2, 0.12, 0.08]),
            }
        )
        if treatment:
            frame.insert(0, "period", PERIOD)
            frame.insert(2, "area_code", [c for _, c in areas])
        return frame

    return people(n, True), people(n_ootu, False)


RANDOM_COMPARES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("disability",), ("area",)),
    (("housing",), ("substance_cohort",)),
    (("sex",), ("area",)),
    (("age",), ("area", "substance_cohort")),
    (("sex", "housing"), ("substance_cohort",)),
)


def random_run(
    tmp: Path, extract: pd.DataFrame, ootu: pd.DataFrame, compares: Sequence[int], gap: bool
) -> Outcome:
    tmp.mkdir(parents=True, exist_ok=True)
    ext_path, ootu_path = tmp / "extract.csv", tmp / "ootu.csv"
    extract.to_csv(ext_path, index=False)
    ootu.to_csv(ootu_path, index=False)
    tables = []
    for i in compares:
        by, within = RANDOM_COMPARES[i]
        tables.append(
            compare_toml(
                f"t{i}", by, within, age_bands="18-29,30-39,40-49,50+" if "age" in by else None
            )
        )
    cfg = run_config(
        tmp / "unused",
        compares=tables,
        treatment=ext_path,
        ootu=ootu_path,
        gap=gap,
        formats=("parquet",),
    )
    return run_scenario(tmp, "random", cfg, truth_ndtms=ext_path, ootu=ootu_path)


def attack_grown(
    folders: Sequence[Path],
    ootu: pd.DataFrame,
    ndtms: pd.DataFrame,
    periods: Sequence[str],
    policy: atk.Policy | None = None,
    waves_of: Sequence[int] | None = None,
    hidden_floor: int | str = "auto",
    covers: Sequence[frozenset[str]] | None = None,
    groups: Sequence[frozenset[str]] | None = None,
) -> atk.Report:
    """The attacker over every quarter's published files of a cohort that grew: quarter
    ``q``'s tables cover the NDTMS period ``periods[q]`` and the cohort's waves
    0..``waves_of[q]`` (default ``q``); ``ootu``: its people with their wave as ``period``
    (w0, w1, ...). Every run of consecutive later waves is a group whose pinning within
    1..K is a leak (the people added, by subtraction of any two quarters).

    A cohort that also lost people: ``covers[q]``, the labels (``period``) of the people
    quarter ``q``'s file holds, and ``groups``, the sets of labels whose pinning within 1..K
    is a leak (the people added or gone between two quarters)."""
    tables = []
    waves_of = list(waves_of) if waves_of is not None else list(range(len(folders)))
    for q, folder in enumerate(folders):
        pub = _publication([folder], None, None)
        for t in pub.tables:
            t.name = f"Q{q + 1}/{t.name}"
            t.period = periods[q]
            held = frozenset(f"w{w}" for w in range(waves_of[q] + 1))
            t.covers = {"OOTU": covers[q] if covers is not None else held}
        tables += pub.tables
    top = max(waves_of)
    added = [
        frozenset(f"w{w}" for w in range(a, b + 1))
        for a in range(1, top + 1)
        for b in range(a, top + 1)
    ]
    if groups is not None:
        added = list(groups)
    report = atk.attack(
        tables,
        policy=policy,
        truth={"NDTMS": ndtms, "OOTU": ootu},
        periodic_labels={"NDTMS", "OOTU"},
        added={"OOTU": added},
        hidden_floor=hidden_floor,
    )
    print(report.summary(12))
    return report


# the compare tables of a quarterly run the red team's release tests publish each quarter
QUARTER_COMPARES = [
    compare_toml("disability-housing", ["disability", "housing"], ["substance_cohort"]),
    compare_toml("age-sex-by-area", ["age", "sex"], ["area"], age_bands="18-29,30-39,40-49,50+"),
    compare_toml("housing-by-area", ["housing"], ["area"]),
    compare_toml("sex-by-cohort", ["sex"], ["substance_cohort"]),
]


def run_quarter(
    tmp: Path,
    q: int,
    rel: Path,
    cohort: Path,
    rng: Any,
    compares: Sequence[str] = tuple(QUARTER_COMPARES),
    **config: object,
) -> Path:
    """Quarter ``q``'s run (gap and ``compares``) into release ``rel``: 96% of the sample raw
    records, period 2024/25 Qq, the cohort file ``cohort``."""
    raw = pd.read_csv(SAMPLE / "raw_records.csv", dtype=str, keep_default_na=False)
    raw = raw[rng.random(len(raw)) > 0.04].assign(period=f"{PERIOD} Q{q}")
    raw.to_csv(tmp / f"raw_Q{q}.csv", index=False)
    out = tmp / f"out_Q{q}"
    cfg = run_config(
        out,
        raw=tmp / f"raw_Q{q}.csv",
        period=f"{PERIOD} Q{q}",
        compares=compares,
        ootu=cohort,
        **config,  # type: ignore[arg-type]
    )
    cfg = cfg.replace("[disclosure]\n", f"[disclosure]\nrelease = {toml_str(rel)}\n", 1)
    (tmp / f"Q{q}.toml").write_text(cfg, encoding="utf-8")
    cli(["run", tmp / f"Q{q}.toml"])
    return publish_dir(out)
