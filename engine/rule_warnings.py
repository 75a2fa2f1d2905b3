"""Warnings about rules that read well but bind no one.

The allocation format allows a ``coverage_floor`` to list in ``values`` a group that no person
has ("A value listed in ``values`` that no person has names no group"), so such an instance is
valid and is solved. But the value is almost always a typo (``"westmere"`` for ``"Westmere"``),
and the rule then quietly asks nothing of that group. ``tapestry solve`` prints these warnings
on standard error; they never change the result or the exit status.
"""

from __future__ import annotations

import difflib

from engine.instance import Instance

__all__ = ["unknown_group_warnings"]


def _closest(value: str, known: set[str]) -> str | None:
    # Compared without case, so "westmere" suggests "Westmere" and "ASHFORD-VALE" "Ashford Vale".
    folded = {k.casefold(): k for k in sorted(known)}
    matches = difflib.get_close_matches(value.casefold(), list(folded), n=1)
    return folded[matches[0]] if matches else None


def unknown_group_warnings(instance: Instance) -> list[str]:
    """One line per ``values`` entry of a rule that no person of ``instance`` has, naming its
    place (``policy.rules[0].values[1]``), in rule order, with the closest group people have."""
    groups: dict[str, set[str]] = {}
    lines: list[str] = []
    for i, rule in enumerate(instance.policy.rules):
        if not rule.values:
            continue
        if rule.attribute not in groups:
            groups[rule.attribute] = {
                p.attributes[rule.attribute]
                for p in instance.persons
                if rule.attribute in p.attributes
            }
        known = groups[rule.attribute]
        for j, value in enumerate(rule.values):
            if value in known:
                continue
            line = (
                f'policy.rules[{i}].values[{j}]: no person has {rule.attribute} "{value}", '
                "so the rule asks nothing of it"
            )
            closest = _closest(value, known)
            if closest is not None:
                line += f' (did you mean "{closest}"?)'
            lines.append(line)
    return lines
