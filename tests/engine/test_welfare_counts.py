"""Rules over the placed counts of types (engine.welfare_counts), checked against brute force
on tiny random instances: the rows over counts are the side rows, the flow that places exact
counts is the best allocation with those counts, the nearest counts are nearest, and the path
that uses them (normally only above POOL_UP_TO pairs) finds the brute-force optimum."""

from __future__ import annotations

import itertools
import time

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import welfare_lagrange
from engine.arrays import to_arrays
from engine.instance import Instance
from engine.welfare_counts import TypeRows, counted_flow, nearest_counts, type_rows
from engine.welfare_model import WelfareModel, build_model, check_allocation
from tests.engine.bruteforce import base_allocations, brute_welfare
from tests.engine.test_welfare_properties import _setting, check, instances

COUNT_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
COUNTED = st.sampled_from(["gap", "mixed", "floor"]).flatmap(instances)


def _with_types(instance: Instance) -> tuple[WelfareModel, welfare_lagrange.SideRows, TypeRows]:
    model = build_model(instance, to_arrays(instance))
    rows = welfare_lagrange.side_rows(model)
    assume(rows is not None and rows.n_rows > 0)
    assert rows is not None
    types = type_rows(model, rows)
    assume(types is not None)
    assert types is not None
    return model, rows, types


def _pairs(instance: Instance, model: WelfareModel, allocation: tuple[tuple[str, str], ...]):
    index = {
        (instance.persons[p].id, instance.offers[o].id): e
        for e, (p, o) in enumerate(zip(model.person.tolist(), model.offer.tolist(), strict=True))
    }
    return np.array(sorted(index[pair] for pair in allocation), dtype=np.int64)


@COUNT_SETTINGS
@given(COUNTED, st.lists(st.integers(0, 1 << 22), min_size=12, max_size=12))
def test_rows_over_types_are_the_side_rows(instance: Instance, raw: list[int]) -> None:
    """For every allocation, ``C`` times its counts is the side rows' activity; and the
    weights computed per type equal those computed per pair, for any multipliers."""
    model, rows, types = _with_types(instance)
    # People share a type exactly when they share their group under every counted attribute.
    attributes = sorted(
        {a for a, f in model.floors.items() if f.any()} | {r.attribute for r in model.rows}
    )
    key = [
        tuple(model.groups(a).member_group[p] for a in attributes)
        for p in range(len(instance.persons))
    ]
    for p, q in itertools.combinations(range(len(key)), 2):
        if types.person_type[p] >= 0 and types.person_type[q] >= 0:
            assert (types.person_type[p] == types.person_type[q]) == (key[p] == key[q])
    for allocation in itertools.islice(base_allocations(instance), 300):
        chosen = _pairs(instance, model, allocation)
        assert (
            types.matrix @ types.counts(model, chosen) == rows.activity(chosen, model.n_pairs)
        ).all()
    m = np.array((raw * rows.n_rows)[: rows.n_rows], dtype=np.int64)
    core = welfare_lagrange.relaxed(model)
    entry_row = rows.row_of_entry()
    per_pair = welfare_lagrange._Search(model=model, core=core, rows=rows, entry_row=entry_row)
    per_type = welfare_lagrange._Search(
        model=model, core=core, rows=rows, entry_row=entry_row, types=types
    )
    assert (per_pair.weights(m) == per_type.weights(m)).all()


def test_a_pot_is_not_a_count_of_people() -> None:
    """A row that weighs pairs by price cannot be written over counts."""
    from engine.instance import Offer, Person, Policy, Preference, Rule

    persons = tuple(
        Person(
            id=f"p{i}",
            budget=5000,
            max_placements=1,
            attributes={"area": "n" if i % 2 else "s"},
            preferences=(Preference("a", 1, 10), Preference("b", 2, 5)),
        )
        for i in range(4)
    )
    offers = (Offer(id="a", capacity=2, price=1000), Offer(id="b", capacity=2, price=3000))
    rule = Rule(type="coverage_floor", attribute="area", min_share=0.5)
    with_pot = Instance(persons=persons, offers=offers, policy=Policy(rules=(rule,)), pot=4000)
    model = build_model(with_pot, to_arrays(with_pot))
    rows = welfare_lagrange.side_rows(model)
    assert rows is not None and rows.n_rows == 3  # the pot and two floors
    assert type_rows(model, rows) is None
    without = Instance(persons=persons, offers=offers, policy=Policy(rules=(rule,)))
    model = build_model(without, to_arrays(without))
    rows = welfare_lagrange.side_rows(model)
    assert rows is not None
    types = type_rows(model, rows)
    assert types is not None and types.n_types == 2 and types.size.tolist() == [2, 2]


