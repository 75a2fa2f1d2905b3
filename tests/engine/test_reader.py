"""Reading instances: defaults, exact money, and every class of bad input with its JSON path."""

from __future__ import annotations

import copy
import gc
import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.instance import InvalidInstance, derived_lottery
from engine.reader import instance_from_dict, read_instance


def valid_document() -> dict[str, Any]:
    return {
        "format": "tapestry.instance/1",
        "round": {"id": "r-1", "pot": 500.0},
        "persons": [
            {
                "id": "p-1",
                "budget": 200,
                "need": 3,
                "lottery": 0.25,
                "max_placements": 1,
                "attributes": {"area": "north"},
                "preferences": [{"offer": "o-1", "rank": 1}, {"offer": "o-2", "rank": 2}],
            },
            {"id": "p-2", "budget": 50.5, "preferences": [{"offer": "o-2", "rank": 1}]},
        ],
        "offers": [
            {"id": "o-1", "capacity": 1, "price": 100, "provider": "x", "category": "y"},
            {"id": "o-2", "capacity": 2, "price": 40.25},
        ],
        "policy": {
            "mechanism": "welfare",
            "rules": [{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}],
            "time_limit_s": 10,
            "seed": 4,
        },
    }


def problems_of(data: bytes | str) -> list[str]:
    with pytest.raises(InvalidInstance) as caught:
        read_instance(data)
    assert caught.value.problems, "an InvalidInstance carries at least one problem"
    return [str(problem) for problem in caught.value.problems]


def paths_of(data: bytes | str) -> list[str]:
    with pytest.raises(InvalidInstance) as caught:
        read_instance(data)
    return [problem.path for problem in caught.value.problems]


def mutated(change: Callable[[dict[str, Any]], None]) -> str:
    document = valid_document()
    change(document)
    return json.dumps(document)


# -- valid input and defaults -------------------------------------------------------------------


def test_valid_document_reads_with_money_in_pence() -> None:
    instance = read_instance(json.dumps(valid_document()).encode())
    assert instance.round_id == "r-1"
    assert instance.pot == 50000
    assert [p.budget for p in instance.persons] == [20000, 5050]
    assert [o.price for o in instance.offers] == [10000, 4025]
    assert instance.offers[0].provider == "x" and instance.offers[0].category == "y"
    assert instance.policy.time_limit_s == 10.0 and instance.policy.seed == 4
    assert instance.policy.rules[0].min_share == 0.5


def test_defaults_are_applied() -> None:
    instance = read_instance(json.dumps(valid_document()))
    person = instance.persons[1]
    assert person.need == 0
    assert person.max_placements == 1
    assert person.attributes == {}
    assert not person.lottery_given
    assert person.lottery == derived_lottery(4, "p-2")
    assert instance.persons[0].lottery_given and instance.persons[0].lottery == 0.25
    # round(100 * 0.8 ** (rank - 1))
    assert [p.utility for p in instance.persons[0].preferences] == [100, 80]


def test_minimal_document_defaults() -> None:
    instance = read_instance('{"format": "tapestry.instance/1", "persons": [], "offers": []}')
    assert instance.pot is None and instance.round_id is None
    assert instance.policy.mechanism == "welfare"
    assert instance.policy.rules == ()
    assert instance.policy.time_limit_s == 60.0
    assert instance.policy.seed == 0


def test_default_utility_for_high_ranks_and_explicit_utility() -> None:
    text = mutated(
        lambda d: d["persons"][0].update(
            preferences=[
                {"offer": "o-1", "rank": 70},
                {"offer": "o-2", "rank": 3, "utility": 7},
            ]
        )
    )
    prefs = read_instance(text).persons[0].preferences
    assert prefs[0].utility == round(100 * 0.8**69) == 0
    assert prefs[1].utility == 7


@pytest.mark.parametrize(
    ("literal", "pence"),
    [("180.1", 18010), ("180.100", 18010), ("1.8e2", 18000), ("0", 0), ("1000000000.00", 10**11)],
)
def test_money_is_judged_by_exact_value(literal: str, pence: int) -> None:
    text = json.dumps(valid_document()).replace('"budget": 200,', f'"budget": {literal},')
    assert read_instance(text).persons[0].budget == pence


