"""The explanations document, all questions of a round answered together.

Definitions (``shared/spec/explanations-format.md``): ``V`` is the result's welfare and
``forced(I, p, o)`` the best welfare of an allocation of ``I`` that gives ``p`` the offer ``o``.
A person's "why not" for ``o`` is the first of: ``tie`` (``forced(I) >= V``), ``capacity``
(``o`` with one more place), ``pot`` (no pot), ``rule`` (rule ``i`` left out), else
``several_limits``. Every relaxation ``R`` of the instance is one *model* (a
``maximize_min_coverage`` rule becomes the floors of ``R``'s own first stage), and each question
is "does ``forced(R, e) >= V``?" for a pair ``e``. Questions are settled, cheapest first:

1. **No allocation of ``R`` reaches ``V``** (its optimum ``W_R < V``): every question is "no".
2. **``R`` is a network** (:mod:`engine.explain_network`): ``forced(R, e) = W_R - loss(e)``,
   with every loss read off shortest-path trees of one optimal flow: exact.
3. **Otherwise, a Lagrangian bound**: for multipliers ``m >= 0`` of the side rows (pot,
   budgets, gaps, floors on a second attribute), ``forced(R, e) <= L(m) - loss_m(e)``, where
   ``L(m)`` is the priced flow's value and ``loss_m`` its loss (again from shortest-path
   trees); a bound below ``V`` is an exact "no".
4. **One more place, swapped**: for ``capacity``, the result with the person moved to the new
   place (giving up their least valued place if they must) is an allocation of the relaxed
   instance; when it keeps every limit and its welfare is ``V`` or more, the answer is "yes".
5. **What neither settles is solved exactly**: the pair's utility is raised by ``d`` =
   (the best welfare of ``R``, or a proven bound on it) - ``V`` + 1, so that an allocation
   without the pair can no longer reach ``V + d``; then ``forced(R, e) >= V`` exactly when the
   raised model's optimum reaches ``V + d`` (:func:`engine.welfare.maximise_welfare`).

Rule prices are one solve of each instance without its rule; place values are exact from the
flow's shortest-path tree from the sink when the instance is a network, and otherwise one
solve of each instance with one more place, except where bounds decide (an offer whose extra
place cannot be used by anyone who can pay for it is worth 0).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from engine.arrays import InstanceArrays, IntArray, to_arrays
from engine.explain import (
    EXPLANATIONS_FORMAT,
    Explanations,
    PersonExplanation,
    PlaceValue,
    ReasonCode,
    RulePrice,
    WhyNot,
    message_for,
)
from engine.explain_core import (
    PricedCore,
    SubProgram,
    best_of_places,
    best_with_place,
    forced_question,
)
from engine.explain_cycles import ResultCycles
from engine.explain_network import FlowState
from engine.explain_pool import TaskPool
from engine.instance import Instance, Person, Result
from engine.welfare import best_min_coverage, floors_for, maximise_welfare
from engine.welfare_flow import floors_can_hold
from engine.welfare_lagrange import side_prices
from engine.welfare_model import WelfareModel, build_model, pair_index, placed_counts

logger = logging.getLogger(__name__)

assert EXPLANATIONS_FORMAT  # the document's format, written by engine.explain_io

Progress = Callable[[str, int, int], None]

YES, NO, UNDECIDED = 1, 0, -1

#: Covering MIPs per batch of open questions, and how long each may take (seconds).
COVER_ROUNDS = 30
#: Open capacity questions an offer needs before covering programs are tried there.
COVER_AT_LEAST = 3
COVER_SECONDS = 3.0
#: ... and per open question it may answer, when that is longer.
COVER_SECONDS_EACH = 0.5
#: One covering program for the capacity questions of every offer at once, when its free
#: pairs are no more than this (above it, each offer's own covers are smaller and faster).
JOINT_FREE_UP_TO = 5_000


def explain_document(
    instance: Instance,
    result: Result,
    *,
    persons: list[str] | None,
    deadline: float,
    started: float,
    workers: int = 1,
    progress: Progress | None = None,
) -> Explanations:
    """See :func:`engine.explain.explain`."""
    arrays = to_arrays(instance)
    position = {pid: i for i, pid in enumerate(arrays.person_ids)}
    offer_position = {oid: j for j, oid in enumerate(arrays.offer_ids)}
    wanted = sorted(arrays.person_ids if persons is None else set(persons))
    held: dict[str, list[int]] = {}
    held_offers: dict[str, set[str]] = {}
    for a in result.assignments:
        held.setdefault(a.person, []).append(a.rank)
        held_offers.setdefault(a.person, set()).add(a.offer)
    offers = {o.id: o for o in instance.offers}

    # The questions: one per (person, offer ranked above their best place, not held).
    entries: list[tuple[str, list[WhyNot | None]]] = []
    q_person: list[int] = []
    q_offer: list[int] = []
    q_slot: list[tuple[int, int]] = []
    counts: Counter[str] = Counter()
    for k, pid in enumerate(wanted):
        person = instance.persons[position[pid]]
        best = min(held.get(pid, []), default=None)
        reasons: list[WhyNot | None] = []
        for pref in sorted(person.preferences, key=lambda p: p.rank):
            if best is not None and pref.rank >= best:
                break
            if pref.offer in held_offers.get(pid, set()):
                continue
            offer = offers[pref.offer]
            code: ReasonCode | None = None
            if offer.price > person.budget:
                code = "over_budget"
            elif offer.capacity == 0:
                code = "no_places"
            if code is not None:
                counts["simple"] += 1
                reasons.append(
                    WhyNot(offer.id, pref.rank, code, None, message_for(code, person, offer, None))
                )
                continue
            reasons.append(None)
            q_person.append(position[pid])
            q_offer.append(offer_position[pref.offer])
            q_slot.append((k, len(reasons) - 1))
        entries.append((pid, reasons))

    qp = np.asarray(q_person, dtype=np.int64)
    qo = np.asarray(q_offer, dtype=np.int64)
    codes: list[tuple[ReasonCode, int | None] | None] = [None] * len(q_slot)
    rules: list[RulePrice] = []
    places: list[PlaceValue] = []
    complete = True
    if result.mechanism == "stable":
        for i, decided in enumerate(_stable_codes(instance, arrays, result, qp, qo)):
            codes[i] = decided
        counts["queue"] += qp.size
    else:
        explainer = WelfareExplainer(instance, arrays, result, deadline, workers, counts)
        try:
            pending = np.arange(qp.size)
            steps: list[tuple[object, ReasonCode, int | None]] = [
                ("base", "tie", None),
                ("capacity", "capacity", None),
            ]
            if instance.pot is not None:
                steps.append(("pot", "pot", None))
            steps += [(("rule", i), "rule", i) for i in range(len(instance.policy.rules))]
            for key, code, rule in steps:
                if pending.size == 0:
                    break
                if progress is not None:
                    progress("persons", qp.size - pending.size, qp.size)
                answer = explainer.decide(key, qp[pending], qo[pending])
                # A solve that ran out of its own time is asked again with longer, while the
                # whole deadline allows: with none (the site's runs), every question is decided.
                again = np.flatnonzero(answer == UNDECIDED)
                while again.size and explainer.give_longer():
                    answer[again] = explainer.decide(key, qp[pending[again]], qo[pending[again]])
                    again = again[answer[again] == UNDECIDED]
                for i in pending[answer == YES].tolist():
                    codes[i] = (code, rule)
                undecided = pending[answer == UNDECIDED]
                if undecided.size:
                    complete = False
                pending = pending[answer == NO]
            for i in pending.tolist():
                codes[i] = ("several_limits", None)
            if persons is None:
                if progress is not None:
                    progress("rules", 0, len(instance.policy.rules))
                rules = explainer.rule_prices()
                if progress is not None:
                    progress("places", 0, arrays.n_offers)
                places = explainer.place_values()
                if len(rules) < len(instance.policy.rules) or len(places) < arrays.n_offers:
                    complete = False
        finally:
            explainer.close()

    out: list[PersonExplanation] = []
    for i, slot in enumerate(q_slot):
        answered = codes[i]
        if answered is None:
            continue
        k, j = slot
        pid = entries[k][0]
        person = instance.persons[position[pid]]
        offer = instance.offers[int(qo[i])]
        rank = next(p.rank for p in person.preferences if p.offer == offer.id)
        code, rule_index = answered
        binding = instance.policy.rules[rule_index] if rule_index is not None else None
        entries[k][1][j] = WhyNot(
            offer.id, rank, code, rule_index, message_for(code, person, offer, binding)
        )
    for pid, reasons in entries:
        if any(r is None for r in reasons):
            complete = False
            continue
        out.append(
            PersonExplanation(
                id=pid,
                ranks_held=tuple(sorted(held.get(pid, []))),
                why_not=tuple(r for r in reasons if r is not None),
            )
        )
    if progress is not None:
        progress("done", 1, 1)
    return Explanations(
        mechanism=result.mechanism,
        objective=result.objective,
        complete=complete,
        persons=tuple(out),
        rules=tuple(rules),
        places=tuple(places),
        explain_seconds=time.perf_counter() - started,
        settled=dict(counts),
    )


def _priority(person: Person) -> tuple[int, float, str]:
    """Smaller is better in an offer's queue: higher need, then lower lottery, then smaller id."""
    return (-person.need, person.lottery, person.id)


