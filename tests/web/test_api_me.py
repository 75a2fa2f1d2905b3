"""``/api/v1/me/profile`` and ``/api/v1/me/choices``: a person's own profile and choices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, Choice, Role, RoundStatus, User
from tests.services.person_world import World, make_world
from tests.web.api_helpers import assert_error, call


@pytest.fixture
def world(db_session: Session) -> World:
    return make_world(budget_pence=30_000)


@pytest.fixture
def sam(app: Flask, login, world: World):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, world.user)
    return client


def test_profile_read_and_partial_change(sam, world: World, db_session: Session) -> None:
    body = sam.get("/api/v1/me/profile").get_json()
    assert body["display_name"] == "Sam Taylor"
    assert body["reference"] == world.person.reference
    assert [t["slug"] for t in body["outcome_tags"]] == ["paid-work", "work-with-children"]
    assert "equity_attributes" not in body

    response = call(sam, "PATCH", "/api/v1/me/profile", {"max_travel_km": 3})
    assert response.status_code == 200
    body = response.get_json()
    assert body["max_travel_km"] == 3
    # What was not sent stays as it was.
    assert [t["slug"] for t in body["outcome_tags"]] == ["paid-work", "work-with-children"]
    assert body["availability"] == {"mon": ["morning"], "wed": ["morning"]}
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "profile.updated")
    ).one()
    assert event.actor_user_id == world.user.id and event.on_behalf_of_user_id is None


def test_profile_rejects_unknown_and_read_only_fields(sam, world: World) -> None:
    body = assert_error(call(sam, "PATCH", "/api/v1/me/profile", {"need_level": 0}), 422)
    assert body["errors"] == {"need_level": ["Unknown field."]}
    body = assert_error(call(sam, "PATCH", "/api/v1/me/profile", {"outcome_tags": ["x"]}), 422)
    assert "outcome_tags" in body["errors"]
    body = assert_error(
        call(sam, "PATCH", "/api/v1/me/profile", {"availability": {"someday": ["morning"]}}),
        422,
    )
    assert "availability" in body["errors"]


def test_choices_put_replaces_the_whole_list(sam, world: World, db_session: Session) -> None:
    body = sam.get("/api/v1/me/choices").get_json()
    assert body["round"]["id"] == world.round.id and body["choices"] == []

    nursery, cafe = world.offers["nursery"].id, world.offers["cafe"].id
    response = call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [cafe, nursery]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [(c["rank"], c["offer_id"]) for c in body["choices"]] == [(1, cafe), (2, nursery)]
    assert body["choices"][0]["places"] == 2 and body["choices"][0]["chosen_by"] == 1

    response = call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [nursery]})
    assert [c["offer_id"] for c in response.get_json()["choices"]] == [nursery]
    stored = db_session.scalars(
        select(Choice.offer_id).where(Choice.person_id == world.person.id)
    ).all()
    assert stored == [nursery]


def test_choices_put_is_all_or_nothing(sam, world: World, db_session: Session) -> None:
    nursery = world.offers["nursery"].id
    call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [nursery]})
    too_dear = world.offers["dear"].id  # costs more than Sam's budget
    body = assert_error(
        call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [nursery, too_dear]}), 409
    )
    assert body["errors"]["offer_ids"][0].startswith("Choice 2:")
    assert_error(call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [nursery, nursery]}), 422)
    assert_error(call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [999_999]}), 409)
    # More than any round allows breaks the document (422); more than this round allows is a
    # clash with the round (409).
    over_any = {"offer_ids": list(range(1, 22))}
    assert (
        "offer_ids" in assert_error(call(sam, "PUT", "/api/v1/me/choices", over_any), 422)["errors"]
    )
    over_round = {"offer_ids": list(range(1, 5))}
    body = assert_error(call(sam, "PUT", "/api/v1/me/choices", over_round), 409)
    assert body["errors"] == {"offer_ids": ["You can choose up to 3 services"]}
    assert_error(call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": [1], "x": 1}), 422)
    stored = db_session.scalars(
        select(Choice.offer_id).where(Choice.person_id == world.person.id)
    ).all()
    assert stored == [nursery]


def test_choices_when_no_round_is_open(sam, world: World, db_session: Session) -> None:
    world.round.status = RoundStatus.closed
    db_session.flush()
    assert sam.get("/api/v1/me/choices").get_json()["round"] is None
    assert_error(call(sam, "PUT", "/api/v1/me/choices", {"offer_ids": []}), 409)


def test_me_resources_are_for_persons_only(
    app: Flask, login, make_user: Callable[..., User]
) -> None:
    anonymous = app.test_client()
    assert_error(anonymous.get("/api/v1/me/profile"), 401)
    assert_error(call(anonymous, "PUT", "/api/v1/me/choices", {"offer_ids": []}), 401)
    client = app.test_client()
    login(client, make_user(Role.advocate))
    assert_error(client.get("/api/v1/me/profile"), 403)
    assert_error(client.get("/api/v1/me/choices"), 403)
