"""The words a person reads about their place: why they got it, and why not the ones above it.

An allocation's ``explanation`` is JSON. Two shapes occur:

* the engine's: the person's entry of the run's explanations document
  (``shared/spec/explanations-format.md``, stored on the run by the worker and on each
  allocation by publication), ``{"id": "p-3", "ranks_held": [2], "why_not": [...]}``, one
  reason per offer the person ranked above the place they got (or every offer, if they got
  none), each ``{"offer": "o-17", "rank": 1, "code": "full_higher_priority", "rule": null,
  "message": "..."}``. Older rows keep the reasons as a list, or under ``"explanation"``;
* a summary with plain reasons, ``{"summary": "...", "reasons": ["..."]}``, written when a
  place is offered again after someone said no, and in the demo's history.

:func:`place_words` reads either and names each offer by its title, so pages never show ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.providers import Offer

ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


@dataclass(frozen=True, slots=True)
class WhyNot:
    """Why the person did not get one offer they ranked."""

    rank: int | None
    title: str
    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class PlaceWords:
    summary: str | None = None
    reasons: list[str] = field(default_factory=list)
    why_not: list[WhyNot] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.summary or self.reasons or self.why_not)


def choice_words(rank: int | None) -> str:
    """``1`` -> ``"your first choice"``, ``7`` -> ``"your choice number 7"``."""
    if rank is None:
        return "one of your choices"
    word = ORDINALS.get(rank)
    return f"your {word} choice" if word else f"your choice number {rank}"


def held_words(ranks_held: list[Any]) -> str:
    """``[]`` -> "You did not get a place this time."; ``[1]`` -> "You got your first choice."."""
    ranks = [r for r in ranks_held if isinstance(r, int)]
    if not ranks:
        return "You did not get a place this time."
    if len(ranks) == 1:
        return f"You got {choice_words(ranks[0])}."
    return "You got " + " and ".join(choice_words(r) for r in ranks) + "."


def place_words(session: Session, explanation: Any) -> PlaceWords:
    """Plain words for an allocation's (or a person's) stored explanation; see the module."""
    if not explanation:
        return PlaceWords()
    entries: list[Any] = []
    summary: str | None = None
    reasons: list[str] = []
    if isinstance(explanation, list):
        entries = explanation
    elif isinstance(explanation, Mapping):
        if isinstance(explanation.get("summary"), str):
            summary = explanation["summary"]
        elif isinstance(explanation.get("ranks_held"), list):
            summary = held_words(explanation["ranks_held"])
        reasons = [r for r in explanation.get("reasons") or [] if isinstance(r, str)]
        for key in ("explanation", "why_not"):
            if isinstance(explanation.get(key), list):
                entries = explanation[key]
                break
    entries = [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("message"), str)]
    titles = _titles(session, [e.get("offer") for e in entries])
    why_not = [
        WhyNot(
            rank=e.get("rank") if isinstance(e.get("rank"), int) else None,
            title=titles.get(str(e.get("offer")), "A service you chose"),
            message=e["message"],
            code=e.get("code") if isinstance(e.get("code"), str) else None,
        )
        for e in entries
    ]
    return PlaceWords(summary=summary, reasons=reasons, why_not=why_not)


def _titles(session: Session, keys: list[Any]) -> dict[str, str]:
    ids: dict[int, str] = {}
    for key in keys:
        text = str(key or "")
        number = text.rpartition("-")[2]
        if number.isdigit():
            ids[int(number)] = text
    if not ids:
        return {}
    rows = session.execute(select(Offer.id, Offer.title).where(Offer.id.in_(list(ids))))
    return {ids[offer_id]: title for offer_id, title in rows}
