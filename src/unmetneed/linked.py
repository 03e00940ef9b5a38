"""Linked tables: the tables of a run that count the same people, protected as one.

A gap table and a compare table made from the same extract show counts of the same people:
the gap's ``opiate_crack`` and ``opiate`` rows of an area, and a compare table's
``crack_no_opiate`` denominator of that area, are sums of the same records. Protected one
at a time, a count suppressed in one table can be worked out from the other (``opiate_crack
- opiate`` shows ``crack_no_opiate``). Protected together, it cannot.

The link goes through *atoms*: the extract's people counted by every combination of
``period``, ``area``, ``area_code``, ``drug_group`` and ``crack`` present (missing values
are a value of their own). Atoms are never published. A cell of a table that counts
exactly the people of some atoms (every record of each atom it touches, and nobody else)
gets the relation ``cell = sum of those atoms``: every gap ``in_treatment`` count, total
rows included; a compare table's counts and denominators of the extract cohort within
groups made of those columns only (``area``, ``substance_cohort``, ...). Other cells (a
group split by sex, another cohort) share no whole atom and stay unlinked.

All the tables' cells and the atoms make one :class:`~unmetneed.disclosure.Cells`:
placements renamed ``"<table>:<column>"``, cell ids offset table by table, atoms last and
placed in the pseudo column ``ATOMS_COLUMN`` (no frame has it) so ``protect`` guards a
small atom as it guards a shown count. One ``protect`` call; each table is then finished
with the protection sliced to its own cells, and written with the whole structure (atoms
unplaced, as a reader knows them) so ``unmetneed audit`` on all the files together checks
what they show together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from unmetneed.disclosure import Cells, Placement, Policy, Protection, attacker, protect
from unmetneed.errors import DisclosureError
from unmetneed.gap import PARTS_COLUMN

ATOMS_COLUMN = "_extract_atoms"  # pseudo column: the atoms are guarded, never shown
PSEUDO_COLUMNS = (ATOMS_COLUMN, PARTS_COLUMN)
ATOM_KEYS = ("period", "area", "area_code", "drug_group", "crack")
SETTLE_ROUNDS = 5


@dataclass(frozen=True)
class Part:
    """One table of a linked set.

    ``name``: the table's name (its file stem, e.g. ``gap``, ``compare-age``). ``cells``:
    its own cells, placements without a frame prefix. ``members``: which extract record
    (``row``, 0-based position in the extract) is counted in which of its cells
    (``cell``); empty when the table counts nobody of the extract.
    """

    name: str
    cells: Cells
    members: pd.DataFrame


@dataclass(frozen=True)
class Linked:
    """The linked structure: every part's cells, then the atoms (people per atom).

    ``offsets``: the first linked cell id of each part. ``n_links``: cells related to
    their atoms. ``n_atoms``: atoms with at least one person.
    """

    cells: Cells
    parts: tuple[Part, ...]
    offsets: dict[str, int]
    n_links: int
    n_atoms: int

    @property
    def names(self) -> list[str]:
        """The linked tables' names, in the order given."""
        return [p.name for p in self.parts]

    def ids(self, name: str) -> np.ndarray:
        """Linked cell ids of the part ``name``'s cells, in its own order."""
        part = next(p for p in self.parts if p.name == name)
        return self.offsets[name] + np.arange(len(part.cells.values))

    def protect(self, policy: Policy) -> Protection:
        """Primary and secondary suppression of all the linked cells at once, settled so
        that every suppressed cell passes ``audit`` on the written files (:func:`settle`).
        """
        return settle(self, protect(self.cells, policy))

    def written(self) -> Cells:
        """The structure written with each table: pseudo columns unplaced (no file shows
        them, so a reader, and ``audit``, does not know the atoms or the gap's parts)."""
        shown = [p for p in self.cells.placements if p.name not in PSEUDO_COLUMNS]
        return Cells(self.cells.values, list(self.cells.relations), shown)

    def meta(self, protection: Protection, name: str) -> dict[str, object]:
        """The ``"disclosure"`` metadata block of table ``name``'s file."""
        return protection.meta(self.written(), table=name)