def test_integral_decimals_are_integers() -> None:
    text = json.dumps(valid_document()).replace('"need": 3,', '"need": 3.0,')
    text = text.replace('"capacity": 1,', '"capacity": 1e0,')
    instance = read_instance(text)
    assert instance.persons[0].need == 3 and type(instance.persons[0].need) is int
    assert instance.offers[0].capacity == 1 and type(instance.offers[0].capacity) is int


def test_attributes_accept_any_names() -> None:
    text = mutated(lambda d: d["persons"][0].update(attributes={"any name at all": "v", "é": "ü"}))
    assert read_instance(text).persons[0].attributes == {"any name at all": "v", "é": "ü"}


def test_utf8_bom_and_str_input_are_accepted() -> None:
    text = json.dumps(valid_document())
    assert read_instance(b"\xef\xbb\xbf" + text.encode()) == read_instance(text)


def test_instance_from_dict_takes_python_values() -> None:
    instance = instance_from_dict(valid_document())
    assert instance.persons[1].budget == 5050
    assert instance == read_instance(json.dumps(valid_document()))


def test_round_pot_may_be_null() -> None:
    assert read_instance(mutated(lambda d: d["round"].update(pot=None))).pot is None


# -- bad input: each case names its path ----------------------------------------------------------


BAD_DOCUMENTS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("format missing", lambda d: d.pop("format"), "format"),
    ("wrong format", lambda d: d.update(format="tapestry.instance/2"), "format"),
    ("persons missing", lambda d: d.pop("persons"), "persons"),
    ("offers missing", lambda d: d.pop("offers"), "offers"),
    ("persons not a list", lambda d: d.update(persons={}), "persons"),
    ("unknown top member", lambda d: d.update(extra=1), "extra"),
    ("misspelt capacity", lambda d: d["offers"][0].update(capcity=3), "offers[0].capcity"),
    ("capacity missing", lambda d: d["offers"][0].pop("capacity"), "offers[0].capacity"),
    ("price missing", lambda d: d["offers"][0].pop("price"), "offers[0].price"),
    ("budget missing", lambda d: d["persons"][1].pop("budget"), "persons[1].budget"),
    ("id missing", lambda d: d["persons"][1].pop("id"), "persons[1].id"),
    ("empty id", lambda d: d["persons"][1].update(id=""), "persons[1].id"),
    ("id not a string", lambda d: d["persons"][1].update(id=7), "persons[1].id"),
    ("null budget", lambda d: d["persons"][0].update(budget=None), "persons[0].budget"),
    ("null need", lambda d: d["persons"][0].update(need=None), "persons[0].need"),
    ("null round id", lambda d: d["round"].update(id=None), "round.id"),
    ("null policy", lambda d: d.update(policy=None), "policy"),
    (
        "null preferences",
        lambda d: d["persons"][0].update(preferences=None),
        "persons[0].preferences",
    ),
    ("string budget", lambda d: d["persons"][0].update(budget="200"), "persons[0].budget"),
    ("boolean need", lambda d: d["persons"][0].update(need=True), "persons[0].need"),
    ("boolean budget", lambda d: d["persons"][0].update(budget=False), "persons[0].budget"),
    (
        "boolean rank",
        lambda d: d["persons"][0]["preferences"][0].update(rank=True),
        "persons[0].preferences[0].rank",
    ),
    (
        "fractional rank",
        lambda d: d["persons"][0]["preferences"][0].update(rank=2.5),
        "persons[0].preferences[0].rank",
    ),
    (
        "zero rank",
        lambda d: d["persons"][0]["preferences"][0].update(rank=0),
        "persons[0].preferences[0].rank",
    ),
    (
        "negative utility",
        lambda d: d["persons"][0]["preferences"][0].update(utility=-1),
        "persons[0].preferences[0].utility",
    ),
    (
        "huge utility",
        lambda d: d["persons"][0]["preferences"][0].update(utility=2**31),
        "persons[0].preferences[0].utility",
    ),
    (
        "capacity above 2^31-1",
        lambda d: d["offers"][0].update(capacity=2**31),
        "offers[0].capacity",
    ),
    ("negative capacity", lambda d: d["offers"][0].update(capacity=-1), "offers[0].capacity"),
    ("need above 10", lambda d: d["persons"][0].update(need=11), "persons[0].need"),
    ("negative need", lambda d: d["persons"][0].update(need=-1), "persons[0].need"),
    ("lottery 1", lambda d: d["persons"][0].update(lottery=1), "persons[0].lottery"),
    ("negative lottery", lambda d: d["persons"][0].update(lottery=-0.1), "persons[0].lottery"),
    ("lottery text", lambda d: d["persons"][0].update(lottery="0.5"), "persons[0].lottery"),
    (
        "max_placements 0",
        lambda d: d["persons"][0].update(max_placements=0),
        "persons[0].max_placements",
    ),
    ("negative budget", lambda d: d["persons"][0].update(budget=-1), "persons[0].budget"),
    (
        "budget too large",
        lambda d: d["persons"][0].update(budget=1_000_000_000.01),
        "persons[0].budget",
    ),
    ("negative pot", lambda d: d["round"].update(pot=-5), "round.pot"),
    ("unknown round member", lambda d: d["round"].update(name="x"), "round.name"),
    ("unknown person member", lambda d: d["persons"][0].update(nede=3), "persons[0].nede"),
    (
        "unknown preference member",
        lambda d: d["persons"][0]["preferences"][0].update(weight=1),
        "persons[0].preferences[0].weight",
    ),
    (
        "attribute not text",
        lambda d: d["persons"][0].update(attributes={"area": 3}),
        "persons[0].attributes.area",
    ),
    (
        "attribute null",
        lambda d: d["persons"][0].update(attributes={"area": None}),
        "persons[0].attributes.area",
    ),
    (
        "attributes not an object",
        lambda d: d["persons"][0].update(attributes=["north"]),
        "persons[0].attributes",
    ),
    (
        "preference not an object",
        lambda d: d["persons"][0]["preferences"].append("o-1"),
        "persons[0].preferences[2]",
    ),
    (
        "unknown offer",
        lambda d: d["persons"][0]["preferences"][0].update(offer="o-099"),
        "persons[0].preferences[0].offer",
    ),
    (
        "offer missing",
        lambda d: d["persons"][0]["preferences"][0].pop("offer"),
        "persons[0].preferences[0].offer",
    ),
    (
        "rank missing",
        lambda d: d["persons"][0]["preferences"][0].pop("rank"),
        "persons[0].preferences[0].rank",
    ),
    (
        "same offer twice",
        lambda d: d["persons"][0]["preferences"][1].update(offer="o-1"),
        "persons[0].preferences[1].offer",
    ),
    (
        "same rank twice",
        lambda d: d["persons"][0]["preferences"][1].update(rank=1),
        "persons[0].preferences[1].rank",
    ),
    ("duplicate person id", lambda d: d["persons"][1].update(id="p-1"), "persons[1].id"),
    ("duplicate offer id", lambda d: d["offers"][1].update(id="o-1"), "offers[1].id"),
    (
        "min_share above 1",
        lambda d: d["policy"]["rules"][0].update(min_share=1.5),
        "policy.rules[0].min_share",
    ),
    (
        "min_share missing",
        lambda d: d["policy"]["rules"][0].pop("min_share"),
        "policy.rules[0].min_share",
    ),
    (
        "max_gap below 0",
        lambda d: d["policy"]["rules"].append(
            {"type": "coverage_gap", "attribute": "area", "max_gap": -0.1}
        ),
        "policy.rules[1].max_gap",
    ),
    (
        "values on a gap",
        lambda d: d["policy"]["rules"].append(
            {"type": "coverage_gap", "attribute": "area", "max_gap": 0.1, "values": ["a"]}
        ),
        "policy.rules[1].values",
    ),
    (
        "min_share on maximin",
        lambda d: d["policy"]["rules"].append(
            {"type": "maximize_min_coverage", "attribute": "area", "min_share": 0.1}
        ),
        "policy.rules[1].min_share",
    ),
    (
        "values not text",
        lambda d: d["policy"]["rules"][0].update(values=[1]),
        "policy.rules[0].values[0]",
    ),
    (
        "unknown rule type",
        lambda d: d["policy"]["rules"].append({"type": "coverage_ceiling", "attribute": "area"}),
        "policy.rules[1].type",
    ),
    (
        "rule attribute missing",
        lambda d: d["policy"]["rules"][0].pop("attribute"),
        "policy.rules[0].attribute",
    ),
    (
        "two maximin rules",
        lambda d: d["policy"]["rules"].extend(
            [
                {"type": "maximize_min_coverage", "attribute": "a"},
                {"type": "maximize_min_coverage", "attribute": "b"},
            ]
        ),
        "policy.rules[2].type",
    ),
    ("unknown mechanism", lambda d: d["policy"].update(mechanism="lottery"), "policy.mechanism"),
    ("time limit 0", lambda d: d["policy"].update(time_limit_s=0), "policy.time_limit_s"),
    ("negative time limit", lambda d: d["policy"].update(time_limit_s=-3), "policy.time_limit_s"),
    ("fractional seed", lambda d: d["policy"].update(seed=1.5), "policy.seed"),
    ("unknown policy member", lambda d: d["policy"].update(rule=[]), "policy.rule"),
    (
        "stable with two placements",
        lambda d: (
            d["policy"].update(mechanism="stable"),
            d["persons"][1].update(max_placements=2),
        ),
        "persons[1].max_placements",
    ),
]


