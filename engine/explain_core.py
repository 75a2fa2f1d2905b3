"""Questions about a welfare model that is not a network: Lagrangian bounds, then small exact
programs on the pairs the bounds leave open.

Let ``m >= 0`` price the side rows ``A x <= b`` of the model (pot, budgets, floors, gaps;
:func:`engine.welfare_lagrange.side_prices`), ``w = SCALE u - A^T m`` the priced weights over the
core network (placements and capacities), ``x_w`` an optimal core flow with potentials ``pi``,
and ``L = w . x_w + m . b`` (``SCALE`` times the Lagrangian bound). For every allocation ``x``
of the model, ``SCALE u . x <= w . x + m . b = L - sum_a |rc_a| |x_a - x_w,a|`` (the reduced
costs of an optimal flow have the sign that makes every term >= 0). Hence, with
``slack = L - SCALE V``:

* **bound**: ``SCALE forced(e) <= L - loss(e)``, the loss of forcing ``e`` into the core flow
  (:class:`engine.explain_network.FlowState`); a loss above ``slack`` is an exact "no";
* **fixing**: an allocation worth ``V`` or more differs from ``x_w`` only on pairs with
  ``|rc| <= slack``; every other pair keeps its value in ``x_w``. At m the bounds are within a
  utility point of ``V`` and about 5,000 of 115,000 pairs stay free.

So "does some allocation holding ``e`` reach ``V``?" is a feasibility MIP over the free pairs
(the fixed ones moved into the right-hand sides, and a row ``u . x >= V``), built once and
asked once per question with ``e``'s bounds set to 1 (:class:`SubProgram`). Before that, one
*covering* MIP, maximising how many open questions one allocation worth ``V`` answers, settles
many "yes" at once. One more place at an offer adds one arc ``offer -> sink`` of reduced cost
``rc_new = pi[o] - pi[sink]``; cycles through it cost ``rc_new + dist(sink, .)``, which widens
the slack by ``max(0, -rc_new)`` and gives bounds for the ``capacity`` questions and the place
values the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from highspy._core import _Highs

from engine.arrays import IntArray
from engine.explain_network import FlowState
from engine.welfare_lagrange import SCALE, SidePrices
from engine.welfare_mip import highs_until, pass_columns
from engine.welfare_model import WelfareModel

YES, NO, UNDECIDED = 1, 0, -1


@dataclass
class PricedCore:
    """A model, its side prices and the optimal priced core flow."""

    model: WelfareModel
    prices: SidePrices
    state: FlowState
    #: SCALE * Lagrangian bound
    bound_scaled: int
    #: SCALE * V
    target_scaled: int

    @classmethod
    def build(cls, model: WelfareModel, prices: SidePrices, target: int) -> PricedCore:
        state = FlowState(prices.core, prices.weights)
        bound = state.value + int((prices.multipliers * prices.rows.rhs).sum())
        return cls(model, prices, state, bound, SCALE * target)

    @property
    def slack(self) -> int:
        return self.bound_scaled - self.target_scaled

    def bound_says_no(self, pairs: IntArray) -> np.ndarray:
        """True where even the Lagrangian bound of forcing the pair is below ``V``."""
        if self.slack < 0:
            return np.ones(pairs.size, dtype=bool)
        return self.state.losses(pairs, limit=self.slack) > self.slack

    def capacity_bound_says_no(self, pairs: IntArray) -> np.ndarray:
        """The same with one more place at each pair's offer."""
        _, lowest = self.state.capacity_costs(pairs, self.slack)
        return lowest > self.slack

    def cycle_yes(self, allocation: IntArray, pairs: IntArray) -> np.ndarray:
        """True where the allocation ``allocation`` (model pairs worth ``V``), moved round the
        cheapest priced cycle through the pair, keeps every side row and is still worth
        ``V``: a constructive "yes". Only when ``allocation`` is itself an optimal priced
        flow (its Lagrangian value is the bound), so that its residual graph has one."""
        yes = np.zeros(pairs.size, dtype=bool)
        prices, model = self.prices, self.model
        lagrangian = int(prices.weights[allocation].sum()) + int(
            (prices.multipliers * prices.rows.rhs).sum()
        )
        if lagrangian != self.bound_scaled or pairs.size == 0:
            return yes
        state = FlowState(prices.core, prices.weights, given=allocation)
        rows = prices.rows
        activity = rows.activity(allocation, model.n_pairs)
        order = np.argsort(rows.pair, kind="stable")
        entry_start = np.searchsorted(rows.pair[order], np.arange(model.n_pairs + 1))
        entry_row = rows.row_of_entry()
        index = {
            (int(p), int(o)): e
            for e, (p, o) in enumerate(
                zip(model.person.tolist(), model.offer.tolist(), strict=True)
            )
        }
        target = self.target_scaled // SCALE
        value = int(model.utility[allocation].sum())
        for i, moves in enumerate(state.cycles(pairs, self.slack)):
            if moves is None:
                continue
            delta = np.zeros(rows.n_rows, dtype=np.int64)
            gain = 0
            for sign, p, o in moves:
                e = index[(p, o)]
                gain += sign * int(model.utility[e])
                at = order[entry_start[e] : entry_start[e + 1]]
                np.add.at(delta, entry_row[at], sign * rows.coef[at])
            if value + gain >= target and (activity + delta <= rows.rhs).all():
                yes[i] = True
        return yes

    def free_pairs(self, widen: int = 0) -> IntArray:
        """Pairs whose value may differ from the priced flow's in an allocation worth ``V``
        (``widen``: extra slack, for one more place)."""
        limit = self.slack + widen
        return np.flatnonzero(np.abs(self.state.pair_reduced) <= limit).astype(np.int64)

    def fixed_on(self, free: IntArray) -> IntArray:
        """The priced flow's pairs that are not free: held in every allocation worth ``V``."""
        return np.setdiff1d(self.state.chosen, free, assume_unique=False)

    def forced(self, pair: int, extra: int | None = None) -> tuple[IntArray, IntArray] | None:
        """:func:`forced_split` of this core."""
        return forced_split(self.prices, self.target_scaled, pair, extra)

    def widen_for(self, offer: int) -> int:
        return max(0, -int(self.state.new_place_reduced()[offer]))

    def place_bound(self) -> IntArray:
        """For each offer, an upper bound on the best welfare with one more place there."""
        gains = self.state.place_gains()
        return (self.bound_scaled + gains) // SCALE


