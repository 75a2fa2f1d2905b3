"""Explanations for people and commissioners (library functions the site calls).

* :func:`explain_person`: for one person and each offer they ranked above the best place they
  got (every offer they ranked, if they got none), why they did not get it.
* :func:`explain_persons`: the same for many persons at once, sharing the work between them.
* :func:`price_of_fairness`: for each rule, the welfare lost by imposing it.
* :func:`marginal_place_values`: for each offer, the welfare one more place would add.

Units: money is integer pence; welfare and utility are the instance's integer utilities.

How a welfare "why not" is decided. Let ``V`` be the welfare of the result. The person is
forced into the offer (their pair gets a bonus larger than all other utility together, so any
optimum takes it if it can) and the problem is solved again:

1. still ``V`` or more: another allocation is just as good, and the tie went the other way;
2. otherwise each limit is relaxed on its own, in this order: one more place at the offer, no
   pot, then each rule left out; the first relaxation under which forcing the person in reaches
   ``V`` is the limit that binds, and is named;
3. if none does alone, several limits bind together.

Each "does forcing reach ``V``?" question is settled by network flows where they decide it (an
exact flow, a bound below ``V``, or a feasible flow at ``V``), and by a re-solve otherwise; the
answers are the same either way (see :class:`_WelfareJudge`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from engine.arrays import InstanceArrays, to_arrays
from engine.instance import Assignment, Instance, Offer, Person, Preference, Result, Rule
from engine.welfare import optimise
from engine.welfare_flow import welfare_network
from engine.welfare_lagrange import offer_potentials, repair
from engine.welfare_lagrange import relaxed as relaxed_model
from engine.welfare_model import WelfareModel, build_model, check_allocation

ReasonCode = Literal[
    "over_budget",
    "no_places",
    "full_higher_priority",
    "tie",
    "capacity",
    "pot",
    "rule",
    "several_limits",
    "unknown",
]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a person did not get one offer they ranked. ``rule`` is the index of the binding
    rule in ``policy.rules`` when ``code`` is ``"rule"``."""

    offer: str
    rank: int
    code: ReasonCode
    message: str
    rule: int | None = None


@dataclass(frozen=True, slots=True)
class FairnessCost:
    """What one rule costs. Welfare values are total utility; ``lost`` is
    ``welfare_without - welfare_with`` (None when the rules cannot all hold). ``proven`` is True
    when both solves were proven optimal."""

    rule: int
    type: str
    attribute: str
    welfare_with: int | None
    welfare_without: int | None
    lost: int | None
    proven: bool
    message: str


#: (persons tuple, id -> position) of the last few instances explained: the site explains
#: every person of one instance in turn, and rebuilding the index each time would be quadratic.
_INDEX_CACHE: list[tuple[tuple[Person, ...], dict[str, int]]] = []


def _person_index(instance: Instance) -> dict[str, int]:
    for persons, index in _INDEX_CACHE:
        if persons is instance.persons:
            return index
    index = {p.id: i for i, p in enumerate(instance.persons)}
    _INDEX_CACHE.insert(0, (instance.persons, index))
    del _INDEX_CACHE[4:]
    return index


_HOLDERS_CACHE: list[tuple[tuple[Assignment, ...], dict[str, list[str]]]] = []


def _holders(result: Result) -> dict[str, list[str]]:
    """Offer id -> the persons holding it in ``result`` (cached like :func:`_person_index`)."""
    for assignments, cached in _HOLDERS_CACHE:
        if assignments is result.assignments:
            return cached
    holders: dict[str, list[str]] = {}
    for a in result.assignments:
        holders.setdefault(a.offer, []).append(a.person)
    _HOLDERS_CACHE.insert(0, (result.assignments, holders))
    del _HOLDERS_CACHE[4:]
    return holders


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _rule_words(rule: Rule) -> str:
    if rule.type == "coverage_floor":
        share = round(100 * float(rule.min_share or 0.0))
        return f"at least {share}% of each {rule.attribute} group must get a place"
    if rule.type == "coverage_gap":
        gap = round(100 * float(rule.max_gap or 0.0))
        return f"each {rule.attribute} group's share of places must be within {gap}% of the others"
    return f"the {rule.attribute} group with the smallest share of places comes first"


