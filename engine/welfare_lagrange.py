"""Welfare with side constraints: Lagrangian prices over a min-cost-flow core, then a MIP on
what the prices could not settle.

The side constraints (pot, budgets across several placements, gaps, floors) are few compared
with the pairs; without them the problem is a transportation problem that
``SimpleMinCostFlow`` solves in a fraction of a second. So (Fisher, "The Lagrangian relaxation
method for solving integer programming problems", Management Science 1981):

1. Write each side constraint as a row ``a_r . x <= b_r`` over the pairs (placed counts are
   sums of ``x`` for people who hold one place at most).
2. Price the rows: for multipliers ``m >= 0`` (scaled by ``SCALE`` so that every weight is an
   exact integer), ``L(m) = (sum_r m_r b_r + max_x sum_e (SCALE u_e - sum_r m_r a_re) x_e) /
   SCALE`` is an upper bound on the welfare for every ``m``, and the inner maximum is a flow.
   One row (the pot) is priced by an exact search on its slope; several by two subgradient
   steps (Held, Wolfe and Crowder 1974) with Polyak's step size, then by the duals of the linear
   relaxation on the pairs those flows used (:mod:`engine.welfare_pool`), which reach the best
   multipliers in two or three flows where subgradient steps took dozens; a MIP on that pool
   then finds the allocation. Above :data:`POOL_UP_TO` pairs, where that MIP is too big, the
   relaxation's placed counts of each type give the allocation instead, by one flow
   (:mod:`engine.welfare_counts`), when every row counts people; else the subgradient steps
   go on.
3. Every flow solution that happens to satisfy the rows, and its repair (dropping the places
   that buy least welfare per pound until the pot holds), is a feasible allocation.
4. Reduced-cost fixing: from the best prices, offer potentials ``v`` and person potentials ``u``
   of the flow (computed as longest paths over the chosen pairs) give each unchosen pair the
   reduced cost ``w_e - u_p - v_o <= 0``; forcing that pair in lowers the bound by at least
   that much, so a pair whose reduced cost exceeds the gap between bound and best allocation
   cannot be in a better allocation and is dropped.
5. HiGHS solves the MIP on the remaining pairs, started from the best allocation, for the
   rest of the time. Its dual bound (or the Lagrangian bound, whichever is lower) is reported.

When a person may hold several places and a rule counts them, "placed" is not linear in ``x``;
then step 5 runs on the whole problem with the flow relaxation's bound.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from engine.arrays import FloatArray, IntArray
from engine.welfare_counts import TypeRows, counted_flow, nearest_counts, type_rows
from engine.welfare_flow import welfare_network
from engine.welfare_gap import gap_width, window_counts
from engine.welfare_mip import MIP_UP_TO, solve_mip
from engine.welfare_model import (
    WelfareModel,
    WelfareOutcome,
    check_allocation,
    coverage_candidates,
    improves,
    placed_counts,
    restrict,
)
from engine.welfare_pool import PoolProgram, PoolRelaxation

logger = logging.getLogger(__name__)

#: Multipliers are integers in units of 1 / SCALE utility per unit of the row.
SCALE = 1 << 20

#: Below this many pairs HiGHS solves the whole MIP faster than the decomposition runs.
DECOMPOSE_FROM = 5_000

#: Subgradient flows before the linear relaxation on their pairs prices the rows.
POOL_AFTER_FLOWS = 2

#: Up to this many pairs, the relaxation on the flows' pairs is rounded by a MIP on its pool.
#: Above it (at l, 1.1 million pairs, a flow takes 9 s and the relaxation on 172,000 pool
#: pairs 13 s), one round of the relaxation must do, and its counts are rounded instead:
#: l multi was proven optimal in 97 s that way, where the subgradient steps ended 0.5% short.
POOL_UP_TO = 500_000

#: Pool relaxations with more pairs than this use the interior point method without crossover
#: (at l, 172,000 pairs: 13 s, where the simplex took 20 s).
IPM_FROM = 100_000


@dataclass(frozen=True)
class SideRows:
    """Side constraints ``A x <= b`` in compressed sparse row form over the model's pairs."""

    start: IntArray  # (R + 1,)
    pair: IntArray  # (nnz,)
    coef: IntArray  # (nnz,)
    rhs: IntArray  # (R,)

    @property
    def n_rows(self) -> int:
        return int(self.rhs.shape[0])

    def row_of_entry(self) -> IntArray:
        return np.repeat(np.arange(self.n_rows), np.diff(self.start))

    def activity(self, chosen: IntArray, n_pairs: int) -> IntArray:
        """``A x`` for the allocation ``chosen``."""
        x = np.zeros(n_pairs, dtype=np.int64)
        x[chosen] = 1
        return np.bincount(
            self.row_of_entry(), weights=self.coef * x[self.pair], minlength=self.n_rows
        ).astype(np.int64)


def relaxed(model: WelfareModel) -> WelfareModel:
    """``model`` without pot, binding budgets, gaps and floors: a network whose optimum bounds
    the welfare of ``model`` from above."""
    return replace(
        model,
        pot=None,
        budget_binds=np.zeros_like(model.budget_binds),
        floors={},
        rows=[],
    )