class SubProgram:
    """The model's allocations worth ``target`` or more, on the ``free`` pairs with ``fixed``
    pairs held (their places, spend and counts moved into the right-hand sides), as a HiGHS
    MIP built once. ``extra``: an offer with one more place. ``extras``: offers of which one,
    any one, may have one more place (a binary column per offer after the pairs' columns,
    adding to its capacity, and a row: at most one of them)."""

    def __init__(
        self,
        model: WelfareModel,
        prices: SidePrices,
        free: IntArray,
        fixed: IntArray,
        target: int | None,
        extra: int | None = None,
        extras: IntArray | None = None,
    ) -> None:
        arrays = model.arrays
        self.model = model
        self.free = free
        self.fixed = fixed
        n = free.size
        self.n = n
        # Only offers with free pairs: one more place elsewhere changes nothing here.
        self.extras = (
            np.zeros(0, dtype=np.int64)
            if extras is None
            else np.intersect1d(extras, model.offer[free]).astype(np.int64)
        )
        self.n_cols = n + self.extras.size
        person, offer = model.person[free], model.offer[free]
        fixed_person = np.bincount(model.person[fixed], minlength=arrays.n_persons)
        fixed_offer = np.bincount(model.offer[fixed], minlength=arrays.n_offers)
        capacity = arrays.capacity.copy()
        if extra is not None:
            capacity[extra] += 1
        rows_r: list[IntArray] = []
        rows_c: list[IntArray] = []
        rows_v: list[np.ndarray] = []
        lower: list[np.ndarray] = []
        upper: list[np.ndarray] = []
        count = 0

        def add(r: IntArray, c: IntArray, v: np.ndarray, lo: Any, hi: Any) -> None:
            nonlocal count
            rows_r.append(r + count)
            rows_c.append(c)
            rows_v.append(v.astype(np.float64))
            lower.append(np.asarray(lo, dtype=np.float64))
            upper.append(np.asarray(hi, dtype=np.float64))
            count += lower[-1].size

        # No person holds more than max_placements places (those held already count).
        ps, local = np.unique(person, return_inverse=True)
        add(
            local,
            np.arange(n),
            np.ones(n),
            np.full(ps.size, -np.inf),
            model.max_placements[ps] - fixed_person[ps],
        )
        # No offer takes more people than it has places.
        os_, local = np.unique(offer, return_inverse=True)
        k = self.extras.size
        extra_row = np.searchsorted(os_, self.extras)
        add(
            np.concatenate([local, extra_row]),
            np.concatenate([np.arange(n), n + np.arange(k)]),
            np.concatenate([np.ones(n), -np.ones(k)]),
            np.full(os_.size, -np.inf),
            capacity[os_] - fixed_offer[os_],
        )
        if k:
            add(np.zeros(k, dtype=np.int64), n + np.arange(k), np.ones(k), [-np.inf], [1.0])
        # Every side row (pot, budgets, floors, gaps) with the fixed pairs' share moved over.
        rows = prices.rows
        entry_row = rows.row_of_entry()
        where = np.full(model.n_pairs, -1, dtype=np.int64)
        where[free] = np.arange(n)
        is_fixed = np.zeros(model.n_pairs, dtype=bool)
        is_fixed[fixed] = True
        fixed_activity = np.bincount(
            entry_row, weights=rows.coef * is_fixed[rows.pair], minlength=rows.n_rows
        )
        keep = where[rows.pair] >= 0
        add(
            entry_row[keep],
            where[rows.pair[keep]],
            rows.coef[keep],
            np.full(rows.n_rows, -np.inf),
            rows.rhs - np.rint(fixed_activity),
        )
        self.fixed_utility = int(model.utility[fixed].sum())
        self.value_row = count
        if target is not None:
            # Worth at least V in all.
            add(
                np.zeros(n, dtype=np.int64),
                np.arange(n),
                model.utility[free],
                np.array([target - self.fixed_utility]),
                np.array([np.inf]),
            )
        self._rows = (
            (np.concatenate(rows_r), np.concatenate(rows_c), np.concatenate(rows_v)),
            np.concatenate(lower),
            np.concatenate(upper),
        )
        self.highs = self._build(feasibility_jump=False)
        self.column = where
        self.start: np.ndarray | None = None
        self.cost = np.zeros(n)
        self.best_pairs = np.zeros(0, dtype=np.int64)

    def _build(self, *, feasibility_jump: bool) -> _Highs:
        highs = highs_until(time.perf_counter() + 3600)
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("mip_abs_gap", 0.99)
        highs.setOptionValue("mip_heuristic_run_feasibility_jump", feasibility_jump)
        entries, lower, upper = self._rows
        pass_columns(highs, np.zeros(self.n_cols), entries, lower, upper, integral=True)
        return highs

    def start_from(self, allocation: IntArray) -> None:
        """Start every search from ``allocation`` (model pairs): an allocation worth the
        target that agrees with the fixed pairs, such as the result itself. HiGHS then has an
        incumbent from the start and proves far sooner."""
        cols = self.column[allocation]
        values = np.zeros(self.n_cols)
        values[cols[cols >= 0]] = 1.0
        self.start = values

    def _run(self, stop_at: float) -> tuple[str, np.ndarray | None, float | None]:
        from engine.welfare_mip import limit

        limit(self.highs, stop_at)
        if self.start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = self.start.tolist()
            self.highs.setSolution(solution)
        self.highs.run()
        status = self.highs.getModelStatus()
        info = self.highs.getInfo()
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", None, None
        has = info.primal_solution_status == 2
        values = np.asarray(self.highs.getSolution().col_value[: self.n]) if has else None
        if (
            values is not None
            and self.start is not None
            and abs(float(self.cost @ values) - info.objective_function_value) > 0.5
        ):
            # HiGHS 1.16, given a start, can report the optimum of a model its presolve
            # solved but hand back the start as the solution: search again without presolve.
            self.highs.setOptionValue("presolve", "off")
            return self._run(stop_at)
        if status == highspy.HighsModelStatus.kOptimal:
            return "optimal", values, info.objective_function_value
        return "stopped", values, info.mip_dual_bound

    def _objective(self, cost: np.ndarray) -> None:
        self.cost = cost
        self.highs.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), cost)

    def _first_found(
        self,
        stop_at: float,
        *,
        fixed: int | None = None,
        any_of: np.ndarray | None = None,
        held_with: tuple[IntArray, IntArray] | None = None,
    ) -> tuple[str, np.ndarray | None]:
        """The first allocation worth the target found by a search that maximises welfare,
        on a model of its own (what earlier searches left in HiGHS, a start or presolve
        turned off, slows the next one down): with column ``fixed`` held, or at least one
        of the columns ``any_of``, or at least one column of ``held_with[0]`` held together
        with the column beside it in ``held_with[1]`` (a column ``z <= x``, ``z <= y`` for
        each, and a row "the ``z`` add up to at least 1"). The values of the pairs' columns,
        and of the ``extras`` columns too with ``held_with``."""
        highs = self._build(feasibility_jump=True)
        highs.changeColsCost(
            self.n,
            np.arange(self.n, dtype=np.int32),
            self.model.utility[self.free].astype(np.float64),
        )
        highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
        if fixed is not None:
            highs.changeColBounds(fixed, 1.0, 1.0)
        if any_of is not None:
            highs.addRow(1.0, np.inf, any_of.size, any_of, np.ones(any_of.size))
        if held_with is not None:
            x, y = held_with
            k = x.size
            z = self.n_cols + np.arange(k)
            highs.addVars(k, np.zeros(k), np.ones(k))
            for zi, xi, yi in zip(z.tolist(), x.tolist(), y.tolist(), strict=True):
                for other in (xi, yi):
                    highs.addRow(
                        -np.inf,
                        0.0,
                        2,
                        np.array([zi, other], dtype=np.int32),
                        np.array([1.0, -1.0]),
                    )
            highs.addRow(1.0, np.inf, k, z.astype(np.int32), np.ones(k))
        highs.setOptionValue("mip_max_improving_sols", 1)
        return _outcome(highs, stop_at, self.n if held_with is None else self.n_cols)

    def reaches(self, pair: int, stop_at: float) -> tuple[int, IntArray]:
        """Whether an allocation holding model pair ``pair`` reaches the target, and the
        model pairs of the one found (empty unless YES). The search maximises welfare with
        the target row in place and stops at the first allocation found: welfare guides the
        search where a pure feasibility search wanders (ten to fifty times faster on pot
        rounds), and any allocation found proves "yes"."""
        col = int(self.column[pair])
        none = np.zeros(0, dtype=np.int64)
        if col < 0:
            return NO, none
        status, values = self._first_found(stop_at, fixed=col)
        if status == "infeasible":
            return NO, none
        if values is not None:
            return YES, self.free[np.flatnonzero(values > 0.5)]
        return UNDECIDED, none

    def holds(self, stop_at: float) -> tuple[int, IntArray]:
        """Whether any allocation here reaches the target, and the model pairs of the one
        found, fixed pairs included (empty unless YES)."""
        if self.n == 0:  # nothing free: the fixed pairs alone keep every row, or not
            _, lower, upper = self._rows
            if ((lower <= 0) & (upper >= 0)).all():
                return YES, self.fixed.copy()
            return NO, np.zeros(0, dtype=np.int64)
        status, values = self._first_found(stop_at)
        if status == "infeasible":
            return NO, np.zeros(0, dtype=np.int64)
        if values is None:
            return UNDECIDED, np.zeros(0, dtype=np.int64)
        return YES, np.union1d(self.fixed, self.free[np.flatnonzero(values > 0.5)])

    def cover(self, pairs: IntArray, stop_at: float) -> tuple[IntArray, bool]:
        """Model pairs among ``pairs`` that one allocation worth the target holds (at least
        one of them); and True when it is proven that none of them can be held. Like
        :meth:`reaches`, with a row "at least one of these pairs" in place of a fixed pair."""
        cols = self.column[pairs]
        cols = np.unique(cols[cols >= 0]).astype(np.int32)
        if cols.size == 0:
            return np.zeros(0, dtype=np.int64), True
        status, values = self._first_found(stop_at, any_of=cols)
        if values is None:
            return np.zeros(0, dtype=np.int64), status == "infeasible"
        held = cols[values[cols] > 0.5]
        return self.free[held], False

    def cover_extras(
        self, pairs: IntArray, offers: IntArray, stop_at: float
    ) -> tuple[IntArray, bool]:
        """For a program with ``extras``: positions in ``pairs`` of the pairs that one
        allocation worth the target holds *with one more place at the pair's own offer*
        ``offers[i]`` (at least one of them); and True when it is proven that no question
        can be answered so. Like :meth:`cover`, with for each pair a column ``z <= x`` and
        ``z <= y`` of its offer, and a row "the ``z`` add up to at least 1"."""
        slot = np.full(self.model.arrays.n_offers, -1, dtype=np.int64)
        slot[self.extras] = self.n + np.arange(self.extras.size)
        x = self.column[pairs]
        y = slot[offers]
        ask = np.flatnonzero((x >= 0) & (y >= 0))
        if ask.size == 0:
            return np.zeros(0, dtype=np.int64), True
        status, values = self._first_found(stop_at, held_with=(x[ask], y[ask]))
        if values is None:
            return np.zeros(0, dtype=np.int64), status == "infeasible"
        held = (values[x[ask]] > 0.5) & (values[y[ask]] > 0.5)
        return ask[held], False

    def best(self, stop_at: float) -> int | None:
        """The best welfare (fixed pairs included) of the allocations here; None if time ran
        out first or there is none."""
        self._objective(self.model.utility[self.free].astype(np.float64))
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
        status, values, _ = self._run(stop_at)
        if status != "optimal" or values is None:
            return None
        chosen = np.flatnonzero(values > 0.5)
        self.best_pairs = self.free[chosen]
        return self.fixed_utility + int(self.model.utility[self.best_pairs].sum())

    def best_extra(self, stop_at: float) -> tuple[int | None, int | None]:
        """:meth:`best` of a program with ``extras``, and the offer whose one more place the
        best allocation found uses (None when it uses none)."""
        value = self.best(stop_at)
        if value is None:
            return None, None
        # Read from the allocation itself, not from the columns that allow the place: the
        # offer it fills past its capacity.
        model = self.model
        arrays = model.arrays
        held = np.concatenate([self.fixed, self.best_pairs])
        over = np.flatnonzero(
            np.bincount(model.offer[held], minlength=arrays.n_offers) > arrays.capacity
        )
        if over.size > 1 or not np.isin(over, self.extras).all():
            raise RuntimeError("a program of one more place returned an allocation it forbids")
        return value, int(over[0]) if over.size else None


