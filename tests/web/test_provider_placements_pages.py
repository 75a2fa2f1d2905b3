"""Providers confirm or decline each placement and see their money by month, with a CSV."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, User
from models.base import utcnow
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from tests.web.conftest import csrf_token
from web.services import allocations


@pytest.fixture
def world(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    ada = world.people["Ada"]
    allocations.accept_place(db_session, ada.user, ada, place_of(world, "Ada").id)
    db_session.flush()
    return world


@pytest.fixture
def staff(world: CommissioningWorld) -> User:
    """A member of Green Hands, which runs the cafe Ada said yes to."""
    user = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=world.offers["cafe"].provider, user=user)
    world.session.flush()
    return user


def place_of(world: CommissioningWorld, name: str) -> Allocation:
    world.session.expire_all()
    return world.session.scalars(
        select(Allocation)
        .where(Allocation.person_id == world.people[name].id)
        .order_by(Allocation.id.desc())
    ).first()


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    page = client.get(path)
    fields = {"csrf_token": csrf_token(page)}
    token = re.search(r'name="form_token" value="([^"]+)"', text(page))
    if token:
        fields["form_token"] = token.group(1)
    return client.post(path, data={**fields, **data})


def test_confirm_a_placement_with_a_start_date(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld, staff: User
) -> None:
    login(client, staff)
    listing = text(client.get("/provider/placements"))
    assert "To confirm" in listing and "Confirm or decline" in listing
    place = place_of(world, "Ada")
    path = f"/provider/placements/{place.id}"
    response = post(client, path, {"action": "confirm", "start_date-day": "31",
                                   "start_date-month": "2", "start_date-year": "2027"})  # fmt: skip
    assert response.status_code == 400
    html = text(response)
    assert "Enter the start date as a real date" in html and 'href="#start_date-day"' in html
    assert place_of(world, "Ada").start_date is None  # nothing changed
    past = (utcnow() - timedelta(days=1)).date()
    response = post(client, path, {"action": "confirm", "start_date-day": str(past.day),
                                   "start_date-month": str(past.month),
                                   "start_date-year": str(past.year)})  # fmt: skip
    assert response.status_code == 400
    html = text(response)
    assert "The start date must be today or later" in html and 'href="#start_date-day"' in html
    assert 'id="start_date-error"' in html  # beside the field, not only in the summary
    assert place_of(world, "Ada").start_date is None
    start = (utcnow() + timedelta(days=14)).date()
    response = post(client, path, {"action": "confirm", "start_date-day": str(start.day),
                                   "start_date-month": str(start.month),
                                   "start_date-year": str(start.year)})  # fmt: skip
    assert response.status_code == 302
    assert place_of(world, "Ada").start_date == start
    assert f"Starts {start.day} {start:%B %Y}" in text(client.get("/provider/placements"))
    # Ada sees the date on her page.
    ada = world.people["Ada"]
    other = client.application.test_client()
    login(other, ada.user)
    assert f"It starts on {start:%A} {start.day} {start:%B %Y}" in text(other.get("/person/place"))


def test_decline_a_placement_with_a_reason_and_it_is_offered_on(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld, staff: User
) -> None:
    login(client, staff)
    place = place_of(world, "Ada")
    path = f"/provider/placements/{place.id}"
    response = post(client, path, {"action": "decline", "reason": "   "})
    assert response.status_code == 400
    assert "Say why you cannot take this person" in text(response)
    response = post(client, path, {"action": "decline", "reason": "Our kitchen has no ramp."})
    assert response.status_code == 302
    world.session.expire_all()
    place = world.session.get(Allocation, place.id)
    assert place.status == AllocationStatus.provider_declined
    assert place_of(world, "Ben").offer_id == world.offers["cafe"].id
    page = text(client.get(path))
    assert "Our kitchen has no ramp." in page and "I cannot take them" not in page
    # A second decline changes nothing and says so.
    again = client.post(path, data={"csrf_token": csrf_token(client.get(path)),
                                    "action": "decline", "reason": "Again"})  # fmt: skip
    assert again.status_code == 302
    world.session.expire_all()
    assert world.session.get(Allocation, place.id).provider_reason == "Our kitchen has no ramp."


def test_another_providers_placement_is_not_found(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    outsider = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=factories.ProviderFactory(council=world.council),
                                    user=outsider)  # fmt: skip
    login(client, outsider)
    assert client.get(f"/provider/placements/{place_of(world, 'Ada').id}").status_code == 404


def test_money_by_month_page_and_csv(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld, staff: User
) -> None:
    login(client, staff)
    month = utcnow()
    html = text(client.get("/provider/money"))
    assert f"{month:%B %Y}" in html and "£150 (1 place)" in html
    response = client.get("/provider/money.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = text(response).splitlines()
    assert rows[0] == (
        "month,offered_places,offered_amount,accepted_places,accepted_amount,"
        "started_places,started_amount"
    )
    assert rows[1].startswith(f"{month:%Y-%m},") and ",1,150.00," in rows[1]
