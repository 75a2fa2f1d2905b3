"""The words a person reads about their place: why they got it, and why not the ones above it.

An allocation's ``explanation`` is JSON. Two shapes occur:

* the engine's: the person's entry of the run's explanations document
  (``shared/spec/explanations-format.md``, stored on the run by the worker and on each
  allocation by publication), ``{"id": "p-3", "ranks_held": [2], "why_not": [...]}``, one
  reason per offer the person ranked above the place they got (or every offer, if they got
  none), each ``{"offer": "o-17", "rank": 1, "code": "full_higher_priority", "rule": null,
  "message": "..."}``. Older rows keep the reasons as a list, or under ``"explanation"``;
* codes that the words are made from here: ``{"source": "reoffer", "rank": 2, "mechanism":
  "stable"}`` for a place offered again after someone said no; ``{"source": "history", "rank":
  1}`` for the demo's earlier round; ``{"source": "council", "action": "moved_here" |
  "moved_away" | "taken_away", "to_offer_id": 9, "reasons": ["..."]}`` when the council moved
  or took away a place (the reasons are the commissioner's own words, kept as written; a
  ``summary`` beside an action is kept for older readers and is not shown);
* older rows: a summary with plain reasons, ``{"summary": "...", "reasons": ["..."]}``, shown
  as stored.

:func:`place_words` reads either and names each offer by its title, so pages never show ids.
The sentences are made here from the engine's codes, in the reader's language (``words._``)
and voice: "you" to the person, their name to an advocate acting for them (:class:`Reader`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.providers import Offer
from web.services.words import N_, _


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads the words: the person themself (``name`` None: "you"), or an advocate acting
    for them, who reads about the person by name ("Amina did not get a place this time.")."""

    name: str | None = None

    def says(self, own: str, theirs: str, **values: object) -> str:
        """``own`` (to the person) or ``theirs`` (with ``%(name)s``), translated and filled."""
        if self.name is None:
            return _(own, **values)
        return _(theirs, name=self.name, **values)


PERSON = Reader()

#: Makes the sentence for a reason code: ``(code, reader, *, price_pence, budget_pence)``.
ReasonWords = Callable[..., str | None]


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


def choice_words(rank: int | None, reader: Reader = PERSON) -> str:
    """``1`` -> ``"your first choice"``, ``7`` -> ``"your choice number 7"`` ("their" for an
    advocate reading about the person)."""
    says = reader.says
    if rank is None:
        return says(N_("one of your choices"), N_("one of their choices"))
    if rank == 1:
        return says(N_("your first choice"), N_("their first choice"))
    if rank == 2:
        return says(N_("your second choice"), N_("their second choice"))
    if rank == 3:
        return says(N_("your third choice"), N_("their third choice"))
    if rank == 4:
        return says(N_("your fourth choice"), N_("their fourth choice"))
    if rank == 5:
        return says(N_("your fifth choice"), N_("their fifth choice"))
    return says(N_("your choice number %(rank)s"), N_("their choice number %(rank)s"), rank=rank)


