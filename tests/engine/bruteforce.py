"""An independent brute-force welfare solver for tiny instances, used only by the tests.

It enumerates every allocation that respects the base constraints (preference lists,
max_placements, no offer twice, budgets, capacities, pot) by depth-first search over persons,
and checks the rules straight from the spec's wording with floating-point shares and the 1e-9
tolerance. It shares no code with the engine's solvers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

from engine.instance import Instance, Rule

TOLERANCE = 1e-9

Allocation = tuple[tuple[str, str], ...]  # (person id, offer id) pairs


def base_allocations(instance: Instance) -> Iterator[Allocation]:
    """Every allocation that respects the base constraints (no rules)."""
    offers = {o.id: o for o in instance.offers}
    persons = instance.persons
    left = {o.id: o.capacity for o in instance.offers}
    pot = instance.pot
    chosen: list[tuple[str, str]] = []

    def options(index: int) -> list[tuple[str, ...]]:
        person = persons[index]
        ids = [p.offer for p in person.preferences]
        result: list[tuple[str, ...]] = []
        for k in range(0, min(person.max_placements, len(ids)) + 1):
            for combo in combinations(ids, k):
                if sum(offers[o].price for o in combo) <= person.budget:
                    result.append(combo)
        return result

    all_options = [options(i) for i in range(len(persons))]

    def walk(index: int, spend: int) -> Iterator[Allocation]:
        if index == len(persons):
            yield tuple(chosen)
            return
        for combo in all_options[index]:
            cost = sum(offers[o].price for o in combo)
            if pot is not None and spend + cost > pot:
                continue
            if any(left[o] == 0 for o in combo):
                continue
            for o in combo:
                left[o] -= 1
                chosen.append((persons[index].id, o))
            yield from walk(index + 1, spend + cost)
            for o in combo:
                left[o] += 1
                chosen.pop()

    yield from walk(0, 0)


def coverage(instance: Instance, allocation: Allocation, attribute: str) -> dict[str, Fraction]:
    placed = {p for p, _ in allocation}
    members: dict[str, list[str]] = {}
    for person in instance.persons:
        if attribute in person.attributes:
            members.setdefault(person.attributes[attribute], []).append(person.id)
    return {g: Fraction(sum(1 for p in ids if p in placed), len(ids)) for g, ids in members.items()}


def rule_holds(instance: Instance, allocation: Allocation, rule: Rule) -> bool:
    shares = coverage(instance, allocation, rule.attribute)
    if rule.type == "coverage_floor":
        wanted = shares.keys() if rule.values is None else set(rule.values) & shares.keys()
        return all(float(shares[g]) >= (rule.min_share or 0.0) - TOLERANCE for g in wanted)
    if rule.type == "coverage_gap":
        if len(shares) < 2:
            return True
        values = [float(v) for v in shares.values()]
        return max(values) - min(values) <= (rule.max_gap or 0.0) + TOLERANCE
    return True  # maximize_min_coverage is a goal


def utility(instance: Instance, allocation: Allocation) -> int:
    value = {(p.id, pref.offer): pref.utility for p in instance.persons for pref in p.preferences}
    return sum(value[pair] for pair in allocation)


@dataclass(frozen=True)
class BruteOptimum:
    #: best utility (None when no allocation is feasible)
    value: int | None
    #: best smallest coverage of the maximize_min_coverage attribute, when there is such a rule
    min_coverage: Fraction | None
    count: int


def brute_welfare(instance: Instance, rules: tuple[Rule, ...] | None = None) -> BruteOptimum:
    """The welfare optimum (lexicographic with ``maximize_min_coverage``) by enumeration."""
    rules = instance.policy.rules if rules is None else rules
    maximin = [r for r in rules if r.type == "maximize_min_coverage"]
    best_key: tuple[Fraction, int] | None = None
    count = 0
    for allocation in base_allocations(instance):
        if not all(rule_holds(instance, allocation, r) for r in rules):
            continue
        count += 1
        first = Fraction(0)
        if maximin:
            shares = coverage(instance, allocation, maximin[0].attribute)
            first = min(shares.values()) if shares else Fraction(0)
        key = (first, utility(instance, allocation))
        if best_key is None or key > best_key:
            best_key = key
    if best_key is None:
        return BruteOptimum(None, None, 0)
    return BruteOptimum(best_key[1], best_key[0] if maximin else None, count)


def brute_group_best(instance: Instance, attribute: str, group: str) -> int:
    """The most members of ``group`` placed together under the base constraints."""
    best = 0
    for allocation in base_allocations(instance):
        placed = {p for p, _ in allocation}
        count = sum(
            1
            for person in instance.persons
            if person.attributes.get(attribute) == group and person.id in placed
        )
        best = max(best, count)
    return best
