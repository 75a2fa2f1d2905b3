"""Easy Read (issue 13): a person's setting, and the Easy Read words for their reasons.

A person who chooses Easy Read reads their pages (and anyone acting for them reads those
pages) in short lines, one idea each, with a picture beside each key sentence and larger type;
their messages come in Easy Read too. The pages choose the Easy Read template and the data is
the same (``web.easy_read``); this module keeps the setting and makes the Easy Read sentences
for the engine's reason codes (``shared/spec/explanations-format.md``), as
:mod:`web.services.explanations` makes the plain ones.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.accounts import User
from models.people import PersonProfile
from web.services import explanations
from web.services.acting import authorise, record
from web.services.errors import InvalidInput
from web.services.explanations import PERSON, PlaceWords, Reader
from web.services.words import N_, _

#: What a form may send for the setting: on or off.
CHOICES = {"on": True, "off": False}


def parse_choice(text: str | None) -> bool:
    """``on`` -> True, ``off`` -> False; anything else is refused, naming the field."""
    choice = CHOICES.get((text or "").strip().lower())
    if choice is None:
        raise InvalidInput({"easy_read": _("Choose if you want Easy Read")})
    return choice


def set_easy_read(session: Session, actor: User, person: PersonProfile, on: bool) -> bool:
    """Switch Easy Read on or off for ``person``: by the person, or by someone they let change
    things for them ("draft"). Returns the new setting."""
    authorise(session, actor, person, "draft")
    if person.easy_read != on:
        person.easy_read = on
        session.flush()
        record(
            session,
            actor,
            "profile.easy_read_on" if on else "profile.easy_read_off",
            person=person,
            subject=("person_profile", person.id),
        )
    return on


def _pounds(pence: int) -> str:
    return f"£{pence // 100:,}" if pence % 100 == 0 else f"£{pence // 100:,}.{pence % 100:02d}"


def reason_words(
    code: str | None,
    reader: Reader = PERSON,
    *,
    price_pence: int | None = None,
    budget_pence: int | None = None,
) -> str | None:
    """The Easy Read sentence for one of the engine's reason codes: short words, one idea, in
    the reader's voice; None for a code we do not know (the plain words are used then)."""
    says = reader.says
    if code == "over_budget":
        if price_pence is not None and budget_pence is not None:
            return says(
                N_("It costs %(price)s. You have %(budget)s. That is not enough money."),
                N_("It costs %(price)s. %(name)s has %(budget)s. That is not enough money."),
                price=_pounds(price_pence),
                budget=_pounds(budget_pence),
            )
        return says(
            N_("It costs more money than you have."),
            N_("It costs more money than %(name)s has."),
        )
    if code == "no_places":
        return _("It has no places this time.")
    if code == "full_higher_priority":
        return says(
            N_("It is full. Other people were first in the line."),
            N_("It is full. Other people were before %(name)s in the line."),
        )
    if code == "unknown":
        return _("We do not know why. Please ask the council.")
    if code == "tie":
        return _("It was a close call. Someone else got it this time.")
    if code == "capacity":
        return says(
            N_("It is full. With one more place, you could have it."),
            N_("It is full. With one more place, %(name)s could have it."),
        )
    if code == "pot":
        return _("The council did not have enough money left for it.")
    if code == "rule":
        return _("The council shares places fairly between groups. It went to someone else.")
    if code == "several_limits":
        return _("There were not enough places or money. Rules to be fair stopped it too.")
    return None


def _reoffer_words(explanation: dict[str, Any], reader: Reader) -> PlaceWords:
    rank = explanation.get("rank")
    summary = _(
        "Someone said no to this place. So it came to you. It was %(choice)s.",
        choice=explanations.choice_words(rank if isinstance(rank, int) else None, reader),
    )
    if reader.name is not None:
        summary = _(
            "Someone said no to this place. So it came to %(name)s. It was %(choice)s.",
            name=reader.name,
            choice=explanations.choice_words(rank if isinstance(rank, int) else None, reader),
        )
    mechanism = explanation.get("mechanism")
    if mechanism == "stable":
        reasons = [
            reader.says(N_("You were next in the line."), N_("%(name)s was next in the line."))
        ]
    elif mechanism == "welfare":
        reasons = [
            reader.says(
                N_("It meant the most to you."),
                N_("It meant the most to %(name)s."),
            )
        ]
    else:
        reasons = [r for r in explanation.get("reasons") or [] if isinstance(r, str)]
    return PlaceWords(summary=summary, reasons=reasons)


def place_words(
    session: Session,
    explanation: Any,
    reader: Reader = PERSON,
    *,
    budget_pence: int | None = None,
) -> PlaceWords:
    """:func:`web.services.explanations.place_words`, with the reasons in Easy Read words."""
    if isinstance(explanation, dict) and explanation.get("source") == "reoffer":
        return _reoffer_words(explanation, reader)
    return explanations.place_words(
        session, explanation, reader, budget_pence=budget_pence, words_for=reason_words
    )