@pytest.mark.parametrize(
    ("change", "path"),
    [pytest.param(change, path, id=name) for name, change, path in BAD_DOCUMENTS],
)
def test_bad_document_names_its_path(change: Callable[[dict[str, Any]], None], path: str) -> None:
    assert path in paths_of(mutated(change))


BAD_TEXTS = [
    ("NaN", '"lottery": 0.25', '"lottery": NaN', "persons[0].lottery"),
    ("Infinity", '"budget": 200', '"budget": Infinity', "persons[0].budget"),
    ("-Infinity", '"min_share": 0.5', '"min_share": -Infinity', "policy.rules[0].min_share"),
    ("three decimals", '"budget": 200', '"budget": 180.005', "persons[0].budget"),
    (
        "tiny fraction",
        '"budget": 200',
        '"budget": 180.0000000000000000000000001',
        "persons[0].budget",
    ),
    ("fractional capacity", '"capacity": 1,', '"capacity": 2.5,', "offers[0].capacity"),
    ("duplicate key", '"need": 3,', '"need": 3, "need": 4,', "persons[0].need"),
    (
        "duplicate key in attributes",
        '"area": "north"',
        '"area": "north", "area": "south"',
        "persons[0].attributes.area",
    ),
    (
        "duplicate key in a preference",
        '{"offer": "o-2", "rank": 1}',
        '{"offer": "o-2", "rank": 1, "offer": "o-2"}',
        "persons[1].preferences[0].offer",
    ),
    (
        "duplicate top-level key",
        '"format": "tapestry.instance/1"',
        '"format": "tapestry.instance/1", "format": "tapestry.instance/1"',
        "format",
    ),
    ("integer with many digits", '"seed": 4', '"seed": 1' + "0" * 5000, "policy.seed"),
    ("money with huge exponent", '"budget": 200', '"budget": 1e999999', "persons[0].budget"),
    (
        "share just above 1",
        '"min_share": 0.5',
        '"min_share": 1.00000000000000000001',
        "policy.rules[0].min_share",
    ),
    ("lone surrogate id", '"id": "p-2"', '"id": "\\ud800"', "persons[1].id"),
]


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [pytest.param(old, new, path, id=name) for name, old, new, path in BAD_TEXTS],
)
def test_bad_text_names_its_path(old: str, new: str, path: str) -> None:
    text = json.dumps(valid_document())
    assert old in text
    assert path in paths_of(text.replace(old, new, 1))


