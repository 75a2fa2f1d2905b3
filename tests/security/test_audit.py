"""Audit end to end: the trail is append-only and chained, ``tapestry audit verify`` checks it,
and reads of special-category data and changes to budgets, capacity and places are recorded
with actor, on-behalf-of, time and request id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from models.audit import AuditEvent, append_event, verify_chain
from models.db import make_session_factory
from tests.security.world import World
from tests.web.conftest import csrf_token
from web.audit import SPECIAL_CATEGORY_READS
from web.cli import main

API = {"X-Requested-With": "audit-test"}


def _events(db_session: Session, action: str) -> list[AuditEvent]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _signed_in(app: Flask, login: Callable[..., Any], user: Any) -> FlaskClient:
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def _last(db_session: Session, action: str, response: TestResponse) -> AuditEvent:
    """The newest ``action`` event, which must carry the response's request id."""
    events = _events(db_session, action)
    assert events, f"no {action} event"
    event = events[-1]
    assert event.request_id == response.headers["X-Request-ID"]
    assert event.occurred_at is not None
    return event


def test_every_special_category_read_is_recorded(
    app: Flask, world: World, login: Callable[..., Any], db_session: Session
) -> None:
    ids, users = world.ids, world.users
    seen: set[str] = set()

    def read(client: FlaskClient, url: str, endpoint: str) -> AuditEvent:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        event = _last(db_session, "special_category.read", response)
        seen.add(endpoint)
        return event

    advocate = _signed_in(app, login, users["advocate"])
    home = advocate.get("/advocate/")
    advocate.post(f"/advocate/act/{ids['person_a']}", data={"csrf_token": csrf_token(home)})
    event = read(advocate, "/advocate/acting/about-me", "advocate_acting.about_me")
    assert event.actor_user_id == users["advocate"].id
    assert event.on_behalf_of_user_id == users["person_a"].id
    assert event.object_type == "person_profile" and event.object_id == str(ids["person_a"])
    assert "assessed_needs" in event.details["fields"]

    person = _signed_in(app, login, users["person_a"])
    before = len(_events(db_session, "special_category.read"))
    assert person.get("/person/about-me").status_code == 200  # their own page: no event
    assert len(_events(db_session, "special_category.read")) == before
    event = read(person, "/api/v1/me/profile", "me_profile.MyProfile")
    assert event.actor_user_id == users["person_a"].id and event.details["via"] == "api"
    read(person, "/person/my-data/download", "my_data.download")
    read(person, "/person/my-data/read", "my_data.read")
    read(person, "/person/my-data/print", "my_data.printable")
    read(person, "/api/v1/me/export", "me_export.MyExport")

    commissioner = _signed_in(app, login, users["commissioner"])
    base = f"/commissioner/rounds/{ids['published_round']}"
    for url, endpoint in (
        (f"{base}/runs/{ids['run']}/instance.json", "commissioner.run_instance"),
        (f"{base}/runs/{ids['run']}", "commissioner.run_page"),
        (f"{base}/compare", "commissioner.compare"),
        (f"/api/v1/rounds/{ids['published_round']}/runs/{ids['run']}/instance",
         "rounds.RunInstance"),
    ):  # fmt: skip
        event = read(commissioner, url, endpoint)
        assert event.actor_user_id == users["commissioner"].id
    assert seen == set(SPECIAL_CATEGORY_READS)

    # A refused read records nothing.
    other = _signed_in(app, login, users["provider_x"])
    before = len(_events(db_session, "special_category.read"))
    assert other.get(f"{base}/runs/{ids['run']}/instance.json").status_code == 403
    assert len(_events(db_session, "special_category.read")) == before
    assert verify_chain(db_session) == []


def test_changes_to_budgets_capacity_and_places_are_recorded(
    app: Flask, world: World, login: Callable[..., Any], db_session: Session
) -> None:
    ids, users = world.ids, world.users
    commissioner = _signed_in(app, login, users["commissioner"])
    response = commissioner.put(
        f"/api/v1/rounds/{ids['open_round']}/budgets/{ids['person_b']}",
        json={"amount_pence": 77_700},
        headers=API,
    )
    assert response.status_code == 200, response.get_json()
    event = _last(db_session, "budget.set", response)
    assert event.actor_user_id == users["commissioner"].id

    provider = _signed_in(app, login, users["provider_x"])
    response = provider.put(
        f"/api/v1/provider/offers/{ids['offer_x']}/capacity", json={"capacity": 9}, headers=API
    )
    assert response.status_code == 200, response.get_json()
    event = _last(db_session, "offer.capacity_changed", response)
    assert event.actor_user_id == users["provider_x"].id

    # An advocate with the submit scope says yes for A: recorded as the advocate for A.
    advocate = _signed_in(app, login, users["advocate"])
    home = advocate.get("/advocate/")
    advocate.post(f"/advocate/act/{ids['person_a']}", data={"csrf_token": csrf_token(home)})
    page = advocate.get(f"/advocate/acting/place/{ids['offered_a']}")
    response = advocate.post(
        f"/advocate/acting/place/{ids['offered_a']}",
        data={"csrf_token": csrf_token(page), "answer": "decline", "confirm": "yes"},
    )
    assert response.status_code == 302
    event = _last(db_session, "allocation.decline", response)
    assert event.actor_user_id == users["advocate"].id
    assert event.on_behalf_of_user_id == users["person_a"].id
    assert verify_chain(db_session) == []


def test_updates_deletes_and_truncate_are_refused(db_session: Session, dialect_name: str) -> None:
    append_event(db_session, "test.event", details={"n": 1})
    statements = ["UPDATE audit_events SET action = 'changed'", "DELETE FROM audit_events"]
    if dialect_name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        savepoint = db_session.begin_nested()
        with pytest.raises(DBAPIError):
            db_session.execute(text(statement))
        savepoint.rollback()
    assert _events(db_session, "test.event")


def _drop_guards(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update_delete ON audit_events")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")


def test_audit_verify_command(fresh_database_url: str, fresh_engine: Engine) -> None:
    with make_session_factory(fresh_engine)() as session:
        for n in range(5):
            append_event(session, "test.event", actor_user_id=n, details={"n": n})
        session.commit()
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--url", fresh_database_url])
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 events" in ok.output

    # Someone with the power to drop the guards changes one event and removes another.
    _drop_guards(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_events SET actor_user_id = 99 WHERE id = 2")
        connection.exec_driver_sql("DELETE FROM audit_events WHERE id = 4")
    broken = runner.invoke(main, ["audit", "verify", "--url", fresh_database_url])
    assert broken.exit_code == 1
    lines = broken.output.strip().splitlines()
    assert lines == [
        "event 2: its contents do not match its hash",
        "event 5: expected event 4 here (missing rows)",
        "event 5: does not follow the event before it",
    ]
