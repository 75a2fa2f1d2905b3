"""Defect 8 of issue 11: while an advocate acts, My place spoke to them as if they were the
person ("You said no", "Your budget"). It names the person instead; the person still reads
"you"."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from tests.web.conftest import csrf_token
from web.services import allocations

#: Words that speak to the person; an advocate acting for them must not meet them.
SECOND_PERSON = re.compile(
    r"You said|You gave|You did not|You are waiting|You can say|Your budget|You have £"
    r"|Waiting for your answer|your choice number|Why you |you were number|Your place"
    r"|ahead of you|for you|you could have|your budget|your (first|second|third) choice"
)


@pytest.fixture
def world(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    return world


def _main(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, url
    text = html_lib.unescape(page.get_data(as_text=True))
    return text.split("<main", 1)[1].split("</main>", 1)[0]


def _acting_for(app: Flask, login: Callable, world: CommissioningWorld, name: str) -> FlaskClient:
    person = world.people[name]
    advocate = factories.AdvocateFactory(council=world.council)
    factories.ConsentFactory(person=person, advocate=advocate, can_submit=True)
    world.session.flush()
    client = app.test_client()
    login(client, advocate)
    token = csrf_token(client.get("/advocate/"))
    assert client.post(f"/advocate/act/{person.id}", data={"csrf_token": token}).status_code == 302
    return client


@pytest.mark.parametrize("answer", ["accept", "offered"])
def test_my_place_names_the_person_while_an_advocate_acts(
    app: Flask, login: Callable, world: CommissioningWorld, answer: str
) -> None:
    ada = world.people["Ada"]
    if answer == "accept":
        place = world.session.scalars(
            select(Allocation).where(Allocation.person_id == ada.id)
        ).first()
        allocations.accept_place(world.session, ada.user, ada, place.id)
        world.session.flush()
    helper = _acting_for(app, login, world, "Ada")
    shown = _main(helper, "/advocate/acting/place")
    assert not SECOND_PERSON.findall(shown), SECOND_PERSON.findall(shown)
    assert ("Ada said yes" if answer == "accept" else "Waiting for Ada’s answer") in shown
    assert "Ada’s budget was" in shown
    # Ada herself still reads "you".
    own = app.test_client()
    login(own, ada.user)
    mine = _main(own, "/person/place")
    assert "Your budget was" in mine
    assert ("You said yes" if answer == "accept" else "Waiting for your answer") in mine


def test_no_place_names_the_person_while_an_advocate_acts(
    app: Flask, login: Callable, world: CommissioningWorld
) -> None:
    held = set(world.session.scalars(select(Allocation.person_id)))
    name = next(n for n, p in world.people.items() if p.id not in held)
    helper = _acting_for(app, login, world, name)
    shown = _main(helper, "/advocate/acting/place")
    assert not SECOND_PERSON.findall(shown), SECOND_PERSON.findall(shown)
    assert f"{name}’s budget was" in shown and f"{name} is waiting for" in shown
    assert f"{name} did not get a place this time." in shown
    # The person reads the same reasons about themself.
    own = app.test_client()
    login(own, world.people[name].user)
    mine = _main(own, "/person/place")
    assert "You did not get a place this time." in mine
