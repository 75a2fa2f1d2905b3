"""A run's explanations, rule prices and place values through the JSON API."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.services.commissioning_world import make_round, solved_run

RULES = [{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}]


def _signed_in(client: FlaskClient, login: Callable, world: object) -> None:
    world.commissioner.totp_secret = pyotp.random_base32()  # type: ignore[attr-defined]
    world.session.flush()  # type: ignore[attr-defined]
    assert login(client, world.commissioner).status_code == 302  # type: ignore[attr-defined]


def test_a_welfare_runs_explanations_prices_and_values(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session, mechanism="welfare", rules=RULES)
    run = solved_run(world, session_factory)
    _signed_in(client, login, world)
    base = f"/api/v1/rounds/{world.round.id}/runs/{run.id}"

    first = client.get(f"{base}/explanations?per_page=4").get_json()
    assert (first["total"], first["page"], first["pages"], first["complete"]) == (6, 1, 2, True)
    assert first["format"] == "tapestry.explanations/1"
    second = client.get(f"{base}/explanations?per_page=4&page=2").get_json()
    entries = first["items"] + second["items"]
    assert [e["id"] for e in entries] == [p["id"] for p in run.analysis["persons"]]
    ben = world.people["Ben"]
    one = client.get(f"{base}/explanations/{ben.id}").get_json()
    stored = next(p for p in run.analysis["persons"] if p["id"] == f"p-{ben.id}")
    assert one == {**stored, "person_id": ben.id}

    prices = client.get(f"{base}/rule-prices").get_json()
    assert prices["applies"] is True and "points of value" in prices["unit"]
    [price] = prices["items"]
    assert price["rule"] == 0 and price["welfare_with"] == run.objective
    assert price["description"] == "Every area group gets at least 50% placed"
    values = client.get(f"{base}/place-values").get_json()
    assert sorted(v["title"] for v in values["items"]) == ["Art", "Cafe", "Garden"]
    assert all(v["gain"] >= 0 for v in values["items"])

    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("explanations", "explanations/{person_id}", "rule-prices", "place-values"):
        assert f"/api/v1/rounds/{{round_id}}/runs/{{run_id}}/{path}" in spec["paths"]


def test_explanation_errors_are_in_the_one_shape(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    make_user: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session)
    run = solved_run(world, session_factory)
    base = f"/api/v1/rounds/{world.round.id}/runs/{run.id}"
    assert client.get(f"{base}/explanations").status_code == 401
    person = app.test_client()
    login(person, make_user())
    assert person.get(f"{base}/explanations").status_code == 403
    _signed_in(client, login, world)
    for bad in ("page=0", "per_page=1000", "page=abc", "colour=red"):
        answer = client.get(f"{base}/explanations?{bad}")
        assert answer.status_code == 422, bad
        assert set(answer.get_json()) == {"code", "status", "message", "errors"}
    missing = client.get(f"{base}/explanations/999999")
    assert missing.status_code == 404
    assert set(missing.get_json()) == {"code", "status", "message", "errors"}
    assert (
        client.get(f"/api/v1/rounds/{world.round.id}/runs/999999/explanations").status_code == 404
    )

    # A stable run has no welfare figures and says why.
    prices = client.get(f"{base}/rule-prices").get_json()
    values = client.get(f"{base}/place-values").get_json()
    for figures in (prices, values):
        assert figures["applies"] is False and figures["items"] == []
        assert "queue" in figures["note"]