def forced_split(
    prices: SidePrices, target_scaled: int, pair: int, extra: int | None = None
) -> tuple[IntArray, IntArray] | None:
    """The free and fixed pairs for allocations worth ``V`` that hold ``pair`` (with one
    more place at ``extra``), from the optimal priced flow *with the pair forced*: its
    reduced costs fix every pair whose change alone would cost more than what forcing leaves
    of the slack. None when the forced bound is already below ``V``.

    The argument of the module's docstring, for the forced flow ``x_f`` (the pair's weight
    raised by ``M``, more than any flow can lose, so that every optimal flow holds it): an
    allocation holding the pair has ``SCALE u . x <= w_f . x_f - M + m . b - sum |rc_f|
    |x - x_f|``. Forcing costs most open questions nearly all of the slack, so few pairs
    stay free: on a pot round at s about 1,000, where the unforced flow with one more place
    left 1,200 to 4,900."""
    weight = prices.weights.copy()
    raise_by = int(np.abs(weight).sum()) + 1
    weight[pair] += raise_by
    state = FlowState(prices.core, weight, extra=extra)
    bound = state.value - raise_by + int((prices.multipliers * prices.rows.rhs).sum())
    slack = bound - target_scaled
    if slack < 0 or state.pair_flow[pair] == 0:
        return None
    free = np.flatnonzero(np.abs(state.pair_reduced) <= slack).astype(np.int64)
    free = free[free != pair]
    fixed = np.union1d(np.setdiff1d(state.chosen, free), [pair]).astype(np.int64)
    return free, fixed


