"""Welfare mechanism: the spec's examples, and hand-worked cases with known optima."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.arrays import to_arrays
from engine.instance import Instance, Offer, Policy, Rule
from engine.welfare import coverage_candidates, solve_welfare
from engine.welfare_model import build_model, check_allocation, floor_count, gap_limit
from tests.engine.welfare_helpers import expected_as_spec, load_example, person, result_as_spec


def solve(instance: Instance, time_limit_s: float = 30.0):  # noqa: ANN201 - test helper
    return solve_welfare(instance, to_arrays(instance), time_limit_s)


@pytest.mark.parametrize("name", ["welfare-floor", "infeasible-floor"])
def test_spec_examples_reproduce_exactly(name: str) -> None:
    instance, expected = load_example(name)
    result = solve(instance)
    assert result_as_spec(result) == expected_as_spec(expected)


def test_infeasible_example_message_names_the_group_and_its_best() -> None:
    instance, _ = load_example("infeasible-floor")
    (entry,) = solve(instance).diagnosis
    assert '"west"' in entry.message and "0.5" in entry.message and "0.75" in entry.message


def test_floor_count_and_gap_limit_use_the_tolerance() -> None:
    assert floor_count(0.5, 2) == 1
    assert floor_count(1 / 3, 3) == 1
    assert floor_count(0.3333333333, 3) == 1  # 1/3 >= 0.3333333333 - 1e-9
    assert floor_count(0.34, 3) == 2
    assert floor_count(1.0, 7) == 7
    assert floor_count(0.0, 5) == 0
    assert gap_limit(0.5, 2, 4) == 4  # n_a * 4 - n_b * 2 <= 4  <=>  difference <= 0.5
    assert gap_limit(0.0, 3, 5) == 0


def test_pot_is_a_knapsack_not_a_greedy_choice() -> None:
    # Pot 100.00: the greedy best single pair (a, 90 utility, 70.00) leaves no room; the optimum
    # takes b and c (60 + 50 = 110 utility, 50.00 + 50.00).
    instance = Instance(
        persons=(
            person("a", 10000, [("x", 90)]),
            person("b", 10000, [("y", 60)]),
            person("c", 10000, [("z", 50)]),
        ),
        offers=(Offer("x", 1, 7000), Offer("y", 1, 5000), Offer("z", 1, 5000)),
        pot=10000,
    )
    result = solve(instance)
    assert result.status == "optimal"
    assert result.objective == result.bound == 110
    assert [(a.person, a.offer) for a in result.assignments] == [("b", "y"), ("c", "z")]


def test_several_placements_share_one_budget() -> None:
    # Budget 100.00 for two places: x (60.00, 100) + z (40.00, 30) beats x + y (too dear)
    # and y + z (70 + 30).
    instance = Instance(
        persons=(person("a", 10000, [("x", 100), ("y", 70), ("z", 30)], max_placements=2),),
        offers=(Offer("x", 1, 6000), Offer("y", 1, 5000), Offer("z", 1, 4000)),
    )
    result = solve(instance)
    assert result.objective == 130
    assert [a.offer for a in result.assignments] == ["x", "z"]


def test_gap_forces_a_less_valuable_allocation() -> None:
    # One place. North has 1 member, south 2; gap 0.5 allows north 1/1 with south 1/2 but not
    # north 1/1 with south 0/2. Without the gap the north person (utility 100) would take it.
    instance = Instance(
        persons=(
            person("n1", 100, [("x", 100)], attributes={"area": "north"}),
            person("s1", 100, [("x", 10)], attributes={"area": "south"}),
            person("s2", 100, [], attributes={"area": "south"}),
        ),
        offers=(Offer("x", 1, 0),),
        policy=Policy(rules=(Rule(type="coverage_gap", attribute="area", max_gap=0.5),)),
    )
    result = solve(instance)
    assert result.objective == 10
    assert result.metrics.coverage["area"] == {"north": 0.0, "south": 0.5}


def test_maximin_compares_coverages_of_unequal_groups_as_fractions() -> None:
    # Groups of 3 (a) and 2 (b), three places. Best smallest coverage: a 2/3, b 1/2 gives
    # min 1/2; a 1/3, b 2/2 gives 1/3; so 1/2, then the most welfare among those.
    members = [("a1", "a", 50), ("a2", "a", 40), ("a3", "a", 30), ("b1", "b", 90), ("b2", "b", 80)]
    instance = Instance(
        persons=tuple(
            person(pid, 100, [("x", u)], attributes={"team": team}) for pid, team, u in members
        ),
        offers=(Offer("x", 3, 0),),
        policy=Policy(rules=(Rule(type="maximize_min_coverage", attribute="team"),)),
    )
    result = solve(instance)
    assert result.status == "optimal"
    assert result.metrics.coverage["team"] == {"a": 2 / 3, "b": 0.5}
    assert result.objective == 50 + 40 + 90


def test_coverage_candidates_are_every_fraction_of_every_group() -> None:
    import numpy as np

    values = coverage_candidates(np.array([2, 3]))
    assert values == sorted({Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), 1})


def test_same_seed_gives_the_same_result() -> None:
    instance, _ = load_example("welfare-floor")
    first, second = solve(instance), solve(instance)
    assert first.assignments == second.assignments
    assert first.objective == second.objective


def test_no_floor_means_never_infeasible() -> None:
    instance = Instance(
        persons=(person("a", 0, [("x", 5)], attributes={"area": "n"}),),
        offers=(Offer("x", 0, 100),),
        policy=Policy(rules=(Rule(type="coverage_gap", attribute="area", max_gap=0.0),)),
        pot=0,
    )
    result = solve(instance)
    assert result.status == "optimal"
    assert result.objective == 0 and result.bound == 0


def test_floors_on_two_attributes_use_the_mip_and_hold() -> None:
    instance = Instance(
        persons=(
            person("a", 100, [("x", 100)], attributes={"area": "n", "team": "t"}),
            person("b", 100, [("x", 90)], attributes={"area": "s", "team": "t"}),
            person("c", 100, [("x", 80), ("y", 5)], attributes={"area": "n", "team": "u"}),
        ),
        offers=(Offer("x", 1, 0), Offer("y", 1, 0)),
        policy=Policy(
            rules=(
                Rule(type="coverage_floor", attribute="area", min_share=0.5),
                Rule(type="coverage_floor", attribute="team", min_share=0.5),
            )
        ),
    )
    arrays = to_arrays(instance)
    assert not build_model(instance, arrays).is_network()
    result = solve(instance)
    # s needs b placed (x); then c must take y for team u.
    assert result.objective == 95
    assert [(a.person, a.offer) for a in result.assignments] == [("b", "x"), ("c", "y")]


def test_check_allocation_reports_broken_constraints() -> None:
    instance = Instance(
        persons=(person("a", 100, [("x", 1)]), person("b", 100, [("x", 1)])),
        offers=(Offer("x", 1, 50),),
        pot=40,
    )
    model = build_model(instance, to_arrays(instance))
    import numpy as np

    problems = check_allocation(model, np.array([0, 1]))
    assert any("places" in p for p in problems)
    assert any("pot" in p for p in problems)
