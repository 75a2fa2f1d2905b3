"""Advocates asking for consent, persons answering and revoking it, and acting within scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Consent, ConsentStatus, Role, append_event, verify_chain
from models.people import new_person_reference
from tests import factories
from web.services import consents
from web.services.acting import authorise
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound, TooManyRequests
from web.services.profiles import update_about_me


@pytest.fixture
def people(db_session: Session):  # type: ignore[no-untyped-def]
    council = factories.CouncilFactory()
    person = factories.PersonProfileFactory(
        user__council=council, user__email="sam@example.org", display_name="Sam Taylor"
    )
    advocate = factories.AdvocateFactory(council=council, display_name="Priya Sharma")
    return council, person, advocate


def test_advocate_asks_by_email_and_the_request_is_recorded(db_session, people) -> None:
    _, person, advocate = people
    consent = consents.request_consent(
        db_session, advocate, who=" SAM@example.org ", scopes=["draft"], note="From the hub"
    )
    assert consent.status == ConsentStatus.requested
    assert consent.person_id == person.id
    assert consent.scopes == {"view", "draft"}  # view always comes with the rest
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "consent.requested")
    ).one()
    assert event.actor_user_id == advocate.id
    assert event.details == {"person_id": person.id, "scopes": ["view", "draft"]}


def test_advocate_asks_by_reference(db_session, people) -> None:
    _, person, advocate = people
    reference = consents.person_reference(person)
    assert reference == person.reference and len(reference) == 10
    typed = f"{reference[:5].lower()}-{reference[5:]}".replace("0", "o").replace("1", "l")
    consent = consents.request_consent(db_session, advocate, who=typed, scopes=[])
    assert consent is not None and consent.person_id == person.id
    assert consent.scopes == {"view"}


def test_references_are_random_with_a_check_character(db_session, people) -> None:
    made = {new_person_reference() for _ in range(2000)}
    assert len(made) == 2000 and all(r.startswith("P") and len(r) == 10 for r in made)
    reference = sorted(made)[0]
    assert consents.parse_reference(reference) == reference
    # Any one character changed, or two next to each other swapped, is caught.
    body = reference[1:]
    for i, char in enumerate(body):
        for other in "0123456789ABCDEFGHJKMNPQRSTVWXYZ":
            if other != char:
                typo = "P" + body[:i] + other + body[i + 1 :]
                with pytest.raises(InvalidInput, match="mistake"):
                    consents.parse_reference(typo)
    for i in range(len(body) - 2):
        if body[i] != body[i + 1]:
            swapped = "P" + body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            with pytest.raises(InvalidInput, match="mistake"):
                consents.parse_reference(swapped)
    # References from before they were random still read.
    assert consents.parse_reference("p-42") == "P000042"


def test_people_made_before_random_references_keep_theirs(db_session, people) -> None:
    _, _, advocate = people
    older = factories.PersonProfileFactory(user__council=advocate.council, reference="P000042")
    consent = consents.request_consent(db_session, advocate, who="P42", scopes=[])
    assert consent is not None and consent.person_id == older.id


def test_people_of_other_councils_are_not_found_and_nothing_says_so(db_session, people) -> None:
    _, _, advocate = people
    stranger = factories.PersonProfileFactory(user__email="far@example.org")
    for who in ("far@example.org", consents.person_reference(stranger), "nobody@example.org"):
        # The same answer as for someone found: no error, nothing made.
        assert consents.request_consent(db_session, advocate, who=who, scopes=["view"]) is None
    assert db_session.scalars(select(Consent).where(Consent.advocate_id == advocate.id)).all() == []


def test_request_checks_every_field(db_session, people) -> None:
    _, _, advocate = people
    with pytest.raises(InvalidInput) as caught:
        consents.request_consent(db_session, advocate, who="", scopes=["fly"], note="x" * 501)
    assert set(caught.value.errors) == {"who", "scopes", "note"}


def test_a_second_live_request_makes_nothing_and_names_nobody(db_session, people) -> None:
    _, person, advocate = people
    first = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=["view"])
    assert first is not None
    again = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=["view"])
    assert again is None
    live = db_session.scalars(select(Consent).where(Consent.advocate_id == advocate.id)).all()
    assert live == [first]


def test_asking_is_slowed_per_advocate(db_session, people) -> None:
    council, _, advocate = people
    now = factories.utcnow()
    for n in range(consents.ASK_POLICY.per_account):
        consents.request_consent(db_session, advocate, who=f"p{n}@example.org", scopes=[], now=now)
    with pytest.raises(TooManyRequests, match="Wait 1 minute,"):
        consents.request_consent(db_session, advocate, who="sam@example.org", scopes=[], now=now)
    # Another advocate is not held back; and after the wait this one may ask again.
    other = factories.AdvocateFactory(council=council)
    assert consents.request_consent(db_session, other, who="sam@example.org", scopes=[], now=now)
    later = now + timedelta(minutes=1)
    assert consents.request_consent(
        db_session, advocate, who="sam@example.org", scopes=[], now=later
    )


def test_only_advocates_ask(db_session, people) -> None:
    council, _, _ = people
    provider_user = factories.ProviderUserFactory(council=council)
    with pytest.raises(NotAllowed):
        consents.request_consent(db_session, provider_user, who="sam@example.org", scopes=[])


def test_person_grants_fewer_scopes_than_asked_but_never_more(db_session, people) -> None:
    _, person, advocate = people
    consent = consents.request_consent(
        db_session, advocate, who="sam@example.org", scopes=["view", "draft"]
    )
    with pytest.raises(InvalidInput):
        consents.grant_consent(
            db_session, person.user, person, consent.id, scopes=["view", "submit"]
        )
    consents.grant_consent(db_session, person.user, person, consent.id, scopes=["view"])
    assert consent.status == ConsentStatus.granted
    assert consent.granted_at is not None
    assert consent.scopes == {"view"}
    authorise(db_session, advocate, person, "view")
    with pytest.raises(NotAllowed):
        authorise(db_session, advocate, person, "draft")
    with pytest.raises(Conflict):
        consents.grant_consent(db_session, person.user, person, consent.id)


def test_nobody_else_can_answer_for_the_person(db_session, people) -> None:
    council, person, advocate = people
    consent = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=[])
    other = factories.PersonProfileFactory(user__council=council)
    for actor in (advocate, other.user):
        with pytest.raises(NotAllowed):
            consents.grant_consent(db_session, actor, person, consent.id)
    # Another person's request is not found through one's own profile.
    with pytest.raises(NotFound):
        consents.grant_consent(db_session, other.user, other, consent.id)


def test_refused_request_gives_no_access_and_can_be_asked_again(db_session, people) -> None:
    _, person, advocate = people
    consent = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=[])
    consents.refuse_consent(db_session, person.user, person, consent.id)
    assert consent.status == ConsentStatus.declined
    with pytest.raises(NotAllowed):
        authorise(db_session, advocate, person, "view")
    again = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=[])
    assert again.id != consent.id


def test_revocation_takes_effect_at_once(db_session, people) -> None:
    _, person, advocate = people
    consent = factories.ConsentFactory(person=person, advocate=advocate, can_submit=True)
    assert consents.consent_to_act(db_session, advocate, person.id).id == consent.id
    consents.revoke_consent(db_session, person.user, person, consent.id)
    assert consent.status == ConsentStatus.revoked
    assert consent.revoked_at is not None
    with pytest.raises(NotAllowed):
        authorise(db_session, advocate, person, "view")
    with pytest.raises(NotFound):
        consents.consent_to_act(db_session, advocate, person.id)
    with pytest.raises(Conflict):
        consents.revoke_consent(db_session, person.user, person, consent.id)
    actions = list(db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-1] == "consent.revoked"
    assert verify_chain(db_session) == []


def test_caseload_lists_helped_and_waiting_people(db_session, people) -> None:
    council, person, advocate = people
    waiting = factories.PersonProfileFactory(user__council=council, display_name="Ann Lee")
    factories.ConsentFactory(person=person, advocate=advocate)
    factories.ConsentFactory(
        person=waiting, advocate=advocate, status=ConsentStatus.requested, granted_at=None
    )
    revoked = factories.PersonProfileFactory(user__council=council)
    factories.ConsentFactory(
        person=revoked,
        advocate=advocate,
        status=ConsentStatus.revoked,
        revoked_at=factories.utcnow(),
    )
    load = consents.caseload(db_session, advocate)
    assert [c.person_id for c in load.helping] == [person.id]
    assert load.waiting == []  # it would say who has an account


def test_person_sees_changes_made_for_them(db_session, people) -> None:
    _, person, advocate = people
    factories.ConsentFactory(person=person, advocate=advocate, can_draft=True)
    update_about_me(
        db_session,
        advocate,
        person,
        aspirations_text="I would like to cook.",
        tag_slugs=[],
        max_travel_km="5",
        availability={},
    )
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "profile.updated")
    ).one()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (advocate.id, person.user_id)
    changes = consents.changes_made_for(db_session, person.user, person)
    assert [(c.who, c.what) for c in changes] == [("Priya Sharma", "changed your About me")]
    with pytest.raises(NotAllowed):
        consents.changes_made_for(db_session, advocate, person)


def test_person_page_lists_requests_granted_and_past(db_session, people) -> None:
    _, person, advocate = people
    other = factories.AdvocateFactory(council=person.user.council, role=Role.advocate)
    asked = consents.request_consent(db_session, advocate, who="sam@example.org", scopes=[])
    given = factories.ConsentFactory(person=person, advocate=other)
    view = consents.consents_for_person(db_session, person.user, person)
    assert [c.id for c in view.requests] == [asked.id]
    assert [c.id for c in view.granted] == [given.id]
    assert view.past == []
    assert view.reference == consents.person_reference(person)
    assert consents.count_waiting_requests(db_session, person) == 1


def test_reads_of_the_persons_needs_are_listed_apart_from_changes(db_session, people) -> None:
    _, person, advocate = people
    append_event(
        db_session,
        "special_category.read",
        actor_user_id=advocate.id,
        on_behalf_of_user_id=person.user_id,
        object_type="person_profile",
        object_id=person.id,
    )
    assert consents.changes_made_for(db_session, person.user, person) == []
    [read] = consents.reads_for(db_session, person.user, person)
    assert (read.who, read.what) == ("Priya Sharma", "looked at your needs")
