"""Hypothesis properties: on tiny random instances of every variant the welfare mechanism
matches an independent brute-force optimum, every constraint holds, and the spec's status and
bound rules are kept."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from types import ModuleType

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import welfare_knapsack, welfare_lagrange
from engine.arrays import to_arrays
from engine.diagnosis import diagnose
from engine.instance import Instance, Offer, Person, Policy, Preference, Result, Rule
from engine.welfare import solve_welfare
from engine.welfare_model import WelfareModel, build_model, check_allocation
from engine.welfare_pool import PoolProgram, pool_relaxation
from tests.engine.bruteforce import base_allocations, brute_group_best, brute_welfare, coverage
from tests.engine.bruteforce import rule_holds as brute_rule_holds

PRICES = [0, 1000, 2500, 4000]
BUDGETS = [0, 1000, 3000, 5000, 8000]
TIGHT_BUDGETS = [2500, 4000, 5000, 6500]  # below the price of two or three dear places
SHARES = [0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0]
GAPS = [0.0, 0.2, 1 / 3, 0.5, 1.0]


@st.composite
def instances(draw: st.DrawFn, variant: str) -> Instance:
    # "budgets": several places each under budgets that bind, and nothing else.
    budgets = variant == "budgets"
    n_offers = draw(st.integers(2, 3) if budgets else st.integers(1, 3))
    offers = tuple(
        Offer(
            id=f"o{j}",
            capacity=draw(st.integers(1 if budgets else 0, 2)),
            price=draw(st.sampled_from(PRICES[1:] if budgets else PRICES)),
        )
        for j in range(n_offers)
    )
    n_persons = draw(st.integers(1, 4) if budgets else st.integers(1, 5))
    several = variant in ("placements", "mixed", "budgets")
    persons = []
    for i in range(n_persons):
        order = draw(st.permutations(range(n_offers)))
        k = draw(st.integers(n_offers - 1 if budgets else 0, n_offers))
        prefs = tuple(
            Preference(offer=f"o{j}", rank=r + 1, utility=draw(st.integers(0, 100)))
            for r, j in enumerate(order[:k])
        )
        attributes = {}
        area = draw(st.sampled_from(["n", "s", "e", None]))
        if area is not None:
            attributes["area"] = area
        attributes["support"] = draw(st.sampled_from(["x", "y"]))
        persons.append(
            Person(
                id=f"p{i}",
                budget=draw(st.sampled_from(TIGHT_BUDGETS if budgets else BUDGETS)),
                max_placements=draw(st.integers(2, 3) if budgets else st.integers(1, 2))
                if several
                else 1,
                attributes=attributes,
                preferences=prefs,
            )
        )
    pot = None
    if variant in ("pot", "mixed", "placements") and draw(st.booleans()):
        pot = draw(st.sampled_from([0, 1000, 3500, 6000, 9000]))
    rules: list[Rule] = []
    attribute = st.sampled_from(["area", "support"])
    if variant in ("floor", "mixed", "infeasible"):
        for _ in range(draw(st.integers(1, 2))):
            values = draw(st.one_of(st.none(), st.lists(st.sampled_from(["n", "s", "x", "q"]))))
            rules.append(
                Rule(
                    type="coverage_floor",
                    attribute=draw(attribute),
                    min_share=draw(st.sampled_from(SHARES)),
                    values=tuple(sorted(set(values))) if values is not None else None,
                )
            )
    if variant in ("gap", "mixed", "infeasible"):
        rules.append(
            Rule(
                type="coverage_gap", attribute=draw(attribute), max_gap=draw(st.sampled_from(GAPS))
            )
        )
    wants_maximin = variant == "maximin" or (variant == "mixed" and draw(st.booleans()))
    if wants_maximin:
        rules.append(Rule(type="maximize_min_coverage", attribute=draw(attribute)))
    order_rules = draw(st.permutations(rules))
    return Instance(
        persons=tuple(persons),
        offers=offers,
        policy=Policy(rules=tuple(order_rules), time_limit_s=30),
        pot=pot,
    )


def brute_diagnosis(instance: Instance) -> list[tuple[int | None, str | None, float | None]]:
    entries: list[tuple[int | None, str | None, float | None]] = []
    for index, rule in enumerate(instance.policy.rules):
        if rule.type != "coverage_floor":
            continue
        if brute_welfare(instance, rules=(rule,)).value is not None:
            continue
        members: dict[str, int] = {}
        for person in instance.persons:
            if rule.attribute in person.attributes:
                label = person.attributes[rule.attribute]
                members[label] = members.get(label, 0) + 1
        added = False
        for label in sorted(members):
            if rule.values is not None and label not in rule.values:
                continue
            size = members[label]
            best = brute_group_best(instance, rule.attribute, label)
            if best / size < (rule.min_share or 0.0) - 1e-9:
                entries.append((index, label, best / size))
                added = True
        if not added:
            entries.append((index, None, None))
    return entries or [(None, None, None)]


def assert_feasible(instance: Instance, result: Result) -> None:
    allocation = tuple((a.person, a.offer) for a in result.assignments)
    assert allocation in set(base_allocations(instance))
    for rule in instance.policy.rules:
        assert brute_rule_holds(instance, allocation, rule)


def check(instance: Instance) -> None:
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, instance.policy.time_limit_s)
    brute = brute_welfare(instance)
    if brute.value is None:
        assert result.status == "infeasible"
        assert result.objective is None and result.bound is None
        assert result.assignments == ()
        assert len(result.unassigned) == len(instance.persons)
        got = [(d.rule, d.group, d.best) for d in result.diagnosis]
        assert got == brute_diagnosis(instance)
        return
    assert result.status == "optimal"
    assert result.objective == brute.value
    assert result.bound == result.objective
    assert result.objective == sum(a.utility for a in result.assignments)
    assert_feasible(instance, result)
    maximin = [r for r in instance.policy.rules if r.type == "maximize_min_coverage"]
    if maximin:
        allocation = tuple((a.person, a.offer) for a in result.assignments)
        shares = coverage(instance, allocation, maximin[0].attribute)
        assert (min(shares.values()) if shares else Fraction(0)) == brute.min_coverage


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(instances("plain"))
def test_plain_matches_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("pot"))
def test_pot_matches_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("floor"))
def test_floors_with_values_match_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("gap"))
def test_gap_matches_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("maximin"))
def test_maximin_matches_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("placements"))
def test_several_placements_under_a_budget_match_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("mixed"))
def test_mixed_rules_match_brute_force(instance: Instance) -> None:
    check(instance)


@SETTINGS
@given(instances("infeasible"))
def test_infeasible_diagnosis_matches_brute_force(instance: Instance) -> None:
    check(instance)


@settings(max_examples=60, deadline=None)
@given(instances("infeasible"))
def test_diagnosis_alone_matches_brute_force_when_infeasible(instance: Instance) -> None:
    if brute_welfare(instance).value is not None:
        return
    got = [(d.rule, d.group, d.best) for d in diagnose(instance, to_arrays(instance))]
    assert got == brute_diagnosis(instance)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["pot", "gap", "mixed", "placements", "floor"]).flatmap(instances))
def test_decomposition_path_matches_brute_force(instance: Instance) -> None:
    """The Lagrangian decomposition (normally only for large models) on tiny instances."""
    with _setting(welfare_lagrange, "DECOMPOSE_FROM", 0):
        check(instance)


@contextmanager
def _setting(module: ModuleType, name: str, value: int) -> Iterator[None]:
    """``module.name = value`` for the block (hypothesis cannot use the monkeypatch fixture)."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _decomposed(instance: Instance) -> Result:
    with _setting(welfare_lagrange, "DECOMPOSE_FROM", 0):
        return solve_welfare(instance, to_arrays(instance), instance.policy.time_limit_s)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("budgets"))