def held_words(ranks_held: list[Any], reader: Reader = PERSON) -> str:
    """``[]`` -> "You did not get a place this time."; ``[1]`` -> "You got your first choice."."""
    ranks = [r for r in ranks_held if isinstance(r, int)]
    if not ranks:
        return reader.says(
            N_("You did not get a place this time."), N_("%(name)s did not get a place this time.")
        )
    choices = choice_words(ranks[0], reader)
    for rank in ranks[1:]:
        choices = _("%(first)s and %(next)s", first=choices, next=choice_words(rank, reader))
    return reader.says(N_("You got %(choices)s."), N_("%(name)s got %(choices)s."), choices=choices)


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def reason_words(
    code: str | None,
    reader: Reader = PERSON,
    *,
    price_pence: int | None = None,
    budget_pence: int | None = None,
) -> str | None:
    """The sentence for one of the engine's reason codes (``explanations-format.md``), made
    here so that it can be in the reader's language and voice; None for a code we do not
    know (the page then keeps the engine's own sentence)."""
    says = reader.says
    if code == "over_budget":
        if price_pence is not None and budget_pence is not None:
            return says(
                N_(
                    "This costs %(price)s a place. Your budget is %(budget)s, so it costs too much."
                ),
                N_(
                    "This costs %(price)s a place. %(name)s’s budget is %(budget)s, so it costs "
                    "too much."
                ),
                price=_pounds(price_pence),
                budget=_pounds(budget_pence),
            )
        return says(
            N_("This costs more than your budget."), N_("This costs more than %(name)s’s budget.")
        )
    if code == "no_places":
        return _("This service has no places this round.")
    if code == "full_higher_priority":
        return says(
            N_(
                "All its places went to people ahead of you in the queue: their need was higher, "
                "or their need was the same and they came first in the draw."
            ),
            N_(
                "All its places went to people ahead of %(name)s in the queue: their need was "
                "higher, or their need was the same and they came first in the draw."
            ),
        )
    if code == "unknown":
        return says(
            N_("We could not work out why you did not get this place. Please ask the council."),
            N_(
                "We could not work out why %(name)s did not get this place. Please ask the council."
            ),
        )
    if code == "tie":
        return says(
            N_(
                "Someone else got this place, but it would have been just as good overall for you "
                "to have it. It could have gone either way."
            ),
            N_(
                "Someone else got this place, but it would have been just as good overall for "
                "%(name)s to have it. It could have gone either way."
            ),
        )
    if code == "capacity":
        return says(
            N_(
                "All its places went to other people, and that helped more people overall. If it "
                "had one more place, you could have had it."
            ),
            N_(
                "All its places went to other people, and that helped more people overall. If it "
                "had one more place, %(name)s could have had it."
            ),
        )
    if code == "pot":
        return _("There was not enough money left in the council’s pot to pay for this place.")
    if code == "rule":
        return _(
            "This place went to someone else so that places were shared fairly between "
            "groups of people, as the council’s rules ask."
        )
    if code == "several_limits":
        return _(
            "Several limits together stopped this: the number of places, the money, and the "
            "rules for sharing places fairly."
        )
    return None


def _reoffer_words(explanation: Mapping[str, Any], reader: Reader) -> PlaceWords:
    """A place offered again after someone said no (``allocations`` writes ``source``
    ``reoffer`` with the person's ``rank`` of it, and the ``mechanism`` when it is known)."""
    rank = explanation.get("rank")
    summary = _(
        "A place came free because someone turned it down. It was %(choice)s.",
        choice=choice_words(rank if isinstance(rank, int) else None, reader),
    )
    mechanism = explanation.get("mechanism")
    if mechanism == "stable":
        reasons = [
            reader.says(
                N_(
                    "You were next in line: among the people who wanted it more than what they "
                    "had, you had the highest priority (need first, then the lottery)."
                ),
                N_(
                    "%(name)s was next in line: among the people who wanted it more than what "
                    "they had, %(name)s had the highest priority (need first, then the lottery)."
                ),
            )
        ]
    elif mechanism == "welfare":
        reasons = [
            reader.says(
                N_(
                    "Giving it to you did the most good: it meant more to you than to anyone else "
                    "who wanted it and could afford it."
                ),
                N_(
                    "Giving it to %(name)s did the most good: it meant more to %(name)s than to "
                    "anyone else who wanted it and could afford it."
                ),
            )
        ]
    else:  # an older row: its own words
        reasons = [r for r in explanation.get("reasons") or [] if isinstance(r, str)]
    return PlaceWords(summary=summary, reasons=reasons)


def _history_words(explanation: Mapping[str, Any], reader: Reader) -> PlaceWords:
    """A place of the demo's earlier round (``source`` ``history``, with the person's ``rank``)."""
    rank = explanation.get("rank")
    return PlaceWords(
        summary=held_words([rank] if isinstance(rank, int) else [None], reader),
        reasons=[
            reader.says(
                N_("It had a place for you, and it fitted your budget."),
                N_("It had a place for %(name)s, and it fitted their budget."),
            )
        ],
    )


