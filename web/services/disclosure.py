"""Keeping small groups of people private in published tables (statistical disclosure control).

The rule, for every table Tapestry publishes about people (``docs/market-position.md``):

1. **Primary suppression.** A count of people from 1 to ``threshold - 1`` (9, with the usual
   threshold of 10) is hidden. Zero is shown: it names no one.
2. **Secondary suppression.** Published figures are tied by *lines*: a total and the parts that
   add up to it (the people who chose a service = those who got a place + those who did not).
   In every line, hidden figures must be either none, or at least two, and, when the total is
   shown, the hidden parts must add up to ``threshold`` or more (else their sum, which anyone
   can work out, is itself a small group). A line that breaks this has its smallest shown
   part that is not zero hidden too (else its smallest part, else its total), and the lines
   are checked again.
3. **No hidden figure can be worked out exactly.** Lines share figures (a table's totals row is
   in one line across and one down), so after step 2 the whole set of lines is solved as a
   system of linear equations in the hidden figures; any hidden figure the system fixes to
   one value has another figure of one of its lines hidden, and so on until none is fixed.

Figures that are not counts of people (places, prices) are never hidden by step 1, but may be
by steps 2 and 3, when they would give a hidden count away (places - free places = places
taken).

The algorithm is greedy and deterministic (smallest value first, then the key), after the
cell-suppression heuristics of Cox (1980), "Suppression methodology and statistical disclosure
control", JASA 75(370), and the ONS's rules for small counts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: The smallest group of people a published figure may show.
THRESHOLD = 10


@dataclass(frozen=True, slots=True)
class Line:
    """``total`` equals the sum of ``parts`` (all keys of published figures)."""

    total: Hashable
    parts: tuple[Hashable, ...]


def suppress(
    values: Mapping[Hashable, int],
    lines: Sequence[Line],
    *,
    people: Collection[Hashable],
    threshold: int = THRESHOLD,
) -> frozenset[Hashable]:
    """The keys of ``values`` to hide, by the rule in this module's docstring.

    ``people`` are the keys whose figures count people (the only ones step 1 hides). Every
    line's keys must be in ``values`` and its parts must add up to its total.
    """
    for line in lines:
        if sum(values[p] for p in line.parts) != values[line.total]:
            raise ValueError(f"the parts of {line.total!r} do not add up to it")
    people = set(people)
    hidden = {k for k, v in values.items() if k in people and 0 < v < threshold}
    while True:
        _secure_lines(values, lines, hidden, threshold)
        fixed = _determined(values, lines, hidden)
        if not fixed:
            return frozenset(hidden)
        # Widen one line through the first fixed figure; then check every line again.
        key = min(fixed, key=_order(values))
        # Its own lines first; if all of theirs are hidden, any line that touches a hidden one.
        own = [line for line in lines if key == line.total or key in line.parts]
        touching = [line for line in lines if any(k in hidden for k in (line.total, *line.parts))]
        extras = (_next_to_hide(values, line, hidden) for line in (*own, *touching))
        extra = next((e for e in extras if e is not None), None)
        if extra is None:  # everything that could show is hidden
            return frozenset(hidden)
        hidden.add(extra)


def _order(values: Mapping[Hashable, int]) -> Callable[[Hashable], tuple[int, str]]:
    return lambda k: (values[k], repr(k))


def _line_is_safe(
    values: Mapping[Hashable, int], line: Line, hidden: set[Hashable], threshold: int
) -> bool:
    hidden_parts = [p for p in line.parts if p in hidden]
    count = len(hidden_parts) + (line.total in hidden)
    if count == 0:
        return True
    if count == 1:
        return False
    if line.total in hidden:
        return True
    return sum(values[p] for p in hidden_parts) >= threshold


def _next_to_hide(
    values: Mapping[Hashable, int], line: Line, hidden: set[Hashable]
) -> Hashable | None:
    shown = [p for p in line.parts if p not in hidden]
    positive = [p for p in shown if values[p] > 0]
    for choice in (positive, shown):
        if choice:
            return min(choice, key=_order(values))
    return None if line.total in hidden else line.total


def _secure_lines(
    values: Mapping[Hashable, int], lines: Sequence[Line], hidden: set[Hashable], threshold: int
) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            while not _line_is_safe(values, line, hidden, threshold):
                extra = _next_to_hide(values, line, hidden)
                if extra is None:
                    break  # every figure of the line is hidden: nothing shows
                hidden.add(extra)
                changed = True


def _determined(
    values: Mapping[Hashable, int], lines: Sequence[Line], hidden: set[Hashable]
) -> list[Hashable]:
    """Hidden keys whose value the lines fix: the hidden unknowns of ``A x = b`` that are the
    same in every solution, i.e. zero in every vector of the null space of ``A``. Lines that
    share no hidden key are independent, so each connected group is solved on its own."""
    rows = [
        [(k, -1.0 if k == line.total else 1.0) for k in (line.total, *line.parts) if k in hidden]
        for line in lines
    ]
    rows = [row for row in rows if row]
    parent: dict[Hashable, Hashable] = {}

    def find(k: Hashable) -> Hashable:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for row in rows:
        first = find(row[0][0])
        for k, _ in row[1:]:
            parent[find(k)] = first
    groups: dict[Hashable, list[list[tuple[Hashable, float]]]] = {}
    for row in rows:
        groups.setdefault(find(row[0][0]), []).append(row)
    fixed: list[Hashable] = []
    for group in groups.values():
        unknowns = sorted({k for row in group for k, _ in row}, key=repr)
        column = {k: i for i, k in enumerate(unknowns)}
        matrix = np.zeros((len(group), len(unknowns)))
        for i, row in enumerate(group):
            for k, sign in row:
                # A key can be both a line's total and one of its parts only by mistake.
                matrix[i, column[k]] += sign
        _, singular, vt = np.linalg.svd(matrix)
        rank = int((singular > 1e-9).sum())
        null_space = vt[rank:]
        fixed.extend(
            k
            for k in unknowns
            if null_space.shape[0] == 0 or np.abs(null_space[:, column[k]]).max() < 1e-9
        )
    return fixed