def test_messages_name_the_place_and_the_value() -> None:
    text = mutated(lambda d: d["persons"][0]["preferences"][0].update(offer="o-099"))
    assert problems_of(text) == ['persons[0].preferences[0].offer: unknown offer "o-099"']


def test_misspelt_member_gets_a_suggestion() -> None:
    (problem,) = problems_of(mutated(lambda d: d["offers"][0].update(capcity=3)))
    assert "capcity" in problem and '"capacity"' in problem


def test_every_problem_is_reported_at_once() -> None:
    def break_many(d: dict[str, Any]) -> None:
        d["persons"][0]["need"] = 12
        d["persons"][0]["preferences"][0]["offer"] = "o-099"
        d["persons"][1]["budget"] = 1.234
        d["offers"][1]["capacity"] = -2
        d["offers"][0]["colour"] = "red"
        d["policy"]["time_limit_s"] = 0
        d["round"]["pot"] = "lots"

    paths = paths_of(mutated(break_many))
    assert set(paths) == {
        "persons[0].need",
        "persons[0].preferences[0].offer",
        "persons[1].budget",
        "offers[1].capacity",
        "offers[0].colour",
        "policy.time_limit_s",
        "round.pot",
    }


@pytest.mark.parametrize("data", [b"", b"   \n\t ", ""])
def test_empty_input(data: bytes | str) -> None:
    assert problems_of(data) == ["the file is empty"]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'{"format": "tapestry.instance/1",\n "persons": [,]}', "line 2, column"),
        (b"{", "line 1, column 2"),
        (b"[1, 2", "line 1"),
        (b'{"a": 1} trailing', "line 1, column 10"),
    ],
)
def test_malformed_json_gives_line_and_column(data: bytes, where: str) -> None:
    (problem,) = problems_of(data)
    assert "not valid JSON" in problem and where in problem


