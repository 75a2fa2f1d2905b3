"""Prices for the side rows from a small linear program: the pairs the flows used.

Subgradient steps approach the best multipliers of the Lagrangian (see
:mod:`engine.welfare_lagrange`) slowly: at m, with five floor and gap rows, 30 flows left the
bound 0.05% above the optimum. But the best multipliers are the side rows' dual prices in the
linear relaxation, and that relaxation is decided by few pairs: those that some priced flow
chose. So (column generation, with the flow as the pricing problem):

1. Solve the linear relaxation restricted to the pool of pairs the flows used: each person at
   most ``max_placements`` places, each offer at most its capacity, and the side rows.
2. Its side rows' dual prices are multipliers; the flow at them gives a Lagrangian bound for
   the whole problem, and perhaps new pairs.
3. When that bound equals the restricted optimum, it is the linear relaxation's optimum of the
   whole problem (no pair outside the pool could raise it). Otherwise the flow's pairs join the
   pool and the program is solved again.

At m on floors on two attributes and a gap on a third (16,000 pool pairs) the first program took
0.3 s and its prices gave a bound equal to the optimum; HiGHS's whole linear relaxation took 10 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import highspy
import numpy as np
from highspy._core import _Highs

from engine.arrays import FloatArray, IntArray
from engine.welfare_mip import highs_until, limit, pass_columns
from engine.welfare_model import WelfareModel

if TYPE_CHECKING:
    from engine.welfare_lagrange import SideRows


@dataclass(frozen=True)
class PoolRelaxation:
    """The restricted linear relaxation's optimum, its side rows' dual prices (>= 0) and its
    solution."""

    value: float
    duals: FloatArray
    #: the optimal values of the pool's pairs, in pool order
    x: FloatArray


def pool_relaxation(
    model: WelfareModel, rows: SideRows, pool: IntArray, stop_at: float, *, interior: bool = False
) -> PoolRelaxation | None:
    """Solve the linear relaxation of ``model`` on the pairs ``pool`` (sorted) with the side
    rows ``rows``. None when it is infeasible or not solved by ``stop_at``. ``interior``: by
    the interior point method without crossover (faster on big pools; the optimum and prices
    are then near, not at, a vertex)."""
    return PoolProgram(model, rows).solve(pool, stop_at, interior=interior)


class PoolProgram:
    """The relaxation on a pool that only grows: each solve adds the new pairs as columns (and
    a row for each person or offer that now has more pool pairs than places) to the same HiGHS
    model, so the simplex starts from the last optimal basis."""

    def __init__(self, model: WelfareModel, rows: SideRows) -> None:
        self.model = model
        self.rows = rows
        self.entry_row = rows.row_of_entry()
        #: the pool's pairs in the model's column order
        self.columns = np.zeros(0, dtype=np.int64)
        # Rows: the side rows first, then a person's or an offer's once it is crowded.
        self.next_row = rows.n_rows
        self.person_row = np.full(model.arrays.n_persons, -1, dtype=np.int64)
        self.offer_row = np.full(model.arrays.n_offers, -1, dtype=np.int64)
        self.highs: _Highs | None = None

    def _owners(self) -> tuple[tuple[IntArray, IntArray, IntArray], ...]:
        """(owner of each pair, places per owner, owner's row) for persons, then offers."""
        model = self.model
        return (
            (model.person, model.max_placements, self.person_row),
            (model.offer, model.arrays.capacity, self.offer_row),
        )

    def _add_columns(self, new: IntArray, stop_at: float) -> None:
        """Columns for the pairs ``new``: their side-row entries and those in the person and
        offer rows that exist."""
        model, rows = self.model, self.rows
        local = np.full(model.n_pairs, -1, dtype=np.int64)
        local[new] = np.arange(new.size)
        side = np.flatnonzero(local[rows.pair] >= 0)
        row_parts = [self.entry_row[side]]
        col_parts = [local[rows.pair[side]]]
        for owner, _, owner_row in self._owners():
            has = np.flatnonzero(owner_row[owner[new]] >= 0)
            row_parts.append(owner_row[owner[new[has]]])
            col_parts.append(has)
        row = np.concatenate(row_parts)
        col = np.concatenate(col_parts)
        val = np.concatenate([rows.coef[side].astype(np.float64), np.ones(row.size - side.size)])
        cost = model.utility[new].astype(np.float64)
        if self.highs is None:
            self.highs = highs_until(stop_at)
            rhs = rows.rhs.astype(np.float64)
            pass_columns(
                self.highs, cost, (row, col, val), np.full(rhs.size, -np.inf), rhs, integral=False
            )
            return
        order = np.lexsort((row, col))
        start = np.zeros(new.size + 1, dtype=np.int32)
        np.cumsum(np.bincount(col, minlength=new.size), out=start[1:])
        self.highs.addCols(
            int(new.size),
            cost,
            np.zeros(new.size),
            np.ones(new.size),
            int(row.size),
            start[:-1],
            row[order].astype(np.int32),
            val[order],
        )

    def _add_rows(self) -> None:
        """A row for each person and offer that has more pool pairs than places and no row
        yet, over all its columns."""
        assert self.highs is not None
        for owner, places, owner_row in self._owners():
            held = owner[self.columns]
            crowded = np.bincount(held, minlength=places.size) > places
            fresh = np.flatnonzero(crowded & (owner_row < 0))
            if fresh.size == 0:
                continue
            owner_row[fresh] = self.next_row + np.arange(fresh.size)
            self.next_row += int(fresh.size)
            mark = np.full(places.size, -1, dtype=np.int64)
            mark[fresh] = np.arange(fresh.size)
            col = np.flatnonzero(mark[held] >= 0)
            row = mark[held[col]]
            order = np.lexsort((col, row))
            start = np.zeros(fresh.size + 1, dtype=np.int32)
            np.cumsum(np.bincount(row, minlength=fresh.size), out=start[1:])
            self.highs.addRows(
                int(fresh.size),
                np.full(fresh.size, -np.inf),
                places[fresh].astype(np.float64),
                int(col.size),
                start[:-1],
                col[order].astype(np.int32),
                np.ones(col.size),
            )

    def solve(
        self, pool: IntArray, stop_at: float, *, interior: bool = False
    ) -> PoolRelaxation | None:
        """The relaxation on ``pool`` (sorted; it holds every pair of the earlier pools)."""
        new = np.setdiff1d(pool, self.columns, assume_unique=True)
        if self.highs is not None:
            limit(self.highs, stop_at)
        self._add_columns(new, stop_at)
        self.columns = np.concatenate([self.columns, new])
        assert self.columns.size == pool.size, "a pool must hold every earlier pool"
        self._add_rows()
        highs = self.highs
        assert highs is not None
        if interior:
            highs.setOptionValue("solver", "ipm")
            highs.setOptionValue("run_crossover", "off")
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        value = float(highs.getInfo().objective_function_value)
        # A row "<= b" of a maximisation has a price >= 0; clear rounding noise.
        row_dual = np.maximum(np.asarray(highs.getSolution().row_dual, dtype=np.float64), 0.0)
        if not math.isfinite(value) or not np.isfinite(row_dual).all():
            return None
        x = np.asarray(highs.getSolution().col_value, dtype=np.float64)
        # Columns in the order they came; the caller's pool is sorted.
        x = x[np.argsort(self.columns, kind="stable")]
        return PoolRelaxation(value=value, duals=row_dual[: self.rows.n_rows], x=x)
