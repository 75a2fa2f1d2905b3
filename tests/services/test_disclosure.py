"""Small-cell suppression: no group under 10 shows, and no hidden figure can be worked out."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from web.services.disclosure import THRESHOLD, Line, suppress


def grid(cells: list[list[int]]) -> tuple[dict[Hashable, int], list[Line]]:
    """A table with a total for each row, each column and the whole, and the lines tying them."""
    values: dict[Hashable, int] = {}
    lines: list[Line] = []
    n_rows, n_cols = len(cells), len(cells[0])
    for i in range(n_rows):
        for j in range(n_cols):
            values[(i, j)] = cells[i][j]
    for i in range(n_rows):
        values[("row", i)] = sum(cells[i])
        lines.append(Line(("row", i), tuple((i, j) for j in range(n_cols))))
    for j in range(n_cols):
        values[("col", j)] = sum(cells[i][j] for i in range(n_rows))
        lines.append(Line(("col", j), tuple((i, j) for i in range(n_rows))))
    values["all"] = sum(map(sum, cells))
    lines.append(Line("all", tuple(("row", i) for i in range(n_rows))))
    lines.append(Line("all", tuple(("col", j) for j in range(n_cols))))
    return values, lines


def range_of(
    key: Hashable, values: dict[Hashable, int], lines: list[Line], hidden: frozenset[Hashable]
) -> tuple[float, float]:
    """The least and greatest value ``key`` can take, given every shown figure, the lines and
    that counts are never negative: what someone working it out could learn."""
    unknowns = sorted(hidden, key=repr)
    column = {k: i for i, k in enumerate(unknowns)}
    a_eq, b_eq = [], []
    for line in lines:
        row = np.zeros(len(unknowns))
        rhs = 0.0
        for k, sign in ((line.total, -1.0), *((p, 1.0) for p in line.parts)):
            if k in column:
                row[column[k]] += sign
            else:
                rhs -= sign * values[k]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    objective = np.zeros(len(unknowns))
    objective[column[key]] = 1.0
    bounds = [(0, None)] * len(unknowns)
    low = linprog(objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
    high = linprog(-objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
    assert low.status == 0
    return low.fun, (-high.fun if high.status == 0 else float("inf"))


tables = st.integers(1, 4).flatmap(
    lambda rows: st.integers(1, 4).flatmap(
        lambda cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 12), st.integers(0, 60)), min_size=cols, max_size=cols
            ),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(tables)
def test_no_small_group_shows_and_no_hidden_figure_can_be_worked_out(
    cells: list[list[int]],
) -> None:
    values, lines = grid(cells)
    hidden = suppress(values, lines, people=values)

    for key, value in values.items():
        if 0 < value < THRESHOLD:
            assert key in hidden, f"{key} = {value} shows"
    for line in lines:
        keys = (line.total, *line.parts)
        shut = [k for k in keys if k in hidden]
        assert len(shut) != 1, f"the line of {line.total} hides only {shut}"
        if shut and line.total not in hidden:
            # What anyone can work out: the hidden parts' sum is not itself a small group.
            assert sum(values[k] for k in shut) >= THRESHOLD
    for key in hidden:
        low, high = range_of(key, values, lines, hidden)
        assert low - 1e-6 <= values[key] <= high + 1e-6
        assert high - low > 0.5, f"{key} = {values[key]} is fixed by the others"


def test_a_small_part_hides_the_next_smallest_so_the_total_gives_nothing_away() -> None:
    values = {"chose": 30, "got": 27, "left": 3}
    hidden = suppress(values, [Line("chose", ("got", "left"))], people=values)
    # 30 - 27 would give 3 away; two hidden parts adding up to 30 do not.
    assert hidden == {"got", "left"}


def test_two_small_parts_whose_sum_is_still_small_hide_a_third() -> None:
    values = {"all": 44, "a": 2, "b": 3, "c": 14, "d": 25}
    hidden = suppress(values, [Line("all", ("a", "b", "c", "d"))], people=values)
    assert hidden == {"a", "b", "c"}


def test_figures_that_are_not_people_hide_only_to_protect_people() -> None:
    values = {"places": 8, "taken": 3, "free": 5}
    line = [Line("places", ("taken", "free"))]
    assert suppress(values, line, people={"taken"}) == {"taken", "free", "places"}
    values = {"places": 40, "taken": 30, "free": 10}
    assert suppress(values, line, people={"taken"}) == frozenset()


def test_zero_shows() -> None:
    values = {"all": 20, "a": 0, "b": 20}
    assert suppress(values, [Line("all", ("a", "b"))], people=values) == frozenset()


def test_parts_that_do_not_add_up_are_a_mistake() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        suppress({"all": 5, "a": 1}, [Line("all", ("a",))], people={"a"})
