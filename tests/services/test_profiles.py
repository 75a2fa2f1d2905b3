"""About me: reading it, changing wishes, tags, travel and free times, and who may do so."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, ConsentStatus, Role
from tests import factories
from tests.services.person_world import make_world
from web.services.errors import InvalidInput, NotAllowed
from web.services.profiles import about_me, open_round_for, person_facts, update_about_me


def change(session: Session, actor, person, **kw):  # type: ignore[no-untyped-def]
    args = {
        "aspirations_text": "I want a job in a children's nursery.",
        "tag_slugs": ["work-with-children"],
        "max_travel_km": "8",
        "availability": {"tue": ["afternoon", "morning"]},
    }
    args.update(kw)
    return update_about_me(session, actor, person, **args)


def test_about_me_shows_the_open_round_and_budget(db_session: Session) -> None:
    w = make_world()
    view = about_me(db_session, w.user, w.person)
    assert view.round is w.round
    assert view.budget is w.budget
    assert {t.slug for t in view.tags} >= {"music", "paid-work"}


def test_person_changes_their_wishes_and_it_is_audited(db_session: Session) -> None:
    w = make_world()
    change(db_session, w.user, w.person)
    assert w.person.aspirations_text == "I want a job in a children's nursery."
    assert [t.slug for t in w.person.outcome_tags] == ["work-with-children"]
    assert w.person.max_travel_km == 8
    assert w.person.availability == {"tue": ["morning", "afternoon"]}
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "profile.updated")
    ).one()
    assert event.actor_user_id == w.user.id
    assert event.on_behalf_of_user_id is None
    assert "aspirations_text" in event.details["changed"]
    # Personal words never go into the audit trail.
    assert "nursery" not in str(event.details)


def test_every_wrong_field_is_named_and_nothing_changes(db_session: Session) -> None:
    w = make_world()
    before = w.person.aspirations_text
    with pytest.raises(InvalidInput) as caught:
        change(
            db_session,
            w.user,
            w.person,
            aspirations_text="x" * 2001,
            tag_slugs=["no-such-tag"],
            max_travel_km="far",
            availability={"someday": ["morning"]},
        )
    assert set(caught.value.errors) == {
        "aspirations_text",
        "tags",
        "max_travel_km",
        "availability",
    }
    assert w.person.aspirations_text == before


def test_travel_must_be_in_range_and_blank_means_not_said(db_session: Session) -> None:
    w = make_world()
    with pytest.raises(InvalidInput) as caught:
        change(db_session, w.user, w.person, max_travel_km="500")
    assert "between 0 and 200" in caught.value.errors["max_travel_km"]
    change(db_session, w.user, w.person, max_travel_km="  ")
    assert w.person.max_travel_km is None


def test_advocate_needs_a_granted_draft_consent(db_session: Session) -> None:
    w = make_world()
    advocate = factories.AdvocateFactory(council=w.council)
    with pytest.raises(NotAllowed):
        change(db_session, advocate, w.person)
    consent = factories.ConsentFactory(
        person=w.person, advocate=advocate, can_draft=False, status=ConsentStatus.granted
    )
    about_me(db_session, advocate, w.person)  # view is enough to look
    with pytest.raises(NotAllowed):
        change(db_session, advocate, w.person)
    consent.can_draft = True
    db_session.flush()
    change(db_session, advocate, w.person)
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "profile.updated")
    ).one()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (advocate.id, w.user.id)


def test_other_people_cannot_change_a_profile(db_session: Session) -> None:
    w = make_world()
    stranger = factories.UserFactory(council=w.council, role=Role.person)
    with pytest.raises(NotAllowed):
        about_me(db_session, stranger, w.person)


def test_open_round_must_cover_the_persons_area(db_session: Session) -> None:
    w = make_world()
    w.round.areas = ["Eastbrook"]
    db_session.flush()
    assert open_round_for(db_session, w.person) is None
    w.round.areas = ["Eastbrook", "Northtown"]
    db_session.flush()
    assert open_round_for(db_session, w.person) is w.round


def test_person_facts_use_the_money_left(db_session: Session) -> None:
    w = make_world()
    w.budget.committed_pence = 10_000
    db_session.flush()
    facts = person_facts(db_session, w.person, w.round)
    assert facts.budget_pence == 20_000
    assert facts.budget_is_partly_spent
    assert facts.free_slots == {"mon-morning", "wed-morning"}
    assert set(facts.outcome_tags) == {"work-with-children", "paid-work"}
