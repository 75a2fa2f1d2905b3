"""The council moves a person's place to another offer of the round, or releases it.

A provider cannot cut an offer's places below those people hold, nor withdraw it, while a round
holds them (:mod:`web.services.offers`): the council moves those people first, here.

* An **offered** place (not yet answered) may be moved to another offer with a free place in
  the same round, or released. The person is offered the new place and may still accept or
  decline it.
* An **accepted** place may be moved only with the person's consent, recorded by the
  commissioner (``consent=True``): the person decided, so the council does not decide again
  for them. The money committed for the old place goes back to their budget and the new
  place's price is committed from it, in one guarded step. An accepted place may always be
  released (the money goes back), with a reason.

Every move and release needs a reason, is one guarded update (the old place is still what it
was, the new offer still has a free place, the budget still has the money) and is audited. The
place freed is not offered on to the next person: the council frees places so that the provider
can cut or withdraw them. Nothing is moved to an offer that is withdrawn, or that the person
held, turned down or gave up before, nor so that the places held cost more than the round's
pot.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models.accounts import User
from models.audit import append_event
from models.base import utcnow
from models.people import PersonProfile
from models.providers import Offer, OfferStatus
from models.rounds import (
    Allocation,
    AllocationStatus,
    Budget,
    Commitment,
    Round,
    RoundOffer,
    RoundStatus,
)
from web.services.allocations import (
    HELD,
    _lock_round,
    answer_deadline,
    commit_money,
    give_back_place,
    take_place,
)
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.notifications import PLACE_MOVED, notify

#: The longest reason a commissioner may give for moving or releasing a place.
REASON_MAX_CHARS = 2000


def held_places(session: Session, round_: Round, offer_id: int | None = None) -> list[Allocation]:
    """The places people hold (offered or accepted) in the round, by offer then person."""
    where = [Allocation.round_id == round_.id, Allocation.status.in_(HELD)]
    if offer_id is not None:
        where.append(Allocation.offer_id == offer_id)
    return list(
        session.scalars(
            select(Allocation)
            .where(*where)
            .options(selectinload(Allocation.offer), selectinload(Allocation.person))
            .order_by(Allocation.offer_id, Allocation.person_id, Allocation.id)
        )
    )


def get_held_place(session: Session, round_: Round, allocation_id: int) -> Allocation:
    """The held place ``allocation_id`` of the round (:class:`NotFound` otherwise)."""
    allocation = session.get(Allocation, allocation_id)
    if allocation is None or allocation.round_id != round_.id:
        raise NotFound("There is no such place in this round.")
    return allocation


def move_targets(session: Session, round_: Round, allocation: Allocation) -> list[RoundOffer]:
    """The offers of the round this place could move to: published, with a free place, and not
    one the person held, turned down or gave up before."""
    tried = set(
        session.scalars(
            select(Allocation.offer_id).where(
                Allocation.round_id == round_.id, Allocation.person_id == allocation.person_id
            )
        )
    )
    rows = session.scalars(
        select(RoundOffer)
        .join(Offer, Offer.id == RoundOffer.offer_id)
        .where(
            RoundOffer.round_id == round_.id,
            RoundOffer.places_taken < RoundOffer.places,
            Offer.status == OfferStatus.published,
        )
        .options(selectinload(RoundOffer.offer))
        .order_by(Offer.title, Offer.id)
    )
    return [ro for ro in rows if ro.offer_id not in tried]


def _clean_reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise InvalidInput({"reason": "Say why you move or release this place"})
    if len(text) > REASON_MAX_CHARS:
        raise InvalidInput({"reason": f"Say why in {REASON_MAX_CHARS:,} characters or fewer"})
    return text


def _check_round(round_: Round, allocation: Allocation) -> None:
    if round_.status != RoundStatus.published:
        raise Conflict("Places can be moved only in a published round.")
    if allocation.status not in HELD:
        raise Conflict("This place is no longer held: it was turned down, given up or moved.")


def _leave(
    session: Session,
    allocation: Allocation,
    actor: User,
    reason: str,
    to_offer: Offer | None = None,
) -> bool:
    """Mark the held place withdrawn, only if it is still as it was (guarded). Its explanation
    becomes what the council did (moved to ``to_offer``, or taken away) and the council's
    reason, so the person sees why (the run keeps the engine's). The words are made from the
    ``action`` when read (``web.services.explanations``); the plain English ``summary`` stays
    for pages and API readers that look at the stored row."""
    words: dict[str, object] = {"source": "council", "reasons": [reason]}
    if to_offer is None:
        words |= {"action": "taken_away", "summary": "The council took this place away."}
    else:
        words |= {
            "action": "moved_away",
            "to_offer_id": to_offer.id,
            "summary": f"The council moved this place to {to_offer.title}.",
        }
    moved = session.execute(
        update(Allocation)
        .where(Allocation.id == allocation.id, Allocation.status == allocation.status)
        .values(
            status=AllocationStatus.withdrawn,
            decided_at=utcnow(),
            decided_by_user_id=actor.id,
            explanation=words,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def release_money(session: Session, allocation: Allocation) -> int:
    """Give the money committed for an accepted place back to the budget. The pence given."""
    commitment = session.scalars(
        select(Commitment).where(
            Commitment.allocation_id == allocation.id, Commitment.released_at.is_(None)
        )
    ).first()
    if commitment is None:
        return 0
    released = session.execute(
        update(Commitment)
        .where(Commitment.id == commitment.id, Commitment.released_at.is_(None))
        .values(released_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    given = session.execute(
        update(Budget)
        .where(
            Budget.id == commitment.budget_id,
            Budget.committed_pence >= commitment.amount_pence,
        )
        .values(committed_pence=Budget.committed_pence - commitment.amount_pence)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released != 1 or given != 1:
        raise Conflict("The money of this place does not add up. Ask the council to check.")
    return commitment.amount_pence


def release_place(
    session: Session, actor: User, round_: Round, allocation_id: int, *, reason: str | None
) -> Allocation:
    """Take a held place away from its person, with a reason. An accepted place's money goes
    back to their budget. The place freed is not offered on (module docs)."""
    text = _clean_reason(reason)
    round_ = _lock_round(session, round_.id)
    allocation = get_held_place(session, round_, allocation_id)
    _check_round(round_, allocation)
    was = allocation.status
    if not _leave(session, allocation, actor, text):
        raise Conflict("Someone changed this place meanwhile. Look at it again.")
    given = release_money(session, allocation) if was == AllocationStatus.accepted else 0
    give_back_place(session, round_.id, allocation.offer_id)
    session.refresh(allocation)
    append_event(
        session,
        "allocation.release",
        actor_user_id=actor.id,
        object_type="allocation",
        object_id=allocation.id,
        details={
            "round_id": round_.id,
            "person_id": allocation.person_id,
            "offer_id": allocation.offer_id,
            "was": str(was),
            "released_pence": given,
            "reason": text,
        },
    )
    _tell_person(session, allocation, new=None, reason=text)
    return allocation


def _tell_person(
    session: Session, allocation: Allocation, *, new: Allocation | None, reason: str
) -> None:
    person = session.get(PersonProfile, allocation.person_id)
    if person is None:
        return
    old_offer = session.get(Offer, allocation.offer_id)
    new_offer = session.get(Offer, new.offer_id) if new is not None else None
    notify(
        session,
        user_id=person.user_id,
        event=PLACE_MOVED,
        data={
            "released": new is None,
            "offer_name": old_offer.title if old_offer is not None else None,
            "new_offer_name": new_offer.title if new_offer is not None else None,
            "reason": reason,
            "path": "/person/place",
        },
        key=f"place_moved:{allocation.id}",
    )


def move_place(
    session: Session,
    actor: User,
    round_: Round,
    allocation_id: int,
    *,
    to_offer_id: int | None,
    reason: str | None,
    consent: bool = False,
) -> Allocation:
    """Move a held place to ``to_offer_id`` in the same round (module docs). The new place."""
    text = _clean_reason(reason)
    if to_offer_id is None:
        raise InvalidInput({"to_offer_id": "Choose the offer to move this place to"})
    round_ = _lock_round(session, round_.id)
    allocation = get_held_place(session, round_, allocation_id)
    _check_round(round_, allocation)
    was = allocation.status
    if was == AllocationStatus.accepted and not consent:
        raise InvalidInput(
            {
                "consent": "This person has accepted the place. Move it only if they agree, "
                "and say that they do"
            }
        )
    if to_offer_id not in {ro.offer_id for ro in move_targets(session, round_, allocation)}:
        raise InvalidInput(
            {
                "to_offer_id": "Choose an offer of this round that has a free place and that "
                "this person has not had or turned down"
            }
        )
    target = session.get(Offer, to_offer_id)
    assert target is not None  # it is one of the round's offers
    budget = session.scalars(
        select(Budget).where(Budget.round_id == round_.id, Budget.person_id == allocation.person_id)
    ).first()
    if budget is None:
        raise Conflict("This person has no budget in this round.")
    # An offered place is paid only when accepted, but it must be payable: the person's money
    # left, less their other offered places (and plus this place's, if it is paid), must cover
    # it. Checked before anything changes; the guarded update below makes sure of it.
    other_offered = sum(
        a.price_pence
        for a in session.scalars(
            select(Allocation).where(
                Allocation.round_id == round_.id,
                Allocation.person_id == allocation.person_id,
                Allocation.status == AllocationStatus.offered,
                Allocation.id != allocation.id,
            )
        )
    )
    paid_back = allocation.price_pence if was == AllocationStatus.accepted else 0
    left = budget.amount_pence - budget.committed_pence + paid_back - other_offered
    if target.price_pence > left:
        raise InvalidInput(
            {"to_offer_id": f"{target.title} costs more than this person has left in their budget"}
        )
    if round_.pot_pence is not None:
        # The round's pot counts every held place's price; the round's lock (taken above, as
        # publication and re-offers take it) keeps that sum still meanwhile.
        spend = session.scalar(
            select(func.coalesce(func.sum(Allocation.price_pence), 0)).where(
                Allocation.round_id == round_.id, Allocation.status.in_(HELD)
            )
        )
        if (spend or 0) - allocation.price_pence + target.price_pence > round_.pot_pence:
            raise InvalidInput(
                {"to_offer_id": f"Moving this place to {target.title} would spend more than "
                 "the round's pot"}
            )  # fmt: skip
    if not _leave(session, allocation, actor, text, target):
        raise Conflict("Someone changed this place meanwhile. Look at it again.")
    given = release_money(session, allocation) if was == AllocationStatus.accepted else 0
    give_back_place(session, round_.id, allocation.offer_id)
    if not take_place(session, round_.id, to_offer_id):
        raise Conflict(f"{target.title} has no free place now. Choose another offer.")
    session.refresh(budget)
    new = Allocation(
        round_id=round_.id,
        run_id=allocation.run_id,
        person_id=allocation.person_id,
        offer_id=to_offer_id,
        rank=None,
        utility=None,
        price_pence=target.price_pence,
        status=was,
        decided_at=utcnow() if was == AllocationStatus.accepted else None,
        decided_by_user_id=actor.id if was == AllocationStatus.accepted else None,
        answer_by=answer_deadline(round_) if was == AllocationStatus.offered else None,
        explanation={"source": "council", "action": "moved_here", "reasons": [text]},
    )
    try:
        with session.begin_nested():
            session.add(new)
            session.flush()
    except IntegrityError as error:
        raise Conflict("This person already has a place on that offer.") from error
    if was == AllocationStatus.accepted and target.price_pence > 0:
        if not commit_money(session, budget.id, target.price_pence):
            raise InvalidInput(
                {"to_offer_id": f"{target.title} costs more than this person has left"}
            )
        session.add(
            Commitment(
                allocation_id=new.id,
                budget_id=budget.id,
                provider_id=target.provider_id,
                amount_pence=target.price_pence,
                created_by_user_id=actor.id,
            )
        )
        session.flush()
    session.refresh(allocation)
    append_event(
        session,
        "allocation.move",
        actor_user_id=actor.id,
        object_type="allocation",
        object_id=new.id,
        details={
            "round_id": round_.id,
            "person_id": allocation.person_id,
            "from_allocation_id": allocation.id,
            "from_offer_id": allocation.offer_id,
            "to_offer_id": to_offer_id,
            "was": str(was),
            "consent_recorded": bool(consent) if was == AllocationStatus.accepted else None,
            "released_pence": given,
            "committed_pence": target.price_pence if was == AllocationStatus.accepted else 0,
            "reason": text,
        },
    )
    _tell_person(session, allocation, new=new, reason=text)
    return new
