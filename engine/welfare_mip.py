"""The welfare problem as a mixed-integer programme, solved with HiGHS (highspy).

Used where the problem is not a network: binding budgets across several placements, the pot
(together with rules), gaps, floors on several attributes. The model is built column-wise from
NumPy arrays in one call, so building it costs little even at a million pairs.

Data -> variables -> constraints -> objective:

* ``x[e]`` in {0, 1} for each usable pair ``e`` (the person takes that offer);
* ``y[p]`` in {0, 1} for each person who may hold several places and belongs to a group that a
  rule counts (``y[p] = 1`` exactly when ``p`` holds a place); a person with one place at most
  is placed exactly when the sum of their ``x`` is 1, so needs no ``y``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt
from highspy._core import _Highs

from engine.arrays import IntArray
from engine.welfare_model import WelfareModel

logger = logging.getLogger(__name__)

#: Models with more columns than this are solved without HiGHS's presolve (see solve_mip).
PRESOLVE_UP_TO = 50_000

#: The decompositions do not hand HiGHS a MIP with more columns than this: at 1.1 million
#: columns it did not finish the first linear relaxation in minutes, and its model took 2 GB.
MIP_UP_TO = 250_000

#: Models with more columns than this are solved without HiGHS's sub-MIP heuristics.
SUB_MIPS_UP_TO = 20_000

#: HiGHS is started only with at least this many times the rows' building time left.
SETUP_FACTOR = 2.0

MipStatus = Literal["optimal", "feasible", "infeasible", "no_solution"]


@dataclass(frozen=True)
class MipSolution:
    status: MipStatus
    #: chosen model pairs (empty without a solution)
    chosen: IntArray
    #: proven upper bound on the objective (None when infeasible)
    bound: int | None


class _Rows:
    """Rows collected as COO triplets, then handed to HiGHS in one go."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[np.ndarray] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.count = 0

    def add(
        self,
        row: npt.ArrayLike,
        col: npt.ArrayLike,
        val: npt.ArrayLike,
        lower: npt.ArrayLike,
        upper: npt.ArrayLike,
    ) -> None:
        """Add rows numbered ``0..len(lower)-1`` locally; ``row`` holds local row numbers."""
        self.rows.append(np.asarray(row, dtype=np.int64) + self.count)
        self.cols.append(np.asarray(col, dtype=np.int64))
        self.vals.append(np.asarray(val, dtype=np.float64))
        self.lower.append(np.asarray(lower, dtype=np.float64))
        self.upper.append(np.asarray(upper, dtype=np.float64))
        self.count += int(np.asarray(lower).size)


def _placed_terms(
    model: WelfareModel, y_col: IntArray, persons: IntArray
) -> tuple[IntArray, IntArray]:
    """For each of ``persons``, the columns whose sum says whether that person is placed:
    returns (index into ``persons``, column) pairs."""
    single = model.max_placements[persons] <= 1
    idx_single = np.flatnonzero(single)
    # x columns of single-place persons.
    pos_of = np.full(model.arrays.n_persons, -1, dtype=np.int64)
    pos_of[persons[idx_single]] = idx_single
    e = np.flatnonzero(pos_of[model.person] >= 0)
    owners = pos_of[model.person[e]]
    idx_multi = np.flatnonzero(~single)
    return (
        np.concatenate([owners, idx_multi]),
        np.concatenate([e, y_col[persons[idx_multi]]]),
    )


