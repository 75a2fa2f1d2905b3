"""A provider gives a service's address, languages and who to ask on the offer form; a person
sees them on the service's page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer, OfferStatus, Role, User
from tests import factories
from tests.web.conftest import csrf_token
from tests.web.offer_form_steps import add_offer, start_offer

_FORM_TOKEN = re.compile(r'name="form_token"[^>]*value="([^"]+)"')
OFFER_FORM = {
    "title": "Polish cooking",
    "description": "Cook together, in Polish and English.",
    "category": "social",
    "price": "10",
    "capacity": "8",
    "area": "north",
    "address_line": "12 Mill Lane",
    "town": "Westmere",
    "postcode": "tr1 1aa",
    "languages": "Polish, British Sign Language",
    "contact_name": "Sam, the group leader",
}


def _post(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    page = client.get(url)
    fields = {"csrf_token": csrf_token(page), **data}
    if token := _FORM_TOKEN.search(page.get_data(as_text=True)):
        fields["form_token"] = token.group(1)
    return client.post(url, data=fields)


def test_the_provider_gives_them_and_a_person_sees_them(
    app: Flask, db_session: Session, make_user: Callable[..., User], login: Callable
) -> None:
    council = factories.CouncilFactory(areas=["north"])
    provider_user = make_user(Role.provider, council=council)
    provider_user.provider_memberships[0].provider.areas_served = ["north"]
    db_session.flush()
    client = app.test_client()
    login(client, provider_user)

    address = start_offer(client).rsplit("/", 1)[0] + "/address"
    wrong = _post(client, address, {**OFFER_FORM, "postcode": "nowhere"})
    assert wrong.status_code == 200
    assert "Enter a UK postcode, like EX1 1AA" in wrong.get_data(as_text=True)
    assert db_session.scalars(select(Offer)).all() == []

    assert add_offer(client, OFFER_FORM).status_code == 302
    offer = db_session.scalars(select(Offer)).one()
    assert (offer.postcode, offer.languages) == ("TR1 1AA", ["Polish", "British Sign Language"])
    edit = client.get(f"/provider/offers/{offer.id}").get_data(as_text=True)
    assert "Polish, British Sign Language" in edit and "TR1 1AA" in edit
    change = f"/provider/offers/{offer.id}/change"
    assert 'value="Polish, British Sign Language"' in client.get(f"{change}/languages").text
    assert 'value="TR1 1AA"' in client.get(f"{change}/address").text

    offer.status = OfferStatus.published
    db_session.flush()
    person = app.test_client()
    login(person, make_user(Role.person, council=council))
    page = person.get(f"/person/services/{offer.id}").get_data(as_text=True)
    assert "12 Mill Lane, Westmere, TR1 1AA" in page
    assert "English, Polish, British Sign Language" in page
    assert "Sam, the group leader" in page
