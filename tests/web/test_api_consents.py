"""``/api/v1/consents``: the advocate journey's consent steps through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Consent, ConsentStatus, Role, User
from tests import factories
from tests.web.api_helpers import assert_error, call
from web.services.consents import ASKED_MESSAGE, person_reference


@pytest.fixture
def pair(db_session: Session, make_user: Callable[..., User]):  # type: ignore[no-untyped-def]
    council = factories.CouncilFactory()
    person = make_user(Role.person, council=council, email="sam@example.org")
    advocate = make_user(Role.advocate, council=council, display_name="Priya Sharma")
    return person, advocate


def test_request_grant_and_revoke(app: Flask, login, pair, db_session: Session) -> None:
    person, advocate = pair
    helper, sam = app.test_client(), app.test_client()
    login(helper, advocate)
    login(sam, person)

    response = call(
        helper, "POST", "/api/v1/consents", {"who": "sam@example.org", "scopes": ["draft"]}
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"message": ASKED_MESSAGE}
    # The advocate learns nothing about Sam until Sam says yes.
    assert helper.get("/api/v1/consents").get_json() == []

    [consent] = sam.get("/api/v1/consents").get_json()
    assert consent["status"] == "requested" and consent["scopes"] == ["view", "draft"]
    assert consent["person_id"] == person.person_profile.id
    url = f"/api/v1/consents/{consent['id']}"
    assert_error(helper.get(url), 404)
    # The advocate cannot answer for the person (nor even see the request).
    assert_error(call(helper, "PATCH", url, {"status": "granted"}), 404)
    body = assert_error(
        call(sam, "PATCH", url, {"status": "granted", "scopes": ["view", "submit"]}), 422
    )
    assert "scopes" in body["errors"]
    response = call(sam, "PATCH", url, {"status": "granted", "scopes": ["view"]})
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["scopes"]) == (
        "granted",
        ["view"],
    )
    assert helper.get(url).get_json()["status"] == "granted"
    [seen] = helper.get("/api/v1/consents").get_json()
    assert seen["person_name"] == person.display_name

    response = call(sam, "PATCH", url, {"status": "revoked"})
    assert response.get_json()["status"] == "revoked"
    assert_error(call(sam, "PATCH", url, {"status": "revoked"}), 409)
    person_consent = person.person_profile.consents[0]
    db_session.refresh(person_consent)
    assert person_consent.status == ConsentStatus.revoked


def test_others_consents_answer_404(
    app: Flask, login, pair, make_user: Callable[..., User]
) -> None:
    person, advocate = pair
    consent = factories.ConsentFactory(person=person.person_profile, advocate=advocate)
    stranger = make_user(Role.person)
    other_advocate = make_user(Role.advocate, council=person.council)
    for user in (stranger, other_advocate):
        client = app.test_client()
        login(client, user)
        assert_error(client.get(f"/api/v1/consents/{consent.id}"), 404)
        assert_error(
            call(client, "PATCH", f"/api/v1/consents/{consent.id}", {"status": "revoked"}), 404
        )
        assert client.get("/api/v1/consents").get_json() == []


def test_bad_requests_are_refused(app: Flask, login, pair) -> None:
    person, advocate = pair
    helper = app.test_client()
    login(helper, advocate)
    body = assert_error(call(helper, "POST", "/api/v1/consents", {"who": "just a name"}), 422)
    assert "who" in body["errors"]
    body = assert_error(
        call(helper, "POST", "/api/v1/consents", {"who": "sam@example.org", "scopes": ["fly"]}),
        422,
    )
    assert "scopes" in body["errors"]
    assert_error(
        call(helper, "POST", "/api/v1/consents", {"who": "sam@example.org", "extra": 1}), 422
    )
    # Persons cannot ask; providers cannot use consents at all.
    sam = app.test_client()
    login(sam, person)
    assert_error(call(sam, "POST", "/api/v1/consents", {"who": "sam@example.org"}), 403)


def test_the_answer_is_the_same_whoever_is_named(
    app: Flask, login, pair, make_user: Callable[..., User], db_session: Session
) -> None:
    """Harvesting names: known and unknown emails and references, people of other councils,
    and people already asked all get the same 202 and the same words; no name is shown."""
    person, advocate = pair
    elsewhere = make_user(Role.person, email="far@example.org")
    helper = app.test_client()
    login(helper, advocate)
    reference = person_reference(person.person_profile)
    answers = []
    far = person_reference(elsewhere.person_profile)
    for who in ("sam@example.org", "sam@example.org", "nobody@example.org", reference,
                "P000999", "far@example.org", far):  # fmt: skip
        response = call(helper, "POST", "/api/v1/consents", {"who": who})
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert len(set(answers)) == 1 and answers[0][0] == 202, answers
    assert person.display_name not in answers[0][1]
    asked = db_session.scalars(select(Consent).where(Consent.advocate_id == advocate.id)).all()
    assert [c.person_id for c in asked] == [person.person_profile.id]


def test_asking_is_rate_limited_per_advocate(app: Flask, login, pair) -> None:
    _, advocate = pair
    helper = app.test_client()
    login(helper, advocate)
    statuses = [
        call(helper, "POST", "/api/v1/consents", {"who": f"P{n:06d}"}).status_code
        for n in range(12)
    ]
    assert statuses == [202] * 10 + [429] * 2
    body = assert_error(call(helper, "POST", "/api/v1/consents", {"who": "P000001"}), 429)
    assert "Wait 1 minute" in body["message"]