def solve_mip(
    model: WelfareModel,
    time_limit_s: float,
    *,
    objective: bool = True,
    start: IntArray | None = None,
    seed: int = 0,
    presolve: bool | None = None,
) -> MipSolution:
    """Solve the welfare MIP within ``time_limit_s`` seconds. With ``objective=False`` only
    feasibility is sought (the bound is then meaningless and reported as None).
    ``start``: a feasible allocation (model pairs) to start from. ``presolve``: whether HiGHS
    presolves the model (by default, only up to :data:`PRESOLVE_UP_TO` columns)."""
    began = time.perf_counter()
    arrays = model.arrays
    n_persons, n_offers = arrays.n_persons, arrays.n_offers
    n_x = model.n_pairs
    n_usable = np.bincount(model.person, minlength=n_persons)

    # Persons whose placed indicator a rule counts and who may hold several places.
    counted = np.zeros(n_persons, dtype=bool)
    for attribute in model.attributes:
        counted |= model.groups(attribute).member_group >= 0
    y_persons = np.flatnonzero(counted & (model.max_placements > 1))
    y_col = np.full(n_persons, -1, dtype=np.int64)
    y_col[y_persons] = n_x + np.arange(y_persons.size)
    n_cols = n_x + y_persons.size

    rows = _Rows()
    # No person holds more than max_placements places.
    over = n_usable > model.max_placements
    e = np.flatnonzero(over[model.person])
    if e.size:
        local = np.cumsum(over) - 1
        rows.add(
            local[model.person[e]],
            e,
            np.ones(e.size),
            np.full(int(over.sum()), -np.inf),
            model.max_placements[over],
        )
    # A person's places cost no more than their budget (only where it can bind).
    binds = model.budget_binds
    e = np.flatnonzero(binds[model.person])
    if e.size:
        local = np.cumsum(binds) - 1
        rows.add(
            local[model.person[e]],
            e,
            model.price[e],
            np.full(int(binds.sum()), -np.inf),
            arrays.budget[binds],
        )
    # No offer takes more people than it has places.
    wanted = np.bincount(model.offer, minlength=n_offers)
    full = wanted > arrays.capacity
    e = np.flatnonzero(full[model.offer])
    if e.size:
        local = np.cumsum(full) - 1
        rows.add(
            local[model.offer[e]],
            e,
            np.ones(e.size),
            np.full(int(full.sum()), -np.inf),
            arrays.capacity[full],
        )
    # The total spend stays within the pot.
    if model.pot is not None:
        rows.add(np.zeros(n_x), np.arange(n_x), model.price, [-np.inf], [model.pot])
    # y[p] is 1 exactly when p holds a place: y <= sum of x, and y >= each x.
    if y_persons.size:
        link = np.full(n_persons, -1, dtype=np.int64)
        link[y_persons] = np.arange(y_persons.size)
        e = np.flatnonzero(link[model.person] >= 0)
        rows.add(
            np.concatenate([link[model.person[e]], link[y_persons]]),
            np.concatenate([e, y_col[y_persons]]),
            np.concatenate([-np.ones(e.size), np.ones(y_persons.size)]),
            np.full(y_persons.size, -np.inf),
            np.zeros(y_persons.size),
        )
        rows.add(
            np.concatenate([np.arange(e.size), np.arange(e.size)]),
            np.concatenate([e, y_col[model.person[e]]]),
            np.concatenate([np.ones(e.size), -np.ones(e.size)]),
            np.full(e.size, -np.inf),
            np.zeros(e.size),
        )
    # Each floored group has at least its floor of placed members; gaps hold between groups.
    for attribute in model.attributes:
        groups = model.groups(attribute)
        member = groups.member_group
        persons = np.flatnonzero(member >= 0)
        owner, col = _placed_terms(model, y_col, persons)
        group_of_term = member[persons[owner]]
        need = model.floors.get(attribute)
        if need is not None:
            for g in np.flatnonzero(need > 0).tolist():
                sel = group_of_term == g
                rows.add(
                    np.zeros(int(sel.sum())),
                    col[sel],
                    np.ones(int(sel.sum())),
                    [float(need[g])],
                    [np.inf],
                )
        for row in model.rows:
            if row.attribute != attribute:
                continue
            coef = np.zeros(len(groups.labels))
            for g, c in row.coef.items():
                coef[g] = c
            sel = coef[group_of_term] != 0
            rows.add(
                np.zeros(int(sel.sum())),
                col[sel],
                coef[group_of_term[sel]],
                [-np.inf],
                [float(row.rhs)],
            )

    n_rows = rows.count
    r = np.concatenate(rows.rows) if n_rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(rows.cols) if n_rows else np.zeros(0, dtype=np.int64)
    v = np.concatenate(rows.vals) if n_rows else np.zeros(0)
    row_lower = np.concatenate(rows.lower) if n_rows else np.zeros(0)
    row_upper = np.concatenate(rows.upper) if n_rows else np.zeros(0)
    if n_cols == 0:
        # Nothing to choose: only the empty allocation, feasible if every row allows zero.
        if ((row_lower <= 0) & (row_upper >= 0)).all():
            return MipSolution("optimal", np.zeros(0, dtype=np.int64), 0 if objective else None)
        return MipSolution("infeasible", np.zeros(0, dtype=np.int64), None)
    cost = np.zeros(n_cols)
    if objective:
        cost[:n_x] = model.utility

    # HiGHS loads the model and sets up its first LP without looking at the clock, for about
    # as long again as building the rows took; do not start it when that alone would run past
    # the deadline, and stop its search early enough to copy the solution out in time.
    stop_at = began + float(time_limit_s)
    built = time.perf_counter() - began
    left = stop_at - time.perf_counter()
    if left < SETUP_FACTOR * built:
        logger.debug("HiGHS not started: %.2f s left, setting up takes about %.2f s", left, built)
        return MipSolution("no_solution", np.zeros(0, dtype=np.int64), None)
    stop_at -= 0.5 * built

    highs = highs_until(stop_at)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.99)  # utilities are integers
    highs.setOptionValue("random_seed", int(seed) % (2**31 - 1))
    # The feasibility jump heuristic neither checks the time limit nor calls the interrupt
    # callbacks; it held a 2 s search at m for 8 s, and found nothing the search did not.
    highs.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    if n_cols > SUB_MIPS_UP_TO:
        # The heuristics that solve a smaller MIP inside (RINS, RENS, root reduced cost) do not
        # stop at the deadline either: at m one ran 36 s past a 10 s limit.
        for heuristic in ("rins", "rens", "root_reduced_cost"):
            highs.setOptionValue(f"mip_heuristic_run_{heuristic}", False)
    if presolve is False or (presolve is None and n_cols > PRESOLVE_UP_TO):
        # HiGHS's presolve neither checks its time limit nor calls the interrupt callbacks;
        # on a model this big it can run for minutes past the deadline.
        highs.setOptionValue("presolve", "off")
    pass_columns(highs, cost, (r, col, v), row_lower, row_upper, integral=True)
    if start is not None:
        values = np.zeros(n_cols)
        values[start] = 1.0
        placed = np.bincount(model.person[start], minlength=n_persons) > 0
        values[y_col[y_persons]] = placed[y_persons]
        solution = highspy.HighsSolution()
        solution.col_value = values.tolist()
        highs.setSolution(solution)
    logger.debug(
        "HiGHS: %d columns, %d rows, %.2f s allowed, built in %.2f s",
        n_cols,
        n_rows,
        stop_at - time.perf_counter(),
        built,
    )
    highs.run()
    logger.debug("HiGHS stopped %.2f s after its deadline", time.perf_counter() - stop_at)
    status = highs.getModelStatus()
    info = highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status == highspy.HighsModelStatus.kInfeasible:
        return MipSolution("infeasible", np.zeros(0, dtype=np.int64), None)
    if not has_solution:
        if status == highspy.HighsModelStatus.kOptimal:
            raise RuntimeError("HiGHS reported optimal without a solution")
        return MipSolution("no_solution", np.zeros(0, dtype=np.int64), _bound(info, objective))
    values = np.asarray(highs.getSolution().col_value[:n_x])
    chosen = np.flatnonzero(values > 0.5).astype(np.int64)
    value = int(model.utility[chosen].sum())
    bound = _bound(info, objective)
    if status == highspy.HighsModelStatus.kOptimal or (bound is not None and bound <= value):
        return MipSolution("optimal", chosen, value)
    return MipSolution("feasible", chosen, max(bound, value) if bound is not None else None)


