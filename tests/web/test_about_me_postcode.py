"""The postcode question on "About me": saved, checked beside the field, and said back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.services.person_world import World, make_world
from tests.web.conftest import csrf_token

FORM = {"aspirations_text": "I want to sing.", "tags": ["music"], "max_travel_miles": "5"}


@pytest.fixture
def world(db_session: Session) -> World:
    return make_world()


@pytest.fixture
def sam(client: FlaskClient, world: World, login: Callable[..., object]) -> FlaskClient:
    login(client, world.user)
    return client


def save(client: FlaskClient, postcode: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/person/about-me"))
    return client.post("/person/about-me", data={"csrf_token": token, **FORM, "postcode": postcode})


def test_the_postcode_is_asked_for_and_saved_tidy(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    provider = factories.ProviderFactory(council=world.council)
    factories.OfferFactory(provider=provider, postcode="NT1 4AA", latitude=52.6, longitude=-1.2)
    html = sam.get("/person/about-me").get_data(as_text=True)
    assert 'name="postcode"' in html and 'autocomplete="postal-code"' in html
    response = save(sam, " nt14aa ")
    assert response.status_code == 302
    db_session.refresh(world.person)
    assert (world.person.postcode, world.person.latitude) == ("NT1 4AA", pytest.approx(52.6))
    html = sam.get("/person/about-me").get_data(as_text=True)
    assert 'value="NT1 4AA"' in html
    assert "We do not know where" not in html


def test_a_malformed_postcode_is_explained_beside_the_field_and_at_the_top(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    response = save(sam, "EX1")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert html.count("Enter a real postcode, like EX1 1AA") == 2
    assert 'href="#postcode"' in html and 'id="postcode-error"' in html
    assert 'value="EX1"' in html  # what was typed is kept
    db_session.refresh(world.person)
    assert world.person.postcode is None
    assert world.person.aspirations_text != "I want to sing."


def test_a_postcode_we_cannot_place_says_matching_goes_by_area(
    sam: FlaskClient, world: World
) -> None:
    assert save(sam, "ZE2 9QX").status_code == 302
    html = sam.get("/person/about-me").get_data(as_text=True)
    assert "We do not know where ZE2 9QX is yet" in html


def test_the_matches_page_says_how_far_away_from_the_postcode(
    sam: FlaskClient, world: World
) -> None:
    # The nursery is at 52.643, -1.20; a service at the person's postcode is 4.8 km south.
    provider = factories.ProviderFactory(council=world.council)
    factories.OfferFactory(provider=provider, postcode="NT1 4AA", latitude=52.6, longitude=-1.2)
    assert save(sam, "NT1 4AA").status_code == 302
    html = sam.get("/person/matches").get_data(as_text=True)
    assert "It is in Northtown, about 3 miles away." in html