def _stop_at(limit_s: float, deadline: float) -> float:
    return min(deadline, time.perf_counter() + limit_s)


def forced_question(
    state: dict[str, Any], pair: int, extra: int | None, limit_s: float, deadline: float
) -> tuple[int, IntArray, int]:
    """A pool task (:mod:`engine.explain_pool`; ``state`` holds the ``model``, its
    ``prices`` and the ``target``): whether an allocation holding ``pair``, with one more
    place at ``extra``, reaches the target; the model pairs of the one found; and how many
    pairs were free (-1 when the forced bound said no)."""
    model, prices, target = state["model"], state["prices"], int(state["target"])
    split = forced_split(prices, SCALE * target, pair, extra)
    if split is None:
        return NO, np.zeros(0, dtype=np.int64), -1
    free, fixed = split
    sub = SubProgram(model, prices, free, fixed, target, extra=extra)
    answer, held = sub.holds(_stop_at(limit_s, deadline))
    return answer, held, int(free.size)


def best_with_place(
    state: dict[str, Any],
    extra: int,
    free: IntArray,
    fixed: IntArray,
    start: IntArray,
    limit_s: float,
    deadline: float,
) -> int | None:
    """A pool task: the best welfare with one more place at ``extra`` on the ``free``
    pairs (``fixed`` held), searched from ``start``; None when it was not proven in time."""
    model, prices, target = state["model"], state["prices"], int(state["target"])
    sub = SubProgram(model, prices, free, fixed, target, extra=extra)
    sub.start_from(start)
    return sub.best(_stop_at(limit_s, deadline))


