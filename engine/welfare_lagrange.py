"""Welfare with side constraints: a network relaxation for bounds and starts, then a MIP.

The side constraints (pot, budgets across several placements, gaps, floors on several
attributes) are few compared with the pairs. Dropping them leaves a min-cost flow whose optimum
is a valid upper bound; the MIP (:mod:`engine.welfare_mip`) then works on the whole problem,
started from the best allocation known.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from engine.arrays import IntArray
from engine.welfare_flow import welfare_network
from engine.welfare_mip import solve_mip
from engine.welfare_model import WelfareModel, WelfareOutcome, check_allocation


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


def relaxation_bound(model: WelfareModel) -> tuple[int, IntArray]:
    """The optimum of the network relaxation and its allocation."""
    solution = welfare_network(relaxed(model), model.utility)
    assert solution is not None  # without floors the network is always feasible
    return int(model.utility[solution.chosen].sum()), solution.chosen


def solve_with_side_constraints(
    model: WelfareModel, deadline: float, seed: int = 0
) -> WelfareOutcome:
    """Best allocation for a model that is not a network, within ``deadline``."""
    upper, relaxed_chosen = relaxation_bound(model)
    empty = np.zeros(0, dtype=np.int64)
    if not check_allocation(model, relaxed_chosen):
        return WelfareOutcome("optimal", relaxed_chosen, upper)
    empty_ok = not any(need.any() for need in model.floors.values())
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
