"""Infeasibility diagnosis, exactly as the spec's "Precise rules" define it."""

from __future__ import annotations

from engine.arrays import to_arrays
from engine.diagnosis import diagnose
from engine.instance import Instance, Offer, Person, Policy, Preference, Rule
from tests.engine.welfare_helpers import load_example


def person(pid: str, area: str, offers: list[str], budget: int = 1000) -> Person:
    return Person(
        id=pid,
        budget=budget,
        attributes={"area": area},
        preferences=tuple(
            Preference(offer=o, rank=r + 1, utility=10) for r, o in enumerate(offers)
        ),
    )


def entries(instance: Instance) -> list[tuple[int | None, str | None, float | None]]:
    return [(d.rule, d.group, d.best) for d in diagnose(instance, to_arrays(instance))]


def test_the_spec_example() -> None:
    instance, expected = load_example("infeasible-floor")
    want = [(d["rule"], d["group"], d["best"]) for d in expected["diagnosis"]]
    assert entries(instance) == want


def test_groups_that_compete_for_the_same_place_give_one_null_entry() -> None:
    # One place; each area could fill its floor of 1 alone, but not both at once.
    instance = Instance(
        persons=(person("a", "east", ["x"]), person("b", "west", ["x"])),
        offers=(Offer("x", 1, 100),),
        policy=Policy(rules=(Rule(type="coverage_floor", attribute="area", min_share=1.0),)),
    )
    assert entries(instance) == [(0, None, None)]


def test_groups_are_listed_in_code_point_order_with_their_best() -> None:
    # "West" sorts before "east" by code point (capital letters first).
    instance = Instance(
        persons=(
            person("a", "east", ["x"]),
            person("b", "east", []),
            person("c", "West", []),
            person("d", "West", ["x"]),
            person("e", "West", []),
        ),
        offers=(Offer("x", 2, 100),),
        policy=Policy(rules=(Rule(type="coverage_floor", attribute="area", min_share=0.6),)),
    )
    assert entries(instance) == [(0, "West", 1 / 3), (0, "east", 0.5)]


def test_the_pot_limits_a_groups_best_coverage() -> None:
    # Places for everyone, but the pot pays for two places of 4.00.
    instance = Instance(
        persons=tuple(person(f"p{i}", "north", ["x"]) for i in range(4)),
        offers=(Offer("x", 4, 400),),
        policy=Policy(rules=(Rule(type="coverage_floor", attribute="area", min_share=0.75),)),
        pot=800,
    )
    assert entries(instance) == [(0, "north", 0.5)]


def test_floors_that_hold_alone_but_not_together_give_the_single_null_entry() -> None:
    # Rule 0 wants east placed, rule 1 wants west placed; only one place.
    instance = Instance(
        persons=(person("a", "east", ["x"]), person("b", "west", ["x"])),
        offers=(Offer("x", 1, 100),),
        policy=Policy(
            rules=(
                Rule(type="coverage_floor", attribute="area", min_share=1.0, values=("east",)),
                Rule(type="coverage_floor", attribute="area", min_share=1.0, values=("west",)),
            )
        ),
    )
    assert entries(instance) == [(None, None, None)]


def test_a_floor_and_a_gap_that_conflict_give_the_single_null_entry() -> None:
    instance = Instance(
        persons=(person("a", "east", ["x"]), person("b", "west", [])),
        offers=(Offer("x", 1, 100),),
        policy=Policy(
            rules=(
                Rule(type="coverage_gap", attribute="area", max_gap=0.5),
                Rule(type="coverage_floor", attribute="area", min_share=1.0, values=("east",)),
            )
        ),
    )
    assert entries(instance) == [(None, None, None)]


def test_values_restrict_the_groups_that_are_diagnosed() -> None:
    instance = Instance(
        persons=(person("a", "east", []), person("b", "west", [])),
        offers=(Offer("x", 1, 100),),
        policy=Policy(
            rules=(
                Rule(
                    type="coverage_floor",
                    attribute="area",
                    min_share=0.5,
                    values=("west", "nowhere"),
                ),
            )
        ),
    )
    assert entries(instance) == [(0, "west", 0.0)]