def pass_columns(
    highs: _Highs,
    cost: npt.NDArray[np.float64],
    entries: tuple[IntArray, IntArray, npt.NDArray[np.float64]],
    row_lower: npt.NDArray[np.float64],
    row_upper: npt.NDArray[np.float64],
    *,
    integral: bool | npt.NDArray[np.bool_],
    col_upper: npt.NDArray[np.float64] | None = None,
    minimise: bool = False,
) -> None:
    """Hand HiGHS the maximisation (or ``minimise``) of ``cost . x`` over ``0 <= x <= 1`` (or
    ``col_upper``), integer where ``integral`` says, with rows ``row_lower <= A x <=
    row_upper``; ``entries`` holds A's (row, column, value) triples in any order."""
    row, col, val = entries
    n_cols = int(cost.size)
    order, start = _compressed(col, row, n_cols)
    highs.passModel(
        n_cols,
        int(row_lower.size),
        int(row.size),
        1,  # column-wise matrix
        1 if minimise else -1,
        0.0,
        cost,
        np.zeros(n_cols),
        np.ones(n_cols) if col_upper is None else col_upper,
        row_lower,
        row_upper,
        start,
        row[order].astype(np.int32),
        val[order],
        np.broadcast_to(np.asarray(integral, dtype=np.int32), (n_cols,)).copy(),
    )


def _compressed(
    major: IntArray, minor: IntArray, n: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]]:
    """Entries in ``major`` order (then ``minor``), and where each of the ``n`` majors starts
    among them (``n + 1`` int32 offsets): the compressed form HiGHS takes a matrix in."""
    order = np.lexsort((minor, major))
    start = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(major, minlength=n), out=start[1:])
    return order, start


