"""The stable mechanism: person-proposing deferred acceptance (Gale and Shapley, 1962).

Each person proposes to their offers in rank order, skipping any whose price exceeds their
budget; an offer holds at most ``capacity`` proposers, preferring higher ``need``, then lower
``lottery``, then the smaller ``id`` (code-point order). The outcome is the person-optimal
stable allocation for these priorities (Gale and Shapley 1962; Roth 1984 for the many-to-one
"hospitals/residents" case). ``round.pot`` and the equity rules are not enforced: the result
lists each one the allocation breaks under ``violations``.

The proposals run in rounds on NumPy arrays (the "simultaneous" form of deferred acceptance,
which reaches the same person-optimal outcome as proposing one at a time): in each round every
person without a place proposes to their next affordable offer, and every offer that received
proposals keeps the best of its current holders and new proposers, up to its capacity, and
rejects the rest. Every offer ranks persons by one shared priority order, so a person's
priority is a single integer and each round is one sort. When only a few persons are still
proposing (a tail of rejection chains), the rest runs one proposal at a time with a heap per
offer.
"""

from __future__ import annotations

import heapq
import logging
import time

import numpy as np

from engine.arrays import InstanceArrays
from engine.instance import (
    SHARE_TOLERANCE,
    Instance,
    InvalidInstance,
    Metrics,
    Problem,
    Result,
    Violation,
)
from engine.result import build_result

__all__ = ["deferred_acceptance", "find_violations", "priority_order", "solve_stable"]

logger = logging.getLogger(__name__)


