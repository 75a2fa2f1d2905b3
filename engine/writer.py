"""Writing results and instances as JSON (``shared/spec/allocation-format.md``).

Money is held in pence and written as a JSON number with two decimals (``105.50``); shares are
written unrounded. :func:`dumps_result` and :func:`dumps_instance` produce stable, readable text:
objects are spread over lines, except objects inside lists (one assignment, one person, one rule),
which take one line each. :func:`result_to_dict` and :func:`instance_to_dict` give the same
content as plain Python values (money as floats, ``pence / 100``) for callers such as a web API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.instance import (
    INSTANCE_FORMAT,
    RESULT_FORMAT,
    Instance,
    Person,
    Policy,
    Result,
    Rule,
    default_utility,
)

__all__ = ["dumps_instance", "dumps_result", "instance_to_dict", "result_to_dict"]

_quote: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


class _Money(int):
    """An amount in pence, to be written as pounds with two decimals."""

    __slots__ = ()

    def __str__(self) -> str:
        return _money_text(self)


class _Raw(str):
    """JSON text that is already written (one assignment or one quoted id)."""

    __slots__ = ()


def _money_text(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def _pounds(pence: int) -> float:
    return pence / 100


# ---------------------------------------------------------------------------------------------
# Results


def _result_tree(
    result: Result, money: Callable[[int], Any], *, lists: bool = True
) -> dict[str, Any]:
    """The result's members in the spec's order; without ``lists``, ``assignments`` and
    ``unassigned`` are left empty for the caller to fill."""
    metrics = result.metrics
    return {
        "format": RESULT_FORMAT,
        "status": result.status,
        "mechanism": result.mechanism,
        "objective": result.objective,
        "bound": result.bound,
        "assignments": [
            {
                "person": a.person,
                "offer": a.offer,
                "rank": a.rank,
                "utility": a.utility,
                "price": money(a.price),
            }
            for a in (result.assignments if lists else ())
        ],
        "unassigned": list(result.unassigned) if lists else [],
        "metrics": {
            "persons": metrics.persons,
            "placed": metrics.placed,
            "placements": metrics.placements,
            "spend": money(metrics.spend),
            "rank_histogram": {str(rank): n for rank, n in sorted(metrics.rank_histogram.items())},
            "coverage": {attribute: dict(groups) for attribute, groups in metrics.coverage.items()},
        },
        "violations": [{"rule": v.rule, "message": v.message} for v in result.violations],
        "diagnosis": [
            {"rule": d.rule, "group": d.group, "best": d.best, "message": d.message}
            for d in result.diagnosis
        ],
        "solve_seconds": round(result.solve_seconds, 3),
    }


def result_to_dict(result: Result) -> dict[str, Any]:
    """The result as plain JSON-ready values, in the spec's key order; money in pounds."""
    return _result_tree(result, _pounds)


def dumps_result(result: Result) -> str:
    """The result as JSON text (ending in a newline), money with two decimals."""
    tree = _result_tree(result, _Money, lists=False)
    # The long lists are written here directly: a quarter of a million assignments through the
    # general emitter would take seconds.
    tree["assignments"] = [
        _Raw(
            f'{{"person": {_quote(a.person)}, "offer": {_quote(a.offer)}, "rank": {a.rank}, '
            f'"utility": {a.utility}, "price": {_money_text(a.price)}}}'
        )
        for a in result.assignments
    ]
    tree["unassigned"] = [_Raw(_quote(person)) for person in result.unassigned]
    return _dumps(tree) + "\n"


# ---------------------------------------------------------------------------------------------
# Instances


def _rule_tree(rule: Rule) -> dict[str, Any]:
    tree: dict[str, Any] = {"type": rule.type, "attribute": rule.attribute}
    if rule.type == "coverage_floor":
        tree["min_share"] = rule.min_share
        if rule.values is not None:
            tree["values"] = list(rule.values)
    elif rule.type == "coverage_gap":
        tree["max_gap"] = rule.max_gap
    return tree


def _policy_tree(policy: Policy) -> dict[str, Any]:
    return {
        "mechanism": policy.mechanism,
        "rules": [_rule_tree(rule) for rule in policy.rules],
        "time_limit_s": policy.time_limit_s,
        "seed": policy.seed,
    }


