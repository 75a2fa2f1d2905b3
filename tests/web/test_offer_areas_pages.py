"""Several areas per offer on the pages and in the API: the provider's form, the person's page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Offer, Role, User
from tests import factories
from tests.services.person_world import make_world
from tests.web.api_helpers import assert_error, call
from tests.web.conftest import csrf_token
from tests.web.offer_form_steps import add_offer, change_offer, start_offer

FORM = {
    "title": "Cafe training",
    "description": "Learn to run a cafe counter.",
    "category": "training",
    "price": "45.50",
    "capacity": "8",
    "area": "north",
}


def _provider(db_session: Session, make_user: Callable[..., User]) -> User:
    council = factories.CouncilFactory(areas=["north", "south", "east"])
    user = make_user(Role.provider, council=council)
    user.provider_memberships[0].provider.areas_served = ["north", "east"]
    db_session.flush()
    return user


def test_the_provider_chooses_other_areas_and_errors_sit_beside_them(
    app: Flask, db_session: Session, login, make_user: Callable[..., User]
) -> None:
    user = _provider(db_session, make_user)
    client = app.test_client()
    login(client, user)
    areas = start_offer(client).rsplit("/", 1)[0] + "/areas"
    page = client.get(areas)
    html = page.get_data(as_text=True)
    assert 'name="other_areas" type="checkbox" value="east"' in html
    response = client.post(
        areas, data={"csrf_token": csrf_token(page), "area": "", "other_areas": ["east"]}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="other_areas-error"' in html and "Choose the main area first" in html
    assert db_session.scalars(select(Offer)).first() is None

    response = add_offer(client, {**FORM, "other_areas": ["east"]})
    assert response.status_code == 302
    offer = db_session.scalars(select(Offer)).one()
    assert offer.service_areas == ["north", "east"]
    edit = client.get(f"/provider/offers/{offer.id}/change/areas").get_data(as_text=True)
    assert 'value="east" checked' in edit
    # Unticking every other area leaves the main one alone.
    change_offer(client, offer.id, "areas", FORM)
    db_session.refresh(offer)
    assert offer.service_areas == ["north"]


def test_the_person_sees_every_area_it_serves(
    app: Flask, db_session: Session, login, client
) -> None:
    world = make_world()
    cafe = world.offers["cafe"]
    cafe.other_areas = ["Eastbrook"]
    db_session.flush()
    login(client, world.user)
    html = client.get(f"/person/services/{cafe.id}").get_data(as_text=True)
    assert "Areas it serves" in html
    assert f"{cafe.area}, Eastbrook" in html


def test_the_api_writes_and_reads_other_areas(
    app: Flask, db_session: Session, login, make_user: Callable[..., User]
) -> None:
    user = _provider(db_session, make_user)
    client = app.test_client()
    login(client, user)
    body = {
        "name": "Cafe training",
        "description": "Learn to run a cafe counter.",
        "category": "training",
        "price_pence": 4550,
        "capacity": 8,
        "area": "north",
        "other_areas": ["east"],
    }
    response = call(client, "POST", "/api/v1/provider/offers", body)
    assert response.status_code == 201, response.get_json()
    offer = response.get_json()
    assert (offer["area"], offer["other_areas"]) == ("north", ["east"])
    url = f"/api/v1/provider/offers/{offer['id']}"
    for change in ({"other_areas": ["south"]}, {"area": None}):
        error = assert_error(call(client, "PATCH", url, change), 422)
        assert set(error["errors"]) == {"other_areas"}, error
    response = call(client, "PATCH", url, {"status": "published"})
    assert response.status_code == 200, response.get_json()
    listed = client.get("/api/v1/offers?area=east").get_json()
    assert [o["id"] for o in listed["items"]] == [offer["id"]]
