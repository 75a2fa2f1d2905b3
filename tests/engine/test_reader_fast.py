"""The reader's fast lane gives exactly the full reader's instance, or leaves the document to it.

The property: on any document (valid, invalid, oddly written), ``read_usual`` returns None or the
very instance the full reader builds, and its pair arrays are those of that instance.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.arrays import pair_columns
from engine.generate import generate
from engine.instance import Instance, InvalidInstance
from engine.reader import _parse, instance_from_dict, read_instance
from engine.reader_fast import read_usual
from engine.solve import solve, with_policy
from engine.writer import dumps_instance

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"


class Obj(list):  # type: ignore[type-arg]
    """A JSON object as (key, value) pairs, so that a key can be written twice."""


def dump(value: Any, colon: str, comma: str) -> str:
    if isinstance(value, Obj):
        inner = comma.join(f"{json.dumps(k)}{colon}{dump(v, colon, comma)}" for k, v in value)
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + comma.join(dump(v, colon, comma) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def slow_read(text: bytes) -> Instance | None:
    try:
        return instance_from_dict(_parse(text))
    except InvalidInstance:
        return None


def assert_same(text: bytes) -> Instance | None:
    """Check the property on ``text``; the fast lane's instance (or None)."""
    fast = read_usual(text)
    slow = slow_read(text)
    if fast is not None:
        assert slow is not None, "the fast lane took a document the full reader refuses"
        assert fast == slow
        assert [p.preferences for p in fast.persons] == [p.preferences for p in slow.persons]
        assert [p.lottery_given for p in fast.persons] == [p.lottery_given for p in slow.persons]
        got, want = fast.pair_columns, pair_columns(slow)
        for name in ("start", "offer", "rank", "utility"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    return fast


# --- documents -------------------------------------------------------------------------------

good_labels = st.sampled_from(["a", "b", "north", "é", "utility", "rank"])
odd_labels = st.sampled_from(["x:y", "a\\b", " :", "{", ""])
good_money = st.one_of(
    st.integers(0, 2_000), st.sampled_from([Decimal("12.5"), Decimal("1E+2"), Decimal("7.10")])
)
bad_money = st.sampled_from([-2, Decimal("3.456"), 1_000_000_001, Decimal("-0.01")])
good_lotteries = st.one_of(
    st.sampled_from([Decimal("0.25"), Decimal("0"), Decimal("-0.0"), Decimal("1E-400")]),
    st.sampled_from([Decimal("0.1234567890123456789"), Decimal("0.99999999999999994")]),
    st.decimals(min_value=0, max_value=Decimal("0.999"), places=20),
)
bad_lotteries = st.sampled_from([Decimal("1"), Decimal("0.99999999999999999"), -1])


@st.composite
def documents(draw: st.DrawFn) -> Obj:
    """Instance documents; valid ones often, and each field wrong now and then."""
    careless = draw(st.booleans())

    def pick(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, bad) if careless else good)

    labels = st.one_of(good_labels, odd_labels) if careless else good_labels
    money = st.one_of(good_money, bad_money) if careless else good_money
    offer_ids = draw(
        st.lists(st.sampled_from(["o1", "o2", "o3", "o:4", ""]), max_size=4, unique=not careless)
    )
    offers = []
    for offer_id in offer_ids:
        offer = Obj([("id", offer_id), ("capacity", pick(st.integers(0, 3), st.just(-1)))])
        offer.append(("price", draw(money)))
        if draw(st.booleans()):
            offer.append(("provider", draw(labels)))
        if draw(st.booleans()):
            offer.append(("category", draw(labels)))
        offers.append(Obj(draw(st.permutations(offer))))
    persons = []
    person_ids = st.lists(st.sampled_from(["p1", "p2", "p3", "é"]), max_size=4, unique=not careless)
    for person_id in draw(person_ids):
        person = Obj([("id", person_id), ("budget", draw(money))])
        if draw(st.booleans()):
            person.append(("need", pick(st.integers(0, 10), st.sampled_from([-1, 11]))))
        if draw(st.booleans()):
            person.append(("lottery", pick(good_lotteries, bad_lotteries)))
        if draw(st.booleans()):
            person.append(("max_placements", pick(st.integers(1, 3), st.just(0))))
        if draw(st.booleans()):
            names = draw(st.lists(labels, max_size=3, unique=not careless))
            person.append(("attributes", Obj((n, draw(labels)) for n in names)))
        if draw(st.booleans()):
            preferences = []
            choices = [*offer_ids, "zz"] if careless else offer_ids or ["o1"]
            listed = draw(st.lists(st.sampled_from(choices), max_size=4, unique=not careless))
            for position, offer in enumerate(listed):
                rank = pick(st.just(position + 1), st.sampled_from([0, 1, 3]))
                pref = Obj([("offer", offer), ("rank", rank)])
                if draw(st.booleans()):
                    pref.append(("utility", pick(st.integers(0, 200), st.just(-1))))
                preferences.append(Obj(draw(st.permutations(pref))))
            person.append(("preferences", preferences))
        persons.append(Obj(draw(st.permutations(person))))
    document = Obj([("format", pick(st.just("tapestry.instance/1"), st.just("other")))])
    document += [("persons", persons), ("offers", offers)]
    if draw(st.booleans()):
        document.append(("round", Obj([("id", "r"), ("pot", draw(money))])))
    if draw(st.booleans()):
        policy = Obj([("mechanism", draw(st.sampled_from(["welfare", "stable"])))])
        policy.append(("seed", draw(st.integers(-3, 3))))
        if draw(st.booleans()):
            rule = Obj([("type", "coverage_gap"), ("attribute", "a"), ("max_gap", 0.5)])
            policy.append(("rules", [rule]))
        document.append(("policy", policy))
    return Obj(draw(st.permutations(document)))