def explain_person(
    instance: Instance,
    arrays: InstanceArrays,
    result: Result,
    person_id: str,
    *,
    time_limit_s: float = 10.0,
) -> list[Reason]:
    """Why ``person_id`` did not get each offer ranked above the best place they got (or any
    offer they ranked, if they got none), in rank order. ``time_limit_s`` bounds each re-solve
    of the welfare mechanism (seconds)."""
    return explain_persons(instance, arrays, result, [person_id], time_limit_s=time_limit_s)[
        person_id
    ]


def explain_persons(
    instance: Instance,
    arrays: InstanceArrays,
    result: Result,
    person_ids: list[str] | None = None,
    *,
    time_limit_s: float = 10.0,
) -> dict[str, list[Reason]]:
    """:func:`explain_person` for each of ``person_ids`` (default: every person), sharing the
    work between them. The answers are those of the module's method; most welfare questions
    ("can the person have the offer and the welfare stay ``V``?") are settled by network flows
    (see :class:`_WelfareJudge`), and only the rest are solved again, ``time_limit_s`` seconds
    each at most."""
    index = _person_index(instance)
    offers = {o.id: o for o in instance.offers}
    held_by: dict[str, list[Assignment]] = {}
    for a in result.assignments:
        held_by.setdefault(a.person, []).append(a)
    judge = _WelfareJudge(instance, result, time_limit_s) if result.mechanism != "stable" else None
    wanted = [p.id for p in instance.persons] if person_ids is None else list(person_ids)
    out: dict[str, list[Reason]] = {}
    for person_id in wanted:
        person = instance.persons[index[person_id]]
        got = held_by.get(person_id, [])
        best_rank = min((a.rank for a in got), default=None)
        held = {a.offer for a in got}
        reasons: list[Reason] = []
        for pref in sorted(person.preferences, key=lambda p: p.rank):
            if best_rank is not None and pref.rank >= best_rank:
                break
            if pref.offer in held:
                continue
            offer = offers[pref.offer]
            reason = _simple_reason(person, offer, pref.rank)
            if reason is None:
                if judge is None:
                    reason = _stable_reason(instance, result, person, offer, pref.rank)
                else:
                    reason = _welfare_reason(judge, person, offer, pref.rank)
            reasons.append(reason)
        out[person_id] = reasons
    return out


def _simple_reason(person: Person, offer: Offer, rank: int) -> Reason | None:
    if offer.price > person.budget:
        return Reason(
            offer.id,
            rank,
            "over_budget",
            f"This costs {_pounds(offer.price)} a place. Your budget is "
            f"{_pounds(person.budget)}, so it costs too much.",
        )
    if offer.capacity == 0:
        return Reason(offer.id, rank, "no_places", "This service has no places this round.")
    return None


def _priority(person: Person) -> tuple[int, float, str]:
    """Smaller is better: higher need, then lower lottery, then smaller id."""
    return (-person.need, person.lottery, person.id)


def _stable_reason(
    instance: Instance, result: Result, person: Person, offer: Offer, rank: int
) -> Reason:
    holders = _holders(result).get(offer.id, [])
    index = _person_index(instance)
    if len(holders) >= offer.capacity and all(
        _priority(instance.persons[index[h]]) < _priority(person) for h in holders
    ):
        return Reason(
            offer.id,
            rank,
            "full_higher_priority",
            "All its places went to people ahead of you in the queue: their need was higher, "
            "or their need was the same and they came first in the draw.",
        )
    return Reason(
        offer.id,
        rank,
        "unknown",
        "We could not work out why you did not get this place. Please ask your commissioner.",
    )


