"""A person's ranked choices in the open round: add, remove, move up or down, and demand.

Ranks always run 1, 2, 3, ... without gaps; a person has at most ``round.max_choices``
choices. An offer that does not fit the person (not eligible, or costing more than the money
left in their budget) cannot be chosen: the allocation could never give it to them.

"Oversubscribed" means more people have chosen an offer (at any rank) than it has places in the
round. When every one of a person's choices is oversubscribed they are warned, because they may
get none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models.accounts import User
from models.base import utcnow
from models.people import PersonProfile
from models.providers import Offer, OfferStatus
from models.rounds import Choice, Round, RoundOffer, RoundStatus
from web.services.acting import authorise, on_behalf_of, record
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.matching import score_offer
from web.services.profiles import offer_facts, open_round_for, person_facts
from web.services.words import _


@dataclass(frozen=True, slots=True)
class RankedChoice:
    """One of the person's choices with the demand for it."""

    choice: Choice
    offer: Offer
    places: int
    chosen_by: int

    @property
    def oversubscribed(self) -> bool:
        """More people chose it than it has places."""
        return self.chosen_by > self.places


@dataclass(frozen=True, slots=True)
class MyChoices:
    """The "My choices" page: the round, the ranked choices and whether to warn."""

    round: Round | None
    choices: list[RankedChoice]
    #: When no round is open: the latest round the person chose in, and their choices there
    #: (to read, not to change), so their ranking does not vanish once choosing closes.
    past_round: Round | None = None
    past_choices: list[Choice] = field(default_factory=list)

    @property
    def can_add(self) -> bool:
        return self.round is not None and len(self.choices) < self.round.max_choices

    @property
    def all_oversubscribed(self) -> bool:
        """True when there is at least one choice and every one is oversubscribed."""
        return bool(self.choices) and all(c.oversubscribed for c in self.choices)


def demand(session: Session, round_: Round, offer_ids: list[int]) -> dict[int, int]:
    """How many people chose each offer in ``round_`` (at any rank)."""
    if not offer_ids:
        return {}
    rows = session.execute(
        select(Choice.offer_id, func.count())
        .where(Choice.round_id == round_.id, Choice.offer_id.in_(offer_ids))
        .group_by(Choice.offer_id)
    )
    counts = {offer_id: n for offer_id, n in rows}
    return {offer_id: counts.get(offer_id, 0) for offer_id in offer_ids}


def my_choices(session: Session, actor: User, person: PersonProfile) -> MyChoices:
    """The person's choices in their open round, rank 1 first, with demand for each."""
    authorise(session, actor, person, "view")
    round_ = open_round_for(session, person)
    if round_ is None:
        past = session.scalars(
            select(Round)
            .join(Choice, Choice.round_id == Round.id)
            .where(Choice.person_id == person.id, Round.status != RoundStatus.draft)
            .order_by(Round.published_at.desc().nulls_last(), Round.id.desc())
        ).first()
        if past is None:
            return MyChoices(None, [])
        return MyChoices(None, [], past, _choices(session, person, past))
    choices = _choices(session, person, round_)
    places = {
        ro.offer_id: ro.places
        for ro in session.scalars(
            select(RoundOffer).where(
                RoundOffer.round_id == round_.id,
                RoundOffer.offer_id.in_([c.offer_id for c in choices]),
            )
        )
    }
    counts = demand(session, round_, [c.offer_id for c in choices])
    ranked = [
        RankedChoice(c, c.offer, places.get(c.offer_id, 0), counts[c.offer_id]) for c in choices
    ]
    return MyChoices(round_, ranked)


def _choices(session: Session, person: PersonProfile, round_: Round) -> list[Choice]:
    return list(
        session.scalars(
            select(Choice)
            .where(Choice.round_id == round_.id, Choice.person_id == person.id)
            .options(selectinload(Choice.offer))
            .order_by(Choice.rank)
        )
    )


def lock_choices(session: Session, person: PersonProfile) -> None:
    """Hold the person's list of choices until the transaction ends, so that changes to one
    person's list take turns and each reads the list as the one before left it (a row lock on
    PostgreSQL, which lets rows referring to the person be written meanwhile; on SQLite every
    transaction already holds the single writer lock). Without it, two removals at once could
    leave a gap in the ranks."""
    session.execute(
        select(PersonProfile.id)
        .where(PersonProfile.id == person.id)
        .with_for_update(key_share=True)
    )


