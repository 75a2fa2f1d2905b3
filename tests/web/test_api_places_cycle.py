"""The API for the places cycle: give up a place; providers list, confirm and decline
placements; money by month. Errors in the one shape, naming the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus
from models.base import utcnow
from tests import factories
from tests.services.commissioning_world import make_round, solved_run
from tests.web.api_helpers import assert_error, call
from web.services import allocations

API = "/api/v1/allocations"


def test_give_up_confirm_and_decline_through_the_api(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    ada, cal = world.people["Ada"], world.people["Cal"]

    def place(name: str) -> Allocation:
        db_session.expire_all()
        return db_session.scalars(
            select(Allocation).where(
                Allocation.person_id == world.people[name].id,
                Allocation.status.in_(allocations.HELD),
            )
        ).one()

    ada_place, cal_place = place("Ada"), place("Cal")
    allocations.accept_place(db_session, ada.user, ada, ada_place.id)
    allocations.accept_place(db_session, cal.user, cal, cal_place.id)
    db_session.flush()

    login(client, ada.user)
    mine = call(client, "GET", API + "/mine").get_json()
    row = next(a for a in mine["allocations"] if a["id"] == ada_place.id)
    assert row["status"] == "accepted" and row["start_date"] is None
    given = call(client, "POST", f"{API}/{ada_place.id}/give-up")
    assert given.status_code == 200 and given.get_json()["status"] == "given_up"
    assert_error(call(client, "POST", f"{API}/{ada_place.id}/give-up"), 409)
    assert place("Ben").offer_id == world.offers["cafe"].id
    call(client, "POST", "/sign-out")

    staff = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=world.offers["art"].provider, user=staff)
    db_session.flush()
    other = client.application.test_client()
    login(other, staff)
    listed = call(other, "GET", API + "/placements").get_json()
    assert cal_place.id in [p["id"] for p in listed]
    url = f"{API}/placements/{cal_place.id}"
    bad = assert_error(call(other, "POST", url + "/confirm", {"start_date": "2027-02-31"}), 422)
    assert "start_date" in bad["errors"]
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    past = assert_error(call(other, "POST", url + "/confirm", {"start_date": yesterday}), 422)
    assert past["errors"]["start_date"] == ["The start date must be today or later"]
    far = (utcnow() + timedelta(days=400)).date().isoformat()
    too_far = assert_error(call(other, "POST", url + "/confirm", {"start_date": far}), 422)
    assert "within a year" in too_far["errors"]["start_date"][0]
    start = (utcnow() + timedelta(days=9)).date().isoformat()
    confirmed = call(other, "POST", url + "/confirm", {"start_date": start})
    assert confirmed.status_code == 200
    assert confirmed.get_json()["start_date"] == start and confirmed.get_json()["confirmed"]
    assert (
        "reason"
        in assert_error(call(other, "POST", url + "/decline", {"reason": " "}), 422)["errors"]
    )
    declined = call(other, "POST", url + "/decline", {"reason": "No room on Fridays."})
    assert declined.status_code == 200 and declined.get_json()["status"] == "provider_declined"
    db_session.expire_all()
    assert db_session.get(Allocation, cal_place.id).status == AllocationStatus.provider_declined
    # Another provider's placement is not found.
    assert_error(call(other, "POST", f"{API}/placements/{ada_place.id}/confirm",
                      {"start_date": start}), 404)  # fmt: skip
    months = call(other, "GET", API + "/statements/provider/by-month").get_json()
    assert set(months) == {"provider_id", "months"}
