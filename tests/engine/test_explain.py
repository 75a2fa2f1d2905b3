"""Explanations: why not, the price of fairness, and the marginal value of a place."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.arrays import to_arrays
from engine.explain_resolve import (
    explain_person,
    explain_persons,
    marginal_place_values,
    price_of_fairness,
)
from engine.instance import (
    Assignment,
    Instance,
    Metrics,
    Offer,
    Policy,
    Result,
    Rule,
)
from engine.welfare import solve_welfare
from tests.engine.bruteforce import brute_welfare
from tests.engine.test_welfare_properties import instances
from tests.engine.welfare_helpers import load_example, person


def explain(instance: Instance, person_id: str) -> list[tuple[str, str, int | None]]:
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    return [(r.offer, r.code, r.rule) for r in explain_person(instance, arrays, result, person_id)]


def test_over_budget_and_no_places_come_first() -> None:
    instance = Instance(
        persons=(person("a", 1000, [("dear", 90), ("shut", 80), ("ok", 10)]),),
        offers=(Offer("dear", 5, 2000), Offer("shut", 0, 100), Offer("ok", 1, 100)),
    )
    assert explain(instance, "a") == [("dear", "over_budget", None), ("shut", "no_places", None)]
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    first = explain_person(instance, arrays, result, "a")[0]
    assert "£20.00" in first.message and "£10.00" in first.message


def test_offers_at_or_below_the_place_held_are_not_explained() -> None:
    instance = Instance(
        persons=(person("a", 1000, [("x", 90), ("y", 80)]),),
        offers=(Offer("x", 1, 100), Offer("y", 1, 100)),
    )
    assert explain(instance, "a") == []


def test_capacity_binds_when_someone_else_values_the_place_more() -> None:
    instance = Instance(
        persons=(person("a", 1000, [("x", 100)]), person("b", 1000, [("x", 50)])),
        offers=(Offer("x", 1, 100),),
    )
    assert explain(instance, "b") == [("x", "capacity", None)]


def test_a_tie_is_reported_as_a_tie() -> None:
    instance = Instance(
        persons=(person("a", 1000, [("x", 70)]), person("b", 1000, [("x", 70)])),
        offers=(Offer("x", 1, 100),),
    )
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    loser = result.unassigned[0]
    assert [r.code for r in explain_person(instance, arrays, result, loser)] == ["tie"]


def test_the_pot_binds() -> None:
    # Plenty of places, but the pot pays for one place only; a's place is worth more.
    instance = Instance(
        persons=(person("a", 1000, [("x", 100)]), person("b", 1000, [("x", 60)])),
        offers=(Offer("x", 5, 800),),
        pot=1000,
    )
    assert explain(instance, "b") == [("x", "pot", None)]


def test_a_named_rule_binds() -> None:
    # Two places at x, but the gap rule (north at most 0.5 ahead of south, whose only member
    # wants nothing) stops the second north person from taking the spare place.
    instance = Instance(
        persons=(
            person("n1", 1000, [("x", 100)], attributes={"area": "north"}),
            person("n2", 1000, [("x", 90)], attributes={"area": "north"}),
            person("s1", 1000, [], attributes={"area": "south"}),
        ),
        offers=(Offer("x", 2, 100),),
        policy=Policy(rules=(Rule(type="coverage_gap", attribute="area", max_gap=0.5),)),
    )
    assert explain(instance, "n2") == [("x", "rule", 0)]
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    (reason,) = explain_person(instance, arrays, result, "n2")
    assert "area" in reason.message


def test_stable_full_with_higher_priority() -> None:
    instance = Instance(
        persons=(
            person("a", 1000, [("x", 100)], need=3, lottery=0.5),
            person("b", 1000, [("x", 100)], need=1, lottery=0.1),
        ),
        offers=(Offer("x", 1, 100),),
        policy=Policy(mechanism="stable"),
    )
    result = Result(
        status="stable",
        mechanism="stable",
        objective=100,
        bound=None,
        assignments=(Assignment("a", "x", 1, 100, 100),),
        unassigned=("b",),
        metrics=Metrics(2, 1, 1, 100, {1: 1}, {}),
    )
    reasons = explain_person(instance, to_arrays(instance), result, "b")
    assert [r.code for r in reasons] == ["full_higher_priority"]


def test_price_of_fairness_on_the_floor_example() -> None:
    instance, _ = load_example("welfare-floor")
    (cost,) = price_of_fairness(instance, time_limit_s=10)
    assert (cost.welfare_with, cost.welfare_without, cost.lost) == (210, 230, 20)
    assert cost.proven
    assert "20" in cost.message


def test_price_of_fairness_when_the_rules_cannot_hold() -> None:
    instance, _ = load_example("infeasible-floor")
    costs = price_of_fairness(instance, time_limit_s=10)
    assert [c.lost for c in costs] == [None, None]
    assert costs[1].welfare_without is not None


@st.composite
def plain_instances(draw: st.DrawFn) -> Instance:
    n_offers = draw(st.integers(1, 3))
    offers = tuple(Offer(f"o{j}", draw(st.integers(0, 2)), 100) for j in range(n_offers))
    persons = []
    for i in range(draw(st.integers(1, 5))):
        order = draw(st.permutations(range(n_offers)))
        k = draw(st.integers(0, n_offers))
        prefs = [(f"o{j}", draw(st.integers(0, 100))) for j in order[:k]]
        persons.append(person(f"p{i}", 1000, prefs, max_placements=draw(st.integers(1, 2))))
    return Instance(persons=tuple(persons), offers=offers)


@settings(max_examples=150, deadline=None)
@given(plain_instances())
def test_marginal_values_from_the_flow_equal_a_brute_force_resolve(instance: Instance) -> None:
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    values = marginal_place_values(instance, arrays, result)
    for offer in instance.offers:
        bigger = replace(
            instance,
            offers=tuple(
                replace(o, capacity=o.capacity + 1) if o.id == offer.id else o
                for o in instance.offers
            ),
        )
        gain = (brute_welfare(bigger).value or 0) - (result.objective or 0)
        assert values[offer.id] == gain


def test_marginal_values_by_resolving_under_rules() -> None:
    instance, _ = load_example("welfare-floor")
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    values = marginal_place_values(instance, arrays, result)
    # One more place at o-a lets p-01 in as well (+100); one more at o-b gives p-01 o-b
    # (+80); o-c already has a spare place.
    assert values == {"o-a": 100, "o-b": 80, "o-c": 0}


def _resolve_every_question(instance: Instance, arrays: object, result: Result) -> dict:
    """The module's method with a re-solve for every welfare question (no flow shortcuts)."""
    import engine.explain_resolve as explain_module

    settle = explain_module._WelfareJudge._settle
    explain_module._WelfareJudge._settle = lambda self, model, pair: None  # type: ignore[method-assign]
    try:
        return explain_persons(instance, arrays, result, time_limit_s=10)  # type: ignore[arg-type]
    finally:
        explain_module._WelfareJudge._settle = settle  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "variant", ["plain", "pot", "floor", "gap", "maximin", "placements", "mixed"]
)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_batch_answers_match_a_re_solve_of_every_question(
    variant: str, data: st.DataObject
) -> None:
    instance = data.draw(instances(variant))
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    assume(result.status == "optimal")
    batch = explain_persons(instance, arrays, result)
    assert set(batch) == {p.id for p in instance.persons}
    assert batch == _resolve_every_question(instance, arrays, result)
    for p in instance.persons:
        assert explain_person(instance, arrays, result, p.id) == batch[p.id]
