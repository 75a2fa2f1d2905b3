"""Constructive "yes" answers: the result moved round one exchange cycle through the pair.

Where the Lagrangian bound cannot say "no" (:mod:`engine.explain_core`), most questions of a
priced model are "yes": the pair lies in another allocation worth ``V``. This finds such an
allocation without a MIP. Let ``x`` be the result, an allocation worth ``V`` that keeps every
limit, and ``G`` its exchange graph over persons and offers: an arc ``p -> o`` of cost
``-u(p, o)`` for each pair ``x`` does not use (``p`` takes ``o``) and ``o -> p`` of cost
``+u(p, o)`` for each pair it uses (``p`` gives ``o`` up). A cycle of ``G`` moves people round
without changing how many places each offer fills or how many places each person holds, so it
keeps every capacity, the spend, the pot and every coverage rule; when no person's budget can
bind across several places (their spend is then one price of an offer they can afford), it
keeps every limit. The result is optimal, so no cycle of ``G`` gains: ``G`` has no negative
cycle, and node potentials (Bellman-Ford) make its costs non-negative for Dijkstra.

An allocation holding ``e = (p, o)`` that differs from ``x`` by one cycle through ``e`` either
stays in ``G`` (``e``, then a path ``o -> p``: nothing else changes) or passes once through the
"sink" of the flow network: it leaves ``G`` at ``a`` (an offer filling one more place, or a
person giving a place up) and re-enters at ``b`` (an offer filling one fewer, or a person
taking one more): ``e``, a path ``o -> a``, then a path ``b -> p``. Its spend changes by
``price(a) - price(b)`` (a person's end counts 0), so the pot allows it when that is at most
``pot - spend(x)``. Over all ``(a, b)`` this is a minimum of two shortest-path trees (one from
``o``, one into ``p``) under one sorted price condition. A cycle costing at most 0 is worth
``V`` or more: it is built, applied to ``x`` and checked against every limit of the model
(:func:`engine.welfare_model.check_allocation`), so each "yes" is exact. Paths that cross, or a
coverage rule that the ends break, only leave the question open for the exact programs.

When the pot binds, the cycle through ``e`` may cost more than the pot has left (one more
place at ``o`` is the usual case), and a second cycle through the sink elsewhere must pay for
it: ``sink -> b -> ... -> a -> sink``, someone moving to a cheaper place or giving one up. Those
cycles do not depend on the question: one shortest-path tree per spend of ``b`` (its entries
joined to one virtual root) gives, for each spend change, the cheapest such cycle, and the best
of them for their spend (at most :data:`SECOND_CYCLES`, the most saving first) are each tried
with the first cycle's room reduced by what they save. The pair of cycles is checked as above.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.sparse.csgraph import dijkstra

from engine.arrays import IntArray
from engine.explain_network import _csr, _potentials, dijkstra_rows
from engine.welfare_model import WelfareModel, check_allocation, pair_index

#: Questions whose shortest-path trees are kept at once (each tree is one row of doubles).
CHUNK = 256

#: Second cycles tried for a question (the best for their spend, most saving first).
SECOND_CYCLES = 64


class ResultCycles:
    """The exchange graph of the allocation ``result`` (model pairs) of ``model``, worth
    ``target``, under the instance's ``pot``."""

    def __init__(self, model: WelfareModel, result: IntArray, target: int, pot: int | None) -> None:
        if model.budget_binds.any():
            # A swap can then break a budget: cycles of G need not keep every limit.
            raise ValueError("a person's budget can bind across several places")
        arrays = model.arrays
        n_p, n_o = arrays.n_persons, arrays.n_offers
        self.model = model
        self.target = target
        self.n_persons = n_p
        used = np.zeros(model.n_pairs, dtype=bool)
        used[result] = True
        self.used = used
        utility = model.utility.astype(np.int64)
        tails = np.where(used, n_p + model.offer, model.person)
        heads = np.where(used, model.person, n_p + model.offer)
        costs = np.where(used, utility, -utility)
        # Raises RuntimeError when a cycle gains: the result is then not optimal.
        self.potential = _potentials(n_p + n_o, tails, heads, costs)
        reduced = costs + self.potential[tails] - self.potential[heads]
        self.graph = _csr(n_p + n_o, tails, heads, reduced)
        self.reverse = _csr(n_p + n_o, heads, tails, reduced)
        occupied = np.bincount(model.offer[result], minlength=n_o)
        held = np.bincount(model.person[result], minlength=n_p)
        price = arrays.price.astype(np.int64)
        spend = int(model.price[result].sum())
        # The instance's pot, also where the model left it out because its places can never
        # reach it: one more place may.
        self.pot = pot
        self.room = (pot - spend) if pot is not None else None
        spare = np.flatnonzero(occupied < arrays.capacity)
        giving = np.flatnonzero(held > 0)
        self.exit_nodes = np.concatenate([n_p + spare, giving])
        self.exit_spend = np.concatenate([price[spare], np.zeros(giving.size, dtype=np.int64)])
        filled = np.flatnonzero(occupied > 0)
        taking = np.flatnonzero(held < np.maximum(model.max_placements, 0))
        entry_nodes = np.concatenate([n_p + filled, taking])
        entry_spend = np.concatenate([-price[filled], np.zeros(taking.size, dtype=np.int64)])
        # Sorted by spend, so that "fits the room" is a prefix.
        order = np.argsort(entry_spend, kind="stable")
        self.entry_nodes, self.entry_spend = entry_nodes[order], entry_spend[order]
        self.price = price
        self._arcs = (tails, heads, reduced)
        self._second: list[tuple[int, float, int, int]] | None = None
        self._rooted: object = None

    def yes(self, pairs: IntArray, extra: bool = False) -> np.ndarray:
        """True where the result moved round one cycle through the pair is an allocation
        worth ``V`` that keeps every limit; ``extra``: with one more place at the pair's
        offer (the capacity questions)."""
        out = np.zeros(pairs.size, dtype=bool)
        if pairs.size == 0:
            return out
        todo = np.flatnonzero(~self.used[pairs])
        for start in range(0, todo.size, CHUNK):
            chunk = todo[start : start + CHUNK]
            self._answer(out, chunk, pairs, extra)
        return out

    def _answer(self, out: np.ndarray, todo: IntArray, pairs: IntArray, extra: bool) -> None:
        model, n_p = self.model, self.n_persons
        persons, offers = model.person[pairs], model.offer[pairs]
        from_offer = _rows(self.graph, n_p + offers[todo])
        into_person = _rows(self.reverse, persons[todo])
        pi = self.potential
        for i in todo.tolist():
            p, o, e = int(persons[i]), int(offers[i]), int(pairs[i])
            u_e = int(model.utility[e])
            # Original costs: d_red(s -> v) - pi[s] + pi[v].
            cost_from = from_offer[n_p + o] - pi[n_p + o] + pi
            cost_into = into_person[p] - pi + pi[p]
            exits, exit_spend = self.exit_nodes, self.exit_spend
            if extra:
                exits = np.append(exits, n_p + o)
                exit_spend = np.append(exit_spend, self.price[o])
            leave = -u_e + cost_from[exits]
            back = cost_into[self.entry_nodes]
            ends = (exits, exit_spend, leave, np.minimum.accumulate(back), _prefix_argmin(back))
            best, plan = self._one_cycle(-u_e + float(cost_from[p]), ends, self.room)
            if best <= 0.5 and self._check(e, p, o, [self._first(o, p, plan)], extra):
                out[i] = True
                continue
            if self.room is None:
                continue
            # A second cycle through the sink, elsewhere, that saves money (or spends it).
            cheapest_leave = min(float(leave.min(initial=np.inf)), 0.0)
            for spend, cost, root, end in self._second_cycles():
                if cost + cheapest_leave > 0.5:
                    continue
                best, plan = self._one_cycle(np.inf, ends, self.room - spend)
                if best + cost > 0.5 or plan is None:
                    continue
                second = self._second_path(root, end)
                if second is not None and self._check(
                    e, p, o, [self._first(o, p, plan), second], extra
                ):
                    out[i] = True
                    break

    def _one_cycle(
        self,
        free: float,
        ends: tuple[IntArray, IntArray, np.ndarray, np.ndarray, IntArray],
        room: int | None,
    ) -> tuple[float, tuple[int, int] | None]:
        """The cheapest cycle through the pair: ``free`` (the cost of staying off the sink)
        or leaving at an exit and coming back at an entry whose spend fits ``room``. ``ends``:
        the exits, their spends and costs from the pair, and the running minimum (and where
        it is) of the entries' costs back to the person, in the entries' spend order."""
        exits, exit_spend, leave, prefix, arg = ends
        entry_nodes = self.entry_nodes
        if room is None:
            fits = np.full(exits.size, entry_nodes.size)
        else:
            fits = np.searchsorted(self.entry_spend, room - exit_spend, side="right")
        best, plan = free, None
        if entry_nodes.size and (fits > 0).any():
            total = np.where(fits > 0, leave + prefix[np.maximum(fits, 1) - 1], np.inf)
            k = int(np.argmin(total))
            if total[k] < best:
                best = float(total[k])
                plan = (int(exits[k]), int(entry_nodes[arg[int(fits[k]) - 1]]))
        return best, plan

    def _first(self, o: int, p: int, plan: tuple[int, int] | None) -> list[int] | None:
        """The nodes of the cycle through the pair (``-1`` marks the sink)."""
        if plan is None:
            return _path(self.graph, self.n_persons + o, p)
        a, b = plan
        first, second = _path(self.graph, self.n_persons + o, a), _path(self.reverse, p, b)
        return None if first is None or second is None else first + [-1] + second[::-1]

    def _second_cycles(self) -> list[tuple[int, float, int, int]]:
        """The cycles ``sink -> b -> ... -> a -> sink`` that are best for their spend: (spend
        change, cost, root, a) with no cheaper cycle of smaller spend change. Entries of one
        spend share a root (a virtual node joined to each of them), so one tree per spend."""
        if self._second is not None:
            return self._second
        n = self.graph.shape[0]
        spends, group = np.unique(self.entry_spend, return_inverse=True)
        pi = self.potential
        top = np.full(spends.size, -np.inf)
        np.maximum.at(top, group, pi[self.entry_nodes].astype(np.float64))
        tails, heads, costs = self._arcs
        v_tail = n + group
        v_cost = top[group] - pi[self.entry_nodes]
        graph = _csr(
            n + spends.size,
            np.concatenate([tails, v_tail]),
            np.concatenate([heads, self.entry_nodes]),
            np.concatenate([costs, np.rint(v_cost).astype(np.int64)]),
        )
        self._rooted = graph
        roots = n + np.arange(spends.size)
        spend_parts, cost_parts, root_parts, end_parts = [], [], [], []
        for batch, rows in dijkstra_rows(graph, roots):
            for k, root in enumerate(batch.tolist()):
                g = root - n
                cost = rows[k][self.exit_nodes] - top[g] + pi[self.exit_nodes]
                spend = spends[g] + self.exit_spend
                keep = np.isfinite(cost) & ((spend < 0) | (cost < 0))
                spend_parts.append(spend[keep])
                cost_parts.append(cost[keep])
                root_parts.append(np.full(int(keep.sum()), root, dtype=np.int64))
                end_parts.append(self.exit_nodes[keep])
        if not spend_parts:
            self._second = []
            return self._second
        spend_all, cost_all = np.concatenate(spend_parts), np.concatenate(cost_parts)
        roots_all, ends_all = np.concatenate(root_parts), np.concatenate(end_parts)
        order = np.lexsort((ends_all, roots_all, cost_all, spend_all))
        cost_sorted = cost_all[order]
        # Keep each point cheaper than every point before it (of smaller spend, or cheaper).
        before = np.minimum.accumulate(np.concatenate([[np.inf], cost_sorted]))[:-1]
        best = order[cost_sorted < before]
        frontier = [
            (int(spend_all[i]), float(cost_all[i]), int(roots_all[i]), int(ends_all[i]))
            for i in best.tolist()
        ]
        self._second = frontier[:SECOND_CYCLES]
        return self._second

    def _second_path(self, root: int, end: int) -> list[int] | None:
        path = _path(self._rooted, root, end)
        if path is None or len(path) < 2:
            return None
        return path[1:]

    def _check(self, e: int, p: int, o: int, paths: list[list[int] | None], extra: bool) -> bool:
        """Apply the cycles (node paths, ``-1`` for the sink) and the pair to the result, and
        check the allocation they give against every limit."""
        n_p = self.n_persons
        moves: list[tuple[int, int, bool]] = []  # (person, offer, taken)
        for path in paths:
            if path is None:
                return False
            for u, v in zip(path[:-1], path[1:], strict=True):
                if u < 0 or v < 0:
                    continue  # through the sink
                if u < n_p <= v:
                    moves.append((u, v - n_p, True))
                elif v < n_p <= u:
                    moves.append((v, u - n_p, False))
                else:
                    return False
        held = self.used.copy()
        held[e] = True
        if moves:
            who, what, taken = (np.array(column) for column in zip(*moves, strict=True))
            found = pair_index(self.model, who, what)
            for k, take in zip(found.tolist(), taken.tolist(), strict=True):
                if k < 0 or held[k] == take:
                    return False
                held[k] = take
        chosen = np.flatnonzero(held)
        if int(self.model.utility[chosen].sum()) < self.target:
            return False
        model = replace(self.model, pot=self.pot)
        if extra:
            capacity = model.arrays.capacity.copy()
            capacity[o] += 1
            model = replace(model, arrays=replace(model.arrays, capacity=capacity))
        return not check_allocation(model, chosen)


def _rows(graph: object, sources: IntArray) -> dict[int, np.ndarray]:
    """Reduced-cost distances from each source, by source."""
    out: dict[int, np.ndarray] = {}
    for batch, rows in dijkstra_rows(graph, np.unique(sources)):
        for k, source in enumerate(batch.tolist()):
            out[source] = rows[k]
    return out


def _path(graph: object, source: int, target: int) -> list[int] | None:
    """The nodes of a shortest path ``source -> target`` of ``graph`` (None if there is
    none)."""
    _, pred = dijkstra(graph, directed=True, indices=[source], return_predecessors=True)
    nodes = [target]
    while nodes[-1] != source:
        before = int(pred[0, nodes[-1]])
        if before < 0:
            return None
        nodes.append(before)
    return nodes[::-1]


def _prefix_argmin(values: np.ndarray) -> IntArray:
    """For each position, where the smallest value up to it is."""
    best = np.minimum.accumulate(values)
    at = np.where(values == best, np.arange(values.size), 0)
    return np.maximum.accumulate(at)
