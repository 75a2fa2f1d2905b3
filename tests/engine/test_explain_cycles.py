"""The result's exchange cycles (``engine.explain_cycles``): every "yes" they give is a "yes"
of the brute force, and on rounds with a pot they find the "yes" answers that the Lagrangian
bound leaves open."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.arrays import to_arrays
from engine.explain_cycles import ResultCycles
from engine.explain_welfare import WelfareExplainer
from engine.generate import generate
from engine.instance import Instance, Offer, Person, Policy, Preference
from engine.welfare import solve_welfare
from tests.engine.bruteforce import brute_forced
from tests.engine.test_explain_properties import tiny_instances


def _cycles(instance: Instance) -> tuple[WelfareExplainer, ResultCycles] | None:
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    if result.status != "optimal":
        return None
    explainer = WelfareExplainer(instance, arrays, result, time.perf_counter() + 60, 1, Counter())
    model = explainer.model("base")
    if model is None or model.budget_binds.any():
        return None
    return explainer, ResultCycles(
        model, explainer._result_in(model), explainer.target, instance.pot
    )


def _level_rises(explainer: WelfareExplainer, o: int) -> bool:
    """Whether one more place at ``o`` raises a maximin rule's level: the result's cycles keep
    the instance's level, so the explainer never asks them about such an offer."""
    rules = explainer.instance.policy.rules
    return any(r.type == "maximize_min_coverage" for r in rules) and explainer._level_rises(o)


def _with_place(instance: Instance, offer_id: str) -> Instance:
    offers = tuple(
        replace(o, capacity=o.capacity + 1) if o.id == offer_id else o for o in instance.offers
    )
    return replace(instance, offers=offers)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(("pot", "gap", "floors", "mixed")).flatmap(tiny_instances))
def test_every_yes_is_an_allocation_worth_the_optimum(instance: Instance) -> None:
    found = _cycles(instance)
    assume(found is not None)
    assert found is not None
    explainer, cycles = found
    model = cycles.model
    unused = np.flatnonzero(~cycles.used)
    target = explainer.target
    for extra in (False, True):
        yes = cycles.yes(unused, extra=extra)
        for k in unused[yes].tolist():
            if extra and _level_rises(explainer, int(model.offer[k])):
                continue  # the explainer answers these on the instance's own new level
            person = explainer.arrays.person_ids[int(model.person[k])]
            offer = explainer.arrays.offer_ids[int(model.offer[k])]
            where = _with_place(instance, offer) if extra else instance
            best = brute_forced(where, person, offer)
            assert best is not None and best >= target, (person, offer, extra, best, target)


def test_a_swap_that_keeps_the_spend_is_found() -> None:
    # Two people who like two offers of one price equally: either way round is optimal,
    # and the pot binds, so only the exchange keeps both the value and the spend.
    offers = (Offer(id="a", capacity=1, price=500), Offer(id="b", capacity=1, price=500))
    persons = tuple(
        Person(
            id=pid,
            budget=1000,
            preferences=(
                Preference(offer="a", rank=1, utility=50),
                Preference(offer="b", rank=2, utility=50),
            ),
        )
        for pid in ("p", "q")
    )
    instance = Instance(
        persons=persons, offers=offers, pot=1000, policy=Policy(mechanism="welfare", rules=())
    )
    found = _cycles(instance)
    assert found is not None
    _, cycles = found
    unused = np.flatnonzero(~cycles.used)
    assert cycles.yes(unused).any()


def test_on_a_generated_round_with_a_pot_the_cycles_answer_open_questions() -> None:
    instance = generate("s", seed=5, variant="pot")
    found = _cycles(instance)
    assert found is not None
    explainer, cycles = found
    core = explainer.priced("base")
    assert core is not None
    unused = np.flatnonzero(~cycles.used)
    open_ = unused[~core.bound_says_no(unused)]
    yes = cycles.yes(open_)
    # The Lagrangian bound leaves these open; the exchange cycles answer many of them.
    assert yes.sum() >= 50


def test_a_second_cycle_pays_for_one_more_place() -> None:
    # r holds o and q holds d; the pot is spent. With one more place at o, p can have it
    # only if q moves to c, which costs nothing: two cycles through the sink at once.
    offers = (
        Offer(id="o", capacity=1, price=500),
        Offer(id="d", capacity=1, price=500),
        Offer(id="c", capacity=1, price=0),
    )

    def wants(pid: str, *choices: tuple[str, int]) -> Person:
        prefs = tuple(
            Preference(offer=oid, rank=rank, utility=value)
            for rank, (oid, value) in enumerate(choices, start=1)
        )
        return Person(id=pid, budget=1000, preferences=prefs)

    persons = (wants("p", ("o", 80)), wants("q", ("d", 100), ("c", 90)), wants("r", ("o", 100)))
    instance = Instance(persons=persons, offers=offers, pot=1000, policy=Policy())
    found = _cycles(instance)
    assert found is not None
    explainer, cycles = found
    assert explainer.target == 200
    model = cycles.model
    pair = int(np.flatnonzero((model.person == 0) & (model.offer == 0))[0])
    assert not cycles.yes(np.array([pair]))[0]  # no: r has o and is worth more there
    assert cycles.yes(np.array([pair]), extra=True)[0]
    best = brute_forced(_with_place(instance, "o"), "p", "o")
    assert best is not None and best >= 200
