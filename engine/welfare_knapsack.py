"""Welfare when people may hold several places within a budget: prices on the offers' places.

With several places each and a budget across them, each person's choice is a small knapsack;
only the offers' capacities tie people together. So (Fisher 1981 again, but relaxing the other
side from :mod:`engine.welfare_lagrange`) put a price ``lam[o] >= 0`` on each place:

    L(lam) = sum over persons of max over affordable sets S of sum_{e in S} (u_e - lam[o_e])
             + sum over offers of capacity[o] * lam[o]

bounds the welfare from above for every ``lam``; at its minimum it is at least as tight as
the linear relaxation (each person's set is whole, not fractional), though subgradient steps
only approach that minimum (at m they stayed 0.02% above HiGHS's root bound, so HiGHS's bound
is kept when it is lower). Each person's sets (at most
``max_placements`` of their pairs, within budget) are listed once; an evaluation is then a
gather and a maximum per person, a few hundredths of a second for 20,000 people.

1. Start from the offers' dual prices of the flow without budgets, then a few subgradient
   steps with Polyak's step size towards the best allocation found. Then column generation
   (Dantzig and Wolfe): the linear program over whole sets, restricted to the sets chosen so
   far ("choose at most one set per person, each offer at most its capacity"), has offer duals
   that are the best prices when the restricted program is as good as the whole one; each
   evaluation at its prices adds every person's best set, until the bound meets its optimum.
   At m it took 10 rounds of 0.3 s where 400 subgradient steps had stayed 0.02% above. A
   MIP over the sets in the pool (the program is nearly whole) then finds the allocation.
2. Every evaluation's choices, cut back to capacity (the holders who value a place most keep
   it) and topped up from what is left, give an allocation.
3. Reduced-cost fixing per pair: an allocation that uses pair ``e`` of person ``p`` is worth at
   most ``L(lam) - (best set of p) + (best set of p containing e)``; when that cannot beat the
   best allocation, ``e`` goes.
4. HiGHS solves the MIP on the pairs left, started from the best allocation; its bound holds
   for allocations within those pairs, and the others cannot beat the incumbent.

It applies when the only side constraints are the budgets (no pot, no floors, no gaps).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from engine.arrays import IntArray
from engine.welfare_flow import welfare_network
from engine.welfare_mip import MIP_UP_TO, GrowingProgram, highs_until, pass_columns, solve_mip
from engine.welfare_model import (
    WelfareModel,
    WelfareOutcome,
    check_allocation,
    improves,
    restrict,
)

logger = logging.getLogger(__name__)

#: Prices are integers in units of 1 / SCALE utility, so every value is exact.
SCALE = 1 << 20

#: The first Polyak step factor: small, since the flow's prices start close to the best.
THETA0 = 0.1

#: Price steps before the master program on the sets they chose prices the places.
MASTER_AFTER = 4

#: Column generation stops once the master's optimum stops rising and the bound is within
#: this share of it (then few pairs survive reduced-cost fixing).
STALL_GAP = 2e-5


def applies(model: WelfareModel) -> bool:
    """Whether the budgets are the only side constraints (and some of them bind)."""
    return (
        model.pot is None
        and not model.rows
        and not any(need.any() for need in model.floors.values())
        and bool(model.budget_binds.any())
    )


@dataclass(frozen=True)
class Sets:
    """Every affordable set of places of every person: ``pairs[s]`` holds the model pairs of set
    ``s`` (padded with ``n_pairs``, a pair worth nothing), ``person[s]`` its person, sorted."""

    pairs: np.ndarray  # (S, k) int32
    person: IntArray  # (S,)
    start: IntArray  # (P + 1,) first set of each person

    @property
    def size(self) -> int:
        return int(self.person.shape[0])


def affordable_sets(model: WelfareModel) -> Sets:
    """List each person's non-empty sets of at most ``max_placements`` usable pairs whose prices
    fit their budget. People with the same number of pairs and places share one pattern of
    positions, so the listing is vectorised per (pairs, places) class."""
    n_persons = model.arrays.n_persons
    n_pairs = model.n_pairs
    width = max(int(model.max_placements.max(initial=1)), 1)
    counts = np.bincount(model.person, minlength=n_persons)
    first = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    price = np.append(model.price, 0)
    budget = model.arrays.budget
    chunks: list[tuple[np.ndarray, IntArray]] = []
    classes = np.stack([counts, np.minimum(model.max_placements, counts)], axis=1)
    for n, k in np.unique(classes, axis=0).tolist():
        if n == 0 or k == 0:
            continue
        who = np.flatnonzero((counts == n) & (np.minimum(model.max_placements, counts) == k))
        pattern = [
            list(c) + [-1] * (width - len(c))
            for size in range(1, k + 1)
            for c in itertools.combinations(range(n), size)
        ]
        positions = np.asarray(pattern, dtype=np.int64)  # (C, width), -1 = none
        sets = first[who][:, None, None] + positions[None, :, :]  # (W, C, width)
        sets = np.where(positions[None, :, :] >= 0, sets, n_pairs)
        cost = price[sets].sum(axis=2)
        ok = cost <= budget[who][:, None]
        chunks.append((sets[ok].astype(np.int32), np.broadcast_to(who[:, None], ok.shape)[ok]))
    if not chunks:
        return Sets(
            np.zeros((0, width), dtype=np.int32),
            np.zeros(0, dtype=np.int64),
            np.zeros(n_persons + 1, dtype=np.int64),
        )
    pairs = np.concatenate([c[0] for c in chunks])
    person = np.concatenate([c[1] for c in chunks]).astype(np.int64)
    order = np.argsort(person, kind="stable")
    pairs, person = pairs[order], person[order]
    start = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(np.bincount(person, minlength=n_persons), out=start[1:])
    return Sets(pairs=pairs, person=person, start=start)


@dataclass
class _Prices:
    model: WelfareModel
    sets: Sets
    best_bound: int | None = None  # SCALE * L at the best prices
    best_lam: IntArray | None = None
    incumbent: IntArray | None = None
    incumbent_value: int = -1
    evaluations: int = 0
    #: sets that some evaluation chose: the columns of the set program (see _set_program)
    seen_sets: np.ndarray | None = None
    #: seconds spent pricing and seconds spent turning choices into allocations
    pricing_seconds: float = 0.0
    repair_seconds: float = 0.0
    #: the current Polyak step factor
    theta: float = THETA0

    def evaluate(self, lam: IntArray) -> tuple[int, IntArray, IntArray]:
        """``SCALE * L(lam)``, the subgradient ``capacity - use`` and the chosen pairs."""
        model, sets = self.model, self.sets
        began = time.perf_counter()
        self.evaluations += 1
        set_value, best = _set_values(model, sets, lam)
        total = int(best.sum()) + int((model.arrays.capacity * lam).sum())
        # The first best set of each person who gains from one.
        hit = np.flatnonzero((set_value == best[sets.person]) & (best[sets.person] > 0))
        if hit.size:
            hit = hit[np.r_[True, sets.person[hit][1:] != sets.person[hit][:-1]]]
        if self.seen_sets is None:
            self.seen_sets = np.zeros(sets.size, dtype=bool)
        self.seen_sets[hit] = True
        chosen = sets.pairs[hit].ravel().astype(np.int64)
        chosen = np.sort(chosen[chosen < model.n_pairs])
        use = np.bincount(model.offer[chosen], minlength=model.arrays.n_offers)
        improved = self.best_bound is None or total < self.best_bound
        if improved:
            self.best_bound, self.best_lam = total, lam.copy()
        repaired = time.perf_counter()
        self.pricing_seconds += repaired - began
        # Repairs cost a few flows each: spend on them at most as long as on pricing.
        if improved or self.repair_seconds <= self.pricing_seconds:
            self.offer(_within_capacity(model, chosen))
            self.repair_seconds += time.perf_counter() - repaired
        return total, model.arrays.capacity - use, chosen

    def offer(self, chosen: IntArray | None) -> None:
        if chosen is None:
            return
        if improves(self.model, chosen, self.incumbent_value):
            self.incumbent, self.incumbent_value = chosen, int(self.model.utility[chosen].sum())

    @property
    def bound(self) -> int:
        assert self.best_bound is not None
        return self.best_bound // SCALE


def _set_values(model: WelfareModel, sets: Sets, lam: IntArray) -> tuple[IntArray, IntArray]:
    """Each set's worth under the prices ``lam`` (SCALE units), and each person's best (the
    empty set, worth 0, included)."""
    value = np.append(SCALE * model.utility - lam[model.offer], 0)
    set_value = value[sets.pairs].sum(axis=1)
    has = np.diff(sets.start) > 0
    best = np.zeros(model.arrays.n_persons, dtype=np.int64)
    if sets.size:
        best[has] = np.maximum.reduceat(set_value, sets.start[:-1][has])
    return set_value, np.maximum(best, 0)


def _within_capacity(model: WelfareModel, chosen: IntArray) -> IntArray:
    """Cut an allocation that keeps every budget back to the offers' capacities (the holders
    who value a place most keep it), then give what is left to whoever values it most."""
    from engine.welfare_lagrange import _fill

    offer = model.offer[chosen]
    order = np.lexsort((-model.utility[chosen], offer))
    sorted_offer = offer[order]
    rank = np.arange(order.size) - np.searchsorted(sorted_offer, sorted_offer)
    kept = np.sort(chosen[order[rank < model.arrays.capacity[sorted_offer]]])
    for _ in range(int(model.max_placements.max(initial=1))):
        filled = _fill(model, kept)
        if filled is None or check_allocation(model, filled):
            break
        kept = filled
    return kept


def _start_prices(model: WelfareModel) -> IntArray:
    """The offers' dual prices of the best allocation without budgets (a flow)."""
    from engine.welfare_lagrange import offer_potentials, relaxed

    core = relaxed(model)
    weight = SCALE * model.utility
    solution = welfare_network(core, weight)
    if solution is None:
        return np.zeros(model.arrays.n_offers, dtype=np.int64)
    v = offer_potentials(core, weight, solution.chosen)
    return np.zeros(model.arrays.n_offers, dtype=np.int64) if v is None else v