def side_rows(model: WelfareModel) -> SideRows | None:
    """The side constraints as linear rows over pairs, or None when a rule counts a person who
    may hold several places (then "placed" is not linear in the pairs)."""
    starts: list[int] = [0]
    pairs: list[IntArray] = []
    coefs: list[IntArray] = []
    rhs: list[int] = []

    def add(p: IntArray, c: IntArray, b: int) -> None:
        pairs.append(p.astype(np.int64))
        coefs.append(c.astype(np.int64))
        rhs.append(int(b))
        starts.append(starts[-1] + int(p.size))

    for attribute in model.attributes:
        member = model.groups(attribute).member_group
        if ((member >= 0) & (model.max_placements > 1)).any():
            return None
    # The total spend stays within the pot.
    if model.pot is not None:
        add(np.arange(model.n_pairs), model.price, model.pot)
    # A person's places cost no more than their budget.
    for p in np.flatnonzero(model.budget_binds).tolist():
        lo, hi = np.searchsorted(model.person, [p, p + 1])
        e = np.arange(lo, hi)
        add(e, model.price[e], int(model.arrays.budget[p]))
    for attribute in model.attributes:
        group_of_pair = model.groups(attribute).member_group[model.person]
        # Each floored group has at least its floor of placed members.
        need = model.floors.get(attribute)
        if need is not None:
            for g in np.flatnonzero(need > 0).tolist():
                e = np.flatnonzero(group_of_pair == g)
                add(e, -np.ones(e.size, dtype=np.int64), -int(need[g]))
        # The coverage gap holds between each pair of groups.
        for row in model.rows:
            if row.attribute != attribute:
                continue
            coef = np.zeros(len(model.groups(attribute).labels) + 1, dtype=np.int64)
            for g, c in row.coef.items():
                coef[g] = c
            per_pair = coef[group_of_pair]  # group -1 reads the trailing zero
            e = np.flatnonzero(per_pair)
            add(e, per_pair[e], row.rhs)
    if not rhs:
        return SideRows(
            np.zeros(1, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
        )
    return SideRows(
        start=np.asarray(starts, dtype=np.int64),
        pair=np.concatenate(pairs),
        coef=np.concatenate(coefs),
        rhs=np.asarray(rhs, dtype=np.int64),
    )


class _EmptyWindow(Exception):
    """No allocation keeps the coverages in the window (see :func:`_window_flows`)."""


@dataclass
class _Search:
    """State of the Lagrangian search."""

    model: WelfareModel
    core: WelfareModel
    rows: SideRows
    entry_row: IntArray
    best_bound_scaled: int | None = None  # SCALE * upper bound
    best_multipliers: IntArray | None = None
    best_weights: IntArray | None = None
    best_flow: IntArray | None = None
    incumbent: IntArray | None = None
    incumbent_value: int = -1
    flows: int = 0
    #: pairs that some priced flow used: a small pool where good allocations live
    seen: IntArray | None = None
    #: the flows on either side of the best price of a single row
    sides: tuple[IntArray, IntArray] | None = None
    #: (attribute, lower, upper): every flow keeps each group's placed count in these bounds
    window: tuple[str, IntArray, IntArray] | None = None
    #: where found allocations go as well (a search on part of the rows feeds the whole one)
    parent: _Search | None = None
    #: how long the slowest flow so far took (a flow cannot be stopped once started)
    flow_seconds: float = 0.0
    #: the rows over the people's types, when every row counts people (then weights are
    #: computed per type, and exact counts give allocations)
    types: TypeRows | None = None

    def has_time(self, deadline: float) -> bool:
        """Whether another flow can finish before ``deadline``."""
        return time.perf_counter() + self.flow_seconds < deadline

    def weights(self, m: IntArray) -> IntArray:
        if self.types is not None:
            return SCALE * self.model.utility - self.types.penalty(m)[self.model.person]
        penalty = np.bincount(
            self.rows.pair, weights=self.rows.coef * m[self.entry_row], minlength=self.model.n_pairs
        )
        return SCALE * self.model.utility - penalty.astype(np.int64)

    def evaluate(self, m: IntArray) -> tuple[int, IntArray, IntArray]:
        """``SCALE * L(m)``, the subgradient ``b - A x(m)`` and the flow's allocation."""
        w = self.weights(m)
        began = time.perf_counter()
        solution = welfare_network(self.core, w, window=self.window)
        self.flow_seconds = max(self.flow_seconds, time.perf_counter() - began)
        if self.parent is not None:
            self.parent.flow_seconds = max(self.parent.flow_seconds, self.flow_seconds)
        if solution is None:
            assert self.window is not None  # without a window the flow always has a solution
            raise _EmptyWindow
        self.flows += 1
        if self.seen is None:
            self.seen = np.zeros(self.model.n_pairs, dtype=bool)
        self.seen[solution.chosen] = True
        value = -solution.cost + int((m * self.rows.rhs).sum())
        if self.best_bound_scaled is None or value < self.best_bound_scaled:
            self.best_bound_scaled = value
            self.best_multipliers = m.copy()
            self.best_weights = w
            self.best_flow = solution.chosen
        self.offer(solution.chosen)
        if self.types is not None:  # the same integers, from a few hundred counts
            activity = self.types.matrix @ self.types.counts(self.model, solution.chosen)
        else:
            activity = self.rows.activity(solution.chosen, self.model.n_pairs)
        slack = self.rows.rhs - activity
        if (slack < 0).any():
            self.offer(repair(self.model, solution.chosen))
        return value, slack, solution.chosen

    def offer(self, chosen: IntArray | None) -> None:
        if chosen is None:
            return
        if self.parent is not None:
            self.parent.offer(chosen)
        if improves(self.model, chosen, self.incumbent_value):
            self.incumbent, self.incumbent_value = chosen, int(self.model.utility[chosen].sum())

    @property
    def bound(self) -> int:
        assert self.best_bound_scaled is not None
        return self.best_bound_scaled // SCALE


def repair(model: WelfareModel, chosen: IntArray) -> IntArray | None:
    """Make a flow allocation respect budgets, the pot and the gaps, then use what is left.

    1. A person over budget keeps the most valuable subset of their places within it (their
       places are few, so every subset is tried).
    2. Over the pot, the places that buy the least welfare per penny go.
    3. A broken gap loses the least valued places of its leading group.
    4. The places, money and slots left over go, one more place per person at most, to whoever
       values them most (a min-cost flow); kept only if every rule still holds.

    None if the result still breaks a rule (a floor)."""
    if model.budget_binds.any():
        chosen = _within_budgets(model, chosen)
    chosen = chosen[np.argsort(model.utility[chosen] / np.maximum(model.price[chosen], 1))]
    keep = np.ones(chosen.size, dtype=bool)
    if model.pot is not None:
        # Suffix sums from the worst ratio: drop the places while what is left exceeds the pot.
        spend = np.cumsum(model.price[chosen][::-1])[::-1]
        keep &= ~(spend > model.pot)
    result = np.sort(chosen[keep])
    for _ in range(4 * len(model.rows) + 1):
        broken = _broken_gap(model, result)
        if broken is None:
            break
        result = broken
    if check_allocation(model, result):
        return None
    filled = _fill(model, result)
    if filled is not None and not check_allocation(model, filled):
        return filled
    return result


def _within_budgets(model: WelfareModel, chosen: IntArray) -> IntArray:
    """Each person over budget keeps the most valuable subset of their places within it."""
    budget = model.arrays.budget
    person = model.person[chosen]
    spent = np.bincount(person, weights=model.price[chosen], minlength=model.arrays.n_persons)
    over = spent > budget
    if not over.any():
        return chosen
    keep = ~over[person]
    order = np.argsort(person, kind="stable")
    sorted_chosen = chosen[order]
    sorted_person = person[order]
    starts = np.searchsorted(sorted_person, np.flatnonzero(over))
    ends = np.searchsorted(sorted_person, np.flatnonzero(over), side="right")
    extra: list[int] = []
    for p, lo, hi in zip(
        np.flatnonzero(over).tolist(), starts.tolist(), ends.tolist(), strict=True
    ):
        pairs = sorted_chosen[lo:hi].tolist()
        best_value, best_set = -1, ()
        for mask in range(1 << len(pairs)):
            subset = tuple(e for k, e in enumerate(pairs) if mask >> k & 1)
            cost = sum(int(model.price[e]) for e in subset)
            value = sum(int(model.utility[e]) for e in subset)
            if cost <= budget[p] and value > best_value:
                best_value, best_set = value, subset
        extra.extend(best_set)
    return np.sort(np.concatenate([chosen[keep], np.asarray(extra, dtype=np.int64)]))


def _fill(model: WelfareModel, chosen: IntArray) -> IntArray | None:
    """Give leftover places to people with a slot and money left, one each, by greatest value."""
    arrays = model.arrays
    n_persons = arrays.n_persons
    held = np.bincount(model.person[chosen], minlength=n_persons)
    spent = np.bincount(model.person[chosen], weights=model.price[chosen], minlength=n_persons)
    left = arrays.capacity - np.bincount(model.offer[chosen], minlength=arrays.n_offers)
    taken = np.zeros(model.n_pairs, dtype=bool)
    taken[chosen] = True
    money = arrays.budget - spent.astype(np.int64)
    candidate = (
        ~taken
        & (held[model.person] < model.max_placements[model.person])
        & (model.price <= money[model.person])
        & (left[model.offer] > 0)
    )
    if model.pot is not None:
        candidate &= model.price <= model.pot - int(model.price[chosen].sum())
    pairs = np.flatnonzero(candidate)
    if pairs.size == 0:
        return None
    # Persons already holding this offer cannot take it again: excluded by ``~taken``.
    small = replace(
        restrict(model, pairs),
        arrays=replace(arrays, capacity=np.maximum(left, 0)),
        max_placements=np.ones(n_persons, dtype=np.int64),
        budget_binds=np.zeros(n_persons, dtype=bool),
        pot=None,
        floors={},
        rows=[],
    )
    solution = welfare_network(small, small.utility)
    if solution is None or solution.chosen.size == 0:
        return None
    added = pairs[solution.chosen]
    result = np.sort(np.concatenate([chosen, added]))
    if model.pot is not None and int(model.price[result].sum()) > model.pot:
        # The pot can take only some of them: keep the best per penny that fit.
        extra = added[np.argsort(-model.utility[added] / np.maximum(model.price[added], 1))]
        room = model.pot - int(model.price[chosen].sum())
        fits = np.cumsum(model.price[extra]) <= room
        result = np.sort(np.concatenate([chosen, extra[fits]]))
    return result


def _broken_gap(model: WelfareModel, chosen: IntArray) -> IntArray | None:
    """Fix the first broken gap row by dropping the least valued places of its leading group;
    None when every gap row holds."""
    placed = np.bincount(model.person[chosen], minlength=model.arrays.n_persons) > 0
    for row in model.rows:
        groups = model.groups(row.attribute)
        counts = np.bincount(
            groups.member_group[(groups.member_group >= 0) & placed],
            minlength=len(groups.labels),
        )
        if sum(c * int(counts[g]) for g, c in row.coef.items()) <= row.rhs:
            continue
        (a, size_b), (b, minus_size_a) = sorted(row.coef.items(), key=lambda kv: -kv[1])
        allowed = (row.rhs - minus_size_a * int(counts[b])) // size_b
        excess = int(counts[a]) - max(allowed, 0)
        in_a = groups.member_group[model.person[chosen]] == a
        # Value of each placed member of the group (all their places go together).
        members = np.unique(model.person[chosen[in_a]])
        value = np.bincount(
            model.person[chosen], weights=model.utility[chosen], minlength=model.arrays.n_persons
        )[members]
        drop = members[np.argsort(value, kind="stable")[:excess]]
        gone = np.isin(model.person[chosen], drop)
        return chosen[~gone]
    return None


def _price_one_row(search: _Search, deadline: float, max_flows: int = 30) -> None:
    """Minimise the convex piecewise-linear ``L(m)`` of a single row (Kelley's cutting planes
    in one dimension): keep the best point with a negative slope and the best with a
    non-negative slope, and try where their tangent lines cross."""
    value, slack, low_flow = search.evaluate(np.zeros(1, dtype=np.int64))
    if slack[0] >= 0:
        return
    low = (0, value, int(slack[0]))
    high_flow = low_flow
    # A first guess at the price of one unit of the row: the average welfare per unit.
    guess = SCALE * int(search.model.utility.sum()) // max(int(search.rows.coef.sum()), 1)
    m = max(guess, 1)
    high = None
    while high is None and search.has_time(deadline) and search.flows < max_flows:
        value, slack, chosen = search.evaluate(np.array([m], dtype=np.int64))
        if slack[0] >= 0:
            high = (m, value, int(slack[0]))
            high_flow = chosen
        else:
            low = (m, value, int(slack[0]))
            low_flow = chosen
            m *= 4
    search.sides = (low_flow, high_flow)
    while high is not None and search.has_time(deadline) and search.flows < max_flows:
        if search.incumbent_value >= search.bound or high[0] - low[0] <= 1:
            return
        (m_lo, l_lo, g_lo), (m_hi, l_hi, g_hi) = low, high
        if g_hi == g_lo:
            return
        cross = (l_hi - l_lo + g_lo * m_lo - g_hi * m_hi) // (g_lo - g_hi)
        m = min(max(cross, m_lo + 1), m_hi - 1)
        # L is convex, so it lies above both tangents: their crossing bounds min L from below.
        # Once that cannot lower the integer bound, more prices are wasted.
        envelope = min(max(l_lo + g_lo * (x - m_lo), l_hi + g_hi * (x - m_hi)) for x in (m, m + 1))
        if envelope // SCALE >= search.bound:
            return
        value, slack, chosen = search.evaluate(np.array([m], dtype=np.int64))
        tangent = max(l_lo + g_lo * (m - m_lo), l_hi + g_hi * (m - m_hi))
        if value <= tangent + 1:
            return  # the lower envelope is reached: m minimises L up to rounding
        if slack[0] >= 0:
            high = (m, value, int(slack[0]))
            high_flow = chosen
        else:
            low = (m, value, int(slack[0]))
            low_flow = chosen
        search.sides = (low_flow, high_flow)


def _price_rows(
    search: _Search, deadline: float, max_flows: int, *, find_first: bool = True
) -> None:
    """Subgradient optimisation of ``L(m)`` with Polyak steps towards the best allocation
    (without one, and ``find_first``, the window flows look for one after the first flow).

    Rows differ in scale (a gap row's coefficients are group sizes, the pot's are prices), so
    the steps are taken on rows divided by their largest coefficient, then turned back into
    integer multipliers of the original rows."""
    rows = search.rows
    scale = np.ones(rows.n_rows)
    np.maximum.at(scale, search.entry_row, np.abs(rows.coef).astype(np.float64))
    # Multipliers of the normalised rows, in SCALE units; from the best so far, if any.
    scaled = np.zeros(rows.n_rows)
    if search.best_multipliers is not None:
        scaled = search.best_multipliers * scale
    # Polyak's full step towards the best allocation (measured at m on multi: 0.1 left the
    # bound 0.3% above the optimum after 20 flows, 1.0 brought it to 0.04%), halved on stalls.
    theta = 1.0
    stall = 0
    best = None
    while search.flows < max_flows and search.has_time(deadline):
        m = np.round(scaled / scale).astype(np.int64)
        value, slack, _ = search.evaluate(m)
        if search.incumbent_value >= search.bound:
            return
        if search.flows == 1 and search.incumbent is None and find_first:
            # Polyak steps need an allocation to aim at; find one first if gaps and floors
            # on different attributes keep the plain flow from it.
            _window_flows(search, deadline)
        g = slack / scale
        g[(g > 0) & (scaled <= 0)] = 0.0  # a satisfied row without a price stays unpriced
        norm = float((g * g).sum())
        if norm == 0:
            return
        target = max(search.incumbent_value, 0) * SCALE
        gap = value - target if search.incumbent is not None else 0.05 * value
        scaled = np.maximum(0.0, scaled - theta * max(gap, SCALE) * g / norm)
        if best is not None and (search.best_bound_scaled or 0) >= best:
            stall += 1
            if stall >= 2:
                theta /= 2
                stall = 0
        best = search.best_bound_scaled


def offer_potentials(model: WelfareModel, weight: IntArray, chosen: IntArray) -> IntArray | None:
    """Dual prices of the offers for the optimal flow ``chosen`` under ``weight``: the least
    ``v >= 0`` with ``v[o'] >= v[o] + weight[p, o'] - weight[p, o]`` for every person ``p``
    holding ``o`` and not ``o'``, and ``v[o'] >= weight[p, o']`` when ``p`` has a place to spare.
    Longest paths by vectorised Bellman-Ford; None if it does not settle quickly."""
    n_persons = model.arrays.n_persons
    x = np.zeros(model.n_pairs, dtype=bool)
    x[chosen] = True
    held = np.bincount(model.person[chosen], minlength=n_persons)
    spare = held < model.max_placements
    v = np.zeros(model.arrays.n_offers, dtype=np.int64)
    free = np.flatnonzero(~x & spare[model.person])
    np.maximum.at(v, model.offer[free], weight[free])
    # Edges chosen (p, o) -> unchosen (p, o') of the same person.
    unchosen = np.flatnonzero(~x & ~spare[model.person])
    order = np.argsort(model.person[chosen], kind="stable")
    chosen_sorted = chosen[order]
    first = np.searchsorted(model.person[chosen_sorted], model.person[unchosen])
    counts = held[model.person[unchosen]]
    src_list, dst_list = [], []
    for k in range(int(model.max_placements.max(initial=1))):
        ok = counts > k
        src_list.append(chosen_sorted[first[ok] + k])
        dst_list.append(unchosen[ok])
    src = np.concatenate(src_list)
    dst = np.concatenate(dst_list)
    src_offer, dst_offer = model.offer[src], model.offer[dst]
    delta = weight[dst] - weight[src]
    for _ in range(500):
        candidate = v[src_offer] + delta
        better = candidate > v[dst_offer]
        if not better.any():
            return v
        np.maximum.at(v, dst_offer[better], candidate[better])
    return None


def reduced_pairs(search: _Search) -> IntArray | None:
    """Pairs that may appear in an allocation better than the incumbent (reduced-cost fixing);
    None when the potentials cannot be computed.

    With offer potentials ``v >= 0``, person potentials ``u[p]`` (the ``max_placements``-th
    best ``w - v`` of ``p``, at least 0) and arc potentials ``z = max(0, w - v - u)``, every
    pair's reduced cost ``rc = min(0, w - v - u)`` is <= 0 and ``D = sum(places * u) +
    sum(capacity * v) + sum(z)`` bounds ``w . x`` by ``D + sum(rc over x)`` (weak duality). So
    an allocation beating the incumbent uses only pairs with ``rc >= SCALE * (incumbent + 1) -
    D - m . b``.
    """
    assert search.best_weights is not None and search.best_flow is not None
    assert search.best_multipliers is not None
    w, chosen = search.best_weights, search.best_flow
    model = search.core
    v = offer_potentials(model, w, chosen)
    if v is None:
        return None
    profit = w - v[model.offer]
    order = np.lexsort((-profit, model.person))
    person_sorted = model.person[order]
    rank = np.arange(model.n_pairs) - np.searchsorted(person_sorted, person_sorted)
    at = order[rank == model.max_placements[person_sorted] - 1]
    u = np.zeros(model.arrays.n_persons, dtype=np.int64)
    u[model.person[at]] = np.maximum(profit[at], 0)
    slack = profit - u[model.person]
    z = np.maximum(slack, 0)
    reduced = np.minimum(slack, 0)
    dual = (
        int((model.max_placements * u).sum())
        + int((model.arrays.capacity * v).sum())
        + int(z.sum())
        + int((search.best_multipliers * search.rows.rhs).sum())
    )
    keep = reduced >= SCALE * (search.incumbent_value + 1) - dual
    keep[chosen] = True
    if search.incumbent is not None:
        keep[search.incumbent] = True
    return np.flatnonzero(keep)


def solve_with_side_constraints(
    model: WelfareModel,
    deadline: float,
    seed: int = 0,
    *,
    decompose_from: int | None = None,
) -> WelfareOutcome:
    """Best allocation for a model that is not a network, within ``deadline`` (a
    ``time.perf_counter()`` value). Models with fewer than ``decompose_from`` pairs go straight
    to the MIP (default :data:`DECOMPOSE_FROM`)."""
    if decompose_from is None:
        decompose_from = DECOMPOSE_FROM
    empty = np.zeros(0, dtype=np.int64)
    empty_ok = not any(need.any() for need in model.floors.values())
    core = relaxed(model)
    from engine import welfare_knapsack

    # Before the rows are listed: that solver does not use them (a budget row per person).
    if model.n_pairs >= decompose_from and welfare_knapsack.applies(model):
        return welfare_knapsack.solve_budgets(model, deadline, seed)
    rows = side_rows(model)
    if rows is None or model.n_pairs < decompose_from:
        return _mip_only(model, core, deadline, seed, empty_ok)
    search = _Search(
        model=model,
        core=core,
        rows=rows,
        entry_row=rows.row_of_entry(),
        types=type_rows(model, rows),
    )
    if empty_ok:
        search.offer(empty)
    budget = time.perf_counter() + 0.5 * max(deadline - time.perf_counter(), 0.0)
    if rows.n_rows == 1:
        _price_one_row(search, budget)
        _floor_flows(search)
    elif model.n_pairs > POOL_UP_TO and search.types is not None:
        # Each flow takes seconds and the relaxation tens of seconds, too long to round the
        # relaxation by a MIP; but its placed counts, rounded, make one flow's allocation.
        _price_rows(search, budget, max_flows=POOL_AFTER_FLOWS, find_first=False)
        left = deadline - time.perf_counter()
        _pool_prices(search, deadline - 0.1 * left, types=search.types)
        if search.incumbent is None:
            _floor_flows(search)
    elif model.n_pairs > POOL_UP_TO:
        # Each flow takes seconds and the relaxation tens of seconds: subgradient steps only.
        _price_rows(search, budget, max_flows=30)
        _floor_flows(search)
    else:
        # A few subgradient steps gather the pairs that matter; the linear relaxation on them
        # then prices the rows, usually to the bound's best.
        _price_rows(search, budget, max_flows=POOL_AFTER_FLOWS, find_first=False)
        priced = _pool_prices(search, budget)
        if priced is None:
            _floor_flows(search)
            if search.incumbent is None:
                half = 0.5 * max(budget - time.perf_counter(), 0.0)
                _window_flows(search, time.perf_counter() + half)
            _price_rows(search, budget, max_flows=30)
        elif search.incumbent_value < search.bound and priced[0].size <= MIP_UP_TO:
            pool, relaxation = priced
            # The pool holds the relaxation's optimum, and most of its values are whole: keep
            # the whole ones and settle the people with fractions (and those left out) in a
            # small MIP; then, if that is not yet the best, a MIP on the pool started from it.
            # (HiGHS's presolve took 1.8 s of 2.4 at m, the search without it 0.5 s.)
            limit = 0.15 * max(deadline - time.perf_counter(), 0.0)
            search.offer(_round_relaxation(search, pool, relaxation, limit, seed))
            if search.incumbent_value < search.bound:
                start = None
                if search.incumbent is not None:
                    pool = np.union1d(pool, search.incumbent)
                    start = np.searchsorted(pool, search.incumbent)
                limit = 0.3 * max(deadline - time.perf_counter(), 0.0)
                small = restrict(model, pool)
                found = solve_mip(small, limit, start=start, seed=seed, presolve=False)
                if found.chosen.size:
                    search.offer(pool[found.chosen])
                logger.info(
                    "pool MIP on %d pairs: %s, best %d",
                    pool.size,
                    found.status,
                    search.incumbent_value,
                )
    if search.incumbent is None:
        _window_flows(search, time.perf_counter() + 0.5 * max(deadline - time.perf_counter(), 0.0))
    bound = search.bound
    logger.info(
        "Lagrangian: %d flows, bound %d, best allocation %d",
        search.flows,
        bound,
        search.incumbent_value,
    )
    if search.incumbent is not None and search.incumbent_value >= bound:
        return WelfareOutcome("optimal", search.incumbent, search.incumbent_value)
    if search.seen is not None and search.incumbent is None and search.seen.sum() <= MIP_UP_TO:
        # A quick MIP on the pairs the priced flows used finds a good allocation to fix with.
        pool = np.flatnonzero(search.seen)
        limit = 0.3 * max(deadline - time.perf_counter(), 0.0)
        found = solve_mip(restrict(model, pool), limit, seed=seed)
        if found.chosen.size:
            search.offer(pool[found.chosen])
        logger.info(
            "pool MIP on %d pairs: %s, best %d", pool.size, found.status, search.incumbent_value
        )
        if search.incumbent is not None and search.incumbent_value >= bound:
            return WelfareOutcome("optimal", search.incumbent, search.incumbent_value)
    keep = reduced_pairs(search) if search.incumbent is not None else None
    if keep is not None:
        # Settle the few people whose place the prices leave open, everyone else fixed: first
        # those whose places differ between the flows, then all with a choice left.
        for narrow in (True, False):
            limit = 0.15 * max(deadline - time.perf_counter(), 0.0)
            search.offer(_core_mip(search, keep, limit, seed, narrow=narrow))
            if search.incumbent_value >= bound:
                break
            # The narrow MIP's allocation is closer to the bound, so reduced costs fix more
            # pairs for the wide one (m pot, seed 2: 5,429 pairs left where 15,687 were, and
            # 1.0 s where it took 3.5 s).
            keep = reduced_pairs(search) if narrow else keep
            if keep is None:
                break
        logger.info("core MIP: best %d of bound %d", search.incumbent_value, bound)
        if search.incumbent is not None and search.incumbent_value >= bound:
            return WelfareOutcome("optimal", search.incumbent, search.incumbent_value)
        keep = reduced_pairs(search)
    if (model.n_pairs if keep is None else keep.size) > MIP_UP_TO:
        # Too big for HiGHS to get anywhere: spend the time left on more prices instead.
        if keep is not None:
            logger.info("reduced-cost fixing keeps %d of %d pairs", keep.size, model.n_pairs)
        # (One row is priced to the end already.)
        if rows.n_rows > 1:
            left = max(deadline - time.perf_counter(), 0.0)
            _price_rows(search, deadline - 0.3 * left, max_flows=search.flows + 200)
            # A window around the coverage of the flow at the best prices: near the optimum's.
            _window_flows(search, deadline, improve=True)
        bound = min(bound, search.bound)
        if search.incumbent is None:
            return WelfareOutcome("no_solution", empty, bound)
        value = search.incumbent_value
        return WelfareOutcome(
            "optimal" if value >= bound else "feasible", search.incumbent, max(bound, value)
        )
    if keep is not None:
        logger.info("reduced-cost fixing keeps %d of %d pairs", keep.size, model.n_pairs)
        small = restrict(model, keep)
        start = None
        if search.incumbent is not None:
            start = np.searchsorted(keep, search.incumbent)
        found = solve_mip(small, deadline - time.perf_counter(), start=start, seed=seed)
        chosen = keep[found.chosen] if found.chosen.size else empty
        # An allocation using a dropped pair is worth less than the incumbent.
        mip_bound = found.bound if found.bound is not None else bound
        bound = min(bound, max(mip_bound, search.incumbent_value))
        if found.status == "infeasible" and search.incumbent is None:
            return WelfareOutcome("infeasible", empty, None)
    else:
        found = solve_mip(model, deadline - time.perf_counter(), start=search.incumbent, seed=seed)
        if found.status == "infeasible":
            return WelfareOutcome("infeasible", empty, None)
        chosen = found.chosen
        if found.bound is not None:
            bound = min(bound, found.bound)
    if found.status in ("optimal", "feasible"):
        search.offer(chosen)
    if search.incumbent is None:
        return WelfareOutcome("no_solution", empty, bound)
    value = search.incumbent_value
    if found.status == "optimal" or value >= bound:
        return WelfareOutcome("optimal", search.incumbent, value)
    return WelfareOutcome("feasible", search.incumbent, max(bound, value))


def _pool_prices(
    search: _Search, deadline: float, max_rounds: int = 6, *, types: TypeRows | None = None
) -> tuple[IntArray, PoolRelaxation] | None:
    """Multipliers from the linear relaxation on the pairs the flows used (see
    :mod:`engine.welfare_pool`): solve it, price a flow with its duals, and grow the pool with
    that flow's pairs until the bound meets the relaxation's optimum. Returns that pool and its
    relaxation once it holds the relaxation's optimum (so the bound is the relaxation's), else
    None.

    With ``types`` (for models too big for a MIP on the pool), each round also rounds the
    relaxation's placed counts of each type to whole counts that keep the rows, and one flow
    places them (an allocation, see :mod:`engine.welfare_counts`); and a pool above
    :data:`IPM_FROM` pairs is solved by the interior point method without crossover: its
    prices and counts are not exact vertices, but the flows make exact bounds and allocations
    of them."""
    if search.seen is None:
        return None
    model = search.model
    pool = np.flatnonzero(search.seen)
    program = PoolProgram(model, search.rows)
    for _ in range(max_rounds):
        if search.incumbent_value >= search.bound or not search.has_time(deadline):
            return None
        if search.incumbent is not None:
            pool = np.union1d(pool, search.incumbent)
        began = time.perf_counter()
        interior = types is not None and pool.size > IPM_FROM
        relaxation = program.solve(pool, deadline, interior=interior)
        if relaxation is None or not search.has_time(deadline):
            return None
        search.evaluate(np.round(SCALE * relaxation.duals).astype(np.int64))
        if types is not None:
            kind = types.person_type[model.person[pool]]
            placed = relaxation.x[kind >= 0].astype(np.float64)
            target: FloatArray = np.bincount(kind[kind >= 0], placed, types.n_types).astype(float)
            counts = nearest_counts(types, target, deadline)
            if counts is not None and search.has_time(deadline):
                search.offer(counted_flow(model, search.core, types, counts))
        logger.info(
            "pool relaxation on %d pairs: %.2f; its prices bound %d; best allocation %d (%.2f s)",
            pool.size,
            relaxation.value,
            search.bound,
            search.incumbent_value,
            time.perf_counter() - began,
        )
        if search.bound <= math.floor(relaxation.value + 1e-6):
            # The relaxation of the whole problem is reached: no pair can raise it.
            return pool, relaxation
        grown = np.flatnonzero(search.seen)
        if np.setdiff1d(grown, pool, assume_unique=True).size == 0:
            return None
        pool = np.union1d(pool, grown)
    return None


def _floor_flows(search: _Search) -> None:
    """Priced flows that keep one attribute's floors exactly (they are a network), so that the
    prices only have to settle the other rules: a good source of feasible allocations when
    floors on several attributes make the plain priced flows miss some floor."""
    model = search.model
    if search.best_weights is None:
        return
    for attribute, need in model.floors.items():
        if not need.any():
            continue
        member = model.groups(attribute).member_group
        if ((member >= 0) & (model.max_placements > 1)).any():
            continue
        solution = welfare_network(
            replace(search.core, floors={attribute: need}), search.best_weights
        )
        if solution is None:
            continue
        search.offer(solution.chosen)
        search.offer(repair(model, solution.chosen))


def _window_flows(
    search: _Search, deadline: float, max_flows: int = 12, *, improve: bool = False
) -> None:
    """Look for a first allocation that keeps every rule when gaps on one attribute and floors
    on others make the priced flows miss some rule each time.

    Any allocation whose coverages on the gap's attribute all lie in one window ``[c, c + G]``
    keeps the gap, and those counts are bounds on group arcs of a flow (as in
    :mod:`engine.welfare_gap`). So hold the coverages in a window near the best priced flow's
    and price only the other rules (floors, the pot, budgets), which are few and pull one way.
    Windows tried: the one that lifts the groups served worst, the one that holds back those
    served best, and the one between. A heuristic for allocations only: prices inside a window
    bound nothing outside it."""
    model = search.model
    attributes = {row.attribute for row in model.rows}
    if len(attributes) != 1 or search.best_flow is None:
        return
    (attribute,) = attributes
    member = model.groups(attribute).member_group
    if ((member >= 0) & (model.max_placements > 1)).any():
        return
    sizes = model.groups(attribute).sizes
    need = model.floors.get(attribute, np.zeros(sizes.size, dtype=np.int64))
    width = gap_width(model, attribute)
    rest = replace(
        model,
        rows=[],
        floors={a: f for a, f in model.floors.items() if a != attribute},
        gaps={},
    )
    rows = side_rows(rest)
    if rows is None:
        return
    placed = np.zeros(model.arrays.n_persons, dtype=bool)
    placed[model.person[search.best_flow]] = True
    counted = sizes > 0
    coverage = placed_counts(model, attribute, placed)[counted] / sizes[counted]
    candidates = coverage_candidates(sizes)
    tried: set[Fraction] = set()
    for target in (
        float(coverage.max()) - float(width),
        float(coverage.min()),
        (float(coverage.max()) - float(width) + float(coverage.min())) / 2,
    ):
        if (search.incumbent is not None and not improve) or not search.has_time(deadline):
            return
        # The largest candidate at or below the target (the window's lower end).
        k = max(bisect.bisect_right(candidates, Fraction(max(target, 0.0))) - 1, 0)
        low_end = candidates[k]
        if low_end in tried:
            continue
        tried.add(low_end)
        low, high = window_counts(sizes, need, low_end, low_end + width)
        if (low > high).any():
            continue
        window = (attribute, low, high)
        inner = _Search(
            model=model,
            core=search.core,
            rows=rows,
            entry_row=rows.row_of_entry(),
            window=window,
            parent=search,
            flow_seconds=search.flow_seconds,
        )
        try:
            _push_to_feasible(inner, deadline, max_flows)
        except _EmptyWindow:
            continue  # the capacities cannot fill the window
        logger.info(
            "window %s on %s: %d flows, best allocation %d",
            low_end,
            attribute,
            inner.flows,
            search.incumbent_value,
        )


def _push_to_feasible(search: _Search, deadline: float, max_flows: int) -> None:
    """Prices that make the flows keep every row: each row still broken gets a higher price
    (a bonus for the members of a group under its floor, a charge per penny over the pot),
    its step doubling while it stays broken; rows that hold keep their prices. From the first
    flow that keeps every row, three halvings back towards the prices before it look for a
    cheaper one. Every flow is offered to the search; at most ``max_flows`` flows."""
    rows = search.rows
    model = search.model
    m = np.zeros(rows.n_rows, dtype=np.int64)
    # A first step worth a quarter of the average utility per unit of the row.
    per_entry = np.zeros(rows.n_rows)
    np.maximum.at(per_entry, search.entry_row, np.abs(rows.coef).astype(np.float64))
    mean_utility = float(model.utility.mean()) if model.n_pairs else 1.0
    step = np.maximum((SCALE * mean_utility / 4 / np.maximum(per_entry, 1.0)).astype(np.int64), 1)
    low = m.copy()  # prices whose flow breaks a row
    while search.flows < max_flows and search.has_time(deadline):
        _, slack, _ = search.evaluate(m)
        logger.debug("pushing prices: slack %s", slack.tolist())
        if not (slack < 0).any():
            break
        low = m.copy()
        broken = slack < 0
        m[broken] += step[broken]
        step[broken] *= 2
    else:
        return
    # The doubling overshoots: halve the way back towards the last prices that broke a row,
    # keeping the cheapest prices that still keep every row (each such flow is offered).
    high = m
    for _ in range(3):
        if search.flows >= max_flows or not search.has_time(deadline):
            return
        middle = (low + high) // 2
        _, slack, _ = search.evaluate(middle)
        if (slack < 0).any():
            low = middle
        else:
            high = middle


def _core_mip(
    search: _Search, keep: IntArray, limit: float, seed: int, *, narrow: bool = False
) -> IntArray | None:
    """A MIP over the people the prices leave undecided, everyone else held at the incumbent.

    Undecided: people whose places differ between the incumbent, the best priced flow and the
    flows either side of a single row's best price; unless ``narrow``, also everyone with two
    or more pairs that survive reduced-cost fixing. The others keep their incumbent
    places, which use up capacity, pot and group counts. A heuristic (it proves nothing), but
    it usually closes the gap left by the prices, so that the bound proves the result."""
    model = search.model
    assert search.incumbent is not None and search.best_flow is not None
    n_persons = model.arrays.n_persons
    kept_per_person = np.bincount(model.person[keep], minlength=n_persons)
    in_incumbent = np.zeros(model.n_pairs, dtype=bool)
    in_incumbent[search.incumbent] = True
    in_flow = np.zeros(model.n_pairs, dtype=bool)
    in_flow[search.best_flow] = True
    differs = np.zeros(n_persons, dtype=bool)
    differs[model.person[np.flatnonzero(in_incumbent != in_flow)]] = True
    for side in search.sides or ():
        in_side = np.zeros(model.n_pairs, dtype=bool)
        in_side[side] = True
        differs[model.person[np.flatnonzero(in_side != in_flow)]] = True
    free = differs if narrow else differs | (kept_per_person >= 2)
    fixed = search.incumbent[~free[model.person[search.incumbent]]]
    core_pairs = keep[free[model.person[keep]]]
    start = np.flatnonzero(in_incumbent[core_pairs])
    return _fix_and_solve(search, fixed, core_pairs, start, limit, seed)


def _round_relaxation(
    search: _Search, pool: IntArray, relaxation: PoolRelaxation, limit: float, seed: int
) -> IntArray | None:
    """Keep the pairs the pool relaxation takes whole; a MIP places the people it splits and
    those it leaves out, on their pool pairs, within what the kept pairs leave over."""
    model = search.model
    whole = pool[relaxation.x > 1 - 1e-6]
    split = np.zeros(model.arrays.n_persons, dtype=bool)
    split[model.person[pool[(relaxation.x > 1e-6) & (relaxation.x <= 1 - 1e-6)]]] = True
    held = np.bincount(model.person[whole], minlength=model.arrays.n_persons)
    free = split | (held == 0)
    fixed = whole[~free[model.person[whole]]]
    return _fix_and_solve(search, fixed, pool[free[model.person[pool]]], None, limit, seed)


def _fix_and_solve(
    search: _Search,
    fixed: IntArray,
    core_pairs: IntArray,
    start: IntArray | None,
    limit: float,
    seed: int,
) -> IntArray | None:
    """The pairs ``fixed`` held, and a MIP over ``core_pairs`` (whose people hold nothing in
    ``fixed``) within the capacity, pot and group counts they leave; None if none is found."""
    model = search.model
    n_persons = model.arrays.n_persons
    if core_pairs.size == 0 or core_pairs.size > MIP_UP_TO:
        return None
    arrays = model.arrays
    used = np.bincount(model.offer[fixed], minlength=arrays.n_offers)
    placed = np.zeros(n_persons, dtype=bool)
    placed[model.person[fixed]] = True
    floors = {}
    for attribute, need in model.floors.items():
        counts = placed_counts(model, attribute, placed)
        floors[attribute] = np.maximum(need - counts, 0)
    rows = []
    for row in model.rows:
        counts = placed_counts(model, row.attribute, placed)
        offset = sum(c * int(counts[g]) for g, c in row.coef.items())
        rows.append(replace(row, rhs=row.rhs - offset))
    small = replace(
        restrict(model, core_pairs),
        arrays=replace(arrays, capacity=arrays.capacity - used),
        pot=None if model.pot is None else model.pot - int(model.price[fixed].sum()),
        floors=floors,
        rows=rows,
    )
    found = solve_mip(small, limit, start=start, seed=seed)
    logger.info("core MIP on %d pairs: %s", core_pairs.size, found.status)
    if not found.chosen.size and found.status not in ("optimal", "feasible"):
        return None
    return np.sort(np.concatenate([fixed, core_pairs[found.chosen]]))


def _mip_only(
    model: WelfareModel, core: WelfareModel, deadline: float, seed: int, empty_ok: bool
) -> WelfareOutcome:
    empty = np.zeros(0, dtype=np.int64)
    solution = welfare_network(core, model.utility)
    assert solution is not None
    upper = int(model.utility[solution.chosen].sum())
    if not check_allocation(model, solution.chosen):
        return WelfareOutcome("optimal", solution.chosen, upper)
    start = empty if empty_ok else None
    found = solve_mip(model, deadline - time.perf_counter(), start=start, seed=seed)
    if found.status == "infeasible":
        return WelfareOutcome("infeasible", empty, None)
    bound = upper if found.bound is None else min(upper, found.bound)
    if found.status == "no_solution":
        if empty_ok:
            return WelfareOutcome("feasible" if bound > 0 else "optimal", empty, max(bound, 0))
        return WelfareOutcome("no_solution", empty, bound)
    value = int(model.utility[found.chosen].sum())
    if found.status == "optimal" or bound <= value:
        return WelfareOutcome("optimal", found.chosen, value)
    return WelfareOutcome("feasible", found.chosen, bound)


@dataclass(frozen=True)
class SidePrices:
    """Multipliers of a model's side rows and what they price (see :func:`side_prices`):
    ``weights`` per model pair (``SCALE * utility - A^T multipliers``) over the ``core``
    network; ``SCALE * L(multipliers) = max core flow of weights + multipliers . rhs``."""

    core: WelfareModel
    rows: SideRows
    multipliers: IntArray
    weights: IntArray
    bound_scaled: int


def side_prices(model: WelfareModel, deadline: float, seed: int = 0) -> SidePrices | None:
    """Good multipliers for the side rows of ``model`` (not a network), by the searches of
    :func:`solve_with_side_constraints`: the exact one-row search for a single row, else a few
    subgradient flows and the linear relaxation on their pairs. None when a rule counts a
    person who may hold several places (the rows are then not linear)."""
    rows = side_rows(model)
    if rows is None:
        return None
    core = relaxed(model)
    search = _Search(
        model=model,
        core=core,
        rows=rows,
        entry_row=rows.row_of_entry(),
        types=type_rows(model, rows),
    )
    if rows.n_rows == 1:
        _price_one_row(search, deadline)
    else:
        _price_rows(search, deadline, max_flows=POOL_AFTER_FLOWS, find_first=False)
        if model.n_pairs <= POOL_UP_TO:
            _pool_prices(search, deadline)
        _price_rows(search, deadline, max_flows=search.flows + 8, find_first=False)
    if search.best_multipliers is None or search.best_weights is None:
        return None
    assert search.best_bound_scaled is not None
    return SidePrices(
        core=core,
        rows=rows,
        multipliers=search.best_multipliers,
        weights=search.best_weights,
        bound_scaled=search.best_bound_scaled,
    )