def highs_until(stop_at: float) -> _Highs:
    """A quiet, single-threaded HiGHS that stops at ``stop_at`` (a ``time.perf_counter()``)."""
    # The bare core class: the Python wrapper's constructor prints a banner to standard output,
    # which would corrupt `tapestry solve`'s JSON.
    highs = _Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    limit(highs, stop_at)
    for kind in (
        highspy.cb.HighsCallbackType.kCallbackSimplexInterrupt,
        highspy.cb.HighsCallbackType.kCallbackIpmInterrupt,
        highspy.cb.HighsCallbackType.kCallbackMipInterrupt,
    ):
        highs.startCallback(kind)
    return highs


def limit(highs: _Highs, stop_at: float) -> None:
    """Make ``highs`` stop at ``stop_at`` (a ``time.perf_counter()``) on its next run."""
    highs.setOptionValue("time_limit", max(stop_at - time.perf_counter(), 0.01))
    # HiGHS checks its own time limit rarely in some phases (a big root LP can overrun it by
    # minutes on a busy machine), so also ask it to stop from its interrupt callbacks.
    highs.setCallback(_interrupt, stop_at)


def _interrupt(
    kind: object, message: str, data_out: object, data_in: object, stop_at: float
) -> None:
    """HiGHS callback: ask the solver to stop once the deadline has passed."""
    if data_in is not None and time.perf_counter() > stop_at:
        data_in.user_interrupt = True  # type: ignore[attr-defined]


def _bound(info: highspy.HighsInfo, objective: bool) -> int | None:
    if not objective:
        return None
    dual = info.mip_dual_bound
    if not math.isfinite(dual):
        return None
    # Utilities are integers, so the objective can be at most the floor of the dual bound.
    return math.floor(dual + 1e-6)


@dataclass(frozen=True)
class ProgramOptimum:
    """A linear program's optimum: its value, the duals of its fixed rows and of each kind of
    resource (0 for a resource without a row), and the columns' values in the order added."""

    value: float
    fixed_duals: npt.NDArray[np.float64]
    resource_duals: tuple[npt.NDArray[np.float64], ...]
    x: npt.NDArray[np.float64]


