"""The advocate journey through the test client: ask, answer, act within scopes, revoke."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AllocationStatus, AuditEvent, ConsentStatus, Role, RoundStatus
from tests import factories
from tests.web.conftest import csrf_token


@pytest.fixture
def cast(db_session: Session, make_user: Callable[..., object]):  # type: ignore[no-untyped-def]
    council = factories.CouncilFactory()
    person_user = make_user(
        Role.person, council=council, email="sam@example.org", with_profile=False
    )
    person = factories.PersonProfileFactory(user=person_user, display_name="Sam Taylor")
    advocate = make_user(Role.advocate, council=council, display_name="Priya Sharma")
    return person, advocate


def post(client, url: str, data: dict[str, object] | None = None, page: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(page or "/advocate/"))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def test_whole_advocate_journey(app: Flask, db_session: Session, login, cast) -> None:
    person, advocate = cast
    helper = app.test_client()
    sam = app.test_client()
    login(helper, advocate)
    login(sam, person.user)

    # The advocate asks Sam, by email, to help with seeing and drafting.
    page = helper.get("/advocate/ask")
    assert page.status_code == 200
    response = helper.post(
        "/advocate/ask",
        data={
            "csrf_token": csrf_token(page),
            "who": "sam@example.org",
            "scopes": ["view", "draft"],
            "note": "We met at the day centre",
        },
    )
    assert response.status_code == 302
    # Until Sam says yes, the advocate's page says nothing about Sam.
    dashboard = helper.get("/advocate/").get_data(as_text=True)
    assert "If someone in your council has that email address" in dashboard
    assert "Sam Taylor" not in dashboard

    # Sam finds the request from the home page, sees the message, and says yes.
    assert "/person/who-can-help-me" in sam.get("/person/").get_data(as_text=True)
    page = sam.get("/person/who-can-help-me")
    html = page.get_data(as_text=True)
    assert "Priya Sharma asks to help you" in html and "We met at the day centre" in html
    consent = person.consents[0]
    response = sam.post(
        f"/person/who-can-help-me/{consent.id}",
        data={"csrf_token": csrf_token(page), "decision": "grant", "scopes": ["draft"]},
    )
    assert response.status_code == 302
    db_session.refresh(consent)
    assert consent.status == ConsentStatus.granted
    assert consent.scopes == {"view", "draft"}

    # The advocate acts for Sam: the banner says so on every page.
    response = post(helper, f"/advocate/act/{person.id}")
    assert response.headers["Location"].endswith("/advocate/acting/")
    for url in ("/advocate/acting/", "/advocate/acting/about-me", "/advocate/acting/choices"):
        html = helper.get(url).get_data(as_text=True)
        assert "You are acting for Sam Taylor" in html, url
        assert "Stop acting for Sam Taylor" in html, url
    # The person's own consent pages are not part of the advocate's copy.
    assert "/person/who-can-help-me" not in helper.get("/advocate/acting/").get_data(as_text=True)

    # Within the draft scope they change About me; it is recorded as "Priya for Sam".
    page = helper.get("/advocate/acting/about-me")
    response = helper.post(
        "/advocate/acting/about-me",
        data={
            "csrf_token": csrf_token(page),
            "aspirations_text": "Sam wants to bake bread.",
            "max_travel_km": "8",
            "free-mon": ["morning"],
        },
    )
    assert response.status_code == 302
    db_session.refresh(person)
    assert person.aspirations_text == "Sam wants to bake bread."
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "profile.updated")
    ).one()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (advocate.id, person.user_id)

    # Sam sees the change, and who made it.
    html = sam.get("/person/changes-made-for-you").get_data(as_text=True)
    assert "Priya Sharma" in html and "Changed your About me" in html

    # Sam stops it, after saying yes to "Are you sure?"; the advocate's very next request
    # is turned away with words saying why, not a bare "You cannot see this page".
    page = sam.get("/person/who-can-help-me")
    assert f"/person/who-can-help-me/{consent.id}" in page.get_data(as_text=True)
    page = sam.get(f"/person/who-can-help-me/{consent.id}")
    assert "Are you sure you want to stop Priya Sharma helping you?" in page.get_data(True)
    response = sam.post(
        f"/person/who-can-help-me/{consent.id}",
        data={"csrf_token": csrf_token(page), "decision": "revoke"},
    )
    assert response.status_code == 302
    turned_away = helper.get("/advocate/acting/about-me")
    assert turned_away.status_code == 302
    assert turned_away.headers["Location"] == "/advocate/"
    shown = helper.get("/advocate/").get_data(as_text=True)
    assert "This person no longer lets you help them." in shown
    # ... and the acting state is gone.
    assert helper.get("/advocate/acting/").status_code == 302
    assert "Sam Taylor" not in helper.get("/advocate/").get_data(as_text=True)


def test_view_scope_cannot_change_anything(app: Flask, db_session: Session, login, cast) -> None:
    person, advocate = cast
    factories.ConsentFactory(person=person, advocate=advocate, can_draft=False)
    client = app.test_client()
    login(client, advocate)
    post(client, f"/advocate/act/{person.id}")
    page = client.get("/advocate/acting/about-me")
    assert "You are acting for Sam Taylor" in page.get_data(as_text=True)
    response = client.post(
        "/advocate/acting/about-me",
        data={"csrf_token": csrf_token(page), "aspirations_text": "Changed", "max_travel_km": ""},
    )
    assert response.status_code == 403
    db_session.refresh(person)
    assert person.aspirations_text == "I want to work with animals."


def test_advocate_cannot_act_for_someone_who_has_not_agreed(
    app: Flask, db_session: Session, login, cast
) -> None:
    person, advocate = cast
    factories.ConsentFactory(
        person=person, advocate=advocate, status=ConsentStatus.requested, granted_at=None
    )
    client = app.test_client()
    login(client, advocate)
    assert post(client, f"/advocate/act/{person.id}").status_code == 404
    stranger = factories.PersonProfileFactory()
    assert post(client, f"/advocate/act/{stranger.id}").status_code == 404
    # Without choosing someone first, acting pages send the advocate back to the caseload.
    assert client.get("/advocate/acting/choices").status_code == 302


def test_ask_form_shows_errors_beside_fields(app: Flask, login, cast) -> None:
    _, advocate = cast
    client = app.test_client()
    login(client, advocate)
    page = client.get("/advocate/ask")
    response = client.post(
        "/advocate/ask",
        data={"csrf_token": csrf_token(page), "who": "just a name", "scopes": ["view"]},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error: Ask to help someone" in html
    assert "There is a problem" in html
    assert 'href="#who"' in html
    assert "Enter an email address, like name@example.org, or a reference" in html


def test_only_the_person_answers_and_others_requests_are_not_found(
    app: Flask, db_session: Session, login, cast, make_user
) -> None:
    person, advocate = cast
    consent = factories.ConsentFactory(
        person=person, advocate=advocate, status=ConsentStatus.requested, granted_at=None
    )
    other = make_user(Role.person, council=person.user.council)
    client = app.test_client()
    login(client, other)
    page = client.get("/person/who-can-help-me")
    assert "Priya Sharma" not in page.get_data(as_text=True)
    response = client.post(
        f"/person/who-can-help-me/{consent.id}",
        data={"csrf_token": csrf_token(page), "decision": "grant"},
    )
    assert response.status_code == 404
    db_session.refresh(consent)
    assert consent.status == ConsentStatus.requested
    # Advocates cannot open the person's pages, nor persons the advocate's.
    helper = app.test_client()
    login(helper, advocate)
    assert helper.get("/person/who-can-help-me").status_code == 403
    assert client.get("/advocate/").status_code == 403


def test_submit_scope_lets_the_advocate_say_yes_to_a_place(
    app: Flask, db_session: Session, login, cast
) -> None:
    person, advocate = cast
    consent = factories.ConsentFactory(person=person, advocate=advocate, can_submit=False)
    run = factories.SolverRunFactory(
        round=factories.RoundFactory(council=person.user.council, status=RoundStatus.published)
    )
    run.round.published_run_id = run.id
    factories.BudgetFactory(round=run.round, person=person, amount_pence=50_000)
    offer = factories.RoundOfferFactory(round=run.round, places=3).offer
    place = factories.AllocationFactory(run=run, person=person, offer=offer)
    db_session.flush()
    client = app.test_client()
    login(client, advocate)
    post(client, f"/advocate/act/{person.id}")
    url = f"/advocate/acting/place/{place.id}"
    page = client.get(url)
    assert page.status_code == 200
    # Without the submit scope the answer is refused and nothing changes.
    response = client.post(url, data={"csrf_token": csrf_token(page), "answer": "accept"})
    assert response.status_code == 403
    # Nor is the advocate asked "Are you sure?" about saying no for them.
    response = client.post(url, data={"csrf_token": csrf_token(page), "answer": "decline"})
    assert response.status_code == 403
    db_session.refresh(place)
    assert place.status == AllocationStatus.offered

    consent.can_submit = True
    db_session.flush()
    asked = client.post(url, data={"csrf_token": csrf_token(page), "answer": "decline"})
    assert asked.status_code == 200
    assert f'action="{url}"' in asked.get_data(as_text=True)  # "Yes" answers here, as them
    response = client.post(url, data={"csrf_token": csrf_token(page), "answer": "accept"})
    assert response.status_code == 302
    db_session.refresh(place)
    assert place.status == AllocationStatus.accepted
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "allocation.accept")
    ).one()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (advocate.id, person.user_id)
