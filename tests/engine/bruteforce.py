"""An independent brute-force welfare solver for tiny instances, used only by the tests.

It enumerates every allocation that respects the base constraints (preference lists,
max_placements, no offer twice, budgets, capacities, pot) by depth-first search over persons,
and checks the rules straight from the spec's wording with floating-point shares and the 1e-9
tolerance. It shares no code with the engine's solvers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import combinations

from engine.instance import Instance, Offer, Person, Result, Rule

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


# --- Explanations (shared/spec/explanations-format.md) by enumeration --------------------------
#
# ``forced(I)`` is the best utility of a feasible allocation of ``I`` that gives a person an
# offer: base constraints, every coverage_floor and coverage_gap of ``I``, and, when ``I`` has a
# maximize_min_coverage rule, every group of its attribute at or above the best smallest
# coverage ``I`` can reach (found without forcing anything, compared as exact fractions).
# :func:`brute_forced` follows those words for one question; :func:`brute_explanations`
# answers every question of a document from one enumeration (with every capacity one larger
# and no pot, a superset of every relaxation's allocations), filtered per relaxation.

Pair = tuple[str, str]  # (person id, offer id)
Priority = tuple[int, float, str]


def smallest_coverage(instance: Instance, allocation: Allocation, attribute: str) -> Fraction:
    """The smallest coverage among the groups of ``attribute`` (0 when it has no group)."""
    shares = coverage(instance, allocation, attribute)
    return min(shares.values()) if shares else Fraction(0)


def _maximin(rules: tuple[Rule, ...]) -> Rule | None:
    found = [r for r in rules if r.type == "maximize_min_coverage"]
    return found[0] if found else None


def brute_forced(instance: Instance, person_id: str, offer_id: str) -> int | None:
    """``forced(instance)`` for the pair, straight from the spec's definition."""
    rules = instance.policy.rules
    maximin = _maximin(rules)
    feasible = [
        a for a in base_allocations(instance) if all(rule_holds(instance, a, r) for r in rules)
    ]
    if maximin is not None and feasible:
        level = max(smallest_coverage(instance, a, maximin.attribute) for a in feasible)
        feasible = [
            a for a in feasible if smallest_coverage(instance, a, maximin.attribute) >= level
        ]
    values = [utility(instance, a) for a in feasible if (person_id, offer_id) in a]
    return max(values) if values else None


def with_capacity(instance: Instance, offer_id: str, extra: int = 1) -> Instance:
    """``instance`` with ``extra`` more places at ``offer_id``."""
    offers = tuple(
        replace(o, capacity=o.capacity + extra) if o.id == offer_id else o for o in instance.offers
    )
    return replace(instance, offers=offers)


def without_pot(instance: Instance) -> Instance:
    return replace(instance, pot=None)


def without_rule(instance: Instance, index: int) -> Instance:
    rules = instance.policy.rules[:index] + instance.policy.rules[index + 1 :]
    return replace(instance, policy=replace(instance.policy, rules=rules))


@dataclass(frozen=True)
class _Placement:
    """One allocation of the widest instance, with what the relaxations filter on."""

    pairs: frozenset[Pair]
    utility: int
    spend: int
    used: dict[str, int]  # offer id -> places taken
    placed: frozenset[str]
    example: Allocation  # the allocation itself (for coverage and rule_holds)


@dataclass(frozen=True)
class BruteSolve:
    """The two-stage optimum of one relaxation and ``forced`` of every pair under it."""

    best: int | None
    forced: dict[Pair, int]


class BruteExplainer:
    """Every relaxation the spec asks about, solved by filtering one enumeration.

    The enumeration is of ``instance`` with every capacity one larger and no pot; a relaxation
    keeps the allocations within its capacities and pot that hold its floors and gaps, then
    (with a maximize_min_coverage rule) those at its own best smallest coverage.
    """

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        widest = replace(
            instance,
            offers=tuple(replace(o, capacity=o.capacity + 1) for o in instance.offers),
            pot=None,
        )
        price = {o.id: o.price for o in instance.offers}
        self.placements: list[_Placement] = []
        for allocation in base_allocations(widest):
            used: dict[str, int] = {}
            for _, o in allocation:
                used[o] = used.get(o, 0) + 1
            self.placements.append(
                _Placement(
                    pairs=frozenset(allocation),
                    utility=utility(instance, allocation),
                    spend=sum(price[o] for _, o in allocation),
                    used=used,
                    placed=frozenset(p for p, _ in allocation),
                    example=allocation,
                )
            )
        # Coverage depends only on who is placed.
        self._holds: dict[tuple[Rule, frozenset[str]], bool] = {}
        self._smallest: dict[tuple[str, frozenset[str]], Fraction] = {}
        self._solved: dict[tuple[str | None, bool, int | None], BruteSolve] = {}

    def _rule_holds(self, rule: Rule, placement: _Placement) -> bool:
        key = (rule, placement.placed)
        if key not in self._holds:
            self._holds[key] = rule_holds(self.instance, placement.example, rule)
        return self._holds[key]

    def _smallest_coverage(self, attribute: str, placement: _Placement) -> Fraction:
        key = (attribute, placement.placed)
        if key not in self._smallest:
            self._smallest[key] = smallest_coverage(self.instance, placement.example, attribute)
        return self._smallest[key]

    def solve(
        self, *, extra_place: str | None = None, pot: bool = True, drop_rule: int | None = None
    ) -> BruteSolve:
        """The instance with one more place at ``extra_place``, without its pot (``pot``
        False), or without rule ``drop_rule``."""
        key = (extra_place, pot, drop_rule)
        if key in self._solved:
            return self._solved[key]
        instance = self.instance
        capacity = {o.id: o.capacity + (o.id == extra_place) for o in instance.offers}
        cap = instance.pot if pot else None
        rules = tuple(r for i, r in enumerate(instance.policy.rules) if i != drop_rule)
        kept = [
            a
            for a in self.placements
            if all(n <= capacity[o] for o, n in a.used.items())
            and (cap is None or a.spend <= cap)
            and all(self._rule_holds(r, a) for r in rules)
        ]
        maximin = _maximin(rules)
        if maximin is not None and kept:
            level = max(self._smallest_coverage(maximin.attribute, a) for a in kept)
            kept = [a for a in kept if self._smallest_coverage(maximin.attribute, a) >= level]
        forced: dict[Pair, int] = {}
        for a in kept:
            for pair in a.pairs:
                if forced.get(pair, -1) < a.utility:
                    forced[pair] = a.utility
        solved = BruteSolve(max((a.utility for a in kept), default=None), forced)
        self._solved[key] = solved
        return solved

    def reaches(self, pair: Pair, value: int, **relaxation: object) -> bool:
        """``forced`` of the relaxation for ``pair`` is at least ``value``."""
        got = self.solve(**relaxation).forced.get(pair)  # type: ignore[arg-type]
        return got is not None and got >= value


