"""Exact welfare under a coverage gap on one attribute, by branch and bound over windows.

An allocation keeps a gap ``G`` (``max_gap + 1e-9``, as an exact fraction) on attribute ``A``
exactly when every group's coverage lies in a window ``[c, c + G]`` with ``c`` its smallest
coverage, and ``c`` is one of the fractions ``k / members[g]``. For a fixed window the problem
is a min-cost flow (placed counts between two bounds per group: :func:`welfare_network` with a
window). For a range of windows ``[C_i, C_j]`` the flow with counts between
``ceil(C_i * n)`` and ``floor((C_j + G) * n)`` bounds every allocation whose smallest coverage
lies in the range. So a best-first branch and bound over ranges of the sorted candidates,
halving the range with the best bound each time, finds the optimum and proves it; its bound at
any time is the best bound among the open ranges.

It applies when the model has no pot, no binding budget, gaps on one attribute only, floors on
that attribute only, and everyone counted holds one place at most.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
import time
from fractions import Fraction

import numpy as np

from engine.arrays import IntArray
from engine.instance import SHARE_TOLERANCE
from engine.welfare_flow import welfare_network
from engine.welfare_model import (
    WelfareModel,
    WelfareOutcome,
    check_allocation,
    coverage_candidates,
    placed_counts,
)

logger = logging.getLogger(__name__)


def applies(model: WelfareModel) -> bool:
    """Whether :func:`solve_gap` can solve ``model`` exactly."""
    if model.pot is not None or model.budget_binds.any() or not model.rows:
        return False
    attributes = {row.attribute for row in model.rows}
    if len(attributes) != 1:
        return False
    (attribute,) = attributes
    if any(a != attribute and need.any() for a, need in model.floors.items()):
        return False
    member = model.groups(attribute).member_group
    return not ((member >= 0) & (model.max_placements > 1)).any()


def gap_width(model: WelfareModel, attribute: str) -> Fraction:
    """``G``: the widest spread of coverages the attribute's gap allows, as an exact fraction."""
    return Fraction(model.gaps[attribute]) + Fraction(SHARE_TOLERANCE)


def window_counts(
    sizes: IntArray, need: IntArray, lowest: Fraction, highest: Fraction
) -> tuple[IntArray, IntArray]:
    """Placed counts per group that keep every coverage in ``[lowest, highest]`` (and at least
    the floors ``need``): the bounds on the group arcs of a window flow."""
    low = np.array([math.ceil(lowest * int(n)) for n in sizes.tolist()], dtype=np.int64)
    high = np.array([min(int(n), math.floor(highest * int(n))) for n in sizes.tolist()])
    return np.maximum(low, need).astype(np.int64), high.astype(np.int64)


def solve_gap(model: WelfareModel, deadline: float) -> WelfareOutcome:
    """Best allocation of ``model`` (see :func:`applies`) by branch and bound over windows."""
    (attribute,) = {row.attribute for row in model.rows}
    sizes = model.groups(attribute).sizes
    need = model.floors.get(attribute, np.zeros(len(sizes), dtype=np.int64))
    width = gap_width(model, attribute)
    candidates = coverage_candidates(sizes)

    def counts(i: int, j: int) -> tuple[IntArray, IntArray]:
        return window_counts(sizes, need, candidates[i], candidates[j] + width)

    empty = np.zeros(0, dtype=np.int64)
    best: IntArray | None = None
    best_value = -1
    if not need.any():
        best, best_value = empty, 0
    flows = 0
    slowest = 0.0  # a flow cannot be stopped once started
    # Max-heap of (-bound, i, j, allocation) over ranges of candidate indices.
    heap: list[tuple[int, int, int, IntArray]] = []

    def push(i: int, j: int) -> None:
        nonlocal best, best_value, flows, slowest
        low, high = counts(i, j)
        if (low > high).any():
            return
        began = time.perf_counter()
        solution = welfare_network(model, model.utility, window=(attribute, low, high))
        slowest = max(slowest, time.perf_counter() - began)
        flows += 1
        if solution is None:
            return
        value = int(model.utility[solution.chosen].sum())
        if value > best_value and not check_allocation(model, solution.chosen):
            best, best_value = solution.chosen, value
        if value > best_value and i < j:
            heapq.heappush(heap, (-value, i, j, solution.chosen))

    push(0, len(candidates) - 1)
    if heap:
        # The widest range is the flow without the gap, which breaks it. The window centred on
        # that flow's overall coverage often costs little or nothing (at m it cost nothing,
        # where the groups' coverages spread ten times wider than the gap): an allocation it
        # finds lets the search prune from the start, or ends it at once.
        placed = np.zeros(model.arrays.n_persons, dtype=bool)
        placed[model.person[heap[0][3]]] = True
        overall = Fraction(int(placed_counts(model, attribute, placed).sum()), int(sizes.sum()))
        k = max(bisect.bisect_right(candidates, max(overall - width / 2, Fraction(0))) - 1, 0)
        if time.perf_counter() + slowest < deadline:
            push(k, k)
    # Each step solves two flows; start one only if both can finish in time.
    while heap and time.perf_counter() + 2 * slowest < deadline:
        bound, i, j, _ = heap[0]
        if -bound <= best_value:
            heap.clear()
            break
        heapq.heappop(heap)
        mid = (i + j) // 2
        push(i, mid)
        push(mid + 1, j)
    open_bound = -heap[0][0] if heap else best_value
    logger.info("gap windows: %d flows, best %d, bound %d", flows, best_value, open_bound)
    if best is None:
        if heap:
            return WelfareOutcome("no_solution", empty, open_bound)
        return WelfareOutcome("infeasible", empty, None)
    bound = max(open_bound, best_value)
    if bound <= best_value:
        return WelfareOutcome("optimal", best, best_value)
    return WelfareOutcome("feasible", best, bound)
