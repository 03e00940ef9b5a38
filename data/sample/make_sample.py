"""Make the synthetic sample world in data/sample/ (seeded, re-runnable, no network).

Usage: ``python data/sample/make_sample.py [--out DIR]`` (default: this script's folder;
``make sample`` runs it). The same seed gives byte-identical files on every run: rows come
out in a fixed order and every number is written as a whole number.

The world (every person is invented; no row describes a real person):

* Five fictional local authorities with fake GSS-shaped codes: Northton E06900001,
  Southwick E06900002, Eastbury E06900003, Westmere E06900004 and the small Midford
  E06900005 (about 70 people a year, so small cells appear and suppression has work to do).
* ``extract.csv``: adults in structured treatment in 2023/24 (1,800 people) and 2024/25
  (1,854), in canonical codes (CONTRACT 2.1). About 55% of each area's 2023/24 clients are
  still in treatment in 2024/25 (the same person, a year older); the rest are new.
  Shares, shaped like the published NDTMS adult statistics:
  drug_group opiate 47%, non_opiate_only 9%, non_opiate_and_alcohol 7%, alcohol_only 37%;
  crack cited by 45% of the opiate group, 20% of each non-opiate group, never alcohol_only
  (so crack_no_opiate is about 3% of everyone); sex 68% male, 31% female, 0.5% other,
  0.5% not stated; age centred on 35-49 for opiates and 40-59 for alcohol_only;
  ethnicity 85% white, then mixed, asian, black 3% each, other 1%, not stated 5%;
  disability mental health yes about 50% (higher for opiates), physical about 20%,
  learning 4%, each blank for 6%; housing urgent 8%, problem 15%, not stated 5%;
  employment regular 20% (10% for opiates, 30% for alcohol_only).
* ``counts.csv``: the extract counted by period, area, drug_group and crack (CONTRACT 2.2);
  counts 1..4 are written ``*`` as published, zeros as ``0``. alcohol_only with crack is
  not a group (the NDTMS hierarchy), so it has no row.
* ``cohort_ootu.csv``: 70 out-of-treatment crack users (CONTRACT 2.3), mostly in Northton
  and Southwick, shaped like the seed study's interview sample: mental health disability
  86%, physical 49%, learning 4%; housing urgent 7%, problem 19%, no problem 73%.
* ``prevalence.csv``: estimated numbers of people for 2020/21 to 2024/25 x four substances
  x five areas (CONTRACT 2.4). The 2024/25 estimate is that year's in-treatment count
  / (1 - gap), gap drawn per area and substance: opiate_crack
  40-55%, opiate 35-50%, crack 55-70%, alcohol_dependent 75-85%; each earlier year drifts
  from the next by a few percent (sd 3%), rounded to whole people.
  95% bounds are about 0.8x and 1.3x the estimate, and blank for 2020/21 (a real quirk).
* ``raw_records.csv``: 2,000 record-level rows for 2024/25 that still carry fake
  identifiers and fine NDTMS codes, the input of ``unmetneed anonymise``: client_id
  (C + 7 digits), nhs_number (999 test range, valid check digit), date_of_birth (ages
  18-80 at 31 March 2025, plus 3 people aged 16-17), postcode (ZZ99 pseudo-postcodes),
  ethnicity letter codes A-S/Z (A 78%), religion, sexuality and nationality labels, with
  the rare categories rare (Jain, Baha'i, Zoroastrian, Chinese: none to a handful each). The
  records are drawn on their own (same areas and drug-group shares as the extract, not
  the same people); religion and sexuality carry labels outside the contract's code lists
  (Buddhist, Bisexual, Not asked...), which anonymise's code maps must collapse.
* ``README.md``: the description of the files, with the realised figures.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20250331
HERE = Path(__file__).resolve().parent

# (area, GSS-shaped code, people in treatment 2023/24, 2024/25, raw records 2024/25)
AREAS: list[tuple[str, str, int, int, int]] = [
    ("Northton", "E06900001", 620, 639, 690),
    ("Southwick", "E06900002", 500, 515, 555),
    ("Eastbury", "E06900003", 340, 350, 380),
    ("Westmere", "E06900004", 270, 278, 300),
    ("Midford", "E06900005", 70, 72, 75),
]
PERIODS = ["2023/24", "2024/25"]
PREVALENCE_PERIODS = ["2020/21", "2021/22", "2022/23", "2023/24", "2024/25"]
STAY_ON = 0.55  # share of a 2023/24 client still in treatment in 2024/25

DRUG_GROUPS = ["opiate", "non_opiate_only", "non_opiate_and_alcohol", "alcohol_only"]
DRUG_GROUP_SHARES = {
    "opiate": 0.47,
    "non_opiate_only": 0.09,
    "non_opiate_and_alcohol": 0.07,
    "alcohol_only": 0.37,
}
CRACK_SHARE = {
    "opiate": 0.45,
    "non_opiate_only": 0.20,
    "non_opiate_and_alcohol": 0.20,
    "alcohol_only": 0.0,
}
# single year of age: (mean, sd) per drug group, clipped to 18..80
AGE = {
    "opiate": (43.0, 8.0),
    "non_opiate_only": (31.0, 9.0),
    "non_opiate_and_alcohol": (37.0, 10.0),
    "alcohol_only": (49.0, 10.5),
}
AGE_BANDS = ["18-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64", "65+"]
AGE_EDGES = np.array([25, 30, 35, 40, 45, 50, 55, 60, 65])

SEX = {"male": 0.68, "female": 0.31, "other": 0.005, "not_stated": 0.005}
ETHNICITY = {
    "white": 0.85,
    "mixed": 0.03,
    "asian": 0.03,
    "black": 0.03,
    "other": 0.01,
    "not_stated": 0.05,
}
SEXUALITY = {"heterosexual": 0.87, "other": 0.05, "not_stated": 0.08}
RELIGION = {"christian": 0.26, "muslim": 0.02, "other_none": 0.44, "not_stated": 0.28}
NATIONALITY = {"british": 0.90, "not_british": 0.06, "not_stated": 0.04}
# P(yes) per drug group; FLAG_BLANK of each flag is not stated
DISABILITY_MH = {
    "opiate": 0.55,
    "non_opiate_only": 0.50,
    "non_opiate_and_alcohol": 0.52,
    "alcohol_only": 0.45,
}
DISABILITY_PHYSICAL = {
    "opiate": 0.22,
    "non_opiate_only": 0.12,
    "non_opiate_and_alcohol": 0.16,
    "alcohol_only": 0.20,
}
DISABILITY_LEARNING = dict.fromkeys(DRUG_GROUPS, 0.04)
LIVES_WITH_CHILDREN = {
    "opiate": 0.12,
    "non_opiate_only": 0.22,
    "non_opiate_and_alcohol": 0.22,
    "alcohol_only": 0.20,
}
FLAG_BLANK = 0.06
HOUSING = {
    "opiate": {
        "no_problem": 0.62,
        "housing_problem": 0.19,
        "urgent_housing_problem": 0.14,
        "not_stated": 0.05,
    },
    "non_opiate_only": {
        "no_problem": 0.76,
        "housing_problem": 0.13,
        "urgent_housing_problem": 0.06,
        "not_stated": 0.05,
    },
    "non_opiate_and_alcohol": {
        "no_problem": 0.74,
        "housing_problem": 0.14,
        "urgent_housing_problem": 0.07,
        "not_stated": 0.05,
    },
    "alcohol_only": {
        "no_problem": 0.83,
        "housing_problem": 0.11,
        "urgent_housing_problem": 0.02,
        "not_stated": 0.04,
    },
}
EMPLOYMENT = {
    "opiate": {"regular": 0.10, "not_regular": 0.86, "not_stated": 0.04},
    "non_opiate_only": {"regular": 0.27, "not_regular": 0.69, "not_stated": 0.04},
    "non_opiate_and_alcohol": {"regular": 0.24, "not_regular": 0.72, "not_stated": 0.04},
    "alcohol_only": {"regular": 0.30, "not_regular": 0.66, "not_stated": 0.04},
}

# prevalence: gap (share not in treatment) drawn per area from these ranges
GAP_RANGE = {
    "opiate_crack": (0.40, 0.55),
    "opiate": (0.35, 0.50),
    "crack": (0.55, 0.70),
    "alcohol_dependent": (0.75, 0.85),
}
SUBSTANCES = list(GAP_RANGE)

# raw records: fine codes and labels as a case-management system exports them
RAW_DRUG_GROUP = {
    "opiate": "Opiates",
    "non_opiate_only": "Non-opiates only",
    "non_opiate_and_alcohol": "Non-opiates and alcohol",
    "alcohol_only": "Alcohol only",
}
RAW_SEX = {"M": 0.68, "F": 0.31, "": 0.01}
RAW_ETHNICITY = {  # NDTMS ethnicity codes
    "A": 0.780,  # White British
    "B": 0.010,  # White Irish
    "C": 0.050,  # Other White
    "D": 0.012,  # White and Black Caribbean
    "E": 0.004,  # White and Black African
    "F": 0.004,  # White and Asian
    "G": 0.006,  # Other Mixed
    "H": 0.008,  # Indian
    "J": 0.009,  # Pakistani
    "K": 0.003,  # Bangladeshi
    "L": 0.005,  # Other Asian
    "M": 0.010,  # Caribbean
    "N": 0.008,  # African
    "P": 0.003,  # Other Black
    "R": 0.001,  # Chinese
    "S": 0.007,  # Other
    "Z": 0.060,  # Not stated
}
RAW_RELIGION = {
    "Christian": 0.25,
    "None": 0.34,
    "Muslim": 0.02,
    "Buddhist": 0.005,
    "Hindu": 0.004,
    "Sikh": 0.003,
    "Jewish": 0.002,
    "Pagan": 0.003,
    "Jain": 0.0005,
    "Baha'i": 0.0005,
    "Zoroastrian": 0.0005,
    "Other": 0.02,
    "Declined": 0.10,
    "Unknown": 0.10,
    "": 0.1515,
}
RAW_SEXUALITY = {
    "Heterosexual": 0.85,
    "Gay/Lesbian": 0.03,
    "Bisexual": 0.02,
    "Other": 0.005,
    "Not stated": 0.04,
    "Not asked": 0.03,
    "": 0.025,
}
RAW_NATIONALITY = {"British": 0.90, "Not British": 0.06, "Not stated": 0.04}
RAW_HOUSING = {
    "no_problem": "No problem",
    "housing_problem": "Housing problem",
    "urgent_housing_problem": "Urgent housing problem",
    "not_stated": "",
}
RAW_EMPLOYMENT = {"regular": "Regular", "not_regular": "Not regular", "not_stated": ""}
RAW_COLUMNS = [
    "client_id",
    "nhs_number",
    "date_of_birth",
    "postcode",
    "period",
    "area",
    "area_code",
    "drug_group",
    "crack",
    "sex",
    "ethnicity",
    "religion",
    "sexuality",
    "nationality",
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "housing",
    "employment",
    "lives_with_children",
]
RAW_PERIOD_END = pd.Timestamp("2025-03-31")
RAW_UNDER_18 = 3

EXTRACT_COLUMNS = [
    "period",
    "area",
    "area_code",
    "drug_group",
    "crack",
    "age_band",
    "sex",
    "ethnicity",
    "sexuality",
    "religion",
    "nationality",
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "housing",
    "employment",
    "lives_with_children",
]
FLAG_COLUMNS = [
    "crack",
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "lives_with_children",
]


# ---------------------------------------------------------------------------- drawing


def draw(rng: np.random.Generator, n: int, shares: Mapping[str, float]) -> np.ndarray:
    """``n`` codes drawn with the given shares (normalised to sum to 1)."""
    codes = np.array(list(shares), dtype=object)
    p = np.array(list(shares.values()), dtype=float)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def draw_by_group(
    rng: np.random.Generator, groups: np.ndarray, table: Mapping[str, Mapping[str, float]]
) -> np.ndarray:
    """One code per row, drawn from the share table of the row's drug group."""
    out = np.empty(len(groups), dtype=object)
    for group in DRUG_GROUPS:
        mask = groups == group
        out[mask] = draw(rng, int(mask.sum()), table[group])
    return out


