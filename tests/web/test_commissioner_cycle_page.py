"""The commissioner's answers and re-offers page: spend forecast, deadlines, expired offers,
re-offers, places given up and placements providers could not take."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from datetime import timedelta

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.base import utcnow
from tests import factories
from tests.services.commissioning_world import make_round, solved_run
from tests.services.test_allocations import allocation_of
from tests.web.api_helpers import assert_error, call
from tests.web.test_commissioner_pages import signed_in
from web.services import allocations, places_cycle


def test_forecast_deadlines_and_re_offers(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session, pot_pence=100_000)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    cal = world.people["Cal"]
    allocations.accept_place(db_session, cal.user, cal, allocation_of(world, "Cal").id)
    # Dee's offer is a day from its deadline; Ada's ran out, so the cafe went to Ben.
    allocation_of(world, "Dee").answer_by = utcnow() + timedelta(days=1)
    allocation_of(world, "Ada").answer_by = utcnow() - timedelta(minutes=1)
    db_session.flush()
    places_cycle.expire_due_offers(db_session)
    signed_in(client, world, login, db_session)
    page = html_lib.unescape(
        client.get(f"/commissioner/rounds/{world.round.id}/cycle").get_data(as_text=True)
    )
    offered = places_cycle.round_cycle(db_session, world.round).forecast.offered_pence
    assert re.search(r"Accepted \(money set aside\)</dt><dd[^>]*>£100<", page)
    assert (
        f'Offered, not answered yet</dt><dd class="govuk-summary-list__value">£{offered // 100}<'
        in page
    )
    assert f"£{(100_000 - 10_000 - offered) // 100} of £1,000" in page
    near = page.split('id="near-deadline"')[1].split("</table>")[0]
    assert "Dee" in near and "Ada" not in near
    assert "Ada" in page.split('id="expired"')[1].split("</table>")[0]
    assert "Ben" in page.split('id="reoffered"')[1].split("</table>")[0]
    assert "Answers and re-offers" in page


def test_the_same_answers_and_re_offers_through_the_api(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session, pot_pence=100_000)
    url = f"/api/v1/rounds/{world.round.id}/cycle"
    signed_in(client, world, login, db_session)
    before = call(client, "GET", url).get_json()
    assert before["forecast"] == {
        "accepted_pence": 0,
        "offered_pence": 0,
        "pot_pence": 100_000,
        "left_pence": 100_000,
    }
    assert before["near_deadline"] == before["expired"] == before["reoffered"] == []
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    cal = world.people["Cal"]
    allocations.accept_place(db_session, cal.user, cal, allocation_of(world, "Cal").id)
    allocation_of(world, "Dee").answer_by = utcnow() + timedelta(days=1)
    allocation_of(world, "Ada").answer_by = utcnow() - timedelta(minutes=1)
    db_session.flush()
    places_cycle.expire_due_offers(db_session)
    body = call(client, "GET", url).get_json()
    cycle = places_cycle.round_cycle(db_session, world.round)
    assert body["round_id"] == world.round.id and body["near_deadline_days"] == 2
    assert body["forecast"]["accepted_pence"] == 10_000
    assert body["forecast"]["offered_pence"] == cycle.forecast.offered_pence
    assert body["forecast"]["left_pence"] == 100_000 - 10_000 - cycle.forecast.offered_pence
    names = {key: [p["person_name"] for p in body[key]] for key in ("near_deadline", "expired",
                                                                    "reoffered")}  # fmt: skip
    assert "Dee" in names["near_deadline"] and "Ada" not in names["near_deadline"]
    assert names["expired"] == ["Ada"] and "Ben" in names["reoffered"]
    expired = body["expired"][0]
    assert expired["status"] == "expired" and expired["offer"]["title"]
    # A narrower window leaves Dee (a day away) out; none at all is 0.
    none_near = call(client, "GET", url + "?near_deadline_days=0").get_json()
    assert "Dee" not in [p["person_name"] for p in none_near["near_deadline"]]
    for wrong in ("31", "-1", "soon", "2.5"):
        bad = assert_error(call(client, "GET", f"{url}?near_deadline_days={wrong}"), 422)
        assert "near_deadline_days" in bad["errors"]
    assert "soon" in assert_error(call(client, "GET", url + "?soon=1"), 422)["errors"]
    assert_error(call(client, "GET", "/api/v1/rounds/999999/cycle"), 404)
    other_council = factories.CommissionerFactory(totp_secret=pyotp.random_base32())
    db_session.flush()
    stranger = client.application.test_client()
    login(stranger, other_council)
    assert_error(call(stranger, "GET", url), 404)


def test_only_the_councils_commissioner_sees_the_cycle_through_the_api(
    app: Flask, db_session: Session, login: Callable
) -> None:
    world = make_round(db_session, pot_pence=100_000)
    url = f"/api/v1/rounds/{world.round.id}/cycle"
    council = world.round.council
    others = {
        "person": factories.PersonProfileFactory(user__council=council).user,
        "advocate": factories.AdvocateFactory(council=council),
        "provider": factories.ProviderUserFactory(council=council),
        "admin": factories.AdminFactory(council=council, totp_secret=pyotp.random_base32()),
    }
    db_session.flush()
    assert_error(call(app.test_client(), "GET", url), 401)
    for role, user in others.items():
        client = app.test_client()
        login(client, user)
        assert assert_error(call(client, "GET", url), 403)["message"], role
    client = app.test_client()
    signed_in(client, world, login, db_session)
    assert call(client, "GET", url).status_code == 200
    spec = client.get("/api/v1/openapi.json").get_json()
    responses = spec["paths"]["/api/v1/rounds/{round_id}/cycle"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422"} <= set(responses)
