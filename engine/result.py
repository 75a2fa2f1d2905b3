"""Turning a set of placements into a :class:`~engine.instance.Result` with its metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from engine.arrays import InstanceArrays
from engine.instance import (
    Assignment,
    DiagnosisEntry,
    Mechanism,
    Metrics,
    Result,
    Status,
    Violation,
)


def coverage_by_group(arrays: InstanceArrays, placed: np.ndarray) -> dict[str, dict[str, float]]:
    """For every attribute named in a rule, each group's coverage (placed members / members).

    ``placed`` is a boolean array over persons.
    """
    coverage: dict[str, dict[str, float]] = {}
    for attribute, groups in arrays.groups.items():
        members = groups.member_group >= 0
        placed_count = np.bincount(
            groups.member_group[members & placed], minlength=len(groups.labels)
        )
        coverage[attribute] = {
            label: float(placed_count[i]) / float(groups.sizes[i])
            for i, label in enumerate(groups.labels)
        }
    return coverage


def build_result(
    arrays: InstanceArrays,
    pairs: Iterable[int],
    *,
    status: Status,
    mechanism: Mechanism,
    bound: int | None,
    solve_seconds: float,
    violations: Iterable[Violation] = (),
    diagnosis: Iterable[DiagnosisEntry] = (),
) -> Result:
    """Build a result from the chosen preference pairs (indices into ``arrays``' pair arrays).

    For ``infeasible`` and ``no_solution`` pass no pairs: the objective is then null and the
    metrics describe the empty allocation, as the spec requires.
    """
    chosen = np.unique(np.fromiter(pairs, dtype=np.int64))
    if status in ("infeasible", "no_solution") and chosen.size:
        raise ValueError(f"a {status} result has no placements")
    # Pairs are stored person by person in rank order, but persons are in instance order:
    # sort by person id, then rank, as the spec requires. Plain lists, not NumPy scalars, in
    # the per-assignment Python code: it runs for up to a few hundred thousand assignments.
    persons_of = arrays.pair_person[chosen]
    ids = arrays.person_ids
    offer_ids = arrays.offer_ids
    person_list = persons_of.tolist()
    rank_list = arrays.pair_rank[chosen].tolist()
    offer_list = arrays.pair_offer[chosen].tolist()
    utility_list = arrays.pair_utility[chosen].tolist()
    price_list = arrays.price[arrays.pair_offer[chosen]].tolist()
    sort_keys = [(ids[p], r) for p, r in zip(person_list, rank_list, strict=True)]
    order = sorted(range(len(sort_keys)), key=sort_keys.__getitem__)
    assignments = tuple(
        Assignment(
            person=ids[person_list[i]],
            offer=offer_ids[offer_list[i]],
            rank=rank_list[i],
            utility=utility_list[i],
            price=price_list[i],
        )
        for i in order
    )
    placed = np.zeros(arrays.n_persons, dtype=bool)
    placed[persons_of] = True
    unassigned = tuple(sorted(ids[i] for i in np.flatnonzero(~placed)))
    metrics = Metrics(
        persons=arrays.n_persons,
        placed=int(placed.sum()),
        placements=len(assignments),
        spend=sum(a.price for a in assignments),
        rank_histogram=dict(sorted(Counter(a.rank for a in assignments).items())),
        coverage=coverage_by_group(arrays, placed),
    )
    objective = (
        None if status in ("infeasible", "no_solution") else sum(a.utility for a in assignments)
    )
    return Result(
        status=status,
        mechanism=mechanism,
        objective=objective,
        bound=bound,
        assignments=assignments,
        unassigned=unassigned,
        metrics=metrics,
        violations=tuple(violations),
        diagnosis=tuple(diagnosis),
        solve_seconds=solve_seconds,
    )