def per_group(groups: np.ndarray, values: Mapping[str, float]) -> np.ndarray:
    """Each row's drug group looked up in ``values``, as floats."""
    return pd.Series(groups).map(values).to_numpy(dtype=float)


def draw_flag(
    rng: np.random.Generator, groups: np.ndarray, p_yes: Mapping[str, float], blank: float
) -> np.ndarray:
    """A true/false/None flag: yes with the group's probability, None for ``blank`` of rows."""
    p = per_group(groups, p_yes)
    u = rng.random(len(groups))
    out = (u < p).astype(object)
    out[rng.random(len(groups)) < blank] = None
    return out


def draw_age(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Single year of age (18..80) from the drug group's normal distribution."""
    mean = per_group(groups, {g: m for g, (m, _) in AGE.items()})
    sd = per_group(groups, {g: s for g, (_, s) in AGE.items()})
    return np.clip(np.rint(rng.normal(mean, sd)), 18, 80).astype(int)


def age_band(age: np.ndarray) -> np.ndarray:
    """The contract's 5-year age band of each age (18 and over)."""
    return np.array(AGE_BANDS, dtype=object)[np.digitize(age, AGE_EDGES)]


def tallies(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """``n`` split by the shares into whole numbers that add up to ``n`` (largest remainder)."""
    p = np.array(list(shares.values()), dtype=float)
    raw = n * p / p.sum()
    whole = np.floor(raw).astype(int)
    extra = np.argsort(-(raw - whole), kind="stable")[: n - whole.sum()]
    whole[extra] += 1
    return dict(zip(shares, whole.tolist(), strict=True))


def exact_crack(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Crack cited by exactly the group's share of each drug group (rounded), at random rows."""
    crack = np.zeros(len(groups), dtype=bool)
    for group in DRUG_GROUPS:
        rows = np.flatnonzero(groups == group)
        k = round(len(rows) * CRACK_SHARE[group])
        crack[rng.permutation(rows)[:k]] = True
    return crack


def draw_core(rng: np.random.Generator, groups: np.ndarray) -> pd.DataFrame:
    """Crack, age and the group-dependent characteristics of people in the given drug groups."""
    return pd.DataFrame(
        {
            "drug_group": groups,
            "crack": exact_crack(rng, groups),
            "age": draw_age(rng, groups),
            "disability_learning": draw_flag(rng, groups, DISABILITY_LEARNING, FLAG_BLANK),
            "disability_mental_health": draw_flag(rng, groups, DISABILITY_MH, FLAG_BLANK),
            "disability_physical": draw_flag(rng, groups, DISABILITY_PHYSICAL, FLAG_BLANK),
            "housing": draw_by_group(rng, groups, HOUSING),
            "employment": draw_by_group(rng, groups, EMPLOYMENT),
            "lives_with_children": draw_flag(rng, groups, LIVES_WITH_CHILDREN, FLAG_BLANK),
        }
    )


def draw_people(rng: np.random.Generator, groups: np.ndarray) -> pd.DataFrame:
    """People in treatment in the given drug groups, canonical codes, single year of age."""
    n = len(groups)
    core = draw_core(rng, groups)
    return core.assign(
        sex=draw(rng, n, SEX),
        ethnicity=draw(rng, n, ETHNICITY),
        sexuality=draw(rng, n, SEXUALITY),
        religion=draw(rng, n, RELIGION),
        nationality=draw(rng, n, NATIONALITY),
    )


# ---------------------------------------------------------------------------- extract


def make_extract(rng: np.random.Generator) -> pd.DataFrame:
    """The treatment extract for both periods: 2024/25 keeps ~55% of 2023/24, a year older.

    Each area's drug groups match the shares to the person in both years (the joiners make
    up the difference), so the in-treatment counts behind the prevalence are stable.
    """
    frames = []
    for area, code, n_first, n_second, _raw in AREAS:
        first = draw_people(rng, exact(rng, tallies(n_first, DRUG_GROUP_SHARES)))
        stay = first[rng.random(n_first) < STAY_ON].assign(age=lambda f: f["age"] + 1)
        stayed = stay["drug_group"].value_counts()
        target = tallies(n_second, DRUG_GROUP_SHARES)
        joining = {g: max(target[g] - int(stayed.get(g, 0)), 0) for g in DRUG_GROUPS}
        new = draw_people(rng, exact(rng, joining))
        second = pd.concat([stay, new], ignore_index=True)
        for period, people in zip(PERIODS, (first, second), strict=True):
            frames.append(people.assign(period=period, area=area, area_code=code))
    extract = pd.concat(frames, ignore_index=True)
    extract["age_band"] = age_band(extract["age"].to_numpy())
    order = {p: i for i, p in enumerate(PERIODS)}
    extract = extract.sort_values("period", key=lambda s: s.map(order), kind="stable")
    return extract[EXTRACT_COLUMNS].reset_index(drop=True)


def count_groups(extract: pd.DataFrame) -> pd.DataFrame:
    """People per period x area x drug_group x crack, every valid cell (zeros included)."""
    areas = pd.DataFrame([(a, c) for a, c, *_ in AREAS], columns=["area", "area_code"])
    cells = pd.DataFrame(
        [(g, c) for g in DRUG_GROUPS for c in (False, True) if CRACK_SHARE[g] > 0 or not c],
        columns=["drug_group", "crack"],
    )
    grid = pd.DataFrame({"period": PERIODS}).merge(areas, how="cross").merge(cells, how="cross")
    keys = ["period", "area", "area_code", "drug_group", "crack"]
    counted = extract.groupby(keys, sort=False).size().rename("count").reset_index()
    out = grid.merge(counted, on=keys, how="left")
    return out.assign(count=out["count"].fillna(0).astype(int))


def make_counts(extract: pd.DataFrame) -> pd.DataFrame:
    """The published counts: 1..4 written as ``*``, zeros as ``0``."""
    counts = count_groups(extract)
    small = counts["count"].between(1, 4)
    text = counts["count"].astype(str).where(~small, "*")
    return counts.assign(count=text)


# ---------------------------------------------------------------------------- cohort


def make_area_sex(extract: pd.DataFrame, period: str = "2024/25") -> pd.DataFrame:
    """People in treatment in ``period`` by area x sex with every total, unsuppressed:
    a table "from elsewhere" for ``unmetneed suppress --total-row`` (Total rows sum a column).
    """
    people = extract[extract["period"] == period]
    table = pd.crosstab(people["area"], people["sex"], margins=True, margins_name="Total")
    order = [s for s in ("male", "female", "other", "not_stated") if s in table.columns]
    long = table[[*order, "Total"]].stack().rename("count").reset_index()
    return long.rename(columns={"level_1": "sex"})[["area", "sex", "count"]]


def exact(rng: np.random.Generator, tallies: Mapping[str, int]) -> np.ndarray:
    """The codes repeated to the given tallies, in a random order (exact proportions)."""
    values = np.repeat(np.array(list(tallies), dtype=object), list(tallies.values()))
    return rng.permutation(values)


def exact_flag(rng: np.random.Generator, yes: int, no: int, blank: int) -> np.ndarray:
    """A flag column with exactly ``yes`` true, ``no`` false and ``blank`` missing."""
    return exact(rng, {"true": yes, "false": no, "": blank})


def make_cohort(rng: np.random.Generator) -> pd.DataFrame:
    """70 out-of-treatment crack users, shaped like the seed study's interview sample."""
    n = 70
    area = exact(rng, {"Northton": 38, "Southwick": 27, "Eastbury": 3, "Westmere": 2})
    drug_group = exact(rng, {"opiate": 48, "non_opiate_only": 22})
    return pd.DataFrame(
        {
            "area": area,
            "drug_group": drug_group,
            "crack": np.full(n, "true", dtype=object),
            "age_band": exact(
                rng,
                {
                    "18-24": 2,
                    "25-29": 6,
                    "30-34": 10,
                    "35-39": 14,
                    "40-44": 15,
                    "45-49": 12,
                    "50-54": 8,
                    "55-59": 3,
                },
            ),
            "sex": exact(rng, {"male": 50, "female": 19, "not_stated": 1}),
            "ethnicity": exact(
                rng, {"white": 58, "mixed": 4, "black": 5, "asian": 2, "other": 0, "not_stated": 1}
            ),
            "disability_learning": exact_flag(rng, 3, 66, 1),
            "disability_mental_health": exact_flag(rng, 60, 9, 1),
            "disability_physical": exact_flag(rng, 34, 35, 1),
            "housing": exact(
                rng,
                {
                    "no_problem": 51,
                    "housing_problem": 13,
                    "urgent_housing_problem": 5,
                    "not_stated": 1,
                },
            ),
            "employment": exact(rng, {"regular": 4, "not_regular": 64, "not_stated": 2}),
        }
    )


# ---------------------------------------------------------------------------- prevalence


def in_treatment(extract: pd.DataFrame) -> pd.DataFrame:
    """T per area x period x substance, by the contract's rules (CONTRACT 4.1)."""
    g = extract["drug_group"]
    flags = pd.DataFrame(
        {
            "opiate_crack": (g == "opiate") | extract["crack"],
            "opiate": g == "opiate",
            "crack": extract["crack"],
            "alcohol_dependent": g.isin(["alcohol_only", "non_opiate_and_alcohol"]),
        }
    ).astype(int)
    flags[["area", "period"]] = extract[["area", "period"]]
    return flags.groupby(["area", "period"], sort=False)[SUBSTANCES].sum()


def make_prevalence(rng: np.random.Generator, extract: pd.DataFrame) -> pd.DataFrame:
    """Estimates for 5 years x 4 substances x 5 areas, consistent with the extract's T."""
    treated = in_treatment(extract)
    rows = []
    for area, code, *_ in AREAS:
        for substance in SUBSTANCES:
            low, high = GAP_RANGE[substance]
            gap = rng.uniform(low, high)
            # the latest year: its T / (1 - gap); each earlier year a few percent off the next
            latest = max(treated.loc[(area, PERIODS[-1]), substance], 1) / (1 - gap)
            steps = 1 + rng.normal(0, 0.03, size=len(PREVALENCE_PERIODS))
            steps[-1] = 1.0
            path = latest * np.cumprod(steps[::-1])[::-1]
            estimates = dict(zip(PREVALENCE_PERIODS, path, strict=True))
            lower_f = rng.uniform(0.76, 0.84, size=len(PREVALENCE_PERIODS))
            upper_f = rng.uniform(1.22, 1.38, size=len(PREVALENCE_PERIODS))
            for i, period in enumerate(PREVALENCE_PERIODS):
                est = round(estimates[period])
                bounds = (
                    (None, None) if i == 0 else (round(est * lower_f[i]), round(est * upper_f[i]))
                )
                rows.append((area, code, period, substance, est, *bounds))
    frame = pd.DataFrame(
        rows, columns=["area", "area_code", "period", "substance", "estimate", "lower", "upper"]
    )
    return frame.astype({"lower": "Int64", "upper": "Int64"})


# ---------------------------------------------------------------------------- raw records


def nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct fake NHS numbers: 999 + 6 digits + a valid modulus-11 check digit."""
    body = 999_000_000 + rng.choice(1_000_000, size=3 * n, replace=False)
    digits = (body[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    check = 11 - (digits * np.arange(10, 1, -1)).sum(axis=1) % 11
    check[check == 11] = 0
    valid = check != 10
    return (body[valid] * 10 + check[valid])[:n].astype(str)


def postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pseudo-postcodes ``ZZ99 9AA`` (ZZ99 is the pseudo-postcode range; no real place)."""
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
    digit = rng.integers(1, 10, size=n).astype(str).astype(object)
    return "ZZ99 " + digit + letters[rng.integers(0, 20, n)] + letters[rng.integers(0, 20, n)]


def dates_of_birth(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """A date of birth giving each age at 31 March 2025 (the period's end), ISO text."""
    start = pd.to_datetime(pd.DataFrame({"year": 2024 - age, "month": 4, "day": 1}))
    end = pd.to_datetime(pd.DataFrame({"year": 2025 - age, "month": 3, "day": 31}))
    span = (end - start).dt.days.to_numpy() + 1
    offset = np.floor(rng.random(len(age)) * span).astype(int)
    return (start + pd.to_timedelta(offset, unit="D")).dt.strftime("%Y-%m-%d").to_numpy()


def yes_no(flag: pd.Series) -> pd.Series:
    """True/False/None as ``Y``/``N``/blank."""
    return flag.map({True: "Y", False: "N"}).fillna("")


def make_raw(rng: np.random.Generator) -> pd.DataFrame:
    """2,000 record-level rows for 2024/25 with fake identifiers and fine codes."""
    frames = []
    for area, code, *_, n in AREAS:
        groups = exact(rng, tallies(n, DRUG_GROUP_SHARES))
        frames.append(draw_core(rng, groups).assign(area=area, area_code=code))
    raw = pd.concat(frames, ignore_index=True)
    n = len(raw)
    young = np.sort(rng.choice(n, size=RAW_UNDER_18, replace=False))
    raw.loc[young, "age"] = rng.integers(16, 18, size=RAW_UNDER_18)
    raw.loc[young, ["drug_group", "crack"]] = ["non_opiate_only", False]
    ids = 1_000_000 + rng.choice(9_000_000, size=n, replace=False)
    out = pd.DataFrame(
        {
            "client_id": "C" + pd.Series(ids).astype(str),
            "nhs_number": nhs_numbers(rng, n),
            "date_of_birth": dates_of_birth(rng, raw["age"].to_numpy()),
            "postcode": postcodes(rng, n),
            "period": "2024/25",
            "area": raw["area"],
            "area_code": raw["area_code"],
            "drug_group": raw["drug_group"].map(RAW_DRUG_GROUP),
            "crack": raw["crack"].map({True: "Y", False: "N"}),
            "sex": draw(rng, n, RAW_SEX),
            "ethnicity": draw(rng, n, RAW_ETHNICITY),
            "religion": draw(rng, n, RAW_RELIGION),
            "sexuality": draw(rng, n, RAW_SEXUALITY),
            "nationality": draw(rng, n, RAW_NATIONALITY),
            "disability_learning": yes_no(raw["disability_learning"]),
            "disability_mental_health": yes_no(raw["disability_mental_health"]),
            "disability_physical": yes_no(raw["disability_physical"]),
            "housing": raw["housing"].map(RAW_HOUSING),
            "employment": raw["employment"].map(RAW_EMPLOYMENT),
            "lives_with_children": yes_no(raw["lives_with_children"]),
        }
    )
    return out[RAW_COLUMNS]


# ---------------------------------------------------------------------------- writing


def flags_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Flag columns written ``true``/``false``/blank (blank = not stated)."""
    present = [c for c in FLAG_COLUMNS if c in frame]
    mapped = {c: frame[c].map({True: "true", False: "false"}).fillna("") for c in present}
    return frame.assign(**mapped)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV with a header, ``\\n`` line ends and blanks for missing values."""
    frame.to_csv(path, index=False, lineterminator="\n", na_rep="")


def share_lines(values: pd.Series, order: Sequence[str]) -> str:
    """``code n (pct%)`` for each code, in the given order."""
    n = len(values)
    counts = values.value_counts()
    return ", ".join(f"{c} {counts.get(c, 0)} ({100 * counts.get(c, 0) / n:.1f}%)" for c in order)


def figures(extract: pd.DataFrame, counts: pd.DataFrame, prevalence: pd.DataFrame) -> str:
    """The realised figures of the sample world, as Markdown bullets for the README."""
    lines = []
    for period in PERIODS:
        e = extract[extract["period"] == period]
        lines.append(
            f"- {period}: {len(e)} people; drug_group {share_lines(e['drug_group'], DRUG_GROUPS)}"
        )
        crack_no_opiate = int((e["crack"] & (e["drug_group"] != "opiate")).sum())
        crack_opiate = e.loc[e["drug_group"] == "opiate", "crack"].mean()
        lines.append(
            f"  - crack cited by {100 * crack_opiate:.1f}% of the opiate group; "
            f"crack_no_opiate {crack_no_opiate} ({100 * crack_no_opiate / len(e):.1f}%)"
        )
        lines.append(f"  - sex {share_lines(e['sex'], list(SEX))}")
        lines.append(
            "  - by area: " + ", ".join(f"{a} {int((e['area'] == a).sum())}" for a, *_ in AREAS)
        )
    stars = int((counts["count"] == "*").sum())
    zeros = int((counts["count"] == "0").sum())
    lines.append(
        f"- counts.csv: {len(counts)} cells, {stars} written `*` (1..4 people), {zeros} written 0"
    )
    treated = in_treatment(extract)
    for period in PERIODS:
        shown = prevalence[prevalence["period"] == period].set_index(["area", "substance"])
        for substance in SUBSTANCES:
            gaps = [
                100
                * (1 - treated.loc[(a, period), substance] / shown.loc[(a, substance), "estimate"])
                for a, *_ in AREAS
            ]
            lines.append(
                f"- {period} proportion not in treatment, {substance}: "
                f"{min(gaps):.0f}% to {max(gaps):.0f}% across the areas"
            )
    return "\n".join(lines)


README = """# Sample data: a synthetic NDTMS-style world

Everything here is **synthetic**: made by `make_sample.py` from a fixed seed. No row
describes a real person; the areas (Northton, Southwick, Eastbury, Westmere, Midford) and
their codes (E06900001..E06900005) are invented, NHS numbers are in the 999 test range and
postcodes are ZZ99 pseudo-postcodes.

Regenerate with `make sample` (or `python data/sample/make_sample.py [--out DIR]`). The
output is byte-identical on every run; `tests/test_sample.py` checks that, that each file
validates against its contract, and that counts.csv adds up to extract.csv.

The files (CONTRACT.md section):

- `extract.csv` (2.1 treatment extract): one row per person in treatment, 2023/24 and
  2024/25, five areas, canonical codes.
- `counts.csv` (2.2 treatment counts): extract.csv counted by period, area, drug_group
  and crack; counts 1..4 written `*` as published, zeros written `0`.
- `cohort_ootu.csv` (2.3 cohort): 70 out-of-treatment crack users, mostly in Northton
  and Southwick.
- `prevalence.csv` (2.4 prevalence): estimates for 2020/21..2024/25 x opiate_crack,
  opiate, crack, alcohol_dependent x five areas; the bounds are blank for 2020/21.
- `raw_records.csv` (input of `unmetneed anonymise`): 2,000 records for 2024/25 with fake
  identifiers (client_id, nhs_number, date_of_birth, postcode) and fine NDTMS codes.
- `counts_by_area_sex.csv` (input of `unmetneed suppress --total-row`): the 2024/25 people
  of extract.csv by area x sex, with `Total` rows for every margin, unsuppressed.
- `quarterly.toml` (not generated): the config of `unmetneed run`, used by `make demo`.

## The proportions used

{doc}

## The realised figures

{figures}
"""


def write_readme(
    out: Path, extract: pd.DataFrame, counts: pd.DataFrame, prevalence: pd.DataFrame
) -> None:
    """README.md: the files, the proportions (this module's docstring) and realised figures."""
    doc = __doc__.split(
        "The world (every person is invented; no row describes a real person):\n\n"
    )[1]
    doc = doc.split("* ``README.md``")[0].strip().replace("``", "`")
    text = README.format(doc=doc, figures=figures(extract, counts, prevalence))
    (out / "README.md").write_text(text, encoding="utf-8", newline="\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Write every sample file into ``--out`` (default: this script's folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    extract = make_extract(rng)
    counts = make_counts(extract)
    cohort = make_cohort(rng)
    prevalence = make_prevalence(rng, extract)
    raw = make_raw(rng)
    write_csv(flags_as_text(extract), out / "extract.csv")
    write_csv(flags_as_text(counts), out / "counts.csv")
    write_csv(cohort, out / "cohort_ootu.csv")
    write_csv(prevalence, out / "prevalence.csv")
    write_csv(raw, out / "raw_records.csv")
    write_csv(make_area_sex(extract), out / "counts_by_area_sex.csv")
    write_readme(out, extract, counts, prevalence)


if __name__ == "__main__":
    main()
