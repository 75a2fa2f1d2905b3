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

Whether floors can hold at all (the diagnosis and the first stage of
``maximize_min_coverage``) is a maximum flow through one node per group, of capacity the
group's floor; under a pot, the cheapest such flow (cost = prices) must fit the pot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import max_flow, min_cost_flow

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
    if n_pair_arcs == 0:
        return FlowSolution(chosen=np.zeros(0, dtype=np.int64), cost=flow.optimal_cost())
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
    window: tuple[str | IntArray, IntArray, IntArray] | None = None,
) -> FlowSolution | None:
    """Choose pairs of greatest total ``weight`` (int per model pair) subject to placements,
    capacities and the floors of the model's one floored attribute. ``None`` if the floors
    cannot hold. ``pairs`` restricts the usable pairs (default: all model pairs).

    ``window = (attribute, lower, upper)`` replaces the floors by "between ``lower[g]`` and
    ``upper[g]`` placed members in each group ``g``" (everyone counted holds one place at
    most): the unplaced arc of ``g`` then carries between ``size - upper`` and ``size - lower``
    units, a lower bound moved into the node supplies in the usual way. In place of an
    attribute's name, ``window[0]`` may give each person's group directly (-1: none, never
    counted), for groups that cross several attributes."""
    built = network_arcs(model, weight, pairs=pairs, window=window)
    if built is None:
        return None
    n_nodes, tails, heads, caps, costs, supplies, use = built
    solution = _solve(n_nodes, tails, heads, caps, costs, supplies, use.size)
    if solution is None:
        return None
    return FlowSolution(chosen=use[solution.chosen], cost=solution.cost)


def network_arcs(
    model: WelfareModel,
    weight: IntArray,
    *,
    pairs: IntArray | None = None,
    window: tuple[str | IntArray, IntArray, IntArray] | None = None,
    capacity: IntArray | None = None,
) -> tuple[int, IntArray, IntArray, IntArray, IntArray, IntArray, IntArray] | None:
    """The network of :func:`welfare_network`: (node count, tails, heads, capacities, costs,
    supplies, the model pairs of the first arcs), or None when the floors leave a group fewer
    unplaced slots than none. Nodes: persons, offers, one unplaced node per group and one for
    "no group", then the sink (the last node). ``capacity`` replaces the offers' places."""
    arrays = model.arrays
    n_persons, n_offers = arrays.n_persons, arrays.n_offers
    capacity = arrays.capacity if capacity is None else capacity
    use = np.arange(model.n_pairs, dtype=np.int64) if pairs is None else pairs
    attribute = floored_attribute(model) if window is None else window[0]
    unplaced_at_least = None
    if attribute is None:
        n_groups = 0
        group_of = np.zeros(n_persons, dtype=np.int64)
        free_cap = np.zeros(0, dtype=np.int64)
    else:
        if isinstance(attribute, str):
            member, sizes = model.groups(attribute).member_group, model.groups(attribute).sizes
        else:
            assert window is not None
            member = attribute
            sizes = np.bincount(member[member >= 0], minlength=window[1].size)
        n_groups = int(sizes.size)
        group_of = np.where(member >= 0, member, n_groups)
        if window is None:
            assert isinstance(attribute, str)
            free_cap = sizes - model.floors[attribute]
        else:
            free_cap = sizes - window[1]
            unplaced_at_least = sizes - window[2]
            free_cap = free_cap - unplaced_at_least
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
    caps = np.concatenate([np.ones(use.size, dtype=np.int64), capacity, supply, free_cap, [total]])
    costs = np.concatenate(
        [-weight[use], np.zeros(n_offers + n_persons + n_groups + 1, dtype=np.int64)]
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_persons] = supply
    supplies[sink] = -total
    if unplaced_at_least is not None:
        # Lower bound l on arc (u -> sink): u sends l units straight away.
        supplies[free_node : free_node + n_groups] -= unplaced_at_least
        supplies[sink] += int(unplaced_at_least.sum())
    if (free_cap < 0).any():
        return None
    return sink + 1, tails, heads, caps, costs, supplies, use


def _quota_network(
    model: WelfareModel, attribute: str, quota: IntArray
) -> tuple[int, int, int, IntArray, IntArray, IntArray, IntArray, IntArray]:
    """source -> group g (capacity ``quota[g]``) -> each member (1) -> offers (1 per pair) ->
    sink (``capacity``). Only members of groups with a quota take part; one place each is
    enough, since extra places never raise a coverage. Returns node count, source, sink, the
    arc arrays (tails, heads, capacities, costs = prices; pair arcs first) and the pairs used."""
    arrays = model.arrays
    n_persons, n_offers = arrays.n_persons, arrays.n_offers
    member = model.groups(attribute).member_group
    n_groups = len(quota)
    # Members of no group (-1) read the appended 0.
    counted = np.append(quota, 0)[member] > 0
    use = np.flatnonzero(counted[model.person])
    persons = np.flatnonzero(counted)
    group_node = n_persons + n_offers
    source = group_node + n_groups
    sink = source + 1
    tails = np.concatenate(
        [
            model.person[use],
            n_persons + np.arange(n_offers),
            group_node + member[persons],
            np.full(n_groups, source),
        ]
    )
    heads = np.concatenate(
        [
            n_persons + model.offer[use],
            np.full(n_offers, sink),
            persons,
            group_node + np.arange(n_groups),
        ]
    )
    caps = np.concatenate(
        [
            np.ones(use.size, dtype=np.int64),
            arrays.capacity,
            np.ones(persons.size, dtype=np.int64),
            quota.astype(np.int64),
        ]
    )
    costs = np.concatenate(
        [model.price[use], np.zeros(n_offers + persons.size + n_groups, dtype=np.int64)]
    )
    return sink + 1, source, sink, tails, heads, caps, costs, use