def priority_order(arrays: InstanceArrays) -> np.ndarray:
    """Persons from the highest priority to the lowest: higher need, lower lottery, smaller id.

    Returns the person indices in that order (an int64 array).
    """
    ids = arrays.person_ids
    # Rank of each id in code-point order (Python's str order), without building a NumPy
    # string array whose width is that of the longest id.
    by_id = sorted(range(len(ids)), key=ids.__getitem__)
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.asarray(by_id, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
    # np.lexsort sorts by the last key first.
    return np.lexsort((id_rank, arrays.lottery, -arrays.need)).astype(np.int64)


def deferred_acceptance(arrays: InstanceArrays, *, one_by_one_below: float = 0.01) -> np.ndarray:
    """Person-proposing deferred acceptance; returns, per person, the pair holding them or -1.

    Steps: (1) number persons by priority; (2) keep, per person, only the pairs they can afford,
    in rank order; (3) propose in rounds: every person without a place proposes through their
    next pair, and each offer that received proposals keeps the best of its holders and
    proposers, up to its capacity; (4) once fewer than ``one_by_one_below`` of the persons are
    still proposing, finish one proposal at a time with a heap per offer. A round costs time in
    proportion to all persons, so a long tail of rejection chains (each rejection setting off the
    next) is cheaper proposal by proposal. The order of proposals does not change the outcome:
    deferred acceptance always ends in the person-optimal stable allocation.
    """
    n_persons = arrays.n_persons
    # 1. Priority as one integer per person: 0 is the highest.
    order = priority_order(arrays)
    priority = np.empty(n_persons, dtype=np.int64)
    priority[order] = np.arange(n_persons, dtype=np.int64)

    # 2. The affordable pairs of each person, still in rank order (CSR rows).
    usable = np.flatnonzero(arrays.pair_affordable)
    usable_person = arrays.pair_person[usable]
    row_start = np.searchsorted(usable_person, np.arange(n_persons + 1, dtype=np.int64))
    # next_choice[p]: position in ``usable`` of the next pair p will propose through.
    next_choice = row_start[:-1].copy()
    row_end = row_start[1:]

    # 3. Rounds of proposals. held_pair[p] is the pair (index into the pair arrays) holding p,
    #    or -1; offer_of_holder[p] is the offer holding p, or -1.
    held_pair = np.full(n_persons, -1, dtype=np.int64)
    offer_of_holder = np.full(n_persons, -1, dtype=np.int64)
    capacity = arrays.capacity
    n_offers = arrays.n_offers
    free = np.flatnonzero(next_choice < row_end)
    rounds = 0
    while free.size and free.size >= one_by_one_below * n_persons:
        rounds += 1
        # Every free person with an offer left proposes through their next pair.
        proposal = usable[next_choice[free]]
        next_choice[free] += 1
        proposed_offer = arrays.pair_offer[proposal]

        # The offers that received proposals reconsider their holders too.
        touched = np.zeros(n_offers, dtype=bool)
        touched[proposed_offer] = True
        holders = np.flatnonzero((offer_of_holder >= 0) & touched[np.maximum(offer_of_holder, 0)])

        candidate = np.concatenate((holders, free))
        candidate_offer = np.concatenate((offer_of_holder[holders], proposed_offer))
        candidate_pair = np.concatenate((held_pair[holders], proposal))
        # Sort by offer, then priority; within each offer keep the first ``capacity``.
        key = candidate_offer * n_persons + priority[candidate]
        sort = np.argsort(key, kind="stable")
        sorted_offer = candidate_offer[sort]
        group_start = np.searchsorted(sorted_offer, sorted_offer, side="left")
        place = np.arange(sort.size, dtype=np.int64) - group_start
        keep = place < capacity[sorted_offer]

        kept = candidate[sort[keep]]
        held_pair[kept] = candidate_pair[sort[keep]]
        offer_of_holder[kept] = sorted_offer[keep]
        rejected = candidate[sort[~keep]]
        held_pair[rejected] = -1
        offer_of_holder[rejected] = -1
        # The rejected propose again next round, while they have offers left.
        free = rejected[next_choice[rejected] < row_end[rejected]]
    logger.debug("deferred acceptance: %d rounds, %d persons left", rounds, free.size)

    # 4. The tail, one proposal at a time.
    if free.size:
        _propose_one_by_one(
            arrays, priority, usable, next_choice, row_end, held_pair, offer_of_holder, free
        )
    return held_pair


def _propose_one_by_one(
    arrays: InstanceArrays,
    priority: np.ndarray,
    usable: np.ndarray,
    next_choice: np.ndarray,
    row_end: np.ndarray,
    held_pair: np.ndarray,
    offer_of_holder: np.ndarray,
    free: np.ndarray,
) -> None:
    """Finish deferred acceptance proposal by proposal; updates ``held_pair`` in place.

    Each offer keeps its holders in a heap whose top is the holder of lowest priority, so a
    proposal is accepted, accepted in place of that holder, or rejected in O(log capacity).
    """
    rank_of = priority.tolist()
    capacity = arrays.capacity.tolist()
    usable_list = usable.tolist()
    usable_offer = arrays.pair_offer[usable].tolist()
    choice = next_choice.tolist()
    end = row_end.tolist()
    held = held_pair.tolist()

    # heaps[o]: (-priority, person) of the holders of o; the top is the lowest priority.
    heaps: dict[int, list[tuple[int, int]]] = {}
    holders = np.flatnonzero(offer_of_holder >= 0)
    for person, offer in zip(holders.tolist(), offer_of_holder[holders].tolist(), strict=True):
        heaps.setdefault(offer, []).append((-rank_of[person], person))
    for heap in heaps.values():
        heapq.heapify(heap)

    waiting = free.tolist()
    while waiting:
        person = waiting.pop()
        k = choice[person]
        while k < end[person]:
            offer = usable_offer[k]
            pair = usable_list[k]
            k += 1
            if capacity[offer] == 0:
                continue
            heap = heaps.setdefault(offer, [])
            if len(heap) < capacity[offer]:
                heapq.heappush(heap, (-rank_of[person], person))
                held[person] = pair
                break
            if -heap[0][0] > rank_of[person]:
                # The offer prefers this person to its holder of lowest priority.
                _, displaced = heapq.heapreplace(heap, (-rank_of[person], person))
                held[person] = pair
                held[displaced] = -1
                waiting.append(displaced)
                break
        choice[person] = k
    held_pair[:] = held


def solve_stable(instance: Instance, arrays: InstanceArrays) -> Result:
    """Run person-proposing deferred acceptance and build the result with its violations.

    See :func:`deferred_acceptance` for the steps; then the pot and each rule the allocation
    breaks are reported (:func:`find_violations`).
    """
    started = time.perf_counter()
    problems = [
        Problem(f"persons[{int(p)}].max_placements", "must be 1 for the stable mechanism")
        for p in np.flatnonzero(arrays.max_placements != 1)
    ]
    if problems:
        raise InvalidInstance(problems)

    held_pair = deferred_acceptance(arrays)
    chosen = held_pair[held_pair >= 0]
    logger.debug("deferred acceptance placed %d of %d persons", chosen.size, arrays.n_persons)
    result = build_result(
        arrays,
        chosen.tolist(),
        status="stable",
        mechanism="stable",
        bound=None,
        solve_seconds=0.0,
    )
    violations = find_violations(instance, result.metrics)
    return Result(
        status=result.status,
        mechanism=result.mechanism,
        objective=result.objective,
        bound=None,
        assignments=result.assignments,
        unassigned=result.unassigned,
        metrics=result.metrics,
        violations=violations,
        diagnosis=(),
        solve_seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------
# Violations


def _money(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def _share(value: float) -> str:
    """A share for a message: at most four decimals, as a plain number (0.5, 1.0, 0.3333)."""
    return repr(round(value, 4))


def find_violations(instance: Instance, metrics: Metrics) -> tuple[Violation, ...]:
    """The pot and every rule that an allocation with these ``metrics`` breaks.

    ``"pot"`` first, then rules in index order; ``maximize_min_coverage`` is a goal and never a
    violation. Floors allow coverage down to ``min_share - 1e-9``, gaps up to
    ``max_gap + 1e-9``. A rule whose attribute has no group (or a gap over one group) holds.
    """
    violations: list[Violation] = []
    if instance.pot is not None and metrics.spend > instance.pot:
        violations.append(
            Violation(
                rule="pot",
                message=(
                    f"total spend {_money(metrics.spend)} exceeds the pot of {_money(instance.pot)}"
                ),
            )
        )
    for index, rule in enumerate(instance.policy.rules):
        coverage = metrics.coverage.get(rule.attribute, {})
        if rule.type == "coverage_floor":
            assert rule.min_share is not None
            groups = sorted(coverage)
            if rule.values is not None:
                listed = set(rule.values)
                groups = [g for g in groups if g in listed]
            below = [g for g in groups if coverage[g] < rule.min_share - SHARE_TOLERANCE]
            if below:
                details = ", ".join(
                    f'group "{g}" has coverage {_share(coverage[g])} < {rule.min_share!r}'
                    for g in below
                )
                violations.append(
                    Violation(rule=index, message=f"coverage_floor on {rule.attribute}: {details}")
                )
        elif rule.type == "coverage_gap":
            assert rule.max_gap is not None
            if len(coverage) < 2:
                continue
            groups = sorted(coverage)
            highest = max(groups, key=lambda g: coverage[g])
            lowest = min(groups, key=lambda g: coverage[g])
            gap = coverage[highest] - coverage[lowest]
            if gap > rule.max_gap + SHARE_TOLERANCE:
                violations.append(
                    Violation(
                        rule=index,
                        message=(
                            f'coverage_gap on {rule.attribute}: "{highest}" '
                            f'{_share(coverage[highest])} minus "{lowest}" '
                            f"{_share(coverage[lowest])} is {_share(gap)} > {rule.max_gap!r}"
                        ),
                    )
                )
    return tuple(violations)