def atoms(extract: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each extract row's atom (0-based) and the number of people in each atom.

    Atoms are the combinations of the ``ATOM_KEYS`` columns present, missing values
    included, numbered in sorted order; one ``groupby`` pass.

    >>> frame = pd.DataFrame({"area": ["A", "A", "B"], "crack": [True, True, None]})
    >>> atom, size = atoms(frame)
    >>> atom.tolist(), size.tolist()
    ([0, 0, 1], [2, 1])
    """
    keys = [k for k in ATOM_KEYS if k in extract.columns]
    if extract.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not keys:
        return np.zeros(len(extract), dtype=np.int64), np.array([len(extract)], np.int64)
    atom = extract.groupby(keys, dropna=False, sort=True, observed=True).ngroup()
    of_row = atom.to_numpy(dtype=np.int64)
    return of_row, np.bincount(of_row).astype(np.int64)


def links(
    members: pd.DataFrame, values: np.ndarray, atom_of_row: np.ndarray, atom_size: np.ndarray
) -> list[tuple[int, list[int]]]:
    """``(cell, atoms)`` for every cell that counts exactly the people of whole atoms.

    ``members``: ``row`` (extract position) x ``cell``; ``values``: people per cell. A cell
    qualifies when its members are as many as its count and, for each atom it touches, it
    holds every person of that atom.

    >>> m = pd.DataFrame({"row": [0, 1, 2, 0], "cell": [0, 0, 0, 1]})
    >>> links(m, np.array([3, 1]), np.array([0, 0, 1]), np.array([2, 1]))
    [(0, [0, 1])]
    """
    if members.empty:
        return []
    pairs = members.drop_duplicates(["cell", "row"]).assign(
        atom=lambda f: atom_of_row[f["row"].to_numpy()]
    )
    per_atom = pairs.groupby(["cell", "atom"], sort=True).size().rename("n").reset_index()
    per_atom["whole"] = per_atom["n"].to_numpy() == atom_size[per_atom["atom"].to_numpy()]
    per_cell = per_atom.groupby("cell", sort=True).agg(n=("n", "sum"), whole=("whole", "all"))
    cells = per_cell.index.to_numpy(dtype=np.int64)
    ok = per_cell["whole"].to_numpy(dtype=bool) & (per_cell["n"].to_numpy() == values[cells])
    chosen = per_atom[per_atom["cell"].isin(cells[ok])]
    grouped = chosen.groupby("cell", sort=True)["atom"].agg(list)
    cell_ids = grouped.index.to_numpy(dtype=np.int64).tolist()
    return [(c, [int(a) for a in atoms]) for c, atoms in zip(cell_ids, grouped, strict=True)]


def link(extract: pd.DataFrame, parts: Sequence[Part]) -> Linked:
    """One :class:`Linked` structure of ``parts`` tied together through the atoms of
    ``extract`` (the frame whose row positions the parts' ``members`` refer to).
    """
    atom_of_row, atom_size = atoms(extract)
    offsets: dict[str, int] = {}
    first = 0
    for part in parts:
        offsets[part.name] = first
        first += len(part.cells.values)
    cells = Cells(np.concatenate([*(p.cells.values for p in parts), atom_size]))
    n_links = 0
    for part in parts:
        _add_part(cells, part, offsets[part.name])
        for cell, members in links(part.members, part.cells.values, atom_of_row, atom_size):
            cells.add_relation(offsets[part.name] + cell, [first + a for a in members])
            n_links += 1
    if len(atom_size) and parts:
        at = np.arange(first, first + len(atom_size))
        cells.place(f"{parts[0].name}:{ATOMS_COLUMN}", at, np.zeros(len(at), dtype=np.int64))
    return Linked(cells, tuple(parts), offsets, n_links, int((atom_size > 0).sum()))


def _add_part(cells: Cells, part: Part, offset: int) -> None:
    """Copy a part's relations and placements into ``cells``, ids shifted by ``offset``
    and each placement's column named ``"<part>:<column>"``."""
    for total, members in part.cells.relations:
        cells.add_relation(offset + total, [offset + m for m in members])
    for p in part.cells.placements:
        cells.placements.append(Placement(f"{part.name}:{p.column}", p.cells + offset, p.rows))


def settle(linked: Linked, protection: Protection) -> Protection:
    """``protection`` adjusted until no suppressed cell can be narrowed below the width by
    a reader of the files (atoms and gap parts unknown, as ``audit`` sees them).

    ``protect`` guarantees the small counts; a complementary cell of one table may still be
    given away exactly by the others (a compare denominator that is the sum of gap
    differences). Such a cell is shown: the files already give its value, so showing it
    tells nobody anything new. A complement narrowed but not pinned is protected as if it
    were small, and the complements chosen again. Deterministic.
    """
    policy, values = protection.policy, linked.cells.values
    extra = np.zeros(len(values), dtype=bool)
    for _ in range(SETTLE_ROUNDS):
        narrow, pinned = _narrow(linked.written(), protection)
        if not narrow.any():
            return protection
        protection = _reveal(protection, values, pinned & protection.secondary)
        rest = narrow & ~pinned
        if rest.any():
            extra |= rest
            protection = _complement(linked.cells, policy, extra)
    narrow, _ = _narrow(linked.written(), protection)
    if narrow.any():
        raise DisclosureError(
            f"linked tables: {int(narrow.sum())} suppressed cell(s) could still be narrowed "
            f"after {SETTLE_ROUNDS} rounds",
            hint="This is a bug in unmetneed: please report the run's config.",
        )
    return protection


def _narrow(structure: Cells, protection: Protection) -> tuple[np.ndarray, np.ndarray]:
    """Masks over cells: suppressed and narrower than the width to a reader of the files;
    and of those, pinned to one value (people)."""
    policy = protection.policy
    published = structure.published()
    hidden = np.flatnonzero(published & protection.suppressed)
    narrow = np.zeros(len(structure.values), dtype=bool)
    pinned = np.zeros(len(structure.values), dtype=bool)
    if not len(hidden) or policy.off or not structure.relations:
        return narrow, pinned
    shown = np.where(protection.suppressed, np.nan, structure.values.astype(np.float64))
    know = attacker.knowledge(structure.matrix(), shown, published, policy)
    found = attacker.narrow(know, hidden, policy.protection_width)
    bad = ~found["ok"]
    narrow[hidden[bad]] = True
    pinned[hidden[bad & ((found["high"] - found["low"]) < 0.5)]] = True
    return narrow, pinned


def _reveal(protection: Protection, values: np.ndarray, cells: np.ndarray) -> Protection:
    """``protection`` with the masked complementary cells shown (their exact values)."""
    shown = protection.shown.copy()
    shown[cells] = values[cells]
    return Protection(
        protection.policy,
        protection.primary,
        protection.secondary & ~cells,
        shown,
        list(protection.remarks),
    )


def _complement(cells: Cells, policy: Policy, extra: np.ndarray) -> Protection:
    """Complements chosen again, the ``extra`` cells protected as if they were small."""
    from unmetneed.disclosure.secondary import complement

    primary = policy.primary(cells.values)
    hidden = complement(cells, primary | extra, policy) | extra
    shown = np.where(hidden | primary, np.nan, cells.values.astype(np.float64))
    return Protection(policy, primary, hidden & ~primary, shown)


def sliced(linked: Linked, protection: Protection, name: str) -> Protection:
    """The linked ``protection`` restricted to table ``name``'s own cells (its own ids),
    for that table's ``finish``; its remark says what was suppressed in this table."""
    ids = linked.ids(name)
    primary, secondary = protection.primary[ids], protection.secondary[ids]
    others = [n for n in linked.names if n != name]
    return Protection(
        protection.policy,
        primary,
        secondary,
        protection.shown[ids],
        remarks=remarks(protection.policy, int(primary.sum()), int(secondary.sum()), others),
    )


def remarks(policy: Policy, n_primary: int, n_secondary: int, others: Sequence[str]) -> list[str]:
    """The suppression remark of one linked table (people; ``others``: tables linked with it).

    >>> remarks(Policy.named(k=3), 2, 3, ["gap"])[0][:40]
    '2 count(s) of 1..3 suppressed (k3), and '
    """
    from unmetneed.disclosure.protect import OFF_REMARK

    if policy.off:
        return [OFF_REMARK]
    if n_primary + n_secondary == 0:
        return []
    small = f"0..{policy.k}" if policy.zeros_disclosive else f"1..{policy.k}"
    return [
        f"{n_primary} count(s) of {small} suppressed ({policy.name}), and {n_secondary} more "
        "so that no suppressed count can be worked out to within "
        f"{policy.protection_width} people from the totals or from the tables published "
        f"with this one ({', '.join(others)}: protected together as linked tables)."
    ]