def objects_in(value: Any) -> list[Obj]:
    found = []
    if isinstance(value, Obj):
        found.append(value)
        for _, inner in value:
            found += objects_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found += objects_in(inner)
    return found


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=documents(),
    twice=st.one_of(st.none(), st.integers(0, 1_000)),
    spacing=st.sampled_from([(":", ","), (": ", ", "), (" :", ","), (":", ",\n  ")]),
)
def test_the_fast_lane_gives_the_full_readers_instance_or_none(
    document: Obj, twice: int | None, spacing: tuple[str, str]
) -> None:
    if twice is not None:
        # Write one key of one object a second time, with another value.
        targets = [obj for obj in objects_in(document) if obj]
        if targets:
            target = targets[twice % len(targets)]
            key, value = target[twice % len(target)]
            target.insert(twice % (len(target) + 1), (key, value if twice % 3 else "other"))
    assert_same(dump(document, *spacing).encode())


# --- the usual documents take the fast lane ---------------------------------------------------


@pytest.mark.parametrize("variant", ["plain", "stable", "multi", "placements"])
def test_generated_instances_take_the_fast_lane(variant: str) -> None:
    text = dumps_instance(generate("s", 3, variant)).encode()
    assert assert_same(text) is not None
    # Indented, with a byte order mark: still the fast lane.
    pretty = json.dumps(json.loads(text), indent=2).encode("utf-8-sig")
    assert assert_same(pretty) is not None


def test_spec_examples_take_the_fast_lane() -> None:
    for path in sorted(EXAMPLES.glob("*.instance.json")):
        assert assert_same(path.read_bytes()) is not None, path.name


# --- what the lane leaves to the full reader ---------------------------------------------------


VALID = (
    '{"format":"tapestry.instance/1","persons":[{"id":"p","budget":10,'
    '"attributes":{"utility":"a","area":"n"},'
    '"preferences":[{"offer":"o","rank":1,"utility":7},{"offer":"q","rank":2}]}],'
    '"offers":[{"id":"o","capacity":1,"price":5},{"id":"q","capacity":1,"price":5}]}'
)