def _round_tree(instance: Instance, money: Callable[[int], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    if instance.round_id is not None:
        tree["id"] = instance.round_id
    tree["pot"] = None if instance.pot is None else money(instance.pot)
    return tree


def _person_tree(person: Person, money: Callable[[int], Any]) -> dict[str, Any]:
    """A person with the defaults left out (a derived lottery is derived again when read)."""
    tree: dict[str, Any] = {"id": person.id, "budget": money(person.budget)}
    if person.need:
        tree["need"] = person.need
    if person.lottery_given:
        tree["lottery"] = person.lottery
    if person.max_placements != 1:
        tree["max_placements"] = person.max_placements
    if person.attributes:
        tree["attributes"] = dict(person.attributes)
    tree["preferences"] = [
        {"offer": p.offer, "rank": p.rank}
        if p.utility == default_utility(p.rank)
        else {"offer": p.offer, "rank": p.rank, "utility": p.utility}
        for p in person.preferences
    ]
    return tree


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """The instance as plain JSON-ready values (money in pounds); reads back to an equal one."""
    offers = []
    for offer in instance.offers:
        tree: dict[str, Any] = {"id": offer.id}
        if offer.provider is not None:
            tree["provider"] = offer.provider
        tree["capacity"] = offer.capacity
        tree["price"] = _pounds(offer.price)
        if offer.category is not None:
            tree["category"] = offer.category
        offers.append(tree)
    return {
        "format": INSTANCE_FORMAT,
        "round": _round_tree(instance, _pounds),
        "persons": [_person_tree(person, _pounds) for person in instance.persons],
        "offers": offers,
        "policy": _policy_tree(instance.policy),
    }


def dumps_instance(instance: Instance) -> str:
    """The instance as JSON text, one person and one offer per line; money with two decimals.

    Reading the text back with :func:`engine.reader.read_instance` gives an equal instance.
    Written with dedicated per-line code so that 200,000 persons take a few seconds.
    """
    lines = ["{", f'  "format": {_quote(INSTANCE_FORMAT)},']
    lines.append(f'  "round": {_inline(_round_tree(instance, _Money))},')
    lines.append('  "persons": [')
    quoted_offer: dict[str, str] = {}
    person_lines = []
    for person in instance.persons:
        parts = [f'"id": {_quote(person.id)}', f'"budget": {_Money(person.budget)}']
        if person.need:
            parts.append(f'"need": {person.need}')
        if person.lottery_given:
            parts.append(f'"lottery": {person.lottery!r}')
        if person.max_placements != 1:
            parts.append(f'"max_placements": {person.max_placements}')
        if person.attributes:
            parts.append(f'"attributes": {_inline(person.attributes)}')
        prefs = []
        for pref in person.preferences:
            offer = quoted_offer.get(pref.offer)
            if offer is None:
                offer = quoted_offer[pref.offer] = _quote(pref.offer)
            if pref.utility == default_utility(pref.rank):
                prefs.append(f'{{"offer": {offer}, "rank": {pref.rank}}}')
            else:
                prefs.append(
                    f'{{"offer": {offer}, "rank": {pref.rank}, "utility": {pref.utility}}}'
                )
        parts.append(f'"preferences": [{", ".join(prefs)}]')
        person_lines.append("    {" + ", ".join(parts) + "}")
    if person_lines:
        lines.append(",\n".join(person_lines))
    lines.append("  ],")
    lines.append('  "offers": [')
    offer_lines = []
    for o in instance.offers:
        parts = [f'"id": {_quote(o.id)}']
        if o.provider is not None:
            parts.append(f'"provider": {_quote(o.provider)}')
        parts.append(f'"capacity": {o.capacity}')
        parts.append(f'"price": {_Money(o.price)}')
        if o.category is not None:
            parts.append(f'"category": {_quote(o.category)}')
        offer_lines.append("    {" + ", ".join(parts) + "}")
    if offer_lines:
        lines.append(",\n".join(offer_lines))
    lines.append("  ],")
    policy = _dumps(_policy_tree(instance.policy), level=1)
    lines.append(f'  "policy": {policy}')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The JSON emitter


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, _Raw):
        return str.__str__(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, _Money):
        return _money_text(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return json.dumps(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def _inline(value: Any) -> str:
    """``value`` on one line, with a space after each comma and colon."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_quote(str(k))}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _scalar(value)


def _dumps(value: Any, level: int = 0) -> str:
    """Objects over several lines (two spaces a level); an object inside a list on one line."""
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{_quote(str(k))}: {_dumps(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [f"{pad}{v}" if type(v) is _Raw else f"{pad}{_inline(v)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return _scalar(value)
