"""Unfinished new services (offer drafts) are purged once untouched for their retention period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import utcnow
from models.privacy import DEFAULT_RETENTION_DAYS
from models.providers import OfferDraft
from tests import factories
from web.services import offer_drafts, privacy


def _draft(db_session: Session, age_days: float) -> OfferDraft:
    draft = factories.OfferDraftFactory()
    db_session.flush()
    draft.updated_at = utcnow() - timedelta(days=age_days)
    db_session.flush()
    return draft


def _left(db_session: Session) -> set[int]:
    return set(db_session.scalars(select(OfferDraft.id)))


def test_drafts_untouched_past_the_default_period_are_deleted(db_session: Session) -> None:
    days = DEFAULT_RETENTION_DAYS["offer_drafts"]
    old = _draft(db_session, days + 1)
    recent = _draft(db_session, days - 1)

    done = privacy.purge_expired(db_session)

    assert done["offer_drafts"] == 1
    db_session.expire_all()
    assert _left(db_session) == {recent.id}
    assert old.id not in _left(db_session)


def test_the_period_can_be_set_and_purge_follows_it(db_session: Session) -> None:
    privacy.set_retention(db_session, "offer_drafts", 5)
    ten_days = _draft(db_session, 10)
    two_days = _draft(db_session, 2)

    assert privacy.purge_expired(db_session)["offer_drafts"] == 1
    assert _left(db_session) == {two_days.id}
    assert ten_days.id not in _left(db_session)
    assert privacy.retention_periods(db_session)["offer_drafts"] == 5


def test_answering_a_question_keeps_an_old_draft(db_session: Session) -> None:
    """A draft is "untouched" from its last answer, not from when it was started."""
    member = factories.ProviderMemberFactory()
    provider, user = member.provider, member.user
    db_session.flush()
    draft = offer_drafts.start_draft(db_session, user, provider)
    draft.updated_at = utcnow() - timedelta(days=DEFAULT_RETENTION_DAYS["offer_drafts"] + 5)
    db_session.flush()

    offer_drafts.answer_question(
        db_session, user, provider, draft, "name", {"title": "Gardening club"}
    )

    assert privacy.purge_expired(db_session)["offer_drafts"] == 0
    assert _left(db_session) == {draft.id}
    assert draft.answers["title"] == "Gardening club"