@contextmanager
def _unchanged_meanwhile(session: Session) -> Iterator[None]:
    """Make a change to the choices in a savepoint. If the choices changed since they were
    read (a second click, or someone acting for the person at the same moment), the unique
    ranks refuse the change and the person is asked to look again, instead of an error."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            _("Your choices changed while you were making this change. Look at them and try again.")
        ) from error


def _open_round(session: Session, person: PersonProfile) -> Round:
    round_ = open_round_for(session, person)
    if round_ is None:
        raise Conflict(_("There is no round open for choices just now."))
    deadline = round_.choice_deadline
    if deadline is not None and utcnow() > deadline.astimezone(UTC):
        raise Conflict(_("The time for choosing in this round has ended."))
    return round_


def add_choice(session: Session, actor: User, person: PersonProfile, offer_id: int) -> Choice:
    """Add ``offer_id`` as the person's next choice (the lowest rank so far + 1)."""
    authorise(session, actor, person, "draft")
    lock_choices(session, person)
    round_ = _open_round(session, person)
    offer = session.get(Offer, offer_id)
    in_round = session.scalars(
        select(RoundOffer).where(RoundOffer.round_id == round_.id, RoundOffer.offer_id == offer_id)
    ).first()
    if offer is None or offer.status != OfferStatus.published or in_round is None:
        raise NotFound(_("You cannot choose that service in this round."))
    choices = _choices(session, person, round_)
    if any(c.offer_id == offer_id for c in choices):
        raise InvalidInput({"offer_id": _("You have already chosen this service")})
    if len(choices) >= round_.max_choices:
        raise InvalidInput(
            {
                "offer_id": _(
                    "You can choose up to %(most)s services. Remove one before you add another",
                    most=round_.max_choices,
                )
            }
        )
    match = score_offer(person_facts(session, person, round_), offer_facts(offer))
    if not match.fits:
        raise InvalidInput({"offer_id": " ".join(r.text for r in match.blockers)})
    choice = Choice(
        round_id=round_.id,
        person_id=person.id,
        offer_id=offer_id,
        rank=len(choices) + 1,
        created_by_user_id=actor.id,
        on_behalf_of_user_id=on_behalf_of(actor, person),
    )
    with _unchanged_meanwhile(session):
        session.add(choice)
    record(
        session,
        actor,
        "choice.added",
        person=person,
        subject=("choice", choice.id),
        data={"round_id": round_.id, "offer_id": offer_id, "rank": choice.rank},
    )
    return choice


def remove_choice(session: Session, actor: User, person: PersonProfile, offer_id: int) -> None:
    """Remove a choice; the choices after it move up one rank."""
    authorise(session, actor, person, "draft")
    lock_choices(session, person)
    round_ = _open_round(session, person)
    choices = _choices(session, person, round_)
    target = next((c for c in choices if c.offer_id == offer_id), None)
    if target is None:
        raise NotFound(_("That service is not one of your choices."))
    with _unchanged_meanwhile(session):
        session.delete(target)
        session.flush()
        # Close the gap one row at a time, lowest first, so (round, person, rank) stays unique.
        for choice in choices:
            if choice.rank > target.rank:
                choice.rank -= 1
                session.flush()
    record(
        session,
        actor,
        "choice.removed",
        person=person,
        subject=("choice", target.id),
        data={"round_id": round_.id, "offer_id": offer_id, "rank": target.rank},
    )


def move_choice(
    session: Session,
    actor: User,
    person: PersonProfile,
    offer_id: int,
    direction: Literal["up", "down"],
) -> None:
    """Swap a choice with the one above it ("up", towards rank 1) or below it ("down")."""
    authorise(session, actor, person, "draft")
    lock_choices(session, person)
    if direction not in ("up", "down"):
        raise InvalidInput({"direction": _("Choose up or down")})
    round_ = _open_round(session, person)
    choices = _choices(session, person, round_)
    index = next((i for i, c in enumerate(choices) if c.offer_id == offer_id), None)
    if index is None:
        raise NotFound(_("That service is not one of your choices."))
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(choices):
        return  # already first (or last): nothing to do
    a, b = choices[index], choices[other_index]
    rank_a, rank_b = a.rank, b.rank
    # Park one row on a free rank first, so the unique (round, person, rank) never clashes.
    with _unchanged_meanwhile(session):
        a.rank = len(choices) + 1
        session.flush()
        b.rank = rank_a
        session.flush()
        a.rank = rank_b
        session.flush()
    record(
        session,
        actor,
        "choice.moved",
        person=person,
        subject=("choice", a.id),
        data={"round_id": round_.id, "offer_id": offer_id, "from": rank_a, "to": rank_b},
    )