def test_place_prices_path_matches_brute_force(instance: Instance) -> None:
    """Budgets across several places, solved by prices on the offers' places."""
    assume(welfare_knapsack.applies(build_model(instance, to_arrays(instance))))
    brute = brute_welfare(instance)
    result = _decomposed(instance)
    assert result.status == "optimal"
    assert result.objective == result.bound == brute.value
    assert_feasible(instance, result)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("budgets"), st.lists(st.integers(0, 200), min_size=8, max_size=8))
def test_place_prices_bound_every_allocation(instance: Instance, raw: list[int]) -> None:
    """L(lam) >= the best welfare for any prices, and the allocation offered keeps every rule."""
    model = build_model(instance, to_arrays(instance))
    assume(welfare_knapsack.applies(model))
    prices = welfare_knapsack._Prices(model=model, sets=welfare_knapsack.affordable_sets(model))
    lam = np.array(raw[: model.arrays.n_offers], dtype=np.int64) * (welfare_knapsack.SCALE // 8)
    value, _, _ = prices.evaluate(lam)
    best = brute_welfare(instance).value
    assert best is not None
    assert value >= best * welfare_knapsack.SCALE
    assert prices.incumbent is None or check_allocation(model, prices.incumbent) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("budgets"))
def test_place_prices_without_the_mip_still_bound_the_optimum(instance: Instance) -> None:
    """Too many pairs left for a MIP: the prices' allocation and bound bracket the optimum."""
    assume(welfare_knapsack.applies(build_model(instance, to_arrays(instance))))
    with _setting(welfare_knapsack, "MIP_UP_TO", -1):
        result = _decomposed(instance)
    best = brute_welfare(instance).value
    assert best is not None and result.objective is not None and result.bound is not None
    assert result.objective <= best <= result.bound
    assert_feasible(instance, result)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["pot", "gap", "mixed", "floor"]).flatmap(instances))
