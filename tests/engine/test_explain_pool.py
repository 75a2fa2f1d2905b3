"""The worker pool of the explanations (``engine.explain_pool``): tasks run in other
processes with the state sent once, a task whose key is settled meanwhile is never sent, and
explanations shared out over two workers are the brute force's, exactly."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.explain import explain
from engine.explain_pool import TaskPool
from engine.instance import Instance
from tests.engine.bruteforce import brute_explanations
from tests.engine.test_explain_properties import assert_same, document, solved, tiny_instances


def _scaled(state: dict[str, Any], x: int) -> tuple[int, int]:
    return state["k"] * x, os.getpid()


def test_tasks_run_in_other_processes_with_the_state_sent_once() -> None:
    pool = TaskPool(2, {"k": 3})
    got: dict[int, tuple[int, int]] = {}
    try:
        pool.run(_scaled, ((x, (x,)) for x in range(6)), got.__setitem__)
    finally:
        pool.close()
    assert {x: v for x, (v, _) in got.items()} == {x: 3 * x for x in range(6)}
    assert os.getpid() not in {pid for _, pid in got.values()}


def test_a_key_settled_before_its_turn_is_not_sent() -> None:
    pool = TaskPool(2, {"k": 1})
    got: dict[int, tuple[int, int]] = {}
    settled = {4, 5}

    def done(x: int, value: tuple[int, int]) -> None:
        got[x] = value
        settled.update(range(8))  # the first answer settles every question left

    try:
        pool.run(_scaled, ((x, (x,)) for x in range(8)), done, skip=settled.__contains__)
    finally:
        pool.close()
    assert set(got) == {0, 1}  # the two sent first; nothing after the first answer


def test_one_worker_runs_the_tasks_here_in_order() -> None:
    order: list[int] = []
    TaskPool(1, {"k": 2}).run(_scaled, ((x, (x,)) for x in (3, 1, 2)), lambda x, _: order.append(x))
    assert order == [3, 1, 2]


def test_two_workers_explain_exactly_as_the_brute_force(monkeypatch: Any) -> None:
    started = []
    start = TaskPool._started

    def counted(self: TaskPool) -> Any:
        started.append(1)
        return start(self)

    monkeypatch.setattr(TaskPool, "_started", counted)

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(st.sampled_from(("pot", "gap")).flatmap(tiny_instances))
    def agree(instance: Instance) -> None:
        result = solved(instance)
        if result is None:
            return
        got = explain(instance, result, workers=2)
        assert got.complete
        assert_same(document(got), brute_explanations(instance, result))

    agree()
    assert started, "no example shared its programs out: the pool went untested"