def _subgradient(prices: _Prices, deadline: float, max_steps: int = 400) -> None:
    """Polyak steps on ``L`` from the best prices so far (at first the flow's); the step factor
    halves after a few steps without progress. At least one step, for a bound."""
    model = prices.model
    lam = _start_prices(model) if prices.best_lam is None else prices.best_lam
    theta, stall, best = prices.theta, 0, None
    slowest = 0.0  # an evaluation cannot be stopped once started
    while prices.best_bound is None or (
        prices.evaluations < max_steps and time.perf_counter() + slowest < deadline
    ):
        began = time.perf_counter()
        value, g, _ = prices.evaluate(lam)
        slowest = max(slowest, time.perf_counter() - began)
        if prices.incumbent_value >= prices.bound:
            return
        g = g.astype(np.float64)
        g[(g > 0) & (lam <= 0)] = 0.0
        norm = float((g * g).sum())
        if norm == 0:
            return  # the choices fit the capacities exactly: L is reached
        target = SCALE * max(prices.incumbent_value, 0)
        step = theta * max(value - target, SCALE) / norm
        lam = np.maximum(0, lam - np.round(step * g).astype(np.int64))
        if best is not None and prices.best_bound is not None and prices.best_bound >= best:
            stall += 1
            if stall >= 5:
                theta, stall = theta / 2, 0
                prices.theta = theta
                if theta < 1e-4:
                    return
        best = prices.best_bound


