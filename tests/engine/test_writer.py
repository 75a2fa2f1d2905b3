"""Writing results and instances: spec key order, two-decimal money, and round trips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.instance import (
    Assignment,
    DiagnosisEntry,
    Instance,
    Metrics,
    Offer,
    Person,
    Policy,
    Preference,
    Result,
    Rule,
    Violation,
    derived_lottery,
)
from engine.reader import instance_from_dict, read_instance
from engine.solve import solve
from engine.writer import dumps_instance, dumps_result, instance_to_dict, result_to_dict

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"

RESULT_KEYS = [
    "format",
    "status",
    "mechanism",
    "objective",
    "bound",
    "assignments",
    "unassigned",
    "metrics",
    "violations",
    "diagnosis",
    "solve_seconds",
]


def sample_result() -> Result:
    return Result(
        status="stable",
        mechanism="stable",
        objective=180,
        bound=None,
        assignments=(
            Assignment(person="p-bo", offer="o-cafe", rank=2, utility=80, price=4550),
            Assignment(person="p-cy", offer="o-garden", rank=1, utility=100, price=6000),
        ),
        unassigned=("p-ann", "p-di"),
        metrics=Metrics(
            persons=4,
            placed=2,
            placements=2,
            spend=10550,
            rank_histogram={2: 1, 1: 1},
            coverage={"area": {"north": 0.0, "south": 1 / 3}},
        ),
        violations=(Violation(rule="pot", message="total spend 105.50 exceeds the pot"),),
        diagnosis=(DiagnosisEntry(rule=None, group=None, best=None, message="together"),),
        solve_seconds=0.01234,
    )


def test_result_text_follows_the_spec() -> None:
    text = dumps_result(sample_result())
    document = json.loads(text)
    assert list(document) == RESULT_KEYS
    assert list(document["metrics"]) == [
        "persons",
        "placed",
        "placements",
        "spend",
        "rank_histogram",
        "coverage",
    ]
    assert list(document["assignments"][0]) == ["person", "offer", "rank", "utility", "price"]
    assert '"spend": 105.50' in text
    assert '"price": 45.50' in text and '"price": 60.00' in text
    # Shares are written unrounded; the histogram is keyed by rank as text, in rank order.
    assert document["metrics"]["coverage"]["area"]["south"] == 1 / 3
    assert list(document["metrics"]["rank_histogram"].items()) == [("1", 1), ("2", 1)]
    assert document["diagnosis"] == [
        {"rule": None, "group": None, "best": None, "message": "together"}
    ]
    assert text.endswith("}\n")


def test_result_to_dict_matches_the_text() -> None:
    result = sample_result()
    assert json.loads(dumps_result(result)) == result_to_dict(result)
    assert result_to_dict(result)["metrics"]["spend"] == 105.5


def test_empty_result_writes_empty_lists_and_zero_money() -> None:
    result = dataclasses.replace(
        sample_result(),
        status="infeasible",
        mechanism="welfare",
        objective=None,
        assignments=(),
        violations=(),
        metrics=Metrics(persons=0, placed=0, placements=0, spend=0, rank_histogram={}, coverage={}),
    )
    text = dumps_result(result)
    assert '"assignments": [],' in text
    assert '"spend": 0.00,' in text
    assert '"rank_histogram": {},' in text
    assert json.loads(text)["objective"] is None


def test_example_instances_round_trip() -> None:
    for path in sorted(EXAMPLES.glob("*.instance.json")):
        original = read_instance(path.read_bytes())
        assert read_instance(dumps_instance(original)) == original, path.name
        assert instance_from_dict(instance_to_dict(original)) == original, path.name


def test_example_results_survive_a_round_trip_of_their_instance() -> None:
    for path in sorted(EXAMPLES.glob("stable-*.instance.json")):
        original = read_instance(path.read_bytes())
        again = read_instance(dumps_instance(original))
        first, second = solve(original), solve(again)
        assert dataclasses.replace(first, solve_seconds=0) == dataclasses.replace(
            second, solve_seconds=0
        )


def test_derived_lotteries_are_left_to_be_derived_again() -> None:
    original = read_instance((EXAMPLES / "stable-derived-lottery.instance.json").read_bytes())
    written = json.loads(dumps_instance(original))
    with_lottery = {p["id"] for p in written["persons"] if "lottery" in p}
    assert with_lottery == {"p-bo", "p-di"}
    assert written["policy"]["seed"] == 2033


text_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
pence = st.integers(0, 100_000_000_000)


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    offer_ids = draw(st.lists(text_values, min_size=1, max_size=4, unique=True))
    offers = tuple(
        Offer(
            id=oid,
            capacity=draw(st.integers(0, 2**31 - 1)),
            price=draw(pence),
            provider=draw(st.none() | text_values),
            category=draw(st.none() | text_values),
        )
        for oid in offer_ids
    )
    seed = draw(st.integers(-(2**31), 2**31 - 1))
    persons = []
    for pid in draw(st.lists(text_values, max_size=4, unique=True)):
        chosen = draw(st.lists(st.sampled_from(offer_ids), unique=True))
        ranks = draw(
            st.lists(
                st.integers(1, 2**31 - 1), min_size=len(chosen), max_size=len(chosen), unique=True
            )
        )
        prefs = tuple(
            Preference(offer=o, rank=r, utility=draw(st.integers(0, 2**31 - 1)))
            for o, r in zip(chosen, ranks, strict=True)
        )
        given = draw(st.booleans())
        persons.append(
            Person(
                id=pid,
                budget=draw(pence),
                need=draw(st.integers(0, 10)),
                # A derived lottery is filled in exactly as the reader does.
                lottery=draw(st.floats(0, 1, exclude_max=True))
                if given
                else derived_lottery(seed, pid),
                max_placements=draw(st.integers(1, 3)),
                attributes=draw(st.dictionaries(text_values, text_values, max_size=2)),
                preferences=prefs,
                lottery_given=given,
            )
        )
    floor = st.builds(
        Rule,
        type=st.just("coverage_floor"),
        attribute=text_values,
        min_share=st.floats(0, 1),
        values=st.none() | st.lists(text_values, max_size=2).map(tuple),
    )
    gap = st.builds(
        Rule, type=st.just("coverage_gap"), attribute=text_values, max_gap=st.floats(0, 1)
    )
    maximin = st.builds(Rule, type=st.just("maximize_min_coverage"), attribute=text_values)
    rules = draw(st.lists(floor | gap, max_size=2)) + draw(st.lists(maximin, max_size=1))
    return Instance(
        persons=tuple(persons),
        offers=offers,
        policy=Policy(
            mechanism=draw(st.just("welfare")),
            rules=tuple(rules),
            time_limit_s=draw(st.floats(0.001, 1e6)),
            seed=seed,
        ),
        round_id=draw(st.none() | text_values),
        pot=draw(st.none() | pence),
    )


@settings(max_examples=200, deadline=None)
@given(instances())
def test_any_instance_round_trips_through_text_and_dict(inst: Instance) -> None:
    assert read_instance(dumps_instance(inst)) == inst
    assert read_instance(dumps_instance(inst).encode("utf-8")) == inst
    assert instance_from_dict(instance_to_dict(inst)) == inst
    assert instance_from_dict(json.loads(json.dumps(instance_to_dict(inst)))) == inst