@pytest.mark.parametrize(
    ("before", "after", "path"),
    [
        ('"utility":7', '"utility":7,"utility":8', "persons[0].preferences[0].utility"),
        ('"rank":2}', '"rank":2,"rank":3}', "persons[0].preferences[1].rank"),
        ('"area":"n"', '"area":"n","area":"s"', "persons[0].attributes.area"),
        ('"utility":"a"', '"utility":"a{","utility":"b"', "persons[0].attributes.utility"),
        ('"budget":10', '"budget":10,"budget" :11', "persons[0].budget"),
        ('"price":5}]}', '"price":5,"price":6}]}', "offers[1].price"),
        ('{"format"', '{"offers":[],"format"', "offers"),
        ('"rank":2}', '"r\\u0061nk":2,"rank":2}', "persons[0].preferences[1].rank"),
    ],
)
def test_a_key_given_twice_is_left_to_the_full_reader(before: str, after: str, path: str) -> None:
    text = VALID.replace(before, after, 1).encode()
    assert read_usual(VALID.encode()) is not None
    assert read_usual(text) is None
    with pytest.raises(InvalidInstance) as caught:
        read_instance(text)
    assert path in [problem.path for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('"utility":7', '"utility":-1'),
        ('"rank":2', '"rank":1'),
        ('"offer":"q"', '"offer":"o"'),
        ('"offer":"q"', '"offer":"zz"'),
        ('"budget":10', '"budget":10.001'),
        ('"budget":10', '"budget":-1'),
        ('"budget":10', '"budget":null'),
        ('"id":"q"', '"id":"o"'),
        ('"budget":10', '"budget":10,"lottery":1'),
        ('"budget":10', '"budget":10,"need":1.0'),
        ('"format":"tapestry.instance/1"', '"format":"tapestry.instance/2"'),
        ('"offers"', '"policy":{"mechanism":"stable"},"offers"'),
    ],
)
def test_invalid_values_are_left_to_the_full_reader(before: str, after: str) -> None:
    text = VALID.replace(before, after, 1)
    if "stable" in after:
        text = text.replace('"budget":10', '"budget":10,"max_placements":2')
    assert read_usual(text.encode()) is None
    if after.endswith('"need":1.0'):
        # 1.0 is a whole number: valid, read by the full reader.
        assert read_instance(text.encode()).persons[0].need == 1
    else:
        with pytest.raises(InvalidInstance):
            read_instance(text.encode())


@pytest.mark.parametrize(
    ("before", "after", "path"),
    [
        ('"budget":10', '"budget":"10.00"', "persons[0].budget"),
        ('"budget":10', '"budget": "10"', "persons[0].budget"),
        ('"price":5}]}', '"price":"5"}]}', "offers[1].price"),
    ],
)
def test_money_written_as_text_is_refused_by_name(before: str, after: str, path: str) -> None:
    """msgspec reads a string as a Decimal; the format says money is a number."""
    text = VALID.replace(before, after, 1).encode()
    assert read_usual(text) is None
    with pytest.raises(InvalidInstance) as caught:
        read_instance(text)
    assert [problem.path for problem in caught.value.problems] == [path]


def test_overriding_the_policy_keeps_the_readers_pair_arrays() -> None:
    instance = read_instance(dumps_instance(generate("s", 4, "plain")).encode())
    assert instance.pair_columns is not None
    stable = with_policy(instance, dataclasses.replace(instance.policy, mechanism="stable"))
    assert stable.pair_columns is instance.pair_columns
    assert solve(instance, mechanism="stable", time_limit_s=5).status == "stable"
    # A changed instance (other persons) never keeps them.
    changed = dataclasses.replace(instance, persons=instance.persons[:-1])
    assert changed.pair_columns is None
    assert pair_columns(changed).start.size == len(instance.persons)
