"""The synthetic instance generator (``engine.generate``, ``tapestry generate``)."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction

import pytest
from click.testing import CliRunner

from engine.generate import (
    CATEGORIES,
    MAX_PREFERENCES,
    MIN_PREFERENCES,
    SIZES,
    VARIANTS,
    generate,
    run_generate,
)
from engine.instance import Instance, default_utility
from engine.reader import read_instance
from engine.solve import solve
from engine.writer import dumps_instance
from web.cli import GENERATE_SIZES, GENERATE_VARIANTS, main

SEED = 1


@pytest.fixture(scope="module")
def small() -> dict[str, Instance]:
    return {variant: generate("s", SEED, variant) for variant in VARIANTS}


@pytest.fixture(scope="module")
def plain_result(small: dict[str, Instance]):
    return solve(small["plain"])


def placed_share(instance: Instance, result, attribute: str) -> dict[str, Fraction]:
    placed = {a.person for a in result.assignments}
    members: Counter[str] = Counter()
    served: Counter[str] = Counter()
    for person in instance.persons:
        value = person.attributes.get(attribute)
        if value is None:
            continue
        members[value] += 1
        served[value] += person.id in placed
    return {value: Fraction(served[value], members[value]) for value in members}


def test_the_same_seed_gives_the_same_instance() -> None:
    assert generate("s", 5, "floors") == generate("s", 5, "floors")
    assert dumps_instance(generate("s", 5, "multi")) == dumps_instance(generate("s", 5, "multi"))


def test_another_seed_gives_another_instance() -> None:
    first, second = generate("s", 5), generate("s", 6)
    assert first.persons != second.persons
    assert first.offers != second.offers


def test_every_variant_has_the_same_population(small: dict[str, Instance]) -> None:
    plain = small["plain"]
    for variant, instance in small.items():
        assert instance.offers == plain.offers, variant
        assert [p.preferences for p in instance.persons] == [
            p.preferences for p in plain.persons
        ], variant
        if variant != "placements":
            assert instance.persons == plain.persons, variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_is_valid_and_round_trips(small: dict[str, Instance], variant: str) -> None:
    instance = small[variant]
    assert read_instance(dumps_instance(instance)) == instance


def test_size_s_has_the_documented_shape(small: dict[str, Instance]) -> None:
    instance = small["plain"]
    assert (len(instance.persons), len(instance.offers)) == SIZES["s"] == (1_000, 100)
    lengths = [len(p.preferences) for p in instance.persons]
    assert min(lengths) >= MIN_PREFERENCES and max(lengths) <= MAX_PREFERENCES
    assert 9 <= sum(lengths) / len(lengths) <= 11
    for person in instance.persons:
        assert [p.rank for p in person.preferences] == list(range(1, len(person.preferences) + 1))
        assert len({p.offer for p in person.preferences}) == len(person.preferences)
        assert 0 <= person.need <= 10
        assert 0 <= person.lottery < 1
        assert set(person.attributes) == {"area", "support", "age"}
    # Mostly default utilities, some stated ones.
    prefs = [p for person in instance.persons for p in person.preferences]
    stated = sum(p.utility != default_utility(p.rank) for p in prefs) / len(prefs)
    assert 0.02 < stated < 0.25
    # Areas of unequal size; need skewed towards low levels.
    areas = Counter(p.attributes["area"] for p in instance.persons)
    assert len(areas) == 12 and max(areas.values()) > 1.6 * min(areas.values())
    needs = Counter(p.need for p in instance.persons)
    assert sum(needs[n] for n in range(0, 5)) > 2 * sum(needs[n] for n in range(6, 11))


def test_budgets_sit_around_prices(small: dict[str, Instance]) -> None:
    instance = small["plain"]
    price = {o.id: o.price for o in instance.offers}
    cannot_afford_first = sum(
        price[p.preferences[0].offer] > p.budget for p in instance.persons
    ) / len(instance.persons)
    assert 0.1 < cannot_afford_first < 0.5
    assert all(o.price > 0 and o.capacity >= 0 for o in instance.offers)


def test_demand_exceeds_supply_in_popular_categories(small: dict[str, Instance]) -> None:
    instance = small["plain"]
    category = {o.id: o.category for o in instance.offers}
    first_choices = Counter(category[p.preferences[0].offer] for p in instance.persons)
    places = Counter()
    for offer in instance.offers:
        places[offer.category] += offer.capacity
    assert set(places) == set(CATEGORIES)
    assert first_choices["day-opportunities"] > places["day-opportunities"]
    assert first_choices["employment"] > places["employment"]
    assert sum(places.values()) < len(instance.persons)


def test_popularity_is_skewed(small: dict[str, Instance]) -> None:
    instance = small["plain"]
    ranked = Counter(p.offer for person in instance.persons for p in person.preferences)
    # Zipf-like popularity: the tenth of offers ranked most often take a large share of all
    # rankings, and some offers are hardly ranked at all.
    counts = sorted(ranked.values(), reverse=True)
    assert sum(counts[:10]) > 0.2 * sum(counts)
    assert counts[0] > 10 * counts[-1]


def test_plain_is_a_transportation_problem(small: dict[str, Instance]) -> None:
    instance = small["plain"]
    assert instance.pot is None and instance.policy.rules == ()
    assert instance.policy.mechanism == "welfare"
    assert all(p.max_placements == 1 for p in instance.persons)


def test_floors_hold_and_bind(small: dict[str, Instance], plain_result) -> None:
    instance = small["floors"]
    result = solve(instance)
    assert result.status == "optimal"
    assert result.objective < plain_result.objective
    shares = placed_share(instance, result, "area")
    for rule in instance.policy.rules:
        assert rule.type == "coverage_floor" and rule.min_share is not None
        for value in rule.values or shares:
            assert shares[value] >= Fraction(rule.min_share) - Fraction(1, 10**9)
    assert any(rule.values for rule in instance.policy.rules)


def test_pot_holds_and_binds(small: dict[str, Instance], plain_result) -> None:
    instance = small["pot"]
    assert instance.pot is not None and instance.pot < plain_result.metrics.spend
    result = solve(instance)
    assert result.status == "optimal"
    assert result.metrics.spend <= instance.pot
    assert result.objective < plain_result.objective


def test_gap_holds(small: dict[str, Instance]) -> None:
    instance = small["gap"]
    (rule,) = instance.policy.rules
    assert rule.type == "coverage_gap" and rule.attribute == "support"
    result = solve(instance)
    assert result.status in ("optimal", "feasible")
    shares = placed_share(instance, result, "support")
    assert max(shares.values()) - min(shares.values()) <= Fraction(rule.max_gap) + Fraction(
        1, 10**9
    )


def test_multi_rules_hold_together(small: dict[str, Instance], plain_result) -> None:
    instance = small["multi"]
    assert {r.attribute for r in instance.policy.rules} == {"area", "age", "support"}
    result = solve(instance)
    assert result.status in ("optimal", "feasible")
    assert result.objective < plain_result.objective
    for rule in instance.policy.rules:
        shares = placed_share(instance, result, rule.attribute)
        tolerance = Fraction(1, 10**9)
        if rule.type == "coverage_floor":
            for value in rule.values or shares:
                assert shares[value] >= Fraction(rule.min_share) - tolerance
        else:
            assert max(shares.values()) - min(shares.values()) <= Fraction(rule.max_gap) + tolerance


def test_maximin_raises_the_weakest_area(small: dict[str, Instance], plain_result) -> None:
    instance = small["maximin"]
    assert [r.type for r in instance.policy.rules] == ["maximize_min_coverage"]
    result = solve(instance)
    assert result.status in ("optimal", "feasible")
    with_goal = min(placed_share(instance, result, "area").values())
    without = min(placed_share(small["plain"], plain_result, "area").values())
    assert with_goal >= without


def test_placements_share_a_budget(small: dict[str, Instance]) -> None:
    instance = small["placements"]
    most = Counter(p.max_placements for p in instance.persons)
    assert set(most) == {1, 2, 3}
    price = {o.id: o.price for o in instance.offers}
    # For some persons allowed several places, the first two choices together cost more than
    # the budget: the budget binds across places.
    over = [
        p
        for p in instance.persons
        if p.max_placements > 1
        and len(p.preferences) >= 2
        and price[p.preferences[0].offer] + price[p.preferences[1].offer] > p.budget
    ]
    assert len(over) > 50
    result = solve(instance)
    assert result.status in ("optimal", "feasible")
    spent = Counter()
    for a in result.assignments:
        spent[a.person] += a.price
    budget = {p.id: p.budget for p in instance.persons}
    assert all(spent[p] <= budget[p] for p in spent)
    assert max(Counter(a.person for a in result.assignments).values()) > 1


def test_stable_reports_the_councils_wishes(small: dict[str, Instance]) -> None:
    instance = small["stable"]
    assert instance.policy.mechanism == "stable" and instance.pot is not None
    result = solve(instance)
    assert result.status == "stable"


def test_infeasible_cannot_hold(small: dict[str, Instance]) -> None:
    instance = small["infeasible"]
    result = solve(instance)
    assert result.status == "infeasible"
    assert result.diagnosis
    (rule,) = instance.policy.rules
    for entry in result.diagnosis:
        if entry.best is not None:
            assert entry.best < rule.min_share


def test_unknown_size_or_variant_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown size"):
        generate("xl", 1)
    with pytest.raises(ValueError, match="unknown variant"):
        generate("s", 1, "lottery")
    assert run_generate("s", 1, "lottery") == 2
    assert "unknown variant" in capsys.readouterr().err


def test_the_command_writes_the_instance(tmp_path) -> None:
    out = tmp_path / "round.json"
    runner = CliRunner()
    outcome = runner.invoke(
        main, ["generate", "--size", "s", "--seed", "3", "--variant", "pot", "--out", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert read_instance(out.read_bytes()) == generate("s", 3, "pot")
    assert json.loads(out.read_text())["round"]["id"] == "synthetic-s-3-pot"


def test_the_command_lists_what_the_generator_knows() -> None:
    assert GENERATE_SIZES == tuple(SIZES)
    assert GENERATE_VARIANTS == VARIANTS


@pytest.mark.slow
def test_size_m_has_the_documented_shape() -> None:
    instance = generate("m", SEED, "floors")
    assert (len(instance.persons), len(instance.offers)) == (20_000, 1_500)
    pairs = sum(len(p.preferences) for p in instance.persons)
    assert 9 <= pairs / len(instance.persons) <= 11
    assert read_instance(dumps_instance(instance)) == instance