def _set_program(
    prices: _Prices, pool: IntArray, stop_at: float
) -> tuple[float, np.ndarray] | None:
    """The welfare problem over whole sets as a MIP: choose at most one of each person's
    ``pool`` sets, each offer at most its capacity. Returns the best value found and the sets
    chosen (positions in ``pool``); None when HiGHS finds nothing by ``stop_at``. (Its linear
    program, Dantzig-Wolfe's master problem, is :class:`_SetMaster`.)"""
    model, sets = prices.model, prices.sets
    n_offers = model.arrays.n_offers
    members = sets.pairs[pool]  # (n, k), padded with n_pairs
    col, slot = np.nonzero(members < model.n_pairs)
    offer_row = model.offer[members[col, slot]]
    owner = sets.person[pool]
    several = np.bincount(owner, minlength=model.arrays.n_persons) > 1
    person_row = np.cumsum(several) - 1
    with_row = np.flatnonzero(several[owner])
    rows = np.concatenate([offer_row, n_offers + person_row[owner[with_row]]])
    cols = np.concatenate([col, with_row])
    n_rows = n_offers + int(several.sum())
    worth = np.append(model.utility, 0)[members].sum(axis=1).astype(np.float64)
    highs = highs_until(stop_at)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.99)  # utilities are integers
    highs.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    highs.setOptionValue("presolve", "off")
    pass_columns(
        highs,
        worth,
        (rows, cols, np.ones(rows.size)),
        np.full(n_rows, -np.inf),
        np.concatenate([model.arrays.capacity, np.ones(n_rows - n_offers)]).astype(np.float64),
        integral=True,
    )
    highs.run()
    if highs.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    values = np.asarray(highs.getSolution().col_value)
    return float(highs.getInfo().objective_function_value), np.flatnonzero(values > 0.5)


