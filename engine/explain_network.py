"""Every "what if this person had that offer?" of a network at once, from one optimal flow.

For a welfare model that is a min-cost flow (:func:`engine.welfare_flow.welfare_network`), let
``x`` be an optimal flow and ``pi`` node potentials under which every arc of the residual graph
``G(x)`` has a reduced cost ``rc >= 0``. Then (Ahuja, Magnanti and Orlin, *Network Flows*,
1993, sections 9.3 and 11.2):

* The best flow that sends one unit through an unused arc ``e = (p, o)`` costs the optimum plus
  the cheapest cycle of ``G(x)`` through ``e``: the difference of the two flows is a circulation
  of ``G(x)``, its cycles other than the one through ``e`` cost ``>= 0``, and ``x`` plus the
  cheapest such cycle is feasible. That cycle is ``e`` and a shortest path from ``o`` back to
  ``p``; its cost is ``rc(e) + dist(o, p)`` in reduced costs (the potentials cancel round a
  cycle), so Dijkstra applies. One shortest-path tree from each offer answers every person
  who asks about that offer: the *loss* of forcing ``(p, o)``.
* One more place at ``o`` adds an arc ``o -> sink`` of cost 0; the best flow with it is ``x``
  plus the cheapest cycle through the new arc (successive shortest paths), so the *gain* of
  the place is ``max(0, -(rc(o -> sink) + dist(sink, o)))``: one tree from the sink answers
  every offer.

Costs are exact integers (weights of at most a few times 2^44 stay exact in the doubles that
SciPy's Dijkstra uses; :data:`EXACT_UP_TO` is checked). Potentials come from a vectorised
Bellman-Ford on ``G(x)``, which has no negative cycle because ``x`` is optimal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse
from ortools.graph.python import min_cost_flow
from scipy.sparse.csgraph import dijkstra

from engine.arrays import IntArray
from engine.welfare_flow import floored_attribute, network_arcs
from engine.welfare_model import WelfareModel

#: Path lengths stay below this, so the doubles of SciPy's Dijkstra hold them exactly.
EXACT_UP_TO = 2**52

#: Offers whose shortest-path trees are grown together (rows of one distance matrix).
BATCH = 64


@dataclass(frozen=True)
class _Arcs:
    n_nodes: int
    tails: IntArray
    heads: IntArray
    caps: IntArray
    costs: IntArray
    supplies: IntArray
    #: the model pairs of the first arcs (pair arcs come first)
    use: IntArray
    sink: int


class FlowState:
    """An optimal flow of a network model under ``weight``, with its residual graph.

    ``value`` is the flow's total weight; ``chosen`` its model pairs. ``extra`` (offer
    position, optional) gives that offer one more place. Raises ``ValueError`` when the model
    has no feasible flow (floors that cannot hold)."""

    def __init__(
        self,
        model: WelfareModel,
        weight: IntArray,
        extra: int | None = None,
        *,
        given: IntArray | None = None,
    ) -> None:
        arrays = model.arrays
        capacity = arrays.capacity
        if extra is not None:
            capacity = capacity.copy()
            capacity[extra] += 1
        built = network_arcs(model, weight, capacity=capacity)
        if built is None:
            raise ValueError("the model has no feasible flow")
        n_nodes, tails, heads, caps, costs, supplies, use = built
        self.model = model
        self.weight = weight
        self.n_persons = arrays.n_persons
        self.n_offers = arrays.n_offers
        self.sink = n_nodes - 1
        n_pair = use.size
        if given is not None:
            # A flow known to be optimal (an allocation whose Lagrangian value is the bound),
            # on a network without floors: its arcs' flows follow from its pairs.
            assert (
                floored_attribute(model) is None
                and extra is None
                and n_nodes == (self.n_persons + self.n_offers + 2)
            )
            x = np.zeros(n_pair, dtype=np.int64)
            x[np.searchsorted(use, given)] = 1
            held = np.bincount(model.person[given], minlength=self.n_persons)
            spare = np.maximum(model.max_placements, 1) - held
            flows = np.concatenate(
                [
                    x,
                    np.bincount(model.offer[given], minlength=self.n_offers),
                    spare,
                    [int(spare.sum())],
                ]
            ).astype(np.int64)
            self.value = int(weight[given].sum())
        else:
            flow = min_cost_flow.SimpleMinCostFlow()
            flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
            flow.set_nodes_supplies(np.arange(n_nodes, dtype=np.int64), supplies)
            status = flow.solve()
            if status == flow.INFEASIBLE:
                raise ValueError("the model has no feasible flow")
            if status != flow.OPTIMAL:
                raise RuntimeError(f"min-cost flow failed with status {status}")
            flows = flow.flows(np.arange(tails.size, dtype=np.int64))
            self.value = -int(flow.optimal_cost())
        self.use = use
        self.pair_flow = np.zeros(model.n_pairs, dtype=np.int64)
        self.pair_flow[use] = flows[:n_pair]
        self.chosen = use[flows[:n_pair] > 0]
        # The residual graph: forward arcs with room, backward arcs with flow.
        fwd = flows < caps
        bwd = flows > 0
        r_tail = np.concatenate([tails[fwd], heads[bwd]])
        r_head = np.concatenate([heads[fwd], tails[bwd]])
        r_cost = np.concatenate([costs[fwd], -costs[bwd]])
        self.potential = _potentials(n_nodes, r_tail, r_head, r_cost)
        reduced = r_cost + self.potential[r_tail] - self.potential[r_head]
        assert (reduced >= 0).all(), "the flow is not optimal"
        self.graph = _csr(n_nodes, r_tail, r_head, reduced)
        self.n_nodes = n_nodes
        span = int(np.abs(weight).sum()) + int(np.abs(self.potential).max(initial=0)) * 2
        if span >= EXACT_UP_TO:
            raise OverflowError("weights too large for exact shortest paths")
        # Reduced cost of each model pair's forward arc (only meaningful when unused).
        person_node = model.person
        offer_node = self.n_persons + model.offer
        self.pair_reduced = -weight + self.potential[person_node] - self.potential[offer_node]
        self._from_sink: np.ndarray | None = None

    def losses(self, pairs: IntArray, limit: int | None = None) -> IntArray:
        """For each model pair in ``pairs``: how much total weight forcing it into the flow
        costs (0 for pairs the flow uses). With ``limit``, losses above it are reported as
        ``limit + 1`` (the search stops there, which is much faster)."""
        out = np.zeros(pairs.size, dtype=np.int64)
        unused = self.pair_flow[pairs] == 0
        todo = np.flatnonzero(unused)
        if todo.size == 0:
            return out
        rc = self.pair_reduced[pairs[todo]]
        big = np.iinfo(np.int64).max // 4 if limit is None else limit + 1
        if limit is not None:
            hopeless = rc > limit
            out[todo[hopeless]] = big
            todo, rc = todo[~hopeless], rc[~hopeless]
        offers = self.model.offer[pairs[todo]]
        persons = self.model.person[pairs[todo]]
        for batch, rows in self._trees(np.unique(offers), limit):
            at = np.searchsorted(batch, offers)
            inside = (at < batch.size) & (batch[np.minimum(at, batch.size - 1)] == offers)
            sel = np.flatnonzero(inside)
            dist = rows[at[sel], persons[sel]]
            value = np.where(np.isinf(dist), float(big), dist + rc[sel])
            loss = np.rint(np.minimum(value, float(big))).astype(np.int64)
            out[todo[sel]] = loss
        return out

    def _trees(self, offers: IntArray, limit: int | None) -> Iterator[tuple[IntArray, np.ndarray]]:
        for nodes, rows in dijkstra_rows(self.graph, self.n_persons + offers, limit):
            yield nodes - self.n_persons, rows

    def capacity_costs(self, pairs: IntArray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """For forcing each pair with one more place at its offer: the cheapest single cycle
        (through the pair, then maybe straight on through the new place), and a lower bound
        on every circulation (which may add a second cycle through the new place). Costs above
        ``limit`` may be reported as anything above it."""
        model = self.model
        offers, persons = model.offer[pairs], model.person[pairs]
        rc_new = self.new_place_reduced()[offers].astype(np.float64)
        from_sink = self.from_sink()
        second = np.minimum(0.0, rc_new + from_sink[self.n_persons + offers])
        loss = self.losses(pairs, limit=limit - int(second.min(initial=0.0)) + 1).astype(float)
        through = self.pair_reduced[pairs] + rc_new + from_sink[persons]
        single = np.minimum(loss, through)
        return single, np.minimum(single, loss + second)

    def cycles(self, pairs: IntArray, limit: int) -> list[list[tuple[int, int, int]] | None]:
        """For each unused pair, the cheapest cycle through it as the moves it makes: (+1 or
        -1, person, offer) for each pair taken up or given back (the pair itself first); None
        where that cycle costs more than ``limit``."""
        out: list[list[tuple[int, int, int]] | None] = [None] * pairs.size
        model = self.model
        offers, persons = model.offer[pairs], model.person[pairs]
        rc = self.pair_reduced[pairs]
        n_p = self.n_persons
        for start in range(0, pairs.size, BATCH):
            sel = np.arange(start, min(start + BATCH, pairs.size))
            sources, row_of = np.unique(offers[sel], return_inverse=True)
            dist, pred = dijkstra(
                self.graph,
                directed=True,
                indices=n_p + sources,
                limit=float(limit),
                return_predecessors=True,
            )
            for k, i in enumerate(sel.tolist()):
                row, p = int(row_of[k]), int(persons[i])
                if not np.isfinite(dist[row, p]) or dist[row, p] + rc[i] > limit:
                    continue
                moves = [(1, p, int(offers[i]))]
                node = p
                origin = n_p + int(offers[i])
                while node != origin:
                    before = int(pred[row, node])
                    if before < n_p and n_p <= node < n_p + self.n_offers:
                        moves.append((1, before, node - n_p))
                    elif node < n_p and n_p <= before < n_p + self.n_offers:
                        moves.append((-1, node, before - n_p))
                    node = before
                out[i] = moves
        return out

    def from_sink(self) -> np.ndarray:
        """Reduced-cost distances from the sink to every node (inf where unreachable)."""
        if self._from_sink is None:
            self._from_sink = dijkstra(self.graph, directed=True, indices=[self.sink])[0]
        return self._from_sink

    def new_place_reduced(self) -> IntArray:
        """For each offer, the reduced cost of one more place: a new arc offer -> sink of
        cost 0, that is ``pi[offer] - pi[sink]``."""
        offer_nodes = self.n_persons + np.arange(self.n_offers)
        return self.potential[offer_nodes] - self.potential[self.sink]

    def moved_place(self, offer: int) -> np.ndarray:
        """For a flow built with one more place at ``offer`` that every feasible flow needs
        (floors that hold only with it): for each offer ``o``, the weight lost when that place
        is at ``o`` instead. The unit through ``offer``'s place must reach the sink another
        way, and only ``o``'s new place is open to it, so the loss is the cheapest residual
        path ``offer -> o -> sink`` (inf where there is none). In reduced costs that path
        costs ``dist(offer, o) + rc_new(o)``, which is its weight plus ``pi[offer] -
        pi[sink] = rc_new(offer)``."""
        dist = dijkstra(self.graph, directed=True, indices=[self.n_persons + offer])[0]
        rc_new = self.new_place_reduced()
        loss = dist[self.n_persons + np.arange(self.n_offers)] + rc_new - rc_new[offer]
        loss[offer] = 0.0
        return loss

    def place_gains(self) -> IntArray:
        """For each offer: how much total weight one more place there adds (>= 0): minus the
        cheapest cycle through the new arc, ``rc(new) + dist(sink, offer)``."""
        offer_nodes = self.n_persons + np.arange(self.n_offers)
        cycle = self.new_place_reduced() + self.from_sink()[offer_nodes]
        gains = np.where(np.isinf(cycle), 0.0, np.maximum(-cycle, 0.0))
        return np.rint(gains).astype(np.int64)


def dijkstra_rows(
    graph: sparse.csr_matrix, sources: IntArray, limit: int | None = None
) -> Iterator[tuple[IntArray, np.ndarray]]:
    """Shortest-path distances from ``sources``, :data:`BATCH` trees at a time: (the batch
    of sources, one row of distances per source; inf beyond ``limit``)."""
    for start in range(0, sources.size, BATCH):
        batch = sources[start : start + BATCH]
        rows = dijkstra(
            graph,
            directed=True,
            indices=batch,
            limit=np.inf if limit is None else float(limit),
        )
        yield batch, rows


def _csr(n_nodes: int, tails: IntArray, heads: IntArray, costs: IntArray) -> sparse.csr_matrix:
    """The graph as a CSR matrix, parallel arcs merged to the cheapest (a COO conversion would
    add them up). Zero costs are kept as arcs: SciPy's csgraph treats stored zeros as edges."""
    order = np.lexsort((costs, heads, tails))
    t, h, c = tails[order], heads[order], costs[order]
    keep = np.ones(t.size, dtype=bool)
    keep[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    t, h, c = t[keep], h[keep], c[keep]
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=n_nodes), out=indptr[1:])
    return sparse.csr_matrix(
        (c.astype(np.float64), h.astype(np.int32), indptr.astype(np.int32)),
        shape=(n_nodes, n_nodes),
    )


def _potentials(n_nodes: int, tails: IntArray, heads: IntArray, costs: IntArray) -> IntArray:
    """Shortest distances from a virtual source joined to every node by a 0 arc (so every
    reduced cost ``c + d[t] - d[h]`` is >= 0): Bellman-Ford, one vectorised pass per round,
    over the arcs whose tail changed in the last round."""
    d = np.zeros(n_nodes, dtype=np.int64)
    order = np.argsort(tails, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    start = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n_nodes), out=start[1:])
    active = np.arange(tails.size)
    for _ in range(n_nodes + 1):
        if active.size == 0:
            return d
        candidate = d[tails[active]] + costs[active]
        better = candidate < d[heads[active]]
        if not better.any():
            return d
        hs, cs = heads[active[better]], candidate[better]
        np.minimum.at(d, hs, cs)
        changed = np.unique(hs)
        counts = start[changed + 1] - start[changed]
        active = np.repeat(start[changed] - np.cumsum(counts) + counts, counts) + np.arange(
            int(counts.sum())
        )
    raise RuntimeError("negative cycle in the residual graph: the flow is not optimal")
