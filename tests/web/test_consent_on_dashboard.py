"""Defect 5: a request to help is shown on the person's home page, as the advocate is told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from models import ConsentStatus, Role
from tests import factories


def test_a_request_to_help_shows_on_the_home_page(
    client: FlaskClient, make_user: Callable[..., Any], login: Callable[..., Any]
) -> None:
    user = make_user(Role.person)
    login(client, user)
    assert "asked to help you" not in client.get("/person/").get_data(as_text=True)

    factories.ConsentFactory(
        person=user.person_profile,
        advocate=factories.AdvocateFactory(council=user.council, display_name="Priya Shah"),
        status=ConsentStatus.requested,
        granted_at=None,
    )
    html = client.get("/person/").get_data(as_text=True)
    assert "Priya Shah asked to help you." in html
    assert 'href="/person/who-can-help-me"' in html

    factories.ConsentFactory(
        person=user.person_profile,
        advocate=factories.AdvocateFactory(council=user.council, display_name="Sam Lee"),
        status=ConsentStatus.requested,
        granted_at=None,
    )
    assert "2 people asked to help you." in client.get("/person/").get_data(as_text=True)


def test_an_answered_request_is_not_shown_again(
    client: FlaskClient, make_user: Callable[..., Any], login: Callable[..., Any]
) -> None:
    user = make_user(Role.person)
    factories.ConsentFactory(person=user.person_profile, status=ConsentStatus.granted)
    login(client, user)
    assert "asked to help you" not in client.get("/person/").get_data(as_text=True)
