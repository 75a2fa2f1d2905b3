"""A run's breaches of its pot and rules, and an infeasible run's reasons, in plain words."""

from __future__ import annotations

from typing import Any

from web.services.rule_checks import breaches, diagnosis_words, failure_words, rule_title


def instance(pot: float | None = None, rules: list[dict[str, Any]] | None = None) -> dict:
    areas = ["Westmere"] * 3 + ["Ashford Vale"] * 2
    return {
        "round": {"pot": pot},
        "persons": [
            {"id": f"p-{i}", "attributes": {"area": area}} for i, area in enumerate(areas, 1)
        ]
        + [{"id": "p-9", "attributes": {}}],
        "policy": {"rules": rules or []},
    }


def result(placed: list[str], price: float = 100.0) -> dict:
    return {"assignments": [{"person": p, "price": price} for p in placed]}


def test_rules_are_numbered_from_one_in_plain_words() -> None:
    floor = {"type": "coverage_floor", "attribute": "area", "min_share": 1}
    assert rule_title(1, floor) == "Rule 2, every area at least 100%"
    listed = {**floor, "min_share": 0.3, "values": ["narnia", "Westmere"]}
    assert rule_title(0, listed) == "Rule 1, every area (narnia, Westmere) at least 30%"
    gap = {"type": "coverage_gap", "attribute": "need_band", "max_gap": 0.125}
    assert rule_title(2, gap) == "Rule 3, need levels at most 12.5% apart"
    goal = {"type": "maximize_min_coverage", "attribute": "age_band"}
    assert rule_title(0, goal) == "Rule 1, the worst-off age band as high as possible"


def test_an_allocation_that_keeps_every_limit_breaks_nothing() -> None:
    rules = [
        {"type": "coverage_floor", "attribute": "area", "min_share": 0.5},
        {"type": "coverage_gap", "attribute": "area", "max_gap": 0.2},
        {"type": "maximize_min_coverage", "attribute": "area"},
    ]
    placed = ["p-1", "p-2", "p-4"]  # 2/3 and 1/2
    assert breaches(instance(pot=300.0, rules=rules), result(placed)) == []


def test_overspending_the_pot_is_a_breach_in_pence() -> None:
    found = breaches(instance(pot=209.99), result(["p-1", "p-2"], price=105.0))
    assert [(b.rule, b.message) for b in found] == [
        (None, "It spends £210, which is £0.01 more than the £209.99 pot.")
    ]


def test_each_floor_and_gap_broken_is_named_with_its_groups() -> None:
    rules = [
        {"type": "coverage_floor", "attribute": "area", "min_share": 0.3, "values": ["narnia"]},
        {"type": "coverage_floor", "attribute": "area", "min_share": 1},
        {"type": "coverage_gap", "attribute": "area", "max_gap": 0.1},
    ]
    found = breaches(instance(rules=rules), result(["p-1", "p-2", "p-4"]))
    assert [(b.rule, b.message) for b in found] == [
        (
            1,
            "Rule 2, every area at least 100%: Ashford Vale gets 50%, Westmere gets 66.7%.",
        ),
        (2, "Rule 3, areas at most 10% apart: Westmere gets 66.7% but Ashford Vale only 50%."),
    ]


def test_a_share_just_short_of_its_floor_never_looks_as_if_it_reached_it() -> None:
    persons = [{"id": f"p-{i}", "attributes": {"area": "Westmere"}} for i in range(2000)]
    doc = {"persons": persons, "policy": {"rules": [
        {"type": "coverage_floor", "attribute": "area", "min_share": 1}]}}  # fmt: skip
    found = breaches(doc, result([f"p-{i}" for i in range(1999)]))
    assert found[0].message == "Rule 1, every area at least 100%: Westmere gets 99.9%."


def test_the_diagnosis_names_the_rule_and_the_groups() -> None:
    rules = [
        {"type": "coverage_floor", "attribute": "area", "min_share": 0.3},
        {"type": "coverage_floor", "attribute": "area", "min_share": 1},
    ]
    answer = {
        "status": "infeasible",
        "diagnosis": [
            {"rule": 1, "group": "Westmere", "best": 0.9887640449438202, "message": "..."},
        ],
    }
    assert diagnosis_words(instance(rules=rules), answer) == [
        "Rule 2, every area at least 100%: Westmere can reach at most 98.9%, even if its "
        "people got places first."
    ]
    competing = {"status": "infeasible", "diagnosis": [{"rule": 0, "group": None, "best": None}]}
    assert diagnosis_words(instance(rules=rules), competing) == [
        "Rule 1, every area at least 30%: each area could reach it on its own, but not all at "
        "the same time, because they need the same places."
    ]
    together = {"status": "infeasible", "diagnosis": [{"rule": None, "group": None}]}
    assert diagnosis_words(instance(rules=rules), together)[0].startswith(
        "Each rule could be kept on its own, but not all of them together."
    )
    assert failure_words(answer).startswith("No allocation can keep every rule.")
    assert failure_words({"status": "no_solution"}).startswith("No allocation was found")