class _SetMaster:
    """The master program over a pool of sets that only grows (a :class:`GrowingProgram`:
    sets come in as columns, offers and people as rows once crowded), so each round's simplex
    starts from the last optimal basis."""

    def __init__(self, prices: _Prices) -> None:
        self.prices = prices
        model = prices.model
        self.columns = np.zeros(0, dtype=np.int64)
        self.program = GrowingProgram(
            np.zeros(0),
            (model.arrays.capacity, np.ones(model.arrays.n_persons, dtype=np.int64)),
        )

    def solve(self, pool: IntArray, stop_at: float) -> tuple[float, np.ndarray] | None:
        """The master's optimum on ``pool`` (it holds every earlier pool) and the offers'
        dual prices."""
        model, sets = self.prices.model, self.prices.sets
        new = np.setdiff1d(pool, self.columns, assume_unique=True)
        members = sets.pairs[new]  # (n, k), padded with n_pairs
        col, slot = np.nonzero(members < model.n_pairs)
        none = np.zeros(0, dtype=np.int64)
        self.program.add(
            np.append(model.utility, 0)[members].sum(axis=1).astype(np.float64),
            (none, none, np.zeros(0)),
            ((model.offer[members[col, slot]], col), (sets.person[new], np.arange(new.size))),
            stop_at,
        )
        self.columns = np.concatenate([self.columns, new])
        assert self.columns.size == pool.size, "a pool must hold every earlier pool"
        optimum = self.program.solve()
        if optimum is None:
            return None
        return optimum.value, optimum.resource_duals[0]


def _master_prices(prices: _Prices, deadline: float, max_rounds: int = 12) -> IntArray | None:
    """Column generation on whole sets: solve the master program on the sets chosen so far and
    evaluate its offer prices (which bounds the welfare in exact integers, and adds each
    person's best set at those prices), until the bound meets the master's optimum or no set
    joins. Returns the sets then in the pool (None if no master was solved)."""
    pool = None
    slowest = 0.0
    last_value = -math.inf
    master_program = _SetMaster(prices)
    for _ in range(max_rounds):
        seen = prices.seen_sets
        if seen is None or prices.incumbent_value >= prices.bound:
            break
        if time.perf_counter() + 2 * slowest > deadline:
            break
        began = time.perf_counter()
        pool = np.flatnonzero(seen)
        master = master_program.solve(pool, deadline)
        if master is None:
            break
        value, duals = master
        # Each person's best set at these prices joins (column generation).
        prices.evaluate(np.round(SCALE * duals).astype(np.int64))
        slowest = max(slowest, time.perf_counter() - began)
        logger.info(
            "master on %d sets: %.2f; its prices bound %d (%.2f s)",
            pool.size,
            value,
            prices.bound,
            time.perf_counter() - began,
        )
        if (
            prices.bound <= math.floor(value + 1e-6)
            or seen.sum() == pool.size
            or (value < last_value + 0.5 and prices.bound <= value * (1 + STALL_GAP))
        ):
            # The bound is the master's optimum over all sets; or no set joined; or the
            # optimum stopped rising with the bound close (the prices then wander among equally
            # good duals, and reduced-cost fixing from the best prices settles the rest faster).
            break
        last_value = value
    return None if pool is None or prices.seen_sets is None else np.flatnonzero(prices.seen_sets)