def _forced(instance: Instance, person_id: str, offer_id: str) -> Instance:
    """``instance`` with a bonus on the pair (person, offer) larger than all other utility."""
    bonus = 1 + sum(p.utility for person in instance.persons for p in person.preferences)
    persons = tuple(
        replace(
            person,
            preferences=tuple(
                Preference(p.offer, p.rank, p.utility + bonus) if p.offer == offer_id else p
                for p in person.preferences
            ),
        )
        if person.id == person_id
        else person
        for person in instance.persons
    )
    return replace(instance, persons=persons)


def _forced_welfare(instance: Instance, person_id: str, offer_id: str, limit: float) -> int | None:
    """Best welfare (without the bonus) of allocations that give the person the offer; None if
    there is none or none was found in time."""
    forced = _forced(instance, person_id, offer_id)
    arrays = to_arrays(forced)
    model, outcome = optimise(forced, arrays, time.perf_counter() + limit)
    if outcome.status not in ("optimal", "feasible"):
        return None
    pairs = model.pair[outcome.chosen]
    person_index = arrays.person_ids.index(person_id)
    offer_index = arrays.offer_ids.index(offer_id)
    hit = (arrays.pair_person[pairs] == person_index) & (arrays.pair_offer[pairs] == offer_index)
    if not hit.any():
        return None
    bonus = 1 + sum(p.utility for person in instance.persons for p in person.preferences)
    return int(model.utility[outcome.chosen].sum()) - bonus


#: Multiplier scale of the pot's Lagrangian bound: weights are ``SCALE * utility - k * price``.
_SCALE = 1000


class _WelfareJudge:
    """Answers "does forcing the person into the offer, under this relaxation, still reach the
    welfare ``V`` of the result?" for many persons, as :func:`_forced_welfare` would.

    * Where the relaxed problem is a network flow, the forced flow is the forced optimum itself
      (the solver solves exactly that flow), so the answer is exact and takes milliseconds.
    * Otherwise an upper bound comes first: the pot is priced by a multiplier (best one found
      by bisection on its subgradient) and the rest that is not a network is dropped; if even
      that bound is below ``V``, the answer is no. A priced flow that holds the pair and keeps
      every limit, with welfare ``V`` or more, proves yes.
    * Only what neither settles is solved again (``time_limit_s`` seconds at most).

    Relaxed models are built once per relaxation and shared by every person.
    """

    def __init__(self, instance: Instance, result: Result, time_limit_s: float) -> None:
        self.instance = instance
        self.target = result.objective or 0
        self.limit = time_limit_s
        self.models: dict[object, WelfareModel | None] = {}
        self.instances: dict[object, Instance] = {}
        self.solves = 0

    def relaxed_instance(self, key: object) -> Instance:
        if key in self.instances:
            return self.instances[key]
        instance = self.instance
        if key == "pot":
            relaxed = replace(instance, pot=None)
        elif isinstance(key, tuple) and key[0] == "capacity":
            relaxed = replace(
                instance,
                offers=tuple(
                    replace(o, capacity=o.capacity + 1) if o.id == key[1] else o
                    for o in instance.offers
                ),
            )
        elif isinstance(key, tuple) and key[0] == "rule":
            rules = instance.policy.rules
            i = int(key[1])
            relaxed = replace(
                instance, policy=replace(instance.policy, rules=rules[:i] + rules[i + 1 :])
            )
        else:
            relaxed = instance
        self.instances[key] = relaxed
        return relaxed

    def model(self, key: object) -> WelfareModel | None:
        """The relaxation's model, or None when its solve has two stages (a maximin rule)."""
        if key not in self.models:
            relaxed = self.relaxed_instance(key)
            if any(r.type == "maximize_min_coverage" for r in relaxed.policy.rules):
                self.models[key] = None
            else:
                self.models[key] = build_model(relaxed, to_arrays(relaxed))
        return self.models[key]

    def reaches(self, key: object, person_id: str, offer_id: str) -> bool:
        model = self.model(key)
        if model is not None:
            arrays = model.arrays
            p = arrays.person_ids.index(person_id)
            o = arrays.offer_ids.index(offer_id)
            at = np.flatnonzero((model.person == p) & (model.offer == o))
            if at.size == 0:
                # Not a usable pair: no allocation can hold it.
                return False
            settled = self._settle(model, int(at[0]))
            if settled is not None:
                return settled
        self.solves += 1
        relaxed = self.relaxed_instance(key)
        value = _forced_welfare(relaxed, person_id, offer_id, self.limit)
        return value is not None and value >= self.target

    def _forced_flow(
        self, model: WelfareModel, core: WelfareModel, weight: np.ndarray, pair: int
    ) -> np.ndarray | None:
        """The best flow of ``core`` under ``weight`` that holds ``pair``; None if none does."""
        bonus = 1 + int(np.abs(weight).sum())
        forced = weight.copy()
        forced[pair] += bonus
        solution = welfare_network(core, forced)
        if solution is None or pair not in set(solution.chosen.tolist()):
            return None
        return solution.chosen

    def _settle(self, model: WelfareModel, pair: int) -> bool | None:
        if model.is_network():
            chosen = self._forced_flow(model, model, model.utility, pair)
            return chosen is not None and int(model.utility[chosen].sum()) >= self.target
        core = replace(model, pot=None, budget_binds=np.zeros_like(model.budget_binds), rows=[])
        if not core.is_network():
            core = relaxed_model(model)
        target = self.target

        def priced(k: int) -> tuple[int | None, np.ndarray | None]:
            """``_SCALE`` times the bound for multiplier ``k / _SCALE``, and its flow."""
            weight = _SCALE * model.utility - k * model.price
            chosen = self._forced_flow(model, core, weight, pair)
            if chosen is None:
                return None, None
            pot = 0 if model.pot is None else model.pot
            return int(weight[chosen].sum()) + k * pot, chosen

        def proves_yes(chosen: np.ndarray) -> bool:
            if int(model.utility[chosen].sum()) < target:
                return False
            if not check_allocation(model, chosen):
                return True
            fixed = repair(model, chosen)
            return (
                fixed is not None
                and pair in set(fixed.tolist())
                and int(model.utility[fixed].sum()) >= target
                and not check_allocation(model, fixed)
            )

        if model.pot is None:
            value, chosen = priced(0)
            if value is None or value < _SCALE * target:
                return False
            return True if chosen is not None and proves_yes(chosen) else None
        lo, hi = 0, _SCALE * (int(model.utility.max(initial=0)) + 1)
        best: int | None = None
        while True:
            k = (lo + hi) // 2
            value, chosen = priced(k)
            if value is None:
                return False
            best = value if best is None else min(best, value)
            if best < _SCALE * target:
                return False
            assert chosen is not None
            if proves_yes(chosen):
                return True
            if hi - lo <= 1:
                return None
            if int(model.price[chosen].sum()) > model.pot:
                lo = k
            else:
                hi = k


