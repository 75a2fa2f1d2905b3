"""``/api/v1/provider/offers``: a provider's own offers and capacity through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Offer, OfferStatus, Role, RoundStatus, User
from tests import factories
from tests.web.api_helpers import assert_error, call

NEW_OFFER = {
    "name": "Cafe training",
    "description": "Learn to run a cafe counter.",
    "category": "training",
    "outcome_tags": ["paid-work"],
    "price_pence": 4550,
    "capacity": 8,
    "area": "north",
    "schedule": {"tue": ["afternoon"]},
}


@pytest.fixture
def member(db_session: Session, make_user: Callable[..., User]) -> User:
    user = make_user(Role.provider)
    user.provider_memberships[0].provider.areas_served = ["north"]
    factories.OutcomeTagFactory(slug="paid-work", label="Getting a paid job")
    db_session.flush()
    return user


@pytest.fixture
def client(app: Flask, login, member: User):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, member)
    return client


def test_create_read_publish_and_withdraw(client, member: User, db_session: Session) -> None:
    response = call(client, "POST", "/api/v1/provider/offers", NEW_OFFER)
    assert response.status_code == 201, response.get_json()
    offer = response.get_json()
    assert offer["status"] == "draft" and offer["price_pence"] == 4550
    assert offer["outcome_tags"] == [{"slug": "paid-work", "label": "Getting a paid job"}]
    assert offer["schedule"] == {"tue": ["afternoon"]}
    url = f"/api/v1/provider/offers/{offer['id']}"

    assert [o["id"] for o in client.get("/api/v1/provider/offers").get_json()] == [offer["id"]]
    assert client.get(url).get_json()["name"] == "Cafe training"

    response = call(client, "PATCH", url, {"price_pence": 5000, "status": "published"})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["price_pence"], response.get_json()["status"]) == (
        5000,
        "published",
    )
    assert client.get(f"/api/v1/offers/{offer['id']}").status_code == 200  # public now
    assert_error(call(client, "PATCH", url, {"status": "published"}), 409)
    response = call(client, "PATCH", url, {"status": "withdrawn"})
    assert response.get_json()["status"] == "withdrawn"
    assert response.get_json()["withdrawn_at"] is not None


def test_capacity_put(client, member: User, db_session: Session) -> None:
    provider = member.provider_memberships[0].provider
    offer = factories.OfferFactory(provider=provider, capacity=6)
    url = f"/api/v1/provider/offers/{offer.id}/capacity"
    response = call(client, "PUT", url, {"capacity": 9})
    assert response.status_code == 200
    assert response.get_json()["capacity"] == 9
    body = assert_error(call(client, "PUT", url, {"capacity": -1}), 422)
    assert "capacity" in body["errors"]
    assert_error(call(client, "PUT", url, {"capacity": 3, "places": 3}), 422)
    assert_error(call(client, "PUT", url, {}), 422)
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "offer.capacity_changed")
    ).one()
    assert event.actor_user_id == member.id
    assert event.request_id  # the request that changed it can be found in the logs


def test_places_people_hold_stop_capacity_cuts_and_withdrawal(
    client, member: User, db_session: Session
) -> None:
    provider = member.provider_memberships[0].provider
    offer = factories.OfferFactory(provider=provider, capacity=6)
    factories.RoundOfferFactory(
        round=factories.RoundFactory(
            council=provider.council, status=RoundStatus.published, name="Spring 2027"
        ),
        offer=offer,
        places=6,
        places_taken=4,
    )
    db_session.commit()
    url = f"/api/v1/provider/offers/{offer.id}"
    body = assert_error(call(client, "PUT", f"{url}/capacity", {"capacity": 0}), 409)
    assert body["errors"]["capacity"][0].startswith(
        "4 places are offered to or taken by people in Spring 2027"
    )
    # The same cut in an edit of the whole offer is refused the same way.
    body = assert_error(call(client, "PATCH", url, {"capacity": 3, "name": "Cut"}), 409)
    assert body["errors"]["capacity"][0].startswith("4 places are offered")
    body = assert_error(call(client, "PATCH", url, {"status": "withdrawn"}), 409)
    assert "Ask the council to move them first" in body["message"]
    db_session.expire_all()
    kept = db_session.get(Offer, offer.id)
    assert (kept.status, kept.capacity, kept.title) == (OfferStatus.published, 6, offer.title)


def test_validation_errors_use_the_api_field_names(client) -> None:
    body = assert_error(
        call(client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "name": "  "}), 422
    )
    assert set(body["errors"]) == {"name"}
    body = assert_error(
        call(client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "area": "south"}), 422
    )
    assert set(body["errors"]) == {"area"}
    body = assert_error(
        call(client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "outcome_tags": ["x"]}),
        422,
    )
    assert set(body["errors"]) == {"outcome_tags"}
    body = assert_error(
        call(client, "POST", "/api/v1/provider/offers", {**NEW_OFFER, "status": "published"}),
        422,
    )
    assert body["errors"] == {"status": ["Unknown field."]}
    body = assert_error(call(client, "POST", "/api/v1/provider/offers", {"name": "x"}), 422)
    assert {"description", "category", "price_pence", "capacity"} <= set(body["errors"])


def test_another_providers_offer_answers_404(client, member: User, db_session: Session) -> None:
    other = factories.OfferFactory(title="Not mine")
    url = f"/api/v1/provider/offers/{other.id}"
    assert_error(client.get(url), 404)
    assert_error(call(client, "PATCH", url, {"status": "withdrawn"}), 404)
    assert_error(call(client, "PUT", f"{url}/capacity", {"capacity": 0}), 404)
    db_session.refresh(other)
    assert (other.status, other.capacity) == (OfferStatus.published, 6)
    assert db_session.scalars(select(Offer).where(Offer.title == "Cafe training")).first() is None


def test_provider_offers_are_for_providers_only(
    app: Flask, login, make_user: Callable[..., User]
) -> None:
    assert_error(app.test_client().get("/api/v1/provider/offers"), 401)
    client = app.test_client()
    login(client, make_user(Role.person))
    assert_error(client.get("/api/v1/provider/offers"), 403)
    assert_error(call(client, "POST", "/api/v1/provider/offers", NEW_OFFER), 403)