def test_not_utf8() -> None:
    (problem,) = problems_of(b'{"format": "\xff"}')
    assert "UTF-8" in problem


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"format": "tapestry.instance/1", "persons": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["open brackets", "balanced brackets", "nested objects", "inside a member"],
)
def test_deeply_nested_junk_is_a_problem_not_a_crash(data: bytes) -> None:
    (problem,) = problems_of(data)
    assert "nested too deeply" in problem


def test_moderately_nested_junk_is_reported_where_it_stands() -> None:
    junk = "[" * 500 + "]" * 500
    text = json.dumps(valid_document()).replace('"north"', junk, 1)
    assert paths_of(text) == ["persons[0].attributes.area"]


@pytest.mark.parametrize("document", [[], "text", 3, None])
def test_top_level_must_be_an_object(document: Any) -> None:
    (problem,) = problems_of(json.dumps(document))
    assert "must be a JSON object" in problem


def test_instance_from_dict_reports_float_money_by_its_decimal_form() -> None:
    document = copy.deepcopy(valid_document())
    document["persons"][0]["budget"] = 0.105
    with pytest.raises(InvalidInstance) as caught:
        instance_from_dict(document)
    assert [p.path for p in caught.value.problems] == ["persons[0].budget"]


# -- robustness: whatever is put anywhere, the answer is an instance or InvalidInstance -----------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def nodes(value: Any, trail: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, as a trail of keys and indices."""
    found = [trail]
    if isinstance(value, dict):
        for key, item in value.items():
            found += nodes(item, (*trail, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nodes(item, (*trail, index))
    return found


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_value_anywhere_gives_an_instance_or_problems(data: st.DataObject) -> None:
    document = valid_document()
    trail = data.draw(st.sampled_from(nodes(document)[1:]))
    parent = document
    for step in trail[:-1]:
        parent = parent[step]
    parent[trail[-1]] = data.draw(json_values | st.sampled_from([math.nan, math.inf, (1, 2)]))
    for attempt in (
        lambda: read_instance(json.dumps(document)),
        lambda: instance_from_dict(document),
    ):
        try:
            attempt()
        except InvalidInstance as error:
            assert all(isinstance(p.path, str) and p.message for p in error.problems)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_any_bytes_give_an_instance_or_problems(data: bytes) -> None:
    try:
        read_instance(data)
    except InvalidInstance as error:
        assert error.problems


def test_the_garbage_collector_is_restored() -> None:
    assert gc.isenabled()
    read_instance(json.dumps(valid_document()))
    assert gc.isenabled()
    with pytest.raises(InvalidInstance):
        read_instance(b"{")
    assert gc.isenabled()
    gc.disable()
    try:
        read_instance(json.dumps(valid_document()))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_readers_in_several_threads_restore_the_collector() -> None:
    text = json.dumps(valid_document())
    with ThreadPoolExecutor(max_workers=4) as pool:
        instances = list(pool.map(lambda _: read_instance(text), range(40)))
    assert all(instance == instances[0] for instance in instances)
    assert gc.isenabled()
