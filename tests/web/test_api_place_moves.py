"""Moving and releasing held places through the API: the one error shape, nothing done twice."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, AuditEvent, Budget
from tests.services.commissioning_world import make_round, solved_run
from web.services import allocations

HEADERS = {"X-Requested-With": "test"}


def test_the_council_moves_and_releases_places_through_the_api(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    world.offers["garden"].capacity = 3
    world.places["garden"].places = 3
    world.commissioner.totp_secret = pyotp.random_base32()
    db_session.flush()
    assert login(client, world.commissioner).status_code == 302
    base = f"/api/v1/rounds/{world.round.id}/held-places"
    listed = client.get(base, headers=HEADERS)
    assert listed.status_code == 200
    ada = next(p for p in listed.get_json() if p["person_name"] == "Ada")
    assert ada["offer_title"] == "Cafe" and ada["status"] == "offered"

    for body, field in (
        ({"to_offer_id": world.offers["garden"].id, "reason": "  "}, "reason"),
        ({"to_offer_id": world.offers["art"].id, "reason": "Full"}, "to_offer_id"),
        ({"to_offer_id": "7", "reason": "x"}, "to_offer_id"),
        ({"reason": "x"}, "to_offer_id"),
        ({"to_offer_id": world.offers["garden"].id, "reason": "x", "consent": "yes"}, "consent"),
    ):
        refused = client.post(f"{base}/{ada['id']}/move", json=body, headers=HEADERS)
        assert refused.status_code == 422, body
        assert set(refused.get_json()) == {"code", "status", "message", "errors"}
        assert field in refused.get_json()["errors"], body
    assert db_session.get(Allocation, ada["id"]).status == AllocationStatus.offered

    move = {"to_offer_id": world.offers["garden"].id, "reason": "Cafe closes for repairs."}
    moved = client.post(f"{base}/{ada['id']}/move", json=move, headers=HEADERS)
    assert moved.status_code == 201
    assert moved.get_json()["offer_title"] == "Garden"
    assert moved.get_json()["status"] == "offered"
    again = client.post(f"{base}/{ada['id']}/move", json=move, headers=HEADERS)
    assert again.status_code == 409  # a double submit moves nothing twice
    assert client.post(f"{base}/999999/move", json=move, headers=HEADERS).status_code == 404

    person = world.people["Ada"]
    allocations.accept_place(db_session, person.user, person, moved.get_json()["id"])
    db_session.flush()
    released = client.post(
        f"{base}/{moved.get_json()['id']}/release",
        json={"reason": "Ada moved away."},
        headers=HEADERS,
    )
    assert released.status_code == 200 and released.get_json()["status"] == "withdrawn"
    db_session.expire_all()
    budget = db_session.scalars(select(Budget).where(Budget.person_id == person.id)).one()
    assert budget.committed_pence == 0
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("allocation.%"))
    ).all()
    assert actions.count("allocation.move") == 1
    assert actions.count("allocation.release") == 1


def test_the_moves_are_in_the_openapi_document_and_docs(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    base = "/api/v1/rounds/{round_id}/held-places"
    assert "get" in spec["paths"][base]
    move = spec["paths"][base + "/{allocation_id}/move"]["post"]
    assert set(move["responses"]) >= {"201", "404", "409", "422"}
    release = spec["paths"][base + "/{allocation_id}/release"]["post"]
    assert set(release["responses"]) >= {"200", "404", "409", "422"}
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    assert base + "/{allocation_id}/move" in docs
