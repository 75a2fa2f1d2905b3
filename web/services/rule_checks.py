"""Whether a run keeps the round's pot and rules, and why an infeasible run found nothing, in
plain words that name the rule by its number and the groups by their names.

Everything is judged from what the run stored: its instance and its result (the allocation
format, ``shared/spec/allocation-format.md``), so the words say what the engine was given and
what it answered, never what the round looks like today.

* **Breaches** (:func:`breaches`): the spend against ``round.pot``, in whole pence; each
  ``coverage_floor`` group's share placed against ``min_share``; each ``coverage_gap``'s widest
  difference against ``max_gap``. Shares are exact fractions, with the format's tolerance of
  1e-9. ``maximize_min_coverage`` is a goal, never a breach. A welfare run never breaks them;
  a stable run may (the queue way does not enforce them).
* **Diagnosis** (:func:`diagnosis_words`): the engine's ``diagnosis`` entries, one sentence per
  rule, such as "Rule 2, every area at least 100%: Westmere can reach at most 98.9%."

Rules are numbered from 1 here, as the pages show them; the format counts from 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from web.services.matching import format_money
from web.services.results import attribute_label

TOLERANCE = Fraction(1, 10**9)


@dataclass(frozen=True, slots=True)
class Breach:
    """One way an allocation breaks its round's limits: ``rule`` is None for the pot."""

    rule: int | None
    message: str


def _share_words(share: float | Fraction, below: float | Fraction | None = None) -> str:
    """A share as a percentage to one decimal: 0.98876 -> "98.9%". A share short of ``below``
    is cut instead of rounded when rounding would make it look as if it reached it."""
    exact = Fraction(share) * 1000
    tenths = round(exact)
    if below is not None and tenths >= Fraction(below) * 1000 and Fraction(share) < below:
        tenths = math.floor(exact)
    whole, rest = divmod(tenths, 10)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest}%"


def _target_words(share: float) -> str:
    value = Fraction(share) * 100
    if value.denominator == 1:
        return f"{value.numerator}%"
    return f"{float(value):.1f}%".replace(".0%", "%")


def _plural(noun: str) -> str:
    return noun if noun.endswith("s") else noun + "s"


def rule_title(index: int, rule: Mapping[str, Any]) -> str:
    """ "Rule 2, every area at least 100%" for the rule at ``index`` (counted from 0)."""
    noun = attribute_label(str(rule.get("attribute", ""))).lower()
    kind = rule.get("type")
    if kind == "coverage_floor":
        listed = rule.get("values")
        groups = f" ({', '.join(str(v) for v in listed)})" if listed else ""
        what = f"every {noun}{groups} at least {_target_words(rule.get('min_share') or 0)}"
    elif kind == "coverage_gap":
        what = f"{_plural(noun)} at most {_target_words(rule.get('max_gap') or 0)} apart"
    elif kind == "maximize_min_coverage":
        what = f"the worst-off {noun} as high as possible"
    else:
        what = str(kind)
    return f"Rule {index + 1}, {what}"


def _coverage(
    instance: Mapping[str, Any], result: Mapping[str, Any], attribute: str
) -> dict[str, Fraction]:
    """Each group of ``attribute`` and the exact share of its members who got a place."""
    placed = {a["person"] for a in result.get("assignments") or []}
    counts: dict[str, list[int]] = {}
    for person in instance.get("persons") or []:
        value = (person.get("attributes") or {}).get(attribute)
        if value is None:
            continue
        row = counts.setdefault(str(value), [0, 0])
        row[0] += 1
        row[1] += person["id"] in placed
    return {value: Fraction(got, members) for value, (members, got) in counts.items()}


def _pence(money: Any) -> int:
    return round(Fraction(str(money)) * 100)