#: What the council did to a place (``source`` ``council``), each said at read time.
COUNCIL_ACTIONS = ("moved_here", "moved_away", "taken_away")


def _council_words(session: Session, explanation: Mapping[str, Any], reader: Reader) -> PlaceWords:
    """A place the council moved or took away; its reasons are the commissioner's words."""
    action = explanation["action"]
    if action == "moved_here":
        summary = reader.says(
            N_("The council moved your place to this service."),
            N_("The council moved %(name)s’s place to this service."),
        )
    elif action == "moved_away":
        to = explanation.get("to_offer_id")
        offer = session.get(Offer, to) if isinstance(to, int) else None
        summary = (
            _("The council moved this place to %(service)s.", service=offer.title)
            if offer is not None
            else _("The council moved this place to another service.")
        )
    else:
        summary = _("The council took this place away.")
    reasons = [r for r in explanation.get("reasons") or [] if isinstance(r, str)]
    return PlaceWords(summary=summary, reasons=reasons)


def place_words(
    session: Session,
    explanation: Any,
    reader: Reader = PERSON,
    *,
    budget_pence: int | None = None,
    words_for: ReasonWords | None = None,
) -> PlaceWords:
    """Plain words for an allocation's (or a person's) stored explanation; see the module.

    ``reader`` is who reads them (the person, or an advocate acting for them); the engine's
    reasons are made into sentences from their codes for that reader, and
    ``budget_pence`` is the person's budget, named when an offer costs more than it.
    ``words_for`` makes those sentences (this module's, unless another is given, such as
    Easy Read's in :mod:`web.services.easy_read`)."""
    make_reason = words_for or reason_words
    if not explanation:
        return PlaceWords()
    entries: list[Any] = []
    summary: str | None = None
    reasons: list[str] = []
    if isinstance(explanation, list):
        entries = explanation
    elif isinstance(explanation, Mapping):
        source = explanation.get("source")
        if source == "reoffer":
            return _reoffer_words(explanation, reader)
        if source == "history":
            return _history_words(explanation, reader)
        if source == "council" and explanation.get("action") in COUNCIL_ACTIONS:
            return _council_words(session, explanation, reader)
        if isinstance(explanation.get("ranks_held"), list):
            summary = held_words(explanation["ranks_held"], reader)
        elif isinstance(explanation.get("summary"), str):
            summary = explanation["summary"]
        reasons = [r for r in explanation.get("reasons") or [] if isinstance(r, str)]
        for key in ("explanation", "why_not"):
            if isinstance(explanation.get(key), list):
                entries = explanation[key]
                break
    entries = [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("message"), str)]
    offers = _offers(session, [e.get("offer") for e in entries])
    why_not = []
    for e in entries:
        code = e.get("code") if isinstance(e.get("code"), str) else None
        title, price = offers.get(str(e.get("offer")), (None, None))
        words = make_reason(code, reader, price_pence=price, budget_pence=budget_pence)
        why_not.append(
            WhyNot(
                rank=e.get("rank") if isinstance(e.get("rank"), int) else None,
                title=title
                or reader.says(N_("A service you chose"), N_("A service %(name)s chose")),
                message=words or e["message"],
                code=code,
            )
        )
    return PlaceWords(summary=summary, reasons=reasons, why_not=why_not)


def _offers(session: Session, keys: list[Any]) -> dict[str, tuple[str, int]]:
    """Each engine offer key ("o-17") and its offer's title and price per place."""
    ids: dict[int, str] = {}
    for key in keys:
        text = str(key or "")
        number = text.rpartition("-")[2]
        if number.isdigit():
            ids[int(number)] = text
    if not ids:
        return {}
    rows = session.execute(
        select(Offer.id, Offer.title, Offer.price_pence).where(Offer.id.in_(list(ids)))
    )
    return {ids[offer_id]: (title, price) for offer_id, title, price in rows}
