"""Setting a person's whole ranked list of choices at once (the API's ``PUT /me/choices``).

Built on :mod:`web.services.choices`: the list is emptied and each offer is added in order with
:func:`web.services.choices.add_choice`, so every rule of a single choice (in the open round,
published, eligible, affordable, at most ``max_choices``) applies to each one. The caller rolls
back when this raises, so a list is taken whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import User
from models.base import utcnow
from models.people import PersonProfile
from models.rounds import Choice
from web.services import choices
from web.services.acting import authorise, record
from web.services.errors import Conflict, InvalidInput, NotFound, StateConflict
from web.services.profiles import open_round_for
from web.services.words import _


def replace_choices(
    session: Session, actor: User, person: PersonProfile, offer_ids: Sequence[int]
) -> choices.MyChoices:
    """Make ``offer_ids`` (most wanted first) the person's choices in their open round.

    Raises :class:`InvalidInput` on ``offer_ids`` when an offer is named twice;
    :class:`StateConflict` on ``offer_ids`` when the list is longer than the round allows, or
    naming the first offer that cannot be chosen (not in the round, not for this person, or
    over the budget left) and why; :class:`web.services.errors.Conflict` when no round is open
    for choices.
    """
    authorise(session, actor, person, "draft")
    choices.lock_choices(session, person)
    if len(set(offer_ids)) != len(offer_ids):
        raise InvalidInput({"offer_ids": _("Choose each service only once")})
    round_ = open_round_for(session, person)
    if round_ is None:
        raise Conflict(_("There is no round open for choices just now."))
    if round_.choice_deadline is not None and utcnow() > round_.choice_deadline:
        raise Conflict(_("The time for choosing in this round has ended."))
    if len(offer_ids) > round_.max_choices:
        raise StateConflict(
            {"offer_ids": _("You can choose up to %(most)s services", most=round_.max_choices)}
        )
    existing = list(
        session.scalars(
            select(Choice)
            .where(Choice.round_id == round_.id, Choice.person_id == person.id)
            .order_by(Choice.rank)
        )
    )
    before = [c.offer_id for c in existing]
    for choice in existing:
        session.delete(choice)
    session.flush()
    for position, offer_id in enumerate(offer_ids, start=1):
        try:
            choices.add_choice(session, actor, person, offer_id)
        except NotFound as error:
            raise StateConflict(
                {
                    "offer_ids": _(
                        "Choice %(rank)s: %(problem)s", rank=position, problem=error.message
                    )
                }
            ) from error
        except InvalidInput as error:
            message = " ".join(error.errors.values())
            raise StateConflict(
                {"offer_ids": _("Choice %(rank)s: %(problem)s", rank=position, problem=message)}
            ) from error
    record(
        session,
        actor,
        "choices.replaced",
        person=person,
        subject=("round", round_.id),
        data={"before": before, "after": list(offer_ids)},
    )
    return choices.my_choices(session, actor, person)