def _pairs_of_sets(prices: _Prices, chosen_sets: IntArray) -> IntArray:
    members = prices.sets.pairs[chosen_sets].ravel().astype(np.int64)
    return np.sort(members[members < prices.model.n_pairs])


def kept_pairs(prices: _Prices) -> IntArray:
    """Pairs that may appear in an allocation better than the incumbent (step 3)."""
    model, sets = prices.model, prices.sets
    assert prices.best_lam is not None and prices.best_bound is not None
    set_value, best = _set_values(model, sets, prices.best_lam)
    with_pair = np.full(model.n_pairs + 1, np.iinfo(np.int64).min // 2, dtype=np.int64)
    for j in range(sets.pairs.shape[1]):
        np.maximum.at(with_pair, sets.pairs[:, j], set_value)
    with_pair = with_pair[:-1]
    loss = best[model.person] - with_pair
    room = prices.best_bound - SCALE * (prices.incumbent_value + 1)
    keep = loss <= room
    if prices.incumbent is not None:
        keep[prices.incumbent] = True
    return np.flatnonzero(keep)


def solve_budgets(model: WelfareModel, deadline: float, seed: int = 0) -> WelfareOutcome:
    """Best allocation of ``model`` (see :func:`applies`) within ``deadline``."""
    empty = np.zeros(0, dtype=np.int64)
    sets = affordable_sets(model)
    prices = _Prices(model=model, sets=sets)
    prices.offer(empty)
    budget = time.perf_counter() + 0.4 * max(deadline - time.perf_counter(), 0.0)
    # A few price steps gather sets; the master program on them then prices the places.
    _subgradient(prices, budget, max_steps=MASTER_AFTER)
    pool = _master_prices(prices, budget)
    if pool is None:
        _subgradient(prices, budget)
    elif prices.incumbent_value < prices.bound and pool.size <= MIP_UP_TO:
        # The master's optimum is (nearly) whole: the best allocation is usually among the
        # pool's sets, and rounding finds it.
        limit = 0.5 * max(deadline - time.perf_counter(), 0.0)
        rounded = _set_program(prices, pool, time.perf_counter() + limit)
        if rounded is not None:
            prices.offer(_pairs_of_sets(prices, pool[rounded[1]]))
        logger.info("set MIP on %d sets: best %d", pool.size, prices.incumbent_value)
    bound = prices.bound
    logger.info(
        "place prices: %d evaluations over %d sets, bound %d, best allocation %d",
        prices.evaluations,
        sets.size,
        bound,
        prices.incumbent_value,
    )
    assert prices.incumbent is not None  # the empty allocation keeps every budget
    if prices.incumbent_value >= bound:
        return WelfareOutcome("optimal", prices.incumbent, prices.incumbent_value)
    keep = kept_pairs(prices)
    logger.info("reduced-cost fixing keeps %d of %d pairs", keep.size, model.n_pairs)
    if keep.size > MIP_UP_TO:
        # HiGHS would not get past the first linear relaxation of a MIP this big in any
        # useful time; more prices and repairs do better.
        _subgradient(prices, deadline, max_steps=prices.evaluations + 400)
        return _outcome(prices, prices.bound)
    small = restrict(model, keep)
    start = np.searchsorted(keep, prices.incumbent)
    found = solve_mip(small, deadline - time.perf_counter(), start=start, seed=seed)
    if found.chosen.size:
        prices.offer(keep[found.chosen])
    if found.status == "optimal":
        # Best among the kept pairs; an allocation using another pair is worth less than
        # the incumbent was, so this is the best of all.
        return WelfareOutcome("optimal", prices.incumbent, prices.incumbent_value)
    if found.bound is not None:
        bound = min(bound, max(found.bound, prices.incumbent_value))
    return _outcome(prices, bound)


def _outcome(prices: _Prices, bound: int) -> WelfareOutcome:
    assert prices.incumbent is not None
    value = prices.incumbent_value
    if value >= bound:
        return WelfareOutcome("optimal", prices.incumbent, value)
    return WelfareOutcome("feasible", prices.incumbent, bound)