class GrowingProgram:
    """Maximise ``cost . x`` over ``0 <= x <= 1`` with fixed rows ``A x <= b`` and, for each
    kind of resource (people, offers), "the columns using a resource take at most its
    capacity", where columns only ever come in (column generation). Each solve adds the new
    columns to the same HiGHS model, so the simplex starts from the last optimal basis; a
    resource gets its row only once more columns use it than it has capacity (until then the
    row could not bind)."""

    def __init__(
        self, fixed_rhs: npt.NDArray[np.float64], capacities: tuple[IntArray, ...]
    ) -> None:
        self.fixed_rhs = fixed_rhs
        self.capacities = capacities
        self.resource_row = [np.full(c.size, -1, dtype=np.int64) for c in capacities]
        # (resource, column) of every use so far, per kind
        self.uses: list[tuple[IntArray, IntArray]] = [
            (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)) for _ in capacities
        ]
        # The first batch's resource rows come first, then the fixed rows, then later rows
        # (in that order the interior point method took 13 s at l; fixed rows first, 18 s).
        self.next_row = 0
        self.fixed_first = 0
        self.n_cols = 0
        self.highs: _Highs | None = None
        self.solved = False
        self.last_batch = 0

    def add(
        self,
        cost: npt.NDArray[np.float64],
        fixed: tuple[IntArray, IntArray, npt.NDArray[np.float64]],
        uses: tuple[tuple[IntArray, IntArray], ...],
        stop_at: float,
    ) -> None:
        """New columns: their costs, their fixed-row entries (row, column, value) and, per
        kind, the (resource, column) of each use; columns numbered from 0 within the batch."""
        n = int(cost.size)
        if self.highs is None:
            fresh_rows = self._fresh_rows(uses)
            self.fixed_first = self.next_row
            self.next_row += int(self.fixed_rhs.size)
        row_parts, col_parts, val_parts = [self.fixed_first + fixed[0]], [fixed[1]], [fixed[2]]
        for kind, (resource, column) in enumerate(uses):
            if self.highs is not None:  # (in the first batch every row is fresh)
                row = self.resource_row[kind][resource]
                has = row >= 0
                row_parts.append(row[has])
                col_parts.append(column[has])
                val_parts.append(np.ones(int(has.sum())))
            known, at = self.uses[kind]
            self.uses[kind] = (
                np.concatenate([known, resource]),
                np.concatenate([at, self.n_cols + column]),
            )
        self.n_cols += n
        self.last_batch = n
        if self.highs is None:
            # The first batch goes in whole, with its crowded resources' rows (the interior
            # point method took 20 s at l where the rows came in after the columns, 13 s so).
            upper: list[npt.NDArray[np.float64]] = []
            for fresh, capacity, row, column in fresh_rows:
                row_parts.append(sum(u.size for u in upper) + row)
                col_parts.append(column)
                val_parts.append(np.ones(row.size))
                upper.append(capacity[fresh].astype(np.float64))
            upper.append(self.fixed_rhs)
            bounds = np.concatenate(upper)
            self.highs = highs_until(stop_at)
            pass_columns(
                self.highs,
                cost,
                (np.concatenate(row_parts), np.concatenate(col_parts), np.concatenate(val_parts)),
                np.full(bounds.size, -np.inf),
                bounds,
                integral=False,
            )
            return
        limit(self.highs, stop_at)
        row, col, val = (
            np.concatenate(row_parts),
            np.concatenate(col_parts),
            np.concatenate(val_parts),
        )
        order, start = _compressed(col, row, n)
        self.highs.addCols(
            n,
            cost,
            np.zeros(n),
            np.ones(n),
            int(row.size),
            start[:-1],
            row[order].astype(np.int32),
            val[order],
        )
        for fresh, capacity, row, column in self._fresh_rows(self.uses):
            order, start = _compressed(row, column, int(fresh.size))
            self.highs.addRows(
                int(fresh.size),
                np.full(fresh.size, -np.inf),
                capacity[fresh].astype(np.float64),
                int(row.size),
                start[:-1],
                column[order].astype(np.int32),
                np.ones(row.size),
            )

    def _fresh_rows(
        self, uses: Sequence[tuple[IntArray, IntArray]]
    ) -> list[tuple[IntArray, IntArray, IntArray, IntArray]]:
        """Rows for the resources that more columns use than they have capacity and that have
        no row yet: per kind, (those resources, the capacities, and the (row, column) of their
        entries, rows counted from 0 within the kind's new rows; they follow the model's),
        for the columns' ``uses``."""
        out = []
        for kind, capacity in enumerate(self.capacities):
            resource, column = uses[kind]
            own_row = self.resource_row[kind]
            crowded = np.bincount(resource, minlength=capacity.size) > capacity
            fresh = np.flatnonzero(crowded & (own_row < 0))
            if fresh.size == 0:
                continue
            own_row[fresh] = self.next_row + np.arange(fresh.size)
            self.next_row += int(fresh.size)
            mark = np.full(capacity.size, -1, dtype=np.int64)
            mark[fresh] = np.arange(fresh.size)
            take = np.flatnonzero(mark[resource] >= 0)
            out.append((fresh, capacity, mark[resource[take]], column[take]))
        return out

    def solve(self, *, interior: bool = False) -> ProgramOptimum | None:
        """The optimum (None when infeasible or stopped first). ``interior``: by the interior
        point method without crossover (faster on big programs; then near, not at, a vertex)."""
        highs = self.highs
        if highs is None:
            return None
        if interior:
            highs.setOptionValue("solver", "ipm")
            highs.setOptionValue("run_crossover", "off")
        else:
            # Presolve would set the last basis aside (m multi: the three rounds took 0.39,
            # 0.30 and 0.23 s with it, 0.27, 0.13 and 0.06 s without).
            highs.setOptionValue("presolve", "off")
            # A few new columns keep the last optimum feasible, and the primal simplex goes on
            # from it (m multi, second rounds: 0.07 to 0.15 s, dual 0.13 to 0.54 s); after
            # many (m placements' second round adds 40%) the dual simplex is faster.
            few = self.solved and 4 * self.last_batch <= self.n_cols - self.last_batch
            highs.setOptionValue("simplex_strategy", 4 if few else 1)
        self.solved = True
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        value = float(highs.getInfo().objective_function_value)
        # A row "<= b" of a maximisation has a price >= 0; clear rounding noise.
        row_dual = np.maximum(np.asarray(highs.getSolution().row_dual, dtype=np.float64), 0.0)
        if not math.isfinite(value) or not np.isfinite(row_dual).all():
            return None
        resource_duals = []
        for own_row in self.resource_row:
            dual = np.zeros(own_row.size)
            has = own_row >= 0
            dual[has] = row_dual[own_row[has]]
            resource_duals.append(dual)
        return ProgramOptimum(
            value=value,
            fixed_duals=row_dual[self.fixed_first : self.fixed_first + self.fixed_rhs.size],
            resource_duals=tuple(resource_duals),
            x=np.asarray(highs.getSolution().col_value, dtype=np.float64),
        )