@COUNT_SETTINGS
@given(COUNTED)
def test_the_counted_flow_is_the_best_allocation_with_its_counts(instance: Instance) -> None:
    model, _, types = _with_types(instance)
    best: dict[tuple[int, ...], int] = {}
    value = {(p.id, f.offer): f.utility for p in instance.persons for f in p.preferences}
    for allocation in itertools.islice(base_allocations(instance), 3000):
        counts = tuple(types.counts(model, _pairs(instance, model, allocation)).tolist())
        total = sum(value[pair] for pair in allocation)
        best[counts] = max(best.get(counts, -1), total)
    core = welfare_lagrange.relaxed(model)
    for counts, brute in best.items():
        chosen = counted_flow(model, core, types, np.array(counts, dtype=np.int64))
        assert chosen is not None
        assert tuple(types.counts(model, chosen).tolist()) == counts
        assert int(model.utility[chosen].sum()) == brute
        if types.keeps_rows(np.array(counts)):
            assert check_allocation(model, chosen) == []
    # Counts no allocation reaches (more of a type than it has members) have no flow.
    if types.n_types:
        too_many = types.size.copy()
        too_many[0] += 1
        assert counted_flow(model, core, types, too_many) is None


@COUNT_SETTINGS
@given(COUNTED, st.lists(st.floats(0, 1), min_size=12, max_size=12))
def test_the_nearest_counts_are_nearest_and_keep_the_rows(
    instance: Instance, fractions: list[float]
) -> None:
    _, _, types = _with_types(instance)
    target = np.array((fractions * types.n_types)[: types.n_types]) * types.size
    keeping = [
        np.array(c)
        for c in itertools.product(*(range(s + 1) for s in types.size.tolist()))
        if types.keeps_rows(np.array(c))
    ]
    got = nearest_counts(types, target, time.perf_counter() + 30)
    if not keeping:
        assert got is None
        return
    assert got is not None
    assert types.keeps_rows(got) and (got >= 0).all() and (got <= types.size).all()
    nearest = min(float(np.abs(c - target).sum()) for c in keeping)
    assert float(np.abs(got - target).sum()) <= nearest + 1e-6


@COUNT_SETTINGS
@given(COUNTED, st.booleans())
def test_the_counted_rounds_path_matches_brute_force(instance: Instance, interior: bool) -> None:
    """The path for models above POOL_UP_TO pairs, on tiny models, by simplex or interior
    point: the result is the brute-force optimum, proven."""
    with (
        _setting(welfare_lagrange, "DECOMPOSE_FROM", 0),
        _setting(welfare_lagrange, "POOL_UP_TO", -1),
        _setting(welfare_lagrange, "IPM_FROM", -1 if interior else 1 << 30),
    ):
        check(instance)


@COUNT_SETTINGS
@given(COUNTED, st.booleans())
def test_counted_rounds_bound_the_optimum_and_keep_every_rule(
    instance: Instance, interior: bool
) -> None:
    """From the plain flow alone (which breaks some rule), the rounds' bound is never below the
    brute-force optimum, and the allocation the counts give keeps every rule."""
    model, rows, types = _with_types(instance)
    search = welfare_lagrange._Search(
        model=model,
        core=welfare_lagrange.relaxed(model),
        rows=rows,
        entry_row=rows.row_of_entry(),
        types=types,
    )
    _, slack, _ = search.evaluate(np.zeros(rows.n_rows, dtype=np.int64))
    assume((slack < 0).any())
    search.incumbent, search.incumbent_value = None, -1  # a repair is not what is tested
    with _setting(welfare_lagrange, "IPM_FROM", -1 if interior else 1 << 30):
        welfare_lagrange._pool_prices(search, time.perf_counter() + 30, types=types)
    # The model has no maximin stage (that becomes a floor first, in engine.welfare).
    rules = tuple(r for r in instance.policy.rules if r.type != "maximize_min_coverage")
    brute = brute_welfare(instance, rules=rules).value
    if brute is not None:
        assert search.bound >= brute
    if search.incumbent is not None:
        assert check_allocation(model, search.incumbent) == []
        assert brute is not None and search.incumbent_value <= brute