def _max_flow(
    n_nodes: int, source: int, sink: int, tails: IntArray, heads: IntArray, caps: IntArray
) -> int:
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails, heads, caps)
    flow.add_arc_with_capacity(source, sink, 0)  # so that both ends exist in any network
    status = flow.solve(source, sink)
    if status != flow.OPTIMAL:
        raise RuntimeError(f"max flow failed with status {status}")
    return int(flow.optimal_flow())


def _cheapest(
    n_nodes: int,
    source: int,
    sink: int,
    tails: IntArray,
    heads: IntArray,
    caps: IntArray,
    costs: IntArray,
    amount: int,
) -> int | None:
    """The least cost (pence) of sending ``amount`` units, or None if it cannot be sent."""
    supplies = np.zeros(n_nodes, dtype=np.int64)
    supplies[source] = amount
    supplies[sink] = -amount
    solution = _solve(n_nodes, tails, heads, caps, costs, supplies, 0)
    return None if solution is None else solution.cost


def floors_can_hold(model: WelfareModel, attribute: str, need: IntArray) -> bool:
    """Whether floors ``need`` (placed members per group of ``attribute``) can hold together
    under the base constraints: budgets, capacities, placements and the pot.

    Each person is in one group at most, so the floors hold exactly when a flow sends
    ``need[g]`` units through each group (a maximum flow); with a pot, the cheapest such flow
    must also fit the pot."""
    network = _quota_network(model, attribute, need)
    n_nodes, source, sink, tails, heads, caps, costs, _ = network
    total = int(need.sum())
    if model.pot is None:
        return _max_flow(n_nodes, source, sink, tails, heads, caps) >= total
    cost = _cheapest(n_nodes, source, sink, tails, heads, caps, costs, total)
    return cost is not None and cost <= model.pot


def offers_one_place_lets_hold(model: WelfareModel, attribute: str, need: IntArray) -> IntArray:
    """Offers at which one more place lets floors ``need`` hold, when they do not hold now
    (no pot): one maximum flow of the quota network. One more place raises the flow by one
    unit at most, and by one exactly when the offer is reachable from the source in the
    residual graph (the source side of the minimum cut); so only a deficit of one unit can be
    made up, at those offers. ``model`` should have every pair that a new place could use
    (offers without places too)."""
    if model.pot is not None:
        raise ValueError("with a pot, a cheapest flow decides; this is for floors alone")
    n_nodes, source, sink, tails, heads, caps, _, _ = _quota_network(model, attribute, need)
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails, heads, caps)
    flow.add_arc_with_capacity(source, sink, 0)
    if flow.solve(source, sink) != flow.OPTIMAL:
        raise RuntimeError("max flow failed")
    deficit = int(need.sum()) - int(flow.optimal_flow())
    if deficit != 1:
        return np.zeros(0, dtype=np.int64)
    n_persons = model.arrays.n_persons
    side = np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)
    offers = side[(side >= n_persons) & (side < n_persons + model.arrays.n_offers)]
    return np.sort(offers - n_persons)


def best_group_count(model: WelfareModel, attribute: str, group: int) -> int:
    """The most members of one group that can be placed together under the base constraints.

    Without a pot this is a maximum flow. With a pot, the cheapest cost of placing ``k``
    members is convex in ``k`` (successive shortest paths add paths of non-decreasing cost), so
    a binary search on ``k`` finds the largest ``k`` whose cheapest cost fits the pot.
    """
    groups = model.groups(attribute)
    quota = np.zeros(len(groups.labels), dtype=np.int64)
    quota[group] = groups.sizes[group]
    n_nodes, source, sink, tails, heads, caps, costs, _ = _quota_network(model, attribute, quota)
    most = _max_flow(n_nodes, source, sink, tails, heads, caps)
    if model.pot is None:
        return most
    lo, hi = 0, most
    while lo < hi:
        mid = (lo + hi + 1) // 2
        cost = _cheapest(n_nodes, source, sink, tails, heads, caps, costs, mid)
        if cost is not None and cost <= model.pot:
            lo = mid
        else:
            hi = mid - 1
    return lo
