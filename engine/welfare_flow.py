"""Min-cost-flow networks for the welfare problem (OR-Tools ``SimpleMinCostFlow``).

A welfare problem without pot, binding budgets or gaps, and with floors on at most one
attribute, is a transportation problem, whose linear relaxation has integral optima
(Ahuja, Magnanti and Orlin, *Network Flows*, 1993, ch. 9 and 11). The network:

* each person ``p`` supplies ``max_placements[p]`` units;
* ``p -> offer`` arcs of capacity 1 (no offer twice) and cost ``-weight`` (we maximise weight);
* ``p -> unplaced[g]`` arcs of cost 0 carry what ``p`` does not use; ``g`` is the person's group
  of the floored attribute (or one shared "free" node);
* ``offer -> sink`` arcs of capacity ``capacity``; ``unplaced[g] -> sink`` arcs of capacity
  ``members[g] - floor[g]``, so that at least ``floor[g]`` members of ``g`` are placed.

The same construction with cost ``price`` and one unit per person answers "can these floors
hold under the pot?" (the cheapest way to meet them must fit the pot), which the diagnosis and
the first stage of ``maximize_min_coverage`` use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from engine.arrays import IntArray
from engine.welfare_model import WelfareModel


@dataclass(frozen=True)
class FlowSolution:
    #: indices into the model's pairs of the pairs that carry flow
    chosen: IntArray
    #: total cost of the flow (for the welfare network: minus the total weight)
    cost: int


def _solve(
    n_nodes: int,
    tails: IntArray,
    heads: IntArray,
    caps: IntArray,
    costs: IntArray,
    supplies: IntArray,
    n_pair_arcs: int,
) -> FlowSolution | None:
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_nodes_supplies(np.arange(n_nodes, dtype=np.int64), supplies)
    status = flow.solve()
    if status == flow.INFEASIBLE:
        return None
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flows = flow.flows(np.arange(n_pair_arcs, dtype=np.int64))
    return FlowSolution(chosen=np.flatnonzero(flows > 0).astype(np.int64), cost=flow.optimal_cost())


def floored_attribute(model: WelfareModel) -> str | None:
    floored = [a for a, need in model.floors.items() if need.any()]
    return floored[0] if floored else None


def welfare_network(
    model: WelfareModel,
    weight: IntArray,
    *,
    pairs: IntArray | None = None,
) -> FlowSolution | None:
    """Choose pairs of greatest total ``weight`` (int per model pair) subject to placements,
    capacities and the floors of the model's one floored attribute. ``None`` if the floors
    cannot hold. ``pairs`` restricts the usable pairs (default: all model pairs)."""
    arrays = model.arrays
    n_persons, n_offers = arrays.n_persons, arrays.n_offers
    use = np.arange(model.n_pairs, dtype=np.int64) if pairs is None else pairs
    attribute = floored_attribute(model)
    if attribute is None:
        n_groups = 0
        group_of = np.zeros(n_persons, dtype=np.int64)
        free_cap = np.zeros(0, dtype=np.int64)
    else:
        groups = model.groups(attribute)
        n_groups = len(groups.labels)
        member = groups.member_group
        group_of = np.where(member >= 0, member, n_groups)
        free_cap = groups.sizes - model.floors[attribute]
    # Everyone supplies at least one unit, so a member who can hold no place still uses up
    # one of their group's unplaced slots.
    supply = np.maximum(model.max_placements, 1)
    free_node = n_persons + n_offers  # unplaced nodes: free_node + g, g = n_groups for "no group"
    sink = free_node + n_groups + 1
    total = int(supply.sum())
    tails = np.concatenate(
        [
            model.person[use],
            n_persons + np.arange(n_offers),
            np.arange(n_persons),
            free_node + np.arange(n_groups + 1),
        ]
    )
    heads = np.concatenate(
        [
            n_persons + model.offer[use],
            np.full(n_offers, sink),
            free_node + group_of,
            np.full(n_groups + 1, sink),
        ]
    )
    caps = np.concatenate(
        [np.ones(use.size, dtype=np.int64), arrays.capacity, supply, free_cap, [total]]
    )
    costs = np.concatenate(
        [-weight[use], np.zeros(n_offers + n_persons + n_groups + 1, dtype=np.int64)]
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_persons] = supply
    supplies[sink] = -total
    solution = _solve(sink + 1, tails, heads, caps, costs, supplies, use.size)
    if solution is None:
        return None
    return FlowSolution(chosen=use[solution.chosen], cost=solution.cost)


def cheapest_cover(
    model: WelfareModel,
    attribute: str | None,
    need: IntArray | None,
    *,
    members_of: int | None = None,
    count: int | None = None,
) -> FlowSolution | None:
    """The cheapest way (in pence) to place people, one place each, so that each group ``g`` of
    ``attribute`` has at least ``need[g]`` placed members; ``None`` if capacities and
    affordability make it impossible. With ``members_of`` and ``count``: the cheapest way to
    place exactly ``count`` members of that group (others are left out)."""
    arrays = model.arrays
    n_persons, n_offers = arrays.n_persons, arrays.n_offers
    source = n_persons + n_offers
    sink = source + 1
    if members_of is not None:
        assert attribute is not None and count is not None
        member = model.groups(attribute).member_group
        use = np.flatnonzero(member[model.person] == members_of)
        persons = np.flatnonzero(member == members_of)
        tails = np.concatenate(
            [model.person[use], n_persons + np.arange(n_offers), np.full(persons.size, source)]
        )
        heads = np.concatenate([n_persons + model.offer[use], np.full(n_offers, sink), persons])
        caps = np.concatenate(
            [
                np.ones(use.size, dtype=np.int64),
                arrays.capacity,
                np.ones(persons.size, dtype=np.int64),
            ]
        )
        costs = np.concatenate(
            [model.price[use], np.zeros(n_offers + persons.size, dtype=np.int64)]
        )
        supplies = np.zeros(sink + 1, dtype=np.int64)
        supplies[source] = count
        supplies[sink] = -count
        solution = _solve(sink + 1, tails, heads, caps, costs, supplies, use.size)
        if solution is None:
            return None
        return FlowSolution(chosen=use[solution.chosen], cost=solution.cost)
    # Floors: every person supplies one unit, to an offer or to their group's unplaced node.
    use = np.arange(model.n_pairs, dtype=np.int64)
    if attribute is None or need is None:
        n_groups = 0
        group_of = np.zeros(n_persons, dtype=np.int64)
        free_cap = np.zeros(0, dtype=np.int64)
    else:
        groups = model.groups(attribute)
        n_groups = len(groups.labels)
        group_of = np.where(groups.member_group >= 0, groups.member_group, n_groups)
        free_cap = groups.sizes - need
    free_node = source
    sink = free_node + n_groups + 1
    tails = np.concatenate(
        [
            model.person,
            n_persons + np.arange(n_offers),
            np.arange(n_persons),
            free_node + np.arange(n_groups + 1),
        ]
    )
    heads = np.concatenate(
        [
            n_persons + model.offer,
            np.full(n_offers, sink),
            free_node + group_of,
            np.full(n_groups + 1, sink),
        ]
    )
    caps = np.concatenate(
        [
            np.ones(use.size, dtype=np.int64),
            arrays.capacity,
            np.ones(n_persons, dtype=np.int64),
            free_cap,
            [n_persons],
        ]
    )
    costs = np.concatenate(
        [model.price, np.zeros(n_offers + n_persons + n_groups + 1, dtype=np.int64)]
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_persons] = 1
    supplies[sink] = -n_persons
    return _solve(sink + 1, tails, heads, caps, costs, supplies, use.size)


def floors_can_hold(model: WelfareModel, attribute: str, need: IntArray) -> bool:
    """Whether floors ``need`` (placed members per group of ``attribute``) can hold together
    under the base constraints: budgets, capacities, placements and the pot."""
    solution = cheapest_cover(model, attribute, need)
    if solution is None:
        return False
    return model.pot is None or solution.cost <= model.pot


def best_group_count(model: WelfareModel, attribute: str, group: int) -> int:
    """The most members of one group that can be placed together under the base constraints.

    Without a pot this is a maximum flow. With a pot, the cheapest cost of placing ``k``
    members is convex in ``k`` (successive shortest paths add paths of non-decreasing cost), so
    a binary search on ``k`` finds the largest ``k`` whose cheapest cost fits the pot.
    """
    size = int(model.groups(attribute).sizes[group])
    lo, hi = 0, size
    # First the largest count that capacities allow at all (the cost does not matter).
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cheapest_cover(model, attribute, None, members_of=group, count=mid) is not None:
            lo = mid
        else:
            hi = mid - 1
    if model.pot is None:
        return lo
    hi, lo = lo, 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        solution = cheapest_cover(model, attribute, None, members_of=group, count=mid)
        if solution is not None and solution.cost <= model.pot:
            lo = mid
        else:
            hi = mid - 1
    return lo