def _welfare_reason(judge: _WelfareJudge, person: Person, offer: Offer, rank: int) -> Reason:
    if judge.reaches("base", person.id, offer.id):
        return Reason(
            offer.id,
            rank,
            "tie",
            "Someone else got this place, but it would have been just as good overall for you "
            "to have it. It could have gone either way.",
        )
    instance = judge.instance
    tries: list[tuple[object, Reason]] = [
        (
            ("capacity", offer.id),
            Reason(
                offer.id,
                rank,
                "capacity",
                "All its places went to other people, and that helped more people overall. "
                "If it had one more place, you could have had it.",
            ),
        )
    ]
    if instance.pot is not None:
        tries.append(
            (
                "pot",
                Reason(
                    offer.id,
                    rank,
                    "pot",
                    "There was not enough money left in the council's pot to pay for this place.",
                ),
            )
        )
    for index, rule in enumerate(instance.policy.rules):
        tries.append(
            (
                ("rule", index),
                Reason(
                    offer.id,
                    rank,
                    "rule",
                    "This place helped share places fairly between groups. The rule is: "
                    f"{_rule_words(rule)}.",
                    rule=index,
                ),
            )
        )
    for key, reason in tries:
        if judge.reaches(key, person.id, offer.id):
            return reason
    return Reason(
        offer.id,
        rank,
        "several_limits",
        "Several limits together stopped this: the number of places, the money, and the "
        "rules for sharing places fairly.",
    )


