"""Rating a place: only accepted places of one's own, 1 to 5, changed not duplicated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AllocationStatus, AuditEvent, Feedback
from models.base import utcnow
from tests import factories
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from web.services.feedback import feedback_for_place, rate_place


def accepted_place():  # type: ignore[no-untyped-def]
    """An accepted place that started yesterday (only a started place can be rated)."""
    return factories.AllocationFactory(
        status=AllocationStatus.accepted, start_date=utcnow().date() - timedelta(days=1)
    )


def test_rating_a_taken_place(db_session: Session) -> None:
    place = accepted_place()
    user = place.person.user
    feedback = rate_place(db_session, user, place.person, place.id, rating="5", comment=" Great ")
    assert (feedback.rating, feedback.comment, feedback.offer_id) == (5, "Great", place.offer_id)
    assert feedback_for_place(db_session, user, place.person, place.id)[1] is feedback
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "feedback.given")
    ).one()
    assert event.details["rating"] == 5 and "Great" not in str(event.details)


def test_rating_again_changes_the_first_rating(db_session: Session) -> None:
    place = accepted_place()
    user = place.person.user
    rate_place(db_session, user, place.person, place.id, rating=2, comment="Too far")
    rate_place(db_session, user, place.person, place.id, rating=4, comment="")
    rows = db_session.scalars(select(Feedback).where(Feedback.person_id == place.person.id)).all()
    assert [(f.rating, f.comment) for f in rows] == [(4, None)]
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "feedback.changed")
        )
        == 1
    )


@pytest.mark.parametrize("rating", ["", "0", "6", "three", None])
def test_rating_must_be_one_to_five(db_session: Session, rating: str | None) -> None:
    place = accepted_place()
    with pytest.raises(InvalidInput) as caught:
        rate_place(db_session, place.person.user, place.person, place.id, rating=rating, comment="")
    assert "rating" in caught.value.errors


def test_comment_length_is_limited(db_session: Session) -> None:
    place = accepted_place()
    with pytest.raises(InvalidInput) as caught:
        rate_place(
            db_session, place.person.user, place.person, place.id, rating=3, comment="x" * 1001
        )
    assert set(caught.value.errors) == {"comment"}


def test_a_place_can_be_rated_only_once_it_has_started(db_session: Session) -> None:
    place = factories.AllocationFactory(status=AllocationStatus.accepted)
    user = place.person.user
    with pytest.raises(Conflict):  # the provider has not said when it starts
        rate_place(db_session, user, place.person, place.id, rating=3, comment="")
    place.start_date = utcnow().date() + timedelta(days=1)
    with pytest.raises(Conflict):  # it starts tomorrow
        rate_place(db_session, user, place.person, place.id, rating=3, comment="")
    place.start_date = utcnow().date()
    assert rate_place(db_session, user, place.person, place.id, rating=3, comment="").rating == 3


def test_only_accepted_places_of_ones_own(db_session: Session) -> None:
    offered = factories.AllocationFactory(status=AllocationStatus.offered)
    with pytest.raises(NotFound):
        rate_place(
            db_session, offered.person.user, offered.person, offered.id, rating=3, comment=""
        )
    place = accepted_place()
    other = factories.PersonProfileFactory(user__council=place.round.council)
    with pytest.raises(NotFound):
        rate_place(db_session, other.user, other, place.id, rating=3, comment="")
    with pytest.raises(NotAllowed):
        rate_place(db_session, other.user, place.person, place.id, rating=3, comment="")


def test_a_second_click_that_lost_the_race_changes_the_first_rating(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    place = accepted_place()
    user = place.person.user
    rate_place(db_session, user, place.person, place.id, rating=2, comment="")
    import web.services.feedback as feedback_module

    real = feedback_module._existing
    looks: list[int] = []

    def stale_then_real(*args):  # type: ignore[no-untyped-def]
        # The first look misses the row another click saved a moment ago.
        looks.append(1)
        return None if len(looks) == 1 else real(*args)

    monkeypatch.setattr(feedback_module, "_existing", stale_then_real)
    rate_place(db_session, user, place.person, place.id, rating=5, comment="Great")
    rows = db_session.scalars(select(Feedback).where(Feedback.person_id == place.person.id)).all()
    assert [(f.rating, f.comment) for f in rows] == [(5, "Great")]
