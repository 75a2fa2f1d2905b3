"""The welfare mechanism: a feasible allocation of greatest total utility, with a proven bound.

Steps (see ``shared/spec/allocation-format.md``):

1. Build the integer problem (:mod:`engine.welfare_model`): usable pairs, floors as placed
   counts, gaps as integer rows, budgets and the pot where they can bind.
2. ``maximize_min_coverage``, when present, is solved first and exactly: the best smallest
   coverage is one of the fractions ``k / members[g]``; a binary search over these candidates,
   each tested for feasibility (a maximum flow when the other rules allow, else a MIP), finds
   the largest that can hold. It then becomes a floor on every group of its attribute.
3. Welfare: a min-cost flow when the problem is a network (:mod:`engine.welfare_flow`); a
   branch and bound over coverage windows, each a flow, for a gap on one attribute
   (:mod:`engine.welfare_gap`); budgets across several places alone, by prices on the
   offers' places over each person's affordable sets (:mod:`engine.welfare_knapsack`);
   otherwise the decomposition of :mod:`engine.welfare_lagrange` (Lagrangian prices on the side
   constraints over the flow core, priced by the linear relaxation on the flows' pairs
   (:mod:`engine.welfare_pool`), whose rounding, or for big models one flow that places its
   counts of each type of person (:mod:`engine.welfare_counts`), gives the allocation; flows
   held in a coverage window, repair, a core MIP over the undecided people, reduced-cost
   fixing) and a MIP on what remains (:mod:`engine.welfare_mip`), when it is small enough for
   HiGHS to help.
4. No feasible allocation: the result is ``infeasible`` with the diagnosis of
   :mod:`engine.diagnosis`.

All times are wall-clock seconds; money is integer pence; utilities are integers.
"""

from __future__ import annotations

import logging
import math
import time
from fractions import Fraction

import numpy as np

from engine.arrays import InstanceArrays, IntArray
from engine.instance import Instance, Result
from engine.result import build_result
from engine.welfare_flow import floors_can_hold, welfare_network
from engine.welfare_mip import solve_mip
from engine.welfare_model import (
    WelfareModel,
    WelfareOutcome,
    build_model,
    check_allocation,
    coverage_candidates,
)

logger = logging.getLogger(__name__)


def solve_welfare(instance: Instance, arrays: InstanceArrays, time_limit_s: float) -> Result:
    """Solve the welfare mechanism within ``time_limit_s`` seconds of wall-clock time."""
    started = time.perf_counter()
    # A little room to stop in: HiGHS and the last checks take a moment after the search ends.
    deadline = started + float(time_limit_s) - min(0.02 * float(time_limit_s), 0.5)
    model, outcome = optimise(instance, arrays, deadline)
    if outcome.status == "infeasible":
        from engine.diagnosis import diagnose

        diagnosis = diagnose(instance, arrays, max(deadline - time.perf_counter(), 1.0))
        return build_result(
            arrays,
            (),
            status="infeasible",
            mechanism="welfare",
            bound=None,
            solve_seconds=time.perf_counter() - started,
            diagnosis=diagnosis,
        )
    return build_result(
        arrays,
        model.pair[outcome.chosen].tolist(),
        status=outcome.status,
        mechanism="welfare",
        bound=outcome.bound,
        solve_seconds=time.perf_counter() - started,
    )


def optimise(
    instance: Instance, arrays: InstanceArrays, deadline: float
) -> tuple[WelfareModel, WelfareOutcome]:
    """Both stages of the welfare search; returns the final model and what was found."""
    model = build_model(instance, arrays)
    seed = instance.policy.seed
    maximin = [r for r in instance.policy.rules if r.type == "maximize_min_coverage"]
    proven_stage_one = True
    if maximin and arrays.groups[maximin[0].attribute].labels:
        attribute = maximin[0].attribute
        stage_one = best_min_coverage(model, attribute, deadline, seed)
        if stage_one is None:
            return model, WelfareOutcome("infeasible", np.zeros(0, dtype=np.int64), None)
        need, proven_stage_one = stage_one
        model = build_model(instance, arrays, extra_floors={attribute: need})
    outcome = maximise_welfare(model, deadline, seed)
    if not proven_stage_one and outcome.status == "optimal":
        # The welfare is proven best for the coverage reached, not the coverage proven best.
        outcome = WelfareOutcome("feasible", outcome.chosen, outcome.bound)
    return model, outcome


def maximise_welfare(model: WelfareModel, deadline: float, seed: int = 0) -> WelfareOutcome:
    """A feasible allocation of greatest utility for ``model``, or the best found by the
    deadline, with a proven bound."""
    if model.is_network():
        solution = welfare_network(model, model.utility)
        if solution is None:
            return WelfareOutcome("infeasible", np.zeros(0, dtype=np.int64), None)
        value = int(model.utility[solution.chosen].sum())
        return WelfareOutcome("optimal", solution.chosen, value)
    from engine.welfare_gap import applies, solve_gap
    from engine.welfare_lagrange import solve_with_side_constraints

    if applies(model):
        outcome = solve_gap(model, deadline)
    else:
        outcome = solve_with_side_constraints(model, deadline, seed)
    if outcome.chosen.size or outcome.status == "optimal":
        problems = check_allocation(model, outcome.chosen)
        if problems:
            raise RuntimeError("welfare solver returned an infeasible allocation: " + problems[0])
    return outcome


def floors_for(sizes: IntArray, share: Fraction) -> IntArray:
    """Placed counts per group that give each group a coverage >= ``share``, exactly."""
    return np.array([math.ceil(share * int(n)) for n in sizes.tolist()], dtype=np.int64)


def best_min_coverage(
    model: WelfareModel, attribute: str, deadline: float, seed: int = 0
) -> tuple[IntArray, bool] | None:
    """Stage one of ``maximize_min_coverage``: the floors (placed counts per group) of the
    largest smallest coverage that can hold with all other constraints, and whether it is
    proven best (False when the deadline cut the search short). ``None``: nothing is feasible.
    """
    groups = model.groups(attribute)
    sizes = groups.sizes
    current = model.floors.get(attribute, np.zeros(len(sizes), dtype=np.int64))
    only_here = not model.rows and all(
        a == attribute or not need.any() for a, need in model.floors.items()
    )

    def holds(share: Fraction) -> bool | None:
        need = np.maximum(floors_for(sizes, share), current)
        if only_here:
            return floors_can_hold(model, attribute, need)
        trial = WelfareModel(**{**model.__dict__, "floors": {**model.floors, attribute: need}})
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        found = solve_mip(trial, remaining, objective=False, seed=seed)
        if found.status in ("optimal", "feasible"):
            return True
        if found.status == "infeasible":
            return False
        return None

    first = holds(Fraction(0))
    if first is None:
        return current, False
    if not first:
        return None
    candidates = coverage_candidates(sizes)
    lo, hi = 0, len(candidates) - 1  # candidates[lo] holds; the answer is <= candidates[hi]
    proven = True
    while lo < hi:
        mid = (lo + hi + 1) // 2
        answer = holds(candidates[mid])
        if answer is None:
            proven = False
            break
        if answer:
            lo = mid
        else:
            hi = mid - 1
    return np.maximum(floors_for(sizes, candidates[lo]), current), proven