def best_of_places(
    state: dict[str, Any],
    extras: IntArray,
    free: IntArray,
    fixed: IntArray,
    start: IntArray,
    limit_s: float,
    deadline: float,
) -> tuple[dict[int, int], IntArray]:
    """A pool task: the best welfare with one more place at each offer of ``extras``, for
    offers where one more place is likely worth nothing, proven together. One program lets
    any one of them have one more place: when its best is ``V``, no offer of them gains;
    otherwise the offer its best allocation uses has exactly that best (no other offer of
    them does better), and the program is asked again without that offer. The pairs must be
    free for every offer of ``extras``, and the model must have every row one more place
    can make bind (a pot its own places cannot reach is left out of it). Returns the best
    welfare of each offer decided, and the offers left when a program was not proven in
    time."""
    model, prices, target = state["model"], state["prices"], int(state["target"])
    left = np.asarray(extras, dtype=np.int64)
    found: dict[int, int] = {}
    while left.size:
        sub = SubProgram(model, prices, free, fixed, target, extras=left)
        if sub.extras.size == 0:
            break
        sub.start_from(start)
        value, used = sub.best_extra(_stop_at(limit_s, deadline))
        if value is None:
            return found, left
        if used is None or value <= target:
            break
        found[used] = value
        left = left[left != used]
    found.update({int(o): target for o in left.tolist()})
    return found, np.zeros(0, dtype=np.int64)


def _outcome(highs: _Highs, stop_at: float, n: int) -> tuple[str, np.ndarray | None]:
    """Run ``highs`` until ``stop_at``: "infeasible", "optimal" or "stopped", and the values
    of its first ``n`` columns when it has a solution."""
    from engine.welfare_mip import limit

    limit(highs, stop_at)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None
    has = highs.getInfo().primal_solution_status == 2
    values = np.asarray(highs.getSolution().col_value[:n]) if has else None
    return ("optimal" if status == highspy.HighsModelStatus.kOptimal else "stopped"), values