#: why_not entries as (offer, rank, code, rule); rules as (rule, type, with, without, lost);
#: places as (offer, gain); persons as (id, ranks_held, why_not).
BruteWhyNot = tuple[str, int, str, int | None]
BrutePerson = tuple[str, tuple[int, ...], tuple[BruteWhyNot, ...]]
BruteRule = tuple[int, str, int, int | None, int | None]
BrutePlace = tuple[str, int]


@dataclass(frozen=True)
class BruteExplanations:
    mechanism: str
    objective: int | None
    persons: tuple[BrutePerson, ...]
    rules: tuple[BruteRule, ...]
    places: tuple[BrutePlace, ...]


def _priority(person: Person) -> Priority:
    """Smaller is ahead in an offer's queue: higher need, then lower lottery, then smaller id."""
    return (-person.need, person.lottery, person.id)


def brute_code(
    instance: Instance,
    result: Result,
    person: Person,
    offer: Offer,
    explainer: BruteExplainer | None,
) -> tuple[str, int | None]:
    """The spec's code (and rule index) for ``person`` not getting ``offer``."""
    if offer.price > person.budget:
        return "over_budget", None
    if offer.capacity == 0:
        return "no_places", None
    if result.mechanism == "stable":
        by_id = {p.id: p for p in instance.persons}
        holders = [a.person for a in result.assignments if a.offer == offer.id]
        if len(holders) >= offer.capacity and all(
            _priority(by_id[h]) < _priority(person) for h in holders
        ):
            return "full_higher_priority", None
        return "unknown", None
    assert explainer is not None and result.objective is not None
    value = result.objective
    pair = (person.id, offer.id)
    if explainer.reaches(pair, value):
        return "tie", None
    if explainer.reaches(pair, value, extra_place=offer.id):
        return "capacity", None
    if instance.pot is not None and explainer.reaches(pair, value, pot=False):
        return "pot", None
    for index in range(len(instance.policy.rules)):
        if explainer.reaches(pair, value, drop_rule=index):
            return "rule", index
    return "several_limits", None


def brute_explanations(
    instance: Instance, result: Result, persons: list[str] | None = None
) -> BruteExplanations:
    """The explanations document of ``result`` by enumeration (without messages or timings).

    ``persons``: only these ids (then no rules and no places), as ``explain`` takes them.
    """
    welfare = result.mechanism != "stable"
    explainer = BruteExplainer(instance) if welfare else None
    offers = {o.id: o for o in instance.offers}
    held: dict[str, list[str]] = {}
    for a in result.assignments:
        held.setdefault(a.person, []).append(a.offer)
    by_id = {p.id: p for p in instance.persons}
    wanted = sorted(by_id if persons is None else set(persons))
    entries: list[BrutePerson] = []
    for pid in wanted:
        person = by_id[pid]
        rank_of = {pref.offer: pref.rank for pref in person.preferences}
        mine = held.get(pid, [])
        ranks_held = tuple(sorted(rank_of[o] for o in mine))
        best = ranks_held[0] if ranks_held else None
        why_not: list[BruteWhyNot] = []
        for pref in sorted(person.preferences, key=lambda p: p.rank):
            if (best is not None and pref.rank >= best) or pref.offer in mine:
                continue
            code, rule = brute_code(instance, result, person, offers[pref.offer], explainer)
            why_not.append((pref.offer, pref.rank, code, rule))
        entries.append((pid, ranks_held, tuple(why_not)))
    rules: list[BruteRule] = []
    places: list[BrutePlace] = []
    if welfare and persons is None:
        assert explainer is not None and result.objective is not None
        value = result.objective
        for index, rule in enumerate(instance.policy.rules):
            without = explainer.solve(drop_rule=index).best
            lost = None if without is None else without - value
            rules.append((index, rule.type, value, without, lost))
        for offer_id in sorted(offers):
            more = explainer.solve(extra_place=offer_id).best
            assert more is not None  # one more place keeps every allocation of the instance
            places.append((offer_id, max(more - value, 0)))
    return BruteExplanations(
        mechanism=result.mechanism,
        objective=result.objective,
        persons=tuple(entries),
        rules=tuple(rules),
        places=tuple(places),
    )
