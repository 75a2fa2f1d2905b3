"""Rules as rows over placed counts of "types", and the flow that places exact counts.

Floors and gaps count placed people by group, never which place they hold. Give each person
the type "their group under every counted attribute" (area, age band and support group: at l
on multi 192 types). Then every side row is a row over the types' placed counts ``N``: ``C N
<= b``, with ``C`` a few dozen rows by a few hundred types. Two things follow.

* A Lagrangian weight is the utility less one penalty per type, ``(C^T m)[type]``: computed
  per type, not per pair (at l the per-pair sums over 12 million row entries took 2.8 s).
* Placing exactly ``N_t`` people of each type is a network: the unplaced arc of each type's
  node carries ``size_t - N_t`` units (as the gap's window does for one attribute,
  :mod:`engine.welfare_gap`). So any counts that keep the rows give an allocation that keeps
  every rule, and the best such allocation comes from one min-cost flow.

The counts to ask for come from the linear relaxation (:mod:`engine.welfare_pool`): its
placed counts keep the rows, and rounding them to the nearest whole counts that still keep
the rows (a MIP over the types) loses little. At l on multi that flow's allocation was 0.04%
below the relaxation's bound, where the priced flows' repairs had reached 0.5%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import highspy
import numpy as np

from engine.arrays import FloatArray, IntArray
from engine.welfare_flow import welfare_network
from engine.welfare_mip import highs_until, pass_columns
from engine.welfare_model import WelfareModel

if TYPE_CHECKING:
    from engine.welfare_lagrange import SideRows


@dataclass(frozen=True)
class TypeRows:
    """Side rows over the placed counts of the people's types."""

    #: each person's type, -1 for people no row counts
    person_type: IntArray
    #: people of each type
    size: IntArray
    #: the rows' coefficient per type, shape (rows, types)
    matrix: IntArray
    rhs: IntArray

    @property
    def n_types(self) -> int:
        return int(self.size.size)

    def penalty(self, multipliers: IntArray) -> IntArray:
        """Each person's penalty ``sum_r m_r a_r(type)`` (0 for people no row counts)."""
        per_type = np.append(self.matrix.T @ multipliers, 0)
        return per_type[self.person_type]  # type -1 reads the appended 0

    def counts(self, model: WelfareModel, chosen: IntArray) -> IntArray:
        """Placed people of each type in the allocation ``chosen`` (one place each at most)."""
        kind = self.person_type[model.person[chosen]]
        return np.bincount(kind[kind >= 0], minlength=self.n_types)

    def keeps_rows(self, counts: IntArray) -> bool:
        return bool((self.matrix @ counts <= self.rhs).all())


def type_rows(model: WelfareModel, rows: SideRows) -> TypeRows | None:
    """The side rows over types, or None when some row is not a count of people (the pot and
    budgets weigh pairs by price) or a counted person may hold several places."""
    if rows.n_rows == 0 or model.n_pairs == 0:
        return None
    attributes = sorted(
        {a for a, need in model.floors.items() if need.any()} | {r.attribute for r in model.rows}
    )
    if not attributes:
        return None
    member = np.stack([model.groups(a).member_group for a in attributes])
    _, person_type = np.unique(member, axis=1, return_inverse=True)
    person_type = person_type.ravel().astype(np.int64)
    n_types = int(person_type.max()) + 1
    entry_type = person_type[model.person[rows.pair]]
    matrix = np.zeros((rows.n_rows, n_types), dtype=np.int64)
    entry_row = rows.row_of_entry()
    matrix[entry_row, entry_type] = rows.coef
    if not (matrix[entry_row, entry_type] == rows.coef).all():
        return None  # a row weighs a person's pairs differently
    # And it lists every pair of the people it counts (so it counts people, not pairs).
    pairs_of_type = np.bincount(person_type[model.person], minlength=n_types)
    if not ((matrix != 0) @ pairs_of_type == np.diff(rows.start)).all():
        return None
    counted = np.asarray(matrix.any(axis=0), dtype=bool)
    if (model.max_placements[counted[person_type]] > 1).any():
        return None
    # Types no row counts are nobody's concern: -1, so a flow leaves them free.
    renumber = np.full(n_types, -1, dtype=np.int64)
    renumber[counted] = np.arange(int(counted.sum()))
    person_type = renumber[person_type]
    size = np.bincount(person_type[person_type >= 0], minlength=int(counted.sum()))
    return TypeRows(person_type, size, matrix[:, counted], rows.rhs.copy())


def nearest_counts(types: TypeRows, target: FloatArray, stop_at: float) -> IntArray | None:
    """Whole counts ``0 <= N <= size`` that keep the rows, nearest to ``target`` (least total
    distance; a MIP over the types); None if HiGHS finds none by ``stop_at``."""
    n = types.n_types
    n_rows = int(types.rhs.size)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty if types.keeps_rows(empty) else None
    # Columns: N (integer), then d >= |N - target|. Rows: C N <= b; N - d <= t; -N - d <= -t.
    rr, cc = np.nonzero(types.matrix)
    eye = np.arange(n)
    row = np.concatenate([rr, n_rows + eye, n_rows + eye, n_rows + n + eye, n_rows + n + eye])
    col = np.concatenate([cc, eye, n + eye, eye, n + eye])
    val = np.concatenate(
        [types.matrix[rr, cc].astype(np.float64), np.ones(n), -np.ones(n), -np.ones(n), -np.ones(n)]
    )
    highs = highs_until(stop_at)
    pass_columns(
        highs,
        np.concatenate([np.zeros(n), np.ones(n)]),
        (row, col, val),
        np.full(n_rows + 2 * n, -np.inf),
        np.concatenate([types.rhs.astype(np.float64), target, -target]),
        integral=np.arange(2 * n) < n,
        col_upper=np.concatenate([types.size.astype(np.float64), np.full(n, np.inf)]),
        minimise=True,
    )
    highs.run()
    if highs.getModelStatus() not in (
        highspy.HighsModelStatus.kOptimal,
        highspy.HighsModelStatus.kTimeLimit,
        highspy.HighsModelStatus.kInterrupt,
    ):
        return None
    values = np.asarray(highs.getSolution().col_value, dtype=np.float64)
    if values.size != 2 * n or not np.isfinite(values).all():
        return None
    counts = np.round(values[:n]).astype(np.int64)
    # Checked in exact integers: HiGHS's tolerances are not the rules'.
    if (counts < 0).any() or (counts > types.size).any() or not types.keeps_rows(counts):
        return None
    return counts


def counted_flow(
    model: WelfareModel, core: WelfareModel, types: TypeRows, counts: IntArray
) -> IntArray | None:
    """The allocation of greatest welfare that places exactly ``counts[t]`` people of each
    type (so it keeps every row the counts keep); None if the capacities cannot."""
    solution = welfare_network(core, model.utility, window=(types.person_type, counts, counts))
    return None if solution is None else solution.chosen
