"""No personal data in logs: a planted canary never appears, even with every logger at DEBUG.

A person's assessed needs, aspirations and name carry a unique canary. The test builds a fresh
app on a database of its own (so its connections are made while logging is at DEBUG, as a
real server configured that way would), then drives pages and the API as the person, their
advocate and a commissioner, including refusals and invalid input, and reads every record.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from models.db import make_engine, make_session_factory
from tests import factories
from tests.factories import DEFAULT_PASSWORD
from tests.security.world import make_world
from tests.web.conftest import csrf_token
from web import create_app
from web.db import database

CANARY = "CANARY-" + secrets.token_hex(6)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        if record.stack_info:
            text += record.stack_info
        self.texts.append(f"{record.name}: {text}")


# Libraries that quieten themselves by default; an operator debugging would turn them up.
NOISY = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "flask", "alembic")


@pytest.fixture
def debug_logs() -> Iterator[Collect]:
    """Every logger at DEBUG, collected by one handler on the root; restored afterwards."""
    handler = Collect()
    root = logging.getLogger()
    names = set(NOISY) | set(logging.root.manager.loggerDict)
    loggers = [logging.getLogger(name) for name in sorted(names)]
    old = [(logger, logger.level) for logger in [root, *loggers]]
    root.addHandler(handler)
    for logger, _ in old:
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in old:
            logger.setLevel(level)


def _app(url: str, tmp_path: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "log canary test",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": url,
            "AUTO_UPGRADE_DB": False,
            # Posts forms by hand, without their one-time tokens (tests/web/conftest.py).
            "FORM_TOKENS_REQUIRED": False,
            "PAGE_POSTS_REDIRECT": False,
        }
    )


def _sign_in(app: Flask, email: str, totp_secret: str | None = None):  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"csrf_token": csrf_token(page), "email": email, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    if response.headers["Location"].endswith("/sign-in/code"):
        import pyotp

        page = client.get("/sign-in/code")
        response = client.post(
            "/sign-in/code",
            data={"csrf_token": csrf_token(page), "code": pyotp.TOTP(totp_secret).now()},
        )
        assert response.status_code == 302
    return client


def test_a_planted_canary_never_reaches_the_logs(
    debug_logs: Collect, fresh_database_url: str, tmp_path: Path
) -> None:
    engine: Engine = make_engine(fresh_database_url)
    session = make_session_factory(engine)()
    factories.use_session(session)
    try:
        world = make_world(session)
        profile = world.users["person_a"].person_profile
        profile.assessed_needs = f"{CANARY} needs help with stairs"
        profile.aspirations_text = f"{CANARY} wants to sing"
        profile.equity_attributes = {"ethnicity": CANARY}
        world.users["person_a"].display_name = f"Person {CANARY}"
        profile.display_name = f"Person {CANARY}"
        session.commit()
        users = {k: (u.email, u.totp_secret) for k, u in world.users.items()}
        ids = world.ids
    finally:
        factories.use_session(None)
        session.close()
        engine.dispose()

    app = _app(fresh_database_url, tmp_path)
    try:
        person = _sign_in(app, *users["person_a"])
        for url in ("/person/", "/person/about-me", "/person/matches", "/person/place",
                    "/person/my-data/download", "/api/v1/me/profile", "/api/v1/me/export",
                    "/api/v1/me", "/person/services?q=" + CANARY):  # fmt: skip
            assert person.get(url).status_code == 200, url
        page = person.get("/person/about-me")
        person.post(
            "/person/about-me",
            data={
                "csrf_token": csrf_token(page),
                "aspirations_text": CANARY,
                "max_travel_km": CANARY,
            },  # fmt: skip
        )
        person.patch(
            "/api/v1/me/profile",
            json={"aspirations_text": CANARY * 500, "unknown": CANARY},
            headers={"X-Requested-With": "t"},
        )
        person.patch(
            "/api/v1/me/profile",
            json={"aspirations_text": f"{CANARY} now"},
            headers={"X-Requested-With": "t"},
        )
        # A wrong password for the person's account, and a bad one-time code.
        anonymous = app.test_client()
        page = anonymous.get("/sign-in")
        anonymous.post(
            "/sign-in",
            data={
                "csrf_token": csrf_token(page),
                "email": users["person_a"][0],
                "password": CANARY,
            },  # fmt: skip
        )
        advocate = _sign_in(app, *users["advocate"])
        home = advocate.get("/advocate/")
        advocate.post(f"/advocate/act/{ids['person_a']}", data={"csrf_token": csrf_token(home)})
        assert advocate.get("/advocate/acting/about-me").status_code == 200
        commissioner = _sign_in(app, *users["commissioner"])
        base = f"/commissioner/rounds/{ids['published_round']}"
        for url in (base, f"{base}/budgets", f"{base}/runs/{ids['run']}",
                    f"{base}/runs/{ids['run']}/instance.json", f"{base}/money.csv"):  # fmt: skip
            assert commissioner.get(url).status_code == 200, url
        provider = _sign_in(app, *users["provider_x"])
        for url in ("/provider/placements", "/provider/demand", "/provider/feedback"):
            assert provider.get(url).status_code == 200, url
    finally:
        database(app).engine.dispose()

    # The capture saw the SQL (so it would have seen the canary in parameters or rows).
    assert any(text.startswith("sqlalchemy.engine") for text in debug_logs.texts)
    leaks = [text for text in debug_logs.texts if CANARY in text]
    assert not leaks, leaks[:3]
