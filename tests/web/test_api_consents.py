"""``/api/v1/consents``: the advocate journey's consent steps through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from models import ConsentStatus, Role, User
from tests import factories
from tests.web.api_helpers import assert_error, call


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
    assert response.status_code == 201, response.get_json()
    consent = response.get_json()
    assert consent["status"] == "requested" and consent["scopes"] == ["view", "draft"]
    assert consent["person_id"] == person.person_profile.id

    assert [c["id"] for c in sam.get("/api/v1/consents").get_json()] == [consent["id"]]
    url = f"/api/v1/consents/{consent['id']}"
    # The advocate cannot answer for the person.
    assert_error(call(helper, "PATCH", url, {"status": "granted"}), 403)
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
    body = assert_error(call(helper, "POST", "/api/v1/consents", {"who": "nobody@x.org"}), 422)
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