def test_prices_alone_bracket_the_optimum_when_no_mip_is_allowed(instance: Instance) -> None:
    """Models too big for a MIP are settled by prices and repairs alone: whatever they return
    keeps every rule, and the bound is never below the optimum."""
    with _setting(welfare_lagrange, "MIP_UP_TO", -1):
        result = _decomposed(instance)
    best = brute_welfare(instance).value
    if result.status == "infeasible":
        assert best is None
        return
    assert result.bound is not None
    if best is not None:
        assert result.bound >= best
    if result.status in ("optimal", "feasible"):
        assert best is not None and result.objective is not None
        assert result.objective <= best
        assert_feasible(instance, result)
    if result.status == "optimal":
        assert result.objective == best


# The pool relaxation's tests: models with side rows (some have none, or an infeasible one).
POOL_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
RULE_INSTANCES = st.sampled_from(["pot", "gap", "mixed", "floor"]).flatmap(instances)


def pool_search(model: WelfareModel, rows: welfare_lagrange.SideRows) -> welfare_lagrange._Search:
    return welfare_lagrange._Search(
        model=model, core=welfare_lagrange.relaxed(model), rows=rows, entry_row=rows.row_of_entry()
    )


@POOL_SETTINGS
@given(RULE_INSTANCES)
def test_the_pool_relaxations_prices_bound_the_optimum(instance: Instance) -> None:
    """With every pair in the pool, the linear relaxation's side-row prices give a Lagrangian
    bound equal to the relaxation's optimum (rounded down, or up by the multipliers' rounding),
    and no allocation beats it."""
    model = build_model(instance, to_arrays(instance))
    rows = welfare_lagrange.side_rows(model)
    assume(rows is not None and rows.n_rows > 0 and model.n_pairs > 0)
    assert rows is not None
    relaxation = pool_relaxation(model, rows, np.arange(model.n_pairs), time.perf_counter() + 60)
    brute = brute_welfare(instance).value
    if relaxation is None:
        # Infeasible even fractionally: then no allocation keeps the rules either.
        assert brute is None
        return
    assert (relaxation.duals >= 0).all()
    search = pool_search(model, rows)
    search.evaluate(np.round(welfare_lagrange.SCALE * relaxation.duals).astype(np.int64))
    floor = math.floor(relaxation.value + 1e-6)
    assert search.bound in (floor, floor + 1)
    if brute is not None:
        assert brute <= floor


def _set_prices(instance: Instance) -> welfare_knapsack._Prices:
    """The place-price search over every affordable set (budgets-only models with a set)."""
    model = build_model(instance, to_arrays(instance))
    assume(welfare_knapsack.applies(model))
    sets = welfare_knapsack.affordable_sets(model)
    assume(sets.size > 0)
    return welfare_knapsack._Prices(model=model, sets=sets)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("budgets"))
