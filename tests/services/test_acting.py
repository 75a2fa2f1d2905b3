"""Who may act for a person: themselves, or an advocate within a live consent's scopes."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, ConsentStatus, utcnow
from tests import factories
from web.services.acting import authorise, on_behalf_of, record
from web.services.errors import NotAllowed


def test_a_person_may_do_everything_for_themselves(db_session: Session) -> None:
    person = factories.PersonProfileFactory()
    for scope in ("view", "draft", "submit"):
        authorise(db_session, person.user, person, scope)
    assert on_behalf_of(person.user, person) is None


def test_an_inactive_account_may_do_nothing(db_session: Session) -> None:
    person = factories.PersonProfileFactory()
    person.user.is_active = False
    with pytest.raises(NotAllowed):
        authorise(db_session, person.user, person, "view")


@pytest.mark.parametrize(
    ("draft", "submit", "allowed"),
    [
        (False, False, {"view"}),
        (True, False, {"view", "draft"}),
        (True, True, {"view", "draft", "submit"}),
    ],
)
def test_an_advocate_gets_exactly_the_granted_scopes(
    db_session: Session, draft: bool, submit: bool, allowed: set[str]
) -> None:
    consent = factories.ConsentFactory(can_draft=draft, can_submit=submit)
    for scope in ("view", "draft", "submit"):
        if scope in allowed:
            authorise(db_session, consent.advocate, consent.person, scope)  # type: ignore[arg-type]
        else:
            with pytest.raises(NotAllowed):
                authorise(db_session, consent.advocate, consent.person, scope)  # type: ignore[arg-type]
    assert on_behalf_of(consent.advocate, consent.person) == consent.person.user_id


@pytest.mark.parametrize("status", [ConsentStatus.requested, ConsentStatus.revoked])
def test_a_consent_that_is_not_granted_allows_nothing(
    db_session: Session, status: ConsentStatus
) -> None:
    consent = factories.ConsentFactory(
        status=status, revoked_at=utcnow() if status == ConsentStatus.revoked else None
    )
    with pytest.raises(NotAllowed, match="has not agreed"):
        authorise(db_session, consent.advocate, consent.person, "view")


def test_other_roles_may_not_act_for_a_person(db_session: Session) -> None:
    person = factories.PersonProfileFactory()
    for other in (factories.UserFactory(), factories.ProviderUserFactory()):
        with pytest.raises(NotAllowed):
            authorise(db_session, other, person, "view")


def test_record_names_actor_and_person(db_session: Session) -> None:
    consent = factories.ConsentFactory()
    record(
        db_session,
        consent.advocate,
        "choice.added",
        person=consent.person,
        subject=("choice", 7),
        data={"rank": 1},
    )
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "choice.added")).one()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (
        consent.advocate.id,
        consent.person.user_id,
    )
    assert (event.object_type, event.object_id) == ("choice", "7")
    assert event.details == {"person_id": consent.person.id, "rank": 1}
