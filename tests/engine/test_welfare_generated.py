"""Welfare on generated instances of size s: every variant gives a feasible allocation whose
objective is recomputed from its assignments, with a bound that the status rules allow, and a
short time limit still returns the best allocation found so far."""

from __future__ import annotations

import numpy as np
import pytest

from engine.arrays import to_arrays
from engine.generate import generate
from engine.instance import Instance, Result
from engine.welfare import solve_welfare
from engine.welfare_model import build_model, check_allocation

VARIANTS = ["plain", "floors", "pot", "gap", "multi", "maximin", "placements"]


def assert_valid(instance: Instance, result: Result) -> None:
    arrays = to_arrays(instance)
    assert result.objective == sum(a.utility for a in result.assignments)
    assert result.bound is not None and result.bound >= result.objective
    if result.status == "optimal":
        assert result.bound == result.objective
    # Map the assignments back to pairs and check every constraint of the model.
    model = build_model(instance, arrays)
    index = {
        (
            arrays.person_ids[int(arrays.pair_person[e])],
            arrays.offer_ids[int(arrays.pair_offer[e])],
        ): k
        for k, e in enumerate(model.pair.tolist())
    }
    chosen = np.array([index[(a.person, a.offer)] for a in result.assignments], dtype=np.int64)
    assert check_allocation(model, chosen) == []


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_variants_give_valid_results(variant: str) -> None:
    instance = generate("s", 3, variant)
    result = solve_welfare(instance, to_arrays(instance), 20)
    assert result.status in ("optimal", "feasible")
    assert_valid(instance, result)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["pot", "multi", "placements"])
def test_a_tiny_time_limit_still_returns_a_valid_answer(variant: str) -> None:
    instance = generate("s", 4, variant)
    result = solve_welfare(instance, to_arrays(instance), 0.05)
    assert result.status in ("optimal", "feasible", "no_solution")
    if result.status != "no_solution":
        assert_valid(instance, result)
    else:
        assert result.objective is None and result.assignments == ()


@pytest.mark.slow
def test_same_seed_same_result_on_a_generated_instance() -> None:
    instance = generate("s", 5, "pot")
    first = solve_welfare(instance, to_arrays(instance), 20)
    second = solve_welfare(instance, to_arrays(instance), 20)
    assert first.assignments == second.assignments
    assert (first.status, first.objective, first.bound) == (
        second.status,
        second.objective,
        second.bound,
    )


def test_highs_is_not_started_when_it_could_not_finish_setting_up_in_time() -> None:
    from engine.welfare_mip import solve_mip

    instance = generate("s", 1, "multi")
    model = build_model(instance, to_arrays(instance))
    found = solve_mip(model, 0.0)
    assert found.status == "no_solution"
    assert found.chosen.size == 0 and found.bound is None


def test_window_flows_find_an_allocation_keeping_gaps_and_floors_on_other_attributes() -> None:
    from engine import welfare_lagrange as lagrange

    instance = generate("s", 1, "multi")
    model = build_model(instance, to_arrays(instance))
    assert {row.attribute for row in model.rows} == {"support"}
    assert {a for a, need in model.floors.items() if need.any()} - {"support"}
    rows = lagrange.side_rows(model)
    assert rows is not None
    search = lagrange._Search(
        model=model, core=lagrange.relaxed(model), rows=rows, entry_row=rows.row_of_entry()
    )
    assert search.evaluate(np.zeros(rows.n_rows, dtype=np.int64))[1].min() < 0  # plain breaks
    assert search.incumbent is None
    lagrange._window_flows(search, deadline=float("inf"))
    assert search.incumbent is not None
    assert check_allocation(model, search.incumbent) == []
    assert search.incumbent_value == int(model.utility[search.incumbent].sum()) <= search.bound
