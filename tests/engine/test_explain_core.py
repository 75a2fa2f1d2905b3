"""The small exact programs of ``engine.explain_core``, started from the result: the same
answers as a brute force, whatever HiGHS's presolve does with the start."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from engine.arrays import to_arrays
from engine.explain_core import best_of_places
from engine.explain_welfare import WelfareExplainer
from engine.instance import Instance
from engine.result_reader import read_result
from engine.welfare import solve_welfare
from tests.engine.bruteforce import brute_welfare
from tests.engine.test_explain_properties import tiny_instances
from tests.engine.welfare_helpers import EXAMPLES, load_example


def _one_more_place(instance: Instance, index: int) -> Instance:
    offers = list(instance.offers)
    offers[index] = replace(offers[index], capacity=offers[index].capacity + 1)
    return replace(instance, offers=tuple(offers))


def _place_gains(instance: Instance, result_json: str | None = None) -> dict[int, int]:
    """Offer index -> gain of one more place there, as the priced core and its started
    sub-programs find it for a model that is not a network (offers they leave to a full
    solve are left out)."""
    arrays = to_arrays(instance)
    result = (
        read_result(result_json) if result_json is not None else solve_welfare(instance, arrays, 10)
    )
    explainer = WelfareExplainer(instance, arrays, result, time.perf_counter() + 60, 1, Counter())
    base = explainer.model("base")
    gains: dict[int, int] = {}
    if base is not None and not base.is_network():
        explainer._place_values_priced(base, gains)
    return gains


def test_a_place_that_presolve_decides_is_valued_from_its_own_solution() -> None:
    # HiGHS's presolve solves this program outright and used to hand back the start (the
    # result, worth 200) as the solution of the optimum (280, with the new place at o-c).
    instance, _ = load_example("welfare-pot")
    result_json = (EXAMPLES / "welfare-pot.result.json").read_text()
    assert _place_gains(instance, result_json) == {0: 0, 1: 0, 2: 80}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(("pot", "gap", "mixed", "placements")).flatmap(tiny_instances))
def test_started_sub_programs_equal_the_brute_force(instance: Instance) -> None:
    best = brute_welfare(instance).value
    assume(best is not None)
    for o, gain in _place_gains(instance).items():
        expected = brute_welfare(_one_more_place(instance, o)).value
        assert expected is not None and gain == expected - best, (o, gain, expected, best)


@settings(max_examples=200, deadline=None)
@given(tiny_instances("maximin"))
def test_one_max_flow_finds_the_offers_where_a_place_raises_the_level(
    instance: Instance,
) -> None:
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    assume(result.status == "optimal")
    explainer = WelfareExplainer(instance, arrays, result, time.perf_counter() + 60, 1, Counter())
    rising = explainer._rising_offers()
    assume(rising is not None)
    base = explainer.model("base")
    assert base is not None
    for o in range(arrays.n_offers):
        bigger = explainer.model(("place", o))
        assert bigger is not None
        changed = any(
            not np.array_equal(base.floors.get(a, 0), need) for a, need in bigger.floors.items()
        )
        assert bool(rising[o]) == changed, o


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(tiny_instances("maximin"))
def test_one_tree_values_every_place_that_raises_the_level(instance: Instance) -> None:
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    assume(result.status == "optimal")
    explainer = WelfareExplainer(instance, arrays, result, time.perf_counter() + 60, 1, Counter())
    got = explainer._risen_level_gains()
    assume(got)
    for o, gain in got.items():
        value, bound = explainer.best(("place", o))
        assert value is not None and value == bound
        assert gain == max(value - explainer.target, 0), o


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much],
)
@given(st.sampled_from(("pot", "gap", "mixed")).flatmap(tiny_instances))
def test_one_program_for_several_offers_values_each_as_the_brute_force(
    instance: Instance,
) -> None:
    # Every offer at once, not only those where the priced flow does not rise: the program
    # must find each gaining offer in turn, best first, and prove the rest gain nothing.
    note(f"instance = {instance!r}")
    # Under a maximin rule one more place may raise the level every group is held to: those
    # places are valued another way (test_one_tree_values_every_place_that_raises_the_level).
    assume(all(r.type != "maximize_min_coverage" for r in instance.policy.rules))
    best = brute_welfare(instance).value
    assume(best is not None)
    arrays = to_arrays(instance)
    result = solve_welfare(instance, arrays, 10)
    explainer = WelfareExplainer(instance, arrays, result, time.perf_counter() + 60, 1, Counter())
    base = explainer.model("base")
    assume(base is not None and not base.is_network())
    core = explainer.priced("base")
    assume(core is not None)
    wanted = np.flatnonzero(np.bincount(base.offer, minlength=arrays.n_offers) == explainer._wanted)
    # A pot the model leaves out (it cannot bind) may bind with one more place: not for here.
    wanted = np.array(
        [
            o
            for o in wanted.tolist()
            if base.pot is not None or not explainer._pot_binds_with_place(o)
        ],
        dtype=np.int64,
    )
    assume(wanted.size > 0)
    free = core.free_pairs(max(core.widen_for(int(o)) for o in wanted))
    state = {"model": base, "prices": core.prices, "target": explainer.target}
    start = explainer._result_in(base)
    found, left = best_of_places(
        state, wanted, free, core.fixed_on(free), start, 60, time.perf_counter() + 60
    )
    assert left.size == 0 and sorted(found) == wanted.tolist()
    for o, value in found.items():
        expected = brute_welfare(_one_more_place(instance, o)).value
        assert expected is not None
        assert value == expected, (o, value, expected)
        event("an offer gains" if value > best else "an offer gains nothing")