def breaches(instance: Mapping[str, Any], result: Mapping[str, Any]) -> list[Breach]:
    """Every way ``result`` breaks its instance's pot or rules, the pot first."""
    out: list[Breach] = []
    pot = (instance.get("round") or {}).get("pot")
    if pot is not None:
        spend = sum(_pence(a["price"]) for a in result.get("assignments") or [])
        pot_pence = _pence(pot)
        if spend > pot_pence:
            out.append(
                Breach(
                    None,
                    f"It spends {format_money(spend)}, which is {format_money(spend - pot_pence)}"
                    f" more than the {format_money(pot_pence)} pot.",
                )
            )
    rules: Sequence[Mapping[str, Any]] = (instance.get("policy") or {}).get("rules") or []
    for index, rule in enumerate(rules):
        coverage = _coverage(instance, result, str(rule.get("attribute", "")))
        kind = rule.get("type")
        if kind == "coverage_floor":
            floor = Fraction(rule.get("min_share") or 0)
            listed = rule.get("values")
            groups = sorted(
                (value, share)
                for value, share in coverage.items()
                if (listed is None or value in listed) and share < floor - TOLERANCE
            )
            if groups:
                words = ", ".join(
                    f"{value} gets {_share_words(share, floor)}" for value, share in groups
                )
                out.append(Breach(index, f"{rule_title(index, rule)}: {words}."))
        elif kind == "coverage_gap" and len(coverage) > 1:
            gap = Fraction(rule.get("max_gap") or 0)
            (low, low_share), (high, high_share) = (
                min(coverage.items(), key=lambda item: (item[1], item[0])),
                max(coverage.items(), key=lambda item: (item[1], item[0])),
            )
            if high_share - low_share > gap + TOLERANCE:
                out.append(
                    Breach(
                        index,
                        f"{rule_title(index, rule)}: {high} gets {_share_words(high_share)} "
                        f"but {low} only {_share_words(low_share)}.",
                    )
                )
    return out


def diagnosis_words(instance: Mapping[str, Any], result: Mapping[str, Any]) -> list[str]:
    """The engine's reasons for finding no allocation, one sentence per rule."""
    rules: Sequence[Mapping[str, Any]] = (instance.get("policy") or {}).get("rules") or []
    by_rule: dict[int | None, list[Mapping[str, Any]]] = {}
    for entry in result.get("diagnosis") or []:
        index = entry.get("rule")
        by_rule.setdefault(index if isinstance(index, int) else None, []).append(entry)
    out: list[str] = []
    for index in sorted(i for i in by_rule if i is not None):
        rule = rules[index] if 0 <= index < len(rules) else {"type": "rule"}
        noun = attribute_label(str(rule.get("attribute", ""))).lower()
        groups = [e for e in by_rule[index] if e.get("group") is not None]
        if groups:
            floor = rule.get("min_share")
            parts = []
            for n, entry in enumerate(groups):
                best = entry.get("best")
                reach = "can reach at most" if n == 0 else "at most"
                share = "0%" if best is None else _share_words(best, floor)
                parts.append(f"{entry['group']} {reach} {share}")
            out.append(
                f"{rule_title(index, rule)}: {', '.join(parts)}, even if "
                f"{'its' if len(groups) == 1 else 'each one’s'} people got places first."
            )
        else:
            out.append(
                f"{rule_title(index, rule)}: each {noun} could reach it on its own, but not all "
                "at the same time, because they need the same places."
            )
    if None in by_rule:
        out.append(
            "Each rule could be kept on its own, but not all of them together. Loosen one of "
            "the rules, or add places, and run the allocation again."
        )
    return out


#: Results with no allocation at all.
NO_ALLOCATION = ("infeasible", "no_solution")


def failure_words(result: Mapping[str, Any]) -> str:
    """The headline for a run that found no allocation."""
    if result.get("status") == "no_solution":
        return (
            "No allocation was found before the time limit. Nobody gets a place from this run. "
            "Give the run more time, or loosen the rules, and run it again."
        )
    return (
        "No allocation can keep every rule. Nobody gets a place from this run. Loosen the "
        "rules named below, or add places, and run it again."
    )
