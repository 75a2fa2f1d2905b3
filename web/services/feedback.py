"""A person's rating (1 to 5) and comment on a place they took.

Only a place the person accepted, and that has started (the provider gave its start date and
that day has come), can be rated, so ratings come from people who went. Rating the
same place again changes the earlier rating instead of adding a second one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts import User
from models.base import utcnow
from models.people import PersonProfile
from models.rounds import Allocation, AllocationStatus
from models.voice import Feedback
from web.services.acting import authorise, record
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.words import _

COMMENT_MAX_CHARS = 1000


def feedback_for_place(
    session: Session, actor: User, person: PersonProfile, allocation_id: int
) -> tuple[Allocation, Feedback | None]:
    """The accepted place and the person's rating of it so far (None when not rated yet)."""
    authorise(session, actor, person, "view")
    allocation = _accepted_place(session, person, allocation_id)
    return allocation, _existing(session, person, allocation)


def rate_place(
    session: Session,
    actor: User,
    person: PersonProfile,
    allocation_id: int,
    *,
    rating: str | int | None,
    comment: str,
) -> Feedback:
    """Save the person's rating and comment on an accepted place.

    ``rating`` may be the text of a radio button; it must be a whole number from 1 to 5.
    """
    authorise(session, actor, person, "draft")
    allocation = _accepted_place(session, person, allocation_id)
    errors: dict[str, str] = {}
    value: int | None = None
    try:
        value = int(str(rating).strip()) if rating not in (None, "") else None
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 5:
        errors["rating"] = _("Choose how good it was, from 1 to 5 stars")
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        errors["comment"] = _(
            "Your comment must be %(most)s characters or fewer", most=COMMENT_MAX_CHARS
        )
    if errors or value is None:
        raise InvalidInput(errors)

    feedback = _existing(session, person, allocation)
    action = "feedback.changed"
    if feedback is None:
        action = "feedback.given"
        try:
            with session.begin_nested():
                feedback = Feedback(
                    offer_id=allocation.offer_id,
                    person_id=person.id,
                    allocation_id=allocation.id,
                    created_by_user_id=actor.id,
                    rating=value,
                )
                session.add(feedback)
        except IntegrityError:
            # A second click saved it first: change that rating instead of adding another.
            action = "feedback.changed"
            feedback = _existing(session, person, allocation)
            assert feedback is not None
    feedback.rating = value
    feedback.comment = text or None
    session.flush()
    record(
        session,
        actor,
        action,
        person=person,
        subject=("feedback", feedback.id),
        data={"offer_id": allocation.offer_id, "allocation_id": allocation.id, "rating": value},
    )
    return feedback


def _existing(session: Session, person: PersonProfile, allocation: Allocation) -> Feedback | None:
    return session.scalars(
        select(Feedback).where(
            Feedback.person_id == person.id, Feedback.allocation_id == allocation.id
        )
    ).first()


def _accepted_place(session: Session, person: PersonProfile, allocation_id: int) -> Allocation:
    allocation = session.get(Allocation, allocation_id)
    if (
        allocation is None
        or allocation.person_id != person.id
        or allocation.status != AllocationStatus.accepted
    ):
        raise NotFound(_("You can only rate a place you have taken."))
    if not has_started(allocation):
        raise Conflict(_("You can say how it went once the place has started."))
    return allocation


def has_started(allocation: Allocation) -> bool:
    """Whether an accepted place has started: its provider gave a start date that has come."""
    return (
        allocation.status == AllocationStatus.accepted
        and allocation.start_date is not None
        and allocation.start_date <= utcnow().date()
    )