def _stable_codes(
    instance: Instance, arrays: InstanceArrays, result: Result, qp: IntArray, qo: IntArray
) -> list[tuple[ReasonCode, int | None]]:
    """``full_higher_priority`` where every place of the offer is held by someone ahead of the
    person in its queue, else ``unknown``."""
    index = {pid: i for i, pid in enumerate(arrays.person_ids)}
    holders: dict[str, list[int]] = {}
    for a in result.assignments:
        holders.setdefault(a.offer, []).append(index[a.person])
    # The last in each offer's queue among its holders.
    last = {
        offer: max(_priority(instance.persons[h]) for h in held) for offer, held in holders.items()
    }
    out: list[tuple[ReasonCode, int | None]] = []
    for p, o in zip(qp.tolist(), qo.tolist(), strict=True):
        offer = instance.offers[o]
        held = holders.get(offer.id, [])
        if len(held) >= offer.capacity and last[offer.id] < _priority(instance.persons[p]):
            out.append(("full_higher_priority", None))
        else:
            out.append(("unknown", None))
    return out


class WelfareExplainer:
    """The relaxations of one welfare instance and the answers to questions about them."""

    def __init__(
        self,
        instance: Instance,
        arrays: InstanceArrays,
        result: Result,
        deadline: float,
        workers: int,
        counts: Counter[str],
    ) -> None:
        self.instance = instance
        self.arrays = arrays
        self.result = result
        self.target = int(result.objective or 0)
        self.deadline = deadline
        self.workers = workers
        self.counts = counts
        self._models: dict[object, WelfareModel | None] = {}
        self._best: dict[object, tuple[int | None, int | None]] = {}
        self._states: dict[object, FlowState | None] = {}
        self._priced: dict[object, PricedCore | None] = {}
        self._chosen = self._result_pairs()
        self._rising: np.ndarray | None = None
        self._rising_known = False
        self._risen_need: IntArray | None = None
        self._widened: dict[int, tuple[WelfareModel, WelfareModel]] = {}
        self._cycles: dict[object, ResultCycles | None] = {}
        self._pool: TaskPool | None = None
        #: How long one exact solve may take: the policy's limit, made longer when questions
        #: are left undecided and there is time (see :meth:`give_longer`).
        self.solve_limit_s = float(instance.policy.time_limit_s)

    # --- relaxations -------------------------------------------------------------------------

    def _wide(self, model: WelfareModel) -> WelfareModel:
        """:func:`_widen`, kept for each model asked about (the same one is asked often)."""
        hit = self._widened.get(id(model))
        if hit is None or hit[0] is not model:
            if len(self._widened) > 8:  # models of one more place come and go, one per offer
                self._widened.clear()
            hit = (model, _widen(model))
            self._widened[id(model)] = hit
        return hit[1]

    def relaxed(self, key: object) -> tuple[Instance, InstanceArrays]:
        instance, arrays = self.instance, self.arrays
        if key == "pot":
            return replace(instance, pot=None), arrays
        if isinstance(key, tuple) and key[0] == "rule":
            i = int(key[1])
            rules = instance.policy.rules
            policy = replace(instance.policy, rules=rules[:i] + rules[i + 1 :])
            return replace(instance, policy=policy), arrays
        if isinstance(key, tuple) and key[0] == "place":
            o = int(key[1])
            capacity = arrays.capacity.copy()
            capacity[o] += 1
            offers = tuple(
                replace(x, capacity=x.capacity + 1) if j == o else x
                for j, x in enumerate(instance.offers)
            )
            return replace(instance, offers=offers), replace(arrays, capacity=capacity)
        return instance, arrays

    def model(self, key: object) -> WelfareModel | None:
        """The relaxation's model, its maximin rule (if any) turned into the floors of its own
        first stage; None when the relaxation has no feasible allocation."""
        if key not in self._models:
            instance, arrays = self.relaxed(key)
            model = build_model(instance, arrays)
            maximin = [r for r in instance.policy.rules if r.type == "maximize_min_coverage"]
            if maximin and arrays.groups[maximin[0].attribute].labels:
                attribute = maximin[0].attribute
                stage = self._stage_one(key, model, attribute)
                if stage is None:
                    self._models[key] = None
                    return None
                model = build_model(instance, arrays, extra_floors={attribute: stage})
            if isinstance(key, tuple) and key[0] == "place":
                return model  # one per offer: not kept, they would fill the memory
            self._models[key] = model
        return self._models[key]

    def _stage_one(self, key: object, model: WelfareModel, attribute: str) -> IntArray | None:
        """The floors of the relaxation's best smallest coverage. For one more place, start
        from the instance's own level: the level can only rise, and each candidate above it
        is one flow."""
        if isinstance(key, tuple) and key[0] == "place":
            base = self.model("base")
            rising = self._rising_offers()
            if rising is not None and base is not None and self._risen_need is not None:
                # One maximum flow said where the level rises, and to what (one step).
                return self._risen_need if rising[int(key[1])] else base.floors[attribute]
            if (
                base is not None
                and not model.rows
                and all(a == attribute or not need.any() for a, need in model.floors.items())
            ):
                return self._raise_level(model, attribute, base.floors[attribute])
        stage = best_min_coverage(model, attribute, self.deadline, self.instance.policy.seed)
        if stage is None:
            return None
        return stage[0]

    def _raise_level(self, model: WelfareModel, attribute: str, floors: IntArray) -> IntArray:
        from engine.welfare_model import coverage_candidates

        sizes = model.groups(attribute).sizes
        level = _level_of(floors, sizes)
        candidates = coverage_candidates(sizes)
        at = next((i for i, c in enumerate(candidates) if c > level), len(candidates))
        best = floors
        for candidate in candidates[at:]:
            need = np.maximum(floors_for(sizes, candidate), floors)
            if not floors_can_hold(model, attribute, need):
                break
            best = need
        return best

    def best(self, key: object) -> tuple[int | None, int | None]:
        """(best welfare, proven upper bound) of the relaxation; (None, None) if it has no
        feasible allocation; the welfare may be None with a bound when time ran out."""
        if key not in self._best:
            model = self.model(key)
            if model is None:
                self._best[key] = (None, None)
            elif model.is_network():
                state = self.state(key)
                value = None if state is None else state.value
                self._best[key] = (value, value)
            else:
                outcome = maximise_welfare(model, self.deadline, self.instance.policy.seed)
                self.counts["solves"] += 1
                if outcome.status == "infeasible":
                    self._best[key] = (None, None)
                elif outcome.status == "optimal":
                    value = int(model.utility[outcome.chosen].sum())
                    self._best[key] = (value, value)
                else:
                    value = (
                        int(model.utility[outcome.chosen].sum()) if outcome.chosen.size else None
                    )
                    self._best[key] = (value, outcome.bound)
        return self._best[key]

    def state(self, key: object) -> FlowState | None:
        """The optimal flow of a network relaxation (with the pairs of offers without places,
        so that one more place there can be valued)."""
        if key not in self._states:
            if isinstance(key, tuple) and key[0] == "place":
                # One per offer, each the size of the round: keep only the last one asked.
                for old in [k for k in self._states if isinstance(k, tuple) and k[0] == "place"]:
                    del self._states[old]
            model = self.model(key)
            assert model is not None and model.is_network()
            try:
                self._states[key] = FlowState(self._wide(model), self._wide(model).utility)
            except ValueError:
                self._states[key] = None
        return self._states[key]

    # --- questions ---------------------------------------------------------------------------

    def decide(self, key: object, qp: IntArray, qo: IntArray) -> IntArray:
        """YES, NO or UNDECIDED for each question "forced(relaxation, (qp, qo)) >= V"."""
        if key == "capacity":
            return self._decide_capacity(qp, qo)
        answer = np.full(qp.size, NO, dtype=np.int64)
        model = self.model(key)
        if model is None:
            self.counts["infeasible"] += qp.size
            return answer
        value, bound = self.best(key)
        if bound is None or bound < self.target:
            self.counts["optimum_below"] += qp.size
            return answer
        if model.is_network():
            state = self.state(key)
            assert state is not None
            pairs = pair_index(self._wide(model), qp, qo)
            slack = state.value - self.target
            losses = state.losses(np.maximum(pairs, 0), limit=slack)
            yes = (pairs >= 0) & (losses <= slack)
            answer[yes] = YES
            self.counts["flow"] += qp.size
            return answer
        return self._decide_general(key, model, qp, qo, answer)

    def priced(self, key: object) -> PricedCore | None:
        """The relaxation's side prices and priced core flow (None when its rules count a
        person who may hold several places: then only re-solves decide)."""
        if key not in self._priced:
            model = self.model(key)
            assert model is not None
            prices = side_prices(model, self._solve_deadline(), self.instance.policy.seed)
            self._priced[key] = (
                None if prices is None else PricedCore.build(model, prices, self.target)
            )
        return self._priced[key]

    def _solve_deadline(self) -> float:
        """When one solve must stop: the instance's own time limit, within the whole one."""
        return min(self.deadline, time.perf_counter() + self.solve_limit_s)

    def give_longer(self) -> bool:
        """Let each solve take four times as long, for the questions a solve left undecided;
        False when the whole deadline has passed (then they stay undecided)."""
        if time.perf_counter() >= self.deadline:
            return False
        self.solve_limit_s *= 4
        self.counts["longer"] += 1
        return True

    def _decide_general(
        self, key: object, model: WelfareModel, qp: IntArray, qo: IntArray, answer: IntArray
    ) -> IntArray:
        pairs = pair_index(model, qp, qo)
        value, bound = self.best(key)
        assert bound is not None
        usable = np.flatnonzero(pairs >= 0)
        self.counts["unusable"] += qp.size - usable.size
        core = self.priced(key)
        if core is None:
            for i in usable.tolist():
                answer[i] = self._forced_exact(model, int(pairs[i]), bound)
            return answer
        no = core.bound_says_no(pairs[usable])
        self.counts["bound"] += int(no.sum())
        open_ = usable[~no]
        if open_.size:
            found = self._cycles_yes(key, model, pairs[open_])
            answer[open_[found]] = YES
            self.counts["result_cycle"] += int(found.sum())
            open_ = open_[~found]
        if open_.size and key == "base":
            found = core.cycle_yes(pair_index(model, *self._result_people()), pairs[open_])
            answer[open_[found]] = YES
            self.counts["cycle_yes"] += int(found.sum())
            open_ = open_[~found]
        if open_.size:
            free = core.free_pairs()
            sub = SubProgram(model, core.prices, free, core.fixed_on(free), self.target)
            self.counts["free_pairs"] = max(self.counts["free_pairs"], int(free.size))
            answer[open_] = self._settle(sub, pairs[open_])
        return answer

    def _cycles_yes(
        self, key: object, model: WelfareModel, pairs: IntArray, extra: bool = False
    ) -> np.ndarray:
        """:class:`ResultCycles` of the relaxation (built once; none where a budget can bind
        across several places or the result is not optimal there)."""
        if key not in self._cycles:
            try:
                pot = self.relaxed(key)[0].pot
                found = ResultCycles(model, self._result_in(model), self.target, pot)
                self._cycles[key] = found
            except (ValueError, RuntimeError):
                self._cycles[key] = None
        cycles = self._cycles[key]
        if cycles is None:
            return np.zeros(pairs.size, dtype=bool)
        return cycles.yes(pairs, extra=extra)

    def _forced_exact(self, model: WelfareModel, pair: int, bound: int) -> int:
        """Whether some allocation of ``model`` holding ``pair`` reaches ``V``: the pair's
        utility is raised by ``d = bound - V + 1``, so that only an allocation holding it can
        reach ``V + d``; then one solve of the raised model decides."""
        self.counts["resolves"] += 1
        d = bound - self.target + 1
        utility = model.utility.copy()
        utility[pair] += d
        raised = replace(model, utility=utility)
        outcome = maximise_welfare(raised, self._solve_deadline(), self.instance.policy.seed)
        goal = self.target + d
        if outcome.status == "infeasible":
            return NO
        found = int(utility[outcome.chosen].sum()) if outcome.chosen.size else -1
        if found >= goal:
            return YES
        if outcome.status == "optimal" or (outcome.bound is not None and outcome.bound < goal):
            return NO
        return UNDECIDED

    @cached_property
    def _wanted(self) -> IntArray:
        """For each offer, how many persons chose it and can afford it."""
        arrays = self.arrays
        return np.bincount(arrays.pair_offer[arrays.pair_affordable], minlength=arrays.n_offers)

    def _pot_binds_with_place(self, o: int) -> bool:
        """Whether the pot, which the instance's own places can never reach (so its model has
        none), could bind once offer ``o`` has one more place."""
        pot = self.instance.pot
        if pot is None:
            return False
        arrays = self.arrays
        capacity = arrays.capacity.copy()
        capacity[o] += 1
        return int((np.minimum(self._wanted, capacity) * arrays.price).sum()) > pot

    def _settle(self, sub: SubProgram, pairs: IntArray) -> IntArray:
        """YES/NO/UNDECIDED for "an allocation of the sub-program holds the pair": covering
        MIPs first (each answers every question its allocation holds), then one feasibility
        MIP per question left."""
        answer = np.full(pairs.size, UNDECIDED, dtype=np.int64)
        sub.start_from(self._result_in(sub.model))
        self._cover_rounds(sub, pairs, answer, np.arange(pairs.size), least=1)
        left = np.flatnonzero(answer == UNDECIDED)
        for i in left.tolist():
            if answer[i] != UNDECIDED:
                continue  # held by an allocation found for an earlier question
            if time.perf_counter() > self.deadline:
                break
            answer[i], held = sub.reaches(int(pairs[i]), self._solve_deadline())
            self.counts["exact"] += 1
            if answer[i] == YES:
                also = left[(answer[left] == UNDECIDED) & np.isin(pairs[left], held)]
                answer[also] = YES
                self.counts["exact_also"] += int(also.size)
        return answer

    def _decide_capacity(self, qp: IntArray, qo: IntArray) -> IntArray:
        answer = np.full(qp.size, NO, dtype=np.int64)
        swapped = self._swap_reaches(qp, qo)
        answer[swapped] = YES
        self.counts["swap"] += int(swapped.sum())
        rest = np.flatnonzero(~swapped)
        base = self.model("base")
        if rest.size == 0 or base is None:
            return answer
        maximin = any(r.type == "maximize_min_coverage" for r in self.instance.policy.rules)
        if maximin:
            # One more place may raise the level the rule holds every group to.
            rises = [o for o in np.unique(qo[rest]).tolist() if self._level_rises(o)]
            rest = self._with_one_more_place(answer, rest, qp, qo, rises)
        if rest.size and base.pot is None:
            # The model has no pot row (its places cannot reach the pot), and one more place
            # may make the pot bind: those offers get a model of their own.
            binds = [o for o in np.unique(qo[rest]).tolist() if self._pot_binds_with_place(o)]
            rest = self._with_one_more_place(answer, rest, qp, qo, binds)
        if rest.size == 0:
            return answer
        if base.is_network():
            answer[rest] = self._capacity_network(base, qp[rest], qo[rest])
            return answer
        core = self.priced("base")
        if core is None:
            self._with_one_more_place(answer, rest, qp, qo, np.unique(qo[rest]).tolist())
            return answer
        pairs = pair_index(base, qp[rest], qo[rest])
        ok = pairs >= 0
        no = np.ones(rest.size, dtype=bool)
        no[ok] = core.capacity_bound_says_no(pairs[ok])
        self.counts["capacity_bound"] += int(no.sum())
        open_ = np.flatnonzero(~no)
        if open_.size:
            found = self._cycles_yes("base", base, pairs[open_], extra=True)
            answer[rest[open_[found]]] = YES
            self.counts["result_cycle"] += int(found.sum())
            open_ = open_[~found]
        answer[rest[open_]] = self._capacity_forced(core, pairs[open_], qo[rest[open_]])
        return answer

    def _capacity_forced(self, core: PricedCore, pairs: IntArray, offers: IntArray) -> IntArray:
        """Capacity questions no bound or cycle settled: one small program each
        (:func:`engine.explain_core.forced_question`, shared out over the workers); an
        allocation found answers every question of the same offer that it holds."""
        answer = np.full(pairs.size, UNDECIDED, dtype=np.int64)
        self._capacity_covers(core, pairs, offers, answer)

        def done(i: int, found: tuple[int, IntArray, int]) -> None:
            decided, held, n_free = found
            if answer[i] != UNDECIDED:
                return
            answer[i] = decided
            if n_free < 0:
                self.counts["forced_bound"] += 1
                return
            self.counts["exact"] += 1
            self.counts["forced_free"] += n_free
            if decided == YES:
                also = (answer == UNDECIDED) & (offers == offers[i]) & np.isin(pairs, held)
                answer[also] = YES
                self.counts["exact_also"] += int(also.sum())

        limit = self.solve_limit_s
        self._tasks(core).run(
            forced_question,
            ((i, (int(pairs[i]), int(offers[i]), limit, self.deadline)) for i in range(pairs.size)),
            done,
            skip=lambda i: answer[i] != UNDECIDED or time.perf_counter() > self.deadline,
        )
        return answer

    def _capacity_covers(
        self, core: PricedCore, pairs: IntArray, offers: IntArray, answer: IntArray
    ) -> None:
        """Covering programs before the forced ones. First one for every offer at once, when
        its free pairs are few enough: one more place at any one offer, and at least one
        question held with the place at its own offer; "none" settles every question at once
        (on the demo council most of them). Then, where an offer still has several open
        questions, covers of its own: one allocation with one more place there may hold
        several (on rounds with a gap most are "yes"). Covers stop at the first that answers
        fewer than two questions, or runs out of its seconds; the forced programs take what
        is left."""
        open_ = np.flatnonzero(answer == UNDECIDED)
        if open_.size >= COVER_AT_LEAST:
            extras = np.unique(offers[open_])
            free = core.free_pairs(max(core.widen_for(int(o)) for o in extras))
            if free.size <= JOINT_FREE_UP_TO:
                sub = SubProgram(
                    core.model, core.prices, free, core.fixed_on(free), self.target, extras=extras
                )
                self._cover_rounds(sub, pairs, answer, open_, least=1, offers=offers)
        for o in np.unique(offers).tolist():
            mine = np.flatnonzero((offers == o) & (answer == UNDECIDED))
            if mine.size < COVER_AT_LEAST:
                continue
            free = core.free_pairs(core.widen_for(o))
            sub = SubProgram(
                core.model, core.prices, free, core.fixed_on(free), self.target, extra=o
            )
            self._cover_rounds(sub, pairs, answer, mine, least=2)

    def _cover_rounds(
        self,
        sub: SubProgram,
        pairs: IntArray,
        answer: IntArray,
        among: IntArray,
        least: int,
        offers: IntArray | None = None,
    ) -> None:
        """Covering programs on ``sub`` for the questions ``among`` (positions in ``pairs``
        and ``answer``) still undecided: each says YES where its allocation holds them, or NO
        to all of them at once when none can be held; they stop when one answers fewer than
        ``least`` or time is up. ``offers``: each question is about one more place at its
        offer (``sub`` has them as ``extras``, see :meth:`SubProgram.cover_extras`)."""
        for _ in range(COVER_ROUNDS):
            left = among[answer[among] == UNDECIDED]
            if left.size < max(least, 1) or time.perf_counter() > self.deadline:
                return
            # A cover that proves "no" for many questions at once saves a program each: it
            # may take longer the more it can settle (else a busy machine loses them all).
            # Not so for capacity questions across offers: there each forced program proves
            # its "no" in a moment (on the demo council most in 0.03 s), and the joint proof
            # takes longer than all of them; the joint covers are for finding "yes" fast.
            seconds = COVER_SECONDS
            if offers is None:
                seconds = max(seconds, COVER_SECONDS_EACH * left.size)
            stop = min(self._solve_deadline(), time.perf_counter() + seconds)
            if offers is None:
                held, none = sub.cover(pairs[left], stop)
                hit = left[np.isin(pairs[left], held)]
            else:
                at, none = sub.cover_extras(pairs[left], offers[left], stop)
                hit = left[at]
            self.counts["cover_mips"] += 1
            if none:
                answer[left] = NO
                self.counts["cover_no"] += left.size
                return
            answer[hit] = YES
            self.counts["cover_yes"] += hit.size
            if hit.size < least:
                return

    def _tasks(self, core: PricedCore | None) -> TaskPool:
        """The worker pool for the exact programs: each worker holds the instance and the
        result, and ``core``'s model and side prices (the base model's) when there is one.
        Started when first used; a pool started without a core is replaced by one with."""
        if self._pool is not None and core is not None and "model" not in self._pool.state:
            self.close()
        if self._pool is None:
            state: dict[str, object] = {
                "instance": self.instance,
                "arrays": self.arrays,
                "result": self.result,
                "deadline": self.deadline,
                "target": self.target,
            }
            if core is not None:
                state.update(model=core.model, prices=core.prices)
            if self.workers <= 1:
                state["explainer"] = self  # the tasks run here: this one's models serve
            self._pool = TaskPool(self.workers, state)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _with_one_more_place(
        self, answer: IntArray, rest: IntArray, qp: IntArray, qo: IntArray, offers: list[int]
    ) -> IntArray:
        """Answer the questions of ``rest`` about ``offers`` on the instance with one more
        place at each (its own model); returns the questions left."""
        for o in offers:
            mine = rest[qo[rest] == o]
            if mine.size:
                answer[mine] = self.decide(("place", o), qp[mine], qo[mine])
        return rest[~np.isin(qo[rest], offers)]

    def _capacity_network(self, base: WelfareModel, qp: IntArray, qo: IntArray) -> IntArray:
        """Capacity questions of a network, from the flow's trees; an offer whose answer needs
        a second cycle through its new place gets a flow of its own."""
        answer = np.full(qp.size, NO, dtype=np.int64)
        wide = self._wide(base)
        state = self.state("base")
        assert state is not None
        pairs = pair_index(wide, qp, qo)
        ok = np.flatnonzero(pairs >= 0)
        slack = state.value - self.target
        single, lowest = state.capacity_costs(pairs[ok], slack)
        answer[ok[single <= slack]] = YES
        self.counts["flow"] += ok.size
        unsure = ok[(single > slack) & (lowest <= slack)]
        for o in np.unique(qo[unsure]).tolist():
            mine = unsure[qo[unsure] == o]
            bigger = FlowState(wide, wide.utility, extra=o)
            losses = bigger.losses(pairs[mine], limit=bigger.value - self.target)
            answer[mine] = np.where(losses <= bigger.value - self.target, YES, NO)
            self.counts["place_flows"] += 1
        return answer

    def _swap_reaches(self, qp: IntArray, qo: IntArray) -> np.ndarray:
        """The result with person ``qp`` moved onto a new place at ``qo`` (dropping their
        least valued place when they must): True where that keeps every limit of the
        instance with one more place there and reaches ``V``."""
        base = self.model("base")
        yes = np.zeros(qp.size, dtype=bool)
        if base is None:
            return yes
        arrays = self.arrays
        holdings: dict[int, list[tuple[int, int, int]]] = {}
        chosen = self._chosen
        for pair in chosen.tolist():
            p = int(arrays.pair_person[pair])
            holdings.setdefault(p, []).append(
                (int(arrays.pair_utility[pair]), int(arrays.price[arrays.pair_offer[pair]]), pair)
            )
        spend = int(arrays.price[arrays.pair_offer[chosen]].sum())
        pot = self.instance.pot
        # Placing one more person never breaks a floor; a gap it may.
        counts = {
            row.attribute: placed_counts(base, row.attribute, self._placed()) for row in base.rows
        }
        maximin = any(r.type == "maximize_min_coverage" for r in self.instance.policy.rules)
        for i, (p, o) in enumerate(zip(qp.tolist(), qo.tolist(), strict=True)):
            pair = _find_pair(arrays, p, o)
            if pair < 0 or not arrays.pair_affordable[pair]:
                continue
            u, price = int(arrays.pair_utility[pair]), int(arrays.price[o])
            mine = holdings.get(p, [])
            budget = int(arrays.budget[p])
            own = sum(c for _, c, _ in mine)
            options: list[tuple[int, int]] = []  # (welfare change, spend change)
            if len(mine) < int(arrays.max_placements[p]) and own + price <= budget:
                options.append((u, price))
            for uu, cc, _ in mine:
                if own - cc + price <= budget:
                    options.append((u - uu, price - cc))
            for dv, dc in options:
                if dv < 0 or (pot is not None and spend + dc > pot):
                    continue
                if not mine and not self._gaps_hold_with(base, counts, p):
                    continue
                if maximin and self._level_rises(o):
                    continue
                yes[i] = True
                break
        return yes

    def _widened_is_network(self, base: WelfareModel) -> bool:
        """Whether budgets still cannot bind once offers without places count: then one more
        place anywhere keeps the model a network (the pot is checked offer by offer)."""
        wide = self._wide(base)
        arrays = self.arrays
        n_affordable = np.bincount(wide.person, minlength=arrays.n_persons)
        could_hold = np.minimum(arrays.max_placements, n_affordable)
        if ((could_hold != wide.max_placements) & (could_hold > 1)).any():
            return False  # a floored person could take a second place
        for p in np.flatnonzero(wide.max_placements > 1).tolist():
            prices = np.sort(wide.price[wide.person == p])[::-1]
            if int(prices[: wide.max_placements[p]].sum()) > int(arrays.budget[p]):
                return False
        return True

    def _result_people(self) -> tuple[IntArray, IntArray]:
        """The result's placements as (person, offer) positions."""
        arrays = self.arrays
        return arrays.pair_person[self._chosen], arrays.pair_offer[self._chosen]

    def _placed(self) -> np.ndarray:
        placed = np.zeros(self.arrays.n_persons, dtype=bool)
        placed[self.arrays.pair_person[self._chosen]] = True
        return placed

    @staticmethod
    def _gaps_hold_with(model: WelfareModel, counts: dict[str, IntArray], p: int) -> bool:
        """Whether the gap rows still hold when the unplaced person ``p`` becomes placed."""
        for row in model.rows:
            g = int(model.groups(row.attribute).member_group[p])
            if g < 0:
                continue
            count = counts[row.attribute]
            total = sum(c * (int(count[h]) + (h == g)) for h, c in row.coef.items())
            if total > row.rhs:
                return False
        return True

    def _level_rises(self, o: int) -> bool:
        """Whether one more place at ``o`` raises the level the maximin rule holds every
        group to (so that the instance with that place has other floors)."""
        rising = self._rising_offers()
        if rising is not None:
            return bool(rising[o])
        base, bigger = self.model("base"), self.model(("place", o))
        if base is None or bigger is None:
            return True
        return any(
            not np.array_equal(base.floors.get(a, 0), need) for a, need in bigger.floors.items()
        )

    def _rising_offers(self) -> np.ndarray | None:
        """For each offer, whether one more place there raises the maximin level, from one
        maximum flow at the next level up; None when the level is not set by floors alone (a
        pot or other rows, floors on other attributes), and models per offer decide."""
        if self._rising_known:
            return self._rising
        self._rising_known = True
        rule = next(
            (r for r in self.instance.policy.rules if r.type == "maximize_min_coverage"), None
        )
        base = self.model("base")
        if rule is None or base is None or base.rows or base.pot is not None:
            return None
        attribute = rule.attribute
        if any(a != attribute and need.any() for a, need in base.floors.items()):
            return None
        from engine.welfare_flow import offers_one_place_lets_hold
        from engine.welfare_model import coverage_candidates

        rising = np.zeros(self.arrays.n_offers, dtype=bool)
        floors = base.floors.get(attribute)
        if floors is None:  # no one has the attribute: there is no level to raise
            self._rising = rising
            return rising
        sizes = base.groups(attribute).sizes
        level = _level_of(floors, sizes)
        above = [c for c in coverage_candidates(sizes) if c > level]
        if above:
            need = np.maximum(floors_for(sizes, above[0]), floors)
            rising[offers_one_place_lets_hold(self._wide(base), attribute, need)] = True
            self._risen_need = need
        self._rising = rising
        return rising

    def _risen_level_gains(self) -> dict[int, int]:
        """Place values of the offers where one more place raises the maximin level: the
        level rises to the same floors wherever the place is (one step: one place adds one
        unit), so one flow with the place at the first such offer, and one shortest-path
        tree from it, value the place at every other one (:meth:`FlowState.moved_place`)."""
        rising = self._rising_offers()
        if rising is None or not rising.any():
            return {}
        offers = np.flatnonzero(rising)
        first = int(offers[0])
        model = self.model(("place", first))
        base = self.model("base")
        if model is None or base is None or not model.is_network():
            return {}
        wide = self._wide(model)
        if not wide.is_network():
            return {}
        state = FlowState(wide, wide.utility)
        loss = state.moved_place(first)
        return {
            int(o): max(int(state.value - round(loss[o])) - self.target, 0)
            for o in offers.tolist()
            if np.isfinite(loss[o])
        }

    def _result_in(self, model: WelfareModel) -> IntArray:
        """The result's pairs as pairs of ``model`` (of a relaxation, say: all of them are
        there, since the result keeps every limit)."""
        pairs = pair_index(model, *self._result_people())
        return pairs[pairs >= 0]

    def _result_pairs(self) -> IntArray:
        arrays = self.arrays
        index = {pid: i for i, pid in enumerate(arrays.person_ids)}
        offer = {oid: j for j, oid in enumerate(arrays.offer_ids)}
        pairs = [
            _find_pair(arrays, index[a.person], offer[a.offer]) for a in self.result.assignments
        ]
        return np.asarray(pairs, dtype=np.int64)

    # --- rules and places --------------------------------------------------------------------

    def rule_prices(self) -> list[RulePrice]:
        out: list[RulePrice] = []
        for i, rule in enumerate(self.instance.policy.rules):
            if time.perf_counter() > self.deadline:
                break
            value, bound = self.best(("rule", i))
            if value is None and bound is not None:
                break  # time ran out
            if value is not None and bound != value:
                break
            lost = None if value is None else value - self.target
            out.append(RulePrice(i, rule.type, self.target, value, lost))
        self.counts["rules"] += len(out)
        return out

    def place_values(self) -> list[PlaceValue]:
        gains: dict[int, int] = {}
        base = self.model("base")
        maximin = any(r.type == "maximize_min_coverage" for r in self.instance.policy.rules)
        if base is not None and base.is_network() and self._widened_is_network(base):
            state = self.state("base")
            assert state is not None
            flow_gains = state.place_gains()
            offset = state.value - self.target
            risen = self._risen_level_gains() if maximin else {}
            gains.update(risen)
            self.counts["place_moved"] += len(risen)
            for o in range(self.arrays.n_offers):
                if (maximin and self._level_rises(o)) or self._pot_binds_with_place(o):
                    continue
                gains[o] = max(int(flow_gains[o]) + offset, 0)
            self.counts["place_flow"] += len(gains)
        elif base is not None and not maximin:
            self._place_values_priced(base, gains)
        unproven: list[int] = []

        def solved(o: int, found: tuple[int | None, int | None]) -> None:
            value, bound = found
            if value is None or bound != value:
                unproven.append(o)
                return
            gains[o] = max(value - self.target, 0)
            self.counts["place_solves"] += 1

        # The rest: one full solve each with one more place, shared out over the workers.
        self._tasks(
            self.priced("base") if base is not None and not base.is_network() else None
        ).run(
            _best_with_place,
            ((o, (o,)) for o in range(self.arrays.n_offers) if o not in gains),
            solved,
            skip=lambda _: bool(unproven) or time.perf_counter() > self.deadline,
        )
        ids = self.arrays.offer_ids
        return [PlaceValue(ids[o], gains[o]) for o in sorted(gains, key=lambda j: ids[j])]

    def _place_values_priced(self, base: WelfareModel, gains: dict[int, int]) -> None:
        """One more place at each offer of a model that is not a network: the Lagrangian
        bound of the priced core flow with that place says "no gain" for some offers. Of the
        rest, those where one more place does not raise the priced flow's value ("flat": on
        the demo council 37 of 76 offers, 35 of them worth nothing) are proven together by
        :func:`engine.explain_core.best_of_places`, one program for all of them and one more
        for each that does gain; each other offer gets a program of its own. All of them are
        on the pairs reduced costs leave free, with the target row (the result itself is
        worth ``V`` with one more place too), and start from the result."""
        core = self.priced("base")
        if core is None:
            return
        arrays = self.arrays
        # Offers some of whose wanted pairs the model leaves out (no places, say) are solved
        # in full: the core flow knows nothing of those pairs.
        in_model = np.bincount(base.offer, minlength=arrays.n_offers)
        bound = core.place_bound()
        rises = core.state.place_gains() > 0
        start = self._result_in(base)
        flat: list[int] = []
        rising: list[int] = []
        for o in np.flatnonzero(in_model == self._wanted).tolist():
            if base.pot is None and self._pot_binds_with_place(o):
                continue  # the model has no pot row, and one more place makes it bind
            if bound[o] <= self.target:
                gains[o] = 0
                self.counts["place_bound"] += 1
            else:
                (rising if rises[o] else flat).append(o)
        limit = self.solve_limit_s

        def tasks() -> Iterator[tuple[int, tuple[object, ...]]]:
            if flat:
                widen = max(core.widen_for(o) for o in flat)
                free = core.free_pairs(widen)
                together = np.asarray(flat, dtype=np.int64)
                yield -1, ("flat", together, free, core.fixed_on(free), start, limit)
            for o in rising:
                free = core.free_pairs(core.widen_for(o))
                yield o, ("one", o, free, core.fixed_on(free), start, limit)

        def done(key: int, found: tuple[dict[int, int], IntArray]) -> None:
            values, _ = found
            for o, value in values.items():
                gains[o] = max(value - self.target, 0)
            self.counts["place_together" if key < 0 else "place_core"] += len(values)

        self._tasks(core).run(
            _place_program,
            tasks(),
            done,
            skip=lambda _: time.perf_counter() > self.deadline,
        )