def test_the_set_program_over_every_set_is_exact_and_prices_the_bound(instance: Instance) -> None:
    """Over every affordable set, the integer set program is the brute-force optimum, and the
    linear one's offer prices give a Lagrangian bound equal to its optimum (up to rounding)."""
    prices = _set_prices(instance)
    model, sets = prices.model, prices.sets
    every = np.arange(sets.size)
    stop_at = time.perf_counter() + 60
    brute = brute_welfare(instance).value
    whole = welfare_knapsack._set_program(prices, every, stop_at)
    assert whole is not None
    assert int(round(whole[0])) == brute
    assert not check_allocation(model, welfare_knapsack._pairs_of_sets(prices, whole[1]))
    linear = welfare_knapsack._SetMaster(prices).solve(every, stop_at)
    assert linear is not None
    value, duals = linear
    assert (duals >= 0).all()
    prices.evaluate(np.round(welfare_knapsack.SCALE * duals).astype(np.int64))
    floor = math.floor(value + 1e-6)
    assert prices.bound in (floor, floor + 1)
    assert brute is not None and brute <= floor


@POOL_SETTINGS
@given(RULE_INSTANCES)
def test_rounding_the_pool_relaxation_keeps_every_rule(instance: Instance) -> None:
    """Keeping the relaxation's whole pairs and settling the rest by a MIP gives an allocation
    that keeps every rule (or none), never worth more than the brute-force optimum."""
    # A maximin rule is turned into floors by its first stage before the welfare search; the
    # model alone does not hold it, so the brute force (both stages) is no bound for it.
    assume(all(r.type != "maximize_min_coverage" for r in instance.policy.rules))
    model = build_model(instance, to_arrays(instance))
    rows = welfare_lagrange.side_rows(model)
    assume(rows is not None and rows.n_rows > 0 and model.n_pairs > 0)
    assert rows is not None
    pool = np.arange(model.n_pairs)
    relaxation = pool_relaxation(model, rows, pool, time.perf_counter() + 60)
    if relaxation is None:
        return  # infeasible even fractionally (the test above covers that)
    search = pool_search(model, rows)
    chosen = welfare_lagrange._round_relaxation(search, pool, relaxation, 30.0, seed=0)
    brute = brute_welfare(instance).value
    if chosen is not None:
        assert not check_allocation(model, chosen)
        assert brute is not None and int(model.utility[chosen].sum()) <= brute


@POOL_SETTINGS
@given(RULE_INSTANCES, st.lists(st.booleans(), min_size=30, max_size=30))
def test_a_growing_pool_program_solves_as_a_fresh_one(
    instance: Instance, first: list[bool]
) -> None:
    """Adding pairs (and the rows of people and offers they crowd) to a solved program gives
    the optimum of a program built afresh on the whole pool, with each pair's value in the
    pool's order (every place and capacity kept)."""
    model = build_model(instance, to_arrays(instance))
    rows = welfare_lagrange.side_rows(model)
    assume(rows is not None and rows.n_rows > 0 and model.n_pairs > 0)
    assert rows is not None
    every = np.arange(model.n_pairs)
    start = every[np.array((first * model.n_pairs)[: model.n_pairs])]
    stop_at = time.perf_counter() + 60
    program = PoolProgram(model, rows)
    program.solve(start, stop_at)
    grown = program.solve(every, stop_at)
    fresh = pool_relaxation(model, rows, every, stop_at)
    assert (grown is None) == (fresh is None)
    if grown is None or fresh is None:
        return
    assert math.isclose(grown.value, fresh.value, abs_tol=1e-6)
    assert math.isclose(float(model.utility @ grown.x), grown.value, abs_tol=1e-6)
    for owner, places in (
        (model.person, model.max_placements),
        (model.offer, model.arrays.capacity),
    ):
        assert (np.bincount(owner, grown.x, places.size) <= places + 1e-6).all()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("budgets"), st.lists(st.booleans(), min_size=30, max_size=30))
def test_a_growing_set_master_solves_as_a_fresh_one(instance: Instance, first: list[bool]) -> None:
    """Sets added to a solved master program give the optimum and offer prices' bound of a
    master built afresh on all of them."""
    prices = _set_prices(instance)
    sets = prices.sets
    every = np.arange(sets.size)
    start = every[np.array((first * sets.size)[: sets.size])]
    stop_at = time.perf_counter() + 60
    master = welfare_knapsack._SetMaster(prices)
    master.solve(start, stop_at)
    grown = master.solve(every, stop_at)
    fresh = welfare_knapsack._SetMaster(prices).solve(every, stop_at)
    assert grown is not None and fresh is not None
    assert math.isclose(grown[0], fresh[0], abs_tol=1e-6)
    assert brute_welfare(instance).value <= math.floor(grown[0] + 1e-6)
