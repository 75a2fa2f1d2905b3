"""The welfare problem in integer form, shared by the welfare solvers, the diagnosis and the tests.

Every constraint of the spec's "Feasible allocation" is turned into exact integer data here:

* a preference pair can be used only when the offer is affordable to the person and has a place;
* a person's budget is a knapsack row only when it can bind (when the dearest
  ``max_placements`` of their usable offers together cost more than the budget);
* a ``coverage_floor`` of share ``s`` on a group of ``n`` members becomes "at least ``k`` placed
  members", with ``k`` the smallest count whose share is >= ``s - 1e-9``;
* a ``coverage_gap`` of ``g`` becomes, for each ordered pair of groups ``(a, b)``,
  ``placed_a * n_b - placed_b * n_a <= floor((g + 1e-9) * n_a * n_b)``.

Shares are never compared as floating point inside a solver, so a returned allocation holds
the rules exactly as the spec checks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from engine.arrays import BoolArray, Groups, InstanceArrays, IntArray
from engine.instance import SHARE_TOLERANCE, Instance, Rule, Status


def floor_count(min_share: float, size: int) -> int:
    """The fewest placed members among ``size`` that give a coverage >= ``min_share - 1e-9``."""
    if size <= 0:
        return 0
    target = min_share - SHARE_TOLERANCE
    k = max(0, min(size, math.ceil(target * size)))
    # Settle the float rounding of the product by checking the shares themselves.
    while k > 0 and (k - 1) / size >= target:
        k -= 1
    while k < size and k / size < target:
        k += 1
    return k


def gap_limit(max_gap: float, size_a: int, size_b: int) -> int:
    """The largest ``placed_a * size_b - placed_b * size_a`` allowed by a gap of ``max_gap``."""
    limit = (Fraction(max_gap) + Fraction(SHARE_TOLERANCE)) * size_a * size_b
    return math.floor(limit)


def coverage_candidates(sizes: IntArray) -> list[Fraction]:
    """Every possible coverage value ``k / size`` of the groups, sorted, without repeats.

    Sorted through doubles: two different fractions with denominators below 2^31 differ by
    more than 2^-62, far above the rounding of a double near 1, and equal fractions round to
    the same double, so the order and the repeats come out exact."""
    ks, ns = [], []
    for n in sizes.tolist():
        if n > 0:
            ks.append(np.arange(n + 1, dtype=np.int64))
            ns.append(np.full(n + 1, n, dtype=np.int64))
    if not ks:
        return [Fraction(0)]
    k, n = np.concatenate(ks), np.concatenate(ns)
    _, first = np.unique(k / n, return_index=True)
    return [Fraction(int(k[i]), int(n[i])) for i in first.tolist()]


@dataclass(frozen=True)
class WelfareOutcome:
    """What a welfare search found: ``chosen`` model pairs, the status and the proven bound."""

    status: Status
    chosen: IntArray
    bound: int | None


@dataclass(frozen=True)
class GroupRow:
    """A linear constraint on the placed counts of the groups of one attribute:
    ``sum(coef[g] * placed[g]) <= rhs``. ``rule`` is the index of the rule it comes from."""

    attribute: str
    coef: dict[int, int]
    rhs: int
    rule: int | None


@dataclass
class WelfareModel:
    """The data of one welfare problem. Pair arrays are restricted to usable pairs; ``pair``
    maps them back to the pair indices of ``arrays``."""

    arrays: InstanceArrays
    pair: IntArray
    person: IntArray
    offer: IntArray
    utility: IntArray
    price: IntArray
    #: most places each person can hold (max_placements, capped by their usable pairs)
    max_placements: IntArray
    #: persons whose budget can bind across several placements
    budget_binds: BoolArray
    pot: int | None
    #: attribute -> fewest placed members per group (0 where no floor applies)
    floors: dict[str, IntArray] = field(default_factory=dict)
    #: group constraints other than floors (gaps)
    rows: list[GroupRow] = field(default_factory=list)
    #: attribute -> the smallest max_gap of its coverage_gap rules
    gaps: dict[str, float] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        return int(self.pair.shape[0])

    @property
    def attributes(self) -> list[str]:
        """Attributes with a floor or a gap row, in code-point order."""
        names = {a for a, f in self.floors.items() if f.any()} | {r.attribute for r in self.rows}
        return sorted(names)

    def groups(self, attribute: str) -> Groups:
        return self.arrays.groups[attribute]

    def is_network(self) -> bool:
        """True when the problem is a min-cost flow: no pot, no binding budget, no gap, floors
        on at most one attribute, and everyone in a floored group holds at most one place."""
        if self.pot is not None or self.budget_binds.any() or self.rows:
            return False
        floored = [a for a, f in self.floors.items() if f.any()]
        if len(floored) > 1:
            return False
        if floored:
            groups = self.groups(floored[0])
            need = self.floors[floored[0]]
            member = groups.member_group
            in_floored = (member >= 0) & (need[np.maximum(member, 0)] > 0)
            if (self.max_placements[in_floored] > 1).any():
                return False
        return True


def usable_pairs(arrays: InstanceArrays) -> IntArray:
    """Pairs that can appear in a feasible allocation: affordable, on an offer with a place."""
    ok = arrays.pair_affordable & (arrays.capacity[arrays.pair_offer] > 0)
    return np.flatnonzero(ok).astype(np.int64)


def build_model(
    instance: Instance,
    arrays: InstanceArrays,
    rules: tuple[Rule, ...] | None = None,
    *,
    include_pot: bool = True,
    extra_floors: dict[str, IntArray] | None = None,
) -> WelfareModel:
    """Build the integer welfare problem of ``instance`` with the given ``rules`` (default: the
    policy's rules). ``maximize_min_coverage`` rules are ignored here; the welfare solver turns
    them into floors (``extra_floors``, placed counts per group). ``include_pot=False`` drops
    the pot."""
    if rules is None:
        rules = instance.policy.rules
    pairs = usable_pairs(arrays)
    person = arrays.pair_person[pairs]
    offer = arrays.pair_offer[pairs]
    price = arrays.price[offer]
    n_persons = arrays.n_persons
    n_usable = np.bincount(person, minlength=n_persons)
    max_placements = np.minimum(arrays.max_placements, n_usable).astype(np.int64)

    budget_binds = np.zeros(n_persons, dtype=bool)
    multi = np.flatnonzero(max_placements > 1)
    if multi.size:
        # The budget binds only if the dearest max_placements usable offers cost more than it.
        starts = np.searchsorted(person, multi)
        for p, s in zip(multi.tolist(), starts.tolist(), strict=True):
            prices = np.sort(price[s : s + n_usable[p]])[::-1]
            if int(prices[: max_placements[p]].sum()) > int(arrays.budget[p]):
                budget_binds[p] = True

    the_pot = instance.pot if include_pot else None
    if the_pot is not None:
        # A pot that even the dearest possible allocation cannot reach never binds.
        per_offer = np.zeros(arrays.n_offers, dtype=np.int64)
        np.add.at(per_offer, offer, 1)
        dearest = int((np.minimum(per_offer, arrays.capacity) * arrays.price).sum())
        if dearest <= the_pot:
            the_pot = None

    floors: dict[str, IntArray] = {}
    rows: list[GroupRow] = []
    gaps: dict[str, float] = {}
    for index, rule in enumerate(rules):
        if rule.type == "maximize_min_coverage":
            continue
        groups = arrays.groups[rule.attribute]
        if rule.type == "coverage_floor":
            need = floors.setdefault(rule.attribute, np.zeros(len(groups.labels), dtype=np.int64))
            wanted = set(rule.values) if rule.values is not None else None
            for g, label in enumerate(groups.labels):
                if wanted is None or label in wanted:
                    k = floor_count(float(rule.min_share or 0.0), int(groups.sizes[g]))
                    need[g] = max(need[g], k)
        elif rule.type == "coverage_gap":
            gaps[rule.attribute] = min(gaps.get(rule.attribute, 1.0), float(rule.max_gap or 0.0))
            sizes = groups.sizes.tolist()
            for a in range(len(sizes)):
                for b in range(len(sizes)):
                    if a == b:
                        continue
                    limit = gap_limit(float(rule.max_gap or 0.0), sizes[a], sizes[b])
                    if limit >= sizes[a] * sizes[b]:
                        continue  # cannot bind
                    rows.append(GroupRow(rule.attribute, {a: sizes[b], b: -sizes[a]}, limit, index))
    for attribute, need in (extra_floors or {}).items():
        have = floors.setdefault(attribute, np.zeros(len(need), dtype=np.int64))
        np.maximum(have, need, out=have)
    return WelfareModel(
        arrays=arrays,
        pair=pairs,
        person=person,
        offer=offer,
        utility=arrays.pair_utility[pairs],
        price=price,
        max_placements=max_placements,
        budget_binds=budget_binds,
        pot=the_pot,
        floors=floors,
        rows=rows,
        gaps=gaps,
    )


def placed_counts(model: WelfareModel, attribute: str, placed: BoolArray) -> IntArray:
    groups = model.groups(attribute)
    member = groups.member_group
    return np.bincount(member[(member >= 0) & placed], minlength=len(groups.labels))


def check_allocation(model: WelfareModel, chosen: IntArray) -> list[str]:
    """Every way the allocation ``chosen`` (indices into the model's pairs) breaks the model.

    An empty list means it is feasible. Used as a guard on every solver's answer and in tests.
    """
    problems: list[str] = []
    arrays = model.arrays
    chosen = np.asarray(chosen, dtype=np.int64)
    if np.unique(chosen).size != chosen.size:
        problems.append("a pair is used twice")
    person = model.person[chosen]
    held = np.bincount(person, minlength=arrays.n_persons)
    if (held > arrays.max_placements).any():
        problems.append("a person holds more than max_placements places")
    spent = np.bincount(person, weights=model.price[chosen], minlength=arrays.n_persons)
    if (spent > arrays.budget).any():
        problems.append("a person's places cost more than their budget")
    taken = np.bincount(model.offer[chosen], minlength=arrays.n_offers)
    if (taken > arrays.capacity).any():
        problems.append("an offer has more placements than places")
    if model.pot is not None and int(model.price[chosen].sum()) > model.pot:
        problems.append("the spend is above the pot")
    placed = held > 0
    for attribute, need in model.floors.items():
        if (placed_counts(model, attribute, placed) < need).any():
            problems.append(f"a coverage floor on {attribute} does not hold")
    for row in model.rows:
        counts = placed_counts(model, row.attribute, placed)
        if sum(c * int(counts[g]) for g, c in row.coef.items()) > row.rhs:
            problems.append(f"a coverage gap on {row.attribute} does not hold")
    return problems


def pair_index(model: WelfareModel, persons: IntArray, offers: IntArray) -> IntArray:
    """The model pair of each (person, offer), -1 where the model has none."""
    arrays = model.arrays
    key = model.person * arrays.n_offers + model.offer
    order = np.argsort(key, kind="stable")
    wanted = persons * arrays.n_offers + offers
    at = np.searchsorted(key[order], wanted)
    at = np.minimum(at, max(order.size - 1, 0))
    if order.size == 0:
        return np.full(persons.size, -1, dtype=np.int64)
    found = key[order][at] == wanted
    return np.where(found, order[at], -1).astype(np.int64)


def restrict(model: WelfareModel, keep: IntArray) -> WelfareModel:
    """``model`` on the pairs ``keep`` only (indices into the model's pairs)."""
    return replace(
        model,
        pair=model.pair[keep],
        person=model.person[keep],
        offer=model.offer[keep],
        utility=model.utility[keep],
        price=model.price[keep],
    )


def improves(model: WelfareModel, chosen: IntArray, best_value: int) -> bool:
    """Whether the allocation ``chosen`` keeps every rule and is worth more than ``best_value``."""
    return int(model.utility[chosen].sum()) > best_value and not check_allocation(model, chosen)