def _place_program(
    state: dict[str, Any],
    kind: str,
    offers: Any,
    free: IntArray,
    fixed: IntArray,
    start: IntArray,
    limit_s: float,
) -> tuple[dict[int, int], IntArray]:
    """A pool task: :func:`engine.explain_core.best_of_places` for the "flat" offers, or
    :func:`engine.explain_core.best_with_place` for "one"; the best welfare of each offer
    decided, and the offers left undecided."""
    deadline = float(state["deadline"])
    if kind == "flat":
        return best_of_places(state, offers, free, fixed, start, limit_s, deadline)
    o = int(offers)
    value = best_with_place(state, o, free, fixed, start, limit_s, deadline)
    if value is None:
        return {}, np.array([o], dtype=np.int64)
    return {o: value}, np.zeros(0, dtype=np.int64)


def _best_with_place(state: dict[str, Any], o: int) -> tuple[int | None, int | None]:
    """A pool task (:mod:`engine.explain_pool`): :meth:`WelfareExplainer.best` of the
    instance with one more place at offer ``o``, by an explainer of the worker's own."""
    explainer = state.get("explainer")
    if explainer is None:
        explainer = WelfareExplainer(
            state["instance"], state["arrays"], state["result"], state["deadline"], 1, Counter()
        )
        state["explainer"] = explainer
    return explainer.best(("place", o))