def price_of_fairness(instance: Instance, time_limit_s: float = 60.0) -> list[FairnessCost]:
    """For each rule, in index order: the best welfare with all the rules, the best welfare
    with that rule left out, and the difference (the welfare lost by imposing it).
    ``time_limit_s`` bounds each solve (seconds)."""
    with_all = _best_welfare(instance, time_limit_s)
    costs: list[FairnessCost] = []
    rules = instance.policy.rules
    for index, rule in enumerate(rules):
        without_rule = replace(
            instance,
            policy=replace(instance.policy, rules=rules[:index] + rules[index + 1 :]),
        )
        without = _best_welfare(without_rule, time_limit_s)
        lost = None if with_all[0] is None or without[0] is None else without[0] - with_all[0]
        if lost is None:
            message = (
                f"Rule {index} ({_rule_words(rule)}) cannot hold together with the other rules, "
                "so its cost cannot be measured."
            )
        else:
            message = (
                f"Rule {index} ({_rule_words(rule)}) lowers the total welfare by {lost}, "
                f"from {without[0]} to {with_all[0]}."
            )
        costs.append(
            FairnessCost(
                rule=index,
                type=rule.type,
                attribute=rule.attribute,
                welfare_with=with_all[0],
                welfare_without=without[0],
                lost=lost,
                proven=with_all[1] and without[1],
                message=message,
            )
        )
    return costs


def _best_welfare(instance: Instance, time_limit_s: float) -> tuple[int | None, bool]:
    arrays = to_arrays(instance)
    model, outcome = optimise(instance, arrays, time.perf_counter() + time_limit_s)
    if outcome.status not in ("optimal", "feasible"):
        return None, outcome.status == "infeasible"
    return int(model.utility[outcome.chosen].sum()), outcome.status == "optimal"


def marginal_place_values(
    instance: Instance,
    arrays: InstanceArrays,
    result: Result,
    *,
    offers: list[str] | None = None,
    time_limit_s: float = 10.0,
) -> dict[str, int]:
    """For each offer (or each of ``offers``): how much the best welfare would grow with one
    more place there (in utility; 0 where a place would not help).

    When the instance is a plain transportation problem (no pot, no rules, budgets that cannot
    bind), the answer is the offer's least optimal dual price, read from the flow: the value of
    a network flow is concave and piecewise linear in a capacity with integer breakpoints, so
    its right derivative, the least dual, is exactly the gain of one more place. Otherwise each
    offer's capacity is raised by one and the welfare solved again (``time_limit_s`` seconds
    each), and the gain is the difference of the two optima.
    """
    wanted = list(arrays.offer_ids) if offers is None else list(offers)
    model = build_model(instance, arrays)
    maximin = any(r.type == "maximize_min_coverage" for r in instance.policy.rules)
    plain = model.is_network() and not any(f.any() for f in model.floors.values()) and not maximin
    if plain:
        # Keep the pairs of offers with no place: one more place there may be wanted.
        pairs = np.flatnonzero(arrays.pair_affordable)
        model = replace(
            model,
            pair=pairs,
            person=arrays.pair_person[pairs],
            offer=arrays.pair_offer[pairs],
            utility=arrays.pair_utility[pairs],
            price=arrays.price[arrays.pair_offer[pairs]],
            max_placements=arrays.max_placements,
        )
        solution = welfare_network(model, model.utility)
        assert solution is not None
        v = offer_potentials(model, model.utility, solution.chosen)
        if v is not None:
            index = {o: i for i, o in enumerate(arrays.offer_ids)}
            return {o: int(v[index[o]]) for o in wanted}
    base = result.objective or 0
    gains: dict[str, int] = {}
    for offer_id in wanted:
        bigger = replace(
            instance,
            offers=tuple(
                replace(o, capacity=o.capacity + 1) if o.id == offer_id else o
                for o in instance.offers
            ),
        )
        value, _ = _best_welfare(bigger, time_limit_s)
        gains[offer_id] = max((value or 0) - base, 0) if value is not None else 0
    return gains
