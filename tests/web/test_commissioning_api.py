"""A whole round through the JSON API: create, places, budgets, policy, open, close, run,
publish, accept (with an Idempotency-Key) and decline, and the statements."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, Commitment, Round, RoundStatus
from tests import factories
from tests.services.commissioning_world import make_round
from web.services.jobs import claim_next_job, run_job

HEADERS = {"X-Requested-With": "test"}


def test_the_api_refuses_other_roles_in_the_one_error_shape(
    client: FlaskClient, make_user: Callable, login: Callable
) -> None:
    assert client.get("/api/v1/rounds").status_code == 401
    login(client, make_user())
    refused = client.get("/api/v1/rounds")
    assert refused.status_code == 403
    assert set(refused.get_json()) == {"code", "status", "message", "errors"}


def test_a_whole_round_through_the_api(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session, status=RoundStatus.draft)
    world.commissioner.totp_secret = pyotp.random_base32()
    db_session.flush()
    assert login(client, world.commissioner).status_code == 302

    bad = client.post("/api/v1/rounds", json={"name": "", "pot_pence": -5}, headers=HEADERS)
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"name", "pot"}

    made = client.post(
        "/api/v1/rounds",
        json={"name": "Autumn", "pot_pence": 100_000, "areas": ["north", "south"]},
        headers=HEADERS,
    )
    assert made.status_code == 201
    round_id = made.get_json()["id"]
    base = f"/api/v1/rounds/{round_id}"
    offers = {name: o.id for name, o in world.offers.items()}
    placed = client.put(
        f"{base}/places",
        json={"places": {str(offers["art"]): 1, str(offers["garden"]): 1}},
        headers=HEADERS,
    )
    assert placed.status_code == 200
    assert placed.get_json()["places"][str(offers["art"])] == {"places": 1, "places_taken": 0}
    ada, ben = world.people["Ada"], world.people["Ben"]
    for person in (ada, ben):
        budget = client.put(
            f"{base}/budgets/{person.id}", json={"amount_pence": 20_000}, headers=HEADERS
        )
        assert budget.status_code == 200
    policy = client.put(
        f"{base}/policy",
        json={"mechanism": "stable", "rules": [], "time_limit_s": 5, "seed": 9},
        headers=HEADERS,
    )
    assert policy.status_code == 200 and policy.get_json()["seed"] == 9
    assert client.post(f"{base}/open", headers=HEADERS).status_code == 200
    autumn = db_session.get(Round, round_id)
    for person in (ada, ben):  # both want art first
        factories.ChoiceFactory(round=autumn, person=person, offer=world.offers["art"], rank=1)
        factories.ChoiceFactory(round=autumn, person=person, offer=world.offers["garden"], rank=2)
    db_session.flush()
    # Well formed, but people chose art: a clash with the round as it is (409), naming the
    # offer, and nothing changes.
    clash = client.put(
        f"{base}/places", json={"places": {str(offers["garden"]): 2}}, headers=HEADERS
    )
    assert clash.status_code == 409
    assert clash.get_json()["errors"] == {
        f"places-{offers['art']}": ["People have chosen this offer, so keep it in the round"]
    }
    kept = client.get(base, headers=HEADERS).get_json()["places"]
    assert kept[str(offers["art"])]["places"] == 1 and kept[str(offers["garden"])]["places"] == 1
    assert client.post(f"{base}/close", headers=HEADERS).status_code == 200
    assert client.post(f"{base}/close", headers=HEADERS).status_code == 409

    started = client.post(f"{base}/runs", json={"label": "API run"}, headers=HEADERS)
    assert started.status_code == 202
    run = started.get_json()
    assert run["status"] == "queued" and len(run["input_hash"]) == 64
    assert client.post(f"{base}/runs", json={}, headers=HEADERS).status_code == 409
    db_session.commit()
    job = claim_next_job(db_session, "api-test-worker")
    assert job is not None
    assert run_job(session_factory, job, "api-test-worker", heartbeat_every_s=None)
    status = client.get(f"{base}/runs/{run['id']}").get_json()
    assert status["status"] == "succeeded" and status["progress"] == 100
    result = client.get(f"{base}/runs/{run['id']}/result").get_json()
    assert result["status"] == "stable"
    assert client.get(f"{base}/runs/{run['id']}/instance").get_json()["policy"]["seed"] == 9

    published = client.post(f"{base}/runs/{run['id']}/publish", headers=HEADERS)
    assert published.status_code == 200 and published.get_json()["status"] == "published"

    # Ada (need 8) got art, Ben (need 2) the garden.
    person_client = app.test_client()
    login(person_client, ada.user)
    mine = person_client.get("/api/v1/allocations/mine").get_json()
    assert [a["offer_id"] for a in mine["allocations"]] == [offers["art"]]
    explained = mine["allocations"][0]["explanation"]
    assert (explained["ranks_held"], explained["why_not"]) == ([1], [])
    place = mine["allocations"][0]["id"]
    key = {"Idempotency-Key": "accept-art-1", **HEADERS}
    first = person_client.post(f"/api/v1/allocations/{place}/accept", headers=key)
    again = person_client.post(f"/api/v1/allocations/{place}/accept", headers=key)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["status"] == "accepted"
    assert db_session.scalar(select(func.count()).select_from(Commitment)) == 1
    other_request = person_client.post(f"/api/v1/allocations/{place}/decline", headers=key)
    assert other_request.status_code == 422
    twice = person_client.post(
        f"/api/v1/allocations/{place}/accept", headers={"Idempotency-Key": "new", **HEADERS}
    )
    assert twice.status_code == 409
    assert set(twice.get_json()) == {"code", "status", "message", "errors"}

    statement = person_client.get(f"/api/v1/allocations/statements/mine/{round_id}").get_json()
    assert statement["spent_pence"] == 10_000 and statement["left_pence"] == 10_000

    ben_client = app.test_client()
    login(ben_client, ben.user)
    ben_place = ben_client.get("/api/v1/allocations/mine").get_json()["allocations"][0]
    declined = ben_client.post(f"/api/v1/allocations/{ben_place['id']}/decline", headers=HEADERS)
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    db_session.expire_all()
    assert (
        db_session.scalar(
            select(func.count()).where(
                Allocation.round_id == round_id, Allocation.status == AllocationStatus.offered
            )
        )
        == 0
    )  # nobody else wanted the garden

    money = client.get(f"{base}/statement").get_json()
    assert money["total_pence"] == 10_000
    assert [t["name"] for t in money["by_person"]] == ["Ada"]


def test_the_api_refuses_unknown_groups_and_breaking_runs_without_a_reason(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session, pot_pence=30_000)  # stable: the pot is not enforced
    world.commissioner.totp_secret = pyotp.random_base32()
    db_session.flush()
    assert login(client, world.commissioner).status_code == 302
    base = f"/api/v1/rounds/{world.round.id}"
    rule = {"type": "coverage_floor", "attribute": "area", "min_share": 0.3}
    policy = client.put(
        f"{base}/policy",
        json={"mechanism": "stable", "rules": [{**rule, "values": ["narnia", "North"]}]},
        headers=HEADERS,
    )
    assert policy.status_code == 422
    body = policy.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert "narnia" in str(body["errors"])
    db_session.expire_all()
    assert db_session.get(Round, world.round.id).rules == []

    started = client.post(f"{base}/runs", json={}, headers=HEADERS)
    assert started.status_code == 202
    db_session.commit()
    job = claim_next_job(db_session, "api-test-worker")
    assert job is not None
    assert run_job(session_factory, job, "api-test-worker", heartbeat_every_s=None)
    run = client.get(f"{base}/runs/{started.get_json()['id']}").get_json()
    assert run["breaches"] == ["It spends £510, which is £210 more than the £300 pot."]
    assert run["reasons"] == []
    url = f"{base}/runs/{started.get_json()['id']}/publish"
    refused = client.post(url, headers=HEADERS)
    assert refused.status_code == 422
    assert "£210 more than the £300 pot" in str(refused.get_json()["errors"]["override_reason"])
    done = client.post(url, json={"override_reason": "Agreed by the board"}, headers=HEADERS)
    assert done.status_code == 200
    answer = done.get_json()
    assert answer["status"] == "published"
    assert answer["override_reason"] == "Agreed by the board"
    assert answer["override_breaches"] == ["It spends £510, which is £210 more than the £300 pot."]