def _level_of(floors: IntArray, sizes: IntArray) -> Fraction:
    shares = [
        Fraction(int(f), int(n))
        for f, n in zip(floors.tolist(), sizes.tolist(), strict=True)
        if n > 0
    ]
    return min(shares, default=Fraction(0))


def _widen(model: WelfareModel) -> WelfareModel:
    """A network model with the pairs of offers without places too (affordable pairs): they
    carry no flow, but one more place there may be wanted."""
    arrays = model.arrays
    pairs = np.flatnonzero(arrays.pair_affordable).astype(np.int64)
    if pairs.size == model.n_pairs:
        return model
    person = arrays.pair_person[pairs]
    # A person may now count offers without places towards their places; they carry no flow,
    # but one more place there may be a second place for someone.
    n_affordable = np.bincount(person, minlength=arrays.n_persons)
    max_placements = np.minimum(arrays.max_placements, n_affordable).astype(np.int64)
    from engine.welfare_flow import floored_attribute

    attribute = floored_attribute(model)
    if attribute is not None:
        # Everyone sends one unit per place they may hold, and a floored group's unplaced
        # units are limited: keep the floored people's count as it is.
        floored = model.groups(attribute).member_group >= 0
        max_placements = np.where(floored, model.max_placements, max_placements)
    return replace(
        model,
        pair=pairs,
        person=person,
        offer=arrays.pair_offer[pairs],
        utility=arrays.pair_utility[pairs],
        price=arrays.price[arrays.pair_offer[pairs]],
        max_placements=max_placements,
    )


def _find_pair(arrays: InstanceArrays, p: int, o: int) -> int:
    lo, hi = int(arrays.pair_start[p]), int(arrays.pair_start[p + 1])
    hit = np.flatnonzero(arrays.pair_offer[lo:hi] == o)
    return lo + int(hit[0]) if hit.size else -1


__all__ = ["WelfareExplainer", "explain_document"]
