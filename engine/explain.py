"""Explanations of a result, as ``shared/spec/explanations-format.md`` defines them.

:func:`explain` answers, for an instance and one of its results:

* for each person, why they did not get each offer they ranked above the best place they hold
  (every offer they ranked, when they hold none): a reason code, decided in the spec's order;
* for each rule (welfare): the best welfare with it and without it (the rule's price);
* for each offer (welfare): what one more place there would add to the best welfare.

Units: money is integer pence; welfare and utility are the instance's integer utilities.

The welfare questions ("does the best allocation that gives this person this offer, under this
relaxation of the instance, reach the result's welfare ``V``?") are answered together, not one
re-solve each; see :mod:`engine.explain_welfare` for the method. Every answer equals the spec's
definition exactly; :mod:`engine.explain_resolve` keeps the method of one re-solve per question,
which the tests and the benchmark compare against.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from engine.instance import Instance, Offer, Person, Result, Rule

__all__ = [
    "EXPLANATIONS_FORMAT",
    "Explanations",
    "PersonExplanation",
    "PlaceValue",
    "ReasonCode",
    "RulePrice",
    "WhyNot",
    "explain",
    "rule_words",
]

EXPLANATIONS_FORMAT = "tapestry.explanations/1"

ReasonCode = Literal[
    "over_budget",
    "no_places",
    "full_higher_priority",
    "unknown",
    "tie",
    "capacity",
    "pot",
    "rule",
    "several_limits",
]

#: Progress callback: (phase, done, total). Phases: "persons", "rules", "places".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class WhyNot:
    """Why a person did not get one offer they ranked. ``rule`` is the index of the binding
    rule in ``policy.rules`` when ``code`` is ``"rule"``, else None."""

    offer: str
    rank: int
    code: ReasonCode
    rule: int | None
    message: str


@dataclass(frozen=True, slots=True)
class PersonExplanation:
    """One person's entry: the sorted ranks they hold, and one :class:`WhyNot` per offer
    ranked better than their best place (every offer, when they hold none), in rank order."""

    id: str
    ranks_held: tuple[int, ...]
    why_not: tuple[WhyNot, ...]


@dataclass(frozen=True, slots=True)
class RulePrice:
    """What one rule costs, in welfare (total utility). ``welfare_without`` and ``lost`` are
    None when the instance without the rule has no feasible allocation."""

    rule: int
    type: str
    welfare_with: int
    welfare_without: int | None
    lost: int | None


@dataclass(frozen=True, slots=True)
class PlaceValue:
    """How much the best welfare would grow with one more place at ``offer`` (0 or more)."""

    offer: str
    gain: int


@dataclass(frozen=True)
class Explanations:
    """The explanations document. ``settled`` counts the questions each method decided (for
    the benchmark and the logs; not part of the document)."""

    mechanism: str
    objective: int | None
    complete: bool
    persons: tuple[PersonExplanation, ...]
    rules: tuple[RulePrice, ...]
    places: tuple[PlaceValue, ...]
    explain_seconds: float
    settled: dict[str, int] = field(default_factory=dict)


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def rule_words(rule: Rule) -> str:
    """A rule in plain words, for people and commissioners."""
    if rule.type == "coverage_floor":
        share = round(100 * float(rule.min_share or 0.0))
        which = f" ({', '.join(rule.values)})" if rule.values else ""
        return f"at least {share}% of the people in each {rule.attribute} group{which} get a place"
    if rule.type == "coverage_gap":
        gap = round(100 * float(rule.max_gap or 0.0))
        return (
            f"the share of people with a place in each {rule.attribute} group is within "
            f"{gap}% of every other {rule.attribute} group"
        )
    return f"the {rule.attribute} group with the smallest share of places gets as many as it can"


def message_for(code: ReasonCode, person: Person, offer: Offer, rule: Rule | None) -> str:
    """The plain-English sentence shown to the person for one reason."""
    if code == "over_budget":
        return (
            f"This costs {_pounds(offer.price)} a place. Your budget is "
            f"{_pounds(person.budget)}, so it costs too much."
        )
    if code == "no_places":
        return "This service has no places this round."
    if code == "full_higher_priority":
        return (
            "All its places went to people ahead of you in the queue: their need was higher, "
            "or their need was the same and they came first in the draw."
        )
    if code == "unknown":
        return "We could not work out why you did not get this place. Please ask the council."
    if code == "tie":
        return (
            "Someone else got this place, but it would have been just as good overall for you "
            "to have it. It could have gone either way."
        )
    if code == "capacity":
        return (
            "All its places went to other people, and that helped more people overall. "
            "If it had one more place, you could have had it."
        )
    if code == "pot":
        return "There was not enough money left in the council's pot to pay for this place."
    if code == "rule":
        assert rule is not None
        return f"This place helped share places fairly. The rule is: {rule_words(rule)}."
    return (
        "Several limits together stopped this: the number of places, the money, and the "
        "rules for sharing places fairly."
    )


#: How many processes an explanation may use (default: the cores this process may run on).
WORKERS_VARIABLE = "TAPESTRY_EXPLAIN_WORKERS"


def workers_from_environment() -> int:
    """The worker processes for an explanation's exact programs: ``TAPESTRY_EXPLAIN_WORKERS``
    when set, else every core this process may use. Raises ValueError (its message names
    what is wrong) when the variable is not a whole number of at least 1."""
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not text:
        return max(1, len(os.sched_getaffinity(0)))
    if not text.isdigit() or int(text) < 1:
        raise ValueError("must be a whole number, at least 1")
    return int(text)


def explain(
    instance: Instance,
    result: Result,
    *,
    persons: Sequence[str] | None = None,
    time_limit_s: float | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> Explanations:
    """The explanations document of ``result`` (a result of ``instance``).

    ``persons``: explain only these person ids (then ``rules`` and ``places`` are empty);
    default every person, with both sections filled. ``time_limit_s`` bounds the whole call
    (default the instance's ``policy.time_limit_s``); what it stops before deciding is left
    out and ``complete`` is False. ``workers`` is how many processes may share the exact
    re-solves. ``progress`` is told (phase, done, total) as work is done.

    The result must fit the instance (:func:`engine.explain_check.result_problems` is empty)
    and have an allocation (status ``optimal``, ``feasible`` or ``stable``).
    """
    from engine.explain_welfare import explain_document

    started = time.perf_counter()
    limit = instance.policy.time_limit_s if time_limit_s is None else float(time_limit_s)
    return explain_document(
        instance,
        result,
        persons=None if persons is None else list(persons),
        deadline=started + limit,
        started=started,
        workers=workers,
        progress=progress,
    )
